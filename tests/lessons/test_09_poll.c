/* test_09_poll.c — lesson 09, the poll() server, beyond what the shared
 * suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - one thread serves several clients side by side: three connected at
 *    once are each echoed, in any order, while the others stay connected;
 *  - a client that sends and never reads is held to its one buffer: the
 *    server stops asking poll() for its input (it cannot push 64 MiB),
 *    does not spin while it waits, serves the others meanwhile, and gives
 *    that client every byte back, in order, once it reads;
 *  - the pollfd array grows as clients come (8, 16, 32, 64 slots) and
 *    every client is served across each growth;
 *  - closed slots are removed: with three clients staying and fifty more
 *    coming and going one after another, the array never grows past its
 *    first 8 slots;
 *  - no ready slot is ever skipped: through bursts in which many clients
 *    close at once while others send, every slot poll() reports ready is
 *    handled in that same round — the server's count of ready slots
 *    reported equals its count handled (a removal that moves a slot into
 *    the place being scanned and steps past it would leave the moved slot
 *    for the next round, and poll() would report it twice);
 *  - SIGTERM or SIGINT the moment it listens ends it with exit 0 (the
 *    self-pipe leaves no gap for a lost signal);
 *  - the command line: -h exits 0, bad options exit 2.
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
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "09-poll"
#define DEADLINE_MS 10000
#define CLIENTS 60
#define NEVER "\001never\001"
#define PUSH_CAP (64u << 20) /* a server that reads without limit takes it all */
#define STALL_MS 500         /* the pusher stops after this long stuck */
#define CPU_WINDOW_MS 500    /* the server's CPU time over this window... */
#define CPU_MAX_SHARE 5      /* ...must stay under 1/5 of it: no spinning */

static struct h_proc *start_server(void)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0", NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	return srv;
}

static size_t recv_n(struct h_proc *srv, int fd, char *buf, size_t len, int ms)
{
	long long deadline = h_now_ms() + h_scaled(ms);
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r = poll(&pfd, 1, 20);

		if (r == 0) {
			if (h_now_ms() >= deadline)
				break;
			h_wait_output(srv, "out", "\001never\001", 1);
			continue;
		}
		if (r < 0)
			break;
		n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void echo(struct h_proc *srv, int fd, const char *text)
{
	char back[128];
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv_n(srv, fd, back, len, DEADLINE_MS), len);
	assert_memory_equal(back, text, len);
}

static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* echo(), with a failure that says which client got nothing back, and
 * what the server said on stderr. */
static void assert_echoed(struct h_proc *srv, int fd, const char *text, int client)
{
	char back[128], err[512];
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	if (recv_n(srv, fd, back, len, DEADLINE_MS) == len && memcmp(back, text, len) == 0)
		return;
	h_wait_output(srv, "err", NEVER, 100);
	fail_msg("client %d sent \"%.*s\" and did not get it back; the server's stderr: %s",
		 client, (int)strcspn(text, "\n"), text, h_own_stderr(srv, err, sizeof(err)));
}

/* ---- several clients, one thread ------------------------------------------------------ */

static void test_clients_are_served_side_by_side(void **state)
{
	struct h_proc *srv = start_server();
	int fds[3];

	(void)state;
	assert_int_equal(h_three_side_by_side(srv, assert_echoed, fds, DEADLINE_MS), 0);
	assert_int_equal(h_count(srv->outbuf, " connected\n"), 3);
	assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
	free(srv);
}

/* ---- a client that never reads ----------------------------------------------------------- */

static void test_a_client_that_never_reads_blocks_no_one(void **state)
{
	struct h_proc *srv = start_server();
	int other, stalled;
	const char *why;
	long long used;
	size_t pushed;

	(void)state;
	other = h_connect(srv->port, DEADLINE_MS);
	assert_true(other >= 0);
	assert_echoed(srv, other, "before\n", 1);

	/* Its echo fills our receive buffer, then the server's send buffer,
	 * then its buffer in the server: from then on the server must stop
	 * reading from it. */
	stalled = h_connect_small_buffers(srv->port, 64 * 1024, DEADLINE_MS);
	assert_true(stalled >= 0);
	pushed = h_push_pattern(stalled, PUSH_CAP, h_scaled(STALL_MS), h_scaled(4 * DEADLINE_MS),
				h_idle_read_output, srv);
	if (pushed == (size_t)-1)
		fail_msg("the pushing client's send: %s", strerror(errno));
	if (pushed >= PUSH_CAP)
		fail_msg("a client that never reads pushed %u MiB and the server took it all: "
			 "it reads on with no room to keep the echo", PUSH_CAP >> 20);

	/* While nothing can move, the server must sleep in poll(). */
	used = h_cpu_used_over(srv->pid, h_scaled(CPU_WINDOW_MS), h_idle_read_output, srv);
	assert_true(used >= 0);
	if (used * CPU_MAX_SHARE >= h_scaled(CPU_WINDOW_MS))
		fail_msg("while a client that never reads waits, the server used %lld ms of CPU "
			 "in %d ms: it spins instead of sleeping in poll()", used,
			 h_scaled(CPU_WINDOW_MS));

	/* The others are served meanwhile, at once. */
	assert_echoed(srv, other, "meanwhile\n", 1);

	/* It reads now: everything comes back, nothing lost, in order. */
	why = h_pattern_back(stalled, pushed, h_scaled(DEADLINE_MS), h_idle_read_output, srv);
	if (why != NULL)
		fail_msg("the client that did not read: %s", why);
	close(stalled);
	assert_echoed(srv, other, "after\n", 1);
	close(other);
	assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
	free(srv);
}

/* ---- the array ------------------------------------------------------------------------ */

static void test_the_array_grows(void **state)
{
	struct h_proc *srv = start_server();
	int fds[CLIENTS];

	(void)state;
	for (int i = 0; i < CLIENTS; i++) {
		char line[32];

		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		snprintf(line, sizeof(line), "client %d\n", i);
		assert_echoed(srv, fds[i], line, i + 1);
	}
	/* Two fixed slots and 60 clients: 8 -> 16 -> 32 -> 64. */
	assert_int_equal(h_wait_output(srv, "out", "slots: 8 -> 16", DEADLINE_MS), 0);
	assert_int_equal(h_wait_output(srv, "out", "slots: 16 -> 32", DEADLINE_MS), 0);
	assert_int_equal(h_wait_output(srv, "out", "slots: 32 -> 64", DEADLINE_MS), 0);
	assert_null(strstr(srv->outbuf, "64 -> 128"));
	/* Everyone is still served after the moves. */
	for (int i = 0; i < CLIENTS; i++) {
		echo(srv, fds[i], "still here\n");
		close(fds[i]);
	}
	assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
	free(srv);
}

static void test_closed_slots_are_reused(void **state)
{
	struct h_proc *srv = start_server();
	int held[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		held[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(held[i] >= 0);
		echo(srv, held[i], "staying\n");
	}
	/* One at a time, each gone (the server said so) before the next:
	 * at most 2 + 3 + 1 slots are ever in use, and 8 are there. */
	for (int i = 0; i < 50; i++) {
		int fd = h_connect(srv->port, DEADLINE_MS);

		assert_true(fd >= 0);
		echo(srv, fd, "passing\n");
		close(fd);
		assert_int_equal(h_wait_count(srv, "out", " disconnected (", i + 1, DEADLINE_MS), 0);
		if (strstr(srv->outbuf, "slots: ") != NULL)
			fail_msg("with 3 clients staying, %d more came and went one at a time, and the "
				 "array grew (\"%.*s\"): closed slots are not removed", i + 1,
				 (int)strcspn(strstr(srv->outbuf, "slots: "), "\n"),
				 strstr(srv->outbuf, "slots: "));
	}
	for (int i = 0; i < 3; i++) {
		echo(srv, held[i], "still here\n");
		close(held[i]);
	}
	assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
	free(srv);
}

static void test_no_ready_slot_is_skipped(void **state)
{
	struct h_proc *srv = start_server();
	unsigned long long reported = 0, handled = 0;
	int fds[CLIENTS];
	const char *at;

	(void)state;
	for (int i = 0; i < CLIENTS; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		echo(srv, fds[i], "hello\n");
	}
	for (int round = 0; round < 10; round++) {
		/* In one burst: every third client leaves (the last one of the
		 * array among them), the others send. */
		for (int i = 0; i < CLIENTS; i++) {
			if (i % 3 == round % 3 || i == CLIENTS - 1) {
				if (i % 2 == 0)
					reset_close(fds[i]);
				else
					close(fds[i]);
				fds[i] = -1;
			} else {
				assert_int_equal(send(fds[i], "burst\n", 6, MSG_NOSIGNAL), 6);
			}
		}
		for (int i = 0; i < CLIENTS; i++) {
			char back[8];

			if (fds[i] < 0)
				continue;
			assert_int_equal(recv_n(srv, fds[i], back, 6, DEADLINE_MS), 6);
			assert_memory_equal(back, "burst\n", 6);
		}
		/* New clients take the free places (at the end of the array). */
		for (int i = 0; i < CLIENTS; i++) {
			if (fds[i] >= 0)
				continue;
			fds[i] = h_connect(srv->port, DEADLINE_MS);
			assert_true(fds[i] >= 0);
			echo(srv, fds[i], "new\n");
		}
	}
	for (int i = 0; i < CLIENTS; i++)
		close(fds[i]);

	assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
	at = strstr(srv->outbuf, "poll reported ");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "poll reported %llu ready slots, %llu handled",
				&reported, &handled), 2);
	/* Not vacuous: every hello, burst and close above was an event. */
	assert_true(reported >= (unsigned long long)CLIENTS * 10);
	assert_int_equal(handled, reported);
	free(srv);
}

static void test_stops_on_a_signal_wherever_it_lands(void **state)
{
	const int sigs[] = { SIGTERM, SIGINT };

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct h_proc *srv = start_server();

		assert_int_equal(h_stop(srv, sigs[i % 2], DEADLINE_MS), 0);
		assert_non_null(strstr(srv->outbuf, "stopping: signal received"));
		free(srv);
	}
}

static void test_help_and_bad_options(void **state)
{
	char *const bad[][3] = {
		{ "-x", NULL, NULL },
		{ "-p", NULL, NULL },
		{ "-p", "-1", NULL },
		{ "extra", NULL, NULL },
	};
	struct h_proc p;
	char *help[] = { (char *)h_lesson(LESSON, "server"), "-h", NULL };

	(void)state;
	assert_int_equal(h_run(&p, help, NULL, 0, DEADLINE_MS), 0);
	assert_true(strncmp(p.outbuf, "usage: server ", 14) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { (char *)h_lesson(LESSON, "server"), bad[i][0], bad[i][1], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(p.errbuf, "-h' for help"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_are_served_side_by_side),
		cmocka_unit_test(test_a_client_that_never_reads_blocks_no_one),
		cmocka_unit_test(test_the_array_grows),
		cmocka_unit_test(test_closed_slots_are_reused),
		cmocka_unit_test(test_no_ready_slot_is_skipped),
		cmocka_unit_test(test_stops_on_a_signal_wherever_it_lands),
		cmocka_unit_test(test_help_and_bad_options),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
