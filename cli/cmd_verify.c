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

enum { OPT_DATA = 1, OPT_MANIFEST, OPT_AGAINST, OPT_SHA256, OPT_NO_SHA256, OPT_JSON };

static const vf_opt verify_table[] = {
    VF_OPT_COLUMN(18),
    {"data", 0, NULL, OPT_DATA, "read every tensor's bytes once, sequentially, and hash them with\n"
                                "XXH3-128 per tensor and per shard file (the file digest equals\n"
                                "`xxh128sum FILE`); report tensors byte-identical to another, all-zero\n"
                                "tensors, and NaN/Inf values in F16/BF16/F32/F64 tensors; print the\n"
                                "read throughput. A progress bar goes to stderr when it is a terminal."},
    {"sha256", 0, NULL, OPT_SHA256, "SHA-256 of every file, read once, files in parallel. In a Hugging Face\n"
                                    "cache each file is checked against the blob it links to, whose name is\n"
                                    "the Hub's own checksum (SHA-256 for LFS files, the git blob id for files\n"
                                    "kept in git); elsewhere the digests are listed as `sha256sum` prints\n"
                                    "them. On by default with --data inside a cache, and whenever the\n"
                                    "--against manifest holds SHA-256 digests; manifests written with it\n"
                                    "carry each file's SHA-256"},
    {"no-sha256", 0, NULL, OPT_NO_SHA256, "not by default with --data inside a cache"},
    {"json", 0, NULL, OPT_JSON, "the report as one JSON document: the structure and, with --data,\n"
                                "--sha256 or --against, the digests, findings and differences"},
    {"manifest", 0, "FILE", OPT_MANIFEST, "write a JSON manifest (per shard and per tensor: digest, size, dtype,\n"
                                          "shape); implies --data. Written via a temporary file and rename.",
     VF_VALUES_FILE},
    {"against", 0, "FILE", OPT_AGAINST, "re-hash PATH and compare with a manifest made elsewhere, listing every\n"
                                        "missing, extra or differing file and tensor; implies --data",
     VF_VALUES_FILE},
    VF_OPEN_OPTS,
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

#define FINDINGS_SHOWN 10 /* per kind; the manifest has them all */

typedef struct verify_opts {
    bool data, sha256, no_sha256, json;
    const char *manifest_out, *against;
} verify_opts;

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
    if (fs)
        vf_cli_findings(b, "  ", fs);
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

/* --json: opens the document {schema, model..., sound, checks: [{kind, name, ok, error, tensors,
 * size_bytes}], findings; the caller adds the --sha256 and --data members and closes it. */
static void structure_members(vf_jw *jp, const char *path, const vf_verify_report *r)
{
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    vf_jw j = *jp;
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
    *jp = j;
}

/* ---- data -------------------------------------------------------------------------------------- */

typedef struct data_run {
    const vf_checkpoint *cp;
    const vf_hub_report *hub; /* SHA-256 of the files, or NULL */
    vf_shard_hashes *shards;
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

/* Hashes every shard (in parallel, vf_hash_shards); err gets the lowest-index shard's failure. */
static int hash_all(data_run *d, bool bar, vf_error *err)
{
    const vf_checkpoint *cp = d->cp;
    size_t n = vf_checkpoint_shard_count(cp);
    progress p = {.on = bar, .start = now_seconds()};
    d->shards = calloc(n ? n : 1, sizeof *d->shards);
    vf_hash_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    int rc = d->shards && jobs ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; rc == VF_OK && i < n; i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        size_t count = vf_st_header_count(s->header);
        p.total += vf_st_header_file_size(s->header);
        d->shards[i].tensors = calloc(count ? count : 1, sizeof *d->shards[i].tensors);
        jobs[i] = (vf_hash_job){.path = join_path(vf_checkpoint_dir(cp), s->name), .display = s->name,
                                .header = s->header, .tensors = d->shards[i].tensors};
        if (!d->shards[i].tensors || !jobs[i].path)
            rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    vf_hash_options o = VF_HASH_OPTIONS_INIT;
    o.progress = progress_cb;
    o.user = &p;
    if (rc == VF_OK && (rc = vf_hash_shards(jobs, n, &o)) != VF_OK)
        for (size_t i = 0; i < n; i++)
            if (jobs[i].status != VF_OK) {
                *err = jobs[i].error;
                break;
            }
    for (size_t i = 0; rc == VF_OK && i < n; i++)
        d->shards[i].file = jobs[i].digest;
    for (size_t i = 0; jobs && i < n; i++)
        free((char *)jobs[i].path);
    free(jobs);
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

/* Calls fn(ctx, dup, first) for every non-empty, not all-zero tensor whose bytes equal those of an
 * earlier one `first` (by digest and size; name order within a group). Returns how many, or
 * (size_t)-1 when out of memory. */
static size_t each_duplicate(const tref *refs, size_t n, void (*fn)(void *, const tref *, const tref *),
                             void *ctx)
{
    size_t k = 0, total = 0;
    tref *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return (size_t)-1;
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
        fn(ctx, &v[i], &v[first]);
        total++;
    }
    free(v);
    return total;
}

typedef struct dup_lines {
    vf_buf *b;
    size_t shown;
} dup_lines;

static void duplicate_line(void *ctx, const tref *dup, const tref *first)
{
    dup_lines *l = ctx;
    char c[32];
    if (l->shown++ < FINDINGS_SHOWN)
        vf_buf_printf(l->b, "  duplicate  %s: bytes identical to %s (%s bytes)\n", dup->t->name,
                      first->t->name, vf_fmt_count(dup->t->nbytes, c));
}

static void print_duplicates(vf_buf *b, tref *refs, size_t n)
{
    dup_lines l = {b, 0};
    size_t total = each_duplicate(refs, n, duplicate_line, &l);
    if (total == (size_t)-1)
        b->failed = true;
    else
        more_line(b, FINDINGS_SHOWN, total, "duplicates");
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
        vf_buf_printf(b, "  %s  %s\n", vf_digest_hex(&d->shards[i].file, hex),
                      vf_checkpoint_shard(d->cp, i)->name);
    print_data_findings(b, refs, n);
    double rate = d->seconds > 0 ? (double)d->bytes / d->seconds : 0;
    vf_buf_printf(b, "Read        %s bytes in %.3f s, %s\n", vf_fmt_count(d->bytes, c1), d->seconds,
                  fmt_rate(rate, r, sizeof r));
}

/* ---- the Hub's checksums ------------------------------------------------------------------------ */

/* One line per file; returns the number that differ from their blob names, *failed the first file
 * that could not be read. */
/* The files whose digest differs from their blob name; *failed the first unreadable one. */
static size_t hub_tally(const vf_hub_report *h, const vf_hub_file **failed)
{
    size_t differ = 0;
    *failed = NULL;
    for (size_t i = 0; i < vf_hub_file_count(h); i++) {
        const vf_hub_file *f = vf_hub_file_at(h, i);
        differ += f->status == VF_OK && f->kind != VF_HUB_UNNAMED && !f->match;
        if (f->status != VF_OK && !*failed)
            *failed = f;
    }
    return differ;
}

static size_t print_hub(vf_buf *b, const vf_hub_report *h, const vf_hub_file **failed)
{
    char c1[32];
    size_t n = vf_hub_file_count(h), differ = hub_tally(h, failed), bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += vf_hub_file_at(h, i)->status != VF_OK;
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

/* The exit of a cache whose files differ from their blob names (one line on stderr). */
static int fail_hub_differs(const vf_checkpoint *cp, size_t differ)
{
    vf_error err = {0};
    vf_error_set(&err, VF_ERR_MISMATCH, vf_checkpoint_dir(cp), NULL,
                 "%zu file%s differ%s from the Hub's checksums (their blob names): the cache is corrupt; "
                 "download them again", differ, differ == 1 ? "" : "s", differ == 1 ? "s" : "");
    return vf_cli_fail(&err);
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
    return failed ? vf_cli_fail(&failed->error) : fail_hub_differs(cp, differ);
}

/* SHA-256 is wanted: asked for, the default for --data in a cache, or needed by the manifest. */
static bool want_sha256(const verify_opts *f, const vf_checkpoint *cp, const vf_manifest *against)
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

/* ---- comparison with a manifest ----------------------------------------------------------------- */

/* One line of the comparison (vf_manifest_compare decides; this prints). */
static void print_file_diff(vf_buf *b, const vf_manifest_diff *x)
{
    char h1[VF_DIGEST_HEX], h2[VF_DIGEST_HEX], c1[32], c2[32];
    const vf_manifest_shard *a = x->actual.shard, *e = x->expected.shard;
    if (x->change == VF_MANIFEST_EXTRA)
        vf_buf_printf(b, "  extra    file %s (not in the manifest)\n", a->name);
    else if (x->change == VF_MANIFEST_MISSING)
        vf_buf_printf(b, "  missing  file %s\n", e->name);
    else if (x->fields & VF_MANIFEST_SIZE)
        vf_buf_printf(b, "  differs  file %s: %s bytes, manifest %s\n", a->name, vf_fmt_count(a->size, c1),
                      vf_fmt_count(e->size, c2));
    else if (x->fields & VF_MANIFEST_SHA256)
        vf_buf_printf(b, "  differs  file %s: sha256 %s, manifest %s\n", a->name, a->sha256, e->sha256);
    else
        vf_buf_printf(b, "  differs  file %s: xxh3-128 %s, manifest %s%s\n", a->name,
                      vf_digest_hex(&a->digest, h1), vf_digest_hex(&e->digest, h2),
                      x->fields & VF_MANIFEST_HEADER ? " (header differs too)" : "");
}

/* "dtype BF16, manifest F16; shape ..." for one tensor. */
static void print_tensor_diff(vf_buf *b, const vf_manifest_diff *x)
{
    char s1[96], s2[96], h1[VF_DIGEST_HEX], h2[VF_DIGEST_HEX];
    const vf_manifest_tensor *t = x->actual.tensor, *mt = x->expected.tensor;
    if (x->change == VF_MANIFEST_EXTRA) {
        vf_buf_printf(b, "  extra    tensor %s (%s, not in the manifest)\n", t->name, t->file);
        return;
    }
    if (x->change == VF_MANIFEST_MISSING) {
        vf_buf_printf(b, "  missing  tensor %s (expected in %s)\n", mt->name, mt->file);
        return;
    }
    unsigned f = x->fields;
    vf_buf_printf(b, "  differs  tensor %s (%s):", t->name, t->file);
    const char *sep = " ";
    if (f & VF_MANIFEST_DTYPE)
        vf_buf_printf(b, "%sdtype %s, manifest %s", sep, vf_dtype_name(t->dtype), vf_dtype_name(mt->dtype)), sep = "; ";
    if (f & VF_MANIFEST_SHAPE)
        vf_buf_printf(b, "%sshape %s, manifest %s", sep, vf_fmt_shape(t->shape, t->ndim, s1, sizeof s1),
                      vf_fmt_shape(mt->shape, mt->ndim, s2, sizeof s2)), sep = "; ";
    if (f & VF_MANIFEST_FILE)
        vf_buf_printf(b, "%sstored in %s, manifest %s", sep, t->file, mt->file), sep = "; ";
    if (f & VF_MANIFEST_BYTES)
        vf_buf_printf(b, "%s%llu bytes, manifest %llu", sep, (unsigned long long)t->bytes,
                      (unsigned long long)mt->bytes), sep = "; ";
    if (f & VF_MANIFEST_XXH3)
        vf_buf_printf(b, "%sxxh3-128 %s, manifest %s", sep, vf_digest_hex(&t->digest, h1),
                      vf_digest_hex(&mt->digest, h2));
    vf_buf_printf(b, "\n");
}

/* Appends the comparison of the run's manifest with the one given; returns the number of
 * differences, or (size_t)-1 with err set. */
static size_t compare_manifest(vf_buf *b, const vf_manifest *actual, const vf_manifest *m, const char *name,
                               vf_error *err)
{
    vf_manifest_diff *v = NULL;
    size_t n = 0;
    if (vf_manifest_compare(actual, m, &v, &n, err) != VF_OK)
        return (size_t)-1;
    vf_buf_printf(b, "Against     %s\n", name);
    for (size_t i = 0; i < n; i++)
        if (v[i].tensor)
            print_tensor_diff(b, &v[i]);
        else
            print_file_diff(b, &v[i]);
    if (!n)
        vf_buf_printf(b, "  identical: %zu files and %zu tensors match\n", vf_manifest_shard_count(m),
                      vf_manifest_tensor_count(m));
    free(v);
    return n;
}

/* ---- command ----------------------------------------------------------------------------------- */

static int verify_store(void *parsed, const vf_opt *opt, const char *val)
{
    verify_opts *f = parsed;
    f->data |= opt->id == OPT_DATA || opt->id == OPT_MANIFEST || opt->id == OPT_AGAINST;
    f->sha256 |= opt->id == OPT_SHA256;
    f->no_sha256 |= opt->id == OPT_NO_SHA256;
    f->json |= opt->id == OPT_JSON;
    f->manifest_out = opt->id == OPT_MANIFEST ? val : f->manifest_out;
    f->against = opt->id == OPT_AGAINST ? val : f->against;
    return VF_EXIT_OK;
}

/* --manifest OUT: the manifest written by the library and prepared as an output (never PATH,
 * --against or a checkpoint file); VF_EXIT_OK with *o set, or the exit code (message printed). */
static int prepare_manifest(const data_run *d, const vf_manifest *m, const verify_opts *f, const char *path,
                            vf_output **o)
{
    char *json = NULL;
    size_t len = 0;
    vf_error err = {0};
    if (vf_manifest_write(m, &json, &len, &err) != VF_OK)
        return vf_cli_fail(&err);
    const char *const inputs[] = {path, f->against, NULL};
    int rc = vf_cli_output_prepare(f->manifest_out, d->cp, inputs, json, len, o);
    free(json);
    return rc;
}

/* Hashes the data for --data: *refs every tensor by name; *run this run as a manifest when
 * --manifest or --against needs one, written into *manifest (prepared) for --manifest. Returns an
 * exit code (a failure printed; nothing for stdout). */
static int hash_for_report(data_run *d, const verify_opts *f, const char *path, tref **refs, size_t *n,
                           vf_manifest **run, vf_output **manifest)
{
    vf_error err = {0};
    int rc = hash_all(d, !vf_ui_quiet() && isatty(STDERR_FILENO), &err);
    if (rc == VF_OK && !(*refs = all_tensors(d, n)))
        rc = vf_error_set(&err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_OK && (f->manifest_out || f->against))
        rc = vf_manifest_build(d->cp, d->shards, d->hub, run, &err);
    if (rc != VF_OK)
        return vf_cli_fail(&err);
    return f->manifest_out ? prepare_manifest(d, *run, f, path, manifest) : VF_EXIT_OK;
}

/* The exit of differences from the --against manifest (one line on stderr). */
static int fail_manifest_differs(const vf_checkpoint *cp, size_t diffs, const char *name)
{
    vf_error err = {0};
    vf_error_set(&err, VF_ERR_MISMATCH, vf_checkpoint_dir(cp), NULL, "%zu difference%s from the manifest %s",
                 diffs, diffs == 1 ? "" : "s", name);
    return vf_cli_fail(&err);
}

/* The --data part: hash, report, manifest (prepared into *manifest, committed by the caller after
 * stdout), comparison. Returns an exit code; *b holds stdout. */
static int verify_data(vf_buf *b, const vf_checkpoint *cp, const char *path, const verify_opts *f,
                       const vf_manifest *against, const vf_hub_report *hub, vf_output **manifest)
{
    data_run d = {.cp = cp, .hub = hub};
    vf_error err = {0};
    size_t n = 0, diffs = 0;
    tref *refs = NULL;
    vf_manifest *run = NULL; /* this run as a manifest, for --manifest and --against */
    int rc = hash_for_report(&d, f, path, &refs, &n, &run, manifest);
    if (rc == VF_EXIT_OK) {
        print_data(b, &d, refs, n);
        if (against && (diffs = compare_manifest(b, run, against, f->against, &err)) == (size_t)-1)
            rc = vf_cli_fail(&err);
    }
    vf_manifest_free(run);
    free(refs);
    data_free(&d);
    if (rc != VF_EXIT_OK)
        return rc;
    if (f->manifest_out)
        vf_buf_printf(b, "Manifest    %s\n", f->manifest_out);
    if (!diffs)
        return VF_EXIT_OK;
    vf_buf_printf(b, "Verdict     %s%zu difference%s%s from %s\n", vf_sty(VF_STY_RED), diffs, diffs == 1 ? "" : "s",
                  vf_sty(VF_STY_RESET), f->against);
    int out = vf_cli_flush_commit(b, *manifest); /* the manifest is sound: differences are a result */
    *manifest = NULL;
    return out != VF_EXIT_OK ? out : fail_manifest_differs(cp, diffs, f->against);
}

/* ---- --json: one document ------------------------------------------------------------------------ */

static const char *const hub_kind_names[] = {"lfs", "git", "unnamed"};

/* "sha256": {in_cache, files: [{name, kind, size_bytes, sha256, git_sha1 (git), expected, matches,
 * error}]}: expected is the blob name (null outside a cache), matches null when nothing was checked. */
static void hub_json(vf_jw *j, const vf_hub_report *h)
{
    vf_jw_obj(j, "sha256");
    vf_jw_bool(j, "in_cache", vf_hub_in_cache(h));
    vf_jw_arr(j, "files");
    for (size_t i = 0; i < vf_hub_file_count(h); i++) {
        const vf_hub_file *f = vf_hub_file_at(h, i);
        bool ok = f->status == VF_OK, named = f->kind != VF_HUB_UNNAMED;
        vf_jw_obj(j, NULL);
        vf_jw_str(j, "name", f->name);
        vf_jw_str(j, "kind", hub_kind_names[f->kind]);
        vf_jw_u64(j, "size_bytes", f->size);
        vf_jw_str(j, "sha256", ok ? f->sha256 : NULL);
        if (f->kind == VF_HUB_GIT)
            vf_jw_str(j, "git_sha1", ok ? f->git_sha1 : NULL);
        vf_jw_str(j, "expected", named ? f->expected : NULL);
        if (ok && named)
            vf_jw_bool(j, "matches", f->match);
        else
            vf_jw_null(j, "matches");
        vf_jw_str(j, "error", ok ? NULL : f->error.message);
        vf_jw_obj_end(j);
    }
    vf_jw_arr_end(j);
    vf_jw_obj_end(j);
}

static void tensor_ref_json(vf_jw *j, const tref *r)
{
    vf_jw_str(j, "tensor", r->t->name);
    vf_jw_str(j, "file", r->file);
    vf_jw_str(j, "dtype", vf_dtype_name(r->t->dtype));
    vf_jw_u64(j, "tensor_bytes", r->t->nbytes);
}

static void duplicate_json(void *ctx, const tref *dup, const tref *first)
{
    vf_jw *j = ctx;
    vf_jw_obj(j, NULL);
    tensor_ref_json(j, dup);
    vf_jw_str(j, "same_as", first->t->name);
    vf_jw_obj_end(j);
}

/* "data": {hash, read_bytes, seconds, files: [{name, size_bytes, header_xxh3_128, xxh3_128}],
 * duplicates, all_zero, nonfinite: every such tensor [{tensor, file, dtype, tensor_bytes, ...}]}. */
static void data_json(vf_jw *j, const data_run *d, const tref *refs, size_t n)
{
    char hex[VF_DIGEST_HEX];
    vf_jw_obj(j, "data");
    vf_jw_str(j, "hash", "xxh3-128");
    vf_jw_u64(j, "read_bytes", d->bytes);
    vf_jw_double(j, "seconds", d->seconds);
    vf_jw_arr(j, "files");
    for (size_t i = 0; i < vf_checkpoint_shard_count(d->cp); i++) {
        const vf_shard *s = vf_checkpoint_shard(d->cp, i);
        vf_jw_obj(j, NULL);
        vf_jw_str(j, "name", s->name);
        vf_jw_u64(j, "size_bytes", vf_st_header_file_size(s->header));
        size_t raw_len;
        const uint8_t *raw = vf_st_header_raw(s->header, &raw_len);
        vf_digest header;
        vf_digest_of(raw, raw_len, &header);
        vf_jw_str(j, "header_xxh3_128", vf_digest_hex(&header, hex));
        vf_jw_str(j, "xxh3_128", vf_digest_hex(&d->shards[i].file, hex));
        vf_jw_obj_end(j);
    }
    vf_jw_arr_end(j);
    vf_jw_arr(j, "duplicates");
    if (each_duplicate(refs, n, duplicate_json, j) == (size_t)-1)
        j->b->failed = true;
    vf_jw_arr_end(j);
    vf_jw_arr(j, "all_zero");
    for (size_t i = 0; i < n; i++)
        if (refs[i].hash->all_zero) {
            vf_jw_obj(j, NULL);
            tensor_ref_json(j, &refs[i]);
            vf_jw_obj_end(j);
        }
    vf_jw_arr_end(j);
    vf_jw_arr(j, "nonfinite");
    for (size_t i = 0; i < n; i++)
        if (refs[i].hash->nonfinite) {
            vf_jw_obj(j, NULL);
            tensor_ref_json(j, &refs[i]);
            vf_jw_u64(j, "count", refs[i].hash->nonfinite);
            vf_jw_obj_end(j);
        }
    vf_jw_arr_end(j);
    vf_jw_obj_end(j);
}

static const char *const change_names[] = {"extra", "missing", "differs"};

/* The names of the fields a difference lists (vf_manifest_diff.fields), as the manifest keys them. */
static void diff_fields_json(vf_jw *j, unsigned fields)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{VF_MANIFEST_SIZE, "size"},   {VF_MANIFEST_SHA256, "sha256"}, {VF_MANIFEST_XXH3, "xxh3_128"},
                 {VF_MANIFEST_HEADER, "header_xxh3_128"}, {VF_MANIFEST_DTYPE, "dtype"},
                 {VF_MANIFEST_SHAPE, "shape"}, {VF_MANIFEST_FILE, "file"}, {VF_MANIFEST_BYTES, "bytes"}};
    vf_jw_arr(j, "fields");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (fields & names[i].bit)
            vf_jw_str(j, NULL, names[i].name);
    vf_jw_arr_end(j);
}

/* One difference: {kind (file, tensor), name, change (extra, missing, differs), fields, xxh3_128 and
 * expected_xxh3_128 (each null on the side that lacks it)}. */
static void diff_json(vf_jw *j, const vf_manifest_diff *x)
{
    char h1[VF_DIGEST_HEX], h2[VF_DIGEST_HEX];
    const vf_digest *a = NULL, *e = NULL;
    const char *name;
    if (x->tensor) {
        a = x->actual.tensor ? &x->actual.tensor->digest : NULL;
        e = x->expected.tensor ? &x->expected.tensor->digest : NULL;
        name = x->actual.tensor ? x->actual.tensor->name : x->expected.tensor->name;
    } else {
        a = x->actual.shard ? &x->actual.shard->digest : NULL;
        e = x->expected.shard ? &x->expected.shard->digest : NULL;
        name = x->actual.shard ? x->actual.shard->name : x->expected.shard->name;
    }
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "kind", x->tensor ? "tensor" : "file");
    vf_jw_str(j, "name", name);
    vf_jw_str(j, "change", change_names[x->change]);
    diff_fields_json(j, x->change == VF_MANIFEST_DIFFERS ? x->fields : 0);
    vf_jw_str(j, "xxh3_128", a ? vf_digest_hex(a, h1) : NULL);
    vf_jw_str(j, "expected_xxh3_128", e ? vf_digest_hex(e, h2) : NULL);
    vf_jw_obj_end(j);
}

/* "against": {manifest, identical, differences: [diff_json]}. Returns the number of differences, or
 * (size_t)-1 with err set. */
static size_t against_json(vf_jw *j, const vf_manifest *run, const vf_manifest *m, const char *name,
                           vf_error *err)
{
    vf_manifest_diff *v = NULL;
    size_t n = 0;
    if (vf_manifest_compare(run, m, &v, &n, err) != VF_OK)
        return (size_t)-1;
    vf_jw_obj(j, "against");
    vf_jw_str(j, "manifest", name);
    vf_jw_bool(j, "identical", n == 0);
    vf_jw_arr(j, "differences");
    for (size_t i = 0; i < n; i++)
        diff_json(j, &v[i]);
    vf_jw_arr_end(j);
    vf_jw_obj_end(j);
    free(v);
    return n;
}

/* The exit code after the document: unsound, an unreadable file, Hub or manifest differences. */
static int json_verdict(const vf_verify_report *r, const vf_hub_report *hub, size_t diffs, const char *against)
{
    const vf_hub_file *failed = NULL;
    size_t differ = hub ? hub_tally(hub, &failed) : 0;
    const vf_checkpoint *cp = vf_verify_checkpoint(r);
    if (!vf_verify_sound(r))
        return vf_cli_fail(vf_verify_first_error(r));
    if (failed)
        return vf_cli_fail(&failed->error);
    if (differ)
        return fail_hub_differs(cp, differ);
    return diffs ? fail_manifest_differs(cp, diffs, against) : VF_EXIT_OK;
}

/* --json: the structure, and with --sha256 / --data their results, as one document on stdout
 * (nothing there when reading the data fails). */
static int verify_json(const char *path, const verify_opts *f, const vf_verify_report *r,
                       const vf_manifest *against)
{
    const vf_checkpoint *cp = vf_verify_checkpoint(r);
    bool deep = vf_verify_sound(r) && (f->data || f->sha256);
    vf_hub_report *hub = NULL;
    data_run d = {.cp = cp};
    tref *refs = NULL;
    size_t n = 0, diffs = 0;
    vf_manifest *run = NULL;
    vf_output *manifest = NULL;
    vf_error err = {0};
    int rc = VF_EXIT_OK;
    if (deep && want_sha256(f, cp, against) && vf_hub_hash(cp, &hub, &err) != VF_OK)
        rc = vf_cli_fail(&err);
    d.hub = hub;
    if (rc == VF_EXIT_OK && deep && f->data)
        rc = hash_for_report(&d, f, path, &refs, &n, &run, &manifest);
    if (rc == VF_EXIT_OK) {
        vf_buf b = {0};
        vf_jw j = {.b = &b};
        structure_members(&j, path, r);
        if (hub)
            hub_json(&j, hub);
        if (refs)
            data_json(&j, &d, refs, n);
        if (refs && against && (diffs = against_json(&j, run, against, f->against, &err)) == (size_t)-1)
            b.failed = true; /* out of memory: no document */
        vf_jw_obj_end(&j);
        rc = vf_cli_flush_commit(&b, manifest); /* frees manifest */
        manifest = NULL;
        vf_buf_free(&b);
    }
    if (rc == VF_EXIT_OK)
        rc = json_verdict(r, hub, diffs, f->against);
    vf_output_free(manifest);
    vf_manifest_free(run);
    free(refs);
    data_free(&d);
    vf_hub_report_free(hub);
    return rc;
}

static int verify_run(int argc, char **argv)
{
    vf_cmdline line;
    verify_opts f = {0};
    int rc = vf_cli_parse(&vf_verify_command, argc, argv, &line, &f, verify_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    const char *path = line.operand;
    vf_error err = {0};
    vf_manifest *against = NULL;
    if (f.against && vf_manifest_read_file(f.against, NULL, &against, &err) != VF_OK)
        return vf_cli_fail(&err);
    vf_verify_report *r = NULL;
    if (vf_verify_structure(path, &line.open, &r, &err) != VF_OK) {
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
        rc = verify_json(path, &f, r, against);
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

const vf_command vf_verify_command = {
    .name = "verify",
    .summary = "check integrity: per-file verdicts; --data hashes every tensor",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit verify PATH [--data] [--sha256] [--manifest OUT.json] [--against MANIFEST.json]\n"
        "                      [--json] [--quiet] [--revision REV] [--hf-cache DIR]\n\n"
        "Checks a checkpoint's integrity. Without --data: every structural check of the header\n"
        "parser and the index, with one verdict per file (each shard is checked on its own, so\n"
        "one bad shard does not hide the others) and a summary. PATH may be a .vfsnap snapshot\n"
        "(its fingerprints and headers are checked; it holds no tensor data).\n\n",
    .options = verify_table,
    .footer = "\n--quiet: no progress bar and no warnings about the index; --verbose also names the\n"
              "directory PATH resolved to.\n\n"
              "exit codes: 0 sound (and identical to the manifest), 2 usage, 3 I/O error (including a\n"
              "file that changes or shrinks while being read), 4 a file is malformed (the report on\n"
              "stdout gives every file's verdict), 5 differences from the --against manifest or from the\n"
              "Hub's checksums.\n",
    .run = verify_run,
};
