/* addr.h — resolve, format and parse socket addresses, and fill Unix ones.
 *
 * Dual-stack policy (every lesson follows it):
 *  - A server binds exactly one address: the first result getaddrinfo()
 *    gives for the host it was told (-b), 127.0.0.1 when told nothing.
 *  - When that address is the IPv6 wildcard "::", IPV6_V6ONLY is cleared so
 *    the one socket also accepts IPv4 clients (they appear as
 *    ::ffff:a.b.c.d), whatever the net.ipv6.bindv6only sysctl says.
 *  - A client tries every getaddrinfo result in the order returned (RFC 6724
 *    order: usually IPv6 first when it is configured) until one connects.
 */
#ifndef SOCKLAB_ADDR_H
#define SOCKLAB_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Size of the caller-owned error buffer for failures errno cannot describe. */
#define SL_ERR_LEN 256

/* Enough for "[ffff:...:255.255.255.255%ifname]:65535" and for a Unix path
 * (108 bytes) with an '@' in front of an abstract name. */
#define SL_ADDRSTRLEN 128

/* Resolve host and service (a port number or a name such as "http") into
 * a getaddrinfo list. socktype is SOCK_STREAM or SOCK_DGRAM. With passive
 * set the result is for bind() (host NULL means the wildcard); otherwise
 * for connect() (host NULL means loopback). Numeric ports never touch
 * /etc/services. Returns the list (free it with freeaddrinfo) or NULL with
 * errno set (EINVAL for a resolver failure) and err filled, e.g.
 * "resolve nosuch.invalid port 80: Name or service not known". A numeric
 * service outside 0..65535 fails with EINVAL (getaddrinfo would wrap it). */
struct addrinfo *sl_addr_resolve(const char *host, const char *service,
                                 int socktype, int passive,
                                 char err[SL_ERR_LEN]);

/* Format any socket address into buf: "127.0.0.1:7000", "[::1]:7000",
 * "/tmp/echo.sock", "@name" (Linux abstract namespace), "(unnamed)" for an
 * unbound Unix socket. len is the length the kernel returned. Returns buf,
 * or NULL with errno EAFNOSUPPORT (unknown family), EINVAL (len too short)
 * or ENOSPC (buf too small). Thread-safe: no static buffer. */
char *sl_addr_format(const struct sockaddr *sa, socklen_t len,
                     char *buf, size_t size);

/* The port of an AF_INET/AF_INET6 address, in host byte order; -1 with
 * errno EAFNOSUPPORT for other families. */
int sl_addr_port(const struct sockaddr *sa);

/* Parse a decimal port "0".."65535" (0 means "any free port" to bind()).
 * Rejects signs, spaces, trailing text and empty strings. Returns 0 and
 * stores the port, or -1 with errno EINVAL (not a number) or ERANGE. */
int sl_port_parse(const char *s, uint16_t *port);

/* Parse a decimal integer in [min, max]. Same rules and errors as
 * sl_port_parse (a leading '-' is allowed when min < 0). */
int sl_num_parse(const char *s, long min, long max, long *out);

/* Fill a sockaddr_un from a path, and set *len to the length bind() and
 * connect() need. A path beginning with '@' names the Linux abstract
 * namespace: no file; the '@' becomes the leading NUL byte, the name has no
 * NUL of its own, and *len says where it ends (so binding and connecting
 * must both use this length). The shim, the visualizer, the library and
 * the tests all fill their Unix addresses here. Returns 0, or -1 with
 * ENAMETOOLONG (a path needs a byte for its NUL, an abstract name does
 * not) or EINVAL (empty). */
int sl_unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len);

#endif
