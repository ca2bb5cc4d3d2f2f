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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

#define BACKLOG 16
#define MAX_MESSAGE 65536
#define STALL_MS 10000 /* the client gives up when nothing moves this long */

/* The command line; parse_options(), at the end, fills these in. */
static enum { ROLE_SERVER, ROLE_CLIENT } role;
static const char *sock_name; /* -s; NULL (server): seq.sock in a private directory */
static long buffer_size;      /* server -B */
static long client_limit;     /* server -n; 0: until a stop signal */
static long message_count;    /* client -c: how many messages */
static long message_max;      /* client -S: the largest message */
static long message_seed;     /* client -r: sizes and bytes follow from it */

/* The client's messages: their sizes, and the replies so far. */
struct exchange {
	long count;
	long sent, received, bad;
	size_t *sizes;
	char *out, *in, *expect; /* MAX_MESSAGE + 1 bytes each */
	long seed;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int run_server(void);
static void serve_client(int fd, char *buf, size_t size);
static ssize_t recv_message(int fd, char *buf, size_t size, int *truncated);
static int send_message(int fd, const char *buf, size_t len);
static int run_client(void);
static int exchange_all(int fd, struct exchange *x);
static int try_send(int fd, struct exchange *x);
static int try_receive(int fd, struct exchange *x);
static int plan_messages(struct exchange *x);
static void free_messages(struct exchange *x);
static void fill_message(char *buf, size_t len, long index, long seed);
static uint32_t next_random(uint32_t *state);

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */
	return role == ROLE_SERVER ? run_server() : run_client();
}

/* ---- the server ---------------------------------------------------------------- */

/* Listen, then echo one client after another, each message as one. */
static int run_server(void)
{
	char path[SUN_PATH_MAX];
	const char *name;
	long served = 0;
	char *buf;
	int listener;

	/* The -s name, or seq.sock in a new directory of mode 0700. */
	name = socket_name(sock_name, "seq.sock", path, sizeof(path));
	buf = malloc((size_t)buffer_size);
	if (buf == NULL)
		die("malloc:");
	/* socket(AF_UNIX, SOCK_SEQPACKET), bind and listen, as a stream
	 * server does (see stream-server.c). */
	listener = listen_unix(name, SOCK_SEQPACKET, BACKLOG);
	if (listener < 0) {
		free(buf);
		return EXIT_RUNTIME;
	}
	announce_listening(listener);
	while (client_limit == 0 || served < client_limit) {
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
		serve_client(fd, buf, (size_t)buffer_size);
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

/* ---- the client ---------------------------------------------------------------- */

/* Connect, send the messages while reading the replies, and say whether
 * every reply came back whole. */
static int run_client(void)
{
	struct exchange x;
	int fd, ok;

	if (plan_messages(&x) < 0) {
		free_messages(&x);
		die("malloc:");
	}
	fd = connect_unix(sock_name, SOCK_SEQPACKET);
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

/* ---- Plumbing: the client's messages, the command line --------------- */

/* Sizes from 1 to max_size, from the seed: the same seed, the same run. */
static int plan_messages(struct exchange *x)
{
	uint32_t state = (uint32_t)message_seed;

	memset(x, 0, sizeof(*x));
	x->count = message_count;
	x->seed = message_seed;
	x->sizes = calloc((size_t)message_count, sizeof(*x->sizes));
	x->out = malloc(MAX_MESSAGE + 1);
	x->in = malloc(MAX_MESSAGE + 1);
	x->expect = malloc(MAX_MESSAGE + 1);
	if (x->sizes == NULL || x->out == NULL || x->in == NULL || x->expect == NULL)
		return -1;
	for (long i = 0; i < message_count; i++)
		x->sizes[i] = 1 + next_random(&state) % (uint32_t)message_max;
	return 0;
}

static void free_messages(struct exchange *x)
{
	free(x->sizes);
	free(x->out);
	free(x->in);
	free(x->expect);
}

/* Fill message number index with bytes that depend on the seed, the index
 * and the position, so a reply can be checked byte for byte. */
static void fill_message(char *buf, size_t len, long index, long seed)
{
	uint32_t state = (uint32_t)(seed * 2654435761u + (unsigned long)index * 40503u) | 1u;

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(next_random(&state) >> 24);
}

/* xorshift32: a small, reproducible pseudo-random sequence. */
static uint32_t next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. The options of one role are
 * refused in the other. */
static void parse_options(int argc, char **argv)
{
	static const struct lesson_opt options[] = {
		OPT_SOCKET(&sock_name, "seq.sock"),
		{ 'B', "buffer", OPT_NUMBER, &buffer_size, "BYTES",
		  "server: receive buffer size (default 65536); a longer\n"
		  "message is truncated (MSG_TRUNC)",
		  .what = "buffer size", .min = 1, .max = MAX_MESSAGE },
		{ 'n', "clients", OPT_NUMBER, &client_limit, "N",
		  "server: exit after N clients (default 0: until\nSIGINT or SIGTERM)",
		  .what = "client count", .min = 0, .max = 1000000 },
		{ 'c', "count", OPT_NUMBER, &message_count, "COUNT",
		  "client: how many messages (default 100)",
		  .what = "message count", .min = 1, .max = 100000 },
		{ 'S', "max-size", OPT_NUMBER, &message_max, "BYTES",
		  "client: largest message (default 2000); sizes are\nrandom from 1 to BYTES",
		  .what = "message size", .min = 1, .max = MAX_MESSAGE },
		{ 'r', "seed", OPT_NUMBER, &message_seed, "SEED",
		  "client: seed for sizes and contents (default 1)",
		  .what = "seed", .min = 1, .max = 2147483647 },
		{ 0 }
	};
	int first;

	client_limit = -1; /* the values nobody can give: "not given" */
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "server|client", .max_args = 1, .opts = options,
		.about = "SOCK_SEQPACKET over AF_UNIX (lesson 17): a connection that keeps\n"
			 "message boundaries. The server echoes each message as one message;\n"
			 "the client sends COUNT messages of random sizes and checks every\n"
			 "reply.",
		.footer = "Exit status (client): 0 when every reply matched, 1 otherwise.",
	});
	if (first >= argc)
		usage_error("say which role: seqpacket server, or seqpacket client");
	if (strcmp(argv[first], "server") == 0)
		role = ROLE_SERVER;
	else if (strcmp(argv[first], "client") == 0)
		role = ROLE_CLIENT;
	else
		usage_error("unknown role '%s': expected server or client", argv[first]);
	if (role == ROLE_SERVER && (message_count || message_max || message_seed))
		usage_error("-c, -S and -r are client options");
	if (role == ROLE_CLIENT && (buffer_size || client_limit >= 0))
		usage_error("-B and -n are server options");
	if (role == ROLE_CLIENT && sock_name == NULL)
		usage_error("give the server's socket with -s PATH or -s @NAME");
	buffer_size = buffer_size ? buffer_size : MAX_MESSAGE;
	client_limit = client_limit >= 0 ? client_limit : 0;
	message_count = message_count ? message_count : 100;
	message_max = message_max ? message_max : 2000;
	message_seed = message_seed ? message_seed : 1;
}
