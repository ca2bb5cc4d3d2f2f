/* util.c — strings, paths, files and signal names for socklab-exercise. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exercise.h"

int ex_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int ex_err(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, EX_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

int ex_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int ex_path(char *dst, size_t size, const char *a, const char *b)
{
	return ex_fmt(dst, size, "%s/%s", a, b);
}

/* path relative to the current folder when it is inside it (the result
 * points into path). */
const char *ex_shown(const char *path)
{
	char cwd[PATH_MAX];
	size_t n;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return path;
	n = strlen(cwd);
	if (strncmp(path, cwd, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

int ex_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ex_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ex_mkdirs(const char *path, char *err)
{
	char buf[PATH_MAX];

	if (ex_copy_str(buf, sizeof(buf), path) < 0) {
		ex_err(err, "path too long: %s", path);
		return -1;
	}
	/* Create each parent in turn; one that exists already is fine. */
	for (char *s = buf + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(buf, 0777) < 0 && errno != EEXIST) {
			ex_err(err, "mkdir %s: %s", buf, strerror(errno));
			return -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (!ex_is_dir(path)) {
		ex_err(err, "%s exists and is not a folder", path);
		return -1;
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int ex_remove_tree(const char *path)
{
	/* FTW_DEPTH: a folder's contents before the folder; FTW_PHYS: never
	 * follow a symbolic link out of the tree. */
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *ex_read_file(const char *path, size_t *len, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0, cap = 4096;
	char *buf;

	if (fd < 0) {
		ex_err(err, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		ex_err(err, "read %s: out of memory", path);
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (cap - used < 2) {
			char *grown = realloc(buf, cap * 2);

			if (grown == NULL) {
				ex_err(err, "read %s: out of memory", path);
				free(buf);
				close(fd);
				return NULL;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ex_err(err, "read %s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return buf;
}

int ex_write_file(const char *path, const char *data, size_t len, char *err)
{
	char tmp[PATH_MAX];
	int fd;

	if (ex_fmt(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) < 0) {
		ex_err(err, "path too long: %s", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ex_err(err, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ex_err(err, "write %s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0) {
		ex_err(err, "write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* rename() replaces the old file in one step: an editor or a watcher
	 * never sees half a file. */
	if (rename(tmp, path) < 0) {
		ex_err(err, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int ex_mkdtemp(char *out, size_t size, const char *what, char *err)
{
	const char *tmp = getenv("TMPDIR");
	size_t n;

	/* mkdtemp() wants a name ending in six 'X's; they are written in at
	 * run time, so no such run of letters sits in this source. */
	if (ex_fmt(out, size, "%s/socklab-%s-......", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp",
		   what) < 0)
		return ex_err(err, "TMPDIR too long");
	n = strlen(out);
	memset(out + n - 6, 'X', 6);
	if (mkdtemp(out) == NULL)
		return ex_err(err, "mkdtemp %s: %s", out, strerror(errno));
	return 0;
}

long long ex_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct {
	int sig;
	const char *name;
	const char *meaning;
} signals[] = {
	{ SIGSEGV, "SIGSEGV", "segmentation fault: a bad pointer, often NULL, or an array overrun" },
	{ SIGBUS, "SIGBUS", "bus error: a bad or misaligned pointer" },
	{ SIGFPE, "SIGFPE", "arithmetic error: a division by zero" },
	{ SIGILL, "SIGILL", "illegal instruction: often a corrupted stack" },
	{ SIGABRT, "SIGABRT", "abort: a failed assert() or a corrupted heap (double free)" },
	{ SIGPIPE, "SIGPIPE", "it wrote to a connection the peer had closed: send with MSG_NOSIGNAL" },
	{ SIGTRAP, "SIGTRAP", "trap: a debugger breakpoint or a builtin trap" },
	{ SIGSYS, "SIGSYS", "bad system call" },
	{ SIGKILL, "SIGKILL", "killed" },
	{ SIGTERM, "SIGTERM", "terminated" },
};

const char *ex_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return "a signal";
}

const char *ex_signal_meaning(int sig)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig)
			return signals[i].meaning;
	return "killed by a signal";
}
