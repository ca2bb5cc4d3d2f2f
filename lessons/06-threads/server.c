/* server.c — lesson 06: one thread per client.
 *
 * What it shows: after accept() the main thread starts a detached thread
 * for the client and goes back to accept(). Each thread reads its client's
 * lines with its own line reader (the library's sl_line_reader: a buffer
 * per connection, no static state) and sends every line back.
 *
 * Why: threads are cheaper to start than processes and share the
 * server's memory, so one structure can count and stop every connection.
 * Sharing is also the danger: any function with hidden static state (a
 * line reader with a static buffer, strtok, inet_ntoa) mixes one client's
 * bytes into another's when two threads call it at once. Shared data the
 * threads really need (here, the list of live connections) is touched
 * only with a mutex held.
 *
 * Notice when it runs: `ls /proc/PID/task` lists one thread per connected
 * client, plus the main thread; each leaves when its client does.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "net.h"
#include "lesson/lesson.h"

#define BACKLOG 64
#define PAUSE_MS 100            /* before retrying accept() without resources */
#define DEFAULT_MAX_LINE 65536  /* longest line, '\n' included */

/* Set by the SIGINT/SIGTERM handler, which also shuts the listener down so
 * that a blocked accept() returns (lesson 02). Only the main thread ever
 * runs the handler: every client thread starts with the signals blocked. */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t listener_fd = -1;

/* One connected client. The live ones are on a list, so that the main
 * thread can find them when it is time to stop. */
struct conn {
	int fd;
	char who[SL_ADDRSTRLEN];
	size_t max_line;
	struct conn *prev, *next;
};

/* Everything the threads share, and the mutex that guards it. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_gone = PTHREAD_COND_INITIALIZER; /* nconns hit 0 */
static struct conn *conns;
static long nconns;

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [-l BYTES]\n"
	       "The echo server, one thread per client (lesson 06): each thread reads\n"
	       "its client's lines with its own line reader and sends them back.\n"
	       "\n"
	       "  -b, --bind ADDR       address to listen on (default %s)\n"
	       "  -p, --port PORT       port to listen on (default 0: any free port)\n"
	       "  -l, --max-line BYTES  longest line accepted, newline included\n"
	       "                        (default %d); a longer one ends the connection\n"
	       "  -h, --help            show this help\n",
	       DEFAULT_HOST, DEFAULT_MAX_LINE);
}

struct options {
	const char *host;
	const char *port;
	size_t max_line;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "max-line", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->max_line = DEFAULT_MAX_LINE;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "l:", longopts, NULL)) != -1) {
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
		case 'l':
			opt->max_line = (size_t)opt_number(optarg, "line length", 2, 16 * 1024 * 1024);
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
	errno = saved;
}

static void install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: accept() returns EINTR */
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");
}

static void conn_add(struct conn *c)
{
	pthread_mutex_lock(&conns_lock);
	c->prev = NULL;
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	conns = c;
	nconns++;
	pthread_mutex_unlock(&conns_lock);
}

/* Close the client's socket and forget the connection. The close happens
 * with the lock held: the main thread, stopping, calls shutdown() on every
 * fd on the list with the lock held too, so it can never hit a number that
 * was just closed and handed to someone else. And the count drops only
 * after the last byte of memory is freed, so that when the main thread
 * sees 0 and exits, nothing is left behind. */
static void conn_remove(struct conn *c)
{
	pthread_mutex_lock(&conns_lock);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	if (--nconns == 0)
		pthread_cond_signal(&conns_gone);
	pthread_mutex_unlock(&conns_lock);
}

/* A client thread: read lines, send each one back, until end of file.
 *
 * The reader lives on this thread's stack and its buffer is this
 * connection's alone. A reader that kept its buffer in a static variable
 * (Stevens' first readline() did, for speed) would be one buffer for all
 * threads: the bytes one client sent would come out of another client's
 * call. */
static void *serve_client(void *arg)
{
	struct conn *c = arg;
	/* EXERCISE 2: read the client's lines with its own line reader; send each one back */
	struct sl_line_reader reader;
	long long lines = 0, echoed = 0;

	if (sl_line_init(&reader, c->fd, c->max_line) < 0) {
		warn("line reader for %s:", c->who);
	} else {
		for (;;) {
			char *line;
			ssize_t n = sl_line_read(&reader, &line);

			if (n == 0)
				break; /* end of file between lines */
			if (n < 0) {
				if (errno == EMSGSIZE)
					warn("client %s: a line longer than %zu bytes: closing",
					     c->who, c->max_line);
				else
					warn("recv from %s:", c->who);
				break;
			}
			if (sl_io_write_all(c->fd, line, (size_t)n) < 0) {
				warn("send to %s:", c->who);
				break;
			}
			lines++;
			echoed += n;
		}
	}
	sl_line_free(&reader);
	/* END EXERCISE 2 */
	printf("client %s disconnected (%lld line%s, %lld bytes echoed)\n",
	       c->who, lines, lines == 1 ? "" : "s", echoed);
	conn_remove(c);
	return NULL;
}

/* Start a detached thread for the client: nobody will pthread_join() it,
 * so the system frees its resources as soon as it returns. The thread
 * starts with SIGINT and SIGTERM blocked (a new thread inherits its
 * creator's signal mask), so those signals always reach the main thread,
 * the one whose accept() they must interrupt. */
static int start_thread(struct conn *c)
{
	/* EXERCISE 1: start a detached thread that runs serve_client(c) */
	pthread_attr_t attr;
	sigset_t stop_signals, old;
	int rc;

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);

	rc = pthread_attr_init(&attr);
	if (rc == 0)
		rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (rc == 0) {
		pthread_t tid;

		pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
		rc = pthread_create(&tid, &attr, serve_client, c);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	errno = rc; /* pthread functions return their error, they do not set errno */
	return rc == 0 ? 0 : -1;
	/* END EXERCISE 1 */
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, PAUSE_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static int serve_clients(int listener, size_t max_line)
{
	int out_of_resources = 0;

	while (!stop_requested) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		struct conn *c;
		int fd;

		fd = accept(listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (stop_requested)
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Retrying at once would fail at once: a loop at
				 * 100% CPU. The client waits in the backlog. */
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

		c = malloc(sizeof(*c));
		if (c == NULL) {
			warn("malloc:");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->max_line = max_line;
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, c->who, sizeof(c->who)) == NULL)
			snprintf(c->who, sizeof(c->who), "(unknown address)");
		printf("client %s connected\n", c->who);

		/* On the list before the thread runs: the thread removes it. */
		conn_add(c);
		if (start_thread(c) < 0) {
			/* EAGAIN: too many threads, or no memory for a stack. */
			warn("pthread_create for %s:", c->who);
			conn_remove(c);
			pause_briefly();
		}
	}
	return EXIT_OK;
}

/* Stop every client thread and wait until the last one has finished.
 * shutdown() makes a thread's blocked recv() return 0 (end of file) and
 * its blocked send() fail, so each one leaves its loop. */
static void stop_client_threads(void)
{
	/* EXERCISE 3: end every client thread, and wait until the last is gone */
	pthread_mutex_lock(&conns_lock);
	for (struct conn *c = conns; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (nconns > 0)
		pthread_cond_wait(&conns_gone, &conns_lock);
	pthread_mutex_unlock(&conns_lock);
	/* END EXERCISE 3 */
}

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct options opt;
	int listener, status;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();

	listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, NULL, NULL, err);
	if (listener < 0)
		die("%s", err);
	listener_fd = listener;
	announce_listening(listener);

	status = serve_clients(listener, opt.max_line);
	listener_fd = -1;
	close(listener);
	stop_client_threads();
	if (stop_requested)
		printf("stopping: signal received\n");
	return status;
}
