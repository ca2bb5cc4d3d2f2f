/* dgram-client.c — lesson 17: a client for the Unix-domain datagram server.
 *
 * What it shows: to get an answer over SOCK_DGRAM, a Unix client must have
 * a name of its own. By default it binds a path (client.sock in a fresh
 * 0700 directory, removed at exit) and the server's replies come back to
 * it. With -u it does not bind: its datagrams arrive with an empty sender
 * address, the server's reply has nowhere to go, and we wait in vain. With
 * -a it binds with only the address family (addrlen sizeof(sa_family_t)):
 * Linux then "autobinds" a unique abstract name such as "@0a1b2", which is
 * enough for replies and leaves no file behind.
 *
 * Why: UDP hides this (the kernel gives an unbound socket a port when it
 * first sends); AF_UNIX does not, and the server's view of an unbound
 * client, the empty address, surprises everyone once.
 *
 * Notice when it runs: one "reply" line per datagram when bound; "no reply
 * within ... ms" with -u, while the server prints "(unnamed)".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "lesson.h"
#include "unixlesson.h"

#define MAX_DATAGRAM 65536

enum bind_mode { BIND_PATH, BIND_NONE, BIND_AUTO };

static void usage(void)
{
	printf("usage: dgram-client -s PATH|@NAME [-u | -a | -c PATH] [-t MS] [WORD...]\n"
	       "The Unix-domain datagram client (lesson 17): sends each WORD as one\n"
	       "datagram (with no WORD, each line of standard input) and waits for the\n"
	       "server's reply to each.\n"
	       "\n"
	       "  -s, --socket PATH   the server's socket path, or @NAME\n"
	       "  -c, --client PATH   bind our own socket to PATH (default: client.sock in\n"
	       "                      a new 0700 directory, removed at exit)\n"
	       "  -u, --unbound       do not bind: the server sees an empty address and\n"
	       "                      cannot reply (no reply is expected; exit 0)\n"
	       "  -a, --autobind      let the kernel pick an abstract name for us\n"
	       "  -t, --timeout MS    how long to wait for each reply (default 1000)\n"
	       "  -h, --help          show this help\n"
	       "Exit status: 0 when every expected reply came, 1 otherwise.\n");
}

struct options {
	const char *server;
	const char *client;  /* -c PATH, or NULL */
	enum bind_mode mode;
	long timeout_ms;
	char **words;        /* NULL: lines of standard input */
	int nwords;
};

static void set_mode(struct options *opt, enum bind_mode mode)
{
	if (opt->mode != BIND_PATH || (opt->client != NULL && mode != BIND_PATH))
		usage_error("choose one of -c, -u and -a");
	opt->mode = mode;
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "client", required_argument, NULL, 'c' },
		{ "unbound", no_argument, NULL, 'u' },
		{ "autobind", no_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->mode = BIND_PATH;
	opt->timeout_ms = 1000;
	while ((c = getopt_long(argc, argv, ":hs:c:uat:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->server = optarg;
			break;
		case 'c':
			set_mode(opt, BIND_PATH);
			opt->client = optarg;
			break;
		case 'u':
			set_mode(opt, BIND_NONE);
			break;
		case 'a':
			set_mode(opt, BIND_AUTO);
			break;
		case 't':
			opt->timeout_ms = opt_number(optarg, "timeout", 1, 600000);
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (opt->server == NULL || opt->server[0] == '\0')
		usage_error("give the server's socket with -s PATH or -s @NAME");
	if (opt->client != NULL && opt->client[0] == '\0')
		usage_error("bad client path '': give a path or @NAME");
	opt->words = optind < argc ? argv + optind : NULL;
	opt->nwords = argc - optind;
}

/* Give our socket a name: a path (ours, or client.sock in a private
 * directory), an autobound abstract name, or none at all. Returns 0, or -1
 * after saying why. */
static int bind_own_name(int fd, const struct options *opt)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *name = opt->client;
	struct sockaddr_un sun;
	socklen_t len;

	if (opt->mode == BIND_NONE) {
		printf("not bound: our datagrams carry no return address\n");
		return 0;
	}
	if (opt->mode == BIND_AUTO) {
		/* Only the family, nothing of sun_path: Linux picks a free
		 * abstract name of five hex digits for us. */
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) < 0) {
			warn("bind (autobind):");
			return -1;
		}
		return 0;
	}
	if (name == NULL) {
		if (make_private_dir(dir, sizeof(dir)) < 0) {
			warn("mkdtemp %s:", dir);
			return -1;
		}
		forget_on_exit(dir, NULL);
		socket_path_in(path, sizeof(path), dir, "client.sock");
		name = path;
	}
	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		warn("bind %s:", name);
		return -1;
	}
	forget_on_exit(NULL, name);
	return 0;
}

/* Print the name the socket has now, as the server will see it. */
static void print_own_name(int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	char text[SL_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0) {
		warn("getsockname:");
		return;
	}
	if (len <= offsetof(struct sockaddr_un, sun_path))
		return; /* unbound: said so already */
	if (sl_addr_format((struct sockaddr *)&sun, len, text, sizeof(text)) != NULL)
		printf("bound to %s (addrlen %u)\n", text, (unsigned)len);
}

/* Where the datagrams go. */
struct target {
	const char *name;
	struct sockaddr_un sun;
	socklen_t len;
	long timeout_ms;
	long sent;
	long replies;
	int failed; /* a call failed (and said so) */
};

/* What became of one datagram. */
enum outcome { REPLIED, NO_REPLY, STOPPED, FAILED };

/* Send one datagram to the server and wait for its reply. */
static enum outcome send_and_wait(int fd, const struct target *t, const char *text,
                                  size_t len)
{
	static char buf[MAX_DATAGRAM];
	int ready;
	ssize_t n;

	/* One sendto() is one datagram. If the server's queue is full, a
	 * Unix datagram socket waits here rather than drop it (UDP would). */
	if (sendto(fd, text, len, 0, (const struct sockaddr *)&t->sun, t->len) < 0) {
		warn("sendto %s:", t->name);
		return FAILED;
	}
	printf("sent %zu bytes\n", len);
	ready = wait_ready(fd, POLLIN, (int)t->timeout_ms);
	if (ready == 0)
		return STOPPED;
	if (ready < 0 && errno == ETIMEDOUT) {
		printf("no reply within %ld ms\n", t->timeout_ms);
		return NO_REPLY;
	}
	if (ready < 0) {
		warn("ppoll:");
		return FAILED;
	}
	/* recv(): we do not ask who sent it. Any process that can reach our
	 * name could; a careful client connect()s its datagram socket to the
	 * server, and the kernel then drops datagrams from anyone else. */
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		warn("recv:");
		return FAILED;
	}
	printf("reply %zd bytes: %.*s\n", n, (int)(n > 0 && buf[n - 1] == '\n' ? n - 1 : n), buf);
	return REPLIED;
}

/* Send one message and count it; returns -1 when we should go no further. */
static int exchange(int fd, struct target *t, const char *text, size_t len)
{
	enum outcome r = send_and_wait(fd, t, text, len);

	if (r == FAILED) {
		t->failed = 1;
		return -1;
	}
	t->sent++;
	t->replies += r == REPLIED;
	return r == STOPPED ? -1 : 0;
}

/* Each word is one datagram. */
static void send_words(int fd, struct target *t, char **words, int nwords)
{
	for (int i = 0; i < nwords; i++)
		if (exchange(fd, t, words[i], strlen(words[i])) < 0)
			return;
}

/* Each line of standard input is one datagram. */
static void send_lines(int fd, struct target *t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) > 0)
		if (exchange(fd, t, line, (size_t)len) < 0)
			break;
	free(line);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct target t;
	int fd;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();
	memset(&t, 0, sizeof(t));
	t.name = opt.server;
	t.timeout_ms = opt.timeout_ms;
	if (unix_address(opt.server, &t.sun, &t.len) < 0)
		die("socket name %s:", opt.server);

	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket:");
	if (bind_own_name(fd, &opt) < 0) {
		close(fd);
		return EXIT_RUNTIME; /* the atexit handler removes our directory */
	}
	print_own_name(fd);
	if (opt.words != NULL)
		send_words(fd, &t, opt.words, opt.nwords);
	else
		send_lines(fd, &t);
	close(fd);
	remove_our_files(0);
	if (t.failed)
		return EXIT_RUNTIME;
	printf("%ld of %ld datagrams answered\n", t.replies, t.sent);
	if (opt.mode == BIND_NONE && t.replies == 0 && t.sent > 0)
		printf("(expected: without a name of our own, the server cannot reply)\n");
	if (stop_requested)
		return EXIT_OK;
	return opt.mode == BIND_NONE || t.replies == t.sent ? EXIT_OK : EXIT_RUNTIME;
}
