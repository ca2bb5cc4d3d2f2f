/* trace_lastcall.c — a target for test_shim: 5,000 socket calls (send and
 * recv of one byte over a socketpair) as fast as they go, then "blocking",
 * then a recv() on an empty socket that waits for ever. A visualizer that
 * reads, if slowly, must still be told the program is in that recv(): its
 * before event is the last one the program sends, so if it were dropped
 * nothing later would say where the program stopped. */
#include <stdio.h>
#include <sys/socket.h>

#define ROUNDS 2500

int main(void)
{
	char c;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return 1;
	for (int i = 0; i < ROUNDS; i++)
		if (send(sp[0], "x", 1, 0) != 1 || recv(sp[1], &c, 1, 0) != 1)
			return 1;
	printf("blocking after %d\n", 2 * ROUNDS);
	fflush(stdout);
	/* Nothing is ever sent on sp[0] again: this waits until killed. */
	if (recv(sp[1], &c, 1, 0) < 0)
		return 1;
	return 0;
}
