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
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "common.h"

/* The command line; parse_options(), at the end, fills these in. */
static const char *sock_name; /* -s: the server's socket */
static char **msg_words;      /* the message, or NULL to send standard input */
static int msg_count;

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int connect_to_server(const char *name);
static int talk(int fd);
static int send_words(int fd, char **words, int nwords);
static int send_stdin(int fd);
static int print_replies(int fd);

int main(int argc, char **argv)
{
	int fd, status;

	parse_options(argc, argv);
	fd = connect_to_server(sock_name);
	if (fd < 0)
		return EXIT_RUNTIME;
	status = talk(fd);
	close(fd);
	return status;
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

/* Send, half-close, read the echo to its end. As in lesson 02, sending
 * everything before reading works while the echo fits in the socket
 * buffers (a few hundred KiB for a Unix socket). */
static int talk(int fd)
{
	int rc = msg_words != NULL ? send_words(fd, msg_words, msg_count) : send_stdin(fd);

	if (rc < 0)
		return EXIT_RUNTIME;
	if (shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		return EXIT_RUNTIME;
	}
	return print_replies(fd) < 0 ? EXIT_RUNTIME : EXIT_OK;
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

/* ---- Plumbing: the command line ------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv)
{
	static const struct lesson_opt options[] = {
		OPT_SERVER_SOCKET(&sock_name),
		{ 0 }
	};
	int first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[WORD...]", .max_args = -1, .opts = options,
		.about = "The Unix-domain echo client (lesson 17): connects to the server's\n"
			 "socket, sends the WORDs joined by spaces with a newline at the end\n"
			 "or, with no WORD, all of standard input, then prints everything the\n"
			 "server sends back. Prints its own pid on standard error.",
	});

	if (sock_name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
	msg_words = first < argc ? argv + first : NULL;
	msg_count = argc - first;
}
