/* box.c — a box for a student's untrusted code while it is graded.
 *
 * `socklab check --all` compiles and runs every student's code, as the
 * instructor, often as root in CI. Each student is graded by a process of
 * its own (grade.c), which shuts itself in before anything of the student's
 * is built:
 *
 *   user   a user namespace of its own (so its process count is its own,
 *          and capabilities end at its edge and at the first exec): as
 *          root, the box is made first and the code then runs as uid and
 *          gid 65534 (nobody), if the socklab tree is readable to it;
 *          otherwise as the grader's own uid
 *   mount  everything read-only; a private /tmp (tmpfs, 256 MiB), /dev/shm
 *          and /var/tmp; the class folder hidden (no student sees another's
 *          folder, nor its own original); the student's handed-in files
 *          copied into /tmp/socklab-box/src, the only place to write
 *          besides /tmp; the socklab tree and its build shown read-only
 *   net    a network namespace of its own: only its own lo (up), so no
 *          connection leaves it, to another student's server or anywhere
 *   pid    a PID namespace: this process is its first (pid 1), and after
 *          every program run kills whatever that run left behind (a
 *          setsid() escapee included); when it exits the kernel kills the
 *          rest
 *   ipc    System V IPC of its own
 *   rlimits  CPU 120 s, address space 2 GiB (not in a sanitizer build,
 *          which reserves far more), 256 processes, 64 MiB per file, 4096
 *          open files: soft and hard, so the code cannot raise them
 *
 * Where namespaces are refused (no user namespaces for this user, a
 * seccomp filter, an old kernel) it says so, and grades with the rlimits
 * alone, marked as such in every format.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define NOBODY 65534
#define BOX "/tmp/socklab-box"
#define MAX_FILE (1024 * 1024)

/* This process is the first of the box's PID namespace. */
static int in_box;

/* ---- rlimits --------------------------------------------------------------------- */

/* Are the copies built with a sanitizer (make SANITIZE=... passes it in
 * CFLAGS)? */
static int sanitized(void)
{
	const char *cflags = getenv("CFLAGS");

	return cflags != NULL && strstr(cflags, "-fsanitize") != NULL;
}

/* Each limit as soft and hard: a student's program cannot raise it. */
static int set_limits(char *what, size_t size)
{
	struct { int res; rlim_t v; const char *name; } lim[] = {
		{ RLIMIT_CPU, 120, "CPU 120 s" },
		{ RLIMIT_AS, 2048UL << 20, "address space 2 GiB" },
		{ RLIMIT_NPROC, 256, "256 processes" },
		{ RLIMIT_FSIZE, 64UL << 20, "files up to 64 MiB" },
		{ RLIMIT_NOFILE, 4096, "4096 open files" },
	};
	size_t used = strlen(what);

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct rlimit r, old;

		/* A sanitizer reserves terabytes of address space up front. */
		if (lim[i].res == RLIMIT_AS && sanitized())
			continue;
		if (getrlimit(lim[i].res, &old) == 0 && old.rlim_max != RLIM_INFINITY &&
		    old.rlim_max < lim[i].v)
			r.rlim_cur = r.rlim_max = old.rlim_max;
		else
			r.rlim_cur = r.rlim_max = lim[i].v;
		if (setrlimit(lim[i].res, &r) < 0)
			return -1;
		if (ex_fmt(what + used, size - used, "%s%s", used > 0 && what[used - 1] != ' ' ?
			   ", " : "", lim[i].name) == 0)
			used = strlen(what);
	}
	return 0;
}

/* ---- the student's files, read before the box is shut ------------------------------- */

struct handed_in {
	char name[EX_NAMELEN];
	char *data;
	size_t len;
};

/* Is path inside dir (both resolved; no symlink leads out)? */
static int inside(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	size_t n;

	if (realpath(path, rp) == NULL || realpath(dir, rd) == NULL)
		return 0;
	n = strlen(rd);
	return strncmp(rp, rd, n) == 0 && (rp[n] == '/' || rp[n] == '\0');
}

/* The lesson's .c and .h files that src holds: regular files, not links
 * (a link to another student's file would hand in their work). */
static int read_handed_in(const struct ex_lesson *l, const char *src, struct handed_in *f,
			  char *err)
{
	int n = 0, dir = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0) {
		ex_err(err, "open %s: %s", src, strerror(errno));
		return -1;
	}
	for (int i = 0; i < l->nfiles; i++) {
		int fd = openat(dir, l->files[i].name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		struct stat st;
		ssize_t got = 0;

		if (fd < 0)
			continue;   /* not handed in (or a link): the build says so */
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE ||
		    (f[n].data = malloc((size_t)st.st_size + 1)) == NULL) {
			close(fd);
			continue;
		}
		while ((size_t)got < (size_t)st.st_size) {
			ssize_t r = read(fd, f[n].data + got, (size_t)st.st_size - (size_t)got);

			if (r <= 0)
				break;
			got += r;
		}
		close(fd);
		f[n].len = (size_t)got;
		ex_copy_str(f[n].name, sizeof(f[n].name), l->files[i].name);
		n++;
	}
	close(dir);
	return n;
}

static int write_handed_in(const char *dir, const struct handed_in *f, int n, char *err)
{
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (ex_path(path, sizeof(path), dir, f[i].name) < 0 ||
		    ex_write_file(path, f[i].data, f[i].len, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- namespaces ------------------------------------------------------------------------ */

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A user namespace where our uid and gid stay what they are. */
static int map_ids(uid_t uid, gid_t gid)
{
	char line[64];

	ex_fmt(line, sizeof(line), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_text("/proc/self/uid_map", line) < 0)
		return -1;
	if (write_text("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		return -1;
	ex_fmt(line, sizeof(line), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_text("/proc/self/gid_map", line);
}

/* Could uid 65534 read the socklab tree and run its tests? Asked by a
 * child that becomes it. */
static int nobody_can_read(const struct ex_paths *p, const struct ex_lesson *l)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	pid_t pid;
	int st;

	ex_fmt(a, sizeof(a), "%s/lib/socklab.h", p->home);
	ex_fmt(b, sizeof(b), "%s/lib/libsocklab.a", p->build);
	ex_fmt(c, sizeof(c), "%s/tests/lessons/%s", p->build, l->testprog);
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(1);
		_exit(access(a, R_OK) == 0 && access(b, R_OK) == 0 && access(c, X_OK) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int mount_tmpfs(const char *where, const char *opts)
{
	struct stat st;

	if (stat(where, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;   /* nothing there to cover */
	return mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, opts);
}

static int make_readonly(const char *where, int recursive)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	return mount_setattr(AT_FDCWD, where, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr));
}

/* Is path under dir (by name)? */
static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Show the folder open as fd at path again, read-only, when what covers
 * path hid it. */
static int show_again(int fd, const char *path, char *err)
{
	char from[64];

	if (ex_mkdirs(path, err) < 0)
		return -1;
	ex_fmt(from, sizeof(from), "/proc/self/fd/%d", fd);
	if (mount(from, path, NULL, MS_BIND | MS_REC, NULL) < 0 || make_readonly(path, 1) < 0)
		return ex_err(err, "show %s in the box: %s", path, strerror(errno));
	return 0;
}

/* Loopback up: the only network the box has. */
static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

/* The file system as the box sees it, given the socklab tree and build
 * opened in the box's own mount namespace. */
static int shape(const struct ex_paths *p, const char *class_real, int home_fd, int build_fd,
		 char *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return ex_err(err, "make / private: %s", strerror(errno));
	if (make_readonly("/", 1) < 0)
		return ex_err(err, "make / read-only: %s", strerror(errno));
	if (mount_tmpfs("/tmp", "size=256m,mode=1777") < 0 ||
	    mount_tmpfs("/dev/shm", "size=64m,mode=1777") < 0 ||
	    mount_tmpfs("/var/tmp", "size=16m,mode=1777") < 0)
		return ex_err(err, "a private /tmp: %s", strerror(errno));
	/* The class: another student's folder, and the original of this
	 * one, are nobody's business in here. */
	if (!under(class_real, "/tmp") && mount_tmpfs(class_real, "size=4k,mode=0555") < 0)
		return ex_err(err, "hide %s: %s", class_real, strerror(errno));
	/* The socklab tree and its build, where /tmp or the class folder
	 * covered them (a checkout in a temporary folder). */
	if ((under(p->home, "/tmp") || under(p->home, class_real)) &&
	    show_again(home_fd, p->home, err) < 0)
		return -1;
	if ((under(p->build, "/tmp") || under(p->build, class_real)) && !under(p->build, p->home) &&
	    show_again(build_fd, p->build, err) < 0)
		return -1;
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return ex_err(err, "a /proc for the box: %s", strerror(errno));
	return 0;
}

/* In the box's first process: the file system as the box sees it. */
static int shape_files(const struct ex_paths *p, const char *class_dir, char *err)
{
	char class_real[PATH_MAX];
	/* Opened in the box's own mount namespace (a bind mount cannot come
	 * from another), before /tmp and the class are covered. */
	int home_fd = open(p->home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int build_fd = open(p->build, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rc = -1;

	if (home_fd < 0 || build_fd < 0)
		ex_err(err, "open %s: %s", home_fd < 0 ? p->home : p->build, strerror(errno));
	else if (realpath(class_dir, class_real) == NULL)
		ex_err(err, "%s: %s", class_dir, strerror(errno));
	else
		rc = shape(p, class_real, home_fd, build_fd, err);
	if (home_fd >= 0)
		close(home_fd);
	if (build_fd >= 0)
		close(build_fd);
	return rc;
}

static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -1;
	/* Our own /proc/self files stay ours, for the sanitizers. */
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

/* Wait for the box's first process, then end as it ended. */
static void wait_and_exit(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

int ex_box_enter(enum ex_box_kind kind, struct ex_paths *p, const struct ex_lesson *l,
		 const char *class_dir, char *src, size_t srcsize, char *build,
		 size_t buildsize, char *what, size_t whatsize, char *err)
{
	struct handed_in files[EX_MAX_FILES];
	int root = geteuid() == 0, as_nobody = 0, nfiles;
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC;
	uid_t uid = getuid();
	gid_t gid = getgid();
	char refused[EX_ERRLEN] = "";
	pid_t pid;

	what[0] = '\0';
	if (kind == EX_BOX_RLIMITS) {
		ex_copy_str(what, whatsize, "rlimits alone (--no-box): ");
		if (set_limits(what, whatsize) < 0)
			return ex_err(err, "setrlimit: %s", strerror(errno));
		return 0;
	}
	if (!inside(src, class_dir)) {
		/* A link that leads out of the class folder. */
		return ex_err(err, "%s is not inside %s (a symbolic link?)", src, class_dir);
	}
	memset(files, 0, sizeof(files));
	nfiles = read_handed_in(l, src, files, err);
	if (nfiles < 0)
		return -1;
	if (root) {
		/* Real root needs no user namespace; the code runs as nobody. */
		flags &= ~CLONE_NEWUSER;
		as_nobody = nobody_can_read(p, l);
	}
	if (unshare(flags) < 0) {
		ex_fmt(refused, sizeof(refused), "unshare: %s", strerror(errno));
	} else if (!root && map_ids(uid, gid) < 0) {
		ex_fmt(refused, sizeof(refused), "uid_map: %s", strerror(errno));
	}
	if (refused[0] != '\0') {
		/* Namespaces refused: say so, and keep the rlimits. */
		ex_fmt(what, whatsize, "NOT BOXED (namespaces refused: %s); rlimits alone: ",
		       refused);
		if (root && as_nobody && drop_to_nobody() == 0)
			ex_fmt(what + strlen(what), whatsize - strlen(what), "uid 65534, ");
		for (int i = 0; i < nfiles; i++)
			free(files[i].data);
		if (set_limits(what, whatsize) < 0)
			return ex_err(err, "setrlimit: %s", strerror(errno));
		return 0;
	}
	/* The new PID namespace takes our next child as its first. */
	pid = fork();
	if (pid < 0)
		return ex_err(err, "fork: %s", strerror(errno));
	if (pid > 0)
		wait_and_exit(pid);
	in_box = 1;
	if (shape_files(p, class_dir, err) < 0)
		return -1;
	if (loopback_up() < 0)
		return ex_err(err, "loopback up: %s", strerror(errno));
	if (ex_mkdirs(BOX "/src", err) < 0 || ex_mkdirs(BOX "/build", err) < 0 ||
	    write_handed_in(BOX "/src", files, nfiles, err) < 0)
		return -1;
	for (int i = 0; i < nfiles; i++)
		free(files[i].data);
	if (root && as_nobody) {
		if (chown(BOX, NOBODY, NOBODY) < 0 || chown(BOX "/src", NOBODY, NOBODY) < 0 ||
		    chown(BOX "/build", NOBODY, NOBODY) < 0)
			return ex_err(err, "chown %s: %s", BOX, strerror(errno));
		for (int i = 0; i < nfiles; i++) {
			char path[PATH_MAX];

			ex_fmt(path, sizeof(path), "%s/src/%s", BOX, files[i].name);
			if (chown(path, NOBODY, NOBODY) < 0)
				return ex_err(err, "chown %s: %s", path, strerror(errno));
		}
		if (drop_to_nobody() < 0)
			return ex_err(err, "become uid 65534: %s", strerror(errno));
	}
	/* Root made the other namespaces itself; the user namespace comes
	 * last, before the rlimits (the parent's limit on its processes is
	 * taken from ours as it is made). */
	uid = getuid();
	gid = getgid();
	if (root && (unshare(CLONE_NEWUSER) < 0 || map_ids(uid, gid) < 0))
		return ex_err(err, "a user namespace for uid %u: %s", (unsigned)uid,
			      strerror(errno));
	ex_fmt(what, whatsize, "namespaces (user, net, pid, mount, ipc), %s; rlimits: ",
	       root ? as_nobody ? "as uid 65534" : "as root (uid 65534 cannot read the "
	       "socklab tree)" : "as the grader's own uid");
	if (set_limits(what, whatsize) < 0)
		return ex_err(err, "setrlimit: %s", strerror(errno));
	if (chdir(BOX) < 0)
		return ex_err(err, "chdir %s: %s", BOX, strerror(errno));
	setenv("TMPDIR", "/tmp", 1);
	setenv("HOME", BOX, 1);
	ex_copy_str(src, srcsize, BOX "/src");
	ex_copy_str(build, buildsize, BOX "/build");
	return 0;
}

void ex_box_sweep(void)
{
	int st;

	if (!in_box)
		return;
	/* Everything in the box but us: only our PID namespace's processes
	 * can be reached from here. */
	kill(-1, SIGKILL);
	while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
		;
}

void ex_box_leave(void)
{
	ex_box_sweep();
}
