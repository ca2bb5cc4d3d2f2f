/* build.c — compile a copy of a lesson with the flags the Makefile uses:
 *
 *   $CC $CFLAGS -std=c11 -Wall -Wextra -Wshadow -Werror=implicit -pthread
 *       -D_GNU_SOURCE -Ilib -Ilib/lesson -o BUILD/lessons/NN-topic/PROG
 *       PROG.c [common.c] build/lib/liblesson.a build/lib/libsocklab.a -pthread $(LIBS)
 *
 * (CC defaults to cc and CFLAGS to -O2 -g, as in the Makefile; LDFLAGS
 * from the environment follow the libraries, so a sanitizer build can pass
 * -fsanitize=... in CFLAGS and LDFLAGS; LIBS come from the lesson's
 * lesson.mk; common.c, the code a lesson's programs share, is linked into
 * each). A copy's programs are also linked with
 * exercise/support/crashnote.c, which, only while a check runs, notes a
 * crash (SIGSEGV and the like) so the check can tell the student.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define MAX_ARGS 160
#define COMPILE_TIMEOUT_MS 120000
#define COMPILE_OUTPUT_CAP (256 * 1024)

struct args {
	char *v[MAX_ARGS + 1];
	int n;
	char words[8192];  /* storage for words split from CC, CFLAGS, LDFLAGS, LIBS */
	size_t used;
};

static int add(struct args *a, const char *s)
{
	if (a->n == MAX_ARGS)
		return -1;
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
	return 0;
}

/* Add each white-space separated word of s (a copy is kept in a). */
static int add_words(struct args *a, const char *s)
{
	while (*s != '\0') {
		size_t n;

		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (n == 0)
			break;
		if (a->used + n + 1 > sizeof(a->words))
			return -1;
		memcpy(a->words + a->used, s, n);
		a->words[a->used + n] = '\0';
		if (add(a, a->words + a->used) < 0)
			return -1;
		a->used += n + 1;
		s += n;
	}
	return 0;
}

/* The libraries lesson.mk adds for one program: "LIBS_DIR/PROG := -lm". */
static int add_lesson_libs(struct args *a, const struct ex_lesson *l, const char *prog)
{
	char path[PATH_MAX], key[2 * EX_NAMELEN + 8], err[EX_ERRLEN];
	char *text, *line, *save = NULL;
	int rc = 0;

	ex_fmt(path, sizeof(path), "%s/lesson.mk", l->path);
	if (!ex_is_file(path))
		return 0;
	text = ex_read_file(path, NULL, err);
	if (text == NULL)
		return 0;
	ex_fmt(key, sizeof(key), "LIBS_%s/%s", l->dir, prog);
	for (line = strtok_r(text, "\n", &save); line != NULL && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *s = line + strspn(line, " \t");
		size_t n = strlen(key);

		if (strncmp(s, key, n) != 0)
			continue;
		s += n;
		s += strspn(s, " \t");
		if (strncmp(s, ":=", 2) == 0 || strncmp(s, "+=", 2) == 0)
			s += 2;
		else if (*s == '=')
			s++;
		else
			continue;
		rc = add_words(a, s);
	}
	free(text);
	return rc;
}

static int append_log(char **log, size_t *len, const char *text)
{
	size_t n = strlen(text);
	char *grown = realloc(*log, *len + n + 1);

	if (grown == NULL)
		return -1;
	memcpy(grown + *len, text, n + 1);
	*log = grown;
	*len += n;
	return 0;
}

/* Compile one program. Returns 0, 1 when it did not compile, -1 on error. */
static int compile(const struct ex_paths *p, const struct ex_lesson *l,
		   const char *source, const char *common, const char *prog,
		   const char *out, const char *crashnote, char **log,
		   size_t *loglen, char *err)
{
	char inc1[PATH_MAX], inc2[PATH_MAX], liblesson[PATH_MAX], libsocklab[PATH_MAX];
	const char *cc = getenv("CC"), *cflags = getenv("CFLAGS"), *ldflags = getenv("LDFLAGS");
	struct args a = { .n = 0 };
	struct ex_proc r;
	int failed;

	ex_fmt(inc1, sizeof(inc1), "%s/lib", p->home);
	ex_fmt(inc2, sizeof(inc2), "%s/lib/lesson", p->home);
	ex_fmt(liblesson, sizeof(liblesson), "%s/lib/liblesson.a", p->build);
	ex_fmt(libsocklab, sizeof(libsocklab), "%s/lib/libsocklab.a", p->build);
	if (add_words(&a, cc != NULL && cc[0] != '\0' ? cc : "cc") < 0 ||
	    add_words(&a, cflags != NULL ? cflags : "-O2 -g") < 0 ||
	    add_words(&a, "-std=c11 -Wall -Wextra -Wshadow -Werror=implicit -pthread") < 0 ||
	    add_words(&a, "-D_GNU_SOURCE") < 0 ||
	    add(&a, "-I") < 0 || add(&a, inc1) < 0 || add(&a, "-I") < 0 || add(&a, inc2) < 0 ||
	    /* A header the copy lacks (one without regions) comes from the
	     * lesson; the copy's own folder is searched first. */
	    add(&a, "-iquote") < 0 || add(&a, l->path) < 0 ||
	    add(&a, "-o") < 0 || add(&a, out) < 0 || add(&a, source) < 0 ||
	    (common != NULL && add(&a, common) < 0) ||
	    (crashnote != NULL && add(&a, crashnote) < 0) ||
	    add(&a, liblesson) < 0 || add(&a, libsocklab) < 0 || add(&a, "-pthread") < 0 ||
	    (ldflags != NULL && add_words(&a, ldflags) < 0) ||
	    add_lesson_libs(&a, l, prog) < 0) {
		ex_err(err, "compiler command line too long (CC, CFLAGS?)");
		return -1;
	}
	if (ex_proc_run(a.v, NULL, p->home, COMPILE_TIMEOUT_MS, COMPILE_OUTPUT_CAP, &r, err) < 0)
		return -1;
	failed = !r.ended || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0;
	if (r.outlen > 0 && (append_log(log, loglen, r.out) < 0)) {
		ex_proc_free(&r);
		ex_err(err, "out of memory");
		return -1;
	}
	if (failed && r.ended && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127 &&
	    strstr(r.out, "exec ") != NULL) {
		ex_proc_free(&r);
		ex_err(err, "cannot run the compiler '%s' (set CC)", a.v[0]);
		return -1;
	}
	if (r.interrupted) {
		ex_proc_free(&r);
		ex_err(err, "interrupted");
		return -1;
	}
	ex_proc_free(&r);
	return failed ? 1 : 0;
}

/* Where a file of the lesson is: the copy's, or the lesson's own for a
 * file without regions that the copy lacks. Returns 0, 1 when a file
 * with regions is missing from the copy, -1 when the path is too long. */
static int source_of(const struct ex_lesson *l, const struct ex_file *f,
		     const char *src, char source[PATH_MAX])
{
	if (ex_path(source, PATH_MAX, src, f->name) < 0)
		return -1;
	if (ex_is_file(source))
		return 0;
	if (ex_file_has_regions(f))
		return 1;
	return ex_path(source, PATH_MAX, l->path, f->name) < 0 ? -1 : 0;
}

int ex_build(const struct ex_paths *p, const struct ex_lesson *l,
	     const char *src, const char *build, char **log, char *err)
{
	char outdir[PATH_MAX], crashnote[PATH_MAX], lib[PATH_MAX];
	char common[PATH_MAX];
	const char *with = NULL; /* common.c, linked into every program */
	size_t loglen = 0;
	int broken = 0;

	*log = calloc(1, 1);
	if (*log == NULL) {
		ex_err(err, "out of memory");
		return -1;
	}
	ex_fmt(lib, sizeof(lib), "%s/lib/libsocklab.a", p->build);
	if (!ex_is_file(lib)) {
		ex_err(err, "%s is missing: build socklab first (make)", lib);
		return -1;
	}
	if (ex_fmt(outdir, sizeof(outdir), "%s/lessons/%s", build, l->dir) < 0) {
		ex_err(err, "path too long: %s", build);
		return -1;
	}
	if (ex_mkdirs(outdir, err) < 0)
		return -1;
	ex_fmt(crashnote, sizeof(crashnote), "%s/exercise/support/crashnote.c", p->home);
	for (int i = 0; i < l->nfiles; i++) {
		if (strcmp(l->files[i].name, "common.c") != 0)
			continue;
		switch (source_of(l, &l->files[i], src, common)) {
		case -1:
			ex_err(err, "path too long: %s", src);
			return -1;
		case 1:
			append_log(log, &loglen, "common.c: missing: this file has "
				   "exercises, so it must be in the copy\n");
			broken = 1;
			break;
		default:
			with = common;
		}
	}
	for (int i = 0; i < l->nfiles; i++) {
		const struct ex_file *f = &l->files[i];
		char source[PATH_MAX], out[PATH_MAX], prog[EX_NAMELEN];
		size_t n = strlen(f->name);
		int rc;

		if (strcmp(f->name + n - 2, ".c") != 0 || strcmp(f->name, "common.c") == 0)
			continue;
		ex_fmt(prog, sizeof(prog), "%.*s", (int)(n - 2), f->name);
		if (ex_path(out, sizeof(out), outdir, prog) < 0) {
			ex_err(err, "path too long: %s", outdir);
			return -1;
		}
		rc = source_of(l, f, src, source);
		if (rc < 0) {
			ex_err(err, "path too long: %s", src);
			return -1;
		}
		if (rc > 0) {
			char line[EX_ERRLEN + 64];

			ex_fmt(line, sizeof(line), "%s/%s: missing: this file has "
			       "exercises, so it must be in the copy\n", src, f->name);
			append_log(log, &loglen, line);
			broken = 1;
			continue;
		}
		/* An old program must never stand in for one that no longer
		 * compiles. */
		if (unlink(out) < 0 && errno != ENOENT) {
			ex_err(err, "remove %s: %s", out, strerror(errno));
			return -1;
		}
		rc = compile(p, l, source, with, prog, out,
			     ex_is_file(crashnote) ? crashnote : NULL, log, &loglen, err);
		if (rc < 0)
			return -1;
		broken |= rc;
	}
	if (broken) {
		ex_err(err, "the copy does not compile");
		return 1;
	}
	return 0;
}
