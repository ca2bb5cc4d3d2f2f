/* server.c — lesson 21: a chat room on one epoll loop.
 *
 * What it shows: a server whose clients talk to each other. Every line a
 * client sends goes to every other client in the room, after the sender's
 * nickname; joins, leaves and new nicknames are announced on lines that
 * start with "* ". The protocol is lines of text, so nc, socat and telnet
 * are clients as good as ours.
 *
 * Why: in a broadcast one client's behaviour reaches all the others: one
 * line in is N lines out. A client that stops reading (a stopped process,
 * a laptop closed mid-session, nc suspended with ^Z) must not stall the
 * room, and must not make the server buffer without end either. So the
 * server never waits on any one client: every socket is non-blocking,
 * each client has its own output queue, and a queue that would grow past
 * its cap (-q) means that client is not keeping up: it is told why, it is
 * disconnected, and everyone else carries on.
 *
 * The pieces, each in plain sight:
 *  - framing by lines: bytes arrive in whatever pieces TCP makes of them;
 *    a client's partial line waits in its own input buffer until its '\n'
 *    comes, and a line longer than MAX_LINE is refused (the buffer never
 *    grows, so a client cannot make us hold a gigabyte "line");
 *  - broadcast: one line handed to every other client, straight to the
 *    kernel when nothing of theirs is waiting, into their queue for
 *    whatever send() does not take (part of it, or nothing: EAGAIN);
 *  - the cap: a queue is a promise of memory, and a room of a thousand
 *    clients with unbounded queues is a server waiting to be killed;
 *  - removal after the loop: a broadcast that meets a full queue only
 *    marks that client; it leaves, and its leaving is announced, once the
 *    broadcast is over (never change a list while walking it);
 *  - a goodbye that arrives: the reason is queued past the cap, the queue
 *    drains (for GOODBYE_MS at most), then shutdown(SHUT_WR), and the
 *    socket is closed when the client has closed too (close() with unread
 *    input sends an RST, which may destroy the goodbye in flight);
 *  - EMFILE: a spare descriptor, given up just long enough to accept the
 *    waiting client and tell it the room is full;
 *  - the signal-safe stop of lesson 02, from lib/lesson.
 *
 * Notice when it runs (`socklab run 21 stuck`): with -v the stuck
 * client's queue grows line by line while the others' lines keep flowing,
 * and when it is full the stuck client is told "* disconnected: ..." and
 * the room "* stuck left: ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

#define MAX_LINE 512          /* bytes in one line, its '\n' included */
#define NICK_MAX 16           /* characters in a nickname */
#define NICK_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
#define QUEUE_CAP (64 * 1024) /* -q's default: output one client may have waiting */
#define SNDBUF (16 * 1024)   /* SO_SNDBUF: what the kernel holds for one client */
#define GOODBYE_ROOM 256      /* room past the cap, for the last line a client gets */
#define GOODBYE_MS 5000       /* a leaving client has this long to take its last lines */
#define STOP_MS 2000          /* ...and when the server stops, this long */
#define TICK_MS 100           /* the loop's clock, while anything waits on it */
#define MAX_EVENTS 64
#define ACCEPT_BATCH 32       /* new clients per wake-up: those inside talk too */

struct client {
	int fd;
	char nick[NICK_MAX + 1];
	char in[MAX_LINE + 1];  /* a line on its way in (+1: room for a '\0') */
	size_t in_len;
	char *out;              /* output the kernel has not taken yet, or NULL */
	size_t out_start, out_end;
	uint32_t events;        /* what epoll watches this socket for now */
	char why[96];           /* set: it must leave, and this is why */
	int leaving;            /* out of the room; its last lines drain */
	int broken;             /* its connection failed: nothing more to send */
	int peer_eof;           /* it closed its side (recv() returned 0) */
	int wr_shut;            /* we closed ours (shutdown SHUT_WR) */
	long long deadline;     /* leaving: closed by then, drained or not */
	struct client *next;
};

struct room {
	const char *host, *port; /* -b, -p */
	long queue_cap;         /* -q */
	int verbose;            /* -v: print the queues as they grow and drain */
	int ep;                 /* the epoll instance */
	int listener, stop_fd;  /* their addresses are their events' data.ptr */
	int spare;              /* a descriptor held in reserve for EMFILE */
	long long paused_until; /* accept() paused until then (0: it is not) */
	struct client *clients; /* those in the room and those leaving it */
	int here, leaving;      /* how many of each */
	unsigned guests;        /* the last guestN handed out */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct room *r);
static void open_room(struct room *r, int stop_fd);
static void run(struct room *r);
static void close_room(struct room *r);
static void accept_clients(struct room *r);
static void join(struct room *r, int fd);
static struct client *add_client(struct room *r, int fd);
static int turn_away(struct room *r);
static void watch_listener(struct room *r, uint32_t events);
static void on_client(struct room *r, struct client *c, uint32_t ev);
static void read_lines(struct room *r, struct client *c);
static void take_lines(struct room *r, struct client *c);
static void on_line(struct room *r, struct client *c, char *line, size_t len);
static void command(struct room *r, struct client *c, const char *line);
static void broadcast(struct room *r, struct client *from, const char *line, size_t len);
static void deliver(struct room *r, struct client *c, const char *data, size_t len);
static void put(struct room *r, struct client *c, const char *data, size_t len);
static void enqueue(struct room *r, struct client *c, const char *data, size_t len);
static int flush(struct room *r, struct client *c);
static void watch_for(struct room *r, struct client *c);
static void mark(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void leave(struct room *r, struct client *c, const char *why);
static void leave_marked(struct room *r);
static void sweep(struct room *r);
static void close_client(struct room *r, struct client *c);
static void set_nick(struct room *r, struct client *c, const char *nick);
static int taken(const struct room *r, const struct client *c, const char *nick);
static void tell(struct room *r, struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void announce(struct room *r, struct client *from, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static size_t queued(const struct client *c);
static long long now_ms(void);

int main(int argc, char **argv)
{
	static struct room r; /* static: zeroed, and off the stack */

	parse_options(argc, argv, &r);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The signal-safe stop of lesson 02, from lib/lesson: a stop signal
	 * sets stop_requested and makes stop_pipe() readable, one more fd in
	 * the loop's interest list. */
	stop_on_signals();
	open_room(&r, stop_pipe());
	announce_listening(r.listener);
	run(&r);
	printf("stopping: signal received\n");
	close_room(&r);
	return EXIT_OK;
}

/* The listener (non-blocking: accept() on an empty queue says EAGAIN),
 * the spare descriptor, and the epoll instance watching the listener and
 * the stop pipe. */
static void open_room(struct room *r, int stop_fd)
{
	char err[SL_ERR_LEN];
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &r->listener };
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &r->stop_fd };

	r->listener = sl_tcp_listen(r->host, r->port, SOMAXCONN, NULL, NULL, err);
	if (r->listener < 0)
		die("%s", err);
	if (fcntl(r->listener, F_SETFL, fcntl(r->listener, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	r->stop_fd = stop_fd;
	r->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r->spare < 0)
		die("open /dev/null:");
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0)
		die("epoll_create1:");
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->listener, &lev) < 0 ||
	    epoll_ctl(r->ep, EPOLL_CTL_ADD, r->stop_fd, &sev) < 0)
		die("epoll_ctl ADD:");
}

/* The loop: wait for ready sockets, act on each, then (between batches,
 * when no event in hand points at a client any more) let the marked
 * clients leave and close those that are done. */
static void run(struct room *r)
{
	struct epoll_event ev[MAX_EVENTS];

	while (!stop_requested) {
		/* No timeout, unless something waits on the clock. */
		int tick = r->leaving > 0 || r->paused_until != 0 ? TICK_MS : -1;
		int n = epoll_wait(r->ep, ev, MAX_EVENTS, tick);

		if (n < 0 && errno != EINTR)
			die("epoll_wait:");
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &r->listener)
				accept_clients(r);
			else if (ev[i].data.ptr != &r->stop_fd) /* the stop: see the loop's test */
				on_client(r, ev[i].data.ptr, ev[i].events);
		}
		leave_marked(r);
		sweep(r);
		if (r->paused_until != 0 && now_ms() >= r->paused_until)
			watch_listener(r, EPOLLIN);
	}
}

/* The stop: no one new, and everyone still here leaves as a client told
 * why does (its last lines, our FIN, its close), within STOP_MS. The
 * same loop does it, without the listener and the stop pipe (which stays
 * readable now). */
static void close_room(struct room *r)
{
	struct epoll_event ev[MAX_EVENTS];
	long long end = now_ms() + STOP_MS;

	close(r->listener);
	epoll_ctl(r->ep, EPOLL_CTL_DEL, r->stop_fd, NULL);
	for (struct client *c = r->clients; c != NULL; c = c->next) {
		if (!c->leaving)
			leave(r, c, "the server is stopping");
		if (c->deadline > end)
			c->deadline = end;
	}
	while (r->leaving > 0) {
		int n = epoll_wait(r->ep, ev, MAX_EVENTS, TICK_MS);

		for (int i = 0; i < n; i++)
			on_client(r, ev[i].data.ptr, ev[i].events);
		sweep(r);
	}
	close(r->ep);
	if (r->spare >= 0)
		close(r->spare);
}

/* ---- arriving ----------------------------------------------------------- */

static void accept_clients(struct room *r)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		/* accept4: the new socket is non-blocking from the start. */
		int fd = accept4(r->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			join(r, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return; /* no one else is waiting */
		if (errno == EINTR || errno == ECONNABORTED)
			continue; /* that one gave up while it waited */
		if (errno == EMFILE || errno == ENFILE) {
			if (turn_away(r) == 0)
				continue;
		} else {
			warn("accept:");
		}
		watch_listener(r, 0); /* and try again in TICK_MS */
		return;
	}
}

static void join(struct room *r, int fd)
{
	struct client *c = add_client(r, fd);

	if (c == NULL)
		return;
	do
		snprintf(c->nick, sizeof(c->nick), "guest%u", ++r->guests);
	while (taken(r, c, c->nick));
	r->here++;
	tell(r, c, "* welcome, %s: %d here (/nick NAME, /who, /quit)\n", c->nick, r->here);
	announce(r, c, "* %s joined\n", c->nick);
	printf("%s joined (fd %d, %d here)\n", c->nick, fd, r->here);
}

/* A new client's socket, watched by epoll, in the list (not yet in the
 * room); NULL, and the socket closed, when that fails. */
static struct client *add_client(struct room *r, int fd)
{
	struct client *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int sndbuf = SNDBUF;

	/* The kernel's send buffer is a queue too, and autotuned it grows to
	 * megabytes (net.ipv4.tcp_wmem): fixed, a client that does not read
	 * costs at most SNDBUF there (doubled, for the kernel's overhead)
	 * plus our cap. */
	if (c == NULL || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0 ||
	    epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		warn("a new client: %s", strerror(errno));
		close(fd);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->events = EPOLLIN;
	c->next = r->clients;
	r->clients = c;
	return c;
}

/* Out of descriptors: the client waits in the listen queue, the listener
 * stays readable, and a level-triggered loop would spin on it. Give up
 * the spare descriptor to accept that client; it leaves at once, as any
 * client told why does, and its close() takes the spare back. Returns -1
 * when there is no spare to give up (one is still on its way out). */
static int turn_away(struct room *r)
{
	static const char full[] = "* the room is full (the server is out of descriptors): "
				   "try again later\n";
	struct client *c;
	int fd;

	if (r->spare < 0)
		return -1;
	close(r->spare);
	r->spare = -1;
	fd = accept4(r->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 || (c = add_client(r, fd)) == NULL) {
		r->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return 0;
	}
	snprintf(c->nick, sizeof(c->nick), "(turned away)");
	c->leaving = 1;
	c->deadline = now_ms() + GOODBYE_MS;
	r->leaving++;
	put(r, c, full, sizeof(full) - 1);
	printf("turned a client away: out of descriptors\n");
	return 0;
}

/* No spare, or another error: the listener stays readable, so stop
 * watching it (events 0) for TICK_MS; run() watches it again (EPOLLIN). */
static void watch_listener(struct room *r, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &r->listener };

	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, r->listener, &ev) < 0)
		die("epoll_ctl MOD listener:");
	r->paused_until = events != 0 ? 0 : now_ms() + TICK_MS;
}

/* ---- one client's events ---------------------------------------------- */

static void on_client(struct room *r, struct client *c, uint32_t ev)
{
	/* EPOLLERR: the connection failed (a reset); nothing can reach it. */
	if ((ev & EPOLLERR) || ((ev & EPOLLOUT) && flush(r, c) < 0)) {
		c->broken = 1;
		mark(c, "connection lost");
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP))
		read_lines(r, c);
	watch_for(r, c);
}

/* One recv() per event: level-triggered, epoll says again while bytes
 * are left. It asks only for what the input buffer still holds. */
static void read_lines(struct room *r, struct client *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, MAX_LINE - c->in_len, 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			c->broken = 1;
			mark(c, "connection lost: %s", strerror(errno));
		}
		return; /* EAGAIN, EINTR: nothing now; epoll will say again */
	}
	if (n == 0) {
		c->peer_eof = 1;
		if (!c->leaving && c->in_len > 0)
			on_line(r, c, c->in, c->in_len); /* a last line without '\n' */
		if (!c->leaving)
			leave(r, c, NULL);
		return;
	}
	if (c->leaving)
		return; /* what a leaving client still sends is dropped */
	c->in_len += (size_t)n;
	take_lines(r, c);
}

/* Hand on every whole line in c's input and keep the rest: one line may
 * come in many recv()s, and one recv() may bring many lines. */
static void take_lines(struct room *r, struct client *c)
{
	/* EXERCISE 1: hand on each whole line, keep the rest, refuse a line too long */
	char *line = c->in, *nl;
	size_t left = c->in_len;

	while (!c->leaving && (nl = memchr(line, '\n', left)) != NULL) {
		size_t len = (size_t)(nl - line);

		on_line(r, c, line, len);
		line += len + 1;
		left -= len + 1;
	}
	if (c->leaving)
		return; /* it said /quit: the rest is dropped */
	/* Full, and no '\n' in it: a line longer than any we accept. */
	if (left == MAX_LINE) {
		leave(r, c, "line too long (the limit is 512 bytes)");
		return;
	}
	memmove(c->in, line, left);
	c->in_len = left;
	/* END EXERCISE 1 */
}

/* One line from c, without its '\n'. */
static void on_line(struct room *r, struct client *c, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--; /* socat's crlf, telnet: lines end in CR LF */
	line[len] = '\0';
	if (line[0] == '/')
		command(r, c, line);
	else if (len > 0)
		announce(r, c, "%s: %s\n", c->nick, line);
}

static void command(struct room *r, struct client *c, const char *line)
{
	if (strncmp(line, "/nick ", 6) == 0) {
		set_nick(r, c, line + 6);
	} else if (strcmp(line, "/who") == 0) {
		char names[MAX_LINE] = ""; /* as many as fit on one line */
		size_t used = 0;

		for (const struct client *o = r->clients; o != NULL; o = o->next)
			if (!o->leaving && used + 1 + strlen(o->nick) < sizeof(names))
				used += (size_t)sprintf(names + used, " %s", o->nick);
		tell(r, c, "* %d here:%s\n", r->here, names);
	} else if (strcmp(line, "/quit") == 0) {
		tell(r, c, "* bye\n");
		leave(r, c, NULL);
	} else {
		tell(r, c, "* commands: /nick NAME, /who, /quit\n");
	}
}

/* ---- broadcast, and the queue behind each client ---------------------- */

/* One line to every client in the room but its sender (from; NULL: a
 * line from the server). A client whose queue is full is only marked
 * here; leave_marked() removes it after the loop. */
static void broadcast(struct room *r, struct client *from, const char *line, size_t len)
{
	/* EXERCISE 2: deliver the line to everyone in the room but its sender */
	for (struct client *c = r->clients; c != NULL; c = c->next)
		if (c != from && !c->leaving)
			deliver(r, c, line, len);
	/* END EXERCISE 2 */
}

/* A line for c, unless it would take c's queue past the cap: then c is
 * not reading, and is marked to leave (it gets no more lines). A line
 * goes whole or not at all, so what c gets stays whole lines. */
static void deliver(struct room *r, struct client *c, const char *data, size_t len)
{
	/* EXERCISE 3: a line that would pass the cap marks c; any other goes out */
	if (c->why[0] != '\0')
		return; /* marked to leave already */
	/* What waits goes first, as far as the kernel takes it now: the queue
	 * holds only what the kernel refuses. */
	if (queued(c) > 0 && flush(r, c) < 0) {
		c->broken = 1;
		mark(c, "connection lost: %s", strerror(errno));
		return;
	}
	if (queued(c) > 0 && queued(c) + len > (size_t)r->queue_cap) {
		mark(c, "not reading (%zu bytes waiting)", queued(c));
		return;
	}
	put(r, c, data, len);
	/* END EXERCISE 3 */
}

/* Send what the kernel takes now, and queue the rest. Straight to the
 * kernel only when nothing of c's waits: otherwise the line would jump
 * ahead of what is queued. */
static void put(struct room *r, struct client *c, const char *data, size_t len)
{
	ssize_t sent = 0;

	if (c->broken)
		return;
	if (queued(c) == 0) {
		sent = send(c->fd, data, len, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				c->broken = 1;
				mark(c, "connection lost: %s", strerror(errno));
				return;
			}
			sent = 0; /* nothing taken: all of it waits */
		}
	}
	if ((size_t)sent < len)
		enqueue(r, c, data + sent, len - (size_t)sent);
}

/* The queue: cap + GOODBYE_ROOM bytes, allocated when first needed and
 * freed when empty (a thousand quiet clients cost no queue memory). */
static void enqueue(struct room *r, struct client *c, const char *data, size_t len)
{
	size_t size = (size_t)r->queue_cap + GOODBYE_ROOM;

	if (queued(c) + len > size || (c->out == NULL && (c->out = malloc(size)) == NULL)) {
		c->broken = 1; /* past even the goodbye's room, or no memory */
		mark(c, "no room for its output");
		return;
	}
	if (c->out_end + len > size) {
		/* Slide what waits to the front, to make room at the end. */
		memmove(c->out, c->out + c->out_start, queued(c));
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	memcpy(c->out + c->out_end, data, len);
	c->out_end += len;
	if (r->verbose)
		printf("queue of %s: %zu bytes waiting\n", c->nick, queued(c));
	watch_for(r, c);
}

/* EPOLLOUT: send what the kernel takes now. 0: all sent, or the rest
 * waits for the next EPOLLOUT (EAGAIN); -1: the connection failed. */
static int flush(struct room *r, struct client *c)
{
	while (queued(c) > 0) {
		ssize_t n = send(c->fd, c->out + c->out_start, queued(c), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->out_start += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_start = c->out_end = 0;
	if (r->verbose)
		printf("queue of %s: empty\n", c->nick);
	watch_for(r, c); /* no more EPOLLOUT */
	return 0;
}

/* What epoll watches c for: input until c has closed its side (else a
 * level-triggered EOF would wake us for ever), output while some waits
 * (else an idle socket, always writable, would). MOD only on a change. */
static void watch_for(struct room *r, struct client *c)
{
	uint32_t want = (c->peer_eof ? 0 : EPOLLIN) | (queued(c) > 0 ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = c };

	if (want == c->events || c->broken)
		return;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		c->broken = 1;
		mark(c, "epoll_ctl: %s", strerror(errno));
		return;
	}
	c->events = want;
}

/* ---- leaving ------------------------------------------------------------ */

/* c must leave, for the reason given; the first reason stands. */
static void mark(struct client *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* c leaves the room: the others are told, and so is c when it did not
 * choose to leave (why: the reason; NULL: it left by itself). Its last
 * line goes past the cap, into GOODBYE_ROOM. Its queue then drains, and
 * sweep() closes it. */
static void leave(struct room *r, struct client *c, const char *why)
{
	char bye[GOODBYE_ROOM];
	int n;

	c->leaving = 1;
	c->in_len = 0;
	c->deadline = now_ms() + GOODBYE_MS;
	r->here--;
	r->leaving++;
	if (why != NULL) {
		n = snprintf(bye, sizeof(bye), "* disconnected: %s\n", why);
		put(r, c, bye, (size_t)n < sizeof(bye) ? (size_t)n : sizeof(bye) - 1);
	}
	/* When the server stops, everyone leaves: no one is told of the others. */
	if (!stop_requested && why != NULL)
		announce(r, c, "* %s left: %s\n", c->nick, why);
	else if (!stop_requested)
		announce(r, c, "* %s left\n", c->nick);
	printf("%s left%s%s (%d here)\n", c->nick, why != NULL ? ": " : "",
	       why != NULL ? why : "", r->here);
}

/* The clients a broadcast marked leave now, after it. Their leaving is
 * itself a broadcast, which may mark others: go round until none is. */
static void leave_marked(struct room *r)
{
	/* EXERCISE 3: let every marked client leave, until no one is marked */
	int again = 1;

	while (again) {
		again = 0;
		for (struct client *c = r->clients; c != NULL; c = c->next)
			if (c->why[0] != '\0' && !c->leaving) {
				leave(r, c, c->why);
				again = 1;
			}
	}
	/* END EXERCISE 3 */
}

/* Close the leaving clients that are done. One whose queue has drained
 * gets our FIN first (shutdown SHUT_WR): when it closes too, it has read
 * everything, the goodbye included (when the server stops, our FIN is
 * the last word: no waiting for that). One that takes longer than
 * GOODBYE_MS, or whose connection failed, is closed as it is. */
static void sweep(struct room *r)
{
	long long now;

	if (r->leaving == 0)
		return;
	now = now_ms();
	for (struct client **p = &r->clients; *p != NULL;) {
		struct client *c = *p;

		if (c->leaving && !c->broken && !c->wr_shut && queued(c) == 0) {
			shutdown(c->fd, SHUT_WR);
			c->wr_shut = 1;
		}
		if (c->leaving && (c->broken || (c->wr_shut && (c->peer_eof || stop_requested)) ||
				   now >= c->deadline)) {
			*p = c->next;
			close_client(r, c);
		} else {
			p = &c->next;
		}
	}
}

/* close() also takes the socket out of the epoll interest list. */
static void close_client(struct room *r, struct client *c)
{
	close(c->fd);
	free(c->out);
	if (c->leaving)
		r->leaving--;
	else
		r->here--;
	free(c);
	if (r->spare < 0)
		r->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* ---- nicknames, and lines from the server ---------------------------------- */

static void set_nick(struct room *r, struct client *c, const char *nick)
{
	/* EXERCISE 4: check the nickname, refuse one that is taken, announce the new one */
	size_t len = strspn(nick, NICK_CHARS);

	if (len == 0 || len > NICK_MAX || nick[len] != '\0') {
		tell(r, c, "* a nickname is 1 to %d letters, digits, '-' or '_'\n", NICK_MAX);
		return;
	}
	if (taken(r, c, nick)) {
		tell(r, c, "* %s is taken\n", nick);
		return;
	}
	announce(r, c, "* %s is now %s\n", c->nick, nick);
	tell(r, c, "* you are now %s\n", nick);
	printf("%s is now %s\n", c->nick, nick);
	memcpy(c->nick, nick, len + 1);
	/* END EXERCISE 4 */
}

/* Is nick someone else's in the room? Alice and alice are one name. */
static int taken(const struct room *r, const struct client *c, const char *nick)
{
	for (const struct client *o = r->clients; o != NULL; o = o->next)
		if (o != c && !o->leaving && strcasecmp(o->nick, nick) == 0)
			return 1;
	return 0;
}

/* A line for one client. */
static void tell(struct room *r, struct client *c, const char *fmt, ...)
{
	char line[MAX_LINE + NICK_MAX + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	deliver(r, c, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A line for everyone in the room but from. */
static void announce(struct room *r, struct client *from, const char *fmt, ...)
{
	char line[MAX_LINE + NICK_MAX + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	broadcast(r, from, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static size_t queued(const struct client *c)
{
	return c->out_end - c->out_start;
}

/* ---- Plumbing: the clock, the command line ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct room *r)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&r->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&r->port, "port to listen on (default 0: any free port)"),
		{ 'q', "queue", OPT_NUMBER, &r->queue_cap, "BYTES",
		  "output one client may have waiting before it is\n"
		  "disconnected (1024 to 16777216, default 65536)",
		  .what = "queue size", .min = 1024, .max = 16 << 20 },
		{ 'v', "verbose", OPT_FLAG, &r->verbose,
		  .help = "print each client's queue as it grows and drains" },
		{ 0 }
	};

	r->host = DEFAULT_HOST;
	r->port = "0";
	r->queue_cap = QUEUE_CAP;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "A chat room (lesson 21): every line a client sends goes to every\n"
			 "other client, after its nickname. Clients: our client, nc, socat, telnet.",
		.opts = options,
	});
}
