/* server.c — lesson 11: non-blocking sockets, EAGAIN, and output buffers.
 *
 * What it shows: a socket put into non-blocking mode with fcntl(F_SETFL,
 * O_NONBLOCK) never makes its caller wait. recv() with nothing to read and
 * send() with a full send buffer fail at once with EAGAIN ("try again
 * later") instead of blocking. An event loop (poll() here) relies on that:
 * it may do only what completes now, so whatever send() does not take must
 * be kept in a per-connection output buffer and sent when poll() says the
 * socket is writable (POLLOUT), and a client whose buffer is full is not
 * read from until it drains.
 *
 * Why: poll() says a socket is *writable* when it can take at least some
 * bytes, not all of them. A loop that calls a blocking send() with more
 * than that stops there, and every other client waits with it. Run with
 * --blocking to see it: the sockets stay blocking, and one client that
 * sends a lot and never reads freezes the whole server.
 *
 * Also here: when accept() fails with EMFILE (no file descriptor left),
 * the "reserve fd" trick: we keep one spare descriptor open, close it,
 * accept the waiting client, close that at once, and reopen the spare.
 * The client learns it was refused instead of hanging, and the listener
 * does not stay readable for ever (a busy loop at 100% CPU).
 *
 * Notice when it runs with -v: the EAGAIN lines, and the totals printed
 * at the end — how often the kernel said "not now".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

#define OUT_CAP (64 * 1024)   /* pending output per client, at most */
#define READ_MAX (64 * 1024)  /* one recv() asks for this much */
#define ACCEPT_BATCH 64       /* clients accepted per poll(), at most */

struct client {
	char *out;              /* pending output (OUT_CAP bytes) or NULL */
	size_t out_start, out_end;
	int peer_done;          /* recv() returned 0 */
	long long echoed;
};

struct server {
	const char *host, *port; /* where to listen (-b, -p) */
	int blocking;           /* --blocking: the bug, on purpose */
	int verbose;
	int listener;
	int reserve;            /* the spare fd for EMFILE */
	int emfile_said;
	/* Slot 0 is the listener, slot 1 the wake-up pipe, then one per
	 * client: pfd[i] and cl[i] describe the same connection. */
	struct pollfd *pfd;
	struct client *cl;
	size_t n, cap;
	long long eagain_recv, eagain_send, short_sends;
	char buf[READ_MAX];
};

#define FIRST_CLIENT 2

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct server *s);
static void setup(struct server *s, int stop_fd);
static void run(struct server *s);
static void cleanup(struct server *s);
static void accept_clients(struct server *s);
static void refuse_one_client(struct server *s, int err);
static int open_reserve(void);
static void add_client(struct server *s, int fd);
static void serve_client(struct server *s, size_t i);
static int read_and_echo(struct server *s, size_t i);
static int send_blocking(int fd, const char *buf, size_t len);
static int buffer_output(struct client *c, const char *data, size_t len);
static int flush_output(struct server *s, size_t i);
static size_t pending(const struct client *c);
static void close_client(struct server *s, size_t i, const char *why);
static void compact(struct server *s);
static int set_nonblocking(int fd);
static void say_client(const struct server *s, int fd, const char *what,
		       const struct client *c);

int main(int argc, char **argv)
{
	static struct server s; /* static: its 64 KiB buffer stays off the stack */

	parse_options(argc, argv, &s);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The signal-safe stop of lesson 02, from lib/lesson: its pipe wakes
	 * poll(), so a signal between the loop's test and poll() is seen. */
	stop_on_signals();
	setup(&s, stop_pipe());
	announce_listening(s.listener);
	run(&s);
	printf("stopping: signal received\n");
	printf("EAGAIN from recv: %lld, from send: %lld; short sends: %lld\n",
	       s.eagain_recv, s.eagain_send, s.short_sends);
	cleanup(&s);
	return EXIT_OK;
}

/* ---- setup and the loop ---------------------------------------------------- */

/* The listener, the spare fd, and the slots: the listener in slot 0, the
 * stop pipe (lib/lesson's self-pipe) in slot 1. */
static void setup(struct server *s, int stop_fd)
{
	char err[SL_ERR_LEN];

	s->listener = sl_tcp_listen(s->host, s->port, SOMAXCONN, NULL, NULL, err);
	if (s->listener < 0)
		die("%s", err);
	/* The listener too: poll() may say a client is waiting, and the
	 * client may reset before accept() — a blocking accept() would then
	 * wait for the next one. */
	if (set_nonblocking(s->listener) < 0)
		die("fcntl O_NONBLOCK:");
	s->reserve = open_reserve();
	if (s->reserve < 0)
		die("open /dev/null:");
	s->cap = 64;
	s->pfd = malloc(s->cap * sizeof(*s->pfd));
	s->cl = calloc(s->cap, sizeof(*s->cl));
	if (s->pfd == NULL || s->cl == NULL)
		die("malloc:");
	s->pfd[0] = (struct pollfd){ .fd = s->listener, .events = POLLIN };
	s->pfd[1] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
	s->n = FIRST_CLIENT;
}

static void run(struct server *s)
{
	while (!stop_requested) {
		int ready = poll(s->pfd, (nfds_t)s->n, -1);
		size_t n = s->n; /* clients accepted below wait for the next turn */

		if (ready < 0) {
			if (errno == EINTR)
				continue; /* a signal: the loop condition looks */
			die("poll:");
		}
		if (s->pfd[1].revents != 0)
			break; /* the self-pipe: a stop signal */
		for (size_t i = FIRST_CLIENT; i < n; i++)
			if (s->pfd[i].revents != 0)
				serve_client(s, i);
		if (s->pfd[0].revents != 0)
			accept_clients(s);
		compact(s);
	}
}

static void cleanup(struct server *s)
{
	for (size_t i = FIRST_CLIENT; i < s->n; i++)
		if (s->pfd[i].fd >= 0)
			close_client(s, i, NULL);
	free(s->pfd);
	free(s->cl);
	close(s->listener);
	if (s->reserve >= 0)
		close(s->reserve);
}

/* ---- accepting ------------------------------------------------------------- */

/* Accept what is queued, up to ACCEPT_BATCH at a time: the clients
 * already here get their turn before the next batch. (One per poll()
 * would cost a whole poll() over every connection per new client.) */
static void accept_clients(struct server *s)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept(s->listener, NULL, NULL);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				refuse_one_client(s, errno);
			else if (errno == EINTR || errno == ECONNABORTED)
				continue;
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				die("accept:");
			return;
		}
		s->emfile_said = 0;
		if (s->reserve < 0)
			s->reserve = open_reserve();
		/* accept() does not pass O_NONBLOCK on from the listener (on
		 * Linux; some BSDs do): set it on every new socket. */
		if (!s->blocking && set_nonblocking(fd) < 0) {
			warn("fcntl O_NONBLOCK:");
			close(fd);
			continue;
		}
		add_client(s, fd);
	}
}

/* No descriptor is left for the client at the head of the queue. Give up
 * the spare one, take the client, and close it at once: it sees end of
 * file (or a reset) instead of waiting, and the queue moves on. */
static void refuse_one_client(struct server *s, int err)
{
	int fd;

	if (!s->emfile_said)
		warn("accept: %s: refusing clients until one leaves", strerror(err));
	s->emfile_said = 1;
	if (s->reserve >= 0) {
		close(s->reserve);
		fd = accept(s->listener, NULL, NULL);
		if (fd >= 0)
			close(fd);
		s->reserve = open_reserve();
	}
	/* No spare (another process took the last descriptor of the system):
	 * stop watching the listener until a client leaves, or poll() would
	 * report it readable again at once, for ever. */
	if (s->reserve < 0)
		s->pfd[0].events = 0;
}

/* The spare descriptor kept for EMFILE (see refuse_one_client). */
static int open_reserve(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void add_client(struct server *s, int fd)
{
	if (s->n == s->cap) {
		size_t cap = s->cap * 2;
		struct pollfd *pfd;
		struct client *cl;

		/* Two arrays, two reallocs: each may fail, and a failed
		 * realloc leaves the old block as it was. */
		pfd = realloc(s->pfd, cap * sizeof(*pfd));
		if (pfd != NULL)
			s->pfd = pfd;
		cl = pfd != NULL ? realloc(s->cl, cap * sizeof(*cl)) : NULL;
		if (cl == NULL) {
			warn("realloc:");
			close(fd);
			return;
		}
		s->cl = cl;
		s->cap = cap;
	}
	s->pfd[s->n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	s->cl[s->n] = (struct client){ 0 };
	s->n++;
	say_client(s, fd, "connected", NULL);
}

/* ---- serving a client ------------------------------------------------------ */

static void serve_client(struct server *s, size_t i)
{
	short rev = s->pfd[i].revents;
	struct client *c = &s->cl[i];

	if (rev & POLLNVAL) {
		close_client(s, i, "not an open fd");
		return;
	}
	if ((rev & POLLOUT) && flush_output(s, i) < 0) {
		close_client(s, i, strerror(errno));
		return;
	}
	/* POLLHUP and POLLERR: the next recv() says what happened. */
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c->peer_done &&
	    read_and_echo(s, i) < 0) {
		close_client(s, i, strerror(errno));
		return;
	}
	if (c->peer_done && pending(c) == 0) {
		close_client(s, i, NULL);
		return;
	}
	/* EXERCISE 2: ask poll() for what this client needs next */
	/* Read while there is room to echo; ask for POLLOUT only while
	 * output waits, or poll() would return at once, every time. */
	s->pfd[i].events = 0;
	if (!c->peer_done && pending(c) < OUT_CAP)
		s->pfd[i].events |= POLLIN;
	if (pending(c) > 0)
		s->pfd[i].events |= POLLOUT;
	/* END EXERCISE 2 */
}

/* One recv() (poll said there is something) and its echo. Returns 0, or
 * -1 when the client must be closed. */
static int read_and_echo(struct server *s, size_t i)
{
	struct client *c = &s->cl[i];
	int fd = s->pfd[i].fd;
	size_t want = OUT_CAP - pending(c);
	ssize_t n, sent = 0;

	if (want > sizeof(s->buf))
		want = sizeof(s->buf);
	n = recv(fd, s->buf, want, 0);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* poll() said readable, yet nothing: it happens (a
			 * segment with a bad checksum is dropped after the
			 * wake-up). A blocking recv() would hang here. */
			s->eagain_recv++;
			if (s->verbose >= 1)
				printf("fd %d: recv: EAGAIN (nothing to read after all)\n", fd);
			return 0;
		}
		return -1;
	}
	if (n == 0) {
		c->peer_done = 1;
		return 0;
	}
	c->echoed += n;
	if (s->blocking)
		return send_blocking(fd, s->buf, (size_t)n);
	/* EXERCISE 2: echo without waiting: send what the kernel takes now, buffer the rest */
	if (pending(c) == 0) {
		sent = send(fd, s->buf, (size_t)n, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -1;
			if (errno != EINTR) {
				s->eagain_send++;
				if (s->verbose >= 1)
					printf("fd %d: send: EAGAIN (send buffer full)\n", fd);
			}
			sent = 0;
		} else if (sent < n) {
			s->short_sends++;
			if (s->verbose >= 1)
				printf("fd %d: send took %zd of %zd bytes\n", fd, sent, n);
		}
	}
	if (sent < n && buffer_output(c, s->buf + sent, (size_t)(n - sent)) < 0)
		return -1;
	return 0;
	/* END EXERCISE 2 */
}

/* --blocking: send it all, however long that takes. This is the bug: while
 * this client is not reading, send() waits, and so does every client. */
static int send_blocking(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR && !stop_requested)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Keep what send() did not take; the caller made sure it fits. */
static int buffer_output(struct client *c, const char *data, size_t len)
{
	if (c->out == NULL) {
		c->out = malloc(OUT_CAP);
		if (c->out == NULL)
			return -1;
		c->out_start = c->out_end = 0;
	}
	if (c->out_end + len > OUT_CAP) {
		memmove(c->out, c->out + c->out_start, pending(c));
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	memcpy(c->out + c->out_end, data, len);
	c->out_end += len;
	return 0;
}

/* Send pending output until it is gone or the kernel says EAGAIN. */
static int flush_output(struct server *s, size_t i)
{
	struct client *c = &s->cl[i];
	int fd = s->pfd[i].fd;

	while (pending(c) > 0) {
		ssize_t n = send(fd, c->out + c->out_start, pending(c), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				s->eagain_send++;
				if (s->verbose >= 1)
					printf("fd %d: send: EAGAIN (send buffer full), "
					       "%zu bytes wait in our buffer\n", fd, pending(c));
				return 0;
			}
			return -1;
		}
		if ((size_t)n < pending(c)) {
			s->short_sends++;
			if (s->verbose >= 1)
				printf("fd %d: send took %zd of %zu pending bytes\n", fd, n,
				       pending(c));
		}
		c->out_start += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_start = c->out_end = 0;
	return 0;
}

static size_t pending(const struct client *c)
{
	return c->out_end - c->out_start;
}

/* Close a client and mark its slot free (fd -1). Slots are compacted
 * after the scan over pfd[], never while we walk it. */
static void close_client(struct server *s, size_t i, const char *why)
{
	if (why != NULL && s->verbose >= 1)
		printf("client fd %d: %s\n", s->pfd[i].fd, why);
	say_client(s, s->pfd[i].fd, "disconnected", &s->cl[i]);
	close(s->pfd[i].fd);
	free(s->cl[i].out);
	s->cl[i].out = NULL;
	s->pfd[i].fd = -1;
	/* A descriptor is free again: the spare can be had back, and the
	 * listener watched again if we had to stop. */
	if (s->reserve < 0)
		s->reserve = open_reserve();
	s->pfd[0].events = POLLIN;
}

static void compact(struct server *s)
{
	size_t j = FIRST_CLIENT;

	for (size_t i = FIRST_CLIENT; i < s->n; i++) {
		if (s->pfd[i].fd < 0)
			continue;
		s->pfd[j] = s->pfd[i];
		s->cl[j] = s->cl[i];
		j++;
	}
	s->n = j;
}

/* ---- non-blocking mode ----------------------------------------------------- */

/* O_NONBLOCK is a flag of the open file, read and written with fcntl:
 * read the flags, add ours, write them back (setting only O_NONBLOCK
 * would clear any other flag that was set). */
static int set_nonblocking(int fd)
{
	/* EXERCISE 1: put fd into non-blocking mode, keeping its other flags */
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	/* END EXERCISE 1 */
}

/* ---- Plumbing: printing a client, the command line ------------------- */

static void say_client(const struct server *s, int fd, const char *what,
		       const struct client *c)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char who[SL_ADDRSTRLEN];

	if (s->verbose < 1)
		return;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0 ||
	    sl_addr_format((struct sockaddr *)&peer, len, who, sizeof(who)) == NULL)
		snprintf(who, sizeof(who), "(fd %d)", fd);
	if (c == NULL)
		printf("client %s %s\n", who, what);
	else
		printf("client %s %s (%lld bytes echoed)\n", who, what, c->echoed);
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct server *s)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&s->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&s->port, "port to listen on (default 0: any free port)"),
		{ 0, "blocking", OPT_FLAG, &s->blocking,
		  .help = "leave client sockets blocking and send each echo\n"
			  "whole (the bug this lesson is about)" },
		{ 'v', "verbose", OPT_COUNT, &s->verbose,
		  .help = "print clients and every EAGAIN" },
		{ 0 }
	};

	s->host = DEFAULT_HOST;
	s->port = "0";
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "A poll() echo server with non-blocking sockets and per-client output\n"
			 "buffers (lesson 11).",
		.opts = options,
	});
}
