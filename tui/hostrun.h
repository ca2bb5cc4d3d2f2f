/* hostrun.h — a session on hosts (`--hosts`, hosts.h): which host each
 * program runs on, the hosts made and joined by the link, and the
 * command lines with the hosts' addresses in them.
 *
 * Host names come from the command lines: a leading "@NAME" word puts a
 * program on host NAME; without one a program runs on the host named
 * after it ("server", "client": a lesson's two clients share a host).
 * `socklab trace --hosts -- CMD1 -- CMD2` runs each command on a host of
 * its own (named "server", "client", "client2", ... unless "@NAME"
 * says), the later ones once the first listens. {NAME} in a command is
 * host NAME's IPv4 address and {NAME6} its IPv6 address, 127.0.0.1 and
 * ::1 when the session is not on hosts, so one lesson.conf line serves
 * both.
 */
#ifndef TUI_HOSTRUN_H
#define TUI_HOSTRUN_H

#include <stddef.h>

struct session;

/* Learn the host names (always: {NAME} needs them) and whether the
 * session runs on hosts. Returns 0, or -1 with err set. */
int hostrun_plan(struct session *s, char *err, size_t errsize);
/* On hosts: make them, the link (as the session's wire source) and the
 * trace and dump sockets inside them; record the network. Call after the
 * session's own namespace exists and the trace and diag sources do.
 * Returns 0, or -1 with err set. */
int hostrun_setup(struct session *s, char *err, size_t errsize);
/* Record the hosts and the link's settings (after the header). */
void hostrun_record(struct session *s);

/* cmd without its "@NAME" word and with {NAME} replaced, in out; *host
 * is the host it runs on (-1 when not on hosts). Returns 0, or -1 when
 * it does not fit. */
int hostrun_command(const struct session *s, const char *cmd, char *out, size_t size, int *host);

/* trace --hosts: start the first command, then the others once the
 * first listens (or has ended). Returns 0, or -1 (said in the
 * session's message). */
int hostrun_trace_next(struct session *s);
/* Has every trace command been started? */
int hostrun_trace_all_started(const struct session *s);

/* Is name taken by socklab itself ({port}, {addr})? */
int hostrun_reserved(const char *name);

#endif
