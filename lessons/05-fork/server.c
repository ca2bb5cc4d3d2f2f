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
#include "io.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

/* Connections the kernel may hold, handshake done, until accept(). */
#define BACKLOG 64

/* How long to wait before calling accept() again after it failed for
 * want of a resource (descriptors, memory, processes). */
#define PAUSE_MS 100

static const char *host = DEFAULT_HOST, *port = "0";
static int zombies; /* --zombies: never wait for the children */

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static void reap_children_as_they_exit(void);
static int serve_clients(int listener);
static void run_child(int listener, int fd, const char *who, pid_t parent);
static void echo_client(int fd, const char *who);

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	int listener, status;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The signal-safe stop of lesson 02, from lib/lesson. A child inherits
	 * the handler: there it stops the child. */
	stop_on_signals();
	reap_children_as_they_exit();

	/* Lesson 02 showed every call that opens a listener; from here on
	 * the library does it the same way (getaddrinfo, socket,
	 * SO_REUSEADDR, bind, listen). */
	listener = sl_tcp_listen(host, port, BACKLOG, NULL, NULL, err);
	if (listener < 0)
		die("%s", err);
	stop_wakes(listener);
	announce_listening(listener);
	if (zombies)
		printf("--zombies: finished children are never waited for\n");

	status = serve_clients(listener);
	stop_forget(listener);
	close(listener);
	if (stop_requested)
		printf("stopping: signal received\n");
	/* Children still serving get SIGTERM from the kernel when we exit
	 * (PR_SET_PDEATHSIG), finish their client, and are reaped by
	 * whichever process adopts them. */
	return status;
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

/* A child that has exited stays a zombie until its parent waits for it:
 * wait in a SIGCHLD handler. With --zombies, never wait. */
static void reap_children_as_they_exit(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	if (zombies) {
		/* SIG_DFL, stated: a SIGCHLD left at SIG_IGN (inherited from
		 * whoever started us) tells Linux to reap children by itself,
		 * and then no zombie would ever appear. */
		sa.sa_handler = SIG_DFL;
	} else {
		sa.sa_handler = on_child_exit;
		/* SA_RESTART: a child exiting is no reason for accept() to fail
		 * with EINTR. SA_NOCLDSTOP: no signal when a child only stops. */
		sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	}
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		die("sigaction SIGCHLD:");
}

/* Out of descriptors, memory or processes: wait a moment before trying
 * again (retrying at once would fail at once, at 100% CPU). */
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

/* Runs in the child, after fork(). Never returns. */
static void run_child(int listener, int fd, const char *who, pid_t parent)
{
	/* EXERCISE 1: in the child, close the listener: it is the parent's */
	/* The listener belongs to the parent. Keeping it open here would do
	 * no harm today, but it is one more descriptor per child, and a
	 * child that called accept() on it would steal clients. */
	stop_forget(listener);
	close(listener);
	stop_wakes(fd);
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
	stop_forget(fd);
	close(fd);
	/* exit(), not _exit(): our stdout buffer holds only this child's own
	 * lines (the parent flushed before fork), so flushing it is right. */
	exit(EXIT_OK);
}

/* The child's whole job: lesson 02's echo loop, for one client.
 * sl_io_write_all() is lesson 02's send_all(), from the library. */
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
		if (sl_io_write_all(fd, buf, (size_t)n) < 0) {
			if (!stop_requested) /* else: the stop shut the socket down */
				warn("send to %s:", who);
			break;
		}
		echoed += n;
	}
	printf("[pid %d] client %s disconnected (%lld bytes echoed)\n",
	       (int)getpid(), who, echoed);
}

/* ---- Plumbing: the command line ---------------------------------------- */

static void parse_options(int argc, char **argv)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&port, "port to listen on (default 0: any free port)"),
		{ 'z', "zombies", OPT_FLAG, &zombies, .help = "never wait for children:"
		  " finished ones stay\nzombies (<defunct> in ps) until the server exits" },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "One process per client (lesson 05): a child echoes each accepted client.",
		.opts = options,
	});
}
