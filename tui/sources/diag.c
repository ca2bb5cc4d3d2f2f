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
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
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
#define IDLE_PERIOD_MAX_MS 1000
#define ACTIVE_FOR_MS 3000

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
	return sendto(d->fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0 ? -1 : 0;
}

static void one_socket(struct diag *d, const struct inet_diag_msg *r)
{
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
				one_socket(d, NLMSG_DATA(h));
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
	start = session_now();
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
	d->next = now + (now - d->active < ACTIVE_FOR_MS * NS_PER_MS ? PERIOD_MS * NS_PER_MS :
			 idle_period(d));
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
		 "kernel socket table every %d ms (up to %d ms while nothing moves, if dumps are slow)",
		 PERIOD_MS, IDLE_PERIOD_MAX_MS);
	d->next = session_now();
	d->active = d->next;
	return &d->base;
}
