/* ui.c — curses set-up, the layout of each screen, the keys, and the
 * menu-to-session loop (see ui.h). One thread: the session's poll()
 * loop calls in here for the keyboard and to draw. */
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quit.h"
#include "ui.h"
#include "views/views.h"

#define FRAME_NS (33 * NS_PER_MS)   /* at most 30 frames a second */
#define TICK_NS  NS_PER_S           /* countdowns move once a second */
#define MIN_LINES 24
#define MIN_COLS 80
/* Passes in a row where stdin was readable and held no key: a terminal
 * at its end that did not say POLLHUP. */
#define EMPTY_READS_MAX 50

static int curses_on;

static int ui_open(void)
{
	if (curses_on)
		return 0;
	setlocale(LC_ALL, "");
	if (initscr() == NULL)
		return -1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	/* Esc alone should not wait a second for an escape sequence. */
	set_escdelay(25);
	curses_on = 1;
	return 0;
}

static void ui_close(void)
{
	if (curses_on) {
		endwin();
		curses_on = 0;
	}
}

static int want_color(void)
{
	const char *no = getenv("NO_COLOR");

	if (no != NULL && no[0] != '\0')
		return 0;
	if (!has_colors() || start_color() == ERR)
		return 0;
	draw_init_colors();
	return 1;
}

/* ---- layout ------------------------------------------------------------------- */

static int banner_lines(const struct ui *u)
{
	const struct session *s = u->s;

	return (s->opt.mode == SM_RUN && !s->private_ns) || s->model.infer ||
	       (s->trace != NULL && !s->trace->active) ? 1 : 0;
}

static void layout_overview(struct ui *u, struct rect body)
{
	struct rect lad, sock, src, calls, states;
	int left_w = body.w, bottom_h, sock_h, want, ids[UI_SOCKET_ROWS];

	/* A wide screen has room for the state diagram on the right. */
	if (body.w >= 80 + 66 && body.h >= 21) {
		left_w = body.w - 66;
		states = (struct rect){ body.y, body.x + left_w, body.h, 66 };
		view_states(u, states);
	}
	bottom_h = body.h >= 30 ? body.h * 3 / 10 : 5;
	/* Title, column names, the rows, the focused socket's history. */
	want = ui_socket_order(&u->s->model, ids, UI_SOCKET_ROWS);
	want = 3 + (want < 2 ? 2 : want > 12 ? 12 : want);
	sock_h = want;
	if (body.h - bottom_h - sock_h < 7)
		sock_h = body.h - bottom_h - 7;
	lad = (struct rect){ body.y, body.x, body.h - bottom_h - sock_h, left_w };
	sock = (struct rect){ lad.y + lad.h, body.x, sock_h, left_w };
	src = (struct rect){ sock.y + sock.h, body.x, bottom_h, left_w * 11 / 20 };
	calls = (struct rect){ src.y, src.x + src.w, bottom_h, left_w - src.w };
	view_ladder(u, lad);
	view_sockets(u, sock, 0);
	view_source(u, src);
	view_calls(u, calls);
}

static void draw_too_small(void)
{
	const char *msg = "terminal too small (need 80x24)";
	int len = (int)strlen(msg);

	erase();
	mvaddnstr(LINES / 2, COLS > len ? (COLS - len) / 2 : 0, msg, COLS);
	refresh();
}

static void draw_all(struct ui *u)
{
	struct rect head, body, status;
	int top;

	if (LINES < MIN_LINES || COLS < MIN_COLS) {
		draw_too_small();
		return;
	}
	erase();
	top = 1 + banner_lines(u);
	head = (struct rect){ 0, 0, top, COLS };
	status = (struct rect){ LINES - 2, 0, 2, COLS };
	body = (struct rect){ top, 0, LINES - 2 - top, COLS };
	view_header(u, head);
	switch (u->screen) {
	case SCR_LADDER: view_ladder(u, body); break;
	case SCR_SOCKETS: view_sockets(u, body, 1); break;
	case SCR_STATES: view_states(u, body); break;
	case SCR_SOURCE: view_source(u, body); break;
	case SCR_CALLS: view_calls(u, body); break;
	default: layout_overview(u, body); break;
	}
	view_status(u, status);
	if (u->help)
		view_help(u, (struct rect){ 1, 2, LINES - 3, COLS - 4 });
	refresh();
}

/* ---- keys -------------------------------------------------------------------- */

/* Move the socket selection to the next (dir 1) or previous (-1) row of
 * the sockets view, round the end; from no selection, Down is the first
 * row and Up the last. */
static void move_selection(struct ui *u, int dir)
{
	int ids[UI_SOCKET_ROWS], n = ui_socket_order(&u->s->model, ids, UI_SOCKET_ROWS);
	const struct msock *cur = ui_focus_socket(u);
	int at = -1;

	if (n == 0)
		return;
	for (int i = 0; i < n && cur != NULL; i++)
		if (ids[i] == cur->id)
			at = i;
	if (at < 0)
		at = dir > 0 ? 0 : n - 1;
	else
		at = (at + dir + n) % n;
	u->sel_sock = ids[at];
}

static void scroll_by(struct ui *u, int amount)
{
	int *back = u->screen == SCR_CALLS ? &u->calls_back :
		    u->screen == SCR_SOURCE ? &u->source_shift : &u->ladder_back;

	if (u->screen == SCR_SOURCE)
		*back -= amount;   /* PgUp shows the lines above */
	else
		*back += amount;
	if (u->screen != SCR_SOURCE && *back < 0)
		*back = 0;
}

static void to_end(struct ui *u)
{
	struct session *s = u->s;

	if (s->replay != NULL)
		replay_to_end(s->replay);
	u->ladder_back = u->calls_back = u->source_shift = 0;
}

static void on_key(struct ui *u, int key)
{
	struct session *s = u->s;
	int page = LINES > 12 ? LINES / 3 : 4;

	u->dirty = 1;
	if (u->help) {
		u->help = 0;
		if (key != 'q' && key != 'Q')
			return;
	}
	switch (key) {
	case 'q': case 'Q': s->quit = 1; break;
	case ' ': case 'n': session_step(s); break;
	case 'c': session_continue(s); break;
	case '\n': case '\r': case KEY_ENTER: session_enter(s); break;
	case 'p': session_pause(s); break;
	case '\t': session_select_next(s); u->sel_sock = -1; u->source_shift = 0; break;
	case 'r': session_restart(s); u->sel_sock = -1; to_end(u); break;
	case '?': case KEY_F(1): u->help = 1; break;
	case '1': case '2': case '3': case '4': case '5': case '6':
		u->screen = (enum ui_screen)(key - '0');
		break;
	case 27: u->screen = SCR_OVERVIEW; break;
	case KEY_UP: case 'k': move_selection(u, -1); break;
	case KEY_DOWN: case 'j': move_selection(u, 1); break;
	case KEY_PPAGE: scroll_by(u, page); break;
	case KEY_NPAGE: scroll_by(u, -page); break;
	case KEY_HOME: scroll_by(u, 1000000); break;
	case KEY_END: to_end(u); break;
	case KEY_RESIZE: break;
	default: u->dirty = 0; break;
	}
}

/* Returns how many keys were read. */
static int read_keys(struct ui *u)
{
	int key, n = 0;

	while (!u->s->quit && (key = getch()) != ERR) {
		on_key(u, key);
		n++;
	}
	return n;
}

/* The terminal is gone when stdin hangs up, fails, or keeps saying it is
 * readable while holding nothing (end of file): then socklab stops, as on
 * SIGHUP. Returns 1 when it is gone. */
static int terminal_gone(short revents, int keys, int *empty)
{
	if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
		quit_request(QUIT_HANGUP);
		return 1;
	}
	if (!(revents & POLLIN) || keys > 0) {
		*empty = 0;
		return 0;
	}
	if (++*empty < EMPTY_READS_MAX)
		return 0;
	quit_request(QUIT_HANGUP);
	return 1;
}

int ui_wait_key(void)
{
	static int empty;

	for (;;) {
		struct pollfd p[2] = { { .fd = 0, .events = POLLIN },
				       { .fd = quit_fd(), .events = POLLIN } };
		int key, r;

		if (quit_requested())
			return ERR;
		/* A key curses has read already (the rest of a sequence). */
		key = getch();
		if (key != ERR) {
			empty = 0;
			return key;
		}
		r = poll(p, 2, -1);
		if (r < 0 && errno != EINTR)
			return ERR;
		/* A resize interrupts poll(); curses then has KEY_RESIZE. */
		if (r <= 0)
			continue;
		if (p[0].revents != 0) {
			key = getch();
			if (key != ERR) {
				empty = 0;
				return key;
			}
			if (terminal_gone(p[0].revents, 0, &empty))
				return ERR;
		}
	}
}

/* ---- the frontend the session loop calls ------------------------------------------ */

static int fe_fill(void *ctx, struct pollfd *pfd, int max)
{
	(void)ctx;
	if (max < 1)
		return 0;
	pfd[0].fd = 0;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	return 1;
}

static void fe_ready(void *ctx, const struct pollfd *pfd, int n)
{
	struct ui *u = ctx;
	int keys;

	if (n < 1 || pfd[0].revents == 0)
		return;
	keys = read_keys(u);
	if (terminal_gone(pfd[0].revents, keys, &u->empty_reads))
		u->s->quit = 1;
}

static mtime_t fe_deadline(void *ctx)
{
	struct ui *u = ctx;

	if (u->dirty || u->drawn_version != u->s->model.version)
		return u->drawn_at + FRAME_NS;
	return u->drawn_at + TICK_NS;
}

static void fe_draw(void *ctx)
{
	struct ui *u = ctx;
	mtime_t now = session_now();

	/* A resize interrupts poll() without making stdin readable. */
	read_keys(u);
	/* Old sockets were let go and the ids renumbered. */
	if (u->renumbered != u->s->model.renumbered) {
		u->renumbered = u->s->model.renumbered;
		u->sel_sock = -1;
	}
	if (u->s->quit)
		return;
	if (!u->dirty && now < u->drawn_at + TICK_NS &&
	    (u->drawn_version == u->s->model.version || now < u->drawn_at + FRAME_NS))
		return;
	draw_all(u);
	u->dirty = 0;
	u->drawn_at = now;
	u->drawn_version = u->s->model.version;
}

int ui_session(struct session *s)
{
	struct ui *u = calloc(1, sizeof(*u));
	struct frontend fe;
	int rc, opened = !curses_on;

	if (u == NULL) {
		fprintf(stderr, "socklab: out of memory\n");
		return 1;
	}
	if (ui_open() < 0) {
		fprintf(stderr, "socklab: cannot start the screen (is TERM set?)\n");
		free(u);
		return 1;
	}
	u->s = s;
	u->screen = SCR_OVERVIEW;
	u->sel_sock = -1;
	u->dirty = 1;
	u->color = want_color();
	/* A file not found where the debug info says: the one of that name
	 * in the lesson, or in the student's copy (never the lesson's own
	 * code for the student's). */
	srcloc_init(&u->loc, s->opt.src_dir != NULL ? s->opt.src_dir :
			     s->lesson != NULL ? s->lesson->dir : NULL);
	fe = (struct frontend){ u, fe_fill, fe_ready, fe_deadline, fe_draw };
	if (session_start(s) < 0)
		session_say(s, "%s", s->message);
	draw_all(u);
	rc = session_loop(s, &fe);
	srcloc_free(&u->loc);
	free(u);
	if (opened)
		ui_close();
	return rc;
}

int ui_menu(const struct paths *p, struct lessons *ls, const struct session_opts *base)
{
	struct menu_item pick;
	int rc = 0;

	if (ls->n == 0) {
		fprintf(stderr, "socklab: no lessons under %s\n", p->lessons);
		return 1;
	}
	if (ui_open() < 0) {
		fprintf(stderr, "socklab: cannot start the screen (is TERM set?)\n");
		return 1;
	}
	while (!quit_requested() && view_menu(ls, want_color(), &pick)) {
		struct session *s = malloc(sizeof(*s));
		struct session_opts o = *base;
		char err[256];

		if (s == NULL) {
			rc = 1;
			break;
		}
		o.mode = SM_RUN;
		o.scenario = pick.scenario;
		if (session_init(s, p, pick.lesson, &o, err, sizeof(err)) < 0) {
			ui_close();
			fprintf(stderr, "socklab: %s\n", err);
			session_free(s);
			free(s);
			return 1;
		}
		rc = ui_session(s);
		session_free(s);
		free(s);
	}
	ui_close();
	if (quit_requested())
		rc = 1;
	return rc;
}
