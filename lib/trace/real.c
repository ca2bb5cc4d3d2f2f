/* real.c — the functions the shim stands in front of, found once with
 * dlsym(RTLD_NEXT) (the next definition after this library: libc's). */
#include <dlfcn.h>

#include "trace.h"

static const char *const names[R_COUNT] = {
	[R_socket] = "socket", [R_bind] = "bind", [R_listen] = "listen",
	[R_accept] = "accept", [R_accept4] = "accept4",
	[R_connect] = "connect", [R_send] = "send", [R_sendto] = "sendto",
	[R_sendmsg] = "sendmsg", [R_recv] = "recv", [R_recvfrom] = "recvfrom",
	[R_recvmsg] = "recvmsg", [R_read] = "read", [R_write] = "write",
	[R_readv] = "readv", [R_writev] = "writev",
	[R_close] = "close", [R_shutdown] = "shutdown", [R_select] = "select",
	[R_pselect] = "pselect", [R_poll] = "poll", [R_ppoll] = "ppoll",
	[R_epoll_wait] = "epoll_wait", [R_epoll_pwait] = "epoll_pwait",
	[R_epoll_pwait2] = "epoll_pwait2", [R_fork] = "fork",
	[R_dup2] = "dup2", [R_dup3] = "dup3", [R_close_range] = "close_range",
	[R_epoll_ctl] = "epoll_ctl",
	[R_read_chk] = "__read_chk", [R_recv_chk] = "__recv_chk",
	[R_recvfrom_chk] = "__recvfrom_chk", [R_poll_chk] = "__poll_chk",
	[R_ppoll_chk] = "__ppoll_chk",
	[R_io_uring_submit] = "io_uring_submit",
	[R_io_uring_submit_and_wait] = "io_uring_submit_and_wait",
	[R_io_uring_submit_and_wait_timeout] = "io_uring_submit_and_wait_timeout",
};

void *sl_real_fns[R_COUNT];

void *sl_real_lookup(enum sl_real_id id)
{
	/* Two threads may both look it up the first time; they store the
	 * same pointer, so the race is harmless. */
	void *p = dlsym(RTLD_NEXT, names[id]);

	__atomic_store_n(&sl_real_fns[id], p, __ATOMIC_RELEASE);
	return p;
}
