/* cmdline.c — parse socklab's command line (see cmdline.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

static const char overview[] =
	"usage: socklab [COMMAND] [OPTIONS]\n"
	"See what socket calls do: each call of a real program, the segments it\n"
	"puts on the wire, and the TCP state of every socket, from the kernel's\n"
	"own data.\n"
	"\n"
	"commands:\n"
	"  (none)                      the lesson menu\n"
	"  run NN [SCENARIO]           run lesson NN, stopped before every socket call\n"
	"  run NN --work               the same with your copy (socklab exercise NN)\n"
	"  trace [--step] -- CMD ARGS  visualize any program (C, Python, nc, ...)\n"
	"  watch PORT                  visualize whatever talks on PORT (no trace)\n"
	"  replay FILE                 play a session recorded with --record\n"
	"  list                        the lessons and their scenarios\n"
	"  export FILE --svg|--html|--txt  a recorded session as a picture, a page\n"
	"                              or text, to show without socklab\n"
	"  exercise, check, progress   the exercises (socklab-exercise --help)\n"
	"\n"
	"options:\n"
	"  -h, --help       help (socklab COMMAND --help for a command's options)\n"
	"  -V, --version    the version\n"
	"\n"
	"keys: space/n step, c continue, p pause, Tab next process, Enter a line\n"
	"to its stdin, r restart, ? help, q quit. socklab ends on SIGHUP,\n"
	"SIGTERM, SIGINT or its terminal's end, and stops what it started.\n"
	"Exit status: 0 ok, 1 failure (or stopped by a signal), 2 bad command line.\n";

static const char run_help[] =
	"usage: socklab run NN [SCENARIO] [OPTIONS]\n"
	"Run lesson NN (as in lessons/NN-topic/lesson.conf) and visualize it.\n"
	"Every program stops before each socket call until you step it (space).\n"
	"The lesson runs in a private network namespace with its own lo, where\n"
	"the segments can be captured without root; when that is not possible\n"
	"it runs on the host's lo and the segments are inferred from the calls.\n"
	"\n"
	"  SCENARIO           one of the lesson's scenarios (socklab list)\n"
	"  --work             visualize your own attempt: build your copy of the\n"
	"                     lesson (work/NN-topic/, from socklab exercise NN)\n"
	"                     and run its programs instead of the lesson's\n"
	"  --free             do not stop before calls (c does the same later)\n"
	"  --all-stops        stop at every traced call, also at the fork() of a\n"
	"                     process that has made no socket call yet\n"
	"  --no-netns         run on the host's loopback\n"
	"  --record FILE      record the session for socklab replay\n"
	"  --pcap FILE        write the captured segments to a pcap file\n"
	"  --batch            no screen: run free, then print the model as text\n"
	"  --timeout S        --batch: give up after S seconds (default 30)\n"
	"  --settle MS        --batch: wait MS ms after the end (default 500)\n"
	"  -h, --help         this help\n";

static const char trace_help[] =
	"usage: socklab trace [OPTIONS] -- CMD [ARGS...]\n"
	"Run CMD with the trace shim preloaded and visualize its socket calls, on\n"
	"the host's network (a capture needs root; otherwise the segments are\n"
	"inferred from the calls).\n"
	"\n"
	"  --step             stop before every socket call (space steps); a\n"
	"                     process's fork() calls before its first socket call\n"
	"                     (a wrapper script's) run on\n"
	"  --all-stops        with --step: stop at those fork() calls too\n"
	"  --record FILE      record the session for socklab replay\n"
	"  --pcap FILE        write the captured segments to a pcap file\n"
	"  --batch            no screen: run, then print the model as text\n"
	"  --timeout S        --batch: give up after S seconds (default 30)\n"
	"  --settle MS        --batch: wait MS ms after the end (default 500)\n"
	"  -h, --help         this help\n";

static const char watch_help[] =
	"usage: socklab watch PORT [OPTIONS]\n"
	"Show every TCP socket on PORT (from the kernel's socket table) and, with\n"
	"root, every segment, for programs socklab did not start.\n"
	"\n"
	"  --record FILE      record the session for socklab replay\n"
	"  --pcap FILE        write the captured segments to a pcap file\n"
	"  --batch            no screen: watch for --timeout S seconds, then\n"
	"                     print the model as text\n"
	"  --timeout S        (default 30)\n"
	"  -h, --help         this help\n";

static const char replay_help[] =
	"usage: socklab replay FILE [--batch]\n"
	"Play a session recorded with --record: space steps one call, c plays at\n"
	"the recorded pace, End jumps to the end, r rewinds.\n"
	"\n"
	"  --batch            no screen: print the model at the end as text\n"
	"  -h, --help         this help\n";

static const char export_help[] =
	"usage: socklab export FILE --svg|--html|--txt [OPTIONS]\n"
	"Write a session recorded with --record as a ladder: an arrow per segment\n"
	"with its flags, relative seq/ack, window, options and labels; each\n"
	"socket's TCP states beside its lane; and the calls. Nothing else is\n"
	"needed to look at the result.\n"
	"\n"
	"  --svg              a standalone SVG picture (slides, handouts)\n"
	"  --html             a self-contained page: the ladder, the states and the\n"
	"                     calls; the arrow keys step through the session\n"
	"  --txt              plain text\n"
	"                     (without one of these, OUT's extension chooses)\n"
	"  -o, --output OUT   write to OUT (default: standard output)\n"
	"  --from S           leave out what happened before S seconds\n"
	"  --to S             leave out what happened after S seconds\n"
	"                     (seconds since the session began, e.g. 0.25)\n"
	"  --no-calls         segments and states only: no calls on the ladder\n"
	"  -h, --help         this help\n";

static const char list_help[] =
	"usage: socklab list\n"
	"List the lessons socklab run knows, with their scenarios.\n";

void cmdline_usage(enum command cmd, FILE *out)
{
	switch (cmd) {
	case CMD_RUN: fputs(run_help, out); break;
	case CMD_TRACE: fputs(trace_help, out); break;
	case CMD_WATCH: fputs(watch_help, out); break;
	case CMD_REPLAY: fputs(replay_help, out); break;
	case CMD_LIST: fputs(list_help, out); break;
	case CMD_EXPORT: fputs(export_help, out); break;
	default: fputs(overview, out); break;
	}
}

static int usage_error(enum command cmd, const char *what, const char *arg)
{
	static const char *names[] = { "", "run", "trace", "watch", "replay", "list", "", "",
				       "export" };

	fprintf(stderr, "socklab: %s%s%s\n", what, arg ? " " : "", arg ? arg : "");
	fprintf(stderr, "try 'socklab %s%s--help'\n", names[cmd], names[cmd][0] ? " " : "");
	return 2;
}

static int number(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

enum { O_FREE = 256, O_NO_NETNS, O_RECORD, O_PCAP, O_BATCH, O_TIMEOUT, O_SETTLE, O_STEP,
       O_WORK, O_SVG, O_HTML, O_TXT, O_FROM, O_TO, O_NO_CALLS, O_ALL_STOPS };

/* Seconds since the session began, "2" or "0.125", into nanoseconds. */
static int seconds(const char *s, mtime_t *ns)
{
	mtime_t whole = 0, frac = 0, scale = NS_PER_S;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		whole = whole * 10 + (mtime_t)(*s - '0');
		if (whole > 86400 * 365)
			return -1;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			scale /= 10;
			frac += (mtime_t)(*s - '0') * scale;
		}
	}
	if (*s != '\0')
		return -1;
	*ns = whole * NS_PER_S + frac;
	return 0;
}

static int set_format(struct cmdline *c, enum export_format f, const char *opt)
{
	if (c->ex.format != EXPORT_NONE && c->ex.format != f)
		return usage_error(c->cmd, "give one of --svg, --html, --txt, not also", opt);
	c->ex.format = f;
	return 0;
}

/* Options common to the commands; which are allowed depends on cmd. */
static int parse_options(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "free", no_argument, NULL, O_FREE },
		{ "no-netns", no_argument, NULL, O_NO_NETNS },
		{ "record", required_argument, NULL, O_RECORD },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "batch", no_argument, NULL, O_BATCH },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "settle", required_argument, NULL, O_SETTLE },
		{ "step", no_argument, NULL, O_STEP },
		{ "work", no_argument, NULL, O_WORK },
		{ "svg", no_argument, NULL, O_SVG },
		{ "html", no_argument, NULL, O_HTML },
		{ "txt", no_argument, NULL, O_TXT },
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "no-calls", no_argument, NULL, O_NO_CALLS },
		{ "output", required_argument, NULL, 'o' },
		{ "all-stops", no_argument, NULL, O_ALL_STOPS },
		{ NULL, 0, NULL, 0 },
	};
	enum command cmd = c->cmd;
	int opt;
	long v;

	opterr = 0;
	optind = 1;
	/* trace stops at the command: its options are the command's. */
	while ((opt = getopt_long(argc, argv, cmd == CMD_TRACE ? "+:h" : ":ho:", longopts,
				  NULL)) != -1) {
		int ok = 1;

		switch (opt) {
		case 'h':
			c->cmd = CMD_HELP;
			c->help_for = cmd;
			return 0;
		case O_FREE:
			ok = cmd == CMD_RUN;
			c->opt.step = 0;
			break;
		case O_NO_NETNS:
			ok = cmd == CMD_RUN;
			c->opt.netns = 0;
			break;
		case O_WORK:
			ok = cmd == CMD_RUN;
			c->opt.work = 1;
			break;
		case O_STEP:
			ok = cmd == CMD_TRACE;
			c->opt.step = 1;
			break;
		case O_ALL_STOPS:
			ok = cmd == CMD_RUN || cmd == CMD_TRACE;
			c->opt.all_stops = 1;
			break;
		case O_RECORD:
			ok = cmd == CMD_RUN || cmd == CMD_TRACE || cmd == CMD_WATCH;
			c->opt.record_file = optarg;
			break;
		case O_PCAP:
			ok = cmd == CMD_RUN || cmd == CMD_TRACE || cmd == CMD_WATCH;
			c->opt.pcap_file = optarg;
			break;
		case O_BATCH:
			ok = cmd != CMD_EXPORT;
			c->opt.batch = 1;
			break;
		case O_SVG:
		case O_HTML:
		case O_TXT:
			ok = cmd == CMD_EXPORT;
			if (ok && set_format(c, opt == O_SVG ? EXPORT_SVG : opt == O_HTML ? EXPORT_HTML :
					     EXPORT_TXT, argv[optind - 1]) != 0)
				return 2;
			break;
		case O_FROM:
		case O_TO:
			ok = cmd == CMD_EXPORT;
			if (ok && seconds(optarg, opt == O_FROM ? &c->ex.from : &c->ex.to) < 0)
				return usage_error(cmd, "bad time (seconds since the session began, e.g. 0.5):",
						   optarg);
			if (opt == O_FROM)
				c->ex.has_from = 1;
			else
				c->ex.has_to = 1;
			break;
		case 'o':
			ok = cmd == CMD_EXPORT;
			c->ex.out = optarg;
			break;
		case O_NO_CALLS:
			ok = cmd == CMD_EXPORT;
			c->ex.calls = 0;
			break;
		case O_TIMEOUT:
			if (number(optarg, 1, 86400, &v) < 0)
				return usage_error(cmd, "bad --timeout (seconds, 1 to 86400):", optarg);
			c->opt.timeout_s = (int)v;
			break;
		case O_SETTLE:
			if (number(optarg, 0, 600000, &v) < 0)
				return usage_error(cmd, "bad --settle (milliseconds, 0 to 600000):", optarg);
			c->opt.settle_ms = (int)v;
			break;
		case ':':
			return usage_error(cmd, "option needs an argument:", argv[optind - 1]);
		default:
			return usage_error(cmd, "unknown option", argv[optind - 1]);
		}
		if (!ok)
			return usage_error(cmd, "option not valid here:", argv[optind - 1]);
	}
	return 0;
}

/* The format from OUT's extension when no option names it; a window that
 * ends before it begins is refused. */
static int export_checks(struct cmdline *c)
{
	static const struct { const char *ext; enum export_format f; } exts[] = {
		{ ".svg", EXPORT_SVG }, { ".html", EXPORT_HTML }, { ".htm", EXPORT_HTML },
		{ ".txt", EXPORT_TXT },
	};

	if (c->ex.format == EXPORT_NONE && c->ex.out != NULL) {
		const char *dot = strrchr(c->ex.out, '.');

		for (size_t i = 0; dot != NULL && i < sizeof(exts) / sizeof(exts[0]); i++)
			if (strcmp(dot, exts[i].ext) == 0)
				c->ex.format = exts[i].f;
	}
	if (c->ex.format == EXPORT_NONE)
		return usage_error(c->cmd, "give --svg, --html or --txt", NULL);
	if (c->ex.has_from && c->ex.has_to && c->ex.to < c->ex.from)
		return usage_error(c->cmd, "--to is before --from", NULL);
	return 0;
}

static int positional(int argc, char **argv, struct cmdline *c)
{
	int rest = argc - optind;
	char **a = argv + optind;
	long v;

	switch (c->cmd) {
	case CMD_RUN:
		if (rest < 1 || rest > 2)
			return usage_error(c->cmd, "expected a lesson number (socklab list)", NULL);
		c->lesson = a[0];
		c->opt.scenario = rest == 2 ? a[1] : NULL;
		return 0;
	case CMD_TRACE:
		/* getopt stops at "--" (and skips it) or at the command. */
		if (rest < 1)
			return usage_error(c->cmd, "expected a command after --", NULL);
		c->opt.argv = a;
		return 0;
	case CMD_WATCH:
		if (rest != 1 || number(a[0], 1, 65535, &v) < 0)
			return usage_error(c->cmd, "expected a port from 1 to 65535", rest ? a[0] : NULL);
		c->opt.port = (uint16_t)v;
		return 0;
	case CMD_REPLAY:
		if (rest != 1)
			return usage_error(c->cmd, "expected one recorded file", NULL);
		c->opt.replay_file = a[0];
		return 0;
	case CMD_EXPORT:
		if (rest != 1)
			return usage_error(c->cmd, "expected one recorded file", rest ? a[1] : NULL);
		c->ex.file = a[0];
		return export_checks(c);
	case CMD_LIST:
	case CMD_MENU:
		if (rest != 0)
			return usage_error(c->cmd, "unexpected argument", a[0]);
		return 0;
	default:
		return 0;
	}
}

int cmdline_known(const char *name)
{
	static const char *const own[] = { "run", "trace", "watch", "replay", "list", "export" };

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(name, own[i]) == 0)
			return 1;
	return 0;
}

int cmdline_parse(int argc, char **argv, struct cmdline *c)
{
	static const struct { const char *name; enum command cmd; enum session_mode mode; } cmds[] = {
		{ "run", CMD_RUN, SM_RUN }, { "trace", CMD_TRACE, SM_TRACE },
		{ "watch", CMD_WATCH, SM_WATCH }, { "replay", CMD_REPLAY, SM_REPLAY },
		{ "list", CMD_LIST, SM_RUN }, { "export", CMD_EXPORT, SM_REPLAY },
	};
	int rc;

	memset(c, 0, sizeof(*c));
	c->cmd = CMD_MENU;
	c->opt.step = 1;
	c->opt.netns = 1;
	c->opt.timeout_s = 30;
	c->opt.settle_ms = 500;
	c->ex.calls = 1;
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		if (argc > 2)
			return usage_error(CMD_MENU, "unexpected argument", argv[2]);
		c->cmd = CMD_VERSION;
		return 0;
	}
	if (argc >= 2 && argv[1][0] != '-') {
		size_t i;

		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(argv[1], cmds[i].name) == 0)
				break;
		if (i == sizeof(cmds) / sizeof(cmds[0]))
			return usage_error(CMD_MENU, "unknown command", argv[1]);
		c->cmd = cmds[i].cmd;
		c->opt.mode = cmds[i].mode;
		argc--;
		argv++;
	}
	if (c->cmd == CMD_TRACE)
		c->opt.step = 0;
	rc = parse_options(argc, argv, c);
	if (rc != 0 || c->cmd == CMD_HELP)
		return rc;
	rc = positional(argc, argv, c);
	if (rc != 0)
		return rc;
	if (c->opt.batch) {
		if (c->cmd == CMD_MENU || c->cmd == CMD_LIST)
			return usage_error(c->cmd, "--batch needs a command (run, trace, watch, replay)", NULL);
		c->opt.step = 0;
	}
	return 0;
}
