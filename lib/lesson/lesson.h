/* lesson.h — helpers for lesson programs (not the library: these print and
 * exit, which the library never does).
 *
 *   die("bind:")            prints "server: bind: Address already in use"
 *                           and exits 1 (a trailing ':' appends strerror)
 *   warn("recv:")           the same, without exiting
 *   usage_error("bad -n")   prints the message and a hint, exits 2
 *   bad_option(c, argv)     getopt's '?' or ':' in our words, exits 2
 *   opt_port(optarg)        a checked port string, or usage_error
 *
 * Every lesson program has the same common options, parsed with
 * getopt_long: -h/--help, -b/--bind ADDR (default 127.0.0.1; for a client
 * the server's address), -p/--port PORT (0 = any free port).
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

/* The common options' short and long forms, to put in front of a
 * program's own in getopt_long. */
#define COMMON_SHORTOPTS "hb:p:"
#define COMMON_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "bind", required_argument, NULL, 'b' }, \
	{ "port", required_argument, NULL, 'p' }

noreturn void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* For getopt_long's '?' (unknown option) or ':' (missing argument: start
 * the optstring with ':' and set opterr = 0). Prints "unknown option -x" or
 * "option --port needs an argument" and the hint; exits 2. */
noreturn void bad_option(int c, char *const argv[]);

/* Check a -p argument: returns it when it is a port 0..65535, otherwise
 * exits 2 with "bad port 'x': expected a number from 0 to 65535". */
const char *opt_port(const char *arg);

/* Check a numeric option: returns it when in [min, max], otherwise exits 2
 * with "bad WHAT 'x': expected a number from MIN to MAX". */
long opt_number(const char *arg, const char *what, long min, long max);

/* Print "listening on ADDR" for the socket's bound address, and flush, so
 * a test or the visualizer reading our stdout learns the port at once. */
void announce_listening(int fd);

#endif
