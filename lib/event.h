/* event.h — the trace event wire format: what the trace shim
 * (libsltrace.so) tells the visualizer about each socket call, and the
 * control messages the visualizer sends back.
 *
 * One message is one text line. It starts with the version tag "v1" and is
 * followed by fields "key=value", each preceded by exactly one space:
 *
 *   v1 ph=before seq=12 pid=4242 tid=4242 call=connect fd=3 a=127.0.0.1:40000 at=/home/me/server+0x12a7 t=88034118339906
 *   v1 ph=after seq=12 pid=4242 tid=4242 call=connect fd=3 a=127.0.0.1:40000 ret=-1 err=ECONNREFUSED local=127.0.0.1:51234 state=CLOSE at=/home/me/server+0x12a7 t=88034118402410
 *
 * Grammar (strict; anything else is rejected):
 *   line  = "v1" *( " " key "=" value ) [ "\n" ]
 *   key   = lower-case letter, then lower-case letters, digits or "_";
 *           at most SL_EVENT_KEY_MAX characters
 *   value = zero or more bytes 0x21..0x7e except "=" and "%", or "%" and
 *           two hex digits standing for any byte (a decoded NUL is refused)
 * Encoders write "%XX" (upper-case hex) for space, "%", "=", and every byte
 * outside 0x21..0x7e (newline, tab, control bytes, UTF-8). Lines carry no
 * trailing newline over the shim's SOCK_SEQPACKET connection (a message is
 * a line); a recording (--record) writes one line per event ending in "\n".
 * Unknown keys are skipped, so a newer shim can add fields; a known key
 * given twice, a value that does not fit its field, or a malformed number
 * rejects the whole line.
 *
 * Keys, in the order sl_event_format writes them (all optional but ph):
 *   ph       phase: "hello" (first message of a connection, sent once per
 *            process: pid, tid, ppid, exe, step, t), "before" (the call is
 *            about to happen; arguments only) or "after" (it returned: the
 *            same arguments again, then ret, err, local, peer, state)
 *   seq      call number within the process, 1, 2, 3...; the before and
 *            after events of one call share it. A forked child keeps
 *            counting from its parent's value, so the child's "after" of
 *            fork carries the seq of the parent's "before".
 *   pid tid ppid   process, thread (gettid) and parent process ids
 *   call     the function: socket bind listen accept accept4 connect send
 *            sendto sendmsg recv recvfrom recvmsg read readv write writev
 *            close shutdown select pselect poll ppoll epoll_wait
 *            epoll_pwait epoll_pwait2 fork (the _chk variants a fortified
 *            program calls are reported under their plain names). The
 *            parser also gives it as a number, enum sl_event_call, so a
 *            reader compares numbers; a name not in this list is
 *            SL_CALL_OTHER, its text still in the field.
 *   fd       the socket argument (the epoll fd for epoll_wait and
 *            epoll_pwait)
 *   dom      address family: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK,
 *            AF_PACKET or a decimal number
 *   type     socket type without flag bits: SOCK_STREAM, SOCK_DGRAM,
 *            SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM or a number
 *   proto    protocol number (socket's third argument)
 *   flags    hexadecimal "0x..": MSG_* for send/recv calls, SOCK_* for
 *            accept4, and for socket() the SOCK_NONBLOCK/SOCK_CLOEXEC bits
 *            taken out of the type argument
 *   len      byte count argument (buffer size; for sendmsg/recvmsg and
 *            readv/writev the sum of the iovec lengths)
 *   n        a count argument: listen's backlog, shutdown's how (0 SHUT_RD,
 *            1 SHUT_WR, 2 SHUT_RDWR), nfds of select/poll, maxevents
 *   timeout  the waiting calls' timeout in milliseconds (-1 = none)
 *   a        the address argument (bind, connect, sendto, sendmsg) or, in
 *            an after event, the sender's address recvfrom/recvmsg
 *            returned (accept's is the new socket's peer, below)
 *   ret      return value
 *   err      errno name (ECONNREFUSED, or a decimal number when unknown),
 *            present only when the call failed
 *   local peer   getsockname/getpeername after the call, formatted as
 *            sl_addr_format does ("127.0.0.1:40000", "[::1]:7", "/tmp/s",
 *            "(unnamed)"); each left out when the kernel has none
 *   state    TCP state from TCP_INFO after the call (TCP sockets only).
 *            For socket/accept/accept4, local, peer, state and ino
 *            describe the new socket (ret); for close they are in the
 *            before event, since after close there is nothing left to ask.
 *   ino      the socket's inode number (fstat's st_ino), the one the
 *            kernel's socket table (sock_diag, /proc/net/tcp) gives, in
 *            the after events of socket, accept, accept4 and connect: it
 *            ties a table entry to the fd before the fd has an address
 *            (a connect() still waiting for its SYN,ACK)
 *   at       caller location: the object file and the offset inside it of
 *            the call instruction, "OBJ+0xOFF" (for the main program, OBJ is
 *            /proc/self/exe resolved). The shim does not read debug info;
 *            the visualizer resolves it to file:line with
 *            `addr2line -e OBJ -f -i 0xOFF` (binutils), once per unique
 *            value, for programs built with -g (sl_event_at_split splits
 *            it). Left out when the caller is in no known object or
 *            the path does not fit SL_EVENT_PATH_LEN.
 *   exe      hello only: the program (/proc/self/exe)
 *   step     hello only: 1 when the process starts in step mode
 *   dropped  events lost before this one because the visualizer was not
 *            reading (free-run sends never wait); counts since the last
 *            event that got through
 *   t        CLOCK_MONOTONIC time in nanoseconds (comparable across the
 *            processes of one machine)
 *
 * Control messages, visualizer to shim, use the same grammar with the one
 * key ctl (other keys are ignored):
 *   v1 ctl=go     release the call whose before event is pending (step mode)
 *   v1 ctl=run    free-run from now on (and release the pending call)
 *   v1 ctl=step   enter step mode: the next call waits for "go"
 *
 * Transport (lib/trace/): a traced program gets LD_PRELOAD=libsltrace.so
 * and SOCKLAB_TRACE=PATH, a listening AF_UNIX SOCK_SEQPACKET socket of the
 * visualizer ("@NAME" for the abstract namespace); SOCKLAB_STEP=1 starts it
 * in step mode. Each process connects once, on its first traced call
 * (a forked child opens its own connection; exec starts afresh with a new
 * hello), and sends one line per message: hello first, then before/after
 * pairs, interleaved between threads. The visualizer may send control
 * messages at any time, never an empty message (it reads as EOF); the shim
 * reads them before each call. In step mode one call per process waits at
 * a time: each "go" releases exactly the call whose before event came
 * last. When the visualizer closes the connection the process runs on
 * untraced. The shim's socket sits at fd 900 or above.
 *
 * Everything here is pure: no I/O, no allocation, no hidden state; every
 * function is thread-safe.
 */
#ifndef SOCKLAB_EVENT_H
#define SOCKLAB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define SL_EVENT_KEY_MAX   31
#define SL_EVENT_CALL_LEN  16   /* call names, NUL included */
#define SL_EVENT_ADDR_LEN  128  /* equals SL_ADDRSTRLEN of addr.h */
#define SL_EVENT_PATH_LEN  256  /* at and exe */
/* No line sl_event_format writes is longer than this (NUL included), even
 * with every string field full of bytes that need encoding. */
#define SL_EVENT_LINE_MAX  4096

enum sl_event_phase {
	SL_PH_NONE = 0,
	SL_PH_HELLO,
	SL_PH_BEFORE,
	SL_PH_AFTER
};

/* The calls of the "call" key. */
enum sl_event_call {
	SL_CALL_OTHER = 0,   /* a name not listed here (a newer shim's) */
	SL_CALL_SOCKET, SL_CALL_BIND, SL_CALL_LISTEN, SL_CALL_ACCEPT,
	SL_CALL_ACCEPT4, SL_CALL_CONNECT,
	SL_CALL_SEND, SL_CALL_SENDTO, SL_CALL_SENDMSG, SL_CALL_WRITE,
	SL_CALL_WRITEV,
	SL_CALL_RECV, SL_CALL_RECVFROM, SL_CALL_RECVMSG, SL_CALL_READ,
	SL_CALL_READV,
	SL_CALL_CLOSE, SL_CALL_SHUTDOWN,
	SL_CALL_SELECT, SL_CALL_PSELECT, SL_CALL_POLL, SL_CALL_PPOLL,
	SL_CALL_EPOLL_WAIT, SL_CALL_EPOLL_PWAIT, SL_CALL_EPOLL_PWAIT2,
	SL_CALL_FORK,
	SL_CALL_COUNT
};

/* What a call does, as bits (sl_event_call_class). */
enum {
	SL_CALLS_SEND   = 1u << 0,  /* send sendto sendmsg write writev */
	SL_CALLS_RECV   = 1u << 1,  /* recv recvfrom recvmsg read readv */
	SL_CALLS_WAIT   = 1u << 2,  /* select pselect poll ppoll epoll_wait... */
	SL_CALLS_ACCEPT = 1u << 3,  /* accept accept4 */
	SL_CALLS_NEW_FD = 1u << 4   /* socket accept accept4: ret is a new socket */
};

/* Bits of sl_event.has: which optional fields are present. */
enum {
	SL_EV_SEQ     = 1u << 0,
	SL_EV_PID     = 1u << 1,
	SL_EV_TID     = 1u << 2,
	SL_EV_PPID    = 1u << 3,
	SL_EV_CALL    = 1u << 4,
	SL_EV_FD      = 1u << 5,
	SL_EV_DOM     = 1u << 6,
	SL_EV_TYPE    = 1u << 7,
	SL_EV_PROTO   = 1u << 8,
	SL_EV_FLAGS   = 1u << 9,
	SL_EV_LEN     = 1u << 10,
	SL_EV_N       = 1u << 11,
	SL_EV_TIMEOUT = 1u << 12,
	SL_EV_ADDR    = 1u << 13,
	SL_EV_RET     = 1u << 14,
	SL_EV_ERR     = 1u << 15,
	SL_EV_LOCAL   = 1u << 16,
	SL_EV_PEER    = 1u << 17,
	SL_EV_STATE   = 1u << 18,
	SL_EV_AT      = 1u << 19,
	SL_EV_EXE     = 1u << 20,
	SL_EV_STEP    = 1u << 21,
	SL_EV_DROPPED = 1u << 22,
	SL_EV_T       = 1u << 23,
	SL_EV_INO     = 1u << 24
};

/* One event. Fixed size: it lives on the stack, nothing to free. A field
 * means something only when its bit is set in has; strings are
 * NUL-terminated. Clear the whole struct before filling it
 * (memset or = {0}). */
struct sl_event {
	enum sl_event_phase ph;
	uint32_t has;
	uint64_t seq;
	int32_t pid, tid, ppid;
	char call[SL_EVENT_CALL_LEN];      /* the name, as on the wire */
	enum sl_event_call call_id;        /* the same as a number: set both
	                                      with sl_event_set_call */
	int32_t fd;
	int32_t dom, type, proto;
	uint32_t flags;
	uint64_t len;
	int64_t n;
	int64_t timeout;
	char addr[SL_EVENT_ADDR_LEN];      /* key "a" */
	int64_t ret;
	int32_t err;                       /* errno number */
	char local[SL_EVENT_ADDR_LEN];
	char peer[SL_EVENT_ADDR_LEN];
	int32_t state;                     /* tcpi_state: 1 ESTABLISHED .. */
	uint64_t ino;                      /* the socket's inode */
	char at[SL_EVENT_PATH_LEN];
	char exe[SL_EVENT_PATH_LEN];
	int32_t step;
	uint64_t dropped;
	uint64_t t;
};

/* Write ev as one line (no trailing newline) into buf and NUL-terminate it.
 * Returns the line's length, or -1 with errno EINVAL (ev->ph is not a
 * known phase, or a string field has no NUL inside its array) or ENOSPC
 * (buf too small; SL_EVENT_LINE_MAX is always enough). */
int sl_event_format(const struct sl_event *ev, char *buf, size_t size);

/* Parse the len bytes at line (one optional trailing "\n"; the line need not
 * be NUL-terminated and nothing past len is read) into ev, which is
 * cleared first. Returns 0, or -1 with errno EINVAL for any malformed line,
 * a missing or unknown ph, a duplicate known key, or a value that does not
 * fit its field. */
int sl_event_parse(const char *line, size_t len, struct sl_event *ev);

/* Set ev's call: its name (cut to SL_EVENT_CALL_LEN - 1 bytes), its
 * number and SL_EV_CALL in has. sl_event_parse does the same for a call
 * it reads. */
void sl_event_set_call(struct sl_event *ev, const char *name);

/* Calls by name and number: "connect" and SL_CALL_CONNECT. The name of
 * SL_CALL_OTHER (or of a number out of range) is NULL; a name not in the
 * list is SL_CALL_OTHER. */
const char *sl_event_call_name(enum sl_event_call call);
enum sl_event_call sl_event_call_num(const char *name);

/* What call does: SL_CALLS_* bits, 0 for SL_CALL_OTHER. */
unsigned sl_event_call_class(enum sl_event_call call);

/* The phase name ("hello", "before", "after"), or NULL. */
const char *sl_event_phase_name(enum sl_event_phase ph);

/* errno names: "ECONNREFUSED" for ECONNREFUSED, NULL for a number with no
 * name. The reverse accepts the aliases (EWOULDBLOCK, ENOTSUP, EDEADLOCK)
 * and returns -1 with errno EINVAL for an unknown name. */
const char *sl_event_errno_name(int err);
int sl_event_errno_num(const char *name);

/* TCP states as TCP_INFO's tcpi_state reports them: "ESTABLISHED" (1),
 * "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
 * "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING" (11), and the kernel's
 * internal "NEW_SYN_RECV" (12) and "BOUND_INACTIVE" (13). Same conventions
 * as the errno pair. */
const char *sl_event_state_name(int state);
int sl_event_state_num(const char *name);

/* Address families (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET; the
 * reverse also takes AF_LOCAL) and socket types (SOCK_STREAM, SOCK_DGRAM,
 * SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET). Same conventions. */
const char *sl_event_family_name(int family);
int sl_event_family_num(const char *name);
const char *sl_event_socktype_name(int type);
int sl_event_socktype_num(const char *name);

/* Split an "at" value "OBJ+0xOFF" into the object path (copied into obj,
 * NUL-terminated) and the offset. Returns 0, or -1 with errno EINVAL (no
 * "+0x" followed by hex digits at the end, or an empty path) or ENOSPC
 * (obj too small). */
int sl_event_at_split(const char *at, char *obj, size_t objsize,
                      uint64_t *off);

/* Control messages from the visualizer to the shim. */
enum sl_ctl {
	SL_CTL_GO = 1,   /* release the pending call */
	SL_CTL_RUN,      /* free-run */
	SL_CTL_STEP      /* stop before every call */
};

/* Write "v1 ctl=NAME" into buf. Returns the length, or -1 with errno
 * EINVAL (unknown ctl) or ENOSPC. */
int sl_event_ctl_format(enum sl_ctl ctl, char *buf, size_t size);

/* Parse a control line (same rules as sl_event_parse). Returns the
 * SL_CTL_* value, or -1 with errno EINVAL. */
int sl_event_ctl_parse(const char *line, size_t len);

#endif
