/* server.c — lesson 20: an HTTP/1.1 server a browser can use.
 *
 * What it shows: an application protocol on TCP. HTTP/1.1 is text lines on
 * a byte stream, and the server must find where each request ends in
 * whatever recv() returns: half a request line, or three pipelined
 * requests and the start of a fourth. It is lesson 10's event loop (epoll,
 * non-blocking sockets, output buffers) with a protocol on top:
 *  - each connection keeps the bytes it has received (c->in); the parser
 *    (common.c, a pure function) says "not complete yet", "a bad request,
 *    answer this status", or "a complete head of N bytes";
 *  - a body is framed by Content-Length, or sent in chunks
 *    (Transfer-Encoding: chunked) that the parser decodes in place;
 *  - one connection carries many requests (keep-alive), and a client may
 *    send the next before the answer to the last (pipelining): answers go
 *    out in order, one at a time, and "Connection: close" ends it;
 *  - files are served from a document root, never from outside it (the
 *    kernel resolves each path beneath the root: openat2 RESOLVE_BENEATH),
 *    with their type, size and date, and their bytes go from the page cache
 *    to the socket with sendfile(), never through this process;
 *  - every limit is a status: 400, 404, 405, 413, 414, 431, 501, 505;
 *  - a client gets -t seconds to send each complete request, so idle ones
 *    and a slowloris (a request one byte at a time) cannot hold a slot
 *    for ever, and -c caps how many are served at once.
 *
 * Notice when it runs: with -v, one line per request, and one "connected"
 * per connection: a browser opens several at once and sends many requests
 * on each.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"
#include "common.h"

#define MAX_EVENTS 256
#define ACCEPT_BATCH 64          /* accepted per wake-up, so a flood of new
				  * clients cannot starve the ones served */
#define ACCEPT_PAUSE_MS 100      /* out of descriptors: look again after */
#define BODY_MAX (64 * 1024)     /* the largest request body: more is 413 */
/* A head longer than HTTP_HEAD_MAX is refused, so a buffer of this size
 * that is full and holds no whole head is always one to refuse. */
#define IN_START (HTTP_HEAD_MAX + 512)
#define IN_MAX (IN_START + BODY_MAX)

enum state {
	READING,   /* waiting for the whole of the next request */
	SENDING,   /* an answer is going out (c->out, then c->file) */
	CLOSING,   /* the last answer is out; waiting for the client's FIN */
};

struct conn {
	int fd;
	enum state state;
	uint32_t events;         /* what epoll watches for it now */
	char *in;                /* received, not answered yet: in[0..in_len) */
	size_t in_len, in_cap;
	size_t req_len;          /* bytes of in the request being answered takes */
	struct http_chunked chunks; /* a chunked body, decoded as it comes */
	char *out;               /* the answer's head (and a small body) */
	size_t out_len, out_sent, out_cap;
	int file;                /* a file being sent with sendfile(), or -1 */
	off_t file_off, file_end;
	int keep_alive;          /* another request may follow this one */
	int minor;               /* the request's HTTP/1.minor */
	int head_only;           /* HEAD: the fields, not the body */
	int peer_done;           /* the client sent its FIN */
	int failed;              /* out of memory: close it */
	int status;              /* the answer's status and body length, */
	long long length;        /* for the log */
	long requests;
	long long deadline;      /* when it is closed unless it gets on */
	struct conn *older, *newer; /* every client, by deadline */
	char peer[SL_ADDRSTRLEN];
};

struct server {
	const char *host, *port, *root;
	long max_clients, timeout_s;
	int verbose;
	int listener, stop_fd, ep, root_fd;
	char root_real[PATH_MAX];
	long nclients;
	int accepting, emfile_said;
	long long retry_ms;      /* paused by EMFILE: try again then (0: no) */
	struct conn *oldest, *newest;
	long long now;           /* ms, read once per turn of the loop */
	time_t date_of;
	char date[32];           /* the Date field, made once a second */
	char scratch[16384];     /* where input after the last answer goes */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct server *s);
static void setup(struct server *s);
static int open_listener(const struct server *s);
static void run(struct server *s);
static int next_timeout(struct server *s);
static int close_idle(struct server *s);
static void accept_clients(struct server *s);
static void add_client(struct server *s, int fd);
static void on_client(struct server *s, struct conn *c, uint32_t ev);
static int read_input(struct server *s, struct conn *c);
static int advance(struct server *s, struct conn *c);
static int next_request(struct server *s, struct conn *c);
static int check_request(const struct http_request *rq, const char **why);
static int read_body(struct conn *c, const struct http_request *rq, size_t head,
		     char **body, size_t *len, int *refuse);
static int wants_keep_alive(const struct http_request *rq);
static void route(struct server *s, struct conn *c, const struct http_request *rq,
		  const char *body, size_t len);
static void get_file(struct server *s, struct conn *c, const struct http_request *rq,
		     const char *path);
static int open_under_root(const struct server *s, const char *path);
static void serve_file(struct server *s, struct conn *c, const struct http_request *rq,
		       int fd, const char *path);
static void post_echo(struct server *s, struct conn *c, const struct http_request *rq,
		      const char *body, size_t len);
static void show_headers(struct server *s, struct conn *c, const struct http_request *rq);
static void start_response(struct server *s, struct conn *c, int status, const char *type,
			   long long length, const char *extra);
static void send_text(struct server *s, struct conn *c, int status, const char *type,
		      const char *body, size_t len);
static void send_error(struct server *s, struct conn *c, int status, const char *why,
		       const char *allow);
static void reject(struct server *s, struct conn *c, int status, const char *why);
static int send_output(struct server *s, struct conn *c);
static void response_sent(struct server *s, struct conn *c);
static void start_closing(struct server *s, struct conn *c);
static void close_client(struct server *s, struct conn *c, const char *why);
static void stop_accepting(struct server *s, long long retry_ms);
static void resume_accepting(struct server *s);
static void touch(struct server *s, struct conn *c);
static uint32_t wanted_events(const struct conn *c);
static int watch(struct server *s, int fd, void *data, uint32_t events);
static int rewatch(struct server *s, struct conn *c, uint32_t events);
static void out_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_append(struct conn *c, const void *data, size_t len);
static int grow_input(struct conn *c, size_t cap);
static void drop_input(struct conn *c, size_t n);
static void log_request(const struct server *s, const struct conn *c,
			const struct http_request *rq);
static int open_checked(const struct server *s, const char *rel, int flags);
static const char *content_type(const char *path);
static long long now_ms(void);
static void update_date(struct server *s);
static void open_root(struct server *s);
static void raise_fd_limit(long clients);
static void cleanup(struct server *s);

int main(int argc, char **argv)
{
	static struct server s; /* static: its buffers stay off the stack */

	parse_options(argc, argv, &s);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */
	setup(&s);
	announce_listening(s.listener);
	if (s.verbose >= 1)
		printf("serving %s, at most %ld clients, %ld s to send each request\n",
		       s.root_real, s.max_clients, s.timeout_s);
	run(&s);
	printf("stopping: signal received\n");
	cleanup(&s);
	return EXIT_OK;
}

/* ---- setup and the loop ------------------------------------------------------- */

static void setup(struct server *s)
{
	open_root(s);
	raise_fd_limit(s->max_clients);
	s->listener = open_listener(s);
	s->stop_fd = stop_pipe(); /* readable on SIGINT or SIGTERM */
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		die("epoll_create1:");
	/* The listener and the stop pipe have no conn: their events carry
	 * the address of their fd's number in the server, to tell them apart. */
	if (watch(s, s->listener, &s->listener, EPOLLIN) < 0 ||
	    watch(s, s->stop_fd, &s->stop_fd, EPOLLIN) < 0)
		die("epoll_ctl ADD:");
	s->accepting = 1;
	s->now = now_ms();
	update_date(s);
}

static int open_listener(const struct server *s)
{
	/* EXERCISE 1: listen on the address and port asked for, non-blocking */
	char err[SL_ERR_LEN];
	int fd = sl_tcp_listen(s->host, s->port, SOMAXCONN, NULL, NULL, err);

	if (fd < 0)
		die("%s", err);
	/* Non-blocking: accept() on an empty queue says EAGAIN. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	return fd;
	/* END EXERCISE 1 */
}

static void run(struct server *s)
{
	struct epoll_event events[MAX_EVENTS];

	while (!stop_requested) {
		int n = epoll_wait(s->ep, events, MAX_EVENTS, next_timeout(s));

		if (n < 0) {
			if (errno == EINTR)
				continue; /* a signal: the loop looks at stop_requested */
			die("epoll_wait:");
		}
		s->now = now_ms();
		update_date(s);
		for (int i = 0; i < n; i++) {
			void *who = events[i].data.ptr;

			if (who == &s->listener)
				accept_clients(s);
			else if (who != &s->stop_fd) /* the stop pipe: the loop ends */
				on_client(s, who, events[i].events);
		}
	}
}

/* How long epoll_wait() may sleep: until the next client's deadline, or
 * the listener's retry after EMFILE, whichever comes first (-1: no end). */
static int next_timeout(struct server *s)
{
	int ms;

	s->now = now_ms();
	if (s->retry_ms != 0 && s->now >= s->retry_ms)
		resume_accepting(s);
	ms = close_idle(s);
	if (s->retry_ms != 0 && (ms < 0 || s->retry_ms - s->now < ms))
		ms = (int)(s->retry_ms - s->now);
	return ms;
}

/* Close every client whose deadline has passed, and say how long until
 * the next one's: the list is in deadline order, so only its head needs
 * looking at, however many clients there are. A client's deadline is
 * -t seconds after it connected, or after it last got on: got an answer,
 * or took some of one. Bytes alone do not count: a slowloris, sending
 * one byte at a time, never finishes a request, and is closed. */
static int close_idle(struct server *s)
{
	/* EXERCISE 7: close the clients whose time is up; say when the next one's is */
	long long left;

	while (s->oldest != NULL && s->oldest->deadline <= s->now)
		close_client(s, s->oldest, "timed out");
	if (s->oldest == NULL)
		return -1;
	left = s->oldest->deadline - s->now;
	return left < INT_MAX ? (int)left : INT_MAX;
	/* END EXERCISE 7 */
}

/* ---- new clients ------------------------------------------------------------------ */

static void accept_clients(struct server *s)
{
	/* EXERCISE 7: accept the waiting clients, up to the cap */
	for (int i = 0; i < ACCEPT_BATCH && s->nclients < s->max_clients; i++) {
		/* accept4 makes the new socket non-blocking in the same call. */
		int fd = accept4(s->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* no one else is waiting */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Lesson 10: the listener stays readable, so
				 * stop watching it for a while, or spin. */
				if (!s->emfile_said)
					warn("accept: %s: not accepting for %d ms",
					     strerror(errno), ACCEPT_PAUSE_MS);
				s->emfile_said = 1;
				stop_accepting(s, s->now + ACCEPT_PAUSE_MS);
				return;
			}
			die("accept:");
		}
		s->emfile_said = 0;
		add_client(s, fd);
	}
	/* At the cap, the next clients wait in the listen backlog (their
	 * handshake done by the kernel) until one of these leaves. */
	if (s->nclients >= s->max_clients)
		stop_accepting(s, 0);
	/* END EXERCISE 7 */
}

static void add_client(struct server *s, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL) {
		warn("calloc:");
		close(fd);
		return;
	}
	c->fd = fd;
	c->file = -1;
	c->state = READING;
	/* An answer's last bytes go out at once, not held back by Nagle's
	 * rule (lesson 19) waiting for the ACK of the one before. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (watch(s, fd, c, EPOLLIN | EPOLLRDHUP) < 0) {
		warn("epoll_ctl ADD:");
		close(fd);
		free(c);
		return;
	}
	c->events = EPOLLIN | EPOLLRDHUP;
	s->nclients++;
	touch(s, c);
	if (s->verbose >= 1) {
		sl_addr_peer(fd, c->peer, sizeof(c->peer));
		printf("client %s connected (fd %d, %ld clients)\n", c->peer, fd, s->nclients);
	}
}

/* ---- a client's events --------------------------------------------------------------- */

static void on_client(struct server *s, struct conn *c, uint32_t ev)
{
	if (ev & EPOLLERR) {
		close_client(s, c, "connection reset");
		return;
	}
	if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && read_input(s, c) < 0) {
		close_client(s, c, strerror(errno));
		return;
	}
	if (advance(s, c) < 0) {
		close_client(s, c, c->failed ? "out of memory" : strerror(errno));
		return;
	}
	/* The client has left, and has every answer it asked for. */
	if (c->peer_done && c->state != SENDING) {
		close_client(s, c, NULL);
		return;
	}
	if (rewatch(s, c, wanted_events(c)) < 0)
		close_client(s, c, "epoll_ctl failed");
}

/* One recv() of what the client sent (level-triggered: if more is waiting,
 * epoll says so again), into c->in; once the last answer is out, into a
 * scratch buffer, to be dropped. Returns 0, or -1 on an error. */
static int read_input(struct server *s, struct conn *c)
{
	char *to = s->scratch;
	size_t room = sizeof(s->scratch);
	ssize_t n;

	if (c->state != CLOSING) {
		if (c->in == NULL && grow_input(c, IN_START) < 0)
			return -1;
		to = c->in + c->in_len;
		room = c->in_cap - c->in_len;
		if (room == 0)
			return 0; /* full: read on once an answer is out */
	}
	n = recv(c->fd, to, room, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (s->verbose >= 2)
		printf("fd %d: recv %zd bytes%s\n", c->fd, n, n == 0 ? " (end of file)" : "");
	if (n == 0)
		c->peer_done = 1;
	else if (c->state != CLOSING)
		c->in_len += (size_t)n;
	return 0;
}

/* Move the connection on as far as it goes without waiting: send what is
 * pending; once an answer is all out, go on to the next request, which
 * may be in c->in already (pipelined). Returns 0, or -1 to close it. */
static int advance(struct server *s, struct conn *c)
{
	for (;;) {
		if (c->failed) {
			errno = ENOMEM;
			return -1;
		}
		if (c->state == SENDING) {
			if (send_output(s, c) < 0)
				return -1;
			if (c->state == SENDING)
				return 0; /* the rest when EPOLLOUT says there is room */
			response_sent(s, c);
		} else if (c->state == READING) {
			if (next_request(s, c) == 0)
				return 0; /* the rest of the request is still on its way */
		} else {
			return 0; /* CLOSING: waiting for the client's FIN */
		}
	}
}

/* ---- a request ------------------------------------------------------------------------ */

/* The next request, if all of it is in c->in: parse it and answer it.
 * Returns 1 when an answer is on its way (c->state is SENDING), 0 when
 * more bytes must come first. */
static int next_request(struct server *s, struct conn *c)
{
	struct http_request rq;
	const char *why = NULL;
	char *body = NULL;
	size_t len = 0;
	long head;
	int status, r = 1;

	if (c->in_len == 0)
		return 0;
	/* The whole head, every time: the parser keeps no state, and a head
	 * is a few hundred bytes. */
	head = http_parse_request(c->in, c->in_len, &rq);
	if (head == 0 && c->in_len == c->in_cap) {
		/* Full, and no head in it: only empty lines (the parser skips
		 * them, then waits). */
		reject(s, c, 431, "the head is longer than this server takes");
		return 1;
	}
	if (head == 0)
		return 0;
	if (head < 0) {
		reject(s, c, rq.status, rq.error);
		log_request(s, c, &rq);
		return 1;
	}
	status = check_request(&rq, &why);
	if (status == 0)
		r = read_body(c, &rq, (size_t)head, &body, &len, &status);
	if (r == 0)
		return 0; /* the body is still on its way */
	if (r < 0)
		why = status == 413 ? "the body is larger than this server takes"
				    : "the body's chunks are not chunked syntax";
	if (status != 0) {
		reject(s, c, status, why);
		log_request(s, c, &rq);
		return 1;
	}
	c->keep_alive = wants_keep_alive(&rq);
	c->minor = rq.minor;
	c->head_only = strcmp(rq.method, "HEAD") == 0;
	route(s, c, &rq, body, len);
	log_request(s, c, &rq);
	return 1;
}

/* What this server will not take, although the parser could read it: the
 * status to answer (and *why), or 0. */
static int check_request(const struct http_request *rq, const char **why)
{
	/* EXERCISE 9: refuse what this server does not do, each with its status */
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
					     "OPTIONS", "PATCH", "TRACE", "CONNECT" };
	int is_known = 0;

	/* HTTP/1.1 names the site it asks (one server may host many). */
	if ((rq->minor >= 1 && rq->h.hosts == 0) || rq->h.hosts > 1) {
		*why = "HTTP/1.1 needs one Host field";
		return 400;
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		is_known |= strcmp(rq->method, known[i]) == 0;
	if (!is_known) {
		*why = "no such method here";
		return 501;
	}
	/* A coding we cannot undo: we cannot tell where the body ends. */
	if (rq->h.other_coding) {
		*why = "only the chunked transfer coding is understood";
		return 501;
	}
	if (rq->h.content_length > BODY_MAX) {
		*why = "the body is larger than this server takes";
		return 413;
	}
	return 0;
	/* END EXERCISE 9 */
}

/* The request's body, when all of it is here: returns 1 with *body and
 * *len (the data) and c->req_len (head and body as sent), 0 when more must
 * come, -1 with *refuse (the status) when it cannot be read. */
static int read_body(struct conn *c, const struct http_request *rq, size_t head,
		     char **body, size_t *len, int *refuse)
{
	/* EXERCISE 8: wait for the whole body: Content-Length bytes, or every chunk */
	int r;

	*body = c->in + head;
	if (rq->h.chunked) {
		/* Decoded in place, from where the last call stopped. */
		r = http_chunked_decode(c->in + head, c->in_len - head, &c->chunks);
		if (r < 0) {
			*refuse = 400;
			return -1;
		}
		if (r == 0) {
			if (c->in_len < c->in_cap)
				return 0;
			/* Full: room for more, up to the limit. */
			if (c->in_cap >= IN_MAX || grow_input(c, c->in_cap * 2) < 0) {
				*refuse = 413;
				return -1;
			}
			return 0;
		}
		*len = c->chunks.data;
		c->req_len = head + c->chunks.used;
		return 1;
	}
	*len = rq->h.content_length > 0 ? (size_t)rq->h.content_length : 0;
	c->req_len = head + *len;
	if (c->in_len >= c->req_len)
		return 1;
	if (c->req_len > IN_MAX || grow_input(c, c->req_len) < 0) {
		*refuse = 413;
		return -1;
	}
	return 0;
	/* END EXERCISE 8 */
}

/* Does the client want the connection kept for another request? */
static int wants_keep_alive(const struct http_request *rq)
{
	/* EXERCISE 6: keep the connection open unless the client says otherwise */
	/* HTTP/1.1 keeps it unless told "Connection: close"; HTTP/1.0
	 * closes it unless told "Connection: keep-alive". */
	if (rq->h.close)
		return 0;
	return rq->minor >= 1 || rq->h.keep_alive;
	/* END EXERCISE 6 */
}

/* ---- answers ---------------------------------------------------------------------------- */

/* Two paths of the server's own, and files for every other. */
static void route(struct server *s, struct conn *c, const struct http_request *rq,
		  const char *body, size_t len)
{
	char path[HTTP_TARGET_MAX + 1];
	int get = strcmp(rq->method, "GET") == 0 || c->head_only;

	if (http_decode_path(rq->target, path, sizeof(path)) < 0)
		send_error(s, c, 400, "that path names no file here", NULL);
	else if (strcmp(path, "/echo") == 0 && strcmp(rq->method, "POST") == 0)
		post_echo(s, c, rq, body, len);
	else if (strcmp(path, "/echo") == 0)
		send_error(s, c, 405, "/echo takes a POST", "POST");
	else if (strcmp(path, "/headers") == 0 && get)
		show_headers(s, c, rq);
	else if (!get)
		send_error(s, c, 405, "files take GET and HEAD", "GET, HEAD");
	else
		get_file(s, c, rq, path);
}

static void get_file(struct server *s, struct conn *c, const struct http_request *rq,
		     const char *path)
{
	int fd = open_under_root(s, path);

	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			send_error(s, c, 403, "that file may not be read", NULL);
		else
			send_error(s, c, 404, "no such file", NULL);
		return;
	}
	serve_file(s, c, rq, fd, path);
}

/* Open the file that path (decoded, starting with '/') names under the
 * document root, and never one outside it: the kernel resolves the path
 * beneath the root's descriptor and refuses any step out (a "..", an
 * absolute symlink, a symlink to ../../etc) with EXDEV. A path ending in
 * '/' means that folder's index.html. Returns the fd, or -1 with errno. */
static int open_under_root(const struct server *s, const char *path)
{
	/* EXERCISE 3: open the file a path names, and never one outside the root */
	char rel[HTTP_TARGET_MAX + sizeof("index.html")];
	size_t n = strlen(path);
	const char *inside = path + strspn(path, "/");
	/* O_NONBLOCK: a FIFO in the root must not stop the whole server in
	 * open(), waiting for a writer. */
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	/* "/img/a.png" is img/a.png in the root; "/" is index.html. */
	snprintf(rel, sizeof(rel), "%s%s", inside, path[n - 1] == '/' ? "index.html" : "");
	fd = (int)syscall(SYS_openat2, s->root_fd, rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = open_checked(s, rel, (int)how.flags); /* a kernel before 5.6 */
	return fd;
	/* END EXERCISE 3 */
}

/* Answer with the file open on fd: its type, size and date in the head,
 * its bytes by sendfile() (send_output() sends them). */
static void serve_file(struct server *s, struct conn *c, const struct http_request *rq,
		       int fd, const char *path)
{
	/* EXERCISE 5: answer with the file: its type, size and date; the bytes by sendfile() */
	const struct http_field *since = http_find_field(&rq->h, "If-Modified-Since");
	char date[32], extra[HTTP_TARGET_MAX + 32];
	struct stat st;
	int found = fstat(fd, &st) == 0;
	time_t t;

	if (!found || !S_ISREG(st.st_mode)) {
		close(fd);
		if (found && S_ISDIR(st.st_mode)) {
			/* "/img" is a folder: its links are relative to "/img/". */
			snprintf(extra, sizeof(extra), "Location: %.*s/\r\n",
				 (int)strcspn(rq->target, "?"), rq->target);
			start_response(s, c, 301, NULL, 0, extra);
		} else {
			send_error(s, c, 404, "not a file", NULL);
		}
		return;
	}
	http_format_date(st.st_mtime, date, sizeof(date));
	snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n", date);
	/* The client has this version already: say so, without the body. */
	if (since != NULL && http_parse_date(since->value, since->value_len, &t) == 0 &&
	    st.st_mtime <= t) {
		close(fd);
		start_response(s, c, 304, NULL, -1, extra);
		return;
	}
	start_response(s, c, 200, content_type(path), (long long)st.st_size, extra);
	if (c->head_only || st.st_size == 0) {
		close(fd);
		return;
	}
	c->file = fd;
	c->file_off = 0;
	c->file_end = st.st_size;
	/* END EXERCISE 5 */
}

/* POST /echo: the body back, as it came (decoded, if it came in chunks). */
static void post_echo(struct server *s, struct conn *c, const struct http_request *rq,
		      const char *body, size_t len)
{
	const struct http_field *f = http_find_field(&rq->h, "Content-Type");
	char type[128];

	snprintf(type, sizeof(type), "%.*s", f != NULL ? (int)f->value_len : 24,
		 f != NULL ? f->value : "application/octet-stream");
	send_text(s, c, 200, type, body, len);
}

/* GET /headers: the header fields as the parser saw them, one a line. */
static void show_headers(struct server *s, struct conn *c, const struct http_request *rq)
{
	size_t total = 0;

	for (int i = 0; i < rq->h.count; i++)
		total += rq->h.list[i].name_len + 2 + rq->h.list[i].value_len + 1;
	start_response(s, c, 200, "text/plain; charset=utf-8", (long long)total, NULL);
	for (int i = 0; i < rq->h.count && !c->head_only; i++) {
		const struct http_field *f = &rq->h.list[i];

		out_append(c, f->name, f->name_len);
		out_append(c, ": ", 2);
		out_append(c, f->value, f->value_len);
		out_append(c, "\n", 1);
	}
}

/* The status line and the fields every answer has, into c's output; the
 * connection is SENDING from now on. length < 0: no Content-Length (a 304
 * has no body). extra: more fields, each ending in CRLF, or NULL. */
static void start_response(struct server *s, struct conn *c, int status, const char *type,
			   long long length, const char *extra)
{
	/* EXERCISE 1: write the status line and the header fields, then the empty line */
	out_printf(c, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	out_printf(c, "Date: %s\r\nServer: socklab-lesson-20\r\n", s->date);
	if (type != NULL)
		out_printf(c, "Content-Type: %s\r\n", type);
	if (length >= 0)
		out_printf(c, "Content-Length: %lld\r\n", length);
	if (extra != NULL)
		out_printf(c, "%s", extra);
	if (!c->keep_alive)
		out_printf(c, "Connection: close\r\n");
	else if (c->minor == 0)
		out_printf(c, "Connection: keep-alive\r\n"); /* not the default in 1.0 */
	out_printf(c, "\r\n");
	c->status = status;
	c->length = length;
	c->state = SENDING;
	/* END EXERCISE 1 */
}

static void send_text(struct server *s, struct conn *c, int status, const char *type,
		      const char *body, size_t len)
{
	start_response(s, c, status, type, (long long)len, NULL);
	if (!c->head_only)
		out_append(c, body, len);
}

/* An answer saying what went wrong, as a line of text. allow: the methods
 * a 405 names. */
static void send_error(struct server *s, struct conn *c, int status, const char *why,
		       const char *allow)
{
	char body[256], extra[64];
	int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, http_reason(status), why);

	if (allow != NULL)
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
	start_response(s, c, status, "text/plain; charset=utf-8", n, allow != NULL ? extra : NULL);
	if (!c->head_only)
		out_append(c, body, (size_t)n);
}

/* A request that cannot be taken. Its body was not read, or its head was
 * not even whole, so nothing says where a next request would start:
 * answer, then close. */
static void reject(struct server *s, struct conn *c, int status, const char *why)
{
	c->keep_alive = 0;
	c->head_only = 0;
	c->req_len = c->in_len;
	send_error(s, c, status, why, NULL);
}

/* ---- sending ------------------------------------------------------------------------------- */

/* Send what the kernel takes now: the head, then the file. Returns 0 (the
 * answer is out: c->state is no longer SENDING; or EAGAIN: the rest waits
 * for EPOLLOUT), or -1 on an error. */
static int send_output(struct server *s, struct conn *c)
{
	while (c->out_sent < c->out_len) {
		/* MSG_MORE: a file follows, so the head may wait for its
		 * first bytes and share a segment with them. */
		ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
				 MSG_NOSIGNAL | (c->file >= 0 ? MSG_MORE : 0));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		if (s->verbose >= 2)
			printf("fd %d: send %zd bytes\n", c->fd, n);
		c->out_sent += (size_t)n;
		touch(s, c);
	}
	/* EXERCISE 5: send the file from the page cache: sendfile(), until EAGAIN or the end */
	while (c->file >= 0 && c->file_off < c->file_end) {
		ssize_t n = sendfile(c->fd, c->file, &c->file_off,
				     (size_t)(c->file_end - c->file_off));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		if (n == 0) {
			errno = EIO; /* the file got shorter under us */
			return -1;
		}
		if (s->verbose >= 2)
			printf("fd %d: sendfile %zd bytes\n", c->fd, n);
		touch(s, c);
	}
	/* END EXERCISE 5 */
	if (c->file >= 0)
		close(c->file);
	c->file = -1;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_sent = c->out_cap = 0;
	c->state = READING;
	return 0;
}

/* The whole answer is out. */
static void response_sent(struct server *s, struct conn *c)
{
	/* EXERCISE 6: drop the request, then wait for the next one, or close */
	drop_input(c, c->req_len);
	c->req_len = 0;
	c->requests++;
	if (!c->keep_alive) {
		start_closing(s, c);
		return;
	}
	/* The next request may be in c->in already: advance() looks. */
	c->state = READING;
	touch(s, c);
	/* END EXERCISE 6 */
}

/* No more requests on this connection. Closing at once would be rude:
 * if the client has sent more (pipelined requests), its bytes, unread,
 * would make our close() send an RST, and the RST may destroy the answer
 * still on its way. So: our FIN first, then read and drop whatever comes
 * until the client's FIN (or its deadline). */
static void start_closing(struct server *s, struct conn *c)
{
	c->state = CLOSING;
	shutdown(c->fd, SHUT_WR);
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	touch(s, c);
}

static void close_client(struct server *s, struct conn *c, const char *why)
{
	if (s->verbose >= 1)
		printf("client %s disconnected (%ld request%s%s%s)\n", c->peer, c->requests,
		       c->requests == 1 ? "" : "s", why != NULL ? ", " : "", why != NULL ? why : "");
	/* close() also takes the fd out of the epoll interest list. */
	close(c->fd);
	if (c->file >= 0)
		close(c->file);
	free(c->in);
	free(c->out);
	if (c->older != NULL)
		c->older->newer = c->newer;
	else
		s->oldest = c->newer;
	if (c->newer != NULL)
		c->newer->older = c->older;
	else
		s->newest = c->older;
	free(c);
	s->nclients--;
	if (!s->accepting && s->nclients < s->max_clients)
		resume_accepting(s); /* a slot, and a descriptor, are free again */
}

/* ---- the listener, deadlines, the interest list ------------------------------------------ */

/* Stop watching the listener: the clients wait in its backlog. retry_ms:
 * when to look again (0: when a client leaves). */
static void stop_accepting(struct server *s, long long retry_ms)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &s->listener };

	if (s->accepting && epoll_ctl(s->ep, EPOLL_CTL_MOD, s->listener, &ev) < 0)
		die("epoll_ctl MOD listener:");
	s->accepting = 0;
	s->retry_ms = retry_ms;
}

static void resume_accepting(struct server *s)
{
	/* MOD makes epoll look at the listener now: clients that queued
	 * meanwhile produce an event at once. */
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->listener };

	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, s->listener, &ev) < 0)
		die("epoll_ctl MOD listener:");
	s->accepting = 1;
	s->retry_ms = 0;
}

/* The client got on: its deadline is the timeout from now, the latest of
 * all, so it goes to the end of the list, which stays in order. */
static void touch(struct server *s, struct conn *c)
{
	c->deadline = s->now + s->timeout_s * 1000;
	if (s->newest == c)
		return;
	if (c->older != NULL || s->oldest == c) { /* in the list: take it out */
		if (c->older != NULL)
			c->older->newer = c->newer;
		else
			s->oldest = c->newer;
		c->newer->older = c->older;
	}
	c->older = s->newest;
	c->newer = NULL;
	if (s->newest != NULL)
		s->newest->newer = c;
	else
		s->oldest = c;
	s->newest = c;
}

/* What epoll should watch a client for now: input while there is room
 * for it (or after our last answer, to see the FIN), output while an
 * answer is going out. */
static uint32_t wanted_events(const struct conn *c)
{
	uint32_t ev = 0;

	if (!c->peer_done && (c->state == CLOSING || c->in == NULL || c->in_len < c->in_cap))
		ev |= EPOLLIN | EPOLLRDHUP;
	if (c->state == SENDING)
		ev |= EPOLLOUT;
	return ev;
}

static int watch(struct server *s, int fd, void *data, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = data };

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Change what a client is watched for, only when it differs: epoll_ctl is
 * a system call, and this runs for every request. */
static int rewatch(struct server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return 0;
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -1;
	c->events = events;
	return 0;
}

/* ---- the buffers ---------------------------------------------------------------------------- */

/* Append to the output, which grows by doubling (a head is a few
 * hundred bytes: one allocation); out of memory, the connection closes. */
static void out_append(struct conn *c, const void *data, size_t len)
{
	if (c->failed || len == 0)
		return;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap > 0 ? c->out_cap : 512;
		char *grown;

		while (cap < c->out_len + len)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (grown == NULL) {
			c->failed = 1;
			return;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static int grow_input(struct conn *c, size_t cap)
{
	char *grown;

	if (cap <= c->in_cap)
		return 0;
	if (cap > IN_MAX)
		cap = IN_MAX;
	grown = realloc(c->in, cap);
	if (grown == NULL)
		return -1;
	c->in = grown;
	c->in_cap = cap;
	return 0;
}

/* The first n bytes are answered: what follows moves to the front. An
 * empty buffer is given back, so an idle client costs no buffer. */
static void drop_input(struct conn *c, size_t n)
{
	memset(&c->chunks, 0, sizeof(c->chunks));
	if (n < c->in_len) {
		memmove(c->in, c->in + n, c->in_len - n);
		c->in_len -= n;
	} else {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
	}
}

/* ---- Plumbing: formatting, the log, the fallback open, types, time, the root, the command line ---- */

static void out_printf(struct conn *c, const char *fmt, ...)
{
	char line[HTTP_TARGET_MAX + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		c->failed = 1;
	else
		out_append(c, line, (size_t)n);
}

/* -v: one line per request, as web servers log them. */
static void log_request(const struct server *s, const struct conn *c,
			const struct http_request *rq)
{
	if (s->verbose < 1)
		return;
	if (rq->method[0] == '\0')
		printf("%s \"-\" %d %lld\n", c->peer, c->status, c->length);
	else
		printf("%s \"%s %s HTTP/1.%d\" %d %lld\n", c->peer, rq->method, rq->target,
		       rq->minor, c->status, c->length);
}

/* Where openat2() is missing: resolve the whole path (symlinks too) with
 * realpath(), and open it only if it is still under the root's own. */
static int open_checked(const struct server *s, const char *rel, int flags)
{
	char full[PATH_MAX], real[PATH_MAX];
	size_t n = strlen(s->root_real);

	if (snprintf(full, sizeof(full), "%s/%s", s->root_real, rel) >= (int)sizeof(full)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (realpath(full, real) == NULL)
		return -1;
	if (strncmp(real, s->root_real, n) != 0 || (real[n] != '/' && real[n] != '\0')) {
		errno = EXDEV;
		return -1;
	}
	return open(real, flags);
}

static const char *content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".htm", "text/html; charset=utf-8" },
		{ ".css", "text/css" }, { ".js", "text/javascript" },
		{ ".json", "application/json" }, { ".txt", "text/plain; charset=utf-8" },
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" }, { ".svg", "image/svg+xml" }, { ".ico", "image/x-icon" },
		{ ".webp", "image/webp" }, { ".pdf", "application/pdf" },
	};
	const char *dot = strrchr(path, '.');
	size_t n = strlen(path);

	if (n > 0 && path[n - 1] == '/')
		return types[0].type; /* a folder's index.html */
	for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void update_date(struct server *s)
{
	time_t t = time(NULL);

	if (t != s->date_of) {
		s->date_of = t;
		http_format_date(t, s->date, sizeof(s->date));
	}
}

/* The document root: -r, or the lesson's www folder, which make puts
 * beside this program (and which is in lessons/20-http/ when run from the
 * top of the tree). */
static void open_root(struct server *s)
{
	char exe[PATH_MAX], beside[PATH_MAX + 8];
	ssize_t n;

	if (s->root == NULL) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		if (strrchr(exe, '/') != NULL)
			*strrchr(exe, '/') = '\0';
		snprintf(beside, sizeof(beside), "%s/www", exe);
		s->root = access(beside, F_OK) == 0 ? beside : "lessons/20-http/www";
	}
	if (realpath(s->root, s->root_real) == NULL)
		die("document root %s:", s->root);
	s->root_fd = open(s->root_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		die("document root %s:", s->root_real);
	s->root = s->root_real;
}

/* Every client is a descriptor: room for the cap, as far as the hard
 * limit allows. */
static void raise_fd_limit(long clients)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)clients + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void cleanup(struct server *s)
{
	while (s->oldest != NULL)
		close_client(s, s->oldest, "server stopping");
	close(s->ep);
	close(s->listener);
	close(s->root_fd);
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct server *s)
{
	const struct lesson_opt options[] = {
		OPT_LISTEN(&s->host, &s->port),
		{ 'r', "root", OPT_STRING, &s->root, "DIR",
		  "the document root (default: the lesson's www folder)", .what = "root" },
		{ 'c', "max-clients", OPT_NUMBER, &s->max_clients, "N",
		  "serve at most N clients at once; more wait (default 1024)",
		  .what = "client count", .min = 1, .max = 1000000 },
		{ 't', "timeout", OPT_NUMBER, &s->timeout_s, "SECONDS",
		  "close a client that sends no complete request for this long\n"
		  "(default 10)", .what = "timeout", .min = 1, .max = 3600 },
		{ 'v', "verbose", OPT_COUNT, &s->verbose,
		  .help = "print clients and requests; twice (-vv): every recv and send" },
		{ 0 }
	};

	s->host = DEFAULT_HOST;
	s->port = "0";
	s->max_clients = 1024;
	s->timeout_s = 10;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "An HTTP/1.1 server (lesson 20): files from a document root, POST /echo,\n"
			 "GET /headers; keep-alive and pipelining, on one epoll loop.",
		.opts = options,
	});
}
