/* hostile.c — what a hostile student's server does first thing, every time
 * it starts (tests/exercise/test_grade.sh puts this at the top of a copy of
 * lesson 02's server.c and a call to hostile() at the start of main()).
 *
 * @CLASS@ is the class folder, @PORT@ a port of a listener the test keeps
 * outside the box on 127.0.0.1, @MARK@ a word that names this run. Each
 * attack that works makes the server abort() at once, so the student's
 * grade shows it (CRASH); a box that holds lets it go on as a correct
 * server. Besides, the test looks from outside: checksums of the other
 * folders, its listener's connections, leftover processes and files.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void hostile(void)
{
	static const char victim[] = "@CLASS@/alice/02-tcp-echo/server.c";
	static char chunk[1 << 20];
	struct sockaddr_in sin;
	int fd;

	/* Write outside its folder: another student's source, the class
	 * folder, the real /tmp (the test looks for @MARK@ there). */
	fd = open(victim, O_WRONLY | O_APPEND);
	if (fd >= 0) {
		(void)!write(fd, "#error hostile\n", 15);
		close(fd);
		abort();
	}
	fd = open("@CLASS@/@MARK@-was-here", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		abort();
	fd = open("/tmp/@MARK@-was-here", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);   /* the box's own /tmp: allowed, and gone after */
	/* Read another student's folder. */
	fd = open(victim, O_RDONLY);
	if (fd >= 0)
		abort();
	/* Connect to a port it was not given, and send data there. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(@PORT@);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		(void)!write(fd, "hostile\n", 8);
		abort();
	}
	if (fd >= 0)
		close(fd);
	/* Fork 200 times, each child in a session of its own, out of the
	 * process group the grader kills. */
	for (int i = 0; i < 200; i++) {
		pid_t pid = fork();

		if (pid < 0)
			break;
		if (pid == 0) {
			setsid();
			prctl(PR_SET_NAME, "@MARK@");
			close(0);
			close(1);
			close(2);
			for (;;)
				pause();
		}
	}
	/* A 1 GiB file, wherever it may write: its folder, $HOME, /tmp. */
	signal(SIGXFSZ, SIG_IGN);
	for (int w = 0; w < 3; w++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/@MARK@-big", w == 0 ? "." : w == 1 ?
			 (getenv("HOME") ? getenv("HOME") : "/") : "/tmp");
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			continue;
		for (int i = 0; i < 1024; i++)
			if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
				break;
		close(fd);
		unlink(path);
		break;
	}
}
