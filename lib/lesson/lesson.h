/* lesson.h — helpers for lesson programs (not the library: these print and
 * exit, which the library never does).
 *
 *   die("bind:")            prints "server: bind: Address already in use"
 *                           and exits 1 (a trailing ':' appends strerror)
 *   warn("recv:")           the same, without exiting
 *   usage_error("bad -n")   prints the message and a hint, exits 2
 *   lesson_options(...)     the command line, from a table (below)
 *   stop_on_signals()       the signal-safe stop lesson 02 teaches (stop.h)
 *
 * Every lesson program has the same common options: -h/--help, -b/--bind
 * ADDR (default 127.0.0.1; for a client the server's address), -p/--port
 * PORT (0 = any free port).
 */
#ifndef SOCKLAB_LESSON_H
#define SOCKLAB_LESSON_H

#include <stdnoreturn.h>

enum {
	EXIT_OK = 0,      /* done */
	EXIT_RUNTIME = 1, /* a call failed at run time */
	EXIT_USAGE = 2,   /* bad command line */
};

#define DEFAULT_HOST "127.0.0.1"

noreturn void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* ---- the command line, as a table ------------------------------------
 *
 * A program lists its options and hands the list to lesson_options(),
 * which parses argv with getopt_long, checks every value, prints the -h
 * text made from the same table, and exits 2 with a clear message on any
 * misuse ("unknown option -x", "bad port '70000': expected a number from
 * 0 to 65535"). So the lesson itself holds no getopt loop:
 *
 *	static const char *host = DEFAULT_HOST, *port = "0";
 *	static long max_clients;
 *	static const struct lesson_opt options[] = {
 *		OPT_BIND(&host, "address to listen on (default 127.0.0.1)"),
 *		OPT_PORT(&port, "port to listen on (default 0: any free port)"),
 *		{ 'n', "clients", OPT_NUMBER, &max_clients, "N",
 *		  "exit after serving N clients", .what = "client count",
 *		  .min = 0, .max = 1000000 },
 *		{ 0 }
 *	};
 *	...
 *	lesson_options(argc, argv, &(struct lesson_cli){
 *		.about = "The iterative TCP echo server (lesson 02).",
 *		.opts = options });
 *
 * Defaults are whatever the variables hold before the call.
 */
enum lesson_opt_kind {
	OPT_FLAG,    /* no argument: *(int *)value = .max, or 1 when .max is 0 */
	OPT_STRING,  /* any text: *(const char **)value */
	OPT_PORT,    /* a port, 0..65535, as text: *(const char **)value */
	OPT_NUMBER,  /* a whole number in [.min, .max]: *(long *)value */
	OPT_CHOICE,  /* one of .choices: *(int *)value = its index */
	OPT_COUNT,   /* no argument, each use adds one: -vv gives 2 (int) */
};

struct lesson_opt {
	char letter;              /* -n; 0 for a long-only option */
	const char *name;         /* --clients; NULL for a short-only option */
	enum lesson_opt_kind kind;
	void *value;              /* where the value goes (type: see the kind) */
	const char *arg;          /* the argument's name in the help: "N" */
	const char *help;         /* what it does; '\n' starts a new help line */
	const char *what;         /* in errors: "bad client count 'x'" */
	long min, max;            /* OPT_NUMBER's range; OPT_FLAG's value */
	const char *const *choices; /* OPT_CHOICE: the names, NULL at the end */
	int required;             /* missing → "missing -p PORT: <what>" */
};

/* -b ADDR and -p PORT, the options every lesson program has. */
#define OPT_BIND(var, text) \
	{ 'b', "bind", OPT_STRING, (var), "ADDR", (text), .what = "address" }
#define OPT_PORT(var, text) \
	{ 'p', "port", OPT_PORT, (var), "PORT", (text), .what = "port" }
/* A client's -p: required, and 0 refused (there is no port 0 to call). */
#define OPT_SERVER_PORT(var) \
	{ 'p', "port", OPT_PORT, (var), "PORT", "the server's port (required)", \
	  .what = "port", .min = 1, .required = 1 }

struct lesson_cli {
	const char *args;         /* positional arguments in the usage line */
	const char *about;        /* what the program is: printed after usage */
	const char *footer;       /* printed after the options (exit status...) */
	const struct lesson_opt *opts; /* ends with an all-zero entry */
	int min_args;             /* fewest positional arguments */
	int max_args;             /* most; -1 for no limit */
};

/* Parse argv by the table: returns the index of the first positional
 * argument (argc when there is none). -h prints the help and exits 0;
 * misuse exits 2. */
int lesson_options(int argc, char **argv, const struct lesson_cli *cli);

/* Check a number given some other way than an option (a positional
 * argument): returns it when in [min, max], otherwise exits 2 with
 * "bad WHAT 'x': expected a number from MIN to MAX". */
long opt_number(const char *arg, const char *what, long min, long max);

/* ---- the getopt loop of old ----------------------------------------------
 * Still here while lessons move to lesson_options(); not for new code. */
#define COMMON_SHORTOPTS "hb:p:"
#define COMMON_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "bind", required_argument, NULL, 'b' }, \
	{ "port", required_argument, NULL, 'p' }
noreturn void bad_option(int c, char *const argv[]);
const char *opt_port(const char *arg);

/* Print "listening on ADDR" for the socket's bound address, and flush, so
 * a test or the visualizer reading our stdout learns the port at once. */
void announce_listening(int fd);

#endif
