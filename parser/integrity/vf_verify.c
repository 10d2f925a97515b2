/* vf_verify.c - structural verdicts per file, XXH3-128 hashing of tensor data and manifests
 * (vramfit/vf_verify.h). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h> /* the same libxxhash, AVX2/AVX-512 chosen at run time: ~2x SSE2 */
#endif
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "vf_checkpoint_internal.h"
#include "vramfit/vf_checked.h"
#include "vramfit/vf_verify.h"

#define INDEX_NAME "model.safetensors.index.json"

/* ---- digests ----------------------------------------------------------------------------------- */

static void digest_from_hash(XXH128_hash_t h, vf_digest *out)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(out->b, c.digest, sizeof out->b);
}

void vf_digest_of(const void *data, size_t len, vf_digest *out)
{
    digest_from_hash(XXH3_128bits(len ? data : "", len), out);
}

const char *vf_digest_hex(const vf_digest *d, char *out)
{
    vf_hex_encode(d->b, sizeof d->b, out);
    return out;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool vf_digest_from_hex(const char *hex, vf_digest *out)
{
    if (!hex || strlen(hex) != 2 * sizeof out->b)
        return false;
    vf_digest d;
    for (size_t i = 0; i < sizeof d.b; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        d.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = d;
    return true;
}

bool vf_digest_equal(const vf_digest *a, const vf_digest *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

/* ---- structural verification ------------------------------------------------------------------- */

struct vf_verify_report {
    vf_verify_item *items;
    size_t count, cap;
    vf_arena strings;
    vf_error first;
    vf_checkpoint *cp;
    bool snapshot;
};

static int add_item(vf_verify_report *r, vf_verify_kind kind, const char *name, const vf_error *e,
                    uint64_t size, size_t tensors, vf_error *err)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        vf_verify_item *n = realloc(r->items, cap * sizeof *n);
        if (!n)
            return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        r->items = n;
        r->cap = cap;
    }
    vf_verify_item *it = &r->items[r->count];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->name = vf_arena_strdup(&r->strings, name);
    if (!it->name)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    it->status = e ? e->code : VF_OK;
    if (e)
        it->error = *e;
    it->size = size;
    it->tensors = tensors;
    if (it->status != VF_OK && r->first.code == VF_OK)
        r->first = *e;
    r->count++;
    return VF_OK;
}

static int items_from_checkpoint(vf_verify_report *r, const vf_checkpoint *cp, vf_error *err)
{
    int rc = VF_OK;
    size_t total = 0;
    for (size_t i = 0; rc == VF_OK && i < vf_checkpoint_shard_count(cp); i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        total += vf_st_header_count(s->header);
        rc = add_item(r, VF_VERIFY_SHARD, s->name, NULL, vf_st_header_file_size(s->header),
                      vf_st_header_count(s->header), err);
    }
    if (rc == VF_OK && vf_checkpoint_has_index(cp))
        rc = add_item(r, VF_VERIFY_INDEX, INDEX_NAME, NULL, 0, total, err);
    return rc;
}

static int verify_snapshot(vf_verify_report *r, const char *path, vf_error *err)
{
    vf_error e = {0};
    r->snapshot = true;
    int rc = vf_snapshot_read_file(path, NULL, &r->cp, &e);
    if (rc == VF_ERR_NOMEM || rc == VF_ERR_IO || rc == VF_ERR_NOT_FOUND) {
        *err = e;
        return rc;
    }
    rc = add_item(r, VF_VERIFY_SNAPSHOT, path, rc == VF_OK ? NULL : &e, 0, 0, err);
    if (rc == VF_OK && r->cp)
        rc = items_from_checkpoint(r, r->cp, err);
    return rc;
}


static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.safetensors files of dir, sorted; model.safetensors alone when present (as the loader). */
static int list_safetensors(const char *dir, vf_arena *a, const char ***out, size_t *count,
                            vf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return vf_error_set(err, VF_ERR_IO, dir, NULL, "cannot list directory: %s", strerror(errno));
    const char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = VF_OK;
    for (struct dirent *de; rc == VF_OK && (de = readdir(d));) {
        if (!has_suffix(de->d_name, ".safetensors") || de->d_name[0] == '.')
            continue;
        if (strcmp(de->d_name, "model.safetensors") == 0)
            n = 0; /* the single-file layout wins over stray shards */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            const char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n++] = vf_arena_strdup(a, de->d_name)))
            rc = vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
        if (rc == VF_OK && n == 1 && strcmp(names[0], "model.safetensors") == 0)
            break;
    }
    closedir(d);
    if (rc != VF_OK) {
        free(names);
        return rc;
    }
    if (names)
        qsort(names, n, sizeof *names, cmp_cstr);
    *out = names;
    *count = n;
    return VF_OK;
}

static int check_one_shard(vf_verify_report *r, const char *dir, const char *name, vf_error *err)
{
    char *path = vf_path_join(dir, name);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    vf_st_header *h = NULL;
    vf_error e = {0};
    int rc = vf_st_read_file(path, name, &h, &e);
    free(path);
    if (rc == VF_ERR_NOMEM) {
        *err = e;
        return rc;
    }
    rc = add_item(r, VF_VERIFY_SHARD, name, h ? NULL : &e, h ? vf_st_header_file_size(h) : 0,
                  h ? vf_st_header_count(h) : 0, err);
    vf_st_header_free(h);
    return rc;
}

/* The index's shard names (into *names, strings in r->strings), or NULL names when there is no
 * usable index; a present index gets an item with its verdict. */
static int check_index_file(vf_verify_report *r, const char *dir, const char ***names, size_t *n,
                            vf_error *err)
{
    *names = NULL;
    *n = 0;
    char *path = vf_path_join(dir, INDEX_NAME);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    struct stat st;
    bool present = stat(path, &st) == 0;
    uint8_t *data = NULL;
    size_t len = 0;
    vf_error e = {0};
    vf_index ix;
    memset(&ix, 0, sizeof ix);
    int rc = present ? vf_read_small_file(path, INDEX_NAME, VF_AUX_MAX_BYTES, &data, &len, &e) : VF_OK;
    free(path);
    if (!present)
        return VF_OK;
    if (rc == VF_OK)
        rc = vf_index_parse(data, len, INDEX_NAME, &ix, &e);
    free(data);
    int arc = add_item(r, VF_VERIFY_INDEX, INDEX_NAME, rc == VF_OK ? NULL : &e, 0,
                       rc == VF_OK ? ix.count : 0, err);
    if (rc == VF_OK && arc == VF_OK && ix.shard_count) {
        *names = calloc(ix.shard_count, sizeof **names);
        for (size_t i = 0; *names && i < ix.shard_count; i++)
            if (!((*names)[i] = vf_arena_strdup(&r->strings, ix.shards[i]))) {
                free(*names);
                *names = NULL;
            }
        if (!*names)
            arc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        *n = *names ? ix.shard_count : 0;
    }
    vf_index_free(&ix);
    return arc;
}

/* PATH exists but does not open as a checkpoint: one verdict per file it names. */
static int verify_files(vf_verify_report *r, const char *path, const struct stat *st,
                        const vf_error *open_err, vf_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    const char *dir = copy, *single = NULL;
    if (!S_ISDIR(st->st_mode)) {
        char *slash = strrchr(copy, '/');
        single = slash ? slash + 1 : copy;
        dir = slash ? (slash == copy ? "/" : copy) : ".";
        if (slash)
            *slash = '\0';
        if (strcmp(single, INDEX_NAME) == 0 || has_suffix(single, ".index.json"))
            single = NULL;
    }
    const char **names = NULL;
    size_t n = 0;
    int rc = VF_OK;
    if (single) {
        rc = check_one_shard(r, dir, single, err);
    } else {
        rc = check_index_file(r, dir, &names, &n, err);
        if (rc == VF_OK && !names)
            rc = list_safetensors(dir, &r->strings, &names, &n, err);
        for (size_t i = 0; rc == VF_OK && i < n; i++)
            rc = check_one_shard(r, dir, names[i], err);
    }
    free(names);
    free(copy);
    if (rc == VF_OK && r->first.code == VF_OK) /* every file is fine: the cross-checks failed */
        rc = add_item(r, VF_VERIFY_CHECKPOINT, path, open_err, 0, 0, err);
    return rc;
}

static int verify_checkpoint(vf_verify_report *r, const char *path, const vf_open_options *opts,
                             vf_error *err)
{
    vf_error e = {0};
    int rc = vf_checkpoint_open(path, opts, &r->cp, &e);
    if (rc == VF_OK)
        return items_from_checkpoint(r, r->cp, err);
    struct stat st;
    if (rc == VF_ERR_NOMEM || rc == VF_ERR_USAGE || stat(path, &st) != 0) {
        *err = e; /* nothing local to examine file by file */
        return rc;
    }
    return verify_files(r, path, &st, &e, err);
}

int vf_verify_structure(const char *path, const vf_open_options *opts, vf_verify_report **out,
                        vf_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no checkpoint path given");
    vf_verify_report *r = calloc(1, sizeof *r);
    if (!r || vf_arena_init(&r->strings, 4096) != VF_OK) {
        free(r);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = vf_snapshot_sniff(path) ? verify_snapshot(r, path, err)
                                     : verify_checkpoint(r, path, opts, err);
    if (rc != VF_OK) {
        vf_verify_report_free(r);
        return rc;
    }
    *out = r;
    return VF_OK;
}

void vf_verify_report_free(vf_verify_report *r)
{
    if (!r)
        return;
    free(r->items);
    vf_arena_free(&r->strings);
    vf_checkpoint_free(r->cp);
    free(r);
}

size_t vf_verify_item_count(const vf_verify_report *r)
{
    return r->count;
}

const vf_verify_item *vf_verify_item_at(const vf_verify_report *r, size_t i)
{
    return i < r->count ? &r->items[i] : NULL;
}

bool vf_verify_sound(const vf_verify_report *r)
{
    return r->cp != NULL && r->first.code == VF_OK;
}

const vf_error *vf_verify_first_error(const vf_verify_report *r)
{
    return &r->first;
}

const vf_checkpoint *vf_verify_checkpoint(const vf_verify_report *r)
{
    return r->cp;
}

bool vf_verify_is_snapshot(const vf_verify_report *r)
{
    return r->snapshot;
}

/* ---- data hashing: float and zero checks -------------------------------------------------------- */

typedef struct tscan {
    unsigned esize;       /* element bytes for float-checked dtypes, else 0 */
    uint64_t expmask;     /* exponent bits of one element */
    uint8_t carry[8];     /* bytes of an element split across blocks */
    unsigned carry_len;
    bool nonzero;
    uint64_t nonfinite;
} tscan;

static void tscan_init(tscan *s, vf_dtype dt)
{
    memset(s, 0, sizeof *s);
    switch (dt) {
    case VF_DTYPE_F16: s->esize = 2, s->expmask = 0x7C00u; break;
    case VF_DTYPE_BF16: s->esize = 2, s->expmask = 0x7F80u; break;
    case VF_DTYPE_F32: s->esize = 4, s->expmask = 0x7F800000u; break;
    case VF_DTYPE_F64: s->esize = 8, s->expmask = UINT64_C(0x7FF0000000000000); break;
    default: break;
    }
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t count_slow(const tscan *s, const uint8_t *p, size_t nelem)
{
    uint64_t c = 0;
    for (size_t i = 0; i < nelem; i++)
        c += (load_le(p + i * s->esize, s->esize) & s->expmask) == s->expmask;
    return c;
}

/* One pass over n bytes at p (whole elements when esize is 2 or 4): returns the OR of all bytes
 * (zero iff every byte is zero) and sets *flag when some element may have all exponent bits set
 * (NaN or Inf); the caller then counts exactly. SSE2 on x86-64; elsewhere 64-bit words, where the
 * masked lane value has its top bit clear, so adding 0x7FFF.. sets the top bit exactly in nonzero
 * lanes without carrying into the next lane. */
static uint64_t scan_block(const tscan *s, const uint8_t *p, size_t n, bool *flag)
{
    size_t i = 0;
    uint64_t orv = 0;
    bool lanes = s->esize == 2 || s->esize == 4;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128(), hit = _mm_setzero_si128();
    __m128i m = s->esize == 2 ? _mm_set1_epi16((short)s->expmask) : _mm_set1_epi32((int)s->expmask);
    if (lanes && s->esize == 2) {
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            acc = _mm_or_si128(acc, v);
            hit = _mm_or_si128(hit, _mm_cmpeq_epi16(_mm_and_si128(v, m), m));
        }
    } else if (lanes) {
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            acc = _mm_or_si128(acc, v);
            hit = _mm_or_si128(hit, _mm_cmpeq_epi32(_mm_and_si128(v, m), m));
        }
    } else {
        for (; i + 16 <= n; i += 16)
            acc = _mm_or_si128(acc, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
    }
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)(void *)tmp, _mm_or_si128(acc, _mm_srli_si128(acc, 8)));
    orv = load_le(tmp, 8);
    _mm_storeu_si128((__m128i *)(void *)tmp, hit);
    *flag = load_le(tmp, 8) | load_le(tmp + 8, 8);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t m = s->esize == 2 ? s->expmask * UINT64_C(0x0001000100010001)
                               : s->expmask * UINT64_C(0x0000000100000001);
    uint64_t k = s->esize == 2 ? UINT64_C(0x7FFF7FFF7FFF7FFF) : UINT64_C(0x7FFFFFFF7FFFFFFF);
    uint64_t hi = s->esize == 2 ? UINT64_C(0x8000800080008000) : UINT64_C(0x8000000080000000);
    uint64_t hit = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        orv |= w;
        if (lanes)
            hit |= ~(((w & m) ^ m) + k) & hi;
    }
    *flag = hit != 0;
#else
    *flag = lanes;
#endif
    if (lanes && !*flag) /* the scalar tail: whole elements (i is a multiple of the size) */
        *flag = count_slow(s, p + i, (n - i) / s->esize) != 0;
    for (; i < n; i++)
        orv |= p[i];
    if (s->esize == 8)
        *flag = true;
    return orv;
}

static void tscan_feed(tscan *s, const uint8_t *p, size_t n)
{
    if (s->carry_len) { /* complete an element split across blocks */
        size_t take = s->esize - s->carry_len < n ? s->esize - s->carry_len : n;
        memcpy(s->carry + s->carry_len, p, take);
        for (size_t i = 0; i < take; i++)
            s->nonzero |= p[i] != 0;
        s->carry_len += (unsigned)take;
        p += take;
        n -= take;
        if (s->carry_len == s->esize) {
            s->nonfinite += count_slow(s, s->carry, 1);
            s->carry_len = 0;
        }
    }
    size_t whole = s->esize ? n / s->esize : 0, body = s->esize ? whole * s->esize : n;
    bool flag = false;
    if (scan_block(s, p, body, &flag))
        s->nonzero = true;
    if (flag && s->esize)
        s->nonfinite += count_slow(s, p, whole);
    if (s->esize) {
        s->carry_len = (unsigned)(n - body);
        memcpy(s->carry, p + body, s->carry_len);
        for (size_t i = body; i < n; i++)
            s->nonzero |= p[i] != 0;
    }
}

/* ---- data hashing: the sequential reader -------------------------------------------------------- */

#define PIECE (64u * 1024u) /* bytes handled by every pass while they are in cache */

typedef struct hasher {
    const vf_st_header *h;
    const char *name;
    vf_error *err;
    XXH3_state_t *file_state, *tensor_state;
    uint8_t prefix[VF_ST_PREFIX_BYTES];
    const uint8_t *raw;
    size_t raw_len;
    uint64_t data_start;
    size_t ti, count;
    tscan scan;
    vf_tensor_hash *out;
} hasher;

static void start_tensor(hasher *x)
{
    for (; x->ti < x->count; x->ti++) {
        const vf_st_tensor *t = vf_st_header_tensor(x->h, x->ti);
        XXH3_128bits_reset(x->tensor_state);
        tscan_init(&x->scan, t->dtype);
        x->out[x->ti].float_checked = x->scan.esize != 0;
        if (t->nbytes)
            return;
        digest_from_hash(XXH3_128bits_digest(x->tensor_state), &x->out[x->ti].digest);
    }
}

static void finish_tensor(hasher *x)
{
    vf_tensor_hash *o = &x->out[x->ti];
    digest_from_hash(XXH3_128bits_digest(x->tensor_state), &o->digest);
    o->all_zero = !x->scan.nonzero;
    o->nonfinite = x->scan.nonfinite;
    x->ti++;
    start_tensor(x);
}

/* Bytes [rel, rel+n) of the data region. */
static void feed_data(hasher *x, const uint8_t *p, size_t n, uint64_t rel)
{
    while (n && x->ti < x->count) {
        const vf_st_tensor *t = vf_st_header_tensor(x->h, x->ti);
        size_t take = t->end - rel < n ? (size_t)(t->end - rel) : n;
        XXH3_128bits_update(x->tensor_state, p, take);
        tscan_feed(&x->scan, p, take);
        p += take;
        n -= take;
        rel += take;
        if (rel == t->end)
            finish_tensor(x);
    }
}

/* Bytes [off, off+n) of the file for the tensor pass: the prefix and header are compared with the
 * parsed header, data bytes go to the tensors. Hashes in cache-sized pieces. */
static int feed_tensors(hasher *x, const uint8_t *p, size_t n, uint64_t off)
{
    while (n && off < x->data_start) {
        size_t take = x->data_start - off < n ? (size_t)(x->data_start - off) : n;
        for (size_t i = 0; i < take; i++) {
            uint64_t at = off + i;
            uint8_t want = at < VF_ST_PREFIX_BYTES ? x->prefix[at] : x->raw[at - VF_ST_PREFIX_BYTES];
            if (p[i] != want)
                return vf_error_set(x->err, VF_ERR_IO, x->name, NULL,
                                    "header bytes changed since the header was read (byte %llu)",
                                    (unsigned long long)at);
        }
        p += take;
        n -= take;
        off += take;
    }
    for (size_t i = 0; i < n; i += PIECE)
        feed_data(x, p + i, n - i < PIECE ? n - i : PIECE, off + i - x->data_start);
    return VF_OK;
}

/* Reads block [off, off+want) completely or fails; a short read means the file shrank. */
static int read_block(hasher *x, int fd, uint8_t *buf, size_t want, uint64_t off, uint64_t size,
                      vf_error *err)
{
    size_t got = 0;
    int rc = vf_read_at(fd, buf, want, off, &got, x->name, err);
    if (rc == VF_OK && got < want)
        rc = vf_error_set(err, VF_ERR_IO, x->name, NULL,
                          "file shrank while being read: %llu bytes expected, only %llu found",
                          (unsigned long long)size, (unsigned long long)(off + got));
    return rc;
}

/* Fallback when no thread can be started: read, hash the file, feed the tensors, in turn. */
static int hash_sequential(hasher *x, int fd, uint64_t size, const vf_hash_options *o, uint8_t *buf,
                           size_t block)
{
    for (uint64_t off = 0; off < size;) {
        size_t want = size - off < block ? (size_t)(size - off) : block;
        int rc = read_block(x, fd, buf, want, off, size, x->err);
        if (rc != VF_OK)
            return rc;
        if (o && o->progress)
            o->progress(o->user, want);
        XXH3_128bits_update(x->file_state, buf, want);
        rc = feed_tensors(x, buf, want, off);
        if (rc != VF_OK)
            return rc;
        off += want;
    }
    return VF_OK;
}

/* ---- the pipeline: the caller reads blocks into a ring; one worker hashes the whole file, another
 * hashes and checks the tensors. Reading, file hash and tensor hash overlap, so on two or more
 * cores the throughput is that of the slowest stage, normally the read. */

#define SLOTS 4
#define WORKERS 2

typedef struct slot {
    uint8_t *buf;
    size_t len;
    uint64_t off;
    int pending; /* workers still using the block */
} slot;

typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot slots[SLOTS];
    uint64_t produced; /* blocks published so far */
    bool done, abort;
    hasher *x;
    vf_error tensor_err; /* the tensor worker's failure (x->err belongs to the reader) */
    int tensor_rc;
} pipeline;

typedef struct worker {
    pipeline *pl;
    bool tensors; /* false: the whole-file hash */
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pipeline *pl = w->pl;
    for (uint64_t next = 0;; next++) {
        pthread_mutex_lock(&pl->mu);
        while (next == pl->produced && !pl->done && !pl->abort)
            pthread_cond_wait(&pl->cv, &pl->mu);
        bool stop = next == pl->produced || pl->abort;
        slot *s = &pl->slots[next % SLOTS];
        pthread_mutex_unlock(&pl->mu);
        if (stop)
            break;
        int rc = VF_OK;
        if (w->tensors)
            rc = feed_tensors(pl->x, s->buf, s->len, s->off);
        else
            XXH3_128bits_update(pl->x->file_state, s->buf, s->len);
        pthread_mutex_lock(&pl->mu);
        s->pending--;
        if (rc != VF_OK) {
            pl->tensor_rc = rc;
            pl->abort = true;
        }
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        if (rc != VF_OK)
            break;
    }
    return NULL;
}

/* The reader: fills slot b % SLOTS once both workers are done with its previous block. */
static int pipeline_read(pipeline *pl, int fd, uint64_t size, const vf_hash_options *o, size_t block,
                         vf_error *err)
{
    int rc = VF_OK;
    for (uint64_t off = 0, b = 0; rc == VF_OK && off < size; b++) {
        slot *s = &pl->slots[b % SLOTS];
        pthread_mutex_lock(&pl->mu);
        while (s->pending && !pl->abort)
            pthread_cond_wait(&pl->cv, &pl->mu);
        bool abort = pl->abort;
        pthread_mutex_unlock(&pl->mu);
        if (abort)
            break;
        size_t want = size - off < block ? (size_t)(size - off) : block;
        rc = read_block(pl->x, fd, s->buf, want, off, size, err);
        if (rc != VF_OK)
            break;
        if (o && o->progress)
            o->progress(o->user, want);
        pthread_mutex_lock(&pl->mu);
        s->len = want;
        s->off = off;
        s->pending = WORKERS;
        pl->produced++;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        off += want;
    }
    pthread_mutex_lock(&pl->mu);
    pl->done = true;
    if (rc != VF_OK)
        pl->abort = true;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return rc;
}

/* Runs the pipeline; *started is false when no worker could be started (nothing was read). */
static int hash_pipelined(hasher *x, int fd, uint64_t size, const vf_hash_options *o, size_t block,
                          bool *started)
{
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pl.x = x;
    *started = false;
    int rc = VF_OK;
    for (int i = 0; i < SLOTS; i++)
        if (!(pl.slots[i].buf = malloc(block)))
            rc = VF_ERR_NOMEM;
    pthread_t th[WORKERS];
    worker ws[WORKERS] = {{&pl, false}, {&pl, true}};
    int n = 0;
    bool sync_ok = rc == VF_OK && pthread_mutex_init(&pl.mu, NULL) == 0;
    bool cv_ok = sync_ok && pthread_cond_init(&pl.cv, NULL) == 0;
    if (cv_ok) {
        vf_error *reader_err = x->err;
        x->err = &pl.tensor_err; /* only the tensor worker reports through x->err meanwhile */
        for (; n < WORKERS; n++)
            if (pthread_create(&th[n], NULL, worker_main, &ws[n]) != 0)
                break;
        if (n == WORKERS) {
            *started = true;
            rc = pipeline_read(&pl, fd, size, o, block, reader_err);
        } else {
            pthread_mutex_lock(&pl.mu);
            pl.done = pl.abort = true;
            pthread_cond_broadcast(&pl.cv);
            pthread_mutex_unlock(&pl.mu);
        }
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        x->err = reader_err;
        if (*started && rc == VF_OK && pl.tensor_rc != VF_OK) {
            rc = pl.tensor_rc;
            if (reader_err)
                *reader_err = pl.tensor_err;
        }
    }
    if (cv_ok)
        pthread_cond_destroy(&pl.cv);
    if (sync_ok)
        pthread_mutex_destroy(&pl.mu);
    for (int i = 0; i < SLOTS; i++)
        free(pl.slots[i].buf);
    return rc;
}

/* The file behind fd still has the size and modification time of `before`: a file that grew, shrank
 * or was rewritten while it was hashed has no trustworthy digest (VF_ERR_IO naming it). */
static int check_unchanged(int fd, const struct stat *before, const char *name, vf_error *err)
{
    struct stat now;
    if (fstat(fd, &now) != 0)
        return vf_error_set(err, VF_ERR_IO, name, NULL, "cannot stat after reading: %s",
                            strerror(errno));
    if (now.st_size != before->st_size)
        return vf_error_set(err, VF_ERR_IO, name, NULL,
                            "file %s while being read (%llu bytes before, %llu after)",
                            now.st_size > before->st_size ? "grew" : "shrank",
                            (unsigned long long)before->st_size, (unsigned long long)now.st_size);
    if (now.st_mtim.tv_sec != before->st_mtim.tv_sec || now.st_mtim.tv_nsec != before->st_mtim.tv_nsec)
        return vf_error_set(err, VF_ERR_IO, name, NULL,
                            "file was modified while being read (its modification time changed)");
    return VF_OK;
}

int vf_hash_shard(const char *path, const char *display, const vf_st_header *h,
                  const vf_hash_options *o, vf_digest *file_digest, vf_tensor_hash *tensors,
                  vf_error *err)
{
    const char *name = display ? display : path;
    size_t block = o && o->block_size ? o->block_size : VF_HASH_DEFAULT_BLOCK;
    if (block < 4096)
        block = 4096;
    int fd;
    struct stat before;
    int rc = vf_open_input(path, name, &fd, &before, err);
    if (rc != VF_OK)
        return rc;
    uint64_t size = (uint64_t)before.st_size;
    if (size != vf_st_header_file_size(h)) {
        close(fd);
        return vf_error_set(err, VF_ERR_IO, name, NULL,
                            "file has %llu bytes but its header was read from a %llu-byte file (it "
                            "changed since)",
                            (unsigned long long)size, (unsigned long long)vf_st_header_file_size(h));
    }
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    hasher x = {.h = h, .name = name, .err = err, .count = vf_st_header_count(h), .out = tensors};
    x.raw = vf_st_header_raw(h, &x.raw_len);
    x.data_start = vf_st_header_data_start(h);
    for (unsigned i = 0; i < VF_ST_PREFIX_BYTES; i++)
        x.prefix[i] = (uint8_t)((uint64_t)x.raw_len >> (8 * i));
    x.file_state = XXH3_createState();
    x.tensor_state = XXH3_createState();
    uint8_t *buf = NULL;
    if (!x.file_state || !x.tensor_state) {
        rc = vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    } else {
        if (x.count)
            memset(tensors, 0, x.count * sizeof *tensors);
        XXH3_128bits_reset(x.file_state);
        start_tensor(&x);
        bool started = false;
        rc = hash_pipelined(&x, fd, size, o, block, &started);
        if (!started && !(buf = malloc(block))) /* no threads or ring: one block at a time */
            rc = vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
        else if (!started)
            rc = hash_sequential(&x, fd, size, o, buf, block);
    }
    if (rc == VF_OK && x.ti != x.count) /* cannot happen for a validated header */
        rc = vf_error_set(err, VF_ERR_INCOMPLETE, name, NULL, "data region ended inside a tensor");
    if (rc == VF_OK)
        rc = check_unchanged(fd, &before, name, err);
    if (rc == VF_OK)
        digest_from_hash(XXH3_128bits_digest(x.file_state), file_digest);
    free(buf);
    XXH3_freeState(x.file_state);
    XXH3_freeState(x.tensor_state);
    close(fd);
    return rc;
}

/* ---- manifests --------------------------------------------------------------------------------- */

struct vf_manifest {
    vf_arena strings;
    vf_manifest_shard *shards;
    size_t shard_count;
    vf_manifest_tensor *tensors;
    size_t tensor_count;
};

typedef struct mctx {
    const char *file;
    vf_error *err;
    vf_manifest *m;
} mctx;

/* Member `key` of object o, required to appear exactly once; NULL (error set) otherwise. */
/* Member `key` of object o into *hit (NULL when absent); VF_ERR_CONFIG when it appears twice. */
static int optional_member(mctx *c, const cJSON *o, const char *key, const char *where, const cJSON **hit)
{
    *hit = NULL;
    for (const cJSON *k = o->child; k; k = k->next) {
        if (!k->string || strcmp(k->string, key) != 0)
            continue;
        if (*hit) {
            *hit = NULL;
            return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "member \"%s\" appears twice", key);
        }
        *hit = k;
    }
    return VF_OK;
}

static const cJSON *member(mctx *c, const cJSON *o, const char *key, const char *where)
{
    const cJSON *hit;
    if (optional_member(c, o, key, where, &hit) == VF_OK && !hit)
        vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "member \"%s\" is missing", key);
    return hit;
}

static int get_string(mctx *c, const cJSON *o, const char *key, const char *where, const char **out)
{
    const cJSON *v = member(c, o, key, where);
    if (!v)
        return VF_ERR_CONFIG;
    if (!cJSON_IsString(v) || !v->valuestring)
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where, "\"%s\" is not a string", key);
    *out = vf_arena_strdup(&c->m->strings, v->valuestring);
    return *out ? VF_OK : vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
}

static int get_u64(mctx *c, const cJSON *o, const char *key, const char *where, uint64_t *out)
{
    const cJSON *v = member(c, o, key, where);
    if (!v)
        return VF_ERR_CONFIG;
    if (!vf_cjson_u64(v, out))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where,
                            "\"%s\" is not an integer in 0..2^53", key);
    return VF_OK;
}

static int get_digest(mctx *c, const cJSON *o, const char *key, const char *where, vf_digest *out)
{
    const cJSON *v = member(c, o, key, where);
    if (!v)
        return VF_ERR_CONFIG;
    if (!cJSON_IsString(v) || !vf_digest_from_hex(v->valuestring, out))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where,
                            "\"%s\" is not a 32-digit hex XXH3-128 digest", key);
    return VF_OK;
}

static int get_name(mctx *c, const cJSON *o, const char *key, const char *where, const char **out)
{
    int rc = get_string(c, o, key, where, out);
    if (rc == VF_OK && !vf_safe_file_name(*out))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, where,
                            "\"%s\" is not a plain file name", key);
    return rc;
}

/* The optional "sha256" member of shard entry o: absent, or once with 64 lower-case hex digits. */
static int get_sha256(mctx *c, const cJSON *o, vf_manifest_shard *s)
{
    const cJSON *v;
    int rc = optional_member(c, o, "sha256", s->name, &v);
    if (rc != VF_OK || !v)
        return rc;
    const char *h = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!h || vf_lower_hex_len(h) != 64)
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, s->name,
                            "\"sha256\" is not 64 lower-case hex digits");
    memcpy(s->sha256, h, 65);
    return VF_OK;
}

static int parse_shard(mctx *c, const cJSON *o, vf_manifest_shard *s)
{
    if (!cJSON_IsObject(o))
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

static int parse_shape(mctx *c, const cJSON *o, vf_manifest_tensor *t)
{
    const cJSON *v = member(c, o, "shape", t->name);
    if (!v)
        return VF_ERR_CONFIG;
    if (!cJSON_IsArray(v))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name, "\"shape\" is not an array");
    int n = cJSON_GetArraySize(v);
    uint64_t *dims = vf_arena_alloc(&c->m->strings, (size_t)(n ? n : 1) * sizeof *dims);
    if (!dims)
        return vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
    int i = 0;
    for (const cJSON *d = v->child; d; d = d->next, i++)
        if (!vf_cjson_u64(d, &dims[i]))
            return vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name,
                                "shape entry %d is not an integer in 0..2^53", i);
    t->ndim = (uint32_t)i;
    t->shape = dims;
    return VF_OK;
}

static int parse_tensor(mctx *c, const cJSON *o, vf_manifest_tensor *t)
{
    if (!cJSON_IsObject(o))
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
    if (rc == VF_OK && vf_manifest_find_shard(c->m, t->file) < 0)
        rc = vf_error_set(c->err, VF_ERR_CONFIG, c->file, t->name,
                          "\"file\" %s is not one of the manifest's shards", t->file);
    return rc;
}

/* Sorts `n` elements of `size` bytes (name pointer first) by name; fails on a duplicate. */
static int sort_unique(mctx *c, void *base, size_t n, size_t size, const char *what)
{
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint8_t *tmp = malloc((n ? n : 1) * size);
    int rc = idx && tmp ? VF_OK : vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
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
            rc = vf_error_set(c->err, VF_ERR_CONFIG, c->file, b, "%s listed twice", what);
    }
    free(idx);
    free(tmp);
    return rc;
}

static int parse_list(mctx *c, const cJSON *root, const char *key, bool shards)
{
    const cJSON *arr = member(c, root, key, NULL);
    if (!arr)
        return VF_ERR_CONFIG;
    if (!cJSON_IsArray(arr))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, key, "\"%s\" is not an array", key);
    size_t n = (size_t)cJSON_GetArraySize(arr); /* bounded by the JSON text */
    if (n > UINT32_MAX)
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, key, "too many entries");
    size_t size = shards ? sizeof(vf_manifest_shard) : sizeof(vf_manifest_tensor);
    void *items = calloc(n ? n : 1, size);
    if (!items)
        return vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
    if (shards) {
        c->m->shards = items;
        c->m->shard_count = n;
    } else {
        c->m->tensors = items;
        c->m->tensor_count = n;
    }
    int rc = VF_OK;
    size_t i = 0;
    for (const cJSON *e = arr->child; rc == VF_OK && e; e = e->next, i++)
        rc = shards ? parse_shard(c, e, &c->m->shards[i]) : parse_tensor(c, e, &c->m->tensors[i]);
    if (rc == VF_OK)
        rc = sort_unique(c, items, n, size, shards ? "shard" : "tensor");
    return rc;
}

static int parse_manifest_root(mctx *c, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return vf_error_set(c->err, VF_ERR_CONFIG, c->file, NULL, "manifest is not a JSON object");
    const cJSON *f = member(c, root, "format", NULL);
    if (!f)
        return VF_ERR_CONFIG;
    if (!cJSON_IsString(f) || strcmp(f->valuestring, "vramfit-manifest") != 0)
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
    vf_manifest *m = calloc(1, sizeof *m);
    if (!m || vf_arena_init(&m->strings, 16384) != VF_OK) {
        free(m);
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)json, len, &end, 0);
    int rc = VF_OK;
    if (!root) {
        size_t at = end && end >= (const char *)json ? (size_t)(end - (const char *)json) : 0;
        rc = vf_error_set(err, VF_ERR_JSON, file, NULL, "not valid JSON (near byte %zu)", at);
    } else {
        for (size_t i = (size_t)(end - (const char *)json); i < len && rc == VF_OK; i++)
            if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t')
                rc = vf_error_set(err, VF_ERR_JSON, file, NULL, "trailing bytes after the JSON value");
        mctx c = {file, err, m};
        if (rc == VF_OK)
            rc = parse_manifest_root(&c, root);
    }
    cJSON_Delete(root);
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

void vf_manifest_free(vf_manifest *m)
{
    if (!m)
        return;
    vf_arena_free(&m->strings);
    free(m->shards);
    free(m->tensors);
    free(m);
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

/* Binary search in an array sorted by the name pointer at offset 0 of each element. */

long vf_manifest_find_shard(const vf_manifest *m, const char *name)
{
    return vf_find_sorted_name(m->shards, m->shard_count, sizeof *m->shards, 0, name);
}

long vf_manifest_find_tensor(const vf_manifest *m, const char *name)
{
    return vf_find_sorted_name(m->tensors, m->tensor_count, sizeof *m->tensors, 0, name);
}
