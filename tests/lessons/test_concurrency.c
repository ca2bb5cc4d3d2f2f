/* test_concurrency.c — one suite for every echo server design.
 *
 * Every lesson whose lesson.conf names an echo server is run against the
 * same checks. An echo server speaks lesson 02's protocol (bytes in, the
 * same bytes back, until end of file), takes -b ADDR and -p PORT, and
 * prints "listening on ADDR:PORT". The keys, in lessons/NN-topic/lesson.conf:
 *
 *   echo-server = PROG [ARG...]     the program (in that lesson's build
 *                                   folder) and any arguments it needs;
 *                                   the suite adds -b 127.0.0.1 -p 0
 *   echo-server.NAME = PROG [ARG...]  one more design from the same lesson,
 *                                   tested as NN-topic.NAME (e.g.
 *                                   echo-server.edge = server -e)
 *   echo-server-args[.NAME] = ARG...  arguments appended to that entry
 *   echo-server-limit[.NAME] = N    the design serves at most N clients at
 *                                   once, by design (lesson 02's iterative
 *                                   server: 1; a pool of N workers: N). The
 *                                   checks then expect client N+1 to wait,
 *                                   and assert that it does.
 *   echo-server-children[.NAME] = N the server keeps N child processes for
 *                                   its whole life (worker processes): at
 *                                   rest it has N children, not 0. Their
 *                                   descriptors and threads are counted
 *                                   with the server's, and their fd limit
 *                                   is lowered with its.
 *
 * What each check proves, for each design:
 *  - concurrent: 100 clients at once — lesson 02's client, `nc -N` and
 *    Python's socket module in turn — each send 1,000 lines of random
 *    length and random bytes, and each gets every byte back, in order;
 *  - idle: ten clients that connect and send nothing, one that sends half
 *    a line, and one that sends without ever reading until its buffers
 *    fill, do not stop another client from being served; the one that
 *    never reads could push only a bounded amount (the server stopped
 *    taking its bytes instead of buffering them without end), and once it
 *    reads it gets every byte back in order. With a limit of N, N such
 *    clients make the next one wait (no reply at all), and freeing one
 *    lets it through;
 *  - resets: clients that reset their connection (SO_LINGER {1, 0}) in
 *    the middle of a line, in the middle of an echo, or at once, neither
 *    crash the server nor leak: a new client is served, and the server's
 *    open descriptors, threads and child processes (its own and those of
 *    its resident children) are back where they started, with no zombie;
 *  - cycles: after 1,000 connect/disconnect cycles, the same;
 *  - fd exhaustion: with the server's RLIMIT_NOFILE lowered (prlimit()
 *    on the running server) until accept() fails with EMFILE and clients
 *    wait, the server does not spin (its CPU time over a window stays
 *    under a tenth of it), does not die, and serves again once its
 *    descriptors are free (skipped under valgrind, which cannot run
 *    with its limit lowered);
 *  - mass disconnect: in one burst, half of 40 connected clients close or
 *    reset while the other half send; each survivor gets exactly its own
 *    bytes back (an event loop that mixes up its slots, or loses an
 *    event, fails here); skipped for designs with a limit;
 *  - stop: SIGTERM with clients connected, mid-echo and idle, makes the
 *    server exit 0 and every client sees its connection end: no process
 *    or thread serves on after the server has stopped.
 * Every check starts a fresh server, serves it one client, and waits until
 * it is at rest (its descriptor and thread counts steady, only its
 * resident children); it ends by stopping the server with SIGTERM, which
 * must make it exit 0 (under SOCKLAB_VALGRIND=1 also leak- and fd-clean).
 *
 * Lesson 02's iterative server belongs here too, with echo-server-limit = 1:
 * that it serves one client at a time is its lesson, and the idle check
 * asserts it (with one client connected, the next gets no reply until the
 * first leaves), where the other designs must serve everyone.
 *
 * Environment:
 *   SOCKLAB_SUITE_ONLY=05-fork,10-epoll   test only these (a lesson
 *                        folder, a NN-topic.NAME design, or a number)
 *   SOCKLAB_SUITE_SCALE=0.1   multiply the counts (clients, lines,
 *                        cycles, resets) by this; the default, 1, is the
 *                        issue's numbers. Under SOCKLAB_VALGRIND=1 the
 *                        default is 0.1: there the point is leaks and fds
 *                        at exit, and valgrind runs programs ~20x slower.
 *   SOCKLAB_BUILD, SOCKLAB_VALGRIND       as for every lesson test.
 * Only 127.0.0.1 and port 0; every loop is bounded in count and time.
 * Run from the top of the source tree (lessons/ is read from there).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lessonconf.h"

/* ---- the numbers, and the deadlines ----------------------------------- */

#define CLIENTS 100          /* concurrent clients */
#define LINES 1000           /* lines each */
#define MAX_LINE_LEN 150     /* random line length 0..150, plus '\n' */
#define CYCLES 1000          /* connect/disconnect cycles */
#define ROUND_TRIP_EVERY 10  /* a cycle in ten also echoes a line */
#define RESETS 60            /* connections reset mid-way */
#define IDLE 10              /* idle clients */
#define STORM 40             /* clients in the mass disconnect */
#define STORM_ROUNDS 3
#define HELD 16              /* clients held during fd exhaustion */
#define FD_HEADROOM 6        /* descriptors the server may still open */

#define DEADLINE_MS 20000    /* anything that should take milliseconds */
#define CLIENTS_DEADLINE_MS 180000 /* the 100 concurrent clients, all told */
#define QUIET_MS 500         /* "no reply within this long" */
#define STALL_MS 700         /* the pusher stops after this long stuck */
#define PUSH_CAP (128u << 20) /* a server that buffers without bound takes it all */
#define CPU_WINDOW_MS 1500   /* CPU time measured over this window... */
#define CPU_MAX_SHARE 10     /* ...must stay under 1/10 of it */

#define MAX_ARGS 24
#define MAX_KIDS 1000        /* at most this many concurrent clients */
#define NEVER "\001\002never printed\002\001"

/* ---- small helpers ------------------------------------------------------------ */

/* Our deadlines stretch under valgrind as the harness's do. */
static int ms(int t)
{
	return h_under_valgrind() ? t * 10 : t;
}

static double suite_scale(void)
{
	const char *s = getenv("SOCKLAB_SUITE_SCALE");
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return h_under_valgrind() ? 0.1 : 1.0;
	v = strtod(s, &end);
	if (*end != '\0' || !(v > 0) || v > 100) {
		fprintf(stderr, "SOCKLAB_SUITE_SCALE='%s': expected a number above 0\n", s);
		exit(2);
	}
	return v;
}

static int scaled_count(int n)
{
	double v = n * suite_scale() + 0.5;

	return v < 1 ? 1 : v > 1e6 ? 1000000 : (int)v;
}

static void sleep_ms(int t)
{
	struct timespec ts = { t / 1000, (long)(t % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A tiny reproducible generator for line lengths and bytes. */
static unsigned long long next_random(unsigned long long *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* ---- what /proc says about the server ---------------------------------------------- */

struct pstat {
	char state;                  /* R S D Z ... */
	pid_t ppid;
	unsigned long long cpu;      /* utime + stime, clock ticks */
};

static int read_pstat(pid_t pid, struct pstat *st)
{
	char path[64], buf[1024];
	const char *p;
	unsigned long long ut, stt;
	int ppid;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name is in parentheses and may hold anything, even
	 * ") ": the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &st->state, &ppid, &ut, &stt) != 4)
		return -1;
	st->ppid = ppid;
	st->cpu = ut + stt;
	return 0;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int count_tasks(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	return count_dir(path);
}

#define MAX_LISTED 64

/* Child processes of pid: how many, how many of them are zombies, and the
 * pids of the first max living ones (in out, when not NULL). */
static int list_children(pid_t pid, int *zombies, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, listed = 0;

	*zombies = 0;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		struct pstat st;
		pid_t child;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		child = (pid_t)atoi(e->d_name);
		if (read_pstat(child, &st) < 0 || st.ppid != pid)
			continue;
		n++;
		if (st.state == 'Z')
			(*zombies)++;
		else if (out != NULL && listed < max)
			out[listed++] = child;
	}
	closedir(d);
	if (out != NULL && listed < max)
		out[listed] = 0;
	return n;
}

/* The lowest descriptor number the process has free: the one its next
 * accept() would get. */
static int lowest_free_fd(pid_t pid)
{
	static unsigned char used[65536];
	char path[64];
	DIR *d;
	struct dirent *e;
	int fd = 0;

	memset(used, 0, sizeof(used));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int n = atoi(e->d_name);

		if (e->d_name[0] != '.' && n >= 0 && n < (int)sizeof(used))
			used[n] = 1;
	}
	closedir(d);
	while (fd < (int)sizeof(used) && used[fd])
		fd++;
	return fd;
}

static int alive(pid_t pid)
{
	struct pstat st;

	return read_pstat(pid, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

/* ---- the designs -------------------------------------------------------------------- */

struct design {
	char label[96];        /* "05-fork", or "10-epoll.edge" */
	char lesson[64];
	char prog[64];
	char *args[MAX_ARGS];  /* from the echo-server line, then -args */
	int nargs;
	int limit;             /* clients served at once; 0: no limit */
	int children;          /* child processes at rest */
};

static struct design *designs;
static int ndesigns;

static struct design *design_for(const char *lesson, const char *name)
{
	char label[96];
	struct design *d;

	if (*name != '\0')
		snprintf(label, sizeof(label), "%s.%s", lesson, name);
	else
		snprintf(label, sizeof(label), "%s", lesson);
	for (int i = 0; i < ndesigns; i++)
		if (strcmp(designs[i].label, label) == 0)
			return &designs[i];
	d = realloc(designs, (size_t)(ndesigns + 1) * sizeof(*d));
	if (d == NULL) {
		perror("realloc");
		exit(1);
	}
	designs = d;
	d = &designs[ndesigns++];
	memset(d, 0, sizeof(*d));
	snprintf(d->label, sizeof(d->label), "%s", label);
	snprintf(d->lesson, sizeof(d->lesson), "%s", lesson);
	return d;
}

/* Split value at spaces into d->args (the first word into prog when
 * want_prog is set). */
static void add_words(struct design *d, const char *value, int want_prog, const char *where)
{
	char *copy = strdup(value), *save = NULL;

	if (copy == NULL) {
		perror("strdup");
		exit(1);
	}
	for (char *w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (want_prog) {
			snprintf(d->prog, sizeof(d->prog), "%s", w);
			want_prog = 0;
			continue;
		}
		if (d->nargs >= MAX_ARGS - 1) {
			fprintf(stderr, "%s: too many arguments\n", where);
			exit(1);
		}
		d->args[d->nargs] = strdup(w);
		if (d->args[d->nargs] == NULL) {
			perror("strdup");
			exit(1);
		}
		d->nargs++;
	}
	free(copy);
}

/* A number of an echo-server-limit or -children line, or exit. */
static int conf_number(const struct sl_lessonconf *c, const struct sl_conf_entry *e,
		       long min, long max)
{
	char err[SL_ERR_LEN];
	long v;

	if (sl_lessonconf_number(c, e, min, max, &v, err) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return (int)v;
}

/* The echo-server keys of one lesson's lesson.conf (lib/lessonconf.c
 * reads it). Each "echo-server[.NAME]" line is a design; the -args lines
 * add to their design's program line, wherever they stand in the file. */
static void read_conf(const char *lesson)
{
	char path[PATH_MAX], err[SL_ERR_LEN], where[PATH_MAX + 16];
	struct sl_lessonconf c;
	const struct sl_conf_entry *e;
	const char *name;
	size_t i = 0;

	snprintf(path, sizeof(path), "lessons/%s/lesson.conf", lesson);
	if (sl_lessonconf_read(&c, path, err) < 0) {
		if (errno == ENOENT)
			return;
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	while ((e = sl_lessonconf_next(&c, NULL, &i)) != NULL) {
		snprintf(where, sizeof(where), "%s:%d", path, e->line);
		if (sl_lessonconf_named(e->key, "echo-server", &name))
			add_words(design_for(lesson, name), e->value, 1, where);
		else if (sl_lessonconf_named(e->key, "echo-server-limit", &name))
			design_for(lesson, name)->limit = conf_number(&c, e, 1, 1000);
		else if (sl_lessonconf_named(e->key, "echo-server-children", &name))
			design_for(lesson, name)->children = conf_number(&c, e, 0, 1000);
	}
	i = 0;
	while ((e = sl_lessonconf_next(&c, NULL, &i)) != NULL) {
		snprintf(where, sizeof(where), "%s:%d", path, e->line);
		if (sl_lessonconf_named(e->key, "echo-server-args", &name))
			add_words(design_for(lesson, name), e->value, 0, where);
	}
	sl_lessonconf_free(&c);
}

static int by_label(const void *a, const void *b)
{
	return strcmp(((const struct design *)a)->label, ((const struct design *)b)->label);
}

/* Is the design named in SOCKLAB_SUITE_ONLY (or is there no such list)? */
static int wanted(const struct design *d)
{
	const char *only = getenv("SOCKLAB_SUITE_ONLY");
	char list[1024], *save = NULL;

	if (only == NULL || *only == '\0')
		return 1;
	snprintf(list, sizeof(list), "%s", only);
	for (char *w = strtok_r(list, ", ", &save); w != NULL; w = strtok_r(NULL, ", ", &save)) {
		size_t n = strlen(w);

		if (strcmp(w, d->label) == 0 || strcmp(w, d->lesson) == 0)
			return 1;
		/* "05" names 05-fork and all its designs. */
		if (strncmp(w, d->lesson, n) == 0 && d->lesson[n] == '-')
			return 1;
	}
	return 0;
}

static void discover(void)
{
	DIR *dir = opendir("lessons");
	struct dirent *e;
	int kept = 0;

	if (dir == NULL) {
		perror("opendir lessons (run from the top of the source tree)");
		exit(1);
	}
	while ((e = readdir(dir)) != NULL)
		if (isdigit((unsigned char)e->d_name[0]) && strchr(e->d_name, '-') != NULL)
			read_conf(e->d_name);
	closedir(dir);
	/* A design without a program line (only -args or -limit) is a typo. */
	for (int i = 0; i < ndesigns; i++) {
		if (designs[i].prog[0] == '\0') {
			fprintf(stderr, "lessons/%s/lesson.conf: '%s' has no echo-server line\n",
				designs[i].lesson, designs[i].label);
			exit(1);
		}
		if (wanted(&designs[i])) {
			designs[kept++] = designs[i];
		} else {
			for (int k = 0; k < designs[i].nargs; k++)
				free(designs[i].args[k]);
		}
	}
	ndesigns = kept;
	qsort(designs, (size_t)ndesigns, sizeof(*designs), by_label);
}

/* ---- one test's world: the server, and everything the test opened ---------------- */

struct ctx {
	const struct design *d;
	struct h_proc *srv;
	int base_fds, base_tasks;      /* the server at rest */
	unsigned char own_fds[1024];   /* the test's own fds when it began */
	pid_t kids[MAX_KIDS];          /* client processes not yet waited for */
	int nkids;
	char tmpdir[64];
	pid_t lowered[MAX_LISTED + 1]; /* processes whose fd limit we lowered */
	struct rlimit saved_nofile[MAX_LISTED + 1];
	int nlowered;
	int saw_eof;                   /* the last recv_for() met the end */
};

/* Read what the server prints for about t ms, so that it never blocks on
 * a full pipe (the harness keeps the first 64 KiB and drops the rest). */
static void pump(struct ctx *c, int t)
{
	long long until = h_now_ms() + t;

	/* The harness stretches its waits tenfold under valgrind; this one
	 * is a pause, not a deadline. */
	h_wait_output(c->srv, "out", NEVER, h_under_valgrind() ? (t + 9) / 10 : t);
	if (h_now_ms() < until) /* both pipes closed: the server is gone */
		sleep_ms((int)(until - h_now_ms()));
}

/* pump() for the harness's waits (h_push_pattern, h_pattern_back). */
static void pump_idle(void *c, int t)
{
	pump(c, t);
}

static void snapshot_own_fds(struct ctx *c)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	memset(c->own_fds, 0, sizeof(c->own_fds));
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int n = atoi(e->d_name);

		if (e->d_name[0] != '.' && n >= 0 && n < (int)sizeof(c->own_fds))
			c->own_fds[n] = 1;
	}
	closedir(d);
}

/* Close every fd the test opened and did not close (after a failed
 * assertion, for instance): a socket left open would hold a connection,
 * and a server process, past the test. */
static void close_strays(struct ctx *c)
{
	unsigned char now[sizeof(c->own_fds)];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d != NULL ? dirfd(d) : -1;

	memset(now, 0, sizeof(now));
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int n = atoi(e->d_name);

		if (e->d_name[0] != '.' && n >= 0 && n < (int)sizeof(now) && n != self)
			now[n] = 1;
	}
	closedir(d);
	for (int fd = 3; fd < (int)sizeof(now); fd++)
		if (now[fd] && !c->own_fds[fd])
			close(fd);
}

struct census {
	int fds, tasks, children, zombies;
};

/* The server and its living children: their descriptors and threads
 * added up, and how many children (zombies among them). At rest, the only
 * children are the design's resident ones. */
static void take_census(const struct ctx *c, struct census *s)
{
	pid_t kids[MAX_LISTED + 1];

	s->fds = h_count_fds(c->srv->pid);
	s->tasks = count_tasks(c->srv->pid);
	s->children = list_children(c->srv->pid, &s->zombies, kids, MAX_LISTED);
	for (int i = 0; i < MAX_LISTED && kids[i] > 0; i++) {
		s->fds += h_count_fds(kids[i]);
		s->tasks += count_tasks(kids[i]);
	}
}

/* Wait until the server is back at rest: the descriptors and threads it
 * had after setup, no child processes, no zombies. */
static void assert_back_to_rest(struct ctx *c, const char *after)
{
	long long deadline = h_now_ms() + ms(DEADLINE_MS);
	struct census s;

	for (;;) {
		take_census(c, &s);
		if (s.fds == c->base_fds && s.tasks == c->base_tasks &&
		    s.children == c->d->children && s.zombies == 0)
			return;
		if (h_now_ms() >= deadline)
			break;
		pump(c, 50);
	}
	fail_msg("%s: after %s the server has %d fds (had %d), %d threads (had %d), "
		 "%d child processes (had %d), %d of them zombies",
		 c->d->label, after, s.fds, c->base_fds, s.tasks, c->base_tasks,
		 s.children, c->d->children, s.zombies);
}

static void assert_alive(struct ctx *c, const char *after)
{
	if (!alive(c->srv->pid)) {
		h_wait_exit(c->srv, 1000);
		fail_msg("%s: the server died after %s; its stderr:\n%s", c->d->label,
			 after, c->srv->errbuf);
	}
}

/* ---- sockets -------------------------------------------------------------------------- */

static int connect_server(struct ctx *c)
{
	int fd = h_connect(c->srv->port, ms(DEADLINE_MS));

	if (fd < 0)
		fail_msg("%s: connect to port %s: %s", c->d->label, c->srv->port, strerror(errno));
	return fd;
}

static void send_all_or_fail(struct ctx *c, int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_msg("%s: send: %s", c->d->label, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Receive until len bytes came, the peer closed, or t ms passed; pumps
 * the server's output meanwhile. Returns the bytes received. */
static size_t recv_for(struct ctx *c, int fd, void *buf, size_t len, int t)
{
	long long deadline = h_now_ms() + t;
	size_t got = 0;

	c->saw_eof = 0;
	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - h_now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(&pfd, 1, left < 50 ? (int)left : 50);
		if (r == 0) {
			pump(c, 1);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			c->saw_eof = 1; /* end of file, or reset */
			break;
		}
		got += (size_t)n;
	}
	return got;
}

/* Send text, expect it back exactly, within the deadline. */
static void assert_echo(struct ctx *c, int fd, const char *text, const char *who)
{
	size_t len = strlen(text);
	char back[512];
	size_t got;

	assert_true(len < sizeof(back));
	send_all_or_fail(c, fd, text, len);
	got = recv_for(c, fd, back, len, ms(DEADLINE_MS));
	if (got != len || memcmp(back, text, len) != 0)
		fail_msg("%s: %s: sent %zu bytes, got %zu back%s", c->d->label, who, len,
			 got, got == len ? ", different" : "");
}

/* A whole client session in this process: connect, send, half-close,
 * read the echo, then the server's end of file. */
static void assert_session(struct ctx *c, const char *text, const char *who)
{
	int fd = connect_server(c);
	size_t len = strlen(text);
	char back[4096];
	size_t got;

	assert_true(len < sizeof(back));
	send_all_or_fail(c, fd, text, len);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	got = recv_for(c, fd, back, len, ms(DEADLINE_MS));
	if (got != len || memcmp(back, text, len) != 0) {
		close(fd);
		fail_msg("%s: %s: sent %zu bytes, got %zu back%s", c->d->label, who, len,
			 got, got == len ? " (different bytes)" : "");
	}
	/* Our FIN reached the server: it must finish and close its side. */
	got = recv_for(c, fd, back, sizeof(back), ms(DEADLINE_MS));
	close(fd);
	if (got != 0)
		fail_msg("%s: %s: %zu bytes more than were sent came back", c->d->label,
			 who, got);
	if (!c->saw_eof)
		fail_msg("%s: %s: the server never closed the connection after the "
			 "client's end of file", c->d->label, who);
}

/* Close with SO_LINGER {1, 0}: the kernel throws away what is unsent and
 * sends RST instead of FIN. The server's next recv() or send() on it
 * fails with ECONNRESET (or EPIPE). */
static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---- fixtures ------------------------------------------------------------------------- */

static void start_server(struct ctx *c)
{
	char *argv[MAX_ARGS + 8];
	int i = 0;

	c->srv = calloc(1, sizeof(*c->srv));
	assert_non_null(c->srv);
	argv[i++] = strdup(h_lesson(c->d->lesson, c->d->prog));
	argv[i++] = "-b";
	argv[i++] = "127.0.0.1";
	argv[i++] = "-p";
	argv[i++] = "0";
	for (int k = 0; k < c->d->nargs; k++)
		argv[i++] = c->d->args[k];
	argv[i] = NULL;
	assert_non_null(argv[0]);
	if (access(argv[0], X_OK) < 0) {
		free(argv[0]);
		fail_msg("%s: %s is not built", c->d->label, h_lesson(c->d->lesson, c->d->prog));
	}
	assert_int_equal(h_start(c->srv, argv), 0);
	free(argv[0]);
	if (h_wait_listening(c->srv, DEADLINE_MS) < 0) {
		h_stop(c->srv, SIGKILL, 1000);
		fail_msg("%s: never said 'listening on'; stdout:\n%s\nstderr:\n%s",
			 c->d->label, c->srv->outbuf, c->srv->errbuf);
	}
	assert_true(strncmp(c->srv->addr, "127.0.0.1:", 10) == 0);
}

/* The server at rest: after one client, wait until three looks in a row
 * (50 ms apart) agree and no child process is left. Every check starts
 * here, and ends by asserting the server is back to this. */
static struct ctx *begin(void **state)
{
	struct ctx *c = *state;
	long long deadline;
	struct census prev = { -1, -1, -1, -1 }, s;
	int same = 0;

	assert_session(c, "warm-up\n", "the first client");
	deadline = h_now_ms() + ms(DEADLINE_MS);
	while (same < 3) {
		take_census(c, &s);
		if (s.children == c->d->children && s.zombies == 0 &&
		    s.fds == prev.fds && s.tasks == prev.tasks)
			same++;
		else
			same = 0;
		prev = s;
		if (h_now_ms() >= deadline)
			fail_msg("%s: never came to rest after one client: %d child "
				 "process%s (%d of them zombies), where %d belong at rest",
				 c->d->label, s.children, s.children == 1 ? "" : "es",
				 s.zombies, c->d->children);
		pump(c, 50);
	}
	c->base_fds = s.fds;
	c->base_tasks = s.tasks;
	return c;
}

static int setup(void **state)
{
	struct ctx *c = *state;

	memset((char *)c + offsetof(struct ctx, srv), 0, sizeof(*c) - offsetof(struct ctx, srv));
	/* First the server: if it fails to start, setup fails, and no
	 * teardown will run to remove anything made before it. */
	start_server(c);
	/* mkdtemp() wants the name to end in six 'X', which it replaces. */
	snprintf(c->tmpdir, sizeof(c->tmpdir), "/tmp/socklab-suite-");
	memset(c->tmpdir + strlen(c->tmpdir), 'X', 6);
	c->tmpdir[strlen("/tmp/socklab-suite-") + 6] = '\0';
	if (mkdtemp(c->tmpdir) == NULL)
		c->tmpdir[0] = '\0';
	snapshot_own_fds(c);
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	/* Clients a failed check left running. A pid already waited for
	 * is 0 here, never killed: the number may belong to someone else. */
	for (int i = 0; i < c->nkids; i++) {
		if (c->kids[i] <= 0)
			continue;
		kill(c->kids[i], SIGKILL);
		waitpid(c->kids[i], NULL, 0);
	}
	c->nkids = 0;
	close_strays(c);
	for (int i = 0; i < c->nlowered; i++)
		prlimit(c->lowered[i], RLIMIT_NOFILE, &c->saved_nofile[i], NULL);
	c->nlowered = 0;
	rc = h_stop(c->srv, SIGTERM, DEADLINE_MS);
	if (rc != 0)
		fprintf(stderr, "%s: server exit %d after SIGTERM; its stderr:\n%s\n",
			c->d->label, rc, c->srv->errbuf);
	free(c->srv);
	c->srv = NULL;
	if (c->tmpdir[0] != '\0')
		nftw(c->tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc == 0 ? 0 : -1;
}

/* ---- check: many clients at once ---------------------------------------------------- */

static const char python_client[] =
	"import socket, sys\n"
	"data = sys.stdin.buffer.read()\n"
	"s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=300)\n"
	"s.sendall(data)\n"
	"s.shutdown(socket.SHUT_WR)\n"
	"while True:\n"
	"    chunk = s.recv(65536)\n"
	"    if not chunk:\n"
	"        break\n"
	"    sys.stdout.buffer.write(chunk)\n"
	"s.close()\n";

enum kind { OURS, NC, PYTHON };
static const char *const kind_names[] = { "lesson 02's client", "nc -N", "python3" };

/* Write count lines of random length (0..MAX_LINE_LEN bytes, any byte
 * but '\n', then '\n') to path. Returns the size. */
static size_t write_lines(const char *path, int count, unsigned seed)
{
	unsigned long long x = 0x9e3779b97f4a7c15ull ^ (seed * 2654435761ull + 1);
	char line[MAX_LINE_LEN + 1];
	size_t total = 0;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < count; i++) {
		size_t len = (size_t)(next_random(&x) % (MAX_LINE_LEN + 1));

		for (size_t k = 0; k < len; k++) {
			char b = (char)(next_random(&x) >> 32);

			line[k] = b == '\n' ? ' ' : b;
		}
		line[len] = '\n';
		assert_int_equal(fwrite(line, 1, len + 1, f), len + 1);
		total += len + 1;
	}
	assert_int_equal(fclose(f), 0);
	return total;
}

/* Start a program with stdin, stdout and stderr on files. */
static pid_t spawn(char *const argv[], const char *in, const char *out, const char *err)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	int i = open(in, O_RDONLY);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (i < 0 || o < 0 || e < 0)
		_exit(126);
	dup2(i, 0);
	dup2(o, 1);
	dup2(e, 2);
	/* None of the test's sockets may live on in a client. */
	close_range(3, ~0u, 0);
	execvp(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void file_path(char *buf, size_t size, const struct ctx *c, const char *what, int i)
{
	snprintf(buf, size, "%s/%s.%d", c->tmpdir, what, i);
}

/* Compare two files; returns -1 when equal, else the first differing
 * offset (the shorter length when one is a prefix of the other). */
static long long first_difference(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	long long off = 0;
	long long rc = 0;

	if (fa == NULL || fb == NULL) {
		rc = 0;
	} else {
		for (;;) {
			int x = getc(fa), y = getc(fb);

			if (x != y) {
				rc = off;
				break;
			}
			if (x == EOF) {
				rc = -1;
				break;
			}
			off++;
		}
	}
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return rc;
}

static void test_concurrent_clients(void **state)
{
	struct ctx *c = begin(state);
	int n = scaled_count(CLIENTS) < MAX_KIDS ? scaled_count(CLIENTS) : MAX_KIDS;
	int lines = scaled_count(LINES);
	int status[MAX_KIDS], done = 0, have_nc = h_have("nc"), have_py = h_have("python3");
	enum kind kinds[MAX_KIDS];
	char ours[PATH_MAX];
	long long deadline;

	assert_true(c->tmpdir[0] != '\0');
	snprintf(ours, sizeof(ours), "%s", h_lesson("02-tcp-echo", "client"));
	assert_int_equal(access(ours, X_OK), 0);

	for (int i = 0; i < n; i++) {
		char in[128], out[128], err[128];
		char *argv_ours[] = { ours, "-p", c->srv->port, NULL };
		char *argv_nc[] = { "nc", "-N", "127.0.0.1", c->srv->port, NULL };
		char *argv_py[] = { "python3", "-c", (char *)python_client, c->srv->port, NULL };
		char *const *argv;

		file_path(in, sizeof(in), c, "in", i);
		file_path(out, sizeof(out), c, "out", i);
		file_path(err, sizeof(err), c, "err", i);
		write_lines(in, lines, (unsigned)i + 1);
		kinds[i] = (enum kind)(i % 3);
		if ((kinds[i] == NC && !have_nc) || (kinds[i] == PYTHON && !have_py))
			kinds[i] = OURS;
		argv = kinds[i] == NC ? argv_nc : kinds[i] == PYTHON ? argv_py : argv_ours;
		status[i] = -1;
		c->kids[c->nkids] = spawn(argv, in, out, err);
		assert_true(c->kids[c->nkids] > 0);
		c->nkids++;
	}

	/* All of them run at once; wait for each, reading the server's
	 * output meanwhile. */
	deadline = h_now_ms() + ms(CLIENTS_DEADLINE_MS);
	while (done < n && h_now_ms() < deadline) {
		int progressed = 0;

		for (int i = 0; i < n; i++) {
			int st;

			if (status[i] >= 0 || waitpid(c->kids[i], &st, WNOHANG) != c->kids[i])
				continue;
			status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			c->kids[i] = 0;
			done++;
			progressed = 1;
		}
		if (!progressed)
			pump(c, 20);
	}
	if (done < n) {
		int waiting = 0;

		for (int i = 0; i < n; i++)
			waiting += status[i] < 0;
		fail_msg("%s: %d of %d clients had not finished after %d s", c->d->label,
			 waiting, n, ms(CLIENTS_DEADLINE_MS) / 1000);
	}
	c->nkids = 0; /* all waited for */

	for (int i = 0; i < n; i++) {
		char in[128], out[128], err[128], errtext[512] = "";
		long long diff;
		FILE *f;

		file_path(in, sizeof(in), c, "in", i);
		file_path(out, sizeof(out), c, "out", i);
		file_path(err, sizeof(err), c, "err", i);
		diff = first_difference(in, out);
		if (status[i] == 0 && diff < 0)
			continue;
		f = fopen(err, "r");
		if (f != NULL) {
			size_t k = fread(errtext, 1, sizeof(errtext) - 1, f);

			errtext[k] = '\0';
			fclose(f);
		}
		fail_msg("%s: client %d (%s) exited %d; its echo %s%lld; its stderr: %s",
			 c->d->label, i, kind_names[kinds[i]], status[i],
			 diff < 0 ? "was complete" : "first differs at byte ",
			 diff < 0 ? 0 : diff, errtext);
	}
	assert_alive(c, "the concurrent clients");
	assert_back_to_rest(c, "the concurrent clients");
}

/* ---- check: idle clients and one that never reads ------------------------------------- */

static void test_idle_and_stalled_clients(void **state)
{
	struct ctx *c = begin(state);
	const struct design *d = c->d;
	int nidle = d->limit > 0 ? d->limit - 1 : IDLE;
	int *idle = calloc((size_t)nidle + 1, sizeof(*idle));
	int partial = -1, stalled, probe = -1;
	const char *why;
	size_t pushed;
	char buf[64];

	assert_non_null(idle);
	for (int i = 0; i < nidle; i++)
		idle[i] = connect_server(c);
	if (d->limit == 0) {
		/* Half a line: a line-based server must wait for the rest
		 * without holding up anyone else. */
		partial = connect_server(c);
		send_all_or_fail(c, partial, "the first half of a line, ", 26);
	}

	/* Sends without ever reading: the echo fills our receive buffer,
	 * then the server's send buffer, then the server must stop taking
	 * our bytes. A server that kept reading and buffering would take
	 * all of PUSH_CAP. */
	stalled = connect_server(c);
	pushed = h_push_pattern(stalled, PUSH_CAP, STALL_MS, ms(4 * DEADLINE_MS), pump_idle, c);
	if (pushed == (size_t)-1)
		fail_msg("%s: the pushing client's send: %s", d->label, strerror(errno));
	if (pushed >= PUSH_CAP)
		fail_msg("%s: a client that never reads pushed %u MiB and the server took "
			 "it all: its memory grows without bound", d->label, PUSH_CAP >> 20);
	assert_alive(c, "a client that never reads");

	if (d->limit == 0) {
		/* Everyone else is still served, at once and completely. */
		assert_session(c, "served while others idle and one never reads\n",
			       "a client among idle ones");
	} else {
		/* The limit: every one of the design's d->limit places is
		 * taken, so this client is connected (the kernel's backlog)
		 * but not served. That is the lesson of the design. */
		probe = connect_server(c);
		send_all_or_fail(c, probe, "probe\n", 6);
		if (recv_for(c, probe, buf, sizeof(buf), ms(QUIET_MS)) != 0)
			fail_msg("%s: declares echo-server-limit = %d, yet with %d clients "
				 "taking every place, one more was served", d->label,
				 d->limit, d->limit);
	}

	/* The client that never read reads now: every byte, in order. */
	/* (The half-close first: a line-based server holds a last partial
	 * line until it knows no more is coming.) */
	why = h_pattern_back(stalled, pushed, ms(4 * DEADLINE_MS), pump_idle, c);
	if (why != NULL)
		fail_msg("%s: the client that did not read: %s", d->label, why);
	close(stalled);

	if (d->limit > 0) {
		/* A place is free: the waiting client goes through. */
		if (recv_for(c, probe, buf, 6, ms(DEADLINE_MS)) != 6 || memcmp(buf, "probe\n", 6) != 0)
			fail_msg("%s: once a place was free, the waiting client was not served",
				 d->label);
		close(probe);
	} else {
		/* The other half of the line, and the whole line comes back. */
		char line[64];
		const char *whole = "the first half of a line, and the second half\n";
		size_t len = strlen(whole);

		send_all_or_fail(c, partial, whole + 26, len - 26);
		assert_int_equal(shutdown(partial, SHUT_WR), 0);
		if (recv_for(c, partial, line, len, ms(DEADLINE_MS)) != len ||
		    memcmp(line, whole, len) != 0)
			fail_msg("%s: the client that sent half a line did not get its line",
				 d->label);
		close(partial);
	}
	for (int i = 0; i < nidle; i++)
		close(idle[i]);
	free(idle);
	assert_back_to_rest(c, "the idle clients left");
}

/* ---- check: connections reset mid-way ------------------------------------------------- */

static void test_resets(void **state)
{
	struct ctx *c = begin(state);
	int n = scaled_count(RESETS);
	static char big[256 * 1024];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)h_pattern_byte(i);
	for (int i = 0; i < n; i++) {
		int fd = connect_server(c);

		switch (i % 3) {
		case 0: /* in the middle of a line */
			send_all_or_fail(c, fd, "a line that is never fini", 25);
			break;
		case 1: /* in the middle of an echo: the server is sending to us */
			(void)send(fd, big, sizeof(big), MSG_NOSIGNAL | MSG_DONTWAIT);
			break;
		default: /* at once */
			break;
		}
		reset_close(fd);
		if (i % 10 == 9)
			pump(c, 1);
	}
	assert_alive(c, "the resets");
	assert_session(c, "served after the resets\n", "a client after the resets");
	assert_back_to_rest(c, "the resets");
}

/* ---- check: connect/disconnect cycles --------------------------------------------------- */

static void test_cycles(void **state)
{
	struct ctx *c = begin(state);
	int n = scaled_count(CYCLES);
	long long deadline = h_now_ms() + ms(6 * DEADLINE_MS);

	for (int i = 0; i < n; i++) {
		int fd = connect_server(c);

		/* Every tenth also echoes a line: the server really serves
		 * them (and a design that handles one client at a time never
		 * has more than ten waiting, well inside its backlog). */
		if (i % ROUND_TRIP_EVERY == 0) {
			char line[32];

			snprintf(line, sizeof(line), "cycle %d\n", i);
			assert_echo(c, fd, line, "a cycling client");
			pump(c, 1);
		}
		close(fd);
		if (h_now_ms() > deadline)
			fail_msg("%s: only %d of %d cycles within %d s", c->d->label, i, n,
				 ms(6 * DEADLINE_MS) / 1000);
	}
	assert_alive(c, "the cycles");
	assert_back_to_rest(c, "the connect/disconnect cycles");
}

/* ---- check: out of descriptors --------------------------------------------------------- */

static unsigned long long cpu_ticks(pid_t pid)
{
	struct pstat st;

	return read_pstat(pid, &st) == 0 ? st.cpu : 0;
}

/* CPU time of the server and of its living children, in clock ticks. */
static unsigned long long server_cpu(pid_t pid)
{
	pid_t kids[MAX_LISTED + 1];
	unsigned long long t = cpu_ticks(pid);
	int z;

	list_children(pid, &z, kids, MAX_LISTED);
	for (int i = 0; i < MAX_LISTED && kids[i] > 0; i++)
		t += cpu_ticks(kids[i]);
	return t;
}

/* Lower the soft RLIMIT_NOFILE of proc so that it may open FD_HEADROOM
 * more descriptors, no more; remember the old limit. Returns the first
 * descriptor number it may no longer have. */
static int lower_nofile(struct ctx *c, pid_t proc)
{
	int i = c->nlowered, limit_fd = lowest_free_fd(proc) + FD_HEADROOM;
	struct rlimit low;

	assert_true(i <= MAX_LISTED);
	assert_int_equal(prlimit(proc, RLIMIT_NOFILE, NULL, &c->saved_nofile[i]), 0);
	low = c->saved_nofile[i];
	low.rlim_cur = (rlim_t)limit_fd;
	assert_int_equal(prlimit(proc, RLIMIT_NOFILE, &low, NULL), 0);
	c->lowered[i] = proc;
	c->nlowered++;
	return limit_fd;
}

static void test_fd_exhaustion(void **state)
{
	struct ctx *c = begin(state);
	const struct design *d = c->d;
	pid_t pid = c->srv->pid, procs[MAX_LISTED + 2];
	int limit_fd[MAX_LISTED + 2], nprocs = 0, z;
	int held[HELD], served[HELD], served_n = 0, turned_away = 0;
	int at_limit = 0, expect = d->limit > 0 && d->limit < HELD ? d->limit : HELD;
	long long deadline, cpu_ms;
	unsigned long long t0, t1;
	long tick = sysconf(_SC_CLK_TCK);

	/* valgrind keeps descriptors of its own above the soft limit it saw
	 * at start; lowered under it, valgrind itself aborts (an assertion in
	 * its vgPlain_safe_fd) at the server's next fork() or open(). */
	if (h_under_valgrind()) {
		print_message("out of descriptors: not under valgrind (it needs "
			      "descriptors above the limit; the other runs check this)\n");
		skip();
	}

	/* The server, and each worker process it keeps, may open FD_HEADROOM
	 * more descriptors, no more. Lowered on the running processes, which
	 * is what `ulimit -n` before exec would do, without a wrapper between
	 * the test and the server. A process per client (lesson 05) never
	 * runs out in the parent: each child has a table of its own. */
	procs[nprocs++] = pid;
	list_children(pid, &z, procs + 1, MAX_LISTED);
	while (nprocs < MAX_LISTED + 1 && procs[nprocs] > 0)
		nprocs++;
	for (int i = 0; i < nprocs; i++)
		limit_fd[i] = lower_nofile(c, procs[i]);

	for (int i = 0; i < HELD; i++) {
		char line[32];

		held[i] = connect_server(c); /* the backlog takes it, served or not */
		snprintf(line, sizeof(line), "held %d\n", i);
		send_all_or_fail(c, held[i], line, strlen(line));
		served[i] = 0;
	}

	/* Wait until the server has done what it can: served everyone, or
	 * run out of descriptors in some process, or filled every place its
	 * design has. */
	deadline = h_now_ms() + ms(DEADLINE_MS);
	for (;;) {
		for (int i = 0; i < HELD; i++) {
			char line[32], back[32];
			ssize_t r;

			if (served[i] != 0)
				continue;
			snprintf(line, sizeof(line), "held %d\n", i);
			r = recv(held[i], back, sizeof(back), MSG_DONTWAIT | MSG_PEEK);
			if (r == 0 || (r < 0 && errno == ECONNRESET)) {
				served[i] = -1; /* turned away: closed by the server */
				turned_away++;
			} else if (r == (ssize_t)strlen(line)) {
				if (memcmp(back, line, (size_t)r) != 0)
					fail_msg("%s: a held client got someone else's bytes", d->label);
				served[i] = 1;
				served_n++;
			}
		}
		at_limit = 0;
		for (int i = 0; i < nprocs; i++)
			at_limit |= lowest_free_fd(procs[i]) >= limit_fd[i];
		if (served_n == HELD || (at_limit && served_n + turned_away > 0) ||
		    (d->limit > 0 && served_n >= expect))
			break;
		if (h_now_ms() >= deadline)
			fail_msg("%s: with %d clients and room for %d more descriptors per "
				 "process, the server served %d, turned away %d, and is %sat "
				 "its limit", d->label, HELD, FD_HEADROOM, served_n,
				 turned_away, at_limit ? "" : "not ");
		pump(c, 20);
	}

	/* Clients are waiting (in the backlog, or for a place) and the server
	 * cannot take them: it must wait too, not spin. */
	t0 = server_cpu(pid);
	pump(c, CPU_WINDOW_MS);
	t1 = server_cpu(pid);
	cpu_ms = (long long)((t1 - t0) * 1000 / (unsigned long long)tick);
	assert_alive(c, "running out of descriptors");
	if (cpu_ms * CPU_MAX_SHARE >= CPU_WINDOW_MS)
		fail_msg("%s: out of descriptors (served %d, turned away %d, at limit: %s) the "
			 "server used %lld ms of CPU in %d ms: it spins", d->label, served_n,
			 turned_away, at_limit ? "yes" : "no", cpu_ms, CPU_WINDOW_MS);

	print_message("%s: %d held clients: %d served, %d turned away; at the fd limit: %s; "
		      "%lld ms of CPU in %d ms\n", d->label, HELD, served_n, turned_away,
		      at_limit ? "yes" : "no", cpu_ms, CPU_WINDOW_MS);

	/* Free the descriptors: a new client is served, under the same limit. */
	for (int i = 0; i < HELD; i++)
		close(held[i]);
	assert_session(c, "served once descriptors are free\n",
		       "a client after the descriptors were freed");
	for (int i = 0; i < c->nlowered; i++)
		assert_int_equal(prlimit(c->lowered[i], RLIMIT_NOFILE, &c->saved_nofile[i], NULL), 0);
	c->nlowered = 0;
	assert_back_to_rest(c, "running out of descriptors");
}

/* ---- check: half the clients leave at once ------------------------------------------------- */

static void test_mass_disconnect(void **state)
{
	struct ctx *c = begin(state);
	int n = scaled_count(STORM) & ~1; /* even: half leave, half stay */
	int fds[STORM * 2];

	if (c->d->limit > 0) {
		print_message("%s serves at most %d client%s at once: it has no mass of "
			      "connected clients to disconnect\n", c->d->label, c->d->limit,
			      c->d->limit == 1 ? "" : "s");
		skip();
	}
	if (n < 2)
		n = 2;
	if (n > STORM * 2)
		n = STORM * 2;
	for (int i = 0; i < n; i++) {
		char line[32];

		fds[i] = connect_server(c);
		snprintf(line, sizeof(line), "hello %d\n", i);
		assert_echo(c, fds[i], line, "a storm client saying hello");
	}
	for (int round = 0; round < STORM_ROUNDS; round++) {
		/* In one burst: evens leave (reset or close), odds send. */
		for (int i = 0; i < n; i++) {
			char line[48];

			if (i % 2 == 0) {
				if ((i / 2 + round) % 2 == 0)
					reset_close(fds[i]);
				else
					close(fds[i]);
				fds[i] = -1;
			} else {
				snprintf(line, sizeof(line), "round %d client %d\n", round, i);
				send_all_or_fail(c, fds[i], line, strlen(line));
			}
		}
		/* Each survivor gets its own line, and nothing else. */
		for (int i = 1; i < n; i += 2) {
			char line[48], back[96];
			size_t len, got;

			snprintf(line, sizeof(line), "round %d client %d\n", round, i);
			len = strlen(line);
			got = recv_for(c, fds[i], back, len, ms(DEADLINE_MS));
			if (got != len || memcmp(back, line, len) != 0)
				fail_msg("%s: round %d: client %d sent '%.*s' and got %zu bytes back%s",
					 c->d->label, round, i, (int)len - 1, line, got,
					 got == len ? ", different ones" : "");
		}
		/* New clients take the places of those who left. */
		for (int i = 0; i < n; i += 2) {
			char line[32];

			fds[i] = connect_server(c);
			snprintf(line, sizeof(line), "again %d\n", i);
			assert_echo(c, fds[i], line, "a client replacing one that left");
		}
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_alive(c, "the mass disconnect");
	assert_back_to_rest(c, "the mass disconnect");
}

/* ---- check: stopping with clients connected ------------------------------------------------ */

static void test_stop_with_clients(void **state)
{
	struct ctx *c = begin(state);
	int fds[5], n = 5, rc;

	/* Connected: one mid-echo with unsent bytes waiting, the rest idle. */
	for (int i = 0; i < n; i++)
		fds[i] = connect_server(c);
	assert_echo(c, fds[0], "mid-session\n", "the first client");
	send_all_or_fail(c, fds[0], "and more", 8);
	pump(c, 100);

	rc = h_stop(c->srv, SIGTERM, DEADLINE_MS);
	if (rc != 0)
		fail_msg("%s: exit %d on SIGTERM with clients connected; stderr:\n%s",
			 c->d->label, rc, c->srv->errbuf);
	/* Nothing serves on: every client sees its connection end (end of
	 * file or reset), whether it was being served or still waiting. */
	for (int i = 0; i < n; i++) {
		char buf[64];
		long long deadline = h_now_ms() + ms(DEADLINE_MS);
		int ended = 0;

		while (!ended && h_now_ms() < deadline) {
			struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
			ssize_t r;

			if (poll(&pfd, 1, 100) <= 0)
				continue;
			r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno == ECONNRESET))
				ended = 1;
		}
		if (!ended)
			fail_msg("%s: the server exited, but client %d's connection lives on",
				 c->d->label, i);
		close(fds[i]);
	}
}

/* ---- discovery, and the tests made from it ----------------------------------------------- */

static const struct {
	const char *name;
	CMUnitTestFunction fn;
} checks[] = {
	{ "concurrent clients", test_concurrent_clients },
	{ "idle and never-reading clients", test_idle_and_stalled_clients },
	{ "resets mid-message", test_resets },
	{ "connect/disconnect cycles", test_cycles },
	{ "out of descriptors", test_fd_exhaustion },
	{ "mass disconnect", test_mass_disconnect },
	{ "stop with clients connected", test_stop_with_clients },
};

/* A check of the suite itself: it found something to test. */
static void test_found_servers(void **state)
{
	(void)state;
	if (ndesigns == 0)
		fail_msg("no lesson.conf names an echo-server%s%s",
			 getenv("SOCKLAB_SUITE_ONLY") != NULL ? " among SOCKLAB_SUITE_ONLY=" : "",
			 getenv("SOCKLAB_SUITE_ONLY") != NULL ? getenv("SOCKLAB_SUITE_ONLY") : "");
	for (int i = 0; i < ndesigns; i++) {
		printf("[ DESIGN   ] %s: %s", designs[i].label, designs[i].prog);
		for (int k = 0; k < designs[i].nargs; k++)
			printf(" %s", designs[i].args[k]);
		if (designs[i].limit > 0)
			printf(" (serves %d at once)", designs[i].limit);
		if (designs[i].children > 0)
			printf(" (%d child processes at rest)", designs[i].children);
		printf("\n");
	}
}

int main(void)
{
	size_t nchecks = sizeof(checks) / sizeof(checks[0]), ntests = 0;
	struct CMUnitTest *tests;
	struct ctx *ctxs;
	struct rlimit rl;
	int rc;

	/* A child that dies while we send to it must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Room for our own sockets and the clients' pipes. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	discover();

	tests = calloc(1 + (size_t)ndesigns * nchecks, sizeof(*tests));
	ctxs = calloc((size_t)ndesigns * nchecks + 1, sizeof(*ctxs));
	if (tests == NULL || ctxs == NULL) {
		perror("calloc");
		return 1;
	}
	tests[ntests++] = (struct CMUnitTest){ "found echo servers", test_found_servers,
					       NULL, NULL, NULL };
	for (int i = 0; i < ndesigns; i++) {
		for (size_t k = 0; k < nchecks; k++) {
			struct ctx *c = &ctxs[i * nchecks + k];
			char *name = malloc(160);

			if (name == NULL) {
				perror("malloc");
				return 1;
			}
			snprintf(name, 160, "%s: %s", designs[i].label, checks[k].name);
			c->d = &designs[i];
			tests[ntests++] = (struct CMUnitTest){ name, checks[k].fn, setup,
							       teardown, c };
		}
	}
	rc = _cmocka_run_group_tests("concurrency", tests, ntests, NULL, NULL);
	for (size_t i = 1; i < ntests; i++)
		free((char *)tests[i].name);
	for (int i = 0; i < ndesigns; i++)
		for (int k = 0; k < designs[i].nargs; k++)
			free(designs[i].args[k]);
	free(designs);
	free(tests);
	free(ctxs);
	return rc;
}
