/* html.c — a session as one self-contained page (see export.h): the
 * ladder (the SVG of svg.c, inline), every socket's states and the calls
 * as tables, and a small script that steps through the ladder's rows with
 * the keyboard, for a class watching it on a projector.
 *
 * Nothing is fetched: no fonts, no images, no scripts from elsewhere, and
 * the page's Content-Security-Policy forbids any fetch at all. Printed,
 * every row shows and the controls do not.
 */
#include <stdio.h>

#include "dump.h"
#include "export/export.h"

static const char style[] =
	"body{margin:0;font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#1f2328;"
	"background:#fff;font-size:18px}\n"
	"header{position:sticky;top:0;background:#fff;border-bottom:2px solid #d0d7de;"
	"padding:10px 18px;z-index:1}\n"
	"h1{font-size:26px;margin:0 0 4px}h2{font-size:22px;margin:28px 0 8px}\n"
	".source{color:#57606a;margin:0 0 8px;font-size:15px}\n"
	".controls button{font-size:18px;padding:4px 14px;margin-right:6px}\n"
	"#where{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:17px;"
	"margin-left:10px}\n"
	".keys{color:#57606a;font-size:14px;margin:6px 0 0}\n"
	"main{padding:10px 18px 40px}\n"
	/* Natural size, wider than the window if need be: the browser's
	 * zoom then makes it as large as the room needs. */
	".ladder{overflow-x:auto}.ladder svg{display:block}\n"
	".row{scroll-margin-top:190px;scroll-margin-bottom:40px}\n"
	".row.future{visibility:hidden}\n"
	".row.current .mark{fill:#fff8c5}\n"
	"table{border-collapse:collapse;font-size:15px}\n"
	"td,th{border-bottom:1px solid #d0d7de;padding:3px 10px;text-align:left;vertical-align:top}\n"
	"td.mono,span.mono{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}\n"
	"td.bad{color:#cf222e}\n"
	"@media print{header{position:static}.controls,.keys{display:none}"
	".row.future{visibility:visible}.row.current .mark{fill:none}body{font-size:12px}"
	".ladder{overflow:visible}.ladder svg{max-width:100%;height:auto}}\n";

/* The stepping: the first `step` rows show, the last of them marked; the
 * state is also in the title and in body's data-step / data-segment, so
 * a test (or the class) can read where it is. */
static const char script[] =
	"(function () {\n"
	"\"use strict\";\n"
	"var rows = document.querySelectorAll(\"#ladder .row\");\n"
	"var n = rows.length, step = n, base = document.title;\n"
	"var where = document.getElementById(\"where\");\n"
	"function show(k) {\n"
	"  var seg = 0, cur = null;\n"
	"  step = Math.max(0, Math.min(n, k));\n"
	"  for (var i = 0; i < n; i++) {\n"
	"    var r = rows[i];\n"
	"    r.classList.toggle(\"future\", i >= step);\n"
	"    r.classList.toggle(\"current\", i === step - 1 && step < n);\n"
	"    if (i < step && r.hasAttribute(\"data-seg\")) seg = +r.getAttribute(\"data-seg\");\n"
	"  }\n"
	"  if (step > 0) cur = rows[step - 1];\n"
	"  document.body.setAttribute(\"data-step\", step);\n"
	"  document.body.setAttribute(\"data-segment\", seg);\n"
	"  var text = \"step \" + step + \" of \" + n;\n"
	"  where.textContent = text + (cur ? \": \" + cur.getAttribute(\"data-text\") : \"\");\n"
	"  document.title = base + \" \\u2014 \" + text;\n"
	"  if (cur && step < n && cur.scrollIntoView) cur.scrollIntoView({block: \"nearest\"});\n"
	"}\n"
	"/* The next row that is a segment, after row k-1. */\n"
	"function nextSegment(k) {\n"
	"  for (var i = k; i < n; i++) if (rows[i].hasAttribute(\"data-seg\")) return i + 1;\n"
	"  return n;\n"
	"}\n"
	"function prevSegment(k) {\n"
	"  for (var i = k - 2; i >= 0; i--) if (rows[i].hasAttribute(\"data-seg\")) return i + 1;\n"
	"  return 0;\n"
	"}\n"
	"document.addEventListener(\"keydown\", function (e) {\n"
	"  if (e.altKey || e.ctrlKey || e.metaKey) return;\n"
	"  var k = e.key;\n"
	"  if (e.shiftKey && (k === \"ArrowRight\" || k === \"ArrowDown\")) show(nextSegment(step));\n"
	"  else if (e.shiftKey && (k === \"ArrowLeft\" || k === \"ArrowUp\")) show(prevSegment(step));\n"
	"  else if (k === \"ArrowRight\" || k === \"ArrowDown\" || k === \" \" || k === \"n\" ||\n"
	"           k === \"PageDown\") show(step + 1);\n"
	"  else if (k === \"ArrowLeft\" || k === \"ArrowUp\" || k === \"p\" || k === \"Backspace\" ||\n"
	"           k === \"PageUp\") show(step - 1);\n"
	"  else if (k === \"Home\") show(0);\n"
	"  else if (k === \"End\") show(n);\n"
	"  else return;\n"
	"  e.preventDefault();\n"
	"});\n"
	"document.getElementById(\"first\").onclick = function () { show(0); };\n"
	"document.getElementById(\"prev\").onclick = function () { show(step - 1); };\n"
	"document.getElementById(\"next\").onclick = function () { show(step + 1); };\n"
	"document.getElementById(\"nextseg\").onclick = function () { show(nextSegment(step)); };\n"
	"document.getElementById(\"all\").onclick = function () { show(n); };\n"
	"show(n);\n"
	"})();\n";

static const char *cause_name(int cause)
{
	switch (cause) {
	case CAUSE_CALL: return "call";
	case CAUSE_KERNEL: return "kernel";
	case CAUSE_WIRE: return "wire";
	case CAUSE_INFER: return "inferred";
	case CAUSE_TIMER: return "timer";
	}
	return "?";
}

static void html_states(const struct story *st, FILE *out)
{
	const struct model *m = st->m;
	int any = 0;

	fputs("<section id=\"states\"><h2>Sockets and their states</h2>\n<table>\n"
	      "<tr><th>socket</th><th>local</th><th>peer</th><th>states</th></tr>\n", out);
	for (int i = 0; i < m->nsocks; i++) {
		const struct msock *s = &m->socks[i];
		char owner[80], local[EP_TEXT_LEN], peer[EP_TEXT_LEN], when[32];
		int shown = 0;

		if (s->merged || !s->tcp)
			continue;
		for (int k = 0; k < s->nhist; k++)
			shown |= s->hist[k].t >= st->from && s->hist[k].t <= st->to;
		if (!shown)
			continue;
		any = 1;
		dump_owner(m, s, owner, sizeof(owner));
		fputs("<tr><td>", out);
		xml_text(out, owner);
		fputs("</td><td class=\"mono\">", out);
		xml_text(out, ep_format(&s->local, local, sizeof(local)));
		fputs("</td><td class=\"mono\">", out);
		xml_text(out, ep_format(&s->peer, peer, sizeof(peer)));
		fputs("</td><td>", out);
		for (int k = 0; k < s->nhist; k++) {
			const struct transition *h = &s->hist[k];

			if (h->t < st->from || h->t > st->to)
				continue;
			fprintf(out, "<div><span class=\"mono\">%s</span> <b>%s</b> (%s: ",
				dump_reltime(m, h->t, when, sizeof(when)), model_state_name(h->to),
				cause_name(h->cause));
			xml_text(out, h->why);
			fputs(")</div>", out);
		}
		fputs("</td></tr>\n", out);
	}
	if (!any)
		fputs("<tr><td colspan=\"4\">no TCP socket changed state here</td></tr>\n", out);
	fputs("</table></section>\n", out);
}

static void html_calls(const struct story *st, FILE *out)
{
	const struct model *m = st->m;

	fputs("<section id=\"calls\"><h2>Calls and output</h2>\n<table>\n"
	      "<tr><th>time</th><th>process</th><th>call</th><th>state after</th></tr>\n", out);
	for (int i = 0; i < m->nlog; i++) {
		const struct mlog *e = &m->log[i];
		char when[32], who[NAME_LEN + 16], text[LOG_TEXT_LEN + 96];

		if (e->t < st->from || e->t > st->to)
			continue;
		story_who(m, e->pid, who, sizeof(who));
		fprintf(out, "<tr><td class=\"mono\">%s</td><td>", dump_reltime(m, e->t, when, sizeof(when)));
		xml_text(out, who);
		if (e->kind == LOG_CALL) {
			story_call_text(m, e, text, sizeof(text));
			fprintf(out, "</td><td class=\"mono%s\">", e->done && e->err != 0 ? " bad" : "");
			xml_text(out, text);
			fprintf(out, "</td><td>%s</td></tr>\n",
				e->done && e->state > 0 && e->state < ST_COUNT ? model_state_name(e->state) : "");
		} else {
			fputs("</td><td class=\"mono\" colspan=\"2\">", out);
			fputs(e->kind == LOG_OUTPUT ? "| " : "* ", out);
			xml_text(out, e->text);
			fputs("</td></tr>\n", out);
		}
	}
	fputs("</table></section>\n", out);
}

int export_html(const struct story *st, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n<title>", out);
	xml_text(out, st->title);
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n", style);
	fputs("<body>\n<header>\n<h1>", out);
	xml_text(out, st->title);
	fputs("</h1>\n<p class=\"source\">recorded: ", out);
	xml_text(out, st->source);
	fprintf(out, " &middot; %d segments, %d calls</p>\n", st->nsegs, st->ncalls);
	fputs("<div class=\"controls\"><button id=\"first\" title=\"Home\">start</button>"
	      "<button id=\"prev\" title=\"left arrow\">&#9664; back</button>"
	      "<button id=\"next\" title=\"right arrow\">next &#9654;</button>"
	      "<button id=\"nextseg\" title=\"shift + right arrow\">next segment</button>"
	      "<button id=\"all\" title=\"End\">all</button><span id=\"where\"></span></div>\n"
	      "<p class=\"keys\">&#8594; or space: next row &middot; &#8592;: back &middot; "
	      "shift+&#8594;: next segment &middot; Home: start &middot; End: everything</p>\n"
	      "</header>\n<main>\n<div class=\"ladder\">\n", out);
	if (export_svg(st, out, 0) < 0)
		return -1;
	fputs("</div>\n", out);
	html_states(st, out);
	if (st->calls)
		html_calls(st, out);
	fprintf(out, "</main>\n<script>\n%s</script>\n</body>\n</html>\n", script);
	fflush(out);
	return ferror(out) ? -1 : 0;
}
