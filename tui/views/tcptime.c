/* tcptime.c — TCP over time: for one socket, what its TCP_INFO said in
 * the sock_diag dumps, drawn against the time the ladder shows (seconds
 * since the session began): the congestion window as a plot in segments
 * with the slow-start threshold across it, then one line each for the
 * smoothed round trip, the bytes in flight, the peer's receive window and
 * the retransmissions.
 *
 * The socket is the one chosen with Up/Down when it has samples, else
 * the one that sent the most. PgUp/PgDn move back through the ladder's
 * segments as on the ladder: a ^ under the time axis marks the time of
 * the newest segment the ladder shows (the axis stretches to reach it;
 * where no sample is in force the plot stays blank), and the values line
 * gives the socket's values at that moment and the segment itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "text.h"
#include "views/views.h"

#define LEFT_W 10    /* the names and the y axis */
#define RIGHT_W 10   /* each line's largest value */
#define COLS_MAX 512

/* The socket to show: its samples are those with this local and peer. */
struct series {
	struct ep local, peer;
	int first, last;     /* indices in model.samples */
	int n;
};

static int same_socket(const struct msample *a, const struct ep *local, const struct ep *peer)
{
	return ep_equal(&a->local, local) && ep_equal(&a->peer, peer);
}

static void series_of(const struct model *m, const struct ep *local, const struct ep *peer,
                      struct series *sr)
{
	sr->local = *local;
	sr->peer = *peer;
	sr->first = sr->last = -1;
	sr->n = 0;
	for (int i = 0; i < m->nsamples; i++) {
		if (!same_socket(&m->samples[i], local, peer))
			continue;
		if (sr->first < 0)
			sr->first = i;
		sr->last = i;
		sr->n++;
	}
}

/* The chosen socket when it has samples, else the one that sent the most
 * bytes (a bulk transfer's sender). Returns 0 when there are none. */
static int pick_series(const struct ui *u, struct series *sr)
{
	const struct model *m = &u->s->model;
	const struct msample *best = NULL;

	if (u->sel_sock >= 0 && u->sel_sock < m->nsocks) {
		const struct msock *s = &m->socks[u->sel_sock];

		series_of(m, &s->local, &s->peer, sr);
		if (sr->n > 0)
			return 1;
	}
	for (int i = 0; i < m->nsamples; i++)
		if (best == NULL || m->samples[i].acked > best->acked)
			best = &m->samples[i];
	if (best == NULL)
		return 0;
	series_of(m, &best->local, &best->peer, sr);
	return 1;
}

/* The sample in force at time t: the last one not after it (the first
 * when t is before them all). */
static const struct msample *at_time(const struct model *m, const struct series *sr, mtime_t t)
{
	const struct msample *found = &m->samples[sr->first];

	for (int i = sr->first; i <= sr->last; i++) {
		const struct msample *sm = &m->samples[i];

		if (!same_socket(sm, &sr->local, &sr->peer))
			continue;
		if (sm->t > t)
			break;
		found = sm;
	}
	return found;
}

enum field { F_CWND, F_SSTHRESH, F_SRTT, F_INFLIGHT, F_RWND, F_RETRANS };

static uint64_t value(const struct msample *sm, enum field f)
{
	switch (f) {
	case F_CWND: return sm->cwnd;
	case F_SSTHRESH: return sm->ssthresh;
	case F_SRTT: return sm->srtt_us;
	case F_INFLIGHT: return sm->inflight;
	case F_RWND: return sm->rwnd;
	case F_RETRANS: return sm->retrans;
	}
	return 0;
}

/* A column with no sample in force: before the first or after the last
 * (the axis reaches a ladder segment outside the series). */
#define COL_EMPTY UINT64_MAX

/* One value per column of the plot: the largest in the column's slice of
 * time (the last one before it when none falls inside); for the
 * retransmissions, how many happened in that slice. */
static void columns(const struct model *m, const struct series *sr, enum field f, mtime_t t0,
                    mtime_t t1, int w, uint64_t *col)
{
	int i = sr->first;
	/* A connection starts with no retransmissions: those its first
	 * sample counts already happened by then. */
	uint64_t carry = f == F_RETRANS ? 0 : value(&m->samples[sr->first], f);
	mtime_t first = m->samples[sr->first].t, last = m->samples[sr->last].t;

	for (int c = 0; c < w; c++) {
		mtime_t start = t0 + (t1 - t0) * (mtime_t)c / (mtime_t)w;
		mtime_t end = t0 + (t1 - t0) * (mtime_t)(c + 1) / (mtime_t)w;
		uint64_t v = f == F_RETRANS ? 0 : carry;
		int any = 0;

		if ((end < first && c < w - 1) || start > last) {
			col[c] = COL_EMPTY;
			continue;
		}
		for (; i <= sr->last && (m->samples[i].t <= end || c == w - 1); i++) {
			const struct msample *sm = &m->samples[i];
			uint64_t x;

			if (!same_socket(sm, &sr->local, &sr->peer))
				continue;
			x = value(sm, f);
			if (f == F_RETRANS) {
				v += x > carry ? x - carry : 0;
				carry = x;
				continue;
			}
			v = any && v > x ? v : x;
			any = 1;
			carry = x;
		}
		col[c] = v;
	}
}

/* A round number at least v: 1, 2, 5 times a power of ten. */
static uint64_t nice_max(uint64_t v)
{
	uint64_t p = 1;

	if (v == 0)
		return 1;
	for (;;) {
		if (v <= p)
			return p;
		if (v <= 2 * p)
			return 2 * p;
		if (v <= 5 * p)
			return 5 * p;
		p *= 10;
	}
}

static void bytes_text(uint64_t v, char *buf, size_t size)
{
	if (v >= 10u * 1024 * 1024)
		snprintf(buf, size, "%lluMB", (unsigned long long)(v / (1024 * 1024)));
	else if (v >= 10u * 1024)
		snprintf(buf, size, "%lluKB", (unsigned long long)(v / 1024));
	else
		snprintf(buf, size, "%lluB", (unsigned long long)v);
}

static void ms_text(uint64_t us, char *buf, size_t size)
{
	if (us >= 10000)
		snprintf(buf, size, "%llums", (unsigned long long)(us / 1000));
	else
		snprintf(buf, size, "%llu.%llums", (unsigned long long)(us / 1000),
			 (unsigned long long)(us % 1000 / 100));
}

/* The congestion window as columns of #, the threshold as a line of -
 * (= where it crosses the window). */
static void draw_cwnd(const struct ui *u, int y, int x, int h, int w, const uint64_t *cwnd,
                      const uint64_t *ssthresh)
{
	uint64_t top = 0;

	for (int c = 0; c < w; c++) {
		if (cwnd[c] == COL_EMPTY)
			continue;
		if (cwnd[c] > top)
			top = cwnd[c];
		if (ssthresh[c] > top)
			top = ssthresh[c];
	}
	top = nice_max(top);
	draw_fmt(y, x - LEFT_W, LEFT_W, ui_look(u, LK_BOLD), "%*llu |", LEFT_W - 2,
		 (unsigned long long)top);
	if (h > 2)
		draw_fmt(y + h / 2, x - LEFT_W, LEFT_W, ui_look(u, LK_DIM), "%*llu |", LEFT_W - 2,
			 (unsigned long long)(top * (uint64_t)(h - h / 2) / (uint64_t)h));
	draw_fmt(y + h - 1, x - LEFT_W, LEFT_W, ui_look(u, LK_DIM), "%*s |", LEFT_W - 2, "0");
	for (int row = 1; row < h - 1; row++)
		if (row != h / 2)
			draw_text(y + row, x - 1, 1, ui_look(u, LK_DIM), "|");
	for (int c = 0; c < w; c++) {
		if (cwnd[c] == COL_EMPTY)
			continue;
		/* Rounded to the nearest row; a window above 0 shows at least one. */
		int bar = (int)((cwnd[c] * (uint64_t)h * 2 + top) / (top * 2));
		int ss = ssthresh[c] > 0 ? (int)((ssthresh[c] * (uint64_t)h * 2 + top) / (top * 2)) : -1;

		if (bar == 0 && cwnd[c] > 0)
			bar = 1;
		for (int row = 0; row < h; row++) {
			int level = h - row;   /* 1 at the bottom row */
			const char *cell = NULL;

			if (level == ss)
				cell = level <= bar ? "=" : "-";
			else if (level <= bar)
				cell = "#";
			if (cell != NULL)
				draw_text(y + row, x + c, 1, level == ss ? ui_look(u, LK_CLOSING) :
					  ui_look(u, LK_DATA), cell);
		}
	}
}

/* One line of levels: blank for 0, then . : - = + * # up to the line's
 * largest value, which goes on the right. */
static void draw_strip(const struct ui *u, int y, int x, int w, const char *name,
                       const uint64_t *v, void (*text)(uint64_t, char *, size_t))
{
	static const char levels[] = " .:-=+*#";
	uint64_t top = 0;
	char cells[COLS_MAX + 1], right[24];

	for (int c = 0; c < w; c++)
		if (v[c] != COL_EMPTY && v[c] > top)
			top = v[c];
	for (int c = 0; c < w; c++) {
		int l = top == 0 || v[c] == COL_EMPTY ? 0 : (int)((v[c] * 7 + top - 1) / top);

		cells[c] = levels[l > 7 ? 7 : l];
	}
	cells[w] = '\0';
	draw_fmt(y, x - LEFT_W, LEFT_W, ui_look(u, LK_BOLD), "%-*s|", LEFT_W - 1, name);
	draw_text(y, x, w, ui_look(u, LK_DATA), cells);
	text(top, right, sizeof(right));
	draw_fmt(y, x + w, RIGHT_W, ui_look(u, LK_DIM), "| %s", right);
}

static void count_text(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%llu", (unsigned long long)v);
}

/* Under the plot: the times at the left, middle and right, and a ^ at
 * the ladder's newest shown segment when the ladder is scrolled back. */
static void draw_axis(const struct ui *u, int y, int x, int w, mtime_t t0, mtime_t t1,
                      mtime_t cursor)
{
	const struct model *m = &u->s->model;
	char a[32], b[32], c[32];
	int lc;

	dump_reltime(m, t0, a, sizeof(a));
	dump_reltime(m, t0 + (t1 - t0) / 2, b, sizeof(b));
	dump_reltime(m, t1, c, sizeof(c));
	/* Milliseconds are enough here: "1.234s". */
	a[strlen(a) - 3] = b[strlen(b) - 3] = c[strlen(c) - 3] = '\0';
	draw_fmt(y, x - LEFT_W, LEFT_W, ui_look(u, LK_DIM), "%-*s+", LEFT_W - 1, "time (s)");
	draw_fill(y, x, w, ui_look(u, LK_DIM), '-');
	draw_text(y, x, w, ui_look(u, LK_DIM), a);
	lc = (int)strlen(b);
	draw_text(y, x + w / 2 - lc / 2, lc, ui_look(u, LK_DIM), b);
	lc = (int)strlen(c);
	draw_text(y, x + w - lc, lc, ui_look(u, LK_DIM), c);
	if (cursor >= t0 && cursor <= t1 && t1 > t0)
		draw_text(y, x + (int)((cursor - t0) * (mtime_t)(w - 1) / (t1 - t0)), 1,
			  ui_look(u, LK_CURRENT), "^");
}

/* The newest segment the ladder shows (its bottom row), when the ladder
 * is scrolled back; NULL at the end. */
static const struct mseg *ladder_cursor(const struct ui *u)
{
	const struct model *m = &u->s->model;
	int i = m->nsegs - 1 - u->ladder_back;

	if (u->ladder_back <= 0 || i < 0 || i >= m->nsegs)
		return NULL;
	return &m->segs[i];
}

static void values_line(const struct ui *u, int y, int x, int w, const struct msample *sm,
                        const struct mseg *cur)
{
	char ss[16], srtt[16], fl[16], rw[16], text[256], when[32];

	if (sm->ssthresh == 0)
		text_copy(ss, sizeof(ss), "-");
	else
		snprintf(ss, sizeof(ss), "%u", (unsigned)sm->ssthresh);
	ms_text(sm->srtt_us, srtt, sizeof(srtt));
	bytes_text(sm->inflight, fl, sizeof(fl));
	bytes_text(sm->rwnd, rw, sizeof(rw));
	draw_fmt(y, x, w, A_NORMAL, " %s cwnd %u  ssthresh %s  srtt %s  in flight %s  rwnd %s  retrans %u",
		 cur != NULL ? "then:" : "now:", (unsigned)sm->cwnd, ss, srtt, fl, rw,
		 (unsigned)sm->retrans);
	if (cur != NULL)
		draw_fmt(y + 1, x, w, ui_look(u, LK_CURRENT), " ^ %s %s",
			 dump_reltime(&u->s->model, cur->t, when, sizeof(when)),
			 dump_segment_text(cur, text, sizeof(text)));
}

void view_tcptime(struct ui *u, struct rect r)
{
	const struct model *m = &u->s->model;
	static uint64_t cwnd[COLS_MAX], ssthresh[COLS_MAX], strip[COLS_MAX];
	struct series sr;
	const struct msample *last;
	const struct mseg *cur = ladder_cursor(u);
	char title[192], local[EP_TEXT_LEN], peer[EP_TEXT_LEN], who[64] = "";
	int x = r.x + LEFT_W, w = r.w - LEFT_W - RIGHT_W, plot_h, y;
	mtime_t t0, t1;

	if (!pick_series(u, &sr)) {
		draw_title(u, r, "TCP over time", 1);
		draw_text(r.y + 2, r.x + 2, r.w - 2, ui_look(u, LK_DIM),
			  "no TCP_INFO yet: the sock_diag dumps read it from connected sockets");
		return;
	}
	for (int i = 0; i < m->nsocks; i++) {
		const struct msock *s = &m->socks[i];
		const struct mproc *p;

		if (!s->merged && ep_equal(&s->local, &sr.local) && ep_equal(&s->peer, &sr.peer) &&
		    (p = model_sock_owner(m, s)) != NULL)
			ui_proc_label(p, who, sizeof(who));
	}
	snprintf(title, sizeof(title), "TCP over time: %s%s%s > %s", who,
		 who[0] ? " " : "", ep_format(&sr.local, local, sizeof(local)),
		 ep_format(&sr.peer, peer, sizeof(peer)));
	draw_title(u, r, title, 1);
	if (w < 10 || r.h < 12)
		return;
	if (w > COLS_MAX)
		w = COLS_MAX;
	last = &m->samples[sr.last];
	t0 = m->samples[sr.first].t;
	t1 = last->t;
	/* The axis reaches the ladder's segment when it lies outside. */
	if (cur != NULL && cur->t < t0)
		t0 = cur->t;
	if (cur != NULL && cur->t > t1)
		t1 = cur->t;
	if (t1 < t0 + NS_PER_S)
		t1 = t0 + NS_PER_S;
	values_line(u, r.y + 1, r.x, r.w, cur != NULL ? at_time(m, &sr, cur->t) : last, cur);
	/* title, values (and the cursor's segment), the plot's name, the
	 * plot, four lines, the axis */
	y = r.y + 3;
	plot_h = r.h - 3 - 1 - 4 - 1;
	draw_text(y, r.x, r.w, ui_look(u, LK_BOLD),
		  "cwnd (segments) #   ssthresh -   lines: 0 .. value at right");
	draw_text(y, r.x + r.w - 16, 16, ui_look(u, LK_DIM), "Up/Down: socket");
	y++;
	columns(m, &sr, F_CWND, t0, t1, w, cwnd);
	columns(m, &sr, F_SSTHRESH, t0, t1, w, ssthresh);
	draw_cwnd(u, y, x, plot_h, w, cwnd, ssthresh);
	y += plot_h;
	columns(m, &sr, F_SRTT, t0, t1, w, strip);
	draw_strip(u, y++, x, w, "srtt", strip, ms_text);
	columns(m, &sr, F_INFLIGHT, t0, t1, w, strip);
	draw_strip(u, y++, x, w, "in flight", strip, bytes_text);
	columns(m, &sr, F_RWND, t0, t1, w, strip);
	draw_strip(u, y++, x, w, "rwnd", strip, bytes_text);
	columns(m, &sr, F_RETRANS, t0, t1, w, strip);
	draw_strip(u, y++, x, w, "retrans", strip, count_text);
	draw_axis(u, y, x, w, t0, t1, cur != NULL ? cur->t : 0);
}
