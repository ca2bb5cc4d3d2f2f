/* pidset.h — a set of process ids, for "has this process done X yet"
 * questions asked on every event (session.c: which processes have made a
 * socket call). Open addressing; grows as needed. */
#ifndef TUI_PIDSET_H
#define TUI_PIDSET_H

#include <stdint.h>

struct pidset {
	int32_t *v;      /* 0: a free slot (no process has pid 0) */
	int n, cap;
};

/* Add pid (> 0). Returns 0, or -1 when out of memory. */
int pidset_add(struct pidset *set, int32_t pid);
int pidset_has(const struct pidset *set, int32_t pid);
void pidset_free(struct pidset *set);

#endif
