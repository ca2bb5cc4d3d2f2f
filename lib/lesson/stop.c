/* stop.c — the signal-safe stop of lesson 02, for the lessons after it
 * (lesson.h). Lesson 02's server.c explains each line; this is the same
 * handler, made to serve any number of sockets and a poll() loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lesson.h"
#include "stop.h"

#define WAKE_SLOTS 8

volatile sig_atomic_t stop_requested;

/* The sockets the handler shuts down; -1 is an empty slot. A handler may
 * only touch volatile sig_atomic_t objects, hence the array of them. */
static volatile sig_atomic_t wake_fds[WAKE_SLOTS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
/* The self-pipe's ends, once stop_pipe() has made it. */
static volatile sig_atomic_t pipe_read = -1, pipe_write = -1;

static void on_stop_signal(int sig)
{
	int saved = errno; /* the interrupted code may still need its errno */

	(void)sig;
	stop_requested = 1;
	for (int i = 0; i < WAKE_SLOTS; i++)
		if (wake_fds[i] >= 0)
			shutdown(wake_fds[i], SHUT_RDWR);
	/* Non-blocking: if the pipe is full, a byte is already waiting, and
	 * one is all poll() needs. */
	if (pipe_write >= 0 && write(pipe_write, "x", 1) < 0) {
		/* nothing to do: see above */
	}
	errno = saved;
}

void stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocked calls fail with EINTR */
	if (sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction SIGINT:");
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction SIGTERM:");
}

void stop_wakes(int fd)
{
	if (fd < 0)
		return;
	for (int i = 0; i < WAKE_SLOTS; i++) {
		if (wake_fds[i] < 0) {
			wake_fds[i] = fd;
			/* A signal before this line set only the flag: honour it. */
			if (stop_requested)
				shutdown(fd, SHUT_RDWR);
			return;
		}
	}
	die("stop_wakes: more than %d sockets", WAKE_SLOTS);
}

void stop_forget(int fd)
{
	for (int i = 0; i < WAKE_SLOTS; i++)
		if (fd >= 0 && wake_fds[i] == fd)
			wake_fds[i] = -1;
}

/* At exit: no descriptor left open (valgrind's --track-fds counts them).
 * The handler's copy is cleared first; a signal that read it just before
 * writes to a closed descriptor, which fails harmlessly. */
static void close_stop_pipe(void)
{
	int r = pipe_read, w = pipe_write;

	pipe_write = -1;
	pipe_read = -1;
	close(w);
	close(r);
}

int stop_pipe(void)
{
	int fds[2];

	if (pipe_read >= 0)
		return pipe_read;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		die("pipe2:");
	pipe_read = fds[0];
	pipe_write = fds[1];
	if (atexit(close_stop_pipe) != 0)
		die("atexit: cannot register the stop pipe's close");
	if (stop_requested && write(fds[1], "x", 1) < 0) {
		/* a full pipe already holds a byte */
	}
	return fds[0];
}
