/* harness.h — start real lesson programs and tools, talk to them, and stop
 * them, with a deadline on everything so a test fails instead of hanging.
 *
 * Programs are found under build/ (SOCKLAB_BUILD overrides the folder).
 * With SOCKLAB_VALGRIND=1 every lesson program is run under valgrind,
 * which fails the program (exit 99) on a leak, a memory error or an fd left
 * open at exit.
 */
#ifndef SOCKLAB_HARNESS_H
#define SOCKLAB_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#define H_PORTSTRLEN 8

struct h_proc {
	pid_t pid;
	int in;              /* write end of the child's stdin, or -1 */
	int out;             /* read end of the child's stdout */
	int err;             /* read end of the child's stderr */
	char port[H_PORTSTRLEN]; /* from "listening on ...:PORT" */
	char addr[128];          /* the whole address after "listening on " */
	char outbuf[65536];  /* stdout read so far (NUL-terminated) */
	size_t outlen;
	char errbuf[16384];  /* stderr read so far (NUL-terminated) */
	size_t errlen;
	int status;          /* wait status once reaped, else -1 */
	int killed;          /* h_stop() sent it SIGKILL: the harness ended it */
};

/* Path of a built lesson program: h_lesson("02-tcp-echo", "server"). */
const char *h_lesson(const char *lesson, const char *prog);

/* Start argv[0] (a path or a name on PATH) with stdin/stdout/stderr piped.
 * The test process ignores SIGPIPE from then on: a child that exits while
 * we write to its stdin must fail the write, not kill the test.
 * Lesson programs (paths under the build folder) run under valgrind when
 * SOCKLAB_VALGRIND=1. Returns 0, or -1 with errno. */
int h_start(struct h_proc *p, char *const argv[]);

/* Wait until the program prints "listening on ADDR:PORT" (or a Unix path or
 * @name, which has no port: p->port is then empty); fills p->addr and
 * p->port. Returns 0, or -1 if it exited or the deadline passed. */
int h_wait_listening(struct h_proc *p, int timeout_ms);

/* Read stdout/stderr until needle appears in stdout (stream "out") or in
 * stderr ("err"), the program exits, or the deadline passes. Returns 0
 * when found. */
int h_wait_output(struct h_proc *p, const char *stream, const char *needle,
                  int timeout_ms);

/* Write to the child's stdin (all of it), or close it (EOF) with len 0
 * and data NULL. Returns 0 or -1. */
int h_feed(struct h_proc *p, const void *data, size_t len);

/* How many times needle occurs in s (overlapping occurrences count). */
int h_count(const char *s, const char *needle);

/* Read stdout/stderr until needle has appeared n times in stdout (stream
 * "out") or in stderr ("err"), or the deadline passes. Returns 0 when it
 * has, else -1 (at the deadline, even if the program exited before). */
int h_wait_count(struct h_proc *p, const char *stream, const char *needle, int n,
                 int timeout_ms);

/* What the program itself wrote to stderr so far: valgrind's own lines
 * ("==PID== ...") are left out. Written to buf (size bytes, NUL-terminated,
 * cut if too small; sizeof(p->errbuf) always fits) and returns buf. */
const char *h_own_stderr(const struct h_proc *p, char *buf, size_t size);

/* Wait for the program to exit by itself, collecting its output. Returns
 * its exit code (0..255), 128+signal if killed by one, or -1 on deadline
 * (the program is then killed). */
int h_wait_exit(struct h_proc *p, int timeout_ms);

/* Send sig, then wait as h_wait_exit does; SIGKILL after the deadline. */
int h_stop(struct h_proc *p, int sig, int timeout_ms);

/* Run a program to completion with input on stdin; returns the exit code as
 * h_wait_exit does, output in p. */
int h_run(struct h_proc *p, char *const argv[], const void *input,
          size_t inlen, int timeout_ms);

/* A lesson's command line: each program of progs answers -h with
 * "usage: NAME " on stdout and exit 0, and each row of bad (a program's
 * name, then up to three arguments, NULL after the last) exits 2 with the
 * "-h' for help" hint on stderr and nothing on stdout. Returns NULL, or
 * (in a static buffer) what the first program that did otherwise did. */
const char *h_check_usage(struct h_proc *p, const char *lesson,
                          const char *const progs[], size_t nprogs,
                          char *const bad[][4], size_t nbad, int timeout_ms);

/* A TCP connection to 127.0.0.1:port with a connect deadline, and blocking
 * reads/writes bounded by SO_RCVTIMEO/SO_SNDTIMEO of timeout_ms (stretched
 * under valgrind, as every harness deadline is). */
int h_connect(const char *port, int timeout_ms);

/* Poll until pred(arg) returns non-zero or the deadline passes; returns 1 if
 * it came true. For conditions the kernel reports (ss output, /proc). */
int h_poll_until(int (*pred)(void *), void *arg, int timeout_ms);

/* Number of open fds of a process (from /proc/PID/fd), or -1. */
int h_count_fds(pid_t pid);

/* Fill buf with len pseudo-random bytes from a fixed seed (reproducible). */
void h_random_bytes(void *buf, size_t len, unsigned seed);

/* True when lesson programs run under valgrind (SOCKLAB_VALGRIND=1). */
int h_under_valgrind(void);

/* A deadline stretched for valgrind, which runs programs ~20x slower: the
 * harness's own waits use it; tests' own waits should too. */
int h_scaled(int timeout_ms);

/* Milliseconds on the monotonic clock. */
long long h_now_ms(void);

/* True when a program is on PATH. */
int h_have(const char *prog);

/* Read len bytes from fd, or fewer if it ends, fails or is silent until
 * timeout_ms (stretched for valgrind) passes; returns the count read. */
ssize_t h_recv_n(int fd, void *buf, size_t len, int timeout_ms);

/* Make fd non-blocking and send filler on it without reading, until
 * nothing is taken for stall_ms (stretched for valgrind) or cap bytes
 * are sent. Returns the bytes sent, or (size_t)-1 when fcntl() or send()
 * failed otherwise. */
size_t h_push_until_stalled(int fd, size_t cap, int stall_ms);

/* Read and count bytes from fd until want have come, it ends or fails, or
 * timeout_ms (stretched for valgrind) passes; returns the count. */
size_t h_drain(int fd, size_t want, int timeout_ms);

/* ---- what a failing check tells the student ----
 * socklab check sets SOCKLAB_FEEDBACK to a folder: the harness then keeps
 * there what each lesson program printed and how it was started, and the
 * check shows it with a command that reproduces the test by hand. */

/* How a person would drive p by hand, as one shell command: "PORT" in it
 * stands for p's port, e.g. "nc -N 127.0.0.1 PORT < in.bin". */
void h_repro(const struct h_proc *p, const char *command);

/* NULL when got (gotlen bytes) is what was sent; else, in words, how they
 * differ: both sizes, the offset of the first difference, and up to 200
 * bytes of each side around it, escaped (a static buffer). */
const char *h_bytes_differ(const void *sent, size_t sentlen, const void *got,
                           size_t gotlen);

/* Fail the test unless got is exactly what was sent, saying where not
 * (printed whole first: cmocka cuts its own messages at 1 KiB). */
#define H_ASSERT_SAME_BYTES(sent, sentlen, got, gotlen) do { \
		const char *h_why_ = h_bytes_differ((sent), (sentlen), (got), (gotlen)); \
		if (h_why_ != NULL) { \
			printf("%s\n", h_why_); \
			fflush(stdout); \
			fail_msg("the bytes that came back differ from those sent (above)"); \
		} \
	} while (0)

/* ---- several clients at once, a client that never reads, the server's
 * CPU and fd limits ----
 * h_three_side_by_side and h_connect_small_buffers stretch their timeout
 * for valgrind themselves, as h_connect does; h_push_pattern,
 * h_pattern_back and h_cpu_used_over take their times as given (pass
 * h_scaled(...) where valgrind should get longer). */

/* Fails the test unless text sent on fd comes back (client: 1, 2, 3 for
 * the message). */
typedef void (*h_echo_check_fn)(struct h_proc *srv, int fd, const char *text, int client);

/* Three clients of an event-driven server, served side by side: the last
 * to connect is answered first, they take turns, one leaves and the two
 * others are still served; the server then says " disconnected (" three
 * times. fds[3] gets the sockets (each -1 again once closed, so a
 * fixture may close what a failed check left). Returns 0, or -1 when a
 * client could not connect or the three disconnections were not said in
 * time. */
int h_three_side_by_side(struct h_proc *srv, h_echo_check_fn echoed, int fds[3], int timeout_ms);

/* Called while a test waits on its own sockets (e.g. to read a server's
 * output so it never blocks on a full pipe); ms: at most this long. */
typedef void (*h_idle_fn)(void *arg, int ms);

/* An h_idle_fn that reads the h_proc *arg's stdout and stderr for up to
 * ms (as given: not stretched for valgrind). */
void h_idle_read_output(void *proc, int ms);

/* Byte off of the test stream: a pattern with a period (251) that no
 * buffer size divides, so a lost or repeated block shows; each period
 * ends in '\n', so a line-based server gets lines it can hold. */
unsigned char h_pattern_byte(size_t off);

/* Send the pattern on fd (non-blocking sends) and never read, until
 * nothing more is taken for stall_ms, or cap bytes are sent, or limit_ms
 * passes; idle(arg) runs while fd is full. Returns the bytes sent, or
 * (size_t)-1 when send() failed (errno says why). */
size_t h_push_pattern(int fd, size_t cap, int stall_ms, int limit_ms,
                      h_idle_fn idle, void *arg);

/* Half-close fd, then read back: total bytes of the pattern, in order,
 * then end of file, within timeout_ms; idle(arg) runs between reads.
 * Returns NULL, or what went wrong (a static string). */
const char *h_pattern_back(int fd, size_t total, int timeout_ms, h_idle_fn idle, void *arg);

/* A connection to 127.0.0.1:port with fixed SO_SNDBUF and SO_RCVBUF of
 * size bytes (no autotuning), or -1. */
int h_connect_small_buffers(const char *port, int size, int timeout_ms);

/* CPU time (user + system) of a process so far, in ms, or -1. */
long long h_cpu_ms(pid_t pid);

/* The CPU ms pid uses over the next window_ms (idle(arg) runs
 * meanwhile), or -1: a server with nothing to do must use next to none. */
long long h_cpu_used_over(pid_t pid, int window_ms, h_idle_fn idle, void *arg);

/* The RLIMIT_NOFILE that leaves a process exactly room free descriptors:
 * one more than its room-th free number (it may hold stray ones above
 * it); -1 when none is found below 4096. */
int h_fd_limit_leaving(pid_t pid, int room);

#endif
