/* copy.c — write a student's copy of a lesson: each region of a step still
 * to do becomes a comment with its task and hint, and its stub. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exercise.h"

/* The word students search for. Spelled in two halves so that this
 * source, which must not contain it, can still write it. */
static const char todo_word[] = "TO" "DO";

#define WRAP_COLUMN 79

struct buf {
	char *data;
	size_t len, cap;
	int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 8192;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (grown == NULL) {
			b->failed = 1;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* The column after indent (a tab moves to the next multiple of 8). */
static int columns(const char *indent)
{
	int col = 0;

	for (const char *c = indent; *c != '\0'; c++)
		col = *c == '\t' ? (col / 8 + 1) * 8 : col + 1;
	return col;
}

/* Write first + text as comment lines, wrapped at WRAP_COLUMN; later lines
 * start with cont. Words are never split. */
static void put_wrapped(struct buf *b, const char *indent, const char *first,
			const char *cont, const char *text)
{
	int width = WRAP_COLUMN - columns(indent);
	int col;
	const char *w = text;

	puts_(b, indent);
	puts_(b, first);
	col = (int)strlen(first);
	while (*w != '\0') {
		size_t n = strcspn(w, " ");

		/* Break before a word that would pass the margin, unless it is
		 * the first on its line (a long word gets a line of its own). */
		if (col + 1 + (int)n > width && col > (int)strlen(cont)) {
			puts_(b, "\n");
			puts_(b, indent);
			puts_(b, cont);
			col = (int)strlen(cont);
		} else if (w != text) {
			puts_(b, " ");
			col++;
		}
		put(b, w, n);
		col += (int)n;
		w += n;
		while (*w == ' ')
			w++;
	}
}

static void put_todo(struct buf *b, const struct ex_region *r)
{
	char first[64];

	ex_fmt(first, sizeof(first), "/* %s (step %d): ", todo_word, r->step);
	put_wrapped(b, r->indent, first, " *   ", r->task);
	puts_(b, "\n");
	put_wrapped(b, r->indent, " * Hint: ", " *       ", r->hint);
	if (r->has_stub) {
		puts_(b, "\n");
		puts_(b, r->indent);
		puts_(b, " * The code below only keeps the program compiling: replace it.");
	}
	puts_(b, " */\n");
	for (const char *line = r->stub; *line != '\0'; ) {
		size_t n = strcspn(line, "\n");

		/* An empty stub line stays empty: no trailing white space. */
		if (n > 0)
			puts_(b, r->indent);
		put(b, line, n);
		puts_(b, "\n");
		line += n + (line[n] == '\n');
	}
}

static const struct ex_region *region_at(const struct ex_file *f, int line)
{
	for (int i = 0; i < f->nregions; i++)
		if (f->regions[i].first == line)
			return &f->regions[i];
	return NULL;
}

/* The file as a student's copy sees it. */
static int transform(const struct ex_file *f, int solved, struct buf *b)
{
	for (int line = 1; line <= f->nlines; ) {
		const struct ex_region *r = region_at(f, line);

		if (r == NULL) {
			puts_(b, f->lines[line - 1]);
			if (line < f->nlines || f->final_newline)
				puts_(b, "\n");
			line++;
			continue;
		}
		if (r->step <= solved) {
			/* Solved: the solution's lines, without the markers. */
			for (int i = r->body; i < r->last; i++) {
				puts_(b, f->lines[i - 1]);
				puts_(b, "\n");
			}
		} else {
			put_todo(b, r);
		}
		line = r->last + 1;
	}
	return b->failed ? -1 : 0;
}

int ex_copy_write(const struct ex_lesson *l, int solved, const char *dest, char *err)
{
	if (ex_mkdirs(dest, err) < 0)
		return -1;
	for (int i = 0; i < l->nfiles; i++) {
		const struct ex_file *f = &l->files[i];
		struct buf b = { 0 };
		char path[PATH_MAX];
		int rc;

		if (ex_path(path, sizeof(path), dest, f->name) < 0) {
			ex_err(err, "path too long: %s", dest);
			return -1;
		}
		if (transform(f, solved, &b) < 0) {
			free(b.data);
			ex_err(err, "%s: out of memory", f->name);
			return -1;
		}
		rc = ex_write_file(path, b.data != NULL ? b.data : "", b.len, err);
		free(b.data);
		if (rc < 0)
			return -1;
	}
	return 0;
}
