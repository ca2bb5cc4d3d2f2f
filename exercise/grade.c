/* grade.c — socklab check --all DIR NN: grade a folder of submissions.
 *
 * DIR holds one folder per student. A student's copy of lesson NN is
 * STUDENT/NN-topic/, STUDENT/work/NN-topic/, or STUDENT/ itself; a file
 * without exercises that a student did not hand in is taken from the
 * lesson. Each copy is built in a temporary folder and every step is
 * checked (a failed step does not hide the next), each test under the
 * deadline and output limit, so a program that hangs, crashes or floods
 * its output fails its own checks and the run goes on to the next student.
 *
 * The table goes to stdout; with --tap, TAP goes to stdout and the table
 * to stderr, for a course's CI.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MAX_STUDENTS 512

struct student {
	char name[EX_NAMELEN];
	char src[PATH_MAX];
	int built;                    /* 1 compiled, 0 did not */
	char build_error[400];        /* the compiler's first error line */
	struct ex_step_result steps[EX_MAX_STEPS];
	int passed;
	long long ms;
};

static int by_student(const void *a, const void *b)
{
	return strcmp(((const struct student *)a)->name, ((const struct student *)b)->name);
}

/* The folders in dir, sorted; hidden ones are left out. */
static int list_students(const char *dir, const char *lesson, struct student **out, char *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct student *s;
	int n = 0;

	if (d == NULL) {
		ex_err(err, "open %s: %s", dir, strerror(errno));
		return -1;
	}
	s = calloc(MAX_STUDENTS, sizeof(*s));
	if (s == NULL) {
		closedir(d);
		ex_err(err, "out of memory");
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < MAX_STUDENTS) {
		char path[PATH_MAX], try[PATH_MAX];

		if (e->d_name[0] == '.' || strlen(e->d_name) >= EX_NAMELEN ||
		    ex_path(path, sizeof(path), dir, e->d_name) < 0 || !ex_is_dir(path))
			continue;
		ex_copy_str(s[n].name, sizeof(s[n].name), e->d_name);
		ex_copy_str(s[n].src, sizeof(s[n].src), path);
		if (ex_path(try, sizeof(try), path, lesson) == 0 && ex_is_dir(try))
			ex_copy_str(s[n].src, sizeof(s[n].src), try);
		else if (ex_fmt(try, sizeof(try), "%s/work/%s", path, lesson) == 0 &&
			 ex_is_dir(try))
			ex_copy_str(s[n].src, sizeof(s[n].src), try);
		n++;
	}
	closedir(d);
	qsort(s, (size_t)n, sizeof(*s), by_student);
	*out = s;
	return n;
}

static void first_error(const char *log, char *out, size_t size)
{
	const char *at = strstr(log, "error:");
	const char *start, *end;

	if (at == NULL)
		at = log;
	for (start = at; start > log && start[-1] != '\n'; start--)
		;
	end = strchr(start, '\n');
	ex_fmt(out, size, "%.*s", (int)(end != NULL ? end - start : (long)strlen(start)), start);
}

static int grade_one(const struct ex_paths *p, const struct ex_lesson *l,
		     struct student *s, const char *build, const struct ex_check_opts *o,
		     char *err)
{
	long long start = ex_now_ms();
	char *log = NULL;
	int rc = ex_build(p, l, s->src, build, &log, err);

	if (rc < 0) {
		free(log);
		return -1;
	}
	s->built = rc == 0;
	if (!s->built) {
		first_error(log, s->build_error, sizeof(s->build_error));
		for (int i = 0; i < l->nsteps; i++)
			s->steps[i].outcome = EX_BUILD;
		s->passed = 0;
	} else {
		s->passed = ex_check_steps(p, l, build, o, NULL, NULL, s->steps, err);
	}
	free(log);
	s->ms = ex_now_ms() - start;
	return s->passed < 0 ? -1 : 0;
}

/* A name safe in a TAP description: no '#' (a directive), no newline. */
static void tap_safe(char *dst, size_t size, const char *src)
{
	ex_copy_str(dst, size, src);
	for (char *c = dst; *c != '\0'; c++)
		if (*c == '#' || *c == '\n' || *c == '\r')
			*c = '_';
}

static void print_table(FILE *out, const struct ex_lesson *l, struct student *s, int n,
			const char *dir, const struct ex_check_opts *o)
{
	int w = 7;
	int notes = 0;

	for (int i = 0; i < n; i++)
		if ((int)strlen(s[i].name) > w)
			w = (int)strlen(s[i].name);
	if (w > 24)
		w = 24;
	fprintf(out, "Lesson %s (%s): %d submission%s in %s\n", l->num, l->title, n,
		n == 1 ? "" : "s", dir);
	for (int i = 0; i < l->nsteps; i++)
		fprintf(out, "  step %d: %s\n", l->steps[i].number, l->steps[i].title);
	fprintf(out, "\n%-*s  build", w, "student");
	for (int i = 0; i < l->nsteps; i++)
		fprintf(out, "  step %-2d", l->steps[i].number);
	fprintf(out, "  passed   time\n");
	for (int i = 0; i < n; i++) {
		fprintf(out, "%-*.*s  %-5s", w, w, s[i].name, s[i].built ? "ok" : "FAIL");
		for (int k = 0; k < l->nsteps; k++)
			fprintf(out, "  %-7s", s[i].built ? ex_outcome_short(s[i].steps[k].outcome) : "-");
		fprintf(out, "  %d/%-4d %5.1fs\n", s[i].passed, l->nsteps, (double)s[i].ms / 1000);
	}
	for (int i = 0; i < n; i++) {
		if (!s[i].built) {
			if (notes++ == 0)
				fprintf(out, "\nWhy:\n");
			fprintf(out, "  %s: does not compile: %s\n", s[i].name, s[i].build_error);
			continue;
		}
		for (int k = 0; k < l->nsteps; k++) {
			char why[1024];

			if (s[i].steps[k].outcome == EX_PASS)
				continue;
			if (notes++ == 0)
				fprintf(out, "\nWhy:\n");
			ex_explain_failure(l, &s[i].steps[k], o, why, sizeof(why));
			fprintf(out, "  %s, step %d (%s): %s: %s\n", s[i].name, l->steps[k].number,
				ex_outcome_short(s[i].steps[k].outcome), s[i].steps[k].failed.test, why);
		}
	}
}

static void print_tap(const struct ex_lesson *l, struct student *s, int n,
		      const struct ex_check_opts *o)
{
	int number = 0;

	printf("TAP version 13\n1..%d\n", n * l->nsteps);
	for (int i = 0; i < n; i++) {
		char name[EX_NAMELEN], title[sizeof(l->steps[0].title)];

		tap_safe(name, sizeof(name), s[i].name);
		for (int k = 0; k < l->nsteps; k++) {
			const struct ex_step_result *r = &s[i].steps[k];
			char why[1024];

			tap_safe(title, sizeof(title), l->steps[k].title);
			printf("%s %d - %s: lesson %s step %d: %s\n",
			       r->outcome == EX_PASS ? "ok" : "not ok", ++number, name, l->num,
			       l->steps[k].number, title);
			if (r->outcome == EX_PASS)
				continue;
			if (!s[i].built)
				ex_fmt(why, sizeof(why), "does not compile: %s", s[i].build_error);
			else
				ex_explain_failure(l, r, o, why, sizeof(why));
			printf("# %s (%s)\n", why, ex_outcome_short(r->outcome));
		}
	}
}

int ex_cmd_grade(const struct ex_paths *p, const struct ex_grade_opts *c)
{
	char dir[EX_NAMELEN], err[EX_ERRLEN], root[PATH_MAX];
	struct ex_check_opts o = c->o;
	struct student *s = NULL;
	struct ex_lesson *l;
	int n, status = 0;

	if (ex_lesson_find(p, c->lesson, dir, err) < 0 || (l = ex_lesson_load(p, dir, err)) == NULL) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	n = list_students(c->dir, dir, &s, err);
	if (n <= 0) {
		if (n == 0)
			ex_err(err, "no student folders in %s", c->dir);
		fprintf(stderr, "socklab: %s\n", err);
		free(s);
		ex_lesson_free(l);
		return 1;
	}
	if (ex_mkdtemp(root, sizeof(root), "grade", err) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		free(s);
		ex_lesson_free(l);
		return 1;
	}
	o.keep_going = 1;
	for (int i = 0; i < n; i++) {
		char build[PATH_MAX];

		fprintf(stderr, "grading %s ... ", s[i].name);
		ex_fmt(build, sizeof(build), "%s/%d", root, i);
		if (grade_one(p, l, &s[i], build, &o, err) < 0) {
			fprintf(stderr, "\nsocklab: %s: %s\n", s[i].name, err);
			status = ex_stop ? 130 : 1;
			break;
		}
		fprintf(stderr, "%d/%d steps (%.1f s)\n", s[i].passed, l->nsteps,
			(double)s[i].ms / 1000);
		ex_remove_tree(build);
	}
	ex_remove_tree(root);
	if (status == 0) {
		if (c->tap) {
			print_table(stderr, l, s, n, c->dir, &o);
			print_tap(l, s, n, &o);
		} else {
			print_table(stdout, l, s, n, c->dir, &o);
		}
	}
	free(s);
	ex_lesson_free(l);
	return status;
}
