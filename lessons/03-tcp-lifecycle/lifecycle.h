/* lifecycle.h — three small helpers shared by lesson 03's programs.
 *
 * tcp_state(fd) asks the kernel, through getsockopt(TCP_INFO), which TCP
 * state a connected socket is in right now, so each program can print the
 * state next to the step that caused it. Notice one thing when you run the
 * lesson: once a socket reaches TIME_WAIT, its fd reads CLOSE. The kernel
 * moves the connection into a separate, smaller TIME_WAIT object that no fd
 * points to; only `ss -tan` (a sock_diag dump) still shows it.
 *
 * pause_before() and wait_for_enter() let a student stop a program between
 * two steps and look at `ss -tan` in another terminal.
 *
 * Everything here is static inline: the Makefile builds each .c file of a
 * lesson into its own program, so shared code lives in a header.
 */
#ifndef LESSON03_LIFECYCLE_H
#define LESSON03_LIFECYCLE_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>

/* The names RFC 793 gives the states (ss spells them ESTAB, FIN-WAIT-2, ...),
 * indexed by the kernel's numbers from <netinet/tcp.h>. */
static const char *const lifecycle_state_names[] = {
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

/* The TCP state of fd as the kernel sees it now, e.g. "CLOSE_WAIT". */
static inline const char *tcp_state(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	size_t n = sizeof(lifecycle_state_names) / sizeof(lifecycle_state_names[0]);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
		return "unknown";
	if (info.tcpi_state >= n || lifecycle_state_names[info.tcpi_state] == NULL)
		return "unknown";
	return lifecycle_state_names[info.tcpi_state];
}

/* Read and throw away one line of stdin. End of file also returns, so a
 * program whose stdin is closed (a test, or `socklab run`) never blocks. */
static inline void wait_for_enter(void)
{
	int c;

	do
		c = getchar();
	while (c != EOF && c != '\n');
}

/* With --step, stop before the next call until the user presses Enter. */
static inline void pause_before(int step, const char *call)
{
	if (!step)
		return;
	printf("   ... press Enter to call %s\n", call);
	wait_for_enter();
}

/* Print bytes received, with newlines shown as \n so one recv() is one line. */
static inline void print_bytes(const char *buf, size_t len)
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

#endif
