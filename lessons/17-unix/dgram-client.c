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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "common.h"

#define MAX_DATAGRAM 65536

enum bind_mode { BIND_PATH, BIND_NONE, BIND_AUTO };

/* The command line; parse_options(), at the end, fills these in. */
static const char *server_name;  /* -s */
static const char *client_path;  /* -c; NULL: client.sock in a private directory */
static enum bind_mode mode;      /* -u: BIND_NONE, -a: BIND_AUTO */
static long timeout_ms = 1000;   /* -t */
static char **msg_words;         /* NULL: lines of standard input */
static int msg_count;

/* Where the datagrams go, and what became of them. */
struct target {
	const char *name;
	struct sockaddr_un sun;
	socklen_t len;
	long sent;
	long replies;
	int failed; /* a call failed (and said so) */
};

/* What became of one datagram. */
enum outcome { REPLIED, NO_REPLY, STOPPED, FAILED };

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int bind_own_name(int fd);
static void print_own_name(int fd);
static void send_words(int fd, struct target *t, char **words, int nwords);
static void send_lines(int fd, struct target *t);
static int exchange(int fd, struct target *t, const char *text, size_t len);
static enum outcome send_and_wait(int fd, const struct target *t, const char *text,
                                  size_t len);
static int report(const struct target *t);

int main(int argc, char **argv)
{
	struct target t = { 0 };
	int fd;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */
	t.name = server_name;
	if (unix_address(server_name, &t.sun, &t.len) < 0)
		die("socket name %s:", server_name);

	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket:");
	if (bind_own_name(fd) < 0) {
		close(fd);
		return EXIT_RUNTIME; /* the atexit handler removes our directory */
	}
	print_own_name(fd);
	if (msg_words != NULL)
		send_words(fd, &t, msg_words, msg_count);
	else
		send_lines(fd, &t);
	close(fd);
	remove_our_files(0);
	return report(&t);
}

/* Give our socket a name: a path (ours, or client.sock in a private
 * directory), an autobound abstract name, or none at all. Returns 0, or -1
 * after saying why. */
static int bind_own_name(int fd)
{
	char buf[SUN_PATH_MAX];
	const char *name;
	struct sockaddr_un sun;
	socklen_t len;

	if (mode == BIND_NONE) {
		printf("not bound: our datagrams carry no return address\n");
		return 0;
	}
	if (mode == BIND_AUTO) {
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
	/* -c PATH, or client.sock in a new directory of mode 0700. */
	name = socket_name(client_path, "client.sock", buf, sizeof(buf));
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
		if (errno == EINTR && stop_requested)
			return STOPPED;
		warn("sendto %s:", t->name);
		return FAILED;
	}
	printf("sent %zu bytes\n", len);
	ready = wait_ready(fd, POLLIN, (int)timeout_ms);
	if (ready == 0)
		return STOPPED;
	if (ready < 0 && errno == ETIMEDOUT) {
		printf("no reply within %ld ms\n", timeout_ms);
		return NO_REPLY;
	}
	if (ready < 0) {
		warn("poll:");
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
	printf("reply %zd bytes: ", n);
	print_text(buf, (size_t)n);
	putchar('\n');
	return REPLIED;
}

/* The totals, and the exit status: 0 when every expected reply came. */
static int report(const struct target *t)
{
	if (t->failed)
		return EXIT_RUNTIME;
	printf("%ld of %ld datagrams answered\n", t->replies, t->sent);
	if (mode == BIND_NONE && t->replies == 0 && t->sent > 0)
		printf("(expected: without a name of our own, the server cannot reply)\n");
	if (stop_requested)
		return EXIT_OK;
	return mode == BIND_NONE || t->replies == t->sent ? EXIT_OK : EXIT_RUNTIME;
}

/* ---- Plumbing: the command line ------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv)
{
	int unbound = 0, autobind = 0, first;
	const struct lesson_opt options[] = {
		OPT_SERVER_SOCKET(&server_name),
		{ 'c', "client", OPT_STRING, &client_path, "PATH",
		  "bind our own socket to PATH (default: client.sock in\n"
		  "a new 0700 directory, removed at exit)", .what = "client path" },
		{ 'u', "unbound", OPT_FLAG, &unbound,
		  .help = "do not bind: the server sees an empty address and\n"
		  "cannot reply (no reply is expected; exit 0)" },
		{ 'a', "autobind", OPT_FLAG, &autobind,
		  .help = "let the kernel pick an abstract name for us" },
		{ 't', "timeout", OPT_NUMBER, &timeout_ms, "MS",
		  "how long to wait for each reply (default 1000)",
		  .what = "timeout", .min = 1, .max = 600000 },
		{ 0 }
	};

	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[WORD...]", .max_args = -1, .opts = options,
		.about = "The Unix-domain datagram client (lesson 17): sends each WORD as one\n"
			 "datagram (with no WORD, each line of standard input) and waits for the\n"
			 "server's reply to each.",
		.footer = "Exit status: 0 when every expected reply came, 1 otherwise.",
	});
	if ((client_path != NULL) + unbound + autobind > 1)
		usage_error("choose one of -c, -u and -a");
	if (server_name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
	mode = unbound ? BIND_NONE : autobind ? BIND_AUTO : BIND_PATH;
	msg_words = first < argc ? argv + first : NULL;
	msg_count = argc - first;
}
