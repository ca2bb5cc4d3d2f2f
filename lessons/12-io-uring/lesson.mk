# Lesson 12's programs use liburing (Debian: liburing-dev, in mk/deps.sh).
LIBS_12-io-uring/server := -luring
LIBS_12-io-uring/client := -luring
