/* test_19_reliability.c — lesson 19's sender and receiver on 127.0.0.1,
 * port 0, checked against what the kernel says (TCP_INFO, the socket's
 * queues) and against our own end of each connection. (The scenarios on
 * two hosts, through socklab's link, are tests/tui/test_19_reliability.py.)
 *
 * What the tests prove:
 *  - a transfer arrives whole and in order, and the receiver says so; a
 *    byte out of place is found (the check is not a rubber stamp);
 *  - --rcvbuf sets SO_RCVBUF before listen(): the window scale the
 *    receiver offers in its SYN,ACK (our socket's TCP_INFO) is 0 for a
 *    small buffer, and above 0 for the kernel's own;
 *  - --nodelay: both small writes of a request reach us at once; without
 *    it the second waits for our delayed ACK of the first (30 ms or more);
 *  - the sender says the receiver has read everything only once it has:
 *    after our close, not when send() returned;
 *  - a receiver that stops reading takes no more than its buffer holds,
 *    says so, then reads on: every byte, in order;
 *  - --answer: one byte back after every request;
 *  - the TCP_INFO lines at the end; SIGTERM stops a waiting receiver;
 *  - -h exits 0, bad options exit 2, a congestion control algorithm the
 *    kernel does not have exits 1, and so does a port already taken
 *    (with no descriptor left open: valgrind's fd check, make memcheck).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "19-reliability"
#define T_RUN 10000   /* ms for a program to run to its end */
#define T_QUIET 500   /* ms in which something must not happen */

static unsigned char pattern_byte(size_t off)
{
	return (unsigned char)(off % 251);
}

/* ---- our own end: a listener the sender connects to ---------------------- */

struct peer {
	int listener;
	char port[H_PORTSTRLEN];
};

static void listen_here(struct peer *pe)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pe->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(pe->listener >= 0);
	assert_int_equal(bind(pe->listener, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(pe->listener, 4), 0);
	assert_int_equal(getsockname(pe->listener, (struct sockaddr *)&sin, &len), 0);
	snprintf(pe->port, sizeof(pe->port), "%u", ntohs(sin.sin_port));
}

/* Accept the sender's connection, with a deadline. */
static int accept_here(struct peer *pe)
{
	struct pollfd pfd = { .fd = pe->listener, .events = POLLIN };
	int fd;

	assert_int_equal(poll(&pfd, 1, h_scaled(T_RUN)), 1);
	fd = accept(pe->listener, NULL, NULL);
	assert_true(fd >= 0);
	return fd;
}

/* recv() with a deadline: the byte count, 0 at end of file, -1 when
 * nothing came in time. */
static ssize_t recv_within(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return recv(fd, buf, len, 0);
}

/* Read everything until end of file; fails unless it is exactly want
 * bytes of the pattern. */
static void read_pattern(int fd, size_t want)
{
	unsigned char buf[65536];
	size_t got = 0;
	ssize_t n;

	while ((n = recv_within(fd, buf, sizeof(buf), h_scaled(T_RUN))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern_byte(got + (size_t)i))
				fail_msg("byte %zu is %u, not %u", got + (size_t)i, buf[i],
					 pattern_byte(got + (size_t)i));
		got += (size_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, want);
}

/* Send len pattern bytes from off, all of them (blocking). */
static void send_pattern(int fd, size_t off, size_t len)
{
	unsigned char buf[4096];

	while (len > 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t sent;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i);
		sent = send(fd, buf, n, MSG_NOSIGNAL);
		assert_true(sent > 0);
		off += (size_t)sent;
		len -= (size_t)sent;
	}
}

static struct h_proc *start(char *const argv[])
{
	struct h_proc *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(h_start(p, argv), 0);
	return p;
}

static struct h_proc *start_receiver(const char *a1, const char *a2, const char *a3,
				     const char *a4, const char *a5, const char *a6)
{
	char *argv[] = { (char *)h_lesson(LESSON, "receiver"), "-p", "0", (char *)a1,
			 (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6, NULL };
	struct h_proc *p = start(argv);

	assert_int_equal(h_wait_listening(p, T_RUN), 0);
	return p;
}

/* The program's exit code; its output is shown when it is not want. */
static void expect_exit_code(struct h_proc *p, int want)
{
	int rc = h_wait_exit(p, T_RUN);

	if (rc != want)
		fail_msg("exit %d, not %d; stdout:\n%s\nstderr:\n%s", rc, want, p->outbuf,
			 p->errbuf);
}

/* ---- whole transfers ------------------------------------------------------ */

static void test_transfer_in_order(void **state)
{
	struct h_proc *rcv = start_receiver(NULL, NULL, NULL, NULL, NULL, NULL), *snd;
	char *argv[] = { (char *)h_lesson(LESSON, "sender"), "-p", rcv->port, "-n", "300000",
			 "-c", "1000", NULL };

	(void)state;
	snd = start(argv);
	expect_exit_code(snd, 0);
	expect_exit_code(rcv, 0);
	assert_non_null(strstr(rcv->outbuf, "end of file: 300000 bytes in "));
	assert_non_null(strstr(rcv->outbuf, "every byte in order"));
	assert_non_null(strstr(snd->outbuf, "300000 bytes handed to the kernel in 300 send() calls"));
	assert_non_null(strstr(snd->outbuf, "the receiver has read all 300000 bytes and closed"));
	free(rcv);
	free(snd);
}

static void test_receiver_finds_misplaced_bytes(void **state)
{
	struct h_proc *rcv = start_receiver(NULL, NULL, NULL, NULL, NULL, NULL);
	unsigned char buf[1000];
	int fd = h_connect(rcv->port, T_RUN);

	(void)state;
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(i);
	buf[500] ^= 0xff;
	assert_int_equal(send(fd, buf, sizeof(buf), MSG_NOSIGNAL), sizeof(buf));
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(recv_within(fd, buf, sizeof(buf), h_scaled(T_RUN)), 0);
	close(fd);
	expect_exit_code(rcv, 0);
	assert_null(strstr(rcv->outbuf, "every byte in order"));
	assert_non_null(strstr(rcv->outbuf, "1 byte was not the pattern's"));
	free(rcv);
}

/* ---- the receive buffer and the window scale ------------------------------- */

/* The window scale the receiver offered in its SYN,ACK, as our end of the
 * connection learnt it (TCP_INFO's snd_wscale: the scale of the windows
 * it receives). */
static int peer_window_scale(struct h_proc *rcv)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int fd = h_connect(rcv->port, T_RUN), scale;

	assert_true(fd >= 0);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	assert_true(ti.tcpi_options & TCPI_OPT_WSCALE);
	scale = ti.tcpi_snd_wscale;
	close(fd);
	expect_exit_code(rcv, 0);
	return scale;
}

static void test_rcvbuf_sets_window_scale(void **state)
{
	struct h_proc *rcv = start_receiver("--rcvbuf", "4096", NULL, NULL, NULL, NULL);
	int scale = peer_window_scale(rcv);

	(void)state;
	/* 8192 bytes of buffer fit a 16-bit window: no scaling needed. */
	if (scale != 0)
		fail_msg("the receiver offered window scale %d, as if its buffer were the "
			 "kernel's default: was SO_RCVBUF set before listen()?\n%s", scale,
			 rcv->outbuf);
	assert_non_null(strstr(rcv->outbuf, "SO_RCVBUF: asked for 4096 bytes, the kernel gives 8192"));
	assert_non_null(strstr(rcv->outbuf, "receive buffer: 8192 bytes now, fixed by SO_RCVBUF"));
	free(rcv);
}

static void test_default_buffer_scales_window(void **state)
{
	struct h_proc *rcv = start_receiver(NULL, NULL, NULL, NULL, NULL, NULL);

	(void)state;
	/* Without SO_RCVBUF the buffer may grow to megabytes: a scale above 0. */
	assert_true(peer_window_scale(rcv) > 0);
	assert_non_null(strstr(rcv->outbuf, "the kernel grows it as needed"));
	free(rcv);
}

/* ---- Nagle's algorithm and delayed ACK ------------------------------------- */

/* Be the receiver of "sender -n 1000 -c 100 --request 200 [--nodelay]":
 * five requests of two 100-byte writes, each answered with one byte.
 * Returns how many of requests 2 to 5 had their second write reach us 30
 * ms or more after the first. */
static int requests_held(const char *nodelay)
{
	struct peer pe;
	struct h_proc *snd;
	int fd, held = 0;

	listen_here(&pe);
	char *argv[] = { (char *)h_lesson(LESSON, "sender"), "-p", pe.port, "-n", "1000", "-c",
			 "100", "--request", "200", (char *)nodelay, NULL };
	snd = start(argv);
	fd = accept_here(&pe);
	for (int request = 1; request <= 5; request++) {
		unsigned char buf[256];
		size_t got = 0;
		long long first = 0;

		while (got < 200) {
			ssize_t n = recv_within(fd, buf, sizeof(buf), h_scaled(T_RUN));

			assert_true(n > 0);
			if (got == 0)
				first = h_now_ms();
			got += (size_t)n;
		}
		assert_int_equal(got, 200);
		if (request > 1 && h_now_ms() - first >= 30)
			held++;
		assert_int_equal(send(fd, "A", 1, MSG_NOSIGNAL), 1);
	}
	assert_int_equal(recv_within(fd, (char[1]){ 0 }, 1, h_scaled(T_RUN)), 0);
	close(fd);
	close(pe.listener);
	expect_exit_code(snd, 0);
	assert_non_null(strstr(snd->outbuf, nodelay ? "with TCP_NODELAY" : "with Nagle's algorithm"));
	free(snd);
	return held;
}

static void test_nodelay_sends_at_once(void **state)
{
	int held = requests_held("--nodelay");

	(void)state;
	/* One slow wake-up of a busy machine may be forgiven, not more. */
	if (held > 1)
		fail_msg("with --nodelay, %d of 4 requests still had their second write held "
			 "back for our delayed ACK: is TCP_NODELAY set before connect()?", held);
}

static void test_nagle_waits_for_ack(void **state)
{
	(void)state;
	/* Our kernel delays its ACK (we have nothing to send yet), and Nagle
	 * holds the second small write until that ACK comes. */
	assert_true(requests_held(NULL) >= 3);
}

/* ---- delivered means read ---------------------------------------------------- */

static void test_waits_until_all_read(void **state)
{
	struct peer pe;
	struct h_proc *snd;
	int fd;

	(void)state;
	listen_here(&pe);
	char *argv[] = { (char *)h_lesson(LESSON, "sender"), "-p", pe.port, "-n", "50000", NULL };
	snd = start(argv);
	fd = accept_here(&pe);
	/* send() returns: the bytes are in the kernels' buffers, not read. */
	assert_int_equal(h_wait_output(snd, "out", "50000 bytes handed to the kernel", T_RUN), 0);
	if (h_wait_output(snd, "out", "has read all", T_QUIET) == 0)
		fail_msg("the sender says the receiver has read everything, and we have not read "
			 "a byte: does it shutdown(SHUT_WR) and wait for our close?\n%s", snd->outbuf);
	read_pattern(fd, 50000);
	close(fd);
	close(pe.listener);
	assert_int_equal(h_wait_output(snd, "out", "the receiver has read all 50000 bytes", T_RUN), 0);
	expect_exit_code(snd, 0);
	free(snd);
}

/* ---- a receiver that stops reading ----------------------------------------- */

/* Send the pattern without blocking until nothing more is taken for
 * stall_ms; returns the bytes sent. */
static size_t push_until_stalled(int fd, size_t cap, int stall_ms)
{
	long long last = h_now_ms();
	size_t off = 0;

	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	while (off < cap && h_now_ms() - last < stall_ms) {
		unsigned char buf[4096];
		ssize_t n;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern_byte(off + i);
		n = send(fd, buf, sizeof(buf) < cap - off ? sizeof(buf) : cap - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			last = h_now_ms();
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fail_msg("send: %s", strerror(errno));
		} else {
			poll(NULL, 0, 5);
		}
	}
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
	return off;
}

static void test_stopped_reader_fills_its_buffer(void **state)
{
	struct h_proc *rcv = start_receiver("--rcvbuf", "8192", "--stop-after", "0",
					    "--stop-for", "1500");
	int fd = h_connect(rcv->port, T_RUN), size = 16384;
	const size_t total = 300000;
	unsigned unread, buffer;
	size_t taken;
	const char *line;
	char c;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
	taken = push_until_stalled(fd, total, 300);
	/* Its buffer (8192) and ours (32768) at most, with room for the
	 * kernels' rounding: nowhere near all of it. */
	if (taken >= 100000)
		fail_msg("the receiver took %zu bytes without reading one", taken);
	assert_int_equal(h_wait_output(rcv, "out", "(no more:", h_scaled(T_RUN)), 0);
	line = strstr(rcv->outbuf, "the kernel gives ");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "the kernel gives %u", &buffer), 1);
	line = strstr(rcv->outbuf, "unread in our receive buffer: ");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "unread in our receive buffer: %u bytes", &unread), 1);
	/* What waits for recv() fits in the buffer, with its bookkeeping. */
	if (unread == 0 || unread > buffer)
		fail_msg("%u bytes unread in a buffer of %u", unread, buffer);
	send_pattern(fd, taken, total - taken);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(recv_within(fd, &c, 1, h_scaled(T_RUN)), 0);
	close(fd);
	expect_exit_code(rcv, 0);
	assert_non_null(strstr(rcv->outbuf, "reading again"));
	assert_non_null(strstr(rcv->outbuf, "end of file: 300000 bytes"));
	assert_non_null(strstr(rcv->outbuf, "every byte in order"));
	free(rcv);
}

/* ---- answers, reports, stopping -------------------------------------------- */

static void test_answers_requests(void **state)
{
	struct h_proc *rcv = start_receiver("--answer", "100", NULL, NULL, NULL, NULL);
	int fd = h_connect(rcv->port, T_RUN);
	char buf[8];

	(void)state;
	assert_true(fd >= 0);
	send_pattern(fd, 0, 99);
	assert_int_equal(recv_within(fd, buf, sizeof(buf), h_scaled(T_QUIET)), -1);
	send_pattern(fd, 99, 1);
	assert_int_equal(recv_within(fd, buf, sizeof(buf), h_scaled(T_RUN)), 1);
	assert_int_equal(buf[0], 'A');
	send_pattern(fd, 100, 250); /* 350 in all: two more answers */
	assert_int_equal(h_recv_n(fd, buf, 2, T_RUN), 2);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(recv_within(fd, buf, sizeof(buf), h_scaled(T_RUN)), 0);
	close(fd);
	expect_exit_code(rcv, 0);
	assert_non_null(strstr(rcv->outbuf, "end of file: 350 bytes"));
	free(rcv);
}

static void test_reports_tcp_info(void **state)
{
	struct h_proc *rcv = start_receiver(NULL, NULL, NULL, NULL, NULL, NULL), *snd;
	char *argv[] = { (char *)h_lesson(LESSON, "sender"), "-p", rcv->port, "-n", "20000",
			 "--cc", "reno", NULL };
	unsigned mss, cwnd;

	(void)state;
	snd = start(argv);
	expect_exit_code(snd, 0);
	expect_exit_code(rcv, 0);
	assert_non_null(strstr(snd->outbuf, "congestion control: reno"));
	assert_non_null(strstr(snd->outbuf, "still in the kernel: "));
	const char *line = strstr(snd->outbuf, "sender: TCP_INFO: MSS ");

	assert_non_null(line);
	assert_int_equal(sscanf(line, "sender: TCP_INFO: MSS %u, cwnd %u segments", &mss, &cwnd), 2);
	assert_true(mss > 0 && cwnd > 0);
	/* Nothing is lost on loopback: nothing sent again, nothing out of order. */
	assert_non_null(strstr(line, ", 0 segments sent again"));
	assert_non_null(strstr(rcv->outbuf, "receiver: TCP_INFO: MSS "));
	if (strstr(rcv->outbuf, "segments that arrived out of order:") != NULL)
		assert_non_null(strstr(rcv->outbuf, "segments that arrived out of order: 0 "));
	free(rcv);
	free(snd);
}

static void test_sigterm_stops_a_waiting_receiver(void **state)
{
	struct h_proc *rcv = start_receiver("-n", "0", NULL, NULL, NULL, NULL);

	(void)state;
	assert_int_equal(h_stop(rcv, SIGTERM, T_RUN), 0);
	free(rcv);
}

static void expect_exit(const char *prog, char *const args[], int code, const char *stream,
			const char *needle)
{
	char *argv[8] = { (char *)h_lesson(LESSON, prog) };
	struct h_proc *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	for (int i = 0; args[i] != NULL && i < 6; i++)
		argv[i + 1] = args[i];
	assert_int_equal(h_run(p, argv, NULL, 0, T_RUN), code);
	if (strstr(strcmp(stream, "out") == 0 ? p->outbuf : p->errbuf, needle) == NULL)
		fail_msg("%s: expected '%s' on std%s, got: %s%s", prog, needle, stream, p->outbuf,
			 p->errbuf);
	free(p);
}

static void test_help_and_bad_options(void **state)
{
	struct peer pe;

	(void)state;
	expect_exit("receiver", (char *[]){ "-h", NULL }, 0, "out", "usage:");
	expect_exit("sender", (char *[]){ "-h", NULL }, 0, "out", "usage:");
	expect_exit("receiver", (char *[]){ "-p", "65536", NULL }, 2, "err", "bad port '65536'");
	expect_exit("receiver", (char *[]){ "--stop-after", "-1", NULL }, 2, "err",
		    "bad stop-after '-1'");
	expect_exit("receiver", (char *[]){ "--rcvbuf", "0", NULL }, 2, "err", "bad rcvbuf '0'");
	expect_exit("sender", (char *[]){ "-n", "10", NULL }, 2, "err", "missing -p PORT");
	expect_exit("sender", (char *[]){ "-p", "1", "-n", "0", NULL }, 2, "err",
		    "bad byte count '0'");
	expect_exit("sender", (char *[]){ "-p", "1", "--nope", NULL }, 2, "err", "-h' for help");
	listen_here(&pe);
	expect_exit("sender", (char *[]){ "-p", pe.port, "--cc", "no-such-cc", NULL }, 1, "err",
		    "setsockopt TCP_CONGESTION no-such-cc:");
	/* Our listener holds the port (no SO_REUSEADDR on it): bind fails. */
	expect_exit("receiver", (char *[]){ "-p", pe.port, NULL }, 1, "err", "bind:");
	close(pe.listener);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_bad_options),
		cmocka_unit_test(test_transfer_in_order),
		cmocka_unit_test(test_receiver_finds_misplaced_bytes),
		cmocka_unit_test(test_rcvbuf_sets_window_scale),
		cmocka_unit_test(test_default_buffer_scales_window),
		cmocka_unit_test(test_nodelay_sends_at_once),
		cmocka_unit_test(test_nagle_waits_for_ack),
		cmocka_unit_test(test_waits_until_all_read),
		cmocka_unit_test(test_stopped_reader_fills_its_buffer),
		cmocka_unit_test(test_answers_requests),
		cmocka_unit_test(test_reports_tcp_info),
		cmocka_unit_test(test_sigterm_stops_a_waiting_receiver),
	};

	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
