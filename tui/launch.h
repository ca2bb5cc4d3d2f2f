/* launch.h — the processes a session starts: a lesson's run lines, a
 * scenario's then lines, or the command given to `socklab trace`. Each
 * runs in its own process group with stdin from /dev/null, stdout and
 * stderr piped back (every line goes to the calls log), the shim preloaded
 * (LD_PRELOAD, SOCKLAB_TRACE) and, in step mode, SOCKLAB_STEP=1. It dies
 * with the visualizer (PR_SET_PDEATHSIG).
 */
#ifndef TUI_LAUNCH_H
#define TUI_LAUNCH_H

#include <poll.h>

struct session;

/* Start argv as a child named name. Returns 0, or -1 with the reason in
 * the session's message. */
int launch_child(struct session *s, char *const argv[], const char *name, int then);
/* Start one lesson.conf command line: {port} substituted, the lesson's
 * own programs found under build/ (with --work: the student's, in the
 * folder socklab-exercise built them in). */
int launch_command(struct session *s, const char *cmd, int then);
/* Start what is due: the run lines once the port is known, the then
 * lines once the runs have ended. */
void launch_next(struct session *s);
/* Poll slots for the children's output. */
int launch_fill(struct session *s, struct pollfd *pfd, int max);
void launch_ready(struct session *s, const struct pollfd *pfd, int n);
/* Collect children that exited. */
void launch_reap(struct session *s);
/* Has every program ended (for a lesson: every run and then line; a
 * first program, the server, still waiting for clients does not count)? */
int launch_all_done(const struct session *s);
/* Stop every child still running: SIGTERM, then SIGKILL after a grace
 * period; wait for them. */
void launch_stop_all(struct session *s);

#endif
