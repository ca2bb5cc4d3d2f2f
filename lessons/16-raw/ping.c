/* ping.c — lesson 16: ICMP echo over a raw socket, every byte built by hand.
 *
 * What it shows: below TCP and UDP there is no port and no connection.
 * A raw socket (SOCK_RAW) lets a program write the ICMP message itself —
 * type, code, the Internet checksum, an identifier and a sequence number —
 * and hands it every ICMP message that arrives, its IP header included.
 * This program sends echo requests, matches the echo replies to them by
 * identifier and sequence number, and times each round trip, like ping(8).
 *
 * Why: it is the smallest program that needs privileges. A raw socket
 * needs CAP_NET_RAW; without it we fall back to an ICMP datagram socket
 * (SOCK_DGRAM, IPPROTO_ICMP), which Linux allows to the groups in
 * net.ipv4.ping_group_range, and which takes over the identifier and the
 * checksum. Either way, privileges are dropped the moment the socket is
 * open (privs.h): sending and receiving on it needs none.
 *
 * Notice when it runs: the second line says which socket we got. On a raw
 * IPv4 socket recvmsg() returns the IP header before the ICMP message (we
 * read the TTL from it); on the datagram socket, and for IPv6, only the
 * ICMP message comes back, and the TTL (hop limit) arrives as ancillary
 * data. A raw socket also receives other programs' ICMP — on lo even our
 * own echo request comes back in — so ICMP_FILTER and the identifier keep
 * only our replies.
 *
 * One request is in flight at a time: send, wait up to -W for its reply,
 * then wait out the rest of the interval (the real ping keeps sending on
 * schedule and matches replies to a table of send times).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "lesson.h"
#include "pkt.h"
#include "privs.h"

#define ICMP_HDRLEN 8        /* type, code, checksum, identifier, sequence */
#define DEFAULT_SIZE 56      /* data bytes after the header, as ping(8) */
#define MAX_SIZE 65507       /* 65535 - 20 (IPv4) - 8 (ICMP) */

struct options {
	const char *host;
	int family;       /* AF_UNSPEC, or AF_INET / AF_INET6 for -4 / -6 */
	long count;       /* 0: until interrupted */
	long interval_ms;
	long timeout_ms;
	size_t size;
};

struct pinger {
	int fd;
	int family;
	int type;         /* SOCK_RAW or SOCK_DGRAM */
	uint16_t id;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	char dsttext[INET6_ADDRSTRLEN];
	uint8_t *request; /* header and data, reused for every request */
	size_t reqlen;
	long sent, received, dups;
	double rtt_min, rtt_max, rtt_sum, rtt_sum2; /* ms */
};

/* One echo reply, as read off the socket. */
struct reply {
	uint16_t seq;
	size_t bytes;      /* ICMP message length */
	int ttl;           /* -1 when the kernel did not say */
	int data_ok;       /* our data came back unchanged */
	int checksum_ok;
	double at;         /* when recvmsg() returned, ms */
};

static volatile sig_atomic_t stop_requested;

static void usage(void)
{
	printf("usage: ping [-4|-6] [-c COUNT] [-i SECONDS] [-W SECONDS] [-s SIZE] DESTINATION\n"
	       "Lesson 16: send ICMP echo requests built by hand over a raw socket\n"
	       "(or an ICMP datagram socket when raw ones are not allowed) and time\n"
	       "the replies.\n"
	       "\n"
	       "  -4, -6              use IPv4 / IPv6 only (default: the first address)\n"
	       "  -c, --count COUNT   stop after COUNT requests, 1..1000000 (default: until Ctrl-C)\n"
	       "  -i, --interval SEC  seconds between requests, 0.2..60 (default 1)\n"
	       "  -W, --timeout SEC   seconds to wait for each reply, 0.01..60 (default 1)\n"
	       "  -s, --size SIZE     data bytes per request, 0..%d (default %d)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "A raw socket needs CAP_NET_RAW (root, or setcap cap_net_raw+p); the\n"
	       "fallback needs your group inside /proc/sys/net/ipv4/ping_group_range.\n"
	       "Exit status: 0 some reply came, 1 none did or a call failed, 2 bad usage.\n",
	       MAX_SIZE, DEFAULT_SIZE);
}

/* Seconds as ping(8) takes them ("1", "0.5"), in milliseconds. Only digits
 * and one dot: strtod alone would also take "inf", "1e3" and "0x10". */
static long opt_seconds(const char *arg, const char *what, long min_ms, long max_ms)
{
	static const char digits[] = "0123456789";
	size_t whole = strspn(arg, digits), fraction = 0;
	const char *rest = arg + whole;
	double ms = strtod(arg, NULL) * 1000.0;

	if (*rest == '.') {
		fraction = strspn(rest + 1, digits);
		rest += 1 + fraction;
	}
	if (whole + fraction == 0 || *rest != '\0' || ms < min_ms || ms > max_ms)
		usage_error("bad %s '%s': expected seconds from %g to %g", what, arg,
			    min_ms / 1000.0, max_ms / 1000.0);
	return (long)(ms + 0.5);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "count", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt->family = AF_UNSPEC;
	opt->count = 0;
	opt->interval_ms = 1000;
	opt->timeout_ms = 1000;
	opt->size = DEFAULT_SIZE;
	opterr = 0; /* bad_option() says what was wrong, in our words */
	while ((c = getopt_long(argc, argv, ":h46c:i:W:s:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case '4':
		case '6':
			if (opt->family != AF_UNSPEC)
				usage_error("-4 and -6 exclude each other");
			opt->family = c == '4' ? AF_INET : AF_INET6;
			break;
		case 'c':
			opt->count = opt_number(optarg, "count", 1, 1000000);
			break;
		case 'i':
			opt->interval_ms = opt_seconds(optarg, "interval", 200, 60000);
			break;
		case 'W':
			opt->timeout_ms = opt_seconds(optarg, "timeout", 10, 60000);
			break;
		case 's':
			opt->size = (size_t)opt_number(optarg, "size", 0, MAX_SIZE);
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind == argc)
		usage_error("no destination given");
	if (optind + 1 < argc)
		usage_error("unexpected argument '%s'", argv[optind + 1]);
	opt->host = argv[optind];
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* ---- setting up ------------------------------------------------------------ */

/* The destination's first address of the wanted family. The port means
 * nothing to ICMP; "0" only satisfies getaddrinfo. */
static void resolve_destination(const struct options *opt, struct pinger *pg)
{
	char err[SL_ERR_LEN];
	struct addrinfo *list = sl_addr_resolve(opt->host, "0", SOCK_DGRAM, 0, err);
	struct addrinfo *ai;

	if (list == NULL)
		die("%s", err);
	for (ai = list; ai != NULL; ai = ai->ai_next)
		if (opt->family == AF_UNSPEC || ai->ai_family == opt->family)
			break;
	if (ai == NULL) {
		freeaddrinfo(list);
		die("%s has no IPv%c address", opt->host, opt->family == AF_INET ? '4' : '6');
	}
	memcpy(&pg->dst, ai->ai_addr, ai->ai_addrlen);
	pg->dstlen = ai->ai_addrlen;
	pg->family = ai->ai_family;
	freeaddrinfo(list);
	if (pg->family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&pg->dst)->sin_addr,
			  pg->dsttext, sizeof(pg->dsttext));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&pg->dst)->sin6_addr,
			  pg->dsttext, sizeof(pg->dsttext));
}

static int not_permitted(int err)
{
	/* socket() says EPERM for a missing capability, EACCES when the group
	 * is outside ping_group_range, EPROTONOSUPPORT when the kernel has no
	 * ICMP datagram sockets at all. */
	return err == EPERM || err == EACCES || err == EPROTONOSUPPORT;
}

/* Neither socket is allowed: say what would allow one, and exit 1. */
static noreturn void explain_no_permission(void)
{
	char range[64] = "?";
	FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");

	if (f != NULL) {
		if (fgets(range, sizeof(range), f) != NULL)
			range[strcspn(range, "\n")] = '\0';
		fclose(f);
	}
	/* The file separates the two numbers with a tab. */
	for (char *t = strchr(range, '\t'); t != NULL; t = strchr(t, '\t'))
		*t = ' ';
	die("not allowed to send ICMP. A raw socket needs CAP_NET_RAW (run as root, "
	    "or: sudo setcap cap_net_raw+p ping); an ICMP datagram socket needs "
	    "your group (gid %u) inside net.ipv4.ping_group_range, now \"%s\" "
	    "(/proc/sys/net/ipv4/ping_group_range)", (unsigned)getgid(), range);
}

/* A raw socket if we may, else an ICMP datagram socket. */
static void open_icmp_socket(struct pinger *pg)
{
	int proto = pg->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	const char *name = pg->family == AF_INET ? "IPPROTO_ICMP" : "IPPROTO_ICMPV6";

	/* EXERCISE 2: a raw socket if we may, else an ICMP datagram socket */
	pg->type = SOCK_RAW;
	pg->fd = socket(pg->family, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (pg->fd >= 0)
		return;
	if (!not_permitted(errno))
		die("socket(SOCK_RAW, %s):", name);
	warn("socket(SOCK_RAW, %s):", name);

	pg->type = SOCK_DGRAM;
	pg->fd = socket(pg->family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
	if (pg->fd >= 0) {
		fprintf(stderr, "%s: using an ICMP datagram socket instead\n",
			program_invocation_short_name);
		return;
	}
	if (!not_permitted(errno))
		die("socket(SOCK_DGRAM, %s):", name);
	warn("socket(SOCK_DGRAM, %s):", name);
	explain_no_permission();
	/* END EXERCISE 2 */
}

/* On a raw socket the kernel filters by ICMP type before queueing: pass
 * echo replies only. Without it, on lo our own echo request (type 8 or
 * 128) arrives here too, and every ICMP message on the machine after it. */
static void filter_echo_replies(struct pinger *pg)
{
	if (pg->family == AF_INET) {
		/* A set bit blocks that type. */
		struct icmp_filter f = { .data = ~(1U << ICMP_ECHOREPLY) };

		if (setsockopt(pg->fd, SOL_RAW, ICMP_FILTER, &f, sizeof(f)) < 0)
			die("setsockopt(ICMP_FILTER):");
	} else {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		if (setsockopt(pg->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0)
			die("setsockopt(ICMP6_FILTER):");
	}
}

/* On an ICMP datagram socket the identifier is the kernel's business: it
 * is the socket's "port". bind() to port 0 makes the kernel pick one, and
 * getsockname() tells us which (the kernel writes it into every request,
 * and delivers to us only the replies that carry it). */
static void learn_kernel_identifier(struct pinger *pg)
{
	/* EXERCISE 2: learn the identifier the kernel gives our datagram socket */
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)pg->family; /* any address, port 0 */
	if (bind(pg->fd, (struct sockaddr *)&ss, pg->family == AF_INET
		 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0)
		die("bind:");
	if (getsockname(pg->fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname:");
	pg->id = (uint16_t)sl_addr_port((struct sockaddr *)&ss);
	/* END EXERCISE 2 */
}

static void configure_socket(struct pinger *pg)
{
	int on = 1;

	if (pg->type == SOCK_RAW) {
		filter_echo_replies(pg);
		/* Our identifier: the pid, as ping(8) always did. */
		pg->id = (uint16_t)(getpid() & 0xffff);
	} else {
		learn_kernel_identifier(pg);
	}
	/* Where no IP header comes with the message, ask for the TTL (hop
	 * limit) as ancillary data. */
	if (pg->family == AF_INET6) {
		if (setsockopt(pg->fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on)) < 0)
			die("setsockopt(IPV6_RECVHOPLIMIT):");
	} else if (pg->type == SOCK_DGRAM) {
		if (setsockopt(pg->fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)) < 0)
			die("setsockopt(IP_RECVTTL):");
	}
}

/* The request's data: a pattern we can recognise when it comes back. */
static void make_request(struct pinger *pg, size_t size)
{
	pg->reqlen = ICMP_HDRLEN + size;
	pg->request = malloc(pg->reqlen);
	if (pg->request == NULL)
		die("malloc:");
	for (size_t i = 0; i < size; i++)
		pg->request[ICMP_HDRLEN + i] = (uint8_t)i;
}

static void print_header(const struct options *opt, const struct pinger *pg)
{
	if (pg->family == AF_INET)
		printf("PING %s (%s) %zu(%zu) bytes of data.\n", opt->host, pg->dsttext,
		       opt->size, opt->size + ICMP_HDRLEN + 20);
	else
		printf("PING %s (%s) %zu data bytes\n", opt->host, pg->dsttext, opt->size);
	printf("using a %s socket, identifier %u (%s); now uid %u, no capabilities\n",
	       pg->type == SOCK_RAW ? "SOCK_RAW" : "SOCK_DGRAM", pg->id,
	       pg->type == SOCK_RAW ? "our pid" : "chosen by the kernel",
	       (unsigned)getuid());
}

/* ---- one request ------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*  0       7 8      15 16             31
 * +---------+---------+-----------------+
 * |  type   |  code   |    checksum     |
 * +---------+---------+-----------------+
 * |    identifier     |    sequence     |
 * +-------------------+-----------------+
 * |  data ...                           |
 */
static void build_request(struct pinger *pg, uint16_t seq)
{
	uint8_t *h = pg->request;

	/* EXERCISE 1: write the echo request's header, checksum included */
	h[0] = pg->family == AF_INET ? SL_PKT_ICMP_ECHO : SL_PKT_ICMP6_ECHO;
	h[1] = 0;
	put16(h + 2, 0); /* the checksum is computed with this field zero */
	put16(h + 4, pg->id);
	put16(h + 6, seq);
	/* ICMPv4: the checksum covers the ICMP message and is ours to fill
	 * in. ICMPv6 adds a pseudo-header with the source address, which only
	 * the kernel knows yet, so the kernel fills it in (it does on any
	 * ICMPv6 raw socket). On a datagram socket the kernel redoes it
	 * anyway, after writing its identifier in. */
	if (pg->family == AF_INET)
		put16(h + 2, sl_pkt_checksum(h, pg->reqlen));
	/* END EXERCISE 1 */
}

static void send_request(struct pinger *pg, uint16_t seq)
{
	ssize_t n;

	build_request(pg, seq);
	n = sendto(pg->fd, pg->request, pg->reqlen, 0,
		   (struct sockaddr *)&pg->dst, pg->dstlen);
	if (n < 0)
		die("sendto %s:", pg->dsttext);
	/* A datagram goes whole or not at all; check anyway. */
	if ((size_t)n != pg->reqlen)
		die("sendto %s: sent %zd of %zu bytes", pg->dsttext, n, pg->reqlen);
	pg->sent++;
}

/* ---- replies ---------------------------------------------------------------- */

/* The TTL or hop limit from ancillary data, or -1. */
static int ttl_from_cmsg(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		int v;

		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
			memcpy(&v, CMSG_DATA(c), sizeof(v)); /* may be unaligned */
			return v;
		}
	}
	return -1;
}

static int from_destination(const struct pinger *pg, const struct sockaddr_storage *from)
{
	if (from->ss_family != pg->family)
		return 0;
	if (pg->family == AF_INET)
		return ((const struct sockaddr_in *)from)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&pg->dst)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
		      &((const struct sockaddr_in6 *)&pg->dst)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

/* Read one message. Returns 1 and fills r when it is an echo reply to us
 * from the destination; 0 for anything else (which we skip). */
static int read_reply(struct pinger *pg, struct reply *r)
{
	uint8_t buf[65536];
	union {
		char space[CMSG_SPACE(sizeof(int)) * 4];
		struct cmsghdr align;
	} control;
	struct sockaddr_storage from;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof(from),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.space, .msg_controllen = sizeof(control.space),
	};
	const uint8_t *icmp = buf;
	struct sl_pkt_icmp h;
	size_t len;
	ssize_t n = recvmsg(pg->fd, &msg, 0);

	r->at = now_ms();
	if (n < 0)
		die("recvmsg:");
	len = (size_t)n;
	r->ttl = ttl_from_cmsg(&msg);
	if (pg->family == AF_INET && pg->type == SOCK_RAW) {
		/* A raw IPv4 socket delivers the IP header as well. */
		struct sl_pkt p;

		if (sl_pkt_decode_packet(buf, len, &p) < 0 || !(p.layers & SL_PKT_HAVE_ICMP))
			return 0;
		r->ttl = p.ip.ttl;
		icmp = buf + p.l4_off;
		len = p.ip.caplen - p.ip.hdrlen;
	}
	if (sl_pkt_decode_icmp(icmp, len, &h) < 0)
		return 0;
	if (h.type != (pg->family == AF_INET ? SL_PKT_ICMP_ECHO_REPLY : SL_PKT_ICMP6_ECHO_REPLY))
		return 0;
	/* Another ping's reply (a raw socket sees them all), or a stranger's. */
	if (h.id != pg->id || !from_destination(pg, &from))
		return 0;
	r->seq = h.seq;
	r->bytes = len;
	/* The kernel checks ICMPv6 checksums, and ICMPv4 ones before a
	 * datagram socket sees the message; a raw IPv4 socket gets the
	 * message first, so check. Over a correct message the sum is 0. */
	r->checksum_ok = pg->family != AF_INET || sl_pkt_checksum(icmp, len) == 0;
	r->data_ok = len == pg->reqlen &&
		     memcmp(icmp + ICMP_HDRLEN, pg->request + ICMP_HDRLEN,
			    pg->reqlen - ICMP_HDRLEN) == 0;
	return 1;
}

static void count_rtt(struct pinger *pg, double ms)
{
	if (pg->received == 0 || ms < pg->rtt_min)
		pg->rtt_min = ms;
	if (pg->received == 0 || ms > pg->rtt_max)
		pg->rtt_max = ms;
	pg->rtt_sum += ms;
	pg->rtt_sum2 += ms * ms;
	pg->received++;
}

static void print_reply(const struct pinger *pg, const struct reply *r,
			double ms, const char *note)
{
	printf("%zu bytes from %s: icmp_seq=%u", r->bytes, pg->dsttext, r->seq);
	if (r->ttl >= 0)
		printf(" ttl=%d", r->ttl);
	if (ms >= 0)
		printf(" time=%.3f ms", ms);
	printf("%s%s%s\n", note, r->checksum_ok ? "" : " (BAD CHECKSUM)",
	       r->data_ok ? "" : " (BAD DATA)");
}

/* Wait for replies until the deadline (ms on the monotonic clock), or,
 * with until_answered, until seq is answered. ppoll() opens the window
 * for SIGINT/SIGTERM only while we wait, so a Ctrl-C can never slip in
 * between checking the flag and going to sleep. Returns 1 once seq has
 * been answered (now or before: *answered carries it over). */
static int receive_until(struct pinger *pg, uint16_t seq, double sent_at,
			 double deadline, int until_answered, int *answered,
			 const sigset_t *waitmask)
{
	while (!stop_requested && !(until_answered && *answered)) {
		struct pollfd pfd = { .fd = pg->fd, .events = POLLIN };
		double left = deadline - now_ms();
		struct timespec ts;
		struct reply r;
		int n;

		if (left <= 0)
			break;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)((left - ts.tv_sec * 1000.0) * 1e6);
		n = ppoll(&pfd, 1, &ts, waitmask);
		if (n < 0 && errno == EINTR)
			continue; /* a signal: the loop condition looks at it */
		if (n < 0)
			die("ppoll:");
		if (n == 0)
			break; /* the deadline */
		if (!read_reply(pg, &r))
			continue;
		if (r.seq != seq) {
			/* An answer to an earlier request that we stopped
			 * waiting for. */
			print_reply(pg, &r, -1, " (late, not counted)");
		} else if (*answered) {
			pg->dups++;
			print_reply(pg, &r, r.at - sent_at, " (DUP!)");
		} else {
			*answered = 1;
			count_rtt(pg, r.at - sent_at);
			print_reply(pg, &r, r.at - sent_at, "");
		}
	}
	return *answered;
}

static void ping_loop(struct pinger *pg, const struct options *opt,
		      const sigset_t *waitmask)
{
	for (uint16_t seq = 1; !stop_requested; seq++) {
		double sent_at = now_ms();
		int answered = 0;

		send_request(pg, seq);
		if (!receive_until(pg, seq, sent_at, sent_at + opt->timeout_ms, 1,
				   &answered, waitmask) && !stop_requested)
			printf("no answer yet for icmp_seq=%u\n", seq);
		if (opt->count > 0 && pg->sent >= opt->count)
			break;
		/* The rest of the interval: duplicates and late replies. */
		receive_until(pg, seq, sent_at, sent_at + opt->interval_ms, 0,
			      &answered, waitmask);
	}
}

static void print_statistics(const struct pinger *pg, double elapsed)
{
	printf("\n--- %s ping statistics ---\n", pg->dsttext);
	printf("%ld packets transmitted, %ld received", pg->sent, pg->received);
	if (pg->dups > 0)
		printf(", +%ld duplicates", pg->dups);
	printf(", %ld%% packet loss, time %.0fms\n",
	       pg->sent > 0 ? (pg->sent - pg->received) * 100 / pg->sent : 0, elapsed);
	if (pg->received > 0) {
		double avg = pg->rtt_sum / pg->received;
		double var = pg->rtt_sum2 / pg->received - avg * avg;

		/* mdev: the standard deviation; rounding can make var -0. */
		printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", pg->rtt_min,
		       avg, pg->rtt_max, var > 0 ? sqrt(var) : 0.0);
	}
}

/* ---- main ------------------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Block SIGINT and SIGTERM except inside ppoll(); waitmask gets the mask
 * to wait with. Ctrl-C then ends the loop and still prints statistics. */
static void catch_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction:");
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, waitmask) < 0)
		die("sigprocmask:");
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct pinger pg;
	sigset_t waitmask;
	double start;

	memset(&pg, 0, sizeof(pg));
	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0); /* each line at once, even into a pipe */
	resolve_destination(&opt, &pg);
	open_icmp_socket(&pg);
	drop_privileges();
	configure_socket(&pg);
	make_request(&pg, opt.size);
	catch_signals(&waitmask);
	print_header(&opt, &pg);

	start = now_ms();
	ping_loop(&pg, &opt, &waitmask);
	print_statistics(&pg, now_ms() - start);

	free(pg.request);
	if (close(pg.fd) < 0)
		die("close:");
	return pg.received > 0 ? EXIT_OK : EXIT_RUNTIME;
}
