/* trace_quiet.c — a target for test_shim: counts its own open fds
 * (/proc/self/fd) before and after a round of socket calls that leave
 * nothing open, and prints "fds BEFORE AFTER". Untraced, the shim must
 * open nothing (the counts are equal); traced, the one extra fd is the
 * shim's connection. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A TCP connection over loopback and one message each way. */
static int socket_round(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct pollfd p;
	char buf[4];
	int l, c, a;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sin, len) < 0)
		return -1;
	a = accept(l, NULL, NULL);
	if (a < 0 || send(c, "ping", 4, 0) != 4 || recv(a, buf, 4, MSG_WAITALL) != 4)
		return -1;
	p.fd = a;
	p.events = POLLOUT;
	if (poll(&p, 1, 1000) != 1 || write(a, "pong", 4) != 4 || read(c, buf, 4) != 4)
		return -1;
	close(a);
	close(c);
	close(l);
	return 0;
}

int main(void)
{
	int before = count_fds();

	if (socket_round() < 0) {
		perror("socket_round");
		return 1;
	}
	printf("fds %d %d\n", before, count_fds());
	return 0;
}
