/*
 * instances: the per-instance status files of a continuous job,
 * "status_{inst}" (docs/API.md, "Continuous jobs"). A live instance holds a shared OFD lock on its
 * file; a file whose lock can be taken exclusively belongs to a dead
 * instance and is ignored.
 */
#ifndef WEBJOBS_INSTANCES_H
#define WEBJOBS_INSTANCES_H

#include <stddef.h>

#define INSTANCE_ID_MAX 64
/* The longest status text kept, with its terminating NUL. */
#define INSTANCE_STATUS_MAX 24

struct instance_status {
	char id[INSTANCE_ID_MAX + 1];
	char status[INSTANCE_STATUS_MAX];
};

/* 1 when id is a valid instance id (1 to 64 of A-Za-z0-9._-). */
int instance_id_valid(const char *id);

/* Reads the live status files in the job's data folder dfd into a new
 * array sorted by instance id. Returns the count (0 when the folder is
 * missing) or a negative errno; *out is freed by the caller. */
int instances_read(int dfd, struct instance_status **out);

/* The same for the files of the nids instances named (a listing made
 * earlier); self's status is self_status, not read (NULL: read). dfd -1:
 * only self's is known. */
int instances_read_ids(int dfd, const char *const *ids, int nids, const char *self,
		       const char *self_status, struct instance_status **out);

/* At most this many instances' files are read in a job's folder. */
#define INSTANCES_MAX 256

#endif
