/* common.c — what lesson 03's programs share (common.h says what each
 * function is for). The build compiles it once and links it into server,
 * client and rebind. */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "lesson/lesson.h"
#include "common.h"

/* The names RFC 793 gives the states (ss spells them ESTAB, FIN-WAIT-2, ...),
 * indexed by the kernel's numbers from <netinet/tcp.h>. */
static const char *const state_names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED",
	[TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV",
	[TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",
	[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

const char *tcp_state(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	size_t n = sizeof(state_names) / sizeof(state_names[0]);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
		return "unknown";
	if (info.tcpi_state >= n || state_names[info.tcpi_state] == NULL)
		return "unknown";
	return state_names[info.tcpi_state];
}

/* ---- Plumbing: stopping between steps, printing bytes, one address ------ */

void wait_for_enter(void)
{
	int c;

	do
		c = getchar();
	while (c != EOF && c != '\n');
}

void pause_before(int step, const char *call)
{
	if (!step)
		return;
	printf("   ... press Enter to call %s\n", call);
	wait_for_enter();
}

void print_bytes(const char *buf, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n')
			fputs("\\n", stdout);
		else if (buf[i] >= ' ' && buf[i] <= '~')
			putchar(buf[i]);
		else
			putchar('.');
	}
	putchar('"');
}

void resolve_bind_address(const char *host, const char *port,
			  struct sockaddr_storage *addr, socklen_t *len)
{
	char err[SL_ERR_LEN];
	struct addrinfo *list = sl_addr_resolve(host, port, SOCK_STREAM, 1, err);

	if (list == NULL)
		die("%s", err);
	memcpy(addr, list->ai_addr, list->ai_addrlen);
	*len = list->ai_addrlen;
	freeaddrinfo(list);
}
