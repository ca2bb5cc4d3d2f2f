/* fuzz_http.c — throw arbitrary bytes at lesson 20's HTTP/1.1 parser,
 * lessons/20-http/common.c (which the server and fetch use on whatever a
 * client or a server sends).
 *
 * The input goes to every entry point, and the target checks what each
 * promises, reading every byte it points at (the input sits in a buffer of
 * exactly its size, so AddressSanitizer sees a read past it):
 *  - a request or response head: a length within the input (and parsing
 *    just that much gives the same length: a head never depends on what
 *    follows it), a method and target within their limits, fields that lie
 *    inside the head; or a refusal with one of the statuses the server
 *    sends and a reason;
 *  - a chunked body: decoded in place whole, and again in two pieces (cut
 *    where the first byte says), with the same result and the same data;
 *    never writing past what was read;
 *  - a path: decoded, it starts with '/', holds no NUL and no ".."
 *    segment; refused otherwise;
 *  - a date: if it parses, formatting it gives it back.
 *
 * Built with libFuzzer (clang -fsanitize=fuzzer,...) or, where that is
 * missing, with tests/fuzz/standalone.c over the seed corpus.
 */
// SOURCES: lessons/20-http/common.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lessons/20-http/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__,  \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static volatile unsigned sink;

/* Read every byte of a range, which must lie inside [base, base+size). */
static void touch(const char *base, size_t size, const char *p, size_t len)
{
	REQUIRE(p >= base && len <= size && (size_t)(p - base) <= size - len);
	for (size_t i = 0; i < len; i++)
		sink += (unsigned char)p[i];
}

static void check_fields(const char *base, size_t size, const struct http_fields *h)
{
	REQUIRE(h->count >= 0 && h->count <= HTTP_FIELDS_MAX);
	REQUIRE(h->content_length >= -1);
	for (int i = 0; i < h->count; i++) {
		REQUIRE(h->list[i].name_len > 0);
		touch(base, size, h->list[i].name, h->list[i].name_len);
		touch(base, size, h->list[i].value, h->list[i].value_len);
	}
}

static void request(const char *data, size_t size)
{
	static struct http_request rq, again;
	long n = http_parse_request(data, size, &rq);

	REQUIRE(n >= -1 && n <= (long)size);
	if (n < 0) {
		REQUIRE(rq.status == 400 || rq.status == 414 || rq.status == 431 ||
			rq.status == 501 || rq.status == 505);
		REQUIRE(rq.error != NULL);
		return;
	}
	if (n == 0)
		return;
	REQUIRE(strlen(rq.method) > 0 && strlen(rq.method) <= HTTP_METHOD_MAX);
	REQUIRE(strlen(rq.target) > 0 && strlen(rq.target) <= HTTP_TARGET_MAX);
	REQUIRE(rq.minor == 0 || rq.minor == 1);
	REQUIRE(!(rq.h.chunked && rq.h.content_length >= 0));
	check_fields(data, (size_t)n, &rq.h);
	/* The head alone parses to the same length. */
	REQUIRE(http_parse_request(data, (size_t)n, &again) == n);
	REQUIRE(strcmp(again.target, rq.target) == 0 && again.h.count == rq.h.count);
}

static void response(const char *data, size_t size)
{
	static struct http_response res;
	long n = http_parse_response(data, size, &res);

	REQUIRE(n >= -1 && n <= (long)size);
	if (n < 0)
		REQUIRE(res.error != NULL);
	if (n <= 0)
		return;
	REQUIRE(res.status >= 100 && res.status <= 599);
	REQUIRE(strlen(res.reason) <= HTTP_REASON_MAX);
	check_fields(data, (size_t)n, &res.h);
	REQUIRE(http_parse_response(data, (size_t)n, &res) == n);
}

static void chunks(const char *data, size_t size)
{
	char *whole = malloc(size + 1), *split = malloc(size + 1);
	struct http_chunked a = { 0 }, b = { 0 };
	size_t cut = size > 0 ? (unsigned char)data[0] % (size + 1) : 0;
	int ra, rb;

	REQUIRE(whole != NULL && split != NULL);
	memcpy(whole, data, size);
	memcpy(split, data, size);
	ra = http_chunked_decode(whole, size, &a);
	REQUIRE(ra >= -1 && ra <= 1);
	REQUIRE(a.data <= a.used && a.used <= size);
	/* In two pieces: the first call sees only cut bytes. */
	rb = http_chunked_decode(split, cut, &b);
	if (rb == 0)
		rb = http_chunked_decode(split, size, &b);
	if (ra != -1 && rb != -1) {
		REQUIRE(ra == rb);
		REQUIRE(a.data == b.data);
		REQUIRE(memcmp(whole, split, a.data) == 0);
		if (ra == 1)
			REQUIRE(a.used == b.used);
	}
	free(whole);
	free(split);
}

static void path(const char *data, size_t size)
{
	char *target = malloc(size + 1), out[HTTP_TARGET_MAX + 1];

	REQUIRE(target != NULL);
	memcpy(target, data, size);
	target[size] = '\0';
	if (http_decode_path(target, out, sizeof(out)) == 0) {
		size_t n = strlen(out);

		REQUIRE(out[0] == '/');
		for (const char *seg = out; seg != NULL; seg = strchr(seg + 1, '/'))
			REQUIRE(!(strncmp(seg, "/..", 3) == 0 && (seg[3] == '/' || seg[3] == '\0')));
		REQUIRE(n < sizeof(out));
	}
	free(target);
}

static void date(const char *data, size_t size)
{
	char back[32];
	time_t t;

	if (http_parse_date(data, size, &t) != 0)
		return;
	http_format_date(t, back, sizeof(back));
	/* The weekday is not checked on the way in: compare the rest. */
	REQUIRE(strlen(back) == 29 && memcmp(back + 3, data + 3, 26) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	request(text, size);
	response(text, size);
	chunks(text, size);
	path(text, size);
	date(text, size);
	return 0;
}
