/* server.c — lesson 08: one thread, many clients, with select().
 *
 * What it shows: an event loop. Every socket is non-blocking; select()
 * waits until one of them is ready (readable: data, a new connection or an
 * end of file; writable: room in its send buffer), and the loop does only
 * what will not block. Each connection has its own output buffer: what a
 * client sent waits there until the kernel takes it back, and while that
 * buffer is full the loop stops reading from that client. A client that
 * never reads therefore costs at most one buffer, and never blocks the
 * others.
 *
 * select() takes sets of descriptors as bit arrays of FD_SETSIZE bits
 * (1024 on Linux). A descriptor >= FD_SETSIZE does not fit: FD_SET() on it
 * writes past the end of the array, undefined behaviour. So the server
 * checks every accepted fd and refuses (closes) one that does not fit.
 * --max-fd lowers that limit, to see it happen with a few clients.
 *
 * Why: no process or thread per client, no locks: one loop owns all the
 * state. The cost: select() copies three bit arrays in and out on every
 * call and both the kernel and the loop scan them up to the highest fd:
 * work grows with the number of connections, not with the number ready.
 *
 * Notice when it runs: every line carries the client's fd; the
 * "refusing" line once an fd reaches the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

#define BACKLOG 64
#define BUF_SIZE 16384       /* each connection's output buffer */
#define ACCEPTS_PER_ROUND 64 /* so a flood of new clients cannot starve the old */

/* One client. buf[0..len) is what it sent and has not had back yet:
 * reading appends at len, sending takes from the front. */
struct conn {
	char who[SL_ADDRSTRLEN];
	size_t len;
	int eof;                 /* the client has shut down its sending side */
	long long echoed;
	char buf[BUF_SIZE];
};

/* One loop owns all of it: no locks. */
static struct conn *conns[FD_SETSIZE]; /* indexed by fd; NULL: no client */
static int top = -1;                   /* the highest fd in conns[], or -1 */
static int listener, spare = -1;       /* spare: the reserve descriptor */
static long fd_limit = FD_SETSIZE;     /* accepted fds must be below this */
static const char *host = DEFAULT_HOST, *port = "0";

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static void open_listener(void);
static int serve(void);
static void flush_output(int fd);
static void on_readable(int fd);
static void accept_clients(void);
static void turn_away_one(void);
static void drop_client(int fd);

int main(int argc, char **argv)
{
	int status;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */
	open_listener();
	/* A signal shuts the listener down, and a listener that is shut down
	 * is readable: a select() that starts after the signal returns at
	 * once instead of sleeping until the next client. */
	stop_wakes(listener);
	announce_listening(listener);

	status = serve();

	stop_forget(listener);
	for (int fd = 0; fd <= top; fd++)
		if (conns[fd] != NULL)
			drop_client(fd);
	close(listener);
	if (spare >= 0)
		close(spare);
	if (stop_requested)
		printf("stopping: signal received\n");
	return status;
}

/* Open the spare descriptor (turn_away_one() spends it when accept()
 * runs out of descriptors), then the listener: with 0, 1 and 2 open, they
 * are 3 and 4 in /proc/PID/fd. Both must be below the fd limit. */
static void open_listener(void)
{
	char err[SL_ERR_LEN];
	int fl;

	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (spare < 0)
		die("open /dev/null:");
	listener = sl_tcp_listen(host, port, BACKLOG, NULL, NULL, err);
	if (listener < 0)
		die("%s", err);
	if (listener >= fd_limit)
		die("the listener's fd %d is not below the limit %ld", listener, fd_limit);
	/* Non-blocking: a client that resets between select() and accept()
	 * is gone from the backlog, and a blocking accept() would then wait
	 * for the next client while every other one waits for us. */
	fl = fcntl(listener, F_GETFL);
	if (fl < 0 || fcntl(listener, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
}

/* Ask select() which sockets are ready, then do only what will not block.
 * Returns EXIT_OK when told to stop, EXIT_RUNTIME if select() fails. */
static int serve(void)
{
	while (!stop_requested) {
		fd_set rd, wr;
		int maxfd = listener;

		/* The sets are rebuilt before every call: select() overwrites
		 * them with the answer. */
		/* EXERCISE 1: ask for the listener, and for each client what it wants */
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_SET(listener, &rd);
		for (int fd = 0; fd <= top; fd++) {
			struct conn *c = conns[fd];

			if (c == NULL)
				continue;
			if (!c->eof && c->len < BUF_SIZE)
				FD_SET(fd, &rd); /* room in its buffer: read more */
			if (c->len > 0)
				FD_SET(fd, &wr); /* bytes to send back */
			if (fd > maxfd)
				maxfd = fd;
		}
		/* END EXERCISE 1 */

		/* No timeout: sleep until a descriptor is ready. A stop signal
		 * interrupts it (EINTR), or, if it came before this call, left
		 * the listener shut down and readable. */
		if (select(maxfd + 1, &rd, &wr, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue; /* the loop test sees stop_requested */
			warn("select:");
			return EXIT_RUNTIME;
		}
		if (stop_requested)
			break;

		/* Clients first: a conn made by accept_clients() below was
		 * not in the sets, and its bits are clear. */
		/* EXERCISE 1: act on the answer: only what select() said is ready */
		for (int fd = 0; fd <= top; fd++) {
			if (conns[fd] != NULL && FD_ISSET(fd, &wr))
				flush_output(fd);
			if (conns[fd] != NULL && FD_ISSET(fd, &rd))
				on_readable(fd); /* not if dropped: its bit means nothing now */
		}
		if (FD_ISSET(listener, &rd))
			accept_clients();
		/* END EXERCISE 1 */
	}
	return EXIT_OK;
}

/* Send what is buffered, as much as the kernel takes now; keep the rest
 * for the next round. Drops the client when it is over. */
static void flush_output(int fd)
{
	struct conn *c = conns[fd];

	/* EXERCISE 2: send what is buffered, as much as the kernel takes now */
	size_t sent = 0;

	while (sent < c->len) {
		ssize_t n = send(fd, c->buf + sent, c->len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break; /* the kernel's buffer is full: select() says when */
		if (n < 0) {
			warn("send to %s:", c->who);
			drop_client(fd);
			return;
		}
		sent += (size_t)n;
		c->echoed += n;
	}
	/* A short send: move the rest to the front, so that the room for
	 * reading is always at the end. */
	memmove(c->buf, c->buf + sent, c->len - sent);
	c->len -= sent;
	if (c->eof && c->len == 0)
		drop_client(fd); /* all echoed, and the client said it is done */
	/* END EXERCISE 2 */
}

/* Read what the client sent into the free end of its buffer, and send it
 * back at once if the kernel takes it. */
static void on_readable(int fd)
{
	struct conn *c = conns[fd];
	/* EXERCISE 2: read into the free end of the client's buffer, then send */
	ssize_t n = recv(fd, c->buf + c->len, BUF_SIZE - c->len, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return; /* nothing after all: a spurious wake-up */
	if (n < 0) {
		warn("recv from %s:", c->who);
		drop_client(fd);
		return;
	}
	if (n == 0)
		c->eof = 1; /* flush_output() drops it once nothing is left */
	c->len += (size_t)n;
	flush_output(fd); /* most of the time the kernel takes it all now */
	/* END EXERCISE 2 */
}

/* Accept the clients waiting in the backlog, each one non-blocking. */
static void accept_clients(void)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		char who[SL_ADDRSTRLEN];
		/* accept4() with SOCK_NONBLOCK: the new socket is non-blocking
		 * from the start, no fcntl() needed. */
		int fd = accept4(listener, (struct sockaddr *)&peer, &peerlen, SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EAGAIN: none left, the usual way out. After a stop
			 * signal: EINVAL, the handler shut the listener down. */
			if (errno != EAGAIN && errno != EWOULDBLOCK && !stop_requested)
				warn("accept:");
			if (errno == EMFILE || errno == ENFILE)
				turn_away_one();
			return;
		}
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
			snprintf(who, sizeof(who), "(unknown address)");
		/* EXERCISE 3: refuse a client whose fd does not fit in an fd_set */
		if (fd >= fd_limit) {
			/* It cannot go into an fd_set: refuse it, cleanly. */
			printf("refusing client %s: its fd %d is not below %ld (FD_SETSIZE is %d)\n",
			       who, fd, fd_limit, FD_SETSIZE);
			close(fd);
			continue;
		}
		/* END EXERCISE 3 */
		conns[fd] = calloc(1, sizeof(struct conn));
		if (conns[fd] == NULL) {
			warn("calloc:");
			close(fd);
			continue;
		}
		memcpy(conns[fd]->who, who, sizeof(who));
		if (fd > top)
			top = fd;
		printf("client %s (fd %d) connected\n", who, fd);
	}
}

/* accept() failed with EMFILE: no descriptor left for the new client. It
 * stays in the backlog, so the listener stays readable, and select() would
 * return at once, forever: 100% CPU doing nothing. The reserve: close the
 * spare descriptor we kept for this moment, accept the client into it and
 * close it at once (the client reads end of file), then take the spare
 * back. */
static void turn_away_one(void)
{
	/* EXERCISE 4: out of descriptors: turn one waiting client away */
	int fd;

	if (spare >= 0)
		close(spare);
	fd = accept(listener, NULL, NULL);
	if (fd >= 0) {
		printf("out of descriptors: turned a client away\n");
		close(fd);
	}
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* END EXERCISE 4 */
}

static void drop_client(int fd)
{
	struct conn *c = conns[fd];

	printf("client %s (fd %d) disconnected (%lld bytes echoed)\n", c->who, fd, c->echoed);
	close(fd);
	free(c);
	conns[fd] = NULL;
	while (top >= 0 && conns[top] == NULL)
		top--;
}

/* ---- Plumbing: the command line --------------------------------------- */

static void parse_options(int argc, char **argv)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&port, "port to listen on (default 0: any free port)"),
		{ 0, "max-fd", OPT_NUMBER, &fd_limit, "N",
		  "refuse a connection whose fd is >= N\n(default and most: FD_SETSIZE)",
		  .what = "fd limit", .min = 1, .max = FD_SETSIZE },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The echo server as a select() loop (lesson 08): one thread serves\n"
			 "every client, each with its own output buffer.",
		.opts = options,
	});
}
