/* net.c — open listeners and connections: TCP, UDP and Unix-domain.
 *
 * Every failure path closes what it opened, keeps the failing call's errno
 * and fills err with "call address: reason".
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

/* Set errno to e and, when the caller gave a buffer, describe the failure
 * there: "connect 127.0.0.1:7000: Connection refused". */
static void set_error(char *err, const char *call, const char *what, int e)
{
	char msg[128];

	/* With _GNU_SOURCE strerror_r returns the text; msg is only its
	 * scratch space, so no static buffer is involved. */
	if (err != NULL)
		snprintf(err, SL_ERR_LEN, "%s %s: %s", call, what,
			 strerror_r(e, msg, sizeof(msg)));
	errno = e;
}

/* close() may itself fail and change errno; the caller still needs the
 * errno of the call that failed before it. */
static void close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

static void describe(const struct addrinfo *ai, char *buf, size_t size)
{
	if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, buf, size) == NULL)
		snprintf(buf, size, "(address family %d)", ai->ai_family);
}

static int is_ipv6_wildcard(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* ---- servers: bind the first address ------------------------------------ */

/* socket(), options and bind() for one address; a stream socket also gets
 * SO_REUSEADDR (so a restarted server can bind while old connections sit
 * in TIME_WAIT) and listen(). */
static int open_bound(const struct addrinfo *ai, int backlog,
                      char err[SL_ERR_LEN])
{
	char text[SL_ADDRSTRLEN];
	const char *call;
	int fd, on = 1, off = 0;

	describe(ai, text, sizeof(text));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		set_error(err, "socket", text, errno);
		return -1;
	}
	if (ai->ai_socktype == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) {
		call = "setsockopt SO_REUSEADDR";
		goto out_close;
	}
	/* One socket on "::" serves IPv4 clients too, whatever the
	 * net.ipv6.bindv6only sysctl says. */
	if (is_ipv6_wildcard(ai->ai_addr) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) {
		call = "setsockopt IPV6_V6ONLY";
		goto out_close;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		call = "bind";
		goto out_close;
	}
	if (ai->ai_socktype == SOCK_STREAM && listen(fd, backlog) < 0) {
		call = "listen";
		goto out_close;
	}
	return fd;

out_close:
	close_keep_errno(fd);
	set_error(err, call, text, errno);
	return -1;
}

/* Port 0 asks the kernel to choose; getsockname() tells which it chose. */
static int store_bound(int fd, struct sockaddr_storage *bound,
                       socklen_t *boundlen, char err[SL_ERR_LEN])
{
	socklen_t len = sizeof(*bound);

	if (getsockname(fd, (struct sockaddr *)bound, &len) < 0) {
		set_error(err, "getsockname", "of the new socket", errno);
		return -1;
	}
	if (boundlen != NULL)
		*boundlen = len;
	return 0;
}

static int serve_on(const char *host, const char *port, int socktype,
                    int backlog, struct sockaddr_storage *bound,
                    socklen_t *boundlen, char err[SL_ERR_LEN])
{
	struct addrinfo *list;
	int fd;

	list = sl_addr_resolve(host, port, socktype, 1, err);
	if (list == NULL)
		return -1;
	/* The dual-stack policy: a server binds the first result only. */
	fd = open_bound(list, backlog, err);
	freeaddrinfo(list);
	if (fd < 0)
		return -1;
	if (bound != NULL && store_bound(fd, bound, boundlen, err) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int sl_tcp_listen(const char *host, const char *port, int backlog,
                  struct sockaddr_storage *bound, socklen_t *boundlen,
                  char err[SL_ERR_LEN])
{
	return serve_on(host, port, SOCK_STREAM, backlog, bound, boundlen, err);
}

int sl_udp_bind(const char *host, const char *port,
                struct sockaddr_storage *bound, socklen_t *boundlen,
                char err[SL_ERR_LEN])
{
	return serve_on(host, port, SOCK_DGRAM, 0, bound, boundlen, err);
}

/* ---- clients: try every address in order --------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for a connect() already under way to finish: poll() reports the
 * socket writable once the handshake is over, and SO_ERROR holds its
 * result. timeout_ms < 0 waits as long as the kernel keeps trying. On
 * failure *call names the call to blame. */
static int wait_connected(int fd, int timeout_ms, const char **call)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	long long deadline = now_ms() + timeout_ms;
	int wait = timeout_ms, n, soerr;
	socklen_t len = sizeof(soerr);

	while ((n = poll(&pfd, 1, wait)) <= 0) {
		if (n == 0) {
			*call = "connect";
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR) {
			*call = "poll";
			return -1;
		}
		/* A signal arrived: wait only for what is left of the time. */
		if (timeout_ms >= 0) {
			long long left = deadline - now_ms();

			wait = left > 0 ? (int)left : 0;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
		*call = "getsockopt SO_ERROR";
		return -1;
	}
	if (soerr != 0) {
		*call = "connect";
		errno = soerr;
		return -1;
	}
	return 0;
}

static int set_blocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/* One attempt: a blocking socket (timeout_ms < 0), or a non-blocking one
 * whose connect() is bounded by poll() and which is made blocking again
 * once connected. */
static int connect_one(const struct addrinfo *ai, int timeout_ms,
                       char err[SL_ERR_LEN])
{
	char text[SL_ADDRSTRLEN];
	const char *call = "connect";
	int nonblock = timeout_ms >= 0 ? SOCK_NONBLOCK : 0;
	int fd;

	describe(ai, text, sizeof(text));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | nonblock,
		    ai->ai_protocol);
	if (fd < 0) {
		set_error(err, "socket", text, errno);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		/* EINPROGRESS: the non-blocking handshake has begun. EINTR: a
		 * signal cut a blocking connect() short, yet the kernel goes
		 * on with the handshake (a second connect() would only say
		 * EALREADY). Either way, wait for the outcome. */
		if (errno != EINPROGRESS && errno != EINTR)
			goto out_close;
		if (wait_connected(fd, timeout_ms, &call) < 0)
			goto out_close;
	}
	if (nonblock && set_blocking(fd) < 0) {
		call = "fcntl O_NONBLOCK";
		goto out_close;
	}
	return fd;

out_close:
	close_keep_errno(fd);
	set_error(err, call, text, errno);
	return -1;
}

static int connect_any(const char *host, const char *port, int socktype,
                       int timeout_ms, char err[SL_ERR_LEN])
{
	struct addrinfo *list, *ai;
	int fd = -1;

	list = sl_addr_resolve(host, port, socktype, 0, err);
	if (list == NULL)
		return -1;
	/* The dual-stack policy: try each result in the resolver's order.
	 * When all fail, errno and err describe the last attempt. */
	for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms, err);
	if (fd < 0) {
		int saved = errno;

		freeaddrinfo(list);
		errno = saved;
		return -1;
	}
	freeaddrinfo(list);
	return fd;
}

int sl_tcp_connect(const char *host, const char *port, int timeout_ms,
                   char err[SL_ERR_LEN])
{
	return connect_any(host, port, SOCK_STREAM, timeout_ms, err);
}

int sl_udp_connect(const char *host, const char *port, char err[SL_ERR_LEN])
{
	/* connect() on UDP sends nothing: it only fixes the peer address. */
	return connect_any(host, port, SOCK_DGRAM, -1, err);
}

/* ---- Unix-domain sockets -------------------------------------------------- */

/* True for a socket file that nobody serves any more: a connect() to it is
 * refused. connect() also refuses a path that is not a socket, hence the
 * lstat() first: such a file is never called stale. A live peer of any
 * type, or one with a full backlog (EAGAIN, as the probe does not block),
 * is not stale either. A probe that reaches a live stream listener leaves
 * it one connection that closes at once. */
static int is_stale_socket(const char *path, const struct sockaddr_un *sun,
                           socklen_t len, int type)
{
	struct stat st;
	int probe, stale;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	probe = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return 0;
	stale = connect(probe, (const struct sockaddr *)sun, len) < 0 &&
		errno == ECONNREFUSED;
	close(probe);
	return stale;
}

/* bind(); when a stale socket file holds the path (a server exited without
 * removing it), remove that file and bind once more. Abstract names vanish
 * with their socket, so they are never stale. */
static int bind_unix(int fd, const char *path, const struct sockaddr_un *sun,
                     socklen_t len, int type, const char **call)
{
	*call = "bind";
	if (bind(fd, (const struct sockaddr *)sun, len) == 0)
		return 0;
	if (errno != EADDRINUSE || path[0] == '@')
		return -1;
	if (!is_stale_socket(path, sun, len, type)) {
		errno = EADDRINUSE;
		return -1;
	}
	/* ENOENT: someone else removed it meanwhile, which is just as good. */
	if (unlink(path) < 0 && errno != ENOENT) {
		*call = "unlink";
		return -1;
	}
	return bind(fd, (const struct sockaddr *)sun, len);
}

int sl_unix_listen(const char *path, int type, int backlog,
                   char err[SL_ERR_LEN])
{
	struct sockaddr_un sun;
	socklen_t len;
	const char *call;
	int fd;

	if (sl_unix_addr(path, &sun, &len) < 0) {
		set_error(err, "bind", path != NULL ? path : "(null)", errno);
		return -1;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_error(err, "socket", path, errno);
		return -1;
	}
	if (bind_unix(fd, path, &sun, len, type, &call) < 0)
		goto out_close;
	/* A datagram socket has no connections to listen for. */
	if (type != SOCK_DGRAM && listen(fd, backlog) < 0) {
		call = "listen";
		goto out_close;
	}
	return fd;

out_close:
	close_keep_errno(fd);
	set_error(err, call, path, errno);
	return -1;
}

int sl_unix_connect(const char *path, int type, char err[SL_ERR_LEN])
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, rc;

	if (sl_unix_addr(path, &sun, &len) < 0) {
		set_error(err, "connect", path != NULL ? path : "(null)", errno);
		return -1;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_error(err, "socket", path, errno);
		return -1;
	}
	/* Unlike TCP, an interrupted Unix connect() leaves nothing under way,
	 * so it is simply made again. */
	do
		rc = connect(fd, (const struct sockaddr *)&sun, len);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		close_keep_errno(fd);
		set_error(err, "connect", path, errno);
		return -1;
	}
	return fd;
}
