/* frame.h — length-prefix framing: a 4-byte big-endian length, then that
 * many bytes of payload. A receiver always knows where a message ends, and
 * refuses a header that announces more than it is willing to hold.
 */
#ifndef SOCKLAB_FRAME_H
#define SOCKLAB_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SL_FRAME_HDR 4u
/* The largest payload the header can announce. */
#define SL_FRAME_MAX UINT32_MAX

/* Write the 4-byte header for a payload of len bytes into hdr.
 * Returns 0, or -1 with EMSGSIZE when len > SL_FRAME_MAX. */
int sl_frame_encode(uint8_t hdr[SL_FRAME_HDR], size_t len);

/* Look for one whole frame at the start of buf (len bytes buffered), as an
 * event loop does. Returns the number of bytes the frame takes (header and
 * payload) and sets *payload and *plen; 0 when more bytes are needed; -1
 * with EMSGSIZE when the header announces more than max. Pure: reads only
 * buf[0..len). payload and plen must not be NULL. */
ssize_t sl_frame_decode(const uint8_t *buf, size_t len, size_t max,
                        const uint8_t **payload, size_t *plen);

/* Send one frame (header and payload) with write-all semantics.
 * Returns len, or -1 with errno. */
ssize_t sl_frame_write(int fd, const void *payload, size_t len);

/* Receive one frame into buf (cap bytes). Returns the payload length
 * (0 is a valid, empty frame); -1 with errno: EMSGSIZE when the header
 * announces more than cap (the payload is left unread: close the
 * connection), EPROTO when the peer closed inside a frame, ENODATA when the
 * peer closed cleanly between frames, or the read's own errno. */
ssize_t sl_frame_read(int fd, void *buf, size_t cap);

#endif
