/* test_lessonconf.c — lib/lessonconf.c: the one lesson.conf reader.
 *
 * What the tests prove:
 *  - "key = value" lines are kept in the file's order with their line
 *    numbers; white space (CRLF included), blank and '#' lines are
 *    dropped; a value keeps its '=' and '#' and may be empty; a key that
 *    repeats keeps every line, and get gives the last;
 *  - a line that is not "key = value", a key with other characters, a NUL
 *    byte and a file over the limit are refused with errno and a message
 *    naming the file and line; after a failure nothing is left to free;
 *  - a real file is read (and a missing one is ENOENT), and every
 *    lessons/NN-topic/lesson.conf in the tree parses, with a title and
 *    something to run;
 *  - the helpers read the shapes keys have: "scenario.NAME.FIELD",
 *    "echo-server.NAME", numbers in a range, lists of words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessonconf.h"

static void parse_ok(struct sl_lessonconf *c, const char *text)
{
	char err[SL_ERR_LEN] = "";

	if (sl_lessonconf_parse(c, text, strlen(text), "t.conf", err) < 0)
		fail_msg("parse: %s", err);
}

/* Parsing text fails with errno want and a message starting with msg. */
static void parse_fails(const char *text, size_t len, int want, const char *msg)
{
	struct sl_lessonconf c;
	char err[SL_ERR_LEN] = "";

	errno = 0;
	assert_int_equal(sl_lessonconf_parse(&c, text, len, "t.conf", err), -1);
	assert_int_equal(errno, want);
	if (strncmp(err, msg, strlen(msg)) != 0)
		fail_msg("error '%s', expected it to start '%s'", err, msg);
	assert_null(c.v);
	assert_null(c.text);
	assert_int_equal(c.n, 0);
}

static void test_lines(void **state)
{
	struct sl_lessonconf c;
	const struct sl_conf_entry *e;
	size_t i = 0;

	(void)state;
	parse_ok(&c, "# a comment\n"
		     "title = The echo server\n"
		     "\n"
		     "   # an indented comment\n"
		     "run = server -p 0\r\n"
		     "\trun\t=\tclient -p {port} a=b # not a comment  \n"
		     "summary =\n"
		     "title=Another title");
	assert_string_equal(c.path, "t.conf");
	assert_int_equal(c.n, 5);
	assert_string_equal(c.v[0].key, "title");
	assert_string_equal(c.v[0].value, "The echo server");
	assert_int_equal(c.v[0].line, 2);
	assert_string_equal(c.v[1].value, "server -p 0");
	assert_int_equal(c.v[1].line, 5);
	assert_string_equal(c.v[2].key, "run");
	assert_string_equal(c.v[2].value, "client -p {port} a=b # not a comment");
	assert_int_equal(c.v[2].line, 6);
	assert_string_equal(c.v[3].key, "summary");
	assert_string_equal(c.v[3].value, "");
	/* The last line has no newline, and a later title wins. */
	assert_int_equal(c.v[4].line, 8);
	assert_string_equal(sl_lessonconf_get(&c, "title"), "Another title");
	assert_string_equal(sl_lessonconf_get(&c, "summary"), "");
	assert_null(sl_lessonconf_get(&c, "programs"));
	/* Every run line, in order. */
	e = sl_lessonconf_next(&c, "run", &i);
	assert_non_null(e);
	assert_int_equal(e->line, 5);
	e = sl_lessonconf_next(&c, "run", &i);
	assert_non_null(e);
	assert_int_equal(e->line, 6);
	assert_null(sl_lessonconf_next(&c, "run", &i));
	assert_null(sl_lessonconf_next(&c, "run", &i));
	/* A NULL key walks every line. */
	i = 0;
	for (int n = 0; n < 5; n++)
		assert_ptr_equal(sl_lessonconf_next(&c, NULL, &i), &c.v[n]);
	assert_null(sl_lessonconf_next(&c, NULL, &i));
	sl_lessonconf_free(&c);
	assert_null(c.v);

	parse_ok(&c, "");
	assert_int_equal(c.n, 0);
	assert_null(sl_lessonconf_get(&c, "title"));
	sl_lessonconf_free(&c);
}

static void test_errors(void **state)
{
	static const char nul[] = "title = a\nrun = b\0c\n";

	(void)state;
	parse_fails("title = a\njust words\n", 21, EINVAL, "t.conf:2: expected key = value");
	parse_fails("\n\n= value\n", 10, EINVAL, "t.conf:3: a key is letters");
	parse_fails("run: x = y\n", 11, EINVAL, "t.conf:1: a key is letters");
	parse_fails("my key = y\n", 11, EINVAL, "t.conf:1: a key is letters");
	parse_fails(nul, sizeof(nul) - 1, EINVAL, "t.conf:2: a NUL byte");
	/* The size is checked before a byte is read. */
	parse_fails("x", (size_t)SL_LESSONCONF_MAX + 1, EFBIG, "t.conf: larger than");
}

/* A file in a fresh folder; returns its path in buf. */
static void write_file(char *dir, char *buf, size_t size, const char *text, size_t len)
{
	FILE *f;

	snprintf(dir, 32, "/tmp/lessonconf.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(buf, size, "%s/lesson.conf", dir);
	f = fopen(buf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_read_file(void **state)
{
	static const char text[] = "title = From a file\nrun = server -p 0\n";
	char dir[32], path[PATH_MAX], err[SL_ERR_LEN];
	struct sl_lessonconf c;
	char *big;

	(void)state;
	write_file(dir, path, sizeof(path), text, sizeof(text) - 1);
	assert_int_equal(sl_lessonconf_read(&c, path, err), 0);
	assert_string_equal(c.path, path);
	assert_int_equal(c.n, 2);
	assert_string_equal(sl_lessonconf_get(&c, "run"), "server -p 0");
	sl_lessonconf_free(&c);
	unlink(path);

	/* No file: ENOENT, which a caller may take as "not a lesson". */
	errno = 0;
	assert_int_equal(sl_lessonconf_read(&c, path, err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, path));
	assert_null(c.v);
	/* A folder is not a file. */
	assert_int_equal(sl_lessonconf_read(&c, dir, err), -1);
	assert_int_equal(errno, EISDIR);
	rmdir(dir);

	/* One byte over the limit, in comment lines. */
	big = malloc((size_t)SL_LESSONCONF_MAX + 1);
	assert_non_null(big);
	memset(big, '#', (size_t)SL_LESSONCONF_MAX + 1);
	for (size_t i = 99; i < (size_t)SL_LESSONCONF_MAX; i += 100)
		big[i] = '\n';
	write_file(dir, path, sizeof(path), big, (size_t)SL_LESSONCONF_MAX);
	assert_int_equal(sl_lessonconf_read(&c, path, err), 0);
	assert_int_equal(c.n, 0);
	sl_lessonconf_free(&c);
	unlink(path);
	rmdir(dir);
	write_file(dir, path, sizeof(path), big, (size_t)SL_LESSONCONF_MAX + 1);
	assert_int_equal(sl_lessonconf_read(&c, path, err), -1);
	assert_int_equal(errno, EFBIG);
	unlink(path);
	rmdir(dir);
	free(big);
}

/* The lessons' own files (the tests run from the top of the tree). */
static void test_every_lesson_conf(void **state)
{
	DIR *d = opendir("lessons");
	struct dirent *de;
	int nread = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX], err[SL_ERR_LEN], name[32];
		struct sl_lessonconf c;
		const struct sl_conf_entry *e;
		const char *field;
		size_t i = 0;
		int runs = 0;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "lessons/%s/lesson.conf", de->d_name);
		if (access(path, F_OK) != 0)
			continue;
		if (sl_lessonconf_read(&c, path, err) < 0)
			fail_msg("%s", err);
		nread++;
		if (sl_lessonconf_get(&c, "title") == NULL)
			fail_msg("%s: no title", path);
		while ((e = sl_lessonconf_next(&c, NULL, &i)) != NULL) {
			runs += strcmp(e->key, "run") == 0;
			if (sl_lessonconf_split(e->key, "scenario", name, sizeof(name), &field) < 0)
				fail_msg("%s:%d: bad scenario key %s", path, e->line, e->key);
		}
		if (runs == 0)
			fail_msg("%s: no run line", path);
		sl_lessonconf_free(&c);
	}
	closedir(d);
	assert_true(nread >= 18);
}

static void test_split(void **state)
{
	char name[8];
	const char *field = NULL;

	(void)state;
	assert_int_equal(sl_lessonconf_split("scenario.rst.run", "scenario", name,
					     sizeof(name), &field), 1);
	assert_string_equal(name, "rst");
	assert_string_equal(field, "run");
	assert_int_equal(sl_lessonconf_split("scenario.rst.link.loss", "scenario", name,
					     sizeof(name), &field), 1);
	assert_string_equal(name, "rst");
	assert_string_equal(field, "link.loss");
	/* Not this prefix: 0, whatever follows. */
	assert_int_equal(sl_lessonconf_split("run", "scenario", name, sizeof(name), &field), 0);
	assert_int_equal(sl_lessonconf_split("scenarios.a.run", "scenario", name,
					     sizeof(name), &field), 0);
	assert_int_equal(sl_lessonconf_split("scenario", "scenario", name, sizeof(name), &field), 0);
	/* The prefix, but not the shape. */
	errno = 0;
	assert_int_equal(sl_lessonconf_split("scenario.rst", "scenario", name,
					     sizeof(name), &field), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sl_lessonconf_split("scenario..run", "scenario", name,
					     sizeof(name), &field), -1);
	assert_int_equal(sl_lessonconf_split("scenario.rst.", "scenario", name,
					     sizeof(name), &field), -1);
	assert_int_equal(errno, EINVAL);
	/* "abcdefgh" and its NUL need 9 bytes. */
	assert_int_equal(sl_lessonconf_split("scenario.abcdefg.run", "scenario", name,
					     sizeof(name), &field), 1);
	assert_int_equal(sl_lessonconf_split("scenario.abcdefgh.run", "scenario", name,
					     sizeof(name), &field), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void test_named(void **state)
{
	const char *name = NULL;

	(void)state;
	assert_int_equal(sl_lessonconf_named("echo-server", "echo-server", &name), 1);
	assert_string_equal(name, "");
	assert_int_equal(sl_lessonconf_named("echo-server.edge", "echo-server", &name), 1);
	assert_string_equal(name, "edge");
	assert_int_equal(sl_lessonconf_named("echo-server-limit.edge", "echo-server-limit",
					     &name), 1);
	assert_string_equal(name, "edge");
	assert_int_equal(sl_lessonconf_named("echo-server-limit", "echo-server", &name), 0);
	assert_int_equal(sl_lessonconf_named("echo-serverx", "echo-server", &name), 0);
	assert_int_equal(sl_lessonconf_named("echo-server.", "echo-server", &name), 0);
	assert_int_equal(sl_lessonconf_named("echo", "echo-server", &name), 0);
}

static void test_number(void **state)
{
	struct sl_lessonconf c;
	char err[SL_ERR_LEN];
	long v = -1;

	(void)state;
	parse_ok(&c, "limit = 4\nlimit = 0\nlimit = 4x\nlimit = -1\nlimit = \n");
	assert_int_equal(sl_lessonconf_number(&c, &c.v[0], 1, 1000, &v, err), 0);
	assert_int_equal(v, 4);
	assert_int_equal(sl_lessonconf_number(&c, &c.v[1], 0, 1000, &v, err), 0);
	assert_int_equal(v, 0);
	errno = 0;
	assert_int_equal(sl_lessonconf_number(&c, &c.v[1], 1, 1000, &v, err), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, "t.conf:2: limit: '0' is not a whole number from 1 to 1000");
	for (size_t i = 2; i < c.n; i++)
		assert_int_equal(sl_lessonconf_number(&c, &c.v[i], 0, 1000, &v, err), -1);
	assert_int_equal(v, 0);
	sl_lessonconf_free(&c);
}

static void test_has_word(void **state)
{
	(void)state;
	assert_true(sl_lessonconf_has_word("server client", "client"));
	assert_true(sl_lessonconf_has_word("server, client", "server"));
	assert_true(sl_lessonconf_has_word("\tstream-server\tstream-client ", "stream-client"));
	assert_false(sl_lessonconf_has_word("server client", "serve"));
	assert_false(sl_lessonconf_has_word("stream-server", "server"));
	assert_false(sl_lessonconf_has_word("server", ""));
	assert_false(sl_lessonconf_has_word("", "server"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_every_lesson_conf),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_has_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
