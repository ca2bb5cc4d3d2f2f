/* client.c — lesson 04: send framed messages as a stream cut at random.
 *
 * What it shows: the sender's half of framing. Each message (a line of the
 * input, or a generated one with -c) is put in a frame — padded to a fixed
 * record, ended with '\n', or preceded by its length as 4 big-endian bytes
 * — and all the frames are joined into one byte stream. That stream is then
 * handed to send() in pieces of random size (1..K bytes, -k) with short
 * random pauses (-d), so piece boundaries fall anywhere: mid-header,
 * mid-message, across two messages. Meanwhile the client reads the
 * server's acknowledgements ("ack SEQ LEN CHECKSUM", framed the same way)
 * and checks each one against the message it sent.
 *
 * Why: however the bytes are cut, a server that follows the framing gets
 * every message back whole — "all N messages acknowledged". Against
 * `server --naive` (one recv() = one message) the acknowledgements stop
 * matching at once.
 *
 * Notice when it runs (with -v): the "send() N bytes" sizes have nothing to
 * do with the message sizes, and the server's "recv() returned N bytes"
 * sizes match neither.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"
#include "common.h"

/* Generated messages are 1..GEN_MAX bytes (at most one record). */
#define GEN_MAX 60

#define PIECE_DEFAULT 16
#define PAUSE_DEFAULT 3

struct options {
	const char *host;
	const char *port;
	int mode;             /* enum mode */
	size_t record;        /* fixed: every message is exactly this long */
	const char *file;     /* messages, one per line; NULL = stdin */
	long count;           /* > 0: generate this many messages instead */
	unsigned long seed;   /* for generated messages, pieces and pauses */
	size_t max_piece;     /* -k: pieces of 1..max_piece bytes */
	int even_pieces;      /* every piece exactly max_piece bytes */
	long max_pause_ms;    /* -d: pause 0..max_pause_ms between pieces */
	int nodelay;          /* TCP_NODELAY: no Nagle coalescing */
	int verbose;          /* print every send() */
};

/* What we sent, to check each acknowledgement against. */
struct sent {
	size_t len;
	uint32_t sum;
};

/* The whole stream, framed, built before we connect. */
struct outbox {
	char *bytes;
	size_t len, cap;
	struct sent *msgs;
	size_t count, msgcap;
};

/* Acknowledgements: a reassembly buffer of our own (acks arrive in pieces
 * too) and the tally. ACK_BUF holds the largest ack frame: one record. */
#define ACK_BUF RECORD_MAX
struct acks {
	char buf[ACK_BUF];
	size_t used;
	size_t received;
	size_t mismatched;
	char first_mismatch[400];
	int server_closed;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int build_stream(struct outbox *out, const struct options *opt, uint32_t *rng);
static int add_lines(struct outbox *out, const struct options *opt, FILE *in);
static int check_line(const struct options *opt, long lineno, const char *text, size_t len);
static int add_generated(struct outbox *out, const struct options *opt, uint32_t *rng);
static int add_message(struct outbox *out, const struct options *opt,
		       const char *text, size_t len);
static int remember(struct outbox *out, const char *text, size_t len);
static int talk(int fd, const struct options *opt, uint32_t *rng, const struct outbox *out);
static int send_in_pieces(int fd, const struct options *opt, uint32_t *rng,
			  struct acks *a, const struct outbox *out);
static int pause_reading_acks(int fd, const struct options *opt, long ms,
			      struct acks *a, const struct outbox *out);
static int read_acks(int fd, const struct options *opt, struct acks *a,
		     const struct outbox *out);
static ssize_t take_ack(const char *p, size_t n, const struct options *opt,
			const char **text, size_t *len);
static void check_ack(struct acks *a, const struct outbox *out, const char *text, size_t len);
static int report(const struct acks *a, const struct outbox *out);
static uint32_t next_random(uint32_t *state);
static size_t random_between(uint32_t *state, size_t lo, size_t hi);
static int reserve(struct outbox *out, size_t more);
static long long now_ms(void);

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct options opt;
	struct outbox out = { 0 };
	uint32_t rng;
	int fd, status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Odd, so never 0: xorshift would be stuck at 0 for ever. */
	rng = (uint32_t)opt.seed * 2u + 1u;

	if (build_stream(&out, &opt, &rng) == 0) {
		/* socket and connect as in lesson 02, from the library this time. */
		fd = sl_tcp_connect(opt.host, opt.port, -1, err);
		if (fd < 0) {
			warn("%s", err);
		} else {
			status = talk(fd, &opt, &rng, &out);
			close(fd);
		}
	}
	free(out.bytes);
	free(out.msgs);
	return status;
}

/* All the messages, framed, in one buffer: the stream we will cut up. */
static int build_stream(struct outbox *out, const struct options *opt,
			uint32_t *rng)
{
	FILE *in;
	int rc;

	if (opt->count > 0)
		return add_generated(out, opt, rng);
	if (opt->file == NULL)
		return add_lines(out, opt, stdin);
	in = fopen(opt->file, "r");
	if (in == NULL) {
		warn("open %s:", opt->file);
		return -1;
	}
	rc = add_lines(out, opt, in);
	fclose(in);
	return rc;
}

/* Every line of in (without its '\n') is one message. */
static int add_lines(struct outbox *out, const struct options *opt, FILE *in)
{
	char *line = NULL;
	size_t linecap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &linecap, in)) >= 0) {
		size_t len = (size_t)n;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		rc = check_line(opt, lineno, line, len);
		if (rc == 0 && add_message(out, opt, line, len) < 0) {
			warn("out of memory after %ld lines:", lineno);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(in)) {
		warn("read %s:", opt->file != NULL ? opt->file : "standard input");
		rc = -1;
	}
	free(line);
	return rc;
}

/* Can this line be framed? A fixed record has room for `record` bytes and
 * uses NUL as padding, so a NUL inside the text would end it early. */
static int check_line(const struct options *opt, long lineno,
		      const char *text, size_t len)
{
	if (opt->mode != MODE_FIXED)
		return 0;
	if (len > opt->record) {
		warn("line %ld is %zu bytes, longer than a %zu-byte record (see -r)",
		     lineno, len, opt->record);
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		warn("line %ld contains a NUL byte, which fixed records use as padding",
		     lineno);
		return -1;
	}
	return 0;
}

/* Message i: "msg i:" then random letters and spaces, cut to a random
 * length, so messages differ in size and are easy to tell apart. */
static int add_generated(struct outbox *out, const struct options *opt,
			 uint32_t *rng)
{
	size_t longest = opt->mode == MODE_FIXED && opt->record < GEN_MAX ?
			 opt->record : GEN_MAX;

	for (long i = 1; i <= opt->count; i++) {
		char text[GEN_MAX + 1];
		size_t len = random_between(rng, 1, longest);
		int k = snprintf(text, sizeof(text), "msg %ld:", i);

		for (size_t j = (size_t)k; j < len; j++)
			text[j] = next_random(rng) % 5 == 0 ?
				  ' ' : (char)('a' + next_random(rng) % 26);
		if (add_message(out, opt, text, len) < 0) {
			warn("out of memory after %ld messages:", i - 1);
			return -1;
		}
	}
	return 0;
}

/* Append one message, framed, to the stream. Returns 0, or -1 (ENOMEM). */
static int add_message(struct outbox *out, const struct options *opt,
		       const char *text, size_t len)
{
	uint32_t be;

	if (reserve(out, len + HEADER_LEN + opt->record) < 0 ||
	    remember(out, text, len) < 0)
		return -1;
	switch (opt->mode) {
	case MODE_FIXED:
		/* The text, then NUL bytes up to the record size. */
		memcpy(out->bytes + out->len, text, len);
		memset(out->bytes + out->len + len, '\0', opt->record - len);
		out->len += opt->record;
		break;
	case MODE_DELIM:
		/* The text, then the delimiter. */
		memcpy(out->bytes + out->len, text, len);
		out->bytes[out->len + len] = '\n';
		out->len += len + 1;
		break;
	case MODE_LENGTH:
		/* The length in network byte order (big-endian), then the text. */
		be = htonl((uint32_t)len);
		memcpy(out->bytes + out->len, &be, HEADER_LEN);
		memcpy(out->bytes + out->len + HEADER_LEN, text, len);
		out->len += HEADER_LEN + len;
		break;
	}
	return 0;
}

/* Note a message's length and checksum, to check its acknowledgement. */
static int remember(struct outbox *out, const char *text, size_t len)
{
	if (out->count == out->msgcap) {
		size_t cap = out->msgcap > 0 ? out->msgcap * 2 : 256;
		struct sent *grown = realloc(out->msgs, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		out->msgs = grown;
		out->msgcap = cap;
	}
	out->msgs[out->count].len = len;
	out->msgs[out->count].sum = checksum(text, len);
	out->count++;
	return 0;
}

/* Send everything, say we are done (shutdown: the server's recv() returns
 * 0 after our last byte), read acks until the server closes, and report:
 * EXIT_OK only when every message came back acknowledged intact. */
static int talk(int fd, const struct options *opt, uint32_t *rng, const struct outbox *out)
{
	struct acks a = { .used = 0 };
	int one = 1;

	printf("sending %zu messages (%zu bytes, framing %s) in pieces of %s%zu bytes\n",
	       out->count, out->len, mode_names[opt->mode],
	       opt->even_pieces ? "" : "1 to ", opt->max_piece);
	if (opt->nodelay &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		warn("setsockopt TCP_NODELAY:");
		return EXIT_RUNTIME;
	}
	if (send_in_pieces(fd, opt, rng, &a, out) < 0)
		return EXIT_RUNTIME;
	if (!a.server_closed && shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		return EXIT_RUNTIME;
	}
	while (!a.server_closed)
		if (read_acks(fd, opt, &a, out) < 0)
			return EXIT_RUNTIME;
	return report(&a, out);
}

/* Hand the stream to send() in pieces of random size with random pauses,
 * so that piece boundaries land anywhere in the messages. */
static int send_in_pieces(int fd, const struct options *opt, uint32_t *rng,
			  struct acks *a, const struct outbox *out)
{
	size_t off = 0;

	while (off < out->len && !a->server_closed) {
		size_t piece = opt->even_pieces ? opt->max_piece :
			       random_between(rng, 1, opt->max_piece);
		ssize_t n;

		if (piece > out->len - off)
			piece = out->len - off;
		/* MSG_NOSIGNAL: if the server has dropped us, fail with EPIPE
		 * instead of dying of SIGPIPE. send() may also take fewer bytes
		 * than offered; the rest simply goes with the next piece. */
		n = send(fd, out->bytes + off, piece, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("send:");
			return -1;
		}
		if (opt->verbose)
			printf("send() returned %zd\n", n);
		off += (size_t)n;
		if (pause_reading_acks(fd, opt,
				       (long)random_between(rng, 0, (size_t)opt->max_pause_ms),
				       a, out) < 0)
			return -1;
	}
	return 0;
}

/* Pause for ms milliseconds, reading acks as they come. Reading while we
 * send matters: a server blocked sending acks nobody reads stops reading
 * our messages, and then both sides wait for ever. */
static int pause_reading_acks(int fd, const struct options *opt, long ms,
			      struct acks *a, const struct outbox *out)
{
	long long deadline = now_ms() + ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		int ready = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (ready < 0 && errno != EINTR) {
			warn("poll:");
			return -1;
		}
		if (ready > 0 && read_acks(fd, opt, a, out) < 0)
			return -1;
		if (a->server_closed || left <= 0)
			return 0;
	}
}

/* Read what acks have arrived (one recv(), which may block only if
 * nothing is there yet) and check every whole one. Returns 0, or -1 when
 * the connection failed or the server broke the ack framing. */
static int read_acks(int fd, const struct options *opt, struct acks *a,
		     const struct outbox *out)
{
	size_t start = 0;
	ssize_t n;

	do
		n = recv(fd, a->buf + a->used, sizeof(a->buf) - a->used, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		warn("recv:");
		return -1;
	}
	if (n == 0) {
		a->server_closed = 1;
		return 0;
	}
	a->used += (size_t)n;
	for (;;) {
		const char *text;
		size_t len;
		ssize_t took = take_ack(a->buf + start, a->used - start, opt, &text, &len);

		if (took == 0)
			break;
		if (took < 0) {
			warn("the server sent a malformed acknowledgement");
			return -1;
		}
		check_ack(a, out, text, len);
		start += (size_t)took;
	}
	memmove(a->buf, a->buf + start, a->used - start);
	a->used -= start;
	return 0;
}

/* One whole ack frame at p (n bytes): returns the bytes it takes (and
 * where its text is, and how long), 0 when more must arrive, or -1 when it
 * breaks the framing. The same three rules as server.c's take_message(),
 * applied to the acks. */
static ssize_t take_ack(const char *p, size_t n, const struct options *opt,
			const char **text, size_t *len)
{
	const char *nl;
	uint32_t be;

	switch (opt->mode) {
	case MODE_FIXED:
		if (n < opt->record)
			return 0;
		*text = p;
		*len = strnlen(p, opt->record);
		return *len < ACK_TEXT_MAX ? (ssize_t)opt->record : -1;
	case MODE_DELIM:
		nl = memchr(p, '\n', n);
		if (nl == NULL)
			return n < ACK_TEXT_MAX ? 0 : -1;
		*text = p;
		*len = (size_t)(nl - p);
		return *len < ACK_TEXT_MAX ? (ssize_t)(*len + 1) : -1;
	case MODE_LENGTH:
		if (n < HEADER_LEN)
			return 0;
		memcpy(&be, p, HEADER_LEN);
		if (ntohl(be) >= ACK_TEXT_MAX)
			return -1;
		if (n - HEADER_LEN < ntohl(be))
			return 0;
		*text = p + HEADER_LEN;
		*len = ntohl(be);
		return (ssize_t)(HEADER_LEN + *len);
	}
	return -1;
}

/* Compare one ack with the message it should answer; remember the first
 * mismatch to report at the end. */
static void check_ack(struct acks *a, const struct outbox *out,
		      const char *text, size_t len)
{
	char line[ACK_TEXT_MAX];
	size_t seq, alen;
	uint32_t sum;
	int used = -1;
	size_t i = a->received++;
	const char *problem = NULL;
	char detail[160];

	memcpy(line, text, len);
	line[len] = '\0';
	if (sscanf(line, "ack %zu %zu %" SCNx32 "%n", &seq, &alen, &sum, &used) != 3 ||
	    used != (int)len)
		problem = "is not \"ack SEQ LEN CHECKSUM\"";
	else if (i >= out->count)
		problem = "answers a message we never sent";
	else if (seq != i + 1 || alen != out->msgs[i].len || sum != out->msgs[i].sum)
		problem = "does not match";
	if (problem == NULL)
		return;
	if (a->mismatched++ > 0)
		return;
	if (i < out->count)
		snprintf(detail, sizeof(detail), "message %zu was %zu bytes, checksum %08" PRIx32,
			 i + 1, out->msgs[i].len, out->msgs[i].sum);
	else
		snprintf(detail, sizeof(detail), "only %zu messages were sent", out->count);
	snprintf(a->first_mismatch, sizeof(a->first_mismatch),
		 "acknowledgement %zu \"%s\" %s: %s", i + 1, line, problem, detail);
}

/* Exit status: 0 only when every message came back acknowledged intact. */
static int report(const struct acks *a, const struct outbox *out)
{
	if (a->mismatched > 0)
		warn("mismatch: %zu of %zu acknowledgements are wrong; the first: %s",
		     a->mismatched, a->received, a->first_mismatch);
	if (a->received < out->count)
		warn("the server closed the connection after %zu of %zu acknowledgements",
		     a->received, out->count);
	if (a->mismatched > 0 || a->received < out->count)
		return EXIT_RUNTIME;
	printf("all %zu messages acknowledged\n", out->count);
	return EXIT_OK;
}

/* ---- Plumbing: a reproducible random generator, a growing buffer, a clock
 * and the command line -------------------------------------------------- */

/* xorshift32: the same seed gives the same messages, pieces and pauses,
 * so a run you found interesting can be repeated exactly. */
static uint32_t next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* A number in lo..hi. */
static size_t random_between(uint32_t *state, size_t lo, size_t hi)
{
	return lo + next_random(state) % (hi - lo + 1);
}

/* Make room for more bytes at the end of the stream. realloc may move the
 * buffer, or fail and leave the old one alone: assign only on success. */
static int reserve(struct outbox *out, size_t more)
{
	size_t want = out->len + more;
	size_t cap = out->cap > 0 ? out->cap : 4096;
	char *grown;

	if (want <= out->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	grown = realloc(out->bytes, cap);
	if (grown == NULL)
		return -1;
	out->bytes = grown;
	out->cap = cap;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table; one rule across two options is
 * checked after. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	long record = RECORD_DEFAULT, seed = 1, piece = PIECE_DEFAULT;
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "the server's address or name (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&opt->port),
		{ 'm', "mode", OPT_CHOICE, &opt->mode, "MODE", "fixed, delim or length (default delim)",
		  .what = "mode", .choices = mode_names },
		{ 'r', "record", OPT_NUMBER, &record, "BYTES",
		  "fixed mode: record size, 32 to 4096 (default 32)",
		  .what = "record size", .min = RECORD_MIN, .max = RECORD_MAX },
		{ 'f', "file", OPT_STRING, &opt->file, "FILE",
		  .help = "send each line of FILE (default: standard input)" },
		{ 'c', "count", OPT_NUMBER, &opt->count, "N", "send N generated messages instead",
		  .what = "message count", .min = 1, .max = 1000000 },
		{ 's', "seed", OPT_NUMBER, &seed, "S", "seed for generated messages, piece sizes and\n"
		  "pauses (default 1: the same run every time)",
		  .what = "seed", .min = 0, .max = 2147483647 },
		{ 'k', "piece", OPT_NUMBER, &piece, "K", "cut the stream into pieces of 1..K bytes\n"
		  "(default 16)", .what = "piece size", .min = 1, .max = 65536 },
		{ 'e', "even", OPT_FLAG, &opt->even_pieces, .help = "every piece exactly K bytes" },
		{ 'd', "delay", OPT_NUMBER, &opt->max_pause_ms, "MS",
		  "pause 0..MS milliseconds after each send()\n(default 3; 0: no pauses)",
		  .what = "delay", .min = 0, .max = 10000 },
		{ 'N', "nodelay", OPT_FLAG, &opt->nodelay,
		  .help = "set TCP_NODELAY (no Nagle: one segment per send)" },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose, .help = "print the size of every send()" },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .mode = MODE_DELIM,
				 .max_pause_ms = PAUSE_DEFAULT };
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The framing client (lesson 04): frames each message, sends the stream\n"
			 "in random pieces, and checks the server's acknowledgement of each.",
		.footer = "Exit status: 0 when every message was acknowledged intact, 1 otherwise.",
		.opts = options,
	});
	if (opt->file != NULL && opt->count > 0)
		usage_error("-f and -c cannot be used together");
	opt->record = (size_t)record;
	opt->seed = (unsigned long)seed;
	opt->max_piece = (size_t)piece;
}
