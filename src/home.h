/*
 * home: the folders of the home (docs/API.md, "Files on disk") and the host's hold on them.
 */
#ifndef WEBJOBS_HOME_H
#define WEBJOBS_HOME_H

#include <stddef.h>

#include "route.h"

struct home {
	char *root;         /* absolute path of the home */
	int fd;             /* the home folder, O_DIRECTORY */
	int jobs_fd[2];     /* site/wwwroot/App_Data/jobs/{type} */
	int data_fd[2];     /* data/jobs/{type} */
	int removal_fd[2];  /* data/jobs/{type}/HOME_REMOVAL_LOCK, or -1 */
	const char *jobs_rel[2]; /* those paths relative to the home */
	const char *data_rel[2];
};

/* "triggered" or "continuous". */
const char *home_type_name(enum job_type t);

/* Opens the home at path (creating it and its folders when missing).
 * Returns 0, or a negative errno with a reason in err. */
int home_open(struct home *h, const char *path, char *err, size_t errsz);

void home_close(struct home *h);

/* Re-opens a type folder after it was removed or replaced (data selects
 * data/jobs/{type} over the binaries). Returns 0, or a negative errno with
 * the folder's fd left at -1 (-ENOENT: it is gone for now). */
int home_reopen(struct home *h, enum job_type t, int data);

/* Creates every missing folder of rel (relative to dfd), mode 0755.
 * Returns 0 or a negative errno. */
int home_mkdirs(int dfd, const char *rel);
/* Opens folder rel of dfd (no symbolic link at its end), made first when
 * missing (home_mkdirs): the descriptor, or a negative errno (-ESTALE:
 * made, or found there, and still not there to open). */
int home_open_dir(int dfd, const char *rel);

/* The file left in a job's folder that is going away: in its data folder
 * before a delete moves it aside (deploy_remove), in a binaries folder
 * before it is emptied (home_remove_marked: a deploy's old binaries, a
 * deleted job's). A folder that holds it is no job's: another machine's
 * file system may still lead the job's name there for a moment
 * (docs/SCALE-OUT.md, "A job deleted on one machine", "A job deployed
 * again on one machine"). */
#define HOME_DELETED_MARK ".deleted"

/* Opens the data folder of job name of type t, made when missing, and
 * refuses one a delete has marked: another machine's file system may still
 * lead the name there for a moment (docs/SCALE-OUT.md, "A job deleted on
 * one machine"). The descriptor, or a negative errno: -ESTALE for a marked
 * folder or a name that leads nowhere. */
int home_open_job_data(const struct home *h, enum job_type t, const char *name);
/* 1 when folder dfd holds HOME_DELETED_MARK (or is gone, to a network
 * client: ESTALE), else 0. */
int home_marked_deleted(int dfd);
/* 1 when folder dfd, opened by a name another machine's file system may
 * still lead to an old folder, is one being removed (home_remove_marked):
 * marked, or gone (ESTALE through a network client, no links left on a
 * local file system). Asked after it was read: what was read is the job's
 * only when this is 0. */
int home_being_removed(int dfd);
/* Removes folder name of dfd, HOME_DELETED_MARK made in it first and
 * removed last: while anything of it is left, a reader led there finds
 * the mark. */
void home_remove_marked(int dfd, const char *name);
/* The same for a job's data folder moved aside by a delete: once marked,
 * it waits (up to HOME_LOCK_WAIT_MS) until no process holds a lock on a
 * file at its top — a run of the job still writing there, on this machine
 * or another — and holds those locks until the folder is gone. A folder
 * removed while another machine writes in it can outlive its removal on
 * one brick of a GlusterFS replica, and a name still cached there leads
 * new runs into it (docs/SCALE-OUT.md, "A job deleted on one machine"). */
#define HOME_LOCK_WAIT_MS 10000
void home_remove_data(int dfd, const char *name, const char *job);
/* The wait alone, for folder fd (the locks are let go at once). */
void home_wait_locks(int fd, int wait_ms);

/* The removal lock of a type's data folders (in data/jobs/{type}), one
 * byte per job name: a delete holds job's byte from taking its data
 * folder's mark away until the folder is gone (home_remove_data); a run
 * holds it shared (type F_RDLCK; F_UNLCK lets go) from its look for the
 * mark until it holds its run lock, so that it never makes a file in a
 * folder in that last instant. Never waits: 0, or -EBUSY while a delete
 * holds it. */
#define HOME_REMOVAL_LOCK ".removal.lock"
int home_removal_lock(const struct home *h, enum job_type t, const char *name, short type);
/* Marks the data folder of job name as deleted (HOME_DELETED_MARK), when
 * it has one; with on 0, takes the mark away. Returns 0 or a negative
 * errno (-ENOENT: no folder). */
int home_mark_deleted(const struct home *h, enum job_type t, const char *name, int on);

/* 1 when name is an acceptable job name (docs/API.md, "Deploying jobs"), else 0. */
int home_valid_job_name(const char *name);

#endif
