/* export.c — a class's results where courses keep them.
 *
 *   table       for a person: one row per student, then why each step failed
 *   tap         TAP version 13: one point per student and step
 *   junit       JUnit XML: a <testsuite> per student, a <testcase> per step
 *               (tests/exercise/junit.xsd is the schema it keeps to)
 *   json        one object: the lesson, and per student its steps
 *   csv         one row per student: points, then each step's status and
 *               points (RFC 4180 quoting), for a spreadsheet or an LMS
 *   gradescope  Gradescope's results.json for one submission
 *
 * Every format tells the statuses apart: pass, fail, timeout, crash (with
 * the signal), output-limit, build-error, not-checked (the tests skipped
 * themselves), not-run and error (a fault of the course's setup). Points
 * come from exercise.conf (points.N; 1 a step unless said).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int ex_lesson_points(const struct ex_lesson *l)
{
	int sum = 0;

	for (int i = 0; i < l->nsteps; i++)
		sum += l->points[i];
	return sum;
}

int ex_student_points(const struct ex_lesson *l, const struct ex_student *s)
{
	int sum = 0;

	for (int i = 0; i < l->nsteps && s->built && !s->error; i++)
		if (s->steps[i].outcome == EX_PASS)
			sum += l->points[i];
	return sum;
}

const char *ex_status_name(enum ex_outcome o)
{
	switch (o) {
	case EX_PASS:
		return "pass";
	case EX_SKIP:
		return "not-checked";
	case EX_FAIL:
		return "fail";
	case EX_TIMEOUT:
		return "timeout";
	case EX_FLOOD:
		return "output-limit";
	case EX_CRASH:
		return "crash";
	case EX_BUILD:
		return "build-error";
	case EX_NOTRUN:
		return "not-run";
	case EX_MISSING:
	case EX_BROKEN:
	case EX_STOPPED:
		return "error";
	}
	return "error";
}

int ex_format_parse(const char *name)
{
	static const char *const names[] = {
		[EX_FORMAT_TABLE] = "table", [EX_FORMAT_TAP] = "tap", [EX_FORMAT_JUNIT] = "junit",
		[EX_FORMAT_JSON] = "json", [EX_FORMAT_CSV] = "csv",
		[EX_FORMAT_GRADESCOPE] = "gradescope",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

/* The outcome of step k for student s (a build error or a grader's fault
 * stands for every step). */
static enum ex_outcome outcome(const struct ex_student *s, int k)
{
	if (s->error)
		return EX_BROKEN;
	if (!s->built)
		return EX_BUILD;
	return s->steps[k].outcome;
}

/* Why step k did not pass, in one line ("" when it passed). */
static void why(const struct ex_class *c, const struct ex_student *s, int k,
		char *out, size_t size)
{
	out[0] = '\0';
	if (s->error)
		ex_fmt(out, size, "not graded: %s", s->errmsg);
	else if (!s->built)
		ex_fmt(out, size, "does not compile: %s", s->build_error);
	else if (s->steps[k].outcome != EX_PASS)
		ex_explain_failure(c->l, &s->steps[k], c->o, out, size);
}

/* The signal a crash died of ("SIGSEGV"), or NULL. */
static const char *crash_signal(const struct ex_student *s, int k)
{
	const struct ex_test_result *t = &s->steps[k].failed;

	if (outcome(s, k) != EX_CRASH || t->crash_sig == 0)
		return NULL;
	return ex_signal_name(t->crash_sig);
}

/* ---- table and TAP --------------------------------------------------------------- */

static void print_table(FILE *out, const struct ex_class *c)
{
	const struct ex_lesson *l = c->l;
	int w = 7, notes = 0;

	for (int i = 0; i < c->n; i++)
		if ((int)strlen(c->s[i].name) > w)
			w = (int)strlen(c->s[i].name);
	if (w > 24)
		w = 24;
	fprintf(out, "Lesson %s (%s): %d submission%s in %s\n", l->num, l->title, c->n,
		c->n == 1 ? "" : "s", c->dir);
	for (int i = 0; i < l->nsteps; i++)
		fprintf(out, "  step %d: %s (%d point%s%s)\n", l->steps[i].number, l->steps[i].title,
			l->points[i], l->points[i] == 1 ? "" : "s",
			c->o->chaos && l->chaos[i] ? ", with faults made on purpose" : "");
	if (c->o->chaos)
		fprintf(out, "  chaos seed %llu: socklab check NN --chaos=%llu makes the same faults\n",
			c->o->seed, c->o->seed);
	fprintf(out, "\n%-*s  build", w, "student");
	for (int i = 0; i < l->nsteps; i++)
		fprintf(out, "  step %-2d", l->steps[i].number);
	fprintf(out, "  passed  points   time\n");
	for (int i = 0; i < c->n; i++) {
		const struct ex_student *s = &c->s[i];

		fprintf(out, "%-*.*s  %-5s", w, w, s->name, s->error ? "-" : s->built ? "ok" : "FAIL");
		for (int k = 0; k < l->nsteps; k++)
			fprintf(out, "  %-7s", s->error || !s->built ? "-"
				: ex_outcome_short(s->steps[k].outcome));
		fprintf(out, "  %d/%-4d %3d/%-4d %5.1fs\n", s->passed < 0 ? 0 : s->passed, l->nsteps,
			s->points, ex_lesson_points(l), (double)s->ms / 1000);
	}
	for (int i = 0; i < c->n; i++) {
		const struct ex_student *s = &c->s[i];
		char line[1024];

		if (s->error || !s->built) {
			if (notes++ == 0)
				fprintf(out, "\nWhy:\n");
			why(c, s, 0, line, sizeof(line));
			fprintf(out, "  %s: %s\n", s->name, line);
			continue;
		}
		for (int k = 0; k < l->nsteps; k++) {
			if (s->steps[k].outcome == EX_PASS)
				continue;
			if (notes++ == 0)
				fprintf(out, "\nWhy:\n");
			why(c, s, k, line, sizeof(line));
			fprintf(out, "  %s, step %d (%s): %s: %s\n", s->name, l->steps[k].number,
				ex_outcome_short(s->steps[k].outcome), s->steps[k].failed.test, line);
		}
	}
	/* How the code was kept in its box: said once, or per student when
	 * it differs. */
	for (int i = 0; i < c->n; i++)
		if (i == 0 || strcmp(c->s[i].box, c->s[0].box) != 0)
			fprintf(out, "%s%s%s%s\n", i == 0 ? "\nBox: " : "  ", i == 0 ? "" : c->s[i].name,
				i == 0 ? "" : ": ", c->s[i].box);
}

/* A name safe in a TAP description: no '#' (a directive), no newline. */
static void tap_safe(char *dst, size_t size, const char *src)
{
	ex_copy_str(dst, size, src);
	for (char *c = dst; *c != '\0'; c++)
		if (*c == '#' || *c == '\n' || *c == '\r')
			*c = '_';
}

static void print_tap(FILE *out, const struct ex_class *c)
{
	const struct ex_lesson *l = c->l;
	int number = 0;

	fprintf(out, "TAP version 13\n1..%d\n", c->n * l->nsteps);
	for (int i = 0; i < c->n; i++) {
		const struct ex_student *s = &c->s[i];
		char name[EX_NAMELEN], title[sizeof(l->steps[0].title)], line[1024];

		tap_safe(name, sizeof(name), s->name);
		for (int k = 0; k < l->nsteps; k++) {
			enum ex_outcome o = outcome(s, k);

			tap_safe(title, sizeof(title), l->steps[k].title);
			fprintf(out, "%s %d - %s: lesson %s step %d: %s\n",
				o == EX_PASS ? "ok" : "not ok", ++number, name, l->num,
				l->steps[k].number, title);
			if (o == EX_PASS)
				continue;
			why(c, s, k, line, sizeof(line));
			for (char *ch = line; *ch != '\0'; ch++)
				if (*ch == '\n' || *ch == '\r')
					*ch = ' ';
			fprintf(out, "# %s: %s\n", ex_status_name(o), line);
		}
	}
}

/* ---- XML, JSON and CSV text ------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (1..4), or 0. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		(s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (n == 2 && s[0] < 0xc2)
		return 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s as XML character data or attribute value: & < > " ' escaped, control
 * characters XML 1.0 cannot hold and invalid UTF-8 as U+FFFD. */
static void xml_text(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; ) {
		int n = utf8_len(p);

		if (n == 0 || (*p < 0x20 && *p != '\n' && *p != '\t')) {
			fputs("\xef\xbf\xbd", out);
			p += n == 0 ? 1 : n;
			continue;
		}
		switch (*p) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		case '\n':
			fputs("&#10;", out);
			break;
		case '\t':
			fputs("&#9;", out);
			break;
		default:
			fwrite(p, 1, (size_t)n, out);
		}
		p += n;
	}
}

/* s as a JSON string, quotes included; invalid UTF-8 as U+FFFD. */
static void json_string(FILE *out, const char *s)
{
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; ) {
		int n = utf8_len(p);

		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fwrite(p, 1, (size_t)n, out);
		p += n;
	}
	putc('"', out);
}

/* A JSON string, or null when s is empty. */
static void json_or_null(FILE *out, const char *s)
{
	if (s == NULL || s[0] == '\0')
		fputs("null", out);
	else
		json_string(out, s);
}

/* s as one CSV field (RFC 4180): quoted when it holds a comma, a quote or
 * a line break, with quotes doubled. */
static void csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	putc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putc('"', out);
		putc(*s, out);
	}
	putc('"', out);
}

/* ---- JUnit XML ----------------------------------------------------------------------- */

static void print_junit(FILE *out, const struct ex_class *c)
{
	const struct ex_lesson *l = c->l;
	char host[256] = "localhost", stamp[32];
	time_t now = time(NULL);
	int tests = 0, failures = 0, errors = 0, skipped = 0;
	long long ms = 0;

	gethostname(host, sizeof(host) - 1);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime(&now));
	for (int i = 0; i < c->n; i++) {
		ms += c->s[i].ms;
		for (int k = 0; k < l->nsteps; k++) {
			enum ex_outcome o = outcome(&c->s[i], k);

			tests++;
			failures += o == EX_FAIL || o == EX_TIMEOUT || o == EX_CRASH || o == EX_FLOOD;
			errors += o == EX_BUILD || o == EX_MISSING || o == EX_BROKEN || o == EX_STOPPED;
			skipped += o == EX_SKIP || o == EX_NOTRUN;
		}
	}
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(out, "<testsuites name=\"socklab lesson %s\" tests=\"%d\" failures=\"%d\" "
		"errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n", l->num, tests, failures, errors,
		skipped, (double)ms / 1000);
	for (int i = 0; i < c->n; i++) {
		const struct ex_student *s = &c->s[i];
		int f = 0, e = 0, sk = 0;

		for (int k = 0; k < l->nsteps; k++) {
			enum ex_outcome o = outcome(s, k);

			f += o == EX_FAIL || o == EX_TIMEOUT || o == EX_CRASH || o == EX_FLOOD;
			e += o == EX_BUILD || o == EX_MISSING || o == EX_BROKEN || o == EX_STOPPED;
			sk += o == EX_SKIP || o == EX_NOTRUN;
		}
		fprintf(out, "  <testsuite name=\"");
		xml_text(out, s->name);
		fprintf(out, "\" package=\"lesson%s\" id=\"%d\" timestamp=\"%s\" hostname=\"", l->num,
			i, stamp);
		xml_text(out, host);
		fprintf(out, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" "
			"time=\"%.3f\">\n", l->nsteps, f, e, sk, (double)s->ms / 1000);
		fprintf(out, "    <properties>\n"
			"      <property name=\"points\" value=\"%d\"/>\n"
			"      <property name=\"max_points\" value=\"%d\"/>\n"
			"      <property name=\"box\" value=\"", s->points, ex_lesson_points(l));
		xml_text(out, s->box);
		fprintf(out, "\"/>\n    </properties>\n");
		for (int k = 0; k < l->nsteps; k++) {
			enum ex_outcome o = outcome(s, k);
			const struct ex_test_result *t = &s->steps[k].failed;
			const char *sig = crash_signal(s, k);
			char line[1024], title[256];

			ex_fmt(title, sizeof(title), "step %d: %s", l->steps[k].number,
			       l->steps[k].title);
			fprintf(out, "    <testcase name=\"");
			xml_text(out, title);
			fprintf(out, "\" classname=\"lesson%s.", l->num);
			xml_text(out, s->name);
			fprintf(out, "\" time=\"%.3f\"", (double)s->steps[k].ms / 1000);
			if (o == EX_PASS) {
				fprintf(out, "/>\n");
				continue;
			}
			why(c, s, k, line, sizeof(line));
			fprintf(out, ">\n      <%s message=\"",
				o == EX_SKIP || o == EX_NOTRUN ? "skipped" :
				o == EX_FAIL || o == EX_TIMEOUT || o == EX_CRASH || o == EX_FLOOD ?
				"failure" : "error");
			xml_text(out, line);
			if (o == EX_SKIP || o == EX_NOTRUN) {
				fprintf(out, "\"/>\n    </testcase>\n");
				continue;
			}
			fprintf(out, "\" type=\"%s%s%s\">", ex_status_name(o), sig ? " " : "",
				sig ? sig : "");
			if (t->test[0] != '\0') {
				xml_text(out, t->test);
				xml_text(out, ":\n");
			}
			xml_text(out, t->details);
			fprintf(out, "</%s>\n", o == EX_FAIL || o == EX_TIMEOUT || o == EX_CRASH ||
				o == EX_FLOOD ? "failure" : "error");
			if (t->output[0] != '\0') {
				fprintf(out, "      <system-out>");
				xml_text(out, t->output);
				fprintf(out, "</system-out>\n");
			}
			fprintf(out, "    </testcase>\n");
		}
		fprintf(out, "    <system-out/>\n    <system-err>");
		if (!s->built && !s->error)
			xml_text(out, s->build_error);
		fprintf(out, "</system-err>\n  </testsuite>\n");
	}
	fprintf(out, "</testsuites>\n");
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void json_step(FILE *out, const struct ex_class *c, const struct ex_student *s, int k)
{
	const struct ex_lesson *l = c->l;
	const struct ex_test_result *t = &s->steps[k].failed;
	enum ex_outcome o = outcome(s, k);
	char line[1024];

	why(c, s, k, line, sizeof(line));
	fprintf(out, "{\"step\": %d, \"title\": ", l->steps[k].number);
	json_string(out, l->steps[k].title);
	fprintf(out, ", \"status\": \"%s\", \"points\": %d, \"max_points\": %d, \"chaos\": %s, "
		"\"time_s\": %.3f, \"test\": ", ex_status_name(o), o == EX_PASS ? l->points[k] : 0,
		l->points[k], c->o->chaos && l->chaos[k] ? "true" : "false",
		(double)s->steps[k].ms / 1000);
	json_or_null(out, o == EX_PASS || o == EX_BUILD ? "" : t->test);
	fputs(", \"signal\": ", out);
	json_or_null(out, crash_signal(s, k));
	fputs(", \"message\": ", out);
	json_or_null(out, line);
	fputs(", \"fault\": ", out);
	json_or_null(out, o == EX_PASS ? "" : t->chaos_fault);
	fputs(", \"where\": ", out);
	json_or_null(out, o == EX_PASS ? "" : t->chaos_where);
	fputs(", \"details\": ", out);
	json_or_null(out, o == EX_PASS || o == EX_BUILD ? "" : t->details);
	fputs(", \"output\": ", out);
	json_or_null(out, o == EX_PASS ? "" : t->output);
	fputs(", \"reproduce\": ", out);
	json_or_null(out, o == EX_PASS ? "" : t->repro);
	fputs("}", out);
}

static void print_json(FILE *out, const struct ex_class *c)
{
	const struct ex_lesson *l = c->l;

	fputs("{\"lesson\": ", out);
	json_string(out, l->num);
	fputs(", \"dir\": ", out);
	json_string(out, l->dir);
	fputs(", \"title\": ", out);
	json_string(out, l->title);
	fputs(", \"submissions\": ", out);
	json_string(out, c->dir);
	if (c->o->chaos)
		fprintf(out, ", \"chaos_seed\": %llu", c->o->seed);
	else
		fputs(", \"chaos_seed\": null", out);
	fprintf(out, ", \"max_points\": %d,\n \"students\": [", ex_lesson_points(l));
	for (int i = 0; i < c->n; i++) {
		const struct ex_student *s = &c->s[i];

		fputs(i > 0 ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
		json_string(out, s->name);
		fprintf(out, ", \"points\": %d, \"max_points\": %d, \"built\": %s, \"graded\": %s, "
			"\"time_s\": %.3f, \"box\": ", s->points, ex_lesson_points(l),
			s->built ? "true" : "false", s->error ? "false" : "true", (double)s->ms / 1000);
		json_string(out, s->box);
		fputs(", \"error\": ", out);
		json_or_null(out, s->error ? s->errmsg : !s->built ? s->build_error : "");
		fputs(",\n   \"steps\": [", out);
		for (int k = 0; k < l->nsteps; k++) {
			fputs(k > 0 ? ",\n     " : "\n     ", out);
			json_step(out, c, s, k);
		}
		fputs("]}", out);
	}
	fputs("\n]}\n", out);
}

/* ---- CSV ----------------------------------------------------------------------------- */

static void print_csv(FILE *out, const struct ex_class *c)
{
	const struct ex_lesson *l = c->l;

	fputs("student,points,max_points,passed_steps,time_s", out);
	for (int k = 0; k < l->nsteps; k++)
		fprintf(out, ",step_%d_status,step_%d_points", l->steps[k].number, l->steps[k].number);
	fputs(",note\r\n", out);
	for (int i = 0; i < c->n; i++) {
		const struct ex_student *s = &c->s[i];
		char note[1024] = "", first[1024];

		csv_field(out, s->name);
		fprintf(out, ",%d,%d,%d,%.3f", s->points, ex_lesson_points(l),
			s->passed < 0 ? 0 : s->passed, (double)s->ms / 1000);
		for (int k = 0; k < l->nsteps; k++) {
			enum ex_outcome o = outcome(s, k);
			const char *sig = crash_signal(s, k);

			fprintf(out, ",%s%s%s,%d", ex_status_name(o), sig ? " " : "", sig ? sig : "",
				o == EX_PASS ? l->points[k] : 0);
			if (o != EX_PASS && note[0] == '\0') {
				why(c, s, k, first, sizeof(first));
				ex_fmt(note, sizeof(note), "step %d: %s", l->steps[k].number, first);
			}
		}
		putc(',', out);
		csv_field(out, note);
		fputs("\r\n", out);
	}
}

/* ---- Gradescope ------------------------------------------------------------------------ */

static void print_gradescope(FILE *out, const struct ex_class *c)
{
	const struct ex_lesson *l = c->l;
	const struct ex_student *s = &c->s[0];

	fprintf(out, "{\"score\": %d, \"max_score\": %d, \"output\": ", s->points,
		ex_lesson_points(l));
	{
		char head[512];

		ex_fmt(head, sizeof(head), "socklab lesson %s (%s): %d of %d steps pass. %s",
		       l->num, l->title, s->passed < 0 ? 0 : s->passed, l->nsteps, s->box);
		json_string(out, head);
	}
	fputs(",\n \"tests\": [", out);
	for (int k = 0; k < l->nsteps; k++) {
		enum ex_outcome o = outcome(s, k);
		const struct ex_test_result *t = &s->steps[k].failed;
		char name[256], text[8192], line[1024];

		ex_fmt(name, sizeof(name), "step %d: %s", l->steps[k].number, l->steps[k].title);
		why(c, s, k, line, sizeof(line));
		if (o == EX_PASS)
			ex_fmt(text, sizeof(text), "passed");
		else
			ex_fmt(text, sizeof(text), "%s: %s\n\n%s%s%s%s%s", ex_status_name(o), line,
			       t->details, t->output[0] ? "\n" : "", t->output,
			       t->repro[0] ? "\nTo try it by hand:\n" : "", t->repro);
		fputs(k > 0 ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
		json_string(out, name);
		fprintf(out, ", \"score\": %d, \"max_score\": %d, \"status\": \"%s\", \"output\": ",
			o == EX_PASS ? l->points[k] : 0, l->points[k], o == EX_PASS ? "passed" : "failed");
		json_string(out, text);
		fputs("}", out);
	}
	fputs("\n]}\n", out);
}

void ex_export(FILE *out, enum ex_format f, const struct ex_class *c)
{
	switch (f) {
	case EX_FORMAT_TABLE:
		print_table(out, c);
		break;
	case EX_FORMAT_TAP:
		print_tap(out, c);
		break;
	case EX_FORMAT_JUNIT:
		print_junit(out, c);
		break;
	case EX_FORMAT_JSON:
		print_json(out, c);
		break;
	case EX_FORMAT_CSV:
		print_csv(out, c);
		break;
	case EX_FORMAT_GRADESCOPE:
		print_gradescope(out, c);
		break;
	}
	fflush(out);
}

int ex_export_all(const char *dir, const struct ex_class *c, char *err)
{
	static const struct { enum ex_format f; const char *name; } files[] = {
		{ EX_FORMAT_TABLE, "results.txt" }, { EX_FORMAT_TAP, "results.tap" },
		{ EX_FORMAT_JUNIT, "junit.xml" }, { EX_FORMAT_JSON, "results.json" },
		{ EX_FORMAT_CSV, "results.csv" }, { EX_FORMAT_GRADESCOPE, "gradescope.json" },
	};

	if (ex_mkdirs(dir, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX];
		FILE *out;

		if (files[i].f == EX_FORMAT_GRADESCOPE && c->n != 1)
			continue;
		if (ex_path(path, sizeof(path), dir, files[i].name) < 0 ||
		    (out = fopen(path, "w")) == NULL)
			return ex_err(err, "write %s/%s: %s", dir, files[i].name, strerror(errno));
		ex_export(out, files[i].f, c);
		if (fclose(out) != 0)
			return ex_err(err, "write %s: %s", path, strerror(errno));
	}
	return 0;
}
