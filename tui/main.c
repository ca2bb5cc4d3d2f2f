/* main.c — socklab: run a lesson (or any program) and see each socket
 * call, the segments it causes and every socket's TCP state.
 *
 * This file only dispatches: cmdline.c parses, session.c runs, ui.c
 * draws. Exit status: 0 ok, 1 a failure at run time, 2 bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "lessons.h"
#include "paths.h"
#include "session.h"
#include "quit.h"
#include "ui.h"
#include "work.h"

#define SOCKLAB_VERSION "0.5.0"

static int list_lessons(struct lessons *ls)
{
	for (int i = 0; i < ls->n; i++) {
		struct lesson *l = &ls->v[i];

		printf("%s  %s\n", l->id, l->title);
		if (l->summary[0] != '\0')
			printf("    %s\n", l->summary);
		for (int k = 0; k < l->nscen; k++)
			printf("    socklab run %s %-18s %s\n", l->id, l->scen[k].name, l->scen[k].title);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int need_terminal(void)
{
	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
		return 0;
	fprintf(stderr, "socklab: the screen needs a terminal (or use --batch)\n");
	return 1;
}

static int run_session(const struct paths *p, struct lesson *lesson,
                       const struct session_opts *o)
{
	struct session *s = malloc(sizeof(*s));
	char err[256];
	int rc;

	if (s == NULL) {
		fprintf(stderr, "socklab: out of memory\n");
		return 1;
	}
	if (!o->batch && need_terminal() != 0) {
		free(s);
		return 1;
	}
	if (session_init(s, p, lesson, o, err, sizeof(err)) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		session_free(s);
		free(s);
		return 1;
	}
	if (o->batch) {
		if (session_start(s) < 0) {
			fprintf(stderr, "socklab: %s\n", s->message);
			rc = 1;
		} else {
			rc = session_loop(s, NULL);
		}
	} else {
		rc = ui_session(s);
	}
	session_free(s);
	free(s);
	return rc;
}

/* A lesson; with --work, the student's copy of it, built first (an error
 * there starts nothing). */
static int run_lesson(const struct paths *p, struct lesson *l, struct session_opts *o)
{
	struct work *w;
	int rc;

	if (!o->work)
		return run_session(p, l, o);
	if (!o->batch && need_terminal() != 0)
		return 1;
	w = malloc(sizeof(*w));
	if (w == NULL) {
		fprintf(stderr, "socklab: out of memory\n");
		return 1;
	}
	rc = 1;
	if (work_build(p, l, w) == 0) {
		o->prog_dir = w->prog_dir;
		o->src_dir = w->src_dir;
		rc = run_session(p, l, o);
		o->prog_dir = o->src_dir = NULL;
	}
	free(w);
	return rc;
}

static int load_lessons(const struct paths *p, struct lessons *ls)
{
	char err[512];

	if (lessons_load(ls, p->lessons, err, sizeof(err)) < 0) {
		fprintf(stderr, "socklab: no lessons: %s (set SOCKLAB_HOME to the socklab folder)\n", err);
		return -1;
	}
	if (err[0] != '\0')
		fprintf(stderr, "socklab: skipped a lesson: %s\n", err);
	return 0;
}

/* A command socklab does not know goes to socklab-exercise next to it
 * (git style: socklab check 02 runs socklab-exercise check 02). Returns
 * only when there is no such program to run. */
static void hand_over(char **argv)
{
	char path[PATH_MAX + 32], err[256];
	struct paths p;

	if (paths_init(&p, err, sizeof(err)) < 0)
		return;
	snprintf(path, sizeof(path), "%s/socklab-exercise", p.exe_dir);
	if (access(path, X_OK) != 0)
		return;
	argv[0] = path;
	execv(path, argv);
	fprintf(stderr, "socklab: cannot run %s: %s\n", path, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	struct paths p;
	struct lessons ls = { 0 };
	struct lesson *l = NULL;
	char err[256];
	int rc;

	if (argc >= 2 && argv[1][0] != '-' && !cmdline_known(argv[1]))
		hand_over(argv);
	rc = cmdline_parse(argc, argv, &c);
	if (rc != 0)
		return rc;
	if (c.cmd == CMD_HELP) {
		cmdline_usage(c.help_for, stdout);
		return 0;
	}
	if (c.cmd == CMD_VERSION) {
		printf("socklab %s\n", SOCKLAB_VERSION);
		return 0;
	}
	if (c.cmd == CMD_EXPORT)
		return export_main(&c.ex);
	/* Before curses, which would take SIGINT and SIGTERM for itself.
	 * (export, above, reads and writes files: the signals' default
	 * actions end it at once.) */
	if (quit_init() < 0) {
		fprintf(stderr, "socklab: pipe: %s\n", strerror(errno));
		return 1;
	}
	if (paths_init(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	if (c.cmd == CMD_LIST || c.cmd == CMD_MENU || c.cmd == CMD_RUN) {
		if (load_lessons(&p, &ls) < 0)
			return 1;
	}
	switch (c.cmd) {
	case CMD_LIST:
		rc = list_lessons(&ls);
		break;
	case CMD_MENU:
		rc = need_terminal();
		if (rc == 0)
			rc = ui_menu(&p, &ls, &c.opt);
		break;
	case CMD_RUN:
		l = lessons_find(&ls, c.lesson);
		if (l == NULL) {
			fprintf(stderr, "socklab: no lesson '%s' (socklab list shows them)\n", c.lesson);
			rc = 2;
		} else if (lesson_scenario(l, c.opt.scenario) == NULL) {
			fprintf(stderr, "socklab: lesson %s has no scenario '%s' (socklab list shows them)\n",
				l->id, c.opt.scenario ? c.opt.scenario : "");
			rc = 2;
		} else {
			rc = run_lesson(&p, l, &c.opt);
		}
		break;
	default:
		rc = run_session(&p, NULL, &c.opt);
		break;
	}
	lessons_free(&ls);
	if (quit_requested()) {
		fprintf(stderr, "socklab: stopped (%s)\n", quit_reason(quit_requested()));
		rc = 1;
	}
	return rc;
}
