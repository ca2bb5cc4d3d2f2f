/* conn.c — the shim's connection to the visualizer.
 *
 * One SOCK_SEQPACKET connection per process to the path in SOCKLAB_TRACE
 * ("@name" for the abstract namespace), opened on the first traced call,
 * close-on-exec, moved to fd 900 or above so it stays out of the way of the
 * program's own fds. A forked child closes its copy of the parent's
 * connection and opens its own on its first traced call.
 *
 * Free-run: every send is MSG_DONTWAIT; an event the visualizer has no room
 * for is counted, and the count travels in the next event that gets
 * through ("dropped=N"). A call's before event alone waits for room, up to
 * BEFORE_WAIT_MS: it may be the last event of a process that then blocks
 * in the call for ever (a server stuck in send()), and if it were dropped
 * no later event would carry the news, so the visualizer would show the
 * process still in its previous call. A visualizer that lets one such wait
 * run out is taken as stalled: no event waits again until one gets
 * through, so a visualizer that stopped reading costs a program one wait,
 * not one per call. Step mode (SOCKLAB_STEP=1, or "v1 ctl=step" from
 * the visualizer): before each call the shim sends the before event and
 * waits for "go" (or "run"). Control messages are read only while holding
 * step_lock, so exactly one thread at a time waits at the gate and a "go"
 * always releases the call the visualizer last saw announced.
 *
 * When the visualizer goes away (EOF, a reset, any send error other than
 * a full buffer) the process carries on untraced. The fd is then kept, not
 * closed: another thread may be about to send on it, and a closed number
 * could be reused by the program, which must never receive an event.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "trace.h"

/* The shim's fd is moved to this number or above. */
#define SHIM_FD_BASE 900

enum { UNTRIED, UP, GONE };

static struct sockaddr_un vis_addr;
static socklen_t vis_len;

/* Shared state; every access is atomic. */
static int state = UNTRIED;
static int conn_fd = -1;
static int step_mode;
static unsigned long long next_seq;
static unsigned long long dropped;
static int stalled;   /* a bounded wait ran out; none since got through */
static int pid_cache;
static __thread int tid_cache __attribute__((tls_model("initial-exec")));

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static char exe[SL_EVENT_PATH_LEN];  /* written once, under conn_lock */
static int exe_read;

#define LOAD(v) __atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#define STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELEASE)

/* ---- enabling, fork --------------------------------------------------------- */

/* In the child of fork(): the connection belongs to the parent. Start
 * afresh; the child connects on its own first traced call. The locks may
 * have been held by threads that do not exist in the child. */
static void child_after_fork(void)
{
	int fd = LOAD(conn_fd);

	pthread_mutex_init(&conn_lock, NULL);
	pthread_mutex_init(&step_lock, NULL);
	if (fd >= 0)
		REAL(close)(fd);
	STORE(conn_fd, -1);
	STORE(dropped, 0ULL);
	STORE(stalled, 0);
	STORE(pid_cache, (int)getpid());
	tid_cache = 0;
	STORE(state, UNTRIED);
}

/* SOCKLAB_TRACE names the visualizer's socket: SL_ON_TRACE, or 0. */
int sl_conn_setup(const char *path, const char *step)
{
	/* A path, or "@NAME" in the abstract namespace. */
	if (path == NULL || sl_unix_addr(path, &vis_addr, &vis_len) < 0)
		return 0;
	STORE(step_mode, step != NULL && strcmp(step, "1") == 0);
	return SL_ON_TRACE;
}

void sl_conn_prepare(void)
{
	STORE(pid_cache, (int)getpid());
	/* Look up close now: the fork handler must not call dlsym, whose
	 * lock another thread may have held at the moment of fork. */
	(void)sl_real(R_close);
	pthread_atfork(NULL, NULL, child_after_fork);
}

unsigned long long sl_conn_next_seq(void)
{
	return __atomic_add_fetch(&next_seq, 1ULL, __ATOMIC_RELAXED);
}

int sl_conn_pid(void)
{
	return LOAD(pid_cache);
}

int sl_conn_tid(void)
{
	if (tid_cache == 0)
		tid_cache = (int)gettid();
	return tid_cache;
}

/* Read /proc/self/exe into exe, once; called with conn_lock held. */
static void read_exe(void)
{
	ssize_t n;

	if (LOAD(exe_read))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe));
	/* A path too long for the field is left out, not cut. */
	if (n < 0 || (size_t)n >= sizeof(exe))
		n = 0;
	exe[n] = '\0';
	STORE(exe_read, 1);
}

const char *sl_conn_exe(void)
{
	if (!LOAD(exe_read)) {
		pthread_mutex_lock(&conn_lock);
		read_exe();
		pthread_mutex_unlock(&conn_lock);
	}
	return exe;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL +
	       (unsigned long long)ts.tv_nsec;
}

/* ---- sending -------------------------------------------------------------- */

/* The visualizer is gone (or the fd is no longer ours: not_ours). */
static void lose(int fd, int not_ours)
{
	STORE(state, GONE);
	if (not_ours)
		__atomic_compare_exchange_n(&conn_fd, &fd, -1, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* How long a free-running call's before event may wait for room. */
#define BEFORE_WAIT_MS 250

/* Wait until fd is ready for events (POLLIN or POLLOUT); a hang-up or an
 * error also counts as ready, for the next call to report. Waits until
 * the CLOCK_MONOTONIC time until_ns (0: for ever); returns 1 when that
 * time came first. */
static int wait_ready(int fd, short events, unsigned long long until_ns)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int left = -1, r;

		if (until_ns != 0) {
			unsigned long long now = now_ns();

			if (now >= until_ns)
				return 1;
			left = (int)((until_ns - now + 999999) / 1000000);
		}
		r = REAL(poll)(&p, 1, left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Send ev on fd. wait_ms: how long to wait for room before the event is
 * dropped (0: not at all, -1: for ever). */
static void send_on(int fd, struct sl_event *ev, int wait_ms)
{
	char line[SL_EVENT_LINE_MAX];
	unsigned long long lost = __atomic_exchange_n(&dropped, 0ULL, __ATOMIC_ACQ_REL);
	unsigned long long until;
	int n;

	if (lost != 0) {
		ev->dropped = lost;
		ev->has |= SL_EV_DROPPED;
	}
	ev->t = now_ns();
	ev->has |= SL_EV_T;
	n = sl_event_format(ev, line, sizeof(line));
	if (n < 0)
		goto drop;   /* cannot happen: SL_EVENT_LINE_MAX always fits */
	if (wait_ms > 0 && LOAD(stalled))
		wait_ms = 0;
	/* One deadline for the whole wait, however many wake-ups it takes. */
	until = wait_ms > 0 ? now_ns() + (unsigned long long)wait_ms * 1000000ULL : 0;
	for (;;) {
		if (REAL(send)(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
			if (LOAD(stalled))
				STORE(stalled, 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS) {
			int r;

			if (wait_ms == 0)
				goto drop;
			r = wait_ready(fd, POLLOUT, until);
			if (r == 0)
				continue;
			if (r > 0) {
				STORE(stalled, 1);
				goto drop;
			}
		}
		lose(fd, errno == EBADF || errno == ENOTSOCK);
		return;
	}
drop:
	__atomic_add_fetch(&dropped, lost + 1, __ATOMIC_ACQ_REL);
	ev->has &= ~(uint32_t)SL_EV_DROPPED;
}

static void send_hello(int fd)
{
	struct sl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ph = SL_PH_HELLO;
	ev.pid = sl_conn_pid();
	ev.tid = sl_conn_tid();
	ev.ppid = (int32_t)getppid();
	ev.step = LOAD(step_mode);
	ev.has = SL_EV_PID | SL_EV_TID | SL_EV_PPID | SL_EV_STEP;
	if (exe[0] != '\0') {
		memcpy(ev.exe, exe, sizeof(ev.exe));
		ev.has |= SL_EV_EXE;
	}
	send_on(fd, &ev, ev.step ? -1 : 0);
}

static int open_conn(void)
{
	int fd = REAL(socket)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int high;

	if (fd < 0)
		return -1;
	/* Non-blocking: a visualizer with a full backlog gives EAGAIN
	 * instead of stopping the program. */
	if (REAL(connect)(fd, (struct sockaddr *)&vis_addr, vis_len) < 0) {
		REAL(close)(fd);
		return -1;
	}
	high = fcntl(fd, F_DUPFD_CLOEXEC, SHIM_FD_BASE);
	if (high >= 0) {
		REAL(close)(fd);
		fd = high;
	}
	return fd;
}

int sl_conn_get(void)
{
	int s = LOAD(state), fd;

	if (s == UP)
		return LOAD(conn_fd);
	if (s == GONE)
		return -1;
	pthread_mutex_lock(&conn_lock);
	if (LOAD(state) == UNTRIED) {
		fd = open_conn();
		if (fd < 0) {
			STORE(state, GONE);
		} else {
			read_exe();
			/* The hello goes first: nobody else sends until UP. */
			STORE(conn_fd, fd);
			send_hello(fd);
			if (LOAD(state) == UNTRIED)
				STORE(state, UP);
		}
	}
	s = LOAD(state);
	fd = LOAD(conn_fd);
	pthread_mutex_unlock(&conn_lock);
	return s == UP ? fd : -1;
}

int sl_conn_fd(void)
{
	return LOAD(conn_fd);
}

int sl_conn_owns(int fd)
{
	return fd >= 0 && fd == LOAD(conn_fd);
}

void sl_conn_evict(int fd)
{
	int high;

	if (!sl_conn_owns(fd))
		return;
	pthread_mutex_lock(&conn_lock);
	if (LOAD(conn_fd) == fd) {
		high = fcntl(fd, F_DUPFD_CLOEXEC, SHIM_FD_BASE);
		if (high >= 0 && LOAD(state) != GONE) {
			STORE(conn_fd, high);
		} else {
			if (high >= 0)
				REAL(close)(high);
			STORE(state, GONE);
			STORE(conn_fd, -1);
		}
	}
	pthread_mutex_unlock(&conn_lock);
}

/* ---- the step gate ---------------------------------------------------------- */

/* Read one control message: the SL_CTL_* value, 0 for nothing (or
 * something unreadable, which is ignored), -1 when the visualizer is gone.
 * Called with step_lock held. */
static int read_ctl(int fd)
{
	char buf[256];
	ssize_t r;

	for (;;) {
		r = REAL(recv)(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0) {
			int ctl = sl_event_ctl_parse(buf, (size_t)r);

			return ctl > 0 ? ctl : 0;
		}
		/* The visualizer never sends an empty message: 0 is EOF. */
		if (r == 0) {
			lose(fd, 0);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		lose(fd, errno == EBADF || errno == ENOTSOCK);
		return -1;
	}
}

/* Take every control message already waiting, without blocking. */
static void drain_ctl(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	/* poll first: cheaper than a recv that fails, and most calls find
	 * nothing waiting. */
	while (REAL(poll)(&p, 1, 0) > 0) {
		int ctl = read_ctl(fd);

		if (ctl < 0)
			return;
		if (ctl == SL_CTL_STEP)
			STORE(step_mode, 1);
		else if (ctl == SL_CTL_RUN)
			STORE(step_mode, 0);
		else if (ctl == 0 && !(p.revents & POLLIN))
			return;   /* a hang-up that recv did not report */
		/* A stray "go" with no call waiting is ignored. */
	}
}

/* Block until the visualizer releases the pending call. */
static void wait_go(int fd)
{
	for (;;) {
		int ctl;

		if (wait_ready(fd, POLLIN, 0) < 0) {
			lose(fd, 0);
			return;
		}
		ctl = read_ctl(fd);
		if (ctl < 0 || ctl == SL_CTL_GO)
			return;
		if (ctl == SL_CTL_RUN) {
			STORE(step_mode, 0);
			return;
		}
	}
}

void sl_conn_send_before(struct sl_event *ev)
{
	int fd = sl_conn_get();

	if (fd < 0)
		return;
	pthread_mutex_lock(&step_lock);
	drain_ctl(fd);
	if (LOAD(state) == UP) {
		if (LOAD(step_mode)) {
			send_on(fd, ev, -1);
			if (LOAD(state) == UP)
				wait_go(fd);
		} else {
			send_on(fd, ev, BEFORE_WAIT_MS);
		}
	}
	pthread_mutex_unlock(&step_lock);
}

void sl_conn_send(struct sl_event *ev)
{
	int fd = sl_conn_get();

	if (fd >= 0)
		send_on(fd, ev, LOAD(step_mode) ? -1 : 0);
}
