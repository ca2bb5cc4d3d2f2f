/* model.h — the session model: what the visualizer knows about the traced
 * processes, their sockets, the TCP connections between them and the
 * segments on the wire. Pure: no I/O, no clock, no globals; every input
 * carries its own time (CLOCK_MONOTONIC nanoseconds, as the shim's "t").
 *
 * Four kinds of input, one function each:
 *   model_apply_event    a trace event from the shim (event.h)
 *   model_apply_segment  a TCP segment captured on lo, or one inferred
 *                        from the calls when nothing can capture
 *   model_diag_*         a NETLINK_SOCK_DIAG dump: the kernel's own table
 *   model_tick           time passes (TIME_WAIT ends when no dump says so)
 *
 * Sockets are found by the (pid, fd) that hold them and by their 4-tuple.
 * A socket can exist without any fd: a connection the listener has not
 * accepted yet, an orphan in FIN_WAIT2 after close(), a TIME_WAIT.
 *
 * Which source wins: every state change carries a time, and a change older
 * than the socket's last one is ignored (a dump taken before a FIN was
 * seen does not undo it). One exception: TCP_INFO on an fd whose
 * connection went to TIME_WAIT reads CLOSE, because Linux moves TIME_WAIT
 * into a separate object with no fd; that CLOSE never hides TIME_WAIT.
 */
#ifndef TUI_MODEL_H
#define TUI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "event.h"

typedef uint64_t mtime_t;   /* nanoseconds, CLOCK_MONOTONIC */

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S  UINT64_C(1000000000)

/* TCP states use TCP_INFO's numbers (1 ESTABLISHED .. 11 CLOSING), as
 * event.h's sl_event_state_name does; 0 means "not a TCP socket" or not
 * known yet. */
enum {
	ST_NONE = 0,
	ST_ESTABLISHED = 1, ST_SYN_SENT, ST_SYN_RECV, ST_FIN_WAIT1,
	ST_FIN_WAIT2, ST_TIME_WAIT, ST_CLOSE, ST_CLOSE_WAIT, ST_LAST_ACK,
	ST_LISTEN, ST_CLOSING,
	ST_COUNT
};

/* TCP header flags. */
enum {
	TF_FIN = 0x01, TF_SYN = 0x02, TF_RST = 0x04, TF_PSH = 0x08,
	TF_ACK = 0x10, TF_URG = 0x20, TF_ECE = 0x40, TF_CWR = 0x80
};

/* Where a state change came from. */
enum cause {
	CAUSE_CALL,    /* TCP_INFO after a traced call */
	CAUSE_KERNEL,  /* a sock_diag dump */
	CAUSE_WIRE,    /* a captured segment */
	CAUSE_INFER,   /* an inferred segment, or what a call must have done */
	CAUSE_TIMER    /* TIME_WAIT ran out */
};

#define WHY_LEN 24

struct transition {
	mtime_t t;
	uint8_t from, to;
	uint8_t cause;
	char why[WHY_LEN];   /* "connect()", "SYN sent", "TIME_WAIT expired" */
};

#define HOLDERS_MAX 8

struct holder {
	int32_t pid, fd;
};

enum timer_kind {
	TIMER_NONE = 0, TIMER_RETRANS = 1, TIMER_KEEPALIVE = 2,
	TIMER_TIMEWAIT = 3, TIMER_PROBE = 4
};

struct msock {
	int id;
	int family;           /* AF_INET, AF_INET6, AF_UNIX, ... (0 unknown) */
	int type;             /* SOCK_STREAM, ... (0 unknown) */
	int tcp;              /* a TCP socket: has a state */
	struct ep local, peer;
	char local_text[EP_TEXT_LEN]; /* what the shim said, for non-IP sockets */
	int state;
	mtime_t state_t;
	int listening;        /* ever in LISTEN */
	struct holder holders[HOLDERS_MAX];
	int nholders;
	int32_t last_pid, last_fd;  /* the last holder, kept after close() */
	int has_queues;
	uint32_t rq, sq;
	int timer;            /* enum timer_kind, from the last dump */
	mtime_t timer_expiry; /* when the timer fires */
	uint64_t inode;
	int diag_seen, diag_fresh; /* in any dump; in the current one */
	int gone;             /* closed and forgotten by the kernel */
	int merged;           /* folded into another socket: skip it */
	mtime_t created;
	struct transition *hist;
	int nhist, caphist;
};

/* A segment. The wire fills seq/ack with the real numbers; the model adds
 * conn and the numbers relative to each direction's first sequence
 * number. Inferred segments carry relative numbers already. */
struct mseg {
	mtime_t t;
	struct ep src, dst;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint32_t len;
	int has_mss, has_ws, sack_ok, has_ts;
	uint16_t mss;
	uint8_t ws;
	int inferred;
	/* filled in by the model: */
	int conn;
	uint32_t rseq, rack;
};

/* Per direction of a connection. */
struct mdir {
	int has_isn;
	uint32_t isn;
	int fin_sent;
	uint32_t fin_seq;    /* sequence number of the FIN */
	/* inference bookkeeping, in bytes */
	uint64_t sent, recvd, emitted;
	int fin_emitted, rst_emitted;
};

struct mconn {
	struct ep a, b;      /* a: the end that sent the first segment seen */
	struct mdir dir[2];  /* [0] a->b, [1] b->a */
	int handshake_inferred;
	int nsegs;
};

enum proc_phase {
	PH_STARTING,  /* started, no trace connection yet */
	PH_RUNNING,   /* between calls */
	PH_GATE,      /* step mode: waiting before a call for "go" */
	PH_INCALL,    /* released, the call has not returned */
	PH_EXITED
};

#define NAME_LEN 32
/* A process we did not start ended (its trace connection closed): its
 * exit status is its parent's business. */
#define EXIT_UNKNOWN 1000

struct mproc {
	int32_t pid, ppid;
	char name[NAME_LEN];
	int exe_atom;         /* index into the string table, -1 none */
	enum proc_phase phase;
	int step;             /* stops before every call */
	int traced;           /* its hello arrived */
	int pending;          /* log index of the call in progress, or -1 */
	mtime_t phase_t;      /* when the phase began */
	int exited;
	int exit_code;        /* 0..255, -signal, or EXIT_UNKNOWN */
	uint64_t calls, dropped;
	int last_at_atom;     /* where its last call was made */
	mtime_t started;
};

enum log_kind { LOG_CALL, LOG_OUTPUT, LOG_NOTE };

#define LOG_TEXT_LEN 112

struct mlog {
	enum log_kind kind;
	int32_t pid;
	uint64_t seq;
	mtime_t t, t_after;
	char call[SL_EVENT_CALL_LEN];    /* the name, to show */
	enum sl_event_call call_id;      /* the same, to compare */
	int32_t fd;
	int done;              /* the after event arrived */
	int64_t ret;
	int32_t err;           /* errno number, 0 when the call succeeded */
	int state;             /* TCP state after the call, 0 none */
	int at_atom;
	int sock;              /* socket id, or -1 */
	struct ep addr;        /* the address argument (connect, bind), if any */
	char text[LOG_TEXT_LEN]; /* arguments (calls), the line (output) */
};

/* One dump entry (diag source or replay). */
struct diag_sock {
	int family;
	struct ep local, peer;   /* peer unset for a listener */
	int state;               /* kernel's number: 12 (NEW_SYN_RECV) is SYN_RECV */
	uint32_t rq, sq;
	int timer;
	uint32_t expires_ms;
	uint64_t inode;
	uint32_t uid;
};

#define LOG_MAX  20000
#define SEG_MAX  20000
#define SOCKS_MAX 4096   /* then gone sockets are let go (compact.c) */
#define CONNS_MAX 4096
#define PORTS_MAX 256

struct model {
	struct mproc *procs;  int nprocs, capprocs;
	struct msock *socks;  int nsocks, capsocks;
	struct mconn *conns;  int nconns, capconns;
	struct mseg *segs;    int nsegs, capsegs;
	struct mlog *log;     int nlog, caplog;
	uint64_t log_dropped, segs_dropped; /* oldest entries let go */
	char **atoms;         int natoms, capatoms;
	uint16_t ports[PORTS_MAX]; int nports;
	int ports_version;     /* bumped whenever a port is added */
	int infer;             /* draw segments inferred from the calls */
	int seen_inet6;        /* an IPv6 endpoint appeared */
	mtime_t t0;            /* start of the session (0: first input) */
	mtime_t now;           /* latest time any input carried */
	uint64_t version;      /* bumped on every change, for redrawing */
	uint64_t bad_events;   /* events that made no sense (ignored) */
	uint64_t renumbered;   /* socket ids changed (compact.c): forget held ids */
	struct mseg *inferred; int ninferred, capinferred;
	                       /* segments the input being applied implies
	                          (infer.c), applied when it is done */
	int compact_at;        /* compact sockets when there are this many (0: SOCKS_MAX) */
	int compact_conns_at;  /* the same for connections (0: CONNS_MAX) */
	int diag_open;         /* between diag_begin and diag_end */
	mtime_t diag_t;
};

/* ---- life cycle (model.c) ---- */
void model_init(struct model *m);
void model_free(struct model *m);
/* Forget everything (r restarts the lesson); keeps the infer setting. */
void model_reset(struct model *m);

/* ---- inputs ---- */
/* A trace event. Returns 0, or -1 (errno ENOMEM) when memory ran out; an
 * event that does not make sense is counted in bad_events and ignored. */
int model_apply_event(struct model *m, const struct sl_event *ev);
/* A segment, wire or inferred. */
int model_apply_segment(struct model *m, const struct mseg *seg);
void model_diag_begin(struct model *m, mtime_t t);
int model_diag_socket(struct model *m, const struct diag_sock *d);
void model_diag_end(struct model *m, mtime_t t);
void model_tick(struct model *m, mtime_t now);

/* ---- what the visualizer itself knows ---- */
/* A process it started (before any trace event). */
int model_proc_started(struct model *m, int32_t pid, const char *name, mtime_t t);
void model_proc_exited(struct model *m, int32_t pid, int code, mtime_t t);
/* It sent "go" (step) to pid, or changed pid's mode. */
void model_proc_released(struct model *m, int32_t pid, mtime_t t);
void model_proc_set_step(struct model *m, int32_t pid, int step);
/* A line the process printed. */
int model_output(struct model *m, int32_t pid, const char *line, mtime_t t);
/* A note of the visualizer's own ("restarted", "port 33003"). */
int model_note(struct model *m, int32_t pid, const char *text, mtime_t t);
/* A port of the session: dumps and captures look at it. */
void model_add_port(struct model *m, uint16_t port);
/* The family of an address the session uses (IPv6 dumps are skipped
 * until one is seen). */
void model_add_family(struct model *m, int family);
int model_port_wanted(const struct model *m, uint16_t port);

/* ---- queries ---- */
struct mproc *model_proc(struct model *m, int32_t pid);
struct msock *model_sock_by_fd(struct model *m, int32_t pid, int32_t fd);
/* The live socket with this tuple (peer unset: a listener on local). */
struct msock *model_sock_by_tuple(struct model *m, const struct ep *local,
                                  const struct ep *peer);
const char *model_atom(const struct model *m, int atom);
/* The process that holds s now, or held it last; NULL when none did. */
const struct mproc *model_sock_owner(const struct model *m, const struct msock *s);
/* "ESTABLISHED", "SYN_SENT", ... ; "-" for ST_NONE. */
const char *model_state_name(int state);
/* "SYN", "SYN,ACK", "PSH,ACK", "FIN,ACK", "RST", "RST,ACK" ... */
char *model_flags_text(uint8_t flags, char *buf, size_t size);

/* ---- internal, shared by the model's files ---- */
int model_intern(struct model *m, const char *s);
void model_touch(struct model *m, mtime_t t);
struct msock *sock_new(struct model *m, mtime_t t);
/* Change s's state if t is not older than its last change; records the
 * transition. Returns 1 when the state changed. */
int sock_set_state(struct model *m, struct msock *s, int state, mtime_t t,
                   enum cause cause, const char *why);
/* Take back the last change when it was only a guess from the wire (the
 * FIN it assumed had arrived had not, in a simultaneous close). */
void sock_undo_guess(struct model *m, struct msock *s);
void sock_add_holder(struct msock *s, int32_t pid, int32_t fd);
void sock_drop_holder(struct msock *s, int32_t pid, int32_t fd);
/* s is finished: state CLOSE and gone (kept for its history). */
void sock_forget(struct model *m, struct msock *s, mtime_t t,
                 enum cause cause, const char *why);
/* Give the socket held by (pid, fd) the tuple local/peer, merging in a
 * socket the kernel or the wire showed first with that tuple. */
struct msock *sock_bind_tuple(struct model *m, struct msock *s,
                              const struct ep *local, const struct ep *peer);
/* The listener that would take a connection to dst, or NULL. */
struct msock *sock_listener_for(struct model *m, const struct ep *dst);
struct mconn *conn_find(struct model *m, const struct ep *x, const struct ep *y,
                        int create, int *dir);
/* Let go of old gone sockets / unused connections (compact.c); socket
 * ids and connection indices change. */
void model_compact_sockets(struct model *m);
void model_compact_conns(struct model *m);
/* Both, when over their limits; only where no pointer into the model is
 * held (the start of an input). */
void model_keep_small(struct model *m);
/* Segments the calls imply (infer.c), used when nothing captures. They
 * are queued (model_infer_segment), not applied: the code that infers
 * them holds pointers into the model, which applying a segment may move
 * (a new socket, a new connection). model_apply_event applies the queue
 * (model_apply_inferred) after each step. The handshake of a connect() or
 * accept() is a step of its own, before the call's result (drawn at
 * t_call, when the call began); everything else comes after the result. */
void infer_handshake(struct model *m, const struct sl_event *ev, mtime_t t_call);
void infer_after_call(struct model *m, const struct sl_event *ev,
                      struct msock *s, int prev_state);
void model_infer_segment(struct model *m, const struct mseg *g);
void model_apply_inferred(struct model *m);

#endif
