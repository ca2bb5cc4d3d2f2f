/* netns.c — unshare the network (and, unprivileged, the user) namespace
 * and bring its lo up (see netns.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	if (close(fd) < 0 || n != (ssize_t)len)
		return -1;
	return 0;
}

/* Map our uid and gid to themselves in the new user namespace. setgroups
 * must be denied before an unprivileged process may write gid_map. */
static int map_ids(uid_t uid, gid_t gid, char *why, size_t size)
{
	char map[64];

	if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) {
		snprintf(why, size, "write /proc/self/setgroups: %s", strerror(errno));
		return -1;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0) {
		snprintf(why, size, "write /proc/self/uid_map: %s", strerror(errno));
		return -1;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0) {
		snprintf(why, size, "write /proc/self/gid_map: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int bring_lo_up(char *why, size_t size)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(why, size, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(why, size, "SIOCGIFFLAGS lo: %s", strerror(errno));
		close(fd);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		snprintf(why, size, "SIOCSIFFLAGS lo: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* A namespace whose sockets are hashed in a table of its own, of
 * CHILD_EHASH buckets: made inside the first one, whose
 * tcp_child_ehash_entries (Linux 6.1 and later) sizes the table of the
 * namespaces created from it. Otherwise every namespace shares the host's
 * table, hundreds of thousands of buckets that each sock_diag dump walks
 * (about a millisecond of CPU). Best effort: where the setting is missing
 * or refused, the first namespace serves. */
#define CHILD_EHASH "1024"

static void own_socket_table(void)
{
	if (write_file("/proc/sys/net/ipv4/tcp_child_ehash_entries", CHILD_EHASH) == 0)
		(void)unshare(CLONE_NEWNET);
}

int netns_enter(char *why, size_t size)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int flags = uid == 0 ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET;

	if (unshare(flags) < 0) {
		int e = errno;

		snprintf(why, size, "unshare(%s): %s%s",
			 uid == 0 ? "CLONE_NEWNET" : "CLONE_NEWUSER|CLONE_NEWNET", strerror(e),
			 e == EPERM ? " (user namespaces disabled for ordinary users?)" :
			 e == ENOSPC ? " (a namespace limit reached: /proc/sys/user/max_user_namespaces, "
				       "max_net_namespaces)" :
			 e == EINVAL ? " (no namespaces in this kernel?)" : "");
		return -1;
	}
	if (uid != 0 && map_ids(uid, gid, why, size) < 0)
		return -2;
	own_socket_table();
	return bring_lo_up(why, size) < 0 ? -2 : 0;
}

/* ---- namespaces beside this one ---------------------------------------------- */

/* Run fn inside namespace nsfd and come back. Returns what fn returned,
 * or -1 (errno) when a namespace could not be entered. */
static int inside(int nsfd, int (*fn)(void *), void *arg)
{
	int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), rc, e;

	if (here < 0)
		return -1;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		e = errno;
		close(here);
		errno = e;
		return -1;
	}
	rc = fn(arg);
	e = errno;
	if (setns(here, CLONE_NEWNET) < 0) {
		/* Every later socket would land in the wrong namespace. */
		perror("socklab: setns back to its own namespace");
		abort();
	}
	close(here);
	errno = e;
	return rc;
}

struct sock_args {
	int domain, type, protocol;
};

static int make_socket(void *arg)
{
	const struct sock_args *a = arg;

	return socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);
}

int netns_socket(int nsfd, int domain, int type, int protocol)
{
	struct sock_args a = { domain, type, protocol };

	return inside(nsfd, make_socket, &a);
}

struct write_args {
	const char *path, *text;
};

static int write_it(void *arg)
{
	const struct write_args *a = arg;

	return write_file(a->path, a->text);
}

int netns_write(int nsfd, const char *path, const char *text)
{
	struct write_args a = { path, text };

	return inside(nsfd, write_it, &a);
}

int netns_new(void)
{
	int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd, e;
	char why[128];

	if (here < 0)
		return -1;
	/* Each new namespace then gets a small socket table of its own. */
	(void)write_file("/proc/sys/net/ipv4/tcp_child_ehash_entries", CHILD_EHASH);
	if (unshare(CLONE_NEWNET) < 0) {
		e = errno;
		close(here);
		errno = e;
		return -1;
	}
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	e = errno;
	if (fd >= 0 && bring_lo_up(why, sizeof(why)) < 0) {
		e = EIO;
		close(fd);
		fd = -1;
	}
	if (setns(here, CLONE_NEWNET) < 0) {
		perror("socklab: setns back to its own namespace");
		abort();
	}
	close(here);
	errno = e;
	return fd;
}
