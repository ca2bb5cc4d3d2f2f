/* client.c — lesson 12: the smallest io_uring program, an echo client.
 *
 * What it shows: the io_uring cycle with nothing else around it. Get a
 * submission queue entry (SQE), prepare it ("connect this socket to that
 * address"), submit, wait for the completion queue entry (CQE), read its
 * result — the value the system call would have returned, or -errno.
 *
 * Three SQEs go in one submission, *linked* (IOSQE_IO_LINK): connect, then
 * send, then shutdown(SHUT_WR). The kernel runs them in order, each one
 * only when the one before it succeeded; if connect fails, the send and
 * the shutdown complete with -ECANCELED, never run. Then one recv SQE at a
 * time collects the echo until a CQE says 0 (end of file).
 *
 * Notice when it runs with -v: one line per CQE, and against a closed port
 * "connect: res -111 (Connection refused)" followed by two "Operation
 * canceled".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "lesson/lesson.h"

#define MSG_MAX 65536

enum step { STEP_CONNECT = 1, STEP_SEND, STEP_SHUTDOWN, STEP_RECV };
static const char *const step_names[] = { "", "connect", "send", "shutdown", "recv" };

struct options {
	const char *host;
	const char *port;
	int verbose;
	char **words;
	int nwords;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int connect_send_shutdown(struct io_uring *ring, int fd,
				 const struct addrinfo *ai, const char *msg, size_t len,
				 int verbose);
static int receive_echo(struct io_uring *ring, int fd, int verbose);
static struct io_uring_sqe *sqe_for(struct io_uring *ring, enum step step);
static int wait_one(struct io_uring *ring, enum step *step, int verbose);
static size_t join_words(char *msg, char **words, int nwords);

int main(int argc, char **argv)
{
	static char msg[MSG_MAX];
	struct options opt;
	struct io_uring ring;
	struct addrinfo hints, *res;
	size_t len;
	int fd, rc, status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	len = join_words(msg, opt.words, opt.nwords);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(opt.host, opt.port, &hints, &res);
	if (rc != 0)
		die("resolve %s: %s", opt.host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	rc = io_uring_queue_init(8, &ring, 0);
	if (rc < 0) {
		freeaddrinfo(res);
		errno = -rc;
		die("io_uring unavailable: io_uring_queue_init:");
	}
	/* The first address only: this lesson is about the ring, not about
	 * trying every address (lesson 02's client does that). */
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		warn("socket:");
	} else {
		if (connect_send_shutdown(&ring, fd, res, msg, len, opt.verbose) == 0 &&
		    receive_echo(&ring, fd, opt.verbose) == 0)
			status = EXIT_OK;
		close(fd);
	}
	io_uring_queue_exit(&ring);
	freeaddrinfo(res);
	return status;
}

/* connect -> send -> shutdown, linked, in one submission. Returns 0 when
 * all three worked. */
static int connect_send_shutdown(struct io_uring *ring, int fd, const struct addrinfo *ai,
				 const char *msg, size_t len, int verbose)
{
	struct io_uring_sqe *sqe;
	int failed = 0, rc;

	/* EXERCISE 3: connect, send, shutdown: three SQEs, linked, in one submission */
	sqe = sqe_for(ring, STEP_CONNECT);
	io_uring_prep_connect(sqe, fd, ai->ai_addr, ai->ai_addrlen);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = sqe_for(ring, STEP_SEND);
	/* MSG_WAITALL: the send completes only when every byte is queued
	 * (a short send would let the shutdown cut the message). */
	io_uring_prep_send(sqe, fd, msg, len, MSG_NOSIGNAL | MSG_WAITALL);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = sqe_for(ring, STEP_SHUTDOWN);
	io_uring_prep_shutdown(sqe, fd, SHUT_WR);
	/* END EXERCISE 3 */

	rc = io_uring_submit(ring);
	if (rc < 0) {
		errno = -rc;
		die("io_uring_submit:");
	}
	for (int i = 0; i < 3; i++) {
		enum step step;
		int res = wait_one(ring, &step, verbose);
		char where[SL_ADDRSTRLEN];

		if (res >= 0 && !(step == STEP_SEND && (size_t)res != len))
			continue;
		if (res == -ECANCELED)
			continue; /* an earlier link failed and said why */
		failed = 1;
		if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, where, sizeof(where)) == NULL)
			snprintf(where, sizeof(where), "the server");
		if (res < 0)
			warn("%s %s: %s", step_names[step], where, strerror(-res));
		else
			warn("send %s: only %d of %zu bytes", where, res, len);
	}
	return failed ? -1 : 0;
}

/* One recv SQE at a time, printing each result, until end of file. */
static int receive_echo(struct io_uring *ring, int fd, int verbose)
{
	static char buf[MSG_MAX];

	for (;;) {
		struct io_uring_sqe *sqe = sqe_for(ring, STEP_RECV);
		enum step step;
		int res, rc;

		io_uring_prep_recv(sqe, fd, buf, sizeof(buf), 0);
		rc = io_uring_submit(ring);
		if (rc < 0) {
			errno = -rc;
			die("io_uring_submit:");
		}
		res = wait_one(ring, &step, verbose);
		if (res == 0)
			return 0;
		if (res < 0) {
			warn("recv: %s", strerror(-res));
			return -1;
		}
		if (sl_io_write_all(STDOUT_FILENO, buf, (size_t)res) < 0) {
			warn("write standard output:");
			return -1;
		}
	}
}

static struct io_uring_sqe *sqe_for(struct io_uring *ring, enum step step)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (sqe == NULL)
		die("io_uring: the submission queue is full");
	io_uring_sqe_set_data64(sqe, step);
	return sqe;
}

/* Wait for one CQE; return its result and which step it was. */
static int wait_one(struct io_uring *ring, enum step *step, int verbose)
{
	struct io_uring_cqe *cqe;
	int rc, res;

	do
		rc = io_uring_wait_cqe(ring, &cqe);
	while (rc == -EINTR);
	if (rc < 0) {
		errno = -rc;
		die("io_uring_wait_cqe:");
	}
	*step = (enum step)io_uring_cqe_get_data64(cqe);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (verbose)
		fprintf(stderr, "CQE %s: res %d%s%s%s\n", step_names[*step], res,
			res < 0 ? " (" : "", res < 0 ? strerror(-res) : "", res < 0 ? ")" : "");
	return res;
}

/* ---- Plumbing: joining the words, the command line ------------------------- */

/* The words joined by spaces, a newline at the end, as echo(1) does. */
static size_t join_words(char *msg, char **words, int nwords)
{
	size_t at = 0;

	for (int i = 0; i < nwords; i++) {
		size_t n = strlen(words[i]);

		if (at + n + 1 > MSG_MAX)
			usage_error("the words are longer than %d bytes", MSG_MAX);
		memcpy(msg + at, words[i], n);
		at += n;
		msg[at++] = i + 1 < nwords ? ' ' : '\n';
	}
	return at;
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "the server's address (default " DEFAULT_HOST ")"),
		OPT_SERVER_PORT(&opt->port),
		{ 'v', "verbose", OPT_FLAG, &opt->verbose,
		  .help = "print every completion (on stderr)" },
		{ 0 }
	};
	int first;

	opt->host = DEFAULT_HOST;
	opt->port = NULL;
	opt->verbose = 0;
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "WORD...",
		.about = "An echo client on io_uring (lesson 12): connect, send the WORDs (joined\n"
			 "by spaces, a newline at the end) and shut down, as three linked SQEs;\n"
			 "then receive the echo and print it.",
		.opts = options,
		.min_args = 1,
		.max_args = -1,
	});
	opt->words = argv + first;
	opt->nwords = argc - first;
}
