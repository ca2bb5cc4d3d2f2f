/* record.c — write a recorded session (format in record.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "text.h"

int rec_open(struct recorder *r, const char *path, const struct rec_header *h,
             char *err, size_t errsize)
{
	char mode[64], title[3 * sizeof(h->title)];

	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "w");
	if (r->f == NULL) {
		snprintf(err, errsize, "record %s: %s", path, strerror(errno));
		return -1;
	}
	text_copy(r->path, sizeof(r->path), path);
	rec_encode(h->mode, mode, sizeof(mode));
	rec_encode(h->title, title, sizeof(title));
	fprintf(r->f, "v1 rec=socklab ver=1 mode=%s title=%s t0=%" PRIu64 " ns=%d wire=%d infer=%d\n",
		mode, title, h->t0, h->ns, h->wire, h->infer);
	return 0;
}

/* After each write: a full disk is reported once, not on every line. */
static void check(struct recorder *r)
{
	if (ferror(r->f) && !r->failed)
		r->failed = 1;
}

void rec_close(struct recorder *r)
{
	if (r->f == NULL)
		return;
	if (fclose(r->f) != 0)
		r->failed = 1;
	r->f = NULL;
}

void rec_event_line(struct recorder *r, const char *line, size_t len)
{
	if (r->f == NULL || r->failed)
		return;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	fwrite(line, 1, len, r->f);
	fputc('\n', r->f);
	check(r);
}

void rec_proc_start(struct recorder *r, int32_t pid, const char *name, mtime_t t)
{
	char enc[3 * 64];

	if (r->f == NULL || r->failed)
		return;
	rec_encode(name, enc, sizeof(enc));
	fprintf(r->f, "v1 src=proc ev=start pid=%d name=%s t=%" PRIu64 "\n", (int)pid, enc, t);
	check(r);
}

void rec_proc_exit(struct recorder *r, int32_t pid, int code, mtime_t t)
{
	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=proc ev=exit pid=%d code=%d t=%" PRIu64 "\n", (int)pid, code, t);
	check(r);
}

void rec_proc_go(struct recorder *r, int32_t pid, mtime_t t)
{
	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=proc ev=go pid=%d t=%" PRIu64 "\n", (int)pid, t);
	check(r);
}

void rec_output(struct recorder *r, int32_t pid, const char *text, mtime_t t)
{
	char enc[3 * LOG_TEXT_LEN];

	if (r->f == NULL || r->failed)
		return;
	rec_encode(text, enc, sizeof(enc));
	fprintf(r->f, "v1 src=out pid=%d t=%" PRIu64 " text=%s\n", (int)pid, t, enc);
	check(r);
}

void rec_diag_begin(struct recorder *r, mtime_t t)
{
	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=diag ev=begin t=%" PRIu64 "\n", t);
	check(r);
}

void rec_diag_sock(struct recorder *r, const struct diag_sock *d)
{
	char local[EP_TEXT_LEN], peer[EP_TEXT_LEN];
	const char *state = sl_event_state_name(d->state);

	if (r->f == NULL || r->failed || state == NULL)
		return;
	fprintf(r->f, "v1 src=diag ev=sock fam=%s local=%s", d->local.family == AF_INET6 ? "AF_INET6" : "AF_INET",
		ep_format(&d->local, local, sizeof(local)));
	if (ep_is_set(&d->peer) && d->peer.port != 0)
		fprintf(r->f, " peer=%s", ep_format(&d->peer, peer, sizeof(peer)));
	fprintf(r->f, " state=%s rq=%" PRIu32 " sq=%" PRIu32 " timer=%d exp=%" PRIu32
		" inode=%" PRIu64 " uid=%" PRIu32 "\n", state, d->rq, d->sq, d->timer,
		d->expires_ms, d->inode, d->uid);
	check(r);
}

void rec_diag_end(struct recorder *r, mtime_t t)
{
	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=diag ev=end t=%" PRIu64 "\n", t);
	check(r);
}

void rec_segment(struct recorder *r, const struct mseg *g)
{
	char src[EP_TEXT_LEN], dst[EP_TEXT_LEN];

	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=wire t=%" PRIu64 " from=%s to=%s flags=0x%02x seq=%" PRIu32
		" ack=%" PRIu32 " win=%u len=%" PRIu32, g->t, ep_format(&g->src, src, sizeof(src)),
		ep_format(&g->dst, dst, sizeof(dst)), (unsigned)g->flags, g->seq, g->ack,
		(unsigned)g->win, g->len);
	if (g->has_mss)
		fprintf(r->f, " mss=%u", (unsigned)g->mss);
	if (g->has_ws)
		fprintf(r->f, " ws=%u", (unsigned)g->ws);
	if (g->sack_ok)
		fprintf(r->f, " sack=1");
	if (g->has_ts)
		fprintf(r->f, " ts=1");
	if (g->inferred)
		fprintf(r->f, " inferred=1");
	for (int i = 0; i < g->nsack && i < SACK_MAX; i++)
		fprintf(r->f, "%s%" PRIu32 "-%" PRIu32, i ? "," : " blocks=", g->sack[i][0],
			g->sack[i][1]);
	if (g->fate != FATE_NONE) {
		fprintf(r->f, " id=%" PRIu64 " fate=%s", g->link_id, seg_fate_name(g->fate));
		if (g->t_out != 0)
			fprintf(r->f, " tout=%" PRIu64, g->t_out);
	}
	fputc('\n', r->f);
	check(r);
}

void rec_link_host(struct recorder *r, int index, const char *name, const char *addr4,
                   const char *addr6)
{
	char n[3 * 32];

	if (r->f == NULL || r->failed)
		return;
	rec_encode(name, n, sizeof(n));
	fprintf(r->f, "v1 src=link ev=host i=%d name=%s addr=%s addr6=%s\n", index, n, addr4, addr6);
	check(r);
}

void rec_link_settings(struct recorder *r, const char *spec, mtime_t t)
{
	char enc[3 * REC_SPEC_LEN];

	if (r->f == NULL || r->failed)
		return;
	rec_encode(spec[0] != '\0' ? spec : "-", enc, sizeof(enc));
	fprintf(r->f, "v1 src=link ev=settings t=%" PRIu64 " spec=%s\n", t, enc);
	check(r);
}

void rec_link_fate(struct recorder *r, uint64_t id, int fate, mtime_t t)
{
	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=link ev=fate id=%" PRIu64 " fate=%s t=%" PRIu64 "\n", id,
		seg_fate_name(fate), t);
	check(r);
}

void rec_link_key(struct recorder *r, const char *key, uint64_t id, mtime_t t)
{
	if (r->f == NULL || r->failed)
		return;
	fprintf(r->f, "v1 src=link ev=key key=%s t=%" PRIu64, key, t);
	if (id != 0)
		fprintf(r->f, " id=%" PRIu64, id);
	fputc('\n', r->f);
	check(r);
}

void rec_tcp_sample(struct recorder *r, const struct msample *sm)
{
	char local[EP_TEXT_LEN], peer[EP_TEXT_LEN];
	const char *state = sl_event_state_name(sm->state);

	if (r->f == NULL || r->failed || state == NULL)
		return;
	fprintf(r->f, "v1 src=tcpinfo t=%" PRIu64 " local=%s peer=%s state=%s cwnd=%" PRIu32
		" ssthresh=%" PRIu32 " srtt=%" PRIu32 " rttvar=%" PRIu32 " mss=%" PRIu32
		" inflight=%" PRIu32 " rwnd=%" PRIu32 " retrans=%" PRIu32 " acked=%" PRIu64
		" rcvd=%" PRIu64 "\n", sm->t, ep_format(&sm->local, local, sizeof(local)),
		ep_format(&sm->peer, peer, sizeof(peer)), state, sm->cwnd, sm->ssthresh,
		sm->srtt_us, sm->rttvar_us, sm->mss, sm->inflight, sm->rwnd, sm->retrans,
		sm->acked, sm->received);
	check(r);
}
