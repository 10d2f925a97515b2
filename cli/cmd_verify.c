/* cmd_verify.c - `vramfit verify PATH [--data] [--manifest OUT.json] [--against MANIFEST.json]`:
 * structural verdict per file; with --data, XXH3-128 of every tensor and shard (one sequential
 * read), duplicate / all-zero / NaN-Inf tensors, a JSON manifest, and the comparison with a
 * manifest made elsewhere (the check after an air-gap transfer). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vf_cli.h"
#include "vramfit/vf_verify.h"

enum { OPT_DATA = 1, OPT_MANIFEST, OPT_AGAINST, OPT_QUIET, OPT_SHA256, OPT_NO_SHA256, OPT_JSON };

static const vf_opt verify_opts[] = {
    {"data", 0, false, OPT_DATA},         {"manifest", 0, true, OPT_MANIFEST},
    {"against", 0, true, OPT_AGAINST},    {"quiet", 'q', false, OPT_QUIET},
    {"sha256", 0, false, OPT_SHA256},     {"no-sha256", 0, false, OPT_NO_SHA256},
    {"json", 0, false, OPT_JSON},         VF_COMMON_OPTS,
    {NULL, 0, false, 0},
};

#define FINDINGS_SHOWN 10 /* per kind; the manifest has them all */

static void verify_help(void)
{
    printf("usage: vramfit verify PATH [--data] [--sha256] [--manifest OUT.json] [--against MANIFEST.json]\n"
           "                      [--json] [--quiet] [--revision REV] [--hf-cache DIR]\n\n"
           "Checks a checkpoint's integrity. Without --data: every structural check of the header\n"
           "parser and the index, with one verdict per file (each shard is checked on its own, so\n"
           "one bad shard does not hide the others) and a summary. PATH may be a .vfsnap snapshot\n"
           "(its fingerprints and headers are checked; it holds no tensor data).\n\n"
           "  --data          read every tensor's bytes once, sequentially, and hash them with\n"
           "                  XXH3-128 per tensor and per shard file (the file digest equals\n"
           "                  `xxh128sum FILE`); report tensors byte-identical to another, all-zero\n"
           "                  tensors, and NaN/Inf values in F16/BF16/F32/F64 tensors; print the\n"
           "                  read throughput. A progress bar goes to stderr when it is a terminal.\n"
           "  --sha256        SHA-256 of every file, read once, files in parallel. In a Hugging Face\n"
           "                  cache each file is checked against the blob it links to, whose name is\n"
           "                  the Hub's own checksum (SHA-256 for LFS files, the git blob id for files\n"
           "                  kept in git); elsewhere the digests are listed as `sha256sum` prints\n"
           "                  them. On by default with --data inside a cache, and whenever the\n"
           "                  --against manifest holds SHA-256 digests; manifests written with it\n"
           "                  carry each file's SHA-256\n"
           "  --no-sha256     not by default with --data inside a cache\n"
           "  --json          the structural report as one JSON document (the digests of --data are\n"
           "                  JSON in the --manifest file)\n"
           "  --manifest FILE write a JSON manifest (per shard and per tensor: digest, size, dtype,\n"
           "                  shape); implies --data. Written via a temporary file and rename.\n"
           "  --against FILE  re-hash PATH and compare with a manifest made elsewhere, listing every\n"
           "                  missing, extra or differing file and tensor; implies --data\n"
           "  --revision REV  Hugging Face cache snapshot (branch, tag or commit) instead of main\n"
           "  --hf-cache DIR  Hugging Face hub cache directory to search\n");
    vf_print_global_help();
    printf("\n--quiet: no progress bar and no warnings about the index; --verbose also names the\n"
           "directory PATH resolved to.\n\n"
           "exit codes: 0 sound (and identical to the manifest), 2 usage, 3 I/O error (including a\n"
           "file that changes or shrinks while being read), 4 a file is malformed (the report on\n"
           "stdout gives every file's verdict), 5 differences from the --against manifest or from the\n"
           "Hub's checksums.\n");
}

typedef struct verify_flags {
    bool data, quiet, sha256, no_sha256, json;
    const char *manifest_out, *against;
} verify_flags;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *fmt_rate(double bytes_per_s, char *buf, size_t n)
{
    if (bytes_per_s >= 1073741824.0)
        snprintf(buf, n, "%.2f GiB/s", bytes_per_s / 1073741824.0);
    else
        snprintf(buf, n, "%.1f MiB/s", bytes_per_s / 1048576.0);
    return buf;
}

/* ---- progress bar ------------------------------------------------------------------------------ */

typedef struct progress {
    bool on;
    uint64_t total, done;
    double start, last;
} progress;

static void progress_draw(progress *p, bool force)
{
    double t = now_seconds();
    if (!force && t - p->last < 0.1)
        return;
    p->last = t;
    double el = t - p->start, rate = el > 0 ? (double)p->done / el : 0;
    double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;
    double left = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    char r[32];
    fprintf(stderr, "\rverify  %5.1f%%  %.2f of %.2f GiB  %s  %d:%02d left   ", pct,
            (double)p->done / 1073741824.0, (double)p->total / 1073741824.0,
            fmt_rate(rate, r, sizeof r), (int)(left / 60), (int)left % 60);
    fflush(stderr);
}

static void progress_cb(void *user, uint64_t bytes)
{
    progress *p = user;
    p->done += bytes;
    if (p->on)
        progress_draw(p, false);
}

static void progress_end(progress *p)
{
    if (p->on)
        fprintf(stderr, "\r%78s\r", "");
}

/* ---- structure --------------------------------------------------------------------------------- */

static void print_items(vf_buf *b, const vf_verify_report *r)
{
    char c1[32], c2[32], line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    for (size_t i = 0; i < vf_verify_item_count(r); i++) {
        const vf_verify_item *it = vf_verify_item_at(r, i);
        if (it->status != VF_OK) {
            vf_buf_printf(b, "  %sFAIL%s  %s: %s\n", vf_sty(VF_STY_RED), vf_sty(VF_STY_RESET), it->name,
                          vf_error_format(&it->error, line, sizeof line));
            continue;
        }
        switch (it->kind) {
        case VF_VERIFY_SHARD:
            vf_buf_printf(b, "  ok    %-40s %8s tensors %18s bytes\n", it->name,
                          vf_fmt_count(it->tensors, c1), vf_fmt_count(it->size, c2));
            break;
        case VF_VERIFY_INDEX:
            vf_buf_printf(b, "  ok    %-40s %8s tensors listed, all in their shards\n", it->name,
                          vf_fmt_count(it->tensors, c1));
            break;
        case VF_VERIFY_SNAPSHOT:
            vf_buf_printf(b, "  ok    %s: snapshot fingerprints match\n", it->name);
            break;
        case VF_VERIFY_CHECKPOINT:
            vf_buf_printf(b, "  ok    %s\n", it->name);
            break;
        }
    }
}

static void print_structure_summary(vf_buf *b, const vf_verify_report *r)
{
    char c1[32], c2[32], c3[32];
    size_t shards = 0, failed = 0;
    uint64_t tensors = 0, bytes = 0;
    for (size_t i = 0; i < vf_verify_item_count(r); i++) {
        const vf_verify_item *it = vf_verify_item_at(r, i);
        failed += it->status != VF_OK;
        if (it->kind == VF_VERIFY_SHARD) {
            shards++;
            tensors += it->tensors;
            bytes += it->size;
        }
    }
    const vf_checkpoint *cp = vf_verify_checkpoint(r);
    const vf_findings *fs = cp && !vf_ui_quiet() ? vf_checkpoint_findings(cp) : NULL;
    for (size_t i = 0; fs && i < vf_findings_count(fs); i++)
        vf_buf_printf(b, "  %s: %s\n",
                      vf_findings_get(fs, i)->severity == VF_SEV_WARNING ? "warning" : "info",
                      vf_findings_get(fs, i)->message);
    if (vf_verify_sound(r))
        vf_buf_printf(b, "Structure   sound: %s shard%s, %s tensors, %s bytes\n",
                      vf_fmt_count(shards, c1), shards == 1 ? "" : "s", vf_fmt_count(tensors, c2),
                      vf_fmt_count(bytes, c3));
    else
        vf_buf_printf(b, "Structure   %sNOT SOUND%s: %s of %s checks failed\n", vf_sty(VF_STY_RED),
                      vf_sty(VF_STY_RESET), vf_fmt_count(failed, c1),
                      vf_fmt_count(vf_verify_item_count(r), c2));
}

static const char *const kind_names[] = {"shard", "index", "checkpoint", "snapshot"};

/* --json: {schema, model..., sound, checks: [{kind, name, ok, error, tensors, size_bytes}]}. */
static void structure_json(vf_buf *b, const char *path, const vf_verify_report *r)
{
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    const vf_checkpoint *cp = vf_verify_checkpoint(r);
    if (cp)
        vf_jw_origin(&j, cp);
    else
        vf_jw_str(&j, "path", path);
    vf_jw_bool(&j, "sound", vf_verify_sound(r));
    vf_jw_arr(&j, "checks");
    for (size_t i = 0; i < vf_verify_item_count(r); i++) {
        const vf_verify_item *it = vf_verify_item_at(r, i);
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "kind", (unsigned)it->kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[it->kind] : "?");
        vf_jw_str(&j, "name", it->name);
        vf_jw_bool(&j, "ok", it->status == VF_OK);
        vf_jw_str(&j, "error", it->status == VF_OK ? NULL : vf_error_format(&it->error, line, sizeof line));
        if (it->kind == VF_VERIFY_SHARD || it->kind == VF_VERIFY_INDEX)
            vf_jw_u64(&j, "tensors", it->tensors);
        if (it->kind == VF_VERIFY_SHARD)
            vf_jw_u64(&j, "size_bytes", it->size);
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_findings(&j, "findings", cp ? vf_checkpoint_findings(cp) : NULL); /* NULL: [] */
    vf_jw_obj_end(&j);
}

/* ---- data -------------------------------------------------------------------------------------- */

typedef struct shard_data {
    vf_digest digest, header_digest;
    vf_tensor_hash *tensors;
} shard_data;

typedef struct data_run {
    const vf_checkpoint *cp;
    const vf_hub_report *hub; /* SHA-256 of the files, or NULL */
    shard_data *shards;
    uint64_t bytes;
    double seconds;
} data_run;

static void data_free(data_run *d)
{
    for (size_t i = 0; d->shards && i < vf_checkpoint_shard_count(d->cp); i++)
        free(d->shards[i].tensors);
    free(d->shards);
}

static char *join_path(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int hash_all(data_run *d, bool bar, vf_error *err)
{
    const vf_checkpoint *cp = d->cp;
    size_t n = vf_checkpoint_shard_count(cp);
    progress p = {.on = bar, .start = now_seconds()};
    for (size_t i = 0; i < n; i++)
        p.total += vf_st_header_file_size(vf_checkpoint_shard(cp, i)->header);
    d->shards = calloc(n ? n : 1, sizeof *d->shards);
    if (!d->shards)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    vf_hash_options o = VF_HASH_OPTIONS_INIT;
    o.progress = progress_cb;
    o.user = &p;
    int rc = VF_OK;
    for (size_t i = 0; rc == VF_OK && i < n; i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        size_t count = vf_st_header_count(s->header), raw_len;
        const uint8_t *raw = vf_st_header_raw(s->header, &raw_len);
        vf_digest_of(raw, raw_len, &d->shards[i].header_digest);
        d->shards[i].tensors = calloc(count ? count : 1, sizeof *d->shards[i].tensors);
        char *path = join_path(vf_checkpoint_dir(cp), s->name);
        if (!d->shards[i].tensors || !path)
            rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        else
            rc = vf_hash_shard(path, s->name, s->header, &o, &d->shards[i].digest,
                               d->shards[i].tensors, err);
        free(path);
    }
    progress_end(&p);
    d->bytes = p.done;
    d->seconds = now_seconds() - p.start;
    return rc;
}

/* One tensor of the checkpoint with its hash, for sorting. */
typedef struct tref {
    const vf_st_tensor *t;
    const vf_tensor_hash *hash;
    const char *file;
} tref;

static int cmp_by_digest(const void *a, const void *b)
{
    const tref *x = a, *y = b;
    int c = memcmp(x->hash->digest.b, y->hash->digest.b, sizeof x->hash->digest.b);
    if (c == 0)
        c = x->t->nbytes < y->t->nbytes ? -1 : x->t->nbytes > y->t->nbytes;
    return c ? c : strcmp(x->t->name, y->t->name);
}

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const tref *)a)->t->name, ((const tref *)b)->t->name);
}

/* Every tensor of the checkpoint, sorted by name; NULL on allocation failure. */
static tref *all_tensors(const data_run *d, size_t *count)
{
    size_t n = 0;
    for (size_t s = 0; s < vf_checkpoint_shard_count(d->cp); s++)
        n += vf_st_header_count(vf_checkpoint_shard(d->cp, s)->header);
    tref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs)
        return NULL;
    size_t k = 0;
    for (size_t s = 0; s < vf_checkpoint_shard_count(d->cp); s++) {
        const vf_shard *sh = vf_checkpoint_shard(d->cp, s);
        for (size_t i = 0; i < vf_st_header_count(sh->header); i++)
            refs[k++] = (tref){vf_st_header_tensor(sh->header, i), &d->shards[s].tensors[i], sh->name};
    }
    qsort(refs, n, sizeof *refs, cmp_by_name);
    *count = n;
    return refs;
}

static void more_line(vf_buf *b, size_t shown, size_t total, const char *what)
{
    char c[32];
    if (total > shown)
        vf_buf_printf(b, "  ... and %s more %s (all listed in --manifest)\n",
                      vf_fmt_count(total - shown, c), what);
}

static void print_duplicates(vf_buf *b, tref *refs, size_t n)
{
    char c[32];
    size_t k = 0, total = 0;
    tref *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        b->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++) /* zero tensors are reported as such, empty ones say nothing */
        if (refs[i].t->nbytes && !refs[i].hash->all_zero)
            v[k++] = refs[i];
    qsort(v, k, sizeof *v, cmp_by_digest);
    for (size_t i = 1, first = 0; i < k; i++) {
        bool same = vf_digest_equal(&v[i].hash->digest, &v[first].hash->digest) &&
                    v[i].t->nbytes == v[first].t->nbytes;
        if (!same) {
            first = i;
            continue;
        }
        if (total++ < FINDINGS_SHOWN)
            vf_buf_printf(b, "  duplicate  %s: bytes identical to %s (%s bytes)\n", v[i].t->name,
                          v[first].t->name, vf_fmt_count(v[i].t->nbytes, c));
    }
    more_line(b, FINDINGS_SHOWN, total, "duplicates");
    free(v);
}

static size_t print_data_findings(vf_buf *b, tref *refs, size_t n)
{
    char c[32];
    size_t zeros = 0, bad = 0;
    print_duplicates(b, refs, n);
    for (size_t i = 0; i < n; i++)
        if (refs[i].hash->all_zero && zeros++ < FINDINGS_SHOWN)
            vf_buf_printf(b, "  zeros      %s: all %s bytes are zero\n", refs[i].t->name,
                          vf_fmt_count(refs[i].t->nbytes, c));
    more_line(b, FINDINGS_SHOWN, zeros, "all-zero tensors");
    for (size_t i = 0; i < n; i++)
        if (refs[i].hash->nonfinite && bad++ < FINDINGS_SHOWN)
            vf_buf_printf(b, "  nan/inf    %s: %s NaN or Inf values (%s)\n", refs[i].t->name,
                          vf_fmt_count(refs[i].hash->nonfinite, c), vf_dtype_name(refs[i].t->dtype));
    more_line(b, FINDINGS_SHOWN, bad, "tensors with NaN/Inf");
    return bad;
}

static void print_data(vf_buf *b, const data_run *d, tref *refs, size_t n)
{
    char hex[VF_DIGEST_HEX], c1[32], r[32];
    vf_buf_printf(b, "Data        XXH3-128 of each file (as xxh128sum prints it)\n");
    for (size_t i = 0; i < vf_checkpoint_shard_count(d->cp); i++)
        vf_buf_printf(b, "  %s  %s\n", vf_digest_hex(&d->shards[i].digest, hex),
                      vf_checkpoint_shard(d->cp, i)->name);
    print_data_findings(b, refs, n);
    double rate = d->seconds > 0 ? (double)d->bytes / d->seconds : 0;
    vf_buf_printf(b, "Read        %s bytes in %.3f s, %s\n", vf_fmt_count(d->bytes, c1), d->seconds,
                  fmt_rate(rate, r, sizeof r));
}

/* ---- the Hub's checksums ------------------------------------------------------------------------ */

/* One line per file; returns the number that differ from their blob names, *failed the first file
 * that could not be read. */
static size_t print_hub(vf_buf *b, const vf_hub_report *h, const vf_hub_file **failed)
{
    char c1[32];
    size_t n = vf_hub_file_count(h), differ = 0, bad = 0;
    *failed = NULL;
    for (size_t i = 0; i < n; i++) {
        const vf_hub_file *f = vf_hub_file_at(h, i);
        differ += f->status == VF_OK && f->kind != VF_HUB_UNNAMED && !f->match;
        if (f->status != VF_OK && !bad++)
            *failed = f;
    }
    if (vf_hub_in_cache(h))
        vf_buf_printf(b, "SHA-256     %zu file%s in a Hugging Face cache: %zu match%s the Hub's checksum, "
                         "%zu differ%s, %zu unreadable\n", n, n == 1 ? "" : "s", n - differ - bad,
                      n - differ - bad == 1 ? "es" : "", differ, differ == 1 ? "s" : "", bad);
    else
        vf_buf_printf(b, "SHA-256     %zu file%s (not in a Hugging Face cache: no checksum to check them "
                         "against)\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const vf_hub_file *f = vf_hub_file_at(h, i);
        const char *alg = f->kind == VF_HUB_GIT ? "git-sha1" : "sha256";
        const char *actual = f->kind == VF_HUB_GIT ? f->git_sha1 : f->sha256;
        if (f->status != VF_OK)
            vf_buf_printf(b, "  %sunreadable%s %s: %s\n", vf_sty(VF_STY_RED), vf_sty(VF_STY_RESET), f->name,
                          f->error.message);
        else if (f->kind == VF_HUB_UNNAMED)
            vf_buf_printf(b, "  %s  %s\n", f->sha256, f->name);
        else if (f->match)
            vf_buf_printf(b, "  ok       %s (%s bytes, %s %s)\n", f->name, vf_fmt_count(f->size, c1), alg, actual);
        else
            vf_buf_printf(b, "  %sdiffers%s  %s: %s %s, blob name %s\n", vf_sty(VF_STY_RED), vf_sty(VF_STY_RESET),
                          f->name, alg, actual, f->expected);
    }
    return differ;
}

/* --sha256: hashes, prints, and returns an exit code (VF_EXIT_OK when every checked file matches). */
static int verify_hub(vf_buf *b, const vf_checkpoint *cp, vf_hub_report **out)
{
    vf_error err = {0};
    if (vf_hub_hash(cp, out, &err) != VF_OK)
        return vf_cli_fail(&err);
    const vf_hub_file *failed;
    size_t differ = print_hub(b, *out, &failed);
    if (!failed && !differ)
        return VF_EXIT_OK;
    int rc = vf_buf_flush(b);
    if (rc != VF_EXIT_OK)
        return rc;
    if (failed)
        return vf_cli_fail(&failed->error);
    vf_error_set(&err, VF_ERR_MISMATCH, vf_checkpoint_dir(cp), NULL,
                 "%zu file%s differ%s from the Hub's checksums (their blob names): the cache is corrupt; "
                 "download them again", differ, differ == 1 ? "" : "s", differ == 1 ? "s" : "");
    return vf_cli_fail(&err);
}

/* SHA-256 is wanted: asked for, the default for --data in a cache, or needed by the manifest. */
static bool want_sha256(const verify_flags *f, const vf_checkpoint *cp, const vf_manifest *against)
{
    if (f->no_sha256)
        return false;
    if (f->sha256 || (f->data && vf_hub_is_cache_snapshot(cp)))
        return true;
    for (size_t i = 0; against && i < vf_manifest_shard_count(against); i++)
        if (vf_manifest_shard_at(against, i)->sha256[0])
            return true;
    return false;
}

/* ---- manifest ---------------------------------------------------------------------------------- */

static void manifest_json(vf_buf *b, const data_run *d, const tref *refs, size_t n)
{
    char hex[VF_DIGEST_HEX];
    vf_jw j = {.b = b};
    vf_jw_obj(&j, NULL);
    vf_jw_str(&j, "format", "vramfit-manifest");
    vf_jw_u64(&j, "version", 1);
    vf_jw_str(&j, "hash", "xxh3-128");
    vf_jw_str(&j, "path", vf_checkpoint_dir(d->cp));
    vf_jw_arr(&j, "shards");
    for (size_t i = 0; i < vf_checkpoint_shard_count(d->cp); i++) {
        const vf_shard *s = vf_checkpoint_shard(d->cp, i);
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "name", s->name);
        vf_jw_u64(&j, "size", vf_st_header_file_size(s->header));
        vf_jw_str(&j, "header_xxh3_128", vf_digest_hex(&d->shards[i].header_digest, hex));
        vf_jw_str(&j, "xxh3_128", vf_digest_hex(&d->shards[i].digest, hex));
        const vf_hub_file *h = vf_hub_find(d->hub, s->name);
        if (h && h->status == VF_OK)
            vf_jw_str(&j, "sha256", h->sha256);
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_arr(&j, "tensors");
    for (size_t i = 0; i < n; i++) {
        const vf_st_tensor *t = refs[i].t;
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "name", t->name);
        vf_jw_str(&j, "file", refs[i].file);
        vf_jw_str(&j, "dtype", vf_dtype_name(t->dtype));
        vf_jw_shape(&j, "shape", t->shape, t->ndim);
        vf_jw_u64(&j, "bytes", t->nbytes);
        vf_jw_str(&j, "xxh3_128", vf_digest_hex(&refs[i].hash->digest, hex));
        vf_jw_bool(&j, "all_zero", refs[i].hash->all_zero);
        if (refs[i].hash->float_checked)
            vf_jw_u64(&j, "nonfinite", refs[i].hash->nonfinite);
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_obj_end(&j);
}


/* ---- comparison with a manifest ----------------------------------------------------------------- */

static bool same_shape(const vf_st_tensor *t, const vf_manifest_tensor *m)
{
    if (t->ndim != m->ndim)
        return false;
    for (uint32_t i = 0; i < t->ndim; i++)
        if (t->shape[i] != m->shape[i])
            return false;
    return true;
}

/* The manifest has a SHA-256 for the shard and the one read differs from it. */
static bool sha256_differs(const vf_hub_report *hub, const vf_manifest_shard *ms)
{
    const vf_hub_file *h = vf_hub_find(hub, ms->name);
    return ms->sha256[0] && h && h->status == VF_OK && strcmp(h->sha256, ms->sha256) != 0;
}

static size_t compare_files(vf_buf *b, const data_run *d, const vf_manifest *m, bool *seen)
{
    char h1[VF_DIGEST_HEX], h2[VF_DIGEST_HEX], c1[32], c2[32];
    size_t diffs = 0;
    for (size_t i = 0; i < vf_checkpoint_shard_count(d->cp); i++) {
        const vf_shard *s = vf_checkpoint_shard(d->cp, i);
        long k = vf_manifest_find_shard(m, s->name);
        if (k < 0) {
            vf_buf_printf(b, "  extra    file %s (not in the manifest)\n", s->name);
            diffs++;
            continue;
        }
        seen[k] = true;
        const vf_manifest_shard *ms = vf_manifest_shard_at(m, (size_t)k);
        uint64_t size = vf_st_header_file_size(s->header);
        if (size != ms->size) {
            vf_buf_printf(b, "  differs  file %s: %s bytes, manifest %s\n", s->name,
                          vf_fmt_count(size, c1), vf_fmt_count(ms->size, c2));
            diffs++;
        } else if (sha256_differs(d->hub, ms)) {
            vf_buf_printf(b, "  differs  file %s: sha256 %s, manifest %s\n", s->name,
                          vf_hub_find(d->hub, s->name)->sha256, ms->sha256);
            diffs++;
        } else if (!vf_digest_equal(&d->shards[i].digest, &ms->digest)) {
            vf_buf_printf(b, "  differs  file %s: xxh3-128 %s, manifest %s%s\n", s->name,
                          vf_digest_hex(&d->shards[i].digest, h1), vf_digest_hex(&ms->digest, h2),
                          vf_digest_equal(&d->shards[i].header_digest, &ms->header_digest)
                              ? ""
                              : " (header differs too)");
            diffs++;
        }
    }
    for (size_t k = 0; k < vf_manifest_shard_count(m); k++)
        if (!seen[k]) {
            vf_buf_printf(b, "  missing  file %s\n", vf_manifest_shard_at(m, k)->name);
            diffs++;
        }
    return diffs;
}

/* "dtype BF16, manifest F16; shape ..." for one tensor; false when identical. */
static bool tensor_diff(vf_buf *b, const tref *r, const vf_manifest_tensor *mt)
{
    char s1[96], s2[96], h1[VF_DIGEST_HEX], h2[VF_DIGEST_HEX];
    const vf_st_tensor *t = r->t;
    bool dt = t->dtype != mt->dtype, sh = !same_shape(t, mt), file = strcmp(r->file, mt->file) != 0;
    bool by = t->nbytes != mt->bytes, dg = !vf_digest_equal(&r->hash->digest, &mt->digest);
    if (!dt && !sh && !file && !by && !dg)
        return false;
    vf_buf_printf(b, "  differs  tensor %s (%s):", t->name, r->file);
    const char *sep = " ";
    if (dt)
        vf_buf_printf(b, "%sdtype %s, manifest %s", sep, vf_dtype_name(t->dtype), vf_dtype_name(mt->dtype)), sep = "; ";
    if (sh)
        vf_buf_printf(b, "%sshape %s, manifest %s", sep, vf_fmt_shape(t->shape, t->ndim, s1, sizeof s1),
                      vf_fmt_shape(mt->shape, mt->ndim, s2, sizeof s2)), sep = "; ";
    if (file)
        vf_buf_printf(b, "%sstored in %s, manifest %s", sep, r->file, mt->file), sep = "; ";
    if (by)
        vf_buf_printf(b, "%s%llu bytes, manifest %llu", sep, (unsigned long long)t->nbytes,
                      (unsigned long long)mt->bytes), sep = "; ";
    if (dg)
        vf_buf_printf(b, "%sxxh3-128 %s, manifest %s", sep, vf_digest_hex(&r->hash->digest, h1),
                      vf_digest_hex(&mt->digest, h2));
    vf_buf_printf(b, "\n");
    return true;
}

static size_t compare_tensors(vf_buf *b, const tref *refs, size_t n, const vf_manifest *m, bool *seen)
{
    size_t diffs = 0;
    for (size_t i = 0; i < n; i++) {
        long k = vf_manifest_find_tensor(m, refs[i].t->name);
        if (k < 0) {
            vf_buf_printf(b, "  extra    tensor %s (%s, not in the manifest)\n", refs[i].t->name,
                          refs[i].file);
            diffs++;
            continue;
        }
        seen[k] = true;
        diffs += tensor_diff(b, &refs[i], vf_manifest_tensor_at(m, (size_t)k));
    }
    for (size_t k = 0; k < vf_manifest_tensor_count(m); k++)
        if (!seen[k]) {
            const vf_manifest_tensor *mt = vf_manifest_tensor_at(m, k);
            vf_buf_printf(b, "  missing  tensor %s (expected in %s)\n", mt->name, mt->file);
            diffs++;
        }
    return diffs;
}

/* Appends the comparison; returns the number of differences, or (size_t)-1 when out of memory. */
static size_t compare_manifest(vf_buf *b, const data_run *d, const tref *refs, size_t n,
                               const vf_manifest *m, const char *name)
{
    size_t ns = vf_manifest_shard_count(m), nt = vf_manifest_tensor_count(m);
    bool *seen_s = calloc(ns ? ns : 1, 1), *seen_t = calloc(nt ? nt : 1, 1);
    size_t diffs = (size_t)-1;
    if (seen_s && seen_t) {
        vf_buf_printf(b, "Against     %s\n", name);
        diffs = compare_files(b, d, m, seen_s) + compare_tensors(b, refs, n, m, seen_t);
        if (!diffs)
            vf_buf_printf(b, "  identical: %zu files and %zu tensors match\n", ns, nt);
    }
    free(seen_s);
    free(seen_t);
    return diffs;
}

/* ---- command ----------------------------------------------------------------------------------- */

static int parse_verify_args(int argc, char **argv, const char **path, vf_open_options *oo,
                             verify_flags *f)
{
    vf_args a = {argc, 1, argv, verify_opts, "verify", false};
    const char *val;
    for (int id; (id = vf_args_next(&a, &val)) != -1;) {
        if (id == -2)
            return VF_EXIT_USAGE;
        if (id == VF_OPT_HELP)
            return verify_help(), -1;
        if (id == 0 && *path)
            return vf_usage_error("verify", "more than one PATH given ('%s')", val);
        if (id == 0)
            *path = val;
        f->data |= id == OPT_DATA || id == OPT_MANIFEST || id == OPT_AGAINST;
        f->quiet |= id == OPT_QUIET;
        f->sha256 |= id == OPT_SHA256;
        f->no_sha256 |= id == OPT_NO_SHA256;
        f->json |= id == OPT_JSON;
        if (id == OPT_MANIFEST)
            f->manifest_out = val;
        if (id == OPT_AGAINST)
            f->against = val;
        vf_common_opt(id, val, oo);
    }
    if (!*path)
        return vf_usage_error("verify", "missing PATH (see 'vramfit verify --help')");
    if (f->json && (f->data || f->sha256))
        return vf_usage_error("verify", "--json reports the structure; the digests of --data and "
                                        "--sha256 are JSON in the --manifest FILE");
    return VF_EXIT_OK;
}

/* --manifest OUT: the manifest prepared as an output (never PATH, --against or a checkpoint file);
 * VF_EXIT_OK with *o set, or the exit code (message printed). */
static int prepare_manifest(const data_run *d, const tref *refs, size_t n, const verify_flags *f,
                            const char *path, vf_output **o)
{
    vf_buf mb = {0};
    manifest_json(&mb, d, refs, n);
    const char *const inputs[] = {path, f->against, NULL};
    int rc = mb.failed ? (vf_diag("vramfit: error: ", "out of memory"), VF_EXIT_INTERNAL)
                       : vf_cli_output_prepare(f->manifest_out, d->cp, inputs, mb.data ? mb.data : "",
                                               mb.len, o);
    vf_buf_free(&mb);
    return rc;
}

/* The --data part: hash, report, manifest (prepared into *manifest, committed by the caller after
 * stdout), comparison. Returns an exit code; *b holds stdout. */
static int verify_data(vf_buf *b, const vf_checkpoint *cp, const char *path, const verify_flags *f,
                       const vf_manifest *against, const vf_hub_report *hub, vf_output **manifest)
{
    data_run d = {.cp = cp, .hub = hub};
    vf_error err = {0};
    size_t n = 0;
    tref *refs = NULL;
    int rc = hash_all(&d, !f->quiet && !vf_ui_quiet() && isatty(STDERR_FILENO), &err);
    if (rc == VF_OK && !(refs = all_tensors(&d, &n)))
        rc = vf_error_set(&err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_OK && f->manifest_out) {
        int x = prepare_manifest(&d, refs, n, f, path, manifest);
        if (x != VF_EXIT_OK) {
            free(refs);
            data_free(&d);
            return x;
        }
    }
    size_t diffs = 0;
    if (rc == VF_OK) {
        print_data(b, &d, refs, n);
        if (against)
            diffs = compare_manifest(b, &d, refs, n, against, f->against);
        if (diffs == (size_t)-1)
            rc = vf_error_set(&err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    free(refs);
    data_free(&d);
    if (rc != VF_OK)
        return vf_cli_fail(&err);
    if (f->manifest_out)
        vf_buf_printf(b, "Manifest    %s\n", f->manifest_out);
    if (!diffs)
        return VF_EXIT_OK;
    vf_buf_printf(b, "Verdict     %s%zu difference%s%s from %s\n", vf_sty(VF_STY_RED), diffs, diffs == 1 ? "" : "s",
                  vf_sty(VF_STY_RESET), f->against);
    int out = vf_cli_flush_commit(b, *manifest); /* the manifest is sound: differences are a result */
    *manifest = NULL;
    vf_error_set(&err, VF_ERR_MISMATCH, vf_checkpoint_dir(cp), NULL,
                 "%zu difference%s from the manifest %s", diffs, diffs == 1 ? "" : "s", f->against);
    return out != VF_EXIT_OK ? out : vf_cli_fail(&err);
}

int vf_cmd_verify(int argc, char **argv)
{
    const char *path = NULL;
    vf_open_options oo = VF_OPEN_OPTIONS_INIT;
    verify_flags f = {0};
    int rc = parse_verify_args(argc, argv, &path, &oo, &f);
    if (rc != VF_EXIT_OK)
        return rc < 0 ? VF_EXIT_OK : rc;
    vf_error err = {0};
    vf_manifest *against = NULL;
    if (f.against && vf_manifest_read_file(f.against, NULL, &against, &err) != VF_OK)
        return vf_cli_fail(&err);
    vf_verify_report *r = NULL;
    if (vf_verify_structure(path, &oo, &r, &err) != VF_OK) {
        vf_manifest_free(against);
        return vf_cli_fail(&err);
    }
    if ((f.data || f.sha256) && vf_verify_is_snapshot(r)) {
        vf_verify_report_free(r);
        vf_manifest_free(against);
        return vf_usage_error("verify", "%s is a header snapshot and holds no tensor data; run "
                                        "--data, --sha256, --manifest or --against on the checkpoint itself",
                              path);
    }
    vf_buf b = {0};
    if (f.json) {
        structure_json(&b, path, r);
        rc = vf_buf_flush(&b);
        if (rc == VF_EXIT_OK && !vf_verify_sound(r))
            rc = vf_cli_fail(vf_verify_first_error(r));
        vf_buf_free(&b);
        vf_verify_report_free(r);
        vf_manifest_free(against);
        return rc;
    }
    vf_buf_printf(&b, "Checkpoint  %s\n", path);
    if (vf_ui_verbose() && vf_verify_checkpoint(r))
        vf_buf_printf(&b, "Directory   %s\n", vf_checkpoint_dir(vf_verify_checkpoint(r)));
    print_items(&b, r);
    print_structure_summary(&b, r);
    if (!vf_verify_sound(r)) {
        rc = vf_buf_flush(&b);
        rc = rc != VF_EXIT_OK ? rc : vf_cli_fail(vf_verify_first_error(r));
    } else if (f.data || f.sha256) {
        const vf_checkpoint *cp = vf_verify_checkpoint(r);
        vf_hub_report *hub = NULL;
        vf_output *manifest = NULL;
        rc = want_sha256(&f, cp, against) ? verify_hub(&b, cp, &hub) : VF_EXIT_OK;
        if (rc == VF_EXIT_OK && f.data)
            rc = verify_data(&b, cp, path, &f, against, hub, &manifest);
        vf_hub_report_free(hub);
        if (rc == VF_EXIT_OK) {
            vf_buf_printf(&b, "Verdict     %ssound%s\n", vf_sty(VF_STY_GREEN), vf_sty(VF_STY_RESET));
            rc = vf_cli_flush_commit(&b, manifest);
        } else {
            vf_output_free(manifest);
        }
    } else {
        vf_buf_printf(&b, "Verdict     %ssound%s\n", vf_sty(VF_STY_GREEN), vf_sty(VF_STY_RESET));
        rc = vf_buf_flush(&b);
    }
    vf_buf_free(&b);
    vf_verify_report_free(r);
    vf_manifest_free(against);
    return rc;
}
