/* lessons.c — find the lessons and read their lesson.conf (see lessons.h). */
#include <ctype.h>
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
}

void lessons_free(struct lessons *ls)
{
	for (int i = 0; i < ls->n; i++)
		lesson_free(&ls->v[i]);
	free(ls->v);
	ls->v = NULL;
	ls->n = 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
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

static struct scenario *scenario_get(struct lesson *l, const char *name, size_t len)
{
	struct scenario *p;

	if (len == 0 || len >= SCEN_NAME_LEN)
		return NULL;
	for (int i = 0; i < l->nscen; i++)
		if (strlen(l->scen[i].name) == len && memcmp(l->scen[i].name, name, len) == 0)
			return &l->scen[i];
	p = realloc(l->scen, (size_t)(l->nscen + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	l->scen = p;
	p = &l->scen[l->nscen++];
	memset(p, 0, sizeof(*p));
	memcpy(p->name, name, len);
	p->name[len] = '\0';
	return p;
}

/* One "key = value" line. Returns 0, or -1 when the value is unusable. */
static int conf_line(struct lesson *l, const char *key, const char *value)
{
	if (strcmp(key, "title") == 0) {
		text_copy(l->title, sizeof(l->title), value);
	} else if (strcmp(key, "summary") == 0) {
		text_copy(l->summary, sizeof(l->summary), value);
	} else if (strcmp(key, "programs") == 0) {
		text_copy(l->programs, sizeof(l->programs), value);
	} else if (strcmp(key, "run") == 0) {
		return add_cmd(l->main.run, &l->main.nrun, value);
	} else if (strncmp(key, "scenario.", 9) == 0) {
		const char *name = key + 9, *dot = strrchr(name, '.');
		struct scenario *sc;

		if (dot == NULL)
			return -1;
		sc = scenario_get(l, name, (size_t)(dot - name));
		if (sc == NULL)
			return -1;
		if (strcmp(dot, ".title") == 0)
			text_copy(sc->title, sizeof(sc->title), value);
		else if (strcmp(dot, ".run") == 0)
			return add_cmd(sc->run, &sc->nrun, value);
		else if (strcmp(dot, ".then") == 0)
			return add_cmd(sc->then, &sc->nthen, value);
	}
	return 0;   /* unknown keys are skipped */
}

static int conf_read(struct lesson *l, char *err, size_t errsize)
{
	char path[PATH_MAX + 16], line[1024];
	FILE *f;
	int lineno = 0, rc = 0;

	snprintf(path, sizeof(path), "%s/lesson.conf", l->dir);
	f = fopen(path, "r");
	if (f == NULL) {
		/* A folder without lesson.conf is not a lesson (yet): no error. */
		if (errno != ENOENT)
			snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line), *eq;

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errsize, "%s:%d: expected key = value", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		if (conf_line(l, trim(s), trim(eq + 1)) < 0) {
			snprintf(err, errsize, "%s:%d: bad or too many values", path, lineno);
			rc = -1;
			break;
		}
	}
	fclose(f);
	if (rc == 0 && l->main.nrun == 0 && l->nscen == 0) {
		snprintf(err, errsize, "%s: no run lines", path);
		rc = -1;
	}
	return rc;
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
	const char *p = l->programs;
	size_t n = strlen(prog);

	while (*p != '\0') {
		size_t w;

		p += strspn(p, " \t,");
		w = strcspn(p, " \t,");
		if (w == n && strncmp(p, prog, n) == 0)
			return 1;
		p += w;
	}
	return 0;
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
