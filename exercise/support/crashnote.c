/* crashnote.c — linked into a student's programs by `socklab check`, so
 * that a crash can be reported in words ("your server crashed: SIGSEGV")
 * instead of a test's bare "no 'listening on' line".
 *
 * It does nothing unless SOCKLAB_CRASH_LOG names a file, which only a
 * check sets. Then, before main(), it installs a handler for the signals
 * that mean a crash. The handler appends "PROGRAM SIGNAL-NUMBER" to that
 * file with async-signal-safe calls only, puts the default action back and
 * raises the signal again, so the program still dies exactly as it would
 * have (same signal, same wait status, a core file if enabled).
 *
 * A signal the program's parent set to "ignore" stays ignored, and a
 * handler the program installs itself replaces this one: behaviour is
 * unchanged in every case but the crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char crashnote_path[4096];
static char crashnote_prog[64];
/* The handler must run even when the crash is a stack overflow. */
static char crashnote_stack[64 * 1024];

static void crashnote_handler(int sig)
{
	int saved = errno;
	int fd = open(crashnote_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd >= 0) {
		char line[sizeof(crashnote_prog) + 16];
		size_t n = strlen(crashnote_prog);
		char digits[8];
		int d = 0, v = sig;

		memcpy(line, crashnote_prog, n);
		line[n++] = ' ';
		do
			digits[d++] = (char)('0' + v % 10);
		while ((v /= 10) > 0 && d < (int)sizeof(digits));
		while (d > 0)
			line[n++] = digits[--d];
		line[n++] = '\n';
		if (write(fd, line, n) < 0)
			errno = saved;
		close(fd);
	}
	errno = saved;
	/* SA_RESETHAND has put the default action back and SA_NODEFER leaves
	 * the signal unblocked: raising it again ends the program by the
	 * same signal, whether it came from a fault, abort() or a write to a
	 * closed connection. */
	raise(sig);
}

__attribute__((constructor)) static void crashnote_install(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGPIPE, SIGSYS };
	const char *path = getenv("SOCKLAB_CRASH_LOG");
	const char *prog = program_invocation_short_name;
	stack_t ss;

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(crashnote_path))
		return;
	strcpy(crashnote_path, path);
	strncpy(crashnote_prog, prog != NULL ? prog : "program", sizeof(crashnote_prog) - 1);
	ss.ss_sp = crashnote_stack;
	ss.ss_size = sizeof(crashnote_stack);
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa, old;

		if (sigaction(sigs[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = crashnote_handler;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
		sigaction(sigs[i], &sa, NULL);
	}
}
