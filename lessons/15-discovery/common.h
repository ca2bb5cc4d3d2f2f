/* common.h — lesson 15: what the server and the client agree on (the code
 * is in common.c, which the build links into both).
 *
 * The rendezvous is the one thing both must know beforehand: a multicast
 * group and a UDP port (or, in broadcast mode, just the port). Everything
 * else, the service's own TCP port above all, travels in the
 * announcement, and the service's address is where the announcement came
 * from.
 */
#ifndef LESSON15_COMMON_H
#define LESSON15_COMMON_H

/* 239.255.0.0/16 is the IPv4 "local scope" (RFC 2365): administratively
 * scoped groups that routers at a site's edge do not forward. */
#define DEFAULT_GROUP "239.255.15.1"
/* The announcement port: below Linux's ephemeral range (32768-60999), so
 * no client socket is handed it by chance. */
#define DEFAULT_ANNOUNCE_PORT "15015"
/* The interface announcements go out of and are listened for on: the
 * loopback, so they never leave this machine. */
#define DEFAULT_IFACE "127.0.0.1"
#define DEFAULT_NAME "echo"

/* An announcement is one line of text in one datagram:
 *   socklab-discovery v1 name=NAME tcp=PORT [addr=A.B.C.D]
 * Text, so that tcpdump -A and a human can read it; a version, so that a
 * later format can be told apart; key=value, so that a reader can skip
 * keys it does not know. addr= is there when the service listens on one
 * address only: the datagram's source address (the interface it left by)
 * may be another one. Without it, the source address is the service's. */
#define ANNOUNCE_PREFIX "socklab-discovery v1"
#define MAX_NAME 32
#define MAX_ANNOUNCEMENT 512

/* Service names are short and have no spaces (the fields are
 * space-separated): 1 to MAX_NAME letters, digits, '.', '_' and '-'. */
int valid_service_name(const char *s);

/* ---- Plumbing: the command line, the clock ------------------------------ */

/* -N, -g, -P and -i, the options both programs take: the service's name
 * and the rendezvous, as entries of a lesson_options() table (like
 * lib/lesson's OPT_BIND). Each argument points to a const char *. */
#define OPT_RENDEZVOUS(name, group, port, iface) \
	{ 'N', "name", OPT_STRING, (name), "NAME", \
	  "the service's name (default " DEFAULT_NAME ")", .what = "name" }, \
	{ 'g', "group", OPT_STRING, (group), "GROUP", \
	  "the multicast group (default " DEFAULT_GROUP ")", .what = "group" }, \
	{ 'P', "announce-port", OPT_PORT, (port), "PORT", \
	  "the announcements' UDP port (default " DEFAULT_ANNOUNCE_PORT ")", \
	  .what = "announce port", .min = 1 }, \
	{ 'i', "iface", OPT_STRING, (iface), "ADDR", \
	  "address of the interface they use\n(default " DEFAULT_IFACE ", the loopback)", \
	  .what = "interface address" }

/* For the command lines: exit 2 ("bad WHAT 'ARG': ...") unless arg is a
 * numeric IPv4 address or NULL. No names: a name could need DNS. */
void check_ipv4(const char *arg, const char *what);
/* Exit 2 unless name is a service name, group a multicast group and
 * iface an IPv4 address: what both programs are given. */
void check_rendezvous(const char *name, const char *group, const char *iface);

/* Milliseconds on the monotonic clock: for deadlines, not for dates. */
long long now_ms(void);

#endif
