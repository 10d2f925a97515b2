/* vf_manifest.c - verify manifests (vramfit/vf_verify.h): built from a --data run, written as JSON
 * (through cJSON: output only), read back with the library's one JSON reader (vf_json.h: untrusted
 * input), and compared, so that a transfer is checked by the library and the CLI only prints.
 *
 * A manifest names its source portably (vf_checkpoint_name: ORG/NAME@REVISION from the Hugging Face
 * cache, else the directory's base name), never by an absolute path: the same checkpoint gives the
 * same manifest bytes from any directory. Manifests written before that carry "path"; they still
 * read (vf_manifest_source gives its last component). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_checkpoint_internal.h"
#include "vf_json.h"
#include "vramfit/vf_verify.h"

struct vf_manifest {
    vf_arena strings;
    const char *source; /* "model", else the last component of an old manifest's "path"; or NULL */
    const char *repo_id, *revision;
    vf_manifest_shard *shards;
    size_t shard_count;
    vf_manifest_tensor *tensors;
    size_t tensor_count;
};

static vf_manifest *manifest_new(void)
{
    vf_manifest *m = calloc(1, sizeof *m);
    if (m)
        vf_arena_init(&m->strings, 16384);
    return m;
}

void vf_manifest_free(vf_manifest *m)
{
    if (!m)
        return;
    vf_arena_free(&m->strings);
    free(m->shards);
    free(m->tensors);
    free(m);
}

/* Sorts `n` elements of `size` bytes (name pointer first) by name; a duplicate fails with the name
 * (`what` listed twice). */
static int sort_unique(void *base, size_t n, size_t size, const char *file, const char *what, vf_error *err)
{
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint8_t *tmp = malloc((n ? n : 1) * size);
    int rc = idx && tmp ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    for (size_t i = 0; rc == VF_OK && i < n; i++)
        idx[i] = (uint32_t)i;
    if (rc == VF_OK) {
        vf_sort_u32_by_name(idx, n, base, size, 0);
        for (size_t i = 0; i < n; i++)
            memcpy(tmp + i * size, (uint8_t *)base + idx[i] * size, size);
        memcpy(base, tmp, n * size);
    }
    for (size_t i = 1; rc == VF_OK && i < n; i++) {
        const char *a = *(const char *const *)((uint8_t *)base + (i - 1) * size);
        const char *b = *(const char *const *)((uint8_t *)base + i * size);
        if (strcmp(a, b) == 0)
            rc = vf_error_set(err, VF_ERR_CONFIG, file, b, "%s listed twice", what);
    }
    free(idx);
    free(tmp);
    return rc;
}

/* ---- reading ----------------------------------------------------------------------------------- */

typedef struct mctx {
    const char *file;
    vf_error *err;
    vf_manifest *m;
    const vf_jdoc *doc;
} mctx;

static int nomem(mctx *c)
{
    return vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
}

/* Required member `key` of o; NULL with the error set when absent. */
static const vf_jnode *member(mctx *c, const vf_jnode *o, const char *key, const char *where)
{
    const vf_jnode *v = vf_jdoc_get(c->doc, o, key);
    if (!v)
        vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "member \"%s\" is missing", key);
    return v;
}

static int get_string(mctx *c, const vf_jnode *o, const char *key, const char *where, const char **out)
{
    const vf_jnode *v = member(c, o, key, where);
    if (!v)
        return VF_ERR_CONFIG;
    const char *s = vf_jnode_string(v);
    if (!s)
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "\"%s\" is not a string", key);
    *out = vf_arena_strdup(&c->m->strings, s);
    return *out ? VF_OK : nomem(c);
}

/* An optional string member into *out (NULL when absent). */
static int get_optional_string(mctx *c, const vf_jnode *o, const char *key, const char **out)
{
    *out = NULL;
    return vf_jdoc_get(c->doc, o, key) ? get_string(c, o, key, NULL, out) : VF_OK;
}

static int get_u64(mctx *c, const vf_jnode *o, const char *key, const char *where, uint64_t *out)
{
    const vf_jnode *v = member(c, o, key, where);
    if (!v)
        return VF_ERR_CONFIG;
    if (!vf_jnode_u64(v, out))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "\"%s\" is not an integer in 0..2^53", key);
    return VF_OK;
}

static int get_digest(mctx *c, const vf_jnode *o, const char *key, const char *where, vf_digest *out)
{
    const vf_jnode *v = member(c, o, key, where);
    if (!v)
        return VF_ERR_CONFIG;
    if (!vf_digest_from_hex(vf_jnode_string(v), out))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where,
                            "\"%s\" is not a 32-digit hex XXH3-128 digest", key);
    return VF_OK;
}

static int get_name(mctx *c, const vf_jnode *o, const char *key, const char *where, const char **out)
{
    int rc = get_string(c, o, key, where, out);
    if (rc == VF_OK && !vf_safe_file_name(*out))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "\"%s\" is not a plain file name", key);
    return rc;
}

/* The optional "sha256" member of shard entry o: absent, or 64 lower-case hex digits. */
static int get_sha256(mctx *c, const vf_jnode *o, vf_manifest_shard *s)
{
    const vf_jnode *v = vf_jdoc_get(c->doc, o, "sha256");
    if (!v)
        return VF_OK;
    const char *h = vf_jnode_string(v);
    if (!h || vf_lower_hex_len(h) != 64)
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, s->name, "\"sha256\" is not 64 lower-case hex digits");
    memcpy(s->sha256, h, 65);
    return VF_OK;
}

static int parse_shard(mctx *c, const vf_jnode *o, vf_manifest_shard *s)
{
    if (!vf_jnode_is(o, VF_JOBJECT))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, "shards", "entry is not an object");
    int rc = get_name(c, o, "name", "shards", &s->name);
    if (rc == VF_OK)
        rc = get_u64(c, o, "size", s->name, &s->size);
    if (rc == VF_OK)
        rc = get_digest(c, o, "header_xxh3_128", s->name, &s->header_digest);
    if (rc == VF_OK)
        rc = get_digest(c, o, "xxh3_128", s->name, &s->digest);
    if (rc == VF_OK)
        rc = get_sha256(c, o, s);
    return rc;
}

static int parse_shape(mctx *c, const vf_jnode *o, vf_manifest_tensor *t)
{
    const vf_jnode *v = member(c, o, "shape", t->name);
    if (!v)
        return VF_ERR_CONFIG;
    if (!vf_jnode_is(v, VF_JARRAY))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name, "\"shape\" is not an array");
    uint64_t *dims = vf_arena_alloc(&c->m->strings, (v->count ? v->count : 1) * sizeof *dims);
    if (!dims)
        return nomem(c);
    uint32_t i = 0;
    for (const vf_jnode *d = vf_jdoc_first(c->doc, v); d; d = vf_jdoc_next(c->doc, d), i++)
        if (!vf_jnode_u64(d, &dims[i]))
            return vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name,
                                "shape entry %u is not an integer in 0..2^53", (unsigned)i);
    t->ndim = i;
    t->shape = dims;
    return VF_OK;
}

/* The optional checks of a tensor entry: "all_zero" (a boolean) and "nonfinite" (a count). */
static int parse_checks(mctx *c, const vf_jnode *o, vf_manifest_tensor *t)
{
    const vf_jnode *z = vf_jdoc_get(c->doc, o, "all_zero"), *nf = vf_jdoc_get(c->doc, o, "nonfinite");
    if (z && !vf_jnode_is(z, VF_JTRUE) && !vf_jnode_is(z, VF_JFALSE))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name, "\"all_zero\" is not true or false");
    t->all_zero = vf_jnode_is(z, VF_JTRUE);
    t->float_checked = nf != NULL;
    return nf ? get_u64(c, o, "nonfinite", t->name, &t->nonfinite) : VF_OK;
}

static int parse_tensor(mctx *c, const vf_jnode *o, vf_manifest_tensor *t)
{
    if (!vf_jnode_is(o, VF_JOBJECT))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, "tensors", "entry is not an object");
    const char *dtype = NULL;
    int rc = get_string(c, o, "name", "tensors", &t->name);
    if (rc == VF_OK)
        rc = get_name(c, o, "file", t->name, &t->file);
    if (rc == VF_OK)
        rc = get_string(c, o, "dtype", t->name, &dtype);
    if (rc == VF_OK && !vf_dtype_from_name(dtype, strlen(dtype), &t->dtype))
        rc = vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name, "unknown dtype \"%s\"", dtype);
    if (rc == VF_OK)
        rc = parse_shape(c, o, t);
    if (rc == VF_OK)
        rc = get_u64(c, o, "bytes", t->name, &t->bytes);
    if (rc == VF_OK)
        rc = get_digest(c, o, "xxh3_128", t->name, &t->digest);
    if (rc == VF_OK)
        rc = parse_checks(c, o, t);
    if (rc == VF_OK && vf_manifest_find_shard(c->m, t->file) < 0)
        rc = vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name,
                          "\"file\" %s is not one of the manifest's shards", t->file);
    return rc;
}

static int parse_list(mctx *c, const vf_jnode *root, const char *key, bool shards)
{
    const vf_jnode *arr = member(c, root, key, NULL);
    if (!arr)
        return VF_ERR_CONFIG;
    if (!vf_jnode_is(arr, VF_JARRAY))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, key, "\"%s\" is not an array", key);
    size_t n = arr->count; /* bounded by the JSON text */
    size_t size = shards ? sizeof(vf_manifest_shard) : sizeof(vf_manifest_tensor);
    void *items = calloc(n ? n : 1, size);
    if (!items)
        return nomem(c);
    if (shards) {
        c->m->shards = items;
        c->m->shard_count = n;
    } else {
        c->m->tensors = items;
        c->m->tensor_count = n;
    }
    int rc = VF_OK;
    size_t i = 0;
    for (const vf_jnode *e = vf_jdoc_first(c->doc, arr); rc == VF_OK && e; e = vf_jdoc_next(c->doc, e), i++)
        rc = shards ? parse_shard(c, e, &c->m->shards[i]) : parse_tensor(c, e, &c->m->tensors[i]);
    if (rc == VF_OK)
        rc = sort_unique(items, n, size, c->file, shards ? "shard" : "tensor", c->err);
    return rc;
}

/* "model" (ORG/NAME@REVISION or a base name), else the last component of an older manifest's
 * "path". */
static int parse_source(mctx *c, const vf_jnode *root)
{
    const char *path = NULL;
    int rc = get_optional_string(c, root, "model", &c->m->source);
    if (rc == VF_OK)
        rc = get_optional_string(c, root, "repo_id", &c->m->repo_id);
    if (rc == VF_OK)
        rc = get_optional_string(c, root, "revision", &c->m->revision);
    if (rc == VF_OK && !c->m->source)
        rc = get_optional_string(c, root, "path", &path);
    if (rc == VF_OK && path) {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
            n--;
        size_t b = n;
        while (b > 0 && path[b - 1] != '/')
            b--;
        if (n > b && !(c->m->source = vf_arena_strndup(&c->m->strings, path + b, n - b)))
            return nomem(c);
    }
    return rc;
}

static int parse_manifest_root(mctx *c, const vf_jnode *root)
{
    if (!vf_jnode_is(root, VF_JOBJECT))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, NULL, "manifest is not a JSON object");
    const vf_jnode *f = member(c, root, "format", NULL);
    if (!f)
        return VF_ERR_CONFIG;
    const char *format = vf_jnode_string(f);
    if (!format || strcmp(format, "vramfit-manifest") != 0)
        return vf_error_set(c->err, VF_ERR_UNSUPPORTED, c->file, NULL,
                            "not a vramfit manifest (\"format\" is not \"vramfit-manifest\")");
    uint64_t version;
    int rc = get_u64(c, root, "version", NULL, &version);
    if (rc == VF_OK && version != 1)
        return vf_error_set(c->err, VF_ERR_UNSUPPORTED, c->file, NULL,
                            "manifest version %llu is not supported (this vramfit reads version 1)",
                            (unsigned long long)version);
    const char *hash = NULL;
    if (rc == VF_OK)
        rc = get_string(c, root, "hash", NULL, &hash);
    if (rc == VF_OK && strcmp(hash, "xxh3-128") != 0)
        return vf_error_set(c->err, VF_ERR_UNSUPPORTED, c->file, NULL,
                            "hash \"%s\" is not supported (only \"xxh3-128\")", hash);
    if (rc == VF_OK)
        rc = parse_source(c, root);
    if (rc == VF_OK)
        rc = parse_list(c, root, "shards", true);
    if (rc == VF_OK)
        rc = parse_list(c, root, "tensors", false);
    return rc;
}

int vf_manifest_parse(const uint8_t *json, size_t len, const char *display, vf_manifest **out,
                      vf_error *err)
{
    const char *file = display ? display : "manifest";
    *out = NULL;
    vf_jdoc *doc = NULL;
    int rc = vf_jdoc_parse(json, len, file, "manifest", VF_ERR_JSON, &doc, err);
    if (rc != VF_OK)
        return rc;
    vf_manifest *m = manifest_new();
    mctx c = {file, err, m, doc};
    rc = m ? parse_manifest_root(&c, vf_jdoc_root(doc)) : nomem(&c);
    vf_jdoc_free(doc);
    if (rc != VF_OK) {
        vf_manifest_free(m);
        return rc;
    }
    *out = m;
    return VF_OK;
}

int vf_manifest_read_file(const char *path, const char *display, vf_manifest **out, vf_error *err)
{
    const char *file = display ? display : path;
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = vf_read_small_file(path, file, VF_MANIFEST_MAX_BYTES, &data, &len, err);
    if (rc == VF_OK)
        rc = vf_manifest_parse(data, len, file, out, err);
    free(data);
    return rc;
}

/* ---- building from a --data run ---------------------------------------------------------------- */

static int build_shards(vf_manifest *m, const vf_checkpoint *cp, const vf_shard_hashes *hashes,
                        const vf_hub_report *hub)
{
    for (size_t i = 0; i < m->shard_count; i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        vf_manifest_shard *ms = &m->shards[i];
        size_t raw_len;
        const uint8_t *raw = vf_st_header_raw(s->header, &raw_len);
        if (!(ms->name = vf_arena_strdup(&m->strings, s->name)))
            return VF_ERR_NOMEM;
        ms->size = vf_st_header_file_size(s->header);
        vf_digest_of(raw, raw_len, &ms->header_digest);
        ms->digest = hashes[i].file;
        const vf_hub_file *h = vf_hub_find(hub, s->name);
        if (h && h->status == VF_OK && vf_lower_hex_len(h->sha256) == 64)
            memcpy(ms->sha256, h->sha256, sizeof ms->sha256);
    }
    return VF_OK;
}

static int build_tensor(vf_manifest *m, vf_manifest_tensor *mt, const vf_st_tensor *t, const char *file,
                        const vf_tensor_hash *h)
{
    uint64_t *shape = vf_arena_alloc(&m->strings, (t->ndim ? t->ndim : 1) * sizeof *shape);
    if (!shape || !(mt->name = vf_arena_strdup(&m->strings, t->name)))
        return VF_ERR_NOMEM;
    memcpy(shape, t->shape, t->ndim * sizeof *shape);
    mt->file = file;
    mt->dtype = t->dtype;
    mt->ndim = t->ndim;
    mt->shape = shape;
    mt->bytes = t->nbytes;
    mt->digest = h->digest;
    mt->all_zero = h->all_zero;
    mt->float_checked = h->float_checked;
    mt->nonfinite = h->nonfinite;
    return VF_OK;
}

static int build_tensors(vf_manifest *m, const vf_checkpoint *cp, const vf_shard_hashes *hashes)
{
    size_t k = 0;
    for (size_t s = 0; s < m->shard_count; s++) {
        const vf_st_header *h = vf_checkpoint_shard(cp, s)->header;
        for (size_t i = 0; i < vf_st_header_count(h); i++)
            if (build_tensor(m, &m->tensors[k++], vf_st_header_tensor(h, i), m->shards[s].name,
                             &hashes[s].tensors[i]) != VF_OK)
                return VF_ERR_NOMEM;
    }
    return VF_OK;
}

int vf_manifest_build(const vf_checkpoint *cp, const vf_shard_hashes *hashes, const vf_hub_report *hub,
                      vf_manifest **out, vf_error *err)
{
    *out = NULL;
    vf_manifest *m = manifest_new();
    size_t ns = vf_checkpoint_shard_count(cp), nt = 0;
    for (size_t s = 0; s < ns; s++)
        nt += vf_st_header_count(vf_checkpoint_shard(cp, s)->header);
    const char *repo = vf_checkpoint_repo_id(cp), *rev = vf_checkpoint_revision(cp);
    int rc = m && (m->shards = calloc(ns ? ns : 1, sizeof *m->shards)) &&
                     (m->tensors = calloc(nt ? nt : 1, sizeof *m->tensors)) &&
                     (m->source = vf_arena_strdup(&m->strings, vf_checkpoint_name(cp))) &&
                     (!repo || (m->repo_id = vf_arena_strdup(&m->strings, repo))) &&
                     (!rev || (m->revision = vf_arena_strdup(&m->strings, rev)))
                 ? VF_OK
                 : VF_ERR_NOMEM;
    if (rc == VF_OK) {
        m->shard_count = ns;
        m->tensor_count = nt;
        rc = build_shards(m, cp, hashes, hub);
    }
    if (rc == VF_OK)
        rc = build_tensors(m, cp, hashes);
    if (rc != VF_OK) {
        vf_manifest_free(m);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    /* tensor names are unique across an opened checkpoint's shards (vf_cp_finish) */
    rc = sort_unique(m->tensors, nt, sizeof *m->tensors, vf_checkpoint_dir(cp), "tensor", err);
    if (rc != VF_OK) {
        vf_manifest_free(m);
        return rc;
    }
    *out = m;
    return VF_OK;
}

/* ---- writing ----------------------------------------------------------------------------------- */

/* An exact integer member (cJSON's numbers are doubles: written raw). */
static bool add_u64(cJSON *o, const char *key, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    return cJSON_AddRawToObject(o, key, num) != NULL;
}

/* A string member, written by the library's JSON string writer (vf_json_quote: names from a
 * directory listing may not be UTF-8). */
static bool add_string(cJSON *o, const char *key, const char *s)
{
    char *q = vf_json_quote(s);
    bool ok = q && cJSON_AddRawToObject(o, key, q) != NULL;
    free(q);
    return ok;
}

static bool add_digest(cJSON *o, const char *key, const vf_digest *d)
{
    char hex[VF_DIGEST_HEX];
    return add_string(o, key, vf_digest_hex(d, hex));
}

/* A new object appended to arr, or NULL. */
static cJSON *add_object(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

static bool write_shard(cJSON *arr, const vf_manifest_shard *s)
{
    cJSON *o = add_object(arr);
    return o && add_string(o, "name", s->name) && add_u64(o, "size", s->size) &&
           add_digest(o, "header_xxh3_128", &s->header_digest) && add_digest(o, "xxh3_128", &s->digest) &&
           (!s->sha256[0] || add_string(o, "sha256", s->sha256));
}

static bool write_shape(cJSON *o, const vf_manifest_tensor *t)
{
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    bool ok = shape != NULL;
    for (uint32_t i = 0; ok && i < t->ndim; i++) {
        char num[24];
        snprintf(num, sizeof num, "%llu", (unsigned long long)t->shape[i]);
        cJSON *d = cJSON_CreateRaw(num);
        ok = d && cJSON_AddItemToArray(shape, d);
        if (!ok)
            cJSON_Delete(d);
    }
    return ok;
}

static bool write_tensor(cJSON *arr, const vf_manifest_tensor *t)
{
    cJSON *o = add_object(arr);
    return o && add_string(o, "name", t->name) && add_string(o, "file", t->file) &&
           add_string(o, "dtype", vf_dtype_name(t->dtype)) && write_shape(o, t) &&
           add_u64(o, "bytes", t->bytes) && add_digest(o, "xxh3_128", &t->digest) &&
           cJSON_AddBoolToObject(o, "all_zero", t->all_zero) &&
           (!t->float_checked || add_u64(o, "nonfinite", t->nonfinite));
}

/* The members in the documented order: format, version, hash, model, [repo_id, revision], shards,
 * tensors. NULL when out of memory. */
static cJSON *manifest_tree(const vf_manifest *m)
{
    cJSON *root = cJSON_CreateObject(), *shards = NULL, *tensors = NULL;
    bool ok = root && add_string(root, "format", "vramfit-manifest") &&
              add_u64(root, "version", 1) && add_string(root, "hash", "xxh3-128") &&
              (!m->source || add_string(root, "model", m->source)) &&
              (!m->repo_id || add_string(root, "repo_id", m->repo_id)) &&
              (!m->revision || add_string(root, "revision", m->revision)) &&
              (shards = cJSON_AddArrayToObject(root, "shards")) != NULL;
    for (size_t i = 0; ok && i < m->shard_count; i++)
        ok = write_shard(shards, &m->shards[i]);
    ok = ok && (tensors = cJSON_AddArrayToObject(root, "tensors")) != NULL;
    for (size_t i = 0; ok && i < m->tensor_count; i++)
        ok = write_tensor(tensors, &m->tensors[i]);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int vf_manifest_write(const vf_manifest *m, char **json, size_t *len, vf_error *err)
{
    *json = NULL;
    *len = 0;
    cJSON *root = manifest_tree(m);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    size_t n = strlen(text);
    char *out = malloc(n + 1);
    if (out)
        memcpy(out, text, n + 1);
    cJSON_free(text);
    if (!out)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    *json = out;
    *len = n;
    return VF_OK;
}

/* ---- comparison -------------------------------------------------------------------------------- */

typedef struct diffs {
    vf_manifest_diff *v;
    size_t n, cap;
} diffs;

/* Appends a difference; a and e point at the actual and expected shard or tensor (or NULL). */
static bool push(diffs *d, vf_manifest_change change, bool tensor, unsigned fields, const void *a,
                 const void *e)
{
    vf_manifest_diff x = {.change = change, .tensor = tensor, .fields = fields};
    if (tensor) {
        x.actual.tensor = a;
        x.expected.tensor = e;
    } else {
        x.actual.shard = a;
        x.expected.shard = e;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        vf_manifest_diff *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return false;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = x;
    return true;
}

/* A file differs by its size, else by SHA-256 when both sides have one, else by XXH3-128 (with the
 * header's digest noted): one reason per file, the most telling. */
static unsigned shard_fields(const vf_manifest_shard *a, const vf_manifest_shard *e)
{
    if (a->size != e->size)
        return VF_MANIFEST_SIZE;
    if (a->sha256[0] && e->sha256[0] && strcmp(a->sha256, e->sha256) != 0)
        return VF_MANIFEST_SHA256;
    if (!vf_digest_equal(&a->digest, &e->digest))
        return VF_MANIFEST_XXH3 |
               (vf_digest_equal(&a->header_digest, &e->header_digest) ? 0u : VF_MANIFEST_HEADER);
    return 0;
}

static bool same_shape(const vf_manifest_tensor *a, const vf_manifest_tensor *e)
{
    return a->ndim == e->ndim && (a->ndim == 0 || memcmp(a->shape, e->shape, a->ndim * sizeof *a->shape) == 0);
}

/* Every field of a tensor that differs. */
static unsigned tensor_fields(const vf_manifest_tensor *a, const vf_manifest_tensor *e)
{
    return (a->dtype != e->dtype ? VF_MANIFEST_DTYPE : 0u) | (same_shape(a, e) ? 0u : VF_MANIFEST_SHAPE) |
           (strcmp(a->file, e->file) != 0 ? VF_MANIFEST_FILE : 0u) |
           (a->bytes != e->bytes ? VF_MANIFEST_BYTES : 0u) |
           (vf_digest_equal(&a->digest, &e->digest) ? 0u : VF_MANIFEST_XXH3);
}

/* Walks two name-sorted lists (elements of `size` bytes, name first) in order of the actual one,
 * then the expected entries it lacks. */
static bool compare_lists(diffs *d, bool tensors, const void *a, size_t na, const void *e, size_t ne,
                          size_t size)
{
    bool *seen = calloc(ne ? ne : 1, 1);
    bool ok = seen != NULL;
    for (size_t i = 0; ok && i < na; i++) {
        const void *x = (const uint8_t *)a + i * size;
        long k = vf_find_sorted_name(e, ne, size, 0, *(const char *const *)x);
        const void *y = k < 0 ? NULL : (const uint8_t *)e + (size_t)k * size;
        unsigned f = 0;
        if (y) {
            seen[k] = true;
            f = tensors ? tensor_fields(x, y) : shard_fields(x, y);
        }
        if (!y || f)
            ok = push(d, y ? VF_MANIFEST_DIFFERS : VF_MANIFEST_EXTRA, tensors, f, x, y);
    }
    for (size_t k = 0; ok && k < ne; k++)
        if (!seen[k])
            ok = push(d, VF_MANIFEST_MISSING, tensors, 0, NULL, (const uint8_t *)e + k * size);
    free(seen);
    return ok;
}

int vf_manifest_compare(const vf_manifest *actual, const vf_manifest *expected, vf_manifest_diff **out,
                        size_t *count, vf_error *err)
{
    diffs d = {0};
    *out = NULL;
    *count = 0;
    if (!compare_lists(&d, false, actual->shards, actual->shard_count, expected->shards,
                       expected->shard_count, sizeof *actual->shards) ||
        !compare_lists(&d, true, actual->tensors, actual->tensor_count, expected->tensors,
                       expected->tensor_count, sizeof *actual->tensors)) {
        free(d.v);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    *out = d.v;
    *count = d.n;
    return VF_OK;
}

/* ---- accessors --------------------------------------------------------------------------------- */

const char *vf_manifest_source(const vf_manifest *m)
{
    return m->source;
}

size_t vf_manifest_shard_count(const vf_manifest *m)
{
    return m->shard_count;
}

const vf_manifest_shard *vf_manifest_shard_at(const vf_manifest *m, size_t i)
{
    return i < m->shard_count ? &m->shards[i] : NULL;
}

size_t vf_manifest_tensor_count(const vf_manifest *m)
{
    return m->tensor_count;
}

const vf_manifest_tensor *vf_manifest_tensor_at(const vf_manifest *m, size_t i)
{
    return i < m->tensor_count ? &m->tensors[i] : NULL;
}

long vf_manifest_find_shard(const vf_manifest *m, const char *name)
{
    return vf_find_sorted_name(m->shards, m->shard_count, sizeof *m->shards, 0, name);
}

long vf_manifest_find_tensor(const vf_manifest *m, const char *name)
{
    return vf_find_sorted_name(m->tensors, m->tensor_count, sizeof *m->tensors, 0, name);
}
