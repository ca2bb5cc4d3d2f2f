/* test_07_thread_pool.c — lesson 07, the thread pool, beyond what the
 * shared suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - the threads are made once: -w N gives N workers plus the main and
 *    the signal thread from the start, and that number never changes
 *    however many clients come and go;
 *  - back-pressure: with every worker busy and the queue full, the server
 *    stops calling accept(), says so, and further clients wait in the
 *    kernel's accept queue (the listener's Recv-Q in /proc/net/tcp grows);
 *    when a worker is free again, they are accepted and served in order;
 *  - SIGTERM stops every thread, busy or waiting: each worker finishes
 *    its client (it says "disconnected") before the server's last line,
 *    connections still queued are closed unserved, and every client reads
 *    end of file;
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

#define LESSON "07-thread-pool"
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

static struct h_proc *start_server(const char *workers, const char *queue)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 "-w", (char *)workers, "-q", (char *)queue, NULL };

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

/* Connections waiting in the accept queue of the listener on port: for a
 * socket in LISTEN (state 0A), /proc/net/tcp's rx_queue is that count. */
static int accept_queue(const char *port)
{
	char line[512];
	unsigned want = (unsigned)atoi(port);
	int n = -1;
	FILE *f = fopen("/proc/net/tcp", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lport, st, tx, rx;

		if (sscanf(line, " %*d: %*8X:%X %*8X:%*X %X %X:%X", &lport, &st, &tx, &rx) == 4 &&
		    lport == want && st == 0x0A)
			n = (int)rx;
	}
	fclose(f);
	return n;
}

static int wait_accept_queue(struct h_proc *srv, int want)
{
	long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);

	while (accept_queue(srv->port) != want) {
		if (h_now_ms() >= deadline) {
			fprintf(stderr, "accept queue %d, wanted %d\n", accept_queue(srv->port), want);
			return 0;
		}
		h_wait_output(srv, "out", "\001never\001", 20);
	}
	return 1;
}

static void echo(int fd, const char *text)
{
	char back[128];
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(h_recv_n(fd, back, len, DEADLINE_MS), len);
	assert_memory_equal(back, text, len);
}

static void test_threads_are_made_once(void **state)
{
	struct h_proc *srv = start_server("3", "4");
	int before;

	(void)state;
	before = threads_of(srv->pid);
	/* Three workers, the main thread, the signal thread: at least five
	 * (a sanitizer runtime may add one of its own). */
	assert_true(before >= 5);
	for (int i = 0; i < 20; i++) {
		int fd = h_connect(srv->port, DEADLINE_MS);

		assert_true(fd >= 0);
		echo(fd, "pooled\n");
		assert_int_equal(threads_of(srv->pid), before);
		close(fd);
	}
	assert_int_equal(threads_of(srv->pid), before);
	stop_server(srv);
}

static void test_full_queue_stops_accepting(void **state)
{
	struct h_proc *srv = start_server("1", "1");
	char buf[16];
	int busy, queued, waiting[2];

	(void)state;
	/* The one worker is busy with this client... */
	busy = h_connect(srv->port, DEADLINE_MS);
	assert_true(busy >= 0);
	echo(busy, "busy\n");
	/* ...this one fills the queue of one... */
	queued = h_connect(srv->port, DEADLINE_MS);
	assert_true(queued >= 0);
	assert_int_equal(h_wait_output(srv, "out", "queue full", DEADLINE_MS), 0);
	assert_true(wait_accept_queue(srv, 0));
	/* ...so nobody accepts these two: the kernel holds them. */
	for (int i = 0; i < 2; i++) {
		waiting[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(waiting[i] >= 0);
		assert_int_equal(send(waiting[i], "waiting\n", 8, MSG_NOSIGNAL), 8);
	}
	assert_true(wait_accept_queue(srv, 2));
	{
		struct pollfd pfd = { .fd = waiting[0], .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, QUIET_MS), 0); /* not served */
	}

	/* The worker is free: the queued client is served, and the acceptor
	 * takes one more from the kernel's queue into ours. */
	close(busy);
	echo(queued, "my turn\n");
	assert_true(wait_accept_queue(srv, 1));
	close(queued);
	assert_int_equal(h_recv_n(waiting[0], buf, 8, DEADLINE_MS), 8);
	assert_memory_equal(buf, "waiting\n", 8);
	assert_true(wait_accept_queue(srv, 0));
	close(waiting[0]);
	assert_int_equal(h_recv_n(waiting[1], buf, 8, DEADLINE_MS), 8);
	close(waiting[1]);
	stop_server(srv);
}

static void test_sigterm_stops_busy_and_idle_threads(void **state)
{
	struct h_proc *srv = start_server("2", "2");
	const char *last;
	int fds[3], rc;

	(void)state;
	/* Both workers busy with a client each... */
	for (int i = 0; i < 2; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		echo(fds[i], "busy\n");
	}
	/* ...and a third client accepted into the queue (it sends nothing:
	 * closed with unread bytes, its socket would reset, not end). */
	fds[2] = h_connect(srv->port, DEADLINE_MS);
	assert_true(fds[2] >= 0);
	assert_int_equal(h_wait_count(srv, "out", " in the queue", 3, DEADLINE_MS), 0);

	rc = h_stop(srv, SIGTERM, DEADLINE_MS);
	if (rc != 0)
		fprintf(stderr, "server exit %d; its stderr:\n%s\n", rc, srv->errbuf);
	assert_int_equal(rc, 0);
	/* Each worker left its client's recv() and said so, before the main
	 * thread's last line: it joined them. */
	last = strstr(srv->outbuf, "stopping: signal received");
	assert_non_null(last);
	assert_int_equal(h_count(srv->outbuf, " disconnected (5 bytes echoed)"), 2);
	assert_null(strstr(last, " disconnected ("));
	for (int i = 0; i < 3; i++) {
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
		char c;

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
		{ "-w", "0", NULL },
		{ "-q", "0", NULL },
		{ "-w", "many", NULL },
		{ "-q", NULL, NULL },
		{ "extra", NULL, NULL },
	};
	struct h_proc p;
	char *help[] = { (char *)h_lesson(LESSON, "server"), "-h", NULL };

	(void)state;
	assert_int_equal(h_run(&p, help, NULL, 0, DEADLINE_MS), 0);
	assert_true(strncmp(p.outbuf, "usage: server ", 14) == 0);
	assert_non_null(strstr(p.outbuf, "--workers"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { (char *)h_lesson(LESSON, "server"), bad[i][0], bad[i][1], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(p.errbuf, "-h' for help"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_threads_are_made_once, kill_leftovers),
		cmocka_unit_test_teardown(test_full_queue_stops_accepting, kill_leftovers),
		cmocka_unit_test_teardown(test_sigterm_stops_busy_and_idle_threads, kill_leftovers),
		cmocka_unit_test_teardown(test_help_and_bad_options, kill_leftovers),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
