/* launch.h — the processes a session starts: a lesson's run lines, a
 * scenario's then lines, or the command given to `socklab trace`. Each
 * runs in its own process group with stdout and stderr piped back (every
 * line goes to the calls log), the shim preloaded (LD_PRELOAD,
 * SOCKLAB_TRACE) and, in step mode, SOCKLAB_STEP=1. It dies with the
 * visualizer (PR_SET_PDEATHSIG).
 *
 * Its stdin is a pipe the student writes through socklab (Enter sends a
 * line to the selected process), never closed while the session runs: a
 * program that waits for Enter (lesson 03's backlog and closewait hold
 * their state that way) keeps waiting, in the TUI and in --batch, until
 * someone presses it. The session ends with the pipes closed (end of
 * file), then SIGTERM.
 */
#ifndef TUI_LAUNCH_H
#define TUI_LAUNCH_H

#include <poll.h>
#include <stdint.h>

struct session;

/* A run line "after 500ms client ..." (or "after 2s ..."): it starts that
 * long after the run line before it. Returns the command that follows,
 * with *ms set; a line without the prefix is returned whole, *ms = 0. */
const char *launch_after(const char *cmd, int *ms);

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
/* Stop every process of the session: close the stdin pipes, SIGTERM
 * (and SIGCONT) to each child's process group and to every descendant of
 * socklab, SIGKILL to what is left after a grace period (shorter when
 * socklab itself was told to stop: all of it within a second), and wait
 * for them. */
void launch_stop_all(struct session *s);
/* Which processes are blocked reading a stdin of ours, into s->readers
 * (at most every 200 ms; force: now). */
void launch_check_input(struct session *s, int force);
/* The child whose stdin pid reads (pid itself, or a process it started
 * that shares that stdin), or -1. */
int launch_stdin_of(struct session *s, int32_t pid);
/* Write line and a newline to the stdin pid reads. Returns 0, or -1 with
 * the reason said on the status line. */
int launch_send_line(struct session *s, int32_t pid, const char *line);
/* Is pid waiting for input now (as of the last check)? */
int launch_waits_input(const struct session *s, int32_t pid);

#endif
