/*
 * job_int: the job's fields, shared by job.c (reading its folders) and
 * job_json.c (its JSON). Nothing else includes this.
 */
#ifndef WEBJOBS_JOB_INT_H
#define WEBJOBS_JOB_INT_H

#include "job.h"
#include "instances.h"

#include "runrec.h"

#define MAX_ENTRIES 100000

struct job {
	enum job_type type;
	char *name;
	/* binaries */
	int exists;
	const struct script_host *host;
	char *script_dir;  /* "" or "a/b" */
	char *run_command; /* NULL when no runnable script */
	json_t *settings;  /* never NULL */
	char *error;       /* NULL or a text */
	int disabled;
	unsigned bin_gen, copy_gen;
	unsigned *slot_gens;   /* the copies of slots 2.. (concurrency allow) */
	int nslot_gens;
	int64_t next_run;      /* ticks, 0 when none */
	uint64_t content_sig;  /* what bin_gen counts changes of */
	/* data */
	int using_sdk;
	int has_sched_log;
	char (*runs)[RUN_ID_LEN + 1]; /* ascending */
	size_t nruns, runs_cap;
	int runs_partial;      /* the last listing did not end: some may be missing */
	struct runrec latest; /* the newest readable run */
	int has_latest, latest_out, latest_err;
	char **inst;           /* continuous: the instances' status files seen */
	int ninst, inst_known;
	char *own_id;          /* this instance, and its status of the job */
	char own_status[INSTANCE_STATUS_MAX];
	/* the cached body */
	char *body;
	char *rest;            /* continuous: the body after its status */
	char body_status[INSTANCE_STATUS_MAX]; /* continuous: the status and */
	char *body_detail;     /* detailed_status body was made with */
	size_t body_len;
	uint64_t body_hash;
	char *body_prefix;
	int body_valid;
};

/* The job's data folder, opened (or -1). */
int job_open_data(const struct job *j, const struct home *h);
/* 1 when file exists in run folder id of data folder dfd. */
int job_file_exists(int dfd, const char *id, const char *file);

#endif
