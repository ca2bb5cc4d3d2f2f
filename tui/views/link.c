/* link.c — the link panel (screen 7) and the keys that work on the link
 * from any screen: the hosts, each direction's settings (changed with
 * the arrows and + -), what the link did so far, and the segments on the
 * wire now (held or in flight), one of them selected for the drop key.
 *
 * The counts and the segments on the wire come from the model (what the
 * link reported), so a replay shows the same; the settings come from the
 * live link, or from the recording's last "settings" line.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "link/link.h"
#include "link/spec.h"
#include "text.h"
#include "views/views.h"

#define WIRE_ROWS 64

/* The settings rows, in the order shown. */
enum { ROW_DELAY, ROW_JITTER, ROW_LOSS, ROW_RATE, ROW_QUEUE, ROW_REORDER, ROW_DUP, ROWS };

static const char *const row_names[ROWS] = {
	"delay", "jitter", "loss", "rate", "queue", "reorder", "duplicate"
};

/* The values + and - step through. */
static const uint64_t time_steps[] = {
	0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000
};
static const uint64_t ppm_steps[] = {
	0, 1000, 5000, 10000, 20000, 50000, 100000, 200000, 500000
};
static const uint64_t rate_steps[] = {
	0, 64000, 256000, 1000000, 2000000, 10000000, 100000000, 1000000000
};
static const uint64_t queue_steps[] = { 1, 2, 5, 10, 20, 50, 100, 1000 };

int ui_on_hosts(const struct ui *u)
{
	return u->s->net.on;
}

/* The host an address belongs to (10.0.0.i, fd00::i), or -1. */
static int host_of(const struct session *s, const struct ep *ep)
{
	char text[EP_TEXT_LEN], *colon;

	ep_format(ep, text, sizeof(text));
	/* "10.0.0.1:4000" or "[fd00::1]:4000": the address part */
	if (text[0] == '[') {
		memmove(text, text + 1, strlen(text));
		colon = strchr(text, ']');
	} else {
		colon = strrchr(text, ':');
	}
	if (colon != NULL)
		*colon = '\0';
	for (int i = 0; i < s->net.nhosts; i++)
		if (strcmp(s->net.host[i].addr4, text) == 0 || strcmp(s->net.host[i].addr6, text) == 0)
			return i;
	return -1;
}

static int on_wire(const struct mseg *g)
{
	return g->fate == FATE_HELD || g->fate == FATE_INFLIGHT;
}

/* The segments on the wire now, oldest first. */
static int wire_list(const struct model *m, const struct mseg **out, int max)
{
	int n = 0;

	for (int i = 0; i < m->nsegs && n < max; i++)
		if (on_wire(&m->segs[i]))
			out[n++] = &m->segs[i];
	return n;
}

uint64_t ui_link_selected(const struct ui *u)
{
	const struct model *m = &u->s->model;
	uint64_t first = 0;

	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *g = &m->segs[i];

		if (!on_wire(g))
			continue;
		if (g->link_id == u->link_sel)
			return g->link_id;
		if (first == 0)
			first = g->link_id;
	}
	return first;
}

/* ---- the keys ------------------------------------------------------------------------ */

static uint64_t step(const uint64_t *steps, size_t n, uint64_t now, int dir)
{
	if (dir > 0) {
		for (size_t i = 0; i < n; i++)
			if (steps[i] > now)
				return steps[i];
		return steps[n - 1];
	}
	for (size_t i = n; i > 0; i--)
		if (steps[i - 1] < now)
			return steps[i - 1];
	return steps[0];
}

#define STEP(tab, v, d) step(tab, sizeof(tab) / sizeof(tab[0]), v, d)

static void change(struct ui *u, int dir)
{
	struct session *s = u->s;
	const struct link *l;
	struct link_params p;
	int to = u->link_col - 1;   /* column 0: every direction */
	char text[96];

	if (s->wire == NULL || !link_is(s->wire)) {
		session_say(s, "a replay's link cannot be changed");
		return;
	}
	l = link_engine(s->wire);
	p = l->cfg.dir[to < 0 ? 0 : to];
	switch (u->link_row) {
	case ROW_DELAY: p.delay = STEP(time_steps, p.delay / NS_PER_MS, dir) * NS_PER_MS; break;
	case ROW_JITTER: p.jitter = STEP(time_steps, p.jitter / NS_PER_MS, dir) * NS_PER_MS; break;
	case ROW_LOSS:
		p.loss_every = 0;
		p.loss_ppm = (uint32_t)STEP(ppm_steps, p.loss_ppm, dir);
		break;
	case ROW_RATE: p.rate = STEP(rate_steps, p.rate, dir); break;
	case ROW_QUEUE: p.queue = (uint32_t)STEP(queue_steps, p.queue, dir); break;
	case ROW_REORDER: p.reorder_ppm = (uint32_t)STEP(ppm_steps, p.reorder_ppm, dir); break;
	default: p.dup_ppm = (uint32_t)STEP(ppm_steps, p.dup_ppm, dir); break;
	}
	link_change(s->wire, to, &p);
	link_params_text(&p, text, sizeof(text));
	session_say(s, "link %s%s: %s", to < 0 ? "both ways" : "to ",
		    to < 0 ? "" : s->net.host[to].name, text);
}

/* Move the selection along the segments on the wire. */
static void select_wire(struct ui *u, int dir)
{
	const struct mseg *w[WIRE_ROWS];
	int n = wire_list(&u->s->model, w, WIRE_ROWS), at = 0;
	uint64_t cur = ui_link_selected(u);

	if (n == 0) {
		session_say(u->s, "nothing on the wire");
		return;
	}
	for (int i = 0; i < n; i++)
		if (w[i]->link_id == cur)
			at = i;
	at = (at + dir + n) % n;
	u->link_sel = w[at]->link_id;
}

static void drop_selected(struct ui *u)
{
	struct session *s = u->s;
	uint64_t id = ui_link_selected(u);

	if (id == 0) {
		session_say(s, "nothing on the wire to drop (h holds every frame)");
		return;
	}
	if (link_drop_frame(s->wire, id) < 0)
		session_say(s, "frame #%llu has left the link already", (unsigned long long)id);
	else
		session_say(s, "frame #%llu dropped on the link", (unsigned long long)id);
}

int view_link_key(struct ui *u, int key)
{
	struct session *s = u->s;
	int live = s->wire != NULL && link_is(s->wire);

	if (!s->net.on)
		return 0;
	if (u->screen == SCR_LINK) {
		switch (key) {
		case KEY_UP: case 'k':
			u->link_row = (u->link_row + ROWS - 1) % ROWS;
			return 1;
		case KEY_DOWN: case 'j':
			u->link_row = (u->link_row + 1) % ROWS;
			return 1;
		case KEY_LEFT:
			u->link_col = (u->link_col + s->net.nhosts) % (s->net.nhosts + 1);
			return 1;
		case KEY_RIGHT:
			u->link_col = (u->link_col + 1) % (s->net.nhosts + 1);
			return 1;
		case '+': case '=':
			change(u, 1);
			return 1;
		case '-': case '_':
			change(u, -1);
			return 1;
		default:
			break;
		}
	}
	switch (key) {
	case '[': select_wire(u, -1); return 1;
	case ']': select_wire(u, 1); return 1;
	default: break;
	}
	if (key != 'h' && key != 'f' && key != 'F' && key != 'x')
		return 0;
	if (!live) {
		session_say(s, "a replay shows what the link did; it cannot be changed");
		return 1;
	}
	switch (key) {
	case 'h':
		s->net.hold = !s->net.hold;
		link_hold_mode(s->wire, s->net.hold);
		session_say(s, s->net.hold ? "HOLD: every frame waits on the wire (f lets the "
			    "oldest go, F all, x drops the selected)" : "hold off: the frames held go on");
		break;
	case 'f':
	case 'F':
		if (link_release_frames(s->wire, key == 'F') == 0)
			session_say(s, "no frame is held%s", s->net.hold ? "" : " (h holds them)");
		break;
	case 'x':
		drop_selected(u);
		break;
	}
	return 1;
}

/* ---- drawing ------------------------------------------------------------------------ */

/* One direction's settings: the live link's, or the recording's. */
static int settings_of(const struct session *s, struct link_params p[HOSTS_MAX])
{
	struct link_config cfg;
	const char *names[HOSTS_MAX];
	char err[128];

	if (s->wire != NULL && link_is(s->wire)) {
		memcpy(p, link_engine(s->wire)->cfg.dir, sizeof(p[0]) * HOSTS_MAX);
		return 0;
	}
	for (int i = 0; i < s->net.nhosts; i++)
		names[i] = s->net.host[i].name;
	link_config_default(&cfg);
	if (link_spec_parse(&cfg, s->net.spec, names, s->net.nhosts, err, sizeof(err)) < 0)
		return -1;
	memcpy(p, cfg.dir, sizeof(p[0]) * HOSTS_MAX);
	return 0;
}

static void value_text(const struct link_params *p, int row, char *buf, size_t size)
{
	switch (row) {
	case ROW_DELAY: link_time_text(p->delay, buf, size); break;
	case ROW_JITTER: link_time_text(p->jitter, buf, size); break;
	case ROW_LOSS:
		if (p->loss_every)
			snprintf(buf, size, "every %u", (unsigned)p->loss_every);
		else
			link_ppm_text(p->loss_ppm, buf, size);
		break;
	case ROW_RATE:
		if (p->rate == 0)
			text_copy(buf, size, "no limit");
		else
			link_rate_text(p->rate, buf, size);
		break;
	case ROW_QUEUE: snprintf(buf, size, "%u", (unsigned)p->queue); break;
	case ROW_REORDER: link_ppm_text(p->reorder_ppm, buf, size); break;
	default: link_ppm_text(p->dup_ppm, buf, size); break;
	}
}

struct tally {
	uint64_t segs, delivered, delayed, dropped, hand, held, reordered, dup;
};

static void count(const struct session *s, struct tally t[HOSTS_MAX])
{
	const struct model *m = &s->model;

	memset(t, 0, sizeof(t[0]) * HOSTS_MAX);
	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *g = &m->segs[i];
		int h = host_of(s, &g->dst);

		if (h < 0 || g->fate == FATE_NONE)
			continue;
		t[h].segs++;
		t[h].delivered += seg_fate_delivered(g->fate);
		t[h].delayed += g->fate == FATE_DELAYED;
		t[h].dropped += seg_fate_dropped(g->fate);
		t[h].hand += g->fate == FATE_DROP_HAND;
		t[h].held += g->fate == FATE_HELD;
		t[h].reordered += g->fate == FATE_REORDERED;
		t[h].dup += g->fate == FATE_DUPLICATED;
	}
}

static void draw_settings(struct ui *u, int *y, int x, int w, int colw)
{
	const struct session *s = u->s;
	struct link_params p[HOSTS_MAX];
	int ok = settings_of(s, p) == 0, n = s->net.nhosts;

	draw_text(*y, x, w, ui_look(u, LK_BOLD), "setting");
	draw_text(*y, x + 11, colw, ui_look(u, LK_BOLD), "both ways");
	for (int i = 0; i < n && 11 + (i + 1) * colw < w; i++)
		draw_fmt(*y, x + 11 + (i + 1) * colw, colw - 1, ui_look(u, LK_BOLD), "to %s",
			 s->net.host[i].name);
	(*y)++;
	for (int r = 0; r < ROWS; r++, (*y)++) {
		char v[32];

		draw_text(*y, x, 10, A_NORMAL, row_names[r]);
		if (!ok)
			continue;
		for (int c = 0; c <= n && 11 + c * colw < w; c++) {
			int same = 1, sel = u->screen == SCR_LINK && r == u->link_row && c == u->link_col;

			if (c == 0) {
				char first[32];

				value_text(&p[0], r, first, sizeof(first));
				for (int i = 1; i < n; i++) {
					value_text(&p[i], r, v, sizeof(v));
					same &= strcmp(v, first) == 0;
				}
				text_copy(v, sizeof(v), same ? first : "(differ)");
			} else {
				value_text(&p[c - 1], r, v, sizeof(v));
			}
			draw_fmt(*y, x + 11 + c * colw, colw - 1,
				 sel ? ui_look(u, LK_SELECTED) : A_NORMAL, " %-*s", colw - 3, v);
		}
	}
}

/* One line per direction: what the link did with its segments (the
 * rarer counts only when there are some). */
static void draw_counts(struct ui *u, int *y, int x, int w)
{
	const struct session *s = u->s;
	struct tally t[HOSTS_MAX];

	count(s, t);
	for (int i = 0; i < s->net.nhosts; i++, (*y)++) {
		const struct tally *c = &t[i];
		char line[256], part[64];

		snprintf(line, sizeof(line), "to %s: %llu dropped (%llu by hand), %llu held, "
			 "%llu delivered", s->net.host[i].name, (unsigned long long)c->dropped,
			 (unsigned long long)c->hand, (unsigned long long)c->held,
			 (unsigned long long)c->delivered);
		if (c->delayed) {
			snprintf(part, sizeof(part), " (%llu delayed)", (unsigned long long)c->delayed);
			text_append(line, sizeof(line), part);
		}
		if (c->reordered) {
			snprintf(part, sizeof(part), ", %llu reordered", (unsigned long long)c->reordered);
			text_append(line, sizeof(line), part);
		}
		if (c->dup) {
			snprintf(part, sizeof(part), ", %llu twice", (unsigned long long)c->dup);
			text_append(line, sizeof(line), part);
		}
		snprintf(part, sizeof(part), ", %llu segments", (unsigned long long)c->segs);
		text_append(line, sizeof(line), part);
		draw_text(*y, x, w, c->dropped ? ui_look(u, LK_BAD) : A_NORMAL, line);
	}
}

static void draw_wire(struct ui *u, int y, int x, int w, int h)
{
	const struct model *m = &u->s->model;
	const struct mseg *list[WIRE_ROWS];
	int n = wire_list(m, list, WIRE_ROWS), first = 0;
	uint64_t sel = ui_link_selected(u);

	draw_fmt(y++, x, w, ui_look(u, LK_BOLD), "on the wire: %d segment%s  "
		 "([ ] select, x drop it, f let the oldest go, F all, h hold)", n, n == 1 ? "" : "s");
	h--;
	for (int i = 0; i < n; i++)
		if (list[i]->link_id == sel && i >= h)
			first = i - h + 1;
	for (int i = first; i < n && i - first < h; i++, y++) {
		const struct mseg *g = list[i];
		char flags[24], src[EP_TEXT_LEN], dst[EP_TEXT_LEN];
		double age = (double)(m->now > g->t ? m->now - g->t : 0) / (double)NS_PER_S;

		model_flags_text(g->flags, flags, sizeof(flags));
		draw_fmt(y, x, w, g->link_id == sel ? ui_look(u, LK_SELECTED) : A_NORMAL,
			 "%s #%-5llu %-9s %s > %s %s seq=%u len=%u  %.1fs",
			 g->link_id == sel ? ">" : " ", (unsigned long long)g->link_id,
			 g->fate == FATE_HELD ? "HELD" : "in flight", ep_format(&g->src, src, sizeof(src)),
			 ep_format(&g->dst, dst, sizeof(dst)), flags, (unsigned)g->rseq,
			 (unsigned)g->len, age);
	}
}

void view_link(struct ui *u, struct rect r)
{
	const struct session *s = u->s;
	int y = r.y + 1, x = r.x + 1, w = r.w - 2, colw;
	char title[128], hosts[256] = "";

	for (int i = 0; i < s->net.nhosts; i++) {
		char part[80];

		snprintf(part, sizeof(part), "%s%s %s", i ? ", " : "", s->net.host[i].name,
			 s->net.host[i].addr4);
		text_append(hosts, sizeof(hosts), part);
	}
	snprintf(title, sizeof(title), "link%s", s->net.hold ? ": HOLD (every frame waits)" : "");
	draw_title(u, r, title, 1);
	if (!s->net.on) {
		draw_text(y, x, w, ui_look(u, LK_DIM),
			  "not on hosts: run with --hosts (or --link) for a link to hold and drop on");
		return;
	}
	draw_fmt(y++, x, w, A_NORMAL, "hosts: %s", hosts);
	if (s->wire != NULL && link_is(s->wire)) {
		uint64_t frames, missed;
		mtime_t late;

		link_stats(s->wire, &frames, &missed, &late);
		if (missed)
			draw_fmt(y++, x, w, ui_look(u, LK_BAD), "%llu frames carried, %llu missed "
				 "(the ring was full); Up/Down Left/Right choose, + - change",
				 (unsigned long long)frames, (unsigned long long)missed);
		else if (late >= NS_PER_MS / 2)
			draw_fmt(y++, x, w, ui_look(u, LK_BAD), "%llu frames carried; they left "
				 "%.1f ms late on average (a busy machine)", (unsigned long long)frames,
				 (double)late / 1e6);
		else
			draw_fmt(y++, x, w, ui_look(u, LK_DIM), "%llu frames carried; Up/Down "
				 "Left/Right choose a setting, + - change it", (unsigned long long)frames);
	} else {
		y++;
	}
	colw = (w - 11) / (s->net.nhosts + 1);
	if (colw > 16)
		colw = 16;
	if (colw < 8)
		colw = 8;
	draw_settings(u, &y, x, w, colw);
	if (r.y + r.h - y >= s->net.nhosts + 3)
		draw_counts(u, &y, x, w);
	if (r.y + r.h - y >= 2)
		draw_wire(u, y, x, w, r.y + r.h - y);
}
