/* server.c — lesson 05: one process per client (fork).
 *
 * What it shows: the echo server of lesson 02 with one change. After
 * accept() the server calls fork(): the child process serves that one
 * client and exits; the parent goes straight back to accept(). Both
 * processes hold both sockets after fork(), so each closes the one it does
 * not need: the child the listener, the parent the client's socket. A
 * child that has exited stays a zombie until its parent waits for it, so
 * a SIGCHLD handler reaps every finished child with waitpid(WNOHANG).
 *
 * Why: a slow or idle client now blocks only its own process. The kernel
 * schedules the processes; the code of each stays as simple as lesson
 * 02's loop. The price is a process per client: a fork() per connection,
 * a copy of the address space (copy-on-write), and no shared memory
 * between clients.
 *
 * Notice when it runs: each "connected" line carries a different pid, and
 * clients overlap. With --zombies the parent never waits: finished
 * children stay in `ps` as <defunct> until the server exits.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"
#include "lesson/lesson.h"

/* Connections the kernel may hold, handshake done, until accept(). */
#define BACKLOG 64

/* How long to wait before calling accept() again after it failed for
 * want of a resource (descriptors, memory, processes). */
#define PAUSE_MS 100

/* Set by the SIGINT/SIGTERM handler. In a child, the same handler stops
 * the child (lesson 02 explains the flag and the shutdown() calls). */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t listener_fd = -1;
static volatile sig_atomic_t client_fd = -1;

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [-z]\n"
	       "The echo server of lesson 02, one process per client (lesson 05):\n"
	       "after accept() it forks, the child serves that client, the parent\n"
	       "accepts the next one.\n"
	       "\n"
	       "  -b, --bind ADDR    address to listen on (default %s)\n"
	       "  -p, --port PORT    port to listen on (default 0: any free port)\n"
	       "  -z, --zombies      never wait for children: finished ones stay\n"
	       "                     zombies (<defunct> in ps) until the server exits\n"
	       "  -h, --help         show this help\n",
	       DEFAULT_HOST);
}

struct options {
	const char *host;
	const char *port;
	int zombies;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "zombies", no_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0; /* bad_option() says what is wrong, in our own words */
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->zombies = 0;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "z", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'b':
			opt->host = optarg;
			break;
		case 'p':
			opt->port = opt_port(optarg);
			break;
		case 'z':
			opt->zombies = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

static void on_stop_signal(int sig)
{
	int saved = errno;

	(void)sig;
	stop_requested = 1;
	if (listener_fd >= 0)
		shutdown(listener_fd, SHUT_RDWR);
	if (client_fd >= 0)
		shutdown(client_fd, SHUT_RDWR);
	errno = saved;
}

/* A child has exited (or several: while one SIGCHLD is pending, more exits
 * do not queue a second one). Reap until none is left, without blocking. */
static void on_child_exit(int sig)
{
	/* EXERCISE 2: reap every child that has exited, without ever blocking */
	/* waitpid() sets errno when no child is left (ECHILD), and the code
	 * this handler interrupted may be about to read its own errno. */
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
	/* END EXERCISE 2 */
}

static void install_handlers(int zombies)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = 0; /* no SA_RESTART: a blocked accept() returns EINTR */
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");

	if (zombies) {
		/* SIG_DFL, stated: a SIGCHLD left at SIG_IGN (inherited from
		 * whoever started us) tells Linux to reap children by itself,
		 * and then no zombie would ever appear. */
		sa.sa_handler = SIG_DFL;
		sa.sa_flags = 0;
	} else {
		sa.sa_handler = on_child_exit;
		/* SA_RESTART: a child exiting is no reason for accept() to fail
		 * with EINTR. SA_NOCLDSTOP: no signal when a child only stops. */
		sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	}
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		die("sigaction SIGCHLD:");
}

/* send() until every byte is queued (lesson 02's send_all). */
static int send_all(int fd, const char *buf, size_t len)
{
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
}

/* The child's whole job: lesson 02's echo loop, for one client. */
static void echo_client(int fd, const char *who)
{
	char buf[16384];
	long long echoed = 0;

	printf("[pid %d] client %s connected\n", (int)getpid(), who);
	while (!stop_requested) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue; /* the loop test looks at stop_requested */
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
	printf("[pid %d] client %s disconnected (%lld bytes echoed)\n",
	       (int)getpid(), who, echoed);
}

/* Runs in the child, after fork(). Never returns. */
static void run_child(int listener, int fd, const char *who, pid_t parent)
{
	/* EXERCISE 1: in the child, close the listener: it is the parent's */
	/* The listener belongs to the parent. Keeping it open here would do
	 * no harm today, but it is one more descriptor per child, and a
	 * child that called accept() on it would steal clients. */
	listener_fd = -1;
	close(listener);
	client_fd = fd;
	/* END EXERCISE 1 */

	/* EXERCISE 3: make the child stop when its parent does */
	/* When the parent stops (SIGTERM, or it dies), ask the kernel to send
	 * us SIGTERM too, so no child serves on after its server is gone.
	 * Linux-only. If the parent died before this line, getppid() has
	 * already changed: stop at once. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		warn("prctl PR_SET_PDEATHSIG:");
	if (getppid() != parent)
		stop_requested = 1;
	/* END EXERCISE 3 */

	if (!stop_requested)
		echo_client(fd, who);
	client_fd = -1;
	close(fd);
	/* exit(), not _exit(): our stdout buffer holds only this child's own
	 * lines (the parent flushed before fork), so flushing it is right. */
	exit(EXIT_OK);
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, PAUSE_MS * 1000000L };

	nanosleep(&ts, NULL); /* a signal may cut it short: that is fine */
}

/* Accept clients and fork a child for each, until told to stop. */
static int serve_clients(int listener)
{
	pid_t parent = getpid();
	int out_of_resources = 0;

	while (!stop_requested) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		char who[SL_ADDRSTRLEN];
		pid_t pid;
		int fd;

		fd = accept(listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (stop_requested)
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Retrying at once would fail at once, forever: a
				 * loop at 100% CPU. The client stays in the backlog;
				 * try again in a moment. Say so once, not per try. */
				if (!out_of_resources)
					warn("accept (pausing %d ms):", PAUSE_MS);
				out_of_resources = 1;
				pause_briefly();
				continue;
			}
			warn("accept:");
			return EXIT_RUNTIME;
		}
		out_of_resources = 0;
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
			snprintf(who, sizeof(who), "(unknown address)");

		/* EXERCISE 1: fork a child for this client; the parent closes its copy */
		/* Whatever sits in our stdout buffer would be copied into the
		 * child and printed twice: empty it first. */
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			/* EAGAIN: too many processes (RLIMIT_NPROC). This client
			 * is turned away; the next one may be luckier. */
			warn("fork for %s:", who);
			close(fd);
			pause_briefly();
			continue;
		}
		if (pid == 0)
			run_child(listener, fd, who, parent);

		/* The parent: the child has its own copy of the client socket.
		 * Ours must go, or the connection would stay open after the
		 * child closes it (a socket closes when its LAST descriptor
		 * does), and we would run out of descriptors. */
		close(fd);
		/* END EXERCISE 1 */
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct options opt;
	int listener, status;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_handlers(opt.zombies);

	/* Lesson 02 showed every call that opens a listener; from here on
	 * the library does it the same way (getaddrinfo, socket,
	 * SO_REUSEADDR, bind, listen). */
	listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, NULL, NULL, err);
	if (listener < 0)
		die("%s", err);
	listener_fd = listener;
	announce_listening(listener);
	if (opt.zombies)
		printf("--zombies: finished children are never waited for\n");

	status = serve_clients(listener);
	listener_fd = -1;
	close(listener);
	if (stop_requested)
		printf("stopping: signal received\n");
	/* Children still serving get SIGTERM from the kernel when we exit
	 * (PR_SET_PDEATHSIG), finish their client, and are reaped by
	 * whichever process adopts them. */
	return status;
}
