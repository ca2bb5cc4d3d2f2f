/* draw.c — small drawing helpers shared by the views. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "views/views.h"

enum {
	CP_TITLE = 1, CP_FRAME, CP_BANNER, CP_GOOD, CP_OPENING, CP_CLOSING,
	CP_TIMEWAIT, CP_LISTEN, CP_BAD, CP_DATA, CP_CURRENT, CP_SELECTED
};

attr_t ui_look(const struct ui *u, enum look look)
{
	if (!u->color) {
		/* Monochrome: attributes only, and the text says the rest. */
		switch (look) {
		case LK_TITLE: return A_REVERSE;
		case LK_FRAME: return A_NORMAL;
		case LK_DIM: return A_DIM;
		case LK_BOLD: return A_BOLD;
		case LK_SELECTED: return A_REVERSE;
		case LK_BANNER: return A_BOLD | A_REVERSE;
		case LK_GOOD: return A_BOLD;
		case LK_OPENING: return A_UNDERLINE;
		case LK_CLOSING: return A_UNDERLINE;
		case LK_TIMEWAIT: return A_BOLD | A_UNDERLINE;
		case LK_LISTEN: return A_NORMAL;
		case LK_BAD: return A_BOLD;
		case LK_DATA: return A_NORMAL;
		case LK_CURRENT: return A_REVERSE;
		default: return A_NORMAL;
		}
	}
	switch (look) {
	case LK_TITLE: return COLOR_PAIR(CP_TITLE) | A_BOLD;
	case LK_FRAME: return COLOR_PAIR(CP_FRAME);
	case LK_DIM: return A_DIM;
	case LK_BOLD: return A_BOLD;
	case LK_SELECTED: return A_REVERSE;
	case LK_BANNER: return COLOR_PAIR(CP_BANNER) | A_BOLD;
	case LK_GOOD: return COLOR_PAIR(CP_GOOD) | A_BOLD;
	case LK_OPENING: return COLOR_PAIR(CP_OPENING) | A_BOLD;
	case LK_CLOSING: return COLOR_PAIR(CP_CLOSING) | A_BOLD;
	case LK_TIMEWAIT: return COLOR_PAIR(CP_TIMEWAIT) | A_BOLD;
	case LK_LISTEN: return COLOR_PAIR(CP_LISTEN) | A_BOLD;
	case LK_BAD: return COLOR_PAIR(CP_BAD) | A_BOLD;
	case LK_DATA: return COLOR_PAIR(CP_DATA);
	case LK_CURRENT: return COLOR_PAIR(CP_CURRENT) | A_BOLD;
	default: return A_NORMAL;
	}
}

void draw_init_colors(void)
{
	use_default_colors();
	init_pair(CP_TITLE, COLOR_WHITE, COLOR_BLUE);
	init_pair(CP_FRAME, COLOR_BLUE, -1);
	init_pair(CP_BANNER, COLOR_BLACK, COLOR_YELLOW);
	init_pair(CP_GOOD, COLOR_GREEN, -1);
	init_pair(CP_OPENING, COLOR_YELLOW, -1);
	init_pair(CP_CLOSING, COLOR_MAGENTA, -1);
	init_pair(CP_TIMEWAIT, COLOR_CYAN, -1);
	init_pair(CP_LISTEN, COLOR_BLUE, -1);
	init_pair(CP_BAD, COLOR_RED, -1);
	init_pair(CP_DATA, COLOR_CYAN, -1);
	init_pair(CP_CURRENT, COLOR_BLACK, COLOR_CYAN);
	init_pair(CP_SELECTED, COLOR_BLACK, COLOR_WHITE);
}

attr_t ui_state_look(const struct ui *u, int state)
{
	switch (state) {
	case ST_ESTABLISHED: return ui_look(u, LK_GOOD);
	case ST_SYN_SENT: case ST_SYN_RECV: return ui_look(u, LK_OPENING);
	case ST_FIN_WAIT1: case ST_FIN_WAIT2: case ST_CLOSE_WAIT:
	case ST_LAST_ACK: case ST_CLOSING: return ui_look(u, LK_CLOSING);
	case ST_TIME_WAIT: return ui_look(u, LK_TIMEWAIT);
	case ST_LISTEN: return ui_look(u, LK_LISTEN);
	case ST_CLOSE: return ui_look(u, LK_DIM);
	default: return A_NORMAL;
	}
}

int draw_text(int y, int x, int w, attr_t a, const char *text)
{
	int n = 0;

	if (w <= 0 || y < 0 || y >= LINES || x < 0 || x >= COLS)
		return 0;
	if (x + w > COLS)
		w = COLS - x;
	attron(a);
	for (; text[n] != '\0' && n < w; n++) {
		unsigned char c = (unsigned char)text[n];

		mvaddch(y, x + n, c >= 0x20 && c < 0x7f ? c : '?');
	}
	attroff(a);
	return n;
}

int draw_fmt(int y, int x, int w, attr_t a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return draw_text(y, x, w, a, buf);
}

void draw_fill(int y, int x, int w, attr_t a, chtype c)
{
	if (y < 0 || y >= LINES || x < 0 || x >= COLS || w <= 0)
		return;
	if (x + w > COLS)
		w = COLS - x;
	attron(a);
	mvhline(y, x, c, w);
	attroff(a);
}

void draw_title(const struct ui *u, struct rect r, const char *title, int focused)
{
	draw_fill(r.y, r.x, r.w, ui_look(u, LK_FRAME), '-');
	draw_fmt(r.y, r.x + 1, r.w - 2, focused ? ui_look(u, LK_BOLD) : ui_look(u, LK_FRAME),
		 " %s ", title);
}
