/* source.c — the C source around the selected process's current call,
 * its line lit, like a debugger: the call the process is stopped before
 * (or blocked in), else the last one it made. */
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "views/views.h"

/* The call to show: the pending one, else the process's last. */
static const struct mlog *current_call(const struct model *m, const struct mproc *p)
{
	if (p->pending >= 0 && p->pending < m->nlog)
		return &m->log[p->pending];
	for (int i = m->nlog - 1, n = 0; i >= 0 && n < 5000; i--, n++)
		if (m->log[i].pid == p->pid && m->log[i].kind == LOG_CALL)
			return &m->log[i];
	return NULL;
}

static void explain(struct ui *u, struct rect r, const char *why, const char *more)
{
	draw_text(r.y + 2, r.x + 2, r.w - 2, ui_look(u, LK_DIM), why);
	if (more != NULL)
		draw_text(r.y + 3, r.x + 2, r.w - 2, ui_look(u, LK_DIM), more);
}

void view_source(struct ui *u, struct rect r)
{
	struct model *m = &u->s->model;
	const struct mproc *p = model_proc(m, u->s->selected);
	const struct mlog *c = p != NULL ? current_call(m, p) : NULL;
	const struct srcline *l;
	const struct srcfile *f;
	const char *base;
	char title[160], num[16];
	int rows = r.h - 1, top;

	if (c == NULL || c->at_atom < 0) {
		draw_title(u, r, "source", u->screen == SCR_SOURCE);
		explain(u, r, p == NULL ? "no process selected" : c == NULL ? "no call yet" :
			"the trace does not say where this call was made", NULL);
		return;
	}
	l = srcloc_get(&u->loc, m, c->at_atom);
	if (l == NULL || !l->ok) {
		draw_title(u, r, "source", u->screen == SCR_SOURCE);
		explain(u, r, "no source line for this call:",
			u->loc.no_addr2line ? "addr2line (binutils) is not installed"
					    : "the program has no debug info (not built with -g)");
		return;
	}
	base = strrchr(l->file, '/');
	snprintf(num, sizeof(num), ":%d", l->line);
	snprintf(title, sizeof(title), "source: ");
	text_append(title, sizeof(title), base ? base + 1 : l->file);
	text_append(title, sizeof(title), num);
	if (l->func[0] != '\0' && l->func[0] != '?') {
		text_append(title, sizeof(title), " in ");
		text_append(title, sizeof(title), l->func);
		text_append(title, sizeof(title), "()");
	}
	draw_title(u, r, title, u->screen == SCR_SOURCE);
	f = srcloc_file(&u->loc, l->file);
	if (f == NULL) {
		explain(u, r, "cannot read the source file:", l->file);
		return;
	}
	if (rows < 1)
		return;
	top = l->line - 1 - rows / 2 + u->source_shift;
	if (top > f->nlines - rows)
		top = f->nlines - rows;
	if (top < 0)
		top = 0;
	for (int i = 0; i < rows && top + i < f->nlines; i++) {
		int n = top + i + 1, y = r.y + 1 + i;
		int cur = n == l->line;
		attr_t a = cur ? ui_look(u, LK_CURRENT) : A_NORMAL;
		char text[512];
		const char *src = f->lines[top + i];
		size_t k = 0;

		/* Tabs to spaces, so columns line up. */
		for (const char *s = src; *s != '\0' && k + 8 < sizeof(text); s++) {
			if (*s == '\t') {
				do
					text[k++] = ' ';
				while (k % 8 != 0);
			} else {
				text[k++] = *s;
			}
		}
		text[k] = '\0';
		if (cur)
			draw_fill(y, r.x, r.w, a, ' ');
		draw_fmt(y, r.x, 7, cur ? a : ui_look(u, LK_DIM), "%s%4d ", cur ? "=>" : "  ", n);
		draw_text(y, r.x + 7, r.w - 7, a, text);
	}
}
