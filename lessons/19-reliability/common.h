/* common.h — what lesson 19's programs share (the code is in common.c,
 * which the build links into sender and receiver).
 *
 * The bytes: byte number i of a transfer is i % 251 (pattern_byte), so
 * the receiver can tell a byte lost, repeated or out of place from the
 * byte alone. 251 is prime: no segment size divides it.
 *
 * The clock: note() prints a line with the milliseconds since
 * clock_start(), so a program's lines line up with the ladder's times
 * (a gap of 40 ms in one shows in the other).
 *
 * The kernel's side: report_tcp_info() asks the kernel, with
 * getsockopt(TCP_INFO), what TCP did for this connection: the segment
 * size it chose, its congestion window, the round trip it measured, how
 * many segments it sent again. What a program never sees through send()
 * and recv().
 */
#ifndef LESSON19_COMMON_H
#define LESSON19_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The pattern every transfer carries: byte number off. */
unsigned char pattern_byte(uint64_t off);

/* Fill buf with the len pattern bytes that start at byte number off. */
void pattern_fill(unsigned char *buf, uint64_t off, size_t len);

/* How many of the len bytes in buf are not the pattern's bytes from off. */
size_t pattern_misplaced(const unsigned char *buf, uint64_t off, size_t len);

/* Start the clock note() prints. */
void clock_start(void);

/* Milliseconds since clock_start(). */
double clock_ms(void);

/* printf() a line, after "[  12.3 ms] " (the time since clock_start()). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What the kernel's TCP did on fd (getsockopt TCP_INFO), in words:
 * "MSS 1448, cwnd 10 segments, ...", in buf (TCP_INFO_TEXT bytes). */
#define TCP_INFO_TEXT 224
char *tcp_info_text(int fd, char *buf, size_t size);

/* The same as a line of its own: "who: TCP_INFO: MSS 1448, ...". */
void report_tcp_info(int fd, const char *who);

/* The segment size the kernel sends with on fd, 0 when unknown. */
unsigned tcp_mss(int fd);

/* Sleep ms milliseconds (less when a stop signal comes). */
void sleep_ms(long ms);

/* "10.0.0.2:41234 -> 10.0.0.1:40000" for a connected socket. */
char *connection_text(int fd, char *buf, size_t size);

#endif
