/* test_10_epoll.c — lesson 10, the epoll echo server and the crowd client.
 *
 * What these tests prove (the echo itself under load, resets, idle and
 * never-reading clients, fd exhaustion without spinning and SIGTERM with
 * clients connected are the concurrency suite's, for both modes; the first
 * two below are here too, so that `socklab check 10` can grade each step):
 *  - one thread serves several clients side by side: three connected at
 *    once are each echoed, in any order, while the others stay connected;
 *  - a client that sends and never reads is held to its output buffer:
 *    the server stops reading from it (it cannot push 64 MiB), does not
 *    spin while it waits, serves the others meanwhile, and gives that
 *    client every byte back, in order, once it reads;
 *  - level-triggered: a 10-byte message read 4 bytes at a time (-r 4)
 *    takes three wake-ups, one recv() each, and never an EAGAIN;
 *    edge-triggered (-e): one wake-up, three recv()s, then recv() says
 *    EAGAIN — the drain the edge mode needs;
 *  - EPOLLRDHUP: the client's FIN is reported with the data, and the
 *    level-triggered server reads on to the end of file at once;
 *  - the crowd: 200 clients connected at once are all answered by one
 *    thread, in both modes; against lesson 02's iterative server the crowd
 *    fails, naming the client that got no echo (so its check can fail);
 *  - out of descriptors, the server says so once (not once per attempt),
 *    does not spin while clients wait, and accepts again when a client
 *    leaves;
 *  - SIGINT and SIGTERM, sent the moment it says "listening on", end it
 *    with status 0: signals come through a signalfd, so none is lost;
 *  - -h, and bad options exit 2 with a message.
 * Servers run on 127.0.0.1, port 0; every wait has a deadline. Under
 * SOCKLAB_VALGRIND=1 a leak or an fd left open fails the exit status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "10-epoll"
#define DEADLINE_MS 10000
#define QUIET_MS 300
#define NEVER "\001never\001"
#define PUSH_CAP (64u << 20) /* a server that reads without limit takes it all */
#define STALL_MS 500         /* the pusher stops after this long stuck */
#define CPU_WINDOW_MS 500    /* the server's CPU time over this window... */
#define CPU_MAX_SHARE 5      /* ...must stay under 1/5 of it: no spinning */

/* ---- fixture: whatever a test started is stopped, even on failure --------- */

struct fx {
	struct h_proc srv, cl;
	int fds[8];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	for (int i = 0; i < 8; i++)
		f->fds[i] = -1;
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
	free(f);
	return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

/* Start "server -b 127.0.0.1 -p 0 ARGS..." (NULL-terminated). */
static void start_server(struct h_proc *srv, const char *a1, const char *a2,
			 const char *a3, const char *a4)
{
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };

	assert_int_equal(h_start(srv, argv), 0);
	if (h_wait_listening(srv, DEADLINE_MS) != 0) {
		char err[512];

		fail_msg("the server never said \"listening on\"; its stderr: %s",
			 h_own_stderr(srv, err, sizeof(err)));
	}
	assert_true(strncmp(srv->addr, "127.0.0.1:", 10) == 0);
}

/* The lines of the -vv trace for one fd, from the first one on. */
static const char *trace_of(const char *out, int fd, char *buf, size_t size)
{
	char prefix[16];
	size_t used = 0;

	snprintf(prefix, sizeof(prefix), "fd %d: ", fd);
	buf[0] = '\0';
	for (const char *line = out; *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t n = eol != NULL ? (size_t)(eol - line) + 1 : strlen(line);

		if (strncmp(line, prefix, strlen(prefix)) == 0 &&
		    used + n - strlen(prefix) < size) {
			memcpy(buf + used, line + strlen(prefix), n - strlen(prefix));
			used += n - strlen(prefix);
			buf[used] = '\0';
		}
		line += n;
	}
	return buf;
}

/* The fd number the server gave its first client ("... connected (fd N"). */
static int first_client_fd(const char *out)
{
	const char *at = strstr(out, "connected (fd ");

	return at != NULL ? atoi(at + strlen("connected (fd ")) : -1;
}

/* While nothing can move, the server must sleep in epoll_wait(): its CPU
 * time over CPU_WINDOW_MS (its output read meanwhile) stays low. */
static void assert_not_spinning(struct h_proc *srv, const char *what)
{
	long long used = h_cpu_used_over(srv->pid, h_scaled(CPU_WINDOW_MS), h_idle_read_output, srv);

	assert_true(used >= 0);
	if (used * CPU_MAX_SHARE >= h_scaled(CPU_WINDOW_MS))
		fail_msg("%s, the server used %lld ms of CPU in %d ms: it spins instead of "
			 "sleeping in epoll_wait()", what, used, h_scaled(CPU_WINDOW_MS));
}

/* Send text and expect it back; a failure says which client got nothing,
 * and what the server said on stderr. */
static void assert_echoed(struct h_proc *srv, int fd, const char *text, int client)
{
	char back[128], err[512];
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	if (h_recv_n(fd, back, len, DEADLINE_MS) == (ssize_t)len && memcmp(back, text, len) == 0)
		return;
	h_wait_output(srv, "err", NEVER, 100);
	fail_msg("client %d sent \"%.*s\" and did not get it back; the server's stderr: %s",
		 client, (int)strcspn(text, "\n"), text, h_own_stderr(srv, err, sizeof(err)));
}

/* ---- several clients, one thread ------------------------------------------------- */

static void test_clients_are_served_side_by_side(void **state)
{
	struct fx *f = *state;

	start_server(&f->srv, "-v", NULL, NULL, NULL);
	assert_int_equal(h_three_side_by_side(&f->srv, assert_echoed, f->fds, DEADLINE_MS), 0);
	assert_int_equal(h_count(f->srv.outbuf, " connected (fd "), 3);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- a client that never reads ---------------------------------------------------- */

static void test_a_client_that_never_reads_blocks_no_one(void **state)
{
	struct fx *f = *state;
	int other, stalled;
	const char *why;
	size_t pushed;

	start_server(&f->srv, NULL, NULL, NULL, NULL);
	other = f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(other >= 0);
	assert_echoed(&f->srv, other, "before\n", 1);

	/* Small fixed buffers on our side (no autotuning), so what a stalled
	 * server holds stays far below PUSH_CAP. Its echo fills our receive
	 * buffer, then the server's send buffer, then its output buffer: from
	 * then on the server must stop reading from it. */
	stalled = f->fds[1] = h_connect_small_buffers(f->srv.port, 64 * 1024, DEADLINE_MS);
	assert_true(stalled >= 0);
	pushed = h_push_pattern(stalled, PUSH_CAP, h_scaled(STALL_MS), h_scaled(4 * DEADLINE_MS),
				h_idle_read_output, &f->srv);
	if (pushed == (size_t)-1)
		fail_msg("the pushing client's send: %s", strerror(errno));
	if (pushed >= PUSH_CAP)
		fail_msg("a client that never reads pushed %u MiB and the server took it all: "
			 "it reads on with no room to keep the echo", PUSH_CAP >> 20);
	assert_not_spinning(&f->srv, "while a client that never reads waits");

	/* The others are served meanwhile, at once. */
	assert_echoed(&f->srv, other, "meanwhile\n", 1);

	/* It reads now: everything comes back, nothing lost, in order. */
	why = h_pattern_back(stalled, pushed, h_scaled(DEADLINE_MS), h_idle_read_output, &f->srv);
	if (why != NULL)
		fail_msg("the client that did not read: %s", why);
	assert_echoed(&f->srv, other, "after\n", 1);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- level versus edge -------------------------------------------------------- */

/* Send 10 bytes in one send() to a server reading 4 bytes at a time, get
 * them back, and return the server's trace for that client. */
static const char *ten_bytes_in_fours(struct fx *f, const char *mode, char *trace,
				      size_t size)
{
	char back[16];
	int fd;

	start_server(&f->srv, "-r", "4", "-vv", mode);
	fd = f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_wait_count(&f->srv, "out", " connected (fd ", 1, DEADLINE_MS), 0);
	assert_int_equal(send(fd, "0123456789", 10, 0), 10);
	assert_int_equal(h_recv_n(fd, back, 10, DEADLINE_MS), 10);
	assert_memory_equal(back, "0123456789", 10);
	/* The server printed its trace before each send(): all of it is
	 * there (or on its way) once the last byte is back. */
	assert_int_equal(h_wait_count(&f->srv, "out", "recv 2 bytes", 1, DEADLINE_MS), 0);
	if (mode != NULL && strcmp(mode, "-e") == 0)
		assert_int_equal(h_wait_count(&f->srv, "out", "recv: EAGAIN", 1, DEADLINE_MS), 0);
	return trace_of(f->srv.outbuf, first_client_fd(f->srv.outbuf), trace, size);
}

static void test_level_triggered_wakes_once_per_read(void **state)
{
	struct fx *f = *state;
	char trace[4096];
	const char *want =
		"EPOLLIN\n" "recv 4 bytes\n" "send 4 of 4 bytes\n"
		"EPOLLIN\n" "recv 4 bytes\n" "send 4 of 4 bytes\n"
		"EPOLLIN\n" "recv 2 bytes\n" "send 2 of 2 bytes\n";

	ten_bytes_in_fours(f, NULL, trace, sizeof(trace));
	/* Three events, one recv() each; level-triggered never needs an
	 * EAGAIN: epoll says again and again while bytes are left. */
	assert_string_equal(trace, want);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_edge_triggered_drains_to_eagain(void **state)
{
	struct fx *f = *state;
	char trace[4096];
	const char *want =
		"EPOLLIN\n" "recv 4 bytes\n" "send 4 of 4 bytes\n"
		"recv 4 bytes\n" "send 4 of 4 bytes\n"
		"recv 2 bytes\n" "send 2 of 2 bytes\n"
		"recv: EAGAIN (nothing more to read now)\n";

	ten_bytes_in_fours(f, "-e", trace, sizeof(trace));
	/* One event for the whole message, then reads until EAGAIN. */
	assert_string_equal(trace, want);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_rdhup_reads_to_the_end_at_once(void **state)
{
	struct fx *f = *state;
	char back[16], trace[4096];
	int fd;

	start_server(&f->srv, "-r", "4", "-vv", NULL);
	fd = f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_wait_count(&f->srv, "out", " connected (fd ", 1, DEADLINE_MS), 0);
	/* Data and FIN together: the first event says EPOLLRDHUP too. */
	assert_int_equal(send(fd, "abcdef", 6, 0), 6);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_n(fd, back, 7, DEADLINE_MS), 6); /* 6, then EOF */
	assert_memory_equal(back, "abcdef", 6);
	assert_int_equal(h_wait_count(&f->srv, "out", " disconnected (6 bytes echoed)", 1,
				      DEADLINE_MS), 0);
	trace_of(f->srv.outbuf, first_client_fd(f->srv.outbuf), trace, sizeof(trace));
	/* Whether the FIN came with the first wake-up or a later one, the
	 * wake-up that reports it reads everything left and the EOF. */
	assert_non_null(strstr(trace, "EPOLLIN|EPOLLRDHUP\n"));
	assert_non_null(strstr(strstr(trace, "EPOLLIN|EPOLLRDHUP\n"), "recv: 0 (end of file)\n"));
	if (h_count(strstr(trace, "EPOLLIN|EPOLLRDHUP\n"), "EPOLLIN") != 1)
		fail_msg("the FIN was reported (EPOLLIN|EPOLLRDHUP), yet it took more wake-ups "
			 "to read to the end of file; the server's trace for the client:\n%s", trace);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- many clients at once --------------------------------------------------------- */

static int run_crowd(struct h_proc *cl, const char *port, const char *clients,
		     const char *timeout_ms)
{
	char *argv[] = { (char *)h_lesson(LESSON, "crowd"), "-p", (char *)port, "-c",
			 (char *)clients, "-s", "100", "-t", (char *)timeout_ms, NULL };

	return h_run(cl, argv, NULL, 0, 6 * DEADLINE_MS);
}

static void test_crowd_of_200_in_both_modes(void **state)
{
	struct fx *f = *state;
	const char *modes[] = { NULL, "-e" };

	for (int m = 0; m < 2; m++) {
		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, "-v", modes[m], NULL, NULL);
		assert_int_equal(run_crowd(&f->cl, f->srv.port, "200", "10000"), 0);
		assert_non_null(strstr(f->cl.outbuf, "200 clients connected at once\n"));
		assert_non_null(strstr(f->cl.outbuf, "200 echoes back, every one correct\n"));
		/* One process served all 200 while all were connected. */
		assert_int_equal(h_wait_count(&f->srv, "out", ", 200 clients)", 1, DEADLINE_MS),
				 0);
		assert_int_equal(h_wait_count(&f->srv, "out", " disconnected (100 bytes echoed",
					      200, DEADLINE_MS), 0);
		assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	}
}

static void test_crowd_fails_against_an_iterative_server(void **state)
{
	struct fx *f = *state;
	char *argv[] = { (char *)h_lesson("02-tcp-echo", "server"), "-b", "127.0.0.1",
			 "-p", "0", NULL };

	assert_int_equal(h_start(&f->srv, argv), 0);
	assert_int_equal(h_wait_listening(&f->srv, DEADLINE_MS), 0);
	/* Client 0 is served; client 1 waits behind it, and its echo never
	 * comes while client 0 stays connected. */
	assert_int_equal(run_crowd(&f->cl, f->srv.port, "3", "500"), 1);
	assert_non_null(strstr(f->cl.errbuf, "client 1: no echo within 500 ms"));
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- out of descriptors -------------------------------------------------------------- */

static void test_emfile_said_once_then_accepting_again(void **state)
{
	struct fx *f = *state;
	struct rlimit low;
	char back[16];
	int limit;

	if (h_under_valgrind())
		skip(); /* valgrind keeps descriptors of its own below the limit */
	start_server(&f->srv, NULL, NULL, NULL, NULL);
	/* Room for exactly two clients. */
	limit = h_fd_limit_leaving(f->srv.pid, 2);
	assert_true(limit > 0);
	low.rlim_cur = low.rlim_max = (rlim_t)limit;
	assert_int_equal(prlimit(f->srv.pid, RLIMIT_NOFILE, &low, NULL), 0);
	for (int i = 0; i < 6; i++) {
		f->fds[i] = h_connect(f->srv.port, DEADLINE_MS);
		assert_true(f->fds[i] >= 0);
		assert_int_equal(send(f->fds[i], "x", 1, 0), 1);
	}
	/* The first two are served; the others wait in the backlog. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(h_recv_n(f->fds[i], back, 1, DEADLINE_MS), 1);
	assert_int_equal(h_wait_count(&f->srv, "err", "Too many open files", 1, DEADLINE_MS), 0);
	/* While clients wait, the server retries every 100 ms, sleeping in
	 * between, and says so only the first time. */
	assert_not_spinning(&f->srv, "out of descriptors, with clients waiting");
	if (h_count(f->srv.errbuf, "Too many open files") != 1)
		fail_msg("out of descriptors, the server said so %d times in %d ms, not once",
			 h_count(f->srv.errbuf, "Too many open files"), CPU_WINDOW_MS);
	assert_int_equal(h_recv_n(f->fds[2], back, 1, QUIET_MS), 0);
	/* One leaves: the next is accepted and served. */
	close(f->fds[0]);
	f->fds[0] = -1;
	assert_int_equal(h_recv_n(f->fds[2], back, 1, DEADLINE_MS), 1);
	assert_int_equal(back[0], 'x');
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- stopping --------------------------------------------------------------------------- */

static void test_signals_right_after_listening_stop_it(void **state)
{
	struct fx *f = *state;
	const int sigs[] = { SIGTERM, SIGINT };

	for (int i = 0; i < 10; i++) {
		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, i % 4 < 2 ? NULL : "-e", NULL, NULL, NULL);
		assert_int_equal(h_stop(&f->srv, sigs[i % 2], DEADLINE_MS), 0);
		assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
	}
}

/* ---- command line ------------------------------------------------------------------------- */

static void test_help_and_bad_options(void **state)
{
	struct fx *f = *state;
	const char *progs[] = { "server", "crowd" };
	char *const bad[][4] = {
		{ "server", "-r", "0", NULL },
		{ "server", "-r", "65537", NULL },
		{ "server", "-p", "70000", NULL },
		{ "server", "-x", NULL, NULL },
		{ "server", "extra", NULL, NULL },
		{ "crowd", "-c", "5", NULL },          /* no -p */
		{ "crowd", "-p", "0", NULL },
		{ "crowd", "-p", "80", "-c" },         /* -c without its number */
	};
	const char *why = h_check_usage(&f->cl, LESSON, progs, sizeof(progs) / sizeof(progs[0]),
					bad, sizeof(bad) / sizeof(bad[0]), DEADLINE_MS);

	if (why != NULL)
		fail_msg("%s", why);
	{
		char *argv[] = { (char *)h_lesson(LESSON, "server"), "-r", "0", NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(f->cl.errbuf, "bad read size '0'"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clients_are_served_side_by_side, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_client_that_never_reads_blocks_no_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_triggered_wakes_once_per_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_triggered_drains_to_eagain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdhup_reads_to_the_end_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crowd_of_200_in_both_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crowd_fails_against_an_iterative_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emfile_said_once_then_accepting_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals_right_after_listening_stop_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_bad_options, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
