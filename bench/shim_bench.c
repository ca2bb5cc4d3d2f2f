/* shim_bench.c — what the trace shim (libsltrace.so) costs a program.
 *
 * Not a test: numbers depend on the machine. bench/shim_bench.sh runs the
 * modes below with and without the shim and prints the overhead.
 *
 *   shim_bench pingpong [ROUNDS]  ROUNDS round trips (default 100000) of one
 *                                 byte between two threads over a
 *                                 socketpair: 4 socket calls per round.
 *                                 Prints "ROUNDS rounds SECONDS s NS ns/round".
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
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
	if (argc >= 2 && strcmp(argv[1], "calls") == 0)
		return calls(argc > 2 ? strtol(argv[2], NULL, 10) : 100000);
	if (argc == 5 && strcmp(argv[1], "visualizer") == 0 &&
	    (strcmp(argv[3], "stall") == 0 || strcmp(argv[3], "drain") == 0))
		return visualizer(argv[2], strcmp(argv[3], "drain") == 0, atof(argv[4]));
	fprintf(stderr, "usage: shim_bench pingpong|calls [ROUNDS]\n"
		"       shim_bench visualizer PATH stall|drain SECONDS\n");
	return 2;
}
