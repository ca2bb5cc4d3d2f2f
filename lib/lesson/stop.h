/* stop.h — the signal-safe stop, for lesson programs after lesson 02
 * (which writes it out in full, to teach it). Include it instead of
 * defining a stop_requested of your own. */
#ifndef SOCKLAB_LESSON_STOP_H
#define SOCKLAB_LESSON_STOP_H

#include <signal.h>

/* Lesson 02 writes this out in full; later lessons call it in one line.
 * stop_on_signals() installs a SIGINT and SIGTERM handler without
 * SA_RESTART (a blocked call fails with EINTR: the cue to look at
 * stop_requested). The handler sets stop_requested, shutdown()s each
 * socket given to stop_wakes() so a blocked accept() or recv() on it
 * returns at once (and the next one too: no signal lost between checking
 * the flag and blocking), and writes a byte to the pipe stop_pipe()
 * returns, for a program that waits in poll() or select(). Everything the
 * handler does is async-signal-safe.
 */
extern volatile sig_atomic_t stop_requested;

void stop_on_signals(void);
/* The handler will shut this socket down; -1 is ignored. Up to 8 at once. */
void stop_wakes(int fd);
/* It will not any more: call before close(fd), the number may be reused. */
void stop_forget(int fd);
/* The read end of a non-blocking pipe that becomes readable on a stop
 * signal (made on the first call; close-on-exec; closed at exit). */
int stop_pipe(void);

#endif
