/* record.h — recorded sessions: what `--record FILE` writes and
 * `socklab replay FILE` reads.
 *
 * One line per observation, in the order the visualizer saw them, with
 * the grammar of lib/event.h ("v1", then " key=value" fields, values
 * percent-encoded). Trace events are written exactly as the shim sent
 * them (they have "ph="). The visualizer's own observations have "src=":
 *
 *   v1 rec=socklab ver=1 mode=run title=... t0=NS ns=1 wire=1 infer=0
 *        first line: what was recorded; t0 is when the session began
 *        (CLOCK_MONOTONIC ns); ns=1 a private network namespace; wire=1
 *        segments were captured; infer=1 they were inferred from calls
 *   v1 src=proc ev=start pid=P name=server t=NS     the visualizer started P
 *   v1 src=proc ev=exit pid=P code=0 t=NS           P ended (code -N: signal N)
 *   v1 src=proc ev=go pid=P t=NS                    a step: "go" sent to P
 *   v1 src=out pid=P t=NS text=...                  a line P printed
 *   v1 src=diag ev=begin t=NS                       a sock_diag dump begins,
 *   v1 src=diag ev=sock fam=AF_INET local=A:P peer=B:Q state=ESTABLISHED
 *        rq=0 sq=0 timer=3 exp=59000 inode=N uid=U  one socket of it (peer
 *        absent for a listener; timer as the kernel numbers them, exp in ms)
 *   v1 src=diag ev=end t=NS                         and ends
 *   v1 src=wire t=NS from=A:P to=B:Q flags=0x12 seq=N ack=N win=N len=N
 *        [mss=N] [ws=N] [sack=1] [ts=1] [inferred=1]   one TCP segment
 *        [id=N fate=F [tout=NS]]   ... as the link saw it (--hosts): its
 *        frame number, its fate (model.h seg_fate_name), when it left
 *   v1 src=link ev=host i=0 name=server addr=10.0.0.1 addr6=fd00::1
 *        one host of the session's own network (--hosts), in order
 *   v1 src=link ev=settings t=NS spec=...    the link's settings (link/spec.h),
 *        at the start and after each change
 *   v1 src=link ev=fate id=N fate=F t=NS     frame N's fate changed (it left
 *        the link at t, or was dropped by hand)
 *   v1 src=link ev=key key=hold-on t=NS [id=N]   a key's action on the link:
 *        hold-on, hold-off, release, release-all, drop (id: the frame)
 *        [blocks=L-R,L-R]   its SACK blocks, as on the wire
 *   v1 src=tcpinfo t=NS local=A:P peer=B:Q state=ESTABLISHED cwnd=N
 *        ssthresh=N srtt=US rttvar=US mss=N inflight=N rwnd=N retrans=N
 *        acked=N rcvd=N     one socket's TCP_INFO in a sock_diag dump
 *        (struct msample; ssthresh 0: not set yet, rwnd 0: unknown)
 *
 * Unknown keys are skipped and unknown src= lines ignored, so a newer
 * recording still replays; a line that breaks the grammar is counted and
 * skipped, never trusted.
 */
#ifndef TUI_RECORD_H
#define TUI_RECORD_H

#include <stdio.h>

#include "model.h"

struct rec_header {
	char mode[16];
	char title[160];
	mtime_t t0;
	int ns, wire, infer;
};

struct recorder {
	FILE *f;
	int failed;      /* a write failed: say so once, stop writing */
	char path[256];
};

/* Open path for writing and write the header. Returns 0, or -1 with a
 * message in err. */
int rec_open(struct recorder *r, const char *path, const struct rec_header *h,
             char *err, size_t errsize);
void rec_close(struct recorder *r);
/* Each does nothing when r->f is NULL. */
void rec_event_line(struct recorder *r, const char *line, size_t len);
void rec_proc_start(struct recorder *r, int32_t pid, const char *name, mtime_t t);
void rec_proc_exit(struct recorder *r, int32_t pid, int code, mtime_t t);
void rec_proc_go(struct recorder *r, int32_t pid, mtime_t t);
void rec_output(struct recorder *r, int32_t pid, const char *text, mtime_t t);
void rec_diag_begin(struct recorder *r, mtime_t t);
void rec_diag_sock(struct recorder *r, const struct diag_sock *d);
void rec_diag_end(struct recorder *r, mtime_t t);
void rec_segment(struct recorder *r, const struct mseg *g);
void rec_link_host(struct recorder *r, int index, const char *name, const char *addr4,
                   const char *addr6);
void rec_link_settings(struct recorder *r, const char *spec, mtime_t t);
void rec_link_fate(struct recorder *r, uint64_t id, int fate, mtime_t t);
void rec_link_key(struct recorder *r, const char *key, uint64_t id, mtime_t t);
void rec_tcp_sample(struct recorder *r, const struct msample *sm);

/* ---- reading (recline.c: pure) ---- */

enum rec_kind {
	REC_BAD = -1, REC_SKIP = 0, REC_HEADER, REC_EVENT, REC_PROC_START,
	REC_PROC_EXIT, REC_PROC_GO, REC_OUTPUT, REC_DIAG_BEGIN, REC_DIAG_SOCK,
	REC_DIAG_END, REC_SEGMENT, REC_LINK_HOST, REC_LINK_SETTINGS, REC_LINK_FATE,
	REC_LINK_KEY, REC_TCP_SAMPLE
};

#define REC_SPEC_LEN 1024

/* What a src=link line says. */
struct rec_link {
	uint64_t id;
	int fate;
	int index;
	char key[16];
	char name[32];
	char addr4[16], addr6[48];
	char spec[REC_SPEC_LEN];
};

struct rec_item {
	enum rec_kind kind;
	mtime_t t;               /* 0 when the line has none */
	int32_t pid;
	int code;
	char text[LOG_TEXT_LEN]; /* name or output line */
	struct rec_header header;
	struct sl_event ev;
	struct diag_sock diag;
	struct mseg seg;
	struct rec_link link;
	struct msample sample;
};

/* Parse one line (trailing "\n" allowed). Returns the kind: REC_BAD for a
 * malformed line, REC_SKIP for a well-formed line of an unknown kind. */
enum rec_kind rec_parse_line(const char *line, size_t len, struct rec_item *it);

/* Percent-encode s as a value (recline.c). */
void rec_encode(const char *s, char *out, size_t size);


#endif
