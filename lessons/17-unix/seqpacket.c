/* seqpacket.c — lesson 17: SOCK_SEQPACKET, a connection that keeps
 * message boundaries.
 *
 * What it shows: "seqpacket server" listens and accepts like a stream
 * server, but each recv() returns exactly one message, as the peer passed
 * it to one send(): never two glued together, never half of one. It
 * echoes each message back as one message. "seqpacket client" sends COUNT
 * messages of random sizes without waiting for the replies, so several
 * queue up at the server, and checks that every reply has exactly the
 * size and bytes of the message it answers.
 *
 * A receive buffer smaller than a message does not leave the rest for the
 * next recv(), as a stream would: the rest is discarded. recvmsg() says
 * so with MSG_TRUNC in msg_flags, and when MSG_TRUNC is also passed as a
 * flag (Linux 3.4 and later, for Unix sockets), it returns the message's
 * real length. Try "seqpacket server -B 16" to see it.
 *
 * Why: TCP and SOCK_STREAM are byte streams; a program needs its own
 * framing (lesson 04). SOCK_DGRAM keeps boundaries but has no connection.
 * SOCK_SEQPACKET has both, and a Unix one is reliable and ordered. Linux
 * uses it for local protocols that exchange messages (the visualizer's
 * trace shim talks to socklab over one).
 *
 * One trap: a message of 0 bytes is allowed, and recv() returns 0 for it,
 * which is also how the end of the connection looks. Send no empty
 * messages, or you cannot tell them from the peer closing.
 *
 * Notice when it runs: the server prints one line per message with its
 * exact size; "-B 16" turns the large ones into "truncated" lines.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lesson.h"
#include "unixlesson.h"

#define BACKLOG 16
#define MAX_MESSAGE 65536
#define STALL_MS 10000 /* the client gives up when nothing moves this long */

static void usage(void)
{
	printf("usage: seqpacket server [-s PATH|@NAME] [-B BYTES] [-n N]\n"
	       "       seqpacket client -s PATH|@NAME [-c COUNT] [-S BYTES] [-r SEED]\n"
	       "SOCK_SEQPACKET over AF_UNIX (lesson 17): a connection that keeps message\n"
	       "boundaries. The server echoes each message as one message; the client\n"
	       "sends COUNT messages of random sizes and checks every reply.\n"
	       "\n"
	       "  -s, --socket PATH    the socket (server default: seq.sock in a new 0700\n"
	       "                       directory under $XDG_RUNTIME_DIR or /tmp), or @NAME\n"
	       "  -B, --buffer BYTES   server: receive buffer size (default %d); a longer\n"
	       "                       message is truncated (MSG_TRUNC)\n"
	       "  -n, --clients N      server: exit after N clients (default 0: until\n"
	       "                       SIGINT or SIGTERM)\n"
	       "  -c, --count COUNT    client: how many messages (default 100)\n"
	       "  -S, --max-size BYTES client: largest message (default 2000); sizes are\n"
	       "                       random from 1 to BYTES\n"
	       "  -r, --seed SEED      client: seed for sizes and contents (default 1)\n"
	       "  -h, --help           show this help\n"
	       "Exit status (client): 0 when every reply matched, 1 otherwise.\n",
	       MAX_MESSAGE);
}

enum role { ROLE_SERVER, ROLE_CLIENT };

struct options {
	enum role role;
	const char *name;
	long buffer;
	long max_clients;
	long count;
	long max_size;
	long seed;
	int seen_server_opt, seen_client_opt;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "buffer", required_argument, NULL, 'B' },
		{ "clients", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'c' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->buffer = MAX_MESSAGE;
	opt->count = 100;
	opt->max_size = 2000;
	opt->seed = 1;
	while ((c = getopt_long(argc, argv, ":hs:B:n:c:S:r:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->name = optarg;
			break;
		case 'B':
			opt->buffer = opt_number(optarg, "buffer size", 1, MAX_MESSAGE);
			opt->seen_server_opt = 1;
			break;
		case 'n':
			opt->max_clients = opt_number(optarg, "client count", 0, 1000000);
			opt->seen_server_opt = 1;
			break;
		case 'c':
			opt->count = opt_number(optarg, "message count", 1, 100000);
			opt->seen_client_opt = 1;
			break;
		case 'S':
			opt->max_size = opt_number(optarg, "message size", 1, MAX_MESSAGE);
			opt->seen_client_opt = 1;
			break;
		case 'r':
			opt->seed = opt_number(optarg, "seed", 1, 2147483647);
			opt->seen_client_opt = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind >= argc)
		usage_error("say which role: seqpacket server, or seqpacket client");
	if (strcmp(argv[optind], "server") == 0)
		opt->role = ROLE_SERVER;
	else if (strcmp(argv[optind], "client") == 0)
		opt->role = ROLE_CLIENT;
	else
		usage_error("unknown role '%s': expected server or client", argv[optind]);
	if (optind + 1 < argc)
		usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (opt->name != NULL && opt->name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
	if (opt->role == ROLE_CLIENT && opt->name == NULL)
		usage_error("give the server's socket with -s PATH or -s @NAME");
	if (opt->role == ROLE_SERVER && opt->seen_client_opt)
		usage_error("-c, -S and -r are client options");
	if (opt->role == ROLE_CLIENT && opt->seen_server_opt)
		usage_error("-B and -n are server options");
}

/* ---- the server ---------------------------------------------------------------- */

/* socket(AF_UNIX, SOCK_SEQPACKET), bind, listen; a stale file at the path
 * is removed first (see bind_unix). Returns the socket, or -1. */
static int open_listener(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (bind_unix(fd, name, SOCK_SEQPACKET) < 0) {
		close(fd);
		return -1;
	}
	if (listen(fd, BACKLOG) < 0) {
		warn("listen %s:", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one message. send() on SOCK_SEQPACKET is all or nothing: the whole
 * message is queued, or none of it (EAGAIN), never a part. */
static int send_message(int fd, const char *buf, size_t len)
{
	for (;;) {
		int ready;

		if (send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		ready = wait_ready(fd, POLLOUT, -1);
		if (ready <= 0)
			return -1;
	}
}

/* Receive one message into buf. MSG_TRUNC as a flag makes recvmsg()
 * return the message's full length even when buf was too small; MSG_TRUNC
 * in msg_flags says that it was. Returns the full length, 0 at the end of
 * the connection, -1 on error. */
static ssize_t recv_message(int fd, char *buf, size_t size, int *truncated)
{
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	do
		n = recvmsg(fd, &msg, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	*truncated = n > 0 && (msg.msg_flags & MSG_TRUNC) != 0;
	return n;
}

/* Echo each message of one client as one message. */
static void serve_client(int fd, char *buf, size_t size)
{
	long count = 0;

	while (wait_ready(fd, POLLIN, -1) > 0) {
		int truncated;
		ssize_t n = recv_message(fd, buf, size, &truncated);

		if (n == 0)
			break; /* the client closed (or sent an empty message) */
		if (n < 0) {
			warn("recvmsg:");
			break;
		}
		count++;
		if (truncated)
			printf("message %ld: %zd bytes, buffer %zu: truncated (MSG_TRUNC), "
			       "%zd bytes discarded\n", count, n, size, n - (ssize_t)size);
		else
			printf("message %ld: %zd bytes\n", count, n);
		if (send_message(fd, buf, truncated ? size : (size_t)n) < 0) {
			if (!stop_requested)
				warn("send:");
			break;
		}
	}
	printf("client done: %ld messages\n", count);
}

static int run_server(const struct options *opt)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const char *name = opt->name;
	long served = 0;
	char *buf;
	int listener;

	if (name == NULL) {
		if (make_private_dir(dir, sizeof(dir)) < 0)
			die("mkdtemp %s:", dir);
		forget_on_exit(dir, NULL);
		socket_path_in(path, sizeof(path), dir, "seq.sock");
		name = path;
	}
	buf = malloc((size_t)opt->buffer);
	if (buf == NULL)
		die("malloc:");
	listener = open_listener(name);
	if (listener < 0) {
		free(buf);
		return EXIT_RUNTIME;
	}
	announce_listening(listener);
	while (opt->max_clients == 0 || served < opt->max_clients) {
		int fd, ready = wait_ready(listener, POLLIN, -1);

		if (ready <= 0)
			break;
		fd = accept(listener, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			warn("accept:");
			break;
		}
		printf("client connected\n");
		serve_client(fd, buf, (size_t)opt->buffer);
		close(fd);
		served++;
	}
	if (stop_requested)
		printf("stopping: signal received\n");
	close(listener);
	free(buf);
	remove_our_files(1);
	return EXIT_OK;
}

/* ---- the client ---------------------------------------------------------------- */

/* xorshift32: a small, reproducible pseudo-random sequence. */
static uint32_t next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* Fill message number index with bytes that depend on the seed, the index
 * and the position, so a reply can be checked byte for byte. */
static void fill_message(char *buf, size_t len, long index, long seed)
{
	uint32_t state = (uint32_t)(seed * 2654435761u + (unsigned long)index * 40503u) | 1u;

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(next_random(&state) >> 24);
}

struct exchange {
	long count;
	long sent, received, bad;
	size_t *sizes;
	char *out, *in, *expect; /* MAX_MESSAGE + 1 bytes each */
	long seed;
};

/* Try to send the next message; EAGAIN (no room now) is not an error. */
static int try_send(int fd, struct exchange *x)
{
	size_t len = x->sizes[x->sent];

	fill_message(x->out, len, x->sent, x->seed);
	if (send(fd, x->out, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	x->sent++;
	return 0;
}

/* Try to receive the next reply and check it; EAGAIN is not an error. */
static int try_receive(int fd, struct exchange *x)
{
	size_t want = x->sizes[x->received];
	ssize_t n = recv(fd, x->in, MAX_MESSAGE + 1, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		errno = ECONNRESET;
		return -1; /* the server went away before answering all */
	}
	fill_message(x->expect, want, x->received, x->seed);
	if ((size_t)n != want || memcmp(x->in, x->expect, want) != 0) {
		printf("reply %ld: %zd bytes, expected %zu%s\n", x->received + 1, n, want,
		       (size_t)n == want ? " (same size, different bytes)" : "");
		x->bad++;
	}
	x->received++;
	return 0;
}

/* Send and receive at once: waiting for all replies before sending more
 * would be slow, and sending everything before reading anything could
 * fill both directions' buffers (each side's send() then waits for the
 * other to read: a deadlock). Returns 0 when all replies are in, -1 after
 * saying why not. */
static int exchange_all(int fd, struct exchange *x)
{
	while (x->received < x->count) {
		short events = POLLIN | (x->sent < x->count ? POLLOUT : 0);
		int ready = wait_ready(fd, events, STALL_MS);

		if (ready == 0) {
			printf("stopped: signal received\n");
			return -1;
		}
		if (ready < 0) {
			warn("waiting for the server:");
			return -1;
		}
		if (x->sent < x->count && try_send(fd, x) < 0) {
			warn("send:");
			return -1;
		}
		if (try_receive(fd, x) < 0) {
			warn("recv:");
			return -1;
		}
	}
	return 0;
}

/* socket(AF_UNIX, SOCK_SEQPACKET) and connect(); the socket or -1. */
static int connect_to_server(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		warn("connect %s:", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Sizes from 1 to max_size, from the seed: the same seed, the same run. */
static int plan_messages(struct exchange *x, const struct options *opt)
{
	uint32_t state = (uint32_t)opt->seed;

	memset(x, 0, sizeof(*x));
	x->count = opt->count;
	x->seed = opt->seed;
	x->sizes = calloc((size_t)opt->count, sizeof(*x->sizes));
	x->out = malloc(MAX_MESSAGE + 1);
	x->in = malloc(MAX_MESSAGE + 1);
	x->expect = malloc(MAX_MESSAGE + 1);
	if (x->sizes == NULL || x->out == NULL || x->in == NULL || x->expect == NULL)
		return -1;
	for (long i = 0; i < opt->count; i++)
		x->sizes[i] = 1 + next_random(&state) % (uint32_t)opt->max_size;
	return 0;
}

static void free_messages(struct exchange *x)
{
	free(x->sizes);
	free(x->out);
	free(x->in);
	free(x->expect);
}

static int run_client(const struct options *opt)
{
	struct exchange x;
	int fd, ok;

	if (plan_messages(&x, opt) < 0) {
		free_messages(&x);
		die("malloc:");
	}
	fd = connect_to_server(opt->name);
	if (fd < 0) {
		free_messages(&x);
		return EXIT_RUNTIME;
	}
	exchange_all(fd, &x);
	close(fd);
	printf("%ld messages sent, %ld replies, %ld wrong\n", x.sent, x.received, x.bad);
	ok = x.received == x.count && x.bad == 0;
	if (ok)
		printf("every recv() returned exactly one message, of the size sent\n");
	free_messages(&x);
	return ok ? EXIT_OK : EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
	struct options opt;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();
	return opt.role == ROLE_SERVER ? run_server(&opt) : run_client(&opt);
}
