/* export.h — `socklab export`: a recorded session as a picture or a page
 * that needs no socklab to look at.
 *
 *   socklab export FILE.rec --svg|--html|--txt [--from T] [--to T] [-o OUT]
 *
 * The recording is replayed into a model exactly as `socklab replay`
 * does (sources/replay.c), then laid out once (story.c) and written by
 * one writer per format:
 *   txt.c   plain text: the ladder, every socket's states, the calls
 *   svg.c   a standalone SVG: the ladder with the states beside each lane
 *           and the calls to the right; its <metadata> holds the text form
 *   html.c  one self-contained page: the same SVG inline, the states and
 *           calls as tables, and a small script that steps through the
 *           session with the arrow keys (no network, no library)
 *
 * The layout is a row per segment and per call, in time order. A lane
 * is a TCP endpoint (address and port) named after its process, as in
 * the visualizer's ladder (views/ladder.c).
 */
#ifndef TUI_EXPORT_H
#define TUI_EXPORT_H

#include <stdio.h>

#include "model.h"

enum export_format { EXPORT_NONE, EXPORT_TXT, EXPORT_SVG, EXPORT_HTML };

struct export_opts {
	enum export_format format;
	const char *file;          /* the recording */
	const char *out;           /* -o: NULL writes to stdout */
	int has_from, has_to;
	mtime_t from, to;          /* ns since the session began */
	int calls;                 /* calls as rows of the ladder (--no-calls: 0) */
};

/* Run the command. Returns the exit status (0, or 1 with a message on
 * stderr). */
int export_main(const struct export_opts *o);

/* ---- the layout (story.c) ---- */

#define LANES_MAX 12
#define LANE_LABEL_LEN 48
#define SEG_LABELS_MAX 6

enum row_kind { ROW_SEG, ROW_CALL };

struct xrow {
	enum row_kind kind;
	mtime_t t;
	int index;                 /* into m->segs or m->log */
	int seg_no;                /* ROW_SEG: 1, 2, ... among the shown segments */
	int from, to;              /* ROW_SEG: lanes (-1: not on a lane) */
	int lane;                  /* ROW_CALL: its socket's lane, or -1 */
};

/* A TCP socket drawn beside a lane: its state at each row. */
struct xsock {
	int sock;                  /* index into m->socks */
	int lane;
	int slot;                  /* 0, 1, ...: its place among the lane's sockets */
	uint8_t *state;            /* [nrows]: the state at each row */
};

struct xlane {
	struct ep ep;
	char name[LANE_LABEL_LEN]; /* "client:44202", or the address */
	char addr[EP_TEXT_LEN];    /* "127.0.0.1:44202" */
	int nslots;
};

struct story {
	const struct model *m;
	char title[160];
	char source[192];          /* "run, private network namespace, captured on lo" */
	int inferred;              /* the segments were inferred from calls */
	mtime_t from, to;          /* the window, absolute times */
	struct xlane lanes[LANES_MAX];
	int nlanes;
	struct xrow *rows;
	int nrows, nsegs, ncalls;
	struct xsock *socks;
	int nsocks;
	int skipped_segs;          /* in the window but between ends past LANES_MAX */
	int calls;                 /* the calls are shown */
};

/* Lay out the model m (the recording's title and header given) for the
 * window in o. Returns 0, or -1 when out of memory. */
int story_build(struct story *st, const struct model *m, const struct export_opts *o,
                const char *title, const char *source, int inferred);
void story_free(struct story *st);

/* Labels a segment carries beyond its flags and numbers: the analysis'
 * ("retransmission", "dup ack #2", ...) and "inferred". Returns how many
 * were put in out (at most max); the strings live as long as the model. */
int story_seg_labels(const struct model *m, const struct mseg *g, const char **out, int max);
/* "client[123]" for the process that made log entry e. */
void story_who(const struct model *m, int32_t pid, char *buf, size_t size);
/* "connect(3, 127.0.0.1:4000) = 0", "accept(3) = -1 EAGAIN". */
void story_call_text(const struct model *m, const struct mlog *e, char *buf, size_t size);
/* "SYN mss=65495 ws=7 sack" / "PSH,ACK len=14": what goes on the arrow. */
void story_arrow_text(const struct mseg *g, char *buf, size_t size);
/* "seq=0 ack=1 win=65483" (no window for an inferred segment). */
void story_numbers_text(const struct mseg *g, char *buf, size_t size);
/* The socket a log entry names, or NULL. */
const struct msock *story_sock(const struct model *m, int id);

/* ---- writers ---- */
int export_txt(const struct story *st, FILE *out);
/* standalone: an SVG file of its own (XML declaration, metadata);
 * otherwise the <svg> element for inclusion in the page. */
int export_svg(const struct story *st, FILE *out, int standalone);
int export_html(const struct story *st, FILE *out);

/* Write s as XML character data: markup escaped, control characters and
 * bytes that are not UTF-8 replaced with '?', so the file stays valid. */
void xml_text(FILE *out, const char *s);

#endif
