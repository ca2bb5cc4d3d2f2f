/* netns.h — a private network namespace for `socklab run`.
 *
 * In a namespace of its own the session has a loopback nobody else uses,
 * so every socket sock_diag shows and every segment on lo is the lesson's.
 * An ordinary user gets one with unshare(CLONE_NEWUSER | CLONE_NEWNET):
 * inside the new user namespace it holds CAP_NET_RAW over the new network
 * namespace, which is what a capture on lo needs. Root needs only
 * CLONE_NEWNET. Call this before any thread or socket exists; the lesson
 * programs started afterwards share the namespace, and run as the same
 * user (uid and gid map to themselves: no root inside).
 */
#ifndef TUI_NETNS_H
#define TUI_NETNS_H

#include <stddef.h>

/* Enter a private network namespace with lo up. Returns 0; -1 when
 * unshare() failed (the process is unchanged: run on the host's lo); or
 * -2 when a step after unshare() failed (the process is in a namespace
 * without a usable loopback and cannot go back). why says what failed:
 * "unshare(CLONE_NEWUSER|CLONE_NEWNET): Operation not permitted (user
 * namespaces disabled?)". */
int netns_enter(char *why, size_t size);

/* ---- namespaces beside this one (hosts.c), for a process that is in a
 * namespace of its own: each call returns to the current namespace. ---- */

/* Make a new network namespace with its lo up, and size its socket
 * table as netns_enter does. Returns an fd for it (O_CLOEXEC: it lives
 * while the fd or a process in it does), or -1 with errno set. */
int netns_new(void);
/* A socket made inside the namespace nsfd: it stays in that namespace
 * whatever namespace its user is in. Returns the fd, or -1 (errno). */
int netns_socket(int nsfd, int domain, int type, int protocol);
/* Write text to path (a /proc/sys/net file) as seen from namespace nsfd.
 * Returns 0, or -1 (errno). */
int netns_write(int nsfd, const char *path, const char *text);

#endif
