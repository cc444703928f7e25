/*
 * auth: credentials, the verified-credential cache and failure throttling.
 */
#define _GNU_SOURCE
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "home.h"
#include "log.h"
#include "siphash.h"

#define MAX_USERS 64
#define CACHE_SIZE 256
#define CLIENTS 1024
#define FREE_FAILURES 3
#define FAIL_WINDOW_MS 60000
#define MAX_DELAY_MS 10000
#define MAX_HEADER 1024

struct user {
	char *name;
	char *hash;
};

struct client {
	char addr[64];
	unsigned failures;
	uint64_t last_ms;
};

struct auth {
	uv_loop_t *loop;
	struct user users[MAX_USERS];
	int nusers;
	char *dummy_hash; /* verified against for unknown users */
	uint8_t key[16];
	uint64_t cache[CACHE_SIZE];
	unsigned next_slot;
	struct client clients[CLIENTS];
	/* WEBJOBS_PASSWORD's hash, made on a thread of its own while the
	 * host starts its jobs; joined at the first check (settle). */
	pthread_t hasher;
	int hashing;
	char *env_user, *env_pass, *env_hash;
};

struct ticket {
	struct auth *a;
	uv_work_t work;
	uv_timer_t timer;
	auth_cb cb;
	void *arg;
	char *password;
	const char *hash; /* the user's hash, or the dummy */
	uint64_t key;     /* cache key */
	int known_user;
	int ok;
	int canceled;
	int delay_ms;
	char client[64];
};

int auth_user_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 64)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == ':' || *s == 0x7f)
			return 0;
	return 1;
}

char *auth_default_file(const char *home)
{
	char *p;

	if (asprintf(&p, "%s/data/webjobs/users", home) < 0)
		return NULL;
	return p;
}

char *auth_hash_password(const char *password)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char *out = NULL, *h;

	if (!cd)
		return NULL;
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt))) {
		h = crypt_r(password, salt, cd);
		if (h && h[0] == '$')
			out = strdup(h);
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}

/* Constant-time comparison of two NUL-terminated strings. */
static int equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int hash_ok(const char *hash)
{
	return strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
	       strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$6$", 3) == 0 ||
	       strncmp(hash, "$5$", 3) == 0 || strncmp(hash, "$7$", 3) == 0 ||
	       strncmp(hash, "$gy$", 4) == 0;
}

static int add_user(struct auth *a, const char *name, const char *hash)
{
	for (int i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i].name, name) == 0) {
			char *h = strdup(hash);

			if (!h)
				return -ENOMEM;
			free(a->users[i].hash);
			a->users[i].hash = h;
			return 0;
		}
	if (a->nusers == MAX_USERS)
		return -E2BIG;
	a->users[a->nusers].name = strdup(name);
	a->users[a->nusers].hash = strdup(hash);
	if (!a->users[a->nusers].name || !a->users[a->nusers].hash)
		return -ENOMEM;
	a->nusers++;
	return 0;
}

/* Reads "user:hash" lines. Returns 0, or -errno with a reason. */
static int load_file(struct auth *a, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int lineno = 0;

	if (!f) {
		int e = errno;

		snprintf(err, errsz, "cannot read credentials %s: %s", path,
			 strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *colon;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon) {
			snprintf(err, errsz, "%s:%d: want user:hash", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		*colon = '\0';
		if (!auth_user_valid(line) || !hash_ok(colon + 1)) {
			snprintf(err, errsz, "%s:%d: bad user name or hash (want a crypt(3) $y$ or $2b$ hash)",
				 path, lineno);
			fclose(f);
			return -EINVAL;
		}
		if (add_user(a, line, colon + 1) < 0) {
			snprintf(err, errsz, "%s: too many users", path);
			fclose(f);
			return -E2BIG;
		}
	}
	fclose(f);
	if (a->nusers == 0) {
		snprintf(err, errsz, "%s holds no user", path);
		return -EINVAL;
	}
	return 0;
}

int auth_file_set(const char *path, const char *user, const char *hash)
{
	char *tmp = NULL, line[1024];
	FILE *in, *out;
	int fd, rc = 0, found = 0;
	size_t ulen = strlen(user);

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	out = fdopen(fd, "w");
	in = fopen(path, "re");
	while (in && fgets(line, sizeof(line), in)) {
		if (strncmp(line, user, ulen) == 0 && line[ulen] == ':') {
			if (!found)
				fprintf(out, "%s:%s\n", user, hash);
			found = 1;
		} else {
			fputs(line, out);
		}
	}
	if (in)
		fclose(in);
	if (!found)
		fprintf(out, "%s:%s\n", user, hash);
	if (fflush(out) != 0 || fsync(fd) < 0)
		rc = -errno;
	fclose(out);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int auth_make_folder(const char *home)
{
	char *dir = NULL;
	int rc;

	if ((rc = home_mkdirs(AT_FDCWD, home)) < 0)
		return rc;
	if (asprintf(&dir, "%s/data/webjobs", home) < 0)
		return -ENOMEM;
	rc = home_mkdirs(AT_FDCWD, dir);
	/* Only the host's user may even list it. */
	if (rc == 0 && chmod(dir, 0700) < 0)
		rc = -errno;
	free(dir);
	return rc;
}

/* Creates the home's default user with a random password, printed once. */
static int make_default(struct auth *a, const char *home, FILE *out,
			char *err, size_t errsz)
{
	static const char alphabet[] =
		"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	unsigned char rnd[24];
	char pass[25], *hash = NULL, *path = auth_default_file(home);
	int rc;

	if (!path)
		return -ENOMEM;
	if (access(path, F_OK) == 0) {
		rc = load_file(a, path, err, errsz);
		free(path);
		return rc;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		snprintf(err, errsz, "no random bytes: %s", strerror(errno));
		free(path);
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		pass[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	pass[sizeof(rnd)] = '\0';
	hash = auth_hash_password(pass);
	rc = hash ? auth_make_folder(home) : -ENOMEM;
	if (rc == 0)
		rc = auth_file_set(path, "webjobs", hash);
	if (rc == 0)
		rc = add_user(a, "webjobs", hash);
	if (rc == 0) {
		fprintf(out, "webjobs: created user webjobs with password %s (only its hash is kept, in %s)\n",
			pass, path);
		fflush(out);
	} else {
		snprintf(err, errsz, "cannot create credentials %s: %s", path,
			 strerror(-rc));
	}
	explicit_bzero(pass, sizeof(pass));
	free(hash);
	free(path);
	return rc;
}

static void *hash_env(void *arg)
{
	struct auth *a = arg;

	a->env_hash = auth_hash_password(a->env_pass);
	return NULL;
}

/* yescrypt takes ~18 ms here: the host's jobs start meanwhile. */
static int start_hashing(struct auth *a, const struct auth_source *src, char *err,
			 size_t errsz)
{
	a->env_user = strdup(src->env_user);
	a->env_pass = strdup(src->env_pass);
	if (!a->env_user || !a->env_pass || pthread_create(&a->hasher, NULL, hash_env, a) != 0) {
		snprintf(err, errsz, "cannot hash WEBJOBS_PASSWORD");
		return -1;
	}
	a->hashing = 1;
	return 0;
}

/* Waits for WEBJOBS_PASSWORD's hash, if it is being made, and takes it:
 * every check comes here first. Without it (out of memory) every
 * credential is refused, and said so. */
static void settle(struct auth *a)
{
	if (!a->hashing)
		return;
	pthread_join(a->hasher, NULL);
	a->hashing = 0;
	explicit_bzero(a->env_pass, strlen(a->env_pass));
	free(a->env_pass);
	a->env_pass = NULL;
	if (!a->env_hash || add_user(a, a->env_user, a->env_hash) < 0 ||
	    !(a->dummy_hash = strdup(a->env_hash)))
		log_error("cannot hash WEBJOBS_PASSWORD: every credential is refused");
	free(a->env_hash);
	a->env_hash = NULL;
}

struct auth *auth_new(uv_loop_t *loop, const struct auth_source *src,
		      FILE *out, char *err, size_t errsz)
{
	struct auth *a = calloc(1, sizeof(*a));
	int rc;

	if (!a) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	a->loop = loop;
	if (getrandom(a->key, sizeof(a->key), 0) != sizeof(a->key)) {
		snprintf(err, errsz, "no random bytes: %s", strerror(errno));
		goto fail;
	}
	if (src->auth_file) {
		rc = load_file(a, src->auth_file, err, errsz);
	} else if (src->env_user && src->env_pass && *src->env_user) {
		if (!auth_user_valid(src->env_user)) {
			snprintf(err, errsz, "WEBJOBS_USERNAME is not a valid user name");
			goto fail;
		}
		return start_hashing(a, src, err, errsz) < 0 ? (auth_free(a), NULL) : a;
	} else {
		rc = make_default(a, src->home, out, err, errsz);
	}
	if (rc < 0)
		goto fail;
	a->dummy_hash = strdup(a->users[0].hash);
	if (!a->dummy_hash)
		goto fail;
	return a;
fail:
	auth_free(a);
	return NULL;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	settle(a);
	if (a->env_pass) /* the thread was not started */
		explicit_bzero(a->env_pass, strlen(a->env_pass));
	free(a->env_pass);
	free(a->env_user);
	for (int i = 0; i < a->nusers; i++) {
		free(a->users[i].name);
		free(a->users[i].hash);
	}
	free(a->dummy_hash);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

/* ---- checking ---- */

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 into out (NUL-terminated). Returns the length or -1. */
static int b64decode(const char *in, char *out, size_t size)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	for (; *in && *in != '='; in++) {
		int v = b64val(*in);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= size)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return (int)o;
}

static uint64_t now_ms(struct auth *a)
{
	return uv_now(a->loop);
}

static struct client *client_get(struct auth *a, const char *addr, int create)
{
	struct client *oldest = &a->clients[0];

	for (int i = 0; i < CLIENTS; i++) {
		if (strcmp(a->clients[i].addr, addr) == 0 && a->clients[i].addr[0])
			return &a->clients[i];
		if (a->clients[i].last_ms < oldest->last_ms)
			oldest = &a->clients[i];
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

/* The delay before answering a failure from this client, in ms. */
static int failure_delay(struct auth *a, const char *addr)
{
	struct client *c = client_get(a, addr, 1);
	uint64_t now = now_ms(a);

	if (now - c->last_ms > FAIL_WINDOW_MS)
		c->failures = 0;
	c->failures++;
	c->last_ms = now;
	if (c->failures <= FREE_FAILURES)
		return 0;
	unsigned shift = c->failures - FREE_FAILURES - 1;
	uint64_t d = 250ull << (shift > 10 ? 10 : shift);
	return d > MAX_DELAY_MS ? MAX_DELAY_MS : (int)d;
}

static void ticket_free(struct ticket *t)
{
	if (t->password) {
		explicit_bzero(t->password, strlen(t->password));
		free(t->password);
	}
	free(t);
}

static void on_timer_closed(uv_handle_t *h)
{
	ticket_free(h->data);
}

static void finish(struct ticket *t)
{
	if (!t->canceled)
		t->cb(t->arg, t->ok);
	uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}

static void on_delay(uv_timer_t *tm)
{
	finish(tm->data);
}

static void work_verify(uv_work_t *w)
{
	struct ticket *t = w->data;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;

	t->ok = 0;
	if (!cd)
		return;
	h = crypt_r(t->password, t->hash, cd);
	t->ok = t->known_user && h && h[0] == '$' && equal_ct(h, t->hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
}

static void after_verify(uv_work_t *w, int status)
{
	struct ticket *t = w->data;
	struct auth *a = t->a;

	if (status < 0)
		t->ok = 0;
	if (t->ok) {
		struct client *c = client_get(a, t->client, 0);

		if (c)
			c->failures = 0;
		a->cache[a->next_slot++ % CACHE_SIZE] = t->key;
		finish(t);
		return;
	}
	t->delay_ms = failure_delay(a, t->client);
	if (t->delay_ms == 0 || t->canceled) {
		finish(t);
		return;
	}
	uv_timer_start(&t->timer, on_delay, (uint64_t)t->delay_ms, 0);
}

int auth_user_name(const char *header, char *out, size_t size)
{
	char decoded[MAX_HEADER], *colon;
	const char *b64;

	if (!header || strncasecmp(header, "Basic ", 6) != 0 || strlen(header) >= MAX_HEADER)
		return -1;
	for (b64 = header + 6; *b64 == ' '; b64++)
		;
	if (b64decode(b64, decoded, sizeof(decoded)) < 0 || !(colon = strchr(decoded, ':'))) {
		explicit_bzero(decoded, sizeof(decoded));
		return -1;
	}
	*colon = '\0';
	snprintf(out, size, "%s", decoded);
	explicit_bzero(decoded, sizeof(decoded));
	return 0;
}

/* Decodes header: AUTH_OK for a cached credential, AUTH_DENIED for a
 * malformed one, else AUTH_PENDING with a new ticket (not yet queued) in
 * *out. */
static enum auth_result prepare(struct auth *a, const char *header,
				const char *client, struct ticket **out)
{
	char decoded[MAX_HEADER];
	const char *b64;
	char *colon;
	uint64_t key;
	struct ticket *t;
	int user = -1;

	*out = NULL;
	settle(a);
	if (!a->dummy_hash)
		return AUTH_DENIED;
	if (!header || strncasecmp(header, "Basic ", 6) != 0 ||
	    strlen(header) >= MAX_HEADER)
		return AUTH_DENIED;
	b64 = header + 6;
	while (*b64 == ' ')
		b64++;
	key = siphash24(a->key, b64, strlen(b64));
	for (int i = 0; i < CACHE_SIZE; i++)
		if (a->cache[i] == key && key != 0)
			return AUTH_OK;
	if (b64decode(b64, decoded, sizeof(decoded)) < 0 ||
	    !(colon = strchr(decoded, ':')))
		return AUTH_DENIED;
	*colon = '\0';
	for (int i = 0; i < a->nusers; i++)
		if (equal_ct(a->users[i].name, decoded))
			user = i;
	t = calloc(1, sizeof(*t));
	if (!t)
		return AUTH_DENIED;
	t->a = a;
	t->key = key;
	t->known_user = user >= 0;
	t->hash = user >= 0 ? a->users[user].hash : a->dummy_hash;
	t->password = strdup(colon + 1);
	snprintf(t->client, sizeof(t->client), "%s", client ? client : "");
	explicit_bzero(decoded, sizeof(decoded));
	if (!t->password) {
		free(t);
		return AUTH_DENIED;
	}
	*out = t;
	return AUTH_PENDING;
}

enum auth_result auth_check(struct auth *a, const char *header,
			    const char *client, auth_cb cb, void *arg,
			    void **ticket)
{
	struct ticket *t;
	enum auth_result r = prepare(a, header, client, &t);

	*ticket = NULL;
	if (r != AUTH_PENDING)
		return r;
	t->cb = cb;
	t->arg = arg;
	uv_timer_init(a->loop, &t->timer);
	t->timer.data = t;
	t->work.data = t;
	if (uv_queue_work(a->loop, &t->work, work_verify, after_verify) < 0) {
		t->canceled = 1;
		finish(t);
		return AUTH_DENIED;
	}
	*ticket = t;
	return AUTH_PENDING;
}

int auth_check_now(struct auth *a, const char *header, const char *client)
{
	struct ticket *t;
	enum auth_result r = prepare(a, header, client, &t);
	int ok;

	if (r != AUTH_PENDING)
		return r == AUTH_OK;
	t->work.data = t;
	work_verify(&t->work);
	ok = t->ok;
	if (ok) {
		struct client *c = client_get(a, t->client, 0);

		if (c)
			c->failures = 0;
		a->cache[a->next_slot++ % CACHE_SIZE] = t->key;
	} else {
		failure_delay(a, t->client);
	}
	ticket_free(t);
	return ok;
}

void auth_cancel(void *ticket)
{
	struct ticket *t = ticket;

	if (t)
		t->canceled = 1;
}
