/* check.c — run a lesson's integration tests against a copy's programs,
 * step by step, and say what failed in a student's words.
 *
 * Each test runs alone: the lesson's test program (build/tests/lessons/
 * test_NN_topic) with SOCKLAB_TEST_FILTER naming the test and SOCKLAB_BUILD
 * pointing at the copy's programs, under a deadline and an output limit.
 * One test per run means a hang in one cannot hide the others, and the
 * first failing test of a step is the one the student hears about.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exercise.h"

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

/* ---- one test ----------------------------------------------------------- */

/* cmocka's lines that carry no information about the failure. */
static int is_banner(const char *line, const char *test)
{
	static const char *const prefixes[] = {
		"[==========]", "[ RUN      ]", "[       OK ]", "[  PASSED  ]",
		"[  SKIPPED ]",
	};
	char named[EX_NAMELEN + 16];

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	if (strstr(line, "FAILED TEST(S)") != NULL || strstr(line, "test(s), listed below") != NULL)
		return 1;
	ex_fmt(named, sizeof(named), "[  FAILED  ] %s", test);
	if (strcmp(line, named) == 0)
		return 1;
	ex_fmt(named, sizeof(named), "[  ERROR   ] %s", test);
	return strcmp(line, named) == 0;
}

/* What the test program said about the failure: its lines without
 * cmocka's banners, at most a dozen, each cut to a screen's width. */
static void trim_details(const char *out, const char *test, char *details, size_t size)
{
	size_t used = 0;
	int lines = 0;

	details[0] = '\0';
	for (const char *line = out; *line != '\0' && lines < 12; ) {
		size_t n = strcspn(line, "\n");
		char one[512];
		size_t keep = n < sizeof(one) - 1 ? n : sizeof(one) - 1;

		memcpy(one, line, keep);
		one[keep] = '\0';
		line += n + (line[n] == '\n');
		if (one[strspn(one, " \t\r")] == '\0' || is_banner(one, test))
			continue;
		if (strlen(one) > 200)
			strcpy(one + 196, " ...");
		if (used + strlen(one) + 2 >= size)
			break;
		used += (size_t)snprintf(details + used, size - used, "%s\n", one);
		lines++;
	}
}

/* The first crash a copy's program noted, as "server: SIGSEGV". */
static void read_crash(const char *log, struct ex_test_result *r)
{
	char err[EX_ERRLEN];
	char *text = ex_read_file(log, NULL, err);
	char prog[64];
	int sig;

	r->crash[0] = '\0';
	r->crash_sig = 0;
	if (text == NULL)
		return;
	if (sscanf(text, "%63s %d", prog, &sig) == 2) {
		ex_fmt(r->crash, sizeof(r->crash), "%s: %s", prog, ex_signal_name(sig));
		ex_copy_str(r->crash_prog, sizeof(r->crash_prog), prog);
		r->crash_sig = sig;
	}
	free(text);
}

/* In a sanitizer build (make SANITIZE=...) the sanitizer, not crashnote.c,
 * catches a crash, and it may also stop a program for a leak or undefined
 * behaviour. Its reports go to BUILD/.sanitizer.PID (log_path); the first
 * "ERROR: ..." or "runtime error: ..." line says what happened. */
static void sanitizer_env(char *out, size_t size, const char *var, const char *log)
{
	const char *old = getenv(var);

	ex_fmt(out, size, "%s=%s%slog_path=%s", var, old != NULL ? old : "",
	       old != NULL && old[0] != '\0' ? ":" : "", log);
}

/* Read the reports (unless only removing them) into r, then remove them.
 * The test program's own report (file LOG.PID with its pid: in a sanitizer
 * build it is instrumented too) is not the student's. */
static void sanitizer_reports(const char *log, int read_them, int test_pid,
			      struct ex_test_result *r)
{
	char pattern[PATH_MAX + 4];
	glob_t g;

	if (ex_fmt(pattern, sizeof(pattern), "%s.*", log) < 0 ||
	    glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char err[EX_ERRLEN];
		const char *dot = strrchr(g.gl_pathv[i], '.');
		int own = dot != NULL && atoi(dot + 1) == test_pid;
		char *text = read_them && !own ? ex_read_file(g.gl_pathv[i], NULL, err) : NULL;
		const char *at = NULL;

		if (text != NULL && r->crash[0] == '\0') {
			at = strstr(text, "ERROR: ");
			if (at != NULL)
				at += strlen("ERROR: ");
			else
				at = strstr(text, "runtime error: ");
		}
		if (at != NULL) {
			size_t n = strcspn(at, "\n");

			ex_fmt(r->crash, sizeof(r->crash), "%.*s", (int)(n < 200 ? n : 200), at);
			ex_copy_str(r->crash_prog, sizeof(r->crash_prog), "program");
			r->crash_sig = 0;
		}
		free(text);
		unlink(g.gl_pathv[i]);
	}
	globfree(&g);
}

static int contains_marker(const char *out, const char *mark, const char *test)
{
	char want[EX_NAMELEN + 32];

	/* The name must end where the line does, or test_x would match test_xy. */
	for (const char *at = out; (at = strstr(at, mark)) != NULL; at++) {
		size_t n;

		ex_fmt(want, sizeof(want), "%s %s", mark, test);
		n = strlen(want);
		if (strncmp(at, want, n) == 0 && (at[n] == '\n' || at[n] == '\0' || at[n] == '\r'))
			return 1;
	}
	return 0;
}

int ex_run_test(const struct ex_paths *p, const struct ex_lesson *l,
		const char *build, const char *test,
		const struct ex_check_opts *o, struct ex_test_result *r, char *err)
{
	char bin[PATH_MAX], crashlog[PATH_MAX], sanlog[PATH_MAX];
	char env_build[PATH_MAX + 32], env_filter[EX_NAMELEN + 32], env_crash[PATH_MAX + 32];
	char env_asan[2 * PATH_MAX], env_ubsan[2 * PATH_MAX], env_tsan[2 * PATH_MAX];
	char *argv[] = { bin, NULL };
	char *env[] = { env_build, env_filter, env_crash, env_asan, env_ubsan, env_tsan,
			"SOCKLAB_VALGRIND", NULL };
	struct ex_proc pr;

	memset(r, 0, sizeof(*r));
	ex_copy_str(r->test, sizeof(r->test), test);
	ex_fmt(bin, sizeof(bin), "%s/tests/lessons/%s", p->build, l->testprog);
	if (access(bin, X_OK) < 0) {
		ex_err(err, "the test program %s is missing: build the "
			 "tests first (make tests: it installs what they need)", bin);
		return -1;
	}
	if (ex_fmt(crashlog, sizeof(crashlog), "%s/.crashlog", build) < 0) {
		ex_err(err, "path too long: %s", build);
		return -1;
	}
	unlink(crashlog);
	ex_fmt(sanlog, sizeof(sanlog), "%s/.sanitizer", build);
	sanitizer_reports(sanlog, 0, 0, r);
	sanitizer_env(env_asan, sizeof(env_asan), "ASAN_OPTIONS", sanlog);
	sanitizer_env(env_ubsan, sizeof(env_ubsan), "UBSAN_OPTIONS", sanlog);
	sanitizer_env(env_tsan, sizeof(env_tsan), "TSAN_OPTIONS", sanlog);
	ex_fmt(env_build, sizeof(env_build), "SOCKLAB_BUILD=%s", build);
	ex_fmt(env_filter, sizeof(env_filter), "SOCKLAB_TEST_FILTER=%s", test);
	ex_fmt(env_crash, sizeof(env_crash), "SOCKLAB_CRASH_LOG=%s", crashlog);
	if (ex_proc_run(argv, env, p->home, o->timeout_ms, o->cap, &pr, err) < 0)
		return -1;
	r->ms = pr.ms;
	trim_details(pr.out, test, r->details, sizeof(r->details));
	if (pr.interrupted)
		r->outcome = EX_STOPPED;
	else if (pr.timed_out)
		r->outcome = EX_TIMEOUT;
	else if (pr.flooded)
		r->outcome = EX_FLOOD;
	else if (contains_marker(pr.out, "[       OK ]", test))
		r->outcome = EX_PASS;
	else if (contains_marker(pr.out, "[  SKIPPED ]", test))
		r->outcome = EX_SKIP;
	else if (contains_marker(pr.out, "[  FAILED  ]", test) ||
		 contains_marker(pr.out, "[  ERROR   ]", test))
		r->outcome = EX_FAIL;
	else if (!contains_marker(pr.out, "[ RUN      ]", test) && WIFEXITED(pr.status) &&
		 WEXITSTATUS(pr.status) == 0)
		r->outcome = EX_MISSING;
	else
		r->outcome = EX_BROKEN;
	if (r->outcome == EX_BROKEN && WIFSIGNALED(pr.status))
		ex_fmt(r->details, sizeof(r->details), "the test program died of %s\n",
			 ex_signal_name(WTERMSIG(pr.status)));
	if (r->outcome != EX_PASS && r->outcome != EX_SKIP && r->outcome != EX_STOPPED) {
		read_crash(crashlog, r);
		sanitizer_reports(sanlog, 1, pr.pid, r);
		if (r->crash[0] != '\0')
			r->outcome = EX_CRASH;
	}
	sanitizer_reports(sanlog, 0, 0, r);
	unlink(crashlog);
	ex_proc_free(&pr);
	return 0;
}

int ex_check_steps(const struct ex_paths *p, const struct ex_lesson *l,
		   const char *build, const struct ex_check_opts *o,
		   void (*on_step)(const struct ex_lesson *, int,
				   const struct ex_step_result *, void *),
		   void *arg, struct ex_step_result *results, char *err)
{
	int passed = 0, failed = 0;

	for (int i = 0; i < l->nsteps; i++) {
		const struct ex_step *s = &l->steps[i];
		struct ex_step_result *res = &results[i];

		memset(res, 0, sizeof(*res));
		if (failed && !o->keep_going) {
			res->outcome = EX_NOTRUN;
			continue;
		}
		if (on_step != NULL)
			on_step(l, i, NULL, arg);
		res->outcome = EX_PASS;
		for (int t = 0; t < s->ntests; t++) {
			struct ex_test_result tr;

			if (ex_run_test(p, l, build, s->tests[t], o, &tr, err) < 0)
				return -1;
			res->ran++;
			if (tr.outcome == EX_STOPPED) {
				ex_err(err, "interrupted");
				return -1;
			}
			if (tr.outcome == EX_SKIP) {
				res->skipped++;
				res->failed = tr; /* what it said, should all skip */
				continue;
			}
			if (tr.outcome != EX_PASS) {
				res->outcome = tr.outcome;
				res->failed = tr;
				break;
			}
		}
		/* Every test skipped itself (no root, a missing tool): nothing
		 * was checked, so the step is not done. */
		if (res->outcome == EX_PASS && res->ran > 0 && res->skipped == res->ran)
			res->outcome = EX_SKIP;
		if (res->outcome == EX_PASS)
			passed++;
		else
			failed = 1;
		if (on_step != NULL)
			on_step(l, i, res, arg);
	}
	return passed;
}

void ex_explain_failure(const struct ex_lesson *l, const struct ex_step_result *s,
			const struct ex_check_opts *o, char *out, size_t size)
{
	const char *why = ex_explain_for(l, s->failed.test);

	if (why == NULL)
		why = "the test failed";
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

/* path relative to the current folder when it is inside it. */
static const char *shown(const char *path)
{
	static char cwd[PATH_MAX];
	size_t n;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return path;
	n = strlen(cwd);
	if (strncmp(path, cwd, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

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
	print_details("what the test saw", res->failed.details);
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
		printf("      In %s/: %s (the step's %s comment%s).\n", shown(rep->copy),
		       where, todo_word, strchr(where, ',') != NULL ? "s" : "");
}

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

static void record_progress(const struct ex_paths *p, const struct ex_lesson *l, int passed)
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

static void print_next(const struct ex_paths *p, const char *after)
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
	printf("Exercises (your copies are in %s/):\n", shown(p->work));
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
	printf("Checking %s (lesson %s: %s)\n", shown(copy), l->num, l->title);
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
			record_progress(p, l, 0);
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
	for (int i = 0; i < l->nsteps; i++)
		if (results[i].outcome == EX_NOTRUN)
			printf("  step %d  %s: not checked yet\n", l->steps[i].number,
			       l->steps[i].title);
	/* Progress counts the steps that pass in order, as a student does
	 * them (with --keep-going a later one may pass too). */
	while (first < l->nsteps && results[first].outcome == EX_PASS)
		first++;
	if (is_work)
		record_progress(p, l, first);
	if (passed == l->nsteps) {
		printf("All %d steps of lesson %s pass.\n", l->nsteps, l->num);
		if (is_work)
			print_next(p, l->dir);
	} else {
		printf("%d of %d steps pass. Fix step %d, then run: socklab check %s"
		       "   (or leave socklab check %s --watch running)\n",
		       first, l->nsteps, l->steps[first].number, l->num, l->num);
	}
	return passed;
}

/* Load lesson arg, or say why not (and which lessons have exercises). */
static struct ex_lesson *load_or_say(const struct ex_paths *p, const char *arg)
{
	char dir[EX_NAMELEN], err[EX_ERRLEN], names[EX_MAX_LESSONS][EX_NAMELEN];
	struct ex_lesson *l;
	int n;

	if (ex_lesson_find(p, arg, dir, err) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		return NULL;
	}
	l = ex_lesson_load(p, dir, err);
	if (l != NULL)
		return l;
	fprintf(stderr, "socklab: %s\n", err);
	n = ex_lessons_with_exercises(p, names, EX_MAX_LESSONS, err);
	if (n > 0) {
		fprintf(stderr, "Lessons with exercises:");
		for (int i = 0; i < n; i++)
			fprintf(stderr, " %.2s", names[i]);
		fprintf(stderr, " (socklab progress says which is next)\n");
	}
	return NULL;
}

int ex_cmd_check(const struct ex_paths *p, const struct ex_cmd_check *c)
{
	char err[EX_ERRLEN], copy[PATH_MAX], build[PATH_MAX];
	struct ex_lesson *l;
	int passed, status;

	if (c->all_dir != NULL)
		return ex_cmd_grade(p, c);
	if ((l = load_or_say(p, c->lesson)) == NULL)
		return 1;
	if (c->solution) {
		/* The lesson itself, markers and all, built in a folder of its
		 * own: what CI proves passes every step. */
		if (ex_mkdtemp(build, sizeof(build), "solution", err) < 0) {
			fprintf(stderr, "socklab: %s\n", err);
			ex_lesson_free(l);
			return 1;
		}
		passed = ex_check_copy(p, l, l->path, build, &c->o);
		ex_remove_tree(build);
		status = passed == l->nsteps ? 0 : 1;
		ex_lesson_free(l);
		return ex_stop ? 130 : status;
	}
	ex_path(copy, sizeof(copy), p->work, l->dir);
	ex_path(build, sizeof(build), p->work, ".build");
	if (!ex_is_dir(copy)) {
		fprintf(stderr, "socklab: no copy of lesson %s in %s: start it with "
			"socklab exercise %s\n", l->num, shown(p->work), l->num);
		ex_lesson_free(l);
		return 1;
	}
	if (c->watch) {
		/* Only a signal ends watching: that is its normal end. */
		status = ex_watch(p, l, copy, build, &c->o);
		ex_lesson_free(l);
		return status;
	}
	passed = ex_check_copy(p, l, copy, build, &c->o);
	status = passed == l->nsteps ? 0 : 1;
	ex_lesson_free(l);
	return ex_stop ? 130 : status;
}

/* ---- socklab exercise NN ------------------------------------------------ */

int ex_cmd_exercise(const struct ex_paths *p, const char *lesson, int force, int solved)
{
	char err[EX_ERRLEN], copy[PATH_MAX];
	struct ex_lesson *l;
	int rc = 0;

	if ((l = load_or_say(p, lesson)) == NULL)
		return 1;
	if (solved > l->nsteps)
		solved = l->nsteps;
	ex_path(copy, sizeof(copy), p->work, l->dir);
	if (ex_is_dir(copy) && !force) {
		fprintf(stderr, "socklab: %s already exists, and your work in it is kept.\n"
			"To check it: socklab check %s. To start again from scratch "
			"(replacing your files): socklab exercise %s --force\n",
			shown(copy), l->num, l->num);
		ex_lesson_free(l);
		return 1;
	}
	if (ex_copy_write(l, solved, copy, err) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		ex_lesson_free(l);
		return 1;
	}
	printf("Wrote %s/ (lesson %s: %s)\n", shown(copy), l->num, l->title);
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
	ex_lesson_free(l);
	return rc;
}
