/* help.c — every key, and what each source is doing (or why not). */
#include <stdio.h>
#include <string.h>

#include "views/views.h"

static const char *const keys[][2] = {
	{ "space, n", "step: let the selected process make its next call" },
	{ "c", "continue: every process runs free (replay: play)" },
	{ "p", "pause: every process stops before its next call" },
	{ "Tab", "select the next process" },
	{ "Enter", "send a line (Enter) to the selected process's input" },
	{ "r", "restart the lesson (replay: rewind)" },
	{ "1", "overview: ladder, sockets, source, calls" },
	{ "2 3 4", "the ladder / sockets with history / TCP state diagram" },
	{ "5 6", "the source / the calls, full screen" },
	{ "Up, Down", "select a socket (its state diagram and history)" },
	{ "PgUp, PgDn", "scroll the ladder, calls or source" },
	{ "Home, End", "oldest / newest (replay: End jumps to the end)" },
	{ "Esc", "back to the overview" },
	{ "?", "this help (any key closes it)" },
	{ "q", "quit" },
};

static void source_line(struct ui *u, int y, int x, int w, const struct source *src)
{
	if (src == NULL)
		return;
	draw_fmt(y, x, w, src->active ? ui_look(u, LK_GOOD) : ui_look(u, LK_DIM), "%-6s %s: %s",
		 src->name, src->active ? "on" : "off", src->why);
}

void view_help(struct ui *u, struct rect r)
{
	struct session *s = u->s;
	int n = (int)(sizeof(keys) / sizeof(keys[0])), y = r.y + 1;

	for (int i = 0; i < r.h; i++)
		draw_fill(r.y + i, r.x, r.w, A_NORMAL, ' ');
	draw_title(u, r, "help: keys", 1);
	for (int i = 0; i < n && y < r.y + r.h - 1; i++, y++)
		draw_fmt(y, r.x + 2, r.w - 4, A_NORMAL, "%-12s %s", keys[i][0], keys[i][1]);
	y++;
	if (y < r.y + r.h - 1)
		draw_text(y++, r.x + 2, r.w - 4, ui_look(u, LK_BOLD), "sources");
	if (y < r.y + r.h - 1)
		source_line(u, y++, r.x + 2, r.w - 4, s->trace);
	if (y < r.y + r.h - 1)
		source_line(u, y++, r.x + 2, r.w - 4, s->diag);
	if (y < r.y + r.h - 1)
		source_line(u, y++, r.x + 2, r.w - 4, s->wire);
	if (y < r.y + r.h - 1)
		source_line(u, y++, r.x + 2, r.w - 4, s->replay);
	draw_fill(r.y + r.h - 1, r.x, r.w, ui_look(u, LK_FRAME), '-');
}
