/* test_lesson.c — the lesson-side helpers: die/warn/usage_error messages
 * and exit codes, the option table, the signal-safe stop, and the
 * "listening on" announcement.
 * Helpers that exit run in a forked child whose stderr is captured. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lesson.h"
#include "stop.h"

struct outcome {
	int code;        /* exit code, or -1 if it did not exit normally */
	char out[1024];  /* stdout */
	char err[1024];  /* stderr */
};

static void read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* Run fn(arg) in a child with stdout and stderr captured. */
static void run_child(void (*fn)(void *), void *arg, struct outcome *o)
{
	int out[2], err[2], st;
	pid_t pid;

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	close(out[1]);
	close(err[1]);
	read_all(out[0], o->out, sizeof(o->out));
	read_all(err[0], o->err, sizeof(o->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	o->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void call_die_errno(void *arg)
{
	(void)arg;
	errno = ECONNREFUSED;
	die("connect %s:", "127.0.0.1:7");
}

static void call_die_plain(void *arg)
{
	(void)arg;
	errno = ECONNREFUSED;
	die("nothing to do");
}

static void call_warn(void *arg)
{
	(void)arg;
	errno = EPIPE;
	warn("send:");
	/* warn returns, and leaves errno as it found it */
	printf("after warn errno=%d\n", errno);
}

static void call_usage_error(void *arg)
{
	usage_error("bad thing '%s'", (const char *)arg);
}

static void test_die_appends_strerror_after_colon(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_die_errno, NULL, &o);
	assert_int_equal(o.code, EXIT_RUNTIME);
	assert_string_equal(o.err, "test_lesson: connect 127.0.0.1:7: Connection refused\n");
}

static void test_die_without_colon_prints_message_only(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_die_plain, NULL, &o);
	assert_int_equal(o.code, EXIT_RUNTIME);
	assert_string_equal(o.err, "test_lesson: nothing to do\n");
}

static void test_warn_returns_and_keeps_errno(void **state)
{
	struct outcome o;
	char expect[64];

	(void)state;
	run_child(call_warn, NULL, &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.err, "test_lesson: send: Broken pipe\n");
	snprintf(expect, sizeof(expect), "after warn errno=%d\n", EPIPE);
	assert_string_equal(o.out, expect);
}

static void test_usage_error_exits_2_with_hint(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_usage_error, "x", &o);
	assert_int_equal(o.code, EXIT_USAGE);
	assert_string_equal(o.err, "test_lesson: bad thing 'x'\nTry 'test_lesson -h' for help.\n");
}

/* ---- lesson_options: the command line from a table ---------------- */

/* What a parse left behind, printed by the child for the test to read. */
static const char *o_host, *o_port;
static long o_count;
static int o_verbose, o_mode, o_family;
static const char *const modes[] = { "fixed", "delim", "length", NULL };

static const struct lesson_opt table[] = {
	OPT_BIND(&o_host, "address to listen on"),
	OPT_PORT(&o_port, "port to listen on (default 0)"),
	{ 'c', "count", OPT_NUMBER, &o_count, "N", "how many, -5 to 10\nsecond line",
	  .what = "count", .min = -5, .max = 10 },
	{ 'm', "mode", OPT_CHOICE, &o_mode, "MODE", "fixed, delim or length",
	  .what = "mode", .choices = modes },
	{ 'v', "verbose", OPT_COUNT, &o_verbose, .help = "say more (twice: even more)" },
	{ '6', NULL, OPT_FLAG, &o_family, NULL, "IPv6 only", .max = 10 },
	{ 0, "a-very-long-option-name", OPT_FLAG, &o_verbose, NULL, "long only", .max = 7 },
	{ 0 }
};

/* Parse argv (NULL-terminated) by `table` and print what came out. */
static void call_options(void *arg)
{
	char **argv = arg;
	int argc = 0, first;

	while (argv[argc] != NULL)
		argc++;
	optind = 1;
	o_host = "127.0.0.1";
	o_port = "0";
	o_count = 3;
	o_verbose = o_mode = o_family = 0;
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[WORD...]", .about = "A test program.", .footer = "Exit 0.",
		.opts = table, .max_args = 2 });
	printf("host=%s port=%s count=%ld verbose=%d mode=%d family=%d first=%d\n",
	       o_host, o_port, o_count, o_verbose, o_mode, o_family, first);
}

static const struct lesson_opt client_table[] = {
	OPT_SERVER_PORT(&o_port),
	{ 0 }
};

static void call_client_options(void *arg)
{
	char **argv = arg;
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	optind = 1;
	o_port = NULL;
	lesson_options(argc, argv, &(struct lesson_cli){ .args = "NAME",
		.opts = client_table, .min_args = 1, .max_args = 1 });
	printf("port=%s\n", o_port);
}

#define ARGV(...) ((char *[]){ "prog", __VA_ARGS__, NULL })

/* Run a parse that must fail with exit 2 and exactly this message. */
static void expect_usage(void (*fn)(void *), char **argv, const char *msg)
{
	struct outcome o;
	char expect[512];

	run_child(fn, argv, &o);
	assert_int_equal(o.code, EXIT_USAGE);
	assert_string_equal(o.out, "");
	snprintf(expect, sizeof(expect),
		 "test_lesson: %s\nTry 'test_lesson -h' for help.\n", msg);
	assert_string_equal(o.err, expect);
}

static void test_options_defaults_stay_when_not_given(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_options, ((char *[]){ "prog", NULL }), &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "host=127.0.0.1 port=0 count=3 verbose=0 mode=0 family=0 first=1\n");
}

static void test_options_take_every_kind(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_options, ARGV("-b", "::1", "--port=8080", "-c", "-5", "--mode",
				     "length", "-v", "-6", "w1", "w2"), &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "host=::1 port=8080 count=-5 verbose=1 mode=2 family=10 first=10\n");
	run_child(call_options, ARGV("-vv", "--verbose"), &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "host=127.0.0.1 port=0 count=3 verbose=3 mode=0 family=0 first=3\n");
	run_child(call_options, ARGV("--a-very-long-option-name", "-c10"), &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "host=127.0.0.1 port=0 count=10 verbose=7 mode=0 family=0 first=3\n");
}

static void test_options_port_range(void **state)
{
	const char *bad[] = { "65536", "-1", "abc", "", "80x", " 80" };
	struct outcome o;

	(void)state;
	run_child(call_options, ARGV("-p", "65535"), &o);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "port=65535 "));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[128];

		snprintf(msg, sizeof(msg), "bad port '%s': expected a number from 0 to 65535", bad[i]);
		expect_usage(call_options, ARGV("-p", (char *)bad[i]), msg);
	}
}

static void test_options_number_and_choice_checked(void **state)
{
	(void)state;
	expect_usage(call_options, ARGV("-c", "11"), "bad count '11': expected a number from -5 to 10");
	expect_usage(call_options, ARGV("--count=x"), "bad count 'x': expected a number from -5 to 10");
	expect_usage(call_options, ARGV("-m", "lines"), "bad mode 'lines': expected fixed, delim or length");
}

static void test_options_misuse_named(void **state)
{
	(void)state;
	expect_usage(call_options, ARGV("-x"), "unknown option -x");
	expect_usage(call_options, ARGV("--bogus"), "unknown option --bogus");
	expect_usage(call_options, ARGV("-c"), "option -c needs an argument");
	expect_usage(call_options, ARGV("--mode"), "option --mode needs an argument");
	expect_usage(call_options, ARGV("--verbose=yes"), "option --verbose=yes takes no argument");
	expect_usage(call_options, ARGV("a", "b", "c"), "unexpected argument 'c'");
}

static void test_options_required_and_positional(void **state)
{
	struct outcome o;

	(void)state;
	expect_usage(call_client_options, ARGV("name"), "missing -p PORT");
	expect_usage(call_client_options, ARGV("-p", "0", "name"),
		     "bad port '0': expected a number from 1 to 65535");
	expect_usage(call_client_options, ARGV("-p", "7"), "missing NAME");
	expect_usage(call_client_options, ARGV("-p", "7", "a", "b"), "unexpected argument 'b'");
	run_child(call_client_options, ARGV("-p", "7", "a"), &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "port=7\n");
}

static void test_options_help_made_from_the_table(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_options, ARGV("-h"), &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.err, "");
	assert_string_equal(o.out,
		"usage: test_lesson [-b ADDR] [-p PORT] [-c N] [-m MODE] [-v] [-6]\n"
		"                   [--a-very-long-option-name] [WORD...]\n"
		"A test program.\n"
		"\n"
		"  -b, --bind ADDR   address to listen on\n"
		"  -p, --port PORT   port to listen on (default 0)\n"
		"  -c, --count N     how many, -5 to 10\n"
		"                    second line\n"
		"  -m, --mode MODE   fixed, delim or length\n"
		"  -v, --verbose     say more (twice: even more)\n"
		"  -6                IPv6 only\n"
		"      --a-very-long-option-name\n"
		"                    long only\n"
		"  -h, --help        show this help\n"
		"Exit 0.\n");
	run_child(call_client_options, ARGV("--help"), &o);
	assert_int_equal(o.code, 0);
	assert_non_null(strstr(o.out, "usage: test_lesson -p PORT NAME\n"));
}

/* ---- the signal-safe stop (stop.h) -------------------------------- */

/* A child blocked in accept() on a socket given to stop_wakes() must
 * return from it when SIGTERM arrives, and the stop pipe must be
 * readable; the child reports what it saw. */
static void call_stop(void *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), pipefd, rc;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char byte;

	(void)arg;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 1) < 0)
		die("listener:");
	stop_on_signals();
	stop_wakes(fd);
	pipefd = stop_pipe();
	printf("ready\n");
	fflush(stdout);
	rc = accept(fd, NULL, NULL);
	printf("accept=%d stop=%d pipe=%zd\n", rc, (int)stop_requested,
	       read(pipefd, &byte, 1));
	stop_forget(fd);
	close(fd);
}

static void test_stop_wakes_a_blocked_accept(void **state)
{
	int out[2], st;
	char buf[128] = "";
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		call_stop(NULL);
		fflush(stdout);
		_exit(0);
	}
	close(out[1]);
	/* Wait for "ready", then signal: accept() may not have started
	 * yet, which is the race stop_wakes() exists for. */
	while (strchr(buf, '\n') == NULL &&
	       (n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
	}
	assert_string_equal(buf, "ready\n");
	assert_int_equal(kill(pid, SIGTERM), 0);
	got = 0;
	while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(out[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_string_equal(buf, "accept=-1 stop=1 pipe=1\n");
}

static void call_announce(void *arg)
{
	announce_listening(*(int *)arg);
}

static void test_announce_listening_prints_bound_port(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct outcome o;
	char expect[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	run_child(call_announce, &fd, &o);
	assert_int_equal(o.code, 0);
	snprintf(expect, sizeof(expect), "listening on 127.0.0.1:%u\n", ntohs(sin.sin_port));
	assert_string_equal(o.out, expect);
	close(fd);
}

static void test_announce_listening_dies_on_bad_fd(void **state)
{
	int bad = 1000;
	struct outcome o;

	(void)state;
	run_child(call_announce, &bad, &o);
	assert_int_equal(o.code, EXIT_RUNTIME);
	assert_non_null(strstr(o.err, "getsockname: Bad file descriptor"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_die_appends_strerror_after_colon),
		cmocka_unit_test(test_die_without_colon_prints_message_only),
		cmocka_unit_test(test_warn_returns_and_keeps_errno),
		cmocka_unit_test(test_usage_error_exits_2_with_hint),
		cmocka_unit_test(test_options_defaults_stay_when_not_given),
		cmocka_unit_test(test_options_take_every_kind),
		cmocka_unit_test(test_options_port_range),
		cmocka_unit_test(test_options_number_and_choice_checked),
		cmocka_unit_test(test_options_misuse_named),
		cmocka_unit_test(test_options_required_and_positional),
		cmocka_unit_test(test_options_help_made_from_the_table),
		cmocka_unit_test(test_stop_wakes_a_blocked_accept),
		cmocka_unit_test(test_announce_listening_prints_bound_port),
		cmocka_unit_test(test_announce_listening_dies_on_bad_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
