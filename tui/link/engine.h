/* engine.h — the link's decisions: what happens to each frame between
 * the hosts. Pure: no I/O, no clock, no global state. The caller (the
 * bridge, link/bridge.c, or a unit test) hands each frame in with the
 * time it arrived, asks when the next one is due, and runs the link at
 * that time; the engine says what to send where and reports each
 * frame's fate. Randomness comes from the seed alone, drawn per frame:
 * the k-th frame towards a host gets the same draws on every run with
 * the same seed, whatever else crosses the link and whenever.
 *
 * A frame towards host T meets, in order:
 *   1. the rules for T (drop=syn:1, hold=data:3, reorder=..., dup=...),
 *      each counting the frames of its kind towards T;
 *   2. hold mode: every frame waits until released by hand;
 *   3. loss: random (loss=2%) or every k-th frame (loss=every:10);
 *   4. the transmitter: with a rate, frames wait their turn in a queue of
 *      at most `queue` frames (a frame that finds it full is dropped:
 *      tail drop), each taking len*8/rate to send;
 *   5. the delay, plus or minus the jitter (never reordering by itself);
 *   6. reordering (the frame waits until the next frame towards T has
 *      gone) and duplication (it is delivered twice).
 * Only frames with info.impair (unicast IP) meet any of this; the others
 * (multicast, broadcast) pass at once. A frame released from hold skips
 * the loss and the queue limit: the student chose to let it go.
 */
#ifndef TUI_LINK_ENGINE_H
#define TUI_LINK_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define LINK_PORTS_MAX 8          /* one per host (hosts.h HOSTS_MAX) */
#define LINK_RULES_MAX 16
#define LINK_FRAMES_MAX 32768     /* frames the link may keep at once */
#define LINK_QUEUE_DEFAULT 1000   /* as a NIC's txqueuelen */
#define LINK_SEED_DEFAULT 1
/* A frame picked to be reordered waits at most this long for a later
 * one to overtake it (beyond its own delay). */
#define LINK_REORDER_WAIT (20 * NS_PER_MS)

/* Kinds of frame a rule counts. A segment is of one kind, but for data
 * with FIN or RST, which is both LINK_DATA and LINK_FIN (or LINK_RST). */
enum link_kind {
	LINK_ANY,        /* every frame the settings apply to */
	LINK_SYN,        /* SYN without ACK */
	LINK_SYNACK,     /* SYN,ACK */
	LINK_ACK,        /* a pure ACK: no data, no SYN, FIN or RST */
	LINK_DATA,       /* a segment carrying data */
	LINK_FIN,
	LINK_RST,
	LINK_KINDS
};

enum link_action { LINK_DROP, LINK_HOLD, LINK_REORDER, LINK_DUP };

/* The settings of one direction: the frames towards one host. */
struct link_params {
	mtime_t delay, jitter;    /* ns */
	uint32_t loss_ppm;        /* random loss, parts per million */
	uint32_t loss_every;      /* drop every k-th frame, 0: none */
	uint64_t rate;            /* bit/s, 0: no limit */
	uint32_t queue;           /* frames waiting for the rate, at most */
	uint32_t reorder_ppm;
	uint32_t dup_ppm;
};

/* Act on the frames of one kind towards host `to` (-1: any host) whose
 * ordinal among them is in [first, last] (1-based). */
struct link_rule {
	int to;
	enum link_action action;
	enum link_kind kind;
	uint32_t first, last;     /* last UINT32_MAX: from first on */
};

struct link_config {
	struct link_params dir[LINK_PORTS_MAX];   /* [i]: frames towards host i */
	struct link_rule rules[LINK_RULES_MAX];
	int nrules;
	uint64_t seed;
	int hold;                 /* start in hold mode */
	int mtu;                  /* the hosts' eth0 (0: HOST_MTU_DEFAULT) */
};

/* What the caller knows of a frame. */
struct link_info {
	int impair;               /* unicast IP: the settings apply */
	int tcp;                  /* a TCP segment: flags and payload are set */
	uint8_t flags;            /* TCP flags (model.h TF_*) */
	uint32_t payload;         /* TCP payload bytes */
};

struct link_frame {
	uint64_t id;              /* 1, 2, ... in the order the link saw them */
	int from, to;             /* host indexes */
	mtime_t t_in;             /* when it reached the link */
	mtime_t t_start;          /* when the transmitter began on it */
	mtime_t t_out;            /* when it leaves (is due to leave) the link */
	int fate;                 /* enum seg_fate: now, or final */
	int copies;               /* 2 when duplicated */
	int reorder;              /* waits to be overtaken */
	int released;             /* was held, then released */
	int rule;                 /* the rule that acted on it, -1 none */
	struct link_info info;
	uint32_t len;
	unsigned char *data;      /* the frame, while the link keeps it */
};

/* Counters of one direction. */
struct link_counts {
	uint64_t frames;          /* offered, impaired or not */
	uint64_t bytes;
	uint64_t delivered, delayed, lost, queue_drops, rule_drops, hand_drops;
	uint64_t held, reordered, duplicated;
};

struct link_ops {
	void *ctx;
	/* Put len bytes on the wire towards host to. */
	void (*send)(void *ctx, int to, const unsigned char *data, size_t len);
	/* The frame's fate is f->fate: first 1 when the frame is new (its
	 * first report), 0 for a change (delivered, dropped by hand). data is
	 * the frame. */
	void (*fate)(void *ctx, const struct link_frame *f, const unsigned char *data, int first);
};

struct link_fifo {
	struct link_frame **v;
	int head, n, cap;
};

struct link_dir {
	struct link_fifo q;       /* in flight, by departure */
	mtime_t tx_free;          /* the transmitter is busy until then */
	mtime_t last_out;         /* the latest departure given (order) */
	uint64_t index;           /* frames that met the settings */
	uint32_t rule_seen[LINK_RULES_MAX];
	struct link_counts c;
};

struct link {
	struct link_config cfg;
	struct link_ops ops;
	int nports;
	struct link_dir d[LINK_PORTS_MAX];
	struct link_fifo held;    /* held, oldest first */
	struct link_fifo reord;   /* waiting to be overtaken */
	uint64_t next_id;
	int hold;
	size_t kept;              /* frames the link holds a copy of */
};

/* Defaults: no delay, no loss, no rate, queue LINK_QUEUE_DEFAULT. */
void link_params_default(struct link_params *p);
void link_config_default(struct link_config *c);

void link_init(struct link *l, int nports, const struct link_config *cfg,
               const struct link_ops *ops);
void link_free(struct link *l);

/* A frame from host from to host to (to may equal neither: the caller
 * decided), reaching the link at now. Returns its id. */
uint64_t link_offer(struct link *l, mtime_t now, int from, int to, const unsigned char *data,
                    size_t len, const struct link_info *info);
/* When the next frame is due to leave (0: none waits on time). */
mtime_t link_next_due(const struct link *l);
/* Send every frame due at or before now, in order. */
void link_run(struct link *l, mtime_t now);

/* Hold mode on or off (off releases every held frame). */
void link_set_hold(struct link *l, int on, mtime_t now);
/* Release the oldest held frame (all: every one). Returns how many. */
int link_release(struct link *l, int all, mtime_t now);
/* Drop frame id if it is still held or in flight. Returns 0, or -1 when
 * it is not on the link any more. */
int link_drop(struct link *l, uint64_t id, mtime_t now);
/* Change one direction's settings (new frames meet them). */
void link_set_params(struct link *l, int to, const struct link_params *p);

/* The frames on the link now: held ones first, oldest first, then those
 * in flight. Returns how many were put in out (at most max). */
int link_on_wire(const struct link *l, const struct link_frame **out, int max);
/* Frames waiting for the transmitter towards to at now. */
uint32_t link_queue_len(const struct link *l, int to, mtime_t now);

/* The kind-match a rule makes. */
int link_kind_matches(enum link_kind kind, const struct link_info *info);

#endif
