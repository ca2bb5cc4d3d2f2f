/* srcloc.c — resolve call sites with addr2line, read source files (see
 * srcloc.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "srcloc.h"
#include "text.h"

/* addr2line answers in a few ms; a stuck one is not waited for long. */
#define ADDR2LINE_TIMEOUT_MS 2000

void srcloc_init(struct srcloc *c, const char *lesson_dir)
{
	memset(c, 0, sizeof(*c));
	text_copy(c->lesson_dir, sizeof(c->lesson_dir), lesson_dir ? lesson_dir : "");
}

void srcloc_free(struct srcloc *c)
{
	for (int i = 0; i < c->nfiles; i++) {
		free(c->files[i].data);
		free(c->files[i].lines);
	}
	free(c->files);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* Run addr2line; its output (NUL-terminated) in out. Returns 0 or -1. */
static int run_addr2line(const char *obj, uint64_t off, char *out, size_t size)
{
	char addr[32];
	int pipefd[2];
	size_t used = 0;
	pid_t pid;
	int status;
	struct timespec start, now;

	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)off);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(pipefd[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		/* The shim must not trace the visualizer's own helper. */
		unsetenv("LD_PRELOAD");
		unsetenv("SOCKLAB_TRACE");
		execlp("addr2line", "addr2line", "-e", obj, "-f", "-i", "-C", addr, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		long waited;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= ADDR2LINE_TIMEOUT_MS || poll(&p, 1, (int)(ADDR2LINE_TIMEOUT_MS - waited)) <= 0)
			break;
		r = read(pipefd[0], out + used, size - 1 - used);
		if (r <= 0 || (used += (size_t)r) >= size - 1)
			break;
	}
	out[used] = '\0';
	close(pipefd[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -2;
	return used > 0 ? 0 : -1;
}

/* "func\nfile:line (discriminator 2)\n..." : the first pair. */
static int parse_answer(char *text, struct srcline *l)
{
	char *nl = strchr(text, '\n'), *fileline, *colon, *end;
	long line;

	if (nl == NULL)
		return -1;
	*nl = '\0';
	text_copy(l->func, sizeof(l->func), text);
	fileline = nl + 1;
	fileline[strcspn(fileline, "\n (")] = '\0';
	colon = strrchr(fileline, ':');
	if (colon == NULL || fileline[0] == '?')
		return -1;
	*colon = '\0';
	line = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || line <= 0)
		return -1;
	text_copy(l->file, sizeof(l->file), fileline);
	l->line = (int)line;
	return 0;
}

static void resolve(struct srcloc *c, const char *at, struct srcline *l)
{
	char obj[SL_EVENT_PATH_LEN], answer[2048];
	uint64_t off;
	int rc;

	if (c->no_addr2line || sl_event_at_split(at, obj, sizeof(obj), &off) < 0)
		return;
	rc = run_addr2line(obj, off, answer, sizeof(answer));
	if (rc == -2)
		c->no_addr2line = 1;
	if (rc == 0 && parse_answer(answer, l) == 0)
		l->ok = 1;
}

const struct srcline *srcloc_get(struct srcloc *c, const struct model *m, int atom)
{
	const char *at = model_atom(m, atom);
	struct srcline *l;

	if (at == NULL)
		return NULL;
	for (int i = 0; i < c->n; i++)
		if (c->v[i].atom == atom)
			return &c->v[i];
	if (c->n >= c->cap) {
		int cap = c->cap ? c->cap * 2 : 32;
		struct srcline *v = realloc(c->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	l = &c->v[c->n++];
	memset(l, 0, sizeof(*l));
	l->atom = atom;
	resolve(c, at, l);
	return l;
}

static int load_file(struct srcfile *f, const char *path)
{
	FILE *fp = fopen(path, "r");
	long size;
	int n = 0;

	if (fp == NULL)
		return -1;
	if (fseek(fp, 0, SEEK_END) < 0 || (size = ftell(fp)) < 0 || size > 4 * 1024 * 1024 ||
	    fseek(fp, 0, SEEK_SET) < 0) {
		fclose(fp);
		return -1;
	}
	f->data = malloc((size_t)size + 1);
	if (f->data == NULL || fread(f->data, 1, (size_t)size, fp) != (size_t)size) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	f->data[size] = '\0';
	for (long i = 0; i < size; i++)
		n += f->data[i] == '\n';
	f->lines = calloc((size_t)n + 2, sizeof(*f->lines));
	if (f->lines == NULL)
		return -1;
	for (char *p = f->data; *p != '\0';) {
		char *nl = strchr(p, '\n');

		f->lines[f->nlines++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return 0;
}

const struct srcfile *srcloc_file(struct srcloc *c, const char *path)
{
	struct srcfile *f;
	char alt[PATH_MAX + 64];
	const char *base = strrchr(path, '/');

	for (int i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i].path, path) == 0)
			return c->files[i].ok ? &c->files[i] : NULL;
	if (c->nfiles >= c->capfiles) {
		int cap = c->capfiles ? c->capfiles * 2 : 8;
		struct srcfile *v = realloc(c->files, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		c->files = v;
		c->capfiles = cap;
	}
	f = &c->files[c->nfiles++];
	memset(f, 0, sizeof(*f));
	text_copy(f->path, sizeof(f->path), path);
	if (load_file(f, path) == 0) {
		f->ok = 1;
	} else if (c->lesson_dir[0] != '\0') {
		/* Built somewhere else: the file of that name in the lesson. */
		free(f->data);
		free(f->lines);
		f->data = NULL;
		f->lines = NULL;
		f->nlines = 0;
		snprintf(alt, sizeof(alt), "%s/%s", c->lesson_dir, base ? base + 1 : path);
		f->ok = load_file(f, alt) == 0;
	}
	return f->ok ? f : NULL;
}
