/* diag.c — the diag source: the kernel's own table of TCP sockets, from
 * NETLINK_SOCK_DIAG dumps (what `ss -tan` shows), every 100 ms and soon
 * after each call. Only sockets on the session's ports are passed on.
 *
 * A dump walks the kernel's whole connection hash table, which every
 * network namespace shares. On a small machine that costs next to
 * nothing (here: under 10 ms of CPU for 200 dumps), but a host with a
 * large table can make each dump cost a millisecond. So the pace is
 * 100 ms, and the pace of a session where nothing moves (no call, no
 * step, no dump that differs from the last one, for 3 s) is stretched
 * only when dumps are dear: to 100 times what the last one took, at most
 * a second, so that dumping stays under 1% of a CPU. IPv6 is dumped only
 * once the session has an IPv6 socket.
 *
 * This is the only place where some states can be seen at all: SYN_RECV,
 * TIME_WAIT and its timer, an orphan in FIN_WAIT2 after close(), a
 * connection the listener has not accepted yet. A dump needs no
 * privilege.
 *
 * The dump also asks for each socket's TCP_INFO (INET_DIAG_INFO): the
 * congestion window, slow-start threshold, smoothed round trip, bytes in
 * flight, the peer's window, retransmissions. A socket's reading becomes
 * a sample (TCP over time) while data flows (its queues hold data, or its
 * byte counts moved) and otherwise when it differs from the last one
 * taken of that socket; while data flows the pace is 50 ms, so a transfer
 * gets up to 20 samples a second. At most 64 sockets' samples a dump.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"
#include "session.h"
#include "sources/source.h"

#define PERIOD_MS 100
#define FLOW_PERIOD_MS 50
#define IDLE_PERIOD_MAX_MS 1000
#define ACTIVE_FOR_MS 3000
/* Sockets whose last TCP_INFO is remembered; past that, the one seen
 * least recently is forgotten. */
#define TRACKED_MAX 128
#define SAMPLES_PER_DUMP 64

struct tracked {
	struct msample last;
	mtime_t seen;
};

/* socklab's own namespace, and each host's (--hosts). */
#define NETNS_MAX 9

struct diag {
	struct source base;
	int fd;               /* the namespace being dumped */
	int fds[NETNS_MAX];
	int nfds;
	mtime_t next;         /* the next dump is due */
	mtime_t active;       /* when something last happened */
	unsigned seq;
	uint64_t dumps;
	mtime_t cost;         /* how long the last dump took (request to end) */
	uint64_t sum, last_sum;  /* what the dump showed, folded */
	mtime_t dump_t;       /* when the dump being read was asked for */
	int flowing;          /* data flowed on a socket in it */
	int samples;          /* samples taken in it */
	struct tracked tracked[TRACKED_MAX];
	int ntracked;
};

static struct diag *of(struct source *src)
{
	return (struct diag *)src;
}

static int send_request(struct diag *d, int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = ++d->seq;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	/* Every state but 13 (bound, not listening: not a connection). */
	msg.req.idiag_states = ~(1u << 13);
	msg.req.idiag_ext = 1u << (INET_DIAG_INFO - 1);
	return sendto(d->fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0 ? -1 : 0;
}

/* The last sample of the socket local-peer; a new slot (the least
 * recently seen, when all are taken) when there is none. *fresh: new. */
static struct tracked *tracked_for(struct diag *d, const struct msample *sm, int *fresh)
{
	struct tracked *old = NULL;

	*fresh = 0;
	for (int i = 0; i < d->ntracked; i++) {
		struct tracked *t = &d->tracked[i];

		if (ep_equal(&t->last.local, &sm->local) && ep_equal(&t->last.peer, &sm->peer))
			return t;
		if (old == NULL || t->seen < old->seen)
			old = t;
	}
	*fresh = 1;
	if (d->ntracked < TRACKED_MAX)
		return &d->tracked[d->ntracked++];
	return old;
}

static int sample_differs(const struct msample *a, const struct msample *b)
{
	return a->state != b->state || a->cwnd != b->cwnd || a->ssthresh != b->ssthresh ||
	       a->srtt_us != b->srtt_us || a->rttvar_us != b->rttvar_us || a->mss != b->mss ||
	       a->inflight != b->inflight || a->rwnd != b->rwnd || a->retrans != b->retrans ||
	       a->acked != b->acked || a->received != b->received;
}

/* A field of struct tcp_info, when the kernel's (len bytes) has it. */
#define HAS_INFO(len, field) \
	((len) >= offsetof(struct tcp_info, field) + sizeof(((struct tcp_info *)0)->field))

/* TCP_INFO (the attribute's payload, len bytes) of a connected socket. */
static void tcp_sample(struct diag *d, const struct inet_diag_msg *r,
                       const struct diag_sock *ds, const void *payload, size_t len)
{
	struct tcp_info ti;
	struct msample sm;
	struct tracked *t;
	int fresh, busy;

	if (!ep_is_set(&ds->peer) || ds->state == ST_LISTEN ||
	    len < offsetof(struct tcp_info, tcpi_rcv_rtt))
		return;
	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, payload, len < sizeof(ti) ? len : sizeof(ti));
	memset(&sm, 0, sizeof(sm));
	sm.t = d->dump_t;
	sm.local = ds->local;
	sm.peer = ds->peer;
	sm.state = ds->state;
	sm.cwnd = ti.tcpi_snd_cwnd;
	/* Linux starts ssthresh at "infinity" (0x7fffffff): not set yet. */
	sm.ssthresh = ti.tcpi_snd_ssthresh >= 0x7fffffffu ? 0 : ti.tcpi_snd_ssthresh;
	sm.srtt_us = ti.tcpi_rtt;
	sm.rttvar_us = ti.tcpi_rttvar;
	sm.mss = ti.tcpi_snd_mss;
	sm.retrans = ti.tcpi_total_retrans;
	/* Sent and not acknowledged: the send queue less what is not sent. */
	if (HAS_INFO(len, tcpi_notsent_bytes) && r->idiag_wqueue >= ti.tcpi_notsent_bytes)
		sm.inflight = r->idiag_wqueue - ti.tcpi_notsent_bytes;
	if (HAS_INFO(len, tcpi_snd_wnd))
		sm.rwnd = ti.tcpi_snd_wnd;
	if (HAS_INFO(len, tcpi_bytes_received)) {
		sm.acked = ti.tcpi_bytes_acked;
		sm.received = ti.tcpi_bytes_received;
	}
	t = tracked_for(d, &sm, &fresh);
	busy = r->idiag_wqueue > 0 || r->idiag_rqueue > 0 ||
	       (!fresh && (t->last.acked != sm.acked || t->last.received != sm.received));
	if (busy)
		d->flowing = 1;
	if ((fresh || busy || sample_differs(&t->last, &sm)) && d->samples < SAMPLES_PER_DUMP) {
		d->samples++;
		session_tcp_sample(d->base.s, &sm);
	}
	t->last = sm;
	t->seen = sm.t;
}

static void one_socket(struct diag *d, const struct nlmsghdr *h)
{
	const struct inet_diag_msg *r = NLMSG_DATA(h);
	struct session *s = d->base.s;
	struct diag_sock ds;
	uint16_t sport = ntohs(r->id.idiag_sport), dport = ntohs(r->id.idiag_dport);

	if (!model_port_wanted(&s->model, sport) && !model_port_wanted(&s->model, dport))
		return;
	memset(&ds, 0, sizeof(ds));
	ds.family = r->idiag_family;
	ep_set(&ds.local, r->idiag_family, r->id.idiag_src, sport);
	if (dport != 0)
		ep_set(&ds.peer, r->idiag_family, r->id.idiag_dst, dport);
	ds.state = r->idiag_state;
	ds.rq = r->idiag_rqueue;
	ds.sq = r->idiag_wqueue;
	ds.timer = r->idiag_timer;
	ds.expires_ms = r->idiag_expires;
	ds.inode = r->idiag_inode;
	ds.uid = r->idiag_uid;
	/* Fold what the screen shows into sum: a change means activity. */
	d->sum = d->sum * 1000003u + ((uint64_t)sport << 32 | (uint64_t)dport << 16 |
				      (uint64_t)ds.state << 8 | ds.timer);
	d->sum = d->sum * 1000003u + ((uint64_t)ds.rq << 32 | ds.sq);
	session_diag_sock(s, &ds);
	/* Its attributes: TCP_INFO, when the kernel gave it. */
	{
		int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*r));
		const struct rtattr *a = (const struct rtattr *)(r + 1);

		for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
			if (a->rta_type == INET_DIAG_INFO)
				tcp_sample(d, r, &ds, RTA_DATA(a), RTA_PAYLOAD(a));
	}
}

/* Read the answer to one request. Returns 0, or -1 on an error. */
static int read_answer(struct diag *d)
{
	char buf[32768];

	for (;;) {
		ssize_t r = recv(d->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		size_t len;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		len = (size_t)r;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != d->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				errno = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? -e->error : EPROTO;
				return -1;
			}
			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				one_socket(d, h);
		}
	}
}

/* The pace while nothing moves: 100 ms, or 100 dumps' worth of time
 * when dumps are dear, at most a second. */
static mtime_t idle_period(const struct diag *d)
{
	mtime_t p = d->cost * 100;

	if (p < PERIOD_MS * NS_PER_MS)
		return PERIOD_MS * NS_PER_MS;
	return p > IDLE_PERIOD_MAX_MS * NS_PER_MS ? IDLE_PERIOD_MAX_MS * NS_PER_MS : p;
}

static void dump(struct diag *d, mtime_t now)
{
	struct session *s = d->base.s;
	static const int families[] = { AF_INET, AF_INET6 };
	size_t nfamilies = s->model.seen_inet6 ? 2 : 1;
	mtime_t start, end;

	/* Segments captured before this moment go in first. */
	if (s->wire != NULL)
		wire_drain(s->wire);
	d->sum = 0;
	d->flowing = 0;
	d->samples = 0;
	start = session_now();
	d->dump_t = start;
	session_diag_begin(s, start);
	/* One dump of every namespace: the hosts' tables make one table. */
	for (int k = 0; k < d->nfds; k++) {
		d->fd = d->fds[k];
		for (size_t i = 0; i < nfamilies; i++) {
			if (send_request(d, families[i]) < 0 || read_answer(d) < 0) {
				/* IPv6 may be missing: that family simply has nothing. */
				if (families[i] == AF_INET) {
					snprintf(d->base.why, sizeof(d->base.why), "sock_diag: %s",
						 strerror(errno));
					d->base.active = 0;
				}
			}
		}
	}
	end = session_now();
	session_diag_end(s, end);
	d->dumps++;
	if (d->sum != d->last_sum)
		d->active = now;
	d->last_sum = d->sum;
	/* The dump's own time: not the wire's segments before it, nor how
	 * late the tick came. */
	d->cost = end - start;
	if (d->flowing)
		d->next = now + FLOW_PERIOD_MS * NS_PER_MS;
	else
		d->next = now + (now - d->active < ACTIVE_FOR_MS * NS_PER_MS ?
				 PERIOD_MS * NS_PER_MS : idle_period(d));
}

static mtime_t diag_deadline(struct source *src)
{
	struct diag *d = of(src);

	return d->base.active ? d->next : 0;
}

static void diag_tick(struct source *src, mtime_t now)
{
	struct diag *d = of(src);

	if (d->base.active && now >= d->next)
		dump(d, now);
}

static void diag_destroy(struct source *src)
{
	struct diag *d = of(src);

	for (int k = 0; k < d->nfds; k++)
		close(d->fds[k]);
	free(d);
}

void diag_poke(struct source *src, int delay_ms)
{
	struct diag *d = of(src);
	mtime_t now = session_now(), when = now + (mtime_t)delay_ms * NS_PER_MS;

	d->active = now;
	if (when < d->next)
		d->next = when;
}

int diag_add_netns(struct source *src, int nsfd)
{
	struct diag *d = of(src);
	int fd;

	if (d->nfds >= NETNS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	fd = netns_socket(nsfd, AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	d->fds[d->nfds++] = fd;
	return 0;
}

struct source *diag_source_new(struct session *s)
{
	struct diag *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->base.name = "diag";
	d->base.s = s;
	d->base.deadline = diag_deadline;
	d->base.tick = diag_tick;
	d->base.destroy = diag_destroy;
	d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (d->fd < 0) {
		snprintf(d->base.why, sizeof(d->base.why), "socket NETLINK_SOCK_DIAG: %s",
			 strerror(errno));
		return &d->base;
	}
	d->fds[d->nfds++] = d->fd;
	d->base.active = 1;
	snprintf(d->base.why, sizeof(d->base.why),
		 "socket table, TCP_INFO: %d ms (%d with data flowing, up to %d idle)",
		 PERIOD_MS, FLOW_PERIOD_MS, IDLE_PERIOD_MAX_MS);
	d->next = session_now();
	d->active = d->next;
	return &d->base;
}
