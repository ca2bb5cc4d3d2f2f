/* lessons.c — find the lessons and read their lesson.conf (see lessons.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lessons.h"
#include "text.h"

static void scenario_free(struct scenario *sc)
{
	for (int i = 0; i < sc->nrun; i++)
		free(sc->run[i]);
	for (int i = 0; i < sc->nthen; i++)
		free(sc->then[i]);
	sc->nrun = sc->nthen = 0;
}

static void lesson_free(struct lesson *l)
{
	scenario_free(&l->main);
	for (int i = 0; i < l->nscen; i++)
		scenario_free(&l->scen[i]);
	free(l->scen);
	l->scen = NULL;
	l->nscen = 0;
	sl_lessonconf_free(&l->conf);
}

void lessons_free(struct lessons *ls)
{
	for (int i = 0; i < ls->n; i++)
		lesson_free(&ls->v[i]);
	free(ls->v);
	ls->v = NULL;
	ls->n = 0;
}

static int add_cmd(char **list, int *n, const char *value)
{
	if (*n >= CMDS_MAX)
		return -1;
	list[*n] = strdup(value);
	if (list[*n] == NULL)
		return -1;
	(*n)++;
	return 0;
}

static struct scenario *scenario_get(struct lesson *l, const char *name)
{
	struct scenario *p;

	for (int i = 0; i < l->nscen; i++)
		if (strcmp(l->scen[i].name, name) == 0)
			return &l->scen[i];
	p = realloc(l->scen, (size_t)(l->nscen + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	l->scen = p;
	p = &l->scen[l->nscen++];
	memset(p, 0, sizeof(*p));
	text_copy(p->name, sizeof(p->name), name);
	return p;
}

/* "2" or "2.5" seconds, more than 0 and at most 600, as milliseconds. */
static int hold_value(const char *value, int *ms)
{
	char *end;
	double v = strtod(value, &end);

	if (end == value || *end != '\0' || !(v > 0 && v <= 600))
		return -1;
	*ms = (int)(v * 1000 + 0.5);
	return 0;
}

/* One line of lesson.conf that the visualizer reads: a run line, a hold,
 * or a scenario's. Returns 0, or -1 when the value is unusable. */
static int conf_entry(struct lesson *l, const struct sl_conf_entry *e)
{
	char name[SCEN_NAME_LEN];
	const char *field;
	struct scenario *sc;
	int rc;

	if (strcmp(e->key, "run") == 0)
		return add_cmd(l->main.run, &l->main.nrun, e->value);
	if (strcmp(e->key, "hold") == 0)
		return hold_value(e->value, &l->main.hold_ms);
	rc = sl_lessonconf_split(e->key, "scenario", name, sizeof(name), &field);
	if (rc <= 0)
		return rc;   /* another key (skipped), or a malformed one */
	sc = scenario_get(l, name);
	if (sc == NULL)
		return -1;
	if (strcmp(field, "title") == 0)
		text_copy(sc->title, sizeof(sc->title), e->value);
	else if (strcmp(field, "run") == 0)
		return add_cmd(sc->run, &sc->nrun, e->value);
	else if (strcmp(field, "then") == 0)
		return add_cmd(sc->then, &sc->nthen, e->value);
	else if (strcmp(field, "hold") == 0)
		return hold_value(e->value, &sc->hold_ms);
	return 0;   /* a field of a newer socklab */
}

static void copy_value(char *dst, size_t size, const struct sl_lessonconf *c, const char *key)
{
	const char *v = sl_lessonconf_get(c, key);

	if (v != NULL)
		text_copy(dst, size, v);
}

static int conf_read(struct lesson *l, char *err, size_t errsize)
{
	char path[PATH_MAX + 16], why[SL_ERR_LEN];
	const struct sl_conf_entry *e;
	struct sl_lessonconf *c = &l->conf;
	size_t i = 0;

	snprintf(path, sizeof(path), "%s/lesson.conf", l->dir);
	if (sl_lessonconf_read(c, path, why) < 0) {
		/* A folder without lesson.conf is not a lesson (yet): no error. */
		if (errno != ENOENT)
			text_copy(err, errsize, why);
		return -1;
	}
	copy_value(l->title, sizeof(l->title), c, "title");
	copy_value(l->summary, sizeof(l->summary), c, "summary");
	copy_value(l->programs, sizeof(l->programs), c, "programs");
	while ((e = sl_lessonconf_next(c, NULL, &i)) != NULL)
		if (conf_entry(l, e) < 0) {
			snprintf(err, errsize, "%s:%d: bad or too many values", path, e->line);
			return -1;
		}
	if (l->main.nrun == 0 && l->nscen == 0) {
		snprintf(err, errsize, "%s: no run lines", path);
		return -1;
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct lesson *)a)->dirname, ((const struct lesson *)b)->dirname);
}

int lessons_load(struct lessons *ls, const char *dir, char *err, size_t errsize)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	ls->v = NULL;
	ls->n = 0;
	err[0] = '\0';
	if (d == NULL) {
		snprintf(err, errsize, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		struct lesson l, *p;
		size_t digits = strspn(name, "0123456789");

		if (digits == 0 || digits >= sizeof(l.id) || name[digits] != '-' ||
		    strlen(name) >= sizeof(l.dirname))
			continue;
		memset(&l, 0, sizeof(l));
		memcpy(l.id, name, digits);
		text_copy(l.dirname, sizeof(l.dirname), name);
		if (snprintf(l.dir, sizeof(l.dir), "%s/%s", dir, name) >= (int)sizeof(l.dir))
			continue;
		if (conf_read(&l, err, errsize) < 0) {
			lesson_free(&l);
			continue;
		}
		if (l.title[0] == '\0')
			text_copy(l.title, sizeof(l.title), name);
		p = realloc(ls->v, (size_t)(ls->n + 1) * sizeof(*p));
		if (p == NULL) {
			lesson_free(&l);
			snprintf(err, errsize, "out of memory");
			break;
		}
		ls->v = p;
		ls->v[ls->n++] = l;
	}
	closedir(d);
	if (ls->n > 1)
		qsort(ls->v, (size_t)ls->n, sizeof(*ls->v), by_id);
	return 0;
}

struct lesson *lessons_find(struct lessons *ls, const char *key)
{
	char *end;
	long want = strtol(key, &end, 10);

	for (int i = 0; i < ls->n; i++) {
		if (strcmp(ls->v[i].dirname, key) == 0 || strcmp(ls->v[i].id, key) == 0)
			return &ls->v[i];
		if (*end == '\0' && end != key && strtol(ls->v[i].id, NULL, 10) == want)
			return &ls->v[i];
	}
	return NULL;
}

struct scenario *lesson_scenario(struct lesson *l, const char *name)
{
	if (name == NULL || name[0] == '\0')
		return l->main.nrun > 0 ? &l->main : NULL;
	for (int i = 0; i < l->nscen; i++)
		if (strcmp(l->scen[i].name, name) == 0)
			return l->scen[i].nrun > 0 ? &l->scen[i] : NULL;
	return NULL;
}

int lesson_has_program(const struct lesson *l, const char *prog)
{
	return sl_lessonconf_has_word(l->programs, prog);
}

/* Replace every name (as "{name}") in word by value; -1 when value is
 * NULL but needed, or the result does not fit. */
static int substitute(char *word, size_t size, const char *name, const char *value)
{
	char *at;

	while ((at = strstr(word, name)) != NULL) {
		char rest[256];

		if (value == NULL)
			return -1;
		text_copy(rest, sizeof(rest), at + strlen(name));
		*at = '\0';
		if (strlen(word) + strlen(value) + strlen(rest) + 1 > size)
			return -1;
		text_append(word, size, value);
		text_append(word, size, rest);
	}
	return 0;
}

int lesson_split_command(const char *cmd, const char *port, const char *addr, char *buf,
                         size_t size, char **argv, int max)
{
	size_t used = 0;
	int argc = 0;

	while (*cmd != '\0') {
		size_t w;
		char word[256];

		cmd += strspn(cmd, " \t");
		if (*cmd == '\0')
			break;
		w = strcspn(cmd, " \t");
		if (w >= sizeof(word) || argc >= max - 1)
			return -1;
		memcpy(word, cmd, w);
		word[w] = '\0';
		cmd += w;
		if (substitute(word, sizeof(word), "{port}", port) < 0 ||
		    substitute(word, sizeof(word), "{addr}", addr) < 0)
			return -1;
		w = strlen(word);
		if (used + w + 1 > size)
			return -1;
		memcpy(buf + used, word, w + 1);
		argv[argc++] = buf + used;
		used += w + 1;
	}
	argv[argc] = NULL;
	return argc;
}
