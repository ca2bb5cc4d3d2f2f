/* quit.h — the one way socklab is told to end from outside: SIGHUP,
 * SIGTERM, SIGINT, or its terminal gone (end of file, EIO, a hang-up).
 *
 * quit_init() runs first thing in main(), before curses (which would
 * otherwise take SIGINT and SIGTERM for itself). From then on a request
 * sets a flag and makes quit_fd() readable, so a poll() that includes it
 * wakes at once, whatever it was waiting for; every loop of socklab (the
 * menu, the session, loading a recording) polls it or checks
 * quit_requested(), and the session then stops every process it started.
 * socklab also becomes a subreaper (PR_SET_CHILD_SUBREAPER): a process
 * that a lesson or a traced program leaves behind (a double fork, a
 * daemon) is re-parented to socklab instead of init, so it can still be
 * found, and stopped, as one of socklab's descendants.
 */
#ifndef TUI_QUIT_H
#define TUI_QUIT_H

#include <sys/types.h>

/* Not a signal: the terminal went away (EOF, EIO, POLLHUP on stdin). */
#define QUIT_HANGUP 1000

/* Install the handlers and the wake-up pipe. Returns 0, or -1 (errno). */
int quit_init(void);
/* The reason a stop was asked for (a signal number, QUIT_HANGUP), or 0. */
int quit_requested(void);
/* Ask for a stop (the terminal is gone). */
void quit_request(int why);
/* Readable once a stop has been asked for; -1 before quit_init. */
int quit_fd(void);
/* "SIGTERM", "SIGHUP", "the terminal went away", ... */
const char *quit_reason(int why);

/* Every living descendant of this process, up to max of them, found
 * through /proc. Returns how many. */
int quit_descendants(pid_t *out, int max);

#endif
