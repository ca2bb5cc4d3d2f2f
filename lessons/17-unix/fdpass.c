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
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "socklab.h"
#include "common.h"

#define BACKLOG 16
#define FIRST_LINE_MAX 200

/* The command line; parse_options(), at the end, fills these in. */
static enum { ROLE_RECEIVE, ROLE_SEND } role;
static const char *sock_name; /* -s; NULL (receive): fdpass.sock in a private directory */
static long sender_limit;     /* receive -n; 0: until a stop signal */
static int tcp;               /* send --tcp: pass a TCP connection, not a file */
static const char *tcp_port;  /* send -p */
static const char *file;      /* send FILE */

/* Room for one control message that carries one int, aligned as a cmsghdr
 * must be (the union does that). */
union fd_control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* main() is the whole story; each step is a function below it, in order. */
static void parse_options(int argc, char **argv);
static int send_fd(int conn, int fd);
static int receive_fd(int conn);
/* Listen, then take one descriptor from each sender in turn. */
static int run_receiver(void);
static void handle_sender(int conn);
static void print_sender(int conn);
static void read_passed_file(int fd, const struct stat *st);
static void serve_passed_socket(int fd);
/* Get a descriptor (a file, or a TCP client), pass it, and for a file
 * show that the receiver's reads moved our offset. */
static int run_sender(void);
static int open_and_read_first_line(const char *path);
static int accept_tcp_client(const char *port);
static int wait_until_done(int conn);
static void show_offset(int fd);

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	stop_on_signals(); /* the signal-safe stop of lesson 02, from lib/lesson */
	return role == ROLE_RECEIVE ? run_receiver() : run_sender();
}

/* ---- passing a descriptor ------------------------------------------------------- */

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

/* Listen, then take one descriptor from each sender in turn. */
static int run_receiver(void)
{
	char path[SUN_PATH_MAX];
	const char *name;
	long served = 0;
	int listener;

	/* The -s name, or fdpass.sock in a new directory of mode 0700. */
	name = socket_name(sock_name, "fdpass.sock", path, sizeof(path));
	listener = listen_unix(name, SOCK_STREAM, BACKLOG);
	if (listener < 0)
		return EXIT_RUNTIME; /* the atexit handler removes our directory */
	announce_listening(listener);
	while (sender_limit == 0 || served < sender_limit) {
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

/* ---- the sender ---------------------------------------------------------------------- */

/* Get a descriptor (a file, or a TCP client), pass it, and for a file
 * show that the receiver's reads moved our offset. */
static int run_sender(void)
{
	int fd, conn, status = EXIT_RUNTIME;

	fd = tcp ? accept_tcp_client(tcp_port) : open_and_read_first_line(file);
	if (fd < 0)
		return stop_requested ? EXIT_OK : EXIT_RUNTIME;
	conn = connect_unix(sock_name, SOCK_STREAM);
	if (conn < 0)
		goto out_fd;
	if (send_fd(conn, fd) < 0)
		goto out_conn;
	printf("passed fd %d to %s (sender pid %ld)\n", fd, sock_name, (long)getpid());
	if (tcp) {
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

/* Open FILE and read its first line, one byte at a time so that we stop
 * exactly after the '\n' (a larger read would move the offset further).
 * Returns the fd, or -1 after saying why. */
static int open_and_read_first_line(const char *path)
{
	char line[FIRST_LINE_MAX + 1];
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		warn("open %s:", path);
		return -1;
	}
	while (len < FIRST_LINE_MAX) {
		ssize_t n = read(fd, line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("read %s:", path);
			close(fd);
			return -1;
		}
		if (n == 0 || line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	printf("opened %s as fd %d and read its first %zu bytes: %s%s", path, fd, len, line,
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
		warn("poll:");
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

/* Wait for the receiver's "done" byte (or its close). Returns 0 when it
 * came, -1 otherwise. */
static int wait_until_done(int conn)
{
	char done;
	int ready = wait_ready(conn, POLLIN, -1);

	if (ready <= 0) {
		if (ready < 0)
			warn("poll:");
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

/* ---- Plumbing: the command line ------------------------------------ */

/* The options, as a table: lib/lesson parses them, checks each value and
 * prints the -h text from the same table. The options of one role are
 * refused in the other. */
static void parse_options(int argc, char **argv)
{
	static const struct lesson_opt options[] = {
		OPT_SOCKET(&sock_name, "fdpass.sock"),
		{ 'n', "senders", OPT_NUMBER, &sender_limit, "N",
		  "receive: exit after N senders (default 0: until\nSIGINT or SIGTERM)",
		  .what = "sender count", .min = 0, .max = 1000000 },
		{ 't', "tcp", OPT_FLAG, &tcp,
		  .help = "send: accept a TCP client and pass the connection" },
		{ 'p', "port", OPT_PORT, &tcp_port, "PORT",
		  "send --tcp: the TCP port on 127.0.0.1 (default 0:\nany free port)",
		  .what = "port" },
		{ 0 }
	};
	int first;

	sender_limit = -1; /* the values nobody can give: "not given" */
	first = lesson_options(argc, argv, &(struct lesson_cli){
		.args = "receive|send [FILE]", .max_args = 2, .opts = options,
		.about = "Passing an open descriptor over a Unix socket (SCM_RIGHTS, lesson 17).\n"
			 "receive: for each sender, takes the descriptor it passes: reads a\n"
			 "         file from its current offset to the end, or echoes on a\n"
			 "         TCP connection.\n"
			 "send:    opens FILE, reads its first line and passes the descriptor;\n"
			 "         or with --tcp accepts one TCP client on 127.0.0.1 and\n"
			 "         passes that.",
	});
	if (first >= argc)
		usage_error("say which role: fdpass receive, or fdpass send");
	if (strcmp(argv[first], "receive") == 0)
		role = ROLE_RECEIVE;
	else if (strcmp(argv[first], "send") == 0)
		role = ROLE_SEND;
	else
		usage_error("unknown role '%s': expected receive or send", argv[first]);
	file = first + 1 < argc ? argv[first + 1] : NULL;
	if (role == ROLE_RECEIVE && (tcp || tcp_port != NULL || file != NULL))
		usage_error("--tcp, -p and FILE are for fdpass send");
	if (role == ROLE_SEND && sender_limit >= 0)
		usage_error("-n is for fdpass receive");
	if (role == ROLE_SEND && sock_name == NULL)
		usage_error("give the receiver's socket with -s PATH or -s @NAME");
	if (role == ROLE_SEND && tcp == (file != NULL))
		usage_error("fdpass send needs a FILE or --tcp (one of them)");
	if (tcp_port != NULL && !tcp)
		usage_error("-p goes with --tcp");
	if (sock_name != NULL && sock_name[0] == '\0')
		usage_error("bad socket path '': give a path or @NAME");
	sender_limit = sender_limit >= 0 ? sender_limit : 0;
	tcp_port = tcp_port != NULL ? tcp_port : "0";
}
