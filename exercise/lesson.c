/* lesson.c — read a lesson's exercise markers and its exercise.conf.
 *
 * A region, inside a lesson's source, is the solution between two lines:
 *
 *	(tab)/_* EXERCISE 1: bind the socket to the address, then listen *_/
 *	...the solution's lines...
 *	(tab)/_* END EXERCISE 1 *_/
 *
 * (with "/_*" meaning the comment opener); its hint and stub are in the
 * lesson's exercise.stubs (stubs.c). Any other line that mentions EXERCISE
 * in a marked lesson is an error: a typo in a marker must not silently hand
 * students the solution.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exercise.h"
#include "lessonconf.h"

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Strip trailing white space in place. */
static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* If line (after its white space) starts with prefix, return what follows. */
static const char *after(const char *line, const char *prefix)
{
	const char *s = skip_space(line);
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Read "NUMBER" at s; returns the character after it, or NULL. */
static const char *read_number(const char *s, int *value)
{
	long v = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > 1000)
			return NULL;
	}
	*value = (int)v;
	return s;
}

/* "/_* END EXERCISE N *_/" alone on its line. */
static int is_end_marker(const char *line, int *step)
{
	const char *s = after(line, "/* END EXERCISE ");

	if (s == NULL || (s = read_number(s, step)) == NULL)
		return 0;
	return strncmp(s, " */", 3) == 0 && *skip_space(s + 3) == '\0';
}

/* Does the comment that begins at line i go on with the old inline form's
 * ' * HINT:' or ' * STUB:' lines? */
static int old_inline_form(const struct ex_file *f, int i)
{
	for (i++; i < f->nlines; i++) {
		const char *s = skip_space(f->lines[i]);

		if (strncmp(s, "* HINT:", 7) == 0 || strncmp(s, "* STUB:", 7) == 0)
			return 1;
		if (*s != '*' || strstr(s, "*/") != NULL)
			return 0;
	}
	return 0;
}

/* Parse the begin marker at line i (0-based), "/_* EXERCISE N: task *_/"
 * alone on its line, into r (the hint and stub come from exercise.stubs
 * later). Returns 0, or -1. */
static int parse_begin(const struct ex_file *f, int i, struct ex_region *r,
		       char *err)
{
	const char *line = f->lines[i];
	const char *s = after(line, "/* EXERCISE ");
	size_t ind = (size_t)(skip_space(line) - line);
	char text[1024];
	size_t n;

	memset(r, 0, sizeof(*r));
	r->first = i + 1;
	r->body = i + 2;
	r->last = 0;
	if (ind >= sizeof(r->indent)) {
		ex_err(err, "%s:%d: marker indented too deeply", f->name, i + 1);
		return -1;
	}
	memcpy(r->indent, line, ind);
	r->indent[ind] = '\0';
	if ((s = read_number(s, &r->step)) == NULL || strncmp(s, ": ", 2) != 0 ||
	    r->step < 1) {
		ex_err(err, "%s:%d: a marker is '/* EXERCISE N: task */' "
			 "with N a step number from 1", f->name, i + 1);
		return -1;
	}
	ex_copy_str(text, sizeof(text), s + 2);
	rstrip(text);
	n = strlen(text);
	if (n < 2 || strcmp(text + n - 2, "*/") != 0) {
		if (old_inline_form(f, i))
			ex_err(err, "%s:%d: a marker in the old form: hints and "
				 "stubs now live in exercise.stubs beside the lesson "
				 "(an entry 'FILE: EXERCISE N: task', its 'hint:' and "
				 "'stub:'), and the marker is the one line "
				 "'/* EXERCISE N: task */'", f->name, i + 1);
		else
			ex_err(err, "%s:%d: a marker is one line, '/* EXERCISE N: "
				 "task */': its comment ends on that line", f->name,
				 i + 1);
		return -1;
	}
	text[n - 2] = '\0';
	rstrip(text);
	if (strstr(text, "*/") != NULL) {
		ex_err(err, "%s:%d: a marker is alone on its line", f->name, i + 1);
		return -1;
	}
	if (*skip_space(text) == '\0' ||
	    ex_copy_str(r->task, sizeof(r->task), skip_space(text)) < 0) {
		ex_err(err, "%s:%d: a marker's task is 1 to %zu characters",
			 f->name, i + 1, sizeof(r->task) - 1);
		return -1;
	}
	return 0;
}

static int parse_regions(struct ex_file *f, char *err)
{
	for (int i = 0; i < f->nlines; i++) {
		const char *line = f->lines[i];
		struct ex_region *r;
		int step;

		if (strstr(line, "EXERCISE") == NULL)
			continue;
		if (is_end_marker(line, &step)) {
			ex_err(err, "%s:%d: END EXERCISE %d without its begin "
				 "marker", f->name, i + 1, step);
			return -1;
		}
		if (after(line, "/* EXERCISE ") == NULL) {
			ex_err(err, "%s:%d: 'EXERCISE' outside a marker (a marker "
				 "is '/* EXERCISE N: task */' or '/* END EXERCISE N */')",
				 f->name, i + 1);
			return -1;
		}
		if (f->nregions == EX_MAX_REGIONS) {
			ex_err(err, "%s: more than %d regions", f->name,
				 EX_MAX_REGIONS);
			return -1;
		}
		r = &f->regions[f->nregions];
		if (parse_begin(f, i, r, err) < 0)
			return -1;
		for (i++; i < f->nlines; i++) {
			if (strstr(f->lines[i], "EXERCISE") == NULL)
				continue;
			if (is_end_marker(f->lines[i], &step) && step == r->step)
				break;
			ex_err(err, "%s:%d: inside EXERCISE %d (line %d), expected "
				 "'/* END EXERCISE %d */'", f->name, i + 1, r->step,
				 r->first, r->step);
			return -1;
		}
		if (i == f->nlines) {
			ex_err(err, "%s:%d: EXERCISE %d is never closed by "
				 "'/* END EXERCISE %d */'", f->name, r->first, r->step, r->step);
			return -1;
		}
		r->last = i + 1;
		f->nregions++;
	}
	return 0;
}

static int split_lines(struct ex_file *f, char *text, size_t len)
{
	int n = 0;

	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			n++;
	f->final_newline = len > 0 && text[len - 1] == '\n';
	if (!f->final_newline && len > 0)
		n++;
	f->lines = calloc((size_t)n + 1, sizeof(char *));
	if (f->lines == NULL)
		return -1;
	f->nlines = 0;
	for (char *s = text; f->nlines < n; ) {
		char *nl = strchr(s, '\n');

		if (nl != NULL)
			*nl = '\0';
		f->lines[f->nlines] = strdup(s);
		if (f->lines[f->nlines] == NULL)
			return -1;
		f->nlines++;
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	return 0;
}

static int by_file_name(const void *a, const void *b)
{
	return strcmp(((const struct ex_file *)a)->name, ((const struct ex_file *)b)->name);
}

static int load_files(struct ex_lesson *l, char *err)
{
	DIR *d = opendir(l->path);
	struct dirent *e;

	if (d == NULL) {
		ex_err(err, "open %s: %s", l->path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[PATH_MAX];
		struct ex_file *f;
		char *text;
		size_t len;

		if (n < 3 || e->d_name[0] == '.' ||
		    (strcmp(e->d_name + n - 2, ".c") != 0 && strcmp(e->d_name + n - 2, ".h") != 0))
			continue;
		if (l->nfiles == EX_MAX_FILES || n >= EX_NAMELEN) {
			ex_err(err, "%s: too many source files", l->path);
			closedir(d);
			return -1;
		}
		f = &l->files[l->nfiles++];
		ex_copy_str(f->name, sizeof(f->name), e->d_name);
		if (ex_path(path, sizeof(path), l->path, e->d_name) < 0 ||
		    (text = ex_read_file(path, &len, err)) == NULL) {
			closedir(d);
			return -1;
		}
		if (split_lines(f, text, len) < 0) {
			free(text);
			closedir(d);
			ex_err(err, "%s: out of memory", path);
			return -1;
		}
		free(text);
	}
	closedir(d);
	qsort(l->files, (size_t)l->nfiles, sizeof(l->files[0]), by_file_name);
	for (int i = 0; i < l->nfiles; i++) {
		char ferr[EX_ERRLEN];

		if (parse_regions(&l->files[i], ferr) < 0) {
			ex_err(err, "lessons/%s/%s", l->dir, ferr);
			return -1;
		}
	}
	return 0;
}

/* ---- exercise.conf and lesson.conf ------------------------------------ */

/* Split "key = value" in place; returns 0, or -1 for a line that is not. */
static int key_value(char *line, char **key, char **value)
{
	char *eq = strchr(line, '=');

	if (eq == NULL)
		return -1;
	*eq = '\0';
	rstrip(line);
	*key = (char *)skip_space(line);
	*value = (char *)skip_space(eq + 1);
	rstrip(*value);
	return **key == '\0' ? -1 : 0;
}

static int parse_step(struct ex_lesson *l, char *value, const char *where, char *err)
{
	char *bar1 = strchr(value, '|'), *bar2, *tok, *save = NULL;
	struct ex_step *s;
	int number;

	if (l->nsteps == EX_MAX_STEPS) {
		ex_err(err, "%s: more than %d steps", where, EX_MAX_STEPS);
		return -1;
	}
	s = &l->steps[l->nsteps];
	bar2 = bar1 != NULL ? strchr(bar1 + 1, '|') : NULL;
	if (bar2 == NULL) {
		ex_err(err, "%s: expected 'step = N | title | test ...'", where);
		return -1;
	}
	*bar1 = *bar2 = '\0';
	rstrip(value);
	if (read_number(value, &number) == NULL || *read_number(value, &number) != '\0' ||
	    number != l->nsteps + 1) {
		ex_err(err, "%s: steps are numbered 1, 2, ... in order "
			 "(expected step %d)", where, l->nsteps + 1);
		return -1;
	}
	s->number = number;
	rstrip(bar1 + 1);
	ex_copy_str(s->title, sizeof(s->title), skip_space(bar1 + 1));
	for (tok = strtok_r(bar2 + 1, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (s->ntests == EX_MAX_TESTS || strlen(tok) >= EX_NAMELEN) {
			ex_err(err, "%s: too many tests, or a name too long", where);
			return -1;
		}
		ex_copy_str(s->tests[s->ntests++], EX_NAMELEN, tok);
	}
	if (s->title[0] == '\0' || s->ntests == 0) {
		ex_err(err, "%s: a step needs a title and at least one test", where);
		return -1;
	}
	l->nsteps++;
	return 0;
}

/* A whole number from lo to hi at s, ending at a space or the end; the
 * end in *end. -1 when there is none. */
static long grading_number(const char *s, long lo, long hi, char **end)
{
	long v;

	errno = 0;
	v = strtol(s, end, 10);
	if (errno != 0 || *end == s || !isdigit((unsigned char)*s) || v < lo || v > hi ||
	    (**end != '\0' && **end != ' ' && **end != '\t'))
		return -1;
	return v;
}

/* The grading keys: "points.N = P" (step N is worth P points; 1 if not
 * said) and "chaos = N ..." (these steps' tests must also pass with the
 * faults `check --chaos` makes). Returns 1 when key is one of them (-1 on
 * a bad value), 0 when it is not. */
static int parse_grading_key(struct ex_lesson *l, const char *key, char *value,
			     const char *where, char *err)
{
	char *end;
	long n, points;

	if (strncmp(key, "points.", 7) == 0) {
		n = grading_number(key + 7, 1, EX_MAX_STEPS, &end);
		points = n < 0 || *end != '\0' ? -1 : grading_number(value, 0, 1000, &end);
		if (points < 0 || *end != '\0') {
			ex_err(err, "%s: expected 'points.N = P' (step N from 1 to %d, "
			       "P from 0 to 1000)", where, EX_MAX_STEPS);
			return -1;
		}
		l->points[n - 1] = (int)points;
		return 1;
	}
	if (strcmp(key, "chaos") != 0)
		return 0;
	for (char *at = value; *at != '\0'; at = end + strspn(end, " \t")) {
		n = grading_number(at, 1, EX_MAX_STEPS, &end);
		if (n < 0) {
			ex_err(err, "%s: expected 'chaos = N ...' (step numbers)", where);
			return -1;
		}
		l->chaos[n - 1] = 1;
	}
	return 1;
}

/* Points and chaos name steps that exist. */
static int check_grading_keys(const struct ex_lesson *l, char *err)
{
	for (int n = l->nsteps; n < EX_MAX_STEPS; n++)
		if (l->points[n] != 1 || l->chaos[n]) {
			ex_err(err, "lessons/%s/exercise.conf: %s names step %d, "
			       "which does not exist", l->dir,
			       l->chaos[n] ? "chaos" : "points", n + 1);
			return -1;
		}
	return 0;
}

static int load_exercise_conf(struct ex_lesson *l, char *err)
{
	char path[PATH_MAX], where[PATH_MAX + 32];
	char *text, *line, *save = NULL;
	int lineno = 0, graded;

	for (int i = 0; i < EX_MAX_STEPS; i++)
		l->points[i] = 1;
	ex_fmt(path, sizeof(path), "%s/exercise.conf", l->path);
	if (!ex_is_file(path)) {
		ex_err(err, "lessons/%s has exercise markers but no "
			 "exercise.conf", l->dir);
		return -1;
	}
	text = ex_read_file(path, NULL, err);
	if (text == NULL)
		return -1;
	/* strtok_r would merge empty lines and so lose the line numbers. */
	for (line = text; line != NULL; line = save) {
		char *key, *value;

		save = strchr(line, '\n');
		if (save != NULL)
			*save++ = '\0';
		lineno++;
		ex_fmt(where, sizeof(where), "lessons/%s/exercise.conf:%d", l->dir, lineno);
		if (*skip_space(line) == '#' || *skip_space(line) == '\0')
			continue;
		if (key_value(line, &key, &value) < 0) {
			ex_err(err, "%s: expected 'key = value'", where);
			goto fail;
		}
		if (strcmp(key, "step") == 0) {
			if (parse_step(l, value, where, err) < 0)
				goto fail;
		} else if (strncmp(key, "explain.", 8) == 0 && key[8] != '\0') {
			struct ex_explain *x;

			if (l->nexplain == EX_MAX_EXPLAIN || ex_explain_for(l, key + 8) != NULL) {
				ex_err(err, "%s: too many explanations, or %s twice",
					 where, key);
				goto fail;
			}
			x = &l->explain[l->nexplain++];
			if (ex_copy_str(x->test, sizeof(x->test), key + 8) < 0 ||
			    ex_copy_str(x->text, sizeof(x->text), value) < 0) {
				ex_err(err, "%s: too long", where);
				goto fail;
			}
		} else if ((graded = parse_grading_key(l, key, value, where, err)) != 0) {
			if (graded < 0)
				goto fail;
		} else if (strcmp(key, "tests") == 0) {
			if (ex_copy_str(l->testprog, sizeof(l->testprog), value) < 0) {
				ex_err(err, "%s: too long", where);
				goto fail;
			}
		} else {
			ex_err(err, "%s: unknown key '%s' (step, explain.TEST, "
				 "tests, points.N, chaos)", where, key);
			goto fail;
		}
	}
	free(text);
	return check_grading_keys(l, err);
fail:
	free(text);
	return -1;
}

static void load_title(struct ex_lesson *l)
{
	char path[PATH_MAX], err[SL_ERR_LEN];
	struct sl_lessonconf conf;
	const char *title;

	ex_copy_str(l->title, sizeof(l->title), l->dir);
	ex_fmt(path, sizeof(path), "%s/lesson.conf", l->path);
	if (sl_lessonconf_read(&conf, path, err) < 0)
		return;
	title = sl_lessonconf_get(&conf, "title");
	if (title != NULL)
		ex_copy_str(l->title, sizeof(l->title), title);
	sl_lessonconf_free(&conf);
}

/* Markers and exercise.conf must describe the same steps. */
static int cross_check(const struct ex_lesson *l, char *err)
{
	for (int i = 0; i < l->nfiles; i++)
		for (int j = 0; j < l->files[i].nregions; j++) {
			const struct ex_region *r = &l->files[i].regions[j];

			if (ex_step_get(l, r->step) == NULL) {
				ex_err(err, "lessons/%s/%s:%d: EXERCISE %d, but "
					 "exercise.conf has no step %d", l->dir,
					 l->files[i].name, r->first, r->step, r->step);
				return -1;
			}
		}
	for (int s = 0; s < l->nsteps; s++) {
		int regions = 0;

		for (int i = 0; i < l->nfiles; i++)
			for (int j = 0; j < l->files[i].nregions; j++)
				regions += l->files[i].regions[j].step == l->steps[s].number;
		if (regions == 0) {
			ex_err(err, "lessons/%s/exercise.conf: step %d has no "
				 "EXERCISE %d region in the sources", l->dir,
				 l->steps[s].number, l->steps[s].number);
			return -1;
		}
		for (int t = 0; t < l->steps[s].ntests; t++)
			if (ex_explain_for(l, l->steps[s].tests[t]) == NULL) {
				ex_err(err, "lessons/%s/exercise.conf: no "
					 "explain.%s: say what its failure means", l->dir,
					 l->steps[s].tests[t]);
				return -1;
			}
	}
	if (l->nsteps == 0) {
		ex_err(err, "lessons/%s/exercise.conf: no steps", l->dir);
		return -1;
	}
	return 0;
}

struct ex_lesson *ex_lesson_load(const struct ex_paths *p, const char *dir, char *err)
{
	struct ex_lesson *l = calloc(1, sizeof(*l));
	int regions = 0;

	if (l == NULL) {
		ex_err(err, "out of memory");
		return NULL;
	}
	ex_copy_str(l->dir, sizeof(l->dir), dir);
	ex_fmt(l->num, sizeof(l->num), "%.2s", dir);
	if (ex_fmt(l->path, sizeof(l->path), "%s/lessons/%s", p->home, dir) < 0) {
		ex_err(err, "path too long");
		goto fail;
	}
	/* test_02_tcp_echo for 02-tcp-echo, unless exercise.conf says. */
	ex_fmt(l->testprog, sizeof(l->testprog), "test_%s", dir);
	for (char *c = l->testprog; *c != '\0'; c++)
		if (*c == '-')
			*c = '_';
	load_title(l);
	if (load_files(l, err) < 0)
		goto fail;
	for (int i = 0; i < l->nfiles; i++)
		regions += l->files[i].nregions;
	if (regions == 0) {
		ex_err(err, "lesson %s has no exercises yet", dir);
		goto fail;
	}
	if (load_exercise_conf(l, err) < 0 || cross_check(l, err) < 0 ||
	    ex_stubs_load(l, err) < 0)
		goto fail;
	return l;
fail:
	ex_lesson_free(l);
	return NULL;
}

void ex_lesson_free(struct ex_lesson *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->nfiles; i++) {
		for (int j = 0; j < l->files[i].nlines; j++)
			free(l->files[i].lines[j]);
		free(l->files[i].lines);
	}
	free(l);
}

const struct ex_step *ex_step_get(const struct ex_lesson *l, int number)
{
	for (int i = 0; i < l->nsteps; i++)
		if (l->steps[i].number == number)
			return &l->steps[i];
	return NULL;
}

const char *ex_explain_for(const struct ex_lesson *l, const char *test)
{
	for (int i = 0; i < l->nexplain; i++)
		if (strcmp(l->explain[i].test, test) == 0)
			return l->explain[i].text;
	return NULL;
}

int ex_file_has_regions(const struct ex_file *f)
{
	return f->nregions > 0;
}
