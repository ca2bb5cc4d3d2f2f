/* server.c — lesson 04: finding where each message ends in a byte stream.
 *
 * What it shows: TCP delivers bytes, not messages. A recv() returns
 * whatever has arrived — part of a message, exactly one, or the end of one
 * and the start of the next — however the sender cut its send() calls. So
 * a receiver keeps a buffer, appends every recv() to it, and takes whole
 * messages off the front, using a rule both sides agreed on (the framing):
 *   fixed   every message is exactly RECORD bytes (short ones padded with
 *           NUL bytes)
 *   delim   a message ends at the first '\n'
 *   length  a 4-byte big-endian length, then that many bytes
 * What is left over (an incomplete message) stays in the buffer for the
 * next recv() to complete. Each message is acknowledged with a line
 * "ack SEQ LEN CHECKSUM" in the same framing, so the client can check that
 * every message arrived whole and in order.
 *
 * Why: "one recv() = one message" works on a quiet loopback often enough to
 * pass a quick test, and then fails under load or over a real network. Run
 * with --naive to see that bug: each recv() is treated as one message, and
 * the messages come out split and glued together.
 *
 * Notice when it runs (with -v): the "recv() returned N bytes" sizes do not
 * match the client's "send() N bytes" sizes, yet every "message" line is
 * exactly one of the client's messages. And a receiver must refuse to
 * allocate or wait for whatever a peer announces: a length header of
 * 0xFFFFFFFF or an endless line is rejected, and only that client dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"
#include "common.h"

/* How many connections the kernel may hold, handshake done, waiting for
 * accept() while we are busy with another client. */
#define BACKLOG 16

/* How much of each message to print. */
#define PREVIEW_MAX 60

struct options {
	const char *host;
	const char *port;
	int mode;          /* enum mode */
	size_t record;     /* fixed: every message is exactly this long */
	size_t max;        /* delim, length: the longest message accepted */
	long max_clients;  /* 0 = no limit */
	int verbose;       /* print every recv() */
	int naive;         /* the bug: one recv() = one message */
};

/* One connection's bytes that have arrived but are not yet handed out as
 * messages. cap is the size of the largest frame we accept, so every frame
 * we accept fits, and a full buffer without a whole message in it can only
 * mean the peer broke the rules. */
struct inbox {
	char *buf;
	size_t cap;
	size_t used;
};

/* One whole message found at the front of the inbox. */
struct message {
	const char *data;
	size_t len;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static size_t frame_capacity(const struct options *opt);
static int serve_clients(int listener, const struct options *opt, struct inbox *in);
static long serve_client(int fd, const char *who, const struct options *opt, struct inbox *in);
static int deliver_whole_messages(int fd, const char *who, const struct options *opt,
				  struct inbox *in, long *seq);
static ssize_t take_message(const char *p, size_t n, const struct options *opt,
			    struct message *m, char *why, size_t whylen);
static ssize_t take_fixed(const char *p, size_t n, const struct options *opt, struct message *m);
static ssize_t take_line(const char *p, size_t n, const struct options *opt,
			 struct message *m, char *why, size_t whylen);
static ssize_t take_prefixed(const char *p, size_t n, const struct options *opt,
			     struct message *m, char *why, size_t whylen);
static int deliver(int fd, const struct options *opt, long seq, const struct message *m);
static size_t frame_ack(const struct options *opt, const char *text, size_t len, char *out);
static void report_truncated(const char *who, const struct options *opt,
			     long seq, const char *p, size_t n);
static long serve_client_naive(int fd, const char *who, const struct options *opt,
			       struct inbox *in);
static void print_preview(const char *p, size_t len);

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct options opt;
	struct inbox in;
	int listener, status;

	parse_options(argc, argv, &opt);
	/* One line at a time even into a pipe, so whoever reads our output
	 * (you, a test, the visualizer) sees each event as it happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The signal-safe stop of lesson 02, from lib/lesson. */
	stop_on_signals();

	/* socket, bind, listen as in lesson 02, from the library this time. */
	listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, NULL, NULL, err);
	if (listener < 0)
		die("%s", err);
	stop_wakes(listener);
	in.cap = frame_capacity(&opt);
	in.used = 0;
	in.buf = malloc(in.cap);
	if (in.buf == NULL)
		die("malloc %zu bytes:", in.cap);
	announce_listening(listener);
	printf("framing: %s%s\n", mode_names[opt.mode],
	       opt.naive ? " (naive: one recv() = one message)" : "");

	status = serve_clients(listener, &opt, &in);
	stop_forget(listener);
	close(listener);
	free(in.buf);
	if (stop_requested)
		printf("stopping: signal received\n");
	return status;
}

/* The largest frame (framing bytes included) we are willing to hold. */
static size_t frame_capacity(const struct options *opt)
{
	switch (opt->mode) {
	case MODE_FIXED:
		return opt->record;
	case MODE_DELIM:
		return opt->max + 1;            /* the line and its '\n' */
	case MODE_LENGTH:
		return HEADER_LEN + opt->max;   /* the header and the payload */
	}
	return 0;
}

/* Accept clients one after another and serve each to the end. Returns
 * EXIT_OK when told to stop or done with max_clients, else EXIT_RUNTIME. */
static int serve_clients(int listener, const struct options *opt,
			 struct inbox *in)
{
	long served = 0;

	while (!stop_requested && (opt->max_clients == 0 || served < opt->max_clients)) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		char who[SL_ADDRSTRLEN];
		long count;
		int fd;

		fd = accept(listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (stop_requested)
				break; /* the stop shut the listener down */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			warn("accept:");
			return EXIT_RUNTIME;
		}
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
			snprintf(who, sizeof(who), "(unknown address)");
		printf("client %s connected\n", who);
		stop_wakes(fd); /* a stop signal ends a recv() waiting on it */
		if (opt->naive)
			count = serve_client_naive(fd, who, opt, in);
		else
			count = serve_client(fd, who, opt, in);
		stop_forget(fd); /* before close(): the number may be reused */
		close(fd);
		printf("client %s disconnected after %ld message%s\n", who, count,
		       count == 1 ? "" : "s");
		served++;
	}
	return EXIT_OK;
}

/* Serve one client: recv() into the inbox, hand out whole messages,
 * repeat until the client closes. Returns the number of messages. */
static long serve_client(int fd, const char *who, const struct options *opt,
			 struct inbox *in)
{
	long seq = 0;

	in->used = 0;
	for (;;) {
		/* Append to what we hold. There is always room: a full inbox
		 * either holds a whole message or broke the limit, and both
		 * were dealt with before we came back here. */
		ssize_t n = recv(fd, in->buf + in->used, in->cap - in->used, 0);

		if (n < 0) {
			if (errno == EINTR && !stop_requested)
				continue;
			if (errno != EINTR)
				warn("client %s: recv:", who);
			return seq;
		}
		if (n == 0) {
			/* End of file. Between messages that is a clean end;
			 * inside one, the message is lost (unless the end is
			 * ours: a stop signal shut the socket down). */
			if (in->used > 0 && !stop_requested)
				report_truncated(who, opt, seq + 1, in->buf, in->used);
			return seq;
		}
		if (opt->verbose)
			printf("recv() returned %zd\n", n);
		in->used += (size_t)n;
		if (deliver_whole_messages(fd, who, opt, in, &seq) < 0)
			return seq;
	}
}

/* Take every whole message off the front of the inbox, deliver each, and
 * slide what is left (the start of a message still arriving) to the
 * front. Returns 0, or -1 to drop the client. */
static int deliver_whole_messages(int fd, const char *who,
				  const struct options *opt,
				  struct inbox *in, long *seq)
{
	size_t start = 0;

	for (;;) {
		struct message m;
		char why[128];
		ssize_t took = take_message(in->buf + start, in->used - start,
					    opt, &m, why, sizeof(why));

		if (took == 0)
			break; /* the rest is an incomplete message */
		if (took < 0) {
			warn("client %s: message %ld %s: dropping the client",
			     who, *seq + 1, why);
			return -1;
		}
		++*seq;
		if (deliver(fd, opt, *seq, &m) < 0)
			return -1;
		start += (size_t)took;
	}
	memmove(in->buf, in->buf + start, in->used - start);
	in->used -= start;
	return 0;
}

/* Look for one whole message at p (n bytes). Returns the bytes it takes
 * (> 0, framing included), 0 when more must arrive first, or -1 with the
 * reason in why when the peer broke the framing rules. */
static ssize_t take_message(const char *p, size_t n, const struct options *opt,
			    struct message *m, char *why, size_t whylen)
{
	switch (opt->mode) {
	case MODE_FIXED:
		return take_fixed(p, n, opt, m);
	case MODE_DELIM:
		return take_line(p, n, opt, m, why, whylen);
	case MODE_LENGTH:
		return take_prefixed(p, n, opt, m, why, whylen);
	}
	return -1;
}

/* Fixed: a message is the next `record` bytes, whatever they are. Its
 * text runs up to the first NUL padding byte (or fills the record). */
static ssize_t take_fixed(const char *p, size_t n, const struct options *opt,
			  struct message *m)
{
	/* EXERCISE 3: fixed records: a message is the next opt->record bytes */
	if (n < opt->record)
		return 0; /* not the whole record yet */
	m->data = p;
	m->len = strnlen(p, opt->record);
	return (ssize_t)opt->record;
	/* END EXERCISE 3 */
}

/* Delimiter: a message ends at the first '\n'. Until one arrives we cannot
 * know how long the line is, so give up once it is already too long. */
static ssize_t take_line(const char *p, size_t n, const struct options *opt,
			 struct message *m, char *why, size_t whylen)
{
	/* EXERCISE 1: delimiter framing: a message ends at the first '\n' */
	const char *nl = memchr(p, '\n', n);

	if (nl == NULL) {
		if (n > opt->max) {
			snprintf(why, whylen, "is longer than the limit of %zu bytes "
				 "(no '\\n' in the first %zu)", opt->max, n);
			return -1;
		}
		return 0; /* the end of the line has not arrived yet */
	}
	m->data = p;
	m->len = (size_t)(nl - p);
	return (ssize_t)(m->len + 1); /* the '\n' is used up too */
	/* END EXERCISE 1 */
}

/* Length prefix: first the 4-byte header, then as many bytes as it says. */
static ssize_t take_prefixed(const char *p, size_t n, const struct options *opt,
			     struct message *m, char *why, size_t whylen)
{
	/* EXERCISE 2: length prefix: 4 bytes of length, big-endian, then data */
	uint32_t be, len;

	if (n < HEADER_LEN)
		return 0; /* not even the whole header yet */
	/* memcpy, not *(uint32_t *)p: p need not be 4-byte aligned. */
	memcpy(&be, p, HEADER_LEN);
	len = ntohl(be);
	/* Check before waiting: never trust a size the peer announces. */
	if (len > opt->max) {
		snprintf(why, whylen, "announces %lu bytes, more than the limit of %zu",
			 (unsigned long)len, opt->max);
		return -1;
	}
	if (n - HEADER_LEN < len)
		return 0; /* header complete, payload not yet */
	m->data = p + HEADER_LEN;
	m->len = len;
	return (ssize_t)(HEADER_LEN + len);
	/* END EXERCISE 2 */
}

/* Print message number seq and acknowledge it. Returns 0, or -1 when the
 * acknowledgement could not be sent (the client is gone). */
static int deliver(int fd, const struct options *opt, long seq,
		   const struct message *m)
{
	char text[ACK_TEXT_MAX];
	char frame[RECORD_MAX + HEADER_LEN];
	int len;

	printf("message %ld (%zu bytes): ", seq, m->len);
	print_preview(m->data, m->len);

	len = snprintf(text, sizeof(text), "ack %ld %zu %08lx", seq, m->len,
		       (unsigned long)checksum(m->data, m->len));
	/* Even a RECORD_MIN record holds the ack until SEQ has 14 digits. */
	if (len < 0 || (size_t)len >= sizeof(text) ||
	    (opt->mode == MODE_FIXED && (size_t)len > opt->record)) {
		warn("acknowledgement %ld does not fit its frame", seq);
		return -1;
	}
	/* One frame, one write: sl_io_write_all (lib/io.h) loops over short
	 * writes and EINTR and uses MSG_NOSIGNAL, as lesson 02's send_all. */
	if (sl_io_write_all(fd, frame, frame_ack(opt, text, (size_t)len, frame)) < 0) {
		warn("send acknowledgement %ld:", seq);
		return -1;
	}
	return 0;
}

/* Put text into the same framing the client uses, in out; returns the
 * frame's length. The acknowledgements are framed messages too. */
static size_t frame_ack(const struct options *opt, const char *text, size_t len,
			char *out)
{
	uint32_t be;

	switch (opt->mode) {
	case MODE_FIXED:
		memcpy(out, text, len);
		memset(out + len, '\0', opt->record - len); /* pad the record */
		return opt->record;
	case MODE_DELIM:
		memcpy(out, text, len);
		out[len] = '\n';
		return len + 1;
	case MODE_LENGTH:
		be = htonl((uint32_t)len);
		memcpy(out, &be, HEADER_LEN);
		memcpy(out + HEADER_LEN, text, len);
		return HEADER_LEN + len;
	}
	return 0;
}

/* The client closed with part of a message still in the inbox: say how
 * much of what arrived. */
static void report_truncated(const char *who, const struct options *opt,
			     long seq, const char *p, size_t n)
{
	uint32_t be;

	switch (opt->mode) {
	case MODE_FIXED:
		warn("client %s: message %ld truncated: the client closed after "
		     "%zu of %zu bytes", who, seq, n, opt->record);
		break;
	case MODE_DELIM:
		warn("client %s: message %ld truncated: the client closed after "
		     "%zu bytes with no '\\n'", who, seq, n);
		break;
	case MODE_LENGTH:
		if (n < HEADER_LEN) {
			warn("client %s: message %ld truncated: the client closed "
			     "after %zu of %d header bytes", who, seq, n, HEADER_LEN);
			break;
		}
		memcpy(&be, p, HEADER_LEN);
		warn("client %s: message %ld truncated: the client closed after "
		     "%zu of %lu payload bytes", who, seq, n - HEADER_LEN,
		     (unsigned long)ntohl(be));
		break;
	}
}

/* THE BUG, kept for you to run: believe that each recv() returns exactly
 * one of the messages the client sent. */
static long serve_client_naive(int fd, const char *who,
			       const struct options *opt, struct inbox *in)
{
	long seq = 0;

	for (;;) {
		ssize_t n = recv(fd, in->buf, in->cap, 0);
		struct message m;

		if (n < 0) {
			if (errno == EINTR && !stop_requested)
				continue;
			if (errno != EINTR)
				warn("client %s: recv:", who);
			return seq;
		}
		if (n == 0)
			return seq;
		if (opt->verbose)
			printf("recv() returned %zd\n", n);
		m.data = in->buf; /* whatever arrived, taken as one message */
		m.len = (size_t)n;
		if (deliver(fd, opt, ++seq, &m) < 0)
			return seq;
	}
}

/* ---- Plumbing: a readable preview, the command line ---------------------- */

/* Print up to PREVIEW_MAX bytes of a message in quotes, with \n, \", \\
 * and \xHH for bytes that are not printable, so a message with a newline
 * or a NUL in it is still one line on the screen. */
static void print_preview(const char *p, size_t len)
{
	size_t shown = len < PREVIEW_MAX ? len : PREVIEW_MAX;

	putchar('"');
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
	if (shown < len)
		fputs("...", stdout);
	putchar('\n');
}

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	long record = RECORD_DEFAULT, max = 1024;
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&opt->port, "port to listen on (default 0: any free port)"),
		{ 'm', "mode", OPT_CHOICE, &opt->mode, "MODE", "fixed, delim or length (default delim)",
		  .what = "mode", .choices = mode_names },
		{ 'r', "record", OPT_NUMBER, &record, "BYTES",
		  "fixed mode: record size, 32 to 4096 (default 32)",
		  .what = "record size", .min = RECORD_MIN, .max = RECORD_MAX },
		{ 'M', "max", OPT_NUMBER, &max, "BYTES", "delim and length modes: the longest message\n"
		  "accepted, 1 to 1048576 (default 1024)",
		  .what = "maximum message size", .min = 1, .max = 1024 * 1024 },
		{ 'n', "clients", OPT_NUMBER, &opt->max_clients, "N",
		  "exit after serving N clients (default 0: serve\nuntil SIGINT or SIGTERM)",
		  .what = "client count", .min = 0, .max = 1000000 },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose,
		  .help = "print how many bytes each recv() returned" },
		{ 0, "naive", OPT_FLAG, &opt->naive, .help = "the bug this lesson is about: treat "
		  "every recv()\nas one whole message" },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .port = "0", .mode = MODE_DELIM };
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The framing server (lesson 04): reassembles messages from a TCP byte\n"
			 "stream, prints each one, and acknowledges it with\n"
			 "\"ack SEQ LEN CHECKSUM\" in the same framing.",
		.opts = options,
	});
	opt->record = (size_t)record;
	opt->max = (size_t)max;
}
