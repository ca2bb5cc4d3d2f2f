/* header.c — the title line, and a banner when the segments on screen
 * are inferred rather than captured (or the lesson shares the host's
 * loopback). */
#include <stdio.h>
#include <string.h>

#include "views/views.h"

void view_header(struct ui *u, struct rect r)
{
	const struct session *s = u->s;
	char right[64];
	int rw;

	draw_fill(r.y, r.x, r.w, ui_look(u, LK_TITLE), ' ');
	if (s->net.on)
		snprintf(right, sizeof(right), "%s%d hosts, link%s ",
			 s->opt.mode == SM_REPLAY ? "recorded, " : "", s->net.nhosts,
			 s->net.hold ? " HOLD" : "");
	else if (s->opt.mode == SM_REPLAY)
		snprintf(right, sizeof(right), "recorded%s ", s->private_ns ? ", private lo" : "");
	else if (s->opt.mode == SM_RUN)
		snprintf(right, sizeof(right), "%s ", s->private_ns ? "private lo" : "host lo");
	else
		snprintf(right, sizeof(right), "host lo ");
	rw = (int)strlen(right);
	draw_fmt(r.y, r.x, r.w - rw, ui_look(u, LK_TITLE), " socklab  %s", s->title);
	draw_text(r.y, r.x + r.w - rw, rw, ui_look(u, LK_TITLE), right);
	if (r.h < 2)
		return;
	draw_fill(r.y + 1, r.x, r.w, ui_look(u, LK_BANNER), ' ');
	if (s->opt.mode == SM_RUN && !s->private_ns)
		draw_fmt(r.y + 1, r.x, r.w, ui_look(u, LK_BANNER),
			 " HOST LOOPBACK (no private namespace: %s)%s", s->ns_why,
			 s->model.infer ? "; segments INFERRED from the calls" : "");
	else if (s->model.infer)
		draw_fmt(r.y + 1, r.x, r.w, ui_look(u, LK_BANNER),
			 " segments INFERRED from the calls (drawn ....>): %s",
			 s->wire != NULL ? s->wire->why : "the recording had no capture");
	else if (s->trace != NULL && !s->trace->active)
		draw_fmt(r.y + 1, r.x, r.w, ui_look(u, LK_BANNER), " NO TRACE: %s", s->trace->why);
}
