/* client.c — lesson 21: a chat client, for people and for scripts.
 *
 * What it shows: a client with two sources of input at once, the keyboard
 * and the room. A blocking read() on either would deafen it to the other,
 * so it waits in poll() for both: a line typed goes to the server, and
 * whatever the room says is printed as it comes. At the end of standard
 * input (^D) it half-closes (shutdown SHUT_WR: "I am leaving"), then reads
 * until the server has sent everything and closed.
 *
 * Scripted, for the visualizer and for tests: with MESSAGE words or -c N
 * it sends those lines instead (-c: N numbered lines, -s BYTES long, -i MS
 * apart), stays -w MS to hear the room, and leaves. --stuck MS makes it
 * the client this lesson is about: for MS ms after joining it reads
 * nothing, as a stopped process would; --rcvbuf makes its kernel buffer
 * small, so the server's queue for it fills sooner.
 *
 * Notice when it runs: what it prints is exactly what the server sent
 * (nc prints the same); lines from the server itself start with "* ".
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

#define LEAVE_MS 10000 /* after our FIN, the server closes within this */

struct options {
	const char *host, *port, *nick;
	long count, size, interval_ms, wait_ms, stuck_ms, rcvbuf;
	char **words;  /* one line, the words joined by spaces; NULL: none */
	int nwords;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *o);
static int join_room(const struct options *o);
static int say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int scripted(const struct options *o);
static int chat(int fd);
static int script(int fd, const struct options *o);
static int leave(int fd);
static int hear(int fd, long long until, int keyboard);
static int print_from(int fd);
static long long now_ms(void);

int main(int argc, char **argv)
{
	struct options o;
	int fd, rc;

	parse_options(argc, argv, &o);
	/* The signal-safe stop of lesson 02, from lib/lesson: ^C ends the
	 * client at once (its close() tells the server it has gone). */
	stop_on_signals();
	fd = join_room(&o);
	rc = o.nick != NULL ? say(fd, "/nick %s\n", o.nick) : 0;
	if (rc == 0)
		rc = scripted(&o) ? script(fd, &o) : chat(fd);
	/* 1: the server closed first, nothing to leave; a stop signal: go now. */
	if (rc == 0 && !stop_requested)
		rc = leave(fd);
	close(fd);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

static int join_room(const struct options *o)
{
	char err[SL_ERR_LEN];
	int fd = sl_tcp_connect(o->host, o->port, 10000, err);
	int size = (int)o->rcvbuf;

	if (fd < 0)
		die("%s", err);
	/* A small receive buffer: the kernel holds less for us, so a server
	 * queues for us sooner when we do not read. */
	if (size > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		die("setsockopt SO_RCVBUF:");
	return fd;
}

/* Send a line. The socket is blocking: sl_io_write_all() sends until all
 * is out, through short writes and EINTR. The server never stops reading
 * us, so this never waits for long. */
static int say(int fd, const char *fmt, ...)
{
	char line[65536 + 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sl_io_write_all(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
		warn("send:");
		return -1;
	}
	return 0;
}

/* Any of MESSAGE, -c, -w or --stuck makes a script; none, a person. */
static int scripted(const struct options *o)
{
	return o->words != NULL || o->count > 0 || o->wait_ms >= 0 || o->stuck_ms > 0;
}

/* Interactive: what is typed goes to the room, what the room says is
 * printed, until the end of standard input (0), the server closing (1),
 * or an error (-1). */
static int chat(int fd)
{
	return hear(fd, -1, 1);
}

/* Scripted: the MESSAGE line, the -c numbered lines, then -w MS of
 * listening. --stuck comes first: MS ms of not reading at all. */
static int script(int fd, const struct options *o)
{
	static char dots[65536 + 1];
	int rc = 0;

	if (o->stuck_ms > 0)
		rc = hear(fd, now_ms() + o->stuck_ms, -1);
	for (int i = 0; rc == 0 && o->words != NULL && i < o->nwords; i++)
		rc = say(fd, "%s%s", o->words[i], i + 1 < o->nwords ? " " : "\n");
	/* -s: dots fill a line up to BYTES (longer than a server takes, too) */
	memset(dots, '.', (size_t)o->size);
	for (long k = 1; rc == 0 && k <= o->count; k++) {
		int len = snprintf(NULL, 0, "line %ld", k);

		if (o->interval_ms > 0)
			rc = hear(fd, now_ms() + o->interval_ms, 0);
		if (rc == 0)
			rc = say(fd, "line %ld%.*s\n", k, len < o->size ? (int)o->size - len : 0, dots);
	}
	if (rc == 0)
		rc = hear(fd, now_ms() + (o->wait_ms >= 0 ? o->wait_ms : 1000), 0);
	return rc;
}

/* Half-close: our FIN says "I am leaving"; the server sends what it still
 * has for us, then closes. Read it all, for LEAVE_MS at most. */
static int leave(int fd)
{
	int rc;

	if (shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		return -1;
	}
	rc = hear(fd, now_ms() + LEAVE_MS, 0);
	return rc < 0 ? -1 : 0;
}

/* Print what the room says until the deadline (-1: none). keyboard 1:
 * standard input's lines go to the room too, and its end returns 0;
 * -1: stuck, the socket is not read at all. Returns 0 at the deadline or
 * on a stop signal, 1 when the server has closed, -1 on an error. */
static int hear(int fd, long long until, int keyboard)
{
	struct pollfd p[3] = {
		{ .fd = stop_pipe(), .events = POLLIN },
		{ .fd = keyboard >= 0 ? fd : -1, .events = POLLIN },
		{ .fd = keyboard > 0 ? STDIN_FILENO : -1, .events = POLLIN },
	};

	while (!stop_requested) {
		long long left = until < 0 ? -1 : until - now_ms();
		int n;

		if (until >= 0 && left <= 0)
			return 0;
		n = poll(p, 3, (int)left);
		if (n < 0 && errno != EINTR) {
			warn("poll:");
			return -1;
		}
		if (n <= 0)
			continue; /* EINTR (a stop?) or the deadline: the loop looks */
		if (p[1].revents != 0 && (n = print_from(fd)) != 0)
			return n;
		if (p[2].revents != 0) {
			char buf[4096];
			ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));

			if (got == 0)
				return 0;
			if (got < 0 && errno != EINTR) {
				warn("read standard input:");
				return -1;
			}
			if (got > 0 && sl_io_write_all(fd, buf, (size_t)got) < 0) {
				warn("send:");
				return -1;
			}
		}
	}
	return 0; /* a stop signal */
}

/* One recv(), copied to standard output. 1 when the server has closed. */
static int print_from(int fd)
{
	char buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	if (n == 0)
		return 1;
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		warn("recv:");
		return -1;
	}
	if (sl_io_write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
		warn("write standard output:");
		return -1;
	}
	return 0;
}

/* ---- Plumbing: the clock, the command line ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&o->host, "the server's address or name (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&o->port),
		{ 'n', "nick", OPT_STRING, &o->nick, "NICK", "take this nickname (/nick NICK) first",
		  .what = "nickname" },
		{ 'c', "count", OPT_NUMBER, &o->count, "N", "send N numbered lines: line 1, line 2, ...",
		  .what = "line count", .min = 0, .max = 1000000 },
		{ 's', "size", OPT_NUMBER, &o->size, "BYTES",
		  "pad each numbered line with dots to BYTES\n(up to 65536: longer than a server takes)",
		  .what = "line size", .min = 0, .max = 65536 },
		{ 'i', "interval", OPT_NUMBER, &o->interval_ms, "MS", "wait MS before each numbered line",
		  .what = "interval", .min = 0, .max = 3600000 },
		{ 'w', "wait", OPT_NUMBER, &o->wait_ms, "MS",
		  "scripted: listen MS after the last line (default 1000)",
		  .what = "wait", .min = 0, .max = 3600000 },
		{ 0, "stuck", OPT_NUMBER, &o->stuck_ms, "MS",
		  "read nothing for MS after joining, as a stopped\nprocess would",
		  .what = "stuck time", .min = 0, .max = 3600000 },
		{ 0, "rcvbuf", OPT_NUMBER, &o->rcvbuf, "BYTES", "SO_RCVBUF: the kernel's receive buffer",
		  .what = "receive buffer", .min = 0, .max = 16 << 20 },
		{ 0 }
	};
	int first;

	memset(o, 0, sizeof(*o));
	o->host = DEFAULT_HOST;
	o->wait_ms = -1; /* not given: 1000 */
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[MESSAGE...]",
		.about = "The chat client (lesson 21). With no MESSAGE and no -c: lines typed go\n"
			 "to the room, and what the room says is printed, until the end of input\n"
			 "(^D). Scripted: the MESSAGE words as one line, then -c numbered lines,\n"
			 "then -w MS of listening.",
		.opts = options,
		.max_args = -1,
	});
	o->words = first < argc ? argv + first : NULL;
	o->nwords = argc - first;
}
