/* linkbench.c — the two ends of the link benchmark (bench/link_bench.sh):
 * what a connection between two hosts manages, to be run once through
 * socklab's link and once over a plain veth pair (bench/netpair.c).
 *
 *   linkbench server [-b ADDR]
 *       listen on ADDR (default 0.0.0.0), port 0; print "listening on
 *       ADDR:PORT"; take two connections, one after the other: the first
 *       is echoed (each recv() sent back whole), the second is read to
 *       its end and answered with the byte count (8 bytes)
 *   linkbench client -b ADDR -p PORT [-r ROUNDS] [-s BYTES] [-t SECONDS] [-o FILE]
 *       ROUNDS round trips of BYTES each (default 20000 of 64), each one
 *       timed; then a bulk transfer for SECONDS (default 2); prints
 *       "result rtt_p50_us=... rtt_p99_us=... bulk_mbit=..." (the bulk
 *       rate is the bytes the server counted over the time from the first
 *       send to its answer), to FILE too (socklab keeps a program's output
 *       in its log)
 *
 * Exit status 0, 1 when a call failed, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lesson/lesson.h"

#define BUF (64 * 1024)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_all(int fd, const void *p, size_t len)
{
	const char *b = p;

	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("send:");
		b += n;
		len -= (size_t)n;
	}
}

static void recv_all(int fd, void *p, size_t len)
{
	char *b = p;

	while (len > 0) {
		ssize_t n = recv(fd, b, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recv:");
		if (n == 0)
			die("recv: the connection closed early");
		b += n;
		len -= (size_t)n;
	}
}

static int serve(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct addrinfo *ai;
	static char buf[BUF];
	int fd, one = 1, rc;

	if ((rc = getaddrinfo(addr, "0", &hints, &ai)) != 0)
		usage_error("bad address %s: %s", addr, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket:");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("bind %s:", addr);
	freeaddrinfo(ai);
	if (listen(fd, 4) < 0)
		die("listen:");
	announce_listening(fd);
	for (int k = 0; k < 2; k++) {
		uint64_t total = 0;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			die("accept:");
		for (;;) {
			ssize_t n = recv(c, buf, sizeof(buf), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("recv:");
			if (n == 0)
				break;
			total += (uint64_t)n;
			if (k == 0)
				send_all(c, buf, (size_t)n);
		}
		if (k == 1)
			send_all(c, &total, sizeof(total));
		close(c);
	}
	close(fd);
	return 0;
}

static int connect_to(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	int fd, rc;

	if ((rc = getaddrinfo(addr, port, &hints, &ai)) != 0)
		usage_error("bad address %s port %s: %s", addr, port, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket:");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect %s:%s:", addr, port);
	freeaddrinfo(ai);
	return fd;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int client(const char *addr, const char *port, long rounds, long size, double secs,
                  const char *out)
{
	char result[160];
	FILE *f;
	static char buf[BUF];
	double *rtt = malloc((size_t)rounds * sizeof(*rtt)), t0, end;
	uint64_t total = 0;
	int fd;

	if (rtt == NULL)
		die("malloc:");
	memset(buf, 'x', sizeof(buf));
	fd = connect_to(addr, port);
	for (long i = 0; i < rounds; i++) {
		double t = now_s();

		send_all(fd, buf, (size_t)size);
		recv_all(fd, buf, (size_t)size);
		rtt[i] = (now_s() - t) * 1e6;
	}
	close(fd);
	qsort(rtt, (size_t)rounds, sizeof(*rtt), by_value);
	fd = connect_to(addr, port);
	t0 = now_s();
	end = t0 + secs;
	while (now_s() < end)
		send_all(fd, buf, sizeof(buf));
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown:");
	recv_all(fd, &total, sizeof(total));
	end = now_s();
	close(fd);
	snprintf(result, sizeof(result), "result rtt_p50_us=%.1f rtt_p99_us=%.1f bulk_mbit=%.0f\n",
		 rtt[rounds / 2], rtt[rounds * 99 / 100], (double)total * 8 / (end - t0) / 1e6);
	free(rtt);
	fputs(result, stdout);
	if (out != NULL && ((f = fopen(out, "w")) == NULL || fputs(result, f) < 0 || fclose(f) != 0))
		die("%s:", out);
	return fflush(stdout) == 0 ? 0 : 1;
}

static void usage(void)
{
	printf("usage: linkbench server [-b ADDR]\n"
	       "       linkbench client -b ADDR -p PORT [-r ROUNDS] [-s BYTES] [-t SECONDS]\n"
	       "                        [-o FILE]\n"
	       "The two ends of the link benchmark: ROUNDS timed round trips of BYTES\n"
	       "(default 20000 of 64), then a bulk transfer for SECONDS (default 2);\n"
	       "the client prints \"result rtt_p50_us=... rtt_p99_us=... bulk_mbit=...\"\n"
	       "(and writes it to FILE).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *addr = NULL, *port = NULL, *out = NULL;
	long rounds = 20000, size = 64;
	double secs = 2;
	int opt;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage();
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0))
		usage_error("expected server or client (linkbench -h)");
	optind = 2;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":b:p:r:s:t:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': addr = optarg; break;
		case 'p': port = optarg; break;
		case 'r': rounds = opt_number(optarg, "-r", 1, 10000000); break;
		case 's': size = opt_number(optarg, "-s", 1, BUF); break;
		case 'o': out = optarg; break;
		case 't': secs = (double)opt_number(optarg, "-t", 1, 600); break;
		case 'h': usage(); return 0;
		default: bad_option(opt, argv);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument %s", argv[optind]);
	if (argv[1][0] == 's')
		return serve(addr != NULL ? addr : "0.0.0.0");
	if (addr == NULL || port == NULL)
		usage_error("client needs -b ADDR and -p PORT");
	return client(addr, port, rounds, size, secs, out);
}
