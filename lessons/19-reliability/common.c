/* common.c — what lesson 19's programs share (common.h says what each
 * function is for). The build compiles it once and links it into sender
 * and receiver. */
#include <errno.h>
#include <linux/tcp.h>   /* Linux's struct tcp_info, newer than the C library's */
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "lesson/stop.h"
#include "common.h"

/* The kernel's own account of a connection. TCP_INFO is Linux's; the
 * BSDs have a smaller struct tcp_info under the same name. */
char *tcp_info_text(int fd, char *buf, size_t size)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char ssthresh[16], window[48] = "";

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
		snprintf(buf, size, "getsockopt TCP_INFO: %s", strerror(errno));
		return buf;
	}
	/* A huge ssthresh means "not set yet": still in slow start. */
	if (ti.tcpi_snd_ssthresh >= 0xffff)
		snprintf(ssthresh, sizeof(ssthresh), "-");
	else
		snprintf(ssthresh, sizeof(ssthresh), "%u", ti.tcpi_snd_ssthresh);
	/* The window the peer offers us, in bytes (Linux 5.4 on). */
	if (len >= offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(ti.tcpi_snd_wnd))
		snprintf(window, sizeof(window), ", the peer's window %u bytes", ti.tcpi_snd_wnd);
	snprintf(buf, size, "MSS %u, cwnd %u segments, ssthresh %s, smoothed RTT %.1f ms, "
		 "RTO %u ms, %u segment%s sent again%s", ti.tcpi_snd_mss, ti.tcpi_snd_cwnd,
		 ssthresh, ti.tcpi_rtt / 1000.0, ti.tcpi_rto / 1000, ti.tcpi_total_retrans,
		 ti.tcpi_total_retrans == 1 ? "" : "s", window);
	return buf;
}

void report_tcp_info(int fd, const char *who)
{
	char text[TCP_INFO_TEXT];

	printf("%s: TCP_INFO: %s\n", who, tcp_info_text(fd, text, sizeof(text)));
}

unsigned tcp_mss(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_snd_mss;
}

/* The pattern: byte number i is i % 251, so a byte lost, repeated or out
 * of place shows (common.h). */
unsigned char pattern_byte(uint64_t off)
{
	return (unsigned char)(off % 251);
}

void pattern_fill(unsigned char *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(off + i);
}

size_t pattern_misplaced(const unsigned char *buf, uint64_t off, size_t len)
{
	size_t bad = 0;

	for (size_t i = 0; i < len; i++)
		bad += buf[i] != pattern_byte(off + i);
	return bad;
}

/* ---- Plumbing: the clock, the addresses ---- */

static struct timespec t0;

void clock_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
}

double clock_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
}

void note(const char *fmt, ...)
{
	va_list ap;

	printf("[%8.1f ms] ", clock_ms());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* A stop signal ends the sleep early (EINTR): stop_requested says. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_requested)
		;
}

char *connection_text(int fd, char *buf, size_t size)
{
	struct sockaddr_storage self, peer;
	socklen_t selflen = sizeof(self), peerlen = sizeof(peer);
	char s[SL_ADDRSTRLEN], p[SL_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&self, &selflen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &peerlen) < 0 ||
	    sl_addr_format((struct sockaddr *)&self, selflen, s, sizeof(s)) == NULL ||
	    sl_addr_format((struct sockaddr *)&peer, peerlen, p, sizeof(p)) == NULL)
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%s -> %s", s, p);
	return buf;
}
