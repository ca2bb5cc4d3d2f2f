/* uring.c — chaos mode for programs on io_uring (lesson 12).
 *
 * With io_uring the sends and receives are not calls the shim sees: the
 * program fills SQEs in shared memory and liburing hands them to the
 * kernel in io_uring_submit(), io_uring_submit_and_wait() or
 * io_uring_submit_and_wait_timeout(). Those three are exported by
 * liburing.so, so the shim stands in front of them, and in chaos mode,
 * before the real one runs, walks the SQEs still to be handed over: a
 * SEND (or WRITE) or RECV (or READ) on a stream socket may get a smaller
 * length, so it completes short, as the kernel may make it (never one
 * with MSG_WAITALL, which completes whole). A submit that also waits may
 * fail with -EINTR instead, having done nothing, as io_uring_enter() does
 * when a signal comes. Not traced, and with SOCKLAB_CHAOS unset, one load
 * and the real function.
 */
#include <errno.h>
#include <liburing.h>
#include <sys/socket.h>

#include "trace.h"

#define CALLER __builtin_return_address(0)

/* Set while this thread is inside one of these: liburing may call its
 * own exported functions, and their SQEs must be cut once. */
static __thread int inside __attribute__((tls_model("initial-exec")));

/* The SQEs filled since the last submission: [sqe_head, sqe_tail). */
static void cut_pending(struct io_uring *ring, const void *caller)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned shift = (ring->flags & IORING_SETUP_SQE128) ? 1 : 0;

	for (unsigned i = sq->sqe_head; i != sq->sqe_tail; i++) {
		struct io_uring_sqe *sqe = &sq->sqes[(i & sq->ring_mask) << shift];
		int out = sqe->opcode == IORING_OP_SEND || sqe->opcode == IORING_OP_WRITE;
		int in = sqe->opcode == IORING_OP_RECV || sqe->opcode == IORING_OP_READ;
		int sock = sqe->opcode == IORING_OP_SEND || sqe->opcode == IORING_OP_RECV;
		struct sl_chaos x;
		size_t n = sqe->len;

		if ((!out && !in) || (sqe->flags & IOSQE_FIXED_FILE) ||
		    (sock && (sqe->msg_flags & MSG_WAITALL)))
			continue;
		if (sl_chaos_cut(&x, out ? "io_uring-send" : "io_uring-recv",
				 out ? SL_OP_WRITE : SL_OP_READ, sqe->fd, &n, caller))
			sqe->len = (__u32)n;
	}
}

SL_EXPORT int io_uring_submit(struct io_uring *ring)
{
	int ret;

	if (sl_chaos_on() && !inside) {
		int saved = errno;

		cut_pending(ring, CALLER);
		errno = saved;
	}
	inside++;
	ret = REAL(io_uring_submit)(ring);
	inside--;
	return ret;
}

SL_EXPORT int io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr)
{
	int ret;

	if (sl_chaos_on() && !inside) {
		int saved = errno;

		if (wait_nr > 0 && sl_chaos_interrupt("io_uring_submit_and_wait", NULL, CALLER))
			return -EINTR;
		cut_pending(ring, CALLER);
		errno = saved;
	}
	inside++;
	ret = REAL(io_uring_submit_and_wait)(ring, wait_nr);
	inside--;
	return ret;
}

SL_EXPORT int io_uring_submit_and_wait_timeout(struct io_uring *ring,
                                               struct io_uring_cqe **cqe_ptr,
                                               unsigned wait_nr,
                                               struct __kernel_timespec *ts,
                                               sigset_t *sigmask)
{
	int ret;

	if (sl_chaos_on() && !inside) {
		int saved = errno;

		if (wait_nr > 0 && (ts == NULL || ts->tv_sec != 0 || ts->tv_nsec != 0) &&
		    sl_chaos_interrupt("io_uring_submit_and_wait_timeout", sigmask, CALLER))
			return -EINTR;
		cut_pending(ring, CALLER);
		errno = saved;
	}
	inside++;
	ret = REAL(io_uring_submit_and_wait_timeout)(ring, cqe_ptr, wait_nr, ts, sigmask);
	inside--;
	return ret;
}
