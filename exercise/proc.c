/* proc.c — run a program under a deadline and an output limit, in a
 * process group of its own, so that it and everything it starts can be
 * stopped at once: a student's server that never returns, crashes or
 * prints for ever must never stop a check or a grading run. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Runs in the child between fork() and exec(). */
static void start_child(char *const argv[], char *const env[], const char *cwd,
			int out)
{
	int null = open("/dev/null", O_RDONLY);

	/* Our own group: killing -pid reaches the program and its children
	 * (the lesson programs a test starts), and the terminal's Ctrl-C
	 * reaches only us, so we decide what to stop. */
	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	if (cwd != NULL && chdir(cwd) < 0) {
		dprintf(2, "chdir %s: %s\n", cwd, strerror(errno));
		_exit(127);
	}
	for (int i = 0; env != NULL && env[i] != NULL; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq == NULL) {
			unsetenv(env[i]);
		} else {
			char name[128];
			size_t n = (size_t)(eq - env[i]);

			if (n < sizeof(name)) {
				memcpy(name, env[i], n);
				name[n] = '\0';
				setenv(name, eq + 1, 1);
			}
		}
	}
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	execvp(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Keep what fits in the buffer; returns -1 once cap is passed. */
static int take(struct ex_proc *r, const char *data, size_t n, size_t cap)
{
	size_t room = cap - r->outlen;

	if (n > room) {
		memcpy(r->out + r->outlen, data, room);
		r->outlen = cap;
		r->out[r->outlen] = '\0';
		return -1;
	}
	memcpy(r->out + r->outlen, data, n);
	r->outlen += n;
	r->out[r->outlen] = '\0';
	return 0;
}

/* Has the child ended? Leaves it a zombie (WNOWAIT), so its pid, which is
 * also the group's id, cannot be reused before we kill the group. */
static int child_ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR;
	return si.si_pid == pid;
}

int ex_proc_run(char *const argv[], char *const env[], const char *cwd,
		long long timeout_ms, size_t cap, struct ex_proc *r, char *err)
{
	long long start = ex_now_ms(), deadline = start + timeout_ms;
	int pipefd[2];
	int st = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->out = malloc(cap + 1);
	if (r->out == NULL) {
		ex_err(err, "out of memory");
		return -1;
	}
	r->out[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ex_err(err, "pipe: %s", strerror(errno));
		ex_proc_free(r);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		ex_err(err, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		ex_proc_free(r);
		return -1;
	}
	if (pid == 0)
		start_child(argv, env, cwd, pipefd[1]);
	/* Both sides set the group, so it exists whichever runs first. */
	setpgid(pid, pid);
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

	for (int in = pipefd[0];;) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		long long left = deadline - ex_now_ms();
		int ended;

		if (ex_stop) {
			r->interrupted = 1;
			break;
		}
		if (left <= 0) {
			r->timed_out = 1;
			break;
		}
		ended = child_ended(pid);
		/* After the end, only read what is already in the pipe. */
		if (poll(&pfd, in >= 0 ? 1 : 0, ended ? 0 : (int)(left < 50 ? left : 50)) > 0) {
			char chunk[8192];
			ssize_t n = read(in, chunk, sizeof(chunk));

			if (n == 0) {
				close(in);
				in = pipefd[0] = -1;
			} else if (n > 0 && take(r, chunk, (size_t)n, cap) < 0) {
				r->flooded = 1;
				break;
			}
			if (n >= 0)
				continue;
		}
		if (ended) {
			r->ended = 1;
			break;
		}
	}
	/* Stop the group: the program if it still runs, and whatever it left
	 * behind (a lesson server a test did not stop). */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* In a grading box: what left the group too (setsid) goes now. */
	ex_box_sweep();
	r->status = st;
	r->pid = (int)pid;
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	r->ms = ex_now_ms() - start;
	return 0;
}

void ex_proc_free(struct ex_proc *r)
{
	free(r->out);
	r->out = NULL;
	r->outlen = 0;
}
