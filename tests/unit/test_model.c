/* test_model.c — tui/model.c and friends: the visualizer's session model.
 *
 * Each test feeds a sequence of inputs — trace event lines exactly as the
 * shim sends them, TCP segments as the capture or the inference makes
 * them, sock_diag dumps — and checks the connections, sockets and TCP
 * states the model ends with, and the history of each state change.
 *
 * The model is pure (no I/O, no clock), so its sources are compiled into
 * this test:
 */
// SOURCES: tui/model.c tui/sockets.c tui/tcpfsm.c tui/infer.c tui/compact.c tui/endpoint.c tui/dump.c tui/fate.c tui/analysis.c
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "event.h"
#include "model.h"

#define MS(x) ((mtime_t)(x) * NS_PER_MS)
#define T0 MS(1000000)

#define SRV "127.0.0.1:5000"
#define CLI "127.0.0.1:40001"
#define CLI2 "127.0.0.1:40002"

static int setup(void **state)
{
	struct model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -1;
	model_init(m);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	model_free(*state);
	free(*state);
	return 0;
}

/* Apply one trace line (printf-style, at time T0 + ms). */
static void ev(struct model *m, unsigned ms, const char *fmt, ...)
{
	char line[SL_EVENT_LINE_MAX], full[SL_EVENT_LINE_MAX + 64];
	struct sl_event e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s t=%llu", line,
		 (unsigned long long)(T0 + MS(ms)));
	assert_int_equal(sl_event_parse(full, strlen(full), &e), 0);
	assert_int_equal(model_apply_event(m, &e), 0);
}

static void seg_opts(struct model *m, unsigned ms, const char *src, const char *dst,
                     uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len, int mss)
{
	struct mseg g;

	memset(&g, 0, sizeof(g));
	g.t = T0 + MS(ms);
	assert_int_equal(ep_parse(src, &g.src), 0);
	assert_int_equal(ep_parse(dst, &g.dst), 0);
	g.flags = flags;
	g.seq = seq;
	g.ack = ack;
	g.len = len;
	g.win = 512;
	if (mss > 0) {
		g.has_mss = 1;
		g.mss = (uint16_t)mss;
		g.has_ws = 1;
		g.ws = 7;
		g.sack_ok = 1;
	}
	assert_int_equal(model_apply_segment(m, &g), 0);
}

static void seg(struct model *m, unsigned ms, const char *src, const char *dst,
                uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
	seg_opts(m, ms, src, dst, flags, seq, ack, len, 0);
}

static struct msock *by_fd(struct model *m, int pid, int fd)
{
	struct msock *s = model_sock_by_fd(m, pid, fd);

	assert_non_null(s);
	return s;
}

static struct msock *by_tuple(struct model *m, const char *local, const char *peer)
{
	struct ep l, p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(ep_parse(local, &l), 0);
	if (peer != NULL)
		assert_int_equal(ep_parse(peer, &p), 0);
	return model_sock_by_tuple(m, &l, &p);
}

/* Did s ever pass from -> to? */
static int went(const struct msock *s, int from, int to)
{
	for (int i = 0; i < s->nhist; i++)
		if (s->hist[i].from == from && s->hist[i].to == to)
			return 1;
	return 0;
}

/* The sequence of states s went through, "CLOSE>SYN_SENT>ESTABLISHED". */
static const char *path(const struct msock *s, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < s->nhist; i++) {
		if (i == 0) {
			strncat(buf, model_state_name(s->hist[i].from), size - strlen(buf) - 1);
		}
		strncat(buf, ">", size - strlen(buf) - 1);
		strncat(buf, model_state_name(s->hist[i].to), size - strlen(buf) - 1);
	}
	return buf;
}

/* The server (pid 100) listens on SRV with fd 3. */
static void server_listens(struct model *m)
{
	ev(m, 0, "v1 ph=hello pid=100 tid=100 ppid=1 exe=/x/server step=0");
	ev(m, 1, "v1 ph=before seq=1 pid=100 tid=100 call=socket dom=AF_INET type=SOCK_STREAM proto=6");
	ev(m, 2, "v1 ph=after seq=1 pid=100 tid=100 call=socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE");
	ev(m, 3, "v1 ph=before seq=2 pid=100 tid=100 call=bind fd=3 a=" SRV);
	ev(m, 4, "v1 ph=after seq=2 pid=100 tid=100 call=bind fd=3 a=" SRV " ret=0 local=" SRV " state=CLOSE");
	ev(m, 5, "v1 ph=before seq=3 pid=100 tid=100 call=listen fd=3 n=16");
	ev(m, 6, "v1 ph=after seq=3 pid=100 tid=100 call=listen fd=3 n=16 ret=0 local=" SRV " state=LISTEN");
}

/* Client pid 200 (fd 3, port from cli) connects; the wire shows the
 * handshake; the server accepts it as fd 4 (accept_fd). */
static void handshake_on_wire(struct model *m, int pid, const char *cli, int accept_fd,
                              unsigned base)
{
	ev(m, base + 10, "v1 ph=hello pid=%d tid=%d ppid=1 exe=/x/client step=0", pid, pid);
	ev(m, base + 11, "v1 ph=before seq=1 pid=%d tid=%d call=socket dom=AF_INET type=SOCK_STREAM proto=6", pid, pid);
	ev(m, base + 12, "v1 ph=after seq=1 pid=%d tid=%d call=socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE", pid, pid);
	ev(m, base + 13, "v1 ph=before seq=2 pid=%d tid=%d call=connect fd=3 a=" SRV, pid, pid);
	seg_opts(m, base + 14, cli, SRV, TF_SYN, 1000, 0, 0, 65495);
	seg_opts(m, base + 15, SRV, cli, TF_SYN | TF_ACK, 7000, 1001, 0, 65495);
	seg(m, base + 16, cli, SRV, TF_ACK, 1001, 7001, 0);
	ev(m, base + 17, "v1 ph=after seq=2 pid=%d tid=%d call=connect fd=3 a=" SRV " ret=0 local=%s peer=" SRV " state=ESTABLISHED", pid, pid, cli);
	ev(m, base + 18, "v1 ph=before seq=10 pid=100 tid=100 call=accept fd=3");
	ev(m, base + 19, "v1 ph=after seq=10 pid=100 tid=100 call=accept fd=3 ret=%d local=" SRV " peer=%s state=ESTABLISHED", accept_fd, cli);
}

/* ---- the tests ------------------------------------------------------------- */

static void test_handshake(void **state)
{
	struct model *m = *state;
	struct msock *c, *s, *l;
	char buf[256];

	server_listens(m);
	l = by_fd(m, 100, 3);
	assert_int_equal(l->state, ST_LISTEN);
	handshake_on_wire(m, 200, CLI, 4, 0);

	c = by_fd(m, 200, 3);
	s = by_fd(m, 100, 4);
	assert_ptr_not_equal(c, s);
	assert_int_equal(c->state, ST_ESTABLISHED);
	assert_int_equal(s->state, ST_ESTABLISHED);
	/* The client's fd socket and the socket the SYN showed are one. */
	assert_string_equal(path(c, buf, sizeof(buf)), "->CLOSE>SYN_SENT>ESTABLISHED");
	/* The server's socket was born with its SYN,ACK, before accept(). */
	assert_string_equal(path(s, buf, sizeof(buf)), "->SYN_RECV>ESTABLISHED");
	assert_int_equal(by_fd(m, 100, 3)->state, ST_LISTEN);
	/* One connection, three segments numbered from each side's SYN. */
	assert_int_equal(m->nconns, 1);
	assert_int_equal(m->nsegs, 3);
	assert_int_equal(m->segs[0].rseq, 0);
	assert_int_equal(m->segs[1].rseq, 0);
	assert_int_equal(m->segs[1].rack, 1);
	assert_int_equal(m->segs[2].rseq, 1);
	assert_int_equal(m->segs[2].rack, 1);
	assert_true(m->segs[0].has_mss);
	assert_int_equal(m->segs[0].mss, 65495);
	/* The ports of the session are known to the dump and capture. */
	assert_true(model_port_wanted(m, 5000));
	assert_true(model_port_wanted(m, 40001));
	assert_false(model_port_wanted(m, 5001));
}

/* A listener whose accept queue is full drops a SYN unanswered: no
 * SYN,ACK, and no socket of its own for that client (lesson 03's backlog);
 * the SYN's retransmission answered makes one. */
static void test_syn_unanswered_makes_no_server_socket(void **state)
{
	struct model *m = *state;
	int n;

	server_listens(m);
	n = m->nsocks;
	seg_opts(m, 20, CLI, SRV, TF_SYN, 1000, 0, 0, 65495);
	seg_opts(m, 1020, CLI, SRV, TF_SYN, 1000, 0, 0, 65495);
	for (int i = 0; i < m->nsocks; i++)
		assert_int_not_equal(m->socks[i].state, ST_SYN_RECV);
	/* The client's end (from its SYN) is all there is. */
	assert_int_equal(m->nsocks, n + 1);
	seg_opts(m, 3020, CLI, SRV, TF_SYN, 1000, 0, 0, 65495);
	seg_opts(m, 3021, SRV, CLI, TF_SYN | TF_ACK, 7000, 1001, 0, 65495);
	assert_int_equal(m->nsocks, n + 2);
	assert_int_equal(m->socks[m->nsocks - 1].state, ST_SYN_RECV);
}

static void test_data(void **state)
{
	struct model *m = *state;
	char text[160];

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	seg(m, 40, CLI, SRV, TF_PSH | TF_ACK, 1001, 7001, 12);
	seg(m, 41, SRV, CLI, TF_ACK, 7001, 1013, 0);
	assert_int_equal(m->nsegs, 5);
	assert_int_equal(m->segs[3].rseq, 1);
	assert_int_equal(m->segs[3].len, 12);
	assert_int_equal(m->segs[4].rack, 13);
	dump_segment_text(&m->segs[3], text, sizeof(text));
	/* The window in bytes: 512 in units of 2^7 (both SYNs asked for 7). */
	assert_string_equal(text, "PSH,ACK seq=1 ack=1 win=65536 len=12");
	/* Data moves no state. */
	assert_int_equal(by_fd(m, 200, 3)->state, ST_ESTABLISHED);
	assert_int_equal(by_fd(m, 100, 4)->state, ST_ESTABLISHED);
}

static void test_active_and_passive_close(void **state)
{
	struct model *m = *state;
	struct msock *c, *s;
	int cid, sid;
	char buf[256];

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	cid = by_fd(m, 200, 3)->id;
	sid = by_fd(m, 100, 4)->id;
	/* The client closes first. */
	ev(m, 50, "v1 ph=before seq=3 pid=200 tid=200 call=close fd=3 local=" CLI " peer=" SRV " state=ESTABLISHED");
	seg(m, 51, CLI, SRV, TF_FIN | TF_ACK, 1001, 7001, 0);
	seg(m, 52, SRV, CLI, TF_ACK, 7001, 1002, 0);
	ev(m, 53, "v1 ph=after seq=3 pid=200 tid=200 call=close fd=3 ret=0");
	c = &m->socks[cid];
	s = &m->socks[sid];
	assert_int_equal(c->state, ST_FIN_WAIT2);
	assert_int_equal(c->nholders, 0);      /* an orphan: no fd */
	assert_false(c->gone);
	assert_int_equal(s->state, ST_CLOSE_WAIT);
	/* The server reads EOF and closes: the passive close. */
	ev(m, 60, "v1 ph=before seq=11 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0");
	ev(m, 61, "v1 ph=after seq=11 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0 ret=0 local=" SRV " peer=" CLI " state=CLOSE_WAIT");
	ev(m, 62, "v1 ph=before seq=12 pid=100 tid=100 call=close fd=4 local=" SRV " peer=" CLI " state=CLOSE_WAIT");
	seg(m, 63, SRV, CLI, TF_FIN | TF_ACK, 7001, 1002, 0);
	c = &m->socks[cid];
	s = &m->socks[sid];
	assert_int_equal(c->state, ST_TIME_WAIT);
	assert_int_equal(c->timer, TIMER_TIMEWAIT);
	assert_true(c->timer_expiry > T0 + MS(63));
	assert_int_equal(s->state, ST_LAST_ACK);
	seg(m, 64, CLI, SRV, TF_ACK, 1002, 7002, 0);
	ev(m, 65, "v1 ph=after seq=12 pid=100 tid=100 call=close fd=4 ret=0");
	c = &m->socks[cid];
	s = &m->socks[sid];
	assert_string_equal(path(c, buf, sizeof(buf)),
			    "->CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>TIME_WAIT");
	assert_string_equal(path(s, buf, sizeof(buf)),
			    "->SYN_RECV>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSE");
	assert_true(s->gone);
	assert_false(c->gone);
	/* The listener is untouched. */
	assert_int_equal(by_fd(m, 100, 3)->state, ST_LISTEN);
}

static void test_simultaneous_close(void **state)
{
	struct model *m = *state;
	struct msock *c, *s;
	char buf[256];

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	/* Both send FIN before either has seen the other's. */
	seg(m, 50, CLI, SRV, TF_FIN | TF_ACK, 1001, 7001, 0);
	seg(m, 50, SRV, CLI, TF_FIN | TF_ACK, 7001, 1001, 0);
	c = by_fd(m, 200, 3);
	s = by_fd(m, 100, 4);
	assert_int_equal(c->state, ST_CLOSING);
	assert_int_equal(s->state, ST_CLOSING);
	seg(m, 51, CLI, SRV, TF_ACK, 1002, 7002, 0);
	seg(m, 51, SRV, CLI, TF_ACK, 7002, 1002, 0);
	c = by_fd(m, 200, 3);
	s = by_fd(m, 100, 4);
	assert_int_equal(c->state, ST_TIME_WAIT);
	assert_int_equal(s->state, ST_TIME_WAIT);
	assert_true(went(c, ST_FIN_WAIT1, ST_CLOSING));
	assert_true(went(s, ST_CLOSING, ST_TIME_WAIT));
	/* The server's FIN did not acknowledge the client's: it never was
	 * in CLOSE_WAIT, though the client's FIN was filed first. */
	assert_string_equal(path(s, buf, sizeof(buf)),
			    "->SYN_RECV>ESTABLISHED>FIN_WAIT1>CLOSING>TIME_WAIT");
	assert_string_equal(path(c, buf, sizeof(buf)),
			    "->CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>CLOSING>TIME_WAIT");
}

static void test_rst(void **state)
{
	struct model *m = *state;
	struct msock *c, *s;
	int cid;

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	cid = by_fd(m, 200, 3)->id;
	/* SO_LINGER {1, 0}: close() sends RST instead of FIN. */
	ev(m, 50, "v1 ph=before seq=3 pid=200 tid=200 call=close fd=3 local=" CLI " peer=" SRV " state=ESTABLISHED");
	seg(m, 51, CLI, SRV, TF_RST | TF_ACK, 1001, 7001, 0);
	ev(m, 52, "v1 ph=after seq=3 pid=200 tid=200 call=close fd=3 ret=0");
	c = &m->socks[cid];
	s = by_fd(m, 100, 4);
	assert_true(c->gone);
	assert_int_equal(c->state, ST_CLOSE);
	/* The server still holds its fd: CLOSE, not gone; no TIME_WAIT. */
	assert_int_equal(s->state, ST_CLOSE);
	assert_false(s->gone);
	assert_true(went(s, ST_ESTABLISHED, ST_CLOSE));
	assert_false(went(c, ST_FIN_WAIT1, ST_FIN_WAIT2));
	ev(m, 53, "v1 ph=before seq=11 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0");
	ev(m, 54, "v1 ph=after seq=11 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0 ret=-1 err=ECONNRESET local=" SRV " state=CLOSE");
	assert_int_equal(m->log[m->nlog - 1].err, ECONNRESET);
	for (int i = 0; i < m->nsocks; i++)
		assert_int_not_equal(m->socks[i].state, ST_TIME_WAIT);
}

static void diag_tw(struct diag_sock *d, const char *local, const char *peer,
                    int state, uint32_t expires_ms)
{
	memset(d, 0, sizeof(*d));
	d->family = 2;
	assert_int_equal(ep_parse(local, &d->local), 0);
	if (peer != NULL)
		assert_int_equal(ep_parse(peer, &d->peer), 0);
	d->state = state;
	if (state == ST_TIME_WAIT) {
		d->timer = TIMER_TIMEWAIT;
		d->expires_ms = expires_ms;
	}
}

static void test_time_wait_expiry(void **state)
{
	struct model *m = *state;
	struct diag_sock d;
	struct msock *tw;
	int id;

	/* A dump shows a TIME_WAIT no process holds (the client exited). */
	model_add_port(m, 5000);
	model_diag_begin(m, T0);
	diag_tw(&d, CLI, SRV, ST_TIME_WAIT, 60000);
	assert_int_equal(model_diag_socket(m, &d), 0);
	model_diag_end(m, T0);
	tw = by_tuple(m, CLI, SRV);
	assert_non_null(tw);
	id = tw->id;
	assert_int_equal(tw->state, ST_TIME_WAIT);
	assert_int_equal(tw->nholders, 0);
	assert_true(tw->timer_expiry == T0 + MS(60000));
	/* 59 s later it is still there. */
	model_diag_begin(m, T0 + MS(59000));
	diag_tw(&d, CLI, SRV, ST_TIME_WAIT, 1000);
	model_diag_socket(m, &d);
	model_diag_end(m, T0 + MS(59000));
	assert_false(m->socks[id].gone);
	/* 61 s: the kernel dropped it. */
	model_diag_begin(m, T0 + MS(61000));
	model_diag_end(m, T0 + MS(61000));
	tw = &m->socks[id];
	assert_true(tw->gone);
	assert_int_equal(tw->state, ST_CLOSE);
	assert_string_equal(tw->hist[tw->nhist - 1].why, "TIME_WAIT expired");
	assert_int_equal(tw->hist[tw->nhist - 1].cause, CAUSE_TIMER);
}

static void test_time_wait_expiry_without_dumps(void **state)
{
	struct model *m = *state;
	struct msock *c;
	int cid;

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	cid = by_fd(m, 200, 3)->id;
	ev(m, 50, "v1 ph=before seq=3 pid=200 tid=200 call=close fd=3 local=" CLI " peer=" SRV " state=ESTABLISHED");
	seg(m, 51, CLI, SRV, TF_FIN | TF_ACK, 1001, 7001, 0);
	seg(m, 52, SRV, CLI, TF_ACK, 7001, 1002, 0);
	ev(m, 53, "v1 ph=after seq=3 pid=200 tid=200 call=close fd=3 ret=0");
	seg(m, 54, SRV, CLI, TF_FIN | TF_ACK, 7001, 1002, 0);
	seg(m, 55, CLI, SRV, TF_ACK, 1002, 7002, 0);
	assert_int_equal(m->socks[cid].state, ST_TIME_WAIT);
	model_tick(m, T0 + MS(30000));
	assert_int_equal(m->socks[cid].state, ST_TIME_WAIT);
	model_tick(m, T0 + MS(54 + 60000 + 2500));
	c = &m->socks[cid];
	assert_true(c->gone);
	assert_true(went(c, ST_TIME_WAIT, ST_CLOSE));
}

static void test_two_clients_one_listener(void **state)
{
	struct model *m = *state;
	struct msock *c1, *c2, *s1, *s2;

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	handshake_on_wire(m, 300, CLI2, 5, 100);
	c1 = by_fd(m, 200, 3);
	c2 = by_fd(m, 300, 3);
	s1 = by_fd(m, 100, 4);
	s2 = by_fd(m, 100, 5);
	assert_int_equal(m->nconns, 2);
	assert_ptr_not_equal(s1, s2);
	assert_int_equal(s1->peer.port, 40001);
	assert_int_equal(s2->peer.port, 40002);
	assert_int_equal(c2->local.port, 40002);
	/* The second connection's segments are numbered on their own. */
	assert_int_equal(m->segs[3].conn, 1);
	assert_int_equal(m->segs[3].rseq, 0);
	/* The first client resets; the second connection carries on. */
	seg(m, 300, CLI, SRV, TF_RST, 1001, 0, 0);
	assert_int_equal(by_fd(m, 100, 4)->state, ST_CLOSE);
	assert_int_equal(by_fd(m, 100, 5)->state, ST_ESTABLISHED);
	assert_int_equal(by_fd(m, 300, 3)->state, ST_ESTABLISHED);
	assert_int_equal(by_fd(m, 100, 3)->state, ST_LISTEN);
	(void)c1;
}

static void test_full_tuple_keeps_ends_apart(void **state)
{
	struct model *m = *state;
	struct msock *a, *b;
	int d;

	/* No trace at all: two connections on 127.0.0.1 seen on the wire,
	 * the same server port, the same address everywhere. */
	model_diag_begin(m, T0);
	{
		struct diag_sock l;

		diag_tw(&l, SRV, NULL, ST_LISTEN, 0);
		assert_int_equal(model_diag_socket(m, &l), 0);
	}
	model_diag_end(m, T0);
	seg(m, 1, CLI, SRV, TF_SYN, 10, 0, 0);
	seg(m, 2, CLI2, SRV, TF_SYN, 20, 0, 0);
	seg(m, 3, SRV, CLI, TF_SYN | TF_ACK, 30, 11, 0);
	seg(m, 4, SRV, CLI2, TF_SYN | TF_ACK, 40, 21, 0);
	seg(m, 5, CLI, SRV, TF_ACK, 11, 31, 0);
	assert_int_equal(m->nconns, 2);
	assert_non_null(conn_find(m, &m->segs[0].src, &m->segs[0].dst, 0, &d));
	assert_int_equal(d, 0);
	assert_non_null(conn_find(m, &m->segs[0].dst, &m->segs[0].src, 0, &d));
	assert_int_equal(d, 1);
	assert_int_equal(m->segs[2].conn, m->segs[0].conn);
	assert_int_equal(m->segs[3].conn, m->segs[1].conn);
	assert_int_not_equal(m->segs[0].conn, m->segs[1].conn);
	/* Each end is its own socket: client side and server side. */
	a = by_tuple(m, CLI, SRV);
	b = by_tuple(m, SRV, CLI);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(a->state, ST_ESTABLISHED);
	assert_int_equal(b->state, ST_ESTABLISHED);
	/* The second connection's ACK has not come: still SYN_RECV. */
	assert_int_equal(by_tuple(m, SRV, CLI2)->state, ST_SYN_RECV);
	assert_int_equal(by_tuple(m, CLI2, SRV)->state, ST_ESTABLISHED);
}

static void test_duplicate_capture_counted_once(void **state)
{
	struct model *m = *state;

	/* lo shows every segment going out and coming in. */
	seg(m, 1, CLI, SRV, TF_SYN, 10, 0, 0);
	seg(m, 1, CLI, SRV, TF_SYN, 10, 0, 0);
	assert_int_equal(m->nsegs, 1);
	/* A retransmission a second later is a segment of its own. */
	seg(m, 1001, CLI, SRV, TF_SYN, 10, 0, 0);
	assert_int_equal(m->nsegs, 2);
}

static void test_fd_close_does_not_hide_time_wait(void **state)
{
	struct model *m = *state;
	struct diag_sock d;
	struct msock *c;

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	model_diag_begin(m, T0 + MS(30));
	diag_tw(&d, CLI, SRV, ST_TIME_WAIT, 60000);
	model_diag_socket(m, &d);
	model_diag_end(m, T0 + MS(30));
	c = by_fd(m, 200, 3);
	assert_int_equal(c->state, ST_TIME_WAIT);
	/* TCP_INFO on the client's fd now says CLOSE: Linux keeps TIME_WAIT
	 * apart from the fd. The connection is still in TIME_WAIT. */
	ev(m, 40, "v1 ph=before seq=5 pid=200 tid=200 call=recv fd=3 len=100 flags=0x0");
	ev(m, 41, "v1 ph=after seq=5 pid=200 tid=200 call=recv fd=3 len=100 flags=0x0 ret=0 local=" CLI " state=CLOSE");
	c = by_fd(m, 200, 3);
	assert_int_equal(c->state, ST_TIME_WAIT);
	assert_int_equal(c->timer, TIMER_TIMEWAIT);
}

static void test_stale_call_states(void **state)
{
	struct model *m = *state;
	int cid;

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	cid = by_fd(m, 200, 3)->id;
	seg(m, 50, CLI, SRV, TF_FIN | TF_ACK, 1001, 7001, 0);
	seg(m, 51, SRV, CLI, TF_ACK, 7001, 1002, 0);
	seg(m, 52, SRV, CLI, TF_FIN | TF_ACK, 7001, 1002, 0);
	assert_int_equal(m->socks[cid].state, ST_TIME_WAIT);
	/* TCP_INFO read before the server's FIN came, reported after it: a
	 * connection never goes back from TIME_WAIT to FIN_WAIT2. */
	ev(m, 53, "v1 ph=before seq=4 pid=200 tid=200 call=shutdown fd=3 n=1");
	ev(m, 54, "v1 ph=after seq=4 pid=200 tid=200 call=shutdown fd=3 n=1 ret=0 local=" CLI " peer=" SRV " state=FIN_WAIT2");
	assert_int_equal(m->socks[cid].state, ST_TIME_WAIT);
	assert_false(went(&m->socks[cid], ST_TIME_WAIT, ST_FIN_WAIT2));
}

static void test_close_reading_after_fin_is_time_wait(void **state)
{
	struct model *m = *state;
	struct msock *c;

	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	ev(m, 50, "v1 ph=before seq=4 pid=200 tid=200 call=shutdown fd=3 n=1");
	ev(m, 51, "v1 ph=after seq=4 pid=200 tid=200 call=shutdown fd=3 n=1 ret=0 local=" CLI " peer=" SRV " state=FIN_WAIT2");
	assert_int_equal(by_fd(m, 200, 3)->state, ST_FIN_WAIT2);
	/* The server's FIN was not seen (no capture), but the fd reads
	 * CLOSE after recv() returned 0: the kernel holds TIME_WAIT. */
	ev(m, 60, "v1 ph=before seq=5 pid=200 tid=200 call=recv fd=3 len=100 flags=0x0");
	ev(m, 61, "v1 ph=after seq=5 pid=200 tid=200 call=recv fd=3 len=100 flags=0x0 ret=0 local=" CLI " state=CLOSE");
	c = by_fd(m, 200, 3);
	assert_int_equal(c->state, ST_TIME_WAIT);
	assert_string_equal(c->hist[c->nhist - 1].why, "recv() (fd: CLOSE)");
	/* An error is not the end of a clean close: an RST read CLOSE too. */
	ev(m, 70, "v1 ph=after seq=9 pid=100 tid=100 call=recv fd=4 len=100 flags=0x0 ret=-1 err=ECONNRESET local=" SRV " state=CLOSE");
	assert_int_equal(by_fd(m, 100, 4)->state, ST_CLOSE);
}

/* Worker pid listens on SRV with SO_REUSEPORT, as fd 3. */
static void worker_listens(struct model *m, int pid, unsigned t)
{
	ev(m, t, "v1 ph=hello pid=%d tid=%d ppid=1 exe=/x/server step=0", pid, pid);
	ev(m, t + 1, "v1 ph=after seq=1 pid=%d tid=%d call=socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE", pid, pid);
	ev(m, t + 2, "v1 ph=after seq=2 pid=%d tid=%d call=bind fd=3 a=" SRV " ret=0 local=" SRV " state=CLOSE", pid, pid);
	ev(m, t + 3, "v1 ph=after seq=3 pid=%d tid=%d call=listen fd=3 n=16 ret=0 local=" SRV " state=LISTEN", pid, pid);
}

static void dump_listeners(struct model *m, mtime_t t, const uint64_t *inodes, int n)
{
	struct diag_sock d;

	model_diag_begin(m, t);
	for (int i = 0; i < n; i++) {
		diag_tw(&d, SRV, NULL, ST_LISTEN, 0);
		d.inode = inodes[i];
		assert_int_equal(model_diag_socket(m, &d), 0);
	}
	model_diag_end(m, t);
}

/* Two workers, each its own listener on one address and port
 * (SO_REUSEPORT): a dump shows two LISTEN entries with one tuple, told
 * apart by their inodes. A dump taken between the two listen() calls
 * shows the first alone; later dumps, in either order, must keep both
 * listening (the tuple alone matched both entries to the newest, and
 * the first worker's listener was shown CLOSE). */
static void test_two_listeners_on_one_port(void **state)
{
	struct model *m = *state;
	const uint64_t first[] = { 11 }, both[] = { 11, 12 }, reversed[] = { 12, 11 };
	struct msock *a, *b;

	worker_listens(m, 101, 0);
	dump_listeners(m, T0 + MS(5), first, 1);
	worker_listens(m, 102, 10);
	dump_listeners(m, T0 + MS(20), both, 2);
	dump_listeners(m, T0 + MS(30), reversed, 2);
	a = by_fd(m, 101, 3);
	b = by_fd(m, 102, 3);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a != b);
	assert_int_equal(a->state, ST_LISTEN);
	assert_int_equal(b->state, ST_LISTEN);
	assert_true(a->inode == 11);
	assert_true(b->inode == 12);
	for (int i = 0; i < a->nhist; i++)   /* never out of LISTEN on the way */
		assert_int_not_equal(a->hist[i].from, ST_LISTEN);
	/* The first worker's listener leaves the kernel: only it reads CLOSE. */
	dump_listeners(m, T0 + MS(40), both + 1, 1);
	assert_int_equal(by_fd(m, 101, 3)->state, ST_CLOSE);
	assert_int_equal(by_fd(m, 102, 3)->state, ST_LISTEN);
}

/* A client blocked in connect() while its SYN goes unanswered: its fd
 * reads 0.0.0.0:0 until the call returns, and only the kernel's table and
 * the wire know the tuple. The trace gave the fd's inode at socket(): the
 * dump's SYN_SENT entry with that inode is the fd's socket, which takes
 * the tuple and the SYN the wire showed, not a second socket beside it
 * (the student saw "sender 3 0.0.0.0:0 CLOSE" and "(kernel) SYN_SENT"). */
static void test_client_waiting_in_connect_is_one_socket(void **state)
{
	struct model *m = *state;
	struct diag_sock d;
	struct msock *c;
	int live = 0;

	server_listens(m);
	ev(m, 10, "v1 ph=hello pid=200 tid=200 ppid=1 exe=/x/client step=0");
	ev(m, 11, "v1 ph=before seq=1 pid=200 tid=200 call=socket dom=AF_INET type=SOCK_STREAM proto=6");
	ev(m, 12, "v1 ph=after seq=1 pid=200 tid=200 call=socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE ino=777");
	ev(m, 13, "v1 ph=before seq=2 pid=200 tid=200 call=connect fd=3 a=" SRV);
	seg_opts(m, 14, CLI, SRV, TF_SYN, 1000, 0, 0, 65495);
	model_diag_begin(m, T0 + MS(20));
	diag_tw(&d, CLI, SRV, ST_SYN_SENT, 0);
	d.inode = 777;
	model_diag_socket(m, &d);
	diag_tw(&d, SRV, NULL, ST_LISTEN, 0);
	model_diag_socket(m, &d);
	model_diag_end(m, T0 + MS(20));
	c = by_fd(m, 200, 3);
	assert_non_null(c);
	assert_int_equal(c->state, ST_SYN_SENT);
	assert_ptr_equal(by_tuple(m, CLI, SRV), c);
	for (int i = 0; i < m->nsocks; i++)
		live += !m->socks[i].gone && !m->socks[i].merged;
	assert_int_equal(live, 2);   /* the listener and the client */
	/* connect() returns: still that one socket. */
	seg_opts(m, 1014, SRV, CLI, TF_SYN | TF_ACK, 7000, 1001, 0, 65495);
	ev(m, 1015, "v1 ph=after seq=2 pid=200 tid=200 call=connect fd=3 a=" SRV " ret=0 local=" CLI " peer=" SRV " state=ESTABLISHED ino=777");
	assert_ptr_equal(by_fd(m, 200, 3), c);
	assert_int_equal(c->state, ST_ESTABLISHED);
}

static void test_unaccepted_then_accepted(void **state)
{
	struct model *m = *state;
	struct diag_sock d;
	struct msock *k;
	int id;

	server_listens(m);
	/* The client is not traced; the dump shows the server's end of a
	 * connection nobody has accepted yet. */
	model_diag_begin(m, T0 + MS(10));
	diag_tw(&d, SRV, CLI, ST_ESTABLISHED, 0);
	model_diag_socket(m, &d);
	diag_tw(&d, CLI, SRV, ST_ESTABLISHED, 0);
	model_diag_socket(m, &d);
	diag_tw(&d, SRV, NULL, ST_LISTEN, 0);
	model_diag_socket(m, &d);
	model_diag_end(m, T0 + MS(10));
	k = by_tuple(m, SRV, CLI);
	assert_non_null(k);
	assert_int_equal(k->nholders, 0);
	id = k->id;
	/* The dump's listener is the traced one, not a second socket. */
	assert_int_equal(by_tuple(m, SRV, NULL)->id, by_fd(m, 100, 3)->id);
	ev(m, 20, "v1 ph=before seq=10 pid=100 tid=100 call=accept fd=3");
	ev(m, 21, "v1 ph=after seq=10 pid=100 tid=100 call=accept fd=3 ret=4 local=" SRV " peer=" CLI " state=ESTABLISHED");
	/* accept() hands over the socket the kernel already had. */
	assert_int_equal(by_fd(m, 100, 4)->id, id);
	/* Gone from the next dump while the fd is open: the fd reads CLOSE. */
	model_diag_begin(m, T0 + MS(30));
	diag_tw(&d, SRV, NULL, ST_LISTEN, 0);
	model_diag_socket(m, &d);
	model_diag_end(m, T0 + MS(30));
	assert_int_equal(m->socks[id].state, ST_CLOSE);
	assert_false(m->socks[id].gone);
	assert_true(by_tuple(m, CLI, SRV) == NULL || by_tuple(m, CLI, SRV)->gone == 0);
	assert_int_equal(by_fd(m, 100, 3)->state, ST_LISTEN);
}

/* With nothing capturing (infer), the client (pid 200, fd 3) connects
 * to the listening server (pid 100), which accepts it as fd 4. */
static void inferred_connection(struct model *m)
{
	m->infer = 1;
	server_listens(m);
	ev(m, 10, "v1 ph=hello pid=200 tid=200 ppid=1 exe=/x/client step=0");
	ev(m, 11, "v1 ph=before seq=1 pid=200 tid=200 call=socket dom=AF_INET type=SOCK_STREAM proto=6");
	ev(m, 12, "v1 ph=after seq=1 pid=200 tid=200 call=socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE");
	ev(m, 13, "v1 ph=before seq=2 pid=200 tid=200 call=connect fd=3 a=" SRV);
	ev(m, 17, "v1 ph=after seq=2 pid=200 tid=200 call=connect fd=3 a=" SRV " ret=0 local=" CLI " peer=" SRV " state=ESTABLISHED");
	ev(m, 18, "v1 ph=before seq=10 pid=100 tid=100 call=accept fd=3");
	ev(m, 19, "v1 ph=after seq=10 pid=100 tid=100 call=accept fd=3 ret=4 local=" SRV " peer=" CLI " state=ESTABLISHED");
}

/* Lesson 02 with nothing capturing: the segments come from the calls. */
static void test_inferred_session(void **state)
{
	struct model *m = *state;
	struct msock *c, *s;
	int cid, sid, nsyn = 0, nfin = 0, ninferred = 0;
	char text[160];

	inferred_connection(m);
	c = by_fd(m, 200, 3);
	cid = c->id;
	sid = by_fd(m, 100, 4)->id;
	assert_true(went(c, ST_CLOSE, ST_SYN_SENT));
	assert_int_equal(m->nsegs, 3);    /* accept() adds no second handshake */
	ev(m, 20, "v1 ph=before seq=3 pid=200 tid=200 call=send fd=3 len=6 flags=0x4000");
	ev(m, 21, "v1 ph=after seq=3 pid=200 tid=200 call=send fd=3 len=6 flags=0x4000 ret=6 local=" CLI " peer=" SRV " state=ESTABLISHED");
	ev(m, 22, "v1 ph=before seq=11 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0");
	ev(m, 23, "v1 ph=after seq=11 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0 ret=6 local=" SRV " peer=" CLI " state=ESTABLISHED");
	assert_int_equal(m->nsegs, 5);    /* the recv() of the same bytes adds none */
	dump_segment_text(&m->segs[3], text, sizeof(text));
	assert_string_equal(text, "PSH,ACK seq=1 ack=1 len=6 (inferred)");
	ev(m, 30, "v1 ph=before seq=4 pid=200 tid=200 call=shutdown fd=3 n=1");
	ev(m, 31, "v1 ph=after seq=4 pid=200 tid=200 call=shutdown fd=3 n=1 ret=0 local=" CLI " peer=" SRV " state=FIN_WAIT1");
	assert_int_equal(m->socks[cid].state, ST_FIN_WAIT2);
	assert_int_equal(m->socks[sid].state, ST_CLOSE_WAIT);
	ev(m, 32, "v1 ph=before seq=12 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0");
	ev(m, 33, "v1 ph=after seq=12 pid=100 tid=100 call=recv fd=4 len=4096 flags=0x0 ret=0 local=" SRV " peer=" CLI " state=CLOSE_WAIT");
	ev(m, 34, "v1 ph=before seq=13 pid=100 tid=100 call=close fd=4 local=" SRV " peer=" CLI " state=CLOSE_WAIT");
	ev(m, 35, "v1 ph=after seq=13 pid=100 tid=100 call=close fd=4 ret=0");
	c = &m->socks[cid];
	s = &m->socks[sid];
	assert_int_equal(c->state, ST_TIME_WAIT);
	assert_true(s->gone);
	assert_true(went(s, ST_CLOSE_WAIT, ST_LAST_ACK));
	for (int i = 0; i < m->nsegs; i++) {
		nsyn += (m->segs[i].flags & TF_SYN) != 0;
		nfin += (m->segs[i].flags & TF_FIN) != 0;
		ninferred += m->segs[i].inferred;
	}
	assert_int_equal(nsyn, 2);
	assert_int_equal(nfin, 2);
	assert_int_equal(ninferred, m->nsegs);
}

/* One event that implies several segments, which make new sockets: a
 * recv() on an fd the server had before tracing began (no socket known,
 * no handshake drawn) draws the handshake that must have happened, which
 * makes the client's end, and the data. The socket array is full when
 * the event comes, so the sockets it makes move the array. Then a close()
 * whose FIN is drawn: the FIN, not a guess from close(), moves the ends. */
static void test_event_with_many_inferred_segments(void **state)
{
	struct model *m = *state;
	struct msock *s, *c;
	int sid, cid, full;
	char buf[256];
	static const uint8_t flags[] = { TF_SYN, TF_SYN | TF_ACK, TF_ACK, TF_PSH | TF_ACK, TF_ACK };

	m->infer = 1;
	server_listens(m);
	/* Another process's UDP sockets until the array is full. */
	for (int fd = 3; m->nsocks < m->capsocks; fd++) {
		ev(m, 10, "v1 ph=before seq=%d pid=300 tid=300 call=socket dom=AF_INET type=SOCK_DGRAM proto=17", fd);
		ev(m, 10, "v1 ph=after seq=%d pid=300 tid=300 call=socket dom=AF_INET type=SOCK_DGRAM proto=17 ret=%d", fd, fd);
	}
	full = m->capsocks;
	assert_int_equal(m->nsegs, 0);

	ev(m, 20, "v1 ph=before seq=20 pid=100 tid=100 call=recv fd=9 len=4096 flags=0x0");
	ev(m, 21, "v1 ph=after seq=20 pid=100 tid=100 call=recv fd=9 len=4096 flags=0x0 ret=6 local=" SRV " peer=" CLI " state=ESTABLISHED");
	assert_true(m->capsocks > full);
	assert_int_equal(m->nsocks, full + 2);
	/* Five segments, in order, numbered as one connection. */
	assert_int_equal(m->nconns, 1);
	assert_int_equal(m->nsegs, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(m->segs[i].flags, flags[i]);
		assert_true(m->segs[i].inferred);
		assert_int_equal(m->segs[i].conn, 0);
		assert_true(m->segs[i].t > T0 + MS(21) && m->segs[i].t <= T0 + MS(21) + 5);
	}
	assert_int_equal(m->segs[3].rseq, 1);
	assert_int_equal(m->segs[3].len, 6);
	assert_int_equal(m->segs[4].rack, 7);
	/* The server's fd is the socket the call described... */
	s = by_fd(m, 100, 9);
	sid = s->id;
	assert_int_equal(sid, full);
	assert_int_equal(s->state, ST_ESTABLISHED);
	assert_ptr_equal(by_tuple(m, SRV, CLI), s);
	assert_int_equal(m->log[m->nlog - 1].sock, sid);
	assert_string_equal(path(s, buf, sizeof(buf)), "->ESTABLISHED");
	/* ...and the client's end was made by the SYN, with no fd. */
	c = by_tuple(m, CLI, SRV);
	assert_non_null(c);
	cid = c->id;
	assert_int_equal(cid, full + 1);
	assert_int_equal(c->nholders, 0);
	assert_string_equal(path(c, buf, sizeof(buf)), "->SYN_SENT>ESTABLISHED");
	/* The listener is untouched. */
	assert_int_equal(by_fd(m, 100, 3)->state, ST_LISTEN);

	ev(m, 30, "v1 ph=before seq=21 pid=100 tid=100 call=close fd=9 local=" SRV " peer=" CLI " state=ESTABLISHED");
	ev(m, 31, "v1 ph=after seq=21 pid=100 tid=100 call=close fd=9 ret=0");
	assert_int_equal(m->nsegs, 7);
	assert_int_equal(m->segs[5].flags, TF_FIN | TF_ACK);
	s = &m->socks[sid];
	c = &m->socks[cid];
	assert_int_equal(s->state, ST_FIN_WAIT2);
	assert_int_equal(c->state, ST_CLOSE_WAIT);
	assert_string_equal(path(s, buf, sizeof(buf)), "->ESTABLISHED>FIN_WAIT1>FIN_WAIT2");
	assert_string_equal(s->hist[1].why, "FIN sent");
	assert_int_equal(s->hist[1].cause, CAUSE_INFER);
	assert_int_equal(s->hist[1].t, m->segs[5].t);
}

/* The call log shows each call's arguments as C would write them: the
 * waits as (count, timeout in ms), the socket I/O as (fd, bytes). */
static void test_call_arguments_described(void **state)
{
	static const struct {
		const char *args, *text;
	} calls[] = {
		{ "call=select n=5 timeout=-1", "5, -1" },
		{ "call=pselect n=5 timeout=250", "5, 250" },
		{ "call=poll n=2 timeout=100", "2, 100" },
		{ "call=ppoll n=1 timeout=-1", "1, -1" },
		{ "call=epoll_wait fd=7 n=64 timeout=0", "64, 0" },
		{ "call=epoll_pwait fd=7 n=64 timeout=1000", "64, 1000" },
		{ "call=epoll_pwait2 fd=7 n=4 timeout=2000", "4, 2000" },
		{ "call=write fd=4 len=12", "4, 12" },
		{ "call=writev fd=4 len=12", "4, 12" },
		{ "call=readv fd=4 len=110", "4, 110" },
		/* The iovecs could not be read: the fd alone. */
		{ "call=writev fd=4", "4" },
		{ "call=bind fd=3 a=127.0.0.1:5000", "3, 127.0.0.1:5000" },
		{ "call=shutdown fd=4 n=1", "4, SHUT_WR" },
		/* A call a newer shim reports: logged under its name. */
		{ "call=splice fd=4", "4" },
	};
	struct model *m = *state;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		ev(m, (unsigned)i, "v1 ph=before seq=%zu pid=100 tid=100 %s", i + 1,
		   calls[i].args);
		assert_int_equal(m->nlog, (int)i + 1);
		assert_string_equal(m->log[i].text, calls[i].text);
	}
	assert_int_equal(m->log[0].call_id, SL_CALL_SELECT);
	assert_int_equal(m->log[m->nlog - 1].call_id, SL_CALL_OTHER);
	assert_string_equal(m->log[m->nlog - 1].call, "splice");
}

/* With nothing capturing, a writev() that sent n bytes put them on the
 * wire like send(), and a readv() that met the end of the stream (0 with
 * room to read) saw the peer's FIN like recv(). */
static void test_vectored_io_inferred(void **state)
{
	struct model *m = *state;
	int cid, sid;
	char text[160];

	inferred_connection(m);
	cid = by_fd(m, 200, 3)->id;
	sid = by_fd(m, 100, 4)->id;
	assert_int_equal(m->nsegs, 3);
	ev(m, 20, "v1 ph=before seq=3 pid=200 tid=200 call=writev fd=3 len=12");
	ev(m, 21, "v1 ph=after seq=3 pid=200 tid=200 call=writev fd=3 len=12 ret=12 local=" CLI " peer=" SRV " state=ESTABLISHED");
	assert_int_equal(m->nsegs, 5);
	dump_segment_text(&m->segs[3], text, sizeof(text));
	assert_string_equal(text, "PSH,ACK seq=1 ack=1 len=12 (inferred)");
	/* The server's readv() of those bytes adds nothing. */
	ev(m, 22, "v1 ph=before seq=11 pid=100 tid=100 call=readv fd=4 len=110");
	ev(m, 23, "v1 ph=after seq=11 pid=100 tid=100 call=readv fd=4 len=110 ret=12 local=" SRV " peer=" CLI " state=ESTABLISHED");
	assert_int_equal(m->nsegs, 5);
	/* The server's writev() reaches the client's first readv(); the
	 * second returns 0: the server must have sent a FIN. */
	ev(m, 30, "v1 ph=before seq=12 pid=100 tid=100 call=writev fd=4 len=5");
	ev(m, 31, "v1 ph=after seq=12 pid=100 tid=100 call=writev fd=4 len=5 ret=5 local=" SRV " peer=" CLI " state=ESTABLISHED");
	assert_int_equal(m->nsegs, 7);
	dump_segment_text(&m->segs[5], text, sizeof(text));
	assert_string_equal(text, "PSH,ACK seq=1 ack=13 len=5 (inferred)");
	ev(m, 32, "v1 ph=before seq=4 pid=200 tid=200 call=readv fd=3 len=110");
	ev(m, 33, "v1 ph=after seq=4 pid=200 tid=200 call=readv fd=3 len=110 ret=5 local=" CLI " peer=" SRV " state=ESTABLISHED");
	ev(m, 34, "v1 ph=before seq=5 pid=200 tid=200 call=readv fd=3 len=110");
	ev(m, 35, "v1 ph=after seq=5 pid=200 tid=200 call=readv fd=3 len=110 ret=0 local=" CLI " peer=" SRV " state=CLOSE_WAIT");
	assert_int_equal(m->nsegs, 9);
	assert_int_equal(m->segs[7].flags, TF_FIN | TF_ACK);
	assert_int_equal(m->socks[cid].state, ST_CLOSE_WAIT);
	assert_int_equal(m->socks[sid].state, ST_FIN_WAIT2);
}

static void test_refused_connect_inferred(void **state)
{
	struct model *m = *state;

	m->infer = 1;
	ev(m, 1, "v1 ph=before seq=1 pid=200 tid=200 call=socket dom=AF_INET type=SOCK_STREAM proto=6");
	ev(m, 2, "v1 ph=after seq=1 pid=200 tid=200 call=socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE");
	ev(m, 3, "v1 ph=before seq=2 pid=200 tid=200 call=connect fd=3 a=" SRV);
	ev(m, 4, "v1 ph=after seq=2 pid=200 tid=200 call=connect fd=3 a=" SRV " ret=-1 err=ECONNREFUSED local=" CLI " state=CLOSE");
	assert_int_equal(m->nsegs, 2);
	assert_int_equal(m->segs[0].flags, TF_SYN);
	assert_int_equal(m->segs[1].flags, TF_RST | TF_ACK);
	assert_int_equal(by_fd(m, 200, 3)->state, ST_CLOSE);
}

static void test_fork_shares_sockets(void **state)
{
	struct model *m = *state;
	struct msock *l;

	server_listens(m);
	ev(m, 20, "v1 ph=before seq=4 pid=100 tid=100 call=fork");
	ev(m, 21, "v1 ph=after seq=4 pid=100 tid=100 call=fork ret=101");
	ev(m, 22, "v1 ph=hello pid=101 tid=101 ppid=100 exe=/x/server step=0");
	l = by_fd(m, 101, 3);
	assert_ptr_equal(l, by_fd(m, 100, 3));
	assert_int_equal(l->nholders, 2);
	/* The child closes its copy: the listener stays. */
	ev(m, 23, "v1 ph=before seq=5 pid=101 tid=101 call=close fd=3 local=" SRV " state=LISTEN");
	ev(m, 24, "v1 ph=after seq=5 pid=101 tid=101 call=close fd=3 ret=0");
	l = by_fd(m, 100, 3);
	assert_int_equal(l->nholders, 1);
	assert_false(l->gone);
	assert_int_equal(l->state, ST_LISTEN);
	assert_string_equal(model_proc(m, 101)->name, "server");
}

static void test_bad_input_is_ignored(void **state)
{
	struct model *m = *state;
	struct sl_event e;
	struct mseg g;

	memset(&e, 0, sizeof(e));
	e.ph = SL_PH_BEFORE;          /* no pid, no call */
	assert_int_equal(model_apply_event(m, &e), 0);
	assert_int_equal(m->bad_events, 1);
	/* An after event with no before: logged all the same. */
	ev(m, 1, "v1 ph=after seq=9 pid=300 tid=300 call=close fd=7 ret=-1 err=EBADF");
	assert_int_equal(m->nlog, 1);
	assert_int_equal(m->log[0].err, EBADF);
	assert_true(m->log[0].done);
	/* A segment without addresses changes nothing. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(model_apply_segment(m, &g), 0);
	assert_int_equal(m->nsegs, 0);
	/* Dump entries outside a dump, or with a state out of range. */
	{
		struct diag_sock d;

		diag_tw(&d, CLI, SRV, ST_ESTABLISHED, 0);
		model_diag_socket(m, &d);
		assert_int_equal(m->nsocks, 0);
		model_diag_begin(m, T0);
		d.state = 99;
		model_diag_socket(m, &d);
		model_diag_end(m, T0);
		assert_int_equal(m->nsocks, 0);
	}
}

static void test_long_session_stays_bounded(void **state)
{
	struct model *m = *state;
	struct diag_sock d;
	int listener;

	server_listens(m);
	listener = by_fd(m, 100, 3)->id;
	/* Thousands of short connections come and go (a load generator). */
	for (int i = 0; i < SOCKS_MAX + 1000; i++) {
		char cli[32];

		snprintf(cli, sizeof(cli), "127.0.0.1:%d", 10000 + i);
		model_diag_begin(m, T0 + MS(10 + 2 * i));
		diag_tw(&d, cli, SRV, ST_TIME_WAIT, 60000);
		assert_int_equal(model_diag_socket(m, &d), 0);
		model_diag_end(m, T0 + MS(10 + 2 * i));
		model_diag_begin(m, T0 + MS(11 + 2 * i));
		model_diag_end(m, T0 + MS(11 + 2 * i));
	}
	assert_true(m->nsocks <= SOCKS_MAX);
	assert_true(m->renumbered > 0);
	/* The live listener is kept, under a new id, still found by its fd. */
	assert_int_equal(by_fd(m, 100, 3)->state, ST_LISTEN);
	assert_true(by_fd(m, 100, 3)->id <= listener);
	assert_int_equal(m->socks[by_fd(m, 100, 3)->id].id, by_fd(m, 100, 3)->id);
	/* The listen() call's log entry follows it to its new id. */
	for (int i = 0; i < m->nlog; i++)
		if (m->log[i].call_id == SL_CALL_LISTEN)
			assert_int_equal(m->log[i].sock, by_fd(m, 100, 3)->id);
}

static void test_step_phases(void **state)
{
	struct model *m = *state;
	struct mproc *p;

	ev(m, 0, "v1 ph=hello pid=100 tid=100 ppid=1 exe=/x/server step=1");
	p = model_proc(m, 100);
	assert_true(p->step);
	ev(m, 1, "v1 ph=before seq=1 pid=100 tid=100 call=accept fd=3");
	p = model_proc(m, 100);
	assert_int_equal(p->phase, PH_GATE);
	assert_int_equal(p->pending, m->nlog - 1);
	model_proc_released(m, 100, T0 + MS(2));
	assert_int_equal(model_proc(m, 100)->phase, PH_INCALL);
	ev(m, 3, "v1 ph=after seq=1 pid=100 tid=100 call=accept fd=3 ret=-1 err=EINTR");
	p = model_proc(m, 100);
	assert_int_equal(p->phase, PH_RUNNING);
	assert_int_equal(p->pending, -1);
	model_proc_exited(m, 100, 0, T0 + MS(4));
	assert_int_equal(model_proc(m, 100)->phase, PH_EXITED);
}

static void test_dump_text(void **state)
{
	struct model *m = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	server_listens(m);
	handshake_on_wire(m, 200, CLI, 4, 0);
	assert_int_equal(dump_model(m, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "  server[100] running, 4 calls\n"));
	assert_non_null(strstr(buf, "server[100] fd 3 " SRV " * LISTEN\n"));
	assert_non_null(strstr(buf, "client[200] fd 3 " CLI " " SRV " ESTABLISHED\n"));
	assert_non_null(strstr(buf, "0.014000 CLOSE -> SYN_SENT (wire: SYN sent)\n"));
	assert_non_null(strstr(buf, "0.014000 " CLI " > " SRV " SYN seq=0 win=512 <mss 65495,sackOK,ws 7>\n"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_unanswered_makes_no_server_socket,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_and_passive_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_expiry_without_dumps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_clients_one_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_tuple_keeps_ends_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_capture_counted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_close_does_not_hide_time_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_call_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_reading_after_fin_is_time_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unaccepted_then_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_listeners_on_one_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_waiting_in_connect_is_one_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inferred_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_with_many_inferred_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_arguments_described, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vectored_io_inferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_connect_inferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_shares_sockets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_session_stays_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_phases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
