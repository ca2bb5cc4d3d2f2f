/* paths.c — locate lessons, lesson programs and the shim (see paths.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "text.h"

static int is_file(const char *path, int mode)
{
	return access(path, mode) == 0;
}

/* dir/name into out; -1 when it does not fit. */
static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void parent_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash == path)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
}

static void find_shim(struct paths *p)
{
	const char *env = getenv("SOCKLAB_SHIM");
	char path[PATH_MAX];

	p->shim[0] = '\0';
	if (env != NULL && env[0] != '\0') {
		if (is_file(env, R_OK))
			text_copy(p->shim, sizeof(p->shim), env);
		return;
	}
	if (join(path, sizeof(path), p->build, "lib/libsltrace.so") == 0 &&
	    is_file(path, R_OK)) {
		text_copy(p->shim, sizeof(p->shim), path);
		return;
	}
	if (join(path, sizeof(path), p->home, "build/lib/libsltrace.so") == 0 &&
	    is_file(path, R_OK))
		text_copy(p->shim, sizeof(p->shim), path);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* PREFIX/bin/socklab with PREFIX/share/socklab/lessons beside it, and no
 * lessons/ next to bin/ (that is a tree whose build folder is bin/). */
static void find_installed(struct paths *p)
{
	char prefix[PATH_MAX], path[PATH_MAX];

	text_copy(prefix, sizeof(prefix), p->exe_dir);
	parent_of(prefix);
	if (join(path, sizeof(path), prefix, "lessons") < 0 || is_dir(path))
		return;
	if (join(path, sizeof(path), prefix, "share/socklab/lessons") < 0 || !is_dir(path))
		return;
	if (join(p->home, sizeof(p->home), prefix, "share/socklab") < 0 ||
	    join(p->build, sizeof(p->build), prefix, "lib/socklab") < 0)
		return;
	p->installed = 1;
}

int paths_init(struct paths *p, char *err, size_t errsize)
{
	const char *home = getenv("SOCKLAB_HOME");
	ssize_t n;

	memset(p, 0, sizeof(*p));
	n = readlink("/proc/self/exe", p->exe_dir, sizeof(p->exe_dir) - 1);
	if (n < 0) {
		snprintf(err, errsize, "readlink /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	p->exe_dir[n] = '\0';
	parent_of(p->exe_dir);
	text_copy(p->build, sizeof(p->build), p->exe_dir);
	if (home != NULL && home[0] != '\0') {
		text_copy(p->home, sizeof(p->home), home);
	} else {
		find_installed(p);
		if (!p->installed) {
			text_copy(p->home, sizeof(p->home), p->exe_dir);
			parent_of(p->home);
			text_copy(p->build, sizeof(p->build), p->exe_dir);
		}
	}
	if (join(p->lessons, sizeof(p->lessons), p->home, "lessons") < 0) {
		snprintf(err, errsize, "path too long: %s", p->home);
		return -1;
	}
	find_shim(p);
	return 0;
}

int paths_program(const struct paths *p, const char *dir, const char *prog,
                  char *out, size_t size)
{
	char rel[PATH_MAX];

	if (snprintf(rel, sizeof(rel), "lessons/%s/%s", dir, prog) >= (int)sizeof(rel))
		return -1;
	if (join(out, size, p->build, rel) == 0 && is_file(out, X_OK))
		return 0;
	if (snprintf(rel, sizeof(rel), "build/lessons/%s/%s", dir, prog) >= (int)sizeof(rel))
		return -1;
	if (join(out, size, p->home, rel) == 0 && is_file(out, X_OK))
		return 0;
	return -1;
}
