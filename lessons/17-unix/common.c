/* common.c — what lesson 17's programs share (common.h says what each
 * function is for). The build compiles it once and links it into every
 * program of the lesson.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

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
int unix_address(const char *name, struct sockaddr_un *sun, socklen_t *len)
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
int socket_is_stale(const char *path, int type)
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

/* bind() to name has just failed (errno says why). When a stale socket
 * file holds the path, remove it and bind again (stream-server.c shows
 * these steps one by one). Returns 0 once bound, or -1 after saying why. */
int bind_over_stale(int fd, const char *name, const struct sockaddr_un *sun,
		    socklen_t len, int type)
{
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
	if (bind(fd, (const struct sockaddr *)sun, len) < 0) {
		warn("bind %s:", name);
		return -1;
	}
	return 0;
}

/* ---- sockets by name, for the programs whose lesson is elsewhere ----------- */

int listen_unix(const char *name, int type, int backlog)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, len) < 0 &&
	    bind_over_stale(fd, name, &sun, len, type) < 0) {
		close(fd);
		return -1;
	}
	forget_on_exit(NULL, name);
	if (listen(fd, backlog) < 0) {
		warn("listen %s:", name);
		close(fd);
		return -1;
	}
	return fd;
}

int connect_unix(const char *name, int type)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		warn("connect %s:", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- a private directory, and cleaning up ----------------------------------- */

/* Make a fresh directory for our socket file: $XDG_RUNTIME_DIR/socklab-XXXXXX
 * (a per-user tmpfs, /run/user/UID, that only that user may enter) or, when
 * it is not set, /tmp/socklab-XXXXXX. mkdtemp() picks a name nobody has and
 * creates it with mode 0700, so only our user (and root) can reach any
 * file inside: nobody else can connect to our socket, and nobody can put
 * a file of theirs at our path first. Returns 0, or -1 with errno. */
static int make_private_dir(char *dir, size_t size)
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

const char *socket_name(const char *name, const char *file, char *buf, size_t size)
{
	char dir[PATH_MAX];
	int n;

	if (name != NULL && name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
	if (name != NULL)
		return name;
	if (make_private_dir(dir, sizeof(dir)) < 0)
		die("mkdtemp %s:", dir);
	forget_on_exit(dir, NULL);
	/* The path must fit in sun_path, a limit other paths do not have. */
	n = snprintf(buf, size, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= size || (size_t)n + 1 > SUN_PATH_MAX) {
		errno = ENAMETOOLONG;
		die("socket path %s/%s:", dir, file);
	}
	return buf;
}

/* What to remove at exit: the socket file we bound (its device and inode
 * say it is still ours) and the private directory we made. */
static char cleanup_sock[PATH_MAX];
static dev_t cleanup_dev;
static ino_t cleanup_ino;
static char cleanup_dir[PATH_MAX];

void remove_our_files(int verbose)
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

static void remove_our_files_at_exit(void)
{
	remove_our_files(0);
}

/* The atexit() handler also runs after die(), so a failed start leaves
 * nothing behind. */
void forget_on_exit(const char *dir, const char *path)
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

/* ---- Plumbing: waiting (and stopping cleanly), printing --------------- */

/* poll() the socket and lib/lesson's stop pipe together: a stop signal
 * that comes after the check of stop_requested has written a byte to the
 * pipe, so poll() returns at once instead of sleeping through it (the gap
 * lesson 02 warns about; a server that must remove its socket file at
 * exit cannot afford it). A signal we do not catch cannot interrupt the
 * wait, so the timeout is not restarted by one. */
int wait_ready(int fd, short events, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = events },
		{ .fd = stop_pipe(), .events = POLLIN },
	};

	for (;;) {
		int n;

		if (stop_requested)
			return 0;
		n = poll(pfd, 2, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue; /* a stop signal: the test above sees it */
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (pfd[1].revents != 0)
			return 0;
		return 1;
	}
}

void print_text(const char *buf, size_t len)
{
	size_t show = len < 60 ? len : 60;

	if (show > 0 && buf[show - 1] == '\n')
		show--;
	for (size_t i = 0; i < show; i++)
		putchar(isprint((unsigned char)buf[i]) ? buf[i] : '.');
	if (len > 60)
		printf("...");
}

const char *mode_string(mode_t mode, char buf[11])
{
	static const char rwx[] = "rwxrwxrwx";

	buf[0] = S_ISSOCK(mode) ? 's' : S_ISDIR(mode) ? 'd' : S_ISREG(mode) ? '-' : '?';
	for (int i = 0; i < 9; i++)
		buf[i + 1] = (mode & (0400u >> i)) ? rwx[i] : '-';
	buf[10] = '\0';
	return buf;
}
