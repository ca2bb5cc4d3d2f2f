/* link_peer.c — the two ends of a connection across socklab's link, for
 * tests/tui/test_link.py. It measures what the link claims to do:
 *
 *   link_peer server -b ADDR -o FILE [-e]
 *       listen on ADDR, port 0 ("listening on ADDR:PORT"), take one
 *       client and read until EOF (-e: send every byte back); then write
 *       "bytes=N secs=S" to FILE: the bytes read, and the time from the
 *       first to the last to arrive (the kernel's receive times)
 *   link_peer client -b ADDR -p PORT -o FILE (-n BYTES | -r ROUNDS)
 *       -n: send BYTES, shut down the sending side, wait for EOF;
 *       -r: ROUNDS round trips of 100 bytes (the server echoes); then
 *       write "rtt_us=R rttvar_us=V retrans=T" from TCP_INFO to FILE
 *
 * Exit 0 when all went as asked, 1 when a call failed, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "link_peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The kernel's receive stamps are CLOCK_REALTIME: a read without one
 * counts on the same clock. */
static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("send");
		buf += n;
		len -= (size_t)n;
	}
}

static void write_result(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

static struct addrinfo *resolve(const char *addr, const char *port, int passive)
{
	struct addrinfo hints, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(addr, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "link_peer: %s: %s\n", addr, gai_strerror(rc));
		exit(2);
	}
	return ai;
}

static int server(const char *addr, const char *out, int echo)
{
	struct addrinfo *ai = resolve(addr, "0", 1);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64], port[16], buf[65536], result[128];
	unsigned long long bytes = 0;
	double first = 0, last = 0;
	int fd, c, one = 1, big = 1 << 20;

	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Room for all the data even if this process is slow to read (a busy
	 * machine): the link, not the receiver's window, sets the pace. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	/* The kernel's time of arrival of the data, not when this process
	 * got round to reading it (a busy machine makes that late); set on
	 * the listener, so that the first segment, there before accept()
	 * returns, has its time too. */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("bind");
	freeaddrinfo(ai);
	if (listen(fd, 1) < 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		die("getsockname");
	printf(strchr(host, ':') ? "listening on [%s]:%s\n" : "listening on %s:%s\n", host, port);
	fflush(stdout);
	c = accept(fd, NULL, NULL);
	if (c < 0)
		die("accept");
	setsockopt(c, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(struct timespec))];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(c, &msg, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recv");
		if (n == 0)
			break;
		last = real_s();
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				last = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
			}
		if (bytes == 0)
			first = last;
		bytes += (unsigned long long)n;
		if (echo)
			put_all(c, buf, (size_t)n);
	}
	snprintf(result, sizeof(result), "bytes=%llu secs=%.6f\n", bytes, last - first);
	write_result(out, result);
	close(c);
	close(fd);
	return 0;
}

static int client(const char *addr, const char *port, const char *out, long long bytes,
                  int rounds)
{
	struct addrinfo *ai = resolve(addr, port, 0);
	static char buf[65536];
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char result[160];
	int fd = socket(ai->ai_family, SOCK_STREAM, 0), big = 1 << 20;

	if (fd < 0)
		die("socket");
	/* And the sender's data all in the kernel's hands at once. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect");
	freeaddrinfo(ai);
	memset(buf, 'x', sizeof(buf));
	for (int r = 0; r < rounds; r++) {
		size_t got = 0;

		put_all(fd, buf, 100);
		while (got < 100) {
			ssize_t n = recv(fd, buf, 100 - got, 0);

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				if (n == 0)
					errno = ECONNRESET;
				die("recv");
			}
			got += (size_t)n;
		}
	}
	while (bytes > 0) {
		size_t n = bytes > (long long)sizeof(buf) ? sizeof(buf) : (size_t)bytes;

		put_all(fd, buf, n);
		bytes -= (long long)n;
	}
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		die("TCP_INFO");
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	snprintf(result, sizeof(result), "rtt_us=%u rttvar_us=%u retrans=%u\n", ti.tcpi_rtt,
		 ti.tcpi_rttvar, ti.tcpi_total_retrans);
	write_result(out, result);
	close(fd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: link_peer server -b ADDR -o FILE [-e]\n"
		"       link_peer client -b ADDR -p PORT -o FILE (-n BYTES | -r ROUNDS)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *port = NULL, *out = NULL;
	long long bytes = 0;
	int rounds = 0, echo = 0, opt;

	if (argc < 2 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0))
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "b:p:o:n:r:eh")) != -1) {
		switch (opt) {
		case 'b': addr = optarg; break;
		case 'p': port = optarg; break;
		case 'o': out = optarg; break;
		case 'n': bytes = atoll(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'e': echo = 1; break;
		default: usage();
		}
	}
	if (addr == NULL || out == NULL || optind != argc)
		usage();
	if (argv[1][0] == 's')
		return server(addr, out, echo);
	if (port == NULL || bytes < 0 || rounds < 0 || (bytes == 0) == (rounds == 0))
		usage();
	return client(addr, port, out, bytes, rounds);
}
