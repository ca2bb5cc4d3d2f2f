/* compact.c — keep the model's size bounded in a long session: a load
 * generator under trace opens thousands of connections. Past a limit,
 * sockets that are gone (closed, forgotten by the kernel) and connections
 * no kept segment belongs to are let go, oldest first; the indices that
 * point at them are renumbered. Live sockets are never dropped: when more
 * than the limit are alive (TIME_WAITs of a busy server), the next try
 * waits until a quarter of the limit more sockets have come (connections
 * alike), so that the cost of compacting stays linear in the number of
 * sockets made instead of being paid again on every input. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Sockets that are gone and kept for their history, at most. */
#define GONE_KEEP (SOCKS_MAX / 4)

void model_compact_sockets(struct model *m)
{
	int *map = malloc((size_t)m->nsocks * sizeof(*map));
	int gone = 0, n = 0;

	if (map == NULL)
		return;
	for (int i = 0; i < m->nsocks; i++)
		gone += m->socks[i].gone || m->socks[i].merged;
	for (int i = 0; i < m->nsocks; i++) {
		struct msock *s = &m->socks[i];

		if ((s->gone || s->merged) && gone > GONE_KEEP) {
			gone--;
			free(s->hist);
			map[i] = -1;
			continue;
		}
		map[i] = n;
		if (n != i)
			m->socks[n] = *s;
		m->socks[n].id = n;
		n++;
	}
	m->nsocks = n;
	for (int i = 0; i < m->nlog; i++)
		if (m->log[i].sock >= 0)
			m->log[i].sock = map[m->log[i].sock];
	free(map);
	m->renumbered++;
	m->version++;
}

void model_compact_conns(struct model *m)
{
	int *map = malloc((size_t)m->nconns * sizeof(*map));
	char *used = calloc((size_t)m->nconns, 1);
	int n = 0;

	if (map == NULL || used == NULL) {
		free(map);
		free(used);
		return;
	}
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].conn >= 0 && m->segs[i].conn < m->nconns)
			used[m->segs[i].conn] = 1;
	/* The newest half stays whatever happens: their segments may come. */
	for (int i = m->nconns / 2; i < m->nconns; i++)
		used[i] = 1;
	for (int i = 0; i < m->nconns; i++) {
		if (!used[i]) {
			map[i] = -1;
			continue;
		}
		map[i] = n;
		if (n != i)
			m->conns[n] = m->conns[i];
		n++;
	}
	m->nconns = n;
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].conn >= 0)
			m->segs[i].conn = map[m->segs[i].conn];
	free(map);
	free(used);
	m->version++;
}

void model_keep_small(struct model *m)
{
	if (m->nsocks >= (m->compact_at > 0 ? m->compact_at : SOCKS_MAX)) {
		model_compact_sockets(m);
		m->compact_at = m->nsocks + SOCKS_MAX / 4 > SOCKS_MAX ?
				m->nsocks + SOCKS_MAX / 4 : SOCKS_MAX;
	}
	if (m->nconns >= (m->compact_conns_at > 0 ? m->compact_conns_at : CONNS_MAX)) {
		model_compact_conns(m);
		m->compact_conns_at = m->nconns + CONNS_MAX / 4 > CONNS_MAX ?
				      m->nconns + CONNS_MAX / 4 : CONNS_MAX;
	}
}
