/* event.c — format and parse trace event lines (see event.h). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"

/* ---- name tables ----------------------------------------------------------- */

struct name {
	int num;
	const char *name;
};

#define NAME(sym) { sym, #sym }

/* Every Linux errno. Aliases follow the name they share a number with, so a
 * number finds the first (canonical) name. */
static const struct name errno_names[] = {
	NAME(EPERM), NAME(ENOENT), NAME(ESRCH), NAME(EINTR), NAME(EIO),
	NAME(ENXIO), NAME(E2BIG), NAME(ENOEXEC), NAME(EBADF), NAME(ECHILD),
	NAME(EAGAIN), NAME(EWOULDBLOCK), NAME(ENOMEM), NAME(EACCES),
	NAME(EFAULT), NAME(ENOTBLK), NAME(EBUSY), NAME(EEXIST), NAME(EXDEV),
	NAME(ENODEV), NAME(ENOTDIR), NAME(EISDIR), NAME(EINVAL), NAME(ENFILE),
	NAME(EMFILE), NAME(ENOTTY), NAME(ETXTBSY), NAME(EFBIG), NAME(ENOSPC),
	NAME(ESPIPE), NAME(EROFS), NAME(EMLINK), NAME(EPIPE), NAME(EDOM),
	NAME(ERANGE), NAME(EDEADLK), NAME(EDEADLOCK), NAME(ENAMETOOLONG),
	NAME(ENOLCK), NAME(ENOSYS), NAME(ENOTEMPTY), NAME(ELOOP), NAME(ENOMSG),
	NAME(EIDRM), NAME(ECHRNG), NAME(EL2NSYNC), NAME(EL3HLT), NAME(EL3RST),
	NAME(ELNRNG), NAME(EUNATCH), NAME(ENOCSI), NAME(EL2HLT), NAME(EBADE),
	NAME(EBADR), NAME(EXFULL), NAME(ENOANO), NAME(EBADRQC), NAME(EBADSLT),
	NAME(EBFONT), NAME(ENOSTR), NAME(ENODATA), NAME(ETIME), NAME(ENOSR),
	NAME(ENONET), NAME(ENOPKG), NAME(EREMOTE), NAME(ENOLINK), NAME(EADV),
	NAME(ESRMNT), NAME(ECOMM), NAME(EPROTO), NAME(EMULTIHOP),
	NAME(EDOTDOT), NAME(EBADMSG), NAME(EOVERFLOW), NAME(ENOTUNIQ),
	NAME(EBADFD), NAME(EREMCHG), NAME(ELIBACC), NAME(ELIBBAD),
	NAME(ELIBSCN), NAME(ELIBMAX), NAME(ELIBEXEC), NAME(EILSEQ),
	NAME(ERESTART), NAME(ESTRPIPE), NAME(EUSERS), NAME(ENOTSOCK),
	NAME(EDESTADDRREQ), NAME(EMSGSIZE), NAME(EPROTOTYPE),
	NAME(ENOPROTOOPT), NAME(EPROTONOSUPPORT), NAME(ESOCKTNOSUPPORT),
	NAME(EOPNOTSUPP), NAME(ENOTSUP), NAME(EPFNOSUPPORT),
	NAME(EAFNOSUPPORT), NAME(EADDRINUSE), NAME(EADDRNOTAVAIL),
	NAME(ENETDOWN), NAME(ENETUNREACH), NAME(ENETRESET),
	NAME(ECONNABORTED), NAME(ECONNRESET), NAME(ENOBUFS), NAME(EISCONN),
	NAME(ENOTCONN), NAME(ESHUTDOWN), NAME(ETOOMANYREFS), NAME(ETIMEDOUT),
	NAME(ECONNREFUSED), NAME(EHOSTDOWN), NAME(EHOSTUNREACH),
	NAME(EALREADY), NAME(EINPROGRESS), NAME(ESTALE), NAME(EUCLEAN),
	NAME(ENOTNAM), NAME(ENAVAIL), NAME(EISNAM), NAME(EREMOTEIO),
	NAME(EDQUOT), NAME(ENOMEDIUM), NAME(EMEDIUMTYPE), NAME(ECANCELED),
	NAME(ENOKEY), NAME(EKEYEXPIRED), NAME(EKEYREVOKED),
	NAME(EKEYREJECTED), NAME(EOWNERDEAD), NAME(ENOTRECOVERABLE),
	NAME(ERFKILL), NAME(EHWPOISON),
};

/* include/net/tcp_states.h; tcpi_state reports these numbers. */
static const struct name state_names[] = {
	{ 1, "ESTABLISHED" }, { 2, "SYN_SENT" }, { 3, "SYN_RECV" },
	{ 4, "FIN_WAIT1" }, { 5, "FIN_WAIT2" }, { 6, "TIME_WAIT" },
	{ 7, "CLOSE" }, { 8, "CLOSE_WAIT" }, { 9, "LAST_ACK" },
	{ 10, "LISTEN" }, { 11, "CLOSING" }, { 12, "NEW_SYN_RECV" },
	{ 13, "BOUND_INACTIVE" },
};

static const struct name family_names[] = {
	NAME(AF_UNIX), NAME(AF_LOCAL), NAME(AF_INET), NAME(AF_INET6),
	NAME(AF_NETLINK), NAME(AF_PACKET),
};

static const struct name socktype_names[] = {
	NAME(SOCK_STREAM), NAME(SOCK_DGRAM), NAME(SOCK_RAW), NAME(SOCK_RDM),
	NAME(SOCK_SEQPACKET),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *table_name(const struct name *t, size_t n, int num)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].num == num)
			return t[i].name;
	return NULL;
}

/* Look up the name s[0..len) (not necessarily NUL-terminated). */
static int table_num(const struct name *t, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(t[i].name) == len && memcmp(t[i].name, s, len) == 0)
			return t[i].num;
	errno = EINVAL;
	return -1;
}

static int table_num_str(const struct name *t, size_t n, const char *s)
{
	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	return table_num(t, n, s, strlen(s));
}

const char *sl_event_errno_name(int err)
{
	return table_name(errno_names, COUNT(errno_names), err);
}

int sl_event_errno_num(const char *name)
{
	return table_num_str(errno_names, COUNT(errno_names), name);
}

const char *sl_event_state_name(int state)
{
	return table_name(state_names, COUNT(state_names), state);
}

int sl_event_state_num(const char *name)
{
	return table_num_str(state_names, COUNT(state_names), name);
}

const char *sl_event_family_name(int family)
{
	return table_name(family_names, COUNT(family_names), family);
}

int sl_event_family_num(const char *name)
{
	return table_num_str(family_names, COUNT(family_names), name);
}

const char *sl_event_socktype_name(int type)
{
	return table_name(socktype_names, COUNT(socktype_names), type);
}

int sl_event_socktype_num(const char *name)
{
	return table_num_str(socktype_names, COUNT(socktype_names), name);
}

static const struct {
	const char *name;
	unsigned class;
} calls[SL_CALL_COUNT] = {
	[SL_CALL_SOCKET] = { "socket", SL_CALLS_NEW_FD },
	[SL_CALL_BIND] = { "bind", 0 },
	[SL_CALL_LISTEN] = { "listen", 0 },
	[SL_CALL_ACCEPT] = { "accept", SL_CALLS_ACCEPT | SL_CALLS_NEW_FD },
	[SL_CALL_ACCEPT4] = { "accept4", SL_CALLS_ACCEPT | SL_CALLS_NEW_FD },
	[SL_CALL_CONNECT] = { "connect", 0 },
	[SL_CALL_SEND] = { "send", SL_CALLS_SEND },
	[SL_CALL_SENDTO] = { "sendto", SL_CALLS_SEND },
	[SL_CALL_SENDMSG] = { "sendmsg", SL_CALLS_SEND },
	[SL_CALL_WRITE] = { "write", SL_CALLS_SEND },
	[SL_CALL_WRITEV] = { "writev", SL_CALLS_SEND },
	[SL_CALL_RECV] = { "recv", SL_CALLS_RECV },
	[SL_CALL_RECVFROM] = { "recvfrom", SL_CALLS_RECV },
	[SL_CALL_RECVMSG] = { "recvmsg", SL_CALLS_RECV },
	[SL_CALL_READ] = { "read", SL_CALLS_RECV },
	[SL_CALL_READV] = { "readv", SL_CALLS_RECV },
	[SL_CALL_CLOSE] = { "close", 0 },
	[SL_CALL_SHUTDOWN] = { "shutdown", 0 },
	[SL_CALL_SELECT] = { "select", SL_CALLS_WAIT },
	[SL_CALL_PSELECT] = { "pselect", SL_CALLS_WAIT },
	[SL_CALL_POLL] = { "poll", SL_CALLS_WAIT },
	[SL_CALL_PPOLL] = { "ppoll", SL_CALLS_WAIT },
	[SL_CALL_EPOLL_WAIT] = { "epoll_wait", SL_CALLS_WAIT },
	[SL_CALL_EPOLL_PWAIT] = { "epoll_pwait", SL_CALLS_WAIT },
	[SL_CALL_EPOLL_PWAIT2] = { "epoll_pwait2", SL_CALLS_WAIT },
	[SL_CALL_FORK] = { "fork", 0 },
};

const char *sl_event_call_name(enum sl_event_call call)
{
	if ((int)call <= (int)SL_CALL_OTHER || (int)call >= (int)SL_CALL_COUNT)
		return NULL;
	return calls[call].name;
}

enum sl_event_call sl_event_call_num(const char *name)
{
	if (name == NULL)
		return SL_CALL_OTHER;
	for (int i = SL_CALL_OTHER + 1; i < SL_CALL_COUNT; i++)
		if (strcmp(calls[i].name, name) == 0)
			return (enum sl_event_call)i;
	return SL_CALL_OTHER;
}

unsigned sl_event_call_class(enum sl_event_call call)
{
	if ((int)call <= (int)SL_CALL_OTHER || (int)call >= (int)SL_CALL_COUNT)
		return 0;
	return calls[call].class;
}

void sl_event_set_call(struct sl_event *ev, const char *name)
{
	size_t n = strlen(name);

	if (n >= sizeof(ev->call))
		n = sizeof(ev->call) - 1;
	memcpy(ev->call, name, n);
	ev->call[n] = '\0';
	ev->call_id = sl_event_call_num(ev->call);
	ev->has |= SL_EV_CALL;
}

static const char *const phase_names[] = {
	[SL_PH_HELLO] = "hello",
	[SL_PH_BEFORE] = "before",
	[SL_PH_AFTER] = "after",
};

const char *sl_event_phase_name(enum sl_event_phase ph)
{
	if ((int)ph <= (int)SL_PH_NONE || (int)ph > (int)SL_PH_AFTER)
		return NULL;
	return phase_names[ph];
}

static const char *const ctl_names[] = {
	[SL_CTL_GO] = "go",
	[SL_CTL_RUN] = "run",
	[SL_CTL_STEP] = "step",
};

/* ---- the fields -------------------------------------------------------------- */

enum kind {
	K_PH,     /* enum sl_event_phase, by name */
	K_U64,    /* uint64_t, decimal */
	K_I32,    /* int32_t, decimal */
	K_I64,    /* int64_t, decimal */
	K_HEX,    /* uint32_t, "0x" and hex digits */
	K_STR,    /* char[size], percent-encoded */
	K_ERR,    /* int32_t: errno name, else decimal */
	K_STATE,  /* int32_t: TCP state name, else decimal */
	K_DOM,    /* int32_t: AF_* name, else decimal */
	K_TYPE    /* int32_t: SOCK_* name, else decimal */
};

struct field {
	const char *key;
	uint32_t bit;   /* 0 for ph, which has no bit: it is always there */
	enum kind kind;
	size_t off;
	size_t size;
};

#define FIELD(key, bit, kind, member) \
	{ key, bit, kind, offsetof(struct sl_event, member), \
	  sizeof(((struct sl_event *)0)->member) }

/* In the order sl_event_format writes them. */
static const struct field fields[] = {
	FIELD("ph", 0, K_PH, ph),
	FIELD("seq", SL_EV_SEQ, K_U64, seq),
	FIELD("pid", SL_EV_PID, K_I32, pid),
	FIELD("tid", SL_EV_TID, K_I32, tid),
	FIELD("ppid", SL_EV_PPID, K_I32, ppid),
	FIELD("call", SL_EV_CALL, K_STR, call),
	FIELD("fd", SL_EV_FD, K_I32, fd),
	FIELD("dom", SL_EV_DOM, K_DOM, dom),
	FIELD("type", SL_EV_TYPE, K_TYPE, type),
	FIELD("proto", SL_EV_PROTO, K_I32, proto),
	FIELD("flags", SL_EV_FLAGS, K_HEX, flags),
	FIELD("len", SL_EV_LEN, K_U64, len),
	FIELD("n", SL_EV_N, K_I64, n),
	FIELD("timeout", SL_EV_TIMEOUT, K_I64, timeout),
	FIELD("a", SL_EV_ADDR, K_STR, addr),
	FIELD("ret", SL_EV_RET, K_I64, ret),
	FIELD("err", SL_EV_ERR, K_ERR, err),
	FIELD("local", SL_EV_LOCAL, K_STR, local),
	FIELD("peer", SL_EV_PEER, K_STR, peer),
	FIELD("state", SL_EV_STATE, K_STATE, state),
	FIELD("ino", SL_EV_INO, K_U64, ino),
	FIELD("at", SL_EV_AT, K_STR, at),
	FIELD("exe", SL_EV_EXE, K_STR, exe),
	FIELD("step", SL_EV_STEP, K_I32, step),
	FIELD("dropped", SL_EV_DROPPED, K_U64, dropped),
	FIELD("t", SL_EV_T, K_U64, t),
};

/* ---- formatting ------------------------------------------------------------- */

struct out {
	char *buf;
	size_t size;
	size_t len;
	int full;  /* something did not fit */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->size - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(o, tmp + i, sizeof(tmp) - i);
}

static void put_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		put(o, "-", 1);
		/* -(v + 1) + 1 avoids overflow for INT64_MIN. */
		put_u64(o, (uint64_t)(-(v + 1)) + 1u);
	} else {
		put_u64(o, (uint64_t)v);
	}
}

static const char hexdigits[] = "0123456789ABCDEF";

static void put_hex(struct out *o, uint32_t v)
{
	char tmp[8];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v != 0);
	put(o, "0x", 2);
	put(o, tmp + i, sizeof(tmp) - i);
}

/* A byte a value may hold as it is. */
static int plain_byte(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '%' && c != '=';
}

static void put_encoded(struct out *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = i;
		unsigned char c;
		char esc[3];

		/* Copy a run of plain bytes at once: most values are one. */
		while (run < n && plain_byte((unsigned char)s[run]))
			run++;
		put(o, s + i, run - i);
		if (run == n)
			break;
		c = (unsigned char)s[run];
		esc[0] = '%';
		esc[1] = hexdigits[c >> 4];
		esc[2] = hexdigits[c & 0xf];
		put(o, esc, 3);
		i = run + 1;
	}
}

/* A name from a table, or the number when it has none. */
static void put_named(struct out *o, const char *name, int32_t v)
{
	if (name != NULL)
		put_str(o, name);
	else
		put_i64(o, v);
}

static int format_field(struct out *o, const struct field *f,
                        const struct sl_event *ev)
{
	const char *p = (const char *)ev + f->off;
	int32_t i32;

	put(o, " ", 1);
	put_str(o, f->key);
	put(o, "=", 1);
	switch (f->kind) {
	case K_PH:
		put_str(o, sl_event_phase_name(ev->ph));
		break;
	case K_U64:
		put_u64(o, *(const uint64_t *)p);
		break;
	case K_I32:
		put_i64(o, *(const int32_t *)p);
		break;
	case K_I64:
		put_i64(o, *(const int64_t *)p);
		break;
	case K_HEX:
		put_hex(o, *(const uint32_t *)p);
		break;
	case K_STR: {
		size_t n = strnlen(p, f->size);

		if (n == f->size) {
			errno = EINVAL;
			return -1;
		}
		put_encoded(o, p, n);
		break;
	}
	case K_ERR:
		i32 = *(const int32_t *)p;
		put_named(o, sl_event_errno_name(i32), i32);
		break;
	case K_STATE:
		i32 = *(const int32_t *)p;
		put_named(o, sl_event_state_name(i32), i32);
		break;
	case K_DOM:
		i32 = *(const int32_t *)p;
		/* AF_LOCAL is an alias; the table finds AF_UNIX first. */
		put_named(o, sl_event_family_name(i32), i32);
		break;
	case K_TYPE:
		i32 = *(const int32_t *)p;
		put_named(o, sl_event_socktype_name(i32), i32);
		break;
	}
	return 0;
}

int sl_event_format(const struct sl_event *ev, char *buf, size_t size)
{
	struct out o = { buf, size, 0, 0 };

	if (ev == NULL || buf == NULL || sl_event_phase_name(ev->ph) == NULL) {
		errno = EINVAL;
		return -1;
	}
	put(&o, "v1", 2);
	for (size_t i = 0; i < COUNT(fields); i++) {
		const struct field *f = &fields[i];

		if (f->bit != 0 && !(ev->has & f->bit))
			continue;
		if (format_field(&o, f, ev) < 0)
			return -1;
	}
	if (o.full) {
		errno = ENOSPC;
		return -1;
	}
	buf[o.len] = '\0';
	return (int)o.len;
}

/* ---- parsing ----------------------------------------------------------------- */

struct tok {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int valid_key(const char *k, size_t n)
{
	if (n == 0 || n > SL_EVENT_KEY_MAX || k[0] < 'a' || k[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

static int valid_value(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '%') {
			if (n - i < 3 || hexval((unsigned char)v[i + 1]) < 0 ||
			    hexval((unsigned char)v[i + 2]) < 0)
				return 0;
			i += 2;
		} else if (!plain_byte(c)) {
			return 0;
		}
	}
	return 1;
}

/* Check "v1" and strip the optional newline; *pos is set past the tag. */
static int parse_header(const char *line, size_t *len, size_t *pos)
{
	if (line == NULL)
		return -1;
	if (*len > 0 && line[*len - 1] == '\n')
		(*len)--;
	if (*len < 2 || line[0] != 'v' || line[1] != '1')
		return -1;
	if (*len > 2 && line[2] != ' ')
		return -1;
	*pos = 2;
	return 0;
}

/* The next " key=value" at *pos. Returns 1 with t filled, 0 at the end of
 * the line, -1 when malformed. Reads only line[*pos..len). */
static int next_token(const char *line, size_t len, size_t *pos, struct tok *t)
{
	size_t p = *pos;
	const char *eq, *sp;

	if (p >= len)
		return 0;
	if (line[p] != ' ')
		return -1;
	p++;
	eq = memchr(line + p, '=', len - p);
	if (eq == NULL)
		return -1;
	t->key = line + p;
	t->klen = (size_t)(eq - t->key);
	if (!valid_key(t->key, t->klen))
		return -1;
	p += t->klen + 1;
	sp = memchr(line + p, ' ', len - p);
	t->val = line + p;
	t->vlen = sp != NULL ? (size_t)(sp - t->val) : len - p;
	if (!valid_value(t->val, t->vlen))
		return -1;
	*pos = p + t->vlen;
	return 1;
}

/* Decode a valid value into out (size bytes, NUL-terminated). Returns the
 * decoded length, or -1 when it does not fit or holds a NUL byte. */
static long decode(const char *v, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '%') {
			c = (char)(hexval((unsigned char)v[i + 1]) * 16 +
				   hexval((unsigned char)v[i + 2]));
			if (c == '\0')
				return -1;
			i += 2;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/* Strict decimal: optional '-' (when allowed), then digits; no spaces, no
 * '+'. Fits in [min, max] given as a sign and magnitude pair. */
static int parse_dec(const char *s, int negative_ok, uint64_t max_pos,
                     uint64_t max_neg, int *neg, uint64_t *mag)
{
	uint64_t v = 0;
	size_t i = 0;

	*neg = 0;
	if (s[0] == '-') {
		if (!negative_ok)
			return -1;
		*neg = 1;
		i = 1;
	}
	if (s[i] == '\0')
		return -1;
	for (; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (*neg ? max_neg : max_pos))
		return -1;
	*mag = v;
	return 0;
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	uint64_t mag;
	int neg;

	if (parse_dec(s, min < 0, (uint64_t)max,
		      min < 0 ? (uint64_t)(-(min + 1)) + 1u : 0, &neg, &mag) < 0)
		return -1;
	/* mag may be 2^63 for INT64_MIN: negate in unsigned arithmetic. */
	*out = neg ? (int64_t)(0u - mag) : (int64_t)mag;
	return 0;
}

static int parse_hex32(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (s[0] != '0' || s[1] != 'x' || s[2] == '\0')
		return -1;
	for (i = 2; s[i] != '\0'; i++) {
		int d = hexval((unsigned char)s[i]);

		if (d < 0 || v > (UINT32_MAX >> 4))
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* A name from a table, or a decimal number (any int32_t, so that every
 * value sl_event_format writes reads back). */
static int parse_named(const char *s, const struct name *t, size_t n,
                       int32_t *out)
{
	int64_t v;
	int num;

	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '-') {
		if (parse_i64(s, INT32_MIN, INT32_MAX, &v) < 0)
			return -1;
		*out = (int32_t)v;
		return 0;
	}
	num = table_num(t, n, s, strlen(s));
	if (num < 0)
		return -1;
	*out = num;
	return 0;
}

static int parse_phase(const char *s, enum sl_event_phase *ph)
{
	for (int i = SL_PH_HELLO; i <= SL_PH_AFTER; i++)
		if (strcmp(s, phase_names[i]) == 0) {
			*ph = (enum sl_event_phase)i;
			return 0;
		}
	return -1;
}

/* Store one known field's value. */
static int store(const struct field *f, const struct tok *t,
                 struct sl_event *ev)
{
	char *p = (char *)ev + f->off;
	char num[32];
	int64_t v;

	if (f->kind == K_STR)
		return decode(t->val, t->vlen, p, f->size) < 0 ? -1 : 0;
	/* Every other kind is a short token. */
	if (decode(t->val, t->vlen, num, sizeof(num)) < 0)
		return -1;
	switch (f->kind) {
	case K_PH:
		return parse_phase(num, &ev->ph);
	case K_U64: {
		uint64_t mag;
		int neg;

		if (parse_dec(num, 0, UINT64_MAX, 0, &neg, &mag) < 0)
			return -1;
		*(uint64_t *)p = mag;
		return 0;
	}
	case K_I32:
		if (parse_i64(num, INT32_MIN, INT32_MAX, &v) < 0)
			return -1;
		*(int32_t *)p = (int32_t)v;
		return 0;
	case K_I64:
		return parse_i64(num, INT64_MIN, INT64_MAX, (int64_t *)p);
	case K_HEX:
		return parse_hex32(num, (uint32_t *)p);
	case K_ERR:
		return parse_named(num, errno_names, COUNT(errno_names), (int32_t *)p);
	case K_STATE:
		return parse_named(num, state_names, COUNT(state_names), (int32_t *)p);
	case K_DOM:
		return parse_named(num, family_names, COUNT(family_names), (int32_t *)p);
	case K_TYPE:
		return parse_named(num, socktype_names, COUNT(socktype_names), (int32_t *)p);
	case K_STR:
		break;
	}
	return -1;
}

_Static_assert(sizeof(fields) / sizeof(fields[0]) <= 32,
	       "sl_event_parse tracks the keys seen in a 32-bit mask");

static const struct field *find_field(const char *key, size_t klen, size_t *index)
{
	for (size_t i = 0; i < COUNT(fields); i++)
		if (strlen(fields[i].key) == klen &&
		    memcmp(fields[i].key, key, klen) == 0) {
			*index = i;
			return &fields[i];
		}
	return NULL;
}

int sl_event_parse(const char *line, size_t len, struct sl_event *ev)
{
	uint32_t seen = 0;
	size_t pos;
	struct tok t;
	int rc;

	if (ev == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(ev, 0, sizeof(*ev));
	if (parse_header(line, &len, &pos) < 0)
		goto bad;
	while ((rc = next_token(line, len, &pos, &t)) > 0) {
		size_t i;
		const struct field *f = find_field(t.key, t.klen, &i);

		if (f == NULL)
			continue;   /* a newer shim's field */
		if (seen & (1u << i))
			goto bad;
		seen |= 1u << i;
		if (store(f, &t, ev) < 0)
			goto bad;
		ev->has |= f->bit;
	}
	if (rc < 0 || ev->ph == SL_PH_NONE)
		goto bad;
	if (ev->has & SL_EV_CALL)
		ev->call_id = sl_event_call_num(ev->call);
	return 0;
bad:
	memset(ev, 0, sizeof(*ev));
	errno = EINVAL;
	return -1;
}

/* ---- control messages -------------------------------------------------------- */

int sl_event_ctl_format(enum sl_ctl ctl, char *buf, size_t size)
{
	struct out o = { buf, size, 0, 0 };

	if (buf == NULL || (int)ctl < (int)SL_CTL_GO || (int)ctl > (int)SL_CTL_STEP) {
		errno = EINVAL;
		return -1;
	}
	put(&o, "v1 ctl=", 7);
	put_str(&o, ctl_names[ctl]);
	if (o.full) {
		errno = ENOSPC;
		return -1;
	}
	buf[o.len] = '\0';
	return (int)o.len;
}

int sl_event_ctl_parse(const char *line, size_t len)
{
	int ctl = -1;
	size_t pos;
	struct tok t;
	int rc;

	if (parse_header(line, &len, &pos) < 0)
		goto bad;
	while ((rc = next_token(line, len, &pos, &t)) > 0) {
		char name[8];

		if (t.klen != 3 || memcmp(t.key, "ctl", 3) != 0)
			continue;
		if (ctl != -1 || decode(t.val, t.vlen, name, sizeof(name)) < 0)
			goto bad;
		for (int i = SL_CTL_GO; i <= SL_CTL_STEP; i++)
			if (strcmp(name, ctl_names[i]) == 0)
				ctl = i;
		if (ctl == -1)
			goto bad;
	}
	if (rc < 0 || ctl == -1)
		goto bad;
	return ctl;
bad:
	errno = EINVAL;
	return -1;
}

/* ---- caller locations -------------------------------------------------------- */

int sl_event_at_split(const char *at, char *obj, size_t objsize, uint64_t *off)
{
	const char *plus = NULL, *p;
	uint64_t v = 0;
	size_t n, digits = 0;

	if (at == NULL || obj == NULL || off == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* The last "+0x": a path may itself contain "+0x". */
	for (p = strstr(at, "+0x"); p != NULL; p = strstr(p + 1, "+0x"))
		plus = p;
	if (plus == NULL || plus == at)
		goto bad;
	for (p = plus + 3; *p != '\0'; p++, digits++) {
		int d = hexval((unsigned char)*p);

		if (d < 0 || digits == 16)
			goto bad;
		v = v << 4 | (uint64_t)d;
	}
	if (digits == 0)
		goto bad;
	n = (size_t)(plus - at);
	if (n >= objsize) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(obj, at, n);
	obj[n] = '\0';
	*off = v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
