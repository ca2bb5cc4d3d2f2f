/* io.c — full reads and writes, and a buffered line reader. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"

/* Wait until fd is ready for events; 0 when ready, -1 with errno. */
static int wait_ready(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int n = poll(&pfd, 1, -1);

		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

ssize_t sl_io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;
	int is_socket = 1;

	while (left > 0) {
		ssize_t n;

		if (is_socket) {
			n = send(fd, p, left, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				is_socket = 0; /* a pipe or a file: plain write() */
				continue;
			}
		} else {
			n = write(fd, p, left);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (wait_ready(fd, POLLOUT) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

ssize_t sl_io_read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n == 0) {
			if (got == 0)
				return 0; /* closed between messages */
			errno = EPROTO; /* closed inside one */
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (wait_ready(fd, POLLIN) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)len;
}
