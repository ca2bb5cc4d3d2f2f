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

/* One segment: "SYN seq=0 win=65495 <mss 65495,sackOK,ws 7>", "ACK seq=1
 * ack=41993 win=48128 <SACK 43441-44889> [TCP duplicate ACK #1]": the
 * window in bytes ("64*?" when the handshake that gives its scale was not
 * seen), the SACK blocks relative, the analysis' labels (analysis.h),
 * and last what the link between hosts did with it ("[dropped-loss]"). */
char *dump_segment_text(const struct mseg *g, char *buf, size_t size);

/* Write the whole model: processes, sockets, segments, and the TCP_INFO
 * samples ("tcp over time") when there are any. Returns 0, or -1 when
 * writing failed. */
int dump_model(const struct model *m, FILE *out);

#endif
