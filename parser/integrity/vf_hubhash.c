/* vf_hubhash.c - the Hugging Face Hub's own checksums, checked offline.
 *
 * In a hub cache (huggingface_hub file_download.py: `blobs/<etag>` with `snapshots/<rev>/<file>`
 * symlinks to them), the etag of an LFS file is the SHA-256 of its content (64 hex digits) and the
 * etag of a file kept in git is its git blob id: SHA-1 of "blob <size>\0" + content (40 hex digits).
 * Both are computed here in one read of each file, with OpenSSL's EVP digests (SHA-NI where the CPU
 * has it; libcrypto loaded on first use, vf_evp.h), files hashed in parallel, largest first. */
#define _DEFAULT_SOURCE /* realpath */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_checkpoint_internal.h"
#include "vf_evp.h"
#include "vramfit/vf_verify.h"

#define HUB_BLOCK (4u << 20)    /* read size */
#define HUB_MAX_FILES 100000u   /* files in one snapshot tree */
#define HUB_MAX_DEPTH 8u        /* sub-directory levels walked below the snapshot */

struct vf_hub_report {
    vf_hub_file *files; /* sorted by name */
    size_t count, cap;
    bool in_cache;
    vf_arena strings;
};

/* ---- hashing one file ------------------------------------------------------------------------- */

typedef struct digests {
    const vf_evp *e;
    EVP_MD_CTX *sha256, *git; /* git: NULL unless the file is a git blob */
} digests;

static int digests_init(digests *d, const vf_evp *e, bool git, uint64_t size)
{
    d->e = e;
    d->sha256 = e->ctx_new();
    d->git = git ? e->ctx_new() : NULL;
    if (!d->sha256 || (git && !d->git) || !e->init(d->sha256, e->sha256(), NULL))
        return VF_ERR_NOMEM;
    if (!git)
        return VF_OK;
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "blob %llu", (unsigned long long)size);
    /* the NUL that ends the git object header is part of what is hashed */
    return e->init(d->git, e->sha1(), NULL) && e->update(d->git, prefix, (size_t)n + 1)
               ? VF_OK
               : VF_ERR_NOMEM;
}

static void digests_free(digests *d)
{
    d->e->ctx_free(d->sha256);
    d->e->ctx_free(d->git);
}

static bool digests_update(digests *d, const void *p, size_t n)
{
    return d->e->update(d->sha256, p, n) && (!d->git || d->e->update(d->git, p, n));
}

static void final_hex(const digests *d, EVP_MD_CTX *ctx, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (d->e->final(ctx, md, &len))
        vf_hex_encode(md, len, out);
}

/* Reads f's file once and fills its digests; the file must keep the size it had when opened. */
static int hash_file(vf_hub_file *f, const char *path, uint8_t *buf, vf_error *err)
{
    int fd;
    uint64_t size;
    int rc = vf_open_regular(path, f->name, &fd, &size, err);
    if (rc != VF_OK)
        return rc;
    f->size = size;
    digests d = {0};
    const vf_evp *e = vf_evp_get(err);
    if (!e) {
        close(fd);
        return VF_ERR_UNSUPPORTED;
    }
    rc = digests_init(&d, e, f->kind == VF_HUB_GIT, size);
    if (rc != VF_OK)
        rc = vf_error_set(err, rc, f->name, NULL, "out of memory");
    uint64_t off = 0;
    while (rc == VF_OK) {
        size_t got;
        rc = vf_read_at(fd, buf, HUB_BLOCK, off, &got, f->name, err);
        if (rc != VF_OK || got == 0)
            break;
        if (got > size - off)
            rc = vf_error_set(err, VF_ERR_IO, f->name, NULL, "file grew while being read");
        else if (!digests_update(&d, buf, got))
            rc = vf_error_set(err, VF_ERR_NOMEM, f->name, NULL, "digest update failed");
        off += got;
    }
    if (rc == VF_OK && off != size)
        rc = vf_error_set(err, VF_ERR_IO, f->name, NULL, "file shrank while being read (%llu of %llu bytes)",
                          (unsigned long long)off, (unsigned long long)size);
    close(fd);
    if (rc == VF_OK) {
        final_hex(&d, d.sha256, f->sha256);
        if (d.git)
            final_hex(&d, d.git, f->git_sha1);
        const char *actual = f->kind == VF_HUB_GIT ? f->git_sha1 : f->sha256;
        f->match = f->kind != VF_HUB_UNNAMED && strcmp(actual, f->expected) == 0;
    }
    digests_free(&d);
    return rc;
}

/* ---- the files of a snapshot ------------------------------------------------------------------ */

typedef struct walk {
    vf_hub_report *r;
    const char *root;   /* the snapshot directory as given */
    char *blobs;        /* realpath of <repo>/blobs, NULL outside a cache */
    vf_error *err;
} walk;

/* Adds file `rel` (opened as `path`, `size` bytes by stat: the largest-first order). */
static int add_file(walk *w, const char *rel, const char *path, uint64_t size)
{
    vf_hub_report *r = w->r;
    if (r->count == HUB_MAX_FILES)
        return vf_error_set(w->err, VF_ERR_UNSUPPORTED, w->root, NULL, "more than %u files", HUB_MAX_FILES);
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        vf_hub_file *v = realloc(r->files, cap * sizeof *v);
        if (!v)
            return vf_error_set(w->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        r->files = v;
        r->cap = cap;
    }
    vf_hub_file *f = &r->files[r->count];
    *f = (vf_hub_file){.kind = VF_HUB_UNNAMED, .size = size};
    if (!(f->name = vf_arena_strdup(&r->strings, rel)) || !(f->path = vf_arena_strdup(&r->strings, path)))
        return vf_error_set(w->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    r->count++;
    if (!w->blobs)
        return VF_OK;
    /* In a cache every file must be a link into this repository's blobs/: its name is the etag. */
    char *real = realpath(path, NULL);
    size_t nb = strlen(w->blobs);
    if (!real || strncmp(real, w->blobs, nb) != 0 || real[nb] != '/') {
        free(real);
        return vf_error_set(w->err, VF_ERR_UNSAFE_PATH, rel, NULL,
                            "not a link into the cache's blobs directory; the cache entry is damaged");
    }
    const char *etag = real + nb + 1;
    size_t n = vf_lower_hex_len(etag);
    if (n == 40 || n == 64) {
        memcpy(f->expected, etag, n + 1);
        f->kind = n == 64 ? VF_HUB_LFS : VF_HUB_GIT;
    }
    free(real);
    return VF_OK;
}

static int walk_dir(walk *w, const char *dir, const char *rel, unsigned depth);

/* One directory entry: a regular file (or a link to one) is added, a directory walked. */
static int walk_entry(walk *w, const char *dir, const char *rel, const char *name, unsigned depth)
{
    char *path = vf_path_join(dir, name);
    char *sub = rel[0] ? vf_path_join(rel, name) : strdup(name);
    int rc = path && sub ? VF_OK : vf_error_set(w->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    struct stat st;
    if (rc == VF_OK && stat(path, &st) != 0)
        rc = vf_error_set(w->err, errno == ENOENT ? VF_ERR_NOT_FOUND : VF_ERR_IO, sub, NULL,
                          errno == ENOENT ? "dangling link: the download is incomplete" : "%s", strerror(errno));
    if (rc == VF_OK && S_ISDIR(st.st_mode))
        rc = depth < HUB_MAX_DEPTH ? walk_dir(w, path, sub, depth + 1)
                                   : vf_error_set(w->err, VF_ERR_UNSUPPORTED, sub, NULL, "directories nested too deep");
    else if (rc == VF_OK && S_ISREG(st.st_mode))
        rc = add_file(w, sub, path, (uint64_t)st.st_size);
    else if (rc == VF_OK)
        rc = vf_error_set(w->err, VF_ERR_IO, sub, NULL, "not a regular file");
    free(path);
    free(sub);
    return rc;
}

static int walk_dir(walk *w, const char *dir, const char *rel, unsigned depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return vf_error_set(w->err, VF_ERR_IO, rel[0] ? rel : dir, NULL, "cannot list: %s", strerror(errno));
    int rc = VF_OK;
    for (struct dirent *e; rc == VF_OK && (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = walk_entry(w, dir, rel, e->d_name, depth);
    closedir(d);
    return rc;
}

/* realpath of <repo>/blobs when dir is <repo>/snapshots/<rev> of a hub cache, else NULL. */
static char *cache_blobs(const char *dir)
{
    char *real = realpath(dir, NULL);
    char *slash = real ? strrchr(real, '/') : NULL;
    if (!slash || slash == real)
        return free(real), NULL;
    *slash = '\0'; /* .../snapshots */
    char *parent = strrchr(real, '/');
    if (!parent || strcmp(parent + 1, "snapshots") != 0)
        return free(real), NULL;
    *parent = '\0'; /* the repository folder: models--ORG--NAME (or datasets--, spaces--) */
    const char *repo = strrchr(real, '/');
    repo = repo ? repo + 1 : real;
    char *blobs = NULL;
    if (strncmp(repo, "models--", 8) == 0 || strncmp(repo, "datasets--", 10) == 0 ||
        strncmp(repo, "spaces--", 8) == 0) {
        char *b = vf_path_join(real, "blobs");
        blobs = b ? realpath(b, NULL) : NULL;
        free(b);
    }
    free(real);
    return blobs;
}

/* ---- parallel hashing ------------------------------------------------------------------------- */

typedef struct hash_all_ctx {
    vf_hub_report *r;
    uint8_t *buf[VF_PARALLEL_MAX]; /* one read block per worker, NULL when it could not be had */
} hash_all_ctx;

static uint64_t file_size_of(void *ctx, size_t i) { return ((hash_all_ctx *)ctx)->r->files[i].size; }

static void hash_one(void *ctx, size_t worker, size_t i)
{
    hash_all_ctx *c = ctx;
    vf_hub_file *f = &c->r->files[i];
    f->status = c->buf[worker] ? hash_file(f, f->path, c->buf[worker], &f->error)
                               : vf_error_set(&f->error, VF_ERR_NOMEM, f->name, NULL, "out of memory");
}

static int cmp_file_name(const void *a, const void *b)
{
    return strcmp(((const vf_hub_file *)a)->name, ((const vf_hub_file *)b)->name);
}

/* Hashes every file, one worker per CPU taking the largest file left. Read errors stay with their
 * file. */
static int hash_all(vf_hub_report *r, vf_error *err)
{
    size_t k = vf_parallel_ranges(r->count, 1);
    hash_all_ctx c = {r, {0}};
    for (size_t i = 0; i < k; i++) /* page-aligned: the copy out of the page cache is 3.6x slower
                                    * into a malloc'd block (vf_verify.c) */
        c.buf[i] = aligned_alloc(4096, HUB_BLOCK);
    int rc = vf_run_largest_first(r->count, k, file_size_of, hash_one, &c);
    for (size_t i = 0; i < k; i++)
        free(c.buf[i]);
    return rc == VF_OK ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
}

/* ---- public ----------------------------------------------------------------------------------- */

static int add_named(walk *w, const char *name)
{
    char *path = vf_path_join(w->root, name);
    struct stat st;
    uint64_t size = path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0; /* errors: when hashed */
    int rc = path ? add_file(w, name, path, size) : vf_error_set(w->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    free(path);
    return rc;
}

/* Adds the checkpoint's own files (shards, then the auxiliary files it read) outside a cache. */
static int add_checkpoint_files(walk *w, const vf_checkpoint *cp)
{
    int rc = VF_OK;
    size_t len;
    for (size_t i = 0; rc == VF_OK && i < vf_checkpoint_shard_count(cp); i++)
        rc = add_named(w, vf_checkpoint_shard(cp, i)->name);
    for (const char *const *a = vf_aux_names; rc == VF_OK && *a; a++)
        if (vf_checkpoint_aux(cp, *a, &len))
            rc = add_named(w, *a);
    return rc;
}

int vf_hub_hash(const vf_checkpoint *cp, vf_hub_report **out, vf_error *err)
{
    *out = NULL;
    vf_hub_report *r = calloc(1, sizeof *r);
    if (!r || vf_arena_init(&r->strings, 4096) != VF_OK) {
        free(r);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    const char *dir = vf_checkpoint_dir(cp);
    walk w = {r, dir, cache_blobs(dir), err};
    r->in_cache = w.blobs != NULL;
    int rc = w.blobs ? walk_dir(&w, dir, "", 0) : add_checkpoint_files(&w, cp);
    free(w.blobs);
    if (rc == VF_OK) {
        qsort(r->files, r->count, sizeof *r->files, cmp_file_name);
        rc = hash_all(r, err);
    }
    if (rc != VF_OK) {
        vf_hub_report_free(r);
        return rc;
    }
    *out = r;
    return VF_OK;
}

void vf_hub_report_free(vf_hub_report *r)
{
    if (!r)
        return;
    free(r->files);
    vf_arena_free(&r->strings);
    free(r);
}

bool vf_hub_is_cache_snapshot(const vf_checkpoint *cp)
{
    char *blobs = cache_blobs(vf_checkpoint_dir(cp));
    free(blobs);
    return blobs != NULL;
}

bool vf_hub_in_cache(const vf_hub_report *r)
{
    return r->in_cache;
}

size_t vf_hub_file_count(const vf_hub_report *r)
{
    return r->count;
}

const vf_hub_file *vf_hub_file_at(const vf_hub_report *r, size_t i)
{
    return i < r->count ? &r->files[i] : NULL;
}

const vf_hub_file *vf_hub_find(const vf_hub_report *r, const char *name)
{
    long i = r ? vf_find_sorted_name(r->files, r->count, sizeof *r->files, offsetof(vf_hub_file, name), name)
               : -1;
    return i < 0 ? NULL : &r->files[i];
}
