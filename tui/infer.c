/* infer.c — the segments a call must have caused, for when nothing can
 * capture them (no private namespace, no CAP_NET_RAW). They are marked
 * inferred and drawn as such: on loopback a connect() that returned 0 did
 * a three-way handshake, a send() of n bytes put n bytes on the wire, a
 * recv() that returned 0 met the peer's FIN. What cannot be known (window,
 * options, how the data was split) is left out. Sequence numbers are
 * relative from the start: SYN is 0, the first data byte 1.
 *
 * Segments are queued here and applied by the model when the event is
 * done (model.h), so a pointer taken here stays valid throughout.
 */
#include <errno.h>
#include <string.h>

#include "model.h"

static int is_send(const struct sl_event *ev)
{
	return (sl_event_call_class(ev->call_id) & SL_CALLS_SEND) != 0;
}

static int is_recv(const struct sl_event *ev)
{
	return (sl_event_call_class(ev->call_id) & SL_CALLS_RECV) != 0;
}

static void emit(struct model *m, const struct ep *src, const struct ep *dst,
                 uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len, mtime_t t)
{
	struct mseg g;

	memset(&g, 0, sizeof(g));
	g.t = t;
	g.src = *src;
	g.dst = *dst;
	g.flags = flags;
	g.seq = seq;
	g.ack = ack;
	g.len = len;
	g.inferred = 1;
	model_infer_segment(m, &g);
}

/* The next relative sequence number of one direction. */
static uint32_t next_seq(const struct mdir *d)
{
	return 1u + (uint32_t)d->emitted + (d->fin_emitted ? 1u : 0u);
}

/* Look up the connection x -> y; d is the index of that direction. */
static struct mconn *conn_of(struct model *m, const struct ep *x, const struct ep *y,
                             int *d)
{
	return conn_find(m, x, y, 1, d);
}

static void handshake(struct model *m, const struct ep *client, const struct ep *server,
                      mtime_t t)
{
	int d;
	struct mconn *c = conn_of(m, client, server, &d);

	if (c == NULL || c->handshake_inferred)
		return;
	c->handshake_inferred = 1;
	emit(m, client, server, TF_SYN, 0, 0, 0, t + 1);
	emit(m, server, client, TF_SYN | TF_ACK, 0, 1, 0, t + 2);
	emit(m, client, server, TF_ACK, 1, 1, 0, t + 3);
}

/* Data that sends or receives proved to have crossed x -> y and that is
 * not drawn yet: one PSH,ACK for it and the receiver's ACK. */
static void flush_data(struct model *m, const struct ep *x, const struct ep *y, mtime_t t)
{
	int d;
	struct mconn *c = conn_of(m, x, y, &d);
	uint64_t target;
	uint32_t seq, ack, n;

	if (c == NULL)
		return;
	target = c->dir[d].sent > c->dir[d].recvd ? c->dir[d].sent : c->dir[d].recvd;
	if (target <= c->dir[d].emitted)
		return;
	n = (uint32_t)(target - c->dir[d].emitted);
	seq = next_seq(&c->dir[d]);
	ack = next_seq(&c->dir[1 - d]);
	c->dir[d].emitted = target;
	emit(m, x, y, TF_PSH | TF_ACK, seq, ack, n, t + 1);
	emit(m, y, x, TF_ACK, ack, next_seq(&c->dir[d]), 0, t + 2);
}

static void fin(struct model *m, const struct ep *x, const struct ep *y, mtime_t t)
{
	int d;
	struct mconn *c = conn_of(m, x, y, &d);
	uint32_t seq, ack;

	if (c == NULL || c->dir[d].fin_emitted)
		return;
	seq = next_seq(&c->dir[d]);
	ack = next_seq(&c->dir[1 - d]);
	c->dir[d].fin_emitted = 1;
	emit(m, x, y, TF_FIN | TF_ACK, seq, ack, 0, t + 3);
	emit(m, y, x, TF_ACK, ack, seq + 1, 0, t + 4);
}

static void rst(struct model *m, const struct ep *x, const struct ep *y, mtime_t t)
{
	int d;
	struct mconn *c = conn_of(m, x, y, &d);

	if (c == NULL || c->dir[d].rst_emitted)
		return;
	c->dir[d].rst_emitted = 1;
	emit(m, x, y, TF_RST, next_seq(&c->dir[d]), 0, 0, t + 5);
}

void infer_handshake(struct model *m, const struct sl_event *ev, mtime_t t_call)
{
	struct ep local, peer, addr;

	if (!(ev->has & SL_EV_LOCAL) || ep_parse(ev->local, &local) < 0 || local.port == 0)
		return;
	if (ev->call_id == SL_CALL_CONNECT) {
		if (!(ev->has & SL_EV_ADDR) || ep_parse(ev->addr, &addr) < 0)
			return;
		if (ev->ret == 0 || ((ev->has & SL_EV_ERR) && ev->err == EINPROGRESS &&
				      (ev->has & SL_EV_STATE) && ev->state == ST_ESTABLISHED)) {
			handshake(m, &local, &addr, t_call);
		} else if ((ev->has & SL_EV_ERR) && ev->err == ECONNREFUSED) {
			int d;
			struct mconn *c = conn_of(m, &local, &addr, &d);

			if (c == NULL || c->handshake_inferred)
				return;
			c->handshake_inferred = 1;
			emit(m, &local, &addr, TF_SYN, 0, 0, 0, t_call + 1);
			emit(m, &addr, &local, TF_RST | TF_ACK, 0, 1, 0, t_call + 2);
		}
		return;
	}
	/* accept() may have waited long before the client came: the
	 * handshake is only known to be over when accept() returned. */
	if ((sl_event_call_class(ev->call_id) & SL_CALLS_ACCEPT) && ev->ret >= 0 &&
	    (ev->has & SL_EV_PEER) && ep_parse(ev->peer, &peer) == 0)
		handshake(m, &peer, &local, ((ev->has & SL_EV_T) && ev->t > 4) ? ev->t - 4 : t_call);
}

/* A socket reports a connected state, but no handshake was drawn (it was
 * made before tracing began, or by a peer we do not trace). */
static void handshake_if_missing(struct model *m, struct msock *s, mtime_t t)
{
	int d;
	struct mconn *c;

	if (!ep_is_set(&s->peer) || s->state == ST_SYN_SENT || s->state == ST_LISTEN ||
	    s->state == ST_CLOSE || s->state == ST_NONE)
		return;
	c = conn_find(m, &s->local, &s->peer, 0, &d);
	if (c != NULL && (c->handshake_inferred || c->nsegs > 0))
		return;
	if (sock_listener_for(m, &s->local) != NULL)
		handshake(m, &s->peer, &s->local, t);
	else
		handshake(m, &s->local, &s->peer, t);
}

void infer_after_call(struct model *m, const struct sl_event *ev,
                      struct msock *s, int prev_state)
{
	struct ep local = s->local, peer = s->peer;
	mtime_t t = (ev->has & SL_EV_T) ? ev->t : m->now;
	int d;
	struct mconn *c;

	if (!s->tcp || !ep_is_set(&local) || !ep_is_set(&peer))
		return;
	if (ev->call_id != SL_CALL_CLOSE)
		handshake_if_missing(m, s, t);
	if (is_send(ev) && ev->ret > 0) {
		c = conn_of(m, &local, &peer, &d);
		if (c != NULL) {
			c->dir[d].sent += (uint64_t)ev->ret;
			flush_data(m, &local, &peer, t);
		}
	} else if (is_recv(ev) && ev->ret > 0) {
		c = conn_of(m, &peer, &local, &d);
		if (c != NULL) {
			c->dir[d].recvd += (uint64_t)ev->ret;
			flush_data(m, &peer, &local, t);
		}
	} else if (is_recv(ev) && ev->ret == 0 && (ev->has & SL_EV_LEN) && ev->len > 0) {
		fin(m, &peer, &local, t);
	} else if (ev->call_id == SL_CALL_SHUTDOWN && ev->ret == 0 && (ev->n == 1 || ev->n == 2)) {
		fin(m, &local, &peer, t);
	} else if (ev->call_id == SL_CALL_CLOSE && (prev_state == ST_ESTABLISHED ||
				       prev_state == ST_CLOSE_WAIT ||
				       prev_state == ST_SYN_RECV)) {
		fin(m, &local, &peer, t);
	}
	if ((ev->has & SL_EV_ERR) && ev->err == ECONNRESET)
		rst(m, &peer, &local, t);
}
