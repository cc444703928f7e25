/*
 * options: parsing of `webjobs serve` flags from one table.
 */
#define _GNU_SOURCE
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instances.h"

enum kind { K_STRING, K_NUMBER };

struct option_def {
	const char *flag;
	const char *env;
	enum kind kind;
	size_t offset;
	const char *def;
	uint64_t min, max;
	const char *arg;
	const char *help;
};

#define OFF(f) offsetof(struct options, f)

static const struct option_def defs[] = {
	{ "--home", "WEBJOBS_HOME", K_STRING, OFF(home), "./webjobs-home", 0, 0,
	  "DIR", "the home folder of all state" },
	{ "--listen", "WEBJOBS_LISTEN", K_STRING, OFF(listen), "127.0.0.1:8080",
	  0, 0, "ADDR:PORT", "where to listen; port 0 picks a free port" },
	{ "--instance-id", "WEBSITE_INSTANCE_ID", K_STRING, OFF(instance_id),
	  NULL, 0, 0, "ID", "this instance's id (default: the host name)" },
	{ "--temp", NULL, K_STRING, OFF(temp), NULL, 0, 0, "DIR",
	  "working copies of jobs (default: $TMPDIR/webjobs-ID)" },
	{ "--auth-file", NULL, K_STRING, OFF(auth_file), NULL, 0, 0, "FILE",
	  "credentials, lines of user:crypt-hash" },
	{ "--tls-cert", NULL, K_STRING, OFF(tls_cert), NULL, 0, 0, "FILE",
	  "serve HTTPS with this PEM certificate" },
	{ "--tls-key", NULL, K_STRING, OFF(tls_key), NULL, 0, 0, "FILE",
	  "the PEM key of --tls-cert" },
	{ "--max-upload-size", NULL, K_NUMBER, OFF(max_upload_size),
	  "1073741824", 1, UINT64_MAX / 2, "BYTES", "largest request body" },
	{ "--max-connections", NULL, K_NUMBER, OFF(max_connections), "1024", 1,
	  100000, "N", "most connections at once" },
	{ "--idle-timeout", NULL, K_NUMBER, OFF(idle_timeout), "60", 1, 86400,
	  "SECONDS", "close connections idle this long" },
	{ "--log-file", NULL, K_STRING, OFF(log_file), NULL, 0, 0, "FILE",
	  "the host's own log (default: standard error); reopened on SIGHUP" },
	{ "--log-level", "WEBJOBS_LOG_LEVEL", K_STRING, OFF(log_level), "info",
	  0, 0, "LEVEL", "error, warning, info or debug" },
	{ "--cgroup", "WEBJOBS_CGROUP", K_STRING, OFF(cgroup), NULL, 0, 0, "DIR",
	  "track each job process in a cgroup v2 folder of its own beneath DIR (default: the service's delegated cgroup under systemd, else the host is a subreaper)" },
	{ "--shared-home", "WEBJOBS_SHARED_HOME", K_STRING, OFF(shared_home), "auto", 0, 0,
	  "auto|yes|no", "follow changes other machines make to the home (auto: when it is on a network or FUSE file system; docs/SCALE-OUT.md)" },
	{ "--fence-after", "WEBJOBS_FENCE_AFTER", K_NUMBER, OFF(fence_after), "20", 0, 3600,
	  "SECONDS", "on a shared home: kill every job process when the home has not answered for this long, below the time the storage keeps a lost client's locks (0: never; docs/SCALE-OUT.md)" },
	{ "--run-as", "WEBJOBS_RUN_AS", K_STRING, OFF(run_as), NULL, 0, 0, "USER",
	  "the user jobs run as; a host running as root runs them as nobody unless told (root only by --run-as root)" },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static int set(struct options *o, const struct option_def *d,
	       const char *value, const char *source, char *err, size_t errsz)
{
	char *p = (char *)o + d->offset;

	if (d->kind == K_STRING) {
		char **s = (char **)(void *)p;
		char *copy = strdup(value);

		if (!copy) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		free(*s);
		*s = copy;
		return 0;
	}
	{
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(value, &end, 10);
		if (!*value || *end || errno || value[0] == '-' || v < d->min ||
		    v > d->max) {
			snprintf(err, errsz,
				 "%s: '%s' is not a whole number from %llu to %llu",
				 source, value, (unsigned long long)d->min,
				 (unsigned long long)d->max);
			return -1;
		}
		*(uint64_t *)(void *)p = v;
	}
	return 0;
}

int options_parse(struct options *o, int argc, char **argv, char *err,
		  size_t errsz)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < NDEFS; i++) {
		const char *env = defs[i].env ? getenv(defs[i].env) : NULL;
		const char *v = env && *env ? env : defs[i].def;

		if (v && set(o, &defs[i], v, env && *env ? defs[i].env : defs[i].flag,
			     err, errsz) < 0)
			return -1;
	}
	for (int a = 0; a < argc; a++) {
		const char *arg = argv[a], *value = NULL;
		const char *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		size_t i;

		for (i = 0; i < NDEFS; i++)
			if (strlen(defs[i].flag) == nlen &&
			    strncmp(defs[i].flag, arg, nlen) == 0)
				break;
		if (i == NDEFS) {
			snprintf(err, errsz, "unknown flag '%s' (see: webjobs help serve)", arg);
			return -1;
		}
		if (eq)
			value = eq + 1;
		else if (a + 1 < argc)
			value = argv[++a];
		else {
			snprintf(err, errsz, "%s needs a value (%s)", defs[i].flag,
				 defs[i].arg);
			return -1;
		}
		if (set(o, &defs[i], value, defs[i].flag, err, errsz) < 0)
			return -1;
	}
	if (!o->instance_id) {
		char host[HOST_NAME_MAX + 1] = "localhost";

		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		if (strlen(host) > INSTANCE_ID_MAX)
			host[INSTANCE_ID_MAX] = '\0';
		o->instance_id = strdup(host);
	}
	if (!o->instance_id || !instance_id_valid(o->instance_id)) {
		snprintf(err, errsz,
			 "instance id '%s' is not 1 to 64 of A-Za-z0-9._- (set --instance-id)",
			 o->instance_id ? o->instance_id : "");
		return -1;
	}
	if (!o->temp) {
		const char *tmp = getenv("TMPDIR");

		if (asprintf(&o->temp, "%s/webjobs-%s", tmp && *tmp ? tmp : "/tmp",
			     o->instance_id) < 0)
			o->temp = NULL;
	}
	if (!o->home[0]) {
		snprintf(err, errsz, "--home is empty");
		return -1;
	}
	return 0;
}

void options_free(struct options *o)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (defs[i].kind == K_STRING)
			free(*(char **)(void *)((char *)o + defs[i].offset));
	memset(o, 0, sizeof(*o));
}

void options_usage(FILE *f)
{
	for (size_t i = 0; i < NDEFS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", defs[i].flag, defs[i].arg);
		fprintf(f, "  %-28s %s", left, defs[i].help);
		if (defs[i].def)
			fprintf(f, " [%s]", defs[i].def);
		if (defs[i].env)
			fprintf(f, " ($%s)", defs[i].env);
		fputc('\n', f);
	}
}
