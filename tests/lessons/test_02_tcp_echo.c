/* test_02_tcp_echo.c — lesson 02, the iterative TCP echo server and its
 * client, run as real processes over loopback.
 *
 * What these tests prove:
 *  - the server echoes exactly what it gets, to our client, to nc and to
 *    Python's socket module (1 MiB of binary data, byte for byte);
 *  - it serves client after client (50 in a row);
 *  - it is iterative: while one client is connected, a second one's
 *    connect() succeeds (the backlog) but its data is not echoed until the
 *    first leaves;
 *  - the command line: bad ports exit 2 naming the port, -h exits 0;
 *  - the client exits 1 with "connect ADDR:PORT: Connection refused";
 *  - the server exits 0 on SIGTERM/SIGINT and by itself after -n N.
 * Every server is started on port 0 and 127.0.0.1, and every wait has a
 * deadline. Under SOCKLAB_VALGRIND=1 a leak or an fd left open at exit
 * turns an expected exit code into 99, failing the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "harness.h"

#define LESSON "02-tcp-echo"
#define DEADLINE_MS 10000   /* for anything that should take milliseconds */
#define QUIET_MS 300        /* "no reply within a short poll" */
#define BIG (1024 * 1024)   /* 1 MiB */

/* ---- fixtures ------------------------------------------------------------ */

/* Start "server -b 127.0.0.1 -p 0 [extra...]" and read its port. */
static struct h_proc *start_server(const char *extra1, const char *extra2)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1",
			 "-p", "0", (char *)extra1, (char *)extra2, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	/* It bound what we asked for, and the kernel picked a real port. */
	assert_true(strncmp(srv->addr, "127.0.0.1:", 10) == 0);
	assert_true(atoi(srv->port) > 0);
	return srv;
}

static int setup_server(void **state)
{
	*state = start_server(NULL, NULL);
	return 0;
}

/* Every test that started a server ends by asking it to stop: it must
 * exit 0 (and, under valgrind, leak- and fd-clean), or the test fails. */
static int teardown_server(void **state)
{
	struct h_proc *srv = *state;
	int rc = h_stop(srv, SIGTERM, DEADLINE_MS);

	if (rc != 0)
		fprintf(stderr, "server exit %d; its stderr:\n%s\n", rc, srv->errbuf);
	free(srv);
	return rc == 0 ? 0 : -1;
}

/* ---- helpers --------------------------------------------------------------- */

/* Run our client with the given words (or stdin input when words is NULL)
 * against port. Returns its exit code; output stays in p. */
static int run_client(struct h_proc *p, const char *port, const char *word1,
		      const char *word2)
{
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", (char *)port,
			 (char *)word1, (char *)word2, NULL };

	return h_run(p, argv, NULL, 0, DEADLINE_MS);
}

/* Append what the program wrote to stderr to p->errbuf (cut when full). */
static void read_stderr(struct h_proc *p)
{
	char scratch[4096];
	ssize_t n = read(p->err, scratch, sizeof(scratch));
	size_t room = sizeof(p->errbuf) - 1 - p->errlen;

	if (n <= 0) {
		close(p->err);
		p->err = -1;
		return;
	}
	if ((size_t)n > room)
		n = (ssize_t)room;
	memcpy(p->errbuf + p->errlen, scratch, (size_t)n);
	p->errlen += (size_t)n;
	p->errbuf[p->errlen] = '\0';
}

/* Write all of in to the program's stdin while reading its stdout into
 * out, both at once, so neither pipe can fill up and stall the other;
 * close its stdin after the last byte. Returns the number of bytes read
 * before its stdout closed (cap when there was more), or -1 on a
 * deadline or an error. */
static ssize_t pipe_through(struct h_proc *p, const void *in, size_t inlen,
			    void *out, size_t cap, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	const unsigned char *src = in;
	unsigned char *dst = out;
	size_t sent = 0, got = 0;

	if (fcntl(p->in, F_SETFL, fcntl(p->in, F_GETFL) | O_NONBLOCK) < 0)
		return -1;
	if (inlen == 0)
		h_feed(p, NULL, 0);
	while (p->out >= 0 && got < cap) {
		struct pollfd pfd[3] = {
			{ .fd = p->in, .events = POLLOUT },
			{ .fd = p->out, .events = POLLIN },
			{ .fd = p->err, .events = POLLIN },
		};
		long long left = deadline - h_now_ms();

		if (left <= 0 || poll(pfd, 3, (int)left) < 0)
			return -1;
		if (p->in < 0)
			pfd[0].fd = -1;
		if (pfd[0].revents != 0) {
			ssize_t n = write(p->in, src + sent, inlen - sent);

			/* The program stopped reading (it failed): keep what it
			 * wrote, for the test to say what came back. */
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				h_feed(p, NULL, 0);
			if (n > 0)
				sent += (size_t)n;
			if (sent == inlen)
				h_feed(p, NULL, 0); /* EOF on the program's stdin */
		}
		if (pfd[1].revents != 0) {
			ssize_t n = read(p->out, dst + got, cap - got);

			if (n < 0 && errno != EINTR)
				return -1;
			if (n == 0) {
				close(p->out);
				p->out = -1;
			}
			if (n > 0)
				got += (size_t)n;
		}
		if (pfd[2].revents != 0)
			read_stderr(p);
	}
	return (ssize_t)got;
}

/* Send 1 MiB of random bytes through a program's stdin and check that the
 * same bytes come out of its stdout and that it exits 0. by_hand: the
 * same with a shell command (see h_repro), reading in.bin. */
static void check_big_round_trip(struct h_proc *srv, char *const argv[], unsigned seed,
				 const char *by_hand)
{
	struct h_proc p;
	unsigned char *in = malloc(BIG), *out = malloc(BIG + 1);
	char repro[512];
	ssize_t got;

	assert_non_null(in);
	assert_non_null(out);
	snprintf(repro, sizeof(repro), "head -c 1048576 /dev/urandom > in.bin; %s "
		 "| cmp - in.bin && echo same", by_hand);
	h_repro(srv, repro);
	h_random_bytes(in, BIG, seed);
	assert_int_equal(h_start(&p, argv), 0);
	got = pipe_through(&p, in, BIG, out, BIG + 1, 3 * DEADLINE_MS);
	/* BIG + 1 would mean extra bytes. */
	H_ASSERT_SAME_BYTES(in, BIG, out, got < 0 ? 0 : (size_t)got);
	assert_int_equal(h_wait_exit(&p, DEADLINE_MS), 0);
	free(in);
	free(out);
}

/* ---- echo ------------------------------------------------------------------ */

static void test_client_echoes_words(void **state)
{
	struct h_proc *srv = *state;
	struct h_proc cl;
	char errs[sizeof(cl.errbuf)];

	assert_int_equal(run_client(&cl, srv->port, "hello", "world"), 0);
	/* The words joined by a space, a newline at the end, nothing more. */
	assert_string_equal(cl.outbuf, "hello world\n");
	assert_string_equal(h_own_stderr(&cl, errs, sizeof(errs)), "");
	assert_int_equal(h_wait_count(srv, "out", " disconnected (12 bytes echoed)", 1,
				      DEADLINE_MS), 0);
	assert_int_equal(h_count(srv->outbuf, "client 127.0.0.1:"), 2);
	assert_int_equal(h_count(srv->outbuf, " connected\n"), 1);
}

static void test_client_round_trips_1mib_binary(void **state)
{
	struct h_proc *srv = *state;
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", srv->port, NULL };
	char by_hand[600];

	snprintf(by_hand, sizeof(by_hand), "%s -p PORT < in.bin", argv[0]);
	check_big_round_trip(srv, argv, 1, by_hand);
	assert_int_equal(h_wait_count(srv, "out", " disconnected (1048576 bytes echoed)", 1,
				      DEADLINE_MS), 0);
}

static void test_nc_round_trips_1mib_binary(void **state)
{
	struct h_proc *srv = *state;
	/* -N: shut down the sending side at EOF on stdin, as our client does. */
	char *argv[] = { "nc", "-N", "127.0.0.1", srv->port, NULL };

	if (!h_have("nc"))
		skip();
	check_big_round_trip(srv, argv, 2, "nc -N 127.0.0.1 PORT < in.bin");
}

static void test_python_round_trips_1mib_binary(void **state)
{
	struct h_proc *srv = *state;
	char *argv[] = { "python3", "-c",
		"import socket, sys\n"
		"data = sys.stdin.buffer.read()\n"
		"s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=60)\n"
		"s.sendall(data)\n"
		"s.shutdown(socket.SHUT_WR)\n"
		"while True:\n"
		"    chunk = s.recv(65536)\n"
		"    if not chunk:\n"
		"        break\n"
		"    sys.stdout.buffer.write(chunk)\n"
		"s.close()\n",
		srv->port, NULL };

	if (!h_have("python3"))
		skip();
	check_big_round_trip(srv, argv, 3, "python3 -c 'import socket, sys; "
			     "s = socket.create_connection((\"127.0.0.1\", PORT)); "
			     "s.sendall(sys.stdin.buffer.read()); s.shutdown(1); "
			     "[sys.stdout.buffer.write(b) for b in iter(lambda: s.recv(65536), b\"\")]' "
			     "< in.bin");
}

static void test_fifty_clients_in_a_row(void **state)
{
	struct h_proc *srv = *state;

	for (int i = 0; i < 50; i++) {
		struct h_proc cl;
		char word[32], want[40];

		snprintf(word, sizeof(word), "client-%d", i);
		snprintf(want, sizeof(want), "%s\n", word);
		assert_int_equal(run_client(&cl, srv->port, word, NULL), 0);
		assert_string_equal(cl.outbuf, want);
	}
	assert_int_equal(h_wait_count(srv, "out", " disconnected (", 50, DEADLINE_MS), 0);
	assert_int_equal(h_count(srv->outbuf, " connected\n"), 50);
}

/* ---- the iterative server's limit -------------------------------------------- */

static void test_second_client_waits_for_the_first(void **state)
{
	struct h_proc *srv = *state;
	struct pollfd pfd;
	char buf[64] = "";
	int first, second;

	first = h_connect(srv->port, DEADLINE_MS);
	assert_true(first >= 0);
	assert_int_equal(h_wait_count(srv, "out", " connected\n", 1, DEADLINE_MS), 0);

	/* The kernel completes the second handshake by itself (the backlog),
	 * so connect() and send() succeed while the server is busy... */
	second = h_connect(srv->port, DEADLINE_MS);
	assert_true(second >= 0);
	assert_int_equal(send(second, "second\n", 7, 0), 7);
	/* ...but no echo comes back within a short poll, */
	pfd = (struct pollfd){ .fd = second, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, QUIET_MS), 0);
	/* the server has seen only one client, */
	h_wait_output(srv, "out", "\n\n\n", 50);
	assert_int_equal(h_count(srv->outbuf, " connected\n"), 1);
	/* and it is busy with the first, which it still serves. */
	assert_int_equal(send(first, "first\n", 6, 0), 6);
	assert_int_equal(h_recv_n(first, buf, 6, DEADLINE_MS), 6);
	assert_memory_equal(buf, "first\n", 6);

	/* Once the first client leaves, the second one's data is echoed. */
	close(first);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(h_recv_n(second, buf, 7, DEADLINE_MS), 7);
	assert_memory_equal(buf, "second\n", 7);
	assert_int_equal(shutdown(second, SHUT_WR), 0);
	assert_int_equal(recv(second, buf, sizeof(buf), 0), 0); /* the server's EOF */
	close(second);
	assert_int_equal(h_wait_count(srv, "out", " disconnected (", 2, DEADLINE_MS), 0);
}

/* ---- command line -------------------------------------------------------------- */

static void test_bad_port_exits_2_naming_it(void **state)
{
	const char *progs[] = { "server", "client" };
	const char *ports[] = { "70000", "abc", "-1", "" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		for (size_t j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
			struct h_proc p;
			char *argv[] = { (char *)h_lesson(LESSON, progs[i]), "-p",
					 (char *)ports[j], NULL };
			char named[32];

			snprintf(named, sizeof(named), "bad port '%s'", ports[j]);
			assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
			assert_non_null(strstr(p.errbuf, named));
			assert_string_equal(p.outbuf, "");
		}
	}
}

static void test_other_usage_errors_exit_2(void **state)
{
	char *const cases[][4] = {
		{ "server", "-x", NULL, NULL },          /* unknown option */
		{ "server", "-n", "abc", NULL },         /* bad client count */
		{ "server", "extra", NULL, NULL },       /* stray argument */
		{ "client", "hello", NULL, NULL },       /* no -p */
		{ "client", "-p", "0", NULL },           /* no port 0 to call */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_proc p;
		char *argv[] = { (char *)h_lesson(LESSON, cases[i][0]), cases[i][1],
				 cases[i][2], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(p.errbuf, "-h' for help"));
	}
}

static void test_help_exits_0_with_usage(void **state)
{
	const char *progs[] = { "server", "client" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct h_proc p;
		char errs[sizeof(p.errbuf)];
		char *argv[] = { (char *)h_lesson(LESSON, progs[i]), "-h", NULL };
		char want[32];

		snprintf(want, sizeof(want), "usage: %s ", progs[i]);
		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 0);
		assert_true(strncmp(p.outbuf, want, strlen(want)) == 0);
		assert_non_null(strstr(p.outbuf, "-p, --port PORT"));
		assert_string_equal(h_own_stderr(&p, errs, sizeof(errs)), "");
	}
}

/* ---- failures at run time ------------------------------------------------------ */

static void test_client_to_closed_port_exits_1(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct h_proc cl;
	char port[8], want[64];
	int fd;

	(void)state;
	/* Hold a port bound but not listening: no one else can take it, and
	 * a SYN to it is answered with RST, i.e. "Connection refused". */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));

	assert_int_equal(run_client(&cl, port, "hello", NULL), 1);
	close(fd);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: Connection refused", port);
	assert_non_null(strstr(cl.errbuf, want));
	assert_string_equal(cl.outbuf, "");
}

/* ---- stopping ------------------------------------------------------------------ */

/* The signal is sent the moment the server has said "listening on", so it
 * lands anywhere: before, inside or just before accept(). Wherever it
 * lands the server must stop; a signal lost between the stop-flag test and
 * accept() would leave it waiting for a client that never comes (the
 * deadline then fails the test). Under valgrind, which delivers signals
 * only at system calls, that window is wide. */
static void test_server_exits_0_on_sigterm_and_sigint(void **state)
{
	const int sigs[] = { SIGTERM, SIGINT };

	(void)state;
	for (size_t i = 0; i < 10; i++) {
		struct h_proc *srv = start_server(NULL, NULL);

		assert_int_equal(h_stop(srv, sigs[i % 2], DEADLINE_MS), 0);
		assert_non_null(strstr(srv->outbuf, "stopping: signal received"));
		free(srv);
	}
}

static void test_server_exits_0_on_sigterm_during_a_client(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL);
	struct pollfd pfd;
	char buf[8];
	int fd;

	(void)state;
	fd = h_connect(srv->port, DEADLINE_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_wait_count(srv, "out", " connected\n", 1, DEADLINE_MS), 0);
	/* The server is serving us (or about to): SIGTERM ends that too. */
	assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
	assert_non_null(strstr(srv->outbuf, " disconnected (0 bytes echoed)"));
	/* It closed our connection on its way out: a FIN, end of file. */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	free(srv);
}

static void test_server_with_n_1_exits_after_one_client(void **state)
{
	struct h_proc *srv = start_server("-n", "1");
	struct h_proc cl;

	(void)state;
	assert_int_equal(run_client(&cl, srv->port, "only", "one"), 0);
	assert_string_equal(cl.outbuf, "only one\n");
	/* No signal: it must leave by itself. */
	assert_int_equal(h_wait_exit(srv, DEADLINE_MS), 0);
	assert_int_equal(h_count(srv->outbuf, " disconnected ("), 1);
	assert_null(strstr(srv->outbuf, "stopping"));
	free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_echoes_words,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_client_round_trips_1mib_binary,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_nc_round_trips_1mib_binary,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_python_round_trips_1mib_binary,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_fifty_clients_in_a_row,
						setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_second_client_waits_for_the_first,
						setup_server, teardown_server),
		cmocka_unit_test(test_bad_port_exits_2_naming_it),
		cmocka_unit_test(test_other_usage_errors_exit_2),
		cmocka_unit_test(test_help_exits_0_with_usage),
		cmocka_unit_test(test_client_to_closed_port_exits_1),
		cmocka_unit_test(test_server_exits_0_on_sigterm_and_sigint),
		cmocka_unit_test(test_server_exits_0_on_sigterm_during_a_client),
		cmocka_unit_test(test_server_with_n_1_exits_after_one_client),
	};

	/* A child that dies while we write to its stdin must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
