/* dump.c — the model as text (see dump.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "text.h"

char *dump_reltime(const struct model *m, mtime_t t, char *buf, size_t size)
{
	mtime_t d = t > m->t0 ? t - m->t0 : 0;

	snprintf(buf, size, "%" PRIu64 ".%06" PRIu64, d / NS_PER_S,
		 (d % NS_PER_S) / 1000);
	return buf;
}

char *dump_owner(const struct model *m, const struct msock *s, char *buf, size_t size)
{
	const struct mproc *p = model_sock_owner(m, s);
	const char *name = p != NULL ? p->name : "?";

	if (s->nholders > 0)
		snprintf(buf, size, "%s[%d] fd %d", name, (int)s->holders[0].pid,
			 (int)s->holders[0].fd);
	else if (s->last_pid > 0)
		snprintf(buf, size, "%s[%d]", name, (int)s->last_pid);
	else
		snprintf(buf, size, "kernel");
	return buf;
}

char *dump_segment_text(const struct mseg *g, char *buf, size_t size)
{
	char flags[40], part[64];

	model_flags_text(g->flags, flags, sizeof(flags));
	snprintf(buf, size, "%s seq=%" PRIu32, flags, g->rseq);
	if (g->flags & TF_ACK) {
		snprintf(part, sizeof(part), " ack=%" PRIu32, g->rack);
		text_append(buf, size, part);
	}
	if (!g->inferred) {
		char win[24];

		snprintf(part, sizeof(part), " win=%s", analysis_win_text(g, win, sizeof(win)));
		text_append(buf, size, part);
	}
	if (g->len > 0) {
		snprintf(part, sizeof(part), " len=%" PRIu32, g->len);
		text_append(buf, size, part);
	}
	if (g->has_mss || g->has_ws || g->sack_ok) {
		char opt[64] = "";

		if (g->has_mss) {
			snprintf(part, sizeof(part), "mss %u", (unsigned)g->mss);
			text_append(opt, sizeof(opt), part);
		}
		if (g->sack_ok)
			text_append(opt, sizeof(opt), opt[0] ? ",sackOK" : "sackOK");
		if (g->has_ws) {
			snprintf(part, sizeof(part), "%sws %u", opt[0] ? "," : "", (unsigned)g->ws);
			text_append(opt, sizeof(opt), part);
		}
		snprintf(part, sizeof(part), " <%s>", opt);
		text_append(buf, size, part);
	}
	if (g->nsack > 0) {
		char sack[96];

		text_append(buf, size, " <SACK ");
		text_append(buf, size, analysis_sack_text(g, sack, sizeof(sack)));
		text_append(buf, size, ">");
	}
	if (g->inferred)
		text_append(buf, size, " (inferred)");
	/* What a TCP analysis tool makes of it (analysis.h). */
	if (!g->inferred) {
		char labels[160];

		if (analysis_labels(g, 0, labels, sizeof(labels))[0] != '\0') {
			text_append(buf, size, " [TCP ");
			text_append(buf, size, labels);
			text_append(buf, size, "]");
		}
	}
	/* What the link between hosts did with it (model.h seg_fate): last. */
	if (g->fate != FATE_NONE && g->fate != FATE_PASSED) {
		snprintf(part, sizeof(part), " [%s]", seg_fate_name(g->fate));
		text_append(buf, size, part);
	}
	return buf;
}

static const char *phase_text(const struct model *m, const struct mproc *p, char *buf,
                              size_t size)
{
	const char *call = p->pending >= 0 && p->pending < m->nlog ? m->log[p->pending].call : "?";

	switch (p->phase) {
	case PH_STARTING: return "starting";
	case PH_RUNNING: return "running";
	case PH_GATE:
		snprintf(buf, size, "stopped before %s()", call);
		return buf;
	case PH_INCALL:
		snprintf(buf, size, "in %s()", call);
		return buf;
	case PH_EXITED:
		if (p->exit_code == EXIT_UNKNOWN)
			return "ended";
		if (p->exit_code < 0)
			snprintf(buf, size, "killed by signal %d", -p->exit_code);
		else
			snprintf(buf, size, "exited %d", p->exit_code);
		return buf;
	}
	return "?";
}

static const char *cause_name(int cause)
{
	switch (cause) {
	case CAUSE_CALL: return "call";
	case CAUSE_KERNEL: return "kernel";
	case CAUSE_WIRE: return "wire";
	case CAUSE_INFER: return "inferred";
	case CAUSE_TIMER: return "timer";
	}
	return "?";
}

static void dump_procs(const struct model *m, FILE *out)
{
	fprintf(out, "processes\n");
	for (int i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];
		char buf[48];

		fprintf(out, "  %s[%d] %s, %" PRIu64 " calls", p->name, (int)p->pid,
			phase_text(m, p, buf, sizeof(buf)), p->calls);
		if (p->dropped)
			fprintf(out, ", %" PRIu64 " events dropped", p->dropped);
		fputc('\n', out);
	}
}

static void dump_sockets(const struct model *m, FILE *out)
{
	fprintf(out, "sockets\n");
	for (int i = 0; i < m->nsocks; i++) {
		const struct msock *s = &m->socks[i];
		char owner[80], local[EP_TEXT_LEN], peer[EP_TEXT_LEN], when[32];

		if (s->merged)
			continue;
		dump_owner(m, s, owner, sizeof(owner));
		if (ep_is_set(&s->local))
			ep_format(&s->local, local, sizeof(local));
		else
			text_copy(local, sizeof(local), s->local_text[0] ? s->local_text : "-");
		ep_format(&s->peer, peer, sizeof(peer));
		fprintf(out, "  #%d %s %s %s %s%s", s->id, owner, local, peer,
			s->tcp ? model_state_name(s->state) : "-", s->gone ? " (gone)" : "");
		if (s->timer == TIMER_TIMEWAIT && s->state == ST_TIME_WAIT && !s->gone)
			fprintf(out, " timewait %" PRIu64 "s",
				s->timer_expiry > m->now ? (s->timer_expiry - m->now + NS_PER_S - 1) / NS_PER_S : 0);
		fputc('\n', out);
		for (int k = 0; k < s->nhist; k++) {
			const struct transition *h = &s->hist[k];

			fprintf(out, "     %s %s -> %s (%s: %s)\n",
				dump_reltime(m, h->t, when, sizeof(when)),
				model_state_name(h->from), model_state_name(h->to),
				cause_name(h->cause), h->why);
		}
	}
}

static void dump_segments(const struct model *m, FILE *out)
{
	fprintf(out, "segments\n");
	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *g = &m->segs[i];
		char src[EP_TEXT_LEN], dst[EP_TEXT_LEN], when[32], text[160];

		fprintf(out, "  %s %s > %s %s\n", dump_reltime(m, g->t, when, sizeof(when)),
			ep_format(&g->src, src, sizeof(src)), ep_format(&g->dst, dst, sizeof(dst)),
			dump_segment_text(g, text, sizeof(text)));
	}
}

/* TCP_INFO over time, socket by socket in the order they first appear:
 * the series the "TCP over time" view draws. Only when there are any
 * (a recording made before they were taken has none). */
static void dump_samples(const struct model *m, FILE *out)
{
	if (m->nsamples == 0)
		return;
	fprintf(out, "tcp over time\n");
	for (int i = 0; i < m->nsamples; i++) {
		const struct msample *first = &m->samples[i];
		char local[EP_TEXT_LEN], peer[EP_TEXT_LEN];
		int seen = 0;

		for (int k = 0; k < i && !seen; k++)
			seen = ep_equal(&m->samples[k].local, &first->local) &&
			       ep_equal(&m->samples[k].peer, &first->peer);
		if (seen)
			continue;
		fprintf(out, "  %s > %s\n", ep_format(&first->local, local, sizeof(local)),
			ep_format(&first->peer, peer, sizeof(peer)));
		for (int k = i; k < m->nsamples; k++) {
			const struct msample *sm = &m->samples[k];
			char when[32], ssthresh[16];

			if (!ep_equal(&sm->local, &first->local) || !ep_equal(&sm->peer, &first->peer))
				continue;
			if (sm->ssthresh == 0)
				snprintf(ssthresh, sizeof(ssthresh), "-");
			else
				snprintf(ssthresh, sizeof(ssthresh), "%" PRIu32, sm->ssthresh);
			fprintf(out, "    %s %s cwnd=%" PRIu32 " ssthresh=%s srtt=%" PRIu32 ".%03" PRIu32
				"ms inflight=%" PRIu32 " rwnd=%" PRIu32 " retrans=%" PRIu32 "\n",
				dump_reltime(m, sm->t, when, sizeof(when)), model_state_name(sm->state),
				sm->cwnd, ssthresh, sm->srtt_us / 1000, sm->srtt_us % 1000, sm->inflight,
				sm->rwnd, sm->retrans);
		}
	}
}

int dump_model(const struct model *m, FILE *out)
{
	dump_procs(m, out);
	dump_sockets(m, out);
	dump_segments(m, out);
	dump_samples(m, out);
	if (m->bad_events)
		fprintf(out, "ignored %" PRIu64 " events that made no sense\n", m->bad_events);
	fflush(out);
	return ferror(out) ? -1 : 0;
}
