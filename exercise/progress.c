/* progress.c — work/.progress: how many steps of each lesson passed at
 * its last check, what `socklab progress` shows, and which exercise comes
 * next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- progress ------------------------------------------------------------ */

struct progress {
	char dir[EX_NAMELEN];
	int passed, total;
};

static int read_progress(const struct ex_paths *p, struct progress *pr, int max)
{
	char path[PATH_MAX], err[EX_ERRLEN];
	char *text, *line, *save = NULL;
	int n = 0;

	ex_fmt(path, sizeof(path), "%s/.progress", p->work);
	text = ex_read_file(path, NULL, err);
	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char dir[EX_NAMELEN];

		if (line[0] == '#' ||
		    sscanf(line, "%95s %d %d", dir, &pr[n].passed, &pr[n].total) != 3)
			continue;
		ex_copy_str(pr[n].dir, sizeof(pr[n].dir), dir);
		n++;
	}
	free(text);
	return n;
}

void ex_progress_record(const struct ex_paths *p, const struct ex_lesson *l, int passed)
{
	struct progress pr[EX_MAX_LESSONS];
	int n = read_progress(p, pr, EX_MAX_LESSONS - 1), i;
	char path[PATH_MAX], err[EX_ERRLEN];
	char text[EX_MAX_LESSONS * (EX_NAMELEN + 32) + 128];
	size_t used;

	for (i = 0; i < n; i++)
		if (strcmp(pr[i].dir, l->dir) == 0)
			break;
	if (i == n)
		n++;
	ex_copy_str(pr[i].dir, sizeof(pr[i].dir), l->dir);
	pr[i].passed = passed;
	pr[i].total = l->nsteps;
	used = (size_t)snprintf(text, sizeof(text),
				"# socklab exercises: lesson, steps passed at the last check, steps\n");
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s %d %d\n",
					 pr[i].dir, pr[i].passed, pr[i].total);
	ex_fmt(path, sizeof(path), "%s/.progress", p->work);
	if (ex_mkdirs(p->work, err) < 0 || ex_write_file(path, text, used, err) < 0)
		fprintf(stderr, "socklab: cannot record progress: %s\n", err);
}

/* The lesson's state: its last check's count, or -1 when never checked. */
static int passed_steps(const struct progress *pr, int n, const char *dir, int *total)
{
	for (int i = 0; i < n; i++)
		if (strcmp(pr[i].dir, dir) == 0) {
			*total = pr[i].total;
			return pr[i].passed;
		}
	return -1;
}

static int has_copy(const struct ex_paths *p, const char *dir)
{
	char path[PATH_MAX];

	return ex_path(path, sizeof(path), p->work, dir) == 0 && ex_is_dir(path);
}

/* The first lesson after `after` (or from the start) whose exercise is not
 * done; names[] is in lesson order. Returns its index, or -1. */
static int next_lesson(const struct ex_paths *p, char names[][EX_NAMELEN], int n,
		       const char *after)
{
	struct progress pr[EX_MAX_LESSONS];
	int np = read_progress(p, pr, EX_MAX_LESSONS);
	int start = 0;

	if (after != NULL)
		for (int i = 0; i < n; i++)
			if (strcmp(names[i], after) == 0)
				start = i + 1;
	for (int k = 0; k < n; k++) {
		int i = (start + k) % n, total = 0;
		int done = passed_steps(pr, np, names[i], &total);

		if (after != NULL && strcmp(names[i], after) == 0)
			continue;
		if (done < 0 || done < total)
			return i;
	}
	return -1;
}

void ex_progress_print_next(const struct ex_paths *p, const char *after)
{
	char names[EX_MAX_LESSONS][EX_NAMELEN], err[EX_ERRLEN];
	int n = ex_lessons_with_exercises(p, names, EX_MAX_LESSONS, err);
	int i = n > 0 ? next_lesson(p, names, n, after) : -1;
	struct ex_lesson *next;

	if (i < 0) {
		printf("That was the last exercise: every lesson's exercise passes. Well done.\n");
		return;
	}
	next = ex_lesson_load(p, names[i], err);
	printf("Next: socklab %s %.2s   (%s)\n", has_copy(p, names[i]) ? "check" : "exercise",
	       names[i], next != NULL ? next->title : names[i]);
	ex_lesson_free(next);
}

/* The title cut at a word to fit width columns, with "..." if cut. */
static const char *short_title(const char *title, size_t width)
{
	static char out[256];
	size_t n;

	if (strlen(title) <= width)
		return title;
	n = width - 3;
	while (n > 0 && title[n] != ' ')
		n--;
	while (n > 0 && (title[n - 1] == ',' || title[n - 1] == ':' || title[n - 1] == ' '))
		n--;
	ex_fmt(out, sizeof(out), "%.*s...", (int)n, title);
	return out;
}

int ex_cmd_progress(const struct ex_paths *p)
{
	char names[EX_MAX_LESSONS][EX_NAMELEN], err[EX_ERRLEN];
	struct progress pr[EX_MAX_LESSONS];
	int n = ex_lessons_with_exercises(p, names, EX_MAX_LESSONS, err);
	int np = read_progress(p, pr, EX_MAX_LESSONS), next;

	if (n < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	if (n == 0) {
		printf("No lesson has exercises yet.\n");
		return 0;
	}
	printf("Exercises (your copies are in %s/):\n", ex_shown(p->work));
	for (int i = 0; i < n; i++) {
		struct ex_lesson *l = ex_lesson_load(p, names[i], err);
		int total = 0, done = passed_steps(pr, np, names[i], &total);
		char state[256];

		if (l == NULL) {
			printf("  %.2s  %-44s (broken: %s)\n", names[i], names[i], err);
			continue;
		}
		if (done >= 0 && done == total && total == l->nsteps)
			ex_fmt(state, sizeof(state), "done (%d of %d steps)", done, total);
		else if (done >= 0 && done < l->nsteps)
			ex_fmt(state, sizeof(state), "%d of %d steps; next: %s", done,
				 l->nsteps, l->steps[done].title);
		else if (has_copy(p, names[i]))
			ex_fmt(state, sizeof(state), "started, not checked yet");
		else
			ex_fmt(state, sizeof(state), "not started");
		printf("  %.2s  %-44s %s\n", names[i], short_title(l->title, 44), state);
		ex_lesson_free(l);
	}
	next = next_lesson(p, names, n, NULL);
	if (next < 0)
		printf("Every exercise passes. Well done.\n");
	else
		printf("Next: socklab %s %.2s\n", has_copy(p, names[next]) ? "check" : "exercise",
		       names[next]);
	return 0;
}

