/* grade.c — socklab check --all DIR NN: grade a folder of submissions.
 *
 * DIR holds one folder per student. A student's copy of lesson NN is
 * STUDENT/NN-topic/, STUDENT/work/NN-topic/, or STUDENT/ itself; a file
 * without exercises that a student did not hand in is taken from the
 * lesson. Each copy is built in a temporary folder and every step is
 * checked (a failed step does not hide the next), each test under the
 * deadline and output limit, so a program that hangs, crashes or floods
 * its output fails its own checks and the run goes on to the next student.
 *
 * Each student is graded by a process of its own (-j N at a time), inside
 * a box (box.c: namespaces and rlimits) unless --no-box; it hands its
 * results back through a pipe. The results go out in the format asked for
 * (export.c): a table on stdout, or TAP, JUnit XML, JSON, CSV or
 * Gradescope's results.json on stdout with the table on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MAX_STUDENTS 512

static int by_student(const void *a, const void *b)
{
	return strcmp(((const struct ex_student *)a)->name, ((const struct ex_student *)b)->name);
}

/* The folders in dir, sorted; hidden ones are left out. */
static int list_students(const char *dir, const char *lesson, struct ex_student **out, char *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct ex_student *s;
	int n = 0;

	if (d == NULL) {
		ex_err(err, "open %s: %s", dir, strerror(errno));
		return -1;
	}
	s = calloc(MAX_STUDENTS, sizeof(*s));
	if (s == NULL) {
		closedir(d);
		ex_err(err, "out of memory");
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < MAX_STUDENTS) {
		char path[PATH_MAX], try[PATH_MAX];

		if (e->d_name[0] == '.' || strlen(e->d_name) >= EX_NAMELEN ||
		    ex_path(path, sizeof(path), dir, e->d_name) < 0 || !ex_is_dir(path))
			continue;
		ex_copy_str(s[n].name, sizeof(s[n].name), e->d_name);
		ex_copy_str(s[n].src, sizeof(s[n].src), path);
		if (ex_path(try, sizeof(try), path, lesson) == 0 && ex_is_dir(try))
			ex_copy_str(s[n].src, sizeof(s[n].src), try);
		else if (ex_fmt(try, sizeof(try), "%s/work/%s", path, lesson) == 0 &&
			 ex_is_dir(try))
			ex_copy_str(s[n].src, sizeof(s[n].src), try);
		n++;
	}
	closedir(d);
	qsort(s, (size_t)n, sizeof(*s), by_student);
	*out = s;
	return n;
}

static void first_error(const char *log, char *out, size_t size)
{
	const char *at = strstr(log, "error:");
	const char *start, *end;

	if (at == NULL)
		at = log;
	for (start = at; start > log && start[-1] != '\n'; start--)
		;
	end = strchr(start, '\n');
	ex_fmt(out, size, "%.*s", (int)(end != NULL ? end - start : (long)strlen(start)), start);
}

/* Build and check one copy from src, in build; fills s. */
static int grade_one(const struct ex_paths *p, const struct ex_lesson *l,
		     struct ex_student *s, const char *src, const char *build,
		     const struct ex_check_opts *o, char *err)
{
	char *log = NULL;
	int rc = ex_build(p, l, src, build, &log, err);

	if (rc < 0) {
		free(log);
		return -1;
	}
	s->built = rc == 0;
	if (!s->built) {
		first_error(log, s->build_error, sizeof(s->build_error));
		for (int i = 0; i < l->nsteps; i++)
			s->steps[i].outcome = EX_BUILD;
		s->passed = 0;
	} else {
		s->passed = ex_check_steps(p, l, build, o, NULL, NULL, s->steps, err);
	}
	free(log);
	return s->passed < 0 ? -1 : 0;
}

/* In the child: grade student s (in a box unless told not to), and write
 * the result down the pipe. Never returns. */
static void worker(const struct ex_paths *p, const struct ex_lesson *l,
		   const struct ex_grade_opts *g, struct ex_student *s,
		   const char *root, int index, int out)
{
	char build[PATH_MAX], src[PATH_MAX];
	struct ex_paths in = *p;
	long long start = ex_now_ms();
	int rc;

	ex_fmt(build, sizeof(build), "%s/%d", root, index);
	ex_copy_str(src, sizeof(src), s->src);
	/* In the box, src and build are the box's own copies. */
	rc = ex_box_enter(g->box ? EX_BOX_NAMESPACES : EX_BOX_RLIMITS, &in, l, g->dir, src,
			  sizeof(src), build, sizeof(build), s->box, sizeof(s->box), s->errmsg);
	if (rc == 0 && grade_one(&in, l, s, src, build, &g->o, s->errmsg) < 0)
		rc = -1;
	s->error = rc < 0;
	s->ms = ex_now_ms() - start;
	s->points = ex_student_points(l, s);
	for (size_t done = 0; done < sizeof(*s); ) {
		ssize_t w = write(out, (char *)s + done, sizeof(*s) - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);
		done += (size_t)w;
	}
	ex_box_leave();
	_exit(0);
}

/* A grader process at work: which student, its pipe, what came so far. */
struct running {
	pid_t pid;
	int fd;
	int index;
	size_t got;
	struct ex_student result;
};

static void start_worker(const struct ex_paths *p, const struct ex_lesson *l,
			 const struct ex_grade_opts *g, struct ex_student *s, int index,
			 const char *root, struct running *r)
{
	int fds[2];

	memset(r, 0, sizeof(*r));
	r->index = index;
	r->fd = -1;
	if (pipe2(fds, O_CLOEXEC) < 0 || (r->pid = fork()) < 0) {
		ex_err(s->errmsg, "cannot start a grader: %s", strerror(errno));
		s->error = 1;
		r->pid = 0;
		return;
	}
	if (r->pid == 0) {
		close(fds[0]);
		worker(p, l, g, s, root, index, fds[1]);
	}
	close(fds[1]);
	r->fd = fds[0];
	fprintf(stderr, "grading %s ...\n", s->name);
}

/* Read what the worker wrote; on its end, reap it and keep the result. */
static int finish_worker(struct running *r, const struct ex_lesson *l, struct ex_student *s)
{
	ssize_t n = read(r->fd, (char *)&r->result + r->got, sizeof(r->result) - r->got);
	int st;

	if (n < 0 && errno == EINTR)
		return 0;
	if (n > 0) {
		r->got += (size_t)n;
		return 0;
	}
	close(r->fd);
	while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r->got == sizeof(r->result)) {
		*s = r->result;
	} else {
		s->error = 1;
		ex_fmt(s->errmsg, sizeof(s->errmsg), "its grader ended without a result (%s)",
		       WIFSIGNALED(st) ? ex_signal_name(WTERMSIG(st)) : "no signal");
	}
	if (s->error)
		fprintf(stderr, "graded %s: not graded: %s\n", s->name, s->errmsg);
	else
		fprintf(stderr, "graded %s: %d/%d steps, %d/%d points (%.1f s)\n", s->name,
			s->passed, l->nsteps, s->points, ex_lesson_points(l), (double)s->ms / 1000);
	r->pid = 0;
	return 1;
}

int ex_cmd_grade(const struct ex_paths *p, const struct ex_grade_opts *g)
{
	char dir[EX_NAMELEN], err[EX_ERRLEN], root[PATH_MAX];
	struct ex_student *s = NULL;
	struct running *run;
	struct ex_class class;
	struct ex_lesson *l;
	int n, next = 0, busy = 0, status = 0;

	if (ex_lesson_find(p, g->lesson, dir, err) < 0 || (l = ex_lesson_load(p, dir, err)) == NULL) {
		fprintf(stderr, "socklab: %s\n", err);
		return 1;
	}
	n = list_students(g->dir, dir, &s, err);
	if (n <= 0 || (g->format == EX_FORMAT_GRADESCOPE && n != 1)) {
		if (n == 0)
			ex_err(err, "no student folders in %s", g->dir);
		else if (n > 0)
			ex_err(err, "--format gradescope grades one submission: %s holds %d "
			       "student folders", g->dir, n);
		fprintf(stderr, "socklab: %s\n", err);
		free(s);
		ex_lesson_free(l);
		return 1;
	}
	run = calloc((size_t)g->jobs, sizeof(*run));
	if (run == NULL || ex_mkdtemp(root, sizeof(root), "grade", err) < 0) {
		fprintf(stderr, "socklab: %s\n", run == NULL ? "out of memory" : err);
		free(run);
		free(s);
		ex_lesson_free(l);
		return 1;
	}
	/* The workers' output: keep it off the table. */
	fflush(stdout);
	while ((next < n || busy > 0) && !ex_stop) {
		struct pollfd pfd[64];
		int k = 0;

		for (int j = 0; j < g->jobs && next < n; j++)
			if (run[j].pid == 0) {
				start_worker(p, l, g, &s[next], next, root, &run[j]);
				next++;
				busy += run[j].pid != 0;
			}
		for (int j = 0; j < g->jobs; j++)
			if (run[j].pid != 0)
				pfd[k++] = (struct pollfd){ .fd = run[j].fd, .events = POLLIN };
		if (k == 0)
			continue;
		if (poll(pfd, (nfds_t)k, 200) <= 0)
			continue;
		for (int j = 0, m = 0; j < g->jobs; j++) {
			if (run[j].pid == 0)
				continue;
			if (pfd[m++].revents != 0 && finish_worker(&run[j], l, &s[run[j].index])) {
				busy--;
				if (s[run[j].index].error)
					status = 1;
			}
		}
	}
	/* Interrupted: the workers saw the signal too; wait for them. */
	for (int j = 0; j < g->jobs; j++)
		if (run[j].pid != 0) {
			while (!finish_worker(&run[j], l, &s[run[j].index]))
				;
		}
	ex_remove_tree(root);
	if (ex_stop) {
		status = 130;
	} else {
		class = (struct ex_class){ .l = l, .dir = g->dir, .s = s, .n = n, .o = &g->o };
		if (g->format == EX_FORMAT_TABLE) {
			ex_export(stdout, EX_FORMAT_TABLE, &class);
		} else {
			ex_export(stderr, EX_FORMAT_TABLE, &class);
			ex_export(stdout, g->format, &class);
		}
		if (g->save != NULL && ex_export_all(g->save, &class, err) < 0) {
			fprintf(stderr, "socklab: %s\n", err);
			status = 1;
		}
	}
	free(run);
	free(s);
	ex_lesson_free(l);
	return status;
}
