/* trace.c — the trace source: the shim's connections.
 *
 * The visualizer listens on an abstract SOCK_SEQPACKET socket (abstract:
 * no file to clean up, and private to the network namespace the lesson
 * shares with us); every traced process connects once and sends one event
 * per message (lib/event.h). Control messages go back on the same
 * connection: "go" releases a process waiting at the step gate.
 *
 * Only the session's own programs may talk to it. The name is easy to
 * guess (and listed in /proc/net/unix), and on the host's network
 * (`socklab trace`) anybody can connect: so a peer is accepted only when
 * the kernel's SO_PEERCRED says it runs as socklab's user (or root) and
 * its pid is one of socklab's descendants, and that pid, not what the
 * peer says, is the connection's process (no one can take another's
 * step commands). Refused peers are closed at once and counted (the
 * status line shows them); they never take one of the SHIM_CONNS_MAX
 * slots. A peer that has already ended and been reaped when socklab
 * accepts it cannot be looked up in /proc: one socklab started itself is
 * known by its pid; any other (a wrapper script's $(...) subshell lives a
 * millisecond) waits, unread, in a slot of its own (PENDING_MAX) until a
 * traced process's fork() names it as a child (then it is the
 * session's), or PENDING_NS has passed (then it is refused).
 *
 * Reading never waits and takes at most BATCH messages from a connection
 * per pass, so one chatty process cannot starve the screen or the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "pidset.h"
#include "session.h"
#include "sources/source.h"

#define SHIM_CONNS_MAX 64
#define BATCH 256
#define PENDING_MAX 64
#define PENDING_NS (2 * NS_PER_S)

struct conn {
	int fd;
	int32_t pid;       /* the kernel's word (SO_PEERCRED) */
	mtime_t since;     /* pending: accepted then */
};

struct trace {
	struct source base;
	int listen_fd;
	char addr[64];     /* "@socklab-PID-N", what SOCKLAB_TRACE says */
	struct conn conns[SHIM_CONNS_MAX];
	int nconns;
	uint64_t bad_lines;
	uint64_t refused;  /* peers that are not the session's programs */
	uint64_t full;     /* the session's, beyond SHIM_CONNS_MAX: untraced */
	struct conn pending[PENDING_MAX]; /* ended before they could be checked */
	int npending;
	struct pidset forked; /* children that traced fork() calls returned */
};

static struct trace *of(struct source *src)
{
	return (struct trace *)src;
}

static int open_listener(struct trace *t)
{
	static unsigned counter;
	struct sockaddr_un sun;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(t->base.why, sizeof(t->base.why), "socket AF_UNIX: %s", strerror(errno));
		return -1;
	}
	snprintf(t->addr, sizeof(t->addr), "@socklab-%d-%u", (int)getpid(), counter++);
	if (sl_unix_addr(t->addr, &sun, &len) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(t->base.why, sizeof(t->base.why), "bind %s: %s", t->addr, strerror(errno));
		close(fd);
		return -1;
	}
	t->listen_fd = fd;
	return 0;
}

static void drop_conn(struct trace *t, int i)
{
	close(t->conns[i].fd);
	t->conns[i] = t->conns[--t->nconns];
}

/* The process closed its connection: it ended, or called execve(). */
static void conn_closed(struct trace *t, int i)
{
	int32_t pid = t->conns[i].pid;

	drop_conn(t, i);
	if (pid > 0)
		session_trace_closed(t->base.s, pid);
}

/* pid's parent, from /proc/PID/stat (after the last ')': a command name
 * may hold one), or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	long ppid;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* Is pid a descendant of socklab? (A process left behind by its parent
 * is re-parented to socklab, a subreaper: quit.h.) */
static int ours(pid_t pid)
{
	pid_t self = getpid();

	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		pid = parent_of(pid);
		if (pid == self)
			return 1;
	}
	return 0;
}

enum peer { STRANGER, OURS, GONE };

/* Did socklab start pid itself (it may have ended and been reaped
 * already: `rebind` fails and exits within a millisecond)? */
static int started(const struct trace *t, pid_t pid)
{
	const struct session *s = t->base.s;

	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i].pid == pid)
			return 1;
	return 0;
}

/* Who is at the other end of fd: one of the session's programs, somebody
 * else, or a process that has ended and been reaped (unknown yet). */
static enum peer check_peer(struct trace *t, int fd, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[64];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred) ||
	    cred.pid <= 0)
		return STRANGER;
	if (cred.uid != geteuid() && cred.uid != 0)
		return STRANGER;
	*pid = cred.pid;
	if (pidset_has(&t->forked, (int32_t)cred.pid) || started(t, cred.pid) || ours(cred.pid))
		return OURS;
	snprintf(path, sizeof(path), "/proc/%d", (int)cred.pid);
	return access(path, F_OK) == 0 ? STRANGER : GONE;
}

static void refuse(struct trace *t, int fd)
{
	t->refused++;
	t->base.s->model.version++;
	close(fd);
}

static void take(struct trace *t, int fd, pid_t pid)
{
	if (t->nconns >= SHIM_CONNS_MAX) {
		/* The process carries on untraced. */
		t->full++;
		close(fd);
		return;
	}
	t->conns[t->nconns].fd = fd;
	t->conns[t->nconns].pid = (int32_t)pid;
	t->nconns++;
}

static void accept_conns(struct trace *t)
{
	for (;;) {
		int fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		pid_t pid = 0;

		if (fd < 0)
			return;   /* EAGAIN, or an error a later pass retries */
		switch (check_peer(t, fd, &pid)) {
		case OURS:
			take(t, fd, pid);
			break;
		case GONE:
			if (t->npending < PENDING_MAX) {
				t->pending[t->npending++] = (struct conn){ fd, (int32_t)pid,
									   session_now() };
				break;
			}
			refuse(t, fd);
			break;
		default:
			refuse(t, fd);
			break;
		}
	}
}

/* A pending peer is the session's once a traced fork() has returned its
 * pid; after PENDING_NS without that, it is refused. */
static void settle_pending(struct trace *t, mtime_t now)
{
	int kept = 0;

	for (int i = 0; i < t->npending; i++) {
		struct conn *c = &t->pending[i];

		if (pidset_has(&t->forked, c->pid))
			take(t, c->fd, c->pid);
		else if (now >= c->since + PENDING_NS)
			refuse(t, c->fd);
		else
			t->pending[kept++] = *c;
	}
	t->npending = kept;
}

/* A traced fork() returned a child's pid: that child is the session's. */
static void note_fork(struct trace *t, const struct sl_event *ev)
{
	if (ev->ph == SL_PH_AFTER && (ev->has & SL_EV_CALL) && (ev->has & SL_EV_RET) &&
	    ev->ret > 0 && ev->ret <= INT32_MAX && ev->call_id == SL_CALL_FORK &&
	    pidset_add(&t->forked, (int32_t)ev->ret) < 0)
		session_say(t->base.s, "out of memory");
}

/* Read what one connection has; returns -1 when it is closed. */
static int read_conn(struct trace *t, struct conn *c)
{
	char line[SL_EVENT_LINE_MAX];
	struct sl_event ev;

	for (int i = 0; i < BATCH; i++) {
		ssize_t r = recv(c->fd, line, sizeof(line), MSG_DONTWAIT);

		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (r == 0)
			return -1;
		if (sl_event_parse(line, (size_t)r, &ev) < 0) {
			t->bad_lines++;
			continue;
		}
		/* One connection is one process (lib/event.h), the one the
		 * kernel named when it connected. */
		if ((ev.has & SL_EV_PID) && ev.pid != c->pid) {
			t->bad_lines++;
			continue;
		}
		note_fork(t, &ev);
		session_event(t->base.s, &ev, line, (size_t)r);
	}
	return 0;
}

static int trace_fill(struct source *src, struct pollfd *pfd, int max)
{
	struct trace *t = of(src);
	int n = 0;

	if (t->listen_fd < 0 || max < 1)
		return 0;
	pfd[n].fd = t->listen_fd;
	pfd[n].events = POLLIN;
	pfd[n].revents = 0;
	n++;
	for (int i = 0; i < t->nconns && n < max; i++) {
		pfd[n].fd = t->conns[i].fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

static void trace_ready(struct source *src, const struct pollfd *pfd, int n)
{
	struct trace *t = of(src);
	int count = t->nconns;

	/* The slots follow the connections as they were when filled; walk
	 * backwards so that dropping one does not move those not seen yet. */
	for (int i = (n - 1 < count ? n - 1 : count); i >= 1; i--) {
		if (pfd[i].revents == 0)
			continue;
		if (read_conn(t, &t->conns[i - 1]) < 0)
			conn_closed(t, i - 1);
	}
	if (n > 0 && (pfd[0].revents & POLLIN))
		accept_conns(t);
	if (t->npending > 0)
		settle_pending(t, session_now());
}

static mtime_t trace_deadline(struct source *src)
{
	struct trace *t = of(src);
	mtime_t when = 0;

	for (int i = 0; i < t->npending; i++)
		if (when == 0 || t->pending[i].since + PENDING_NS < when)
			when = t->pending[i].since + PENDING_NS;
	return when;
}

static void trace_tick(struct source *src, mtime_t now)
{
	struct trace *t = of(src);

	if (t->npending > 0)
		settle_pending(t, now);
}

static void trace_destroy(struct source *src)
{
	struct trace *t = of(src);

	trace_close_all(src);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	pidset_free(&t->forked);
	free(t);
}

struct source *trace_source_new(struct session *s)
{
	struct trace *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->base.name = "trace";
	t->base.s = s;
	t->base.fill = trace_fill;
	t->base.ready = trace_ready;
	t->base.deadline = trace_deadline;
	t->base.tick = trace_tick;
	t->base.destroy = trace_destroy;
	t->listen_fd = -1;
	if (open_listener(t) == 0) {
		t->base.active = 1;
		snprintf(t->base.why, sizeof(t->base.why), "shim connections on %s", t->addr);
	}
	return &t->base;
}

const char *trace_address(struct source *src)
{
	return of(src)->addr;
}

uint64_t trace_refused(struct source *src)
{
	return of(src)->refused;
}

int trace_send_ctl(struct source *src, int32_t pid, int ctl)
{
	struct trace *t = of(src);
	char msg[32];
	int len = sl_event_ctl_format((enum sl_ctl)ctl, msg, sizeof(msg));

	if (len < 0)
		return -1;
	for (int i = 0; i < t->nconns; i++) {
		if (t->conns[i].pid != pid)
			continue;
		if (send(t->conns[i].fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == len)
			return 0;
		return -1;
	}
	return -1;
}

void trace_close_all(struct source *src)
{
	struct trace *t = of(src);

	while (t->nconns > 0)
		drop_conn(t, t->nconns - 1);
	while (t->npending > 0)
		close(t->pending[--t->npending].fd);
}
