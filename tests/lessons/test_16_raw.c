/* test_16_raw.c — lesson 16's ping and sniff, against the kernel and
 * against the system's own ping.
 *
 * Raw and packet sockets need CAP_NET_RAW, so most tests need root; where
 * the machine does not give us what a test needs (root, unshare, setpriv,
 * iputils ping, ::1) that test is skipped with the reason printed. As
 * root, every test runs.
 *
 * The unprivileged runs use setpriv to become uid/gid 65534 with no
 * capabilities at all. Whether an ICMP datagram socket is then allowed
 * depends on net.ipv4.ping_group_range, which differs between machines. So
 * those tests run inside a fresh network namespace (unshare -n, as root),
 * whose ping_group_range is its own: we set it to exclude 65534 ("1 0") to
 * prove the refusal, and to include it to prove the fallback. Either way
 * the outcome cannot depend on how this machine is configured. The
 * binaries they run are copies in a fresh world-readable folder, so uid
 * 65534 can reach them wherever the build folder lives.
 *
 * What the tests prove:
 *  - as root, ping 127.0.0.1 gets exactly one reply per request, over a
 *    raw socket, each sequence number once, with the kernel's TTL;
 *  - as uid 65534 without capabilities, where ping_group_range excludes
 *    the group, ping exits 1 naming CAP_NET_RAW and ping_group_range;
 *    where it includes the group, ping falls back to an ICMP datagram
 *    socket and gets every reply;
 *  - when nothing answers (icmp_echo_ignore_all in a private namespace),
 *    each request times out after -W, none is counted, and ping exits 1;
 *  - Ctrl-C (SIGINT) ends ping cleanly with its statistics;
 *  - ping's reply count and TTL equal those of the system's ping;
 *  - sniff on lo shows the SYN, SYN-ACK and ACK of a connection the test
 *    makes, each once, with the ports of that connection, sequence and
 *    acknowledgement numbers that chain (ack = peer's seq + 1), the MSS lo's
 *    MTU implies and the options the sysctls enable;
 *  - sniff's BPF filter hides traffic on another port, and ICMP; UDP and
 *    IPv6 (with ::1) decode;
 *  - sniff without CAP_NET_RAW exits 1 naming CAP_NET_RAW;
 *  - -h exits 0 and bad command lines exit 2, for both programs.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define LESSON "16-raw"
#define T_RUN 15000   /* ms for a program to run to its end */
#define T_READY 10000 /* ms for sniff to attach its filter */
#define NOBODY "65534"

/* Copies of ping and sniff that uid 65534 can run, in a folder of its own. */
static char nobody_dir[64];
static char nobody_ping[128];
static char nobody_sniff[128];

/* ---- helpers ---------------------------------------------------------------- */

static int is_root(void)
{
	return geteuid() == 0;
}

static int can_unshare(void)
{
	return is_root() && h_have("unshare") && h_have("ip") &&
	       system("unshare -n true >/dev/null 2>&1") == 0;
}

#define SKIP_UNLESS(cond, why)                                               \
	do {                                                                 \
		if (!(cond)) {                                               \
			print_message("skipped: %s\n", why);                 \
			skip();                                              \
		}                                                            \
	} while (0)

/* True when a socket can be bound to ::1 (IPv6 may be off). */
static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ok;

	if (fd < 0)
		return 0;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

/* Count lines of buf that contain needle. */
static int count_lines(const char *buf, const char *needle)
{
	int n = 0;

	for (const char *l = buf; *l != '\0';) {
		const char *eol = strchr(l, '\n');
		size_t len = eol != NULL ? (size_t)(eol - l) : strlen(l);
		const char *hit = strstr(l, needle);

		if (hit != NULL && hit < l + len)
			n++;
		l += len + (eol != NULL);
	}
	return n;
}

/* Copy the index-th line (from 0) that contains needle into out. */
static int nth_line(const char *buf, const char *needle, int index, char *out, size_t size)
{
	for (const char *l = buf; *l != '\0';) {
		const char *eol = strchr(l, '\n');
		size_t len = eol != NULL ? (size_t)(eol - l) : strlen(l);
		const char *hit = strstr(l, needle);

		if (hit != NULL && hit < l + len && index-- == 0) {
			snprintf(out, size, "%.*s", (int)len, l);
			return 0;
		}
		l += len + (eol != NULL);
	}
	return -1;
}

/* From ping's (or the system ping's) summary "N packets transmitted, M
 * received": M, or -1. */
static int received_count(const char *out)
{
	const char *s = strstr(out, " packets transmitted, ");
	int n;

	if (s == NULL || sscanf(s, " packets transmitted, %d received", &n) != 1)
		return -1;
	return n;
}

/* The ttl= of the first reply line, or -1. */
static int first_ttl(const char *out)
{
	const char *s = strstr(out, " ttl=");
	int ttl;

	return s != NULL && sscanf(s, " ttl=%d", &ttl) == 1 ? ttl : -1;
}

/* Every icmp_seq 1..n answered exactly once (and nothing else). */
static void assert_replies(const char *out, const char *from, int n)
{
	char needle[96];

	for (int seq = 1; seq <= n; seq++) {
		snprintf(needle, sizeof(needle), "bytes from %s: icmp_seq=%d ttl=", from, seq);
		assert_int_equal(count_lines(out, needle), 1);
	}
	snprintf(needle, sizeof(needle), "bytes from %s: ", from);
	assert_int_equal(count_lines(out, needle), n);
	assert_int_equal(count_lines(out, "(DUP!)"), 0);
	assert_int_equal(count_lines(out, "BAD"), 0);
	assert_int_equal(received_count(out), n);
}

static void show_on_failure(const struct h_proc *p)
{
	print_message("--- stdout\n%s--- stderr\n%s---\n", p->outbuf, p->errbuf);
}

/* Run argv to its end; returns the exit code, output in p. */
static int run(struct h_proc *p, char *const argv[])
{
	int rc = h_run(p, argv, NULL, 0, T_RUN);

	if (rc < 0)
		show_on_failure(p);
	return rc;
}

/* The shell script that unshare runs in the new namespace: bring lo up,
 * write $2 into the /proc file $1, then become the rest of the command. */
#define NS_SCRIPT "ip link set lo up && printf '%s\\n' \"$2\" > \"$1\" && shift 2 && exec \"$@\""

/* In a fresh network namespace with sysctl file = value, run cmd (a
 * NULL-terminated list, at most 24 words). */
static int run_in_netns(struct h_proc *p, const char *file, const char *value,
			char *const cmd[])
{
	char *argv[40] = { "unshare", "-n", "sh", "-c", NS_SCRIPT, "sh",
			   (char *)file, (char *)value };
	int i = 8;

	for (int j = 0; cmd[j] != NULL && i < 39; j++)
		argv[i++] = cmd[j];
	argv[i] = NULL;
	return run(p, argv);
}

/* ---- group setup: the copy of ping for uid 65534 -------------------------------- */

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	FILE *out;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (in == NULL)
		return -1;
	out = fopen(to, "wb");
	if (out == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in))
		rc = -1;
	fclose(in);
	if (fclose(out) != 0)
		rc = -1;
	return rc;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(nobody_dir, sizeof(nobody_dir), "/tmp/socklab16.XXXXXX");
	if (mkdtemp(nobody_dir) == NULL)
		return -1;
	snprintf(nobody_ping, sizeof(nobody_ping), "%s/ping", nobody_dir);
	snprintf(nobody_sniff, sizeof(nobody_sniff), "%s/sniff", nobody_dir);
	if (copy_file(h_lesson(LESSON, "ping"), nobody_ping) < 0 ||
	    copy_file(h_lesson(LESSON, "sniff"), nobody_sniff) < 0)
		return -1;
	/* mkdtemp makes the folder 0700: let everyone in. */
	if (chmod(nobody_dir, 0755) < 0 || chmod(nobody_ping, 0755) < 0 ||
	    chmod(nobody_sniff, 0755) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(nobody_ping);
	unlink(nobody_sniff);
	rmdir(nobody_dir);
	return 0;
}

/* ---- ping ------------------------------------------------------------------- */

static void test_ping_root_three_replies(void **state)
{
	struct h_proc p;
	char *argv[] = { (char *)h_lesson(LESSON, "ping"), "-c", "3", "-i", "0.2",
			 "-W", "2", "127.0.0.1", NULL };

	(void)state;
	SKIP_UNLESS(is_root(), "a raw socket needs root here");
	assert_int_equal(run(&p, argv), 0);
	assert_non_null(strstr(p.outbuf, "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data."));
	assert_non_null(strstr(p.outbuf, "using a SOCK_RAW socket"));
	assert_replies(p.outbuf, "127.0.0.1", 3);
	assert_int_equal(first_ttl(p.outbuf), 64);
	assert_non_null(strstr(p.outbuf, "3 packets transmitted, 3 received, 0% packet loss"));
	assert_non_null(strstr(p.outbuf, "rtt min/avg/max/mdev = "));
}

static void test_ping_ipv6(void **state)
{
	struct h_proc p;
	char *argv[] = { (char *)h_lesson(LESSON, "ping"), "-6", "-c", "2", "-i", "0.2",
			 "-W", "2", "::1", NULL };

	(void)state;
	SKIP_UNLESS(is_root(), "a raw socket needs root here");
	SKIP_UNLESS(have_ipv6_loopback(), "no ::1 on this machine");
	assert_int_equal(run(&p, argv), 0);
	assert_non_null(strstr(p.outbuf, "PING ::1 (::1) 56 data bytes"));
	assert_replies(p.outbuf, "::1", 2);
	/* No IP header comes with ICMPv6: the hop limit came as ancillary data. */
	assert_int_equal(first_ttl(p.outbuf), 64);
}

static void test_ping_unprivileged_refused(void **state)
{
	struct h_proc p;
	char *cmd[] = { "setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all",
			nobody_ping, "-c", "1", "-W", "1", "127.0.0.1", NULL };

	(void)state;
	SKIP_UNLESS(can_unshare() && h_have("setpriv"),
		    "needs root, unshare, ip and setpriv for a namespace of our own");
	/* "1 0": an empty range, no group may open an ICMP datagram socket. */
	assert_int_equal(run_in_netns(&p, "/proc/sys/net/ipv4/ping_group_range", "1 0", cmd), 1);
	assert_non_null(strstr(p.errbuf, "socket(SOCK_RAW, IPPROTO_ICMP): Operation not permitted"));
	assert_non_null(strstr(p.errbuf, "CAP_NET_RAW"));
	assert_non_null(strstr(p.errbuf, "gid 65534"));
	assert_non_null(strstr(p.errbuf, "ping_group_range, now \"1 0\""));
	assert_null(strstr(p.outbuf, "bytes from"));
}

static void test_ping_datagram_fallback(void **state)
{
	struct h_proc p;
	char *cmd[] = { "setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all",
			nobody_ping, "-c", "3", "-i", "0.2", "-W", "2", "127.0.0.1", NULL };

	(void)state;
	SKIP_UNLESS(can_unshare() && h_have("setpriv"),
		    "needs root, unshare, ip and setpriv for a namespace of our own");
	assert_int_equal(run_in_netns(&p, "/proc/sys/net/ipv4/ping_group_range",
				      NOBODY " " NOBODY, cmd), 0);
	/* The raw socket was refused; the datagram socket worked. */
	assert_non_null(strstr(p.errbuf, "socket(SOCK_RAW, IPPROTO_ICMP): Operation not permitted"));
	assert_non_null(strstr(p.outbuf, "using a SOCK_DGRAM socket"));
	assert_non_null(strstr(p.outbuf, "chosen by the kernel); now uid 65534"));
	assert_replies(p.outbuf, "127.0.0.1", 3);
	assert_int_equal(first_ttl(p.outbuf), 64);
}

static void test_ping_no_answer_times_out(void **state)
{
	struct h_proc p;
	long long start;
	char *cmd[] = { (char *)h_lesson(LESSON, "ping"), "-c", "2", "-i", "0.2",
			"-W", "0.3", "127.0.0.1", NULL };

	(void)state;
	SKIP_UNLESS(can_unshare(), "needs root, unshare and ip for a namespace of our own");
	start = h_now_ms();
	/* The kernel of that namespace ignores echo requests. */
	assert_int_equal(run_in_netns(&p, "/proc/sys/net/ipv4/icmp_echo_ignore_all", "1", cmd), 1);
	/* Each request waited its 0.3 s before giving up. */
	assert_true(h_now_ms() - start >= 600);
	assert_int_equal(count_lines(p.outbuf, "no answer yet for icmp_seq=1"), 1);
	assert_int_equal(count_lines(p.outbuf, "no answer yet for icmp_seq=2"), 1);
	assert_int_equal(count_lines(p.outbuf, "bytes from"), 0);
	assert_non_null(strstr(p.outbuf, "2 packets transmitted, 0 received, 100% packet loss"));
	assert_null(strstr(p.outbuf, "rtt min"));
}

static void test_ping_interrupted(void **state)
{
	struct h_proc p;
	char *argv[] = { (char *)h_lesson(LESSON, "ping"), "-i", "0.2", "127.0.0.1", NULL };

	(void)state;
	SKIP_UNLESS(is_root(), "a raw socket needs root here");
	assert_int_equal(h_start(&p, argv), 0);
	if (h_wait_output(&p, "out", "icmp_seq=2 ", T_RUN) < 0)
		show_on_failure(&p);
	assert_non_null(strstr(p.outbuf, "icmp_seq=2 "));
	/* Ctrl-C: no more requests, the statistics, exit 0 (replies came). */
	assert_int_equal(h_stop(&p, SIGINT, T_RUN), 0);
	assert_non_null(strstr(p.outbuf, "--- 127.0.0.1 ping statistics ---"));
	assert_true(received_count(p.outbuf) >= 2);
}

static void test_ping_matches_system_ping(void **state)
{
	struct h_proc ours, theirs;
	char *our_argv[] = { (char *)h_lesson(LESSON, "ping"), "-c", "3", "-i", "0.2",
			     "-W", "2", "127.0.0.1", NULL };
	char *their_argv[] = { "ping", "-c", "3", "-i", "0.2", "-W", "2", "127.0.0.1", NULL };

	(void)state;
	SKIP_UNLESS(h_have("ping"), "the system ping (iputils-ping) is not installed");
	SKIP_UNLESS(is_root(), "a raw socket needs root here");
	assert_int_equal(run(&theirs, their_argv), 0);
	assert_int_equal(run(&ours, our_argv), 0);
	assert_int_equal(received_count(theirs.outbuf), 3);
	assert_int_equal(received_count(ours.outbuf), received_count(theirs.outbuf));
	assert_int_equal(first_ttl(ours.outbuf), first_ttl(theirs.outbuf));
}

static void test_ping_usage(void **state)
{
	const char *ping = h_lesson(LESSON, "ping");
	struct h_proc p;
	char *help[] = { (char *)ping, "-h", NULL };
	char *bad[][6] = {
		{ (char *)ping, NULL },                               /* no destination */
		{ (char *)ping, "-i", "0.1", "127.0.0.1", NULL },     /* interval too short */
		{ (char *)ping, "-i", "1e3", "127.0.0.1", NULL },     /* not plain seconds */
		{ (char *)ping, "-W", "x", "127.0.0.1", NULL },
		{ (char *)ping, "-c", "0", "127.0.0.1", NULL },
		{ (char *)ping, "-s", "65508", "127.0.0.1", NULL },
		{ (char *)ping, "-4", "-6", "127.0.0.1", NULL },
		{ (char *)ping, "127.0.0.1", "extra", NULL },
		{ (char *)ping, "--nosuch", "127.0.0.1", NULL },
	};

	(void)state;
	assert_int_equal(run(&p, help), 0);
	assert_non_null(strstr(p.outbuf, "usage: ping"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(&p, bad[i]), 2);
		assert_non_null(strstr(p.errbuf, "Try '"));
		assert_string_equal(p.outbuf, "");
	}
}

/* ---- sniff ------------------------------------------------------------------- */

/* A TCP listener on addr (127.0.0.1 or ::1), port 0; its port in port. */
static int listen_on(const char *addr, char port[H_PORTSTRLEN])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	snprintf(port, H_PORTSTRLEN, "%u", ntohs(family == AF_INET
		 ? ((struct sockaddr_in *)&ss)->sin_port
		 : ((struct sockaddr_in6 *)&ss)->sin6_port));
	return fd;
}

static unsigned local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
		     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Start sniff -p port -c count and wait until its filter is attached. */
static void start_sniff(struct h_proc *p, const char *port, const char *count)
{
	char *argv[] = { (char *)h_lesson(LESSON, "sniff"), "-i", "lo", "-p", (char *)port,
			 "-c", (char *)count, NULL };
	char ready[64];

	snprintf(ready, sizeof(ready), "capturing on lo port %s (", port);
	assert_int_equal(h_start(p, argv), 0);
	if (h_wait_output(p, "out", ready, T_READY) < 0) {
		show_on_failure(p);
		fail_msg("sniff did not report its filter attached");
	}
}

static long read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* One decoded TCP line of sniff's output. */
struct seg {
	char src[64], dst[64], flags[32];
	unsigned long seq, ack;
	long mss;
	int has_ack, ws, sack_ok, ts;
};

static void parse_seg(const char *line, struct seg *s)
{
	const char *f;

	memset(s, 0, sizeof(*s));
	s->mss = -1;
	assert_int_equal(sscanf(line, "%63s > %63s TCP [%31[^]]] seq=%lu",
				s->src, s->dst, s->flags, &s->seq), 4);
	f = strstr(line, " ack=");
	s->has_ack = f != NULL && sscanf(f, " ack=%lu", &s->ack) == 1;
	f = strstr(line, " mss=");
	if (f != NULL)
		assert_int_equal(sscanf(f, " mss=%ld", &s->mss), 1);
	s->ws = strstr(line, " ws=") != NULL;
	s->sack_ok = strstr(line, " sackOK") != NULL;
	s->ts = strstr(line, " ts=") != NULL;
}

static void test_sniff_handshake(void **state)
{
	struct h_proc p;
	char port[H_PORTSTRLEN], client[64], server[64], line[512];
	struct seg syn, synack, ack;
	long mtu = read_sysctl("/sys/class/net/lo/mtu");
	int lfd, cfd, afd, rc;

	(void)state;
	SKIP_UNLESS(is_root(), "a packet socket needs root here");
	lfd = listen_on("127.0.0.1", port);
	assert_true(lfd >= 0);
	start_sniff(&p, port, "3");
	cfd = h_connect(port, T_RUN);
	assert_true(cfd >= 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	snprintf(client, sizeof(client), "127.0.0.1:%u", local_port(cfd));
	snprintf(server, sizeof(server), "127.0.0.1:%s", port);
	/* -c 3: sniff exits by itself after three packets. */
	rc = h_wait_exit(&p, T_RUN);
	if (rc != 0)
		show_on_failure(&p);
	close(afd);
	close(cfd);
	close(lfd);
	assert_int_equal(rc, 0);

	/* Three segments, each shown once: without skipping lo's outgoing
	 * copies the second line would be the SYN again. */
	assert_int_equal(count_lines(p.outbuf, " TCP ["), 3);
	assert_int_equal(nth_line(p.outbuf, " TCP [", 0, line, sizeof(line)), 0);
	parse_seg(line, &syn);
	assert_int_equal(nth_line(p.outbuf, " TCP [", 1, line, sizeof(line)), 0);
	parse_seg(line, &synack);
	assert_int_equal(nth_line(p.outbuf, " TCP [", 2, line, sizeof(line)), 0);
	parse_seg(line, &ack);
	assert_non_null(strstr(p.outbuf, "3 packets shown, 3 outgoing copies on lo skipped"));

	assert_string_equal(syn.flags, "SYN");
	assert_string_equal(syn.src, client);
	assert_string_equal(syn.dst, server);
	assert_false(syn.has_ack);
	assert_string_equal(synack.flags, "SYN,ACK");
	assert_string_equal(synack.src, server);
	assert_string_equal(synack.dst, client);
	assert_string_equal(ack.flags, "ACK");
	assert_string_equal(ack.src, client);
	assert_string_equal(ack.dst, server);
	/* The numbers chain: each side acknowledges the other's SYN, which
	 * counts as one byte. Sequence numbers are 32-bit and wrap. */
	assert_true(synack.has_ack && ack.has_ack);
	assert_int_equal(synack.ack, (syn.seq + 1) & 0xffffffffUL);
	assert_int_equal(ack.seq, (syn.seq + 1) & 0xffffffffUL);
	assert_int_equal(ack.ack, (synack.seq + 1) & 0xffffffffUL);
	/* MSS: lo's MTU less 20 bytes of IPv4 and 20 of TCP header, where
	 * the MTU counts at most 65535 (IPv4's total length is 16 bits; lo's
	 * MTU is 65536). */
	if (mtu > 65535)
		mtu = 65535;
	if (mtu > 0) {
		assert_int_equal(syn.mss, mtu - 40);
		assert_int_equal(synack.mss, mtu - 40);
	}
	assert_int_equal(ack.mss, -1); /* options like MSS only ride on SYNs */
	/* The options the kernel's settings say a SYN carries. */
	assert_int_equal(syn.sack_ok, read_sysctl("/proc/sys/net/ipv4/tcp_sack") > 0);
	assert_int_equal(syn.ws, read_sysctl("/proc/sys/net/ipv4/tcp_window_scaling") > 0);
	assert_int_equal(syn.ts, read_sysctl("/proc/sys/net/ipv4/tcp_timestamps") > 0);
	assert_false(ack.sack_ok || ack.ws);
}

static void test_sniff_filter_hides_other_port(void **state)
{
	struct h_proc p;
	char port[H_PORTSTRLEN], other[H_PORTSTRLEN], line[512], needle[32];
	int lfd, ofd, cfd, afd, rc;
	struct seg s;

	(void)state;
	SKIP_UNLESS(is_root(), "a packet socket needs root here");
	lfd = listen_on("127.0.0.1", port);
	ofd = listen_on("127.0.0.1", other);
	assert_true(lfd >= 0 && ofd >= 0);
	start_sniff(&p, port, "1");

	/* First a whole conversation on the other port... */
	cfd = h_connect(other, T_RUN);
	assert_true(cfd >= 0);
	afd = accept(ofd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(send(cfd, "not for you\n", 12, MSG_NOSIGNAL), 12);
	close(afd);
	close(cfd);
	/* ...then one SYN to ours: it must be the first packet shown. */
	cfd = h_connect(port, T_RUN);
	assert_true(cfd >= 0);
	rc = h_wait_exit(&p, T_RUN);
	if (rc != 0)
		show_on_failure(&p);
	close(cfd);
	close(lfd);
	close(ofd);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(p.outbuf, " > "), 1);
	assert_int_equal(nth_line(p.outbuf, " TCP [", 0, line, sizeof(line)), 0);
	parse_seg(line, &s);
	assert_string_equal(s.flags, "SYN");
	snprintf(needle, sizeof(needle), "127.0.0.1:%s", port);
	assert_string_equal(s.dst, needle);
	snprintf(needle, sizeof(needle), ":%s ", other);
	assert_null(strstr(p.outbuf, needle));
}

static void test_sniff_udp_and_ipv6(void **state)
{
	struct h_proc p;
	char port[H_PORTSTRLEN], line[512], udp_line[128], ipv6_dst[64];
	struct sockaddr_in to;
	int lfd, ufd, cfd, afd, rc;
	struct seg s;

	(void)state;
	SKIP_UNLESS(is_root(), "a packet socket needs root here");
	/* The listener on ::1 picks the port; UDP goes to 127.0.0.1 on the
	 * same number, where nobody listens. */
	lfd = listen_on("::1", port);
	SKIP_UNLESS(lfd >= 0, "no ::1 on this machine");
	start_sniff(&p, port, "2");

	ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(ufd >= 0);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)atoi(port));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(ufd, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	/* The kernel answers with ICMP port unreachable, which carries our
	 * port inside it; the filter (TCP or UDP only) must drop it, so the
	 * second packet shown is the IPv6 SYN. */
	cfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cfd >= 0);
	{
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)atoi(port));
		sin6.sin6_addr = in6addr_loopback;
		assert_int_equal(connect(cfd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	}
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	rc = h_wait_exit(&p, T_RUN);
	if (rc != 0)
		show_on_failure(&p);
	assert_int_equal(rc, 0);

	snprintf(udp_line, sizeof(udp_line), "127.0.0.1:%u > 127.0.0.1:%s UDP len=5",
		 local_port(ufd), port);
	assert_int_equal(nth_line(p.outbuf, " > ", 0, line, sizeof(line)), 0);
	assert_string_equal(line, udp_line);
	assert_int_equal(nth_line(p.outbuf, " > ", 1, line, sizeof(line)), 0);
	parse_seg(line, &s);
	assert_string_equal(s.flags, "SYN");
	snprintf(ipv6_dst, sizeof(ipv6_dst), "[::1]:%s", port);
	assert_string_equal(s.dst, ipv6_dst);
	snprintf(ipv6_dst, sizeof(ipv6_dst), "[::1]:%u", local_port(cfd));
	assert_string_equal(s.src, ipv6_dst);
	close(afd);
	close(cfd);
	close(ufd);
	close(lfd);
}

static void test_sniff_unprivileged_refused(void **state)
{
	struct h_proc p;
	char *argv[] = { "setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups",
			 "--inh-caps=-all", "--bounding-set=-all",
			 nobody_sniff, "-p", "9", "-c", "1", NULL };

	(void)state;
	SKIP_UNLESS(is_root() && h_have("setpriv"), "needs root and setpriv to become uid 65534");
	assert_int_equal(run(&p, argv), 1);
	assert_non_null(strstr(p.errbuf, "socket(AF_PACKET, SOCK_RAW): Operation not permitted"));
	assert_non_null(strstr(p.errbuf, "needs CAP_NET_RAW"));
	assert_null(strstr(p.outbuf, "capturing on"));
}

static void test_sniff_usage(void **state)
{
	const char *sniff = h_lesson(LESSON, "sniff");
	struct h_proc p;
	char *help[] = { (char *)sniff, "-h", NULL };
	char *no_iface[] = { (char *)sniff, "-i", "socklab-none0", "-p", "9", NULL };
	char *bad[][6] = {
		{ (char *)sniff, NULL },                    /* no port */
		{ (char *)sniff, "-p", "0", NULL },
		{ (char *)sniff, "-p", "65536", NULL },
		{ (char *)sniff, "-p", "9", "-c", "0", NULL },
		{ (char *)sniff, "-p", "9", "extra", NULL },
		{ (char *)sniff, "-i", "an-interface-name-too-long", "-p", "9", NULL },
	};

	(void)state;
	assert_int_equal(run(&p, help), 0);
	assert_non_null(strstr(p.outbuf, "usage: sniff"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(&p, bad[i]), 2);
		assert_non_null(strstr(p.errbuf, "Try '"));
	}
	if (is_root()) {
		assert_int_equal(run(&p, no_iface), 1);
		assert_non_null(strstr(p.errbuf, "interface socklab-none0: No such device"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_root_three_replies),
		cmocka_unit_test(test_ping_ipv6),
		cmocka_unit_test(test_ping_unprivileged_refused),
		cmocka_unit_test(test_ping_datagram_fallback),
		cmocka_unit_test(test_ping_no_answer_times_out),
		cmocka_unit_test(test_ping_interrupted),
		cmocka_unit_test(test_ping_matches_system_ping),
		cmocka_unit_test(test_ping_usage),
		cmocka_unit_test(test_sniff_handshake),
		cmocka_unit_test(test_sniff_filter_hides_other_port),
		cmocka_unit_test(test_sniff_udp_and_ipv6),
		cmocka_unit_test(test_sniff_unprivileged_refused),
		cmocka_unit_test(test_sniff_usage),
	};

	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
