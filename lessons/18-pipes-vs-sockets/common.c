/* common.c — what ipcbench.c measures with (common.h says what each
 * function is for). The build compiles it and links it into ipcbench.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lesson/lesson.h"
#include "common.h"

#define PATTERN_MIN 65536 /* the pattern repeats every P >= this bytes */

/* ---- the pattern, and checking it -------------------------------------------- */

/* The bytes every transport carries: pseudo-random (xorshift), so that a
 * byte out of place cannot match by accident, and repeated once so that
 * any period-long run starting inside the first copy is contiguous. */
void make_pattern(struct config *cfg)
{
	uint32_t x = 2463534242u;

	cfg->period = cfg->write_size > PATTERN_MIN ? cfg->write_size : PATTERN_MIN;
	cfg->pattern = malloc(2 * cfg->period);
	if (cfg->pattern == NULL)
		die("malloc:");
	for (size_t i = 0; i < cfg->period; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		cfg->pattern[i] = (unsigned char)(x >> 24);
	}
	memcpy(cfg->pattern + cfg->period, cfg->pattern, cfg->period);
}

/* The pattern's bytes for stream offset off (len <= period). */
const unsigned char *pattern_at(const struct config *cfg, uint64_t off)
{
	return cfg->pattern + off % cfg->period;
}

/* Number of bytes in which a and b differ. */
uint64_t count_differences(const unsigned char *a, const unsigned char *b, size_t len)
{
	uint64_t bad = 0;

	if (memcmp(a, b, len) == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		bad += a[i] != b[i];
	return bad;
}

/* ---- time ------------------------------------------------------------------- */

long long now_ns(void)
{
	/* EXERCISE 3: read a clock that only moves forward, in nanoseconds */
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	/* END EXERCISE 3 */
}

static int compare_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* Mean, median and 99th percentile of n round-trip times (ns), in us. */
void summarize(long long *rtt, long n, struct result *res)
{
	/* EXERCISE 3: the mean, the median and the 99th percentile, in us */
	long double sum = 0;

	if (n == 0)
		return;
	qsort(rtt, (size_t)n, sizeof(*rtt), compare_ll);
	for (long i = 0; i < n; i++)
		sum += rtt[i];
	res->mean_us = (double)(sum / n / 1000.0L);
	res->p50_us = rtt[(n - 1) * 50 / 100] / 1000.0;
	res->p99_us = rtt[(n - 1) * 99 / 100] / 1000.0;
	/* END EXERCISE 3 */
}

/* ---- Plumbing: the watchdog, whole reads and writes, channels, the table ---- */

/* The watchdog: set when a phase overruns. The SIGALRM handler is installed without
 * SA_RESTART, so a blocked read() or write() returns EINTR, and the I/O
 * helpers give up when they see this flag. That costs nothing per call,
 * unlike a poll() before every read, which would add a system call to
 * every round trip we time. */
volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

void install_watchdog(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die("sigaction SIGALRM:");
}

void start_watchdog(unsigned seconds)
{
	timed_out = 0;
	alarm(seconds);
}

void stop_watchdog(void)
{
	alarm(0);
}

/* write() until all len bytes are out: a pipe or socket may take fewer
 * (a short write). Returns 0, or -1 with errno. */
int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out)
				errno = ETIMEDOUT;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read() until len bytes are in: a stream returns whatever has arrived.
 * Returns 0, or -1 with errno (EPIPE for an early end of file). */
int read_exact(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out)
				errno = ETIMEDOUT;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void init_channel(struct channel *ch)
{
	ch->parent_rd = ch->parent_wr = ch->child_rd = ch->child_wr = -1;
	ch->ctl_rd = ch->ctl_wr = -1;
}

void close_pair(int *rd, int *wr)
{
	if (*rd >= 0)
		close(*rd);
	if (*wr >= 0 && *wr != *rd)
		close(*wr);
	*rd = *wr = -1;
}

void close_parent_ends(struct channel *ch)
{
	close_pair(&ch->parent_rd, &ch->parent_wr);
	if (ch->ctl_rd >= 0)
		close(ch->ctl_rd);
	ch->ctl_rd = -1;
}

void close_child_ends(struct channel *ch)
{
	close_pair(&ch->child_rd, &ch->child_wr);
	if (ch->ctl_wr >= 0)
		close(ch->ctl_wr);
	ch->ctl_wr = -1;
}

/* Run this process on one CPU only (cpu < 0: leave it to the scheduler).
 * Whether the two ends of a round trip share a CPU changes the cost of
 * every wake-up: see the README. */
int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Wait for the child; kill it first when we gave up on it. */
int reap(pid_t child, int kill_it)
{
	int st;

	if (kill_it)
		kill(child, SIGKILL);
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void print_header(const struct config *cfg)
{
	printf("ipcbench: %ld round trips of %zu bytes (after %ld untimed), %zu MiB in "
	       "%zu-byte writes\n", cfg->iterations, cfg->size, cfg->warmup,
	       cfg->volume / (1024 * 1024), cfg->write_size);
	if (cfg->cpu_parent >= 0)
		printf("parent on CPU %d, child on CPU %d\n", cfg->cpu_parent, cfg->cpu_child);
	if (cfg->pipe_size > 0)
		printf("pipe capacity %ld bytes\n", cfg->pipe_size);
	printf("%-11s %9s %9s %9s %10s %7s  %s\n", "transport", "mean_us", "p50_us",
	       "p99_us", "MiB/s", "lost", "check");
}

void print_row(const char *name, const struct result *res)
{
	char lost[16];

	if (res->lost_pct < 0)
		snprintf(lost, sizeof(lost), "-");
	else
		snprintf(lost, sizeof(lost), "%.1f%%", res->lost_pct);
	printf("%-11s %9.2f %9.2f %9.2f %10.1f %7s  %s\n", name, res->mean_us, res->p50_us,
	       res->p99_us, res->mib_s, lost,
	       res->failed ? "FAILED" : res->bad > 0 ? "FAILED" : "ok");
	if (res->bad > 0)
		warn("%s: data check failed: %llu bytes or echoes differ from what was sent",
		     name, (unsigned long long)res->bad);
	if (res->lost_pings > 0)
		printf("%-11s (%ld pings got no answer within %d ms: not timed)\n", "",
		       res->lost_pings, UDP_WAIT_MS);
}
