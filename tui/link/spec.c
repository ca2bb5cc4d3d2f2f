/* spec.c — parse and write the link's settings (see spec.h). Numbers
 * with a fraction are read digit by digit, not with strtod: the screen
 * sets a locale, and "0.5" must mean the same in every one. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hosts.h"
#include "link/spec.h"
#include "text.h"

static const char *const kind_names[LINK_KINDS] = {
	"any", "syn", "synack", "ack", "data", "fin", "rst"
};

const char *link_kind_name(enum link_kind kind)
{
	return kind >= 0 && kind < LINK_KINDS ? kind_names[kind] : "?";
}

/* "12.345" as value * 10^scale (digits past scale are cut off). Returns
 * the text after the number, or NULL when there is no number or it is
 * too large. */
static const char *fixed(const char *s, int scale, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0, frac = -1;

	for (;; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			break;
		digits++;
		if (frac >= 0 && frac >= scale)
			continue;
		if (v > (UINT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (frac >= 0)
			frac++;
	}
	if (digits == 0)
		return NULL;
	for (int i = frac < 0 ? 0 : frac; i < scale; i++) {
		if (v > UINT64_MAX / 10)
			return NULL;
		v *= 10;
	}
	*out = v;
	return s;
}

/* A time: a number and ns, us, ms or s (none: ms), at most 60 s. */
static int parse_time(const char *s, mtime_t *out)
{
	static const struct { const char *unit; uint64_t ns_per; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 }, { "", 1000000 },
	};
	uint64_t v;
	const char *rest = fixed(s, 3, &v);

	if (rest == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].ns_per)
			return -1;
		v = v * units[i].ns_per / 1000;
		if (v > 60 * NS_PER_S)
			return -1;
		*out = v;
		return 0;
	}
	return -1;
}

/* A percentage "2%" or "0.25%" as parts per million. */
static int parse_pct(const char *s, uint32_t *out)
{
	uint64_t v;
	const char *rest = fixed(s, 4, &v);

	if (rest == NULL || (strcmp(rest, "%") != 0 && !(strcmp(rest, "") == 0 && v == 0)) ||
	    v > 1000000)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A rate: a number and bit, kbit, mbit or gbit (k, m, g; none: kbit). */
static int parse_rate(const char *s, uint64_t *out)
{
	static const struct { const char *unit; uint64_t bps; } units[] = {
		{ "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
		{ "k", 1000 }, { "m", 1000000 }, { "g", 1000000000 }, { "", 1000 },
	};
	uint64_t v;
	const char *rest = fixed(s, 3, &v);

	if (rest == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].unit) != 0)
			continue;
		if (v > UINT64_C(100000000000000) / units[i].bps)
			return -1;
		/* Below 1 kbit/s a frame would take hours: refused, not 0. */
		if (v != 0 && v * units[i].bps / 1000 < 1000)
			return -1;
		*out = v * units[i].bps / 1000;
		return 0;
	}
	return -1;
}

static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	const char *rest = fixed(s, 0, &v);

	if (rest == NULL || *rest != '\0' || strchr(s, '.') != NULL || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "syn:1", "data:3-5", "data:3-", "fin:*". */
static int parse_rule(const char *s, struct link_rule *r)
{
	const char *colon = strchr(s, ':');
	char kind[16];
	size_t klen;
	uint64_t a, b;
	const char *dash;

	if (colon == NULL || (klen = (size_t)(colon - s)) == 0 || klen >= sizeof(kind))
		return -1;
	memcpy(kind, s, klen);
	kind[klen] = '\0';
	r->kind = LINK_KINDS;
	for (int k = 0; k < LINK_KINDS; k++)
		if (strcmp(kind, kind_names[k]) == 0)
			r->kind = (enum link_kind)k;
	if (strcmp(kind, "syn-ack") == 0)
		r->kind = LINK_SYNACK;
	if (r->kind == LINK_KINDS)
		return -1;
	s = colon + 1;
	if (strcmp(s, "*") == 0) {
		r->first = 1;
		r->last = UINT32_MAX;
		return 0;
	}
	dash = strchr(s, '-');
	if (dash == NULL) {
		if (parse_uint(s, 1, UINT32_MAX - 1, &a) < 0)
			return -1;
		r->first = r->last = (uint32_t)a;
		return 0;
	}
	{
		char first[24];
		size_t n = (size_t)(dash - s);

		if (n == 0 || n >= sizeof(first))
			return -1;
		memcpy(first, s, n);
		first[n] = '\0';
		if (parse_uint(first, 1, UINT32_MAX - 1, &a) < 0)
			return -1;
	}
	if (dash[1] == '\0') {
		b = UINT32_MAX;
	} else if (parse_uint(dash + 1, a, UINT32_MAX - 1, &b) < 0) {
		return -1;
	}
	r->first = (uint32_t)a;
	r->last = (uint32_t)b;
	return 0;
}

static int add_rule(struct link_config *cfg, int to, enum link_action action, const char *value,
                    char *err, size_t errsize, const char *key)
{
	struct link_rule r;

	memset(&r, 0, sizeof(r));
	if (parse_rule(value, &r) < 0) {
		snprintf(err, errsize, "bad %s=%s (KIND:WHICH, KIND one of syn synack ack data fin "
			 "rst any, WHICH 3, 3-5, 3- or *)", key, value);
		return -1;
	}
	if (cfg->nrules >= LINK_RULES_MAX) {
		snprintf(err, errsize, "too many rules (at most %d)", LINK_RULES_MAX);
		return -1;
	}
	r.to = to;
	r.action = action;
	cfg->rules[cfg->nrules++] = r;
	return 0;
}

/* Apply f to the directions in scope: one host, or all. */
#define FOR_SCOPE(cfg, to, p) \
	for (int i_ = (to) < 0 ? 0 : (to); i_ < ((to) < 0 ? LINK_PORTS_MAX : (to) + 1); i_++) \
		for (struct link_params *p = &(cfg)->dir[i_]; p != NULL; p = NULL)

static int item(struct link_config *cfg, int *to, const char *key, const char *value,
                const char *const *names, int nnames, char *err, size_t errsize)
{
	uint64_t u;
	mtime_t t;
	uint32_t ppm;

	if (strcmp(key, "to") == 0) {
		if (value == NULL || !hosts_name_ok(value)) {
			snprintf(err, errsize, "bad to=%s (a host name)", value ? value : "");
			return -1;
		}
		if (names == NULL) {
			*to = LINK_PORTS_MAX - 1;   /* a syntax check: somewhere */
			return 0;
		}
		for (int i = 0; i < nnames; i++)
			if (strcmp(names[i], value) == 0) {
				*to = i;
				return 0;
			}
		snprintf(err, errsize, "to=%s: no such host (the hosts:", value);
		for (int i = 0; i < nnames; i++) {
			text_append(err, errsize, " ");
			text_append(err, errsize, names[i]);
		}
		text_append(err, errsize, ")");
		return -1;
	}
	if (strcmp(key, "hold") == 0 && value == NULL) {
		cfg->hold = 1;
		return 0;
	}
	if (value == NULL || *value == '\0') {
		snprintf(err, errsize, "%s needs a value (%s=...)", key, key);
		return -1;
	}
	if (strcmp(key, "delay") == 0 || strcmp(key, "jitter") == 0) {
		if (parse_time(value, &t) < 0) {
			snprintf(err, errsize, "bad %s=%s (a time up to 60s: 40ms, 1.5s, 500us)",
				 key, value);
			return -1;
		}
		FOR_SCOPE(cfg, *to, p) {
			if (key[0] == 'd')
				p->delay = t;
			else
				p->jitter = t;
		}
		return 0;
	}
	if (strcmp(key, "loss") == 0) {
		if (strncmp(value, "every:", 6) == 0) {
			if (parse_uint(value + 6, 1, 1000000, &u) < 0) {
				snprintf(err, errsize, "bad loss=%s (every:K, K from 1)", value);
				return -1;
			}
			FOR_SCOPE(cfg, *to, p) {
				p->loss_every = (uint32_t)u;
				p->loss_ppm = 0;
			}
			return 0;
		}
		if (parse_pct(value, &ppm) < 0) {
			snprintf(err, errsize, "bad loss=%s (a percentage: 2%%, 0.5%%; or every:K)", value);
			return -1;
		}
		FOR_SCOPE(cfg, *to, p) {
			p->loss_ppm = ppm;
			p->loss_every = 0;
		}
		return 0;
	}
	if (strcmp(key, "rate") == 0) {
		if (parse_rate(value, &u) < 0) {
			snprintf(err, errsize, "bad rate=%s (2mbit, 500kbit, 1gbit; 0: no limit)", value);
			return -1;
		}
		FOR_SCOPE(cfg, *to, p)
			p->rate = u;
		return 0;
	}
	if (strcmp(key, "queue") == 0) {
		if (parse_uint(value, 1, 100000, &u) < 0) {
			snprintf(err, errsize, "bad queue=%s (frames, 1 to 100000)", value);
			return -1;
		}
		FOR_SCOPE(cfg, *to, p)
			p->queue = (uint32_t)u;
		return 0;
	}
	if (strcmp(key, "reorder") == 0 || strcmp(key, "dup") == 0) {
		int reorder = key[0] == 'r';

		if (strchr(value, ':') != NULL)
			return add_rule(cfg, *to, reorder ? LINK_REORDER : LINK_DUP, value, err,
					errsize, key);
		if (parse_pct(value, &ppm) < 0) {
			snprintf(err, errsize, "bad %s=%s (a percentage, or KIND:WHICH)", key, value);
			return -1;
		}
		FOR_SCOPE(cfg, *to, p) {
			if (reorder)
				p->reorder_ppm = ppm;
			else
				p->dup_ppm = ppm;
		}
		return 0;
	}
	if (strcmp(key, "drop") == 0)
		return add_rule(cfg, *to, LINK_DROP, value, err, errsize, key);
	if (strcmp(key, "hold") == 0) {
		if (strcmp(value, "on") == 0 || strcmp(value, "1") == 0) {
			cfg->hold = 1;
			return 0;
		}
		if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0) {
			cfg->hold = 0;
			return 0;
		}
		return add_rule(cfg, *to, LINK_HOLD, value, err, errsize, key);
	}
	if (strcmp(key, "seed") == 0) {
		if (parse_uint(value, 0, UINT64_MAX, &u) < 0) {
			snprintf(err, errsize, "bad seed=%s (a number)", value);
			return -1;
		}
		cfg->seed = u;
		return 0;
	}
	if (strcmp(key, "mtu") == 0) {
		if (parse_uint(value, HOST_MTU_MIN, HOST_MTU_MAX, &u) < 0) {
			snprintf(err, errsize, "bad mtu=%s (%d to %d)", value, HOST_MTU_MIN, HOST_MTU_MAX);
			return -1;
		}
		cfg->mtu = (int)u;
		return 0;
	}
	snprintf(err, errsize, "unknown link setting '%s' (delay jitter loss rate queue reorder "
		 "dup drop hold seed mtu to)", key);
	return -1;
}

int link_spec_parse(struct link_config *cfg, const char *spec, const char *const *names,
                    int nnames, char *err, size_t errsize)
{
	int to = -1;

	while (*spec != '\0') {
		char it[128], *eq;
		size_t n = strcspn(spec, ",");

		if (n == 0 || n >= sizeof(it)) {
			snprintf(err, errsize, n == 0 ? "empty item in '%s'" : "item too long in '%s'",
				 spec);
			return -1;
		}
		memcpy(it, spec, n);
		it[n] = '\0';
		spec += n;
		if (*spec == ',') {
			spec++;
			if (*spec == '\0') {
				snprintf(err, errsize, "a comma at the end");
				return -1;
			}
		}
		eq = strchr(it, '=');
		if (eq != NULL)
			*eq = '\0';
		if (item(cfg, &to, it, eq ? eq + 1 : NULL, names, nnames, err, errsize) < 0)
			return -1;
	}
	return 0;
}

/* ---- writing --------------------------------------------------------------------- */

char *link_time_text(mtime_t ns, char *buf, size_t size)
{
	if (ns % NS_PER_S == 0 && ns > 0)
		snprintf(buf, size, "%" PRIu64 "s", ns / NS_PER_S);
	else if (ns % NS_PER_MS == 0)
		snprintf(buf, size, "%" PRIu64 "ms", ns / NS_PER_MS);
	else if (ns % 1000 == 0)
		snprintf(buf, size, "%" PRIu64 "us", ns / 1000);
	else
		snprintf(buf, size, "%" PRIu64 "ns", ns);
	return buf;
}

char *link_ppm_text(uint32_t ppm, char *buf, size_t size)
{
	char frac[8];
	int n;

	if (ppm % 10000 == 0) {
		snprintf(buf, size, "%u%%", (unsigned)(ppm / 10000));
		return buf;
	}
	snprintf(frac, sizeof(frac), "%04u", (unsigned)(ppm % 10000));
	for (n = 4; n > 1 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, size, "%u.%s%%", (unsigned)(ppm / 10000), frac);
	return buf;
}

char *link_rate_text(uint64_t bps, char *buf, size_t size)
{
	if (bps == 0)
		snprintf(buf, size, "0");
	else if (bps % 1000000000 == 0)
		snprintf(buf, size, "%" PRIu64 "gbit", bps / 1000000000);
	else if (bps % 1000000 == 0)
		snprintf(buf, size, "%" PRIu64 "mbit", bps / 1000000);
	else if (bps % 1000 == 0)
		snprintf(buf, size, "%" PRIu64 "kbit", bps / 1000);
	else
		snprintf(buf, size, "%" PRIu64 "bit", bps);
	return buf;
}

static void put(char *buf, size_t size, int *full, const char *fmt, const char *a, const char *b)
{
	char part[LINK_SPEC_LEN];

	snprintf(part, sizeof(part), fmt, a, b);
	if (strlen(buf) + strlen(part) + 2 > size) {
		*full = 1;
		return;
	}
	if (buf[0] != '\0')
		text_append(buf, size, ",");
	text_append(buf, size, part);
}

/* The items of one direction that differ from the defaults. */
static void params_items(const struct link_params *p, char *buf, size_t size, int *full)
{
	struct link_params d;
	char v[32];

	link_params_default(&d);
	if (p->delay != d.delay)
		put(buf, size, full, "delay=%s%s", link_time_text(p->delay, v, sizeof(v)), "");
	if (p->jitter != d.jitter)
		put(buf, size, full, "jitter=%s%s", link_time_text(p->jitter, v, sizeof(v)), "");
	if (p->loss_every != 0) {
		snprintf(v, sizeof(v), "%u", (unsigned)p->loss_every);
		put(buf, size, full, "loss=every:%s%s", v, "");
	} else if (p->loss_ppm != d.loss_ppm) {
		put(buf, size, full, "loss=%s%s", link_ppm_text(p->loss_ppm, v, sizeof(v)), "");
	}
	if (p->rate != d.rate)
		put(buf, size, full, "rate=%s%s", link_rate_text(p->rate, v, sizeof(v)), "");
	if (p->queue != d.queue) {
		snprintf(v, sizeof(v), "%u", (unsigned)p->queue);
		put(buf, size, full, "queue=%s%s", v, "");
	}
	if (p->reorder_ppm != d.reorder_ppm)
		put(buf, size, full, "reorder=%s%s", link_ppm_text(p->reorder_ppm, v, sizeof(v)), "");
	if (p->dup_ppm != d.dup_ppm)
		put(buf, size, full, "dup=%s%s", link_ppm_text(p->dup_ppm, v, sizeof(v)), "");
}

static void rule_item(const struct link_rule *r, char *buf, size_t size, int *full)
{
	static const char *const actions[] = { "drop", "hold", "reorder", "dup" };
	char which[48], key[16];

	if (r->first == 1 && r->last == UINT32_MAX)
		snprintf(which, sizeof(which), "%s:*", link_kind_name(r->kind));
	else if (r->last == UINT32_MAX)
		snprintf(which, sizeof(which), "%s:%u-", link_kind_name(r->kind), (unsigned)r->first);
	else if (r->last == r->first)
		snprintf(which, sizeof(which), "%s:%u", link_kind_name(r->kind), (unsigned)r->first);
	else
		snprintf(which, sizeof(which), "%s:%u-%u", link_kind_name(r->kind),
			 (unsigned)r->first, (unsigned)r->last);
	snprintf(key, sizeof(key), "%s", actions[r->action]);
	put(buf, size, full, "%s=%s", key, which);
}

int link_spec_format(const struct link_config *cfg, const char *const *names, int nnames,
                     char *buf, size_t size)
{
	char v[32];
	int full = 0, same = 1;

	if (size == 0)
		return -1;
	buf[0] = '\0';
	if (cfg->seed != LINK_SEED_DEFAULT) {
		snprintf(v, sizeof(v), "%" PRIu64, cfg->seed);
		put(buf, size, &full, "seed=%s%s", v, "");
	}
	if (cfg->mtu != 0) {
		snprintf(v, sizeof(v), "%d", cfg->mtu);
		put(buf, size, &full, "mtu=%s%s", v, "");
	}
	if (cfg->hold)
		put(buf, size, &full, "hold%s%s", "", "");
	/* Rules for every direction first: they come before any to=. */
	for (int i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].to < 0)
			rule_item(&cfg->rules[i], buf, size, &full);
	for (int i = 1; i < nnames; i++)
		if (memcmp(&cfg->dir[i], &cfg->dir[0], sizeof(cfg->dir[0])) != 0)
			same = 0;
	if (same && nnames > 0)
		params_items(&cfg->dir[0], buf, size, &full);
	for (int i = 0; i < nnames; i++) {
		char part[LINK_SPEC_LEN] = "";
		int has_rule = 0;

		for (int k = 0; k < cfg->nrules; k++)
			has_rule |= cfg->rules[k].to == i;
		if (!same)
			params_items(&cfg->dir[i], part, sizeof(part), &full);
		if (part[0] == '\0' && !has_rule)
			continue;
		put(buf, size, &full, "to=%s%s", names[i], "");
		if (part[0] != '\0')
			put(buf, size, &full, "%s%s", part, "");
		for (int k = 0; k < cfg->nrules; k++)
			if (cfg->rules[k].to == i)
				rule_item(&cfg->rules[k], buf, size, &full);
	}
	return full ? -1 : 0;
}

void link_params_text(const struct link_params *p, char *buf, size_t size)
{
	int full = 0;
	char *s;

	buf[0] = '\0';
	params_items(p, buf, size, &full);
	if (buf[0] == '\0') {
		text_copy(buf, size, "no impairment");
		return;
	}
	for (s = buf; *s != '\0'; s++) {
		if (*s == ',')
			*s = ' ';
		else if (*s == '=')
			*s = ' ';
	}
}
