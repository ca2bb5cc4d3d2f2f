/* menu.c — the lesson menu: every lesson (lessons/NN-topic/lesson.conf) and its
 * scenarios; under the list, the chosen lesson's summary and what its
 * README says to watch for in socklab. Enter runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "views/views.h"

#define ITEMS_MAX 256
#define NOTES_MAX 8192

struct menu {
	struct menu_item items[ITEMS_MAX];
	int n, sel, top;
	struct lesson *notes_for;
	char notes[NOTES_MAX];
	struct ui look;           /* only its colour setting is used */
};

static void build(struct menu *mn, struct lessons *ls)
{
	mn->n = 0;
	for (int i = 0; i < ls->n && mn->n < ITEMS_MAX; i++) {
		struct lesson *l = &ls->v[i];

		if (l->main.nrun > 0) {
			mn->items[mn->n].lesson = l;
			mn->items[mn->n].scenario = NULL;
			mn->n++;
		}
		for (int k = 0; k < l->nscen && mn->n < ITEMS_MAX; k++) {
			if (l->scen[k].nrun == 0)
				continue;
			mn->items[mn->n].lesson = l;
			mn->items[mn->n].scenario = l->scen[k].name;
			mn->n++;
		}
	}
}

/* Markdown to plain ASCII text: no backticks, no emphasis marks; dashes
 * and quotes of UTF-8 as their ASCII look-alikes, other such bytes left
 * out (the screen draws ASCII only). */
static void plain(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < size; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == 0xe2 && (unsigned char)in[1] == 0x80 && in[2] != '\0') {
			unsigned char k = (unsigned char)in[2];

			out[o++] = k == 0x93 || k == 0x94 ? '-' : k == 0x98 || k == 0x99 ? '\'' :
				   k == 0x9c || k == 0x9d ? '"' : ' ';
			in += 2;
		} else if (c != '`' && c != '*' && c < 0x80) {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* The README's "What to watch for" section, as plain text. */
static void load_notes(struct menu *mn, struct lesson *l)
{
	char path[PATH_MAX + 16], line[1024], clean[1024];
	FILE *f;
	int in = 0;

	mn->notes_for = l;
	mn->notes[0] = '\0';
	snprintf(path, sizeof(path), "%s/README.md", l->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "## ", 3) == 0) {
			if (in)
				break;
			in = strstr(line, "watch for") != NULL;
			continue;
		}
		if (!in || strncmp(line, "### ", 4) == 0)
			continue;
		if (in && strncmp(line, "#", 1) == 0)
			break;
		plain(line, clean, sizeof(clean));
		text_append(mn->notes, sizeof(mn->notes), clean);
	}
	fclose(f);
}

/* Word-wrap text into the rectangle: runs of spaces and single newlines
 * are one space; a blank line or a list item starts a new line. */
static void wrap(const char *text, struct rect r)
{
	int y = r.y, x = 0, gap = 0;
	const char *p = text;

	while (*p != '\0' && y < r.y + r.h) {
		size_t wl;

		if (*p == '\n' && (p[1] == '\n' || p[1] == '-')) {
			y += x > 0 ? 1 : 0;
			x = 0;
			gap = 0;
			p++;
			continue;
		}
		if (*p == ' ' || *p == '\n') {
			gap = 1;
			p++;
			continue;
		}
		wl = strcspn(p, " \n");
		if (x > 0 && x + gap + (int)wl > r.w) {
			y++;
			x = 0;
			if (y >= r.y + r.h)
				break;
		} else if (x > 0) {
			x += gap;
		}
		gap = 0;
		x += draw_fmt(y, r.x + x, r.w - x, A_NORMAL, "%.*s", (int)wl, p);
		p += wl;
	}
}

static void draw_menu(struct menu *mn)
{
	const struct ui *u = &mn->look;
	int list_h = LINES / 2 - 2, y;
	struct menu_item *it;
	struct rect notes;

	erase();
	if (LINES < 24 || COLS < 80) {
		const char *msg = "terminal too small (need 80x24)";

		mvaddnstr(LINES / 2, COLS > 31 ? (COLS - 31) / 2 : 0, msg, COLS);
		refresh();
		return;
	}
	draw_fill(0, 0, COLS, ui_look(u, LK_TITLE), ' ');
	draw_text(0, 0, COLS, ui_look(u, LK_TITLE), " socklab  lessons: choose one and press Enter");
	if (mn->sel < mn->top)
		mn->top = mn->sel;
	if (mn->sel >= mn->top + list_h)
		mn->top = mn->sel - list_h + 1;
	for (int i = mn->top, yy = 2; i < mn->n && yy < 2 + list_h; i++, yy++) {
		const struct menu_item *m = &mn->items[i];
		attr_t a = i == mn->sel ? ui_look(u, LK_SELECTED) : A_NORMAL;

		draw_fill(yy, 0, COLS, a, ' ');
		if (m->scenario == NULL) {
			draw_fmt(yy, 1, COLS - 2, a | A_BOLD, "%s  %s", m->lesson->id, m->lesson->title);
		} else {
			const struct scenario *sc = lesson_scenario(m->lesson, m->scenario);

			draw_fmt(yy, 5, COLS - 6, a, "%-18s %s", m->scenario, sc ? sc->title : "");
		}
	}
	it = &mn->items[mn->sel];
	if (mn->notes_for != it->lesson)
		load_notes(mn, it->lesson);
	y = 2 + list_h;
	draw_title(u, (struct rect){ y, 0, 1, COLS }, "about this lesson", 0);
	draw_text(y + 1, 1, COLS - 2, ui_look(u, LK_BOLD), it->lesson->summary);
	notes = (struct rect){ y + 3, 1, LINES - y - 5, COLS - 2 };
	if (mn->notes[0] != '\0')
		wrap(mn->notes, notes);
	draw_fill(LINES - 1, 0, COLS, ui_look(u, LK_TITLE), ' ');
	draw_fmt(LINES - 1, 0, COLS, ui_look(u, LK_TITLE),
		 " Up/Down choose   Enter run %s%s%s   q quit",
		 it->lesson->id, it->scenario ? " " : "", it->scenario ? it->scenario : "");
	refresh();
}

int view_menu(struct lessons *ls, int color, struct menu_item *pick)
{
	struct menu *mn = calloc(1, sizeof(*mn));
	int rc = 0;

	if (mn == NULL)
		return 0;
	mn->look.color = color;
	build(mn, ls);
	if (mn->n == 0) {
		free(mn);
		return 0;
	}
	for (;;) {
		int key;

		draw_menu(mn);
		key = ui_wait_key();
		if (key == ERR || key == 'q' || key == 'Q' || key == 27)
			break;
		if (key == KEY_UP || key == 'k')
			mn->sel = mn->sel > 0 ? mn->sel - 1 : 0;
		else if (key == KEY_DOWN || key == 'j')
			mn->sel = mn->sel + 1 < mn->n ? mn->sel + 1 : mn->sel;
		else if (key == KEY_PPAGE)
			mn->sel = mn->sel > 5 ? mn->sel - 5 : 0;
		else if (key == KEY_NPAGE)
			mn->sel = mn->sel + 5 < mn->n ? mn->sel + 5 : mn->n - 1;
		else if (key == '\n' || key == '\r' || key == KEY_ENTER || key == ' ') {
			*pick = mn->items[mn->sel];
			rc = 1;
			break;
		}
	}
	free(mn);
	return rc;
}
