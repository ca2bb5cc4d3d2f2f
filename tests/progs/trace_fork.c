/* trace_fork.c — a target for test_shim: socket calls from the main
 * thread, from a second thread and from a forked child, so the test can
 * check each is reported with its own pid and tid (the child on its own
 * connection). Prints "main PID TID", "thread TID", "child PID". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* close_range, gettid, strerrorname_np */
#endif
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd >= 0)
		close(fd);
}

static void *thread_main(void *arg)
{
	(void)arg;
	touch_socket();
	printf("thread %d\n", (int)gettid());
	return NULL;
}

int main(void)
{
	pthread_t th;
	pid_t pid;
	int st;

	touch_socket();
	printf("main %d %d\n", (int)getpid(), (int)gettid());
	if (pthread_create(&th, NULL, thread_main, NULL) != 0)
		return 1;
	pthread_join(th, NULL);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		touch_socket();
		_exit(0);
	}
	printf("child %d\n", (int)pid);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	return 0;
}
