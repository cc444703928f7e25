/*
 * script: which file of a script folder runs, and with which host
 * (docs/API.md, "Which file runs"). Pure: the caller lists the folder.
 */
#ifndef WEBJOBS_SCRIPT_H
#define WEBJOBS_SCRIPT_H

#include <stddef.h>

struct script_host {
	const char *name; /* "BashScriptHost" */
	const char *ext;  /* ".sh"; "" for the executable `run` */
	const char *program; /* "/bin/bash", NULL: the file itself */
	const char *option;  /* "-jar" or NULL */
};

struct script_entry {
	const char *name;
	int is_file; /* a regular file (after following a link) */
	int is_exec; /* an execute bit is set */
};

/* Chooses the script among n entries. Returns the host, with the index of
 * the chosen entry in *chosen, or NULL when none is runnable. */
const struct script_host *script_select(const struct script_entry *e,
					size_t n, size_t *chosen);

/* The host of a file name by its extension (any case), or NULL. */
const struct script_host *script_host_by_name(const char *file);

#endif
