/* stream-server.c — lesson 17: an echo server on a Unix-domain stream socket.
 *
 * What it shows: the same calls as the TCP server of lesson 02 — socket,
 * bind, listen, accept — with AF_UNIX and a file path as the address. And
 * what a path brings with it:
 *  - the socket file is created by bind() and outlives the socket, so the
 *    server removes it when it stops (SIGINT and SIGTERM are caught), and a
 *    file left by a server that was killed ("stale") is detected at the
 *    next start: the server connects to it first, and removes it only when
 *    nobody answers;
 *  - a file has permissions: by default the socket lives in a fresh
 *    directory of mode 0700, so only our user can reach it;
 *  - the kernel knows who is at the other end: SO_PEERCRED gives the
 *    client's pid, uid and gid, which the client cannot forge.
 * With -s @NAME it binds NAME in Linux's abstract namespace instead: no
 * file, nothing to remove, gone with the last socket.
 *
 * Why: Unix sockets are how local services talk (systemd, Docker, X11,
 * PostgreSQL, ssh-agent): faster than TCP over loopback and never
 * reachable from the network, with file permissions and peer credentials
 * for access control.
 *
 * Notice when it runs: "ls -l" of the path shows an 's' file; after kill
 * -9 the file is still there, and the next start says "stale" and reuses
 * it; the pid on each "client connected" line is the client's own pid.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "lesson.h"
#include "unixlesson.h"

/* Connections the kernel may queue, connected but not yet accepted. */
#define BACKLOG 16

static void usage(void)
{
	printf("usage: stream-server [-s PATH|@NAME] [-m MODE] [-n N]\n"
	       "The Unix-domain stream echo server (lesson 17): sends back every byte a\n"
	       "client sends, one client at a time, and prints each client's pid, uid and\n"
	       "gid (SO_PEERCRED).\n"
	       "\n"
	       "  -s, --socket PATH  the socket's path (default: echo.sock in a new 0700\n"
	       "                     directory under $XDG_RUNTIME_DIR or /tmp); a stale\n"
	       "                     socket file there is removed, a live one is not;\n"
	       "                     @NAME binds NAME in the abstract namespace (no file)\n"
	       "  -m, --mode MODE    the socket file's permissions, in octal (default:\n"
	       "                     0777 minus the umask)\n"
	       "  -n, --clients N    exit after serving N clients (default 0: serve\n"
	       "                     until SIGINT or SIGTERM)\n"
	       "  -h, --help         show this help\n");
}

struct options {
	const char *name; /* NULL: make a private directory */
	long mode;        /* -1: leave it to the umask */
	long max_clients; /* 0: no limit */
};

/* An octal mode such as 600 or 0660. */
static long parse_mode(const char *arg)
{
	char *end;
	long mode;

	errno = 0;
	mode = strtol(arg, &end, 8);
	if (arg[0] < '0' || arg[0] > '7' || *end != '\0' || errno != 0 ||
	    mode < 0 || mode > 0777)
		usage_error("bad mode '%s': expected octal permissions from 0 to 0777", arg);
	return mode;
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "clients", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0; /* bad_option() says what is wrong, in our own words */
	opt->name = NULL;
	opt->mode = -1;
	opt->max_clients = 0;
	while ((c = getopt_long(argc, argv, ":hs:m:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->name = optarg;
			break;
		case 'm':
			opt->mode = parse_mode(optarg);
			break;
		case 'n':
			opt->max_clients = opt_number(optarg, "client count", 0, 1000000);
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->name != NULL && opt->name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
	if (opt->name != NULL && opt->name[0] == '@' && opt->mode >= 0)
		usage_error("-m does not apply to @%s: an abstract name has no file", opt->name + 1);
}

/* Where to bind: the -s name, or echo.sock in a new private directory
 * (its path is written to buf). */
static const char *choose_name(const struct options *opt, char *buf, size_t size)
{
	char dir[PATH_MAX];

	if (opt->name != NULL)
		return opt->name;
	if (make_private_dir(dir, sizeof(dir)) < 0)
		die("mkdtemp %s:", dir);
	forget_on_exit(dir, NULL);
	socket_path_in(buf, size, dir, "echo.sock");
	return buf;
}

/* bind() creates the socket file with mode 0777 minus the umask. Setting
 * the umask around bind() gives it the wanted mode from its first
 * instant; a chmod() afterwards would leave a moment with the old one. */
static int bind_with_mode(int fd, const struct sockaddr_un *sun, socklen_t len,
                          long mode)
{
	mode_t old = 0;
	int rc, saved;

	if (mode >= 0)
		old = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (const struct sockaddr *)sun, len);
	saved = errno;
	if (mode >= 0)
		umask(old);
	errno = saved;
	return rc;
}

/* socket, bind, listen. A bind() that fails with EADDRINUSE because of a
 * stale socket file (see socket_is_stale) removes the file and tries once
 * more; a live server's socket makes us give up instead. Returns the
 * listening socket, or -1 after saying why. */
static int open_listener(const char *name, long mode)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (unix_address(name, &sun, &len) < 0) {
		warn("socket name %s:", name);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (bind_with_mode(fd, &sun, len, mode) < 0) {
		/* An abstract name is never stale: it vanishes with its socket. */
		if (errno != EADDRINUSE || name[0] == '@') {
			warn("bind %s:", name);
			goto fail;
		}
		if (!socket_is_stale(name, SOCK_STREAM)) {
			warn("bind %s: in use: a server is listening there, or it is not a socket", name);
			goto fail;
		}
		printf("%s: stale socket file (nobody is listening there): removing it\n", name);
		/* ENOENT: someone else removed it meanwhile, just as good. */
		if (unlink(name) < 0 && errno != ENOENT) {
			warn("unlink %s:", name);
			goto fail;
		}
		if (bind_with_mode(fd, &sun, len, mode) < 0) {
			warn("bind %s:", name);
			goto fail;
		}
	}
	forget_on_exit(NULL, name);
	if (listen(fd, BACKLOG) < 0) {
		warn("listen %s:", name);
		goto fail;
	}
	return fd;

fail:
	close(fd); /* every path closes what it opened */
	return -1;
}

/* Say who may connect. On Linux connect() needs write permission on the
 * socket file and search (x) permission on every directory on the way;
 * some BSDs ignore the socket file's own mode, so the directory is the
 * fence that works everywhere. Root passes both checks. */
static void describe_permissions(const char *name)
{
	char dir[PATH_MAX], modes[11];
	struct stat st;
	char *slash;

	if (name[0] == '@') {
		printf("%s is an abstract name: no file, no permissions (any process in\n"
		       "this network namespace may connect); it vanishes with the socket\n", name);
		return;
	}
	if (stat(name, &st) < 0) {
		warn("stat %s:", name);
		return;
	}
	printf("socket file %s: %s (mode %04o), owner uid %ld gid %ld\n", name,
	       mode_string(st.st_mode, modes), (unsigned)(st.st_mode & 07777),
	       (long)st.st_uid, (long)st.st_gid);
	snprintf(dir, sizeof(dir), "%s", name);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0) {
		warn("stat %s:", dir);
		return;
	}
	printf("directory %s: %s (mode %04o), owner uid %ld: to connect, a process\n"
	       "needs x on this directory and w on the socket file\n", dir,
	       mode_string(st.st_mode, modes), (unsigned)(st.st_mode & 07777),
	       (long)st.st_uid);
}

/* Print who the client is. SO_PEERCRED: the kernel recorded the client's
 * pid, uid and gid when it called connect(); the client cannot forge them
 * (anything it sends, it can). The address is "(unnamed)" unless the
 * client bound one: accept() then fills only sun_family, and addrlen is
 * sizeof(sa_family_t). */
static void print_client(int fd, const struct sockaddr_un *peer, socklen_t peerlen)
{
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	char who[SL_ADDRSTRLEN];

	if (sl_addr_format((const struct sockaddr *)peer, peerlen, who, sizeof(who)) == NULL)
		snprintf(who, sizeof(who), "(unknown)");
	/* EXERCISE 3: ask the kernel who the client is: SO_PEERCRED */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0) {
		warn("getsockopt SO_PEERCRED:");
		printf("client connected: address %s (addrlen %u)\n", who, (unsigned)peerlen);
		return;
	}
	printf("client connected: pid %ld uid %ld gid %ld (SO_PEERCRED), address %s (addrlen %u)\n",
	       (long)cred.pid, (long)cred.uid, (long)cred.gid, who, (unsigned)peerlen);
	/* END EXERCISE 3 */
}

/* Send all len bytes. MSG_DONTWAIT with a wait for POLLOUT in between,
 * instead of a blocking send(): a client that stops reading must not keep
 * us from noticing SIGTERM. MSG_NOSIGNAL: a client that has gone gives
 * EPIPE instead of a SIGPIPE that would kill the server. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int ready = wait_ready(fd, POLLOUT, -1);

			if (ready <= 0)
				return ready == 0 ? 0 : -1;
			continue;
		}
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Echo everything one client sends until it closes its side. */
static void serve_client(int fd)
{
	char buf[4096];
	long long echoed = 0;

	while (wait_ready(fd, POLLIN, -1) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break; /* end of file: the client is done */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recv:");
			break;
		}
		if (send_all(fd, buf, (size_t)n) < 0) {
			warn("send:");
			break;
		}
		echoed += n;
	}
	printf("client disconnected (%lld bytes echoed)\n", echoed);
}

/* Accept clients one after another until told to stop or done. */
static int serve_clients(int listener, long max_clients)
{
	long served = 0;

	while (max_clients == 0 || served < max_clients) {
		struct sockaddr_un peer;
		socklen_t peerlen = sizeof(peer);
		int ready = wait_ready(listener, POLLIN, -1);
		int fd;

		if (ready == 0)
			break; /* SIGINT or SIGTERM */
		if (ready < 0) {
			warn("ppoll:");
			return EXIT_RUNTIME;
		}
		fd = accept(listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			warn("accept:");
			return EXIT_RUNTIME;
		}
		print_client(fd, &peer, peerlen);
		serve_client(fd);
		close(fd);
		served++;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct options opt;
	char buf[PATH_MAX];
	const char *name;
	int listener, status;

	parse_options(argc, argv, &opt);
	/* One line at a time even into a pipe, so a reader sees each event. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();

	name = choose_name(&opt, buf, sizeof(buf));
	listener = open_listener(name, opt.mode);
	if (listener < 0)
		return EXIT_RUNTIME; /* the atexit handler removes our directory */
	describe_permissions(name);
	announce_listening(listener);

	status = serve_clients(listener, opt.max_clients);
	if (stop_requested)
		printf("stopping: signal received\n");
	close(listener);
	remove_our_files(1);
	return status;
}
