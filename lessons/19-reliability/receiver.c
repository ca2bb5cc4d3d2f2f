/* receiver.c — lesson 19: the receiving end of a TCP transfer, which
 * decides how fast the sender may go.
 *
 * What it shows: the receiver accepts a sender, reads until end of file,
 * checks that every byte is the pattern's byte at its place, says so, and
 * closes. How it reads is up to you: a receive buffer of --rcvbuf bytes,
 * a pause of -d ms after each one (a slow reader),
 * no reading at all for --stop-for ms (--stop-after BYTES), or a one-byte
 * answer after every --answer bytes (a server answering requests).
 *
 * Why: TCP's flow control. Every segment the receiver's kernel sends
 * carries its window: how many more bytes it has room for in the receive
 * buffer, which only recv() empties. A reader that stops makes the window
 * shrink to 0; the sender must stop too and only probe now and then,
 * until a window update says there is room again. And whatever the link
 * loses, repeats or reorders, recv() hands over the bytes in order, each
 * once: the check below never finds one out of place.
 *
 * Notice when it runs: while it does not read, the unread bytes pile up to
 * about the buffer's size and stop growing: that is the zero window. The
 * window scale the handshake agrees on comes from the buffer's size, so
 * SO_RCVBUF is set on the listener, before listen(): accepted sockets
 * inherit it, and it is too late once the SYN has been answered.
 */
#include <errno.h>
#include <linux/tcp.h>   /* Linux's struct tcp_info, newer than the C library's */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"
#include "common.h"

struct options {
	const char *host;
	const char *port;
	long senders;    /* -n: exit after this many (0: never) */
	long rcvbuf;     /* --rcvbuf: SO_RCVBUF, 0 to leave it to the kernel */
	long delay_ms;   /* -d: sleep after each recv() */
	long stop_after; /* --stop-after: stop reading after so many bytes (-1: never) */
	long stop_for;   /* --stop-for: ... for so long */
	long answer;     /* --answer: a one-byte answer after every so many bytes */
	int verbose;     /* -v: a line per recv() */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int open_listener(const struct options *opt);
static void set_receive_buffer(int fd, long bytes);
static int accept_sender(int listener);
static void serve_sender(int conn, const struct options *opt);
static void print_handshake(int conn, long rcvbuf);
static void report_arrivals(int conn);
static void receive_all(int conn, const struct options *opt);
static ssize_t receive(int conn, unsigned char *buf, size_t size);
static void answer(int conn);
static void stop_reading(int conn, long ms);
static int unread_bytes(int conn);

int main(int argc, char **argv)
{
	struct options opt;
	long served = 0;
	int listener;

	parse_options(argc, argv, &opt);
	/* One line per step, even through a pipe to a test or the visualizer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_start();
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */
	listener = open_listener(&opt);
	while (!stop_requested && (opt.senders == 0 || served < opt.senders)) {
		int conn = accept_sender(listener);

		if (conn < 0)
			break;
		serve_sender(conn, &opt);
		served++;
	}
	stop_forget(listener);
	close(listener);
	return EXIT_OK;
}

/* socket(), SO_RCVBUF, bind(), listen(). */
static int open_listener(const struct options *opt)
{
	char err[SL_ERR_LEN];
	struct addrinfo *ai = sl_addr_resolve(opt->host, opt->port, SOCK_STREAM, 1, err);
	int fd, one = 1;

	if (ai == NULL)
		die("%s", err);
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0)
		die("socket:");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("setsockopt SO_REUSEADDR:");
	if (opt->rcvbuf > 0)
		set_receive_buffer(fd, opt->rcvbuf);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int saved = errno; /* close() may change errno; die() reports bind's */

		close(fd);
		freeaddrinfo(ai);
		errno = saved;
		die("bind:");
	}
	freeaddrinfo(ai);
	if (listen(fd, 16) < 0)
		die("listen:");
	announce_listening(fd);
	stop_wakes(fd);
	return fd;
}

/* The window we offer is the room left in this buffer. The window scale
 * is agreed on in the handshake, from the buffer's size: so set it on the
 * listener, before listen(), and every accepted socket inherits it. */
static void set_receive_buffer(int fd, long bytes)
{
	int size = (int)bytes;
	socklen_t len = sizeof(size);

	/* EXERCISE 1: size the receive buffer (SO_RCVBUF), and say what the kernel made of it */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		die("setsockopt SO_RCVBUF:");
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) < 0)
		die("getsockopt SO_RCVBUF:");
	printf("SO_RCVBUF: asked for %ld bytes, the kernel gives %d (twice as much: "
	       "room for its own bookkeeping too)\n", bytes, size);
	/* END EXERCISE 1 */
}

/* accept() returns once the kernel has finished a handshake. */
static int accept_sender(int listener)
{
	char text[2 * SL_ADDRSTRLEN + 8];
	int conn;

	do
		conn = accept(listener, NULL, NULL);
	while (conn < 0 && errno == EINTR && !stop_requested);
	if (conn < 0 && (stop_requested || errno == EINVAL))
		return -1; /* stopped: the handler shut the listener down */
	if (conn < 0)
		die("accept:");
	stop_wakes(conn);
	note("accept(): %s", connection_text(conn, text, sizeof(text)));
	return conn;
}

/* Read all one sender sends, say what the kernel saw, and close. */
static void serve_sender(int conn, const struct options *opt)
{
	print_handshake(conn, opt->rcvbuf);
	receive_all(conn, opt);
	report_arrivals(conn);
	report_tcp_info(conn, "receiver");
	stop_forget(conn);
	if (close(conn) < 0)
		die("close:");
}

/* What the handshake settled, from the kernel (TCP_INFO): the largest
 * segment (the MSS, from the smaller of the two offers), and the window
 * scales. The window field in a
 * segment is 16 bits; the scale is how far to shift it left, so a large
 * buffer can be offered at all. Each side picks its own from the size
 * of its receive buffer when it sends its SYN (or SYN,ACK). */
static void print_handshake(int conn, long rcvbuf)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int size;

	if (getsockopt(conn, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		die("getsockopt TCP_INFO:");
	if (ti.tcpi_options & TCPI_OPT_WSCALE)
		printf("the handshake: segments of at most %u bytes; our window is counted in "
		       "units of %u bytes (scale %u), the sender's in units of %u (scale %u)\n",
		       ti.tcpi_snd_mss, 1u << ti.tcpi_rcv_wscale, ti.tcpi_rcv_wscale,
		       1u << ti.tcpi_snd_wscale, ti.tcpi_snd_wscale);
	else
		printf("the handshake: no window scaling, windows of 65535 bytes at most\n");
	/* Unless SO_RCVBUF fixed it, the kernel grows the buffer as the
	 * transfer goes (autotuning, up to net.ipv4.tcp_rmem's third number). */
	len = sizeof(size);
	if (getsockopt(conn, SOL_SOCKET, SO_RCVBUF, &size, &len) < 0)
		die("getsockopt SO_RCVBUF:");
	printf("receive buffer: %d bytes now, %s\n", size,
	       rcvbuf > 0 ? "fixed by SO_RCVBUF" : "and the kernel grows it as needed");
}

/* recv() until end of file, checking every byte against the pattern:
 * recv() hands them over in order and whole, whatever the wire did. What
 * we leave unread stays in our receive buffer, and the window we
 * advertise is the room left in it. */
static void receive_all(int conn, const struct options *opt)
{
	static unsigned char buf[65536];
	long total = 0, reads = 0, next_answer = opt->answer, misplaced = 0;
	int stopped = 0;
	double t = clock_ms();
	ssize_t n;

	if (opt->delay_ms > 0)
		note("reading slowly: a pause of %ld ms after each recv()", opt->delay_ms);
	if (opt->answer > 0)
		note("answering every %ld bytes with one byte", opt->answer);
	for (;;) {
		if (!stopped && opt->stop_after >= 0 && total >= opt->stop_after) {
			stop_reading(conn, opt->stop_for);
			stopped = 1;
		}
		n = receive(conn, buf, sizeof(buf));
		if (n <= 0)
			break;
		misplaced += (long)pattern_misplaced(buf, (uint64_t)total, (size_t)n);
		total += n;
		reads++;
		if (opt->verbose || stopped == 1)
			note("recv() %zd bytes (%ld in all)%s", n, total,
			     stopped == 1 ? ": what waited in the buffer, at once" : "");
		if (stopped == 1)
			stopped = 2;
		for (; opt->answer > 0 && total >= next_answer; next_answer += opt->answer)
			answer(conn);
		if (opt->delay_ms > 0)
			sleep_ms(opt->delay_ms);
	}
	note("end of file: %ld bytes in %ld recv() calls over %.1f ms, %s", total, reads,
	     clock_ms() - t, misplaced == 0 ? "every byte in order" : "");
	if (misplaced > 0)
		printf("%ld byte%s not the pattern's: lost, repeated or out of place\n",
		       misplaced, misplaced == 1 ? " was" : "s were");
}

/* How many segments reached us out of order (after a later one: the
 * link reordered them, or lost one before them), from the kernel. It
 * kept them until the gap was filled, so recv() never saw a gap. */
static void report_arrivals(int conn)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(conn, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		die("getsockopt TCP_INFO:");
	if (len < offsetof(struct tcp_info, tcpi_rcv_ooopack) + sizeof(ti.tcpi_rcv_ooopack))
		return; /* a kernel before 5.4 does not count them */
	printf("segments that arrived out of order: %u (held by the kernel until the gap "
	       "was filled)\n", ti.tcpi_rcv_ooopack);
}

/* One recv(): the byte count, 0 at end of file (or on a stop signal). */
static ssize_t receive(int conn, unsigned char *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(conn, buf, size, 0);
	while (n < 0 && errno == EINTR && !stop_requested);
	if (n < 0 && stop_requested)
		return 0;
	if (n < 0)
		die("recv:");
	return n;
}

/* The one-byte answer to a whole request (the sender's --request). */
static void answer(int conn)
{
	if (send(conn, "A", 1, MSG_NOSIGNAL) < 0)
		die("send:");
}

/* Read nothing for ms. The kernel still takes what arrives, until our
 * receive buffer is full; then it advertises a window of 0, and the
 * sender must wait, probing now and then whether the window has opened.
 * When we read again, room opens and the kernel says so at once in a
 * window update. */
static void stop_reading(int conn, long ms)
{
	int unread, before = -1;

	note("not reading for %ld ms: what arrives waits in our receive buffer", ms);
	for (long waited = 0; waited < ms && !stop_requested; waited += 250) {
		sleep_ms(ms - waited < 250 ? ms - waited : 250);
		unread = unread_bytes(conn);
		note("unread in our receive buffer: %d bytes%s", unread, unread == before ?
		     " (no more: the buffer is full and our window 0, or the sender is done)" : "");
		before = unread;
	}
	note("reading again: the window opens");
}

/* The bytes the kernel holds for us that recv() has not taken yet. */
static int unread_bytes(int conn)
{
	int n = 0;

	if (ioctl(conn, FIONREAD, &n) < 0)
		die("ioctl FIONREAD:");
	return n;
}

/* ---- Plumbing: the command line ---- */

static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_LISTEN(&opt->host, &opt->port),
		{ 'n', "senders", OPT_NUMBER, &opt->senders, "N",
		  "exit after N senders (default 1; 0: never)", .max = 1000000 },
		{ 0, "rcvbuf", OPT_NUMBER, &opt->rcvbuf, "BYTES",
		  "set SO_RCVBUF before listen()", .min = 1, .max = 1L << 26 },
		{ 'd', "delay", OPT_NUMBER, &opt->delay_ms, "MS",
		  "sleep MS ms after each recv()", .max = 600000 },
		{ 0, "stop-after", OPT_NUMBER, &opt->stop_after, "BYTES",
		  "stop reading after BYTES (0: at once)...", .max = 1L << 30 },
		{ 0, "stop-for", OPT_NUMBER, &opt->stop_for, "MS",
		  "... for MS ms (default 2000)", .max = 600000 },
		{ 0, "answer", OPT_NUMBER, &opt->answer, "BYTES",
		  "a one-byte answer after every BYTES received", .min = 1, .max = 1L << 24 },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose, .help = "a line for every recv()" },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .port = "0", .senders = 1,
				 .stop_after = -1, .stop_for = 2000 };
	lesson_options(argc, argv, &(struct lesson_cli){ .opts = options,
		.about = "Lesson 19: receive from senders, check every byte, print what TCP did." });
}
