/* replay.c — the replay source: a recorded session (record.h), fed to the
 * same session sinks a live one used, so the model is rebuilt exactly.
 *
 * It starts at the beginning, paused. A step applies every record up to
 * and including the next "before" event (the program is then shown
 * stopped before its next call, as when stepping live); play applies them
 * at the recorded pace (a pause longer than a second is shortened to
 * one); the end applies everything. The model's clock is the time of the
 * last record applied, so a TIME_WAIT countdown reads the same on every
 * replay.
 *
 * Loading and applying take time linear in the file's size: the file is
 * read whole (memory: the file plus two words a line) and split once; the
 * model's clock moves (model_tick, which looks at every socket) once per
 * TICK_NS of recorded time and at the end of each step, not once a line.
 * Both check for a stop (quit.h) as they go, so SIGTERM ends even a
 * recording of millions of lines at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "session.h"
#include "sources/source.h"
#include "quit.h"

/* A recording larger than this is refused rather than read whole. */
#define REPLAY_MAX_BYTES (256L * 1024 * 1024)
#define GAP_MAX_NS (1 * NS_PER_S)
/* The model's clock moves on at least this often in recorded time. */
#define TICK_NS (10 * NS_PER_MS)
/* Look for a stop every this many lines (or bytes / 64, loading). */
#define STOP_EVERY 4096
#define READ_CHUNK (4L * 1024 * 1024)

struct replay {
	struct source base;
	char *data;           /* the whole file */
	char **lines;
	size_t *lens;
	long nlines;
	long next;            /* the next line to apply */
	long bad;             /* malformed lines skipped */
	int playing;
	mtime_t play_wall;    /* wall clock of the last record played */
	mtime_t last_t;       /* recorded time of the last record applied */
	mtime_t ticked_t;     /* the model's clock was last moved to this */
	struct rec_header header;
};

static struct replay *of(struct source *src)
{
	return (struct replay *)src;
}

static int load(struct replay *r, const char *path)
{
	FILE *f = fopen(path, "r");
	long size, n = 0;
	char *p;

	if (f == NULL) {
		snprintf(r->base.why, sizeof(r->base.why), "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		snprintf(r->base.why, sizeof(r->base.why), "%s: cannot read it whole", path);
		fclose(f);
		return -1;
	}
	if (size > REPLAY_MAX_BYTES) {
		snprintf(r->base.why, sizeof(r->base.why), "%s: larger than %ld MB", path,
			 REPLAY_MAX_BYTES / 1024 / 1024);
		fclose(f);
		return -1;
	}
	r->data = malloc((size_t)size + 1);
	if (r->data == NULL) {
		snprintf(r->base.why, sizeof(r->base.why), "%s: out of memory", path);
		fclose(f);
		return -1;
	}
	for (long done = 0; done < size;) {
		size_t want = (size_t)(size - done < READ_CHUNK ? size - done : READ_CHUNK);

		if (quit_requested()) {
			snprintf(r->base.why, sizeof(r->base.why), "stopped while loading %s", path);
			fclose(f);
			return -1;
		}
		if (fread(r->data + done, 1, want, f) != want) {
			snprintf(r->base.why, sizeof(r->base.why), "%s: read failed", path);
			fclose(f);
			return -1;
		}
		done += (long)want;
	}
	fclose(f);
	r->data[size] = '\0';
	for (char *q = r->data; (q = memchr(q, '\n', (size_t)(r->data + size - q))) != NULL; q++)
		n++;
	r->lines = calloc((size_t)n + 1, sizeof(*r->lines));
	r->lens = calloc((size_t)n + 1, sizeof(*r->lens));
	if (r->lines == NULL || r->lens == NULL) {
		snprintf(r->base.why, sizeof(r->base.why), "%s: out of memory", path);
		return -1;
	}
	for (p = r->data; p < r->data + size;) {
		char *nl = memchr(p, '\n', (size_t)(r->data + size - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(r->data + size - p);

		r->lines[r->nlines] = p;
		r->lens[r->nlines] = len;
		r->nlines++;
		p += len + 1;
	}
	return 0;
}

/* The first line must be a recording's header: anything else is not a
 * recording, and is refused whole rather than half-believed. */
static int check_header(struct replay *r, const char *path)
{
	struct rec_item *it = malloc(sizeof(*it));
	int ok;

	if (it == NULL)
		return -1;
	ok = r->nlines > 0 && rec_parse_line(r->lines[0], r->lens[0], it) == REC_HEADER;
	if (ok)
		r->header = it->header;
	else
		snprintf(r->base.why, sizeof(r->base.why),
			 "%s: not a socklab recording (no \"v1 rec=socklab\" first line)", path);
	free(it);
	return ok ? 0 : -1;
}

/* Apply one line. Returns its kind. */
static enum rec_kind apply(struct replay *r, long i, struct rec_item *it)
{
	struct session *s = r->base.s;
	enum rec_kind k = rec_parse_line(r->lines[i], r->lens[i], it);

	if (it->t != 0 && it->t > r->last_t)
		r->last_t = it->t;
	switch (k) {
	case REC_BAD:
		r->bad++;
		break;
	case REC_HEADER:
		session_replay_header(s, &it->header);
		break;
	case REC_EVENT:
		session_event(s, &it->ev, r->lines[i], r->lens[i]);
		break;
	case REC_PROC_START:
		session_proc_started(s, it->pid, it->text, it->t);
		break;
	case REC_PROC_EXIT:
		session_proc_exited(s, it->pid, it->code, it->t);
		break;
	case REC_PROC_GO:
		session_replay_go(s, it->pid, it->t);
		break;
	case REC_OUTPUT:
		session_output(s, it->pid, it->text, it->t);
		break;
	case REC_DIAG_BEGIN:
		session_diag_begin(s, it->t);
		break;
	case REC_DIAG_SOCK:
		session_diag_sock(s, &it->diag);
		break;
	case REC_DIAG_END:
		session_diag_end(s, it->t);
		break;
	case REC_SEGMENT:
		session_segment(s, &it->seg);
		break;
	case REC_SKIP:
		break;
	}
	return k;
}

/* Move the model's clock to the last record's time: always (force), or
 * once TICK_NS of recorded time has passed since it last moved. */
static void tick(struct replay *r, int force)
{
	if (r->last_t == 0 || r->last_t == r->ticked_t)
		return;
	if (!force && r->last_t < r->ticked_t + TICK_NS)
		return;
	model_tick(&r->base.s->model, r->last_t);
	r->ticked_t = r->last_t;
}

/* Apply line i, and move the clock when its time has come. */
static enum rec_kind apply_next(struct replay *r, struct rec_item *it)
{
	enum rec_kind k = apply(r, r->next++, it);

	tick(r, 0);
	return k;
}

static mtime_t line_time(struct replay *r, long i, struct rec_item *it)
{
	rec_parse_line(r->lines[i], r->lens[i], it);
	return it->t;
}

void replay_step(struct source *src)
{
	struct replay *r = of(src);
	struct rec_item *it = malloc(sizeof(*it));

	if (it == NULL)
		return;
	while (r->next < r->nlines) {
		enum rec_kind k = apply_next(r, it);

		if (k == REC_EVENT && it->ev.ph == SL_PH_BEFORE)
			break;
		if (r->next % STOP_EVERY == 0 && quit_requested())
			break;
	}
	tick(r, 1);
	free(it);
}

void replay_to_end(struct source *src)
{
	struct replay *r = of(src);
	struct rec_item *it = malloc(sizeof(*it));

	if (it == NULL)
		return;
	while (r->next < r->nlines) {
		apply_next(r, it);
		if (r->next % STOP_EVERY == 0 && quit_requested())
			break;
	}
	tick(r, 1);
	r->playing = 0;
	free(it);
}

void replay_play(struct source *src, int on)
{
	struct replay *r = of(src);

	r->playing = on && r->next < r->nlines;
	r->play_wall = session_now();
}

int replay_playing(struct source *src)
{
	return of(src)->playing;
}

void replay_rewind(struct source *src)
{
	struct replay *r = of(src);
	struct session *s = r->base.s;

	model_reset(&s->model);
	s->selected = 0;
	r->next = 0;
	r->bad = 0;
	r->last_t = 0;
	r->ticked_t = 0;
	r->playing = 0;
	/* The header comes first: it sets t0 and whether to infer. */
	replay_step(src);
}

void replay_position(struct source *src, long *done, long *total)
{
	*done = of(src)->next;
	*total = of(src)->nlines;
}

/* When playing: the wall-clock moment the next record is due. */
static mtime_t next_due(struct replay *r, struct rec_item *it)
{
	mtime_t t, gap;

	if (!r->playing || r->next >= r->nlines)
		return 0;
	t = line_time(r, r->next, it);
	gap = (t > r->last_t && r->last_t != 0) ? t - r->last_t : 0;
	if (gap > GAP_MAX_NS)
		gap = GAP_MAX_NS;
	return r->play_wall + gap;
}

static mtime_t replay_deadline(struct source *src)
{
	struct replay *r = of(src);
	struct rec_item *it = malloc(sizeof(*it));
	mtime_t due;

	if (it == NULL)
		return 0;
	due = next_due(r, it);
	free(it);
	return due;
}

static void replay_tick(struct source *src, mtime_t now)
{
	struct replay *r = of(src);
	struct rec_item *it = malloc(sizeof(*it));

	if (it == NULL)
		return;
	/* A burst of records with no gap is applied in one pass. */
	for (int n = 0; n < 10000 && r->playing; n++) {
		mtime_t due = next_due(r, it);

		if (due == 0 || due > now)
			break;
		apply_next(r, it);
		r->play_wall = due;
	}
	tick(r, 1);
	if (r->next >= r->nlines)
		r->playing = 0;
	free(it);
}

static void replay_destroy(struct source *src)
{
	struct replay *r = of(src);

	free(r->lines);
	free(r->lens);
	free(r->data);
	free(r);
}

struct source *replay_source_new(struct session *s, const char *file)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->base.name = "replay";
	r->base.s = s;
	r->base.deadline = replay_deadline;
	r->base.tick = replay_tick;
	r->base.destroy = replay_destroy;
	if (load(r, file) < 0 || check_header(r, file) < 0)
		return &r->base;
	r->base.active = 1;
	snprintf(r->base.why, sizeof(r->base.why), "%ld records", r->nlines);
	replay_step(&r->base);
	return &r->base;
}
