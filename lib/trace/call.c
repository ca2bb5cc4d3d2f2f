/* call.c — one traced call: the recursion guard, errno, the before and
 * after events, and what they say about the socket and the caller. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "trace.h"

/* Set while the shim works for this thread: a socket call made meanwhile
 * (by a signal handler, say) goes straight to the real function. */
static __thread int busy __attribute__((tls_model("initial-exec")));

int sl_safe_copy(void *dst, const void *src, size_t n)
{
	struct iovec local = { dst, n };
	struct iovec remote = { (void *)(uintptr_t)src, n };

	if (src == NULL)
		return -1;
	/* The kernel copies from our own memory and says EFAULT where a plain
	 * memcpy would crash the program on a bad pointer. Where a seccomp
	 * filter forbids process_vm_readv, addresses are left out of the
	 * events rather than read unchecked. */
	if (process_vm_readv(sl_conn_pid(), &local, 1, &remote, 1, 0) != (ssize_t)n)
		return -1;
	return 0;
}

/* at = "OBJ+0xOFF": the object holding the call instruction (the byte
 * before the return address) and its offset as addr2line wants it (the
 * address minus the object's load bias: right for PIE, shared libraries and
 * fixed-address programs alike). */
int sl_call_locate(char *at, size_t size, const void *caller)
{
	uintptr_t pc = (uintptr_t)caller - 1;
	struct link_map *lm = NULL;
	const char *obj;
	Dl_info info;
	int n;

	at[0] = '\0';
	if (caller == NULL ||
	    dladdr1((void *)pc, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 ||
	    lm == NULL)
		return -1;
	obj = lm->l_name;
	/* The main program's link map has an empty name. */
	if (obj == NULL || obj[0] == '\0')
		obj = sl_conn_exe()[0] != '\0' ? sl_conn_exe() : info.dli_fname;
	if (obj == NULL || obj[0] == '\0')
		return -1;
	n = snprintf(at, size, "%s+0x%lx", obj, (unsigned long)(pc - (uintptr_t)lm->l_addr));
	if (n > 0 && (size_t)n < size)
		return 0;
	at[0] = '\0';
	return -1;
}

/* sl_call_begin, once tracing is on. */
int sl_call_start(struct sl_call *c, const char *name, const void *caller)
{
	if (busy)
		return 0;
	c->saved_errno = errno;
	busy = 1;
	if (sl_conn_get() < 0) {
		busy = 0;
		errno = c->saved_errno;
		return 0;
	}
	memset(&c->ev, 0, sizeof(c->ev));
	c->ev.ph = SL_PH_BEFORE;
	c->ev.seq = sl_conn_next_seq();
	c->ev.pid = sl_conn_pid();
	c->ev.tid = sl_conn_tid();
	c->ev.has = SL_EV_SEQ | SL_EV_PID | SL_EV_TID;
	sl_event_set_call(&c->ev, name);
	if (sl_call_locate(c->ev.at, sizeof(c->ev.at), caller) == 0)
		c->ev.has |= SL_EV_AT;
	c->on = 1;
	return 1;
}

void sl_call_before(struct sl_call *c)
{
	sl_conn_send_before(&c->ev);
	c->ev.has &= ~(uint32_t)SL_EV_DROPPED;
	busy = 0;
	errno = c->saved_errno;
}

void sl_call_result(struct sl_call *c, long long ret)
{
	/* First: nothing may touch errno before it is saved. */
	c->saved_errno = errno;
	busy = 1;
	c->ev.ph = SL_PH_AFTER;
	/* After fork the child reports with its own ids. */
	c->ev.pid = sl_conn_pid();
	c->ev.tid = sl_conn_tid();
	c->ev.ret = ret;
	c->ev.has |= SL_EV_RET;
	/* Only what is true after the call: close described the socket in
	 * its before event. */
	c->ev.has &= ~(uint32_t)(SL_EV_LOCAL | SL_EV_PEER | SL_EV_STATE | SL_EV_INO);
	if (ret < 0) {
		c->ev.err = c->saved_errno;
		c->ev.has |= SL_EV_ERR;
	}
}

void sl_call_after(struct sl_call *c, int fd)
{
	if (fd >= 0)
		sl_call_describe(&c->ev, fd);
	sl_conn_send(&c->ev);
	busy = 0;
	errno = c->saved_errno;
}

void sl_call_end(struct sl_call *c, long long ret, int fd)
{
	sl_call_result(c, ret);
	sl_call_after(c, fd);
}

void sl_call_describe(struct sl_event *ev, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int family = AF_UNSPEC;
	struct stat st;

	/* The inode where a socket starts (and at connect, for one the
	 * process had before it was traced): one fstat more there only. */
	if (((sl_event_call_class(ev->call_id) & SL_CALLS_NEW_FD) ||
	     ev->call_id == SL_CALL_CONNECT) &&
	    fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		ev->ino = (uint64_t)st.st_ino;
		ev->has |= SL_EV_INO;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		family = ss.ss_family;
		if (sl_addr_format((struct sockaddr *)&ss, len, ev->local,
				   sizeof(ev->local)) != NULL)
			ev->has |= SL_EV_LOCAL;
	}
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    sl_addr_format((struct sockaddr *)&ss, len, ev->peer,
			   sizeof(ev->peer)) != NULL)
		ev->has |= SL_EV_PEER;
	if (family == AF_INET || family == AF_INET6) {
		struct tcp_info ti;

		len = sizeof(ti);
		/* Fails on UDP and raw sockets: then there is no state. */
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
		    len >= sizeof(ti.tcpi_state)) {
			ev->state = ti.tcpi_state;
			ev->has |= SL_EV_STATE;
		}
	}
}

void sl_call_addr(struct sl_event *ev, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss;

	if (sa == NULL || len == 0)
		return;
	if (len > sizeof(ss))
		len = sizeof(ss);
	if (sl_safe_copy(&ss, sa, len) < 0)
		return;
	if (sl_addr_format((struct sockaddr *)&ss, len, ev->addr,
			   sizeof(ev->addr)) != NULL)
		ev->has |= SL_EV_ADDR;
}
