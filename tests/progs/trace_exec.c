/* trace_exec.c — a target for test_shim: makes one socket call (so the
 * shim connects), then execs trace_quiet from the same folder. The shim's
 * connection is close-on-exec: trace_quiet must start with the fds it
 * would have had without this detour, and connect afresh. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	const char *slash = strrchr(argv[0], '/');
	int fd;

	(void)argc;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	close(fd);
	snprintf(path, sizeof(path), "%.*strace_quiet",
		 slash != NULL ? (int)(slash - argv[0] + 1) : 0, argv[0]);
	execl(path, path, (char *)NULL);
	perror(path);
	return 1;
}
