/* server.c — lesson 12: an echo server on io_uring, completion-based I/O.
 *
 * What it shows: the other way to avoid blocking. epoll (lesson 10) is
 * *readiness*-based: the kernel says "this socket is readable", and we
 * then make the recv() call ourselves. io_uring is *completion*-based: we
 * hand the kernel the whole operation — "receive into a buffer from this
 * socket" — as a submission queue entry (SQE), and later find its result
 * in the completion queue (CQE): "done, 10 bytes". Both queues are rings
 * of memory shared with the kernel; one io_uring_enter() system call
 * submits a whole batch and waits for completions, so one call can stand
 * for many recv()/send() calls.
 *
 * The parts:
 *  - multishot accept: one SQE that keeps producing a CQE per new client;
 *  - recv with a *provided buffer ring*: we lend the kernel a pool of
 *    buffers, and it picks one only when data arrives. Ten thousand idle
 *    clients hold no buffer at all (a plain recv SQE would need a buffer
 *    of its own for every client, waiting or not);
 *  - when every buffer is out, a recv fails with ENOBUFS and the client
 *    waits in line: a buffer that comes back goes to the first in line
 *    (a recv into that very buffer), not to whichever client's data
 *    happens to arrive first; one in line with nothing to read waits
 *    for data with a poll, holding no buffer;
 *  - per client, one operation in flight at a time: recv, then send of
 *    what came (again if partial), then recv. A client that never reads
 *    keeps its one send pending in the kernel and is not read from: that
 *    is the back-pressure, with no EPOLLOUT bookkeeping;
 *  - sockets stay blocking: io_uring never blocks the caller anyway;
 *  - when accept fails with EMFILE we stop accepting until a client leaves
 *    (or 100 ms pass, an io_uring timeout);
 *  - SIGINT/SIGTERM come from a signalfd read through the ring;
 *  - when io_uring is not available (kernel.io_uring_disabled, a seccomp
 *    filter in a container, an old kernel) we say so and why, and exit 1.
 *
 * Notice when it runs with -vv: each CQE, its result, and the buffer id
 * the kernel chose.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"

#define ENTRIES_DEFAULT 1024     /* submission queue size */
#define BUFFERS_DEFAULT 1024     /* buffers in the provided-buffer ring */
#define BUFFER_SIZE_DEFAULT 8192
#define BUF_GROUP 0              /* the id of our one buffer ring */
#define ACCEPT_PAUSE_MS 100

/* What a CQE belongs to: its user_data is a pointer with the operation in
 * the low bits (our structs are at least 8-byte aligned, so those bits
 * are free), or just the operation for the server's own requests. */
enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_POLL, OP_SIGNAL, OP_TIMEOUT, OP_CANCEL };
#define OP_MASK 7u

struct conn {
	int fd;
	int bid;               /* buffer being sent back, or -1 */
	int lent;              /* buffer handed to it from the line, or -1 */
	unsigned sent, len;    /* progress through that buffer */
	long long echoed;
	struct conn *prev, *next;
	struct conn *next_starved; /* waiting for a free buffer */
};

struct server {
	struct io_uring ring;
	int listener, sigfd;
	int verbose;
	struct signalfd_siginfo si;          /* the signalfd read lands here */
	struct __kernel_timespec pause;      /* ACCEPT_PAUSE_MS */
	int accept_armed, accept_paused, emfile_said, timeout_armed;
	struct conn *clients;
	struct conn *starved, *starved_tail; /* the line: recv got ENOBUFS */
	struct conn *kicked;                 /* taken from the line to try the ring */
	long nclients;
	/* the provided buffers */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *pool;
	size_t pool_bytes;
	unsigned nbufs, bufsize;
	unsigned free_bufs;                  /* lent to the kernel, unused */
	int stop;
};

struct options {
	const char *host;
	const char *port;
	int verbose;
	long entries, buffers, bufsize;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static void setup(struct server *s, const struct options *opt);
static void run(struct server *s);
static void cleanup(struct server *s);
static void handle(struct server *s, struct io_uring_cqe *cqe);
static void on_accept(struct server *s, int res, unsigned flags);
static void on_recv(struct server *s, struct conn *c, int res, unsigned flags);
static void on_recv_into(struct server *s, struct conn *c, int res);
static void on_poll(struct server *s, struct conn *c, int res);
static void on_send(struct server *s, struct conn *c, int res);
static void on_timeout(struct server *s);
static void add_client(struct server *s, int fd);
static void close_client(struct server *s, struct conn *c, const char *why);
static uint64_t tag(void *ptr, enum op op);
static struct io_uring_sqe *get_sqe(struct server *s);
static void arm_accept(struct server *s);
static void arm_recv(struct server *s, struct conn *c);
static void arm_recv_into(struct server *s, struct conn *c, int bid);
static void arm_poll(struct server *s, struct conn *c);
static void arm_send(struct server *s, struct conn *c);
static void arm_signal_read(struct server *s, unsigned flags);
static void arm_accept_timeout(struct server *s);
static void setup_buffers(struct server *s, unsigned nbufs, unsigned bufsize);
static void return_buffer(struct server *s, int bid);
static void release_buffer(struct server *s, int bid);
static void line_append(struct server *s, struct conn *c);
static void line_push_front(struct server *s, struct conn *c);
static struct conn *line_next_ready(struct server *s);
static void kick_line(struct server *s);
static void setup_ring(struct server *s, long entries);
static void unavailable(int err);
static int read_disabled_sysctl(void);
static void settle_workers(struct server *s);
static int open_signalfd(void);
static void describe_peer(int fd, char *who, size_t size);

int main(int argc, char **argv)
{
	static struct server s;
	struct options opt;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup(&s, &opt);
	announce_listening(s.listener);
	if (s.verbose >= 1)
		printf("io_uring: %u receive buffers of %u bytes lent to the kernel\n",
		       s.nbufs, s.bufsize);
	run(&s);
	printf("stopping: signal received\n");
	cleanup(&s);
	return EXIT_OK;
}

/* ---- setup and the loop ---------------------------------------------------- */

static void setup(struct server *s, const struct options *opt)
{
	char err[SL_ERR_LEN];

	s->verbose = opt->verbose;
	s->pause.tv_sec = ACCEPT_PAUSE_MS / 1000;
	s->pause.tv_nsec = (ACCEPT_PAUSE_MS % 1000) * 1000000L;
	/* The ring first: when io_uring is unavailable, nothing else has
	 * been opened that the early exit would have to close. */
	setup_ring(s, opt->entries);
	s->sigfd = open_signalfd();
	setup_buffers(s, (unsigned)opt->buffers, (unsigned)opt->bufsize);
	s->listener = sl_tcp_listen(opt->host, opt->port, SOMAXCONN, NULL, NULL, err);
	if (s->listener < 0)
		die("%s", err);
	settle_workers(s);
	arm_accept(s);
}

static void run(struct server *s)
{
	while (!s->stop) {
		/* EXERCISE 1: one turn of the loop: submit, wait, handle every completion */
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		/* Submit everything queued and wait for at least one
		 * completion: one system call for the whole batch. */
		int rc = io_uring_submit_and_wait(&s->ring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			errno = -rc;
			die("io_uring_submit_and_wait:");
		}
		io_uring_for_each_cqe(&s->ring, head, cqe) {
			handle(s, cqe);
			seen++;
		}
		io_uring_cq_advance(&s->ring, seen);
		/* END EXERCISE 1 */
		kick_line(s);
	}
}

static void cleanup(struct server *s)
{
	/* Leaving the ring cancels every request still in flight; then the
	 * sockets and buffers they referred to can go. */
	io_uring_queue_exit(&s->ring);
	while (s->clients != NULL) {
		struct conn *c = s->clients;

		s->clients = c->next;
		if (s->verbose >= 1) {
			char who[SL_ADDRSTRLEN];

			describe_peer(c->fd, who, sizeof(who));
			printf("client %s disconnected (%lld bytes echoed, server stopping)\n",
			       who, c->echoed);
		}
		close(c->fd);
		free(c);
	}
	munmap(s->pool, s->pool_bytes);
	munmap(s->br, s->br_bytes);
	close(s->listener);
	close(s->sigfd);
}

/* ---- completions ----------------------------------------------------------- */

static void handle(struct server *s, struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	enum op op = (enum op)(data & OP_MASK);
	struct conn *c = (struct conn *)(uintptr_t)(data & ~(uint64_t)OP_MASK);

	switch (op) {
	case OP_ACCEPT:
		on_accept(s, cqe->res, cqe->flags);
		break;
	case OP_RECV:
		if (c->lent >= 0)
			on_recv_into(s, c, cqe->res);
		else
			on_recv(s, c, cqe->res, cqe->flags);
		break;
	case OP_POLL:
		on_poll(s, c, cqe->res);
		break;
	case OP_SEND:
		on_send(s, c, cqe->res);
		break;
	case OP_SIGNAL:
		if (cqe->res == (int)sizeof(s->si)) {
			if (s->verbose >= 2)
				printf("signal %u received\n", s->si.ssi_signo);
			s->stop = 1;
		} else {
			arm_signal_read(s, 0);
		}
		break;
	case OP_TIMEOUT:
		on_timeout(s);
		break;
	case OP_CANCEL:
		break;
	}
}

static void on_accept(struct server *s, int res, unsigned flags)
{
	if (!(flags & IORING_CQE_F_MORE))
		s->accept_armed = 0; /* the multishot request has ended */
	if (res >= 0) {
		s->emfile_said = 0;
		add_client(s, res);
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
		if (!s->emfile_said)
			warn("accept: %s: not accepting until a client leaves (or %d ms)",
			     strerror(-res), ACCEPT_PAUSE_MS);
		s->emfile_said = 1;
		s->accept_paused = 1;
		if (s->accept_armed) {
			/* Still armed after an error: cancel it, or it
			 * would fail again and again. */
			struct io_uring_sqe *sqe = get_sqe(s);

			io_uring_prep_cancel64(sqe, OP_ACCEPT, 0);
			io_uring_sqe_set_data64(sqe, OP_CANCEL);
		}
		arm_accept_timeout(s);
		return;
	} else if (res != -EINTR && res != -ECONNABORTED && res != -EAGAIN) {
		errno = -res;
		die("accept:");
	}
	if (!s->accept_armed && !s->accept_paused && !s->stop)
		arm_accept(s);
}

static void on_recv(struct server *s, struct conn *c, int res, unsigned flags)
{
	int kicked = c == s->kicked;

	if (kicked)
		s->kicked = NULL;
	if (res == -ENOBUFS) {
		/* Every buffer was out when the kernel came to pick one for c
		 * (whether or not c had sent anything yet): c waits in line,
		 * and a buffer that comes back goes to the first in line. A
		 * client taken from the line to try the ring keeps its
		 * place. */
		if (s->verbose >= 1)
			printf("fd %d: recv: ENOBUFS (all %u buffers in use)\n", c->fd, s->nbufs);
		if (kicked)
			line_push_front(s, c);
		else
			line_append(s, c);
		return;
	}
	if (res <= 0) {
		/* End of file or an error. Should a CQE say it used a buffer
		 * anyway, that buffer is ours again: give it back, or the
		 * pool would shrink by one for every such client. */
		if (flags & IORING_CQE_F_BUFFER) {
			s->free_bufs--;
			return_buffer(s, (int)(flags >> IORING_CQE_BUFFER_SHIFT));
		}
		close_client(s, c, res == 0 ? NULL : strerror(-res));
		return;
	}
	/* EXERCISE 2: res bytes came, in a buffer the kernel chose: send them back */
	/* The kernel says which buffer it filled. */
	c->bid = (int)(flags >> IORING_CQE_BUFFER_SHIFT);
	s->free_bufs--;
	c->sent = 0;
	c->len = (unsigned)res;
	c->echoed += res;
	if (s->verbose >= 2)
		printf("fd %d: recv completed: %d bytes in buffer %d\n", c->fd, res, c->bid);
	arm_send(s, c);
	/* END EXERCISE 2 */
}

/* A recv into a buffer handed over from the line (release_buffer())
 * completed: the buffer is this client's, as one the kernel picked is. */
static void on_recv_into(struct server *s, struct conn *c, int res)
{
	int bid = c->lent;

	c->lent = -1;
	if (res <= 0) {
		release_buffer(s, bid);
		close_client(s, c, res == 0 ? NULL : strerror(-res));
		return;
	}
	c->bid = bid;
	c->sent = 0;
	c->len = (unsigned)res;
	c->echoed += res;
	if (s->verbose >= 2)
		printf("fd %d: recv completed: %d bytes in buffer %d, handed over from the line\n",
		       c->fd, res, bid);
	arm_send(s, c);
}

/* c, which found no buffer and had nothing to read, has data (or an end
 * of file) now: back in line. */
static void on_poll(struct server *s, struct conn *c, int res)
{
	if (res < 0) {
		close_client(s, c, strerror(-res));
		return;
	}
	line_append(s, c);
}

static void on_send(struct server *s, struct conn *c, int res)
{
	/* EXERCISE 2: a send completed: send the rest, or give the buffer back and recv again */
	if (res < 0) {
		close_client(s, c, strerror(-res));
		return;
	}
	c->sent += (unsigned)res;
	if (s->verbose >= 2)
		printf("fd %d: send completed: %d bytes (%u of %u)\n", c->fd, res, c->sent, c->len);
	if (c->sent < c->len) {
		arm_send(s, c); /* a short send: the rest */
		return;
	}
	release_buffer(s, c->bid);
	c->bid = -1;
	arm_recv(s, c);
	/* END EXERCISE 2 */
}

static void on_timeout(struct server *s)
{
	s->timeout_armed = 0;
	if (s->accept_paused && !s->stop) {
		s->accept_paused = 0;
		if (!s->accept_armed)
			arm_accept(s);
	}
}

static void add_client(struct server *s, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		warn("calloc:");
		close(fd);
		return;
	}
	c->fd = fd;
	c->bid = -1;
	c->lent = -1;
	c->next = s->clients;
	if (s->clients != NULL)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
	if (s->verbose >= 1) {
		char who[SL_ADDRSTRLEN];

		describe_peer(fd, who, sizeof(who));
		printf("client %s connected (fd %d, %ld clients)\n", who, fd, s->nclients);
	}
	arm_recv(s, c);
}

/* Only called when none of c's operations is in flight: each client has
 * at most one, and we are handling its completion. */
static void close_client(struct server *s, struct conn *c, const char *why)
{
	if (s->verbose >= 1) {
		char who[SL_ADDRSTRLEN];

		describe_peer(c->fd, who, sizeof(who));
		printf("client %s disconnected (%lld bytes echoed%s%s)\n", who, c->echoed,
		       why != NULL ? ", " : "", why != NULL ? why : "");
	}
	if (c->bid >= 0)
		release_buffer(s, c->bid);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	s->nclients--;
	/* A descriptor is free: accept again if EMFILE stopped us. */
	if (s->accept_paused && !s->stop) {
		s->accept_paused = 0;
		arm_accept(s);
	}
}

/* ---- submitting ------------------------------------------------------------ */

static uint64_t tag(void *ptr, enum op op)
{
	return (uint64_t)(uintptr_t)ptr | op;
}

/* A free submission queue entry. When the queue is full, submit what is
 * in it first: that empties it. */
static struct io_uring_sqe *get_sqe(struct server *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (sqe == NULL) {
		int rc = io_uring_submit(&s->ring);

		if (rc < 0) {
			errno = -rc;
			die("io_uring_submit:");
		}
		sqe = io_uring_get_sqe(&s->ring);
		if (sqe == NULL)
			die("io_uring: no free submission queue entry");
	}
	return sqe;
}

static void arm_accept(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	/* One SQE, a CQE per accepted client, until it fails. */
	io_uring_prep_multishot_accept(sqe, s->listener, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, OP_ACCEPT);
	s->accept_armed = 1;
}

/* Receive into whichever buffer of group BUF_GROUP the kernel picks when
 * data arrives: no buffer is tied up while the client is silent. */
static void arm_recv(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_recv(sqe, c->fd, NULL, s->bufsize, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	io_uring_sqe_set_data64(sqe, tag(c, OP_RECV));
}

/* Receive into buffer bid, given to this client alone (it waited in
 * line for a buffer: see release_buffer()). */
static void arm_recv_into(struct server *s, struct conn *c, int bid)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	c->lent = bid;
	io_uring_prep_recv(sqe, c->fd, s->pool + (size_t)bid * s->bufsize, s->bufsize, 0);
	io_uring_sqe_set_data64(sqe, tag(c, OP_RECV));
}

/* Wait, holding no buffer, until c has something to read. */
static void arm_poll(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_poll_add(sqe, c->fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(c, OP_POLL));
}

static void arm_send(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	char *buf = s->pool + (size_t)c->bid * s->bufsize;

	io_uring_prep_send(sqe, c->fd, buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, tag(c, OP_SEND));
}

static void arm_signal_read(struct server *s, unsigned flags)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_read(sqe, s->sigfd, &s->si, sizeof(s->si), 0);
	sqe->flags |= flags;
	io_uring_sqe_set_data64(sqe, OP_SIGNAL);
}

static void arm_accept_timeout(struct server *s)
{
	struct io_uring_sqe *sqe;

	if (s->timeout_armed)
		return;
	sqe = get_sqe(s);
	io_uring_prep_timeout(sqe, &s->pause, 0, 0);
	io_uring_sqe_set_data64(sqe, OP_TIMEOUT);
	s->timeout_armed = 1;
}

/* ---- the provided buffers, and clients waiting for one --------------------- */

static void setup_buffers(struct server *s, unsigned nbufs, unsigned bufsize)
{
	struct io_uring_buf_reg reg;
	int rc;

	s->nbufs = nbufs;
	s->bufsize = bufsize;
	/* mmap: page-aligned, as the ring must be, and only the pages the
	 * kernel actually writes into become resident memory. */
	s->br_bytes = nbufs * sizeof(struct io_uring_buf);
	s->br = mmap(NULL, s->br_bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->br == MAP_FAILED)
		die("mmap buffer ring:");
	s->pool_bytes = (size_t)nbufs * bufsize;
	s->pool = mmap(NULL, s->pool_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->pool == MAP_FAILED)
		die("mmap buffers:");
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)s->br;
	reg.ring_entries = nbufs;
	reg.bgid = BUF_GROUP;
	rc = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (rc < 0) {
		errno = -rc;
		die("io_uring_register_buf_ring (needs Linux 5.19):");
	}
	io_uring_buf_ring_init(s->br);
	for (unsigned i = 0; i < nbufs; i++)
		return_buffer(s, (int)i);
}

/* Lend buffer bid to the kernel again. */
static void return_buffer(struct server *s, int bid)
{
	int mask = io_uring_buf_ring_mask(s->nbufs);

	io_uring_buf_ring_add(s->br, s->pool + (size_t)bid * s->bufsize, s->bufsize,
			      (unsigned short)bid, mask, 0);
	io_uring_buf_ring_advance(s->br, 1);
	s->free_bufs++;
}

/* Buffer bid is ours again (its echo went out, or its client left). When
 * clients wait in line for a buffer, the first in line with data gets it,
 * for a recv into that very buffer. Put back in the ring, it would go to
 * whichever client's data arrived first: the clients that never had to
 * queue would take every buffer, and the ones in line could wait for
 * ever. */
static void release_buffer(struct server *s, int bid)
{
	struct conn *c = line_next_ready(s);

	if (c == NULL)
		return_buffer(s, bid);
	else
		arm_recv_into(s, c, bid);
}

static void line_append(struct server *s, struct conn *c)
{
	c->next_starved = NULL;
	if (s->starved_tail != NULL)
		s->starved_tail->next_starved = c;
	else
		s->starved = c;
	s->starved_tail = c;
}

static void line_push_front(struct server *s, struct conn *c)
{
	c->next_starved = s->starved;
	s->starved = c;
	if (s->starved_tail == NULL)
		s->starved_tail = c;
}

/* The first in line that has something to read (or an end of file, or
 * an error: a recv settles those too), or NULL. A client in line with
 * nothing to read (its recv was tried while every buffer was out) leaves
 * the line and waits for data with a poll, holding no buffer. */
static struct conn *line_next_ready(struct server *s)
{
	struct conn *c;

	while ((c = s->starved) != NULL) {
		char byte;

		s->starved = c->next_starved;
		if (s->starved == NULL)
			s->starved_tail = NULL;
		c->next_starved = NULL;
		if (recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
		    (errno != EAGAIN && errno != EWOULDBLOCK))
			return c;
		arm_poll(s, c);
	}
	return NULL;
}

/* Buffers the ring holds while clients wait in line (a buffer came back
 * when the line was empty, before a recv failed): let the first one in
 * line try the ring, one at a time. */
static void kick_line(struct server *s)
{
	if (s->kicked != NULL || s->free_bufs == 0)
		return;
	s->kicked = line_next_ready(s);
	if (s->kicked != NULL)
		arm_recv(s, s->kicked);
}

/* ---- the ring, and when there is none -------------------------------------- */

static void setup_ring(struct server *s, long entries)
{
	struct io_uring_params p;
	int rc;

	/* SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1): only this thread
	 * submits, and the kernel finishes completions when we next enter
	 * it rather than interrupting us. Older kernels refuse the flags
	 * with EINVAL: then go without. */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	rc = io_uring_queue_init_params((unsigned)entries, &s->ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params((unsigned)entries, &s->ring, &p);
	}
	if (rc < 0)
		unavailable(-rc);
}

/* io_uring could not be set up: say why, as precisely as we can, and
 * exit 1. There is no fallback on purpose: this lesson is about io_uring
 * (lesson 10's epoll server runs anywhere). */
static void unavailable(int err)
{
	int sysctl = read_disabled_sysctl();
	const char *why;

	if (err == EPERM && sysctl == 2)
		why = "kernel.io_uring_disabled = 2: io_uring is switched off for everyone";
	else if (err == EPERM && sysctl == 1)
		why = "kernel.io_uring_disabled = 1: only members of the group in "
		      "kernel.io_uring_group may use it";
	else if (err == EPERM)
		why = "refused: most likely a seccomp filter, as container runtimes "
		      "often install";
	else if (err == ENOSYS)
		why = "this kernel has no io_uring: older than 5.1, or built without "
		      "it; or a seccomp filter hides it";
	else if (err == EINVAL)
		why = "the kernel refused these parameters: more than 32768 entries?";
	else if (err == ENOMEM)
		why = "not enough locked memory for the rings: see ulimit -l";
	else
		why = "see io_uring_setup(2)";
	fprintf(stderr, "server: io_uring unavailable: io_uring_queue_init: %s (%s)\n",
		strerror(err), why);
	exit(EXIT_RUNTIME);
}

/* What the sysctl says, to name the reason io_uring is refused. */
static int read_disabled_sysctl(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int v = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* io_uring's own threads. An operation the kernel cannot finish by
 * waiting on the socket (rare for sockets: after repeated false wake-ups,
 * say) is handed to a kernel worker thread, "iou-wrk", in our process; and
 * the last such worker stays, idle, for the life of the ring. Cap them at
 * one of each kind, and have the one that socket operations use started
 * now, by a first read submitted with IOSQE_ASYNC (the worker only arms
 * the wait and is free again): the server's thread count is then the same
 * at rest as under load. */
static void settle_workers(struct server *s)
{
	unsigned int max[2] = { 1, 1 }; /* bounded (files), unbounded (sockets) */
	int rc = io_uring_register_iowq_max_workers(&s->ring, max);

	if (rc < 0) {
		errno = -rc;
		warn("io_uring_register_iowq_max_workers:");
	}
	arm_signal_read(s, IOSQE_ASYNC);
}

static int open_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		die("sigprocmask:");
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (fd < 0)
		die("signalfd:");
	return fd;
}

/* ---- Plumbing: printing a client, the command line ------------------------- */

static void describe_peer(int fd, char *who, size_t size)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0 ||
	    sl_addr_format((struct sockaddr *)&peer, len, who, size) == NULL)
		snprintf(who, size, "(fd %d)", fd);
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&opt->port, "port to listen on (default 0: any free port)"),
		{ 'v', "verbose", OPT_COUNT, &opt->verbose,
		  .help = "print clients and ENOBUFS; twice (-vv): every\ncompletion" },
		{ 0, "buffers", OPT_NUMBER, &opt->buffers, "N",
		  "receive buffers lent to the kernel, a power of\ntwo (1 to 32768, default 1024)",
		  .what = "buffer count", .min = 1, .max = 32768 },
		{ 0, "buffer-size", OPT_NUMBER, &opt->bufsize, "BYTES",
		  "size of each (16 to 1048576, default 8192)",
		  .what = "buffer size", .min = 16, .max = 1048576 },
		/* Deliberately no upper bound here: the kernel's own refusal
		 * is the way to see the "unavailable" path. */
		{ 0, "entries", OPT_NUMBER, &opt->entries, "N",
		  "submission queue entries (default 1024; the\nkernel refuses more than 32768)",
		  .what = "entry count", .min = 1, .max = 1L << 30 },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .port = "0", .verbose = 0,
				 .entries = ENTRIES_DEFAULT, .buffers = BUFFERS_DEFAULT,
				 .bufsize = BUFFER_SIZE_DEFAULT };
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "An echo server on io_uring (lesson 12): completion-based accept, recv\n"
			 "and send, one thread, no readiness polling.",
		.opts = options,
	});
	if ((opt->buffers & (opt->buffers - 1)) != 0)
		usage_error("bad buffer count '%ld': expected a power of two", opt->buffers);
}
