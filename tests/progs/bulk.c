/* bulk.c — a bulk transfer over loopback, for the TCP-over-time tests: a
 * child process sends MBYTES megabytes to its parent, which reads them
 * slowly (64 KB, then a pause of MS milliseconds), so that the transfer
 * lasts long enough to watch its congestion window.
 *
 *   bulk [MBYTES [MS [WAIT]]]   default 8 MB, 2 ms; prints its address
 *                               first, "received N bytes" at the end
 *
 * WAIT milliseconds (default 0) pass between "listening on" and the
 * connect(), time for `socklab watch PORT` to start (bench/tcptime.sh).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int die(const char *what)
{
	perror(what);
	return 1;
}

static int send_all(int fd, long total)
{
	static char buf[65536];

	memset(buf, 'x', sizeof(buf));
	while (total > 0) {
		ssize_t n = send(fd, buf, total < (long)sizeof(buf) ? (size_t)total : sizeof(buf), 0);

		if (n < 0)
			return die("send");
		total -= n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long mbytes = argc > 1 ? atol(argv[1]) : 8, got = 0;
	long ms = argc > 2 ? atol(argv[2]) : 2;
	long wait_ms = argc > 3 ? atol(argv[3]) : 0;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct timespec pause = { 0, ms * 1000000L };
	char buf[65536];
	int ls, fd, status;
	pid_t pid;
	ssize_t n;

	if (argc > 4 || mbytes <= 0 || mbytes > 1024 || ms < 0 || ms > 1000 || wait_ms < 0 ||
	    wait_ms > 60000) {
		fprintf(stderr, "usage: bulk [MBYTES [MS [WAIT]]]\n");
		return 2;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		return die("socket");
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
		return die("bind");
	printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(a.sin_port));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid == 0) {
		struct timespec wait = { wait_ms / 1000, wait_ms % 1000 * 1000000L };

		close(ls);
		nanosleep(&wait, NULL);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(die("connect"));
		status = send_all(fd, mbytes * 1024 * 1024);
		close(fd);
		_exit(status);
	}
	fd = accept(ls, NULL, NULL);
	if (fd < 0)
		return die("accept");
	close(ls);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		got += n;
		nanosleep(&pause, NULL);
	}
	close(fd);
	if (waitpid(pid, &status, 0) < 0)
		return die("waitpid");
	printf("received %ld bytes\n", got);
	return n < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}
