/* frame.c — length-prefix framing: a 4-byte big-endian length, then the
 * payload. */
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "frame.h"
#include "io.h"

int sl_frame_encode(uint8_t hdr[SL_FRAME_HDR], size_t len)
{
	if (len > SL_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return 0;
}

/* The payload length a header announces. */
static size_t header_length(const uint8_t hdr[SL_FRAME_HDR])
{
	return (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	       (size_t)hdr[2] << 8 | (size_t)hdr[3];
}

ssize_t sl_frame_decode(const uint8_t *buf, size_t len, size_t max,
                        const uint8_t **payload, size_t *plen)
{
	size_t n;

	if (len < SL_FRAME_HDR)
		return 0; /* not even the whole header yet */
	n = header_length(buf);
	/* The second test only matters where ssize_t is 32 bits wide. */
	if (n > max || n > (size_t)SSIZE_MAX - SL_FRAME_HDR) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len - SL_FRAME_HDR < n)
		return 0; /* the payload is not all here yet */
	*payload = buf + SL_FRAME_HDR;
	*plen = n;
	return (ssize_t)(SL_FRAME_HDR + n);
}

/* One gather write of header and payload, so the frame usually leaves in
 * one segment: two small writes would meet Nagle's algorithm and the
 * peer's delayed ACK. Returns the bytes written (0 for EAGAIN), or -1. */
static ssize_t write_once(int fd, uint8_t hdr[SL_FRAME_HDR],
                          const void *payload, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = SL_FRAME_HDR },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1 };

	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK) /* a pipe or a file */
			n = writev(fd, iov, (int)msg.msg_iovlen);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0; /* sl_io_write_all knows how to wait */
		if (errno != EINTR)
			return -1;
	}
}

ssize_t sl_frame_write(int fd, const void *payload, size_t len)
{
	uint8_t hdr[SL_FRAME_HDR];
	size_t sent;
	ssize_t n;

	if (sl_frame_encode(hdr, len) < 0)
		return -1;
	n = write_once(fd, hdr, payload, len);
	if (n < 0)
		return -1;
	sent = (size_t)n;
	/* A short write: finish the header, then the payload. */
	if (sent < SL_FRAME_HDR) {
		if (sl_io_write_all(fd, hdr + sent, SL_FRAME_HDR - sent) < 0)
			return -1;
		sent = SL_FRAME_HDR;
	}
	if (sent < SL_FRAME_HDR + len) {
		const char *rest = (const char *)payload + (sent - SL_FRAME_HDR);

		if (sl_io_write_all(fd, rest, SL_FRAME_HDR + len - sent) < 0)
			return -1;
	}
	return (ssize_t)len;
}

ssize_t sl_frame_read(int fd, void *buf, size_t cap)
{
	uint8_t hdr[SL_FRAME_HDR];
	ssize_t n = sl_io_read_exact(fd, hdr, SL_FRAME_HDR);
	size_t len;

	if (n == 0) {
		errno = ENODATA; /* closed cleanly between frames */
		return -1;
	}
	if (n < 0)
		return -1; /* EPROTO when closed inside the header */
	len = header_length(hdr);
	if (len > cap || len > (size_t)SSIZE_MAX) {
		errno = EMSGSIZE; /* the payload stays unread */
		return -1;
	}
	if (len == 0)
		return 0;
	n = sl_io_read_exact(fd, buf, len);
	if (n == 0) {
		errno = EPROTO; /* closed after the header */
		return -1;
	}
	if (n < 0)
		return -1;
	return (ssize_t)len;
}
