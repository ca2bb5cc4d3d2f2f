/* test_record.c — tui/record.c and tui/recline.c: the lines a recording
 * holds for a segment (with its SACK blocks and what the link did with
 * it) and for a TCP_INFO sample are read back as they were written;
 * recordings made before those keys existed still read; a line that
 * breaks them is refused, never half-trusted.
 */
// SOURCES: tui/record.c tui/recline.c tui/endpoint.c tui/fate.c
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* Write with the recorder into a temporary file; read its lines back. */
struct written {
	char path[64];
	struct recorder r;
	char lines[8][1024];
	int n;
};

static int setup(void **state)
{
	struct written *w = calloc(1, sizeof(*w));
	struct rec_header h;
	char err[256];
	int fd;

	if (w == NULL)
		return -1;
	snprintf(w->path, sizeof(w->path), "/tmp/test_record.XXXXXX");
	fd = mkstemp(w->path);
	if (fd < 0)
		return -1;
	close(fd);
	memset(&h, 0, sizeof(h));
	snprintf(h.mode, sizeof(h.mode), "run");
	if (rec_open(&w->r, w->path, &h, err, sizeof(err)) < 0)
		return -1;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct written *w = *state;

	rec_close(&w->r);
	unlink(w->path);
	free(w);
	return 0;
}

static void read_back(struct written *w)
{
	FILE *f;

	rec_close(&w->r);
	f = fopen(w->path, "r");
	assert_non_null(f);
	w->n = 0;
	while (w->n < 8 && fgets(w->lines[w->n], sizeof(w->lines[0]), f) != NULL)
		w->n++;
	fclose(f);
}

static enum rec_kind parse(const char *line, struct rec_item *it)
{
	return rec_parse_line(line, strlen(line), it);
}

static void test_segment_round_trip(void **state)
{
	struct written *w = *state;
	struct rec_item it;
	struct mseg g;

	memset(&g, 0, sizeof(g));
	g.t = 123456789;
	assert_int_equal(ep_parse("10.0.0.1:5000", &g.src), 0);
	assert_int_equal(ep_parse("10.0.0.2:40000", &g.dst), 0);
	g.flags = TF_ACK;
	g.seq = 4000000000u;
	g.ack = 17;
	g.win = 47;
	g.nsack = 2;
	g.sack[0][0] = 4294967000u;   /* across 2^32 */
	g.sack[0][1] = 1152;
	g.sack[1][0] = 3000;
	g.sack[1][1] = 4448;
	g.fate = FATE_DROP_RULE;
	g.link_id = 5;
	rec_segment(&w->r, &g);
	g.nsack = 0;
	g.fate = FATE_HELD;
	g.link_id = 6;
	rec_segment(&w->r, &g);
	read_back(w);
	assert_int_equal(w->n, 3);
	assert_non_null(strstr(w->lines[1], " blocks=4294967000-1152,3000-4448 id=5 fate=dropped-rule"));
	assert_int_equal(parse(w->lines[1], &it), REC_SEGMENT);
	assert_int_equal(it.seg.nsack, 2);
	assert_int_equal(it.seg.sack[0][0], 4294967000u);
	assert_int_equal(it.seg.sack[0][1], 1152);
	assert_int_equal(it.seg.sack[1][1], 4448);
	assert_int_equal(it.seg.fate, FATE_DROP_RULE);
	assert_int_equal(it.seg.link_id, 5);
	assert_int_equal(it.seg.seq, 4000000000u);
	assert_int_equal(parse(w->lines[2], &it), REC_SEGMENT);
	assert_int_equal(it.seg.nsack, 0);
	assert_int_equal(it.seg.fate, FATE_HELD);
}

static void test_segment_lines_old_and_bad(void **state)
{
	struct rec_item it;

	(void)state;
	/* Written before SACK blocks and the link: no blocks, no link. */
	assert_int_equal(parse("v1 src=wire t=5 from=127.0.0.1:1 to=127.0.0.1:2 flags=0x10 "
			       "seq=1 ack=1 win=64 len=0\n", &it), REC_SEGMENT);
	assert_int_equal(it.seg.nsack, 0);
	assert_int_equal(it.seg.fate, FATE_NONE);
	/* Broken: refused. */
	static const char *const bad[] = {
		"blocks=1-", "blocks=-2", "blocks=1-2,", "blocks=1-2,3-4,5-6,7-8,9-10",
		"blocks=99999999999-1", "blocks=x", "id=1 fate=lost", "id=1 fate=none",
		"fate=passed",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[256];

		snprintf(line, sizeof(line), "v1 src=wire t=5 from=127.0.0.1:1 to=127.0.0.1:2 "
			 "flags=0x10 seq=1 ack=1 win=64 len=0 %s", bad[i]);
		assert_int_equal(parse(line, &it), REC_BAD);
	}
}

static void test_sample_round_trip(void **state)
{
	struct written *w = *state;
	struct rec_item it;
	struct msample sm;

	memset(&sm, 0, sizeof(sm));
	sm.t = 987654321;
	assert_int_equal(ep_parse("127.0.0.1:40000", &sm.local), 0);
	assert_int_equal(ep_parse("127.0.0.1:5000", &sm.peer), 0);
	sm.state = ST_ESTABLISHED;
	sm.cwnd = 34;
	sm.ssthresh = 21;
	sm.srtt_us = 5321;
	sm.rttvar_us = 812;
	sm.mss = 1448;
	sm.inflight = 49232;
	sm.rwnd = 3145728;
	sm.retrans = 3;
	sm.acked = 5000000000ull;
	sm.received = 12;
	rec_tcp_sample(&w->r, &sm);
	read_back(w);
	assert_int_equal(w->n, 2);
	assert_int_equal(parse(w->lines[1], &it), REC_TCP_SAMPLE);
	assert_memory_equal(&it.sample, &sm, sizeof(sm));
	/* A line from a newer socklab, with a key this one does not know. */
	assert_int_equal(parse("v1 src=tcpinfo t=9 local=127.0.0.1:1 peer=127.0.0.1:2 "
			       "state=ESTABLISHED cwnd=10 pacing=7\n", &it), REC_TCP_SAMPLE);
	assert_int_equal(it.sample.cwnd, 10);
	assert_int_equal(parse("v1 src=tcpinfo t=9 local=127.0.0.1:1 state=ESTABLISHED cwnd=10\n",
			       &it), REC_BAD);
	assert_int_equal(parse("v1 src=tcpinfo t=9 local=127.0.0.1:1 peer=127.0.0.1:2 "
			       "state=ESTABLISHED cwnd=-1\n", &it), REC_BAD);
	assert_int_equal(parse("v1 src=tcpinfo t=9 local=127.0.0.1:1 peer=127.0.0.1:2 "
			       "state=NOPE cwnd=1\n", &it), REC_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_segment_round_trip, setup, teardown),
		cmocka_unit_test(test_segment_lines_old_and_bad),
		cmocka_unit_test_setup_teardown(test_sample_round_trip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
