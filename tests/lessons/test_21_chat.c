/* test_21_chat.c — lesson 21, the chat room and its client.
 *
 * What these tests prove:
 *  - framing by lines: a line cut into pieces (a partial line gets no
 *    answer), CR LF, two lines in one send, a line of exactly 512 bytes
 *    are each taken as the lines they are; a longer line gets its sender
 *    "* disconnected: line too long ..." and the end of file;
 *  - broadcast: each line reaches every other client once, in order,
 *    never its sender; joins and leaves (/quit, a close) are announced;
 *  - 50 clients at once, of four kinds (our client, nc, socat, Python's
 *    socket module), each sending 100 lines: every client gets every
 *    other client's 100 lines, in order per sender, and none of its own;
 *  - a client that never reads: the others carry on (a listener gets
 *    each line of a talker before the next is sent) until its queue is
 *    full; then it is disconnected: the room is told why, the server's
 *    log says how much was waiting (at most the cap), and the stuck
 *    client, once it reads, finds whole lines in order, the reason, and
 *    the end of file;
 *  - nicknames: /nick announced to the others, a taken name (in any
 *    case) and malformed ones refused, lines carry the new name, /who;
 *  - out of descriptors: a client is told the room is full and closed
 *    (not left waiting, not spinning), and once one leaves the next joins;
 *  - SIGTERM and SIGINT, right after "listening on" or with clients in
 *    the room, end the server with status 0 and tell the clients;
 *  - our client scripted (a MESSAGE, -c lines) and interactive (lines
 *    from standard input, the end of input leaves);
 *  - -h, and bad options exit 2 with a message.
 * Servers run on 127.0.0.1, port 0; every wait has a deadline. Under
 * SOCKLAB_VALGRIND=1 the big room is smaller (8 clients of 20 lines), and
 * a leak or an fd left open fails the exit status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "21-chat"
#define DEADLINE_MS 10000
#define QUIET_MS 200
#define NEVER "\001never\001"
#define MAX_CONNS 4
#define MAX_ROOM 50

/* A client socket and what it has read but not yet taken as lines. */
struct conn {
	int fd;
	char buf[16384];
	size_t len;
};

/* One member of the big room: a process we write to and read from. */
struct member {
	struct h_proc p;
	const char *kind;
	int guest;               /* its guestN */
	char part[1024];         /* a line read in part */
	size_t partlen;
	int next[MAX_ROOM];      /* per sender: the next msg number expected */
	int got;                 /* lines of the others, all told */
	int done;                /* has them all; its input is closed */
};

/* ---- fixture: whatever a test started is stopped, even on failure --------- */

struct fx {
	struct h_proc srv, cl, cl2;
	struct conn c[MAX_CONNS];
	struct member *room;     /* the big room's members, or NULL */
	int nroom;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	for (int i = 0; i < MAX_CONNS; i++)
		f->c[i].fd = -1;
	*state = f;
	return 0;
}

static void kill_proc(struct h_proc *p)
{
	if (p->pid > 0 && p->status < 0)
		h_stop(p, SIGKILL, 2000);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < f->nroom; i++)
		kill_proc(&f->room[i].p);
	free(f->room);
	kill_proc(&f->cl);
	kill_proc(&f->cl2);
	kill_proc(&f->srv);
	for (int i = 0; i < MAX_CONNS; i++)
		if (f->c[i].fd >= 0)
			close(f->c[i].fd);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* Start "server -b 127.0.0.1 -p 0 [a1 a2]". */
static void start_server(struct h_proc *srv, const char *a1, const char *a2)
{
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)a1, (char *)a2, NULL };

	assert_int_equal(h_start(srv, argv), 0);
	if (h_wait_listening(srv, DEADLINE_MS) != 0) {
		char err[512];

		fail_msg("the server never said \"listening on\"; its stderr: %s",
			 h_own_stderr(srv, err, sizeof(err)));
	}
	assert_true(strncmp(srv->addr, "127.0.0.1:", 10) == 0);
}

/* The next line from c, its '\n' included, within timeout_ms (stretched
 * for valgrind). Returns its length, 0 at the end of file, -1 when the
 * deadline passed (or recv failed); errno-free: the line says it all. */
static int next_line(struct conn *c, char *line, size_t size, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long long left;
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - c->buf) + 1;
			size_t keep = len < size ? len : size - 1;

			memcpy(line, c->buf, keep);
			line[keep] = '\0';
			memmove(c->buf, c->buf + len, c->len - len);
			c->len -= len;
			return (int)len;
		}
		if (c->len == sizeof(c->buf))
			return -1; /* no line ends in 16 KiB: not a line */
		left = deadline - h_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (n == 0) {
			line[0] = '\0';
			return 0;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		c->len += (size_t)n;
	}
}

/* The next line must be want (with its '\n'). */
static void expect_line(struct conn *c, const char *who, const char *want)
{
	char line[1024];
	int n = next_line(c, line, sizeof(line), DEADLINE_MS);

	if (n <= 0)
		fail_msg("%s: expected \"%.*s\", got %s", who, (int)strcspn(want, "\n"), want,
			 n == 0 ? "the end of file" : "nothing in time");
	if (strcmp(line, want) != 0)
		fail_msg("%s: expected \"%.*s\", got \"%.*s\"", who, (int)strcspn(want, "\n"), want,
			 (int)strcspn(line, "\n"), line);
}

/* Read lines until one starts with prefix; it is copied to line. Lines
 * before it are skipped (notices, others' talk). */
static void expect_line_starting(struct conn *c, const char *who, const char *prefix,
				 char *line, size_t size)
{
	for (;;) {
		int n = next_line(c, line, size, DEADLINE_MS);

		if (n <= 0)
			fail_msg("%s: no line starting \"%s\" came (%s)", who, prefix,
				 n == 0 ? "the end of file came first" : "nothing in time");
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			return;
	}
}

/* Nothing more comes but the end of file. */
static void expect_eof(struct conn *c, const char *who)
{
	char line[1024];
	int n = next_line(c, line, sizeof(line), DEADLINE_MS);

	if (n != 0)
		fail_msg("%s: expected the end of file, got %s%.*s%s", who,
			 n < 0 ? "nothing in time" : "\"", (int)strcspn(line, "\n"), line,
			 n < 0 ? "" : "\"");
}

static void send_text(struct conn *c, const char *text)
{
	size_t len = strlen(text);

	assert_int_equal(send(c->fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Connect c and read its welcome; returns its guest number. */
static int join(struct conn *c, const char *port)
{
	char line[256];
	int guest = -1;

	c->len = 0;
	c->fd = h_connect(port, DEADLINE_MS);
	assert_true(c->fd >= 0);
	expect_line_starting(c, "a new client", "* welcome, guest", line, sizeof(line));
	assert_int_equal(sscanf(line, "* welcome, guest%d:", &guest), 1);
	return guest;
}

/* ---- framing by lines ------------------------------------------------------ */

static void test_lines_arrive_whole_however_they_are_cut(void **state)
{
	struct fx *f = *state;
	struct conn *a = &f->c[0];
	char want[64], line[1024], longest[600];
	int one = 1, guest;

	start_server(&f->srv, NULL, NULL);
	guest = join(a, f->srv.port);
	snprintf(want, sizeof(want), "* 1 here: guest%d\n", guest);
	assert_int_equal(setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);

	/* A command in three pieces, the last after a CR: no answer until
	 * the '\n' comes, then one. */
	send_text(a, "/w");
	if (next_line(a, line, sizeof(line), QUIET_MS) >= 0)
		fail_msg("half a line (\"/w\") got an answer: \"%.*s\"", (int)strcspn(line, "\n"), line);
	send_text(a, "ho\r");
	if (next_line(a, line, sizeof(line), QUIET_MS) >= 0)
		fail_msg("a line without its '\\n' (\"/who\\r\") got an answer: \"%.*s\"",
			 (int)strcspn(line, "\n"), line);
	send_text(a, "\n");
	expect_line(a, "/who sent in three pieces", want);

	/* Two lines in one send: two answers. */
	send_text(a, "/who\n/who\n");
	expect_line(a, "the first of two lines in one send", want);
	expect_line(a, "the second of two lines in one send", want);

	/* 512 bytes with the '\n' is a line the server takes (an unknown
	 * command: the list of commands comes back). */
	longest[0] = '/';
	memset(longest + 1, 'x', 510);
	strcpy(longest + 511, "\n");
	send_text(a, longest);
	expect_line(a, "a line of 512 bytes", "* commands: /nick NAME, /who, /quit\n");
	send_text(a, "/who\n");
	expect_line(a, "/who after the longest line", want);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_a_line_too_long_is_refused_with_a_reason(void **state)
{
	struct fx *f = *state;
	struct conn *a = &f->c[0];
	char longer[1024];

	start_server(&f->srv, NULL, NULL);
	join(a, f->srv.port);
	/* 600 bytes and no '\n': the server's line buffer (512) is full. */
	memset(longer, 'y', 600);
	longer[600] = '\0';
	send_text(a, longer);
	expect_line(a, "the sender of a line too long",
		    "* disconnected: line too long (the limit is 512 bytes)\n");
	expect_eof(a, "the sender of a line too long");
	assert_int_equal(h_wait_output(&f->srv, "out", " left: line too long", DEADLINE_MS), 0);
	/* The server goes on: a new client is welcomed. */
	join(&f->c[1], f->srv.port);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- broadcast ----------------------------------------------------------------- */

static void test_the_room_hears_each_line_once_in_order(void **state)
{
	struct fx *f = *state;
	struct conn *a = &f->c[0], *b = &f->c[1], *c = &f->c[2];
	char want[128], line[1024];
	int ga, gb, gc;

	start_server(&f->srv, NULL, NULL);
	ga = join(a, f->srv.port);
	gb = join(b, f->srv.port);
	snprintf(want, sizeof(want), "* guest%d joined\n", gb);
	expect_line(a, "the first client, when the second joins", want);

	/* Three lines from a (two in one send), one from b. */
	send_text(a, "one\ntwo\n");
	send_text(a, "three\n");
	send_text(b, "four\n");
	snprintf(want, sizeof(want), "guest%d: one\n", ga);
	expect_line(b, "the second client", want);
	snprintf(want, sizeof(want), "guest%d: two\n", ga);
	expect_line(b, "the second client", want);
	snprintf(want, sizeof(want), "guest%d: three\n", ga);
	expect_line(b, "the second client", want);
	snprintf(want, sizeof(want), "guest%d: four\n", gb);
	expect_line(a, "the first client", want);
	/* Nothing of its own came back to a (it would have come before the
	 * answer to a later /who: one client's lines are handled in order). */
	send_text(a, "/who\n");
	expect_line_starting(a, "the first client", "* 2 here:", line, sizeof(line));

	/* A third joins and says /quit: told "bye", then the end of file;
	 * the others hear it come and go. */
	gc = join(c, f->srv.port);
	snprintf(want, sizeof(want), "* guest%d joined\n", gc);
	expect_line(a, "the first client, when the third joins", want);
	expect_line(b, "the second client, when the third joins", want);
	send_text(c, "/quit\n");
	expect_line(c, "the client that said /quit", "* bye\n");
	expect_eof(c, "the client that said /quit");
	snprintf(want, sizeof(want), "* guest%d left\n", gc);
	expect_line(a, "the first client, when the third says /quit", want);
	expect_line(b, "the second client, when the third says /quit", want);

	/* b just closes: a hears that too. */
	close(b->fd);
	b->fd = -1;
	snprintf(want, sizeof(want), "* guest%d left\n", gb);
	expect_line(a, "the first client, when the second closes", want);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* The big room: 50 clients of four kinds, each a process whose standard
 * input we write and whose standard output we read. */

static const char relay_py[] =
	"import os, selectors, socket, sys\n"
	"s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
	"sel = selectors.DefaultSelector()\n"
	"sel.register(0, selectors.EVENT_READ, 'keys')\n"
	"sel.register(s, selectors.EVENT_READ, 'room')\n"
	"while True:\n"
	"    for key, _ in sel.select():\n"
	"        if key.data == 'keys':\n"
	"            data = os.read(0, 65536)\n"
	"            if data:\n"
	"                s.sendall(data)\n"
	"            else:\n"
	"                s.shutdown(socket.SHUT_WR)\n"
	"                sel.unregister(0)\n"
	"        else:\n"
	"            data = s.recv(65536)\n"
	"            if not data:\n"
	"                sys.exit(0)\n"
	"            sys.stdout.buffer.write(data)\n"
	"            sys.stdout.buffer.flush()\n";

static void start_member(struct member *m, int i, const char *port)
{
	static const char *const kinds[] = { "client", "nc", "socat", "python" };
	char target[64];

	snprintf(target, sizeof(target), "TCP:127.0.0.1:%s", port);
	m->kind = kinds[i % 4];
	if (strcmp(m->kind, "client") == 0) {
		char *argv[] = { (char *)h_lesson(LESSON, "client"), "-p", (char *)port, NULL };

		assert_int_equal(h_start(&m->p, argv), 0);
	} else if (strcmp(m->kind, "nc") == 0) {
		char *argv[] = { "nc", "-N", "127.0.0.1", (char *)port, NULL };

		assert_int_equal(h_start(&m->p, argv), 0);
	} else if (strcmp(m->kind, "socat") == 0) {
		char *argv[] = { "socat", "-", target, NULL };

		assert_int_equal(h_start(&m->p, argv), 0);
	} else {
		char *argv[] = { "python3", "-c", (char *)relay_py, (char *)port, NULL };

		assert_int_equal(h_start(&m->p, argv), 0);
	}
	m->guest = -1;
}

/* One line a member printed: its welcome gives its guest number; a line
 * of talk "guestN: msg K" must be from another member and the next from
 * that one. by_guest maps guest numbers to members. */
static void member_line(struct member *room, int n, int i, const int *by_guest, int lines,
			const char *line)
{
	struct member *m = &room[i];
	int guest, k, from;

	if (sscanf(line, "* welcome, guest%d:", &guest) == 1) {
		m->guest = guest;
		return;
	}
	if (line[0] == '*')
		return; /* joins and leaves */
	if (sscanf(line, "guest%d: msg %d", &guest, &k) != 2 || guest < 0 || guest >= 4 * MAX_ROOM)
		fail_msg("member %d (%s) got a line that is no one's: \"%s\"", i, m->kind, line);
	from = by_guest[guest];
	if (from < 0 || from >= n)
		fail_msg("member %d (%s) got \"%s\": guest%d is not in the room", i, m->kind, line,
			 guest);
	if (from == i)
		fail_msg("member %d (%s) got its own line back: \"%s\"", i, m->kind, line);
	if (k != m->next[from])
		fail_msg("member %d (%s) got msg %d from member %d (%s) when msg %d was next: "
			 "a line lost, repeated or out of order", i, m->kind, k, from,
			 room[from].kind, m->next[from]);
	if (k > lines)
		fail_msg("member %d (%s) got msg %d from member %d: only %d were sent", i, m->kind,
			 k, from, lines);
	m->next[from]++;
	m->got++;
}

/* Read what the members printed, for up to ms; lines go to member_line. */
static void read_members(struct member *room, int n, const int *by_guest, int lines, int ms)
{
	struct pollfd pfd[MAX_ROOM];

	for (int i = 0; i < n; i++) {
		pfd[i].fd = room[i].p.out;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)n, ms) <= 0)
		return;
	for (int i = 0; i < n; i++) {
		struct member *m = &room[i];
		char buf[8192];
		ssize_t got;

		if (pfd[i].revents == 0)
			continue;
		got = read(m->p.out, buf, sizeof(buf));
		if (got <= 0 && m->done) {
			close(m->p.out); /* it has left: its end of output */
			m->p.out = -1;
			continue;
		}
		if (got <= 0) {
			char err[512];

			fail_msg("member %d (%s) ended its output early (%d of its lines); its "
				 "stderr: %s", i, m->kind, m->got,
				 h_own_stderr(&m->p, err, sizeof(err)));
		}
		for (ssize_t j = 0; j < got; j++) {
			if (m->partlen == sizeof(m->part) - 1)
				fail_msg("member %d (%s) printed a line longer than 1 KiB", i, m->kind);
			m->part[m->partlen++] = buf[j];
			if (buf[j] == '\n') {
				m->part[m->partlen] = '\0';
				member_line(room, n, i, by_guest, lines, m->part);
				m->partlen = 0;
			}
		}
	}
}

static void test_fifty_mixed_clients_hear_every_line_in_order(void **state)
{
	struct fx *f = *state;
	int n = h_under_valgrind() ? 8 : MAX_ROOM;
	int lines = h_under_valgrind() ? 20 : 100;
	int by_guest[4 * MAX_ROOM];
	long long deadline;
	int welcomed, finished;
	char *script;
	size_t len = 0;

	if (!h_have("nc") || !h_have("socat") || !h_have("python3"))
		fail_msg("nc, socat and python3 are needed (make deps installs them)");
	start_server(&f->srv, NULL, NULL);
	f->room = calloc((size_t)n, sizeof(*f->room));
	assert_non_null(f->room);
	f->nroom = n;
	for (int i = 0; i < n; i++)
		start_member(&f->room[i], i, f->srv.port);

	/* Everyone in before anyone talks: each member has its welcome. */
	for (int i = 0; i < 4 * MAX_ROOM; i++)
		by_guest[i] = -1;
	deadline = h_now_ms() + h_scaled(3 * DEADLINE_MS);
	do {
		read_members(f->room, n, by_guest, lines, 100);
		welcomed = 0;
		for (int i = 0; i < n; i++)
			welcomed += f->room[i].guest >= 0;
	} while (welcomed < n && h_now_ms() < deadline);
	if (welcomed < n)
		fail_msg("only %d of %d clients were welcomed in time", welcomed, n);
	for (int i = 0; i < n; i++) {
		assert_true(f->room[i].guest < 4 * MAX_ROOM);
		by_guest[f->room[i].guest] = i;
		for (int j = 0; j < n; j++)
			f->room[i].next[j] = 1;
	}

	/* Each one's lines, written to its standard input at once. */
	script = malloc((size_t)lines * 16);
	assert_non_null(script);
	for (int k = 1; k <= lines; k++)
		len += (size_t)sprintf(script + len, "msg %d\n", k);
	for (int i = 0; i < n; i++)
		assert_int_equal(h_feed(&f->room[i].p, script, len), 0);
	free(script);

	/* Until each has every other one's lines; a member that has them all
	 * leaves (end of its input). */
	deadline = h_now_ms() + h_scaled(6 * DEADLINE_MS);
	do {
		read_members(f->room, n, by_guest, lines, 100);
		finished = 0;
		for (int i = 0; i < n; i++) {
			struct member *m = &f->room[i];

			if (!m->done && m->got == (n - 1) * lines) {
				m->done = 1;
				assert_int_equal(h_feed(&m->p, NULL, 0), 0);
			}
			finished += m->done;
		}
	} while (finished < n && h_now_ms() < deadline);
	for (int i = 0; i < n; i++)
		if (!f->room[i].done)
			fail_msg("member %d (%s) got %d of the %d lines of the others in time", i,
				 f->room[i].kind, f->room[i].got, (n - 1) * lines);

	/* Each leaves, and ends by itself with status 0. */
	for (int i = 0; i < n; i++) {
		int rc = h_wait_exit(&f->room[i].p, DEADLINE_MS);

		if (rc != 0)
			fail_msg("member %d (%s) ended with %d", i, f->room[i].kind, rc);
	}
	assert_int_equal(h_wait_count(&f->srv, "out", " left (", n, DEADLINE_MS), 0);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- a client that never reads --------------------------------------------------- */

static void test_a_client_that_never_reads_is_told_and_disconnected(void **state)
{
	struct fx *f = *state;
	struct conn *stuck = &f->c[0], *listener = &f->c[1], *talker = &f->c[2];
	char line[1024], want[1024], notice[64], pad[200];
	int gs, gt, sent = 0, last = 0, told = 0;
	unsigned long waiting = 0;
	const char *at;

	start_server(&f->srv, "-q", "4096");
	/* Small buffers on its side: the kernel holds little for it, so the
	 * server's queue for it fills soon. It reads its welcome, then never. */
	stuck->fd = h_connect_small_buffers(f->srv.port, 4096, DEADLINE_MS);
	assert_true(stuck->fd >= 0);
	expect_line_starting(stuck, "the stuck client", "* welcome, guest", line, sizeof(line));
	assert_int_equal(sscanf(line, "* welcome, guest%d:", &gs), 1);
	join(listener, f->srv.port);
	gt = join(talker, f->srv.port);
	snprintf(notice, sizeof(notice), "* guest%d left: not reading (", gs);

	/* The talker talks, line by line; the listener hears each line before
	 * the next is sent, while the stuck client's queue fills, and goes on
	 * hearing them after the room is told the stuck one has left. */
	memset(pad, '.', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	while (!told) {
		if (sent == 5000)
			fail_msg("5000 lines (1 MB) went to a client that never reads, and it was "
				 "never disconnected");
		snprintf(line, sizeof(line), "msg %d %s\n", ++sent, pad);
		send_text(talker, line);
		snprintf(want, sizeof(want), "guest%d: %s", gt, line);
		for (;;) {
			int n = next_line(listener, line, sizeof(line), DEADLINE_MS);

			if (n <= 0)
				fail_msg("while a client does not read, the listener got no line %d "
					 "in time: the room stalls", sent);
			if (strncmp(line, notice, strlen(notice)) == 0)
				told = 1;
			else if (strcmp(line, want) == 0)
				break;
			else if (line[0] != '*')
				fail_msg("the listener expected \"%.20s...\", got \"%.40s\"", want,
					 line);
		}
	}
	/* The log says how much was waiting: no more than the cap. */
	assert_int_equal(h_wait_output(&f->srv, "out", " left: not reading (", DEADLINE_MS), 0);
	at = strstr(f->srv.outbuf, " left: not reading (");
	assert_int_equal(sscanf(at, " left: not reading (%lu bytes waiting)", &waiting), 1);
	if (waiting == 0 || waiting > 4096)
		fail_msg("the server says %lu bytes were waiting, with a cap of 4096", waiting);
	/* The talk goes on without it. */
	send_text(talker, "after\n");
	snprintf(want, sizeof(want), "guest%d: after\n", gt);
	expect_line(listener, "the listener, after the stuck client left", want);

	/* It reads at last: whole lines in order, the reason, the end. */
	for (;;) {
		int n = next_line(stuck, line, sizeof(line), DEADLINE_MS);

		if (n <= 0)
			fail_msg("the stuck client: after %d lines, %s and no reason", last,
				 n == 0 ? "the end of file" : "nothing in time");
		if (strncmp(line, "* disconnected: not reading (", 29) == 0)
			break;
		if (line[0] == '*')
			continue;
		snprintf(want, sizeof(want), "guest%d: msg %d %s\n", gt, last + 1, pad);
		if (strcmp(line, want) != 0)
			fail_msg("the stuck client expected msg %d whole, got \"%.60s\"", last + 1,
				 line);
		last++;
	}
	if (last == 0 || last >= sent)
		fail_msg("the stuck client got %d of the %d lines before it was disconnected", last,
			 sent);
	expect_eof(stuck, "the stuck client, after the reason");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- nicknames ------------------------------------------------------------------ */

static void test_nicknames(void **state)
{
	struct fx *f = *state;
	struct conn *a = &f->c[0], *b = &f->c[1];
	const char *bad = "* a nickname is 1 to 16 letters, digits, '-' or '_'\n";
	char want[128], line[1024];
	int ga, gb;

	start_server(&f->srv, NULL, NULL);
	ga = join(a, f->srv.port);
	gb = join(b, f->srv.port);
	expect_line_starting(a, "the first client", "* guest", line, sizeof(line)); /* joined */

	send_text(a, "/nick alice\n");
	expect_line(a, "after /nick alice", "* you are now alice\n");
	snprintf(want, sizeof(want), "* guest%d is now alice\n", ga);
	expect_line(b, "the other client, after /nick alice", want);

	send_text(b, "/nick ALICE\n");
	expect_line(b, "/nick ALICE, when alice is here", "* ALICE is taken\n");
	send_text(b, "/nick two words\n");
	expect_line(b, "/nick two words", bad);
	send_text(b, "/nick abcdefghijklmnopq\n");
	expect_line(b, "/nick with 17 letters", bad);
	send_text(b, "/nick \n");
	expect_line(b, "/nick with no name", bad);
	send_text(b, "/nick bob-the_2nd\n");
	expect_line(b, "/nick bob-the_2nd", "* you are now bob-the_2nd\n");
	snprintf(want, sizeof(want), "* guest%d is now bob-the_2nd\n", gb);
	expect_line(a, "alice, when bob renames", want);

	send_text(a, "hello bob\n");
	expect_line(b, "bob", "alice: hello bob\n");
	send_text(a, "/who\n");
	expect_line_starting(a, "alice's /who", "* 2 here:", line, sizeof(line));
	if (strstr(line, " alice") == NULL || strstr(line, " bob-the_2nd") == NULL)
		fail_msg("/who said \"%.*s\"", (int)strcspn(line, "\n"), line);

	/* A name set free is free: bob leaves, alice may take his. */
	close(b->fd);
	b->fd = -1;
	expect_line(a, "alice, when bob leaves", "* bob-the_2nd left\n");
	send_text(a, "/nick BOB-the_2nd\n");
	expect_line(a, "/nick of a client gone", "* you are now BOB-the_2nd\n");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- out of descriptors ---------------------------------------------------------- */

static void test_out_of_descriptors_a_client_is_told_the_room_is_full(void **state)
{
	struct fx *f = *state;
	struct rlimit low;
	char line[256], want[64];
	long long cpu;
	int limit, first;

	if (h_under_valgrind())
		skip(); /* valgrind keeps descriptors of its own below the limit */
	start_server(&f->srv, NULL, NULL);
	/* Room for exactly two clients (the spare descriptor is held already). */
	limit = h_fd_limit_leaving(f->srv.pid, 2);
	assert_true(limit > 0);
	low.rlim_cur = low.rlim_max = (rlim_t)limit;
	assert_int_equal(prlimit(f->srv.pid, RLIMIT_NOFILE, &low, NULL), 0);
	first = join(&f->c[0], f->srv.port);
	join(&f->c[1], f->srv.port);

	/* The third is told, and closed: not left waiting in the backlog. */
	f->c[2].fd = h_connect(f->srv.port, DEADLINE_MS);
	assert_true(f->c[2].fd >= 0);
	expect_line(&f->c[2], "a client with no descriptor left for it",
		    "* the room is full (the server is out of descriptors): try again later\n");
	expect_eof(&f->c[2], "a client turned away");
	assert_int_equal(h_wait_output(&f->srv, "out", "turned a client away", DEADLINE_MS), 0);
	/* Nothing waits: the server sleeps. */
	cpu = h_cpu_used_over(f->srv.pid, 500, h_idle_read_output, &f->srv);
	if (cpu < 0 || cpu * 5 >= 500)
		fail_msg("out of descriptors, the server used %lld ms of CPU in 500 ms", cpu);
	close(f->c[2].fd);
	f->c[2].fd = -1;

	/* One leaves: the next joins. */
	close(f->c[0].fd);
	f->c[0].fd = -1;
	snprintf(want, sizeof(want), "* guest%d left", first);
	expect_line_starting(&f->c[1], "the one left in the room", want, line, sizeof(line));
	assert_int_equal(h_wait_output(&f->srv, "out", want + 2, DEADLINE_MS), 0);
	join(&f->c[0], f->srv.port);
	assert_int_equal(h_count(f->srv.outbuf, "turned a client away"), 1);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- stopping --------------------------------------------------------------------- */

static void test_signals_stop_the_room(void **state)
{
	struct fx *f = *state;
	const int sigs[] = { SIGTERM, SIGINT };

	/* The moment it says "listening on". */
	for (int i = 0; i < 4; i++) {
		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, NULL, NULL);
		assert_int_equal(h_stop(&f->srv, sigs[i % 2], DEADLINE_MS), 0);
		assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
	}
	/* With two clients in the room: each is told. */
	memset(&f->srv, 0, sizeof(f->srv));
	start_server(&f->srv, NULL, NULL);
	join(&f->c[0], f->srv.port);
	join(&f->c[1], f->srv.port);
	assert_int_equal(h_wait_count(&f->srv, "out", " joined (", 2, DEADLINE_MS), 0);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	for (int i = 0; i < 2; i++) {
		char line[256];

		expect_line_starting(&f->c[i], "a client when the server stops",
				     "* disconnected: the server is stopping\n", line, sizeof(line));
		expect_eof(&f->c[i], "a client when the server stops");
	}
}

/* ---- our client ----------------------------------------------------------------- */

static void test_our_client_scripted_and_interactive(void **state)
{
	struct fx *f = *state;
	char *bob[] = { (char *)h_lesson(LESSON, "client"), "-p", NULL, "-n", "bob", NULL };
	char *alice[] = { (char *)h_lesson(LESSON, "client"), "-p", NULL, "-n", "alice",
			  "-c", "2", "-w", "60000", "hello", "bob", NULL };
	const char *alice_says = "alice: hello bob\nalice: line 1\nalice: line 2\n";

	start_server(&f->srv, NULL, NULL);
	bob[2] = alice[2] = f->srv.port;
	/* bob: interactive, his standard input ours. */
	assert_int_equal(h_start(&f->cl, bob), 0);
	assert_int_equal(h_wait_output(&f->cl, "out", "* you are now bob\n", DEADLINE_MS), 0);
	/* alice: scripted, the words as one line and two numbered lines. */
	assert_int_equal(h_start(&f->cl2, alice), 0);
	assert_int_equal(h_wait_output(&f->cl, "out", alice_says, DEADLINE_MS), 0);
	assert_int_equal(h_feed(&f->cl, "hi alice\n", 9), 0);
	assert_int_equal(h_wait_output(&f->cl2, "out", "bob: hi alice\n", DEADLINE_MS), 0);
	/* A stop signal: alice leaves at once, status 0. */
	assert_int_equal(h_stop(&f->cl2, SIGTERM, DEADLINE_MS), 0);
	assert_int_equal(h_wait_output(&f->cl, "out", "* alice left\n", DEADLINE_MS), 0);
	/* The end of bob's input: he leaves, and ends once the server has
	 * closed. */
	assert_int_equal(h_feed(&f->cl, NULL, 0), 0);
	assert_int_equal(h_wait_exit(&f->cl, DEADLINE_MS), 0);
	assert_int_equal(h_wait_output(&f->srv, "out", "bob left (0 here)", DEADLINE_MS), 0);
	assert_null(strstr(f->cl.outbuf, "bob: "));  /* never his own lines */
	assert_null(strstr(f->cl2.outbuf, "alice: "));

	/* A line longer than the server takes: our client prints the reason
	 * and ends with status 0 when the server closes. */
	{
		char *longer[] = { (char *)h_lesson(LESSON, "client"), "-p", f->srv.port,
				   "-c", "1", "-s", "600", NULL };

		assert_int_equal(h_run(&f->cl, longer, NULL, 0, DEADLINE_MS), 0);
		assert_non_null(strstr(f->cl.outbuf, "* disconnected: line too long"));
	}
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- command line ------------------------------------------------------------------ */

static void test_help_and_bad_options(void **state)
{
	struct fx *f = *state;
	const char *progs[] = { "server", "client" };
	char *const bad[][4] = {
		{ "server", "-q", "100", NULL },
		{ "server", "-q", "big", NULL },
		{ "server", "-p", "70000", NULL },
		{ "server", "-x", NULL, NULL },
		{ "server", "extra", NULL, NULL },
		{ "client", "hello", NULL, NULL },      /* no -p */
		{ "client", "-p", "0", NULL },
		{ "client", "-p", "80", "-c" },         /* -c without its number */
		{ "client", "-p", "80", "--stuck=x" },
	};
	const char *why = h_check_usage(&f->cl, LESSON, progs, sizeof(progs) / sizeof(progs[0]),
					bad, sizeof(bad) / sizeof(bad[0]), DEADLINE_MS);

	if (why != NULL)
		fail_msg("%s", why);
	{
		char *argv[] = { (char *)h_lesson(LESSON, "server"), "-q", "100", NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(f->cl.errbuf, "bad queue size '100'"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_arrive_whole_however_they_are_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_line_too_long_is_refused_with_a_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_room_hears_each_line_once_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifty_mixed_clients_hear_every_line_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_client_that_never_reads_is_told_and_disconnected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nicknames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors_a_client_is_told_the_room_is_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals_stop_the_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_our_client_scripted_and_interactive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_bad_options, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
