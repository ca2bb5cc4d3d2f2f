/* common.h — what both ends of lesson 04 agree on (the code is in
 * common.c, which the build links into server and client): the three
 * framings, their limits, and the checksum each acknowledgement carries.
 * A sender and a receiver that disagree on any of these cannot understand
 * each other, however TCP delivers the bytes.
 */
#ifndef LESSON04_COMMON_H
#define LESSON04_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The length prefix: a 4-byte unsigned integer, most significant byte
 * first ("network byte order"). */
#define HEADER_LEN 4

/* A fixed record must be able to hold an acknowledgement's text. */
#define RECORD_MIN 32
#define RECORD_MAX 4096
#define RECORD_DEFAULT 32

/* An acknowledgement, "ack SEQ LEN CHECKSUM", is always shorter than this;
 * a longer one is a server breaking the protocol. */
#define ACK_TEXT_MAX 64

enum mode { MODE_FIXED, MODE_DELIM, MODE_LENGTH };

/* "fixed", "delim", "length", in the order of enum mode, then NULL. */
extern const char *const mode_names[];

/* FNV-1a, 32 bits: a checksum short enough to read and to write again in
 * any language. Not for security, only to catch a mangled message. */
uint32_t checksum(const char *p, size_t len);

#endif
