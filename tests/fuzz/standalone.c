/* standalone.c — a main() for the fuzz targets where libFuzzer is missing.
 *
 * Linked with one tests/fuzz/fuzz_X.c, it runs the files (or folders of
 * files) named on the command line, or the folder SL_FUZZ_CORPUS when none
 * is named, through LLVMFuzzerTestOneInput: each input whole, cut at every
 * length, and with each byte set to 0x00 and to 0xff, each from a heap
 * buffer of exactly its size. `make test` runs it over the seed corpus.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long runs;

/* One input in a heap buffer of exactly its size, as libFuzzer does, so
 * ASan (when built with it) catches a read one byte past the end. */
static void run_exact(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size > 0 ? size : 1);

	if (copy == NULL) {
		perror("malloc");
		abort();
	}
	memcpy(copy, data, size);
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
	runs++;
}

/* The input, every prefix of it, and every one-byte change to 0 or 0xff. */
static void run_variants(uint8_t *data, size_t size)
{
	for (size_t n = 0; n <= size; n++)
		run_exact(data, n);
	for (size_t i = 0; i < size; i++) {
		uint8_t saved = data[i];

		data[i] = 0x00;
		run_exact(data, size);
		data[i] = 0xff;
		run_exact(data, size);
		data[i] = saved;
	}
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[65536];
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		return -1;
	}
	fclose(f);
	run_variants(buf, n);
	return 0;
}

/* A file, or every regular file in a folder (not recursive). */
static int run_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	d = opendir(path);
	if (d == NULL) {
		perror(path);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode) && run_file(sub) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
#ifdef SL_FUZZ_CORPUS
		rc = run_path(SL_FUZZ_CORPUS);
#else
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
#endif
	}
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i]) < 0)
			rc = -1;
	if (runs == 0) {
		fprintf(stderr, "%s: no inputs found\n", argv[0]);
		return 1;
	}
	printf("%s: %lu inputs run, no failures\n", argv[0], runs);
	return rc < 0 ? 1 : 0;
}
