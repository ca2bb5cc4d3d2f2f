/* harness.c — run lesson programs and tools for the integration tests. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "harness.h"

long long h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *build_dir(void)
{
	const char *b = getenv("SOCKLAB_BUILD");

	return b != NULL && *b != '\0' ? b : "build";
}

int h_under_valgrind(void)
{
	const char *v = getenv("SOCKLAB_VALGRIND");

	return v != NULL && strcmp(v, "1") == 0;
}

int h_scaled(int timeout_ms)
{
	return h_under_valgrind() ? timeout_ms * 10 : timeout_ms;
}

const char *h_lesson(const char *lesson, const char *prog)
{
	/* A few distinct buffers so a test can hold several paths at once. */
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/lessons/%s/%s", build_dir(), lesson, prog);
	return p;
}

int h_have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static int is_lesson_program(const char *path)
{
	size_t n = strlen(build_dir());

	return strncmp(path, build_dir(), n) == 0 && strncmp(path + n, "/lessons/", 9) == 0;
}

/* Is word one of the space-separated words of list? */
static int in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *w = list; *w != '\0'; ) {
		size_t k = strcspn(w, " ");

		if (k == n && strncmp(w, word, n) == 0)
			return 1;
		w += k;
		w += strspn(w, " ");
	}
	return 0;
}

/* Chaos mode (socklab check NN --chaos): SOCKLAB_CHAOS holds the seed,
 * SOCKLAB_CHAOS_SHIM the trace shim, SOCKLAB_CHAOS_PROGS the programs
 * the student wrote (names: "server client"; all lesson programs when
 * unset). Those get the shim preloaded, which makes faults a kernel may
 * make (lib/trace/chaos.c); the test program itself and the tools it
 * runs (nc, socat, python) never do. Called in the child. */
static int chaos_applies(const char *path)
{
	const char *progs = getenv("SOCKLAB_CHAOS_PROGS"), *base = strrchr(path, '/');

	return getenv("SOCKLAB_CHAOS") != NULL && getenv("SOCKLAB_CHAOS_SHIM") != NULL &&
	       !h_under_valgrind() && is_lesson_program(path) &&
	       (progs == NULL || in_list(progs, base != NULL ? base + 1 : path));
}

static void chaos_env(const char *path)
{
	const char *shim = getenv("SOCKLAB_CHAOS_SHIM"), *asan = getenv("ASAN_OPTIONS");
	char opts[1024];

	if (!chaos_applies(path)) {
		unsetenv("SOCKLAB_CHAOS");
		return;
	}
	setenv("LD_PRELOAD", shim, 1);
	/* A sanitizer build wants its runtime first; the shim comes first. */
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan != NULL ? asan : "",
		 asan != NULL && asan[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* Every program h_start() launched that is not reaped yet. When a test
 * fails, cmocka goes on to the next test, and at the end the test program
 * exits: the programs a failed test left running are killed first, at
 * exit, before their output pipes close under them (a program writing to
 * a closed pipe would die of SIGPIPE, and that would read as a crash). */
#define H_MAX_STARTED 1024
static pid_t started[H_MAX_STARTED];

static void kill_leftovers(void)
{
	for (int i = 0; i < H_MAX_STARTED; i++) {
		int st;

		/* Only a child of ours that still runs: never a reused pid. */
		if (started[i] > 0 && waitpid(started[i], &st, WNOHANG) == 0) {
			kill(started[i], SIGKILL);
			waitpid(started[i], &st, 0);
		}
		started[i] = 0;
	}
}

static void remember_started(pid_t pid)
{
	static int registered;

	if (!registered) {
		atexit(kill_leftovers);
		registered = 1;
	}
	for (int i = 0; i < H_MAX_STARTED; i++)
		if (started[i] <= 0) {
			started[i] = pid;
			return;
		}
}

static void forget_started(pid_t pid)
{
	for (int i = 0; i < H_MAX_STARTED; i++)
		if (started[i] == pid)
			started[i] = 0;
}

/* ---- feedback for socklab check (SOCKLAB_FEEDBACK=DIR) ----
 * When a check fails, the student sees what their programs printed and a
 * command that does by hand what the test did. The harness leaves both in
 * DIR: "notes" holds a line "start PID CHAOS ARGV..." per lesson program
 * started (CHAOS: 1 when it runs with faults), "end PID CODE" when the
 * harness reaps it (an exit code, or 128 plus a signal; "end PID CODE
 * killed" when the harness sent the SIGKILL itself, as teardowns do once a
 * test has failed: not an error of the program's) and "drive PID
 * COMMAND" per h_repro(); "out.PID" gets everything the harness reads
 * from that program's stdout and stderr. */

static void feedback_append(const char *name, const char *data, size_t len)
{
	const char *dir = getenv("SOCKLAB_FEEDBACK");
	char path[4096];
	int fd;

	if (dir == NULL || dir[0] == '\0' ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w <= 0)
			break;
		data += w;
		len -= (size_t)w;
	}
	close(fd);
}

static void feedback_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void feedback_note(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (getenv("SOCKLAB_FEEDBACK") == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		return;
	line[n++] = '\n';
	feedback_append("notes", line, (size_t)n);
}

static void note_start(pid_t pid, char *const argv[])
{
	char line[1800];
	size_t used = 0;

	if (getenv("SOCKLAB_FEEDBACK") == NULL || !is_lesson_program(argv[0]))
		return;
	for (int i = 0; argv[i] != NULL && used < sizeof(line) - 1; i++) {
		int n = snprintf(line + used, sizeof(line) - used, "%s%s", i > 0 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(line) - used)
			break;
		used += (size_t)n;
	}
	line[used] = '\0';
	feedback_note("start %d %d %s", (int)pid, chaos_applies(argv[0]), line);
}

/* How a lesson program ended: "end PID CODE" (the exit code, or 128 plus
 * the signal), "end PID CODE killed" when the SIGKILL was the harness's. */
static void note_end(const struct h_proc *p, int st)
{
	int killed = p->killed && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;

	feedback_note("end %d %d%s", (int)p->pid,
		      WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1,
		      killed ? " killed" : "");
}

void h_repro(const struct h_proc *p, const char *command)
{
	feedback_note("drive %d %s", (int)p->pid, command);
}

/* 40 bytes a row, escaped: printable ASCII as is, \n \r \t \\ \" and
 * \xHH for the rest. */
static size_t escape_row(char *out, size_t size, const unsigned char *b, size_t n)
{
	size_t used = 0;

	for (size_t i = 0; i < n && used + 5 < size; i++) {
		unsigned char c = b[i];

		if (c == '\n')
			used += (size_t)snprintf(out + used, size - used, "\\n");
		else if (c == '\r')
			used += (size_t)snprintf(out + used, size - used, "\\r");
		else if (c == '\t')
			used += (size_t)snprintf(out + used, size - used, "\\t");
		else if (c == '\\' || c == '"')
			used += (size_t)snprintf(out + used, size - used, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			used += (size_t)snprintf(out + used, size - used, "\\x%02x", c);
		else
			out[used++] = (char)c;
	}
	out[used] = '\0';
	return used;
}

#define H_ROW 40
#define H_AROUND 200

/* Rows of b[from..to) under a label. */
static size_t dump_rows(char *out, size_t size, const char *label,
			const unsigned char *b, size_t from, size_t to)
{
	size_t used = 0;

	if (from >= to) {
		used += (size_t)snprintf(out, size, "  %-8s (nothing from byte %zu on)\n", label, from);
		return used < size ? used : size - 1;
	}
	for (size_t at = from; at < to && used < size; at += H_ROW) {
		char row[H_ROW * 4 + 1];
		size_t n = to - at < H_ROW ? to - at : H_ROW;
		int w;

		escape_row(row, sizeof(row), b + at, n);
		w = snprintf(out + used, size - used, "  %-8s %7zu: \"%s\"\n",
			     at == from ? label : "", at, row);
		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
	}
	return used;
}

const char *h_bytes_differ(const void *sent, size_t sentlen, const void *got, size_t gotlen)
{
	static char why[4096];
	const unsigned char *a = sent, *b = got;
	size_t n = sentlen < gotlen ? sentlen : gotlen, off = 0, from, used;

	while (off < n && a[off] == b[off])
		off++;
	if (off == n && sentlen == gotlen)
		return NULL;
	used = (size_t)snprintf(why, sizeof(why), "sent %zu bytes, got %zu back", sentlen, gotlen);
	if (gotlen == 0)
		used += (size_t)snprintf(why + used, sizeof(why) - used, "; nothing came back");
	else if (off == n)
		used += (size_t)snprintf(why + used, sizeof(why) - used, "; the first %zu are the "
					 "same, then %s", off, gotlen < sentlen ? "the rest is missing"
					 : "extra bytes came");
	else
		used += (size_t)snprintf(why + used, sizeof(why) - used, "; the first difference "
					 "is at byte %zu", off);
	used += (size_t)snprintf(why + used, sizeof(why) - used, ":\n");
	/* A window of H_AROUND bytes: some before the difference, most after. */
	from = off > H_AROUND / 5 ? off - H_AROUND / 5 : 0;
	from -= from % H_ROW;
	used += dump_rows(why + used, sizeof(why) - used, "sent",
			  a, from, sentlen < from + H_AROUND ? sentlen : from + H_AROUND);
	if (used < sizeof(why))
		used += dump_rows(why + used, sizeof(why) - used, "got back",
				  b, from, gotlen < from + H_AROUND ? gotlen : from + H_AROUND);
	/* cmocka ends the message's line itself. */
	if (used > 0 && used < sizeof(why) && why[used - 1] == '\n')
		why[used - 1] = '\0';
	return why;
}

int h_start(struct h_proc *p, char *const argv[])
{
	int in[2], out[2], err[2];
	char *vargv[64];
	char *const *run = argv;

	signal(SIGPIPE, SIG_IGN);
	memset(p, 0, sizeof(*p));
	p->status = -1;
	p->pid = -1;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	if (h_under_valgrind() && is_lesson_program(argv[0])) {
		int i = 0, j = 0;

		vargv[i++] = "valgrind";
		vargv[i++] = "-q";
		vargv[i++] = "--leak-check=full";
		/* Not "possible": a detached thread still on its way out when
		 * main() returns leaves its TLS block looking possibly lost. */
		vargv[i++] = "--show-leak-kinds=definite,indirect";
		vargv[i++] = "--errors-for-leak-kinds=definite,indirect";
		vargv[i++] = "--track-fds=yes";
		vargv[i++] = "--error-exitcode=99";
		while (argv[j] != NULL && i < 63)
			vargv[i++] = argv[j++];
		vargv[i] = NULL;
		run = vargv;
	}
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		/* Die with the test, so a failed test never leaves servers behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		chaos_env(argv[0]);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execvp(run[0], run);
		fprintf(stderr, "exec %s: %s\n", run[0], strerror(errno));
		_exit(127);
	}
	remember_started(p->pid);
	note_start(p->pid, argv);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	return 0;
}

/* Read what is available on out/err for up to ms; returns 0 while the
 * pipes are open, 1 when both are at EOF. */
static int pump(struct h_proc *p, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = p->out, .events = POLLIN },
		{ .fd = p->err, .events = POLLIN },
	};
	int n;

	if (p->out < 0 && p->err < 0)
		return 1;
	n = poll(pfd, 2, ms);
	if (n <= 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		int *fd = i == 0 ? &p->out : &p->err;
		char *buf = i == 0 ? p->outbuf : p->errbuf;
		size_t *len = i == 0 ? &p->outlen : &p->errlen;
		size_t cap = i == 0 ? sizeof(p->outbuf) : sizeof(p->errbuf);
		char scratch[4096];
		ssize_t r;

		if (*fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(*fd, scratch, sizeof(scratch));
		if (r <= 0) {
			close(*fd);
			*fd = -1;
			continue;
		}
		/* Only the start of a flood: its end says no more. */
		if (getenv("SOCKLAB_FEEDBACK") != NULL && *len < cap - 1) {
			char name[32];

			snprintf(name, sizeof(name), "out.%d", (int)p->pid);
			feedback_append(name, scratch, (size_t)r);
		}
		/* Keep what fits; a flood of output is cut, never a crash. */
		if ((size_t)r > cap - 1 - *len)
			r = (ssize_t)(cap - 1 - *len);
		memcpy(buf + *len, scratch, (size_t)r);
		*len += (size_t)r;
		buf[*len] = '\0';
	}
	return p->out < 0 && p->err < 0;
}

int h_wait_output(struct h_proc *p, const char *stream, const char *needle,
                  int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	const char *buf = strcmp(stream, "err") == 0 ? p->errbuf : p->outbuf;

	for (;;) {
		if (strstr(buf, needle) != NULL)
			return 0;
		long long left = deadline - h_now_ms();
		if (left <= 0)
			return -1;
		if (pump(p, (int)(left < 100 ? left : 100)) == 1 &&
		    strstr(buf, needle) == NULL)
			return -1;
	}
}

int h_count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *at = strstr(s, needle); at != NULL; at = strstr(at + 1, needle))
		n++;
	return n;
}

int h_wait_count(struct h_proc *p, const char *stream, const char *needle, int n,
                 int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	const char *buf = strcmp(stream, "err") == 0 ? p->errbuf : p->outbuf;

	while (h_count(buf, needle) < n) {
		if (h_now_ms() >= deadline)
			return -1;
		/* Reads whatever the program printed (the needle never occurs). */
		h_wait_output(p, stream, "\001never\001", 20);
	}
	return 0;
}

const char *h_own_stderr(const struct h_proc *p, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return buf;
	for (const char *line = p->errbuf; *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t n = eol != NULL ? (size_t)(eol - line) + 1 : strlen(line);

		if (strncmp(line, "==", 2) != 0) {
			size_t keep = n < size - 1 - len ? n : size - 1 - len;

			memcpy(buf + len, line, keep);
			len += keep;
		}
		line += n;
	}
	buf[len] = '\0';
	return buf;
}

int h_wait_listening(struct h_proc *p, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	const char *at, *eol, *colon;
	size_t n;

	/* Wait for the whole line: "listening on " and the newline after it. */
	for (;;) {
		at = strstr(p->outbuf, "listening on ");
		eol = at != NULL ? strchr(at, '\n') : NULL;
		if (eol != NULL)
			break;
		long long left = deadline - h_now_ms();
		if (left <= 0)
			return -1;
		if (pump(p, (int)(left < 100 ? left : 100)) == 1) {
			at = strstr(p->outbuf, "listening on ");
			if (at == NULL || strchr(at, '\n') == NULL)
				return -1; /* it exited without saying */
		}
	}
	at += strlen("listening on ");
	n = (size_t)(eol - at);
	if (n >= sizeof(p->addr))
		return -1;
	memcpy(p->addr, at, n);
	p->addr[n] = '\0';
	p->port[0] = '\0';
	/* A Unix socket's address is a path or an @name: it has no port. */
	if (p->addr[0] == '/' || p->addr[0] == '@')
		return 0;
	colon = strrchr(p->addr, ':');
	if (colon == NULL || strlen(colon + 1) >= sizeof(p->port))
		return -1;
	strcpy(p->port, colon + 1);
	return 0;
}

int h_feed(struct h_proc *p, const void *data, size_t len)
{
	const char *c = data;

	if (data == NULL) {
		if (p->in >= 0)
			close(p->in);
		p->in = -1;
		return 0;
	}
	while (len > 0) {
		ssize_t w = write(p->in, c, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Under valgrind --track-fds, count descriptors the program itself opened
 * and left open at a normal exit (inherited ones are not its doing). Each
 * report line starts with "==PID==", and a forking server's children write
 * theirs to the same stderr, so lines of several processes interleave:
 * the line that says whether an fd was inherited is the next line of the
 * same PID. */
static int leaked_fds(const char *err)
{
	int n = 0;

	for (const char *l = strstr(err, "== Open "); l != NULL; l = strstr(l + 1, "== Open ")) {
		const char *start = l, *next;
		char prefix[32];
		size_t plen;

		while (start > err && start[-1] != '\n')
			start--;
		plen = (size_t)(l + 3 - start); /* "==PID== " */
		if (plen >= sizeof(prefix) || start[0] != '=')
			continue;
		memcpy(prefix, start, plen);
		prefix[plen] = '\0';
		/* Find the next line of the same process. */
		next = strchr(l, '\n');
		while (next != NULL && strncmp(next + 1, prefix, plen) != 0)
			next = strchr(next + 1, '\n');
		if (next == NULL) {
			n++;
			continue;
		}
		next++;
		const char *eol = strchr(next, '\n');
		const char *inh = strstr(next, "<inherited from parent>");

		if (inh == NULL || (eol != NULL && inh > eol))
			n++;
	}
	return n;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int h_wait_exit(struct h_proc *p, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);

	if (p->status >= 0)
		return decode_status(p->status);
	for (;;) {
		int st;
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid) {
			forget_started(p->pid);
			note_end(p, st);
			/* Collect what is still in the pipes. */
			while (pump(p, 50) == 0 && h_now_ms() < deadline)
				;
			p->status = st;
			if (p->in >= 0)
				close(p->in);
			if (p->out >= 0)
				close(p->out);
			if (p->err >= 0)
				close(p->err);
			p->in = p->out = p->err = -1;
			if (h_under_valgrind() && WIFEXITED(st) && leaked_fds(p->errbuf) > 0)
				return 99; /* as valgrind's --error-exitcode does */
			return decode_status(st);
		}
		if (h_now_ms() >= deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			forget_started(p->pid);
			note_end(p, st);
			p->status = st;
			if (p->in >= 0)
				close(p->in);
			if (p->out >= 0)
				close(p->out);
			if (p->err >= 0)
				close(p->err);
			p->in = p->out = p->err = -1;
			return -1;
		}
		/* Drain output while waiting, so a chatty child never blocks. */
		if (pump(p, 20) == 1) {
			struct timespec ts = { 0, 5 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}

int h_stop(struct h_proc *p, int sig, int timeout_ms)
{
	if (p->status < 0 && p->pid > 0) {
		p->killed = sig == SIGKILL;
		kill(p->pid, sig);
	}
	return h_wait_exit(p, timeout_ms);
}

int h_run(struct h_proc *p, char *const argv[], const void *input,
          size_t inlen, int timeout_ms)
{
	if (h_start(p, argv) < 0)
		return -1;
	if (input != NULL && inlen > 0)
		h_feed(p, input, inlen);
	h_feed(p, NULL, 0);
	return h_wait_exit(p, timeout_ms);
}

int h_connect(const char *port, int timeout_ms)
{
	struct sockaddr_in sin;
	int ms = h_scaled(timeout_ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* On Linux SO_SNDTIMEO also bounds a blocking connect(). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int h_poll_until(int (*pred)(void *), void *arg, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	long wait_us = 1000;

	for (;;) {
		if (pred(arg))
			return 1;
		if (h_now_ms() >= deadline)
			return 0;
		usleep((useconds_t)wait_us);
		if (wait_us < 50000)
			wait_us *= 2;
	}
}

int h_count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void h_random_bytes(void *buf, size_t len, unsigned seed)
{
	unsigned char *b = buf;
	unsigned long long x = seed * 2654435761ull + 1;

	for (size_t i = 0; i < len; i++) {
		/* xorshift64: fast, reproducible, good enough for test data. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)(x >> 24);
	}
}

/* ---- several clients at once, a client that never reads, the server's
 * CPU and fd limits ---- */

int h_three_side_by_side(struct h_proc *srv, h_echo_check_fn echoed, int fds[3], int timeout_ms)
{
	static const char *const words[] = { "first\n", "second\n", "third\n" };

	for (int i = 0; i < 3; i++)
		fds[i] = -1;
	for (int i = 0; i < 3; i++) {
		fds[i] = h_connect(srv->port, timeout_ms);
		if (fds[i] < 0)
			return -1;
	}
	/* The last to come is served first: no one waits for anyone. */
	for (int i = 2; i >= 0; i--)
		echoed(srv, fds[i], words[i], i + 1);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 3; i++)
			echoed(srv, fds[i], words[(i + round) % 3], i + 1);
	/* One leaves; the two others are still served. */
	close(fds[1]);
	fds[1] = -1;
	echoed(srv, fds[2], "still\n", 3);
	echoed(srv, fds[0], "here\n", 1);
	for (int i = 0; i < 3; i += 2) {
		close(fds[i]);
		fds[i] = -1;
	}
	return h_wait_count(srv, "out", " disconnected (", 3, timeout_ms);
}

void h_idle_read_output(void *proc, int ms)
{
	/* pump(), not h_wait_output(): a pause of ms as given, never
	 * stretched for valgrind. */
	if (pump(proc, ms) == 1)
		poll(NULL, 0, ms); /* both pipes closed: just wait */
}

unsigned char h_pattern_byte(size_t off)
{
	return (unsigned char)(off % 251 == 250 ? '\n' : 'a' + off % 251 % 26);
}

size_t h_push_pattern(int fd, size_t cap, int stall_ms, int limit_ms,
                      h_idle_fn idle, void *arg)
{
	static unsigned char chunk[65536];
	long long last_progress = h_now_ms(), end = h_now_ms() + limit_ms;
	size_t total = 0;

	while (total < cap && h_now_ms() - last_progress < stall_ms && h_now_ms() < end) {
		size_t len = cap - total < sizeof(chunk) ? cap - total : sizeof(chunk);
		ssize_t n;

		for (size_t i = 0; i < len; i++)
			chunk[i] = h_pattern_byte(total + i);
		n = send(fd, chunk, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			total += (size_t)n;
			last_progress = h_now_ms();
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, 20) == 0 && idle != NULL)
				idle(arg, 1);
		} else {
			if (n == 0)
				errno = EIO;
			return (size_t)-1;
		}
	}
	return total;
}

const char *h_pattern_back(int fd, size_t total, int timeout_ms, h_idle_fn idle, void *arg)
{
	static unsigned char buf[65536];
	static char why[200];
	long long deadline = h_now_ms() + timeout_ms;
	size_t got = 0;

	if (shutdown(fd, SHUT_WR) < 0) {
		snprintf(why, sizeof(why), "shutdown: %s", strerror(errno));
		return why;
	}
	/* Up to total bytes, then one more read: it must see end of file. */
	for (;;) {
		size_t want = total - got < sizeof(buf) ? total - got : sizeof(buf);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (h_now_ms() >= deadline) {
			snprintf(why, sizeof(why), "pushed %zu bytes and got %zu back%s", total,
				 got, got == total ? ", but no end of file" : "");
			return why;
		}
		if (poll(&pfd, 1, 20) <= 0) {
			if (idle != NULL)
				idle(arg, 1);
			continue;
		}
		n = recv(fd, buf, want > 0 ? want : 1, 0);
		if (n < 0) {
			snprintf(why, sizeof(why), "pushed %zu bytes, got %zu back, then: %s",
				 total, got, strerror(errno));
			return why;
		}
		if (n == 0) {
			if (got == total)
				return NULL;
			snprintf(why, sizeof(why), "pushed %zu bytes and got %zu back", total, got);
			return why;
		}
		if (got == total) {
			snprintf(why, sizeof(why), "more bytes came back than the %zu sent", total);
			return why;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != h_pattern_byte(got + (size_t)i)) {
				snprintf(why, sizeof(why), "byte %zu came back wrong", got + (size_t)i);
				return why;
			}
		got += (size_t)n;
	}
}

int h_connect_small_buffers(const char *port, int size, int timeout_ms)
{
	int fd = h_connect(port, timeout_ms);

	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0 ||
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

long long h_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The fields start after the command name's last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

long long h_cpu_used_over(pid_t pid, int window_ms, h_idle_fn idle, void *arg)
{
	long long t0 = h_cpu_ms(pid), end = h_now_ms() + window_ms, t1;

	while (h_now_ms() < end) {
		if (idle != NULL)
			idle(arg, (int)(end - h_now_ms()));
		else
			poll(NULL, 0, (int)(end - h_now_ms()));
	}
	t1 = h_cpu_ms(pid);
	return t0 < 0 || t1 < 0 ? -1 : t1 - t0;
}

int h_fd_limit_leaving(pid_t pid, int room)
{
	char path[64];
	int free_seen = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if (access(path, F_OK) == 0)
			continue;
		if (++free_seen == room)
			return fd + 1;
	}
	return -1;
}

/* ---- reading and writing with deadlines ---- */

ssize_t h_recv_n(int fd, void *buf, size_t len, int timeout_ms)
{
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - h_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

size_t h_push_until_stalled(int fd, size_t cap, int stall_ms)
{
	static char chunk[1 << 16];
	int flags = fcntl(fd, F_GETFL);
	size_t pushed = 0;

	memset(chunk, 'p', sizeof(chunk));
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return (size_t)-1;
	while (pushed < cap) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n > 0) {
			pushed += (size_t)n;
			continue;
		}
		if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
			return (size_t)-1;
		if (poll(&pfd, 1, h_scaled(stall_ms)) == 0)
			break; /* nobody takes our bytes any more */
	}
	return pushed;
}

size_t h_drain(int fd, size_t want, int timeout_ms)
{
	static char buf[1 << 16];
	long long deadline = h_now_ms() + h_scaled(timeout_ms);
	size_t got = 0;

	while (got < want && h_now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

const char *h_check_usage(struct h_proc *p, const char *lesson,
                          const char *const progs[], size_t nprogs,
                          char *const bad[][4], size_t nbad, int timeout_ms)
{
	static char why[1024];
	char want[64];
	int rc;

	for (size_t i = 0; i < nprogs; i++) {
		char *argv[] = { (char *)h_lesson(lesson, progs[i]), "-h", NULL };

		snprintf(want, sizeof(want), "usage: %s ", progs[i]);
		rc = h_run(p, argv, NULL, 0, timeout_ms);
		if (rc != 0 || strncmp(p->outbuf, want, strlen(want)) != 0) {
			snprintf(why, sizeof(why), "%s -h: expected exit 0 and \"%s...\"; "
				 "exit %d, it said %.200s", progs[i], want, rc, p->outbuf);
			return why;
		}
	}
	for (size_t i = 0; i < nbad; i++) {
		char *argv[] = { (char *)h_lesson(lesson, bad[i][0]), bad[i][1], bad[i][2],
				 bad[i][3], NULL };

		rc = h_run(p, argv, NULL, 0, timeout_ms);
		if (rc != 2 || strstr(p->errbuf, "-h' for help") == NULL || p->outbuf[0] != '\0') {
			snprintf(why, sizeof(why), "%s %s %s %s: expected exit 2, a hint and "
				 "nothing on stdout; exit %d, stderr %.200s, stdout %.200s",
				 bad[i][0], bad[i][1] ? bad[i][1] : "", bad[i][2] ? bad[i][2] : "",
				 bad[i][3] ? bad[i][3] : "", rc, p->errbuf, p->outbuf);
			return why;
		}
	}
	return NULL;
}
