/* unixlesson.h — what lesson 17's programs share.
 *
 *  - unix_address(): fill a struct sockaddr_un from a name. A name is a
 *    file path, or "@name" for Linux's abstract namespace (no file at all).
 *  - make_private_dir(): a fresh directory only we may enter, to hold a
 *    socket file; forget_on_exit(): remove our socket file and that
 *    directory at exit, even after die().
 *  - socket_is_stale(): tell a leftover socket file from a live one;
 *    bind_unix(): bind, replacing a stale file (stream-server.c spells
 *    these steps out in its own code).
 *  - install_stop_handlers() and wait_ready(): stop cleanly on SIGINT and
 *    SIGTERM, without the gap lesson 02 describes.
 *
 * Everything here is static inline: the Makefile builds each .c file of a
 * lesson into its own program, so shared code lives in a header.
 */
#ifndef LESSON17_UNIXLESSON_H
#define LESSON17_UNIXLESSON_H

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lesson.h"

/* sun_path holds 108 bytes on Linux (104 on the BSDs): a socket's path,
 * its terminating NUL included, must fit. */
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)NULL)->sun_path)

/* ---- names ------------------------------------------------------------------ */

/* Fill sun for name and set *len to the length bind() and connect() need.
 *
 * A path is copied with its NUL, and len counts it.
 * "@name" is Linux's abstract namespace: sun_path starts with a NUL byte,
 * the name follows, and len says where it ends. No file is created, no
 * permissions apply, and the name disappears when the last socket bound
 * to it is closed, so there is nothing to clean up after a crash.
 * Every byte up to len is part of an abstract name, so bind() and
 * connect() must pass the same len (this function always computes it the
 * same way). Returns 0, or -1 with errno EINVAL (empty) or ENAMETOOLONG. */
static inline int unix_address(const char *name, struct sockaddr_un *sun,
                               socklen_t *len)
{
	/* EXERCISE 1: fill a sockaddr_un from a path, or from "@name" */
	size_t n = strlen(name);

	if (n == 0 || (n == 1 && name[0] == '@')) {
		errno = EINVAL;
		return -1;
	}
	/* A path needs room for its NUL; an abstract name's '@' becomes the
	 * leading NUL, so it needs exactly n bytes. */
	if ((name[0] == '@' ? n : n + 1) > SUN_PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (name[0] == '@') {
		memcpy(sun->sun_path + 1, name + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		memcpy(sun->sun_path, name, n + 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
	/* END EXERCISE 1 */
}

/* ---- a private directory, and cleaning up ----------------------------------- */

/* Make a fresh directory for our socket file: $XDG_RUNTIME_DIR/socklab-XXXXXX
 * (a per-user tmpfs, /run/user/UID, that only that user may enter) or, when
 * it is not set, /tmp/socklab-XXXXXX. mkdtemp() picks a name nobody has and
 * creates it with mode 0700, so only our user (and root) can reach any
 * file inside: nobody else can connect to our socket, and nobody can put
 * a file of theirs at our path first. Returns 0, or -1 with errno. */
static inline int make_private_dir(char *dir, size_t size)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	int n;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	n = snprintf(dir, size, "%s/socklab-XXXXXX", base);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* What to remove at exit: the socket file we bound (its device and inode
 * say it is still ours) and the private directory we made. */
static char cleanup_sock[PATH_MAX];
static dev_t cleanup_dev;
static ino_t cleanup_ino;
static char cleanup_dir[PATH_MAX];

/* Remove our socket file and private directory, if any; say so when
 * verbose. Safe to call twice: it forgets what it removed. */
static inline void remove_our_files(int verbose)
{
	struct stat st;

	/* A socket file outlives the socket: close() leaves it on disk, and
	 * the next bind() to the path fails with EADDRINUSE. So a server
	 * unlinks it, but only if the file at the path is still the one it
	 * created: another server may have replaced it meanwhile. */
	if (cleanup_sock[0] != '\0' && lstat(cleanup_sock, &st) == 0 &&
	    st.st_dev == cleanup_dev && st.st_ino == cleanup_ino) {
		if (unlink(cleanup_sock) < 0)
			warn("unlink %s:", cleanup_sock);
		else if (verbose)
			printf("removed %s\n", cleanup_sock);
	}
	cleanup_sock[0] = '\0';
	if (cleanup_dir[0] != '\0') {
		if (rmdir(cleanup_dir) < 0)
			warn("rmdir %s:", cleanup_dir);
		else if (verbose)
			printf("removed %s\n", cleanup_dir);
	}
	cleanup_dir[0] = '\0';
}

static inline void remove_our_files_at_exit(void)
{
	remove_our_files(0);
}

/* Remember what to remove at exit: dir (our private directory, or NULL)
 * and path (the socket file we just bound, or NULL). The atexit() handler
 * also runs after die(), so a failed start leaves nothing behind. */
static inline void forget_on_exit(const char *dir, const char *path)
{
	static int registered;
	struct stat st;

	if (!registered) {
		if (atexit(remove_our_files_at_exit) != 0)
			die("atexit: cannot register the cleanup");
		registered = 1;
	}
	if (dir != NULL)
		snprintf(cleanup_dir, sizeof(cleanup_dir), "%s", dir);
	if (path != NULL && path[0] != '@' && lstat(path, &st) == 0) {
		snprintf(cleanup_sock, sizeof(cleanup_sock), "%s", path);
		cleanup_dev = st.st_dev;
		cleanup_ino = st.st_ino;
	}
}

/* Join dir and name into out; die when the result will not fit in
 * sun_path (a limit paths of sockets have and other paths do not). */
static inline void socket_path_in(char *out, size_t size, const char *dir,
                                  const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size || (size_t)n + 1 > SUN_PATH_MAX) {
		errno = ENAMETOOLONG;
		die("socket path %s/%s:", dir, name);
	}
}

/* ---- stale socket files ------------------------------------------------------ */

/* Is the socket file at path a leftover that nobody serves? A socket file
 * stays on disk after its server exits (killed with SIGKILL, say), and
 * then bind() to that path fails with EADDRINUSE. Deleting every file in
 * the way would be wrong: a second copy of a server would delete the
 * first one's socket, which keeps running but can no longer be reached.
 * So ask: connect() to it. ECONNREFUSED means no socket is bound to that
 * file any more. A live server accepts the probe (and sees a client that
 * closes at once). lstat() first: a file that is not a socket is never
 * called stale, so we never delete someone's data. The probe does not
 * block: a live listener with a full backlog gives EAGAIN, not stale. */
static inline int socket_is_stale(const char *path, int type)
{
	/* EXERCISE 2: tell a stale socket file from a live one: connect() to it */
	struct sockaddr_un sun;
	socklen_t len;
	struct stat st;
	int probe, stale;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (unix_address(path, &sun, &len) < 0)
		return 0;
	probe = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return 0;
	stale = connect(probe, (struct sockaddr *)&sun, len) < 0 && errno == ECONNREFUSED;
	close(probe);
	return stale;
	/* END EXERCISE 2 */
}

/* bind() fd, a Unix socket of the given type, to name. When bind() fails
 * with EADDRINUSE because a stale socket file holds the path, remove that
 * file and bind again (stream-server.c shows these steps one by one).
 * Then remember the file, to remove it at exit. Returns 0, or -1 after
 * saying why. */
static inline int bind_unix(int fd, const char *name, int type)
{
	struct sockaddr_un sun;
	socklen_t len;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		/* An abstract name is never stale: it vanishes with its socket. */
		if (errno != EADDRINUSE || name[0] == '@') {
			warn("bind %s:", name);
			return -1;
		}
		if (!socket_is_stale(name, type)) {
			warn("bind %s: in use: a live socket, or not a socket file", name);
			return -1;
		}
		printf("%s: stale socket file (nobody uses it): removing it\n", name);
		if (unlink(name) < 0 && errno != ENOENT) {
			warn("unlink %s:", name);
			return -1;
		}
		if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
			warn("bind %s:", name);
			return -1;
		}
	}
	forget_on_exit(NULL, name);
	return 0;
}

/* ---- stopping cleanly ----------------------------------------------------------- */

/* Set by the SIGINT/SIGTERM handler. A handler may only touch a volatile
 * sig_atomic_t (or call async-signal-safe functions). */
static volatile sig_atomic_t stop_requested;

/* The signal mask while we wait: the program's usual mask, with the stop
 * signals let through. */
static sigset_t wait_mask;

static inline void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Catch SIGINT and SIGTERM, and keep them blocked except while waiting in
 * wait_ready(). A signal that comes while the program works is held by
 * the kernel until the next wait, and ppoll() unblocks it and starts to
 * wait in one atomic step. So it can never slip in between "check the
 * flag" and "block in accept()", the gap lesson 02 warns about; a server
 * that must remove its socket file on exit cannot afford that gap. */
static inline void install_stop_handlers(void)
{
	struct sigaction sa;
	sigset_t stops;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stops, &wait_mask) < 0)
		die("sigprocmask:");
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
}

/* Wait until fd is ready for events (POLLIN: data, a connection or end of
 * file; POLLOUT: room to send), at most timeout_ms (-1: no limit). Returns
 * 1 when it is, 0 when a stop signal came, -1 with errno on error or
 * ETIMEDOUT when the time ran out. (A signal we do not catch cannot
 * interrupt the wait, so the timeout is not restarted by one.) */
static inline int wait_ready(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
	int n;

	for (;;) {
		if (stop_requested)
			return 0;
		n = ppoll(&pfd, 1, timeout_ms < 0 ? NULL : &ts, &wait_mask);
		if (n > 0)
			return 1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* "srwxr-x---" for a file's mode, as ls -l shows it. */
static inline const char *mode_string(mode_t mode, char buf[11])
{
	static const char rwx[] = "rwxrwxrwx";

	buf[0] = S_ISSOCK(mode) ? 's' : S_ISDIR(mode) ? 'd' : S_ISREG(mode) ? '-' : '?';
	for (int i = 0; i < 9; i++)
		buf[i + 1] = (mode & (0400u >> i)) ? rwx[i] : '-';
	buf[10] = '\0';
	return buf;
}

#endif
