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
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
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
#include "lesson/lesson.h"

#define HEADER_LEN 4

/* The same limits as server.c: both ends must agree on the framing. */
#define RECORD_MIN 32
#define RECORD_MAX 4096
#define RECORD_DEFAULT 32

/* Generated messages are 1..GEN_MAX bytes (at most one record). */
#define GEN_MAX 60

#define PIECE_DEFAULT 16
#define PAUSE_DEFAULT 3

/* An acknowledgement's text is shorter than this; a longer one is a
 * server breaking the protocol. */
#define ACK_TEXT_MAX 64

enum mode { MODE_FIXED, MODE_DELIM, MODE_LENGTH };

static const char *const mode_names[] = { "fixed", "delim", "length" };

struct options {
	const char *host;
	const char *port;
	enum mode mode;
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

static void usage(void)
{
	printf("usage: client [-b ADDR] -p PORT [-m MODE] [-r RECORD]\n"
	       "              [-f FILE | -c COUNT [-s SEED]] [-k K [-e]] [-d MS] [-N] [-v]\n"
	       "The framing client (lesson 04): frames each message, sends the stream\n"
	       "in random pieces, and checks the server's acknowledgement of each.\n"
	       "\n"
	       "  -b, --bind ADDR      the server's address or name (default %s)\n"
	       "  -p, --port PORT      the server's port (required)\n"
	       "  -m, --mode MODE      fixed, delim or length (default delim)\n"
	       "  -r, --record BYTES   fixed mode: record size, %d to %d (default %d)\n"
	       "  -f, --file FILE      send each line of FILE (default: standard input)\n"
	       "  -c, --count N        send N generated messages instead\n"
	       "  -s, --seed S         seed for generated messages, piece sizes and\n"
	       "                       pauses (default 1: the same run every time)\n"
	       "  -k, --piece K        cut the stream into pieces of 1..K bytes\n"
	       "                       (default %d)\n"
	       "  -e, --even           every piece exactly K bytes\n"
	       "  -d, --delay MS       pause 0..MS milliseconds after each send()\n"
	       "                       (default %d; 0: no pauses)\n"
	       "  -N, --nodelay        set TCP_NODELAY (no Nagle: one segment per send)\n"
	       "  -v, --verbose        print the size of every send()\n"
	       "  -h, --help           show this help\n"
	       "Exit status: 0 when every message was acknowledged intact, 1 otherwise.\n",
	       DEFAULT_HOST, RECORD_MIN, RECORD_MAX, RECORD_DEFAULT,
	       PIECE_DEFAULT, PAUSE_DEFAULT);
}

static enum mode parse_mode(const char *arg)
{
	for (int m = MODE_FIXED; m <= MODE_LENGTH; m++)
		if (strcmp(arg, mode_names[m]) == 0)
			return (enum mode)m;
	usage_error("bad mode '%s': expected fixed, delim or length", arg);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "mode", required_argument, NULL, 'm' },
		{ "record", required_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "piece", required_argument, NULL, 'k' },
		{ "even", no_argument, NULL, 'e' },
		{ "delay", required_argument, NULL, 'd' },
		{ "nodelay", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->host = DEFAULT_HOST;
	opt->mode = MODE_DELIM;
	opt->record = RECORD_DEFAULT;
	opt->seed = 1;
	opt->max_piece = PIECE_DEFAULT;
	opt->max_pause_ms = PAUSE_DEFAULT;
	opterr = 0; /* bad_option() says what was wrong, in our words */
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "m:r:f:c:s:k:ed:Nv",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'b':
			opt->host = optarg;
			break;
		case 'p':
			opt->port = opt_port(optarg);
			break;
		case 'm':
			opt->mode = parse_mode(optarg);
			break;
		case 'r':
			opt->record = (size_t)opt_number(optarg, "record size",
							 RECORD_MIN, RECORD_MAX);
			break;
		case 'f':
			opt->file = optarg;
			break;
		case 'c':
			opt->count = opt_number(optarg, "message count", 1, 1000000);
			break;
		case 's':
			opt->seed = (unsigned long)opt_number(optarg, "seed", 0, 2147483647);
			break;
		case 'k':
			opt->max_piece = (size_t)opt_number(optarg, "piece size", 1, 65536);
			break;
		case 'e':
			opt->even_pieces = 1;
			break;
		case 'd':
			opt->max_pause_ms = opt_number(optarg, "delay", 0, 10000);
			break;
		case 'N':
			opt->nodelay = 1;
			break;
		case 'v':
			opt->verbose = 1;
			break;
		default: /* '?' unknown option, ':' missing argument */
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->port == NULL)
		usage_error("missing -p PORT: the port the server announced");
	if (strcmp(opt->port, "0") == 0)
		usage_error("bad port '0': a client needs the server's real port");
	if (opt->file != NULL && opt->count > 0)
		usage_error("-f and -c cannot be used together");
}

/* ---- a small reproducible random generator ---------------------------- */

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

/* ---- framing: building the stream ------------------------------------- */

/* FNV-1a, 32 bits: the same checksum the server puts in its acks. */
static uint32_t checksum(const char *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
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

/* ---- connecting --------------------------------------------------------- */

/* A socket connected to one resolved address, or -1 (after saying why). */
static int connect_to(const struct addrinfo *ai)
{
	char where[SL_ADDRSTRLEN];
	int fd;

	if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, where, sizeof(where)) == NULL)
		snprintf(where, sizeof(where), "(address family %d)", ai->ai_family);

	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
		warn("socket for %s:", where);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		warn("connect %s:", where);
		close(fd);
		return -1;
	}
	return fd;
}

/* Resolve host:port and connect to the first address that accepts. */
static int connect_to_server(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		warn("resolve %s: %s", host,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_to(ai);
	freeaddrinfo(res);
	return fd;
}

/* ---- acknowledgements --------------------------------------------------- */

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

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* ---- sending ------------------------------------------------------------ */

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

/* Send everything, say we are done (shutdown: the server's recv() returns
 * 0 after our last byte), and read acks until the server closes. */
static int talk(int fd, const struct options *opt, uint32_t *rng,
		struct acks *a, const struct outbox *out)
{
	int one = 1;

	if (opt->nodelay &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		warn("setsockopt TCP_NODELAY:");
		return -1;
	}
	if (send_in_pieces(fd, opt, rng, a, out) < 0)
		return -1;
	if (!a->server_closed && shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		return -1;
	}
	while (!a->server_closed)
		if (read_acks(fd, opt, a, out) < 0)
			return -1;
	return 0;
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

int main(int argc, char **argv)
{
	struct options opt;
	struct outbox out = { 0 };
	struct acks a = { .used = 0 };
	uint32_t rng;
	int fd, status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Odd, so never 0: xorshift would be stuck at 0 for ever. */
	rng = (uint32_t)opt.seed * 2u + 1u;

	if (build_stream(&out, &opt, &rng) == 0) {
		fd = connect_to_server(opt.host, opt.port);
		if (fd >= 0) {
			printf("sending %zu messages (%zu bytes, framing %s) in pieces of "
			       "%s%zu bytes\n", out.count, out.len, mode_names[opt.mode],
			       opt.even_pieces ? "" : "1 to ", opt.max_piece);
			if (talk(fd, &opt, &rng, &a, &out) == 0)
				status = report(&a, &out);
			close(fd);
		}
	}
	free(out.bytes);
	free(out.msgs);
	return status;
}
