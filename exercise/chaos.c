/* chaos.c — `socklab check NN --chaos`: when a test fails with faults made
 * on purpose, find the one fault the student's program did not survive
 * and say it in a student's words: "recv() at server.c:88 returned 3 of
 * the 12 bytes waiting; your code treated it as a whole message".
 *
 * The shim (lib/trace/chaos.c) logs every fault that landed, with its call
 * site. A test that failed is run again, each time with the same seed:
 *  1. without faults: if it fails then too, the faults are not the cause,
 *     and the plain failure is what the student hears about;
 *  2. with one kind of fault at a time, as many kinds as landed: the first
 *     kind that still makes it fail is the one the code does not handle;
 *  3. with that kind at one call site at a time, when it landed at more
 *     than one: the first site whose fault alone makes its own program
 *     fail is named, trying first the sites in a program that ended with
 *     an error of its own in step 2 (not one the test's teardown killed
 *     after the failure; a correct server's short recv() makes it send
 *     the echo in pieces, and so shows a client's bug: the client is the
 *     one to blame); a site whose fault makes only another program fail
 *     is named when no site does that.
 * addr2line turns the call site into file:line. A failure that no single
 * kind reproduces is told as it is, with the sites the faults landed at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"

#define MAX_SITES 32
#define MAX_TRIES 4       /* call sites tried alone, at most */

struct site {
	char fault[16];       /* "short-read" */
	char call[32];        /* "recv" */
	char at[PATH_MAX];    /* "/path/server+0x1a2b" */
	long long asked, waiting, got;   /* from its first line */
	int count;
	char where[PATH_MAX]; /* "server.c:88", once resolved */
	int student;          /* in a file the student writes */
};

struct sites {
	struct site s[MAX_SITES];
	int n;
};

/* The faults in the order they are tried. Short reads first: a correct
 * sender's short send() can show the bug of a receiver that takes one
 * recv() for a message, never the other way round. Then short sends (a
 * loop that misses them often misses EINTR too, and the lost bytes are
 * what the student should hear about), then the failures. */
static const char *const kinds[] = { "short-read", "short-write", "eagain", "eintr", "abort" };

/* The value of key in a log line ("call=recv ... at=PATH"); at runs to
 * the end of the line. */
static int field(const char *line, const char *key, char *out, size_t size)
{
	char want[32];
	const char *at;
	size_t n;

	ex_fmt(want, sizeof(want), " %s=", key);
	if (strncmp(line, want + 1, strlen(want) - 1) == 0)
		at = line + strlen(want) - 1;
	else if ((at = strstr(line, want)) != NULL)
		at += strlen(want);
	else
		return -1;
	n = strcmp(key, "at") == 0 ? strcspn(at, "\n") : strcspn(at, " \n");
	return ex_fmt(out, size, "%.*s", (int)n, at);
}

static long long number_field(const char *line, const char *key)
{
	char v[32];

	return field(line, key, v, sizeof(v)) == 0 ? atoll(v) : -1;
}

/* The shim's log: a header of LOG_HEAD bytes, the lines, then zeros (a
 * line that a program killed half-way did not finish writing is zeros
 * too). */
#define LOG_HEAD 64

/* The faults logged in path, one entry per fault kind and call site. */
static void read_sites(const char *path, struct sites *out)
{
	char err[EX_ERRLEN];
	size_t len = 0;
	char *text = ex_read_file(path, &len, err);

	out->n = 0;
	if (text == NULL || len <= LOG_HEAD) {
		free(text);
		return;
	}
	for (size_t i = LOG_HEAD; i < len; i++)
		if (text[i] == '\0')
			text[i] = '\n';
	for (char *line = text + LOG_HEAD; *line != '\0'; ) {
		char *eol = strchr(line, '\n');
		struct site one;
		int i;

		if (eol != NULL)
			*eol = '\0';
		memset(&one, 0, sizeof(one));
		if (field(line, "fault", one.fault, sizeof(one.fault)) == 0 &&
		    field(line, "call", one.call, sizeof(one.call)) == 0 &&
		    field(line, "at", one.at, sizeof(one.at)) == 0) {
			for (i = 0; i < out->n; i++)
				if (strcmp(out->s[i].fault, one.fault) == 0 &&
				    strcmp(out->s[i].at, one.at) == 0)
					break;
			if (i < out->n) {
				out->s[i].count++;
			} else if (out->n < MAX_SITES) {
				one.asked = number_field(line, "asked");
				one.waiting = number_field(line, "waiting");
				one.got = number_field(line, "got");
				one.count = 1;
				out->s[out->n++] = one;
			}
		}
		if (eol == NULL)
			break;
		line = eol + 1;
	}
	free(text);
}

/* file:line of a call site "OBJ+0xOFF", with addr2line (binutils); the
 * file as the student knows it: "server.c" for the lesson's own files,
 * else relative to the socklab tree ("lib/io.c"). */
static void resolve(const struct ex_paths *p, const struct ex_lesson *l, struct site *s)
{
	char obj[PATH_MAX], addr[32], err[EX_ERRLEN];
	char *argv[] = { "addr2line", "-e", obj, "-f", "-i", "-C", addr, NULL };
	const char *plus = strrchr(s->at, '+');
	struct ex_proc r;
	char *fileline, *colon;

	ex_copy_str(s->where, sizeof(s->where), "?");
	if (plus == NULL || ex_fmt(obj, sizeof(obj), "%.*s", (int)(plus - s->at), s->at) < 0 ||
	    ex_copy_str(addr, sizeof(addr), plus + 1) < 0 ||
	    ex_proc_run(argv, NULL, NULL, 10000, 64 * 1024, &r, err) < 0)
		return;
	/* "function\nfile:line (discriminator N)\n...": the first pair is the
	 * call itself, the rest the functions it was inlined into. */
	fileline = strchr(r.out, '\n');
	if (fileline != NULL && fileline[1] != '?' && fileline[1] != '\0') {
		fileline++;
		fileline[strcspn(fileline, "\n (")] = '\0';
		colon = strrchr(fileline, ':');
		if (colon != NULL) {
			const char *base = strrchr(fileline, '/');
			size_t home = strlen(p->home);

			base = base != NULL ? base + 1 : fileline;
			*colon = '\0';
			for (int i = 0; i < l->nfiles; i++)
				if (strcmp(l->files[i].name, base) == 0 &&
				    strncmp(fileline, p->home, home) != 0)
					s->student = ex_file_has_regions(&l->files[i]);
			if (strncmp(fileline, p->home, home) == 0 && fileline[home] == '/' &&
			    strncmp(fileline + home, "/lessons/", 9) != 0)
				ex_fmt(s->where, sizeof(s->where), "%s:%s", fileline + home + 1,
				       colon + 1);
			else
				ex_fmt(s->where, sizeof(s->where), "%s:%s", base, colon + 1);
			/* The lesson's own file, when the student handed in only
			 * part of the lesson: still the student's program. */
			if (strncmp(fileline, p->home, home) == 0 &&
			    strncmp(fileline + home, "/lessons/", 9) == 0)
				s->student = 1;
		}
	}
	ex_proc_free(&r);
}

/* Run test again with o's seed and only these faults ("eintr") at this
 * site (NULL: anywhere). Returns 1 when it fails, 0 when it passes, -1 on
 * an error. */
static int fails_with(const struct ex_paths *p, const struct ex_lesson *l,
		      const char *build, const char *test, const struct ex_check_opts *o,
		      const char *faults, const char *at, char *failed_progs, char *err)
{
	struct ex_check_opts again = *o;
	struct ex_test_result r;

	again.chaos = 1;
	again.chaos_faults = faults;
	again.chaos_at = at;
	if (ex_run_test(p, l, build, test, &again, &r, err) < 0)
		return -1;
	if (r.outcome == EX_STOPPED) {
		ex_err(err, "interrupted");
		return -1;
	}
	if (failed_progs != NULL)
		ex_copy_str(failed_progs, sizeof(r.failed_progs), r.failed_progs);
	return r.outcome != EX_PASS && r.outcome != EX_SKIP;
}

/* The student's words for what fault s did, and what to do about it. */
static void say(const struct site *s, char *out, size_t size)
{
	/* An operation io_uring did: cut as it was handed over. */
	if (strncmp(s->call, "io_uring-", 9) == 0 && strcmp(s->fault, "short-read") == 0)
		ex_fmt(out, size, "a %s handed to io_uring at %s completed with %lld of "
		       "the bytes that had come (it asked for up to %lld); your code "
		       "treated it as a whole message. A %s may complete with any part "
		       "of what has arrived: keep what came and ask again until the "
		       "message is complete", s->call + 9, s->where, s->got, s->asked,
		       s->call + 9);
	else if (strncmp(s->call, "io_uring-", 9) == 0 && strcmp(s->fault, "short-write") == 0)
		ex_fmt(out, size, "a %s handed to io_uring at %s completed with %lld of the "
		       "%lld bytes; your code never sent the other %lld. A %s may complete "
		       "short: hand the rest over again until every byte is sent",
		       s->call + 9, s->where, s->got, s->asked, s->asked - s->got, s->call + 9);
	else if (strcmp(s->fault, "short-read") == 0 && s->waiting > s->got)
		ex_fmt(out, size, "%s() at %s returned %lld of the %lld bytes waiting; "
		       "your code treated it as a whole message. A %s() may return any "
		       "part of what has arrived, down to 1 byte: keep what came and "
		       "call it again until the message is complete", s->call, s->where,
		       s->got, s->waiting, s->call);
	else if (strcmp(s->fault, "short-read") == 0)
		ex_fmt(out, size, "%s() at %s returned %lld bytes, fewer than were sent; "
		       "your code treated it as a whole message. A %s() may return any "
		       "part of what has arrived, down to 1 byte: keep what came and "
		       "call it again until the message is complete", s->call, s->where,
		       s->got, s->call);
	else if (strcmp(s->fault, "short-write") == 0)
		ex_fmt(out, size, "%s() at %s took %lld of the %lld bytes offered; your "
		       "code never sent the other %lld. A %s() may take only part of the "
		       "buffer: loop, moving past what it took, until every byte is sent",
		       s->call, s->where, s->got, s->asked, s->asked - s->got, s->call);
	else if (strcmp(s->fault, "eintr") == 0)
		ex_fmt(out, size, "%s() at %s failed with EINTR (a signal arrived while it "
		       "waited); your code treated that as fatal. EINTR means the call was "
		       "cut short and did nothing: unless a stop was asked for, call it "
		       "again", s->call, s->where);
	else if (strcmp(s->fault, "eagain") == 0)
		ex_fmt(out, size, "%s() at %s failed with EAGAIN on a non-blocking socket; "
		       "your code treated that as an error. EAGAIN means \"not now\": wait "
		       "until the socket is ready again (poll, select, epoll) and retry",
		       s->call, s->where);
	else
		ex_fmt(out, size, "%s() at %s failed with ECONNABORTED (a client gave up "
		       "before it was accepted); your program stopped there. It is that "
		       "client's error, not the listener's: accept() the next one",
		       s->call, s->where);
}

/* Is the program a site's call was made in one of the words of progs? */
static int in_programs(const struct site *s, const char *progs)
{
	const char *plus = strrchr(s->at, '+'), *slash;
	size_t n;

	if (plus == NULL || progs == NULL)
		return 0;
	for (slash = plus; slash > s->at && slash[-1] != '/'; slash--)
		;
	n = (size_t)(plus - slash);
	for (const char *w = progs; *w != '\0'; ) {
		size_t k = strcspn(w, " ");

		if (k == n && strncmp(w, slash, n) == 0)
			return 1;
		w += k;
		w += strspn(w, " ");
	}
	return 0;
}

/* Sites of kind: first those in a program that ended with an error
 * (failed: its name among them), then the rest of the student's files,
 * then the others (the library's). */
static int sites_of(const struct sites *all, const char *kind, const char *failed,
		    const struct site **out, int max)
{
	int n = 0;

	for (int pass = 2; pass >= 0; pass--)
		for (int i = 0; i < all->n && n < max; i++) {
			const struct site *s = &all->s[i];
			int rank = s->student ? 1 + in_programs(s, failed) : 0;

			if (strcmp(s->fault, kind) == 0 && rank == pass)
				out[n++] = s;
		}
	return n;
}

int ex_chaos_explain(const struct ex_paths *p, const struct ex_lesson *l,
		     const char *build, const struct ex_check_opts *o,
		     struct ex_test_result *r, char *err)
{
	struct ex_check_opts plain_opts = *o;
	struct ex_test_result plain;
	struct sites seen;
	const struct site *cand[MAX_TRIES];
	char failed[sizeof(r->failed_progs)] = "";
	const struct site *blame = NULL, *fallback = NULL;
	const char *kind = NULL;
	char log[PATH_MAX];
	int rc, n;

	ex_fmt(log, sizeof(log), "%s/.chaoslog", build);
	read_sites(log, &seen);
	for (int i = 0; i < seen.n; i++)
		resolve(p, l, &seen.s[i]);
	/* 1. Not the faults at all? */
	plain_opts.chaos = 0;
	if (ex_run_test(p, l, build, r->test, &plain_opts, &plain, err) < 0)
		return -1;
	if (plain.outcome == EX_STOPPED) {
		ex_err(err, "interrupted");
		return -1;
	}
	if (plain.outcome != EX_PASS && plain.outcome != EX_SKIP) {
		*r = plain;
		ex_fmt(r->chaos_why, sizeof(r->chaos_why), "it fails without faults too");
		return 0;
	}
	r->chaos_seed = o->seed;
	if (seen.n == 0) {
		ex_fmt(r->chaos_why, sizeof(r->chaos_why), "it failed with faults made on "
		       "purpose (seed %llu), though none landed in your programs: run the "
		       "same check again to see it once more", o->seed);
		return 0;
	}
	/* 2. One kind at a time. */
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && kind == NULL; k++) {
		if (sites_of(&seen, kinds[k], NULL, cand, 1) == 0)
			continue;
		rc = fails_with(p, l, build, r->test, o, kinds[k], NULL, failed, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			kind = kinds[k];
	}
	if (kind == NULL) {
		/* Only the faults together: name where they landed most. */
		const struct site *most = &seen.s[0];

		for (int i = 1; i < seen.n; i++)
			if (seen.s[i].student > most->student ||
			    (seen.s[i].student == most->student && seen.s[i].count > most->count))
				most = &seen.s[i];
		ex_copy_str(r->chaos_fault, sizeof(r->chaos_fault), most->fault);
		ex_copy_str(r->chaos_where, sizeof(r->chaos_where), most->where);
		ex_fmt(r->chaos_why, sizeof(r->chaos_why), "it fails only with several "
		       "kinds of faults at once; most of them landed at %s() at %s (%s)",
		       most->call, most->where, most->fault);
		return 0;
	}
	/* 3. One site at a time, when there are several. */
	n = sites_of(&seen, kind, failed, cand, MAX_TRIES);
	for (int i = 0; i < n && n > 1 && blame == NULL; i++) {
		char failed_here[sizeof(r->failed_progs)] = "";

		rc = fails_with(p, l, build, r->test, o, kind, cand[i]->at, failed_here, err);
		if (rc < 0)
			return -1;
		/* A site whose fault makes its own program fail is the one to
		 * blame; one whose fault makes another program fail (a
		 * server's short recv() sends the echo in pieces to a client
		 * that cannot take them) is named only if no such site is. */
		if (rc == 1 && in_programs(cand[i], failed_here))
			blame = cand[i];
		else if (rc == 1 && fallback == NULL)
			fallback = cand[i];
	}
	if (blame == NULL)
		blame = fallback != NULL ? fallback : cand[0];
	ex_copy_str(r->chaos_fault, sizeof(r->chaos_fault), blame->fault);
	ex_copy_str(r->chaos_call, sizeof(r->chaos_call), blame->call);
	ex_copy_str(r->chaos_where, sizeof(r->chaos_where), blame->where);
	say(blame, r->chaos_why, sizeof(r->chaos_why));
	return 0;
}
