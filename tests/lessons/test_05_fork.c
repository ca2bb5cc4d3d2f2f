/* test_05_fork.c — lesson 05, the fork-per-client server, beyond what the
 * shared suite (test_concurrency.c) checks for every design.
 *
 * What these tests prove:
 *  - each client is served by a child process of its own (a pid per
 *    client, not the server's), and every child is reaped when its
 *    client leaves, also when many leave at the same moment;
 *  - after fork() each process keeps only the socket it needs: the child
 *    holds its client's socket and not the listener, the parent the
 *    listener and not the client's socket (checked by socket inode, from
 *    /proc/net/tcp and /proc/PID/fd), so the child's close() ends the
 *    connection;
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

/* The server of the test that is running, until the test stops it. A test
 * that fails leaves it running: the teardown kills it, before this program
 * exits and closes the pipes the server writes its lines to (a write to a
 * pipe nobody reads would kill it with SIGPIPE, and a check would report
 * that as a crash of the student's server). */
static struct h_proc *running;
/* A child that may outlive its server (test_no_child_outlives_the_server). */
static pid_t stray;

static int children_of(pid_t pid, int *zombies, int sig);

static int kill_leftovers(void **state)
{
	int z;

	(void)state;
	if (running != NULL) {
		if (running->status < 0) {
			children_of(running->pid, &z, SIGKILL);
			h_stop(running, SIGKILL, DEADLINE_MS);
		}
		free(running);
		running = NULL;
	}
	if (stray > 0)
		kill(stray, SIGKILL);
	stray = 0;
	return 0;
}

static struct h_proc *start_server(const char *extra)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 (char *)extra, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	running = srv;
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
	running = NULL;
}

/* Children of pid, and how many are zombies (from /proc/N/stat); sig, if
 * not 0, is sent to each. */
static int children_of(pid_t pid, int *zombies, int sig)
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
		if (sig != 0)
			kill((pid_t)atoi(e->d_name), sig);
	}
	closedir(d);
	return n;
}

static int children(pid_t pid, int *zombies)
{
	return children_of(pid, zombies, 0);
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

static void echo(int fd, const char *text)
{
	char back[128];
	size_t len = strlen(text);

	assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(h_recv_n(fd, back, len, DEADLINE_MS), len);
	assert_memory_equal(back, text, len);
}

/* Wait for the end of file on fd: 1 if recv() returned 0 before the
 * deadline, 0 if data came instead, or nothing at all. */
static int read_eof(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, h_scaled(ms)) <= 0)
		return 0;
	return recv(fd, &c, 1, 0) == 0;
}

/* One whole session: connect, echo, half-close, read the end of file. */
static void session(const char *port, const char *text)
{
	int fd = h_connect(port, DEADLINE_MS);

	assert_true(fd >= 0);
	echo(fd, text);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_true(read_eof(fd, DEADLINE_MS));
	close(fd);
}

static unsigned local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* The inode of a server socket on local port port, from /proc/net/tcp: the
 * listener (in LISTEN) when peer_port is 0, else the connection
 * (ESTABLISHED) whose peer has port peer_port. 0 when there is none. */
static unsigned long socket_inode(const char *port, unsigned peer_port)
{
	char line[512];
	unsigned want = (unsigned)atoi(port);
	unsigned long found = 0;
	FILE *f = fopen("/proc/net/tcp", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lport, rport, st;
		unsigned long inode;

		if (sscanf(line, " %*d: %*8X:%X %*8X:%X %X %*X:%*X %*X:%*X %*X %*u %*u %lu",
			   &lport, &rport, &st, &inode) != 4 || lport != want)
			continue;
		if (peer_port == 0 ? st == 0x0A : rport == peer_port && st == 0x01)
			found = inode;
	}
	fclose(f);
	return found;
}

/* A process and a socket (by inode): does the process hold it? */
struct holding {
	pid_t pid;
	unsigned long inode;
};

static int holds(const struct holding *h)
{
	char dir[64], want[64];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)h->pid);
	snprintf(want, sizeof(want), "socket:[%lu]", h->inode);
	d = opendir(dir);
	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		char link[384], target[64];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue; /* closed since readdir() saw it */
		target[n] = '\0';
		found = strcmp(target, want) == 0;
	}
	closedir(d);
	return found;
}

static int lets_go(void *arg)
{
	return !holds(arg);
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
	a = h_connect(srv->port, DEADLINE_MS);
	b = h_connect(srv->port, DEADLINE_MS);
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

static void test_each_process_keeps_only_the_socket_it_needs(void **state)
{
	struct h_proc *srv = start_server(NULL);
	struct holding parent_listener, parent_conn, child_conn, child_listener;
	unsigned long listener;
	pid_t pids[2];
	int fds[2];

	(void)state;
	listener = socket_inode(srv->port, 0);
	assert_true(listener != 0);
	parent_listener = (struct holding){ srv->pid, listener };
	for (int i = 0; i < 2; i++) {
		unsigned long conn;

		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		/* The second is served while the first is still connected. */
		echo(fds[i], i == 0 ? "first\n" : "second, the first still here\n");
		pids[i] = serving_pid(srv, fds[i]);
		/* A process of its own: neither the server nor the other's. */
		assert_true(pids[i] > 0);
		assert_true(pids[i] != srv->pid);
		assert_true(i == 0 || pids[1] != pids[0]);

		conn = socket_inode(srv->port, local_port(fds[i]));
		assert_true(conn != 0);
		child_conn = (struct holding){ pids[i], conn };
		child_listener = (struct holding){ pids[i], listener };
		parent_conn = (struct holding){ srv->pid, conn };
		/* The child serves its client and has closed the listener (it
		 * did so before it echoed a byte). */
		assert_true(holds(&child_conn));
		assert_false(holds(&child_listener));
		/* The parent keeps the listener and lets go of the client's
		 * socket (right after fork(): give it a moment). */
		assert_true(holds(&parent_listener));
		assert_true(h_poll_until(lets_go, &parent_conn, DEADLINE_MS));
	}
	/* So the child's close() is the last one: the client reads end of
	 * file as soon as its child is done. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(shutdown(fds[i], SHUT_WR), 0);
		assert_true(read_eof(fds[i], DEADLINE_MS));
		close(fds[i]);
	}
	stop_server(srv);
}

static void test_children_exiting_together_are_all_reaped(void **state)
{
	struct h_proc *srv = start_server(NULL);
	int fds[20];

	(void)state;
	for (int i = 0; i < 20; i++) {
		fds[i] = h_connect(srv->port, DEADLINE_MS);
		assert_true(fds[i] >= 0);
		echo(fds[i], "leaving soon\n");
	}
	assert_true(wait_children(srv, 20, 0));
	/* Twenty children exit at about the same time: their SIGCHLDs merge
	 * into fewer signals, and every child must still be reaped. */
	for (int i = 0; i < 20; i++)
		close(fds[i]);
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
	pid_t child;
	int fd;

	(void)state;
	fd = h_connect(srv->port, DEADLINE_MS);
	assert_true(fd >= 0);
	echo(fd, "served by a child\n");
	child = serving_pid(srv, fd);
	assert_true(child > 0);
	assert_true(child != srv->pid);
	stray = child;

	/* SIGTERM to the server alone, not to its process group. */
	stop_server(srv);
	/* The child got SIGTERM from the kernel (PR_SET_PDEATHSIG): it
	 * closes our connection and exits. */
	assert_true(read_eof(fd, DEADLINE_MS));
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
		cmocka_unit_test_teardown(test_a_process_per_client_reaped_after, kill_leftovers),
		cmocka_unit_test_teardown(test_each_process_keeps_only_the_socket_it_needs, kill_leftovers),
		cmocka_unit_test_teardown(test_children_exiting_together_are_all_reaped, kill_leftovers),
		cmocka_unit_test_teardown(test_zombies_stay_until_the_server_exits, kill_leftovers),
		cmocka_unit_test_teardown(test_no_child_outlives_the_server, kill_leftovers),
		cmocka_unit_test_teardown(test_help_and_bad_options, kill_leftovers),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
