/* test_03_tcp_lifecycle.c — lesson 03's programs, checked against the
 * kernel's own view of each connection.
 *
 * Each test runs the real server and client on 127.0.0.1, port 0, reads
 * the connection's 4-tuple from what both programs print (and checks that
 * the two agree), then polls `ss -tanH state STATE '( sport = :P or dport =
 * :P )'` until the kernel shows the expected state for that exact tuple,
 * with a deadline. Exact tuples matter: other tests on this machine leave
 * their own TIME_WAITs behind, some on ports we may reuse.
 *
 * What the tests prove:
 *  - the side that closes first, and only that side, holds TIME_WAIT;
 *  - while the server's side is in TIME_WAIT, bind() to its port fails with
 *    EADDRINUSE, and succeeds with SO_REUSEADDR (only if the old listener
 *    had it too); TIME_WAIT on the client's side does not hold the port;
 *  - after shutdown(SHUT_WR) the client still receives the server's data,
 *    while a client that close()s instead makes that late data draw an RST;
 *  - SO_LINGER {1, 0} resets: the peer's recv() reports ECONNRESET and no
 *    socket at all remains for the tuple; so does close() on a socket with
 *    data the program never read;
 *  - with a full backlog, clients that fit are ESTABLISHED but unaccepted
 *    and the next one stays in SYN_SENT;
 *  - a server that does not close() sits in CLOSE_WAIT, its client in
 *    FIN_WAIT2, until it does;
 *  - -h exits 0 and bad options exit 2, for every program.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define LESSON "03-tcp-lifecycle"
#define T_RUN 10000  /* ms for a program to run to its end */
#define T_STATE 3000 /* ms for the kernel to show a state */
#define ADDRLEN 64

/* ---- the kernel's view, through ss -------------------------------------- */

/* One condition on ss's output: exactly count sockets in state (an ss state
 * name, or NULL for any state) with this local and peer address (NULL
 * matches any). port narrows the ss query. */
struct expect {
	const char *state;
	const char *local;
	const char *peer;
	int count;
};

static const char *port_of(const char *addr)
{
	return strrchr(addr, ':') + 1;
}

/* Count sockets matching e, or -1 if ss failed. */
static int ss_count(const struct expect *e, const char *port)
{
	char cmd[256], line[512], local[128], peer[128], state[32];
	unsigned long rq, sq;
	FILE *f;
	int n = 0;

	/* With one state filter ss leaves out the State column. */
	if (e->state != NULL)
		snprintf(cmd, sizeof(cmd),
			 "ss -tanH state %s '( sport = :%s or dport = :%s )'",
			 e->state, port, port);
	else
		snprintf(cmd, sizeof(cmd), "ss -tanH '( sport = :%s or dport = :%s )'",
			 port, port);
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		int ok = e->state != NULL
			? sscanf(line, "%lu %lu %127s %127s", &rq, &sq, local, peer) == 4
			: sscanf(line, "%31s %lu %lu %127s %127s", state, &rq, &sq, local, peer) == 5;

		if (ok && (e->local == NULL || strcmp(local, e->local) == 0) &&
		    (e->peer == NULL || strcmp(peer, e->peer) == 0))
			n++;
	}
	return pclose(f) == 0 ? n : -1;
}

struct expects {
	const struct expect *e;
	size_t n;
	const char *port;
};

static int all_hold(void *arg)
{
	const struct expects *x = arg;

	for (size_t i = 0; i < x->n; i++)
		if (ss_count(&x->e[i], x->port) != x->e[i].count)
			return 0;
	return 1;
}

/* Poll ss until every condition holds; on the deadline, show what ss saw
 * and fail. */
static void kernel_shows(const char *port, const struct expect *e, size_t n)
{
	struct expects x = { e, n, port };
	char cmd[256];

	if (h_poll_until(all_hold, &x, T_STATE))
		return;
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "expected %d x %s %s -> %s, ss shows %d\n", e[i].count,
			e[i].state != NULL ? e[i].state : "(any state)",
			e[i].local != NULL ? e[i].local : "*",
			e[i].peer != NULL ? e[i].peer : "*", ss_count(&e[i], port));
	snprintf(cmd, sizeof(cmd), "ss -tan '( sport = :%s or dport = :%s )' >&2", port, port);
	if (system(cmd) != 0)
		fprintf(stderr, "(ss failed)\n");
	fail_msg("the kernel did not reach the expected TCP states on port %s", port);
}

#define KERNEL_SHOWS(port, ...) \
	kernel_shows(port, (const struct expect[]){ __VA_ARGS__ }, \
		     sizeof((const struct expect[]){ __VA_ARGS__ }) / sizeof(struct expect))

/* The Recv-Q (bytes received but not yet read by the program) of the
 * ESTABLISHED socket local -> peer, or -1 when there is none. */
struct recvq {
	const char *local;
	const char *peer;
	unsigned long want;
};

static int recvq_is(void *arg)
{
	const struct recvq *q = arg;
	char cmd[256], line[512], local[128], peer[128];
	unsigned long rq, sq;
	FILE *f;
	int hit = 0;

	snprintf(cmd, sizeof(cmd), "ss -tanH state established '( sport = :%s )'",
		 port_of(q->local));
	f = popen(cmd, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lu %lu %127s %127s", &rq, &sq, local, peer) == 4 &&
		    strcmp(local, q->local) == 0 && strcmp(peer, q->peer) == 0 &&
		    rq == q->want)
			hit = 1;
	pclose(f);
	return hit;
}

/* ---- running the lesson's programs -------------------------------------- */

static void start_server(struct h_proc *s, const char *mode, const char *extra)
{
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-p", "0", "-m",
			 (char *)mode, (char *)extra, NULL };

	assert_int_equal(h_start(s, argv), 0);
	if (h_wait_listening(s, T_RUN) != 0)
		fail_msg("server gave no 'listening on' line; stderr: %s", s->errbuf);
	assert_int_equal(strncmp(s->addr, "127.0.0.1:", 10), 0);
}

static int run_client(struct h_proc *c, const char *port, const char *mode)
{
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", (char *)port, "-m",
			 (char *)mode, NULL };

	return h_run(c, argv, NULL, 0, T_RUN);
}

static int run_rebind(struct h_proc *r, const char *port, int reuseaddr)
{
	char *plain[] = { (char *)h_lesson(LESSON, "rebind"), "-p", (char *)port, NULL };
	char *reuse[] = { (char *)h_lesson(LESSON, "rebind"), "-r", "-p", (char *)port, NULL };

	return h_run(r, reuseaddr ? reuse : plain, NULL, 0, T_RUN);
}

/* From "WHAT done: ESTABLISHED A -> B" (or "<-") in out, fill a and b. */
static void parse_endpoints(const char *out, const char *what, char a[ADDRLEN],
			    char b[ADDRLEN])
{
	char needle[64], state[32], arrow[4];
	const char *at;

	snprintf(needle, sizeof(needle), "%s done: ", what);
	at = strstr(out, needle);
	if (at == NULL)
		fail_msg("no '%s' line in: %s", needle, out);
	assert_int_equal(sscanf(at + strlen(needle), "%31s %63s %3s %63s", state, a, arrow, b), 4);
	/* The handshake is over when connect() or accept() returns. A quick
	 * client may even have sent its FIN before accept() picked the
	 * connection up, which then starts in CLOSE_WAIT. */
	if (strcmp(state, "ESTABLISHED") != 0 &&
	    !(strcmp(what, "accept()") == 0 && strcmp(state, "CLOSE_WAIT") == 0))
		fail_msg("%s returned a socket in state %s", what, state);
}

/* The connection's two ends as both programs report them: server is the
 * server's address:port, client the client's. Both must agree, and the
 * server's end must be the address it announced. */
struct tuple {
	char server[ADDRLEN];
	char client[ADDRLEN];
};

static void read_tuple(const struct h_proc *s, const struct h_proc *c, struct tuple *t)
{
	char s_self[ADDRLEN], s_peer[ADDRLEN], c_self[ADDRLEN], c_peer[ADDRLEN];

	parse_endpoints(s->outbuf, "accept()", s_self, s_peer);
	parse_endpoints(c->outbuf, "connect()", c_self, c_peer);
	assert_string_equal(s_self, s->addr);
	assert_string_equal(c_peer, s->addr);
	assert_string_equal(s_peer, c_self);
	assert_int_equal(strncmp(c_self, "127.0.0.1:", 10), 0);
	strcpy(t->server, s_self);
	strcpy(t->client, c_self);
}

/* Server and client in the given modes, both run to exit 0; fills t. */
static void run_pair(const char *smode, const char *sextra, const char *cmode,
		     struct h_proc *s, struct h_proc *c, struct tuple *t)
{
	start_server(s, smode, sextra);
	assert_int_equal(run_client(c, s->port, cmode), 0);
	assert_int_equal(h_wait_exit(s, T_RUN), 0);
	read_tuple(s, c, t);
}

/* Does a plain bind() (no SO_REUSEADDR) to 127.0.0.1:port fail with
 * EADDRINUSE? Asked directly of the kernel, besides the rebind program. */
static int plain_bind_errno(const char *port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = 0;

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* Is needle in hay, after the first occurrence of before? */
static int appears_after(const char *hay, const char *before, const char *needle)
{
	const char *b = strstr(hay, before);

	return b != NULL && strstr(b + strlen(before), needle) != NULL;
}

/* ---- fixture: every process a test starts, stopped even when it fails -- */

struct fixture {
	struct h_proc server, client, rebind, more[2];
};

static int setup(void **state)
{
	/* calloc: pid 0 marks a process never started. */
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct h_proc *all[] = { &f->server, &f->client, &f->rebind, &f->more[0], &f->more[1] };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i]->pid > 0 && all[i]->status < 0)
			h_stop(all[i], SIGKILL, 2000);
	free(f);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

/* Client closes first: TIME_WAIT on the client's end only, and it does not
 * hold the server's port. */
static void test_client_closes_first(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client, *r = &f->rebind;
	struct tuple t;

	run_pair("echo", NULL, "close-first", s, c, &t);
	assert_non_null(strstr(c->outbuf, "recv() = 22 bytes: \"hello from the client\\n\""));
	assert_non_null(strstr(s->outbuf, "recv() = 0: the client sent FIN"));
	KERNEL_SHOWS(port_of(t.server),
		     { "time-wait", t.client, t.server, 1 },
		     { NULL, t.server, t.client, 0 });
	assert_int_equal(run_rebind(r, port_of(t.server), 0), 0);
	assert_non_null(strstr(r->outbuf, "listening on 127.0.0.1:"));
}

/* Server closes first: TIME_WAIT on the server's end only, and while it
 * lasts the port can be bound again only with SO_REUSEADDR. */
static void test_server_closes_first_then_rebind(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client, *r = &f->rebind;
	struct tuple t;
	char want[ADDRLEN + 16];

	run_pair("close-first", NULL, "close-last", s, c, &t);
	assert_non_null(strstr(c->outbuf, "recv() = 22 bytes"));
	assert_true(appears_after(c->outbuf, "recv() = 22 bytes", "recv() = 0: the server sent FIN"));
	KERNEL_SHOWS(port_of(t.server),
		     { "time-wait", t.server, t.client, 1 },
		     { NULL, t.client, t.server, 0 });

	assert_int_equal(run_rebind(r, port_of(t.server), 0), 1);
	assert_non_null(strstr(r->errbuf, "Address already in use"));
	assert_int_equal(plain_bind_errno(port_of(t.server)), EADDRINUSE);
	/* The failures above happened while TIME_WAIT still held the port. */
	KERNEL_SHOWS(port_of(t.server), { "time-wait", t.server, t.client, 1 });

	assert_int_equal(run_rebind(r, port_of(t.server), 1), 0);
	snprintf(want, sizeof(want), "listening on %s\n", t.server);
	assert_non_null(strstr(r->outbuf, want));
}

/* close() on a socket holding data the program never read sends RST, not
 * FIN. The client here is the test's own socket, as nc would be. */
static void test_close_with_unread_data_resets(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server;
	char buf[16], peer[ADDRLEN];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct recvq q;
	int fd;

	start_server(s, "close-first", "--step");
	fd = h_connect(s->port, T_RUN);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, "one\n", 4, MSG_NOSIGNAL), 4);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 4);
	assert_int_equal(h_wait_output(s, "out", "press Enter to call close()", T_RUN), 0);

	/* The second line arrives but the server, paused, never reads it. */
	assert_int_equal(send(fd, "two\n", 4, MSG_NOSIGNAL), 4);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(peer, sizeof(peer), "127.0.0.1:%u", ntohs(sin.sin_port));
	q = (struct recvq){ s->addr, peer, 4 };
	if (!h_poll_until(recvq_is, &q, T_STATE))
		fail_msg("the server's socket never showed Recv-Q 4");

	assert_int_equal(h_feed(s, "\n", 1), 0);
	assert_int_equal(h_wait_exit(s, T_RUN), 0);
	assert_non_null(strstr(s->outbuf, "the kernel sends RST, not FIN"));
	errno = 0;
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ECONNRESET);
	close(fd);
	KERNEL_SHOWS(s->port,
		     { NULL, peer, s->addr, 0 },
		     { NULL, s->addr, peer, 0 });
}

/* The TIME_WAIT socket keeps its listener's SO_REUSEADDR flag: without it
 * on the old listener, even rebind -r fails. */
static void test_timewait_remembers_old_reuseaddr(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client, *r = &f->rebind;
	struct tuple t;

	run_pair("close-first", "--no-reuseaddr", "close-last", s, c, &t);
	KERNEL_SHOWS(port_of(t.server), { "time-wait", t.server, t.client, 1 });
	assert_int_equal(run_rebind(r, port_of(t.server), 1), 1);
	assert_non_null(strstr(r->errbuf, "Address already in use"));
}

/* After shutdown(SHUT_WR) the client still gets the line the server sends
 * after seeing its FIN; the client's FIN went first, so TIME_WAIT is its. */
static void test_halfclose_still_receives(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client;
	struct tuple t;

	run_pair("halfclose", NULL, "shutdown", s, c, &t);
	assert_true(appears_after(s->outbuf, "recv() = 0: the client sent FIN",
				  "send() 56 bytes after the client's FIN"));
	assert_true(appears_after(c->outbuf, "shutdown(SHUT_WR): FIN sent",
				  "server: got 22 bytes; this line was sent after your FIN"));
	assert_true(appears_after(c->outbuf, "after your FIN", "recv() = 0: the server sent FIN"));
	KERNEL_SHOWS(port_of(t.server),
		     { "time-wait", t.client, t.server, 1 },
		     { NULL, t.server, t.client, 0 });
}

/* The same server against a client that close()s instead: the late line
 * reaches a closed socket, which answers RST, so nothing is left of the
 * connection — not even the TIME_WAIT the client's early FIN would earn. */
static void test_close_instead_of_shutdown_draws_rst(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client;
	struct tuple t;

	run_pair("halfclose", NULL, "close-first", s, c, &t);
	assert_non_null(strstr(s->outbuf, "send() 56 bytes after the client's FIN"));
	KERNEL_SHOWS(port_of(t.server),
		     { NULL, t.client, t.server, 0 },
		     { NULL, t.server, t.client, 0 });
}

/* The client aborts: the server's recv() reports ECONNRESET, and no socket
 * remains for the tuple on either side. */
static void test_client_rst(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client;
	struct tuple t;

	run_pair("echo", NULL, "rst", s, c, &t);
	assert_non_null(strstr(c->outbuf, "close() with SO_LINGER {1, 0}"));
	assert_non_null(strstr(s->outbuf, "recv() = -1, ECONNRESET"));
	assert_null(strstr(s->outbuf, "recv() = 0"));
	KERNEL_SHOWS(port_of(t.server),
		     { NULL, t.client, t.server, 0 },
		     { NULL, t.server, t.client, 0 });
}

/* The server aborts: the client's recv() reports ECONNRESET, after the
 * echo that was already on its way. */
static void test_server_rst(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client;
	struct tuple t;

	run_pair("rst", NULL, "close-last", s, c, &t);
	assert_true(appears_after(c->outbuf, "recv() = 22 bytes", "recv() = -1, ECONNRESET"));
	assert_null(strstr(c->outbuf, "recv() = 0"));
	KERNEL_SHOWS(port_of(t.server),
		     { NULL, t.client, t.server, 0 },
		     { NULL, t.server, t.client, 0 });
}

/* A server that does not close(): CLOSE_WAIT on its end, FIN_WAIT2 on the
 * client's, for as long as it holds the socket; then the usual ending. */
static void test_forgotten_close(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *c = &f->client;
	struct tuple t;

	start_server(s, "forget-close", NULL);
	assert_int_equal(run_client(c, s->port, "close-first"), 0);
	assert_int_equal(h_wait_output(s, "out", "press Enter to call close() at last", T_RUN), 0);
	read_tuple(s, c, &t);
	KERNEL_SHOWS(port_of(t.server),
		     { "close-wait", t.server, t.client, 1 },
		     { "fin-wait-2", t.client, t.server, 1 });

	assert_int_equal(h_feed(s, "\n", 1), 0);
	assert_int_equal(h_wait_exit(s, T_RUN), 0);
	KERNEL_SHOWS(port_of(t.server),
		     { "time-wait", t.client, t.server, 1 },
		     { NULL, t.server, t.client, 0 });
}

static void start_holding_client(struct h_proc *c, const char *port)
{
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", (char *)port, "-m",
			 "hold", NULL };

	assert_int_equal(h_start(c, argv), 0);
}

/* The listener's accept queue as ss -tln reports it: Recv-Q is the number
 * of connections waiting for accept(), Send-Q the backlog. */
static void listen_queue(const char *port, unsigned long *queued, unsigned long *backlog)
{
	char cmd[128], line[512];
	FILE *f;
	int found = 0;

	snprintf(cmd, sizeof(cmd), "ss -tlnH '( sport = :%s )'", port);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "LISTEN %lu %lu", queued, backlog) == 2)
			found++;
	assert_int_equal(pclose(f), 0);
	assert_int_equal(found, 1);
}

/* listen(fd, 1) and no accept(): two clients complete the handshake and
 * wait in the accept queue; the third client's SYN is dropped and it stays
 * in SYN_SENT, blocked in connect(). */
static void test_full_backlog_leaves_syn_sent(void **state)
{
	struct fixture *f = *state;
	struct h_proc *s = &f->server, *a = &f->more[0], *b = &f->more[1], *c = &f->client;
	char a_self[ADDRLEN], a_peer[ADDRLEN], b_self[ADDRLEN], b_peer[ADDRLEN];
	unsigned long queued = 0, backlog = 0;

	start_server(s, "no-accept", NULL);
	assert_non_null(strstr(s->outbuf, "listen(backlog 1)"));

	start_holding_client(a, s->port);
	assert_int_equal(h_wait_output(a, "out", "holding the connection open", T_RUN), 0);
	start_holding_client(b, s->port);
	assert_int_equal(h_wait_output(b, "out", "holding the connection open", T_RUN), 0);
	start_holding_client(c, s->port);
	assert_int_equal(h_wait_output(c, "out", "connect(): SYN sent", T_RUN), 0);

	parse_endpoints(a->outbuf, "connect()", a_self, a_peer);
	parse_endpoints(b->outbuf, "connect()", b_self, b_peer);
	assert_string_equal(a_peer, s->addr);
	assert_string_equal(b_peer, s->addr);
	KERNEL_SHOWS(s->port,
		     { "established", a_self, s->addr, 1 },
		     { "established", s->addr, a_self, 1 },
		     { "established", b_self, s->addr, 1 },
		     { "established", s->addr, b_self, 1 },
		     { "syn-sent", NULL, s->addr, 1 },
		     /* The SYN was dropped, not half-answered. */
		     { "syn-recv", s->addr, NULL, 0 });
	listen_queue(s->port, &queued, &backlog);
	assert_int_equal(queued, 2);
	assert_int_equal(backlog, 1);
	assert_null(strstr(c->outbuf, "connect() done"));

	/* SIGTERM ends the client blocked in connect(). */
	assert_int_equal(h_stop(c, SIGTERM, T_RUN), 128 + SIGTERM);
	assert_int_equal(h_feed(a, "\n", 1), 0);
	assert_int_equal(h_wait_exit(a, T_RUN), 0);
	assert_int_equal(h_feed(b, "\n", 1), 0);
	assert_int_equal(h_wait_exit(b, T_RUN), 0);
	assert_int_equal(h_feed(s, "\n", 1), 0);
	assert_int_equal(h_wait_exit(s, T_RUN), 0);
}

/* -h prints usage to stdout and exits 0; bad options exit 2 with a reason. */
static void expect_exit(const char *prog, char *const args[], int code,
			const char *stream, const char *needle)
{
	char *argv[8] = { (char *)h_lesson(LESSON, prog) };
	struct h_proc p;
	const char *buf;

	for (int i = 0; args[i] != NULL && i < 6; i++)
		argv[i + 1] = args[i];
	assert_int_equal(h_run(&p, argv, NULL, 0, T_RUN), code);
	buf = strcmp(stream, "out") == 0 ? p.outbuf : p.errbuf;
	if (strstr(buf, needle) == NULL)
		fail_msg("%s: expected '%s' on std%s, got: %s", prog, needle, stream, buf);
}

static void test_help_and_bad_options(void **state)
{
	static const char *const progs[] = { "server", "client", "rebind" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		expect_exit(progs[i], (char *[]){ "-h", NULL }, 0, "out", "usage:");
		expect_exit(progs[i], (char *[]){ "-p", "65536", NULL }, 2, "err", "bad port '65536'");
		expect_exit(progs[i], (char *[]){ "-p", "12x", NULL }, 2, "err", "bad port '12x'");
		expect_exit(progs[i], (char *[]){ "--no-such-option", NULL }, 2, "err", "-h' for help");
	}
	expect_exit("server", (char *[]){ "-m", "nope", NULL }, 2, "err", "bad mode 'nope'");
	expect_exit("server", (char *[]){ "--backlog", "-1", NULL }, 2, "err", "bad backlog '-1'");
	expect_exit("client", (char *[]){ "-m", "nope", "-p", "1", NULL }, 2, "err", "bad mode 'nope'");
	expect_exit("client", (char *[]){ "-m", "hold", NULL }, 2, "err", "missing -p PORT");
	expect_exit("client", (char *[]){ "-p", "0", NULL }, 2, "err", "bad port '0'");
	expect_exit("rebind", (char *[]){ "extra", NULL }, 2, "err", "unexpected argument");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_bad_options),
		cmocka_unit_test_setup_teardown(test_client_closes_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_closes_first_then_rebind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timewait_remembers_old_reuseaddr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_unread_data_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_halfclose_still_receives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_instead_of_shutdown_draws_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forgotten_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_backlog_leaves_syn_sent, setup, teardown),
	};

	if (!h_have("ss")) {
		fprintf(stderr, "test_03_tcp_lifecycle: needs ss (iproute2)\n");
		return 1;
	}
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
