/* common.h — what ipcbench.c measures with (the code is in common.c,
 * which the build links into the program): the run's settings and the
 * pattern every byte is checked against, the clock and the statistics,
 * the watchdog and the I/O helpers that give up when it fires, a
 * channel's descriptors and their clean-up, the child's end, the table.
 */
#ifndef LESSON18_COMMON_H
#define LESSON18_COMMON_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UDP_WAIT_MS 200 /* a UDP ping without an answer by then is lost */

enum transport_id { T_PIPE, T_SOCKETPAIR, T_UNIX, T_TCP, T_UDP, T_COUNT };

/* The run, as the command line set it. */
struct config {
	long iterations;
	long warmup;
	size_t size;
	size_t volume;        /* bytes */
	size_t write_size;
	int want[T_COUNT];
	int cpu_parent, cpu_child; /* -1: not pinned */
	long pipe_size;            /* 0: the kernel's default */
	int corrupt;
	unsigned char *pattern; /* 2 * period bytes: any run of up to period
	                         * bytes starting below period is contiguous */
	size_t period;
};

/* The fds of one channel. A socket is one fd for both directions
 * (rd == wr); pipes need two fds on each side. ctl_rd/ctl_wr: a pipe for
 * the UDP child's final report, which must not be lost; -1 otherwise. */
struct channel {
	int parent_rd, parent_wr;
	int child_rd, child_wr;
	int ctl_rd, ctl_wr;
};

/* One row of the table. */
struct result {
	double mean_us, p50_us, p99_us;
	double mib_s;
	double lost_pct;     /* UDP bulk datagrams lost; < 0: not applicable */
	long lost_pings;     /* UDP round trips without an answer */
	uint64_t bad;        /* bytes or echoes that did not match */
	int failed;          /* a step failed (said on stderr) */
};

/* The bytes every transport carries (make_pattern() makes them once):
 * pattern_at(cfg, off) is what the stream holds at offset off, for up to
 * cfg->period bytes. */
void make_pattern(struct config *cfg);
const unsigned char *pattern_at(const struct config *cfg, uint64_t off);
/* Number of bytes in which a and b differ. */
uint64_t count_differences(const unsigned char *a, const unsigned char *b, size_t len);

/* Now, in nanoseconds, on a clock that only moves forward. */
long long now_ns(void);
/* Mean, median and 99th percentile of n round-trip times (ns; sorted in
 * place), in microseconds, into res. */
void summarize(long long *rtt, long n, struct result *res);

/* The watchdog: install_watchdog() once, then start_watchdog(S) before a
 * phase and stop_watchdog() after it. When S seconds pass first,
 * timed_out is set and a blocked read() or write() fails with EINTR. */
extern volatile sig_atomic_t timed_out;
void install_watchdog(void);
void start_watchdog(unsigned seconds);
void stop_watchdog(void);

/* write() all len bytes, read() exactly len bytes, whatever the short
 * reads and writes; 0, or -1 with errno (EPIPE: an early end of file;
 * ETIMEDOUT: the watchdog fired). */
int write_all(int fd, const void *buf, size_t len);
int read_exact(int fd, void *buf, size_t len);

/* A channel with no fds yet, and closing one side's fds (-1 after). */
void init_channel(struct channel *ch);
void close_pair(int *rd, int *wr);
void close_parent_ends(struct channel *ch);
void close_child_ends(struct channel *ch);

/* Run this process on one CPU only (cpu < 0: leave it to the scheduler).
 * 0, or -1 with errno. */
int pin_to_cpu(int cpu);
/* Wait for the child (killed first when kill_it); 0 when it exited 0. */
int reap(pid_t child, int kill_it);

/* The table: its header, then one row per transport. */
void print_header(const struct config *cfg);
void print_row(const char *name, const struct result *res);

#endif
