/* common.h — what lesson 17's programs share (the code is in common.c,
 * which the build links into each of them).
 *
 *  - unix_address(): fill a struct sockaddr_un from a name. A name is a
 *    file path, or "@name" for Linux's abstract namespace (no file at all).
 *  - socket_is_stale(): tell a leftover socket file from a live one;
 *    bind_over_stale(): after a failed bind(), replace a stale file and
 *    bind again (stream-server.c spells these steps out in its own code).
 *  - socket_name(): the name given with -s, or a socket file in a fresh
 *    directory only we may enter; forget_on_exit() and remove_our_files():
 *    remove our socket file and that directory at exit, even after die().
 *  - wait_ready(): wait for a socket, or for the stop signal of lesson 02
 *    (lib/lesson's stop_on_signals(), which every program here calls).
 * It includes lib/lesson's headers, lesson.h and stop.h, for them all.
 */
#ifndef LESSON17_COMMON_H
#define LESSON17_COMMON_H

#include <poll.h> /* wait_ready() takes poll()'s POLLIN and POLLOUT */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

/* lib/lesson, which every program here uses: die() and warn(), the option
 * table (OPT_SOCKET below is an entry of it), and the signal-safe stop
 * (wait_ready() watches its pipe). */
#include "lesson/lesson.h"
#include "lesson/stop.h"

/* -s PATH|@NAME, the option every program here has (as -b ADDR in the
 * lessons on TCP), for lesson_options(); file is the default's name, in a
 * private directory (socket_name()). */
#define OPT_SOCKET(var, file) \
	{ 's', "socket", OPT_STRING, (var), "PATH|@NAME", \
	  "the socket: a path, or @NAME for an abstract name\n" \
	  "(to listen on, by default: " file " in a new 0700\n" \
	  "directory; a stale socket file there is replaced)", .what = "socket path" }
/* A client's -s: required. */
#define OPT_SERVER_SOCKET(var) \
	{ 's', "socket", OPT_STRING, (var), "PATH|@NAME", \
	  "the server's socket: its path, or @NAME (required)", \
	  .what = "socket path", .required = 1 }

/* sun_path holds 108 bytes on Linux (104 on the BSDs): a socket's path,
 * its terminating NUL included, must fit. */
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)NULL)->sun_path)

/* Fill sun for name ("/a/path" or "@name") and set *len to the length
 * bind() and connect() need. Returns 0, or -1 with errno EINVAL (empty)
 * or ENAMETOOLONG. */
int unix_address(const char *name, struct sockaddr_un *sun, socklen_t *len);

/* Is the socket file at path a leftover nobody serves? 1 only when it is
 * a socket file and connect() to it (a socket of this type) is refused. */
int socket_is_stale(const char *path, int type);

/* bind() of fd, a Unix socket of this type, to name has just failed:
 * when a stale socket file is in the way, remove it and bind again.
 * Returns 0 once bound, or -1 after saying why. */
int bind_over_stale(int fd, const char *name, const struct sockaddr_un *sun,
		    socklen_t len, int type);

/* socket(AF_UNIX, type), bind() to name (over a stale file), listen():
 * what stream-server.c spells out, for any connected type. Returns the
 * listening socket, or -1 after saying why. */
int listen_unix(const char *name, int type, int backlog);

/* socket(AF_UNIX, type) connected to name, or -1 after saying why. */
int connect_unix(const char *name, int type);

/* Where to bind: name when it is not NULL (the -s option), else the path
 * of file in a new directory of mode 0700, written to buf, which the
 * program removes at exit. Exits 1 when it cannot make the directory, 2
 * when name is "". */
const char *socket_name(const char *name, const char *file, char *buf, size_t size);

/* Remember to remove at exit our private directory (dir, or NULL) and
 * the socket file we just bound (path, or NULL; "@name" has no file). */
void forget_on_exit(const char *dir, const char *path);

/* Remove them now (saying so when verbose); at exit they are removed
 * anyway. Safe to call twice. */
void remove_our_files(int verbose);

/* Wait until fd is ready for events (POLLIN: data, a connection or end of
 * file; POLLOUT: room to send), at most timeout_ms (-1: no limit). Returns
 * 1 when it is, 0 when a stop signal came (stop_on_signals()), -1 with
 * errno on error or ETIMEDOUT when the time ran out. */
int wait_ready(int fd, short events, int timeout_ms);

/* Print a message's start as text, with no newline after it: at most 60
 * bytes, each unprintable one as '.', a trailing newline left out, and
 * "..." when there was more. */
void print_text(const char *buf, size_t len);

/* "srwxr-x---" for a file's mode, as ls -l shows it. */
const char *mode_string(mode_t mode, char buf[11]);

#endif
