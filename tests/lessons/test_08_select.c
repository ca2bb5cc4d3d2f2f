/* test_08_select.c — lesson 08, the select() server, beyond what the shared
 * suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - FD_SETSIZE is enforced for real: with the server allowed more than
 *    FD_SETSIZE descriptors and more than FD_SETSIZE clients connected,
 *    every client whose fd fits is served, each one that does not is
 *    refused (the server says so and closes it) — never put in an fd_set —
 *    and the server goes on serving;
 *  - --max-fd N moves that limit: exactly the clients whose fd is below N
 *    are served, and a refused client's place is taken by the next;
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

static void test_max_fd_refuses_exactly_the_fds_beyond(void **state)
{
	struct h_proc *srv = start_server("--max-fd", "12");
	int room = free_below(srv->pid, 12), fds[16], n_served = 0, again;
	char want[96];

	(void)state;
	assert_true(room > 0);
	/* One at a time, so the server's fds are handed out in order. */
	for (int i = 0; i < 16; i++) {
		fds[i] = h_connect(srv->port, h_scaled(DEADLINE_MS));
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
	again = h_connect(srv->port, h_scaled(DEADLINE_MS));
	assert_true(again >= 0);
	for (long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);
	     !served(srv, again, "again\n");) {
		/* The server may see the new client before the old one's end
		 * of file: then it was refused; try once the fd is free. */
		close(again);
		assert_true(h_now_ms() < deadline);
		h_wait_output(srv, "out", "\001never\001", 50);
		again = h_connect(srv->port, h_scaled(DEADLINE_MS));
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
		fds[i] = h_connect(srv->port, h_scaled(DEADLINE_MS));
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
		cmocka_unit_test(test_max_fd_refuses_exactly_the_fds_beyond),
		cmocka_unit_test(test_fd_setsize_is_enforced),
		cmocka_unit_test(test_stops_on_a_signal_wherever_it_lands),
		cmocka_unit_test(test_help_and_bad_options),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
