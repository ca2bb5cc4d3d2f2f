/* crowd.c — lesson 10: many clients connected at the same time.
 *
 * What it shows: what an event-driven server is for. The crowd connects -c
 * clients one after another and keeps every connection open; only then
 * does each client send one message, and only after all have sent does it
 * read the echoes, in the same order. A server that serves one client at
 * a time (lesson 02) cannot pass: the second client's echo never comes
 * while the first is still connected. One epoll thread serves them all.
 *
 * Each client is an ordinary blocking socket. SO_RCVTIMEO bounds each
 * wait for an echo, so the crowd reports a server that does not answer
 * instead of hanging. With thousands of clients the crowd needs as many
 * file descriptors: it raises RLIMIT_NOFILE (the soft limit, up to the
 * hard one) as far as it needs.
 *
 * Notice when it runs: "N clients connected at once" before any echo, and
 * the server's -v output: every client connected before the first one
 * sends anything.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "net.h"
#include "lesson/lesson.h"

#define MAX_CLIENTS 100000
#define MAX_SIZE 65536

struct options {
	const char *host;
	const char *port;
	long clients;
	long size;      /* 0: "client N\n" */
	long wait_ms;
};

static void usage(void)
{
	printf("usage: crowd [-b ADDR] -p PORT [-c N] [-s BYTES] [-t MS]\n"
	       "Connects N echo clients and holds them all open, then each sends one\n"
	       "message, then each reads its echo back and checks it (lesson 10).\n"
	       "\n"
	       "  -b, --bind ADDR      the server's address (default %s)\n"
	       "  -p, --port PORT      the server's port (required)\n"
	       "  -c, --clients N      clients at once (1 to %d, default 100)\n"
	       "  -s, --size BYTES     message size (1 to %d; default: \"client N\\n\")\n"
	       "  -t, --timeout MS     how long to wait for each echo (default 5000)\n"
	       "  -h, --help           show this help\n",
	       DEFAULT_HOST, MAX_CLIENTS, MAX_SIZE);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "clients", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	*opt = (struct options){ .host = DEFAULT_HOST, .port = NULL, .clients = 100,
				 .size = 0, .wait_ms = 5000 };
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "c:s:t:", longopts, NULL)) != -1) {
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
		case 'c':
			opt->clients = opt_number(optarg, "client count", 1, MAX_CLIENTS);
			break;
		case 's':
			opt->size = opt_number(optarg, "size", 1, MAX_SIZE);
			break;
		case 't':
			opt->wait_ms = opt_number(optarg, "timeout", 1, 3600000);
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->port == NULL)
		usage_error("give the server's port with -p PORT");
	if (strcmp(opt->port, "0") == 0)
		usage_error("bad port '0': a server's port is 1 to 65535");
}

/* One descriptor per client, and a few to spare. */
static void raise_fd_limit(long clients)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)clients + 16;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit:");
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need)
		die("%ld clients need %lu descriptors, and the hard limit is %lu "
		    "(see ulimit -Hn)", clients, (unsigned long)need,
		    (unsigned long)rl.rlim_max);
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit RLIMIT_NOFILE:");
}

/* Client i's message: "client i\n", or size bytes that differ per client. */
static size_t message(const struct options *opt, long i, char *buf)
{
	if (opt->size == 0)
		return (size_t)snprintf(buf, MAX_SIZE, "client %ld\n", i);
	for (long k = 0; k < opt->size; k++)
		buf[k] = (char)('a' + (i + k) % 26);
	buf[opt->size - 1] = '\n';
	return (size_t)opt->size;
}

int main(int argc, char **argv)
{
	static char msg[MAX_SIZE], back[MAX_SIZE];
	struct options opt;
	char err[SL_ERR_LEN];
	int *fds;
	long opened = 0;
	int status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_fd_limit(opt.clients);
	fds = malloc((size_t)opt.clients * sizeof(*fds));
	if (fds == NULL)
		die("malloc:");

	/* 1. Everyone connects and stays connected. */
	for (; opened < opt.clients; opened++) {
		struct timeval tv = { opt.wait_ms / 1000, (opt.wait_ms % 1000) * 1000 };

		fds[opened] = sl_tcp_connect(opt.host, opt.port, (int)opt.wait_ms, err);
		if (fds[opened] < 0) {
			warn("client %ld: %s", opened, err);
			goto out;
		}
		if (setsockopt(fds[opened], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
			warn("setsockopt SO_RCVTIMEO:");
			close(fds[opened]);
			goto out;
		}
	}
	printf("%ld clients connected at once\n", opened);

	/* 2. Each one sends its message... */
	for (long i = 0; i < opened; i++) {
		size_t len = message(&opt, i, msg);

		if (sl_io_write_all(fds[i], msg, len) < 0) {
			warn("client %ld: send:", i);
			goto out;
		}
	}
	printf("%ld messages sent\n", opened);

	/* 3. ...and reads its echo, which must be exactly its message. */
	for (long i = 0; i < opened; i++) {
		size_t len = message(&opt, i, msg);
		ssize_t n = sl_io_read_exact(fds[i], back, len);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			warn("client %ld: no echo within %ld ms (does the server serve one "
			     "client at a time?)", i, opt.wait_ms);
			goto out;
		}
		if (n <= 0) {
			warn("client %ld: recv: %s", i,
			     n == 0 ? "the server closed the connection" : strerror(errno));
			goto out;
		}
		if (memcmp(back, msg, len) != 0) {
			warn("client %ld: the echo differs from the message", i);
			goto out;
		}
	}
	printf("%ld echoes back, every one correct\n", opened);
	status = EXIT_OK;
out:
	for (long i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	return status;
}
