/* ipcbench.c — lesson 18: pipes against sockets, measured.
 *
 * What it shows: the same two jobs done between a parent and a forked
 * child over five kinds of channel, with the times printed in one table:
 *  - latency: a ping-pong of small messages (the parent sends N bytes, the
 *    child sends them back), N round trips timed one by one: mean, median
 *    (p50) and 99th percentile, in microseconds;
 *  - throughput: a fixed volume (256 MiB) written in large writes (64 KiB)
 *    from parent to child, until the child says it has it all: MiB/s.
 * The channels:
 *  - pipe:       two pipes, one per direction, because a pipe is one-way;
 *  - socketpair: socketpair(AF_UNIX, SOCK_STREAM), one two-way channel;
 *  - unix:       a Unix stream socket connected through a path (bind,
 *                listen, connect, accept), then the same as a socketpair;
 *  - tcp:        TCP over 127.0.0.1, port 0 (the kernel picks a port);
 *  - udp:        UDP over 127.0.0.1, datagrams of at most 65000 bytes.
 * Every byte is checked: the child compares what it receives with what
 * the parent must have sent (a known pattern), the parent compares each
 * echo with its ping; a mismatch marks the row FAILED and the exit status
 * is 1. --corrupt flips one byte of the first write, to show the check
 * works.
 *
 * Why: local IPC has a cost, and it differs. A pipe and a Unix socket
 * copy the data twice (into the kernel, out of it) and do little else;
 * TCP on loopback runs the whole protocol (segments, checksums skipped on
 * lo, ACKs, congestion control) for the same two copies. UDP has no flow
 * control at all: a sender faster than its receiver loses datagrams,
 * silently, even on one machine. The numbers say how much each costs on
 * the machine in front of you.
 *
 * Two knobs change the picture, and the README shows by how much: where
 * the two processes run (-c P,C pins them to CPUs; a round trip that must
 * wake the other CPU costs far more than one that stays on a CPU), and
 * the pipe's capacity (-P: how far a writer may get ahead of its reader).
 *
 * Notice when it runs: pipe, socketpair and unix are close to each other;
 * tcp is slower per round trip; udp's MiB/s counts only what arrived, and
 * its "lost" column says how much did not.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lesson.h"

#define MIB (1024.0 * 1024.0)
#define PATTERN_MIN 65536       /* the pattern repeats every P >= this bytes */
#define UDP_MAX 65000           /* a UDP datagram, header included: below the
                                 * 65507-byte limit and lo's 65536-byte MTU, so
                                 * never fragmented */
#define UDP_HDR 8               /* our header in each datagram: type, seq */
#define UDP_WAIT_MS 200         /* a ping without an answer by then is lost */
#define PHASE_LIMIT_S 60        /* watchdog: a phase that takes longer fails */
#define FIN_EVERY_MS 20         /* the UDP end-of-data marker is resent this often */

static void usage(void)
{
	printf("usage: ipcbench [-q] [-n N] [-s BYTES] [-V MIB] [-w BYTES] [-t LIST] [-c P,C]\n"
	       "                [-P BYTES] [--corrupt]\n"
	       "Pipes against sockets (lesson 18): round-trip latency and throughput between\n"
	       "a parent and a forked child, for each transport, in one table.\n"
	       "\n"
	       "  -n, --iterations N     round trips to time (default 10000; a tenth more\n"
	       "                         go first, untimed, to warm up)\n"
	       "  -s, --size BYTES       size of each ping (default 64; 8 to %d)\n"
	       "  -V, --volume MIB       data to send for throughput (default 256)\n"
	       "  -w, --write-size BYTES size of each write (default 65536; UDP datagrams\n"
	       "                         are at most %d bytes)\n"
	       "  -t, --transports LIST  comma-separated, from pipe,socketpair,unix,tcp,udp\n"
	       "                         (default: all)\n"
	       "  -P, --pipe-size BYTES  pipe capacity (F_SETPIPE_SZ; default: the kernel's,\n"
	       "                         64 KiB; at most /proc/sys/fs/pipe-max-size)\n"
	       "  -c, --cpus P,C         run the parent on CPU P and the child on CPU C\n"
	       "                         (default: wherever the scheduler puts them)\n"
	       "  -q, --quick            1000 round trips and 16 MiB (for tests); -n and -V\n"
	       "                         still override\n"
	       "      --corrupt          flip one byte of the first write: the data check\n"
	       "                         must then fail (exit 1)\n"
	       "  -h, --help             show this help\n"
	       "Exit status: 0 when every transport ran and every byte checked out, 1\n"
	       "otherwise, 2 for a bad command line.\n",
	       UDP_MAX, UDP_MAX);
}

/* ---- configuration ------------------------------------------------------------- */

enum transport_id { T_PIPE, T_SOCKETPAIR, T_UNIX, T_TCP, T_UDP, T_COUNT };

static const char *const transport_names[T_COUNT] = {
	"pipe", "socketpair", "unix", "tcp", "udp",
};

struct config {
	long iterations;
	long warmup;
	size_t size;
	size_t volume;        /* bytes */
	size_t write_size;
	int want[T_COUNT];
	int cpu_parent, cpu_child; /* -1: not pinned */
	long pipe_size;            /* 0: the kernel's default */
	int corrupt;
	unsigned char *pattern; /* 2 * period bytes: any run of up to period
	                         * bytes starting below period is contiguous */
	size_t period;
};

/* A comma-separated list of transport names. */
static void parse_transports(const char *list, int want[T_COUNT])
{
	char *copy = strdup(list), *save = NULL, *name;
	int any = 0;

	if (copy == NULL)
		die("strdup:");
	memset(want, 0, sizeof(int) * T_COUNT);
	for (name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
		int found = 0;

		for (int t = 0; t < T_COUNT; t++)
			if (strcmp(name, transport_names[t]) == 0)
				want[t] = found = any = 1;
		if (!found) {
			/* Copy the name out before freeing what it points into. */
			char bad[64];

			snprintf(bad, sizeof(bad), "%s", name);
			free(copy);
			usage_error("unknown transport '%s': expected pipe, socketpair, unix, tcp or udp", bad);
		}
	}
	free(copy);
	if (!any)
		usage_error("no transport in '%s'", list);
}

/* "P,C": two CPU numbers. */
static void parse_cpus(const char *arg, struct config *cfg)
{
	char parent[16], child[16];
	const char *comma = strchr(arg, ',');
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	size_t n;

	if (ncpu < 1)
		ncpu = CPU_SETSIZE;
	n = comma != NULL ? (size_t)(comma - arg) : 0;
	if (comma == NULL || n == 0 || n >= sizeof(parent) || strlen(comma + 1) >= sizeof(child))
		usage_error("bad cpus '%s': expected two CPU numbers, PARENT,CHILD", arg);
	memcpy(parent, arg, n);
	parent[n] = '\0';
	snprintf(child, sizeof(child), "%s", comma + 1);
	cfg->cpu_parent = (int)opt_number(parent, "parent CPU", 0, ncpu - 1);
	cfg->cpu_child = (int)opt_number(child, "child CPU", 0, ncpu - 1);
}

static void parse_options(int argc, char **argv, struct config *cfg)
{
	enum { OPT_CORRUPT = 256 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "volume", required_argument, NULL, 'V' },
		{ "write-size", required_argument, NULL, 'w' },
		{ "transports", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'q' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "pipe-size", required_argument, NULL, 'P' },
		{ "corrupt", no_argument, NULL, OPT_CORRUPT },
		{ NULL, 0, NULL, 0 },
	};
	long iterations = -1, volume_mib = -1;
	int quick = 0, c;

	opterr = 0;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = 64;
	cfg->write_size = 65536;
	cfg->cpu_parent = cfg->cpu_child = -1;
	for (int t = 0; t < T_COUNT; t++)
		cfg->want[t] = 1;
	while ((c = getopt_long(argc, argv, ":hn:s:V:w:t:qc:P:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'n':
			iterations = opt_number(optarg, "iteration count", 1, 10000000);
			break;
		case 's':
			cfg->size = (size_t)opt_number(optarg, "message size", UDP_HDR, UDP_MAX);
			break;
		case 'V':
			volume_mib = opt_number(optarg, "volume", 1, 65536);
			break;
		case 'w':
			cfg->write_size = (size_t)opt_number(optarg, "write size", 1, 1048576);
			break;
		case 't':
			parse_transports(optarg, cfg->want);
			break;
		case 'q':
			quick = 1;
			break;
		case 'c':
			parse_cpus(optarg, cfg);
			break;
		case 'P':
			cfg->pipe_size = opt_number(optarg, "pipe size", 4096, 1048576);
			break;
		case OPT_CORRUPT:
			cfg->corrupt = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	cfg->iterations = iterations > 0 ? iterations : quick ? 1000 : 10000;
	cfg->warmup = cfg->iterations / 10;
	cfg->volume = (size_t)(volume_mib > 0 ? volume_mib : quick ? 16 : 256) * 1024 * 1024;
}

/* The bytes every transport carries: pseudo-random (xorshift), so that a
 * byte out of place cannot match by accident, and repeated once so that
 * any period-long run starting inside the first copy is contiguous. */
static void make_pattern(struct config *cfg)
{
	uint32_t x = 2463534242u;

	cfg->period = cfg->write_size > PATTERN_MIN ? cfg->write_size : PATTERN_MIN;
	cfg->pattern = malloc(2 * cfg->period);
	if (cfg->pattern == NULL)
		die("malloc:");
	for (size_t i = 0; i < cfg->period; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		cfg->pattern[i] = (unsigned char)(x >> 24);
	}
	memcpy(cfg->pattern + cfg->period, cfg->pattern, cfg->period);
}

/* The pattern's bytes for stream offset off (len <= period). */
static const unsigned char *pattern_at(const struct config *cfg, uint64_t off)
{
	return cfg->pattern + off % cfg->period;
}

/* ---- time, and the watchdog ------------------------------------------------------ */

static long long now_ns(void)
{
	/* EXERCISE 3: read a clock that only moves forward, in nanoseconds */
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	/* END EXERCISE 3 */
}

/* Set when a phase overruns PHASE_LIMIT_S. The SIGALRM handler is
 * installed without SA_RESTART, so a blocked read() or write() returns
 * EINTR, and the I/O helpers give up when they see this flag. That costs
 * nothing per call, unlike a poll() before every read, which would add a
 * system call to every round trip we time. */
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die("sigaction SIGALRM:");
	/* A write to a pipe whose reader has gone raises SIGPIPE, which would
	 * kill us silently. MSG_NOSIGNAL cannot help: write() on a pipe takes
	 * no flags. Ignored, the write fails with EPIPE instead. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal SIGPIPE:");
}

static void start_watchdog(void)
{
	timed_out = 0;
	alarm(PHASE_LIMIT_S);
}

static void stop_watchdog(void)
{
	alarm(0);
}

/* ---- I/O that finishes the job ------------------------------------------------- */

/* write() until all len bytes are out: a pipe or socket may take fewer
 * (a short write). Returns 0, or -1 with errno. */
static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out)
				errno = ETIMEDOUT;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read() until len bytes are in: a stream returns whatever has arrived.
 * Returns 0, or -1 with errno (EPIPE for an early end of file). */
static int read_exact(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out)
				errno = ETIMEDOUT;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Number of bytes in which a and b differ. */
static uint64_t count_differences(const unsigned char *a, const unsigned char *b, size_t len)
{
	uint64_t bad = 0;

	if (memcmp(a, b, len) == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		bad += a[i] != b[i];
	return bad;
}

/* ---- channels ---------------------------------------------------------------- */

/* The fds of one channel. A socket is one fd for both directions
 * (rd == wr); pipes need two fds on each side. ctl_rd/ctl_wr: a pipe for
 * the UDP child's final report, which must not be lost; -1 otherwise. */
struct channel {
	int parent_rd, parent_wr;
	int child_rd, child_wr;
	int ctl_rd, ctl_wr;
};

static void close_pair(int *rd, int *wr)
{
	if (*rd >= 0)
		close(*rd);
	if (*wr >= 0 && *wr != *rd)
		close(*wr);
	*rd = *wr = -1;
}

static void close_parent_ends(struct channel *ch)
{
	close_pair(&ch->parent_rd, &ch->parent_wr);
	if (ch->ctl_rd >= 0)
		close(ch->ctl_rd);
	ch->ctl_rd = -1;
}

static void close_child_ends(struct channel *ch)
{
	close_pair(&ch->child_rd, &ch->child_wr);
	if (ch->ctl_wr >= 0)
		close(ch->ctl_wr);
	ch->ctl_wr = -1;
}

static void init_channel(struct channel *ch)
{
	ch->parent_rd = ch->parent_wr = ch->child_rd = ch->child_wr = -1;
	ch->ctl_rd = ch->ctl_wr = -1;
}

/* The capacity of a pipe: how much a writer may get ahead of its reader
 * before write() blocks. 64 KiB unless changed (rounded up to pages). */
static int set_pipe_size(int fd, long size)
{
	if (size > 0 && fcntl(fd, F_SETPIPE_SZ, (int)size) < 0) {
		warn("fcntl F_SETPIPE_SZ %ld:", size);
		return -1;
	}
	return 0;
}

/* Two pipes: a pipe is one-way (fd[1] writes, fd[0] reads), so a round
 * trip needs one for each direction. */
static int open_pipes(struct channel *ch, long pipe_size)
{
	/* EXERCISE 1: two pipes, one for each direction */
	int down[2], up[2];

	if (pipe(down) < 0) {
		warn("pipe:");
		return -1;
	}
	if (pipe(up) < 0) {
		warn("pipe:");
		close(down[0]);
		close(down[1]);
		return -1;
	}
	ch->parent_wr = down[1];
	ch->child_rd = down[0];
	ch->child_wr = up[1];
	ch->parent_rd = up[0];
	if (set_pipe_size(down[1], pipe_size) < 0 || set_pipe_size(up[1], pipe_size) < 0) {
		close_pair(&ch->parent_rd, &ch->parent_wr);
		close_pair(&ch->child_rd, &ch->child_wr);
		return -1;
	}
	return 0;
	/* END EXERCISE 1 */
}

/* One socketpair: both ends read and write. */
static int open_socketpair(struct channel *ch, long pipe_size)
{
	/* EXERCISE 1: one socketpair, one channel for both directions */
	int sv[2];

	(void)pipe_size; /* pipes only */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		warn("socketpair:");
		return -1;
	}
	ch->parent_rd = ch->parent_wr = sv[0];
	ch->child_rd = ch->child_wr = sv[1];
	return 0;
	/* END EXERCISE 1 */
}

/* listen on addr, connect a second socket to it, accept: two connected
 * stream sockets, made in one process before fork() (connect() does not
 * wait for accept(): the kernel completes the connection and queues it).
 * Returns 0, or -1 after saying why. */
static int connect_through(int family, const struct sockaddr *addr, socklen_t len,
                           struct channel *ch)
{
	/* EXERCISE 2: a connected pair of stream sockets through an address */
	struct sockaddr_storage bound;
	socklen_t boundlen = sizeof(bound);
	int listener, client = -1, server = -1;

	listener = socket(family, SOCK_STREAM, 0);
	if (listener < 0) {
		warn("socket:");
		return -1;
	}
	if (bind(listener, addr, len) < 0) {
		warn("bind:");
		goto out;
	}
	if (listen(listener, 1) < 0) {
		warn("listen:");
		goto out;
	}
	/* For TCP, port 0 became a real port: ask which. */
	if (getsockname(listener, (struct sockaddr *)&bound, &boundlen) < 0) {
		warn("getsockname:");
		goto out;
	}
	client = socket(family, SOCK_STREAM, 0);
	if (client < 0) {
		warn("socket:");
		goto out;
	}
	if (connect(client, (struct sockaddr *)&bound, boundlen) < 0) {
		warn("connect:");
		goto out;
	}
	server = accept(listener, NULL, NULL);
	if (server < 0)
		warn("accept:");
out:
	close(listener);
	if (server < 0) {
		if (client >= 0)
			close(client);
		return -1;
	}
	ch->parent_rd = ch->parent_wr = server;
	ch->child_rd = ch->child_wr = client;
	return 0;
	/* END EXERCISE 2 */
}

/* A Unix stream socket through a path in a private directory. Once
 * connected, the path is not needed any more: we remove it at once. */
static int open_unix(struct channel *ch, long pipe_size)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX];
	struct sockaddr_un sun;
	int rc;

	(void)pipe_size; /* pipes only */
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/ipcbench-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		warn("mkdtemp %s:", dir);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir) >= sizeof(sun.sun_path)) {
		warn("socket path %s/s: too long", dir);
		rmdir(dir);
		return -1;
	}
	rc = connect_through(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), ch);
	unlink(sun.sun_path);
	rmdir(dir);
	return rc;
}

/* TCP over loopback. TCP_NODELAY on both ends: a ping-pong of small
 * messages is what Nagle's algorithm (hold a small segment while an
 * earlier one is unacknowledged) can delay; latency-minded programs turn
 * it off, and so do we, to measure the transport and not the wait. */
static int open_tcp(struct channel *ch, long pipe_size)
{
	struct sockaddr_in sin;
	int one = 1;

	(void)pipe_size; /* pipes only */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0; /* any free port */
	if (connect_through(AF_INET, (struct sockaddr *)&sin, sizeof(sin), ch) < 0)
		return -1;
	if (setsockopt(ch->parent_rd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(ch->child_rd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		warn("setsockopt TCP_NODELAY:");
		close_pair(&ch->parent_rd, &ch->parent_wr);
		close_pair(&ch->child_rd, &ch->child_wr);
		return -1;
	}
	return 0;
}

/* A UDP socket bound to 127.0.0.1, any port; its address in *sin. */
static int udp_socket(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) < 0) {
		warn("bind udp:");
		close(fd);
		return -1;
	}
	return fd;
}

/* Two UDP sockets, each connect()ed to the other: send() and recv() then
 * need no address, and datagrams from anyone else are dropped. Plus a
 * pipe for the child's final report. */
static int open_udp(struct channel *ch, long pipe_size)
{
	struct sockaddr_in a, b;
	struct timeval wait = { 0, UDP_WAIT_MS * 1000 };
	int fa, fb, ctl[2];

	(void)pipe_size; /* pipes only */
	fa = udp_socket(&a);
	if (fa < 0)
		return -1;
	fb = udp_socket(&b);
	if (fb < 0) {
		close(fa);
		return -1;
	}
	if (connect(fa, (struct sockaddr *)&b, sizeof(b)) < 0 ||
	    connect(fb, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    /* The parent's recv() gives up on a ping after UDP_WAIT_MS. */
	    setsockopt(fa, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) < 0 ||
	    pipe(ctl) < 0) {
		warn("udp setup:");
		close(fa);
		close(fb);
		return -1;
	}
	ch->parent_rd = ch->parent_wr = fa;
	ch->child_rd = ch->child_wr = fb;
	ch->ctl_rd = ctl[0];
	ch->ctl_wr = ctl[1];
	return 0;
}

/* Each opener takes the -P pipe size, which only pipes use. */
static int (*const openers[T_COUNT])(struct channel *, long) = {
	open_pipes, open_socketpair, open_unix, open_tcp, open_udp,
};

/* ---- what the child does ------------------------------------------------------- */

/* What the stream child reports after the bulk transfer. */
struct stream_report {
	uint64_t bytes;
	uint64_t bad;
};

/* Echo every ping, then take the bulk data, checking every byte. */
static int stream_child(const struct config *cfg, int rd, int wr)
{
	long total = cfg->iterations + cfg->warmup;
	unsigned char *buf = malloc(cfg->period > cfg->size ? cfg->period : cfg->size);
	struct stream_report rep = { 0, 0 };
	int rc = -1;

	if (buf == NULL)
		return -1;
	for (long i = 0; i < total; i++)
		if (read_exact(rd, buf, cfg->size) < 0 || write_all(wr, buf, cfg->size) < 0)
			goto out;
	while (rep.bytes < cfg->volume) {
		size_t want = cfg->volume - rep.bytes;
		ssize_t n;

		if (want > cfg->period)
			want = cfg->period;
		n = read(rd, buf, want);
		if (n < 0 && errno == EINTR && !timed_out)
			continue;
		if (n <= 0)
			goto out;
		rep.bad += count_differences(buf, pattern_at(cfg, rep.bytes), (size_t)n);
		rep.bytes += (uint64_t)n;
	}
	rc = write_all(wr, &rep, sizeof(rep));
out:
	free(buf);
	return rc;
}

/* UDP message types, in the first 4 bytes of each datagram. */
enum { KIND_PING = 1, KIND_DATA = 2, KIND_END = 3 };

struct udp_report {
	uint64_t datagrams;
	uint64_t bytes;
	uint64_t bad;
	long long last_ns; /* when the last data datagram arrived */
};

/* Serve datagrams by type: echo pings, count and check data, and at the
 * end marker send the report through the control pipe. */
static int udp_child(const struct config *cfg, int fd, int ctl)
{
	size_t per = (cfg->write_size < UDP_MAX ? cfg->write_size : UDP_MAX) - UDP_HDR;
	unsigned char *buf = malloc(UDP_MAX + 1);
	struct udp_report rep = { 0, 0, 0, 0 };
	int rc = -1;

	if (buf == NULL)
		return -1;
	for (;;) {
		uint32_t type, seq;
		ssize_t n = recv(fd, buf, UDP_MAX + 1, 0);

		if (n < 0 && errno == EINTR && !timed_out)
			continue;
		if (n < UDP_HDR)
			break; /* an error, or a datagram that is not ours */
		memcpy(&type, buf, 4);
		memcpy(&seq, buf + 4, 4);
		if (type == KIND_PING) {
			/* A reply the parent no longer waits for is harmless. */
			if (send(fd, buf, (size_t)n, 0) < 0 && errno != ECONNREFUSED)
				break;
		} else if (type == KIND_DATA) {
			size_t len = (size_t)n - UDP_HDR;

			rep.datagrams++;
			rep.bytes += len;
			rep.bad += count_differences(buf + UDP_HDR,
						     pattern_at(cfg, (uint64_t)seq * per), len);
			rep.last_ns = now_ns();
		} else if (type == KIND_END) {
			rc = write_all(ctl, &rep, sizeof(rep));
			break;
		}
	}
	free(buf);
	return rc;
}

/* Run this process on one CPU only (cpu < 0: leave it to the scheduler).
 * Whether the two ends of a round trip share a CPU changes the cost of
 * every wake-up: see the README. */
static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* The child's whole life: die with the parent, serve, close, exit. */
static void child_main(const struct config *cfg, struct channel *ch, int udp)
{
	pid_t parent = getppid();
	int rc;

	/* If the parent dies (killed by a test's deadline, say), so do we. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(EXIT_RUNTIME);
	close_parent_ends(ch);
	if (pin_to_cpu(cfg->cpu_child) < 0) {
		warn("sched_setaffinity CPU %d:", cfg->cpu_child);
		close_child_ends(ch);
		free(cfg->pattern);
		_exit(EXIT_RUNTIME);
	}
	timed_out = 0;
	alarm(3 * PHASE_LIMIT_S);
	rc = udp ? udp_child(cfg, ch->child_rd, ch->ctl_wr)
	         : stream_child(cfg, ch->child_rd, ch->child_wr);
	close_child_ends(ch);
	free(cfg->pattern);
	/* _exit, not exit: the parent's stdio buffers, copied by fork(), must
	 * not be flushed a second time. */
	_exit(rc < 0 ? EXIT_RUNTIME : EXIT_OK);
}

/* ---- what the parent measures ------------------------------------------------ */

struct result {
	double mean_us, p50_us, p99_us;
	double mib_s;
	double lost_pct;     /* UDP bulk datagrams lost; < 0: not applicable */
	long lost_pings;     /* UDP round trips without an answer */
	uint64_t bad;        /* bytes or echoes that did not match */
	int failed;          /* a step failed (said on stderr) */
};

static int compare_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* Mean, median and 99th percentile of n round-trip times (ns), in us. */
static void summarize(long long *rtt, long n, struct result *res)
{
	/* EXERCISE 3: the mean, the median and the 99th percentile, in us */
	long double sum = 0;

	if (n == 0)
		return;
	qsort(rtt, (size_t)n, sizeof(*rtt), compare_ll);
	for (long i = 0; i < n; i++)
		sum += rtt[i];
	res->mean_us = (double)(sum / n / 1000.0L);
	res->p50_us = rtt[(n - 1) * 50 / 100] / 1000.0;
	res->p99_us = rtt[(n - 1) * 99 / 100] / 1000.0;
	/* END EXERCISE 3 */
}

/* Time each round trip: write size bytes, read them back. */
static int stream_latency(const struct config *cfg, int rd, int wr, struct result *res)
{
	long total = cfg->iterations + cfg->warmup;
	long long *rtt = malloc(sizeof(*rtt) * (size_t)cfg->iterations);
	unsigned char *back = malloc(cfg->size);
	int rc = -1;

	if (rtt == NULL || back == NULL) {
		warn("malloc:");
		goto out;
	}
	for (long i = 0; i < total; i++) {
		const unsigned char *ping = pattern_at(cfg, (uint64_t)i * cfg->size);
		long long t0 = now_ns(), t1;

		if (write_all(wr, ping, cfg->size) < 0 || read_exact(rd, back, cfg->size) < 0) {
			warn("round trip %ld:", i + 1);
			goto out;
		}
		t1 = now_ns();
		if (memcmp(back, ping, cfg->size) != 0)
			res->bad++;
		if (i >= cfg->warmup)
			rtt[i - cfg->warmup] = t1 - t0;
	}
	summarize(rtt, cfg->iterations, res);
	rc = 0;
out:
	free(rtt);
	free(back);
	return rc;
}

/* Write the volume in write_size pieces; the time runs until the child
 * reports that it has every byte. */
static int stream_throughput(const struct config *cfg, int rd, int wr, struct result *res)
{
	unsigned char *spoiled = NULL;
	struct stream_report rep;
	long long t0 = now_ns(), t1;
	uint64_t off = 0;

	while (off < cfg->volume) {
		size_t n = cfg->volume - off < cfg->write_size ? cfg->volume - off : cfg->write_size;
		const unsigned char *src = pattern_at(cfg, off);

		if (cfg->corrupt && off == 0) {
			spoiled = malloc(n);
			if (spoiled == NULL) {
				warn("malloc:");
				return -1;
			}
			memcpy(spoiled, src, n);
			spoiled[n / 2] ^= 0x55;
			src = spoiled;
		}
		if (write_all(wr, src, n) < 0) {
			warn("write at offset %llu:", (unsigned long long)off);
			free(spoiled);
			return -1;
		}
		off += n;
	}
	free(spoiled);
	if (read_exact(rd, &rep, sizeof(rep)) < 0) {
		warn("the child's report:");
		return -1;
	}
	t1 = now_ns();
	res->mib_s = (double)cfg->volume / MIB / ((double)(t1 - t0) / 1e9);
	res->bad += rep.bad;
	if (rep.bytes != cfg->volume) {
		warn("the child got %llu of %zu bytes", (unsigned long long)rep.bytes, cfg->volume);
		return -1;
	}
	return 0;
}

/* Send one datagram made of our header and a payload (sendmsg gathers the
 * two pieces, so the payload is not copied into a buffer first). */
static ssize_t send_datagram(int fd, uint32_t type, uint32_t seq,
                             const unsigned char *payload, size_t len)
{
	unsigned char hdr[UDP_HDR];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = UDP_HDR },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr msg;
	ssize_t n;

	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &seq, 4);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	do
		n = sendmsg(fd, &msg, 0);
	while (n < 0 && errno == EINTR && !timed_out);
	return n;
}

/* Ping-pong over UDP. A ping is a datagram of size bytes with a sequence
 * number; an answer with an older number is a late one, skipped. No
 * answer within UDP_WAIT_MS (SO_RCVTIMEO): the ping or the pong was lost;
 * it is counted, not timed, and the next ping goes out. */
static int udp_latency(const struct config *cfg, int fd, struct result *res)
{
	long total = cfg->iterations + cfg->warmup, timed = 0;
	long long *rtt = malloc(sizeof(*rtt) * (size_t)cfg->iterations);
	unsigned char *back = malloc(UDP_MAX + 1);
	size_t plen = cfg->size - UDP_HDR;
	int rc = -1;

	if (rtt == NULL || back == NULL) {
		warn("malloc:");
		goto out;
	}
	for (long i = 0; i < total; i++) {
		const unsigned char *payload = pattern_at(cfg, (uint64_t)i * plen);
		long long t0 = now_ns();
		uint32_t type = 0, seq = 0;
		ssize_t n;

		if (send_datagram(fd, KIND_PING, (uint32_t)i, payload, plen) < 0) {
			warn("send ping %ld:", i + 1);
			goto out;
		}
		do {
			n = recv(fd, back, UDP_MAX + 1, 0);
			if (n >= UDP_HDR) {
				memcpy(&type, back, 4);
				memcpy(&seq, back + 4, 4);
			}
		} while ((n >= 0 && (n < UDP_HDR || type != KIND_PING || seq != (uint32_t)i)) ||
			 (n < 0 && errno == EINTR && !timed_out));
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			res->lost_pings++;
			continue;
		}
		if (n < 0) {
			warn("recv pong %ld:", i + 1);
			goto out;
		}
		if ((size_t)n != cfg->size || memcmp(back + UDP_HDR, payload, plen) != 0)
			res->bad++;
		if (i >= cfg->warmup)
			rtt[timed++] = now_ns() - t0;
	}
	summarize(rtt, timed, res);
	rc = 0;
out:
	free(rtt);
	free(back);
	return rc;
}

/* Send the volume as datagrams as fast as send() lets us. Nothing slows
 * the sender down when the receiver falls behind: datagrams that find
 * the receiver's queue full are dropped. Then repeat an end marker until
 * the child's report arrives on the control pipe. MiB/s counts what
 * arrived, up to the last datagram's arrival. */
static int udp_throughput(const struct config *cfg, int fd, int ctl, struct result *res)
{
	size_t per = (cfg->write_size < UDP_MAX ? cfg->write_size : UDP_MAX) - UDP_HDR;
	uint64_t count = (cfg->volume + per - 1) / per;
	unsigned char *spoiled = NULL;
	struct udp_report rep;
	long long t0 = now_ns();
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };

	for (uint64_t seq = 0; seq < count; seq++) {
		uint64_t off = seq * per;
		size_t len = cfg->volume - off < per ? cfg->volume - off : per;
		const unsigned char *src = pattern_at(cfg, off);

		if (cfg->corrupt && seq == 0) {
			spoiled = malloc(len);
			if (spoiled == NULL) {
				warn("malloc:");
				return -1;
			}
			memcpy(spoiled, src, len);
			spoiled[len / 2] ^= 0x55;
			src = spoiled;
		}
		/* ENOBUFS: the kernel had no room even to send; that datagram
		 * is lost like any other. */
		if (send_datagram(fd, KIND_DATA, (uint32_t)seq, src, len) < 0 && errno != ENOBUFS) {
			warn("send datagram %llu:", (unsigned long long)seq);
			free(spoiled);
			return -1;
		}
	}
	free(spoiled);
	for (;;) {
		int ready;

		if (send_datagram(fd, KIND_END, 0, NULL, 0) < 0 && errno != ENOBUFS) {
			warn("send end marker:");
			return -1;
		}
		ready = poll(&pfd, 1, FIN_EVERY_MS);
		if (ready > 0)
			break;
		if (ready < 0 && errno != EINTR) {
			warn("poll:");
			return -1;
		}
		if (timed_out) {
			warn("no report from the child within %d s", PHASE_LIMIT_S);
			return -1;
		}
	}
	if (read_exact(ctl, &rep, sizeof(rep)) < 0) {
		warn("the child's report:");
		return -1;
	}
	res->lost_pct = 100.0 * (double)(count - rep.datagrams) / (double)count;
	if (rep.datagrams > 0 && rep.last_ns > t0)
		res->mib_s = (double)rep.bytes / MIB / ((double)(rep.last_ns - t0) / 1e9);
	res->bad += rep.bad;
	return 0;
}

/* ---- one transport, start to end ------------------------------------------------- */

/* Wait for the child; kill it first when we gave up on it. */
static int reap(pid_t child, int kill_it)
{
	int st;

	if (kill_it)
		kill(child, SIGKILL);
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void measure(const struct config *cfg, enum transport_id t, struct channel *ch,
                    struct result *res)
{
	int rc;

	start_watchdog();
	rc = t == T_UDP ? udp_latency(cfg, ch->parent_rd, res)
	                : stream_latency(cfg, ch->parent_rd, ch->parent_wr, res);
	stop_watchdog();
	if (rc < 0) {
		res->failed = 1;
		return;
	}
	start_watchdog();
	rc = t == T_UDP ? udp_throughput(cfg, ch->parent_wr, ch->ctl_rd, res)
	                : stream_throughput(cfg, ch->parent_rd, ch->parent_wr, res);
	stop_watchdog();
	if (rc < 0)
		res->failed = 1;
}

static void run_transport(const struct config *cfg, enum transport_id t, struct result *res)
{
	struct channel ch;
	pid_t child;

	memset(res, 0, sizeof(*res));
	res->lost_pct = -1;
	init_channel(&ch);
	if (openers[t](&ch, cfg->pipe_size) < 0) {
		res->failed = 1;
		return;
	}
	fflush(stdout); /* or the child's copy of the buffer is printed twice */
	child = fork();
	if (child < 0) {
		warn("fork:");
		close_parent_ends(&ch);
		close_child_ends(&ch);
		res->failed = 1;
		return;
	}
	if (child == 0)
		child_main(cfg, &ch, t == T_UDP);
	close_child_ends(&ch);
	measure(cfg, t, &ch, res);
	close_parent_ends(&ch);
	if (reap(child, res->failed) < 0 && !res->failed) {
		warn("%s: the child failed", transport_names[t]);
		res->failed = 1;
	}
}

/* ---- the table -------------------------------------------------------------------- */

static void print_header(const struct config *cfg)
{
	printf("ipcbench: %ld round trips of %zu bytes (after %ld untimed), %zu MiB in "
	       "%zu-byte writes\n", cfg->iterations, cfg->size, cfg->warmup,
	       cfg->volume / (1024 * 1024), cfg->write_size);
	if (cfg->cpu_parent >= 0)
		printf("parent on CPU %d, child on CPU %d\n", cfg->cpu_parent, cfg->cpu_child);
	if (cfg->pipe_size > 0)
		printf("pipe capacity %ld bytes\n", cfg->pipe_size);
	printf("%-11s %9s %9s %9s %10s %7s  %s\n", "transport", "mean_us", "p50_us",
	       "p99_us", "MiB/s", "lost", "check");
}

static void print_row(const char *name, const struct result *res)
{
	char lost[16];

	if (res->lost_pct < 0)
		snprintf(lost, sizeof(lost), "-");
	else
		snprintf(lost, sizeof(lost), "%.1f%%", res->lost_pct);
	printf("%-11s %9.2f %9.2f %9.2f %10.1f %7s  %s\n", name, res->mean_us, res->p50_us,
	       res->p99_us, res->mib_s, lost,
	       res->failed ? "FAILED" : res->bad > 0 ? "FAILED" : "ok");
	if (res->bad > 0)
		warn("%s: data check failed: %llu bytes or echoes differ from what was sent",
		     name, (unsigned long long)res->bad);
	if (res->lost_pings > 0)
		printf("%-11s (%ld pings got no answer within %d ms: not timed)\n", "",
		       res->lost_pings, UDP_WAIT_MS);
}

int main(int argc, char **argv)
{
	struct config cfg;
	int status = EXIT_OK;

	parse_options(argc, argv, &cfg);
	if (pin_to_cpu(cfg.cpu_parent) < 0)
		die("sched_setaffinity CPU %d:", cfg.cpu_parent);
	install_signals();
	make_pattern(&cfg);
	print_header(&cfg);
	for (int t = 0; t < T_COUNT; t++) {
		struct result res;

		if (!cfg.want[t])
			continue;
		run_transport(&cfg, (enum transport_id)t, &res);
		print_row(transport_names[t], &res);
		if (res.failed || res.bad > 0)
			status = EXIT_RUNTIME;
	}
	if (cfg.want[T_UDP])
		printf("udp: MiB/s counts only the datagrams that arrived; \"lost\" is the share\n"
		       "the receiver's full queue dropped (UDP has no flow control).\n");
	free(cfg.pattern);
	return status;
}
