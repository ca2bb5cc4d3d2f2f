/* trace_flood.c — a target for test_shim: 100,000 socket calls (send and
 * recv of one byte over a socketpair) as fast as they go, then "done", then
 * waits for a line on stdin and makes one last call. Against a visualizer
 * that does not read, the calls must still finish (the shim drops events
 * instead of waiting) and the last call's events carry the drop count. */
#include <stdio.h>
#include <sys/socket.h>

#define ROUNDS 50000

int main(void)
{
	char c, line[16];
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return 1;
	for (int i = 0; i < ROUNDS; i++)
		if (send(sp[0], "x", 1, 0) != 1 || recv(sp[1], &c, 1, 0) != 1)
			return 1;
	printf("done %d\n", 2 * ROUNDS);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 1;
	if (send(sp[0], "y", 1, 0) != 1)
		return 1;
	printf("bye\n");
	return 0;
}
