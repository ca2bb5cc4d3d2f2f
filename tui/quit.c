/* quit.c — signals and the terminal's end, turned into one request that
 * every loop can see (quit.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "quit.h"

static volatile sig_atomic_t requested;
static int wake[2] = { -1, -1 };

static void poke(void)
{
	int saved = errno;

	/* Full already: it is readable, which is all it is for. */
	if (wake[1] >= 0)
		(void)!write(wake[1], "x", 1);
	errno = saved;
}

static void on_signal(int sig)
{
	if (requested == 0)
		requested = sig;
	poke();
}

int quit_init(void)
{
	struct sigaction sa;

	if (wake[0] < 0 && pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking call returns EINTR and its loop looks. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Best effort: without it, what escapes a process group goes to init. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

int quit_requested(void)
{
	return requested;
}

void quit_request(int why)
{
	if (requested == 0)
		requested = why;
	poke();
}

int quit_fd(void)
{
	return wake[0];
}

const char *quit_reason(int why)
{
	switch (why) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	case QUIT_HANGUP: return "the terminal went away";
	default: return why ? "a signal" : "nothing";
	}
}

/* pid's parent, from /proc/PID/stat (the field after the state, which
 * follows the last ')': a command name may hold ')' itself). */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	ssize_t n;
	int fd;
	long ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	if (close_paren == NULL || sscanf(close_paren + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

struct pp {
	pid_t pid, ppid;
};

int quit_descendants(pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct pp *all = NULL;
	struct dirent *e;
	int n = 0, cap = 0, found = 0, grew = 1;
	pid_t self = getpid();

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		pid_t ppid;

		if (*end != '\0' || pid <= 0 || pid == self)
			continue;
		ppid = parent_of((pid_t)pid);
		if (ppid <= 0)
			continue;
		if (n == cap) {
			struct pp *v = realloc(all, (size_t)(cap ? cap * 2 : 256) * sizeof(*v));

			if (v == NULL)
				break;
			all = v;
			cap = cap ? cap * 2 : 256;
		}
		all[n].pid = (pid_t)pid;
		all[n].ppid = ppid;
		n++;
	}
	closedir(d);
	/* Children of ours first, then theirs, until a pass adds nothing. */
	while (grew && found < max) {
		grew = 0;
		for (int i = 0; i < n && found < max; i++) {
			int mine = all[i].ppid == self, seen = 0;

			for (int k = 0; k < found && !mine; k++)
				mine = all[i].ppid == out[k];
			for (int k = 0; k < found && !seen; k++)
				seen = all[i].pid == out[k];
			if (mine && !seen) {
				out[found++] = all[i].pid;
				grew = 1;
			}
		}
	}
	free(all);
	return found;
}
