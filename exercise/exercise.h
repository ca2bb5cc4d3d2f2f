/* exercise.h — socklab-exercise: classroom exercises made from the lessons.
 *
 * One source of truth. A lesson's own sources hold the solution; two
 * one-line comments mark each region a student is to write:
 *
 *	EXERCISE 2: accept clients one after another      (the task)
 *	...the solution's lines...
 *	END EXERCISE 2
 *
 * (each a C comment alone on its line, "/_* EXERCISE 2: task *_/" with
 * "/_*" meaning the comment opener). Beside the sources,
 * lessons/NN-topic/exercise.stubs holds what a student's copy shows in
 * each region's place: a hint, and optionally a stub, the lines that keep
 * the copy compiling. One entry per region, keyed by file, step and task
 * (not by position, so functions may move within a source):
 *
 *	server.c: EXERCISE 2: accept clients one after another
 *	hint:
 *	<tab>accept() returns a new socket for each client;
 *	<tab>the listener stays open
 *	stub:
 *	<tab>while (!stop_requested)
 *	<tab><tab>sleep(1);
 *	<tab>return EXIT_OK;
 *
 * The hint's lines are joined into one text (a copy wraps it again); each
 * stub line is kept as written after its first tab, and indented like the
 * marker in the copy. An entry's first line repeats the marker's task
 * word for word; a blank line inside a stub is an empty line of it; lines
 * starting with '#' and blank lines between entries are ignored. Two
 * regions of one file and step with the same task are an error, as is a
 * region without an entry or an entry without a region (`lint` says
 * which). lessons/NN-topic/exercise.conf names the integration tests
 * that check each step and says what a failing test means in a student's
 * words. From these the tool writes a student's copy (work/NN-topic/),
 * builds it, runs the same integration tests CI runs against the lesson,
 * and grades folders of submissions.
 *
 * Every function here returns 0 (or a count) on success and -1 on failure
 * with a message in a caller's char err[EX_ERRLEN]; only main.c and the
 * command modules print. check.h declares the checking side: running
 * programs and tests, the student's report, progress, grading.
 */
#ifndef SOCKLAB_EXERCISE_H
#define SOCKLAB_EXERCISE_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>

#define EX_ERRLEN 512
#define EX_MAX_LESSONS 64
#define EX_MAX_FILES 16     /* .c and .h files in one lesson */
#define EX_MAX_REGIONS 16   /* marked regions in one file */
#define EX_MAX_STEPS 12     /* steps in one lesson (lesson 20 has 9) */
#define EX_MAX_TESTS 12     /* tests that check one step */
#define EX_MAX_EXPLAIN 64
#define EX_NAMELEN 96

/* Set by the SIGINT/SIGTERM handler: every wait loop looks at it, stops
 * the programs it started, and returns. */
extern volatile sig_atomic_t ex_stop;

/* ---- where things are ------------------------------------------------- */

struct ex_paths {
	char home[PATH_MAX];   /* the socklab tree: lessons/, lib/, exercise/ */
	char build[PATH_MAX];  /* its build folder: lib/, tests/lessons/ */
	char work[PATH_MAX];   /* the student's copies: HOME/work */
};

/* home: SOCKLAB_HOME, or the folder above this executable's; build: the
 * executable's folder when it holds lib/libsocklab.a, else HOME/build;
 * work: SOCKLAB_WORK, or HOME/work. Installed (PREFIX/bin, no lessons/
 * beside bin/ but PREFIX/share/socklab/lessons): home is
 * PREFIX/share/socklab, build PREFIX/lib/socklab, work ./work. */
int ex_paths_init(struct ex_paths *p, char *err);

/* ---- a lesson and its exercises --------------------------------------- */

struct ex_region {
	int step;
	int first;              /* line of the begin marker (1-based) */
	int body;               /* first line of the solution: first + 1 */
	int last;               /* line of the end marker */
	char indent[32];        /* the begin marker's leading white space */
	char task[256];
	/* From exercise.stubs: */
	int entry;              /* line of the region's entry there */
	char hint[1024];        /* its lines joined by single spaces */
	char stub[1024];        /* replacement lines, each ending in '\n' */
	int has_stub;
};

struct ex_file {
	char name[EX_NAMELEN];  /* "server.c" */
	char **lines;           /* without their '\n' */
	int nlines;
	int final_newline;      /* the file ends with '\n' */
	struct ex_region regions[EX_MAX_REGIONS];
	int nregions;
};

struct ex_step {
	int number;
	char title[160];
	char tests[EX_MAX_TESTS][EX_NAMELEN];
	int ntests;
};

struct ex_explain {
	char test[EX_NAMELEN];
	char text[512];
};

struct ex_lesson {
	char dir[EX_NAMELEN];   /* "02-tcp-echo" */
	char num[16];           /* "02" */
	char path[PATH_MAX];    /* HOME/lessons/02-tcp-echo */
	char title[256];        /* lesson.conf's title, or the folder name */
	char testprog[EX_NAMELEN]; /* "test_02_tcp_echo" */
	struct ex_file files[EX_MAX_FILES];
	int nfiles;
	struct ex_step steps[EX_MAX_STEPS];
	int nsteps;
	struct ex_explain explain[EX_MAX_EXPLAIN];
	int nexplain;
	/* Grading keys of exercise.conf, by step (index N-1 for step N). */
	int points[EX_MAX_STEPS];  /* points.N = P (default 1) */
	int chaos[EX_MAX_STEPS];   /* chaos = N ...: step N must hold under --chaos */
};

/* The lesson folders under HOME/lessons whose sources carry exercise
 * markers, sorted; names like "02-tcp-echo". Returns how many. */
int ex_lessons_with_exercises(const struct ex_paths *p,
                              char names[][EX_NAMELEN], int max, char *err);

/* Resolve "2", "02" or "02-tcp-echo" to a lesson folder name. */
int ex_lesson_find(const struct ex_paths *p, const char *arg,
                   char dir[EX_NAMELEN], char *err);

/* Read a lesson's sources, markers, exercise.conf and exercise.stubs, and
 * check that they agree (every step has regions and tests, every test an
 * explanation, every region one entry in exercise.stubs and every entry a
 * region). Returns a lesson to free with ex_lesson_free, or NULL. */
struct ex_lesson *ex_lesson_load(const struct ex_paths *p, const char *dir,
                                 char *err);
void ex_lesson_free(struct ex_lesson *l);

/* Read l's exercise.stubs into the regions of l->files (already parsed):
 * each region's hint and stub. Part of ex_lesson_load. */
int ex_stubs_load(struct ex_lesson *l, char *err);

const struct ex_step *ex_step_get(const struct ex_lesson *l, int number);
const char *ex_explain_for(const struct ex_lesson *l, const char *test);
/* Does this file of the lesson hold marked regions (so a copy must have
 * it; a file without may be taken from the lesson itself)? */
int ex_file_has_regions(const struct ex_file *f);

/* ---- the student's copy ----------------------------------------------- */

/* Write the lesson's .c and .h files to dest (created if needed), each
 * region of a step above `solved` replaced by a comment with its task and
 * hint and by its stub; regions of steps up to `solved` keep the solution
 * (without the marker comments). */
int ex_copy_write(const struct ex_lesson *l, int solved, const char *dest,
                  char *err);

/* ---- commands of main.c (each returns the process exit status) -------- */

int ex_cmd_build(const struct ex_paths *p, const char *lesson, int print_dir);
int ex_cmd_list(const struct ex_paths *p);
int ex_cmd_lint(const struct ex_paths *p, const char *lesson);

/* ---- small helpers ---------------------------------------------------- */

/* snprintf that says when it cut: 0, or -1 when out could not hold it. */
int ex_fmt(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A message into err (EX_ERRLEN bytes, cut if need be); returns -1. */
int ex_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy src into dst (size bytes, always terminated); -1 when cut. */
int ex_copy_str(char *dst, size_t size, const char *src);
/* dst = a/b; -1 when it does not fit. */
int ex_path(char *dst, size_t size, const char *a, const char *b);
int ex_mkdirs(const char *path, char *err);
/* A new private folder $TMPDIR/socklab-WHAT-random (default /tmp). */
int ex_mkdtemp(char *out, size_t size, const char *what, char *err);
/* Remove a folder and everything in it. */
int ex_remove_tree(const char *path);
/* path relative to the current folder when inside it (points into path). */
const char *ex_shown(const char *path);
int ex_is_dir(const char *path);
int ex_is_file(const char *path);
/* The whole file, NUL-terminated (malloc'd), or NULL with err. */
char *ex_read_file(const char *path, size_t *len, char *err);
/* Write data to path through a temporary file and rename. */
int ex_write_file(const char *path, const char *data, size_t len, char *err);
/* Milliseconds on the monotonic clock. */
long long ex_now_ms(void);
/* The signal's name ("SIGSEGV") and what it usually means. */
const char *ex_signal_name(int sig);
const char *ex_signal_meaning(int sig);

#endif
