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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_INSTANCES 256
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

int instances_read(int dfd, struct instance_status **out)
{
	DIR *d;
	struct dirent *de;
	struct instance_status *v = NULL;
	int n = 0, fd;

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
		struct instance_status s;
		int sfd;

		if (strncmp(de->d_name, "status_", 7) != 0 ||
		    !instance_id_valid(de->d_name + 7))
			continue;
		sfd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (sfd < 0)
			continue;
		if (!live(sfd)) {
			/* A dead instance's file: ignored, and removed once it is
			 * old enough not to be one just being created. */
			struct stat st;

			if (fstat(sfd, &st) == 0 && time(NULL) - st.st_mtime > DEAD_AFTER_S)
				unlinkat(dfd, de->d_name, 0);
		} else if (read_status(sfd, s.status, sizeof(s.status)) == 0) {
			struct instance_status *nv = realloc(v, sizeof(*v) * (size_t)(n + 1));

			if (!nv) {
				close(sfd);
				break;
			}
			v = nv;
			strcpy(s.id, de->d_name + 7);
			v[n++] = s;
		}
		close(sfd);
	}
	closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), by_id);
	*out = v;
	return n;
}
