/*
 * auth: the host's deployment credentials (docs/API.md, "Credentials") and the check of
 * HTTP Basic authentication (docs/API.md, "HTTP conventions").
 *
 * Hashes are crypt(3) strings (yescrypt "$y$" or bcrypt "$2b$"). The slow
 * hash runs on libuv's thread pool, never on the loop, and only for
 * credentials not seen before: an Authorization value that verified is
 * remembered under a keyed hash (SipHash with a random key), in memory only.
 * Failures from one address are answered ever more slowly.
 */
#ifndef WEBJOBS_AUTH_H
#define WEBJOBS_AUTH_H

#include <stddef.h>
#include <stdio.h>
#include <uv.h>

struct auth;

struct auth_source {
	const char *auth_file;  /* --auth-file, or NULL */
	const char *env_user;   /* WEBJOBS_USERNAME, or NULL */
	const char *env_pass;   /* WEBJOBS_PASSWORD, or NULL */
	const char *home;       /* the home: default credentials live there */
};

/* Loads credentials (creating the default user when no source is given;
 * its password is printed once to out). Returns NULL with a reason in err. */
struct auth *auth_new(uv_loop_t *loop, const struct auth_source *src,
		      FILE *out, char *err, size_t errsz);
void auth_free(struct auth *a);

enum auth_result { AUTH_OK = 0, AUTH_DENIED = 1, AUTH_PENDING = 2 };

/* Called from the loop when a pending check ends. */
typedef void (*auth_cb)(void *arg, int ok);

/* Checks an Authorization header value from client. AUTH_OK and
 * AUTH_DENIED are final at once; AUTH_PENDING means cb(arg, ok) will be
 * called later, unless auth_cancel(*ticket) is called first. */
enum auth_result auth_check(struct auth *a, const char *header,
			    const char *client, auth_cb cb, void *arg,
			    void **ticket);
void auth_cancel(void *ticket);

/* Checks a header at once, running the slow hash on this thread when the
 * credential is not cached (for requests whose body must not be accepted
 * before they are authenticated). Returns 1 when it verifies. */
int auth_check_now(struct auth *a, const char *header, const char *client);

/* Makes a crypt(3) hash (yescrypt) of password. Returns a new string or
 * NULL. */
char *auth_hash_password(const char *password);

/* Adds or replaces user:hash in the credentials file path, written whole
 * to a temporary name and renamed, mode 0600. Returns 0 or -errno. */
int auth_file_set(const char *path, const char *user, const char *hash);

/* Makes the home (0755) and its credentials folder data/webjobs (0700)
 * where missing. Returns 0 or a negative errno. */
int auth_make_folder(const char *home);

/* The path of the default credentials file of a home (new string). */
char *auth_default_file(const char *home);

/* The user name of a Basic Authorization header (of a request that was
 * let in), into out. Returns 0, or -1 for a header that is not Basic. */
int auth_user_name(const char *header, char *out, size_t size);

/* 1 when s is a valid user name (1-64 bytes, no ':' or control bytes). */
int auth_user_valid(const char *s);

#endif
