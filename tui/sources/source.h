/* source.h — one interface for everything the visualizer's poll() loop
 * reads: the trace shim's connections, sock_diag dumps, the capture on lo,
 * a recorded session. A source fills poll slots, is told which are ready,
 * may ask to be woken at a deadline, and hands what it learns to the
 * session (session.h), which records it and feeds the model.
 *
 * Files: trace.c, diag.c, wire.c, replay.c. Each has its own constructor
 * (below); everything else goes through struct source.
 */
#ifndef TUI_SOURCE_H
#define TUI_SOURCE_H

#include <poll.h>
#include <stdint.h>

#include "model.h"

struct session;

#define SOURCE_WHY_LEN 128

struct source {
	const char *name;       /* "trace", "diag", "wire", "replay" */
	int active;             /* delivering data */
	char why[SOURCE_WHY_LEN]; /* why it is not active, or what it watches */
	struct session *s;
	/* Fill at most max slots; return how many were used. */
	int (*fill)(struct source *src, struct pollfd *pfd, int max);
	/* The slots this source filled, after poll(). */
	void (*ready)(struct source *src, const struct pollfd *pfd, int n);
	/* When to be woken (0: no deadline). */
	mtime_t (*deadline)(struct source *src);
	/* Called on every pass of the loop. */
	void (*tick)(struct source *src, mtime_t now);
	void (*destroy)(struct source *src);
};

/* ---- constructors: NULL only when out of memory; a source that cannot
 * work is returned inactive with the reason in why. ---- */

/* Listens on the abstract Unix socket "@socklab-PID-N" (its name is in
 * trace_address) for the shim's connections. */
struct source *trace_source_new(struct session *s);
const char *trace_address(struct source *src);
/* Peers refused: not the session's programs (trace.c says how it knows). */
uint64_t trace_refused(struct source *src);
/* Send a control message (SL_CTL_GO, _RUN, _STEP) to one process.
 * Returns 0, or -1 when that process has no connection. */
int trace_send_ctl(struct source *src, int32_t pid, int ctl);
/* Stop tracing: close every connection (a process waiting at the step
 * gate then goes on untraced). */
void trace_close_all(struct source *src);

/* sock_diag dumps every 100 ms, and soon after each call. */
struct source *diag_source_new(struct session *s);
/* Dump within delay_ms (sooner if one is due anyway). */
void diag_poke(struct source *src, int delay_ms);

/* Capture on lo. private_ns: the session has its own network namespace,
 * so every TCP segment there is the session's. pcap_file: also write
 * what is captured there (NULL: no file). */
struct source *wire_source_new(struct session *s, int private_ns, const char *pcap_file);
/* Read whatever the capture has now (before a dump, so that the dump
 * does not overtake segments that came before it). */
void wire_drain(struct source *src);

/* A recorded session. */
struct source *replay_source_new(struct session *s, const char *file);
/* Replay controls: apply up to and including the next "before" event;
 * play at recorded speed; pause; jump to the end; restart. */
void replay_step(struct source *src);
void replay_play(struct source *src, int on);
void replay_to_end(struct source *src);
void replay_rewind(struct source *src);
/* Position: records applied and total. */
void replay_position(struct source *src, long *done, long *total);
int replay_playing(struct source *src);

#endif
