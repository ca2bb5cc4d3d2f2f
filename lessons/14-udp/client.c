/* client.c — lesson 14: a UDP client that numbers its datagrams, notices
 * loss, and tries again.
 *
 * What it shows: UDP promises nothing. A datagram may vanish, come twice,
 * or come after one sent later, and no call ever says so: sendto()
 * succeeds whether or not anyone receives. A client that cares keeps its
 * own books. Each datagram carries a small header (a sequence number, the
 * try number and a send counter); the client waits for the echo with
 * poll() and a timeout, sends a datagram again when its reply is late (up
 * to -r times), and at the end names exactly the sequence numbers that
 * were lost, answered twice, or answered out of order.
 *
 * Why: this is the work TCP does for you, done by hand: sequence numbers,
 * timers, retransmission. Against "server --drop 5", "-r 0" loses exactly
 * seq 5, 10, 15, ...; with retries every datagram gets through and the
 * summary counts the retries it took.
 *
 * --connect calls connect() on the UDP socket. No packet is sent: the
 * kernel only records the server's address, so send()/recv() need none
 * and datagrams from anyone else are filtered out. The visible difference
 * comes when nothing listens at that address: the server's kernel answers
 * with an ICMP "port unreachable", and only a connected socket is told,
 * as ECONNREFUSED from its next recv() or send(). An unconnected socket is
 * told nothing and just times out.
 *
 * Notice when it runs: the summary line "sent N, answered A, lost L (...)".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "lesson/lesson.h"

/* Every datagram starts with this header, in network byte order:
 *   seq     4 bytes  which datagram (1, 2, ... COUNT)
 *   try     2 bytes  1 for the first send, 2 for the first retry, ...
 *   taglen  2 bytes  length of the tag that follows the header
 *   sendno  4 bytes  a counter of every datagram this client sent
 * then the tag (which client this is), then filler up to --size bytes.
 * The server echoes it unchanged, so a reply says which send it answers. */
#define HDR_LEN 12
#define MAX_TAG 64
/* The largest UDP payload over IPv4 (see server.c). */
#define MAX_PAYLOAD 65507

struct options {
	const char *host;
	const char *port;
	long count;      /* datagrams to send */
	long size;       /* bytes in each, header included */
	long timeout_ms; /* how long to wait for one reply */
	long retries;    /* extra sends of a datagram that got no reply */
	long window;     /* datagrams in flight at once (1: stop and wait) */
	int connect;     /* connect() the socket */
	int verbose;     /* a line for every reply */
	char tag[MAX_TAG + 1];
};

/* What we know about one sequence number. */
struct seq_state {
	unsigned tries;    /* times sent */
	unsigned replies;  /* replies received (more than 1: duplicates) */
	int reordered;     /* its reply came after that of a later send */
	int given_up;      /* all tries timed out (a reply may still come) */
};

/* A datagram in flight: sent, not answered, not given up. */
struct slot {
	uint32_t seq;
	long long first_sent_us; /* when its first try was sent */
	long long sent_at_us;  /* when its latest try was sent */
	long long deadline_us; /* when that try times out */
};

struct run {
	const struct options *opt;
	int fd;
	struct sockaddr_storage server; /* where datagrams go */
	socklen_t serverlen;
	char server_text[SL_ADDRSTRLEN];
	struct seq_state *seqs;  /* [1..count] */
	struct slot *slots;      /* [0..window) */
	long inflight;
	uint32_t next_seq;       /* the next sequence number to send first */
	uint32_t sendno;         /* datagrams sent so far, retries included */
	uint32_t newest_answered; /* highest sendno that got a reply */
	long retries;            /* resends done */
	long not_ours;           /* datagrams that were no reply of ours */
	int refused;             /* ECONNREFUSED: nobody at the server's port */
	unsigned char out[MAX_PAYLOAD];
	unsigned char in[MAX_PAYLOAD + 1];
	unsigned char expect[MAX_PAYLOAD];
};

static void usage(void)
{
	printf("usage: client [-b ADDR] -p PORT [-c COUNT] [-s SIZE] [-t MS] [-r R]\n"
	       "              [-w W] [--connect] [-T TAG] [-v]\n"
	       "The UDP echo client (lesson 14): sends COUNT numbered datagrams, waits\n"
	       "for each echo, sends again on a timeout, and reports which sequence\n"
	       "numbers were lost, duplicated or reordered. Exits 0 when every\n"
	       "datagram was answered, 1 when some were lost or a call failed.\n"
	       "\n"
	       "  -b, --bind ADDR      the server's address (default %s)\n"
	       "  -p, --port PORT      the server's port (required)\n"
	       "  -c, --count COUNT    datagrams to send (default 10)\n"
	       "  -s, --size BYTES     bytes in each datagram, header included\n"
	       "                       (default 64, at most %d)\n"
	       "  -t, --timeout MS     wait this long for a reply (default 500)\n"
	       "  -r, --retries R      send a datagram again up to R times when its\n"
	       "                       reply times out (default 2; 0: never)\n"
	       "  -w, --window W       up to W datagrams in flight at once (default 1:\n"
	       "                       send the next only after this one's reply)\n"
	       "      --connect        connect() the UDP socket: an ICMP port\n"
	       "                       unreachable then shows as ECONNREFUSED\n"
	       "  -T, --tag TEXT       a name put in every datagram (default pid-PID)\n"
	       "  -v, --verbose        print a line for every reply\n"
	       "  -h, --help           show this help\n",
	       DEFAULT_HOST, MAX_PAYLOAD);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_CONNECT = 256 };
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retries", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "connect", no_argument, NULL, OPT_CONNECT },
		{ "tag", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	memset(opt, 0, sizeof(*opt));
	opt->host = DEFAULT_HOST;
	opt->count = 10;
	opt->size = 64;
	opt->timeout_ms = 500;
	opt->retries = 2;
	opt->window = 1;
	snprintf(opt->tag, sizeof(opt->tag), "pid-%ld", (long)getpid());
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "c:s:t:r:w:T:v",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			exit(EXIT_OK);
		case 'b':
			opt->host = optarg;
			break;
		case 'p':
			opt->port = opt_port(optarg);
			break;
		case 'c':
			opt->count = opt_number(optarg, "count", 1, 1000000);
			break;
		case 's':
			opt->size = opt_number(optarg, "size", HDR_LEN, MAX_PAYLOAD);
			break;
		case 't':
			opt->timeout_ms = opt_number(optarg, "timeout", 1, 600000);
			break;
		case 'r':
			opt->retries = opt_number(optarg, "retry count", 0, 100);
			break;
		case 'w':
			opt->window = opt_number(optarg, "window", 1, 1000);
			break;
		case OPT_CONNECT:
			opt->connect = 1;
			break;
		case 'T':
			if (strlen(optarg) > MAX_TAG)
				usage_error("bad tag '%s': at most %d bytes", optarg, MAX_TAG);
			snprintf(opt->tag, sizeof(opt->tag), "%s", optarg);
			break;
		case 'v':
			opt->verbose = 1;
			break;
		default:
			bad_option(c, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->port == NULL)
		usage_error("give the server's port with -p PORT");
	if (strcmp(opt->port, "0") == 0)
		usage_error("bad port '0': a server's port is 1 to 65535");
	if (opt->size < HDR_LEN + (long)strlen(opt->tag))
		usage_error("bad size %ld: the header and the tag '%s' need %zu bytes",
			    opt->size, opt->tag, HDR_LEN + strlen(opt->tag));
	if (opt->window > opt->count)
		opt->window = opt->count;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the datagram ---------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void put16(unsigned char *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static uint16_t get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return ntohs(v);
}

/* Build the datagram for one send: header, tag, then filler that depends
 * on seq, so a reply mixed up with another datagram does not compare
 * equal. */
static void make_datagram(unsigned char *buf, const struct options *opt,
			  uint32_t seq, unsigned try, uint32_t sendno)
{
	size_t taglen = strlen(opt->tag);

	put32(buf, seq);
	put16(buf + 4, (uint16_t)try);
	put16(buf + 6, (uint16_t)taglen);
	put32(buf + 8, sendno);
	memcpy(buf + HDR_LEN, opt->tag, taglen);
	for (size_t i = HDR_LEN + taglen; i < (size_t)opt->size; i++)
		buf[i] = (unsigned char)('a' + (seq + i) % 26);
}

/* ---- the socket ------------------------------------------------------ */

/* Resolve the server's address. A UDP client has nothing to try each
 * address with (no handshake says whether one works), so it takes the
 * first result getaddrinfo gives. */
static int resolve_server(struct run *r)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(r->opt->host, r->opt->port, &hints, &res);
	if (rc != 0) {
		warn("resolve %s: %s", r->opt->host,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	memcpy(&r->server, res->ai_addr, res->ai_addrlen);
	r->serverlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (sl_addr_format((struct sockaddr *)&r->server, r->serverlen,
			   r->server_text, sizeof(r->server_text)) == NULL)
		snprintf(r->server_text, sizeof(r->server_text), "(server)");
	return 0;
}

/* A UDP socket for the server's family; with --connect, connected to it.
 * No bind(): the kernel gives the socket an address and a free port at
 * its first sendto() (or at connect()). */
static int open_socket(struct run *r)
{
	r->fd = socket(r->server.ss_family, SOCK_DGRAM, 0);
	if (r->fd < 0) {
		warn("socket:");
		return -1;
	}
	/* EXERCISE 3: --connect: connect() the UDP socket to the server */
	/* connect() on UDP sends nothing: it fixes the peer address, so that
	 * send()/recv() need none, datagrams from other addresses are
	 * dropped, and ICMP errors about the peer are reported to us. */
	if (r->opt->connect &&
	    connect(r->fd, (struct sockaddr *)&r->server, r->serverlen) < 0) {
		warn("connect %s:", r->server_text);
		return -1;
	}
	/* END EXERCISE 3 */
	return 0;
}

/* Print our own address, which the kernel chose at the first send. */
static void show_local_address(const struct run *r)
{
	struct sockaddr_storage me;
	socklen_t len = sizeof(me);
	char text[SL_ADDRSTRLEN];

	if (getsockname(r->fd, (struct sockaddr *)&me, &len) < 0) {
		warn("getsockname:");
		return;
	}
	if (sl_addr_format((struct sockaddr *)&me, len, text, sizeof(text)) != NULL)
		printf("our socket: %s (bound by the kernel at the first %s)\n",
		       text, r->opt->connect ? "connect()" : "sendto()");
}

/* ECONNREFUSED on a UDP socket: what it means, said once. */
static void report_refused(struct run *r, const char *call, uint32_t seq)
{
	r->refused = 1;
	printf("seq %u: %s: Connection refused: an ICMP port unreachable came back,\n"
	       "  nothing is bound to %s now (only a connected UDP socket is told)\n",
	       (unsigned)seq, call, r->server_text);
}

/* Send one try of one datagram. Returns 0, or -1 when the run must stop. */
static int send_datagram(struct run *r, uint32_t seq)
{
	struct seq_state *s = &r->seqs[seq];
	ssize_t n;

	s->tries++;
	r->sendno++;
	make_datagram(r->out, r->opt, seq, s->tries, r->sendno);
	/* A datagram goes out whole or not at all: no short-write loop. */
	if (r->opt->connect)
		n = send(r->fd, r->out, (size_t)r->opt->size, 0);
	else
		n = sendto(r->fd, r->out, (size_t)r->opt->size, 0,
			   (struct sockaddr *)&r->server, r->serverlen);
	if (n < 0) {
		/* An ICMP error that arrived earlier is reported by whichever
		 * call comes next on a connected socket: this send. */
		if (errno == ECONNREFUSED) {
			report_refused(r, "send", seq);
			return -1;
		}
		warn("send seq %u:", (unsigned)seq);
		return -1;
	}
	if (r->sendno == 1)
		show_local_address(r);
	return 0;
}

/* ---- the window of datagrams in flight --------------------------------- */

static void start_slot(struct run *r, struct slot *sl, uint32_t seq)
{
	sl->seq = seq;
	sl->sent_at_us = now_us();
	if (r->seqs[seq].tries == 0)
		sl->first_sent_us = sl->sent_at_us;
	sl->deadline_us = sl->sent_at_us + r->opt->timeout_ms * 1000;
}

/* Take slot i out of the window (the last slot moves into its place). */
static void remove_slot(struct run *r, long i)
{
	r->slots[i] = r->slots[r->inflight - 1];
	r->inflight--;
}

static long find_slot(const struct run *r, uint32_t seq)
{
	for (long i = 0; i < r->inflight; i++)
		if (r->slots[i].seq == seq)
			return i;
	return -1;
}

/* Send new datagrams while the window has room. */
static int fill_window(struct run *r)
{
	while (r->inflight < r->opt->window && r->next_seq <= (uint32_t)r->opt->count) {
		uint32_t seq = r->next_seq++;

		/* The clock starts before the send: on loopback the reply
		 * may be queued before sendto() has even returned. */
		start_slot(r, &r->slots[r->inflight++], seq);
		if (send_datagram(r, seq) < 0)
			return -1;
	}
	return 0;
}

/* A timer ran out: send that datagram again, or give up on it. */
static int expire_slot(struct run *r, long i)
{
	uint32_t seq = r->slots[i].seq;
	struct seq_state *s = &r->seqs[seq];
	unsigned max_tries = 1 + (unsigned)r->opt->retries;

	/* EXERCISE 2: no reply in time: send it again, or give up on it */
	if (s->tries < max_tries) {
		printf("seq %u: no reply within %ld ms, sending it again (try %u of %u)\n",
		       (unsigned)seq, r->opt->timeout_ms, s->tries + 1, max_tries);
		r->retries++;
		start_slot(r, &r->slots[i], seq);
		return send_datagram(r, seq);
	}
	printf("seq %u: no reply after %u %s, giving up\n", (unsigned)seq,
	       s->tries, s->tries == 1 ? "try" : "tries");
	s->given_up = 1;
	remove_slot(r, i);
	return 0;
	/* END EXERCISE 2 */
}

/* The slot whose timer runs out first, or -1 when the window is empty. */
static long earliest_slot(const struct run *r)
{
	long first = r->inflight > 0 ? 0 : -1;

	for (long i = 1; i < r->inflight; i++)
		if (r->slots[i].deadline_us < r->slots[first].deadline_us)
			first = i;
	return first;
}

/* Handle every slot whose deadline has passed, earliest first. */
static int expire_slots(struct run *r)
{
	long long now = now_us();
	long i;

	while ((i = earliest_slot(r)) >= 0 && r->slots[i].deadline_us <= now)
		if (expire_slot(r, i) < 0)
			return -1;
	return 0;
}

/* Milliseconds until the earliest deadline in the window (rounded up). */
static int wait_ms(const struct run *r)
{
	long long left = r->slots[earliest_slot(r)].deadline_us - now_us();

	return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* ---- replies ----------------------------------------------------------- */

/* Is this datagram, from this address, a faithful echo of one of ours?
 * Fills *seq_out and *try_out when it is. */
static int is_our_reply(struct run *r, size_t n, const struct sockaddr *from,
			socklen_t fromlen, uint32_t *seq_out, unsigned *try_out)
{
	uint32_t seq, sendno;
	unsigned try;

	/* An unconnected socket takes datagrams from anyone: check who. */
	if (!r->opt->connect &&
	    (fromlen != r->serverlen || memcmp(from, &r->server, fromlen) != 0))
		return 0;
	if (n != (size_t)r->opt->size || n < HDR_LEN)
		return 0;
	seq = get32(r->in);
	try = get16(r->in + 4);
	sendno = get32(r->in + 8);
	if (seq < 1 || seq >= r->next_seq || try < 1 || try > r->seqs[seq].tries ||
	    sendno < 1 || sendno > r->sendno)
		return 0;
	make_datagram(r->expect, r->opt, seq, try, sendno);
	if (memcmp(r->expect, r->in, n) != 0)
		return 0;
	*seq_out = seq;
	*try_out = try;
	return 1;
}

/* -v: how long the answered try took, when we know when it was sent. */
static void print_round_trip(const struct slot *sl, uint32_t seq, unsigned try,
			     unsigned tries)
{
	long long now = now_us();

	if (try == tries)
		printf("seq %u: reply to try %u after %.3f ms\n", (unsigned)seq, try,
		       (double)(now - sl->sent_at_us) / 1000.0);
	else if (try == 1)
		printf("seq %u: reply to try 1 after %.3f ms (try %u was already sent)\n",
		       (unsigned)seq, (double)(now - sl->first_sent_us) / 1000.0, tries);
	else
		printf("seq %u: reply to try %u of %u\n", (unsigned)seq, try, tries);
}

/* Book one reply: the first for its seq, a duplicate, late, reordered. */
static void record_reply(struct run *r, uint32_t seq, unsigned try)
{
	struct seq_state *s = &r->seqs[seq];
	uint32_t sendno = get32(r->in + 8);
	long i = find_slot(r, seq);

	s->replies++;
	if (s->replies > 1) {
		printf("seq %u: duplicate reply (to try %u)\n", (unsigned)seq, try);
		return;
	}
	/* Reordered: a datagram sent later was answered first. A retry is a
	 * new send, so its reply arriving after others is not reordering. */
	if (sendno < r->newest_answered) {
		s->reordered = 1;
		printf("seq %u: reply came after that of a datagram sent later: reordered\n",
		       (unsigned)seq);
	}
	if (sendno > r->newest_answered)
		r->newest_answered = sendno;
	if (i >= 0) {
		if (r->opt->verbose)
			print_round_trip(&r->slots[i], seq, try, s->tries);
		remove_slot(r, i);
	} else if (s->given_up) {
		printf("seq %u: late reply (to try %u), after we gave up on it\n",
		       (unsigned)seq, try);
	}
}

/* Receive one datagram that poll() said is there. Returns 0, or -1 when
 * the run must stop. */
static int receive_reply(struct run *r)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint32_t seq = 0;
	unsigned try = 0;
	ssize_t n;

	if (r->opt->connect)
		n = recv(r->fd, r->in, sizeof(r->in), 0);
	else
		n = recvfrom(r->fd, r->in, sizeof(r->in), 0,
			     (struct sockaddr *)&from, &fromlen);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		/* EXERCISE 3: ECONNREFUSED: the server's port is closed */
		/* Only a connected socket hears of the ICMP error. */
		if (errno == ECONNREFUSED) {
			report_refused(r, "recv", r->next_seq - 1);
			return -1;
		}
		/* END EXERCISE 3 */
		warn("recv:");
		return -1;
	}
	if (r->opt->connect) {
		memcpy(&from, &r->server, r->serverlen);
		fromlen = r->serverlen;
	}
	if (!is_our_reply(r, (size_t)n, (struct sockaddr *)&from, fromlen, &seq, &try)) {
		char who[SL_ADDRSTRLEN];

		if (sl_addr_format((struct sockaddr *)&from, fromlen, who, sizeof(who)) == NULL)
			snprintf(who, sizeof(who), "(unknown address)");
		printf("a datagram that is no reply of ours (%zd bytes from %s): ignored\n",
		       n, who);
		r->not_ours++;
		return 0;
	}
	record_reply(r, seq, try);
	return 0;
}

/* Wait up to ms for a datagram and take it. Returns 0, or -1 to stop. */
static int wait_and_receive(struct run *r, int ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	int ready = poll(&pfd, 1, ms);

	if (ready < 0) {
		if (errno == EINTR)
			return 0;
		warn("poll:");
		return -1;
	}
	/* POLLERR: a connected socket has an error waiting (ECONNREFUSED);
	 * recv() is the call that reports it. */
	if (ready > 0 && (pfd.revents & (POLLIN | POLLERR)))
		return receive_reply(r);
	return 0;
}

/* Send everything, keep the window full, resend on timeouts. */
static int transfer(struct run *r)
{
	for (;;) {
		if (fill_window(r) < 0)
			return -1;
		if (r->inflight == 0)
			return 0; /* every datagram answered or given up */
		if (wait_and_receive(r, wait_ms(r)) < 0)
			return -1;
		if (expire_slots(r) < 0)
			return -1;
	}
}

/* After a timeout or a resend, a reply may still be on its way: wait one
 * more timeout for late replies and duplicates. */
static int collect_late_replies(struct run *r)
{
	long long end = now_us() + r->opt->timeout_ms * 1000;
	long long left;

	while ((left = end - now_us()) > 0)
		if (wait_and_receive(r, (int)((left + 999) / 1000)) < 0)
			return -1;
	return 0;
}

/* Was any datagram sent twice or given up on? Then a reply may be late. */
static int late_replies_possible(const struct run *r)
{
	for (uint32_t seq = 1; seq < r->next_seq; seq++)
		if (r->seqs[seq].tries > 1 || r->seqs[seq].given_up)
			return 1;
	return 0;
}

/* ---- the report -------------------------------------------------------- */

enum what { LOST, DUPLICATED, REORDERED };

static int matches(const struct seq_state *s, enum what w)
{
	switch (w) {
	case LOST:
		return s->tries > 0 && s->replies == 0;
	case DUPLICATED:
		return s->replies > 1;
	case REORDERED:
		return s->reordered;
	}
	return 0;
}

/* Print ", NAME N (seq seq ...)" for the sequence numbers that match. */
static long print_list(const struct run *r, const char *name, enum what w)
{
	long n = 0, extra = 0;

	for (uint32_t seq = 1; seq < r->next_seq; seq++)
		if (matches(&r->seqs[seq], w)) {
			n++;
			if (w == DUPLICATED)
				extra += r->seqs[seq].replies - 1;
		}
	printf(", %s %ld", name, w == DUPLICATED ? extra : n);
	if (n == 0)
		return n;
	printf(" (");
	for (uint32_t seq = 1, shown = 0; seq < r->next_seq; seq++)
		if (matches(&r->seqs[seq], w))
			printf(shown++ == 0 ? "%u" : " %u", (unsigned)seq);
	printf(")");
	return n;
}

/* "sent 20, answered 16, lost 4 (5 10 15 20), duplicates 0, ..." */
static long print_summary(const struct run *r)
{
	long sent = (long)r->next_seq - 1, answered = 0, lost;

	for (uint32_t seq = 1; seq < r->next_seq; seq++)
		if (r->seqs[seq].replies > 0)
			answered++;
	printf("sent %ld, answered %ld", sent, answered);
	lost = print_list(r, "lost", LOST);
	print_list(r, "duplicates", DUPLICATED);
	print_list(r, "reordered", REORDERED);
	printf(", retries %ld, not ours %ld\n", r->retries, r->not_ours);
	return lost;
}

/* ---- main -------------------------------------------------------------- */

static int setup(struct run *r, const struct options *opt)
{
	r->opt = opt;
	r->fd = -1;
	r->next_seq = 1;
	r->seqs = calloc((size_t)opt->count + 1, sizeof(*r->seqs));
	r->slots = calloc((size_t)opt->window, sizeof(*r->slots));
	if (r->seqs == NULL || r->slots == NULL) {
		warn("calloc:");
		return -1;
	}
	if (resolve_server(r) < 0 || open_socket(r) < 0)
		return -1;
	printf("%s%ld %s of %ld bytes to %s, timeout %ld ms, %ld %s, window %ld\n",
	       opt->connect ? "connected UDP socket: " : "", opt->count,
	       opt->count == 1 ? "datagram" : "datagrams", opt->size,
	       r->server_text, opt->timeout_ms, opt->retries,
	       opt->retries == 1 ? "retry" : "retries", opt->window);
	return 0;
}

static void teardown(struct run *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->seqs);
	free(r->slots);
	free(r);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct run *r;
	int status = EXIT_OK;
	long lost;

	parse_options(argc, argv, &opt);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Three 64 KiB buffers: on the heap rather than the stack. */
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		die("calloc:");
	if (setup(r, &opt) < 0) {
		teardown(r);
		return EXIT_RUNTIME;
	}
	if (transfer(r) < 0)
		status = EXIT_RUNTIME;
	else if (late_replies_possible(r) && collect_late_replies(r) < 0)
		status = EXIT_RUNTIME;
	lost = print_summary(r);
	if (lost > 0 && status == EXIT_OK)
		status = EXIT_RUNTIME;
	teardown(r);
	return status;
}
