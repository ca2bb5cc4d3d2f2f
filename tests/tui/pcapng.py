"""pcapng.py — read what `socklab --pcap` writes, without tcpdump: the
section header, the interface (its link type), and every frame with its
time and comment; then the TCP segments in those frames. Not a test
itself (test_pcap.py and test_link.py use it)."""
import struct

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def read(path):
    """(linktype, [(ns, frame bytes, comment or None)]). Raises ValueError
    for anything that is not a well-formed little-endian pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    off, linktype, resol, frames = 0, None, 6, []
    while off < len(data):
        if off + 12 > len(data):
            raise ValueError("a block cut short at %d" % off)
        btype, blen = struct.unpack("<II", data[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(data):
            raise ValueError("bad block length %d at %d" % (blen, off))
        if struct.unpack("<I", data[off + blen - 4:off + blen])[0] != blen:
            raise ValueError("block lengths differ at %d" % off)
        body = data[off + 8:off + blen - 4]
        if off == 0:
            if btype != 0x0A0D0D0A or struct.unpack("<I", body[:4])[0] != 0x1A2B3C4D:
                raise ValueError("not a pcapng file (no section header)")
        elif btype == 1:
            linktype = struct.unpack("<H", body[:2])[0]
            for code, value in options(body[8:]):
                if code == 9:
                    resol = value[0]
        elif btype == 6:
            _ifid, hi, lo, caplen, _orig = struct.unpack("<IIIII", body[:20])
            frame = body[20:20 + caplen]
            comment = None
            for code, value in options(body[20 + ((caplen + 3) & ~3):]):
                if code == 1:
                    comment = value.decode()
            ns = ((hi << 32) | lo) * (10 ** (9 - resol))
            frames.append((ns, frame, comment))
        off += blen
    if linktype is None:
        raise ValueError("no interface description block")
    return linktype, frames


def options(buf):
    off = 0
    while off + 4 <= len(buf):
        code, length = struct.unpack("<HH", buf[off:off + 4])
        if code == 0:
            return
        yield code, buf[off + 4:off + 4 + length]
        off += 4 + ((length + 3) & ~3)


def tcp(frame):
    """(src, dst, flags, seq, ack, payload length) of an Ethernet frame
    holding TCP over IPv4 or IPv6, else None."""
    etype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if etype == 0x0800 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        src = "%d.%d.%d.%d" % tuple(ip[12:16])
        dst = "%d.%d.%d.%d" % tuple(ip[16:20])
        seg, seglen = ip[ihl:], total - ihl
    elif etype == 0x86DD and ip[6] == 6:
        src, dst = ip[8:24].hex(), ip[24:40].hex()
        seg, seglen = ip[40:], struct.unpack("!H", ip[4:6])[0]
    else:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", seg[:12])
    doff = (seg[12] >> 4) * 4
    return ("%s:%d" % (src, sport), "%s:%d" % (dst, dport), seg[13], seq, ack, seglen - doff)
