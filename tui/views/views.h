/* views.h — what the screen is made of. ui.c lays the views out in
 * rectangles and calls them; each view draws only inside its rectangle,
 * from the session's model, and never changes the model.
 *
 *   header    the title line, and the banner when segments are inferred
 *   ladder    a column per endpoint, an arrow per segment
 *   sockets   every socket of the session, with its state and history
 *   states    the TCP state machine, the selected socket's state lit
 *   source    the C source around the selected process's current call
 *   calls     the log of calls, results and errno names, and output
 *   status    the selected process's call, the mode, the sources, keys
 *   help      every key
 *   menu      the lesson menu (its own screen)
 */
#ifndef TUI_VIEWS_H
#define TUI_VIEWS_H

#include <curses.h>

#include "lessons.h"
#include "session.h"
#include "srcloc.h"

struct rect {
	int y, x, h, w;
};

/* The screens the number keys choose. */
enum ui_screen {
	SCR_OVERVIEW = 1, SCR_LADDER, SCR_SOCKETS, SCR_STATES, SCR_SOURCE, SCR_CALLS
};

/* Looks: colour pairs when there are colours, attributes otherwise. */
enum look {
	LK_NORMAL, LK_TITLE, LK_FRAME, LK_DIM, LK_BOLD, LK_SELECTED, LK_BANNER,
	LK_GOOD, LK_OPENING, LK_CLOSING, LK_TIMEWAIT, LK_LISTEN, LK_BAD, LK_DATA,
	LK_CURRENT, LK_COUNT
};

struct ui {
	struct session *s;
	enum ui_screen screen;
	int help;                 /* the help is shown */
	int color;
	int ladder_back;          /* segments scrolled back from the newest */
	int calls_back;           /* log entries scrolled back */
	int source_shift;         /* lines moved from the current one */
	int sel_sock;             /* socket id, -1: follow the selected process */
	uint64_t drawn_version;
	mtime_t drawn_at;
	int dirty;                /* a key or a resize: draw again */
	uint64_t renumbered;      /* the model's count when sel_sock was chosen */
	int empty_reads;          /* stdin readable with no key, passes in a row */
	struct srcloc loc;
};

/* ---- drawing helpers (draw.c) ---- */
/* The colour pairs, once start_color() has run. */
void draw_init_colors(void);
attr_t ui_look(const struct ui *u, enum look look);
attr_t ui_state_look(const struct ui *u, int state);
/* Text at y, x, cut to w columns. Returns the columns used. */
int draw_text(int y, int x, int w, attr_t a, const char *text);
int draw_fmt(int y, int x, int w, attr_t a, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void draw_fill(int y, int x, int w, attr_t a, chtype c);
/* A title bar: " TITLE " over a line of '-' across the rectangle's top. */
void draw_title(const struct ui *u, struct rect r, const char *title, int focused);

/* ---- the views ---- */
void view_header(struct ui *u, struct rect r);
void view_ladder(struct ui *u, struct rect r);
/* history: one line of history under each socket (the sockets screen). */
void view_sockets(struct ui *u, struct rect r, int history);
void view_states(struct ui *u, struct rect r);
void view_source(struct ui *u, struct rect r);
void view_calls(struct ui *u, struct rect r);
void view_status(struct ui *u, struct rect r);
void view_help(struct ui *u, struct rect r);

/* The socket the state diagram and history show: the chosen one, or the
 * one the selected process's current call is about. NULL when none. */
const struct msock *ui_focus_socket(const struct ui *u);
/* The sockets worth a row, as ids in the order the sockets view lists
 * them (Up and Down move along this order); returns how many. */
#define UI_SOCKET_ROWS 512
int ui_socket_order(const struct model *m, int *ids, int max);
/* "client[123]" for a process. */
char *ui_proc_label(const struct mproc *p, char *buf, size_t size);

/* ---- the menu (menu.c) ---- */
struct menu_item {
	struct lesson *lesson;
	const char *scenario;     /* NULL: the default run */
};

/* The next key, waiting for it; ERR when socklab must stop instead (a
 * signal, the terminal gone: quit.h). ui.c. */
int ui_wait_key(void);
/* Show the menu until Enter (returns 1, *pick set) or q, a signal or the
 * terminal's end (returns 0). */
int view_menu(struct lessons *ls, int color, struct menu_item *pick);

#endif
