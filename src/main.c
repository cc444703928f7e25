/*
 * main: the `webjobs` command and its subcommands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "client.h"
#include "cron.h"
#include "options.h"
#include "server.h"

#ifndef WEBJOBS_VERSION
#define WEBJOBS_VERSION "0.1.0"
#endif

static const struct {
	const char *name;
	const char *synopsis;
	const char *help;
} commands[] = {
	{ "serve", "webjobs serve [FLAGS]",
	  "Runs the WebJobs host: deploys, runs, schedules and supervises the jobs\n"
	  "of its home and serves the Kudu WebJobs REST API over HTTP.\n"
	  "Prints 'webjobs: listening on http://ADDR:PORT' once ready.\n"
	  "SIGTERM or SIGINT: graceful shutdown, exit 0. SIGHUP: reopen --log-file.\n"
	  "Exit 2 on bad flags, an unusable home or a port in use.\n" },
	{ "passwd", "webjobs passwd [--auth-file FILE | --home DIR] USER",
	  "Adds USER or changes its password, read as one line from standard\n"
	  "input, in FILE (a --auth-file of serve), or by default in the\n"
	  "credentials of the home ($WEBJOBS_HOME, else ./webjobs-home).\n"
	  "Only a yescrypt hash of the password is stored.\n" },
	{ "cron", "webjobs cron [--tz ZONE] [--from TIME] [-n N] EXPR | webjobs cron --expand EXPR",
	  "Checks a 6-field cron expression (second minute hour day month weekday)\n"
	  "and prints its next N (default 5) fire times strictly after TIME (ISO 8601,\n"
	  "with or without an offset; default now), as local times in ZONE (default\n"
	  "$WEBSITE_TIME_ZONE, $TZ, else UTC) with their offset. --expand prints the\n"
	  "expanded form used in run triggers. Exit 2: the expression or an option is\n"
	  "invalid; exit 1: the expression never fires.\n" },
	{ "version", "webjobs version", "Prints the version.\n" },
	{ "help", "webjobs help [SUBCOMMAND]", "Prints help on a subcommand.\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "webjobs %s — a WebJobs host for Linux\n\nUsage:\n",
		WEBJOBS_VERSION);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f, "\nClient commands (talk to a running host):\n");
	fflush(f);
	if (f == stdout)
		client_usage();
	else
		fprintf(f, "  list, show, deploy, run, history, logs, start, stop, settings, delete\n");
	fprintf(f, "\nRun 'webjobs help SUBCOMMAND' for more.\n");
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 1) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			printf("Usage: %s\n\n%s", commands[i].synopsis,
			       commands[i].help);
			if (i == 0) {
				printf("\nFlags (environment variables in parentheses):\n");
				options_usage(stdout);
			}
			return 0;
		}
	if (client_help(argv[0]) == 0)
		return 0;
	fprintf(stderr, "webjobs: no subcommand '%s'\n", argv[0]);
	return 2;
}

static int cmd_passwd(int argc, char **argv)
{
	const char *file = NULL, *home = NULL, *user = NULL;
	char line[1024], *path = NULL, *hash;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--auth-file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
			home = argv[++i];
		else if (argv[i][0] == '-' || user) {
			fprintf(stderr, "webjobs: usage: webjobs passwd [--auth-file FILE | --home DIR] USER\n");
			return 2;
		} else
			user = argv[i];
	}
	if (!user || !auth_user_valid(user)) {
		fprintf(stderr, "webjobs: passwd needs a USER of 1 to 64 bytes without ':'\n");
		return 2;
	}
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "webjobs: no password on standard input\n");
		return 2;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (!line[0]) {
		fprintf(stderr, "webjobs: the password is empty\n");
		return 2;
	}
	if (!file) {
		if (!home || !*home)
			home = getenv("WEBJOBS_HOME");
		if (!home || !*home)
			home = "./webjobs-home";
		/* A home that does not exist yet is made, as serve would. */
		if ((rc = auth_make_folder(home)) < 0) {
			fprintf(stderr, "webjobs: cannot make %s/data/webjobs: %s\n", home,
				strerror(-rc));
			return 1;
		}
		path = auth_default_file(home);
		file = path;
	}
	hash = auth_hash_password(line);
	memset(line, 0, sizeof(line));
	if (!hash) {
		fprintf(stderr, "webjobs: cannot hash the password\n");
		free(path);
		return 1;
	}
	rc = auth_file_set(file, user, hash);
	free(hash);
	if (rc < 0) {
		fprintf(stderr, "webjobs: cannot write %s: %s\n", file, strerror(-rc));
		free(path);
		return 1;
	}
	printf("webjobs: password of %s set in %s\n", user, file);
	free(path);
	return 0;
}

static int print_expansion(const struct cron *c)
{
	char *text = cron_expand(c);

	if (!text) {
		fprintf(stderr, "webjobs: out of memory\n");
		return 2;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

static int cmd_cron(int argc, char **argv)
{
	const char *zone = getenv("WEBSITE_TIME_ZONE"), *from = NULL, *expr = NULL;
	char err[256], buf[64];
	long n = 5;
	int expand = 0;
	struct cron c;
	int64_t t;

	if (!zone || !*zone)
		zone = getenv("TZ");
	if (!zone)
		zone = "";
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--tz") == 0 && i + 1 < argc)
			zone = argv[++i];
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			char *end;

			n = strtol(argv[++i], &end, 10);
			if (*end || n < 1 || n > 100000) {
				fprintf(stderr, "webjobs: -n takes a whole number from 1 to 100000\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--expand") == 0)
			expand = 1;
		else if (!expr && (argv[i][0] != '-' || argv[i][1] == '\0'))
			expr = argv[i];
		else {
			fprintf(stderr, "webjobs: usage: %s\n", commands[2].synopsis);
			return 2;
		}
	}
	if (!expr) {
		fprintf(stderr, "webjobs: usage: %s\n", commands[2].synopsis);
		return 2;
	}
	if (zone[0] == ':')
		zone++;
	if (!cron_zone_valid(zone)) {
		fprintf(stderr, "webjobs: unknown time zone '%s'\n", zone);
		return 2;
	}
	if (cron_parse(expr, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "webjobs: invalid schedule '%s': %s\n", expr, err);
		return 2;
	}
	if (expand)
		return print_expansion(&c);
	if (from && cron_parse_time(zone, from, &t) < 0) {
		fprintf(stderr, "webjobs: bad --from time '%s' (want 2026-03-08T01:59:00, optionally with Z or +hh:mm)\n",
			from);
		return 2;
	}
	if (!from)
		t = (int64_t)time(NULL);
	for (long i = 0; i < n; i++) {
		if (cron_next(&c, zone, t, &t) < 0) {
			if (i == 0) {
				printf("the schedule '%s' never fires\n", expr);
				return 1;
			}
			break;
		}
		cron_format_local(zone, t, buf, sizeof(buf));
		printf("%s\n", buf);
	}
	return 0;
}

/* Descriptors 0, 1 and 2 on /dev/null when they came closed: otherwise the
 * first files opened take their numbers, and the log (stderr) writes into
 * whichever file took 2 — a status, a log, the journal. */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
			_exit(1);
}

int main(int argc, char **argv)
{
	std_fds_open();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return server_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "passwd") == 0)
		return cmd_passwd(argc - 2, argv + 2);
	if (strcmp(argv[1], "cron") == 0)
		return cmd_cron(argc - 2, argv + 2);
	if (client_is_command(argv[1]))
		return client_main(argv[1], argc - 2, argv + 2);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("webjobs %s\n", WEBJOBS_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)
		return cmd_help(argc - 2, argv + 2);
	fprintf(stderr, "webjobs: unknown subcommand '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
