/* server.c — lesson 15: a service that tells the network where it is.
 *
 * What it shows: a TCP service on port 0 (so its port is different every
 * run, and no one can know it in advance) that announces itself: every
 * 500 ms it sends one UDP datagram, "socklab-discovery v1 name=echo
 * tcp=PORT addr=127.0.0.1", to a multicast group. Clients that joined
 * the group hear it and learn where to connect. In between, poll()
 * waits on the TCP listener with a timeout that ends at the next
 * announcement, and each client that connects gets one line back. It
 * stops with the signal-safe stop of lesson 02, from lib/lesson.
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
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "socklab.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"
#include "common.h"

#define BACKLOG 16
/* A client that connects must send its line within this time. */
#define CLIENT_TIMEOUT_S 2
#define MAX_LINE 256

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

/* The announcing socket, and what it sends where. */
struct announcer {
	int fd;
	struct sockaddr_in dest;   /* group (or broadcast address) and port */
	char text[MAX_ANNOUNCEMENT];
	size_t len;
	char dest_text[SL_ADDRSTRLEN];
	long sent;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int open_announcer(struct announcer *a, const struct options *opt, int tcp_port);
static int set_multicast_options(int fd, const struct options *opt);
static int set_broadcast_options(int fd);
static int run(int listener, struct announcer *a, const struct options *opt);
static int announce(struct announcer *a, int verbose);
static int wait_for_client(int listener, long long next);
static int serve_one(int listener, const char *name);
static void answer_client(int fd, const char *who, const char *name);

int main(int argc, char **argv)
{
	struct options opt;
	struct announcer a = { .fd = -1 };
	struct sockaddr_storage bound;
	socklen_t boundlen = sizeof(bound);
	char err[SL_ERR_LEN];
	int listener, flags, status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */

	/* The service itself is ordinary TCP (lesson 02), opened by the
	 * library: port 0, so nobody could have guessed it. */
	listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, &bound, &boundlen, err);
	if (listener < 0)
		die("%s", err);
	/* Non-blocking: see serve_one(). */
	flags = fcntl(listener, F_GETFL);
	if (flags < 0 || fcntl(listener, F_SETFL, flags | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	announce_listening(listener);

	if (open_announcer(&a, &opt, sl_addr_port((struct sockaddr *)&bound)) == 0) {
		printf("announcing \"%s\" to %s every %ld ms (%s)\n", a.text, a.dest_text,
		       opt.interval_ms, opt.broadcast != NULL ? "broadcast" : "multicast");
		status = run(listener, &a, &opt);
	}
	if (a.fd >= 0)
		close(a.fd);
	close(listener);
	if (stop_requested)
		printf("stopping: signal received\n");
	printf("sent %ld announcements\n", a.sent);
	return status;
}

/* ---- the announcer --------------------------------------------------------- */

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

/* ---- the loop: announce, and serve clients in between --------------------- */

/* Announce every interval and serve clients in between, until a signal
 * or max_clients. Returns EXIT_OK or EXIT_RUNTIME. */
static int run(int listener, struct announcer *a, const struct options *opt)
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
		ready = wait_for_client(listener, next);
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

/* Wait for a client until the next announcement is due (or a stop
 * signal). Returns 1 when the listener is readable, 0 when not, -1 on
 * failure. */
static int wait_for_client(int listener, long long next)
{
	/* The listener, and lib/lesson's stop pipe, which a stop signal
	 * makes readable: a signal cannot slip in unseen between the loop's
	 * test and the wait. */
	struct pollfd pfd[2] = {
		{ .fd = listener, .events = POLLIN },
		{ .fd = stop_pipe(), .events = POLLIN },
	};
	long long left = next - now_ms();

	if (poll(pfd, 2, left > 0 ? (int)left : 0) < 0) {
		if (errno == EINTR)
			return 0; /* a signal: the loop test reads the flag */
		warn("poll:");
		return -1;
	}
	return pfd[0].revents != 0;
}

/* Accept one client the listener has ready, and serve it. Returns 1 when
 * a client was served, 0 when there was none after all, -1 on failure. */
static int serve_one(int listener, const char *name)
{
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof(peer);
	char who[SL_ADDRSTRLEN];
	/* The listener is non-blocking: if the client gave up between
	 * poll() and here, accept() says EAGAIN instead of waiting. */
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

/* ---- Plumbing: the command line ---------------------------------------- */

/* The options, as a table: lib/lesson parses and checks them; then the
 * addresses and the name. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "IPv4 address of the TCP service (default " DEFAULT_HOST ")"),
		OPT_PORT(&opt->port, "its port (default 0: any free port)"),
		OPT_RENDEZVOUS(&opt->name, &opt->group, &opt->announce_port, &opt->iface),
		{ 'I', "interval", OPT_NUMBER, &opt->interval_ms, "MS",
		  "time between announcements (default 500)", .what = "interval", .min = 10, .max = 3600000 },
		{ 0, "ttl", OPT_NUMBER, &opt->ttl, "N", "IP_MULTICAST_TTL (default 1)",
		  .what = "TTL", .min = 0, .max = 255 },
		{ 0, "broadcast", OPT_STRING, &opt->broadcast, "ADDR", .what = "broadcast address",
		  .help = "announce by broadcast to ADDR instead\n(127.255.255.255 on the loopback)" },
		{ 'n', "clients", OPT_NUMBER, &opt->max_clients, "N", .what = "client count",
		  .help = "exit after N clients (default 0: until a signal)", .max = 1000000 },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose, .help = "print every announcement" },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .port = "0", .name = DEFAULT_NAME,
		.group = DEFAULT_GROUP, .announce_port = DEFAULT_ANNOUNCE_PORT,
		.iface = DEFAULT_IFACE, .interval_ms = 500, .ttl = 1 };
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "A TCP service that announces its port on a multicast group (lesson 15).\n"
			 "Each client that connects sends one line and gets one line back.",
		.opts = options,
	});
	check_ipv4(opt->host, "address");
	check_ipv4(opt->broadcast, "broadcast address");
	check_rendezvous(opt->name, opt->group, opt->iface);
}
