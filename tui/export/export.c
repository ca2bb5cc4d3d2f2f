/* export.c — `socklab export`: replay a recording into a model, lay it out
 * and write it (see export.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export.h"
#include "record.h"
#include "session.h"
#include "text.h"

/* The recording's first line: its title and how it was made. */
static int read_header(const char *path, struct rec_header *h)
{
	FILE *f = fopen(path, "r");
	struct rec_item *it;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "socklab: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = getline(&line, &cap, f);
	fclose(f);
	it = malloc(sizeof(*it));
	if (it != NULL && n > 0 && rec_parse_line(line, (size_t)n, it) == REC_HEADER) {
		*h = it->header;
		rc = 0;
	} else if (it != NULL) {
		fprintf(stderr, "socklab: %s: not a socklab recording (no \"v1 rec=socklab\" first line)\n",
			path);
	} else {
		fprintf(stderr, "socklab: out of memory\n");
	}
	free(it);
	free(line);
	return rc;
}

static void describe(const struct rec_header *h, char *buf, size_t size)
{
	snprintf(buf, size, "socklab %s", h->mode[0] ? h->mode : "?");
	if (h->ns)
		text_append(buf, size, ", in a private network namespace");
	if (h->wire)
		text_append(buf, size, ", segments captured on lo");
	else if (h->infer)
		text_append(buf, size, ", segments inferred from the calls (nothing could capture)");
}

static int write_format(const struct story *st, enum export_format f, FILE *out)
{
	switch (f) {
	case EXPORT_SVG: return export_svg(st, out, 1);
	case EXPORT_HTML: return export_html(st, out);
	default: return export_txt(st, out);
	}
}

/* Write to o->out through a temporary file beside it, renamed into place
 * when complete: a failed export leaves no half-written picture. */
static int write_file(const struct story *st, const struct export_opts *o)
{
	char tmp[PATH_MAX];
	mode_t mask;
	FILE *f;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", o->out) >= (int)sizeof(tmp)) {
		fprintf(stderr, "socklab: %s: path too long\n", o->out);
		return 1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "socklab: %s: %s\n", o->out, strerror(errno));
		return 1;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "socklab: %s: %s\n", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return 1;
	}
	rc = write_format(st, o->format, f);
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, o->out) < 0)
		rc = -1;
	if (rc < 0) {
		fprintf(stderr, "socklab: writing %s: %s\n", o->out, strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

int export_main(const struct export_opts *o)
{
	struct session_opts so;
	struct rec_header h;
	struct paths p;
	struct session *s;
	struct story st;
	char err[256], source[192];
	int rc = 1;

	if (read_header(o->file, &h) < 0)
		return 1;
	s = malloc(sizeof(*s));
	if (s == NULL) {
		fprintf(stderr, "socklab: out of memory\n");
		return 1;
	}
	memset(&so, 0, sizeof(so));
	memset(&p, 0, sizeof(p));
	so.mode = SM_REPLAY;
	so.replay_file = o->file;
	so.batch = 1;
	if (session_init(s, &p, NULL, &so, err, sizeof(err)) < 0) {
		fprintf(stderr, "socklab: %s\n", err);
		goto out;
	}
	/* The same sinks as a replay's end (sources/replay.c): the model
	 * is the one the visualizer showed. */
	replay_to_end(s->replay);
	session_flush(s, UINT64_MAX);
	describe(&h, source, sizeof(source));
	if (story_build(&st, &s->model, o, h.title[0] ? h.title : o->file, source,
			h.infer && !h.wire) < 0) {
		fprintf(stderr, "socklab: out of memory\n");
		goto out;
	}
	if (o->out != NULL) {
		rc = write_file(&st, o);
	} else {
		rc = write_format(&st, o->format, stdout) < 0 ? 1 : 0;
		if (rc != 0)
			fprintf(stderr, "socklab: writing: %s\n", strerror(errno));
	}
	story_free(&st);
out:
	session_free(s);
	free(s);
	return rc;
}
