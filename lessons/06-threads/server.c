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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "net.h"
#include "lesson/lesson.h"
#include "lesson/stop.h"

#define BACKLOG 64
#define PAUSE_MS 100            /* before retrying accept() without resources */

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

static const char *host = DEFAULT_HOST, *port = "0";
static long max_line = 65536; /* longest line, '\n' included (-l) */

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int serve_clients(int listener);
static void conn_add(struct conn *c);
static int start_thread(struct conn *c);
static void *serve_client(void *arg);
static void conn_remove(struct conn *c);
static void pause_briefly(void);
static void stop_client_threads(void);

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	int listener, status;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The signal-safe stop of lesson 02, from lib/lesson. Only the main
	 * thread ever runs the handler: every client thread starts with the
	 * signals blocked (start_thread()). */
	stop_on_signals();

	listener = sl_tcp_listen(host, port, BACKLOG, NULL, NULL, err);
	if (listener < 0)
		die("%s", err);
	stop_wakes(listener); /* a stop signal makes a blocked accept() return */
	announce_listening(listener);

	status = serve_clients(listener);
	stop_forget(listener);
	close(listener);
	stop_client_threads();
	if (stop_requested)
		printf("stopping: signal received\n");
	return status;
}

/* Accept clients and start a thread for each, until told to stop. */
static int serve_clients(int listener)
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
		c->max_line = (size_t)max_line;
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

/* Out of descriptors, memory or threads: wait a moment before trying
 * again (retrying at once would fail at once, at 100% CPU). */
static void pause_briefly(void)
{
	struct timespec ts = { 0, PAUSE_MS * 1000000L };

	nanosleep(&ts, NULL);
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

/* ---- Plumbing: the command line ---------------------------------------- */

static void parse_options(int argc, char **argv)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&port, "port to listen on (default 0: any free port)"),
		{ 'l', "max-line", OPT_NUMBER, &max_line, "BYTES",
		  "longest line accepted, newline included\n"
		  "(default 65536); a longer one ends the connection",
		  .what = "line length", .min = 2, .max = 16 * 1024 * 1024 },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The echo server, one thread per client (lesson 06): each thread reads\n"
			 "its client's lines with its own line reader and sends them back.",
		.opts = options,
	});
}
