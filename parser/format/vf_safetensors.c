/* vf_safetensors.c - strict parser of one safetensors header.
 *
 * Order of checks (matches the reference implementation, huggingface/safetensors tensor.rs):
 * prefix (>= 8 bytes, N <= 100,000,000, 8+N <= file size) -> UTF-8 -> JSON object -> per entry:
 * structure, dtype, shape, numel/bytes overflow, span == numel x dtype size -> offsets contiguous from
 * 0 in offset order -> data region covered exactly to the end of the file -> unique names.
 *
 * The JSON is read by a purpose-built single-pass parser on the strict scanner of vf_json.c: no
 * tree, one read of the header bytes. The tables grow in a scratch (vf_st_scratch) that a thread
 * reuses from header to header and are then copied into one block of their exact size; the header
 * bytes themselves are kept only on request (vf_st_header_raw). Reentrant: the shards of a
 * checkpoint are parsed on one thread per CPU, each with its own scratch. */
#include <fcntl.h> /* AT_FDCWD */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vf_format_internal.h"
#include "vf_json.h"
#include "vramfit/vf_checked.h"


struct vf_st_header {
    bool in_arena; /* the struct, tables and names live in a scratch's arena (vf_st_scratch_new) */
    uint8_t *raw; /* the header text, owned; NULL unless kept */
    size_t raw_len;
    uint64_t file_size;
    size_t count;
    vf_st_tensor *tensors; /* sorted by begin offset; one block with shapes and by_name */
    uint32_t *by_name;     /* tensor indices sorted by name */
    uint64_t *shapes;      /* pool of all shape entries */
    vf_arena names;        /* tensor names and metadata strings */
    size_t meta_count;
    vf_st_meta *meta;
    size_t data_names; /* tensors vf_st_data_name names */
};

/* The growable tables of one parse, and the buffer a header is read into. */
struct vf_st_scratch {
    vf_arena *arena; /* borrowed: where headers are built, NULL for their own memory */
    uint8_t *text;
    size_t text_cap;
    vf_st_tensor *tensors;
    size_t tensor_cap;
    uint64_t *shapes;
    size_t shape_cap;
};

vf_st_scratch *vf_st_scratch_new(vf_arena *arena)
{
    vf_st_scratch *s = calloc(1, sizeof *s);
    if (s)
        s->arena = arena;
    return s;
}

void vf_st_scratch_free(vf_st_scratch *s)
{
    if (!s)
        return;
    free(s->text);
    free(s->tensors);
    free(s->shapes);
    free(s);
}

/* Room for n bytes of header text (the old text is not kept). */
static uint8_t *scratch_text(vf_st_scratch *s, size_t n)
{
    if (n > s->text_cap || !s->text) {
        free(s->text);
        s->text_cap = n > 4096 ? n : 4096;
        if (!(s->text = malloc(s->text_cap)))
            s->text_cap = 0;
    }
    return s->text;
}

/* ---- prefix ------------------------------------------------------------------------------------ */

int vf_st_check_prefix(const uint8_t *prefix, size_t prefix_len, uint64_t file_size, const char *file,
                       uint64_t *header_len, vf_error *err)
{
    if (prefix_len < VF_ST_PREFIX_BYTES || file_size < VF_ST_PREFIX_BYTES)
        return vf_error_set(err, VF_ERR_HEADER_TOO_SMALL, file, NULL,
                            "file has %llu bytes, fewer than the 8-byte header length prefix",
                            (unsigned long long)file_size);
    uint64_t n = vf_load_le(prefix, 8);
    /* The prefix is not echoed: in a file that is not safetensors these are 8 bytes of its content
     * (a secret, say), and a number would print them. */
    if (n > VF_ST_MAX_HEADER)
        return vf_error_set(err, VF_ERR_HEADER_TOO_LARGE, file, NULL,
                            "not a safetensors file: its 8-byte header length exceeds the limit of %u "
                            "bytes",
                            VF_ST_MAX_HEADER);
    if (n > file_size - VF_ST_PREFIX_BYTES)
        return vf_error_set(err, VF_ERR_HEADER_LENGTH, file, NULL,
                            "not a safetensors file: its 8-byte header length runs past the end of the "
                            "%llu-byte file",
                            (unsigned long long)file_size);
    *header_len = n;
    return VF_OK;
}

/* Renders "[a,b,c]" into buf for messages. */
static const char *shape_text(const uint64_t *shape, uint32_t ndim, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (uint32_t i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

/* ---- the header grammar ------------------------------------------------------------------------ *
 *
 * A purpose-built, single-pass, strict JSON (RFC 8259) parser for the safetensors header: an object
 * whose members are "__metadata__" (null or an object of strings) or tensor entries (objects with
 * "dtype", "shape" and "data_offsets"; other members are validated JSON and ignored). It builds the
 * tensor table directly, with no intermediate tree: memory is the header bytes plus the table.
 *
 * Error classes keep the precedence of a parse-the-document-then-validate design: any syntax error
 * (VF_ERR_JSON) wins over every semantic error, so after the first semantic error the parser records
 * it and only checks syntax for the rest of the document. Semantic checks run per entry in a fixed
 * order whatever the order of its members. Duplicate members inside an entry are rejected. */

typedef struct dtype_memo {
    uint64_t word, mask; /* the text's bytes as a little-endian word, and the mask of its length */
    size_t len;          /* 0: empty */
    vf_dtype value;
} dtype_memo;

typedef struct parse_ctx {
    vf_json j; /* the cursor */
    const char *file;
    vf_error *err;
    vf_st_header *h;
    int sem;                   /* first semantic error, VF_OK while none */
    bool general_only;         /* every entry through the general parser (the differential test) */
    vf_st_scratch *s;          /* the tables while they grow: s->tensors[0..count), s->shapes */
    vf_arena *names;           /* where names and metadata strings go */
    /* The last two dtypes resolved through the table whose text is at most 8 bytes, the latest
     * first (quantized checkpoints alternate a weight's dtype and its scales'): the fast path takes
     * an entry with the same text (followed by its quote) as that dtype without the table. */
    dtype_memo dtypes[2];
    size_t count, meta_cap, shape_used;
} parse_ctx;

static int entry_error(parse_ctx *c, int code, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Records a semantic error unless one is already recorded; returns the first one. */
static int entry_error(parse_ctx *c, int code, const char *name, const char *fmt, ...)
{
    if (c->sem != VF_OK || c->j.failed)
        return c->sem;
    va_list ap;
    va_start(ap, fmt);
    vf_error_setv(c->err, code, c->file, name, fmt, ap);
    va_end(ap);
    c->sem = code;
    return code;
}


static int nomem(parse_ctx *c)
{
    c->sem = VF_ERR_NOMEM;
    return vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
}











/* A string for the header's tables, decoded into the names arena. */
static int own_string(parse_ctx *c, const uint8_t *s, size_t n, bool escaped, const char **out,
                      bool *has_nul)
{
    uint8_t *dst = vf_arena_alloc_raw(c->names, n + 1);
    if (!dst)
        return nomem(c);
    *has_nul = false;
    if (escaped) {
        vf_json_decode(s, n, dst, has_nul); /* NUL-terminates */
    } else {
        memcpy(dst, s, n);
        dst[n] = '\0';
    }
    *out = (const char *)dst;
    return VF_OK;
}

/* Makes a table of `size`-byte elements hold at least want of them; false when out of memory. */
static bool reserve(void **table, size_t *cap, size_t want, size_t size)
{
    if (*cap >= want)
        return true;
    void *t = want <= SIZE_MAX / size ? realloc(*table, want * size) : NULL;
    if (!t)
        return false;
    *table = t;
    *cap = want;
    return true;
}

/* Doubles a scratch table of `size`-byte elements (from 256); false when out of memory. */
static bool grow(void **table, size_t *cap, size_t size)
{
    return reserve(table, cap, *cap ? 2 * *cap : 256, size);
}

static int push_dim(parse_ctx *c, uint64_t d)
{
    vf_st_scratch *s = c->s;
    if (c->shape_used == s->shape_cap && !grow((void **)&s->shapes, &s->shape_cap, sizeof *s->shapes))
        return nomem(c);
    s->shapes[c->shape_used++] = d;
    return VF_OK;
}

/* What one entry's members said, checked after its closing brace in a fixed order. */
typedef struct entry_fields {
    int dtype;       /* 0 absent, 1 string, 2 other */
    char dtype_name[72];
    size_t dtype_len;
    bool dtype_resolved; /* dtype_value is the dtype (the text was the last one resolved) */
    vf_dtype dtype_value;
    int shape;       /* 0 absent, 1 array, 2 other */
    size_t shape_at; /* first dim in the shapes pool */
    uint32_t ndim;
    long bad_dim;    /* index of the first dim that is not an integer in [0, 2^53], or -1 */
    bool overflow;
    int offsets;     /* 0 absent or not a pair, 1 pair */
    bool offsets_ok;
    uint64_t begin, end;
    unsigned seen;   /* bit per known member, to reject duplicates */
} entry_fields;

static int parse_shape_array(parse_ctx *c, entry_fields *f, unsigned depth)
{
    f->shape = 1;
    f->shape_at = c->shape_used;
    uint64_t numel = 1;
    if (vf_json_eat(&c->j, ']'))
        return VF_OK;
    do {
        vf_json_ws(&c->j);
        int rc;
        uint64_t d = 0;
        bool ok = false;
        if (c->j.p < c->j.end && (*c->j.p == '-' || (*c->j.p >= '0' && *c->j.p <= '9')))
            rc = vf_json_number(&c->j, &d, &ok);
        else
            rc = vf_json_skip(&c->j, depth + 1);
        if (rc != VF_OK)
            return rc;
        if (!ok && f->bad_dim < 0)
            f->bad_dim = (long)f->ndim;
        f->ndim++; /* < 2^32: each dimension takes at least 2 of at most 10^8 bytes */
        if (c->sem == VF_OK && (rc = push_dim(c, d)) != VF_OK)
            return rc;
        f->overflow |= vf_mul_u64_overflow(&numel, numel, d);
    } while (vf_json_eat(&c->j, ','));
    return vf_json_eat(&c->j, ']') ? VF_OK : vf_json_fail(&c->j);
}

static int parse_offsets_array(parse_ctx *c, entry_fields *f, unsigned depth)
{
    size_t count = 0;
    bool ok_all = true;
    if (!vf_json_eat(&c->j, ']')) {
        do {
            vf_json_ws(&c->j);
            uint64_t v = 0;
            bool ok = false;
            int rc = c->j.p < c->j.end && (*c->j.p == '-' || (*c->j.p >= '0' && *c->j.p <= '9'))
                         ? vf_json_number(&c->j, &v, &ok)
                         : vf_json_skip(&c->j, depth + 1);
            if (rc != VF_OK)
                return rc;
            if (count == 0)
                f->begin = v;
            else if (count == 1)
                f->end = v;
            ok_all &= ok;
            count++;
        } while (vf_json_eat(&c->j, ','));
        if (!vf_json_eat(&c->j, ']'))
            return vf_json_fail(&c->j);
    }
    f->offsets = count == 2;
    f->offsets_ok = ok_all;
    return VF_OK;
}

enum { F_DTYPE = 1, F_SHAPE = 2, F_OFFSETS = 4 };

/* One member of an entry object. */
static int parse_entry_member(parse_ctx *c, entry_fields *f, const char *name, unsigned depth)
{
    const uint8_t *raw;
    size_t raw_len, klen;
    bool esc;
    char key[128];
    int rc = vf_json_key(&c->j, &raw, &raw_len, &esc, key, sizeof key, &klen);
    if (rc != VF_OK)
        return rc;
    unsigned bit = klen == 5 && memcmp(key, "dtype", 5) == 0          ? F_DTYPE
                   : klen == 5 && memcmp(key, "shape", 5) == 0        ? F_SHAPE
                   : klen == 12 && memcmp(key, "data_offsets", 12) == 0 ? F_OFFSETS
                                                                        : 0;
    if (bit & f->seen)
        entry_error(c, VF_ERR_HEADER, name, "member \"%s\" appears more than once in the entry", key);
    f->seen |= bit;
    vf_json_ws(&c->j);
    uint8_t first = c->j.p < c->j.end ? *c->j.p : 0;
    if (bit == F_DTYPE && first == '"') {
        rc = vf_json_string(&c->j, &raw, &raw_len, &esc);
        f->dtype = 1;
        if (rc == VF_OK && raw_len < sizeof f->dtype_name) {
            bool nul = false;
            f->dtype_len = esc ? vf_json_decode(raw, raw_len, (uint8_t *)f->dtype_name, &nul) : raw_len;
            if (!esc) {
                memcpy(f->dtype_name, raw, raw_len);
                f->dtype_name[raw_len] = '\0';
            }
        } else if (rc == VF_OK) { /* too long for any dtype: keep a prefix for the message */
            memcpy(f->dtype_name, raw, sizeof f->dtype_name - 1);
            f->dtype_name[sizeof f->dtype_name - 1] = '\0';
            f->dtype_len = raw_len;
        }
        return rc;
    }
    if (bit == F_SHAPE && first == '[') {
        c->j.p++;
        return parse_shape_array(c, f, depth);
    }
    if (bit == F_OFFSETS && first == '[') {
        c->j.p++;
        return parse_offsets_array(c, f, depth);
    }
    if (bit == F_DTYPE)
        f->dtype = 2;
    else if (bit == F_SHAPE)
        f->shape = 2;
    return vf_json_skip(&c->j, depth);
}

/* Checks that the span holds exactly numel x dtype size bytes. */
static int check_span(parse_ctx *c, const char *name, vf_st_tensor *t)
{
    uint64_t need;
    bool misaligned;
    char sbuf[160];
    if (!vf_dtype_bytes(t->dtype, t->numel, &need, &misaligned)) {
        if (misaligned)
            return entry_error(c, VF_ERR_MISALIGNED, name,
                               "shape %s of %s is %llu elements x %u bits, not a whole number of bytes",
                               shape_text(t->shape, t->ndim, sbuf, sizeof sbuf), vf_dtype_name(t->dtype),
                               (unsigned long long)t->numel, vf_dtype_bits(t->dtype));
        return entry_error(c, VF_ERR_OVERFLOW, name, "byte size of shape %s %s overflows 64 bits",
                           shape_text(t->shape, t->ndim, sbuf, sizeof sbuf), vf_dtype_name(t->dtype));
    }
    if (t->end < t->begin)
        return entry_error(c, VF_ERR_OFFSETS, name, "data_offsets [%llu,%llu] end before they begin",
                           (unsigned long long)t->begin, (unsigned long long)t->end);
    t->nbytes = t->end - t->begin;
    if (t->nbytes != need)
        return entry_error(c, VF_ERR_TENSOR_INFO, name,
                           "data_offsets [%llu,%llu] hold %llu bytes, shape %s %s needs %llu",
                           (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)t->nbytes, shape_text(t->shape, t->ndim, sbuf, sizeof sbuf),
                           vf_dtype_name(t->dtype), (unsigned long long)need);
    return VF_OK;
}

static void remember_dtype(parse_ctx *c, const char *name, size_t len, vf_dtype dt)
{
    if (len == 0 || len > 8)
        return;
    dtype_memo m = {.len = len, .value = dt, .mask = len == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * len)) - 1};
    memcpy(&m.word, name, len);
    c->dtypes[1] = c->dtypes[0];
    c->dtypes[0] = m;
}

/* The memo slot whose text starts p (followed by its quote), or NULL; p has more than 8 bytes. */
static const dtype_memo *known_dtype(const parse_ctx *c, const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    for (size_t i = 0; i < 2; i++) {
        const dtype_memo *m = &c->dtypes[i];
        if (m->len && (w & m->mask) == m->word && p[m->len] == '"')
            return m;
    }
    return NULL;
}

/* The per-entry rules in the order of the reference: structure, dtype, shape, overflow, offsets,
 * span. */
static void check_entry(parse_ctx *c, const entry_fields *f, const char *name, vf_st_tensor *t)
{
    if (f->dtype != 1) {
        entry_error(c, VF_ERR_HEADER, name, "entry has no \"dtype\" string");
        return;
    }
    if (f->dtype_resolved) {
        t->dtype = f->dtype_value;
    } else if (vf_dtype_from_name(f->dtype_name, f->dtype_len, &t->dtype)) {
        remember_dtype(c, f->dtype_name, f->dtype_len, t->dtype);
    } else {
        entry_error(c, VF_ERR_DTYPE, name, "unknown dtype \"%.64s\"", f->dtype_name);
        return;
    }
    if (f->shape != 1) {
        entry_error(c, VF_ERR_HEADER, name, "entry has no \"shape\" array");
        return;
    }
    if (f->bad_dim >= 0) {
        entry_error(c, VF_ERR_SHAPE, name, "shape entry %ld is not a non-negative integer <= 2^53",
                    f->bad_dim);
        return;
    }
    t->ndim = f->ndim;
    t->shape = f->ndim ? c->s->shapes + f->shape_at : NULL; /* pointed into the header by settle */
    if (f->overflow) {
        entry_error(c, VF_ERR_OVERFLOW, name, "element count of the shape overflows 64 bits");
        return;
    }
    t->numel = 1;
    for (uint32_t i = 0; i < f->ndim; i++)
        t->numel *= c->s->shapes[f->shape_at + i];
    if (!f->offsets) {
        entry_error(c, VF_ERR_HEADER, name, "entry has no \"data_offsets\" pair");
        return;
    }
    if (!f->offsets_ok) {
        entry_error(c, VF_ERR_OFFSETS, name, "data_offsets are not non-negative integers <= 2^53");
        return;
    }
    t->begin = f->begin;
    t->end = f->end;
    check_span(c, name, t);
}

static vf_st_tensor *new_tensor(parse_ctx *c)
{
    vf_st_scratch *s = c->s;
    if (c->count == s->tensor_cap && !grow((void **)&s->tensors, &s->tensor_cap, sizeof *s->tensors)) {
        nomem(c);
        return NULL;
    }
    vf_st_tensor *t = &s->tensors[c->count++];
    memset(t, 0, sizeof *t);
    return t;
}

/* The canonical entry layout of the reference writer, {"dtype":"X","shape":[d,...],"data_offsets":
 * [a,b]}: no whitespace, the three members in this order, a dtype of [A-Za-z0-9_], plain decimal
 * integers (no sign, fraction, exponent or leading zero; at most 16 digits; <= 2^53). On an exact
 * match *hit is set, f holds what the general parser would have gathered and c->j.p is past the
 * closing brace. On anything else *hit is false and the cursor and shape pool are untouched: the
 * general parser then reads the entry (and reports whatever is wrong exactly as before). */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The number of leading bytes of w (the lowest first) that are ASCII digits, 0..8. */
static inline unsigned leading_digits(uint64_t w)
{
    const uint64_t low7 = UINT64_C(0x7F7F7F7F7F7F7F7F), high = UINT64_C(0x8080808080808080);
    const uint64_t hi4 = UINT64_C(0xF0F0F0F0F0F0F0F0), lo4 = UINT64_C(0x0F0F0F0F0F0F0F0F);
    /* a byte of m is non-zero unless its high nibble is 3 and its low nibble at most 9 */
    uint64_t m = ((w & hi4) ^ UINT64_C(0x3030303030303030)) | (((w & lo4) + UINT64_C(0x0606060606060606)) & hi4);
    uint64_t nonzero = (((m & low7) + low7) | m) & high;
    return nonzero ? (unsigned)__builtin_ctzll(nonzero) >> 3 : 8;
}

/* The value of the eight ASCII digits of w, the first in the lowest byte (simdjson's
 * parse_eight_digits_unrolled); bytes that are 0 count as leading zeros. */
static inline uint64_t eight_digits(uint64_t w)
{
    w = ((w & UINT64_C(0x0F0F0F0F0F0F0F0F)) * 2561) >> 8;
    w = ((w & UINT64_C(0x00FF00FF00FF00FF)) * 6553601) >> 16;
    return ((w & UINT64_C(0x0000FFFF0000FFFF)) * UINT64_C(42949672960001)) >> 32;
}
#define FAST_UINT_WORDS 1
#else
#define FAST_UINT_WORDS 0
#endif

static inline const uint8_t *fast_uint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = p;
    uint64_t x = 0;
#if FAST_UINT_WORDS
    static const uint64_t pow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    while (end - q >= 8 && q - p < 16) { /* up to eight digits at a time */
        uint64_t w;
        memcpy(&w, q, 8);
        unsigned k = leading_digits(w);
        if (k)
            x = x * pow10[k] + eight_digits(w << (8 * (8 - k)));
        q += k;
        if (k < 8)
            break;
    }
#endif
    while (q < end && (unsigned)(*q - '0') < 10u && q - p < 17) {
        x = x * 10 + (uint64_t)(*q - '0');
        q++;
    }
    size_t n = (size_t)(q - p);
    if (n == 0 || n > 16 || (n > 1 && *p == '0') || x > (UINT64_C(1) << 53))
        return NULL;
    *v = x;
    return q;
}

#define FAST_LIT(lit)                                                                               \
    do {                                                                                            \
        if ((size_t)(end - p) < sizeof(lit) - 1 || memcmp(p, lit, sizeof(lit) - 1) != 0)            \
            goto miss;                                                                              \
        p += sizeof(lit) - 1;                                                                       \
    } while (0)

/* The dimensions after `"shape":[` up to and including `]`, pushed as f's shape; *overflow when
 * their product wraps. The position after `]`, or NULL when the text is not in the standard layout
 * (*rc VF_OK) or out of memory (*rc set). */
static const uint8_t *fast_shape(parse_ctx *c, const uint8_t *p, const uint8_t *end, entry_fields *f,
                                 bool *overflow, int *rc)
{
    f->shape_at = c->shape_used;
    f->ndim = 0;
    uint64_t numel = 1;
    if (p < end && *p == ']')
        return p + 1;
    for (;;) {
        uint64_t d;
        if (!(p = fast_uint(p, end, &d)))
            return NULL;
        if ((*rc = push_dim(c, d)) != VF_OK)
            return NULL;
        f->ndim++;
        *overflow |= vf_mul_u64_overflow(&numel, numel, d);
        if (p < end && *p == ',')
            p++;
        else
            return p < end && *p == ']' ? p + 1 : NULL;
    }
}

/* The pair lives here: fast_entry only answers "handled" (*hit) or "not handled" (its one status is
 * out of memory); every verdict on the input is the general parser's (parse_entry below), and vf_st_parse_header_general, which never takes the fast
 * path, must agree with vf_st_parse_header on every input (tests/fuzz/fuzz_safetensors.c). */
static int fast_entry(parse_ctx *c, entry_fields *f, bool *hit)
{
    const uint8_t *p = c->j.p, *end = c->j.end;
    size_t shape_used0 = c->shape_used;
    *hit = false;
    FAST_LIT("{\"dtype\":\"");
    const uint8_t *d0 = p;
    f->dtype_resolved = false;
    const dtype_memo *known = FAST_UINT_WORDS && end - p > 8 ? known_dtype(c, p) : NULL;
    if (known) { /* one of the last two dtypes again (little-endian words, as remember_dtype keeps them) */
        p += known->len;
        f->dtype_resolved = true;
        f->dtype_value = known->value;
    }
    while (!f->dtype_resolved && p < end &&
           ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || (*p >= 'a' && *p <= 'z')))
        p++;
    size_t dlen = (size_t)(p - d0);
    if (dlen == 0 || dlen >= sizeof f->dtype_name)
        goto miss;
    FAST_LIT("\",\"shape\":[");
    bool overflow = false;
    int rc = VF_OK;
    if (!(p = fast_shape(c, p, end, f, &overflow, &rc)))
        goto miss_or_fail;
    FAST_LIT(",\"data_offsets\":[");
    uint64_t a, b;
    if (!(p = fast_uint(p, end, &a)))
        goto miss;
    FAST_LIT(",");
    if (!(p = fast_uint(p, end, &b)))
        goto miss;
    FAST_LIT("]}");
    memcpy(f->dtype_name, d0, dlen);
    f->dtype_name[dlen] = '\0';
    f->dtype_len = dlen;
    f->dtype = f->shape = f->offsets = 1;
    f->offsets_ok = true;
    f->bad_dim = -1;
    f->overflow = overflow;
    f->begin = a;
    f->end = b;
    f->seen = F_DTYPE | F_SHAPE | F_OFFSETS;
    c->j.p = p;
    *hit = true;
    return VF_OK;
miss:
    rc = VF_OK;
miss_or_fail:
    c->shape_used = shape_used0;
    return rc;
}
#undef FAST_LIT

static void name_tensor(parse_ctx *c, vf_st_tensor *t, const char *name, size_t len)
{
    t->name = name;
    c->h->data_names += vf_st_data_name(name, len);
}

/* A tensor entry: the member value of `name` (raw bytes), c->j.p on its first byte. */
static int parse_entry(parse_ctx *c, const uint8_t *raw, size_t raw_len, bool esc, unsigned depth)
{
    const char *name = NULL;
    bool nul = false;
    vf_st_tensor *t = NULL;
    if (c->sem == VF_OK) {
        int rc = own_string(c, raw, raw_len, esc, &name, &nul);
        if (rc != VF_OK)
            return rc;
        if (nul)
            entry_error(c, VF_ERR_HEADER, name, "tensor name contains U+0000");
    }
    entry_fields f; /* every field but the dtype_name buffer (written before it is read) */
    if (c->sem == VF_OK && !c->general_only) {
        bool hit;
        int rc = fast_entry(c, &f, &hit);
        if (rc != VF_OK)
            return rc;
        if (hit) {
            if ((t = new_tensor(c)) != NULL) {
                name_tensor(c, t, name, esc ? strlen(name) : raw_len);
                check_entry(c, &f, name, t);
            }
            return VF_OK;
        }
    }
    vf_json_ws(&c->j);
    if (c->j.p >= c->j.end || *c->j.p != '{') {
        entry_error(c, VF_ERR_HEADER, name, "entry is not an object");
        return vf_json_skip(&c->j, depth);
    }
    if (depth >= VF_JSON_MAX_DEPTH)
        return vf_json_fail(&c->j);
    c->j.p++;
    f.dtype = f.shape = f.offsets = 0;
    f.dtype_len = f.shape_at = 0;
    f.dtype_resolved = false;
    f.ndim = 0;
    f.bad_dim = -1;
    f.overflow = f.offsets_ok = false;
    f.begin = f.end = 0;
    f.seen = 0;
    f.dtype_name[0] = '\0';
    if (!vf_json_eat(&c->j, '}')) {
        do {
            int rc = parse_entry_member(c, &f, name, depth + 1);
            if (rc != VF_OK)
                return rc;
        } while (vf_json_eat(&c->j, ','));
        if (!vf_json_eat(&c->j, '}'))
            return vf_json_fail(&c->j);
    }
    if (c->sem == VF_OK && (t = new_tensor(c)) != NULL) {
        name_tensor(c, t, name, esc ? strlen(name) : raw_len);
        check_entry(c, &f, name, t);
    }
    return VF_OK;
}

static int parse_metadata(parse_ctx *c, unsigned depth)
{
    vf_st_header *h = c->h;
    vf_json_ws(&c->j);
    if (vf_json_word(&c->j, "null", 4))
        return VF_OK;
    if (c->j.p >= c->j.end || *c->j.p != '{') {
        entry_error(c, VF_ERR_METADATA, "__metadata__", "__metadata__ is not an object");
        return vf_json_skip(&c->j, depth);
    }
    if (h->meta) /* a second object */
        entry_error(c, VF_ERR_METADATA, "__metadata__", "__metadata__ appears more than once");
    if (c->sem == VF_OK && !(h->meta = calloc(1, sizeof *h->meta)))
        return nomem(c);
    c->meta_cap = 1;
    c->j.p++;
    if (vf_json_eat(&c->j, '}'))
        return VF_OK;
    do {
        const uint8_t *kraw, *vraw;
        size_t klen_raw, vlen, klen;
        bool kesc, vesc, nul1 = false, nul2 = false;
        char key[72];
        int rc = vf_json_key(&c->j, &kraw, &klen_raw, &kesc, key, sizeof key, &klen);
        if (rc != VF_OK)
            return rc;
        vf_json_ws(&c->j);
        if (c->j.p >= c->j.end || *c->j.p != '"') {
            if (klen == SIZE_MAX)
                memcpy(key, kraw, sizeof key - 1), key[sizeof key - 1] = '\0';
            entry_error(c, VF_ERR_METADATA, "__metadata__", "value of key \"%.64s\" is not a string", key);
            rc = vf_json_skip(&c->j, depth + 1);
            if (rc != VF_OK)
                return rc;
            continue;
        }
        if ((rc = vf_json_string(&c->j, &vraw, &vlen, &vesc)) != VF_OK)
            return rc;
        if (c->sem != VF_OK)
            continue;
        if (h->meta_count == c->meta_cap) {
            vf_st_meta *m = realloc(h->meta, 2 * c->meta_cap * sizeof *m);
            if (!m)
                return nomem(c);
            h->meta = m;
            c->meta_cap *= 2;
        }
        vf_st_meta *md = &h->meta[h->meta_count++];
        if ((rc = own_string(c, kraw, klen_raw, kesc, &md->key, &nul1)) != VF_OK ||
            (rc = own_string(c, vraw, vlen, vesc, &md->value, &nul2)) != VF_OK)
            return rc;
        if (nul1 || nul2)
            entry_error(c, VF_ERR_METADATA, "__metadata__", "key or value \"%.64s\" contains U+0000",
                        md->key);
    } while (vf_json_eat(&c->j, ','));
    return vf_json_eat(&c->j, '}') ? VF_OK : vf_json_fail(&c->j);
}

/* A member's key (raw bytes, as vf_json_key gives them) and its ':', without copying the key: a
 * tensor name is copied once, by parse_entry. */
static int member_key(parse_ctx *c, const uint8_t **raw, size_t *raw_len, bool *esc)
{
    vf_json_ws(&c->j);
    if (c->j.p >= c->j.end || *c->j.p != '"')
        return vf_json_fail(&c->j);
    int rc = vf_json_string(&c->j, raw, raw_len, esc);
    if (rc == VF_OK && !vf_json_eat(&c->j, ':'))
        rc = vf_json_fail(&c->j);
    return rc;
}

/* True when the key (raw bytes) decodes to "__metadata__". */
static bool is_metadata_key(const uint8_t *raw, size_t raw_len, bool esc)
{
    if (!esc)
        return raw_len == 12 && memcmp(raw, "__metadata__", 12) == 0;
    uint8_t key[128];
    bool nul;
    return raw_len < sizeof key && vf_json_decode(raw, raw_len, key, &nul) == 12 &&
           memcmp(key, "__metadata__", 12) == 0;
}

/* The whole header: syntax errors returned at once, else the first semantic error (c->sem). */
static int parse_document(parse_ctx *c)
{
    vf_json_ws(&c->j);
    if (c->j.p >= c->j.end)
        return vf_json_fail(&c->j);
    if (*c->j.p != '{') {
        entry_error(c, VF_ERR_HEADER, NULL, "header is not a JSON object");
        int rc = vf_json_skip(&c->j, 0);
        if (rc != VF_OK)
            return rc;
    } else {
        c->j.p++;
        if (!vf_json_eat(&c->j, '}')) {
            do {
                const uint8_t *raw;
                size_t raw_len;
                bool esc;
                int rc = member_key(c, &raw, &raw_len, &esc);
                if (rc != VF_OK)
                    return rc;
                if (is_metadata_key(raw, raw_len, esc))
                    rc = parse_metadata(c, 1);
                else
                    rc = parse_entry(c, raw, raw_len, esc, 1);
                if (rc != VF_OK && c->j.failed)
                    return rc;
                if (rc == VF_ERR_NOMEM)
                    return rc;
            } while (vf_json_eat(&c->j, ','));
            if (!vf_json_eat(&c->j, '}'))
                return vf_json_fail(&c->j);
        }
    }
    vf_json_ws(&c->j);
    if (c->j.p != c->j.end) {
        c->sem = VF_ERR_JSON;
        return vf_error_set(c->err, VF_ERR_JSON, c->file, NULL,
                            "header has trailing bytes after the JSON object");
    }
    return c->sem;
}

/* ---- whole-header checks ----------------------------------------------------------------------- */

static int cmp_by_begin(const void *a, const void *b)
{
    const vf_st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Offsets in begin order must tile [0, data_len) with no gap or overlap. */
static int check_coverage(parse_ctx *c, uint64_t data_len)
{
    vf_st_header *h = c->h;
    bool sorted = true; /* writers usually list tensors in offset order: skip the sort then */
    for (size_t i = 1; i < h->count && sorted; i++)
        sorted = cmp_by_begin(&h->tensors[i - 1], &h->tensors[i]) <= 0;
    if (!sorted)
        qsort(h->tensors, h->count, sizeof *h->tensors, cmp_by_begin);
    uint64_t expect = 0;
    for (size_t i = 0; i < h->count; i++) {
        const vf_st_tensor *t = &h->tensors[i];
        if (t->begin != expect)
            return entry_error(c, VF_ERR_OFFSETS, t->name,
                               "data_offsets begin at %llu but the previous tensor ends at %llu (%s)",
                               (unsigned long long)t->begin, (unsigned long long)expect,
                               t->begin > expect ? "gap" : "overlap");
        expect = t->end;
    }
    if (expect != data_len)
        return entry_error(c, VF_ERR_INCOMPLETE, NULL,
                           "tensors cover %llu bytes but the data region holds %llu bytes",
                           (unsigned long long)expect, (unsigned long long)data_len);
    return VF_OK;
}

/* Builds the sorted name index (reentrant: no qsort context) and rejects duplicate names. */
static int index_names(parse_ctx *c)
{
    vf_st_header *h = c->h;
    bool sorted = true; /* writers usually order tensors by name: then one pass proves uniqueness */
    for (size_t i = 0; i < h->count; i++) {
        h->by_name[i] = (uint32_t)i;
        sorted = sorted && (i == 0 || strcmp(h->tensors[i - 1].name, h->tensors[i].name) < 0);
    }
    if (sorted)
        return VF_OK;
    vf_sort_u32_by_name(h->by_name, h->count, h->tensors, sizeof *h->tensors,
                        offsetof(vf_st_tensor, name));
    for (size_t i = 1; i < h->count; i++) {
        const char *a = h->tensors[h->by_name[i - 1]].name, *b = h->tensors[h->by_name[i]].name;
        if (strcmp(a, b) == 0)
            return entry_error(c, VF_ERR_DUPLICATE, b, "tensor name appears more than once");
    }
    return VF_OK;
}

/* Room for a valid header's tables before parsing, so that they do not grow by copies: an entry
 * takes at least 50 bytes ("":{"dtype":"U8","shape":[],"data_offsets":[0,0]},), so len / 48 + 16
 * tensors are never outgrown, and three dimensions each are reserved (more grow); pages beyond what
 * is used are never touched. False when out of memory. */
static bool reserve_tables(vf_st_scratch *s, size_t len)
{
    size_t tensors = len / 48 + 16;
    return reserve((void **)&s->tensors, &s->tensor_cap, tensors, sizeof *s->tensors) &&
           reserve((void **)&s->shapes, &s->shape_cap, 3 * tensors, sizeof *s->shapes);
}

/* Gives the header its tables and points every tensor's shape into them. In an arena the scratch's
 * tables are copied into one block of their exact size (the scratch is reused for the next header);
 * otherwise the header takes the scratch's tables themselves (no second copy of a large table; the
 * reserve beyond them is never touched) and the scratch starts empty again. */
static int settle(parse_ctx *c)
{
    vf_st_header *h = c->h;
    vf_st_scratch *s = c->s;
    size_t n = c->count, dims = c->shape_used; /* both < 10^8: each takes bytes of the header */
    if (h->in_arena) {
        size_t bytes = n * sizeof *h->tensors + dims * sizeof *h->shapes + n * sizeof *h->by_name;
        unsigned char *block = vf_arena_alloc_raw(s->arena, bytes ? bytes : 1);
        if (!block)
            return nomem(c);
        h->tensors = (vf_st_tensor *)block;
        h->shapes = (uint64_t *)(block + n * sizeof *h->tensors); /* 8-aligned: sizeof(vf_st_tensor) is */
        h->by_name = (uint32_t *)(h->shapes + dims);
        if (n)
            memcpy(h->tensors, s->tensors, n * sizeof *h->tensors);
        if (dims)
            memcpy(h->shapes, s->shapes, dims * sizeof *h->shapes);
    } else {
        if (!(h->by_name = malloc((n ? n : 1) * sizeof *h->by_name)))
            return nomem(c);
        h->tensors = s->tensors;
        h->shapes = s->shapes;
        s->tensors = NULL, s->shapes = NULL, s->tensor_cap = s->shape_cap = 0;
    }
    h->count = n;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        vf_st_tensor *t = &h->tensors[i];
        t->shape = t->ndim ? h->shapes + at : NULL;
        at += t->ndim;
    }
    return VF_OK;
}

/* Parses the len header bytes at text (the scratch's, or the caller's) with the tables in scratch;
 * `keep`, when not NULL, is a malloc'd copy of the text the header then owns (freed on failure). */
static int parse_text(const uint8_t *text, size_t len, uint64_t file_size, const char *file,
                      bool general_only, vf_st_scratch *scratch, uint8_t *keep, vf_st_header **out,
                      vf_error *err)
{
    *out = NULL;
    uint64_t data_start;
    if (vf_add_u64_overflow(&data_start, len, VF_ST_PREFIX_BYTES) || data_start > file_size) {
        free(keep);
        return vf_error_set(err, VF_ERR_HEADER_LENGTH, file, NULL,
                            "header length %zu runs past the end of the %llu-byte file", len,
                            (unsigned long long)file_size);
    }
    vf_st_header *h = scratch->arena ? vf_arena_alloc(scratch->arena, sizeof *h) : calloc(1, sizeof *h);
    if (!h) {
        free(keep);
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    }
    h->in_arena = scratch->arena != NULL;
    h->raw = keep;
    h->raw_len = len;
    h->file_size = file_size;
    vf_arena_init(&h->names, len / 2 + 64); /* names and metadata strings: at most the text's bytes */
    parse_ctx c = {.j = {text, text, text + len, file, "header", VF_ERR_JSON, err, false},
                   .file = file, .err = err, .h = h, .general_only = general_only, .s = scratch,
                   .names = h->in_arena ? scratch->arena : &h->names};
    int rc = reserve_tables(scratch, len) ? parse_document(&c) : nomem(&c);
    if (rc != VF_OK && rc != VF_ERR_NOMEM) { /* what a check of the whole text first would report */
        bool has_nul;
        size_t bad = vf_utf8_invalid_at(text, len, &has_nul);
        if (bad != len)
            rc = vf_error_set(err, VF_ERR_UTF8, file, NULL, "header is not valid UTF-8 (byte %zu of %zu)",
                              bad, len);
        else if (has_nul)
            rc = vf_error_set(err, VF_ERR_JSON, file, NULL, "header contains a NUL byte");
    }
    if (rc == VF_OK)
        rc = settle(&c);
    if (rc == VF_OK)
        rc = check_coverage(&c, file_size - data_start);
    if (rc == VF_OK)
        rc = index_names(&c);
    if (rc != VF_OK) {
        vf_st_header_free(h);
        return rc;
    }
    *out = h;
    return VF_OK;
}

/* Parses a copy of json (kept by the header) with a scratch of its own. */
static int parse_copy(const uint8_t *json, size_t len, uint64_t file_size, const char *file,
                      bool general_only, vf_st_header **out, vf_error *err)
{
    *out = NULL;
    uint8_t *raw = malloc(len ? len : 1);
    vf_st_scratch *s = vf_st_scratch_new(NULL);
    if (!raw || !s) {
        free(raw);
        vf_st_scratch_free(s);
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    }
    memcpy(raw, json, len);
    int rc = parse_text(raw, len, file_size, file, general_only, s, raw, out, err);
    vf_st_scratch_free(s);
    return rc;
}

int vf_st_parse_header(const uint8_t *json, size_t len, uint64_t file_size, const char *file,
                       vf_st_header **out, vf_error *err)
{
    return parse_copy(json, len, file_size, file, false, out, err);
}

int vf_st_parse_header_general(const uint8_t *json, size_t len, uint64_t file_size, const char *file,
                               vf_st_header **out, vf_error *err)
{
    return parse_copy(json, len, file_size, file, true, out, err);
}

int vf_st_parse_buffer(const uint8_t *buf, size_t len, const char *file, vf_st_header **out,
                       vf_error *err)
{
    uint64_t n;
    *out = NULL;
    int rc = vf_st_check_prefix(buf, len, len, file, &n, err);
    if (rc != VF_OK)
        return rc;
    return vf_st_parse_header(buf + VF_ST_PREFIX_BYTES, (size_t)n, len, file, out, err);
}

/* ---- files ------------------------------------------------------------------------------------- */

/* Reads the header bytes of the open file fd (size file_size) into the scratch's text buffer, or
 * into a malloc'd buffer of their size for the header to keep (*text owned by the caller then, also
 * on failure). */
static int read_text(int fd, uint64_t file_size, const char *name, vf_st_scratch *s, bool keep,
                     uint8_t **text, size_t *len, vf_error *err)
{
    uint8_t prefix[VF_ST_PREFIX_BYTES];
    size_t got = 0;
    uint64_t n = 0;
    int rc = vf_read_at(fd, prefix, sizeof prefix, 0, &got, name, err);
    if (rc == VF_OK)
        rc = vf_st_check_prefix(prefix, got, file_size, name, &n, err);
    if (rc != VF_OK)
        return rc;
    *text = keep ? malloc(n ? (size_t)n : 1) : scratch_text(s, (size_t)n); /* n <= 10^8, <= file size */
    if (!*text)
        return vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    rc = vf_read_at(fd, *text, (size_t)n, VF_ST_PREFIX_BYTES, &got, name, err);
    if (rc == VF_OK && got != n)
        rc = vf_error_set(err, VF_ERR_IO, name, NULL,
                          "file shrank while being read (header needs %llu bytes, got %zu)",
                          (unsigned long long)n, got);
    *len = (size_t)n;
    return rc;
}

int vf_st_read_with(int dir, const char *path, const char *display, vf_st_scratch *s, bool keep_raw,
                    vf_st_header **out, vf_error *err)
{
    const char *name = display ? display : path;
    *out = NULL;
    uint64_t file_size;
    int fd;
    int rc = vf_open_regular_at(dir, path, name, &fd, &file_size, err);
    if (rc != VF_OK)
        return rc;
    uint8_t *text = NULL;
    size_t len = 0;
    rc = read_text(fd, file_size, name, s, keep_raw, &text, &len, err);
    close(fd);
    if (rc != VF_OK) {
        if (keep_raw)
            free(text);
        return rc;
    }
    return parse_text(text, len, file_size, name, false, s, keep_raw ? text : NULL, out, err);
}

int vf_st_read_file(const char *path, const char *display, vf_st_header **out, vf_error *err)
{
    vf_st_scratch *s = vf_st_scratch_new(NULL);
    if (!s) {
        *out = NULL;
        return vf_error_set(err, VF_ERR_NOMEM, display ? display : path, NULL, "out of memory");
    }
    int rc = vf_st_read_with(AT_FDCWD, path, display, s, true, out, err);
    vf_st_scratch_free(s);
    return rc;
}

/* ---- accessors --------------------------------------------------------------------------------- */

void vf_st_header_free(vf_st_header *h)
{
    if (!h)
        return;
    free(h->raw);
    free(h->meta);
    if (h->in_arena) /* the arena's owner frees the rest */
        return;
    free(h->tensors);
    free(h->shapes);
    free(h->by_name);
    vf_arena_free(&h->names);
    free(h);
}

size_t vf_st_header_count(const vf_st_header *h)
{
    return h->count;
}

const vf_st_tensor *vf_st_header_tensor(const vf_st_header *h, size_t i)
{
    return i < h->count ? &h->tensors[i] : NULL;
}

long vf_st_header_find(const vf_st_header *h, const char *name)
{
    size_t lo = 0, hi = h->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(h->tensors[h->by_name[mid]].name, name);
        if (c == 0)
            return (long)h->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const vf_st_tensor *vf_st_header_by_name(const vf_st_header *h, size_t i)
{
    return i < h->count ? &h->tensors[h->by_name[i]] : NULL;
}

size_t vf_st_header_meta_count(const vf_st_header *h)
{
    return h->meta_count;
}

size_t vf_st_header_data_names(const vf_st_header *h)
{
    return h->data_names;
}

const vf_st_meta *vf_st_header_meta(const vf_st_header *h, size_t i)
{
    return i < h->meta_count ? &h->meta[i] : NULL;
}

uint64_t vf_st_header_file_size(const vf_st_header *h)
{
    return h->file_size;
}

const uint8_t *vf_st_header_raw(const vf_st_header *h, size_t *len)
{
    if (len)
        *len = h->raw_len;
    return h->raw;
}

uint64_t vf_st_header_data_start(const vf_st_header *h)
{
    return VF_ST_PREFIX_BYTES + h->raw_len;
}
