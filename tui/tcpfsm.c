/* tcpfsm.c — segments and connections: each segment is filed under its
 * connection (the full 4-tuple), numbered relative to each direction's
 * first sequence number, and moves both ends through the TCP state
 * machine of RFC 9293 (section 3.3.2) as the kernel would. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Linux keeps TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN). */
#define TIMEWAIT_NS (60 * NS_PER_S)

/* Two captures of one segment (lo shows it going out and coming in) are
 * closer than this; a retransmission is at least 200 ms later. */
#define DUP_WINDOW_NS (2 * NS_PER_MS)

struct mconn *conn_find(struct model *m, const struct ep *x, const struct ep *y,
                        int create, int *dir)
{
	struct mconn *c;

	for (int i = 0; i < m->nconns; i++) {
		c = &m->conns[i];
		if (ep_equal(&c->a, x) && ep_equal(&c->b, y)) {
			*dir = 0;
			return c;
		}
		if (ep_equal(&c->a, y) && ep_equal(&c->b, x)) {
			*dir = 1;
			return c;
		}
	}
	if (!create)
		return NULL;
	if (m->nconns >= m->capconns) {
		int n = m->capconns ? m->capconns * 2 : 8;
		struct mconn *p = realloc(m->conns, (size_t)n * sizeof(*p));

		if (p == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		m->conns = p;
		m->capconns = n;
	}
	c = &m->conns[m->nconns++];
	memset(c, 0, sizeof(*c));
	c->a = *x;
	c->b = *y;
	*dir = 0;
	return c;
}

static int is_duplicate(const struct model *m, const struct mseg *g)
{
	for (int i = m->nsegs - 1, n = 0; i >= 0 && n < 16; i--, n++) {
		const struct mseg *o = &m->segs[i];

		if (o->inferred || g->t > o->t + DUP_WINDOW_NS || o->t > g->t + DUP_WINDOW_NS)
			continue;
		if (ep_equal(&o->src, &g->src) && ep_equal(&o->dst, &g->dst) &&
		    o->flags == g->flags && o->seq == g->seq && o->ack == g->ack &&
		    o->len == g->len)
			return 1;
	}
	return 0;
}

static struct mseg *seg_append(struct model *m)
{
	if (m->nsegs >= SEG_MAX) {
		int drop = SEG_MAX / 2;

		memmove(m->segs, m->segs + drop, (size_t)(m->nsegs - drop) * sizeof(*m->segs));
		m->nsegs -= drop;
		m->segs_dropped += (uint64_t)drop;
	}
	if (m->nsegs >= m->capsegs) {
		int n = m->capsegs ? m->capsegs * 2 : 64;
		struct mseg *p = realloc(m->segs, (size_t)n * sizeof(*p));

		if (p == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		m->segs = p;
		m->capsegs = n;
	}
	return &m->segs[m->nsegs++];
}

static void number_segment(struct mconn *c, int d, struct mseg *g)
{
	struct mdir *out = &c->dir[d], *in = &c->dir[1 - d];

	if (g->inferred) {
		g->rseq = g->seq;
		g->rack = g->ack;
	} else {
		/* Relative numbers count from the SYN; a connection seen
		 * mid-stream counts from 1 at its first segment. */
		if (g->flags & TF_SYN) {
			out->isn = g->seq;
			out->has_isn = 1;
		} else if (!out->has_isn) {
			out->isn = g->seq - 1;
			out->has_isn = 1;
		}
		if ((g->flags & TF_ACK) && !in->has_isn) {
			in->isn = g->ack - 1;
			in->has_isn = 1;
		}
		g->rseq = g->seq - out->isn;
		g->rack = (g->flags & TF_ACK) ? g->ack - in->isn : 0;
	}
	if (g->flags & TF_FIN) {
		out->fin_sent = 1;
		out->fin_seq = g->seq + g->len;
	}
}

/* Does g (sent towards the end that owns direction back) acknowledge
 * that end's FIN? When the capture missed that FIN (it began late, or its
 * filter learnt the port late) but the end is known to have sent one, an
 * ACK is taken to cover it: on loopback the peer's answer always does. */
static int acks_fin(const struct mdir *back, const struct mseg *g)
{
	if (!(g->flags & TF_ACK))
		return 0;
	return back->fin_sent ? g->ack == back->fin_seq + 1 : 1;
}

static void end_closed(struct model *m, struct msock *s, mtime_t t,
                       enum cause cause, const char *why)
{
	if (s->nholders > 0)
		sock_set_state(m, s, ST_CLOSE, t, cause, why);
	else
		sock_forget(m, s, t, cause, why);
}

static void enter_time_wait(struct model *m, struct msock *s, mtime_t t,
                            enum cause cause)
{
	if (sock_set_state(m, s, ST_TIME_WAIT, t, cause, "FIN received")) {
		s->timer = TIMER_TIMEWAIT;
		s->timer_expiry = t + TIMEWAIT_NS;
	}
}

/* The sender of g: SYN_SENT after a SYN, FIN_WAIT1 or LAST_ACK after a
 * FIN, gone after an RST. */
static void fsm_sender(struct model *m, const struct mconn *c, int d,
                       const struct mseg *g, enum cause cause)
{
	struct msock *s = model_sock_by_tuple(m, &g->src, &g->dst);
	const struct mdir *back = &c->dir[1 - d];
	mtime_t t = g->t;

	if ((g->flags & TF_SYN) && s == NULL) {
		s = sock_new(m, t);
		if (s == NULL)
			return;
		s->family = g->src.family;
		s->type = 1;
		s->local = g->src;
		s->peer = g->dst;
		s->tcp = 1;
	}
	if (s == NULL)
		return;
	if (g->flags & TF_RST) {
		end_closed(m, s, t, cause, "RST sent");
		return;
	}
	if ((g->flags & TF_SYN) && (s->state == ST_NONE || s->state == ST_CLOSE))
		sock_set_state(m, s, (g->flags & TF_ACK) ? ST_SYN_RECV : ST_SYN_SENT, t,
			       cause, (g->flags & TF_ACK) ? "SYN,ACK sent" : "SYN sent");
	if (g->flags & TF_FIN) {
		/* Simultaneous close: this FIN does not acknowledge the peer's,
		 * so it left before the peer's arrived; the CLOSE_WAIT guessed
		 * from the peer's FIN was wrong: FIN_WAIT1, then CLOSING. */
		if (s->state == ST_CLOSE_WAIT && !g->inferred && back->fin_sent &&
		    !acks_fin(back, g)) {
			sock_undo_guess(m, s);
			if (sock_set_state(m, s, ST_FIN_WAIT1, t, cause, "FIN sent"))
				sock_set_state(m, s, ST_CLOSING, t, cause, "FIN received");
			return;
		}
		if (s->state == ST_ESTABLISHED || s->state == ST_SYN_RECV)
			sock_set_state(m, s, ST_FIN_WAIT1, t, cause, "FIN sent");
		else if (s->state == ST_CLOSE_WAIT)
			sock_set_state(m, s, ST_LAST_ACK, t, cause, "FIN sent");
	}
}

/* The receiver of g. */
static void fsm_receiver(struct model *m, struct mconn *c, int d, const struct mseg *g,
                         enum cause cause)
{
	struct msock *r = model_sock_by_tuple(m, &g->dst, &g->src);
	const struct mdir *back = &c->dir[1 - d];
	mtime_t t = g->t;

	if (g->flags & TF_RST) {
		if (r != NULL)
			end_closed(m, r, t, cause, "RST received");
		return;
	}
	if ((g->flags & TF_SYN) && !(g->flags & TF_ACK)) {
		/* A listener answers with a new socket of its own. */
		if (r == NULL && sock_listener_for(m, &g->dst) != NULL) {
			r = sock_new(m, t);
			if (r == NULL)
				return;
			r->family = g->dst.family;
			r->type = 1;
			r->local = g->dst;
			r->peer = g->src;
			r->tcp = 1;
			sock_set_state(m, r, ST_SYN_RECV, t, cause, "SYN received");
		}
		return;
	}
	if (r == NULL)
		return;
	if ((g->flags & TF_SYN) && r->state == ST_SYN_SENT) {
		sock_set_state(m, r, ST_ESTABLISHED, t, cause, "SYN,ACK received");
		return;
	}
	if (g->flags & TF_ACK) {
		if (r->state == ST_SYN_RECV)
			sock_set_state(m, r, ST_ESTABLISHED, t, cause, "ACK received");
		else if (r->state == ST_FIN_WAIT1 && acks_fin(back, g))
			sock_set_state(m, r, ST_FIN_WAIT2, t, cause, "ACK of FIN");
		else if (r->state == ST_CLOSING && acks_fin(back, g))
			enter_time_wait(m, r, t, cause);
		else if (r->state == ST_LAST_ACK && acks_fin(back, g)) {
			end_closed(m, r, t, cause, "ACK of FIN");
			return;
		}
	}
	if (g->flags & TF_FIN) {
		if (r->state == ST_ESTABLISHED || r->state == ST_SYN_RECV)
			sock_set_state(m, r, ST_CLOSE_WAIT, t, cause, "FIN received");
		else if (r->state == ST_FIN_WAIT1)
			sock_set_state(m, r, ST_CLOSING, t, cause, "FIN received");
		else if (r->state == ST_FIN_WAIT2)
			enter_time_wait(m, r, t, cause);
	}
}

/* File the segment in under its connection, number it, and move both
 * ends. */
static int file_segment(struct model *m, const struct mseg *in)
{
	enum cause cause = in->inferred ? CAUSE_INFER : CAUSE_WIRE;
	struct mconn *c;
	struct mseg *g;
	int d;

	c = conn_find(m, &in->src, &in->dst, 1, &d);
	if (c == NULL)
		return -1;
	g = seg_append(m);
	if (g == NULL)
		return -1;
	*g = *in;
	g->conn = (int)(c - m->conns);
	number_segment(c, d, g);
	c->nsegs++;
	model_touch(m, g->t);
	/* The sender first: a SYN makes the client's socket, which the
	 * SYN,ACK that follows then finds. */
	fsm_sender(m, c, d, g, cause);
	fsm_receiver(m, c, d, g, cause);
	return 0;
}

int model_apply_segment(struct model *m, const struct mseg *in)
{
	if (!ep_is_set(&in->src) || !ep_is_set(&in->dst))
		return 0;
	if (!in->inferred && is_duplicate(m, in))
		return 0;
	model_keep_small(m);
	return file_segment(m, in);
}

void model_infer_segment(struct model *m, const struct mseg *g)
{
	if (m->ninferred >= m->capinferred) {
		int n = m->capinferred ? m->capinferred * 2 : 16;
		struct mseg *p = realloc(m->inferred, (size_t)n * sizeof(*p));

		if (p == NULL)
			return;   /* the segment is not drawn; the model is intact */
		m->inferred = p;
		m->capinferred = n;
	}
	m->inferred[m->ninferred++] = *g;
}

void model_apply_inferred(struct model *m)
{
	/* Applying a segment infers nothing: the queue does not grow while
	 * it is emptied. The input that queued them already made the model
	 * small enough. */
	for (int i = 0; i < m->ninferred; i++)
		if (ep_is_set(&m->inferred[i].src) && ep_is_set(&m->inferred[i].dst))
			(void)file_segment(m, &m->inferred[i]);
	m->ninferred = 0;
}
