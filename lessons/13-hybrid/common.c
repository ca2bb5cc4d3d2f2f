/* common.c — what lesson 13's programs share (common.h says what each
 * function is for). The build compiles it once and links it into server
 * and balancer. */
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>

#include "common.h"

/* ---- Plumbing: the signalfd of lesson 10, the clock ---------------------- */

int block_signals(const int *sigs, int n)
{
	sigset_t mask;

	sigemptyset(&mask);
	for (int i = 0; i < n; i++)
		sigaddset(&mask, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -1;
	return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
