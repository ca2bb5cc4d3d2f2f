/* inqueue.c — inputs held briefly and taken in time order (inqueue.h).
 * Inputs are taken from the front (head moves on) and mostly added at the
 * back; the array is compacted when half of it lies before head. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inqueue.h"

static int make_room(struct inqueue *q)
{
	if (q->head > 0 && q->head >= q->n / 2) {
		memmove(q->v, q->v + q->head, (size_t)(q->n - q->head) * sizeof(*q->v));
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n >= q->cap) {
		int cap = q->cap ? q->cap * 2 : 256;
		struct input *v = realloc(q->v, (size_t)cap * sizeof(*v));

		if (v == NULL) {
			errno = ENOMEM;
			return -1;
		}
		q->v = v;
		q->cap = cap;
	}
	return 0;
}

int inqueue_add(struct inqueue *q, const struct input *in, const char *line, size_t len)
{
	int i;

	if (make_room(q) < 0)
		return -1;
	/* After every input not newer than this one. */
	for (i = q->n; i > q->head && q->v[i - 1].t > in->t; i--)
		;
	memmove(q->v + i + 1, q->v + i, (size_t)(q->n - i) * sizeof(*q->v));
	q->v[i] = *in;
	q->v[i].line = NULL;
	q->v[i].len = 0;
	if (line != NULL) {
		q->v[i].line = malloc(len + 1);
		if (q->v[i].line != NULL) {
			memcpy(q->v[i].line, line, len);
			q->v[i].line[len] = '\0';
			q->v[i].len = len;
		}
	}
	q->n++;
	return 0;
}

mtime_t inqueue_oldest(const struct inqueue *q)
{
	return q->n > q->head ? q->v[q->head].t : 0;
}

int inqueue_take(struct inqueue *q, mtime_t upto, struct input *out)
{
	if (q->n == q->head || q->v[q->head].t > upto)
		return 0;
	*out = q->v[q->head++];
	if (q->head == q->n)
		q->head = q->n = 0;
	return 1;
}

void inqueue_free(struct inqueue *q)
{
	for (int i = q->head; i < q->n; i++)
		free(q->v[i].line);
	free(q->v);
	memset(q, 0, sizeof(*q));
}
