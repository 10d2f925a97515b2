/* vf_snapshot.c - write and read header snapshots (.vfsnap): format in vramfit/vf_snapshot.h and
 * docs/snapshot-format.md. Compression: zlib's gzip wrapper. Fingerprints: XXH3-128. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "vf_checkpoint_internal.h"
#include "vramfit/vf_checked.h"
#include "vramfit/vf_snapshot.h"

#define FP_BYTES 16u
#define GZIP_WINDOW (15 + 16) /* deflate window 2^15, gzip wrapper */

/* ---- little-endian helpers and fingerprints ----------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fingerprint(const void *data, size_t len, uint8_t out[FP_BYTES])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
    memcpy(out, c.digest, FP_BYTES);
}

/* XXH3-128 of the first 32 bytes of the outer header followed by the payload. */
static int snapshot_fingerprint(const uint8_t *head, const uint8_t *payload, size_t len,
                                uint8_t out[FP_BYTES])
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return VF_ERR_NOMEM;
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, head, 32);
    XXH3_128bits_update(st, payload, len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    memcpy(out, c.digest, FP_BYTES);
    return VF_OK;
}

/* ---- writing ----------------------------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} wbuf;

static void wb_put(wbuf *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (n > VF_SNAPSHOT_MAX_PAYLOAD || w->len + n > VF_SNAPSHOT_MAX_PAYLOAD) {
        w->failed = true;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *d = realloc(w->data, cap);
        if (!d) {
            w->failed = true;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void wb_le(wbuf *w, uint64_t v, unsigned n)
{
    uint8_t b[8];
    put_le(b, v, n);
    wb_put(w, b, n);
}

static int put_file(wbuf *w, const vf_snapshot_file *f, bool shard, vf_error *err)
{
    size_t nlen = f->name ? strlen(f->name) : 0;
    if (nlen > UINT16_MAX || f->len > UINT32_MAX || (f->len && !f->data))
        return vf_error_set(err, VF_ERR_UNSUPPORTED, f->name, NULL,
                            "name or contents too long for the snapshot format");
    uint8_t fp[FP_BYTES];
    fingerprint(f->len ? f->data : (const uint8_t *)"", f->len, fp);
    wb_le(w, nlen, 2);
    wb_put(w, f->name, nlen);
    if (shard)
        wb_le(w, f->file_size, 8);
    wb_le(w, f->len, 4);
    wb_put(w, fp, FP_BYTES);
    wb_put(w, f->data, f->len);
    return VF_OK;
}

/* gzip-compresses src into dst (appending); Z_BEST_COMPRESSION, no file name, mtime 0. */
static int gzip_into(wbuf *dst, const uint8_t *src, size_t len, vf_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, GZIP_WINDOW, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "cannot initialise zlib");
    uLong bound = deflateBound(&z, (uLong)len);
    int rc = VF_OK;
    if (bound > VF_SNAPSHOT_MAX_FILE || dst->failed) {
        rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    } else {
        uint8_t *tmp = malloc(bound);
        if (!tmp) {
            rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        } else {
            z.next_in = (Bytef *)(uintptr_t)src;
            z.avail_in = (uInt)len;
            z.next_out = tmp;
            z.avail_out = (uInt)bound;
            if (deflate(&z, Z_FINISH) != Z_STREAM_END)
                rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "zlib compression failed");
            else
                wb_put(dst, tmp, (size_t)z.total_out);
            free(tmp);
        }
    }
    deflateEnd(&z);
    if (rc == VF_OK && dst->failed)
        rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    return rc;
}

/* A tensor data record: shard name, tensor name, length, fingerprint, bytes. */
static int put_data(wbuf *w, const vf_snapshot_data *d, vf_error *err)
{
    size_t slen = d->shard ? strlen(d->shard) : 0, tlen = d->tensor ? strlen(d->tensor) : 0;
    if (slen > UINT16_MAX || tlen > UINT16_MAX || d->len > UINT32_MAX || (d->len && !d->data))
        return vf_error_set(err, VF_ERR_UNSUPPORTED, d->shard, d->tensor,
                            "name or data too long for the snapshot format");
    uint8_t fp[FP_BYTES];
    fingerprint(d->len ? d->data : (const uint8_t *)"", d->len, fp);
    wb_le(w, slen, 2);
    wb_put(w, d->shard, slen);
    wb_le(w, tlen, 2);
    wb_put(w, d->tensor, tlen);
    wb_le(w, d->len, 4);
    wb_put(w, fp, FP_BYTES);
    wb_put(w, d->data, d->len);
    return VF_OK;
}

/* The payload of format `version`: version 1 has no tensor data section. */
static int build_payload(wbuf *p, uint32_t version, const char *origin, const vf_snapshot_file *shards,
                         size_t shard_count, const vf_snapshot_file *aux, size_t aux_count,
                         const vf_snapshot_data *data, size_t data_count, vf_error *err)
{
    size_t olen = origin ? strlen(origin) : 0;
    if (olen > UINT32_MAX || shard_count > UINT32_MAX || aux_count > UINT32_MAX ||
        data_count > UINT32_MAX)
        return vf_error_set(err, VF_ERR_UNSUPPORTED, NULL, NULL, "too large for the snapshot format");
    int rc = VF_OK;
    wb_le(p, olen, 4);
    wb_put(p, origin, olen);
    wb_le(p, shard_count, 4);
    for (size_t i = 0; rc == VF_OK && i < shard_count; i++)
        rc = put_file(p, &shards[i], true, err);
    wb_le(p, aux_count, 4);
    for (size_t i = 0; rc == VF_OK && i < aux_count; i++)
        rc = put_file(p, &aux[i], false, err);
    if (version >= 2)
        wb_le(p, data_count, 4);
    for (size_t i = 0; rc == VF_OK && version >= 2 && i < data_count; i++)
        rc = put_data(p, &data[i], err);
    if (rc == VF_OK && p->failed)
        rc = vf_error_set(err, p->len + 1 > VF_SNAPSHOT_MAX_PAYLOAD ? VF_ERR_UNSUPPORTED : VF_ERR_NOMEM,
                          NULL, NULL, "snapshot payload above %llu bytes or out of memory",
                          (unsigned long long)VF_SNAPSHOT_MAX_PAYLOAD);
    return rc;
}

static int encode(uint32_t version, const char *origin, const vf_snapshot_file *shards,
                  size_t shard_count, const vf_snapshot_file *aux, size_t aux_count,
                  const vf_snapshot_data *data, size_t data_count, uint8_t **out, size_t *out_len,
                  vf_error *err)
{
    *out = NULL;
    *out_len = 0;
    wbuf p = {0};
    int rc = build_payload(&p, version, origin, shards, shard_count, aux, aux_count, data, data_count,
                           err);
    wbuf f = {0};
    uint8_t head[VF_SNAPSHOT_HEADER_BYTES] = {0};
    if (rc == VF_OK) {
        wb_put(&f, head, sizeof head);
        rc = gzip_into(&f, p.data ? p.data : (const uint8_t *)"", p.len, err);
    }
    if (rc == VF_OK) {
        memcpy(head, VF_SNAPSHOT_MAGIC, VF_SNAPSHOT_MAGIC_BYTES);
        put_le(head + 8, version, 4);
        put_le(head + 12, 0, 4);
        put_le(head + 16, p.len, 8);
        put_le(head + 24, f.len - VF_SNAPSHOT_HEADER_BYTES, 8);
        if (snapshot_fingerprint(head, p.data ? p.data : (const uint8_t *)"", p.len, head + 32) != VF_OK)
            rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        memcpy(f.data, head, sizeof head);
    }
    free(p.data);
    if (rc != VF_OK) {
        free(f.data);
        return rc;
    }
    *out = f.data;
    *out_len = f.len;
    return VF_OK;
}

int vf_snapshot_encode(const char *origin, const vf_snapshot_file *shards, size_t shard_count,
                       const vf_snapshot_file *aux, size_t aux_count, uint8_t **out, size_t *out_len,
                       vf_error *err)
{
    return encode(1, origin, shards, shard_count, aux, aux_count, NULL, 0, out, out_len, err);
}

int vf_snapshot_encode_data(const char *origin, const vf_snapshot_file *shards, size_t shard_count,
                            const vf_snapshot_file *aux, size_t aux_count,
                            const vf_snapshot_data *data, size_t data_count, uint8_t **out,
                            size_t *out_len, vf_error *err)
{
    return encode(2, origin, shards, shard_count, aux, aux_count, data, data_count, out, out_len, err);
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

int vf_snapshot_write(const vf_checkpoint *cp, uint8_t **out, size_t *out_len, vf_error *err)
{
    *out = NULL;
    *out_len = 0;
    const char *dir = vf_checkpoint_name(cp); /* portable: ID@REVISION or a base name, never a path */
    if (!*dir || strlen(dir) > VF_SNAPSHOT_MAX_ORIGIN || has_control(dir))
        return vf_error_set(err, VF_ERR_UNSUPPORTED, dir, NULL,
                            "directory name is empty, longer than %u bytes or has control characters",
                            VF_SNAPSHOT_MAX_ORIGIN);
    size_t n = vf_checkpoint_shard_count(cp);
    vf_snapshot_file *shards = calloc(n ? n : 1, sizeof *shards);
    vf_snapshot_file aux[8];
    size_t naux = 0;
    if (!shards)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        size_t len;
        const uint8_t *raw = vf_st_header_raw(s->header, &len);
        if (!raw) {
            free(shards);
            return vf_error_set(err, VF_ERR_USAGE, s->name, NULL,
                                "header bytes not kept: open the checkpoint with VF_OPEN_KEEP_HEADERS");
        }
        shards[i] = (vf_snapshot_file){s->name, vf_st_header_file_size(s->header), raw, len};
    }
    for (size_t i = 0; vf_aux_names[i] && naux < sizeof aux / sizeof aux[0]; i++) {
        size_t len;
        const uint8_t *d = vf_checkpoint_aux(cp, vf_aux_names[i], &len);
        if (d)
            aux[naux++] = (vf_snapshot_file){vf_aux_names[i], 0, d, len};
    }
    size_t nd = vf_data_store_count(vf_checkpoint_data_store(cp));
    vf_snapshot_data *data = calloc(nd ? nd : 1, sizeof *data);
    int rc = data ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; rc == VF_OK && i < nd; i++) {
        uint32_t shard, tensor;
        vf_data_store_get(vf_checkpoint_data_store(cp), i, &shard, &tensor, &data[i].data, &data[i].len);
        const vf_shard *s = vf_checkpoint_shard(cp, shard);
        data[i].shard = s->name;
        data[i].tensor = vf_st_header_tensor(s->header, tensor)->name;
    }
    if (rc == VF_OK) /* version 1 when there is no tensor data: readable by older vramfit */
        rc = nd ? vf_snapshot_encode_data(dir, shards, n, aux, naux, data, nd, out, out_len, err)
                : vf_snapshot_encode(dir, shards, n, aux, naux, out, out_len, err);
    free(data);
    free(shards);
    return rc;
}

/* ---- reading: outer header and decompression ---------------------------------------------------- */

bool vf_snapshot_has_magic(const uint8_t *buf, size_t len)
{
    return buf && len >= VF_SNAPSHOT_MAGIC_BYTES &&
           memcmp(buf, VF_SNAPSHOT_MAGIC, VF_SNAPSHOT_MAGIC_BYTES) == 0;
}

bool vf_snapshot_sniff(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    size_t n = strlen(path), m = strlen(VF_SNAPSHOT_SUFFIX);
    if (n >= m && strcmp(path + n - m, VF_SNAPSHOT_SUFFIX) == 0)
        return true;
    int fd;
    uint64_t size;
    if (vf_open_regular(path, path, &fd, &size, NULL) != VF_OK)
        return false;
    uint8_t magic[VF_SNAPSHOT_MAGIC_BYTES];
    size_t got = 0;
    int rc = vf_read_at(fd, magic, sizeof magic, 0, &got, path, NULL);
    close(fd);
    return rc == VF_OK && vf_snapshot_has_magic(magic, got);
}

typedef struct outer {
    uint32_t version, flags;
    uint64_t payload_len, compressed_len;
    const uint8_t *fp;
} outer;

static int check_outer(const uint8_t *buf, size_t len, const char *file, outer *o, vf_error *err)
{
    if (len < VF_SNAPSHOT_MAGIC_BYTES || !vf_snapshot_has_magic(buf, len))
        return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                            "not a vramfit snapshot (wrong magic bytes)");
    if (len < VF_SNAPSHOT_HEADER_BYTES)
        return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                            "truncated: %zu bytes, shorter than the %u-byte snapshot header", len,
                            VF_SNAPSHOT_HEADER_BYTES);
    o->version = (uint32_t)vf_load_le(buf + 8, 4);
    o->flags = (uint32_t)vf_load_le(buf + 12, 4);
    o->payload_len = vf_load_le(buf + 16, 8);
    o->compressed_len = vf_load_le(buf + 24, 8);
    o->fp = buf + 32;
    if (o->version < VF_SNAPSHOT_VERSION_MIN || o->version > VF_SNAPSHOT_VERSION)
        return vf_error_set(err, VF_ERR_UNSUPPORTED, file, NULL,
                            "snapshot format version %u is not supported (this vramfit reads versions "
                            "%u to %u)",
                            o->version, VF_SNAPSHOT_VERSION_MIN, VF_SNAPSHOT_VERSION);
    if (o->flags != 0)
        return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL, "unknown snapshot flags 0x%x", o->flags);
    if (o->payload_len > VF_SNAPSHOT_MAX_PAYLOAD)
        return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                            "declared payload of %llu bytes exceeds the limit of %llu",
                            (unsigned long long)o->payload_len,
                            (unsigned long long)VF_SNAPSHOT_MAX_PAYLOAD);
    uint64_t have = len - VF_SNAPSHOT_HEADER_BYTES;
    if (o->compressed_len > have)
        return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                            "truncated: header declares %llu compressed bytes, the file holds %llu",
                            (unsigned long long)o->compressed_len, (unsigned long long)have);
    if (o->compressed_len < have)
        return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                            "%llu unexpected bytes after the compressed data",
                            (unsigned long long)(have - o->compressed_len));
    return VF_OK;
}

/* Inflates the single gzip member src into a buffer that grows with the output, never beyond
 * `declared` bytes. */
static int gunzip(const uint8_t *src, size_t len, uint64_t declared, const char *file, uint8_t **out,
                  vf_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, GZIP_WINDOW) != Z_OK)
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "cannot initialise zlib");
    size_t cap = declared < 65536 ? (size_t)declared : 65536;
    uint8_t *buf = malloc(cap ? cap : 1);
    int rc = buf ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    size_t done = 0, in_left = len;
    const uint8_t *in = src;
    int zr = Z_OK;
    while (rc == VF_OK && zr != Z_STREAM_END) {
        if (done == cap && cap < declared) { /* grow only when the output really filled the buffer */
            size_t ncap = cap > (size_t)declared / 2 ? (size_t)declared : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                rc = vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
                break;
            }
            buf = nb;
            cap = ncap;
        }
        uint8_t spill;
        bool full = done == cap;
        z.next_out = full ? &spill : buf + done; /* one byte past the declared size: detects excess */
        z.avail_out = full ? 1u : (uInt)((cap - done) > UINT_MAX ? UINT_MAX : cap - done);
        uInt chunk = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = chunk;
        uInt before_out = z.avail_out;
        zr = inflate(&z, Z_NO_FLUSH);
        size_t consumed = chunk - z.avail_in, produced = before_out - z.avail_out;
        in += consumed;
        in_left -= consumed;
        if (full && produced)
            rc = vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                              "compressed data expands beyond the declared %llu bytes",
                              (unsigned long long)declared);
        else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR)
            rc = vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL, "corrupt compressed data (zlib: %s)",
                              z.msg ? z.msg : "invalid stream");
        else if (zr == Z_MEM_ERROR)
            rc = vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
        else if (zr != Z_STREAM_END && consumed == 0 && produced == 0)
            rc = vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL, in_left == 0
                                  ? "truncated compressed data: the gzip stream ends early"
                                  : "corrupt compressed data (zlib makes no progress)");
        else if (!full)
            done += produced;
    }
    inflateEnd(&z);
    if (rc == VF_OK && in_left)
        rc = vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                          "%zu unexpected bytes after the end of the gzip stream", in_left);
    if (rc == VF_OK && done != declared)
        rc = vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                          "compressed data expands to %zu bytes, the header declares %llu", done,
                          (unsigned long long)declared);
    if (rc != VF_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return VF_OK;
}

/* ---- reading: payload --------------------------------------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    size_t left;
    const char *file;
    vf_error *err;
} cursor;

static int need(cursor *c, size_t n, const char *what)
{
    if (c->left < n)
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL,
                            "payload ends inside %s (%zu bytes left, %zu needed)", what, c->left, n);
    return VF_OK;
}

static int take_le(cursor *c, unsigned n, uint64_t *v, const char *what)
{
    int rc = need(c, n, what);
    if (rc == VF_OK) {
        *v = vf_load_le(c->p, n);
        c->p += n;
        c->left -= n;
    }
    return rc;
}

static int take_bytes(cursor *c, size_t n, const uint8_t **p, const char *what)
{
    int rc = need(c, n, what);
    if (rc == VF_OK) {
        *p = c->p;
        c->p += n;
        c->left -= n;
    }
    return rc;
}

/* A stored file record: name, (file size), length, fingerprint, bytes. */
typedef struct record {
    char name[VF_SNAPSHOT_MAX_NAME + 1];
    uint64_t file_size;
    const uint8_t *data;
    size_t len;
} record;

static int take_record(cursor *c, bool shard, uint64_t max_len, record *r)
{
    uint64_t nlen, dlen, fsize = 0;
    const uint8_t *name, *fp;
    const char *what = shard ? "a shard record" : "an auxiliary file record";
    int rc = take_le(c, 2, &nlen, what);
    if (rc == VF_OK && (nlen == 0 || nlen > VF_SNAPSHOT_MAX_NAME))
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL,
                            "file name length %llu is outside 1..%u", (unsigned long long)nlen,
                            VF_SNAPSHOT_MAX_NAME);
    if (rc == VF_OK)
        rc = take_bytes(c, (size_t)nlen, &name, what);
    if (rc != VF_OK)
        return rc;
    memcpy(r->name, name, (size_t)nlen);
    r->name[nlen] = '\0';
    if (memchr(name, '\0', (size_t)nlen) || !vf_safe_file_name(r->name) || has_control(r->name))
        return vf_error_set(c->err, VF_ERR_UNSAFE_PATH, c->file, NULL,
                            "stored file name '%s' is not a plain file name (no '/', '\\', '..', "
                            "NUL or control characters allowed)",
                            r->name);
    if (shard)
        rc = take_le(c, 8, &fsize, what);
    if (rc == VF_OK)
        rc = take_le(c, 4, &dlen, what);
    if (rc == VF_OK && dlen > max_len)
        return vf_error_set(c->err, shard ? VF_ERR_HEADER_TOO_LARGE : VF_ERR_SNAPSHOT, c->file,
                            NULL, "%s: stored length %llu exceeds the limit of %llu", r->name,
                            (unsigned long long)dlen, (unsigned long long)max_len);
    if (rc == VF_OK)
        rc = take_bytes(c, FP_BYTES, &fp, what);
    if (rc == VF_OK)
        rc = take_bytes(c, (size_t)dlen, &r->data, what);
    if (rc != VF_OK)
        return rc;
    r->len = (size_t)dlen;
    r->file_size = fsize;
    uint8_t got[FP_BYTES];
    fingerprint(r->data, r->len, got);
    if (memcmp(got, fp, FP_BYTES) != 0) {
        char want_hex[33], got_hex[33];
        vf_hex_encode(fp, FP_BYTES, want_hex);
        vf_hex_encode(got, FP_BYTES, got_hex);
        return vf_error_set(c->err, VF_ERR_CHECKSUM, c->file, NULL,
                            "%s: %s fingerprint mismatch (stored %s, computed %s)", r->name,
                            shard ? "header" : "file", want_hex, got_hex);
    }
    return VF_OK;
}

#define MEMBER_MAX (VF_ERROR_FILE_MAX + VF_SNAPSHOT_MAX_NAME + 2)

/* "SNAP:NAME" for errors inside a snapshot (vf_error truncates it to its file field). */
static void member_name(char buf[MEMBER_MAX], const char *file, const char *name)
{
    size_t a = strnlen(file, VF_ERROR_FILE_MAX), b = strnlen(name, VF_SNAPSHOT_MAX_NAME);
    memcpy(buf, file, a);
    buf[a] = ':';
    memcpy(buf + a + 1, name, b);
    buf[a + 1 + b] = '\0';
}

static int read_origin(cursor *c, char **origin)
{
    uint64_t olen;
    const uint8_t *o;
    int rc = take_le(c, 4, &olen, "the origin");
    if (rc == VF_OK && (olen == 0 || olen > VF_SNAPSHOT_MAX_ORIGIN))
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL,
                            "origin length %llu is outside 1..%u", (unsigned long long)olen,
                            VF_SNAPSHOT_MAX_ORIGIN);
    if (rc == VF_OK)
        rc = take_bytes(c, (size_t)olen, &o, "the origin");
    if (rc != VF_OK)
        return rc;
    char *s = malloc((size_t)olen + 1);
    if (!s)
        return vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
    memcpy(s, o, (size_t)olen);
    s[olen] = '\0';
    if (memchr(o, '\0', (size_t)olen) || has_control(s)) {
        free(s);
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL,
                            "origin directory string has NUL or control characters");
    }
    *origin = s;
    return VF_OK;
}

static int read_shards(cursor *c, vf_checkpoint *cp, vf_error *err)
{
    uint64_t n = 0;
    int rc = take_le(c, 4, &n, "the shard count");
    if (rc == VF_OK && (n == 0 || n > VF_SNAPSHOT_MAX_SHARDS))
        return vf_error_set(err, VF_ERR_SNAPSHOT, c->file, NULL,
                            "shard count %llu is outside 1..%u", (unsigned long long)n,
                            VF_SNAPSHOT_MAX_SHARDS);
    for (uint64_t i = 0; rc == VF_OK && i < n; i++) {
        record r;
        rc = take_record(c, true, VF_ST_MAX_HEADER, &r);
        char member[MEMBER_MAX];
        if (rc == VF_OK)
            member_name(member, c->file, r.name);
        vf_st_header *h = NULL;
        if (rc == VF_OK)
            rc = vf_st_parse_header(r.data, r.len, r.file_size, member, &h, err);
        if (rc == VF_OK)
            rc = vf_checkpoint_add_shard(cp, r.name, h, err);
    }
    return rc;
}

static int read_aux(cursor *c, vf_checkpoint *cp, vf_error *err)
{
    uint64_t n = 0;
    int rc = take_le(c, 4, &n, "the auxiliary file count");
    size_t known = 0;
    while (vf_aux_names[known])
        known++;
    if (rc == VF_OK && n > known)
        return vf_error_set(err, VF_ERR_SNAPSHOT, c->file, NULL,
                            "auxiliary file count %llu exceeds the %zu known files",
                            (unsigned long long)n, known);
    for (uint64_t i = 0; rc == VF_OK && i < n; i++) {
        record r;
        rc = take_record(c, false, VF_AUX_MAX_BYTES, &r);
        if (rc == VF_OK && vf_checkpoint_aux(cp, r.name, NULL))
            rc = vf_error_set(err, VF_ERR_SNAPSHOT, c->file, NULL, "%s is stored twice", r.name);
        if (rc == VF_OK)
            rc = vf_checkpoint_set_aux(cp, r.name, r.data, r.len, err);
        if (rc == VF_ERR_UNSUPPORTED)
            rc = vf_error_set(err, VF_ERR_SNAPSHOT, c->file, NULL,
                              "'%s' is not an auxiliary file a snapshot may hold", r.name);
    }
    return rc;
}

static int dup_shard_names(const vf_checkpoint *cp, const char *file, vf_error *err)
{
    for (size_t i = 1; i < vf_checkpoint_shard_count(cp); i++)
        if (strcmp(vf_checkpoint_shard(cp, i - 1)->name, vf_checkpoint_shard(cp, i)->name) == 0)
            return vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL, "shard %s is stored twice",
                                vf_checkpoint_shard(cp, i)->name);
    return VF_OK;
}

/* A u16-length name of 1..max bytes without NUL, copied into a new string. */
static int take_name(cursor *c, uint64_t max, const char *what, char **out)
{
    uint64_t len;
    const uint8_t *p;
    int rc = take_le(c, 2, &len, what);
    if (rc == VF_OK && (len == 0 || len > max))
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL, "%s: name length %llu is outside 1..%llu",
                            what, (unsigned long long)len, (unsigned long long)max);
    if (rc == VF_OK)
        rc = take_bytes(c, (size_t)len, &p, what);
    if (rc != VF_OK)
        return rc;
    if (memchr(p, '\0', (size_t)len))
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL, "%s: name holds a NUL byte", what);
    char *s = malloc((size_t)len + 1);
    if (!s)
        return vf_error_set(c->err, VF_ERR_NOMEM, c->file, NULL, "out of memory");
    memcpy(s, p, (size_t)len);
    s[len] = '\0';
    *out = s;
    return VF_OK;
}

/* Index of the shard named `name` in the finished (sorted) checkpoint, or -1. */
static long shard_index(const vf_checkpoint *cp, const char *name)
{
    size_t n = vf_checkpoint_shard_count(cp);
    return n ? vf_find_sorted_name(vf_checkpoint_shard(cp, 0), n, sizeof(vf_shard),
                                   offsetof(vf_shard, name), name)
             : -1;
}

/* One tensor data record, checked against the finished checkpoint and stored in it. */
static int read_data_record(cursor *c, vf_checkpoint *cp, char *shard, char *tensor)
{
    const char *what = "a tensor data record";
    uint64_t len;
    const uint8_t *fp, *data;
    int rc = take_le(c, 4, &len, what);
    if (rc == VF_OK && len > VF_TENSOR_DATA_MAX)
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, tensor,
                            "stored tensor data of %llu bytes exceeds the limit of %u",
                            (unsigned long long)len, VF_TENSOR_DATA_MAX);
    if (rc == VF_OK)
        rc = take_bytes(c, FP_BYTES, &fp, what);
    if (rc == VF_OK)
        rc = take_bytes(c, (size_t)len, &data, what);
    if (rc != VF_OK)
        return rc;
    uint8_t got[FP_BYTES];
    fingerprint(data, (size_t)len, got);
    if (memcmp(got, fp, FP_BYTES) != 0)
        return vf_error_set(c->err, VF_ERR_CHECKSUM, c->file, tensor, "tensor data fingerprint mismatch");
    long si = shard_index(cp, shard);
    const vf_st_header *h = si >= 0 ? vf_checkpoint_shard(cp, (size_t)si)->header : NULL;
    long ti = h ? vf_st_header_find(h, tensor) : -1;
    if (ti < 0)
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, tensor,
                            "tensor data for a tensor that shard '%s' does not hold", shard);
    if (!vf_tensor_data_wanted(tensor) || vf_st_header_tensor(h, (size_t)ti)->nbytes != len)
        return vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, tensor,
                            "stored tensor data is not the %llu bytes of a tensor vramfit reads",
                            (unsigned long long)vf_st_header_tensor(h, (size_t)ti)->nbytes);
    return vf_data_store_add(vf_checkpoint_data_store(cp), (uint32_t)si, (uint32_t)ti, data, (size_t)len,
                             c->err);
}

/* Version 2: the tensor data section, read after the shards are finished (sorted). */
static int read_data(cursor *c, vf_checkpoint *cp)
{
    uint64_t n = 0;
    int rc = take_le(c, 4, &n, "the tensor data count");
    for (uint64_t i = 0; rc == VF_OK && i < n; i++) {
        char *shard = NULL, *tensor = NULL;
        rc = take_name(c, VF_SNAPSHOT_MAX_NAME, "a tensor data record", &shard);
        if (rc == VF_OK)
            rc = take_name(c, UINT16_MAX, "a tensor data record", &tensor);
        if (rc == VF_OK)
            rc = read_data_record(c, cp, shard, tensor);
        free(shard);
        free(tensor);
    }
    if (rc == VF_OK && !vf_data_store_sort(vf_checkpoint_data_store(cp)))
        rc = vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL, "a tensor's data is stored twice");
    return rc;
}

static int no_trailing(const cursor *c)
{
    return c->left ? vf_error_set(c->err, VF_ERR_SNAPSHOT, c->file, NULL,
                                  "%zu unexpected bytes after the payload", c->left)
                   : VF_OK;
}

/* vf_checkpoint_finish, naming the snapshot member in its errors. */
static int finish(vf_checkpoint *cp, const char *file, vf_error *err)
{
    int rc = vf_checkpoint_finish(cp, err); /* sorts shards by name, cross-checks like a directory */
    if (rc != VF_OK && err && strncmp(err->file, file, strlen(file)) != 0) {
        char member[MEMBER_MAX];
        member_name(member, file, err->file);
        size_t n = strnlen(member, sizeof err->file - 1);
        memcpy(err->file, member, n);
        err->file[n] = '\0';
    }
    return rc;
}

/* Builds the checkpoint from a decompressed, fingerprint-checked payload of format `version`. */
static int parse_payload(const uint8_t *p, size_t len, uint32_t version, const char *file,
                         vf_checkpoint **out, vf_error *err)
{
    cursor c = {p, len, file, err};
    char *origin = NULL;
    int rc = read_origin(&c, &origin);
    if (rc != VF_OK)
        return rc;
    vf_checkpoint *cp = vf_checkpoint_new(origin);
    if (cp && vf_checkpoint_set_origin(cp, origin) != VF_OK) {
        vf_checkpoint_free(cp);
        cp = NULL;
    }
    free(origin);
    if (!cp)
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    rc = read_shards(&c, cp, err);
    if (rc == VF_OK)
        rc = read_aux(&c, cp, err);
    if (rc == VF_OK && version < 2)
        rc = no_trailing(&c);
    if (rc == VF_OK)
        rc = finish(cp, file, err);
    if (rc == VF_OK)
        rc = dup_shard_names(cp, file, err);
    if (rc == VF_OK && version >= 2)
        rc = read_data(&c, cp);
    if (rc == VF_OK && version >= 2)
        rc = no_trailing(&c);
    if (rc != VF_OK) {
        vf_checkpoint_free(cp);
        return rc;
    }
    *out = cp;
    return VF_OK;
}

int vf_snapshot_parse(const uint8_t *buf, size_t len, const char *display, vf_checkpoint **out,
                      vf_error *err)
{
    const char *file = display ? display : "snapshot";
    *out = NULL;
    outer o = {0};
    int rc = check_outer(buf, len, file, &o, err);
    if (rc != VF_OK)
        return rc;
    uint8_t *payload = NULL;
    rc = gunzip(buf + VF_SNAPSHOT_HEADER_BYTES, (size_t)o.compressed_len, o.payload_len, file,
                &payload, err);
    if (rc != VF_OK)
        return rc;
    uint8_t fp[FP_BYTES];
    if (snapshot_fingerprint(buf, payload, (size_t)o.payload_len, fp) != VF_OK)
        rc = vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    else if (memcmp(fp, o.fp, FP_BYTES) != 0) {
        char want_hex[33], got_hex[33];
        vf_hex_encode(o.fp, FP_BYTES, want_hex);
        vf_hex_encode(fp, FP_BYTES, got_hex);
        rc = vf_error_set(err, VF_ERR_CHECKSUM, file, NULL,
                          "snapshot fingerprint mismatch (stored %s, computed %s)", want_hex, got_hex);
    }
    if (rc == VF_OK)
        rc = parse_payload(payload, (size_t)o.payload_len, o.version, file, out, err);
    free(payload);
    return rc;
}

int vf_snapshot_read_file(const char *path, const char *display, vf_checkpoint **out, vf_error *err)
{
    const char *file = display ? display : path;
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = vf_read_small_file(path, file, (size_t)VF_SNAPSHOT_MAX_FILE, &data, &len, err);
    if (rc == VF_ERR_UNSUPPORTED)
        rc = vf_error_set(err, VF_ERR_SNAPSHOT, file, NULL,
                          "file is larger than the %llu bytes a snapshot may have",
                          (unsigned long long)VF_SNAPSHOT_MAX_FILE);
    if (rc == VF_OK)
        rc = vf_snapshot_parse(data, len, file, out, err);
    free(data);
    return rc;
}
