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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"

#define BACKLOG 64
#define BUF_SIZE 16384      /* each connection's output buffer */
#define ACCEPTS_PER_ROUND 64 /* so a flood of new clients cannot starve the old */

/* One client. What it sent and we have not yet sent back is
 * buf[start..end): reading appends at end, sending takes from start. */
struct conn {
	char who[SL_ADDRSTRLEN];
	size_t start, end;
	int eof;                 /* the client has shut down its sending side */
	long long echoed;
	char buf[BUF_SIZE];
};

struct server {
	int listener;
	int spare;               /* the reserve descriptor, or -1 */
	int max_fd;              /* accepted fds must be below this */
	int top;                 /* highest fd in conns[], or -1 */
	struct conn *conns[FD_SETSIZE]; /* indexed by fd */
};

/* Set by the SIGINT/SIGTERM handler, which also shuts the listener down
 * (lesson 02's trick): a listener that is shut down is readable, so a
 * select() that starts after the signal returns at once instead of
 * sleeping until the next client. */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t listener_fd = -1;

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [--max-fd N]\n"
	       "The echo server as a select() loop (lesson 08): one thread serves\n"
	       "every client, each with its own output buffer.\n"
	       "\n"
	       "  -b, --bind ADDR    address to listen on (default %s)\n"
	       "  -p, --port PORT    port to listen on (default 0: any free port)\n"
	       "      --max-fd N     refuse a connection whose fd is >= N\n"
	       "                     (default and most: FD_SETSIZE, %d)\n"
	       "  -h, --help         show this help\n",
	       DEFAULT_HOST, FD_SETSIZE);
}

struct options {
	const char *host;
	const char *port;
	int max_fd;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_MAX_FD = 256 };
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "max-fd", required_argument, NULL, OPT_MAX_FD },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->max_fd = FD_SETSIZE;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS, longopts, NULL)) != -1) {
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
		case OPT_MAX_FD:
			opt->max_fd = (int)opt_number(optarg, "fd limit", 1, FD_SETSIZE);
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
	int saved = errno;

	(void)sig;
	stop_requested = 1;
	if (listener_fd >= 0)
		shutdown(listener_fd, SHUT_RDWR);
	errno = saved;
}

static void install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a waiting select() returns EINTR */
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- one connection ------------------------------------------------------------ */

static int wants_read(const struct conn *c)
{
	return !c->eof && c->end < BUF_SIZE;
}

static int wants_write(const struct conn *c)
{
	return c->start < c->end;
}

static void drop_client(struct server *s, int fd)
{
	struct conn *c = s->conns[fd];

	printf("client %s (fd %d) disconnected (%lld bytes echoed)\n", c->who, fd, c->echoed);
	close(fd);
	free(c);
	s->conns[fd] = NULL;
	while (s->top >= 0 && s->conns[s->top] == NULL)
		s->top--;
}

/* Send what is buffered, as much as the kernel takes now. Returns -1 when
 * the connection is over (dropped), else 0. */
static int flush_output(struct server *s, int fd)
{
	struct conn *c = s->conns[fd];

	/* EXERCISE 2: send what is buffered, as much as the kernel takes now */
	while (wants_write(c)) {
		ssize_t n = send(fd, c->buf + c->start, c->end - c->start, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break; /* the kernel's buffer is full: select() says when */
			if (errno == EINTR)
				continue;
			warn("send to %s:", c->who);
			drop_client(s, fd);
			return -1;
		}
		c->start += (size_t)n;
		c->echoed += n;
	}
	if (c->start == c->end) {
		c->start = c->end = 0; /* empty: the whole buffer is free again */
	} else if (c->start > 0) {
		/* A short send: move the rest to the front, so that the room
		 * for reading is always at the end. */
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->eof && !wants_write(c)) {
		drop_client(s, fd); /* all echoed, and the client said it is done */
		return -1;
	}
	return 0;
	/* END EXERCISE 2 */
}

static void on_readable(struct server *s, int fd)
{
	struct conn *c = s->conns[fd];
	/* EXERCISE 2: read into the free end of the client's buffer, then send */
	ssize_t n = recv(fd, c->buf + c->end, BUF_SIZE - c->end, 0);

	if (n > 0) {
		c->end += (size_t)n;
		flush_output(s, fd); /* most of the time the kernel takes it all now */
		return;
	}
	if (n == 0) {
		c->eof = 1;
		flush_output(s, fd); /* drops the client once nothing is left */
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return; /* nothing after all: a spurious wake-up */
	warn("recv from %s:", c->who);
	drop_client(s, fd);
	/* END EXERCISE 2 */
}

/* ---- accepting ------------------------------------------------------------------ */

/* accept() failed with EMFILE: no descriptor left for the new client. It
 * stays in the backlog, so the listener stays readable, and select() would
 * return at once, forever: 100% CPU doing nothing. The reserve: close the
 * spare descriptor we kept for this moment, accept the client into it and
 * close it at once (the client reads end of file), then take the spare
 * back. */
static void turn_away_one(struct server *s)
{
	int fd;

	/* EXERCISE 4: out of descriptors: turn one waiting client away */
	if (s->spare >= 0) {
		close(s->spare);
		s->spare = -1;
	}
	fd = accept(s->listener, NULL, NULL);
	if (fd >= 0) {
		printf("out of descriptors: turned a client away\n");
		close(fd);
	}
	s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* END EXERCISE 4 */
}

static void accept_clients(struct server *s)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		struct conn *c;
		int fd;

		fd = accept(s->listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* none left: the usual way out */
			if (stop_requested)
				return; /* the handler shut the listener down (EINVAL) */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				warn("accept:");
				turn_away_one(s);
				return;
			}
			warn("accept:");
			return;
		}
		c = malloc(sizeof(*c));
		if (c == NULL) {
			warn("malloc:");
			close(fd);
			continue;
		}
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, c->who, sizeof(c->who)) == NULL)
			snprintf(c->who, sizeof(c->who), "(unknown address)");
		/* EXERCISE 3: refuse a client whose fd does not fit in an fd_set */
		if (fd >= s->max_fd) {
			/* It cannot go into an fd_set: refuse it, cleanly. */
			printf("refusing client %s: its fd %d is not below %d (FD_SETSIZE is %d)\n",
			       c->who, fd, s->max_fd, FD_SETSIZE);
			free(c);
			close(fd);
			continue;
		}
		/* END EXERCISE 3 */
		if (set_nonblocking(fd) < 0) {
			warn("fcntl O_NONBLOCK:");
			free(c);
			close(fd);
			continue;
		}
		c->start = c->end = 0;
		c->eof = 0;
		c->echoed = 0;
		s->conns[fd] = c;
		if (fd > s->top)
			s->top = fd;
		printf("client %s (fd %d) connected\n", c->who, fd);
	}
}

/* ---- the loop -------------------------------------------------------------------- */

static int serve(struct server *s)
{
	while (!stop_requested) {
		fd_set rd, wr;
		int maxfd = s->listener, n;

		/* The sets are rebuilt before every call: select() overwrites
		 * them with the answer. */
		/* EXERCISE 1: ask for the listener, and for each client what it wants */
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_SET(s->listener, &rd);
		for (int fd = 0; fd <= s->top; fd++) {
			struct conn *c = s->conns[fd];

			if (c == NULL)
				continue;
			if (wants_read(c))
				FD_SET(fd, &rd); /* room in its buffer: read more */
			if (wants_write(c))
				FD_SET(fd, &wr); /* bytes to send back */
			if (fd > maxfd)
				maxfd = fd;
		}
		/* END EXERCISE 1 */

		/* No timeout: sleep until a descriptor is ready. A stop signal
		 * interrupts it (EINTR), or, if it came before this call, left
		 * the listener shut down and readable. */
		n = select(maxfd + 1, &rd, &wr, NULL, NULL);
		if (n < 0) {
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
		for (int fd = 0; fd <= s->top; fd++) {
			if (s->conns[fd] != NULL && FD_ISSET(fd, &wr))
				if (flush_output(s, fd) < 0)
					continue; /* dropped: its read bit means nothing now */
			if (s->conns[fd] != NULL && FD_ISSET(fd, &rd))
				on_readable(s, fd);
		}
		if (FD_ISSET(s->listener, &rd))
			accept_clients(s);
		/* END EXERCISE 1 */
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct options opt;
	struct server *s;
	int status;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		die("calloc:");
	s->top = -1;
	s->max_fd = opt.max_fd;
	s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->spare < 0)
		die("open /dev/null:");
	s->listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, NULL, NULL, err);
	if (s->listener < 0)
		die("%s", err);
	if (s->listener >= s->max_fd)
		die("the listener's fd %d is not below the limit %d", s->listener, s->max_fd);
	/* Non-blocking: a client that resets between select() and accept()
	 * is gone from the backlog, and a blocking accept() would then wait
	 * for the next client while every other one waits for us. */
	if (set_nonblocking(s->listener) < 0)
		die("fcntl O_NONBLOCK:");
	listener_fd = s->listener;
	announce_listening(s->listener);

	status = serve(s);
	listener_fd = -1;

	for (int fd = 0; fd <= s->top; fd++)
		if (s->conns[fd] != NULL)
			drop_client(s, fd);
	close(s->listener);
	if (s->spare >= 0)
		close(s->spare);
	free(s);
	if (stop_requested)
		printf("stopping: signal received\n");
	return status;
}
