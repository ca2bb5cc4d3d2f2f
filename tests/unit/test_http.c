/* test_http.c — lesson 20's HTTP/1.1 parser, lessons/20-http/common.c.
 *
 * The parser is pure (bytes in, a parsed message out), so its source is
 * compiled into this test. What these tests prove:
 *  - a request head is found and parsed whether it arrives whole or a
 *    byte at a time: every prefix says "not yet" (0), the whole says its
 *    length; the empty lines before it are skipped; a bare LF is a line
 *    end too; pipelined requests are parsed one after the other;
 *  - method, target, version and every header field (names as sent,
 *    values without the white space around them) come out right, and the
 *    fields that frame a message are understood: Content-Length,
 *    Transfer-Encoding: chunked, Connection close/keep-alive, Host;
 *  - each bad request gets its status: 400 (syntax, a space before a
 *    colon, line folding, a control character, a bad or doubled
 *    Content-Length, Content-Length with chunked), 414 (a long target,
 *    also while the line is still arriving), 431 (a long head or too many
 *    fields, also before the head is complete), 501 (a method longer than
 *    any), 505 (HTTP/2.0);
 *  - a response head (fetch's side): status, reason, fields;
 *  - chunked bodies decode in place, whole or a byte at a time, with
 *    extensions and trailers; bad chunk syntax is refused;
 *  - request paths decode (%XX, the query dropped) and every way of
 *    climbing out of the root (.., %2e%2e, ..%2f, %00) is refused;
 *  - HTTP dates go both ways, and malformed ones are refused.
 */
// SOURCES: lessons/20-http/common.c
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lessons/20-http/common.h"

static struct http_request rq; /* 4 KiB: off the stack */

/* Parse text (NUL-terminated) as a request head. */
static long parse(const char *text)
{
	return http_parse_request(text, strlen(text), &rq);
}

/* Expect text to be refused with status. */
static void refused(const char *text, int status)
{
	long r = parse(text);

	if (r != -1 || rq.status != status)
		fail_msg("%.60s...: got %ld and status %d, expected -1 and %d", text, r, rq.status,
			 status);
	assert_non_null(rq.error);
}

static int field_is(const struct http_field *f, const char *name, const char *value)
{
	return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0 &&
	       f->value_len == strlen(value) && memcmp(f->value, value, f->value_len) == 0;
}

/* ---- request heads ------------------------------------------------------------ */

static void test_a_request_head(void **state)
{
	const char *text = "GET /index.html?x=1 HTTP/1.1\r\n"
			   "Host: example.org\r\n"
			   "X-Spaced:   some value \t \r\n"
			   "x-empty:\r\n"
			   "Accept: */*\r\n"
			   "\r\n"
			   "BODY";

	(void)state;
	assert_int_equal(parse(text), strlen(text) - 4);
	assert_string_equal(rq.method, "GET");
	assert_string_equal(rq.target, "/index.html?x=1");
	assert_int_equal(rq.minor, 1);
	assert_int_equal(rq.h.count, 4);
	assert_true(field_is(&rq.h.list[0], "Host", "example.org"));
	assert_true(field_is(&rq.h.list[1], "X-Spaced", "some value"));
	assert_true(field_is(&rq.h.list[2], "x-empty", ""));
	assert_true(field_is(&rq.h.list[3], "Accept", "*/*"));
	assert_int_equal(rq.h.hosts, 1);
	assert_int_equal(rq.h.content_length, -1);
	assert_false(rq.h.chunked || rq.h.close || rq.h.keep_alive);
	assert_ptr_equal(http_find_field(&rq.h, "x-SPACED"), &rq.h.list[1]);
	assert_null(http_find_field(&rq.h, "Cookie"));
}

static void test_every_prefix_is_not_yet(void **state)
{
	const char *text = "POST /echo HTTP/1.0\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n";
	size_t len = strlen(text);

	(void)state;
	/* Byte by byte, as a slow client sends it. */
	for (size_t n = 0; n < len; n++)
		if (http_parse_request(text, n, &rq) != 0)
			fail_msg("%zu of %zu bytes: not 'not yet' but %s", n, len, rq.error);
	assert_int_equal(http_parse_request(text, len, &rq), len);
	assert_int_equal(rq.minor, 0);
	assert_int_equal(rq.h.content_length, 5);
	assert_true(rq.h.keep_alive);
}

static void test_line_ends_and_empty_lines(void **state)
{
	(void)state;
	/* A bare LF ends a line too (RFC 9112 allows it). */
	assert_int_equal(parse("GET / HTTP/1.1\nHost: a\n\n"), 24);
	assert_true(field_is(&rq.h.list[0], "Host", "a"));
	/* Empty lines before the request line are skipped, and counted. */
	assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 31);
	assert_string_equal(rq.target, "/");
	/* Only empty lines: nothing yet. */
	assert_int_equal(parse("\r\n\r\n"), 0);
	assert_int_equal(parse(""), 0);
}

static void test_pipelined_requests_one_after_another(void **state)
{
	const char *text = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
			   "HEAD /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
			   "GET /c HT";
	long at = 0, n;

	(void)state;
	n = http_parse_request(text, strlen(text), &rq);
	assert_int_equal(n, 28);
	assert_string_equal(rq.target, "/a");
	at += n;
	n = http_parse_request(text + at, strlen(text) - (size_t)at, &rq);
	assert_int_equal(n, 48);
	assert_string_equal(rq.method, "HEAD");
	assert_true(rq.h.close);
	at += n;
	assert_int_equal(http_parse_request(text + at, strlen(text) - (size_t)at, &rq), 0);
}

static void test_framing_fields(void **state)
{
	(void)state;
	assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: Chunked\r\n\r\n") > 0);
	assert_true(rq.h.chunked);
	assert_false(rq.h.other_coding);
	assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") > 0);
	assert_true(rq.h.other_coding); /* the server answers 501 */
	assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n") > 0);
	assert_true(rq.h.close);
	assert_false(rq.h.keep_alive);
	/* The same length twice is one length. */
	assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n") > 0);
	assert_int_equal(rq.h.content_length, 7);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") > 0);
	assert_int_equal(rq.h.hosts, 2); /* the server refuses it (400) */
	assert_true(parse("GET / HTTP/1.7\r\n\r\n") > 0);
	assert_int_equal(rq.minor, 1); /* a later 1.x is read as 1.1 */
}

static void test_bad_requests_get_their_status(void **state)
{
	char *big = malloc(HTTP_HEAD_MAX + HTTP_TARGET_MAX + 100);

	(void)state;
	assert_non_null(big);
	refused("GET /\r\n\r\n", 400);
	refused("GET  / HTTP/1.1\r\n\r\n", 400);             /* two spaces */
	refused("GET / HTTP/1.1 \r\n\r\n", 400);             /* a space after */
	refused("G(T / HTTP/1.1\r\n\r\n", 400);              /* not a token */
	refused("GET / HTTQ/1.1\r\n\r\n", 400);
	refused("GET / HTTP/1.10\r\n\r\n", 400);
	refused("GET /a\x01 HTTP/1.1\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);  /* space before the colon */
	refused("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400); /* obs-fold */
	refused("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400);   /* a bare CR */
	refused("POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	refused("GET / HTTP/2.0\r\n\r\n", 505);
	refused("PRI * HTTP/2.0\r\n\r\n", 505);
	refused("GET / HTTP/0.9\r\n\r\n", 505);
	refused("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n", 501);

	/* A target one byte too long: 414, complete or not. */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', HTTP_TARGET_MAX);
	strcpy(big + 5 + HTTP_TARGET_MAX, " HTTP/1.1\r\n\r\n");
	refused(big, 414);
	memset(big + 5, 'a', HTTP_TARGET_MAX + 50);
	big[5 + HTTP_TARGET_MAX + 50] = '\0';              /* still arriving */
	refused(big, 414);
	/* Fields longer than the head may be: 431, before the end comes. */
	strcpy(big, "GET / HTTP/1.1\r\nX: ");
	memset(big + 19, 'b', HTTP_HEAD_MAX);
	big[19 + HTTP_HEAD_MAX] = '\0';
	refused(big, 431);
	/* Too many fields. */
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_FIELDS_MAX; i++)
		strcat(big, "A: b\r\n");
	strcat(big, "\r\n");
	refused(big, 431);
	/* Just within the limits: fine. */
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_FIELDS_MAX; i++)
		strcat(big, "A: b\r\n");
	strcat(big, "\r\n");
	assert_int_equal(parse(big), strlen(big));
	assert_int_equal(rq.h.count, HTTP_FIELDS_MAX);
	free(big);
}

/* ---- response heads ------------------------------------------------------------- */

static void test_a_response_head(void **state)
{
	static struct http_response res;
	const char *text = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\n";

	(void)state;
	assert_int_equal(http_parse_response(text, strlen(text) - 1, &res), 0);
	assert_int_equal(http_parse_response(text, strlen(text), &res), strlen(text));
	assert_int_equal(res.status, 404);
	assert_string_equal(res.reason, "Not Found");
	assert_int_equal(res.minor, 1);
	assert_int_equal(res.h.content_length, 10);
	assert_true(res.h.close);
	assert_int_equal(http_parse_response("HTTP/1.0 200\r\n\r\n", 16, &res), 16);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.minor, 0);
	assert_string_equal(res.reason, "");
	assert_int_equal(http_parse_response("HTTP/1.1 2000 OK\r\n\r\n", 20, &res), -1);
	assert_int_equal(http_parse_response("SSH-2.0-OpenSSH\r\n\r\n", 19, &res), -1);
	assert_int_equal(http_parse_response("HTTP/1.1 600 X\r\n\r\n", 18, &res), -1);
}

/* ---- chunked bodies ------------------------------------------------------------------- */

static void test_chunks_decode_in_place(void **state)
{
	const char *body = "5\r\nhello\r\n7;name=value\r\n, world\r\n1\nX\n0\r\nTrailer: t\r\n\r\nNEXT";
	size_t len = strlen(body) - 4;
	char buf[128];
	struct http_chunked st;

	(void)state;
	/* Whole. */
	memset(&st, 0, sizeof(st));
	memcpy(buf, body, strlen(body));
	assert_int_equal(http_chunked_decode(buf, strlen(body), &st), 1);
	assert_int_equal(st.used, len);
	assert_int_equal(st.data, 13);
	assert_memory_equal(buf, "hello, worldX", 13);
	/* A byte at a time: the same bytes plus one more each call. */
	memset(&st, 0, sizeof(st));
	memcpy(buf, body, strlen(body));
	for (size_t n = 0; n < len; n++)
		assert_int_equal(http_chunked_decode(buf, n, &st), 0);
	assert_int_equal(http_chunked_decode(buf, len, &st), 1);
	assert_int_equal(st.used, len);
	assert_memory_equal(buf, "hello, worldX", 13);
	/* Done stays done. */
	assert_int_equal(http_chunked_decode(buf, len, &st), 1);
	/* Upper-case hex and no trailer. */
	memset(&st, 0, sizeof(st));
	strcpy(buf, "A\r\n0123456789\r\n0\r\n\r\n");
	assert_int_equal(http_chunked_decode(buf, strlen(buf), &st), 1);
	assert_int_equal(st.data, 10);
}

static void test_bad_chunks(void **state)
{
	static const char *const bad[] = {
		"x\r\n",                       /* no size */
		"\r\n",
		"5\r\nhelloX\r\n",             /* no CRLF after the data */
		"5\r\nhello\rX",
		"5\rX",
		"1234567890abcdef0\r\n",       /* 17 hex digits */
		"5;\x01\r\n",                  /* a control character in an extension */
		"0\r\n\rX",
		"5=\r\n",
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_chunked st = { 0 };

		strcpy(buf, bad[i]);
		if (http_chunked_decode(buf, strlen(buf), &st) != -1)
			fail_msg("chunks %zu were not refused", i);
	}
}

/* ---- paths ------------------------------------------------------------------------------- */

static void test_paths(void **state)
{
	static const char *const good[][2] = {
		{ "/", "/" },
		{ "/img/01.png?size=2#top", "/img/01.png" },
		{ "/a%20b.txt", "/a b.txt" },
		{ "/%41%7a", "/Az" },
		{ "/..x/x..", "/..x/x.." },
		{ "/./a", "/./a" },
		{ "http://example.org/a/b", "/a/b" },
		{ "HTTP://example.org", "/" },
	};
	static const char *const bad[] = {
		"/..", "/../etc/passwd", "/a/../../b", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E",
		"/..%2fetc", "/a/%2e%2e", "/a%00b", "/%zz", "/%4", "*", "index.html",
		"http://x/../y",
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(http_decode_path(good[i][0], out, sizeof(out)), 0);
		assert_string_equal(out, good[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_decode_path(bad[i], out, sizeof(out)) != -1)
			fail_msg("path %s was not refused (decoded to %s)", bad[i], out);
	assert_int_equal(http_decode_path("/0123456789", out, 11), -1); /* no room */
	assert_int_equal(http_decode_path("/012345678", out, 11), 0);
}

/* ---- dates and reasons ------------------------------------------------------------------- */

static void test_dates(void **state)
{
	char text[32];
	time_t t;

	(void)state;
	http_format_date(784111777, text, sizeof(text));
	assert_string_equal(text, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(http_parse_date(text, strlen(text), &t), 0);
	assert_int_equal(t, 784111777);
	http_format_date(0, text, sizeof(text));
	assert_string_equal(text, "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_int_equal(http_parse_date("Sun, 06 Nov 1994 08:49:37 UTC", 29, &t), -1);
	assert_int_equal(http_parse_date("Sun, 06 Nop 1994 08:49:37 GMT", 29, &t), -1);
	assert_int_equal(http_parse_date("Sun, 36 Nov 1994 08:49:37 GMT", 29, &t), -1);
	assert_int_equal(http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), -1);
	assert_int_equal(http_parse_date("", 0, &t), -1);
	/* Each digit checked, the year's last too (found by the fuzzer). */
	assert_int_equal(http_parse_date("Sun, 06 Nov 499\xdf 08:49:37 GMT", 29, &t), -1);
	assert_int_equal(http_parse_date("Sun, 31 Feb 1994 08:49:37 GMT", 29, &t), -1);
	assert_int_equal(http_parse_date("Sun, 06 Nov 1994 08:49:60 GMT", 29, &t), -1);
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(299), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_request_head),
		cmocka_unit_test(test_every_prefix_is_not_yet),
		cmocka_unit_test(test_line_ends_and_empty_lines),
		cmocka_unit_test(test_pipelined_requests_one_after_another),
		cmocka_unit_test(test_framing_fields),
		cmocka_unit_test(test_bad_requests_get_their_status),
		cmocka_unit_test(test_a_response_head),
		cmocka_unit_test(test_chunks_decode_in_place),
		cmocka_unit_test(test_bad_chunks),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
