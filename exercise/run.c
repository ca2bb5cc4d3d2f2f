/* run.c — run a lesson's integration tests against a copy's programs,
 * one test at a time, and tell each test's outcome.
 *
 * Each test runs alone: the lesson's test program (build/tests/lessons/
 * test_NN_topic) with SOCKLAB_TEST_FILTER naming the test and SOCKLAB_BUILD
 * pointing at the copy's programs, under a deadline and an output limit.
 * One test per run means a hang in one cannot hide the others, and the
 * first failing test of a step is the one the student hears about.
 */
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

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

/* cmocka's markers out of a line: "[  ERROR   ] --- X" is X, "ERROR: X"
 * (a test's own message) is X, and "[   LINE   ] --- F:N: error: Failure!"
 * is "(at F:N)". */
static void plain_words(char *line)
{
	static const char *const drop[] = { "[  ERROR   ] --- ", "ERROR: " };
	const char *fail = ": error: Failure!";
	char *end;

	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strncmp(line, drop[i], strlen(drop[i])) == 0)
			memmove(line, line + strlen(drop[i]), strlen(line + strlen(drop[i])) + 1);
	if (strncmp(line, "[   LINE   ] --- ", 17) == 0 &&
	    (end = strstr(line, fail)) != NULL && end[strlen(fail)] == '\0') {
		*end = '\0';
		memmove(line + 4, line + 17, strlen(line + 17) + 1);
		memcpy(line, "(at ", 4);
		strcat(line, ")");
	}
}

/* What the test program said about the failure: its lines without
 * cmocka's banners, at most 20, each cut to 200 characters. */
static void trim_details(const char *out, const char *test, char *details, size_t size)
{
	size_t used = 0;
	int lines = 0;

	details[0] = '\0';
	for (const char *line = out; *line != '\0' && lines < 20; ) {
		size_t n = strcspn(line, "\n");
		char one[512];
		size_t keep = n < sizeof(one) - 1 ? n : sizeof(one) - 1;

		memcpy(one, line, keep);
		one[keep] = '\0';
		line += n + (line[n] == '\n');
		if (one[strspn(one, " \t\r")] == '\0' || is_banner(one, test))
			continue;
		plain_words(one);
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

/* The environment changes for one run of the test program: entries
 * "NAME=VALUE" to set and "NAME" to remove. */
struct env {
	char *v[24];
	int n;
	char buf[12 * PATH_MAX];
	size_t used;
};

static void env_add(struct env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void env_add(struct env *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->n == (int)(sizeof(e->v) / sizeof(e->v[0])) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->used, sizeof(e->buf) - e->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->buf) - e->used)
		return;
	e->v[e->n++] = e->buf + e->used;
	e->v[e->n] = NULL;
	e->used += (size_t)n + 1;
}

/* The lesson programs the student writes (files with regions), for
 * SOCKLAB_CHAOS_PROGS: "server client". */
static void student_programs(const struct ex_lesson *l, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < l->nfiles; i++) {
		const char *name = l->files[i].name;
		size_t n = strlen(name);

		if (n > 2 && strcmp(name + n - 2, ".c") == 0 && ex_file_has_regions(&l->files[i]) &&
		    ex_fmt(out + used, size - used, "%s%.*s", used > 0 ? " " : "",
			   (int)(n - 2), name) == 0)
			used = strlen(out);
	}
}

/* Chaos mode: the settings the test program hands to the student's
 * programs (tests/lessons/harness.c preloads the shim into them). */
static void chaos_env(struct env *e, const struct ex_paths *p, const struct ex_lesson *l,
		      const char *chaoslog, const struct ex_check_opts *o)
{
	char progs[512];

	if (!o->chaos) {
		env_add(e, "SOCKLAB_CHAOS");
		return;
	}
	student_programs(l, progs, sizeof(progs));
	env_add(e, "SOCKLAB_CHAOS=%llu", o->seed);
	env_add(e, "SOCKLAB_CHAOS_SHIM=%s/lib/libsltrace.so", p->build);
	env_add(e, "SOCKLAB_CHAOS_PROGS=%s", progs);
	env_add(e, "SOCKLAB_CHAOS_LOG=%s", chaoslog);
	if (o->chaos_faults != NULL)
		env_add(e, "SOCKLAB_CHAOS_FAULTS=%s", o->chaos_faults);
	else
		env_add(e, "SOCKLAB_CHAOS_FAULTS");
	if (o->chaos_at != NULL)
		env_add(e, "SOCKLAB_CHAOS_AT=%s", o->chaos_at);
	else
		env_add(e, "SOCKLAB_CHAOS_AT");
}

int ex_run_test(const struct ex_paths *p, const struct ex_lesson *l,
		const char *build, const char *test,
		const struct ex_check_opts *o, struct ex_test_result *r, char *err)
{
	char bin[PATH_MAX], crashlog[PATH_MAX], sanlog[PATH_MAX], chaoslog[PATH_MAX];
	char feedback[PATH_MAX];
	char asan[2 * PATH_MAX], ubsan[2 * PATH_MAX], tsan[2 * PATH_MAX];
	char *argv[] = { bin, NULL };
	struct env env = { .n = 0 };
	struct ex_proc pr;

	memset(r, 0, sizeof(*r));
	ex_copy_str(r->test, sizeof(r->test), test);
	ex_fmt(bin, sizeof(bin), "%s/tests/lessons/%s", p->build, l->testprog);
	if (access(bin, X_OK) < 0) {
		ex_err(err, "the test program %s is missing: build the "
			 "tests first (make tests: it installs what they need)", bin);
		return -1;
	}
	if (ex_fmt(crashlog, sizeof(crashlog), "%s/.crashlog", build) < 0 ||
	    ex_fmt(chaoslog, sizeof(chaoslog), "%s/.chaoslog", build) < 0 ||
	    ex_fmt(feedback, sizeof(feedback), "%s/.feedback", build) < 0) {
		ex_err(err, "path too long: %s", build);
		return -1;
	}
	unlink(crashlog);
	unlink(chaoslog);
	ex_remove_tree(feedback);
	if (ex_mkdirs(feedback, err) < 0)
		return -1;
	ex_fmt(sanlog, sizeof(sanlog), "%s/.sanitizer", build);
	sanitizer_reports(sanlog, 0, 0, r);
	sanitizer_env(asan, sizeof(asan), "ASAN_OPTIONS", sanlog);
	sanitizer_env(ubsan, sizeof(ubsan), "UBSAN_OPTIONS", sanlog);
	sanitizer_env(tsan, sizeof(tsan), "TSAN_OPTIONS", sanlog);
	env_add(&env, "SOCKLAB_BUILD=%s", build);
	env_add(&env, "SOCKLAB_TEST_FILTER=%s", test);
	env_add(&env, "SOCKLAB_CRASH_LOG=%s", crashlog);
	env_add(&env, "%s", asan);
	env_add(&env, "%s", ubsan);
	env_add(&env, "%s", tsan);
	env_add(&env, "SOCKLAB_VALGRIND");
	env_add(&env, "SOCKLAB_FEEDBACK=%s", feedback);
	chaos_env(&env, p, l, chaoslog, o);
	if (ex_proc_run(argv, env.v, p->home, o->timeout_ms, o->cap, &pr, err) < 0)
		return -1;
	r->ms = pr.ms;
	r->chaos = o->chaos;
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
	if (r->outcome != EX_PASS && r->outcome != EX_SKIP && r->outcome != EX_STOPPED)
		ex_feedback_read(p, feedback, o, r);
	sanitizer_reports(sanlog, 0, 0, r);
	unlink(crashlog);
	ex_remove_tree(feedback);
	ex_proc_free(&pr);
	return 0;
}
