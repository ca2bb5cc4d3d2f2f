/* lessonconf.c — the lesson.conf reader (see lessonconf.h).
 *
 * The whole file is read into one buffer; each line's key and value are
 * cut out of it in place (a NUL after each), and the entries point there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessonconf.h"

static void set_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, SL_ERR_LEN, fmt, ap);
	va_end(ap);
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static char *trim(char *s)
{
	char *end;

	while (is_space(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_space(end[-1]))
		*--end = '\0';
	return s;
}

static int is_key(const char *k)
{
	if (*k == '\0')
		return 0;
	for (; *k != '\0'; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '.' || *k == '-' || *k == '_'))
			return 0;
	return 1;
}

static int add_entry(struct sl_lessonconf *c, size_t *cap, const char *key,
		     const char *value, int line)
{
	if (c->n == *cap) {
		size_t n = *cap ? *cap * 2 : 32;
		struct sl_conf_entry *v = realloc(c->v, n * sizeof(*v));

		if (v == NULL)
			return -1;
		c->v = v;
		*cap = n;
	}
	c->v[c->n].key = key;
	c->v[c->n].value = value;
	c->v[c->n].line = line;
	c->n++;
	return 0;
}

/* One line (NUL-terminated in place): an entry, or nothing to keep. */
static int parse_line(struct sl_lessonconf *c, size_t *cap, char *s, int line,
		      char *err)
{
	char *eq, *key;

	s = trim(s);
	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (eq == NULL) {
		set_err(err, "%s:%d: expected key = value", c->path, line);
		errno = EINVAL;
		return -1;
	}
	*eq = '\0';
	key = trim(s);
	if (!is_key(key)) {
		set_err(err, "%s:%d: a key is letters, digits, '.', '-' and '_'",
			c->path, line);
		errno = EINVAL;
		return -1;
	}
	if (add_entry(c, cap, key, trim(eq + 1), line) < 0) {
		set_err(err, "%s: out of memory", c->path);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int sl_lessonconf_parse(struct sl_lessonconf *c, const char *text, size_t len,
			const char *name, char err[SL_ERR_LEN])
{
	const char *nul;
	size_t cap = 0;
	char *s;
	int line = 1;

	memset(c, 0, sizeof(*c));
	if (len > SL_LESSONCONF_MAX) {
		set_err(err, "%s: larger than %d bytes", name, SL_LESSONCONF_MAX);
		errno = EFBIG;
		return -1;
	}
	nul = memchr(text, '\0', len);
	if (nul != NULL) {
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		set_err(err, "%s:%d: a NUL byte", name, line);
		errno = EINVAL;
		return -1;
	}
	c->path = strdup(name);
	c->text = malloc(len + 1);
	if (c->path == NULL || c->text == NULL) {
		sl_lessonconf_free(c);
		set_err(err, "%s: out of memory", name);
		errno = ENOMEM;
		return -1;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	for (s = c->text; s != NULL; line++) {
		char *nl = strchr(s, '\n');

		if (nl != NULL)
			*nl++ = '\0';
		if (parse_line(c, &cap, s, line, err) < 0) {
			int saved = errno;

			sl_lessonconf_free(c);
			errno = saved;
			return -1;
		}
		s = nl;
	}
	return 0;
}

int sl_lessonconf_read(struct sl_lessonconf *c, const char *path,
		       char err[SL_ERR_LEN])
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, rc, saved;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		set_err(err, "open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			/* One byte past the limit tells a file that is too large. */
			size_t n = cap ? cap * 2 : 4096;
			char *p;

			if (cap > SL_LESSONCONF_MAX)
				break;
			p = realloc(buf, n);
			if (p == NULL) {
				free(buf);
				close(fd);
				set_err(err, "%s: out of memory", path);
				errno = ENOMEM;
				return -1;
			}
			buf = p;
			cap = n;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			free(buf);
			close(fd);
			set_err(err, "read %s: %s", path, strerror(saved));
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	rc = sl_lessonconf_parse(c, buf != NULL ? buf : "", len, path, err);
	saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

void sl_lessonconf_free(struct sl_lessonconf *c)
{
	free(c->path);
	free(c->v);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

const char *sl_lessonconf_get(const struct sl_lessonconf *c, const char *key)
{
	for (size_t i = c->n; i > 0; i--)
		if (strcmp(c->v[i - 1].key, key) == 0)
			return c->v[i - 1].value;
	return NULL;
}

const struct sl_conf_entry *sl_lessonconf_next(const struct sl_lessonconf *c,
					       const char *key, size_t *i)
{
	while (*i < c->n) {
		const struct sl_conf_entry *e = &c->v[(*i)++];

		if (key == NULL || strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

int sl_lessonconf_split(const char *key, const char *prefix, char *name,
			size_t size, const char **field)
{
	size_t plen = strlen(prefix);
	const char *n, *dot;

	if (strncmp(key, prefix, plen) != 0 || key[plen] != '.')
		return 0;
	n = key + plen + 1;
	dot = strchr(n, '.');
	if (dot == NULL || dot == n || dot[1] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)(dot - n) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(name, n, (size_t)(dot - n));
	name[dot - n] = '\0';
	*field = dot + 1;
	return 1;
}

int sl_lessonconf_named(const char *key, const char *base, const char **name)
{
	size_t blen = strlen(base);

	if (strncmp(key, base, blen) != 0)
		return 0;
	if (key[blen] == '\0') {
		*name = key + blen;
		return 1;
	}
	if (key[blen] == '.' && key[blen + 1] != '\0') {
		*name = key + blen + 1;
		return 1;
	}
	return 0;
}

int sl_lessonconf_number(const struct sl_lessonconf *c, const struct sl_conf_entry *e,
			 long min, long max, long *out, char err[SL_ERR_LEN])
{
	if (sl_num_parse(e->value, min, max, out) < 0) {
		set_err(err, "%s:%d: %s: '%s' is not a whole number from %ld to %ld",
			c->path, e->line, e->key, e->value, min, max);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int sl_lessonconf_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (n == 0)
		return 0;
	while (*list != '\0') {
		size_t w;

		list += strspn(list, " \t,");
		w = strcspn(list, " \t,");
		if (w == n && strncmp(list, word, n) == 0)
			return 1;
		list += w;
	}
	return 0;
}
