/* server.c — lesson 07: a thread pool with a bounded queue.
 *
 * What it shows: N worker threads (-w) are started once. The main thread
 * only accepts connections and puts them in a queue of fixed size (-q);
 * each worker takes the oldest one, serves it to the end with lesson 02's
 * echo loop, and takes the next. When the queue is full the main thread
 * stops calling accept(): new connections then wait in the kernel's
 * backlog, and when that is full too, the kernel stops answering SYNs.
 * That is back-pressure: the server says "slow down" by not accepting,
 * instead of taking work it cannot do.
 *
 * Why: the cost of a thread is paid once, not per client, and the number
 * of threads is bounded however many clients come. The price is the
 * lesson: a worker is busy for as long as its client stays connected, so
 * with N idle clients every worker is taken and client N+1 waits, however
 * little it asks for. A pool suits short requests; long, mostly idle
 * connections need the event loops of lessons 08 to 10.
 *
 * Signals: a thread may wait on a condition variable, and a signal handler
 * cannot wake one (pthread_cond_signal is not async-signal-safe). So
 * SIGINT and SIGTERM are blocked in every thread and one thread waits for
 * them with sigwait(): it receives them as ordinary function returns and
 * may then take locks and wake everyone.
 *
 * Notice when it runs: "queue full" when more clients wait than the queue
 * holds; `ss -ltn` then shows the listener's Recv-Q growing.
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
#include "net.h"
#include "lesson/lesson.h"

#define BACKLOG 64
#define PAUSE_MS 100
#define DEFAULT_WORKERS 4
#define DEFAULT_QUEUE 8

/* An accepted connection waiting for a worker. */
struct job {
	int fd;
	char who[SL_ADDRSTRLEN];
};

struct pool;

struct worker {
	struct pool *pool;
	pthread_t tid;
	int fd;          /* the client it serves, or -1 (guarded by pool->lock) */
};

/* Everything the threads share; every field is read and written with
 * lock held, except listener, which never changes while threads run. */
struct pool {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;  /* a job was queued, or stopping */
	pthread_cond_t not_full;   /* a job was taken, or stopping */
	struct job *queue;         /* a ring of qcap jobs */
	int qcap, qhead, qlen;
	struct worker *workers;
	int nworkers;
	int busy;                  /* workers serving a client */
	int listener;
	int stopping;
	int stop_signal;           /* the signal that stopped us, or 0 */
};

static void usage(void)
{
	printf("usage: server [-b ADDR] [-p PORT] [-w N] [-q N]\n"
	       "The echo server with a pool of worker threads (lesson 07): the main\n"
	       "thread accepts and queues connections, N workers serve them.\n"
	       "\n"
	       "  -b, --bind ADDR    address to listen on (default %s)\n"
	       "  -p, --port PORT    port to listen on (default 0: any free port)\n"
	       "  -w, --workers N    worker threads (default %d)\n"
	       "  -q, --queue N      connections that may wait for a worker (default %d);\n"
	       "                     when they are all taken, accept() waits\n"
	       "  -h, --help         show this help\n",
	       DEFAULT_HOST, DEFAULT_WORKERS, DEFAULT_QUEUE);
}

struct options {
	const char *host;
	const char *port;
	int workers;
	int queue;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "workers", required_argument, NULL, 'w' },
		{ "queue", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	opt->host = DEFAULT_HOST;
	opt->port = "0";
	opt->workers = DEFAULT_WORKERS;
	opt->queue = DEFAULT_QUEUE;
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "w:q:", longopts, NULL)) != -1) {
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
			opt->workers = (int)opt_number(optarg, "worker count", 1, 1024);
			break;
		case 'q':
			opt->queue = (int)opt_number(optarg, "queue size", 1, 65536);
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

/* ---- the queue (call with pool->lock held) --------------------------------- */

static void queue_push(struct pool *p, const struct job *j)
{
	p->queue[(p->qhead + p->qlen) % p->qcap] = *j;
	p->qlen++;
	pthread_cond_signal(&p->not_empty);
}

static struct job queue_pop(struct pool *p)
{
	struct job j = p->queue[p->qhead];

	p->qhead = (p->qhead + 1) % p->qcap;
	p->qlen--;
	pthread_cond_signal(&p->not_full);
	return j;
}

/* ---- workers ---------------------------------------------------------------- */

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Lesson 02's echo loop. The worker is taken until the client leaves. */
static void echo_client(int fd, const char *who, int id)
{
	char buf[16384];
	long long echoed = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recv from %s:", who);
			break;
		}
		if (send_all(fd, buf, (size_t)n) < 0) {
			warn("send to %s:", who);
			break;
		}
		echoed += n;
	}
	printf("worker %d: client %s disconnected (%lld bytes echoed)\n",
	       id, who, echoed);
}

/* A worker: take the oldest queued connection, serve it, repeat. */
static void *work(void *arg)
{
	struct worker *self = arg;
	struct pool *p = self->pool;
	int id = (int)(self - p->workers) + 1;

	/* EXERCISE 1: the worker's loop: take a queued connection, serve it, close it, repeat */
	for (;;) {
		struct job j;

		pthread_mutex_lock(&p->lock);
		while (!p->stopping && p->qlen == 0)
			pthread_cond_wait(&p->not_empty, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL; /* the main thread closes what is still queued */
		}
		j = queue_pop(p);
		self->fd = j.fd; /* so that a stop can shut it down */
		p->busy++;
		pthread_mutex_unlock(&p->lock);

		printf("worker %d: serving %s\n", id, j.who);
		echo_client(j.fd, j.who, id);

		/* Forget the fd before the number can be reused, both under
		 * the lock the stopping thread takes (lesson 06 says why). */
		pthread_mutex_lock(&p->lock);
		self->fd = -1;
		close(j.fd);
		p->busy--;
		pthread_mutex_unlock(&p->lock);
	}
	/* END EXERCISE 1 */
}

/* ---- stopping ----------------------------------------------------------------- */

/* The one thread that receives SIGINT and SIGTERM: every thread has them
 * blocked, so the kernel keeps them pending until sigwait() takes one.
 * Then, as plain code, it may lock, wake every waiting thread and
 * shutdown() every socket a thread is blocked on. */
static void *wait_for_stop(void *arg)
{
	struct pool *p = arg;
	sigset_t stop_signals;
	int sig = 0;

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	while (sigwait(&stop_signals, &sig) != 0)
		;

	/* EXERCISE 3: on a stop signal: wake every thread and every blocked call, so all end */
	pthread_mutex_lock(&p->lock);
	if (!p->stopping)
		p->stop_signal = sig; /* not a stop the main thread asked for */
	p->stopping = 1;
	pthread_cond_broadcast(&p->not_empty);
	pthread_cond_broadcast(&p->not_full);
	/* A blocked accept() returns at once (EINVAL); a worker's recv()
	 * returns 0 and its send() fails with EPIPE. */
	shutdown(p->listener, SHUT_RDWR);
	for (int i = 0; i < p->nworkers; i++)
		if (p->workers[i].fd >= 0)
			shutdown(p->workers[i].fd, SHUT_RDWR);
	pthread_mutex_unlock(&p->lock);
	/* END EXERCISE 3 */
	return NULL;
}

/* ---- accepting ------------------------------------------------------------------ */

/* Wait, with the lock held, until a queue slot is free or we are stopping.
 * Returns non-zero when stopping. This is where back-pressure happens:
 * while we wait here nobody calls accept(). (A full queue with a worker
 * still free empties in a moment: that is not worth a line.) */
static int wait_for_room(struct pool *p)
{
	/* EXERCISE 2: back-pressure: while the queue is full, wait for room */
	int said = 0;

	while (!p->stopping && p->qlen == p->qcap) {
		if (!said && p->busy == p->nworkers) {
			printf("queue full (%d waiting, all %d workers busy): not accepting\n",
			       p->qlen, p->nworkers);
			said = 1;
		}
		pthread_cond_wait(&p->not_full, &p->lock);
	}
	return p->stopping;
	/* END EXERCISE 2 */
}

/* Out of descriptors or memory: wait PAUSE_MS before the next accept()
 * (retrying at once would fail at once, at 100% CPU), but wake early if
 * we are told to stop. Returns non-zero when stopping. */
static int pause_briefly(struct pool *p)
{
	struct timespec until;
	int stopping;

	clock_gettime(CLOCK_REALTIME, &until); /* the condvar's default clock */
	until.tv_nsec += PAUSE_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stopping &&
	       pthread_cond_timedwait(&p->not_full, &p->lock, &until) != ETIMEDOUT)
		;
	stopping = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return stopping;
}

static int accept_clients(struct pool *p)
{
	int out_of_resources = 0;

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		struct job j;
		int stopping;

		pthread_mutex_lock(&p->lock);
		stopping = wait_for_room(p);
		pthread_mutex_unlock(&p->lock);
		if (stopping)
			return EXIT_OK;

		j.fd = accept(p->listener, (struct sockaddr *)&peer, &peerlen);
		if (j.fd < 0) {
			int e = errno;

			pthread_mutex_lock(&p->lock);
			stopping = p->stopping;
			pthread_mutex_unlock(&p->lock);
			if (stopping)
				return EXIT_OK;
			if (e == EINTR || e == ECONNABORTED)
				continue;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
				errno = e;
				if (!out_of_resources)
					warn("accept (pausing %d ms):", PAUSE_MS);
				out_of_resources = 1;
				if (pause_briefly(p))
					return EXIT_OK;
				continue;
			}
			errno = e;
			warn("accept:");
			return EXIT_RUNTIME;
		}
		out_of_resources = 0;
		if (sl_addr_format((struct sockaddr *)&peer, peerlen, j.who, sizeof(j.who)) == NULL)
			snprintf(j.who, sizeof(j.who), "(unknown address)");

		pthread_mutex_lock(&p->lock);
		queue_push(p, &j); /* wait_for_room() made sure there is a slot */
		printf("client %s connected: %d in the queue\n", j.who, p->qlen);
		pthread_mutex_unlock(&p->lock);
	}
}

/* ---- setting up and tearing down --------------------------------------------------- */

static int start_workers(struct pool *p)
{
	for (int i = 0; i < p->nworkers; i++) {
		int rc;

		p->workers[i].pool = p;
		p->workers[i].fd = -1;
		rc = pthread_create(&p->workers[i].tid, NULL, work, &p->workers[i]);
		if (rc != 0) {
			errno = rc;
			warn("pthread_create for worker %d:", i + 1);
			return i; /* how many were started */
		}
	}
	return p->nworkers;
}

/* Tell every thread to stop and wait for each. started is how many
 * workers exist; the stop thread is woken by a signal of its own. */
static void stop_threads(struct pool *p, int started, pthread_t stopper)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_mutex_unlock(&p->lock);
	/* If no signal came, the stop thread still sits in sigwait(). */
	pthread_kill(stopper, SIGTERM);
	pthread_join(stopper, NULL);
	for (int i = 0; i < started; i++)
		pthread_join(p->workers[i].tid, NULL);
	/* Connections accepted but never served: close them (the client
	 * reads end of file). */
	while (p->qlen > 0) {
		struct job j = queue_pop(p);

		close(j.fd);
	}
}

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct options opt;
	struct pool p;
	sigset_t stop_signals;
	pthread_t stopper;
	int started, status, rc;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Block SIGINT and SIGTERM before any thread exists: every thread
	 * inherits the mask, and only sigwait() will ever take them. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	rc = pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	if (rc != 0) {
		errno = rc;
		die("pthread_sigmask:");
	}

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.not_empty, NULL);
	pthread_cond_init(&p.not_full, NULL);
	p.qcap = opt.queue;
	p.nworkers = opt.workers;
	p.queue = calloc((size_t)p.qcap, sizeof(*p.queue));
	p.workers = calloc((size_t)p.nworkers, sizeof(*p.workers));
	if (p.queue == NULL || p.workers == NULL)
		die("calloc:");

	p.listener = sl_tcp_listen(opt.host, opt.port, BACKLOG, NULL, NULL, err);
	if (p.listener < 0)
		die("%s", err);

	rc = pthread_create(&stopper, NULL, wait_for_stop, &p);
	if (rc != 0) {
		errno = rc;
		die("pthread_create:");
	}
	started = start_workers(&p);
	if (started == p.nworkers) {
		announce_listening(p.listener);
		printf("%d workers, a queue of %d\n", p.nworkers, p.qcap);
		status = accept_clients(&p);
	} else {
		status = EXIT_RUNTIME;
	}

	stop_threads(&p, started, stopper);
	close(p.listener);
	if (p.stop_signal != 0)
		printf("stopping: signal received\n");
	free(p.queue);
	free(p.workers);
	pthread_cond_destroy(&p.not_full);
	pthread_cond_destroy(&p.not_empty);
	pthread_mutex_destroy(&p.lock);
	return status;
}
