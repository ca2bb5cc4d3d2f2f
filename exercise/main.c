/* main.c — socklab-exercise: every lesson becomes an exercise.
 *
 * What it does: `socklab exercise 02` writes a student's copy of lesson 02
 * to work/02-tcp-echo/ with the marked parts replaced by comments that say
 * what to write; `socklab check 02` builds that copy and runs the lesson's
 * own integration tests against it, step by step, and says what failed in
 * a student's words; `socklab check --all DIR 02` grades a folder of
 * submissions. `socklab` runs this program for the commands it does not
 * know itself (git style): socklab check 02 = socklab-exercise check 02.
 *
 * Why: the loop students like (rustlings, ziglings) is an incomplete file,
 * one command that checks it, a hint, progress, and the next one — and the
 * checks are the very tests CI runs against the lessons, so they cannot
 * drift from the solution.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_CAP (1024 * 1024)

volatile sig_atomic_t ex_stop;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: socklab exercise NN [--force]\n"
		"       socklab check NN [--watch] [--keep-going] [--step N] [--chaos[=SEED]] [--timeout SEC]\n"
		"       socklab check --solution NN [--timeout SEC]\n"
		"       socklab check --all DIR NN [--format F] [-j N] [--save DIR] [--chaos[=SEED]]\n"
		"                                 [--no-box] [--timeout SEC]\n"
		"       socklab progress\n"
		"(or socklab-exercise COMMAND ...; also: list, lint [NN], build NN)\n"
		"\n"
		"Every lesson is an exercise: write the missing parts of its programs,\n"
		"and the lesson's own tests check them, step by step.\n"
		"\n"
		"  exercise NN       write your copy of lesson NN to work/NN-topic/: each\n"
		"                    part to write is a comment with the task and a hint\n"
		"      --force       replace an existing copy (your changes are lost)\n"
		"      --solved K    leave steps 1..K solved (a head start; for demos)\n"
		"  check NN          build your copy and check it step by step; on\n"
		"                    success, name the next exercise\n"
		"      --watch       check again every time you save a file\n"
		"      --keep-going  check every step, even after one fails\n"
		"      --step N      check step N alone (exit 0 when it passes), as an\n"
		"                    autograder gives points for each step\n"
		"      --chaos[=SEED]  make the faults a kernel may make (recv() and\n"
		"                    send() cut short, EINTR, EAGAIN, ECONNABORTED) in the\n"
		"                    steps that must survive them; the same SEED makes the\n"
		"                    same faults (default: a new one, printed)\n"
		"      --timeout SEC stop one test after SEC seconds (default %d)\n"
		"      --solution    check the lesson itself instead (for CI)\n"
		"      --all DIR     grade DIR: one folder per student, each holding\n"
		"                    NN-topic/ (or work/NN-topic/, or the files)\n"
		"      --format F    with --all: table (the default), tap, junit, json, csv,\n"
		"                    or gradescope (one submission's results.json); any\n"
		"                    but table goes to stdout, the table to stderr\n"
		"      --tap         the same as --format tap\n"
		"  -j, --jobs N      with --all: grade N students at once (default 1)\n"
		"      --save DIR    with --all: also write every format into DIR\n"
		"                    (results.txt, .tap, .json, .csv, junit.xml)\n"
		"      --no-box      with --all: no namespaces around the students' code,\n"
		"                    only rlimits (the results say so)\n"
		"  progress          what is done and what comes next\n"
		"  list              the lessons that have exercises, and their steps\n"
		"  lint [NN]         check the exercise markers, exercise.conf and\n"
		"                    exercise.stubs files\n"
		"  build NN          only build your copy (work/.build/lessons/NN-topic/);\n"
		"      --print-dir   then print that folder (for socklab run NN --work)\n"
		"\n"
		"Environment: SOCKLAB_HOME (the socklab tree), SOCKLAB_WORK (instead of\n"
		"work/), CC and CFLAGS (the compiler, as for make).\n"
		"Exit status: 0 every step passes (or done), 1 a step fails or an error,\n"
		"2 a bad command line, 130 interrupted.\n",
		DEFAULT_TIMEOUT_S);
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "socklab: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'socklab-exercise --help' for help.\n");
	exit(2);
}

static void on_stop(int sig)
{
	(void)sig;
	ex_stop = 1;
}

static void install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a wait returns EINTR and looks at ex_stop. */
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static long number(const char *arg, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "socklab: bad %s '%s': expected a number from %ld to %ld\n"
			"Try 'socklab-exercise --help' for help.\n", what, arg, min, max);
		exit(2);
	}
	return v;
}

/* A --chaos=SEED: any whole number below 2^64. */
static unsigned long long seed_number(const char *arg)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-') {
		fprintf(stderr, "socklab: bad seed '%s': expected a whole number, as "
			"--chaos=1234\nTry 'socklab-exercise --help' for help.\n", arg);
		exit(2);
	}
	return v;
}

/* A seed for --chaos without one: different each run; the check prints
 * it, so the same faults can be made again. */
static unsigned long long fresh_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((unsigned long long)ts.tv_nsec ^ (unsigned long long)getpid() << 20 ^
		(unsigned long long)ts.tv_sec) % 1000000;
}

enum {
	OPT_FORCE = 256, OPT_SOLVED, OPT_WATCH, OPT_KEEP_GOING, OPT_TIMEOUT,
	OPT_SOLUTION, OPT_ALL, OPT_TAP, OPT_PRINT_DIR, OPT_CHAOS, OPT_FORMAT, OPT_NO_BOX, OPT_SAVE, OPT_STEP,
};

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "solved", required_argument, NULL, OPT_SOLVED },
	{ "watch", no_argument, NULL, OPT_WATCH },
	{ "keep-going", no_argument, NULL, OPT_KEEP_GOING },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "solution", no_argument, NULL, OPT_SOLUTION },
	{ "all", required_argument, NULL, OPT_ALL },
	{ "tap", no_argument, NULL, OPT_TAP },
	{ "print-dir", no_argument, NULL, OPT_PRINT_DIR },
	{ "chaos", optional_argument, NULL, OPT_CHAOS },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "jobs", required_argument, NULL, 'j' },
	{ "no-box", no_argument, NULL, OPT_NO_BOX },
	{ "save", required_argument, NULL, OPT_SAVE },
	{ "step", required_argument, NULL, OPT_STEP },
	{ NULL, 0, NULL, 0 },
};

struct cmdline {
	const char *cmd;
	const char *lesson;
	int force, solved, print_dir;
	struct ex_check_opts o;
	const char *all_dir;     /* --all DIR */
	int solution, watch, format, jobs, no_box, format_given;
	const char *save;        /* --save DIR */
};

/* Which options each command takes. */
static int allowed(const char *cmd, int opt)
{
	switch (opt) {
	case OPT_FORCE:
	case OPT_SOLVED:
		return strcmp(cmd, "exercise") == 0;
	case OPT_WATCH:
	case OPT_KEEP_GOING:
	case OPT_TIMEOUT:
	case OPT_SOLUTION:
	case OPT_ALL:
	case OPT_TAP:
	case OPT_CHAOS:
	case OPT_FORMAT:
	case OPT_NO_BOX:
	case OPT_SAVE:
	case OPT_STEP:
	case 'j':
		return strcmp(cmd, "check") == 0;
	case OPT_PRINT_DIR:
		return strcmp(cmd, "build") == 0;
	}
	return 1;
}

static void parse(int argc, char **argv, struct cmdline *c)
{
	int opt;

	memset(c, 0, sizeof(*c));
	c->o.timeout_ms = DEFAULT_TIMEOUT_S * 1000LL;
	c->o.cap = DEFAULT_CAP;
	c->jobs = 1;
	if (argc < 2)
		usage_error("%s", "give a command: exercise, check, progress, list, lint or build");
	c->cmd = argv[1];
	if (strcmp(c->cmd, "-h") == 0 || strcmp(c->cmd, "--help") == 0 ||
	    strcmp(c->cmd, "help") == 0) {
		usage(stdout);
		exit(0);
	}
	if (strcmp(c->cmd, "exercise") != 0 && strcmp(c->cmd, "check") != 0 &&
	    strcmp(c->cmd, "progress") != 0 && strcmp(c->cmd, "list") != 0 &&
	    strcmp(c->cmd, "lint") != 0 && strcmp(c->cmd, "build") != 0)
		usage_error("unknown command '%s'", c->cmd);
	/* getopt_long from argv[1]: the command is its "program name". */
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, ":hj:", longopts, NULL)) != -1) {
		if (opt == '?')
			usage_error("unknown option '%s'", (argv + 1)[optind - 1]);
		if (opt == ':')
			usage_error("option '%s' needs an argument", (argv + 1)[optind - 1]);
		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (!allowed(c->cmd, opt))
			usage_error("that option does not go with '%s'", c->cmd);
		switch (opt) {
		case OPT_FORCE:
			c->force = 1;
			break;
		case OPT_SOLVED:
			c->solved = (int)number(optarg, "step count", 0, 99);
			break;
		case OPT_WATCH:
			c->watch = 1;
			break;
		case OPT_KEEP_GOING:
			c->o.keep_going = 1;
			break;
		case OPT_TIMEOUT:
			c->o.timeout_ms = number(optarg, "timeout", 1, 3600) * 1000LL;
			break;
		case OPT_SOLUTION:
			c->solution = 1;
			break;
		case OPT_ALL:
			c->all_dir = optarg;
			break;
		case OPT_TAP:
			c->format = EX_FORMAT_TAP;
			c->format_given = 1;
			break;
		case OPT_FORMAT:
			c->format = ex_format_parse(optarg);
			c->format_given = 1;
			if (c->format < 0)
				usage_error("unknown format '%s': table, tap, junit, json, csv "
					    "or gradescope", optarg);
			break;
		case 'j':
			c->jobs = (int)number(optarg, "job count", 1, 64);
			break;
		case OPT_NO_BOX:
			c->no_box = 1;
			break;
		case OPT_SAVE:
			c->save = optarg;
			break;
		case OPT_STEP:
			c->o.only_step = (int)number(optarg, "step", 1, EX_MAX_STEPS);
			break;
		case OPT_PRINT_DIR:
			c->print_dir = 1;
			break;
		case OPT_CHAOS:
			c->o.chaos = 1;
			c->o.seed = optarg != NULL ? seed_number(optarg) : fresh_seed();
			break;
		}
	}
	optind++; /* back to argv's numbering */
	if (optind < argc)
		c->lesson = argv[optind++];
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (c->lesson == NULL && (strcmp(c->cmd, "exercise") == 0 || strcmp(c->cmd, "check") == 0 ||
				  strcmp(c->cmd, "build") == 0))
		usage_error("%s: which lesson? Give its number, e.g. 02", c->cmd);
	if (c->lesson != NULL && (strcmp(c->cmd, "progress") == 0 || strcmp(c->cmd, "list") == 0))
		usage_error("unexpected argument '%s'", c->lesson);
	if (c->watch && (c->all_dir != NULL || c->solution))
		usage_error("%s", "--watch checks your own copy: not with --all or --solution");
	if (c->all_dir != NULL && c->solution)
		usage_error("%s", "--all and --solution exclude each other: choose one");
	if (c->o.only_step != 0 && (c->all_dir != NULL || c->watch))
		usage_error("%s", "--step checks one step of one copy: not with --all or --watch");
	if ((c->format_given || c->jobs != 1 || c->no_box || c->save) && c->all_dir == NULL)
		usage_error("%s", "--format, --tap, -j, --save and --no-box go with --all DIR");
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

/* socklab check NN: the student's copy, --watch, --solution, or --all. */
static int cmd_check(const struct ex_paths *p, const struct cmdline *c)
{
	char err[EX_ERRLEN], copy[PATH_MAX], build[PATH_MAX];
	struct ex_lesson *l;
	int passed, status;

	if (c->all_dir != NULL) {
		struct ex_grade_opts g = { c->lesson, c->all_dir, c->format, c->jobs, !c->no_box,
					   c->save, c->o };

		g.o.keep_going = 1;   /* a failed step does not hide the next */

		return ex_cmd_grade(p, &g);
	}
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
		status = passed == (c->o.only_step != 0 ? 1 : l->nsteps) ? 0 : 1;
		ex_lesson_free(l);
		return ex_stop ? 130 : status;
	}
	ex_path(copy, sizeof(copy), p->work, l->dir);
	ex_path(build, sizeof(build), p->work, ".build");
	if (!ex_is_dir(copy)) {
		fprintf(stderr, "socklab: no copy of lesson %s in %s: start it with "
			"socklab exercise %s\n", l->num, ex_shown(p->work), l->num);
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
	status = passed == (c->o.only_step != 0 ? 1 : l->nsteps) ? 0 : 1;
	ex_lesson_free(l);
	return ex_stop ? 130 : status;
}

/* socklab exercise NN: write the student's copy. */
static int cmd_exercise(const struct ex_paths *p, const char *lesson, int force, int solved)
{
	char err[EX_ERRLEN], copy[PATH_MAX];
	struct ex_lesson *l;

	if ((l = load_or_say(p, lesson)) == NULL)
		return 1;
	if (solved > l->nsteps)
		solved = l->nsteps;
	ex_path(copy, sizeof(copy), p->work, l->dir);
	if (ex_is_dir(copy) && !force) {
		fprintf(stderr, "socklab: %s already exists, and your work in it is kept.\n"
			"To check it: socklab check %s. To start again from scratch "
			"(replacing your files): socklab exercise %s --force\n",
			ex_shown(copy), l->num, l->num);
		ex_lesson_free(l);
		return 1;
	}
	if (ex_copy_write(l, solved, copy, err) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		ex_lesson_free(l);
		return 1;
	}
	ex_report_copy_written(l, copy, solved);
	ex_lesson_free(l);
	return 0;
}

int ex_cmd_list(const struct ex_paths *p)
{
	char names[EX_MAX_LESSONS][EX_NAMELEN], err[EX_ERRLEN];
	int n = ex_lessons_with_exercises(p, names, EX_MAX_LESSONS, err), status = 0;

	if (n < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct ex_lesson *l = ex_lesson_load(p, names[i], err);

		if (l == NULL) {
			printf("%s  (broken: %s)\n", names[i], err);
			status = 1;
			continue;
		}
		printf("%s  %s\n", l->num, l->title);
		for (int s = 0; s < l->nsteps; s++)
			printf("    step %d  %s\n", l->steps[s].number, l->steps[s].title);
		ex_lesson_free(l);
	}
	return status;
}

/* Is word in text as a whole word? */
static int has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *at = strstr(text, word); at != NULL; at = strstr(at + 1, word)) {
		int before = at > text && (at[-1] == '_' || (at[-1] >= 'A' && at[-1] <= 'Z') ||
					   (at[-1] >= 'a' && at[-1] <= 'z') ||
					   (at[-1] >= '0' && at[-1] <= '9'));
		char c = at[n];
		int after = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9');

		if (!before && !after)
			return 1;
	}
	return 0;
}

static int lint_lesson(const struct ex_paths *p, const char *dir)
{
	static const char todo[] = "TO" "DO";
	char err[EX_ERRLEN], path[PATH_MAX];
	struct ex_lesson *l = ex_lesson_load(p, dir, err);
	char *tests;
	int bad = 0;

	if (l == NULL) {
		printf("%s: %s\n", dir, err);
		return 1;
	}
	ex_fmt(path, sizeof(path), "%s/tests/lessons/%s.c", p->home, l->testprog);
	tests = ex_read_file(path, NULL, err);
	if (tests == NULL) {
		printf("%s: exercise.conf: the tests come from %s: %s\n", dir, l->testprog, err);
		bad = 1;
	}
	for (int s = 0; s < l->nsteps && tests != NULL; s++)
		for (int t = 0; t < l->steps[s].ntests; t++) {
			char def[EX_NAMELEN + 32];

			ex_fmt(def, sizeof(def), "void %s(void **state)", l->steps[s].tests[t]);
			if (strstr(tests, def) == NULL) {
				printf("%s: exercise.conf: step %d names %s, which %s.c does "
				       "not define\n", dir, l->steps[s].number,
				       l->steps[s].tests[t], l->testprog);
				bad = 1;
			}
		}
	free(tests);
	/* An explanation for a test no step runs is a leftover. */
	for (int i = 0; i < l->nexplain; i++) {
		int used = 0;

		for (int s = 0; s < l->nsteps; s++)
			for (int t = 0; t < l->steps[s].ntests; t++)
				used |= strcmp(l->steps[s].tests[t], l->explain[i].test) == 0;
		if (!used) {
			printf("%s: exercise.conf: explain.%s, but no step runs that test\n",
			       dir, l->explain[i].test);
			bad = 1;
		}
	}
	/* The word students search for lives only in their copies. */
	for (int i = 0; i < l->nfiles; i++)
		for (int k = 0; k < l->files[i].nlines; k++)
			if (has_word(l->files[i].lines[k], todo)) {
				printf("%s/%s:%d: '%s' belongs in the students' copies only\n",
				       dir, l->files[i].name, k + 1, todo);
				bad = 1;
			}
	for (int i = 0; i < 2; i++) {
		const char *name = i == 0 ? "exercise.conf" : "exercise.stubs";

		ex_fmt(path, sizeof(path), "%s/%s", l->path, name);
		tests = ex_read_file(path, NULL, err);
		if (tests != NULL && has_word(tests, todo)) {
			printf("%s/%s: '%s' belongs in the students' copies only\n",
			       dir, name, todo);
			bad = 1;
		}
		free(tests);
	}
	if (!bad)
		printf("%s: %d steps, ok\n", dir, l->nsteps);
	ex_lesson_free(l);
	return bad;
}

int ex_cmd_lint(const struct ex_paths *p, const char *lesson)
{
	char names[EX_MAX_LESSONS][EX_NAMELEN], err[EX_ERRLEN];
	int n, bad = 0;

	if (lesson != NULL) {
		if (ex_lesson_find(p, lesson, names[0], err) < 0) {
			fprintf(stderr, "socklab: %s\n", err);
			return 1;
		}
		n = 1;
	} else {
		n = ex_lessons_with_exercises(p, names, EX_MAX_LESSONS, err);
		if (n < 0) {
			fprintf(stderr, "socklab: %s\n", err);
			return 1;
		}
	}
	for (int i = 0; i < n; i++)
		bad |= lint_lesson(p, names[i]);
	return bad;
}

int ex_cmd_build(const struct ex_paths *p, const char *lesson, int print_dir)
{
	char dir[EX_NAMELEN], err[EX_ERRLEN], copy[PATH_MAX], build[PATH_MAX];
	struct ex_lesson *l;
	char *log = NULL;
	int rc;

	if (ex_lesson_find(p, lesson, dir, err) < 0 || (l = ex_lesson_load(p, dir, err)) == NULL) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	ex_path(copy, sizeof(copy), p->work, dir);
	ex_path(build, sizeof(build), p->work, ".build");
	if (!ex_is_dir(copy)) {
		fprintf(stderr, "socklab: no copy of lesson %s: start it with socklab "
			"exercise %s\n", l->num, l->num);
		ex_lesson_free(l);
		return 1;
	}
	rc = ex_build(p, l, copy, build, &log, err);
	if (log != NULL && log[0] != '\0')
		fputs(log, stderr);
	if (rc < 0)
		fprintf(stderr, "socklab: %s\n", err);
	else if (rc > 0)
		fprintf(stderr, "socklab: your copy of lesson %s does not compile\n", l->num);
	else if (print_dir)
		printf("%s/lessons/%s\n", build, dir);
	free(log);
	ex_lesson_free(l);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct ex_paths p;
	struct cmdline c;
	char err[EX_ERRLEN];

	parse(argc, argv, &c);
	/* Line by line, even into a pipe or a file: a watcher's reader (a
	 * person, a test) sees each result as it comes. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();
	if (ex_paths_init(&p, err) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	if (strcmp(c.cmd, "exercise") == 0)
		return cmd_exercise(&p, c.lesson, c.force, c.solved);
	if (strcmp(c.cmd, "check") == 0)
		return cmd_check(&p, &c);
	if (strcmp(c.cmd, "progress") == 0)
		return ex_cmd_progress(&p);
	if (strcmp(c.cmd, "list") == 0)
		return ex_cmd_list(&p);
	if (strcmp(c.cmd, "lint") == 0)
		return ex_cmd_lint(&p, c.lesson);
	return ex_cmd_build(&p, c.lesson, c.print_dir);
}
