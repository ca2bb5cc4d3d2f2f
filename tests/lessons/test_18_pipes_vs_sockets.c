/* test_18_pipes_vs_sockets.c — lesson 18's ipcbench, run as a real process.
 *
 * What these tests prove:
 *  - the channels, two at a time: two pipes and a socketpair, then a Unix
 *    socket and TCP connected before fork(), each carry every ping back
 *    and every byte of the bulk data (a short run, "ok" on both rows, no
 *    other row, exit 0); the Unix socket's path is gone afterwards;
 *  - "ipcbench --quick" finishes by itself within a deadline and exits 0;
 *    its table has one row for each of pipe, socketpair, unix, tcp and udp,
 *    each with positive mean, p50, p99 and MiB/s, p50 <= p99, and "ok" in
 *    the check column; only udp reports a loss percentage;
 *  - -t chooses the transports (only those rows appear), and -n, -s, -V,
 *    -w, -c, -P reach the run (the header repeats them);
 *  - the data check inside the program works: --corrupt flips one byte of
 *    the first write, and then every stream transport's row says FAILED,
 *    stderr names the one bad byte, and the exit status is 1 (udp is left
 *    out there: a datagram may be dropped, and a dropped corrupt datagram
 *    would rightly not be noticed);
 *  - -h exits 0, and bad options exit 2 with a message naming the problem.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define LESSON "18-pipes-vs-sockets"
#define T_RUN 60000 /* ms: the quick run takes well under a second here */

struct row {
	char name[16];
	double mean, p50, p99, mibs;
	char lost[16];
	char check[16];
};

/* Find the table row for name in out; returns 1 and fills r when found. */
static int find_row(const char *out, const char *name, struct row *r)
{
	for (const char *line = out; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');

		memset(r, 0, sizeof(*r));
		if (sscanf(line, "%15s %lf %lf %lf %lf %15s %15s", r->name, &r->mean, &r->p50,
			   &r->p99, &r->mibs, r->lost, r->check) == 7 &&
		    strcmp(r->name, name) == 0)
			return 1;
		line = eol != NULL ? eol + 1 : NULL;
	}
	return 0;
}

static int run_bench(struct h_proc *p, const char *a1, const char *a2, const char *a3,
                     const char *a4, const char *a5, const char *a6, const char *a7,
                     const char *a8)
{
	char *argv[] = { (char *)h_lesson(LESSON, "ipcbench"), (char *)a1, (char *)a2,
			 (char *)a3, (char *)a4, (char *)a5, (char *)a6, (char *)a7,
			 (char *)a8, NULL };

	return h_run(p, argv, NULL, 0, T_RUN);
}

/* A short run of the transports in list (two of them, first and second):
 * exit 0, both rows checked "ok" with no loss column, no other row. The
 * times are not looked at: these tests are about the channels. */
static void expect_channels_ok(const char *list, const char *first, const char *second)
{
	static const char *const names[] = { "pipe", "socketpair", "unix", "tcp", "udp" };
	static struct h_proc p;
	int rc = run_bench(&p, "-t", list, "-n", "200", "-V", "4", NULL, NULL);

	if (rc != 0)
		fail_msg("ipcbench -t %s: exit %d\nstdout:\n%s\nstderr:\n%s", list, rc,
			 p.outbuf, p.errbuf);
	assert_non_null(strstr(p.outbuf, "200 round trips of 64 bytes (after 20 untimed), 4 MiB"));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct row r;

		if (strcmp(names[i], first) != 0 && strcmp(names[i], second) != 0) {
			assert_false(find_row(p.outbuf, names[i], &r));
			continue;
		}
		if (!find_row(p.outbuf, names[i], &r))
			fail_msg("no row for %s in:\n%s", names[i], p.outbuf);
		assert_string_equal(r.check, "ok");
		assert_string_equal(r.lost, "-");
	}
	assert_null(strstr(p.errbuf, "data check failed"));
}

/* Two pipes (a pipe is one-way) and one socketpair (two-way). */
static void test_pipe_and_socketpair(void **state)
{
	(void)state;
	expect_channels_ok("pipe,socketpair", "pipe", "socketpair");
}

/* Number of entries in a directory, or -1. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A scratch directory for $XDG_RUNTIME_DIR, removed by the teardown
 * even when the test fails (ipcbench's own directories in it too). */
static char scratch[] = "/tmp/socklab-t18-XXXXXX";

static int make_scratch(void **state)
{
	(void)state;
	memcpy(scratch + sizeof(scratch) - 7, "XXXXXX", 6);
	if (mkdtemp(scratch) == NULL)
		return -1;
	setenv("XDG_RUNTIME_DIR", scratch, 1);
	return 0;
}

static int remove_scratch(void **state)
{
	DIR *d = opendir(scratch);
	struct dirent *e;

	(void)state;
	unsetenv("XDG_RUNTIME_DIR");
	/* Only a failed run leaves anything: an empty ipcbench-XXXXXX
	 * directory, or one holding the socket file "s". */
	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[sizeof(scratch) + 300];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/s", scratch, e->d_name);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", scratch, e->d_name);
		rmdir(path);
	}
	if (d != NULL)
		closedir(d);
	return rmdir(scratch);
}

/* A Unix socket through a path and TCP on 127.0.0.1, both connected in
 * one process before fork(). The Unix socket's directory goes under
 * $XDG_RUNTIME_DIR (the scratch directory), which must be empty
 * afterwards: once connected, the path is not needed. */
static void test_unix_and_tcp(void **state)
{
	(void)state;
	expect_channels_ok("unix,tcp", "unix", "tcp");
	assert_int_equal(count_entries(scratch), 0);
}

static void test_quick_run_fills_the_table(void **state)
{
	static const char *const names[] = { "pipe", "socketpair", "unix", "tcp", "udp" };
	static struct h_proc p;
	long long t0 = h_now_ms();
	int rc;

	(void)state;
	rc = run_bench(&p, "--quick", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	if (rc != 0)
		fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", rc, p.outbuf, p.errbuf);
	fprintf(stderr, "ipcbench --quick took %lld ms\n", h_now_ms() - t0);
	assert_non_null(strstr(p.outbuf, "1000 round trips of 64 bytes"));
	assert_non_null(strstr(p.outbuf, "16 MiB in 65536-byte writes"));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct row r;

		if (!find_row(p.outbuf, names[i], &r))
			fail_msg("no row for %s in:\n%s", names[i], p.outbuf);
		assert_true(r.mean > 0);
		assert_true(r.p50 > 0);
		assert_true(r.p99 > 0);
		assert_true(r.p50 <= r.p99);
		assert_true(r.mibs > 0);
		assert_string_equal(r.check, "ok");
		if (strcmp(names[i], "udp") == 0)
			assert_int_equal(r.lost[strlen(r.lost) - 1], '%');
		else
			assert_string_equal(r.lost, "-");
	}
	assert_null(strstr(p.errbuf, "data check failed"));
}

static void test_options_reach_the_run(void **state)
{
	static struct h_proc p;
	struct row r;

	(void)state;
	assert_int_equal(run_bench(&p, "-t", "pipe,tcp", "-n", "200", "-s", "128", "-V", "4"), 0);
	assert_non_null(strstr(p.outbuf, "200 round trips of 128 bytes (after 20 untimed), 4 MiB"));
	assert_true(find_row(p.outbuf, "pipe", &r));
	assert_string_equal(r.check, "ok");
	assert_true(find_row(p.outbuf, "tcp", &r));
	assert_string_equal(r.check, "ok");
	assert_false(find_row(p.outbuf, "socketpair", &r));
	assert_false(find_row(p.outbuf, "unix", &r));
	assert_false(find_row(p.outbuf, "udp", &r));

	/* Pinning and the pipe size are taken (and said). */
	assert_int_equal(run_bench(&p, "-q", "-t", "pipe", "-c", "0,0", "-P", "1048576", NULL), 0);
	assert_non_null(strstr(p.outbuf, "parent on CPU 0, child on CPU 0\n"));
	assert_non_null(strstr(p.outbuf, "pipe capacity 1048576 bytes\n"));
	assert_true(find_row(p.outbuf, "pipe", &r));
	assert_string_equal(r.check, "ok");

	/* Small writes: the stream is checked across many short pieces. */
	assert_int_equal(run_bench(&p, "-q", "-t", "unix", "-w", "1000", "-V", "2", NULL), 0);
	assert_non_null(strstr(p.outbuf, "2 MiB in 1000-byte writes"));
	assert_true(find_row(p.outbuf, "unix", &r));
	assert_string_equal(r.check, "ok");
}

static void test_corruption_is_caught(void **state)
{
	static const char *const names[] = { "pipe", "socketpair", "unix", "tcp" };
	static struct h_proc p;

	(void)state;
	assert_int_equal(run_bench(&p, "--quick", "--corrupt", "-t", "pipe,socketpair,unix,tcp",
				   NULL, NULL, NULL, NULL), 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct row r;
		char key[96];

		if (!find_row(p.outbuf, names[i], &r))
			fail_msg("no row for %s in:\n%s", names[i], p.outbuf);
		assert_string_equal(r.check, "FAILED");
		snprintf(key, sizeof(key), "%s: data check failed: 1 bytes", names[i]);
		assert_non_null(strstr(p.errbuf, key));
	}
}

static void expect_usage_error(const char *needle, const char *a1, const char *a2)
{
	static struct h_proc p;
	int rc = run_bench(&p, a1, a2, NULL, NULL, NULL, NULL, NULL, NULL);

	if (rc != 2 || strstr(p.errbuf, needle) == NULL)
		fail_msg("ipcbench %s %s: exit %d, stderr:\n%s\n(expected 2 and '%s')",
			 a1, a2 ? a2 : "", rc, p.errbuf, needle);
	/* A refused command line runs nothing. */
	assert_null(strstr(p.outbuf, "transport"));
}

static void test_help_and_bad_options(void **state)
{
	static struct h_proc p;

	(void)state;
	assert_int_equal(run_bench(&p, "-h", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 0);
	assert_true(strncmp(p.outbuf, "usage: ipcbench", 15) == 0);
	assert_non_null(strstr(p.outbuf, "--quick"));
	assert_int_equal(run_bench(&p, "--help", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 0);
	assert_true(strncmp(p.outbuf, "usage: ipcbench", 15) == 0);

	expect_usage_error("unknown option -x", "-x", NULL);
	expect_usage_error("unknown option --bogus", "--bogus", NULL);
	expect_usage_error("needs an argument", "-n", NULL);
	expect_usage_error("unknown transport 'carrier-pigeon'", "-t", "carrier-pigeon");
	expect_usage_error("no transport in ','", "-t", ",");
	expect_usage_error("bad message size '4'", "-s", "4");
	expect_usage_error("bad iteration count '0'", "-n", "0");
	expect_usage_error("bad iteration count '12x'", "-n", "12x");
	expect_usage_error("bad volume '0'", "-V", "0");
	expect_usage_error("bad write size '0'", "-w", "0");
	expect_usage_error("unexpected argument 'extra'", "extra", NULL);
	expect_usage_error("bad cpus '0'", "-c", "0");
	expect_usage_error("bad parent CPU 'x'", "-c", "x,0");
	expect_usage_error("bad child CPU '100000'", "-c", "0,100000");
	expect_usage_error("bad pipe size '100'", "-P", "100");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_bad_options),
		cmocka_unit_test(test_pipe_and_socketpair),
		cmocka_unit_test_setup_teardown(test_unix_and_tcp, make_scratch, remove_scratch),
		cmocka_unit_test(test_quick_run_fills_the_table),
		cmocka_unit_test(test_options_reach_the_run),
		cmocka_unit_test(test_corruption_is_caught),
	};

	cmocka_set_test_filter(getenv("SOCKLAB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
