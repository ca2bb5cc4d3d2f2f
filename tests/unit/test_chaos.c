/* test_chaos.c — the trace shim's chaos mode (lib/trace/chaos.c), preloaded
 * into tests/progs/chaos_target, a careful program whose socket calls come
 * in a fixed order. The build folder comes from SOCKLAB_BUILD (default
 * "build").
 *
 * What these tests prove:
 *  - unset, nothing changes: no fault, no log;
 *  - with a seed, every kind of fault happens (short reads and writes,
 *    EINTR, EAGAIN, ECONNABORTED once) while the program's own loops still
 *    move every byte intact and errno is kept after each call that works;
 *  - never where the kernel could not do it: no cut of a datagram, no
 *    EAGAIN on an EPOLLET fd with bytes left, no EINTR for a poll that
 *    does not block, none at all without a signal handler;
 *  - the same seed makes the same faults (the logs are equal line for
 *    line, but for the process ids), another seed others;
 *  - SOCKLAB_CHAOS_FAULTS and SOCKLAB_CHAOS_AT limit the faults to some
 *    kinds and to one call site;
 *  - each log line names the call site as OBJ+0xOFF, which addr2line turns
 *    into a line of chaos_target.c that makes that call;
 *  - the shim never has a descriptor open in the program: the target's
 *    fds are the same with and without chaos (the log is mapped memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX 4096
#define LOG_MAX (1 << 20)
#define LOG_HEAD 64

struct fx {
	char dir[64];
	char log[128];
	char out[OUT_MAX];
	char *logtext;
};

static const char *build_dir(void)
{
	const char *b = getenv("SOCKLAB_BUILD");

	return b != NULL && b[0] != '\0' ? b : "build";
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/socklab-chaos-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[256];

	snprintf(path, sizeof(path), "%s/log", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/log2", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f->logtext);
	free(f);
	return 0;
}

/* The log's lines: the file is a 64-byte header, the lines, then zeros
 * (lib/trace/chaos.c). */
static char *read_all(const char *path)
{
	char *text = calloc(1, LOG_MAX + 1);
	int fd = open(path, O_RDONLY);
	size_t got = 0;

	assert_non_null(text);
	if (fd < 0)
		return text;   /* no log: "" */
	if (lseek(fd, LOG_HEAD, SEEK_SET) != LOG_HEAD) {
		close(fd);
		return text;
	}
	for (;;) {
		ssize_t n = read(fd, text + got, LOG_MAX - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	/* The zeros after the last line end the text. */
	return text;
}

/* Run chaos_target (arg may be NULL) with the shim preloaded and these
 * SOCKLAB_CHAOS* settings (NULL: unset), its log in logname; its stdout
 * in f->out. Returns its exit code. */
static int run(struct fx *f, const char *arg, const char *seed, const char *faults,
	       const char *at, const char *logname)
{
	char shim[512], prog[512], e_pre[600], e_seed[64], e_faults[128], e_at[600], e_log[256];
	char *envp[8], *argv[3];
	int pipefd[2], st, n = 0;
	size_t got = 0;
	pid_t pid;

	snprintf(shim, sizeof(shim), "%s/lib/libsltrace.so", build_dir());
	snprintf(prog, sizeof(prog), "%s/tests/progs/chaos_target", build_dir());
	snprintf(f->log, sizeof(f->log), "%s/%s", f->dir, logname);
	unlink(f->log);
	snprintf(e_pre, sizeof(e_pre), "LD_PRELOAD=%s", shim);
	envp[n++] = e_pre;
	if (seed != NULL) {
		snprintf(e_seed, sizeof(e_seed), "SOCKLAB_CHAOS=%s", seed);
		envp[n++] = e_seed;
	}
	if (faults != NULL) {
		snprintf(e_faults, sizeof(e_faults), "SOCKLAB_CHAOS_FAULTS=%s", faults);
		envp[n++] = e_faults;
	}
	if (at != NULL) {
		snprintf(e_at, sizeof(e_at), "SOCKLAB_CHAOS_AT=%s", at);
		envp[n++] = e_at;
	}
	snprintf(e_log, sizeof(e_log), "SOCKLAB_CHAOS_LOG=%s", f->log);
	envp[n++] = e_log;
	envp[n] = NULL;
	argv[0] = prog;
	argv[1] = (char *)arg;
	argv[2] = NULL;
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execve(prog, argv, envp);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t r = read(pipefd[0], f->out + got, sizeof(f->out) - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	f->out[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(f->logtext);
	f->logtext = read_all(f->log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A count from the target's line: "name=N". */
static int count(const struct fx *f, const char *name)
{
	char want[64];
	const char *at;

	snprintf(want, sizeof(want), " %s=", name);
	at = strstr(f->out, want);
	if (at == NULL)
		fail_msg("no %s in: %s", name, f->out);
	return atoi(at + strlen(want));
}

static int lines_with(const char *text, const char *needle)
{
	int n = 0;

	for (const char *at = strstr(text, needle); at != NULL; at = strstr(at + 1, needle))
		n++;
	return n;
}

/* The log without "pid=N tid=N ": equal for two runs that made the same
 * faults. */
static void without_ids(char *text)
{
	char *w = text;

	for (const char *r = text; *r != '\0'; ) {
		if (strncmp(r, "pid=", 4) == 0 || strncmp(r, "tid=", 4) == 0) {
			r += strcspn(r, " ");
			r += *r == ' ';
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

static void test_unset_makes_no_fault(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, NULL, NULL, NULL, NULL, "log"), 0);
	assert_true(strncmp(f->out, "ok short_reads=0 short_writes=0 eintr=0 eagain=0 "
			    "edge_eagain=0 dgram_cut=0 abort=0 poll0_eintr=0 fds=", 101) == 0);
	assert_string_equal(f->logtext, "");
}

static void test_every_fault_and_the_bytes_still_right(void **state)
{
	struct fx *f = *state;
	int fds;

	/* The fds it has without the shim's chaos (those it inherits too). */
	assert_int_equal(run(f, NULL, NULL, NULL, NULL, "log"), 0);
	fds = count(f, "fds");
	/* Exit 0: every byte checked, errno kept after every call. */
	assert_int_equal(run(f, NULL, "1", NULL, NULL, "log"), 0);
	assert_true(count(f, "short_reads") > 0);
	assert_true(count(f, "short_writes") > 0);
	assert_true(count(f, "eintr") > 0);
	assert_true(count(f, "eagain") > 0);
	assert_int_equal(count(f, "abort"), 1);
	/* No descriptor of the shim's: the same as without chaos. */
	assert_int_equal(count(f, "fds"), fds);
	/* Where no kernel would: never. */
	assert_int_equal(count(f, "dgram_cut"), 0);
	assert_int_equal(count(f, "edge_eagain"), 0);
	assert_int_equal(count(f, "poll0_eintr"), 0);
	/* The log has a line for each kind, and only one abort. */
	assert_true(lines_with(f->logtext, "fault=short-read call=recv ") > 0);
	assert_true(lines_with(f->logtext, "fault=short-write call=send ") > 0);
	assert_true(lines_with(f->logtext, "fault=eintr ") > 0);
	assert_true(lines_with(f->logtext, "fault=eagain call=recv ") > 0);
	assert_int_equal(lines_with(f->logtext, "fault=abort call=accept "), 1);
}

static void test_no_handler_no_eintr(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "nohandler", "1", NULL, NULL, "log"), 0);
	assert_int_equal(count(f, "eintr"), 0);
	assert_int_equal(lines_with(f->logtext, "fault=eintr"), 0);
	/* The other faults are the same as with a handler: each kind
	 * counts its own calls. */
	assert_true(count(f, "short_reads") > 0);
}

static void test_same_seed_same_faults(void **state)
{
	struct fx *f = *state;
	char *first, *other;
	char seed1_out[OUT_MAX];

	assert_int_equal(run(f, NULL, "1234", NULL, NULL, "log"), 0);
	first = f->logtext;
	f->logtext = NULL;
	strcpy(seed1_out, f->out);
	assert_int_equal(run(f, NULL, "1234", NULL, NULL, "log2"), 0);
	without_ids(first);
	without_ids(f->logtext);
	assert_true(strlen(first) > 0);
	assert_string_equal(first, f->logtext);
	assert_string_equal(seed1_out, f->out);
	assert_int_equal(run(f, NULL, "1235", NULL, NULL, "log2"), 0);
	other = f->logtext;
	without_ids(other);
	assert_string_not_equal(first, other);
	free(first);
}

static void test_faults_limited_by_kind(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, NULL, "1", "eintr,abort", NULL, "log"), 0);
	assert_int_equal(count(f, "short_reads"), 0);
	assert_int_equal(count(f, "short_writes"), 0);
	assert_int_equal(count(f, "eagain"), 0);
	assert_true(count(f, "eintr") > 0);
	assert_int_equal(count(f, "abort"), 1);
	assert_int_equal(lines_with(f->logtext, "fault=short"), 0);
}

/* The "at=" of the first line of text with needle, into at. */
static void first_site(const char *text, const char *needle, char *at, size_t size)
{
	const char *line = strstr(text, needle), *a;

	assert_non_null(line);
	a = strstr(line, " at=");
	assert_non_null(a);
	a += 4;
	snprintf(at, size, "%.*s", (int)strcspn(a, "\n"), a);
}

static void test_faults_limited_to_one_site(void **state)
{
	struct fx *f = *state;
	char at[600], want[620];
	int lines;

	assert_int_equal(run(f, NULL, "1", NULL, NULL, "log"), 0);
	first_site(f->logtext, "fault=short-read", at, sizeof(at));
	assert_int_equal(run(f, NULL, "1", "short-read", at, "log"), 0);
	snprintf(want, sizeof(want), " at=%s\n", at);
	lines = lines_with(f->logtext, "fault=");
	assert_true(lines > 0);
	assert_int_equal(lines_with(f->logtext, want), lines);
	assert_int_equal(count(f, "short_writes"), 0);
}

static void test_site_is_a_line_of_the_source(void **state)
{
	struct fx *f = *state;
	char at[600], cmd[800], answer[512] = "";
	const char *plus;
	FILE *p;

	if (access("/usr/bin/addr2line", X_OK) != 0)
		skip();
	assert_int_equal(run(f, NULL, "1", NULL, NULL, "log"), 0);
	first_site(f->logtext, "fault=short-write call=send", at, sizeof(at));
	plus = strrchr(at, '+');
	assert_non_null(plus);
	assert_non_null(strstr(at, "/tests/progs/chaos_target+0x"));
	snprintf(cmd, sizeof(cmd), "/usr/bin/addr2line -e '%.*s' %s", (int)(plus - at), at, plus + 1);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(answer, sizeof(answer), p));
	pclose(p);
	/* chaos_target.c:LINE, and that line calls send(). */
	assert_non_null(strstr(answer, "chaos_target.c:"));
	{
		int line = atoi(strrchr(answer, ':') + 1), n = 0;
		FILE *src = fopen("tests/progs/chaos_target.c", "r");
		char text[512] = "";

		assert_non_null(src);
		while (n < line && fgets(text, sizeof(text), src) != NULL)
			n++;
		fclose(src);
		assert_non_null(strstr(text, "send("));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unset_makes_no_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_fault_and_the_bytes_still_right, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_handler_no_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_seed_same_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults_limited_by_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults_limited_to_one_site, setup, teardown),
		cmocka_unit_test_setup_teardown(test_site_is_a_line_of_the_source, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
