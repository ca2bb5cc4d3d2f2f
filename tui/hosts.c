/* hosts.c — make the hosts and their veth pairs (see hosts.h), with
 * rtnetlink messages and a few ioctls: what `ip link add ... type veth
 * peer ... netns`, `ip addr add`, `ip neigh add ... permanent` and
 * `ethtool -K eth0 tx off tso off gso off` would do, without needing
 * those tools. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hosts.h"
#include "netns.h"
#include "text.h"

/* ---- rtnetlink requests ---------------------------------------------------------- */

struct nlreq {
	union {
		struct nlmsghdr h;
		char buf[1024];
	} u;
	int overflow;
};

static void *tail(struct nlreq *r)
{
	return r->u.buf + NLMSG_ALIGN(r->u.h.nlmsg_len);
}

static void nl_start(struct nlreq *r, int type, int flags, const void *hdr, size_t hlen)
{
	memset(r, 0, sizeof(*r));
	r->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hlen);
	r->u.h.nlmsg_type = (uint16_t)type;
	r->u.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	memcpy(NLMSG_DATA(&r->u.h), hdr, hlen);
}

static void nl_put(struct nlreq *r, int type, const void *data, size_t len)
{
	struct rtattr *a = tail(r);
	size_t need = NLMSG_ALIGN(r->u.h.nlmsg_len) + RTA_SPACE(len);

	if (need > sizeof(r->u.buf)) {
		r->overflow = 1;
		return;
	}
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	r->u.h.nlmsg_len = (uint32_t)need;
}

static void nl_put_str(struct nlreq *r, int type, const char *s)
{
	nl_put(r, type, s, strlen(s) + 1);
}

static void nl_put_u32(struct nlreq *r, int type, uint32_t v)
{
	nl_put(r, type, &v, sizeof(v));
}

/* A nested attribute: open it, add inside, close it with its offset. */
static size_t nl_nest(struct nlreq *r, int type)
{
	size_t off = NLMSG_ALIGN(r->u.h.nlmsg_len);

	nl_put(r, type, NULL, 0);
	return off;
}

static void nl_nest_end(struct nlreq *r, size_t off)
{
	struct rtattr *a = (struct rtattr *)(r->u.buf + off);

	a->rta_len = (unsigned short)(r->u.h.nlmsg_len - off);
}

/* Raw bytes inside the message (the peer's ifinfomsg of a veth). */
static void nl_put_raw(struct nlreq *r, const void *data, size_t len)
{
	size_t need = NLMSG_ALIGN(r->u.h.nlmsg_len) + NLMSG_ALIGN(len);

	if (need > sizeof(r->u.buf)) {
		r->overflow = 1;
		return;
	}
	memcpy(tail(r), data, len);
	r->u.h.nlmsg_len = (uint32_t)need;
}

/* Send the request and read its acknowledgement. Returns 0, or -1 with
 * errno the kernel's answer. */
static int nl_talk(int fd, struct nlreq *r)
{
	static uint32_t seq;
	char buf[4096];
	ssize_t n;

	if (r->overflow) {
		errno = EMSGSIZE;
		return -1;
	}
	r->u.h.nlmsg_seq = ++seq;
	if (send(fd, &r->u.h, r->u.h.nlmsg_len, 0) < 0)
		return -1;
	for (;;) {
		size_t len;
		struct nlmsghdr *h;

		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPROTO;
			return -1;
		}
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_seq != r->u.h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (e->error == 0)
				return 0;
			errno = -e->error;
			return -1;
		}
	}
}

/* ---- the steps ------------------------------------------------------------------- */

/* A veth pair: end a named name_a (in namespace ns_a; -1: here), its
 * peer name_b in namespace ns_b. */
struct veth_end {
	const char *name;
	const uint8_t *mac;
	int nsfd;
};

static int make_veth(int nl, int mtu, const struct veth_end *a, const struct veth_end *b)
{
	struct nlreq r;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC }, peer = { .ifi_family = AF_UNSPEC };
	size_t info, data, p;

	nl_start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	nl_put_str(&r, IFLA_IFNAME, a->name);
	nl_put_u32(&r, IFLA_MTU, (uint32_t)mtu);
	nl_put(&r, IFLA_ADDRESS, a->mac, 6);
	if (a->nsfd >= 0)
		nl_put_u32(&r, IFLA_NET_NS_FD, (uint32_t)a->nsfd);
	info = nl_nest(&r, IFLA_LINKINFO);
	nl_put_str(&r, IFLA_INFO_KIND, "veth");
	data = nl_nest(&r, IFLA_INFO_DATA);
	p = nl_nest(&r, VETH_INFO_PEER);
	nl_put_raw(&r, &peer, sizeof(peer));
	nl_put_str(&r, IFLA_IFNAME, b->name);
	nl_put_u32(&r, IFLA_MTU, (uint32_t)mtu);
	nl_put(&r, IFLA_ADDRESS, b->mac, 6);
	nl_put_u32(&r, IFLA_NET_NS_FD, (uint32_t)b->nsfd);
	nl_nest_end(&r, p);
	nl_nest_end(&r, data);
	nl_nest_end(&r, info);
	return nl_talk(nl, &r);
}

static int add_addr(int nl, int ifindex, int family, const char *text, int prefix)
{
	struct nlreq r;
	struct ifaddrmsg ifa = { 0 };
	unsigned char addr[16];
	size_t len = family == AF_INET ? 4 : 16;

	if (inet_pton(family, text, addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	ifa.ifa_family = (unsigned char)family;
	ifa.ifa_prefixlen = (unsigned char)prefix;
	ifa.ifa_index = (unsigned)ifindex;
	ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	nl_start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
	nl_put(&r, IFA_LOCAL, addr, len);
	nl_put(&r, IFA_ADDRESS, addr, len);
	if (family == AF_INET6)
		nl_put_u32(&r, IFA_FLAGS, IFA_F_NODAD);
	return nl_talk(nl, &r);
}

/* A permanent neighbour entry: the peer's MAC is known, never asked. */
static int add_neigh(int nl, int ifindex, int family, const char *text, const uint8_t mac[6])
{
	struct nlreq r;
	struct ndmsg nd = { 0 };
	unsigned char addr[16];

	if (inet_pton(family, text, addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	nd.ndm_family = (unsigned char)family;
	nd.ndm_ifindex = ifindex;
	nd.ndm_state = NUD_PERMANENT;
	nl_start(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nd, sizeof(nd));
	nl_put(&r, NDA_DST, addr, family == AF_INET ? 4 : 16);
	nl_put(&r, NDA_LLADDR, mac, 6);
	return nl_talk(nl, &r);
}

static int if_index(int ioc, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	text_copy(ifr.ifr_name, sizeof(ifr.ifr_name), name);
	if (ioctl(ioc, SIOCGIFINDEX, &ifr) < 0)
		return -1;
	return ifr.ifr_ifindex;
}

static int if_up(int ioc, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	text_copy(ifr.ifr_name, sizeof(ifr.ifr_name), name);
	if (ioctl(ioc, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(ioc, SIOCSIFFLAGS, &ifr);
}

/* ethtool -K NAME tx off tso off gso off (and scatter-gather, which TSO
 * needs). The legacy commands, which every kernel still takes. */
static int offloads_off(int ioc, const char *name)
{
	static const uint32_t cmds[] = { ETHTOOL_STXCSUM, ETHTOOL_SSG, ETHTOOL_STSO, ETHTOOL_SGSO };
	struct ethtool_value v;
	struct ifreq ifr;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(&ifr, 0, sizeof(ifr));
		text_copy(ifr.ifr_name, sizeof(ifr.ifr_name), name);
		v.cmd = cmds[i];
		v.data = 0;
		ifr.ifr_data = (char *)&v;
		if (ioctl(ioc, SIOCETHTOOL, &ifr) < 0)
			return -1;
	}
	return 0;
}

static int fail(char *err, size_t errsize, const struct host *h, const char *what)
{
	int e = errno;

	snprintf(err, errsize, "host %s: %s: %s", h->name, what, strerror(e));
	errno = e;
	return -1;
}

/* Inside host i: eth0 without offloads, its addresses, up, and every
 * other host's MAC. */
static int setup_inside(const struct hosts *hs, int i, char *err, size_t errsize)
{
	const struct host *h = &hs->h[i];
	int nl = netns_socket(h->nsfd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	int ioc = netns_socket(h->nsfd, AF_INET, SOCK_DGRAM, 0);
	int ifindex, rc = -1;

	if (nl < 0 || ioc < 0) {
		fail(err, errsize, h, "socket");
		goto out;
	}
	if ((ifindex = if_index(ioc, "eth0")) < 0) {
		fail(err, errsize, h, "SIOCGIFINDEX eth0");
		goto out;
	}
	if (offloads_off(ioc, "eth0") < 0) {
		fail(err, errsize, h, "SIOCETHTOOL eth0 (checksum and segmentation offload off)");
		goto out;
	}
	if (add_addr(nl, ifindex, AF_INET, h->addr4, 24) < 0) {
		fail(err, errsize, h, "RTM_NEWADDR (IPv4)");
		goto out;
	}
	/* IPv6 may be off in this kernel: the host is then IPv4 only. */
	(void)add_addr(nl, ifindex, AF_INET6, h->addr6, 64);
	if (if_up(ioc, "eth0") < 0) {
		fail(err, errsize, h, "SIOCSIFFLAGS eth0 up");
		goto out;
	}
	for (int k = 0; k < hs->n; k++) {
		if (k == i)
			continue;
		if (add_neigh(nl, ifindex, AF_INET, hs->h[k].addr4, hs->h[k].mac) < 0) {
			fail(err, errsize, h, "RTM_NEWNEIGH (IPv4)");
			goto out;
		}
		(void)add_neigh(nl, ifindex, AF_INET6, hs->h[k].addr6, hs->h[k].mac);
	}
	rc = 0;
out:
	if (nl >= 0)
		close(nl);
	if (ioc >= 0)
		close(ioc);
	return rc;
}

/* Quiet IPv6 on a new interface: no router solicitations, no duplicate
 * address detection; in socklab's namespace no IPv6 at all on m<i>, so
 * nothing of socklab's own ever enters the link. */
static void ipv6_quiet(int nsfd, int none)
{
	static const char *const keys[] = { "accept_dad", "router_solicitations", "dad_transmits" };
	char path[96];

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/default/%s", keys[k]);
		(void)netns_write(nsfd, path, "0");
	}
	if (none)
		(void)netns_write(nsfd, "/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

int hosts_add_name(struct hosts *hs, const char *name, char *err, size_t errsize)
{
	struct host *h;

	if (hosts_find(hs, name) >= 0)
		return 0;
	if (!hosts_name_ok(name)) {
		snprintf(err, errsize, "bad host name '%s' (a letter, then letters, digits, - or _)",
			 name);
		return -1;
	}
	if (hs->n >= HOSTS_MAX) {
		snprintf(err, errsize, "too many hosts (at most %d)", HOSTS_MAX);
		return -1;
	}
	h = &hs->h[hs->n++];
	memset(h, 0, sizeof(*h));
	text_copy(h->name, sizeof(h->name), name);
	h->nsfd = -1;
	return 0;
}

/* Host i's addresses and names. */
static void name_host(struct host *h, int i)
{
	snprintf(h->addr4, sizeof(h->addr4), "10.0.0.%u", (unsigned)(uint8_t)(i + 1));
	snprintf(h->addr6, sizeof(h->addr6), "fd00::%u", (unsigned)(uint8_t)(i + 1));
	snprintf(h->mid_name, sizeof(h->mid_name), "m%d", i + 1);
	memcpy(h->mac, (uint8_t[6]){ 0x02, 0, 0, 0, 0, (uint8_t)(i + 1) }, 6);
}

int hosts_create_direct(struct hosts *hs, int mtu, char *err, size_t errsize)
{
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), rc = -1;

	hs->mtu = mtu;
	if (hs->n != 2) {
		snprintf(err, errsize, "hosts: a plain veth joins exactly two hosts");
		goto out;
	}
	if (nl < 0) {
		snprintf(err, errsize, "hosts: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		name_host(&hs->h[i], i);
		hs->h[i].mid_ifindex = -1;
		hs->h[i].nsfd = netns_new();
		if (hs->h[i].nsfd < 0) {
			fail(err, errsize, &hs->h[i], "a network namespace");
			goto out;
		}
		ipv6_quiet(hs->h[i].nsfd, 0);
	}
	if (make_veth(nl, mtu, &(struct veth_end){ "eth0", hs->h[0].mac, hs->h[0].nsfd },
		      &(struct veth_end){ "eth0", hs->h[1].mac, hs->h[1].nsfd }) < 0) {
		fail(err, errsize, &hs->h[0], "RTM_NEWLINK veth");
		goto out;
	}
	for (int i = 0; i < 2; i++)
		if (setup_inside(hs, i, err, errsize) < 0)
			goto out;
	rc = 0;
out:
	if (nl >= 0)
		close(nl);
	return rc;
}

int hosts_create(struct hosts *hs, int mtu, char *err, size_t errsize)
{
	int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int ioc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	hs->mtu = mtu;
	if (here < 0 || nl < 0 || ioc < 0) {
		snprintf(err, errsize, "hosts: %s", strerror(errno));
		goto out;
	}
	ipv6_quiet(here, 1);
	for (int i = 0; i < hs->n; i++) {
		struct host *h = &hs->h[i];
		uint8_t mid_mac[6] = { 0x02, 0, 0, 0, 1, (uint8_t)(i + 1) };

		name_host(h, i);
		h->nsfd = netns_new();
		if (h->nsfd < 0) {
			fail(err, errsize, h, "a network namespace");
			goto out;
		}
		ipv6_quiet(h->nsfd, 0);
		if (make_veth(nl, hs->mtu, &(struct veth_end){ h->mid_name, mid_mac, -1 },
			      &(struct veth_end){ "eth0", h->mac, h->nsfd }) < 0) {
			fail(err, errsize, h, errno == EOPNOTSUPP ?
			     "RTM_NEWLINK veth (no veth in this kernel?)" : "RTM_NEWLINK veth");
			goto out;
		}
		if ((h->mid_ifindex = if_index(ioc, h->mid_name)) < 0 ||
		    offloads_off(ioc, h->mid_name) < 0 || if_up(ioc, h->mid_name) < 0) {
			fail(err, errsize, h, h->mid_name);
			goto out;
		}
	}
	for (int i = 0; i < hs->n; i++)
		if (setup_inside(hs, i, err, errsize) < 0)
			goto out;
	rc = 0;
out:
	if (here >= 0)
		close(here);
	if (nl >= 0)
		close(nl);
	if (ioc >= 0)
		close(ioc);
	return rc;
}

void hosts_destroy(struct hosts *hs)
{
	for (int i = 0; i < hs->n; i++) {
		if (hs->h[i].nsfd >= 0)
			close(hs->h[i].nsfd);
		hs->h[i].nsfd = -1;
	}
}

int hosts_find(const struct hosts *hs, const char *name)
{
	for (int i = 0; i < hs->n; i++)
		if (strcmp(hs->h[i].name, name) == 0)
			return i;
	return -1;
}

int hosts_by_mac(const struct hosts *hs, const uint8_t mac[6])
{
	for (int i = 0; i < hs->n; i++)
		if (memcmp(hs->h[i].mac, mac, 6) == 0)
			return i;
	return -1;
}

int hosts_enter(const struct hosts *hs, int i)
{
	if (i < 0 || i >= hs->n || hs->h[i].nsfd < 0) {
		errno = EINVAL;
		return -1;
	}
	return setns(hs->h[i].nsfd, CLONE_NEWNET);
}
