/* test_04_framing.c — lesson 04: the framing server and client.
 *
 * What these tests prove, each against the real programs on 127.0.0.1 and
 * a port the server picked:
 *  - in each framing (fixed, delim, length), 200 messages of random length,
 *    cut into random pieces with pauses, come out of the server whole, in
 *    order, byte for byte (its printed lines equal the ones we compute),
 *    and the client sees all 200 acknowledgements match;
 *  - the --naive server (one recv() = one message) gets every byte but
 *    splits and glues the messages: pieces larger than any frame make its
 *    message count smaller than the sent count, always;
 *  - with -v, the send() and recv() sizes add up to the stream's size while
 *    the pieces stay within 1..K;
 *  - a length header of 0xFFFFFFFF, a header one byte over the limit, and a
 *    line longer than the limit each get that client dropped with a clear
 *    message, while a message of exactly the limit is accepted and the next
 *    client is served;
 *  - a client that closes mid-message is reported as truncated (after its
 *    whole messages were acknowledged) and the server keeps serving;
 *  - tools we did not write interoperate: Python's socket module with
 *    struct.pack('!I', ...) length prefixes, and nc sending lines;
 *  - -h exits 0, bad options exit 2 with a message, SIGTERM ends the server
 *    cleanly, and the client refuses a line too long for a fixed record.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "04-framing"
#define NMSG 200
#define PREVIEW_MAX 60   /* the server prints this much of each message */

/* ---- fixture: whatever a test started is stopped, even on failure ------ */

struct fx {
	struct h_proc server;
	struct h_proc client;
	int fd;              /* a raw connection the test drives, or -1 */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->fd = -1;
	*state = f;
	return 0;
}

static void kill_if_running(struct h_proc *p)
{
	if (p->pid > 0 && p->status < 0)
		h_stop(p, SIGKILL, 2000);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	kill_if_running(&f->client);
	kill_if_running(&f->server);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	return 0;
}

/* Our own socket timeouts (the harness stretches only its deadlines). */
static int io_timeout_ms(void)
{
	return h_under_valgrind() ? 50000 : 5000;
}

/* ---- test data ----------------------------------------------------------- */

struct msgs {
	char *text[NMSG];
	size_t len[NMSG];
	size_t n;
};

/* n printable messages (all of ' '..'~', so '"' and '\\' are among them)
 * with lengths in lo..hi, reproducible from seed. */
static void make_msgs(struct msgs *m, size_t n, size_t lo, size_t hi, unsigned seed)
{
	unsigned char r[2];

	assert_true(n <= NMSG);
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		h_random_bytes(r, sizeof(r), seed * 1000 + (unsigned)i);
		m->len[i] = lo + (((size_t)r[0] << 8) | r[1]) % (hi - lo + 1);
		m->text[i] = malloc(m->len[i] + 1);
		assert_non_null(m->text[i]);
		h_random_bytes(m->text[i], m->len[i], seed * 7919 + (unsigned)i);
		for (size_t j = 0; j < m->len[i]; j++)
			m->text[i][j] = (char)(' ' + (unsigned char)m->text[i][j] % 95);
		m->text[i][m->len[i]] = '\0';
	}
}

static void free_msgs(struct msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->text[i]);
}

/* The messages as input lines for the client; caller frees. */
static char *as_lines(const struct msgs *m, size_t *len)
{
	size_t total = 0, at = 0;
	char *buf;

	for (size_t i = 0; i < m->n; i++)
		total += m->len[i] + 1;
	buf = malloc(total + 1);
	assert_non_null(buf);
	for (size_t i = 0; i < m->n; i++) {
		memcpy(buf + at, m->text[i], m->len[i]);
		at += m->len[i];
		buf[at++] = '\n';
	}
	*len = total;
	return buf;
}

/* The line the server should print for message seq, written here
 * independently of the server: quotes, escapes, and "..." past 60 bytes. */
static void expected_line(char *out, size_t cap, long seq, const char *p, size_t len)
{
	size_t shown = len < PREVIEW_MAX ? len : PREVIEW_MAX;
	int at = snprintf(out, cap, "message %ld (%zu bytes): \"", seq, len);

	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n')
			at += snprintf(out + at, cap - (size_t)at, "\\n");
		else if (c == '"' || c == '\\')
			at += snprintf(out + at, cap - (size_t)at, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			at += snprintf(out + at, cap - (size_t)at, "\\x%02x", c);
		else
			at += snprintf(out + at, cap - (size_t)at, "%c", c);
	}
	snprintf(out + at, cap - (size_t)at, "\"%s", shown < len ? "..." : "");
}

/* FNV-1a 32, as the protocol defines the ack checksum. */
static uint32_t fnv1a(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/* Count lines of text that start with prefix. */
static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *l = text; l != NULL && *l != '\0'; ) {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, prefix, plen) == 0)
			n++;
		l = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

/* Sum of the numbers after prefix on the lines that start with it. */
static long long sum_after(const char *text, const char *prefix, long *min, long *max)
{
	long long sum = 0;
	size_t plen = strlen(prefix);

	*min = -1;
	*max = -1;
	for (const char *l = text; l != NULL && *l != '\0'; ) {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, prefix, plen) == 0) {
			long v = strtol(l + plen, NULL, 10);

			sum += v;
			if (*min < 0 || v < *min)
				*min = v;
			if (v > *max)
				*max = v;
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
	return sum;
}

/* The sum of LEN over the server's "message N (LEN bytes)" lines. */
static long long sum_message_lengths(const char *text)
{
	long long sum = 0;

	for (const char *l = text; l != NULL && *l != '\0'; ) {
		const char *nl = strchr(l, '\n');
		long seq, n;

		if (sscanf(l, "message %ld (%ld bytes)", &seq, &n) == 2)
			sum += n;
		l = nl != NULL ? nl + 1 : NULL;
	}
	return sum;
}

/* Every "message " line of the server's output, in order, must be the
 * expected line for the next sent message, and there must be exactly n. */
static void assert_server_printed(const char *out, const struct msgs *m)
{
	size_t i = 0;
	char want[512];

	for (const char *l = out; l != NULL && *l != '\0'; ) {
		const char *nl = strchr(l, '\n');
		size_t llen = nl != NULL ? (size_t)(nl - l) : strlen(l);

		if (strncmp(l, "message ", 8) == 0) {
			assert_true(i < m->n);
			expected_line(want, sizeof(want), (long)i + 1, m->text[i], m->len[i]);
			if (llen != strlen(want) || strncmp(l, want, llen) != 0)
				fail_msg("line %zu is\n  %.*s\nwanted\n  %s", i + 1, (int)llen, l, want);
			i++;
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
	assert_int_equal(i, m->n);
}

/* ---- running the programs ------------------------------------------------ */

/* Start the server with the given options (NULL-terminated) and wait for
 * its port. */
static void start_server(struct h_proc *s, const char *opt, ...)
{
	char *argv[24];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)h_lesson(LESSON, "server");
	va_start(ap, opt);
	for (const char *a = opt; a != NULL && argc < 23; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(h_start(s, argv), 0);
	if (h_wait_listening(s, 5000) < 0)
		fail_msg("server did not announce its port; stderr: %s", s->errbuf);
	if (strncmp(s->addr, "127.0.0.1:", 10) != 0)
		fail_msg("server listens on %s, not on 127.0.0.1", s->addr);
}

/* Run the client against port with input on stdin; returns its exit code. */
static int run_client(struct h_proc *c, const char *port, const void *input,
		      size_t inlen, const char *opt, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)h_lesson(LESSON, "client");
	argv[argc++] = "-p";
	argv[argc++] = (char *)port;
	va_start(ap, opt);
	for (const char *a = opt; a != NULL && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return h_run(c, argv, input, inlen, 20000);
}

/* Run a program (no lesson program) to completion; returns its exit code. */
static int run_tool(struct h_proc *p, char *const argv[], const void *input, size_t inlen)
{
	return h_run(p, argv, input, inlen, 20000);
}

/* ---- raw connections: bytes no well-behaved client would send ---------- */

static void raw_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void raw_recv_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("recv: %s", n == 0 ? "end of file" : strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

static int raw_connect(const char *port)
{
	int fd = h_connect(port, io_timeout_ms());

	if (fd < 0)
		fail_msg("connect to port %s: %s", port, strerror(errno));
	return fd;
}

/* The server must have closed this connection: recv() sees end of file,
 * or a reset when it closed with our bytes unread. A timeout (EAGAIN, from
 * SO_RCVTIMEO) means it kept us. */
static void assert_dropped(int fd)
{
	char c;
	ssize_t n;

	do
		n = recv(fd, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != ECONNRESET)
		fail_msg("the server did not drop the client: recv: %s", strerror(errno));
	assert_true(n <= 0);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Read one acknowledgement in the given framing and check it says
 * "ack SEQ LEN CHECKSUM" for this message. */
static void assert_raw_ack(int fd, const char *mode, long seq, const char *msg, size_t len)
{
	char got[4200], want[64];
	size_t n = 0;

	snprintf(want, sizeof(want), "ack %ld %zu %08lx", seq, len,
		 (unsigned long)fnv1a(msg, len));
	if (strcmp(mode, "length") == 0) {
		unsigned char hdr[4];

		raw_recv_exact(fd, hdr, 4);
		n = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
		assert_true(n < 64);
		raw_recv_exact(fd, got, n);
	} else if (strcmp(mode, "delim") == 0) {
		do
			raw_recv_exact(fd, got + n, 1);
		while (got[n++] != '\n' && n < 64);
		assert_int_equal(got[n - 1], '\n');
		n--;
	} else {
		raw_recv_exact(fd, got, 32); /* one record of the default size */
		n = strnlen(got, 32);
		for (size_t i = n; i < 32; i++)
			assert_int_equal(got[i], '\0');
	}
	got[n] = '\0';
	assert_string_equal(got, want);
}

/* ---- 1. the three framings reassemble a randomly cut stream ------------ */

static void reassembles(void **state, const char *mode, unsigned seed)
{
	struct fx *f = *state;
	int fixed = strcmp(mode, "fixed") == 0;
	struct msgs m;
	char *input, done[64];
	size_t inlen;
	int rc;

	/* Lengths from 0 (an empty message is a message too) to past the
	 * preview; a fixed record of 64 bytes holds at most 64. */
	make_msgs(&m, NMSG, 0, fixed ? 64 : 150, seed);
	input = as_lines(&m, &inlen);
	if (fixed)
		start_server(&f->server, "-m", mode, "-r", "64", "-n", "1", NULL);
	else
		start_server(&f->server, "-m", mode, "-n", "1", NULL);

	/* Pieces of 1..40 bytes with pauses of 0..2 ms: about 0.7 s. */
	if (fixed)
		rc = run_client(&f->client, f->server.port, input, inlen, "-m", mode,
				"-r", "64", "-k", "40", "-d", "2", NULL);
	else
		rc = run_client(&f->client, f->server.port, input, inlen, "-m", mode,
				"-k", "40", "-d", "2", NULL);
	if (rc != 0)
		fail_msg("client exit %d; stderr: %s", rc, f->client.errbuf);
	snprintf(done, sizeof(done), "all %d messages acknowledged", NMSG);
	assert_non_null(strstr(f->client.outbuf, done));

	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_server_printed(f->server.outbuf, &m);
	snprintf(done, sizeof(done), "disconnected after %d messages", NMSG);
	assert_non_null(strstr(f->server.outbuf, done));
	free(input);
	free_msgs(&m);
}

static void test_fixed_reassembles(void **state)
{
	reassembles(state, "fixed", 1);
}

static void test_delim_reassembles(void **state)
{
	reassembles(state, "delim", 2);
}

static void test_length_reassembles(void **state)
{
	reassembles(state, "length", 3);
}

/* ---- 2. -v: the pieces are real, and every byte is accounted for ------- */

static void test_verbose_pieces_add_up(void **state)
{
	struct fx *f = *state;
	long long sent, received;
	long lo, hi, rlo, rhi;
	unsigned long nmsg = 0, stream = 0;
	const char *at;

	start_server(&f->server, "-m", "length", "-n", "1", "-v", NULL);
	assert_int_equal(run_client(&f->client, f->server.port, NULL, 0, "-m", "length",
				    "-c", "30", "-s", "7", "-k", "7", "-d", "1", "-v", NULL), 0);
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);

	at = strstr(f->client.outbuf, "sending ");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "sending %lu messages (%lu bytes", &nmsg, &stream), 2);
	assert_int_equal(nmsg, 30);
	sent = sum_after(f->client.outbuf, "send() returned ", &lo, &hi);
	received = sum_after(f->server.outbuf, "recv() returned ", &rlo, &rhi);
	assert_int_equal(sent, (long long)stream);
	assert_int_equal(received, (long long)stream);
	/* Every piece within 1..K = 7: more pieces than messages. */
	assert_true(lo >= 1 && hi <= 7);
	assert_true(count_lines(f->client.outbuf, "send() returned ") > nmsg);
	assert_int_equal(count_lines(f->server.outbuf, "message "), 30);
}

/* ---- 3. the naive server mis-frames the same stream --------------------- */

static void test_naive_misframes(void **state)
{
	struct fx *f = *state;
	struct msgs m;
	char *input;
	size_t inlen, lines;
	int rc;

	/* Frames of 11..21 bytes sent in pieces of exactly 64 bytes: every
	 * piece holds parts of several messages. TCP may glue pieces together
	 * but never cuts one this small, and the server's buffer (-M 65536)
	 * is larger than the whole stream (about 3 KB), so each recv() ends
	 * where some piece ended: at most ceil(stream / 64) "messages", far
	 * fewer than 200, however the timing falls. */
	make_msgs(&m, NMSG, 10, 20, 4);
	input = as_lines(&m, &inlen);
	start_server(&f->server, "-m", "delim", "--naive", "-M", "65536", "-n", "1", NULL);
	rc = run_client(&f->client, f->server.port, input, inlen, "-m", "delim",
			"-k", "64", "-e", "-d", "1", NULL);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(f->client.errbuf, "mismatch"));
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);

	lines = count_lines(f->server.outbuf, "message ");
	assert_true(lines > 0);
	assert_int_not_equal(lines, NMSG);
	assert_true(lines <= (inlen + 63) / 64);
	/* It did get every byte; only the boundaries are wrong. */
	assert_int_equal(sum_message_lengths(f->server.outbuf), (long long)inlen);
	free(input);
	free_msgs(&m);
}

/* ---- 4. limits: oversized headers and lines are refused ----------------- */

static void test_length_limits(void **state)
{
	struct fx *f = *state;
	unsigned char hdr[8];
	char input[1100];
	int rc;

	start_server(&f->server, "-m", "length", "-M", "1024", "-n", "3", NULL);

	/* 0xFFFFFFFF: a 4 GiB message. The server must not wait for it. */
	f->fd = raw_connect(f->server.port);
	memcpy(hdr, "\xff\xff\xff\xff" "abcd", 8);
	raw_send(f->fd, hdr, 8);
	if (h_wait_output(&f->server, "err", "announces 4294967295 bytes", 5000) < 0)
		fail_msg("no refusal; stderr: %s", f->server.errbuf);
	assert_non_null(strstr(f->server.errbuf, "dropping the client"));
	assert_dropped(f->fd);
	close(f->fd);

	/* One byte over the limit is refused as well. */
	f->fd = raw_connect(f->server.port);
	put_be32(hdr, 1025);
	raw_send(f->fd, hdr, 4);
	if (h_wait_output(&f->server, "err", "announces 1025 bytes", 5000) < 0)
		fail_msg("no refusal of 1025; stderr: %s", f->server.errbuf);
	assert_dropped(f->fd);
	close(f->fd);
	f->fd = -1;

	/* The next client is served, and exactly 1024 bytes is allowed. */
	memset(input, 'x', 1024);
	memcpy(input + 1024, "\nhello\n\nbye\n", 12);
	rc = run_client(&f->client, f->server.port, input, 1036, "-m", "length", NULL);
	if (rc != 0)
		fail_msg("client exit %d; stderr: %s", rc, f->client.errbuf);
	assert_non_null(strstr(f->client.outbuf, "all 4 messages acknowledged"));
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "message 1 (1024 bytes): "));
	assert_non_null(strstr(f->server.outbuf, "message 4 (3 bytes): \"bye\""));
}

static void test_long_line_dropped(void **state)
{
	struct fx *f = *state;
	char line[300];
	int rc;

	start_server(&f->server, "-m", "delim", "-M", "100", "-n", "2", NULL);

	/* 300 bytes and no '\n': the server gives up after 101. */
	f->fd = raw_connect(f->server.port);
	memset(line, 'a', sizeof(line));
	raw_send(f->fd, line, sizeof(line));
	if (h_wait_output(&f->server, "err", "longer than the limit of 100 bytes", 5000) < 0)
		fail_msg("no refusal; stderr: %s", f->server.errbuf);
	assert_non_null(strstr(f->server.errbuf, "dropping the client"));
	assert_dropped(f->fd);
	close(f->fd);
	f->fd = -1;

	/* A line of exactly 100 bytes is fine, and so is an empty one. */
	memset(line, 'b', 100);
	memcpy(line + 100, "\n\n", 2);
	rc = run_client(&f->client, f->server.port, line, 102, "-m", "delim", NULL);
	if (rc != 0)
		fail_msg("client exit %d; stderr: %s", rc, f->client.errbuf);
	assert_non_null(strstr(f->client.outbuf, "all 2 messages acknowledged"));
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "message 1 (100 bytes): "));
	assert_non_null(strstr(f->server.outbuf, "message 2 (0 bytes): \"\""));
}

/* ---- 5. a client that closes mid-message -------------------------------- */

static void truncated(void **state, const char *mode, const void *stream,
		      size_t len, const char *report)
{
	struct fx *f = *state;
	char want[128];

	start_server(&f->server, "-m", mode, "-n", "2", NULL);
	f->fd = raw_connect(f->server.port);
	raw_send(f->fd, stream, len);
	/* The whole first message is acknowledged before we hang up. */
	assert_raw_ack(f->fd, mode, 1, "whole", 5);
	close(f->fd);
	f->fd = -1;
	if (h_wait_output(&f->server, "err", "truncated", 5000) < 0)
		fail_msg("no truncation report; stderr: %s", f->server.errbuf);
	snprintf(want, sizeof(want), "message 2 truncated: the client closed after %s", report);
	if (strstr(f->server.errbuf, want) == NULL)
		fail_msg("wanted \"%s\" in: %s", want, f->server.errbuf);
	assert_non_null(strstr(f->server.outbuf, "message 1 (5 bytes): \"whole\""));

	/* The server goes on to the next client. */
	assert_int_equal(run_client(&f->client, f->server.port, "next\n", 5, "-m", mode, NULL), 0);
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "message 1 (4 bytes): \"next\""));
}

static void test_truncated_fixed(void **state)
{
	char stream[32 + 10] = "whole";

	memcpy(stream + 32, "half a rec", 10);
	truncated(state, "fixed", stream, sizeof(stream), "10 of 32 bytes");
}

static void test_truncated_delim(void **state)
{
	truncated(state, "delim", "whole\npart", 10, "4 bytes with no '\\n'");
}

static void test_truncated_length(void **state)
{
	unsigned char stream[4 + 5 + 4 + 4];

	put_be32(stream, 5);
	memcpy(stream + 4, "whole", 5);
	put_be32(stream + 9, 10);
	memcpy(stream + 13, "part", 4);
	truncated(state, "length", stream, sizeof(stream), "4 of 10 payload bytes");
}

static void test_truncated_header(void **state)
{
	unsigned char stream[4 + 5 + 1];

	/* A single byte left over is still part of a message. */
	put_be32(stream, 5);
	memcpy(stream + 4, "whole", 5);
	stream[9] = 0;
	truncated(state, "length", stream, sizeof(stream), "1 of 4 header bytes");
}

/* ---- 6. tools we did not write ------------------------------------------ */

/* Python sends length-prefixed messages (all at once, so they arrive
 * glued together) and checks each acknowledgement. */
static const char python_client[] =
	"import socket, struct, sys\n"
	"def fnv(b):\n"
	"    h = 2166136261\n"
	"    for c in b:\n"
	"        h = ((h ^ c) * 16777619) & 0xffffffff\n"
	"    return h\n"
	"def exact(s, n):\n"
	"    b = b''\n"
	"    while len(b) < n:\n"
	"        c = s.recv(n - len(b))\n"
	"        if not c:\n"
	"            sys.exit('eof after %d of %d bytes' % (len(b), n))\n"
	"        b += c\n"
	"    return b\n"
	"msgs = [b'hello', b'', b'two\\nlines\\x00\\xff', bytes(range(256)) * 3]\n"
	"s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)\n"
	"s.sendall(b''.join(struct.pack('!I', len(m)) + m for m in msgs))\n"
	"s.shutdown(socket.SHUT_WR)\n"
	"for i, m in enumerate(msgs, 1):\n"
	"    (n,) = struct.unpack('!I', exact(s, 4))\n"
	"    ack = exact(s, n).decode()\n"
	"    want = 'ack %d %d %08x' % (i, len(m), fnv(m))\n"
	"    if ack != want:\n"
	"        sys.exit('got %r, wanted %r' % (ack, want))\n"
	"if s.recv(1) != b'':\n"
	"    sys.exit('more than %d acks' % len(msgs))\n"
	"print('python: %d acks ok' % len(msgs))\n";

static void test_python_length_prefix(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "python3", "-c", (char *)python_client, NULL, NULL };
	int rc;

	if (!h_have("python3"))
		skip();
	start_server(&f->server, "-m", "length", "-n", "1", NULL);
	argv[3] = f->server.port;
	rc = run_tool(&f->client, argv, NULL, 0);
	if (rc != 0)
		fail_msg("python exit %d: %s", rc, f->client.errbuf);
	assert_non_null(strstr(f->client.outbuf, "python: 4 acks ok"));
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "message 2 (0 bytes): \"\""));
	assert_non_null(strstr(f->server.outbuf,
			       "message 3 (11 bytes): \"two\\nlines\\x00\\xff\""));
	assert_non_null(strstr(f->server.outbuf, "message 4 (768 bytes): \"\\x00\\x01"));
}

/* nc sends lines; -N shuts its sending side down at end of input, so the
 * server sees end of file and nc prints the acks it got. */
static void test_nc_lines(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "nc", "-N", "127.0.0.1", NULL, NULL };
	const char *second = "world, \"quoted\"";
	char want[128];
	int rc;

	if (!h_have("nc"))
		skip();
	start_server(&f->server, "-m", "delim", "-n", "1", NULL);
	argv[3] = f->server.port;
	snprintf(want, sizeof(want), "hello\n%s\n", second);
	rc = run_tool(&f->client, argv, want, strlen(want));
	if (rc != 0)
		fail_msg("nc exit %d: %s", rc, f->client.errbuf);
	snprintf(want, sizeof(want), "ack 1 5 %08lx\nack 2 %zu %08lx\n",
		 (unsigned long)fnv1a("hello", 5), strlen(second),
		 (unsigned long)fnv1a(second, strlen(second)));
	assert_string_equal(f->client.outbuf, want);
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "message 1 (5 bytes): \"hello\"\n"
			       "message 2 (15 bytes): \"world, \\\"quoted\\\"\"\n"));
}

/* ---- 7. the command line and shutting down ------------------------------- */

struct bad_case {
	const char *prog;
	const char *args[8];
	const char *says;
};

static void test_options(void **state)
{
	struct fx *f = *state;
	static const struct bad_case bad[] = {
		{ "server", { "-m", "bogus" }, "bad mode 'bogus'" },
		{ "server", { "-p", "70000" }, "bad port '70000'" },
		{ "server", { "-r", "8" }, "bad record size '8'" },
		{ "server", { "-M", "0" }, "bad maximum message size '0'" },
		{ "server", { "--frobnicate" }, "unknown option --frobnicate" },
		{ "server", { "-m" }, "option -m needs an argument" },
		{ "client", { "-x" }, "unknown option -x" },
		{ "server", { "extra" }, "unexpected argument 'extra'" },
		{ "client", { "-c", "5" }, "missing -p PORT" },
		{ "client", { "-p", "0" }, "bad port '0'" },
		{ "client", { "-p", "1", "-k", "0" }, "bad piece size '0'" },
		{ "client", { "-p", "1", "-d", "-1" }, "bad delay '-1'" },
		{ "client", { "-p", "1", "-c", "5", "-f", "x" }, "cannot be used together" },
		{ "client", { "-p", "1", "-m", "lines" }, "bad mode 'lines'" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[10];
		int argc = 0;
		struct h_proc *p = &f->client;

		argv[argc++] = (char *)h_lesson(LESSON, bad[i].prog);
		for (int j = 0; bad[i].args[j] != NULL; j++)
			argv[argc++] = (char *)bad[i].args[j];
		argv[argc] = NULL;
		assert_int_equal(h_run(p, argv, NULL, 0, 10000), 2);
		if (strstr(p->errbuf, bad[i].says) == NULL)
			fail_msg("case %zu: wanted \"%s\" in: %s", i, bad[i].says, p->errbuf);
	}
	for (int i = 0; i < 2; i++) {
		const char *prog = i == 0 ? "server" : "client";
		char *argv[] = { (char *)h_lesson(LESSON, prog), "-h", NULL };
		char want[32];

		assert_int_equal(h_run(&f->client, argv, NULL, 0, 10000), 0);
		snprintf(want, sizeof(want), "usage: %s", prog);
		assert_non_null(strstr(f->client.outbuf, want));
		/* valgrind writes its fd report to stderr; otherwise none. */
		if (!h_under_valgrind())
			assert_string_equal(f->client.errbuf, "");
	}
}

static void test_sigterm_stops_server(void **state)
{
	struct fx *f = *state;

	start_server(&f->server, "-m", "length", NULL);
	assert_int_equal(h_stop(&f->server, SIGTERM, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "stopping: signal received"));
}

/* The client checks its input before it connects: a 40-byte line cannot
 * be a 32-byte record. */
static void test_client_refuses_long_record(void **state)
{
	struct fx *f = *state;
	const char input[] = "short\n0123456789012345678901234567890123456789\n";

	start_server(&f->server, "-m", "fixed", NULL);
	assert_int_equal(run_client(&f->client, f->server.port, input, sizeof(input) - 1,
				    "-m", "fixed", NULL), 1);
	assert_non_null(strstr(f->client.errbuf,
			       "line 2 is 40 bytes, longer than a 32-byte record"));
	assert_int_equal(h_stop(&f->server, SIGTERM, 10000), 0);
	assert_null(strstr(f->server.outbuf, "connected"));
}

/* -f FILE: each line of the file is one message; a missing file is a
 * runtime error (exit 1) reported before any connection is made. */
static void test_client_reads_file(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/socklab-test04-......";
	int fd, rc;

	/* mkstemp() replaces the last six characters, which must be 'X's. */
	memset(path + sizeof(path) - 7, 'X', 6);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "one\n\nthree\n", 11), 11);
	close(fd);
	start_server(&f->server, "-m", "length", "-n", "1", NULL);
	rc = run_client(&f->client, f->server.port, NULL, 0, "-m", "length", "-f", path, NULL);
	unlink(path);
	if (rc != 0)
		fail_msg("client exit %d; stderr: %s", rc, f->client.errbuf);
	assert_non_null(strstr(f->client.outbuf, "all 3 messages acknowledged"));
	assert_int_equal(h_wait_exit(&f->server, 10000), 0);
	assert_non_null(strstr(f->server.outbuf, "message 1 (3 bytes): \"one\"\n"
			       "message 2 (0 bytes): \"\"\n"
			       "message 3 (5 bytes): \"three\"\n"));

	/* The file is gone now. */
	assert_int_equal(run_client(&f->client, f->server.port, NULL, 0, "-f", path, NULL), 1);
	assert_non_null(strstr(f->client.errbuf, "No such file or directory"));
	assert_null(strstr(f->client.outbuf, "sending"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fixed_reassembles),
		T(test_delim_reassembles),
		T(test_length_reassembles),
		T(test_verbose_pieces_add_up),
		T(test_naive_misframes),
		T(test_length_limits),
		T(test_long_line_dropped),
		T(test_truncated_fixed),
		T(test_truncated_delim),
		T(test_truncated_length),
		T(test_truncated_header),
		T(test_python_length_prefix),
		T(test_nc_lines),
		T(test_options),
		T(test_sigterm_stops_server),
		T(test_client_refuses_long_record),
		T(test_client_reads_file),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
