/* test_15_discovery.c — lesson 15, service discovery by multicast and
 * broadcast, run as real processes.
 *
 * Where: the whole test first moves itself into a private network
 * namespace (unshare; as an ordinary user with a user namespace too), with
 * nothing in it but a loopback it brings up itself. So no announcement of
 * these tests can reach a real interface, and test runs on one machine do
 * not hear each other. Where that is not allowed it stays on the host's
 * loopback, with an announcement port the kernel picked and names unique
 * to this run; the programs' default interface is 127.0.0.1 either way.
 *
 * What these tests prove:
 *  - the client finds the server by its announcements within its deadline,
 *    learns the TCP port the server got from port 0 (a port given on no
 *    command line), connects and completes an exchange;
 *  - with two services announcing on one group it connects to the one it
 *    asked for, and it hears (and says it ignores) the other;
 *  - it connects to the address the announcement names (addr=), which may
 *    differ from the datagram's source address;
 *  - asking for a name no one announces ends at the deadline: exit 1 and a
 *    clear message;
 *  - membership decides who hears: a socket bound to the group's port
 *    gets nothing while no socket on the host has joined; once one has,
 *    Linux delivers to every socket on that port (IP_MULTICAST_ALL), and
 *    with IP_MULTICAST_ALL off only to sockets that joined themselves;
 *  - broadcast mode (SO_BROADCAST to 127.255.255.255) works on loopback;
 *  - between two namespaces joined by a veth pair (made here when the test
 *    may: root or a user namespace): broadcast and multicast cross the
 *    link, and multicast with the default interface (lo) does not — the
 *    veth standing in for a real network;
 *  - -h exits 0, bad options exit 2; the server stops with 0 on SIGTERM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "15-discovery"
#define DEADLINE_MS 20000

static struct {
	int private_netns;   /* we are in a network namespace of our own */
	int multicast_ok;    /* a datagram to the group reached a member */
	char aport[8];       /* the announcement port for this run */
	char group[20];      /* the multicast group for this run */
	char ip[256];        /* path of ip(8), or "" */
} env;

/* ---- the private namespace ------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* An ordinary user becomes root of a new user namespace first: that is
 * what lets it make a network namespace and configure its interfaces. */
static int enter_private_netns(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (geteuid() == 0)
		return unshare(CLONE_NEWNET);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return -1;
	if (write_file("/proc/self/setgroups", "deny") < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	return write_file("/proc/self/gid_map", map);
}

/* Set flags on an interface (IFF_UP, IFF_MULTICAST). */
static int set_if_flags(const char *name, short flags)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= flags;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

/* A UDP port the kernel says is free, for the announcements: the
 * rendezvous cannot be port 0 (the client must know it), so take one
 * that port 0 would have given. */
static void pick_announce_port(char out[8])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(out, 8, "%u", ntohs(sin.sin_port));
	close(fd);
}

/* A socket bound to the run's group and port, joined on 127.0.0.1 when join is set. */
static int group_socket(const char *port, int join)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct ip_mreq mreq;
	int one = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, env.group, &sin.sin_addr);
	sin.sin_port = htons((uint16_t)atoi(port));
	memset(&mreq, 0, sizeof(mreq));
	mreq.imr_multiaddr = sin.sin_addr;
	mreq.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (join && setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Does a datagram sent to the group by way of 127.0.0.1 reach a member? */
static int multicast_works(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct pollfd pfd;
	char port[8];
	int rx, tx, ok = 0;

	pick_announce_port(port);
	rx = group_socket(port, 1);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, env.group, &to.sin_addr);
	to.sin_port = htons((uint16_t)atoi(port));
	if (rx >= 0 && tx >= 0 &&
	    setsockopt(tx, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof(lo)) == 0 &&
	    sendto(tx, "probe", 5, 0, (struct sockaddr *)&to, sizeof(to)) == 5) {
		pfd = (struct pollfd){ .fd = rx, .events = POLLIN };
		ok = poll(&pfd, 1, 2000) == 1;
	}
	if (rx >= 0)
		close(rx);
	if (tx >= 0)
		close(tx);
	return ok;
}

static void find_tool(const char *name, char *out, size_t size)
{
	const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, size, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return;
	}
	out[0] = '\0';
}

static int group_setup(void **state)
{
	pid_t pid = getpid();

	(void)state;
	/* A group of our own, in case we share the host's loopback with
	 * other runs: 239.255.X.Y from our process id. */
	snprintf(env.group, sizeof(env.group), "239.255.%u.%u",
		 (unsigned)(pid >> 8) & 0xff, (unsigned)pid & 0xff);
	if (enter_private_netns() == 0 && set_if_flags("lo", IFF_UP) == 0) {
		env.private_netns = 1;
		fprintf(stderr, "test_15: in a private network namespace of our own\n");
	} else {
		fprintf(stderr, "test_15: no private network namespace here (%s); "
			"on the host's loopback\n", strerror(errno));
	}
	env.multicast_ok = multicast_works();
	/* Some loopbacks lack the MULTICAST flag; in our own namespace we may
	 * set it (on Linux 6.x lo delivers multicast with or without it). */
	if (!env.multicast_ok && env.private_netns && set_if_flags("lo", IFF_MULTICAST) == 0)
		env.multicast_ok = multicast_works();
	if (!env.multicast_ok)
		fprintf(stderr, "test_15: multicast over loopback does not work here\n");
	pick_announce_port(env.aport);
	find_tool("ip", env.ip, sizeof(env.ip));
	return 0;
}

/* ---- running the programs ---------------------------------------------------------- */

static void need_multicast(void)
{
	if (!env.multicast_ok) {
		fprintf(stderr, "skip: multicast over loopback does not work here\n");
		skip();
	}
}

/* Programs and sockets a test has open, so that a failed assertion (which
 * leaves the test at once) does not leave them to disturb the next test. */
static struct h_proc *live[4];
static int live_fds[4] = { -1, -1, -1, -1 };

static void track(struct h_proc *p)
{
	for (size_t i = 0; i < 4; i++)
		if (live[i] == NULL) {
			live[i] = p;
			return;
		}
	fail_msg("too many programs at once");
}

static void untrack(struct h_proc *p)
{
	for (size_t i = 0; i < 4; i++)
		if (live[i] == p)
			live[i] = NULL;
}

static int track_fd(int fd)
{
	for (size_t i = 0; i < 4; i++)
		if (live_fds[i] < 0) {
			live_fds[i] = fd;
			return fd;
		}
	fail_msg("too many sockets at once");
	return -1;
}

static int cleanup(void **state)
{
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		if (live[i] != NULL) {
			h_stop(live[i], SIGKILL, DEADLINE_MS);
			free(live[i]);
			live[i] = NULL;
		}
		if (live_fds[i] >= 0) {
			close(live_fds[i]);
			live_fds[i] = -1;
		}
	}
	return 0;
}

/* A service name unique to this run (and this call). */
static const char *unique_name(char buf[32], const char *what)
{
	snprintf(buf, 32, "%s-%ld", what, (long)getpid());
	return buf;
}

/* Start "server -N name -P aport -g group -I 100 [a1 a2 a3 a4]". */
static struct h_proc *start_server(const char *name, const char *a1, const char *a2,
				   const char *a3, const char *a4)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char *argv[] = { (char *)h_lesson(LESSON, "server"), "-N", (char *)name,
			 "-P", env.aport, "-g", env.group, "-I", "100",
			 (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };

	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	track(srv);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	assert_true(atoi(srv->port) > 0);
	/* It has started to announce. */
	assert_int_equal(h_wait_output(srv, "out", "announcing \"", DEADLINE_MS), 0);
	return srv;
}

static void expect_exit_0(struct h_proc *srv, int stop)
{
	int rc = stop ? h_stop(srv, SIGTERM, DEADLINE_MS) : h_wait_exit(srv, DEADLINE_MS);

	if (rc != 0)
		fprintf(stderr, "server exit %d\n%s%s", rc, srv->outbuf, srv->errbuf);
	untrack(srv);
	free(srv);
	assert_int_equal(rc, 0);
}

/* Run "client -N name -P aport -g group -t timeout [a1 a2 a3]". */
static int run_client(struct h_proc *cl, const char *name, int timeout_ms,
		      const char *a1, const char *a2, const char *a3)
{
	char t[16];
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-N", (char *)name,
			 "-P", env.aport, "-g", env.group, "-t", t,
			 (char *)a1, (char *)a2, (char *)a3, NULL };

	snprintf(t, sizeof(t), "%d", h_scaled(timeout_ms));
	return h_run(cl, argv, NULL, 0, DEADLINE_MS + h_scaled(timeout_ms));
}

/* ---- discovery ---------------------------------------------------------------------- */

static void test_client_discovers_server_and_talks(void **state)
{
	char name[32], heard[160], reply[96];
	struct h_proc *srv;
	struct h_proc cl;
	char errs[sizeof(cl.errbuf)];
	long long start;

	(void)state;
	need_multicast();
	srv = start_server(unique_name(name, "svc"), "-n", "1", NULL, NULL);
	start = h_now_ms();
	assert_int_equal(run_client(&cl, name, 5000, "hi", "there", NULL), 0);
	/* Within its deadline (the client's own -t, checked here too). */
	assert_true(h_now_ms() - start < h_scaled(5000) + 2000);
	/* The TCP port it heard is the one the server got from port 0. */
	snprintf(heard, sizeof(heard), "heard \"socklab-discovery v1 name=%s tcp=%s addr=127.0.0.1\" from 127.0.0.1:",
		 name, srv->port);
	assert_non_null(strstr(cl.outbuf, heard));
	assert_non_null(strstr(cl.outbuf, "connecting to 127.0.0.1:"));
	snprintf(reply, sizeof(reply), "hello from %s: you said \"hi there\"\n", name);
	assert_non_null(strstr(cl.outbuf, reply));
	assert_string_equal(h_own_stderr(&cl, errs, sizeof(errs)), "");
	/* The server served it, and exits after its one client (-n 1). */
	assert_int_equal(h_wait_output(srv, "out", "said \"hi there\"\n", DEADLINE_MS), 0);
	expect_exit_0(srv, 0);
}

static void test_client_picks_the_service_it_asked_for(void **state)
{
	char a[32], b[32], want[96], t[16];
	struct h_proc *sa, *sb;
	struct h_proc cl;
	char *argv[] = { (char *)h_lesson(LESSON, "client"), "-N", b, "-P", env.aport,
			 "-g", env.group, "-t", t, NULL };

	(void)state;
	need_multicast();
	unique_name(a, "alpha");
	unique_name(b, "beta");
	snprintf(t, sizeof(t), "%d", h_scaled(10000));
	/* alpha first: the client hears it, and must let it pass. */
	sa = start_server(a, NULL, NULL, NULL, NULL);
	assert_int_equal(h_start(&cl, argv), 0);
	h_feed(&cl, NULL, 0);
	assert_int_equal(h_wait_output(&cl, "out", "alpha-", DEADLINE_MS), 0);
	snprintf(want, sizeof(want), "heard \"%s\" from 127.0.0.1:", a);
	assert_non_null(strstr(cl.outbuf, want));
	assert_non_null(strstr(cl.outbuf, ": not the service we want\n"));
	/* Only now does beta start: the client connects to it. */
	sb = start_server(b, NULL, NULL, NULL, NULL);
	assert_int_equal(h_wait_exit(&cl, DEADLINE_MS + h_scaled(10000)), 0);
	snprintf(want, sizeof(want), "connecting to 127.0.0.1:%s over TCP", sb->port);
	assert_non_null(strstr(cl.outbuf, want));
	snprintf(want, sizeof(want), "hello from %s: you said \"hello\"\n", b);
	assert_non_null(strstr(cl.outbuf, want));
	snprintf(want, sizeof(want), "connecting to 127.0.0.1:%s ", sa->port);
	assert_null(strstr(cl.outbuf, want));
	expect_exit_0(sa, 1);
	expect_exit_0(sb, 1);
}

/* The service listens on 127.0.0.2 while its announcements leave by
 * 127.0.0.1: the client must use the address in the announcement, not
 * the datagram's source (where nothing listens on that port). */
static void test_client_connects_to_the_announced_address(void **state)
{
	char name[32], want[128];
	struct h_proc *srv;
	struct h_proc cl;

	(void)state;
	need_multicast();
	srv = start_server(unique_name(name, "elsewhere"), "-b", "127.0.0.2", "-n", "1");
	assert_true(strncmp(srv->addr, "127.0.0.2:", 10) == 0);
	assert_int_equal(run_client(&cl, name, 5000, NULL, NULL, NULL), 0);
	snprintf(want, sizeof(want), "tcp=%s addr=127.0.0.2\" from 127.0.0.1:", srv->port);
	assert_non_null(strstr(cl.outbuf, want));
	snprintf(want, sizeof(want),
		 "connecting to 127.0.0.2:%s over TCP (the address in the announcement)\n", srv->port);
	assert_non_null(strstr(cl.outbuf, want));
	assert_non_null(strstr(cl.outbuf, "you said \"hello\"\n"));
	expect_exit_0(srv, 0);
}

static void test_unknown_name_times_out_with_exit_1(void **state)
{
	char name[32], heard[64];
	struct h_proc *srv;
	struct h_proc cl;
	char errs[sizeof(cl.errbuf)];
	long long start;

	(void)state;
	need_multicast();
	srv = start_server(unique_name(name, "present"), NULL, NULL, NULL, NULL);
	start = h_now_ms();
	assert_int_equal(run_client(&cl, "nobody-announces-this", 1000, NULL, NULL, NULL), 1);
	/* It waited for its whole deadline, and said so. */
	assert_true(h_now_ms() - start >= h_scaled(1000));
	assert_non_null(strstr(h_own_stderr(&cl, errs, sizeof(errs)),
			       "no announcement of \"nobody-announces-this\" within "));
	/* It was listening in the right place: it heard the other one. */
	snprintf(heard, sizeof(heard), "heard \"%s\" from 127.0.0.1:", name);
	assert_non_null(strstr(cl.outbuf, heard));
	assert_null(strstr(cl.outbuf, "connecting to"));
	expect_exit_0(srv, 1);
}

/* A datagram within ms? (and take it) */
static int hears(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[600];

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
}

/* Throw away whatever is queued. */
static void drain(int fd)
{
	char buf[600];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void test_membership_decides_who_hears(void **state)
{
	char name[32];
	struct h_proc *srv;
	int quiet, joined, off = 0;

	(void)state;
	need_multicast();
	srv = start_server(unique_name(name, "members"), NULL, NULL, NULL, NULL);
	/* The server announces every 100 ms. A socket bound to the group's
	 * port hears none of it while no socket here has joined the group:
	 * the kernel drops datagrams for groups this host is not in. */
	quiet = track_fd(group_socket(env.aport, 0));
	assert_true(quiet >= 0);
	assert_false(hears(quiet, 600));
	/* Once one socket has joined, it hears the announcements; and on
	 * Linux so does every socket bound to that port, joined or not
	 * (IP_MULTICAST_ALL is on by default). */
	joined = track_fd(group_socket(env.aport, 1));
	assert_true(joined >= 0);
	assert_true(hears(joined, h_scaled(5000)));
	assert_true(hears(quiet, h_scaled(5000)));
	/* With IP_MULTICAST_ALL off, a socket gets only the groups it has
	 * joined itself: the quiet one goes quiet again. */
	assert_int_equal(setsockopt(quiet, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off)), 0);
	drain(quiet);
	drain(joined);
	assert_true(hears(joined, h_scaled(5000)));
	assert_false(hears(quiet, 600));
	expect_exit_0(srv, 1);
}

static void test_broadcast_on_loopback(void **state)
{
	char name[32], reply[96];
	struct h_proc *srv;
	struct h_proc cl;

	(void)state;
	srv = start_server(unique_name(name, "bcast"), "--broadcast", "127.255.255.255",
			   "-n", "1");
	assert_non_null(strstr(srv->outbuf, "to 127.255.255.255:"));
	assert_int_equal(run_client(&cl, name, 5000, "--broadcast", NULL, NULL), 0);
	assert_non_null(strstr(cl.outbuf, "listening for broadcasts on port "));
	snprintf(reply, sizeof(reply), "hello from %s: you said \"hello\"\n", name);
	assert_non_null(strstr(cl.outbuf, reply));
	expect_exit_0(srv, 0);
}

/* ---- two namespaces and a veth pair ------------------------------------------------------- */

struct peer_ns {
	struct h_proc holder; /* a process that keeps the second namespace */
	char pid[16];
};

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a command line (quietly) and return its exit status. */
static int shell(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	size_t n;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	n = strlen(cmd);
	snprintf(cmd + n, sizeof(cmd) - n, " >/dev/null 2>&1");
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

/* Make namespace B (a child of ours) and a veth pair between us (A,
 * 10.15.0.1/24) and B (10.15.0.2/24). Returns 0, or -1 to skip. */
static int make_veth_pair(struct peer_ns *b)
{
	char *argv[] = { "unshare", "-n", "sh", "-c", "echo ready; exec cat", NULL };
	char nsenter[256];

	find_tool("nsenter", nsenter, sizeof(nsenter));
	if (!env.private_netns || env.ip[0] == '\0' || nsenter[0] == '\0' || !h_have("unshare")) {
		fprintf(stderr, "skip: needs a private namespace, ip, nsenter and unshare\n");
		return -1;
	}
	if (h_start(&b->holder, argv) < 0 ||
	    h_wait_output(&b->holder, "out", "ready\n", DEADLINE_MS) < 0) {
		fprintf(stderr, "skip: could not make a second network namespace\n");
		return -1;
	}
	snprintf(b->pid, sizeof(b->pid), "%d", (int)b->holder.pid);
	if (shell("%s link add sl15a type veth peer name sl15b netns %s", env.ip, b->pid) < 0 ||
	    shell("%s addr add 10.15.0.1/24 dev sl15a", env.ip) < 0 ||
	    shell("%s link set sl15a up", env.ip) < 0 ||
	    shell("%s -t %s -n %s addr add 10.15.0.2/24 dev sl15b", nsenter, b->pid, env.ip) < 0 ||
	    shell("%s -t %s -n %s link set sl15b up", nsenter, b->pid, env.ip) < 0 ||
	    shell("%s -t %s -n %s link set lo up", nsenter, b->pid, env.ip) < 0) {
		fprintf(stderr, "skip: could not set up the veth pair\n");
		return -1;
	}
	return 0;
}

static void remove_veth_pair(struct peer_ns *b)
{
	shell("%s link del sl15a", env.ip); /* takes sl15b with it */
	if (b->holder.pid > 0) {
		h_feed(&b->holder, NULL, 0); /* cat exits: namespace B is gone */
		h_wait_exit(&b->holder, DEADLINE_MS);
	}
}

/* Start the server in namespace B, announcing how extra says. */
static struct h_proc *start_server_in_b(struct peer_ns *b, const char *name,
					const char *opt, const char *val)
{
	struct h_proc *srv = calloc(1, sizeof(*srv));
	char nsenter[256];
	char *argv[] = { nsenter, "-t", b->pid, "-n", (char *)h_lesson(LESSON, "server"),
			 "-b", "10.15.0.2", "-N", (char *)name, "-P", env.aport, "-g", env.group,
			 "-I", "100", (char *)opt, (char *)val, NULL };

	find_tool("nsenter", nsenter, sizeof(nsenter));
	assert_non_null(srv);
	assert_int_equal(h_start(srv, argv), 0);
	track(srv);
	assert_int_equal(h_wait_listening(srv, DEADLINE_MS), 0);
	assert_true(strncmp(srv->addr, "10.15.0.2:", 10) == 0);
	return srv;
}

static void test_veth_broadcast_and_multicast_cross_the_link(void **state)
{
	struct peer_ns b;
	struct h_proc *srv;
	struct h_proc cl;
	char errs[sizeof(cl.errbuf)];
	char name[32], want[96];

	(void)state;
	memset(&b, 0, sizeof(b));
	b.holder.pid = -1;
	if (make_veth_pair(&b) < 0) {
		remove_veth_pair(&b);
		skip();
	}
	unique_name(name, "veth");

	/* Broadcast to the link's broadcast address reaches namespace A. */
	srv = start_server_in_b(&b, name, "--broadcast", "10.15.0.255");
	assert_int_equal(run_client(&cl, name, 5000, "--broadcast", NULL, NULL), 0);
	assert_non_null(strstr(cl.outbuf, "\" from 10.15.0.2:"));
	snprintf(want, sizeof(want), "connecting to 10.15.0.2:%s over TCP", srv->port);
	assert_non_null(strstr(cl.outbuf, want));
	assert_non_null(strstr(cl.outbuf, "hello from veth-"));
	expect_exit_0(srv, 1);

	/* Multicast out of the veth (-i 10.15.0.2), joined on ours. */
	srv = start_server_in_b(&b, name, "-i", "10.15.0.2");
	assert_int_equal(run_client(&cl, name, 5000, "-i", "10.15.0.1", NULL), 0);
	assert_non_null(strstr(cl.outbuf, "\" from 10.15.0.2:"));
	assert_non_null(strstr(cl.outbuf, "hello from veth-"));
	expect_exit_0(srv, 1);

	/* The default interface is lo: nothing crosses to us. This is what
	 * keeps the lesson's announcements off a real network. */
	srv = start_server_in_b(&b, name, NULL, NULL);
	assert_int_equal(run_client(&cl, name, 1500, "-i", "10.15.0.1", NULL), 1);
	assert_non_null(strstr(h_own_stderr(&cl, errs, sizeof(errs)),
			       "no announcement of \"veth-"));
	assert_null(strstr(cl.outbuf, "heard"));
	expect_exit_0(srv, 1);

	remove_veth_pair(&b);
}

/* ---- command line and stopping ----------------------------------------------------------------- */

static void test_help_exits_0_with_usage(void **state)
{
	const char *progs[] = { "server", "client" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct h_proc p;
		char errs[sizeof(p.errbuf)];
		char *argv[] = { (char *)h_lesson(LESSON, progs[i]), "-h", NULL };
		char want[32];

		snprintf(want, sizeof(want), "usage: %s ", progs[i]);
		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 0);
		assert_true(strncmp(p.outbuf, want, strlen(want)) == 0);
		assert_non_null(strstr(p.outbuf, "--announce-port PORT"));
		assert_string_equal(h_own_stderr(&p, errs, sizeof(errs)), "");
	}
}

static void test_bad_options_exit_2_saying_why(void **state)
{
	const char *const cases[][4] = {
		{ "server", "-p", "70000", "bad port '70000'" },
		{ "server", "-g", "10.1.2.3", "bad group '10.1.2.3'" },
		{ "server", "-g", "nosuch", "bad group 'nosuch'" },
		{ "server", "-b", "::1", "bad address '::1'" },
		{ "server", "-P", "0", "bad announce port '0'" },
		{ "server", "--ttl", "256", "bad TTL '256'" },
		{ "server", "-I", "5", "bad interval '5'" },
		{ "server", "-N", "two words", "bad name 'two words'" },
		{ "server", "--broadcast", "everyone", "bad broadcast address 'everyone'" },
		{ "client", "-t", "0", "bad timeout '0'" },
		{ "client", "-N", "", "bad name ''" },
		{ "client", "-i", "lo", "bad interface address 'lo'" },
		{ "client", "-p", "7", "unknown option -p" },
		{ "client", "--group", NULL, "option --group needs an argument" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_proc p;
		char *argv[] = { (char *)h_lesson(LESSON, cases[i][0]), (char *)cases[i][1],
				 (char *)cases[i][2], NULL };

		assert_int_equal(h_run(&p, argv, NULL, 0, DEADLINE_MS), 2);
		if (strstr(p.errbuf, cases[i][3]) == NULL)
			fprintf(stderr, "case %zu: stderr lacks \"%s\":\n%s", i, cases[i][3], p.errbuf);
		assert_non_null(strstr(p.errbuf, cases[i][3]));
		assert_string_equal(p.outbuf, "");
	}
}

static void test_server_stops_on_sigterm_and_sigint(void **state)
{
	const int sigs[] = { SIGTERM, SIGINT };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char name[32];
		struct h_proc *srv = start_server(unique_name(name, "stop"), NULL, NULL, NULL, NULL);

		assert_int_equal(h_stop(srv, sigs[i], DEADLINE_MS), 0);
		assert_non_null(strstr(srv->outbuf, "stopping: signal received\n"));
		assert_non_null(strstr(srv->outbuf, "sent "));
		untrack(srv);
		free(srv);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_client_discovers_server_and_talks, cleanup),
		cmocka_unit_test_teardown(test_client_picks_the_service_it_asked_for, cleanup),
		cmocka_unit_test_teardown(test_client_connects_to_the_announced_address, cleanup),
		cmocka_unit_test_teardown(test_unknown_name_times_out_with_exit_1, cleanup),
		cmocka_unit_test_teardown(test_membership_decides_who_hears, cleanup),
		cmocka_unit_test_teardown(test_broadcast_on_loopback, cleanup),
		cmocka_unit_test_teardown(test_veth_broadcast_and_multicast_cross_the_link, cleanup),
		cmocka_unit_test_teardown(test_help_exits_0_with_usage, cleanup),
		cmocka_unit_test_teardown(test_bad_options_exit_2_saying_why, cleanup),
		cmocka_unit_test_teardown(test_server_stops_on_sigterm_and_sigint, cleanup),
	};

	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
