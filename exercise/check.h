/* check.h — socklab-exercise's checking side: run a copy's programs
 * under limits, build a copy, run the lesson's tests against it step by
 * step, tell the student, keep their progress, grade a class.
 *
 * Who uses whom (no file below uses one above it):
 *
 *	main.c      the commands: which job a command line asks for
 *	watch.c     check again on every save           -> report
 *	grade.c     --all DIR: a class, -j N at a time  -> box, steps, export, build
 *	export.c    a class's results: table, TAP, JUnit, JSON, CSV, Gradescope
 *	report.c    a check of one copy, told a student -> steps, progress, build
 *	progress.c  work/.progress, what comes next
 *	steps.c     a lesson's steps in order           -> chaos, run
 *	chaos.c     which fault a failing test did not survive -> run
 *	run.c       one test of the lesson's test program -> feedback, proc
 *	feedback.c  what the student's programs printed, a command to retry
 *	build.c     compile a copy                      -> proc
 *	box.c       namespaces and rlimits around a student's code
 *	proc.c      one program under limits            -> box
 */
#ifndef SOCKLAB_CHECK_H
#define SOCKLAB_CHECK_H

#include <stdio.h>

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
	char details[3072];   /* what the test program said, trimmed */
	char output[1536];    /* the end of what the student's programs printed */
	char repro[1024];     /* a shell command that does what the test did */
	char failed_progs[128]; /* the lesson programs that ended with an error
	                        * of their own (not killed by the harness) */
	long long ms;
	int chaos;            /* it ran with faults made on purpose (--chaos) */
	/* A failure under chaos (chaos.c): the fault it did not survive. */
	unsigned long long chaos_seed;
	char chaos_fault[16];   /* "short-read" */
	char chaos_call[32];    /* "recv" */
	char chaos_where[160];  /* "server.c:88" */
	char chaos_why[768];    /* in a student's words */
};

struct ex_step_result {
	enum ex_outcome outcome;   /* EX_PASS or the first failing test's */
	struct ex_test_result failed; /* the first test that did not pass */
	int ran;                   /* tests run */
	int skipped;               /* of them, skipped */
	long long ms;              /* the tests' time together */
};

struct ex_check_opts {
	long long timeout_ms;      /* for one test */
	size_t cap;                /* output limit for one test */
	int keep_going;            /* check every step, not only up to the first failure */
	int only_step;             /* --step N: check step N alone (0: every step) */
	int chaos;                 /* --chaos: faults in the steps exercise.conf names */
	unsigned long long seed;   /* --chaos=SEED */
	const char *chaos_faults;  /* make only these faults ("eintr,abort"), or NULL */
	const char *chaos_at;      /* make them only at this call site, or NULL */
};

/* Run one test of the lesson's test program against the programs in
 * build/lessons/DIR/. */
int ex_run_test(const struct ex_paths *p, const struct ex_lesson *l,
                const char *build, const char *test,
                const struct ex_check_opts *o, struct ex_test_result *r,
                char *err);

/* After a failing test: what the student's programs printed (the end)
 * and a command that reproduces the test by hand, from the notes the
 * test harness left in dir (feedback.c). */
void ex_feedback_read(const struct ex_paths *p, const char *dir,
                      const struct ex_check_opts *o, struct ex_test_result *r);

/* A test that failed under chaos (r, run with o): find the fault the
 * program did not survive and fill r's chaos_ fields (or, when the test
 * fails without faults too, replace r by that plain failure). Runs the
 * test again several times. 0, or -1 on an error (err). */
int ex_chaos_explain(const struct ex_paths *p, const struct ex_lesson *l,
                     const char *build, const struct ex_check_opts *o,
                     struct ex_test_result *r, char *err);

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

enum ex_format {
	EX_FORMAT_TABLE, EX_FORMAT_TAP, EX_FORMAT_JUNIT, EX_FORMAT_JSON, EX_FORMAT_CSV,
	EX_FORMAT_GRADESCOPE,
};

struct ex_grade_opts {
	const char *lesson;
	const char *dir;           /* --all DIR */
	enum ex_format format;     /* --format (--tap: EX_FORMAT_TAP) */
	int jobs;                  /* -j N: students graded at once */
	int box;                   /* namespaces (1, the default) or rlimits alone */
	const char *save;          /* --save DIR: every format, one file each */
	struct ex_check_opts o;
};

/* Grade every student's folder in dir; the process exit status. */
int ex_cmd_grade(const struct ex_paths *p, const struct ex_grade_opts *g);

/* ---- a class's results, and how they go out (export.c) ------------------ */

struct ex_student {
	char name[EX_NAMELEN];
	char src[PATH_MAX];
	int built;                    /* 1 compiled, 0 did not */
	char build_error[400];        /* the compiler's first error line */
	struct ex_step_result steps[EX_MAX_STEPS];
	int passed;                   /* steps */
	int points;                   /* of ex_lesson_points() */
	long long ms;
	char box[200];                /* how it was boxed, or why not */
	int error;                    /* not graded: a fault of the grader's */
	char errmsg[EX_ERRLEN];
};

struct ex_class {
	const struct ex_lesson *l;
	const char *dir;
	const struct ex_student *s;
	int n;
	const struct ex_check_opts *o;
};

/* Points of the whole lesson, and those a student's passed steps earn. */
int ex_lesson_points(const struct ex_lesson *l);
int ex_student_points(const struct ex_lesson *l, const struct ex_student *s);

/* A step's status in the exports: "pass", "fail", "timeout", "crash",
 * "output-limit", "build-error", "not-checked", "not-run" or "error". */
const char *ex_status_name(enum ex_outcome o);

/* Parse a --format name; -1 when unknown. */
int ex_format_parse(const char *name);

/* Write the class's results to out in format f. */
void ex_export(FILE *out, enum ex_format f, const struct ex_class *c);

/* Write every format into dir (made if need be): results.txt, results.tap,
 * junit.xml, results.json, results.csv, and for one student gradescope.json.
 * 0, or -1 (err). */
int ex_export_all(const char *dir, const struct ex_class *c, char *err);

/* ---- the box for untrusted code (box.c) ---------------------------------- */

enum ex_box_kind {
	EX_BOX_NAMESPACES,   /* user (or root's uid 65534), net, pid, mount, ipc + rlimits */
	EX_BOX_RLIMITS,      /* rlimits alone (--no-box, or namespaces refused) */
};

/* In a grading worker, before the student's code is built: shut this
 * process in. The files of the lesson that the student handed in (in src)
 * are copied into the box, which then sees only them, its own /tmp, its own
 * loopback, and the rest of the file system read-only (the class folder
 * hidden). src and build are changed to the box's own folders. what says
 * how it was boxed (or that namespaces were refused and rlimits alone
 * hold). With namespaces, this returns in a new process, the first of the
 * box's PID namespace; the caller's process waits for it and exits with
 * its status. 0, or -1 (err). */
int ex_box_enter(enum ex_box_kind kind, struct ex_paths *p, const struct ex_lesson *l,
                 const char *class_dir, char *src, size_t srcsize, char *build,
                 size_t buildsize, char *what, size_t whatsize, char *err);

/* After a program ran in the box: stop and reap whatever it left running
 * (only inside a PID namespace of our own; a no-op elsewhere). */
void ex_box_sweep(void);

/* The grading is over: leave (ends the box's PID namespace). */
void ex_box_leave(void);

#endif
