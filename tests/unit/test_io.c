// WRAP: send write read poll
/* test_io.c — sl_io_write_all, sl_io_read_exact and the line reader.
 *
 * Real sockets do the work wherever they can: socketpair() for most tests,
 * a TCP connection over 127.0.0.1 port 0 for a genuine reset, a pipe for
 * the non-socket path. The wrapped calls above only add what a real socket
 * will not do on demand (a 1-byte short write, EINTR) and count calls, so a
 * test can prove a loop ran or a poll() happened. A wrapper scripts only
 * the one fd named in mock.fd; every other call goes to the real function.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* How long a helper thread waits for an event before giving up, so a
 * broken library fails a test instead of hanging it. */
#define WAIT_SECS 10

/* ---- the mock ------------------------------------------------------------ */

enum fault {
	PASS,       /* call the real function */
	SHORT_ONE,  /* move at most one byte per call */
	EINTR_ONCE, /* fail the next call with EINTR, then pass */
	FAIL_EIO,   /* fail every call with EIO */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd; /* the only fd whose calls are scripted and counted */
	enum fault send, write, read, poll;
	int sends, writes, reads, polls;
} mock = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1,
	   PASS, PASS, PASS, PASS, 0, 0, 0, 0 };

static void mock_reset(int fd)
{
	pthread_mutex_lock(&mock.mu);
	mock.fd = fd;
	mock.send = mock.write = mock.read = mock.poll = PASS;
	mock.sends = mock.writes = mock.reads = mock.polls = 0;
	pthread_mutex_unlock(&mock.mu);
}

/* Count a call on fd and return the fault scripted for it. */
static enum fault mock_enter(int fd, enum fault *f, int *count)
{
	enum fault got = PASS;

	pthread_mutex_lock(&mock.mu);
	if (fd == mock.fd) {
		(*count)++;
		got = *f;
		if (got == EINTR_ONCE)
			*f = PASS;
		pthread_cond_broadcast(&mock.cv);
	}
	pthread_mutex_unlock(&mock.mu);
	return got;
}

static int mock_count(const int *count)
{
	int n;

	pthread_mutex_lock(&mock.mu);
	n = *count;
	pthread_mutex_unlock(&mock.mu);
	return n;
}

/* Wait until *count reaches target; -1 after WAIT_SECS. */
static int mock_wait(const int *count, int target)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_SECS;
	pthread_mutex_lock(&mock.mu);
	while (*count < target && rc == 0)
		rc = pthread_cond_timedwait(&mock.cv, &mock.mu, &until);
	rc = *count >= target ? 0 : -1;
	pthread_mutex_unlock(&mock.mu);
	return rc;
}

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __real_read(int fd, void *buf, size_t len);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __wrap_read(int fd, void *buf, size_t len);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);

/* Apply fault f to a call that would move len bytes: -1 means "fail with
 * errno set", otherwise the length to pass on. */
static int apply(enum fault f, size_t *len)
{
	switch (f) {
	case EINTR_ONCE:
		errno = EINTR;
		return -1;
	case FAIL_EIO:
		errno = EIO;
		return -1;
	case SHORT_ONE:
		if (*len > 1)
			*len = 1;
		return 0;
	case PASS:
		break;
	}
	return 0;
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
	if (apply(mock_enter(fd, &mock.send, &mock.sends), &len) < 0)
		return -1;
	return __real_send(fd, buf, len, flags);
}

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	if (apply(mock_enter(fd, &mock.write, &mock.writes), &len) < 0)
		return -1;
	return __real_write(fd, buf, len);
}

ssize_t __wrap_read(int fd, void *buf, size_t len)
{
	if (apply(mock_enter(fd, &mock.read, &mock.reads), &len) < 0)
		return -1;
	return __real_read(fd, buf, len);
}

int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	size_t unused = 0;

	if (nfds == 1 &&
	    apply(mock_enter(fds[0].fd, &mock.poll, &mock.polls), &unused) < 0)
		return -1;
	return __real_poll(fds, nfds, timeout);
}

/* ---- helpers ------------------------------------------------------------- */

struct pair {
	int sv[2]; /* sv[0] writes, sv[1] reads; -1 once closed */
};

static int pair_setup(void **state)
{
	struct pair *p = malloc(sizeof(*p));

	if (p == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->sv) < 0) {
		free(p);
		return -1;
	}
	mock_reset(-1);
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	mock_reset(-1);
	for (int i = 0; i < 2; i++)
		if (p->sv[i] >= 0)
			close(p->sv[i]);
	free(p);
	return 0;
}

static void close_end(struct pair *p, int i)
{
	close(p->sv[i]);
	p->sv[i] = -1;
}

static void set_flag(int fd, int flag, int on)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	fl = on ? fl | flag : fl & ~flag;
	assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
}

/* Bytes whose value depends on their position, so loss, duplication or
 * reordering of any run shows up in a memcmp. */
static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i % 251 + seed);
}

/* Read whatever is queued on fd without blocking; returns the byte count. */
static size_t drain_now(int fd, void *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = recv(fd, (char *)buf + got, cap - got, MSG_DONTWAIT);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Fill the send buffer of a non-blocking socket; returns the bytes queued. */
static size_t fill_socket(int fd, unsigned seed)
{
	uint8_t chunk[4096];
	size_t total = 0;
	ssize_t n;

	fill_pattern(chunk, sizeof(chunk), seed);
	while ((n = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	return total;
}

/* Block SIGPIPE around a call; true when the call raised it (which, with
 * the default action, would have killed the process). */
static sigset_t pipe_set, old_set;

static void sigpipe_block(void)
{
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set), 0);
}

static int sigpipe_raised_unblock(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t pending;
	int raised;

	sigpending(&pending);
	raised = sigismember(&pending, SIGPIPE);
	if (raised)
		sigtimedwait(&pipe_set, NULL, &zero); /* discard it */
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return raised;
}

/* A thread that writes data to fd in pieces, piece k only once *gate
 * (a mock counter) has passed k: with gate = &mock.reads each read() of the
 * code under test finds exactly one new piece. */
struct feeder {
	int fd;
	const char *data;
	size_t len, piece;
	const int *gate;
	int ok; /* every wait and write succeeded */
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	int k = 0;

	f->ok = 1;
	for (size_t off = 0; off < f->len; off += f->piece, k++) {
		size_t n = f->len - off < f->piece ? f->len - off : f->piece;

		/* After one timeout write the rest at once: the test fails,
		 * but neither side hangs. */
		if (f->ok && mock_wait(f->gate, k + 1) < 0)
			f->ok = 0;
		if (write(f->fd, f->data + off, n) != (ssize_t)n)
			f->ok = 0;
	}
	return NULL;
}

/* ---- sl_io_write_all ------------------------------------------------------- */

struct sink {
	int fd;
	uint8_t *buf;
	size_t cap, got;
	const int *gate; /* when set: start reading only once *gate >= 1 */
	int gate_ok;
};

static void *sink_read(void *arg)
{
	struct sink *s = arg;

	s->gate_ok = s->gate == NULL || mock_wait(s->gate, 1) == 0;
	while (s->got < s->cap) {
		ssize_t n = read(s->fd, s->buf + s->got, s->cap - s->got);

		if (n <= 0)
			break;
		s->got += (size_t)n;
	}
	return NULL;
}

/* 1 MiB through a socketpair whose buffer is far smaller: write_all must
 * keep going through many partial sends while a thread reads. */
static void write_all_1mib_round_trip(void **state)
{
	struct pair *p = *state;
	ssize_t n;
	size_t len = 1u << 20;
	uint8_t *out = malloc(len), *in = malloc(len);
	struct sink s = { .fd = p->sv[1], .buf = in, .cap = len };
	pthread_t t;

	assert_non_null(out);
	assert_non_null(in);
	fill_pattern(out, len, 3);
	assert_int_equal(pthread_create(&t, NULL, sink_read, &s), 0);
	n = sl_io_write_all(p->sv[0], out, len);
	shutdown(p->sv[0], SHUT_WR); /* the reader stops even if bytes are missing */
	pthread_join(t, NULL);
	assert_int_equal(n, len);
	assert_int_equal(s.got, len);
	assert_memory_equal(in, out, len);
	free(out);
	free(in);
}

/* send() moves one byte per call: every byte still arrives, in order.
 * Each 1-byte send queues a whole buffer on a Unix socket, so the message
 * stays small enough to be queued with no reader. */
static void write_all_short_sends(void **state)
{
	struct pair *p = *state;
	uint8_t out[100], in[sizeof(out) + 1];

	fill_pattern(out, sizeof(out), 7);
	mock_reset(p->sv[0]);
	mock.send = SHORT_ONE;
	assert_int_equal(sl_io_write_all(p->sv[0], out, sizeof(out)), sizeof(out));
	assert_int_equal(mock_count(&mock.sends), sizeof(out));
	assert_int_equal(drain_now(p->sv[1], in, sizeof(in)), sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
}

/* On a pipe send() says ENOTSOCK once; then write() does the job. */
static void write_all_pipe_fallback(void **state)
{
	int fds[2];
	uint8_t out[3000], in[sizeof(out) + 1];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	mock_reset(fds[1]);
	fill_pattern(out, sizeof(out), 11);
	assert_int_equal(sl_io_write_all(fds[1], out, sizeof(out)), sizeof(out));
	assert_int_equal(mock_count(&mock.sends), 1);
	assert_int_equal(mock_count(&mock.writes), 1);
	set_flag(fds[0], O_NONBLOCK, 1);
	assert_int_equal(read(fds[0], in, sizeof(in)), sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	close(fds[0]);
	close(fds[1]);
}

/* The fallback path loops on short writes too, without retrying send(). */
static void write_all_pipe_short_writes(void **state)
{
	int fds[2];
	uint8_t out[500], in[sizeof(out) + 1];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	mock_reset(fds[1]);
	mock.write = SHORT_ONE;
	fill_pattern(out, sizeof(out), 13);
	assert_int_equal(sl_io_write_all(fds[1], out, sizeof(out)), sizeof(out));
	assert_int_equal(mock_count(&mock.sends), 1);
	assert_int_equal(mock_count(&mock.writes), sizeof(out));
	set_flag(fds[0], O_NONBLOCK, 1);
	assert_int_equal(read(fds[0], in, sizeof(in)), sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	close(fds[0]);
	close(fds[1]);
}

static void write_all_retries_eintr(void **state)
{
	struct pair *p = *state;
	char in[16];

	mock_reset(p->sv[0]);
	mock.send = EINTR_ONCE;
	assert_int_equal(sl_io_write_all(p->sv[0], "interrupted", 11), 11);
	assert_int_equal(mock_count(&mock.sends), 2);
	assert_int_equal(drain_now(p->sv[1], in, sizeof(in)), 11);
	assert_memory_equal(in, "interrupted", 11);
}

/* A non-blocking socket with a full buffer says EAGAIN: write_all waits in
 * poll() and finishes once the reader drains. The reader starts only after
 * that poll() began, so the wait is certain, not a lucky race. */
static void write_all_waits_when_full(void **state)
{
	struct pair *p = *state;
	ssize_t n;
	size_t queued, len = 256 * 1024;
	uint8_t *out = malloc(len), *in;
	struct sink s = { .fd = p->sv[1], .gate = &mock.polls };
	pthread_t t;

	assert_non_null(out);
	set_flag(p->sv[0], O_NONBLOCK, 1);
	queued = fill_socket(p->sv[0], 1);
	s.cap = queued + len;
	in = s.buf = malloc(s.cap);
	assert_non_null(in);
	fill_pattern(out, len, 5);
	mock_reset(p->sv[0]);
	assert_int_equal(pthread_create(&t, NULL, sink_read, &s), 0);
	n = sl_io_write_all(p->sv[0], out, len);
	shutdown(p->sv[0], SHUT_WR);
	pthread_join(t, NULL);
	assert_int_equal(n, len);
	assert_true(s.gate_ok);
	assert_true(mock_count(&mock.polls) >= 1);
	assert_int_equal(s.got, queued + len);
	assert_memory_equal(in + queued, out, len);
	free(out);
	free(in);
}

/* A blocking socket with SO_SNDTIMEO says EAGAIN when the timeout runs
 * out: that is the caller's answer, not a reason to wait forever. The
 * mocked poll() fails, so a write_all that waited would say EIO, not hang. */
static void write_all_send_timeout(void **state)
{
	struct pair *p = *state;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 50 * 1000 };
	char chunk[4096] = { 0 };

	set_flag(p->sv[0], O_NONBLOCK, 1);
	fill_socket(p->sv[0], 0);
	set_flag(p->sv[0], O_NONBLOCK, 0);
	assert_int_equal(setsockopt(p->sv[0], SOL_SOCKET, SO_SNDTIMEO,
	                            &tv, sizeof(tv)), 0);
	mock_reset(p->sv[0]);
	mock.poll = FAIL_EIO;
	errno = 0;
	assert_int_equal(sl_io_write_all(p->sv[0], chunk, sizeof(chunk)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(mock_count(&mock.polls), 0);
}

/* The peer has gone: EPIPE comes back, and no SIGPIPE is raised. */
static void write_all_epipe_no_sigpipe(void **state)
{
	struct pair *p = *state;
	ssize_t n;
	int err, raised;

	close_end(p, 1);
	sigpipe_block();
	errno = 0;
	n = sl_io_write_all(p->sv[0], "gone", 4);
	err = errno;
	raised = sigpipe_raised_unblock();
	assert_int_equal(n, -1);
	assert_int_equal(err, EPIPE);
	assert_false(raised);
}

/* A real error is returned at once, not retried. */
static void write_all_real_errors(void **state)
{
	int fds[2];

	(void)state;
	errno = 0;
	assert_int_equal(sl_io_write_all(-1, "x", 1), -1);
	assert_int_equal(errno, EBADF);

	/* The read end of a pipe: send() says ENOTSOCK, then write() EBADF. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	mock_reset(fds[0]);
	errno = 0;
	assert_int_equal(sl_io_write_all(fds[0], "x", 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(mock_count(&mock.writes), 1);
	close(fds[0]);
	close(fds[1]);
}

/* ---- sl_io_read_exact ------------------------------------------------------ */

/* Fifty 3-byte writes, each sent only once the reader is inside its next
 * read(): read_exact must gather them across fifty reads. */
static void read_exact_many_small_writes(void **state)
{
	struct pair *p = *state;
	ssize_t n;
	char out[150], in[150];
	struct feeder f = { .fd = p->sv[0], .data = out, .len = sizeof(out),
	                    .piece = 3, .gate = &mock.reads };
	pthread_t t;

	fill_pattern((uint8_t *)out, sizeof(out), 17);
	mock_reset(p->sv[1]);
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	n = sl_io_read_exact(p->sv[1], in, sizeof(in));
	pthread_join(t, NULL);
	assert_int_equal(n, sizeof(in));
	assert_true(f.ok);
	assert_int_equal(mock_count(&mock.reads), 50);
	assert_memory_equal(in, out, sizeof(out));
}

/* read() returns one byte at a time although all bytes are queued. */
static void read_exact_short_reads(void **state)
{
	struct pair *p = *state;
	uint8_t out[100], in[100];

	fill_pattern(out, sizeof(out), 19);
	assert_int_equal(write(p->sv[0], out, sizeof(out)), sizeof(out));
	mock_reset(p->sv[1]);
	mock.read = SHORT_ONE;
	assert_int_equal(sl_io_read_exact(p->sv[1], in, sizeof(in)), sizeof(in));
	assert_int_equal(mock_count(&mock.reads), 100);
	assert_memory_equal(in, out, sizeof(out));
}

static void read_exact_eof_first_byte(void **state)
{
	struct pair *p = *state;
	char in[10];

	close_end(p, 0);
	assert_int_equal(sl_io_read_exact(p->sv[1], in, sizeof(in)), 0);
}

static void read_exact_eof_mid_message(void **state)
{
	struct pair *p = *state;
	char in[10];

	assert_int_equal(write(p->sv[0], "abc", 3), 3);
	close_end(p, 0);
	errno = 0;
	assert_int_equal(sl_io_read_exact(p->sv[1], in, sizeof(in)), -1);
	assert_int_equal(errno, EPROTO);
}

static void read_exact_retries_eintr(void **state)
{
	struct pair *p = *state;
	char in[5];

	assert_int_equal(write(p->sv[0], "hello", 5), 5);
	mock_reset(p->sv[1]);
	mock.read = EINTR_ONCE;
	assert_int_equal(sl_io_read_exact(p->sv[1], in, sizeof(in)), 5);
	assert_int_equal(mock_count(&mock.reads), 2);
	assert_memory_equal(in, "hello", 5);
}

/* A non-blocking fd with nothing queued: read_exact waits in poll(); the
 * bytes are written only after that poll() began. */
static void read_exact_nonblocking_waits(void **state)
{
	struct pair *p = *state;
	ssize_t n;
	char in[8];
	struct feeder f = { .fd = p->sv[0], .data = "8 bytes!", .len = 8,
	                    .piece = 8, .gate = &mock.polls };
	pthread_t t;

	set_flag(p->sv[1], O_NONBLOCK, 1);
	mock_reset(p->sv[1]);
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	n = sl_io_read_exact(p->sv[1], in, sizeof(in));
	pthread_join(t, NULL);
	assert_int_equal(n, 8);
	assert_true(f.ok);
	assert_true(mock_count(&mock.polls) >= 1);
	assert_memory_equal(in, "8 bytes!", 8);
}

/* SO_RCVTIMEO ran out on a blocking fd: EAGAIN, no poll(). */
static void read_exact_receive_timeout(void **state)
{
	struct pair *p = *state;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 50 * 1000 };
	char in[8];

	assert_int_equal(setsockopt(p->sv[1], SOL_SOCKET, SO_RCVTIMEO,
	                            &tv, sizeof(tv)), 0);
	assert_int_equal(write(p->sv[0], "ab", 2), 2);
	mock_reset(p->sv[1]);
	mock.poll = FAIL_EIO;
	errno = 0;
	assert_int_equal(sl_io_read_exact(p->sv[1], in, sizeof(in)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(mock_count(&mock.polls), 0);
}

/* A TCP peer that closes with SO_LINGER {1, 0} sends RST: the bytes it sent
 * before are read, then ECONNRESET comes back (not 0, not EPROTO). */
static void read_exact_connection_reset(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int lfd, cfd, sfd;
	char in[10];

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cfd >= 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&a, alen), 0);
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);

	assert_int_equal(send(cfd, "abc", 3, 0), 3);
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(cfd);
	memset(in, 0, sizeof(in));
	errno = 0;
	assert_int_equal(sl_io_read_exact(sfd, in, sizeof(in)), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_memory_equal(in, "abc", 3);
	close(sfd);
	close(lfd);
}

/* ---- the line reader -------------------------------------------------------- */

struct reader_fx {
	int sv[2];
	struct sl_line_reader r;
};

/* Expect the next line to be want (its length from strlen). */
static void expect_line(struct sl_line_reader *r, const char *want)
{
	char *line = NULL;
	ssize_t n = sl_line_read(r, &line);

	assert_int_equal(n, strlen(want));
	assert_non_null(line);
	assert_memory_equal(line, want, strlen(want));
}

static void expect_eof(struct sl_line_reader *r)
{
	char *line;

	assert_int_equal(sl_line_read(r, &line), 0);
	assert_int_equal(sl_line_read(r, &line), 0); /* and it stays there */
}

static void expect_error(struct sl_line_reader *r, int err)
{
	char *line;

	errno = 0;
	assert_int_equal(sl_line_read(r, &line), -1);
	assert_int_equal(errno, err);
}

static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), strlen(s));
}

static void line_init_rejects_zero(void **state)
{
	struct sl_line_reader r;

	(void)state;
	errno = 0;
	assert_int_equal(sl_line_init(&r, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(r.buf);
	errno = 0;
	assert_int_equal(sl_line_init(&r, 0, SIZE_MAX), -1);
	assert_int_equal(errno, EINVAL);
	sl_line_free(&r); /* harmless after a failed init */
	expect_error(&r, EINVAL);
}

/* Several lines arrive in one write and are served from one read(). */
static void line_several_in_one_write(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 64), 0);
	put(p->sv[0], "one\ntwo\n\nthree\n");
	mock_reset(p->sv[1]);
	expect_line(&r, "one\n");
	expect_line(&r, "two\n");
	expect_line(&r, "\n");
	expect_line(&r, "three\n");
	assert_int_equal(mock_count(&mock.reads), 1);
	close_end(p, 0);
	expect_eof(&r);
	sl_line_free(&r);
	assert_null(r.buf);
}

/* One line arrives one byte per read(): the reader assembles it. Results
 * are checked once the feeder thread has finished. */
static void line_split_over_many_writes(void **state)
{
	struct pair *p = *state;
	const char *text = "split into pieces\nnext\n";
	struct feeder f = { .fd = p->sv[0], .data = text, .len = strlen(text),
	                    .piece = 1, .gate = &mock.reads };
	struct sl_line_reader r;
	char first[32] = "", *line;
	ssize_t n1, n2;
	int reads;
	pthread_t t;

	assert_int_equal(sl_line_init(&r, p->sv[1], 64), 0);
	mock_reset(p->sv[1]);
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	n1 = sl_line_read(&r, &line);
	if (n1 > 0 && (size_t)n1 < sizeof(first))
		memcpy(first, line, (size_t)n1);
	reads = mock_count(&mock.reads);
	n2 = sl_line_read(&r, &line);
	pthread_join(t, NULL);
	assert_true(f.ok);
	assert_int_equal(n1, 18);
	assert_memory_equal(first, "split into pieces\n", 18);
	assert_int_equal(reads, 18);
	assert_int_equal(n2, 5);
	assert_memory_equal(line, "next\n", 5);
	close_end(p, 0);
	expect_eof(&r);
	sl_line_free(&r);
}

/* max 8: "1234567\n" is exactly 8 bytes and is accepted, also when it
 * arrives behind another line (the buffer must be compacted for it). */
static void line_exactly_max(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 8), 0);
	put(p->sv[0], "1234567\nab\n7654321\ncd\n");
	expect_line(&r, "1234567\n");
	expect_line(&r, "ab\n");
	expect_line(&r, "7654321\n");
	expect_line(&r, "cd\n");
	close_end(p, 0);
	expect_eof(&r);
	sl_line_free(&r);
}

/* max 8: a 9-byte line is refused, and keeps being refused. */
static void line_longer_than_max(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 8), 0);
	put(p->sv[0], "ok\n12345678\nlater\n");
	expect_line(&r, "ok\n");
	expect_error(&r, EMSGSIZE);
	expect_error(&r, EMSGSIZE);
	sl_line_free(&r);
}

static void line_last_unterminated(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 16), 0);
	put(p->sv[0], "first\nlast");
	close_end(p, 0);
	expect_line(&r, "first\n");
	expect_line(&r, "last");
	expect_eof(&r);
	sl_line_free(&r);
}

/* Without its '\n' a last line of max bytes fits; max + 1 does not. */
static void line_last_unterminated_at_max(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 8), 0);
	put(p->sv[0], "12345678");
	close_end(p, 0);
	expect_line(&r, "12345678");
	expect_eof(&r);
	sl_line_free(&r);
}

static void line_last_unterminated_too_long(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 8), 0);
	put(p->sv[0], "123456789");
	close_end(p, 0);
	expect_error(&r, EMSGSIZE);
	sl_line_free(&r);
}

static void line_empty_lines_and_stream(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;
	int fds[2];

	assert_int_equal(sl_line_init(&r, p->sv[1], 4), 0);
	put(p->sv[0], "\n\n\n");
	close_end(p, 0);
	expect_line(&r, "\n");
	expect_line(&r, "\n");
	expect_line(&r, "\n");
	expect_eof(&r);
	sl_line_free(&r);

	/* A stream with no bytes at all: EOF at once. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[1]);
	assert_int_equal(sl_line_init(&r, fds[0], 4), 0);
	expect_eof(&r);
	sl_line_free(&r);
	close(fds[0]);
}

/* On a non-blocking fd EAGAIN comes back with the partial line kept. */
static void line_nonblocking_keeps_partial(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	set_flag(p->sv[1], O_NONBLOCK, 1);
	assert_int_equal(sl_line_init(&r, p->sv[1], 32), 0);
	expect_error(&r, EAGAIN);
	put(p->sv[0], "hel");
	expect_error(&r, EAGAIN);
	assert_int_equal(r.end - r.start, 3);
	put(p->sv[0], "lo");
	expect_error(&r, EAGAIN);
	put(p->sv[0], "\nnext");
	expect_line(&r, "hello\n");
	expect_error(&r, EAGAIN);
	close_end(p, 0);
	expect_line(&r, "next");
	expect_eof(&r);
	sl_line_free(&r);
}

static void line_retries_eintr(void **state)
{
	struct pair *p = *state;
	struct sl_line_reader r;

	assert_int_equal(sl_line_init(&r, p->sv[1], 32), 0);
	put(p->sv[0], "after signal\n");
	mock_reset(p->sv[1]);
	mock.read = EINTR_ONCE;
	expect_line(&r, "after signal\n");
	assert_int_equal(mock_count(&mock.reads), 2);
	sl_line_free(&r);
}

static void line_read_error(void **state)
{
	struct sl_line_reader r;

	(void)state;
	assert_int_equal(sl_line_init(&r, -1, 8), 0);
	expect_error(&r, EBADF);
	sl_line_free(&r);
}

/* Two readers on two fds, each in its own thread, while two writers send
 * different lines in chunks that cut lines anywhere. Shared state in the
 * reader would mix the streams up. */
#define THREAD_LINES 20000

struct stream {
	int sv[2];
	char tag;
	int ok_lines; /* lines that matched, in order */
	int write_bad; /* the writer thread failed */
	int read_bad;  /* a mismatch, or an error before EOF */
};

static int expected_line(char *buf, size_t size, char tag, int i)
{
	int width = i % 20 + 1;

	return snprintf(buf, size, "%c%*d\n", tag, width, i);
}

static void *stream_write(void *arg)
{
	struct stream *s = arg;
	char chunk[4093]; /* prime-sized, so chunks end mid-line */
	size_t used = 0;

	for (int i = 0; i < THREAD_LINES; i++) {
		char line[64];
		int n = expected_line(line, sizeof(line), s->tag, i);

		for (int j = 0; j < n; j++) {
			chunk[used++] = line[j];
			if (used == sizeof(chunk)) {
				if (sl_io_write_all(s->sv[0], chunk, used) < 0)
					s->write_bad = 1;
				used = 0;
			}
		}
	}
	if (sl_io_write_all(s->sv[0], chunk, used) < 0)
		s->write_bad = 1;
	shutdown(s->sv[0], SHUT_WR);
	return NULL;
}

static void *stream_read(void *arg)
{
	struct stream *s = arg;
	struct sl_line_reader r;
	char want[64], *line;
	ssize_t n;

	if (sl_line_init(&r, s->sv[1], 32) < 0) {
		s->read_bad = 1;
		return NULL;
	}
	while ((n = sl_line_read(&r, &line)) > 0) {
		int wlen = expected_line(want, sizeof(want), s->tag, s->ok_lines);

		if (n != wlen || memcmp(line, want, (size_t)wlen) != 0) {
			s->read_bad = 1;
			break;
		}
		s->ok_lines++;
	}
	if (n < 0)
		s->read_bad = 1;
	sl_line_free(&r);
	/* Should the reader stop early, a writer blocked on a full buffer
	 * gets EPIPE instead of waiting for ever. */
	shutdown(s->sv[1], SHUT_RD);
	return NULL;
}

static void line_two_readers_two_threads(void **state)
{
	struct stream s[2] = { { .tag = 'a' }, { .tag = 'b' } };
	pthread_t w[2], rd[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		                            0, s[i].sv), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&rd[i], NULL, stream_read, &s[i]), 0);
		assert_int_equal(pthread_create(&w[i], NULL, stream_write, &s[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i], NULL);
		pthread_join(rd[i], NULL);
		close(s[i].sv[0]);
		close(s[i].sv[1]);
	}
	for (int i = 0; i < 2; i++) {
		assert_false(s[i].write_bad);
		assert_false(s[i].read_bad);
		assert_int_equal(s[i].ok_lines, THREAD_LINES);
	}
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(write_all_1mib_round_trip),
		PAIR_TEST(write_all_short_sends),
		PAIR_TEST(write_all_pipe_fallback),
		PAIR_TEST(write_all_pipe_short_writes),
		PAIR_TEST(write_all_retries_eintr),
		PAIR_TEST(write_all_waits_when_full),
		PAIR_TEST(write_all_send_timeout),
		PAIR_TEST(write_all_epipe_no_sigpipe),
		PAIR_TEST(write_all_real_errors),
		PAIR_TEST(read_exact_many_small_writes),
		PAIR_TEST(read_exact_short_reads),
		PAIR_TEST(read_exact_eof_first_byte),
		PAIR_TEST(read_exact_eof_mid_message),
		PAIR_TEST(read_exact_retries_eintr),
		PAIR_TEST(read_exact_nonblocking_waits),
		PAIR_TEST(read_exact_receive_timeout),
		PAIR_TEST(read_exact_connection_reset),
		PAIR_TEST(line_init_rejects_zero),
		PAIR_TEST(line_several_in_one_write),
		PAIR_TEST(line_split_over_many_writes),
		PAIR_TEST(line_exactly_max),
		PAIR_TEST(line_longer_than_max),
		PAIR_TEST(line_last_unterminated),
		PAIR_TEST(line_last_unterminated_at_max),
		PAIR_TEST(line_last_unterminated_too_long),
		PAIR_TEST(line_empty_lines_and_stream),
		PAIR_TEST(line_nonblocking_keeps_partial),
		PAIR_TEST(line_retries_eintr),
		PAIR_TEST(line_read_error),
		PAIR_TEST(line_two_readers_two_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
