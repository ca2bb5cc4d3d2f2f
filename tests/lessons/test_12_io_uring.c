/* test_12_io_uring.c — lesson 12, the io_uring echo server and client.
 *
 * What these tests prove (the echo under load, resets, idle clients, fd
 * exhaustion and SIGTERM with clients are the concurrency suite's, with
 * the default buffer pool and with only two small buffers):
 *  - the client's linked SQEs: connect, send, shutdown complete in that
 *    order, then recv until 0; against a closed port connect fails with
 *    ECONNREFUSED and the two linked SQEs after it are canceled
 *    (ECANCELED), never run;
 *  - the server's completion loop: multishot accept adds each client,
 *    the signalfd read stops it, and its clients' connections end;
 *  - the server echoes to many clients at once, and with -vv reports each
 *    completion with the buffer the kernel picked;
 *  - the provided-buffer pool: with one buffer, held by a send to a
 *    client that does not read, another client's recv finds none
 *    (ENOBUFS) and gets no echo; when the first client reads, the buffer
 *    comes back and the waiting client is served;
 *  - io_uring unavailable: under a seccomp filter that refuses
 *    io_uring_setup with EPERM (as container runtimes do) or ENOSYS (as if
 *    the kernel had none), and with more entries than the kernel allows
 *    (EINVAL), the server says "io_uring unavailable", the reason and a
 *    hint, never "listening on", and exits 1;
 *  - SIGTERM/SIGINT right after "listening on" end it with status 0;
 *    -h, and bad options exit 2.
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
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "12-io-uring"
#define DEADLINE_MS 10000
#define QUIET_MS 500
#define PUSH_CAP (256u << 20)

struct fx {
	struct h_proc srv, cl;
	int fds[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	for (int i = 0; i < 64; i++)
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
	for (int i = 0; i < 64; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	free(f);
	return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static void start_server(struct h_proc *srv, const char *a1, const char *a2,
			 const char *a3, const char *a4, const char *a5)
{
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL };

	assert_int_equal(h_start(srv, argv), 0);
	if (h_wait_listening(srv, DEADLINE_MS) != 0)
		fail_msg("the server did not start; stderr:\n%s", srv->errbuf);
}

/* ---- the client --------------------------------------------------------------------- */

static void test_client_links_connect_send_shutdown(void **state)
{
	struct fx *f = *state;
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-v", "-p", NULL, "hello",
			 "uring", NULL };
	const char *want[] = { "CQE connect: res 0\n", "CQE send: res 12\n",
			       "CQE shutdown: res 0\n" };
	const char *at;
	int got = 0, res;

	start_server(&f->srv, NULL, NULL, NULL, NULL, NULL);
	argv[3] = f->srv.port;
	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
	assert_string_equal(f->cl.outbuf, "hello uring\n");
	/* The completions, in this order (valgrind may add its own lines). */
	at = f->cl.errbuf;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		at = strstr(at, want[i]);
		if (at == NULL)
			fail_msg("no '%.*s' in order in:\n%s", (int)strlen(want[i]) - 1, want[i],
				 f->cl.errbuf);
	}
	/* Then recv completions with the 12 bytes (one, or more when a recv
	 * completes short), and one with 0: end of file. */
	do {
		at = strstr(at, "CQE recv: res ");
		if (at == NULL || sscanf(at, "CQE recv: res %d", &res) != 1)
			fail_msg("the recv completions end before end of file (%d bytes) in:\n%s",
				 got, f->cl.errbuf);
		got += res;
		at++;
	} while (res > 0);
	assert_int_equal(got, 12);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_client_refused_cancels_the_links(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char port[H_PORTSTRLEN], want[96];
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-v", "-p", port, "x", NULL };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* Bound and not listening: a SYN to it draws a RST. */
	assert_true(fd >= 0);
	f->fds[0] = fd;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 1);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: Connection refused", port);
	assert_non_null(strstr(f->cl.errbuf, want));
	assert_non_null(strstr(f->cl.errbuf, "CQE connect: res -111 (Connection refused)"));
	assert_non_null(strstr(f->cl.errbuf, "CQE send: res -125 (Operation canceled)"));
	assert_non_null(strstr(f->cl.errbuf, "CQE shutdown: res -125 (Operation canceled)"));
	assert_null(strstr(f->cl.errbuf, "CQE recv"));
	assert_string_equal(f->cl.outbuf, "");
}

/* ---- the server ------------------------------------------------------------------------- */

/* The completion loop: accept completions add clients, the signalfd
 * read's completion stops the server, which then lets every client go. */
static void test_server_accepts_clients_and_stops(void **state)
{
	struct fx *f = *state;
	const int n = 3;

	start_server(&f->srv, "-v", NULL, NULL, NULL, NULL);
	for (int i = 0; i < n; i++) {
		f->fds[i] = h_connect(f->srv.port, DEADLINE_MS);
		assert_true(f->fds[i] >= 0);
	}
	if (h_wait_output(&f->srv, "out", ", 3 clients)", DEADLINE_MS) != 0)
		fail_msg("the server did not say \"connected (fd N, 3 clients)\"; it said:\n%s%s",
			 f->srv.outbuf, f->srv.errbuf);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
	assert_int_equal(h_count(f->srv.outbuf, "(0 bytes echoed, server stopping)"), n);
	/* The server closed them: each sees the end of its connection. */
	for (int i = 0; i < n; i++) {
		char c;

		assert_int_equal(h_recv_n(f->fds[i], &c, 1, DEADLINE_MS), 0);
	}
}

static void test_many_clients_at_once(void **state)
{
	struct fx *f = *state;
	const int n = 50;

	start_server(&f->srv, "-vv", NULL, NULL, NULL, NULL);
	for (int i = 0; i < n; i++) {
		f->fds[i] = h_connect(f->srv.port, DEADLINE_MS);
		assert_true(f->fds[i] >= 0);
	}
	for (int i = 0; i < n; i++) {
		char line[32];

		snprintf(line, sizeof(line), "client %d of %d\n", i, n);
		assert_int_equal(send(f->fds[i], line, strlen(line), 0), (ssize_t)strlen(line));
	}
	for (int i = 0; i < n; i++) {
		char line[32], back[32];
		size_t len;

		snprintf(line, sizeof(line), "client %d of %d\n", i, n);
		len = strlen(line);
		assert_int_equal(h_recv_n(f->fds[i], back, len, DEADLINE_MS), (ssize_t)len);
		assert_memory_equal(back, line, len);
	}
	assert_int_equal(h_wait_output(&f->srv, "out", ", 50 clients)", DEADLINE_MS), 0);
	assert_int_equal(h_wait_output(&f->srv, "out", "recv completed: ", DEADLINE_MS), 0);
	assert_non_null(strstr(f->srv.outbuf, " bytes in buffer "));
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_one_buffer_held_makes_others_wait(void **state)
{
	struct fx *f = *state;
	char back[8];
	size_t pushed;

	start_server(&f->srv, "--buffers", "1", "--buffer-size", "4096", "-v");
	/* Client 0 sends and never reads: its echo fills its receive buffer
	 * and our send buffer, and the send that holds the one buffer waits. */
	f->fds[0] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->fds[0] >= 0);
	pushed = h_push_until_stalled(f->fds[0], PUSH_CAP, 500);
	assert_true(pushed > 0 && pushed < PUSH_CAP);

	f->fds[1] = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->fds[1] >= 0);
	assert_int_equal(send(f->fds[1], "hi\n", 3, 0), 3);
	assert_int_equal(h_recv_n(f->fds[1], back, 3, QUIET_MS), 0);
	assert_int_equal(h_wait_output(&f->srv, "out", "recv: ENOBUFS (all 1 buffers in use)",
				       DEADLINE_MS), 0);
	/* Client 0 reads everything: the buffer comes back, client 1 is
	 * served. */
	assert_int_equal(h_drain(f->fds[0], pushed, 6 * DEADLINE_MS), pushed);
	assert_int_equal(h_recv_n(f->fds[1], back, 3, DEADLINE_MS), 3);
	assert_memory_equal(back, "hi\n", 3);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* Twenty clients, two buffers: each round every client sends a line and
 * then each must get its echo, so a client that never gets a buffer
 * shows as a round that never ends. A buffer that comes back goes to the
 * first client in line; a server that instead let every client in line
 * retry at once would retry ~20 times per message (each retry an ENOBUFS
 * line with -v), and one that put the buffer back in the ring could leave
 * a client waiting for ever. */
static void test_buffers_go_to_the_line_in_turn(void **state)
{
	enum { CLIENTS = 20, ROUNDS = 20 };
	struct fx *f = *state;
	char line[32], back[32];
	int enobufs;

	start_server(&f->srv, "--buffers", "2", "-v", NULL, NULL);
	for (int i = 0; i < CLIENTS; i++) {
		f->fds[i] = h_connect(f->srv.port, DEADLINE_MS);
		assert_true(f->fds[i] >= 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < CLIENTS; i++) {
			int n = snprintf(line, sizeof(line), "round %02d client %02d\n", r, i);

			assert_int_equal(send(f->fds[i], line, (size_t)n, 0), n);
		}
		for (int i = 0; i < CLIENTS; i++) {
			int n = snprintf(line, sizeof(line), "round %02d client %02d\n", r, i);

			if (h_recv_n(f->fds[i], back, (size_t)n, DEADLINE_MS) != n ||
			    memcmp(back, line, (size_t)n) != 0)
				fail_msg("round %d: client %d got no echo in %d ms: it waits for a "
					 "buffer that never comes", r, i, h_scaled(DEADLINE_MS));
		}
	}
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	enobufs = h_count(f->srv.outbuf, "recv: ENOBUFS");
	if (enobufs > 2 * CLIENTS * ROUNDS)
		fail_msg("%d ENOBUFS for %d messages: clients in line retry all at once "
			 "instead of taking the returned buffers in turn", enobufs,
			 CLIENTS * ROUNDS);
}

/* ---- io_uring unavailable ------------------------------------------------------------------- */

/* Run the server in a child whose io_uring_setup() fails with err: a
 * seccomp filter, as a container runtime installs one. (No architecture
 * check in the filter: the test only needs io_uring_setup, whose number
 * is the same, 425, on every architecture.) Returns the exit code; the
 * output, stdout and stderr together, goes to out. */
static int run_under_seccomp(int err, char *out, size_t size)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-p", "0", NULL };
	long long deadline = h_now_ms() + DEADLINE_MS;
	size_t got = 0;
	int pipefd[2], status;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		/* No new privileges: what lets an unprivileged process install
		 * a filter. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(120);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < size && h_now_ms() < deadline) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(pipefd[0], out + got, size - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(pipefd[0]);
	if (h_now_ms() >= deadline)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_unavailable_under_seccomp_eperm(void **state)
{
	char out[4096];

	(void)state;
	assert_int_equal(run_under_seccomp(EPERM, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "server: io_uring unavailable: io_uring_queue_init: "
				    "Operation not permitted ("));
	/* Which reason depends on the sysctl; on this machine it is 0, so
	 * the filter is named. Either way a reason follows. */
	assert_true(strstr(out, "seccomp filter") != NULL ||
		    strstr(out, "kernel.io_uring_disabled") != NULL);
	assert_null(strstr(out, "listening on"));
}

static void test_unavailable_under_seccomp_enosys(void **state)
{
	char out[4096];

	(void)state;
	assert_int_equal(run_under_seccomp(ENOSYS, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "server: io_uring unavailable: io_uring_queue_init: "
				    "Function not implemented (this kernel has no io_uring"));
	assert_null(strstr(out, "listening on"));
}

static void test_unavailable_with_too_many_entries(void **state)
{
	struct fx *f = *state;
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-p", "0", "--entries", "100000", NULL };

	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 1);
	assert_non_null(strstr(f->cl.errbuf, "server: io_uring unavailable: io_uring_queue_init: "
					     "Invalid argument (the kernel refused these parameters"));
	assert_null(strstr(f->cl.outbuf, "listening on"));
}

/* ---- stopping, command line ------------------------------------------------------------------- */

static void test_signals_right_after_listening(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 6; i++) {
		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, NULL, NULL, NULL, NULL, NULL);
		assert_int_equal(h_stop(&f->srv, i % 2 ? SIGINT : SIGTERM, DEADLINE_MS), 0);
		assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
	}
}

static void test_help_and_bad_options(void **state)
{
	struct fx *f = *state;
	const char *progs[] = { "server", "client" };
	char *const bad[][4] = {
		{ "server", "--buffers", "3", NULL },
		{ "server", "--buffers", "65536", NULL },
		{ "server", "--buffer-size", "8", NULL },
		{ "server", "--entries", "0", NULL },
		{ "server", "-x", NULL, NULL },
		{ "client", "-p", "80", NULL },         /* no words */
		{ "client", "-p", "0", "x" },
		{ "client", "x", NULL, NULL },          /* no -p */
	};
	const char *why = h_check_usage(&f->cl, LESSON, progs, sizeof(progs) / sizeof(progs[0]),
					bad, sizeof(bad) / sizeof(bad[0]), DEADLINE_MS);

	if (why != NULL)
		fail_msg("%s", why);
	{
		char *argv[] = { (char *)h_lesson(LESSON, "server"), "--buffers", "3", NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(f->cl.errbuf, "expected a power of two"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_links_connect_send_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_refused_cancels_the_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_accepts_clients_and_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_clients_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_buffer_held_makes_others_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffers_go_to_the_line_in_turn, setup, teardown),
		cmocka_unit_test(test_unavailable_under_seccomp_eperm),
		cmocka_unit_test(test_unavailable_under_seccomp_enosys),
		cmocka_unit_test_setup_teardown(test_unavailable_with_too_many_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals_right_after_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_bad_options, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
