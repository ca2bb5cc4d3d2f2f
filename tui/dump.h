/* dump.h — the model as plain text: what `--batch` prints, and what the
 * golden tests compare. One section per kind of thing, one line each. */
#ifndef TUI_DUMP_H
#define TUI_DUMP_H

#include <stdio.h>

#include "model.h"

/* "0.012345" seconds since the session began. */
char *dump_reltime(const struct model *m, mtime_t t, char *buf, size_t size);

/* "server[123] fd 3", "server[123]" after close, "kernel" for a socket no
 * process ever held. */
char *dump_owner(const struct model *m, const struct msock *s, char *buf, size_t size);

/* One segment: "SYN seq=0 win=65495 <mss 65495,sackOK,ws 7>". */
char *dump_segment_text(const struct mseg *g, char *buf, size_t size);

/* Write the whole model. Returns 0, or -1 when writing failed. */
int dump_model(const struct model *m, FILE *out);

#endif
