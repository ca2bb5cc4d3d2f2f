/* calls.c — the log: every call with its arguments, its return value and
 * the errno name when it failed; a call still in progress is marked; the
 * programs' own output lines are interleaved, as they came. */
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "text.h"
#include "views/views.h"

static void entry_text(const struct model *m, const struct mlog *e, int wide, int width,
                       char *buf, size_t size, attr_t *a, const struct ui *u)
{
	const struct mproc *p = NULL;
	char who[48] = "?", part[96];

	for (int i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == e->pid)
			p = &m->procs[i];
	if (p != NULL) {
		if (wide)
			ui_proc_label(p, who, sizeof(who));
		else
			snprintf(who, sizeof(who), "%.6s", p->name);
	}
	*a = A_NORMAL;
	switch (e->kind) {
	case LOG_OUTPUT:
		snprintf(buf, size, "%s| ", who);
		text_append(buf, size, e->text);
		*a = ui_look(u, LK_DIM);
		return;
	case LOG_NOTE:
		snprintf(buf, size, "* %s ", who);
		text_append(buf, size, e->text);
		*a = ui_look(u, LK_DIM);
		return;
	case LOG_CALL:
		break;
	}
	/* The result first: in a narrow pane the arguments give way. A call
	 * that has not returned is waiting at the step gate (...), or
	 * running, or blocked in the kernel (accept() with no client yet). */
	if (!e->done) {
		int blocked = p != NULL && p->phase == PH_INCALL &&
			      &m->log[p->pending] == e && m->now - p->phase_t >= 200 * NS_PER_MS;

		text_copy(part, sizeof(part), blocked ? " BLOCKED" : " ...");
		*a = blocked ? ui_look(u, LK_BAD) : ui_look(u, LK_BOLD);
	} else {
		const char *name = e->err != 0 ? sl_event_errno_name(e->err) : NULL;

		snprintf(part, sizeof(part), " = %lld%s%s", (long long)e->ret,
			 e->err != 0 ? " " : "", e->err != 0 ? (name ? name : "?") : "");
		if (e->err != 0)
			*a = ui_look(u, LK_BAD);
	}
	snprintf(buf, size, "%s %s(", who, e->call);
	{
		int room = width - (int)strlen(buf) - (int)strlen(part) - 1;
		char args[LOG_TEXT_LEN];

		text_copy(args, sizeof(args), e->text);
		if (room < (int)strlen(args)) {
			if (room < 2)
				room = 2;
			if (room < (int)sizeof(args) - 1) {
				args[room - 1] = '~';
				args[room] = '\0';
			}
		}
		text_append(buf, size, args);
	}
	text_append(buf, size, ")");
	text_append(buf, size, part);
	/* The state after the call, where there is room for it. */
	if (e->done && e->state > 0 && e->state < ST_COUNT && wide &&
	    (int)(strlen(buf) + strlen(model_state_name(e->state))) + 4 <= width) {
		text_append(buf, size, "  [");
		text_append(buf, size, model_state_name(e->state));
		text_append(buf, size, "]");
	}
}

void view_calls(struct ui *u, struct rect r)
{
	const struct model *m = &u->s->model;
	int rows = r.h - 1, wide = r.w >= 60, last, first;
	char title[96];

	uint64_t dropped = m->log_dropped;

	for (int i = 0; i < m->nprocs; i++)
		dropped += m->procs[i].dropped;
	/* Events the shim could not send (free-run never waits) and old
	 * entries let go are counted, not hidden. */
	if (dropped > 0)
		snprintf(title, sizeof(title), "calls (%d, %llu not shown)%s", m->nlog,
			 (unsigned long long)dropped, u->calls_back > 0 ? " [back: End]" : "");
	else
		snprintf(title, sizeof(title), "calls (%d)%s", m->nlog,
			 u->calls_back > 0 ? " [back: End]" : "");
	draw_title(u, r, title, u->screen == SCR_CALLS);
	if (rows < 1)
		return;
	if (u->calls_back > m->nlog - rows)
		u->calls_back = m->nlog - rows > 0 ? m->nlog - rows : 0;
	last = m->nlog - u->calls_back;
	first = last - rows > 0 ? last - rows : 0;
	for (int i = first, y = r.y + 1; i < last; i++, y++) {
		const struct mlog *e = &m->log[i];
		char text[512];
		attr_t a;
		int x = r.x + 1;

		if (wide) {
			char when[32];

			x += draw_text(y, x, 11, ui_look(u, LK_DIM),
				       dump_reltime(m, e->t, when, sizeof(when)));
			x++;
		}
		entry_text(m, e, wide, r.x + r.w - x, text, sizeof(text), &a, u);
		draw_text(y, x, r.x + r.w - x, a, text);
	}
	if (m->nlog == 0)
		draw_text(r.y + 1, r.x + 1, r.w - 1, ui_look(u, LK_DIM), "no calls yet");
}
