# lesson.mk — extra libraries for lesson 16's programs.
# ping computes the standard deviation of its round-trip times (sqrt).
LIBS_16-raw/ping := -lm
