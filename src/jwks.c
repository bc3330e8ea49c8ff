/* jwks.c - see jwks.h.
 *
 * Why refuse a whole set for one bad RSA entry rather than skip it: the file
 * is written by the operator (or a script of theirs), and a key that quietly
 * went missing shows up only later, as callbacks refused with "unknown key
 * id".  Entries for other algorithms are a different matter: published key
 * sets mix them, and skipping them is what every verifier does.
 */
#include "jwks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#else
#include <openssl/rsa.h>
#endif

#include "json.h"
#include "smallfile.h"
#include "jwt.h"

#define MAX_E_BYTES 8 /* public exponents are 65537 in practice; 64 bits is plenty */

struct jwk {
	char *kid; /* owned, NUL-terminated, no NUL inside */
	size_t kid_len;
	EVP_PKEY *pkey; /* owned */
};

struct ch_jwks {
	struct jwk keys[CH_JWKS_MAX_KEYS];
	size_t n;
};

#define BAD(err, ...) ch_error_set((err), 500, "ConfigError", __VA_ARGS__)

size_t ch_jwks_count(const struct ch_jwks *keys)
{
	return keys != NULL ? keys->n : 0;
}

EVP_PKEY *ch_jwks_find(const struct ch_jwks *keys, const char *kid, size_t kid_len)
{
	if (keys == NULL || kid == NULL)
		return NULL;
	for (size_t i = 0; i < keys->n; i++)
		if (keys->keys[i].kid_len == kid_len &&
		    memcmp(keys->keys[i].kid, kid, kid_len) == 0)
			return keys->keys[i].pkey;
	return NULL;
}

void ch_jwks_free(struct ch_jwks *keys)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < keys->n; i++) {
		free(keys->keys[i].kid);
		EVP_PKEY_free(keys->keys[i].pkey);
	}
	free(keys);
}

/* ---- one key ------------------------------------------------------------- */

/* A base64url member of a JWK as a big number; NULL after describing why. */
static BIGNUM *b64url_bn(const struct ch_json *v, const char *name, size_t max_bytes, size_t index,
                         struct ch_error *err)
{
	const char *text = ch_json_string(v);
	unsigned char *bytes;
	BIGNUM *bn = NULL;
	long n;

	if (text == NULL) {
		BAD(err, "keys[%zu]: \"%s\" is missing or not a string", index, name);
		return NULL;
	}
	/* Checked before decoding so a huge string costs no allocation. */
	if (v->u.str.len / 4 * 3 + 2 > max_bytes + 2) {
		BAD(err, "keys[%zu]: \"%s\" is longer than %zu bytes", index, name, max_bytes);
		return NULL;
	}
	if ((bytes = malloc(max_bytes + 2)) == NULL) {
		BAD(err, "out of memory");
		return NULL;
	}
	n = ch_b64url_decode(text, v->u.str.len, bytes, max_bytes + 2);
	if (n <= 0 || (size_t)n > max_bytes)
		BAD(err, "keys[%zu]: \"%s\" is not valid base64url of 1 to %zu bytes", index, name,
		    max_bytes);
	else if ((bn = BN_bin2bn(bytes, (int)n, NULL)) == NULL)
		BAD(err, "out of memory");
	free(bytes);
	return bn;
}

/* An RSA public key from n and e; takes ownership of neither. */
static EVP_PKEY *rsa_public_key(const BIGNUM *n, const BIGNUM *e)
{
	EVP_PKEY *pkey = NULL;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

	if (bld != NULL && ctx != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
#else
	/* OpenSSL 1.1 has no EVP_PKEY_fromdata; these calls are the 1.1 way. */
	RSA *rsa = RSA_new();
	BIGNUM *n2 = BN_dup(n), *e2 = BN_dup(e);

	if (rsa != NULL && n2 != NULL && e2 != NULL && RSA_set0_key(rsa, n2, e2, NULL) == 1) {
		n2 = e2 = NULL; /* now owned by rsa */
		if ((pkey = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_RSA(pkey, rsa) == 1)
			rsa = NULL; /* now owned by pkey */
		else {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
	BN_free(n2);
	BN_free(e2);
	RSA_free(rsa);
#endif
	return pkey;
}

static bool string_is(const struct ch_json *v, const char *want)
{
	return v != NULL && v->type == CH_JSON_STRING && v->u.str.len == strlen(want) &&
	       memcmp(v->u.str.ptr, want, v->u.str.len) == 0;
}

/* Look up the members of key entry index; -1 (err set) on a duplicate. */
static int members(const struct ch_json *entry, size_t index, const char *const *names,
                   const struct ch_json **values, size_t n, struct ch_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (ch_jwt_member(entry, names[i], &values[i]) < 0)
			return BAD(err, "keys[%zu]: \"%s\" appears more than once", index,
			           names[i]);
	return 0;
}

/* Add entry index to set when it is an RS256 signing key.  Returns 1 when
 * added, 0 when skipped (not for us), -1 with err set when invalid. */
static int add_key(struct ch_jwks *set, const struct ch_json *entry, size_t index,
                   struct ch_error *err)
{
	static const char *const names[] = {"kty", "use", "alg", "kid", "n", "e"};
	enum { KTY, USE, ALG, KID, N, E, N_NAMES };
	const struct ch_json *v[N_NAMES];
	BIGNUM *n = NULL, *e = NULL;
	int rc = -1;

	if (entry->type != CH_JSON_OBJECT)
		return BAD(err, "keys[%zu] is not an object", index);
	if (members(entry, index, names, v, N_NAMES, err) < 0)
		return -1;
	if (ch_json_string(v[KTY]) == NULL)
		return BAD(err, "keys[%zu]: \"kty\" is missing or not a string", index);
	if (!string_is(v[KTY], "RSA") || (v[USE] != NULL && !string_is(v[USE], "sig")) ||
	    (v[ALG] != NULL && !string_is(v[ALG], "RS256")))
		return 0;

	const char *kid = ch_json_string(v[KID]);
	if (kid == NULL || v[KID]->u.str.len == 0)
		return BAD(err,
		           "keys[%zu]: \"kid\" is missing or empty (tokens name their key by it)",
		           index);
	size_t kid_len = v[KID]->u.str.len;
	if (kid_len > CH_JWKS_MAX_KID || strlen(kid) != kid_len)
		return BAD(err, "keys[%zu]: \"kid\" is longer than %d bytes or holds a NUL", index,
		           CH_JWKS_MAX_KID);
	if (ch_jwks_find(set, kid, kid_len) != NULL)
		return BAD(err, "keys[%zu]: kid \"%.64s\" is used by an earlier key", index, kid);

	if ((n = b64url_bn(v[N], "n", CH_JWKS_MAX_BITS / 8 + 1, index, err)) == NULL ||
	    (e = b64url_bn(v[E], "e", MAX_E_BYTES, index, err)) == NULL)
		goto out;
	int bits = BN_num_bits(n);
	if (bits < CH_JWKS_MIN_BITS || bits > CH_JWKS_MAX_BITS) {
		BAD(err, "keys[%zu] (kid \"%.64s\"): modulus of %d bits, not %d to %d", index, kid,
		    bits, CH_JWKS_MIN_BITS, CH_JWKS_MAX_BITS);
		goto out;
	}
	if (!BN_is_odd(n) || !BN_is_odd(e) || BN_is_one(e)) {
		BAD(err, "keys[%zu] (kid \"%.64s\"): n and e must be odd and e above 1", index,
		    kid);
		goto out;
	}
	struct jwk *k = &set->keys[set->n];
	if ((k->kid = strdup(kid)) == NULL || (k->pkey = rsa_public_key(n, e)) == NULL) {
		free(k->kid);
		k->kid = NULL;
		BAD(err, "keys[%zu] (kid \"%.64s\"): OpenSSL refused the RSA key", index, kid);
		ERR_clear_error();
		goto out;
	}
	k->kid_len = kid_len;
	set->n++;
	rc = 1;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/* ---- a whole set ----------------------------------------------------------- */

int ch_jwks_parse(const char *text, size_t len, struct ch_jwks **out, struct ch_error *err)
{
	/* Real sets nest 4 deep ({"keys":[{"x5c":[...]}]}); certificates in x5c
	 * are the longest strings. */
	const struct ch_json_limits limits = {.max_depth = 8, .max_string = CH_JWKS_MAX_FILE};
	struct ch_json_doc *doc = NULL;
	struct ch_jwks *set = NULL;
	const struct ch_json *root, *keys;
	struct ch_error jerr;
	int rc = -1;

	*out = NULL;
	if (len > CH_JWKS_MAX_FILE)
		return BAD(err, "larger than %d bytes", CH_JWKS_MAX_FILE);
	if (ch_json_parse(text, len, &limits, &doc, &jerr) < 0)
		return BAD(err, "not valid JSON: %s", jerr.message);
	root = ch_json_root(doc);
	if (root->type != CH_JSON_OBJECT) {
		BAD(err, "not a JSON object with a \"keys\" array");
		goto out;
	}
	if (ch_jwt_member(root, "keys", &keys) < 0) {
		BAD(err, "\"keys\" appears more than once");
		goto out;
	}
	if (keys == NULL || keys->type != CH_JSON_ARRAY) {
		BAD(err, "not a JSON object with a \"keys\" array");
		goto out;
	}
	if (keys->u.array.n > CH_JWKS_MAX_KEYS) {
		BAD(err, "%zu keys, more than %d", keys->u.array.n, CH_JWKS_MAX_KEYS);
		goto out;
	}
	if ((set = calloc(1, sizeof(*set))) == NULL) {
		BAD(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < keys->u.array.n; i++)
		if (add_key(set, keys->u.array.items[i], i, err) < 0)
			goto out;
	if (set->n == 0) {
		BAD(err, "no RS256 signing key (kty \"RSA\", use \"sig\" or none, alg \"RS256\" "
		         "or none)");
		goto out;
	}
	*out = set;
	set = NULL;
	rc = 0;
out:
	ch_jwks_free(set);
	ch_json_doc_free(doc);
	return rc;
}

/* ---- the file ---------------------------------------------------------------- */

/* What tells a changed file from the one read before. */
struct file_id {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct ch_jwks_file {
	char *path;
	struct ch_jwks *keys; /* the keys in use */
	struct file_id seen;  /* the file as last read, usable or not */
	int64_t checked_s;    /* now_s of the last look */
};

static struct file_id id_of(const struct stat *st)
{
	return (struct file_id){.present = true,
	                        .dev = st->st_dev,
	                        .ino = st->st_ino,
	                        .size = st->st_size,
	                        .mtime = st->st_mtim,
	                        .ctime = st->st_ctim};
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
	if (!a->present || !b->present)
		return a->present == b->present;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Read path into a fresh set; *id becomes what was read (or "absent"). */
static int load_file(const char *path, struct ch_jwks **out, struct file_id *id,
                     struct ch_error *err)
{
	struct stat st;
	char *buf;
	size_t len;
	int rc = -1;

	*out = NULL;
	*id = (struct file_id){.present = false};
	rc = ch_read_small_file(path, path, CH_JWKS_MAX_FILE, &buf, &len, &st, err);
	if (st.st_mode != 0)
		*id = id_of(&st); /* even when refused: a bad version is reported once */
	if (rc < 0)
		return -1;
	if (ch_jwks_parse(buf, len, out, err) < 0) {
		struct ch_error inner = *err;

		BAD(err, "%s: %s", path, inner.message);
		rc = -1;
	}
	free(buf);
	return rc;
}

int ch_jwks_load(const char *path, struct ch_jwks **out, struct ch_error *err)
{
	struct file_id id;

	return load_file(path, out, &id, err);
}

int ch_jwks_file_open(const char *path, struct ch_jwks_file **out, struct ch_error *err)
{
	struct ch_jwks_file *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		return BAD(err, "out of memory");
	}
	if (load_file(path, &f->keys, &f->seen, err) < 0) {
		ch_jwks_file_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

int ch_jwks_file_refresh(struct ch_jwks_file *f, int64_t now_s, bool force, struct ch_error *err)
{
	struct file_id now_id = {.present = false};
	struct ch_jwks *fresh;
	struct stat st;

	if (!force) {
		/* One stat() a second at most, however busy the endpoint is. */
		if (now_s == f->checked_s)
			return 0;
		f->checked_s = now_s;
		if (stat(f->path, &st) == 0)
			now_id = id_of(&st);
		if (same_id(&now_id, &f->seen))
			return 0;
	}
	if (load_file(f->path, &fresh, &f->seen, err) < 0)
		return -1;
	ch_jwks_free(f->keys);
	f->keys = fresh;
	return 1;
}

const struct ch_jwks *ch_jwks_file_keys(const struct ch_jwks_file *f)
{
	return f != NULL ? f->keys : NULL;
}

const char *ch_jwks_file_path(const struct ch_jwks_file *f)
{
	return f != NULL ? f->path : NULL;
}

void ch_jwks_file_free(struct ch_jwks_file *f)
{
	if (f == NULL)
		return;
	ch_jwks_free(f->keys);
	free(f->path);
	free(f);
}
