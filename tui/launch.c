/* launch.c — start, watch and stop the session's processes (launch.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "session.h"
#include "text.h"

/* A program built with -fsanitize=address refuses to start when another
 * library is loaded before the sanitizer's runtime, as a preloaded shim
 * is; this option tells it the order is fine (the shim allocates nothing
 * the sanitizer tracks). */
static void allow_preload_before_asan(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char opts[1024];

	if (old != NULL && old[0] != '\0')
		snprintf(opts, sizeof(opts), "%s:verify_asan_link_order=0", old);
	else
		snprintf(opts, sizeof(opts), "verify_asan_link_order=0");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* In the child, between fork and exec: only async-signal-safe calls and
 * the environment (this process has a single thread). */
static void exec_child(struct session *s, char *const argv[], int out, int err)
{
	int devnull = open("/dev/null", O_RDONLY);
	const char *old = getenv("LD_PRELOAD");
	char preload[PATH_MAX * 2];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out, 1);
	dup2(err, 2);
	if (s->paths->shim[0] != '\0' && s->trace != NULL && s->trace->active) {
		if (old != NULL && old[0] != '\0')
			snprintf(preload, sizeof(preload), "%s %s", s->paths->shim, old);
		else
			snprintf(preload, sizeof(preload), "%s", s->paths->shim);
		setenv("LD_PRELOAD", preload, 1);
		allow_preload_before_asan();
		setenv("SOCKLAB_TRACE", trace_address(s->trace), 1);
		if (s->stepping)
			setenv("SOCKLAB_STEP", "1", 1);
		else
			unsetenv("SOCKLAB_STEP");
	}
	execvp(argv[0], argv);
	dprintf(2, "socklab: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int launch_child(struct session *s, char *const argv[], const char *name, int then)
{
	int out[2], err[2];
	struct child *k;
	pid_t pid;

	if (s->nkids >= KIDS_MAX) {
		session_say(s, "too many processes (at most %d)", KIDS_MAX);
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		session_say(s, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(err, O_CLOEXEC) < 0) {
		session_say(s, "pipe: %s", strerror(errno));
		close(out[0]);
		close(out[1]);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		session_say(s, "fork: %s", strerror(errno));
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		return -1;
	}
	if (pid == 0)
		exec_child(s, argv, out[1], err[1]);
	setpgid(pid, pid);   /* also here: no race with the first kill */
	close(out[1]);
	close(err[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	k = &s->kids[s->nkids++];
	memset(k, 0, sizeof(*k));
	k->pid = pid;
	k->fd[0] = out[0];
	k->fd[1] = err[0];
	k->then = then;
	text_copy(k->name, sizeof(k->name), name);
	session_proc_started(s, pid, name, session_now());
	if (s->selected <= 0)
		s->selected = pid;
	return 0;
}

/* The built program prog of the session's lesson: the lesson's own, or
 * with --work the student's. Returns 0, or -1 with the reason said. */
static int program_path(struct session *s, const char *prog, char *out, size_t size)
{
	int n;

	if (s->opt.prog_dir == NULL) {
		if (paths_program(s->paths, s->lesson->dirname, prog, out, size) == 0)
			return 0;
		session_say(s, "%s/%s is not built: run make", s->lesson->dirname, prog);
		return -1;
	}
	n = snprintf(out, size, "%s/%s", s->opt.prog_dir, prog);
	if (n >= 0 && (size_t)n < size && access(out, X_OK) == 0)
		return 0;
	session_say(s, "your copy has no program %s in %s", prog, s->opt.prog_dir);
	return -1;
}

int launch_command(struct session *s, const char *cmd, int then)
{
	char buf[1024], path[PATH_MAX], *argv[64];
	const char *base;
	int argc = lesson_split_command(cmd, s->port[0] ? s->port : NULL,
					s->addr[0] ? s->addr : NULL, buf, sizeof(buf), argv, 64);

	if (argc <= 0) {
		session_say(s, "cannot start '%s': bad command line", cmd);
		return -1;
	}
	base = argv[0];
	if (s->lesson != NULL && lesson_has_program(s->lesson, argv[0])) {
		if (program_path(s, argv[0], path, sizeof(path)) < 0)
			return -1;
		argv[0] = path;
	}
	return launch_child(s, argv, base, then);
}

static int running_then(const struct session *s)
{
	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i].then && !s->kids[i].exited)
			return 1;
	return 0;
}

/* Every run line has been started and has ended, but for a first program
 * that is still serving while every later one has ended. */
static int runs_over(const struct session *s)
{
	int runs = 0, alive = 0, first_alive = 0;

	if (s->scen == NULL || s->next_run < s->scen->nrun)
		return 0;
	for (int i = 0; i < s->nkids; i++) {
		if (s->kids[i].then)
			continue;
		if (!s->kids[i].exited) {
			alive++;
			if (runs == 0)
				first_alive = 1;
		}
		runs++;
	}
	return alive == 0 || (alive == 1 && first_alive && runs > 1);
}

/* The first program ended before it said where it listens: the later
 * run lines need that address, so they never start; say so once and let
 * the session end (a student's server that cannot listen, say). */
static void first_gave_up(struct session *s)
{
	const struct child *k = &s->kids[0];
	char status[32];

	if (s->nkids == 0 || !k->exited || s->addr[0] != '\0' || s->next_run == 0 ||
	    s->next_run >= s->scen->nrun)
		return;
	s->next_run = s->scen->nrun;
	s->cut_short = 1;
	if (k->code < 0)
		snprintf(status, sizeof(status), "killed by signal %d", -k->code);
	else
		snprintf(status, sizeof(status), "exit status %d", k->code);
	session_say(s, "%s ended (%s) before it said where it listens: nothing "
		    "else was started%s%s", k->name, status,
		    k->last_err[0] ? ": " : "", k->last_err);
	if (s->opt.batch)
		s->exit_code = 1;
}

void launch_next(struct session *s)
{
	if (s->opt.mode != SM_RUN || s->scen == NULL)
		return;
	first_gave_up(s);
	/* The later run lines need the first program's address. */
	if (s->next_run > 0 && s->next_run < s->scen->nrun && s->addr[0] != '\0') {
		int first = s->nkids;

		while (s->next_run < s->scen->nrun)
			if (launch_command(s, s->scen->run[s->next_run++], 0) < 0)
				break;
		/* The server listens: what happens next is the clients'. The
		 * server stays stopped before its next call until chosen. */
		if (first < s->nkids) {
			s->selected = s->kids[first].pid;
			s->follow = 1;
		}
	}
	if (runs_over(s) && !running_then(s) && s->next_then < s->scen->nthen)
		launch_command(s, s->scen->then[s->next_then++], 1);
}

int launch_all_done(const struct session *s)
{
	if (s->opt.mode == SM_RUN)
		return s->scen != NULL && runs_over(s) && !running_then(s) &&
		       s->next_then >= s->scen->nthen;
	if (s->opt.mode != SM_TRACE || s->nkids == 0)
		return 0;
	for (int i = 0; i < s->nkids; i++)
		if (!s->kids[i].exited)
			return 0;
	return 1;
}

int launch_fill(struct session *s, struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < s->nkids && n < max; i++)
		for (int j = 0; j < 2 && n < max; j++)
			if (s->kids[i].fd[j] >= 0) {
				pfd[n].fd = s->kids[i].fd[j];
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				n++;
			}
	return n;
}

/* "listening on 127.0.0.1:40123" from the first program: its address
 * and port ("listening on /tmp/x/echo.sock": an address, no port). */
static void look_for_port(struct session *s, const char *line)
{
	const char *colon;
	char *end;
	long port;

	if (s->addr[0] != '\0' || strncmp(line, "listening on ", 13) != 0 || line[13] == '\0')
		return;
	text_copy(s->addr, sizeof(s->addr), line + 13);
	colon = strrchr(line, ':');
	if (colon == NULL)
		return;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || port <= 0 || port > 65535)
		return;
	snprintf(s->port, sizeof(s->port), "%ld", port);
	model_add_port(&s->model, (uint16_t)port);
}

static void line_out(struct session *s, struct child *k, int stream, const char *line)
{
	mtime_t t = session_now();

	session_output(s, k->pid, line, t);
	if (stream == 1)
		text_copy(k->last_err, sizeof(k->last_err), line);
	if (stream == 0 && k == &s->kids[0])
		look_for_port(s, line);
}

/* Read one chunk. Returns 1 when something was read (there may be more). */
static int read_output(struct session *s, struct child *k, int j)
{
	char chunk[1024];
	ssize_t r = read(k->fd[j], chunk, sizeof(chunk));

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0) {
		if (k->len[j] > 0) {
			k->buf[j][k->len[j]] = '\0';
			line_out(s, k, j, k->buf[j]);
			k->len[j] = 0;
		}
		close(k->fd[j]);
		k->fd[j] = -1;
		return 0;
	}
	for (ssize_t i = 0; i < r; i++) {
		char c = chunk[i];

		if (c == '\n' || k->len[j] + 1 >= sizeof(k->buf[j])) {
			k->buf[j][k->len[j]] = '\0';
			line_out(s, k, j, k->buf[j]);
			k->len[j] = 0;
			if (c == '\n')
				continue;
		}
		k->buf[j][k->len[j]++] = (c == '\t' || (unsigned char)c >= 0x20) ? c : ' ';
	}
	return 1;
}

void launch_ready(struct session *s, const struct pollfd *pfd, int n)
{
	int slot = 0;

	for (int i = 0; i < s->nkids && slot < n; i++)
		for (int j = 0; j < 2 && slot < n; j++)
			if (s->kids[i].fd[j] >= 0) {
				if (pfd[slot].revents & (POLLIN | POLLHUP | POLLERR))
					(void)read_output(s, &s->kids[i], j);
				slot++;
			}
}

static struct child *child_of(struct session *s, pid_t pid)
{
	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i].pid == pid)
			return &s->kids[i];
	return NULL;
}

static void exited(struct session *s, pid_t pid, int status)
{
	struct child *k = child_of(s, pid);
	mtime_t t;

	if (k == NULL || k->exited)
		return;
	k->exited = 1;
	k->code = WIFEXITED(status) ? WEXITSTATUS(status) :
		  WIFSIGNALED(status) ? -WTERMSIG(status) : 0;
	/* Whatever it printed last. */
	/* What it printed last (a process it forked may still hold the
	 * pipe open: read only what is there). */
	for (int j = 0; j < 2; j++)
		while (k->fd[j] >= 0 && read_output(s, k, j))
			;
	t = session_now();
	session_proc_exited(s, pid, k->code, t);
	if (k->code == 127) {
		session_say(s, "%s could not be started: %s", k->name,
			    k->last_err[0] ? k->last_err : "exit status 127");
		if (s->opt.batch)
			s->exit_code = 1;
	}
}

void launch_reap(struct session *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		exited(s, pid, status);
}

static int any_alive(const struct session *s)
{
	for (int i = 0; i < s->nkids; i++)
		if (!s->kids[i].exited)
			return 1;
	return 0;
}

static void signal_all(struct session *s, int sig)
{
	for (int i = 0; i < s->nkids; i++)
		if (!s->kids[i].exited)
			kill(-s->kids[i].pid, sig);
}

void launch_stop_all(struct session *s)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	/* A process held at the step gate goes on once its connection is
	 * closed; then it can act on SIGTERM (the lesson servers exit
	 * cleanly on it). */
	if (s->trace != NULL)
		trace_close_all(s->trace);
	signal_all(s, SIGTERM);
	for (int i = 0; i < 50 && any_alive(s); i++) {
		nanosleep(&pause, NULL);
		launch_reap(s);
	}
	signal_all(s, SIGKILL);
	while (any_alive(s)) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0)
			break;
		exited(s, pid, status);
	}
	for (int i = 0; i < s->nkids; i++)
		for (int j = 0; j < 2; j++)
			if (s->kids[i].fd[j] >= 0) {
				close(s->kids[i].fd[j]);
				s->kids[i].fd[j] = -1;
			}
}
