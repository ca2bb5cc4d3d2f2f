/* fds.c — which fds are sockets. read, readv, write, writev and close are
 * reported only for sockets, and asking the kernel (fstat) on every read of
 * a file would cost a system call each time, so the answer is cached per
 * fd: socket(), accept() and an fstat on a miss fill the cache, close() and
 * dup2() empty an entry. An fd the program changes behind the shim's back
 * (libc closing it inside fclose, then reusing the number) can be misjudged
 * until it is next closed through close(); the cost of a wrong answer is
 * one event too many or too few, never a wrong result for the program.
 * For chaos mode (chaos.c) an entry also notes that the fd is in an epoll
 * set with EPOLLET (seen by epoll_ctl), where no EAGAIN may be made up. */
#include <errno.h>
#include <sys/stat.h>

#include "trace.h"

enum { UNKNOWN = 0, SOCKET = 1, OTHER = 2, EDGE = 4 };

#define CACHED_FDS 4096

static unsigned char kinds[CACHED_FDS];

int sl_fd_is_socket(int fd)
{
	struct stat st;
	int saved = errno, is;

	if (fd < 0)
		return 0;
	if (fd < CACHED_FDS) {
		unsigned char k = __atomic_load_n(&kinds[fd], __ATOMIC_RELAXED);

		if (k & (SOCKET | OTHER))
			return (k & SOCKET) != 0;
	}
	if (fstat(fd, &st) < 0) {
		/* Not open: nothing to cache; the real call reports EBADF. */
		errno = saved;
		return 0;
	}
	is = S_ISSOCK(st.st_mode);
	if (fd < CACHED_FDS)
		__atomic_or_fetch(&kinds[fd], is ? SOCKET : OTHER, __ATOMIC_RELAXED);
	errno = saved;
	return is;
}

void sl_fd_set(int fd, int is_socket)
{
	if (fd >= 0 && fd < CACHED_FDS)
		__atomic_store_n(&kinds[fd], is_socket ? SOCKET : UNKNOWN,
				 __ATOMIC_RELAXED);
}

void sl_fd_forget_range(unsigned first, unsigned last)
{
	for (unsigned fd = first; fd <= last && fd < CACHED_FDS; fd++)
		__atomic_store_n(&kinds[fd], UNKNOWN, __ATOMIC_RELAXED);
}

void sl_fd_set_edge(int fd, int edge)
{
	if (fd < 0 || fd >= CACHED_FDS)
		return;
	if (edge)
		__atomic_or_fetch(&kinds[fd], EDGE, __ATOMIC_RELAXED);
	else
		__atomic_and_fetch(&kinds[fd], (unsigned char)~EDGE, __ATOMIC_RELAXED);
}

int sl_fd_is_edge(int fd)
{
	return fd >= 0 && fd < CACHED_FDS &&
	       (__atomic_load_n(&kinds[fd], __ATOMIC_RELAXED) & EDGE) != 0;
}
