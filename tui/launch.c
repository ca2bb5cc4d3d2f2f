/* launch.c — start, watch and stop the session's processes (launch.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "session.h"
#include "quit.h"
#include "text.h"

/* Stopping: SIGTERM, then SIGKILL after this long (socklab told to stop
 * itself: the shorter one, so that all of it fits in a second). */
#define GRACE_MS 1000
#define GRACE_STOPPING_MS 300
/* After SIGKILL, the processes are gone within this long, or given up. */
#define KILL_WAIT_MS 500
#define DESCENDANTS_MAX 512
#define INPUT_CHECK_NS (200 * NS_PER_MS)
#define INPUT_CHECK_PROCS 64

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
static void exec_child(struct session *s, char *const argv[], int in, int out, int err)
{
	const char *old = getenv("LD_PRELOAD");
	char preload[PATH_MAX * 2];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	dup2(in, 0);
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

static void close_pipes(int p[][2], int n)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < 2; j++)
			if (p[i][j] >= 0)
				close(p[i][j]);
}

int launch_child(struct session *s, char *const argv[], const char *name, int then)
{
	/* stdin, stdout, stderr */
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	struct child *k;
	struct stat st;
	pid_t pid;

	if (s->nkids >= KIDS_MAX) {
		session_say(s, "too many processes (at most %d)", KIDS_MAX);
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			session_say(s, "pipe: %s", strerror(errno));
			close_pipes(p, 3);
			return -1;
		}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		session_say(s, "fork: %s", strerror(errno));
		close_pipes(p, 3);
		return -1;
	}
	if (pid == 0)
		exec_child(s, argv, p[0][0], p[1][1], p[2][1]);
	setpgid(pid, pid);   /* also here: no race with the first kill */
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	/* A program that never reads its stdin must not stop socklab. */
	fcntl(p[0][1], F_SETFL, O_NONBLOCK);
	fcntl(p[1][0], F_SETFL, O_NONBLOCK);
	fcntl(p[2][0], F_SETFL, O_NONBLOCK);
	k = &s->kids[s->nkids++];
	memset(k, 0, sizeof(*k));
	k->pid = pid;
	k->in = p[0][1];
	k->in_ino = fstat(k->in, &st) == 0 ? (unsigned long)st.st_ino : 0;
	k->fd[0] = p[1][0];
	k->fd[1] = p[2][0];
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

/* Has this child done what it will do? It has ended, or (in --batch,
 * where nobody presses Enter) it is held waiting for input. */
static int kid_over(const struct session *s, const struct child *k)
{
	return k->exited || (s->opt.batch && launch_waits_input(s, k->pid));
}

static int running_then(const struct session *s)
{
	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i].then && !kid_over(s, &s->kids[i]))
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
		if (!kid_over(s, &s->kids[i])) {
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

const char *launch_after(const char *cmd, int *ms)
{
	const char *p = cmd;
	char *end;
	long v;

	*ms = 0;
	if (strncmp(p, "after ", 6) != 0)
		return cmd;
	p += 6;
	v = strtol(p, &end, 10);
	if (end == p || v < 0 || v > 600000)
		return cmd;
	if (strncmp(end, "ms ", 3) == 0) {
		end += 3;
	} else if (strncmp(end, "s ", 2) == 0 && v <= 600) {
		v *= 1000;
		end += 2;
	} else {
		return cmd;
	}
	while (*end == ' ')
		end++;
	*ms = (int)v;
	return end;
}

void launch_next(struct session *s)
{
	if (s->opt.mode != SM_RUN || s->scen == NULL)
		return;
	first_gave_up(s);
	/* The later run lines need the first program's address. */
	if (s->next_run > 0 && s->next_run < s->scen->nrun && s->addr[0] != '\0') {
		int first = s->nkids;

		while (s->next_run < s->scen->nrun) {
			mtime_t now = session_now();
			int ms;
			const char *cmd = launch_after(s->scen->run[s->next_run], &ms);

			/* "after 500ms ...": not before that long since the line
			 * before it started (the session comes back then). */
			if (ms > 0 && now < s->last_run_t + (mtime_t)ms * NS_PER_MS) {
				s->run_at = s->last_run_t + (mtime_t)ms * NS_PER_MS;
				break;
			}
			s->run_at = 0;
			s->next_run++;
			s->last_run_t = now;
			if (launch_command(s, cmd, 0) < 0)
				break;
		}
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
		if (!kid_over(s, &s->kids[i]))
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

static int kids_alive(const struct session *s)
{
	for (int i = 0; i < s->nkids; i++)
		if (!s->kids[i].exited)
			return 1;
	return 0;
}

/* Every process group of ours, and every descendant: what left its group
 * (setsid, a double fork re-parented to socklab, the subreaper) too. */
static void signal_all(struct session *s, int sig)
{
	pid_t d[DESCENDANTS_MAX];
	int n;

	for (int i = 0; i < s->nkids; i++)
		if (!s->kids[i].exited)
			kill(-s->kids[i].pid, sig);
	n = quit_descendants(d, DESCENDANTS_MAX);
	for (int i = 0; i < n; i++)
		kill(d[i], sig);
}

/* Reap until nothing of the session is left or ms have passed. Returns
 * 1 when nothing is left. */
static int wait_gone(struct session *s, int ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	pid_t d[1];
	mtime_t until = session_now() + (mtime_t)ms * NS_PER_MS;

	for (;;) {
		launch_reap(s);
		if (!kids_alive(s) && quit_descendants(d, 1) == 0)
			return 1;
		if (session_now() >= until)
			return 0;
		nanosleep(&pause, NULL);
	}
}

void launch_stop_all(struct session *s)
{
	int grace = quit_requested() ? GRACE_STOPPING_MS : GRACE_MS;

	/* A process held at the step gate goes on once its connection is
	 * closed, one waiting for Enter once its stdin ends; then each can
	 * act on SIGTERM (the lesson servers exit cleanly on it). */
	if (s->trace != NULL)
		trace_close_all(s->trace);
	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i].in >= 0) {
			close(s->kids[i].in);
			s->kids[i].in = -1;
		}
	signal_all(s, SIGTERM);
	/* A process stopped by job control acts on nothing until it goes on. */
	signal_all(s, SIGCONT);
	if (!wait_gone(s, grace)) {
		signal_all(s, SIGKILL);
		wait_gone(s, KILL_WAIT_MS);
	}
	for (int i = 0; i < s->nkids; i++)
		for (int j = 0; j < 2; j++)
			if (s->kids[i].fd[j] >= 0) {
				close(s->kids[i].fd[j]);
				s->kids[i].fd[j] = -1;
			}
	s->nreaders = 0;
}

/* ---- stdin ------------------------------------------------------------------- */

/* The inode of the pipe that is pid's fd 0, or 0. */
static unsigned long stdin_inode(int32_t pid)
{
	char path[64], link[64];
	unsigned long ino;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	if (sscanf(link, "pipe:[%lu]", &ino) != 1)
		return 0;
	return ino;
}

int launch_stdin_of(struct session *s, int32_t pid)
{
	unsigned long ino = stdin_inode(pid);

	for (int i = 0; ino != 0 && i < s->nkids; i++)
		if (s->kids[i].in >= 0 && s->kids[i].in_ino == ino)
			return i;
	return -1;
}

/* Is pid blocked in read() on fd 0 (its main thread)? */
static int reads_stdin(int32_t pid)
{
	char path[64], buf[128];
	long nr;
	unsigned long fd;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "NR ARG1 ...", "running", or "-1 SP PC" outside a system call. */
	if (sscanf(buf, "%ld 0x%lx", &nr, &fd) != 2)
		return 0;
	return nr == SYS_read && fd == 0;
}

static void add_reader(struct session *s, int32_t pid)
{
	int kid;

	for (int i = 0; i < s->nreaders; i++)
		if (s->readers[i].pid == pid)
			return;
	if (s->nreaders >= READERS_MAX || !reads_stdin(pid))
		return;
	kid = launch_stdin_of(s, pid);
	if (kid < 0)
		return;
	s->readers[s->nreaders].pid = pid;
	s->readers[s->nreaders].kid = kid;
	s->nreaders++;
}

void launch_check_input(struct session *s, int force)
{
	mtime_t now = session_now();
	int before = s->nreaders;
	int32_t first = before > 0 ? s->readers[0].pid : 0;

	if (!force && now < s->input_checked + INPUT_CHECK_NS)
		return;
	s->input_checked = now;
	s->nreaders = 0;
	/* Our children, and the processes they started (a wrapper's). */
	for (int i = 0; i < s->nkids; i++)
		if (!s->kids[i].exited && s->kids[i].in >= 0)
			add_reader(s, s->kids[i].pid);
	/* The newest of the rest, a bounded number: a traced program that
	 * forks hundreds must not make each check hundreds of /proc reads. */
	for (int i = s->model.nprocs - 1, looked = 0; i >= 0 && looked < INPUT_CHECK_PROCS; i--)
		if (s->model.procs[i].phase != PH_EXITED) {
			add_reader(s, s->model.procs[i].pid);
			looked++;
		}
	if (s->nreaders != before || (before > 0 && s->readers[0].pid != first))
		s->model.version++;
}

int launch_waits_input(const struct session *s, int32_t pid)
{
	for (int i = 0; i < s->nreaders; i++)
		if (s->readers[i].pid == pid)
			return 1;
	return 0;
}

int launch_send_line(struct session *s, int32_t pid, const char *line)
{
	int kid = launch_stdin_of(s, pid);
	char buf[LOG_TEXT_LEN + 1];
	size_t len;
	ssize_t n;

	if (kid < 0) {
		session_say(s, "no input goes to this process (its stdin is not socklab's)");
		return -1;
	}
	text_copy(buf, sizeof(buf) - 1, line);
	len = strlen(buf);
	buf[len++] = '\n';
	n = write(s->kids[kid].in, buf, len);
	if (n != (ssize_t)len) {
		session_say(s, "input to %s: %s", s->kids[kid].name,
			    n < 0 && errno == EPIPE ? "it has closed its stdin" :
			    n < 0 && errno == EAGAIN ? "it is not reading (its pipe is full)" :
			    n < 0 ? strerror(errno) : "only part of the line fitted");
		return -1;
	}
	/* It reads on now; the next check says whether it waits again. */
	for (int i = 0; i < s->nreaders; i++)
		if (s->readers[i].pid == pid)
			s->readers[i] = s->readers[--s->nreaders];
	s->input_checked = session_now();
	s->model.version++;
	return 0;
}
