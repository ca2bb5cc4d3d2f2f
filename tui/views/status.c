/* status.c — the two bottom lines: what the selected process is doing
 * (stopped before which call, blocked in which call, ended), then the
 * mode, the sources, and the keys (or the latest message). */
#include <stdio.h>
#include <string.h>

#include "launch.h"
#include "text.h"
#include "views/views.h"

#define MESSAGE_NS (5 * NS_PER_S)

char *ui_proc_label(const struct mproc *p, char *buf, size_t size)
{
	snprintf(buf, size, "%s[%d]", p->name, (int)p->pid);
	return buf;
}

static const struct mlog *pending_call(const struct model *m, const struct mproc *p)
{
	if (p->pending >= 0 && p->pending < m->nlog)
		return &m->log[p->pending];
	return NULL;
}

static void process_line(struct ui *u, int y, int x, int w)
{
	struct session *s = u->s;
	const struct model *m = &s->model;
	const struct mproc *p = model_proc(&s->model, s->selected);
	const struct mlog *c;
	char who[48], where[96] = "";
	double secs;

	if (p == NULL) {
		draw_text(y, x, w, ui_look(u, LK_DIM),
			  s->opt.mode == SM_WATCH ? " watching: no process is traced" :
			  " no process yet");
		return;
	}
	ui_proc_label(p, who, sizeof(who));
	c = pending_call(m, p);
	if (c != NULL && c->at_atom >= 0) {
		const struct srcline *l = srcloc_get(&u->loc, m, c->at_atom);

		if (l != NULL && l->ok) {
			const char *base = strrchr(l->file, '/');

			char num[16];

			snprintf(num, sizeof(num), ":%d", l->line);
			text_copy(where, sizeof(where), "  at ");
			text_append(where, sizeof(where), base ? base + 1 : l->file);
			text_append(where, sizeof(where), num);
		}
	}
	secs = (double)(m->now > p->phase_t ? m->now - p->phase_t : 0) / (double)NS_PER_S;
	if (p->phase != PH_EXITED && launch_waits_input(s, p->pid)) {
		draw_fmt(y, x, w, ui_look(u, LK_CURRENT),
			 " > %s waits for input (reads its stdin) - Enter sends it a line", who);
		return;
	}
	switch (p->phase) {
	case PH_GATE:
		draw_fmt(y, x, w, ui_look(u, LK_CURRENT), " > %s before %s(%s)%s - space runs it",
			 who, c ? c->call : "?", c ? c->text : "", where);
		break;
	case PH_INCALL:
		if (s->opt.mode == SM_REPLAY)
			draw_fmt(y, x, w, A_NORMAL, " > %s in %s(%s)%s", who, c ? c->call : "?",
				 c ? c->text : "", where);
		else if (secs >= 0.2)
			draw_fmt(y, x, w, ui_look(u, LK_BAD), " > %s BLOCKED in %s(%s)%s  (waiting %.1fs)",
				 who, c ? c->call : "?", c ? c->text : "", where, secs);
		else
			draw_fmt(y, x, w, A_NORMAL, " > %s in %s()", who, c ? c->call : "?");
		break;
	case PH_EXITED:
		if (p->exit_code == EXIT_UNKNOWN)
			draw_fmt(y, x, w, ui_look(u, LK_DIM), " > %s has ended", who);
		else if (p->exit_code < 0)
			draw_fmt(y, x, w, ui_look(u, LK_DIM), " > %s was killed by signal %d", who, -p->exit_code);
		else
			draw_fmt(y, x, w, ui_look(u, LK_DIM), " > %s exited with status %d", who, p->exit_code);
		break;
	case PH_STARTING:
		draw_fmt(y, x, w, A_NORMAL, " > %s starting", who);
		break;
	default:
		draw_fmt(y, x, w, A_NORMAL, " > %s running", who);
		break;
	}
}

static const char *mode_word(const struct session *s)
{
	if (s->opt.mode == SM_REPLAY)
		return s->replay != NULL && replay_playing(s->replay) ? "PLAYING" : "REPLAY";
	if (s->opt.mode == SM_WATCH)
		return "WATCHING";
	if (s->paused)
		return "PAUSED";
	if (s->finished)
		return "ENDED";
	return s->stepping ? "STEPPING" : "RUNNING";
}

static int source_word(struct ui *u, int y, int x, const struct source *src, const char *off)
{
	if (src == NULL)
		return 0;
	if (src->active)
		return draw_fmt(y, x, 16, ui_look(u, LK_GOOD), "%s ", src->name);
	return draw_fmt(y, x, 24, ui_look(u, LK_DIM), "%s:%s ", src->name, off);
}

/* Which processes wait for input, and how to give it to them. */
static void input_waiting(struct ui *u, int y, int x, int w)
{
	struct session *s = u->s;
	char names[96] = "", who[48];

	for (int i = 0; i < s->nreaders; i++) {
		const struct mproc *p = model_proc(&s->model, s->readers[i].pid);

		if (p == NULL)
			continue;
		if (names[0] != '\0')
			text_append(names, sizeof(names), " ");
		text_append(names, sizeof(names), ui_proc_label(p, who, sizeof(who)));
	}
	draw_fmt(y, x, w, ui_look(u, LK_TITLE), "waiting for input: %s - Tab selects, Enter sends",
		 names);
}

void view_status(struct ui *u, struct rect r)
{
	struct session *s = u->s;
	int x = r.x, y = r.y + 1;
	mtime_t now = session_now();

	process_line(u, r.y, r.x, r.w);
	draw_fill(y, r.x, r.w, ui_look(u, LK_TITLE), ' ');
	x += draw_fmt(y, x, 12, ui_look(u, LK_TITLE), " %s ", mode_word(s));
	if (s->opt.mode == SM_REPLAY) {
		long done = 0, total = 0;

		replay_position(s->replay, &done, &total);
		x += draw_fmt(y, x, 16, ui_look(u, LK_TITLE), "%ld/%ld ", done, total);
	} else {
		x += source_word(u, y, x, s->trace, "off");
		/* Strangers that tried to talk to the trace socket. */
		if (s->trace != NULL && trace_refused(s->trace) > 0)
			x += draw_fmt(y, x, 24, ui_look(u, LK_BAD), "%llu refused ",
				      (unsigned long long)trace_refused(s->trace));
		x += source_word(u, y, x, s->diag, "off");
		x += source_word(u, y, x, s->wire, s->model.infer ? "inferred" : "off");
	}
	x += draw_text(y, x, 2, ui_look(u, LK_TITLE), "| ");
	if (s->message[0] != '\0' && now - s->message_t < MESSAGE_NS)
		draw_text(y, x, r.x + r.w - x, ui_look(u, LK_TITLE), s->message);
	else if (s->nreaders > 0)
		input_waiting(u, y, x, r.x + r.w - x);
	else if (s->opt.mode == SM_REPLAY)
		draw_text(y, x, r.x + r.w - x, ui_look(u, LK_TITLE),
			  "spc step c play p pause End end r rewind ? help q quit");
	else
		draw_text(y, x, r.x + r.w - x, ui_look(u, LK_TITLE),
			  "spc step c cont p pause Tab proc r restart ? help q quit");
}
