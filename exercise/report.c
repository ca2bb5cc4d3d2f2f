/* report.c — what a student reads: a check of the copy step by step,
 * each failure in a student's words with the step's hints and where its
 * comments are, and the copy just written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char todo_word[] = "TO" "DO";

const char *ex_outcome_short(enum ex_outcome o)
{
	switch (o) {
	case EX_PASS:
		return "pass";
	case EX_SKIP:
		return "skip";
	case EX_FAIL:
		return "FAIL";
	case EX_TIMEOUT:
		return "TIME";
	case EX_FLOOD:
		return "FLOOD";
	case EX_CRASH:
		return "CRASH";
	case EX_MISSING:
		return "CONF";
	case EX_BROKEN:
		return "ERROR";
	case EX_BUILD:
		return "BUILD";
	case EX_STOPPED:
		return "STOP";
	case EX_NOTRUN:
		return "-";
	}
	return "?";
}

void ex_explain_failure(const struct ex_lesson *l, const struct ex_step_result *s,
			const struct ex_check_opts *o, char *out, size_t size)
{
	const char *why = ex_explain_for(l, s->failed.test);

	if (why == NULL)
		why = "the test failed";
	/* A fault made on purpose that the program did not survive says
	 * more than the test's own words. */
	if (s->failed.chaos && s->failed.chaos_why[0] != '\0' &&
	    s->outcome != EX_FLOOD && s->outcome != EX_MISSING && s->outcome != EX_BROKEN) {
		ex_fmt(out, size, "with faults made on purpose (chaos, seed %llu): %s",
		       s->failed.chaos_seed, s->failed.chaos_why);
		return;
	}
	switch (s->outcome) {
	case EX_CRASH:
		if (s->failed.crash_sig == 0) {
			ex_fmt(out, size, "the sanitizer stopped your program: %s. What "
			       "the test then saw: %s", s->failed.crash, why);
			break;
		}
		ex_fmt(out, size, "your %s crashed with %s (%s). What the test then "
			 "saw: %s", s->failed.crash_prog,
			 ex_signal_name(s->failed.crash_sig),
			 ex_signal_meaning(s->failed.crash_sig), why);
		break;
	case EX_TIMEOUT:
		ex_fmt(out, size, "the check was stopped after %lld s: does a program "
			 "wait for ever (an accept(), recv() or connect() that never "
			 "returns)? The likely cause: %s", o->timeout_ms / 1000, why);
		break;
	case EX_FLOOD:
		ex_fmt(out, size, "the check was stopped after %zu KiB of output: does a "
			 "program print in an endless loop?", o->cap / 1024);
		break;
	case EX_MISSING:
		ex_fmt(out, size, "exercise.conf names %s, which %s does not have: a "
			 "fault in the course, not in your code; tell your teacher",
			 s->failed.test, l->testprog);
		break;
	case EX_BROKEN:
		ex_fmt(out, size, "the test program %s did not run properly (see below): "
			 "a fault in the setup, not in your code", l->testprog);
		break;
	case EX_BUILD:
		ex_fmt(out, size, "the copy does not compile");
		break;
	default:
		ex_fmt(out, size, "%s", why);
	}
}

/* ---- the student's report ---------------------------------------------- */

/* Print text wrapped at 79 columns, each line indented by indent. */
static void print_wrapped(const char *indent, const char *text)
{
	int col = 0, width = 79 - (int)strlen(indent);

	fputs(indent, stdout);
	for (const char *w = text; *w != '\0'; ) {
		size_t n = strcspn(w, " ");

		if (col > 0 && col + 1 + (int)n > width) {
			printf("\n%s", indent);
			col = 0;
		} else if (col > 0) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)n, w);
		col += (int)n;
		w += n;
		while (*w == ' ')
			w++;
	}
	putchar('\n');
}

/* Where a step's comments are in the copy: "server.c:219, server.c:236";
 * empty when the student has removed them all. */
static void find_todo(const struct ex_lesson *l, const char *copy, int step,
		      char *where, size_t size)
{
	char needle[64];
	size_t used = 0;

	ex_fmt(needle, sizeof(needle), "%s (step %d)", todo_word, step);
	where[0] = '\0';
	for (int i = 0; i < l->nfiles; i++) {
		char path[PATH_MAX], err[EX_ERRLEN];
		const char *at, *from;
		char *text;
		int line = 1;

		if (ex_path(path, sizeof(path), copy, l->files[i].name) < 0)
			continue;
		text = ex_read_file(path, NULL, err);
		if (text == NULL)
			continue;
		for (from = text; (at = strstr(from, needle)) != NULL; from = at + 1) {
			for (const char *c = from; c < at; c++)
				line += *c == '\n';
			if (ex_fmt(where + used, size - used, "%s%s:%d", used > 0 ? ", " : "",
				   l->files[i].name, line) < 0)
				break;
			used = strlen(where);
		}
		free(text);
	}
}

/* A test's own lines, indented under a label. */
static void print_details(const char *label, const char *details)
{
	if (details[0] == '\0')
		return;
	printf("      %s:\n", label);
	for (const char *d = details; *d != '\0'; ) {
		size_t n = strcspn(d, "\n");

		printf("        %.*s\n", (int)n, d);
		d += n + (d[n] == '\n');
	}
}

/* What the student's programs printed, as feedback.c put it: a heading
 * line per program, then its lines (indented by two). */
static void print_output(const char *output)
{
	for (const char *d = output; *d != '\0'; ) {
		size_t n = strcspn(d, "\n");

		printf("      %.*s\n", (int)n, d);
		d += n + (d[n] == '\n');
	}
}

struct report {
	const char *copy;
	const struct ex_check_opts *o;
	int dots;      /* the column the step's status starts at */
};

static void print_step(const struct ex_lesson *l, int i, const struct ex_step_result *res,
		       void *arg)
{
	struct report *rep = arg;
	const struct ex_step *s = &l->steps[i];
	char why[1024], where[PATH_MAX];

	if (res == NULL) {
		int n = printf("  step %d  %s ", s->number, s->title);

		for (; n < rep->dots; n++)
			putchar('.');
		putchar(' ');
		fflush(stdout);
		return;
	}
	if (res->outcome == EX_PASS) {
		if (res->skipped > 0)
			printf("passed (%d of %d tests skipped: a tool they need is missing)\n",
			       res->skipped, res->ran);
		else
			printf("passed\n");
		return;
	}
	if (res->outcome == EX_SKIP) {
		printf("NOT CHECKED\n");
		print_wrapped("      ", "every test of this step skipped itself here: they "
			      "need something this machine or account lacks (root, "
			      "CAP_NET_RAW, a tool). The step does not count as done; "
			      "check it where the tests can run (as root, or with "
			      "sudo).");
		print_details("what the test said", res->failed.details);
		return;
	}
	printf("%s\n", res->outcome == EX_TIMEOUT ? "STOPPED (too slow)" :
		       res->outcome == EX_CRASH ? "CRASHED" : "FAILED");
	ex_explain_failure(l, res, rep->o, why, sizeof(why));
	printf("      %s:\n", res->failed.test);
	print_wrapped("      ", why);
	if (res->failed.chaos && res->failed.chaos_why[0] != '\0')
		printf("      The same faults again: socklab check %s --chaos=%llu\n", l->num,
		       res->failed.chaos_seed);
	else if (res->failed.chaos_why[0] != '\0')
		print_wrapped("      ", "(This test was checked with faults made on purpose "
			      "first; it fails without them too: fix that first.)");
	print_details("what the test saw", res->failed.details);
	print_output(res->failed.output);
	/* One line, not wrapped: it is to be copied into a shell. */
	if (res->failed.repro[0] != '\0')
		printf("      To try it by hand (one line):\n        %s\n", res->failed.repro);
	find_todo(l, rep->copy, s->number, where, sizeof(where));
	/* Every region of the step has a hint; say each once. */
	for (int f = 0; f < l->nfiles; f++)
		for (int j = 0; j < l->files[f].nregions; j++) {
			const struct ex_region *r = &l->files[f].regions[j];
			char line[1200];
			int seen = 0;

			if (r->step != s->number)
				continue;
			for (int g = 0; g <= f && !seen; g++)
				for (int k = 0; k < l->files[g].nregions; k++) {
					const struct ex_region *q = &l->files[g].regions[k];

					if (q == r)
						break;
					if (q->step == r->step && strcmp(q->hint, r->hint) == 0)
						seen = 1;
				}
			if (seen)
				continue;
			ex_fmt(line, sizeof(line), "Hint (%s): %s", l->files[f].name, r->hint);
			print_wrapped("      ", line);
		}
	if (where[0] != '\0')
		printf("      In %s/: %s (the step's %s comment%s).\n", ex_shown(rep->copy),
		       where, todo_word, strchr(where, ',') != NULL ? "s" : "");
}

/* ---- socklab check NN ----------------------------------------------------- */

static void print_log(const char *log, int max_lines)
{
	int lines = 0;

	for (const char *l = log; *l != '\0' && lines < max_lines; lines++) {
		size_t n = strcspn(l, "\n");

		printf("    %.*s\n", (int)n, l);
		l += n + (l[n] == '\n');
	}
	if (lines == max_lines)
		printf("    ...\n");
}

int ex_check_copy(const struct ex_paths *p, const struct ex_lesson *l,
		  const char *copy, const char *build, const struct ex_check_opts *o)
{
	struct ex_step_result results[EX_MAX_STEPS];
	struct report rep = { copy, o, 0 };
	char err[EX_ERRLEN], work_copy[PATH_MAX];
	char *log = NULL;
	int rc, passed, is_work, first = 0;

	ex_path(work_copy, sizeof(work_copy), p->work, l->dir);
	is_work = strcmp(copy, work_copy) == 0;
	for (int i = 0; i < l->nsteps; i++) {
		int n = (int)strlen(l->steps[i].title) + 12;

		if (n > rep.dots)
			rep.dots = n;
	}
	rep.dots += 3;
	printf("Checking %s (lesson %s: %s)\n", ex_shown(copy), l->num, l->title);
	if (o->chaos)
		printf("  with faults made on purpose in steps that must survive them "
		       "(chaos seed %llu)\n", o->seed);
	printf("  build ");
	for (int n = 8; n < rep.dots; n++)
		putchar('.');
	putchar(' ');
	fflush(stdout);
	rc = ex_build(p, l, copy, build, &log, err);
	if (rc < 0) {
		printf("ERROR\n");
		fprintf(stderr, "socklab: %s\n", err);
		free(log);
		return -1;
	}
	if (rc > 0) {
		printf("FAILED\n  %s does not compile. The compiler says:\n",
		       strcmp(copy, l->path) == 0 ? "The lesson" : "Your copy");
		print_log(log, 30);
		printf("Fix the first error above, then check again.\n");
		free(log);
		if (is_work)
			ex_progress_record(p, l, 0);
		return 0;
	}
	printf("ok\n");
	if (log[0] != '\0') {
		printf("  (with warnings: they often point at the bug)\n");
		print_log(log, 20);
	}
	free(log);
	passed = ex_check_steps(p, l, build, o, print_step, &rep, results, err);
	if (passed < 0) {
		printf("\n");
		fprintf(stderr, "socklab: %s\n", err);
		return -1;
	}
	if (o->only_step != 0) {
		/* One step alone (an autograder's): no progress, no advice. */
		printf("Step %d of lesson %s %s.\n", o->only_step, l->num,
		       passed == 1 ? "passes" : "does not pass");
		return passed;
	}
	for (int i = 0; i < l->nsteps; i++)
		if (results[i].outcome == EX_NOTRUN)
			printf("  step %d  %s: not checked yet\n", l->steps[i].number,
			       l->steps[i].title);
	/* Progress counts the steps that pass in order, as a student does
	 * them (with --keep-going a later one may pass too). */
	while (first < l->nsteps && results[first].outcome == EX_PASS)
		first++;
	if (is_work)
		ex_progress_record(p, l, first);
	if (passed == l->nsteps) {
		printf("All %d steps of lesson %s pass.\n", l->nsteps, l->num);
		if (is_work)
			ex_progress_print_next(p, l->dir);
	} else {
		printf("%d of %d steps pass. Fix step %d, then run: socklab check %s"
		       "   (or leave socklab check %s --watch running)\n",
		       first, l->nsteps, l->steps[first].number, l->num, l->num);
	}
	return passed;
}

/* ---- the copy just written ------------------------------------------------ */

void ex_report_copy_written(const struct ex_lesson *l, const char *copy, int solved)
{
	printf("Wrote %s/ (lesson %s: %s)\n", ex_shown(copy), l->num, l->title);
	for (int i = 0; i < l->nsteps; i++) {
		char where[PATH_MAX];

		find_todo(l, copy, l->steps[i].number, where, sizeof(where));
		printf("  step %d  %-40s %s\n", l->steps[i].number, l->steps[i].title,
		       i < solved ? "(solved for you)" : where);
	}
	if (solved < l->nsteps)
		printf("Find each %s comment, write the code it asks for, and run:\n"
		       "  socklab check %s          (or socklab check %s --watch: checks on every save)\n"
		       "Read lessons/%s/README.md first: the exercise is the lesson's own code.\n",
		       todo_word, l->num, l->num, l->dir);
}
