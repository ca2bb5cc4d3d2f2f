/* test_20_http.c — lesson 20, the HTTP/1.1 server and the fetch client.
 *
 * What these tests prove, step by step as the exercise builds the server
 * (the request bytes are written here by hand, and the answers read by a
 * small reader of this file's own, so no test leans on the lesson's own
 * parser):
 *  1. the server listens and answers 200 with a status line, a Date, and
 *     a Content-Length its body matches;
 *  2. it reads the request line (-v logs method, target, version as
 *     sent), and HEAD gets the head without the body;
 *  3. paths map to files under the root, or 404; no path leaves the root:
 *     /../, %2e%2e, ..%2f get 400, a symlink out gets 404, and no answer
 *     holds the file outside; a FIFO in the root does not block it;
 *  4. header fields come out as sent (names kept, values trimmed);
 *  5. files come whole with their type, size and Last-Modified (1 MiB by
 *     sendfile), HEAD says the size without the bytes, If-Modified-Since
 *     gets 304, a folder without its '/' gets 301, a FIFO in the root is no
 *     file (404) and does not block the server in open();
 *  6. one connection carries many requests (keep-alive), pipelined ones
 *     are answered in order, Connection: close and HTTP/1.0 end it;
 *  7. clients are served side by side; one that sends no request is
 *     closed after -t; -c holds extra clients in the backlog;
 *  8. POST /echo returns a Content-Length body and a chunked one (with
 *     extensions and a trailer), and the request after it on the same
 *     connection is read where it starts;
 *  9. every bad request gets its status: 400, 404, 405, 413, 414, 431,
 *     501, 505, and the refused ones close the connection.
 * And, not tied to a step: hostile clients (a 1 MiB header line, a
 * slowloris sending a byte every 100 ms, 1,000 idle connections) neither
 * stop others being served nor grow the server's memory past a bound;
 * clients no one here wrote: curl (one connection for several URLs,
 * --data, HEAD, a 404), Python's http.client, and headless Chromium
 * loading a page of 12 images over several connections at once, seen by
 * `socklab watch`; our fetch (keep-alive, -P pipelining, exit status);
 * SIGTERM/SIGINT; descriptors back to where they were; -h and bad options.
 * Servers run on 127.0.0.1, port 0; every wait has a deadline. Under
 * SOCKLAB_VALGRIND=1 a leak or an fd left open fails the exit status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "20-http"
#define DEADLINE_MS 10000
#define QUIET_MS 300
#define BIG_SIZE (1024 * 1024)
#define HELLO "hello, world\n"
#define SECRET "the file outside the root\n"
#define HELLO_MTIME 1000000000 /* Sun, 09 Sep 2001 01:46:40 GMT */
#define IDLE_CLIENTS 1000
/* What 1,000 idle connections may add to the server's memory: an idle
 * client costs one struct conn (336 bytes) and no buffer, so about 340 KiB
 * is expected; the margin covers malloc's own overhead and page rounding. */
#define IDLE_RSS_BOUND_KB (4 * 1024)
/* What a hostile client may add: one input buffer (8.5 KiB), one answer. */
#define HOSTILE_RSS_BOUND_KB 1024

static char base[64], root[128];
static unsigned char *big;

/* ---- the document root, made once for all tests ------------------------------- */

static void write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int make_root(void **state)
{
	char path[256];
	struct timeval times[2] = { { HELLO_MTIME, 0 }, { HELLO_MTIME, 0 } };

	(void)state;
	strcpy(base, "/tmp/socklab-http.XXXXXX");
	if (mkdtemp(base) == NULL)
		return -1;
	chmod(base, 0755); /* a test may run as another user */
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(path, sizeof(path), "%s/secret.txt", base);
	if (mkdir(root, 0755) < 0)
		return -1;
	big = malloc(BIG_SIZE);
	if (big == NULL)
		return -1;
	h_random_bytes(big, BIG_SIZE, 20);
	write_file("../secret.txt", SECRET, strlen(SECRET));
	write_file("index.html", "<!DOCTYPE html><title>root</title>\n", 35);
	write_file("hello.txt", HELLO, strlen(HELLO));
	write_file("a b.txt", "a space\n", 8);
	write_file("empty.txt", "", 0);
	write_file("pic.png", "\x89PNG\r\n\x1a\nnot really", 18);
	write_file("big.bin", big, BIG_SIZE);
	snprintf(path, sizeof(path), "%s/sub", root);
	mkdir(path, 0755);
	write_file("sub/index.html", "sub index\n", 10);
	snprintf(path, sizeof(path), "%s/noindex", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/hello.txt", root);
	utimes(path, times);
	/* Symlinks: one out of the root (relative), one absolute, one in. */
	snprintf(path, sizeof(path), "%s/escape", root);
	if (symlink("../secret.txt", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/abs", root);
	{
		char target[128];

		snprintf(target, sizeof(target), "%s/secret.txt", base);
		if (symlink(target, path) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/inside", root);
	if (symlink("hello.txt", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/fifo", root);
	return mkfifo(path, 0644);
}

static int remove_root(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	free(big);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- fixture: whatever a test started is stopped, even on failure ----------- */

#define NFDS 8

struct fx {
	struct h_proc srv, cl;
	int fds[NFDS];
	int *many;     /* the idle connections */
	int nmany;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	for (int i = 0; i < NFDS; i++)
		f->fds[i] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->cl.pid > 0 && f->cl.status < 0)
		h_stop(&f->cl, SIGKILL, 2000);
	if (f->srv.pid > 0 && f->srv.status < 0)
		h_stop(&f->srv, SIGKILL, 2000);
	for (int i = 0; i < NFDS; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	for (int i = 0; i < f->nmany; i++)
		close(f->many[i]);
	free(f->many);
	free(f);
	return 0;
}

/* ---- helpers: the server --------------------------------------------------------- */

/* Start "server -b 127.0.0.1 -p 0 -r ROOT ARGS..." (NULL-terminated). */
static void start_server(struct h_proc *srv, ...)
{
	char *argv[24] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			   "-r", root };
	int n = 7;
	va_list ap;

	va_start(ap, srv);
	while (n < 23 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(h_start(srv, argv), 0);
	if (h_wait_listening(srv, DEADLINE_MS) != 0) {
		char err[512];

		fail_msg("the server never said \"listening on\"; its stderr: %s",
			 h_own_stderr(srv, err, sizeof(err)));
	}
}

/* The server's memory now (VmRSS), in KiB, or -1. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- helpers: a small HTTP reader of our own ------------------------------------ */

struct conn {
	int fd;
	char buf[64 * 1024];
	size_t len;
};

struct resp {
	int status;
	char head[16384];         /* NUL-terminated, with the final CRLF CRLF */
	unsigned char *body;      /* malloc'd, NUL-terminated */
	size_t body_len;
};

static struct conn *open_conn(struct fx *f, const char *port)
{
	struct conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->fd = h_connect(port, DEADLINE_MS);
	if (c->fd < 0)
		fail_msg("connect to the server: %s", strerror(errno));
	for (int i = 0; i < NFDS; i++)
		if (f->fds[i] < 0) {
			f->fds[i] = c->fd; /* the fixture closes it if we fail */
			break;
		}
	return c;
}

static void close_conn(struct fx *f, struct conn *c)
{
	for (int i = 0; i < NFDS; i++)
		if (f->fds[i] == c->fd)
			f->fds[i] = -1;
	close(c->fd);
	free(c);
}

static void send_text(struct conn *c, const char *text)
{
	size_t len = strlen(text);

	if (send(c->fd, text, len, MSG_NOSIGNAL) != (ssize_t)len)
		fail_msg("send %zu bytes: %s", len, strerror(errno));
}

/* One more recv() into c->buf within ms: its result, 0 at the end of
 * file, -1 when nothing came in time (or an error). */
static ssize_t more(struct conn *c, int ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	if (c->len == sizeof(c->buf) || poll(&p, 1, h_scaled(ms)) <= 0)
		return -1;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

static void take(struct conn *c, void *to, size_t n)
{
	if (to != NULL)
		memcpy(to, c->buf, n);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* A field of a head (any case), its value in a static buffer, or NULL. */
static const char *field(const struct resp *r, const char *name)
{
	static char value[1024];
	size_t n = strlen(name);

	for (const char *line = strstr(r->head, "\r\n"); line != NULL;
	     line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, name, n) == 0 && line[2 + n] == ':') {
			const char *v = line + 3 + n;

			v += strspn(v, " ");
			snprintf(value, sizeof(value), "%.*s", (int)strcspn(v, "\r"), v);
			return value;
		}
	}
	return NULL;
}

/* Read one answer: its head, then Content-Length bytes of body (none
 * when no_body: an answer to HEAD, a 304). Returns 0, or -1 when the
 * connection closed or went quiet for ms first (the head so far is kept). */
static int read_resp_within(struct conn *c, struct resp *r, int no_body, int ms)
{
	char *end;
	const char *cl;
	size_t head_len, want;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (more(c, ms) <= 0) {
			snprintf(r->head, sizeof(r->head), "%.*s", (int)c->len, c->buf);
			return -1;
		}
	head_len = (size_t)(end + 4 - c->buf);
	assert_true(head_len < sizeof(r->head));
	take(c, r->head, head_len);
	r->head[head_len] = '\0';
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		fail_msg("not an HTTP/1.1 status line: %.80s", r->head);
	cl = field(r, "Content-Length");
	want = no_body || cl == NULL ? 0 : (size_t)strtoul(cl, NULL, 10);
	r->body = malloc(want + 1);
	assert_non_null(r->body);
	while (r->body_len < want) {
		size_t n;

		if (c->len == 0 && more(c, ms) <= 0)
			break;
		n = c->len < want - r->body_len ? c->len : want - r->body_len;
		take(c, r->body + r->body_len, n);
		r->body_len += n;
	}
	r->body[r->body_len] = '\0';
	return r->body_len == want ? 0 : -1;
}

static int read_resp(struct conn *c, struct resp *r, int no_body)
{
	return read_resp_within(c, r, no_body, DEADLINE_MS);
}

static void free_resp(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* Does the server close the connection now, with nothing more sent?
 * 1: end of file (or a reset) within ms; 0: bytes came, or nothing. */
static int closes(struct conn *c, int ms)
{
	long long end = h_now_ms() + h_scaled(ms);

	while (h_now_ms() < end) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		char b;
		ssize_t n;

		if (poll(&p, 1, (int)(end - h_now_ms())) <= 0)
			return 0;
		n = recv(c->fd, &b, 1, 0);
		if (n <= 0)
			return 1;
		return 0;
	}
	return 0;
}

/* A request on a new connection, and its answer. */
static void ask(struct fx *f, const char *request, struct resp *r, int no_body)
{
	struct conn *c = open_conn(f, f->srv.port);

	send_text(c, request);
	if (read_resp(c, r, no_body) < 0)
		fail_msg("no whole answer to %.60s...; got: %.200s", request, r->head);
	close_conn(f, c);
}

/* The status a request gets on a new connection. */
static int status_of(struct fx *f, const char *request)
{
	struct resp r;

	ask(f, request, &r, strncmp(request, "HEAD", 4) == 0);
	free_resp(&r);
	return r.status;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: test\r\n\r\n"

/* ---- step 1: listen and answer ------------------------------------------------------ */

static void test_answers_200_with_a_length(void **state)
{
	struct fx *f = *state;
	struct resp r;
	const char *len;

	start_server(&f->srv, NULL);
	ask(f, GET("/"), &r, 0);
	if (strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) != 0)
		fail_msg("the answer's first line is not \"HTTP/1.1 200 OK\": %.40s", r.head);
	len = field(&r, "Content-Length");
	assert_non_null(len);
	assert_int_equal(strtoul(len, NULL, 10), r.body_len);
	assert_true(r.body_len > 0);
	assert_non_null(field(&r, "Date"));
	assert_non_null(field(&r, "Content-Type"));
	free_resp(&r);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 2: the request line ----------------------------------------------------- */

static void test_the_request_line_is_read(void **state)
{
	struct fx *f = *state;
	struct resp r;

	start_server(&f->srv, "-v", NULL);
	ask(f, "GET /hello.txt?q=1 HTTP/1.0\r\n\r\n", &r, 0);
	free_resp(&r);
	ask(f, "GET /sub/ HTTP/1.1\r\nHost: test\r\n\r\n", &r, 0);
	free_resp(&r);
	/* The log line is written before the answer goes out: two of them
	 * are there by now, whatever they say. */
	assert_int_equal(h_wait_count(&f->srv, "out", "\" 200 ", 2, DEADLINE_MS), 0);
	if (strstr(f->srv.outbuf, "\"GET /hello.txt?q=1 HTTP/1.0\" 200") == NULL ||
	    strstr(f->srv.outbuf, "\"GET /sub/ HTTP/1.1\" 200") == NULL)
		fail_msg("-v does not log the request lines as sent; it said:\n%s", f->srv.outbuf);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_head_gets_no_body(void **state)
{
	struct fx *f = *state;
	struct conn *c;
	struct resp r;

	start_server(&f->srv, NULL);
	c = open_conn(f, f->srv.port);
	send_text(c, "HEAD / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
	assert_int_equal(read_resp(c, &r, 1), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(field(&r, "Content-Length"));
	assert_true(strtoul(field(&r, "Content-Length"), NULL, 10) > 0);
	/* The length of the body a GET would get, and no body. */
	if (more(c, DEADLINE_MS) != 0 || c->len != 0)
		fail_msg("HEAD got %zu bytes of body after its head", c->len);
	free_resp(&r);
	close_conn(f, c);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 3: paths ------------------------------------------------------------------ */

static void test_paths_name_files_or_404(void **state)
{
	struct fx *f = *state;

	start_server(&f->srv, NULL);
	assert_int_equal(status_of(f, GET("/")), 200);
	assert_int_equal(status_of(f, GET("/hello.txt")), 200);
	assert_int_equal(status_of(f, GET("/a%20b.txt")), 200);
	assert_int_equal(status_of(f, GET("/sub/")), 200);
	assert_int_equal(status_of(f, GET("/inside")), 200);
	assert_int_equal(status_of(f, GET("/missing.txt")), 404);
	assert_int_equal(status_of(f, GET("/sub/missing/")), 404);
	assert_int_equal(status_of(f, GET("/noindex/")), 404);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_no_path_leaves_the_root(void **state)
{
	struct fx *f = *state;
	static const struct { const char *path; int status; } tries[] = {
		{ "/../secret.txt", 400 },
		{ "/%2e%2e/secret.txt", 400 },
		{ "/%2E%2E/secret.txt", 400 },
		{ "/sub/..%2f..%2fsecret.txt", 400 },
		{ "/sub/../../secret.txt", 400 },
		{ "/escape", 404 },        /* a symlink to ../secret.txt */
		{ "/abs", 404 },           /* a symlink to /tmp/.../secret.txt */
		{ "/%00", 400 },
	};

	start_server(&f->srv, NULL);
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		char req[256];
		struct resp r;

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", tries[i].path);
		ask(f, req, &r, 0);
		if (strstr((char *)r.body, "outside the root") != NULL)
			fail_msg("GET %s served the file outside the root", tries[i].path);
		if (r.status != tries[i].status)
			fail_msg("GET %s: status %d, expected %d", tries[i].path, r.status,
				 tries[i].status);
		free_resp(&r);
	}
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 4: header fields --------------------------------------------------------- */

static void test_header_fields_are_read(void **state)
{
	struct fx *f = *state;
	struct resp r;

	start_server(&f->srv, NULL);
	ask(f, "GET /headers HTTP/1.1\r\nHost: test\r\nX-One: 1\r\nx-two:two\r\n"
	       "X-Three:   spaced out \t\r\nX-Empty:\r\n\r\n", &r, 0);
	assert_int_equal(r.status, 200);
	if (strcmp((char *)r.body, "Host: test\nX-One: 1\nx-two: two\nX-Three: spaced out\n"
				   "X-Empty: \n") != 0)
		fail_msg("GET /headers should list the fields as read, names as sent, values "
			 "trimmed; it said:\n%s", r.body);
	free_resp(&r);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 5: files ------------------------------------------------------------------- */

static void expect_file(struct fx *f, const char *path, const char *type, const void *bytes,
			size_t len)
{
	char req[256];
	struct resp r;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
	ask(f, req, &r, 0);
	if (r.status != 200 || r.body_len != len || memcmp(r.body, bytes, len) != 0)
		fail_msg("GET %s: status %d, %zu bytes; expected 200 and the file's %zu bytes",
			 path, r.status, r.body_len, len);
	if (field(&r, "Content-Type") == NULL || strncmp(field(&r, "Content-Type"), type,
							 strlen(type)) != 0)
		fail_msg("GET %s: Content-Type %s, expected %s", path, field(&r, "Content-Type"),
			 type);
	free_resp(&r);
}

static void test_files_come_whole_with_their_type(void **state)
{
	struct fx *f = *state;
	struct resp r;

	start_server(&f->srv, NULL);
	expect_file(f, "/hello.txt", "text/plain", HELLO, strlen(HELLO));
	expect_file(f, "/", "text/html", "<!DOCTYPE html><title>root</title>\n", 35);
	expect_file(f, "/sub/", "text/html", "sub index\n", 10);
	expect_file(f, "/pic.png", "image/png", "\x89PNG\r\n\x1a\nnot really", 18);
	expect_file(f, "/empty.txt", "text/plain", "", 0);
	expect_file(f, "/big.bin", "application/octet-stream", big, BIG_SIZE);
	/* Not a file: and open() must not wait for a writer. */
	assert_int_equal(status_of(f, GET("/fifo")), 404);
	ask(f, GET("/hello.txt"), &r, 0);
	assert_non_null(field(&r, "Last-Modified"));
	assert_string_equal(field(&r, "Last-Modified"), "Sun, 09 Sep 2001 01:46:40 GMT");
	free_resp(&r);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_head_304_and_301(void **state)
{
	struct fx *f = *state;
	struct resp r;

	start_server(&f->srv, NULL);
	ask(f, "HEAD /big.bin HTTP/1.1\r\nHost: test\r\n\r\n", &r, 1);
	assert_int_equal(r.status, 200);
	assert_string_equal(field(&r, "Content-Length"), "1048576");
	free_resp(&r);
	/* The client's copy is as new as the file: 304, no body. */
	ask(f, "GET /hello.txt HTTP/1.1\r\nHost: test\r\n"
	       "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n\r\n", &r, 1);
	assert_int_equal(r.status, 304);
	free_resp(&r);
	/* An older copy: the file again. */
	ask(f, "GET /hello.txt HTTP/1.1\r\nHost: test\r\n"
	       "If-Modified-Since: Sat, 08 Sep 2001 01:46:40 GMT\r\n\r\n", &r, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal((char *)r.body, HELLO);
	free_resp(&r);
	/* A folder without its '/': where it is. */
	ask(f, GET("/sub?x=1"), &r, 0);
	assert_int_equal(r.status, 301);
	assert_string_equal(field(&r, "Location"), "/sub/");
	free_resp(&r);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 6: keep-alive and pipelining ---------------------------------------------- */

static void test_one_connection_many_requests(void **state)
{
	struct fx *f = *state;
	struct conn *c;
	struct resp r;

	start_server(&f->srv, "-v", NULL);
	c = open_conn(f, f->srv.port);
	for (int i = 0; i < 3; i++) {
		send_text(c, GET("/hello.txt"));
		if (read_resp(c, &r, 0) < 0)
			fail_msg("request %d on one connection got no whole answer: %.200s", i + 1,
				 r.head);
		assert_string_equal((char *)r.body, HELLO);
		assert_null(field(&r, "Connection"));
		free_resp(&r);
	}
	send_text(c, "HEAD /big.bin HTTP/1.1\r\nHost: test\r\n\r\n");
	assert_int_equal(read_resp(c, &r, 1), 0);
	free_resp(&r);
	/* Still open: nothing says it ends. */
	assert_int_equal(closes(c, QUIET_MS), 0);
	send_text(c, "GET /hello.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_string_equal(field(&r, "Connection"), "close");
	free_resp(&r);
	if (!closes(c, DEADLINE_MS))
		fail_msg("after answering \"Connection: close\" the server kept the connection");
	close_conn(f, c);
	assert_int_equal(h_wait_output(&f->srv, "out", "disconnected (5 requests)", DEADLINE_MS), 0);
	assert_int_equal(h_count(f->srv.outbuf, " connected (fd "), 1);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_pipelined_requests_are_answered_in_order(void **state)
{
	struct fx *f = *state;
	struct conn *c;
	struct resp r;

	start_server(&f->srv, NULL);
	c = open_conn(f, f->srv.port);
	/* Three requests in one send(), a megabyte answer in the middle. */
	send_text(c, GET("/hello.txt") GET("/big.bin") "HEAD /sub/ HTTP/1.1\r\nHost: t\r\n\r\n"
		  GET("/a%20b.txt"));
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_string_equal((char *)r.body, HELLO);
	free_resp(&r);
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_int_equal(r.body_len, BIG_SIZE);
	assert_memory_equal(r.body, big, BIG_SIZE);
	free_resp(&r);
	assert_int_equal(read_resp(c, &r, 1), 0);
	assert_string_equal(field(&r, "Content-Length"), "10");
	free_resp(&r);
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_string_equal((char *)r.body, "a space\n");
	free_resp(&r);
	close_conn(f, c);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_http10_closes_unless_asked_to_keep(void **state)
{
	struct fx *f = *state;
	struct conn *c;
	struct resp r;

	start_server(&f->srv, NULL);
	c = open_conn(f, f->srv.port);
	send_text(c, "GET /hello.txt HTTP/1.0\r\n\r\n");
	assert_int_equal(read_resp(c, &r, 0), 0);
	free_resp(&r);
	if (!closes(c, DEADLINE_MS))
		fail_msg("an HTTP/1.0 request without keep-alive: the connection stayed open");
	close_conn(f, c);
	c = open_conn(f, f->srv.port);
	for (int i = 0; i < 2; i++) {
		send_text(c, "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
		assert_int_equal(read_resp(c, &r, 0), 0);
		assert_string_equal(field(&r, "Connection"), "keep-alive");
		free_resp(&r);
	}
	close_conn(f, c);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 7: many clients ------------------------------------------------------------ */

static void test_clients_are_served_side_by_side(void **state)
{
	struct fx *f = *state;
	struct conn *c[3];
	struct resp r;

	start_server(&f->srv, NULL);
	/* Three clients, each keeping its connection; the last to come is
	 * answered first, then they take turns. */
	for (int i = 0; i < 3; i++)
		c[i] = open_conn(f, f->srv.port);
	for (int round = 0; round < 2; round++)
		for (int i = 2; i >= 0; i--) {
			send_text(c[i], GET("/hello.txt"));
			if (read_resp_within(c[i], &r, 0, 2000) < 0)
				fail_msg("client %d of 3, all connected, got no answer (round %d): "
					 "does the server take one client at a time?", i + 1,
					 round + 1);
			free_resp(&r);
		}
	for (int i = 0; i < 3; i++)
		close_conn(f, c[i]);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_a_silent_client_is_closed_after_the_timeout(void **state)
{
	struct fx *f = *state;
	struct conn *silent, *kept;
	struct resp r;
	long long t0;

	start_server(&f->srv, "-t", "1", NULL);
	t0 = h_now_ms();
	silent = open_conn(f, f->srv.port);
	kept = open_conn(f, f->srv.port);
	send_text(kept, GET("/hello.txt"));
	assert_int_equal(read_resp(kept, &r, 0), 0);
	free_resp(&r);
	/* Neither sends another request: both are closed, after about 1 s. */
	if (!closes(silent, 5000) || !closes(kept, 5000))
		fail_msg("-t 1: a client that sent nothing more was not closed within 5 s");
	if (h_now_ms() - t0 < 800)
		fail_msg("-t 1: the clients were closed after %lld ms, before the timeout",
			 h_now_ms() - t0);
	close_conn(f, silent);
	close_conn(f, kept);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_the_cap_keeps_extra_clients_waiting(void **state)
{
	struct fx *f = *state;
	struct conn *c[3];
	struct resp r;

	start_server(&f->srv, "-c", "2", NULL);
	for (int i = 0; i < 2; i++) {
		c[i] = open_conn(f, f->srv.port);
		send_text(c[i], GET("/hello.txt"));
		assert_int_equal(read_resp(c[i], &r, 0), 0);
		free_resp(&r);
	}
	/* A third: the kernel completes its handshake, the server does not
	 * take it while two are connected. */
	c[2] = open_conn(f, f->srv.port);
	send_text(c[2], GET("/hello.txt"));
	assert_int_equal(more(c[2], QUIET_MS), -1);
	close_conn(f, c[0]);
	if (read_resp(c[2], &r, 0) < 0)
		fail_msg("-c 2: one of two clients left, and the waiting third got no answer");
	free_resp(&r);
	close_conn(f, c[1]);
	close_conn(f, c[2]);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 8: bodies ---------------------------------------------------------------------- */

static void test_post_echo_with_a_length(void **state)
{
	struct fx *f = *state;
	static char body[60000], req[61000];
	struct conn *c;
	struct resp r;
	int n;

	start_server(&f->srv, NULL);
	h_random_bytes(body, sizeof(body) - 1, 8);
	for (size_t i = 0; i < sizeof(body) - 1; i++)
		body[i] = (char)('a' + (unsigned char)body[i] % 26);
	c = open_conn(f, f->srv.port);
	send_text(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
		     "Content-Type: text/x-test\r\n\r\nhello world");
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal((char *)r.body, "hello world");
	assert_string_equal(field(&r, "Content-Type"), "text/x-test");
	free_resp(&r);
	/* 60 KB, in two sends, then a request right behind it. */
	n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
		     strlen(body));
	memcpy(req + n, body, 30000);
	req[n + 30000] = '\0';
	send_text(c, req);
	send_text(c, body + 30000);
	send_text(c, GET("/hello.txt"));
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_int_equal(r.body_len, strlen(body));
	assert_memory_equal(r.body, body, strlen(body));
	free_resp(&r);
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_string_equal((char *)r.body, HELLO);
	free_resp(&r);
	close_conn(f, c);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_post_echo_in_chunks(void **state)
{
	struct fx *f = *state;
	struct conn *c;
	struct resp r;

	start_server(&f->srv, NULL);
	c = open_conn(f, f->srv.port);
	send_text(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n");
	/* The rest later, the last chunk with an extension and a trailer. */
	assert_int_equal(more(c, QUIET_MS), -1);
	send_text(c, "7;ext=1\r\n, world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
		     "X-Trailer: t\r\n\r\n" GET("/hello.txt"));
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal((char *)r.body, "hello, worldabcdefghijklmnopqrstuvwxyz");
	free_resp(&r);
	assert_int_equal(read_resp(c, &r, 0), 0);
	assert_string_equal((char *)r.body, HELLO);
	free_resp(&r);
	close_conn(f, c);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- step 9: bad requests ------------------------------------------------------------------ */

static void test_every_bad_request_gets_its_status(void **state)
{
	struct fx *f = *state;
	static char long_target[4000], long_field[10000], many_fields[2000];
	struct {
		const char *request;
		int status, closes;
	} tries[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 400, 1 },                       /* no Host */
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 1 },
		{ "GET /\r\nHost: t\r\n\r\n", 400, 1 },
		{ "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, 1 },
		{ "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", 400, 1 },
		{ "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\n", 400, 1 },
		{ "GET /../x HTTP/1.1\r\nHost: t\r\n\r\n", 400, 0 },
		{ GET("/missing"), 404, 0 },
		{ "PUT /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi", 405, 0 },
		{ GET("/echo"), 405, 0 },
		{ "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n", 413, 1 },
		{ long_target, 414, 1 },
		{ long_field, 431, 1 },
		{ many_fields, 431, 1 },
		{ "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501, 1 },
		{ "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 1 },
		{ "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, 1 },
	};

	strcpy(long_target, "GET /");
	memset(long_target + 5, 'a', 3000);
	strcpy(long_target + 3005, " HTTP/1.1\r\nHost: t\r\n\r\n");
	strcpy(long_field, "GET / HTTP/1.1\r\nHost: t\r\nX-Long: ");
	memset(long_field + strlen(long_field), 'b', 9000);
	strcat(long_field, "\r\n\r\n");
	strcpy(many_fields, "GET / HTTP/1.1\r\nHost: t\r\n");
	for (int i = 0; i < 100; i++)
		strcat(many_fields, "X: y\r\n");
	strcat(many_fields, "\r\n");
	start_server(&f->srv, NULL);
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct conn *c = open_conn(f, f->srv.port);
		struct resp r;

		send_text(c, tries[i].request);
		if (read_resp(c, &r, 0) < 0 || r.status != tries[i].status)
			fail_msg("%.50s...: expected %d, got %d (%.100s)", tries[i].request,
				 tries[i].status, r.status, r.head);
		if (r.status == 405)
			assert_non_null(field(&r, "Allow"));
		/* A refused request ends the connection; a 400/404/405 for a
		 * request read whole does not. */
		if (tries[i].closes && (strcmp(field(&r, "Connection") ? field(&r, "Connection")
								       : "", "close") != 0 ||
					!closes(c, DEADLINE_MS)))
			fail_msg("%.50s...: refused with %d, and the connection stayed open",
				 tries[i].request, r.status);
		if (!tries[i].closes && closes(c, QUIET_MS))
			fail_msg("%.50s...: a %d for a whole request, and the connection closed",
				 tries[i].request, r.status);
		free_resp(&r);
		close_conn(f, c);
	}
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- hostile clients -------------------------------------------------------------------------- */

/* A quick client is still answered at once. */
static void assert_others_served(struct fx *f, const char *while_what)
{
	long long t0 = h_now_ms();
	struct resp r;

	ask(f, GET("/hello.txt"), &r, 0);
	if (r.status != 200 || h_now_ms() - t0 > h_scaled(2000))
		fail_msg("%s, another client got %d after %lld ms", while_what, r.status,
			 h_now_ms() - t0);
	free_resp(&r);
}

static void test_a_megabyte_header_line(void **state)
{
	struct fx *f = *state;
	static char chunk[65536];
	struct conn *c;
	struct resp r;
	size_t sent = 0;
	long before, after;

	start_server(&f->srv, NULL);
	assert_others_served(f, "at first");
	before = rss_kb(f->srv.pid);
	c = open_conn(f, f->srv.port);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	send_text(c, "GET / HTTP/1.1\r\nHost: t\r\nX-Huge: ");
	memset(chunk, 'h', sizeof(chunk));
	/* A megabyte of one field, while reading what comes back. */
	while (sent < BIG_SIZE && c->len == 0) {
		ssize_t n = send(c->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break; /* refused and closed under us */
		else if (more(c, 100) == 0)
			break;
		(void)more(c, 0);
	}
	fcntl(c->fd, F_SETFL, 0);
	if (read_resp(c, &r, 0) < 0 || r.status != 431)
		fail_msg("a 1 MiB header line (%zu bytes sent): expected 431, got %d", sent,
			 r.status);
	free_resp(&r);
	assert_others_served(f, "after a 1 MiB header line");
	after = rss_kb(f->srv.pid);
	if (!h_under_valgrind() && after - before > HOSTILE_RSS_BOUND_KB)
		fail_msg("a 1 MiB header line grew the server by %ld KiB (bound %d)",
			 after - before, HOSTILE_RSS_BOUND_KB);
	close_conn(f, c);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_a_slowloris_is_cut_off(void **state)
{
	struct fx *f = *state;
	const char *req = "GET /hello.txt HTTP/1.1\r\nHost: test\r\nX-Slow: a field that takes long\r\n\r\n";
	struct conn *slow;
	long before, after;
	long long t0;
	size_t i;

	start_server(&f->srv, "-t", "1", NULL);
	before = rss_kb(f->srv.pid);
	slow = open_conn(f, f->srv.port);
	t0 = h_now_ms();
	/* One byte every 100 ms: it would take 7 s to send the request. */
	for (i = 0; req[i] != '\0'; i++) {
		if (send(slow->fd, req + i, 1, MSG_NOSIGNAL) != 1)
			break; /* closed under it */
		if (i % 5 == 0)
			assert_others_served(f, "while a client sends a byte every 100 ms");
		if (closes(slow, 100))
			break;
	}
	if (req[i] != '\0' && h_now_ms() - t0 < 800)
		fail_msg("the slow client was closed after %lld ms, before the 1 s timeout",
			 h_now_ms() - t0);
	if (req[i] == '\0')
		fail_msg("-t 1: a client sending one byte every 100 ms finished its request in "
			 "%lld ms without being cut off", h_now_ms() - t0);
	after = rss_kb(f->srv.pid);
	if (!h_under_valgrind() && after - before > HOSTILE_RSS_BOUND_KB)
		fail_msg("a slowloris grew the server by %ld KiB (bound %d)", after - before,
			 HOSTILE_RSS_BOUND_KB);
	close_conn(f, slow);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_a_thousand_idle_connections(void **state)
{
	struct fx *f = *state;
	struct rlimit rl;
	long before, after;

	/* Our side needs a descriptor for each, too. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < IDLE_CLIENTS + 100) {
		rl.rlim_cur = rl.rlim_max < IDLE_CLIENTS + 100 ? rl.rlim_max : IDLE_CLIENTS + 100;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < IDLE_CLIENTS + 100)
		skip(); /* the hard limit is below what the test needs */
	start_server(&f->srv, "-t", "60", NULL);
	assert_others_served(f, "at first");
	before = rss_kb(f->srv.pid);
	f->many = calloc(IDLE_CLIENTS, sizeof(int));
	assert_non_null(f->many);
	for (f->nmany = 0; f->nmany < IDLE_CLIENTS; f->nmany++) {
		f->many[f->nmany] = h_connect(f->srv.port, DEADLINE_MS);
		assert_true(f->many[f->nmany] >= 0);
		if (f->nmany == 10) /* a few send half a request */
			assert_int_equal(send(f->many[f->nmany], "GET / HT", 8, 0), 8);
	}
	/* All taken in: the server holds a descriptor for each. */
	for (long long end = h_now_ms() + h_scaled(DEADLINE_MS);
	     h_count_fds(f->srv.pid) < IDLE_CLIENTS && h_now_ms() < end;)
		poll(NULL, 0, 10);
	assert_true(h_count_fds(f->srv.pid) >= IDLE_CLIENTS);
	assert_others_served(f, "with 1,000 idle connections");
	after = rss_kb(f->srv.pid);
	if (!h_under_valgrind() && after - before > IDLE_RSS_BOUND_KB)
		fail_msg("1,000 idle connections grew the server by %ld KiB (bound %d KiB)",
			 after - before, IDLE_RSS_BOUND_KB);
	print_message("1,000 idle connections: the server's RSS grew by %ld KiB\n",
		      after - before);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- clients no one here wrote ----------------------------------------------------------------- */

static void test_curl(void **state)
{
	struct fx *f = *state;
	char url1[128], url2[128], url3[128];
	int fds_before;

	if (!h_have("curl"))
		fail_msg("curl is not installed (make deps installs it)");
	start_server(&f->srv, "-v", NULL);
	fds_before = h_count_fds(f->srv.pid);
	snprintf(url1, sizeof(url1), "http://127.0.0.1:%s/hello.txt", f->srv.port);
	snprintf(url2, sizeof(url2), "http://127.0.0.1:%s/sub/", f->srv.port);
	snprintf(url3, sizeof(url3), "http://127.0.0.1:%s/nope", f->srv.port);
	{
		/* Three URLs: one connection, reused (curl says so with -v). */
		char *argv[] = { "curl", "-sv", url1, url2, url3, NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
		assert_non_null(strstr(f->cl.outbuf, HELLO "sub index\n404 Not Found"));
		assert_int_equal(h_count(f->cl.errbuf, "Re-using existing connection"), 2);
		assert_int_equal(h_wait_count(&f->srv, "out", "\" 404 ", 1, DEADLINE_MS), 0);
		assert_int_equal(h_count(f->srv.outbuf, " connected (fd "), 1);
	}
	{
		char *argv[] = { "curl", "-s", "--data", "posted by curl", NULL, NULL };
		char echo[128];

		snprintf(echo, sizeof(echo), "http://127.0.0.1:%s/echo", f->srv.port);
		argv[4] = echo;
		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
		assert_string_equal(f->cl.outbuf, "posted by curl");
	}
	{
		char *argv[] = { "curl", "-sI", url1, NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
		assert_non_null(strstr(f->cl.outbuf, "HTTP/1.1 200 OK\r\n"));
		assert_non_null(strstr(f->cl.outbuf, "Content-Length: 13\r\n"));
	}
	{
		char *argv[] = { "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url3, NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
		assert_string_equal(f->cl.outbuf, "404");
	}
	/* Every connection is closed: the descriptors are as before. */
	assert_int_equal(h_wait_count(&f->srv, "out", " disconnected (", 4, DEADLINE_MS), 0);
	assert_int_equal(h_count_fds(f->srv.pid), fds_before);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_python_http_client(void **state)
{
	struct fx *f = *state;
	const char *script =
		"import http.client, sys\n"
		"c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)\n"
		"c.request('GET', '/hello.txt'); r = c.getresponse()\n"
		"print(r.status, r.getheader('Content-Type'), repr(r.read()))\n"
		"c.request('HEAD', '/big.bin'); r = c.getresponse()\n"
		"print(r.status, r.getheader('Content-Length'), repr(r.read()))\n"
		"c.request('POST', '/echo', body=b'from python', headers={'Content-Type': 'text/x-py'})\n"
		"r = c.getresponse(); print(r.status, r.getheader('Content-Type'), repr(r.read()))\n"
		"c.request('POST', '/echo', body=iter([b'chunk', b'ed']), encode_chunked=True)\n"
		"r = c.getresponse(); print(r.status, repr(r.read()))\n"
		"c.request('GET', '/nope'); r = c.getresponse(); print(r.status, r.reason); r.read()\n"
		"c.close()\n";
	char *argv[] = { "python3", "-c", (char *)script, f->srv.port, NULL };

	start_server(&f->srv, "-v", NULL);
	argv[3] = f->srv.port;
	assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 0);
	assert_string_equal(f->cl.outbuf,
			    "200 text/plain; charset=utf-8 b'hello, world\\n'\n"
			    "200 1048576 b''\n"
			    "200 text/x-py b'from python'\n"
			    "200 b'chunked'\n"
			    "404 Not Found\n");
	/* One connection for the five. */
	assert_int_equal(h_wait_output(&f->srv, "out", "disconnected (5 requests)", DEADLINE_MS), 0);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* Is pid watching sockets yet? It has a NETLINK_SOCK_DIAG socket open. */
static int has_diag_socket(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	char path[64], link[64], line[256];
	unsigned long inodes[64];
	int n = 0, found = 0;
	DIR *d;
	struct dirent *e;
	FILE *nl;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < 64) {
		char fdpath[64 + sizeof(e->d_name)];
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			if (sscanf(link, "socket:[%lu]", &inodes[n]) == 1)
				n++;
		}
	}
	closedir(d);
	nl = fopen("/proc/net/netlink", "r");
	if (nl == NULL)
		return 0;
	while (fgets(line, sizeof(line), nl) != NULL) {
		unsigned long inode;
		int proto;

		if (sscanf(line, "%*s %d %*s %*s %*s %*s %*s %*s %*s %lu", &proto, &inode) == 2 &&
		    proto == 4)
			for (int i = 0; i < n; i++)
				found |= inodes[i] == inode;
	}
	fclose(nl);
	return found;
}

/* In `socklab watch --batch` text, the browser's sockets: those whose
 * peer is the server's port. Each is a line "  #N kind LOCAL PEER STATE",
 * then its changes, "     T FROM -> TO (...)". Returns how many there
 * were (*sockets) and the most that were ESTABLISHED at one moment. */
static int most_at_once(const char *text, const char *port, int *sockets)
{
	double start[64], stop[64];
	char want[32];
	int n = 0, most = 0;

	snprintf(want, sizeof(want), "127.0.0.1:%s", port);
	for (const char *l = text; l != NULL && *l != '\0' && n < 64;) {
		char local[64], peer[64];
		const char *eol = strchr(l, '\n');
		int k;

		if (sscanf(l, "  #%d %*s %63s %63s", &k, local, peer) != 3 || strcmp(peer, want) != 0) {
			l = eol != NULL ? eol + 1 : NULL;
			continue;
		}
		start[n] = -1;
		stop[n] = 1e9;
		for (l = eol != NULL ? eol + 1 : NULL; l != NULL && strncmp(l, "     ", 5) == 0;) {
			const char *end = strchr(l, '\n'), *to = strstr(l, " -> ");
			double t;

			if (sscanf(l, " %lf", &t) == 1 && to != NULL && (end == NULL || to < end)) {
				if (strncmp(to, " -> ESTABLISHED", 15) == 0)
					start[n] = t;
				else if (start[n] >= 0 && stop[n] > 1e8)
					stop[n] = t;
			}
			l = end != NULL ? end + 1 : NULL;
		}
		if (start[n] >= 0)
			n++;
	}
	for (int i = 0; i < n; i++) {
		int at = 0;

		for (int j = 0; j < n; j++)
			at += start[j] <= start[i] && start[i] < stop[j];
		most = at > most ? at : most;
	}
	*sockets = n;
	return most;
}

static void test_a_browser_loads_the_page(void **state)
{
	struct fx *f = *state;
	char url[128], profile[160], socklab[PATH_MAX], timeout[16];
	const char *build = getenv("SOCKLAB_BUILD");
	struct h_proc watch;
	int sockets, at_once;

	if (!h_have("chromium"))
		fail_msg("chromium is not installed (make deps installs it for this test)");
	/* The lesson's own page (its default root): 12 images and a script
	 * that writes how many arrived into the title. */
	{
		char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
				 "-v", NULL };

		assert_int_equal(h_start(&f->srv, argv), 0);
		assert_int_equal(h_wait_listening(&f->srv, DEADLINE_MS), 0);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/", f->srv.port);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium", base);
	snprintf(socklab, sizeof(socklab), "%s/socklab", build != NULL && *build ? build : "build");
	/* Long enough for chromium to start and load the page on a busy
	 * machine; the server under valgrind takes longer. */
	snprintf(timeout, sizeof(timeout), "%d", h_under_valgrind() ? 15 : 5);
	{
		/* socklab watch PORT, without a screen, for the load. */
		char *argv[] = { socklab, "watch", f->srv.port, "--batch", "--timeout", timeout, NULL };
		pid_t pid;

		assert_int_equal(h_start(&watch, argv), 0);
		pid = watch.pid;
		if (!h_poll_until(has_diag_socket, &pid, DEADLINE_MS)) {
			h_stop(&watch, SIGKILL, DEADLINE_MS);
			fail_msg("socklab watch did not start watching: %s", watch.errbuf);
		}
	}
	{
		char *argv[] = { "chromium", "--headless", "--no-sandbox", "--disable-gpu",
				 "--disable-quic", "--no-first-run", "--no-default-browser-check",
				 "--disable-background-networking", "--disable-component-update",
				 "--disable-sync", "--disable-extensions", "--disable-default-apps",
				 "--metrics-recording-only", "--mute-audio", profile, "--dump-dom",
				 url, NULL };
		int rc = h_run(&f->cl, argv, NULL, 0, 6 * DEADLINE_MS);

		if (rc != 0 || strstr(f->cl.outbuf, "<title>loaded 12 of 12 images</title>") == NULL)
			fail_msg("chromium (exit %d) did not get every image; the page's title: %.60s",
				 rc, strstr(f->cl.outbuf, "<title>") ? strstr(f->cl.outbuf, "<title>")
								     : f->cl.outbuf);
	}
	/* The server's side: the page, its style sheet, 12 images. */
	assert_int_equal(h_wait_count(&f->srv, "out", "\"GET /img/", 12, DEADLINE_MS), 0);
	if (h_count(f->srv.outbuf, " connected (fd ") < 2)
		fail_msg("the browser used %d connection(s); a browser opens several",
			 h_count(f->srv.outbuf, " connected (fd "));
	/* socklab watch saw them, several at the same moment. */
	if (h_wait_exit(&watch, DEADLINE_MS + 15000) != 0)
		fail_msg("socklab watch --batch did not end well: %s", watch.errbuf);
	at_once = most_at_once(watch.outbuf, f->srv.port, &sockets);
	print_message("chromium: %d connections, socklab watch saw %d, at most %d at once\n",
		      h_count(f->srv.outbuf, " connected (fd "), sockets, at_once);
	if (sockets < 2 || at_once < 2)
		fail_msg("socklab watch saw %d of the browser's connections, %d at once; its "
			 "output:\n%.1500s", sockets, at_once, watch.outbuf);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* ---- fetch ---------------------------------------------------------------------------------------- */

static int run_fetch(struct h_proc *p, const char *a1, const char *a2, const char *a3,
		     const char *a4, const char *a5, const char *a6)
{
	char *argv[] = { (char *)h_lesson(LESSON, "fetch"), (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, NULL };

	return h_run(p, argv, NULL, 0, DEADLINE_MS);
}

static void test_fetch_keeps_one_connection(void **state)
{
	struct fx *f = *state;
	char u1[128], u2[128], u3[128], echo[128];

	start_server(&f->srv, "-v", NULL);
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%s/hello.txt", f->srv.port);
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%s/a%%20b.txt", f->srv.port);
	snprintf(u3, sizeof(u3), "http://127.0.0.1:%s/sub/", f->srv.port);
	snprintf(echo, sizeof(echo), "http://127.0.0.1:%s/echo", f->srv.port);
	/* Three URLs, one connection, the bodies in order. */
	assert_int_equal(run_fetch(&f->cl, "-v", u1, u2, u3, NULL, NULL), 0);
	assert_string_equal(f->cl.outbuf, HELLO "a space\nsub index\n");
	assert_int_equal(h_count(f->cl.errbuf, "* connected to "), 1);
	assert_int_equal(h_wait_output(&f->srv, "out", "disconnected (3 requests)", DEADLINE_MS), 0);
	/* Pipelined: the three requests in one go, answers in order. */
	assert_int_equal(run_fetch(&f->cl, "-P", u3, u1, u2, NULL, NULL), 0);
	assert_string_equal(f->cl.outbuf, "sub index\n" HELLO "a space\n");
	/* POST, and the big file byte for byte. */
	assert_int_equal(run_fetch(&f->cl, "-d", "fetched", echo, NULL, NULL, NULL), 0);
	assert_string_equal(f->cl.outbuf, "fetched");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_fetch_says_what_failed(void **state)
{
	struct fx *f = *state;
	char ok[128], missing[128], refused[64];

	start_server(&f->srv, NULL);
	snprintf(ok, sizeof(ok), "http://127.0.0.1:%s/hello.txt", f->srv.port);
	snprintf(missing, sizeof(missing), "http://127.0.0.1:%s/nope", f->srv.port);
	/* A 404 among others: every body, and exit 1 naming it. */
	assert_int_equal(run_fetch(&f->cl, ok, missing, ok, NULL, NULL, NULL), 1);
	assert_string_equal(f->cl.outbuf, HELLO "404 Not Found: no such file\n" HELLO);
	assert_non_null(strstr(f->cl.errbuf, "/nope: 404 Not Found"));
	/* HEAD: the head with -i, no body. */
	assert_int_equal(run_fetch(&f->cl, "-I", "-i", ok, NULL, NULL, NULL), 0);
	assert_true(strncmp(f->cl.outbuf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(f->cl.outbuf, "\r\n\r\n"));
	assert_string_equal(strstr(f->cl.outbuf, "\r\n\r\n"), "\r\n\r\n");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	/* No one listens there any more: exit 1. */
	snprintf(refused, sizeof(refused), "http://127.0.0.1:%s/", f->srv.port);
	assert_int_equal(run_fetch(&f->cl, refused, NULL, NULL, NULL, NULL, NULL), 1);
	assert_non_null(strstr(f->cl.errbuf, "connect"));
}

/* ---- stopping and the command line ------------------------------------------------------------------ */

static void test_signals_stop_it(void **state)
{
	struct fx *f = *state;
	const int sigs[] = { SIGTERM, SIGINT };

	for (int i = 0; i < 4; i++) {
		struct conn *c;

		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, NULL);
		/* With a client connected and a request half sent. */
		c = open_conn(f, f->srv.port);
		send_text(c, "GET / HTTP/1.1\r\nHo");
		assert_int_equal(h_stop(&f->srv, sigs[i % 2], DEADLINE_MS), 0);
		assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
		close_conn(f, c);
	}
}

static void test_help_and_bad_options(void **state)
{
	struct fx *f = *state;
	const char *progs[] = { "server", "fetch" };
	char *const bad[][4] = {
		{ "server", "-c", "0", NULL },
		{ "server", "-t", "0", NULL },
		{ "server", "-p", "70000", NULL },
		{ "server", "-x", NULL, NULL },
		{ "server", "extra", NULL, NULL },
		{ "fetch", NULL, NULL, NULL },                       /* no URL */
		{ "fetch", "ftp://127.0.0.1/", NULL, NULL },
		{ "fetch", "http://127.0.0.1:0/", NULL, NULL },
		{ "fetch", "http://127.0.0.1:99999/", NULL, NULL },
		{ "fetch", "http:///x", NULL, NULL },
		{ "fetch", "-t", "0", "http://127.0.0.1/" },
	};
	const char *why = h_check_usage(&f->cl, LESSON, progs, sizeof(progs) / sizeof(progs[0]),
					bad, sizeof(bad) / sizeof(bad[0]), DEADLINE_MS);

	if (why != NULL)
		fail_msg("%s", why);
	{
		char *argv[] = { (char *)h_lesson(LESSON, "server"), "-r", "/nonexistent/root", NULL };

		assert_int_equal(h_run(&f->cl, argv, NULL, 0, DEADLINE_MS), 1);
		assert_non_null(strstr(f->cl.errbuf, "document root /nonexistent/root"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers_200_with_a_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_request_line_is_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_gets_no_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_name_files_or_404, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_path_leaves_the_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_fields_are_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_come_whole_with_their_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_304_and_301, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_connection_many_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests_are_answered_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http10_closes_unless_asked_to_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clients_are_served_side_by_side, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_silent_client_is_closed_after_the_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_cap_keeps_extra_clients_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_echo_with_a_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_echo_in_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_bad_request_gets_its_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_megabyte_header_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_slowloris_is_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_thousand_idle_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_curl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_python_http_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_browser_loads_the_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_keeps_one_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_says_what_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals_stop_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_bad_options, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, make_root, remove_root);
}
