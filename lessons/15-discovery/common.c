/* common.c — what lesson 15's programs share (common.h says what each
 * function is for). The build compiles it once and links it into server
 * and client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <time.h>

#include "lesson/lesson.h"
#include "common.h"

int valid_service_name(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= MAX_NAME;
}

/* ---- Plumbing: checking the command line, the clock ---------------------- */

void check_ipv4(const char *arg, const char *what)
{
	struct in_addr a;

	if (arg != NULL && inet_pton(AF_INET, arg, &a) != 1)
		usage_error("bad %s '%s': expected an IPv4 address such as 127.0.0.1",
			    what, arg);
}

void check_rendezvous(const char *name, const char *group, const char *iface)
{
	struct in_addr g;

	if (!valid_service_name(name))
		usage_error("bad name '%s': 1 to %d letters, digits, '.', '_' or '-'",
			    name, MAX_NAME);
	check_ipv4(group, "group");
	inet_pton(AF_INET, group, &g);
	if (!IN_MULTICAST(ntohl(g.s_addr)))
		usage_error("bad group '%s': a multicast group is 224.0.0.0 to 239.255.255.255",
			    group);
	check_ipv4(iface, "interface address");
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
