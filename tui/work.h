/* work.h — `socklab run NN --work`: the student's copy of a lesson instead
 * of the lesson itself.
 *
 * socklab-exercise (next to socklab, as for the subcommands it takes
 * over) builds the copy: `socklab-exercise build NN --print-dir` prints
 * the folder of the built programs (WORK/.build/lessons/NN-topic) and
 * exits 0, or exits 1 with the compiler's messages on its stderr, which
 * is ours: they are on the terminal before any screen starts. lesson.conf
 * is still the lesson's; only the programs come from the copy, compiled
 * with -g from the .c files in WORK/NN-topic/, so their source lines are
 * the student's.
 */
#ifndef TUI_WORK_H
#define TUI_WORK_H

#include <limits.h>

#include "lessons.h"
#include "paths.h"

struct work {
	char prog_dir[PATH_MAX];   /* WORK/.build/lessons/NN-topic */
	char src_dir[PATH_MAX];    /* WORK/NN-topic; "" when not known */
};

/* Build the student's copy of lesson l. Returns 0 with w filled in, or -1
 * after saying on stderr why nothing can run. */
int work_build(const struct paths *p, const struct lesson *l, struct work *w);

#endif
