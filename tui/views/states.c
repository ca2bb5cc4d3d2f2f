/* states.c — the TCP state machine of RFC 9293 (section 3.3.2) drawn in
 * the terminal: the focused socket's state lit, the edge of its last
 * transition marked, and under the diagram that socket's history.
 *
 * The diagram is fixed text (art); a second text of the same shape
 * (edges) names each edge's cells with a letter, so marking an edge is
 * looking up its letter. Simultaneous open and the rarer edges are left
 * out to keep it readable in 64 columns.
 */
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "text.h"
#include "views/views.h"

#define ART_ROWS 19
#define ART_W 64

static const char *const art[ART_ROWS] = {
	"                         [ CLOSED ]",
	"           listen()  .-----'    '-----.  connect(): SYN out",
	"                     v                v",
	"                [ LISTEN ]       [ SYN_SENT ]",
	" SYN in: SYN,ACK out |                | SYN,ACK in: ACK out",
	"                     v                |",
	"              [ SYN_RECV ]            |",
	"               ACK in '-----.   .-----'",
	"                            v   v",
	"                       [ ESTABLISHED ]",
	"      close(): FIN out .-----'   '-----. FIN in: ACK out",
	"                       v               v",
	"                [ FIN_WAIT1 ]    [ CLOSE_WAIT ]",
	"           ACK in |       | FIN in      | close(): FIN out",
	"                  v       v             v",
	"       [ FIN_WAIT2 ] [ CLOSING ]   [ LAST_ACK ]-ACK in-> CLOSED",
	"           FIN in |       | ACK in",
	"                  v       v           RST in any state -> CLOSED",
	"              [ TIME_WAIT ]-after 60 s-> CLOSED",
};

static const char *const edges[ART_ROWS] = {
	"",
	"                     aaaaaaa    bbbbbbb",
	"                     a                b",
	"",
	"                     c                d",
	"                     c                d",
	"                                      d",
	"                      eeeeeee   ddddddd",
	"                            e   d",
	"",
	"                       fffffff   ggggggg",
	"                       f               g",
	"",
	"                  h       i             l",
	"                  h       i             l",
	"                                               mmmmmmmmm",
	"                  j       k",
	"                  j       k           oooooooooooooooooooooooooo",
	"                           nnnnnnnnnnnnn",
};

/* The letter in edges of the transition from -> to, or 0. */
static char edge_of(const struct transition *h)
{
	static const struct { int from, to; char id; } map[] = {
		{ ST_CLOSE, ST_LISTEN, 'a' }, { ST_NONE, ST_LISTEN, 'a' },
		{ ST_CLOSE, ST_SYN_SENT, 'b' }, { ST_NONE, ST_SYN_SENT, 'b' },
		{ ST_LISTEN, ST_SYN_RECV, 'c' }, { ST_NONE, ST_SYN_RECV, 'c' },
		{ ST_SYN_SENT, ST_ESTABLISHED, 'd' }, { ST_SYN_RECV, ST_ESTABLISHED, 'e' },
		{ ST_ESTABLISHED, ST_FIN_WAIT1, 'f' }, { ST_ESTABLISHED, ST_CLOSE_WAIT, 'g' },
		{ ST_FIN_WAIT1, ST_FIN_WAIT2, 'h' }, { ST_FIN_WAIT1, ST_CLOSING, 'i' },
		{ ST_FIN_WAIT2, ST_TIME_WAIT, 'j' }, { ST_CLOSING, ST_TIME_WAIT, 'k' },
		{ ST_CLOSE_WAIT, ST_LAST_ACK, 'l' }, { ST_LAST_ACK, ST_CLOSE, 'm' },
		{ ST_TIME_WAIT, ST_CLOSE, 'n' },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].from == h->from && map[i].to == h->to)
			return map[i].id;
	if (h->to == ST_CLOSE && strstr(h->why, "RST") != NULL)
		return 'o';
	return 0;
}

/* Where "[ NAME ]" of a state is drawn: row and column, or -1. */
static int find_label(int state, int *col)
{
	char label[32];
	const char *name = state == ST_CLOSE ? "CLOSED" : model_state_name(state);

	snprintf(label, sizeof(label), "[ %s ]", name);
	for (int r = 0; r < ART_ROWS; r++) {
		const char *p = strstr(art[r], label);

		if (p != NULL) {
			*col = (int)(p - art[r]);
			return r;
		}
	}
	return -1;
}

static void draw_art(struct ui *u, int y0, int x0, int rows, int state, char edge)
{
	int col, row = state > ST_NONE ? find_label(state, &col) : -1;
	attr_t mark = u->color ? ui_look(u, LK_OPENING) | A_BOLD : A_BOLD;

	for (int r = 0; r < ART_ROWS && r < rows; r++) {
		const char *line = art[r];
		int len = (int)strlen(line);

		draw_text(y0 + r, x0, len, ui_look(u, LK_FRAME), line);
		/* Each state's label in its colour. */
		for (int st = ST_ESTABLISHED; st < ST_COUNT; st++) {
			int c, lr = find_label(st, &c);
			char label[32];

			if (lr != r)
				continue;
			snprintf(label, sizeof(label), "[ %s ]", st == ST_CLOSE ? "CLOSED" : model_state_name(st));
			draw_text(y0 + r, x0 + c, (int)strlen(label), ui_state_look(u, st) | A_BOLD, label);
		}
		/* The last transition's edge: its cells bold, and without
		 * colour its strokes drawn '#', so that it shows anywhere. */
		if (edge != 0)
			for (int c = 0; edges[r][c] != '\0' && c < len; c++)
				if (edges[r][c] == edge && line[c] != ' ') {
					int stroke = strchr("-|.'v<>", line[c]) != NULL;
					char ch[2] = { u->color || !stroke ? line[c] : '#', '\0' };

					draw_text(y0 + r, x0 + c, 1, mark, ch);
				}
	}
	if (row >= 0 && row < rows) {
		char label[32];
		int len;

		snprintf(label, sizeof(label), "[ %s ]", state == ST_CLOSE ? "CLOSED" : model_state_name(state));
		len = (int)strlen(label);
		draw_text(y0 + row, x0 + col, len, ui_look(u, LK_CURRENT), label);
		/* Arrows beside it, for terminals without reverse video. */
		if (col > 0 && art[row][col - 1] == ' ')
			draw_text(y0 + row, x0 + col - 1, 1, ui_look(u, LK_CURRENT), ">");
		if (col + len >= (int)strlen(art[row]) || art[row][col + len] == ' ')
			draw_text(y0 + row, x0 + col + len, 1, ui_look(u, LK_CURRENT), "<");
	}
}

void view_states(struct ui *u, struct rect r)
{
	const struct model *m = &u->s->model;
	const struct msock *s = ui_focus_socket(u);
	const struct transition *last = NULL;
	char title[160], owner[64], local[EP_TEXT_LEN], peer[EP_TEXT_LEN];
	int x0 = r.x + (r.w > ART_W ? (r.w - ART_W) / 2 : 0), y = r.y + 1 + ART_ROWS;

	if (s != NULL && s->nhist > 0)
		last = &s->hist[s->nhist - 1];
	if (s == NULL) {
		snprintf(title, sizeof(title), "TCP states (no socket selected: Up/Down)");
	} else {
		dump_owner(m, s, owner, sizeof(owner));
		snprintf(title, sizeof(title), "TCP states: #%d %s %s", s->id, owner,
			 s->gone ? "CLOSED" : model_state_name(s->state));
	}
	draw_title(u, r, title, u->screen == SCR_STATES);
	draw_art(u, r.y + 1, x0, r.h - 1, s != NULL && s->tcp ? s->state : ST_NONE,
		 last != NULL ? edge_of(last) : 0);
	if (s == NULL || y >= r.y + r.h)
		return;
	ep_format(&s->local, local, sizeof(local));
	ep_format(&s->peer, peer, sizeof(peer));
	draw_fmt(y++, r.x + 1, r.w - 1, ui_look(u, LK_BOLD), "#%d %s  %s -> %s", s->id, owner,
		 local, peer);
	/* The history, newest last, as many lines as fit. */
	for (int i = s->nhist - (r.y + r.h - y); i < s->nhist; i++) {
		const struct transition *h;
		char when[32];

		if (i < 0 || y >= r.y + r.h)
			continue;
		h = &s->hist[i];
		draw_fmt(y++, r.x + 3, r.w - 3, h == last ? ui_look(u, LK_BOLD) : A_NORMAL,
			 "%s  %s -> %s  (%s)", dump_reltime(m, h->t, when, sizeof(when)),
			 model_state_name(h->from), model_state_name(h->to), h->why);
	}
}
