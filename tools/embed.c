/*
 * embed: writes the C source that puts the dashboard's files into the
 * binary (src/dashboard.c serves them). Usage:
 *   embed OUT.c NAME FILE FILE.gz [NAME FILE FILE.gz ...]
 * Each file goes in as it is and gzip-compressed (made by the Makefile with
 * gzip -9n), with a 64-bit FNV-1a hash of its bytes for the ETag. Run at
 * build time only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		perror(path);
		exit(1);
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if (!(p = realloc(p, cap)))
				exit(1);
		}
		got = fread(p + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return p;
}

static void array(FILE *out, const char *name, const unsigned char *p, size_t n)
{
	fprintf(out, "static const unsigned char %s[%zu] = {", name, n ? n : 1);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%u,", i % 20 ? "" : "\n\t", p[i]);
	fprintf(out, "%s\n};\n", n ? "" : "0");
}

int main(int argc, char **argv)
{
	FILE *out;
	int n = (argc - 2) / 3;

	if (argc < 2 || (argc - 2) % 3 != 0) {
		fprintf(stderr, "usage: embed OUT.c NAME FILE FILE.gz ...\n");
		return 2;
	}
	if (!(out = fopen(argv[1], "w")))
		return 1;
	fprintf(out, "/* Made by tools/embed.c from web/: do not edit. */\n"
		     "#include \"dashboard.h\"\n\n");
	for (int i = 0; i < n; i++) {
		size_t len, gzlen;
		unsigned char *raw = slurp(argv[3 + 3 * i], &len), *gz = slurp(argv[4 + 3 * i], &gzlen);
		uint64_t h = 14695981039346656037ULL;
		char name[32];

		for (size_t k = 0; k < len; k++)
			h = (h ^ raw[k]) * 1099511628211ULL;
		snprintf(name, sizeof(name), "raw%d", i);
		array(out, name, raw, len);
		snprintf(name, sizeof(name), "gz%d", i);
		array(out, name, gz, gzlen);
		fprintf(out, "#define LEN%d %zuu\n#define GZLEN%d %zuu\n#define HASH%d 0x%016llxull\n", i,
			len, i, gzlen, i, (unsigned long long)h);
		free(raw);
		free(gz);
	}
	fprintf(out, "\nconst struct dashboard_asset dashboard_assets[] = {\n");
	for (int i = 0; i < n; i++)
		fprintf(out, "\t{ \"%s\", raw%d, LEN%d, gz%d, GZLEN%d, HASH%d },\n", argv[2 + 3 * i], i,
			i, i, i, i);
	fprintf(out, "};\nconst unsigned dashboard_nassets = %d;\n", n);
	return fclose(out) == 0 ? 0 : 1;
}
