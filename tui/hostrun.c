/* hostrun.c — a session on hosts (see hostrun.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostrun.h"
#include "launch.h"
#include "link/link.h"
#include "link/spec.h"
#include "session.h"
#include "text.h"

int hostrun_reserved(const char *name)
{
	return strcmp(name, "port") == 0 || strcmp(name, "addr") == 0;
}

/* The "@NAME" word at the start of cmd, if any: NAME in name (or ""),
 * and the rest of the command. */
static const char *host_word(const char *cmd, char *name, size_t size)
{
	size_t n;

	cmd += strspn(cmd, " \t");
	name[0] = '\0';
	if (*cmd != '@')
		return cmd;
	n = strcspn(cmd + 1, " \t");
	if (n < size) {
		memcpy(name, cmd + 1, n);
		name[n] = '\0';
	}
	cmd += 1 + n;
	return cmd + strspn(cmd, " \t");
}

/* The program's name: the first word, without its folders. */
static void program_name(const char *cmd, char *name, size_t size)
{
	char word[256];
	size_t n = strcspn(cmd, " \t");
	const char *base;

	if (n >= sizeof(word))
		n = sizeof(word) - 1;
	memcpy(word, cmd, n);
	word[n] = '\0';
	base = strrchr(word, '/');
	text_copy(name, size, base ? base + 1 : word);
}

/* The host a command names or implies; "" when it names none usable. */
static void host_of(const char *cmd, char *name, size_t size)
{
	const char *rest = host_word(cmd, name, size);

	if (name[0] == '\0')
		program_name(rest, name, size);
}

static int add_host(struct session *s, const char *name, int strict, char *err, size_t errsize)
{
	if (!hosts_name_ok(name) || hostrun_reserved(name)) {
		if (!strict)
			return 0;   /* only {NAME} needs it: a.out has no address */
		snprintf(err, errsize, "'%s' cannot name a host (a letter, then letters, digits, "
			 "- or _; not port or addr): give the command an @NAME", name);
		return -1;
	}
	return hosts_add_name(&s->hosts, name, err, errsize);
}

static int plan_lines(struct session *s, char *const *lines, int n, char *err, size_t errsize)
{
	char name[64];

	for (int i = 0; i < n; i++) {
		int ms;

		/* "after 500ms @NAME CMD": the host is named after the delay. */
		host_of(launch_after(lines[i], &ms), name, sizeof(name));
		if (add_host(s, name, s->net.on, err, errsize) < 0)
			return -1;
	}
	return 0;
}

/* trace --hosts -- CMD1 -- CMD2: the commands, each ended by a NULL
 * where its "--" was. */
static int plan_trace(struct session *s, char *err, size_t errsize)
{
	char **argv = s->opt.argv;
	int start = 0;

	for (int i = 0;; i++) {
		char name[HOST_NAME_LEN + 8];
		int k = s->net.ncmd;

		if (argv[i] != NULL && strcmp(argv[i], "--") != 0)
			continue;
		if (i == start) {
			snprintf(err, errsize, "an empty command between two --");
			return -1;
		}
		if (k >= HOSTS_MAX) {
			snprintf(err, errsize, "too many commands (at most %d hosts)", HOSTS_MAX);
			return -1;
		}
		if (argv[start][0] == '@') {
			text_copy(name, sizeof(name), argv[start] + 1);
			start++;
			if (start == i) {
				snprintf(err, errsize, "@%s: no command after it", name);
				return -1;
			}
		} else if (k == 0) {
			text_copy(name, sizeof(name), "server");
		} else if (k == 1) {
			text_copy(name, sizeof(name), "client");
		} else {
			snprintf(name, sizeof(name), "client%d", k);
		}
		if (add_host(s, name, 1, err, errsize) < 0)
			return -1;
		s->net.cmd[k] = argv + start;
		s->net.cmd_host[k] = hosts_find(&s->hosts, name);
		s->net.ncmd++;
		if (argv[i] == NULL)
			break;
		argv[i] = NULL;
		start = i + 1;
	}
	return 0;
}

int hostrun_plan(struct session *s, char *err, size_t errsize)
{
	s->launch_host = -1;
	s->net.on = s->opt.hosts || (s->opt.mode == SM_RUN && s->scen != NULL && s->scen->hosts);
	if (s->opt.mode == SM_TRACE && s->opt.hosts)
		return plan_trace(s, err, errsize);
	if (s->opt.mode != SM_RUN || s->scen == NULL)
		return 0;
	if (plan_lines(s, s->scen->run, s->scen->nrun, err, errsize) < 0 ||
	    plan_lines(s, s->scen->then, s->scen->nthen, err, errsize) < 0)
		return -1;
	return 0;
}

static int link_settings(struct session *s, struct link_config *cfg, char *err, size_t errsize)
{
	const char *names[HOSTS_MAX];
	char why[256];

	for (int i = 0; i < s->hosts.n; i++)
		names[i] = s->hosts.h[i].name;
	link_config_default(cfg);
	for (int i = 0; s->opt.mode == SM_RUN && i < s->scen->nlink; i++)
		if (link_spec_parse(cfg, s->scen->link[i], names, s->hosts.n, why, sizeof(why)) < 0) {
			snprintf(err, errsize, "lesson.conf link: %s", why);
			return -1;
		}
	for (int i = 0; i < s->opt.nlink_specs; i++)
		if (link_spec_parse(cfg, s->opt.link_specs[i], names, s->hosts.n, why,
				    sizeof(why)) < 0) {
			snprintf(err, errsize, "--link: %s", why);
			return -1;
		}
	return 0;
}

int hostrun_setup(struct session *s, char *err, size_t errsize)
{
	struct link_config cfg;

	if (!s->net.on)
		return 0;
	if (!s->private_ns) {
		snprintf(err, errsize, "--hosts needs a network namespace of its own, and there is "
			 "none: %s", s->ns_why);
		return -1;
	}
	if (s->hosts.n < 2) {
		snprintf(err, errsize, "--hosts: the programs name only one host (%s); put one "
			 "on another with @NAME", s->hosts.n ? s->hosts.h[0].name : "none");
		return -1;
	}
	if (link_settings(s, &cfg, err, errsize) < 0)
		return -1;
	if (hosts_create(&s->hosts, cfg.mtu ? cfg.mtu : HOST_MTU_DEFAULT, err, errsize) < 0)
		return -1;
	for (int i = 0; i < s->hosts.n; i++) {
		const struct host *h = &s->hosts.h[i];

		if ((s->trace != NULL && s->trace->active &&
		     trace_listen_netns(s->trace, h->nsfd) < 0) ||
		    (s->diag != NULL && diag_add_netns(s->diag, h->nsfd) < 0)) {
			snprintf(err, errsize, "host %s: a socket inside it: %s", h->name,
				 strerror(errno));
			return -1;
		}
		text_copy(s->net.host[i].name, sizeof(s->net.host[i].name), h->name);
		text_copy(s->net.host[i].addr4, sizeof(s->net.host[i].addr4), h->addr4);
		text_copy(s->net.host[i].addr6, sizeof(s->net.host[i].addr6), h->addr6);
	}
	s->net.nhosts = s->hosts.n;
	s->net.hold = cfg.hold;
	s->wire = link_source_new(s, &s->hosts, &cfg, s->opt.pcap_file);
	if (s->wire == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	if (!s->wire->active) {
		snprintf(err, errsize, "the link: %s", s->wire->why);
		return -1;
	}
	return 0;
}

void hostrun_record(struct session *s)
{
	const char *names[HOSTS_MAX];
	char spec[LINK_SPEC_LEN];

	if (!s->net.on || s->wire == NULL || !link_is(s->wire))
		return;
	for (int i = 0; i < s->hosts.n; i++) {
		names[i] = s->hosts.h[i].name;
		rec_link_host(&s->rec, i, s->hosts.h[i].name, s->hosts.h[i].addr4,
			      s->hosts.h[i].addr6);
	}
	if (link_spec_format(&link_engine(s->wire)->cfg, names, s->hosts.n, spec, sizeof(spec)) == 0)
		rec_link_settings(&s->rec, spec, s->started);
}

/* Replace each {NAME} and {NAME6} of a host in text (in place, size
 * bytes). Returns 0, or -1 when it does not fit. */
static int put_addresses(const struct session *s, char *text, size_t size)
{
	char *open = text;

	while ((open = strchr(open, '{')) != NULL) {
		char *close = strchr(open, '}'), word[HOST_NAME_LEN + 2], rest[1024];
		const char *value = NULL;
		size_t n;
		int i;

		if (close == NULL)
			break;
		n = (size_t)(close - open - 1);
		if (n == 0 || n >= sizeof(word)) {
			open = close;
			continue;
		}
		memcpy(word, open + 1, n);
		word[n] = '\0';
		if ((i = hosts_find(&s->hosts, word)) >= 0) {
			value = s->net.on ? s->hosts.h[i].addr4 : "127.0.0.1";
		} else if (word[n - 1] == '6') {
			word[n - 1] = '\0';
			if ((i = hosts_find(&s->hosts, word)) >= 0)
				value = s->net.on ? s->hosts.h[i].addr6 : "::1";
		}
		if (value == NULL) {
			open = close;
			continue;
		}
		text_copy(rest, sizeof(rest), close + 1);
		*open = '\0';
		if (strlen(text) + strlen(value) + strlen(rest) + 1 > size)
			return -1;
		text_append(text, size, value);
		open = text + strlen(text);
		text_append(text, size, rest);
	}
	return 0;
}

int hostrun_command(const struct session *s, const char *cmd, char *out, size_t size, int *host)
{
	char name[64];
	const char *rest = host_word(cmd, name, sizeof(name));

	if (name[0] == '\0')
		program_name(rest, name, sizeof(name));
	*host = s->net.on ? hosts_find(&s->hosts, name) : -1;
	if (strlen(rest) + 1 > size)
		return -1;
	text_copy(out, size, rest);
	return put_addresses(s, out, size);
}

/* ---- trace --hosts ------------------------------------------------------------------ */

/* The port the first command listens on: what it said, or its
 * listening socket in the model. */
static int first_listens(struct session *s)
{
	const struct child *k = &s->kids[0];

	if (s->port[0] != '\0')
		return 1;
	for (int i = 0; i < s->model.nsocks; i++) {
		const struct msock *m = &s->model.socks[i];

		if (m->gone || m->merged || m->state != ST_LISTEN)
			continue;
		for (int h = 0; h < m->nholders; h++)
			if (m->holders[h].pid == k->pid) {
				snprintf(s->port, sizeof(s->port), "%u", (unsigned)m->local.port);
				return 1;
			}
	}
	return 0;
}

static int start_command(struct session *s, int c)
{
	char buf[4096], *argv[256];
	size_t used = 0;
	int argc = 0, rc;

	for (char **w = s->net.cmd[c]; *w != NULL && argc < 255; w++) {
		char word[1024];
		size_t len;

		text_copy(word, sizeof(word), *w);
		if (put_addresses(s, word, sizeof(word)) < 0)
			goto too_long;
		/* {port} and {addr}: what the first command listens on. */
		for (const char *const *key = (const char *const[]){ "{port}", "{addr}", NULL };
		     *key != NULL; key++) {
			char *at;

			while ((at = strstr(word, *key)) != NULL) {
				char rest[1024];
				const char *value = (*key)[1] == 'p' ? s->port : s->addr;

				text_copy(rest, sizeof(rest), at + strlen(*key));
				*at = '\0';
				if (strlen(word) + strlen(value) + strlen(rest) + 1 > sizeof(word))
					goto too_long;
				text_append(word, sizeof(word), value);
				text_append(word, sizeof(word), rest);
			}
		}
		len = strlen(word) + 1;
		if (used + len > sizeof(buf))
			goto too_long;
		memcpy(buf + used, word, len);
		argv[argc++] = buf + used;
		used += len;
	}
	argv[argc] = NULL;
	s->launch_host = s->net.cmd_host[c];
	{
		const char *base = strrchr(argv[0], '/');

		rc = launch_child(s, argv, base ? base + 1 : argv[0], 0);
	}
	s->launch_host = -1;
	return rc;
too_long:
	session_say(s, "cannot start %s: its command line is too long", s->net.cmd[c][0]);
	return -1;
}

int hostrun_trace_next(struct session *s)
{
	if (s->net.next_cmd >= s->net.ncmd)
		return 0;
	if (s->net.next_cmd == 0) {
		s->net.next_cmd = 1;
		return start_command(s, 0);
	}
	if (s->nkids == 0 || (!s->kids[0].exited && !first_listens(s)))
		return 0;
	while (s->net.next_cmd < s->net.ncmd)
		if (start_command(s, s->net.next_cmd++) < 0)
			return -1;
	return 0;
}

int hostrun_trace_all_started(const struct session *s)
{
	return s->net.next_cmd >= s->net.ncmd;
}
