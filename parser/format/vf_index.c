/* vf_index.c - parser of model.safetensors.index.json: weight_map and metadata.total_size.
 * Shard names come from the file and are rejected unless they are plain file names. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vf_format_internal.h"
#include "vf_json.h"

void vf_index_free(vf_index *ix)
{
    if (!ix)
        return;
    vf_arena_free(&ix->strings);
    free(ix->entries);
    free(ix->shards);
    free(ix->by_shard);
    free(ix->shard_start);
    memset(ix, 0, sizeof *ix);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Parse state. Semantic errors are kept per stage and reported in the order of the checks: root
 * object, a repeated weight_map or metadata, weight_map object, metadata, weight_map entries (first
 * in document order); any syntax error wins over all of them. */
typedef struct ix_ctx {
    vf_json j;
    vf_index *ix;
    const char *file;
    uint8_t *in_place;        /* the document, writable: plain tensor names are ended in it */
    const char **entry_shard; /* per entry: its shard name (interned for runs of equal names) */
    size_t cap, hint; /* hint: the first capacity of the entry tables */
    bool root_bad, seen_wm, wm_ok, seen_meta;
    vf_error dup_err, meta_err, entry_err; /* code VF_OK while none */
    int nomem;
} ix_ctx;

static int ix_nomem(ix_ctx *c)
{
    c->nomem = VF_ERR_NOMEM;
    return vf_error_set(c->j.err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
}

static char *ix_string(ix_ctx *c, const uint8_t *raw, size_t n, bool esc, bool *nul)
{
    char *dst = vf_arena_alloc_raw(&c->ix->strings, n + 1);
    *nul = false;
    if (dst && esc) {
        vf_json_decode(raw, n, (uint8_t *)dst, nul); /* NUL-terminates */
    } else if (dst) {
        memcpy(dst, raw, n);
        dst[n] = '\0';
    }
    return dst;
}

/* A tensor name: in the document itself when it may be written and the name has no escapes (its
 * closing quote, already passed, becomes its NUL), else decoded into the strings arena. */
static const char *tensor_name(ix_ctx *c, const vf_json_iter *it, bool *nul)
{
    if (!c->in_place || it->escaped)
        return ix_string(c, it->raw, it->raw_len, it->escaped, nul);
    uint8_t *w = c->in_place + (it->raw - c->j.base);
    w[it->raw_len] = '\0';
    *nul = false;
    return (const char *)w;
}

static int parse_total(ix_ctx *c, unsigned depth)
{
    vf_json *j = &c->j;
    vf_json_ws(j);
    if (vf_json_word(j, "null", 4))
        return VF_OK;
    if (j->p >= j->end || *j->p != '{') {
        if (!c->meta_err.code)
            vf_error_set(&c->meta_err, VF_ERR_INDEX, c->file, "metadata", "\"metadata\" is not an object");
        return vf_json_skip(j, depth);
    }
    bool seen = false;
    vf_json_iter it = {.c = j, .decode = true};
    int r, rc;
    while ((r = vf_json_iter_next(&it)) > 0) {
        if (it.klen != 10 || memcmp(it.key, "total_size", 10) != 0) {
            if ((rc = vf_json_skip(j, depth + 1)) != VF_OK)
                return rc;
            continue;
        }
        vf_json_ws(j);
        uint64_t v = 0;
        bool ok = false;
        if (vf_json_word(j, "null", 4))
            ok = true;
        else if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
            if ((rc = vf_json_number(j, &v, &ok)) != VF_OK)
                return rc;
            c->ix->total_size = v;
            c->ix->has_total = ok;
        } else if ((rc = vf_json_skip(j, depth + 1)) != VF_OK)
            return rc;
        if ((!ok || seen) && !c->meta_err.code)
            vf_error_set(&c->meta_err, VF_ERR_INDEX, c->file, "metadata.total_size",
                         seen ? "total_size appears more than once"
                              : "total_size is not a non-negative integer <= 2^53");
        seen = true;
    }
    return r;
}

static int add_entry(ix_ctx *c, const char *tensor, const char *shard)
{
    vf_index *ix = c->ix;
    if (ix->count == c->cap) { /* the first tables in huge pages: a large index fills them */
        size_t cap = c->cap ? 2 * c->cap : c->hint;
        vf_index_entry *e = c->cap ? realloc(ix->entries, cap * sizeof *e) : vf_alloc_large(cap * sizeof *e);
        if (e)
            ix->entries = e;
        const char **s = !e ? NULL : c->cap ? realloc(c->entry_shard, cap * sizeof *s) : vf_alloc_large(cap * sizeof *s);
        if (!s)
            return ix_nomem(c);
        c->entry_shard = s;
        c->cap = cap;
    }
    ix->entries[ix->count] = (vf_index_entry){tensor, 0};
    c->entry_shard[ix->count++] = shard;
    return VF_OK;
}

static int parse_weight_map(ix_ctx *c, unsigned depth)
{
    vf_json *j = &c->j;
    vf_json_iter it = {.c = j}; /* keys are tensor names: used raw, never decoded into it.key */
    int r;
    const uint8_t *last_raw = NULL;
    size_t last_n = 0;
    const char *last = NULL;
    bool last_safe = false; /* vf_safe_file_name(last) */
    while ((r = vf_json_iter_next(&it)) > 0) {
        const uint8_t *vraw;
        size_t vn;
        bool vesc, nul = false, vnul = false;
        int rc;
        vf_json_ws(j);
        bool record = !c->entry_err.code;
        const char *tensor = record ? tensor_name(c, &it, &nul) : NULL;
        if (record && !tensor)
            return ix_nomem(c);
        if (j->p >= j->end || *j->p != '"') {
            if (record)
                vf_error_set(&c->entry_err, VF_ERR_INDEX, c->file, tensor, "weight_map value is not a string");
            if ((rc = vf_json_skip(j, depth + 1)) != VF_OK)
                return rc;
            continue;
        }
        /* Runs of entries name the same shard: the same bytes as the last value, closing quote
         * included, are the same valid string (scanning them would stop at that same quote). */
        bool same = last && (size_t)(j->end - j->p) > last_n + 1 && j->p[last_n + 1] == '"' &&
                    memcmp(j->p + 1, last_raw, last_n) == 0;
        if (same)
            j->p += last_n + 2;
        else if ((rc = vf_json_string(j, &vraw, &vn, &vesc)) != VF_OK)
            return rc;
        if (!record)
            continue;
        const char *shard = last;
        if (!same && (!last || vn != last_n || memcmp(vraw, last_raw, vn) != 0)) {
            if (!(shard = ix_string(c, vraw, vn, vesc, &vnul)))
                return ix_nomem(c);
            if (!vnul) {
                last = shard;
                last_raw = vraw;
                last_n = vn;
                last_safe = vf_safe_file_name(shard);
            }
        }
        if (nul)
            vf_error_set(&c->entry_err, VF_ERR_INDEX, c->file, tensor, "tensor name contains U+0000");
        else if (vnul || !(shard == last ? last_safe : vf_safe_file_name(shard)))
            vf_error_set(&c->entry_err, VF_ERR_UNSAFE_PATH, c->file, tensor,
                         "shard file name \"%.200s\" is not a plain file name (absolute, path separator, "
                         "U+0000 or ..)",
                         shard);
        else if ((rc = add_entry(c, tensor, shard)) != VF_OK)
            return rc;
    }
    return r;
}

/* One member of the root object: the first weight_map object and metadata are read (a second
 * one is refused, as every reader refuses a repeated key it uses); others are skipped. */
static int root_member(ix_ctx *c, const vf_json_iter *it)
{
    vf_json *j = &c->j;
    vf_json_ws(j);
    bool wm = it->klen == 10 && memcmp(it->key, "weight_map", 10) == 0;
    bool meta = it->klen == 8 && memcmp(it->key, "metadata", 8) == 0;
    if ((wm && c->seen_wm) || (meta && c->seen_meta)) {
        if (!c->dup_err.code)
            vf_error_set(&c->dup_err, VF_ERR_INDEX, c->file, it->key, "\"%s\" appears more than once", it->key);
        return vf_json_skip(j, 1);
    }
    c->seen_wm |= wm;
    c->seen_meta |= meta;
    if (wm && j->p < j->end && *j->p == '{') {
        c->wm_ok = true;
        return parse_weight_map(c, 1);
    }
    return meta ? parse_total(c, 1) : vf_json_skip(j, 1);
}

static int parse_doc(ix_ctx *c)
{
    vf_json *j = &c->j;
    vf_json_ws(j);
    if (j->p >= j->end || *j->p != '{') {
        c->root_bad = true;
        int rc = vf_json_skip(j, 0);
        if (rc != VF_OK)
            return rc;
    } else {
        vf_json_iter it = {.c = j, .decode = true};
        int r, rc;
        while ((r = vf_json_iter_next(&it)) > 0)
            if ((rc = root_member(c, &it)) != VF_OK)
                return rc;
        if (r < 0)
            return r;
    }
    vf_json_ws(j);
    return j->p == j->end ? VF_OK : vf_json_fail(j);
}

/* Unique shard names, sorted; every entry pointed at its shard. Equal names are usually the same
 * interned pointer in runs, so each run costs one lookup. */
static int collect_shards(ix_ctx *c)
{
    vf_index *ix = c->ix;
    const char **names = malloc((ix->count ? ix->count : 1) * sizeof *names);
    if (!names)
        return ix_nomem(c);
    size_t u = 0;
    for (size_t i = 0; i < ix->count; i++)
        if (u == 0 || names[u - 1] != c->entry_shard[i])
            names[u++] = c->entry_shard[i];
    qsort(names, u, sizeof *names, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < u; i++)
        if (k == 0 || strcmp(names[k - 1], names[i]) != 0)
            names[k++] = names[i];
    ix->shards = names;
    ix->shard_count = k;
    const char *prev = NULL;
    uint32_t prev_at = 0;
    for (size_t i = 0; i < ix->count; i++) {
        if (c->entry_shard[i] != prev) {
            const char **hit = bsearch(&c->entry_shard[i], names, k, sizeof *names, cmp_str);
            prev = c->entry_shard[i];
            prev_at = (uint32_t)(hit - names);
        }
        ix->entries[i].shard = prev_at;
    }
    return VF_OK;
}

/* Sorts entries by tensor name (the usual file is already sorted: then nothing moves) and rejects
 * a tensor named twice. */
static int sort_entries(ix_ctx *c)
{
    vf_index *ix = c->ix;
    bool sorted = true;
    for (size_t i = 1; i < ix->count && sorted; i++)
        sorted = strcmp(ix->entries[i - 1].tensor, ix->entries[i].tensor) < 0;
    if (!sorted) {
        uint32_t *order = malloc((ix->count ? ix->count : 1) * sizeof *order);
        vf_index_entry *tmp = malloc((ix->count ? ix->count : 1) * sizeof *tmp);
        if (!order || !tmp) {
            free(order);
            free(tmp);
            return ix_nomem(c);
        }
        for (size_t i = 0; i < ix->count; i++)
            order[i] = (uint32_t)i;
        vf_sort_u32_by_name(order, ix->count, ix->entries, sizeof *ix->entries,
                            offsetof(vf_index_entry, tensor));
        for (size_t i = 0; i < ix->count; i++)
            tmp[i] = ix->entries[order[i]];
        free(order);
        free(ix->entries);
        ix->entries = tmp;
        for (size_t i = 1; i < ix->count; i++)
            if (strcmp(tmp[i - 1].tensor, tmp[i].tensor) == 0)
                return vf_error_set(c->j.err, VF_ERR_DUPLICATE, c->file, tmp[i].tensor,
                                    "weight_map names the tensor more than once");
    }
    return VF_OK;
}

/* The entries grouped by shard (a stable counting sort of the name-sorted entries), for the
 * checkpoint's merge of each shard with its entries. */
static int group_by_shard(ix_ctx *c)
{
    vf_index *ix = c->ix;
    ix->shard_start = calloc(ix->shard_count + 2, sizeof *ix->shard_start);
    ix->by_shard = malloc((ix->count ? ix->count : 1) * sizeof *ix->by_shard);
    if (!ix->shard_start || !ix->by_shard)
        return ix_nomem(c);
    size_t *at = ix->shard_start + 1; /* at[k]: the next slot of shard k, once counted */
    for (size_t e = 0; e < ix->count; e++)
        at[ix->entries[e].shard + 1]++;
    for (size_t k = 0; k < ix->shard_count; k++)
        at[k + 1] += at[k];
    for (size_t e = 0; e < ix->count; e++)
        ix->by_shard[at[ix->entries[e].shard]++] = (uint32_t)e;
    return VF_OK;
}

static int parse_index(const uint8_t *json, uint8_t *in_place, size_t len, const char *file, vf_index *out,
                       vf_error *err)
{
    memset(out, 0, sizeof *out);
    vf_arena_init(&out->strings, len / 8 + 4096); /* waste at most one small chunk */
    /* an entry of a real index takes ~80 bytes ("model.layers.N...weight": "model-0000K-of-0000M
     * .safetensors",): a first table for len / 64 entries rarely grows */
    ix_ctx c = {.j = {json, json, json + len, file, "index", VF_ERR_INDEX, err, false}, .ix = out,
                .file = file, .in_place = in_place, .hint = len / 64 + 16};
    int rc = parse_doc(&c);
    if (rc == VF_OK && c.nomem)
        rc = c.nomem;
    if (rc == VF_OK && c.root_bad)
        rc = vf_error_set(err, VF_ERR_INDEX, file, NULL, "index is not a JSON object");
    if (rc == VF_OK && c.dup_err.code) {
        if (err)
            *err = c.dup_err;
        rc = c.dup_err.code;
    }
    if (rc == VF_OK && !c.wm_ok)
        rc = vf_error_set(err, VF_ERR_INDEX, file, NULL, "index has no \"weight_map\" object");
    if (rc == VF_OK && (c.meta_err.code || c.entry_err.code)) {
        if (err)
            *err = c.meta_err.code ? c.meta_err : c.entry_err;
        rc = c.meta_err.code ? c.meta_err.code : c.entry_err.code;
    }
    if (rc == VF_OK)
        rc = collect_shards(&c);
    if (rc == VF_OK)
        rc = sort_entries(&c);
    if (rc == VF_OK)
        rc = group_by_shard(&c);
    free(c.entry_shard);
    if (rc != VF_OK)
        vf_index_free(out);
    if (rc != VF_OK && rc != VF_ERR_NOMEM) /* the rule of every JSON input (vf_json.h) */
        rc = vf_json_failed_input(json, len, file, "index", VF_ERR_INDEX, rc, err);
    return rc;
}

int vf_index_parse(const uint8_t *json, size_t len, const char *file, vf_index *out, vf_error *err)
{
    return parse_index(json, NULL, len, file, out, err);
}

int vf_index_parse_in_place(uint8_t *json, size_t len, const char *file, vf_index *out, vf_error *err)
{
    return parse_index(json, json, len, file, out, err);
}

long vf_index_find(const vf_index *ix, const char *tensor)
{
    return vf_find_sorted_name(ix->entries, ix->count, sizeof *ix->entries,
                               offsetof(vf_index_entry, tensor), tensor);
}
