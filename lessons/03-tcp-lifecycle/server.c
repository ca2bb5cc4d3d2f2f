/* server.c — lesson 03: the life of one TCP connection, seen from the
 * server, one event at a time.
 *
 * What it shows: the server takes exactly one client and ends the
 * conversation in the way --mode asks, printing every call it makes next to
 * the TCP state the kernel reports for the socket:
 *
 *   echo          echo until the client closes, then close: the client
 *                 closed first, so TIME_WAIT is on the client's side
 *   close-first   echo one message, then close first: TIME_WAIT is on our
 *                 side, and it keeps our port busy (try ./rebind -p PORT)
 *   halfclose     echo until the client's FIN, then still send a line: after
 *                 the client's shutdown(SHUT_WR) our direction stays open
 *   rst           echo one message, then close() with SO_LINGER {1, 0}: the
 *                 kernel sends RST instead of FIN, the client's recv() fails
 *                 with ECONNRESET, and no one is left in TIME_WAIT
 *   forget-close  echo until the client's FIN, then "forget" to close():
 *                 we sit in CLOSE_WAIT, with no timer to end it, and the
 *                 client in FIN_WAIT2, until you press Enter
 *   no-accept     listen() and never accept(): backlog+1 clients finish the
 *                 handshake and wait in the accept queue, later ones are
 *                 stuck in SYN_SENT (until you press Enter)
 *
 * Why: every state `ss -tan` can show has a cause, and here you cause each
 * one on purpose. Run with --step to stop before each call and look.
 *
 * Notice when it runs: accept() returns a connection that is already
 * ESTABLISHED (the kernel did the handshake while we waited), and whichever
 * side calls close() first is the side left holding TIME_WAIT.
 *
 * A reset connection is an event this lesson shows, not a failure: recv()
 * failing with ECONNRESET is printed on stdout and the server still closes
 * its socket and exits 0.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "lesson/lesson.h"
#include "common.h"

/* How the connection ends (--mode); the names are in parse_options(). */
enum mode {
	MODE_ECHO,
	MODE_CLOSE_FIRST,
	MODE_HALFCLOSE,
	MODE_RST,
	MODE_FORGET_CLOSE,
	MODE_NO_ACCEPT,
};

struct options {
	const char *host;
	const char *port;
	int mode;      /* enum mode */
	long backlog;
	int reuseaddr;
	int step;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int open_listener(const struct options *opt);
static void hold_backlog(void);
static void serve_one_client(int listener, const struct options *opt);
static int accept_client(int listener);
static ssize_t echo_once(int conn);
static ssize_t receive(int conn, char *buf, size_t size);
static long echo_until_fin(int conn);
static void end_after_client_fin(int conn, const struct options *opt, long total);
static void send_after_fin(int conn, long total);
static int unread_bytes(int conn);
static void close_connection(int conn, const char *what_happens);
static void abort_connection(int conn);

int main(int argc, char **argv)
{
	struct options opt;
	int listener;

	parse_options(argc, argv, &opt);
	/* One line per step, even through a pipe to a test or the visualizer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	listener = open_listener(&opt);
	if (opt.mode == MODE_NO_ACCEPT)
		hold_backlog();
	else
		serve_one_client(listener, &opt);
	if (close(listener) < 0)
		die("close:");
	printf("close(listener): the port is free again (unless TIME_WAIT holds it)\n");
	return EXIT_OK;
}

/* socket, SO_REUSEADDR, bind, listen. */
static int open_listener(const struct options *opt)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int one = 1;
	int fd;

	resolve_bind_address(opt->host, opt->port, &addr, &len);
	fd = socket(addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket:");
	/* EXERCISE 3: let a restarted server bind a port TIME_WAIT still holds */
	/* Without SO_REUSEADDR, bind() fails with EADDRINUSE while an old
	 * connection on this port is in TIME_WAIT. On Linux the TIME_WAIT
	 * socket remembers this flag: a restarted server may reuse the port
	 * only if both the old listener and the new socket set it. */
	if (opt->reuseaddr &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("setsockopt SO_REUSEADDR:");
	/* END EXERCISE 3 */
	if (addr.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&addr)->sin6_addr)) {
		int zero = 0;

		/* "::" then accepts IPv4 clients too, whatever the sysctl says. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
			die("setsockopt IPV6_V6ONLY:");
	}
	if (bind(fd, (struct sockaddr *)&addr, len) < 0) {
		int saved = errno; /* close() may change errno; die() reports bind's */

		close(fd);
		errno = saved;
		die("bind:");
	}
	if (listen(fd, (int)opt->backlog) < 0)
		die("listen:");
	printf("listen(backlog %ld): the kernel now answers SYNs on this port (LISTEN)\n",
	       opt->backlog);
	announce_listening(fd);
	return fd;
}

/* Never accept(): the kernel still completes handshakes, up to backlog+1
 * of them on Linux, and queues them. SYNs beyond that are dropped without
 * an answer, so those clients stay in SYN_SENT and keep resending. */
static void hold_backlog(void)
{
	printf("not calling accept(): clients that fit in the backlog are ESTABLISHED "
	       "but unaccepted, the next ones stay in SYN_SENT\n");
	printf("   ... press Enter to close the listener\n");
	wait_for_enter();
}

/* Take one client and end its connection the way --mode says. */
static void serve_one_client(int listener, const struct options *opt)
{
	int conn = accept_client(listener);
	long total;

	switch (opt->mode) {
	case MODE_CLOSE_FIRST:
		if (echo_once(conn) <= 0) {
			close_connection(conn, "the client ended first; nothing left to show");
			break;
		}
		pause_before(opt->step, "close()");
		if (unread_bytes(conn) > 0)
			close_connection(conn, "with data we never read still in our socket, "
					 "the kernel sends RST, not FIN: no TIME_WAIT");
		else
			close_connection(conn, "we sent FIN first: FIN_WAIT1, FIN_WAIT2, and "
					 "after the client's FIN, TIME_WAIT on our side for 60 s");
		break;
	case MODE_RST:
		if (echo_once(conn) <= 0) {
			close_connection(conn, "the client ended first; nothing left to show");
			break;
		}
		pause_before(opt->step, "close() with SO_LINGER {1, 0}");
		abort_connection(conn);
		break;
	default:
		total = echo_until_fin(conn);
		if (total < 0)
			close_connection(conn, "releases the reset socket");
		else
			end_after_client_fin(conn, opt, total);
	}
}

/* accept() takes a connection whose handshake the kernel already finished. */
static int accept_client(int listener)
{
	struct sockaddr_storage peer, self;
	socklen_t peerlen = sizeof(peer), selflen = sizeof(self);
	char ptext[SL_ADDRSTRLEN], stext[SL_ADDRSTRLEN];
	int conn;

	do
		conn = accept(listener, (struct sockaddr *)&peer, &peerlen);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		die("accept:");
	if (getsockname(conn, (struct sockaddr *)&self, &selflen) < 0)
		die("getsockname:");
	if (sl_addr_format((struct sockaddr *)&self, selflen, stext, sizeof(stext)) == NULL ||
	    sl_addr_format((struct sockaddr *)&peer, peerlen, ptext, sizeof(ptext)) == NULL)
		die("format address:");
	/* The state may already be CLOSE_WAIT: a quick client can send and
	 * close before we get here; the kernel queued all of it for us. */
	printf("accept() done: %s %s <- %s\n", tcp_state(conn), stext, ptext);
	return conn;
}

/* Echo one recv()'s worth. Returns as receive() does. */
static ssize_t echo_once(int conn)
{
	char buf[4096];
	ssize_t n = receive(conn, buf, sizeof(buf));

	if (n <= 0)
		return n;
	/* sl_io_write_all sends with MSG_NOSIGNAL: a closed peer gives EPIPE,
	 * not a SIGPIPE that would kill us. */
	if (sl_io_write_all(conn, buf, (size_t)n) < 0)
		die("send:");
	printf("send() %zd bytes back\n", n);
	return n;
}

/* One recv(): returns the byte count, 0 when the client sent FIN, or -1
 * when it reset the connection. Each outcome is printed. */
static ssize_t receive(int conn, char *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(conn, buf, size, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ECONNRESET) {
		printf("recv() = -1, ECONNRESET: the client aborted with RST; "
		       "no FIN exchange, no TIME_WAIT on either side\n");
		return -1;
	}
	if (n < 0)
		die("recv:");
	if (n == 0) {
		printf("recv() = 0: the client sent FIN, we are now %s\n", tcp_state(conn));
		return 0;
	}
	printf("recv() = %zd bytes: ", n);
	print_bytes(buf, (size_t)n);
	putchar('\n');
	return n;
}

/* Echo until the client's FIN. Returns the bytes received, or -1 when the
 * client reset the connection. */
static long echo_until_fin(int conn)
{
	long total = 0;
	ssize_t n;

	while ((n = echo_once(conn)) > 0)
		total += n;
	return n < 0 ? -1 : total;
}

static void end_after_client_fin(int conn, const struct options *opt, long total)
{
	if (opt->mode == MODE_HALFCLOSE) {
		pause_before(opt->step, "send()");
		send_after_fin(conn, total);
	}
	if (opt->mode == MODE_FORGET_CLOSE) {
		printf("we 'forget' to close(): our socket stays in %s for as long as "
		       "we hold it (no timer ends it); the client's waits in FIN_WAIT2\n",
		       tcp_state(conn));
		printf("   ... press Enter to call close() at last\n");
		wait_for_enter();
	} else {
		pause_before(opt->step, "close()");
	}
	/* A client that called close() instead of shutdown() cannot take our
	 * late data: its kernel answers with RST, and our socket is CLOSE. */
	if (strcmp(tcp_state(conn), "CLOSE") == 0)
		close_connection(conn, "frees the fd: the connection was reset (the client "
				 "had called close(), so our late data drew an RST)");
	else
		close_connection(conn, "we sent FIN after the client's: LAST_ACK until it "
				 "is acknowledged, then gone; the client holds TIME_WAIT");
}

/* After the client's FIN we may still send: its shutdown(SHUT_WR) closed
 * only the client-to-server direction. */
static void send_after_fin(int conn, long total)
{
	char line[128];
	int n = snprintf(line, sizeof(line),
			 "server: got %ld bytes; this line was sent after your FIN\n", total);

	if (sl_io_write_all(conn, line, (size_t)n) < 0)
		die("send:");
	printf("send() %d bytes after the client's FIN: the other direction is still open\n", n);
}

/* Bytes that arrived but that we have not recv()d. close() on a socket
 * with unread data does not send FIN: the kernel resets the connection,
 * so the peer learns that data was lost. */
static int unread_bytes(int conn)
{
	int n;

	if (ioctl(conn, FIONREAD, &n) < 0)
		die("ioctl FIONREAD:");
	return n;
}

static void close_connection(int conn, const char *what_happens)
{
	if (close(conn) < 0)
		die("close:");
	printf("close(): %s\n", what_happens);
}

/* SO_LINGER on, 0 seconds: close() throws away unsent data and sends RST. */
static void abort_connection(int conn)
{
	/* EXERCISE 2: abort the connection: close() must send RST, not FIN */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(conn, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die("setsockopt SO_LINGER:");
	if (close(conn) < 0)
		die("close:");
	/* END EXERCISE 2 */
	printf("close() with SO_LINGER {1, 0}: RST sent instead of FIN; "
	       "the connection is gone at once, no TIME_WAIT\n");
}

/* ---- Plumbing: the command line ------------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	/* In the order of enum mode. */
	static const char *const modes[] = { "echo", "close-first", "halfclose", "rst",
					     "forget-close", "no-accept", NULL };
	int no_reuseaddr = 0;
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&opt->port, "port to listen on (default 0: any free port)"),
		{ 'm', "mode", OPT_CHOICE, &opt->mode, "MODE",
		  "how the connection ends: echo (the default: the\n"
		  "client closes first), close-first (TIME_WAIT here),\n"
		  "halfclose (we send after its FIN), rst (SO_LINGER 0),\n"
		  "forget-close (CLOSE_WAIT until Enter), no-accept\n"
		  "(clients wait in the backlog until Enter)",
		  .what = "mode", .choices = modes },
		{ 's', "step", OPT_FLAG, &opt->step, .help = "wait for Enter before each step" },
		{ 0, "backlog", OPT_NUMBER, &opt->backlog, "N", "listen() backlog, 0 to 4096 (default 1)",
		  .what = "backlog", .min = 0, .max = 4096 },
		{ 0, "no-reuseaddr", OPT_FLAG, &no_reuseaddr,
		  .help = "do not set SO_REUSEADDR on the listener" },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .port = "0", .mode = MODE_ECHO,
				 .backlog = 1 };
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "Lesson 03: accept one client, end the connection the way MODE says.",
		.opts = options,
	});
	opt->reuseaddr = !no_reuseaddr;
}
