/* client.c — lesson 15: find a service without knowing its address or port.
 *
 * What it shows: the client knows one thing beforehand, the rendezvous (a
 * multicast group and a UDP port). It binds that port, joins the group
 * with IP_ADD_MEMBERSHIP, and reads announcements until one names the
 * service it wants, or its deadline passes. The announcement gives the
 * TCP port, and the address (addr=) or else recvfrom() tells where it came
 * from. Then it is an ordinary TCP client: connect, send a line, read the
 * reply.
 *
 * Why: joining is what makes the kernel accept the group's datagrams on
 * that interface at all (and, on a real network, what tells the switches,
 * by an IGMP report, to send them here). Until some socket on this host
 * has joined, they are dropped, even for a socket bound to the right port.
 * (A Linux twist: once one socket has joined, every socket bound to that
 * port gets them too, unless it sets IP_MULTICAST_ALL to 0.) --broadcast
 * listens for broadcasts instead, which need no joining: every host on
 * the link receives them, wanted or not.
 *
 * Notice when it runs: how long the discovery took (up to one announcement
 * interval), and that the port it connects to is one it was never told on
 * the command line. Ask for a name nobody announces and it waits until its
 * deadline and exits 1.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "socklab.h"
#include "lesson/lesson.h"
#include "discovery.h"

#define MAX_REPLY 4096

struct options {
	const char *name;    /* the service we look for */
	const char *group;
	const char *announce_port;
	const char *iface;   /* where to join the group */
	long timeout_ms;
	int broadcast;       /* listen for broadcasts instead */
	char **words;        /* the line to send (default "hello") */
	int nwords;
};

/* What an announcement told us. */
struct found {
	char name[MAX_NAME + 1];
	int tcp_port;
	struct in_addr addr;     /* addr=, when the announcement has one */
	int has_addr;
	struct sockaddr_in from; /* who sent it */
	char text[MAX_ANNOUNCEMENT + 1];
};

static void usage(void)
{
	printf("usage: client [-N NAME] [-g GROUP] [-P PORT] [-i ADDR] [-t MS]\n"
	       "              [--broadcast] [WORD...]\n"
	       "Finds the service NAME by its announcements on a multicast group\n"
	       "(lesson 15), connects to it over TCP, sends the WORDs as one line\n"
	       "(default: hello) and prints the reply. There is no -b or -p: the\n"
	       "server's address and port are what this program finds out.\n"
	       "\n"
	       "  -N, --name NAME          the service to look for (default %s)\n"
	       "  -g, --group GROUP        multicast group to join (default %s)\n"
	       "  -P, --announce-port PORT UDP port of the announcements (default %s)\n"
	       "  -i, --iface ADDR         address of the interface to join on\n"
	       "                           (default %s, the loopback)\n"
	       "  -t, --timeout MS         give up after MS ms (default 5000)\n"
	       "      --broadcast          listen for broadcast announcements instead\n"
	       "  -h, --help               show this help\n",
	       DEFAULT_NAME, DEFAULT_GROUP, DEFAULT_ANNOUNCE_PORT, DEFAULT_IFACE);
}

static const char *opt_ipv4(const char *arg, const char *what)
{
	struct in_addr a;

	if (inet_pton(AF_INET, arg, &a) != 1)
		usage_error("bad %s '%s': expected an IPv4 address such as 127.0.0.1",
			    what, arg);
	return arg;
}

static void check_options(const struct options *opt)
{
	struct in_addr g;

	if (!valid_service_name(opt->name))
		usage_error("bad name '%s': 1 to %d letters, digits, '.', '_' or '-'",
			    opt->name, MAX_NAME);
	inet_pton(AF_INET, opt->group, &g);
	if (!IN_MULTICAST(ntohl(g.s_addr)))
		usage_error("bad group '%s': a multicast group is 224.0.0.0 to 239.255.255.255",
			    opt->group);
	if (strcmp(opt->announce_port, "0") == 0)
		usage_error("bad announce port '0': it must be the one the server uses");
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_BROADCAST = 256 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "name", required_argument, NULL, 'N' },
		{ "group", required_argument, NULL, 'g' },
		{ "announce-port", required_argument, NULL, 'P' },
		{ "iface", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "broadcast", no_argument, NULL, OPT_BROADCAST },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->name = DEFAULT_NAME;
	opt->group = DEFAULT_GROUP;
	opt->announce_port = DEFAULT_ANNOUNCE_PORT;
	opt->iface = DEFAULT_IFACE;
	opt->timeout_ms = 5000;
	while ((c = getopt_long(argc, argv, ":hN:g:P:i:t:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'N':
			opt->name = optarg;
			break;
		case 'g':
			opt->group = opt_ipv4(optarg, "group");
			break;
		case 'P':
			opt->announce_port = opt_port(optarg);
			break;
		case 'i':
			opt->iface = opt_ipv4(optarg, "interface address");
			break;
		case 't':
			opt->timeout_ms = opt_number(optarg, "timeout", 1, 3600000);
			break;
		case OPT_BROADCAST:
			opt->broadcast = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	opt->words = optind < argc ? argv + optind : NULL;
	opt->nwords = argc - optind;
	check_options(opt);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- listening for announcements ----------------------------------------- */

/* A UDP socket bound to addr:port, shareable with other listeners. */
static int bind_announce_port(in_addr_t addr, uint16_t port)
{
	struct sockaddr_in sin;
	int one = 1;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	/* Several clients on one host may listen at once: with SO_REUSEADDR
	 * they can all bind the port, and each gets its own copy of every
	 * multicast or broadcast datagram. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		warn("setsockopt SO_REUSEADDR:");
		close(fd);
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr;
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		warn("bind port %u:", (unsigned)port);
		close(fd);
		return -1;
	}
	return fd;
}

/* Join the group on the interface with the given address. */
static int join_group(int fd, const char *group, const char *iface)
{
	/* EXERCISE 2: join the multicast group on the interface */
	struct ip_mreq mreq;

	memset(&mreq, 0, sizeof(mreq));
	inet_pton(AF_INET, group, &mreq.imr_multiaddr);
	inet_pton(AF_INET, iface, &mreq.imr_interface);
	/* From now on the kernel delivers the group's datagrams arriving on
	 * that interface to this socket (and, on a real network, tells the
	 * switches with an IGMP report that this host wants them). */
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0) {
		warn("setsockopt IP_ADD_MEMBERSHIP %s on %s:", group, iface);
		return -1;
	}
	return 0;
	/* END EXERCISE 2 */
}

/* The socket announcements arrive on. Returns it, or -1 (said why). */
static int open_listener(const struct options *opt)
{
	struct in_addr group;
	uint16_t port;
	int fd;

	sl_port_parse(opt->announce_port, &port);
	if (opt->broadcast) {
		/* Broadcasts are addressed to 255.255.255.255 or a subnet's
		 * broadcast address: bind the wildcard to receive them. */
		fd = bind_announce_port(htonl(INADDR_ANY), port);
		if (fd >= 0)
			printf("listening for broadcasts on port %u\n", (unsigned)port);
		return fd;
	}
	/* Binding the group address (not the wildcard) means only datagrams
	 * sent to this group reach the socket: not unicast ones to the same
	 * port, nor other groups that other programs here have joined. */
	inet_pton(AF_INET, opt->group, &group);
	fd = bind_announce_port(group.s_addr, port);
	if (fd < 0)
		return -1;
	if (join_group(fd, opt->group, opt->iface) < 0) {
		close(fd);
		return -1;
	}
	printf("joined group %s on interface %s, port %u\n", opt->group, opt->iface,
	       (unsigned)port);
	return fd;
}

/* Parse "socklab-discovery v1 name=NAME tcp=PORT [addr=A.B.C.D]" (keys in
 * any order, unknown keys skipped). Returns 0 and fills f, or -1 if it is
 * not one. */
static int parse_announcement(char *text, struct found *f)
{
	size_t plen = strlen(ANNOUNCE_PREFIX);
	char *save = NULL, *tok;
	uint16_t port;

	f->name[0] = '\0';
	f->tcp_port = 0;
	f->has_addr = 0;
	if (strncmp(text, ANNOUNCE_PREFIX, plen) != 0 || text[plen] != ' ')
		return -1;
	for (tok = strtok_r(text + plen, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "name=", 5) == 0 && valid_service_name(tok + 5))
			snprintf(f->name, sizeof(f->name), "%s", tok + 5);
		else if (strncmp(tok, "tcp=", 4) == 0 && sl_port_parse(tok + 4, &port) == 0 &&
			 port != 0)
			f->tcp_port = port;
		else if (strncmp(tok, "addr=", 5) == 0 &&
			 inet_pton(AF_INET, tok + 5, &f->addr) == 1)
			f->has_addr = 1;
	}
	return f->name[0] != '\0' && f->tcp_port != 0 ? 0 : -1;
}

/* Receive one datagram and see whether it announces the service we want.
 * Returns 1 when found, 0 to keep listening, -1 on failure. */
static int read_announcement(int fd, const char *want, struct found *f)
{
	char text[MAX_ANNOUNCEMENT + 1], from[SL_ADDRSTRLEN];
	socklen_t fromlen = sizeof(f->from);
	ssize_t n;

	n = recvfrom(fd, text, sizeof(text) - 1, 0, (struct sockaddr *)&f->from, &fromlen);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		warn("recvfrom:");
		return -1;
	}
	text[n] = '\0';
	/* The parser cuts the text into words: keep the whole line to show,
	 * with anything unprintable a stranger might send made harmless. */
	for (ssize_t i = 0; i <= n; i++)
		f->text[i] = text[i] == '\0' || isprint((unsigned char)text[i]) ? text[i] : '?';
	if (sl_addr_format((struct sockaddr *)&f->from, fromlen, from, sizeof(from)) == NULL)
		snprintf(from, sizeof(from), "(unknown address)");
	if (parse_announcement(text, f) < 0) {
		printf("ignored a datagram from %s: not an announcement\n", from);
		return 0;
	}
	if (strcmp(f->name, want) != 0) {
		printf("heard \"%s\" from %s: not the service we want\n", f->name, from);
		return 0;
	}
	printf("heard \"%s\" from %s\n", f->text, from);
	return 1;
}

/* Listen until the wanted service announces itself or the deadline
 * passes. Returns 0 when found, -1 otherwise (said why). */
static int discover(int fd, const struct options *opt, struct found *f)
{
	long long start = now_ms(), deadline = start + opt->timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		int n, rc;

		if (left <= 0) {
			warn("no announcement of \"%s\" within %ld ms", opt->name,
			     opt->timeout_ms);
			return -1;
		}
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR) {
			warn("poll:");
			return -1;
		}
		if (n <= 0)
			continue; /* EINTR or the deadline: the loop top decides */
		rc = read_announcement(fd, opt->name, f);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			printf("found \"%s\" after %lld ms\n", opt->name, now_ms() - start);
			return 0;
		}
	}
}

/* ---- talking to the service ------------------------------------------- */

/* The line to send: the words joined by spaces, or "hello". */
static int send_words(int fd, const struct options *opt)
{
	if (opt->nwords == 0)
		return sl_io_write_all(fd, "hello\n", 6) < 0 ? -1 : 0;
	for (int i = 0; i < opt->nwords; i++) {
		const char *sep = i + 1 < opt->nwords ? " " : "\n";

		if (sl_io_write_all(fd, opt->words[i], strlen(opt->words[i])) < 0 ||
		    sl_io_write_all(fd, sep, 1) < 0)
			return -1;
	}
	return 0;
}

/* Print everything the service sends until it closes. */
static int print_reply(int fd)
{
	char buf[MAX_REPLY];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recv:");
			return -1;
		}
		if (sl_io_write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
			warn("write standard output:");
			return -1;
		}
	}
}

/* Connect to the port the announcement named, at the address it named
 * or else the one it came from (TCP is lesson 02's subject; the library
 * does it here). */
static int talk(const struct found *f, const struct options *opt)
{
	char host[INET_ADDRSTRLEN], port[8], err[SL_ERR_LEN];
	int fd, rc = -1;

	inet_ntop(AF_INET, f->has_addr ? &f->addr : &f->from.sin_addr, host, sizeof(host));
	snprintf(port, sizeof(port), "%d", f->tcp_port);
	printf("connecting to %s:%s over TCP (the address %s)\n", host, port,
	       f->has_addr ? "in the announcement" : "the announcement came from");
	fd = sl_tcp_connect(host, port, (int)opt->timeout_ms, err);
	if (fd < 0) {
		warn("%s", err);
		return -1;
	}
	if (send_words(fd, opt) < 0)
		warn("send:");
	else if (shutdown(fd, SHUT_WR) < 0)
		warn("shutdown:");
	else
		rc = print_reply(fd);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	struct options opt;
	struct found f;
	int fd, rc;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open_listener(&opt);
	if (fd < 0)
		return EXIT_RUNTIME;
	rc = discover(fd, &opt, &f);
	/* Closing the socket also leaves the group. */
	close(fd);
	if (rc < 0)
		return EXIT_RUNTIME;
	return talk(&f, &opt) < 0 ? EXIT_RUNTIME : EXIT_OK;
}
