# socklab — one non-recursive Makefile for the library, lessons and tests.
#
#   make            build the library, lessons, visualizer under build/
#   make tests      ... and the test programs (installs cmocka if missing)
#   make run        the lesson menu (socklab, the visualizer)
#   make test       install missing packages, build, run every test
#   make deps       install the Debian packages the build and tests need
#   make slides     record the decks' pictures, render slides/*.md to
#                   build/slides/*.html (needs npm)
#   make install    PREFIX=/usr/local DESTDIR= (make uninstall: the same)
#   make memcheck   the lesson tests with every program under valgrind
#   make bench      the benchmarks (bench/run.sh): designs compared, shim cost
#   make chaos-soak every lesson's solution under CHAOS_RUNS seeded chaos checks
#   make nightly    every suite under the sanitizers, memcheck, chaos-soak, fuzz
#   make fuzz       the fuzz targets under libFuzzer, FUZZ_TIME seconds each
#   make lesson-stats  per lesson source: lines, code, concept, and the floors
#   make SANITIZE=address,undefined test   (or SANITIZE=thread)

CC       ?= cc
CFLAGS   ?= -O2 -g
# The project's own flags are added even when CFLAGS is given on the command
# line (make CFLAGS="-O0 -g -Werror" keeps -std=c11 and the warnings).
override CFLAGS   += -std=c11 -Wall -Wextra -Wshadow -Werror=implicit -pthread
override CPPFLAGS += -D_GNU_SOURCE -Ilib -Ilib/lesson
override LDFLAGS  += -pthread
PREFIX   ?= /usr/local
B        := build
.DEFAULT_GOAL := all

ifdef SANITIZE
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKG_CONFIG ?= pkg-config
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

# Targets that build or run need packages: mk/deps.sh --ensure checks
# (pkg-config, command -v) and installs only when something is missing, so a
# second run is instant. It runs before any rule, so the order is certain.
# Building and running the lessons needs only the build group (a compiler,
# pkg-config, ncursesw, libpcap, liburing); the tests and the benchmark add
# the test group (cmocka, valgrind, tmux, nc, socat, nft, tcpdump, ...).
GOALS := $(or $(MAKECMDGOALS),all)
NO_DEPS_GOALS := deps clean lesson-stats help uninstall
TEST_GOALS := test tests memcheck chaos-soak nightly bench fuzz fuzz-smoke install
DEPS_GROUP := $(if $(filter $(TEST_GOALS) $(B)/tests/%,$(GOALS)),all,$(if $(filter-out $(NO_DEPS_GOALS),$(GOALS)),build))
ifneq ($(DEPS_GROUP),)
ifneq ($(shell mk/deps.sh --ensure $(DEPS_GROUP) >&2; echo $$?),0)
$(error some packages are missing and could not be installed (see above))
endif
endif

# ---- helper library -------------------------------------------------------
LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
LIBSOCKLAB := $(B)/lib/libsocklab.a

# Lesson-side helpers (die, warn, option parsing): the only code allowed to
# print and exit. Kept out of libsocklab.a so the library never does.
LESSON_SRC := $(wildcard lib/lesson/*.c)
LESSON_OBJ := $(LESSON_SRC:%.c=$(B)/%.o)
LIBLESSON  := $(B)/lib/liblesson.a

$(LIBSOCKLAB): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(LIBLESSON): $(LESSON_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

# The trace shim, preloaded into traced programs (LD_PRELOAD). Built without
# sanitizers: a sanitizer runtime must come first in a program, and the
# shim is loaded into programs that were not built with one.
TRACE_SRC := $(wildcard lib/trace/*.c) lib/event.c lib/addr.c
TRACE_OBJ := $(patsubst %.c,$(B)/pic/%.o,$(TRACE_SRC))
SLTRACE   := $(B)/lib/libsltrace.so
NOSAN_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))
PIC_CFLAGS := $(NOSAN_CFLAGS) -fPIC -fvisibility=hidden

$(B)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PIC_CFLAGS) -MMD -MP -c -o $@ $<

$(SLTRACE): $(TRACE_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ -ldl -pthread

# ---- the visualizer: every tui/**/*.c is part of one program, socklab ------
TUI_SRC := $(shell find tui -name '*.c' 2>/dev/null)
TUI_OBJ := $(TUI_SRC:%.c=$(B)/%.o)
SOCKLAB := $(B)/socklab
NCURSES_CFLAGS := $(shell $(PKG_CONFIG) --cflags ncursesw 2>/dev/null)
NCURSES_LIBS   := $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null || echo -lncursesw)
PCAP_LIBS      := $(shell $(PKG_CONFIG) --libs libpcap 2>/dev/null || echo -lpcap)

$(B)/tui/%.o: tui/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itui $(NCURSES_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(SOCKLAB): $(TUI_OBJ) $(LIBSOCKLAB)
	$(CC) -o $@ $(TUI_OBJ) $(LIBSOCKLAB) $(LDFLAGS) $(NCURSES_LIBS) $(PCAP_LIBS)

# ---- exercises: exercise/*.c is one program, socklab-exercise, which
# `socklab exercise|check|progress` runs (git-style subcommand dispatch).
EXERCISE_SRC := $(wildcard exercise/*.c)
SOCKLAB_EXERCISE := $(B)/socklab-exercise

$(B)/exercise/%.o: exercise/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(SOCKLAB_EXERCISE): $(EXERCISE_SRC:%.c=$(B)/%.o) $(LIBSOCKLAB)
	$(CC) -o $@ $^ $(LDFLAGS)

# ---- lessons: every lessons/NN-topic/*.c is one program --------------------
# except common.c: the code a lesson's programs share (lesson 17's socket
# helpers, lesson 18's measuring code), compiled once and linked into each.
LESSON_PROG_SRC := $(filter-out %/common.c,$(wildcard lessons/[0-9]*/*.c))
LESSON_PROGS    := $(LESSON_PROG_SRC:%.c=$(B)/%)
# A lesson may add libraries for one program in its lesson.mk, e.g.
#   LIBS_10-async/server := -luring
-include $(wildcard lessons/[0-9]*/lesson.mk)

# The lesson's common.o, for a program whose folder has a common.c.
common_of = $(if $(wildcard $(dir $(1))common.c),$(B)/$(dir $(1))common.o)

.SECONDEXPANSION:
$(B)/lessons/%: lessons/%.c $$(call common_of,lessons/%.c) $(LIBLESSON) $(LIBSOCKLAB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -o $@ $< $(call common_of,$<) $(LIBLESSON) $(LIBSOCKLAB) $(LDFLAGS) $(LIBS_$*)

# ---- benchmarks: every bench/*.c is one program ------------------------------
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRC:%.c=$(B)/%)
# A benchmark program may add libraries in bench/bench.mk, e.g.
#   LIBS_bench/loadgen := -lm
-include bench/bench.mk

$(B)/bench/%: bench/%.c $(LIBLESSON) $(LIBSOCKLAB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -o $@ $< $(LIBLESSON) $(LIBSOCKLAB) $(LDFLAGS) $(LIBS_bench/$*)

# ---- fuzz targets ------------------------------------------------------------
# tests/fuzz/fuzz_X.c fuzzes lib/X.c, or the sources it names in a line
# "// SOURCES: lessons/20-http/common.c" near its top (code outside the
# library, as a unit test names it). Two builds of each:
#  - build/tests/fuzz/fuzz_X-corpus: any compiler, no libFuzzer: linked with
#    tests/fuzz/standalone.c, it runs every seed in tests/fuzz/corpus/X/,
#    cut at every length and with single bytes changed. `make test` runs it.
#  - build/tests/fuzz/fuzz_X: clang's libFuzzer with ASan and UBSan, built
#    only where clang can link -fsanitize=fuzzer. `make test` runs it for
#    FUZZ_RUNS inputs; `make fuzz FUZZ_TIME=600` for a real session. It adds
#    what it finds to build/fuzz-corpus/X and only reads the seeds; an
#    input that fails is written beside, build/fuzz-corpus/X-crash-HASH.
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_PLAIN  := $(FUZZ_SRC:%.c=$(B)/%-corpus)
FUZZ_CC     ?= clang
FUZZ_RUNS   ?= 20000
FUZZ_TIME   ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
HAVE_LIBFUZZER := $(shell printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' | \
	$(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1 && echo 1)
FUZZ_BINS   := $(if $(HAVE_LIBFUZZER),$(FUZZ_SRC:%.c=$(B)/%))

fuzz_named = $(shell sed -n 's|^// SOURCES: *||p' $(1))
fuzz_sources = $(or $(call fuzz_named,$(1)),lib/$(2).c)

$(B)/tests/fuzz/fuzz_%-corpus: tests/fuzz/fuzz_%.c tests/fuzz/standalone.c $(LIBSOCKLAB) $$(call fuzz_named,tests/fuzz/fuzz_$$*.c)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DSL_FUZZ_CORPUS='"tests/fuzz/corpus/$*"' $(CFLAGS) -MMD -MP -o $@ $< tests/fuzz/standalone.c $(call fuzz_named,$<) $(LIBSOCKLAB) $(LDFLAGS)

# The fuzzed source is compiled in, with the fuzzer's instrumentation.
$(B)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(call fuzz_sources,tests/fuzz/fuzz_$$*.c,$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_CFLAGS) -o $@ $< $(call fuzz_sources,$<,$*)

fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		x=$${f##*/fuzz_}; mkdir -p $(B)/fuzz-corpus/$$x && \
		$$f -runs=$(FUZZ_RUNS) -artifact_prefix=$(B)/fuzz-corpus/$$x- $(B)/fuzz-corpus/$$x tests/fuzz/corpus/$$x || exit 1; \
	done

fuzz: $(FUZZ_BINS)
	@test -n "$(FUZZ_BINS)" || { echo "fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer"; exit 1; }
	@for f in $(FUZZ_BINS); do \
		x=$${f##*/fuzz_}; mkdir -p $(B)/fuzz-corpus/$$x && \
		$$f -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(B)/fuzz-corpus/$$x- $(B)/fuzz-corpus/$$x tests/fuzz/corpus/$$x || exit 1; \
	done

# ---- tests -----------------------------------------------------------------
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:%.c=$(B)/%)
LTEST_SRC  := $(wildcard tests/lessons/test_*.c)
LTEST_BINS := $(LTEST_SRC:%.c=$(B)/%)
HARNESS_OBJ := $(B)/tests/lessons/harness.o
# Small programs the tests run (e.g. traced under the shim), built with -g
# and without sanitizers, so the shim can be preloaded into them.
TPROG_SRC  := $(wildcard tests/progs/*.c)
TPROG_BINS := $(TPROG_SRC:%.c=$(B)/%)

# A unit test that mocks faults a real socket cannot make on demand names
# the calls it wraps in a line "// WRAP: send recv ..." near its top.
wrap_flags = $(foreach f,$(shell sed -n 's|^// WRAP: *||p' $(1)),-Wl,--wrap=$(f))

# A unit test of code outside the library (the visualizer's pure model)
# compiles those sources in; it names them in a line
# "// SOURCES: tui/model.c ..." near its top.
sources_of = $(shell sed -n 's|^// SOURCES: *||p' $(1))
$(foreach t,$(UNIT_SRC),$(eval $(t:%.c=$(B)/%): $(call sources_of,$(t))))

$(B)/tests/unit/%: tests/unit/%.c $(LIBLESSON) $(LIBSOCKLAB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itui $(CMOCKA_CFLAGS) $(CFLAGS) -MMD -MP -o $@ $< $(call sources_of,$<) $(LIBLESSON) $(LIBSOCKLAB) $(LDFLAGS) $(call wrap_flags,$<) $(CMOCKA_LIBS)

$(B)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(NOSAN_CFLAGS) -g -MMD -MP -o $@ $< -pthread

# The shim tests preload the shim into the helper programs.
$(B)/tests/unit/test_shim $(B)/tests/unit/test_chaos: | $(SLTRACE) $(TPROG_BINS)

$(B)/tests/lessons/%.o: tests/lessons/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lessons $(CMOCKA_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/lessons/test_%: $(B)/tests/lessons/test_%.o $(HARNESS_OBJ) $(LIBSOCKLAB)
	$(CC) -o $@ $^ $(LDFLAGS) $(CMOCKA_LIBS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# ---- top-level targets ---------------------------------------------------------
.SECONDARY:
.PHONY: all tests run test memcheck chaos-soak nightly bench fuzz fuzz-smoke check-slides lesson-stats deps slides install uninstall clean help
# `make` builds what a student runs; `make tests` the test programs too
# (they need cmocka: the test group of mk/deps.sh).
all: $(LIBSOCKLAB) $(LIBLESSON) $(if $(wildcard lib/trace/*.c),$(SLTRACE)) $(if $(TUI_SRC),$(SOCKLAB)) $(if $(EXERCISE_SRC),$(SOCKLAB_EXERCISE)) $(LESSON_PROGS) $(BENCH_BINS)
tests: all $(TPROG_BINS) $(UNIT_BINS) $(LTEST_BINS) $(FUZZ_PLAIN)

# The lesson menu; the lesson programs and the shim are built first.
run: $(SOCKLAB) $(SLTRACE) $(LESSON_PROGS) $(if $(EXERCISE_SRC),$(SOCKLAB_EXERCISE))
	@$(SOCKLAB)

# tests/exercise/test_steps.sh runs once per lesson with an exercise.conf
# (test_steps.sh:05 ...), so the lessons' exercise checks run side by side.
EXERCISE_LESSONS := $(foreach f,$(wildcard lessons/*/exercise.conf),$(firstword $(subst -, ,$(notdir $(patsubst %/,%,$(dir $(f)))))))
# TEST_SKIP leaves test programs out of a run (CI's sanitizer pass leaves
# out what the final make test and make memcheck already cover, to keep CI
# short; make nightly runs everything everywhere). EXERCISE_SKIP does the
# same for exercise tests (EXERCISE_SKIP=tests/exercise/X.sh).
TEST_SKIP ?=
EXERCISE_SKIP ?=
test: tests
	$(if $(FUZZ_BINS),@$(MAKE) --no-print-directory fuzz-smoke)
	@SOCKLAB_BUILD=$(B) $(if $(SANITIZE),CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)") mk/runtests.sh $(filter-out $(TEST_SKIP), \
		$(UNIT_BINS) $(LTEST_BINS) $(FUZZ_PLAIN) tests/slides/check_slides.py \
		$(wildcard tests/tui/test_*.sh tests/tui/test_*.py tests/exercise/test_*.py tests/bench/test_*.py tests/lessons/test_*.py) \
		$(filter-out tests/exercise/test_steps.sh $(EXERCISE_SKIP),$(wildcard tests/exercise/test_*.sh)) \
		$(addprefix tests/exercise/test_steps.sh:,$(EXERCISE_LESSONS)))

# The lesson tests again, every lesson program under valgrind: fails on a
# leak, a memory error, or an fd left open at a normal exit. Two test
# programs at a time (MEMCHECK_JOBS): valgrind is slow and mostly busy on
# one CPU per program; the harness stretches deadlines 20-fold for it.
# The slowest under valgrind (about 110, 100 and 80 s here) start first, so
# that the two at a time end together rather than one of them last.
# MEMCHECK_SKIP leaves test programs out (CI leaves out the concurrency
# suite, which its final make test and ThreadSanitizer pass run; make
# nightly runs it here too).
MEMCHECK_JOBS ?= 2
MEMCHECK_SKIP ?=
MEMCHECK_SLOW := $(filter %/test_20_http %/test_14_udp %/test_concurrency,$(LTEST_BINS))
memcheck: tests
	@SOCKLAB_BUILD=$(B) SOCKLAB_VALGRIND=1 SOCKLAB_TEST_JOBS=$(MEMCHECK_JOBS) mk/runtests.sh \
		$(filter-out $(MEMCHECK_SKIP),$(MEMCHECK_SLOW) $(filter-out $(MEMCHECK_SLOW),$(LTEST_BINS)))

check-slides: $(SOCKLAB) $(SLTRACE) $(LESSON_PROGS)
	@SOCKLAB_BUILD=$(B) python3 tests/slides/check_slides.py

# How much of each lesson source is the lesson (mk/lesson-stats.py says
# how it counts); fails when a server lesson is below the floors.
lesson-stats:
	@python3 mk/lesson-stats.py --check

# Nightly, not in make test (it takes long): every lesson's solution
# must pass CHAOS_RUNS checks with faults made on purpose (--chaos=1..N),
# and every planted bug in tests/exercise/bugs/ must be caught by one.
CHAOS_RUNS ?= 100
chaos-soak: tests
	@SOCKLAB_BUILD=$(B) bash tests/exercise/chaos_soak.sh $(CHAOS_RUNS)

# Nightly: what CI leaves out to stay short, on top of what it runs. Every
# suite under ASan and UBSan (CI skips the two slowest there), under
# valgrind, the chaos soak and the fuzz targets (FUZZ_TIME seconds each).
nightly:
	$(MAKE) --no-print-directory B=build-asan SANITIZE=address,undefined test
	$(MAKE) --no-print-directory memcheck
	$(MAKE) --no-print-directory chaos-soak
	$(if $(FUZZ_BINS),$(MAKE) --no-print-directory fuzz)

# Speed and memory targets are measured here, never in timed unit tests.
bench: tests
	@SOCKLAB_BUILD=$(B) bench/run.sh

deps:
	@mk/deps.sh

# The decks' pictures are recorded runs of the lessons (mk/slides.sh):
# socklab and the lessons are built first. SLIDES_UPDATE=1 also writes the
# pictures into slides/pictures/, to commit with the decks.
slides: $(SOCKLAB) $(SLTRACE) $(LESSON_PROGS)
	@B=$(B) mk/slides.sh

# Everything socklab needs at run time, found from its own path, so any
# PREFIX works and DESTDIR stages it (mk/install.sh says what goes where).
# uninstall removes what the install's manifest lists, and nothing else.
VERSION := $(shell sed -n 's/^\#define SOCKLAB_VERSION "\(.*\)"/\1/p' tui/main.c)

install: tests
	@PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) B=$(B) VERSION=$(VERSION) mk/install.sh install

uninstall:
	@PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) mk/install.sh uninstall

clean:
	rm -rf $(B)

help:
	@sed -n '2,16s/^# \{0,1\}//p' Makefile

-include $(shell find $(B) -name '*.d' 2>/dev/null)
