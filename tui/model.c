/* model.c — the session model's processes, call log and trace events.
 * Sockets are in sockets.c, segments and connections in tcpfsm.c, the
 * segments a call implies in infer.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model.h"
#include "text.h"

/* Grow *arr (of *cap elements of size elem) to hold need elements. */
static int grow(void **arr, int *cap, int need, size_t elem)
{
	int n;
	void *p;

	if (need <= *cap)
		return 0;
	n = *cap > 0 ? *cap : 8;
	while (n < need)
		n *= 2;
	p = realloc(*arr, (size_t)n * elem);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	*arr = p;
	*cap = n;
	return 0;
}

#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

void model_free(struct model *m)
{
	for (int i = 0; i < m->nsocks; i++)
		free(m->socks[i].hist);
	for (int i = 0; i < m->natoms; i++)
		free(m->atoms[i]);
	free(m->procs);
	free(m->socks);
	free(m->conns);
	free(m->segs);
	free(m->log);
	free(m->samples);
	free(m->atoms);
	free(m->inferred);
	memset(m, 0, sizeof(*m));
}

void model_reset(struct model *m)
{
	int infer = m->infer;
	uint64_t version = m->version;

	model_free(m);
	m->infer = infer;
	m->version = version + 1;
}

void model_touch(struct model *m, mtime_t t)
{
	if (t != 0) {
		if (m->t0 == 0)
			m->t0 = t;
		if (t > m->now)
			m->now = t;
	}
	m->version++;
}

int model_intern(struct model *m, const char *s)
{
	for (int i = m->natoms - 1; i >= 0; i--)
		if (strcmp(m->atoms[i], s) == 0)
			return i;
	if (GROW(m->atoms, m->capatoms, m->natoms + 1) < 0)
		return -1;
	m->atoms[m->natoms] = strdup(s);
	if (m->atoms[m->natoms] == NULL)
		return -1;
	return m->natoms++;
}

const char *model_atom(const struct model *m, int atom)
{
	if (atom < 0 || atom >= m->natoms)
		return NULL;
	return m->atoms[atom];
}

static const char *const state_names[ST_COUNT] = {
	"-", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
};

const char *model_state_name(int state)
{
	if (state < 0 || state >= ST_COUNT)
		return "?";
	return state_names[state];
}

char *model_flags_text(uint8_t flags, char *buf, size_t size)
{
	static const struct { uint8_t bit; const char *name; } order[] = {
		{ TF_SYN, "SYN" }, { TF_FIN, "FIN" }, { TF_RST, "RST" },
		{ TF_PSH, "PSH" }, { TF_URG, "URG" }, { TF_ACK, "ACK" },
		{ TF_ECE, "ECE" }, { TF_CWR, "CWR" },
	};
	size_t len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int n;

		if (!(flags & order[i].bit))
			continue;
		n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", order[i].name);
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		snprintf(buf, size, "none");
	return buf;
}

/* ---- ports ------------------------------------------------------------------ */

void model_add_port(struct model *m, uint16_t port)
{
	if (port == 0 || model_port_wanted(m, port) || m->nports >= PORTS_MAX)
		return;
	m->ports[m->nports++] = port;
	m->ports_version++;
}

void model_add_family(struct model *m, int family)
{
	if (family == AF_INET6)
		m->seen_inet6 = 1;
}

int model_port_wanted(const struct model *m, uint16_t port)
{
	for (int i = 0; i < m->nports; i++)
		if (m->ports[i] == port)
			return 1;
	return 0;
}

/* ---- processes ------------------------------------------------------------- */

struct mproc *model_proc(struct model *m, int32_t pid)
{
	for (int i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	return NULL;
}

static struct mproc *proc_get(struct model *m, int32_t pid, mtime_t t)
{
	struct mproc *p = model_proc(m, pid);

	if (p != NULL)
		return p;
	if (GROW(m->procs, m->capprocs, m->nprocs + 1) < 0)
		return NULL;
	p = &m->procs[m->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->exe_atom = -1;
	p->pending = -1;
	p->last_at_atom = -1;
	p->phase = PH_STARTING;
	p->phase_t = t;
	p->started = t;
	return p;
}

static void set_phase(struct mproc *p, enum proc_phase ph, mtime_t t)
{
	if (p->phase == PH_EXITED)
		return;
	p->phase = ph;
	p->phase_t = t;
}

int model_proc_started(struct model *m, int32_t pid, const char *name, mtime_t t)
{
	struct mproc *p = proc_get(m, pid, t);

	if (p == NULL)
		return -1;
	text_copy(p->name, sizeof(p->name), name);
	model_touch(m, t);
	return 0;
}

void model_proc_exited(struct model *m, int32_t pid, int code, mtime_t t)
{
	struct mproc *p = model_proc(m, pid);

	if (p == NULL)
		return;
	p->phase = PH_EXITED;
	p->phase_t = t;
	p->exited = 1;
	p->exit_code = code;
	p->pending = -1;
	/* Its fds are closed by the kernel; the sockets stay while the
	 * kernel keeps them (a dump will tell), without a holder. */
	for (int i = 0; i < m->nsocks; i++) {
		struct msock *s = &m->socks[i];

		for (int k = s->nholders - 1; k >= 0; k--)
			if (s->holders[k].pid == pid)
				sock_drop_holder(s, pid, s->holders[k].fd);
		if (s->nholders == 0 && !s->gone && !s->merged && s->last_pid == pid &&
		    (!s->tcp || s->state == ST_LISTEN || s->state == ST_NONE ||
		     (s->state == ST_CLOSE && !(s->diag_seen && ep_is_set(&s->peer)))))
			sock_forget(m, s, t, CAUSE_CALL, "exit");
	}
	model_touch(m, t);
}

void model_proc_released(struct model *m, int32_t pid, mtime_t t)
{
	struct mproc *p = model_proc(m, pid);

	if (p != NULL && p->phase == PH_GATE) {
		set_phase(p, PH_INCALL, t);
		model_touch(m, t);
	}
}

void model_proc_set_step(struct model *m, int32_t pid, int step)
{
	struct mproc *p = model_proc(m, pid);

	if (p != NULL) {
		p->step = step;
		model_touch(m, 0);
	}
}

/* Inherit the parent's sockets: a forked child holds the same fds. */
static void inherit_fds(struct model *m, int32_t parent, int32_t child)
{
	for (int i = 0; i < m->nsocks; i++) {
		struct msock *s = &m->socks[i];
		int nh = s->nholders;

		for (int k = 0; k < nh; k++)
			if (s->holders[k].pid == parent)
				sock_add_holder(s, child, s->holders[k].fd);
	}
}

static int proc_has_fds(const struct model *m, int32_t pid)
{
	for (int i = 0; i < m->nsocks; i++)
		for (int k = 0; k < m->socks[i].nholders; k++)
			if (m->socks[i].holders[k].pid == pid)
				return 1;
	return 0;
}

/* ---- the log --------------------------------------------------------------- */

static struct mlog *log_append(struct model *m, enum log_kind kind, int32_t pid,
                               mtime_t t)
{
	struct mlog *e;

	if (m->nlog >= LOG_MAX) {
		/* Let the oldest half go: a long free run must not eat memory. */
		int drop = LOG_MAX / 2;

		memmove(m->log, m->log + drop, (size_t)(m->nlog - drop) * sizeof(*m->log));
		m->nlog -= drop;
		m->log_dropped += (uint64_t)drop;
		for (int i = 0; i < m->nprocs; i++)
			m->procs[i].pending = m->procs[i].pending >= drop ?
				m->procs[i].pending - drop : -1;
	}
	if (GROW(m->log, m->caplog, m->nlog + 1) < 0)
		return NULL;
	e = &m->log[m->nlog++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->pid = pid;
	e->t = t;
	e->at_atom = -1;
	e->sock = -1;
	e->fd = -1;
	return e;
}

int model_output(struct model *m, int32_t pid, const char *line, mtime_t t)
{
	struct mlog *e = log_append(m, LOG_OUTPUT, pid, t);

	if (e == NULL)
		return -1;
	text_copy(e->text, sizeof(e->text), line);
	model_touch(m, t);
	return 0;
}

int model_note(struct model *m, int32_t pid, const char *text, mtime_t t)
{
	struct mlog *e = log_append(m, LOG_NOTE, pid, t);

	if (e == NULL)
		return -1;
	text_copy(e->text, sizeof(e->text), text);
	model_touch(m, t);
	return 0;
}

static const char *how_name(int64_t how)
{
	switch (how) {
	case 0: return "SHUT_RD";
	case 1: return "SHUT_WR";
	case 2: return "SHUT_RDWR";
	default: return "?";
	}
}

/* The arguments of a call, as a C programmer would write them. */
static void describe_args(const struct sl_event *ev, char *buf, size_t size)
{
	enum sl_event_call c = ev->call_id;
	char fd[16] = "";

	if (ev->has & SL_EV_FD)
		snprintf(fd, sizeof(fd), "%d", (int)ev->fd);
	if (c == SL_CALL_SOCKET) {
		const char *dom = sl_event_family_name(ev->dom);
		const char *type = sl_event_socktype_name(ev->type);

		snprintf(buf, size, "%s, %s", dom ? dom : "?", type ? type : "?");
	} else if ((ev->has & SL_EV_ADDR) && (ev->has & SL_EV_FD) &&
		   (c == SL_CALL_BIND || c == SL_CALL_CONNECT)) {
		snprintf(buf, size, "%s, ", fd);
		text_append(buf, size, ev->addr);
	} else if (c == SL_CALL_LISTEN) {
		snprintf(buf, size, "%s, %lld", fd, (long long)ev->n);
	} else if (c == SL_CALL_SHUTDOWN) {
		snprintf(buf, size, "%s, %s", fd, how_name(ev->n));
	} else if (ev->has & SL_EV_LEN) {
		snprintf(buf, size, "%s, %llu", fd, (unsigned long long)ev->len);
	} else if (sl_event_call_class(c) & SL_CALLS_WAIT) {
		snprintf(buf, size, "%lld, %lld", (long long)ev->n,
			 (long long)ev->timeout);
	} else {
		snprintf(buf, size, "%s", fd);
	}
}

/* The log entry of the call an after event ends: the process's pending
 * call, or one of the last calls (threads interleave). */
static struct mlog *log_find_call(struct model *m, struct mproc *p, uint64_t seq)
{
	if (p->pending >= 0 && p->pending < m->nlog) {
		struct mlog *e = &m->log[p->pending];

		if (e->pid == p->pid && e->seq == seq && !e->done)
			return e;
	}
	for (int i = m->nlog - 1, n = 0; i >= 0 && n < 256; i--, n++) {
		struct mlog *e = &m->log[i];

		if (e->kind == LOG_CALL && e->pid == p->pid && e->seq == seq && !e->done)
			return e;
	}
	return NULL;
}

/* ---- trace events -------------------------------------------------------------- */

/* How far along its life a connection is in each state. */
static int lifecycle_rank(int state)
{
	switch (state) {
	case ST_LISTEN: case ST_SYN_SENT: return 1;
	case ST_SYN_RECV: return 2;
	case ST_ESTABLISHED: return 3;
	case ST_FIN_WAIT1: case ST_CLOSE_WAIT: return 4;
	case ST_FIN_WAIT2: case ST_CLOSING: case ST_LAST_ACK: return 5;
	case ST_TIME_WAIT: return 6;
	default: return 0;
	}
}

/* TCP_INFO is read at some moment before the after event is sent; the
 * wire (or another process's call) may already have shown a later
 * state. A state no connection goes back to is such a stale reading.
 * CLOSE can follow anything (an abort), except that TIME_WAIT's fd reads
 * CLOSE while the connection waits (see model.h). */
static int stale_reading(int cur, int next)
{
	if (next == ST_CLOSE)
		return cur == ST_TIME_WAIT;
	return lifecycle_rank(next) < lifecycle_rank(cur);
}

/* Set what the event says about s: addresses and TCP state. Returns the
 * socket that holds s's fds now: another one when s turns out to be a
 * second view of a connection someone else holds (sock_bind_tuple). */
static struct msock *describe_sock(struct model *m, struct msock *s,
                                   const struct sl_event *ev, mtime_t t)
{
	struct ep local = s->local, peer = s->peer;
	char why[WHY_LEN];

	if (ev->has & SL_EV_LOCAL) {
		if (ep_parse(ev->local, &local) < 0) {
			text_copy(s->local_text, sizeof(s->local_text), ev->local);
		} else {
			model_add_port(m, local.port);
			model_add_family(m, local.family);
		}
	}
	if (ev->has & SL_EV_PEER) {
		if (ep_parse(ev->peer, &peer) == 0)
			model_add_port(m, peer.port);
	}
	if (ep_is_set(&local) && ep_is_set(&peer))
		s = sock_bind_tuple(m, s, &local, &peer);
	else
		s->local = local;
	/* The kernel's table names the socket by this inode: a dump can find
	 * the fd's socket before the fd has an address of its own. */
	if (ev->has & SL_EV_INO)
		s->inode = ev->ino;
	if (ev->has & SL_EV_STATE) {
		s->tcp = 1;
		snprintf(why, sizeof(why), "%s()", ev->call);
		int state = ev->state;

		/* An fd past its own FIN that reads CLOSE, the call not
		 * failing: the peer's FIN came and the kernel moved the
		 * connection to TIME_WAIT (the fd no longer sees it). */
		if (state == ST_CLOSE && !(ev->has & SL_EV_ERR) &&
		    (s->state == ST_FIN_WAIT1 || s->state == ST_FIN_WAIT2 || s->state == ST_CLOSING)) {
			state = ST_TIME_WAIT;
			text_append(why, sizeof(why), " (fd: CLOSE)");
		}
		if (state >= ST_ESTABLISHED && state < ST_COUNT && !stale_reading(s->state, state))
			sock_set_state(m, s, state, t, CAUSE_CALL, why);
	}
	return s;
}

/* A new socket for (pid, fd), replacing whatever the model thought that
 * fd was (a missed close). An accepted connection is usually known
 * already, by its tuple (from a dump or the wire): that one is handed
 * over. */
static struct msock *sock_for_new_fd(struct model *m, int32_t pid, int32_t fd,
                                     const struct sl_event *ev, mtime_t t)
{
	struct msock *old = model_sock_by_fd(m, pid, fd), *s = NULL;
	struct ep local, peer;

	if (old != NULL)
		sock_drop_holder(old, pid, fd);
	if ((ev->has & SL_EV_LOCAL) && (ev->has & SL_EV_PEER) &&
	    ep_parse(ev->local, &local) == 0 && ep_parse(ev->peer, &peer) == 0)
		s = model_sock_by_tuple(m, &local, &peer);
	if (s != NULL && s->nholders == 0) {
		sock_add_holder(s, pid, fd);
		return s;
	}
	s = sock_new(m, t);
	if (s != NULL)
		sock_add_holder(s, pid, fd);
	return s;
}

/* The last fd of s was closed in the call that began at t_call. */
static void closed_last_fd(struct model *m, struct msock *s, int before_state,
                           mtime_t t_call, mtime_t t)
{
	/* A connected fd that reads CLOSE may be the shell of a TIME_WAIT
	 * (see model.h): when dumps see this socket, the next one says
	 * whether the kernel still has the connection. */
	if (before_state == ST_CLOSE && s->diag_seen && ep_is_set(&s->peer))
		return;
	if (!s->tcp || before_state == ST_LISTEN || before_state == ST_CLOSE ||
	    before_state == ST_SYN_SENT || before_state == ST_NONE) {
		sock_forget(m, s, t, CAUSE_CALL, "close()");
		return;
	}
	/* The kernel keeps the connection and finishes it: close() sent a FIN
	 * (confirmed by the wire or the next dump). */
	if (s->state == ST_ESTABLISHED || s->state == ST_SYN_RECV)
		sock_set_state(m, s, ST_FIN_WAIT1, t_call, CAUSE_INFER, "close()");
	else if (s->state == ST_CLOSE_WAIT)
		sock_set_state(m, s, ST_LAST_ACK, t_call, CAUSE_INFER, "close()");
}

static void apply_close(struct model *m, const struct sl_event *ev, struct mlog *e,
                        mtime_t t)
{
	struct msock *s = model_sock_by_fd(m, ev->pid, ev->fd);
	int before_state, queued = m->ninferred;

	if (s == NULL)
		return;
	e->sock = s->id;
	before_state = s->state;
	sock_drop_holder(s, ev->pid, ev->fd);
	if (s->nholders > 0)
		return;   /* another fd (a forked child) keeps it open */
	/* With nothing capturing, the FIN close() sent is drawn; once
	 * applied, that segment moves s on (to FIN_WAIT2, or through
	 * LAST_ACK to gone), as a captured one would. When nothing is drawn
	 * (a capture will show the FIN, or this end sent it before), the
	 * state close() leads to is worked out here. */
	if (m->infer)
		infer_after_call(m, ev, s, before_state);
	if (m->ninferred == queued)
		closed_last_fd(m, s, before_state, e->t, t);
}

/* fork() returned the child's pid to the parent: the child holds the
 * parent's fds. */
static void apply_fork(struct model *m, const struct sl_event *ev, mtime_t t)
{
	struct mproc *child, *parent;

	if (ev->ret <= 0 || ev->ret > INT32_MAX)
		return;
	child = proc_get(m, (int32_t)ev->ret, t);
	parent = model_proc(m, ev->pid);
	if (child == NULL || parent == NULL)
		return;
	child->ppid = parent->pid;
	if (child->name[0] == '\0')
		text_copy(child->name, sizeof(child->name), parent->name);
	if (!proc_has_fds(m, child->pid))
		inherit_fds(m, parent->pid, child->pid);
}

/* What socket() or accept() returned: a new socket for the fd. */
static void apply_new_fd(struct model *m, const struct sl_event *ev, struct mlog *e,
                         mtime_t t)
{
	struct msock *s = sock_for_new_fd(m, ev->pid, (int32_t)ev->ret, ev, t);
	int prev_state;

	if (s == NULL)
		return;
	if (ev->call_id == SL_CALL_SOCKET) {
		s->family = (ev->has & SL_EV_DOM) ? ev->dom : 0;
		model_add_family(m, s->family);
		s->type = (ev->has & SL_EV_TYPE) ? ev->type : 0;
		s->tcp = (s->family == AF_INET || s->family == AF_INET6) &&
			 s->type == SOCK_STREAM;
		if (s->tcp)
			sock_set_state(m, s, ST_CLOSE, t, CAUSE_CALL, "socket()");
	} else {
		struct ep ip;

		/* accept() works on stream sockets; TCP ones have an IP
		 * address (a Unix one has a path). */
		s->type = SOCK_STREAM;
		s->tcp = (ev->has & SL_EV_STATE) ||
			 ((ev->has & SL_EV_LOCAL) && ep_parse(ev->local, &ip) == 0);
	}
	prev_state = s->state;
	s = describe_sock(m, s, ev, t);
	if (s->family == 0)
		s->family = s->local.family;
	e->sock = s->id;
	if (m->infer)
		infer_after_call(m, ev, s, prev_state);
}

/* A call returned (its handshake, if it drew one, is already applied:
 * model_apply_event). */
static void apply_after(struct model *m, const struct sl_event *ev, struct mlog *e,
                        mtime_t t)
{
	struct msock *s;
	int prev_state;

	if (ev->call_id == SL_CALL_FORK) {
		apply_fork(m, ev, t);
		return;
	}
	if (ev->call_id == SL_CALL_CLOSE) {
		if (ev->has & SL_EV_FD)
			apply_close(m, ev, e, t);
		return;
	}
	if (ev->ret >= 0 && ev->ret <= INT32_MAX &&
	    (sl_event_call_class(ev->call_id) & SL_CALLS_NEW_FD)) {
		apply_new_fd(m, ev, e, t);
		return;
	}
	if (!(ev->has & SL_EV_FD))
		return;
	s = model_sock_by_fd(m, ev->pid, ev->fd);
	if (s == NULL) {
		/* A socket the process had before we saw it (inherited); only
		 * when the shim could describe it. ENOTSOCK: not a socket. */
		if (!(ev->has & (SL_EV_LOCAL | SL_EV_STATE)))
			return;
		s = sock_for_new_fd(m, ev->pid, ev->fd, ev, t);
		if (s == NULL)
			return;
	}
	prev_state = s->state;
	if (ev->call_id == SL_CALL_LISTEN && ev->ret == 0)
		s->listening = 1;
	s = describe_sock(m, s, ev, t);
	e->sock = s->id;
	if (m->infer)
		infer_after_call(m, ev, s, prev_state);
}

static void apply_hello(struct model *m, const struct sl_event *ev, mtime_t t)
{
	struct mproc *p = proc_get(m, ev->pid, t), *parent;

	if (p == NULL)
		return;
	p->traced = 1;
	if (ev->has & SL_EV_PPID)
		p->ppid = ev->ppid;
	if (ev->has & SL_EV_EXE) {
		const char *base = strrchr(ev->exe, '/');

		p->exe_atom = model_intern(m, ev->exe);
		if (p->name[0] == '\0')
			text_copy(p->name, sizeof(p->name), base ? base + 1 : ev->exe);
	}
	if (p->name[0] == '\0')
		snprintf(p->name, sizeof(p->name), "pid%d", (int)ev->pid);
	p->step = (ev->has & SL_EV_STEP) && ev->step;
	/* A process that ended with EXIT_UNKNOWN only closed its trace
	 * connection: execve() does that, and the new program says hello. */
	if (p->phase == PH_EXITED && p->exit_code == EXIT_UNKNOWN) {
		p->exited = 0;
		p->phase = PH_RUNNING;
		if (ev->has & SL_EV_EXE) {
			const char *base = strrchr(ev->exe, '/');

			text_copy(p->name, sizeof(p->name), base ? base + 1 : ev->exe);
		}
	}
	if (p->phase == PH_STARTING)
		set_phase(p, PH_RUNNING, t);
	parent = (ev->has & SL_EV_PPID) ? model_proc(m, ev->ppid) : NULL;
	if (parent != NULL && !proc_has_fds(m, p->pid))
		inherit_fds(m, parent->pid, p->pid);
}

/* A call is about to be made: it goes in the log. Returns its entry, or
 * NULL when memory ran out. */
static struct mlog *apply_before(struct model *m, struct mproc *p, const struct sl_event *ev,
                                 mtime_t t)
{
	struct mlog *e = log_append(m, LOG_CALL, p->pid, t);
	struct ep a;

	if (e == NULL)
		return NULL;
	e->seq = ev->seq;
	text_copy(e->call, sizeof(e->call), ev->call);
	e->call_id = ev->call_id;
	if (ev->has & SL_EV_FD)
		e->fd = ev->fd;
	if (ev->has & SL_EV_AT)
		e->at_atom = model_intern(m, ev->at);
	describe_args(ev, e->text, sizeof(e->text));
	p->pending = m->nlog - 1;
	p->calls++;
	if (e->at_atom >= 0)
		p->last_at_atom = e->at_atom;
	set_phase(p, p->step ? PH_GATE : PH_INCALL, t);
	if ((ev->has & SL_EV_ADDR) && ep_parse(ev->addr, &a) == 0) {
		model_add_port(m, a.port);
		model_add_family(m, a.family);
		e->addr = a;
	}
	/* close describes its socket in the before event: nothing is left
	 * to ask afterwards. */
	if (ev->call_id == SL_CALL_CLOSE && (ev->has & SL_EV_FD)) {
		struct msock *s = model_sock_by_fd(m, p->pid, ev->fd);

		if (s != NULL) {
			e->sock = s->id;
			describe_sock(m, s, ev, t);
		}
	}
	return e;
}

/* model_apply_event, once the event is known to make sense. */
static int apply_phase(struct model *m, const struct sl_event *ev, mtime_t t)
{
	struct mproc *p;
	struct mlog *e;

	if (ev->ph == SL_PH_HELLO) {
		apply_hello(m, ev, t);
		return 0;
	}
	p = proc_get(m, ev->pid, t);
	if (p == NULL)
		return -1;
	if (ev->has & SL_EV_DROPPED)
		p->dropped += ev->dropped;
	if (p->phase == PH_STARTING)
		set_phase(p, PH_RUNNING, t);
	if (ev->ph == SL_PH_BEFORE) {
		apply_before(m, p, ev, t);
		return 0;
	}
	/* The before event may have been lost (or belong to the parent of a
	 * forked child): then the call is logged from its after event. */
	e = log_find_call(m, p, ev->seq);
	if (e == NULL && (e = apply_before(m, p, ev, t)) == NULL)
		return 0;
	e->done = 1;
	e->t_after = t;
	e->ret = (ev->has & SL_EV_RET) ? ev->ret : 0;
	e->err = (ev->has & SL_EV_ERR) ? ev->err : 0;
	e->state = (ev->has & SL_EV_STATE) ? ev->state : 0;
	if (p->pending >= 0 && &m->log[p->pending] == e)
		p->pending = -1;
	set_phase(p, PH_RUNNING, t);
	apply_after(m, ev, e, t);
	return 0;
}

/* When the call an after event ends began: its before event's time, or
 * t when that event was lost. */
static mtime_t call_began(struct model *m, const struct sl_event *ev, mtime_t t)
{
	struct mproc *p = model_proc(m, ev->pid);
	struct mlog *e = p != NULL ? log_find_call(m, p, ev->seq) : NULL;

	return e != NULL ? e->t : t;
}

int model_apply_event(struct model *m, const struct sl_event *ev)
{
	mtime_t t = (ev->has & SL_EV_T) ? ev->t : m->now;
	int rc;

	if (!(ev->has & SL_EV_PID) || ev->pid <= 0 ||
	    (ev->ph != SL_PH_HELLO && !(ev->has & SL_EV_CALL))) {
		m->bad_events++;
		return 0;
	}
	model_touch(m, t);
	model_keep_small(m);
	/* With nothing capturing, the segments a call implies are drawn
	 * (infer.c): collected while the event is applied, and applied once
	 * it is, when nothing holds a pointer into the model. A connect()
	 * or accept() that returned had done its handshake before: that is
	 * applied first, so the call's result finds the sockets it made. */
	if (m->infer && ev->ph == SL_PH_AFTER) {
		infer_handshake(m, ev, call_began(m, ev, t));
		model_apply_inferred(m);
	}
	rc = apply_phase(m, ev, t);
	model_apply_inferred(m);
	return rc;
}
