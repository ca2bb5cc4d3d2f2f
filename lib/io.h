/* io.h — full reads and writes, and a buffered line reader.
 *
 * The kernel may move fewer bytes than asked in one call (a "short" read or
 * write) and a signal may interrupt a call (EINTR). These helpers loop until
 * the whole job is done or a real error happens.
 */
#ifndef SOCKLAB_IO_H
#define SOCKLAB_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all len bytes. Retries after EINTR and short writes; on a socket it
 * uses send(MSG_NOSIGNAL), so a closed peer gives EPIPE instead of killing
 * the process with SIGPIPE; on a non-blocking fd it waits with poll() when
 * the kernel says EAGAIN (on a blocking fd, EAGAIN means SO_SNDTIMEO ran
 * out, and is returned). Returns len, or -1 with errno set (some bytes may
 * have been written). */
ssize_t sl_io_write_all(int fd, const void *buf, size_t len);

/* Read exactly len bytes. Returns len; 0 when the peer closed before the
 * first byte (a clean end between messages); -1 with errno EPROTO when the
 * peer closed after some but not all bytes (a message cut short), or with
 * the read's own errno. Retries after EINTR; on a non-blocking fd it waits
 * with poll() for EAGAIN (on a blocking fd, EAGAIN means SO_RCVTIMEO ran
 * out, and is returned). */
ssize_t sl_io_read_exact(int fd, void *buf, size_t len);

/* A line reader over one fd, with its own buffer: one per connection, no
 * static state, so any number of threads may each use their own. */
struct sl_line_reader {
	int fd;
	size_t max;     /* longest line accepted, '\n' included */
	char *buf;      /* max + 1 bytes */
	size_t start;   /* first unread byte */
	size_t end;     /* one past the last buffered byte */
	int eof;        /* the fd returned 0 */
};

/* Set up r for fd; lines may be at most max_line bytes with the '\n'.
 * Returns 0, or -1 with errno (EINVAL for max_line 0 or above SSIZE_MAX,
 * ENOMEM); r->buf is NULL after a failure. */
int sl_line_init(struct sl_line_reader *r, int fd, size_t max_line);

/* Free the buffer (the fd is the caller's to close). */
void sl_line_free(struct sl_line_reader *r);

/* Read the next line. On success *line points into the reader's buffer at
 * the line with its '\n' (valid until the next call) and the length is
 * returned. A last line without '\n' before EOF is returned as it is (its
 * length counted, no '\n'). Returns 0 at EOF between lines; -1 with errno
 * EMSGSIZE when a line is longer than max (every later call fails the
 * same way),
 * EAGAIN on a non-blocking fd with no full line yet (call again later: the
 * partial line is kept), EINVAL after sl_line_free or a failed init, or the
 * read's own errno. Retries after EINTR. The line is not NUL-terminated. */
ssize_t sl_line_read(struct sl_line_reader *r, char **line);

#endif
