/* check.h — socklab-exercise's checking side: run a copy's programs
 * under limits, build a copy, run the lesson's tests against it step by
 * step, tell the student, keep their progress, grade a class.
 *
 * Who uses whom (no file below uses one above it):
 *
 *	main.c      the commands: which job a command line asks for
 *	watch.c     check again on every save           -> report
 *	grade.c     --all DIR: a class                  -> run, report, build
 *	report.c    a check of one copy, told a student -> run, progress, build
 *	progress.c  work/.progress, what comes next
 *	run.c       one test, a lesson's steps          -> proc
 *	build.c     compile a copy                      -> proc
 *	proc.c      one program under limits
 */
#ifndef SOCKLAB_CHECK_H
#define SOCKLAB_CHECK_H

#include "exercise.h"

/* ---- one program under limits (proc.c) ---------------------------------- */

struct ex_proc {
	int status;        /* wait status when the program ended by itself */
	int ended;         /* it exited or was killed by a signal not ours */
	int timed_out;     /* we stopped it at the deadline */
	int flooded;       /* we stopped it: its output passed the limit */
	int interrupted;   /* we stopped it: SIGINT or SIGTERM reached us */
	char *out;         /* its stdout and stderr, NUL-terminated */
	size_t outlen;
	long long ms;      /* how long it ran */
	int pid;           /* its process id (also its group's) */
};

/* Run argv[0] in its own process group, stdin from /dev/null, stdout and
 * stderr captured together (up to cap bytes), in folder cwd, with env
 * entries "NAME=VALUE" set and "NAME" removed. At the deadline, past the
 * size limit, or when ex_stop is set, the whole process group is killed;
 * when the program ends, whatever it left running in its group is killed
 * too. Returns 0 (see r), or -1 when it could not be started. */
int ex_proc_run(char *const argv[], char *const env[], const char *cwd,
                long long timeout_ms, size_t cap, struct ex_proc *r, char *err);
void ex_proc_free(struct ex_proc *r);

/* ---- building a copy (build.c) ----------------------------------------- */

/* Compile every program of the lesson from src (a copy, or the lesson
 * itself) into build/lessons/DIR/. A file the copy lacks is taken from the
 * lesson when it has no regions. The compiler's messages go to *log
 * (malloc'd; free it). Returns 0, 1 when a program did not compile (the
 * compiler's words in *log), or -1 when it could not try (err). */
int ex_build(const struct ex_paths *p, const struct ex_lesson *l,
             const char *src, const char *build, char **log, char *err);

/* ---- running the tests (run.c) ------------------------------------------ */

enum ex_outcome {
	EX_PASS,      /* the test passed */
	EX_SKIP,      /* the test skipped itself (a tool it needs is missing) */
	EX_FAIL,      /* an assertion failed */
	EX_TIMEOUT,   /* it ran past the deadline */
	EX_FLOOD,     /* its output passed the size limit */
	EX_CRASH,     /* a student's program died of a signal like SIGSEGV */
	EX_MISSING,   /* the test program has no such test (a wrong .conf) */
	EX_BROKEN,    /* the test program could not run or died itself */
	EX_BUILD,     /* the copy did not compile (no test ran) */
	EX_STOPPED,   /* interrupted by SIGINT/SIGTERM */
	EX_NOTRUN,    /* not checked: an earlier step failed */
};

struct ex_test_result {
	enum ex_outcome outcome;
	char test[EX_NAMELEN];
	char crash[256];      /* "server: SIGSEGV", when one crashed */
	char crash_prog[64];  /* "server" */
	int crash_sig;
	char details[1536];   /* what the test program said, trimmed */
	long long ms;
};

struct ex_step_result {
	enum ex_outcome outcome;   /* EX_PASS or the first failing test's */
	struct ex_test_result failed; /* the first test that did not pass */
	int ran;                   /* tests run */
	int skipped;               /* of them, skipped */
};

struct ex_check_opts {
	long long timeout_ms;      /* for one test */
	size_t cap;                /* output limit for one test */
	int keep_going;            /* check every step, not only up to the first failure */
};

/* Run one test of the lesson's test program against the programs in
 * build/lessons/DIR/. */
int ex_run_test(const struct ex_paths *p, const struct ex_lesson *l,
                const char *build, const char *test,
                const struct ex_check_opts *o, struct ex_test_result *r,
                char *err);

/* Check steps in order; results[i] for step i+1. Steps after the first
 * failure are EX_NOTRUN unless keep_going. Returns the number of steps
 * that passed, or -1 on an error (err). */
int ex_check_steps(const struct ex_paths *p, const struct ex_lesson *l,
                   const char *build, const struct ex_check_opts *o,
                   void (*on_step)(const struct ex_lesson *, int,
                                   const struct ex_step_result *, void *),
                   void *arg, struct ex_step_result *results, char *err);

/* ---- the student's report (report.c) ----------------------------------- */

/* Words for an outcome: "pass", "FAIL", "TIME", ... (short) */
const char *ex_outcome_short(enum ex_outcome o);
/* One line that says, in a student's words, why a step failed. */
void ex_explain_failure(const struct ex_lesson *l,
                        const struct ex_step_result *s,
                        const struct ex_check_opts *o, char *out, size_t size);
/* Build the copy and check it once, step by step, telling the student;
 * used by check and by --watch. Returns the number of steps that passed,
 * or -1. */
int ex_check_copy(const struct ex_paths *p, const struct ex_lesson *l,
                  const char *copy, const char *build,
                  const struct ex_check_opts *o);
/* What a student reads after `socklab exercise NN`: each step and where
 * its comments are in the copy. */
void ex_report_copy_written(const struct ex_lesson *l, const char *copy, int solved);

/* ---- progress (progress.c) --------------------------------------------- */

/* Note that `passed` steps of the lesson passed, in order, at its last
 * check of the student's own copy. */
void ex_progress_record(const struct ex_paths *p, const struct ex_lesson *l, int passed);
/* "Next: socklab exercise 03 (...)": the first lesson after `after` whose
 * exercise is not done. */
void ex_progress_print_next(const struct ex_paths *p, const char *after);
int ex_cmd_progress(const struct ex_paths *p);

/* ---- watching and grading ----------------------------------------------- */

/* Watch copy with inotify and check it again after every save. */
int ex_watch(const struct ex_paths *p, const struct ex_lesson *l,
             const char *copy, const char *build,
             const struct ex_check_opts *o);

struct ex_grade_opts {
	const char *lesson;
	const char *dir;           /* --all DIR */
	int tap;                   /* --tap */
	struct ex_check_opts o;
};

/* Grade every student's folder in dir; the process exit status. */
int ex_cmd_grade(const struct ex_paths *p, const struct ex_grade_opts *g);

#endif
