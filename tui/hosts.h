/* hosts.h — a small network of the session's own (`--hosts`): each
 * program on a host of its own, joined by the link socklab carries.
 *
 *   host "server" (netns)         socklab (its own netns)        host "client" (netns)
 *    eth0 10.0.0.1 ──veth── m1 ◀─ AF_PACKET ─▶ link ◀─ AF_PACKET ─▶ m2 ──veth── eth0 10.0.0.2
 *
 * Host i (from 1) is a network namespace beside socklab's own (netns.h),
 * with its own lo and an eth0 of the given MTU holding 10.0.0.i/24 and
 * fd00::i/64 and the MAC 02:00:00:00:00:i. Its veth peer, m<i>, stays in
 * socklab's namespace, where the link (link/bridge.c) reads and writes
 * its frames. Every host knows every other host's MAC (permanent
 * neighbour entries), so no ARP or neighbour discovery crosses the link,
 * and IPv6 addresses skip duplicate address detection.
 *
 * eth0 computes its checksums and cuts its own segments (tx checksumming
 * and TSO/GSO off): a frame handed to a veth with an unfinished checksum
 * or as one 64 KB GSO frame cannot be sent on again from userspace (the
 * receiver drops it), and a real link carries MTU-sized frames anyway.
 *
 * Needs a namespace of our own (netns_enter): there we hold CAP_NET_ADMIN
 * over the namespaces we make, as an ordinary user too.
 */
#ifndef TUI_HOSTS_H
#define TUI_HOSTS_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HOSTS_MAX 8
#define HOST_NAME_LEN 24
#define HOST_MTU_MIN 576
#define HOST_MTU_MAX 9000
#define HOST_MTU_DEFAULT 1500

struct host {
	char name[HOST_NAME_LEN];
	int nsfd;                 /* its network namespace */
	int mid_ifindex;          /* its veth end m<i> in socklab's namespace */
	char mid_name[16];
	uint8_t mac[6];
	char addr4[16];           /* "10.0.0.1" */
	char addr6[40];           /* "fd00::1" */
};

struct hosts {
	struct host h[HOSTS_MAX];
	int n;
	int mtu;
};

/* The names of the hosts a lesson needs, in order (the first gets
 * 10.0.0.1). Returns 0, or -1 with err set (a bad name, too many). */
int hosts_add_name(struct hosts *hs, const char *name, char *err, size_t errsize);
/* Make the namespaces and veth pairs for every name added. Returns 0, or
 * -1 with err saying which step failed; hosts_destroy cleans up either
 * way. */
int hosts_create(struct hosts *hs, int mtu, char *err, size_t errsize);
/* Two hosts joined by a plain veth pair, eth0 to eth0, nothing between
 * them: set up as hosts_create does, for comparison (bench/netpair.c). */
int hosts_create_direct(struct hosts *hs, int mtu, char *err, size_t errsize);
/* Close the namespaces' fds (each goes away with its last process). */
void hosts_destroy(struct hosts *hs);

/* The index of host name, or -1. */
int hosts_find(const struct hosts *hs, const char *name);
/* The host whose eth0 has MAC mac, or -1. */
int hosts_by_mac(const struct hosts *hs, const uint8_t mac[6]);
/* Move the calling process into host i's namespace (a child, before it
 * runs a program there). Returns 0 or -1 (errno). */
int hosts_enter(const struct hosts *hs, int i);

/* Is name usable as a host name: a letter, then letters, digits, '-'
 * or '_', shorter than HOST_NAME_LEN? */
static inline int hosts_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= HOST_NAME_LEN || !isalpha((unsigned char)name[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return 0;
	return 1;
}

#endif
