/*
 * job: reading one job's folders (job_json.c presents the job as JSON).
 *
 * The binaries folder gives the script folder (descending through lone
 * sub-folders), the script and its host, settings.job and disable.job. The
 * data folder gives the run folders and the markers. Both are read only
 * when the registry says they changed.
 */
#define _GNU_SOURCE
#include "job_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron.h"
#include "files.h"
#include "instances.h"
#include "log.h"
#include "settings.h"
#include "siphash.h"

static uint8_t hash_key[16];
static int hash_key_set;

uint64_t job_hash_bytes(const void *data, size_t len)
{
	if (!hash_key_set) {
		if (getrandom(hash_key, sizeof(hash_key), 0) != sizeof(hash_key))
			memset(hash_key, 0x5a, sizeof(hash_key));
		hash_key_set = 1;
	}
	return siphash24(hash_key, data, len);
}

struct job *job_new(enum job_type type, const char *name)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->type = type;
	j->name = strdup(name);
	j->script_dir = strdup("");
	j->settings = json_object();
	if (!j->name || !j->script_dir || !j->settings) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void free_inst(struct job *j)
{
	for (int i = 0; i < j->ninst; i++)
		free(j->inst[i]);
	free(j->inst);
	j->inst = NULL;
	j->ninst = j->inst_known = 0;
}

/* A continuous job's status file of an instance, seen by a listing. */
static void add_inst(struct job *j, const char *id)
{
	char **v;

	if (j->ninst >= INSTANCES_MAX || !(v = realloc(j->inst, (j->ninst + 1) * sizeof(*v))))
		return;
	j->inst = v;
	if ((v[j->ninst] = strdup(id)))
		j->ninst++;
}

void job_note_own_status(struct job *j, const char *instance, const char *status)
{
	if (!j || (!j->own_id && !(j->own_id = strdup(instance))))
		return;
	snprintf(j->own_status, sizeof(j->own_status), "%s", status);
}

void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->script_dir);
	free(j->run_command);
	json_decref(j->settings);
	free(j->error);
	free(j->runs);
	free_inst(j);
	free(j->own_id);
	free(j->slot_gens);
	runrec_free(&j->latest);
	free(j->body);
	free(j->rest);
	free(j->body_detail);
	free(j->body_prefix);
	free(j);
}

const char *job_name(const struct job *j) { return j->name; }
enum job_type job_type(const struct job *j) { return j->type; }
int job_listed(const struct job *j) { return j->exists && j->run_command; }
const char *job_script_dir(const struct job *j) { return j->script_dir; }
const json_t *job_settings(const struct job *j) { return j->settings; }

const struct script_host *job_host(const struct job *j) { return j->host; }
const char *job_run_command(const struct job *j) { return j->run_command; }
unsigned job_bin_gen(const struct job *j) { return j->bin_gen; }
int job_disabled(const struct job *j) { return j->disabled; }

void job_set_next_run(struct job *j, int64_t ticks)
{
	if (j->next_run != ticks)
		j->body_valid = 0;
	j->next_run = ticks;
}
unsigned job_copy_gen(const struct job *j, int slot)
{
	if (slot <= 1)
		return j->copy_gen;
	return slot - 2 < j->nslot_gens ? j->slot_gens[slot - 2] : 0;
}

void job_set_copy_gen(struct job *j, int slot, unsigned gen)
{
	if (slot <= 1) {
		j->copy_gen = gen;
		return;
	}
	if (slot - 2 >= j->nslot_gens) {
		unsigned *v = realloc(j->slot_gens, (size_t)(slot - 1) * sizeof(*v));

		if (!v)
			return; /* the copy is made again next time */
		for (int k = j->nslot_gens; k < slot - 1; k++)
			v[k] = 0;
		j->slot_gens = v;
		j->nslot_gens = slot - 1;
	}
	j->slot_gens[slot - 2] = gen;
}

const char *job_latest_status(const struct job *j)
{
	return j->has_latest ? j->latest.status : NULL;
}

const char (*job_runs(const struct job *j, size_t *n))[RUN_ID_LEN + 1]
{
	*n = j->nruns;
	return (const char (*)[RUN_ID_LEN + 1])j->runs;
}

int job_runs_partial(const struct job *j) { return j->runs_partial || j->nruns >= MAX_ENTRIES; }

const char *job_newest_run(const struct job *j)
{
	return j->nruns ? j->runs[j->nruns - 1] : NULL;
}

static int is_dir_at(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/* Reads settings.job from the script folder sfd into the job. */
static void read_settings(struct job *j, int sfd)
{
	char err[256], *buf = NULL;
	struct stat st;
	json_t *obj = NULL;
	int fd = openat(sfd, "settings.job", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(err, sizeof(err), "settings.job: %s",
				 strerror(errno));
		else
			obj = json_object();
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, sizeof(err), "settings.job: not a regular file");
		goto out;
	}
	if (st.st_size > SETTINGS_MAX_SIZE) {
		snprintf(err, sizeof(err), "settings.job: larger than %d bytes",
			 SETTINGS_MAX_SIZE);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || (n = pread(fd, buf, (size_t)st.st_size, 0)) < 0) {
		snprintf(err, sizeof(err), "settings.job: cannot read");
		goto out;
	}
	obj = settings_parse(buf, (size_t)n, err, sizeof(err));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(j->error);
	j->error = NULL;
	json_decref(j->settings);
	if (obj) {
		const char *sched = settings_string(obj, "schedule");
		const char *zone = settings_string(obj, "timezone");
		struct cron c;

		j->settings = obj;
		/* A schedule that does not parse is the job's error (docs/API.md, "Schedules"). */
		if (j->type == JOB_TRIGGERED && sched &&
		    cron_parse(sched, &c, err, sizeof(err)) < 0)
			j->error = strdup(err);
		else if (j->type == JOB_TRIGGERED && zone && !cron_zone_valid(zone))
			j->error = strdup("settings.job: unknown time zone in 'timezone'");
		else if (settings_webhook_error(obj))
			j->error = strdup(settings_webhook_error(obj));
		if (j->error && sched && strncmp(j->error, "settings.job", 12) != 0) {
			char *e = NULL;

			if (asprintf(&e, "Invalid schedule '%s': %s", sched, j->error) >= 0) {
				free(j->error);
				j->error = e;
			}
		}
	} else {
		j->settings = json_object();
		j->error = strdup(err);
	}
}

/* Exchanges field f of jobs a and b. */
#define SWAP_FIELD(a, b, f)                                                                        \
	do {                                                                                       \
		__typeof__((a)->f) t_ = (a)->f;                                                    \
		(a)->f = (b)->f;                                                                   \
		(b)->f = t_;                                                                       \
	} while (0)

/* What update_gen takes of the script: its size and time. */
struct file_sig {
	off_t size;
	struct timespec mtim;
};

/* Chooses the script in the script folder sfd; *chosen is its size and
 * time (zeros when there is none). Returns how many of names were gone
 * by the time they were looked at. */
static int choose_script(struct job *j, int sfd, char **names, int n, struct file_sig *chosen)
{
	struct script_entry *e = calloc((size_t)n + 1, sizeof(*e));
	struct file_sig *sigs = calloc((size_t)n + 1, sizeof(*sigs));
	size_t pick;
	const struct script_host *host;
	int vanished = 0;

	memset(chosen, 0, sizeof(*chosen));
	free(j->run_command);
	j->run_command = NULL;
	j->host = NULL;
	if (!e || !sigs) {
		free(e);
		free(sigs);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;

		e[i].name = names[i];
		if (fstatat(sfd, names[i], &st, 0) == 0) {
			e[i].is_file = S_ISREG(st.st_mode);
			e[i].is_exec = (st.st_mode & 0111) != 0;
			sigs[i].size = st.st_size;
			sigs[i].mtim = st.st_mtim;
		} else if (errno == ESTALE ||
			   (errno == ENOENT &&
			    fstatat(sfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)) {
			vanished++; /* listed, and gone since (not a dangling link) */
		}
	}
	host = script_select(e, (size_t)n, &pick);
	if (host) {
		const char *file = names[pick];

		*chosen = sigs[pick];
		j->host = host;
		if (*j->script_dir) {
			if (asprintf(&j->run_command, "%s/%s", j->script_dir,
				     file) < 0)
				j->run_command = NULL;
		} else {
			j->run_command = strdup(file);
		}
	}
	free(sigs);
	free(e);
	return vanished;
}

/* Descends from folder *dfd through lone sub-folders to the script folder
 * (docs/API.md, "Files on disk"): on return *dfd is the script folder (the old fd is closed),
 * dir its path relative to the start, names its sorted entries. Returns
 * the number of entries or a negative errno. */
static int descend(int *dfd, char *dir, size_t dirsz, char ***names)
{
	int n, depth = 0;

	dir[0] = '\0';
	for (;;) {
		int sub;
		size_t len;

		n = files_list_own(*dfd, NULL, MAX_ENTRIES, names);
		if (n != 1 || depth == JOB_MAX_DEPTH || !is_dir_at(*dfd, (*names)[0]))
			return n;
		sub = openat(*dfd, (*names)[0],
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			return n;
		len = strlen(dir);
		snprintf(dir + len, dirsz - len, "%s%s", len ? "/" : "", (*names)[0]);
		close(*dfd);
		*dfd = sub;
		files_free_names(*names, n);
		*names = NULL;
		depth++;
	}
}

int job_probe(int dfd, char *run_command, size_t size)
{
	char dir[PATH_MAX], **names = NULL;
	/* A description of its own: the listing moves its position. */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n, found = 0;
	struct job tmp = { 0 };
	struct file_sig st;

	if (fd < 0)
		return -errno;
	n = descend(&fd, dir, sizeof(dir), &names);
	if (n > 0) {
		tmp.script_dir = dir;
		choose_script(&tmp, fd, names, n, &st);
		if (tmp.run_command) {
			snprintf(run_command, size, "%s", tmp.run_command);
			found = 1;
		}
		free(tmp.run_command);
	}
	files_free_names(names, n < 0 ? 0 : n);
	close(fd);
	return n < 0 ? n : found;
}

/* Bumps bin_gen when the job's content differs from the last scan: the
 * job folder's inode (a deploy swaps it), the script's size and mtime
 * (sst, as choose_script read them), and settings.job. */
static void update_gen(struct job *j, const struct home *h, const struct file_sig *sst)
{
	struct stat jst = { 0 };
	char *settings = json_dumps(j->settings, JSON_COMPACT);
	uint64_t sig[6];
	uint64_t v;

	fstatat(h->jobs_fd[j->type], j->name, &jst, AT_SYMLINK_NOFOLLOW);
	sig[0] = jst.st_ino;
	sig[1] = (uint64_t)sst->size;
	sig[2] = (uint64_t)sst->mtim.tv_sec * 1000000000u + (uint64_t)sst->mtim.tv_nsec;
	sig[3] = j->run_command ? job_hash_bytes(j->run_command, strlen(j->run_command)) : 0;
	sig[4] = settings ? job_hash_bytes(settings, strlen(settings)) : 0;
	sig[5] = j->error ? job_hash_bytes(j->error, strlen(j->error)) : 0;
	free(settings);
	v = job_hash_bytes(sig, sizeof(sig));
	if (v != j->content_sig || j->bin_gen == 0) {
		j->content_sig = v;
		j->bin_gen++;
	}
}

int job_scan_bin(struct job *j, const struct home *h)
{
	/* Read aside, and taken only when the folder read is still the
	 * job's once it has been read. */
	struct job scan = { .type = j->type, .name = j->name };
	char dir[PATH_MAX];
	char **names = NULL;
	struct file_sig sst;
	int top, dfd, n, rc = 1;

	j->body_valid = 0;
	top = openat(h->jobs_fd[j->type], j->name,
		     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (top < 0) {
		/* EBADF: the type folder itself is gone. */
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
			       errno == EBADF
			       ? 0
			       : -errno;
	}
	if ((dfd = dup(top)) < 0) {
		rc = -errno;
		close(top);
		return rc;
	}
	n = descend(&dfd, dir, sizeof(dir), &names);
	scan.script_dir = strdup(dir);
	if (!scan.script_dir)
		rc = -ENOMEM;
	else {
		/* A name listed and gone by its stat, or a listing the folder
		 * was gone for: it changed while it was read (removed whole,
		 * maybe, mark and all). */
		int vanished = choose_script(&scan, dfd, names, n < 0 ? 0 : n, &sst);

		read_settings(&scan, dfd);
		scan.disabled = faccessat(dfd, "disable.job", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		if (vanished || n == -ESTALE || n == -ENOENT || home_being_removed(top))
			rc = -ESTALE;
	}
	files_free_names(names, n < 0 ? 0 : n);
	close(dfd);
	close(top);
	if (rc == 1) {
		j->exists = 1;
		SWAP_FIELD(j, &scan, script_dir);
		SWAP_FIELD(j, &scan, run_command);
		SWAP_FIELD(j, &scan, settings);
		SWAP_FIELD(j, &scan, error);
		j->host = scan.host;
		j->disabled = scan.disabled;
		update_gen(j, h, &sst);
	}
	free(scan.script_dir);
	free(scan.run_command);
	json_decref(scan.settings);
	free(scan.error);
	return rc;
}

int job_open_data(const struct job *j, const struct home *h)
{
	return files_open_read(h->data_fd[j->type], j->name,
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

int job_file_exists(int dfd, const char *id, const char *file)
{
	char path[RUN_ID_LEN + 32];

	snprintf(path, sizeof(path), "%s/%s", id, file);
	return faccessat(dfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int by_run_id(const void *a, const void *b)
{
	return memcmp(a, b, RUN_ID_LEN);
}

/* Room for one more run id. */
static int grow_runs(struct job *j)
{
	if (j->nruns == j->runs_cap) {
		size_t cap = j->runs_cap ? j->runs_cap * 2 : 64;
		void *v = realloc(j->runs, cap * sizeof(*j->runs));

		if (!v)
			return -ENOMEM;
		j->runs = v;
		j->runs_cap = cap;
	}
	return 0;
}

/* One entry of the data folder: a marker, an instance's status file or
 * a run folder. -ENOMEM when the run list cannot grow. */
static int data_entry(struct job *j, int dfd, const struct dirent *de)
{
	const char *name = de->d_name;

	if (strcmp(name, "webjobssdk.marker") == 0) {
		j->using_sdk = 1;
	} else if (strcmp(name, "job_scheduler.log") == 0) {
		j->has_sched_log = 1;
	} else if (j->type == JOB_CONTINUOUS && strncmp(name, "status_", 7) == 0 &&
		   instance_id_valid(name + 7)) {
		add_inst(j, name + 7);
	} else if (j->type == JOB_TRIGGERED && time_is_run_id(name) &&
		   /* d_type saves a stat per run folder (a job may keep thousands) */
		   (de->d_type == DT_DIR || (de->d_type == DT_UNKNOWN && is_dir_at(dfd, name)))) {
		if (grow_runs(j) < 0)
			return -ENOMEM;
		memcpy(j->runs[j->nruns++], name, RUN_ID_LEN + 1);
	}
	return 0;
}

/* The newest readable record of the listed runs, from data folder dfd;
 * was/had: what was known before. */
static void load_latest(struct job *j, int dfd, struct runrec *was, int had)
{
	j->has_latest = 0;
	memset(&j->latest, 0, sizeof(j->latest));
	for (size_t k = j->nruns; k-- > 0;) {
		int rc = runrec_load(dfd, j->runs[k], &j->latest);

		/* A record being replaced may be missing or short for a moment
		 * to a reader on another machine (GlusterFS): what was known of
		 * the same run stands until the next read. */
		if (rc < 0 && had && strcmp(was->id, j->runs[k]) == 0) {
			j->latest = *was;
			memset(was, 0, sizeof(*was));
			rc = 0;
		}
		if (rc == 0) {
			j->has_latest = 1;
			j->latest_out = job_file_exists(dfd, j->runs[k], "output_log.txt");
			j->latest_err = job_file_exists(dfd, j->runs[k], "error_log.txt");
			break;
		}
	}
	/* The same for a listing that missed the run's folder for a moment. */
	if (!j->has_latest && had && is_dir_at(dfd, was->id)) {
		j->latest = *was;
		memset(was, 0, sizeof(*was));
		j->has_latest = 1;
	}
	runrec_free(was);
}

int job_scan_data(struct job *j, const struct home *h)
{
	struct files_dir d;
	const struct dirent *de = NULL;
	int dfd;

	j->body_valid = 0;
	j->using_sdk = j->has_sched_log = 0;
	j->nruns = 0;
	j->runs_partial = 1;
	free_inst(j);
	dfd = job_open_data(j, h);
	if (dfd < 0) {
		j->runs_partial = errno != ENOENT;
		return errno == ENOENT ? 0 : -errno;
	}
	/* Fresh, at offset 0. */
	files_dir_init(&d, dfd);
	errno = 0;
	while (j->nruns < MAX_ENTRIES && (de = files_dir_next(&d)))
		if (data_entry(j, dfd, de) < 0)
			break;
	/* A listing that stopped short (no memory, an error reading it, the
	 * cap) is not the whole folder. */
	j->runs_partial = de != NULL || errno != 0;
	j->inst_known = j->type == JOB_CONTINUOUS;
	if (j->nruns > 1)
		qsort(j->runs, j->nruns, sizeof(*j->runs), by_run_id);
	close(dfd);
	return 0;
}

int job_reload_latest(struct job *j, const struct home *h)
{
	struct runrec was = j->latest;
	int had = j->has_latest, dfd;

	if (!j->nruns && !had)
		return 0; /* nothing to read (a continuous job: never) */
	j->body_valid = 0;
	dfd = job_open_data(j, h);
	if (dfd < 0) {
		/* The folder is gone: so are its runs (its own event says so). */
		j->has_latest = 0;
		memset(&j->latest, 0, sizeof(j->latest));
		runrec_free(&was);
		return errno == ENOENT ? 0 : -errno;
	}
	load_latest(j, dfd, &was, had);
	close(dfd);
	return 0;
}

int job_set_latest(struct job *j, const struct runrec *rec, int placed, int has_out,
		   int has_err)
{
	struct runrec copy;
	const char *newest;
	int rc = placed ? job_note_run(j, rec->id, 1) : 0;

	if (rc < 0)
		return rc;
	/* Not placed just now: its folder may have gone since (its event
	 * took it out of the list), and is not put back. */
	if (!(newest = job_newest_run(j)) || strcmp(newest, rec->id) != 0)
		return 0;
	if (runrec_copy(&copy, rec) < 0)
		return -ENOMEM;
	runrec_free(&j->latest);
	j->latest = copy;
	j->has_latest = 1;
	j->latest_out = has_out;
	j->latest_err = has_err;
	j->body_valid = 0;
	return 1;
}

int job_note_run(struct job *j, const char *id, int came)
{
	size_t lo = 0, hi = j->nruns;
	int found;

	if (!time_is_run_id(id))
		return -EINVAL;
	while (lo < hi) { /* the first id not below id */
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(j->runs[mid], id, RUN_ID_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	found = lo < j->nruns && memcmp(j->runs[lo], id, RUN_ID_LEN) == 0;
	if (!came == !found)
		return 0;
	j->body_valid = 0;
	if (!came) {
		memmove(j->runs[lo], j->runs[lo + 1], (j->nruns - lo - 1) * sizeof(*j->runs));
		j->nruns--;
		return 0;
	}
	if (j->nruns >= MAX_ENTRIES)
		return -ENOSPC;
	if (grow_runs(j) < 0)
		return -ENOMEM;
	memmove(j->runs[lo + 1], j->runs[lo], (j->nruns - lo) * sizeof(*j->runs));
	memcpy(j->runs[lo], id, RUN_ID_LEN + 1);
	j->nruns++;
	return 0;
}
