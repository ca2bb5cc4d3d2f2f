/* watch.c — socklab check NN --watch: check the copy again after every
 * save, the way rustlings' watch mode does.
 *
 * inotify reports each file written and closed (IN_CLOSE_WRITE) and each
 * file renamed into the folder (IN_MOVED_TO: editors such as vim and
 * emacs save by writing a new file and renaming it over the old one).
 * A save often comes as a burst of events, so we wait for a short quiet
 * spell before checking. Changes made while a check runs stay queued in
 * the inotify descriptor and start the next check at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "check.h"

#define QUIET_MS 300      /* a save's burst of events is over */
#define MAX_SETTLE_MS 3000

/* Events that mean a source file changed. */
#define CHANGED (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)
/* Events that mean the folder itself is gone. */
#define GONE (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)

static int is_source(const char *name)
{
	size_t n = strlen(name);

	/* Hidden files are editors' swap files and our own build. */
	return n > 2 && name[0] != '.' &&
	       (strcmp(name + n - 2, ".c") == 0 || strcmp(name + n - 2, ".h") == 0);
}

/* Read every queued event. Returns 1 if a source file changed (its name
 * in changed), 0 if not, -1 when the folder went away or on an error. */
static int drain(int fd, char *changed, size_t size)
{
	/* Aligned as struct inotify_event, as inotify(7) asks. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return any;
		if (n <= 0)
			return -1;
		for (char *at = buf; at < buf + n; ) {
			const struct inotify_event *e = (const struct inotify_event *)at;

			if (e->mask & GONE)
				return -1;
			if ((e->mask & CHANGED) && e->len > 0 && is_source(e->name)) {
				if (!any)
					ex_copy_str(changed, size, e->name);
				any = 1;
			}
			at += sizeof(*e) + e->len;
		}
	}
}

/* Wait up to ms for fd to be readable; ex_stop ends the wait early. */
static int wait_readable(int fd, long long ms)
{
	long long deadline = ex_now_ms() + ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - ex_now_ms();
		int rc;

		if (ex_stop)
			return -1;
		if (ms >= 0 && left <= 0)
			return 0;
		/* Short slices: a signal that lands just before poll() is seen
		 * within 200 ms, not lost. */
		rc = poll(&pfd, 1, ms < 0 || left > 200 ? 200 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

int ex_watch(const struct ex_paths *p, const struct ex_lesson *l,
	     const char *copy, const char *build, const struct ex_check_opts *o)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	char changed[256];

	if (fd < 0) {
		fprintf(stderr, "socklab: inotify_init1: %s\n", strerror(errno));
		return 1;
	}
	if (inotify_add_watch(fd, copy, CHANGED | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		fprintf(stderr, "socklab: watch %s: %s\n", copy, strerror(errno));
		close(fd);
		return 1;
	}
	for (;;) {
		int rc;

		if (ex_check_copy(p, l, copy, build, o) < 0 && !ex_stop) {
			close(fd);
			return 1;
		}
		if (ex_stop)
			break;
		printf("Watching %s: save a file to check again (Ctrl-C to stop).\n", copy);
		fflush(stdout);
		/* Wait for a change to a source file. */
		do {
			rc = wait_readable(fd, -1);
			if (rc > 0)
				rc = drain(fd, changed, sizeof(changed));
		} while (rc == 0);
		if (rc < 0)
			break;
		/* Let the save finish: wait for a quiet spell. */
		for (long long settle = ex_now_ms() + MAX_SETTLE_MS; ex_now_ms() < settle; ) {
			char more[256];
			int r = wait_readable(fd, QUIET_MS);

			if (r > 0 && drain(fd, more, sizeof(more)) < 0)
				r = -1;
			if (r <= 0) {
				rc = r;
				break;
			}
		}
		if (rc < 0 || ex_stop)
			break;
		printf("\n=== %s changed: checking again ===\n", changed);
	}
	close(fd);
	if (ex_stop) {
		printf("\nStopped watching.\n");
		return 0;
	}
	fprintf(stderr, "socklab: %s is gone: stopped watching\n", copy);
	return 1;
}
