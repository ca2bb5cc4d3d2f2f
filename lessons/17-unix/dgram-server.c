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
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "common.h"

/* Larger than any datagram the lesson's clients send; a longer one would
 * be cut to this size (MSG_TRUNC). */
#define MAX_DATAGRAM 65536

/* The command line; parse_options(), at the end, fills these in. */
static const char *sock_name; /* -s; NULL: dgram.sock in a private directory */
static long max_count;        /* -n; 0: until a stop signal */

/* Who sent a datagram: the address recvfrom() filled in, its length, and
 * a name to print. */
struct sender {
	struct sockaddr_un addr;
	socklen_t len;
	char name[SL_ADDRSTRLEN];
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int open_socket(const char *name);
static int serve(int fd, long limit);
static void name_sender(struct sender *from);
static void reply(int fd, const char *buf, size_t len, const struct sender *to);

int main(int argc, char **argv)
{
	char buf[SUN_PATH_MAX]; /* a socket's path must fit in sun_path */
	const char *name;
	int fd, status;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */

	/* The -s name, or dgram.sock in a new directory of mode 0700. */
	name = socket_name(sock_name, "dgram.sock", buf, sizeof(buf));
	fd = open_socket(name);
	if (fd < 0)
		return EXIT_RUNTIME;
	announce_listening(fd);

	status = serve(fd, max_count);
	if (stop_requested)
		printf("stopping: signal received\n");
	close(fd);
	remove_our_files(1);
	return status;
}

/* socket(AF_UNIX, SOCK_DGRAM) and bind(): no listen(), no accept().
 * Returns the socket, or -1 after saying why. */
static int open_socket(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	/* bind() creates the socket file. A stale one in the way (see
	 * socket_is_stale, asked with a datagram probe) is replaced. */
	if (bind(fd, (struct sockaddr *)&sun, len) < 0 &&
	    bind_over_stale(fd, name, &sun, len, SOCK_DGRAM) < 0) {
		close(fd);
		return -1;
	}
	forget_on_exit(NULL, name);
	return fd;
}

/* Receive datagrams and echo each one, until told to stop or done. */
static int serve(int fd, long limit)
{
	static char buf[MAX_DATAGRAM];
	long count = 0;

	while (limit == 0 || count < limit) {
		struct sender from = { .len = sizeof(from.addr) };
		int ready = wait_ready(fd, POLLIN, -1);
		ssize_t n;

		if (ready == 0)
			break;
		if (ready < 0) {
			warn("poll:");
			return EXIT_RUNTIME;
		}
		/* One recvfrom() is one whole datagram, and from.len is set
		 * to the length of the sender's address. */
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from.addr, &from.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recvfrom:");
			return EXIT_RUNTIME;
		}
		name_sender(&from);
		printf("datagram %zd bytes from %s (addrlen %u): \"", n, from.name,
		       (unsigned)from.len);
		print_text(buf, (size_t)n);
		printf("\"\n");
		reply(fd, buf, (size_t)n, &from);
		count++;
	}
	return EXIT_OK;
}

/* The sender's name, or "(unnamed)" when the address holds no name: an
 * unbound sender's address is at most sun_family long (Linux gives 0). */
static void name_sender(struct sender *from)
{
	if (from->len <= offsetof(struct sockaddr_un, sun_path))
		snprintf(from->name, sizeof(from->name), "(unnamed)");
	else if (sl_addr_format((const struct sockaddr *)&from->addr, from->len, from->name,
				sizeof(from->name)) == NULL)
		snprintf(from->name, sizeof(from->name), "(unreadable address)");
}

/* Send the datagram back to where it came from. MSG_DONTWAIT: a client
 * that stops reading fills its queue, and a blocking sendto() would then
 * stall the whole server; we drop that one reply instead, and say so. */
static void reply(int fd, const char *buf, size_t len, const struct sender *to)
{
	if (sendto(fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&to->addr, to->len) < 0) {
		int saved = errno;

		printf("reply to %s failed: sendto: %s\n", to->name, strerror(saved));
		if (to->len <= offsetof(struct sockaddr_un, sun_path))
			printf("  (the sender never bound a name: there is no address to answer to)\n");
		else if (saved == EAGAIN)
			printf("  (its receive queue is full: it is not reading)\n");
		return;
	}
	printf("replied %zu bytes to %s\n", len, to->name);
}

/* ---- Plumbing: the command line ------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv)
{
	static const struct lesson_opt options[] = {
		OPT_SOCKET(&sock_name, "dgram.sock"),
		{ 'n', "count", OPT_NUMBER, &max_count, "N", "exit after N datagrams (0: never)",
		  .what = "datagram count", .min = 0, .max = 1000000 },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){ .opts = options,
		.about = "The Unix-domain datagram echo server (lesson 17): sends each datagram\n"
			 "back to its sender's address, and prints that address and its length." });
}
