/* fdpass.c — lesson 17: passing an open file descriptor to another process
 * (SCM_RIGHTS).
 *
 * What it shows: a Unix socket can carry open descriptors, not only bytes.
 * "fdpass send" gets a descriptor, either by opening a FILE or by
 * accepting a TCP connection on 127.0.0.1 (--tcp), and hands it to
 * "fdpass receive" with sendmsg() and an SCM_RIGHTS control message. The
 * receiver gets a new descriptor number in its own table that refers to
 * the very same open file description: the same file offset, the same TCP
 * connection.
 *  - With a FILE the sender reads the first line, then passes the fd; the
 *    receiver finds the offset already past that line and reads the rest;
 *    afterwards the sender's offset has moved to the end too, though it
 *    read nothing more. One file description, two descriptors.
 *  - With --tcp the sender accepts the client, passes the connection and
 *    closes its own copy; the receiver, which never called accept() or
 *    listened on TCP, serves the client (an echo) to its end.
 * The receiver prints the sender's pid from SO_PEERCRED.
 *
 * Why: this is how a privileged process opens what a sandboxed one may
 * not, how a front process hands connections to workers, how systemd's
 * socket activation and a zero-downtime restart pass listening sockets on.
 *
 * Notice when it runs: the receiver's "offset is already N" line; the
 * sender's "our offset is now ... the end" line; with --tcp, the echo
 * still works after "fdpass send" has exited.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "socklab.h"
#include "lesson.h"
#include "unixlesson.h"

#define BACKLOG 16
#define FIRST_LINE_MAX 200

static void usage(void)
{
	printf("usage: fdpass receive [-s PATH|@NAME] [-n N]\n"
	       "       fdpass send -s PATH|@NAME FILE\n"
	       "       fdpass send -s PATH|@NAME --tcp [-p PORT]\n"
	       "Passing an open descriptor over a Unix socket (SCM_RIGHTS, lesson 17).\n"
	       "receive: listens on a Unix socket; for each sender, takes the descriptor\n"
	       "         it passes: reads a file from its current offset to the end, or\n"
	       "         echoes on a TCP connection until the client closes.\n"
	       "send:    opens FILE, reads its first line, passes the descriptor and\n"
	       "         shows that the receiver's reads moved its own offset; or with\n"
	       "         --tcp accepts one TCP client on 127.0.0.1 and passes that.\n"
	       "\n"
	       "  -s, --socket PATH  the receiver's socket (receive default: fdpass.sock\n"
	       "                     in a new 0700 directory under $XDG_RUNTIME_DIR or\n"
	       "                     /tmp), or @NAME\n"
	       "  -n, --senders N    receive: exit after N senders (default 0: until\n"
	       "                     SIGINT or SIGTERM)\n"
	       "  -t, --tcp          send: accept a TCP client and pass the connection\n"
	       "  -p, --port PORT    send --tcp: the TCP port on 127.0.0.1 (default 0:\n"
	       "                     any free port)\n"
	       "  -h, --help         show this help\n");
}

enum role { ROLE_RECEIVE, ROLE_SEND };

struct options {
	enum role role;
	const char *name;
	long max_senders;
	int tcp;
	const char *port;
	const char *file;
};

static void check_roles(const struct options *opt, int seen_n, int seen_p)
{
	if (opt->role == ROLE_RECEIVE && (opt->tcp || seen_p || opt->file != NULL))
		usage_error("--tcp, -p and FILE are for fdpass send");
	if (opt->role == ROLE_SEND && seen_n)
		usage_error("-n is for fdpass receive");
	if (opt->role == ROLE_SEND && opt->name == NULL)
		usage_error("give the receiver's socket with -s PATH or -s @NAME");
	if (opt->role == ROLE_SEND && opt->tcp == (opt->file != NULL))
		usage_error("fdpass send needs a FILE or --tcp (one of them)");
	if (seen_p && !opt->tcp)
		usage_error("-p goes with --tcp");
	if (opt->name != NULL && opt->name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "senders", required_argument, NULL, 'n' },
		{ "tcp", no_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int c, seen_n = 0, seen_p = 0;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->port = "0";
	while ((c = getopt_long(argc, argv, ":hs:n:tp:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 's':
			opt->name = optarg;
			break;
		case 'n':
			opt->max_senders = opt_number(optarg, "sender count", 0, 1000000);
			seen_n = 1;
			break;
		case 't':
			opt->tcp = 1;
			break;
		case 'p':
			opt->port = opt_port(optarg);
			seen_p = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind >= argc)
		usage_error("say which role: fdpass receive, or fdpass send");
	if (strcmp(argv[optind], "receive") == 0)
		opt->role = ROLE_RECEIVE;
	else if (strcmp(argv[optind], "send") == 0)
		opt->role = ROLE_SEND;
	else
		usage_error("unknown role '%s': expected receive or send", argv[optind]);
	if (optind + 1 < argc)
		opt->file = argv[optind + 1];
	if (optind + 2 < argc)
		usage_error("unexpected argument '%s'", argv[optind + 2]);
	check_roles(opt, seen_n, seen_p);
}

/* ---- passing a descriptor ------------------------------------------------------- */

/* Room for one control message that carries one int, aligned as a cmsghdr
 * must be (the union does that). */
union fd_control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* Send fd over the connected Unix socket conn. The descriptor travels in
 * the control part of the message (SCM_RIGHTS); the kernel duplicates it
 * into the receiver's table when the receiver takes the message. At least
 * one byte of ordinary data must go with it: on a stream socket a message
 * of 0 bytes is nothing at all, control part included. Returns 0, or -1
 * after saying why. */
static int send_fd(int conn, int fd)
{
	/* EXERCISE 3: pass fd to the other process: SCM_RIGHTS in sendmsg() */
	char tag = 'F';
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	union fd_control control;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(&control, 0, sizeof(control));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	do
		n = sendmsg(conn, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		warn("sendmsg SCM_RIGHTS:");
		return -1;
	}
	return 0;
	/* END EXERCISE 3 */
}

/* Take one message from conn and the descriptor it carries. Returns the
 * new fd, or -1 with errno set: ENODATA when the sender closed without
 * sending, ENOMSG when the message held no descriptor, EMSGSIZE when it
 * held more than we made room for (the kernel closes those that do not
 * fit and sets MSG_CTRUNC; we close the one we got, too). */
static int receive_fd(int conn)
{
	/* EXERCISE 3: take the message and the descriptor it carries */
	char tag;
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	union fd_control control;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	int fd = -1;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	/* MSG_CMSG_CLOEXEC: the new fd is close-on-exec from its first
	 * instant, as if we had opened it with O_CLOEXEC. */
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	if (msg.msg_flags & MSG_CTRUNC) {
		if (fd >= 0)
			close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	if (fd < 0)
		errno = n == 0 ? ENODATA : ENOMSG;
	return fd;
	/* END EXERCISE 3 */
}

/* ---- the receiver ----------------------------------------------------------------- */

/* socket, bind, listen on a Unix path (a stale file is removed first, see
 * bind_unix). Returns the socket, or -1 after saying why. */
static int open_unix_listener(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0) {
		warn("socket:");
		return -1;
	}
	if (bind_unix(fd, name, SOCK_STREAM) < 0) {
		close(fd);
		return -1;
	}
	if (listen(fd, BACKLOG) < 0) {
		warn("listen %s:", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the file from where its offset already is, to the end. */
static void read_passed_file(int fd, const struct stat *st)
{
	char buf[4096];
	off_t at = lseek(fd, 0, SEEK_CUR);
	long long total = 0;
	char last = '\n';
	ssize_t n;

	if (at < 0) {
		warn("lseek:");
		return;
	}
	printf("fd %d is a regular file of %lld bytes; its offset is already %lld:"
	       " the sender's reads moved it\n", fd, (long long)st->st_size, (long long)at);
	printf("the rest of the file, read through our fd:\n");
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("read:");
			break;
		}
		fwrite(buf, 1, (size_t)n, stdout);
		last = buf[n - 1];
		total += n;
	}
	printf("%s(end of file: %lld bytes read, offset now %lld)\n",
	       last == '\n' ? "" : "\n", total, (long long)lseek(fd, 0, SEEK_CUR));
}

/* Echo on a connection that someone else accepted, until the client closes. */
static void serve_passed_socket(int fd)
{
	struct sockaddr_storage me, peer;
	socklen_t melen = sizeof(me), peerlen = sizeof(peer);
	char local[SL_ADDRSTRLEN] = "?", remote[SL_ADDRSTRLEN] = "?";
	char buf[4096];
	long long echoed = 0;

	if (getsockname(fd, (struct sockaddr *)&me, &melen) == 0)
		sl_addr_format((struct sockaddr *)&me, melen, local, sizeof(local));
	if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) == 0)
		sl_addr_format((struct sockaddr *)&peer, peerlen, remote, sizeof(remote));
	printf("fd %d is a connected socket %s <- %s: serving it (echo)\n", fd, local, remote);
	while (wait_ready(fd, POLLIN, -1) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("recv:");
			break;
		}
		/* sl_io_write_all: short writes, EINTR, MSG_NOSIGNAL. */
		if (sl_io_write_all(fd, buf, (size_t)n) < 0) {
			warn("send:");
			break;
		}
		echoed += n;
	}
	printf("client %s done (%lld bytes echoed)\n", remote, echoed);
}

/* Who is sending: SO_PEERCRED, as in stream-server. */
static void print_sender(int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	/* EXERCISE 3: ask the kernel who the sender is: SO_PEERCRED */
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		warn("getsockopt SO_PEERCRED:");
		return;
	}
	printf("sender connected: pid %ld uid %ld\n", (long)cred.pid, (long)cred.uid);
	/* END EXERCISE 3 */
}

/* Take one descriptor from a sender, use it, close it, and tell the
 * sender we are done (one byte) so it can look at its own offset. */
static void handle_sender(int conn)
{
	struct stat st;
	int fd;

	print_sender(conn);
	fd = receive_fd(conn);
	if (fd < 0) {
		warn("receive descriptor:");
		return;
	}
	printf("received fd %d\n", fd);
	if (fstat(fd, &st) < 0)
		warn("fstat:");
	else if (S_ISREG(st.st_mode))
		read_passed_file(fd, &st);
	else if (S_ISSOCK(st.st_mode))
		serve_passed_socket(fd);
	else
		printf("fd %d is neither a regular file nor a socket: not using it\n", fd);
	close(fd);
	if (send(conn, "k", 1, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		warn("send done:");
}

static int run_receiver(const struct options *opt)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *name = opt->name;
	long served = 0;
	int listener;

	if (name == NULL) {
		if (make_private_dir(dir, sizeof(dir)) < 0)
			die("mkdtemp %s:", dir);
		forget_on_exit(dir, NULL);
		socket_path_in(path, sizeof(path), dir, "fdpass.sock");
		name = path;
	}
	listener = open_unix_listener(name);
	if (listener < 0)
		return EXIT_RUNTIME; /* the atexit handler removes our directory */
	announce_listening(listener);
	while (opt->max_senders == 0 || served < opt->max_senders) {
		int conn, ready = wait_ready(listener, POLLIN, -1);

		if (ready <= 0)
			break;
		conn = accept(listener, NULL, NULL);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			warn("accept:");
			break;
		}
		handle_sender(conn);
		close(conn);
		served++;
	}
	if (stop_requested)
		printf("stopping: signal received\n");
	close(listener);
	remove_our_files(1);
	return EXIT_OK;
}

/* ---- the sender ---------------------------------------------------------------------- */

/* Open FILE and read its first line, one byte at a time so that we stop
 * exactly after the '\n' (a larger read would move the offset further).
 * Returns the fd, or -1 after saying why. */
static int open_and_read_first_line(const char *file)
{
	char line[FIRST_LINE_MAX + 1];
	size_t len = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		warn("open %s:", file);
		return -1;
	}
	while (len < FIRST_LINE_MAX) {
		ssize_t n = read(fd, line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("read %s:", file);
			close(fd);
			return -1;
		}
		if (n == 0 || line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	printf("opened %s as fd %d and read its first %zu bytes: %s%s", file, fd, len, line,
	       len > 0 && line[len - 1] == '\n' ? "" : "\n");
	return fd;
}

/* Accept one TCP client on 127.0.0.1:port. Listening on TCP is lesson 02's
 * topic, so the library does it here. Returns the connection, or -1 (after
 * saying why, unless a stop signal came first). */
static int accept_tcp_client(const char *port)
{
	char err[SL_ERR_LEN], who[SL_ADDRSTRLEN];
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof(peer);
	int listener, fd = -1, ready;

	listener = sl_tcp_listen("127.0.0.1", port, BACKLOG, NULL, NULL, err);
	if (listener < 0) {
		warn("%s", err);
		return -1;
	}
	announce_listening(listener);
	ready = wait_ready(listener, POLLIN, -1);
	if (ready > 0) {
		fd = accept(listener, (struct sockaddr *)&peer, &peerlen);
		if (fd < 0)
			warn("accept:");
	} else if (ready < 0) {
		warn("ppoll:");
	}
	/* One client is all we pass on: the listener has done its job. */
	close(listener);
	if (fd < 0)
		return -1;
	if (sl_addr_format((struct sockaddr *)&peer, peerlen, who, sizeof(who)) == NULL)
		snprintf(who, sizeof(who), "(unknown)");
	printf("accepted TCP client %s as fd %d\n", who, fd);
	return fd;
}

/* A Unix stream connection to the receiver, or -1 after saying why. */
static int connect_to_receiver(const char *name)
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
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		warn("connect %s:", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for the receiver's "done" byte (or its close). Returns 0 when it
 * came, -1 otherwise. */
static int wait_until_done(int conn)
{
	char done;
	int ready = wait_ready(conn, POLLIN, -1);

	if (ready <= 0) {
		if (ready < 0)
			warn("ppoll:");
		return -1;
	}
	if (recv(conn, &done, 1, 0) < 0) {
		warn("recv:");
		return -1;
	}
	return 0;
}

/* After the receiver is done with the file: where is our offset now? */
static void show_offset(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		warn("fstat:");
		return;
	}
	printf("receiver done; our offset is now %lld of %lld bytes: its reads moved our\n"
	       "offset too (one open file description, shared by two descriptors)\n",
	       (long long)lseek(fd, 0, SEEK_CUR), (long long)st.st_size);
}

static int run_sender(const struct options *opt)
{
	int fd, conn, status = EXIT_RUNTIME;

	fd = opt->tcp ? accept_tcp_client(opt->port) : open_and_read_first_line(opt->file);
	if (fd < 0)
		return stop_requested ? EXIT_OK : EXIT_RUNTIME;
	conn = connect_to_receiver(opt->name);
	if (conn < 0)
		goto out_fd;
	if (send_fd(conn, fd) < 0)
		goto out_conn;
	printf("passed fd %d to %s (sender pid %ld)\n", fd, opt->name, (long)getpid());
	if (opt->tcp) {
		/* The connection stays open: the receiver holds another
		 * descriptor to it. Only the last close() sends FIN. */
		printf("closing our copy; the receiver now serves the client alone\n");
		status = EXIT_OK;
		goto out_conn;
	}
	if (wait_until_done(conn) == 0) {
		show_offset(fd);
		status = EXIT_OK;
	}
out_conn:
	close(conn);
out_fd:
	close(fd);
	return status;
}

int main(int argc, char **argv)
{
	struct options opt;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install_stop_handlers();
	return opt.role == ROLE_RECEIVE ? run_receiver(&opt) : run_sender(&opt);
}
