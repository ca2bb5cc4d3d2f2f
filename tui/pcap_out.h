/* pcap_out.h — `--pcap FILE`: the captured segments in a pcap file, for
 * Wireshark or `tcpdump -r`, written by libpcap's own dumper. */
#ifndef TUI_PCAP_OUT_H
#define TUI_PCAP_OUT_H

#include <pcap/pcap.h>
#include <stddef.h>

struct pcap_out {
	pcap_dumper_t *d;
	unsigned long written;
};

/* Open path for the frames of the live capture p. Returns 0, or -1 with
 * the reason in err. */
int pcap_out_open(struct pcap_out *o, pcap_t *p, const char *path, char *err, size_t errsize);
void pcap_out_write(struct pcap_out *o, const struct pcap_pkthdr *h, const unsigned char *frame);
/* Flush (so a reader sees what was captured so far). */
void pcap_out_flush(struct pcap_out *o);
void pcap_out_close(struct pcap_out *o);

#endif
