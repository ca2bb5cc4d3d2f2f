/* spec.h — the link's settings as text: what `--link`, a lesson
 * scenario's `link =` line and a recording say (pure).
 *
 *   SPEC   = ITEM [, ITEM]...
 *   ITEM   = to=HOST        the items after it apply to the frames towards
 *                           HOST only (before any to=: both directions)
 *          | delay=TIME     one-way delay (40ms, 1.5s, 500us; a bare
 *                           number is ms)
 *          | jitter=TIME    delay varies by up to this much either way
 *          | loss=PCT       random loss (2%, 0.5%)
 *          | loss=every:K   drop every K-th frame
 *          | rate=RATE      2mbit, 500kbit, 1gbit, 64000bit (a bare number
 *                           is kbit/s); 0: no limit
 *          | queue=N        frames that may wait for the rate (tail drop)
 *          | reorder=PCT    frames that wait for the next one to pass
 *          | dup=PCT        frames delivered twice
 *          | drop=RULE      drop the frames the rule picks
 *          | hold=RULE      hold them (until released by hand)
 *          | reorder=RULE, dup=RULE
 *          | hold           start in hold mode
 *          | seed=N         the seed of every random choice (default 1)
 *          | mtu=N          the hosts' eth0 MTU (576 to 9000, default 1500)
 *   RULE   = KIND:WHICH     KIND: syn synack ack data fin rst any
 *                           WHICH: 3 (the 3rd), 3-5, 3- (the 3rd on), *
 *                           counted per direction, among frames of KIND
 *
 * Examples: delay=40ms,loss=2%,rate=2mbit,queue=20,seed=7
 *           to=server,drop=syn:1           (the first SYN is lost)
 *           to=server,drop=data:5          (the 5th data segment from
 *                                           the client to the server)
 */
#ifndef TUI_LINK_SPEC_H
#define TUI_LINK_SPEC_H

#include <stddef.h>

#include "link/engine.h"

#define LINK_SPEC_LEN 1024

/* Apply spec to cfg (on top of what cfg holds). names are the hosts, in
 * port order; names NULL: any host name is accepted and ignored (a check
 * of the syntax before the hosts are known). Returns 0, or -1 with err
 * saying what is wrong. */
int link_spec_parse(struct link_config *cfg, const char *spec, const char *const *names,
                    int nnames, char *err, size_t errsize);

/* cfg as a spec that parses back to the same settings (for nnames hosts):
 * what differs from the defaults. Returns 0, or -1 when it did not fit. */
int link_spec_format(const struct link_config *cfg, const char *const *names, int nnames,
                     char *buf, size_t size);

/* One direction's settings in a few words: "delay 40ms, loss 2%, rate
 * 2mbit, queue 20" ("no impairment" when none). */
void link_params_text(const struct link_params *p, char *buf, size_t size);

/* Pieces, for the link panel: "40ms", "2.5%", "2mbit". */
char *link_time_text(mtime_t ns, char *buf, size_t size);
char *link_ppm_text(uint32_t ppm, char *buf, size_t size);
char *link_rate_text(uint64_t bps, char *buf, size_t size);
const char *link_kind_name(enum link_kind kind);

#endif
