/* loadgen.c — a closed-loop load generator for the echo servers (and for
 * redis-server, as a reference).
 *
 * What it does: opens -c connections to 127.0.0.1:PORT and keeps exactly
 * one request outstanding on each: send a message, wait for the whole
 * reply, check it byte for byte, send the next (each message is random
 * bytes with one newline, at the end). That is a *closed* loop:
 * the offered load adapts to the server, so the rate measured is what the
 * server (plus this client) can do, and the latency is a round trip under
 * that load. After a warm-up (-w), it counts for -d seconds (or -n
 * messages) and reports:
 *   - messages per second;
 *   - p50, p99 and max latency, from a histogram (log-linear buckets, about
 *     3% wide) that costs the same memory for ten messages or ten million;
 *   - fairness: the fewest and most replies any one connection got (a
 *     connection that got none was starved);
 *   - its own CPU time (getrusage), so a reader can tell whether the
 *     generator or the server was the limit.
 * Any reply byte that differs from what was sent, or a connection the
 * server closes, ends the run with exit status 1.
 *
 * It has its own event loop (epoll, level-triggered, non-blocking sockets),
 * so one thread drives 10,000 connections; RLIMIT_NOFILE is raised as far
 * as needed. With one connection there is nothing to multiplex: once
 * connected, the socket turns blocking and the loop is plain send() and
 * recv(), as in bench/pingpong, so the generator's own epoll_wait() per
 * message is not counted against the server at one connection. -i adds
 * connections that never send, as a server with many quiet clients has;
 * any byte or close on one of them ends the run. -m redis sends
 * "PING\r\n" and expects "+PONG\r\n". -m http sends "GET PATH HTTP/1.1"
 * (-u PATH) on keep-alive connections and reads each answer by its head
 * and Content-Length; every answer must be "200" with the body a first
 * request got before the run, byte for byte, and must not close the
 * connection.
 *
 * The last line of the report is "result key=value ...", for scripts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lesson/lesson.h"

#define MAX_CONNS 100000
#define MAX_SIZE (1024 * 1024)
#define MAX_EVENTS 512
/* Handshakes in flight at once while connecting: enough to be quick,
 * few enough not to overflow a server's accept queue. */
#define CONNECT_WINDOW 256
/* Messages differ from one to the next: there are PATTERN_SPAN of them
 * (fewer for big messages), each a different stretch of random bytes with
 * a newline at the end, so that a line-based echo server (lesson 06's
 * reads lines) echoes each message as soon as it is whole. */
#define PATTERN_SPAN 251
#define BIG_MESSAGE 4096
#define BIG_SPAN 7
#define READ_CHUNK (64 * 1024)

#define REDIS_REQUEST "PING\r\n"
#define REDIS_REPLY "+PONG\r\n"
/* HTTP: an answer's head must fit in this (a server's is a few hundred
 * bytes), and its body in HTTP_BODY_MAX. */
#define HTTP_HEAD_MAX 4096
#define HTTP_BODY_MAX (16 * 1024 * 1024)

/* ---- the latency histogram ------------------------------------------------------ */

/* Values (nanoseconds) below 2^SUB_BITS get a bucket each; above, every
 * power of two is cut into 2^SUB_BITS buckets, so a bucket is at most
 * 1/32 of its value wide. 2^40 ns is 18 minutes. */
#define SUB_BITS 5
#define SUB (1u << SUB_BITS)
#define MAX_EXP 40
#define NBUCKETS ((MAX_EXP - SUB_BITS + 1) * SUB + SUB)

struct histogram {
	uint64_t count[NBUCKETS];
	uint64_t total;
	uint64_t max;
};

static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	if (v >= (1ull << MAX_EXP))
		v = (1ull << MAX_EXP) - 1;
	e = 63u - (unsigned)__builtin_clzll(v);            /* v is in [2^e, 2^(e+1)) */
	return (e - SUB_BITS + 1) * SUB + (unsigned)((v >> (e - SUB_BITS)) & (SUB - 1));
}

/* The middle of a bucket: the value reported for it. */
static uint64_t bucket_value(unsigned b)
{
	unsigned e, sub;
	uint64_t lo, width;

	if (b < SUB)
		return b;
	e = b / SUB + SUB_BITS - 1;
	sub = b % SUB;
	width = 1ull << (e - SUB_BITS);
	lo = (1ull << e) + sub * width;
	return lo + width / 2;
}

static void hist_add(struct histogram *h, uint64_t v)
{
	h->count[bucket_of(v)]++;
	h->total++;
	if (v > h->max)
		h->max = v;
}

/* The value below which a fraction q of the samples lie. */
static uint64_t hist_quantile(const struct histogram *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->total + 0.5), seen = 0;

	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want) {
			uint64_t v = bucket_value(b);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- options --------------------------------------------------------------------- */

enum mode { MODE_ECHO, MODE_REDIS, MODE_HTTP };

struct options {
	const char *port;
	long conns;
	long idle;      /* more connections that never send (-i) */
	long size;
	double duration;   /* seconds measured; 0 = until count */
	long long count;   /* messages measured; 0 = until duration */
	double warmup;
	double connect_timeout;
	enum mode mode;
	const char *path;  /* -m http: the path asked for (-u) */
	const char *hook;
};

static void usage(void)
{
	printf("usage: loadgen -p PORT [-c CONNS] [-i IDLE] [-s BYTES] [-d SECONDS] [-n COUNT]\n"
	       "               [-w SECONDS] [-m echo|redis|http] [-u PATH] [-x COMMAND]\n"
	       "A closed-loop load generator: CONNS connections to 127.0.0.1:PORT, one\n"
	       "message outstanding on each, every reply checked byte for byte.\n"
	       "\n"
	       "  -p, --port PORT         the server's port (required)\n"
	       "  -c, --connections N     connections (1 to %d, default 1)\n"
	       "  -i, --idle N            also N connections that never send (default 0),\n"
	       "                          as a server with many quiet clients has\n"
	       "  -s, --size BYTES        echo message size (1 to %d, default 64)\n"
	       "  -d, --duration SECONDS  how long to measure (default 2; 0 with -n)\n"
	       "  -n, --count N           stop after N measured messages (default 0: no limit)\n"
	       "  -w, --warmup SECONDS    run unmeasured first (default 0.5)\n"
	       "  -T, --connect-timeout SECONDS  for all connections together (default 30)\n"
	       "  -m, --mode MODE         echo (default); redis: PING -> +PONG; http: GET PATH\n"
	       "                          on keep-alive connections, each answer a 200 with\n"
	       "                          the same body as a first GET before the run\n"
	       "  -u, --path PATH         the path -m http asks for (default /)\n"
	       "  -x, --hook COMMAND      run \"COMMAND start\" when measuring starts and\n"
	       "                          \"COMMAND end\" when it ends, before disconnecting\n"
	       "  -h, --help              show this help\n",
	       MAX_CONNS, MAX_SIZE);
}

static double opt_seconds(const char *arg, const char *what, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= 0 && v <= max))
		usage_error("bad %s '%s': expected seconds from 0 to %g", what, arg, max);
	return v;
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "connections", required_argument, NULL, 'c' },
		{ "idle", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "mode", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'u' },
		{ "hook", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	*opt = (struct options){ .port = NULL, .conns = 1, .idle = 0, .size = 64, .duration = 2,
				 .count = 0, .warmup = 0.5, .connect_timeout = 30,
				 .mode = MODE_ECHO, .path = "/", .hook = NULL };
	while ((c = getopt_long(argc, argv, ":hp:c:i:s:d:n:w:T:m:u:x:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'p':
			opt->port = opt_port(optarg);
			break;
		case 'c':
			opt->conns = opt_number(optarg, "connection count", 1, MAX_CONNS);
			break;
		case 'i':
			opt->idle = opt_number(optarg, "idle connection count", 0, MAX_CONNS);
			break;
		case 's':
			opt->size = opt_number(optarg, "size", 1, MAX_SIZE);
			break;
		case 'd':
			opt->duration = opt_seconds(optarg, "duration", 3600);
			break;
		case 'n':
			opt->count = opt_number(optarg, "count", 0, 1000000000000L);
			break;
		case 'w':
			opt->warmup = opt_seconds(optarg, "warm-up", 3600);
			break;
		case 'T':
			opt->connect_timeout = opt_seconds(optarg, "connect timeout", 3600);
			break;
		case 'm':
			if (strcmp(optarg, "echo") == 0)
				opt->mode = MODE_ECHO;
			else if (strcmp(optarg, "redis") == 0)
				opt->mode = MODE_REDIS;
			else if (strcmp(optarg, "http") == 0)
				opt->mode = MODE_HTTP;
			else
				usage_error("bad mode '%s': expected echo, redis or http", optarg);
			break;
		case 'u':
			if (optarg[0] != '/' || strlen(optarg) > 1024 || strpbrk(optarg, " \r\n") != NULL)
				usage_error("bad path '%s': expected /PATH, no spaces, at most 1024 bytes",
					    optarg);
			opt->path = optarg;
			break;
		case 'x':
			opt->hook = optarg;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->port == NULL)
		usage_error("give the server's port with -p PORT");
	if (strcmp(opt->port, "0") == 0)
		usage_error("bad port '0': a server's port is 1 to 65535");
	if (opt->duration == 0 && opt->count == 0)
		usage_error("give a duration (-d) or a count (-n)");
	if (opt->conns + opt->idle > MAX_CONNS)
		usage_error("%ld connections and %ld idle ones: at most %d in all",
			    opt->conns, opt->idle, MAX_CONNS);
}

/* ---- the generator ----------------------------------------------------------------- */

struct lconn {
	int fd;
	int connected;
	uint32_t events;       /* what epoll watches */
	uint32_t seq;          /* messages sent on this connection */
	size_t sent;           /* bytes of the current request written */
	size_t got;            /* bytes of the current reply checked */
	long long sent_at;     /* ns, when the current request went out */
	uint64_t replies;      /* replies counted while measuring */
	/* -m http: the answer being read */
	char *head;            /* its head so far (HTTP_HEAD_MAX bytes) */
	size_t head_len;
	int in_body;           /* the head is done: body_got of body_len */
	size_t body_got, body_len;
};

struct gen {
	const struct options *opt;
	int ep;
	struct sockaddr_in server;
	struct lconn *c;
	long opened, connected, inflight_connects;
	unsigned char *messages; /* span messages of msg_len bytes each */
	unsigned span;
	size_t msg_len;         /* request length */
	size_t reply_len;       /* expected reply length */
	char *http_request;     /* -m http: the request */
	unsigned char *ref_body; /* -m http: the body every answer must have */
	size_t ref_len;
	int measuring;
	int blocking;           /* one connection: blocking send/recv, no epoll */
	long long window_start, window_end;
	uint64_t measured;
	struct histogram hist;
	unsigned char buf[READ_CHUNK];
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		die("getrusage:");
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Each connection needs a descriptor: raise the soft limit up to the hard
 * one, and the hard one too when we may (root). */
static void raise_fd_limit(long conns)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit RLIMIT_NOFILE:");
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		struct rlimit want = { need, need };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
		die("%ld connections need %lu file descriptors; the hard limit is %lu "
		    "(raise it with ulimit -Hn as root)", conns, (unsigned long)need,
		    (unsigned long)rl.rlim_max);
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit RLIMIT_NOFILE:");
}

/* The request of message seq on connection i. */
static const unsigned char *request(const struct gen *g, long i, uint32_t seq)
{
	if (g->opt->mode == MODE_REDIS)
		return (const unsigned char *)REDIS_REQUEST;
	if (g->opt->mode == MODE_HTTP)
		return (const unsigned char *)g->http_request;
	return g->messages + ((unsigned long)i * 31u + seq * 17u) % g->span * g->msg_len;
}

static const unsigned char *expected_reply(const struct gen *g, long i, uint32_t seq)
{
	if (g->opt->mode == MODE_REDIS)
		return (const unsigned char *)REDIS_REPLY;
	return request(g, i, seq);
}

static void set_events(struct gen *g, long i, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)i };

	if (g->blocking || g->c[i].events == events)
		return;
	if (epoll_ctl(g->ep, EPOLL_CTL_MOD, g->c[i].fd, &ev) < 0)
		die("epoll_ctl MOD:");
	g->c[i].events = events;
}

/* Write what is left of the current request; watch for EPOLLOUT only
 * while some of it is still unsent. */
static void send_request(struct gen *g, long i)
{
	struct lconn *c = &g->c[i];
	const unsigned char *req = request(g, i, c->seq);

	while (c->sent < g->msg_len) {
		ssize_t n = send(c->fd, req + c->sent, g->msg_len - c->sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			die("connection %ld: send:", i);
		}
		c->sent += (size_t)n;
	}
	set_events(g, i, c->sent < g->msg_len ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void start_message(struct gen *g, long i)
{
	struct lconn *c = &g->c[i];

	c->sent = 0;
	c->got = 0;
	c->sent_at = now_ns();
	send_request(g, i);
}

/* Say exactly where a reply went wrong, and stop. */
static void mismatch(const struct gen *g, long i, size_t at, unsigned char got)
{
	const struct lconn *c = &g->c[i];
	size_t pos = c->got + at;

	die("connection %ld: reply %u differs at byte %zu: got 0x%02x, expected 0x%02x",
	    i, c->seq, pos, got, expected_reply(g, i, c->seq)[pos]);
}

static void on_reply_done(struct gen *g, long i)
{
	struct lconn *c = &g->c[i];
	long long now = now_ns();

	/* Only messages sent inside the window count, and no more than -n:
	 * one epoll_wait() may bring several replies past the count. */
	if (g->measuring && c->sent_at >= g->window_start &&
	    (g->opt->count == 0 || g->measured < (uint64_t)g->opt->count)) {
		hist_add(&g->hist, (uint64_t)(now - c->sent_at));
		c->replies++;
		g->measured++;
	}
	c->seq++;
	start_message(g, i);
}

static void on_http_bytes(struct gen *g, long i, const unsigned char *data, size_t n);

static void on_readable(struct gen *g, long i)
{
	struct lconn *c = &g->c[i];
	size_t want = g->reply_len - c->got;
	ssize_t n;

	if (g->opt->mode == MODE_HTTP) {
		n = recv(c->fd, g->buf, sizeof(g->buf), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			die("connection %ld: recv after %u replies:", i, c->seq);
		}
		if (n == 0)
			die("connection %ld: the server closed it after %u replies", i, c->seq);
		on_http_bytes(g, i, g->buf, (size_t)n);
		return;
	}

	if (want > sizeof(g->buf))
		want = sizeof(g->buf);
	n = recv(c->fd, g->buf, want, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		die("connection %ld: recv after %u replies:", i, c->seq);
	}
	if (n == 0)
		die("connection %ld: the server closed it after %u replies", i, c->seq);
	if (memcmp(g->buf, expected_reply(g, i, c->seq) + c->got, (size_t)n) != 0) {
		const unsigned char *want_bytes = expected_reply(g, i, c->seq) + c->got;

		for (ssize_t k = 0; k < n; k++)
			if (g->buf[k] != want_bytes[k])
				mismatch(g, i, (size_t)k, g->buf[k]);
	}
	c->got += (size_t)n;
	/* A reply cannot be complete before its request was sent: the echo
	 * of bytes not yet sent would have been a mismatch above. */
	if (c->got == g->reply_len)
		on_reply_done(g, i);
}

/* ---- HTTP answers ------------------------------------------------------------------------ */

/* The status and Content-Length of a complete head (NUL-terminated), and
 * whether it says "Connection: close"; -1 when it is not HTTP/1.x. */
static int parse_http_head(const char *head, int *status, long long *length, int *closes)
{
	*length = -1;
	*closes = 0;
	if (sscanf(head, "HTTP/1.%*1[01] %3d", status) != 1)
		return -1;
	for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			*length = strtoll(l + 17, NULL, 10);
		else if (strncasecmp(l + 2, "Connection:", 11) == 0 &&
			 strncasecmp(l + 13 + strspn(l + 13, " "), "close", 5) == 0)
			*closes = 1;
	}
	return 0;
}

/* Bytes of the answer on connection i: the head up to its empty line,
 * then Content-Length bytes, each compared with the reference body. */
static void on_http_bytes(struct gen *g, long i, const unsigned char *data, size_t n)
{
	struct lconn *c = &g->c[i];

	while (n > 0) {
		if (!c->in_body) {
			size_t room = HTTP_HEAD_MAX - 1 - c->head_len, take = n < room ? n : room;
			char *end;
			int status, closes;
			long long length;

			memcpy(c->head + c->head_len, data, take);
			c->head_len += take;
			c->head[c->head_len] = '\0';
			end = strstr(c->head, "\r\n\r\n");
			if (end == NULL) {
				if (c->head_len == HTTP_HEAD_MAX - 1)
					die("connection %ld: an answer's head longer than %d bytes", i,
					    HTTP_HEAD_MAX);
				return;
			}
			/* What was taken past the head is the body's start. */
			end += 4;
			take -= c->head_len - (size_t)(end - c->head);
			*end = '\0';
			if (parse_http_head(c->head, &status, &length, &closes) < 0 || status != 200 ||
			    closes || length != (long long)g->ref_len)
				die("connection %ld: answer %u is not 200 with the %zu bytes of the "
				    "first one and no close: %.*s", i, c->seq, g->ref_len,
				    (int)strcspn(c->head, "\r"), c->head);
			data += take;
			n -= take;
			c->in_body = 1;
			c->body_got = 0;
			c->body_len = (size_t)length;
		}
		if (c->in_body) {
			size_t take = n < c->body_len - c->body_got ? n : c->body_len - c->body_got;

			if (memcmp(data, g->ref_body + c->body_got, take) != 0)
				die("connection %ld: answer %u's body differs from the first one's", i,
				    c->seq);
			c->body_got += take;
			data += take;
			n -= take;
			if (c->body_got < c->body_len)
				return;
			if (n > 0)
				die("connection %ld: %zu bytes after answer %u, which nobody asked for",
				    i, n, c->seq);
			c->in_body = 0;
			c->head_len = 0;
			on_reply_done(g, i);
		}
	}
}

/* Before the run: GET the path once, on a connection of its own, and
 * keep its body: every answer in the run must be the same. */
static void fetch_reference(struct gen *g)
{
	char head[HTTP_HEAD_MAX], *end;
	size_t have = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status, closes;
	long long length;
	struct timeval tv = { .tv_sec = 10 };

	if (fd < 0)
		die("socket:");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&g->server, sizeof(g->server)) < 0)
		die("connect 127.0.0.1:%s:", g->opt->port);
	if (send(fd, g->http_request, g->msg_len, MSG_NOSIGNAL) != (ssize_t)g->msg_len)
		die("send:");
	for (;;) {
		ssize_t r = recv(fd, head + have, sizeof(head) - 1 - have, 0);

		if (r <= 0)
			die("the first GET %s got no whole head", g->opt->path);
		have += (size_t)r;
		head[have] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			break;
		if (have == sizeof(head) - 1)
			die("the first GET %s: a head longer than %d bytes", g->opt->path,
			    HTTP_HEAD_MAX);
	}
	end += 4;
	if (parse_http_head(head, &status, &length, &closes) < 0 || status != 200 || length < 0 ||
	    length > HTTP_BODY_MAX)
		die("the first GET %s: not a 200 with a Content-Length up to %d: %.*s",
		    g->opt->path, HTTP_BODY_MAX, (int)strcspn(head, "\r"), head);
	g->ref_len = (size_t)length;
	g->ref_body = malloc(g->ref_len + 1);
	if (g->ref_body == NULL)
		die("malloc:");
	have -= (size_t)(end - head);
	memcpy(g->ref_body, end, have < g->ref_len ? have : g->ref_len);
	while (have < g->ref_len) {
		ssize_t r = recv(fd, g->ref_body + have, g->ref_len - have, 0);

		if (r <= 0)
			die("the first GET %s: the body was cut short", g->opt->path);
		have += (size_t)r;
	}
	close(fd);
}

/* ---- connecting ---------------------------------------------------------------------- */

static void open_next(struct gen *g)
{
	long i = g->opened;
	struct lconn *c = &g->c[i];
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = (uint64_t)i };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket:");
	/* Small messages go out at once, never held back by Nagle's rule. */
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("setsockopt TCP_NODELAY:");
	if (connect(c->fd, (struct sockaddr *)&g->server, sizeof(g->server)) < 0 &&
	    errno != EINPROGRESS)
		die("connect 127.0.0.1:%s:", g->opt->port);
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl ADD:");
	c->events = EPOLLOUT;
	g->opened++;
	g->inflight_connects++;
}

/* The only connection: blocking from now on, with 100 ms timeouts on
 * send and recv so the run loop still sees its deadline when the server
 * goes quiet (a timed-out recv returns EAGAIN, which on_readable skips). */
static void go_blocking(struct gen *g, long i)
{
	struct timeval tick = { .tv_sec = 0, .tv_usec = 100000 };
	int fd = g->c[i].fd;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof(tick)) < 0)
		die("setsockopt SO_RCVTIMEO/SO_SNDTIMEO:");
	if (epoll_ctl(g->ep, EPOLL_CTL_DEL, fd, NULL) < 0)
		die("epoll_ctl DEL:");
	g->c[i].events = EPOLLIN; /* so send_request never asks epoll again */
	g->blocking = 1;
}

static void on_connected(struct gen *g, long i)
{
	struct lconn *c = &g->c[i];
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		die("getsockopt SO_ERROR:");
	if (err != 0) {
		errno = err;
		die("connect 127.0.0.1:%s (connection %ld):", g->opt->port, i);
	}
	c->connected = 1;
	g->connected++;
	g->inflight_connects--;
	if (i >= g->opt->conns) {
		/* An idle connection: it never sends, and hears nothing
		 * unless the server closes it (which ends the run). */
		set_events(g, i, EPOLLIN | EPOLLRDHUP);
		return;
	}
	if (g->opt->conns == 1 && g->opt->idle == 0)
		go_blocking(g, i);
	start_message(g, i);
}

static void handle_events(struct gen *g, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n;

	if (g->blocking) {
		/* One connection: wait in recv() itself (at most 100 ms). */
		if (g->c[0].sent < g->msg_len)
			send_request(g, 0);
		else
			on_readable(g, 0);
		return;
	}
	n = epoll_wait(g->ep, ev, MAX_EVENTS, timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return;
		die("epoll_wait:");
	}
	for (int k = 0; k < n; k++) {
		long i = (long)ev[k].data.u64;
		struct lconn *c = &g->c[i];

		if (!c->connected) {
			on_connected(g, i);
			continue;
		}
		if (i >= g->opt->conns)
			die("idle connection %ld: the server %s", i - g->opt->conns,
			    ev[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)
			    ? "closed it" : "sent bytes nobody asked for");
		if (ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			on_readable(g, i);
		if ((ev[k].events & EPOLLOUT) && c->sent < g->msg_len)
			send_request(g, i);
	}
}

static void connect_all(struct gen *g)
{
	long long deadline = now_ns() + (long long)(g->opt->connect_timeout * 1e9);

	long total = g->opt->conns + g->opt->idle;

	while (g->connected < total) {
		while (g->opened < total && g->inflight_connects < CONNECT_WINDOW)
			open_next(g);
		if (now_ns() > deadline)
			die("only %ld of %ld connections established after %g s",
			    g->connected, total, g->opt->connect_timeout);
		handle_events(g, 100);
	}
}

/* ---- the measured run ------------------------------------------------------------------- */

static void run_hook(const struct gen *g, const char *phase)
{
	char cmd[4096];
	int rc;

	if (g->opt->hook == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "%s %s", g->opt->hook, phase);
	rc = system(cmd);
	if (rc != 0)
		warn("hook '%s' exited with status %d", cmd, rc);
}

static int ms_until(long long t)
{
	long long left = t - now_ns();

	if (left <= 0)
		return 0;
	return (int)(left / 1000000 + 1);
}

static void run(struct gen *g, double *cpu_used)
{
	const struct options *opt = g->opt;
	long long warm_end = now_ns() + (long long)(opt->warmup * 1e9);
	double cpu0;

	while (now_ns() < warm_end)
		handle_events(g, ms_until(warm_end));

	run_hook(g, "start");
	cpu0 = cpu_seconds();
	g->window_start = now_ns();
	g->measuring = 1;
	for (;;) {
		long long end = opt->duration > 0
			? g->window_start + (long long)(opt->duration * 1e9) : 0;
		long long now = now_ns();

		if (end != 0 && now >= end)
			break;
		if (opt->count > 0 && g->measured >= (uint64_t)opt->count)
			break;
		handle_events(g, end != 0 ? ms_until(end) : 1000);
	}
	g->window_end = now_ns();
	g->measuring = 0;
	*cpu_used = cpu_seconds() - cpu0;
	run_hook(g, "end");
}

/* ---- the report -------------------------------------------------------------------------- */

static void print_time(const char *label, uint64_t ns)
{
	if (ns < 10000)
		printf("%s %.2f us", label, (double)ns / 1e3);
	else if (ns < 10000000)
		printf("%s %.0f us", label, (double)ns / 1e3);
	else
		printf("%s %.1f ms", label, (double)ns / 1e6);
}

static void report(const struct gen *g, double cpu)
{
	const struct options *opt = g->opt;
	double secs = (double)(g->window_end - g->window_start) / 1e9;
	double rate = secs > 0 ? (double)g->measured / secs : 0;
	uint64_t fewest = UINT64_MAX, most = 0;
	long starved = 0;

	for (long i = 0; i < opt->conns; i++) {
		uint64_t r = g->c[i].replies;

		fewest = r < fewest ? r : fewest;
		most = r > most ? r : most;
		starved += r == 0;
	}
	printf("loadgen: %ld connection%s to 127.0.0.1:%s%s, %s, %.1f s warm-up, %.2f s measured\n",
	       opt->conns, opt->conns == 1 ? "" : "s", opt->port,
	       opt->idle > 0 ? " (and idle ones)" : "",
	       opt->mode == MODE_REDIS ? "redis PING" : opt->mode == MODE_HTTP ? "HTTP GET" : "echo",
	       opt->warmup, secs);
	if (opt->mode == MODE_ECHO)
		printf("message    %zu bytes, every reply checked byte for byte\n", g->msg_len);
	if (opt->mode == MODE_HTTP)
		printf("request    GET %s, keep-alive; every answer a 200 with the same %zu-byte body\n",
		       opt->path, g->ref_len);
	printf("rate       %.0f messages/s (%llu messages)\n", rate,
	       (unsigned long long)g->measured);
	if (g->measured > 0) {
		print_time("latency   ", hist_quantile(&g->hist, 0.50));
		print_time(" p50,", hist_quantile(&g->hist, 0.99));
		print_time(" p99,", g->hist.max);
		printf(" max\n");
	}
	printf("fairness   fewest %llu, most %llu replies on one connection",
	       (unsigned long long)fewest, (unsigned long long)most);
	if (starved > 0)
		printf("; %ld connection%s got no reply at all", starved, starved == 1 ? "" : "s");
	printf("\n");
	printf("cpu        loadgen used %.2f s of CPU in %.2f s (%.0f%% of one CPU)\n",
	       cpu, secs, secs > 0 ? 100 * cpu / secs : 0);
	printf("result mode=%s conns=%ld idle=%ld size=%zu msgs=%llu secs=%.3f rate=%.0f "
	       "p50_us=%.1f p99_us=%.1f max_us=%.1f min_conn=%llu max_conn=%llu "
	       "starved=%ld cpu_s=%.3f\n",
	       opt->mode == MODE_REDIS ? "redis" : opt->mode == MODE_HTTP ? "http" : "echo",
	       opt->conns, opt->idle, opt->mode == MODE_HTTP ? g->ref_len : g->msg_len,
	       (unsigned long long)g->measured, secs, rate,
	       g->measured ? (double)hist_quantile(&g->hist, 0.50) / 1e3 : 0,
	       g->measured ? (double)hist_quantile(&g->hist, 0.99) / 1e3 : 0,
	       (double)g->hist.max / 1e3, (unsigned long long)fewest,
	       (unsigned long long)most, starved, cpu);
}

static void setup(struct gen *g, const struct options *opt)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	g->opt = opt;
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep < 0)
		die("epoll_create1:");
	g->server.sin_family = AF_INET;
	g->server.sin_port = htons((uint16_t)atoi(opt->port));
	g->server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g->c = calloc((size_t)(opt->conns + opt->idle), sizeof(*g->c));
	if (g->c == NULL)
		die("calloc:");
	if (opt->mode == MODE_REDIS) {
		g->msg_len = strlen(REDIS_REQUEST);
		g->reply_len = strlen(REDIS_REPLY);
		return;
	}
	if (opt->mode == MODE_HTTP) {
		size_t len = strlen(opt->path) + 64;

		g->http_request = malloc(len);
		if (g->http_request == NULL)
			die("malloc:");
		snprintf(g->http_request, len, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", opt->path);
		g->msg_len = strlen(g->http_request);
		fetch_reference(g);
		g->reply_len = g->ref_len; /* not used to read: answers are read by their heads */
		for (long i = 0; i < opt->conns; i++) {
			g->c[i].head = malloc(HTTP_HEAD_MAX);
			if (g->c[i].head == NULL)
				die("malloc:");
		}
		return;
	}
	g->msg_len = g->reply_len = (size_t)opt->size;
	g->span = g->msg_len <= BIG_MESSAGE ? PATTERN_SPAN : BIG_SPAN;
	g->messages = malloc(g->span * g->msg_len);
	if (g->messages == NULL)
		die("malloc:");
	for (size_t k = 0; k < g->span * g->msg_len; k++) {
		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		g->messages[k] = (unsigned char)(x >> 32);
		/* One newline per message, at its end: a line-based server
		 * then writes each echo in one piece. */
		if (k % g->msg_len == g->msg_len - 1)
			g->messages[k] = '\n';
		else if (g->messages[k] == '\n')
			g->messages[k] = '\r';
	}
}

static void teardown(struct gen *g)
{
	for (long i = 0; i < g->opened; i++)
		close(g->c[i].fd);
	for (long i = 0; g->opt->mode == MODE_HTTP && i < g->opt->conns; i++)
		free(g->c[i].head);
	free(g->http_request);
	free(g->ref_body);
	close(g->ep);
	free(g->c);
	free(g->messages);
}

int main(int argc, char **argv)
{
	static struct gen g; /* the histogram and read buffer: off the stack */
	struct options opt;
	double cpu;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_fd_limit(opt.conns + opt.idle);
	setup(&g, &opt);
	connect_all(&g);
	run(&g, &cpu);
	report(&g, cpu);
	teardown(&g);
	return EXIT_OK;
}
