/* trace_step.c — a target for test_shim: one TCP connection over loopback,
 * call by call (socket, bind, listen, socket, connect, accept, send, recv,
 * close x3). With the argument "wait" it reads a line from stdin after the
 * first call, so the test can change the shim's mode before the rest.
 * Ends with "done CONNECT-LINE": the source line of the connect() call,
 * for the test to check the caller location the shim reported. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char buf[4], line[16];
	int l, c, a, rc, connect_line;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		return 1;
	if (argc > 1 && strcmp(argv[1], "wait") == 0 &&
	    fgets(line, sizeof(line), stdin) == NULL)
		return 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&sin, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		return 1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0)
		return 1;
	connect_line = __LINE__; rc = connect(c, (struct sockaddr *)&sin, len);
	if (rc < 0)
		return 1;
	a = accept(l, NULL, NULL);
	if (a < 0 || send(c, "ping", 4, 0) != 4 || recv(a, buf, 4, MSG_WAITALL) != 4)
		return 1;
	close(c);
	close(a);
	close(l);
	printf("done %d\n", connect_line);
	return 0;
}
