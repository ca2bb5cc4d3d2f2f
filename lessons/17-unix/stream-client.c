/* stream-client.c — lesson 17: a client for the Unix-domain echo server.
 *
 * What it shows: a Unix stream client is a TCP client with another address
 * family: socket(AF_UNIX, SOCK_STREAM), connect() to a path (or an
 * "@name"), then send, shutdown(SHUT_WR), recv until end of file. There is
 * no handshake on the wire and no port; connect() either finds a listening
 * socket at that path or fails at once: ENOENT (no such file),
 * ECONNREFUSED (a socket file nobody listens on: a stale one), EACCES (no
 * permission on the file or a directory above it).
 *
 * Why: the server sees our pid, uid and gid through SO_PEERCRED without
 * our sending them. We print our own pid (on stderr) so you can compare.
 *
 * Notice when it runs: the pid on our stderr line is the pid the server
 * prints on its "client connected" line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "lesson.h"
#include "unixlesson.h"

static void usage(void)
{
	printf("usage: stream-client -s PATH|@NAME [WORD...]\n"
	       "The Unix-domain echo client (lesson 17): connects to the server's socket,\n"
	       "sends the WORDs joined by spaces with a newline at the end or, with no\n"
	       "WORD, all of standard input, then prints everything the server sends\n"
	       "back. Prints its own pid on standard error.\n"
	       "\n"
	       "  -s, --socket PATH  the server's socket path, or @NAME for an abstract name\n"
	       "  -h, --help         show this help\n");
}

struct options {
	const char *name;
	char **words; /* the message, or NULL to send standard input */
	int nwords;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	opt->name = NULL;
	while ((c = getopt_long(argc, argv, ":hs:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->name = optarg;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (opt->name == NULL || opt->name[0] == '\0')
		usage_error("give the server's socket with -s PATH or -s @NAME");
	opt->words = optind < argc ? argv + optind : NULL;
	opt->nwords = argc - optind;
}

/* socket() and connect() to name. No bind(): our end stays unnamed, which
 * is what the server's accept() reports. Returns the socket or -1. */
static int connect_to_server(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	/* We catch no signals, so connect() cannot fail with EINTR here. */
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		warn("connect %s:", name);
		close(fd);
		return -1;
	}
	fprintf(stderr, "connected to %s as pid %ld\n", name, (long)getpid());
	return fd;
}

/* Send the words joined by spaces and ended by a newline. */
static int send_words(int fd, char **words, int nwords)
{
	for (int i = 0; i < nwords; i++) {
		const char *sep = i + 1 < nwords ? " " : "\n";

		if (sl_io_write_all(fd, words[i], strlen(words[i])) < 0 ||
		    sl_io_write_all(fd, sep, 1) < 0) {
			warn("send:");
			return -1;
		}
	}
	return 0;
}

/* Send all of standard input. */
static int send_stdin(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("read standard input:");
			return -1;
		}
		/* sl_io_write_all loops over short writes and uses
		 * MSG_NOSIGNAL on a socket (EPIPE instead of SIGPIPE). */
		if (sl_io_write_all(fd, buf, (size_t)n) < 0) {
			warn("send:");
			return -1;
		}
	}
}

/* Copy what the server sends to standard output until it closes. */
static int print_replies(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recv:");
			return -1;
		}
		if (sl_io_write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
			warn("write standard output:");
			return -1;
		}
	}
}

/* Send, half-close, read the echo to its end. As in lesson 02, sending
 * everything before reading works while the echo fits in the socket
 * buffers (a few hundred KiB for a Unix socket). */
static int talk(int fd, const struct options *opt)
{
	int rc = opt->words != NULL ? send_words(fd, opt->words, opt->nwords)
	                            : send_stdin(fd);

	if (rc < 0)
		return EXIT_RUNTIME;
	if (shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		return EXIT_RUNTIME;
	}
	return print_replies(fd) < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options opt;
	int fd, status;

	parse_options(argc, argv, &opt);
	fd = connect_to_server(opt.name);
	if (fd < 0)
		return EXIT_RUNTIME;
	status = talk(fd, &opt);
	close(fd);
	return status;
}
