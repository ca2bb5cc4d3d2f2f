/* paths.h — where socklab finds its lessons, their programs and the trace
 * shim, relative to its own executable (build/socklab):
 *
 *   home      SOCKLAB_HOME, or the folder above the executable's
 *   lessons   HOME/lessons/NN-topic/lesson.conf and the C sources
 *   programs  EXEDIR/lessons/NN-topic/PROG, else HOME/build/lessons/...
 *   shim      SOCKLAB_SHIM, else EXEDIR/lib/libsltrace.so, else
 *             HOME/build/lib/libsltrace.so
 */
#ifndef TUI_PATHS_H
#define TUI_PATHS_H

#include <limits.h>
#include <stddef.h>

struct paths {
	char exe_dir[PATH_MAX];
	char home[PATH_MAX];
	char lessons[PATH_MAX];
	char shim[PATH_MAX];   /* "" when not found */
};

/* Returns 0, or -1 with a message in err. */
int paths_init(struct paths *p, char *err, size_t errsize);

/* The built program PROG of lesson folder DIR ("02-tcp-echo"). Returns 0,
 * or -1 (not built) with the path it looked for in out. */
int paths_program(const struct paths *p, const char *dir, const char *prog,
                  char *out, size_t size);

#endif
