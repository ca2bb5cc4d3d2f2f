/* shim.c — the functions libsltrace.so puts in front of libc's.
 *
 * Each one has the same shape:
 *
 *	if (sl_call_begin(&c, "connect", CALLER)) {   traced? then describe
 *		...arguments into c.ev...                  the arguments and send
 *		sl_call_before(&c);                        the before event
 *	}
 *	ret = REAL(connect)(fd, sa, len);              the real call
 *	if (c.on)                                      the after event
 *		sl_call_end(&c, ret, fd);
 *
 * sl_call_begin returns 0 at once when SOCKLAB_TRACE is unset, so an
 * untraced program pays one test per call.
 *
 * Reported: socket, bind, listen, accept, accept4, connect; send, sendto,
 * sendmsg; recv, recvfrom, recvmsg; read, readv, write, writev and close,
 * for sockets only; shutdown; select, pselect, poll, ppoll, epoll_wait,
 * epoll_pwait, epoll_pwait2; fork; and the fortified __read_chk,
 * __recv_chk, __recvfrom_chk, __poll_chk and __ppoll_chk under their
 * plain names. dup2, dup3 and close_range are never reported: they are
 * here to keep the fd cache right and the shim's own socket alive.
 *
 * With SOCKLAB_CHAOS set (chaos.c), the real call may be cut short or
 * replaced by a failure:
 *
 *	if (CHAOS(x, "recv", SL_OP_READ, fd, flags, &n, NULL, 0))
 *		ret = -1;                                   a fault instead
 *	else
 *		ret = chaos_done(&x, REAL(recv)(fd, buf, n, flags));
 *
 * inside the traced part, so a trace shows the fault as the call's result.
 * epoll_ctl is never reported either: in chaos mode it notes EPOLLET.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "trace.h"

#define CALLER __builtin_return_address(0)

/* A fault in place of the call (1: errno is set, return -1), or 0 with
 * *np perhaps cut; with chaos off, one load. */
#define CHAOS(x, call, op, fd, flags, np, mask, timeout) \
	(sl_chaos_on() && \
	 sl_chaos_before(&(x), call, op, fd, flags, np, mask, timeout, CALLER))

/* The real call's result, after noting a cut that landed. */
static inline ssize_t chaos_done(struct sl_chaos *x, ssize_t ret)
{
	if (sl_chaos_on() && x->fault != SL_FAULT_NONE)
		sl_chaos_after(x, ret);
	return ret;
}

/* For waits: the result, with nothing to note. */
#define CHAOS_WAIT(x, call, mask, timeout) \
	CHAOS(x, call, SL_OP_WAIT, -1, 0, NULL, mask, timeout)

/* Fortified programs (-D_FORTIFY_SOURCE) call these instead of read, recv,
 * recvfrom, poll and ppoll when the buffer size is known; they are reported
 * under the plain names. The C names differ from the symbols to stay clear of
 * identifiers reserved to the implementation. */
typedef ssize_t read_chk_fn(int, void *, size_t, size_t);
typedef ssize_t recv_chk_fn(int, void *, size_t, size_t, int);
typedef ssize_t recvfrom_chk_fn(int, void *, size_t, size_t, int,
                                struct sockaddr *, socklen_t *);
typedef int poll_chk_fn(struct pollfd *, nfds_t, int, size_t);
typedef int ppoll_chk_fn(struct pollfd *, nfds_t, const struct timespec *,
                         const sigset_t *, size_t);

SL_EXPORT ssize_t sl_read_chk(int fd, void *buf, size_t n, size_t buflen)
	__asm__("__read_chk");
SL_EXPORT ssize_t sl_recv_chk(int fd, void *buf, size_t n, size_t buflen,
                              int flags) __asm__("__recv_chk");
SL_EXPORT ssize_t sl_recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
                                  int flags, struct sockaddr *addr,
                                  socklen_t *alen) __asm__("__recvfrom_chk");
SL_EXPORT int sl_poll_chk(struct pollfd *fds, nfds_t nfds, int timeout,
                          size_t fdslen) __asm__("__poll_chk");
SL_EXPORT int sl_ppoll_chk(struct pollfd *fds, nfds_t nfds,
                           const struct timespec *ts, const sigset_t *mask,
                           size_t fdslen) __asm__("__ppoll_chk");

/* ---- describing arguments ------------------------------------------------- */

static void arg_fd(struct sl_event *ev, int fd)
{
	ev->fd = fd;
	ev->has |= SL_EV_FD;
}

static void arg_io(struct sl_event *ev, int fd, size_t len, int flags)
{
	arg_fd(ev, fd);
	ev->len = len;
	ev->flags = (uint32_t)flags;
	ev->has |= SL_EV_LEN | SL_EV_FLAGS;
}

static void arg_n(struct sl_event *ev, long long n)
{
	ev->n = n;
	ev->has |= SL_EV_N;
}

static void arg_timeout(struct sl_event *ev, long long ms)
{
	ev->timeout = ms;
	ev->has |= SL_EV_TIMEOUT;
}

/* A timespec timeout, in ms like poll's: -1 for NULL (no limit), left out
 * when the pointer cannot be read (the real call then says EFAULT). */
static void arg_timespec(struct sl_event *ev, const struct timespec *ts)
{
	struct timespec t;

	if (ts == NULL) {
		arg_timeout(ev, -1);
	} else if (sl_safe_copy(&t, ts, sizeof(t)) == 0) {
		/* ppoll takes any tv_sec: keep the product in range. */
		long long sec = t.tv_sec;

		if (sec > LLONG_MAX / 2000)
			sec = LLONG_MAX / 2000;
		else if (sec < -LLONG_MAX / 2000)
			sec = -LLONG_MAX / 2000;
		arg_timeout(ev, sec * 1000 + t.tv_nsec / 1000000);
	}
}

/* The total length of n iovecs at iov into *total: 0, or -1 when the
 * kernel would refuse the count (more than IOV_MAX: EINVAL, and nothing is
 * read) or any of the array is unreadable (EFAULT). Copied a slice at a
 * time, so every count the kernel takes fits in a small buffer. */
static int iov_total(const struct iovec *iov, size_t n, size_t *total)
{
	struct iovec part[64];
	size_t k;

	*total = 0;
	if (n > IOV_MAX)
		return -1;
	for (size_t i = 0; i < n; i += k) {
		k = n - i < 64 ? n - i : 64;
		if (sl_safe_copy(part, iov + i, k * sizeof(part[0])) < 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			*total += part[j].iov_len;
	}
	return 0;
}

/* For sendmsg and recvmsg: the total length of the iovecs, and for
 * sendmsg (with_name) the destination. Nothing is read through a pointer
 * the kernel has not vouched for. */
static void arg_msg(struct sl_event *ev, int fd, const struct msghdr *msg,
                    int flags, int with_name)
{
	struct msghdr m;
	size_t total;

	arg_fd(ev, fd);
	ev->flags = (uint32_t)flags;
	ev->has |= SL_EV_FLAGS;
	if (sl_safe_copy(&m, msg, sizeof(m)) < 0)
		return;
	if (with_name)
		sl_call_addr(ev, m.msg_name, m.msg_namelen);
	if (iov_total(m.msg_iov, m.msg_iovlen, &total) < 0)
		return;
	ev->len = total;
	ev->has |= SL_EV_LEN;
}

/* For readv and writev: the fd and the total length of the iovecs, read
 * as arg_msg reads them. */
static void arg_iov(struct sl_event *ev, int fd, const struct iovec *iov,
                    int iovcnt)
{
	size_t total;

	arg_fd(ev, fd);
	/* A negative count: EINVAL, nothing to read. */
	if (iovcnt < 0 || iov_total(iov, (size_t)iovcnt, &total) < 0)
		return;
	ev->len = total;
	ev->has |= SL_EV_LEN;
}

/* The sender's address recvfrom/recvmsg stored: at most cap bytes (the
 * buffer size the program gave), *alen after the call. */
static void result_from(struct sl_event *ev, const struct sockaddr *addr,
                        const socklen_t *alen, socklen_t cap)
{
	socklen_t got;

	if (addr == NULL || alen == NULL || sl_safe_copy(&got, alen, sizeof(got)) < 0)
		return;
	sl_call_addr(ev, addr, got < cap ? got : cap);
}

/* *alen before the call: the size of the program's address buffer. */
static socklen_t addr_cap(const socklen_t *alen)
{
	socklen_t cap = 0;

	if (alen != NULL && sl_safe_copy(&cap, alen, sizeof(cap)) < 0)
		cap = 0;
	return cap;
}

/* Could a select with this timeout block? (Unreadable: say no, and let
 * the real call report EFAULT.) */
static long long tv_blocks(const struct timeval *tv)
{
	struct timeval t;

	if (tv == NULL)
		return 1;
	return sl_safe_copy(&t, tv, sizeof(t)) == 0 && (t.tv_sec != 0 || t.tv_usec != 0);
}

static long long ts_blocks(const struct timespec *ts)
{
	struct timespec t;

	if (ts == NULL)
		return 1;
	return sl_safe_copy(&t, ts, sizeof(t)) == 0 && (t.tv_sec != 0 || t.tv_nsec != 0);
}

/* readv and writev in chaos mode: the iovecs cut to the fault's length
 * (a copy: the program's array is left alone), or a fault instead. An
 * array that cannot be read or copied (more than 64 entries) gets no cut,
 * only EINTR or EAGAIN. */
static ssize_t chaos_vec(int fd, const struct iovec *iov, int iovcnt, int out,
                         const void *caller)
{
	struct iovec part[64];
	struct sl_chaos x;
	size_t total = 0, left;
	int cuttable = iovcnt > 0 && iovcnt <= 64 &&
		       iov_total(iov, (size_t)iovcnt, &total) == 0 &&
		       sl_safe_copy(part, iov, (size_t)iovcnt * sizeof(part[0])) == 0;
	int k;

	if (sl_chaos_before(&x, out ? "writev" : "readv", out ? SL_OP_WRITE : SL_OP_READ,
			    fd, 0, cuttable ? &total : NULL, NULL, 0, caller))
		return -1;
	if (x.fault != SL_FAULT_SHORT_READ && x.fault != SL_FAULT_SHORT_WRITE)
		return out ? REAL(writev)(fd, iov, iovcnt) : REAL(readv)(fd, iov, iovcnt);
	for (k = 0, left = total; k < iovcnt && left > 0; k++) {
		if (part[k].iov_len > left)
			part[k].iov_len = left;
		left -= part[k].iov_len;
	}
	return chaos_done(&x, out ? REAL(writev)(fd, part, k) : REAL(readv)(fd, part, k));
}

/* ---- socket, bind, listen, accept, connect -------------------------------- */

SL_EXPORT int socket(int domain, int type, int protocol)
{
	struct sl_call c;
	int ret;

	if (sl_call_begin(&c, "socket", CALLER)) {
		c.ev.dom = domain;
		c.ev.type = type & 0xf;          /* SOCK_TYPE_MASK */
		c.ev.flags = (uint32_t)(type & ~0xf);
		c.ev.proto = protocol;
		c.ev.has |= SL_EV_DOM | SL_EV_TYPE | SL_EV_FLAGS | SL_EV_PROTO;
		sl_call_before(&c);
	}
	ret = REAL(socket)(domain, type, protocol);
	if (ret >= 0)
		sl_fd_set(ret, 1);
	if (c.on)
		sl_call_end(&c, ret, ret);
	return ret;
}

SL_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sl_call c;
	int ret;

	if (sl_call_begin(&c, "bind", CALLER)) {
		arg_fd(&c.ev, fd);
		sl_call_addr(&c.ev, sa, len);
		sl_call_before(&c);
	}
	ret = REAL(bind)(fd, sa, len);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT int listen(int fd, int backlog)
{
	struct sl_call c;
	int ret;

	if (sl_call_begin(&c, "listen", CALLER)) {
		arg_fd(&c.ev, fd);
		arg_n(&c.ev, backlog);
		sl_call_before(&c);
	}
	ret = REAL(listen)(fd, backlog);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

/* accept and accept4: the after event describes the new connection. */
static int accept_common(const char *name, const void *caller, int fd,
                         struct sockaddr *addr, socklen_t *alen, int flags,
                         int with_flags)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, name, caller)) {
		arg_fd(&c.ev, fd);
		if (with_flags) {
			c.ev.flags = (uint32_t)flags;
			c.ev.has |= SL_EV_FLAGS;
		}
		sl_call_before(&c);
	}
	/* caller: the program's call site, not this function's. */
	if (sl_chaos_on() && sl_chaos_before(&x, name, SL_OP_ACCEPT, fd, 0, NULL,
					     NULL, 0, caller))
		ret = -1;
	else
		ret = with_flags ? REAL(accept4)(fd, addr, alen, flags)
				 : REAL(accept)(fd, addr, alen);
	if (ret >= 0)
		sl_fd_set(ret, 1);
	if (c.on)
		sl_call_end(&c, ret, ret);
	return ret;
}

SL_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	return accept_common("accept", CALLER, fd, addr, alen, 0, 0);
}

SL_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	return accept_common("accept4", CALLER, fd, addr, alen, flags, 1);
}

SL_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sl_call c;
	int ret;

	if (sl_call_begin(&c, "connect", CALLER)) {
		arg_fd(&c.ev, fd);
		sl_call_addr(&c.ev, sa, len);
		sl_call_before(&c);
	}
	ret = REAL(connect)(fd, sa, len);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

/* ---- sending ---------------------------------------------------------------- */

SL_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	if (sl_call_begin(&c, "send", CALLER)) {
		arg_io(&c.ev, fd, n, flags);
		sl_call_before(&c);
	}
	if (CHAOS(x, "send", SL_OP_WRITE, fd, flags, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, REAL(send)(fd, buf, n, flags));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *sa, socklen_t len)
{
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	if (sl_call_begin(&c, "sendto", CALLER)) {
		arg_io(&c.ev, fd, n, flags);
		sl_call_addr(&c.ev, sa, len);
		sl_call_before(&c);
	}
	if (CHAOS(x, "sendto", SL_OP_WRITE, fd, flags, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, REAL(sendto)(fd, buf, n, flags, sa, len));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	if (sl_call_begin(&c, "sendmsg", CALLER)) {
		arg_msg(&c.ev, fd, msg, flags, 1);
		sl_call_before(&c);
	}
	if (CHAOS(x, "sendmsg", SL_OP_OTHER, fd, flags, NULL, NULL, 0))
		ret = -1;
	else
		ret = REAL(sendmsg)(fd, msg, flags);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

/* ---- receiving -------------------------------------------------------------- */

SL_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	if (sl_call_begin(&c, "recv", CALLER)) {
		arg_io(&c.ev, fd, n, flags);
		sl_call_before(&c);
	}
	if (CHAOS(x, "recv", SL_OP_READ, fd, flags, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, REAL(recv)(fd, buf, n, flags));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT ssize_t sl_recv_chk(int fd, void *buf, size_t n, size_t buflen,
                              int flags)
{
	recv_chk_fn *real = (recv_chk_fn *)sl_real(R_recv_chk);
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	if (sl_call_begin(&c, "recv", CALLER)) {
		arg_io(&c.ev, fd, n, flags);
		sl_call_before(&c);
	}
	if (CHAOS(x, "recv", SL_OP_READ, fd, flags, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, real(fd, buf, n, buflen, flags));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

/* recvfrom and __recvfrom_chk; real_chk is NULL for the plain one. */
static ssize_t recvfrom_common(const void *caller, int fd, void *buf,
                               size_t n, size_t buflen, int flags,
                               struct sockaddr *addr, socklen_t *alen,
                               recvfrom_chk_fn *real_chk)
{
	struct sl_call c;
	struct sl_chaos x;
	socklen_t cap = 0;
	ssize_t ret;

	if (sl_call_begin(&c, "recvfrom", caller)) {
		arg_io(&c.ev, fd, n, flags);
		cap = addr_cap(alen);
		sl_call_before(&c);
	}
	if (sl_chaos_on() && sl_chaos_before(&x, "recvfrom", SL_OP_READ, fd, flags, &n,
					     NULL, 0, caller))
		ret = -1;
	else if (real_chk != NULL)
		ret = chaos_done(&x, real_chk(fd, buf, n, buflen, flags, addr, alen));
	else
		ret = chaos_done(&x, REAL(recvfrom)(fd, buf, n, flags, addr, alen));
	if (c.on) {
		sl_call_result(&c, ret);
		if (ret >= 0)
			result_from(&c.ev, addr, alen, cap);
		sl_call_after(&c, fd);
	}
	return ret;
}

SL_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
                           struct sockaddr *addr, socklen_t *alen)
{
	return recvfrom_common(CALLER, fd, buf, n, n, flags, addr, alen, NULL);
}

SL_EXPORT ssize_t sl_recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
                                  int flags, struct sockaddr *addr,
                                  socklen_t *alen)
{
	return recvfrom_common(CALLER, fd, buf, n, buflen, flags, addr, alen,
			       (recvfrom_chk_fn *)sl_real(R_recvfrom_chk));
}

SL_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct sl_call c;
	struct sl_chaos x;
	struct msghdr m;
	ssize_t ret;

	if (sl_call_begin(&c, "recvmsg", CALLER)) {
		arg_msg(&c.ev, fd, msg, flags, 0);
		sl_call_before(&c);
	}
	if (CHAOS(x, "recvmsg", SL_OP_OTHER, fd, flags, NULL, NULL, 0))
		ret = -1;
	else
		ret = REAL(recvmsg)(fd, msg, flags);
	if (c.on) {
		sl_call_result(&c, ret);
		/* The kernel set msg_namelen to the sender's address length. */
		if (ret >= 0 && sl_safe_copy(&m, msg, sizeof(m)) == 0)
			sl_call_addr(&c.ev, m.msg_name, m.msg_namelen);
		sl_call_after(&c, fd);
	}
	return ret;
}

/* ---- read, readv, write, writev, close: sockets only --------------------------- */

/* Trace a read/write/close of fd? Only when tracing, and fd is a socket. */
static int socket_fd(int fd)
{
	return sl_trace_enabled() && sl_fd_is_socket(fd);
}

SL_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	c.on = 0;
	if (socket_fd(fd) && sl_call_begin(&c, "read", CALLER)) {
		arg_fd(&c.ev, fd);
		c.ev.len = n;
		c.ev.has |= SL_EV_LEN;
		sl_call_before(&c);
	}
	if (CHAOS(x, "read", SL_OP_READ, fd, 0, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, REAL(read)(fd, buf, n));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT ssize_t sl_read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	read_chk_fn *real = (read_chk_fn *)sl_real(R_read_chk);
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	c.on = 0;
	if (socket_fd(fd) && sl_call_begin(&c, "read", CALLER)) {
		arg_fd(&c.ev, fd);
		c.ev.len = n;
		c.ev.has |= SL_EV_LEN;
		sl_call_before(&c);
	}
	if (CHAOS(x, "read", SL_OP_READ, fd, 0, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, real(fd, buf, n, buflen));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct sl_call c;
	struct sl_chaos x;
	ssize_t ret;

	c.on = 0;
	if (socket_fd(fd) && sl_call_begin(&c, "write", CALLER)) {
		arg_fd(&c.ev, fd);
		c.ev.len = n;
		c.ev.has |= SL_EV_LEN;
		sl_call_before(&c);
	}
	if (CHAOS(x, "write", SL_OP_WRITE, fd, 0, &n, NULL, 0))
		ret = -1;
	else
		ret = chaos_done(&x, REAL(write)(fd, buf, n));
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

/* Gather and scatter I/O: one call for a header and its payload. */
SL_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct sl_call c;
	ssize_t ret;

	c.on = 0;
	if (socket_fd(fd) && sl_call_begin(&c, "readv", CALLER)) {
		arg_iov(&c.ev, fd, iov, iovcnt);
		sl_call_before(&c);
	}
	if (sl_chaos_on())
		ret = chaos_vec(fd, iov, iovcnt, 0, CALLER);
	else
		ret = REAL(readv)(fd, iov, iovcnt);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct sl_call c;
	ssize_t ret;

	c.on = 0;
	if (socket_fd(fd) && sl_call_begin(&c, "writev", CALLER)) {
		arg_iov(&c.ev, fd, iov, iovcnt);
		sl_call_before(&c);
	}
	if (sl_chaos_on())
		ret = chaos_vec(fd, iov, iovcnt, 1, CALLER);
	else
		ret = REAL(writev)(fd, iov, iovcnt);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

SL_EXPORT int close(int fd)
{
	struct sl_call c;
	int ret;

	c.on = 0;
	if (!sl_mode())
		return REAL(close)(fd);
	/* The program never opened the shim's socket: to it, that number is
	 * not open (a loop closing every fd must not cut the trace). */
	if (sl_conn_owns(fd)) {
		errno = EBADF;
		return -1;
	}
	if (sl_trace_enabled() && sl_fd_is_socket(fd) &&
	    sl_call_begin(&c, "close", CALLER)) {
		arg_fd(&c.ev, fd);
		/* The last look at the socket: after close there is none. */
		sl_call_describe(&c.ev, fd);
		sl_call_before(&c);
	}
	sl_fd_set(fd, 0);
	ret = REAL(close)(fd);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

SL_EXPORT int shutdown(int fd, int how)
{
	struct sl_call c;
	int ret;

	if (sl_call_begin(&c, "shutdown", CALLER)) {
		arg_fd(&c.ev, fd);
		arg_n(&c.ev, how);
		sl_call_before(&c);
	}
	ret = REAL(shutdown)(fd, how);
	if (c.on)
		sl_call_end(&c, ret, fd);
	return ret;
}

/* ---- waiting: select, pselect, poll, ppoll, epoll_wait, epoll_pwait(2) ----------- */

SL_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
                     struct timeval *tv)
{
	struct sl_call c;
	struct sl_chaos x;
	struct timeval t;
	int ret;

	if (sl_call_begin(&c, "select", CALLER)) {
		arg_n(&c.ev, nfds);
		if (tv == NULL)
			arg_timeout(&c.ev, -1);
		else if (sl_safe_copy(&t, tv, sizeof(t)) == 0)
			arg_timeout(&c.ev, (long long)t.tv_sec * 1000 + t.tv_usec / 1000);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "select", NULL, tv_blocks(tv)))
		ret = -1;
	else
		ret = REAL(select)(nfds, rd, wr, ex, tv);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

/* select with a timespec and a signal mask for the wait. */
SL_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
                      const struct timespec *ts, const sigset_t *mask)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "pselect", CALLER)) {
		arg_n(&c.ev, nfds);
		arg_timespec(&c.ev, ts);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "pselect", mask, ts_blocks(ts)))
		ret = -1;
	else
		ret = REAL(pselect)(nfds, rd, wr, ex, ts, mask);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

SL_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "poll", CALLER)) {
		arg_n(&c.ev, (long long)nfds);
		arg_timeout(&c.ev, timeout);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "poll", NULL, timeout))
		ret = -1;
	else
		ret = REAL(poll)(fds, nfds, timeout);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

SL_EXPORT int sl_poll_chk(struct pollfd *fds, nfds_t nfds, int timeout,
                          size_t fdslen)
{
	poll_chk_fn *real = (poll_chk_fn *)sl_real(R_poll_chk);
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "poll", CALLER)) {
		arg_n(&c.ev, (long long)nfds);
		arg_timeout(&c.ev, timeout);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "poll", NULL, timeout))
		ret = -1;
	else
		ret = real(fds, nfds, timeout, fdslen);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

/* poll with a timespec and a signal mask for the wait (lessons 14-16). */
SL_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *ts,
                    const sigset_t *mask)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "ppoll", CALLER)) {
		arg_n(&c.ev, (long long)nfds);
		arg_timespec(&c.ev, ts);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "ppoll", mask, ts_blocks(ts)))
		ret = -1;
	else
		ret = REAL(ppoll)(fds, nfds, ts, mask);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

SL_EXPORT int sl_ppoll_chk(struct pollfd *fds, nfds_t nfds,
                           const struct timespec *ts, const sigset_t *mask,
                           size_t fdslen)
{
	ppoll_chk_fn *real = (ppoll_chk_fn *)sl_real(R_ppoll_chk);
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "ppoll", CALLER)) {
		arg_n(&c.ev, (long long)nfds);
		arg_timespec(&c.ev, ts);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "ppoll", mask, ts_blocks(ts)))
		ret = -1;
	else
		ret = real(fds, nfds, ts, mask, fdslen);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

SL_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents,
                         int timeout)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "epoll_wait", CALLER)) {
		arg_fd(&c.ev, epfd);
		arg_n(&c.ev, maxevents);
		arg_timeout(&c.ev, timeout);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "epoll_wait", NULL, timeout))
		ret = -1;
	else
		ret = REAL(epoll_wait)(epfd, events, maxevents, timeout);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

/* epoll_wait with a signal mask for the wait. */
SL_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents,
                          int timeout, const sigset_t *mask)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "epoll_pwait", CALLER)) {
		arg_fd(&c.ev, epfd);
		arg_n(&c.ev, maxevents);
		arg_timeout(&c.ev, timeout);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "epoll_pwait", mask, timeout))
		ret = -1;
	else
		ret = REAL(epoll_pwait)(epfd, events, maxevents, timeout, mask);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

/* epoll_pwait with a timespec (glibc 2.35, Linux 5.11). */
SL_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
                           const struct timespec *ts, const sigset_t *mask)
{
	struct sl_call c;
	struct sl_chaos x;
	int ret;

	if (sl_call_begin(&c, "epoll_pwait2", CALLER)) {
		arg_fd(&c.ev, epfd);
		arg_n(&c.ev, maxevents);
		arg_timespec(&c.ev, ts);
		sl_call_before(&c);
	}
	if (CHAOS_WAIT(x, "epoll_pwait2", mask, ts_blocks(ts)))
		ret = -1;
	else
		ret = REAL(epoll_pwait2)(epfd, events, maxevents, ts, mask);
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

/* ---- fork ------------------------------------------------------------------------ */

/* The parent reports the child's pid; the child, on its own new
 * connection, reports 0 under the same seq. */
SL_EXPORT pid_t fork(void)
{
	struct sl_call c;
	pid_t ret;

	if (sl_call_begin(&c, "fork", CALLER))
		sl_call_before(&c);
	ret = REAL(fork)();
	if (c.on)
		sl_call_end(&c, ret, -1);
	return ret;
}

/* ---- not reported: keeping the fd cache and the shim's socket right ----------- */

SL_EXPORT int dup2(int oldfd, int newfd)
{
	if (sl_mode() && oldfd != newfd) {
		int saved = errno;

		sl_conn_evict(newfd);
		sl_fd_set(newfd, 0);
		errno = saved;
	}
	return REAL(dup2)(oldfd, newfd);
}

SL_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (sl_mode() && oldfd != newfd) {
		int saved = errno;

		sl_conn_evict(newfd);
		sl_fd_set(newfd, 0);
		errno = saved;
	}
	return REAL(dup3)(oldfd, newfd, flags);
}

/* Close the range around the shim's socket, which the program never
 * opened. */
SL_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	int own, ret = 0;

	if (!sl_mode())
		return REAL(close_range)(first, last, flags);
	sl_fd_forget_range(first, last);
	own = sl_conn_fd();
	if (own < 0 || (unsigned)own < first || (unsigned)own > last ||
	    (flags & (int)CLOSE_RANGE_CLOEXEC))
		return REAL(close_range)(first, last, flags);
	if ((unsigned)own > first)
		ret = REAL(close_range)(first, (unsigned)own - 1, flags);
	if (ret == 0 && (unsigned)own < last)
		ret = REAL(close_range)((unsigned)own + 1, last, flags);
	return ret;
}

/* In chaos mode, note which fds are edge-triggered: no EAGAIN is made up
 * for them (the kernel says EAGAIN only once their queue is empty, and
 * the program waits for the next edge, which may never come). */
SL_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct epoll_event e;
	int ret = REAL(epoll_ctl)(epfd, op, fd, ev);

	if (ret == 0 && sl_chaos_on()) {
		int saved = errno;

		if (op == EPOLL_CTL_DEL)
			sl_fd_set_edge(fd, 0);
		else if (ev != NULL && sl_safe_copy(&e, ev, sizeof(e)) == 0)
			sl_fd_set_edge(fd, (e.events & EPOLLET) != 0);
		errno = saved;
	}
	return ret;
}
