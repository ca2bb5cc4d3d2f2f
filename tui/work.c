/* work.c — build the student's copy with socklab-exercise (see work.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quit.h"
#include "text.h"
#include "work.h"

/* socklab-exercise bounds each compile itself (two minutes); this bounds
 * the whole build, should it hang anyway. */
#define BUILD_TIMEOUT_MS (10L * 60 * 1000)
#define STOP_GRACE_MS 5000L
/* socklab itself was told to stop (quit.h): be quick. */
#define STOPPING_GRACE_MS 300L

static long since_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Start `socklab-exercise build DIR --print-dir`, its stdout into a pipe
 * (*out), its stderr ours. Returns its pid, or -1 after saying why. */
static pid_t start_build(const char *exe, const char *dirname, int *out)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		fprintf(stderr, "socklab: pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "socklab: fork: %s\n", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		execl(exe, exe, "build", dirname, "--print-dir", (char *)NULL);
		dprintf(2, "socklab: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	*out = fds[0];
	return pid;
}

/* Read fd to its end (what does not fit in buf is read and dropped).
 * Returns 0, or -1 at the deadline or on an error. */
static int read_to_end(int fd, char *buf, size_t size, const struct timespec *start)
{
	size_t used = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = quit_fd(), .events = POLLIN } };
		long left = BUILD_TIMEOUT_MS - since_ms(start);
		char chunk[512];
		ssize_t r;
		int n;

		if (quit_requested())
			return -1;
		if (left <= 0) {
			fprintf(stderr, "socklab: building your copy took over %ld s: stopped\n",
				BUILD_TIMEOUT_MS / 1000);
			return -1;
		}
		n = poll(p, 2, (int)left);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "socklab: poll: %s\n", strerror(errno));
			return -1;
		}
		if (n <= 0 || p[0].revents == 0)
			continue;
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "socklab: reading from socklab-exercise: %s\n", strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		if (used + (size_t)r < size) {
			memcpy(buf + used, chunk, (size_t)r);
			used += (size_t)r;
		}
	}
	buf[used] = '\0';
	return 0;
}

/* Wait for pid; when stop, ask it to stop first (it stops its compiler),
 * then kill it after a grace period. Returns its wait status, or -1. */
static int reap(pid_t pid, int stop)
{
	struct timespec start, pause = { 0, 20 * 1000 * 1000 };
	int status;
	pid_t r;

	if (stop)
		kill(pid, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = waitpid(pid, &status, stop ? WNOHANG : 0);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (stop && r == 0) {
			if (since_ms(&start) > (quit_requested() ? STOPPING_GRACE_MS : STOP_GRACE_MS))
				kill(pid, SIGKILL);
			nanosleep(&pause, NULL);
		}
	}
}

/* The last line of text, without its white space at the end. */
static void last_line(char *text, char *out, size_t size)
{
	size_t n = strlen(text);
	char *nl;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		text[--n] = '\0';
	nl = strrchr(text, '\n');
	text_copy(out, size, nl != NULL ? nl + 1 : text);
}

/* The copy's folder WORK/DIR from the programs' folder
 * WORK/.build/lessons/DIR; "" when prog_dir is not of that form or there
 * is no such folder. */
static void copy_folder(const char *prog_dir, const char *dirname, char *out, size_t size)
{
	char tail[PATH_MAX];
	size_t n = strlen(prog_dir), t;
	int k = snprintf(tail, sizeof(tail), "/.build/lessons/%s", dirname);

	out[0] = '\0';
	if (k < 0 || (size_t)k >= sizeof(tail))
		return;
	t = (size_t)k;
	if (n <= t || strcmp(prog_dir + n - t, tail) != 0)
		return;
	k = snprintf(out, size, "%.*s/%s", (int)(n - t), prog_dir, dirname);
	if (k < 0 || (size_t)k >= size || !is_dir(out))
		out[0] = '\0';
}

/* What the helper's wait status means; 0 when it built the copy. */
static int build_status(int status, const struct lesson *l)
{
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -1;     /* it could not be run: said so */
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1)
		fprintf(stderr, "socklab: run %s --work: nothing was started\n", l->id);
	else if (status != -1 && WIFEXITED(status))
		fprintf(stderr, "socklab: socklab-exercise build %s failed (exit status %d)\n",
			l->id, WEXITSTATUS(status));
	else if (status != -1 && WIFSIGNALED(status))
		fprintf(stderr, "socklab: socklab-exercise build %s was killed by signal %d\n",
			l->id, WTERMSIG(status));
	else
		fprintf(stderr, "socklab: socklab-exercise build %s: %s\n", l->id, strerror(errno));
	return -1;
}

int work_build(const struct paths *p, const struct lesson *l, struct work *w)
{
	char exe[PATH_MAX + 32], out[PATH_MAX + 256];
	struct timespec start;
	int fd = -1, failed, status;
	pid_t pid;

	memset(w, 0, sizeof(*w));
	snprintf(exe, sizeof(exe), "%s/socklab-exercise", p->exe_dir);
	if (access(exe, X_OK) != 0) {
		fprintf(stderr, "socklab: --work needs %s (make): %s\n", exe, strerror(errno));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid = start_build(exe, l->dirname, &fd);
	if (pid < 0)
		return -1;
	failed = read_to_end(fd, out, sizeof(out), &start) < 0;
	close(fd);
	status = reap(pid, failed);
	if (failed || build_status(status, l) < 0)
		return -1;
	last_line(out, w->prog_dir, sizeof(w->prog_dir));
	if (w->prog_dir[0] != '/' || !is_dir(w->prog_dir)) {
		fprintf(stderr, "socklab: socklab-exercise build %s named no folder of "
			"programs (it printed '%s')\n", l->id, w->prog_dir);
		return -1;
	}
	copy_folder(w->prog_dir, l->dirname, w->src_dir, sizeof(w->src_dir));
	return 0;
}
