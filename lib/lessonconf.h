/* lessonconf.h — read a lesson's lesson.conf. The one reader of the file:
 * the visualizer (tui/lessons.c), the exercise tool and the tests all use
 * it, each taking the keys it knows.
 *
 * The format: one "key = value" a line. White space around the key and
 * the value is dropped; empty lines, and lines whose first character that
 * is not white space is '#', are skipped. A key is letters, digits, '.',
 * '-' and '_'; the value is the rest of the line after the first '=' (it
 * may hold '=' and '#', and be empty). A key may appear more than once
 * (run lines): every line is kept, in the file's order, with its number.
 *
 * The keys in use (lessons/03-tcp-lifecycle/lesson.conf has most):
 *   title, summary           the lesson menu's two lines
 *   programs                 the lesson's own programs, one word each
 *   run                      a process `socklab run` starts, in order;
 *                            "after 500ms CMD" (or "after 2s CMD"): that long
 *                            after the run line before it started
 *   scenario.NAME.title|run|then   a named variant of the run lines
 *   hold, scenario.NAME.hold  seconds: `socklab run --batch` ends the run
 *                            that long after its last run line started
 *   echo-server[.NAME], echo-server-args[.NAME], echo-server-limit[.NAME],
 *   echo-server-children[.NAME]    the designs the concurrency suite tests
 *                            (tests/lessons/test_concurrency.c)
 * The reader keeps every key, known or not, so a new key needs no new
 * reader: read it with sl_lessonconf_get or sl_lessonconf_next, and the
 * helpers below for the shapes keys already have ("PREFIX.NAME.FIELD",
 * "BASE.NAME", numbers, lists of words).
 *
 * Errors follow the library's rule: -1 with errno, and a message in a
 * caller-owned err[SL_ERR_LEN] naming the file and line.
 */
#ifndef SOCKLAB_LESSONCONF_H
#define SOCKLAB_LESSONCONF_H

#include <stddef.h>

#include "addr.h" /* SL_ERR_LEN */

/* A file larger than this is refused (EFBIG): no lesson.conf comes near. */
#define SL_LESSONCONF_MAX (1024 * 1024)

struct sl_conf_entry {
	const char *key;
	const char *value;
	int line;              /* its line number, from 1 */
};

struct sl_lessonconf {
	char *path;            /* the name errors give (what read or parse got) */
	struct sl_conf_entry *v;
	size_t n;              /* entries, in the file's order */
	char *text;            /* keys and values point into it */
};

/* Read the file at path into c. Returns 0, or -1 with errno: the error of
 * open or read (ENOENT: there is no such file), EFBIG, EINVAL for a line
 * that is not "key = value" or a key with other characters, ENOMEM; err
 * says which, "PATH:LINE: expected key = value". c needs no freeing after
 * -1. */
int sl_lessonconf_read(struct sl_lessonconf *c, const char *path,
                       char err[SL_ERR_LEN]);

/* The same from len bytes of text (not NUL-terminated; a NUL byte in it
 * is EINVAL); name is what errors call it. */
int sl_lessonconf_parse(struct sl_lessonconf *c, const char *text, size_t len,
                        const char *name, char err[SL_ERR_LEN]);

void sl_lessonconf_free(struct sl_lessonconf *c);

/* The value of key's last line (a later line overrides an earlier one),
 * or NULL when no line has key. */
const char *sl_lessonconf_get(const struct sl_lessonconf *c, const char *key);

/* Every line with key, in order: start with *i = 0; each call returns the
 * next one and moves *i past it, NULL at the end. key NULL: every line. */
const struct sl_conf_entry *sl_lessonconf_next(const struct sl_lessonconf *c,
                                               const char *key, size_t *i);

/* A key "PREFIX.NAME.FIELD" (scenario.timewait.run): NAME, which holds
 * no '.', is copied into name (size bytes), and *field points at FIELD
 * inside key (it may hold dots: room for "scenario.NAME.link.loss").
 * Returns 1; 0 when key does not start with "PREFIX."; -1 with errno
 * EINVAL when it does but NAME or FIELD is empty or missing, or
 * ENAMETOOLONG when NAME does not fit. */
int sl_lessonconf_split(const char *key, const char *prefix, char *name,
                        size_t size, const char **field);

/* A key "BASE" or "BASE.NAME" (echo-server, echo-server.edge): returns 1
 * and points *name at NAME inside key ("" for plain BASE); 0 for any
 * other key (echo-server-limit is not echo-server). */
int sl_lessonconf_named(const char *key, const char *base, const char **name);

/* e's value as a whole number from min to max. Returns 0, or -1 with
 * errno EINVAL and err "PATH:LINE: KEY: 'VALUE' is not a whole number
 * from MIN to MAX". */
int sl_lessonconf_number(const struct sl_lessonconf *c, const struct sl_conf_entry *e,
                         long min, long max, long *out, char err[SL_ERR_LEN]);

/* Is word one of the words of list (a value such as programs': words
 * apart by spaces, tabs or commas)? */
int sl_lessonconf_has_word(const char *list, const char *word);

#endif
