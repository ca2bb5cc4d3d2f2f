/* wire.c — the wire source: every TCP segment of the session, captured on
 * lo with libpcap.
 *
 * Capturing needs CAP_NET_RAW: root, a file capability, or (what `socklab
 * run` does) a private network namespace whose user namespace we own.
 * In our own namespace every segment is the session's; on the host's lo
 * a BPF filter on the session's ports keeps the rest out, and is renewed
 * whenever a new port appears. libpcap on Linux leaves out the outgoing
 * copy of each frame on lo; the model drops a duplicate anyway.
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
#include "text.h"

#define FILTER_LEN 2048

struct wire {
	struct source base;
	pcap_t *p;
	int fd;
	unsigned link;         /* pcap_datalink(): SL_PKT_LINK_* */
	int private_ns;
	int nano;              /* timestamps in ns (else us) */
	int filter_version;    /* model ports_version the filter was made for */
	int64_t real_minus_mono;
	struct pcap_out out;
	uint64_t frames;
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

static void on_frame(unsigned char *user, const struct pcap_pkthdr *h, const unsigned char *frame)
{
	struct wire *w = (struct wire *)user;
	struct mseg g;
	int64_t ns;

	w->frames++;
	pcap_out_write(&w->out, h, frame);
	if (packet_segment(w->link, frame, h->caplen, &g) < 0)
		return;
	ns = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * (w->nano ? 1 : 1000);
	ns -= w->real_minus_mono;
	g.t = ns > 0 ? (mtime_t)ns : 0;
	session_segment(w->base.s, &g);
}

/* "tcp" in our own namespace; elsewhere only the session's ports. */
static int make_filter(struct wire *w, char *buf, size_t size)
{
	const struct model *m = &w->base.s->model;
	char part[32];

	if (w->private_ns) {
		text_copy(buf, size, "tcp");
		return 0;
	}
	if (m->nports == 0) {
		text_copy(buf, size, "tcp port 0");
		return 0;
	}
	text_copy(buf, size, "tcp and (");
	for (int i = 0; i < m->nports; i++) {
		snprintf(part, sizeof(part), "%sport %u", i ? " or " : "", (unsigned)m->ports[i]);
		if (strlen(buf) + strlen(part) + 2 >= size)
			return -1;
		text_append(buf, size, part);
	}
	text_append(buf, size, ")");
	return 0;
}

static void read_pending(struct wire *w)
{
	while (pcap_dispatch(w->p, 256, on_frame, (unsigned char *)w) > 0)
		;
}

/* Setting a filter makes Linux libpcap throw away what is queued: read
 * it first. In our own namespace the filter never changes. */
static void update_filter(struct wire *w)
{
	struct bpf_program prog;
	char filter[FILTER_LEN];
	int version = w->base.s->model.ports_version;

	if (w->p == NULL || w->filter_version == version ||
	    (w->private_ns && w->filter_version != -1))
		return;
	read_pending(w);
	w->filter_version = version;
	if (make_filter(w, filter, sizeof(filter)) < 0)
		return;   /* too many ports: keep the last filter */
	if (pcap_compile(w->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0)
		return;
	pcap_setfilter(w->p, &prog);
	pcap_freecode(&prog);
}

void wire_drain(struct source *src)
{
	struct wire *w = of(src);

	if (w->p == NULL)
		return;
	update_filter(w);
	read_pending(w);
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

static void wire_tick(struct source *src, mtime_t now)
{
	(void)now;
	update_filter(of(src));
}

static void wire_destroy(struct source *src)
{
	struct wire *w = of(src);

	pcap_out_close(&w->out);
	if (w->p != NULL)
		pcap_close(w->p);
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
	pcap_set_snaplen(w->p, 256);
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
	w->filter_version = -1;
	if (open_capture(w) < 0)
		return &w->base;
	if (pcap_file != NULL &&
	    pcap_out_open(&w->out, w->p, pcap_file, w->base.why, sizeof(w->base.why)) < 0) {
		pcap_close(w->p);
		w->p = NULL;
		return &w->base;
	}
	update_filter(w);
	w->base.active = 1;
	snprintf(w->base.why, sizeof(w->base.why), "capturing on lo%s",
		 private_ns ? " (private namespace)" : " (session ports)");
	return &w->base;
}
