/* test_08_select.c — lesson 08, the select() server, beyond what the shared
 * suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - one thread serves several clients side by side: three connected at
 *    once are each echoed, in any order, while the others stay connected;
 *  - a client that sends and never reads is held to its one buffer: the
 *    server stops reading from it (it cannot push 64 MiB), does not spin
 *    while it waits, serves the others meanwhile, and gives that client
 *    every byte back, in order, once it reads;
 *  - FD_SETSIZE is enforced for real: with the server allowed more than
 *    FD_SETSIZE descriptors and more than FD_SETSIZE clients connected,
 *    every client whose fd fits is served, each one that does not is
 *    refused (the server says so and closes it) — never put in an fd_set —
 *    and the server goes on serving;
 *  - --max-fd N moves that limit: exactly the clients whose fd is below N
 *    are served, and a refused client's place is taken by the next;
 *  - out of descriptors, each client waiting in the backlog is turned
 *    away (accepted into the spare descriptor and closed at once), the
 *    server does not spin, and once a client leaves the next is served;
 *  - SIGTERM or SIGINT the moment it listens, wherever it lands, ends the
 *    server with exit 0 (the handler's shutdown() of the listener leaves
 *    no gap for a lost signal);
 *  - the command line: -h exits 0, bad options exit 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "08-select"
#define DEADLINE_MS 10000
#define NEVER "\001never\001"
#define PUSH_CAP (64u << 20) /* a server that reads without limit takes it all */
#define STALL_MS 500         /* the pusher stops after this long stuck */
#define CPU_WINDOW_MS 500    /* the server's CPU time over this window... */
#define CPU_MAX_SHARE 5      /* ...must stay under 1/5 of it: no spinning */

static struct h_proc *start_server(const char *opt, const char *arg)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)opt, (char *)arg, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	return srv;
}

static void stop_server(struct h_proc *srv)
{
	int rc = h_stop(srv, SIGTERM, DEADLINE_MS);

	if (rc != 0)
		fprintf(stderr, "server exit %d; its stderr:\n%s\n", rc, srv->errbuf);
	assert_int_equal(rc, 0);
	free(srv);
}

/* How many descriptor numbers below limit the server has free: how many
 * clients it can take before an accepted fd reaches the limit. (Not simply
 * limit minus the lowest free one: whoever started the test may have left
 * descriptors open that the server inherited, anywhere in the range.) */
static int free_below(pid_t pid, int limit)
{
	static unsigned char used[4096];
	char path[64];
	DIR *d;
	struct dirent *e;
	int fd = 0;

	memset(used, 0, sizeof(used));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		int n = atoi(e->d_name);

		if (e->d_name[0] != '.' && n >= 0 && n < (int)sizeof(used))
			used[n] = 1;
	}
	closedir(d);
	assert_true(limit <= (int)sizeof(used));
	for (int i = 0; i < limit; i++)
		fd += !used[i];
	return fd;
}

/* Poll, reading the server's output meanwhile, until fd is readable. */
static int wait_readable(struct h_proc *srv, int fd, int ms)
{
	long long deadline = h_now_ms() + h_scaled(ms);

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 20) > 0)
			return 1;
		if (h_now_ms() >= deadline)
			return 0;
		h_wait_output(srv, "out", "\001never\001", 1);
	}
}

/* Send a line; 1 if it came back, 0 if the server closed the connection
 * without a byte (refused). Fails the test on anything else. */
static int served(struct h_proc *srv, int fd, const char *text)
{
	char back[64];
	size_t len = strlen(text), got = 0;

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	while (got < len) {
		ssize_t n;

		assert_true(wait_readable(srv, fd, DEADLINE_MS));
		n = recv(fd, back + got, len - got, 0);
		if (n <= 0) {
			/* End of file (or a reset: our bytes reached a closed
			 * socket) before any echo: refused. */
			assert_int_equal(got, 0);
			return 0;
		}
		got += (size_t)n;
	}
	assert_memory_equal(back, text, len);
	return 1;
}

/* ---- several clients, one thread ---------------------------------------------------- */

/* served(), for a client that must be served: says which one was not,
 * and what the server said on stderr. */
static void assert_echoed(struct h_proc *srv, int fd, const char *text, int client)
{
	char err[512];

	if (served(srv, fd, text))
		return;
	h_wait_output(srv, "err", NEVER, 100);
	fail_msg("client %d sent \"%.*s\" and got no echo: the server closed its connection; "
		 "its stderr: %s", client, (int)strcspn(text, "\n"), text,
		 h_own_stderr(srv, err, sizeof(err)));
}

static void test_clients_are_served_side_by_side(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	int fds[3];

	(void)state;
	assert_int_equal(h_three_side_by_side(srv, assert_echoed, fds, DEADLINE_MS), 0);
	assert_int_equal(h_count(srv->outbuf, " connected\n"), 3);
	stop_server(srv);
}

/* ---- a client that never reads ----------------------------------------------------------- */

/* While nothing can move, the server must sleep: its CPU time over
 * CPU_WINDOW_MS (its output read meanwhile) stays low. */
static void assert_not_spinning(struct h_proc *srv, const char *what)
{
	long long used = h_cpu_used_over(srv->pid, h_scaled(CPU_WINDOW_MS), h_idle_read_output, srv);

	assert_true(used >= 0);
	if (used * CPU_MAX_SHARE >= h_scaled(CPU_WINDOW_MS))
		fail_msg("%s, the server used %lld ms of CPU in %d ms: it spins instead of "
			 "sleeping in select()", what, used, h_scaled(CPU_WINDOW_MS));
}

static void test_a_client_that_never_reads_blocks_no_one(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	int other, stalled;
	const char *why;
	size_t pushed;

	(void)state;
	other = h_connect(srv->port, DEADLINE_MS);
	assert_true(other >= 0);
	assert_int_equal(served(srv, other, "before\n"), 1);

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
	assert_not_spinning(srv, "while a client that never reads waits");

	/* The others are served meanwhile, at once. */
	assert_int_equal(served(srv, other, "meanwhile\n"), 1);

	/* It reads now: everything comes back, nothing lost, in order. */
	why = h_pattern_back(stalled, pushed, h_scaled(DEADLINE_MS), h_idle_read_output, srv);
	if (why != NULL)
		fail_msg("the client that did not read: %s", why);
	close(stalled);
	assert_int_equal(served(srv, other, "after\n"), 1);
	close(other);
	stop_server(srv);
}

/* ---- FD_SETSIZE ------------------------------------------------------------------------ */

static void test_max_fd_refuses_exactly_the_fds_beyond(void **state)
{
	struct h_proc *srv = start_server("--max-fd", "12");
	int room = free_below(srv->pid, 12), fds[16], n_served = 0, again;
	char want[96];

	(void)state;
	assert_true(room > 0);
	/* One at a time, so the server's fds are handed out in order. */
	for (int i = 0; i < 16; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		if (served(srv, fds[i], "hello\n")) {
			assert_int_equal(n_served, i); /* all served ones come first */
			n_served++;
		} else {
			close(fds[i]); /* refused: its fd is free again */
			fds[i] = -1;
		}
	}
	assert_int_equal(n_served, room);
	snprintf(want, sizeof(want), "its fd 12 is not below 12 (FD_SETSIZE is %d)", FD_SETSIZE);
	assert_int_equal(h_wait_output(srv, "out", want, DEADLINE_MS), 0);

	/* A served client leaves: the next one takes its fd and is served. */
	close(fds[0]);
	h_wait_output(srv, "out", "\001never\001", 100);
	again = h_connect(srv->port, DEADLINE_MS);
	assert_true(again >= 0);
	for (long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);
	     !served(srv, again, "again\n");) {
		/* The server may see the new client before the old one's end
		 * of file: then it was refused; try once the fd is free. */
		close(again);
		assert_true(h_now_ms() < deadline);
		h_wait_output(srv, "out", "\001never\001", 50);
		again = h_connect(srv->port, DEADLINE_MS);
		assert_true(again >= 0);
	}
	close(again);
	for (int i = 1; i < 16; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	stop_server(srv);
}

static void test_fd_setsize_is_enforced(void **state)
{
	int extra = 8, total, n_served = 0, n_refused = 0, *fds;
	struct rlimit mine, theirs;
	struct h_proc *srv;
	char want[96];

	(void)state;
	/* Room above FD_SETSIZE, for the server and for us. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
	if (mine.rlim_max < FD_SETSIZE + 256) {
		print_message("the hard fd limit (%ld) is too low to pass FD_SETSIZE\n",
			      (long)mine.rlim_max);
		skip();
	}
	if (mine.rlim_cur < FD_SETSIZE + 256) {
		mine.rlim_cur = FD_SETSIZE + 256;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &mine), 0);
	}
	srv = start_server(NULL, NULL);
	theirs.rlim_cur = FD_SETSIZE + 128;
	theirs.rlim_max = mine.rlim_max;
	assert_int_equal(prlimit(srv->pid, RLIMIT_NOFILE, &theirs, NULL), 0);

	total = free_below(srv->pid, FD_SETSIZE) + extra;
	fds = calloc((size_t)total, sizeof(*fds));
	assert_non_null(fds);
	for (int i = 0; i < total; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		if (i % 64 == 0)
			h_wait_output(srv, "out", "\001never\001", 1);
	}
	/* Every one gets an answer: its echo, or a refusal. */
	for (int i = 0; i < total; i++) {
		if (served(srv, fds[i], "x\n"))
			n_served++;
		else
			n_refused++;
	}
	assert_int_equal(n_refused, extra);
	assert_int_equal(n_served, total - extra);
	snprintf(want, sizeof(want), "its fd %d is not below %d", FD_SETSIZE, FD_SETSIZE);
	assert_int_equal(h_wait_output(srv, "out", want, DEADLINE_MS), 0);
	for (int i = 0; i < total; i++)
		close(fds[i]);
	free(fds);
	stop_server(srv);
}

/* ---- out of descriptors -------------------------------------------------------------------- */

static void test_out_of_descriptors_turns_clients_away(void **state)
{
	struct h_proc *srv;
	struct rlimit low;
	int fds[5], again, limit;
	char byte;

	(void)state;
	if (h_under_valgrind())
		skip(); /* valgrind keeps descriptors of its own below the limit */
	srv = start_server(NULL, NULL);
	/* Room for exactly two clients. */
	limit = h_fd_limit_leaving(srv->pid, 2);
	assert_true(limit > 0);
	low.rlim_cur = low.rlim_max = (rlim_t)limit;
	assert_int_equal(prlimit(srv->pid, RLIMIT_NOFILE, &low, NULL), 0);
	for (int i = 0; i < 2; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		assert_int_equal(served(srv, fds[i], "kept\n"), 1);
	}
	/* Three more: accept() fails with EMFILE for each, and each must be
	 * turned away, not left in the backlog with the listener readable. */
	for (int i = 2; i < 5; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
	}
	assert_not_spinning(srv, "out of descriptors, with clients waiting");
	for (int i = 2; i < 5; i++) {
		ssize_t n;

		if (!wait_readable(srv, fds[i], DEADLINE_MS))
			fail_msg("out of descriptors, waiting client %d was neither served nor "
				 "turned away", i - 1);
		n = recv(fds[i], &byte, 1, 0);
		assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
		close(fds[i]);
	}
	assert_int_equal(h_wait_count(srv, "out", "out of descriptors: turned a client away", 3,
				      DEADLINE_MS), 0);
	/* The two it kept are still served. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(served(srv, fds[i], "still kept\n"), 1);
	/* One leaves: its number is free, and the next client gets it. */
	close(fds[0]);
	assert_int_equal(h_wait_count(srv, "out", " disconnected (", 1, DEADLINE_MS), 0);
	again = h_connect(srv->port, DEADLINE_MS);
	assert_true(again >= 0);
	assert_int_equal(served(srv, again, "in its place\n"), 1);
	close(again);
	close(fds[1]);
	stop_server(srv);
}

/* The signal is sent the moment the server has said "listening on", so it
 * lands anywhere in the loop; a signal that slipped in between the flag
 * test and the wait would leave the server waiting (the deadline fails). */
static void test_stops_on_a_signal_wherever_it_lands(void **state)
{
	const int sigs[] = { SIGTERM, SIGINT };

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct h_proc *srv = start_server(NULL, NULL);

		assert_int_equal(h_stop(srv, sigs[i % 2], DEADLINE_MS), 0);
		assert_non_null(strstr(srv->outbuf, "stopping: signal received"));
		free(srv);
	}
}

static void test_help_and_bad_options(void **state)
{
	char *const bad[][3] = {
		{ "--max-fd", "0", NULL },
		{ "--max-fd", "99999", NULL },
		{ "--max-fd", "ten", NULL },
		{ "-x", NULL, NULL },
	};
	struct h_proc p;
	char *help[] = { (char *)h_lesson(LESSON, "server"), "-h", NULL };

	(void)state;
	assert_int_equal(h_run(&p, help, NULL, 0, DEADLINE_MS), 0);
	assert_true(strncmp(p.outbuf, "usage: server ", 14) == 0);
	assert_non_null(strstr(p.outbuf, "--max-fd"));
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
		cmocka_unit_test(test_max_fd_refuses_exactly_the_fds_beyond),
		cmocka_unit_test(test_fd_setsize_is_enforced),
		cmocka_unit_test(test_out_of_descriptors_turns_clients_away),
		cmocka_unit_test(test_stops_on_a_signal_wherever_it_lands),
		cmocka_unit_test(test_help_and_bad_options),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
