/* pcap_out.c — write captured frames to a pcap file (see pcap_out.h). */
#include <stdio.h>
#include <string.h>

#include "pcap_out.h"

int pcap_out_open(struct pcap_out *o, pcap_t *p, const char *path, char *err, size_t errsize)
{
	memset(o, 0, sizeof(*o));
	o->d = pcap_dump_open(p, path);
	if (o->d == NULL) {
		snprintf(err, errsize, "--pcap %s: %s", path, pcap_geterr(p));
		return -1;
	}
	return 0;
}

void pcap_out_write(struct pcap_out *o, const struct pcap_pkthdr *h, const unsigned char *frame)
{
	if (o->d == NULL)
		return;
	pcap_dump((unsigned char *)o->d, h, frame);
	o->written++;
}

void pcap_out_flush(struct pcap_out *o)
{
	if (o->d != NULL)
		pcap_dump_flush(o->d);
}

void pcap_out_close(struct pcap_out *o)
{
	if (o->d != NULL)
		pcap_dump_close(o->d);
	o->d = NULL;
}
