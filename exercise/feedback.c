/* feedback.c — what a student sees of a failing test besides its verdict:
 * the end of what their programs printed, and one shell command that does
 * by hand what the test did.
 *
 * The lesson tests' harness (tests/lessons/harness.c) leaves both in the
 * folder SOCKLAB_FEEDBACK names: "notes" has a line "start PID CHAOS
 * ARGV..." for each lesson program it started and "drive PID COMMAND" for
 * each way a test drove one (PORT standing for its port), and "end PID
 * CODE" when one ended ("end PID CODE killed" when the harness killed it,
 * as a teardown does); "out.PID" holds what that program printed on
 * stdout and stderr, as the test read it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define TAIL_LINES 8
#define MAX_PROGS 8
#define REPRO_PORT "4242"   /* a port for a person to type; tests use 0 */

struct started {
	int pid;
	int chaos;
	char argv[1024];
};

/* The last n lines of text (its end if shorter). */
static const char *last_lines(const char *text, int n)
{
	const char *at = text + strlen(text);

	if (at > text && at[-1] == '\n')
		at--;
	while (at > text) {
		if (at[-1] == '\n' && --n == 0)
			break;
		at--;
	}
	return at;
}

/* The program's name: the last part of argv[0]. */
static void program_name(const char *argv, char *out, size_t size)
{
	size_t n = strcspn(argv, " ");
	const char *slash = memrchr(argv, '/', n);

	if (slash != NULL) {
		n -= (size_t)(slash + 1 - argv);
		argv = slash + 1;
	}
	ex_fmt(out, size, "%.*s", (int)n, argv);
}

/* Append "NAME printed (its last lines):\n  line\n..." for pid. */
static void add_tail(const char *dir, const struct started *s, char *out, size_t size)
{
	char path[PATH_MAX], err[EX_ERRLEN], name[64];
	size_t used = strlen(out);
	char *text;

	ex_fmt(path, sizeof(path), "%s/out.%d", dir, s->pid);
	text = ex_read_file(path, NULL, err);
	if (text == NULL || text[strspn(text, " \t\r\n")] == '\0') {
		free(text);
		return;
	}
	program_name(s->argv, name, sizeof(name));
	if (ex_fmt(out + used, size - used, "%s (pid %d) printed, at the end:\n", name, s->pid) < 0) {
		free(text);
		return;
	}
	used = strlen(out);
	for (const char *line = last_lines(text, TAIL_LINES); *line != '\0'; ) {
		size_t n = strcspn(line, "\n");

		if (ex_fmt(out + used, size - used, "  %.*s\n", (int)(n < 160 ? n : 160), line) < 0)
			break;
		used = strlen(out);
		line += n + (line[n] == '\n');
	}
	free(text);
}

/* Copy src to out with every "PORT" (a whole word) replaced by port. */
static void with_port(const char *src, const char *port, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	while (*src != '\0' && used + 1 < size) {
		if (strncmp(src, "PORT", 4) == 0 &&
		    (src[4] == '\0' || strchr(" )<>|;,'\"", src[4]) != NULL)) {
			if (ex_fmt(out + used, size - used, "%s", port) < 0)
				return;
			used += strlen(port);
			src += 4;
			continue;
		}
		out[used++] = *src++;
		out[used] = '\0';
	}
}

/* Every path in s under the current folder made relative to it, as
 * ex_shown does for one path. */
static void shown_all(char *s)
{
	char cwd[PATH_MAX + 1];
	size_t n;

	if (getcwd(cwd, sizeof(cwd) - 1) == NULL)
		return;
	n = strlen(cwd);
	cwd[n++] = '/';
	cwd[n] = '\0';
	for (char *at = strstr(s, cwd); at != NULL; at = strstr(at, cwd))
		if (at == s || at[-1] == ' ' || at[-1] == '<' || at[-1] == '>')
			memmove(at, at + n, strlen(at + n) + 1);
		else
			at++;
}

/* Did the program say "listening on" (a server)? */
static int listened(const char *dir, int pid)
{
	char path[PATH_MAX], err[EX_ERRLEN];
	char *text;
	int yes;

	ex_fmt(path, sizeof(path), "%s/out.%d", dir, pid);
	text = ex_read_file(path, NULL, err);
	yes = text != NULL && strstr(text, "listening on ") != NULL;
	free(text);
	return yes;
}

/* argv with the program's path as the student would type it; a server's
 * "-p 0" made "-p 4242" (and added, when it took port 0 by default). */
static void command_line(const char *argv, int server, char *out, size_t size)
{
	const char *p0 = strstr(argv, " -p 0");
	size_t n = strcspn(argv, " ");
	char prog[PATH_MAX];

	ex_fmt(prog, sizeof(prog), "%.*s", (int)n, argv);
	if (p0 != NULL && (p0[5] == '\0' || p0[5] == ' '))
		ex_fmt(out, size, "%s%.*s -p %s%s", ex_shown(prog), (int)(p0 - argv - n), argv + n,
		       REPRO_PORT, p0 + 5);
	else if (server && strstr(argv, " -p ") == NULL)
		ex_fmt(out, size, "%s%s -p %s", ex_shown(prog), argv + n, REPRO_PORT);
	else
		ex_fmt(out, size, "%s%s", ex_shown(prog), argv + n);
}

/* Add the program of argv to r's list of those that ended with an error. */
static void add_failed(struct ex_test_result *r, const char *argv)
{
	char name[64];
	size_t used = strlen(r->failed_progs);

	program_name(argv, name, sizeof(name));
	if (strstr(r->failed_progs, name) == NULL)
		ex_fmt(r->failed_progs + used, sizeof(r->failed_progs) - used, "%s%s",
		       used > 0 ? " " : "", name);
}

void ex_feedback_read(const struct ex_paths *p, const char *dir,
		      const struct ex_check_opts *o, struct ex_test_result *r)
{
	struct started st[MAX_PROGS];
	char path[PATH_MAX], err[EX_ERRLEN], cmd[1024], drive[1024] = "";
	int nst = 0, drive_pid = -1;
	char *notes, *save = NULL;

	r->output[0] = r->repro[0] = r->failed_progs[0] = '\0';
	ex_fmt(path, sizeof(path), "%s/notes", dir);
	notes = ex_read_file(path, NULL, err);
	if (notes == NULL)
		return;
	for (char *line = strtok_r(notes, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		int pid, chaos, at = 0;

		if (nst < MAX_PROGS && sscanf(line, "start %d %d %n", &pid, &chaos, &at) == 2 && at > 0) {
			st[nst].pid = pid;
			st[nst].chaos = chaos;
			ex_copy_str(st[nst].argv, sizeof(st[nst].argv), line + at);
			nst++;
		} else if (sscanf(line, "end %d %d %n", &pid, &chaos, &at) == 2 && chaos != 0 &&
			   strncmp(line + at, "killed", 6) != 0) {
			/* chaos: here the exit code; a SIGKILL the harness sent
			 * (a teardown after the test failed) is not the
			 * program's error. */
			for (int i = 0; i < nst; i++)
				if (st[i].pid == pid)
					add_failed(r, st[i].argv);
		} else if (drive_pid < 0 && sscanf(line, "drive %d %n", &pid, &at) == 1 && at > 0) {
			drive_pid = pid;
			ex_copy_str(drive, sizeof(drive), line + at);
		}
	}
	free(notes);
	for (int i = 0; i < nst; i++)
		add_tail(dir, &st[i], r->output, sizeof(r->output));
	/* The program the test drove, else the first one started. */
	for (int i = 0; i < nst; i++) {
		char prog[sizeof(cmd)], how[sizeof(drive)];
		int server;

		if (drive_pid >= 0 && st[i].pid != drive_pid)
			continue;
		server = listened(dir, st[i].pid);
		command_line(st[i].argv, server, prog, sizeof(prog));
		if (drive[0] != '\0')
			with_port(drive, REPRO_PORT, how, sizeof(how));
		else
			ex_fmt(how, sizeof(how), "nc 127.0.0.1 %s", REPRO_PORT);
		shown_all(how);
		if (st[i].chaos && o->chaos)
			ex_fmt(cmd, sizeof(cmd), "SOCKLAB_CHAOS=%llu LD_PRELOAD=%s/lib/libsltrace.so ",
			       o->seed, ex_shown(p->build));
		else
			cmd[0] = '\0';
		/* A server is started in the background, driven, then stopped;
		 * any other program is the test itself. */
		if (server)
			ex_fmt(r->repro, sizeof(r->repro), "%s%s & sleep 1; %s; kill $!", cmd, prog, how);
		else
			ex_fmt(r->repro, sizeof(r->repro), "%s%s", cmd, prog);
		break;
	}
}
