/* common.c — lesson 20's HTTP/1.1 parser: the head of a request (server.c)
 * or of a response (fetch.c), a chunked body, a request's path, dates.
 *
 * What it shows: HTTP/1.1 framing is text lines on a byte stream. TCP
 * hands the server whatever has arrived — half a request line, three
 * pipelined requests and the start of a fourth — so the parser never
 * reads the socket. It looks at the bytes the server has collected so far
 * and says "not complete yet", "a bad request (and which status)", or
 * "a complete head of N bytes". The server calls it again when more bytes
 * come, and drops the first N bytes once it has answered that request.
 *
 * Every limit is checked before it can be passed: a head longer than
 * HTTP_HEAD_MAX is refused while it is still arriving, not after a client
 * has pushed a megabyte into the server's memory.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common.h"

/* The longest request line: a method, a target and "HTTP/1.1", with the
 * spaces and the CRLF. A longer one can only be long by its target. */
#define REQUEST_LINE_MAX (HTTP_METHOD_MAX + 1 + HTTP_TARGET_MAX + 1 + 8 + 2)

/* http_parse_request() is the story; its steps follow it, in order. */
static size_t skip_empty_lines(const char *buf, size_t len);
static size_t find_head_end(const char *buf, size_t start, size_t len);
static size_t next_line(const char *buf, size_t pos, size_t end, size_t *after);
static int parse_request_line(const char *line, size_t n, struct http_request *req);
static int parse_version(const char *v, size_t n, int *minor);
static int parse_fields(const char *buf, size_t pos, size_t end, struct http_fields *h,
			int *status, const char **error);
static int parse_field_line(const char *line, size_t n, struct http_field *f);
static int note_field(struct http_fields *h, const struct http_field *f);
static int fail(struct http_request *req, int status, const char *why);
static int is_tchar(unsigned char c);
static int all_tchars(const char *s, size_t n);
static int field_is(const struct http_field *f, const char *name);
static int hex_value(char c);

/* ---- a request's head ------------------------------------------------------ */

long http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	size_t start = skip_empty_lines(buf, len), end, line_end, after;
	const char *lf;

	req->method[0] = req->target[0] = '\0';
	req->minor = 1;
	req->status = 0;
	req->error = NULL;
	if (start == len)
		return 0; /* nothing yet, or only empty lines */
	/* Refuse what is too long as soon as it is, complete or not: a
	 * request line can only be that long by its target (414), a head by
	 * its fields (431). */
	lf = memchr(buf + start, '\n', len - start);
	if ((lf != NULL ? (size_t)(lf - buf) : len) - start > REQUEST_LINE_MAX)
		return fail(req, 414, "the request line is longer than any this server takes");
	end = find_head_end(buf, start, len);
	if ((end != 0 ? end : len) - start > HTTP_HEAD_MAX)
		return fail(req, 431, "the header fields are longer than this server takes");
	if (end == 0)
		return 0; /* not complete yet */
	line_end = next_line(buf, start, end, &after);
	if (parse_request_line(buf + start, line_end - start, req) < 0)
		return -1;
	if (parse_fields(buf, after, end, &req->h, &req->status, &req->error) < 0)
		return -1;
	/* Both say where the body ends, maybe differently: a request that
	 * could be read two ways is the start of request smuggling. */
	if (req->h.chunked && req->h.content_length >= 0)
		return fail(req, 400, "both Content-Length and Transfer-Encoding");
	return (long)end;
}

/* RFC 9112: a server should ignore empty lines before a request line (some
 * clients send a CRLF after a POST body). */
static size_t skip_empty_lines(const char *buf, size_t len)
{
	size_t i = 0;

	for (;;) {
		if (i < len && buf[i] == '\n')
			i++;
		else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
			i += 2;
		else
			return i;
	}
}

/* Where the head that starts at start ends: just after the empty line
 * ("\r\n\r\n", or "\n\n"), or 0 when that has not arrived yet. */
static size_t find_head_end(const char *buf, size_t start, size_t len)
{
	const char *p = buf + start, *end = buf + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++; /* the start of the next line: is it empty? */
		if (p < end && *p == '\n')
			return (size_t)(p + 1 - buf);
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			return (size_t)(p + 2 - buf);
	}
	return 0;
}

/* The line at pos (the head is complete: it ends in '\n' before end).
 * Returns where its text ends, without the CR and LF; *after is where the
 * next line starts. */
static size_t next_line(const char *buf, size_t pos, size_t end, size_t *after)
{
	const char *lf = memchr(buf + pos, '\n', end - pos);
	size_t stop = (size_t)(lf - buf);

	*after = stop + 1;
	if (stop > pos && buf[stop - 1] == '\r')
		stop--;
	return stop;
}

/* "GET /index.html HTTP/1.1": method, one space, target, one space,
 * version. Returns 0, or -1 with req->status and req->error set. */
static int parse_request_line(const char *line, size_t n, struct http_request *req)
{
	/* EXERCISE 2: split the request line into method, target and version */
	const char *sp1 = memchr(line, ' ', n), *sp2, *target, *version;
	size_t mlen, tlen, vlen;

	if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line))) == NULL)
		return fail(req, 400, "the request line is not METHOD TARGET VERSION");
	mlen = (size_t)(sp1 - line);
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	if (mlen == 0 || !all_tchars(line, mlen))
		return fail(req, 400, "the method is not a word");
	if (mlen > HTTP_METHOD_MAX)
		return fail(req, 501, "no method is that long");
	if (tlen == 0)
		return fail(req, 400, "the target is empty");
	for (size_t i = 0; i < tlen; i++)
		if (target[i] <= ' ' || target[i] == 0x7f)
			return fail(req, 400, "the target has a space or a control character");
	if (tlen > HTTP_TARGET_MAX)
		return fail(req, 414, "the target is longer than this server takes");
	version = sp2 + 1;
	vlen = n - (size_t)(version - line);
	if (vlen >= 6 && memcmp(version, "HTTP/", 5) == 0 && version[5] >= '0' &&
	    version[5] <= '9' && version[5] != '1')
		return fail(req, 505, "only HTTP/1.x is spoken here");
	if (parse_version(version, vlen, &req->minor) < 0)
		return fail(req, 400, "the version is not HTTP/1.0 or HTTP/1.1");
	memcpy(req->method, line, mlen);
	req->method[mlen] = '\0';
	memcpy(req->target, target, tlen);
	req->target[tlen] = '\0';
	return 0;
	/* END EXERCISE 2 */
}

/* "HTTP/1.1" and "HTTP/1.0" (a later 1.x is read as 1.1): 0 and *minor.
 * -1 for anything else; the caller tells HTTP/2.0 (505) from junk (400). */
static int parse_version(const char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
		return -1;
	*minor = v[7] == '0' ? 0 : 1;
	return 0;
}

/* The header fields, one a line, up to the empty line at end. */
static int parse_fields(const char *buf, size_t pos, size_t end, struct http_fields *h,
			int *status, const char **error)
{
	h->count = 0;
	h->content_length = -1;
	h->chunked = h->other_coding = h->close = h->keep_alive = h->hosts = 0;
	for (;;) {
		size_t after, stop = next_line(buf, pos, end, &after);
		int r;

		if (stop == pos)
			return 0; /* the empty line: the head is done */
		if (h->count == HTTP_FIELDS_MAX) {
			*status = 431;
			*error = "more header fields than this server takes";
			return -1;
		}
		r = parse_field_line(buf + pos, stop - pos, &h->list[h->count]);
		if (r < 0) {
			*status = 400;
			*error = "a header field is not Name: value";
			return -1;
		}
		if (r == 0) {
			if (note_field(h, &h->list[h->count]) < 0) {
				*status = 400;
				*error = "a bad Content-Length";
				return -1;
			}
			h->count++;
		}
		pos = after;
	}
}

/* "Content-Type: text/html": a name (a token, with no space before the
 * colon), a colon, and a value without the spaces or tabs around it.
 * Returns 0 and *f; 1 to skip the line; -1 when it is not a field. */
static int parse_field_line(const char *line, size_t n, struct http_field *f)
{
	/* EXERCISE 4: split a field line into its name and its value */
	const char *colon = memchr(line, ':', n);
	const char *value, *end = line + n;

	/* No name, or a space before the colon (RFC 9112 says refuse it: a
	 * proxy might read the name another way), or a line that starts with
	 * a space (the obsolete line folding) is not a field. */
	if (colon == NULL || colon == line || !all_tchars(line, (size_t)(colon - line)))
		return -1;
	value = colon + 1;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (const char *p = value; p < end; p++)
		if ((unsigned char)*p < ' ' && *p != '\t')
			return -1; /* a control character: a bare CR, a NUL */
	f->name = line;
	f->name_len = (size_t)(colon - line);
	f->value = value;
	f->value_len = (size_t)(end - value);
	return 0;
	/* END EXERCISE 4 */
}

/* The fields that frame the message: Content-Length, Transfer-Encoding,
 * Connection; and Host, which HTTP/1.1 requires. Returns -1 on a
 * Content-Length that is not a number, or two that differ. */
static int note_field(struct http_fields *h, const struct http_field *f)
{
	if (field_is(f, "content-length")) {
		long long v = 0;

		if (f->value_len == 0 || f->value_len > 18)
			return -1;
		for (size_t i = 0; i < f->value_len; i++) {
			if (f->value[i] < '0' || f->value[i] > '9')
				return -1;
			v = v * 10 + (f->value[i] - '0');
		}
		if (h->content_length >= 0 && h->content_length != v)
			return -1;
		h->content_length = v;
	} else if (field_is(f, "transfer-encoding")) {
		if (f->value_len == 7 && strncasecmp(f->value, "chunked", 7) == 0 && !h->chunked)
			h->chunked = 1;
		else
			h->other_coding = 1; /* gzip, or chunked twice: not ours */
	} else if (field_is(f, "connection")) {
		/* A list: "keep-alive, Upgrade". */
		const char *p = f->value, *end = f->value + f->value_len;

		while (p < end) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			const char *stop = comma != NULL ? comma : end;
			size_t n;

			while (p < stop && (*p == ' ' || *p == '\t'))
				p++;
			n = (size_t)(stop - p);
			while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			if (n == 5 && strncasecmp(p, "close", 5) == 0)
				h->close = 1;
			else if (n == 10 && strncasecmp(p, "keep-alive", 10) == 0)
				h->keep_alive = 1;
			p = stop + (comma != NULL);
		}
	} else if (field_is(f, "host")) {
		h->hosts++;
	}
	return 0;
}

const struct http_field *http_find_field(const struct http_fields *h, const char *name)
{
	for (int i = 0; i < h->count; i++)
		if (field_is(&h->list[i], name))
			return &h->list[i];
	return NULL;
}

/* ---- a response's head (fetch.c) ---------------------------------------------- */

long http_parse_response(const char *buf, size_t len, struct http_response *res)
{
	size_t end = find_head_end(buf, 0, len);
	size_t after, stop, n;
	const char *line = buf, *reason;
	int status = 0;

	res->status = 0;
	res->reason[0] = '\0';
	res->error = NULL;
	if (end == 0) {
		if (len > HTTP_HEAD_MAX * 8) {
			res->error = "a response head longer than 64 KiB";
			return -1;
		}
		return 0;
	}
	/* "HTTP/1.1 200 OK": version, space, three digits, space, reason. */
	stop = next_line(buf, 0, end, &after);
	if (stop < 12 || parse_version(line, 8, &res->minor) < 0 || line[8] != ' ' ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9' || (stop > 12 && line[12] != ' ')) {
		res->error = "the status line is not HTTP/1.x NNN Reason";
		return -1;
	}
	res->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	reason = stop > 13 ? line + 13 : line + stop;
	n = (size_t)(line + stop - reason);
	if (n > HTTP_REASON_MAX)
		n = HTTP_REASON_MAX;
	for (size_t i = 0; i < n; i++)
		res->reason[i] = (unsigned char)reason[i] < ' ' ? '?' : reason[i];
	res->reason[n] = '\0';
	if (parse_fields(buf, after, end, &res->h, &status, &res->error) < 0)
		return -1;
	return (long)end;
}

/* ---- a chunked body -------------------------------------------------------------- */

/* Where in the chunk syntax the decoder is:
 *   SIZE LF-or-CRLF DATA CRLF ... 0 CRLF [trailer fields] CRLF */
enum {
	CH_SIZE,        /* hex digits of a chunk's size */
	CH_EXT,         /* ";name=value" after the size: skipped */
	CH_SIZE_LF,     /* the size line's CR came, its LF must follow */
	CH_DATA,        /* the chunk's data */
	CH_DATA_END,    /* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,     /* the start of a line after the last chunk */
	CH_TRAILER_LINE,/* a trailer field: skipped */
	CH_LAST_LF,     /* the final empty line's CR came */
	CH_DONE,
};

int http_chunked_decode(char *buf, size_t len, struct http_chunked *st)
{
	/* EXERCISE 8: decode the chunks in place, as far as they have come */
	while (st->state != CH_DONE && st->used < len) {
		char c = buf[st->used];
		size_t n;

		switch (st->state) {
		case CH_SIZE:
			if (hex_value(c) >= 0) {
				if (++st->digits > 15)
					return -1; /* a size beyond any body */
				st->left = st->left * 16 + (unsigned)hex_value(c);
				st->used++;
				break;
			}
			if (st->digits == 0)
				return -1;
			if (c == ';' || c == ' ' || c == '\t') {
				st->state = CH_EXT;
				break; /* the extension starts here: skipped there */
			}
			if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				st->state = st->left > 0 ? CH_DATA : CH_TRAILER;
			else
				return -1;
			st->used++;
			break;
		case CH_EXT:
			if ((unsigned char)c < ' ' && c != '\t' && c != '\r' && c != '\n')
				return -1;
			if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				st->state = st->left > 0 ? CH_DATA : CH_TRAILER;
			st->used++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return -1;
			st->used++;
			st->state = st->left > 0 ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA:
			/* Move the data down over the size lines before it: the
			 * write position never passes the read position. */
			n = len - st->used < st->left ? len - st->used : (size_t)st->left;
			memmove(buf + st->data, buf + st->used, n);
			st->data += n;
			st->used += n;
			st->left -= n;
			if (st->left == 0)
				st->state = CH_DATA_END;
			break;
		case CH_DATA_END:
		case CH_DATA_LF:
			if (c == '\r' && st->state == CH_DATA_END)
				st->state = CH_DATA_LF;
			else if (c == '\n')
				st->state = CH_SIZE; /* the next chunk's size */
			else
				return -1;
			st->digits = 0;
			st->used++;
			break;
		case CH_TRAILER:
			if (c == '\n') {
				st->state = CH_DONE;
			} else if (c == '\r') {
				st->state = CH_LAST_LF;
			} else {
				st->state = CH_TRAILER_LINE;
				break; /* this byte starts the field: look at it there */
			}
			st->used++;
			break;
		case CH_TRAILER_LINE:
			if (c == '\n')
				st->state = CH_TRAILER;
			st->used++;
			break;
		case CH_LAST_LF:
			if (c != '\n')
				return -1;
			st->state = CH_DONE;
			st->used++;
			break;
		default:
			return -1;
		}
	}
	return st->state == CH_DONE;
	/* END EXERCISE 8 */
}

/* ---- a request's path -------------------------------------------------------------- */

int http_decode_path(const char *target, char *out, size_t size)
{
	/* EXERCISE 3: decode the path; refuse what could climb out of the root */
	size_t n = 0;
	const char *p = target;

	/* "http://host/path" (the absolute form a proxy gets) has its path
	 * after the host; anything else that does not start with '/' ("*",
	 * "index.html") names no file. */
	if (strncasecmp(p, "http://", 7) == 0) {
		p = strchr(p + 7, '/');
		if (p == NULL)
			p = "/";
	}
	if (*p != '/')
		return -1;
	for (; *p != '\0' && *p != '?' && *p != '#'; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hex_value(p[1]), lo = hi >= 0 ? hex_value(p[2]) : -1;

			if (lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return -1; /* "%00" would cut the name short */
			p += 2;
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	/* After decoding: "%2e%2e" is "..", and "..%2f" is "../". */
	for (const char *seg = out; seg != NULL; seg = strchr(seg + 1, '/'))
		if (strncmp(seg, "/..", 3) == 0 && (seg[3] == '/' || seg[3] == '\0'))
			return -1;
	return 0;
	/* END EXERCISE 3 */
}

/* ---- dates ---------------------------------------------------------------------------- */

static const char *const day_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Written by hand, not with strftime(), whose names follow the locale. */
void http_format_date(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday],
		 tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

static int two_digits(const char *s, int max)
{
	int v;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v <= max ? v : -1;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", the one form RFC 9110 says to send. */
int http_parse_date(const char *s, size_t len, time_t *t)
{
	struct tm tm;
	int mon = -1, century, year;

	if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return -1;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, month_names[i], 3) == 0)
			mon = i;
	century = two_digits(s + 12, 99);
	year = two_digits(s + 14, 99);
	if (century < 0 || year < 0)
		return -1;
	year += century * 100;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = two_digits(s + 5, 31);
	tm.tm_hour = two_digits(s + 17, 23);
	tm.tm_min = two_digits(s + 20, 59);
	tm.tm_sec = two_digits(s + 23, 59);
	if (mon < 0 || year < 1900 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
	    tm.tm_sec < 0)
		return -1;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	*t = timegm(&tm);
	/* timegm() moves a day that does not exist (31 Feb) to one that does:
	 * then it was not a date. */
	if (tm.tm_mon != mon || tm.tm_mday != two_digits(s + 5, 31))
		return -1;
	return 0;
}

/* ---- Plumbing: reason phrases, characters, the failure helper ---- */

const char *http_reason(int status)
{
	static const struct { int status; const char *reason; } reasons[] = {
		{ 200, "OK" }, { 301, "Moved Permanently" }, { 304, "Not Modified" },
		{ 400, "Bad Request" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

static int fail(struct http_request *req, int status, const char *why)
{
	req->status = status;
	req->error = why;
	return -1;
}

/* A token's characters (RFC 9110 "tchar"): what a method or a field name
 * may hold. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int all_tchars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static int field_is(const struct http_field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
