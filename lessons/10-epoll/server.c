/* server.c — lesson 10: one thread serving every client with epoll.
 *
 * What it shows: an event loop. The server never waits on one client. It
 * asks the kernel, with one epoll_wait() call, "which of my sockets can I
 * use now?", does only what will not block (accept the queued clients,
 * read what has arrived, send what fits) and asks again. Every socket is
 * non-blocking, so a call that would have to wait fails with EAGAIN
 * instead; that is the signal to go back to epoll_wait().
 *
 * The pieces an event loop needs, each in plain sight:
 *  - an epoll instance (epoll_create1) holding an interest list: for each
 *    fd, the events we want to hear about (epoll_ctl ADD/MOD/DEL);
 *  - level-triggered (default) or edge-triggered (-e) notification: level
 *    says "this fd is readable" for as long as it is, edge says "this fd
 *    became readable" once, so an edge-triggered loop must read until
 *    EAGAIN or it will never hear about the rest;
 *  - a per-connection output buffer for what send() would not take, with
 *    EPOLLOUT asked for only while that buffer holds something, and
 *    EPOLLIN dropped while it is full (a client that sends but never reads
 *    cannot make the server buffer without limit);
 *  - accept() failing with EMFILE (no fd left for the new connection): the
 *    listener stays readable, so a level-triggered loop would spin at 100%
 *    CPU. We stop watching the listener until a connection closes or
 *    100 ms pass, and the waiting clients stay queued in the backlog;
 *  - signals as file descriptors (signalfd): SIGINT and SIGTERM arrive as
 *    readable events in the same loop, so there is no handler and no race.
 *
 * Notice when it runs: one process, one thread, and any number of clients
 * served at once. With -vv it prints every event: compare "-r 4" with and
 * without -e while a client sends 10 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"

/* How many events one epoll_wait() may return. More are simply returned by
 * the next call; this is a batch size, not a limit on clients. */
#define MAX_EVENTS 256

/* Pending output per client: at most this much is buffered for a client
 * that does not read; then we stop reading from it. */
#define OUT_CAP (64 * 1024)

/* One recv() asks for at most this much (-r changes it). */
#define READ_MAX (64 * 1024)

/* Level-triggered: accept at most this many clients per wake-up, so a
 * flood of connections cannot starve the clients already connected. */
#define ACCEPT_BATCH 64

/* After EMFILE, look at the listener again after this long at the latest. */
#define ACCEPT_PAUSE_MS 100

enum kind { LISTENER, SIGNALS, CLIENT };

/* What an epoll event's data.ptr points to. Every watched fd has one. */
struct conn {
	enum kind kind;
	int fd;
	uint32_t events;        /* what epoll watches for this fd now */
	char *out;              /* pending output (OUT_CAP bytes) or NULL */
	size_t out_start, out_end;
	int peer_done;          /* the client sent FIN: no more input */
	long long echoed;
	struct conn *prev, *next; /* every client, so we can close them all */
};

struct server {
	const char *host, *port; /* where to listen (-b, -p) */
	int ep;                 /* the epoll instance */
	int edge;               /* -e: EPOLLET on every fd */
	int verbose;            /* 1: clients; 2: every event and call */
	long read_size;         /* -r: bytes asked for per recv() */
	struct conn listener, signals;
	struct conn *clients;   /* list head */
	long nclients;
	int accept_paused;
	int emfile_said;        /* said so once; again only after a success */
	long long resume_ms;    /* when to look at the listener again */
	int stop;
	char buf[READ_MAX];     /* one read buffer, shared by every client */
};

enum read_result { READ_MORE, READ_AGAIN, READ_FULL, READ_EOF, READ_ERROR };

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct server *s);
static void setup(struct server *s);
static void run(struct server *s);
static void cleanup(struct server *s);
static void accept_clients(struct server *s);
static void on_signal(struct server *s);
static void add_client(struct server *s, int fd);
static void pause_accepting(struct server *s, int err);
static void resume_accepting(struct server *s);
static int wait_timeout(const struct server *s);
static void on_client(struct server *s, struct conn *c, uint32_t ev);
static enum read_result read_input(struct server *s, struct conn *c,
				   uint32_t ev);
static enum read_result read_once(struct server *s, struct conn *c);
static size_t pending(const struct conn *c);
static int buffer_output(struct conn *c, const char *data, size_t len);
static int flush_output(struct server *s, struct conn *c);
static uint32_t wanted_events(const struct conn *c);
static void close_client(struct server *s, struct conn *c, const char *why);
static int watch(struct server *s, struct conn *c, uint32_t events);
static int rewatch(struct server *s, struct conn *c, uint32_t events);
static long long now_ms(void);
static const char *event_names(uint32_t ev, char *buf, size_t size);
static void describe_peer(int fd, char *who, size_t size);

int main(int argc, char **argv)
{
	static struct server s; /* static: its 64 KiB buffer stays off the stack */

	parse_options(argc, argv, &s);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup(&s);
	announce_listening(s.listener.fd);
	if (s.verbose >= 1)
		printf("%s-triggered epoll, up to %ld bytes per recv()\n",
		       s.edge ? "edge" : "level", s.read_size);
	run(&s);
	printf("stopping: signal received\n");
	cleanup(&s);
	return EXIT_OK;
}

/* ---- setup and the loop ---------------------------------------------------- */

/* SIGINT and SIGTERM become readable events on a file descriptor. They
 * are blocked first, so they are never delivered the ordinary way: no
 * handler runs, and none can interrupt a call half-way. */
static int open_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		die("sigprocmask:");
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		die("signalfd:");
	return fd;
}

static int open_listener(const struct server *s)
{
	char err[SL_ERR_LEN];
	/* SOMAXCONN: let the kernel queue as many finished handshakes as it
	 * allows (net.core.somaxconn), for bursts of thousands of clients. */
	int fd = sl_tcp_listen(s->host, s->port, SOMAXCONN, NULL, NULL, err);

	if (fd < 0)
		die("%s", err);
	/* Non-blocking, so accept() on an empty queue says EAGAIN. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	return fd;
}

static void setup(struct server *s)
{
	s->signals.kind = SIGNALS;
	s->signals.fd = open_signalfd();
	s->listener.kind = LISTENER;
	s->listener.fd = open_listener(s);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		die("epoll_create1:");
	if (watch(s, &s->listener, EPOLLIN) < 0 || watch(s, &s->signals, EPOLLIN) < 0)
		die("epoll_ctl ADD:");
}

static void run(struct server *s)
{
	struct epoll_event events[MAX_EVENTS];

	while (!s->stop) {
		/* EXERCISE 1: wait for events, then act on each by its conn's kind */
		int n = epoll_wait(s->ep, events, MAX_EVENTS, wait_timeout(s));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait:");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			/* Each fd appears at most once per epoll_wait(), so a
			 * client closed here cannot turn up later in this batch. */
			if (c->kind == LISTENER)
				accept_clients(s);
			else if (c->kind == SIGNALS)
				on_signal(s);
			else
				on_client(s, c, events[i].events);
		}
		/* END EXERCISE 1 */
		if (s->accept_paused && now_ms() >= s->resume_ms)
			resume_accepting(s);
	}
}

/* How long epoll_wait() may sleep: forever, unless accept() is paused. */
static int wait_timeout(const struct server *s)
{
	long long left;

	if (!s->accept_paused)
		return -1;
	left = s->resume_ms - now_ms();
	return left > 0 ? (int)left : 0;
}

static void cleanup(struct server *s)
{
	while (s->clients != NULL)
		close_client(s, s->clients, "server stopping");
	close(s->ep);
	close(s->listener.fd);
	close(s->signals.fd);
}

/* ---- the listener ---------------------------------------------------------- */

static void accept_clients(struct server *s)
{
	for (int i = 0; s->edge || i < ACCEPT_BATCH; i++) {
		/* accept4 sets O_NONBLOCK on the new socket in the same call
		 * (lesson 11 does it the long way, with fcntl). */
		int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* the queue is empty */
			if (errno == EINTR || errno == ECONNABORTED)
				continue; /* that client gave up while queued */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				pause_accepting(s, errno);
				return;
			}
			die("accept:");
		}
		s->emfile_said = 0;
		add_client(s, fd);
	}
}

static void add_client(struct server *s, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		warn("calloc:");
		close(fd);
		return;
	}
	c->kind = CLIENT;
	c->fd = fd;
	if (watch(s, c, EPOLLIN | EPOLLRDHUP) < 0) {
		warn("epoll_ctl ADD:");
		close(fd);
		free(c);
		return;
	}
	c->next = s->clients;
	if (s->clients != NULL)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
	if (s->verbose >= 1) {
		char who[SL_ADDRSTRLEN];

		describe_peer(fd, who, sizeof(who));
		printf("client %s connected (fd %d, %ld clients)\n", who, fd, s->nclients);
	}
}

/* Out of file descriptors. The connection stays in the listen queue, so
 * the listener stays readable: a level-triggered loop that just tried
 * again would spin at 100% CPU. Stop watching the listener instead; the
 * next closed client, or ACCEPT_PAUSE_MS, brings it back. */
static void pause_accepting(struct server *s, int err)
{
	/* EXERCISE 4: out of descriptors: stop watching the listener for a while */
	if (!s->emfile_said)
		warn("accept: %s: not accepting until a client leaves (or %d ms)",
		     strerror(err), ACCEPT_PAUSE_MS);
	s->emfile_said = 1;
	if (rewatch(s, &s->listener, 0) < 0)
		die("epoll_ctl MOD listener:");
	s->accept_paused = 1;
	s->resume_ms = now_ms() + ACCEPT_PAUSE_MS;
	/* END EXERCISE 4 */
}

static void resume_accepting(struct server *s)
{
	/* MOD makes epoll look at the listener now: clients that queued up
	 * meanwhile produce an event at once, edge mode included. */
	/* EXERCISE 4: watch the listener again */
	if (rewatch(s, &s->listener, EPOLLIN) < 0)
		die("epoll_ctl MOD listener:");
	s->accept_paused = 0;
	/* END EXERCISE 4 */
	if (s->verbose >= 2)
		printf("listener: watching again\n");
}

/* SIGINT or SIGTERM, read from the signalfd. */
static void on_signal(struct server *s)
{
	struct signalfd_siginfo si;
	ssize_t n = read(s->signals.fd, &si, sizeof(si));

	if (n == (ssize_t)sizeof(si)) {
		if (s->verbose >= 2)
			printf("signal %u received\n", si.ssi_signo);
		s->stop = 1;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		die("read signalfd:");
	}
}

/* ---- clients --------------------------------------------------------------- */

static void on_client(struct server *s, struct conn *c, uint32_t ev)
{
	if (s->verbose >= 2) {
		char names[96];

		printf("fd %d: %s\n", c->fd, event_names(ev, names, sizeof(names)));
	}
	/* EPOLLERR: the connection failed (a reset). Nothing we buffered
	 * can be delivered any more. */
	if (ev & EPOLLERR) {
		close_client(s, c, "connection error");
		return;
	}
	if ((ev & EPOLLOUT) && flush_output(s, c) < 0) {
		close_client(s, c, strerror(errno));
		return;
	}
	if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !c->peer_done) {
		switch (read_input(s, c, ev)) {
		case READ_EOF:
			c->peer_done = 1;
			break;
		case READ_ERROR:
			close_client(s, c, strerror(errno));
			return;
		default:
			break;
		}
	}
	/* The client has sent everything and has it all back: done. */
	if (c->peer_done && pending(c) == 0) {
		close_client(s, c, NULL);
		return;
	}
	if (rewatch(s, c, wanted_events(c)) < 0) {
		warn("epoll_ctl MOD:");
		close_client(s, c, "epoll_ctl failed");
	}
}

/* Read what the client sent. Level-triggered: one recv() per event is
 * enough, since epoll will say again that the fd is readable. But when
 * the client has sent its FIN (EPOLLRDHUP) everything it will ever send is
 * already here, so read on to the end of file now. Edge-triggered: read
 * until EAGAIN, or no event will ever tell us about what is left. */
static enum read_result read_input(struct server *s, struct conn *c, uint32_t ev)
{
	/* EXERCISE 2: one read per event (level), or until EAGAIN (edge, or FIN) */
	int drain = s->edge || (ev & EPOLLRDHUP);
	enum read_result r;

	do
		r = read_once(s, c);
	while (r == READ_MORE && drain);
	return r;
	/* END EXERCISE 2 */
}

/* One recv() and its echo. The bytes go back at once when nothing is
 * pending (the common case: no copy); what send() does not take, and
 * everything that arrives while output is pending (order matters), goes
 * into the output buffer. We never read more than that buffer can hold. */
static enum read_result read_once(struct server *s, struct conn *c)
{
	size_t room = OUT_CAP - pending(c);
	size_t want = room < (size_t)s->read_size ? room : (size_t)s->read_size;
	ssize_t n, sent = 0;

	if (want == 0)
		return READ_FULL;
	n = recv(c->fd, s->buf, want, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (s->verbose >= 2)
				printf("fd %d: recv: EAGAIN (nothing more to read now)\n", c->fd);
			return READ_AGAIN;
		}
		return errno == EINTR ? READ_MORE : READ_ERROR;
	}
	if (n == 0) {
		if (s->verbose >= 2)
			printf("fd %d: recv: 0 (end of file)\n", c->fd);
		return READ_EOF;
	}
	if (s->verbose >= 2)
		printf("fd %d: recv %zd bytes\n", c->fd, n);
	c->echoed += n;
	if (pending(c) == 0) {
		sent = send(c->fd, s->buf, (size_t)n, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return READ_ERROR;
			sent = 0;
		}
		if (s->verbose >= 2)
			printf("fd %d: send %zd of %zd bytes\n", c->fd, sent, n);
	}
	if (sent < n && buffer_output(c, s->buf + sent, (size_t)(n - sent)) < 0)
		return READ_ERROR;
	return READ_MORE;
}

static size_t pending(const struct conn *c)
{
	return c->out_end - c->out_start;
}

/* Queue bytes that send() did not take. The caller made sure they fit. */
static int buffer_output(struct conn *c, const char *data, size_t len)
{
	if (c->out == NULL) {
		c->out = malloc(OUT_CAP);
		if (c->out == NULL)
			return -1;
		c->out_start = c->out_end = 0;
	}
	if (c->out_end + len > OUT_CAP) {
		/* Slide what is left to the front to make room at the end. */
		memmove(c->out, c->out + c->out_start, pending(c));
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	memcpy(c->out + c->out_end, data, len);
	c->out_end += len;
	return 0;
}

/* Send as much pending output as the kernel takes now. Returns 0 (done or
 * EAGAIN: the rest waits for EPOLLOUT), or -1 on an error. */
static int flush_output(struct server *s, struct conn *c)
{
	while (pending(c) > 0) {
		ssize_t n = send(c->fd, c->out + c->out_start, pending(c), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (s->verbose >= 2)
					printf("fd %d: send: EAGAIN, %zu bytes still pending\n",
					       c->fd, pending(c));
				return 0;
			}
			return -1;
		}
		if (s->verbose >= 2)
			printf("fd %d: send %zd pending bytes\n", c->fd, n);
		c->out_start += (size_t)n;
	}
	/* All sent: give the buffer back, so ten thousand idle clients
	 * cost no buffer memory at all. */
	free(c->out);
	c->out = NULL;
	c->out_start = c->out_end = 0;
	return 0;
}

/* What epoll should watch this client for, now: input while there is room
 * to echo it (and the client has not finished), output only while some
 * is pending. EPOLLRDHUP goes with EPOLLIN: watched while we are not
 * reading, a half-closed client would wake us up again and again. */
static uint32_t wanted_events(const struct conn *c)
{
	/* EXERCISE 3: input while there is room for its echo, output while some waits */
	uint32_t ev = 0;

	if (!c->peer_done && pending(c) < OUT_CAP)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (pending(c) > 0)
		ev |= EPOLLOUT;
	return ev;
	/* END EXERCISE 3 */
}

/* Close a client and forget it. Its fd number is free again, so a
 * listener paused by EMFILE may accept once more. */
static void close_client(struct server *s, struct conn *c, const char *why)
{
	if (s->verbose >= 1) {
		char who[SL_ADDRSTRLEN];

		describe_peer(c->fd, who, sizeof(who));
		printf("client %s disconnected (%lld bytes echoed%s%s)\n", who,
		       c->echoed, why != NULL ? ", " : "", why != NULL ? why : "");
	}
	/* close() also removes the fd from every epoll interest list. */
	close(c->fd);
	free(c->out);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	s->nclients--;
	if (s->accept_paused)
		s->resume_ms = 0; /* try the listener on the next turn */
}

/* ---- the interest list ----------------------------------------------------- */

/* Ask epoll for events on a new fd. In edge mode every fd gets EPOLLET. */
static int watch(struct server *s, struct conn *c, uint32_t events)
{
	/* EXERCISE 1: add c->fd to the interest list, its conn as the event's data */
	struct epoll_event ev = { .events = events | (s->edge ? EPOLLET : 0),
				  .data.ptr = c };

	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	c->events = events;
	return 0;
	/* END EXERCISE 1 */
}

/* Change what we watch a fd for, only when it differs: epoll_ctl is a
 * system call, and this runs for every message. Re-arming with MOD also
 * makes epoll look at the fd at once: if it is already readable, an event
 * is queued even in edge mode, so nothing that arrived while we were not
 * watching is missed. */
static int rewatch(struct server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events | (s->edge ? EPOLLET : 0),
				  .data.ptr = c };

	if (events == c->events)
		return 0;
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -1;
	c->events = events;
	return 0;
}

/* ---- Plumbing: the clock, names for the -vv trace, the command line ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "EPOLLIN|EPOLLRDHUP" for the -vv trace. */
static const char *event_names(uint32_t ev, char *buf, size_t size)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ EPOLLIN, "EPOLLIN" }, { EPOLLOUT, "EPOLLOUT" },
		{ EPOLLRDHUP, "EPOLLRDHUP" }, { EPOLLHUP, "EPOLLHUP" },
		{ EPOLLERR, "EPOLLERR" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((ev & names[i].bit) && used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s%s",
						 used > 0 ? "|" : "", names[i].name);
	return buf;
}

static void describe_peer(int fd, char *who, size_t size)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0 ||
	    sl_addr_format((struct sockaddr *)&peer, len, who, size) == NULL)
		snprintf(who, size, "(fd %d)", fd);
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct server *s)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&s->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&s->port, "port to listen on (default 0: any free port)"),
		{ 'e', "edge", OPT_FLAG, &s->edge,
		  .help = "edge-triggered epoll (default: level-triggered)" },
		{ 'r', "read-size", OPT_NUMBER, &s->read_size, "BYTES",
		  "bytes asked for per recv() (1 to 65536, default 65536)",
		  .what = "read size", .min = 1, .max = READ_MAX },
		{ 'v', "verbose", OPT_COUNT, &s->verbose,
		  .help = "print clients coming and going; twice (-vv):\n"
			  "every event and every call as well" },
		{ 0 }
	};

	s->host = DEFAULT_HOST;
	s->port = "0";
	s->read_size = READ_MAX;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "An echo server on epoll (lesson 10): one thread serves every client,\n"
			 "sending back every byte each one sends.",
		.opts = options,
	});
}
