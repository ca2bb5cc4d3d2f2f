/* inqueue.h — the session's inputs, put back in time order.
 *
 * The shim's events, the captured segments and the dumps reach the poll
 * loop by different paths, and one pass may read a connection's last
 * segments before the accept() that took it. Each input carries the time
 * it happened (CLOCK_MONOTONIC), so the session holds every input for a
 * short window and applies them oldest first: the model then sees what
 * happened in the order it happened.
 */
#ifndef TUI_INQUEUE_H
#define TUI_INQUEUE_H

#include <stddef.h>

#include "model.h"

/* How long an input waits for older ones that are still on their way. */
#define INQUEUE_WINDOW_NS (30 * NS_PER_MS)

enum input_kind {
	IN_EVENT, IN_SEGMENT, IN_DIAG_BEGIN, IN_DIAG_SOCK, IN_DIAG_END,
	IN_PROC_START, IN_PROC_EXIT, IN_OUTPUT, IN_FATE, IN_TCP_SAMPLE
};

struct input {
	enum input_kind kind;
	mtime_t t;
	char *line;               /* IN_EVENT: the shim's line, to record */
	size_t len;
	union {
		struct sl_event ev;
		struct mseg seg;
		struct diag_sock diag;
		struct msample sample;
		struct {
			int32_t pid;
			int code;
			char text[LOG_TEXT_LEN];  /* name or output line */
		} proc;
		struct {
			uint64_t id;           /* the link's frame number */
			int fate;
		} fate;
	} u;
};

struct inqueue {
	struct input *v;
	int head, n, cap;   /* the inputs are v[head .. n) */
};

/* Add a copy of in (and of line) after every input not newer than it.
 * Returns 0, or -1 when out of memory. */
int inqueue_add(struct inqueue *q, const struct input *in, const char *line, size_t len);
/* The oldest input's time, or 0 when empty. */
mtime_t inqueue_oldest(const struct inqueue *q);
/* Take the oldest input if its time is <= upto: 1 with *out filled (free
 * out->line after use), 0 when there is none. */
int inqueue_take(struct inqueue *q, mtime_t upto, struct input *out);
void inqueue_free(struct inqueue *q);

#endif
