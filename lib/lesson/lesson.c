/* lesson.c — die/warn/usage helpers and option checks for lesson programs. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "lesson.h"

/* Print "prog: message", with ": strerror(errno)" when fmt ends in ':'. */
static void vreport(const char *fmt, va_list ap)
{
	int saved = errno; /* fprintf may change errno before we read it */
	size_t n = strlen(fmt);

	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s -h' for help.\n", program_invocation_short_name);
	exit(EXIT_USAGE);
}

void bad_option(int c, char *const argv[])
{
	if (c == ':')
		usage_error("option %s needs an argument", argv[optind - 1]);
	/* "--flag=value" for a flag without argument: getopt_long sets optopt
	 * to the flag's own short letter, which would read as unknown. */
	if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0)
		usage_error("option %s takes no argument", argv[optind - 1]);
	if (optopt != 0)
		usage_error("unknown option -%c", optopt);
	usage_error("unknown option %s", argv[optind - 1]);
}

const char *opt_port(const char *arg)
{
	uint16_t port;

	if (sl_port_parse(arg, &port) < 0)
		usage_error("bad port '%s': expected a number from 0 to 65535", arg);
	return arg;
}

void announce_listening(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[SL_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname:");
	if (sl_addr_format((struct sockaddr *)&ss, len, text, sizeof(text)) == NULL)
		die("format address:");
	printf("listening on %s\n", text);
	fflush(stdout);
}
