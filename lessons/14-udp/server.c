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
 * Stopping: the signal-safe stop of lesson 02, from lib/lesson. The
 * server waits in poll() on its socket and on the stop pipe, which a
 * SIGINT or SIGTERM makes readable, so a stop is never lost between
 * "should I stop?" and "wait for a datagram" (lessons 09 and 11 do the
 * same).
 *
 * Notice when it runs: one line per datagram, "from ADDR:PORT", then
 * "echoed" or "dropped"; at the end a count of each.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

/* The largest UDP payload: 65,535 bytes of IP packet minus the IPv4 (20)
 * and UDP (8) headers is 65,507; over IPv6 it is 65,527. A buffer this big
 * never cuts a datagram short (see sizes.c for what happens when one
 * does). */
#define MAX_DATAGRAM 65536

/* The command line's values (defaults here, set by parse_options()). */
static const char *host = DEFAULT_HOST, *port = "0";
static long max_datagrams; /* -n: 0 = no limit */
static long drop_every;    /* --drop: 0 = drop none */
static long delay_ms;      /* --delay, before each echo */
static int quiet;          /* -q */

struct totals {
	long received;
	long echoed;
	long dropped;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int open_socket(void);
static int bind_to(const struct addrinfo *ai);
static int serve(int fd, struct totals *t);

int main(int argc, char **argv)
{
	struct totals t = { 0, 0, 0 };
	int fd, status;

	parse_options(argc, argv);
	/* One line at a time even into a pipe, so whoever reads our output
	 * sees each datagram as it arrives. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */

	fd = open_socket();
	if (fd < 0)
		return EXIT_RUNTIME;
	announce_listening(fd);

	status = serve(fd, &t);
	close(fd);
	if (stop_requested)
		printf("stopping: signal received\n");
	printf("received %ld %s: echoed %ld, dropped %ld\n", t.received,
	       t.received == 1 ? "datagram" : "datagrams", t.echoed, t.dropped);
	return status;
}

/* Resolve -b and -p for a datagram server and bind the first address
 * that works. */
static int open_socket(void)
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

/* ---- the loop: first what serve() does with a datagram (echo it, or drop
 * it; late, with --delay), then serve() itself ---------------------------- */

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

/* Is the datagram we just counted one that --drop throws away? */
static int should_drop(long nth)
{
	return drop_every > 0 && nth % drop_every == 0;
}

/* --delay: be a slow server. A stop signal cuts nanosleep() short, and it
 * sleeps the rest anyway: the echo goes out, and a stop may take this long. */
static void pause_before_echo(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Receive, report, and echo or drop datagrams until told to stop or done
 * with -n. Returns EXIT_OK, or EXIT_RUNTIME if poll() or recvfrom() fails. */
static int serve(int fd, struct totals *t)
{
	static char buf[MAX_DATAGRAM];
	/* poll() waits on the socket and on lib/lesson's stop pipe, which a
	 * stop signal makes readable: a signal that lands after the loop has
	 * tested stop_requested, but before poll() sleeps, still wakes it.
	 * (A plain blocking recvfrom() would notice it at the next datagram.) */
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = stop_pipe(), .events = POLLIN },
	};

	while (!stop_requested && (max_datagrams == 0 || t->received < max_datagrams)) {
		struct sockaddr_storage peer; /* room for any family */
		socklen_t peerlen = sizeof(peer);
		char who[SL_ADDRSTRLEN];
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue; /* a signal: the loop test reads stop_requested */
			warn("poll:");
			return EXIT_RUNTIME;
		}
		if (pfd[0].revents == 0)
			continue; /* only the stop pipe */
		/* EXERCISE 1: receive one datagram, and the address it came from */
		/* One call, one datagram, and who sent it. MSG_DONTWAIT: if
		 * the datagram poll() saw is gone after all (Linux drops one
		 * with a bad checksum only now), fail with EAGAIN rather than
		 * block here, deaf to a stop, until the next one comes. */
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
		if (should_drop(t->received)) {
			t->dropped++;
			if (!quiet)
				printf("datagram %ld from %s: %zd bytes, dropped (--drop %ld)\n",
				       t->received, who, n, drop_every);
			continue;
		}
		if (!quiet)
			printf("datagram %ld from %s: %zd bytes, echoed\n", t->received, who, n);
		if (delay_ms > 0)
			pause_before_echo(delay_ms);
		echo_back(fd, buf, (size_t)n, &peer, peerlen, who, t);
	}
	return EXIT_OK;
}

/* ---- Plumbing: the command line ---------------------------------------- */

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&host, "address to receive on (default " DEFAULT_HOST ")"),
		OPT_PORT(&port, "port to receive on (default 0: any free port)"),
		{ 'n', "count", OPT_NUMBER, &max_datagrams, "N", .what = "datagram count",
		  .help = "exit after N datagrams (default 0: at SIGINT or SIGTERM)", .max = 1000000000 },
		{ 'd', "drop", OPT_NUMBER, &drop_every, "K", .what = "drop interval",
		  .help = "drop every K-th datagram, of all clients (default 0: none)", .max = 1000000000 },
		{ 0, "delay", OPT_NUMBER, &delay_ms, "MS", .what = "delay", .max = 60000,
		  .help = "wait MS ms before each echo: a slow server" },
		{ 'q', "quiet", OPT_FLAG, &quiet, .help = "no line per datagram, only the totals" },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){ .opts = options,
		.about = "The UDP echo server (lesson 14): every datagram goes back to its sender." });
}
