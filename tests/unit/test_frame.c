// WRAP: send sendmsg write writev
/* test_frame.c — length-prefix framing: the pure encoder and decoder, and
 * sl_frame_write / sl_frame_read over real sockets and pipes.
 *
 * The wrapped calls exist for one fault a real socket will not produce on
 * demand: a 1-byte short write. They script only the fd in mock.fd and
 * count its calls; everything else goes to the real function.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

/* ---- the mock ------------------------------------------------------------ */

static struct {
	pthread_mutex_t mu;
	int fd;        /* the only fd whose calls are scripted and counted */
	int short_one; /* move at most one byte per call */
	int calls;     /* send, sendmsg, write and writev calls on fd */
} mock = { PTHREAD_MUTEX_INITIALIZER, -1, 0, 0 };

static void mock_reset(int fd, int short_one)
{
	pthread_mutex_lock(&mock.mu);
	mock.fd = fd;
	mock.short_one = short_one;
	mock.calls = 0;
	pthread_mutex_unlock(&mock.mu);
}

/* Count a call on fd; true when it must be cut to one byte. */
static int mock_enter(int fd)
{
	int cut = 0;

	pthread_mutex_lock(&mock.mu);
	if (fd == mock.fd) {
		mock.calls++;
		cut = mock.short_one;
	}
	pthread_mutex_unlock(&mock.mu);
	return cut;
}

static int mock_calls(void)
{
	int n;

	pthread_mutex_lock(&mock.mu);
	n = mock.calls;
	pthread_mutex_unlock(&mock.mu);
	return n;
}

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __real_writev(int fd, const struct iovec *iov, int iovcnt);

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt);

/* The first byte of a gather list, as a one-byte list (count 0 if empty). */
static int first_byte(const struct iovec *iov, size_t cnt, struct iovec *one)
{
	for (size_t i = 0; i < cnt; i++) {
		if (iov[i].iov_len > 0) {
			one->iov_base = iov[i].iov_base;
			one->iov_len = 1;
			return 1;
		}
	}
	return 0;
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
	if (mock_enter(fd) && len > 1)
		len = 1;
	return __real_send(fd, buf, len, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr cut;
	struct iovec one;

	if (!mock_enter(fd))
		return __real_sendmsg(fd, msg, flags);
	cut = *msg;
	cut.msg_iov = &one;
	cut.msg_iovlen = (size_t)first_byte(msg->msg_iov, msg->msg_iovlen, &one);
	return __real_sendmsg(fd, &cut, flags);
}

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	if (mock_enter(fd) && len > 1)
		len = 1;
	return __real_write(fd, buf, len);
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct iovec one;

	if (!mock_enter(fd) || iovcnt < 0)
		return __real_writev(fd, iov, iovcnt);
	return __real_writev(fd, &one, first_byte(iov, (size_t)iovcnt, &one));
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
	mock_reset(-1, 0);
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	mock_reset(-1, 0);
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

/* A frame built by hand: 4-byte big-endian length, then payload. */
static size_t make_frame(uint8_t *out, const void *payload, uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memcpy(out + 4, payload, len);
	return 4 + (size_t)len;
}

/* ---- encode and decode ------------------------------------------------------ */

static void encode_big_endian(void **state)
{
	uint8_t hdr[SL_FRAME_HDR];
	const uint8_t want1[] = { 0x01, 0x02, 0x03, 0x04 };
	const uint8_t want2[] = { 0xff, 0xff, 0xff, 0xff };

	(void)state;
	assert_int_equal(sl_frame_encode(hdr, 0x01020304), 0);
	assert_memory_equal(hdr, want1, 4);
	assert_int_equal(sl_frame_encode(hdr, SL_FRAME_MAX), 0);
	assert_memory_equal(hdr, want2, 4);
#if SIZE_MAX > UINT32_MAX
	errno = 0;
	assert_int_equal(sl_frame_encode(hdr, (size_t)SL_FRAME_MAX + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
#endif
}

static void encode_decode_round_trip(void **state)
{
	uint8_t buf[64];
	const uint8_t *payload = NULL;
	size_t plen = 0;

	(void)state;
	assert_int_equal(sl_frame_encode(buf, 5), 0);
	memcpy(buf + 4, "hello", 5);
	assert_int_equal(sl_frame_decode(buf, 9, 100, &payload, &plen), 9);
	assert_ptr_equal(payload, buf + 4);
	assert_int_equal(plen, 5);
	assert_memory_equal(payload, "hello", 5);
	/* Bytes after the frame are not its business. */
	assert_int_equal(sl_frame_decode(buf, sizeof(buf), 100, &payload, &plen), 9);
}

/* Fewer than 4 bytes: not even the header yet, whatever it would say. */
static void decode_short_header(void **state)
{
	const uint8_t big[] = { 0xff, 0xff, 0xff, 0xff };
	uint8_t buf[16];
	const uint8_t *payload;
	size_t plen;

	(void)state;
	make_frame(buf, "abc", 3);
	for (size_t len = 0; len < SL_FRAME_HDR; len++) {
		assert_int_equal(sl_frame_decode(buf, len, 100, &payload, &plen), 0);
		assert_int_equal(sl_frame_decode(big, len, 100, &payload, &plen), 0);
	}
}

static void decode_partial_payload(void **state)
{
	uint8_t buf[32];
	const uint8_t *payload;
	size_t plen, total = make_frame(buf, "0123456789", 10);

	(void)state;
	for (size_t len = SL_FRAME_HDR; len < total; len++)
		assert_int_equal(sl_frame_decode(buf, len, 100, &payload, &plen), 0);
	assert_int_equal(sl_frame_decode(buf, total, 100, &payload, &plen), total);
	assert_int_equal(plen, 10);
}

/* Two frames and the start of a third in one buffer, as a read() may
 * return them: each is found in turn, then "need more". */
static void decode_back_to_back(void **state)
{
	uint8_t buf[64];
	const uint8_t *payload;
	size_t plen, len = 0, off = 0;
	ssize_t n;

	(void)state;
	len += make_frame(buf + len, "first", 5);
	len += make_frame(buf + len, "", 0);
	len += make_frame(buf + len, "second", 6);
	len += make_frame(buf + len, "third", 5) - 2;

	n = sl_frame_decode(buf + off, len - off, 100, &payload, &plen);
	assert_int_equal(n, 9);
	assert_int_equal(plen, 5);
	assert_memory_equal(payload, "first", 5);
	off += (size_t)n;
	n = sl_frame_decode(buf + off, len - off, 100, &payload, &plen);
	assert_int_equal(n, 4);
	assert_int_equal(plen, 0);
	off += (size_t)n;
	n = sl_frame_decode(buf + off, len - off, 100, &payload, &plen);
	assert_int_equal(n, 10);
	assert_int_equal(plen, 6);
	assert_memory_equal(payload, "second", 6);
	off += (size_t)n;
	assert_int_equal(sl_frame_decode(buf + off, len - off, 100, &payload, &plen), 0);
}

/* A header announcing more than max is refused as soon as it is complete,
 * before any payload; exactly max is fine. */
static void decode_too_big(void **state)
{
	uint8_t buf[SL_FRAME_HDR];
	const uint8_t *payload;
	size_t plen;

	(void)state;
	assert_int_equal(sl_frame_encode(buf, 101), 0);
	errno = 0;
	assert_int_equal(sl_frame_decode(buf, sizeof(buf), 100, &payload, &plen), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(sl_frame_encode(buf, 100), 0);
	assert_int_equal(sl_frame_decode(buf, sizeof(buf), 100, &payload, &plen), 0);
	assert_int_equal(sl_frame_encode(buf, 1), 0);
	errno = 0;
	assert_int_equal(sl_frame_decode(buf, sizeof(buf), 0, &payload, &plen), -1);
	assert_int_equal(errno, EMSGSIZE);
}

static void decode_zero_length(void **state)
{
	const uint8_t buf[] = { 0, 0, 0, 0 };
	const uint8_t *payload = NULL;
	size_t plen = 99;

	(void)state;
	assert_int_equal(sl_frame_decode(buf, sizeof(buf), 0, &payload, &plen), 4);
	assert_int_equal(plen, 0);
	assert_ptr_equal(payload, buf + 4);
}

/* Every prefix of a frame, each copied into a heap block of exactly that
 * size: a read past len is an ASan or valgrind error, not a silent pass. */
static void decode_stays_within_len(void **state)
{
	uint8_t frame[32];
	size_t total = make_frame(frame, "bounded payload", 15);

	(void)state;
	for (size_t len = 0; len <= total; len++) {
		uint8_t *exact = malloc(len);
		const uint8_t *payload;
		size_t plen;

		if (exact == NULL) /* malloc(0) may say NULL; nothing to read */
			continue;
		memcpy(exact, frame, len);
		assert_int_equal(sl_frame_decode(exact, len, 100, &payload, &plen),
		                 len == total ? (ssize_t)total : 0);
		free(exact);
	}
}

/* ---- write and read ------------------------------------------------------- */

/* The bytes on the wire are exactly header + payload. */
static void write_wire_format(void **state)
{
	struct pair *p = *state;
	const uint8_t want[] = { 0, 0, 0, 3, 'a', 'b', 'c' };
	uint8_t in[16];

	assert_int_equal(sl_frame_write(p->sv[0], "abc", 3), 3);
	assert_int_equal(drain_now(p->sv[1], in, sizeof(in)), sizeof(want));
	assert_memory_equal(in, want, sizeof(want));
}

static void write_read_several(void **state)
{
	struct pair *p = *state;
	const size_t sizes[] = { 0, 1, 5, 1000, 0, 3 };
	uint8_t out[1000], in[1000];
	size_t k = sizeof(sizes) / sizeof(sizes[0]);

	for (size_t i = 0; i < k; i++) {
		fill_pattern(out, sizes[i], (unsigned)i);
		assert_int_equal(sl_frame_write(p->sv[0], sizes[i] ? out : NULL,
		                                sizes[i]), sizes[i]);
	}
	for (size_t i = 0; i < k; i++) {
		fill_pattern(out, sizes[i], (unsigned)i);
		assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), sizes[i]);
		assert_memory_equal(in, out, sizes[i]);
	}
}

struct frame_writer {
	int fd;
	const uint8_t *payload;
	size_t len;
	ssize_t result;
};

static void *write_frame_thread(void *arg)
{
	struct frame_writer *w = arg;

	w->result = sl_frame_write(w->fd, w->payload, w->len);
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* 1 MiB: far more than the socket buffer holds, so both sides loop. */
static void write_read_1mib(void **state)
{
	struct pair *p = *state;
	size_t len = 1u << 20;
	uint8_t *out = malloc(len), *in = malloc(len), extra[16];
	struct frame_writer w = { .fd = p->sv[0], .payload = out, .len = len };
	ssize_t first, second;
	int err;
	pthread_t t;

	assert_non_null(out);
	assert_non_null(in);
	fill_pattern(out, len, 9);
	assert_int_equal(pthread_create(&t, NULL, write_frame_thread, &w), 0);
	first = sl_frame_read(p->sv[1], in, len);
	/* The writer shut down after the frame: a clean end. */
	errno = 0;
	second = sl_frame_read(p->sv[1], extra, sizeof(extra));
	err = errno;
	/* Should a read stop early, the blocked writer gets EPIPE, not a hang. */
	shutdown(p->sv[1], SHUT_RD);
	pthread_join(t, NULL);
	assert_int_equal(first, len);
	assert_int_equal(w.result, len);
	assert_memory_equal(in, out, len);
	assert_int_equal(second, -1);
	assert_int_equal(err, ENODATA);
	free(out);
	free(in);
}

/* cap 9 and a 10-byte frame: EMSGSIZE, and the payload is still queued. */
static void read_cap_too_small(void **state)
{
	struct pair *p = *state;
	uint8_t in[16];

	assert_int_equal(sl_frame_write(p->sv[0], "0123456789", 10), 10);
	errno = 0;
	assert_int_equal(sl_frame_read(p->sv[1], in, 9), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(drain_now(p->sv[1], in, sizeof(in)), 10);
	assert_memory_equal(in, "0123456789", 10);

	/* cap exactly the payload is enough. */
	assert_int_equal(sl_frame_write(p->sv[0], "0123456789", 10), 10);
	assert_int_equal(sl_frame_read(p->sv[1], in, 10), 10);
}

static void read_eof_mid_header(void **state)
{
	struct pair *p = *state;
	uint8_t in[16];

	assert_int_equal(write(p->sv[0], "\0\0", 2), 2);
	close_end(p, 0);
	errno = 0;
	assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), -1);
	assert_int_equal(errno, EPROTO);
}

static void read_eof_mid_payload(void **state)
{
	struct pair *p = *state;
	uint8_t frame[16], in[16];

	make_frame(frame, "0123456789", 10);
	assert_int_equal(write(p->sv[0], frame, 4 + 3), 4 + 3);
	close_end(p, 0);
	errno = 0;
	assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), -1);
	assert_int_equal(errno, EPROTO);
}

/* The header arrives whole, then the peer closes before any payload byte. */
static void read_eof_after_header(void **state)
{
	struct pair *p = *state;
	uint8_t frame[16], in[16];

	make_frame(frame, "0123456789", 10);
	assert_int_equal(write(p->sv[0], frame, 4), 4);
	close_end(p, 0);
	errno = 0;
	assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), -1);
	assert_int_equal(errno, EPROTO);
}

static void read_clean_eof(void **state)
{
	struct pair *p = *state;
	uint8_t in[16];

	assert_int_equal(sl_frame_write(p->sv[0], "last", 4), 4);
	close_end(p, 0);
	assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), 4);
	assert_memory_equal(in, "last", 4);
	errno = 0;
	assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), -1);
	assert_int_equal(errno, ENODATA);
}

/* Every send moves one byte: the frame still arrives whole, and it took
 * one call per byte (the loop really ran through header and payload). */
static void write_short_writes(void **state)
{
	struct pair *p = *state;
	uint8_t out[60], in[60];

	fill_pattern(out, sizeof(out), 21);
	mock_reset(p->sv[0], 1);
	assert_int_equal(sl_frame_write(p->sv[0], out, sizeof(out)), sizeof(out));
	assert_int_equal(mock_calls(), SL_FRAME_HDR + sizeof(out));
	assert_int_equal(sl_frame_read(p->sv[1], in, sizeof(in)), sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
}

/* Not a socket: a pipe, whole and then one byte per write. */
static void write_to_pipe(void **state)
{
	int fds[2];
	uint8_t out[300], in[300];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	fill_pattern(out, sizeof(out), 23);
	assert_int_equal(sl_frame_write(fds[1], out, sizeof(out)), sizeof(out));
	assert_int_equal(sl_frame_read(fds[0], in, sizeof(in)), sizeof(out));
	assert_memory_equal(in, out, sizeof(out));

	mock_reset(fds[1], 1);
	assert_int_equal(sl_frame_write(fds[1], out, 100), 100);
	/* At least one call per byte (plus the sends that said ENOTSOCK). */
	assert_true(mock_calls() >= (int)SL_FRAME_HDR + 100);
	assert_int_equal(sl_frame_read(fds[0], in, sizeof(in)), 100);
	assert_memory_equal(in, out, 100);
	close(fds[0]);
	close(fds[1]);
}

/* A closed peer: EPIPE, and no SIGPIPE raised. */
static void write_epipe_no_sigpipe(void **state)
{
	struct pair *p = *state;
	struct timespec zero = { 0, 0 };
	sigset_t set, old, pending;
	ssize_t n;
	int err, raised;

	close_end(p, 1);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	errno = 0;
	n = sl_frame_write(p->sv[0], "gone", 4);
	err = errno;
	sigpending(&pending);
	raised = sigismember(&pending, SIGPIPE);
	if (raised)
		sigtimedwait(&set, NULL, &zero); /* discard it before unblocking */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(n, -1);
	assert_int_equal(err, EPIPE);
	assert_false(raised);
}

/* A payload the header cannot announce is refused before anything is sent
 * (the buffer is never read, so a small one stands in). */
static void write_too_big(void **state)
{
#if SIZE_MAX > UINT32_MAX
	struct pair *p = *state;
	uint8_t in[8];

	errno = 0;
	assert_int_equal(sl_frame_write(p->sv[0], "x", (size_t)SL_FRAME_MAX + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(drain_now(p->sv[1], in, sizeof(in)), 0);
#else
	(void)state;
	skip();
#endif
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_big_endian),
		cmocka_unit_test(encode_decode_round_trip),
		cmocka_unit_test(decode_short_header),
		cmocka_unit_test(decode_partial_payload),
		cmocka_unit_test(decode_back_to_back),
		cmocka_unit_test(decode_too_big),
		cmocka_unit_test(decode_zero_length),
		cmocka_unit_test(decode_stays_within_len),
		PAIR_TEST(write_wire_format),
		PAIR_TEST(write_read_several),
		PAIR_TEST(write_read_1mib),
		PAIR_TEST(read_cap_too_small),
		PAIR_TEST(read_eof_mid_header),
		PAIR_TEST(read_eof_mid_payload),
		PAIR_TEST(read_eof_after_header),
		PAIR_TEST(read_clean_eof),
		PAIR_TEST(write_short_writes),
		PAIR_TEST(write_to_pipe),
		PAIR_TEST(write_epipe_no_sigpipe),
		PAIR_TEST(write_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
