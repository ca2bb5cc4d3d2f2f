/* rebind.c — lesson 03: try to take a port that TIME_WAIT still holds.
 *
 * What it shows: socket, an optional SO_REUSEADDR (-r), bind and listen on
 * one port, then close. Run it right after `server --mode close-first` has
 * exited: the server closed first, so its side of the connection is in
 * TIME_WAIT for 60 s, and that TIME_WAIT still owns the server's port.
 *
 *   ./rebind -p PORT      bind() fails: Address already in use (EADDRINUSE)
 *   ./rebind -r -p PORT   bind() succeeds: SO_REUSEADDR lets a new socket
 *                         share the port with connections in TIME_WAIT
 *
 * Why: this is the "my server will not restart for a minute" error every
 * server author meets, and the reason servers set SO_REUSEADDR before
 * bind(). On Linux the old socket must have set it too: the TIME_WAIT
 * socket remembers whether its listener had SO_REUSEADDR (try the server
 * with --no-reuseaddr: then even -r fails).
 *
 * Notice when it runs: TIME_WAIT on the *client's* side does not block the
 * server's port: after `server --mode echo` (the client closed first) a
 * plain ./rebind -p PORT succeeds. The TIME_WAIT holds the port of the side
 * that closed first, not the connection's other end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"
#include "common.h"

struct options {
	const char *host;
	const char *port;
	int reuseaddr;
};

/* main() is the whole story, one call after another; bind_failed() says
 * why bind() failed. */
static void parse_options(int argc, char **argv, struct options *opt);
static noreturn void bind_failed(int fd, const char *text);

int main(int argc, char **argv)
{
	struct options opt;
	struct sockaddr_storage addr;
	socklen_t len;
	char text[SL_ADDRSTRLEN];
	int one = 1;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(argc, argv, &opt);
	resolve_bind_address(opt.host, opt.port, &addr, &len);
	if (sl_addr_format((struct sockaddr *)&addr, len, text, sizeof(text)) == NULL)
		die("format address:");

	fd = socket(addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket:");
	if (opt.reuseaddr) {
		/* EXERCISE 3: with -r, share the port with connections in TIME_WAIT */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
			die("setsockopt SO_REUSEADDR:");
		/* END EXERCISE 3 */
		printf("setsockopt(SO_REUSEADDR, 1): TIME_WAIT on this port will not stop bind()\n");
	}
	if (bind(fd, (struct sockaddr *)&addr, len) < 0)
		bind_failed(fd, text);
	printf("bind(%s): ok\n", text);
	if (listen(fd, 1) < 0)
		die("listen:");
	announce_listening(fd);
	if (close(fd) < 0)
		die("close:");
	printf("close(): done\n");
	return EXIT_OK;
}

/* Explain EADDRINUSE, close fd, and exit 1 with bind's own error text. */
static noreturn void bind_failed(int fd, const char *text)
{
	int saved = errno; /* printf() and close() may change errno */

	if (saved == EADDRINUSE)
		printf("bind(%s) failed: another socket holds the port; a connection "
		       "in TIME_WAIT counts (look: ss -tan state time-wait)\n", text);
	close(fd);
	errno = saved;
	die("bind %s:", text);
}

/* ---- Plumbing: the command line ------------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "address to bind (default " DEFAULT_HOST ")"),
		OPT_PORT(&opt->port, "port to bind (default 0: any free port)"),
		{ 'r', "reuseaddr", OPT_FLAG, &opt->reuseaddr,
		  .help = "set SO_REUSEADDR before bind()" },
		{ 0 }
	};

	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->reuseaddr = 0;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "Lesson 03: bind() and listen() on ADDR:PORT, then close, to show\n"
			 "whether a connection in TIME_WAIT still holds the port.",
		.footer = "\nExit status: 0 when bind() and listen() succeed, 1 when they fail\n"
			  "(EADDRINUSE while TIME_WAIT holds the port and -r is not given).",
		.opts = options,
	});
}
