/* trace.c — the trace source: the shim's connections.
 *
 * The visualizer listens on an abstract SOCK_SEQPACKET socket (abstract:
 * no file to clean up, and private to the network namespace the lesson
 * shares with us); every traced process connects once and sends one event
 * per message (lib/event.h). Control messages go back on the same
 * connection: "go" releases a process waiting at the step gate.
 *
 * Reading never waits and takes at most BATCH messages from a connection
 * per pass, so one chatty process cannot starve the screen or the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "session.h"
#include "sources/source.h"

#define SHIM_CONNS_MAX 64
#define BATCH 256

struct conn {
	int fd;
	int32_t pid;       /* from its hello; 0 until then */
};

struct trace {
	struct source base;
	int listen_fd;
	char addr[64];     /* "@socklab-PID-N", what SOCKLAB_TRACE says */
	struct conn conns[SHIM_CONNS_MAX];
	int nconns;
	uint64_t bad_lines;
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
	    bind(fd, (struct sockaddr *)&sun, len) < 0 || listen(fd, 64) < 0) {
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

static void accept_conns(struct trace *t)
{
	for (;;) {
		int fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;   /* EAGAIN, or an error a later pass retries */
		if (t->nconns >= SHIM_CONNS_MAX) {
			/* The process carries on untraced. */
			close(fd);
			continue;
		}
		t->conns[t->nconns].fd = fd;
		t->conns[t->nconns].pid = 0;
		t->nconns++;
	}
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
		if (ev.has & SL_EV_PID) {
			if (c->pid == 0)
				c->pid = ev.pid;
			else if (ev.pid != c->pid) {
				/* One connection is one process (lib/event.h). */
				t->bad_lines++;
				continue;
			}
		}
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
}

static void trace_destroy(struct source *src)
{
	struct trace *t = of(src);

	trace_close_all(src);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
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
}
