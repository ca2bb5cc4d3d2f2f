/* wire.c — the wire source: every TCP segment of the session, captured on
 * lo with libpcap.
 *
 * Capturing needs CAP_NET_RAW: root, a file capability, or (what `socklab
 * run` does) a private network namespace whose user namespace we own.
 * In our own namespace every segment is the session's. On the host's lo
 * (trace, watch) the capture takes every TCP segment from the start, and
 * passes on those of the session's ports; the others wait in a lobby for
 * a while (LOBBY_NS), because a port often becomes known only after its
 * first segments: a traced client's connect() is announced before it
 * runs, but socklab reads the announcement after the kernel has already
 * done the whole handshake (a filter in the kernel made from the ports
 * known so far lost it). When a port becomes known the lobby's segments of
 * it are passed on, in order, each once, and the rest of the lobby ages
 * out; --pcap gets only what is passed on. libpcap on Linux leaves out the
 * outgoing copy of each frame on lo; the model drops a duplicate anyway.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "packet.h"
#include "pcap_out.h"
#include "session.h"
#include "sources/source.h"

#define SNAPLEN 256
/* Segments of no known port are kept this long, at most LOBBY_MAX. */
#define LOBBY_NS (2 * NS_PER_S)
#define LOBBY_MAX 4096

struct held {
	struct pcap_pkthdr h;
	struct mseg g;
	unsigned char frame[SNAPLEN];
};

struct wire {
	struct source base;
	pcap_t *p;
	int fd;
	unsigned link;         /* pcap_datalink(): SL_PKT_LINK_* */
	int private_ns;
	int nano;              /* timestamps in ns (else us) */
	int64_t real_minus_mono;
	struct pcap_out out;
	uint64_t frames;
	struct held *lobby;    /* a ring: lobby[(first + i) % LOBBY_MAX], i < nheld */
	int first, nheld;
	int lobby_version;     /* the model's ports_version the lobby was sorted by */
};

static struct wire *of(struct source *src)
{
	return (struct wire *)src;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Hand a segment (and its frame) on to the session. */
static void pass_on(struct wire *w, const struct pcap_pkthdr *h, const unsigned char *frame,
                    const struct mseg *g)
{
	pcap_out_write(&w->out, h, frame);
	session_segment(w->base.s, g);
}

static int known(const struct wire *w, const struct mseg *g)
{
	const struct model *m = &w->base.s->model;

	return model_port_wanted(m, g->src.port) || model_port_wanted(m, g->dst.port);
}

static void hold(struct wire *w, const struct pcap_pkthdr *h, const unsigned char *frame,
                 const struct mseg *g)
{
	struct held *x;

	if (w->lobby == NULL)
		return;
	if (w->nheld == LOBBY_MAX) {
		w->first = (w->first + 1) % LOBBY_MAX;
		w->nheld--;
	}
	x = &w->lobby[(w->first + w->nheld) % LOBBY_MAX];
	x->h = *h;
	x->h.caplen = h->caplen < SNAPLEN ? h->caplen : SNAPLEN;
	memcpy(x->frame, frame, x->h.caplen);
	x->g = *g;
	w->nheld++;
}

/* Pass on what the lobby holds of ports known now, in order, and let go
 * of what has waited LOBBY_NS. */
static void sort_lobby(struct wire *w, mtime_t now)
{
	int kept = 0, version = w->base.s->model.ports_version;

	if (w->nheld == 0 || (version == w->lobby_version &&
			      w->lobby[w->first].g.t + LOBBY_NS > now))
		return;
	w->lobby_version = version;
	for (int i = 0; i < w->nheld; i++) {
		struct held *x = &w->lobby[(w->first + i) % LOBBY_MAX];

		if (known(w, &x->g))
			pass_on(w, &x->h, x->frame, &x->g);
		else if (x->g.t + LOBBY_NS > now)
			w->lobby[(w->first + kept++) % LOBBY_MAX] = *x;
	}
	w->nheld = kept;
}

static void on_frame(unsigned char *user, const struct pcap_pkthdr *h, const unsigned char *frame)
{
	struct wire *w = (struct wire *)user;
	struct mseg g;
	int64_t ns;

	w->frames++;
	if (packet_segment(w->link, frame, h->caplen, &g) < 0) {
		if (w->private_ns)
			pcap_out_write(&w->out, h, frame);
		return;
	}
	ns = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * (w->nano ? 1 : 1000);
	ns -= w->real_minus_mono;
	g.t = ns > 0 ? (mtime_t)ns : 0;
	if (w->private_ns || known(w, &g))
		pass_on(w, h, frame, &g);
	else
		hold(w, h, frame, &g);
}

static void read_pending(struct wire *w)
{
	while (pcap_dispatch(w->p, 256, on_frame, (unsigned char *)w) > 0)
		;
}

/* Every TCP segment, in our namespace and on the host's lo alike (see
 * the top). Set once: setting a filter makes Linux libpcap throw away
 * what is queued. */
static int set_filter(struct wire *w)
{
	struct bpf_program prog;
	int rc;

	if (pcap_compile(w->p, &prog, "tcp", 1, PCAP_NETMASK_UNKNOWN) < 0)
		return -1;
	rc = pcap_setfilter(w->p, &prog);
	pcap_freecode(&prog);
	return rc;
}

void wire_drain(struct source *src)
{
	struct wire *w = of(src);

	if (w->p == NULL)
		return;
	read_pending(w);
	sort_lobby(w, session_now());
	pcap_out_flush(&w->out);
}

static int wire_fill(struct source *src, struct pollfd *pfd, int max)
{
	struct wire *w = of(src);

	if (w->p == NULL || w->fd < 0 || max < 1)
		return 0;
	pfd[0].fd = w->fd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	return 1;
}

static void wire_ready(struct source *src, const struct pollfd *pfd, int n)
{
	if (n > 0 && pfd[0].revents != 0)
		wire_drain(src);
}

/* A port may have become known (the trace source learns them). */
static void wire_tick(struct source *src, mtime_t now)
{
	sort_lobby(of(src), now);
}

static void wire_destroy(struct source *src)
{
	struct wire *w = of(src);

	pcap_out_close(&w->out);
	if (w->p != NULL)
		pcap_close(w->p);
	free(w->lobby);
	free(w);
}

static int open_capture(struct wire *w)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int rc;

	w->p = pcap_create("lo", errbuf);
	if (w->p == NULL) {
		snprintf(w->base.why, sizeof(w->base.why), "pcap on lo: %s", errbuf);
		return -1;
	}
	pcap_set_snaplen(w->p, SNAPLEN);
	pcap_set_immediate_mode(w->p, 1);
	pcap_set_buffer_size(w->p, 2 * 1024 * 1024);
	w->nano = pcap_set_tstamp_precision(w->p, PCAP_TSTAMP_PRECISION_NANO) == 0;
	rc = pcap_activate(w->p);
	if (rc < 0) {
		if (rc == PCAP_ERROR_PERM_DENIED)
			snprintf(w->base.why, sizeof(w->base.why),
				 "no capture on lo: needs CAP_NET_RAW (root, or socklab run's own namespace)");
		else
			snprintf(w->base.why, sizeof(w->base.why), "pcap on lo: %s", pcap_geterr(w->p));
		pcap_close(w->p);
		w->p = NULL;
		return -1;
	}
	w->nano = pcap_get_tstamp_precision(w->p) == PCAP_TSTAMP_PRECISION_NANO;
	if (pcap_setnonblock(w->p, 1, errbuf) < 0 || (w->fd = pcap_get_selectable_fd(w->p)) < 0) {
		snprintf(w->base.why, sizeof(w->base.why), "pcap on lo: no pollable fd");
		pcap_close(w->p);
		w->p = NULL;
		return -1;
	}
	w->link = (unsigned)pcap_datalink(w->p);
	w->real_minus_mono = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	return 0;
}

struct source *wire_source_new(struct session *s, int private_ns, const char *pcap_file)
{
	struct wire *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->base.name = "wire";
	w->base.s = s;
	w->base.fill = wire_fill;
	w->base.ready = wire_ready;
	w->base.tick = wire_tick;
	w->base.destroy = wire_destroy;
	w->fd = -1;
	w->private_ns = private_ns;
	w->lobby_version = -1;
	if (open_capture(w) < 0)
		return &w->base;
	if (set_filter(w) < 0) {
		snprintf(w->base.why, sizeof(w->base.why), "pcap filter: %s", pcap_geterr(w->p));
		pcap_close(w->p);
		w->p = NULL;
		return &w->base;
	}
	/* Without room for a lobby, segments of ports not known yet are lost. */
	if (!private_ns)
		w->lobby = malloc(LOBBY_MAX * sizeof(*w->lobby));
	if (pcap_file != NULL &&
	    pcap_out_open(&w->out, w->p, pcap_file, w->base.why, sizeof(w->base.why)) < 0) {
		pcap_close(w->p);
		w->p = NULL;
		return &w->base;
	}
	w->base.active = 1;
	snprintf(w->base.why, sizeof(w->base.why), "capturing on lo%s",
		 private_ns ? " (private namespace)" : " (the session's ports, from before they were known)");
	return &w->base;
}
