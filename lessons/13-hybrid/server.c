/* server.c — lesson 13: worker processes, each with its own event loop
 * (the nginx model).
 *
 * What it shows: one event loop uses one CPU. To use all of them, start
 * several worker processes, each running lesson 10's kind of epoll loop on
 * its own listening socket, all bound to the same port with SO_REUSEPORT.
 * The kernel then spreads new connections over the workers' listeners (by
 * a hash of each connection's addresses and ports). The workers share
 * nothing: no locks, no shared memory, no "thundering herd" of processes
 * woken for one client.
 *
 * The parent only supervises:
 *  - it binds the port first (with SO_REUSEPORT, without listen(), so no
 *    connection is ever queued on its socket), which reserves the port and
 *    tells it which one the kernel chose for -p 0;
 *  - it forks the workers, waits until each has bound and listens, and only
 *    then prints "listening on";
 *  - it reaps workers that die and starts new ones in their place;
 *  - on SIGINT/SIGTERM it sends SIGTERM to every worker, waits for them all
 *    (SIGKILL after 5 s) and exits 0. SIGUSR1 makes every worker print its
 *    counters.
 * Every signal arrives through a signalfd, in the parent and the workers.
 *
 * Notice when it runs with -v: each client line says which worker (and
 * pid) got it; with many clients, every worker gets some.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"

#define MAX_WORKERS 64
#define MAX_EVENTS 256
#define OUT_CAP (64 * 1024)
#define READ_MAX (64 * 1024)
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100
#define STOP_GRACE_MS 5000

struct options {
	const char *host;
	const char *port;
	long workers;
	int verbose;
};

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [-w N] [-v]\n"
	       "An echo server of N worker processes (lesson 13), each with its own\n"
	       "epoll loop and its own listening socket on the same port\n"
	       "(SO_REUSEPORT): the kernel spreads the clients over them.\n"
	       "\n"
	       "  -b, --bind ADDR     address to listen on (default %s)\n"
	       "  -p, --port PORT     port to listen on (default 0: any free port)\n"
	       "  -w, --workers N     worker processes (1 to %d, default: one per CPU)\n"
	       "  -v, --verbose       print clients, with the worker that served each\n"
	       "  -h, --help          show this help\n"
	       "Send SIGUSR1 to the parent to have every worker print its counters.\n",
	       DEFAULT_HOST, MAX_WORKERS);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "workers", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	opterr = 0;
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->workers = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : cpus;
	opt->verbose = 0;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "w:v", longopts, NULL)) != -1) {
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
		case 'w':
			opt->workers = opt_number(optarg, "worker count", 1, MAX_WORKERS);
			break;
		case 'v':
			opt->verbose = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket bound to addr with SO_REUSEPORT: every socket of the group
 * must set it before bind(), and belong to the same user. */
static int bind_reuseport(const struct sockaddr *addr, socklen_t len)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;

	if (fd < 0)
		return -1;
	/* EXERCISE 1: let every socket of the group bind the same port */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	/* END EXERCISE 1 */
	if (addr->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)addr)->sin6_addr) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(fd, addr, len) < 0)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

static int block_signals(const int *sigs, int n, sigset_t *mask)
{
	sigemptyset(mask);
	for (int i = 0; i < n; i++)
		sigaddset(mask, sigs[i]);
	if (sigprocmask(SIG_BLOCK, mask, NULL) < 0)
		return -1;
	return signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* ==== a worker: lesson 10's level-triggered epoll echo loop ==================== */

enum kind { LISTENER, SIGNALS, CLIENT };

struct conn {
	enum kind kind;
	int fd;
	uint32_t events;
	char *out;
	size_t out_start, out_end;
	int peer_done;
	long long echoed;
	struct conn *prev, *next;
};

struct worker {
	int id;
	int verbose;
	int ep;
	struct conn listener, signals;
	struct conn *clients;
	long nclients;
	long long served, bytes;
	int accept_paused, emfile_said;
	long long resume_ms;
	int stop;
	char buf[READ_MAX];
};

static int rewatch(struct worker *w, struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (op == EPOLL_CTL_MOD && events == c->events)
		return 0;
	if (epoll_ctl(w->ep, op, c->fd, &ev) < 0)
		return -1;
	c->events = events;
	return 0;
}

static size_t pending(const struct conn *c)
{
	return c->out_end - c->out_start;
}

static void say(const struct worker *w, int fd, const char *what, long long bytes)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char who[SL_ADDRSTRLEN];

	if (!w->verbose)
		return;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0 ||
	    sl_addr_format((struct sockaddr *)&peer, len, who, sizeof(who)) == NULL)
		snprintf(who, sizeof(who), "(fd %d)", fd);
	if (bytes < 0)
		printf("worker %d (pid %d): client %s %s\n", w->id, (int)getpid(), who, what);
	else
		printf("worker %d (pid %d): client %s %s (%lld bytes echoed)\n", w->id,
		       (int)getpid(), who, what, bytes);
}

static void close_client(struct worker *w, struct conn *c)
{
	say(w, c->fd, "disconnected", c->echoed);
	w->bytes += c->echoed;
	close(c->fd);
	free(c->out);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	w->nclients--;
	if (w->accept_paused)
		w->resume_ms = 0;
}

static int flush_output(struct conn *c)
{
	while (pending(c) > 0) {
		ssize_t n = send(c->fd, c->out + c->out_start, pending(c), MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->out_start += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_start = c->out_end = 0;
	return 0;
}

/* One recv() and its echo; what send() does not take waits in c->out. */
static int read_once(struct worker *w, struct conn *c)
{
	size_t want = OUT_CAP - pending(c);
	ssize_t n, sent = 0;

	if (want > READ_MAX)
		want = READ_MAX;
	n = recv(c->fd, w->buf, want, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0) {
		c->peer_done = 1;
		return 0;
	}
	c->echoed += n;
	if (pending(c) == 0) {
		sent = send(c->fd, w->buf, (size_t)n, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -1;
			sent = 0;
		}
	}
	if (sent < n) {
		if (c->out == NULL) {
			c->out = malloc(OUT_CAP);
			if (c->out == NULL)
				return -1;
		}
		if (c->out_end + (size_t)(n - sent) > OUT_CAP) {
			memmove(c->out, c->out + c->out_start, pending(c));
			c->out_end -= c->out_start;
			c->out_start = 0;
		}
		memcpy(c->out + c->out_end, w->buf + sent, (size_t)(n - sent));
		c->out_end += (size_t)(n - sent);
	}
	return 0;
}

static void on_client(struct worker *w, struct conn *c, uint32_t ev)
{
	uint32_t want = 0;

	if ((ev & EPOLLERR) || ((ev & EPOLLOUT) && flush_output(c) < 0)) {
		close_client(w, c);
		return;
	}
	if ((ev & (EPOLLIN | EPOLLHUP)) && !c->peer_done && read_once(w, c) < 0) {
		close_client(w, c);
		return;
	}
	if (c->peer_done && pending(c) == 0) {
		close_client(w, c);
		return;
	}
	if (!c->peer_done && pending(c) < OUT_CAP)
		want |= EPOLLIN;
	if (pending(c) > 0)
		want |= EPOLLOUT;
	if (rewatch(w, c, want, EPOLL_CTL_MOD) < 0)
		close_client(w, c);
}

static void accept_clients(struct worker *w)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* As in lesson 10: stop watching the listener
				 * for a while rather than spin on it. */
				if (!w->emfile_said)
					warn("worker %d: accept: %s: pausing for up to %d ms",
					     w->id, strerror(errno), ACCEPT_PAUSE_MS);
				w->emfile_said = 1;
				if (rewatch(w, &w->listener, 0, EPOLL_CTL_MOD) < 0)
					die("epoll_ctl MOD:");
				w->accept_paused = 1;
				w->resume_ms = now_ms() + ACCEPT_PAUSE_MS;
				return;
			}
			die("worker %d: accept:", w->id);
		}
		w->emfile_said = 0;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			warn("calloc:");
			close(fd);
			continue;
		}
		c->kind = CLIENT;
		c->fd = fd;
		if (rewatch(w, c, EPOLLIN, EPOLL_CTL_ADD) < 0) {
			warn("epoll_ctl ADD:");
			close(fd);
			free(c);
			continue;
		}
		c->next = w->clients;
		if (w->clients != NULL)
			w->clients->prev = c;
		w->clients = c;
		w->nclients++;
		w->served++;
		say(w, fd, "connected", -1);
	}
}

static void on_worker_signal(struct worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->signals.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			printf("worker %d (pid %d): %lld clients served, %ld connected now, "
			       "%lld bytes echoed by clients that left\n", w->id,
			       (int)getpid(), w->served, w->nclients, w->bytes);
		else
			w->stop = 1;
	}
}

static void worker_loop(struct worker *w)
{
	struct epoll_event events[MAX_EVENTS];

	while (!w->stop) {
		int timeout = -1, n;

		if (w->accept_paused) {
			long long left = w->resume_ms - now_ms();

			timeout = left > 0 ? (int)left : 0;
		}
		n = epoll_wait(w->ep, events, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("worker %d: epoll_wait:", w->id);
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (c->kind == LISTENER)
				accept_clients(w);
			else if (c->kind == SIGNALS)
				on_worker_signal(w);
			else
				on_client(w, c, events[i].events);
		}
		if (w->accept_paused && now_ms() >= w->resume_ms) {
			if (rewatch(w, &w->listener, EPOLLIN, EPOLL_CTL_MOD) < 0)
				die("epoll_ctl MOD:");
			w->accept_paused = 0;
		}
	}
}

/* The worker's whole life. ready is the write end of a pipe: one byte
 * tells the parent "I listen"; closing it without a byte, "I failed". */
static noreturn void worker_main(int id, int verbose, const struct sockaddr_storage *addr,
				 socklen_t addrlen, int ready, pid_t parent)
{
	static struct worker w; /* a fresh copy in each forked child */
	static const int sigs[] = { SIGINT, SIGTERM, SIGUSR1 };
	sigset_t mask;

	/* If the parent dies, however it dies, the kernel sends us SIGTERM:
	 * no worker outlives its supervisor. (Linux only; it fires when the
	 * forking thread exits.) The parent may have died just before. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		die("prctl PR_SET_PDEATHSIG:");
	if (getppid() != parent)
		exit(EXIT_RUNTIME);
	w.id = id;
	w.verbose = verbose;
	w.signals.kind = SIGNALS;
	w.signals.fd = block_signals(sigs, 3, &mask);
	if (w.signals.fd < 0)
		die("worker %d: signalfd:", id);
	w.listener.kind = LISTENER;
	w.listener.fd = bind_reuseport((const struct sockaddr *)addr, addrlen);
	if (w.listener.fd < 0)
		die("worker %d: bind:", id);
	if (listen(w.listener.fd, SOMAXCONN) < 0)
		die("worker %d: listen:", id);
	if (fcntl(w.listener.fd, F_SETFL, fcntl(w.listener.fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK:");
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	if (w.ep < 0)
		die("epoll_create1:");
	if (rewatch(&w, &w.listener, EPOLLIN, EPOLL_CTL_ADD) < 0 ||
	    rewatch(&w, &w.signals, EPOLLIN, EPOLL_CTL_ADD) < 0)
		die("epoll_ctl ADD:");
	if (write(ready, "r", 1) != 1)
		die("worker %d: tell the parent:", id);
	close(ready);

	worker_loop(&w);
	while (w.clients != NULL)
		close_client(&w, w.clients);
	close(w.ep);
	close(w.listener.fd);
	close(w.signals.fd);
	/* exit(), not _exit(): stdout may hold lines still to be written. */
	exit(EXIT_OK);
}

/* ==== the parent: start, watch, restart, stop ==================================== */

struct supervisor {
	struct options opt;
	int port_fd;                  /* bound, not listening: holds the port */
	struct sockaddr_storage addr; /* what the workers bind */
	socklen_t addrlen;
	int sigfd;
	pid_t pid[MAX_WORKERS];       /* 0: no worker in that slot */
	int stopping;
};

/* Fork worker number id and wait until it listens. Returns its pid, or -1
 * when it could not start (it has said why on stderr). */
static pid_t start_worker(struct supervisor *sv, int id)
{
	/* EXERCISE 1: fork worker id, and wait until it listens */
	pid_t parent = getpid();
	int ready[2];
	char byte;
	ssize_t n;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		die("pipe2:");
	fflush(stdout); /* or the child would print our buffered lines again */
	pid = fork();
	if (pid < 0)
		die("fork:");
	if (pid == 0) {
		/* The child needs none of the parent's descriptors but the
		 * pipe's write end. */
		close(ready[0]);
		close(sv->port_fd);
		close(sv->sigfd);
		worker_main(id, sv->opt.verbose, &sv->addr, sv->addrlen, ready[1], parent);
	}
	close(ready[1]);
	do
		n = read(ready[0], &byte, 1);
	while (n < 0 && errno == EINTR);
	close(ready[0]);
	if (n != 1)
		return -1; /* it exited before listening */
	sv->pid[id] = pid;
	if (sv->opt.verbose)
		printf("worker %d: pid %d\n", id, (int)pid);
	return pid;
	/* END EXERCISE 1 */
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "changed state 0x%x", status);
}

/* Collect every worker that has died (one SIGCHLD may stand for several).
 * Returns how many are still running. */
static int reap_workers(struct supervisor *sv)
{
	int status, running = 0;
	pid_t pid;

	/* EXERCISE 2: collect every dead worker, and start a new one in its place */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < sv->opt.workers; i++) {
			char how[96];

			if (sv->pid[i] != pid)
				continue;
			sv->pid[i] = 0;
			describe_status(status, how, sizeof(how));
			if (sv->stopping) {
				if (sv->opt.verbose)
					printf("worker %d (pid %d) %s\n", i, (int)pid, how);
				break;
			}
			printf("worker %d (pid %d) %s; starting a new one\n", i, (int)pid, how);
			if (start_worker(sv, i) < 0)
				die("worker %d could not start again", i);
			break;
		}
	}
	/* END EXERCISE 2 */
	for (int i = 0; i < sv->opt.workers; i++)
		running += sv->pid[i] != 0;
	return running;
}

static void signal_workers(struct supervisor *sv, int sig)
{
	for (int i = 0; i < sv->opt.workers; i++)
		if (sv->pid[i] > 0)
			kill(sv->pid[i], sig);
}

/* SIGTERM every worker and wait for them all; SIGKILL the stragglers. */
static void stop_workers(struct supervisor *sv)
{
	long long deadline = now_ms() + STOP_GRACE_MS;
	int killed = 0;

	sv->stopping = 1;
	signal_workers(sv, SIGTERM);
	while (reap_workers(sv) > 0) {
		struct pollfd pfd = { .fd = sv->sigfd, .events = POLLIN };
		struct signalfd_siginfo si;
		long long left = deadline - now_ms();

		if (left <= 0 && !killed) {
			warn("workers still running after %d ms: SIGKILL", STOP_GRACE_MS);
			signal_workers(sv, SIGKILL);
			killed = 1;
		}
		/* Wait for the next SIGCHLD (or 100 ms), then reap again. */
		if (poll(&pfd, 1, left > 0 && left < 100 ? (int)left : 100) > 0)
			while (read(sv->sigfd, &si, sizeof(si)) > 0)
				;
	}
}

static void supervise(struct supervisor *sv)
{
	for (;;) {
		struct pollfd pfd = { .fd = sv->sigfd, .events = POLLIN };
		struct signalfd_siginfo si;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll:");
		}
		while (read(sv->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				reap_workers(sv);
			else if (si.ssi_signo == SIGUSR1)
				signal_workers(sv, SIGUSR1);
			else
				return; /* SIGINT or SIGTERM */
		}
	}
}

/* Resolve -b and bind the port, without listening, to learn and hold it. */
static void reserve_port(struct supervisor *sv)
{
	struct addrinfo hints, *res;
	char where[SL_ADDRSTRLEN];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(sv->opt.host, sv->opt.port, &hints, &res);
	if (rc != 0)
		die("resolve %s: %s", sv->opt.host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	if (sl_addr_format(res->ai_addr, res->ai_addrlen, where, sizeof(where)) == NULL)
		snprintf(where, sizeof(where), "%s", sv->opt.host);
	sv->port_fd = bind_reuseport(res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (sv->port_fd < 0)
		die("bind %s:", where);
	/* With -p 0 the kernel chose the port: the workers bind that one. */
	sv->addrlen = sizeof(sv->addr);
	if (getsockname(sv->port_fd, (struct sockaddr *)&sv->addr, &sv->addrlen) < 0)
		die("getsockname:");
}

int main(int argc, char **argv)
{
	static struct supervisor sv;
	static const int sigs[] = { SIGINT, SIGTERM, SIGCHLD, SIGUSR1 };
	sigset_t mask;

	parse_options(argc, argv, &sv.opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Blocked before the first fork, so no signal slips through to a
	 * default action in the window before a worker's signalfd exists. */
	sv.sigfd = block_signals(sigs, 4, &mask);
	if (sv.sigfd < 0)
		die("signalfd:");
	reserve_port(&sv);
	for (int i = 0; i < sv.opt.workers; i++) {
		if (start_worker(&sv, i) < 0) {
			warn("worker %d could not start", i);
			stop_workers(&sv);
			close(sv.port_fd);
			close(sv.sigfd);
			return EXIT_RUNTIME;
		}
	}
	announce_listening(sv.port_fd);
	printf("%ld worker%s, one epoll loop each, sharing the port with SO_REUSEPORT\n",
	       sv.opt.workers, sv.opt.workers == 1 ? "" : "s");
	supervise(&sv);
	printf("stopping: signal received\n");
	stop_workers(&sv);
	close(sv.port_fd);
	close(sv.sigfd);
	return EXIT_OK;
}
