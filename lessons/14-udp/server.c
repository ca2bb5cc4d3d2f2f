/* server.c — lesson 14: a UDP echo server, with loss on demand.
 *
 * What it shows: the whole server is socket(SOCK_DGRAM), bind(), and a
 * loop of recvfrom() and sendto(). There is no listen() and no accept():
 * UDP has no connections, so one socket serves every client. recvfrom()
 * hands over one datagram together with the address it came from, and the
 * reply goes back to exactly that address with sendto(). Nothing else
 * tells the server who its clients are.
 *
 * Why: the sender's address is the only thing that ties a reply to a
 * client. Run several clients at once and watch their datagrams arrive
 * interleaved on the same socket, each line naming a different sender,
 * and each reply going back to the right one.
 *
 * --drop K throws away every K-th datagram it receives (counted across all
 * clients) without answering: UDP itself never tells the sender, so the
 * client only notices a reply that does not come. This is loss for real,
 * made deterministic so you can predict which datagrams go missing.
 *
 * Stopping: SIGINT and SIGTERM are blocked except inside ppoll(), the
 * one place the server waits, so a stop signal is never lost between
 * "should I stop?" and "wait for a datagram" (lesson 08 tells that story).
 *
 * Notice when it runs: one line per datagram, "from ADDR:PORT", then
 * "echoed" or "dropped"; at the end a count of each.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"

/* The largest UDP payload: 65,535 bytes of IP packet minus the IPv4 (20)
 * and UDP (8) headers is 65,507; over IPv6 it is 65,527. A buffer this big
 * never cuts a datagram short (see sizes.c for what happens when one
 * does). */
#define MAX_DATAGRAM 65536

/* Set by the SIGINT/SIGTERM handler, read by the main loop. */
static volatile sig_atomic_t stop_requested;

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [-n N] [--drop K] [--delay MS] [-q]\n"
	       "The UDP echo server (lesson 14): sends every datagram back to the\n"
	       "address it came from, with one socket for every client.\n"
	       "\n"
	       "  -b, --bind ADDR    address to receive on (default %s)\n"
	       "  -p, --port PORT    port to receive on (default 0: any free port)\n"
	       "  -n, --count N      exit after receiving N datagrams (default 0:\n"
	       "                     until SIGINT or SIGTERM)\n"
	       "  -d, --drop K       drop every K-th datagram received, counted\n"
	       "                     across all clients (default 0: drop none)\n"
	       "      --delay MS     wait MS ms before each echo: a slow server,\n"
	       "                     whose late replies a client may take for lost\n"
	       "  -q, --quiet        no line per datagram, only the totals\n"
	       "  -h, --help         show this help\n",
	       DEFAULT_HOST);
}

struct options {
	const char *host;
	const char *port;
	long max_datagrams; /* 0 = no limit */
	long drop_every;    /* 0 = drop none */
	long delay_ms;      /* before each echo */
	int quiet;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_DELAY = 256 };
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "count", required_argument, NULL, 'n' },
		{ "drop", required_argument, NULL, 'd' },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0; /* bad_option() says what is wrong, in our own words */
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->max_datagrams = 0;
	opt->drop_every = 0;
	opt->delay_ms = 0;
	opt->quiet = 0;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "n:d:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'b':
			opt->host = optarg;
			break;
		case 'p':
			opt->port = opt_port(optarg);
			break;
		case 'n':
			opt->max_datagrams = opt_number(optarg, "datagram count", 0, 1000000000);
			break;
		case 'd':
			opt->drop_every = opt_number(optarg, "drop interval", 0, 1000000000);
			break;
		case OPT_DELAY:
			opt->delay_ms = opt_number(optarg, "delay", 0, 60000);
			break;
		case 'q':
			opt->quiet = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Install the SIGINT/SIGTERM handler, and block both signals: they are
 * let through only while ppoll() waits (see serve()). Returns, in
 * *during_wait, the mask ppoll() should wait with. */
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
	/* The old mask (without these two) is the one to wait with. */
	if (sigprocmask(SIG_BLOCK, &stop_signals, during_wait) < 0)
		die("sigprocmask:");
}

/* A datagram socket bound to one resolved address, or -1 (said why). */
static int bind_to(const struct addrinfo *ai)
{
	char where[SL_ADDRSTRLEN];
	int fd;

	if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, where, sizeof(where)) == NULL)
		snprintf(where, sizeof(where), "(address family %d)", ai->ai_family);

	/* SOCK_DGRAM: each send is one datagram, each receive takes one. */
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
		warn("socket for %s:", where);
		return -1;
	}
	/* bind() is all a UDP server needs: from now on, datagrams sent to
	 * this address and port are queued on this socket. */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		warn("bind %s:", where);
		close(fd);
		return -1;
	}
	return fd;
}

/* Resolve host:port for a datagram server and bind the first address
 * that works. */
static int open_socket(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM; /* UDP */
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("resolve %s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));

	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = bind_to(ai);
	freeaddrinfo(res);
	return fd;
}

struct totals {
	long received;
	long echoed;
	long dropped;
};

/* Is the datagram we just counted one that --drop throws away? */
static int should_drop(const struct options *opt, long nth)
{
	return opt->drop_every > 0 && nth % opt->drop_every == 0;
}

/* --delay: be a slow server. The stop signals wait meanwhile (they are
 * blocked outside ppoll()), so a stop may take up to this long. */
static void pause_before_echo(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Send one datagram back to the address it came from. A failure is
 * reported and the server carries on: it concerns this client only. */
static void echo_back(int fd, const char *buf, size_t len,
		      const struct sockaddr_storage *peer, socklen_t peerlen,
		      const char *who, struct totals *t)
{
	/* EXERCISE 1: send the datagram back to the address it came from */
	/* One sendto() is one whole datagram: it is never sent in part, so
	 * there is no short-write loop here. MSG_NOSIGNAL is for stream
	 * sockets; a datagram socket never raises SIGPIPE. */
	ssize_t n = sendto(fd, buf, len, 0, (const struct sockaddr *)peer, peerlen);

	if (n < 0) {
		warn("sendto %s:", who);
		return;
	}
	t->echoed++;
	/* END EXERCISE 1 */
}

/* Wait until a datagram is there or a stop signal came. Returns 1 when
 * the socket is readable, 0 to look at the loop condition again. */
static int wait_readable(int fd, const sigset_t *during_wait)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* SIGINT and SIGTERM are blocked everywhere but here: ppoll()
	 * unblocks them and starts to wait in one step, so a signal either
	 * came before (and is delivered now, making ppoll() return EINTR) or
	 * comes during the wait. With a flag test and then a plain
	 * recvfrom(), a signal landing between the two would be noticed only
	 * at the next datagram. */
	if (ppoll(&pfd, 1, NULL, during_wait) < 0) {
		if (errno != EINTR)
			die("ppoll:");
		return 0; /* a signal: the loop test reads stop_requested */
	}
	return 1;
}

/* Receive, report, and echo or drop datagrams until told to stop or done
 * with max_datagrams. Returns EXIT_OK, or EXIT_RUNTIME if recvfrom fails. */
static int serve(int fd, const struct options *opt, const sigset_t *during_wait,
		 struct totals *t)
{
	static char buf[MAX_DATAGRAM];

	while (!stop_requested && (opt->max_datagrams == 0 || t->received < opt->max_datagrams)) {
		struct sockaddr_storage peer; /* room for any family */
		socklen_t peerlen = sizeof(peer);
		char who[SL_ADDRSTRLEN];
		ssize_t n;

		if (!wait_readable(fd, during_wait))
			continue;
		/* EXERCISE 1: receive one datagram, and the address it came from */
		/* One call, one datagram, and who sent it. MSG_DONTWAIT: if
		 * the datagram poll() saw is gone after all (Linux drops one
		 * with a bad checksum only now), fail with EAGAIN, never block
		 * here with the stop signals held off. */
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&peer, &peerlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			warn("recvfrom:");
			return EXIT_RUNTIME;
		}
		/* END EXERCISE 1 */
		t->received++;
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
			snprintf(who, sizeof(who), "(unknown address)");
		if (should_drop(opt, t->received)) {
			t->dropped++;
			if (!opt->quiet)
				printf("datagram %ld from %s: %zd bytes, dropped (--drop %ld)\n",
				       t->received, who, n, opt->drop_every);
			continue;
		}
		if (!opt->quiet)
			printf("datagram %ld from %s: %zd bytes, echoed\n", t->received, who, n);
		if (opt->delay_ms > 0)
			pause_before_echo(opt->delay_ms);
		echo_back(fd, buf, (size_t)n, &peer, peerlen, who, t);
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options opt;
	struct totals t = { 0, 0, 0 };
	sigset_t during_wait;
	int fd, status;

	parse_options(argc, argv, &opt);
	/* One line at a time even into a pipe, so whoever reads our output
	 * sees each datagram as it arrives. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers(&during_wait);

	fd = open_socket(opt.host, opt.port);
	if (fd < 0)
		return EXIT_RUNTIME;
	announce_listening(fd);

	status = serve(fd, &opt, &during_wait, &t);
	close(fd);
	if (stop_requested)
		printf("stopping: signal received\n");
	printf("received %ld %s: echoed %ld, dropped %ld\n", t.received,
	       t.received == 1 ? "datagram" : "datagrams", t.echoed, t.dropped);
	return status;
}
