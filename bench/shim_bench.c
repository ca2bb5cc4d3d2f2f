/* shim_bench.c — what the trace shim (libsltrace.so) costs a program.
 *
 * Not a test: numbers depend on the machine. bench/shim_bench.sh runs the
 * modes below with and without the shim and prints the overhead.
 *
 *   shim_bench pingpong [ROUNDS]  ROUNDS round trips (default 100000) of one
 *                                 byte between two threads over a
 *                                 socketpair: 4 socket calls per round.
 *                                 Prints "ROUNDS rounds SECONDS s NS ns/round".
 *   shim_bench paired [ROUNDS]    the ping-pong, run with the shim preloaded
 *                                 (SOCKLAB_TRACE unset), in blocks of 100
 *                                 rounds of two kinds, mixed in a fixed
 *                                 random order: one kind calls send and
 *                                 recv as linked (through the shim), the
 *                                 other libc's own (looked up in libc.so.6,
 *                                 past the shim). Both
 *                                 kinds share every moment of the run, so
 *                                 the machine changing pace cannot favour
 *                                 one, and each kind counts as its median
 *                                 block, so a burst of disturbed blocks
 *                                 does not count. Prints "ROUNDS rounds
 *                                 shim NS ns/round libc NS ns/round
 *                                 overhead P%".
 *                                 Without the shim both halves are libc's:
 *                                 the overhead is then the method's noise.
 *   shim_bench calls [ROUNDS]     one thread sends a byte on a socketpair
 *                                 and receives it back, ROUNDS times: 2
 *                                 calls per round and no thread switches,
 *                                 so it shows the cost per call with less
 *                                 scheduling noise. Same output.
 *   shim_bench visualizer PATH MODE SECONDS
 *                                 a stand-in visualizer on PATH for at most
 *                                 SECONDS: MODE "stall" accepts and never
 *                                 reads, "drain" reads and throws away every
 *                                 event. Run it without the shim.
 *
 * Build without the Makefile:
 *   cc -O2 -g -D_GNU_SOURCE -pthread -o build/bench/shim_bench bench/shim_bench.c
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct side {
	int fd;
	long rounds;
	int serve;   /* 1: recv then send back; 0: send then wait for the echo */
	int failed;
};

static void *play(void *arg)
{
	struct side *s = arg;
	char c = 'x';

	for (long i = 0; i < s->rounds; i++) {
		if (!s->serve && send(s->fd, &c, 1, 0) != 1)
			goto fail;
		if (recv(s->fd, &c, 1, 0) != 1)
			goto fail;
		if (s->serve && send(s->fd, &c, 1, 0) != 1)
			goto fail;
	}
	return NULL;
fail:
	s->failed = 1;
	return NULL;
}

static int pingpong(long rounds)
{
	struct side a = { 0 }, b = { 0 };
	pthread_t th;
	int sp[2];
	double t0, t1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) {
		perror("socketpair");
		return 1;
	}
	a.fd = sp[0];
	b.fd = sp[1];
	a.rounds = b.rounds = rounds;
	b.serve = 1;
	t0 = now_s();
	if (pthread_create(&th, NULL, play, &b) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	play(&a);
	pthread_join(th, NULL);
	t1 = now_s();
	close(sp[0]);
	close(sp[1]);
	if (a.failed || b.failed) {
		fprintf(stderr, "ping-pong failed\n");
		return 1;
	}
	printf("%ld rounds %.3f s %.0f ns/round\n", rounds, t1 - t0,
	       (t1 - t0) * 1e9 / (double)rounds);
	return 0;
}

/* ---- paired: the shim's calls and libc's, block by block ---------------------- */

#define BLOCK 100

typedef ssize_t send_fn(int, const void *, size_t, int);
typedef ssize_t recv_fn(int, void *, size_t, int);

/* via[0]: send and recv as the program is linked (the shim's when it is
 * preloaded); via[1]: libc's own. */
static struct {
	send_fn *send;
	recv_fn *recv;
} via[2];

struct pside {
	int fd;
	long rounds;       /* whole blocks only */
	int serve;
	int failed;
	double *block;     /* the player's time for each block, in seconds */
};

/* Which kind block j is: a fixed pseudo-random choice (splitmix64 of j),
 * the same in both threads. Not simply every other block: a disturbance
 * that comes at a steady pace (a timer tick) could then fall on one kind
 * more than the other. */
static int kind_of(long j)
{
	uint64_t z = (uint64_t)j + 0x9e3779b97f4a7c15u;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return (int)((z ^ (z >> 31)) & 1);
}

static void *play_paired(void *arg)
{
	struct pside *s = arg;
	char c = 'x';
	double t = 0;

	for (long i = 0; i < s->rounds; i++) {
		int k = kind_of(i / BLOCK);

		if (!s->serve && i % BLOCK == 0)
			t = now_s();
		if (!s->serve && via[k].send(s->fd, &c, 1, 0) != 1)
			goto fail;
		if (via[k].recv(s->fd, &c, 1, 0) != 1)
			goto fail;
		if (s->serve && via[k].send(s->fd, &c, 1, 0) != 1)
			goto fail;
		if (!s->serve && i % BLOCK == BLOCK - 1)
			s->block[i / BLOCK] = now_s() - t;
	}
	return NULL;
fail:
	s->failed = 1;
	return NULL;
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* The median time per round of the blocks of kind k (sorts them into
 * tmp); 0 when there are none. */
static double median_of_kind(const double *block, long nblocks, int k, double *tmp)
{
	long n = 0;

	for (long j = 0; j < nblocks; j++)
		if (kind_of(j) == k)
			tmp[n++] = block[j];
	if (n == 0)
		return 0;
	qsort(tmp, (size_t)n, sizeof(*tmp), by_value);
	return tmp[n / 2] / BLOCK;
}

static int paired(long rounds)
{
	struct pside a = { 0 }, b = { 0 };
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	long nblocks = rounds / BLOCK;
	double *block = calloc((size_t)(nblocks > 0 ? nblocks : 1), sizeof(double));
	double *tmp = calloc((size_t)(nblocks > 0 ? nblocks : 1), sizeof(double));
	double shim, direct;
	pthread_t th;
	int sp[2];

	via[0].send = send;
	via[0].recv = recv;
	if (block == NULL || tmp == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	if (libc == NULL || (via[1].send = (send_fn *)dlsym(libc, "send")) == NULL ||
	    (via[1].recv = (recv_fn *)dlsym(libc, "recv")) == NULL) {
		fprintf(stderr, "libc.so.6: send and recv not found\n");
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) {
		perror("socketpair");
		return 1;
	}
	a.fd = sp[0];
	b.fd = sp[1];
	a.rounds = b.rounds = nblocks * BLOCK;
	a.block = block;
	b.serve = 1;
	if (pthread_create(&th, NULL, play_paired, &b) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	play_paired(&a);
	pthread_join(th, NULL);
	close(sp[0]);
	close(sp[1]);
	if (a.failed || b.failed) {
		fprintf(stderr, "ping-pong failed\n");
		return 1;
	}
	shim = median_of_kind(block, nblocks, 0, tmp);
	direct = median_of_kind(block, nblocks, 1, tmp);
	if (shim == 0 || direct == 0) {
		fprintf(stderr, "paired: too few rounds for blocks of both kinds\n");
		return 2;
	}
	printf("%ld rounds shim %.0f ns/round libc %.0f ns/round overhead %+.2f%%\n",
	       nblocks * BLOCK, shim * 1e9, direct * 1e9, (shim / direct - 1) * 100);
	free(block);
	free(tmp);
	dlclose(libc);
	return 0;
}

static int calls(long rounds)
{
	double t0, t1;
	char c = 'x';
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) {
		perror("socketpair");
		return 1;
	}
	t0 = now_s();
	for (long i = 0; i < rounds; i++)
		if (send(sp[0], &c, 1, 0) != 1 || recv(sp[1], &c, 1, 0) != 1) {
			perror("send/recv");
			return 1;
		}
	t1 = now_s();
	close(sp[0]);
	close(sp[1]);
	printf("%ld rounds %.3f s %.0f ns/round\n", rounds, t1 - t0,
	       (t1 - t0) * 1e9 / (double)rounds);
	return 0;
}

/* Accept connections; read them (drain) or leave them be (stall). */
static int visualizer(const char *path, int drain, double seconds)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd p[64];
	char buf[8192];
	int n = 1;
	double end = now_s() + seconds;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: path too long\n", path);
		return 2;
	}
	strcpy(sun.sun_path, path);
	p[0].fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (p[0].fd < 0 || bind(p[0].fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(p[0].fd, 64) < 0) {
		perror(path);
		return 1;
	}
	p[0].events = POLLIN;
	printf("listening on %s\n", path);
	fflush(stdout);
	while (now_s() < end) {
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n < 64) {
			p[n].fd = accept(p[0].fd, NULL, NULL);
			p[n].events = drain ? POLLIN : 0;
			if (p[n].fd >= 0)
				n++;
		}
		for (int i = 1; drain && i < n; i++)
			if (p[i].revents & (POLLIN | POLLHUP)) {
				if (recv(p[i].fd, buf, sizeof(buf), 0) <= 0)
					p[i].events = 0;
			}
	}
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "pingpong") == 0)
		return pingpong(argc > 2 ? strtol(argv[2], NULL, 10) : 100000);
	if (argc >= 2 && strcmp(argv[1], "paired") == 0)
		return paired(argc > 2 ? strtol(argv[2], NULL, 10) : 100000);
	if (argc >= 2 && strcmp(argv[1], "calls") == 0)
		return calls(argc > 2 ? strtol(argv[2], NULL, 10) : 100000);
	if (argc == 5 && strcmp(argv[1], "visualizer") == 0 &&
	    (strcmp(argv[3], "stall") == 0 || strcmp(argv[3], "drain") == 0))
		return visualizer(argv[2], strcmp(argv[3], "drain") == 0, atof(argv[4]));
	fprintf(stderr, "usage: shim_bench pingpong|paired|calls [ROUNDS]\n"
		"       shim_bench visualizer PATH stall|drain SECONDS\n");
	return 2;
}
