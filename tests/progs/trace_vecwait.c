/* trace_vecwait.c — a target for test_shim: readv and writev on a socket
 * pair, a pipe, a file and a closed fd; ppoll (plain and fortified),
 * pselect, epoll_pwait and epoll_pwait2 with known arguments, each once
 * made to fail. It checks every result and errno itself (a line on stderr
 * and exit 1 on any surprise), so the values the test expects in the
 * events are the ones the real calls gave. Prints the fds it used,
 * "fds SOCK0 SOCK1 EPOLL PIPE0 PIPE1 FILE CLOSED", for the test to match
 * the events against. Plain libc, no network.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* ppoll, epoll_pwait2, memfd_create, strerrorname_np */
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* See trace_errno.c: the fortified ppoll, called by name. */
extern int __ppoll_chk(struct pollfd *fds, nfds_t nfds,
                       const struct timespec *timeout, const sigset_t *mask,
                       size_t fdslen);

static int mismatches;

/* The call gave ret, and errno want_err when it failed. */
static void expect(const char *what, long ret, long want, int want_err)
{
	int got = errno;

	if (ret != want || (want < 0 && got != want_err)) {
		fprintf(stderr, "%s: ret %ld errno %s, want %ld %s\n", what, ret,
			strerrorname_np(got), want,
			want < 0 ? strerrorname_np(want_err) : "");
		mismatches++;
	}
}

/* An address in the never-mapped first page (see trace_errno.c). */
static void *bad_pointer(void)
{
	volatile uintptr_t p = 1;

	return (void *)p;
}

/* 3 + 4 + 5 = 12 bytes out, then in through 2 + 8 + 100 = 110 bytes of
 * room; the test knows these numbers. */
static void gather_scatter(const char *what, int out, int in)
{
	struct iovec w[3] = {
		{ .iov_base = "abc", .iov_len = 3 },
		{ .iov_base = "defg", .iov_len = 4 },
		{ .iov_base = "hijkl", .iov_len = 5 },
	};
	char a[2], b[8], c[100];
	struct iovec r[3] = {
		{ .iov_base = a, .iov_len = sizeof(a) },
		{ .iov_base = b, .iov_len = sizeof(b) },
		{ .iov_base = c, .iov_len = sizeof(c) },
	};

	expect(what, writev(out, w, 3), 12, 0);
	if (out == in)
		lseek(in, 0, SEEK_SET);
	expect(what, readv(in, r, 3), 12, 0);
	if (memcmp(a, "ab", 2) != 0 || memcmp(b, "cdefghij", 8) != 0 ||
	    memcmp(c, "kl", 2) != 0) {
		fprintf(stderr, "%s: the bytes read back differ\n", what);
		mismatches++;
	}
}

/* One iovec more than the kernel takes, all readable: a shim that read
 * them would find a length to report. */
static struct iovec too_many[IOV_MAX + 1];

int main(void)
{
	struct timespec zero = { 0, 0 };
	struct epoll_event eev = { .events = EPOLLOUT }, evs[4];
	struct pollfd pfd[2];
	struct iovec iov[1];
	char buf[4];
	sigset_t none;
	fd_set wr;
	int sp[2], p[2], file, dead, ep;

	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || pipe(p) < 0 ||
	    (file = memfd_create("trace_vecwait", 0)) < 0 ||
	    (ep = epoll_create1(0)) < 0) {
		perror("setup");
		return 1;
	}
	/* The last fd the program opens: once closed, its number stays free
	 * (EBADF below). */
	dead = dup(sp[0]);
	close(dead);

	/* Reported: the socket pair. */
	gather_scatter("socket", sp[0], sp[1]);
	iov[0].iov_base = buf;
	iov[0].iov_len = sizeof(buf);
	for (size_t i = 0; i < IOV_MAX + 1; i++)
		too_many[i] = iov[0];
	expect("writev EFAULT", writev(sp[0], bad_pointer(), 1), -1, EFAULT);
	expect("readv EINVAL", readv(sp[1], too_many, IOV_MAX + 1), -1, EINVAL);
	/* Not reported: a pipe, a file, a closed fd. */
	gather_scatter("pipe", p[1], p[0]);
	gather_scatter("file", file, file);
	expect("writev EBADF", writev(dead, iov, 1), -1, EBADF);
	expect("readv EBADF", readv(dead, iov, 1), -1, EBADF);

	/* sp[1] has nothing to read, sp[0] room to write: each wait returns
	 * 1 at once, whatever its timeout. */
	pfd[0].fd = sp[1];
	pfd[0].events = POLLIN;
	pfd[1].fd = sp[0];
	pfd[1].events = POLLOUT;
	sigemptyset(&none);
	expect("ppoll 1.5 s", ppoll(pfd, 2, &(struct timespec){ 1, 500000000 }, NULL), 1, 0);
	expect("ppoll NULL", ppoll(pfd, 2, NULL, &none), 1, 0);
	expect("ppoll for ever", ppoll(pfd, 2, &(struct timespec){ LONG_MAX, 0 }, NULL), 1, 0);
	expect("__ppoll_chk", __ppoll_chk(pfd, 2, &(struct timespec){ 0, 20000000 },
					  NULL, sizeof(pfd)), 1, 0);
	expect("ppoll EFAULT", ppoll(bad_pointer(), 1, &zero, NULL), -1, EFAULT);

	FD_ZERO(&wr);
	FD_SET(sp[0], &wr);
	expect("pselect 250 ms", pselect(FD_SETSIZE, NULL, &wr, NULL,
					 &(struct timespec){ 0, 250000000 }, NULL), 1, 0);
	expect("pselect NULL", pselect(FD_SETSIZE, NULL, &wr, NULL, NULL, &none), 1, 0);
	expect("pselect EINVAL", pselect(-1, NULL, NULL, NULL, &zero, NULL), -1, EINVAL);

	eev.data.fd = sp[0];
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &eev) < 0) {
		perror("epoll");
		return 1;
	}
	expect("epoll_pwait", epoll_pwait(ep, evs, 4, 7, &none), 1, 0);
	expect("epoll_pwait EBADF", epoll_pwait(-1, evs, 4, 0, NULL), -1, EBADF);
	expect("epoll_pwait2 2 s", epoll_pwait2(ep, evs, 4, &(struct timespec){ 2, 0 }, NULL), 1, 0);
	expect("epoll_pwait2 NULL", epoll_pwait2(ep, evs, 4, NULL, &none), 1, 0);
	expect("epoll_pwait2 EFAULT", epoll_pwait2(ep, evs, 4, bad_pointer(), NULL), -1, EFAULT);

	printf("fds %d %d %d %d %d %d %d\n", sp[0], sp[1], ep, p[0], p[1], file, dead);
	close(ep);
	close(file);
	close(p[0]);
	close(p[1]);
	close(sp[0]);
	close(sp[1]);
	return mismatches == 0 ? 0 : 1;
}
