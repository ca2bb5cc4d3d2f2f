/* pidset.c — a set of process ids (pidset.h). */
#include <errno.h>
#include <stdlib.h>

#include "pidset.h"

static unsigned slot(int32_t pid, int cap)
{
	return ((uint32_t)pid * 2654435761u) & (unsigned)(cap - 1);
}

static void put(int32_t *v, int cap, int32_t pid)
{
	unsigned i = slot(pid, cap);

	while (v[i] != 0 && v[i] != pid)
		i = (i + 1) & (unsigned)(cap - 1);
	v[i] = pid;
}

int pidset_has(const struct pidset *set, int32_t pid)
{
	unsigned i;

	if (set->cap == 0 || pid <= 0)
		return 0;
	for (i = slot(pid, set->cap); set->v[i] != 0; i = (i + 1) & (unsigned)(set->cap - 1))
		if (set->v[i] == pid)
			return 1;
	return 0;
}

int pidset_add(struct pidset *set, int32_t pid)
{
	if (pid <= 0 || pidset_has(set, pid))
		return 0;
	/* At most half full: probes stay short. */
	if (2 * (set->n + 1) > set->cap) {
		int cap = set->cap ? set->cap * 2 : 64;
		int32_t *v = calloc((size_t)cap, sizeof(*v));

		if (v == NULL) {
			errno = ENOMEM;
			return -1;
		}
		for (int i = 0; i < set->cap; i++)
			if (set->v[i] != 0)
				put(v, cap, set->v[i]);
		free(set->v);
		set->v = v;
		set->cap = cap;
	}
	put(set->v, set->cap, pid);
	set->n++;
	return 0;
}

void pidset_free(struct pidset *set)
{
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}
