/* common.c — what ping and sniff share (common.h says why): dropping
 * privileges once the raw or packet socket is open. The build compiles it
 * once and links it into both programs.
 */
#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"
#include "common.h"

static int privs_sudo_user(uid_t *uid, gid_t *gid);
static void privs_become_user(uid_t uid, gid_t gid);
static void privs_clear_capabilities(void);

void drop_privileges(void)
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

/* Under sudo, the user who ran sudo. Returns 1 and fills uid/gid, or 0. */
static int privs_sudo_user(uid_t *uid, gid_t *gid)
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

static void privs_become_user(uid_t uid, gid_t gid)
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
static void privs_clear_capabilities(void)
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
