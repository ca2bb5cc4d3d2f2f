/* test_lesson.c — the lesson-side helpers: die/warn/usage_error messages
 * and exit codes, option checks, and the "listening on" announcement.
 * Helpers that exit run in a forked child whose stderr is captured. */
#include <errno.h>
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

static void call_opt_port(void *arg)
{
	printf("[%s]\n", opt_port((const char *)arg));
}

static void call_opt_number(void *arg)
{
	printf("[%ld]\n", opt_number((const char *)arg, "count", -5, 10));
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

static void test_opt_port_accepts_range(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_opt_port, "0", &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "[0]\n");
	run_child(call_opt_port, "65535", &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "[65535]\n");
}

static void test_opt_port_rejects_bad_ports(void **state)
{
	const char *bad[] = { "65536", "-1", "abc", "", "80x", " 80" };
	struct outcome o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char expect[128];

		run_child(call_opt_port, (void *)bad[i], &o);
		assert_int_equal(o.code, EXIT_USAGE);
		assert_string_equal(o.out, "");
		snprintf(expect, sizeof(expect),
			 "test_lesson: bad port '%s': expected a number from 0 to 65535\n", bad[i]);
		assert_non_null(strstr(o.err, expect));
	}
}

static void test_opt_number_checks_range(void **state)
{
	struct outcome o;

	(void)state;
	run_child(call_opt_number, "-5", &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "[-5]\n");
	run_child(call_opt_number, "11", &o);
	assert_int_equal(o.code, EXIT_USAGE);
	assert_non_null(strstr(o.err, "bad count '11': expected a number from -5 to 10"));
}

/* Parse argv (NULL-terminated) with optstring ":p:" as a lesson does and
 * hand whatever getopt rejects to bad_option(). */
static void call_getopt(void *arg)
{
	char **argv = arg;
	int argc = 0, c;

	while (argv[argc] != NULL)
		argc++;
	opterr = 0;
	optind = 1;
	while ((c = getopt(argc, argv, ":p:")) != -1)
		if (c != 'p')
			bad_option(c, argv);
	printf("parsed\n");
}

/* As call_getopt, with getopt_long and a long flag that takes no value. */
static void call_getopt_long(void *arg)
{
	static const struct option longopts[] = {
		{ "zombies", no_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	char **argv = arg;
	int argc = 0, c;

	while (argv[argc] != NULL)
		argc++;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":z", longopts, NULL)) != -1)
		if (c != 'z')
			bad_option(c, argv);
	printf("parsed\n");
}

static void test_bad_option_flag_given_a_value(void **state)
{
	char *valued[] = { "prog", "--zombies=yes", NULL };
	char *plain[] = { "prog", "--zombies", NULL };
	struct outcome o;

	(void)state;
	run_child(call_getopt_long, valued, &o);
	assert_int_equal(o.code, EXIT_USAGE);
	assert_string_equal(o.err, "test_lesson: option --zombies=yes takes no argument\nTry 'test_lesson -h' for help.\n");
	run_child(call_getopt_long, plain, &o);
	assert_int_equal(o.code, 0);
}

static void test_bad_option_names_the_option(void **state)
{
	char *unknown[] = { "prog", "-x", NULL };
	char *missing[] = { "prog", "-p", NULL };
	char *fine[] = { "prog", "-p", "7", NULL };
	struct outcome o;

	(void)state;
	run_child(call_getopt, unknown, &o);
	assert_int_equal(o.code, EXIT_USAGE);
	assert_string_equal(o.err, "test_lesson: unknown option -x\nTry 'test_lesson -h' for help.\n");
	run_child(call_getopt, missing, &o);
	assert_int_equal(o.code, EXIT_USAGE);
	assert_string_equal(o.err, "test_lesson: option -p needs an argument\nTry 'test_lesson -h' for help.\n");
	run_child(call_getopt, fine, &o);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.out, "parsed\n");
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
		cmocka_unit_test(test_opt_port_accepts_range),
		cmocka_unit_test(test_opt_port_rejects_bad_ports),
		cmocka_unit_test(test_opt_number_checks_range),
		cmocka_unit_test(test_bad_option_names_the_option),
		cmocka_unit_test(test_bad_option_flag_given_a_value),
		cmocka_unit_test(test_announce_listening_prints_bound_port),
		cmocka_unit_test(test_announce_listening_dies_on_bad_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
