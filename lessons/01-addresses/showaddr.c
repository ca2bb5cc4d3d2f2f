/* showaddr.c — lesson 01: what getaddrinfo() gives back for a name.
 *
 * What it shows: every result getaddrinfo() returns for each NAME — its
 * family (AF_INET or AF_INET6), socket type, protocol and address — the
 * canonical name, what binding each address would mean (loopback, every
 * interface, one interface), and how a port is stored: in network byte
 * order, big-endian, whatever the machine's own order is.
 *
 * Why: every program in this course starts with getaddrinfo(). It turns a
 * name ("localhost", "::1", "www.example.com") and a service ("http",
 * "8080") into ready-made socket addresses, IPv4 and IPv6 alike, so a
 * program never has to fill a struct sockaddr_in by hand.
 *
 * Notice when it runs: one name can give several results — one per
 * address, and, unless you pick a type with -t or -u, one per socket type
 * for each address. A client should try them in order until one connects;
 * a server should bind an address it chose on purpose.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "lesson/lesson.h"

struct options {
	int family;          /* AF_UNSPEC, AF_INET or AF_INET6 */
	int socktype;        /* 0 (any), SOCK_STREAM or SOCK_DGRAM */
	const char *service; /* NULL: no service, every port is 0 */
	int passive;         /* set AI_PASSIVE */
	char **names;        /* NULL: one NULL name */
	int nnames;
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv, struct options *opt);
static int show_name(const char *name, const struct options *opt, int show_port);
static void print_result(const struct addrinfo *ai);
static const char *family_name(int family);
static const char *socktype_name(int socktype);
static const char *protocol_name(int protocol);
static const char *scope_of(const struct sockaddr *sa);
static const char *ipv4_scope(uint32_t a);
static const char *ipv6_scope(const struct in6_addr *a);
static void print_port(const struct addrinfo *ai, const char *service);
static void print_notes(const char *name, const struct addrinfo *res, int passive);
static int count_distinct(const struct addrinfo *res, int with_type);
static int same_address(const struct addrinfo *a, const struct addrinfo *b);

int main(int argc, char **argv)
{
	struct options opt;
	int status = EXIT_OK;
	int shown = 0; /* names shown so far; the port goes with the first */

	parse_options(argc, argv, &opt);
	if (opt.names == NULL)
		return show_name(NULL, &opt, 1) < 0 ? EXIT_RUNTIME : EXIT_OK;
	for (int i = 0; i < opt.nnames; i++) {
		if (shown > 0)
			putchar('\n');
		if (show_name(opt.names[i], &opt, shown == 0) < 0)
			status = EXIT_RUNTIME;
		else
			shown++;
	}
	return status;
}

/* Resolve one name and print everything about it (the port too, when
 * show_port is set). NULL means no name. Returns 0, or -1 when
 * getaddrinfo failed (the message is printed). */
static int show_name(const char *name, const struct options *opt, int show_port)
{
	struct addrinfo hints, *res;
	int rc;

	/* EXERCISE 1: ask getaddrinfo() for the name, with hints for the options */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = opt->family;
	hints.ai_socktype = opt->socktype;
	/* AI_CANONNAME asks for the host's official name; it needs a name. */
	hints.ai_flags = (name != NULL ? AI_CANONNAME : 0) |
			 (opt->passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(name, opt->service, &hints, &res);
	/* END EXERCISE 1 */
	if (rc != 0) {
		/* getaddrinfo reports through its return value, not errno,
		 * except for EAI_SYSTEM. gai_strerror turns it into text. */
		warn("resolve %s%s%s: %s", name != NULL ? name : "(no name)",
		     opt->service != NULL ? " port " : "",
		     opt->service != NULL ? opt->service : "",
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}

	if (name != NULL)
		printf("%s (canonical name: %s)\n", name,
		       res->ai_canonname != NULL ? res->ai_canonname : "none");
	else
		printf("(no name)%s\n", opt->passive ? " with AI_PASSIVE" : "");
	printf("  %-9s %-12s %-12s %-24s %s\n", "family", "socktype", "protocol",
	       "address", "bind() here means");
	/* EXERCISE 2: print every result in the list, not only the first */
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		print_result(ai);
	/* END EXERCISE 2 */
	if (show_port && opt->service != NULL)
		print_port(res, opt->service);
	print_notes(name, res, opt->passive);
	freeaddrinfo(res);
	return 0;
}

/* One row: family, socket type, protocol, address, what binding it means. */
static void print_result(const struct addrinfo *ai)
{
	char text[SL_ADDRSTRLEN];

	if (sl_addr_format(ai->ai_addr, ai->ai_addrlen, text, sizeof(text)) == NULL)
		snprintf(text, sizeof(text), "(cannot format: %s)", strerror(errno));
	printf("  %-9s %-12s %-12s %-24s %s\n", family_name(ai->ai_family),
	       socktype_name(ai->ai_socktype), protocol_name(ai->ai_protocol),
	       text, scope_of(ai->ai_addr));
}

/* The names of the constants, as <sys/socket.h> and <netinet/in.h> spell
 * them: AF_INET is 2, SOCK_STREAM 1, IPPROTO_TCP 6. */
static const char *family_name(int family)
{
	switch (family) {
	case AF_INET:
		return "AF_INET";
	case AF_INET6:
		return "AF_INET6";
	default:
		return "other";
	}
}

static const char *socktype_name(int socktype)
{
	switch (socktype) {
	case SOCK_STREAM:
		return "SOCK_STREAM";
	case SOCK_DGRAM:
		return "SOCK_DGRAM";
	case SOCK_RAW:
		return "SOCK_RAW";
	case SOCK_SEQPACKET:
		return "SOCK_SEQPACKET";
	default:
		return "other";
	}
}

static const char *protocol_name(int protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case 0:
		return "0 (default)";
	default:
		return "other";
	}
}

/* What bind() to this address would mean: loopback, wildcard, one
 * interface... (a text for the last column). */
static const char *scope_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ipv4_scope(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return ipv6_scope(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return "";
}

/* What bind() to this IPv4 address (host byte order) would mean. */
static const char *ipv4_scope(uint32_t a)
{
	if (a == INADDR_ANY)
		return "wildcard: every interface";
	if ((a >> 24) == 127)
		return "loopback: this host only";
	if ((a >> 16) == 0xa9fe) /* 169.254.0.0/16 */
		return "link-local: one interface";
	if ((a >> 28) == 0xe) /* 224.0.0.0/4 */
		return "multicast: a group, not a host";
	/* 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) */
	if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8)
		return "private: one interface";
	return "public: one interface";
}

/* The same for an IPv6 address. */
static const char *ipv6_scope(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;

	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return "wildcard: every interface";
	if (IN6_IS_ADDR_LOOPBACK(a))
		return "loopback: this host only";
	if (IN6_IS_ADDR_V4MAPPED(a))
		return "IPv4-mapped: an IPv4 host";
	if (IN6_IS_ADDR_LINKLOCAL(a))
		return "link-local: one interface";
	if (IN6_IS_ADDR_MULTICAST(a))
		return "multicast: a group, not a host";
	if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 */
		return "unique-local: one interface";
	return "global: one interface";
}

/* Show the port the way the socket address stores it. sin_port and
 * sin6_port are in network byte order: most significant byte first. */
static void print_port(const struct addrinfo *ai, const char *service)
{
	const unsigned char *raw;
	uint16_t stored;
	int port = sl_addr_port(ai->ai_addr);

	if (port < 0)
		return;
	if (ai->ai_family == AF_INET)
		raw = (const unsigned char *)&((const struct sockaddr_in *)ai->ai_addr)->sin_port;
	else
		raw = (const unsigned char *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_port;
	memcpy(&stored, raw, sizeof(stored));

	if (strspn(service, "0123456789") == strlen(service))
		printf("  service %s is a port number: %d\n", service, port);
	else
		printf("  service \"%s\" = port %d (a name, looked up in /etc/services)\n",
		       service, port);
	printf("  port %d = 0x%04x in host byte order; bytes %02x %02x on the wire "
	       "(network byte order)\n", port, port, raw[0], raw[1]);
	if (stored != (uint16_t)port)
		printf("  this host is little-endian: reading sin_port without ntohs() "
		       "would give %u\n", (unsigned)stored);
	if (port > 0 && port < 1024)
		printf("  ports below 1024 are privileged: a server needs root (or "
		       "CAP_NET_BIND_SERVICE) to bind one\n");
}

/* Explain what a list of several results means for clients and servers. */
static void print_notes(const char *name, const struct addrinfo *res, int passive)
{
	int naddr = count_distinct(res, 0);
	int nkinds = count_distinct(res, 1); /* address and socket type */
	int nresults = 0;

	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		nresults++;
	if (nresults > naddr && nresults == nkinds)
		printf("  note: %d results for %d address%s: one per socket type "
		       "(-t or -u picks one)\n", nresults, naddr, naddr == 1 ? "" : "es");
	if (nresults > nkinds)
		printf("  note: %d of the %d results repeat%s an earlier one (same address, same "
		       "socket type):\n        the resolver does not drop repeats (asked for "
		       "IPv4, glibc reads a ::1 line\n        of /etc/hosts as 127.0.0.1)\n",
		       nresults - nkinds, nresults, nresults - nkinds == 1 ? "s" : "");
	if (naddr > 1 && name != NULL)
		printf("  note: %s has %d addresses: a client tries each in turn until one "
		       "connects;\n        a server told to bind \"%s\" would get only "
		       "the first - bind a numeric address\n", name, naddr, name);
	if (name == NULL && passive)
		printf("  note: no name + AI_PASSIVE = the wildcard: a server bound there "
		       "accepts on every interface\n");
	if (name == NULL && !passive)
		printf("  note: no name without AI_PASSIVE = loopback: a client reaches "
		       "this host only\n");
}

/* How many different addresses the list holds (each may come once per
 * socket type), or with with_type how many different address and socket
 * type pairs: count each result not seen earlier in the list. */
static int count_distinct(const struct addrinfo *res, int with_type)
{
	int n = 0;

	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		const struct addrinfo *earlier = res;

		while (earlier != ai && !(same_address(earlier, ai) &&
					  (!with_type || earlier->ai_socktype == ai->ai_socktype)))
			earlier = earlier->ai_next;
		if (earlier == ai)
			n++;
	}
	return n;
}

static int same_address(const struct addrinfo *a, const struct addrinfo *b)
{
	return a->ai_addrlen == b->ai_addrlen &&
	       memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) == 0;
}

/* ---- Plumbing: the command line ------------------------------------------ */

/* The options, as a table: lib/lesson parses them and prints the -h text
 * from the same table. -4/-6 and -t/-u are pairs of which one may be
 * given; the checks after the parse say so. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	int ipv4 = 0, ipv6 = 0, tcp = 0, udp = 0, first;
	const struct lesson_opt options[] = {
		{ '4', "ipv4", OPT_FLAG, &ipv4, .help = "IPv4 results only (AF_INET)" },
		{ '6', "ipv6", OPT_FLAG, &ipv6, .help = "IPv6 results only (AF_INET6)" },
		{ 't', "tcp", OPT_FLAG, &tcp, .help = "stream sockets only (SOCK_STREAM)" },
		{ 'u', "udp", OPT_FLAG, &udp, .help = "datagram sockets only (SOCK_DGRAM)" },
		{ 's', "service", OPT_STRING, &opt->service, "SERV",
		  .help = "a port number or a service name such as http;\n"
			  "shows the port in host and network byte order" },
		{ 0, "passive", OPT_FLAG, &opt->passive,
		  .help = "addresses for a server's bind() (AI_PASSIVE)" },
		{ 0 }
	};

	memset(opt, 0, sizeof(*opt));
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "[NAME...]",
		.about = "Lists every result getaddrinfo() returns for each NAME (a host name or\n"
			 "a numeric IPv4/IPv6 address): family, socket type, protocol, address,\n"
			 "canonical name, and what binding that address would mean.",
		.footer = "\nWith no NAME, shows what getaddrinfo() gives for a NULL name (this needs\n"
			  "-s): the loopback address, or with --passive the wildcard address that\n"
			  "means every interface.\n"
			  "\n"
			  "Exit status: 0 when every NAME resolved, 1 when one did not, 2 for a bad\n"
			  "command line.",
		.opts = options,
		.max_args = -1,
	});
	if (ipv4 && ipv6)
		usage_error("-4 and -6 exclude each other: choose one");
	if (tcp && udp)
		usage_error("-t and -u exclude each other: choose one");
	opt->family = ipv4 ? AF_INET : ipv6 ? AF_INET6 : AF_UNSPEC;
	opt->socktype = tcp ? SOCK_STREAM : udp ? SOCK_DGRAM : 0;
	if (opt->service != NULL && *opt->service == '\0')
		usage_error("bad service '': give a port number or a name such as http");
	opt->names = first < argc ? argv + first : NULL;
	opt->nnames = argc - first;
	/* getaddrinfo() needs a name, a service, or both. */
	if (opt->names == NULL && opt->service == NULL)
		usage_error("give a NAME, or -s SERVICE to see the %s address",
			    opt->passive ? "wildcard" : "loopback");
}
