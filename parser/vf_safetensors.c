/* vf_safetensors.c - strict parser of one safetensors header.
 *
 * Order of checks (matches the reference implementation, huggingface/safetensors tensor.rs):
 * prefix (>= 8 bytes, N <= 100,000,000, 8+N <= file size) -> UTF-8 -> JSON object -> per entry:
 * structure, dtype, shape, numel/bytes overflow, span == numel x dtype size -> offsets contiguous from
 * 0 in offset order -> data region covered exactly to the end of the file -> unique names. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_internal.h"
#include "vramfit/vf_checked.h"

#define VF_MAX_JSON_INT 9007199254740992.0 /* 2^53: larger doubles are not exact integers */

struct vf_st_header {
    uint8_t *raw;
    size_t raw_len;
    uint64_t file_size;
    size_t count;
    vf_st_tensor *tensors; /* sorted by begin offset */
    uint32_t *by_name;     /* tensor indices sorted by name */
    uint64_t *shapes;      /* pool of all shape entries */
    vf_arena names;        /* tensor names and metadata strings */
    size_t meta_count;
    vf_st_meta *meta;
};

/* ---- prefix ------------------------------------------------------------------------------------ */

static uint64_t read_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int vf_st_check_prefix(const uint8_t *prefix, size_t prefix_len, uint64_t file_size, const char *file,
                       uint64_t *header_len, vf_error *err)
{
    if (prefix_len < VF_ST_PREFIX_BYTES || file_size < VF_ST_PREFIX_BYTES)
        return vf_error_set(err, VF_ERR_HEADER_TOO_SMALL, file, NULL,
                            "file has %llu bytes, fewer than the 8-byte header length prefix",
                            (unsigned long long)file_size);
    uint64_t n = read_le64(prefix);
    if (n > VF_ST_MAX_HEADER)
        return vf_error_set(err, VF_ERR_HEADER_TOO_LARGE, file, NULL,
                            "header length %llu exceeds the limit of %u bytes", (unsigned long long)n,
                            VF_ST_MAX_HEADER);
    if (n > file_size - VF_ST_PREFIX_BYTES)
        return vf_error_set(err, VF_ERR_HEADER_LENGTH, file, NULL,
                            "header length %llu runs past the end of the %llu-byte file",
                            (unsigned long long)n, (unsigned long long)file_size);
    *header_len = n;
    return VF_OK;
}

/* ---- UTF-8 ------------------------------------------------------------------------------------- */

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the offset of the first bad byte
 * or len when valid. */
static size_t utf8_invalid_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t min, cp;
        if ((c & 0xE0) == 0xC0) {
            need = 1, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return len;
}

/* ---- numbers ----------------------------------------------------------------------------------- */

/* A JSON number that is a non-negative integer no larger than 2^53 (cJSON stores doubles). */
static bool json_u64(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double d = item->valuedouble;
    if (!isfinite(d) || d < 0 || d > VF_MAX_JSON_INT || floor(d) != d)
        return false;
    *out = (uint64_t)d;
    return true;
}

bool vf_cjson_u64(const void *cjson_item, uint64_t *out)
{
    return json_u64(cjson_item, out);
}

/* ---- header entries ---------------------------------------------------------------------------- */

typedef struct parse_ctx {
    const char *file;
    vf_error *err;
    vf_st_header *h;
    size_t shape_used;
} parse_ctx;

static int entry_error(parse_ctx *c, int code, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int entry_error(parse_ctx *c, int code, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vf_error_setv(c->err, code, c->file, name, fmt, ap);
    va_end(ap);
    return code;
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

static int parse_dtype(parse_ctx *c, const cJSON *e, const char *name, vf_dtype *out)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        return entry_error(c, VF_ERR_HEADER, name, "entry has no \"dtype\" string");
    if (!vf_dtype_from_name(dt->valuestring, strlen(dt->valuestring), out))
        return entry_error(c, VF_ERR_DTYPE, name, "unknown dtype \"%.64s\"", dt->valuestring);
    return VF_OK;
}

static int parse_shape(parse_ctx *c, const cJSON *e, const char *name, vf_st_tensor *t)
{
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(sh))
        return entry_error(c, VF_ERR_HEADER, name, "entry has no \"shape\" array");
    uint64_t *dims = c->h->shapes + c->shape_used;
    uint32_t ndim = 0;
    uint64_t numel = 1;
    bool overflow = false;
    for (const cJSON *d = sh->child; d; d = d->next, ndim++) {
        if (!json_u64(d, &dims[ndim]))
            return entry_error(c, VF_ERR_SHAPE, name,
                               "shape entry %u is not a non-negative integer <= 2^53", ndim);
        overflow |= vf_mul_u64_overflow(&numel, numel, dims[ndim]);
    }
    t->ndim = ndim;
    t->shape = ndim ? dims : NULL;
    c->shape_used += ndim;
    if (overflow)
        return entry_error(c, VF_ERR_OVERFLOW, name, "element count of the shape overflows 64 bits");
    t->numel = numel;
    return VF_OK;
}

static int parse_offsets(parse_ctx *c, const cJSON *e, const char *name, vf_st_tensor *t)
{
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return entry_error(c, VF_ERR_HEADER, name, "entry has no \"data_offsets\" pair");
    if (!json_u64(off->child, &t->begin) || !json_u64(off->child->next, &t->end))
        return entry_error(c, VF_ERR_OFFSETS, name,
                           "data_offsets are not non-negative integers <= 2^53");
    return VF_OK;
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

static int parse_entry(parse_ctx *c, const cJSON *e, vf_st_tensor *t)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return entry_error(c, VF_ERR_HEADER, name, "entry is not an object");
    t->name = vf_arena_strdup(&c->h->names, name);
    if (!t->name)
        return entry_error(c, VF_ERR_NOMEM, name, "out of memory");
    int rc = parse_dtype(c, e, name, &t->dtype);
    if (rc == VF_OK)
        rc = parse_shape(c, e, name, t);
    if (rc == VF_OK)
        rc = parse_offsets(c, e, name, t);
    if (rc == VF_OK)
        rc = check_span(c, name, t);
    return rc;
}

static int parse_metadata(parse_ctx *c, const cJSON *m)
{
    if (cJSON_IsNull(m))
        return VF_OK;
    if (!cJSON_IsObject(m))
        return entry_error(c, VF_ERR_METADATA, "__metadata__", "__metadata__ is not an object");
    size_t n = (size_t)cJSON_GetArraySize(m);
    c->h->meta = calloc(n ? n : 1, sizeof *c->h->meta);
    if (!c->h->meta)
        return entry_error(c, VF_ERR_NOMEM, NULL, "out of memory");
    for (const cJSON *kv = m->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return entry_error(c, VF_ERR_METADATA, "__metadata__",
                               "value of key \"%.64s\" is not a string", kv->string);
        vf_st_meta *md = &c->h->meta[c->h->meta_count++];
        md->key = vf_arena_strdup(&c->h->names, kv->string);
        md->value = vf_arena_strdup(&c->h->names, kv->valuestring);
        if (!md->key || !md->value)
            return entry_error(c, VF_ERR_NOMEM, NULL, "out of memory");
    }
    return VF_OK;
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
    h->by_name = malloc((h->count ? h->count : 1) * sizeof *h->by_name);
    if (!h->by_name)
        return entry_error(c, VF_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < h->count; i++)
        h->by_name[i] = (uint32_t)i;
    vf_sort_u32_by_name(h->by_name, h->count, h->tensors, sizeof *h->tensors,
                        offsetof(vf_st_tensor, name));
    for (size_t i = 1; i < h->count; i++) {
        const char *a = h->tensors[h->by_name[i - 1]].name, *b = h->tensors[h->by_name[i]].name;
        if (strcmp(a, b) == 0)
            return entry_error(c, VF_ERR_DUPLICATE, b, "tensor name appears more than once");
    }
    return VF_OK;
}

static int parse_entries(parse_ctx *c, const cJSON *root, size_t nbytes)
{
    size_t n = 0, ndims = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        n++;
        ndims += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "shape"));
    }
    if (n > UINT32_MAX)
        return entry_error(c, VF_ERR_HEADER, NULL, "too many tensors");
    vf_st_header *h = c->h;
    h->tensors = calloc(n ? n : 1, sizeof *h->tensors);
    h->shapes = calloc(ndims ? ndims : 1, sizeof *h->shapes);
    if (!h->tensors || !h->shapes || vf_arena_init(&h->names, nbytes + 64) != VF_OK)
        return entry_error(c, VF_ERR_NOMEM, NULL, "out of memory");
    for (const cJSON *e = root->child; e; e = e->next) {
        int rc = strcmp(e->string, "__metadata__") == 0 ? parse_metadata(c, e)
                                                         : parse_entry(c, e, &h->tensors[h->count++]);
        if (rc != VF_OK)
            return rc;
    }
    return VF_OK;
}

static bool only_space(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    return true;
}

static int parse_json(parse_ctx *c, const uint8_t *json, size_t len, cJSON **out)
{
    size_t bad = utf8_invalid_at(json, len);
    if (bad != len)
        return entry_error(c, VF_ERR_UTF8, NULL, "header is not valid UTF-8 (byte %zu of %zu)", bad, len);
    if (memchr(json, '\0', len))
        return entry_error(c, VF_ERR_JSON, NULL, "header contains a NUL byte");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)json, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - (const char *)json) : 0;
        return entry_error(c, VF_ERR_JSON, NULL, "header is not valid JSON (near byte %zu)", at);
    }
    size_t used = (size_t)(end - (const char *)json);
    if (used > len || !only_space(json + used, len - used)) {
        cJSON_Delete(root);
        return entry_error(c, VF_ERR_JSON, NULL, "header has trailing bytes after the JSON object");
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return entry_error(c, VF_ERR_HEADER, NULL, "header is not a JSON object");
    }
    *out = root;
    return VF_OK;
}

int vf_st_parse_header(const uint8_t *json, size_t len, uint64_t file_size, const char *file,
                       vf_st_header **out, vf_error *err)
{
    *out = NULL;
    uint64_t data_start;
    if (vf_add_u64_overflow(&data_start, len, VF_ST_PREFIX_BYTES) || data_start > file_size)
        return vf_error_set(err, VF_ERR_HEADER_LENGTH, file, NULL,
                            "header length %zu runs past the end of the %llu-byte file", len,
                            (unsigned long long)file_size);
    vf_st_header *h = calloc(1, sizeof *h);
    if (!h)
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    parse_ctx c = {file, err, h, 0};
    h->file_size = file_size;
    h->raw_len = len;
    h->raw = malloc(len ? len : 1);
    cJSON *root = NULL;
    int rc = h->raw ? VF_OK : entry_error(&c, VF_ERR_NOMEM, NULL, "out of memory");
    if (rc == VF_OK) {
        memcpy(h->raw, json, len);
        rc = parse_json(&c, json, len, &root);
    }
    if (rc == VF_OK)
        rc = parse_entries(&c, root, len);
    cJSON_Delete(root);
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

int vf_st_read_file(const char *path, const char *display, vf_st_header **out, vf_error *err)
{
    const char *name = display ? display : path;
    *out = NULL;
    uint64_t file_size;
    int fd;
    int rc = vf_open_regular(path, name, &fd, &file_size, err);
    if (rc != VF_OK)
        return rc;
    uint8_t prefix[VF_ST_PREFIX_BYTES];
    size_t got = 0;
    uint64_t n = 0;
    rc = vf_read_at(fd, prefix, sizeof prefix, 0, &got, name, err);
    if (rc == VF_OK)
        rc = vf_st_check_prefix(prefix, got, file_size, name, &n, err);
    uint8_t *json = NULL;
    if (rc == VF_OK) {
        json = malloc(n ? (size_t)n : 1); /* n <= 100,000,000 and <= file size: bounded */
        rc = json ? vf_read_at(fd, json, (size_t)n, VF_ST_PREFIX_BYTES, &got, name, err)
                  : vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    }
    if (rc == VF_OK && got != n)
        rc = vf_error_set(err, VF_ERR_IO, name, NULL,
                          "file shrank while being read (header needs %llu bytes, got %zu)",
                          (unsigned long long)n, got);
    if (rc == VF_OK)
        rc = vf_st_parse_header(json, (size_t)n, file_size, name, out, err);
    free(json);
    close(fd);
    return rc;
}

/* ---- accessors --------------------------------------------------------------------------------- */

void vf_st_header_free(vf_st_header *h)
{
    if (!h)
        return;
    free(h->raw);
    free(h->tensors);
    free(h->by_name);
    free(h->shapes);
    free(h->meta);
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

size_t vf_st_header_meta_count(const vf_st_header *h)
{
    return h->meta_count;
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
