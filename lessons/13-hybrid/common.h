/* common.h — what lesson 13's two programs share (the code is in common.c,
 * which the build links into server and balancer): the signalfd set-up of
 * lesson 10, and a clock for their timeouts.
 */
#ifndef LESSON13_COMMON_H
#define LESSON13_COMMON_H

/* Block the n signals in sigs (so none of them runs a default action any
 * more) and return a signalfd that reads them, non-blocking and
 * close-on-exec; -1 with errno on failure. */
int block_signals(const int *sigs, int n);

/* Milliseconds on the monotonic clock: for deadlines, not for dates. */
long long now_ms(void);

#endif
