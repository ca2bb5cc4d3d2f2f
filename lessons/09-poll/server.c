/* server.c — lesson 09: one thread, many clients, with poll().
 *
 * What it shows: the event loop of lesson 08 on poll(). poll() takes an
 * array of struct pollfd {fd, events, revents}, one slot per socket, of
 * any length: no FD_SETSIZE, no bit arrays to rebuild (the kernel writes
 * its answer into revents and leaves events alone). The array grows when
 * it is full (realloc, checked). A closed connection's slot is only marked
 * during the scan and removed after it, so that no ready slot is ever
 * skipped (see the README: "the removal trap").
 *
 * Signals arrive through a self-pipe: the stop handler (lesson 02's, from
 * lib/lesson) writes one byte into a pipe whose other end is slot 0 of the
 * array, so a signal is just one more readable descriptor, and no race is
 * left between "test the flag" and "wait in poll()".
 *
 * Why: poll() lifts select()'s fd limit and is simpler to keep, but it is
 * still a linear scan: every call passes every slot to the kernel and back,
 * and the loop looks at every revents, even when one client of ten
 * thousand is ready. Lesson 10 (epoll) removes that scan.
 *
 * Notice when it runs: "slots: 8 -> 16" as clients arrive; at exit, how
 * many ready slots poll() reported and how many the loop handled: always
 * the same number here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

#define BACKLOG 64
#define BUF_SIZE 16384        /* each connection's output buffer */
#define ACCEPTS_PER_ROUND 64
#define FIRST_SLOTS 8         /* the array starts this big and doubles */
#define PAUSE_MS 100          /* listener unwatched after EMFILE */

/* Fixed slots; clients are in slots FIRST_CLIENT and up. */
enum { SLOT_SIGNAL = 0, SLOT_LISTENER = 1, FIRST_CLIENT = 2 };

/* One client; buf[start..end) is what it sent and has not had back. */
struct conn {
	char who[SL_ADDRSTRLEN];
	size_t start, end;
	int eof;
	long long echoed;
	char buf[BUF_SIZE];
};

/* Two arrays indexed alike: slot i is pfd[i] and conn[i]. */
struct slots {
	struct pollfd *pfd;
	struct conn **conn;
	size_t n;             /* slots in use */
	size_t cap;           /* slots allocated */
};

struct server {
	const char *host, *port; /* where to listen (-b, -p) */
	struct slots s;
	int listener;
	long long paused_until; /* ms on CLOCK_MONOTONIC; 0 when watching */
	unsigned long long reported; /* ready slots, as poll() counted them */
	unsigned long long handled;  /* ready slots the loop acted on */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct server *srv);
static void open_server(struct server *srv, int signal_pipe);
static int serve(struct server *srv);
static void close_server(struct server *srv);
static void accept_clients(struct server *srv);
static void on_readable(struct slots *s, size_t i);
static void flush_output(struct slots *s, size_t i);
static void drop_client(struct slots *s, size_t i);
static void update_events(struct slots *s, size_t i);
static int slots_reserve(struct slots *s);
static void slots_add(struct slots *s, int fd, struct conn *c);
static void slots_compact(struct slots *s);
static int poll_timeout(struct server *srv);
static long long now_ms(void);
static int set_nonblocking(int fd);

int main(int argc, char **argv)
{
	struct server srv;
	int status;

	parse_options(argc, argv, &srv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The signal-safe stop of lesson 02, from lib/lesson, and its pipe. */
	stop_on_signals();
	open_server(&srv, stop_pipe());
	announce_listening(srv.listener);

	status = serve(&srv);

	close_server(&srv);
	if (stop_requested)
		printf("stopping: signal received\n");
	printf("poll reported %llu ready slots, %llu handled\n", srv.reported, srv.handled);
	return status;
}

/* The slot array with its two fixed slots: the signal pipe, the listener. */
static void open_server(struct server *srv, int signal_pipe)
{
	char err[SL_ERR_LEN];

	srv->s.cap = FIRST_SLOTS;
	srv->s.pfd = calloc(srv->s.cap, sizeof(*srv->s.pfd));
	srv->s.conn = calloc(srv->s.cap, sizeof(*srv->s.conn));
	if (srv->s.pfd == NULL || srv->s.conn == NULL)
		die("calloc:");
	srv->listener = sl_tcp_listen(srv->host, srv->port, BACKLOG, NULL, NULL, err);
	if (srv->listener < 0)
		die("%s", err);
	if (set_nonblocking(srv->listener) < 0)
		die("fcntl O_NONBLOCK:");
	slots_add(&srv->s, signal_pipe, NULL);   /* SLOT_SIGNAL */
	slots_add(&srv->s, srv->listener, NULL); /* SLOT_LISTENER */
}

static void close_server(struct server *srv)
{
	for (size_t i = FIRST_CLIENT; i < srv->s.n; i++)
		if (srv->s.conn[i] != NULL) /* NULL: closed, not yet removed */
			drop_client(&srv->s, i);
	close(srv->listener);
	free(srv->s.pfd);
	free(srv->s.conn);
}

/* ---- the loop ---------------------------------------------------------- */

static int serve(struct server *srv)
{
	struct slots *s = &srv->s;

	while (!stop_requested) {
		int timeout = poll_timeout(srv);
		size_t n_polled = s->n;
		int ready = poll(s->pfd, (nfds_t)n_polled, timeout);

		if (ready < 0) {
			if (errno == EINTR)
				continue;
			warn("poll:");
			return EXIT_RUNTIME;
		}
		srv->reported += (unsigned long long)ready;

		/* Scan only the slots poll() saw: accept_clients() appends
		 * new ones past n_polled, and their revents are not answers.
		 * A slot closed here keeps its place until slots_compact(),
		 * so no other slot moves under the scan. */
		/* EXERCISE 1: act on every slot poll() reports ready */
		for (size_t i = 0; i < n_polled; i++) {
			short re = s->pfd[i].revents;

			if (re == 0)
				continue;
			srv->handled++;
			if (i == SLOT_SIGNAL) {
				char drain[64];

				while (read(s->pfd[i].fd, drain, sizeof(drain)) > 0)
					;
			} else if (i == SLOT_LISTENER) {
				accept_clients(srv);
			} else {
				/* POLLHUP and POLLERR come without being asked
				 * for; recv() or send() then says what happened. */
				if (re & (POLLOUT | POLLERR))
					flush_output(s, i);
				if (s->conn[i] != NULL && (re & (POLLIN | POLLHUP | POLLERR)))
					on_readable(s, i);
			}
		}
		/* END EXERCISE 1 */
		slots_compact(s);
		for (size_t i = FIRST_CLIENT; i < s->n; i++)
			update_events(s, i);
	}
	return EXIT_OK;
}

static void accept_clients(struct server *srv)
{
	struct slots *s = &srv->s;

	for (int k = 0; k < ACCEPTS_PER_ROUND; k++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		struct conn *c;
		int fd;

		fd = accept(srv->listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The client stays in the backlog and the listener
				 * stays readable: watching it now would make poll()
				 * return at once, forever. Stop watching it for a
				 * while; the client waits, and is served as soon as
				 * a descriptor is free. */
				warn("accept (not watching the listener for %d ms):", PAUSE_MS);
				srv->paused_until = now_ms() + PAUSE_MS;
				s->pfd[SLOT_LISTENER].fd = -1;
				return;
			}
			warn("accept:");
			return;
		}
		c = malloc(sizeof(*c));
		if (c == NULL || slots_reserve(s) < 0) {
			warn("no memory for a client: closing it");
			free(c);
			close(fd);
			continue;
		}
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, c->who, sizeof(c->who)) == NULL)
			snprintf(c->who, sizeof(c->who), "(unknown address)");
		if (set_nonblocking(fd) < 0) {
			warn("fcntl O_NONBLOCK:");
			free(c);
			close(fd);
			continue;
		}
		c->start = c->end = 0;
		c->eof = 0;
		c->echoed = 0;
		slots_add(s, fd, c);
		printf("client %s (fd %d) connected\n", c->who, fd);
	}
}

/* ---- one connection ---------------------------------------------------- */

static int wants_read(const struct conn *c)
{
	return !c->eof && c->end < BUF_SIZE;
}

static int wants_write(const struct conn *c)
{
	return c->start < c->end;
}

static void on_readable(struct slots *s, size_t i)
{
	struct conn *c = s->conn[i];
	ssize_t n = recv(s->pfd[i].fd, c->buf + c->end, BUF_SIZE - c->end, 0);

	if (n > 0) {
		c->end += (size_t)n;
		flush_output(s, i);
	} else if (n == 0) {
		c->eof = 1;
		flush_output(s, i);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		warn("recv from %s:", c->who);
		drop_client(s, i);
	}
}

/* Send what is buffered, as much as the kernel takes now. */
static void flush_output(struct slots *s, size_t i)
{
	struct conn *c = s->conn[i];

	while (wants_write(c)) {
		ssize_t n = send(s->pfd[i].fd, c->buf + c->start, c->end - c->start,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			warn("send to %s:", c->who);
			drop_client(s, i);
			return;
		}
		c->start += (size_t)n;
		c->echoed += n;
	}
	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->eof && !wants_write(c))
		drop_client(s, i);
}

/* Close the client in slot i and mark the slot for removal after the
 * scan. poll() skips a negative fd, so a marked slot is harmless. */
static void drop_client(struct slots *s, size_t i)
{
	struct conn *c = s->conn[i];

	printf("client %s (fd %d) disconnected (%lld bytes echoed)\n",
	       c->who, s->pfd[i].fd, c->echoed);
	close(s->pfd[i].fd);
	free(c);
	s->conn[i] = NULL;
	s->pfd[i].fd = -1;
}

/* What the connection wants from the next poll(). */
static void update_events(struct slots *s, size_t i)
{
	struct conn *c = s->conn[i];

	if (c == NULL)
		return;
	/* EXERCISE 2: ask for input only while there is room, output only while some waits */
	s->pfd[i].events = (short)((wants_read(c) ? POLLIN : 0) |
				   (wants_write(c) ? POLLOUT : 0));
	/* END EXERCISE 2 */
}

/* ---- the slot array ---------------------------------------------------- */

/* Make room for one more slot. realloc() may fail: then both arrays are
 * still the old ones, valid and unchanged, and the caller refuses the
 * client. Assigning realloc's result straight to s->pfd would lose the
 * old array (a leak) exactly when memory is short. */
static int slots_reserve(struct slots *s)
{
	struct pollfd *pfd;
	struct conn **conn;
	size_t cap = s->cap * 2;

	/* EXERCISE 3: grow both arrays when every slot is taken, safely */
	if (s->n < s->cap)
		return 0;
	pfd = realloc(s->pfd, cap * sizeof(*pfd));
	if (pfd == NULL)
		return -1;
	s->pfd = pfd;
	conn = realloc(s->conn, cap * sizeof(*conn));
	if (conn == NULL)
		return -1; /* pfd is bigger than it needs to be: harmless */
	s->conn = conn;
	printf("slots: %zu -> %zu\n", s->cap, cap);
	s->cap = cap;
	return 0;
	/* END EXERCISE 3 */
}

static void slots_add(struct slots *s, int fd, struct conn *c)
{
	s->pfd[s->n] = (struct pollfd){ .fd = fd, .events = POLLIN, .revents = 0 };
	s->conn[s->n] = c;
	s->n++;
}

/* After the scan: squeeze out the slots marked closed (fd -1), keeping the
 * order of the others. The pollfd and its conn move together. */
static void slots_compact(struct slots *s)
{
	/* EXERCISE 4: squeeze out the closed slots, keeping the others in order */
	size_t j = FIRST_CLIENT;

	for (size_t i = FIRST_CLIENT; i < s->n; i++) {
		if (s->pfd[i].fd < 0)
			continue;
		s->pfd[j] = s->pfd[i];
		s->conn[j] = s->conn[i];
		j++;
	}
	s->n = j;
	/* END EXERCISE 4 */
}

/* Milliseconds poll() may wait: forever, unless the listener is paused. */
static int poll_timeout(struct server *srv)
{
	long long left;

	if (srv->paused_until == 0)
		return -1;
	left = srv->paused_until - now_ms();
	if (left <= 0) {
		srv->paused_until = 0; /* watch the listener again */
		srv->s.pfd[SLOT_LISTENER].fd = srv->listener;
		return -1;
	}
	return (int)left;
}

/* ---- Plumbing: the clock, O_NONBLOCK, the command line ---------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct server *srv)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&srv->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&srv->port, "port to listen on (default 0: any free port)"),
		{ 0 }
	};

	memset(srv, 0, sizeof(*srv));
	srv->host = DEFAULT_HOST;
	srv->port = "0";
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The echo server as a poll() loop (lesson 09): one thread serves every\n"
			 "client, each with its own output buffer; the pollfd array grows.",
		.opts = options,
	});
}
