/* test_14_udp.c — lesson 14, UDP: the echo server, the numbering and
 * retrying client, sizes, and loss made by the kernel, run as real
 * processes over loopback.
 *
 * What these tests prove:
 *  - one server socket serves 20 clients at once, and each gets only its
 *    own replies: 20 sockets of this test, each with its own tag, whose
 *    datagrams the server receives interleaved (and names each sender);
 *    and 20 client processes at once, each checking every reply byte;
 *  - against "server --drop 5", "client -r 0" reports exactly the lost
 *    sequence numbers 5, 10, ... (with a window of 1 and of 30), and the
 *    server's own count of dropped datagrams is the same number;
 *  - with retries every datagram gets through and each retry is counted,
 *    the same number as the server dropped; with everything dropped the
 *    client gives up after 1 + R tries; against a slow server (--delay)
 *    it reports a duplicate reply and a late one; a corrupted echo and a
 *    right one from the wrong address are both refused ("not ours");
 *    replies answered out of order are reported as reordered;
 *  - connected UDP: after the server has gone, "client --connect" reports
 *    ECONNREFUSED (the ICMP port unreachable), while the unconnected client
 *    is told nothing and reports the datagrams lost after its timeouts;
 *  - sizes: 3 sends are 3 receives, an empty datagram, 65,507 bytes pass
 *    and 65,508 and 70,000 fail with EMSGSIZE, MSG_TRUNC (recv returns the
 *    real length, recvmsg sets the flag, the rest is gone);
 *  - tools no one here wrote: nc -u and Python's socket module each get
 *    their datagrams echoed, boundaries kept;
 *  - nft-loss.sh: with nft and unprivileged namespaces, a kernel rule in a
 *    private namespace drops every 3rd datagram and the client sees it
 *    (skipped, saying why, where either is missing);
 *  - the command line: -h exits 0, bad options exit 2; the server stops
 *    with exit 0 on SIGINT/SIGTERM and after -n N.
 * Every server runs on 127.0.0.1 port 0, every wait has a deadline. Under
 * SOCKLAB_VALGRIND=1 a leak or an fd left open turns an exit code into 99.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "14-udp"
#define DEADLINE_MS 20000 /* for anything that should take well under a second */
#define NCLIENTS 20

/* A client timeout, as text for -t: long enough that a reply from a
 * server that is merely slow (valgrind, a loaded machine) is not taken
 * for a lost one, which would add retries and shift the counts. */
static const char *reply_timeout(char buf[16], int ms)
{
	snprintf(buf, 16, "%d", h_scaled(ms));
	return buf;
}

/* ---- the server ----------------------------------------------------------- */

/* Start "server -b 127.0.0.1 -p 0 [a1 a2 a3]" and read its port. */
static struct h_proc *start_server(const char *a1, const char *a2, const char *a3)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1",
			 "-p", "0", (char *)a1, (char *)a2, (char *)a3, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	assert_true(strncmp(srv->addr, "127.0.0.1:", 10) == 0);
	assert_true(atoi(srv->port) > 0);
	return srv;
}

/* The server exits by itself (after -n N) with 0 and prints its totals. */
static void expect_server_done(struct h_proc *srv, const char *totals)
{
	int rc = h_wait_exit(srv, DEADLINE_MS);

	if (rc != 0)
		fprintf(stderr, "server exit %d; stderr:\n%s\n", rc, srv->errbuf);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(srv->outbuf, totals));
	free(srv);
}

/* The number of the system call the process is blocked in, or -1. */
static long current_syscall(pid_t pid)
{
	char path[64], text[32] = "";
	FILE *f;
	long nr = -1;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(text, sizeof(text), f) != NULL && text[0] >= '0' && text[0] <= '9')
		nr = strtol(text, NULL, 10);
	fclose(f);
	return nr;
}

static int is_in_poll(void *arg)
{
	long nr = current_syscall(*(pid_t *)arg);

	return nr == SYS_poll || nr == SYS_ppoll;
}

/* Stop the server with sig and expect exit 0 and its totals line. Waiting
 * until it sits in poll() first makes sure the signal arrives while the
 * server waits: the case that matters, and the one to test every time. */
static void stop_server(struct h_proc *srv, int sig, const char *totals)
{
	int rc;

	assert_true(h_poll_until(is_in_poll, &srv->pid, DEADLINE_MS));
	rc = h_stop(srv, sig, DEADLINE_MS);
	if (rc != 0)
		fprintf(stderr, "server exit %d; stderr:\n%s\n", rc, srv->errbuf);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(srv->outbuf, "stopping: signal received"));
	if (totals != NULL)
		assert_non_null(strstr(srv->outbuf, totals));
	free(srv);
}

/* ---- our own UDP sockets ------------------------------------------------------ */

static int udp_socket(void)
{
	struct sockaddr_in me = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	return fd;
}

static struct sockaddr_in loopback(const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)atoi(port));
	return sin;
}

static int local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* One datagram within the deadline, or -1. */
static ssize_t recv_within(int fd, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, h_scaled(ms)) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* ---- many clients, one socket ---------------------------------------------------- */

#define PER_SOCKET 5

static void test_twenty_sockets_each_get_only_their_own_replies(void **state)
{
	struct h_proc *srv = start_server("-n", "100", NULL);
	struct sockaddr_in to = loopback(srv->port);
	int fds[NCLIENTS];

	(void)state;
	for (int c = 0; c < NCLIENTS; c++)
		fds[c] = udp_socket();
	/* Round after round, every socket sends one: the server's socket
	 * receives the 20 clients' datagrams interleaved. */
	for (int m = 0; m < PER_SOCKET; m++)
		for (int c = 0; c < NCLIENTS; c++) {
			char msg[32];
			int len = snprintf(msg, sizeof(msg), "client-%02d #%d", c, m);

			assert_int_equal(sendto(fds[c], msg, (size_t)len, 0,
						(struct sockaddr *)&to, sizeof(to)), len);
		}
	for (int c = 0; c < NCLIENTS; c++) {
		char tag[16];
		int seen[PER_SOCKET] = { 0 };

		snprintf(tag, sizeof(tag), "client-%02d #", c);
		for (int m = 0; m < PER_SOCKET; m++) {
			char buf[64];
			ssize_t n = recv_within(fds[c], buf, sizeof(buf) - 1, DEADLINE_MS);
			int which;

			assert_true(n > 0);
			buf[n] = '\0';
			/* Our tag, and one of our messages, each once. */
			assert_true(strncmp(buf, tag, strlen(tag)) == 0);
			which = atoi(buf + strlen(tag));
			assert_true(which >= 0 && which < PER_SOCKET);
			seen[which]++;
		}
		for (int m = 0; m < PER_SOCKET; m++)
			assert_int_equal(seen[m], 1);
	}
	/* The server named each socket as the sender of its five. */
	assert_int_equal(h_wait_output(srv, "out", "received 100 datagrams", DEADLINE_MS), 0);
	for (int c = 0; c < NCLIENTS; c++) {
		char from[40];

		snprintf(from, sizeof(from), " from 127.0.0.1:%d: ", local_port(fds[c]));
		assert_int_equal(h_count(srv->outbuf, from), PER_SOCKET);
		close(fds[c]);
	}
	expect_server_done(srv, "received 100 datagrams: echoed 100, dropped 0");
}

static void test_twenty_client_processes_at_once(void **state)
{
	struct h_proc *srv = start_server("-q", NULL, NULL);
	struct h_proc *cl = calloc(NCLIENTS, sizeof(*cl));
	char errs[sizeof(cl->errbuf)];
	char tags[NCLIENTS][16], t[16];

	(void)state;
	assert_non_null(cl);
	reply_timeout(t, 3000);
	for (int c = 0; c < NCLIENTS; c++) {
		char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", srv->port,
				 "-c", "20", "-s", "200", "-t", t, "-T", tags[c], NULL };

		snprintf(tags[c], sizeof(tags[c]), "proc-%02d", c);
		assert_int_equal(h_start(&cl[c], argv), 0);
		h_feed(&cl[c], NULL, 0);
	}
	for (int c = 0; c < NCLIENTS; c++) {
		int rc = h_wait_exit(&cl[c], DEADLINE_MS * 3);

		if (rc != 0)
			fprintf(stderr, "client %d exit %d\n%s%s", c, rc, cl[c].outbuf, cl[c].errbuf);
		assert_int_equal(rc, 0);
		/* Every reply matched what this process sent, byte for byte
		 * (its tag is in each datagram), and nothing else came. */
		assert_non_null(strstr(cl[c].outbuf,
			"sent 20, answered 20, lost 0, duplicates 0, reordered 0, retries 0, not ours 0\n"));
		assert_string_equal(h_own_stderr(&cl[c], errs, sizeof(errs)), "");
	}
	free(cl);
	stop_server(srv, SIGTERM, "received 400 datagrams: echoed 400, dropped 0");
}

/* ---- loss, deterministic ------------------------------------------------------------- */

/* Run the client against port with the given extra arguments; returns its
 * exit code, output in p. */
static int run_client(struct h_proc *p, const char *port, const char *const extra[])
{
	char *argv[24] = { (char *)h_lesson(LESSON, "client"), "-p", (char *)port };
	int n = 3;

	for (int i = 0; extra[i] != NULL && n < 23; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	return h_run(p, argv, NULL, 0, DEADLINE_MS * 3);
}

static void check_drop_5_without_retries(const char *window)
{
	struct h_proc *srv = start_server("--drop", "5", "-n30");
	struct h_proc cl;
	char errs[sizeof(cl.errbuf)];
	char t[16];
	const char *extra[] = { "-c", "30", "-r", "0", "-w", window, "-t",
				reply_timeout(t, 400), NULL };

	assert_int_equal(run_client(&cl, srv->port, extra), 1);
	assert_non_null(strstr(cl.outbuf,
		"sent 30, answered 24, lost 6 (5 10 15 20 25 30), duplicates 0, reordered 0, retries 0, not ours 0\n"));
	assert_non_null(strstr(cl.outbuf, "seq 5: no reply after 1 try, giving up\n"));
	assert_string_equal(h_own_stderr(&cl, errs, sizeof(errs)), "");
	/* The server agrees: it received 30, and dropped the same 6. */
	assert_int_equal(h_wait_output(srv, "out", "received 30", DEADLINE_MS), 0);
	assert_non_null(strstr(srv->outbuf, ": 64 bytes, dropped (--drop 5)\n"));
	assert_int_equal(h_count(srv->outbuf, "dropped (--drop 5)"), 6);
	assert_non_null(strstr(srv->outbuf, "datagram 30 from 127.0.0.1:"));
	expect_server_done(srv, "received 30 datagrams: echoed 24, dropped 6");
}

static void test_drop_5_no_retries_loses_exactly_5_10_15(void **state)
{
	(void)state;
	check_drop_5_without_retries("1"); /* stop and wait */
}

static void test_drop_5_no_retries_with_a_window_of_30(void **state)
{
	(void)state;
	check_drop_5_without_retries("30"); /* all 30 in flight at once */
}

static void test_drop_5_with_retries_all_get_through(void **state)
{
	struct h_proc *srv = start_server("--drop", "5", NULL);
	struct h_proc cl;
	char t[16];
	const char *extra[] = { "-c", "20", "-r", "2", "-t", reply_timeout(t, 400), NULL };

	(void)state;
	assert_int_equal(run_client(&cl, srv->port, extra), 0);
	/* Datagrams 5, 10, 15, 20 the server receives are seq 5, the retry
	 * of 5 is its 6th, so seq 9 is its 10th, then 13, then 17. */
	assert_non_null(strstr(cl.outbuf,
		"sent 20, answered 20, lost 0, duplicates 0, reordered 0, retries 4, not ours 0\n"));
	assert_non_null(strstr(cl.outbuf, "seq 5: no reply within "));
	assert_non_null(strstr(cl.outbuf, "seq 17: no reply within "));
	assert_non_null(strstr(cl.outbuf, ", sending it again (try 2 of 3)\n"));
	assert_int_equal(h_count(cl.outbuf, "sending it again"), 4);
	stop_server(srv, SIGINT, "received 24 datagrams: echoed 20, dropped 4");
}

static void test_drop_everything_gives_up_after_all_tries(void **state)
{
	struct h_proc *srv = start_server("--drop", "1", NULL);
	struct h_proc cl;
	const char *extra[] = { "-c", "2", "-r", "2", "-t", "100", NULL };

	(void)state;
	assert_int_equal(run_client(&cl, srv->port, extra), 1);
	assert_non_null(strstr(cl.outbuf, "seq 1: no reply within 100 ms, sending it again (try 3 of 3)\n"));
	assert_non_null(strstr(cl.outbuf, "seq 2: no reply after 3 tries, giving up\n"));
	assert_non_null(strstr(cl.outbuf,
		"sent 2, answered 0, lost 2 (1 2), duplicates 0, reordered 0, retries 4, not ours 0\n"));
	stop_server(srv, SIGTERM, "received 6 datagrams: echoed 0, dropped 6");
}

/* A slow server (--delay D) and a client whose timeout T is shorter
 * (T < D < 1.5 T): seq 1 is sent again before its reply comes, so both
 * tries are answered (a duplicate); seq 2 is given up on, and its reply
 * comes while the client waits for late ones. The margins are T/4 or
 * more, so scheduling jitter cannot change the story. */
static void test_slow_server_duplicates_and_late_replies(void **state)
{
	int t_ms = h_under_valgrind() ? 1600 : 800;
	char delay[16], t[16];
	struct h_proc *srv;
	struct h_proc cl;
	const char *extra[] = { "-c", "2", "-r", "1", "-t", t, NULL };

	(void)state;
	snprintf(delay, sizeof(delay), "%d", t_ms * 5 / 4);
	snprintf(t, sizeof(t), "%d", t_ms);
	srv = start_server("--delay", delay, NULL);
	assert_int_equal(run_client(&cl, srv->port, extra), 0);
	assert_non_null(strstr(cl.outbuf, "seq 1: no reply within "));
	assert_non_null(strstr(cl.outbuf, "seq 1: duplicate reply (to try 2)\n"));
	assert_non_null(strstr(cl.outbuf, "seq 2: no reply after 2 tries, giving up\n"));
	assert_non_null(strstr(cl.outbuf, "seq 2: late reply (to try 1), after we gave up on it\n"));
	assert_non_null(strstr(cl.outbuf,
		"sent 2, answered 2, lost 0, duplicates 1 (1), reordered 0, retries 2, not ours 0\n"));
	stop_server(srv, SIGTERM, "echoed 4, dropped 0");
}

/* The test plays the server, and a bad one: the reply to seq 2 has one
 * byte changed, and before the reply to seq 3 a copy of it arrives from
 * another address. The client must take neither for its reply. */
static void test_client_rejects_corrupt_and_foreign_replies(void **state)
{
	int srv = udp_socket(), stranger = udp_socket();
	char port[8], t[16];
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", port, "-c", "4",
			 "-r", "0", "-t", t, "-T", "picky", NULL };
	struct h_proc cl;
	int rc;

	(void)state;
	snprintf(port, sizeof(port), "%d", local_port(srv));
	reply_timeout(t, 400);
	assert_int_equal(h_start(&cl, argv), 0);
	h_feed(&cl, NULL, 0);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		unsigned char buf[128];
		struct pollfd pfd = { .fd = srv, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
		n = recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
		assert_int_equal(n, 64);
		assert_int_equal(buf[3], i + 1); /* seq, big-endian: 1, 2, 3, 4 */
		if (i + 1 == 2)
			buf[n - 1] ^= 1; /* a corrupted echo */
		if (i + 1 == 3)      /* the right bytes, from the wrong address */
			assert_int_equal(sendto(stranger, buf, (size_t)n, 0,
						(struct sockaddr *)&from, fromlen), n);
		assert_int_equal(sendto(srv, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen), n);
	}
	rc = h_wait_exit(&cl, DEADLINE_MS);
	close(srv);
	close(stranger);
	assert_int_equal(rc, 1);
	assert_int_equal(h_count(cl.outbuf, "a datagram that is no reply of ours (64 bytes from 127.0.0.1:"), 2);
	assert_non_null(strstr(cl.outbuf,
		"sent 4, answered 3, lost 1 (2), duplicates 0, reordered 0, retries 0, not ours 2\n"));
}

/* The test plays the server again: it takes all three datagrams of a
 * window of 3 and answers seq 2 first. Seq 1's reply then arrives after
 * the reply to a datagram sent later: reordered. */
static void test_client_reports_reordered_replies(void **state)
{
	int srv = udp_socket();
	char port[8], t[16];
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", port, "-c", "3",
			 "-w", "3", "-r", "0", "-t", t, NULL };
	unsigned char got[3][128];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	const int order[] = { 1, 0, 2 }; /* seq 2, then 1, then 3 */
	struct h_proc cl;
	int rc;

	(void)state;
	snprintf(port, sizeof(port), "%d", local_port(srv));
	reply_timeout(t, 3000);
	assert_int_equal(h_start(&cl, argv), 0);
	h_feed(&cl, NULL, 0);
	for (int i = 0; i < 3; i++) {
		struct pollfd pfd = { .fd = srv, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
		assert_int_equal(recvfrom(srv, got[i], sizeof(got[i]), 0,
					  (struct sockaddr *)&from, &fromlen), 64);
		assert_int_equal(got[i][3], i + 1);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(sendto(srv, got[order[i]], 64, 0, (struct sockaddr *)&from,
					fromlen), 64);
	rc = h_wait_exit(&cl, DEADLINE_MS);
	close(srv);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(cl.outbuf,
		"seq 1: reply came after that of a datagram sent later: reordered\n"));
	assert_non_null(strstr(cl.outbuf,
		"sent 3, answered 3, lost 0, duplicates 0, reordered 1 (1), retries 0, not ours 0\n"));
}

/* ---- connected UDP ----------------------------------------------------------------- */

/* The server answers 3 datagrams and exits; the client has 6 to send. */
static void test_connected_socket_gets_econnrefused(void **state)
{
	struct h_proc *srv = start_server("-n", "3", NULL);
	struct h_proc cl;
	char t[16];
	const char *extra[] = { "--connect", "-c", "6", "-r", "2", "-t",
				reply_timeout(t, 300), NULL };

	(void)state;
	assert_int_equal(run_client(&cl, srv->port, extra), 1);
	/* Seq 4 (or its retry, if it reached the server's socket just
	 * before the server closed it) drew an ICMP port unreachable. */
	assert_true(strstr(cl.outbuf, "seq 4: recv: Connection refused") != NULL ||
		    strstr(cl.outbuf, "seq 4: send: Connection refused") != NULL);
	assert_non_null(strstr(cl.outbuf, "answered 3, lost 1 (4), "));
	assert_non_null(strstr(cl.outbuf, "connected UDP socket: "));
	assert_null(strstr(cl.outbuf, "seq 5"));
	expect_server_done(srv, "received 3 datagrams: echoed 3, dropped 0");
}

static void test_unconnected_socket_just_times_out(void **state)
{
	struct h_proc *srv = start_server("-n", "3", NULL);
	struct h_proc cl;
	char errs[sizeof(cl.errbuf)];
	const char *extra[] = { "-c", "6", "-r", "1", "-t", "150", NULL };

	(void)state;
	assert_int_equal(run_client(&cl, srv->port, extra), 1);
	/* The same ICMP errors came back, but nobody told this socket. */
	assert_null(strstr(cl.outbuf, "refused"));
	assert_null(strstr(h_own_stderr(&cl, errs, sizeof(errs)), "refused"));
	assert_non_null(strstr(cl.outbuf, "seq 4: no reply after 2 tries, giving up\n"));
	assert_non_null(strstr(cl.outbuf, "seq 6: no reply after 2 tries, giving up\n"));
	assert_non_null(strstr(cl.outbuf, "sent 6, answered 3, lost 3 (4 5 6), "));
	expect_server_done(srv, "received 3 datagrams: echoed 3, dropped 0");
}

/* ---- sizes --------------------------------------------------------------------------- */

static void test_sizes_boundaries_limit_and_truncation(void **state)
{
	struct h_proc p;
	char errs[sizeof(p.errbuf)];
	char *argv[] = { (char *)h_lesson(LESSON, "sizes"), NULL };
	const char *in_order[] = {
		"recv() = 100 bytes of 'A'\n",
		"recv() = 200 bytes of 'B'\n",
		"recv() = 300 bytes of 'C'\n",
		"recv() = 0 bytes: an empty datagram",
		"sendto() 65507 bytes: ok; recv() = 65507 bytes of 'S'\n",
		"sendto() 65508 bytes: EMSGSIZE (Message too long)\n",
		"sendto() 70000 bytes: EMSGSIZE (Message too long)\n",
		"recv(buffer of 100, MSG_TRUNC) = 1000: the real length",
		"recvmsg(buffer of 100) = 100, msg_flags has MSG_TRUNC\n",
		"recv() = 4 bytes of 'N'\n",
		"recv(NULL, 0, MSG_PEEK | MSG_TRUNC) = 1000: the size",
		"recv() = 1000 bytes of 'P'\n",
	};
	const char *at;

	(void)state;
	assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 0);
	at = p.outbuf;
	for (size_t i = 0; i < sizeof(in_order) / sizeof(in_order[0]); i++) {
		const char *found = strstr(at, in_order[i]);

		if (found == NULL)
			fprintf(stderr, "missing, in order: %s\n--- output:\n%s", in_order[i], p.outbuf);
		assert_non_null(found);
		at = found + strlen(in_order[i]);
	}
	assert_non_null(strstr(p.outbuf, "TCP for contrast: send() 100, 200, 300 bytes; one recv() = 600 bytes\n"));
	assert_string_equal(h_own_stderr(&p, errs, sizeof(errs)), "");
}

static void test_sizes_extra_size_over_the_limit(void **state)
{
	struct h_proc p;
	char *argv[] = { (char *)h_lesson(LESSON, "sizes"), "-s", "66000", NULL };

	(void)state;
	assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 0);
	assert_non_null(strstr(p.outbuf, "sendto() 66000 bytes: EMSGSIZE"));
}

/* ---- tools no one here wrote ----------------------------------------------------------- */

static void test_nc_gets_its_datagram_echoed(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL, NULL);
	struct h_proc nc;
	/* -w1: after standard input ends, wait one second for replies. */
	char *argv[] = { "nc", "-u", "-w1", "127.0.0.1", srv->port, NULL };
	const char line[] = "hello from nc\n";

	(void)state;
	if (!h_have("nc")) {
		stop_server(srv, SIGTERM, NULL);
		skip();
	}
	assert_int_equal(h_run(&nc, argv, line, strlen(line), DEADLINE_MS), 0);
	assert_string_equal(nc.outbuf, line);
	assert_int_equal(h_wait_output(srv, "out", ": 14 bytes, echoed\n", DEADLINE_MS), 0);
	stop_server(srv, SIGTERM, "received 1 datagram: echoed 1, dropped 0");
}

static void test_python_gets_its_datagrams_echoed(void **state)
{
	struct h_proc *srv = start_server(NULL, NULL, NULL);
	struct h_proc py;
	char *argv[] = { "python3", "-c",
		"import socket, sys\n"
		"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		"s.settimeout(10)\n"
		"server = ('127.0.0.1', int(sys.argv[1]))\n"
		"for n in (10, 2000, 30):\n"
		"    s.sendto(b'p' * n, server)\n"
		"for n in (10, 2000, 30):\n"
		"    data, peer = s.recvfrom(65536)\n"
		"    print(len(data), data == b'p' * n, peer == server)\n"
		"s.close()\n",
		srv->port, NULL };

	(void)state;
	if (!h_have("python3")) {
		stop_server(srv, SIGTERM, NULL);
		skip();
	}
	assert_int_equal(h_run(&py, argv, NULL, 0, DEADLINE_MS), 0);
	/* Three sends, three whole datagrams back, from the server's address. */
	assert_string_equal(py.outbuf, "10 True True\n2000 True True\n30 True True\n");
	stop_server(srv, SIGTERM, "received 3 datagrams: echoed 3, dropped 0");
}

/* ---- loss in the kernel: nft in a private namespace ----------------------------------- */

static int can_run_nft_demo(void)
{
	if (system("PATH=$PATH:/usr/sbin:/sbin command -v nft >/dev/null 2>&1") != 0) {
		fprintf(stderr, "skip: nft is not installed (package nftables)\n");
		return 0;
	}
	if (system("unshare -rn true >/dev/null 2>&1") != 0) {
		fprintf(stderr, "skip: unshare -rn failed: no private network namespace here\n");
		return 0;
	}
	return 1;
}

static void test_nft_drops_every_3rd_in_a_private_namespace(void **state)
{
	struct h_proc p;
	char *argv[] = { "lessons/14-udp/nft-loss.sh", "-e", "3", "-c", "12", "-t", "400", NULL };
	int rc;

	(void)state;
	if (!can_run_nft_demo())
		skip();
	rc = h_run(&p, argv, NULL, 0, DEADLINE_MS * 3);
	if (rc != 0)
		fprintf(stderr, "nft-loss.sh exit %d\n%s%s", rc, p.outbuf, p.errbuf);
	assert_int_equal(rc, 0);
	/* The kernel, not the server, dropped datagrams 3, 6, ...: */
	assert_non_null(strstr(p.outbuf, "== client -p "));
	assert_non_null(strstr(p.outbuf, " -c 12 -r 0 -t 400\n"));
	assert_non_null(strstr(p.outbuf,
		"sent 12, answered 8, lost 4 (3 6 9 12), duplicates 0, reordered 0, retries 0, not ours 0\n"));
	assert_non_null(strstr(p.outbuf, "numgen inc mod 3 2 counter packets 4 "));
	/* and the server never saw them. */
	assert_non_null(strstr(p.outbuf, "received 8 datagrams: echoed 8, dropped 0\n"));
}

static void test_nft_script_usage(void **state)
{
	struct h_proc p;
	char *help[] = { "lessons/14-udp/nft-loss.sh", "-h", NULL };
	char *bad[] = { "lessons/14-udp/nft-loss.sh", "-e", "0", NULL };

	(void)state;
	assert_int_equal(h_run(&p, help, NULL, 0, DEADLINE_MS), 0);
	assert_true(strncmp(p.outbuf, "usage: lessons/14-udp/nft-loss.sh ", 34) == 0);
	assert_int_equal(h_run(&p, bad, NULL, 0, DEADLINE_MS), 2);
	assert_non_null(strstr(p.errbuf, "bad interval '0'"));
}

/* ---- command line and stopping ------------------------------------------------------------ */

static void test_help_exits_0_with_usage(void **state)
{
	const char *progs[] = { "server", "client", "sizes" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct h_proc p;
		char errs[sizeof(p.errbuf)];
		char *argv[] = { (char *)h_lesson(LESSON, progs[i]), "--help", NULL };
		char want[32];

		snprintf(want, sizeof(want), "usage: %s ", progs[i]);
		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 0);
		assert_true(strncmp(p.outbuf, want, strlen(want)) == 0);
		assert_string_equal(h_own_stderr(&p, errs, sizeof(errs)), "");
	}
}

static void test_bad_options_exit_2_saying_why(void **state)
{
	const char *const cases[][5] = {
		{ "server", "-p", "70000", NULL, "bad port '70000'" },
		{ "server", "--drop", "x", NULL, "bad drop interval 'x'" },
		{ "server", "-n", "-1", NULL, "bad datagram count '-1'" },
		{ "server", "--delay", "60001", NULL, "bad delay '60001'" },
		{ "server", "extra", NULL, NULL, "unexpected argument 'extra'" },
		{ "server", "-z", NULL, NULL, "unknown option -z" },
		{ "client", "-c", "5", NULL, "missing -p PORT" },
		{ "client", "-p", "0", NULL, "bad port '0'" },
		{ "client", "-p", "9", "-c0", "bad count '0'" },
		{ "client", "-p", "9", "-s5", "bad size '5'" },
		{ "client", "-p", "9", "-r101", "bad retry count '101'" },
		{ "client", "-p", "9", "-t", "option -t needs an argument" },
		{ "sizes", "-s", "-1", NULL, "bad size '-1'" },
		{ "sizes", "--nope", NULL, NULL, "unknown option --nope" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_proc p;
		char *argv[] = { (char *)h_lesson(LESSON, cases[i][0]), (char *)cases[i][1],
				 (char *)cases[i][2], (char *)cases[i][3], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		if (strstr(p.errbuf, cases[i][4]) == NULL)
			fprintf(stderr, "case %zu: stderr lacks \"%s\":\n%s", i, cases[i][4], p.errbuf);
		assert_non_null(strstr(p.errbuf, cases[i][4]));
		assert_non_null(strstr(p.errbuf, "-h' for help"));
		assert_string_equal(p.outbuf, "");
	}
}

static void test_server_stops_on_sigint_and_sigterm(void **state)
{
	const int sigs[] = { SIGINT, SIGTERM };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct h_proc *srv = start_server(NULL, NULL, NULL);

		stop_server(srv, sigs[i], "received 0 datagrams: echoed 0, dropped 0");
	}
}

/* The signal lands the moment the server has said "listening on":
 * anywhere before or inside its wait. It must stop all the same. */
static void test_server_stops_on_an_early_signal(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++) {
		struct h_proc *srv = start_server(NULL, NULL, NULL);

		assert_int_equal(h_stop(srv, SIGTERM, DEADLINE_MS), 0);
		assert_non_null(strstr(srv->outbuf, "stopping: signal received"));
		free(srv);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_twenty_sockets_each_get_only_their_own_replies),
		cmocka_unit_test(test_twenty_client_processes_at_once),
		cmocka_unit_test(test_drop_5_no_retries_loses_exactly_5_10_15),
		cmocka_unit_test(test_drop_5_no_retries_with_a_window_of_30),
		cmocka_unit_test(test_drop_5_with_retries_all_get_through),
		cmocka_unit_test(test_drop_everything_gives_up_after_all_tries),
		cmocka_unit_test(test_slow_server_duplicates_and_late_replies),
		cmocka_unit_test(test_client_rejects_corrupt_and_foreign_replies),
		cmocka_unit_test(test_client_reports_reordered_replies),
		cmocka_unit_test(test_connected_socket_gets_econnrefused),
		cmocka_unit_test(test_unconnected_socket_just_times_out),
		cmocka_unit_test(test_sizes_boundaries_limit_and_truncation),
		cmocka_unit_test(test_sizes_extra_size_over_the_limit),
		cmocka_unit_test(test_nc_gets_its_datagram_echoed),
		cmocka_unit_test(test_python_gets_its_datagrams_echoed),
		cmocka_unit_test(test_nft_drops_every_3rd_in_a_private_namespace),
		cmocka_unit_test(test_nft_script_usage),
		cmocka_unit_test(test_help_exits_0_with_usage),
		cmocka_unit_test(test_bad_options_exit_2_saying_why),
		cmocka_unit_test(test_server_stops_on_sigint_and_sigterm),
		cmocka_unit_test(test_server_stops_on_an_early_signal),
	};

	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
