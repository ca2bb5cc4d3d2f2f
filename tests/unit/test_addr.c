/* test_addr.c — lib/addr.c: resolving, formatting and parsing addresses,
 * and filling Unix-domain ones.
 *
 * Resolving uses numeric hosts, "localhost" (from /etc/hosts) and names
 * that fail without a DNS query, so no traffic leaves the machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"

static struct sockaddr_in make_sin(const char *ip, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6 make_sin6(const char *ip, uint16_t port,
                                     uint32_t scope)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	sin6.sin6_scope_id = scope;
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

static int is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* ---- sl_addr_resolve ------------------------------------------------------ */

static void test_resolve_numeric_ipv4(void **state)
{
	char err[SL_ERR_LEN] = "";
	struct addrinfo *ai;
	const struct sockaddr_in *sin;
	(void)state;

	ai = sl_addr_resolve("127.0.0.1", "7000", SOCK_STREAM, 0, err);
	assert_non_null(ai);
	assert_null(ai->ai_next);
	assert_int_equal(ai->ai_family, AF_INET);
	assert_int_equal(ai->ai_socktype, SOCK_STREAM);
	assert_int_equal(ai->ai_addrlen, sizeof(struct sockaddr_in));
	sin = (const struct sockaddr_in *)ai->ai_addr;
	assert_int_equal(ntohs(sin->sin_port), 7000);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_string_equal(err, "");
	freeaddrinfo(ai);
}

static void test_resolve_numeric_ipv6(void **state)
{
	struct addrinfo *ai;
	const struct sockaddr_in6 *sin6;
	(void)state;

	ai = sl_addr_resolve("::1", "7000", SOCK_DGRAM, 0, NULL);
	assert_non_null(ai);
	assert_null(ai->ai_next);
	assert_int_equal(ai->ai_family, AF_INET6);
	assert_int_equal(ai->ai_socktype, SOCK_DGRAM);
	assert_int_equal(ai->ai_protocol, IPPROTO_UDP);
	sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
	assert_int_equal(ntohs(sin6->sin6_port), 7000);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	freeaddrinfo(ai);
}

static void test_resolve_localhost_is_loopback(void **state)
{
	struct addrinfo *list, *ai;
	(void)state;

	list = sl_addr_resolve("localhost", "7000", SOCK_STREAM, 0, NULL);
	assert_non_null(list);
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		assert_true(is_loopback(ai->ai_addr));
		assert_int_equal(sl_addr_port(ai->ai_addr), 7000);
		assert_int_equal(ai->ai_socktype, SOCK_STREAM);
	}
	freeaddrinfo(list);
}

/* bind() wants the wildcard for "no host"; connect() wants loopback. */
static void test_resolve_null_host_passive_is_wildcard(void **state)
{
	struct addrinfo *list, *ai;
	(void)state;

	list = sl_addr_resolve(NULL, "7000", SOCK_STREAM, 1, NULL);
	assert_non_null(list);
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		assert_true(is_wildcard(ai->ai_addr));
		assert_int_equal(sl_addr_port(ai->ai_addr), 7000);
	}
	freeaddrinfo(list);
}

static void test_resolve_null_host_active_is_loopback(void **state)
{
	struct addrinfo *list, *ai;
	(void)state;

	list = sl_addr_resolve(NULL, "7000", SOCK_STREAM, 0, NULL);
	assert_non_null(list);
	for (ai = list; ai != NULL; ai = ai->ai_next)
		assert_true(is_loopback(ai->ai_addr));
	freeaddrinfo(list);
}

/* A name under the reserved .invalid TLD never resolves. Its first label
 * is 64 bytes, one more than DNS allows, so the resolver cannot even build
 * a query and fails without sending one to the configured name server. */
#define BAD_LABEL "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BAD_HOST BAD_LABEL ".socklab.invalid"

static void test_resolve_unresolvable_name(void **state)
{
	char err[SL_ERR_LEN] = "";
	(void)state;

	assert_int_equal(strlen(BAD_LABEL), 64);
	errno = 0;
	assert_null(sl_addr_resolve(BAD_HOST, "7000", SOCK_STREAM, 0, err));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(strncmp(err, "resolve " BAD_HOST, strlen("resolve " BAD_HOST)), 0);
	assert_non_null(strstr(err, "7000"));
	/* A reason follows the address: more than the prefix was written. */
	assert_non_null(strstr(err, ": "));
	assert_true(strlen(strstr(err, ": ")) > 2);
	assert_null(strchr(err, '\n'));

	/* err is optional; errno alone still tells. */
	errno = 0;
	assert_null(sl_addr_resolve(BAD_HOST, "7000", SOCK_STREAM, 0, NULL));
	assert_int_equal(errno, EINVAL);
}

static void test_resolve_service_name(void **state)
{
	struct addrinfo *named, *numeric;
	(void)state;

	if (getservbyname("http", "tcp") == NULL)
		skip(); /* no /etc/services on this machine */
	named = sl_addr_resolve("127.0.0.1", "http", SOCK_STREAM, 0, NULL);
	assert_non_null(named);
	assert_int_equal(sl_addr_port(named->ai_addr), 80);
	numeric = sl_addr_resolve("127.0.0.1", "80", SOCK_STREAM, 0, NULL);
	assert_non_null(numeric);
	assert_int_equal(sl_addr_port(numeric->ai_addr), 80);
	freeaddrinfo(named);
	freeaddrinfo(numeric);
}

static void test_resolve_unknown_service(void **state)
{
	char err[SL_ERR_LEN] = "";
	(void)state;

	errno = 0;
	assert_null(sl_addr_resolve("127.0.0.1", "no-such-service", SOCK_STREAM, 0, err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_non_null(strstr(err, "no-such-service"));
}

/* getaddrinfo() itself wraps "65536" to port 0 and "70000" to 4464. */
static void test_resolve_numeric_port_range(void **state)
{
	char err[SL_ERR_LEN] = "";
	struct addrinfo *ai;
	(void)state;

	ai = sl_addr_resolve("127.0.0.1", "65535", SOCK_DGRAM, 0, NULL);
	assert_non_null(ai);
	assert_int_equal(sl_addr_port(ai->ai_addr), 65535);
	freeaddrinfo(ai);
	ai = sl_addr_resolve("127.0.0.1", "0", SOCK_DGRAM, 1, NULL);
	assert_non_null(ai);
	assert_int_equal(sl_addr_port(ai->ai_addr), 0);
	freeaddrinfo(ai);

	errno = 0;
	assert_null(sl_addr_resolve("127.0.0.1", "65536", SOCK_DGRAM, 0, err));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(strncmp(err, "resolve 127.0.0.1 port 65536: ", 30), 0);
	errno = 0;
	assert_null(sl_addr_resolve(NULL, "70000", SOCK_STREAM, 1, NULL));
	assert_int_equal(errno, EINVAL);
}

/* ---- sl_addr_format ----------------------------------------------------------- */

static void test_format_ipv4(void **state)
{
	struct sockaddr_in sin = make_sin("192.0.2.7", 7000);
	char buf[SL_ADDRSTRLEN];
	(void)state;

	assert_ptr_equal(sl_addr_format((struct sockaddr *)&sin, sizeof(sin), buf, sizeof(buf)), buf);
	assert_string_equal(buf, "192.0.2.7:7000");
}

static void test_format_ipv6(void **state)
{
	struct sockaddr_in6 sin6 = make_sin6("2001:db8::5", 65535, 0);
	char buf[SL_ADDRSTRLEN];
	(void)state;

	assert_non_null(sl_addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf)));
	assert_string_equal(buf, "[2001:db8::5]:65535");
}

static void test_format_ipv6_scope(void **state)
{
	struct sockaddr_in6 sin6 = make_sin6("fe80::1", 7000, 3);
	char buf[SL_ADDRSTRLEN];
	(void)state;

	assert_non_null(sl_addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf)));
	assert_string_equal(buf, "[fe80::1%3]:7000");
}

static socklen_t put_path(struct sockaddr_un *sun, const void *bytes, size_t n)
{
	memset(sun, 'Z', sizeof(*sun)); /* garbage after the name must not show */
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, bytes, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static void test_format_unix_path(void **state)
{
	struct sockaddr_un sun;
	char buf[SL_ADDRSTRLEN];
	socklen_t len;
	(void)state;

	/* With its NUL counted, as getsockname() returns it. */
	len = put_path(&sun, "/tmp/echo.sock", sizeof("/tmp/echo.sock"));
	assert_non_null(sl_addr_format((struct sockaddr *)&sun, len, buf, sizeof(buf)));
	assert_string_equal(buf, "/tmp/echo.sock");
	/* Without it: len alone ends the path. */
	len = put_path(&sun, "/tmp/echo.sock", strlen("/tmp/echo.sock"));
	assert_non_null(sl_addr_format((struct sockaddr *)&sun, len, buf, sizeof(buf)));
	assert_string_equal(buf, "/tmp/echo.sock");
}

/* A path filling all of sun_path has no NUL; a len larger than the
 * structure (a sockaddr_storage's size) must not read past sun_path. */
static void test_format_unix_full_path(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	char want[sizeof(sun->sun_path) + 1];
	char buf[SL_ADDRSTRLEN];
	(void)state;

	memset(&ss, 'Z', sizeof(ss));
	sun->sun_family = AF_UNIX;
	memset(sun->sun_path, 'a', sizeof(sun->sun_path));
	memset(want, 'a', sizeof(sun->sun_path));
	want[sizeof(sun->sun_path)] = '\0';
	assert_non_null(sl_addr_format((struct sockaddr *)sun, sizeof(*sun), buf, sizeof(buf)));
	assert_string_equal(buf, want);
	assert_non_null(sl_addr_format((struct sockaddr *)sun, sizeof(ss), buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void test_format_abstract(void **state)
{
	struct sockaddr_un sun;
	char buf[SL_ADDRSTRLEN];
	socklen_t len;
	(void)state;

	/* The name is "name": 4 bytes after the leading NUL, no terminator,
	 * followed by garbage that len excludes. */
	len = put_path(&sun, "\0name", 5);
	assert_non_null(sl_addr_format((struct sockaddr *)&sun, len, buf, sizeof(buf)));
	assert_string_equal(buf, "@name");
}

/* The kernel's own lengths: an abstract bind, and an unnamed socketpair. */
static void test_format_kernel_unix_addresses(void **state)
{
	struct sockaddr_un sun;
	struct sockaddr_storage ss;
	char name[64], want[80], buf[SL_ADDRSTRLEN];
	socklen_t len;
	int fd, sv[2];
	(void)state;

	snprintf(name, sizeof(name), "socklab-test-addr-%ld", (long)getpid());
	len = put_path(&sun, "", 1);
	memcpy(sun.sun_path + 1, name, strlen(name));
	len += (socklen_t)strlen(name);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_non_null(sl_addr_format((struct sockaddr *)&ss, len, buf, sizeof(buf)));
	snprintf(want, sizeof(want), "@%s", name);
	assert_string_equal(buf, want);
	close(fd);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(sv[0], (struct sockaddr *)&ss, &len), 0);
	assert_non_null(sl_addr_format((struct sockaddr *)&ss, len, buf, sizeof(buf)));
	assert_string_equal(buf, "(unnamed)");
	close(sv[0]);
	close(sv[1]);
}

static void test_format_unnamed(void **state)
{
	struct sockaddr_un sun;
	char buf[SL_ADDRSTRLEN];
	(void)state;

	put_path(&sun, "/x", 2);
	assert_non_null(sl_addr_format((struct sockaddr *)&sun, sizeof(sa_family_t), buf, sizeof(buf)));
	assert_string_equal(buf, "(unnamed)");
}

/* "127.0.0.1:7000" is 14 characters: 15 bytes fit, 14 do not. */
static void test_format_buffer_too_small(void **state)
{
	struct sockaddr_in sin = make_sin("127.0.0.1", 7000);
	struct sockaddr_in6 sin6 = make_sin6("::1", 7000, 0);
	struct sockaddr_un sun;
	socklen_t len;
	char buf[SL_ADDRSTRLEN];
	(void)state;

	assert_non_null(sl_addr_format((struct sockaddr *)&sin, sizeof(sin), buf, 15));
	assert_string_equal(buf, "127.0.0.1:7000");
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin, sizeof(sin), buf, 14));
	assert_int_equal(errno, ENOSPC);

	/* "[::1]:7000" is 10 characters. */
	assert_non_null(sl_addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, 11));
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin6, sizeof(sin6), buf, 10));
	assert_int_equal(errno, ENOSPC);

	len = put_path(&sun, "/tmp/s", sizeof("/tmp/s"));
	assert_non_null(sl_addr_format((struct sockaddr *)&sun, len, buf, 7));
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sun, len, buf, 6));
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sun, sizeof(sa_family_t), buf, 9));
	assert_int_equal(errno, ENOSPC);
}

static void test_format_short_len(void **state)
{
	struct sockaddr_in sin = make_sin("127.0.0.1", 7000);
	struct sockaddr_in6 sin6 = make_sin6("::1", 7000, 0);
	char buf[SL_ADDRSTRLEN];
	(void)state;

	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin, sizeof(sin) - 1, buf, sizeof(buf)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin6, sizeof(sin6) - 1, buf, sizeof(buf)));
	assert_int_equal(errno, EINVAL);
	/* An IPv4 length is too short for IPv6. */
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin6, sizeof(sin), buf, sizeof(buf)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin, 0, buf, sizeof(buf)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&sin, sizeof(sin), buf, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(sl_addr_format(NULL, sizeof(sin), buf, sizeof(buf)));
	assert_int_equal(errno, EINVAL);
}

static void test_format_unknown_family(void **state)
{
	struct sockaddr_storage ss;
	char buf[SL_ADDRSTRLEN];
	(void)state;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_APPLETALK;
	errno = 0;
	assert_null(sl_addr_format((struct sockaddr *)&ss, sizeof(ss), buf, sizeof(buf)));
	assert_int_equal(errno, EAFNOSUPPORT);
}

/* ---- sl_addr_port --------------------------------------------------------- */

static void test_addr_port(void **state)
{
	/* 0x1234 reads 0x3412 if the byte order is not converted. */
	struct sockaddr_in sin = make_sin("127.0.0.1", 0x1234);
	struct sockaddr_in6 sin6 = make_sin6("::1", 65535, 0);
	struct sockaddr_un sun;
	(void)state;

	assert_int_equal(sl_addr_port((struct sockaddr *)&sin), 0x1234);
	assert_int_equal(sl_addr_port((struct sockaddr *)&sin6), 65535);
	sin6.sin6_port = htons(1);
	assert_int_equal(sl_addr_port((struct sockaddr *)&sin6), 1);
	put_path(&sun, "/x", 3);
	errno = 0;
	assert_int_equal(sl_addr_port((struct sockaddr *)&sun), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
}

/* ---- sl_port_parse -------------------------------------------------------- */

static void test_port_parse_valid(void **state)
{
	uint16_t port = 4242;
	(void)state;

	assert_int_equal(sl_port_parse("0", &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(sl_port_parse("7000", &port), 0);
	assert_int_equal(port, 7000);
	assert_int_equal(sl_port_parse("65535", &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(sl_port_parse("00080", &port), 0);
	assert_int_equal(port, 80);
}

static void check_port_rejected(const char *s, int want_errno)
{
	uint16_t port = 4242;

	errno = 0;
	assert_int_equal(sl_port_parse(s, &port), -1);
	assert_int_equal(errno, want_errno);
	assert_int_equal(port, 4242); /* untouched on failure */
}

static void test_port_parse_invalid(void **state)
{
	(void)state;

	check_port_rejected("", EINVAL);
	check_port_rejected(" 1", EINVAL);
	check_port_rejected("1 ", EINVAL);
	check_port_rejected("+1", EINVAL);
	check_port_rejected("-1", EINVAL);
	check_port_rejected("-0", EINVAL);
	check_port_rejected("1x", EINVAL);
	check_port_rejected("x1", EINVAL);
	check_port_rejected("0x10", EINVAL);
	check_port_rejected(NULL, EINVAL);
	errno = 0;
	assert_int_equal(sl_port_parse("80", NULL), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_port_parse_range(void **state)
{
	(void)state;

	check_port_rejected("65536", ERANGE);
	check_port_rejected("100000", ERANGE);
	check_port_rejected("99999999999999999999999999999999", ERANGE);
}

/* ---- sl_num_parse --------------------------------------------------------- */

static void check_num(const char *s, long min, long max, long want)
{
	long v = 4242;

	assert_int_equal(sl_num_parse(s, min, max, &v), 0);
	assert_int_equal(v, want);
}

static void check_num_rejected(const char *s, long min, long max, int want_errno)
{
	long v = 4242;

	errno = 0;
	assert_int_equal(sl_num_parse(s, min, max, &v), -1);
	assert_int_equal(errno, want_errno);
	assert_int_equal(v, 4242);
}

static void test_num_parse_valid(void **state)
{
	char buf[32];
	(void)state;

	check_num("1", 1, 10, 1);
	check_num("10", 1, 10, 10);
	check_num("-5", -10, 10, -5);
	check_num("-10", -10, -1, -10);
	check_num("0", -1, 0, 0);
	snprintf(buf, sizeof(buf), "%ld", LONG_MAX);
	check_num(buf, LONG_MIN, LONG_MAX, LONG_MAX);
	snprintf(buf, sizeof(buf), "%ld", LONG_MIN);
	check_num(buf, LONG_MIN, LONG_MAX, LONG_MIN);
}

static void test_num_parse_invalid(void **state)
{
	(void)state;

	check_num_rejected("", 0, 10, EINVAL);
	check_num_rejected(" 1", 0, 10, EINVAL);
	check_num_rejected("+1", 0, 10, EINVAL);
	check_num_rejected("1x", 0, 10, EINVAL);
	check_num_rejected("1.5", 0, 10, EINVAL);
	/* A sign is only allowed when the range has negative numbers. */
	check_num_rejected("-1", 0, 10, EINVAL);
	check_num_rejected("-", -10, 10, EINVAL);
	check_num_rejected("--1", -10, 10, EINVAL);
	check_num_rejected("- 1", -10, 10, EINVAL);
	check_num_rejected("-+1", -10, 10, EINVAL);
	check_num_rejected(NULL, 0, 10, EINVAL);
	errno = 0;
	assert_int_equal(sl_num_parse("1", 0, 10, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_num_parse_range(void **state)
{
	(void)state;

	check_num_rejected("0", 1, 10, ERANGE);
	check_num_rejected("11", 1, 10, ERANGE);
	check_num_rejected("-11", -10, 10, ERANGE);
	check_num_rejected("-1", -10, -2, ERANGE);
	check_num_rejected("9223372036854775808", LONG_MIN, LONG_MAX, ERANGE);
	check_num_rejected("-9223372036854775809", LONG_MIN, LONG_MAX, ERANGE);
	check_num_rejected("123456789012345678901234567890", 0, LONG_MAX, ERANGE);
	check_num_rejected("-123456789012345678901234567890", LONG_MIN, 0, ERANGE);
}

/* sun_path holds 108 bytes: a file path of 107 and its NUL, or an abstract
 * name of 107 after the leading NUL. */
static void test_unix_addr(void **state)
{
	struct sockaddr_un sun;
	size_t room = sizeof(sun.sun_path);
	char path[sizeof(sun.sun_path) + 2];
	socklen_t len;
	(void)state;

	assert_int_equal(sl_unix_addr("/tmp/x.sock", &sun, &len), 0);
	assert_int_equal(sun.sun_family, AF_UNIX);
	assert_string_equal(sun.sun_path, "/tmp/x.sock");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + sizeof("/tmp/x.sock"));

	assert_int_equal(sl_unix_addr("@ab", &sun, &len), 0);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 3);
	assert_memory_equal(sun.sun_path, "\0ab", 3);

	/* 107 characters and the NUL fill sun_path exactly. */
	memset(path, 'p', room - 1);
	path[room - 1] = '\0';
	assert_int_equal(sl_unix_addr(path, &sun, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_un));
	assert_int_equal(sun.sun_path[room - 2], 'p');
	assert_int_equal(sun.sun_path[room - 1], '\0');

	/* 108 characters leave no room for the NUL. */
	memset(path, 'p', room);
	path[room] = '\0';
	errno = 0;
	assert_int_equal(sl_unix_addr(path, &sun, &len), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	/* '@' and 107 characters: the abstract name fills sun_path. */
	path[0] = '@';
	assert_int_equal(sl_unix_addr(path, &sun, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_un));
	assert_int_equal(sun.sun_path[0], '\0');
	assert_int_equal(sun.sun_path[room - 1], 'p');

	/* '@' and 108: one too many. */
	memset(path + 1, 'p', room);
	path[room + 1] = '\0';
	errno = 0;
	assert_int_equal(sl_unix_addr(path, &sun, &len), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	errno = 0;
	assert_int_equal(sl_unix_addr("", &sun, &len), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(sl_unix_addr(NULL, &sun, &len), -1);
	assert_int_equal(errno, EINVAL);
}

/* The abstract name sl_unix_addr makes is the one the kernel binds:
 * getsockname() gives it back, and sl_addr_format shows it as typed. */
static void test_unix_addr_bound(void **state)
{
	struct sockaddr_un sun, got;
	socklen_t len, glen = sizeof(got);
	char name[64], text[SL_ADDRSTRLEN];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_true(fd >= 0);
	snprintf(name, sizeof(name), "@socklab-test-fill-%d", (int)getpid());
	assert_int_equal(sl_unix_addr(name, &sun, &len), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&got, &glen), 0);
	assert_int_equal(glen, len);
	assert_non_null(sl_addr_format((struct sockaddr *)&got, glen, text, sizeof(text)));
	assert_string_equal(text, name);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_numeric_ipv4),
		cmocka_unit_test(test_resolve_numeric_ipv6),
		cmocka_unit_test(test_resolve_localhost_is_loopback),
		cmocka_unit_test(test_resolve_null_host_passive_is_wildcard),
		cmocka_unit_test(test_resolve_null_host_active_is_loopback),
		cmocka_unit_test(test_resolve_unresolvable_name),
		cmocka_unit_test(test_resolve_service_name),
		cmocka_unit_test(test_resolve_unknown_service),
		cmocka_unit_test(test_resolve_numeric_port_range),
		cmocka_unit_test(test_format_ipv4),
		cmocka_unit_test(test_format_ipv6),
		cmocka_unit_test(test_format_ipv6_scope),
		cmocka_unit_test(test_format_unix_path),
		cmocka_unit_test(test_format_unix_full_path),
		cmocka_unit_test(test_format_abstract),
		cmocka_unit_test(test_unix_addr),
		cmocka_unit_test(test_unix_addr_bound),
		cmocka_unit_test(test_format_kernel_unix_addresses),
		cmocka_unit_test(test_format_unnamed),
		cmocka_unit_test(test_format_buffer_too_small),
		cmocka_unit_test(test_format_short_len),
		cmocka_unit_test(test_format_unknown_family),
		cmocka_unit_test(test_addr_port),
		cmocka_unit_test(test_port_parse_valid),
		cmocka_unit_test(test_port_parse_invalid),
		cmocka_unit_test(test_port_parse_range),
		cmocka_unit_test(test_num_parse_valid),
		cmocka_unit_test(test_num_parse_invalid),
		cmocka_unit_test(test_num_parse_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
