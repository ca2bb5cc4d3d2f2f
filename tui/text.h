/* text.h — bounded string copies that say they may cut the text short
 * (snprintf("%s") does too, but compilers warn about every such use). */
#ifndef TUI_TEXT_H
#define TUI_TEXT_H

#include <stddef.h>
#include <string.h>

/* Copy src into dst (size bytes, NUL-terminated), cut to fit. */
static inline void text_copy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (size == 0)
		return;
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Append src to the NUL-terminated dst, cut to fit. */
static inline void text_append(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(dst, size);

	if (len < size)
		text_copy(dst + len, size - len, src);
}

#endif
