/* privs.h — give up privileges as soon as the privileged socket is open.
 *
 * A raw or packet socket needs CAP_NET_RAW, but only at the moment
 * socket() is called: the open descriptor keeps working after the
 * capability is gone. So ping and sniff open their socket first and then
 * call drop_privileges(), which
 *
 *  1. becomes an ordinary user again when running as root for someone
 *     else: under sudo (uid 0 and SUDO_UID/SUDO_GID set) that is the sudo
 *     user, in a setuid-root program the real user. Order matters:
 *     setgroups() and setgid() first, while we still may; setuid() last,
 *     which as root sets real, effective and saved uid all at once. Then
 *     it checks that setuid(0) fails — proof that no way back remains;
 *  2. clears every capability (effective, permitted, inheritable) with
 *     capset(); this also covers plain root without sudo (uid 0 stays, but
 *     uid 0 without capabilities cannot override file permissions, kill
 *     other users' processes or open more raw sockets), and a program
 *     given cap_net_raw with setcap;
 *  3. sets PR_SET_NO_NEW_PRIVS, so no exec() could ever hand privileges
 *     back (not even to uid 0 running a setuid program).
 *
 * A program that reads packets from the network parses bytes anyone may
 * have sent; if a bug lets them take it over, they get only what is left
 * after this. tcpdump does the same (its -Z option).
 *
 * Shared by ping.c and sniff.c; static inline, because each .c file of a
 * lesson is built into its own program.
 */
#ifndef LESSON16_PRIVS_H
#define LESSON16_PRIVS_H

#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "lesson.h"

/* Under sudo, the user who ran sudo. Returns 1 and fills uid/gid, or 0. */
static inline int privs_sudo_user(uid_t *uid, gid_t *gid)
{
	const char *u = getenv("SUDO_UID");
	const char *g = getenv("SUDO_GID");
	long lu, lg;

	if (u == NULL || g == NULL)
		return 0;
	if (sl_num_parse(u, 0, 0x7fffffff, &lu) < 0 ||
	    sl_num_parse(g, 0, 0x7fffffff, &lg) < 0)
		die("SUDO_UID='%s', SUDO_GID='%s': not user and group ids", u, g);
	*uid = (uid_t)lu;
	*gid = (gid_t)lg;
	return 1;
}

static inline void privs_become_user(uid_t uid, gid_t gid)
{
	/* The supplementary groups are root's under sudo: none are needed. */
	if (setgroups(0, NULL) < 0)
		die("setgroups:");
	if (setgid(gid) < 0)
		die("setgid %u:", (unsigned)gid);
	if (setuid(uid) < 0)
		die("setuid %u:", (unsigned)uid);
	if (setuid(0) == 0)
		die("dropping root failed: setuid(0) still works");
}

/* glibc has no capset() wrapper (libcap has one); the system call is
 * simple enough: a header naming the version and process, then the three
 * sets as bit masks, two 32-bit words each. All zero: no capabilities. */
static inline void privs_clear_capabilities(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0, /* this thread */
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		die("capset:");
}

static inline void drop_privileges(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (uid == 0)
		privs_sudo_user(&uid, &gid);
	if (geteuid() == 0 && uid != 0)
		privs_become_user(uid, gid);
	privs_clear_capabilities();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_NO_NEW_PRIVS):");
}

#endif
