/* test_05_fork.c — lesson 05, the fork-per-client server, beyond what the
 * shared suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - each client is served by a child process of its own (a pid per
 *    client, not the server's), and every child is reaped when its
 *    client leaves;
 *  - --zombies leaves every finished child a zombie, even when the server
 *    was started with SIGCHLD ignored (which would make Linux reap them),
 *    and the server still serves;
 *  - no child outlives a stopped server: SIGTERM to the server alone ends
 *    the children serving clients too;
 *  - the command line: -h exits 0, bad options exit 2.
 * Servers on 127.0.0.1 port 0; every wait has a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "05-fork"
#define DEADLINE_MS 10000
#define QUIET_MS 300

static struct h_proc *start_server(const char *extra)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)extra, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	return srv;
}

static void stop_server(struct h_proc *srv)
{
	int rc = h_stop(srv, SIGTERM, DEADLINE_MS);

	if (rc != 0)
		fprintf(stderr, "server exit %d; its stderr:\n%s\n", rc, srv->errbuf);
	assert_int_equal(rc, 0);
	free(srv);
}

/* Children of pid, and how many are zombies (from /proc/N/stat). */
static int children(pid_t pid, int *zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	*zombies = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512], state;
		const char *p;
		int ppid;
		FILE *f;
		size_t len;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		p = strrchr(buf, ')');
		if (p == NULL || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != pid)
			continue;
		n++;
		if (state == 'Z')
			(*zombies)++;
	}
	closedir(d);
	return n;
}

/* Wait, reading the server's output, until it has want children of which
 * want_z are zombies. */
static int wait_children(struct h_proc *srv, int want, int want_z)
{
	long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);

	for (;;) {
		int z, n = children(srv->pid, &z);

		if (n == want && z == want_z)
			return 1;
		if (h_now_ms() >= deadline) {
			fprintf(stderr, "%d children, %d zombies; wanted %d and %d\n", n, z,
				want, want_z);
			return 0;
		}
		h_wait_output(srv, "out", "\001never\001", 20);
	}
}

static size_t recv_n(int fd, char *buf, size_t len, int ms)
{
	long long deadline = h_now_ms() + h_scaled(ms);
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - h_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void echo(int fd, const char *text)
{
	char back[128];
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv_n(fd, back, len, DEADLINE_MS), len);
	assert_memory_equal(back, text, len);
}

/* One whole session: connect, echo, half-close, read the end of file. */
static void session(const char *port, const char *text)
{
	int fd = h_connect(port, h_scaled(DEADLINE_MS));
	char buf[8];

	assert_true(fd >= 0);
	echo(fd, text);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(recv_n(fd, buf, sizeof(buf), DEADLINE_MS), 0);
	close(fd);
}

/* The pid printed in "[pid N] client ADDR connected" for the client whose
 * local port is port. */
static pid_t serving_pid(struct h_proc *srv, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char needle[64];
	const char *at;

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	snprintf(needle, sizeof(needle), "] client 127.0.0.1:%d connected",
		 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	if (h_wait_output(srv, "out", needle, DEADLINE_MS) < 0)
		return -1;
	at = strstr(srv->outbuf, needle);
	while (at > srv->outbuf && at[-1] != '[')
		at--;
	return (pid_t)atoi(at + 4); /* after "pid " */
}

static void test_a_process_per_client_reaped_after(void **state)
{
	struct h_proc *srv = start_server(NULL);
	int a, b;
	pid_t pa, pb;

	(void)state;
	a = h_connect(srv->port, h_scaled(DEADLINE_MS));
	b = h_connect(srv->port, h_scaled(DEADLINE_MS));
	assert_true(a >= 0 && b >= 0);
	/* Both are served at once: the second does not wait for the first. */
	echo(b, "second first\n");
	echo(a, "first second\n");
	pa = serving_pid(srv, a);
	pb = serving_pid(srv, b);
	assert_true(pa > 0 && pb > 0);
	assert_true(pa != pb);
	assert_true(pa != srv->pid && pb != srv->pid);
	assert_true(wait_children(srv, 2, 0));

	close(a);
	close(b);
	/* SIGCHLD: both reaped, no zombie left behind. */
	assert_true(wait_children(srv, 0, 0));
	stop_server(srv);
}

static void test_zombies_stay_until_the_server_exits(void **state)
{
	struct h_proc *srv;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int z;

	(void)state;
	/* Started with SIGCHLD ignored (an ignored signal stays ignored across
	 * exec): --zombies must set SIG_DFL itself, or Linux would reap. */
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	srv = start_server("--zombies");
	assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);

	for (int i = 0; i < 3; i++)
		session(srv->port, "soon a zombie\n");
	assert_true(wait_children(srv, 3, 3));
	/* Nobody waits for them: still there a while later... */
	h_wait_output(srv, "out", "\001never\001", QUIET_MS);
	assert_int_equal(children(srv->pid, &z), 3);
	assert_int_equal(z, 3);
	/* ...and the server still serves. */
	session(srv->port, "a fourth\n");
	assert_true(wait_children(srv, 4, 4));
	stop_server(srv);
}

static void test_no_child_outlives_the_server(void **state)
{
	struct h_proc *srv = start_server(NULL);
	char buf[8];
	pid_t child;
	int fd;

	(void)state;
	fd = h_connect(srv->port, h_scaled(DEADLINE_MS));
	assert_true(fd >= 0);
	echo(fd, "served by a child\n");
	child = serving_pid(srv, fd);
	assert_true(child > 0);

	/* SIGTERM to the server alone, not to its process group. */
	stop_server(srv);
	/* The child got SIGTERM from the kernel (PR_SET_PDEATHSIG): it
	 * closes our connection and exits. */
	assert_int_equal(recv_n(fd, buf, sizeof(buf), DEADLINE_MS), 0);
	close(fd);
	for (long long deadline = h_now_ms() + h_scaled(DEADLINE_MS);
	     kill(child, 0) == 0 && h_now_ms() < deadline;)
		usleep(10000);
	/* Gone, or at worst a zombie its new parent has yet to reap. */
	if (kill(child, 0) == 0) {
		char path[64], st[256] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
		f = fopen(path, "r");
		if (f != NULL) {
			if (fgets(st, sizeof(st), f) == NULL)
				st[0] = '\0';
			fclose(f);
		}
		assert_non_null(strstr(st, ") Z "));
	}
}

static void test_help_and_bad_options(void **state)
{
	char *const bad[][3] = {
		{ "-x", NULL, NULL },
		{ "--zombies", "extra", NULL },
		{ "-p", "70000", NULL },
		{ "--zombies=yes", NULL, NULL },
	};
	struct h_proc p;
	char *help[] = { (char *)h_lesson(LESSON, "server"), "-h", NULL };

	(void)state;
	assert_int_equal(h_run(&p, help, NULL, 0, DEADLINE_MS), 0);
	assert_true(strncmp(p.outbuf, "usage: server ", 14) == 0);
	assert_non_null(strstr(p.outbuf, "--zombies"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { (char *)h_lesson(LESSON, "server"), bad[i][0], bad[i][1], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		assert_non_null(strstr(p.errbuf, "-h' for help"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_process_per_client_reaped_after),
		cmocka_unit_test(test_zombies_stay_until_the_server_exits),
		cmocka_unit_test(test_no_child_outlives_the_server),
		cmocka_unit_test(test_help_and_bad_options),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
