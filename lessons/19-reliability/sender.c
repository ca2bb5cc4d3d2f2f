/* sender.c — lesson 19: the sending end of a TCP transfer, and what the
 * kernel does with the bytes after send() has returned.
 *
 * What it shows: the sender connects, sends -n bytes (in one send(), or
 * in send() calls of -c bytes each), half-closes, and waits until the
 * receiver has read them all and closed. Then it asks its kernel, with
 * getsockopt(TCP_INFO), what TCP did meanwhile: the segment size (MSS),
 * the congestion window, the round trip it measured, and how many
 * segments it had to send again. With --request it plays a client that
 * sends a request in small writes and waits for an answer each time,
 * with or without TCP_NODELAY: Nagle's algorithm against delayed ACK.
 *
 * Why: send() returning means only that the kernel has the bytes. Making
 * them arrive is the kernel's work from then on: cutting them into
 * segments no larger than the path allows, sending no more than the
 * receiver's window and the congestion window allow, timing every
 * segment's acknowledgement and sending again what was lost. Run it
 * through socklab with --hosts (lesson.conf's scenarios do) and every
 * segment crosses a real link that can lose, delay, reorder or slow it.
 *
 * Notice when it runs: a 10,000-byte send() returns at once, and leaves
 * as seven segments of at most 1,448 bytes on an Ethernet link (one on
 * loopback); connect() takes a second when the first SYN is lost; the
 * "segments sent again" count is the kernel's, not ours: no line of this
 * program retransmits anything.
 */
#include <errno.h>
#include <linux/sockios.h>   /* SIOCOUTQNSD */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"
#include "common.h"

struct options {
	const char *host;
	const char *port;
	long bytes;    /* -n: how many bytes in all */
	long chunk;    /* -c: bytes per send(); 0: all in one */
	long request;  /* --request: wait for an answer after this many */
	long wait_ms;  /* -w: pause between connect() and the first send() */
	long sndbuf;   /* --sndbuf: SO_SNDBUF, 0 to leave it to the kernel */
	long info_ms;  /* -i: a line of TCP_INFO this often while sending */
	const char *cc; /* --cc: the congestion control algorithm, NULL: the default */
	int nodelay;   /* --nodelay: TCP_NODELAY */
	int verbose;   /* -v: a line per send() */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int connect_to_receiver(const struct options *opt);
static int set_send_options(int fd, const struct options *opt);
static long send_bytes(int fd, const struct options *opt);
static long send_requests(int fd, const struct options *opt);
static void wait_for_answer(int fd);
static void send_all(int fd, const unsigned char *buf, size_t len);
static void wait_for_receiver(int fd, long bytes);
static int by_time(const void *a, const void *b);

static double connected_at; /* ms on the clock of common.h */

int main(int argc, char **argv)
{
	struct options opt;
	long sent;
	int fd;

	parse_options(argc, argv, &opt);
	/* One line per step, even through a pipe to a test or the visualizer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_start();
	fd = connect_to_receiver(&opt);
	if (opt.wait_ms > 0) {
		note("waiting %ld ms before sending anything", opt.wait_ms);
		sleep_ms(opt.wait_ms);
	}
	if (opt.request > 0)
		sent = send_requests(fd, &opt);
	else
		sent = send_bytes(fd, &opt);
	wait_for_receiver(fd, sent);
	report_tcp_info(fd, "sender");
	if (close(fd) < 0)
		die("close:");
	return EXIT_OK;
}

/* Resolve, then socket() and connect() for each address until one
 * answers. The handshake happens inside connect(): when a SYN is lost,
 * connect() waits for the kernel to send it again (after 1 s, then 2 s,
 * 4 s...). */
static int connect_to_receiver(const struct options *opt)
{
	char err[SL_ERR_LEN], text[2 * SL_ADDRSTRLEN + 8], cc[16];
	struct addrinfo *list, *ai;
	int fd = -1, saved = 0;
	socklen_t len;
	double t;

	list = sl_addr_resolve(opt->host, opt->port, SOCK_STREAM, 0, err);
	if (list == NULL)
		die("%s", err);
	for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (set_send_options(fd, opt) < 0) {
			close(fd);
			freeaddrinfo(list);
			exit(EXIT_RUNTIME);
		}
		t = clock_ms();
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(list);
	if (fd < 0) {
		errno = saved;
		die("connect %s port %s:", opt->host, opt->port);
	}
	connected_at = clock_ms();
	note("connect(): %s after %.1f ms; the kernel's segments carry at most %u bytes (MSS)",
	     connection_text(fd, text, sizeof(text)), connected_at - t, tcp_mss(fd));
	/* Which algorithm sizes the congestion window: cubic unless the system
	 * chose another (net.ipv4.tcp_congestion_control) or --cc did. */
	len = sizeof(cc);
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) < 0)
		die("getsockopt TCP_CONGESTION:");
	printf("congestion control: %.*s\n", (int)strnlen(cc, len), cc);
	return fd;
}

/* All before connect(), so that they hold from the first segment on.
 * Returns 0, or -1 (said why) when the kernel refuses one: an algorithm
 * it does not have, for --cc. */
static int set_send_options(int fd, const struct options *opt)
{
	int one = 1, size = (int)opt->sndbuf;
	socklen_t len = sizeof(size);

	/* SO_SNDBUF bounds what send() may leave queued in the kernel: the
	 * bytes in flight (sent, not yet acknowledged) and those not sent yet. */
	if (opt->sndbuf > 0) {
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0) {
			warn("SO_SNDBUF:");
			return -1;
		}
		printf("SO_SNDBUF: asked for %ld bytes, the kernel gives %d\n", opt->sndbuf, size);
	}
	/* TCP_CONGESTION: which algorithm grows and cuts the congestion window
	 * ("reno", "cubic": /proc/sys/net/ipv4/tcp_allowed_congestion_control). */
	if (opt->cc != NULL &&
	    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, opt->cc, (socklen_t)strlen(opt->cc)) < 0) {
		warn("setsockopt TCP_CONGESTION %s:", opt->cc);
		return -1;
	}
	/* EXERCISE 2: with --nodelay, turn Nagle's algorithm off */
	/* TCP_NODELAY: send every write at once, even a small one while an
	 * earlier segment is still unacknowledged. */
	if (opt->nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		warn("setsockopt TCP_NODELAY:");
		return -1;
	}
	/* END EXERCISE 2 */
	return 0;
}

/* -n bytes in send() calls of -c bytes. send() returns as soon as the
 * kernel has the bytes in its send buffer; they cross the wire later, in
 * segments of at most one MSS, as fast as the receiver's window and the
 * congestion window let them. */
static long send_bytes(int fd, const struct options *opt)
{
	size_t chunk = (size_t)(opt->chunk > 0 ? opt->chunk : opt->bytes);
	unsigned char *buf = malloc(chunk);
	char text[TCP_INFO_TEXT];
	long sent = 0, calls = 0, segments;
	unsigned mss = tcp_mss(fd);
	double last_info = clock_ms();
	int unacked = 0, unsent = 0;

	if (buf == NULL)
		die("malloc:");
	while (sent < opt->bytes) {
		size_t n = (size_t)(opt->bytes - sent) < chunk ? (size_t)(opt->bytes - sent) : chunk;

		pattern_fill(buf, (uint64_t)sent, n);
		send_all(fd, buf, n);
		sent += (long)n;
		calls++;
		if (opt->verbose)
			note("send() %zu bytes (%ld in all)", n, sent);
		if (opt->info_ms > 0 && clock_ms() - last_info >= (double)opt->info_ms) {
			last_info = clock_ms();
			note("%ld bytes sent so far; %s", sent, tcp_info_text(fd, text, sizeof(text)));
		}
	}
	free(buf);
	segments = mss > 0 ? (sent + (long)mss - 1) / (long)mss : 0;
	note("%ld bytes handed to the kernel in %ld send() call%s: at least %ld segment%s of "
	     "at most %u bytes", sent, calls, calls == 1 ? "" : "s", segments,
	     segments == 1 ? "" : "s", mss);
	/* What send() returning leaves to the kernel: the bytes of our send
	 * queue not acknowledged yet (SIOCOUTQ), and of those, the bytes not
	 * even sent yet (SIOCOUTQNSD). */
	if (ioctl(fd, SIOCOUTQ, &unacked) < 0 || ioctl(fd, SIOCOUTQNSD, &unsent) < 0)
		die("ioctl SIOCOUTQ:");
	note("still in the kernel: %d bytes not acknowledged yet, %d of them not even sent",
	     unacked, unsent);
	return sent;
}

/* Request and answer: each request is --request bytes in send() calls of
 * -c bytes; then we wait for the receiver's one-byte answer. With Nagle's
 * algorithm (the default) a small segment is held back while an earlier
 * one is unacknowledged: the second write waits for the ACK of the first.
 * The receiver answers only once the whole request is in, so it has
 * nothing to send with that ACK and delays it (up to 40 ms on Linux).
 * Each request then takes a delayed ACK's time; with TCP_NODELAY, a round
 * trip. */
static long send_requests(int fd, const struct options *opt)
{
	size_t chunk = (size_t)(opt->chunk > 0 ? opt->chunk : opt->request);
	unsigned char *buf = malloc(chunk);
	double *took = malloc(sizeof(double) * (size_t)(opt->bytes / opt->request + 1));
	long sent = 0, requests = 0;
	double t0 = clock_ms(), total;

	if (buf == NULL || took == NULL)
		die("malloc:");
	while (sent < opt->bytes) { /* the last request too is sent whole */
		long end = sent + opt->request;
		double t = clock_ms();
		int writes = 0;

		while (sent < end) {
			size_t n = (size_t)(end - sent) < chunk ? (size_t)(end - sent) : chunk;

			pattern_fill(buf, (uint64_t)sent, n);
			send_all(fd, buf, n);
			sent += (long)n;
			writes++;
		}
		wait_for_answer(fd);
		took[requests] = clock_ms() - t;
		note("request %ld: %d send() calls of at most %zu bytes, answered after %.1f ms",
		     requests + 1, writes, chunk, took[requests]);
		requests++;
	}
	/* The middle request of them all, sorted by time: one that waited on
	 * a busy machine does not move it, as it moves the mean. (The line
	 * stays under the 111 characters socklab shows of an output line.) */
	qsort(took, (size_t)requests, sizeof(double), by_time);
	total = clock_ms() - t0;
	note("%ld requests in %.1f ms, %.1f ms each, middle %.1f ms, %s", requests,
	     total, total / (double)requests, took[requests / 2],
	     opt->nodelay ? "with TCP_NODELAY" : "with Nagle's algorithm (no TCP_NODELAY)");
	free(took);
	free(buf);
	return sent;
}

/* The receiver's one-byte answer to a whole request. */
static void wait_for_answer(int fd)
{
	char c;
	ssize_t n;

	do
		n = recv(fd, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die("recv:");
	if (n == 0)
		die("the receiver closed before answering (does it run with --answer?)");
}

/* send() may take only part of what we offer: loop until all of it is
 * taken. MSG_NOSIGNAL: a receiver that has gone gives EPIPE, not SIGPIPE. */
static void send_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("send:");
		buf += n;
		len -= (size_t)n;
	}
}

/* shutdown(SHUT_WR) sends our FIN after the last byte. The receiver reads
 * until that end of file and only then closes: our recv() returning 0
 * says every byte has arrived and been read. */
static void wait_for_receiver(int fd, long bytes)
{
	char buf[64];
	ssize_t n;
	double ms;

	/* EXERCISE 3: half-close, then read until the receiver closes: only then has it read it all */
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown:");
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n < 0)
		die("recv:");
	/* END EXERCISE 3 */
	ms = clock_ms() - connected_at;
	note("the receiver has read all %ld bytes and closed: %.1f ms after connect(), "
	     "%.3f Mbit/s", bytes, ms, ms > 0 ? (double)bytes * 8 / ms / 1000 : 0);
}

/* ---- Plumbing ---- */

/* For qsort(): two request times, shortest first. */
static int by_time(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- Plumbing: the command line ---- */

static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "the receiver's address (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&opt->port),
		{ 'n', "bytes", OPT_NUMBER, &opt->bytes, "BYTES", "how many bytes to send (default "
		  "100000)", .what = "byte count", .min = 1, .max = 1L << 28 },
		{ 'c', "chunk", OPT_NUMBER, &opt->chunk, "BYTES", "bytes per send() (default: all in "
		  "one)", .what = "chunk size", .min = 1, .max = 1L << 24 },
		{ 0, "request", OPT_NUMBER, &opt->request, "BYTES", "wait for a one-byte answer after "
		  "every BYTES", .what = "request size", .min = 1, .max = 1L << 24 },
		{ 0, "nodelay", OPT_FLAG, &opt->nodelay, .help = "set TCP_NODELAY: no Nagle" },
		{ 0, "cc", OPT_STRING, &opt->cc, "NAME", "congestion control: reno, cubic...",
		  .what = "algorithm" },
		{ 0, "sndbuf", OPT_NUMBER, &opt->sndbuf, "BYTES", "set SO_SNDBUF",
		  .what = "buffer size", .min = 1, .max = 1L << 26 },
		{ 'w', "wait", OPT_NUMBER, &opt->wait_ms, "MS", "wait MS ms before the first send()",
		  .what = "wait", .min = 0, .max = 600000 },
		{ 'i', "info", OPT_NUMBER, &opt->info_ms, "MS", "a line of TCP_INFO every MS ms (with "
		  "-c)", .what = "interval", .min = 1, .max = 600000 },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose, .help = "a line for every send()" },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .bytes = 100000 };
	lesson_options(argc, argv, &(struct lesson_cli){ .opts = options,
		.about = "Lesson 19: send BYTES to the receiver, then print what TCP did." });
}
