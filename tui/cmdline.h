/* cmdline.h — socklab's command line: one front door, like git.
 *
 *   socklab                         the lesson menu
 *   socklab run NN [SCENARIO]       a lesson, stepped call by call
 *   socklab run NN --work           the student's copy of it (work.h)
 *   socklab trace [--step] -- CMD   any program
 *   socklab watch PORT              whatever talks on a port (no trace)
 *   socklab replay FILE             a recorded session
 *   socklab list                    the lessons and their scenarios
 *   socklab export FILE --svg       a recording as a picture, page or text
 */
#ifndef TUI_CMDLINE_H
#define TUI_CMDLINE_H

#include "export/export.h"
#include "session.h"

enum command { CMD_MENU, CMD_RUN, CMD_TRACE, CMD_WATCH, CMD_REPLAY, CMD_LIST,
               CMD_HELP, CMD_VERSION, CMD_EXPORT };

struct cmdline {
	enum command cmd;
	enum command help_for;     /* CMD_HELP: which command's help */
	const char *lesson;        /* run */
	struct session_opts opt;
	struct export_opts ex;     /* export */
};

/* Is name one of socklab's own commands? Any other is handed to
 * socklab-exercise, git style (main.c). */
int cmdline_known(const char *name);

/* Parse argv. Returns 0, or 2 after printing a usage error to stderr. */
int cmdline_parse(int argc, char **argv, struct cmdline *c);
/* The help text for cmd (CMD_HELP: the overview). */
void cmdline_usage(enum command cmd, FILE *out);

#endif
