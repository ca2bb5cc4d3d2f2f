/* txt.c — a session as plain text (see export.h): the ladder, one line a
 * segment; each TCP socket's state changes; the calls and what the
 * programs printed. Times are seconds since the session began. */
#include <stdio.h>

#include "dump.h"
#include "export/export.h"

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

static void txt_ladder(const struct story *st, FILE *out)
{
	const struct model *m = st->m;

	fprintf(out, "ladder\n");
	for (int r = 0; r < st->nrows; r++) {
		const struct xrow *row = &st->rows[r];
		const struct mseg *g;
		const char *labels[SEG_LABELS_MAX];
		char when[32], arrow[128], nums[96];
		int n;

		if (row->kind != ROW_SEG)
			continue;
		g = &m->segs[row->index];
		story_arrow_text(g, arrow, sizeof(arrow));
		story_numbers_text(g, nums, sizeof(nums));
		fprintf(out, "  %s  %s > %s  %s  %s", dump_reltime(m, g->t, when, sizeof(when)),
			st->lanes[row->from].name, st->lanes[row->to].name, arrow, nums);
		n = story_seg_labels(m, g, labels, SEG_LABELS_MAX);
		for (int k = 0; k < n; k++)
			fprintf(out, " [%s]", labels[k]);
		fputc('\n', out);
	}
	if (st->skipped_segs > 0)
		fprintf(out, "  (%d segments between more than %d endpoints not shown)\n",
			st->skipped_segs, LANES_MAX);
}

static int changed_in_window(const struct story *st, const struct msock *s)
{
	for (int k = 0; k < s->nhist; k++)
		if (s->hist[k].t >= st->from && s->hist[k].t <= st->to)
			return 1;
	return 0;
}

static void txt_states(const struct story *st, FILE *out)
{
	const struct model *m = st->m;

	fprintf(out, "states\n");
	for (int i = 0; i < m->nsocks; i++) {
		const struct msock *s = &m->socks[i];
		char owner[80], local[EP_TEXT_LEN], peer[EP_TEXT_LEN], when[32];

		if (s->merged || !s->tcp || !changed_in_window(st, s))
			continue;
		dump_owner(m, s, owner, sizeof(owner));
		fprintf(out, "  #%d %s %s > %s\n", s->id, owner,
			ep_format(&s->local, local, sizeof(local)), ep_format(&s->peer, peer, sizeof(peer)));
		for (int k = 0; k < s->nhist; k++) {
			const struct transition *h = &s->hist[k];

			if (h->t < st->from || h->t > st->to)
				continue;
			fprintf(out, "    %s  %-12s (%s: %s)\n", dump_reltime(m, h->t, when, sizeof(when)),
				model_state_name(h->to), cause_name(h->cause), h->why);
		}
	}
}

static void txt_calls(const struct story *st, FILE *out)
{
	const struct model *m = st->m;

	fprintf(out, "calls\n");
	for (int i = 0; i < m->nlog; i++) {
		const struct mlog *e = &m->log[i];
		char when[32], who[NAME_LEN + 16], text[LOG_TEXT_LEN + 96];

		if (e->t < st->from || e->t > st->to)
			continue;
		dump_reltime(m, e->t, when, sizeof(when));
		story_who(m, e->pid, who, sizeof(who));
		switch (e->kind) {
		case LOG_CALL:
			story_call_text(m, e, text, sizeof(text));
			fprintf(out, "  %s  %s  %s", when, who, text);
			if (e->done && e->state > 0 && e->state < ST_COUNT)
				fprintf(out, "  [%s]", model_state_name(e->state));
			fputc('\n', out);
			break;
		case LOG_OUTPUT:
			fprintf(out, "  %s  %s| %s\n", when, who, e->text);
			break;
		case LOG_NOTE:
			fprintf(out, "  %s  %s* %s\n", when, who, e->text);
			break;
		}
	}
}

int export_txt(const struct story *st, FILE *out)
{
	const struct model *m = st->m;
	char from[32], to[32];

	fprintf(out, "socklab export: %s\n", st->title);
	fprintf(out, "recorded: %s\n", st->source);
	fprintf(out, "shown: %s s to %s s: %d segments, %d calls\n",
		dump_reltime(m, st->from, from, sizeof(from)),
		dump_reltime(m, st->to < m->now ? st->to : m->now, to, sizeof(to)),
		st->nsegs, st->ncalls);
	fputc('\n', out);
	txt_ladder(st, out);
	txt_states(st, out);
	if (st->calls)
		txt_calls(st, out);
	fflush(out);
	return ferror(out) ? -1 : 0;
}
