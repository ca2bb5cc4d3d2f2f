/* sockets.c — every socket of the session: who holds it (process and fd,
 * or nobody: not accepted yet, or closed and finishing in the kernel),
 * its addresses, its TCP state in colour, its queues, its timer (the
 * TIME_WAIT countdown), and the history of its states. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "text.h"
#include "views/views.h"

static int shown(const struct msock *s)
{
	return !s->merged && (s->tcp || !s->gone);
}

const struct msock *ui_focus_socket(const struct ui *u)
{
	struct model *m = &u->s->model;
	const struct mproc *p;

	if (u->sel_sock >= 0 && u->sel_sock < m->nsocks && shown(&m->socks[u->sel_sock]))
		return &m->socks[u->sel_sock];
	p = model_proc(m, u->s->selected);
	if (p == NULL)
		return NULL;
	/* The socket of the process's current call, else of its last one. */
	for (int i = m->nlog - 1, n = 0; i >= 0 && n < 2000; i--, n++) {
		const struct mlog *e = &m->log[i];
		struct msock *s;

		if (e->pid != p->pid || e->kind != LOG_CALL)
			continue;
		if (e->sock >= 0 && e->sock < m->nsocks && shown(&m->socks[e->sock]))
			return &m->socks[e->sock];
		s = e->fd >= 0 ? model_sock_by_fd(m, p->pid, e->fd) : NULL;
		if (s != NULL && shown(s))
			return s;
	}
	return NULL;
}

static void owner_text(const struct model *m, const struct msock *s, char *who, size_t wsize,
                       char *fd, size_t fsize)
{
	const struct mproc *p = model_sock_owner(m, s);

	if (s->nholders > 0) {
		snprintf(who, wsize, "%s[%d]", p ? p->name : "?", (int)s->holders[0].pid);
		snprintf(fd, fsize, "%d", (int)s->holders[0].fd);
	} else if (s->last_pid > 0) {
		snprintf(who, wsize, "%s[%d]", p ? p->name : "?", (int)s->last_pid);
		snprintf(fd, fsize, "-");
	} else {
		/* The server's end of a connection accept() has not taken. */
		int queued = 0;

		for (int i = 0; i < m->nsocks && !queued; i++) {
			const struct msock *l = &m->socks[i];

			queued = !l->gone && !l->merged && l->state == ST_LISTEN &&
				 ep_listener_accepts(&l->local, &s->local) && ep_is_set(&s->peer);
		}
		snprintf(who, wsize, "%s", queued && !s->gone ? "(unaccepted)" : "(kernel)");
		snprintf(fd, fsize, "-");
	}
}

static void timer_text(const struct model *m, const struct msock *s, char *buf, size_t size)
{
	uint64_t left;

	buf[0] = '\0';
	if (s->gone || s->timer == TIMER_NONE || s->timer_expiry == 0)
		return;
	left = s->timer_expiry > m->now ? (s->timer_expiry - m->now + NS_PER_S - 1) / NS_PER_S : 0;
	if (s->timer == TIMER_TIMEWAIT && s->state == ST_TIME_WAIT)
		snprintf(buf, size, "TW %" PRIu64 "s", left);
	else if (s->timer == TIMER_RETRANS)
		snprintf(buf, size, "rtx %" PRIu64 "s", left);
}

static void addr_text(const struct msock *s, int local, char *buf, size_t size)
{
	const struct ep *e = local ? &s->local : &s->peer;

	if (!local && s->state == ST_LISTEN && !s->gone)
		snprintf(buf, size, "(listening)");
	else if (!local && s->listening && !ep_is_set(e))
		snprintf(buf, size, "(listener)");
	else if (ep_is_set(e))
		ep_format(e, buf, size);
	else if (local && s->local_text[0] != '\0')
		text_copy(buf, size, s->local_text);
	else
		snprintf(buf, size, "-");
}

static void socket_row(struct ui *u, int y, struct rect r, const struct msock *s, int aw, int sel)
{
	const struct model *m = &u->s->model;
	char who[48], fd[12], local[EP_TEXT_LEN], peer[EP_TEXT_LEN], timer[32], q[24];
	attr_t base = sel ? ui_look(u, LK_SELECTED) : (s->gone ? ui_look(u, LK_DIM) : A_NORMAL);
	int x = r.x;

	owner_text(m, s, who, sizeof(who), fd, sizeof(fd));
	addr_text(s, 1, local, sizeof(local));
	addr_text(s, 0, peer, sizeof(peer));
	timer_text(m, s, timer, sizeof(timer));
	if (s->has_queues && !s->gone)
		snprintf(q, sizeof(q), "%" PRIu32 "/%" PRIu32, s->rq, s->sq);
	else
		snprintf(q, sizeof(q), "-");
	draw_fill(y, r.x, r.w, base, ' ');
	x += draw_fmt(y, x, 14, base, "%-13s ", who);
	x += draw_fmt(y, x, 4, base, "%3s ", fd);
	x += draw_fmt(y, x, aw + 1, base, "%-*s ", aw, local);
	x += draw_fmt(y, x, aw + 1, base, "%-*s ", aw, peer);
	x += draw_fmt(y, x, 12, sel ? base : (s->gone ? base : ui_state_look(u, s->state)), "%-11s ",
		      !s->tcp ? "-" : s->gone ? "CLOSED" : model_state_name(s->state));
	x += draw_fmt(y, x, 8, base, "%7s ", q);
	draw_text(y, x, r.x + r.w - x, sel ? base : ui_look(u, LK_TIMEWAIT), timer);
}

/* The transitions from first on, with their reasons or without. */
static void history_from(const struct msock *s, int first, int why, char *buf, size_t size)
{
	buf[0] = '\0';
	if (first > 0)
		text_append(buf, size, "... ");
	for (int i = first; i < s->nhist; i++) {
		const struct transition *h = &s->hist[i];

		if (i == first && h->from != ST_NONE) {
			text_append(buf, size, model_state_name(h->from));
			text_append(buf, size, " ");
		}
		if (i > first || h->from != ST_NONE)
			text_append(buf, size, "> ");
		text_append(buf, size, model_state_name(h->to));
		if (why) {
			text_append(buf, size, " (");
			text_append(buf, size, h->why);
			text_append(buf, size, ")");
		}
		text_append(buf, size, " ");
	}
}

/* "CLOSE > SYN_SENT (SYN sent) > ESTABLISHED (SYN,ACK received)": all of
 * it when it fits in w columns, else without the reasons, else the
 * newest transitions with their reasons. */
static void history_text(const struct msock *s, char *buf, size_t size, int w)
{
	history_from(s, 0, 1, buf, size);
	if ((int)strlen(buf) <= w)
		return;
	history_from(s, 0, 0, buf, size);
	if ((int)strlen(buf) <= w)
		return;
	for (int first = 1; first < s->nhist; first++) {
		history_from(s, first, 1, buf, size);
		if ((int)strlen(buf) <= w)
			return;
	}
}

static void history_row(struct ui *u, int y, int x, int w, const struct msock *s, const char *lead)
{
	char text[2048];
	int n = draw_text(y, x, w, ui_look(u, LK_DIM), lead);

	history_text(s, text, sizeof(text), w - n);
	draw_text(y, x + n, w - n, A_NORMAL, s->nhist ? text : "(no state changes seen)");
}

/* Live sockets first, in the order they appeared, then the gone ones,
 * most recent first. */
int ui_socket_order(const struct model *m, int *ids, int max)
{
	int n = 0;

	for (int i = 0; i < m->nsocks && n < max; i++)
		if (shown(&m->socks[i]) && !m->socks[i].gone)
			ids[n++] = i;
	for (int i = m->nsocks - 1; i >= 0 && n < max; i--)
		if (shown(&m->socks[i]) && m->socks[i].gone)
			ids[n++] = i;
	return n;
}

void view_sockets(struct ui *u, struct rect r, int history)
{
	const struct model *m = &u->s->model;
	const struct msock *focus = ui_focus_socket(u);
	int ids[UI_SOCKET_ROWS], n = ui_socket_order(m, ids, UI_SOCKET_ROWS), per = history ? 2 : 1;
	int rows = r.h - 2 - (history ? 0 : 1), first = 0, sel = -1;
	int aw = (r.w - 47) / 2;
	char title[64];

	if (aw > 22)
		aw = 22;
	if (aw < 12)
		aw = 12;
	snprintf(title, sizeof(title), "sockets (%d)   Up/Down selects", n);
	draw_title(u, r, title, u->screen == SCR_SOCKETS);
	draw_fmt(r.y + 1, r.x, r.w, ui_look(u, LK_BOLD), "%-13s %3s %-*s %-*s %-11s %7s %s",
		 "PROCESS", "FD", aw, "LOCAL", aw, "PEER", "STATE", "RQ/SQ", "TIMER");
	for (int i = 0; i < n; i++)
		if (focus != NULL && ids[i] == focus->id)
			sel = i;
	if (rows / per < 1)
		return;
	if (sel >= rows / per)
		first = sel - rows / per + 1;
	for (int i = first, y = r.y + 2; i < n && y + per - 1 < r.y + 2 + rows; i++, y += per) {
		const struct msock *s = &m->socks[ids[i]];

		socket_row(u, y, r, s, aw, i == sel);
		if (history)
			history_row(u, y + 1, r.x + 4, r.w - 4, s, "");
	}
	if (n == 0)
		draw_text(r.y + 2, r.x + 1, r.w - 1, ui_look(u, LK_DIM), "no sockets yet");
	if (!history && focus != NULL) {
		char lead[32];

		snprintf(lead, sizeof(lead), "#%d history: ", focus->id);
		history_row(u, r.y + r.h - 1, r.x, r.w, focus, lead);
	}
}
