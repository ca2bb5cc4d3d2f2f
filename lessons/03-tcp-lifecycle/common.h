/* common.h — what lesson 03's programs share (the code is in common.c,
 * which the build links into server, client and rebind).
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
 */
#ifndef LESSON03_COMMON_H
#define LESSON03_COMMON_H

#include <stddef.h>
#include <sys/socket.h>

/* The TCP state of fd as the kernel sees it now, e.g. "CLOSE_WAIT". */
const char *tcp_state(int fd);

/* Read and throw away one line of stdin. End of file also returns, so a
 * program whose stdin is closed (a test, or `socklab run`) never blocks. */
void wait_for_enter(void);

/* With --step (step != 0), stop before the next call until the user
 * presses Enter: "   ... press Enter to call CALL". */
void pause_before(int step, const char *call);

/* Print bytes received, with newlines shown as \n so one recv() is one line. */
void print_bytes(const char *buf, size_t len);

/* The first address getaddrinfo() gives for a server's host:port, copied
 * out (the list is freed at once); on failure, say why and exit 1. */
void resolve_bind_address(const char *host, const char *port,
			  struct sockaddr_storage *addr, socklen_t *len);

#endif
