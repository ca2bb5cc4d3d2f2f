/* mode.c — what the shim does in this process, decided once, before
 * main(), from the environment: trace (SOCKLAB_TRACE names a visualizer,
 * conn.c), make faults (SOCKLAB_CHAOS, chaos.c), both, or neither. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"

#define LOAD(v) __atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#define STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELEASE)

int sl_enabled = -1;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* The values of the SOCKLAB_ variables the shim reads, found in one pass
 * over the environment: an untraced program pays for one getenv. */
struct settings {
	const char *trace, *step, *chaos, *chaos_faults, *chaos_at, *chaos_log;
};

static void read_settings(struct settings *st)
{
	static const struct { const char *name; size_t off; } vars[] = {
		{ "TRACE=", offsetof(struct settings, trace) },
		{ "STEP=", offsetof(struct settings, step) },
		{ "CHAOS=", offsetof(struct settings, chaos) },
		{ "CHAOS_FAULTS=", offsetof(struct settings, chaos_faults) },
		{ "CHAOS_AT=", offsetof(struct settings, chaos_at) },
		{ "CHAOS_LOG=", offsetof(struct settings, chaos_log) },
	};

	memset(st, 0, sizeof(*st));
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "SOCKLAB_", 8) != 0)
			continue;
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			size_t n = strlen(vars[i].name);

			if (strncmp(*e + 8, vars[i].name, n) == 0)
				*(const char **)((char *)st + vars[i].off) = *e + 8 + n;
		}
	}
}

static void init(void)
{
	struct settings st;
	int saved = errno, mode;

	read_settings(&st);
	mode = sl_conn_setup(st.trace, st.step);
	if (sl_chaos_init(st.chaos, st.chaos_faults, st.chaos_at, st.chaos_log))
		mode |= SL_ON_CHAOS;
	if (mode != 0)
		sl_conn_prepare();
	STORE(sl_enabled, mode);
	errno = saved;
}

int sl_trace_decide(void)
{
	pthread_once(&init_once, init);
	return LOAD(sl_enabled);
}

/* Decide before main(), while the environment is not yet changing. */
__attribute__((constructor)) static void at_load(void)
{
	(void)sl_mode();
}

