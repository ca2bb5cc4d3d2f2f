/* sizes.c — lesson 14: what a datagram is, measured.
 *
 * What it shows, with two UDP sockets of its own on loopback:
 *  1. Boundaries are kept. Three sendto()s of 100, 200 and 300 bytes are
 *     three recv()s of 100, 200 and 300 bytes, however big the buffer. An
 *     empty datagram is a real one: recv() returns 0, which on UDP is not
 *     end of file. Over TCP, for contrast, the same three send()s come out
 *     of one recv() as 600 bytes (lesson 04's whole subject).
 *  2. A datagram has a size limit. Over IPv4 the payload can be at most
 *     65,507 bytes (65,535 for the IP packet, minus 20 for the IP header
 *     and 8 for UDP's). sendto() of one byte more fails with EMSGSIZE: the
 *     kernel will not split a datagram across two.
 *  3. A datagram that does not fit the buffer is cut, and the rest is
 *     thrown away. recv() with MSG_TRUNC returns the datagram's real
 *     length anyway; recvmsg() sets MSG_TRUNC in msg_flags to say it was
 *     cut; MSG_PEEK | MSG_TRUNC with no buffer asks for the size first.
 *
 * Why: with UDP, one send is one message. That is what framing (lesson 04)
 * had to rebuild on top of TCP; here the kernel does it, within a size
 * limit, and with no second chance for bytes that did not fit.
 *
 * Notice when it runs: every number it prints comes from the kernel.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socklab.h"
#include "lesson/lesson.h"

/* The largest UDP payloads: IPv4's total length field counts its 20-byte
 * header, IPv6's payload length field does not count its 40. */
#define MAX_UDP4 65507
#define MAX_UDP6 65527
#define TOO_BIG 70000
/* How long to wait for a datagram sent to ourselves on loopback. */
#define WAIT_MS 2000

struct options {
	const char *host, *port; /* -b, -p: the receiving socket's address */
	long extra_size;         /* -s: one more datagram of this size; -1: none */
};

struct pair {
	int rx;                        /* the receiving socket, bound */
	int tx;                        /* the sending socket */
	struct sockaddr_storage rxaddr; /* where tx sends to */
	socklen_t rxlen;
	int max_payload;               /* 65,507 or 65,527 */
	char *buf;                     /* room for TOO_BIG bytes */
	int surprises;                 /* results other than the expected */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int open_pair(struct pair *p, const char *host, const char *port);
static void show_udp_boundaries(struct pair *p);
static void send_expect_ok(struct pair *p, char c, size_t len);
static ssize_t send_bytes(struct pair *p, char c, size_t len);
static void recv_expect(struct pair *p, char c, size_t want);
static ssize_t recv_one(struct pair *p, void *buf, size_t len, int flags);
static int wait_datagram(struct pair *p);
static void show_tcp_contrast(struct pair *p, const char *host);
static ssize_t tcp_three_sends(struct pair *p, int cfd, int sfd);
static int queued_bytes(int fd);
static void show_size_limit(struct pair *p, long extra_size);
static void try_size(struct pair *p, size_t len);
static void show_truncation(struct pair *p);
static void show_trunc_flag(struct pair *p);
static void show_msg_flags(struct pair *p);
static void show_rest_is_gone(struct pair *p);
static void show_peek_size(struct pair *p);

int main(int argc, char **argv)
{
	struct options opt;
	struct pair p = { .rx = -1, .tx = -1 };
	int status = EXIT_RUNTIME;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	p.buf = malloc(TOO_BIG);
	if (p.buf == NULL)
		die("malloc:");
	if (open_pair(&p, opt.host, opt.port) == 0) {
		show_udp_boundaries(&p);
		show_tcp_contrast(&p, opt.host);
		show_size_limit(&p, opt.extra_size);
		show_truncation(&p);
		if (p.surprises == 0)
			status = EXIT_OK;
		else
			printf("\n%d result(s) differ from what this lesson describes\n", p.surprises);
	}
	if (p.rx >= 0)
		close(p.rx);
	if (p.tx >= 0)
		close(p.tx);
	free(p.buf);
	return status;
}

/* Bind the receiving socket and open a sending one of the same family.
 * Returns 0, or -1 (said why). */
static int open_pair(struct pair *p, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	char where[SL_ADDRSTRLEN];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		warn("resolve %s: %s", host,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	p->max_payload = res->ai_family == AF_INET6 ? MAX_UDP6 : MAX_UDP4;
	p->rx = socket(res->ai_family, SOCK_DGRAM, 0);
	if (p->rx < 0) {
		warn("socket:");
		freeaddrinfo(res);
		return -1;
	}
	if (bind(p->rx, res->ai_addr, res->ai_addrlen) < 0) {
		warn("bind %s:", host);
		freeaddrinfo(res);
		return -1;
	}
	p->tx = socket(res->ai_family, SOCK_DGRAM, 0);
	freeaddrinfo(res);
	if (p->tx < 0) {
		warn("socket:");
		return -1;
	}
	/* Send to the address bind() gave us, with the port it picked. */
	p->rxlen = sizeof(p->rxaddr);
	if (getsockname(p->rx, (struct sockaddr *)&p->rxaddr, &p->rxlen) < 0) {
		warn("getsockname:");
		return -1;
	}
	if (sl_addr_format((struct sockaddr *)&p->rxaddr, p->rxlen, where, sizeof(where)) != NULL)
		printf("receiving socket bound to %s; the other socket sends to it\n", where);
	return 0;
}

/* ---- 1. boundaries --------------------------------------------------------- */

static void show_udp_boundaries(struct pair *p)
{
	printf("\n1. message boundaries\n");
	send_expect_ok(p, 'A', 100);
	send_expect_ok(p, 'B', 200);
	send_expect_ok(p, 'C', 300);
	/* The buffer has room for all 600 bytes, yet each recv() stops at
	 * the end of one datagram. */
	recv_expect(p, 'A', 100);
	recv_expect(p, 'B', 200);
	recv_expect(p, 'C', 300);
	printf("3 sends, 3 receives: each recv() returned exactly one datagram\n");
	send_expect_ok(p, 'E', 0);
	recv_expect(p, 'E', 0);
}

/* Send and say so; an unexpected failure counts as a surprise. */
static void send_expect_ok(struct pair *p, char c, size_t len)
{
	if (send_bytes(p, c, len) < 0) {
		warn("sendto %zu bytes:", len);
		p->surprises++;
		return;
	}
	if (len > 0)
		printf("sendto() %zu bytes of '%c'\n", len, c);
	else
		printf("sendto() 0 bytes\n");
}

/* Send len bytes of c as one datagram. Returns sendto()'s result. */
static ssize_t send_bytes(struct pair *p, char c, size_t len)
{
	memset(p->buf, c, len);
	return sendto(p->tx, p->buf, len, 0, (struct sockaddr *)&p->rxaddr, p->rxlen);
}

/* Receive one datagram into a buffer big enough for any, and check its
 * size and contents. */
static void recv_expect(struct pair *p, char c, size_t want)
{
	ssize_t n = recv_one(p, p->buf, TOO_BIG, 0);

	if (n < 0)
		return;
	if (n == 0)
		printf("recv() = 0 bytes: an empty datagram (on UDP, 0 is not end of file)\n");
	else
		printf("recv() = %zd bytes of '%c'\n", n, p->buf[0]);
	if ((size_t)n != want || (n > 0 && (p->buf[0] != c || p->buf[n - 1] != c))) {
		printf("unexpected: wanted %zu bytes of '%c'\n", want, c);
		p->surprises++;
	}
}

/* recv() with a wait first; -1 (said why) on failure. */
static ssize_t recv_one(struct pair *p, void *buf, size_t len, int flags)
{
	ssize_t n;

	if (wait_datagram(p) < 0)
		return -1;
	n = recv(p->rx, buf, len, flags);
	if (n < 0) {
		warn("recv:");
		p->surprises++;
	}
	return n;
}

/* Wait (bounded) until the receiving socket has a datagram. A datagram to
 * ourselves on loopback should be there at once; this only keeps a
 * surprise from hanging the program. */
static int wait_datagram(struct pair *p)
{
	struct pollfd pfd = { .fd = p->rx, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, WAIT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		warn("poll:");
		return -1;
	}
	if (n == 0) {
		warn("no datagram within %d ms", WAIT_MS);
		p->surprises++;
		return -1;
	}
	return 0;
}

/* The same three sends over a TCP connection on loopback (the library
 * opens it: TCP is not this lesson's subject). Once all 600 bytes are
 * queued, one recv() takes them all: the stream kept no boundaries. */
static void show_tcp_contrast(struct pair *p, const char *host)
{
	struct sockaddr_storage bound;
	socklen_t boundlen = sizeof(bound);
	char err[SL_ERR_LEN], port[8];
	int lfd, cfd = -1, sfd = -1;
	ssize_t n;

	lfd = sl_tcp_listen(host, "0", 1, &bound, &boundlen, err);
	if (lfd < 0) {
		warn("%s", err);
		p->surprises++;
		return;
	}
	snprintf(port, sizeof(port), "%d", sl_addr_port((struct sockaddr *)&bound));
	cfd = sl_tcp_connect(host, port, WAIT_MS, err);
	if (cfd < 0)
		warn("%s", err);
	else if ((sfd = accept(lfd, NULL, NULL)) < 0)
		warn("accept:");
	n = sfd < 0 ? -1 : tcp_three_sends(p, cfd, sfd);
	if (n >= 0)
		printf("TCP for contrast: send() 100, 200, 300 bytes; one recv() = %zd bytes\n", n);
	if (n != 600)
		p->surprises++;
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
}

/* Three sends on cfd, then one recv on sfd once all 600 bytes are
 * queued. Returns what recv() returned, or -1 (said why). */
static ssize_t tcp_three_sends(struct pair *p, int cfd, int sfd)
{
	ssize_t n;

	memset(p->buf, 'T', 300);
	if (sl_io_write_all(cfd, p->buf, 100) < 0 ||
	    sl_io_write_all(cfd, p->buf, 200) < 0 ||
	    sl_io_write_all(cfd, p->buf, 300) < 0) {
		warn("send:");
		return -1;
	}
	/* Wait (at most 2 s) until all 600 bytes have arrived. */
	for (int tries = 0; queued_bytes(sfd) < 600 && tries < 200; tries++)
		usleep(10000);
	n = recv(sfd, p->buf, TOO_BIG, 0);
	if (n < 0)
		warn("recv:");
	return n;
}

/* Bytes waiting in a stream socket's receive queue, or -1. */
static int queued_bytes(int fd)
{
	int n;

	return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

/* ---- 2. the size limit ----------------------------------------------------- */

static void show_size_limit(struct pair *p, long extra_size)
{
	printf("\n2. the size limit: %d bytes of payload over %s\n", p->max_payload,
	       p->max_payload == MAX_UDP4 ? "IPv4" : "IPv6");
	try_size(p, (size_t)p->max_payload);
	try_size(p, (size_t)p->max_payload + 1);
	try_size(p, TOO_BIG);
	if (extra_size >= 0)
		try_size(p, (size_t)extra_size);
}

/* Try one datagram of len bytes; say what the kernel did. */
static void try_size(struct pair *p, size_t len)
{
	if (send_bytes(p, 'S', len) < 0) {
		int e = errno;

		printf("sendto() %zu bytes: %s (%s)\n", len,
		       e == EMSGSIZE ? "EMSGSIZE" : "failed", strerror(e));
		if ((e == EMSGSIZE) != (len > (size_t)p->max_payload))
			p->surprises++;
		return;
	}
	printf("sendto() %zu bytes: ok; ", len);
	fflush(stdout);
	recv_expect(p, 'S', len);
	if (len > (size_t)p->max_payload)
		p->surprises++;
}

/* ---- 3. truncation --------------------------------------------------------- */

static void show_truncation(struct pair *p)
{
	printf("\n3. truncation\n");
	show_trunc_flag(p);
	show_msg_flags(p);
	show_rest_is_gone(p);
	show_peek_size(p);
}

static void show_trunc_flag(struct pair *p)
{
	char small[100];
	ssize_t n;

	send_expect_ok(p, 'M', 1000);
	/* With MSG_TRUNC, recv() returns the datagram's real length even
	 * though it copied only sizeof(small) bytes. */
	n = recv_one(p, small, sizeof(small), MSG_TRUNC);
	if (n < 0)
		return;
	printf("recv(buffer of %zu, MSG_TRUNC) = %zd: the real length; %zu bytes copied, the rest is gone\n",
	       sizeof(small), n, sizeof(small));
	if (n != 1000)
		p->surprises++;
}

static void show_msg_flags(struct pair *p)
{
	char small[100];
	struct iovec iov = { .iov_base = small, .iov_len = sizeof(small) };
	struct msghdr msg;
	ssize_t n;

	send_expect_ok(p, 'F', 1000);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (wait_datagram(p) < 0)
		return;
	/* Without MSG_TRUNC in the call, recvmsg() returns what it copied,
	 * and says in msg_flags that the datagram was longer. */
	n = recvmsg(p->rx, &msg, 0);
	if (n < 0) {
		warn("recvmsg:");
		p->surprises++;
		return;
	}
	printf("recvmsg(buffer of %zu) = %zd, msg_flags %s MSG_TRUNC\n", sizeof(small), n,
	       (msg.msg_flags & MSG_TRUNC) ? "has" : "lacks");
	if (n != (ssize_t)sizeof(small) || !(msg.msg_flags & MSG_TRUNC))
		p->surprises++;
}

static void show_rest_is_gone(struct pair *p)
{
	send_expect_ok(p, 'N', 4);
	/* The next recv() gets the next datagram, not the cut one's rest. */
	recv_expect(p, 'N', 4);
	printf("the cut datagram's other 900 bytes were not kept for a later recv()\n");
}

static void show_peek_size(struct pair *p)
{
	ssize_t n;

	send_expect_ok(p, 'P', 1000);
	/* Ask for the size without taking the datagram off the queue. */
	n = recv_one(p, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (n < 0)
		return;
	printf("recv(NULL, 0, MSG_PEEK | MSG_TRUNC) = %zd: the size, before reading\n", n);
	if (n != 1000)
		p->surprises++;
	recv_expect(p, 'P', (size_t)n);
}

/* ---- Plumbing: the command line ---------------------------------------- */

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "address for the receiving socket (default " DEFAULT_HOST ";\n"
			 "::1 shows the IPv6 limit)"),
		OPT_PORT(&opt->port, "its port (default 0: any free port)"),
		{ 's', "size", OPT_NUMBER, &opt->extra_size, "BYTES",
		  "also try one datagram of BYTES bytes", .what = "size", .min = 0, .max = TOO_BIG },
		{ 0 }
	};

	*opt = (struct options){ .host = DEFAULT_HOST, .port = "0", .extra_size = -1 };
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "Shows what a UDP datagram is (lesson 14): boundaries kept, the size\n"
			 "limit (EMSGSIZE) and truncation (MSG_TRUNC), with two sockets of its\n"
			 "own. Exits 0 when the kernel behaved as described, 1 otherwise.",
		.opts = options,
	});
}
