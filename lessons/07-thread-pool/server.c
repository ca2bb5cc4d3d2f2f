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
#define PAUSE_MS 100

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

static const char *host = DEFAULT_HOST, *port = "0";
static long nworkers = 4, queue_size = 8; /* -w, -q */

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static void block_stop_signals(void);
static void stop_signals(sigset_t *set);
static void pool_init(struct pool *p);
static int start_threads(struct pool *p, pthread_t *stopper);
static void *work(void *arg);
static struct job queue_pop(struct pool *p);
static void echo_client(int fd, const char *who, int id);
static void *wait_for_stop(void *arg);
static int accept_clients(struct pool *p);
static int wait_for_room(struct pool *p);
static int pause_briefly(struct pool *p);
static void queue_push(struct pool *p, const struct job *j);
static void stop_threads(struct pool *p, int started, pthread_t stopper);
static void pool_free(struct pool *p);

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN];
	struct pool p;
	pthread_t stopper;
	int started, status = EXIT_RUNTIME;

	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	block_stop_signals();
	pool_init(&p);
	p.listener = sl_tcp_listen(host, port, BACKLOG, NULL, NULL, err);
	if (p.listener < 0)
		die("%s", err);

	started = start_threads(&p, &stopper);
	if (started == p.nworkers) {
		announce_listening(p.listener);
		printf("%d workers, a queue of %d\n", p.nworkers, p.qcap);
		status = accept_clients(&p);
	}

	stop_threads(&p, started, stopper);
	close(p.listener);
	if (p.stop_signal != 0)
		printf("stopping: signal received\n");
	pool_free(&p);
	return status;
}

/* Not lesson 02's stop handler (see Signals, above): SIGINT and SIGTERM
 * are blocked before any thread exists, every thread inherits the mask,
 * and only sigwait() in wait_for_stop() will ever take them. */
static void block_stop_signals(void)
{
	sigset_t sigs;
	int rc;

	stop_signals(&sigs);
	rc = pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (rc != 0) {
		errno = rc; /* pthread functions return their error */
		die("pthread_sigmask:");
	}
}

/* SIGINT and SIGTERM: the signals that stop the server. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

/* An empty queue of -q slots and -w idle workers. */
static void pool_init(struct pool *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->not_empty, NULL);
	pthread_cond_init(&p->not_full, NULL);
	p->qcap = (int)queue_size;
	p->nworkers = (int)nworkers;
	p->queue = calloc((size_t)p->qcap, sizeof(*p->queue));
	p->workers = calloc((size_t)p->nworkers, sizeof(*p->workers));
	if (p->queue == NULL || p->workers == NULL)
		die("calloc:");
}

/* Start the workers, and the thread that waits for a stop signal.
 * Returns how many workers were started. */
static int start_threads(struct pool *p, pthread_t *stopper)
{
	int rc, i;

	for (i = 0; i < p->nworkers; i++) {
		p->workers[i].pool = p;
		p->workers[i].fd = -1;
		rc = pthread_create(&p->workers[i].tid, NULL, work, &p->workers[i]);
		if (rc != 0) {
			errno = rc;
			warn("pthread_create for worker %d:", i + 1);
			break;
		}
	}
	rc = pthread_create(stopper, NULL, wait_for_stop, p);
	if (rc != 0) {
		errno = rc;
		die("pthread_create:");
	}
	return i;
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

/* Take the oldest job from the queue, a ring of qcap jobs (call with
 * p->lock held). */
static struct job queue_pop(struct pool *p)
{
	struct job j = p->queue[p->qhead];

	p->qhead = (p->qhead + 1) % p->qcap;
	p->qlen--;
	pthread_cond_signal(&p->not_full);
	return j;
}

/* Lesson 02's echo loop (sl_io_write_all() is its send_all(), from the
 * library). The worker is taken until the client leaves. */
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
		if (sl_io_write_all(fd, buf, (size_t)n) < 0) {
			warn("send to %s:", who);
			break;
		}
		echoed += n;
	}
	printf("worker %d: client %s disconnected (%lld bytes echoed)\n",
	       id, who, echoed);
}

/* The one thread that receives SIGINT and SIGTERM: every thread has them
 * blocked, so the kernel keeps them pending until sigwait() takes one.
 * Then, as plain code, it may lock, wake every waiting thread and
 * shutdown() every socket a thread is blocked on. */
static void *wait_for_stop(void *arg)
{
	struct pool *p = arg;
	sigset_t sigs;
	int sig = 0;

	stop_signals(&sigs);
	while (sigwait(&sigs, &sig) != 0)
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

/* Accept clients and queue them for the workers, until told to stop. */
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

/* Add a job at the end of the ring (call with p->lock held). */
static void queue_push(struct pool *p, const struct job *j)
{
	p->queue[(p->qhead + p->qlen) % p->qcap] = *j;
	p->qlen++;
	pthread_cond_signal(&p->not_empty);
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

static void pool_free(struct pool *p)
{
	free(p->queue);
	free(p->workers);
	pthread_cond_destroy(&p->not_full);
	pthread_cond_destroy(&p->not_empty);
	pthread_mutex_destroy(&p->lock);
}

/* ---- Plumbing: the command line ---------------------------------------- */

static void parse_options(int argc, char **argv)
{
	const struct lesson_opt options[] = {
		OPT_BIND(&host, "address to listen on (default " DEFAULT_HOST ")"),
		OPT_PORT(&port, "port to listen on (default 0: any free port)"),
		{ 'w', "workers", OPT_NUMBER, &nworkers, "N", "worker threads (default 4)",
		  .what = "worker count", .min = 1, .max = 1024 },
		{ 'q', "queue", OPT_NUMBER, &queue_size, "N",
		  "connections that may wait for a worker (default 8);\n"
		  "when they are all taken, accept() waits",
		  .what = "queue size", .min = 1, .max = 65536 },
		{ 0 }
	};

	lesson_options(argc, argv, &(struct lesson_cli){
		.about = "The echo server with a pool of worker threads (lesson 07): the main\n"
			 "thread accepts and queues connections, N workers serve them.",
		.opts = options,
	});
}
