/* control.c — what the keys do to a session: step, continue, pause,
 * select a process, restart. */
#include <stdio.h>
#include <string.h>

#include "launch.h"
#include "session.h"

static const char *call_of(const struct session *s, const struct mproc *p)
{
	if (p->pending >= 0 && p->pending < s->model.nlog)
		return s->model.log[p->pending].call;
	return "?";
}

/* The process that most recently stopped at the gate, or NULL (the same
 * choice the selection follows, session.c). */
static struct mproc *latest_waiting(struct session *s)
{
	struct mproc *best = NULL;

	for (int i = 0; i < s->model.nprocs; i++) {
		struct mproc *p = &s->model.procs[i];

		if (p->phase == PH_GATE && (best == NULL || p->phase_t > best->phase_t))
			best = p;
	}
	return best;
}

void session_step(struct session *s)
{
	struct mproc *p;
	mtime_t now = session_now();

	if (s->replay != NULL) {
		replay_play(s->replay, 0);
		replay_step(s->replay);
		return;
	}
	p = model_proc(&s->model, s->selected);
	/* Starting, or between two calls: it stops at its next call soon;
	 * stepping another process instead would surprise. */
	if (p != NULL && (p->phase == PH_STARTING || p->phase == PH_RUNNING) &&
	    now - p->phase_t < 2 * NS_PER_S) {
		session_say(s, "%s[%d] is on its way to its next call", p->name, (int)p->pid);
		return;
	}
	if (p == NULL || p->phase != PH_GATE) {
		struct mproc *w = latest_waiting(s);

		if (w == NULL) {
			session_say(s, "no process is waiting at a call%s",
				    s->stepping ? "" : " (c: running free; p pauses)");
			return;
		}
		if (p != NULL && p->phase == PH_INCALL)
			session_say(s, "%s[%d] is inside %s(); selected %s[%d] instead",
				    p->name, (int)p->pid, call_of(s, p), w->name, (int)w->pid);
		s->selected = w->pid;
		p = w;
	}
	if (s->trace == NULL || trace_send_ctl(s->trace, p->pid, SL_CTL_GO) < 0) {
		session_say(s, "%s[%d] is not connected", p->name, (int)p->pid);
		return;
	}
	model_proc_released(&s->model, p->pid, now);
	rec_proc_go(&s->rec, p->pid, now);
	s->follow = 1;
	if (s->diag != NULL)
		diag_poke(s->diag, 5);
}

static void set_mode_all(struct session *s, int ctl, int step)
{
	mtime_t now = session_now();

	for (int i = 0; i < s->model.nprocs; i++) {
		struct mproc *p = &s->model.procs[i];

		if (p->phase == PH_EXITED || !p->traced)
			continue;
		if (s->trace != NULL && trace_send_ctl(s->trace, p->pid, ctl) == 0) {
			model_proc_set_step(&s->model, p->pid, step);
			if (!step && p->phase == PH_GATE)
				model_proc_released(&s->model, p->pid, now);
		}
	}
	s->stepping = step;
}

void session_continue(struct session *s)
{
	if (s->replay != NULL) {
		replay_play(s->replay, 1);
		session_say(s, "playing at recorded speed (p pauses, End jumps to the end)");
		return;
	}
	set_mode_all(s, SL_CTL_RUN, 0);
	s->paused = 0;
	session_say(s, "running free (p pauses every process)");
}

void session_pause(struct session *s)
{
	if (s->replay != NULL) {
		replay_play(s->replay, 0);
		session_say(s, "paused");
		return;
	}
	set_mode_all(s, SL_CTL_STEP, 1);
	s->paused = 1;
	session_say(s, "paused: every process stops before its next call");
}

void session_enter(struct session *s)
{
	const struct mproc *p = model_proc(&s->model, s->selected);
	char who[NAME_LEN + 16];
	int waiting;

	if (s->replay != NULL) {
		session_say(s, "a replay takes no input");
		return;
	}
	if (p == NULL || p->phase == PH_EXITED) {
		session_say(s, "no process is selected to take the line (Tab selects one)");
		return;
	}
	snprintf(who, sizeof(who), "%s[%d]", p->name, (int)p->pid);
	waiting = launch_waits_input(s, p->pid);
	if (launch_send_line(s, p->pid, "") < 0)
		return;
	if (waiting)
		session_say(s, "Enter sent to %s", who);
	else
		session_say(s, "Enter sent to %s, which is not reading its input now: "
			    "the line waits for it", who);
}

void session_select_next(struct session *s)
{
	int n = s->model.nprocs, cur = -1;

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
		if (s->model.procs[i].pid == s->selected)
			cur = i;
	/* Skip processes that have ended, unless all have. */
	for (int k = 1; k <= n; k++) {
		struct mproc *p = &s->model.procs[(cur + k + n) % n];

		if (p->phase != PH_EXITED || k == n) {
			s->selected = p->pid;
			break;
		}
	}
	s->follow = 0;
	s->model.version++;
}

void session_restart(struct session *s)
{
	if (s->replay != NULL) {
		replay_rewind(s->replay);
		session_say(s, "replay rewound (space steps, c plays)");
		return;
	}
	if (s->opt.mode == SM_WATCH) {
		session_say(s, "nothing to restart: watch only looks");
		return;
	}
	launch_stop_all(s);
	s->nkids = 0;
	s->port[0] = '\0';
	s->addr[0] = '\0';
	s->next_run = s->next_then = 0;
	s->selected = 0;
	s->follow = 0;
	inqueue_free(&s->inputs);
	pidset_free(&s->socket_users);
	s->npassed = 0;
	model_reset(&s->model);
	s->started = session_now();
	if (s->opt.step)
		s->stepping = 1;
	if (session_start(s) == 0)
		session_say(s, "restarted");
}
