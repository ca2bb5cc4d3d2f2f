/* pingpong.c — the fastest one connection can go on this machine: a
 * blocking client and a blocking echo server, nothing else.
 *
 * What it does: forks. The child listens on 127.0.0.1 (port 0), accepts one
 * connection, and echoes each message with one recv() and one send(). The
 * parent connects and, for the warm-up (-w) and then -d seconds, sends a
 * message of -s bytes and waits for all of it to come back: four system
 * calls and two wake-ups per round trip, no event loop on either side.
 * The round trips per second it reports are the reference for a server
 * at one connection: an event loop adds at least an epoll_wait() per side.
 *
 * Run it pinned to one CPU (taskset -c 0) to compare with servers pinned
 * the same way. The last line is "result key=value ...", for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lesson/lesson.h"

#define MAX_SIZE (64 * 1024)

struct options {
	long size;
	double duration;
	double warmup;
};

static void usage(void)
{
	printf("usage: pingpong [-s BYTES] [-d SECONDS] [-w SECONDS]\n"
	       "A blocking client and a blocking echo server (a child process) on\n"
	       "127.0.0.1, one message in flight: the round-trip limit of one\n"
	       "connection on this machine.\n"
	       "\n"
	       "  -s, --size BYTES        message size (1 to %d, default 64)\n"
	       "  -d, --duration SECONDS  how long to measure (default 2)\n"
	       "  -w, --warmup SECONDS    run unmeasured first (default 0.5)\n"
	       "  -h, --help              show this help\n",
	       MAX_SIZE);
}

static double opt_seconds(const char *arg, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v > 0 && v <= 3600))
		usage_error("bad %s '%s': expected seconds, more than 0, at most 3600",
			    what, arg);
	return v;
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	*opt = (struct options){ .size = 64, .duration = 2, .warmup = 0.5 };
	while ((c = getopt_long(argc, argv, ":hs:d:w:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->size = opt_number(optarg, "size", 1, MAX_SIZE);
			break;
		case 'd':
			opt->duration = opt_seconds(optarg, "duration");
			break;
		case 'w':
			opt->warmup = opt_seconds(optarg, "warm-up");
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Receive exactly len bytes (a loopback message nearly always comes in one
 * piece, but TCP promises nothing of the sort). 0 at end of file. */
static ssize_t recv_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The child: accept one client and echo until it leaves. */
static void serve_one(int listener, size_t size)
{
	char *buf = malloc(size);
	int fd = accept(listener, NULL, NULL);
	ssize_t n;

	close(listener);
	if (fd < 0 || buf == NULL)
		_exit(EXIT_RUNTIME);
	while ((n = recv_all(fd, buf, size)) > 0)
		if (send_all(fd, buf, (size_t)n) < 0)
			break;
	close(fd);
	free(buf);
	_exit(n < 0 ? EXIT_RUNTIME : EXIT_OK);
}

static int start_server(struct sockaddr_in *sin, pid_t *child)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket:");
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) < 0)
		die("bind 127.0.0.1:0:");
	if (listen(fd, 1) < 0)
		die("listen:");
	if (getsockname(fd, (struct sockaddr *)sin, &len) < 0)
		die("getsockname:");
	*child = fork();
	if (*child < 0)
		die("fork:");
	return fd;
}

int main(int argc, char **argv)
{
	struct options opt;
	struct sockaddr_in sin;
	pid_t child;
	char *msg, *reply;
	long long t0, warm_end, end;
	unsigned long long trips = 0;
	int listener, fd, one = 1, status;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	listener = start_server(&sin, &child);
	if (child == 0)
		serve_one(listener, (size_t)opt.size);
	close(listener);

	msg = malloc((size_t)opt.size);
	reply = malloc((size_t)opt.size);
	if (msg == NULL || reply == NULL)
		die("malloc:");
	for (long i = 0; i < opt.size; i++)
		msg[i] = (char)('a' + i % 26);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket:");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect:");

	warm_end = now_ns() + (long long)(opt.warmup * 1e9);
	t0 = 0;
	end = 0;
	for (;;) {
		long long now;

		if (send_all(fd, msg, (size_t)opt.size) < 0)
			die("send:");
		if (recv_all(fd, reply, (size_t)opt.size) <= 0)
			die("recv: the echo did not come back");
		if (memcmp(reply, msg, (size_t)opt.size) != 0)
			die("the echo differs from the message");
		now = now_ns();
		if (t0 == 0) {
			if (now < warm_end)
				continue;
			t0 = now;
			end = t0 + (long long)(opt.duration * 1e9);
			continue;
		}
		trips++;
		if (now >= end)
			break;
	}
	end = now_ns();
	close(fd);
	if (waitpid(child, &status, 0) < 0)
		die("waitpid:");
	free(msg);
	free(reply);
	printf("pingpong: %llu round trips of %ld bytes in %.2f s: %.0f round trips/s, "
	       "%.2f us each\n", trips, opt.size, (double)(end - t0) / 1e9,
	       (double)trips * 1e9 / (double)(end - t0),
	       (double)(end - t0) / 1e3 / (double)trips);
	printf("result mode=pingpong size=%ld msgs=%llu secs=%.3f rate=%.0f\n", opt.size,
	       trips, (double)(end - t0) / 1e9, (double)trips * 1e9 / (double)(end - t0));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
