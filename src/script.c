/*
 * script: the table of script hosts and the two-step choice of docs/API.md, "Which file runs":
 * first a file named "run" with a known extension in table order, else the
 * first file in byte order with a known extension, again in table order.
 */
#include "script.h"

#include <string.h>
#include <strings.h>

static const struct script_host hosts[] = {
	{ "ExecutableScriptHost", "", NULL, NULL },
	{ "BashScriptHost", ".sh", "/bin/bash", NULL },
	{ "PythonScriptHost", ".py", "python3", NULL },
	{ "PhpScriptHost", ".php", "php", NULL },
	{ "NodeScriptHost", ".js", "node", NULL },
	{ "JavaScriptHost", ".jar", "java", "-jar" },
};
#define NHOSTS (sizeof(hosts) / sizeof(hosts[0]))

/* 1 when name ends with ext, compared without regard to case. */
static int has_ext(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);

	return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* 1 when entry e is "run" + hosts[h].ext (the bare "run" needs exec). */
static int is_run(const struct script_entry *e, size_t h)
{
	size_t elen = strlen(hosts[h].ext);

	if (!e->is_file || strlen(e->name) != 3 + elen ||
	    strncasecmp(e->name, "run", 3) != 0 ||
	    strcasecmp(e->name + 3, hosts[h].ext) != 0)
		return 0;
	return elen > 0 || e->is_exec;
}

const struct script_host *script_select(const struct script_entry *e,
					size_t n, size_t *chosen)
{
	for (size_t h = 0; h < NHOSTS; h++)
		for (size_t i = 0; i < n; i++)
			if (is_run(&e[i], h)) {
				*chosen = i;
				return &hosts[h];
			}
	for (size_t h = 1; h < NHOSTS; h++) {
		const struct script_entry *best = NULL;

		for (size_t i = 0; i < n; i++)
			if (e[i].is_file && has_ext(e[i].name, hosts[h].ext) &&
			    (!best || strcmp(e[i].name, best->name) < 0))
				best = &e[i];
		if (best) {
			*chosen = (size_t)(best - e);
			return &hosts[h];
		}
	}
	return NULL;
}

const struct script_host *script_host_by_name(const char *file)
{
	for (size_t h = 1; h < NHOSTS; h++)
		if (has_ext(file, hosts[h].ext))
			return &hosts[h];
	return NULL;
}
