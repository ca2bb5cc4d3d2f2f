/* test_17_unix.c — lesson 17's programs (Unix-domain sockets), run as real
 * processes, driven by our own clients, by this test's own sockets, and
 * by tools no one here wrote (socat, Python's socket module).
 *
 * What these tests prove:
 *  - stream-server echoes, on a path inside a new 0700 directory; on
 *    SIGTERM it exits 0 and both the socket file and the directory are
 *    gone;
 *  - a socket file left by a SIGKILLed server is detected as stale and
 *    replaced by the next server; a live server's socket, and a file that
 *    is not a socket, are left alone (the second server exits 1);
 *  - permissions: another user (uid 65534, in a forked child) cannot
 *    connect through the 0700 directory, nor to a socket file of mode
 *    0600, and can to one of mode 0666 (only when the test runs as root);
 *  - SO_PEERCRED: the server prints this test's own pid, uid and gid when
 *    the test connects, and the stream client's pid when it does;
 *  - dgram-client gets replies only when it has a name (a path or an
 *    autobound abstract name); unbound, the server reports the empty
 *    address (addrlen at most sizeof(sa_family_t)) and a failed sendto;
 *  - SOCK_SEQPACKET: 100 messages of random sizes, sent without waiting,
 *    come back one recv() each, with their exact sizes and bytes, and the
 *    server's log lists the same sizes in order; a 16-byte server buffer
 *    truncates with MSG_TRUNC and reports the real length;
 *  - an abstract name (@name) works, creates no file, is listed in
 *    /proc/net/unix while the server runs and vanishes when it stops;
 *  - pair: parent and forked child exchange pings and pongs both ways;
 *  - fdpass: a passed file descriptor shares its offset with the sender
 *    (in both directions); a passed TCP connection is served by the
 *    receiver after the sender has exited; Python's socket.send_fds()
 *    passes one to our receiver too;
 *  - socat and Python talk to our stream, datagram and seqpacket servers;
 *  - -h exits 0 and bad command lines exit 2, for every program.
 * Every wait has a deadline. Each test gets XDG_RUNTIME_DIR pointed at a
 * directory of its own, so the servers' private directories land there and
 * the test can see what is left behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "harness.h"

#define LESSON "17-unix"
#define T_MS 10000     /* anything that should take milliseconds */
#define ADDR_MAX 256
#define NPROCS 4

/* ---- fixture: a scratch directory and up to NPROCS programs --------------- */

struct world {
	char dir[128];               /* scratch; also $XDG_RUNTIME_DIR */
	struct h_proc p[NPROCS];     /* p[0] is usually the server */
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	snprintf(w->dir, sizeof(w->dir), "/tmp/socklab-t17-XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	/* 0711: others may pass through (the permission test needs that)
	 * but not list it. */
	if (chmod(w->dir, 0711) < 0)
		return -1;
	setenv("XDG_RUNTIME_DIR", w->dir, 1);
	for (int i = 0; i < NPROCS; i++) {
		w->p[i].pid = -1;
		w->p[i].status = 0;
	}
	*state = w;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Programs a failed test left running are killed; the scratch directory
 * is removed with everything in it. */
static int teardown(void **state)
{
	struct world *w = *state;

	for (int i = 0; i < NPROCS; i++)
		if (w->p[i].pid > 0 && w->p[i].status < 0)
			h_stop(&w->p[i], SIGKILL, T_MS);
	nftw(w->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("XDG_RUNTIME_DIR");
	free(w);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------- */

/* Start a lesson program with up to 6 arguments (NULL ends the list). */
static void start(struct h_proc *p, const char *prog, const char *a1, const char *a2,
                  const char *a3, const char *a4, const char *a5, const char *a6)
{
	char *argv[] = { (char *)h_lesson(LESSON, prog), (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, NULL };

	assert_int_equal(h_start(p, argv), 0);
}

/* Run a lesson program to its end; returns its exit code. */
static int run(struct h_proc *p, const char *prog, const char *a1, const char *a2,
               const char *a3, const char *a4, const char *a5, const char *a6)
{
	start(p, prog, a1, a2, a3, a4, a5, a6);
	h_feed(p, NULL, 0);
	return h_wait_exit(p, T_MS);
}

/* Wait for "listening on ADDR" and copy ADDR (a path, "@name", or
 * "127.0.0.1:port"). The harness's h_wait_listening wants a port, which a
 * Unix socket does not have. */
static void wait_listening(struct h_proc *p, char *addr, size_t size)
{
	long long deadline = h_now_ms() + h_scaled(T_MS);
	const char *at, *eol;

	if (h_wait_output(p, "out", "listening on ", T_MS) < 0)
		fail_msg("no 'listening on' line; stdout:\n%s\nstderr:\n%s", p->outbuf, p->errbuf);
	at = strstr(p->outbuf, "listening on ") + strlen("listening on ");
	/* The line may still be arriving: read on until its newline. */
	while ((eol = strchr(at, '\n')) == NULL && h_now_ms() < deadline)
		h_wait_output(p, "out", "\n\n\n", 50);
	assert_non_null(eol);
	assert_true((size_t)(eol - at) < size);
	memcpy(addr, at, (size_t)(eol - at));
	addr[eol - at] = '\0';
}

/* Stop a server with SIGTERM: it must exit 0 (and, under valgrind, leak-
 * and fd-clean). */
static void stop_ok(struct h_proc *p)
{
	int rc = h_stop(p, SIGTERM, T_MS);

	if (rc != 0)
		fail_msg("server exit %d; stderr:\n%s", rc, p->errbuf);
}

static int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The directory part of path, in dir. */
static void dirname_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	assert_non_null(slash);
	assert_true((size_t)(slash - path) < size);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
}

/* Number of entries in a directory. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A connected Unix socket of type to name ("@x" for abstract), with
 * receive and send timeouts so a silent server fails the test. */
static int unix_connect(const char *name, int type)
{
	struct sockaddr_un sun;
	struct timeval tv = { h_scaled(T_MS) / 1000, 0 };
	socklen_t len;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(sl_unix_addr(name, &sun, &len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, len) < 0)
		fail_msg("connect %s: %s", name, strerror(errno));
	return fd;
}

/* Send all of buf on a stream socket. */
static void send_all(int fd, const void *buf, size_t len)
{
	const char *c = buf;

	while (len > 0) {
		ssize_t n = send(fd, c, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		c += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes from a stream socket (its SO_RCVTIMEO bounds it). */
static void recv_exact(int fd, void *buf, size_t len)
{
	char *c = buf;

	while (len > 0) {
		ssize_t n = recv(fd, c, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("recv: %s", n == 0 ? "end of file" : strerror(errno));
		c += n;
		len -= (size_t)n;
	}
}

/* Echo round trip over our own connection to a stream server. */
static void check_echo(const char *name, const char *text)
{
	char back[256];
	int fd = unix_connect(name, SOCK_STREAM);
	size_t len = strlen(text);

	assert_true(len < sizeof(back));
	send_all(fd, text, len);
	recv_exact(fd, back, len);
	assert_memory_equal(back, text, len);
	close(fd);
}

/* The number after "key" in text (e.g. "pid 123"), or -1. */
static long number_after(const char *text, const char *key)
{
	const char *at = strstr(text, key);

	return at == NULL ? -1 : strtol(at + strlen(key), NULL, 10);
}

/* ---- stream sockets ------------------------------------------------------------ */

/* Echo with our client; a private 0700 directory; SO_PEERCRED names the
 * client's pid; SIGTERM removes the socket file and the directory. */
static void test_stream_echo_and_cleanup(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *cli = &w->p[1];
	char path[ADDR_MAX], dir[ADDR_MAX], key[64];
	struct stat st;
	long client_pid;

	start(srv, "stream-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	/* The default place: a new directory under $XDG_RUNTIME_DIR. */
	assert_true(strncmp(path, w->dir, strlen(w->dir)) == 0);
	dirname_of(path, dir, sizeof(dir));
	assert_int_equal(lstat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	assert_int_equal(run(cli, "stream-client", "-s", path, "hello", "unix", NULL, NULL), 0);
	assert_string_equal(cli->outbuf, "hello unix\n");
	/* SO_PEERCRED: the pid the server saw is the one the client printed. */
	client_pid = number_after(cli->errbuf, "as pid ");
	assert_true(client_pid > 0);
	assert_int_equal(client_pid, cli->pid);
	snprintf(key, sizeof(key), "client connected: pid %ld ", client_pid);
	assert_int_equal(h_wait_output(srv, "out", key, T_MS), 0);
	assert_int_equal(h_wait_output(srv, "out", "(11 bytes echoed)", T_MS), 0);

	stop_ok(srv);
	assert_false(path_exists(path));
	assert_false(path_exists(dir));
	assert_int_equal(count_entries(w->dir), 0);
}

/* 32 KiB of binary data through our client, byte for byte (the harness
 * keeps up to 64 KiB of a program's output). */
static void test_stream_binary(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *cli = &w->p[1];
	enum { LEN = 32768 };
	static unsigned char data[LEN];
	char path[ADDR_MAX];
	char *argv[4];

	start(srv, "stream-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	h_random_bytes(data, LEN, 17);
	argv[0] = (char *)h_lesson(LESSON, "stream-client");
	argv[1] = "-s";
	argv[2] = path;
	argv[3] = NULL;
	assert_int_equal(h_run(cli, argv, data, LEN, T_MS), 0);
	assert_int_equal(cli->outlen, LEN);
	assert_memory_equal(cli->outbuf, data, LEN);
	stop_ok(srv);
}

/* A SIGKILLed server leaves its socket file; the next server on the same
 * path finds it stale, removes it and serves; SIGTERM then removes it. */
static void test_stale_socket_replaced(void **state)
{
	struct world *w = *state;
	struct h_proc *first = &w->p[0], *second = &w->p[1];
	char path[ADDR_MAX], got[ADDR_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/stale.sock", w->dir);
	start(first, "stream-server", "-s", path, NULL, NULL, NULL, NULL);
	wait_listening(first, got, sizeof(got));
	assert_string_equal(got, path);
	assert_int_equal(h_stop(first, SIGKILL, T_MS), 128 + SIGKILL);
	/* The file outlives the process. */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	start(second, "stream-server", "-s", path, NULL, NULL, NULL, NULL);
	wait_listening(second, got, sizeof(got));
	assert_non_null(strstr(second->outbuf, "stale socket file"));
	check_echo(path, "after the stale file\n");
	stop_ok(second);
	assert_false(path_exists(path));
}

/* A live server's socket is never taken over, nor is a regular file. */
static void test_live_socket_and_plain_file_kept(void **state)
{
	struct world *w = *state;
	struct h_proc *live = &w->p[0], *intruder = &w->p[1], *third = &w->p[2];
	char path[ADDR_MAX], got[ADDR_MAX], plain[ADDR_MAX], buf[16] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/live.sock", w->dir);
	start(live, "stream-server", "-s", path, NULL, NULL, NULL, NULL);
	wait_listening(live, got, sizeof(got));
	assert_int_equal(run(intruder, "stream-server", "-s", path, NULL, NULL, NULL, NULL), 1);
	assert_non_null(strstr(intruder->errbuf, "in use"));
	assert_null(strstr(intruder->outbuf, "listening on"));
	/* The first server still owns the path and answers. */
	check_echo(path, "still here\n");
	stop_ok(live);

	snprintf(plain, sizeof(plain), "%s/data.txt", w->dir);
	fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(run(third, "stream-server", "-s", plain, NULL, NULL, NULL, NULL), 1);
	fd = open(plain, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_memory_equal(buf, "precious", 8);
}

/* In a child that has become uid/gid 65534: connect to path and return
 * 0 on success or the errno (200: could not change user). */
static int connect_as_nobody(const char *path)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sun;
		socklen_t len;
		int fd;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(200);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || sl_unix_addr(path, &sun, &len) < 0)
			_exit(201);
		_exit(connect(fd, (struct sockaddr *)&sun, len) == 0 ? 0 : errno);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Who may connect: the 0700 directory keeps other users out; so does a
 * socket file of mode 0600; mode 0666 lets them in. */
static void test_permissions(void **state)
{
	struct world *w = *state;
	struct h_proc *priv = &w->p[0], *closed = &w->p[1], *open = &w->p[2];
	char path[ADDR_MAX], p600[ADDR_MAX], p666[ADDR_MAX], got[ADDR_MAX];
	struct stat st;

	if (geteuid() != 0) {
		fprintf(stderr, "test_permissions: needs root to become another user\n");
		skip();
	}
	start(priv, "stream-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(priv, path, sizeof(path));
	snprintf(p600, sizeof(p600), "%s/closed.sock", w->dir);
	start(closed, "stream-server", "-s", p600, "-m", "600", NULL, NULL);
	wait_listening(closed, got, sizeof(got));
	snprintf(p666, sizeof(p666), "%s/open.sock", w->dir);
	start(open, "stream-server", "-s", p666, "-m", "0666", NULL, NULL);
	wait_listening(open, got, sizeof(got));

	assert_int_equal(lstat(p600, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(lstat(p666, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	assert_non_null(strstr(closed->outbuf, "srw-------"));

	if (connect_as_nobody(p666) == 200) {
		fprintf(stderr, "test_permissions: cannot become uid 65534 here\n");
		skip();
	}
	assert_int_equal(connect_as_nobody(path), EACCES);  /* the 0700 directory */
	assert_int_equal(connect_as_nobody(p600), EACCES);  /* no w on the file */
	assert_int_equal(connect_as_nobody(p666), 0);
	/* We, the owner (root), get in everywhere. */
	check_echo(path, "owner\n");
	check_echo(p600, "owner\n");
	stop_ok(priv);
	stop_ok(closed);
	stop_ok(open);
}

/* SO_PEERCRED with this test itself as the client. */
static void test_peercred_is_our_pid(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0];
	char path[ADDR_MAX], key[128];

	start(srv, "stream-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	check_echo(path, "who am I\n");
	snprintf(key, sizeof(key), "client connected: pid %ld uid %ld gid %ld (SO_PEERCRED)",
		 (long)getpid(), (long)getuid(), (long)getgid());
	assert_int_equal(h_wait_output(srv, "out", key, T_MS), 0);
	/* We never bound our socket: accept() reports an unnamed peer. */
	assert_non_null(strstr(srv->outbuf, "address (unnamed) (addrlen 2)"));
	stop_ok(srv);
}

/* ---- the abstract namespace ------------------------------------------------------ */

static int proc_net_unix_has(const char *name)
{
	char line[512];
	FILE *f = fopen("/proc/net/unix", "r");
	int found = 0;

	if (f == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *end = line + strcspn(line, "\n");
		size_t n = strlen(name);

		/* The path (or @name) is the last column. */
		*end = '\0';
		found = (size_t)(end - line) >= n + 1 && strcmp(end - n, name) == 0 &&
			end[-(long)n - 1] == ' ';
	}
	fclose(f);
	return found;
}

struct gone_arg {
	const char *name;
};

static int name_is_gone(void *arg)
{
	return proc_net_unix_has(((struct gone_arg *)arg)->name) == 0;
}

static void test_abstract_name(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *cli = &w->p[1], *tool = &w->p[2];
	char name[64], got[ADDR_MAX], cwd_file[ADDR_MAX];
	struct gone_arg gone;

	snprintf(name, sizeof(name), "@socklab-t17-%ld", (long)getpid());
	start(srv, "stream-server", "-s", name, NULL, NULL, NULL, NULL);
	wait_listening(srv, got, sizeof(got));
	assert_string_equal(got, name);
	/* No file anywhere: not in $XDG_RUNTIME_DIR, not as "@..." here. */
	assert_int_equal(count_entries(w->dir), 0);
	assert_false(path_exists(name));
	snprintf(cwd_file, sizeof(cwd_file), "%s", name + 1);
	assert_false(path_exists(cwd_file));
	assert_int_equal(proc_net_unix_has(name), 1);

	check_echo(name, "abstract\n");
	assert_int_equal(run(cli, "stream-client", "-s", name, "no", "file", NULL, NULL), 0);
	assert_string_equal(cli->outbuf, "no file\n");
	if (h_have("socat")) {
		char addr[96];
		char *argv[] = { "socat", "-", addr, NULL };

		snprintf(addr, sizeof(addr), "ABSTRACT-CONNECT:%s", name + 1);
		assert_int_equal(h_run(tool, argv, "via socat\n", 10, T_MS), 0);
		assert_string_equal(tool->outbuf, "via socat\n");
	}
	stop_ok(srv);
	/* The name vanished with the socket. */
	gone.name = name;
	assert_true(h_poll_until(name_is_gone, &gone, T_MS));
	assert_int_equal(count_entries(w->dir), 0);
}

/* ---- datagrams ----------------------------------------------------------------------- */

static void test_dgram_bound_gets_replies(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *cli = &w->p[1], *auto_cli = &w->p[2];
	char path[ADDR_MAX], client_path[ADDR_MAX], key[ADDR_MAX + 64];

	start(srv, "dgram-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	snprintf(client_path, sizeof(client_path), "%s/me.sock", w->dir);
	assert_int_equal(run(cli, "dgram-client", "-s", path, "-c", client_path,
			     "hello", "world"), 0);
	assert_non_null(strstr(cli->outbuf, "reply 5 bytes: hello\n"));
	assert_non_null(strstr(cli->outbuf, "reply 5 bytes: world\n"));
	assert_non_null(strstr(cli->outbuf, "2 of 2 datagrams answered"));
	/* The server saw our path as the sender, and the client removed it. */
	snprintf(key, sizeof(key), "datagram 5 bytes from %s (addrlen", client_path);
	assert_int_equal(h_wait_output(srv, "out", key, T_MS), 0);
	assert_false(path_exists(client_path));

	/* Autobind: an abstract name the kernel picked is enough for a reply. */
	assert_int_equal(run(auto_cli, "dgram-client", "-a", "-s", path, "auto", NULL, NULL), 0);
	assert_non_null(strstr(auto_cli->outbuf, "bound to @"));
	assert_non_null(strstr(auto_cli->outbuf, "reply 4 bytes: auto\n"));
	assert_int_equal(h_wait_output(srv, "out", "datagram 4 bytes from @", T_MS), 0);
	stop_ok(srv);
	assert_false(path_exists(path));
}

static void test_dgram_unbound_gets_no_reply(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *cli = &w->p[1];
	char path[ADDR_MAX];
	const char *line;
	long addrlen;

	start(srv, "dgram-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	assert_int_equal(run(cli, "dgram-client", "-u", "-t", "300", "-s", path, "lost"), 0);
	assert_non_null(strstr(cli->outbuf, "not bound"));
	assert_non_null(strstr(cli->outbuf, "no reply within 300 ms"));
	assert_non_null(strstr(cli->outbuf, "0 of 1 datagrams answered"));
	assert_null(strstr(cli->outbuf, "reply 4 bytes"));

	/* The server got it, from an empty address, and could not answer. */
	assert_int_equal(h_wait_output(srv, "out", "reply to (unnamed) failed: sendto:", T_MS), 0);
	line = strstr(srv->outbuf, "datagram 4 bytes from (unnamed) (addrlen ");
	assert_non_null(line);
	addrlen = number_after(line, "(addrlen ");
	assert_true(addrlen >= 0 && addrlen <= (long)sizeof(sa_family_t));
	stop_ok(srv);
}

/* ---- SOCK_SEQPACKET ------------------------------------------------------------------ */

#define NMSG 100
#define MSG_MAX 4000

/* Send NMSG messages of random sizes without waiting for replies (as far
 * as the socket takes them), reading replies as they come; each recv()
 * must return exactly one whole message. */
static void seqpacket_exchange(int fd, const size_t *sizes, unsigned char (*msgs)[MSG_MAX])
{
	static unsigned char in[MSG_MAX * 2];
	long long deadline = h_now_ms() + h_scaled(T_MS);
	int sent = 0, received = 0;

	while (received < NMSG) {
		struct pollfd pfd = { fd, POLLIN | (sent < NMSG ? POLLOUT : 0), 0 };
		ssize_t n;

		assert_true(h_now_ms() < deadline);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (sent < NMSG && (pfd.revents & POLLOUT)) {
			n = send(fd, msgs[sent], sizes[sent], MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n >= 0) {
				assert_int_equal(n, sizes[sent]);
				sent++;
			} else {
				assert_int_equal(errno, EAGAIN);
			}
		}
		if (pfd.revents & POLLIN) {
			/* A buffer twice the largest message: two messages glued
			 * together would fit, and be caught. */
			n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			assert_int_equal(n, sizes[received]);
			assert_memory_equal(in, msgs[received], sizes[received]);
			received++;
		}
	}
}

static void test_seqpacket_keeps_boundaries(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *cli = &w->p[1];
	static unsigned char msgs[NMSG][MSG_MAX];
	size_t sizes[NMSG];
	unsigned char r[NMSG * 2];
	char path[ADDR_MAX];
	const char *at;
	int fd;

	h_random_bytes(r, sizeof(r), 1717);
	for (int i = 0; i < NMSG; i++) {
		sizes[i] = 1 + ((size_t)r[2 * i] << 8 | r[2 * i + 1]) % MSG_MAX;
		h_random_bytes(msgs[i], sizes[i], 100 + (unsigned)i);
	}
	start(srv, "seqpacket", "server", NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	fd = unix_connect(path, SOCK_SEQPACKET);
	seqpacket_exchange(fd, sizes, msgs);
	close(fd);

	/* The server's log: one line per message, with the sizes we sent. */
	assert_int_equal(h_wait_output(srv, "out", "client done: 100 messages", T_MS), 0);
	at = srv->outbuf;
	for (int i = 0; i < NMSG; i++) {
		char key[32];

		snprintf(key, sizeof(key), "message %d: ", i + 1);
		at = strstr(at, key);
		assert_non_null(at);
		assert_int_equal(strtol(at + strlen(key), NULL, 10), sizes[i]);
	}
	assert_null(strstr(srv->outbuf, "truncated"));

	/* The lesson's own client does the same check. */
	assert_int_equal(run(cli, "seqpacket", "client", "-s", path, "-c", "100", NULL), 0);
	assert_non_null(strstr(cli->outbuf, "100 messages sent, 100 replies, 0 wrong"));
	stop_ok(srv);
	assert_false(path_exists(path));
}

static void test_seqpacket_truncates(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0];
	char path[ADDR_MAX], msg[100], back[200];
	int fd;

	start(srv, "seqpacket", "server", "-B", "16", NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	fd = unix_connect(path, SOCK_SEQPACKET);
	h_random_bytes(msg, sizeof(msg), 5);
	assert_int_equal(send(fd, msg, sizeof(msg), MSG_NOSIGNAL), sizeof(msg));
	/* Only what fit in the server's 16 bytes comes back; the rest is gone,
	 * not waiting for the next recv(). */
	assert_int_equal(recv(fd, back, sizeof(back), 0), 16);
	assert_memory_equal(back, msg, 16);
	assert_int_equal(send(fd, msg, 10, MSG_NOSIGNAL), 10);
	assert_int_equal(recv(fd, back, sizeof(back), 0), 10);
	assert_memory_equal(back, msg, 10);
	close(fd);
	assert_int_equal(h_wait_output(srv, "out",
		"message 1: 100 bytes, buffer 16: truncated (MSG_TRUNC), 84 bytes discarded", T_MS), 0);
	assert_int_equal(h_wait_output(srv, "out", "message 2: 10 bytes\n", T_MS), 0);
	stop_ok(srv);
}

/* ---- socketpair ---------------------------------------------------------------------- */

static void test_socketpair_round_trips(void **state)
{
	struct world *w = *state;
	struct h_proc *p = &w->p[0];
	char key[128];
	const char *line;
	long child, parent;

	assert_int_equal(run(p, "pair", "-c", "3", "-m", "round trip", NULL, NULL), 0);
	/* Parent to child: the child saw each ping and names its parent. */
	line = strstr(p->outbuf, "child ");
	assert_non_null(line);
	child = strtol(line + 6, NULL, 10);
	parent = number_after(line, "(parent ");
	assert_int_equal(parent, p->pid);
	assert_true(child > 0 && child != parent);
	for (int i = 1; i <= 3; i++) {
		snprintf(key, sizeof(key), "child %ld (parent %ld): got \"ping %d: round trip\"",
			 child, parent, i);
		assert_non_null(strstr(p->outbuf, key));
		/* Child to parent: the answer, transformed by the child. */
		snprintf(key, sizeof(key), "parent %ld: got \"pong %d: ROUND TRIP\"", parent, i);
		assert_non_null(strstr(p->outbuf, key));
	}
	snprintf(key, sizeof(key), "child %ld: end of file after 3 pings", child);
	assert_non_null(strstr(p->outbuf, key));
	snprintf(key, sizeof(key), "child %ld exited with status 0", child);
	assert_non_null(strstr(p->outbuf, key));
}

/* ---- descriptor passing -------------------------------------------------------------- */

#define FILE_TEXT "first line\nsecond line\nthird\n"

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_fdpass_file_shares_offset(void **state)
{
	struct world *w = *state;
	struct h_proc *recv_p = &w->p[0], *send_p = &w->p[1];
	char path[ADDR_MAX], file[ADDR_MAX], key[128];
	const char *rest;

	snprintf(file, sizeof(file), "%s/data.txt", w->dir);
	write_file(file, FILE_TEXT);
	start(recv_p, "fdpass", "receive", NULL, NULL, NULL, NULL, NULL);
	wait_listening(recv_p, path, sizeof(path));
	assert_int_equal(run(send_p, "fdpass", "send", "-s", path, file, NULL, NULL), 0);
	assert_non_null(strstr(send_p->outbuf, "read its first 11 bytes: first line\n"));
	/* The receiver started where the sender's read left the offset... */
	assert_int_equal(h_wait_output(recv_p, "out", "(end of file: 18 bytes read", T_MS), 0);
	assert_non_null(strstr(recv_p->outbuf, "its offset is already 11"));
	rest = strstr(recv_p->outbuf, "read through our fd:\n");
	assert_non_null(rest);
	assert_true(strncmp(rest + strlen("read through our fd:\n"), "second line\nthird\n", 18) == 0);
	assert_null(strstr(recv_p->outbuf, "first line"));
	/* ...and its reads moved the sender's offset to the end. */
	assert_non_null(strstr(send_p->outbuf, "our offset is now 29 of 29 bytes"));
	/* SO_PEERCRED: the receiver knows which process sent it. */
	snprintf(key, sizeof(key), "sender connected: pid %ld ", (long)send_p->pid);
	assert_non_null(strstr(recv_p->outbuf, key));
	stop_ok(recv_p);
	assert_false(path_exists(path));
}

static void test_fdpass_tcp_connection(void **state)
{
	struct world *w = *state;
	struct h_proc *recv_p = &w->p[0], *send_p = &w->p[1];
	char path[ADDR_MAX], tcp[ADDR_MAX], back[64];
	const char *msg = "over the passed fd\n";
	size_t len = strlen(msg);
	int fd;

	start(recv_p, "fdpass", "receive", NULL, NULL, NULL, NULL, NULL);
	wait_listening(recv_p, path, sizeof(path));
	start(send_p, "fdpass", "send", "-s", path, "--tcp", NULL, NULL);
	wait_listening(send_p, tcp, sizeof(tcp));
	assert_true(strncmp(tcp, "127.0.0.1:", 10) == 0);
	fd = h_connect(tcp + 10, T_MS);
	assert_true(fd >= 0);
	/* The sender passes the connection and exits: from now on only the
	 * receiver holds it. */
	assert_int_equal(h_wait_exit(send_p, T_MS), 0);
	assert_non_null(strstr(send_p->outbuf, "closing our copy"));
	send_all(fd, msg, len);
	recv_exact(fd, back, len);
	assert_memory_equal(back, msg, len);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	/* The receiver closes its side when we close ours: end of file. */
	assert_int_equal(recv(fd, back, sizeof(back), 0), 0);
	close(fd);
	assert_int_equal(h_wait_output(recv_p, "out", "done (19 bytes echoed)", T_MS), 0);
	assert_non_null(strstr(recv_p->outbuf, "is a connected socket 127.0.0.1:"));
	stop_ok(recv_p);
}

static void test_fdpass_from_python(void **state)
{
	struct world *w = *state;
	struct h_proc *recv_p = &w->p[0], *py = &w->p[1];
	char path[ADDR_MAX], file[ADDR_MAX];
	char *argv[] = { "python3", "-c",
		"import os, socket, sys\n"
		"fd = os.open(sys.argv[2], os.O_RDONLY)\n"
		"os.read(fd, 6)\n"
		"s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
		"s.connect(sys.argv[1])\n"
		"socket.send_fds(s, [b'F'], [fd])\n"
		"s.recv(1)\n"
		"print('python offset', os.lseek(fd, 0, os.SEEK_CUR))\n",
		path, file, NULL };

	if (!h_have("python3"))
		skip();
	snprintf(file, sizeof(file), "%s/py.txt", w->dir);
	write_file(file, FILE_TEXT);
	start(recv_p, "fdpass", "receive", NULL, NULL, NULL, NULL, NULL);
	wait_listening(recv_p, path, sizeof(path));
	assert_int_equal(h_run(py, argv, NULL, 0, T_MS), 0);
	assert_non_null(strstr(py->outbuf, "python offset 29"));
	assert_int_equal(h_wait_output(recv_p, "out", "(end of file: 23 bytes read", T_MS), 0);
	assert_non_null(strstr(recv_p->outbuf, "its offset is already 6"));
	assert_non_null(strstr(recv_p->outbuf, "read through our fd:\nline\nsecond line\n"));
	stop_ok(recv_p);
}

/* ---- tools no one here wrote ------------------------------------------------------- */

static void test_interop_socat_and_python(void **state)
{
	struct world *w = *state;
	struct h_proc *srv = &w->p[0], *dsrv = &w->p[1], *seq = &w->p[2], *tool = &w->p[3];
	char path[ADDR_MAX], dpath[ADDR_MAX], spath[ADDR_MAX], addr[ADDR_MAX + 32];

	start(srv, "stream-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(srv, path, sizeof(path));
	start(dsrv, "dgram-server", NULL, NULL, NULL, NULL, NULL, NULL);
	wait_listening(dsrv, dpath, sizeof(dpath));
	start(seq, "seqpacket", "server", NULL, NULL, NULL, NULL, NULL);
	wait_listening(seq, spath, sizeof(spath));

	if (h_have("socat")) {
		char *argv[] = { "socat", "-", addr, NULL };

		snprintf(addr, sizeof(addr), "UNIX-CONNECT:%s", path);
		assert_int_equal(h_run(tool, argv, "socat says hi\n", 14, T_MS), 0);
		assert_string_equal(tool->outbuf, "socat says hi\n");
	} else {
		fprintf(stderr, "socat not installed: its part is not run\n");
	}
	if (!h_have("python3"))
		skip();
	{
		char *argv[] = { "python3", "-c",
			"import socket, sys\n"
			"s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
			"s.connect(sys.argv[1])\n"
			"s.sendall(b'python stream\\n')\n"
			"s.shutdown(socket.SHUT_WR)\n"
			"data = b''\n"
			"while True:\n"
			"    b = s.recv(4096)\n"
			"    if not b: break\n"
			"    data += b\n"
			"sys.stdout.write(data.decode())\n",
			path, NULL };

		assert_int_equal(h_run(tool, argv, NULL, 0, T_MS), 0);
		assert_string_equal(tool->outbuf, "python stream\n");
	}
	{
		char me[ADDR_MAX];
		char *argv[] = { "python3", "-c",
			"import socket, sys\n"
			"s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
			"s.bind(sys.argv[2])\n"
			"s.settimeout(10)\n"
			"s.sendto(b'python datagram', sys.argv[1])\n"
			"data, sender = s.recvfrom(100)\n"
			"print(data.decode(), 'from', sender)\n",
			dpath, me, NULL };

		snprintf(me, sizeof(me), "%s/py-dgram.sock", w->dir);
		assert_int_equal(h_run(tool, argv, NULL, 0, T_MS), 0);
		snprintf(addr, sizeof(addr), "python datagram from %s\n", dpath);
		assert_string_equal(tool->outbuf, addr);
	}
	{
		char *argv[] = { "python3", "-c",
			"import socket, sys\n"
			"s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
			"s.connect(sys.argv[1])\n"
			"for n in (1, 500, 3):\n"
			"    s.send(bytes([65]) * n)\n"
			"print([len(s.recv(4096)) for _ in range(3)])\n",
			spath, NULL };

		assert_int_equal(h_run(tool, argv, NULL, 0, T_MS), 0);
		assert_string_equal(tool->outbuf, "[1, 500, 3]\n");
	}
	stop_ok(srv);
	stop_ok(dsrv);
	stop_ok(seq);
}

/* ---- the command line ---------------------------------------------------------------- */

static void expect_exit(const char *prog, int code, const char *needle, const char *a1,
                        const char *a2, const char *a3, const char *a4)
{
	struct h_proc p;
	int rc = run(&p, prog, a1, a2, a3, a4, NULL, NULL);

	if (rc != code)
		fail_msg("%s %s %s: exit %d, expected %d; stderr:\n%s", prog, a1 ? a1 : "",
			 a2 ? a2 : "", rc, code, p.errbuf);
	if (needle != NULL && strstr(code == 0 ? p.outbuf : p.errbuf, needle) == NULL)
		fail_msg("%s %s: '%s' not in output:\n%s%s", prog, a1 ? a1 : "", needle,
			 p.outbuf, p.errbuf);
	/* A usage error says how to get help, and prints no usage text on stdout. */
	if (code == 2)
		assert_non_null(strstr(p.errbuf, "-h' for help"));
}

static void test_help_and_bad_options(void **state)
{
	static const char *const progs[] = {
		"stream-server", "stream-client", "dgram-server", "dgram-client",
		"seqpacket", "pair", "fdpass",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		expect_exit(progs[i], 0, "usage: ", "-h", NULL, NULL, NULL);
		expect_exit(progs[i], 0, "usage: ", "--help", NULL, NULL, NULL);
		expect_exit(progs[i], 2, "unknown option -x", "-x", NULL, NULL, NULL);
		expect_exit(progs[i], 2, "unknown option --bogus", "--bogus", NULL, NULL, NULL);
	}
	expect_exit("stream-server", 2, "bad mode '9'", "-m", "9", NULL, NULL);
	expect_exit("stream-server", 2, "bad client count 'abc'", "-n", "abc", NULL, NULL);
	expect_exit("stream-server", 2, "needs an argument", "-s", NULL, NULL, NULL);
	expect_exit("stream-server", 2, "-m does not apply", "-s", "@x", "-m", "600");
	expect_exit("stream-client", 2, "-s PATH", "hello", NULL, NULL, NULL);
	expect_exit("dgram-server", 2, "unexpected argument", "extra", NULL, NULL, NULL);
	expect_exit("dgram-client", 2, "choose one of", "-s", "/x", "-u", "-a");
	expect_exit("dgram-client", 2, "bad timeout '0'", "-s", "/x", "-t", "0");
	expect_exit("seqpacket", 2, "say which role", NULL, NULL, NULL, NULL);
	expect_exit("seqpacket", 2, "unknown role 'both'", "both", NULL, NULL, NULL);
	expect_exit("seqpacket", 2, "client options", "server", "-c", "5", NULL);
	expect_exit("seqpacket", 2, "-s PATH", "client", NULL, NULL, NULL);
	expect_exit("seqpacket", 2, "bad buffer size '0'", "server", "-B", "0", NULL);
	expect_exit("pair", 2, "bad count '0'", "-c", "0", NULL, NULL);
	expect_exit("fdpass", 2, "needs a FILE or --tcp", "send", "-s", "/x", NULL);
	expect_exit("fdpass", 2, "needs a FILE or --tcp", "send", "-s/x", "--tcp", "file");
	expect_exit("fdpass", 2, "for fdpass send", "receive", "--tcp", NULL, NULL);
	expect_exit("fdpass", 2, "bad port '70000'", "send", "--tcp", "-p", "70000");
	/* Runtime failures exit 1 and name the path. */
	expect_exit("stream-client", 1, "connect /nonexistent/sock: No such file or directory",
		    "-s", "/nonexistent/sock", "x", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_bad_options),
		cmocka_unit_test_setup_teardown(test_stream_echo_and_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_socket_and_plain_file_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peercred_is_our_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dgram_bound_gets_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dgram_unbound_gets_no_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seqpacket_keeps_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seqpacket_truncates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socketpair_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdpass_file_shares_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdpass_tcp_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdpass_from_python, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interop_socat_and_python, setup, teardown),
	};

	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
