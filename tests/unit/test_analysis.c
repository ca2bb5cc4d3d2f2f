/* test_analysis.c — tui/analysis.c: the labels a TCP analysis tool puts
 * on segments, worked out from real captures.
 *
 * Each capture in data/analysis/ was made by two Linux TCP stacks on two
 * network namespaces, joined by a small userspace link that dropped or
 * held the frames it was told to, and wrote down every TCP frame with
 * its fate (data/analysis/README.md says how). The frames go through the
 * same decoder and model as the live wire; each test then checks the
 * labels of every frame of its capture: those that must carry a label
 * carry exactly that one, and every other frame carries none. A label
 * the logic gave wrongly, or missed, fails the test.
 *
 *   test_analysis                 run the tests
 *   test_analysis --print NAME    print a capture's frames with their labels
 */
// SOURCES: tui/model.c tui/sockets.c tui/tcpfsm.c tui/infer.c tui/compact.c tui/endpoint.c tui/dump.c tui/analysis.c tui/packet.c tui/fate.c
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "dump.h"
#include "model.h"
#include "packet.h"
#include "pkt.h"

#define FRAMES_MAX 1024
#define T0 ((mtime_t)1000 * NS_PER_S)

struct capture {
	struct model m;
	int nframes;
	int seg[FRAMES_MAX];   /* frame number -> index in m.segs */
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The directory of this file: the data lie beside it. */
static void data_path(const char *name, char *buf, size_t size)
{
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash != NULL ? (int)(slash - __FILE__) : 1;

	snprintf(buf, size, "%.*s/data/analysis/%s.cap", dir, slash != NULL ? __FILE__ : ".", name);
}

/* Added to the client's and the server's sequence numbers as a capture
 * is read (test_sequence_wrap): TCP's numbers count modulo 2^32 from a
 * random start, so the same connection may wrap anywhere. */
static uint32_t shift_client, shift_server;

static void shift_numbers(struct mseg *g, int from_client)
{
	uint32_t mine = from_client ? shift_client : shift_server;
	uint32_t theirs = from_client ? shift_server : shift_client;

	g->seq += mine;
	if (g->flags & TF_ACK)
		g->ack += theirs;
	for (int i = 0; i < g->nsack; i++) {
		g->sack[i][0] += theirs;
		g->sack[i][1] += theirs;
	}
}

/* Add one capture (format in data/analysis/bridge.py) to c's model, its
 * first upto lines (-1: all), later by toff; its frames are numbered on
 * from c->nframes. */
static int read_into(struct capture *c, const char *name, int upto, mtime_t toff)
{
	char path[512], line[1024], fate[16], hex[600];
	uint8_t frame[300];
	struct ep client = { 0 };
	int base = c->nframes;
	FILE *f;

	data_path(name, path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (upto != 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned long long us;
		struct mseg g;
		size_t n = 0;
		int num;

		if (line[0] == '#')
			continue;
		if (upto > 0)
			upto--;
		if (sscanf(line, "%llu release %d", &us, &num) == 2) {
			if (num < 0 || base + num >= c->nframes)
				goto bad;
			/* The link numbers its frames from 1, in order. */
			if (model_segment_fate(&c->m, (uint64_t)(base + num) + 1, FATE_RELEASED,
					       T0 + toff + (mtime_t)us * 1000) < 0)
				goto bad;
			continue;
		}
		if (sscanf(line, "%llu %15s %599s", &us, fate, hex) != 3 || c->nframes >= FRAMES_MAX)
			goto bad;
		for (; hex[2 * n] != '\0' && n < sizeof(frame); n++) {
			int hi = hexval(hex[2 * n]), lo = hexval(hex[2 * n + 1]);

			if (hi < 0 || lo < 0)
				goto bad;
			frame[n] = (uint8_t)(hi << 4 | lo);
		}
		if (packet_segment(SL_PKT_LINK_ETHERNET, frame, n, &g) < 0)
			goto bad;
		g.t = T0 + toff + (mtime_t)us * 1000;
		if (!ep_is_set(&client))
			client = g.src;
		shift_numbers(&g, ep_equal(&g.src, &client));
		/* The link that made them dropped frames by its rules. */
		g.fate = strcmp(fate, "drop") == 0 ? FATE_DROP_RULE :
			 strcmp(fate, "held") == 0 ? FATE_HELD : FATE_PASSED;
		g.link_id = (uint64_t)c->nframes + 1;
		c->seg[c->nframes++] = c->m.nsegs;
		if (model_apply_segment(&c->m, &g) < 0)
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	fprintf(stderr, "%s: a line that is not a frame: %s", path, line);
	fclose(f);
	model_free(&c->m);
	return -1;
}

/* One capture into a new model, its first upto lines (-1: all). */
static int load_upto(struct capture *c, const char *name, int upto)
{
	model_init(&c->m);
	c->nframes = 0;
	return read_into(c, name, upto, 0);
}

static int load(struct capture *c, const char *name)
{
	return load_upto(c, name, -1);
}

static const struct mseg *frame_seg(const struct capture *c, int i)
{
	return &c->m.segs[c->seg[i]];
}

static void print_capture(const char *name)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL || load(c, name) < 0) {
		free(c);
		return;
	}
	for (int i = 0; i < c->nframes; i++) {
		const struct mseg *g = frame_seg(c, i);
		char when[32], text[256];

		printf("%3d %s %s %s\n", i, dump_reltime(&c->m, g->t, when, sizeof(when)),
		       ep_equal(&g->src, &c->m.conns[0].a) ? "c>s" : "s>c",
		       dump_segment_text(g, text, sizeof(text)));
	}
	model_free(&c->m);
	free(c);
}

/* ---- the tests ---------------------------------------------------------------- */

static int setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	*state = c;
	return c == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	struct capture *c = *state;

	model_free(&c->m);
	free(c);
	return 0;
}

/* A frame's expected labels (AN_* bits, and n of duplicate ACK #n). */
struct want {
	int frame;
	uint32_t an;
	uint32_t dupack;
};

#define LABELS(g) ((g)->an & ~(uint32_t)AN_WIN_KNOWN)

/* Every frame of c carries exactly the labels w gives it (none when w
 * does not name it). */
static void check_labels(const struct capture *c, const struct want *w, int n)
{
	int bad = 0;

	for (int i = 0; i < c->nframes; i++) {
		const struct mseg *g = frame_seg(c, i);
		uint32_t an = 0, dupack = 0;
		char got[160], text[256];

		for (int k = 0; k < n; k++)
			if (w[k].frame == i) {
				an = w[k].an;
				dupack = w[k].dupack;
			}
		if (LABELS(g) == an && g->dupack == dupack)
			continue;
		analysis_labels(g, 0, got, sizeof(got));
		print_message("frame %d: labels 0x%x (want 0x%x), dupack %u (want %u): %s\n", i,
			      (unsigned)LABELS(g), (unsigned)an, (unsigned)g->dupack, (unsigned)dupack,
			      dump_segment_text(g, text, sizeof(text)));
		bad++;
	}
	assert_int_equal(bad, 0);
}

static int count_fate(const struct capture *c, int fate)
{
	int n = 0;

	for (int i = 0; i < c->nframes; i++)
		n += frame_seg(c, i)->fate == fate;
	return n;
}

/* The first SYN dropped: the kernel sends it again a second later (its
 * initial retransmission timeout), a retransmission. Then the second of
 * two data segments dropped, with the FIN behind it: the receiver misses
 * bytes before the FIN (previous segment lost) and asks again with a
 * duplicate ACK whose SACK block holds the FIN; the sender resends at
 * once (fast retransmission) — dropped too — and then only when its
 * timer fires, 200 ms on: a plain retransmission. */
static void test_rto(void **state)
{
	struct capture *c = *state;
	static const struct want w[] = {
		{ 1, AN_RETRANS, 0 },
		{ 7, AN_PREV_LOST, 0 },
		{ 8, AN_DUP_ACK, 1 },
		{ 9, AN_RETRANS | AN_FAST_RETRANS, 0 },
		{ 10, AN_RETRANS, 0 },
	};

	assert_int_equal(load(c, "rto"), 0);
	assert_int_equal(c->nframes, 14);
	assert_int_equal(frame_seg(c, 0)->fate, FATE_DROP_RULE);
	assert_int_equal(frame_seg(c, 5)->fate, FATE_DROP_RULE);
	assert_int_equal(frame_seg(c, 9)->fate, FATE_DROP_RULE);
	assert_int_equal(count_fate(c, FATE_DROP_RULE), 3);
	check_labels(c, w, sizeof(w) / sizeof(w[0]));
	/* The resent SYN a second after the first; the last resend 200 ms
	 * or more after the duplicate ACK. */
	assert_true(frame_seg(c, 1)->t - frame_seg(c, 0)->t >= 900 * NS_PER_MS);
	assert_true(frame_seg(c, 10)->t - frame_seg(c, 8)->t >= 200 * NS_PER_MS);
	/* The SACK block is the FIN's one sequence number, relative. */
	assert_int_equal(frame_seg(c, 8)->nsack, 1);
	assert_int_equal(frame_seg(c, 8)->rsack[0][0], 2001);
	assert_int_equal(frame_seg(c, 8)->rsack[0][1], 2002);
}

/* The 30th data segment of a bulk transfer dropped: the next one is
 * "previous segment lost"; every ACK after the one that first stops at
 * the hole is a duplicate, numbered, with a SACK block that grows; the
 * sender resends exactly the dropped bytes, a fast retransmission. */
static void test_fast_retransmission(void **state)
{
	struct capture *c = *state;
	static const struct want w[] = {
		{ 53, AN_PREV_LOST, 0 },
		{ 57, AN_DUP_ACK, 1 },
		{ 59, AN_DUP_ACK, 2 },
		{ 65, AN_DUP_ACK, 3 },
		{ 77, AN_DUP_ACK, 4 },
		{ 78, AN_RETRANS | AN_FAST_RETRANS, 0 },
	};
	const struct mseg *lost, *again;
	char text[256];

	assert_int_equal(load(c, "fastretx"), 0);
	assert_int_equal(count_fate(c, FATE_DROP_RULE), 1);
	lost = frame_seg(c, 52);
	again = frame_seg(c, 78);
	assert_int_equal(lost->fate, FATE_DROP_RULE);
	check_labels(c, w, sizeof(w) / sizeof(w[0]));
	/* Exactly the dropped bytes again. */
	assert_int_equal(again->seq, lost->seq);
	assert_int_equal(again->len, lost->len);
	/* The duplicate ACKs ask for the dropped bytes and SACK those after
	 * them, relative to the client's first sequence number. */
	assert_int_equal(frame_seg(c, 57)->rack, lost->rseq);
	assert_int_equal(frame_seg(c, 57)->rsack[0][0], lost->rseq + lost->len);
	assert_int_equal(frame_seg(c, 57)->rsack[0][1], 46337);
	assert_int_equal(frame_seg(c, 77)->rsack[0][1], 69505);
	assert_string_equal(dump_segment_text(frame_seg(c, 57), text, sizeof(text)),
			    "ACK seq=1 ack=41993 win=48128 <SACK 43441-46337> [TCP duplicate ACK #1]");
	assert_string_equal(dump_segment_text(lost, text, sizeof(text)),
			    "ACK seq=41993 ack=1 win=64512 len=1448 [dropped-rule]");
}

/* The receiver's first 7 ACKs dropped: the sender, hearing nothing,
 * resends its last segment; the receiver had acknowledged it (in an ACK
 * the link dropped): a spurious retransmission, which the receiver's
 * duplicate SACK (below its ACK number) confirms. */
static void test_spurious_retransmission(void **state)
{
	struct capture *c = *state;
	static const struct want w[] = {
		{ 17, AN_RETRANS | AN_SPURIOUS, 0 },
		{ 18, AN_DSACK, 0 },
	};

	assert_int_equal(load(c, "spurious"), 0);
	assert_int_equal(count_fate(c, FATE_DROP_RULE), 7);
	check_labels(c, w, sizeof(w) / sizeof(w[0]));
	/* What it resent lies below what the dropped ACK had acknowledged. */
	assert_true(frame_seg(c, 17)->rseq + frame_seg(c, 17)->len <= frame_seg(c, 16)->rack);
	/* So it is spurious the moment it is sent, before the D-SACK. */
	model_free(&c->m);
	assert_int_equal(load_upto(c, "spurious", 18), 0);
	assert_int_equal(c->nframes, 18);
	assert_int_equal(LABELS(frame_seg(c, 17)), AN_RETRANS | AN_SPURIOUS);
}

/* A receiver with a tiny buffer that reads nothing for 6 s: the sender
 * fills its window (window full), the receiver advertises a zero window,
 * the sender probes it with a byte-behind segment (zero-window probe),
 * answered with the zero window again; then the reader reads: a window
 * update, and the transfer goes on, each segment filling the 2896-byte
 * window. Two retransmissions turn out spurious only when the receiver's
 * duplicate SACK says so, later. */
static void test_zero_window(void **state)
{
	struct capture *c = *state;
	struct want w[80];
	int n = 0;

	w[n++] = (struct want){ 4, AN_WIN_FULL, 0 };
	w[n++] = (struct want){ 6, AN_WIN_FULL, 0 };
	w[n++] = (struct want){ 7, AN_RETRANS | AN_SPURIOUS | AN_WIN_FULL, 0 };
	w[n++] = (struct want){ 8, AN_ZERO_WINDOW | AN_DSACK, 0 };
	w[n++] = (struct want){ 9, AN_ZW_PROBE, 0 };
	w[n++] = (struct want){ 10, AN_ZERO_WINDOW, 0 };
	w[n++] = (struct want){ 11, AN_ZW_PROBE, 0 };
	w[n++] = (struct want){ 12, AN_ZW_PROBE, 0 };
	w[n++] = (struct want){ 13, AN_ZERO_WINDOW, 0 };
	w[n++] = (struct want){ 14, AN_ZW_PROBE, 0 };
	w[n++] = (struct want){ 15, AN_ZERO_WINDOW, 0 };
	w[n++] = (struct want){ 16, AN_WIN_UPDATE, 0 };
	for (int i = 18; i <= 146; i += 2)
		w[n++] = (struct want){ i, AN_WIN_FULL, 0 };
	w[n++] = (struct want){ 150, AN_RETRANS | AN_SPURIOUS, 0 };
	w[n++] = (struct want){ 153, AN_DSACK, 0 };
	assert_true(n <= (int)(sizeof(w) / sizeof(w[0])));

	assert_int_equal(load(c, "zerowin"), 0);
	assert_int_equal(c->nframes, 154);
	check_labels(c, w, n);
	/* Windows in bytes: the server asked for no scaling (ws 0), the
	 * client for 2^10; a SYN's own window is never scaled. */
	assert_int_equal(frame_seg(c, 0)->rwin, 64240);
	assert_int_equal(frame_seg(c, 1)->rwin, 2896);
	assert_int_equal(frame_seg(c, 16)->rwin, 2896);
	assert_int_equal(frame_seg(c, 17)->win, 63);
	assert_int_equal(frame_seg(c, 17)->rwin, 63 * 1024);
	/* The window full segments end where the window ends. */
	assert_int_equal(frame_seg(c, 6)->rseq + frame_seg(c, 6)->len,
			 frame_seg(c, 5)->rack + frame_seg(c, 5)->rwin);
	/* The early resend is not known to be spurious until the D-SACK. */
	model_free(&c->m);
	assert_int_equal(load_upto(c, "zerowin", 8), 0);
	assert_int_equal(LABELS(frame_seg(c, 7)), AN_RETRANS | AN_WIN_FULL);
}

/* Every capture again, its numbers moved so that both directions pass
 * 2^32 (the server's at once, the client's 3,000, 20,000 or 45,000
 * bytes in): the same labels on every frame. */
static void test_sequence_wrap(void **state)
{
	static const char *const names[] = {
		"rto", "fastretx", "spurious", "zerowin", "keepalive", "reorder", "reset", "slowack",
	};
	static const uint32_t at[] = { 3000, 20000, 45000 };
	struct capture *c = *state, *moved = calloc(1, sizeof(*moved));
	int labelled = 0;

	assert_non_null(moved);
	for (size_t k = 0; k < 3 * sizeof(names) / sizeof(names[0]); k++) {
		assert_int_equal(load(c, names[k / 3]), 0);
		shift_client = (uint32_t)0 - at[k % 3] - frame_seg(c, 0)->seq;
		shift_server = (uint32_t)0 - 1 - frame_seg(c, 1)->seq;
		assert_int_equal(load(moved, names[k / 3]), 0);
		shift_client = shift_server = 0;
		assert_int_equal(moved->nframes, c->nframes);
		for (int i = 0; i < c->nframes; i++) {
			const struct mseg *a = frame_seg(c, i), *b = frame_seg(moved, i);

			if (a->an != b->an || a->dupack != b->dupack || a->rseq != b->rseq ||
			    a->rack != b->rack)
				fail_msg("%s frame %d: 0x%x #%u moved: 0x%x #%u", names[k / 3], i,
					 (unsigned)a->an, (unsigned)a->dupack, (unsigned)b->an,
					 (unsigned)b->dupack);
			labelled += LABELS(a) != 0;
		}
		model_free(&c->m);
		model_free(&moved->m);
	}
	free(moved);
	assert_true(labelled > 300);
}

/* Keep-alive after 1 s idle, every second: one byte behind, no data;
 * the answers are not duplicate ACKs (nothing is outstanding). */
static void test_keepalive(void **state)
{
	struct capture *c = *state;
	static const struct want w[] = {
		{ 5, AN_KEEPALIVE, 0 },
		{ 7, AN_KEEPALIVE, 0 },
		{ 9, AN_KEEPALIVE, 0 },
	};

	assert_int_equal(load(c, "keepalive"), 0);
	check_labels(c, w, sizeof(w) / sizeof(w[0]));
	assert_int_equal(frame_seg(c, 5)->rseq, frame_seg(c, 4)->rack - 1);
}

/* Reordering. The 10th data segment overtaken by the next two (written
 * where it left the link, late): the first of those is "previous segment
 * lost", the late one out-of-order, and the duplicate ACKs in between
 * make the sender resend it, needlessly (the receiver has acknowledged
 * it by then; its duplicate SACK says so too). The 40th is held on the
 * link until three more have passed: "held" while it waits, out-of-order
 * once it is let go. */
static void test_reorder_and_hold(void **state)
{
	struct capture *c = *state;
	static const struct want w[] = {
		{ 21, AN_PREV_LOST, 0 },
		{ 23, AN_OUT_OF_ORDER, 0 },
		{ 24, AN_DUP_ACK, 1 },
		{ 26, AN_DUP_ACK, 2 },
		{ 47, AN_RETRANS | AN_SPURIOUS, 0 },
		{ 49, AN_DSACK, 0 },
		{ 68, AN_OUT_OF_ORDER, 0 },
		{ 69, AN_PREV_LOST, 0 },
		{ 73, AN_DUP_ACK, 1 },
		{ 75, AN_DUP_ACK, 2 },
		{ 90, AN_RETRANS | AN_SPURIOUS, 0 },
		{ 92, AN_DSACK, 0 },
		{ 100, AN_WIN_FULL, 0 },
	};
	char text[256];

	assert_int_equal(load(c, "reorder"), 0);
	check_labels(c, w, sizeof(w) / sizeof(w[0]));
	assert_int_equal(frame_seg(c, 68)->fate, FATE_RELEASED);
	assert_int_equal(count_fate(c, FATE_HELD), 0);
	model_free(&c->m);
	/* The same capture up to the frames before the release: held. */
	assert_int_equal(load_upto(c, "reorder", 73), 0);
	assert_int_equal(c->nframes, 73);
	assert_int_equal(frame_seg(c, 68)->fate, FATE_HELD);
	assert_int_equal(LABELS(frame_seg(c, 68)), 0);
	assert_string_equal(analysis_labels(frame_seg(c, 68), 0, text, sizeof(text)), "");
	assert_non_null(strstr(dump_segment_text(frame_seg(c, 68), text, sizeof(text)), " [held]"));
	assert_int_equal(LABELS(frame_seg(c, 69)), AN_PREV_LOST);
}

/* The receiver's ACKs take 150 ms through the link: the sender answers
 * the duplicate ACK 200 ms after the link saw it go by, which is still a
 * fast retransmission (the handshake showed the sender's side of the
 * link to be 150 ms away); its timer fires much later. */
static void test_slow_acks(void **state)
{
	struct capture *c = *state;
	static const struct want w[] = {
		{ 6, AN_PREV_LOST, 0 },
		{ 7, AN_DUP_ACK, 1 },
		{ 8, AN_RETRANS | AN_FAST_RETRANS, 0 },
		{ 9, AN_RETRANS, 0 },
	};

	assert_int_equal(load(c, "slowack"), 0);
	assert_int_equal(frame_seg(c, 4)->fate, FATE_DROP_RULE);
	assert_int_equal(frame_seg(c, 8)->fate, FATE_DROP_RULE);
	check_labels(c, w, sizeof(w) / sizeof(w[0]));
	assert_true(frame_seg(c, 8)->t - frame_seg(c, 7)->t > 150 * NS_PER_MS);
	assert_true(frame_seg(c, 9)->t - frame_seg(c, 7)->t > 500 * NS_PER_MS);
}

/* Data both ways at once (an echo), then the client closes with data
 * unread and its kernel answers everything with a reset: nothing here
 * is a retransmission, a duplicate ACK, a zero window or a window update
 * (a data segment repeats the ACK number; a reset carries window 0). */
static void test_echo_and_reset(void **state)
{
	struct capture *c = *state;
	int data[2] = { 0, 0 }, rst = 0;

	assert_int_equal(load(c, "reset"), 0);
	check_labels(c, NULL, 0);
	for (int i = 0; i < c->nframes; i++) {
		const struct mseg *g = frame_seg(c, i);

		data[ep_equal(&g->src, &frame_seg(c, 0)->src)] += g->len > 0;
		rst += (g->flags & TF_RST) && g->win == 0;
	}
	assert_true(data[0] > 10 && data[1] > 10);
	assert_true(rst > 5);
}

/* Without the handshake the window scale is not known: the window is
 * shown as sent, marked, and nothing that needs bytes (window full) is
 * claimed. */
static void test_scale_unknown_midstream(void **state)
{
	struct capture *c = *state;
	FILE *f;
	char path[512], line[1024], text[256];
	int n = 0, full = 0;

	/* zerowin.cap without its first 3 frames (the handshake). */
	data_path("zerowin", path, sizeof(path));
	f = fopen(path, "r");
	assert_non_null(f);
	model_init(&c->m);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long us;
		char fate[16], hex[600];
		uint8_t frame[300];
		size_t k = 0;
		struct mseg g;

		if (line[0] == '#' || n++ < 3)
			continue;
		assert_int_equal(sscanf(line, "%llu %15s %599s", &us, fate, hex), 3);
		for (; hex[2 * k] != '\0' && k < sizeof(frame); k++)
			frame[k] = (uint8_t)(hexval(hex[2 * k]) << 4 | hexval(hex[2 * k + 1]));
		assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, frame, k, &g), 0);
		g.t = T0 + (mtime_t)us * 1000;
		g.fate = FATE_PASSED;
		assert_int_equal(model_apply_segment(&c->m, &g), 0);
	}
	fclose(f);
	for (int i = 0; i < c->m.nsegs; i++) {
		assert_false(c->m.segs[i].an & AN_WIN_KNOWN);
		full += (c->m.segs[i].an & AN_WIN_FULL) != 0;
	}
	assert_int_equal(full, 0);
	/* The first data segment, as it was sent: 63, unscaled. */
	dump_segment_text(&c->m.segs[0], text, sizeof(text));
	assert_non_null(strstr(text, " win=63*? "));
	/* Zero is zero at any scale; the probes still show. */
	assert_true(c->m.segs[5].an & AN_ZERO_WINDOW);
	assert_true(c->m.segs[6].an & AN_ZW_PROBE);
}

/* A capture on lo sees each frame twice, and the model keeps one; the
 * link sees each once, so two equal segments from it are two (duplicate
 * ACKs without SACK blocks look exactly alike). */
static void test_link_segments_never_merged(void **state)
{
	struct capture *c = *state;
	struct mseg g[3];
	struct model *m = &c->m;

	assert_int_equal(load(c, "keepalive"), 0);
	/* The handshake's ACK (frame 2) twice, within a microsecond. */
	for (int i = 0; i < 3; i++)
		g[i] = *frame_seg(c, i);
	model_free(m);
	model_init(m);
	for (int i = 0; i < 3; i++) {
		g[i].fate = FATE_NONE;
		assert_int_equal(model_apply_segment(m, &g[i]), 0);
	}
	g[2].t += 1000;
	assert_int_equal(model_apply_segment(m, &g[2]), 0);
	assert_int_equal(m->nsegs, 3);
	model_free(m);
	model_init(m);
	for (int i = 0; i < 3; i++) {
		g[i].fate = FATE_PASSED;
		assert_int_equal(model_apply_segment(m, &g[i]), 0);
	}
	assert_int_equal(model_apply_segment(m, &g[2]), 0);
	assert_int_equal(m->nsegs, 4);
}

/* The same 4-tuple used again (a connection after the first one's
 * TIME_WAIT): rto.cap twice, the second time 70 s later with other
 * sequence numbers. The second connection's SYN is no retransmission;
 * its frames get exactly the labels they get alone. */
static void test_four_tuple_reused(void **state)
{
	struct capture *c = *state;
	uint32_t labels[32], dupack[32];
	int n;

	assert_int_equal(load(c, "rto"), 0);
	n = c->nframes;
	assert_true(n <= 32);
	for (int i = 0; i < n; i++) {
		labels[i] = frame_seg(c, i)->an;
		dupack[i] = frame_seg(c, i)->dupack;
	}
	shift_client = 1000000;
	shift_server = 2000000;
	assert_int_equal(read_into(c, "rto", -1, 70 * NS_PER_S), 0);
	shift_client = shift_server = 0;
	assert_int_equal(c->nframes, 2 * n);
	assert_int_equal(c->m.nconns, 1);
	for (int i = 0; i < n; i++) {
		assert_int_equal(frame_seg(c, n + i)->an, labels[i]);
		assert_int_equal(frame_seg(c, n + i)->dupack, dupack[i]);
	}
}

/* TCP_INFO samples are kept in order; past SAMPLE_MAX the oldest half
 * goes, as for segments. */
static void test_samples_bounded(void **state)
{
	struct capture *c = *state;
	struct msample sm;

	model_init(&c->m);
	memset(&sm, 0, sizeof(sm));
	assert_int_equal(ep_parse("127.0.0.1:40000", &sm.local), 0);
	assert_int_equal(ep_parse("127.0.0.1:5000", &sm.peer), 0);
	for (uint32_t i = 0; i <= SAMPLE_MAX; i++) {
		sm.t = T0 + i;
		sm.cwnd = i;
		assert_int_equal(model_tcp_sample(&c->m, &sm), 0);
	}
	assert_int_equal(c->m.nsamples, SAMPLE_MAX / 2 + 1);
	assert_int_equal(c->m.samples[0].cwnd, SAMPLE_MAX / 2);
	assert_int_equal(c->m.samples[c->m.nsamples - 1].cwnd, SAMPLE_MAX);
	assert_true(c->m.now == T0 + SAMPLE_MAX);
}

/* The words: full and brief, the worst first. */
static void test_words(void **state)
{
	struct mseg g;
	char buf[160];

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_string_equal(analysis_labels(&g, 0, buf, sizeof(buf)), "");
	g.fate = FATE_DROP_RULE;   /* the fate is no label: the ladder draws it */
	g.an = AN_RETRANS | AN_FAST_RETRANS | AN_PREV_LOST;
	assert_string_equal(analysis_labels(&g, 0, buf, sizeof(buf)),
			    "fast retransmission, previous segment lost");
	assert_string_equal(analysis_labels(&g, 1, buf, sizeof(buf)), "fast retrans, prev lost");
	g.fate = FATE_NONE;
	g.an = AN_DUP_ACK | AN_ZERO_WINDOW;
	g.dupack = 12;
	assert_string_equal(analysis_labels(&g, 0, buf, sizeof(buf)), "duplicate ACK #12, zero window");
	assert_string_equal(analysis_labels(&g, 1, buf, sizeof(buf)), "dup ACK #12, zero win");
	g.an = AN_RETRANS | AN_SPURIOUS;
	assert_string_equal(analysis_labels(&g, 0, buf, sizeof(buf)), "spurious retransmission");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--print") == 0) {
		print_capture(argv[2]);
		return 0;
	}
	{
		const struct CMUnitTest tests[] = {
			cmocka_unit_test_setup_teardown(test_rto, setup, teardown),
			cmocka_unit_test_setup_teardown(test_fast_retransmission, setup, teardown),
			cmocka_unit_test_setup_teardown(test_spurious_retransmission, setup, teardown),
			cmocka_unit_test_setup_teardown(test_zero_window, setup, teardown),
			cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
			cmocka_unit_test_setup_teardown(test_sequence_wrap, setup, teardown),
			cmocka_unit_test_setup_teardown(test_reorder_and_hold, setup, teardown),
			cmocka_unit_test_setup_teardown(test_slow_acks, setup, teardown),
			cmocka_unit_test_setup_teardown(test_echo_and_reset, setup, teardown),
			cmocka_unit_test_setup_teardown(test_scale_unknown_midstream, setup, teardown),
			cmocka_unit_test_setup_teardown(test_link_segments_never_merged, setup, teardown),
			cmocka_unit_test_setup_teardown(test_four_tuple_reused, setup, teardown),
			cmocka_unit_test_setup_teardown(test_samples_bounded, setup, teardown),
			cmocka_unit_test(test_words),
		};

		return cmocka_run_group_tests(tests, NULL, NULL);
	}
}
