/* dgram-server.c — lesson 17: a Unix-domain datagram echo server.
 *
 * What it shows: SOCK_DGRAM over AF_UNIX. Like UDP there is no listen()
 * and no accept(): one socket, bound to a path, receives every client's
 * datagrams with recvfrom(), which also says who sent each one, and
 * answers with sendto() to that address. Unlike UDP, a Unix datagram is
 * never lost or reordered: when the receiver's queue is full, the sender
 * waits (or gets EAGAIN) instead of the datagram being dropped.
 *
 * Why: a datagram's return address is the sender's *bound name*. A client
 * that never called bind() has none, and recvfrom() hands us an empty
 * address: on Linux the address length comes back as 0 (an unbound stream
 * peer reads as sizeof(sa_family_t) from accept(); either way there is no
 * name in it). A reply to that address fails: there is nobody to send to.
 * A UDP client never has this problem, because the kernel gives it a port
 * when it first sends. A Unix client must bind a path itself (or ask the
 * kernel for an abstract name, "autobind": see dgram-client -a).
 *
 * Notice when it runs: "dgram-client" (bound) gets its echo; "dgram-client
 * -u" makes this server print "(unnamed) (addrlen 0)" and a failed reply.
 */
#include <ctype.h>
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

/* Larger than any datagram the lesson's clients send; a longer one would
 * be cut to this size (MSG_TRUNC). */
#define MAX_DATAGRAM 65536

static void usage(void)
{
	printf("usage: dgram-server [-s PATH|@NAME] [-n N]\n"
	       "The Unix-domain datagram echo server (lesson 17): sends every datagram back\n"
	       "to its sender's address, and prints that address and its length.\n"
	       "\n"
	       "  -s, --socket PATH  the socket's path (default: dgram.sock in a new 0700\n"
	       "                     directory under $XDG_RUNTIME_DIR or /tmp), or @NAME\n"
	       "  -n, --count N      exit after N datagrams (default 0: run until SIGINT\n"
	       "                     or SIGTERM)\n"
	       "  -h, --help         show this help\n");
}

struct options {
	const char *name; /* NULL: make a private directory */
	long max_count;   /* 0: no limit */
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	opt->name = NULL;
	opt->max_count = 0;
	while ((c = getopt_long(argc, argv, ":hs:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->name = optarg;
			break;
		case 'n':
			opt->max_count = opt_number(optarg, "datagram count", 0, 1000000);
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->name != NULL && opt->name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
}

/* The -s name, or dgram.sock in a new private directory. */
static const char *choose_name(const struct options *opt, char *buf, size_t size)
{
	char dir[PATH_MAX];

	if (opt->name != NULL)
		return opt->name;
	if (make_private_dir(dir, sizeof(dir)) < 0)
		die("mkdtemp %s:", dir);
	forget_on_exit(dir, NULL);
	socket_path_in(buf, size, dir, "dgram.sock");
	return buf;
}

/* socket(AF_UNIX, SOCK_DGRAM) and bind(); a stale file at the path (see
 * socket_is_stale, asked with a datagram probe) is removed first. Returns
 * the socket, or -1 after saying why. */
static int open_socket(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (bind_unix(fd, name, SOCK_DGRAM) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The sender's name, or "(unnamed)" when the address holds no name: an
 * unbound sender's address is at most sun_family long (Linux gives 0). */
static const char *sender_name(const struct sockaddr_un *from, socklen_t fromlen,
                               char *buf, size_t size)
{
	if (fromlen <= offsetof(struct sockaddr_un, sun_path))
		snprintf(buf, size, "(unnamed)");
	else if (sl_addr_format((const struct sockaddr *)from, fromlen, buf, size) == NULL)
		snprintf(buf, size, "(unreadable address)");
	return buf;
}

/* Print a datagram's start as text: unprintable bytes as '.', the
 * trailing newline left out. */
static void print_text(const char *buf, size_t len)
{
	size_t show = len < 60 ? len : 60;

	if (show > 0 && buf[show - 1] == '\n')
		show--;
	putchar('"');
	for (size_t i = 0; i < show; i++)
		putchar(isprint((unsigned char)buf[i]) ? buf[i] : '.');
	printf("\"%s\n", show < len && len > 60 ? "..." : "");
}

/* Send the datagram back to where it came from. MSG_DONTWAIT: a client
 * that stops reading fills its queue, and a blocking sendto() would then
 * stall the whole server; we drop that one reply instead, and say so. */
static void reply(int fd, const char *buf, size_t len,
                  const struct sockaddr_un *from, socklen_t fromlen, const char *who)
{
	if (sendto(fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)from, fromlen) < 0) {
		int saved = errno;

		printf("reply to %s failed: sendto: %s\n", who, strerror(saved));
		if (fromlen <= offsetof(struct sockaddr_un, sun_path))
			printf("  (the sender never bound a name: there is no address to answer to)\n");
		else if (saved == EAGAIN)
			printf("  (its receive queue is full: it is not reading)\n");
		return;
	}
	printf("replied %zu bytes to %s\n", len, who);
}

/* Receive datagrams and echo each one, until told to stop or done. */
static int serve(int fd, long max_count)
{
	static char buf[MAX_DATAGRAM];
	long count = 0;

	while (max_count == 0 || count < max_count) {
		struct sockaddr_un from;
		socklen_t fromlen = sizeof(from);
		char who[SL_ADDRSTRLEN];
		int ready = wait_ready(fd, POLLIN, -1);
		ssize_t n;

		if (ready == 0)
			break;
		if (ready < 0) {
			warn("ppoll:");
			return EXIT_RUNTIME;
		}
		/* One recvfrom() is one whole datagram, and fromlen is set to
		 * the length of the sender's address. */
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recvfrom:");
			return EXIT_RUNTIME;
		}
		sender_name(&from, fromlen, who, sizeof(who));
		printf("datagram %zd bytes from %s (addrlen %u): ", n, who, (unsigned)fromlen);
		print_text(buf, (size_t)n);
		reply(fd, buf, (size_t)n, &from, fromlen, who);
		count++;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options opt;
	char buf[PATH_MAX];
	const char *name;
	int fd, status;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();

	name = choose_name(&opt, buf, sizeof(buf));
	fd = open_socket(name);
	if (fd < 0)
		return EXIT_RUNTIME;
	announce_listening(fd);

	status = serve(fd, opt.max_count);
	if (stop_requested)
		printf("stopping: signal received\n");
	close(fd);
	remove_our_files(1);
	return status;
}
