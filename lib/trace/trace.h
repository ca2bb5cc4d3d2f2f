/* trace.h — the trace shim's internals (lib/trace/, built into
 * libsltrace.so with hidden visibility: nothing here is exported).
 *
 *   shim.c   the interposed functions: each asks sl_call_begin whether to
 *            trace, describes its arguments, calls the real function, and
 *            reports the result
 *   call.c   one traced call: errno saving, the recursion guard, the
 *            before/after events, socket descriptions, caller location
 *   mode.c   what the shim does here, from one pass over the environment
 *   conn.c   the connection to the visualizer: lazy connect, sends that
 *            never wait, the step gate, fork handling
 *   real.c   the real functions, found with dlsym(RTLD_NEXT) on first use
 *   fds.c    which fds are sockets, cached per fd
 *   chaos.c  faults made on purpose (SOCKLAB_CHAOS): short reads and
 *            writes, EINTR, EAGAIN, ECONNABORTED
 *   uring.c  the same for liburing's submissions (chaos mode only)
 */
#ifndef SOCKLAB_TRACE_H
#define SOCKLAB_TRACE_H

#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include "event.h"

#define SL_EXPORT __attribute__((visibility("default")))

/* ---- real.c ---- */

/* One id per function the shim interposes; R_name is the id of name. */
enum sl_real_id {
	R_socket, R_bind, R_listen, R_accept, R_accept4, R_connect,
	R_send, R_sendto, R_sendmsg, R_recv, R_recvfrom, R_recvmsg,
	R_read, R_write, R_readv, R_writev, R_close, R_shutdown,
	R_select, R_pselect, R_poll, R_ppoll,
	R_epoll_wait, R_epoll_pwait, R_epoll_pwait2,
	R_fork, R_dup2, R_dup3, R_close_range, R_epoll_ctl,
	R_read_chk, R_recv_chk, R_recvfrom_chk, R_poll_chk, R_ppoll_chk,
	R_io_uring_submit, R_io_uring_submit_and_wait, R_io_uring_submit_and_wait_timeout,
	R_COUNT
};

/* Looked up on first use; read through sl_real. */
extern void *sl_real_fns[R_COUNT];

/* Look the function up (dlsym) and remember it. */
void *sl_real_lookup(enum sl_real_id id);

/* The next definition of the function after this library (libc's). A
 * program can only call a function its libc has, so it is always found. */
static inline void *sl_real(enum sl_real_id id)
{
	void *p = __atomic_load_n(&sl_real_fns[id], __ATOMIC_ACQUIRE);

	return p != NULL ? p : sl_real_lookup(id);
}

/* The real function, typed: REAL(connect)(fd, sa, len). */
#define REAL(fn) ((__typeof__(&fn))sl_real(R_##fn))

/* ---- mode.c ---- */

/* What the shim does in this process: SL_ON_TRACE when SOCKLAB_TRACE
 * names a visualizer, SL_ON_CHAOS when SOCKLAB_CHAOS asks for faults;
 * -1 until decided. Read through sl_trace_enabled and sl_chaos_on. */
enum { SL_ON_TRACE = 1, SL_ON_CHAOS = 2 };
extern int sl_enabled;

/* Decide (one pass over the environment) and return sl_enabled. */
int sl_trace_decide(void);

static inline int sl_mode(void)
{
	int e = __atomic_load_n(&sl_enabled, __ATOMIC_RELAXED);

	return e >= 0 ? e : sl_trace_decide();
}

/* Whether to trace at all: one load once decided. */
static inline int sl_trace_enabled(void)
{
	return sl_mode() & SL_ON_TRACE;
}

/* Whether to make faults: one load once decided. */
static inline int sl_chaos_on(void)
{
	return sl_mode() & SL_ON_CHAOS;
}

/* ---- conn.c ---- */

/* Where SOCKLAB_TRACE (path) and SOCKLAB_STEP (step) point: SL_ON_TRACE
 * when path names a visualizer, else 0. */
int sl_conn_setup(const char *path, const char *step);

/* The shim is on (tracing or chaos): note the pid, and be ready for fork. */
void sl_conn_prepare(void);

/* The connected socket to the visualizer, connecting on first use (and
 * sending the hello event); -1 when there is none or it went away. */
int sl_conn_get(void);

/* The shim's own socket, or -1. */
int sl_conn_fd(void);

/* True when fd is the shim's own socket (the program never opened it). */
int sl_conn_owns(int fd);

/* The program is about to make fd refer to something else (dup2 onto it):
 * move the shim's socket out of the way. */
void sl_conn_evict(int fd);

/* Send a before event; in step mode, then wait for "go". */
void sl_conn_send_before(struct sl_event *ev);

/* Send any other event (never waits, except in step mode). */
void sl_conn_send(struct sl_event *ev);

/* Next call number; this process's pid and the calling thread's tid
 * (cached, refreshed after fork). */
unsigned long long sl_conn_next_seq(void);
int sl_conn_pid(void);
int sl_conn_tid(void);

/* The program's path (/proc/self/exe, read on first use), "" when
 * unknown. */
const char *sl_conn_exe(void);

/* ---- fds.c ---- */

/* Whether fd is a socket: cached per fd, fstat on a miss. Keeps errno. */
int sl_fd_is_socket(int fd);
/* fd now is (1) or is no longer known to be (0) a socket. */
void sl_fd_set(int fd, int is_socket);
/* Forget what is known about fds first..last. */
void sl_fd_forget_range(unsigned first, unsigned last);
/* fd is (1) or is not (0) in an epoll set with EPOLLET; forgotten with
 * the rest when fd is closed or made anew. */
void sl_fd_set_edge(int fd, int edge);
int sl_fd_is_edge(int fd);

/* ---- call.c ---- */

struct sl_call {
	struct sl_event ev;
	int on;          /* this call is traced */
	int saved_errno; /* the program's errno, restored before it runs on */
};

/* The part of sl_call_begin that runs only when tracing is on. */
int sl_call_start(struct sl_call *c, const char *name, const void *caller);

/* Start one call. Returns 1 when it is traced (the guard is then held and
 * ev holds pid, tid, seq, call and at), 0 when the program should simply
 * call the real function: untraced, that costs one load. caller is
 * __builtin_return_address(0) of the interposed function. */
static inline int sl_call_begin(struct sl_call *c, const char *name,
                                const void *caller)
{
	c->on = 0;
	return sl_trace_enabled() ? sl_call_start(c, name, caller) : 0;
}

/* Send the before event (wait for "go" in step mode), release the guard
 * and restore errno: call the real function right after. */
void sl_call_before(struct sl_call *c);

/* Right after the real function returned ret: save its errno and take the
 * guard again. Fields may then be added to c->ev. */
void sl_call_result(struct sl_call *c, long long ret);

/* Describe socket fd (local, peer, TCP state) unless fd < 0, send the
 * after event, release the guard and restore the real function's errno. */
void sl_call_after(struct sl_call *c, int fd);

/* sl_call_result then sl_call_after, for calls with nothing to add. */
void sl_call_end(struct sl_call *c, long long ret, int fd);

/* The call site as "OBJ+0xOFF" (the object holding the call and the
 * offset addr2line wants) into at; 0, or -1 when it cannot be told. */
int sl_call_locate(char *at, size_t size, const void *caller);

/* Add fd's local and peer address and TCP state to ev. */
void sl_call_describe(struct sl_event *ev, int fd);

/* Add a sockaddr the program passed (copied safely: a bad pointer is
 * skipped, not followed) as field "a". */
void sl_call_addr(struct sl_event *ev, const struct sockaddr *sa, socklen_t len);

/* Copy n bytes of the program's memory without trusting the pointer.
 * Returns 0, or -1 when any of it is unreadable. */
int sl_safe_copy(void *dst, const void *src, size_t n);

/* ---- chaos.c ---- */

enum sl_fault {
	SL_FAULT_NONE, SL_FAULT_SHORT_READ, SL_FAULT_SHORT_WRITE,
	SL_FAULT_EINTR, SL_FAULT_EAGAIN, SL_FAULT_ABORT, SL_FAULT_COUNT
};

/* What a call does, as far as faults go. */
enum sl_chaos_op {
	SL_OP_READ,    /* takes bytes in: may be cut short */
	SL_OP_WRITE,   /* gives bytes out: may be cut short */
	SL_OP_ACCEPT,  /* accept, accept4 */
	SL_OP_WAIT,    /* poll, select, epoll_wait and kin: fd unused */
	SL_OP_OTHER,   /* a socket call that blocks (recvmsg, sendmsg) */
};

/* One call's fault, from sl_chaos_before to sl_chaos_after. */
struct sl_chaos {
	enum sl_fault fault;
	int err;              /* the errno of a failure made instead of the call */
	const char *call;
	const void *caller;
	int fd;
	size_t asked, cap;    /* a cut: the program asked for asked, got cap */
	size_t waiting;       /* a short read: bytes queued before the call */
};

/* Read the settings (SOCKLAB_CHAOS's value spec, and the values of
 * SOCKLAB_CHAOS_FAULTS, _AT and _LOG, any of them NULL). Returns 1 when
 * faults are to be made. */
int sl_chaos_init(const char *spec, const char *faults, const char *at,
                  const char *logfile);

/* Before the real call (only when sl_chaos_on()): returns 1 when the call
 * must not run but fail (return -1; errno is set), else 0, with *n (the
 * byte count; NULL where none may be cut) perhaps cut. mask: the signal
 * mask a ppoll/pselect/epoll_pwait waits with, or NULL; timeout: a wait's
 * timeout in ms (0: it does not block). */
int sl_chaos_before(struct sl_chaos *x, const char *call, enum sl_chaos_op op,
                    int fd, int flags, size_t *n, const sigset_t *mask,
                    long long timeout, const void *caller);

/* After the real call returned ret: note a cut that landed. Keeps errno. */
void sl_chaos_after(struct sl_chaos *x, long long ret);

/* For an operation queued now and done later (io_uring): perhaps cut *n,
 * as sl_chaos_before would; logged at once (nothing says when it lands).
 * Returns 1 when cut. */
int sl_chaos_cut(struct sl_chaos *x, const char *call, enum sl_chaos_op op, int fd,
                 size_t *n, const void *caller);

/* A wait that is not a system call of its own (io_uring_submit_and_wait):
 * 1 when it is to fail with EINTR now (logged). */
int sl_chaos_interrupt(const char *call, const sigset_t *mask, const void *caller);

/* Append the fault to SOCKLAB_CHAOS_LOG; ret is what the call returned. */
void sl_chaos_log(const struct sl_chaos *x, long long ret);

const char *sl_fault_name(enum sl_fault f);

#endif
