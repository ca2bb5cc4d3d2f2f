/* paths.c — find the socklab tree, its build folder, the student's work
 * folder, and the lessons that carry exercises. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exercise.h"

static void parent_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash == path)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
}

/* Installed (make install): PREFIX/bin/socklab-exercise, the lessons,
 * headers and sources in PREFIX/share/socklab, the libraries and test
 * programs in PREFIX/lib/socklab (laid out as build/). A tree whose
 * build folder is bin/ has lessons/ beside bin/ instead. */
static int installed_layout(const char *exe_dir, struct ex_paths *p)
{
	char prefix[PATH_MAX], path[PATH_MAX];

	ex_copy_str(prefix, sizeof(prefix), exe_dir);
	parent_of(prefix);
	if (ex_path(path, sizeof(path), prefix, "lessons") < 0 || ex_is_dir(path))
		return 0;
	if (ex_path(path, sizeof(path), prefix, "share/socklab/lessons") < 0 || !ex_is_dir(path))
		return 0;
	return ex_path(p->home, sizeof(p->home), prefix, "share/socklab") == 0 &&
	       ex_path(p->build, sizeof(p->build), prefix, "lib/socklab") == 0;
}

int ex_paths_init(struct ex_paths *p, char *err)
{
	const char *home = getenv("SOCKLAB_HOME");
	const char *work = getenv("SOCKLAB_WORK");
	char exe_dir[PATH_MAX], lessons[PATH_MAX];
	int installed = 0;
	ssize_t n;

	memset(p, 0, sizeof(*p));
	n = readlink("/proc/self/exe", exe_dir, sizeof(exe_dir) - 1);
	if (n < 0) {
		ex_err(err, "readlink /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	exe_dir[n] = '\0';
	parent_of(exe_dir);
	if (home != NULL && home[0] != '\0') {
		if (realpath(home, p->home) == NULL) {
			ex_err(err, "SOCKLAB_HOME %s: %s", home, strerror(errno));
			return -1;
		}
	} else if (installed_layout(exe_dir, p)) {
		installed = 1;
	} else {
		/* build/socklab-exercise: the tree is the folder above. */
		ex_copy_str(p->home, sizeof(p->home), exe_dir);
		parent_of(p->home);
	}
	/* The build this program belongs to (build/, build-asan/, ...) holds
	 * the libraries and test programs; else the tree's build/. */
	if (installed)
		;
	else if (ex_fmt(lessons, sizeof(lessons), "%s/lib/libsocklab.a", exe_dir) == 0 &&
	    ex_is_file(lessons))
		ex_copy_str(p->build, sizeof(p->build), exe_dir);
	else if (ex_path(p->build, sizeof(p->build), p->home, "build") < 0)
		goto too_long;
	if (ex_path(lessons, sizeof(lessons), p->home, "lessons") < 0)
		goto too_long;
	if (!ex_is_dir(lessons)) {
		ex_err(err, "no lessons/ folder in %s: set SOCKLAB_HOME to "
			 "the socklab tree", p->home);
		return -1;
	}
	if (work != NULL && work[0] != '\0') {
		if (work[0] == '/') {
			if (ex_copy_str(p->work, sizeof(p->work), work) < 0)
				goto too_long;
		} else {
			char cwd[PATH_MAX];

			if (getcwd(cwd, sizeof(cwd)) == NULL ||
			    ex_path(p->work, sizeof(p->work), cwd, work) < 0)
				goto too_long;
		}
	} else if (installed) {
		/* The installed lessons are read-only: the copies go to work/
		 * in the folder the student is in. */
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) == NULL || ex_path(p->work, sizeof(p->work), cwd, "work") < 0)
			goto too_long;
	} else if (ex_path(p->work, sizeof(p->work), p->home, "work") < 0) {
		goto too_long;
	}
	return 0;
too_long:
	ex_err(err, "a path is too long (SOCKLAB_HOME or SOCKLAB_WORK?)");
	return -1;
}

/* A lesson folder: two digits, a dash, a topic. */
static int is_lesson_dir(const char *name)
{
	return name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' &&
	       name[2] == '-' && name[3] != '\0';
}

static int has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && strcmp(name + n - s, suffix) == 0;
}

/* Does this text hold a begin marker: a comment opening with
 * "EXERCISE <number>:"? */
static int text_has_marker(const char *text)
{
	for (const char *at = strstr(text, "/* EXERCISE "); at != NULL;
	     at = strstr(at + 1, "/* EXERCISE ")) {
		const char *d = at + strlen("/* EXERCISE ");

		if (*d >= '0' && *d <= '9') {
			while (*d >= '0' && *d <= '9')
				d++;
			if (*d == ':')
				return 1;
		}
	}
	return 0;
}

static int folder_has_markers(const char *folder)
{
	DIR *d = opendir(folder);
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		char path[PATH_MAX], err[EX_ERRLEN];
		char *text;

		if (!has_suffix(e->d_name, ".c") && !has_suffix(e->d_name, ".h"))
			continue;
		if (ex_path(path, sizeof(path), folder, e->d_name) < 0)
			continue;
		text = ex_read_file(path, NULL, err);
		if (text == NULL)
			continue;
		found = text_has_marker(text);
		free(text);
	}
	closedir(d);
	return found;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Every lesson folder name, sorted. */
static int all_lessons(const struct ex_paths *p, char names[][EX_NAMELEN], int max,
		       char *err)
{
	char lessons[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int n = 0;

	ex_path(lessons, sizeof(lessons), p->home, "lessons");
	d = opendir(lessons);
	if (d == NULL) {
		ex_err(err, "open %s: %s", lessons, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < max) {
		char path[PATH_MAX];

		if (!is_lesson_dir(e->d_name) || strlen(e->d_name) >= EX_NAMELEN)
			continue;
		if (ex_path(path, sizeof(path), lessons, e->d_name) < 0 || !ex_is_dir(path))
			continue;
		ex_copy_str(names[n++], EX_NAMELEN, e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, EX_NAMELEN, by_name);
	return n;
}

int ex_lessons_with_exercises(const struct ex_paths *p,
			      char names[][EX_NAMELEN], int max, char *err)
{
	char all[EX_MAX_LESSONS][EX_NAMELEN];
	int n = all_lessons(p, all, EX_MAX_LESSONS, err), kept = 0;

	for (int i = 0; i < n && kept < max; i++) {
		char path[PATH_MAX];

		ex_fmt(path, sizeof(path), "%s/lessons/%s", p->home, all[i]);
		if (folder_has_markers(path))
			ex_copy_str(names[kept++], EX_NAMELEN, all[i]);
	}
	return n < 0 ? -1 : kept;
}

int ex_lesson_find(const struct ex_paths *p, const char *arg,
		   char dir[EX_NAMELEN], char *err)
{
	char all[EX_MAX_LESSONS][EX_NAMELEN];
	char name[EX_NAMELEN];
	const char *base;
	size_t len;
	int n = all_lessons(p, all, EX_MAX_LESSONS, err);

	if (n < 0)
		return -1;
	/* "lessons/02-tcp-echo/" and "02-tcp-echo" name the same lesson. */
	if (ex_copy_str(name, sizeof(name), arg) == 0) {
		len = strlen(name);
		while (len > 1 && name[len - 1] == '/')
			name[--len] = '\0';
		base = strrchr(name, '/');
		base = base != NULL ? base + 1 : name;
		len = strlen(base);
		for (int i = 0; i < n; i++) {
			/* "2" or "02": the number; otherwise the whole name. */
			int number = len > 0 && len <= 2 && strspn(base, "0123456789") == len;

			if (number ? atoi(base) == atoi(all[i]) : strcmp(all[i], base) == 0)
				return ex_copy_str(dir, EX_NAMELEN, all[i]);
		}
	}
	ex_err(err, "no lesson '%s': give its number, e.g. 02, or "
		 "its folder name, e.g. 02-tcp-echo", arg);
	return -1;
}
