/* fuzz_event.c — throw arbitrary bytes at lib/event.c's parser.
 *
 * The parser reads what traced programs and recorded sessions send, so
 * any bytes must be safe: it never reads past the input (the input sits in
 * a buffer of exactly its size, so AddressSanitizer sees an over-read),
 * whatever it accepts must survive a round trip — formatting the parsed
 * event and parsing that again gives the same event and the same text —
 * and its call number must be the one its call name has.
 *
 * Built with libFuzzer (clang -fsanitize=fuzzer,...) or, where that is
 * missing, with tests/fuzz/standalone.c over the seed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_event: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_event ev, back;
	char line[SL_EVENT_LINE_MAX], again[SL_EVENT_LINE_MAX];
	int n;

	(void)sl_event_ctl_parse((const char *)data, size);
	if (sl_event_parse((const char *)data, size, &ev) != 0)
		return 0;
	if (ev.has & SL_EV_CALL) {
		const char *name = sl_event_call_name(ev.call_id);

		require(ev.call_id == sl_event_call_num(ev.call), "call number is not the name's");
		require(ev.call_id == SL_CALL_OTHER || strcmp(name, ev.call) == 0,
			"call name is not the number's");
	} else {
		require(ev.call_id == SL_CALL_OTHER, "a call number without a call");
	}
	n = sl_event_format(&ev, line, sizeof(line));
	require(n >= 0, "an accepted event does not format");
	require(sl_event_parse(line, (size_t)n, &back) == 0, "formatted event does not parse");
	require(memcmp(&ev, &back, sizeof(ev)) == 0, "round trip changed the event");
	require(sl_event_format(&back, again, sizeof(again)) == n &&
		strcmp(line, again) == 0, "round trip changed the text");
	return 0;
}
