/* common.h — lesson 20's HTTP/1.1 parser, shared by server.c (requests)
 * and fetch.c (responses).
 *
 * Pure functions: bytes in, a parsed message out. No I/O, no allocation,
 * no global state, so the server can call them again on every read, and
 * unit tests (tests/unit/test_http.c) and a fuzzer (tests/fuzz/fuzz_http.c)
 * can feed them anything.
 *
 * A message's head is text lines: a first line (a request line
 * "GET /index.html HTTP/1.1", or a status line "HTTP/1.1 200 OK"), then
 * header fields "Name: value", then an empty line. Each line ends in CRLF
 * (a bare LF is accepted too, as RFC 9112 allows). What follows the empty
 * line is the body: as many bytes as Content-Length says, or chunks
 * (Transfer-Encoding: chunked), or, for a response, everything until the
 * server closes.
 */
#ifndef LESSON20_COMMON_H
#define LESSON20_COMMON_H

#include <stddef.h>
#include <time.h>

/* Limits: a client that needs more is refused, and the refusal names the
 * limit (414 URI Too Long, 431 Request Header Fields Too Large). */
#define HTTP_HEAD_MAX 8192     /* request line + header fields, in bytes */
#define HTTP_METHOD_MAX 16     /* "GET", "OPTIONS"... */
#define HTTP_TARGET_MAX 2048   /* "/index.html?x=1" */
#define HTTP_FIELDS_MAX 64     /* header fields in one message */
#define HTTP_REASON_MAX 64     /* a status line's "Not Found" (cut if longer) */

/* One header field: name and value point into the parsed buffer (the
 * value without the white space around it); they are not NUL-terminated. */
struct http_field {
	const char *name, *value;
	size_t name_len, value_len;
};

/* A head's header fields, and what they say about the message. */
struct http_fields {
	struct http_field list[HTTP_FIELDS_MAX];
	int count;
	long long content_length; /* Content-Length, or -1 when there is none */
	int chunked;              /* Transfer-Encoding: chunked */
	int other_coding;         /* a Transfer-Encoding other than chunked */
	int close, keep_alive;    /* Connection: close, Connection: keep-alive */
	int hosts;                /* how many Host fields came */
};

struct http_request {
	char method[HTTP_METHOD_MAX + 1];  /* "GET" */
	char target[HTTP_TARGET_MAX + 1];  /* "/index.html?x=1" */
	int minor;                /* HTTP/1.minor: 1 or 0 */
	struct http_fields h;
	int status;               /* when the parse fails: the status to answer */
	const char *error;        /* ... and why, in words */
};

struct http_response {
	int minor, status;        /* HTTP/1.minor, and the status: 200 */
	char reason[HTTP_REASON_MAX + 1]; /* "OK" */
	struct http_fields h;
	const char *error;        /* when the parse fails: why */
};

/* Parse the head of a request from the len bytes at buf (all that has
 * arrived so far; call again with more). Returns
 *   > 0  the head is complete: its length, up to and including the empty
 *        line (the body, if any, starts there);
 *     0  not complete yet: wait for more bytes;
 *    -1  not a request this server can take: req->status is the status to
 *        answer (400, 414, 431, 501, 505), req->error says why.
 * Empty lines before the request line are skipped (and counted). */
long http_parse_request(const char *buf, size_t len, struct http_request *req);

/* The same for a response's head (fetch.c); -1 when it is not HTTP/1.x. */
long http_parse_response(const char *buf, size_t len, struct http_response *res);

/* The field called name (any case), or NULL. */
const struct http_field *http_find_field(const struct http_fields *h, const char *name);

/* A chunked body, decoded in place as it arrives: each call looks at the
 * len bytes at buf, which hold the body as sent so far (the same bytes as
 * before, plus what came since), and moves the data of its chunks to the
 * front, buf[0..st->data). Start with the state zeroed. Returns 1 when
 * the last chunk and its trailer have come (st->used: the body's length
 * as sent), 0 when more bytes are needed, -1 when it is not chunked
 * syntax. */
struct http_chunked {
	int state;                /* where in "SIZE;ext CRLF data CRLF" we are */
	unsigned long long left;  /* data bytes still to come in this chunk */
	size_t used;              /* bytes of the body looked at so far */
	size_t data;              /* data bytes moved to the front */
	int digits;               /* hex digits of the size line so far */
};
int http_chunked_decode(char *buf, size_t len, struct http_chunked *st);

/* A request target's path, made safe to use as a file name under a
 * document root: the query ("?...") is dropped and %XX escapes decoded,
 * into out (size bytes, NUL-terminated). Returns 0; -1 when the target is
 * not a path ("*", "http://..." with no path), has a bad escape, decodes
 * to a NUL byte or holds a ".." segment (it would climb out of the root),
 * or does not fit. */
int http_decode_path(const char *target, char *out, size_t size);

/* An HTTP-date, "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters and a
 * NUL: size >= 30), from a time; and back: 0 and *t, or -1 when the
 * text is not such a date. */
void http_format_date(time_t t, char *out, size_t size);
int http_parse_date(const char *s, size_t len, time_t *t);

/* "OK" for 200, "Not Found" for 404...: the reason phrase of a status. */
const char *http_reason(int status);

#endif
