/* srcloc.h — where in the source a call was made.
 *
 * The shim reports each call's caller as "OBJ+0xOFF" (lib/event.h); for a
 * program built with -g, `addr2line -e OBJ -f -i 0xOFF` (binutils) turns
 * that into file:line. The innermost frame is taken: for a call in a
 * static function the compiler inlined, that is the line of the call
 * itself. Each location is resolved once and kept; each source file is
 * read once. A program without debug information (python3, nc) has no
 * line: the view says so.
 */
#ifndef TUI_SRCLOC_H
#define TUI_SRCLOC_H

#include <limits.h>
#include <stddef.h>

#include "model.h"

struct srcline {
	int atom;                 /* the model's "at" string */
	int ok;                   /* resolved to a line */
	char file[PATH_MAX];
	int line;
	char func[64];
};

struct srcfile {
	char path[PATH_MAX];
	char *data;               /* the whole file */
	char **lines;             /* pointers into data, NUL-terminated */
	int nlines;
	int ok;
};

struct srcloc {
	struct srcline *v;
	int n, cap;
	struct srcfile *files;
	int nfiles, capfiles;
	char lesson_dir[PATH_MAX];   /* where to look for a file by its name */
	int no_addr2line;            /* addr2line is missing: stop trying */
};

void srcloc_init(struct srcloc *c, const char *lesson_dir);
void srcloc_free(struct srcloc *c);
/* The location of atom (resolving it now if it is new), or NULL when
 * there is no "at" at all. */
const struct srcline *srcloc_get(struct srcloc *c, const struct model *m, int atom);
/* The file's lines, read on first use; NULL when it cannot be read. */
const struct srcfile *srcloc_file(struct srcloc *c, const char *path);

#endif
