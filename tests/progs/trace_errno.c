/* trace_errno.c — a target for test_shim: makes socket calls that fail on
 * purpose and calls that succeed, and checks errno after each itself.
 *
 * Under the trace shim the caller must see exactly the errno the real call
 * left: the failing calls' own errno, and after a successful call the
 * value errno had before it (set here to a sentinel the shim never
 * produces). Prints one line per checked call, "fail CALL ERRNAME" or
 * "ok CALL RET", for the test to match against the events; exits 1 on any
 * mismatch. Plain libc, 127.0.0.1 and port 0 only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* close_range, gettid, strerrorname_np */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Never set by any socket call, nor by the shim. */
#define SENTINEL EOWNERDEAD

/* What a fortified program (-D_FORTIFY_SOURCE) calls for ppoll when the
 * array size is known. Called by name, so the test does not depend on
 * the compiler's fortify settings; the shim reports it as "ppoll". */
extern int __ppoll_chk(struct pollfd *fds, nfds_t nfds,
                       const struct timespec *timeout, const sigset_t *mask,
                       size_t fdslen);

/* An address in the never-mapped first page: the kernel says EFAULT.
 * Through a volatile, so the compiler does not see the constant and warn
 * about the calls it is passed to. */
static void *bad_pointer(void)
{
	volatile uintptr_t p = 1;

	return (void *)p;
}

static int mismatches;

static void fail_check(const char *call, long ret, int want)
{
	int got = errno;

	if (ret != -1 || got != want) {
		fprintf(stderr, "%s: ret %ld errno %s, want -1 %s\n", call, ret,
			strerrorname_np(got), strerrorname_np(want));
		mismatches++;
	}
	printf("fail %s %s\n", call, strerrorname_np(want));
}

static void ok_check(const char *call, long ret)
{
	int got = errno;

	if (ret < 0 || got != SENTINEL) {
		fprintf(stderr, "%s: ret %ld errno %s, want success and %s kept\n",
			call, ret, strerrorname_np(got), strerrorname_np(SENTINEL));
		mismatches++;
	}
	printf("ok %s %ld\n", call, ret);
}

static socklen_t loopback(struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*sin);
}

static void local_addr(int fd, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);

	getsockname(fd, (struct sockaddr *)sin, &len);
}

int main(void)
{
	struct sockaddr_in any, lis, unused;
	socklen_t len = loopback(&any);
	struct epoll_event eev;
	struct pollfd pfd;
	struct rlimit rl;
	struct msghdr msg;
	struct iovec iov, iov2[2];
	struct timespec zero = { 0, 0 };
	char buf[16] = "x";
	int l, b, c, c2, a, u, dead, sp[2], ep, st;
	long r;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	/* Failing calls. */
	errno = SENTINEL;
	r = socket(12345, SOCK_STREAM, 0);
	fail_check("socket", r, EAFNOSUPPORT);

	errno = SENTINEL;
	l = socket(AF_INET, SOCK_STREAM, 0);
	ok_check("socket", l);
	errno = SENTINEL;
	ok_check("bind", bind(l, (struct sockaddr *)&any, len));
	errno = SENTINEL;
	ok_check("listen", listen(l, 4));
	local_addr(l, &lis);

	b = socket(AF_INET, SOCK_STREAM, 0);
	fail_check("bind", bind(b, (struct sockaddr *)&lis, len), EADDRINUSE);
	errno = SENTINEL;
	ok_check("bind", bind(b, (struct sockaddr *)&any, len));
	local_addr(b, &unused);
	/* b is bound but not listening: a closed port. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	fail_check("connect", connect(c, (struct sockaddr *)&unused, len), ECONNREFUSED);
	fail_check("shutdown", shutdown(c, SHUT_RDWR), ENOTCONN);
	fail_check("accept", accept(b, NULL, NULL), EINVAL);
	fail_check("accept4", accept4(l, NULL, NULL, 0x7fff0000), EINVAL);

	/* A socket closed again: its number is not open any more (until a
	 * later call reuses it, so it is used right away). */
	dead = socket(AF_INET, SOCK_STREAM, 0);
	close(dead);
	fail_check("recv", recv(dead, buf, sizeof(buf), 0), EBADF);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	fail_check("recvmsg", recvmsg(dead, &msg, 0), EBADF);

	u = socket(AF_INET, SOCK_DGRAM, 0);
	fail_check("listen", listen(u, 1), EOPNOTSUPP);
	fail_check("sendto", sendto(u, buf, 1, 0, NULL, 0), EDESTADDRREQ);
	fail_check("sendmsg", sendmsg(u, &msg, 0), EDESTADDRREQ);
	fail_check("send", send(u, buf, 1, 0), EDESTADDRREQ);
	fail_check("recvfrom", recvfrom(u, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), EAGAIN);

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
	fail_check("read", read(sp[0], buf, sizeof(buf)), EAGAIN);
	fail_check("readv", readv(sp[0], &iov, 1), EAGAIN);
	close(sp[0]);
	fail_check("write", write(sp[1], buf, 1), EPIPE);
	fail_check("writev", writev(sp[1], &iov, 1), EPIPE);

	fail_check("select", select(-1, NULL, NULL, NULL, NULL), EINVAL);
	pfd.fd = l;
	pfd.events = POLLIN;
	/* More fds than RLIMIT_NOFILE allows. */
	getrlimit(RLIMIT_NOFILE, &rl);
	fail_check("poll", poll(&pfd, (nfds_t)rl.rlim_cur + 1, 0), EINVAL);
	fail_check("epoll_wait", epoll_wait(-1, &eev, 1, 0), EBADF);
	fail_check("ppoll", ppoll(bad_pointer(), 1, &zero, NULL), EFAULT);
	fail_check("ppoll", __ppoll_chk(bad_pointer(), 1, &zero, NULL, 64), EFAULT);
	fail_check("pselect", pselect(-1, NULL, NULL, NULL, &zero, NULL), EINVAL);
	fail_check("epoll_pwait", epoll_pwait(-1, &eev, 1, 0, NULL), EBADF);
	/* The kernel reads the timespec itself; the shim must not crash on it. */
	fail_check("epoll_pwait2", epoll_pwait2(-1, &eev, 1, bad_pointer(), NULL), EFAULT);

	/* Calls that succeed: errno must keep the sentinel. */
	c2 = socket(AF_INET, SOCK_STREAM, 0);
	errno = SENTINEL;
	ok_check("connect", connect(c2, (struct sockaddr *)&lis, len));
	errno = SENTINEL;
	a = accept(l, NULL, NULL);
	ok_check("accept", a);
	errno = SENTINEL;
	ok_check("send", send(c2, "ping", 4, 0));
	errno = SENTINEL;
	ok_check("recv", recv(a, buf, 4, MSG_WAITALL));
	errno = SENTINEL;
	ok_check("write", write(a, "pong", 4));
	errno = SENTINEL;
	ok_check("read", read(c2, buf, 4));
	iov2[0].iov_base = "po";
	iov2[0].iov_len = 2;
	iov2[1].iov_base = "ng";
	iov2[1].iov_len = 2;
	errno = SENTINEL;
	ok_check("writev", writev(a, iov2, 2));
	iov2[0].iov_base = buf;
	iov2[1].iov_base = buf + 2;
	errno = SENTINEL;
	ok_check("readv", readv(c2, iov2, 2));
	errno = SENTINEL;
	ok_check("poll", poll(&pfd, 1, 0));
	errno = SENTINEL;
	ok_check("select", select(0, NULL, NULL, NULL, &(struct timeval){ 0, 0 }));
	errno = SENTINEL;
	ok_check("ppoll", ppoll(&pfd, 1, &zero, NULL));
	errno = SENTINEL;
	ok_check("ppoll", __ppoll_chk(&pfd, 1, &zero, NULL, sizeof(pfd)));
	errno = SENTINEL;
	ok_check("pselect", pselect(0, NULL, NULL, NULL, &zero, NULL));
	ep = epoll_create1(0);
	errno = SENTINEL;
	ok_check("epoll_wait", epoll_wait(ep, &eev, 1, 0));
	errno = SENTINEL;
	ok_check("epoll_pwait", epoll_pwait(ep, &eev, 1, 0, NULL));
	errno = SENTINEL;
	ok_check("epoll_pwait2", epoll_pwait2(ep, &eev, 1, &zero, NULL));
	close(ep);
	errno = SENTINEL;
	ok_check("sendto", sendto(u, "u", 1, 0, (struct sockaddr *)&lis, len));
	errno = SENTINEL;
	ok_check("shutdown", shutdown(c2, SHUT_WR));
	errno = SENTINEL;
	pid = fork();
	if (pid == 0)
		_exit(0);
	ok_check("fork", pid);
	waitpid(pid, &st, 0);
	errno = SENTINEL;
	ok_check("close", close(c2));
	close(a);
	close(c);
	close(u);
	close(b);
	close(sp[1]);
	errno = SENTINEL;
	ok_check("close", close(l));
	printf("end\n");
	return mismatches == 0 ? 0 : 1;
}
