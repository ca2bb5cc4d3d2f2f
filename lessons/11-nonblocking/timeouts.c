/* timeouts.c — lesson 11: two ways to stop waiting for a peer that says
 * nothing: SO_RCVTIMEO on the socket, or a timeout on poll().
 *
 * What it shows: it connects to a peer that never sends (its own silent
 * listener on 127.0.0.1, or -p PORT) and waits for data both ways:
 *   rcvtimeo  setsockopt(SO_RCVTIMEO), then a plain blocking recv(). When
 *             the time runs out recv() fails with EAGAIN (EWOULDBLOCK) —
 *             the same errno as a non-blocking socket with nothing to read.
 *             The option stays on the socket: every later recv() has the
 *             same limit, until it is set back to zero.
 *   poll      poll() for POLLIN with a timeout. The socket is not changed;
 *             poll() returns 0 (nothing ready) and the next recv() is
 *             as blocking as ever. One poll() can wait on many sockets,
 *             and the timeout can differ from call to call.
 * It prints how long each wait really took.
 *
 * Why: both are common, and they are not equal everywhere. On Linux both
 * work. On small embedded TCP/IP stacks SO_RCVTIMEO may be missing or
 * differ: lwIP supports it only when built with LWIP_SO_RCVTIMEO, and
 * with LWIP_SO_SNDRCVTIMEO_NONSTANDARD its value is an int of
 * milliseconds instead of a struct timeval; Windows also takes a DWORD of
 * milliseconds. select()/poll() timeouts mean the same on all of them,
 * which is why portable and embedded code prefers them (see the README).
 *
 * Notice when it runs: the rcvtimeo wait ends with "Resource temporarily
 * unavailable", the poll wait with "0 ready"; both after about -t ms.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lesson/lesson.h"

/* In the order -m names them. */
enum mode { MODE_RCVTIMEO, MODE_POLL, MODE_BOTH };

struct options {
	const char *port;     /* NULL: our own silent listener */
	int mode;             /* enum mode */
	long timeout_ms;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int silent_listener(struct sockaddr_in *sin);
static int connect_to(const struct sockaddr_in *sin);
static void wait_with_rcvtimeo(int fd, long ms);
static void wait_with_poll(int fd, long ms);
static double now_ms(void);

int main(int argc, char **argv)
{
	struct options opt;
	struct sockaddr_in sin;
	int listener = -1, fd;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opt.port == NULL) {
		listener = silent_listener(&sin);
		printf("a silent peer listens on 127.0.0.1:%u\n", ntohs(sin.sin_port));
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)atoi(opt.port));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	fd = connect_to(&sin);
	if (opt.mode != MODE_POLL)
		wait_with_rcvtimeo(fd, opt.timeout_ms);
	if (opt.mode != MODE_RCVTIMEO)
		wait_with_poll(fd, opt.timeout_ms);
	close(fd);
	if (listener >= 0)
		close(listener);
	return EXIT_OK;
}

/* A peer that never says anything: a listener nobody accepts on. The
 * kernel completes the handshake by itself (the backlog), so connect()
 * succeeds, and no byte ever comes. */
static int silent_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket:");
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) < 0)
		die("bind 127.0.0.1:0:");
	if (listen(fd, 4) < 0)
		die("listen:");
	if (getsockname(fd, (struct sockaddr *)sin, &len) < 0)
		die("getsockname:");
	return fd;
}

static int connect_to(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket:");
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0)
		die("connect 127.0.0.1:%u:", ntohs(sin->sin_port));
	return fd;
}

/* SO_RCVTIMEO: a property of the socket, applied to every blocking recv(). */
static void wait_with_rcvtimeo(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	struct timeval got;
	socklen_t len = sizeof(got);
	char byte;
	double start;
	ssize_t n;

	/* EXERCISE 4: give the socket a receive timeout, then wait in recv() */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("setsockopt SO_RCVTIMEO:");
	if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &got, &len) < 0)
		die("getsockopt SO_RCVTIMEO:");
	printf("rcvtimeo: SO_RCVTIMEO set to %ld.%06ld s; calling recv()\n",
	       (long)got.tv_sec, (long)got.tv_usec);
	start = now_ms();
	n = recv(fd, &byte, 1, 0);
	/* END EXERCISE 4 */
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		printf("rcvtimeo: recv() failed after %.0f ms: %s (errno EAGAIN)\n",
		       now_ms() - start, strerror(errno));
	else if (n < 0)
		die("recv:");
	else
		printf("rcvtimeo: recv() returned %zd after %.0f ms\n", n, now_ms() - start);
	/* Set it back: the limit would otherwise apply to the next recv(). */
	tv = (struct timeval){ 0, 0 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("setsockopt SO_RCVTIMEO:");
}

/* poll(): a property of this one wait; the socket is left as it was. */
static void wait_with_poll(int fd, long ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double start;
	int n;

	printf("poll: calling poll() with a %ld ms timeout\n", ms);
	start = now_ms();
	/* EXERCISE 4: wait at most ms milliseconds for the socket to be readable */
	do
		n = poll(&pfd, 1, (int)ms);
	while (n < 0 && errno == EINTR);
	/* END EXERCISE 4 */
	if (n < 0)
		die("poll:");
	if (n == 0)
		printf("poll: 0 ready after %.0f ms: timed out, the socket unchanged\n",
		       now_ms() - start);
	else
		printf("poll: %d ready after %.0f ms (revents 0x%x)\n", n,
		       now_ms() - start, (unsigned)pfd.revents);
}

/* ---- Plumbing: the clock, the command line --------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The options, as a table: lib/lesson parses and checks them. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	static const char *const modes[] = { "rcvtimeo", "poll", "both", NULL };
	const struct lesson_opt options[] = {
		{ 'p', "port", OPT_PORT, &opt->port, "PORT",
		  "connect to 127.0.0.1:PORT (default: a listener of\n"
		  "our own that accepts nothing and sends nothing)",
		  .what = "port", .min = 1 },
		{ 'm', "mode", OPT_CHOICE, &opt->mode, "MODE",
		  "rcvtimeo, poll or both (default both)", .what = "mode", .choices = modes },
		{ 't', "timeout", OPT_NUMBER, &opt->timeout_ms, "MS",
		  "how long to wait (1 to 60000, default 500)",
		  .what = "timeout", .min = 1, .max = 60000 },
		{ 0 }
	};

	opt->port = NULL;
	opt->mode = MODE_BOTH;
	opt->timeout_ms = 500;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "Waits for data from a peer that sends nothing, with SO_RCVTIMEO and\n"
			 "with a poll() timeout, and prints how long each wait took (lesson 11).",
		.opts = options,
	});
}
