/* lessons.h — the lessons under HOME/lessons and their lesson.conf:
 *
 *   title = ...            one line for the menu
 *   summary = ...          one more
 *   programs = server client     the lesson's own programs
 *   run = server -p 0      processes started in order; {port} is the port
 *   run = client -p {port} the first one announced ("listening on A:PORT"),
 *                          {addr} the whole address it announced
 *   scenario.NAME.title/run/then   named variants (lesson 03): "then"
 *                          commands run after every "run" process exited
 *   hold = SECONDS         --batch ends the run this long after its last
 *   scenario.NAME.hold     run line started, holding whatever still waits
 *                          (a client inside connect(), a program waiting
 *                          for Enter) instead of waiting for it to end
 *
 * Lines are "key = value"; '#' starts a comment line. lib/lessonconf.c
 * reads the file; every line, known here or not, stays in lesson.conf, so
 * code that needs another key reads it there (sl_lessonconf_get).
 */
#ifndef TUI_LESSONS_H
#define TUI_LESSONS_H

#include <limits.h>
#include <stddef.h>

#include "lessonconf.h"

#define LESSON_TEXT_LEN 256
#define SCEN_NAME_LEN 32
#define CMDS_MAX 16

struct scenario {
	char name[SCEN_NAME_LEN];      /* "" for the default run */
	char title[LESSON_TEXT_LEN];
	char *run[CMDS_MAX];
	int nrun;
	char *then[CMDS_MAX];
	int nthen;
	int hold_ms;                   /* --batch: end this long after the last run line
	                                  started (0: when every program has ended) */
};

struct lesson {
	char id[8];                    /* "02" */
	char dirname[64];              /* "02-tcp-echo" */
	char dir[PATH_MAX];            /* HOME/lessons/02-tcp-echo */
	char title[LESSON_TEXT_LEN];
	char summary[LESSON_TEXT_LEN];
	char programs[LESSON_TEXT_LEN];
	struct scenario main;
	struct scenario *scen;
	int nscen;
	struct sl_lessonconf conf;     /* every line of lesson.conf */
};

struct lessons {
	struct lesson *v;
	int n;
};

/* Load every NN-* folder with a lesson.conf, sorted by number. A conf
 * that cannot be read is reported in err and skipped. Returns 0, or -1
 * when the folder itself cannot be read (err says why). */
int lessons_load(struct lessons *ls, const char *dir, char *err, size_t errsize);
void lessons_free(struct lessons *ls);

/* "02", "2" or "02-tcp-echo". NULL when there is none. */
struct lesson *lessons_find(struct lessons *ls, const char *key);
/* NULL name: the default run. */
struct scenario *lesson_scenario(struct lesson *l, const char *name);
/* Is prog one of the lesson's own programs? */
int lesson_has_program(const struct lesson *l, const char *prog);

/* Split a command line at spaces into argv (at most max-1 words, NULL
 * after the last), replacing "{port}" by port and "{addr}" by addr, the
 * whole address the first program announced (a Unix socket has a path,
 * no port). Either may be NULL: then a word that needs it fails. buf
 * holds the words. Returns the word count, or -1. */
int lesson_split_command(const char *cmd, const char *port, const char *addr, char *buf,
                         size_t size, char **argv, int max);

#endif
