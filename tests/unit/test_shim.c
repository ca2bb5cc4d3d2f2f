/* test_shim.c — the trace shim (lib/trace/, build/lib/libsltrace.so),
 * preloaded into the small programs of tests/progs/ while this test plays
 * the visualizer: a SOCK_SEQPACKET listener in a fresh mkdtemp folder whose
 * path goes to the program in SOCKLAB_TRACE. Every event is parsed with
 * sl_event_parse (a line it rejects fails the test), and every wait has a
 * deadline. The build folder comes from SOCKLAB_BUILD (default "build").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "event.h"

#define DEADLINE_MS 20000
/* The flood target makes 100,000 calls; generous for slow machines. */
#define FLOOD_DEADLINE_MS 120000
/* How long a stopped program is watched to see that it stays stopped. */
#define QUIET_MS 300
#define MAX_CONNS 16

struct rec {
	int conn;             /* index into vis.conn */
	struct sl_event ev;
};

/* The test's side of the trace: a listener and what arrived on it. */
struct vis {
	char dir[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	int conn[MAX_CONNS];
	int eof[MAX_CONNS];
	int nconn;
	int reading;          /* 0: accept connections, never read them */
	int keep;             /* store every event in recs */
	struct rec *recs;
	size_t nrec, cap;
	/* Kept whether or not events are stored (hello not counted). */
	unsigned long long nevents, dropped, max_seq;
};

struct target {
	pid_t pid;            /* -1 once reaped */
	int in, out, err;     /* pipes to its stdin, from stdout/stderr */
	char outbuf[8192];
	size_t outlen;
	char errbuf[8192];
	size_t errlen;
	int status;           /* exit code once reaped, 128+signal, or -1 */
};

struct fixture {
	struct vis v;
	struct target t;
};

/* ---- helpers --------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *build_dir(void)
{
	const char *b = getenv("SOCKLAB_BUILD");

	return b != NULL && b[0] != '\0' ? b : "build";
}

/* Absolute path of something in the build folder; fails the test when it
 * is missing. */
static void built(char *out, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", build_dir(), rel);
	if (realpath(path, out) == NULL)
		fail_msg("%s: %s (build it first)", path, strerror(errno));
}

/* A listener at dir/vis.sock, or with abstract set at "@sltrace-PID" in
 * the abstract namespace (no file). */
static void vis_open(struct vis *v, int abstract)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	memset(v, 0, sizeof(*v));
	v->lfd = -1;
	v->reading = 1;
	v->keep = 1;
	/* mkdtemp's template: six 'X's to be replaced. */
	strcpy(v->dir, "/tmp/sltrace.");
	memset(v->dir + strlen(v->dir), 'X', 6);
	assert_non_null(mkdtemp(v->dir));
	if (abstract)
		snprintf(v->path, sizeof(v->path), "@sltrace-%d", (int)getpid());
	else
		snprintf(v->path, sizeof(v->path), "%s/vis.sock", v->dir);
	assert_int_equal(sl_unix_addr(v->path, &sun, &len), 0);
	v->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(v->lfd >= 0);
	assert_int_equal(bind(v->lfd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(v->lfd, MAX_CONNS), 0);
}

static void vis_close(struct vis *v)
{
	for (int i = 0; i < v->nconn; i++)
		close(v->conn[i]);
	if (v->lfd >= 0)
		close(v->lfd);
	if (v->path[0] != '\0' && v->path[0] != '@')
		unlink(v->path);
	if (v->dir[0] != '\0')
		rmdir(v->dir);
	free(v->recs);
	memset(v, 0, sizeof(*v));
	v->lfd = -1;
}

static void vis_store(struct vis *v, int conn, const struct sl_event *ev)
{
	if (ev->ph != SL_PH_HELLO) {
		v->nevents++;
		if (ev->has & SL_EV_DROPPED)
			v->dropped += ev->dropped;
		if ((ev->has & SL_EV_SEQ) && ev->seq > v->max_seq)
			v->max_seq = ev->seq;
	}
	if (!v->keep)
		return;
	if (v->nrec == v->cap) {
		size_t cap = v->cap != 0 ? v->cap * 2 : 64;
		struct rec *r = realloc(v->recs, cap * sizeof(*r));

		assert_non_null(r);
		v->recs = r;
		v->cap = cap;
	}
	v->recs[v->nrec].conn = conn;
	v->recs[v->nrec].ev = *ev;
	v->nrec++;
}

/* Read every message waiting on connection i. */
static void vis_read(struct vis *v, int i)
{
	char buf[SL_EVENT_LINE_MAX];
	struct sl_event ev;
	ssize_t r;

	while (!v->eof[i]) {
		r = recv(v->conn[i], buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			v->eof[i] = 1;  /* reset: the program died */
			return;
		}
		if (r == 0) {
			v->eof[i] = 1;
			return;
		}
		if (sl_event_parse(buf, (size_t)r, &ev) < 0)
			fail_msg("unparsable event: %.*s", (int)r, buf);
		vis_store(v, i, &ev);
	}
}

static void vis_accept(struct vis *v)
{
	int fd;

	while ((fd = accept4(v->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		assert_true(v->nconn < MAX_CONNS);
		v->eof[v->nconn] = 0;
		v->conn[v->nconn++] = fd;
	}
}

static void send_ctl(struct vis *v, int i, enum sl_ctl ctl)
{
	char line[32];
	int n = sl_event_ctl_format(ctl, line, sizeof(line));

	assert_true(n > 0);
	assert_int_equal(send(v->conn[i], line, (size_t)n, MSG_NOSIGNAL), n);
}

static void target_start(struct target *t, const char *prog, const char *arg,
                         const char *trace, int step, int preload)
{
	char path[PATH_MAX], shim[PATH_MAX], rel[64];
	char e_preload[PATH_MAX + 16], e_trace[256];
	char *envp[5], *argv[3];
	int in[2], out[2], err[2], n = 0;

	snprintf(rel, sizeof(rel), "tests/progs/%s", prog);
	built(path, rel);
	built(shim, "lib/libsltrace.so");
	envp[n++] = "PATH=/usr/bin:/bin";
	if (preload) {
		snprintf(e_preload, sizeof(e_preload), "LD_PRELOAD=%s", shim);
		envp[n++] = e_preload;
	}
	if (trace != NULL) {
		snprintf(e_trace, sizeof(e_trace), "SOCKLAB_TRACE=%s", trace);
		envp[n++] = e_trace;
	}
	if (step)
		envp[n++] = "SOCKLAB_STEP=1";
	envp[n] = NULL;
	argv[0] = path;
	argv[1] = (char *)arg;
	argv[2] = NULL;

	memset(t, 0, sizeof(*t));
	t->status = -1;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execve(path, argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	t->in = in[1];
	t->out = out[0];
	t->err = err[0];
}

static void target_read(int *fd, char *buf, size_t *len, size_t cap)
{
	ssize_t r = read(*fd, buf + *len, cap - 1 - *len);

	if (r > 0) {
		*len += (size_t)r;
		buf[*len] = '\0';
	} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

static void target_reap(struct target *t)
{
	int st;

	if (t->pid > 0 && waitpid(t->pid, &st, WNOHANG) == t->pid) {
		t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		t->pid = -1;
	}
}

static void target_kill(struct target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		t->pid = -1;
	}
	if (t->in > 0)
		close(t->in);
	if (t->out > 0)
		close(t->out);
	if (t->err > 0)
		close(t->err);
	t->in = t->out = t->err = -1;
}

/* One round: wait up to ms for anything from the listener, the
 * connections (when reading) or the program's output, and take it. */
static void pump(struct fixture *f, int ms)
{
	struct pollfd p[MAX_CONNS + 3];
	int idx[MAX_CONNS + 3];
	int n = 0;

	p[n].fd = f->v.lfd;
	p[n].events = POLLIN;
	idx[n++] = -1;
	for (int i = 0; f->v.reading && i < f->v.nconn; i++)
		if (!f->v.eof[i]) {
			p[n].fd = f->v.conn[i];
			p[n].events = POLLIN;
			idx[n++] = i;
		}
	if (f->t.out >= 0) {
		p[n].fd = f->t.out;
		p[n].events = POLLIN;
		idx[n++] = -2;
	}
	if (f->t.err >= 0) {
		p[n].fd = f->t.err;
		p[n].events = POLLIN;
		idx[n++] = -3;
	}
	if (poll(p, (nfds_t)n, ms) > 0) {
		for (int i = 0; i < n; i++) {
			if (p[i].revents == 0)
				continue;
			if (idx[i] == -1)
				vis_accept(&f->v);
			else if (idx[i] == -2)
				target_read(&f->t.out, f->t.outbuf, &f->t.outlen, sizeof(f->t.outbuf));
			else if (idx[i] == -3)
				target_read(&f->t.err, f->t.errbuf, &f->t.errlen, sizeof(f->t.errbuf));
			else
				vis_read(&f->v, idx[i]);
		}
	}
	target_reap(&f->t);
}

typedef int (*pred_fn)(struct fixture *f, const void *arg);

/* Pump until pred holds or ms pass. Returns whether it held. */
static int run_until(struct fixture *f, pred_fn pred, const void *arg, int ms)
{
	long long end = now_ms() + ms;

	while (!pred(f, arg)) {
		long long left = end - now_ms();

		if (left <= 0)
			return 0;
		pump(f, left < 50 ? (int)left : 50);
	}
	return 1;
}

/* Pump for ms, whatever happens. */
static void watch(struct fixture *f, int ms)
{
	long long end = now_ms() + ms, left;

	while ((left = end - now_ms()) > 0)
		pump(f, left < 50 ? (int)left : 50);
}

/* The program exited, its output is all read, and every connection
 * reached EOF (forked children included). */
static int all_done(struct fixture *f, const void *arg)
{
	(void)arg;
	if (f->t.pid > 0 || f->t.out >= 0 || f->t.err >= 0)
		return 0;
	for (int i = 0; i < f->v.nconn; i++)
		if (!f->v.eof[i])
			return 0;
	return 1;
}

static int output_has(struct fixture *f, const void *needle)
{
	return strstr(f->t.outbuf, needle) != NULL;
}

/* Run the program to its end; it must exit 0 and say nothing on stderr
 * (the shim never writes to it, the targets only on failure). */
static void finish(struct fixture *f, int ms)
{
	if (!run_until(f, all_done, NULL, ms))
		fail_msg("no clean end within %d ms: pid %d, output \"%s\", stderr \"%s\"",
			 ms, (int)f->t.pid, f->t.outbuf, f->t.errbuf);
	if (f->t.status != 0 || f->t.errlen != 0)
		fail_msg("exit %d, stderr \"%s\"", f->t.status, f->t.errbuf);
}

/* The index of the first stored event from index from on matching ph,
 * call (NULL: any) and seq (0: any), or -1. */
static long find(const struct vis *v, size_t from, enum sl_event_phase ph,
                 const char *call, unsigned long long seq)
{
	for (size_t i = from; i < v->nrec; i++) {
		const struct sl_event *ev = &v->recs[i].ev;

		if (ev->ph == ph && (call == NULL || strcmp(ev->call, call) == 0) &&
		    (seq == 0 || ev->seq == seq))
			return (long)i;
	}
	return -1;
}

struct want {
	enum sl_event_phase ph;
	unsigned long long seq;
};

static int have_event(struct fixture *f, const void *arg)
{
	const struct want *w = arg;

	return find(&f->v, 0, w->ph, NULL, w->seq) >= 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vis_open(&f->v, 0);
	f->t.pid = -1;
	f->t.in = f->t.out = f->t.err = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	target_kill(&f->t);
	vis_close(&f->v);
	free(f);
	return 0;
}

/* The line after the one at p, or NULL at the end. */
static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	return p != NULL && p[1] != '\0' ? p + 1 : NULL;
}

/* ---- tests ----------------------------------------------------------------- */

/* Every wrapped call leaves errno exactly as the real call did: the target
 * checks that itself after each call (failures on purpose: ECONNREFUSED,
 * EADDRINUSE, EBADF, EAGAIN, EPIPE, EFAULT...; successes keep a sentinel),
 * and the after events name the same errno, or the same return value,
 * call by call, in order. __ppoll_chk is among them, as "ppoll". */
static void test_errno_is_preserved_and_reported(void **state)
{
	struct fixture *f = *state;
	const char *p;
	size_t cursor = 0;
	int checked = 0;
	pid_t pid;

	/* Without the shim: the target's own expectations hold. */
	target_start(&f->t, "trace_errno", NULL, NULL, 0, 0);
	finish(f, DEADLINE_MS);
	assert_int_equal(f->v.nconn, 0);

	target_start(&f->t, "trace_errno", NULL, f->v.path, 0, 1);
	pid = f->t.pid;
	finish(f, DEADLINE_MS);
	assert_non_null(strstr(f->t.outbuf, "\nend\n"));

	for (p = f->t.outbuf; p != NULL; p = next_line(p)) {
		char kind[8], call[SL_EVENT_CALL_LEN], err[32] = "";
		const struct sl_event *ev;
		long i;

		if (sscanf(p, "%7s %15s %31s", kind, call, err) < 2 ||
		    strcmp(kind, "end") == 0)
			break;
		/* The next after event of this call from the target itself. */
		for (i = find(&f->v, cursor, SL_PH_AFTER, call, 0);
		     i >= 0 && f->v.recs[i].ev.pid != pid;
		     i = find(&f->v, (size_t)i + 1, SL_PH_AFTER, call, 0))
			;
		if (i < 0)
			fail_msg("no after event for \"%s %s\"", kind, call);
		ev = &f->v.recs[i].ev;
		assert_true(ev->has & SL_EV_RET);
		if (strcmp(kind, "fail") == 0) {
			assert_int_equal(ev->ret, -1);
			assert_true(ev->has & SL_EV_ERR);
			assert_non_null(sl_event_errno_name(ev->err));
			if (strcmp(sl_event_errno_name(ev->err), err) != 0)
				fail_msg("%s: event says %s, the program saw %s", call,
					 sl_event_errno_name(ev->err), err);
		} else {
			assert_true(ev->ret >= 0);
			assert_false(ev->has & SL_EV_ERR);
			if (ev->ret != atoll(err))
				fail_msg("%s: event says %lld, the program saw %s", call,
					 (long long)ev->ret, err);
		}
		cursor = (size_t)i + 1;
		checked++;
	}
	/* 25 failing and 25 succeeding calls in the target. */
	assert_int_equal(checked, 50);
}

static int int_after(const char *out, const char *key, int *a, int *b)
{
	const char *p = strstr(out, key);

	if (p == NULL)
		return 0;
	return sscanf(p + strlen(key), "%d %d", a, b);
}

/* A second thread reports its own tid; a forked child reports its own pid
 * on its own connection, opened afresh (its hello names the parent), and
 * its "after fork" carries the seq of the parent's "before fork". */
static void test_fork_and_thread_have_own_ids(void **state)
{
	struct fixture *f = *state;
	int main_pid, main_tid, thread_tid, child_pid, dummy;
	int thread_seen = 0, main_conn = -1, child_conn = -1;
	long pb, pa, ca;

	target_start(&f->t, "trace_fork", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(int_after(f->t.outbuf, "main ", &main_pid, &main_tid), 2);
	assert_int_equal(int_after(f->t.outbuf, "thread ", &thread_tid, &dummy), 1);
	assert_int_equal(int_after(f->t.outbuf, "child ", &child_pid, &dummy), 1);
	assert_int_not_equal(thread_tid, main_tid);

	for (size_t i = 0; i < f->v.nrec; i++) {
		const struct rec *r = &f->v.recs[i];

		if (r->ev.pid == main_pid) {
			if (main_conn < 0)
				main_conn = r->conn;
			assert_int_equal(r->conn, main_conn);
			if (r->ev.tid == thread_tid)
				thread_seen |= strcmp(r->ev.call, "socket") == 0;
			else
				assert_int_equal(r->ev.tid, main_tid);
		} else {
			assert_int_equal(r->ev.pid, child_pid);
			if (child_conn < 0)
				child_conn = r->conn;
			assert_int_equal(r->conn, child_conn);
			assert_int_equal(r->ev.tid, child_pid);
		}
	}
	assert_true(thread_seen);
	assert_true(main_conn >= 0);
	assert_true(child_conn >= 0);
	assert_int_not_equal(main_conn, child_conn);

	/* The child's first message: hello, naming its parent. */
	for (size_t i = 0; i < f->v.nrec; i++)
		if (f->v.recs[i].conn == child_conn) {
			assert_int_equal(f->v.recs[i].ev.ph, SL_PH_HELLO);
			assert_int_equal(f->v.recs[i].ev.ppid, main_pid);
			break;
		}
	pb = find(&f->v, 0, SL_PH_BEFORE, "fork", 0);
	assert_true(pb >= 0);
	assert_int_equal(f->v.recs[pb].ev.pid, main_pid);
	pa = find(&f->v, 0, SL_PH_AFTER, "fork", f->v.recs[pb].ev.seq);
	assert_true(pa >= 0);
	ca = pa;
	if (f->v.recs[pa].ev.pid == main_pid)
		ca = find(&f->v, (size_t)pa + 1, SL_PH_AFTER, "fork", f->v.recs[pb].ev.seq);
	else
		pa = find(&f->v, (size_t)pa + 1, SL_PH_AFTER, "fork", f->v.recs[pb].ev.seq);
	assert_true(pa >= 0 && ca >= 0);
	assert_int_equal(f->v.recs[pa].ev.pid, main_pid);
	assert_int_equal(f->v.recs[pa].ev.ret, child_pid);
	assert_int_equal(f->v.recs[ca].ev.pid, child_pid);
	assert_int_equal(f->v.recs[ca].ev.ret, 0);
	/* And the child's own socket call came after. */
	assert_true(find(&f->v, (size_t)ca, SL_PH_AFTER, "socket", 0) >= 0);
}

/* With SOCKLAB_TRACE unset the preloaded shim opens no fd and connects
 * nowhere. The control run, traced, shows the same fd count does see the
 * shim's connection (one more fd) when there is one. */
static void test_untraced_opens_and_sends_nothing(void **state)
{
	struct fixture *f = *state;
	int before, after;

	target_start(&f->t, "trace_quiet", NULL, NULL, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(int_after(f->t.outbuf, "fds ", &before, &after), 2);
	assert_true(before > 0);
	assert_int_equal(after, before);
	assert_int_equal(f->v.nconn, 0);
	assert_int_equal(accept(f->v.lfd, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);

	target_start(&f->t, "trace_quiet", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(int_after(f->t.outbuf, "fds ", &before, &after), 2);
	assert_int_equal(after, before + 1);
	assert_int_equal(f->v.nconn, 1);
	assert_true(find(&f->v, 0, SL_PH_AFTER, "accept", 0) >= 0);
}

/* A visualizer that accepts and never reads does not slow a free-running
 * program down to its pace: 100,000 calls finish, the events that found no
 * room are counted, and the count arrives in the next event that gets
 * through. Every event is accounted for: received + dropped = 2 x calls. */
static void test_stalled_visualizer_never_blocks(void **state)
{
	struct fixture *f = *state;

	f->v.reading = 0;
	f->v.keep = 0;
	target_start(&f->t, "trace_flood", NULL, f->v.path, 0, 1);
	if (!run_until(f, output_has, "done 100000\n", FLOOD_DEADLINE_MS))
		fail_msg("the program did not finish its calls: \"%s\" \"%s\"",
			 f->t.outbuf, f->t.errbuf);
	assert_int_equal(f->v.nconn, 1);
	assert_int_equal(f->v.nevents, 0);   /* nothing read yet */

	/* Take what the socket buffer held, then let it make one more call. */
	f->v.reading = 1;
	vis_read(&f->v, 0);
	assert_true(f->v.nevents > 0);
	assert_int_equal(f->v.dropped, 0);   /* the queued ones came first */
	assert_int_equal(write(f->t.in, "\n", 1), 1);
	finish(f, DEADLINE_MS);
	assert_non_null(strstr(f->t.outbuf, "bye\n"));
	assert_true(f->v.dropped > 0);
	assert_int_equal(f->v.max_seq, 100001);
	assert_int_equal(f->v.nevents + f->v.dropped, 2 * f->v.max_seq);
}

/* A visualizer that reads, but slowly (every 10 ms, as one busy drawing
 * a screen might), is behind the program most of the time. The program's
 * last call blocks for ever, so its before event is the only news of where
 * the program stopped: it must arrive, and be the last event. */
static void test_slow_visualizer_still_sees_the_last_call(void **state)
{
	struct fixture *f = *state;
	const unsigned long long last = 5001;   /* 2 x 2,500 calls, then recv */
	struct want w = { SL_PH_BEFORE, last };
	long long end = now_ms() + DEADLINE_MS;
	struct timespec slow = { 0, 10 * 1000000L };

	target_start(&f->t, "trace_lastcall", NULL, f->v.path, 0, 1);
	while (!output_has(f, "blocking after 5000\n") && now_ms() < end) {
		f->v.reading = 0;
		pump(f, 0);            /* connections and the program's output */
		f->v.reading = 1;
		nanosleep(&slow, NULL);
		for (int i = 0; i < f->v.nconn; i++)
			vis_read(&f->v, i);
	}
	if (!output_has(f, "blocking after 5000\n"))
		fail_msg("the program did not reach its last call: \"%s\" \"%s\"",
			 f->t.outbuf, f->t.errbuf);
	if (!run_until(f, have_event, &w, 2000))
		fail_msg("the before event of the last call (%llu) never arrived; "
			 "%llu events, %llu dropped", last, f->v.nevents, f->v.dropped);
	watch(f, QUIET_MS);
	assert_int_equal(f->v.recs[f->v.nrec - 1].ev.ph, SL_PH_BEFORE);
	assert_int_equal(f->v.recs[f->v.nrec - 1].ev.seq, last);
	assert_string_equal(f->v.recs[f->v.nrec - 1].ev.call, "recv");
	assert_true(f->t.pid > 0);   /* still in it */
}

/* The last event must be the before event of call seq, and stay the last
 * for ms: the program is stopped at the gate. */
static void assert_stopped_before(struct fixture *f, unsigned long long seq, int ms)
{
	struct want w = { SL_PH_BEFORE, seq };

	if (!run_until(f, have_event, &w, DEADLINE_MS))
		fail_msg("no before event for call %llu", seq);
	watch(f, ms);
	assert_true(f->v.nrec > 0);
	assert_int_equal(f->v.recs[f->v.nrec - 1].ev.ph, SL_PH_BEFORE);
	assert_int_equal(f->v.recs[f->v.nrec - 1].ev.seq, seq);
	assert_true(f->t.pid > 0);   /* still running */
}

/* Events from one process alternate before/after with seq 1, 2, 3... */
static void assert_alternating(const struct vis *v)
{
	unsigned long long seq = 0;

	assert_true(v->nrec > 1);
	assert_int_equal(v->recs[0].ev.ph, SL_PH_HELLO);
	for (size_t i = 1; i < v->nrec; i++) {
		const struct sl_event *ev = &v->recs[i].ev;

		if (i % 2 == 1) {
			assert_int_equal(ev->ph, SL_PH_BEFORE);
			assert_int_equal(ev->seq, ++seq);
		} else {
			assert_int_equal(ev->ph, SL_PH_AFTER);
			assert_int_equal(ev->seq, seq);
		}
	}
}

/* SOCKLAB_STEP=1: the program stops before every call, its before event
 * already sent, until "go"; "run" lets it go free from there. */
static void test_step_mode_waits_for_go(void **state)
{
	struct fixture *f = *state;
	struct want w;

	target_start(&f->t, "trace_step", NULL, f->v.path, 1, 1);
	assert_stopped_before(f, 1, QUIET_MS);
	assert_int_equal(f->v.recs[0].ev.ph, SL_PH_HELLO);
	assert_int_equal(f->v.recs[0].ev.step, 1);
	for (unsigned long long seq = 1; seq <= 5; seq++) {
		send_ctl(&f->v, 0, SL_CTL_GO);
		w.ph = SL_PH_AFTER;
		w.seq = seq;
		assert_true(run_until(f, have_event, &w, DEADLINE_MS));
		assert_stopped_before(f, seq + 1, seq == 1 ? QUIET_MS : 50);
	}
	/* Call 6 (accept) is waiting; free-run from here. */
	send_ctl(&f->v, 0, SL_CTL_RUN);
	finish(f, DEADLINE_MS);
	assert_alternating(&f->v);
	assert_int_equal(f->v.max_seq, 11);
}

/* Free-running, "ctl=step" from the visualizer stops the program at its
 * next call. */
static void test_ctl_step_pauses_a_free_run(void **state)
{
	struct fixture *f = *state;
	struct want w = { SL_PH_AFTER, 1 };

	target_start(&f->t, "trace_step", "wait", f->v.path, 0, 1);
	assert_true(run_until(f, have_event, &w, DEADLINE_MS));
	assert_int_equal(f->v.recs[0].ev.step, 0);
	send_ctl(&f->v, 0, SL_CTL_STEP);
	assert_int_equal(write(f->t.in, "go\n", 3), 3);
	assert_stopped_before(f, 2, QUIET_MS);
	assert_string_equal(f->v.recs[f->v.nrec - 1].ev.call, "bind");
	send_ctl(&f->v, 0, SL_CTL_GO);
	assert_stopped_before(f, 3, QUIET_MS);
	send_ctl(&f->v, 0, SL_CTL_RUN);
	finish(f, DEADLINE_MS);
	assert_alternating(&f->v);
}

/* A visualizer that goes away while the program waits at the gate sets it
 * free: it carries on untraced. */
static void test_program_continues_when_visualizer_goes(void **state)
{
	struct fixture *f = *state;

	target_start(&f->t, "trace_step", NULL, f->v.path, 1, 1);
	assert_stopped_before(f, 1, 50);
	close(f->v.conn[0]);
	f->v.conn[0] = -1;
	f->v.eof[0] = 1;
	finish(f, DEADLINE_MS);
	assert_non_null(strstr(f->t.outbuf, "done "));
}

/* An unreachable visualizer (no socket at the path): the program runs as
 * if untraced, errno intact, and the shim says nothing on stderr. */
static void test_unreachable_visualizer_is_silent(void **state)
{
	struct fixture *f = *state;
	char path[sizeof(f->v.dir) + 16];

	snprintf(path, sizeof(path), "%s/nobody", f->v.dir);
	target_start(&f->t, "trace_errno", NULL, path, 1, 1);
	finish(f, DEADLINE_MS);
	assert_non_null(strstr(f->t.outbuf, "\nend\n"));
}

/* After events carry the TCP state and the addresses; the caller location
 * names the target binary, and addr2line turns it into the source line of
 * the call. */
static void test_events_show_state_and_caller(void **state)
{
	struct fixture *f = *state;
	char prog[PATH_MAX], obj[SL_EVENT_PATH_LEN], cmd[PATH_MAX + 64], line[512];
	const struct sl_event *ev;
	long i;
	int connect_line = 0;
	uint64_t off;
	FILE *p;

	target_start(&f->t, "trace_step", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(sscanf(strstr(f->t.outbuf, "done "), "done %d", &connect_line), 1);

	i = find(&f->v, 0, SL_PH_AFTER, "listen", 0);
	assert_true(i >= 0);
	assert_int_equal(f->v.recs[i].ev.state, sl_event_state_num("LISTEN"));
	i = find(&f->v, 0, SL_PH_AFTER, "accept", 0);
	assert_true(i >= 0);
	assert_true(f->v.recs[i].ev.has & SL_EV_STATE);
	assert_string_equal(sl_event_state_name(f->v.recs[i].ev.state), "ESTABLISHED");
	i = find(&f->v, 0, SL_PH_AFTER, "connect", 0);
	assert_true(i >= 0);
	ev = &f->v.recs[i].ev;
	assert_int_equal(ev->ret, 0);
	assert_true(ev->has & SL_EV_STATE);
	assert_string_equal(sl_event_state_name(ev->state), "ESTABLISHED");
	assert_true(ev->has & SL_EV_PEER);
	assert_true(ev->has & SL_EV_ADDR);
	assert_string_equal(ev->peer, ev->addr);
	assert_true(strncmp(ev->local, "127.0.0.1:", 10) == 0);
	/* The socket's inode, given where a socket starts and at connect:
	 * the same at socket() and connect(), and another for the listener
	 * and the accepted socket. */
	assert_true((ev->has & SL_EV_INO) && ev->ino != 0);
	{
		long k, lst = find(&f->v, 0, SL_PH_AFTER, "listen", 0), acc;
		uint64_t client = 0, listener = 0;

		for (k = 0; (k = find(&f->v, (size_t)k, SL_PH_AFTER, "socket", 0)) >= 0; k++) {
			assert_true(f->v.recs[k].ev.has & SL_EV_INO);
			if (f->v.recs[k].ev.ret == ev->fd)
				client = f->v.recs[k].ev.ino;
			if (f->v.recs[k].ev.ret == f->v.recs[lst].ev.fd)
				listener = f->v.recs[k].ev.ino;
		}
		assert_true(client == ev->ino);
		assert_true(listener != 0 && listener != client);
		acc = find(&f->v, 0, SL_PH_AFTER, "accept", 0);
		assert_true(f->v.recs[acc].ev.has & SL_EV_INO);
		assert_true(f->v.recs[acc].ev.ino != client && f->v.recs[acc].ev.ino != listener);
	}

	built(prog, "tests/progs/trace_step");
	assert_true(ev->has & SL_EV_AT);
	assert_int_equal(sl_event_at_split(ev->at, obj, sizeof(obj), &off), 0);
	assert_string_equal(obj, prog);
	if (access("/usr/bin/addr2line", X_OK) != 0) {
		print_message("addr2line not installed: file:line not checked\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/addr2line -e '%s' 0x%llx", obj,
		 (unsigned long long)off);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	snprintf(cmd, sizeof(cmd), "trace_step.c:%d", connect_line);
	if (strstr(line, cmd) == NULL)
		fail_msg("addr2line says %s, want %s", line, cmd);
}

/* A program that closes every fd it does not know (close() on 3..4095,
 * then close_range) and dup2()s onto fd 900 keeps its trace: the shim's
 * socket is not its to close, and moves out of the way. */
static void test_closing_every_fd_keeps_the_trace(void **state)
{
	struct fixture *f = *state;
	long i;

	target_start(&f->t, "trace_closeall", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(f->v.nconn, 1);
	i = find(&f->v, 0, SL_PH_AFTER, "socket", 0);
	assert_true(i >= 0);
	/* The last call, after the close-all and the dup2 onto 900. */
	for (i = find(&f->v, (size_t)i + 1, SL_PH_AFTER, "socket", 0);
	     i >= 0 && f->v.recs[i].ev.dom != sl_event_family_num("AF_INET6");
	     i = find(&f->v, (size_t)i + 1, SL_PH_AFTER, "socket", 0))
		;
	assert_true(i >= 0);
	/* The program's close(900) closed its own dup, reported as such. */
	for (i = find(&f->v, 0, SL_PH_BEFORE, "close", 0);
	     i >= 0 && f->v.recs[i].ev.fd != 900;
	     i = find(&f->v, (size_t)i + 1, SL_PH_BEFORE, "close", 0))
		;
	assert_true(i >= 0);
	assert_true(f->v.recs[i].ev.has & SL_EV_LOCAL);
	assert_true(strncmp(f->v.recs[i].ev.local, "127.0.0.1:", 10) == 0);
}

/* The shim's connection does not survive exec (close-on-exec): the new
 * program starts with the fds it would have had anyway, and connects
 * afresh under the same pid with a second hello. */
static void test_exec_starts_a_new_connection(void **state)
{
	struct fixture *f = *state;
	int direct, before, after, hellos = 0;
	pid_t pid;

	target_start(&f->t, "trace_quiet", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(int_after(f->t.outbuf, "fds ", &direct, &after), 2);

	vis_close(&f->v);
	vis_open(&f->v, 0);
	target_start(&f->t, "trace_exec", NULL, f->v.path, 0, 1);
	pid = f->t.pid;
	finish(f, DEADLINE_MS);
	assert_int_equal(int_after(f->t.outbuf, "fds ", &before, &after), 2);
	assert_int_equal(before, direct);
	assert_int_equal(after, before + 1);
	assert_int_equal(f->v.nconn, 2);
	for (size_t i = 0; i < f->v.nrec; i++) {
		assert_int_equal(f->v.recs[i].ev.pid, pid);
		if (f->v.recs[i].ev.ph == SL_PH_HELLO) {
			hellos++;
			assert_int_equal(f->v.recs[i].conn, hellos - 1);
		}
	}
	assert_int_equal(hellos, 2);
}

/* One call the shim should report, in the order trace_vecwait makes them:
 * the fields its before and after events carry (NONE: not there), and
 * what the real call returned. */
#define NONE LLONG_MIN
enum { V_SP0, V_SP1, V_EP, V_PIPE0, V_PIPE1, V_FILE, V_CLOSED, V_MINUS1, V_NFDS,
       V_NOFD = -1 };

struct want_call {
	const char *call;
	int fd;                  /* index into the fds it printed, or V_NOFD */
	long long len, n, timeout;
	long long ret;
	int err;                 /* 0: no err field */
};

static const struct want_call vecwait_calls[] = {
	/* writev of 3 + 4 + 5 bytes, readv into 2 + 8 + 100. */
	{ "writev", V_SP0, 12, NONE, NONE, 12, 0 },
	{ "readv", V_SP1, 110, NONE, NONE, 12, 0 },
	/* An unreadable iovec array, a count over IOV_MAX: no len. */
	{ "writev", V_SP0, NONE, NONE, NONE, -1, EFAULT },
	{ "readv", V_SP1, NONE, NONE, NONE, -1, EINVAL },
	{ "ppoll", V_NOFD, NONE, 2, 1500, 1, 0 },
	{ "ppoll", V_NOFD, NONE, 2, -1, 1, 0 },
	/* tv_sec = LONG_MAX: the most the shim shows, not an overflow. */
	{ "ppoll", V_NOFD, NONE, 2, LLONG_MAX / 2000 * 1000, 1, 0 },
	{ "ppoll", V_NOFD, NONE, 2, 20, 1, 0 },          /* __ppoll_chk */
	{ "ppoll", V_NOFD, NONE, 1, 0, -1, EFAULT },
	{ "pselect", V_NOFD, NONE, FD_SETSIZE, 250, 1, 0 },
	{ "pselect", V_NOFD, NONE, FD_SETSIZE, -1, 1, 0 },
	{ "pselect", V_NOFD, NONE, -1, 0, -1, EINVAL },
	{ "epoll_pwait", V_EP, NONE, 4, 7, 1, 0 },
	{ "epoll_pwait", V_MINUS1, NONE, 4, 0, -1, EBADF },
	{ "epoll_pwait2", V_EP, NONE, 4, 2000, 1, 0 },
	{ "epoll_pwait2", V_EP, NONE, 4, -1, 1, 0 },
	/* The timespec is unreadable: no timeout, and no crash. */
	{ "epoll_pwait2", V_EP, NONE, 4, NONE, -1, EFAULT },
};

static int is_vecwait_call(const char *call)
{
	for (size_t i = 0; i < sizeof(vecwait_calls) / sizeof(vecwait_calls[0]); i++)
		if (strcmp(call, vecwait_calls[i].call) == 0)
			return 1;
	return 0;
}

static void assert_field(const struct sl_event *ev, uint32_t bit, long long got,
                         long long want, const char *what, const struct want_call *w)
{
	if (want == NONE) {
		if (ev->has & bit)
			fail_msg("%s (%lld): has %s %lld, want none", w->call, w->ret,
				 what, got);
	} else if (!(ev->has & bit) || got != want) {
		fail_msg("%s (%lld): %s %lld%s, want %lld", w->call, w->ret, what, got,
			 (ev->has & bit) ? "" : " (absent)", want);
	}
}

/* The arguments, in the before event and again in the after event. */
static void assert_args(const struct sl_event *ev, const struct want_call *w,
                        const int *fds)
{
	assert_field(ev, SL_EV_FD, ev->fd, w->fd == V_NOFD ? NONE : fds[w->fd], "fd", w);
	assert_field(ev, SL_EV_LEN, (long long)ev->len, w->len, "len", w);
	assert_field(ev, SL_EV_N, ev->n, w->n, "n", w);
	assert_field(ev, SL_EV_TIMEOUT, ev->timeout, w->timeout, "timeout", w);
}

/* readv, writev, ppoll (and __ppoll_chk), pselect, epoll_pwait and
 * epoll_pwait2 each show up as a before and an after event with the same
 * seq, carrying the fd, the total iovec length, the count and the timeout
 * in ms; the after event has the real call's result and errno (the target
 * checks those itself, run first without the shim). A bad iovec array or
 * timespec leaves the field out. readv and writev on a pipe, a file or a
 * closed fd make no event at all. */
static void test_vectored_io_and_waits_are_reported(void **state)
{
	struct fixture *f = *state;
	const size_t nwant = sizeof(vecwait_calls) / sizeof(vecwait_calls[0]);
	int fds[V_NFDS], before = 0, after = 0;
	const char *p;
	size_t cursor = 0;

	target_start(&f->t, "trace_vecwait", NULL, NULL, 0, 0);
	finish(f, DEADLINE_MS);
	assert_int_equal(f->v.nconn, 0);

	target_start(&f->t, "trace_vecwait", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	p = strstr(f->t.outbuf, "fds ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "fds %d %d %d %d %d %d %d", &fds[V_SP0], &fds[V_SP1],
				&fds[V_EP], &fds[V_PIPE0], &fds[V_PIPE1], &fds[V_FILE],
				&fds[V_CLOSED]), 7);
	fds[V_MINUS1] = -1;

	for (size_t k = 0; k < nwant; k++) {
		const struct want_call *w = &vecwait_calls[k];
		const struct sl_event *b, *a;
		long ib = find(&f->v, cursor, SL_PH_BEFORE, w->call, 0), ia;

		if (ib < 0)
			fail_msg("call %zu: no before event for %s", k, w->call);
		b = &f->v.recs[ib].ev;
		ia = find(&f->v, (size_t)ib + 1, SL_PH_AFTER, w->call, b->seq);
		if (ia < 0)
			fail_msg("call %zu: no after event for %s seq %llu", k, w->call,
				 (unsigned long long)b->seq);
		a = &f->v.recs[ia].ev;
		assert_false(b->has & SL_EV_RET);
		assert_args(b, w, fds);
		assert_args(a, w, fds);
		assert_true(a->has & SL_EV_RET);
		assert_int_equal(a->ret, w->ret);
		if (w->err != 0) {
			assert_true(a->has & SL_EV_ERR);
			if (a->err != w->err)
				fail_msg("%s (%lld): err %s, want %s", w->call, w->ret,
					 sl_event_errno_name(a->err), sl_event_errno_name(w->err));
		} else {
			assert_false(a->has & SL_EV_ERR);
		}
		cursor = (size_t)ia + 1;
	}
	/* Nothing more: the pipe, the file and the closed fd made no event. */
	for (size_t i = 0; i < f->v.nrec; i++) {
		const struct sl_event *ev = &f->v.recs[i].ev;

		if (ev->ph == SL_PH_HELLO || !is_vecwait_call(ev->call))
			continue;
		if ((ev->has & SL_EV_FD) &&
		    (ev->fd == fds[V_PIPE0] || ev->fd == fds[V_PIPE1] ||
		     ev->fd == fds[V_FILE] || ev->fd == fds[V_CLOSED]))
			fail_msg("%s event on fd %d, not a socket", ev->call, (int)ev->fd);
		if (ev->ph == SL_PH_BEFORE)
			before++;
		else
			after++;
	}
	assert_int_equal(before, nwant);
	assert_int_equal(after, nwant);
}

/* SOCKLAB_TRACE=@NAME reaches a visualizer in the abstract namespace. */
static void test_abstract_socket_path(void **state)
{
	struct fixture *f = *state;

	vis_close(&f->v);
	vis_open(&f->v, 1);
	target_start(&f->t, "trace_quiet", NULL, f->v.path, 0, 1);
	finish(f, DEADLINE_MS);
	assert_int_equal(f->v.nconn, 1);
	assert_int_equal(f->v.recs[0].ev.ph, SL_PH_HELLO);
	assert_true(find(&f->v, 0, SL_PH_AFTER, "connect", 0) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errno_is_preserved_and_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_and_thread_have_own_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untraced_opens_and_sends_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_visualizer_never_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_visualizer_still_sees_the_last_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_mode_waits_for_go, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_step_pauses_a_free_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_program_continues_when_visualizer_goes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_visualizer_is_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_show_state_and_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closing_every_fd_keeps_the_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_starts_a_new_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_socket_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vectored_io_and_waits_are_reported, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
