/* fate.c — the names of what the link did with a segment (model.h). */
#include <string.h>

#include "model.h"

static const char *const names[FATE_COUNT] = {
	[FATE_NONE] = "none",
	[FATE_INFLIGHT] = "inflight",
	[FATE_HELD] = "held",
	[FATE_PASSED] = "passed",
	[FATE_DELAYED] = "delayed",
	[FATE_RELEASED] = "released",
	[FATE_REORDERED] = "reordered",
	[FATE_DUPLICATED] = "duplicated",
	[FATE_DROP_LOSS] = "dropped-loss",
	[FATE_DROP_QUEUE] = "dropped-queue",
	[FATE_DROP_RULE] = "dropped-rule",
	[FATE_DROP_HAND] = "dropped-hand",
};

static const char *const texts[FATE_COUNT] = {
	[FATE_NONE] = "",
	[FATE_INFLIGHT] = "in flight",
	[FATE_HELD] = "HELD on the link",
	[FATE_PASSED] = "passed",
	[FATE_DELAYED] = "delayed",
	[FATE_RELEASED] = "held, then released",
	[FATE_REORDERED] = "reordered",
	[FATE_DUPLICATED] = "duplicated",
	[FATE_DROP_LOSS] = "DROPPED by the link (loss)",
	[FATE_DROP_QUEUE] = "DROPPED by the link (queue full)",
	[FATE_DROP_RULE] = "DROPPED by the link (rule)",
	[FATE_DROP_HAND] = "DROPPED by hand",
};

/* A word for a narrow column: nothing when it simply went through. */
const char *seg_fate_tag(int fate)
{
	switch (fate) {
	case FATE_INFLIGHT: return "in-flight";
	case FATE_HELD: return "HELD";
	case FATE_RELEASED: return "released";
	case FATE_REORDERED: return "reordered";
	case FATE_DUPLICATED: return "duplicated";
	default: return seg_fate_dropped(fate) ? "DROPPED" : "";
	}
}

const char *seg_fate_name(int fate)
{
	return fate >= 0 && fate < FATE_COUNT ? names[fate] : "?";
}

const char *seg_fate_text(int fate)
{
	return fate >= 0 && fate < FATE_COUNT ? texts[fate] : "?";
}

int seg_fate_parse(const char *name)
{
	for (int i = 0; i < FATE_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int seg_fate_dropped(int fate)
{
	return fate == FATE_DROP_LOSS || fate == FATE_DROP_QUEUE || fate == FATE_DROP_RULE ||
	       fate == FATE_DROP_HAND;
}

int seg_fate_delivered(int fate)
{
	return fate == FATE_NONE || fate == FATE_PASSED || fate == FATE_DELAYED ||
	       fate == FATE_RELEASED || fate == FATE_REORDERED || fate == FATE_DUPLICATED;
}
