/* chaos_target.c — a target for test_chaos: the socket calls of a careful
 * program, made in a fixed order, so that what the shim's chaos mode does
 * to them can be counted and compared between runs.
 *
 * One process, no timing: 40 rounds of 1000 bytes through a stream
 * socketpair (send until all is taken, recv until all has come, each byte
 * checked), the same through a datagram socketpair (one send, one recv of
 * 1000 bytes), reads on a non-blocking socket until EAGAIN, and a
 * non-blocking and an edge-triggered (EPOLLET) fd, a TCP listener on
 * 127.0.0.1 port 0 with two clients to accept, and polls that may block
 * and that may not. Prints one line of counts:
 *
 *   ok short_reads=N short_writes=N eintr=N eagain=N edge_eagain=N
 *      dgram_cut=N abort=N poll0_eintr=N fds=N
 *
 * and exits 1 (printing why) if a byte came back wrong or errno was not
 * kept: after every call that succeeds errno must still be the sentinel
 * set before it. Arguments: "nohandler" installs no signal handler (so
 * nothing may interrupt a call).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SENTINEL EOWNERDEAD
#define ROUND 1000
#define ROUNDS 40

static int short_reads, short_writes, eintrs, eagains, edge_eagains, dgram_cuts, aborts,
	   poll0_eintrs;

static void on_usr1(int sig)
{
	(void)sig;
}

static void bad(const char *what)
{
	printf("bad: %s (errno %d)\n", what, errno);
	exit(1);
}

/* errno must be the sentinel after a call that succeeded. */
static void kept(const char *call)
{
	if (errno != SENTINEL)
		bad(call);
}

static void send_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		errno = SENTINEL;
		w = send(fd, p, n, 0);
		if (w < 0 && errno == EINTR) {
			eintrs++;
			continue;
		}
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			while (poll(&pfd, 1, 1000) < 0 && errno == EINTR)
				eintrs++;
			continue;
		}
		if (w <= 0)
			bad("send");
		kept("send");
		short_writes += (size_t)w < n;
		p += w;
		n -= (size_t)w;
	}
}

static void recv_all(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r;

		errno = SENTINEL;
		r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR) {
			eintrs++;
			continue;
		}
		if (r <= 0)
			bad("recv");
		kept("recv");
		short_reads += (size_t)r < n;
		p += r;
		n -= (size_t)r;
	}
}

static void stream_rounds(void)
{
	unsigned char out[ROUND], in[ROUND];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		bad("socketpair");
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < ROUND; i++)
			out[i] = (unsigned char)(r * 7 + i);
		send_all(sv[0], out, ROUND);
		recv_all(sv[1], in, ROUND);
		if (memcmp(in, out, ROUND) != 0)
			bad("stream bytes");
	}
	close(sv[0]);
	close(sv[1]);
}

/* A datagram is never cut: one recv gets all of it. */
static void dgram_rounds(void)
{
	unsigned char out[ROUND], in[ROUND + 1];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		bad("socketpair dgram");
	memset(out, 'd', sizeof(out));
	for (int r = 0; r < ROUNDS; r++) {
		ssize_t n;

		do
			n = send(sv[0], out, ROUND, 0);
		while (n < 0 && errno == EINTR);
		if (n != ROUND)
			dgram_cuts++;
		do
			n = recv(sv[1], in, sizeof(in), 0);
		while (n < 0 && errno == EINTR);
		if (n != ROUND)
			dgram_cuts++;
	}
	close(sv[0]);
	close(sv[1]);
}

/* Read a non-blocking socket until EAGAIN, 40 times; a made-up EAGAIN
 * comes while bytes are still there. Returns the made-up ones. */
static int nonblocking_reads(int edge)
{
	unsigned char buf[100];
	int sv[2], ep = -1, made_up = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		bad("socketpair nonblock");
	if (edge) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

		ep = epoll_create1(0);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) < 0)
			bad("epoll_ctl");
	}
	for (int r = 0; r < ROUNDS; r++) {
		size_t left = sizeof(buf);

		memset(buf, 'n', sizeof(buf));
		send_all(sv[0], buf, sizeof(buf));
		for (;;) {
			ssize_t n = recv(sv[1], buf, sizeof(buf), 0);

			if (n > 0) {
				left -= (size_t)n;
				continue;
			}
			if (n < 0 && errno == EAGAIN && left > 0) {
				made_up++;
				continue;
			}
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0 && errno == EINTR)
				continue;
			bad("nonblocking recv");
		}
	}
	if (ep >= 0)
		close(ep);
	close(sv[0]);
	close(sv[1]);
	return made_up;
}

static void accepts(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0), c[2], got = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		bad("listener");
	for (int i = 0; i < 2; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (c[i] < 0 || connect(c[i], (struct sockaddr *)&sin, sizeof(sin)) < 0)
			bad("connect");
	}
	while (got < 2) {
		int fd = accept(l, NULL, NULL);

		if (fd < 0 && errno == ECONNABORTED) {
			aborts++;
			continue;
		}
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			bad("accept");
		close(fd);
		got++;
	}
	close(c[0]);
	close(c[1]);
	close(l);
}

/* poll() with a 0 timeout never blocks, so it is never interrupted. */
static void polls(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		bad("socketpair poll");
	if (write(sv[0], "x", 1) != 1)
		bad("write");
	for (int i = 0; i < ROUNDS; i++) {
		struct pollfd p = { .fd = sv[1], .events = POLLIN };

		if (poll(&p, 1, 0) < 0 && errno == EINTR)
			poll0_eintrs++;
		while (poll(&p, 1, 1000) < 0 && errno == EINTR)
			eintrs++;
	}
	close(sv[0]);
	close(sv[1]);
}

/* How many fds are open (the directory listing's own one left out). */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "nohandler") != 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);   /* no SA_RESTART */
	}
	stream_rounds();
	dgram_rounds();
	eagains = nonblocking_reads(0);
	edge_eagains = nonblocking_reads(1);
	accepts();
	polls();
	printf("ok short_reads=%d short_writes=%d eintr=%d eagain=%d edge_eagain=%d "
	       "dgram_cut=%d abort=%d poll0_eintr=%d fds=%d\n", short_reads, short_writes, eintrs,
	       eagains, edge_eagains, dgram_cuts, aborts, poll0_eintrs, open_fds());
	return 0;
}
