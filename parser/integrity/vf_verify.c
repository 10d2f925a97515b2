/* vf_verify.c - structural verdicts per file and XXH3-128 hashing of tensor data
 * (vramfit/vf_verify.h; manifests are in vf_manifest.c). */
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
        rc = add_item(r, VF_VERIFY_INDEX, VF_INDEX_NAME, NULL, 0, total, err);
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
    char *path = vf_path_join(dir, VF_INDEX_NAME);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    struct stat st;
    bool present = stat(path, &st) == 0;
    uint8_t *data = NULL;
    size_t len = 0;
    vf_error e = {0};
    vf_index ix;
    memset(&ix, 0, sizeof ix);
    int rc = present ? vf_read_small_file(path, VF_INDEX_NAME, VF_AUX_MAX_BYTES, &data, &len, &e) : VF_OK;
    free(path);
    if (!present)
        return VF_OK;
    if (rc == VF_OK)
        rc = vf_index_parse(data, len, VF_INDEX_NAME, &ix, &e);
    free(data);
    int arc = add_item(r, VF_VERIFY_INDEX, VF_INDEX_NAME, rc == VF_OK ? NULL : &e, 0,
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

/* The shards of dir, one verdict each: those its index names when it has a usable one, else those
 * the directory lists (as the loader picks them). */
static int check_directory(vf_verify_report *r, const char *dir, vf_error *err)
{
    const char **indexed = NULL;
    size_t n = 0;
    int rc = check_index_file(r, dir, &indexed, &n, err);
    for (size_t i = 0; rc == VF_OK && i < n; i++)
        rc = check_one_shard(r, dir, indexed[i], err);
    if (rc != VF_OK || indexed) {
        free(indexed);
        return rc;
    }
    char **listed = NULL;
    rc = vf_cp_list_shards(dir, &listed, &n, err);
    for (size_t i = 0; rc == VF_OK && i < n; i++)
        rc = check_one_shard(r, dir, listed[i], err);
    vf_cp_free_names(listed, n);
    return rc;
}

/* PATH exists but does not open as a checkpoint: one verdict per file it names. */
static int verify_files(vf_verify_report *r, const char *path, const struct stat *st,
                        const vf_error *open_err, vf_error *err)
{
    char *dir, *single;
    if (vf_cp_locate(path, S_ISDIR(st->st_mode), &dir, &single) != VF_OK)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    int rc = single ? check_one_shard(r, dir, single, err) : check_directory(r, dir, err);
    free(dir);
    free(single);
    if (rc == VF_OK && r->first.code == VF_OK) /* every file is fine: the cross-checks failed */
        rc = add_item(r, VF_VERIFY_CHECKPOINT, path, open_err, 0, 0, err);
    return rc;
}

static int verify_checkpoint(vf_verify_report *r, const char *path, const vf_open_options *opts,
                             vf_error *err)
{
    vf_error e = {0};
    vf_open_options keep = VF_OPEN_OPTIONS_INIT; /* the header bytes: fingerprints, --data's hash */
    if (opts)
        keep.revision = opts->revision, keep.hf_cache = opts->hf_cache;
    keep.flags = VF_OPEN_KEEP_HEADERS;
    int rc = vf_checkpoint_open(path, &keep, &r->cp, &e);
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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VF_SCAN_AVX2 1

/* One AVX2 loop of scan_avx2: 64 bytes a step, the OR of the bytes into acc and, per element of
 * CMPEQ's width, all exponent bits set into hit. No branch per element. */
#define SCAN_AVX2_LOOP(CMPEQ)                                                                        \
    for (; i + 64 <= n; i += 64) {                                                                   \
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));                       \
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32));                  \
        acc = _mm256_or_si256(acc, _mm256_or_si256(a, b));                                           \
        hit = _mm256_or_si256(hit, _mm256_or_si256(CMPEQ(_mm256_and_si256(a, m), m),                 \
                                                   CMPEQ(_mm256_and_si256(b, m), m)));               \
    }

/* scan_block's bytes [0, n - n % 64) with AVX2 (chosen at run time): ORs them into *orv, sets *hit
 * when an element of an F16/BF16/F32/F64 tensor has every exponent bit set; returns the bytes done. */
__attribute__((target("avx2"))) static size_t scan_avx2(const tscan *s, const uint8_t *p, size_t n,
                                                        uint64_t *orv, bool *any)
{
    __m256i acc = _mm256_setzero_si256(), hit = _mm256_setzero_si256();
    __m256i m = s->esize == 2   ? _mm256_set1_epi16((short)s->expmask)
                : s->esize == 4 ? _mm256_set1_epi32((int)s->expmask)
                                : _mm256_set1_epi64x((long long)s->expmask);
    size_t i = 0;
    switch (s->esize) {
    case 2: SCAN_AVX2_LOOP(_mm256_cmpeq_epi16) break;
    case 4: SCAN_AVX2_LOOP(_mm256_cmpeq_epi32) break;
    case 8: SCAN_AVX2_LOOP(_mm256_cmpeq_epi64) break;
    default:
        for (; i + 64 <= n; i += 64)
            acc = _mm256_or_si256(acc, _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(const void *)(p + i)),
                                                       _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32))));
    }
    *orv |= !_mm256_testz_si256(acc, acc);
    *any |= !_mm256_testz_si256(hit, hit);
    return i;
}
#endif

/* One pass over n bytes at p (whole elements when esize is not 0): returns zero iff every byte is
 * zero and sets *flag when some element may have all exponent bits set (NaN or Inf); the caller
 * then counts exactly. AVX2 where the CPU has it (every element checked), else SSE2 on x86-64 (F16,
 * BF16 and F32; F64 elements are checked one by one), else 64-bit words, where the masked lane value
 * has its top bit clear, so adding 0x7FFF.. sets the top bit exactly in nonzero lanes without carrying
 * into the next lane. */
static uint64_t scan_block(const tscan *s, const uint8_t *p, size_t n, bool *flag)
{
    size_t i = 0, checked = 0; /* bytes ORed, and bytes whose elements were checked */
    uint64_t orv = 0;
    bool lanes = s->esize == 2 || s->esize == 4, hit = false;
#ifdef VF_SCAN_AVX2
    if (__builtin_cpu_supports("avx2"))
        checked = i = scan_avx2(s, p, n, &orv, &hit);
#endif
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128(), h = _mm_setzero_si128();
    __m128i m = s->esize == 2 ? _mm_set1_epi16((short)s->expmask) : _mm_set1_epi32((int)s->expmask);
    if (lanes && s->esize == 2) {
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            acc = _mm_or_si128(acc, v);
            h = _mm_or_si128(h, _mm_cmpeq_epi16(_mm_and_si128(v, m), m));
        }
    } else if (lanes) {
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            acc = _mm_or_si128(acc, v);
            h = _mm_or_si128(h, _mm_cmpeq_epi32(_mm_and_si128(v, m), m));
        }
    } else {
        for (; i + 16 <= n; i += 16)
            acc = _mm_or_si128(acc, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
    }
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)(void *)tmp, _mm_or_si128(acc, _mm_srli_si128(acc, 8)));
    orv |= load_le(tmp, 8);
    _mm_storeu_si128((__m128i *)(void *)tmp, h);
    hit |= (load_le(tmp, 8) | load_le(tmp + 8, 8)) != 0;
    if (lanes)
        checked = i;
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t m = s->esize == 2 ? s->expmask * UINT64_C(0x0001000100010001)
                               : s->expmask * UINT64_C(0x0000000100000001);
    uint64_t k = s->esize == 2 ? UINT64_C(0x7FFF7FFF7FFF7FFF) : UINT64_C(0x7FFFFFFF7FFFFFFF);
    uint64_t hi = s->esize == 2 ? UINT64_C(0x8000800080008000) : UINT64_C(0x8000000080000000);
    uint64_t h = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        orv |= w;
        if (lanes)
            h |= ~(((w & m) ^ m) + k) & hi;
    }
    hit |= h != 0;
    if (lanes)
        checked = i;
#endif
    if (s->esize && !hit) /* the elements no vector loop checked (checked is a multiple of esize) */
        hit = count_slow(s, p + checked, (n - checked) / s->esize) != 0;
    for (; i < n; i++)
        orv |= p[i];
    *flag = hit;
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

/* ---- data hashing: one pass over every byte ------------------------------------------------------
 *
 * Where the time goes (perf, 2 x 1 GiB page-cache-warm shards): copying the bytes out of the page
 * cache dominates, and it costs three times as much into blocks larger than the core's L2 cache as
 * into small ones (the copy then writes to memory, and every later pass reads it back from there).
 * So blocks are small (VF_HASH_DEFAULT_BLOCK), and each block is hashed into the file digest,
 * checked and hashed per tensor in PIECE-sized pieces while they are in L1/L2: one read of each
 * byte from memory. A shard is read by one thread (the fused loop) when there are at least as many
 * shards as CPUs; with fewer, each shard gets a reader and a hasher thread (the copy and the hashing
 * overlap: the read rate is then that of the copy alone). */

#define PIECE (16u * 1024u) /* bytes every pass handles while they are in the core's cache */

/* What the workers of one vf_hash_shards call share. */
typedef struct hash_run {
    const vf_hash_options *o;
    pthread_mutex_t *progress_mu; /* serialises progress calls; NULL with one thread */
} hash_run;

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
    int fd;
    uint64_t size;
    const hash_run *run;
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

/* Bytes [off, off+n) of the file for the tensors: the prefix and header are compared with the
 * parsed header, data bytes go to the tensors. */
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
    if (n)
        feed_data(x, p, n, off - x->data_start);
    return VF_OK;
}

/* Block [off, off+n) of the file, every pass over one piece before the next piece. */
static int consume_block(hasher *x, const uint8_t *p, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i += PIECE) {
        size_t k = n - i < PIECE ? n - i : PIECE;
        XXH3_128bits_update(x->file_state, p + i, k);
        int rc = feed_tensors(x, p + i, k, off + i);
        if (rc != VF_OK)
            return rc;
    }
    return VF_OK;
}

static void report_progress(const hash_run *run, uint64_t bytes)
{
    if (!run->o || !run->o->progress)
        return;
    if (run->progress_mu)
        pthread_mutex_lock(run->progress_mu);
    run->o->progress(run->o->user, bytes);
    if (run->progress_mu)
        pthread_mutex_unlock(run->progress_mu);
}

/* Reads block [off, off+want) completely or fails (a short read means the file shrank), then
 * reports it to the progress callback. */
static int read_block(hasher *x, uint8_t *buf, size_t want, uint64_t off, vf_error *err)
{
    size_t got = 0;
    int rc = vf_read_at(x->fd, buf, want, off, &got, x->name, err);
    if (rc == VF_OK && got < want)
        rc = vf_error_set(err, VF_ERR_IO, x->name, NULL,
                          "file shrank while being read: %llu bytes expected, only %llu found",
                          (unsigned long long)x->size, (unsigned long long)(off + got));
    if (rc == VF_OK)
        report_progress(x->run, want);
    return rc;
}

/* One thread reads and hashes, block by block. */
static int hash_fused(hasher *x, size_t block)
{
    uint8_t *buf = aligned_alloc(4096, block);
    int rc = buf ? VF_OK : vf_error_set(x->err, VF_ERR_NOMEM, x->name, NULL, "out of memory");
    for (uint64_t off = 0; rc == VF_OK && off < x->size;) {
        size_t want = x->size - off < block ? (size_t)(x->size - off) : block;
        rc = read_block(x, buf, want, off, x->err);
        if (rc == VF_OK)
            rc = consume_block(x, buf, want, off);
        off += want;
    }
    free(buf);
    return rc;
}

/* ---- data hashing: a reader and a hasher thread on one shard -------------------------------------
 * The caller reads blocks into a ring (small enough to stay in the shared L3 cache); the hasher
 * thread consumes them in order. */

#define SLOTS 8

typedef struct slot {
    uint8_t *buf;
    size_t len;
    uint64_t off;
    bool full; /* read, not yet consumed */
} slot;

typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot slots[SLOTS];
    bool done, abort; /* done: the reader has published its last block */
    hasher *x;
    vf_error hasher_err; /* the hasher thread's failure (x->err belongs to the reader) */
    int hasher_rc;
} pipeline;

static void *pipeline_hasher(void *arg)
{
    pipeline *pl = arg;
    for (uint64_t b = 0;; b++) {
        slot *s = &pl->slots[b % SLOTS];
        pthread_mutex_lock(&pl->mu);
        while (!s->full && !pl->done && !pl->abort)
            pthread_cond_wait(&pl->cv, &pl->mu);
        bool stop = !s->full || pl->abort;
        pthread_mutex_unlock(&pl->mu);
        if (stop)
            break;
        int rc = consume_block(pl->x, s->buf, s->len, s->off);
        pthread_mutex_lock(&pl->mu);
        s->full = false;
        if (rc != VF_OK) {
            pl->hasher_rc = rc;
            pl->abort = true;
        }
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        if (rc != VF_OK)
            break;
    }
    return NULL;
}

/* The reader: fills slot b % SLOTS once the hasher is done with its previous block. */
static int pipeline_read(pipeline *pl, size_t block, vf_error *err)
{
    hasher *x = pl->x;
    int rc = VF_OK;
    for (uint64_t off = 0, b = 0; rc == VF_OK && off < x->size; b++) {
        slot *s = &pl->slots[b % SLOTS];
        pthread_mutex_lock(&pl->mu);
        while (s->full && !pl->abort)
            pthread_cond_wait(&pl->cv, &pl->mu);
        bool abort = pl->abort;
        pthread_mutex_unlock(&pl->mu);
        if (abort)
            break;
        size_t want = x->size - off < block ? (size_t)(x->size - off) : block;
        rc = read_block(x, s->buf, want, off, err);
        if (rc != VF_OK)
            break;
        pthread_mutex_lock(&pl->mu);
        s->len = want;
        s->off = off;
        s->full = true;
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

/* Runs the pipeline; *started is false when the hasher thread could not start (nothing was read). */
static int hash_pipelined(hasher *x, size_t block, bool *started)
{
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pl.x = x;
    *started = false;
    bool bufs = true;
    for (int i = 0; i < SLOTS; i++)
        bufs &= (pl.slots[i].buf = aligned_alloc(4096, block)) != NULL;
    bool mu_ok = bufs && pthread_mutex_init(&pl.mu, NULL) == 0;
    bool cv_ok = mu_ok && pthread_cond_init(&pl.cv, NULL) == 0;
    pthread_t th;
    int rc = VF_OK;
    if (cv_ok) {
        vf_error *reader_err = x->err;
        x->err = &pl.hasher_err; /* only the hasher reports through x->err meanwhile */
        *started = pthread_create(&th, NULL, pipeline_hasher, &pl) == 0;
        if (*started) {
            rc = pipeline_read(&pl, block, reader_err);
            pthread_join(th, NULL);
        }
        x->err = reader_err;
        if (*started && rc == VF_OK && pl.hasher_rc != VF_OK) {
            rc = pl.hasher_rc;
            if (reader_err)
                *reader_err = pl.hasher_err;
        }
    }
    if (cv_ok)
        pthread_cond_destroy(&pl.cv);
    if (mu_ok)
        pthread_mutex_destroy(&pl.mu);
    for (int i = 0; i < SLOTS; i++)
        free(pl.slots[i].buf);
    return rc;
}

/* ---- data hashing: one shard, and shards in parallel ---------------------------------------------- */

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

/* The read size: whole pages, for buffers aligned to a page. The kernel copies out of the page cache
 * 3.6x slower into a buffer 16 bytes past a page boundary (where malloc puts large blocks) than into
 * a page-aligned one on this machine's AMD EPYC (perf: _copy_to_iter): the old 8 MiB malloc'd blocks
 * spent most of verify --data there. */
static size_t block_size(const vf_hash_options *o)
{
    size_t block = o && o->block_size ? o->block_size : VF_HASH_DEFAULT_BLOCK;
    if (block > (SIZE_MAX >> 1))
        block = SIZE_MAX >> 1;
    return block < 4096 ? 4096 : (block + 4095) & ~(size_t)4095;
}

/* Hashes job j, with a hasher thread of its own when `pipelined` (else, or when that thread cannot
 * start, on this thread alone). */
static int hash_job(vf_hash_job *j, const hash_run *run, bool pipelined)
{
    const char *name = j->display ? j->display : j->path;
    vf_error *err = &j->error;
    const vf_st_header *h = j->header;
    struct stat before;
    hasher x = {.h = h, .name = name, .err = err, .count = vf_st_header_count(h), .out = j->tensors,
                .run = run};
    int rc = vf_open_input(j->path, name, &x.fd, &before, err);
    if (rc != VF_OK)
        return rc;
    x.size = (uint64_t)before.st_size;
    if (x.size != vf_st_header_file_size(h)) {
        close(x.fd);
        return vf_error_set(err, VF_ERR_IO, name, NULL,
                            "file has %llu bytes but its header was read from a %llu-byte file (it "
                            "changed since)",
                            (unsigned long long)x.size, (unsigned long long)vf_st_header_file_size(h));
    }
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(x.fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* larger read-ahead from storage */
#endif
    x.raw = vf_st_header_raw(h, &x.raw_len);
    x.data_start = vf_st_header_data_start(h);
    for (unsigned i = 0; i < VF_ST_PREFIX_BYTES; i++)
        x.prefix[i] = (uint8_t)((uint64_t)x.raw_len >> (8 * i));
    x.file_state = XXH3_createState();
    x.tensor_state = XXH3_createState();
    if (!x.file_state || !x.tensor_state) {
        rc = vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    } else {
        if (x.count)
            memset(x.out, 0, x.count * sizeof *x.out);
        XXH3_128bits_reset(x.file_state);
        start_tensor(&x);
        bool started = false;
        if (pipelined)
            rc = hash_pipelined(&x, block_size(run->o), &started);
        if (!started)
            rc = hash_fused(&x, block_size(run->o));
    }
    if (rc == VF_OK && x.ti != x.count) /* cannot happen for a validated header */
        rc = vf_error_set(err, VF_ERR_INCOMPLETE, name, NULL, "data region ended inside a tensor");
    if (rc == VF_OK)
        rc = check_unchanged(x.fd, &before, name, err);
    if (rc == VF_OK)
        digest_from_hash(XXH3_128bits_digest(x.file_state), &j->digest);
    XXH3_freeState(x.file_state);
    XXH3_freeState(x.tensor_state);
    close(x.fd);
    return rc;
}

typedef struct shards_ctx {
    vf_hash_job *jobs;
    const hash_run *run;
    bool pipelined;
} shards_ctx;

static uint64_t shard_size_of(void *ctx, size_t i)
{
    return vf_st_header_file_size(((shards_ctx *)ctx)->jobs[i].header);
}

static void hash_one_shard(void *ctx, size_t worker, size_t i)
{
    shards_ctx *c = ctx;
    (void)worker;
    c->jobs[i].status = hash_job(&c->jobs[i], c->run, c->pipelined);
}

int vf_hash_shards(vf_hash_job *jobs, size_t n, const vf_hash_options *o)
{
    /* one thread per CPU: whole shards each when there are enough of them, else a reader and a
     * hasher per shard */
    size_t cpus = vf_parallel_ranges(SIZE_MAX, 1), k = n < cpus ? (n ? n : 1) : cpus;
    bool pipelined = cpus >= 2 * (n ? n : 1);
    pthread_mutex_t mu;
    bool mu_ok = pthread_mutex_init(&mu, NULL) == 0;
    hash_run run = {o, mu_ok && (k > 1 || pipelined) ? &mu : NULL};
    for (size_t i = 0; i < n; i++)
        jobs[i].status = VF_OK;
    shards_ctx c = {jobs, &run, pipelined};
    int rc = vf_run_largest_first(n, k, shard_size_of, hash_one_shard, &c);
    if (mu_ok)
        pthread_mutex_destroy(&mu);
    for (size_t i = 0; rc != VF_OK && i < n; i++) {
        const char *name = jobs[i].display ? jobs[i].display : jobs[i].path;
        jobs[i].status = vf_error_set(&jobs[i].error, VF_ERR_NOMEM, name, NULL, "out of memory");
    }
    if (rc != VF_OK)
        return n ? VF_ERR_NOMEM : VF_OK;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].status != VF_OK)
            return jobs[i].status; /* the lowest-index failure */
    return VF_OK;
}

int vf_hash_shard(const char *path, const char *display, const vf_st_header *h,
                  const vf_hash_options *o, vf_digest *file_digest, vf_tensor_hash *tensors,
                  vf_error *err)
{
    vf_hash_job j = {.path = path, .display = display, .header = h, .tensors = tensors};
    int rc = vf_hash_shards(&j, 1, o);
    if (rc == VF_OK)
        *file_digest = j.digest;
    else if (err)
        *err = j.error;
    return rc;
}
