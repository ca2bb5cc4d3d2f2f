/* test_link.c — tui/link/engine.c and tui/link/spec.c: the link's
 * decisions and its settings as text.
 *
 * The engine is pure (the time and the seed come in from outside), so
 * these tests are exact: frames go in at chosen times, the link is run
 * at chosen times, and every frame sent and every fate reported is
 * checked. The live tests (tests/tui/test_link.py) only confirm that the
 * real kernels see what these promise. The last tests are the model's
 * side: a segment the link holds, delays or drops reaches its receiver
 * only when (if) the link delivers it.
 */
// SOURCES: tui/link/engine.c tui/link/spec.c tui/fate.c tui/model.c tui/sockets.c tui/tcpfsm.c tui/infer.c tui/compact.c tui/endpoint.c tui/dump.c tui/analysis.c
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/engine.h"
#include "link/spec.h"

#define MS(x) ((mtime_t)(x) * NS_PER_MS)
#define US(x) ((mtime_t)(x) * 1000)
#define T0 MS(5000)
#define NFRAMES 20000

/* What the link did, as the bridge would see it. */
struct seen {
	int nsent;
	struct sent {
		int to;
		uint32_t tag;      /* the frame's first 4 bytes: its number */
		size_t len;
	} sent[NFRAMES * 2];
	int fate[NFRAMES + 1];      /* by frame id: the latest fate */
	int first[NFRAMES + 1];     /* reported new */
	int reports[NFRAMES + 1];
	mtime_t t_out[NFRAMES + 1];
	mtime_t now;                /* of the last send */
	mtime_t sent_at[NFRAMES * 2];
};

static void on_send(void *ctx, int to, const unsigned char *data, size_t len)
{
	struct seen *s = ctx;
	uint32_t tag;

	memcpy(&tag, data, sizeof(tag));
	assert_true(s->nsent < NFRAMES * 2);
	s->sent[s->nsent].to = to;
	s->sent[s->nsent].tag = tag;
	s->sent[s->nsent].len = len;
	s->sent_at[s->nsent] = s->now;
	s->nsent++;
}

static void on_fate(void *ctx, const struct link_frame *f, const unsigned char *data, int first)
{
	struct seen *s = ctx;
	uint32_t tag;

	assert_true(f->id <= NFRAMES);
	memcpy(&tag, data, sizeof(tag));
	assert_int_equal(tag, (uint32_t)f->id);   /* data is the frame's own */
	s->fate[f->id] = f->fate;
	s->first[f->id] += first;
	s->reports[f->id]++;
	s->t_out[f->id] = f->t_out;
}

struct fixture {
	struct link l;
	struct seen s;
	struct link_config cfg;
	uint32_t next_tag;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	link_config_default(&fx->cfg);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	link_free(&fx->l);
	free(fx);
	return 0;
}

static void start(struct fixture *fx)
{
	struct link_ops ops = { &fx->s, on_send, on_fate };

	link_init(&fx->l, 2, &fx->cfg, &ops);
}

static const char *const names[] = { "server", "client" };

static void spec(struct fixture *fx, const char *text)
{
	char err[256] = "";

	if (link_spec_parse(&fx->cfg, text, names, 2, err, sizeof(err)) < 0)
		fail_msg("spec %s: %s", text, err);
}

/* A frame of len bytes from host 1 (client) to host 0 (server); its
 * first bytes are its number, which is also the id the link gives it. */
static uint64_t offer_kind(struct fixture *fx, mtime_t t, int to, size_t len, uint8_t flags,
                           uint32_t payload)
{
	unsigned char frame[1600];
	struct link_info in = { 1, 1, flags, payload };
	uint32_t tag = ++fx->next_tag;
	uint64_t id;

	memset(frame, 0, sizeof(frame));
	memcpy(frame, &tag, sizeof(tag));
	fx->s.now = t;
	id = link_offer(&fx->l, t, 1 - to, to, frame, len, &in);
	assert_int_equal(id, tag);
	return id;
}

static uint64_t offer(struct fixture *fx, mtime_t t, size_t len)
{
	return offer_kind(fx, t, 0, len, TF_ACK | TF_PSH, (uint32_t)(len > 54 ? len - 54 : 0));
}

static void run_at(struct fixture *fx, mtime_t t)
{
	fx->s.now = t;
	link_run(&fx->l, t);
}

/* ---- no impairment ---------------------------------------------------------------- */

static void test_no_impairment_passes_all_in_order(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	for (int i = 0; i < 10000; i++)
		offer(fx, T0 + US(i), 60 + (size_t)(i % 1400));
	assert_int_equal(fx->s.nsent, 10000);
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(fx->s.sent[i].tag, (uint32_t)(i + 1));
		assert_int_equal(fx->s.sent[i].to, 0);
		assert_int_equal(fx->s.sent[i].len, 60 + (size_t)(i % 1400));
		assert_int_equal(fx->s.fate[i + 1], FATE_PASSED);
		assert_int_equal(fx->s.reports[i + 1], 1);
	}
	/* Sent at once, no copy kept, nothing due. */
	assert_int_equal(fx->l.kept, 0);
	assert_int_equal(link_next_due(&fx->l), 0);
	assert_int_equal(fx->l.d[0].c.delivered, 10000);
}

/* ---- loss ------------------------------------------------------------------------- */

static int lost_ids(uint64_t seed, char *lost, int n)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char text[64];
	int count = 0;

	assert_non_null(fx);
	link_config_default(&fx->cfg);
	snprintf(text, sizeof(text), "loss=10%%,seed=%llu", (unsigned long long)seed);
	spec(fx, text);
	start(fx);
	for (int i = 0; i < n; i++)
		offer(fx, T0 + US(i * 10), 1000);
	for (int i = 1; i <= n; i++) {
		lost[i] = fx->s.fate[i] == FATE_DROP_LOSS;
		assert_true(lost[i] || fx->s.fate[i] == FATE_PASSED);
		count += lost[i];
	}
	assert_int_equal(fx->s.nsent, n - count);
	assert_int_equal(fx->l.d[0].c.lost, (uint64_t)count);
	link_free(&fx->l);
	free(fx);
	return count;
}

static void test_loss_share_and_repeatable(void **state)
{
	static char a[10001], b[10001], c[10001];
	int na, nb, nc;

	(void)state;
	na = lost_ids(42, a, 10000);
	nb = lost_ids(42, b, 10000);
	nc = lost_ids(43, c, 10000);
	/* 10 +- 1.5 points over 10,000 frames */
	assert_in_range(na, 850, 1150);
	assert_in_range(nc, 850, 1150);
	/* The same seed drops the same frames; another seed others. */
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
}

/* The draw for a frame depends on its place among the frames towards
 * its host, not on what goes the other way in between. */
static void test_loss_ignores_other_direction(void **state)
{
	struct fixture *fx = *state;
	static char alone[2001];
	char seen[2001];
	int k = 0;

	lost_ids(7, alone, 2000);
	spec(fx, "loss=10%,seed=7");
	start(fx);
	for (int i = 0; i < 2000; i++) {
		offer(fx, T0 + US(i * 10), 1000);
		/* An ACK back after every other frame. */
		if (i % 2 == 0)
			offer_kind(fx, T0 + US(i * 10 + 5), 1, 66, TF_ACK, 0);
	}
	/* By offering order: the k-th frame towards the server. */
	for (int i = 0, id = 1; i < 2000; i++) {
		seen[i + 1] = fx->s.fate[id] == FATE_DROP_LOSS;
		id += (i % 2 == 0) ? 2 : 1;
		k++;
	}
	assert_memory_equal(alone + 1, seen + 1, 2000);
	assert_int_equal(k, 2000);
}

static void test_loss_every_kth(void **state)
{
	struct fixture *fx = *state;

	spec(fx, "loss=every:10");
	start(fx);
	for (int i = 0; i < 100; i++)
		offer(fx, T0 + US(i), 100);
	for (int id = 1; id <= 100; id++)
		assert_int_equal(fx->s.fate[id], id % 10 == 0 ? FATE_DROP_LOSS : FATE_PASSED);
	assert_int_equal(fx->s.nsent, 90);
}

/* ---- delay, jitter, rate -------------------------------------------------------------- */

static void test_delay(void **state)
{
	struct fixture *fx = *state;
	uint64_t id;

	spec(fx, "delay=50ms");
	start(fx);
	id = offer(fx, T0, 100);
	assert_int_equal(fx->s.fate[id], FATE_INFLIGHT);
	assert_int_equal(fx->s.first[id], 1);
	assert_int_equal(fx->s.nsent, 0);
	assert_int_equal(link_next_due(&fx->l), T0 + MS(50));
	run_at(fx, T0 + MS(50) - 1);
	assert_int_equal(fx->s.nsent, 0);
	run_at(fx, T0 + MS(50));
	assert_int_equal(fx->s.nsent, 1);
	assert_int_equal(fx->s.fate[id], FATE_DELAYED);
	assert_int_equal(fx->s.t_out[id], T0 + MS(50));
	assert_int_equal(fx->s.reports[id], 2);
	assert_int_equal(fx->s.first[id], 1);
	assert_int_equal(fx->l.kept, 0);
	assert_int_equal(link_next_due(&fx->l), 0);
}

/* Each direction has its own settings. */
static void test_delay_one_direction(void **state)
{
	struct fixture *fx = *state;
	uint64_t a, b;

	spec(fx, "to=server,delay=30ms");
	start(fx);
	a = offer(fx, T0, 100);
	b = offer_kind(fx, T0, 1, 100, TF_ACK, 0);
	assert_int_equal(fx->s.fate[a], FATE_INFLIGHT);
	assert_int_equal(fx->s.fate[b], FATE_PASSED);
	run_at(fx, T0 + MS(30));
	assert_int_equal(fx->s.fate[a], FATE_DELAYED);
}

static void test_jitter_keeps_order(void **state)
{
	struct fixture *fx = *state;
	mtime_t t;

	spec(fx, "delay=50ms,jitter=20ms,seed=3");
	start(fx);
	for (int i = 0; i < 1000; i++)
		offer(fx, T0 + MS(i), 100);
	for (t = T0; fx->s.nsent < 1000; t = link_next_due(&fx->l))
		run_at(fx, t);
	for (int i = 0; i < 1000; i++) {
		mtime_t d = fx->s.t_out[i + 1] - (T0 + MS(i));

		assert_int_equal(fx->s.sent[i].tag, (uint32_t)(i + 1));
		assert_true(d >= MS(30));
		/* later than 70 ms only when held back by the one before */
		if (d > MS(70))
			assert_int_equal(fx->s.t_out[i + 1], fx->s.t_out[i]);
		if (i > 0)
			assert_true(fx->s.t_out[i + 1] >= fx->s.t_out[i]);
	}
}

/* 2 Mbit/s: a 1500-byte frame takes 6 ms; the queue holds 20 more. */
static void test_rate_and_tail_drop(void **state)
{
	struct fixture *fx = *state;
	int dropped = 0;

	spec(fx, "rate=2mbit,queue=20");
	start(fx);
	for (int i = 0; i < 100; i++)
		offer(fx, T0, 1500);
	for (int id = 1; id <= 100; id++) {
		if (id <= 21)
			assert_int_equal(fx->s.fate[id], FATE_INFLIGHT);
		else
			assert_int_equal(fx->s.fate[id], FATE_DROP_QUEUE);
		dropped += fx->s.fate[id] == FATE_DROP_QUEUE;
	}
	assert_int_equal(dropped, 79);
	assert_int_equal(link_queue_len(&fx->l, 0, T0), 20);
	for (int k = 1; k <= 21; k++) {
		assert_int_equal(link_next_due(&fx->l), T0 + MS(6) * (mtime_t)k);
		run_at(fx, T0 + MS(6) * (mtime_t)k);
		assert_int_equal(fx->s.nsent, k);
	}
	assert_int_equal(fx->l.d[0].c.queue_drops, 79);
}

/* A sender faster than the rate: what leaves is exactly the rate. */
static void test_rate_throughput(void **state)
{
	struct fixture *fx = *state;
	mtime_t t = T0, first = 0, last = 0;
	uint64_t bytes = 0;

	spec(fx, "rate=2mbit,queue=20,delay=10ms");
	start(fx);
	/* One 1500-byte frame every 5 ms (2.4 Mbit/s) for 10 s. */
	for (int i = 0; i < 2000; i++, t += MS(5)) {
		run_at(fx, t);
		offer(fx, t, 1500);
	}
	for (mtime_t due; (due = link_next_due(&fx->l)) != 0;)
		run_at(fx, due);
	for (int i = 0; i < fx->s.nsent; i++) {
		mtime_t out = fx->s.t_out[fx->s.sent[i].tag];

		if (i == 0)
			first = out;
		last = out;
		bytes += fx->s.sent[i].len;
	}
	/* Between the first and the last: one frame every 6 ms. */
	assert_int_equal(last - first, MS(6) * (mtime_t)(fx->s.nsent - 1));
	assert_true(bytes * 8 * NS_PER_S / (last - first + MS(6)) == 2000000);
	/* 2.4 offered, 2.0 sent: about a sixth dropped at the queue. */
	assert_in_range(fx->l.d[0].c.queue_drops, 300, 360);
}

/* ---- rules -------------------------------------------------------------------------- */

static void test_drop_first_syn(void **state)
{
	struct fixture *fx = *state;
	uint64_t syn1, syn2, synack, ack;

	spec(fx, "to=server,drop=syn:1");
	start(fx);
	syn1 = offer_kind(fx, T0, 0, 74, TF_SYN, 0);
	syn2 = offer_kind(fx, T0 + MS(1000), 0, 74, TF_SYN, 0);
	synack = offer_kind(fx, T0 + MS(1001), 1, 74, TF_SYN | TF_ACK, 0);
	ack = offer_kind(fx, T0 + MS(1002), 0, 66, TF_ACK, 0);
	assert_int_equal(fx->s.fate[syn1], FATE_DROP_RULE);
	assert_int_equal(fx->s.fate[syn2], FATE_PASSED);
	assert_int_equal(fx->s.fate[synack], FATE_PASSED);
	assert_int_equal(fx->s.fate[ack], FATE_PASSED);
	assert_int_equal(fx->l.d[0].c.rule_drops, 1);
}

static void test_drop_fifth_data_segment(void **state)
{
	struct fixture *fx = *state;
	uint64_t ids[12];
	int k = 0;

	spec(fx, "to=server,drop=data:5");
	start(fx);
	/* Data one way, pure ACKs both ways, data the other way. */
	for (int i = 0; i < 6; i++) {
		ids[k++] = offer_kind(fx, T0 + MS(i), 0, 1514, TF_ACK, 1448);
		offer_kind(fx, T0 + MS(i), 0, 66, TF_ACK, 0);
		offer_kind(fx, T0 + MS(i), 1, 1514, TF_ACK, 1448);
	}
	for (int i = 0; i < 6; i++)
		assert_int_equal(fx->s.fate[ids[i]], i == 4 ? FATE_DROP_RULE : FATE_PASSED);
	assert_int_equal(fx->l.d[0].c.rule_drops, 1);
	assert_int_equal(fx->l.d[1].c.rule_drops, 0);
}

static void test_rule_kinds(void **state)
{
	struct link_info syn = { 1, 1, TF_SYN, 0 }, synack = { 1, 1, TF_SYN | TF_ACK, 0 },
			 ack = { 1, 1, TF_ACK, 0 }, data = { 1, 1, TF_ACK | TF_PSH, 10 },
			 finack = { 1, 1, TF_FIN | TF_ACK, 0 }, udp = { 1, 0, 0, 0 };

	(void)state;
	assert_true(link_kind_matches(LINK_SYN, &syn));
	assert_false(link_kind_matches(LINK_SYN, &synack));
	assert_true(link_kind_matches(LINK_SYNACK, &synack));
	assert_true(link_kind_matches(LINK_ACK, &ack));
	assert_false(link_kind_matches(LINK_ACK, &data));
	assert_false(link_kind_matches(LINK_ACK, &finack));
	assert_true(link_kind_matches(LINK_DATA, &data));
	assert_true(link_kind_matches(LINK_FIN, &finack));
	assert_false(link_kind_matches(LINK_FIN, &udp));
	assert_true(link_kind_matches(LINK_ANY, &udp));
}

static void test_reorder_rule(void **state)
{
	struct fixture *fx = *state;
	uint64_t a, b, c;

	spec(fx, "reorder=data:2");
	start(fx);
	a = offer(fx, T0, 200);
	b = offer(fx, T0 + MS(1), 200);
	assert_int_equal(fx->s.fate[b], FATE_INFLIGHT);
	c = offer(fx, T0 + MS(2), 200);
	/* c went at once; b right after it, overtaken. */
	assert_int_equal(fx->s.nsent, 3);
	assert_int_equal(fx->s.t_out[b], T0 + MS(2));
	assert_int_equal(link_next_due(&fx->l), 0);
	assert_int_equal(fx->s.sent[0].tag, a);
	assert_int_equal(fx->s.sent[1].tag, c);
	assert_int_equal(fx->s.sent[2].tag, b);
	assert_int_equal(fx->s.fate[b], FATE_REORDERED);
	assert_int_equal(fx->s.fate[c], FATE_PASSED);
}

/* Nothing came to overtake it: it was only late. */
static void test_reorder_alone_is_delay(void **state)
{
	struct fixture *fx = *state;
	uint64_t a;

	spec(fx, "reorder=100%");
	start(fx);
	a = offer(fx, T0, 200);
	assert_int_equal(link_next_due(&fx->l), T0 + LINK_REORDER_WAIT);
	run_at(fx, T0 + LINK_REORDER_WAIT);
	assert_int_equal(fx->s.fate[a], FATE_DELAYED);
	assert_int_equal(fx->s.nsent, 1);
}

static void test_duplicate(void **state)
{
	struct fixture *fx = *state;
	uint64_t a;

	spec(fx, "dup=100%");
	start(fx);
	a = offer(fx, T0, 200);
	assert_int_equal(fx->s.nsent, 2);
	assert_int_equal(fx->s.sent[0].tag, a);
	assert_int_equal(fx->s.sent[1].tag, a);
	assert_int_equal(fx->s.fate[a], FATE_DUPLICATED);
	assert_int_equal(fx->s.reports[a], 1);
}

/* ---- by hand ------------------------------------------------------------------------ */

static void test_hold_release_drop(void **state)
{
	struct fixture *fx = *state;
	const struct link_frame *wire[8];
	uint64_t a, b, c, d;

	spec(fx, "hold");
	start(fx);
	a = offer(fx, T0, 100);
	b = offer(fx, T0 + MS(1), 100);
	c = offer(fx, T0 + MS(2), 100);
	d = offer(fx, T0 + MS(3), 100);
	assert_int_equal(fx->s.nsent, 0);
	assert_int_equal(fx->s.fate[a], FATE_HELD);
	assert_int_equal(link_on_wire(&fx->l, wire, 8), 4);
	assert_int_equal(wire[0]->id, a);
	/* One key releases the oldest. */
	assert_int_equal(link_release(&fx->l, 0, T0 + MS(10)), 1);
	assert_int_equal(fx->s.nsent, 1);
	assert_int_equal(fx->s.sent[0].tag, a);
	assert_int_equal(fx->s.fate[a], FATE_RELEASED);
	/* Drop this one: b. */
	assert_int_equal(link_drop(&fx->l, b, T0 + MS(11)), 0);
	assert_int_equal(fx->s.fate[b], FATE_DROP_HAND);
	assert_int_equal(link_drop(&fx->l, b, T0 + MS(11)), -1);
	/* Another key releases the rest. */
	assert_int_equal(link_release(&fx->l, 1, T0 + MS(12)), 2);
	assert_int_equal(fx->s.nsent, 3);
	assert_int_equal(fx->s.sent[1].tag, c);
	assert_int_equal(fx->s.sent[2].tag, d);
	assert_int_equal(fx->s.fate[d], FATE_RELEASED);
	assert_int_equal(fx->l.kept, 0);
	assert_int_equal(fx->l.d[0].c.hand_drops, 1);
}

/* Hold off lets everything go; frames that are not unicast IP are never
 * held. */
static void test_hold_off_and_multicast(void **state)
{
	struct fixture *fx = *state;
	unsigned char frame[64] = { 0 };
	struct link_info mc = { 0, 0, 0, 0 };
	uint32_t tag;

	spec(fx, "hold");
	start(fx);
	offer(fx, T0, 100);
	tag = ++fx->next_tag;
	memcpy(frame, &tag, sizeof(tag));
	link_offer(&fx->l, T0, 1, 0, frame, sizeof(frame), &mc);
	assert_int_equal(fx->s.nsent, 1);
	assert_int_equal(fx->s.fate[tag], FATE_PASSED);
	link_set_hold(&fx->l, 0, T0 + MS(1));
	assert_int_equal(fx->s.nsent, 2);
	assert_int_equal(fx->s.fate[1], FATE_RELEASED);
}

/* Drop this one while it is in flight (delayed): it never arrives. */
static void test_drop_in_flight(void **state)
{
	struct fixture *fx = *state;
	uint64_t a, b;

	spec(fx, "delay=100ms");
	start(fx);
	a = offer(fx, T0, 100);
	b = offer(fx, T0 + MS(10), 100);
	assert_int_equal(link_drop(&fx->l, a, T0 + MS(20)), 0);
	assert_int_equal(fx->s.fate[a], FATE_DROP_HAND);
	for (mtime_t due; (due = link_next_due(&fx->l)) != 0;)
		run_at(fx, due);
	assert_int_equal(fx->s.nsent, 1);
	assert_int_equal(fx->s.sent[0].tag, b);
	assert_int_equal(fx->s.fate[b], FATE_DELAYED);
	assert_int_equal(fx->s.t_out[b], T0 + MS(110));
	assert_int_equal(fx->l.kept, 0);
}

/* A hold rule holds just that frame; the rest flow. */
static void test_hold_rule(void **state)
{
	struct fixture *fx = *state;
	uint64_t syn, synack;

	spec(fx, "to=client,hold=synack:1");
	start(fx);
	syn = offer_kind(fx, T0, 0, 74, TF_SYN, 0);
	synack = offer_kind(fx, T0 + MS(1), 1, 74, TF_SYN | TF_ACK, 0);
	assert_int_equal(fx->s.fate[syn], FATE_PASSED);
	assert_int_equal(fx->s.fate[synack], FATE_HELD);
	link_release(&fx->l, 0, T0 + MS(5));
	assert_int_equal(fx->s.fate[synack], FATE_RELEASED);
}

/* ---- the settings as text ----------------------------------------------------------- */

static void test_spec_parse(void **state)
{
	struct fixture *fx = *state;
	const struct link_params *s = &fx->cfg.dir[0], *c = &fx->cfg.dir[1];

	spec(fx, "delay=40ms,loss=2%,rate=2mbit,queue=20,seed=7");
	assert_int_equal(s->delay, MS(40));
	assert_int_equal(c->delay, MS(40));
	assert_int_equal(s->loss_ppm, 20000);
	assert_int_equal(s->rate, 2000000);
	assert_int_equal(s->queue, 20);
	assert_int_equal(fx->cfg.seed, 7);
	spec(fx, "to=client,delay=1.5s,jitter=250us,loss=0.25%,rate=64,reorder=5%,dup=0.1%");
	assert_int_equal(s->delay, MS(40));
	assert_int_equal(c->delay, MS(1500));
	assert_int_equal(c->jitter, US(250));
	assert_int_equal(c->loss_ppm, 2500);
	assert_int_equal(c->rate, 64000);
	assert_int_equal(c->reorder_ppm, 50000);
	assert_int_equal(c->dup_ppm, 1000);
	spec(fx, "mtu=9000,hold,drop=data:3-5,to=server,drop=fin:*,hold=ack:2-");
	assert_int_equal(fx->cfg.mtu, 9000);
	assert_int_equal(fx->cfg.hold, 1);
	assert_int_equal(fx->cfg.nrules, 3);
	assert_int_equal(fx->cfg.rules[0].to, -1);
	assert_int_equal(fx->cfg.rules[0].kind, LINK_DATA);
	assert_int_equal(fx->cfg.rules[0].first, 3);
	assert_int_equal(fx->cfg.rules[0].last, 5);
	assert_int_equal(fx->cfg.rules[1].to, 0);
	assert_int_equal(fx->cfg.rules[1].action, LINK_DROP);
	assert_int_equal(fx->cfg.rules[1].last, UINT32_MAX);
	assert_int_equal(fx->cfg.rules[2].action, LINK_HOLD);
	assert_int_equal(fx->cfg.rules[2].first, 2);
	spec(fx, "loss=every:50,rate=1gbit");
	assert_int_equal(s->loss_every, 50);
	assert_int_equal(s->loss_ppm, 0);
	assert_int_equal(s->rate, 1000000000);
}

static void test_spec_errors(void **state)
{
	static const char *const bad[] = {
		"delay", "delay=", "delay=40parsecs", "delay=61s", "loss=2", "loss=101%",
		"loss=every:0", "rate=2tbit", "rate=0.5bit", "queue=0", "queue=20.5", "drop=syn",
		"drop=syn:0", "drop=syn:5-3", "drop=push:1", "to=nobody,loss=1%", "to=9bad",
		"mtu=100", "frobnicate=1", "delay=40ms,", ",delay=40ms", "seed=-1", "reorder=x",
	};
	struct link_config cfg;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		link_config_default(&cfg);
		err[0] = '\0';
		if (link_spec_parse(&cfg, bad[i], names, 2, err, sizeof(err)) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
	/* Without the hosts (a syntax check) any host name will do. */
	link_config_default(&cfg);
	assert_int_equal(link_spec_parse(&cfg, "to=anyone,loss=1%", NULL, 0, err, sizeof(err)), 0);
}

static void test_spec_round_trip(void **state)
{
	static const char *const specs[] = {
		"",
		"delay=40ms,loss=2%,rate=2mbit,queue=20,seed=7",
		"to=server,drop=syn:1",
		"seed=9,to=client,delay=1500ms,jitter=250us,loss=0.25%,rate=64kbit,to=server,loss=every:7",
		"hold,mtu=1280,drop=data:3-5,reorder=4%,dup=0.0001%,to=server,hold=ack:2-,dup=fin:*",
	};
	char text[LINK_SPEC_LEN], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct link_config a, b;

		link_config_default(&a);
		link_config_default(&b);
		if (link_spec_parse(&a, specs[i], names, 2, err, sizeof(err)) < 0)
			fail_msg("%s: %s", specs[i], err);
		assert_int_equal(link_spec_format(&a, names, 2, text, sizeof(text)), 0);
		if (link_spec_parse(&b, text, names, 2, err, sizeof(err)) < 0)
			fail_msg("%s -> %s: %s", specs[i], text, err);
		assert_memory_equal(&a.dir[0], &b.dir[0], sizeof(a.dir[0]) * 2);
		assert_int_equal(a.nrules, b.nrules);
		assert_memory_equal(a.rules, b.rules, sizeof(a.rules[0]) * (size_t)a.nrules);
		assert_int_equal(a.seed, b.seed);
		assert_int_equal(a.mtu, b.mtu);
		assert_int_equal(a.hold, b.hold);
	}
	{
		struct link_config a;

		link_config_default(&a);
		assert_int_equal(link_spec_parse(&a, specs[1], names, 2, err, sizeof(err)), 0);
		assert_int_equal(link_spec_format(&a, names, 2, text, sizeof(text)), 0);
		assert_string_equal(text, "seed=7,delay=40ms,loss=2%,rate=2mbit,queue=20");
		link_params_text(&a.dir[0], text, sizeof(text));
		assert_string_equal(text, "delay 40ms loss 2% rate 2mbit queue 20");
	}
}

static void test_fate_names(void **state)
{
	(void)state;
	for (int f = 0; f < FATE_COUNT; f++) {
		assert_int_equal(seg_fate_parse(seg_fate_name(f)), f);
		assert_true(seg_fate_text(f) != NULL);
	}
	assert_int_equal(seg_fate_parse("bogus"), -1);
	assert_true(seg_fate_dropped(FATE_DROP_HAND));
	assert_false(seg_fate_dropped(FATE_HELD));
	assert_true(seg_fate_delivered(FATE_NONE));
	assert_false(seg_fate_delivered(FATE_INFLIGHT));
	assert_false(seg_fate_delivered(FATE_DROP_LOSS));
}

/* ---- the model and the fates ---------------------------------------------------------- */

static struct mseg link_seg(const char *src, const char *dst, uint8_t flags, uint64_t id,
                            int fate, mtime_t t)
{
	struct mseg g;

	memset(&g, 0, sizeof(g));
	assert_int_equal(ep_parse(src, &g.src), 0);
	assert_int_equal(ep_parse(dst, &g.dst), 0);
	g.flags = flags;
	g.seq = 1000;
	g.win = 64240;
	g.t = t;
	g.link_id = id;
	g.fate = (uint8_t)fate;
	return g;
}

static struct msock *sock_at(struct model *m, const char *local, const char *peer)
{
	struct ep l, p;

	assert_int_equal(ep_parse(local, &l), 0);
	assert_int_equal(ep_parse(peer, &p), 0);
	return model_sock_by_tuple(m, &l, &p);
}

static void test_model_fates(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct diag_sock l;
	struct mseg g;

	(void)state;
	assert_non_null(m);
	model_init(m);
	model_add_port(m, 5000);
	model_diag_begin(m, T0);
	memset(&l, 0, sizeof(l));
	l.family = 2;
	assert_int_equal(ep_parse("10.0.0.1:5000", &l.local), 0);
	l.state = ST_LISTEN;
	assert_int_equal(model_diag_socket(m, &l), 0);
	model_diag_end(m, T0);
	/* A SYN held on the link: the server has not seen it. */
	g = link_seg("10.0.0.2:40000", "10.0.0.1:5000", TF_SYN, 7, FATE_HELD, T0 + MS(1));
	assert_int_equal(model_apply_segment(m, &g), 0);
	assert_null(sock_at(m, "10.0.0.1:5000", "10.0.0.2:40000"));
	assert_int_equal(sock_at(m, "10.0.0.2:40000", "10.0.0.1:5000")->state, ST_SYN_SENT);
	/* Released: now it has, at that moment; its socket shows with the
	 * SYN,ACK the server's kernel answers with (a listener whose queue
	 * is full answers nothing and makes none). */
	assert_int_equal(model_segment_fate(m, 7, FATE_RELEASED, T0 + MS(900)), 0);
	assert_int_equal(m->segs[0].fate, FATE_RELEASED);
	assert_int_equal(m->segs[0].t_out, T0 + MS(900));
	/* A SYN,ACK dropped: the server's end is in SYN_RECV from when it
	 * sent it; the client stays in SYN_SENT, for good. */
	g = link_seg("10.0.0.1:5000", "10.0.0.2:40000", TF_SYN | TF_ACK, 8, FATE_DROP_LOSS,
		     T0 + MS(901));
	assert_int_equal(model_apply_segment(m, &g), 0);
	assert_int_equal(sock_at(m, "10.0.0.1:5000", "10.0.0.2:40000")->state, ST_SYN_RECV);
	assert_int_equal(sock_at(m, "10.0.0.1:5000", "10.0.0.2:40000")->state_t, T0 + MS(901));
	assert_int_equal(sock_at(m, "10.0.0.2:40000", "10.0.0.1:5000")->state, ST_SYN_SENT);
	/* Sent again, delivered twice (one segment): ESTABLISHED. */
	g = link_seg("10.0.0.1:5000", "10.0.0.2:40000", TF_SYN | TF_ACK, 9, FATE_DUPLICATED,
		     T0 + MS(1901));
	assert_int_equal(model_apply_segment(m, &g), 0);
	assert_int_equal(sock_at(m, "10.0.0.2:40000", "10.0.0.1:5000")->state, ST_ESTABLISHED);
	/* The link sees each frame once: the same segment again 1 ms later
	 * is a frame of its own (loopback's capture would show it twice). */
	g = link_seg("10.0.0.1:5000", "10.0.0.2:40000", TF_SYN | TF_ACK, 10, FATE_PASSED,
		     T0 + MS(1902));
	assert_int_equal(model_apply_segment(m, &g), 0);
	assert_int_equal(m->nsegs, 4);
	/* A fate for a frame the model never had. */
	assert_int_equal(model_segment_fate(m, 99, FATE_PASSED, T0 + MS(2000)), -1);
	model_free(m);
	free(m);
}

/* Thousands in flight: each fate finds its segment. */
static void test_model_many_fates(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct mseg g;

	(void)state;
	assert_non_null(m);
	model_init(m);
	for (uint64_t id = 1; id <= 5000; id++) {
		g = link_seg("10.0.0.2:40000", "10.0.0.1:5000", TF_ACK, id * 2, FATE_INFLIGHT,
			     T0 + id);
		assert_int_equal(model_apply_segment(m, &g), 0);
	}
	for (uint64_t id = 1; id <= 5000; id++)
		assert_int_equal(model_segment_fate(m, id * 2, FATE_DELAYED, T0 + MS(50) + id), 0);
	for (int i = 0; i < m->nsegs; i++) {
		assert_int_equal(m->segs[i].fate, FATE_DELAYED);
		assert_int_equal(m->segs[i].t_out, T0 + MS(50) + (mtime_t)i + 1);
	}
	assert_int_equal(model_segment_fate(m, 3, FATE_DELAYED, T0), -1);
	model_free(m);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_impairment_passes_all_in_order, setup, teardown),
		cmocka_unit_test(test_loss_share_and_repeatable),
		cmocka_unit_test_setup_teardown(test_loss_ignores_other_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loss_every_kth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay_one_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jitter_keeps_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_and_tail_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_throughput, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_first_syn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_fifth_data_segment, setup, teardown),
		cmocka_unit_test(test_rule_kinds),
		cmocka_unit_test_setup_teardown(test_reorder_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reorder_alone_is_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_release_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_off_and_multicast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_parse, setup, teardown),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_spec_round_trip),
		cmocka_unit_test(test_fate_names),
		cmocka_unit_test(test_model_fates),
		cmocka_unit_test(test_model_many_fates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
