/* server.c — lesson 15: a service that tells the network where it is.
 *
 * What it shows: a TCP service on port 0 (so its port is different every
 * run, and no one can know it in advance) that announces itself: every
 * 500 ms it sends one UDP datagram, "socklab-discovery v1 name=echo
 * tcp=PORT addr=127.0.0.1", to a multicast group. Clients that joined
 * the group hear it and learn where to connect. In between, ppoll()
 * waits on the TCP listener with a timeout that ends at the next
 * announcement, and each client that connects gets one line back.
 * SIGINT/SIGTERM are blocked except inside ppoll(), so a stop signal is
 * never lost between the loop's test and the wait.
 *
 * Why: well-known ports and DNS need someone to decide and configure
 * things ahead of time. On a local network a service can instead say
 * "here I am" to whoever listens: that is how printers, Chromecasts, mDNS
 * (.local names) and SSDP/UPnP are found. The calls are few:
 * IP_MULTICAST_IF picks the interface the datagrams leave by,
 * IP_MULTICAST_TTL how many routers they may cross, IP_MULTICAST_LOOP
 * whether this host's own members get a copy; then sendto() the group.
 * With --broadcast the same announcement goes to a broadcast address
 * instead, after SO_BROADCAST, which the kernel insists on.
 *
 * Notice when it runs: the server never learns who is listening. Sending
 * to a group is like shouting in a room; it costs the same with zero
 * listeners or a hundred.
 *
 * Staying on this machine: the default interface is 127.0.0.1, the
 * loopback, whose "link" is this host; TTL 1 keeps a datagram on its
 * first link in any case (routers do not forward it), and the group is in
 * 239.255.0.0/16, which routers at a site's edge do not forward either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "socklab.h"
#include "lesson/lesson.h"
#include "discovery.h"

#define BACKLOG 16
/* A client that connects must send its line within this time. */
#define CLIENT_TIMEOUT_S 2
#define MAX_LINE 256

static volatile sig_atomic_t stop_requested;

struct options {
	const char *host;         /* TCP service address (IPv4) */
	const char *port;         /* TCP service port */
	const char *name;         /* the service name announced */
	const char *group;        /* multicast group */
	const char *announce_port;
	const char *iface;        /* IP_MULTICAST_IF address */
	const char *broadcast;    /* broadcast address, or NULL: multicast */
	long interval_ms;
	long ttl;
	long max_clients;         /* 0 = no limit */
	int verbose;
};

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [-N NAME] [-g GROUP] [-P PORT]\n"
	       "              [-i ADDR] [-I MS] [--ttl N] [--broadcast ADDR] [-n N] [-v]\n"
	       "A TCP service that announces its port on a multicast group (lesson 15).\n"
	       "Each client that connects sends one line and gets one line back.\n"
	       "\n"
	       "  -b, --bind ADDR          IPv4 address of the TCP service (default %s)\n"
	       "  -p, --port PORT          its port (default 0: any free port)\n"
	       "  -N, --name NAME          the service name to announce (default %s)\n"
	       "  -g, --group GROUP        multicast group to announce on (default %s)\n"
	       "  -P, --announce-port PORT UDP port of the announcements (default %s)\n"
	       "  -i, --iface ADDR         address of the interface to announce from\n"
	       "                           (default %s, the loopback)\n"
	       "  -I, --interval MS        time between announcements (default 500)\n"
	       "      --ttl N              IP_MULTICAST_TTL (default 1)\n"
	       "      --broadcast ADDR     announce by broadcast to ADDR instead\n"
	       "                           (127.255.255.255 on the loopback)\n"
	       "  -n, --clients N          exit after N clients (default 0: until\n"
	       "                           SIGINT or SIGTERM)\n"
	       "  -v, --verbose            print every announcement\n"
	       "  -h, --help               show this help\n",
	       DEFAULT_HOST, DEFAULT_NAME, DEFAULT_GROUP, DEFAULT_ANNOUNCE_PORT,
	       DEFAULT_IFACE);
}

/* A numeric IPv4 address, or exit 2. No names: a name could need DNS. */
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
		usage_error("bad announce port '0': clients must know it in advance");
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_TTL = 256, OPT_BROADCAST };
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "name", required_argument, NULL, 'N' },
		{ "group", required_argument, NULL, 'g' },
		{ "announce-port", required_argument, NULL, 'P' },
		{ "iface", required_argument, NULL, 'i' },
		{ "interval", required_argument, NULL, 'I' },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "broadcast", required_argument, NULL, OPT_BROADCAST },
		{ "clients", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->name = DEFAULT_NAME;
	opt->group = DEFAULT_GROUP;
	opt->announce_port = DEFAULT_ANNOUNCE_PORT;
	opt->iface = DEFAULT_IFACE;
	opt->interval_ms = 500;
	opt->ttl = 1;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "N:g:P:i:I:n:v",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'b':
			opt->host = opt_ipv4(optarg, "address");
			break;
		case 'p':
			opt->port = opt_port(optarg);
			break;
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
		case 'I':
			opt->interval_ms = opt_number(optarg, "interval", 10, 3600000);
			break;
		case OPT_TTL:
			opt->ttl = opt_number(optarg, "TTL", 0, 255);
			break;
		case OPT_BROADCAST:
			opt->broadcast = opt_ipv4(optarg, "broadcast address");
			break;
		case 'n':
			opt->max_clients = opt_number(optarg, "client count", 0, 1000000);
			break;
		case 'v':
			opt->verbose = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	check_options(opt);
}

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Install the SIGINT/SIGTERM handler and block both signals: they get
 * through only while ppoll() waits. *during_wait gets the mask for it. */
static void install_stop_handlers(sigset_t *during_wait)
{
	struct sigaction sa;
	sigset_t stop_signals;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop_signals, during_wait) < 0)
		die("sigprocmask:");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the announcer --------------------------------------------------------- */

struct announcer {
	int fd;
	struct sockaddr_in dest;   /* group (or broadcast address) and port */
	char text[MAX_ANNOUNCEMENT];
	size_t len;
	char dest_text[SL_ADDRSTRLEN];
	long sent;
};

/* Multicast: which interface, how far, and a copy for this host. */
static int set_multicast_options(int fd, const struct options *opt)
{
	/* EXERCISE 1: set the multicast options: which interface, how far, a copy for this host */
	struct in_addr iface;
	/* Linux takes an int or a byte for these two; BSD wants a byte. */
	unsigned char ttl = (unsigned char)opt->ttl, loop = 1;

	inet_pton(AF_INET, opt->iface, &iface);
	/* Without IP_MULTICAST_IF the routing table picks the interface
	 * (the default route's, usually the LAN). 127.0.0.1 names lo. */
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof(iface)) < 0) {
		warn("setsockopt IP_MULTICAST_IF %s:", opt->iface);
		return -1;
	}
	/* TTL 1: no router forwards the datagram off its first link. */
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0) {
		warn("setsockopt IP_MULTICAST_TTL:");
		return -1;
	}
	/* Deliver a copy to members on this host too (the default, said
	 * out loud). On lo it makes no difference: lo delivers to this host
	 * anyway; on a real interface it is how a client on the same machine
	 * hears us. */
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) < 0) {
		warn("setsockopt IP_MULTICAST_LOOP:");
		return -1;
	}
	return 0;
	/* END EXERCISE 1 */
}

/* Broadcast: without SO_BROADCAST, sendto() to a broadcast address fails
 * with EACCES, so that no program floods a network by mistake. */
static int set_broadcast_options(int fd)
{
	/* EXERCISE 3: allow this socket to send to a broadcast address */
	int on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) < 0) {
		warn("setsockopt SO_BROADCAST:");
		return -1;
	}
	return 0;
	/* END EXERCISE 3 */
}

/* The announcing socket and the text it sends. Returns 0, or -1. */
static int open_announcer(struct announcer *a, const struct options *opt,
			  int tcp_port)
{
	const char *to = opt->broadcast != NULL ? opt->broadcast : opt->group;
	uint16_t port;

	a->sent = 0;
	a->len = (size_t)snprintf(a->text, sizeof(a->text), "%s name=%s tcp=%d",
				  ANNOUNCE_PREFIX, opt->name, tcp_port);
	/* Listening on one address only? Say which: the datagram's source
	 * is the announcing interface's address, which may differ. */
	if (strcmp(opt->host, "0.0.0.0") != 0)
		a->len += (size_t)snprintf(a->text + a->len, sizeof(a->text) - a->len,
					   " addr=%s", opt->host);
	sl_port_parse(opt->announce_port, &port);
	memset(&a->dest, 0, sizeof(a->dest));
	a->dest.sin_family = AF_INET;
	a->dest.sin_port = htons(port);
	inet_pton(AF_INET, to, &a->dest.sin_addr);
	snprintf(a->dest_text, sizeof(a->dest_text), "%s:%u", to, (unsigned)port);

	/* A plain UDP socket: nothing about it says "multicast" until the
	 * options below and the group address we send to. No bind(): it
	 * only sends. */
	a->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (a->fd < 0) {
		warn("socket:");
		return -1;
	}
	if (opt->broadcast != NULL)
		return set_broadcast_options(a->fd);
	return set_multicast_options(a->fd, opt);
}

/* Send one announcement. Returns 0, or -1 (said why). */
static int announce(struct announcer *a, int verbose)
{
	if (sendto(a->fd, a->text, a->len, 0, (struct sockaddr *)&a->dest,
		   sizeof(a->dest)) < 0) {
		warn("sendto %s:", a->dest_text);
		return -1;
	}
	a->sent++;
	if (verbose)
		printf("announced \"%s\" to %s (%ld)\n", a->text, a->dest_text, a->sent);
	return 0;
}

/* ---- the TCP service -------------------------------------------------- */

/* Read one line from the client (bounded by SO_RCVTIMEO) and answer it. */
static void answer_client(int fd, const char *who, const char *name)
{
	struct timeval tv = { CLIENT_TIMEOUT_S, 0 };
	struct sl_line_reader lr;
	char reply[MAX_LINE + 64], *line;
	ssize_t n;
	int len;

	/* A client that connects and says nothing must not stop the
	 * announcements for long: recv() gives up after CLIENT_TIMEOUT_S. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		warn("setsockopt SO_RCVTIMEO:");
		return;
	}
	if (sl_line_init(&lr, fd, MAX_LINE) < 0) {
		warn("line reader:");
		return;
	}
	n = sl_line_read(&lr, &line);
	if (n < 0)
		warn("read from %s:", who);
	if (n > 0) {
		if (line[n - 1] == '\n')
			n--;
		len = snprintf(reply, sizeof(reply), "hello from %s: you said \"%.*s\"\n",
			       name, (int)n, line);
		printf("client %s said \"%.*s\"\n", who, (int)n, line);
		if (sl_io_write_all(fd, reply, (size_t)len) < 0)
			warn("send to %s:", who);
	}
	sl_line_free(&lr);
}

/* Accept one client the listener has ready, and serve it. Returns 1 when
 * a client was served, 0 when there was none after all, -1 on failure. */
static int serve_one(int listener, const char *name)
{
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof(peer);
	char who[SL_ADDRSTRLEN];
	/* The listener is non-blocking: if the client gave up between
	 * ppoll() and here, accept() says EAGAIN instead of waiting. */
	int fd = accept(listener, (struct sockaddr *)&peer, &peerlen);

	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED)
			return 0;
		warn("accept:");
		return -1;
	}
	if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
		snprintf(who, sizeof(who), "(unknown address)");
	answer_client(fd, who, name);
	close(fd);
	return 1;
}

/* Wait for a client until the next announcement is due (or a stop
 * signal). Returns 1 when the listener is readable, 0 when not, -1 on
 * failure. */
static int wait_for_client(int listener, long long next, const sigset_t *during_wait)
{
	struct pollfd pfd = { .fd = listener, .events = POLLIN };
	long long left = next - now_ms();
	struct timespec ts;
	int n;

	if (left < 0)
		left = 0;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000;
	/* ppoll() unblocks SIGINT/SIGTERM and waits, in one step: a stop
	 * signal cannot slip in between the loop's test and the wait. */
	n = ppoll(&pfd, 1, &ts, during_wait);
	if (n < 0) {
		if (errno == EINTR)
			return 0; /* a signal: the loop test reads the flag */
		warn("ppoll:");
		return -1;
	}
	return n > 0;
}

/* Announce every interval and serve clients in between, until a signal
 * or max_clients. Returns EXIT_OK or EXIT_RUNTIME. */
static int run(int listener, struct announcer *a, const struct options *opt,
	       const sigset_t *during_wait)
{
	long long next = now_ms();
	long served = 0;

	while (!stop_requested && (opt->max_clients == 0 || served < opt->max_clients)) {
		long long now = now_ms();
		int ready, rc;

		/* Time for an announcement (and the next one's time). */
		if (now >= next) {
			if (announce(a, opt->verbose) < 0 && a->sent == 0)
				return EXIT_RUNTIME; /* the very first failed: give up */
			next += opt->interval_ms;
			if (next <= now)
				next = now + opt->interval_ms; /* we fell behind: skip */
		}
		ready = wait_for_client(listener, next, during_wait);
		if (ready < 0)
			return EXIT_RUNTIME;
		if (ready == 0)
			continue;
		/* The listener is readable: a connection waits for accept(). */
		rc = serve_one(listener, opt->name);
		if (rc < 0)
			return EXIT_RUNTIME;
		served += rc;
	}
	return EXIT_OK;
}

/* Put the listener in non-blocking mode (see serve_one). */
static void set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
}

int main(int argc, char **argv)
{
	struct options opt;
	struct announcer a = { .fd = -1 };
	struct sockaddr_storage bound;
	socklen_t boundlen = sizeof(bound);
	char err[SL_ERR_LEN];
	sigset_t during_wait;
	int listener, status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers(&during_wait);

	/* The service itself is ordinary TCP (lesson 02), opened by the
	 * library: port 0, so nobody could have guessed it. */
	listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, &bound, &boundlen, err);
	if (listener < 0)
		die("%s", err);
	set_nonblocking(listener);
	announce_listening(listener);

	if (open_announcer(&a, &opt, sl_addr_port((struct sockaddr *)&bound)) == 0) {
		printf("announcing \"%s\" to %s every %ld ms (%s)\n", a.text, a.dest_text,
		       opt.interval_ms, opt.broadcast != NULL ? "broadcast" : "multicast");
		status = run(listener, &a, &opt, &during_wait);
	}
	if (a.fd >= 0)
		close(a.fd);
	close(listener);
	if (stop_requested)
		printf("stopping: signal received\n");
	printf("sent %ld announcements\n", a.sent);
	return status;
}
