/* test_event.c — the trace event wire format (lib/event.c): every field
 * survives format and parse, awkward bytes are percent-encoded, malformed
 * lines are refused, the parser reads nothing past the length it is given
 * (lines sit in malloc'd buffers of exactly that length, so ASan sees any
 * over-read), the errno, TCP state, family and type name tables agree
 * with the system's, and each call name is parsed once into its number
 * (an unknown name kept as SL_CALL_OTHER with its text). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"

/* A copy of s in a buffer of exactly its length: no NUL after it. */
static char *exact(const char *s, size_t len)
{
	char *p = malloc(len != 0 ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

/* Parse s (no NUL passed to the parser) into ev. */
static int parse_exact(const char *s, size_t len, struct sl_event *ev)
{
	char *p = exact(s, len);
	int rc = sl_event_parse(p, len, ev);
	int e = errno;

	free(p);
	errno = e;
	return rc;
}

static int parse_str(const char *s, struct sl_event *ev)
{
	return parse_exact(s, strlen(s), ev);
}

/* An event with every field set to something unlike its neighbours. */
static void full_event(struct sl_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->ph = SL_PH_AFTER;
	ev->has = 0x1ffffffu;  /* every SL_EV_* bit */
	ev->seq = 12;
	ev->pid = 4242;
	ev->tid = 4243;
	ev->ppid = 1;
	sl_event_set_call(ev, "connect");
	ev->fd = 3;
	ev->dom = AF_INET6;
	ev->type = SOCK_STREAM;
	ev->proto = IPPROTO_TCP;
	ev->flags = 0x80800;
	ev->len = 65536;
	ev->n = -5;
	ev->timeout = -1;
	strcpy(ev->addr, "[::1]:40000");
	ev->ret = -1;
	ev->err = ECONNREFUSED;
	strcpy(ev->local, "[::1]:51234");
	strcpy(ev->peer, "/tmp/a b=c%d");
	ev->state = 2;
	ev->ino = 9876543210ULL;
	strcpy(ev->at, "/home/me/my prog+0x12a7");
	strcpy(ev->exe, "/home/me/my prog");
	ev->step = 1;
	ev->dropped = 7;
	ev->t = 123456789012345ULL;
}

static void assert_same_event(const struct sl_event *a, const struct sl_event *b)
{
	assert_int_equal(a->ph, b->ph);
	assert_int_equal(a->has, b->has);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->tid, b->tid);
	assert_int_equal(a->ppid, b->ppid);
	assert_string_equal(a->call, b->call);
	assert_int_equal(a->call_id, b->call_id);
	assert_int_equal(a->fd, b->fd);
	assert_int_equal(a->dom, b->dom);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->timeout, b->timeout);
	assert_int_equal(a->ino, b->ino);
	assert_string_equal(a->addr, b->addr);
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->err, b->err);
	assert_string_equal(a->local, b->local);
	assert_string_equal(a->peer, b->peer);
	assert_int_equal(a->state, b->state);
	assert_string_equal(a->at, b->at);
	assert_string_equal(a->exe, b->exe);
	assert_int_equal(a->step, b->step);
	assert_int_equal(a->dropped, b->dropped);
	assert_int_equal(a->t, b->t);
	/* Nothing else differs either (both were cleared first). */
	assert_memory_equal(a, b, sizeof(*a));
}

/* Format, then parse from an exact-length buffer, and compare. */
static void round_trip(const struct sl_event *ev)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event back;
	int n = sl_event_format(ev, line, sizeof(line));

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(line));
	if (parse_exact(line, (size_t)n, &back) != 0)
		fail_msg("does not parse back: %s", line);
	assert_same_event(ev, &back);
}

/* ---- format and round trips ------------------------------------------------ */

static void test_format_writes_the_documented_line(void **state)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev;
	const char *want;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.ph = SL_PH_BEFORE;
	ev.seq = 12;
	ev.pid = 4242;
	ev.tid = 4242;
	strcpy(ev.call, "connect");
	ev.fd = 3;
	strcpy(ev.addr, "127.0.0.1:40000");
	strcpy(ev.at, "server.c:41");
	ev.t = 123456;
	ev.has = SL_EV_SEQ | SL_EV_PID | SL_EV_TID | SL_EV_CALL | SL_EV_FD |
		 SL_EV_ADDR | SL_EV_AT | SL_EV_T;
	want = "v1 ph=before seq=12 pid=4242 tid=4242 call=connect "
	       "fd=3 a=127.0.0.1:40000 at=server.c:41 t=123456";
	assert_int_equal(sl_event_format(&ev, line, sizeof(line)), strlen(want));
	assert_string_equal(line, want);

	memset(&ev, 0, sizeof(ev));
	ev.ph = SL_PH_AFTER;
	ev.ret = -1;
	ev.err = ECONNREFUSED;
	ev.state = 7;
	ev.dom = AF_INET;
	ev.type = SOCK_DGRAM;
	ev.flags = 0x4000;
	ev.has = SL_EV_RET | SL_EV_ERR | SL_EV_STATE | SL_EV_DOM | SL_EV_TYPE |
		 SL_EV_FLAGS;
	assert_true(sl_event_format(&ev, line, sizeof(line)) > 0);
	assert_string_equal(line, "v1 ph=after dom=AF_INET type=SOCK_DGRAM flags=0x4000 "
			    "ret=-1 err=ECONNREFUSED state=CLOSE");
}

static void test_every_field_round_trips(void **state)
{
	struct sl_event ev;

	(void)state;
	full_event(&ev);
	round_trip(&ev);
}

/* Each field on its own: exactly its bit comes back, and the line it
 * makes again is the same, so its value came back too. */
static void test_each_field_round_trips_alone(void **state)
{
	char line[SL_EVENT_LINE_MAX], again[SL_EVENT_LINE_MAX];
	struct sl_event full, one, back;
	int n;

	(void)state;
	full_event(&full);
	for (uint32_t bit = 1; bit <= SL_EV_INO; bit <<= 1) {
		one = full;
		one.has = bit;
		n = sl_event_format(&one, line, sizeof(line));
		assert_true(n > 0);
		/* "v1 ph=after" and one field. */
		assert_non_null(strchr(line + 12, '='));
		assert_null(strchr(line + 12, ' '));
		assert_int_equal(parse_exact(line, (size_t)n, &back), 0);
		assert_int_equal(back.has, bit);
		assert_int_equal(back.ph, SL_PH_AFTER);
		assert_int_equal(sl_event_format(&back, again, sizeof(again)), n);
		assert_string_equal(again, line);
	}
	for (int ph = SL_PH_HELLO; ph <= SL_PH_AFTER; ph++) {
		memset(&one, 0, sizeof(one));
		one.ph = (enum sl_event_phase)ph;
		round_trip(&one);
	}
}

/* Extremes of every number, and names with no entry (numbers instead). */
static void test_numbers_at_their_limits_round_trip(void **state)
{
	struct sl_event ev;

	(void)state;
	full_event(&ev);
	ev.seq = UINT64_MAX;
	ev.pid = INT32_MIN;
	ev.tid = INT32_MAX;
	ev.fd = -1;
	ev.flags = UINT32_MAX;
	ev.len = UINT64_MAX;
	ev.n = INT64_MIN;
	ev.timeout = INT64_MAX;
	ev.ret = INT64_MIN;
	ev.err = 4000;          /* no name: a number on the wire */
	ev.state = 99;
	ev.dom = 12345;
	ev.type = -7;
	ev.dropped = 0;
	ev.t = 0;
	round_trip(&ev);
	ev.err = INT32_MIN;
	ev.state = -1;
	ev.ret = INT64_MAX;
	ev.n = 0;
	round_trip(&ev);
}

/* Space, '%', '=', newline, control bytes and bytes above 0x7e never
 * appear raw on the wire, and come back byte for byte. */
static void test_awkward_values_are_percent_encoded(void **state)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev, back;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.ph = SL_PH_HELLO;
	strcpy(ev.exe, "a b%c=d\ne\t\x7f\xc3\xa9~");
	ev.has = SL_EV_EXE;
	assert_true(sl_event_format(&ev, line, sizeof(line)) > 0);
	assert_string_equal(line, "v1 ph=hello exe=a%20b%25c%3Dd%0Ae%09%7F%C3%A9~");
	round_trip(&ev);

	/* Every byte but NUL, in one value. */
	memset(&ev, 0, sizeof(ev));
	ev.ph = SL_PH_BEFORE;
	for (int c = 1; c < 256; c++)
		ev.at[c - 1] = (char)c;
	ev.at[255] = '\0';
	ev.has = SL_EV_AT;
	round_trip(&ev);
	assert_int_equal(sl_event_format(&ev, line, sizeof(line)) > 0, 1);
	for (const char *p = line; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p <= 0x7e);

	/* Lower-case hex is read too. */
	assert_int_equal(parse_str("v1 ph=hello exe=%3d%3D%7e", &back), 0);
	assert_string_equal(back.exe, "==~");

	/* An empty string value is a present, empty field. */
	assert_int_equal(parse_str("v1 ph=after call=", &back), 0);
	assert_true(back.has & SL_EV_CALL);
	assert_string_equal(back.call, "");
}

/* The longest possible line fits SL_EVENT_LINE_MAX. */
static void test_worst_case_line_fits(void **state)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev;

	(void)state;
	full_event(&ev);
	memset(ev.call, '\x01', sizeof(ev.call) - 1);
	ev.call_id = SL_CALL_OTHER;
	memset(ev.addr, '\x01', sizeof(ev.addr) - 1);
	memset(ev.local, '\x01', sizeof(ev.local) - 1);
	memset(ev.peer, '\x01', sizeof(ev.peer) - 1);
	memset(ev.at, '\x01', sizeof(ev.at) - 1);
	memset(ev.exe, '\x01', sizeof(ev.exe) - 1);
	ev.seq = ev.len = ev.dropped = ev.t = ev.ino = UINT64_MAX;
	ev.pid = ev.tid = ev.ppid = ev.fd = ev.proto = ev.step = INT32_MIN;
	ev.dom = ev.type = ev.state = ev.err = INT32_MIN;
	ev.n = ev.timeout = ev.ret = INT64_MIN;
	ev.flags = UINT32_MAX;
	assert_true(sl_event_format(&ev, line, sizeof(line)) > 3000);
	round_trip(&ev);
}

/* Too small a buffer: ENOSPC, and nothing written past its end. */
static void test_format_refuses_a_small_buffer(void **state)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev;
	int n;

	(void)state;
	full_event(&ev);
	n = sl_event_format(&ev, line, sizeof(line));
	assert_true(n > 0);
	for (size_t size = 0; size <= (size_t)n + 1; size++) {
		char *buf = malloc(size != 0 ? size : 1);
		int rc;

		assert_non_null(buf);
		errno = 0;
		rc = sl_event_format(&ev, buf, size);
		if (size <= (size_t)n) {
			assert_int_equal(rc, -1);
			assert_int_equal(errno, ENOSPC);
		} else {
			assert_int_equal(rc, n);
			assert_string_equal(buf, line);
		}
		free(buf);
	}
}

static void test_format_refuses_bad_events(void **state)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev;

	(void)state;
	full_event(&ev);
	ev.ph = SL_PH_NONE;
	errno = 0;
	assert_int_equal(sl_event_format(&ev, line, sizeof(line)), -1);
	assert_int_equal(errno, EINVAL);
	ev.ph = (enum sl_event_phase)9;
	assert_int_equal(sl_event_format(&ev, line, sizeof(line)), -1);

	/* A string with no NUL inside its array. */
	full_event(&ev);
	memset(ev.call, 'x', sizeof(ev.call));
	errno = 0;
	assert_int_equal(sl_event_format(&ev, line, sizeof(line)), -1);
	assert_int_equal(errno, EINVAL);
	/* ... harmless while its bit is clear. */
	ev.has &= ~(uint32_t)SL_EV_CALL;
	assert_true(sl_event_format(&ev, line, sizeof(line)) > 0);
	assert_null(strstr(line, "call="));
}

/* ---- parsing ----------------------------------------------------------------- */

static void test_parse_accepts_what_the_grammar_allows(void **state)
{
	struct sl_event ev;

	(void)state;
	assert_int_equal(parse_str("v1 ph=hello", &ev), 0);
	assert_int_equal(ev.ph, SL_PH_HELLO);
	assert_int_equal(ev.has, 0);

	/* One trailing newline, as in a recording. */
	assert_int_equal(parse_str("v1 ph=after ret=5\n", &ev), 0);
	assert_int_equal(ev.ret, 5);

	/* Unknown keys are skipped, wherever they are, even repeated. */
	assert_int_equal(parse_str("v1 zz=1 ph=before future_key=%20x zz= seq=3 z9_=a", &ev), 0);
	assert_int_equal(ev.ph, SL_PH_BEFORE);
	assert_int_equal(ev.seq, 3);
	assert_int_equal(ev.has, SL_EV_SEQ);

	/* Names and numbers both read for the named fields. */
	assert_int_equal(parse_str("v1 ph=after err=EWOULDBLOCK state=1 dom=AF_LOCAL type=2", &ev), 0);
	assert_int_equal(ev.err, EAGAIN);
	assert_int_equal(ev.state, 1);
	assert_int_equal(ev.dom, AF_UNIX);
	assert_int_equal(ev.type, SOCK_DGRAM);

	/* Upper- and lower-case hex in flags; -0 is 0. */
	assert_int_equal(parse_str("v1 ph=after flags=0xAbC ret=-0", &ev), 0);
	assert_int_equal(ev.flags, 0xabc);
	assert_int_equal(ev.ret, 0);

	/* A string exactly as long as its field allows. */
	assert_int_equal(parse_str("v1 ph=after call=abcdefghijklmno", &ev), 0);
	assert_string_equal(ev.call, "abcdefghijklmno");
}

static void test_parse_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"", "v", "v2 ph=before", "V1 ph=before", "v1x ph=before",
		"v12 ph=before", "v1", "v1 ", "v1 seq=1",
		"v1  ph=before", "v1 ph=before ", " v1 ph=before",
		"v1 ph=before\n\n", "v1 ph=before\r", "v1 ph=before\r\n",
		"v1 ph=", "v1 ph=middle", "v1 ph=Before",
		"v1 ph=before ph=after", "v1 ph=before seq=1 seq=1",
		"v1 ph=before =x", "v1 ph=before x", "v1 ph=before Ph=x",
		"v1 ph=before 1x=2", "v1 ph=before x-y=2", "v1 ph=before ph2==",
		"v1 ph=before a=b=c", "v1 ph=before\tseq=1",
		"v1 ph=before a=x\ty", "v1 ph=before a=x\x80y", "v1 ph=before a=x\x7fy",
		"v1 ph=before abcdefghijklmnopqrstuvwxyz012345=1",
		"v1 ph=before seq=", "v1 ph=before seq=-1", "v1 ph=before seq=+1",
		"v1 ph=before seq=1x", "v1 ph=before seq=0x10",
		"v1 ph=before seq=18446744073709551616",
		"v1 ph=before pid=2147483648", "v1 ph=before pid=-2147483649",
		"v1 ph=before ret=9223372036854775808",
		"v1 ph=before ret=-9223372036854775809", "v1 ph=before ret=-",
		"v1 ph=before ret=%20%31",
		"v1 ph=before flags=12", "v1 ph=before flags=0x",
		"v1 ph=before flags=0X12", "v1 ph=before flags=0x123456789",
		"v1 ph=before flags=0xg",
		"v1 ph=before call=a%2", "v1 ph=before call=a%", "v1 ph=before call=a%zz",
		"v1 ph=before call=a%00b", "v1 ph=before zz=%0",
		"v1 ph=before call=abcdefghijklmnop",
		"v1 ph=before err=ENOSUCH", "v1 ph=before err=", "v1 ph=before err=econnrefused",
		"v1 ph=before state=BOGUS", "v1 ph=before dom=AF_BOGUS",
		"v1 ph=before type=SOCK_BOGUS", "v1 ph=before err=1x",
		"v1 ctl=go",
	};
	struct sl_event ev;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ev, 0xa5, sizeof(ev));
		errno = 0;
		if (parse_str(bad[i], &ev) != -1)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
		/* Nothing half-filled is left behind. */
		assert_int_equal(ev.ph, SL_PH_NONE);
		assert_int_equal(ev.has, 0);
	}
	assert_int_equal(sl_event_parse(NULL, 5, &ev), -1);
	assert_int_equal(sl_event_parse("v1 ph=hello", 11, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

/* Oversized string values: refused, never cut or overflowing the field. */
static void test_parse_rejects_oversized_values(void **state)
{
	char line[1200];
	struct sl_event ev;
	int n;

	(void)state;
	n = snprintf(line, sizeof(line), "v1 ph=after a=%0*d", SL_EVENT_ADDR_LEN - 1, 0);
	assert_int_equal(parse_exact(line, (size_t)n, &ev), 0);
	assert_int_equal(strlen(ev.addr), SL_EVENT_ADDR_LEN - 1);
	n = snprintf(line, sizeof(line), "v1 ph=after a=%0*d", SL_EVENT_ADDR_LEN, 0);
	assert_int_equal(parse_exact(line, (size_t)n, &ev), -1);
	n = snprintf(line, sizeof(line), "v1 ph=after at=%0*d", SL_EVENT_PATH_LEN, 0);
	assert_int_equal(parse_exact(line, (size_t)n, &ev), -1);
	/* Encoded bytes count once each once decoded. */
	strcpy(line, "v1 ph=after call=");
	for (int i = 0; i < SL_EVENT_CALL_LEN - 1; i++)
		strcat(line, "%41");
	assert_int_equal(parse_str(line, &ev), 0);
	assert_string_equal(ev.call, "AAAAAAAAAAAAAAA");
	strcat(line, "%41");
	assert_int_equal(parse_str(line, &ev), -1);
	/* A long unknown value is fine: it is skipped, not stored. */
	n = snprintf(line, sizeof(line), "v1 ph=after zz=%0*d", 1000, 0);
	assert_int_equal(parse_exact(line, (size_t)n, &ev), 0);
}

/* Every prefix of a valid line, in a buffer of exactly that length: the
 * parser reads none of the bytes that are not there (ASan would stop the
 * test) and judges each prefix on what it holds. */
static void test_parse_never_reads_past_len(void **state)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev, back;
	int n, accepted = 0;

	(void)state;
	full_event(&ev);
	n = sl_event_format(&ev, line, sizeof(line));
	assert_true(n > 0);
	for (size_t len = 0; len <= (size_t)n; len++) {
		int rc = parse_exact(line, len, &back);

		if (rc == 0)
			accepted++;
		else
			assert_int_equal(errno, EINVAL);
	}
	/* Only cuts at the end of a field's value, or inside a value where
	 * the rest is still valid, may parse; the whole line must. */
	assert_true(accepted > 0);
	assert_int_equal(parse_exact(line, (size_t)n, &back), 0);
	/* A cut inside an escape is refused. */
	assert_int_equal(parse_exact("v1 ph=after exe=a%2", 18, &back), -1);
	assert_int_equal(parse_exact("v1 ph=after exe=a%20", 19, &back), -1);
	assert_int_equal(parse_exact("v1 ph=after exe=a%20", 20, &back), 0);
	assert_string_equal(back.exe, "a ");
	/* Only len counts: what follows it is not looked at. */
	assert_int_equal(sl_event_parse("v1 ph=after ret=12 junk", 18, &back), 0);
	assert_int_equal(back.ret, 12);
	assert_int_equal(sl_event_parse("v1 ph=after ret=12\0ret=13", 18, &back), 0);
	assert_int_equal(back.ret, 12);
}

/* Parsing holds no state: threads parsing and formatting at once get
 * their own results. */
static void *parse_many(void *arg)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev, back;
	intptr_t id = (intptr_t)arg;

	full_event(&ev);
	for (int i = 0; i < 20000; i++) {
		ev.seq = (uint64_t)id * 1000000 + (uint64_t)i;
		snprintf(ev.call, sizeof(ev.call), "t%ld", (long)id);
		if (sl_event_format(&ev, line, sizeof(line)) < 0 ||
		    sl_event_parse(line, strlen(line), &back) < 0 ||
		    back.seq != ev.seq || strcmp(back.call, ev.call) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_threads_do_not_share_state(void **state)
{
	pthread_t th[4];
	void *res;

	(void)state;
	for (intptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, parse_many, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
	}
}

/* ---- names ------------------------------------------------------------------- */

/* Our errno table names every number glibc names, the same way, and
 * nothing else. */
static void test_errno_names_match_the_system(void **state)
{
	int named = 0;

	(void)state;
	/* glibc calls 0 "0"; for us 0 is no error and has no name. */
	assert_null(sl_event_errno_name(0));
	assert_null(sl_event_errno_name(-1));
	for (int e = 1; e < 4096; e++) {
		const char *sys = strerrorname_np(e);
		const char *ours = sl_event_errno_name(e);

		if (sys == NULL) {
			if (ours != NULL)
				fail_msg("%d: we say %s, glibc has no name", e, ours);
			continue;
		}
		if (ours == NULL || strcmp(sys, ours) != 0)
			fail_msg("%d: glibc says %s, we say %s", e, sys, ours ? ours : "nothing");
		assert_int_equal(sl_event_errno_num(ours), e);
		named++;
	}
	assert_true(named > 120);
	assert_string_equal(sl_event_errno_name(ECONNREFUSED), "ECONNREFUSED");
	assert_int_equal(sl_event_errno_num("EADDRINUSE"), EADDRINUSE);
	assert_int_equal(sl_event_errno_num("EWOULDBLOCK"), EAGAIN);
	assert_int_equal(sl_event_errno_num("ENOTSUP"), EOPNOTSUPP);
	assert_int_equal(sl_event_errno_num("EDEADLOCK"), EDEADLK);
	errno = 0;
	assert_int_equal(sl_event_errno_num("ENOSUCH"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sl_event_errno_num("ECONNREFUSEDX"), -1);
	assert_int_equal(sl_event_errno_num("ECONNREFUSE"), -1);
	assert_int_equal(sl_event_errno_num(""), -1);
	assert_int_equal(sl_event_errno_num(NULL), -1);
}

static void test_tcp_state_names(void **state)
{
	static const char *const want[] = {
		NULL, "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
		"LISTEN", "CLOSING",
	};

	(void)state;
	/* The numbers <netinet/tcp.h> gives tcpi_state. */
	assert_string_equal(sl_event_state_name(TCP_ESTABLISHED), "ESTABLISHED");
	assert_string_equal(sl_event_state_name(TCP_SYN_SENT), "SYN_SENT");
	assert_string_equal(sl_event_state_name(TCP_SYN_RECV), "SYN_RECV");
	assert_string_equal(sl_event_state_name(TCP_FIN_WAIT1), "FIN_WAIT1");
	assert_string_equal(sl_event_state_name(TCP_FIN_WAIT2), "FIN_WAIT2");
	assert_string_equal(sl_event_state_name(TCP_TIME_WAIT), "TIME_WAIT");
	assert_string_equal(sl_event_state_name(TCP_CLOSE), "CLOSE");
	assert_string_equal(sl_event_state_name(TCP_CLOSE_WAIT), "CLOSE_WAIT");
	assert_string_equal(sl_event_state_name(TCP_LAST_ACK), "LAST_ACK");
	assert_string_equal(sl_event_state_name(TCP_LISTEN), "LISTEN");
	assert_string_equal(sl_event_state_name(TCP_CLOSING), "CLOSING");
	for (int s = 1; s <= 11; s++) {
		assert_string_equal(sl_event_state_name(s), want[s]);
		assert_int_equal(sl_event_state_num(want[s]), s);
	}
	assert_string_equal(sl_event_state_name(12), "NEW_SYN_RECV");
	assert_string_equal(sl_event_state_name(13), "BOUND_INACTIVE");
	assert_null(sl_event_state_name(0));
	assert_null(sl_event_state_name(14));
	assert_null(sl_event_state_name(-1));
	errno = 0;
	assert_int_equal(sl_event_state_num("established"), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_family_and_type_names(void **state)
{
	(void)state;
	assert_string_equal(sl_event_family_name(AF_INET), "AF_INET");
	assert_string_equal(sl_event_family_name(AF_INET6), "AF_INET6");
	assert_string_equal(sl_event_family_name(AF_UNIX), "AF_UNIX");
	assert_string_equal(sl_event_family_name(AF_NETLINK), "AF_NETLINK");
	assert_string_equal(sl_event_family_name(AF_PACKET), "AF_PACKET");
	assert_null(sl_event_family_name(AF_BLUETOOTH));
	assert_int_equal(sl_event_family_num("AF_LOCAL"), AF_UNIX);
	assert_int_equal(sl_event_family_num("AF_INET6"), AF_INET6);
	assert_int_equal(sl_event_family_num("INET"), -1);
	assert_string_equal(sl_event_socktype_name(SOCK_STREAM), "SOCK_STREAM");
	assert_string_equal(sl_event_socktype_name(SOCK_DGRAM), "SOCK_DGRAM");
	assert_string_equal(sl_event_socktype_name(SOCK_SEQPACKET), "SOCK_SEQPACKET");
	assert_string_equal(sl_event_socktype_name(SOCK_RAW), "SOCK_RAW");
	assert_string_equal(sl_event_socktype_name(SOCK_RDM), "SOCK_RDM");
	assert_null(sl_event_socktype_name(SOCK_STREAM | SOCK_CLOEXEC));
	assert_int_equal(sl_event_socktype_num("SOCK_SEQPACKET"), SOCK_SEQPACKET);
	assert_int_equal(sl_event_socktype_num("SOCK_NONBLOCK"), -1);
	assert_string_equal(sl_event_phase_name(SL_PH_BEFORE), "before");
	assert_null(sl_event_phase_name(SL_PH_NONE));
}

/* ---- control messages and caller locations ----------------------------------- */

/* ---- calls ---------------------------------------------------------------- */

static void test_calls_parsed_once(void **state)
{
	static const char *const documented[] = {
		"socket", "bind", "listen", "accept", "accept4", "connect", "send",
		"sendto", "sendmsg", "recv", "recvfrom", "recvmsg", "read", "readv",
		"write", "writev", "close", "shutdown", "select", "pselect", "poll",
		"ppoll", "epoll_wait", "epoll_pwait", "epoll_pwait2", "fork",
	};
	char line[SL_EVENT_LINE_MAX], text[64];
	struct sl_event ev;
	int seen[SL_CALL_COUNT] = { 0 };

	(void)state;
	/* Every call event.h lists has its own number, and the line that
	 * names it parses to that number and formats back unchanged. */
	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
		enum sl_event_call c = sl_event_call_num(documented[i]);

		assert_int_not_equal(c, SL_CALL_OTHER);
		assert_false(seen[c]);
		seen[c] = 1;
		assert_string_equal(sl_event_call_name(c), documented[i]);
		snprintf(text, sizeof(text), "v1 ph=before call=%s", documented[i]);
		assert_int_equal(parse_str(text, &ev), 0);
		assert_int_equal(ev.call_id, c);
		assert_string_equal(ev.call, documented[i]);
		assert_int_equal(sl_event_format(&ev, line, sizeof(line)), strlen(text));
		assert_string_equal(line, text);
	}
	assert_int_equal(sizeof(documented) / sizeof(documented[0]), SL_CALL_COUNT - 1);
	assert_int_equal(parse_str("v1 ph=after seq=3 pid=7 call=accept fd=3 ret=4", &ev), 0);
	assert_int_equal(ev.call_id, SL_CALL_ACCEPT);

	/* A call this list does not have: OTHER, its name kept and written. */
	assert_int_equal(parse_str("v1 ph=before call=splice fd=3", &ev), 0);
	assert_int_equal(ev.call_id, SL_CALL_OTHER);
	assert_string_equal(ev.call, "splice");
	assert_true(sl_event_format(&ev, line, sizeof(line)) > 0);
	assert_string_equal(line, "v1 ph=before call=splice fd=3");
	round_trip(&ev);
	/* Names are exact: no other case, no fortified name, no prefix. */
	assert_int_equal(sl_event_call_num("CONNECT"), SL_CALL_OTHER);
	assert_int_equal(sl_event_call_num("__recv_chk"), SL_CALL_OTHER);
	assert_int_equal(sl_event_call_num("accept42"), SL_CALL_OTHER);
	assert_int_equal(sl_event_call_num(""), SL_CALL_OTHER);
	assert_int_equal(sl_event_call_num(NULL), SL_CALL_OTHER);
	assert_null(sl_event_call_name(SL_CALL_OTHER));
	assert_null(sl_event_call_name(SL_CALL_COUNT));
	/* No call key: nothing set. */
	assert_int_equal(parse_str("v1 ph=hello pid=7", &ev), 0);
	assert_false(ev.has & SL_EV_CALL);
	assert_int_equal(ev.call_id, SL_CALL_OTHER);

	/* sl_event_set_call sets the name, the number and the bit. */
	memset(&ev, 0, sizeof(ev));
	sl_event_set_call(&ev, "epoll_pwait2");
	assert_true(ev.has & SL_EV_CALL);
	assert_int_equal(ev.call_id, SL_CALL_EPOLL_PWAIT2);
	sl_event_set_call(&ev, "a_name_longer_than_fifteen");
	assert_string_equal(ev.call, "a_name_longer_t");
	assert_int_equal(ev.call_id, SL_CALL_OTHER);
}

static void test_call_classes(void **state)
{
	(void)state;
	for (int c = SL_CALL_OTHER; c < SL_CALL_COUNT; c++) {
		const char *name = sl_event_call_name((enum sl_event_call)c);
		unsigned class = sl_event_call_class((enum sl_event_call)c);
		int sends = name != NULL && (strncmp(name, "send", 4) == 0 ||
					     strncmp(name, "write", 5) == 0);
		int recvs = name != NULL && (strncmp(name, "recv", 4) == 0 ||
					     strncmp(name, "read", 4) == 0);
		int waits = name != NULL && (strstr(name, "select") != NULL ||
					     strstr(name, "poll") != NULL);
		int accepts = name != NULL && strncmp(name, "accept", 6) == 0;

		assert_int_equal((class & SL_CALLS_SEND) != 0, sends);
		assert_int_equal((class & SL_CALLS_RECV) != 0, recvs);
		assert_int_equal((class & SL_CALLS_WAIT) != 0, waits);
		assert_int_equal((class & SL_CALLS_ACCEPT) != 0, accepts);
		assert_int_equal((class & SL_CALLS_NEW_FD) != 0,
				 accepts || c == SL_CALL_SOCKET);
	}
	assert_int_equal(sl_event_call_class(SL_CALL_COUNT), 0);
}

static void test_ctl_messages(void **state)
{
	static const char *const bad[] = {
		"", "go", "v1", "v1 ctl=", "v1 ctl=jump", "v1 ctl=GO",
		"v1 ctl=go ctl=run", "v1 ctl=go ", "v2 ctl=go", "v1 ctl=go\n\n",
		"v1 ctl=gone", "v1 ctl=g", "v1 ctl=%00",
	};
	char line[32];

	(void)state;
	assert_int_equal(sl_event_ctl_format(SL_CTL_GO, line, sizeof(line)), 9);
	assert_string_equal(line, "v1 ctl=go");
	assert_int_equal(sl_event_ctl_format(SL_CTL_RUN, line, sizeof(line)), 10);
	assert_string_equal(line, "v1 ctl=run");
	assert_int_equal(sl_event_ctl_format(SL_CTL_STEP, line, sizeof(line)), 11);
	assert_string_equal(line, "v1 ctl=step");
	errno = 0;
	assert_int_equal(sl_event_ctl_format(SL_CTL_STEP, line, 11), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(sl_event_ctl_format((enum sl_ctl)0, line, sizeof(line)), -1);
	assert_int_equal(errno, EINVAL);

	for (int c = SL_CTL_GO; c <= SL_CTL_STEP; c++) {
		int n = sl_event_ctl_format((enum sl_ctl)c, line, sizeof(line));
		char *p = exact(line, (size_t)n);

		assert_int_equal(sl_event_ctl_parse(p, (size_t)n), c);
		/* Every shorter cut is something else, or nothing. */
		for (int k = 0; k < n; k++)
			assert_int_not_equal(sl_event_ctl_parse(p, (size_t)k), c);
		free(p);
	}
	assert_int_equal(sl_event_ctl_parse("v1 ctl=run\n", 11), SL_CTL_RUN);
	assert_int_equal(sl_event_ctl_parse("v1 x=1 ctl=step y=%20", 21), SL_CTL_STEP);
	assert_int_equal(sl_event_ctl_parse("v1 ctl=%67o", 11), SL_CTL_GO);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *p = exact(bad[i], strlen(bad[i]));

		errno = 0;
		if (sl_event_ctl_parse(p, strlen(bad[i])) != -1)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
		free(p);
	}
}

static void test_at_split(void **state)
{
	char obj[64];
	uint64_t off = 0;

	(void)state;
	assert_int_equal(sl_event_at_split("/usr/bin/nc+0x4eb9", obj, sizeof(obj), &off), 0);
	assert_string_equal(obj, "/usr/bin/nc");
	assert_int_equal(off, 0x4eb9);
	/* The last "+0x" counts: a path may hold one. */
	assert_int_equal(sl_event_at_split("/a+0x1/b c+0xFFffFFffFFffFFff", obj, sizeof(obj), &off), 0);
	assert_string_equal(obj, "/a+0x1/b c");
	assert_int_equal(off, UINT64_MAX);
	errno = 0;
	assert_int_equal(sl_event_at_split("/a/b", obj, sizeof(obj), &off), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sl_event_at_split("+0x10", obj, sizeof(obj), &off), -1);
	assert_int_equal(sl_event_at_split("/a+0x", obj, sizeof(obj), &off), -1);
	assert_int_equal(sl_event_at_split("/a+0x1g", obj, sizeof(obj), &off), -1);
	assert_int_equal(sl_event_at_split("/a+0x10000000000000000", obj, sizeof(obj), &off), -1);
	assert_int_equal(sl_event_at_split("server.c:41", obj, sizeof(obj), &off), -1);
	errno = 0;
	assert_int_equal(sl_event_at_split("/abcd+0x1", obj, 5, &off), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(sl_event_at_split("/abcd+0x1", obj, 6, &off), 0);
	assert_string_equal(obj, "/abcd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_writes_the_documented_line),
		cmocka_unit_test(test_every_field_round_trips),
		cmocka_unit_test(test_each_field_round_trips_alone),
		cmocka_unit_test(test_numbers_at_their_limits_round_trip),
		cmocka_unit_test(test_awkward_values_are_percent_encoded),
		cmocka_unit_test(test_worst_case_line_fits),
		cmocka_unit_test(test_format_refuses_a_small_buffer),
		cmocka_unit_test(test_format_refuses_bad_events),
		cmocka_unit_test(test_parse_accepts_what_the_grammar_allows),
		cmocka_unit_test(test_parse_rejects_malformed_lines),
		cmocka_unit_test(test_parse_rejects_oversized_values),
		cmocka_unit_test(test_parse_never_reads_past_len),
		cmocka_unit_test(test_threads_do_not_share_state),
		cmocka_unit_test(test_errno_names_match_the_system),
		cmocka_unit_test(test_tcp_state_names),
		cmocka_unit_test(test_family_and_type_names),
		cmocka_unit_test(test_calls_parsed_once),
		cmocka_unit_test(test_call_classes),
		cmocka_unit_test(test_ctl_messages),
		cmocka_unit_test(test_at_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
