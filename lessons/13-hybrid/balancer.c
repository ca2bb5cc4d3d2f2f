/* balancer.c — lesson 13: a round-robin TCP load balancer.
 *
 * What it shows: the other way to spread clients — over several servers,
 * possibly on several machines. The balancer accepts a client, picks the
 * next backend in turn (round robin), connects to it, and from then on
 * copies bytes both ways: client -> backend and backend -> client. It is
 * an event loop like lesson 10's, but every client is a *pair* of
 * sockets, with a buffer for each direction:
 *  - back-pressure: when a direction's buffer is full, we stop reading
 *    from its source until the destination has taken some; a slow reader
 *    on one side slows the writer on the other, and memory stays bounded;
 *  - half-close: when the client sends FIN (recv() returns 0), we pass it
 *    on with shutdown(SHUT_WR) once its buffer is empty, and keep copying
 *    the other way (an echo client's FIN must reach the echo server, whose
 *    last bytes must still come back);
 *  - failure: the connect to a backend is non-blocking; when it fails
 *    (refused, or no answer within the timeout) that backend is marked
 *    down for a while and the next one is tried; when every backend fails,
 *    the client is closed. A client whose backend dies mid-connection is
 *    closed too, once what the backend sent has been delivered: its state
 *    lived in that backend.
 *
 * Notice when it runs with -v: "client ... -> backend ..." lines, taking
 * the backends in turn; kill one backend and watch new clients skip it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
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

#define MAX_BACKENDS 16
#define MAX_EVENTS 256
#define BUF_CAP (16 * 1024)       /* per direction, per client */
#define CONNECT_TIMEOUT_MS 2000
#define DOWN_FOR_MS 2000          /* skip a failed backend this long */
#define ACCEPT_PAUSE_MS 100       /* after EMFILE, as in lesson 10 */

struct backend {
	char name[SL_ADDRSTRLEN];     /* its address, as sl_addr_format writes it */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	long long down_until;         /* ms; 0 = believed up */
	long clients;
};

struct pair;

/* One socket of a pair; epoll's data.ptr points here. */
struct end {
	struct pair *pair;            /* NULL for the listener and the signalfd */
	int fd;
	int is_backend;
	uint32_t events;
	int eof;                      /* recv() returned 0: nothing more from it */
	int shut;                     /* we sent it our FIN (shutdown SHUT_WR) */
};

/* Bytes on their way from one end to the other. */
struct pipebuf {
	char data[BUF_CAP];
	size_t start, end;
};

struct pair {
	struct end client, backend;
	struct pipebuf up;            /* client -> backend */
	struct pipebuf down;          /* backend -> client */
	int connecting;               /* backend connect() in progress */
	int backend_index, attempts;
	long long connect_deadline;
	int closed;                   /* freed after the current batch */
	char who[SL_ADDRSTRLEN];
	struct pair *prev, *next;
};

struct balancer {
	int ep, listener, sigfd;
	int verbose;
	struct end listener_end, signal_end;
	struct backend backends[MAX_BACKENDS];
	int nbackends, next_backend;
	struct pair *pairs;
	struct pair *dead;            /* closed this batch, to free after it */
	int accept_paused;
	long long resume_ms;
	int stop;
};

struct options {
	const char *host;
	const char *port;
	const char *backends[MAX_BACKENDS];
	int nbackends;
	int verbose;
};

static void usage(void)
{
	printf("usage: balancer [-b ADDR] [-p PORT] -B HOST:PORT [-B HOST:PORT...] [-v]\n"
	       "A round-robin TCP load balancer (lesson 13): each client is connected\n"
	       "to the next backend in turn, and bytes are copied both ways.\n"
	       "\n"
	       "  -b, --bind ADDR          address to listen on (default %s)\n"
	       "  -p, --port PORT          port to listen on (default 0: any free port)\n"
	       "  -B, --backend HOST:PORT  a backend server (1 to %d; [v6addr]:PORT)\n"
	       "  -v, --verbose            print clients, backends chosen and failures\n"
	       "  -h, --help               show this help\n",
	       DEFAULT_HOST, MAX_BACKENDS);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "backend", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "B:v", longopts, NULL)) != -1) {
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
		case 'B':
			if (opt->nbackends == MAX_BACKENDS)
				usage_error("too many backends: at most %d", MAX_BACKENDS);
			opt->backends[opt->nbackends++] = optarg;
			break;
		case 'v':
			opt->verbose = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->nbackends == 0)
		usage_error("give at least one backend with -B HOST:PORT");
}

/* "host:port" or "[v6]:port" -> a resolved address, checked up front so a
 * typo is a usage error, not a failure at the first client. */
static void parse_backend(const char *arg, struct backend *b)
{
	char host[256];
	const char *colon = strrchr(arg, ':');
	const char *h = arg;
	size_t hlen;
	uint16_t port;
	struct addrinfo hints, *res;
	int rc;

	if (colon == NULL || colon == arg)
		usage_error("bad backend '%s': expected HOST:PORT", arg);
	hlen = (size_t)(colon - arg);
	if (arg[0] == '[' && hlen >= 2 && arg[hlen - 1] == ']') {
		h = arg + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		usage_error("bad backend '%s': host name too long", arg);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (sl_port_parse(colon + 1, &port) < 0 || port == 0)
		usage_error("bad backend port '%s': expected a number from 1 to 65535",
			    colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0)
		usage_error("bad backend '%s': %s", arg,
			    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
	b->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (sl_addr_format((struct sockaddr *)&b->addr, b->addrlen, b->name,
			   sizeof(b->name)) == NULL)
		snprintf(b->name, sizeof(b->name), "%.100s:%u", host, port);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t buffered(const struct pipebuf *p)
{
	return p->end - p->start;
}

/* ---- the interest list ------------------------------------------------------ */

static int set_events(struct balancer *lb, struct end *e, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (op == EPOLL_CTL_MOD && events == e->events)
		return 0;
	if (epoll_ctl(lb->ep, op, e->fd, &ev) < 0)
		return -1;
	e->events = events;
	return 0;
}

/* What each end should be watched for, from the state of both buffers:
 * read from an end while the buffer it fills has room and it has not
 * finished; write to it while the buffer it drains holds something. */
static int update_events(struct balancer *lb, struct pair *p)
{
	uint32_t cev = 0, bev = 0;

	if (p->connecting) {
		bev = EPOLLOUT; /* writable = the handshake is over */
	} else {
		/* EXERCISE 4: back-pressure: watch each end only for what the buffers allow */
		if (!p->client.eof && buffered(&p->up) < BUF_CAP)
			cev |= EPOLLIN;
		if (buffered(&p->down) > 0)
			cev |= EPOLLOUT;
		if (!p->backend.eof && buffered(&p->down) < BUF_CAP)
			bev |= EPOLLIN;
		if (buffered(&p->up) > 0)
			bev |= EPOLLOUT;
		/* END EXERCISE 4 */
	}
	if (set_events(lb, &p->client, cev, EPOLL_CTL_MOD) < 0 ||
	    set_events(lb, &p->backend, bev, EPOLL_CTL_MOD) < 0)
		return -1;
	return 0;
}

/* ---- pairs --------------------------------------------------------------------- */

/* Close both sockets now; free the memory after this epoll batch, since
 * an event for the other socket of the pair may still be in it. */
static void close_pair(struct balancer *lb, struct pair *p, const char *why)
{
	if (p->closed)
		return;
	if (lb->verbose)
		printf("client %s closed%s%s\n", p->who, why ? ": " : "", why ? why : "");
	close(p->client.fd);
	if (p->backend.fd >= 0)
		close(p->backend.fd);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		lb->pairs = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->closed = 1;
	p->next = lb->dead;
	lb->dead = p;
	if (lb->accept_paused)
		lb->resume_ms = 0; /* descriptors are free again */
}

/* The next backend in turn that is not marked down; if all are down, the
 * next one anyway (it may be back by now). */
static int pick_backend(struct balancer *lb)
{
	/* EXERCISE 3: round robin: the next backend in turn that is not down */
	long long now = now_ms();
	int i = lb->next_backend;

	for (int k = 0; k < lb->nbackends; k++) {
		int j = (lb->next_backend + k) % lb->nbackends;

		if (lb->backends[j].down_until <= now) {
			i = j;
			break;
		}
	}
	lb->next_backend = (i + 1) % lb->nbackends;
	return i;
	/* END EXERCISE 3 */
}

/* Start a non-blocking connect to the chosen backend. Returns 0 when it
 * is under way, -1 with errno when it failed at once. */
static int connect_backend(struct balancer *lb, struct pair *p)
{
	struct backend *b = &lb->backends[p->backend_index];
	int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int saved;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&b->addr, b->addrlen) < 0 && errno != EINPROGRESS)
		goto fail;
	p->backend.fd = fd;
	p->backend.events = 0;
	p->connecting = 1;
	p->connect_deadline = now_ms() + CONNECT_TIMEOUT_MS;
	if (set_events(lb, &p->backend, EPOLLOUT, EPOLL_CTL_ADD) < 0) {
		p->backend.fd = -1;
		p->connecting = 0;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void mark_down(struct balancer *lb, int i, int err)
{
	struct backend *b = &lb->backends[i];

	if (b->down_until <= now_ms())
		fprintf(stderr, "balancer: backend %s is down (%s): skipping it for %d ms\n",
			b->name, strerror(err), DOWN_FOR_MS);
	b->down_until = now_ms() + DOWN_FOR_MS;
}

/* Try backends, starting with the next in turn, until a connect is under
 * way; close the client when every one has failed. */
static void try_backends(struct balancer *lb, struct pair *p)
{
	while (p->attempts < lb->nbackends) {
		p->backend_index = pick_backend(lb);
		p->attempts++;
		if (connect_backend(lb, p) == 0)
			return;
		mark_down(lb, p->backend_index, errno);
	}
	close_pair(lb, p, "no backend available");
}

/* The backend's connect() finished, one way or the other. */
static void on_connected(struct balancer *lb, struct pair *p, int timed_out)
{
	struct backend *b = &lb->backends[p->backend_index];
	int err = 0;
	socklen_t len = sizeof(err);

	if (timed_out)
		err = ETIMEDOUT;
	else if (getsockopt(p->backend.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	/* EXERCISE 3: the connect failed: mark that backend down, try the next */
	if (err != 0) {
		/* Give up on this backend for now, and try the next one. */
		close(p->backend.fd);
		p->backend.fd = -1;
		p->connecting = 0;
		mark_down(lb, p->backend_index, err);
		try_backends(lb, p);
		return;
	}
	/* END EXERCISE 3 */
	p->connecting = 0;
	b->down_until = 0;
	b->clients++;
	if (lb->verbose)
		printf("client %s -> backend %s\n", p->who, b->name);
	if (update_events(lb, p) < 0)
		close_pair(lb, p, "epoll_ctl failed");
}

/* Move bytes from src into buf. Returns -1 when src failed. */
static int fill(struct end *src, struct pipebuf *buf)
{
	ssize_t n;

	if (buf->start == buf->end)
		buf->start = buf->end = 0;
	if (buf->end == BUF_CAP) {
		memmove(buf->data, buf->data + buf->start, buffered(buf));
		buf->end -= buf->start;
		buf->start = 0;
	}
	n = recv(src->fd, buf->data + buf->end, BUF_CAP - buf->end, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0)
		src->eof = 1;
	buf->end += (size_t)n;
	return 0;
}

/* Move bytes from buf to dst; pass src's FIN on once buf is empty.
 * Returns -1 when dst failed. */
static int drain(struct pipebuf *buf, struct end *dst, const struct end *src)
{
	while (buffered(buf) > 0) {
		ssize_t n = send(dst->fd, buf->data + buf->start, buffered(buf), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf->start += (size_t)n;
	}
	if (src->eof && buffered(buf) == 0 && !dst->shut) {
		if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)
			return -1;
		dst->shut = 1;
	}
	return 0;
}

static const char *failed(const struct end *e)
{
	return e->is_backend ? "the backend failed" : "the client failed";
}

static void on_pair_event(struct balancer *lb, struct end *e, uint32_t ev)
{
	struct pair *p = e->pair;
	struct end *other = e->is_backend ? &p->client : &p->backend;
	struct pipebuf *from_e = e->is_backend ? &p->down : &p->up; /* e fills it */
	struct pipebuf *to_e = e->is_backend ? &p->up : &p->down;   /* e drains it */

	if (p->closed)
		return;
	if (e->is_backend && p->connecting) {
		on_connected(lb, p, 0);
		return;
	}
	if (ev & EPOLLERR) {
		close_pair(lb, p, failed(e));
		return;
	}
	if ((ev & (EPOLLIN | EPOLLHUP)) && !e->eof) {
		if (fill(e, from_e) < 0) {
			close_pair(lb, p, failed(e));
			return;
		}
		/* Forward at once; EPOLLOUT takes over for what does not fit. */
		if (drain(from_e, other, e) < 0) {
			close_pair(lb, p, failed(other));
			return;
		}
	}
	if ((ev & EPOLLOUT) && drain(to_e, e, other) < 0) {
		close_pair(lb, p, failed(e));
		return;
	}
	/* The backend has finished and everything it sent is delivered:
	 * the client is done with. Normally the client finished first (an
	 * echo client sends its FIN, we pass it on, the echo server
	 * closes); if not, the backend went away mid-conversation, taking
	 * the client's state with it, so the client is closed too. */
	if (p->backend.eof && buffered(&p->down) == 0) {
		close_pair(lb, p, p->client.eof ? NULL : "the backend closed the connection");
		return;
	}
	if (update_events(lb, p) < 0)
		close_pair(lb, p, "epoll_ctl failed");
}

static void accept_clients(struct balancer *lb)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(lb->listener, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct pair *p;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE and the like: the client stays queued. Stop
			 * watching the listener for a while, or this
			 * level-triggered loop would spin on it. */
			warn("accept:");
			if (set_events(lb, &lb->listener_end, 0, EPOLL_CTL_MOD) < 0)
				die("epoll_ctl MOD:");
			lb->accept_paused = 1;
			lb->resume_ms = now_ms() + ACCEPT_PAUSE_MS;
			return;
		}
		p = calloc(1, sizeof(*p));
		if (p == NULL) {
			warn("calloc:");
			close(fd);
			continue;
		}
		p->client = (struct end){ .pair = p, .fd = fd, .is_backend = 0 };
		p->backend = (struct end){ .pair = p, .fd = -1, .is_backend = 1 };
		if (sl_addr_format((struct sockaddr *)&peer, len, p->who, sizeof(p->who)) == NULL)
			snprintf(p->who, sizeof(p->who), "(fd %d)", fd);
		/* Watched for nothing until its backend is connected. */
		if (set_events(lb, &p->client, 0, EPOLL_CTL_ADD) < 0) {
			warn("epoll_ctl ADD:");
			close(fd);
			free(p);
			continue;
		}
		p->next = lb->pairs;
		if (lb->pairs != NULL)
			lb->pairs->prev = p;
		lb->pairs = p;
		try_backends(lb, p);
	}
}

/* A backend that answers neither yes nor no (a host that is down, a
 * firewall dropping the SYN) would take minutes to fail by itself. */
static void check_connect_timeouts(struct balancer *lb)
{
	long long now = now_ms();

	for (struct pair *p = lb->pairs, *next; p != NULL; p = next) {
		next = p->next;
		if (p->connecting && now >= p->connect_deadline)
			on_connected(lb, p, 1);
	}
}

static void free_dead(struct balancer *lb)
{
	while (lb->dead != NULL) {
		struct pair *p = lb->dead;

		lb->dead = p->next;
		free(p);
	}
}

static void run(struct balancer *lb)
{
	struct epoll_event events[MAX_EVENTS];

	while (!lb->stop) {
		/* While clients exist, wake up at least every 250 ms to
		 * notice connect timeouts. */
		int timeout = lb->pairs != NULL ? 250 : -1;
		int n;

		if (lb->accept_paused) {
			long long left = lb->resume_ms - now_ms();

			timeout = left <= 0 ? 0 : left < 250 ? (int)left : 250;
		}
		n = epoll_wait(lb->ep, events, MAX_EVENTS, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait:");
		}
		for (int i = 0; i < n; i++) {
			struct end *e = events[i].data.ptr;

			if (e == &lb->listener_end)
				accept_clients(lb);
			else if (e == &lb->signal_end)
				lb->stop = 1;
			else
				on_pair_event(lb, e, events[i].events);
		}
		check_connect_timeouts(lb);
		free_dead(lb);
		if (lb->accept_paused && now_ms() >= lb->resume_ms) {
			if (set_events(lb, &lb->listener_end, EPOLLIN, EPOLL_CTL_MOD) < 0)
				die("epoll_ctl MOD:");
			lb->accept_paused = 0;
		}
	}
}

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

int main(int argc, char **argv)
{
	static struct balancer lb;
	struct options opt;
	char err[SL_ERR_LEN];

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < opt.nbackends; i++)
		parse_backend(opt.backends[i], &lb.backends[i]);
	lb.nbackends = opt.nbackends;
	lb.verbose = opt.verbose;
	lb.sigfd = open_signalfd();
	lb.listener = sl_tcp_listen(opt.host, opt.port, SOMAXCONN, NULL, NULL, err);
	if (lb.listener < 0)
		die("%s", err);
	if (fcntl(lb.listener, F_SETFL, fcntl(lb.listener, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	lb.ep = epoll_create1(EPOLL_CLOEXEC);
	if (lb.ep < 0)
		die("epoll_create1:");
	lb.listener_end.fd = lb.listener;
	lb.signal_end.fd = lb.sigfd;
	if (set_events(&lb, &lb.listener_end, EPOLLIN, EPOLL_CTL_ADD) < 0 ||
	    set_events(&lb, &lb.signal_end, EPOLLIN, EPOLL_CTL_ADD) < 0)
		die("epoll_ctl ADD:");
	announce_listening(lb.listener);
	for (int i = 0; i < lb.nbackends; i++)
		printf("backend %d: %s\n", i + 1, lb.backends[i].name);
	run(&lb);
	printf("stopping: signal received\n");
	for (int i = 0; i < lb.nbackends; i++)
		printf("backend %s: %ld clients\n", lb.backends[i].name, lb.backends[i].clients);
	while (lb.pairs != NULL)
		close_pair(&lb, lb.pairs, "balancer stopping");
	free_dead(&lb);
	close(lb.ep);
	close(lb.listener);
	close(lb.sigfd);
	return EXIT_OK;
}
