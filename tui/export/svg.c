/* svg.c — the ladder as SVG (see export.h).
 *
 * Top to bottom: the title, each lane's name and address, then a row per
 * segment or call. A segment is an arrow between two lanes with its
 * flags, length and options on it and its numbers and labels on the
 * right; a call is a dot on its socket's lane with the call on the right.
 * Beside each lane, a bar per socket shows its state, coloured, and the
 * state's name where it changes. Every row is a <g class="row"> with its
 * number, so the page (html.c) can step through them.
 *
 * Plain presentation attributes and no fonts of its own: the file shows
 * the same as an <img>, inline in a page, and printed. White background,
 * dark text, sizes that read on a projector.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "export/export.h"
#include "text.h"

#define TOP 132          /* the first row's top */
#define ROW_H 40
#define TIME_X 14
#define LANE0_X 230      /* room on the left for the time and lane 0's states */
#define LANE_GAP_MIN 280
#define LANE_GAP_MAX 560
#define FLAG_CHAR_W 10   /* bold 15 px: room per character of an arrow's text */
#define STATE_ROOM 120   /* a state's name beside the last lane */
#define DETAIL_W 520
#define DETAIL_CHARS 62  /* monospace 13 px: what fits in DETAIL_W */
#define BOTTOM 56

struct geom {
	int width, height;
	int lane_x[LANES_MAX];
	int detail_x;
};

void xml_text(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned char c = *p;
		int n = 0;

		if (c < 0x80) {
			switch (c) {
			case '&': fputs("&amp;", out); break;
			case '<': fputs("&lt;", out); break;
			case '>': fputs("&gt;", out); break;
			case '"': fputs("&quot;", out); break;
			case '\'': fputs("&#39;", out); break;
			default:
				/* XML 1.0 allows no other control characters. */
				fputc(c < 0x20 && c != '\t' && c != '\n' ? '?' : c == 0x7f ? '?' : c, out);
			}
			p++;
			continue;
		}
		/* A well-formed UTF-8 sequence goes through whole. */
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		for (int k = 1; k <= n; k++)
			if ((p[k] & 0xc0) != 0x80)
				n = 0;
		/* Overlong three- and four-byte forms, surrogates, > U+10FFFF. */
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && n && p[1] >= 0xa0) ||
		    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && n && p[1] >= 0x90))
			n = 0;
		if (n == 0) {
			fputc('?', out);
			p++;
			continue;
		}
		fwrite(p, 1, (size_t)n + 1, out);
		p += n + 1;
	}
}

/* s cut to at most max characters (UTF-8 sequences kept whole), ending
 * in "..." when cut. */
static void cut(char *s, size_t max)
{
	size_t chars = 0, at = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (chars == max - 3)
			at = i;
		chars++;
	}
	if (chars > max)
		strcpy(s + at, "...");
}

static const char *seg_colour(const struct mseg *g)
{
	if (g->flags & TF_RST)
		return "#cf222e";
	if (g->flags & TF_SYN)
		return "#1a7f37";
	if (g->flags & TF_FIN)
		return "#8250df";
	if (g->len > 0)
		return "#0969da";
	return "#57606a";
}

static const char *seg_marker(const struct mseg *g)
{
	if (g->flags & TF_RST)
		return "rst";
	if (g->flags & TF_SYN)
		return "syn";
	if (g->flags & TF_FIN)
		return "fin";
	if (g->len > 0)
		return "data";
	return "ack";
}

static const char *state_colour(int state)
{
	switch (state) {
	case ST_LISTEN: return "#0969da";
	case ST_SYN_SENT: case ST_SYN_RECV: return "#bf8700";
	case ST_ESTABLISHED: return "#1a7f37";
	case ST_FIN_WAIT1: case ST_FIN_WAIT2: case ST_CLOSING:
	case ST_CLOSE_WAIT: case ST_LAST_ACK: return "#8250df";
	case ST_TIME_WAIT: return "#953800";
	}
	return "#6e7781";
}

/* Lanes far enough apart for the longest text on an arrow. */
static int lane_gap(const struct story *st)
{
	int gap = LANE_GAP_MIN;

	for (int r = 0; r < st->nrows; r++) {
		char text[128];
		int need;

		if (st->rows[r].kind != ROW_SEG)
			continue;
		story_arrow_text(&st->m->segs[st->rows[r].index], text, sizeof(text));
		need = (int)strlen(text) * FLAG_CHAR_W + 60;
		if (need > gap)
			gap = need;
	}
	return gap < LANE_GAP_MAX ? gap : LANE_GAP_MAX;
}

static void layout(const struct story *st, struct geom *gm)
{
	int last = LANE0_X, gap = lane_gap(st);

	for (int i = 0; i < st->nlanes; i++) {
		gm->lane_x[i] = LANE0_X + i * gap;
		last = gm->lane_x[i];
	}
	gm->detail_x = last + STATE_ROOM + (st->nlanes > 0 ? 6 * st->lanes[st->nlanes - 1].nslots : 0);
	gm->width = gm->detail_x + DETAIL_W;
	gm->height = TOP + (st->nrows > 0 ? st->nrows : 1) * ROW_H + BOTTOM;
}

static int row_mid(int r)
{
	return TOP + r * ROW_H + ROW_H / 2;
}

/* Labels of lane 0 go to its left, all others' to their right: then they
 * stay clear of the arrows' labels, which sit above the arrows. */
static int side(int lane)
{
	return lane == 0 ? -1 : 1;
}

static void svg_defs(FILE *out)
{
	static const struct { const char *id, *colour; } marks[] = {
		{ "syn", "#1a7f37" }, { "fin", "#8250df" }, { "rst", "#cf222e" },
		{ "data", "#0969da" }, { "ack", "#57606a" },
	};

	fputs("<defs>\n", out);
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		fprintf(out, "<marker id=\"arrow-%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
			"markerUnits=\"userSpaceOnUse\" markerWidth=\"13\" markerHeight=\"13\" orient=\"auto\">"
			"<path d=\"M0,0 L10,5 L0,10 z\" fill=\"%s\"/></marker>\n",
			marks[i].id, marks[i].colour);
	fputs("</defs>\n", out);
}

static void svg_header(const struct story *st, const struct geom *gm, FILE *out)
{
	fprintf(out, "<rect class=\"page\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
		gm->width, gm->height);
	fputs("<text x=\"14\" y=\"32\" font-size=\"22\" font-weight=\"bold\" fill=\"#1f2328\">", out);
	xml_text(out, st->title);
	fputs("</text>\n<text x=\"14\" y=\"54\" font-size=\"13\" fill=\"#57606a\">recorded: ", out);
	xml_text(out, st->source);
	if (st->inferred)
		fputs(" (dashed: inferred from the calls, not captured)", out);
	fputs("</text>\n", out);
	for (int i = 0; i < st->nlanes; i++) {
		fprintf(out, "<text x=\"%d\" y=\"92\" font-size=\"17\" font-weight=\"bold\" "
			"text-anchor=\"middle\" fill=\"#1f2328\">", gm->lane_x[i]);
		xml_text(out, st->lanes[i].name);
		fprintf(out, "</text>\n<text x=\"%d\" y=\"110\" font-size=\"12\" text-anchor=\"middle\" "
			"fill=\"#57606a\">", gm->lane_x[i]);
		xml_text(out, st->lanes[i].addr);
		fputs("</text>\n", out);
		fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#afb8c1\" "
			"stroke-width=\"2\"/>\n", gm->lane_x[i], TOP - 12, gm->lane_x[i],
			gm->height - BOTTOM + 12);
	}
	if (st->nrows == 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"15\" fill=\"#57606a\">"
			"nothing in this part of the session</text>\n", TIME_X, row_mid(0));
}

static void svg_segment(const struct story *st, const struct geom *gm, const struct xrow *row,
                        int y, FILE *out)
{
	const struct mseg *g = &st->m->segs[row->index];
	const char *labels[SEG_LABELS_MAX], *colour = seg_colour(g);
	int xa = gm->lane_x[row->from], xb = gm->lane_x[row->to];
	int dir = xb > xa ? 1 : -1, n;
	char text[128];

	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.5\"%s "
		"marker-end=\"url(#arrow-%s)\"/>\n", xa + 3 * dir, y, xb - 3 * dir, y, colour,
		g->inferred ? " stroke-dasharray=\"7 5\"" : "", seg_marker(g));
	story_arrow_text(g, text, sizeof(text));
	fprintf(out, "<text class=\"flags\" x=\"%d\" y=\"%d\" font-size=\"15\" font-weight=\"bold\" "
		"text-anchor=\"middle\" fill=\"%s\">", (xa + xb) / 2, y - 7, colour);
	xml_text(out, text);
	fputs("</text>\n", out);
	story_numbers_text(g, text, sizeof(text));
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-family=\"DejaVu Sans Mono, "
		"Menlo, Consolas, monospace\" fill=\"#1f2328\">", gm->detail_x, y + 5);
	xml_text(out, text);
	n = story_seg_labels(st->m, g, labels, SEG_LABELS_MAX);
	for (int k = 0; k < n; k++) {
		fputs(" <tspan class=\"label\" fill=\"#cf222e\" font-weight=\"bold\">", out);
		xml_text(out, labels[k]);
		fputs("</tspan>", out);
	}
	fputs("</text>\n", out);
}

static void svg_call(const struct story *st, const struct geom *gm, const struct xrow *row,
                     int y, FILE *out)
{
	const struct model *m = st->m;
	const struct mlog *e = &m->log[row->index];
	char who[NAME_LEN + 16], call[LOG_TEXT_LEN + 96], text[LOG_TEXT_LEN + 160];
	const char *colour = e->done && e->err != 0 ? "#cf222e" : "#1f2328";

	if (row->lane >= 0)
		fprintf(out, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/>\n",
			gm->lane_x[row->lane], y, colour);
	story_who(m, e->pid, who, sizeof(who));
	story_call_text(m, e, call, sizeof(call));
	snprintf(text, sizeof(text), "%s %s", who, call);
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-family=\"DejaVu Sans Mono, "
		"Menlo, Consolas, monospace\" fill=\"%s\"><title>", gm->detail_x, y + 5, colour);
	xml_text(out, text);
	fputs("</title>", out);
	cut(text, DETAIL_CHARS);
	xml_text(out, text);
	fputs("</text>\n", out);
}

/* Each socket's bar for this row, and its state's name where it changed. */
static void svg_states(const struct story *st, const struct geom *gm, int r, FILE *out)
{
	int placed[LANES_MAX] = { 0 };

	for (int i = 0; i < st->nsocks; i++) {
		const struct xsock *x = &st->socks[i];
		int state = x->state[r], prev = r > 0 ? x->state[r - 1] : ST_NONE;
		int s = side(x->lane), lx = gm->lane_x[x->lane];
		int bx = lx + s * (6 + 6 * x->slot) - (s < 0 ? 4 : 0);
		int top = TOP + r * ROW_H;

		if (state != ST_NONE && state != ST_CLOSE)
			fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"4\" height=\"%d\" fill=\"%s\"/>\n",
				bx, r == 0 || prev != state ? row_mid(r) : top, r == 0 || prev != state ?
				ROW_H / 2 : ROW_H, state_colour(state));
		if (state == prev || state == ST_NONE || (state == ST_CLOSE && prev == ST_NONE))
			continue;
		fprintf(out, "<text class=\"state\" x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"bold\" "
			"text-anchor=\"%s\" fill=\"%s\">%s</text>\n",
			lx + s * (12 + 6 * st->lanes[x->lane].nslots), row_mid(r) + 16 + 12 * placed[x->lane],
			s < 0 ? "end" : "start", state_colour(state), model_state_name(state));
		placed[x->lane]++;
	}
}

/* What a row shows, in words: the page's step line. */
static void row_text(const struct story *st, const struct xrow *row, char *buf, size_t size)
{
	const struct model *m = st->m;
	char a[128], b[LOG_TEXT_LEN + 96];

	if (row->kind == ROW_SEG) {
		story_arrow_text(&m->segs[row->index], a, sizeof(a));
		snprintf(buf, size, "%s \xe2\x86\x92 %s %s", st->lanes[row->from].name,
			 st->lanes[row->to].name, a);
	} else {
		story_who(m, m->log[row->index].pid, buf, size);
		story_call_text(m, &m->log[row->index], b, sizeof(b));
		text_append(buf, size, " ");
		text_append(buf, size, b);
	}
}

static void svg_rows(const struct story *st, const struct geom *gm, FILE *out)
{
	for (int r = 0; r < st->nrows; r++) {
		const struct xrow *row = &st->rows[r];
		int y = row_mid(r);
		char when[32];

		char text[LOG_TEXT_LEN + 160];

		row_text(st, row, text, sizeof(text));
		if (row->kind == ROW_SEG)
			fprintf(out, "<g class=\"row seg\" id=\"row-%d\" data-seg=\"%d\" data-text=\"",
				r, row->seg_no);
		else
			fprintf(out, "<g class=\"row call\" id=\"row-%d\" data-text=\"", r);
		xml_text(out, text);
		fputs("\">\n", out);
		fprintf(out, "<rect class=\"mark\" x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" "
			"fill=\"none\"/>\n", TOP + r * ROW_H, gm->width, ROW_H);
		fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" font-family=\"DejaVu Sans Mono, "
			"Menlo, Consolas, monospace\" fill=\"#57606a\">%s</text>\n", TIME_X, y + 4,
			dump_reltime(st->m, row->t, when, sizeof(when)));
		if (row->kind == ROW_SEG)
			svg_segment(st, gm, row, y, out);
		else
			svg_call(st, gm, row, y, out);
		svg_states(st, gm, r, out);
		fputs("</g>\n", out);
	}
}

static void svg_footer(const struct story *st, const struct geom *gm, FILE *out)
{
	fprintf(out, "<text x=\"14\" y=\"%d\" font-size=\"12\" fill=\"#57606a\">"
		"%d segments%s%s; times in seconds since the session began; seq and ack "
		"relative to each side's first; made by socklab export</text>\n",
		gm->height - 18, st->nsegs, st->calls ? ", calls as dots" : "",
		st->skipped_segs > 0 ? " (some left out: too many endpoints)" : "");
}

/* The text form, for the drift check and for any reader of the file. */
static int svg_metadata(const struct story *st, FILE *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int rc;

	if (mem == NULL)
		return -1;
	rc = export_txt(st, mem);
	if (fclose(mem) != 0)
		rc = -1;
	if (rc == 0) {
		fputs("<metadata id=\"socklab-export\">\n", out);
		xml_text(out, buf);
		fputs("</metadata>\n", out);
	}
	free(buf);
	return rc;
}

int export_svg(const struct story *st, FILE *out, int standalone)
{
	struct geom gm;

	memset(&gm, 0, sizeof(gm));
	layout(st, &gm);
	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"ladder\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
		gm.width, gm.height, gm.width, gm.height);
	fputs("<title>", out);
	xml_text(out, st->title);
	fputs("</title>\n", out);
	if (standalone && svg_metadata(st, out) < 0)
		return -1;
	svg_defs(out);
	svg_header(st, &gm, out);
	svg_rows(st, &gm, out);
	svg_footer(st, &gm, out);
	fputs("</svg>\n", out);
	fflush(out);
	return ferror(out) ? -1 : 0;
}
