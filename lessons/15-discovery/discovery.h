/* discovery.h — lesson 15: what the server and the client agree on.
 *
 * The rendezvous is the one thing both must know beforehand: a multicast
 * group and a UDP port (or, in broadcast mode, just the port). Everything
 * else, the service's own TCP port above all, travels in the
 * announcement, and the service's address is where the announcement came
 * from.
 */
#ifndef LESSON15_DISCOVERY_H
#define LESSON15_DISCOVERY_H

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
 * space-separated): letters, digits, '.', '_' and '-'. */
static inline int valid_service_name(const char *s)
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

#endif
