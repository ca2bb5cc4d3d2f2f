/* session.c — set up a session, run its poll() loop, and take in what the
 * sources observe (see session.h). The keys are in control.c, the
 * processes in launch.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dump.h"
#include "launch.h"
#include "netns.h"
#include "session.h"
#include "quit.h"
#include "text.h"

#define POLL_MAX 256
/* A redraw, a reap and a check of the deadlines at least this often. */
#define IDLE_MS 500

mtime_t session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mtime_t)ts.tv_sec * NS_PER_S + (mtime_t)ts.tv_nsec;
}

void session_say(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->message, sizeof(s->message), fmt, ap);
	va_end(ap);
	s->message_t = session_now();
	s->model.version++;
	if (s->opt.batch)
		fprintf(stderr, "socklab: %s\n", s->message);
}

/* The private namespace, or the reason there is none. Returns -1 only
 * when the process is stuck half-way into one. */
static int setup_namespace(struct session *s, char *err, size_t errsize)
{
	int rc;

	if (s->opt.mode != SM_RUN)
		return 0;
	if (!s->opt.netns) {
		text_copy(s->ns_why, sizeof(s->ns_why), "--no-netns");
		return 0;
	}
	rc = netns_enter(s->ns_why, sizeof(s->ns_why));
	if (rc == -2) {
		snprintf(err, errsize, "private network namespace: %s", s->ns_why);
		return -1;
	}
	s->private_ns = rc == 0;
	return 0;
}

static int open_recording(struct session *s, char *err, size_t errsize)
{
	struct rec_header h;

	if (s->opt.record_file == NULL || s->opt.mode == SM_REPLAY)
		return 0;
	memset(&h, 0, sizeof(h));
	text_copy(h.mode, sizeof(h.mode),
		  s->opt.mode == SM_RUN ? "run" : s->opt.mode == SM_TRACE ? "trace" : "watch");
	text_copy(h.title, sizeof(h.title), s->title);
	h.t0 = s->started;
	h.ns = s->private_ns;
	h.wire = s->wire != NULL && s->wire->active;
	h.infer = s->model.infer;
	return rec_open(&s->rec, s->opt.record_file, &h, err, errsize);
}

static void make_title(struct session *s)
{
	char cmd[LESSON_TEXT_LEN] = "";

	switch (s->opt.mode) {
	case SM_RUN:
		snprintf(s->title, sizeof(s->title), "%s ", s->lesson->id);
		if (s->scen != &s->lesson->main) {
			text_append(s->title, sizeof(s->title), s->scen->name);
			text_append(s->title, sizeof(s->title), ": ");
		}
		text_append(s->title, sizeof(s->title),
			    s->scen != &s->lesson->main && s->scen->title[0] ?
			    s->scen->title : s->lesson->title);
		if (s->opt.work)
			text_append(s->title, sizeof(s->title), " (your work)");
		break;
	case SM_TRACE:
		for (int i = 0; s->opt.argv[i] != NULL; i++) {
			if (i > 0)
				text_append(cmd, sizeof(cmd), " ");
			text_append(cmd, sizeof(cmd), s->opt.argv[i]);
		}
		snprintf(s->title, sizeof(s->title), "trace: ");
		text_append(s->title, sizeof(s->title), cmd);
		break;
	case SM_WATCH:
		snprintf(s->title, sizeof(s->title), "watch port %u", (unsigned)s->opt.port);
		break;
	case SM_REPLAY:
		snprintf(s->title, sizeof(s->title), "replay: ");
		text_append(s->title, sizeof(s->title), s->opt.replay_file);
		break;
	}
}

int session_init(struct session *s, const struct paths *p, struct lesson *lesson,
                 const struct session_opts *o, char *err, size_t errsize)
{
	memset(s, 0, sizeof(*s));
	model_init(&s->model);
	s->opt = *o;
	s->paths = p;
	s->lesson = lesson;
	s->stepping = o->step;
	s->exit_code = 0;
	if (o->mode == SM_RUN) {
		s->scen = lesson_scenario(lesson, o->scenario);
		if (s->scen == NULL) {
			snprintf(err, errsize, "lesson %s has no scenario '%s'", lesson->id,
				 o->scenario ? o->scenario : "");
			return -1;
		}
	}
	make_title(s);
	if (setup_namespace(s, err, errsize) < 0)
		return -1;
	s->started = session_now();
	s->model.t0 = s->started;
	if (o->mode == SM_REPLAY) {
		s->replay = replay_source_new(s, o->replay_file);
		if (s->replay == NULL || !s->replay->active) {
			snprintf(err, errsize, "%s", s->replay ? s->replay->why : "out of memory");
			return -1;
		}
		return 0;
	}
	if (o->mode != SM_WATCH) {
		s->trace = trace_source_new(s);
		if (s->trace == NULL) {
			snprintf(err, errsize, "out of memory");
			return -1;
		}
		if (p->shim[0] == '\0') {
			s->trace->active = 0;
			snprintf(s->trace->why, sizeof(s->trace->why),
				 "libsltrace.so not found (make build/lib/libsltrace.so)");
		}
	}
	s->diag = diag_source_new(s);
	s->wire = wire_source_new(s, s->private_ns, o->pcap_file);
	if (s->diag == NULL || s->wire == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	if (o->pcap_file != NULL && !s->wire->active) {
		snprintf(err, errsize, "--pcap: no capture: %s", s->wire->why);
		return -1;
	}
	/* Nothing captures: draw what the calls imply, marked inferred. */
	s->model.infer = !s->wire->active && s->trace != NULL;
	if (o->mode == SM_WATCH) {
		/* Whatever uses the port may be IPv6. */
		model_add_port(&s->model, o->port);
		model_add_family(&s->model, AF_INET6);
	}
	if (open_recording(s, err, errsize) < 0)
		return -1;
	if (o->batch)
		s->batch_deadline = s->started + (mtime_t)o->timeout_s * NS_PER_S;
	return 0;
}

int session_start(struct session *s)
{
	if (s->opt.mode != SM_REPLAY)
		s->model.t0 = s->started;
	s->finished = 0;
	s->cut_short = 0;
	s->done_at = 0;
	if (s->opt.mode == SM_RUN) {
		s->next_run = 1;
		s->last_run_t = session_now();
		return launch_command(s, s->scen->run[0], 0);
	}
	if (s->opt.mode == SM_TRACE) {
		const char *base = strrchr(s->opt.argv[0], '/');

		return launch_child(s, s->opt.argv, base ? base + 1 : s->opt.argv[0], 0);
	}
	return 0;
}

/* ---- sinks ---------------------------------------------------------------------- */

/* Is a traced process connecting to dst right now? */
static int connecting_to(const struct model *m, const struct ep *dst)
{
	for (int i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];

		if (p->pending >= 0 && p->pending < m->nlog &&
		    m->log[p->pending].call_id == SL_CALL_CONNECT &&
		    ep_equal(&m->log[p->pending].addr, dst))
			return 1;
	}
	return 0;
}

/* A listener a traced process holds at ep. */
static int traced_listener(struct model *m, const struct ep *ep)
{
	const struct msock *l = sock_listener_for(m, ep);

	return l != NULL && l->nholders > 0;
}

/* On the host's loopback a port of the session may be reused, the moment
 * the session lets go of it, by anybody's program (`socklab trace` of a
 * client, other users' tests). There only what belongs to the traced
 * processes is taken: a connection the model knows, a new one to their
 * listener, or the SYN of their connect(). In a private namespace, and
 * for `watch` (which is about a port), everything on the ports is. */
static int belongs(struct session *s, const struct input *in)
{
	struct model *m = &s->model;

	if (s->opt.mode != SM_TRACE || s->private_ns)
		return 1;
	if (in->kind == IN_SEGMENT) {
		const struct mseg *g = &in->u.seg;

		if (model_sock_by_tuple(m, &g->src, &g->dst) != NULL ||
		    model_sock_by_tuple(m, &g->dst, &g->src) != NULL)
			return 1;
		return (g->flags & (TF_SYN | TF_ACK)) == TF_SYN &&
		       (traced_listener(m, &g->dst) || connecting_to(m, &g->dst));
	}
	if (in->kind == IN_DIAG_SOCK) {
		const struct diag_sock *d = &in->u.diag;
		struct ep none = { 0 };

		if (model_sock_by_tuple(m, &d->local, ep_is_set(&d->peer) ? &d->peer : &none) != NULL)
			return 1;
		return traced_listener(m, &d->local) ||
		       (ep_is_set(&d->peer) && (traced_listener(m, &d->peer) ||
						connecting_to(m, &d->peer)));
	}
	return 1;
}

/* In step mode a process that has made no socket call yet is not
 * stopped at fork(): a wrapper script (pyenv's python3 is one) forks a
 * dozen times before it execs the program the student wants to see, and
 * the first stop should be that program's first socket call. Every other
 * call counts as a socket call (the shim traces read, write and close on
 * sockets only). --all-stops keeps every stop.
 *
 * Decided as the event arrives (one process's events arrive in order), so
 * the process waits no longer than a round trip: "go" goes at once (one a
 * process in free-run gets is ignored), and the event is remembered so
 * that the model, when it takes the event in, shows the process released. */
static void plumbing_arrived(struct session *s, const struct sl_event *ev)
{
	if (s->opt.mode == SM_REPLAY || s->trace == NULL || !(ev->has & SL_EV_CALL))
		return;
	if (ev->call_id != SL_CALL_FORK) {
		if (pidset_add(&s->socket_users, ev->pid) < 0)
			session_say(s, "out of memory");
		return;
	}
	if (s->opt.all_stops || ev->ph != SL_PH_BEFORE || pidset_has(&s->socket_users, ev->pid) ||
	    trace_send_ctl(s->trace, ev->pid, SL_CTL_GO) < 0)
		return;
	s->passed[s->npassed % PASSED_MAX].pid = ev->pid;
	s->passed[s->npassed % PASSED_MAX].seq = ev->seq;
	s->npassed++;
}

/* The model took in a before event that plumbing_arrived let go on. */
static void plumbing_applied(struct session *s, const struct sl_event *ev, mtime_t t)
{
	int n = s->npassed < PASSED_MAX ? s->npassed : PASSED_MAX;

	if (ev->ph != SL_PH_BEFORE || s->npassed == 0)
		return;
	for (int i = 0; i < n; i++)
		if (s->passed[i].pid == ev->pid && s->passed[i].seq == ev->seq) {
			model_proc_released(&s->model, ev->pid, t);
			s->passed[i].pid = 0;
			return;
		}
}

/* Record one input and apply it to the model. */
static void apply_input(struct session *s, const struct input *in)
{
	int rc = 0;

	if (!belongs(s, in))
		return;
	switch (in->kind) {
	case IN_EVENT:
		if (in->line != NULL)
			rec_event_line(&s->rec, in->line, in->len);
		rc = model_apply_event(&s->model, &in->u.ev);
		plumbing_applied(s, &in->u.ev, in->t);
		break;
	case IN_SEGMENT:
		rec_segment(&s->rec, &in->u.seg);
		rc = model_apply_segment(&s->model, &in->u.seg);
		break;
	case IN_DIAG_BEGIN:
		rec_diag_begin(&s->rec, in->t);
		model_diag_begin(&s->model, in->t);
		break;
	case IN_DIAG_SOCK:
		rec_diag_sock(&s->rec, &in->u.diag);
		rc = model_diag_socket(&s->model, &in->u.diag);
		break;
	case IN_DIAG_END:
		rec_diag_end(&s->rec, in->t);
		model_diag_end(&s->model, in->t);
		break;
	case IN_PROC_START:
		rec_proc_start(&s->rec, in->u.proc.pid, in->u.proc.text, in->t);
		rc = model_proc_started(&s->model, in->u.proc.pid, in->u.proc.text, in->t);
		if (s->selected <= 0)
			s->selected = in->u.proc.pid;
		break;
	case IN_PROC_EXIT:
		rec_proc_exit(&s->rec, in->u.proc.pid, in->u.proc.code, in->t);
		model_proc_exited(&s->model, in->u.proc.pid, in->u.proc.code, in->t);
		break;
	case IN_OUTPUT:
		rec_output(&s->rec, in->u.proc.pid, in->u.proc.text, in->t);
		rc = model_output(&s->model, in->u.proc.pid, in->u.proc.text, in->t);
		break;
	}
	if (rc < 0)
		session_say(s, "out of memory");
}

/* A replay is in order already: apply at once. Live inputs wait in the
 * queue for older ones still on their way. */
static void take_input(struct session *s, const struct input *in, const char *line, size_t len)
{
	if (s->opt.mode == SM_REPLAY) {
		struct input copy = *in;

		copy.line = (char *)line;
		copy.len = len;
		apply_input(s, &copy);
		return;
	}
	if (inqueue_add(&s->inputs, in, line, len) < 0)
		session_say(s, "out of memory");
}

void session_flush(struct session *s, mtime_t upto)
{
	struct input in;

	while (inqueue_take(&s->inputs, upto, &in)) {
		apply_input(s, &in);
		free(in.line);
	}
}

/* Ports go to the capture filter and the dumps at once, before the event
 * waits in the queue: the segments of a connect() follow within µs. */
static void learn_ports(struct session *s, const struct sl_event *ev)
{
	struct ep e;

	if ((ev->has & SL_EV_ADDR) && ep_parse(ev->addr, &e) == 0) {
		model_add_port(&s->model, e.port);
		model_add_family(&s->model, e.family);
	}
	if ((ev->has & SL_EV_LOCAL) && ep_parse(ev->local, &e) == 0) {
		model_add_port(&s->model, e.port);
		model_add_family(&s->model, e.family);
	}
	if ((ev->has & SL_EV_DOM) && ev->dom == AF_INET6)
		model_add_family(&s->model, AF_INET6);
	if (s->wire != NULL && s->wire->tick != NULL)
		s->wire->tick(s->wire, session_now());
}

void session_event(struct session *s, const struct sl_event *ev, const char *line,
                   size_t len)
{
	struct input *in = malloc(sizeof(*in));

	if (in == NULL) {
		session_say(s, "out of memory");
		return;
	}
	memset(in, 0, sizeof(*in));
	in->kind = IN_EVENT;
	in->t = (ev->has & SL_EV_T) ? ev->t : session_now();
	in->u.ev = *ev;
	if (s->opt.mode != SM_REPLAY)
		learn_ports(s, ev);
	plumbing_arrived(s, ev);
	take_input(s, in, line, len);
	free(in);
	/* A call returned: look at the kernel's table soon. */
	if (ev->ph == SL_PH_AFTER && s->diag != NULL)
		diag_poke(s->diag, 10);
}

void session_segment(struct session *s, const struct mseg *g)
{
	struct input in;

	memset(&in, 0, sizeof(in));
	in.kind = IN_SEGMENT;
	in.t = g->t;
	in.u.seg = *g;
	take_input(s, &in, NULL, 0);
}

static void diag_input(struct session *s, enum input_kind kind, mtime_t t,
                       const struct diag_sock *d)
{
	struct input in;

	memset(&in, 0, sizeof(in));
	in.kind = kind;
	in.t = t;
	if (d != NULL)
		in.u.diag = *d;
	take_input(s, &in, NULL, 0);
}

void session_diag_begin(struct session *s, mtime_t t)
{
	s->diag_t = t;
	diag_input(s, IN_DIAG_BEGIN, t, NULL);
}

void session_diag_sock(struct session *s, const struct diag_sock *d)
{
	diag_input(s, IN_DIAG_SOCK, s->diag_t, d);
}

void session_diag_end(struct session *s, mtime_t t)
{
	/* The whole dump is one moment: the moment it was asked for. */
	diag_input(s, IN_DIAG_END, s->opt.mode == SM_REPLAY ? t : s->diag_t, NULL);
}

void session_replay_header(struct session *s, const struct rec_header *h)
{
	if (h->t0 != 0)
		s->model.t0 = h->t0;
	s->model.infer = h->infer;
	s->private_ns = h->ns;
	if (h->title[0] != '\0') {
		snprintf(s->title, sizeof(s->title), "replay: ");
		text_append(s->title, sizeof(s->title), h->title);
	}
}

static void proc_input(struct session *s, enum input_kind kind, int32_t pid,
                       const char *text, int code, mtime_t t)
{
	struct input in;

	memset(&in, 0, sizeof(in));
	in.kind = kind;
	in.t = t;
	in.u.proc.pid = pid;
	in.u.proc.code = code;
	text_copy(in.u.proc.text, sizeof(in.u.proc.text), text != NULL ? text : "");
	take_input(s, &in, NULL, 0);
}

void session_trace_closed(struct session *s, int32_t pid)
{
	/* Our own children are reaped with their real exit status. */
	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i].pid == pid)
			return;
	proc_input(s, IN_PROC_EXIT, pid, NULL, EXIT_UNKNOWN, session_now());
}

void session_proc_started(struct session *s, int32_t pid, const char *name, mtime_t t)
{
	proc_input(s, IN_PROC_START, pid, name, 0, t);
}

void session_proc_exited(struct session *s, int32_t pid, int code, mtime_t t)
{
	proc_input(s, IN_PROC_EXIT, pid, NULL, code, t);
}

void session_output(struct session *s, int32_t pid, const char *text, mtime_t t)
{
	proc_input(s, IN_OUTPUT, pid, text, 0, t);
}

void session_replay_go(struct session *s, int32_t pid, mtime_t t)
{
	model_proc_released(&s->model, pid, t);
	s->selected = pid;
}

/* ---- the loop ------------------------------------------------------------------- */

struct slots {
	struct source *src;
	int first, n;
};

static struct source *ordered(struct session *s, int i)
{
	/* The capture first: its segments happened before the calls'
	 * results that arrive in the same pass. */
	struct source *order[4] = { s->wire, s->trace, s->diag, s->replay };

	return order[i];
}

static mtime_t earliest(mtime_t a, mtime_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* --batch, a scenario with a hold: when the run ends, whatever is still
 * waiting (lessons.h); 0 when there is no such moment (yet). */
static mtime_t hold_end(const struct session *s)
{
	if (!s->opt.batch || s->opt.mode != SM_RUN || s->scen == NULL ||
	    s->scen->hold_ms <= 0 || s->next_run < s->scen->nrun || s->last_run_t == 0)
		return 0;
	return s->last_run_t + (mtime_t)s->scen->hold_ms * NS_PER_MS;
}

static int timeout_ms(struct session *s, struct frontend *fe, mtime_t now)
{
	mtime_t when = now + (mtime_t)IDLE_MS * NS_PER_MS;

	/* A recording in --batch goes to its end at once. */
	if (s->opt.batch && s->opt.mode == SM_REPLAY)
		return 0;
	for (int i = 0; i < 4; i++) {
		struct source *src = ordered(s, i);

		if (src != NULL && src->deadline != NULL)
			when = earliest(when, src->deadline(src));
	}
	if (fe != NULL && fe->deadline != NULL)
		when = earliest(when, fe->deadline(fe->ctx));
	if (s->done_at != 0 && s->opt.batch)
		when = earliest(when, s->done_at + (mtime_t)s->opt.settle_ms * NS_PER_MS);
	if (hold_end(s) != 0)
		when = earliest(when, hold_end(s));
	if (s->run_at != 0)
		when = earliest(when, s->run_at);
	if (inqueue_oldest(&s->inputs) != 0)
		when = earliest(when, inqueue_oldest(&s->inputs) + INQUEUE_WINDOW_NS);
	if (when <= now)
		return 0;
	return (int)((when - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* Follow the step: when the selected process is blocked in a call or has
 * ended, select the one that most recently stopped at the gate: the
 * action goes on where it just was (a server parked before its close()
 * waits until the clients have had their turn). */
static void follow_selection(struct session *s, mtime_t now)
{
	struct mproc *cur = model_proc(&s->model, s->selected), *best = NULL;

	if (cur != NULL && cur->phase == PH_GATE)
		return;
	/* Launched a moment ago: the model learns of it shortly. */
	if (cur == NULL)
		for (int i = 0; i < s->nkids; i++)
			if (s->kids[i].pid == s->selected && !s->kids[i].exited)
				return;
	/* Just started: wait for its first call (for a while). */
	if (cur != NULL && cur->phase == PH_STARTING && now - cur->phase_t < 2 * NS_PER_S)
		return;
	if (cur != NULL && cur->phase != PH_EXITED && cur->phase != PH_STARTING &&
	    (!s->follow || now - cur->phase_t < 150 * NS_PER_MS))
		return;
	for (int i = 0; i < s->model.nprocs; i++) {
		struct mproc *p = &s->model.procs[i];

		if (p->phase == PH_GATE && (best == NULL || p->phase_t > best->phase_t))
			best = p;
	}
	if (best != NULL)
		s->selected = best->pid;
	else if (cur == NULL && s->model.nprocs > 0)
		s->selected = s->model.procs[0].pid;
}

static void batch_finish(struct session *s)
{
	if (s->wire != NULL)
		wire_drain(s->wire);
	if (s->diag != NULL) {
		diag_poke(s->diag, 0);
		s->diag->tick(s->diag, session_now());
	}
	session_flush(s, UINT64_MAX);
	/* A replay's clock is the recording's, not ours. */
	if (s->opt.mode != SM_REPLAY)
		model_tick(&s->model, session_now());
	if (dump_model(&s->model, stdout) < 0) {
		fprintf(stderr, "socklab: writing the model: %s\n", strerror(errno));
		s->exit_code = 1;
	}
	s->quit = 1;
}

static void check_end(struct session *s, mtime_t now)
{
	if (!s->finished && launch_all_done(s)) {
		s->finished = 1;
		s->done_at = now;
		/* Cut short: the reason stays on the status line. */
		if (!s->opt.batch && !s->cut_short)
			session_say(s, "every program has ended: r runs it again, q quits");
	}
	if (s->opt.batch && s->opt.mode == SM_REPLAY) {
		replay_to_end(s->replay);
		/* Stopped half-way: no picture of half a recording. */
		if (!quit_requested())
			batch_finish(s);
		return;
	}
	if (!s->opt.batch)
		return;
	if (s->done_at != 0 && now >= s->done_at + (mtime_t)s->opt.settle_ms * NS_PER_MS) {
		batch_finish(s);
	} else if (hold_end(s) != 0 && now >= hold_end(s)) {
		batch_finish(s);
	} else if (now >= s->batch_deadline) {
		if (s->opt.mode != SM_WATCH) {
			fprintf(stderr, "socklab: the programs did not end within %d s\n",
				s->opt.timeout_s);
			s->exit_code = 1;
		}
		batch_finish(s);
	}
}

static void one_pass(struct session *s, struct frontend *fe)
{
	struct pollfd pfd[POLL_MAX];
	struct slots sl[4];
	int n = 0, ui_n = 0, kids_first, kids_n, r;
	mtime_t now = session_now();

	/* Slot 0: a stop asked for (quit.h) wakes the loop at once. */
	pfd[0].fd = quit_fd();
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (fe != NULL && fe->fill != NULL)
		ui_n = fe->fill(fe->ctx, pfd + 1, POLL_MAX - 1);
	n = 1 + ui_n;
	kids_first = n;
	kids_n = launch_fill(s, pfd + n, POLL_MAX - n);
	n += kids_n;
	for (int i = 0; i < 4; i++) {
		sl[i].src = ordered(s, i);
		sl[i].first = n;
		sl[i].n = 0;
		if (sl[i].src != NULL && sl[i].src->fill != NULL) {
			sl[i].n = sl[i].src->fill(sl[i].src, pfd + n, POLL_MAX - n);
			n += sl[i].n;
		}
	}
	r = poll(pfd, (nfds_t)n, timeout_ms(s, fe, now));
	if (r < 0 && errno != EINTR) {
		session_say(s, "poll: %s", strerror(errno));
		s->quit = 1;
		s->exit_code = 1;
		return;
	}
	if (r > 0) {
		for (int i = 0; i < 4; i++)
			if (sl[i].n > 0)
				sl[i].src->ready(sl[i].src, pfd + sl[i].first, sl[i].n);
		launch_ready(s, pfd + kids_first, kids_n);
		if (ui_n > 0)
			fe->ready(fe->ctx, pfd + 1, ui_n);
	}
	if (quit_requested())
		return;
	now = session_now();
	launch_reap(s);
	if (s->opt.mode != SM_REPLAY)
		launch_check_input(s, 0);
	/* The sources first: the capture then passes on the segments of a
	 * port the first program just announced before the next programs
	 * start. */
	for (int i = 0; i < 4; i++)
		if (sl[i].src != NULL && sl[i].src->tick != NULL)
			sl[i].src->tick(sl[i].src, now);
	launch_next(s);
	if (now > INQUEUE_WINDOW_NS)
		session_flush(s, now - INQUEUE_WINDOW_NS);
	if (s->opt.mode != SM_REPLAY)
		model_tick(&s->model, now);
	follow_selection(s, now);
	check_end(s, now);
}

int session_loop(struct session *s, struct frontend *fe)
{
	while (!s->quit) {
		if (quit_requested()) {
			s->quit = 1;
			if (s->opt.batch)
				s->exit_code = 1;
			break;
		}
		one_pass(s, fe);
		if (fe != NULL && fe->draw != NULL && !s->quit)
			fe->draw(fe->ctx);
	}
	return s->exit_code;
}

void session_free(struct session *s)
{
	struct source *all[4] = { s->trace, s->diag, s->wire, s->replay };

	launch_stop_all(s);
	for (int i = 0; i < 4; i++)
		if (all[i] != NULL)
			all[i]->destroy(all[i]);
	s->trace = s->diag = s->wire = s->replay = NULL;
	session_flush(s, UINT64_MAX);
	inqueue_free(&s->inputs);
	pidset_free(&s->socket_users);
	rec_close(&s->rec);
	if (s->rec.failed)
		fprintf(stderr, "socklab: writing %s failed: the recording is incomplete\n",
			s->rec.path);
	model_free(&s->model);
}
