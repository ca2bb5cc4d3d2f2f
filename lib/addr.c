/* addr.c — resolve, format and parse socket addresses. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

static int is_decimal(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* How an error message names the host: as given, or what NULL stands for. */
static const char *host_text(const char *host, int passive)
{
	if (host != NULL)
		return host;
	return passive ? "*" : "localhost";
}

struct addrinfo *sl_addr_resolve(const char *host, const char *service,
                                 int socktype, int passive,
                                 char err[SL_ERR_LEN])
{
	struct addrinfo hints, *list = NULL;
	uint16_t port;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	if (service != NULL && is_decimal(service)) {
		/* getaddrinfo() takes "70000" and quietly wraps it to 4464. */
		if (sl_port_parse(service, &port) < 0) {
			if (err != NULL)
				snprintf(err, SL_ERR_LEN, "resolve %s port %s: port out of range (0-65535)",
					 host_text(host, passive), service);
			errno = EINVAL;
			return NULL;
		}
		hints.ai_flags |= AI_NUMERICSERV;
	}

	rc = getaddrinfo(host, service, &hints, &list);
	if (rc != 0) {
		int saved = errno;

		if (err != NULL)
			snprintf(err, SL_ERR_LEN, "resolve %s port %s: %s",
				 host_text(host, passive),
				 service != NULL ? service : "-",
				 rc == EAI_SYSTEM ? strerror(saved) : gai_strerror(rc));
		errno = rc == EAI_SYSTEM ? saved : EINVAL;
		return NULL;
	}
	return list;
}

/* The bytes of sun_path that len covers. A caller may pass the size of a
 * larger buffer (a sockaddr_storage): never read past sun_path. */
static size_t unix_path_bytes(const struct sockaddr_un *sun, socklen_t len)
{
	size_t n = len - offsetof(struct sockaddr_un, sun_path);

	return n < sizeof(sun->sun_path) ? n : sizeof(sun->sun_path);
}

static char *format_unix(const struct sockaddr_un *sun, socklen_t len,
                         char *buf, size_t size)
{
	size_t plen;
	int n;

	if (len <= offsetof(struct sockaddr_un, sun_path))
		n = snprintf(buf, size, "(unnamed)");
	else if (sun->sun_path[0] == '\0') {
		/* Abstract: the name is every byte after the NUL, not a C string. */
		plen = unix_path_bytes(sun, len) - 1;
		n = snprintf(buf, size, "@%.*s", (int)plen, sun->sun_path + 1);
	} else {
		plen = strnlen(sun->sun_path, unix_path_bytes(sun, len));
		n = snprintf(buf, size, "%.*s", (int)plen, sun->sun_path);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return NULL;
	}
	return buf;
}

char *sl_addr_format(const struct sockaddr *sa, socklen_t len,
                     char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (sa == NULL || buf == NULL || size == 0 || len < (socklen_t)sizeof(sa_family_t)) {
		errno = EINVAL;
		return NULL;
	}
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (len < (socklen_t)sizeof(*sin)) {
			errno = EINVAL;
			return NULL;
		}
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		n = snprintf(buf, size, "%s:%u", ip, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (len < (socklen_t)sizeof(*sin6)) {
			errno = EINVAL;
			return NULL;
		}
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (sin6->sin6_scope_id != 0)
			n = snprintf(buf, size, "[%s%%%u]:%u", ip,
				     (unsigned)sin6->sin6_scope_id, ntohs(sin6->sin6_port));
		else
			n = snprintf(buf, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX:
		return format_unix((const struct sockaddr_un *)sa, len, buf, size);
	default:
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return NULL;
	}
	return buf;
}

int sl_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	errno = EAFNOSUPPORT;
	return -1;
}

int sl_num_parse(const char *s, long min, long max, long *out)
{
	const char *digits = s;
	char *end;
	long v;

	if (s == NULL || out == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (*digits == '-' && min < 0)
		digits++;
	/* strtol alone would accept " 12", "+12" and "12abc". */
	if (!is_decimal(digits)) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno == ERANGE || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int sl_port_parse(const char *s, uint16_t *port)
{
	long v;

	if (port == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (sl_num_parse(s, 0, 65535, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* ---- Unix-domain addresses ---------------------------------------------- */

int sl_unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n, room;

	if (path == NULL || sun == NULL || len == NULL || path[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	n = strlen(path);
	/* A file path needs a byte for its terminating NUL. An abstract
	 * name has none: its '@' becomes the leading NUL byte, and the
	 * length passed to bind() says where the name ends. */
	room = path[0] == '@' ? n : n + 1;
	if (room > sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	if (path[0] == '@')
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + room);
	return 0;
}
