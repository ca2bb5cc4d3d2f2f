/* test_11_nonblocking.c — lesson 11: non-blocking sockets, EAGAIN, output
 * buffers, connect with a timeout, SO_RCVTIMEO versus poll().
 *
 * What these tests prove (the server under the usual echo load is the
 * concurrency suite's):
 *  - the lesson's point: with --blocking, one client that sends and never
 *    reads freezes the server (a second client gets no echo at all) until
 *    the first one reads; without it, the second client is served while
 *    the first still does not read, and the server's closing line counts
 *    the sends that took less than offered (short sends and EAGAINs:
 *    more than zero);
 *  - the server's sockets, the listener and each client's, are in
 *    non-blocking mode (the O_NONBLOCK flag in /proc/PID/fdinfo);
 *  - a client that stops reading for a while loses nothing: what send()
 *    did not take waits in the server's buffer and arrives in order;
 *  - the client connects without blocking (EINPROGRESS, then SO_ERROR 0),
 *    and sends and receives at once: 16 MiB come back byte for byte, where
 *    lesson 02's send-then-read client deadlocks;
 *  - connect with a timeout: against a listener whose backlog is full (so
 *    the kernel drops our SYN) the client gives up after -t ms, not
 *    before, and says so; against a closed port, "Connection refused";
 *  - timeouts: SO_RCVTIMEO makes recv() fail with EAGAIN, a poll() timeout
 *    returns 0, each after at least the time asked for (and well before
 *    any deadline), against its own silent peer and against ours;
 *  - out of descriptors, the reserve-fd trick turns waiting clients away
 *    (they see their connection end) instead of spinning, says so once,
 *    and serves again when a client leaves;
 *  - -h, bad options (exit 2), SIGTERM right after "listening on".
 * 127.0.0.1 and port 0 only; every wait has a deadline.
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "11-nonblocking"
#define DEADLINE_MS 10000
#define QUIET_MS 500
#define BIG (16 * 1024 * 1024)
#define PUSH_CAP (256u << 20)

struct fx {
	struct h_proc srv, cl;
	int fds[8];
	int listener;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	for (int i = 0; i < 8; i++)
		f->fds[i] = -1;
	f->listener = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->cl.pid > 0 && f->cl.status < 0)
		h_stop(&f->cl, SIGKILL, 2000);
	if (f->srv.pid > 0 && f->srv.status < 0)
		h_stop(&f->srv, SIGKILL, 2000);
	for (int i = 0; i < 8; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	if (f->listener >= 0)
		close(f->listener);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------- */

static void start_server(struct h_proc *srv, const char *extra)
{
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)extra, NULL };

	assert_int_equal(h_start(srv, argv), 0);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
}

/* A listener on 127.0.0.1:0 with the given backlog; its port in port. */
static int listener_on_any_port(int backlog, char port[H_PORTSTRLEN])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, H_PORTSTRLEN, "%u", ntohs(sin.sin_port));
	return fd;
}

/* ---- the lesson's point: blocking send() in an event loop --------------------------- */

static void one_client_never_reads(struct fx *f, const char *mode)
{
	char back[8];
	size_t pushed;
	int served;

	start_server(&f->srv, mode);
	f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->fds[0] >= 0);
	pushed = h_push_until_stalled(f->fds[0], PUSH_CAP, 500);
	assert_true(pushed > 0);
	assert_true(pushed < PUSH_CAP); /* the server stopped taking bytes */

	f->fds[1] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->fds[1] >= 0);
	assert_int_equal(send(f->fds[1], "hi\n", 3, 0), 3);
	served = h_recv_n(f->fds[1], back, 3, mode == NULL ? DEADLINE_MS : QUIET_MS) == 3;
	if (mode == NULL) {
		/* Non-blocking: served while the first client still sits. */
		assert_true(served);
		assert_memory_equal(back, "hi\n", 3);
	} else {
		/* --blocking: the server is stuck in send() to the first
		 * client; the second gets nothing... */
		assert_false(served);
		/* ...until the first reads its echo, all of it. */
		assert_int_equal(h_drain(f->fds[0], pushed, 6 * DEADLINE_MS), pushed);
		assert_int_equal(h_recv_n(f->fds[1], back, 3, DEADLINE_MS), 3);
		assert_memory_equal(back, "hi\n", 3);
	}
}

static void test_blocking_server_freezes_for_one_client(void **state)
{
	struct fx *f = *state;

	one_client_never_reads(f, "--blocking");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_nonblocking_server_serves_the_others(void **state)
{
	struct fx *f = *state;
	const char *line;
	long long from_send = -1, short_sends = -1;

	one_client_never_reads(f, NULL);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	/* While the first client was not reading, send() took less than it
	 * was offered (a short send) or nothing (EAGAIN): that is how the
	 * server knew to keep the rest, and then to stop reading. */
	line = strstr(f->srv.outbuf, "EAGAIN from recv: ");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "EAGAIN from recv: %*d, from send: %lld; short sends: %lld",
				&from_send, &short_sends), 2);
	assert_true(from_send + short_sends > 0);
}

/* What O_NONBLOCK is about: every socket the server polls (the listener
 * and each client's) is in non-blocking mode. The kernel shows a file's
 * status flags in /proc/PID/fdinfo/FD, in octal. */
static int server_sockets(pid_t pid, int *fds, int max)
{
	char path[64], target[64];
	int n = 0;

	for (int fd = 0; fd < 256 && n < max; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, "socket:", 7) == 0)
			fds[n++] = fd;
	}
	return n;
}

static long file_flags(pid_t pid, int fd)
{
	char path[64], line[128];
	long flags = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "flags: %lo", &flags) == 1)
			break;
	fclose(fp);
	return flags;
}

static void expect_nonblocking(pid_t pid, int want, const char *which)
{
	int fds[8], n = server_sockets(pid, fds, 8);

	if (n != want)
		fail_msg("the server has %d sockets open, not %d (%s)", n, want, which);
	for (int i = 0; i < n; i++) {
		long flags = file_flags(pid, fds[i]);

		assert_true(flags >= 0);
		if (!(flags & O_NONBLOCK))
			fail_msg("a socket of the server (%s) is blocking: fd %d, flags 0%lo", which,
				 fds[i], flags);
	}
}

static void test_server_sockets_are_nonblocking(void **state)
{
	struct fx *f = *state;
	char back[2];

	/* The listener is made non-blocking before "listening on". */
	start_server(&f->srv, NULL);
	expect_nonblocking(f->srv.pid, 1, "the listener");
	/* A client's socket: once its echo is back, the server has long
	 * set the socket up. */
	f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->fds[0] >= 0);
	assert_int_equal(send(f->fds[0], "x", 1, 0), 1);
	assert_int_equal(h_recv_n(f->fds[0], back, 1, DEADLINE_MS), 1);
	expect_nonblocking(f->srv.pid, 2, "the listener and a client's");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* A client that sends a lot and reads nothing for a while, then reads:
 * what send() could not take waited in the server's output buffer and
 * arrives whole and in order; meanwhile the server stopped reading that
 * client instead of buffering without end. */
static void test_slow_reader_gets_every_byte_in_order(void **state)
{
	struct fx *f = *state;
	const char *why;
	size_t pushed;
	int fd;

	start_server(&f->srv, NULL);
	fd = f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(fd >= 0);
	pushed = h_push_pattern(fd, PUSH_CAP, h_scaled(500), h_scaled(6 * DEADLINE_MS),
				h_idle_read_output, &f->srv);
	if (pushed == (size_t)-1)
		fail_msg("the server dropped the client: send: %s", strerror(errno));
	assert_true(pushed > 0 && pushed < PUSH_CAP); /* the server stopped reading us */
	/* Read it all back: the server sends the rest as room appears, then
	 * sees our FIN and closes. */
	why = h_pattern_back(fd, pushed, h_scaled(6 * DEADLINE_MS), h_idle_read_output, &f->srv);
	if (why != NULL)
		fail_msg("the slow reader: %s", why);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- the client ----------------------------------------------------------------------- */

static void test_client_connects_without_blocking(void **state)
{
	struct fx *f = *state;
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-v", "-p", NULL, "hello",
			 "world", NULL };

	start_server(&f->srv, NULL);
	argv[3] = f->srv.port;
	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
	assert_string_equal(f->cl.outbuf, "hello world\n");
	assert_true(strstr(f->cl.errbuf, ": EINPROGRESS (the SYN is out") != NULL ||
		    strstr(f->cl.errbuf, ": done at once") != NULL);
	assert_non_null(strstr(f->cl.errbuf, "SO_ERROR = 0 (connected)"));
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* Write in to the program's stdin while reading its stdout into out, both
 * at once. Returns the bytes read before its stdout closed. */
static ssize_t pipe_through(struct h_proc *p, const unsigned char *in, size_t inlen,
			    unsigned char *out, size_t cap, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	size_t sent = 0, got = 0;

	assert_int_equal(fcntl(p->in, F_SETFL, fcntl(p->in, F_GETFL) | O_NONBLOCK), 0);
	while (p->out >= 0 && got < cap) {
		struct pollfd pfd[2] = { { .fd = p->in, .events = POLLOUT },
					 { .fd = p->out, .events = POLLIN } };
		long long left = deadline - h_now_ms();

		if (left <= 0 || poll(pfd, 2, (int)left) < 0)
			return -1;
		if (pfd[0].revents != 0) {
			ssize_t n = write(p->in, in + sent, inlen - sent);

			if (n > 0)
				sent += (size_t)n;
			if (sent == inlen)
				h_feed(p, NULL, 0);
		}
		if (pfd[1].revents != 0) {
			ssize_t n = read(p->out, out + got, cap - got);

			if (n == 0) {
				close(p->out);
				p->out = -1;
			}
			if (n > 0)
				got += (size_t)n;
		}
	}
	return (ssize_t)got;
}

static void test_client_round_trips_16mib_without_deadlock(void **state)
{
	struct fx *f = *state;
	unsigned char *in = malloc(BIG), *out = malloc(BIG + 1);
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", NULL, NULL };

	assert_non_null(in);
	assert_non_null(out);
	h_random_bytes(in, BIG, 11);
	start_server(&f->srv, NULL);
	argv[2] = f->srv.port;
	assert_int_equal(h_start(&f->cl, argv), 0);
	assert_int_equal(pipe_through(&f->cl, in, BIG, out, BIG + 1, 12 * DEADLINE_MS), BIG);
	assert_int_equal(h_wait_exit(&f->cl, DEADLINE_MS), 0);
	assert_memory_equal(out, in, BIG);
	free(in);
	free(out);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_connect_timeout_on_a_full_backlog(void **state)
{
	struct fx *f = *state;
	char port[H_PORTSTRLEN], want[96];
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-t", "300", "-p", port, "x", NULL };
	long long t0, took;

	/* Backlog 0 and no accept(): one finished handshake fills the queue,
	 * and the kernel drops the next SYN. */
	f->listener = listener_on_any_port(0, port);
	f->fds[0] = h_connect(port, DEADLINE_MS);
	assert_true(f->fds[0] >= 0);
	t0 = h_now_ms();
	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 1);
	took = h_now_ms() - t0;
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: timed out after 300 ms", port);
	assert_non_null(strstr(f->cl.errbuf, want));
	assert_true(took >= 300);       /* not before its time */
	assert_string_equal(f->cl.outbuf, "");
}

static void test_connect_refused(void **state)
{
	struct fx *f = *state;
	char port[H_PORTSTRLEN], want[96];
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", port, "x", NULL };

	f->listener = listener_on_any_port(-1, port); /* bound, not listening */
	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 1);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: Connection refused", port);
	assert_non_null(strstr(f->cl.errbuf, want));
}

/* ---- SO_RCVTIMEO and poll() --------------------------------------------------------------- */

/* "... after N ms" in the program's output, following label. */
static long waited_ms(const char *out, const char *label)
{
	const char *at = strstr(out, label);
	long v = -1;

	if (at != NULL)
		sscanf(at + strlen(label), "%ld", &v);
	return v;
}

static void check_timeouts(struct fx *f, const char *port)
{
	char *argv[] = { (char *)h_lesson(LESSON, "timeouts"), "-t", "200",
			 port != NULL ? "-p" : NULL, (char *)port, NULL };
	long rcv, pol;

	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
	assert_non_null(strstr(f->cl.outbuf, "SO_RCVTIMEO set to 0.200000 s"));
	rcv = waited_ms(f->cl.outbuf, "rcvtimeo: recv() failed after ");
	pol = waited_ms(f->cl.outbuf, "poll: 0 ready after ");
	assert_non_null(strstr(f->cl.outbuf, "ms: Resource temporarily unavailable (errno EAGAIN)"));
	/* Neither can end early. SO_RCVTIMEO counts in scheduler ticks
	 * (up to 10 ms on Linux), rounded up, and its wait may start up to
	 * a tick late: allow one tick's rounding below. */
	assert_true(rcv >= 190);
	assert_true(pol >= 200);
	assert_true(rcv < h_scaled(DEADLINE_MS) && pol < h_scaled(DEADLINE_MS));
}

static void test_rcvtimeo_and_poll_timeouts(void **state)
{
	struct fx *f = *state;

	check_timeouts(f, NULL); /* its own silent listener */
	assert_non_null(strstr(f->cl.outbuf, "a silent peer listens on 127.0.0.1:"));
}

static void test_timeouts_against_a_given_port(void **state)
{
	struct fx *f = *state;
	char port[H_PORTSTRLEN];

	f->listener = listener_on_any_port(4, port); /* never accepts, never sends */
	check_timeouts(f, port);
	assert_null(strstr(f->cl.outbuf, "a silent peer listens"));
}

static void test_timeouts_one_mode_at_a_time(void **state)
{
	struct fx *f = *state;
	char *rcv[] = { (char *)h_lesson(LESSON, "timeouts"), "-m", "rcvtimeo", "-t", "50", NULL };
	char *pol[] = { (char *)h_lesson(LESSON, "timeouts"), "-m", "poll", "-t", "50", NULL };

	assert_int_equal(h_run(&f->cl, rcv, NULL, 0, DEADLINE_MS), 0);
	assert_non_null(strstr(f->cl.outbuf, "rcvtimeo: recv() failed after "));
	assert_null(strstr(f->cl.outbuf, "poll:"));
	assert_int_equal(h_run(&f->cl, pol, NULL, 0, DEADLINE_MS), 0);
	assert_non_null(strstr(f->cl.outbuf, "poll: 0 ready after "));
	assert_null(strstr(f->cl.outbuf, "rcvtimeo:"));
}

static void test_emfile_turns_clients_away(void **state)
{
	struct fx *f = *state;
	struct rlimit low;
	char back[8];
	int limit, turned_away = 0;

	if (h_under_valgrind())
		skip(); /* valgrind's own descriptors change the count */
	start_server(&f->srv, NULL);
	limit = h_fd_limit_leaving(f->srv.pid, 2);
	assert_true(limit > 0);
	low.rlim_cur = low.rlim_max = (rlim_t)limit;
	assert_int_equal(prlimit(f->srv.pid, RLIMIT_NOFILE, &low, NULL), 0);
	for (int i = 0; i < 6; i++) {
		f->fds[i] = h_connect(f->srv.port, DEADLINE_MS);
		assert_true(f->fds[i] >= 0);
		assert_int_equal(send(f->fds[i], "x", 1, 0), 1);
	}
	/* Two fit and are served; the rest are accepted on the spare fd
	 * and closed at once: their connection ends (EOF or reset). */
	for (int i = 0; i < 2; i++)
		assert_int_equal(h_recv_n(f->fds[i], back, 1, DEADLINE_MS), 1);
	for (int i = 2; i < 6; i++) {
		struct pollfd pfd = { .fd = f->fds[i], .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
		n = recv(f->fds[i], back, sizeof(back), 0);
		turned_away += n == 0 || (n < 0 && errno == ECONNRESET);
	}
	assert_int_equal(turned_away, 4);
	assert_int_equal(h_wait_output(&f->srv, "err", "refusing clients", DEADLINE_MS), 0);
	assert_int_equal(h_count(f->srv.errbuf, "accept: Too many open files: refusing clients"),
			 1);
	/* One leaves: the next client is served. */
	close(f->fds[0]);
	f->fds[0] = -1;
	f->fds[6] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->fds[6] >= 0);
	assert_int_equal(send(f->fds[6], "y", 1, 0), 1);
	assert_int_equal(h_recv_n(f->fds[6], back, 1, DEADLINE_MS), 1);
	assert_int_equal(back[0], 'y');
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- stopping, command line ---------------------------------------------------------------------- */

static void test_sigterm_right_after_listening(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 6; i++) {
		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, i % 2 ? "--blocking" : NULL);
		assert_int_equal(h_stop(&f->srv, i % 3 ? SIGTERM : SIGINT, DEADLINE_MS), 0);
		assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
		assert_non_null(strstr(f->srv.outbuf, "EAGAIN from recv: 0, from send: 0"));
	}
}

static void test_help_and_bad_options(void **state)
{
	struct fx *f = *state;
	const char *progs[] = { "server", "client", "timeouts" };
	char *const bad[][4] = {
		{ "server", "-p", "70000", NULL },
		{ "server", "--blocking", "extra", NULL },
		{ "client", "hello", NULL, NULL },        /* no -p */
		{ "client", "-p", "80", "-t" },           /* -t without its number */
		{ "client", "-t", "0", NULL },
		{ "timeouts", "-m", "sometimes", NULL },
		{ "timeouts", "-t", "60001", NULL },
		{ "timeouts", "-p", "0", NULL },
	};
	const char *why = h_check_usage(&f->cl, LESSON, progs, sizeof(progs) / sizeof(progs[0]),
					bad, sizeof(bad) / sizeof(bad[0]), DEADLINE_MS);

	if (why != NULL)
		fail_msg("%s", why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blocking_server_freezes_for_one_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonblocking_server_serves_the_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_sockets_are_nonblocking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader_gets_every_byte_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_connects_without_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_round_trips_16mib_without_deadlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout_on_a_full_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcvtimeo_and_poll_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts_against_a_given_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts_one_mode_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emfile_turns_clients_away, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_right_after_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_bad_options, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
