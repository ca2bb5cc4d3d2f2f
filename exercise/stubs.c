/* stubs.c — read a lesson's exercise.stubs: the hint and the stub that a
 * student's copy shows in place of each marked region (the format is in
 * exercise.h and at the top of every exercise.stubs).
 *
 * Entries are matched to regions by file, step and task, never by
 * position, and both ways: a region without an entry, an entry without a
 * region, two entries for one region and two regions one entry could not
 * tell apart are each an error that names the line to fix.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exercise.h"

struct entry {
	char file[EX_NAMELEN];
	int step;
	char task[256];
	int line;               /* of its first line, in exercise.stubs */
	int has_hint;           /* its "hint:" line was seen */
	int hint_lines;         /* not blank */
	int stub_lines;
	int blanks;             /* blank lines not yet known to be in the stub */
	struct ex_region *r;    /* the region it belongs to */
};

struct reader {
	struct ex_lesson *l;
	char where[PATH_MAX + 32]; /* "lessons/02-tcp-echo/exercise.stubs" */
	enum { BETWEEN, KEY, HINT, STUB } state;
	struct entry e;
	int orphan;             /* the first entry that matches no region */
	char orphan_key[EX_NAMELEN + 300];
	char orphan_file[EX_NAMELEN];
	int orphan_step;
};

static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* "FILE: EXERCISE N: task" into e; 0, or -1 when line is not one. */
static int parse_key(char *line, struct entry *e)
{
	static const char mid[] = ": EXERCISE ";
	char *colon = strstr(line, mid), *s;
	long step = 0;

	if (colon == NULL || colon == line || (size_t)(colon - line) >= sizeof(e->file))
		return -1;
	for (char *c = line; c < colon; c++)
		if (isspace((unsigned char)*c) || *c == '/')
			return -1;
	memcpy(e->file, line, (size_t)(colon - line));
	e->file[colon - line] = '\0';
	s = colon + strlen(mid);
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s) && step <= 1000)
		step = step * 10 + (*s++ - '0');
	if (step < 1 || step > 1000 || strncmp(s, ": ", 2) != 0)
		return -1;
	e->step = (int)step;
	s += 2;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || ex_copy_str(e->task, sizeof(e->task), s) < 0)
		return -1;
	return 0;
}

static struct ex_file *file_named(struct ex_lesson *l, const char *name)
{
	for (int i = 0; i < l->nfiles; i++)
		if (strcmp(l->files[i].name, name) == 0)
			return &l->files[i];
	return NULL;
}

/* The region an entry's key names, or NULL. */
static struct ex_region *region_for(struct ex_lesson *l, const struct entry *e)
{
	struct ex_file *f = file_named(l, e->file);

	for (int j = 0; f != NULL && j < f->nregions; j++)
		if (f->regions[j].step == e->step && strcmp(f->regions[j].task, e->task) == 0)
			return &f->regions[j];
	return NULL;
}

/* A new entry starts at line (its key in e): find its region. */
static int begin_entry(struct reader *rd, int line, char *err)
{
	struct entry *e = &rd->e;

	e->line = line;
	e->r = region_for(rd->l, e);
	if (e->r == NULL) {
		if (rd->orphan == 0) {
			rd->orphan = line;
			ex_fmt(rd->orphan_key, sizeof(rd->orphan_key), "%s: EXERCISE %d: %s",
			       e->file, e->step, e->task);
			ex_copy_str(rd->orphan_file, sizeof(rd->orphan_file), e->file);
			rd->orphan_step = e->step;
		}
		return 0; /* read on: a region without an entry may explain it */
	}
	if (e->r->entry != 0)
		return ex_err(err, "%s:%d: a second entry for %s's EXERCISE %d "
			      "'%s' (the first is at line %d)", rd->where, line,
			      e->file, e->step, e->task, e->r->entry);
	e->r->entry = line;
	return 0;
}

/* The entry being read is complete: is anything missing? */
static int end_entry(struct reader *rd, char *err)
{
	struct entry *e = &rd->e;

	if (rd->state == BETWEEN)
		return 0;
	if (!e->has_hint || e->hint_lines == 0)
		return ex_err(err, "%s:%d: the entry has no hint: a line 'hint:', "
			      "then the hint's lines, each starting with a tab",
			      rd->where, e->line);
	if (rd->state == STUB && e->stub_lines == 0)
		return ex_err(err, "%s:%d: 'stub:' with no lines after it (each "
			      "starts with a tab); leave 'stub:' out if the region "
			      "needs none", rd->where, e->line);
	rd->state = BETWEEN;
	return 0;
}

/* A line of a hint or stub, the tab that starts it already removed. */
static int block_line(struct reader *rd, const char *text, int line, char *err)
{
	struct entry *e = &rd->e;
	struct ex_region *r = e->r;

	if (rd->state == HINT) {
		e->blanks = 0;
		while (*text == ' ' || *text == '\t')
			text++;
		if (*text == '\0')
			return 0;
		e->hint_lines++;
		if (r == NULL)
			return 0;
		if (r->hint[0] != '\0' &&
		    ex_copy_str(r->hint + strlen(r->hint), sizeof(r->hint) - strlen(r->hint), " ") < 0)
			goto too_long;
		if (ex_copy_str(r->hint + strlen(r->hint), sizeof(r->hint) - strlen(r->hint), text) < 0)
			goto too_long;
		return 0;
	}
	/* A stub: blank lines between two of its lines are its own. */
	if (e->stub_lines == 0)
		e->blanks = 0;
	for (; e->blanks > 0; e->blanks--) {
		if (r != NULL && ex_copy_str(r->stub + strlen(r->stub),
					     sizeof(r->stub) - strlen(r->stub), "\n") < 0)
			goto too_long;
		e->stub_lines++;
	}
	e->stub_lines++;
	if (r == NULL)
		return 0;
	r->has_stub = 1;
	if (strlen(r->stub) + strlen(text) + 2 > sizeof(r->stub))
		goto too_long;
	strcat(r->stub, text);
	strcat(r->stub, "\n");
	return 0;
too_long:
	return ex_err(err, "%s:%d: the %s is too long (at most %zu characters)",
		      rd->where, line, rd->state == HINT ? "hint" : "stub",
		      (rd->state == HINT ? sizeof(r->hint) : sizeof(r->stub)) - 1);
}

static int read_line(struct reader *rd, char *line, int lineno, char *err)
{
	struct entry *e = &rd->e;

	rstrip(line);
	if (line[0] == '\t' && (rd->state == HINT || rd->state == STUB))
		return block_line(rd, line + 1, lineno, err);
	if (line[0] == '\0') {
		if (rd->state == HINT || rd->state == STUB)
			e->blanks++;
		return 0;
	}
	if (line[0] == '\t')
		return ex_err(err, "%s:%d: a line starting with a tab, outside "
			      "a hint or a stub (a 'hint:' or 'stub:' line comes "
			      "first)", rd->where, lineno);
	if (line[0] == ' ')
		return ex_err(err, "%s:%d: a line starting with spaces: the lines "
			      "of a hint or a stub start with a tab (did an editor "
			      "turn it into spaces?)", rd->where, lineno);
	if (line[0] == '#') {
		/* A comment ends the entry's last block. */
		return end_entry(rd, err);
	}
	if (strncmp(line, "hint:", 5) == 0 || strncmp(line, "stub:", 5) == 0) {
		int hint = line[0] == 'h';

		if (line[5] != '\0')
			return ex_err(err, "%s:%d: '%.5s' stands alone on its line; "
				      "the lines below it, each starting with a tab, "
				      "are the %s", rd->where, lineno, line,
				      hint ? "hint" : "stub");
		if (hint && rd->state != KEY)
			return ex_err(err, "%s:%d: 'hint:' comes once, right after "
				      "the entry's first line 'FILE: EXERCISE N: "
				      "task'", rd->where, lineno);
		if (!hint && rd->state != HINT)
			return ex_err(err, "%s:%d: 'stub:' comes once, after the "
				      "entry's hint", rd->where, lineno);
		if (!hint && e->hint_lines == 0)
			return ex_err(err, "%s:%d: 'hint:' with no lines after it "
				      "(each starts with a tab)", rd->where, lineno);
		e->has_hint |= hint;
		e->blanks = 0;
		rd->state = hint ? HINT : STUB;
		return 0;
	}
	if (end_entry(rd, err) < 0)
		return -1;
	memset(e, 0, sizeof(*e));
	if (parse_key(line, e) < 0)
		return ex_err(err, "%s:%d: expected an entry's first line, "
			      "'FILE: EXERCISE N: task' (or 'hint:', 'stub:', a "
			      "line starting with a tab, or a comment starting "
			      "with '#')", rd->where, lineno);
	if (file_named(rd->l, e->file) == NULL)
		return ex_err(err, "%s:%d: lessons/%s has no file '%s'", rd->where,
			      lineno, rd->l->dir, e->file);
	rd->state = KEY;
	return begin_entry(rd, lineno, err);
}

/* Two regions of one file and step with one task: no key tells them apart. */
static int distinct_tasks(const struct ex_lesson *l, char *err)
{
	for (int i = 0; i < l->nfiles; i++) {
		const struct ex_file *f = &l->files[i];

		for (int j = 0; j < f->nregions; j++)
			for (int k = 0; k < j; k++)
				if (f->regions[k].step == f->regions[j].step &&
				    strcmp(f->regions[k].task, f->regions[j].task) == 0)
					return ex_err(err, "lessons/%s/%s:%d: EXERCISE %d "
						      "has the same task as line %d: "
						      "exercise.stubs tells regions apart by "
						      "file, step and task, so make the "
						      "tasks differ", l->dir, f->name,
						      f->regions[j].first, f->regions[j].step,
						      f->regions[k].first);
	}
	return 0;
}

/* Every region has its entry, and every entry its region. */
static int all_matched(const struct reader *rd, char *err)
{
	const struct ex_lesson *l = rd->l;

	for (int i = 0; i < l->nfiles; i++)
		for (int j = 0; j < l->files[i].nregions; j++) {
			const struct ex_region *r = &l->files[i].regions[j];

			if (r->entry != 0)
				continue;
			/* An entry of the same file and step matches no region:
			 * most likely the task was edited on one side only. */
			if (rd->orphan != 0 && r->step == rd->orphan_step &&
			    strcmp(l->files[i].name, rd->orphan_file) == 0)
				return ex_err(err, "%s:%d: '%s' matches no region; and "
					      "lessons/%s/%s:%d, EXERCISE %d '%s', has no "
					      "entry: was a task reworded on one side?",
					      rd->where, rd->orphan, rd->orphan_key, l->dir,
					      l->files[i].name, r->first, r->step, r->task);
			return ex_err(err, "lessons/%s/%s:%d: EXERCISE %d has no entry "
				      "in exercise.stubs: add one starting '%s: "
				      "EXERCISE %d: %s', with its hint", l->dir,
				      l->files[i].name, r->first, r->step,
				      l->files[i].name, r->step, r->task);
		}
	if (rd->orphan != 0)
		return ex_err(err, "%s:%d: '%s' matches no region (no marker "
			      "'/* EXERCISE N: task */' in that file says this step "
			      "and task)", rd->where, rd->orphan, rd->orphan_key);
	return 0;
}

int ex_stubs_load(struct ex_lesson *l, char *err)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	char path[PATH_MAX];
	char *text = NULL, *line, *next;
	int lineno = 0, rc = -1;

	if (rd == NULL)
		return ex_err(err, "out of memory");
	rd->l = l;
	rd->state = BETWEEN;
	ex_fmt(rd->where, sizeof(rd->where), "lessons/%s/exercise.stubs", l->dir);
	if (distinct_tasks(l, err) < 0)
		goto out;
	ex_fmt(path, sizeof(path), "%s/exercise.stubs", l->path);
	if (!ex_is_file(path)) {
		ex_err(err, "lessons/%s has exercise markers but no exercise.stubs "
		       "(the hint and stub of each region)", l->dir);
		goto out;
	}
	text = ex_read_file(path, NULL, err);
	if (text == NULL)
		goto out;
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (next == NULL && *line == '\0')
			break; /* after the final newline */
		if (read_line(rd, line, ++lineno, err) < 0)
			goto out;
	}
	if (end_entry(rd, err) < 0 || all_matched(rd, err) < 0)
		goto out;
	rc = 0;
out:
	free(text);
	free(rd);
	return rc;
}
