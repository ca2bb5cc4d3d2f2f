/* client.c — lesson 02: a TCP client for the echo server.
 *
 * What it shows: the client's side of TCP — getaddrinfo, then socket and
 * connect for each address until one answers; send() in a loop until every
 * byte is out; shutdown(SHUT_WR) to say "I am done sending" while still
 * reading; and recv() until it returns 0, the server's end of file.
 *
 * Why: connect() is where the three-way handshake happens, and
 * shutdown(SHUT_WR) is the half-close: the server's recv() returns 0, it
 * finishes echoing and closes, and only then does our recv() return 0.
 * Without the half-close neither side would know the other was done.
 *
 * Notice when it runs: the echo comes back byte for byte, even for binary
 * data on standard input; and against a port where nothing listens,
 * connect() fails at once with "Connection refused" (the peer's kernel
 * answered our SYN with a RST).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "lesson/lesson.h"

struct options {
	const char *host;
	const char *port;
	char **words; /* the message, or NULL to send standard input */
	int nwords;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int connect_to_server(const char *host, const char *port);
static int talk(int fd, const struct options *opt);

int main(int argc, char **argv)
{
	struct options opt;
	int fd, status;

	parse_options(argc, argv, &opt);
	fd = connect_to_server(opt.host, opt.port);
	if (fd < 0)
		return EXIT_RUNTIME;
	status = talk(fd, &opt);
	close(fd);
	return status;
}

/* Make a socket for one resolved address and connect it. On failure say
 * why, close the socket, and return -1 so the caller can try the next. */
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
	/* The three-way handshake happens inside connect(). No bind() first:
	 * the kernel picks our address and a free "ephemeral" port. */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		warn("connect %s:", where);
		close(fd);
		return -1;
	}
	return fd;
}

/* Resolve host:port and connect to the first address that accepts. A name
 * may have several addresses (IPv6 and IPv4, several servers); a client
 * tries them in the order getaddrinfo gives. */
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

/* send() may take only part of what we offer: loop until all is sent.
 * MSG_NOSIGNAL turns "the server has gone" into EPIPE instead of a
 * SIGPIPE that would kill us before we could say what happened. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send the words joined by spaces and ended by a newline, in one send. */
static int send_words(int fd, char **words, int nwords)
{
	size_t len = 0, at = 0;
	char *msg;
	int rc;

	for (int i = 0; i < nwords; i++)
		len += strlen(words[i]) + 1; /* the word, then ' ' or '\n' */
	msg = malloc(len);
	if (msg == NULL) {
		warn("malloc:");
		return -1;
	}
	for (int i = 0; i < nwords; i++) {
		size_t n = strlen(words[i]);

		memcpy(msg + at, words[i], n);
		at += n;
		msg[at++] = i + 1 < nwords ? ' ' : '\n';
	}
	rc = send_all(fd, msg, len);
	if (rc < 0)
		warn("send:");
	free(msg);
	return rc;
}

/* Send all of standard input, whatever bytes it holds. */
static int send_stdin(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n == 0)
			return 0; /* end of input */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("read standard input:");
			return -1;
		}
		if (send_all(fd, buf, (size_t)n) < 0) {
			warn("send:");
			return -1;
		}
	}
}

/* Copy everything the server sends to standard output, until it closes. */
static int print_replies(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			return 0; /* the server closed: all of the echo is here */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recv:");
			return -1;
		}
		/* The same loop as send_all, for a file descriptor that may
		 * not be a socket: the library's write-all does it. */
		if (sl_io_write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
			warn("write standard output:");
			return -1;
		}
	}
}

/* Send the message, half-close, and read the echo to its end.
 * Sending everything before reading anything works while the echo fits
 * in the socket buffers (a few MiB on loopback). Beyond that the server
 * blocks sending to us, stops reading, and then so do we: a deadlock (see
 * the README). Reading and writing at once takes poll(), a later lesson. */
static int talk(int fd, const struct options *opt)
{
	int rc = opt->words != NULL ? send_words(fd, opt->words, opt->nwords)
	                            : send_stdin(fd);

	if (rc < 0)
		return EXIT_RUNTIME;
	/* Half-close: send FIN. The server's recv() returns 0 once it has read
	 * everything, and our socket can still receive its reply. */
	if (shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		return EXIT_RUNTIME;
	}
	if (print_replies(fd) < 0)
		return EXIT_RUNTIME;
	return EXIT_OK;
}

/* ---- Plumbing: the command line ---------------------------------------- */

static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "the server's address or name (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&opt->port),
		{ 0 }
	};
	int first;

	opt->host = DEFAULT_HOST;
	opt->port = NULL;
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[WORD...]",
		.about = "The echo client (lesson 02): sends the WORDs joined by spaces with a\n"
			 "newline at the end (as echo(1) does) or, with no WORD, all of standard\n"
			 "input, then prints everything the server sends back.",
		.opts = options,
		.max_args = -1,
	});
	opt->words = first < argc ? argv + first : NULL;
	opt->nwords = argc - first;
}
