/* io.c — full reads and writes, and a buffered line reader. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* After EAGAIN: wait for fd when it is non-blocking. A blocking fd only
 * says EAGAIN when its SO_SNDTIMEO/SO_RCVTIMEO ran out; waiting then would
 * turn the caller's timeout into a hang, so the EAGAIN is returned. */
static int wait_if_nonblocking(int fd, short events)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (!(fl & O_NONBLOCK)) {
		errno = EAGAIN;
		return -1;
	}
	return wait_ready(fd, events);
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
				if (wait_if_nonblocking(fd, POLLOUT) < 0)
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
				if (wait_if_nonblocking(fd, POLLIN) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)len;
}

int sl_line_init(struct sl_line_reader *r, int fd, size_t max_line)
{
	r->fd = fd;
	r->max = max_line;
	r->buf = NULL;
	r->start = 0;
	r->end = 0;
	r->eof = 0;
	/* A line's length must fit the ssize_t that sl_line_read returns. */
	if (max_line == 0 || max_line > (size_t)SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	r->buf = malloc(max_line + 1);
	if (r->buf == NULL)
		return -1; /* malloc set ENOMEM */
	return 0;
}

void sl_line_free(struct sl_line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->start = 0;
	r->end = 0;
}

/* The buffer holds max + 1 bytes: max bytes without a '\n' may still be a
 * last line cut by EOF, and one byte more shows whether it is too long. */
ssize_t sl_line_read(struct sl_line_reader *r, char **line)
{
	size_t scanned = 0; /* buffered bytes already searched for '\n' */

	if (r->buf == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		char *p = r->buf + r->start;
		size_t have = r->end - r->start;
		char *nl = memchr(p + scanned, '\n', have - scanned);
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - p) + 1;

			if (len > r->max)
				break;
			*line = p;
			r->start += len;
			return (ssize_t)len;
		}
		if (have > r->max)
			break;
		if (r->eof) {
			if (have == 0)
				return 0; /* EOF between lines */
			*line = p; /* the last line, without '\n' */
			r->start = r->end;
			return (ssize_t)have;
		}
		scanned = have;

		/* Move the partial line to the front: the line handed out by
		 * the previous call is no longer needed. */
		if (r->start > 0) {
			memmove(r->buf, p, have);
			r->start = 0;
			r->end = have;
		}
		n = read(r->fd, r->buf + r->end, r->max + 1 - r->end);
		if (n > 0) {
			r->end += (size_t)n;
		} else if (n == 0) {
			r->eof = 1;
		} else if (errno != EINTR) {
			return -1; /* EAGAIN too: the partial line stays buffered */
		}
	}
	/* Nothing is consumed, so every later call fails the same way. */
	errno = EMSGSIZE;
	return -1;
}
