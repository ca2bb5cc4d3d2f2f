/* net.h — open listeners and connections: TCP, UDP and Unix-domain.
 *
 * Every function returns a file descriptor (close-on-exec) or -1 with errno
 * set and, where an err buffer is taken, err filled with a one-line message
 * that names the call and the address: "connect 127.0.0.1:7000: Connection
 * refused". err may be NULL when the caller only wants errno.
 */
#ifndef SOCKLAB_NET_H
#define SOCKLAB_NET_H

#include <sys/socket.h>
#include <sys/un.h>
#include "addr.h"

/* A TCP listener on host:port (port "0" = any free port) with SO_REUSEADDR
 * and the given backlog. When bound is not NULL the address actually bound
 * (with the real port) is stored there and *boundlen set. */
int sl_tcp_listen(const char *host, const char *port, int backlog,
                  struct sockaddr_storage *bound, socklen_t *boundlen,
                  char err[SL_ERR_LEN]);

/* Connect to host:port, trying each resolved address in order.
 * timeout_ms < 0 blocks as long as the kernel does; otherwise each attempt
 * is a non-blocking connect() bounded by poll(), failing with ETIMEDOUT.
 * The returned socket is in blocking mode either way. */
int sl_tcp_connect(const char *host, const char *port, int timeout_ms,
                   char err[SL_ERR_LEN]);

/* A UDP socket bound to host:port (port "0" = any free port). */
int sl_udp_bind(const char *host, const char *port,
                struct sockaddr_storage *bound, socklen_t *boundlen,
                char err[SL_ERR_LEN]);

/* A connected UDP socket: send()/recv() go to and come from host:port
 * only, and an ICMP port-unreachable surfaces as ECONNREFUSED. */
int sl_udp_connect(const char *host, const char *port, char err[SL_ERR_LEN]);

/* A Unix-domain socket of the given type (SOCK_STREAM, SOCK_SEQPACKET or
 * SOCK_DGRAM) bound to path; stream and seqpacket sockets also listen with
 * backlog. A stale socket file (nobody accepts on it: connect gives
 * ECONNREFUSED) is removed and the bind retried; a live one fails with
 * EADDRINUSE; a path that is not a socket is never removed. */
int sl_unix_listen(const char *path, int type, int backlog,
                   char err[SL_ERR_LEN]);

/* A Unix-domain socket of the given type connected to path. */
int sl_unix_connect(const char *path, int type, char err[SL_ERR_LEN]);

#endif
