/* netpair.c — the link benchmark's reference: two hosts exactly as
 * `socklab --hosts` makes them (tui/hosts.c: a network namespace each,
 * eth0 with 10.0.0.1 and 10.0.0.2, the same MTU, no checksum or
 * segmentation offload), but joined by a plain veth pair: no userspace
 * between them. The difference between a run here and the same run
 * through socklab's link is the link's own cost.
 *
 *   netpair [-m MTU] -- SERVER ARGS... -- CLIENT ARGS...
 *
 * The server runs on host 1; once it prints "listening on ADDR:PORT" the
 * client runs on host 2, with {server} in its arguments replaced by
 * 10.0.0.1 and {port} by the port. Their output passes through; netpair
 * exits with the client's status (1 when something failed first).
 * Works as an ordinary user (inside a user namespace of its own).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tui/hosts.h"
#include "../tui/netns.h"
#include "lesson/lesson.h"

/* Run argv on host h; its stdout into out (-1: ours). */
static pid_t start(const struct hosts *hs, int h, char **argv, int out)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork:");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (hosts_enter(hs, h) < 0)
			die("setns:");
		if (out >= 0 && dup2(out, 1) < 0)
			die("dup2:");
		execvp(argv[0], argv);
		die("cannot run %s:", argv[0]);
	}
	return pid;
}

/* The server's "listening on A:PORT" line: its port. */
static void read_port(int fd, char *port, size_t size)
{
	char line[256];
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, line + n, 1);

		if (r <= 0)
			die("the server ended before it said where it listens");
		if (line[n] == '\n' || n + 2 >= sizeof(line)) {
			const char *colon;

			line[n] = '\0';
			fprintf(stderr, "netpair: server: %s\n", line);
			colon = strrchr(line, ':');
			if (strncmp(line, "listening on ", 13) == 0 && colon != NULL) {
				snprintf(port, size, "%s", colon + 1);
				return;
			}
			n = 0;
			continue;
		}
		n++;
	}
}

/* word with {server} and {port} replaced (a new string). */
static char *substitute(const char *word, const char *port)
{
	char out[1024] = "";
	const char *p = word;

	while (*p != '\0' && strlen(out) < sizeof(out) - 64) {
		if (strncmp(p, "{server}", 8) == 0) {
			strcat(out, "10.0.0.1");
			p += 8;
		} else if (strncmp(p, "{port}", 6) == 0) {
			strcat(out, port);
			p += 6;
		} else {
			strncat(out, p, 1);
			p++;
		}
	}
	return strdup(out);
}

int main(int argc, char **argv)
{
	struct hosts hs;
	char why[256], port[16];
	char **server = NULL, **client = NULL;
	int mtu = HOST_MTU_DEFAULT, pipefd[2], status;
	pid_t srv, cli;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: netpair [-m MTU] -- SERVER ARGS... -- CLIENT ARGS...\n"
		       "Two hosts as socklab --hosts makes them, joined by a plain veth pair;\n"
		       "the client starts once the server says where it listens ({server}\n"
		       "and {port} in its arguments are replaced).\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-m") == 0 && i + 1 < argc && server == NULL) {
			mtu = (int)opt_number(argv[++i], "-m", HOST_MTU_MIN, HOST_MTU_MAX);
		} else if (strcmp(argv[i], "--") == 0) {
			argv[i] = NULL;
			if (server == NULL)
				server = argv + i + 1;
			else if (client == NULL)
				client = argv + i + 1;
			else
				usage_error("more than two commands");
		} else if (server == NULL) {
			usage_error("unexpected %s (netpair -h)", argv[i]);
		}
	}
	if (server == NULL || client == NULL || server[0] == NULL || client[0] == NULL)
		usage_error("expected -- SERVER ... -- CLIENT ... (netpair -h)");
	memset(&hs, 0, sizeof(hs));
	if (netns_enter(why, sizeof(why)) != 0)
		die("a network namespace: %s", why);
	if (hosts_add_name(&hs, "server", why, sizeof(why)) < 0 ||
	    hosts_add_name(&hs, "client", why, sizeof(why)) < 0 ||
	    hosts_create_direct(&hs, mtu, why, sizeof(why)) < 0)
		die("%s", why);
	if (pipe(pipefd) < 0)
		die("pipe:");
	for (int i = 0; server[i] != NULL; i++)
		server[i] = substitute(server[i], "{port}");
	srv = start(&hs, 0, server, pipefd[1]);
	close(pipefd[1]);
	read_port(pipefd[0], port, sizeof(port));
	for (int i = 0; client[i] != NULL; i++)
		client[i] = substitute(client[i], port);
	cli = start(&hs, 1, client, -1);
	if (waitpid(cli, &status, 0) < 0)
		die("waitpid:");
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	hosts_destroy(&hs);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
