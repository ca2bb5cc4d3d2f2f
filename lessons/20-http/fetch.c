/* fetch.c — lesson 20: an HTTP/1.1 client, the server's other side.
 *
 *   fetch [-I] [-d DATA] [-P] [-i] [-v] URL...
 *
 * What it shows: a client finds where each answer ends in the byte stream
 * the same way the server finds each request: the head up to the empty
 * line (the parser in common.c), then the body by what the head says —
 * Content-Length bytes, or chunks, or (the HTTP/1.0 way) everything until
 * the server closes. Only when it knows where an answer ends can it ask
 * the next question on the same connection.
 *
 * Several URLs on the same host and port share one connection
 * (keep-alive): one connect(), one handshake, then request, answer,
 * request, answer. With -P it sends every request at once and then reads
 * the answers, which come back in the order asked (pipelining). When a
 * server answers "Connection: close", or closes an idle connection before
 * the next request, fetch connects again.
 *
 * Notice when it runs (-v): "connected" once for several URLs, and each
 * request's line and each answer's status line. The bodies go to stdout;
 * the exit status is 1 when any answer is an error (4xx, 5xx).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "lesson/lesson.h"
#include "common.h"

#define MAX_URLS 256
#define BUF_SIZE (64 * 1024)

struct url {
	const char *text;         /* as given */
	char host[256], port[8];
	char authority[300];      /* host:port, for the Host field */
	char path[HTTP_TARGET_MAX + 1];
};

struct options {
	int head, pipeline, include, verbose;
	const char *data;         /* -d: POST this */
	long timeout_s;
};

/* One connection and what it has received but not used yet. */
struct link {
	int fd;
	int reused;               /* it has carried an answer before */
	char buf[BUF_SIZE];
	size_t len;
};

enum answer { ANSWER_KEEP, ANSWER_CLOSE, ANSWER_GONE, ANSWER_FAILED };

/* main() is the whole story; each step is a function below it, in order. */
static int parse_options(int argc, char **argv, struct options *opt);
static void parse_url(const char *text, struct url *u);
static int same_server(const struct url *a, const struct url *b);
static int fetch_run(const struct options *opt, struct url *urls, int n, int *errors);
static int connect_to(const struct options *opt, const struct url *u, struct link *l);
static int send_request(const struct options *opt, struct link *l, const struct url *u);
static enum answer read_answer(const struct options *opt, struct link *l,
			       const struct url *u, int *errors);
static int read_head(struct link *l, struct http_response *res, long *head);
static int copy_length(const struct options *opt, struct link *l, long long length);
static int copy_chunks(const struct options *opt, struct link *l);
static int copy_to_end(const struct options *opt, struct link *l);
static ssize_t fill(struct link *l);
static void print_head(const struct options *opt, const char *head, size_t len, char mark);

int main(int argc, char **argv)
{
	static struct url urls[MAX_URLS];
	struct options opt;
	int first = parse_options(argc, argv, &opt), n = argc - first, errors = 0;

	if (n > MAX_URLS)
		usage_error("at most %d URLs", MAX_URLS);
	for (int i = 0; i < n; i++)
		parse_url(argv[first + i], &urls[i]);
	if (fetch_run(&opt, urls, n, &errors) < 0)
		return EXIT_RUNTIME;
	return errors > 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* ---- the URLs, connection by connection ---------------------------------------- */

/* Each run of URLs on one server shares a connection while the server
 * keeps it. Returns 0, or -1 when a connection or an answer failed. */
static int fetch_run(const struct options *opt, struct url *urls, int n, int *errors)
{
	static struct link l; /* static: its 64 KiB buffer stays off the stack */
	int next = 0;          /* the first URL not answered yet */

	l.fd = -1;
	while (next < n) {
		enum answer a = ANSWER_GONE;
		int sent = next;

		if (l.fd < 0 && connect_to(opt, &urls[next], &l) < 0)
			return -1;
		/* One request, then its answer; or, pipelined, every request
		 * for this server at once, then the answers in order. */
		do {
			if (send_request(opt, &l, &urls[sent]) < 0)
				break;
			sent++;
		} while (opt->pipeline && sent < n && same_server(&urls[next], &urls[sent]));
		while (next < sent) {
			a = read_answer(opt, &l, &urls[next], errors);
			if (a == ANSWER_FAILED) {
				close(l.fd);
				return -1;
			}
			if (a == ANSWER_GONE)
				break;
			next++;
			if (a == ANSWER_CLOSE)
				break;
		}
		if (a == ANSWER_KEEP && (next == n || same_server(&urls[next - 1], &urls[next])))
			continue; /* the next request goes on this connection */
		close(l.fd);
		l.fd = -1;
		/* Closed before a byte of the answer: a kept connection the
		 * server closed (idle) as our request went out. Ask again on a
		 * new one; on a new one, give up. */
		if (a == ANSWER_GONE && !l.reused) {
			warn("%s: the server closed the connection without an answer",
			     urls[next].text);
			return -1;
		}
		if (a == ANSWER_GONE && opt->verbose)
			fprintf(stderr, "* the server had closed the connection: again\n");
	}
	if (l.fd >= 0) {
		if (opt->verbose)
			fprintf(stderr, "* closing the connection\n");
		close(l.fd); /* we close first: the TIME_WAIT is ours, not the server's */
	}
	return 0;
}

static int connect_to(const struct options *opt, const struct url *u, struct link *l)
{
	char err[SL_ERR_LEN];
	struct timeval tv = { .tv_sec = opt->timeout_s };

	l->fd = sl_tcp_connect(u->host, u->port, (int)opt->timeout_s * 1000, err);
	if (l->fd < 0) {
		warn("%s", err);
		return -1;
	}
	/* Every recv() and send() gives up after -t seconds. */
	setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(l->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	l->len = 0;
	l->reused = 0;
	if (opt->verbose)
		fprintf(stderr, "* connected to %s (fd %d)\n", u->authority, l->fd);
	return 0;
}

/* ---- one request, one answer ---------------------------------------------------------- */

static int send_request(const struct options *opt, struct link *l, const struct url *u)
{
	char head[HTTP_TARGET_MAX + 512];
	const char *method = opt->data != NULL ? "POST" : opt->head ? "HEAD" : "GET";
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fetch (socklab lesson 20)\r\n"
			 "Accept: */*\r\n", method, u->path, u->authority);

	if (opt->data != NULL)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: text/plain\r\nContent-Length: %zu\r\n",
			      strlen(opt->data));
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	print_head(opt, head, (size_t)n, '>');
	if (sl_io_write_all(l->fd, head, (size_t)n) < 0 ||
	    (opt->data != NULL && sl_io_write_all(l->fd, opt->data, strlen(opt->data)) < 0)) {
		/* A kept connection the server has closed: the answer read
		 * next will say so. */
		if (opt->verbose)
			fprintf(stderr, "* send: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Read one answer, its body to stdout. ANSWER_KEEP: the connection can
 * carry the next request; ANSWER_CLOSE: it cannot (the server says so, or
 * the body ran to the end of the connection); ANSWER_GONE: it closed
 * before a byte of this answer came; ANSWER_FAILED: give up. */
static enum answer read_answer(const struct options *opt, struct link *l,
			       const struct url *u, int *errors)
{
	struct http_response res;
	long head;
	int r = read_head(l, &res, &head), keep;

	if (r == 0)
		return ANSWER_GONE;
	if (r < 0) {
		warn("%s: %s", u->text, res.error != NULL ? res.error : strerror(errno));
		return ANSWER_FAILED;
	}
	print_head(opt, l->buf, (size_t)head, '<');
	if (opt->include)
		fwrite(l->buf, 1, (size_t)head, stdout);
	if (res.status >= 400) {
		warn("%s: %d %s", u->text, res.status, res.reason);
		++*errors;
	}
	/* HTTP/1.1 keeps the connection unless told otherwise; 1.0 does not
	 * unless told "keep-alive". */
	keep = !res.h.close && (res.minor >= 1 || res.h.keep_alive);
	memmove(l->buf, l->buf + head, l->len - (size_t)head);
	l->len -= (size_t)head;
	/* Where the body ends: no body after HEAD, 1xx, 204 and 304; then
	 * chunks, or Content-Length bytes, or the end of the connection. */
	if (opt->head || res.status < 200 || res.status == 204 || res.status == 304)
		r = 0;
	else if (res.h.chunked)
		r = copy_chunks(opt, l);
	else if (res.h.content_length >= 0)
		r = copy_length(opt, l, res.h.content_length);
	else
		r = copy_to_end(opt, l);
	if (!opt->head && res.h.content_length < 0 && !res.h.chunked && res.status >= 200 &&
	    res.status != 204 && res.status != 304)
		keep = 0; /* the body ended with the connection */
	fflush(stdout);
	if (r < 0) {
		warn("%s: the body: %s", u->text, errno != 0 ? strerror(errno) : "cut short");
		return ANSWER_FAILED;
	}
	l->reused = 1;
	return keep ? ANSWER_KEEP : ANSWER_CLOSE;
}

/* The head of the next answer, into l->buf: 1 and *head (its length), 0
 * when the connection closed before its first byte, -1 on an error. */
static int read_head(struct link *l, struct http_response *res, long *head)
{
	for (;;) {
		ssize_t n;

		*head = http_parse_response(l->buf, l->len, res);
		if (*head > 0)
			return 1;
		if (*head < 0)
			return -1;
		if (l->len == sizeof(l->buf)) {
			res->error = "the head is larger than fetch takes";
			return -1;
		}
		n = fill(l);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (l->len == 0)
				return 0;
			res->error = "the connection closed in the middle of the head";
			return -1;
		}
	}
}

static int copy_length(const struct options *opt, struct link *l, long long length)
{
	while (length > 0) {
		size_t n = l->len < (unsigned long long)length ? l->len : (size_t)length;
		ssize_t got;

		if (!opt->head)
			fwrite(l->buf, 1, n, stdout);
		memmove(l->buf, l->buf + n, l->len - n);
		l->len -= n;
		length -= (long long)n;
		if (length > 0 && (got = fill(l)) <= 0) {
			errno = got == 0 ? 0 : errno;
			return -1;
		}
	}
	return 0;
}

/* Chunks, decoded in place as they come (the parser of common.c); the
 * data goes out, and what is not decoded yet moves to the front. */
static int copy_chunks(const struct options *opt, struct link *l)
{
	struct http_chunked st = { 0 };

	(void)opt;
	for (;;) {
		int r = http_chunked_decode(l->buf, l->len, &st);
		ssize_t got;

		if (r < 0) {
			errno = EPROTO;
			return -1;
		}
		fwrite(l->buf, 1, st.data, stdout);
		memmove(l->buf, l->buf + st.used, l->len - st.used);
		l->len -= st.used;
		st.used = st.data = 0;
		if (r == 1)
			return 0;
		if ((got = fill(l)) <= 0) {
			errno = got == 0 ? 0 : errno;
			return -1;
		}
	}
}

static int copy_to_end(const struct options *opt, struct link *l)
{
	ssize_t got;

	(void)opt;
	do {
		fwrite(l->buf, 1, l->len, stdout);
		l->len = 0;
	} while ((got = fill(l)) > 0);
	return got < 0 ? -1 : 0;
}

/* One recv() into the free end of the buffer: returns its result. */
static ssize_t fill(struct link *l)
{
	ssize_t n;

	do
		n = recv(l->fd, l->buf + l->len, sizeof(l->buf) - l->len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		l->len += (size_t)n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		errno = ETIMEDOUT; /* SO_RCVTIMEO ran out */
	return n;
}

/* ---- Plumbing: -v, URLs, the command line ---- */

/* -v: each line of a head, after "> " (sent) or "< " (received). */
static void print_head(const struct options *opt, const char *head, size_t len, char mark)
{
	const char *end = head + len;

	if (!opt->verbose)
		return;
	while (head < end) {
		const char *lf = memchr(head, '\n', (size_t)(end - head));
		size_t n = lf != NULL ? (size_t)(lf - head) : (size_t)(end - head);

		if (n > 0 && head[n - 1] == '\r')
			n--;
		if (n > 0)
			fprintf(stderr, "%c %.*s\n", mark, (int)n, head);
		head = lf != NULL ? lf + 1 : end;
	}
}

/* http://HOST[:PORT][/PATH], HOST a name, an IPv4 address or [IPv6]. */
static void parse_url(const char *text, struct url *u)
{
	const char *p = text, *host, *end;
	size_t hlen;

	u->text = text;
	if (strncasecmp(p, "http://", 7) != 0)
		usage_error("bad URL '%s': expected http://HOST[:PORT]/PATH", text);
	host = p + 7;
	end = host + strcspn(host, "/?#");
	p = host;
	if (*host == '[') { /* [::1]:8080 */
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL)
			usage_error("bad URL '%s': no ']' after the IPv6 address", text);
		hlen = (size_t)(p - host - 1);
		host++;
		p++;
	} else {
		p = memchr(host, ':', (size_t)(end - host));
		if (p == NULL)
			p = end;
		hlen = (size_t)(p - host);
	}
	if (hlen == 0 || hlen >= sizeof(u->host))
		usage_error("bad URL '%s': no host", text);
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	if (*p == ':') {
		char digits[8];
		long port;

		size_t n = (size_t)(end - p - 1);

		if (n < sizeof(digits)) {
			memcpy(digits, p + 1, n);
			digits[n] = '\0';
		}
		if (n >= sizeof(digits) || sl_num_parse(digits, 1, 65535, &port) < 0)
			usage_error("bad URL '%s': the port is not a number from 1 to 65535", text);
		snprintf(u->port, sizeof(u->port), "%ld", port);
	} else if (p != end) {
		usage_error("bad URL '%s': expected http://HOST[:PORT]/PATH", text);
	} else {
		strcpy(u->port, "80");
	}
	snprintf(u->authority, sizeof(u->authority), "%.*s", (int)(end - (text + 7)), text + 7);
	/* The path, with a '/' in front if it has none ("http://h?x"). */
	if (strlen(end) + (*end != '/') > HTTP_TARGET_MAX)
		usage_error("bad URL '%s': the path is longer than %d bytes", text, HTTP_TARGET_MAX);
	u->path[0] = '/';
	memcpy(u->path + (*end != '/'), end, strlen(end) + 1);
	for (const char *c = u->path; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			usage_error("bad URL '%s': a space or a control character (write %%20)", text);
}

static int same_server(const struct url *a, const struct url *b)
{
	return strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		{ 'I', "head", OPT_FLAG, &opt->head, .help = "ask with HEAD: the heads, no bodies" },
		{ 'd', "data", OPT_STRING, &opt->data, "TEXT",
		  "POST TEXT to every URL (Content-Type: text/plain)", .what = "data" },
		{ 'P', "pipeline", OPT_FLAG, &opt->pipeline,
		  .help = "send every request on a connection at once, then read\n"
			  "the answers (pipelining)" },
		{ 'i', "include", OPT_FLAG, &opt->include,
		  .help = "print each answer's head before its body" },
		{ 't', "timeout", OPT_NUMBER, &opt->timeout_s, "SECONDS",
		  "give up on a connect, a send or a recv after this long\n"
		  "(default 10)",
		  .what = "timeout", .min = 1, .max = 3600 },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose,
		  .help = "on stderr: connections, and every head sent and received" },
		{ 0 }
	};

	memset(opt, 0, sizeof(*opt));
	opt->timeout_s = 10;
	return lesson_options(argc, argv, &(struct lesson_cli){
		.args = "URL...",
		.about = "An HTTP/1.1 client (lesson 20): GET each URL, http://HOST[:PORT]/PATH,\n"
			 "the bodies to stdout; URLs on one server share a connection.",
		.footer = "Exit status: 0 every answer came and none is an error, 1 otherwise,\n"
			  "2 a bad command line.",
		.opts = options,
		.min_args = 1,
		.max_args = -1,
	});
}
