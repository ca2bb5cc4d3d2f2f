/* options.c — a lesson program's command line from a table (lesson.h):
 * getopt_long, every value checked, the -h text made from the same table. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "lesson.h"

#define MAX_OPTS 64
#define LONG_ONLY 256 /* getopt_long's value for a long-only option: 256 + index */
#define HELP_COLUMN_MAX 28
#define HELP_GAP 3 /* spaces between an option and its help */

static int takes_arg(const struct lesson_opt *o)
{
	return o->kind != OPT_FLAG && o->kind != OPT_COUNT;
}

static int count_opts(const struct lesson_opt *opts)
{
	int n = 0;

	while (opts[n].letter != 0 || opts[n].name != NULL)
		n++;
	if (n > MAX_OPTS)
		die("lesson_options: more than %d options", MAX_OPTS);
	return n;
}

/* "-p PORT", "--max-fd N", "-v": how the usage line and errors name it. */
static void opt_spelling(const struct lesson_opt *o, char *buf, size_t size)
{
	const char *arg = takes_arg(o) ? (o->arg ? o->arg : "VALUE") : NULL;

	if (o->letter != 0)
		snprintf(buf, size, "-%c%s%s", o->letter, arg ? " " : "", arg ? arg : "");
	else
		snprintf(buf, size, "--%s%s%s", o->name, arg ? " " : "", arg ? arg : "");
}

/* "  -b, --bind ADDR", "      --max-fd N", "  -v": the left column of -h. */
static int opt_column(const struct lesson_opt *o, char *buf, size_t size)
{
	const char *arg = takes_arg(o) ? (o->arg ? o->arg : "VALUE") : NULL;
	int n;

	if (o->letter != 0 && o->name != NULL)
		n = snprintf(buf, size, "  -%c, --%s", o->letter, o->name);
	else if (o->letter != 0)
		n = snprintf(buf, size, "  -%c", o->letter);
	else
		n = snprintf(buf, size, "      --%s", o->name);
	if (arg != NULL && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " %s", arg);
	return n;
}

static void print_usage_line(const struct lesson_cli *cli, int nopts)
{
	const char *prog = program_invocation_short_name;
	int indent = (int)strlen("usage: ") + (int)strlen(prog);
	int col = indent;
	char word[128];

	printf("usage: %s", prog);
	for (int i = 0; i <= nopts; i++) {
		const char *w = word;
		int len;

		if (i < nopts) {
			char spelled[96];

			opt_spelling(&cli->opts[i], spelled, sizeof(spelled));
			snprintf(word, sizeof(word), cli->opts[i].required ? "%s" : "[%s]",
				 spelled);
		} else if (cli->args != NULL) {
			w = cli->args;
		} else {
			break;
		}
		len = (int)strlen(w);
		if (col + 1 + len > 79) {
			printf("\n%*s", indent, "");
			col = indent;
		}
		printf(" %s", w);
		col += 1 + len;
	}
	putchar('\n');
}

/* Print one option's help, each '\n' of its text a new line in the column. */
static void print_opt_help(const char *left, int width, const char *text)
{
	int n = (int)strlen(left);

	if (n + HELP_GAP > width) {
		printf("%s\n%*s", left, width, "");
	} else {
		printf("%s%*s", left, width - n, "");
	}
	for (const char *p = text; *p != '\0'; p++) {
		putchar(*p);
		if (*p == '\n')
			printf("%*s", width, "");
	}
	putchar('\n');
}

static void print_help(const struct lesson_cli *cli, int nopts)
{
	static const struct lesson_opt help = {
		'h', "help", OPT_FLAG, NULL, NULL, "show this help", NULL, 0, 0, NULL, 0
	};
	char left[96];
	int width = 0;

	print_usage_line(cli, nopts);
	if (cli->about != NULL)
		printf("%s\n", cli->about);
	putchar('\n');
	for (int i = 0; i <= nopts; i++) {
		int n = opt_column(i < nopts ? &cli->opts[i] : &help, left, sizeof(left));

		if (n + HELP_GAP <= HELP_COLUMN_MAX && n + HELP_GAP > width)
			width = n + HELP_GAP;
	}
	for (int i = 0; i < nopts; i++) {
		opt_column(&cli->opts[i], left, sizeof(left));
		print_opt_help(left, width, cli->opts[i].help ? cli->opts[i].help : "");
	}
	opt_column(&help, left, sizeof(left));
	print_opt_help(left, width, help.help);
	if (cli->footer != NULL)
		printf("%s\n", cli->footer);
}

/* getopt_long's '?' (unknown option) or ':' (missing argument), in our
 * words. optstring starts with ':' and opterr is 0. */
static noreturn void bad_opt(int c, char *const argv[])
{
	if (c == ':')
		usage_error("option %s needs an argument", argv[optind - 1]);
	/* "--flag=value" for a flag without argument: getopt_long sets optopt
	 * to the flag's own value, which would read as unknown. */
	if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0)
		usage_error("option %s takes no argument", argv[optind - 1]);
	if (optopt > 0 && optopt < LONG_ONLY)
		usage_error("unknown option -%c", optopt);
	usage_error("unknown option %s", argv[optind - 1]);
}

static void take_value(const struct lesson_opt *o, const char *arg)
{
	const char *what = o->what ? o->what : o->name;

	switch (o->kind) {
	case OPT_FLAG:
		*(int *)o->value = o->max != 0 ? (int)o->max : 1;
		break;
	case OPT_COUNT:
		++*(int *)o->value;
		break;
	case OPT_STRING:
		*(const char **)o->value = arg;
		break;
	case OPT_PORT: {
		uint16_t port;

		if (sl_port_parse(arg, &port) < 0 || port < o->min)
			usage_error("bad %s '%s': expected a number from %ld to 65535",
				    what ? what : "port", arg, o->min);
		*(const char **)o->value = arg;
		break;
	}
	case OPT_NUMBER:
		*(long *)o->value = opt_number(arg, what ? what : "number", o->min, o->max);
		break;
	case OPT_CHOICE: {
		char expected[256] = "";
		size_t used = 0;
		int n = 0;

		for (int i = 0; o->choices[i] != NULL; i++) {
			if (strcmp(arg, o->choices[i]) == 0) {
				*(int *)o->value = i;
				return;
			}
			n++;
		}
		/* "fixed, delim or length" */
		for (int i = 0; i < n && used < sizeof(expected); i++) {
			int w = snprintf(expected + used, sizeof(expected) - used, "%s%s",
					 i == 0 ? "" : i == n - 1 ? " or " : ", ",
					 o->choices[i]);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		usage_error("bad %s '%s': expected %s", what ? what : "choice", arg,
			    expected);
	}
	}
}

int lesson_options(int argc, char **argv, const struct lesson_cli *cli)
{
	struct option longopts[MAX_OPTS + 2];
	char shortopts[3 * MAX_OPTS + 8] = ":h";
	int given[MAX_OPTS] = { 0 };
	int nopts = count_opts(cli->opts);
	size_t s = strlen(shortopts);
	int nlong = 0, c, npos;

	longopts[nlong++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (int i = 0; i < nopts; i++) {
		const struct lesson_opt *o = &cli->opts[i];
		int val = o->letter != 0 ? (unsigned char)o->letter : LONG_ONLY + i;
		int has_arg = takes_arg(o) ? required_argument : no_argument;

		if (o->letter != 0) {
			shortopts[s++] = o->letter;
			if (has_arg)
				shortopts[s++] = ':';
		}
		if (o->name != NULL)
			longopts[nlong++] = (struct option){ o->name, has_arg, NULL, val };
	}
	shortopts[s] = '\0';
	longopts[nlong] = (struct option){ NULL, 0, NULL, 0 };

	opterr = 0; /* bad_opt() says what is wrong, in our own words */
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int i;

		if (c == 'h') {
			print_help(cli, nopts);
			exit(EXIT_OK);
		}
		if (c == '?' || c == ':')
			bad_opt(c, argv);
		for (i = 0; i < nopts; i++)
			if ((cli->opts[i].letter != 0 && c == (unsigned char)cli->opts[i].letter) ||
			    (cli->opts[i].letter == 0 && c == LONG_ONLY + i))
				break;
		if (i == nopts)
			bad_opt('?', argv);
		take_value(&cli->opts[i], optarg);
		given[i] = 1;
	}
	for (int i = 0; i < nopts; i++) {
		char spelled[96];

		if (cli->opts[i].required && !given[i]) {
			opt_spelling(&cli->opts[i], spelled, sizeof(spelled));
			usage_error("missing %s", spelled);
		}
	}
	npos = argc - optind;
	if (cli->max_args >= 0 && npos > cli->max_args)
		usage_error("unexpected argument '%s'", argv[optind + cli->max_args]);
	if (npos < cli->min_args)
		usage_error("missing %s", cli->args ? cli->args : "argument");
	return optind;
}

long opt_number(const char *arg, const char *what, long min, long max)
{
	long v;

	if (sl_num_parse(arg, min, max, &v) < 0)
		usage_error("bad %s '%s': expected a number from %ld to %ld",
			    what, arg, min, max);
	return v;
}
