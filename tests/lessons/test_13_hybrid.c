/* test_13_hybrid.c — lesson 13, worker processes on SO_REUSEPORT and the
 * round-robin balancer.
 *
 * What these tests prove (the worker server under the usual echo load is
 * the concurrency suite's):
 *  - the kernel spreads connections over the workers: of 40 clients, each
 *    of 2 workers (distinct processes, children of the server) serves
 *    some, and SIGUSR1 makes each print a counter; the counters add up to
 *    the clients served;
 *  - after fork() the parent and each worker hold only their own
 *    descriptors (a worker: its listener, signalfd and epoll);
 *  - supervision: a worker killed with SIGKILL is reaped, replaced (a new
 *    pid), and clients are served meanwhile; SIGTERM stops the workers
 *    and the server exits 0 with no worker left; if the server itself is
 *    killed, its workers end too (PR_SET_PDEATHSIG);
 *  - the balancer, against two backends this test plays itself: clients
 *    go to the backends in turn and bytes go both ways; a dead backend is
 *    skipped (named on stderr) and new clients go to the live one; a
 *    client whose backend closes or resets is closed; with every backend
 *    down the client is closed at once;
 *  - back-pressure: a backend that never reads stops the client's sends
 *    after a bounded amount; when it reads, every byte arrives, in order;
 *  - a backend that closes while its last bytes wait for a slow client
 *    (its socket then reports EPOLLHUP to every epoll_wait()): the
 *    balancer does not spin, and every byte arrives, in order;
 *  - 1 MiB through the balancer to real echo servers (lesson 13's own)
 *    comes back byte for byte;
 *  - -h, bad options (exit 2), SIGTERM.
 * 127.0.0.1 and port 0 only; every wait has a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "harness.h"

#define LESSON "13-hybrid"
#define DEADLINE_MS 10000
#define QUIET_MS 500
#define PUSH_CAP (256u << 20)
#define BIG (1024 * 1024)
#define CLIENT_BUF (128 * 1024) /* a slow reader: fixed, small buffers */


#define NFDS 32

struct fx {
	struct h_proc srv, lb, b2, cl;
	int fds[NFDS];
	int backend[2];          /* listeners this test plays backend on */
	char bport[2][H_PORTSTRLEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	for (int i = 0; i < NFDS; i++)
		f->fds[i] = -1;
	f->backend[0] = f->backend[1] = -1;
	*state = f;
	return 0;
}

static void stop_if_running(struct h_proc *p)
{
	if (p->pid > 0 && p->status < 0)
		h_stop(p, SIGKILL, 2000);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stop_if_running(&f->cl);
	stop_if_running(&f->lb);
	stop_if_running(&f->b2);
	/* SIGTERM first: the server's workers end with it. */
	if (f->srv.pid > 0 && f->srv.status < 0)
		h_stop(&f->srv, SIGTERM, DEADLINE_MS);
	for (int i = 0; i < NFDS; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	for (int i = 0; i < 2; i++)
		if (f->backend[i] >= 0)
			close(f->backend[i]);
	free(f);
	return 0;
}

/* One echo of line over a new connection, then close. */
static void echo_once(const char *port, const char *line)
{
	char back[64];
	size_t len = strlen(line);
	int fd = h_connect(port, DEADLINE_MS);

	assert_true(fd >= 0);
	assert_int_equal(send(fd, line, len, 0), (ssize_t)len);
	assert_int_equal(h_recv_n(fd, back, len, DEADLINE_MS), (ssize_t)len);
	assert_memory_equal(back, line, len);
	close(fd);
}

/* The pid in "worker N: pid P" (the line for the newest worker N). */
static pid_t worker_pid(const char *out, int n)
{
	char want[32];
	const char *at, *last = NULL;

	snprintf(want, sizeof(want), "worker %d: pid ", n);
	for (at = strstr(out, want); at != NULL; at = strstr(at + 1, want))
		last = at;
	return last != NULL ? (pid_t)atoi(last + strlen(want)) : -1;
}

/* Is the process gone (or a zombie nobody has reaped yet)? */
static int gone(void *arg)
{
	char path[64], buf[512];
	pid_t pid = *(pid_t *)arg;
	FILE *fp;
	size_t n;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && (p[2] == 'Z' || p[2] == 'X');
}

static void start_server(struct h_proc *srv, const char *workers)
{
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-b", "127.0.0.1", "-p", "0",
			 "-w", (char *)workers, "-v", NULL };

	assert_int_equal(h_start(srv, argv), 0);
	if (h_wait_listening(srv, DEADLINE_MS) != 0)
		fail_msg("the server did not start; stderr:\n%s", srv->errbuf);
	assert_true(strncmp(srv->addr, "127.0.0.1:", 10) == 0);
}

/* ---- workers ------------------------------------------------------------------------ */

static void test_connections_spread_over_workers(void **state)
{
	struct fx *f = *state;
	pid_t w0, w1;
	char want[64];
	int total = 0;

	start_server(&f->srv, "2");
	w0 = worker_pid(f->srv.outbuf, 0);
	w1 = worker_pid(f->srv.outbuf, 1);
	assert_true(w0 > 0 && w1 > 0 && w0 != w1 && w0 != f->srv.pid && w1 != f->srv.pid);
	for (int i = 0; i < 40; i++) {
		char line[32];

		snprintf(line, sizeof(line), "client %d\n", i);
		echo_once(f->srv.port, line);
	}
	assert_int_equal(h_wait_count(&f->srv, "out", " disconnected (", 40, DEADLINE_MS), 0);
	/* Both got some: the chance that a hash sends all 40 to one of two
	 * is 2^-39. */
	snprintf(want, sizeof(want), "worker 0 (pid %d): client ", (int)w0);
	assert_true(h_count(f->srv.outbuf, want) > 0);
	snprintf(want, sizeof(want), "worker 1 (pid %d): client ", (int)w1);
	assert_true(h_count(f->srv.outbuf, want) > 0);

	/* SIGUSR1: each worker reports; the counts add up to 40. */
	assert_int_equal(kill(f->srv.pid, SIGUSR1), 0);
	assert_int_equal(h_wait_count(&f->srv, "out", " clients served, ", 2, DEADLINE_MS), 0);
	for (int w = 0; w < 2; w++) {
		const char *at;
		long long served = -1;

		snprintf(want, sizeof(want), "worker %d (pid %d): ", w, (int)(w ? w1 : w0));
		for (at = strstr(f->srv.outbuf, want); at != NULL; at = strstr(at + 1, want))
			if (sscanf(at + strlen(want), "%lld clients served", &served) == 1)
				break;
		assert_true(served > 0);
		total += (int)served;
	}
	assert_int_equal(total, 40);
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

/* The descriptors a process has open from 3 to 255, as /proc/PID/fd
 * names them ("socket:[123]", "pipe:[456]", "anon_inode:[signalfd]", ...).
 * (valgrind keeps its own above those.) */
struct fd_names {
	int n;
	char name[64][48];
};

static void open_fds(pid_t pid, struct fd_names *fn)
{
	char path[64];

	fn->n = 0;
	for (int fd = 3; fd < 256 && fn->n < 64; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		len = readlink(path, fn->name[fn->n], sizeof(fn->name[0]) - 1);
		if (len <= 0)
			continue;
		fn->name[fn->n++][len] = '\0';
	}
}

static int count_prefix(const struct fd_names *fn, const char *prefix)
{
	int c = 0;

	for (int i = 0; i < fn->n; i++)
		c += strncmp(fn->name[i], prefix, strlen(prefix)) == 0;
	return c;
}

static const char *first_prefix(const struct fd_names *fn, const char *prefix)
{
	for (int i = 0; i < fn->n; i++)
		if (strncmp(fn->name[i], prefix, strlen(prefix)) == 0)
			return fn->name[i];
	return "";
}

static int has_name(const struct fd_names *fn, const char *name)
{
	for (int i = 0; i < fn->n; i++)
		if (strcmp(fn->name[i], name) == 0)
			return 1;
	return 0;
}

/* The first pipe of who that is not open in base (not inherited, so made
 * by the server), or NULL. */
static const char *own_pipe(const struct fd_names *who, const struct fd_names *base)
{
	for (int i = 0; i < who->n; i++)
		if (strncmp(who->name[i], "pipe:", 5) == 0 && !has_name(base, who->name[i]))
			return who->name[i];
	return NULL;
}

struct worker_fds {
	pid_t pid;
	const struct fd_names *self, *parent;
	struct fd_names now;
};

/* Does the worker hold what it uses, and nothing of its parent's? */
static int worker_fds_right(void *arg)
{
	struct worker_fds *w = arg;

	open_fds(w->pid, &w->now);
	return count_prefix(&w->now, "socket:") == 1 &&
	       strcmp(first_prefix(&w->now, "socket:"), first_prefix(w->parent, "socket:")) != 0 &&
	       count_prefix(&w->now, "anon_inode:[signalfd]") == 1 &&
	       count_prefix(&w->now, "anon_inode:[eventpoll]") == 1 &&
	       own_pipe(&w->now, w->self) == NULL;
}

/* After fork() each process holds only what it uses: the parent its
 * bound socket and its signalfd; each worker its own listener, signalfd
 * and epoll, but not the parent's socket and signalfd, nor the pipe it
 * said "I listen" through. (Descriptors inherited from whoever started
 * the tests are in all of them, and in this process: left alone.) */
static void test_each_process_keeps_only_its_own_fds(void **state)
{
	struct fx *f = *state;
	struct fd_names self, parent;

	start_server(&f->srv, "2");
	open_fds(getpid(), &self);
	open_fds(f->srv.pid, &parent);
	assert_int_equal(count_prefix(&parent, "socket:"), 1);
	assert_int_equal(count_prefix(&parent, "anon_inode:[signalfd]"), 1);
	if (own_pipe(&parent, &self) != NULL)
		fail_msg("the parent still holds %s: a start-up pipe, never closed",
			 own_pipe(&parent, &self));
	for (int i = 0; i < 2; i++) {
		struct worker_fds w = { .pid = worker_pid(f->srv.outbuf, i), .self = &self,
					.parent = &parent };
		const struct fd_names *now = &w.now;

		assert_true(w.pid > 0);
		/* A worker closes its end of the pipe just after it writes the
		 * byte the parent waits for: give it that moment. */
		if (h_poll_until(worker_fds_right, &w, DEADLINE_MS))
			continue;
		if (count_prefix(now, "socket:") != 1 ||
		    strcmp(first_prefix(now, "socket:"), first_prefix(&parent, "socket:")) == 0)
			fail_msg("worker %d must hold one socket, its own listener, not the "
				 "parent's (it holds %d)", i, count_prefix(now, "socket:"));
		if (count_prefix(now, "anon_inode:[signalfd]") != 1)
			fail_msg("worker %d holds %d signalfds: the parent's is still open", i,
				 count_prefix(now, "anon_inode:[signalfd]"));
		if (own_pipe(now, &self) != NULL)
			fail_msg("worker %d still holds %s: its start-up pipe, never closed", i,
				 own_pipe(now, &self));
		fail_msg("worker %d holds %d epoll instances, not 1", i,
			 count_prefix(now, "anon_inode:[eventpoll]"));
	}
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
}

static void test_killed_worker_is_replaced(void **state)
{
	struct fx *f = *state;
	pid_t old, fresh;
	char want[96];

	start_server(&f->srv, "2");
	old = worker_pid(f->srv.outbuf, 1);
	assert_true(old > 0);
	assert_int_equal(kill(old, SIGKILL), 0);
	snprintf(want, sizeof(want), "worker 1 (pid %d) was killed by signal 9", (int)old);
	assert_int_equal(h_wait_output(&f->srv, "out", want, DEADLINE_MS), 0);
	assert_int_equal(h_wait_count(&f->srv, "out", "worker 1: pid ", 2, DEADLINE_MS), 0);
	fresh = worker_pid(f->srv.outbuf, 1);
	assert_true(fresh > 0 && fresh != old);
	assert_true(gone(&old));
	for (int i = 0; i < 20; i++)
		echo_once(f->srv.port, "still served\n");
	assert_int_equal(h_stop(&f->srv, SIGTERM, DEADLINE_MS), 0);
	assert_non_null(strstr(f->srv.outbuf, "stopping: signal received\n"));
	/* The server waited for its workers: none is left. */
	assert_true(gone(&fresh));
	old = worker_pid(f->srv.outbuf, 0);
	assert_true(gone(&old));
}

static void test_workers_end_with_a_killed_server(void **state)
{
	struct fx *f = *state;
	pid_t w[3];

	start_server(&f->srv, "3");
	for (int i = 0; i < 3; i++) {
		w[i] = worker_pid(f->srv.outbuf, i);
		assert_true(w[i] > 0);
	}
	/* No chance to clean up: the kernel tells the workers instead. */
	assert_int_equal(h_stop(&f->srv, SIGKILL, DEADLINE_MS), 128 + SIGKILL);
	for (int i = 0; i < 3; i++)
		assert_true(h_poll_until(gone, &w[i], DEADLINE_MS));
}

static void test_sigterm_right_after_listening(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 4; i++) {
		pid_t w;

		memset(&f->srv, 0, sizeof(f->srv));
		start_server(&f->srv, "2");
		w = worker_pid(f->srv.outbuf, 1);
		assert_int_equal(h_stop(&f->srv, i % 2 ? SIGINT : SIGTERM, DEADLINE_MS), 0);
		assert_true(gone(&w));
	}
}

/* ---- the balancer, with backends played by this test ------------------------------------ */

static void open_backends(struct fx *f)
{
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);

		f->backend[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(f->backend[i] >= 0);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(f->backend[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
		assert_int_equal(listen(f->backend[i], 16), 0);
		assert_int_equal(getsockname(f->backend[i], (struct sockaddr *)&sin, &len), 0);
		snprintf(f->bport[i], H_PORTSTRLEN, "%u", ntohs(sin.sin_port));
	}
}

static void start_balancer(struct fx *f, const char *p1, const char *p2)
{
	char b1[32], b2[32];
	char *argv[] = { (char *)h_lesson(LESSON, "balancer"), "-b", "127.0.0.1", "-p", "0",
			 "-v", "-B", b1, "-B", b2, NULL };

	snprintf(b1, sizeof(b1), "127.0.0.1:%s", p1);
	snprintf(b2, sizeof(b2), "127.0.0.1:%s", p2);
	assert_int_equal(h_start(&f->lb, argv), 0);
	assert_int_equal(h_wait_listening(&f->lb, DEADLINE_MS), 0);
}

/* Which of our backends the balancer connected to: accept there. Returns
 * 0 or 1 and the accepted socket in *fd, or -1 after the deadline. */
static int accept_on_backend(struct fx *f, int *fd)
{
	struct pollfd pfd[2] = { { .fd = f->backend[0], .events = POLLIN },
				 { .fd = f->backend[1], .events = POLLIN } };

	if (poll(pfd, 2, h_scaled(DEADLINE_MS)) <= 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (pfd[i].fd >= 0 && (pfd[i].revents & POLLIN)) {
			*fd = accept4(f->backend[i], NULL, NULL, SOCK_CLOEXEC);
			return *fd >= 0 ? i : -1;
		}
	}
	return -1;
}

/* A client through the balancer says line; the backend that gets it
 * answers "from N"; the client must read exactly that. Returns N. */
static int one_client(struct fx *f, int *client, int *server_side, const char *line)
{
	char buf[64], reply[16];
	size_t len = strlen(line);
	int which;

	*client = h_connect(f->lb.port, DEADLINE_MS);
	assert_true(*client >= 0);
	assert_int_equal(send(*client, line, len, 0), (ssize_t)len);
	which = accept_on_backend(f, server_side);
	assert_true(which >= 0);
	assert_int_equal(h_recv_n(*server_side, buf, len, DEADLINE_MS), (ssize_t)len);
	assert_memory_equal(buf, line, len);
	snprintf(reply, sizeof(reply), "from %d\n", which);
	assert_int_equal(send(*server_side, reply, strlen(reply), 0), (ssize_t)strlen(reply));
	assert_int_equal(h_recv_n(*client, buf, strlen(reply), DEADLINE_MS),
			 (ssize_t)strlen(reply));
	assert_memory_equal(buf, reply, strlen(reply));
	return which;
}

static void test_balancer_alternates_backends(void **state)
{
	struct fx *f = *state;
	int seen[6];

	open_backends(f);
	start_balancer(f, f->bport[0], f->bport[1]);
	for (int i = 0; i < 6; i++) {
		seen[i] = one_client(f, &f->fds[2 * i], &f->fds[2 * i + 1], "hello\n");
		if (i > 0 && seen[i] == seen[i - 1])
			fail_msg("clients %d and %d both went to backend %d", i, i + 1,
				 seen[i] + 1);
	}
	/* The client's FIN reaches the backend; the backend's close ends the
	 * client's connection. */
	assert_int_equal(shutdown(f->fds[0], SHUT_WR), 0);
	{
		char c;

		assert_int_equal(h_recv_n(f->fds[1], &c, 1, DEADLINE_MS), 0);
		assert_int_equal(recv(f->fds[1], &c, 1, MSG_DONTWAIT), 0);
	}
	close(f->fds[1]);
	f->fds[1] = -1;
	{
		struct pollfd pfd = { .fd = f->fds[0], .events = POLLIN };
		char c;

		assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
		assert_int_equal(recv(f->fds[0], &c, 1, 0), 0);
	}
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
	assert_non_null(strstr(f->lb.outbuf, "stopping: signal received"));
}

static void test_balancer_skips_a_dead_backend(void **state)
{
	struct fx *f = *state;
	char want[64];
	int dead;

	open_backends(f);
	start_balancer(f, f->bport[0], f->bport[1]);
	/* Backend 0 dies: nothing listens on its port any more. */
	dead = 0;
	close(f->backend[dead]);
	f->backend[dead] = -1;
	for (int i = 0; i < 6; i++)
		assert_int_equal(one_client(f, &f->fds[2 * i], &f->fds[2 * i + 1], "hi\n"), 1);
	snprintf(want, sizeof(want), "backend 127.0.0.1:%s is down (Connection refused)",
		 f->bport[dead]);
	assert_int_equal(h_wait_output(&f->lb, "err", want, DEADLINE_MS), 0);
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
}

static void test_client_closed_when_its_backend_dies(void **state)
{
	struct fx *f = *state;

	open_backends(f);
	start_balancer(f, f->bport[0], f->bport[1]);
	for (int how = 0; how < 2; how++) {
		int client, side;
		struct pollfd pfd;
		char c;
		ssize_t n;

		one_client(f, &client, &side, "x\n");
		f->fds[2 * how] = client;
		if (how == 1) {
			/* A reset, not a FIN: SO_LINGER {1, 0}. */
			struct linger lg = { 1, 0 };

			assert_int_equal(setsockopt(side, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
		}
		close(side);
		pfd = (struct pollfd){ .fd = client, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
		n = recv(client, &c, 1, 0);
		assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	}
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
}

static void test_client_closed_when_every_backend_is_down(void **state)
{
	struct fx *f = *state;
	struct pollfd pfd;
	char c;
	ssize_t n;

	open_backends(f);
	start_balancer(f, f->bport[0], f->bport[1]);
	close(f->backend[0]);
	close(f->backend[1]);
	f->backend[0] = f->backend[1] = -1;
	f->fds[0] = h_connect(f->lb.port, DEADLINE_MS);
	assert_true(f->fds[0] >= 0);
	pfd = (struct pollfd){ .fd = f->fds[0], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, h_scaled(DEADLINE_MS)), 1);
	n = recv(f->fds[0], &c, 1, 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	assert_int_equal(h_wait_output(&f->lb, "out", "no backend available", DEADLINE_MS), 0);
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
}

static void test_balancer_back_pressure(void **state)
{
	struct fx *f = *state;
	static char chunk[1 << 16], buf[1 << 16];
	size_t pushed = 0, got = 0;
	int client, side, which;
	long long deadline, last;

	open_backends(f);
	start_balancer(f, f->bport[0], f->bport[1]);
	client = f->fds[0] = h_connect_small_buffers(f->lb.port, CLIENT_BUF, DEADLINE_MS);
	assert_true(client >= 0);
	which = accept_on_backend(f, &side);
	assert_true(which >= 0);
	f->fds[1] = side;
	/* The backend does not read: the client can push only so much (the
	 * kernel's buffers on both legs, and 16 KiB in the balancer). */
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i % 251);
	assert_int_equal(fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK), 0);
	while (pushed < PUSH_CAP) {
		struct pollfd pfd = { .fd = client, .events = POLLOUT };
		size_t off = pushed % 251;
		ssize_t n = send(client, chunk + off, sizeof(chunk) - 251, MSG_NOSIGNAL);

		if (n > 0) {
			pushed += (size_t)n;
			continue;
		}
		assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
		if (poll(&pfd, 1, h_scaled(500)) == 0)
			break;
	}
	assert_true(pushed > 0 && pushed < PUSH_CAP);
	/* Now the backend reads: every byte, in order. (Bytes keep coming
	 * while the balancer works; DEADLINE_MS without one is the end.) */
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	deadline = h_now_ms() + h_scaled(6 * DEADLINE_MS);
	last = h_now_ms();
	while (got < pushed && h_now_ms() < deadline &&
	       h_now_ms() - last < h_scaled(DEADLINE_MS)) {
		struct pollfd pfd = { .fd = side, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		last = h_now_ms();
		n = recv(side, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (ssize_t k = 0; k < n; k++)
			if ((unsigned char)buf[k] != (unsigned char)((got + (size_t)k) % 251))
				fail_msg("byte %zu differs", got + (size_t)k);
		got += (size_t)n;
	}
	if (got != pushed)
		fail_msg("the backend got %zu of the %zu bytes the client sent", got, pushed);
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
}

/* Bytes waiting in fd's send queue, sent or not, not yet acknowledged
 * (its FIN counts one), or -1. */
static int unacked(int fd)
{
	int n;

	return ioctl(fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

/* Read from the client what has come, checking it is the pattern from
 * *got on; returns what recv() last returned (0: end of file). */
static ssize_t read_pattern(int client, size_t *got, int timeout_ms)
{
	static unsigned char buf[1 << 16];
	struct pollfd pfd = { .fd = client, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	n = recv(client, buf, sizeof(buf), 0);
	for (ssize_t k = 0; k < n; k++)
		if (buf[k] != h_pattern_byte(*got + (size_t)k))
			fail_msg("byte %zu differs", *got + (size_t)k);
	if (n > 0)
		*got += (size_t)n;
	return n;
}

/* One client whose backend closes behind it: the client sends its FIN
 * at once; the backend sends until every buffer on the way is full, then
 * closes too; the client (small buffers: a slow reader) reads until the
 * backend's last bytes and its FIN are in the balancer's hands, and stops
 * for a while. From then on the backend's socket reports EPOLLHUP (both
 * directions shut) to every epoll_wait(), asked for or not, and the
 * balancer may still hold bytes from it it has no room for yet. */
static void backend_closes_behind_a_slow_client(struct fx *f)
{
	size_t pushed, got = 0;
	long long used, deadline = h_now_ms() + h_scaled(6 * DEADLINE_MS);
	int client, side;
	char byte;

	client = f->fds[0] = h_connect_small_buffers(f->lb.port, CLIENT_BUF, DEADLINE_MS);
	assert_true(client >= 0);
	assert_true(accept_on_backend(f, &side) >= 0);
	f->fds[1] = side;
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	assert_int_equal(h_recv_n(side, &byte, 1, DEADLINE_MS), 0); /* its FIN came */
	pushed = h_push_pattern(side, PUSH_CAP, h_scaled(QUIET_MS), h_scaled(DEADLINE_MS),
				h_idle_read_output, &f->lb);
	assert_true(pushed > 0 && pushed < PUSH_CAP);
	assert_int_equal(shutdown(side, SHUT_WR), 0);
	while (unacked(side) > 0 && h_now_ms() < deadline)
		if (read_pattern(client, &got, 100) == 0)
			break;
	assert_int_equal(unacked(side), 0);
	/* Asleep in epoll_wait(), not spinning on the hang-up. */
	used = h_cpu_used_over(f->lb.pid, h_scaled(QUIET_MS), h_idle_read_output, &f->lb);
	assert_true(used >= 0);
	if (used * 5 >= h_scaled(QUIET_MS))
		fail_msg("the balancer used %lld ms of CPU in %d ms: it spins on the backend's "
			 "hang-up", used, h_scaled(QUIET_MS));
	/* Then every byte, in order, and end of file. */
	while (h_now_ms() < deadline && read_pattern(client, &got, 100) != 0)
		;
	if (got != pushed)
		fail_msg("the client got %zu of the %zu bytes the backend sent", got, pushed);
	close(client);
	close(side);
	f->fds[0] = f->fds[1] = -1;
}

/* How much is left behind the hang-up depends on how the kernel has
 * sized the balancer's socket buffers (autotuning); three rounds make it
 * all but certain that one leaves more than the client's side can take. */
static void test_backend_closing_behind_a_slow_client(void **state)
{
	struct fx *f = *state;

	open_backends(f);
	start_balancer(f, f->bport[0], f->bport[1]);
	for (int round = 0; round < 3; round++)
		backend_closes_behind_a_slow_client(f);
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
}

/* Write all of in to p's stdin while reading its stdout. */
static ssize_t pipe_through(struct h_proc *p, const unsigned char *in, size_t inlen,
			    unsigned char *out, size_t cap, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	size_t sent = 0, got = 0;

	assert_int_equal(fcntl(p->in, F_SETFL, fcntl(p->in, F_GETFL) | O_NONBLOCK), 0);
	while (p->out >= 0 && got < cap) {
		struct pollfd pfd[2] = { { .fd = p->in, .events = POLLOUT },
					 { .fd = p->out, .events = POLLIN } };
		long long left = deadline - h_now_ms();

		if (left <= 0 || poll(pfd, 2, (int)left) < 0)
			return -1;
		if (pfd[0].revents != 0) {
			ssize_t n = write(p->in, in + sent, inlen - sent);

			if (n > 0)
				sent += (size_t)n;
			if (sent == inlen)
				h_feed(p, NULL, 0);
		}
		if (pfd[1].revents != 0) {
			ssize_t n = read(p->out, out + got, cap - got);

			if (n == 0) {
				close(p->out);
				p->out = -1;
			}
			if (n > 0)
				got += (size_t)n;
		}
	}
	return (ssize_t)got;
}

static void test_1mib_through_the_balancer_to_echo_servers(void **state)
{
	struct fx *f = *state;
	unsigned char *in = malloc(BIG), *out = malloc(BIG + 1);
	char *b2argv[] = { (char *)h_lesson(LESSON, "server"), "-p", "0", "-w", "1", NULL };
	char *clargv[] = { (char *)h_lesson("11-nonblocking", "client"), "-p", NULL, NULL };

	assert_non_null(in);
	assert_non_null(out);
	start_server(&f->srv, "1");
	assert_int_equal(h_start(&f->b2, b2argv), 0);
	assert_int_equal(h_wait_listening(&f->b2, DEADLINE_MS), 0);
	start_balancer(f, f->srv.port, f->b2.port);
	clargv[2] = f->lb.port;
	for (unsigned seed = 1; seed <= 2; seed++) { /* one per backend */
		h_random_bytes(in, BIG, seed);
		assert_int_equal(h_start(&f->cl, clargv), 0);
		assert_int_equal(pipe_through(&f->cl, in, BIG, out, BIG + 1, 6 * DEADLINE_MS), BIG);
		assert_int_equal(h_wait_exit(&f->cl, DEADLINE_MS), 0);
		assert_memory_equal(out, in, BIG);
	}
	assert_int_equal(h_stop(&f->lb, SIGTERM, DEADLINE_MS), 0);
	assert_non_null(strstr(f->lb.outbuf, ": 1 clients\n"));
	assert_int_equal(h_count(f->lb.outbuf, ": 1 clients\n"), 2);
	free(in);
	free(out);
}

/* ---- command line ---------------------------------------------------------------------------- */

static void test_help_and_bad_options(void **state)
{
	struct fx *f = *state;
	const char *progs[] = { "server", "balancer" };
	char *const bad[][4] = {
		{ "server", "-w", "0", NULL },
		{ "server", "-w", "65", NULL },
		{ "server", "-p", "70000", NULL },
		{ "balancer", "-p", "0", NULL },               /* no backend */
		{ "balancer", "-B", "127.0.0.1", NULL },       /* no port */
		{ "balancer", "-B", "127.0.0.1:0", NULL },
		{ "balancer", "-B", "127.0.0.1:70000", NULL },
	};
	const char *why = h_check_usage(&f->cl, LESSON, progs, sizeof(progs) / sizeof(progs[0]),
					bad, sizeof(bad) / sizeof(bad[0]), DEADLINE_MS);

	if (why != NULL)
		fail_msg("%s", why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connections_spread_over_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_process_keeps_only_its_own_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_worker_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workers_end_with_a_killed_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_right_after_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balancer_alternates_backends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balancer_skips_a_dead_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_closed_when_its_backend_dies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_closed_when_every_backend_is_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balancer_back_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_closing_behind_a_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_1mib_through_the_balancer_to_echo_servers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_bad_options, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
