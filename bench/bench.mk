# bench.mk — extra libraries or sources for one benchmark program each
# (the Makefile includes this). netpair makes hosts the way socklab does.
LIBS_bench/netpair := tui/hosts.c tui/netns.c
$(B)/bench/netpair: tui/hosts.c tui/netns.c tui/hosts.h tui/netns.h
