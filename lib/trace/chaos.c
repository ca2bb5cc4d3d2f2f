/* chaos.c — faults the kernel is allowed to make, made on purpose
 * (`socklab check NN --chaos[=SEED]`).
 *
 * On loopback with small messages the kernel almost never splits a recv(),
 * takes part of a send(), or interrupts a call, so code that assumes it
 * never will passes every test. With SOCKLAB_CHAOS=SEED in its environment
 * the shim makes these happen, each only where a real kernel could:
 *
 *   short-read   recv/read/readv on a stream socket returns fewer bytes than
 *                it could (down to 1): the request is cut before the call
 *   short-write  send/write/writev on a stream socket takes fewer bytes
 *                than offered (down to 1)
 *   eintr        a call that would block fails with EINTR, before it runs;
 *                only in a thread where a signal with a handler can arrive
 *                (not blocked; for calls that SA_RESTART restarts, a
 *                handler installed without it)
 *   eagain       a call on a non-blocking socket fails with EAGAIN, as
 *                after a spurious wake-up (select(2) and poll(2) allow
 *                them); never on an fd registered with EPOLLET, where the
 *                kernel only says EAGAIN once the queue is empty
 *   abort        a process's first accept fails with ECONNABORTED (a
 *                client that left before it was accepted)
 *
 * Reproducible: whether a call gets a fault, and which, comes from the
 * seed and how many calls of its kind this thread has made (counted per
 * fault, so turning one fault off does not move the others). The same
 * program on the same input makes the same calls, and meets the same
 * faults.
 *
 * SOCKLAB_CHAOS_FAULTS=short-read,eintr,... limits the faults made (one
 * kind alone is made half the time it can be); SOCKLAB_CHAOS_AT=OBJ+0xOFF
 * makes them only at that call site (the checker uses both to find which
 * fault a program does not survive).
 * SOCKLAB_CHAOS_LOG=PATH: every fault that landed is added to PATH as
 * one line, "fault=short-read call=recv pid=.. fd=.. asked=4096 waiting=12
 * got=3 at=/path/server+0x1a2b", where at is the call site as the trace
 * events give it (addr2line turns it into file:line). The file is mapped
 * into memory and its descriptor closed at start (map_log): no
 * descriptor of the shim's is ever open in the program, not even for a
 * moment. It is 4 MiB long: a 64-byte header, the lines, then zeros.
 *
 * The contract of the shim holds: errno is the program's own unless a
 * fault sets it, no call here goes back through the shim, the counters are
 * per thread and the one-shot flag atomic, and with SOCKLAB_CHAOS unset a
 * call pays one load.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

static const char *const fault_names[SL_FAULT_COUNT] = {
	[SL_FAULT_NONE] = "none", [SL_FAULT_SHORT_READ] = "short-read",
	[SL_FAULT_SHORT_WRITE] = "short-write", [SL_FAULT_EINTR] = "eintr",
	[SL_FAULT_EAGAIN] = "eagain", [SL_FAULT_ABORT] = "abort",
};

/* How often each fault is made, out of 256 calls that could get it (a
 * kind made alone: 128). */
static unsigned odds[SL_FAULT_COUNT] = {
	[SL_FAULT_SHORT_READ] = 128, [SL_FAULT_SHORT_WRITE] = 128,
	[SL_FAULT_EINTR] = 32, [SL_FAULT_EAGAIN] = 32,
};

/* The log file: a header of LOG_HEAD bytes (the first 8 count the bytes
 * of lines taken so far), then the lines; the rest is zeros. */
#define LOG_SIZE (4 << 20)
#define LOG_HEAD 64

/* Set once, by sl_chaos_init, before any call is interposed. */
static uint64_t seed;
static unsigned enabled_faults;      /* 1 << SL_FAULT_x */
static char only_at[SL_EVENT_PATH_LEN + 24];
/* The log, mapped (see sl_chaos_log); NULL when there is none. */
static char *log_map;

static int accept_aborted;           /* the one ECONNABORTED is spent */

/* Calls per fault made so far by this thread (a new thread starts at 0;
 * a forked child goes on from its parent's counts). */
static __thread uint32_t counts[SL_FAULT_COUNT]
	__attribute__((tls_model("initial-exec")));

const char *sl_fault_name(enum sl_fault f)
{
	return f > SL_FAULT_NONE && f < SL_FAULT_COUNT ? fault_names[f] : "none";
}

/* The fault named by name[0..n), or SL_FAULT_NONE. */
static enum sl_fault fault_named(const char *name, size_t n)
{
	for (int f = SL_FAULT_NONE + 1; f < SL_FAULT_COUNT; f++)
		if (strlen(fault_names[f]) == n && strncmp(fault_names[f], name, n) == 0)
			return (enum sl_fault)f;
	return SL_FAULT_NONE;
}

/* Map the log file, made LOG_SIZE bytes long if it is shorter, and close
 * it again: the program never sees a descriptor of ours (a test that
 * counts its fds, or takes the lowest free one, would). A forked child
 * shares the mapping; after exec the new program maps the file again. */
static void map_log(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	void *m;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (st.st_size >= LOG_SIZE || ftruncate(fd, LOG_SIZE) == 0)) {
		m = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED)
			log_map = m;
	}
	REAL(close)(fd);
}

int sl_chaos_init(const char *spec, const char *faults, const char *at,
                  const char *logfile)
{
	char *end;

	if (spec == NULL || spec[0] == '\0')
		return 0;
	/* "1234", or "" after --chaos with no seed: the checker always
	 * passes a number, but a person may not. */
	seed = strtoull(spec, &end, 10);
	if (*end != '\0')
		seed = 0;
	enabled_faults = 0;
	if (faults == NULL || faults[0] == '\0') {
		enabled_faults = ~0u;
	} else {
		for (const char *p = faults; *p != '\0'; ) {
			size_t n = strcspn(p, ",");

			enabled_faults |= 1u << fault_named(p, n);
			p += n + (p[n] == ',');
		}
	}
	enabled_faults &= ~1u;   /* SL_FAULT_NONE */
	/* One kind alone (the checker asking whether a program survives it):
	 * often enough that a program that does not shows it. */
	if (faults != NULL && faults[0] != '\0' && (enabled_faults & (enabled_faults - 1)) == 0)
		for (int f = SL_FAULT_NONE + 1; f < SL_FAULT_COUNT; f++)
			if (odds[f] != 0 && odds[f] < 128)
				odds[f] = 128;
	if (at != NULL && strlen(at) < sizeof(only_at))
		strcpy(only_at, at);
	if (logfile != NULL && logfile[0] != '\0')
		map_log(logfile);
	return 1;
}

/* SplitMix64's finalizer: every input bit moves about half the output. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The next number of fault f's stream in this thread. */
static uint64_t draw(enum sl_fault f)
{
	uint32_t n = counts[f]++;

	return mix(seed ^ mix(((uint64_t)f << 32) | n));
}

/* Fault f at this site, this time? Counts the call either way. */
static int roll(enum sl_fault f, uint64_t *r)
{
	if (!(enabled_faults & (1u << f)))
		return 0;
	*r = draw(f);
	return (*r & 0xff) < odds[f];
}

/* Could a signal interrupt this thread's wait? Only if one that has a
 * handler is not blocked (during the wait: mask, if the call sets one);
 * restartable: and the handler was installed without SA_RESTART, which
 * would restart the call instead (poll, select and epoll_wait never are). */
static int interruptible(int restartable, const sigset_t *mask)
{
	/* Not SIGPIPE: it comes from the program's own write, not while it
	 * waits (and a handler for it is most often a crash report). */
	static const int sigs[] = {
		SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
		SIGTERM, SIGCHLD, SIGURG, SIGWINCH, SIGIO,
	};
	sigset_t blocked;

	if (mask != NULL)
		blocked = *mask;
	else if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;
		void (*h)(int);

		if (sigismember(&blocked, sigs[i]) == 1 ||
		    sigaction(sigs[i], NULL, &sa) != 0)
			continue;
		h = sa.sa_handler;
		if ((sa.sa_flags & SA_SIGINFO) || (h != SIG_DFL && h != SIG_IGN))
			if (!restartable || !(sa.sa_flags & SA_RESTART))
				return 1;
	}
	return 0;
}

static int is_nonblocking(int fd, int flags)
{
	int fl;

	if (flags & MSG_DONTWAIT)
		return 1;
	fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

static int is_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

/* Bytes waiting in fd's receive queue (0 when unknown). */
static size_t waiting_bytes(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/* A cut length in 1..limit-1 (limit >= 2): 1 a quarter of the time. */
static size_t cut(uint64_t r, size_t limit)
{
	if (((r >> 8) & 3) == 0)
		return 1;
	return 1 + (size_t)((r >> 10) % (limit - 1));
}

/* A cut of bytes that have not come yet: small, to land in a short
 * message too (1 half the time, else 1..15). */
static size_t cut_ahead(uint64_t r, size_t n)
{
	if (((r >> 8) & 1) == 0)
		return 1;
	return cut(r, n < 16 ? n : 16);
}

/* Is this call at the one site faults are limited to (if any)? */
static int at_chosen_site(const void *caller)
{
	char at[sizeof(only_at)];

	if (only_at[0] == '\0')
		return 1;
	return sl_call_locate(at, sizeof(at), caller) == 0 && strcmp(at, only_at) == 0;
}

static void fail_with(struct sl_chaos *x, enum sl_fault f, int err)
{
	x->fault = f;
	x->err = err;
}

int sl_chaos_before(struct sl_chaos *x, const char *call, enum sl_chaos_op op,
                    int fd, int flags, size_t *n, const sigset_t *mask,
                    long long timeout, const void *caller)
{
	int saved = errno, nonblock = 0, blocks;
	uint64_t r;

	memset(x, 0, sizeof(*x));
	x->call = call;
	x->fd = fd;
	x->caller = caller;
	if (op != SL_OP_WAIT && !sl_fd_is_socket(fd))
		return 0;
	if (!at_chosen_site(caller)) {
		errno = saved;
		return 0;
	}
	if (op == SL_OP_ACCEPT && (enabled_faults & (1u << SL_FAULT_ABORT)) &&
	    !__atomic_exchange_n(&accept_aborted, 1, __ATOMIC_ACQ_REL)) {
		fail_with(x, SL_FAULT_ABORT, ECONNABORTED);
		goto done;
	}
	if (op == SL_OP_WAIT)
		blocks = timeout != 0;
	else
		blocks = !(nonblock = is_nonblocking(fd, flags));
	/* A call that would block: a signal may cut the wait short. */
	if (blocks && roll(SL_FAULT_EINTR, &r) &&
	    interruptible(op != SL_OP_WAIT, mask)) {
		fail_with(x, SL_FAULT_EINTR, EINTR);
		goto done;
	}
	if (nonblock && !sl_fd_is_edge(fd) && roll(SL_FAULT_EAGAIN, &r)) {
		fail_with(x, SL_FAULT_EAGAIN, EAGAIN);
		goto done;
	}
	if (n != NULL && *n >= 2 && (op == SL_OP_READ || op == SL_OP_WRITE) &&
	    roll(op == SL_OP_READ ? SL_FAULT_SHORT_READ : SL_FAULT_SHORT_WRITE, &r) &&
	    is_stream(fd)) {
		x->asked = *n;
		x->fault = op == SL_OP_READ ? SL_FAULT_SHORT_READ : SL_FAULT_SHORT_WRITE;
		if (op == SL_OP_READ) {
			/* Cut below what is there, so that the cut shows; with
			 * nothing there yet, a small cut of what will come. */
			x->waiting = waiting_bytes(fd);
			x->cap = x->waiting >= 2 ? cut(r, x->waiting < *n ? x->waiting : *n)
						 : cut_ahead(r, *n);
		} else {
			x->cap = cut(r, *n);
		}
		*n = x->cap;
	}
done:
	if (x->err != 0) {
		errno = x->err;
		sl_chaos_log(x, -1);
		errno = x->err;
		return 1;
	}
	errno = saved;
	return 0;
}

int sl_chaos_cut(struct sl_chaos *x, const char *call, enum sl_chaos_op op, int fd,
                 size_t *n, const void *caller)
{
	int saved = errno;
	uint64_t r;

	memset(x, 0, sizeof(*x));
	x->call = call;
	x->fd = fd;
	x->caller = caller;
	if (*n < 2 || (op != SL_OP_READ && op != SL_OP_WRITE) || !sl_fd_is_socket(fd) ||
	    !at_chosen_site(caller) ||
	    !roll(op == SL_OP_READ ? SL_FAULT_SHORT_READ : SL_FAULT_SHORT_WRITE, &r) ||
	    !is_stream(fd)) {
		errno = saved;
		return 0;
	}
	x->fault = op == SL_OP_READ ? SL_FAULT_SHORT_READ : SL_FAULT_SHORT_WRITE;
	x->asked = *n;
	/* The bytes are not there yet when it is queued: for a read, a
	 * small cut of what will come. */
	x->cap = op == SL_OP_READ ? cut_ahead(r, *n) : cut(r, *n);
	*n = x->cap;
	/* It completes later, out of our sight: noted as made. */
	sl_chaos_log(x, (long long)x->cap);
	errno = saved;
	return 1;
}

int sl_chaos_interrupt(const char *call, const sigset_t *mask, const void *caller)
{
	struct sl_chaos x;
	int saved = errno;
	uint64_t r;

	memset(&x, 0, sizeof(x));
	x.call = call;
	x.fd = -1;
	x.caller = caller;
	if (at_chosen_site(caller) && roll(SL_FAULT_EINTR, &r) && interruptible(0, mask)) {
		x.fault = SL_FAULT_EINTR;
		sl_chaos_log(&x, -1);
		errno = saved;
		return 1;
	}
	errno = saved;
	return 0;
}

void sl_chaos_after(struct sl_chaos *x, long long ret)
{
	int saved = errno;

	/* A cut landed when the call took all it was allowed and, for a
	 * read, more was left behind. */
	if (ret > 0 && (size_t)ret == x->cap &&
	    (x->fault == SL_FAULT_SHORT_WRITE || waiting_bytes(x->fd) > 0))
		sl_chaos_log(x, ret);
	errno = saved;
}

void sl_chaos_log(const struct sl_chaos *x, long long ret)
{
	char line[sizeof(only_at) + 256];
	char at[sizeof(only_at)];
	int saved = errno, n;
	uint64_t where;

	if (log_map == NULL)
		return;
	if (sl_call_locate(at, sizeof(at), x->caller) < 0)
		strcpy(at, "?");
	if (x->fault == SL_FAULT_SHORT_READ || x->fault == SL_FAULT_SHORT_WRITE)
		n = snprintf(line, sizeof(line), "fault=%s call=%s pid=%d tid=%d fd=%d "
			     "asked=%zu waiting=%zu got=%lld at=%s\n",
			     sl_fault_name(x->fault), x->call, (int)getpid(),
			     (int)gettid(), x->fd, x->asked, x->waiting, ret, at);
	else
		n = snprintf(line, sizeof(line), "fault=%s call=%s pid=%d tid=%d fd=%d at=%s\n",
			     sl_fault_name(x->fault), x->call, (int)getpid(),
			     (int)gettid(), x->fd, at);
	/* Take room for the line (the first 8 bytes count what is taken, for
	 * every process and thread that maps the file), then fill it. */
	if (n > 0 && (size_t)n < sizeof(line)) {
		where = __atomic_fetch_add((uint64_t *)log_map, (uint64_t)n, __ATOMIC_ACQ_REL);
		if (where + (uint64_t)n <= LOG_SIZE - LOG_HEAD)
			memcpy(log_map + LOG_HEAD + where, line, (size_t)n);
	}
	errno = saved;
}
