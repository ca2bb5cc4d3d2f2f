/* bridge.c — the link source (see link.h): packet sockets with receive
 * rings on the hosts' veth ends, the engine between them, a timerfd for
 * frames that wait, the pcapng file, and the keys' actions. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "link/link.h"
#include "link/spec.h"
#include "packet.h"
#include "pcap_out.h"
#include "pkt.h"
#include "session.h"
#include "text.h"

/* Each host's receive ring: this many bytes of frames (a few thousand
 * frames: tens of milliseconds at a gigabit while the screen is drawn). */
#define RING_BYTES (8u << 20)
#define BLOCK_BYTES (64u << 10)
/* Frames read from one ring per pass: the other rings and the screen
 * get their turn. */
#define BATCH 512
/* Busy polling: after a frame, wait this long for the next before going
 * back to poll(); at most SPIN_MAX in one pass. */
#define SPIN_IDLE (30 * 1000)
#define SPIN_MAX (1000 * 1000)
#define SPIN_FRAMES 64
/* Lateness worth a note at the end (on average). */
#define LATE_NOTE (NS_PER_MS / 2)

struct port {
	int fd;
	unsigned char *ring;
	size_t ring_len;
	unsigned frame_size, frames, next;
	int ifindex;
};

struct linksrc {
	struct source base;
	struct hosts hs;
	struct link eng;
	struct port port[HOSTS_MAX];
	int tfd;
	mtime_t armed;             /* when the timer is set to fire (0: off) */
	struct pcap_out out;
	int pcap;
	int64_t real_minus_mono;
	uint64_t frames, missed, send_errors;
	mtime_t last_in;           /* arrival of the frame taken last */
	uint64_t late_n;           /* frames that waited, and how late they */
	mtime_t late_sum, late_max; /* left after their time */
};

static struct linksrc *of(struct source *src)
{
	return (struct linksrc *)src;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the engine's callbacks ------------------------------------------------------- */

static void on_send(void *ctx, int to, const unsigned char *data, size_t len)
{
	struct linksrc *k = ctx;

	if (to < 0 || to >= k->hs.n || k->port[to].fd < 0)
		return;
	if (send(k->port[to].fd, data, len, MSG_DONTWAIT) < 0)
		k->send_errors++;
}

/* The words a pcapng frame comment says about a frame's fate. */
static void fate_comment(const struct linksrc *k, const struct link_frame *f, char *buf,
                         size_t size)
{
	char rule[64] = "", delay[32];

	buf[0] = '\0';
	if (f->rule >= 0 && f->rule < k->eng.cfg.nrules) {
		const struct link_rule *r = &k->eng.cfg.rules[f->rule];
		static const char *const act[] = { "drop", "hold", "reorder", "dup" };

		snprintf(rule, sizeof(rule), " (rule %s=%s:", act[r->action], link_kind_name(r->kind));
		if (r->first == 1 && r->last == UINT32_MAX)
			text_append(rule, sizeof(rule), "*)");
		else {
			char n[24];

			snprintf(n, sizeof(n), "%u)", (unsigned)r->first);
			text_append(rule, sizeof(rule), n);
		}
	}
	switch (f->fate) {
	case FATE_PASSED:
		return;
	case FATE_DELAYED:
		snprintf(buf, size, "socklab link: delayed %s",
			 link_time_text(f->t_out - f->t_in, delay, sizeof(delay)));
		return;
	case FATE_DROP_LOSS:
		snprintf(buf, size, "socklab link: dropped (loss)");
		return;
	case FATE_DROP_QUEUE:
		snprintf(buf, size, "socklab link: dropped (queue full, tail drop)");
		return;
	case FATE_DROP_RULE:
		snprintf(buf, size, "socklab link: dropped%s", rule);
		return;
	case FATE_DROP_HAND:
		snprintf(buf, size, "socklab link: dropped by hand");
		return;
	case FATE_RELEASED:
		snprintf(buf, size, "socklab link: held, released after %s",
			 link_time_text(f->t_out - f->t_in, delay, sizeof(delay)));
		return;
	default:
		snprintf(buf, size, "socklab link: %s%s", seg_fate_name(f->fate), rule);
		return;
	}
}

static void on_fate(void *ctx, const struct link_frame *f, const unsigned char *data, int first)
{
	struct linksrc *k = ctx;
	struct session *s = k->base.s;
	int final = f->fate != FATE_INFLIGHT && f->fate != FATE_HELD;

	/* A frame that waited: how much later than its time it really left
	 * (this process woke late: a busy machine). */
	if (!first && seg_fate_delivered(f->fate) && f->t_out > f->t_in) {
		mtime_t now = session_now(), late = now > f->t_out ? now - f->t_out : 0;

		k->late_sum += late;
		k->late_n++;
		if (late > k->late_max)
			k->late_max = late;
	}

	/* The file has each frame once, when its fate is known, with the
	 * time it reached the link. */
	if (final && k->pcap) {
		char comment[128];
		int64_t ns = (int64_t)f->t_in + k->real_minus_mono;

		fate_comment(k, f, comment, sizeof(comment));
		pcap_out_write(&k->out, ns > 0 ? (uint64_t)ns : 0, data, f->len, f->len, comment);
	}
	if (!f->info.tcp)
		return;
	if (first) {
		struct mseg g;

		if (packet_segment(SL_PKT_LINK_ETHERNET, data, f->len, &g) < 0)
			return;
		g.t = f->t_in;
		g.fate = (uint8_t)f->fate;
		g.link_id = f->id;
		g.t_out = seg_fate_delivered(f->fate) ? f->t_out : 0;
		session_segment(s, &g);
		return;
	}
	session_segment_fate(s, f->id, f->fate, seg_fate_delivered(f->fate) ? f->t_out : session_now());
}

/* ---- frames in --------------------------------------------------------------------- */

static void one_frame(struct linksrc *k, int from, const unsigned char *data, size_t len,
                      mtime_t now)
{
	struct link_info in = { 0 };
	struct mseg g;
	int to;

	k->frames++;
	if (len < 14)
		return;
	if (data[0] & 1) {
		/* Broadcast or multicast: every other host, as it comes. */
		for (to = 0; to < k->hs.n; to++)
			if (to != from)
				link_offer(&k->eng, now, from, to, data, len, &in);
		return;
	}
	to = hosts_by_mac(&k->hs, data);
	if (to < 0 || to == from)
		return;   /* no host has that address: a switch would drop it too */
	in.impair = (data[12] == 0x08 && data[13] == 0x00) || (data[12] == 0x86 && data[13] == 0xdd);
	if (in.impair && packet_segment(SL_PKT_LINK_ETHERNET, data, len, &g) == 0) {
		in.tcp = 1;
		in.flags = g.flags;
		in.payload = g.len;
	}
	link_offer(&k->eng, now, from, to, data, len, &in);
}

/* When the frame reached the link: the kernel's stamp on it (in the ring
 * since then), not when this loop came round to it, which on a busy
 * machine can be milliseconds later: a delay counts from the arrival. */
static mtime_t arrival(struct linksrc *k, const struct tpacket2_hdr *h)
{
	mtime_t now = session_now(), at = now;
	int64_t t = (int64_t)h->tp_sec * 1000000000 + (int64_t)h->tp_nsec - k->real_minus_mono;

	if (h->tp_sec != 0 && t > 0 && (mtime_t)t <= now && now - (mtime_t)t < NS_PER_S)
		at = (mtime_t)t;
	/* Never before the frame taken before it: the frames' numbers and
	 * times go up together (a late stamp in another ring can be a hair
	 * older). */
	if (at < k->last_in)
		at = k->last_in;
	k->last_in = at;
	return at;
}

static struct tpacket2_hdr *head(const struct port *p)
{
	return (struct tpacket2_hdr *)(p->ring +
		(size_t)(p->next / (BLOCK_BYTES / p->frame_size)) * BLOCK_BYTES +
		(size_t)(p->next % (BLOCK_BYTES / p->frame_size)) * p->frame_size);
}

/* Take up to max frames from the rings, in the order they arrived
 * (whichever host sent them): the link numbers its frames in that order,
 * the order the model lists them in. Returns how many frames. */
static int read_rings(struct linksrc *k, int max)
{
	int n;

	for (n = 0; n < max; n++) {
		struct tpacket2_hdr *first = NULL, *h;
		int from = -1;

		for (int i = 0; i < k->hs.n; i++) {
			h = head(&k->port[i]);
			if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				continue;
			if (first == NULL || h->tp_sec < first->tp_sec ||
			    (h->tp_sec == first->tp_sec && h->tp_nsec < first->tp_nsec)) {
				first = h;
				from = i;
			}
		}
		if (first == NULL)
			break;
		one_frame(k, from, (const unsigned char *)first + first->tp_mac, first->tp_snaplen,
			  arrival(k, first));
		__atomic_store_n(&first->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		k->port[from].next = (k->port[from].next + 1) % k->port[from].frames;
	}
	return n;
}

static void count_missed(struct linksrc *k)
{
	for (int i = 0; i < k->hs.n; i++) {
		struct tpacket_stats st;
		socklen_t len = sizeof(st);

		/* Reading the counters resets them. */
		if (k->port[i].fd >= 0 &&
		    getsockopt(k->port[i].fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
			k->missed += st.tp_drops;
	}
}

/* ---- time ------------------------------------------------------------------------- */

static void arm(struct linksrc *k)
{
	mtime_t due = link_next_due(&k->eng);
	struct itimerspec its;

	if (k->tfd < 0 || due == k->armed)
		return;
	memset(&its, 0, sizeof(its));
	if (due != 0) {
		its.it_value.tv_sec = (time_t)(due / NS_PER_S);
		its.it_value.tv_nsec = (long)(due % NS_PER_S);
	}
	if (timerfd_settime(k->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		k->armed = due;
}

/* ---- the source ------------------------------------------------------------------- */

static int link_fill(struct source *src, struct pollfd *pfd, int max)
{
	struct linksrc *k = of(src);
	int n = 0;

	if (!k->base.active)
		return 0;
	for (int i = 0; i < k->hs.n && n < max; i++) {
		pfd[n].fd = k->port[i].fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	if (k->tfd >= 0 && n < max) {
		pfd[n].fd = k->tfd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

static void pump(struct linksrc *k)
{
	mtime_t start = session_now(), last = start, now;
	int got, total = 0;

	/* Take what the rings hold, up to BATCH frames a pass (the screen
	 * and the other sources get their turn). When frames come one by one,
	 * wait a few microseconds for the next instead of going back to
	 * poll(): the answer to what was just passed on is usually that close,
	 * and a sleep and a wake-up cost more. A stream keeps the rings full
	 * by itself: spinning would only take the CPU from its sender. */
	for (;;) {
		got = read_rings(k, BATCH - total);
		now = session_now();
		link_run(&k->eng, now);
		total += got;
		if (got > 0)
			last = now;
		if (total >= BATCH)
			break;
		if (got > 0)
			continue;
		if (total == 0 || total > SPIN_FRAMES || now - last > SPIN_IDLE ||
		    now - start > SPIN_MAX)
			break;
		sched_yield();
	}
	arm(k);
}

static void link_ready(struct source *src, const struct pollfd *pfd, int n)
{
	struct linksrc *k = of(src);
	uint64_t ticks;

	(void)pfd;
	(void)n;
	/* The timer fired (or not yet: EAGAIN, and it stays set). */
	if (k->tfd >= 0 && read(k->tfd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks))
		k->armed = 0;
	pump(k);
}

static void link_tick(struct source *src, mtime_t now)
{
	struct linksrc *k = of(src);

	(void)now;
	if (k->base.active)
		pump(k);
}

static void link_drain(struct source *src)
{
	struct linksrc *k = of(src);

	if (!k->base.active)
		return;
	pump(k);
	count_missed(k);
	pcap_out_flush(&k->out);
}

static void close_port(struct port *p)
{
	if (p->ring != NULL && p->ring != MAP_FAILED)
		munmap(p->ring, p->ring_len);
	p->ring = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void link_destroy(struct source *src)
{
	struct linksrc *k = of(src);

	count_missed(k);
	/* Timing the link could not keep: say how much, so that a delay
	 * measured through it can be read for what it is. */
	if (k->late_n > 0 && k->late_sum / k->late_n >= LATE_NOTE)
		fprintf(stderr, "socklab: frames that waited on the link left %.1f ms after their "
			"time on average (at most %.1f ms, %llu frames): this machine is busy, and "
			"times through the link are that much longer\n",
			(double)(k->late_sum / k->late_n) / 1e6, (double)k->late_max / 1e6,
			(unsigned long long)k->late_n);
	/* Frames lost outside the engine's decisions: say so, they are not
	 * on the ladder. */
	if (k->missed > 0 || k->send_errors > 0)
		fprintf(stderr, "socklab: the link carried %llu frames; %llu were lost before it "
			"saw them (its receive ring was full), %llu could not be sent on\n",
			(unsigned long long)k->frames, (unsigned long long)k->missed,
			(unsigned long long)k->send_errors);
	for (int i = 0; i < HOSTS_MAX; i++)
		close_port(&k->port[i]);
	if (k->tfd >= 0)
		close(k->tfd);
	link_free(&k->eng);
	if (pcap_out_close(&k->out) < 0)
		fprintf(stderr, "socklab: writing the pcap file failed: it is incomplete\n");
	free(k);
}

/* A packet socket on host i's veth end, with its receive ring. */
static int open_port(struct linksrc *k, int i)
{
	struct port *p = &k->port[i];
	struct sockaddr_ll sll;
	struct tpacket_req req;
	int v2 = TPACKET_V2, one = 1;
	unsigned need = TPACKET_ALIGN(TPACKET2_HDRLEN) + 16 + (unsigned)k->hs.mtu + 32;

	p->frame_size = 2048;
	while (p->frame_size < need)
		p->frame_size *= 2;
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		snprintf(k->base.why, sizeof(k->base.why), "packet socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0) {
		snprintf(k->base.why, sizeof(k->base.why), "PACKET_VERSION: %s", strerror(errno));
		return -1;
	}
	/* Our own sends are not news. */
	(void)setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_BYTES;
	req.tp_block_nr = RING_BYTES / BLOCK_BYTES;
	req.tp_frame_size = p->frame_size;
	req.tp_frame_nr = req.tp_block_nr * (BLOCK_BYTES / p->frame_size);
	if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		snprintf(k->base.why, sizeof(k->base.why), "PACKET_RX_RING: %s", strerror(errno));
		return -1;
	}
	p->frames = req.tp_frame_nr;
	p->ring_len = (size_t)req.tp_block_size * req.tp_block_nr;
	p->ring = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		snprintf(k->base.why, sizeof(k->base.why), "mmap of the ring: %s", strerror(errno));
		return -1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = k->hs.h[i].mid_ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(k->base.why, sizeof(k->base.why), "bind %s: %s", k->hs.h[i].mid_name,
			 strerror(errno));
		return -1;
	}
	return 0;
}

struct source *link_source_new(struct session *s, const struct hosts *hs,
                               const struct link_config *cfg, const char *pcap_file)
{
	struct linksrc *k = calloc(1, sizeof(*k));
	struct link_ops ops;

	if (k == NULL)
		return NULL;
	k->base.name = "link";
	k->base.s = s;
	k->base.fill = link_fill;
	k->base.ready = link_ready;
	k->base.tick = link_tick;
	k->base.drain = link_drain;
	k->base.destroy = link_destroy;
	k->hs = *hs;
	k->tfd = -1;
	for (int i = 0; i < HOSTS_MAX; i++)
		k->port[i].fd = -1;
	ops = (struct link_ops){ k, on_send, on_fate };
	link_init(&k->eng, hs->n, cfg, &ops);
	k->real_minus_mono = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < hs->n; i++)
		if (open_port(k, i) < 0)
			return &k->base;
	k->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (k->tfd < 0) {
		snprintf(k->base.why, sizeof(k->base.why), "timerfd: %s", strerror(errno));
		return &k->base;
	}
	if (pcap_file != NULL) {
		if (pcap_out_open(&k->out, pcap_file, "link", PCAP_OUT_ETHERNET, 65535, k->base.why,
				  sizeof(k->base.why)) < 0)
			return &k->base;
		k->pcap = 1;
	}
	k->base.active = 1;
	snprintf(k->base.why, sizeof(k->base.why), "the link between %d hosts (every frame)", hs->n);
	return &k->base;
}

int link_is(const struct source *src)
{
	return src != NULL && src->fill == link_fill;
}

const struct link *link_engine(const struct source *src)
{
	return &((const struct linksrc *)src)->eng;
}

void link_stats(const struct source *src, uint64_t *frames, uint64_t *missed, mtime_t *late)
{
	const struct linksrc *k = (const struct linksrc *)src;

	*frames = k->frames;
	*missed = k->missed;
	*late = k->late_n > 0 ? k->late_sum / k->late_n : 0;
}

/* ---- the keys ------------------------------------------------------------------------ */

void link_restart(struct source *src)
{
	struct linksrc *k = of(src);
	struct link_config cfg = k->eng.cfg;
	struct link_ops ops = k->eng.ops;

	/* What was on the wire belonged to the programs just stopped. */
	cfg.hold = k->eng.hold;
	link_free(&k->eng);
	link_init(&k->eng, k->hs.n, &cfg, &ops);
	arm(k);
}

void link_hold_mode(struct source *src, int on)
{
	struct linksrc *k = of(src);
	mtime_t now = session_now();

	rec_link_key(&k->base.s->rec, on ? "hold-on" : "hold-off", 0, now);
	link_set_hold(&k->eng, on, now);
	arm(k);
}

int link_release_frames(struct source *src, int all)
{
	struct linksrc *k = of(src);
	mtime_t now = session_now();
	int n;

	rec_link_key(&k->base.s->rec, all ? "release-all" : "release", 0, now);
	n = link_release(&k->eng, all, now);
	arm(k);
	return n;
}

int link_drop_frame(struct source *src, uint64_t id)
{
	struct linksrc *k = of(src);
	mtime_t now = session_now();
	int rc;

	rec_link_key(&k->base.s->rec, "drop", id, now);
	rc = link_drop(&k->eng, id, now);
	arm(k);
	return rc;
}

void link_change(struct source *src, int to, const struct link_params *p)
{
	struct linksrc *k = of(src);
	const char *names[HOSTS_MAX];
	char spec[LINK_SPEC_LEN];

	for (int i = 0; i < k->hs.n; i++) {
		names[i] = k->hs.h[i].name;
		if (to < 0 || to == i)
			link_set_params(&k->eng, i, p);
	}
	if (link_spec_format(&k->eng.cfg, names, k->hs.n, spec, sizeof(spec)) == 0)
		rec_link_settings(&k->base.s->rec, spec, session_now());
}
