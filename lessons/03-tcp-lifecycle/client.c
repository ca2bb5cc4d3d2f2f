/* client.c — lesson 03: the life of one TCP connection, seen from the
 * client, one event at a time.
 *
 * What it shows: the client connects, sends one line, and ends the
 * connection the way --mode asks, printing every call it makes next to the
 * TCP state the kernel reports for its socket:
 *
 *   close-first  read the echo, then close() first: after the server's FIN
 *                we hold TIME_WAIT (it outlives this process) — pair with
 *                `server --mode echo`
 *   close-last   read until the server closes, then close(): the server
 *                holds TIME_WAIT — pair with `server --mode close-first`,
 *                or with `server --mode rst` to see ECONNRESET
 *   shutdown     shutdown(SHUT_WR) after sending, then keep reading: a
 *                half-closed connection still carries the server's data —
 *                pair with `server --mode halfclose`
 *   rst          read the echo, then close() with SO_LINGER {1, 0}: RST,
 *                the server's recv() fails with ECONNRESET, no TIME_WAIT
 *   hold         connect and wait for Enter — start several against
 *                `server --mode no-accept`: the ones the backlog cannot
 *                take stay blocked in connect(), in SYN_SENT
 *
 * Why: shutdown(SHUT_WR) and close() both send FIN, but only close() gives
 * up the socket. Data that reaches a closed socket is answered with RST; a
 * socket that was only shut for writing still receives it.
 *
 * Notice when it runs: on loopback the whole handshake happens inside
 * connect(); it returns with the socket already ESTABLISHED. And when a
 * socket enters TIME_WAIT its fd reads CLOSE: the kernel keeps TIME_WAIT
 * in a separate object that only `ss -tan` shows.
 *
 * A reset connection is an event this lesson shows, not a failure: recv()
 * failing with ECONNRESET is printed on stdout and the client still closes
 * its socket and exits 0.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "lesson/lesson.h"
#include "common.h"

#define MESSAGE "hello from the client\n"

/* How the connection ends (--mode); the names are in parse_options(). */
enum mode {
	MODE_CLOSE_FIRST,
	MODE_CLOSE_LAST,
	MODE_SHUTDOWN,
	MODE_RST,
	MODE_HOLD,
};

struct options {
	const char *host;
	const char *port;
	int mode; /* enum mode */
	int step;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int connect_to_server(const struct options *opt);
static void print_connected(int fd);
static void close_first(int fd, int step);
static void close_last(int fd, int step);
static void half_close(int fd, int step);
static void abort_after_echo(int fd, int step);
static void hold(int fd);
static void send_message(int fd);
static int read_echo(int fd);
static int read_until_end(int fd);
static ssize_t receive(int fd, char *buf, size_t size);
static void close_connection(int fd, const char *what_happens);
static void abort_connection(int fd);

int main(int argc, char **argv)
{
	struct options opt;
	int fd;

	/* One line per step, even through a pipe to a test or the visualizer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(argc, argv, &opt);
	pause_before(opt.step, "connect()");
	fd = connect_to_server(&opt);
	switch (opt.mode) {
	case MODE_CLOSE_FIRST:
		close_first(fd, opt.step);
		break;
	case MODE_CLOSE_LAST:
		close_last(fd, opt.step);
		break;
	case MODE_SHUTDOWN:
		half_close(fd, opt.step);
		break;
	case MODE_RST:
		abort_after_echo(fd, opt.step);
		break;
	case MODE_HOLD:
		hold(fd);
		break;
	}
	return EXIT_OK;
}

/* Try each address getaddrinfo gives, in order, until one connects. */
static int connect_to_server(const struct options *opt)
{
	char err[SL_ERR_LEN], text[SL_ADDRSTRLEN];
	struct addrinfo *list, *ai;
	int fd = -1, saved = 0;

	list = sl_addr_resolve(opt->host, opt->port, SOCK_STREAM, 0, err);
	if (list == NULL)
		die("%s", err);
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, text, sizeof(text)) == NULL)
			strcpy(text, "?");
		printf("connect(): SYN sent to %s, waiting for SYN+ACK (SYN_SENT)\n", text);
		/* We install no signal handlers, so connect() cannot fail with
		 * EINTR here. A program that does must not call connect() again
		 * (EALREADY): it waits with poll() until the socket is writable. */
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		printf("connect() to %s: %s\n", text, strerror(saved));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0) {
		errno = saved;
		die("connect %s port %s:", opt->host, opt->port);
	}
	print_connected(fd);
	return fd;
}

/* Print "connect() done: ESTABLISHED 127.0.0.1:41234 -> 127.0.0.1:40000". */
static void print_connected(int fd)
{
	struct sockaddr_storage self, peer;
	socklen_t selflen = sizeof(self), peerlen = sizeof(peer);
	char stext[SL_ADDRSTRLEN], ptext[SL_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&self, &selflen) < 0)
		die("getsockname:");
	if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) < 0)
		die("getpeername:");
	if (sl_addr_format((struct sockaddr *)&self, selflen, stext, sizeof(stext)) == NULL ||
	    sl_addr_format((struct sockaddr *)&peer, peerlen, ptext, sizeof(ptext)) == NULL)
		die("format address:");
	printf("connect() done: %s %s -> %s\n", tcp_state(fd), stext, ptext);
}

/* Read the echo, then close first: the TIME_WAIT is ours. */
static void close_first(int fd, int step)
{
	send_message(fd);
	if (!read_echo(fd)) {
		close_connection(fd, "the server ended first; nothing left to show");
		return;
	}
	pause_before(step, "close()");
	close_connection(fd, "we sent FIN first: FIN_WAIT1, FIN_WAIT2, and after the "
			 "server's FIN, TIME_WAIT on our side for 60 s (it outlives "
			 "this process)");
}

/* Read until the server closes, then close: the TIME_WAIT is the server's. */
static void close_last(int fd, int step)
{
	send_message(fd);
	if (read_until_end(fd) < 0) {
		close_connection(fd, "releases the reset socket");
		return;
	}
	pause_before(step, "close()");
	close_connection(fd, "we sent FIN after the server's: LAST_ACK until it is "
			 "acknowledged, then gone; the server holds TIME_WAIT");
}

/* Send, shutdown(SHUT_WR), and read on: a half-closed connection still
 * carries the server's data to us. */
static void half_close(int fd, int step)
{
	send_message(fd);
	pause_before(step, "shutdown(SHUT_WR)");
	/* EXERCISE 1: half-close: send FIN, yet keep reading the server's reply */
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown:");
	printf("shutdown(SHUT_WR): FIN sent; we can still receive (our socket reads %s)\n",
	       tcp_state(fd));
	/* END EXERCISE 1 */
	if (read_until_end(fd) < 0) {
		close_connection(fd, "releases the reset socket");
		return;
	}
	pause_before(step, "close()");
	close_connection(fd, "releases the fd; our FIN went first, so the TIME_WAIT "
			 "is ours");
}

/* Read the echo, then abort: RST instead of FIN. */
static void abort_after_echo(int fd, int step)
{
	send_message(fd);
	if (!read_echo(fd)) {
		close_connection(fd, "the server ended first; nothing left to show");
		return;
	}
	pause_before(step, "close() with SO_LINGER {1, 0}");
	abort_connection(fd);
}

/* Stay connected until Enter: against `server --mode no-accept`, a client
 * the backlog cannot take never gets here (it waits inside connect()). */
static void hold(int fd)
{
	printf("holding the connection open\n");
	printf("   ... press Enter to call close()\n");
	wait_for_enter();
	close_connection(fd, "we sent FIN");
}

/* Send our one line. */
static void send_message(int fd)
{
	/* sl_io_write_all sends with MSG_NOSIGNAL: a reset peer gives EPIPE,
	 * not a SIGPIPE that would kill us. */
	if (sl_io_write_all(fd, MESSAGE, strlen(MESSAGE)) < 0)
		die("send:");
	printf("send() %zu bytes: ", strlen(MESSAGE));
	print_bytes(MESSAGE, strlen(MESSAGE));
	putchar('\n');
}

/* Read until the whole line has come back. Returns 1 when it has, 0 when
 * the server closed or reset the connection first. */
static int read_echo(int fd)
{
	char buf[256];
	size_t got = 0;

	while (got < strlen(MESSAGE)) {
		ssize_t n = receive(fd, buf, sizeof(buf));

		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

/* Read until the server's FIN (returns 0) or RST (returns -1). */
static int read_until_end(int fd)
{
	char buf[256];
	ssize_t n;

	while ((n = receive(fd, buf, sizeof(buf))) > 0)
		;
	return (int)n;
}

/* One recv(): returns the byte count, 0 when the server sent FIN, or -1
 * when it reset the connection. Each outcome is printed. */
static ssize_t receive(int fd, char *buf, size_t size)
{
	const char *state;
	ssize_t n;

	do
		n = recv(fd, buf, size, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ECONNRESET) {
		printf("recv() = -1, ECONNRESET: the server aborted with RST; "
		       "no FIN exchange, no TIME_WAIT on either side\n");
		return -1;
	}
	if (n < 0)
		die("recv:");
	if (n > 0) {
		printf("recv() = %zd bytes: ", n);
		print_bytes(buf, (size_t)n);
		putchar('\n');
		return n;
	}
	state = tcp_state(fd);
	printf("recv() = 0: the server sent FIN, our socket reads %s\n", state);
	if (strcmp(state, "CLOSE") == 0)
		printf("   (we had sent FIN already, so the kernel moved the connection "
		       "to TIME_WAIT, where no fd can see it: look with ss -tan)\n");
	return 0;
}

/* close(), then say what it did to the connection. */
static void close_connection(int fd, const char *what_happens)
{
	if (close(fd) < 0)
		die("close:");
	printf("close(): %s\n", what_happens);
}

/* SO_LINGER on, 0 seconds: close() throws away unsent data and sends RST. */
static void abort_connection(int fd)
{
	/* EXERCISE 2: abort the connection: close() must send RST, not FIN */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die("setsockopt SO_LINGER:");
	if (close(fd) < 0)
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
	static const char *const modes[] = {
		[MODE_CLOSE_FIRST] = "close-first",
		[MODE_CLOSE_LAST] = "close-last",
		[MODE_SHUTDOWN] = "shutdown",
		[MODE_RST] = "rst",
		[MODE_HOLD] = "hold",
		NULL
	};
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "the server's address (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&opt->port),
		{ 'm', "mode", OPT_CHOICE, &opt->mode, "MODE",
		  "how the connection ends (default close-first):\n"
		  "close-first: read the echo, then close first\n"
		  "  (TIME_WAIT here)\n"
		  "close-last: read until the server closes, then close\n"
		  "shutdown: shutdown(SHUT_WR), keep reading until the\n"
		  "  server closes, then close\n"
		  "rst: read the echo, then abort with RST (SO_LINGER 0)\n"
		  "hold: stay connected until Enter is pressed",
		  .what = "mode", .choices = modes },
		{ 's', "step", OPT_FLAG, &opt->step, .help = "wait for Enter before each step" },
		{ 0 }
	};

	opt->host = DEFAULT_HOST;
	opt->port = NULL;
	opt->mode = MODE_CLOSE_FIRST;
	opt->step = 0;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "Lesson 03: connect to the lesson's server, send one line and end the\n"
			 "connection the way MODE says, printing each call and the TCP state\n"
			 "the kernel reports.",
		.opts = options,
	});
}
