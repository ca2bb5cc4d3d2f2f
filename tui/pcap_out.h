/* pcap_out.h — `--pcap FILE`: the segments in a pcapng file, for
 * Wireshark or `tcpdump -r`. Every frame is written once; a frame the
 * link dropped, held or delayed carries a comment that says so (the
 * "frame comment" Wireshark shows, `pkt_comment` in its filters).
 *
 * The format (draft-ietf-opsawg-pcapng): a section header block, one
 * interface description block (Ethernet, timestamps in nanoseconds),
 * then an enhanced packet block per frame, with an opt_comment option
 * when there is something to say. Little-endian, as the machines this
 * runs on.
 */
#ifndef TUI_PCAP_OUT_H
#define TUI_PCAP_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Link types (LINKTYPE_*). */
#define PCAP_OUT_ETHERNET 1

struct pcap_out {
	FILE *f;
	unsigned long written;
	int failed;
};

/* Open path and write the headers: one interface named ifname, of the
 * given link type, frames cut to snaplen. Returns 0, or -1 with the
 * reason in err. */
int pcap_out_open(struct pcap_out *o, const char *path, const char *ifname, int linktype,
                  uint32_t snaplen, char *err, size_t errsize);
/* One frame: caplen bytes of a frame of origlen, at ns nanoseconds since
 * the Unix epoch; comment NULL or "" for none. */
void pcap_out_write(struct pcap_out *o, uint64_t ns, const unsigned char *frame, uint32_t caplen,
                    uint32_t origlen, const char *comment);
/* Flush (so a reader sees what was written so far). */
void pcap_out_flush(struct pcap_out *o);
/* Close; returns -1 when some write failed. */
int pcap_out_close(struct pcap_out *o);

#endif
