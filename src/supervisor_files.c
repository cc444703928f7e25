/*
 * supervisor_files: the files a continuous job's machine holds in the
 * job's data folder — its log, this instance's status file (with the
 * instance's liveness lock) and the singleton lock (supervisor.c).
 */
#define _GNU_SOURCE
#include "supervisor_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fence.h"
#include "home.h"
#include "hostcfg.h"
#include "job.h"
#include "log.h"
#include "registry.h"

/* Writes status_{inst} in place: the file carries this instance's
 * liveness lock, so it is never replaced by a rename. */
void sv_publish(struct sv *v, const char *status)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "{\"Status\":\"%s\"}", status);

	if (v->status_fd >= 0 && pwrite(v->status_fd, text, (size_t)n, 0) == n) {
		(void)!ftruncate(v->status_fd, n);
		job_note_own_status(registry_find(v->s->c.registry, JOB_CONTINUOUS, v->name),
				    v->s->c.instance, status);
	}
	joblog_sys(v->log, 0, "Status changed to %s", status);
}

/* Opens the data folder, the log and this instance's status file. */
int sv_open_files(struct sv *v)
{
	struct supervisor *s = v->s;
	const struct home *h = s->c.home;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	char name[INSTANCE_NAME_MAX];
	int rc;

	/* Made only when missing: at a restart of the host every folder is
	 * there (a call less a job of its start). */
	if ((rc = v->dfd = home_open_job_data(h, JOB_CONTINUOUS, v->name)) < 0) {
		v->dfd = -1;
		return rc;
	}
	v->log = joblog_open(v->dfd, "job_log.txt", NULL, s->c.instance);
	joblog_set_rollover(v->log, "job_prev_log.txt", hostcfg_get(s->c.cfg)->log_max_size);
	snprintf(name, sizeof(name), "status_%s", s->c.instance);
	v->status_fd = openat(v->dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	/* A shared lock held as long as this instance lives (docs/API.md). */
	if (v->status_fd >= 0 && fcntl(v->status_fd, F_OFD_SETLK, &fl) < 0)
		log_warn("job %s: cannot lock its status file: %s", v->name, strerror(errno));
	return 0;
}

/* Lets go of the data folder, its log and status files and the singleton
 * lock in it (no process of the job is left to write there). */
void sv_close_files(struct sv *v)
{
	joblog_close(v->log);
	v->log = NULL;
	if (v->status_fd >= 0)
		close(v->status_fd);
	if (v->singleton_fd >= 0)
		close(v->singleton_fd);
	close(v->dfd);
	v->status_fd = v->singleton_fd = v->dfd = -1;
	v->shown = S_COUNT;
}

/* Takes the singleton lock when the job is one; 0 when another instance
 * holds it, or when the shared home is lost (src/fence.c: nothing starts
 * then). A lock taken before the home was lost is taken afresh. */
int sv_take_singleton(struct sv *v)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (!fence_ok())
		return 0;
	if (v->singleton_fd >= 0 && v->epoch != fence_epoch()) {
		close(v->singleton_fd);
		v->singleton_fd = -1;
	}
	if (v->singleton && v->singleton_fd < 0) {
		int fd = openat(v->dfd, "singleton.job.lock",
				O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
		v->singleton_fd = fd;
		v->epoch = fence_epoch();
		joblog_sys(v->log, 0, "WebJob singleton lock is acquired");
	} else if (!v->singleton && v->singleton_fd >= 0) {
		close(v->singleton_fd);
		v->singleton_fd = -1;
		joblog_sys(v->log, 0, "WebJob singleton lock is released");
	}
	return 1;
}

void sv_release_singleton(struct sv *v)
{
	if (v->singleton_fd >= 0) {
		close(v->singleton_fd);
		v->singleton_fd = -1;
		joblog_sys(v->log, 0, "WebJob singleton lock is released");
	}
}
