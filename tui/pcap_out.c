/* pcap_out.c — write frames to a pcapng file (see pcap_out.h). */
#include <errno.h>
#include <string.h>

#include "pcap_out.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_END 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9

static uint32_t pad4(size_t n)
{
	return (uint32_t)((n + 3) & ~(size_t)3);
}

static void u16(FILE *f, uint16_t v)
{
	fwrite(&v, sizeof(v), 1, f);
}

static void u32(FILE *f, uint32_t v)
{
	fwrite(&v, sizeof(v), 1, f);
}

static void bytes_padded(FILE *f, const void *p, size_t n)
{
	static const unsigned char zero[4];

	if (n > 0)
		fwrite(p, 1, n, f);
	fwrite(zero, 1, pad4(n) - n, f);
}

/* One option: code, length, value padded to 4 bytes. */
static void option(FILE *f, uint16_t code, const void *value, size_t len)
{
	u16(f, code);
	u16(f, (uint16_t)len);
	bytes_padded(f, value, len);
}

static size_t option_size(size_t len)
{
	return 4 + pad4(len);
}

int pcap_out_open(struct pcap_out *o, const char *path, const char *ifname, int linktype,
                  uint32_t snaplen, char *err, size_t errsize)
{
	static const char appl[] = "socklab";
	const unsigned char tsresol = 9;   /* 10^-9 s */
	uint32_t len;

	memset(o, 0, sizeof(*o));
	o->f = fopen(path, "wb");
	if (o->f == NULL) {
		snprintf(err, errsize, "--pcap %s: %s", path, strerror(errno));
		return -1;
	}
	/* Section header: byte-order magic, version 1.0, length unknown. */
	len = (uint32_t)(28 + option_size(strlen(appl)) + 4);
	u32(o->f, BT_SHB);
	u32(o->f, len);
	u32(o->f, BYTE_ORDER_MAGIC);
	u16(o->f, 1);
	u16(o->f, 0);
	u32(o->f, 0xFFFFFFFFu);
	u32(o->f, 0xFFFFFFFFu);
	option(o->f, OPT_SHB_USERAPPL, appl, strlen(appl));
	option(o->f, OPT_END, NULL, 0);
	u32(o->f, len);
	/* The interface. */
	len = (uint32_t)(20 + option_size(strlen(ifname)) + option_size(1) + 4);
	u32(o->f, BT_IDB);
	u32(o->f, len);
	u16(o->f, (uint16_t)linktype);
	u16(o->f, 0);
	u32(o->f, snaplen);
	option(o->f, OPT_IF_NAME, ifname, strlen(ifname));
	option(o->f, OPT_IF_TSRESOL, &tsresol, 1);
	option(o->f, OPT_END, NULL, 0);
	u32(o->f, len);
	if (fflush(o->f) != 0) {
		snprintf(err, errsize, "--pcap %s: %s", path, strerror(errno));
		fclose(o->f);
		o->f = NULL;
		return -1;
	}
	return 0;
}

void pcap_out_write(struct pcap_out *o, uint64_t ns, const unsigned char *frame, uint32_t caplen,
                    uint32_t origlen, const char *comment)
{
	size_t clen = comment != NULL ? strlen(comment) : 0;
	uint32_t len;

	if (o->f == NULL || o->failed)
		return;
	if (clen > 65000)
		clen = 65000;
	len = (uint32_t)(28 + pad4(caplen) + (clen > 0 ? option_size(clen) + 4 : 0) + 4);
	u32(o->f, BT_EPB);
	u32(o->f, len);
	u32(o->f, 0);                         /* interface 0 */
	u32(o->f, (uint32_t)(ns >> 32));
	u32(o->f, (uint32_t)ns);
	u32(o->f, caplen);
	u32(o->f, origlen);
	bytes_padded(o->f, frame, caplen);
	if (clen > 0) {
		option(o->f, OPT_COMMENT, comment, clen);
		option(o->f, OPT_END, NULL, 0);
	}
	u32(o->f, len);
	if (ferror(o->f))
		o->failed = 1;
	o->written++;
}

void pcap_out_flush(struct pcap_out *o)
{
	if (o->f != NULL && fflush(o->f) != 0)
		o->failed = 1;
}

int pcap_out_close(struct pcap_out *o)
{
	int rc = 0;

	if (o->f == NULL)
		return 0;
	if (fclose(o->f) != 0 || o->failed)
		rc = -1;
	o->f = NULL;
	return rc;
}
