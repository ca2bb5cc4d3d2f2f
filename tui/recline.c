/* recline.c — encode values and parse recorded lines (see record.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "text.h"

#define VAL_MAX (REC_SPEC_LEN + 16)

static int plain(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '%' && c != '=';
}

void rec_encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (size == 0)
		return;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (plain(c)) {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= size)
				break;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct field {
	char key[32];
	char val[VAL_MAX];
};

#define FIELDS_MAX 24

/* Split "v1 k=v k=v" into decoded fields. Returns the count, or -1. */
static int split(const char *line, size_t len, struct field *f, int max)
{
	size_t i = 2;
	int n = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len < 2 || line[0] != 'v' || line[1] != '1')
		return -1;
	while (i < len) {
		size_t k = 0, v = 0;

		if (line[i] != ' ' || n >= max)
			return -1;
		i++;
		if (i >= len || line[i] < 'a' || line[i] > 'z')
			return -1;
		while (i < len && line[i] != '=') {
			char c = line[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ||
			    k + 1 >= sizeof(f[n].key))
				return -1;
			f[n].key[k++] = c;
			i++;
		}
		if (i >= len)
			return -1;
		f[n].key[k] = '\0';
		i++;
		while (i < len && line[i] != ' ') {
			unsigned char c = (unsigned char)line[i];

			if (v + 1 >= sizeof(f[n].val))
				return -1;
			if (c == '%') {
				int hi, lo;

				if (i + 2 >= len || (hi = hexval(line[i + 1])) < 0 ||
				    (lo = hexval(line[i + 2])) < 0 || (hi == 0 && lo == 0))
					return -1;
				f[n].val[v++] = (char)(hi * 16 + lo);
				i += 3;
			} else if (plain(c)) {
				f[n].val[v++] = (char)c;
				i++;
			} else {
				return -1;
			}
		}
		f[n].val[v] = '\0';
		n++;
	}
	return n;
}

static const char *get(const struct field *f, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].val;
	return NULL;
}

/* A decimal (or "0x" hex) number in [min, max]; absent: dflt. */
static int num(const struct field *f, int n, const char *key, long long min,
               long long max, long long dflt, long long *out)
{
	const char *s = get(f, n, key);
	char *end;
	long long v;

	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	if (*s == '\0')
		return -1;
	errno = 0;
	if (strncmp(s, "0x", 2) == 0)
		v = (long long)strtoull(s + 2, &end, 16);
	else
		v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* An unsigned 64-bit decimal, at least min; absent: 0. */
static int unum(const struct field *f, int n, const char *key, uint64_t min, uint64_t *out)
{
	const char *s = get(f, n, key);
	char *end;

	*out = 0;
	if (s == NULL)
		return 0;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0' || *s == '\0' || *s == '-' || *out < min) ? -1 : 0;
}

static int time_of(const struct field *f, int n, mtime_t *t)
{
	const char *s = get(f, n, "t");
	char *end;

	*t = 0;
	if (s == NULL)
		return 0;
	errno = 0;
	*t = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0' || *s == '\0' || *s == '-') ? -1 : 0;
}

static enum rec_kind parse_header(const struct field *f, int n, struct rec_item *it)
{
	long long v;
	const char *s;

	if (num(f, n, "ver", 1, 1, 1, &v) < 0)
		return REC_BAD;
	if ((s = get(f, n, "mode")) != NULL)
		text_copy(it->header.mode, sizeof(it->header.mode), s);
	if ((s = get(f, n, "title")) != NULL)
		text_copy(it->header.title, sizeof(it->header.title), s);
	if (num(f, n, "ns", 0, 1, 0, &v) < 0)
		return REC_BAD;
	it->header.ns = (int)v;
	if (num(f, n, "wire", 0, 1, 0, &v) < 0)
		return REC_BAD;
	it->header.wire = (int)v;
	if (num(f, n, "infer", 0, 1, 0, &v) < 0)
		return REC_BAD;
	it->header.infer = (int)v;
	if ((s = get(f, n, "t0")) != NULL) {
		char *end;

		errno = 0;
		it->header.t0 = strtoull(s, &end, 10);
		if (errno != 0 || *end != '\0' || *s == '-')
			return REC_BAD;
	}
	return REC_HEADER;
}

static enum rec_kind parse_proc(const struct field *f, int n, struct rec_item *it)
{
	const char *ev = get(f, n, "ev"), *name = get(f, n, "name");
	long long v;

	if (ev == NULL || num(f, n, "pid", 1, INT32_MAX, -1, &v) < 0 || v < 1)
		return REC_BAD;
	it->pid = (int32_t)v;
	if (strcmp(ev, "start") == 0) {
		text_copy(it->text, sizeof(it->text), name != NULL ? name : "?");
		return REC_PROC_START;
	}
	if (strcmp(ev, "exit") == 0) {
		if (num(f, n, "code", -255, 255, 0, &v) < 0)
			return REC_BAD;
		it->code = (int)v;
		return REC_PROC_EXIT;
	}
	if (strcmp(ev, "go") == 0)
		return REC_PROC_GO;
	return REC_SKIP;
}

static int endpoint(const struct field *f, int n, const char *key, struct ep *ep, int need)
{
	const char *s = get(f, n, key);

	if (s == NULL)
		return need ? -1 : 0;
	return ep_parse(s, ep);
}

static enum rec_kind parse_diag(const struct field *f, int n, struct rec_item *it)
{
	const char *ev = get(f, n, "ev"), *s;
	struct diag_sock *d = &it->diag;
	long long v;

	if (ev == NULL)
		return REC_BAD;
	if (strcmp(ev, "begin") == 0)
		return REC_DIAG_BEGIN;
	if (strcmp(ev, "end") == 0)
		return REC_DIAG_END;
	if (strcmp(ev, "sock") != 0)
		return REC_SKIP;
	if (endpoint(f, n, "local", &d->local, 1) < 0 || endpoint(f, n, "peer", &d->peer, 0) < 0)
		return REC_BAD;
	d->family = d->local.family;
	if ((s = get(f, n, "state")) == NULL)
		return REC_BAD;
	d->state = sl_event_state_num(s);
	if (d->state < 0)
		return REC_BAD;
	if (num(f, n, "rq", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	d->rq = (uint32_t)v;
	if (num(f, n, "sq", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	d->sq = (uint32_t)v;
	if (num(f, n, "timer", 0, 255, 0, &v) < 0)
		return REC_BAD;
	d->timer = (int)v;
	if (num(f, n, "exp", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	d->expires_ms = (uint32_t)v;
	if (num(f, n, "inode", 0, INT64_MAX, 0, &v) < 0)
		return REC_BAD;
	d->inode = (uint64_t)v;
	if (num(f, n, "uid", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	d->uid = (uint32_t)v;
	return REC_DIAG_SOCK;
}

/* "L-R,L-R": up to SACK_MAX blocks; absent: none. */
static int sack_blocks(const char *s, struct mseg *g)
{
	g->nsack = 0;
	while (s != NULL && *s != '\0') {
		unsigned long long l, r;
		char *end;

		if (g->nsack == SACK_MAX || *s < '0' || *s > '9')
			return -1;
		errno = 0;
		l = strtoull(s, &end, 10);
		if (errno != 0 || *end != '-' || end[1] < '0' || end[1] > '9' || l > UINT32_MAX)
			return -1;
		r = strtoull(end + 1, &end, 10);
		if (errno != 0 || r > UINT32_MAX || (*end != ',' && *end != '\0') ||
		    (*end == ',' && end[1] == '\0'))
			return -1;
		g->sack[g->nsack][0] = (uint32_t)l;
		g->sack[g->nsack][1] = (uint32_t)r;
		g->nsack++;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static enum rec_kind parse_wire(const struct field *f, int n, struct rec_item *it)
{
	struct mseg *g = &it->seg;
	long long v;

	if (endpoint(f, n, "from", &g->src, 1) < 0 || endpoint(f, n, "to", &g->dst, 1) < 0)
		return REC_BAD;
	g->t = it->t;
	if (num(f, n, "flags", 0, 255, 0, &v) < 0)
		return REC_BAD;
	g->flags = (uint8_t)v;
	if (num(f, n, "seq", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	g->seq = (uint32_t)v;
	if (num(f, n, "ack", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	g->ack = (uint32_t)v;
	if (num(f, n, "win", 0, 65535, 0, &v) < 0)
		return REC_BAD;
	g->win = (uint16_t)v;
	if (num(f, n, "len", 0, UINT32_MAX, 0, &v) < 0)
		return REC_BAD;
	g->len = (uint32_t)v;
	if (num(f, n, "mss", -1, 65535, -1, &v) < 0)
		return REC_BAD;
	g->has_mss = v >= 0;
	g->mss = v >= 0 ? (uint16_t)v : 0;
	if (num(f, n, "ws", -1, 14, -1, &v) < 0)
		return REC_BAD;
	g->has_ws = v >= 0;
	g->ws = v >= 0 ? (uint8_t)v : 0;
	if (num(f, n, "sack", 0, 1, 0, &v) < 0)
		return REC_BAD;
	g->sack_ok = (int)v;
	if (num(f, n, "ts", 0, 1, 0, &v) < 0)
		return REC_BAD;
	g->has_ts = (int)v;
	if (num(f, n, "inferred", 0, 1, 0, &v) < 0)
		return REC_BAD;
	g->inferred = (int)v;
	if (sack_blocks(get(f, n, "blocks"), g) < 0)
		return REC_BAD;
	if (get(f, n, "fate") != NULL) {
		g->fate = (uint8_t)seg_fate_parse(get(f, n, "fate"));
		if (g->fate == (uint8_t)-1 || g->fate == FATE_NONE ||
		    unum(f, n, "id", 1, &g->link_id) < 0 || g->link_id == 0 ||
		    unum(f, n, "tout", 0, &g->t_out) < 0)
			return REC_BAD;
	}
	return REC_SEGMENT;
}

/* "src=tcpinfo": one socket's TCP_INFO. */
static enum rec_kind parse_tcpinfo(const struct field *f, int n, struct rec_item *it)
{
	static const char *const keys[] = {
		"cwnd", "ssthresh", "srtt", "rttvar", "mss", "inflight", "rwnd", "retrans",
	};
	struct msample *sm = &it->sample;
	uint32_t *vals[] = {
		&sm->cwnd, &sm->ssthresh, &sm->srtt_us, &sm->rttvar_us, &sm->mss,
		&sm->inflight, &sm->rwnd, &sm->retrans,
	};
	const char *s;
	long long v;

	if (endpoint(f, n, "local", &sm->local, 1) < 0 || endpoint(f, n, "peer", &sm->peer, 1) < 0)
		return REC_BAD;
	sm->t = it->t;
	if ((s = get(f, n, "state")) == NULL || (sm->state = sl_event_state_num(s)) < 0)
		return REC_BAD;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (num(f, n, keys[i], 0, UINT32_MAX, 0, &v) < 0)
			return REC_BAD;
		*vals[i] = (uint32_t)v;
	}
	if (num(f, n, "acked", 0, INT64_MAX, 0, &v) < 0)
		return REC_BAD;
	sm->acked = (uint64_t)v;
	if (num(f, n, "rcvd", 0, INT64_MAX, 0, &v) < 0)
		return REC_BAD;
	sm->received = (uint64_t)v;
	return REC_TCP_SAMPLE;
}

static enum rec_kind parse_link(const struct field *f, int n, struct rec_item *it)
{
	const char *ev = get(f, n, "ev"), *s;
	struct rec_link *l = &it->link;
	long long v;

	if (ev == NULL)
		return REC_BAD;
	if (strcmp(ev, "host") == 0) {
		if (num(f, n, "i", 0, 63, -1, &v) < 0 || v < 0 || (s = get(f, n, "name")) == NULL)
			return REC_BAD;
		l->index = (int)v;
		text_copy(l->name, sizeof(l->name), s);
		text_copy(l->addr4, sizeof(l->addr4), (s = get(f, n, "addr")) ? s : "");
		text_copy(l->addr6, sizeof(l->addr6), (s = get(f, n, "addr6")) ? s : "");
		return REC_LINK_HOST;
	}
	if (strcmp(ev, "settings") == 0) {
		if ((s = get(f, n, "spec")) == NULL)
			return REC_BAD;
		text_copy(l->spec, sizeof(l->spec), strcmp(s, "-") == 0 ? "" : s);
		return REC_LINK_SETTINGS;
	}
	if (strcmp(ev, "fate") == 0) {
		if ((s = get(f, n, "fate")) == NULL || (l->fate = seg_fate_parse(s)) <= FATE_NONE ||
		    unum(f, n, "id", 1, &l->id) < 0 || l->id == 0)
			return REC_BAD;
		return REC_LINK_FATE;
	}
	if (strcmp(ev, "key") == 0) {
		if ((s = get(f, n, "key")) == NULL || unum(f, n, "id", 0, &l->id) < 0)
			return REC_BAD;
		text_copy(l->key, sizeof(l->key), s);
		return REC_LINK_KEY;
	}
	return REC_SKIP;
}

enum rec_kind rec_parse_line(const char *line, size_t len, struct rec_item *it)
{
	struct field f[FIELDS_MAX];
	const char *src;
	int n;

	memset(it, 0, sizeof(*it));
	if (len >= 3 && memmem(line, len, " ph=", 4) != NULL) {
		if (sl_event_parse(line, len, &it->ev) < 0)
			return it->kind = REC_BAD;
		it->t = (it->ev.has & SL_EV_T) ? it->ev.t : 0;
		it->pid = it->ev.pid;
		return it->kind = REC_EVENT;
	}
	n = split(line, len, f, FIELDS_MAX);
	if (n < 0 || time_of(f, n, &it->t) < 0)
		return it->kind = REC_BAD;
	if (get(f, n, "rec") != NULL)
		return it->kind = parse_header(f, n, it);
	src = get(f, n, "src");
	if (src == NULL)
		return it->kind = REC_SKIP;
	if (strcmp(src, "proc") == 0)
		return it->kind = parse_proc(f, n, it);
	if (strcmp(src, "out") == 0) {
		long long v;
		const char *text = get(f, n, "text");

		if (num(f, n, "pid", 1, INT32_MAX, -1, &v) < 0 || v < 1)
			return it->kind = REC_BAD;
		it->pid = (int32_t)v;
		text_copy(it->text, sizeof(it->text), text != NULL ? text : "");
		return it->kind = REC_OUTPUT;
	}
	if (strcmp(src, "diag") == 0)
		return it->kind = parse_diag(f, n, it);
	if (strcmp(src, "wire") == 0)
		return it->kind = parse_wire(f, n, it);
	if (strcmp(src, "tcpinfo") == 0)
		return it->kind = parse_tcpinfo(f, n, it);
	if (strcmp(src, "link") == 0)
		return it->kind = parse_link(f, n, it);
	return it->kind = REC_SKIP;
}
