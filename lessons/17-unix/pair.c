/* pair.c — lesson 17: socketpair() between a parent and its child.
 *
 * What it shows: socketpair(AF_UNIX, SOCK_STREAM, 0, sv) makes two sockets
 * already connected to each other: no path, no bind, no listen, no
 * accept. After fork() the parent keeps sv[0] and the child sv[1] (each
 * closes the other end), and they talk both ways over one pair: the
 * parent sends "ping N: TEXT", the child answers "pong N: TEXT" in upper
 * case. When the parent shuts down its sending side, the child's recv()
 * returns 0 and it exits; the parent reaps it with waitpid().
 *
 * Why: this is the usual channel between a process and a helper it starts
 * (a privilege-separated child, a worker): a pipe carries bytes one way
 * only, so two-way talk over pipes takes two of them (lesson 18), while
 * one socketpair carries both directions. Its sockets are unnamed:
 * getsockname() returns just the family, addrlen sizeof(sa_family_t).
 *
 * Notice when it runs: the child's lines carry its own pid and its
 * parent's; every ping has its pong; closing the unused end in each
 * process is what lets end of file arrive (with the other end still open
 * somewhere, recv() would wait for ever).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "lesson/lesson.h"

#define LINE_MAX_LEN 1024

/* The command line; parse_options(), at the end, fills these in. */
static long round_trips = 3;      /* -c */
static const char *text = "hello"; /* -m */

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static void print_own_name(const char *who, int fd);
static int child_main(int fd);
static int parent_talk(int fd);
static int reap(pid_t child);
static ssize_t read_line(struct sl_line_reader *r, char *out, size_t size);

int main(int argc, char **argv)
{
	int sv[2], status;
	pid_t child;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Two sockets, connected to each other; either may read and write. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair:");
	print_own_name("parent", sv[0]);
	child = fork();
	if (child < 0) {
		warn("fork:");
		close(sv[0]);
		close(sv[1]);
		return EXIT_RUNTIME;
	}
	if (child == 0) {
		/* The child keeps sv[1]. Closing sv[0] matters: while any
		 * process holds it open, sv[1] never reads end of file. */
		close(sv[0]);
		exit(child_main(sv[1]));
	}
	close(sv[1]);
	printf("parent %ld: started child %ld\n", (long)getpid(), (long)child);
	status = parent_talk(sv[0]);
	close(sv[0]);
	return reap(child) == EXIT_OK ? status : EXIT_RUNTIME;
}

/* Print our end's name: a socketpair's sockets have none. */
static void print_own_name(const char *who, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		warn("getsockname:");
		return;
	}
	printf("%s: our end, fd %d, is unnamed (getsockname addrlen %u = sizeof(sa_family_t))\n",
	       who, fd, (unsigned)len);
}

/* The child: answer every ping with a pong until the parent is done.
 * Closes fd; returns the child's exit status. */
static int child_main(int fd)
{
	struct sl_line_reader r;
	char line[LINE_MAX_LEN], reply[LINE_MAX_LEN + 16];
	int status = EXIT_OK;
	long answered = 0;
	ssize_t n;

	if (sl_line_init(&r, fd, LINE_MAX_LEN) < 0) {
		warn("line reader:");
		close(fd);
		return EXIT_RUNTIME;
	}
	while ((n = read_line(&r, line, sizeof(line))) > 0) {
		int len;

		printf("child %ld (parent %ld): got \"%s\"\n", (long)getpid(),
		       (long)getppid(), line);
		/* "ping N: text" becomes "pong N: TEXT". */
		for (char *c = line; *c != '\0'; c++)
			*c = (char)toupper((unsigned char)*c);
		len = snprintf(reply, sizeof(reply), "pong%s\n",
			       strncmp(line, "PING", 4) == 0 ? line + 4 : line);
		if (sl_io_write_all(fd, reply, (size_t)len) < 0) {
			warn("send:");
			status = EXIT_RUNTIME;
			break;
		}
		answered++;
	}
	if (n < 0) {
		warn("recv:");
		status = EXIT_RUNTIME;
	}
	if (status == EXIT_OK)
		printf("child %ld: end of file after %ld pings, exiting\n", (long)getpid(), answered);
	sl_line_free(&r);
	close(fd);
	return status;
}

/* The parent: send the pings one at a time, read each pong. */
static int parent_talk(int fd)
{
	struct sl_line_reader r;
	char line[LINE_MAX_LEN], msg[LINE_MAX_LEN];
	int status = EXIT_OK;

	if (sl_line_init(&r, fd, LINE_MAX_LEN) < 0) {
		warn("line reader:");
		return EXIT_RUNTIME;
	}
	for (long i = 1; i <= round_trips && status == EXIT_OK; i++) {
		int len = snprintf(msg, sizeof(msg), "ping %ld: %s\n", i, text);
		ssize_t n;

		if (sl_io_write_all(fd, msg, (size_t)len) < 0) {
			warn("send:");
			status = EXIT_RUNTIME;
			break;
		}
		n = read_line(&r, line, sizeof(line));
		if (n <= 0) {
			warn(n == 0 ? "the child closed early" : "recv:");
			status = EXIT_RUNTIME;
			break;
		}
		printf("parent %ld: got \"%s\"\n", (long)getpid(), line);
	}
	sl_line_free(&r);
	/* Our FIN: the child's recv() returns 0, and it exits. */
	if (shutdown(fd, SHUT_WR) < 0) {
		warn("shutdown:");
		status = EXIT_RUNTIME;
	}
	return status;
}

/* Wait for the child and report how it ended. */
static int reap(pid_t child)
{
	int st;

	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid:");
	if (WIFEXITED(st)) {
		printf("parent %ld: child %ld exited with status %d\n", (long)getpid(),
		       (long)child, WEXITSTATUS(st));
		return WEXITSTATUS(st) == 0 ? EXIT_OK : EXIT_RUNTIME;
	}
	printf("parent %ld: child %ld killed by signal %d\n", (long)getpid(), (long)child,
	       WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return EXIT_RUNTIME;
}

/* Read one '\n'-ended line. The line reader keeps what it read past the
 * newline for the next call: recv() on a stream may return parts of two
 * lines at once. Returns the length without '\n', 0 at end of file. */
static ssize_t read_line(struct sl_line_reader *r, char *out, size_t size)
{
	char *line;
	ssize_t n = sl_line_read(r, &line);

	if (n <= 0)
		return n;
	if (line[n - 1] == '\n')
		n--;
	if ((size_t)n >= size)
		n = (ssize_t)size - 1;
	memcpy(out, line, (size_t)n);
	out[n] = '\0';
	return n;
}

/* ---- Plumbing: the command line ------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv)
{
	static const struct lesson_opt options[] = {
		{ 'c', "count", OPT_NUMBER, &round_trips, "COUNT",
		  "how many round trips (default 3)", .what = "count", .min = 1, .max = 100000 },
		{ 'm', "message", OPT_STRING, &text, "TEXT", "what to send (default \"hello\")",
		  .what = "message" },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){ .opts = options,
		.about = "socketpair() between a parent and a forked child (lesson 17): the\n"
			 "parent sends COUNT pings, the child answers each with a pong, in\n"
			 "upper case." });
	if (strlen(text) > LINE_MAX_LEN - 64)
		usage_error("message too long: at most %d bytes", LINE_MAX_LEN - 64);
	if (strchr(text, '\n') != NULL)
		usage_error("the message must be one line");
}
