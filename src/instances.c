/*
 * instances: reading the continuous status files of all instances. Each
 * file is tested for a live holder with F_OFD_GETLK, which sees locks held
 * by other processes and by other open files of this process alike, so an
 * instance reading its own status file is counted as alive.
 */
#define _GNU_SOURCE
#include "instances.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_INSTANCES INSTANCES_MAX
#define DEAD_AFTER_S 60

int instance_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len > INSTANCE_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '.' &&
		    id[i] != '_' && id[i] != '-')
			return 0;
	return 1;
}

/* Reads the status text of one file: {"Status":"..."} or a bare word. */
static int read_status(int fd, char *out, size_t size)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	json_t *obj;
	const char *key, *s = NULL;
	json_t *v;

	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	obj = json_loads(buf, 0, NULL);
	if (json_is_object(obj)) {
		json_object_foreach(obj, key, v)
			if (strcasecmp(key, "Status") == 0 && json_is_string(v))
				s = json_string_value(v);
	}
	if (s && strlen(s) < size) {
		strcpy(out, s);
		json_decref(obj);
		return 0;
	}
	json_decref(obj);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (n == 0 || (size_t)n >= size)
		return -EINVAL;
	for (ssize_t i = 0; i < n; i++)
		if (!isalpha((unsigned char)buf[i]))
			return -EINVAL;
	strcpy(out, buf);
	return 0;
}

static int live(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return 0;
	return fl.l_type != F_UNLCK;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct instance_status *)a)->id,
		      ((const struct instance_status *)b)->id);
}

/* Reads file status_{id} into s when a live instance holds it: 1; 0 for
 * a dead instance's file (ignored, and removed once it is old enough not
 * to be one just being created) or none. */
static int read_one(int dfd, const char *id, struct instance_status *s)
{
	char name[INSTANCE_ID_MAX + 8];
	int fd, ok = 0;

	snprintf(name, sizeof(name), "status_%s", id);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (!live(fd)) {
		struct stat st;

		if (fstat(fd, &st) == 0 && time(NULL) - st.st_mtime > DEAD_AFTER_S)
			unlinkat(dfd, name, 0);
	} else if (read_status(fd, s->status, sizeof(s->status)) == 0) {
		snprintf(s->id, sizeof(s->id), "%s", id);
		ok = 1;
	}
	close(fd);
	return ok;
}

int instances_read_ids(int dfd, const char *const *ids, int nids, const char *self,
		       const char *self_status, struct instance_status **out)
{
	struct instance_status *v = nids > 0 ? malloc(sizeof(*v) * (size_t)nids) : NULL;
	int n = 0;

	*out = NULL;
	if (nids > 0 && !v)
		return -ENOMEM;
	for (int i = 0; i < nids; i++) {
		/* This instance's own: known, held by this process. */
		if (self && self_status && strcmp(ids[i], self) == 0) {
			snprintf(v[n].id, sizeof(v[n].id), "%s", ids[i]);
			snprintf(v[n].status, sizeof(v[n].status), "%s", self_status);
			n++;
		} else if (dfd >= 0 && read_one(dfd, ids[i], &v[n])) {
			n++;
		}
	}
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), by_id);
	*out = v;
	return n;
}

int instances_read(int dfd, struct instance_status **out)
{
	DIR *d;
	struct dirent *de;
	const char **ids = NULL;
	int n = 0, fd, rc;

	*out = NULL;
	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) && n < MAX_INSTANCES) {
		const char **nv;

		if (strncmp(de->d_name, "status_", 7) != 0 ||
		    !instance_id_valid(de->d_name + 7))
			continue;
		if (!(nv = realloc(ids, sizeof(*ids) * (size_t)(n + 1))) ||
		    !(nv[n] = strdup(de->d_name + 7))) {
			ids = nv ? nv : ids;
			break;
		}
		ids = nv;
		n++;
	}
	closedir(d);
	rc = instances_read_ids(dfd, ids, n, NULL, NULL, out);
	for (int i = 0; i < n; i++)
		free((char *)ids[i]);
	free(ids);
	return rc;
}
