/* client.c — lesson 11: connect() with a timeout, then send and receive at
 * the same time.
 *
 * What it shows: a blocking connect() waits as long as the kernel keeps
 * retrying the SYN (over two minutes on Linux) and cannot be told to give
 * up sooner. A non-blocking one returns at once with EINPROGRESS: the
 * handshake has started. We then poll() for POLLOUT with our own timeout;
 * when the socket turns writable the handshake is over, and
 * getsockopt(SO_ERROR) says how it ended: 0 (connected) or the error
 * connect() would have returned (ECONNREFUSED, ETIMEDOUT, ...). This is
 * what Python's socket.settimeout() and connect_ex() do underneath.
 *
 * Then the echo exchange, non-blocking too: one poll() loop sends standard
 * input while it reads the echo. Lesson 02's client sent everything
 * first and deadlocked on 16 MiB (four full buffers); this one does not.
 *
 * Notice when it runs with -v: EINPROGRESS, the wait, SO_ERROR; and with a
 * server that cannot answer (see the README: a full backlog), the timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "lesson/lesson.h"

#define BUF_SIZE (64 * 1024)
#define TIMEOUT_DEFAULT_MS 5000

struct options {
	const char *host;
	const char *port;
	long timeout_ms;
	int verbose;
	char **words;
	int nwords;
	long no_read;          /* --no-read: bytes to send, reading nothing */
};

struct exchange {
	int fd;
	int in_fd;             /* standard input, or -1 when sending words */
	char out[BUF_SIZE];    /* read from the input, not yet sent */
	size_t out_start, out_end;
	int input_done;        /* input at its end */
	int shut;              /* shutdown(SHUT_WR) done */
	long long unread;      /* --no-read: bytes still to send */
	char in[BUF_SIZE];     /* received, to be printed */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int set_nonblocking(int fd);
static int finish_connect(int fd, long timeout_ms, int verbose);
static int connect_to(const struct addrinfo *ai, long timeout_ms, int verbose);
static int connect_to_server(const struct options *opt);
static int read_input(struct exchange *x);
static int send_some(struct exchange *x);
static int receive_some(struct exchange *x);
static int talk(struct exchange *x);
static int send_never_read(struct exchange *x);
static int load_words(struct exchange *x, char **words, int nwords);
static long long now_ms(void);

int main(int argc, char **argv)
{
	static struct exchange x;
	struct options opt;
	int status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	x.fd = connect_to_server(&opt);
	if (x.fd < 0)
		return EXIT_RUNTIME;
	x.in_fd = opt.words != NULL ? -1 : STDIN_FILENO;
	if (opt.no_read > 0) {
		/* The client of lesson 11's --blocking story: it sends and
		 * never reads, so the echo piles up in the server's send(). */
		x.unread = opt.no_read;
		status = send_never_read(&x) == 0 ? EXIT_OK : EXIT_RUNTIME;
	} else if (opt.words == NULL || load_words(&x, opt.words, opt.nwords) == 0) {
		if (talk(&x) == 0)
			status = EXIT_OK;
	}
	close(x.fd);
	return status;
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* ---- connect with a timeout ------------------------------------------------------ */

/* Wait for a started connect() to finish, at most timeout_ms. Returns 0
 * when connected; -1 with errno (ETIMEDOUT when our time ran out). */
static int finish_connect(int fd, long timeout_ms, int verbose)
{
	/* EXERCISE 3: wait at most timeout_ms for the handshake, then ask how it ended */
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	long long start = now_ms(), deadline = start + timeout_ms;
	socklen_t len;
	int n, soerr;

	for (;;) {
		long long left = deadline - now_ms();

		n = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (n > 0)
			break;
		if (n == 0) {
			if (verbose)
				fprintf(stderr, "poll: nothing after %lld ms: giving up\n",
				       now_ms() - start);
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	/* Writable means "the handshake is over", not "it worked": the
	 * outcome is the socket's pending error, which reading clears. */
	len = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	if (verbose)
		fprintf(stderr, "poll: writable after %lld ms; SO_ERROR = %d (%s)\n",
		       now_ms() - start, soerr, soerr == 0 ? "connected" : strerror(soerr));
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
	/* END EXERCISE 3 */
}

static int connect_to(const struct addrinfo *ai, long timeout_ms, int verbose)
{
	char where[SL_ADDRSTRLEN];
	int fd;

	if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, where, sizeof(where)) == NULL)
		snprintf(where, sizeof(where), "(address family %d)", ai->ai_family);
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
		warn("socket for %s:", where);
		return -1;
	}
	if (set_nonblocking(fd) < 0) {
		warn("fcntl O_NONBLOCK:");
		close(fd);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		if (verbose)
			fprintf(stderr, "connect %s: done at once\n", where);
		return fd; /* it can happen on loopback */
	}
	if (errno != EINPROGRESS) {
		warn("connect %s:", where);
		close(fd);
		return -1;
	}
	if (verbose)
		fprintf(stderr, "connect %s: EINPROGRESS (the SYN is out; waiting up to %ld ms)\n",
		       where, timeout_ms);
	if (finish_connect(fd, timeout_ms, verbose) < 0) {
		if (errno == ETIMEDOUT)
			warn("connect %s: timed out after %ld ms", where, timeout_ms);
		else
			warn("connect %s:", where);
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_to_server(const struct options *opt)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(opt->host, opt->port, &hints, &res);
	if (rc != 0) {
		warn("resolve %s: %s", opt->host,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_to(ai, opt->timeout_ms, opt->verbose);
	freeaddrinfo(res);
	return fd;
}

/* ---- send and receive at once -------------------------------------------------------- */

/* Refill the send buffer from standard input (poll said it is readable,
 * so read() does not block). stdin stays blocking: it is not ours, and
 * O_NONBLOCK on it would change the terminal's file for the shell too. */
static int read_input(struct exchange *x)
{
	ssize_t n = read(x->in_fd, x->out, sizeof(x->out));

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0)
		x->input_done = 1;
	x->out_start = 0;
	x->out_end = (size_t)n;
	return 0;
}

static int send_some(struct exchange *x)
{
	ssize_t n = send(x->fd, x->out + x->out_start, x->out_end - x->out_start,
			 MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	x->out_start += (size_t)n;
	return 0;
}

/* Returns 1 at the server's end of file, 0 to go on, -1 on an error. */
static int receive_some(struct exchange *x)
{
	ssize_t n = recv(x->fd, x->in, sizeof(x->in), 0);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		warn("recv:");
		return -1;
	}
	if (n == 0)
		return 1;
	if (sl_io_write_all(STDOUT_FILENO, x->in, (size_t)n) < 0) {
		warn("write standard output:");
		return -1;
	}
	return 0;
}

static int talk(struct exchange *x)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = x->fd, .events = POLLIN },
					 { .fd = -1 } }; /* poll skips fd -1 */
		int unsent = x->out_start < x->out_end;
		int r;

		if (unsent)
			pfd[0].events |= POLLOUT;
		else if (!x->input_done && x->in_fd >= 0)
			pfd[1] = (struct pollfd){ .fd = x->in_fd, .events = POLLIN };
		if (!unsent && (x->input_done || x->in_fd < 0) && !x->shut) {
			/* All sent: the half-close, as lesson 02's client does. */
			if (shutdown(x->fd, SHUT_WR) < 0) {
				warn("shutdown:");
				return -1;
			}
			x->shut = 1;
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll:");
			return -1;
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && read_input(x) < 0) {
			warn("read standard input:");
			return -1;
		}
		if ((pfd[0].revents & POLLOUT) && send_some(x) < 0) {
			warn("send:");
			return -1;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = receive_some(x);
			if (r != 0)
				return r > 0 ? 0 : -1;
		}
	}
}

/* --no-read: send x->unread bytes and never read the echo; then wait,
 * the connection open, until a signal ends the program. A server that
 * sends with a blocking send() stops in it once our receive buffer and its
 * send buffer are full: lesson 11's --blocking shows what that does to the
 * other clients. */
static int send_never_read(struct exchange *x)
{
	long long sent = 0;

	memset(x->out, 'r', sizeof(x->out));
	while (x->unread > 0) {
		struct pollfd pfd = { .fd = x->fd, .events = POLLOUT };
		size_t chunk = x->unread < (long long)sizeof(x->out) ? (size_t)x->unread
								    : sizeof(x->out);
		ssize_t n;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			warn("poll:");
			return -1;
		}
		n = send(x->fd, x->out, chunk, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			warn("send:");
			return -1;
		}
		x->unread -= n;
		sent += n;
	}
	printf("sent %lld bytes; reading nothing, waiting for a signal\n", sent);
	pause();
	return 0;
}

/* The words joined by spaces, a newline at the end, as echo(1) does. */
static int load_words(struct exchange *x, char **words, int nwords)
{
	size_t at = 0;

	for (int i = 0; i < nwords; i++) {
		size_t n = strlen(words[i]);

		if (at + n + 1 > sizeof(x->out)) {
			warn("the words are longer than %zu bytes: use standard input",
			     sizeof(x->out));
			return -1;
		}
		memcpy(x->out + at, words[i], n);
		at += n;
		x->out[at++] = i + 1 < nwords ? ' ' : '\n';
	}
	x->out_start = 0;
	x->out_end = at;
	x->input_done = 1;
	return 0;
}

/* ---- Plumbing: the clock, the command line --------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "the server's address (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&opt->port),
		{ 't', "timeout", OPT_NUMBER, &opt->timeout_ms, "MS",
		  "give up connecting after MS milliseconds\n(1 to 600000, default 5000)",
		  .what = "timeout", .min = 1, .max = 600000 },
		{ 'v', "verbose", OPT_FLAG, &opt->verbose,
		  .help = "say what connect() and poll() did (on stderr)" },
		{ 0, "no-read", OPT_NUMBER, &opt->no_read, "BYTES",
		  "send BYTES and never read the echo: a client that\n"
		  "stops reading (see the server's --blocking)",
		  .what = "byte count", .min = 1, .max = 1L << 30 },
		{ 0 }
	};
	int first;

	opt->host = DEFAULT_HOST;
	opt->port = NULL;
	opt->timeout_ms = TIMEOUT_DEFAULT_MS;
	opt->verbose = 0;
	opt->no_read = 0;
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[WORD...]",
		.about = "The echo client with a connect timeout (lesson 11): sends the WORDs\n"
			 "(joined by spaces, a newline at the end) or all of standard input,\n"
			 "reading the echo while it sends, and prints the echo.",
		.opts = options,
		.max_args = -1,
	});
	opt->words = first < argc ? argv + first : NULL;
	opt->nwords = argc - first;
}
