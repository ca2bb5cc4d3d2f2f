/* server.c — lesson 02: the iterative TCP echo server.
 *
 * What it shows: the calls every TCP server makes, in order —
 * getaddrinfo, socket, bind, listen, accept — and the echo loop: recv()
 * until it returns 0 (the client has closed its side), sending back every
 * byte it got.
 *
 * Why: this is the simplest server that is correct, and its limit is the
 * point of the lesson. It serves one client at a time. Connect a second
 * client while the first is still connected: its connect() succeeds at
 * once (the kernel completes the handshake and queues the connection in
 * the listen backlog), yet nothing it sends comes back until the first
 * client leaves. Every later server lesson — fork, threads, poll, epoll —
 * is a way out of that wait.
 *
 * Notice when it runs: one "connected" line per client, always followed
 * by that client's "disconnected" before the next one appears.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"

/* How many connections the kernel may hold, handshake done, waiting for
 * accept() while we are busy with another client. */
#define BACKLOG 16

/* Set by the SIGINT/SIGTERM handler, read by the main loop. A handler may
 * only touch a volatile sig_atomic_t (or call async-signal-safe
 * functions), because it can run between any two instructions. */
static volatile sig_atomic_t stop_requested;

/* The sockets the handler wakes up. shutdown() is async-signal-safe, and
 * it makes a blocked accept() or recv() on that socket return at once —
 * and the next one too. So a signal that lands after the loop has checked
 * stop_requested, but before accept() starts to wait, is not lost. */
static volatile sig_atomic_t listener_fd = -1;
static volatile sig_atomic_t client_fd = -1;

struct options {
	const char *host;
	const char *port;
	long max_clients; /* 0 = no limit */
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static void install_stop_handlers(void);
static int open_listener(const char *host, const char *port);
static int listen_on(const struct addrinfo *ai);
static int serve_clients(int listener, long max_clients);
static void serve_client(int fd, const char *who);
static int send_all(int fd, const char *buf, size_t len);
static int is_ipv6_any(const struct addrinfo *ai);

int main(int argc, char **argv)
{
	struct options opt;
	int listener, status;

	parse_options(argc, argv, &opt);
	/* One line at a time even into a pipe, so whoever reads our output
	 * (you, a test, the visualizer) sees each event as it happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();

	listener = open_listener(opt.host, opt.port);
	if (listener < 0)
		return EXIT_RUNTIME;
	listener_fd = listener;
	announce_listening(listener);

	status = serve_clients(listener, opt.max_clients);
	listener_fd = -1;
	close(listener);
	if (stop_requested)
		printf("stopping: signal received\n");
	return status;
}

/* Resolve host:port for a server and listen on the first address that
 * works. A name can resolve to several addresses (lesson 01); give a
 * numeric -b to say exactly which one. */
static int open_listener(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;     /* IPv4 or IPv6: whatever host is */
	hints.ai_socktype = SOCK_STREAM; /* TCP */
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("resolve %s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));

	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = listen_on(ai);
	freeaddrinfo(res);
	return fd;
}

/* Make a listening socket on one resolved address. On failure say why,
 * close what was opened, and return -1 so the caller can try the next. */
static int listen_on(const struct addrinfo *ai)
{
	char where[SL_ADDRSTRLEN];
	int one = 1, zero = 0;
	int fd;

	if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, where, sizeof(where)) == NULL)
		snprintf(where, sizeof(where), "(address family %d)", ai->ai_family);

	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
		warn("socket for %s:", where);
		return -1;
	}
	/* Without SO_REUSEADDR a restarted server cannot bind its port while
	 * connections from its previous run sit in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		warn("setsockopt SO_REUSEADDR:");
		close(fd);
		return -1;
	}
	/* On "::" accept IPv4 clients too (they show up as ::ffff:a.b.c.d),
	 * whatever the net.ipv6.bindv6only sysctl says. */
	if (is_ipv6_any(ai) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		warn("setsockopt IPV6_V6ONLY:");
		close(fd);
		return -1;
	}
	/* EXERCISE 1: bind the socket to the address, then make it listen */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		warn("bind %s:", where);
		close(fd);
		return -1;
	}
	if (listen(fd, BACKLOG) < 0) {
		warn("listen %s:", where);
		close(fd);
		return -1;
	}
	return fd;
	/* END EXERCISE 1 */
}

/* Accept clients one after another and serve each to the end. Returns
 * EXIT_OK when told to stop or done with max_clients, else EXIT_RUNTIME. */
static int serve_clients(int listener, long max_clients)
{
	/* EXERCISE 2: accept clients one after another and serve each one */
	long served = 0;

	while (!stop_requested && (max_clients == 0 || served < max_clients)) {
		struct sockaddr_storage peer; /* big enough for any family */
		socklen_t peerlen = sizeof(peer);
		char who[SL_ADDRSTRLEN];
		int fd;

		/* accept() returns a NEW socket for this one connection; the
		 * listener stays open for the clients after it. */
		fd = accept(listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (stop_requested)
				break; /* the handler shut the listener down: EINTR or EINVAL */
			if (errno == EINTR)
				continue; /* some other signal: just wait again */
			if (errno == ECONNABORTED)
				continue; /* the client gave up while still queued */
			warn("accept:");
			return EXIT_RUNTIME;
		}
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
			snprintf(who, sizeof(who), "(unknown address)");
		printf("client %s connected\n", who);
		client_fd = fd;
		/* A signal before the line above set only the flag: look at it. */
		if (!stop_requested)
			serve_client(fd, who);
		else
			printf("client %s disconnected (0 bytes echoed)\n", who);
		client_fd = -1; /* before close(): the number may be reused */
		close(fd);
		served++;
	}
	return EXIT_OK;
	/* END EXERCISE 2 */
}

/* Echo everything one client sends until it closes its side. */
static void serve_client(int fd, const char *who)
{
	char buf[4096];
	long long echoed = 0;

	/* EXERCISE 3: echo until the client closes its side: recv() until 0 */
	for (;;) {
		/* recv() returns as soon as *some* bytes are there: 1 byte or
		 * 4096, never "one message". TCP is a byte stream. */
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break; /* end of file: the client shut down its sending side */
		if (n < 0) {
			if (errno == EINTR && !stop_requested)
				continue; /* a signal we do not care about: just retry */
			if (errno != EINTR)
				warn("recv from %s:", who);
			break;
		}
		if (send_all(fd, buf, (size_t)n) < 0) {
			if (errno != EINTR)
				warn("send to %s:", who);
			break;
		}
		echoed += n;
	}
	/* END EXERCISE 3 */
	printf("client %s disconnected (%lld bytes echoed)\n", who, echoed);
}

/* send() may queue fewer bytes than we offer (a "short write") when the
 * socket's send buffer is nearly full: loop until every byte is queued.
 * MSG_NOSIGNAL: if the client has gone, send() fails with EPIPE instead of
 * raising SIGPIPE, whose default action would kill the whole server. */
static int send_all(int fd, const char *buf, size_t len)
{
	/* EXERCISE 3: send every byte, however few each send() takes */
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR && !stop_requested)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
	/* END EXERCISE 3 */
}

/* The signal-safe stop. Every later server lesson stops the same way,
 * with one call to lib/lesson's stop_on_signals() (lesson/stop.h). */
static void on_stop_signal(int sig)
{
	int saved = errno; /* the interrupted code may still need its errno */

	(void)sig;
	stop_requested = 1;
	if (listener_fd >= 0)
		shutdown(listener_fd, SHUT_RDWR);
	if (client_fd >= 0)
		shutdown(client_fd, SHUT_RDWR);
	errno = saved;
}

static void install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked accept() or recv() then fails with EINTR,
	 * which is our cue to look at stop_requested. With SA_RESTART the
	 * kernel would quietly restart the call and we would never notice. */
	sa.sa_flags = 0;
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");
}

/* ---- Plumbing: the command line, and a small address test ---------- */

/* Is this the IPv6 wildcard address "::"? */
static int is_ipv6_any(const struct addrinfo *ai)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;

	return ai->ai_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&opt->host, "address to listen on (default " DEFAULT_HOST ";\n"
			 ":: means every interface, IPv6 and IPv4)"),
		OPT_PORT(&opt->port, "port to listen on (default 0: any free port)"),
		{ 'n', "clients", OPT_NUMBER, &opt->max_clients, "N",
		  "exit after serving N clients (default 0: serve\nuntil SIGINT or SIGTERM)",
		  .what = "client count", .min = 0, .max = 1000000 },
		{ 0 }
	};

	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->max_clients = 0;
	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The iterative TCP echo server (lesson 02): it serves one client at a\n"
			 "time and sends back every byte that client sends.",
		.opts = options,
	});
}
