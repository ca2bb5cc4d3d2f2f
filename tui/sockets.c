/* sockets.c — the model's sockets: found by (pid, fd) and by 4-tuple, their
 * states with the history of every change, and the kernel's dumps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "text.h"

/* A socket keeps its last HIST_MAX changes. */
#define HIST_MAX 64

static int live(const struct msock *s)
{
	return !s->gone && !s->merged;
}

struct msock *sock_new(struct model *m, mtime_t t)
{
	struct msock *s;

	if (m->nsocks >= m->capsocks) {
		int n = m->capsocks ? m->capsocks * 2 : 16;
		struct msock *p = realloc(m->socks, (size_t)n * sizeof(*p));

		if (p == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		m->socks = p;
		m->capsocks = n;
	}
	s = &m->socks[m->nsocks];
	memset(s, 0, sizeof(*s));
	s->id = m->nsocks++;
	s->last_pid = -1;
	s->last_fd = -1;
	s->created = t;
	s->state_t = t;
	model_touch(m, t);
	return s;
}

static void hist_add(struct msock *s, mtime_t t, int from, int to,
                     enum cause cause, const char *why)
{
	struct transition *h;

	if (s->nhist >= HIST_MAX) {
		memmove(s->hist, s->hist + 1, (size_t)(s->nhist - 1) * sizeof(*s->hist));
		s->nhist--;
	}
	if (s->nhist >= s->caphist) {
		int n = s->caphist ? s->caphist * 2 : 8;
		struct transition *p = realloc(s->hist, (size_t)n * sizeof(*p));

		if (p == NULL)
			return;   /* the state still changes; only history is lost */
		s->hist = p;
		s->caphist = n;
	}
	h = &s->hist[s->nhist++];
	h->t = t;
	h->from = (uint8_t)from;
	h->to = (uint8_t)to;
	h->cause = (uint8_t)cause;
	text_copy(h->why, sizeof(h->why), why);
}

int sock_set_state(struct model *m, struct msock *s, int state, mtime_t t,
                   enum cause cause, const char *why)
{
	if (!live(s) || state <= ST_NONE || state >= ST_COUNT)
		return 0;
	s->tcp = 1;
	if (state == ST_LISTEN)
		s->listening = 1;
	if (state == s->state || t < s->state_t)
		return 0;
	hist_add(s, t, s->state, state, cause, why);
	s->state = state;
	s->state_t = t;
	if (state != ST_TIME_WAIT && s->timer == TIMER_TIMEWAIT)
		s->timer = TIMER_NONE;
	model_touch(m, t);
	return 1;
}

void sock_undo_guess(struct model *m, struct msock *s)
{
	struct transition *h;

	if (s->nhist == 0)
		return;
	h = &s->hist[s->nhist - 1];
	if (h->cause != CAUSE_WIRE && h->cause != CAUSE_INFER)
		return;
	s->state = h->from;
	s->state_t = s->nhist > 1 ? s->hist[s->nhist - 2].t : s->created;
	s->nhist--;
	model_touch(m, 0);
}

void sock_add_holder(struct msock *s, int32_t pid, int32_t fd)
{
	for (int i = 0; i < s->nholders; i++)
		if (s->holders[i].pid == pid && s->holders[i].fd == fd)
			return;
	if (s->nholders < HOLDERS_MAX) {
		s->holders[s->nholders].pid = pid;
		s->holders[s->nholders].fd = fd;
		s->nholders++;
	}
	s->last_pid = pid;
	s->last_fd = fd;
}

void sock_drop_holder(struct msock *s, int32_t pid, int32_t fd)
{
	for (int i = 0; i < s->nholders; i++)
		if (s->holders[i].pid == pid && s->holders[i].fd == fd) {
			s->holders[i] = s->holders[--s->nholders];
			return;
		}
}

void sock_forget(struct model *m, struct msock *s, mtime_t t,
                 enum cause cause, const char *why)
{
	if (!live(s))
		return;
	if (t < s->state_t)
		t = s->state_t;
	if (s->tcp && s->state != ST_CLOSE)
		hist_add(s, t, s->state, ST_CLOSE, cause, why);
	if (s->tcp)
		s->state = ST_CLOSE;
	s->state_t = t;
	s->gone = 1;
	s->nholders = 0;
	s->timer = TIMER_NONE;
	s->has_queues = 0;
	model_touch(m, t);
}

struct msock *model_sock_by_fd(struct model *m, int32_t pid, int32_t fd)
{
	for (int i = m->nsocks - 1; i >= 0; i--) {
		struct msock *s = &m->socks[i];

		if (!live(s))
			continue;
		for (int k = 0; k < s->nholders; k++)
			if (s->holders[k].pid == pid && s->holders[k].fd == fd)
				return s;
	}
	return NULL;
}

struct msock *model_sock_by_tuple(struct model *m, const struct ep *local,
                                  const struct ep *peer)
{
	struct msock *unconnected = NULL;

	for (int i = m->nsocks - 1; i >= 0; i--) {
		struct msock *s = &m->socks[i];

		if (!live(s) || !ep_equal(&s->local, local))
			continue;
		if (ep_is_set(peer)) {
			if (ep_equal(&s->peer, peer))
				return s;
		} else if (!ep_is_set(&s->peer)) {
			if (s->listening)
				return s;
			if (unconnected == NULL)
				unconnected = s;
		}
	}
	return unconnected;
}

struct msock *sock_listener_for(struct model *m, const struct ep *dst)
{
	for (int i = m->nsocks - 1; i >= 0; i--) {
		struct msock *s = &m->socks[i];

		if (live(s) && s->state == ST_LISTEN &&
		    ep_listener_accepts(&s->local, dst))
			return s;
	}
	return NULL;
}

const struct mproc *model_sock_owner(const struct model *m, const struct msock *s)
{
	int32_t pid = s->nholders > 0 ? s->holders[0].pid : s->last_pid;

	for (int i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	return NULL;
}

static int by_time(const void *a, const void *b)
{
	const struct transition *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/* Fold src (seen first by the kernel or the wire, no fd) into dst (the
 * socket a process holds): one socket, one history. */
static void merge_into(struct model *m, struct msock *dst, struct msock *src)
{
	for (int i = 0; i < src->nhist; i++) {
		struct transition *h = &src->hist[i];

		hist_add(dst, h->t, h->from, h->to, h->cause, h->why);
	}
	if (dst->nhist > 1) {
		qsort(dst->hist, (size_t)dst->nhist, sizeof(*dst->hist), by_time);
		for (int i = 1; i < dst->nhist; i++)
			dst->hist[i].from = dst->hist[i - 1].to;
	}
	if (src->state_t >= dst->state_t && src->state != ST_NONE) {
		dst->state = src->state;
		dst->state_t = src->state_t;
	}
	dst->tcp = dst->tcp || src->tcp;
	if (src->diag_seen) {
		dst->diag_seen = 1;
		dst->diag_fresh = src->diag_fresh;
		dst->has_queues = src->has_queues;
		dst->rq = src->rq;
		dst->sq = src->sq;
		dst->timer = src->timer;
		dst->timer_expiry = src->timer_expiry;
		dst->inode = src->inode;
	}
	if (src->created < dst->created)
		dst->created = src->created;
	src->merged = 1;
	model_touch(m, 0);
}

struct msock *sock_bind_tuple(struct model *m, struct msock *s,
                              const struct ep *local, const struct ep *peer)
{
	struct msock *other = model_sock_by_tuple(m, local, peer);

	if (other != NULL && other != s) {
		if (other->nholders == 0) {
			merge_into(m, s, other);
		} else {
			/* Someone else holds this connection: s was a stale
			 * view of the same one. */
			for (int i = 0; i < s->nholders; i++)
				sock_add_holder(other, s->holders[i].pid, s->holders[i].fd);
			s->merged = 1;
			other->family = other->family ? other->family : s->family;
			return other;
		}
	}
	s->local = *local;
	s->peer = *peer;
	if (s->family == 0)
		s->family = local->family;
	return s;
}

/* ---- the kernel's table (sock_diag) -------------------------------------------- */

void model_diag_begin(struct model *m, mtime_t t)
{
	model_keep_small(m);
	m->diag_open = 1;
	m->diag_t = t;
	for (int i = 0; i < m->nsocks; i++)
		m->socks[i].diag_fresh = 0;
}

/* The model's socket for dump entry d (peer already normalised) when no
 * socket has d's inode yet (sock_by_inode), or NULL. Several kernel
 * sockets may share one tuple (SO_REUSEPORT listeners in several workers,
 * a bound socket beside them), so the tuple alone is not enough: the
 * newest with the tuple that no entry of this dump has taken yet and that
 * no dump tied to another inode, a listener first for a listening entry,
 * and never a listener for an entry that is not listening. */
static struct msock *diag_match(struct model *m, const struct diag_sock *d,
                                const struct ep *peer, int state)
{
	struct msock *best = NULL;

	for (int i = m->nsocks - 1; i >= 0; i--) {
		struct msock *s = &m->socks[i];

		if (!live(s) || !ep_equal(&s->local, &d->local))
			continue;
		if (ep_is_set(peer) ? !ep_equal(&s->peer, peer) : ep_is_set(&s->peer))
			continue;
		if (s->diag_fresh || (d->inode != 0 && s->inode != 0))
			continue;
		if (!ep_is_set(peer) && state != ST_LISTEN && s->state == ST_LISTEN)
			continue;
		if (best == NULL || (state == ST_LISTEN && s->listening && !best->listening))
			best = s;
	}
	return best;
}

/* The live socket whose inode is ino (an earlier dump's, or the trace's
 * for an fd), one a process holds first, or NULL. */
static struct msock *sock_by_inode(struct model *m, uint64_t ino)
{
	struct msock *found = NULL;

	for (int i = m->nsocks - 1; i >= 0; i--) {
		struct msock *s = &m->socks[i];

		if (live(s) && s->inode == ino && (found == NULL || s->nholders > found->nholders))
			found = s;
	}
	return found;
}

int model_diag_socket(struct model *m, const struct diag_sock *d)
{
	int state = d->state == 12 ? ST_SYN_RECV : d->state;
	mtime_t t = m->diag_t;
	struct ep nopeer = { 0 };
	const struct ep *peer = &d->peer;
	struct msock *s;
	mtime_t expiry;

	if (!m->diag_open || state < ST_ESTABLISHED || state >= ST_COUNT ||
	    !ep_is_set(&d->local))
		return 0;
	if (state == ST_LISTEN || !ep_is_set(peer) || peer->port == 0)
		peer = &nopeer;
	/* The socket with d's inode is the one. A connection whose fd the
	 * trace described by its inode before it had an address (connect()
	 * waits for the SYN,ACK: the fd reads 0.0.0.0:0, the kernel's table
	 * already has the tuple) takes the tuple, and whatever the wire
	 * showed of it. */
	s = d->inode != 0 ? sock_by_inode(m, d->inode) : NULL;
	if (s != NULL && !(ep_equal(&s->local, &d->local) && ep_equal(&s->peer, peer)))
		s = ep_is_set(peer) ? sock_bind_tuple(m, s, &d->local, peer) : NULL;
	if (s == NULL)
		s = diag_match(m, d, peer, state);
	if (s == NULL) {
		s = sock_new(m, t);
		if (s == NULL)
			return -1;
		s->family = d->family;
		s->type = 1;  /* SOCK_STREAM */
		s->tcp = 1;
		s->local = d->local;
		s->peer = *peer;
	}
	sock_set_state(m, s, state, t, CAUSE_KERNEL, "kernel");
	expiry = d->timer ? t + (mtime_t)d->expires_ms * NS_PER_MS : 0;
	/* A dump that shows nothing new changes nothing on the screen (the
	 * timer's expiry moves by the dump's own jitter: ignore that). */
	if (!s->has_queues || s->rq != d->rq || s->sq != d->sq || s->timer != d->timer ||
	    expiry > s->timer_expiry + NS_PER_S / 2 || expiry + NS_PER_S / 2 < s->timer_expiry)
		model_touch(m, t);
	s->has_queues = 1;
	s->rq = d->rq;
	s->sq = d->sq;
	s->timer = d->timer;
	s->timer_expiry = expiry;
	s->inode = d->inode;
	s->diag_seen = 1;
	s->diag_fresh = 1;
	return 0;
}

void model_diag_end(struct model *m, mtime_t t)
{
	if (!m->diag_open)
		return;
	m->diag_open = 0;
	for (int i = 0; i < m->nsocks; i++) {
		struct msock *s = &m->socks[i];

		if (!live(s) || !s->tcp || !s->diag_seen || s->diag_fresh ||
		    s->state_t > m->diag_t)
			continue;
		/* The kernel no longer has it. */
		if (s->nholders == 0)
			sock_forget(m, s, t, s->state == ST_TIME_WAIT ? CAUSE_TIMER : CAUSE_KERNEL,
				    s->state == ST_TIME_WAIT ? "TIME_WAIT expired" : "gone");
		else
			sock_set_state(m, s, ST_CLOSE, t, CAUSE_KERNEL, "kernel");
		s->diag_seen = 0;
	}
	if (t > m->now)
		m->now = t;
}

void model_tick(struct model *m, mtime_t now)
{
	if (now > m->now)
		m->now = now;
	/* Without dumps (none arrive, or a replay without them) TIME_WAIT
	 * ends on its own timer; a little later than the kernel's, so a
	 * dump, when there is one, says it first. */
	for (int i = 0; i < m->nsocks; i++) {
		struct msock *s = &m->socks[i];

		if (live(s) && s->state == ST_TIME_WAIT && s->timer == TIMER_TIMEWAIT &&
		    s->nholders == 0 && now >= s->timer_expiry + 2 * NS_PER_S)
			sock_forget(m, s, s->timer_expiry, CAUSE_TIMER, "TIME_WAIT expired");
	}
}
