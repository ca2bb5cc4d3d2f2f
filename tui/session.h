/* session.h — one visualizer session: the processes it started, the
 * sources it reads, the model they feed, and the single poll() loop that
 * drives them all (and the screen, through a frontend).
 *
 * Data flow: a source hands an observation to a session_* sink below; the
 * sink writes it to the recording (if any) and applies it to the model.
 * A replay feeds the same sinks, so a replayed session is built exactly as
 * the live one was.
 */
#ifndef TUI_SESSION_H
#define TUI_SESSION_H

#include <poll.h>
#include <sys/types.h>

#include "inqueue.h"
#include "lessons.h"
#include "model.h"
#include "paths.h"
#include "pidset.h"
#include "record.h"
#include "sources/source.h"

enum session_mode { SM_RUN, SM_TRACE, SM_WATCH, SM_REPLAY };

struct session_opts {
	enum session_mode mode;
	const char *scenario;      /* run: NULL for the default run */
	char **argv;               /* trace: the command */
	uint16_t port;             /* watch */
	const char *replay_file;
	const char *record_file;
	const char *pcap_file;
	int step;                  /* start every process in step mode */
	int all_stops;             /* step: stop at a fork() before any socket call too */
	int batch;                 /* no screen: run free, print the model */
	int netns;                 /* run: try a private network namespace */
	int timeout_s;             /* batch: give up after this long */
	int settle_ms;             /* batch: wait this long after the end */
	int work;                  /* run: the student's copy (--work, work.h) */
	const char *prog_dir;      /* run --work: where its programs are built */
	const char *src_dir;       /* run --work: its sources ("" unknown) */
};

#define KIDS_MAX 32

struct child {
	pid_t pid;
	int fd[2];                 /* stdout, stderr pipes; -1 once closed */
	int in;                    /* its stdin, a pipe we write; -1 once closed */
	unsigned long in_ino;      /* that pipe's inode, to know it in /proc */
	char buf[2][LOG_TEXT_LEN];
	size_t len[2];
	char name[NAME_LEN];
	int then;                  /* a scenario's "then" command */
	char last_err[LOG_TEXT_LEN]; /* the last line it wrote to stderr */
	int exited, code;
};

/* A process blocked reading a stdin of ours (launch_check_input). */
struct reader {
	int32_t pid;
	int kid;                   /* whose stdin: an index into kids */
};

#define READERS_MAX 16

/* The screen, or nothing (batch). */
struct frontend {
	void *ctx;
	int (*fill)(void *ctx, struct pollfd *pfd, int max);
	void (*ready)(void *ctx, const struct pollfd *pfd, int n);
	mtime_t (*deadline)(void *ctx);
	void (*draw)(void *ctx);
};

#define MESSAGE_LEN 160
/* fork() calls let go on, remembered until the model takes them in. */
#define PASSED_MAX 64

struct session {
	struct model model;
	struct session_opts opt;
	const struct paths *paths;
	struct lesson *lesson;
	struct scenario *scen;
	char title[LESSON_TEXT_LEN];
	struct source *trace, *diag, *wire, *replay;
	struct recorder rec;
	int private_ns;            /* the lesson runs in its own network namespace */
	char ns_why[MESSAGE_LEN];  /* why it does not, when it does not */
	char port[8];              /* the port the first program announced */
	char addr[128];            /* the whole address it announced */
	int next_run, next_then;
	struct child kids[KIDS_MAX];
	int nkids;
	int32_t selected;          /* the process space/n steps */
	int follow;                /* move the selection to a waiting process */
	int stepping;              /* processes stop before every call */
	int paused;                /* ... because p was pressed */
	int quit;
	int exit_code;
	int finished;              /* every program has ended */
	int cut_short;             /* the first ended unannounced (launch.c) */
	mtime_t done_at;
	mtime_t started;
	mtime_t last_run_t;        /* the last run line was started */
	mtime_t run_at;            /* the next run line waits until then ("after") */
	struct reader readers[READERS_MAX]; /* waiting for input now */
	int nreaders;
	mtime_t input_checked;
	mtime_t batch_deadline;
	char message[MESSAGE_LEN];
	mtime_t message_t;
	struct inqueue inputs;     /* observed, not yet applied (inqueue.h) */
	struct pidset socket_users; /* processes that made a socket call */
	struct { int32_t pid; uint64_t seq; } passed[PASSED_MAX]; /* forks let go */
	int npassed;
	mtime_t diag_t;            /* the dump being taken */
};

mtime_t session_now(void);

/* Set up: the namespace (run), the sources, the recording. Returns 0, or
 * -1 with a message in err. lesson is needed for SM_RUN. */
int session_init(struct session *s, const struct paths *p, struct lesson *lesson,
                 const struct session_opts *o, char *err, size_t errsize);
/* Start the first processes. Returns 0, or -1 (message in s->message). */
int session_start(struct session *s);
/* Run until quit; returns the exit code (0 ok, 1 failure). */
int session_loop(struct session *s, struct frontend *fe);
/* Stop every process still running, close everything. */
void session_free(struct session *s);

/* ---- keys ---- */
void session_step(struct session *s);
void session_continue(struct session *s);
void session_pause(struct session *s);
void session_select_next(struct session *s);
/* Send a line (Enter) to the selected process's stdin. */
void session_enter(struct session *s);
void session_restart(struct session *s);
/* Say something on the status line for a few seconds. */
void session_say(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Apply every held input up to time upto (all: UINT64_MAX). */
void session_flush(struct session *s, mtime_t upto);

/* ---- sinks, for the sources ---- */
void session_event(struct session *s, const struct sl_event *ev, const char *line,
                   size_t len);
void session_segment(struct session *s, const struct mseg *g);
void session_diag_begin(struct session *s, mtime_t t);
void session_diag_sock(struct session *s, const struct diag_sock *d);
void session_diag_end(struct session *s, mtime_t t);
/* What the visualizer itself sees of its processes (launch.c and the
 * replay). */
void session_proc_started(struct session *s, int32_t pid, const char *name, mtime_t t);
void session_proc_exited(struct session *s, int32_t pid, int code, mtime_t t);
void session_output(struct session *s, int32_t pid, const char *text, mtime_t t);
/* A traced process closed its connection to the shim. */
void session_trace_closed(struct session *s, int32_t pid);
/* Replay only. */
void session_replay_go(struct session *s, int32_t pid, mtime_t t);
void session_replay_header(struct session *s, const struct rec_header *h);

#endif
