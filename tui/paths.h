/* paths.h — where socklab finds its lessons, their programs and the trace
 * shim, relative to its own executable. Two layouts:
 *
 *   the tree (build/socklab)          installed (PREFIX/bin/socklab)
 *   home   SOCKLAB_HOME, or the        PREFIX/share/socklab, when it holds
 *          folder above EXEDIR         lessons/ and EXEDIR/../lessons does
 *                                      not (and SOCKLAB_HOME is unset)
 *   build  EXEDIR (build/)             PREFIX/lib/socklab, laid out as build/
 *
 *   lessons   HOME/lessons/NN-topic/lesson.conf and the C sources
 *   programs  BUILD/lessons/NN-topic/PROG, else HOME/build/lessons/...
 *   shim      SOCKLAB_SHIM, else BUILD/lib/libsltrace.so, else
 *             HOME/build/lib/libsltrace.so
 *
 * Relative to the executable, not to PREFIX: an installation under
 * DESTDIR, or moved elsewhere whole, still finds its own files.
 */
#ifndef TUI_PATHS_H
#define TUI_PATHS_H

#include <limits.h>
#include <stddef.h>

struct paths {
	char exe_dir[PATH_MAX];
	char home[PATH_MAX];
	char build[PATH_MAX];  /* the built programs and the shim */
	int installed;         /* the installed layout */
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
