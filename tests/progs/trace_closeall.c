/* trace_closeall.c — a target for test_shim: behaves like a daemon that
 * closes every fd it did not open (a close() loop, then close_range),
 * then dup2()s a socket onto fd 900, the shim's favourite number, and
 * checks fd 900 really is that socket. The trace must survive all of it:
 * the test expects the events of the calls that follow. Prints "done". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* close_range, gettid, strerrorname_np */
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int same_socket(int a, int b)
{
	struct sockaddr_in x, y;
	socklen_t lx = sizeof(x), ly = sizeof(y);

	if (getsockname(a, (struct sockaddr *)&x, &lx) < 0 ||
	    getsockname(b, (struct sockaddr *)&y, &ly) < 0)
		return 0;
	return lx == ly && memcmp(&x, &y, lx) == 0;
}

int main(void)
{
	struct sockaddr_in sin;
	int s, fd;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	close(s);
	for (fd = 3; fd < 4096; fd++)
		close(fd);
	close_range(3, ~0U, 0);

	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return 1;
	if (dup2(s, 900) != 900 || !same_socket(s, 900))
		return 1;
	if (close(900) < 0 || close(s) < 0)
		return 1;
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s >= 0)
		close(s);
	printf("done\n");
	return 0;
}
