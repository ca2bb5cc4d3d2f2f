/* test_06_threads.c — lesson 06, the thread-per-client server, beyond what
 * the shared suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - one thread per connected client: the server's thread count rises by
 *    one per client and falls back when they leave;
 *  - a line is sent back only once it is whole (its '\n' has come), and
 *    the thread counts the lines and bytes it echoed;
 *  - every connection has its own line reader: two clients whose half
 *    lines interleave each get exactly their own line back (a reader with
 *    static state would splice one client's bytes into the other's line);
 *  - a line longer than -l ends that connection, with a message naming
 *    the limit, and only that one;
 *  - SIGTERM ends every client thread before the server exits: each one
 *    sees its connection shut down and says "disconnected" before the
 *    main thread's last line, and every client reads end of file;
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
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "06-threads"
#define DEADLINE_MS 10000
#define QUIET_MS 300

/* The server of the test that is running, until the test stops it. A test
 * that fails leaves it running: the teardown kills it, before this program
 * exits and closes the pipes the server writes its lines to (a write to a
 * pipe nobody reads would kill it with SIGPIPE, and a check would report
 * that as a crash of the student's server). */
static struct h_proc *running;

static int kill_leftovers(void **state)
{
	(void)state;
	if (running != NULL) {
		if (running->status < 0)
			h_stop(running, SIGKILL, DEADLINE_MS);
		free(running);
		running = NULL;
	}
	return 0;
}

static struct h_proc *start_server(const char *opt, const char *arg)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)opt, (char *)arg, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	running = srv;
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
	running = NULL;
}

static int threads_of(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int wait_threads(struct h_proc *srv, int want)
{
	long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);

	while (threads_of(srv->pid) != want) {
		if (h_now_ms() >= deadline)
			return 0;
		h_wait_output(srv, "out", "\001never\001", 20);
	}
	return 1;
}

static int stable_threads(struct h_proc *srv)
{
	long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);
	int n = threads_of(srv->pid), same = 0;

	while (same < 3 && h_now_ms() < deadline) {
		int now;

		h_wait_output(srv, "out", "\001never\001", 50);
		now = threads_of(srv->pid);
		same = now == n ? same + 1 : 0;
		n = now;
	}
	return n;
}

static void send_text(int fd, const char *text)
{
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void echo(int fd, const char *text)
{
	char back[128];
	size_t len = strlen(text);

	send_text(fd, text);
	assert_int_equal(h_recv_n(fd, back, len, DEADLINE_MS), len);
	assert_memory_equal(back, text, len);
}

static void test_a_thread_per_client(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	int fds[5], base;

	(void)state;
	/* One client first: the thread count at rest is then known (a
	 * sanitizer runtime may keep a thread of its own). */
	{
		int fd = h_connect(srv->port, DEADLINE_MS);

		assert_true(fd >= 0);
		echo(fd, "first\n");
		close(fd);
	}
	h_wait_output(srv, "out", " disconnected (", DEADLINE_MS);
	/* Its thread printed that line just before it returned: wait until
	 * three looks, 50 ms apart, agree. */
	base = stable_threads(srv);
	for (int i = 0; i < 5; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		echo(fds[i], "here\n");
	}
	assert_true(wait_threads(srv, base + 5));
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	assert_true(wait_threads(srv, base));
	stop_server(srv);
}

static void test_a_line_comes_back_only_when_whole(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	struct pollfd pfd;
	char back[32];
	int fd;

	(void)state;
	fd = h_connect(srv->port, DEADLINE_MS);
	assert_true(fd >= 0);
	send_text(fd, "half a ");
	/* No '\n' yet: the line is not whole, nothing may come back. */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, QUIET_MS), 0);
	send_text(fd, "line\nand a second\n");
	assert_int_equal(h_recv_n(fd, back, 25, DEADLINE_MS), 25);
	assert_memory_equal(back, "half a line\nand a second\n", 25);
	close(fd);
	assert_int_equal(h_wait_output(srv, "out", "disconnected (2 lines, 25 bytes echoed)",
				       DEADLINE_MS), 0);
	stop_server(srv);
}

static void test_each_connection_has_its_own_reader(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	char a_back[32], b_back[32];
	int a, b;

	(void)state;
	a = h_connect(srv->port, DEADLINE_MS);
	b = h_connect(srv->port, DEADLINE_MS);
	assert_true(a >= 0 && b >= 0);
	/* Half lines, interleaved, each arriving while the other client's
	 * half line sits in its reader. */
	for (int round = 0; round < 20; round++) {
		send_text(a, "alpha-");
		usleep(2000);
		send_text(b, "beta-");
		usleep(2000);
		send_text(a, "one\n");
		send_text(b, "two\n");
		assert_int_equal(h_recv_n(a, a_back, 10, DEADLINE_MS), 10);
		assert_memory_equal(a_back, "alpha-one\n", 10);
		assert_int_equal(h_recv_n(b, b_back, 9, DEADLINE_MS), 9);
		assert_memory_equal(b_back, "beta-two\n", 9);
	}
	close(a);
	close(b);
	stop_server(srv);
}

static void test_a_too_long_line_ends_only_its_connection(void **state)
{
	struct h_proc *srv = start_server("-l", "16");
	char buf[64];
	int other, longer;

	(void)state;
	other = h_connect(srv->port, DEADLINE_MS);
	longer = h_connect(srv->port, DEADLINE_MS);
	assert_true(other >= 0 && longer >= 0);
	echo(other, "fits in 16\n");
	/* 40 bytes and no newline: more than the reader may hold. */
	send_text(longer, "0123456789012345678901234567890123456789");
	assert_int_equal(h_recv_n(longer, buf, sizeof(buf), DEADLINE_MS), 0); /* closed */
	assert_int_equal(h_wait_output(srv, "err", "a line longer than 16 bytes", DEADLINE_MS), 0);
	echo(other, "still here\n");
	close(longer);
	close(other);
	stop_server(srv);
}

static void test_sigterm_ends_every_client_thread_first(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	const char *last;
	int fds[3], rc;

	(void)state;
	for (int i = 0; i < 3; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		echo(fds[i], "still connected\n");
	}
	/* Three threads wait in recv() for their clients' next lines. */
	rc = h_stop(srv, SIGTERM, DEADLINE_MS);
	if (rc != 0)
		fprintf(stderr, "server exit %d; its stderr:\n%s\n", rc, srv->errbuf);
	assert_int_equal(rc, 0);
	/* Each thread said goodbye, and all of them before the main thread's
	 * last line: it waited for them. */
	last = strstr(srv->outbuf, "stopping: signal received");
	assert_non_null(last);
	assert_int_equal(h_count(srv->outbuf, " disconnected (1 line, 16 bytes echoed)"), 3);
	assert_null(strstr(last, " disconnected ("));
	for (int i = 0; i < 3; i++) {
		char c;
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
		assert_int_equal(recv(fds[i], &c, 1, 0), 0);
		close(fds[i]);
	}
	free(srv);
	running = NULL;
}

static void test_help_and_bad_options(void **state)
{
	char *const bad[][3] = {
		{ "-l", "0", NULL },
		{ "-l", "abc", NULL },
		{ "--max-line", NULL, NULL },
		{ "extra", NULL, NULL },
	};
	struct h_proc p;
	char *help[] = { (char *)h_lesson(LESSON, "server"), "--help", NULL };

	(void)state;
	assert_int_equal(h_run(&p, help, NULL, 0, DEADLINE_MS), 0);
	assert_true(strncmp(p.outbuf, "usage: server ", 14) == 0);
	assert_non_null(strstr(p.outbuf, "--max-line"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { (char *)h_lesson(LESSON, "server"), bad[i][0], bad[i][1], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(p.errbuf, "-h' for help"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_a_thread_per_client, kill_leftovers),
		cmocka_unit_test_teardown(test_a_line_comes_back_only_when_whole, kill_leftovers),
		cmocka_unit_test_teardown(test_each_connection_has_its_own_reader, kill_leftovers),
		cmocka_unit_test_teardown(test_a_too_long_line_ends_only_its_connection, kill_leftovers),
		cmocka_unit_test_teardown(test_sigterm_ends_every_client_thread_first, kill_leftovers),
		cmocka_unit_test_teardown(test_help_and_bad_options, kill_leftovers),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
