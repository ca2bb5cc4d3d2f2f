/* link.h — the link source: the wire between the hosts (`--hosts`),
 * carried by socklab itself, and what the keys do to it.
 *
 * Every frame a host puts on its eth0 arrives on that host's veth end in
 * socklab's namespace (hosts.h), where a packet socket reads it from a
 * ring it shares with the kernel (PACKET_RX_RING: no copy, and room for
 * thousands of frames while the screen is drawn). The engine (engine.h)
 * decides its fate; the frame is then written to the packet socket of the
 * host its destination MAC names, at once or when its time comes (a
 * timerfd wakes the poll loop then). So every segment between two hosts
 * crosses here exactly once, and this is the session's wire source: each
 * TCP segment goes to the model when it enters the link, with its fate,
 * and the fate again when it changes (delivered, dropped by hand).
 *
 * The keys' actions are recorded (record.h "src=link"), so a replay shows
 * the same drops and holds.
 */
#ifndef TUI_LINK_LINK_H
#define TUI_LINK_LINK_H

#include "hosts.h"
#include "link/engine.h"
#include "sources/source.h"

/* The source for hosts hs (made already) with settings cfg; pcap_file:
 * also write every frame there (NULL: no file). Returns NULL only when
 * out of memory; a link that cannot work is inactive with the reason in
 * why. */
struct source *link_source_new(struct session *s, const struct hosts *hs,
                               const struct link_config *cfg, const char *pcap_file);
/* Is src a link source? */
int link_is(const struct source *src);
/* The engine, for the link panel (read only). */
const struct link *link_engine(const struct source *src);

/* The lesson starts again (r): the frames on the wire are let go, the
 * rules count from the start again (drop=syn:1 drops the next first
 * SYN); the settings and hold mode stay. */
void link_restart(struct source *src);

/* ---- what the keys do (each is recorded) ---- */
void link_hold_mode(struct source *src, int on);
/* Release the oldest held frame (all: every one). Returns how many. */
int link_release_frames(struct source *src, int all);
/* Drop frame id, held or in flight. Returns 0, or -1 when it has left. */
int link_drop_frame(struct source *src, uint64_t id);
/* New settings for the frames towards host to (-1: every host). */
void link_change(struct source *src, int to, const struct link_params *p);
/* Frames read from the rings; frames the kernel dropped before the link
 * saw them (its ring was full); how late, on average, frames that waited
 * left after their time (socklab woke late: a busy machine). */
void link_stats(const struct source *src, uint64_t *frames, uint64_t *missed, mtime_t *late);

#endif
