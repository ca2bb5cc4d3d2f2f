/* sniff.c — lesson 16: capture packets with an AF_PACKET socket, choose
 * them with a BPF filter written by hand, and decode their headers.
 *
 * What it shows: a packet socket (AF_PACKET, SOCK_RAW) receives whole link-
 * layer frames — Ethernet header, IP header, TCP or UDP header, data — for
 * every packet the interface sends or receives, whichever program's they
 * are. That is what tcpdump and Wireshark are built on. A classic BPF
 * program, attached with SO_ATTACH_FILTER, runs in the kernel on each
 * packet and decides whether we get it (and how many of its bytes), so
 * uninteresting traffic never costs a copy or a wake-up.
 *
 * Why: seeing the segments makes TCP concrete. Connect to a listener while
 * this runs and the three-way handshake appears: SYN with its options
 * (MSS, window scale, SACK permitted, timestamps), SYN-ACK acknowledging
 * seq+1, ACK; then data, FINs, or an RST.
 *
 * Notice when it runs: on lo every packet passes the taps twice, once
 * leaving and once arriving; we show it once (see capture()). And the
 * sequence numbers are absolute: the SYN-ACK's ack is the SYN's seq + 1.
 *
 * Needs CAP_NET_RAW to open the socket (root, setcap, or a private
 * namespace: unshare -rn); privileges are dropped right after.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lesson.h"
#include "pkt.h"
#include "privs.h"

/* Bytes of each packet the filter keeps: enough for every header we
 * decode (14 Ethernet + 60 IPv4 or 40 IPv6 and some extensions + 60 TCP),
 * not the data, which we do not print. */
#define SNAPLEN 256

struct options {
	const char *iface;
	uint16_t port;
	long count;     /* 0: until interrupted */
	int link;       /* -e: print the Ethernet header too */
};

static volatile sig_atomic_t stop_requested;

static void usage(void)
{
	printf("usage: sniff [-i IFACE] -p PORT [-c COUNT] [-e]\n"
	       "Lesson 16: capture the TCP and UDP packets to or from PORT on an\n"
	       "interface, with a packet socket and a hand-written BPF filter, and\n"
	       "print one line per packet: addresses, ports, flags, sequence numbers,\n"
	       "window and TCP options.\n"
	       "\n"
	       "  -i, --interface IFACE  interface to capture on (default lo)\n"
	       "  -p, --port PORT        port to capture, 1..65535 (required)\n"
	       "  -c, --count COUNT      stop after COUNT packets, 1..1000000\n"
	       "                         (default: until Ctrl-C)\n"
	       "  -e, --link             also print the Ethernet addresses and type\n"
	       "  -h, --help             show this help\n"
	       "\n"
	       "Needs CAP_NET_RAW: run as root, or setcap cap_net_raw+p, or inside\n"
	       "a private network namespace (unshare -rn).\n");
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "interface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "link", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt->iface = "lo";
	opt->port = 0;
	opt->count = 0;
	opt->link = 0;
	opterr = 0; /* bad_option() says what was wrong, in our words */
	while ((c = getopt_long(argc, argv, ":hi:p:c:e", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'i':
			opt->iface = optarg;
			break;
		case 'p':
			/* Port 0 never appears on the wire: it would match nothing. */
			opt->port = (uint16_t)opt_number(optarg, "port", 1, 65535);
			break;
		case 'c':
			opt->count = opt_number(optarg, "count", 1, 1000000);
			break;
		case 'e':
			opt->link = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->port == 0)
		usage_error("no port given: -p PORT is required");
	if (strlen(opt->iface) >= IFNAMSIZ)
		usage_error("bad interface '%s': names are at most %d characters",
			    opt->iface, IFNAMSIZ - 1);
}

/* ---- the socket -------------------------------------------------------------- */

/* A packet socket names interfaces by number. */
static int interface_index(const char *iface)
{
	unsigned index = if_nametoindex(iface);

	if (index == 0)
		die("interface %s:", iface);
	return (int)index;
}

/* Protocol 0: the socket receives nothing until bind() names a protocol.
 * Had we asked for ETH_P_ALL here, packets would queue up unfiltered in
 * the moment before SO_ATTACH_FILTER, and we would print strangers. */
static int open_packet_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		return fd;
	if (errno != EPERM && errno != EACCES)
		die("socket(AF_PACKET, SOCK_RAW):");
	warn("socket(AF_PACKET, SOCK_RAW):");
	die("capturing packets needs CAP_NET_RAW: run as root (sudo), or give the "
	    "program the capability (sudo setcap cap_net_raw+p sniff), or run it in "
	    "a private network namespace (unshare -rn)");
}

/* The filter below reads fixed offsets of an Ethernet frame. lo uses the
 * same 14-byte header (with zero addresses); other link types do not. */
static int check_link_type(int fd, const char *iface)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, iface, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		die("interface %s:", iface);
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
	    ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK)
		die("interface %s: link type %u is not Ethernet; this filter only "
		    "knows Ethernet framing", iface, ifr.ifr_hwaddr.sa_family);
	return ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK;
}

/* ---- the BPF filter: "(tcp or udp) and port P", IPv4 and IPv6 ---------------
 *
 * Classic BPF is a tiny machine: an accumulator A, an index register X,
 * loads from the packet at fixed offsets (ABS) or at X + offset (IND),
 * compares that jump forward by jt when true and jf when false (counted
 * from the next instruction), and "ret #n": keep n bytes of the packet
 * (0 = drop it). The kernel checks the program when it is attached: no
 * backward jumps, so it always ends, and every load is bounds-checked (a
 * load past the end of the packet drops it).
 *
 * Offsets into an Ethernet frame: EtherType at 12, the IP header at 14.
 * IPv4: protocol at 14+9, flags/fragment offset at 14+6, and the header
 * length in the low nibble of byte 14, in 4-byte words; the ports are the
 * first 4 bytes after the IP header, whatever its length. IPv6: next
 * header at 14+6, and the header is always 40 bytes, so the ports sit at
 * 54 and 56 — when no extension header comes between (a filter without
 * loops cannot walk them; tcpdump's has the same limit).
 */

/* Instruction numbers, so each jump can name its target. */
enum {
	I_ETHERTYPE,   /* A = EtherType */
	I_IS_IPV4,
	I_V4_PROTO,    /* A = IPv4 protocol */
	I_V4_IS_TCP,
	I_V4_IS_UDP,
	I_V4_FRAG,     /* A = flags and fragment offset */
	I_V4_LATER,
	I_V4_HDRLEN,   /* X = IPv4 header length */
	I_V4_SPORT,    /* A = source port */
	I_V4_SPORT_IS,
	I_V4_DPORT,    /* A = destination port */
	I_V4_DPORT_IS,
	I_IS_IPV6,
	I_V6_NEXT,     /* A = IPv6 next header */
	I_V6_IS_TCP,
	I_V6_IS_UDP,
	I_V6_SPORT,
	I_V6_SPORT_IS,
	I_V6_DPORT,
	I_V6_DPORT_IS,
	I_ACCEPT,
	I_DROP,
	I_COUNT
};

/* A jump's jt/jf: the distance from the instruction after `from`. */
#define TO(from, to) ((to) - (from) - 1)

static void attach_port_filter(int fd, uint16_t port)
{
	struct sock_filter code[I_COUNT] = {
		/* EXERCISE 3: the filter's first half: IPv4, TCP or UDP, port P */
		[I_ETHERTYPE] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		/* IPv4 goes on; anything else tries IPv6. */
		[I_IS_IPV4] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP,
				       0, TO(I_IS_IPV4, I_IS_IPV6)),

		[I_V4_PROTO] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9),
		[I_V4_IS_TCP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP,
					 TO(I_V4_IS_TCP, I_V4_FRAG), 0),
		[I_V4_IS_UDP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP,
					 0, TO(I_V4_IS_UDP, I_DROP)),
		/* Only the first fragment holds the ports: drop later ones
		 * (any of the 13 fragment offset bits set). */
		[I_V4_FRAG] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 6),
		[I_V4_LATER] = BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff,
					TO(I_V4_LATER, I_DROP), 0),
		/* BPF_MSH exists for exactly this: X = 4 * (byte 14 & 0xf). */
		[I_V4_HDRLEN] = BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		[I_V4_SPORT] = BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),
		[I_V4_SPORT_IS] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port,
					   TO(I_V4_SPORT_IS, I_ACCEPT), 0),
		[I_V4_DPORT] = BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 2),
		[I_V4_DPORT_IS] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port,
					   TO(I_V4_DPORT_IS, I_ACCEPT),
					   TO(I_V4_DPORT_IS, I_DROP)),
		/* END EXERCISE 3 */

		/* A still holds the EtherType: jumps do not change it. */
		[I_IS_IPV6] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6,
				       0, TO(I_IS_IPV6, I_DROP)),
		[I_V6_NEXT] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 6),
		[I_V6_IS_TCP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP,
					 TO(I_V6_IS_TCP, I_V6_SPORT), 0),
		[I_V6_IS_UDP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP,
					 0, TO(I_V6_IS_UDP, I_DROP)),
		[I_V6_SPORT] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 40),
		[I_V6_SPORT_IS] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port,
					   TO(I_V6_SPORT_IS, I_ACCEPT), 0),
		[I_V6_DPORT] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 42),
		[I_V6_DPORT_IS] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port,
					   TO(I_V6_DPORT_IS, I_ACCEPT),
					   TO(I_V6_DPORT_IS, I_DROP)),

		/* Keep the first SNAPLEN bytes (the whole packet if shorter). */
		[I_ACCEPT] = BPF_STMT(BPF_RET | BPF_K, SNAPLEN),
		[I_DROP] = BPF_STMT(BPF_RET | BPF_K, 0),
	};
	/* The kernel copies the program: a local array is fine. */
	struct sock_fprog prog = { .len = I_COUNT, .filter = code };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		die("setsockopt(SO_ATTACH_FILTER):");
}

/* Only now, with the filter in place, start receiving: every protocol
 * (ETH_P_ALL), on this one interface. */
static void bind_to_interface(int fd, int ifindex, const char *iface)
{
	struct sockaddr_ll sll;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind to %s:", iface);
}

/* ---- printing one packet ----------------------------------------------------- */

/* "127.0.0.1:5000" or "[::1]:5000" */
static void format_endpoint(const struct sl_pkt_ip *ip, const uint8_t *addr,
			    uint16_t port, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(ip->version == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
	snprintf(buf, size, ip->version == 4 ? "%s:%u" : "[%s]:%u", text, port);
}

static void print_link(const struct sl_pkt_eth *eth)
{
	const uint8_t *s = eth->src, *d = eth->dst;

	printf("%02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x "
	       "type 0x%04x, ", s[0], s[1], s[2], s[3], s[4], s[5],
	       d[0], d[1], d[2], d[3], d[4], d[5], eth->type);
}

/* "[SYN,ACK]" */
static void print_tcp_flags(uint8_t flags)
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{ SL_PKT_TCP_SYN, "SYN" }, { SL_PKT_TCP_FIN, "FIN" },
		{ SL_PKT_TCP_RST, "RST" }, { SL_PKT_TCP_PSH, "PSH" },
		{ SL_PKT_TCP_ACK, "ACK" }, { SL_PKT_TCP_URG, "URG" },
		{ SL_PKT_TCP_ECE, "ECE" }, { SL_PKT_TCP_CWR, "CWR" },
	};
	const char *sep = "";

	putchar('[');
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit) {
			printf("%s%s", sep, names[i].name);
			sep = ",";
		}
	putchar(']');
}

static void print_tcp(const struct sl_pkt *p)
{
	const struct sl_pkt_tcp *t = &p->tcp;

	printf(" TCP ");
	print_tcp_flags(t->flags);
	printf(" seq=%u", t->seq);
	if (t->flags & SL_PKT_TCP_ACK)
		printf(" ack=%u", t->ack);
	/* The window as sent; after the handshake the receiver multiplies it
	 * by 2^ws from the SYN it saw. */
	printf(" win=%u len=%zu", t->window, p->payload_len);
	if (t->has_mss)
		printf(" mss=%u", t->mss);
	if (t->has_wscale)
		printf(" ws=%u", t->wscale);
	if (t->sack_permitted)
		printf(" sackOK");
	if (t->sack_blocks > 0)
		printf(" sack=%u", t->sack_blocks);
	if (t->has_timestamps)
		printf(" ts=%u/%u", t->ts_val, t->ts_ecr);
	if (t->bad_options)
		printf(" [bad options]");
}

static const char *layer_name(unsigned layer, int version)
{
	switch (layer) {
	case SL_PKT_HAVE_ETH: return "Ethernet";
	case SL_PKT_HAVE_IP: return version == 6 ? "IPv6" : "IPv4";
	case SL_PKT_HAVE_TCP: return "TCP";
	case SL_PKT_HAVE_UDP: return "UDP";
	default: return "ICMP";
	}
}

static void print_packet(const uint8_t *frame, size_t caplen, const struct options *opt)
{
	struct sl_pkt p;
	char src[64], dst[64];
	int rc = sl_pkt_decode_frame(frame, caplen, &p);
	uint16_t sport = 0, dport = 0;

	if (opt->link && (p.layers & SL_PKT_HAVE_ETH))
		print_link(&p.eth);
	if (rc < 0) {
		/* The capture (or the sender) cut a header short: say so. */
		printf("%s %s header (%zu bytes captured)\n",
		       errno == EPROTO ? "truncated" : "malformed",
		       layer_name(p.failed, p.eth.type == SL_PKT_ETH_IPV6 ? 6 : 4),
		       caplen);
		return;
	}
	if (!(p.layers & SL_PKT_HAVE_IP)) {
		printf("EtherType 0x%04x, not IP\n", p.eth.type);
		return;
	}
	if (p.layers & SL_PKT_HAVE_TCP) {
		sport = p.tcp.sport;
		dport = p.tcp.dport;
	} else if (p.layers & SL_PKT_HAVE_UDP) {
		sport = p.udp.sport;
		dport = p.udp.dport;
	}
	format_endpoint(&p.ip, p.ip.src, sport, src, sizeof(src));
	format_endpoint(&p.ip, p.ip.dst, dport, dst, sizeof(dst));
	printf("%s > %s", src, dst);
	if (p.layers & SL_PKT_HAVE_TCP)
		print_tcp(&p);
	else if (p.layers & SL_PKT_HAVE_UDP)
		printf(" UDP len=%zu", p.payload_len);
	else
		printf(" IP protocol %u%s", p.ip.proto,
		       p.ip.later_fragment ? ", a later fragment" : "");
	putchar('\n');
}

/* ---- the capture loop ------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Block SIGINT and SIGTERM except inside ppoll(), so a Ctrl-C cannot slip
 * in between checking the flag and going to sleep; waitmask gets the mask
 * to wait with. */
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

/* A packet sent over lo passes the packet taps twice: once on the way out
 * (dev_queue_xmit() gives every packet socket a copy, marked
 * PACKET_OUTGOING) and once on the way in (lo hands it straight back to
 * the receive path, where it is PACKET_HOST). On a real interface a packet
 * either leaves or arrives, so there we keep outgoing packets; on lo we
 * keep only the arriving copy, and count the others. */
static void capture(int fd, const struct options *opt, int loopback,
		    const sigset_t *waitmask)
{
	long shown = 0, skipped = 0;

	while (!stop_requested && (opt->count == 0 || shown < opt->count)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		uint8_t frame[SNAPLEN]; /* the filter never gives us more */
		ssize_t n;

		if (ppoll(&pfd, 1, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue; /* a signal: the loop condition looks at it */
			die("ppoll:");
		}
		n = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			die("recvfrom:");
		if (loopback && from.sll_pkttype == PACKET_OUTGOING) {
			skipped++;
			continue;
		}
		print_packet(frame, (size_t)n, opt);
		shown++;
	}
	printf("%ld packets shown", shown);
	if (loopback)
		printf(", %ld outgoing copies on %s skipped", skipped, opt->iface);
	printf("\n");
}

int main(int argc, char **argv)
{
	struct options opt;
	sigset_t waitmask;
	int fd, ifindex, loopback;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0); /* each line at once, even into a pipe */
	ifindex = interface_index(opt.iface);
	fd = open_packet_socket();
	drop_privileges(); /* what follows needs no capability */
	loopback = check_link_type(fd, opt.iface);
	attach_port_filter(fd, opt.port);
	bind_to_interface(fd, ifindex, opt.iface);
	catch_signals(&waitmask);
	printf("capturing on %s port %u (BPF filter: %d instructions, first %d bytes "
	       "of each packet)\n", opt.iface, opt.port, I_COUNT, SNAPLEN);

	capture(fd, &opt, loopback, &waitmask);

	if (close(fd) < 0)
		die("close:");
	return EXIT_OK;
}
