/* vf_verify.h - integrity checks of a checkpoint: structural verdicts per file, XXH3-128 digests of
 * every tensor's bytes and of every shard file, and JSON manifests to compare a copy against.
 *
 * Layer 1 of vramfit (built on vf_parser.h). Unlike the rest of the parser layer, vf_hash_shard
 * reads tensor data: once, sequentially, in large blocks. Digests are XXH3-128 in canonical
 * (big-endian) byte order, so a shard's file digest equals what `xxh128sum FILE` prints.
 *
 * MANIFEST (vf_manifest_write writes it, vf_manifest_parse reads it back as untrusted input):
 *   {"format": "vramfit-manifest", "version": 1, "hash": "xxh3-128",
 *    "model": "ORG/NAME@REVISION" or the directory's base name (vf_checkpoint_name; optional),
 *    "repo_id": "ORG/NAME", "revision": "..." (optional: a checkpoint from the Hugging Face cache),
 *    "shards":  [{"name": "model.safetensors", "size": 215792,
 *                 "header_xxh3_128": "<32 hex>", "xxh3_128": "<32 hex>",
 *                 "sha256": "<64 hex>" (optional: written when the files' SHA-256 was read)}, ...],
 *    "tensors": [{"name": "...", "file": "model.safetensors", "dtype": "BF16", "shape": [256, 64],
 *                 "bytes": 32768, "xxh3_128": "<32 hex>",
 *                 "all_zero": false, "nonfinite": 0 (both optional; nonfinite for float dtypes)}, ...]}
 * A manifest never holds a path of the machine that made it; older manifests carried "path" and
 * still read (vf_manifest_source gives its last component). Unknown members are ignored; every
 * listed member is required with that type; names are unique. The JSON rules (UTF-8, syntax,
 * integers, duplicate keys) are the library's one reader's. */
#ifndef VRAMFIT_VF_VERIFY_H
#define VRAMFIT_VF_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_error.h"
#include "vf_parser.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- digests ----------------------------------------------------------------------------------- */

typedef struct vf_digest {
    uint8_t b[16]; /* XXH3-128, canonical big-endian */
} vf_digest;

#define VF_DIGEST_HEX 33 /* 32 hex digits and NUL */

void vf_digest_of(const void *data, size_t len, vf_digest *out);
/* Lower-case hex into out (VF_DIGEST_HEX bytes); returns out. */
const char *vf_digest_hex(const vf_digest *d, char *out);
/* Exactly 32 hex digits (either case); false otherwise. */
bool vf_digest_from_hex(const char *hex, vf_digest *out);
bool vf_digest_equal(const vf_digest *a, const vf_digest *b);

/* ---- structural verification: one verdict per file --------------------------------------------- */

typedef enum vf_verify_kind {
    VF_VERIFY_SHARD,      /* one .safetensors file */
    VF_VERIFY_INDEX,      /* model.safetensors.index.json */
    VF_VERIFY_CHECKPOINT, /* cross-file checks (index vs shards, duplicates), or PATH itself */
    VF_VERIFY_SNAPSHOT    /* a .vfsnap bundle */
} vf_verify_kind;

typedef struct vf_verify_item {
    vf_verify_kind kind;
    const char *name;  /* file name (shards, index) or the path (checkpoint, snapshot) */
    int status;        /* VF_OK or the negative vf_status of the failure */
    vf_error error;    /* the failure when status != VF_OK */
    uint64_t size;     /* shards: file size in bytes when known */
    size_t tensors;    /* shards: tensors in the header; index: entries listed */
} vf_verify_item;

typedef struct vf_verify_report vf_verify_report;

/* Checks PATH (as vf_checkpoint_open accepts it, .vfsnap included) and gives one verdict per file.
 * When the checkpoint does not open as a whole and PATH is local, every shard is checked on its own
 * (vf_st_read_file), so one bad shard does not hide the state of the others. Returns VF_OK with a
 * report whether or not the checkpoint is sound; fails only when PATH cannot be examined at all
 * (missing, an unresolvable model id, out of memory), with err filled. */
int vf_verify_structure(const char *path, const vf_open_options *opts, vf_verify_report **out,
                        vf_error *err);
void vf_verify_report_free(vf_verify_report *r); /* NULL is a no-op */

size_t vf_verify_item_count(const vf_verify_report *r);
const vf_verify_item *vf_verify_item_at(const vf_verify_report *r, size_t i);
bool vf_verify_sound(const vf_verify_report *r);
/* The first failure (code VF_OK when sound). */
const vf_error *vf_verify_first_error(const vf_verify_report *r);
/* The opened checkpoint when sound, else NULL; owned by the report. */
const vf_checkpoint *vf_verify_checkpoint(const vf_verify_report *r);
/* True when PATH was a snapshot: there is no tensor data to read. */
bool vf_verify_is_snapshot(const vf_verify_report *r);

/* ---- data hashing ------------------------------------------------------------------------------ */

/* Called after every block read with the number of bytes just read; by vf_hash_shards from its
 * worker threads, one call at a time. */
typedef void (*vf_progress_fn)(void *user, uint64_t bytes);

#define VF_HASH_OPTIONS_VERSION 1u
/* 256 KiB (page-aligned): the block stays in the core's cache while the file hash, the tensor hash
 * and the scans read it (BENCHMARKS.md); the kernel's read-ahead, widened by POSIX_FADV_SEQUENTIAL,
 * still reads storage in large requests. */
#define VF_HASH_DEFAULT_BLOCK (256u << 10)
typedef struct vf_hash_options {
    unsigned version;      /* VF_HASH_OPTIONS_VERSION */
    size_t block_size;     /* read size; 0 = VF_HASH_DEFAULT_BLOCK; at least 4096 */
    vf_progress_fn progress; /* may be NULL */
    void *user;
} vf_hash_options;
#define VF_HASH_OPTIONS_INIT {VF_HASH_OPTIONS_VERSION, 0, NULL, NULL}

typedef struct vf_tensor_hash {
    vf_digest digest;   /* XXH3-128 of the tensor's bytes */
    bool all_zero;      /* nbytes > 0 and every byte is zero */
    bool float_checked; /* dtype is F16, BF16, F32 or F64: nonfinite was counted */
    uint64_t nonfinite; /* elements that are NaN or +-Inf */
} vf_tensor_hash;

/* Reads the whole file at `path`, whose header `h` was parsed from that file, once and in order:
 * *file_digest gets the XXH3-128 of every byte of the file, tensors[i] (vf_st_header_count(h)
 * entries, in the header's data-offset order) the digest and checks of tensor i. Fails with
 * VF_ERR_IO when the file's size or header bytes differ from `h` (it changed since), when it shrinks
 * while being read, or on a read error. `display` names the file in errors (NULL: path). o may be
 * NULL. */
int vf_hash_shard(const char *path, const char *display, const vf_st_header *h,
                  const vf_hash_options *o, vf_digest *file_digest, vf_tensor_hash *tensors,
                  vf_error *err);

/* One shard for vf_hash_shards: the inputs of vf_hash_shard, and its results. */
typedef struct vf_hash_job {
    const char *path, *display;  /* display may be NULL (path) */
    const vf_st_header *header;
    vf_tensor_hash *tensors;     /* vf_st_header_count(header) entries, filled */
    vf_digest digest;            /* out: XXH3-128 of the whole file */
    int status;                  /* out: VF_OK or the failure in `error` */
    vf_error error;
} vf_hash_job;

/* vf_hash_shard for every job, in parallel: one thread per CPU each hashing whole shards (largest
 * first) when there are at least as many shards as CPUs, else a reader and a hasher thread per
 * shard. Every shard is read to its end or its failure; returns VF_OK, or the status of the
 * lowest-index job that failed. */
int vf_hash_shards(vf_hash_job *jobs, size_t n, const vf_hash_options *o);

/* ---- manifests --------------------------------------------------------------------------------- */

typedef struct vf_manifest_shard {
    const char *name;
    uint64_t size;
    vf_digest header_digest; /* XXH3-128 of the header bytes (without the 8-byte prefix) */
    vf_digest digest;        /* XXH3-128 of the whole file */
    char sha256[65];         /* optional member "sha256": 64 lower-case hex digits; "" when absent */
} vf_manifest_shard;

typedef struct vf_manifest_tensor {
    const char *name;
    const char *file;
    vf_dtype dtype;
    uint32_t ndim;
    const uint64_t *shape;
    uint64_t bytes;
    vf_digest digest;
    bool all_zero;      /* "all_zero" (false when absent) */
    bool float_checked; /* "nonfinite" present */
    uint64_t nonfinite;
} vf_manifest_tensor;

typedef struct vf_manifest vf_manifest;

#define VF_MANIFEST_MAX_BYTES (256u << 20)

/* Parses a manifest (untrusted bytes). Errors name `display` and the member concerned:
 * VF_ERR_JSON for invalid JSON; VF_ERR_CONFIG for a wrong structure, a missing or mistyped member,
 * a bad digest, dtype or shape, a unsafe or duplicate name; VF_ERR_UNSUPPORTED for another format
 * or version. */
int vf_manifest_parse(const uint8_t *json, size_t len, const char *display, vf_manifest **out,
                      vf_error *err);
/* Reads a manifest file (at most VF_MANIFEST_MAX_BYTES) and parses it. */
int vf_manifest_read_file(const char *path, const char *display, vf_manifest **out, vf_error *err);
void vf_manifest_free(vf_manifest *m); /* NULL is a no-op */

size_t vf_manifest_shard_count(const vf_manifest *m);
const vf_manifest_shard *vf_manifest_shard_at(const vf_manifest *m, size_t i); /* sorted by name */
size_t vf_manifest_tensor_count(const vf_manifest *m);
const vf_manifest_tensor *vf_manifest_tensor_at(const vf_manifest *m, size_t i); /* by name */
/* Index of the shard / tensor with that name, or -1. */
long vf_manifest_find_shard(const vf_manifest *m, const char *name);
long vf_manifest_find_tensor(const vf_manifest *m, const char *name);
/* What the manifest was made from: "ORG/NAME@REVISION" or a directory's base name; NULL when it
 * names nothing. */
const char *vf_manifest_source(const vf_manifest *m);

/* One shard's digests from a --data run, as vf_hash_shard gives them. */
typedef struct vf_shard_hashes {
    vf_digest file;          /* XXH3-128 of the whole file */
    vf_tensor_hash *tensors; /* vf_st_header_count entries, in the header's data-offset order */
} vf_shard_hashes;

typedef struct vf_hub_report vf_hub_report;

/* The manifest of an opened checkpoint (not a snapshot) from a --data run: hashes[i] for shard i
 * of cp; hub (may be NULL) gives each file's SHA-256. The manifest names cp by
 * vf_checkpoint_name(cp), copies what it needs (cp may be freed after) and lists tensors by name. */
int vf_manifest_build(const vf_checkpoint *cp, const vf_shard_hashes *hashes, const vf_hub_report *hub,
                      vf_manifest **out, vf_error *err);
/* m as one compact JSON document (the format above): *json malloc'd, NUL-terminated, *len bytes;
 * free() it. */
int vf_manifest_write(const vf_manifest *m, char **json, size_t *len, vf_error *err);

/* How a copy differs from the manifest it is checked against. */
typedef enum vf_manifest_change {
    VF_MANIFEST_EXTRA,   /* in the actual manifest only */
    VF_MANIFEST_MISSING, /* in the expected manifest only */
    VF_MANIFEST_DIFFERS
} vf_manifest_change;
/* vf_manifest_diff.fields. A file differs by one reason, the most telling: its size, else its
 * SHA-256 (when both sides have one), else its XXH3-128 (HEADER added when the header's digest
 * differs too). A tensor lists every field that differs. */
#define VF_MANIFEST_SIZE 0x01u
#define VF_MANIFEST_SHA256 0x02u
#define VF_MANIFEST_XXH3 0x04u
#define VF_MANIFEST_HEADER 0x08u
#define VF_MANIFEST_DTYPE 0x10u
#define VF_MANIFEST_SHAPE 0x20u
#define VF_MANIFEST_FILE 0x40u
#define VF_MANIFEST_BYTES 0x80u
typedef struct vf_manifest_diff {
    vf_manifest_change change;
    bool tensor;     /* a tensor; else a file (shard) */
    unsigned fields; /* DIFFERS: VF_MANIFEST_* */
    union {
        const vf_manifest_shard *shard;
        const vf_manifest_tensor *tensor;
    } actual, expected; /* into the two manifests; actual NULL for MISSING, expected NULL for EXTRA */
} vf_manifest_diff;
/* Every difference between `actual` (vf_manifest_build of the copy) and `expected` (the manifest
 * read back): files first, then tensors, each in name order of `actual` with the missing ones after.
 * *diffs (free()) holds *count entries pointing into both manifests. */
int vf_manifest_compare(const vf_manifest *actual, const vf_manifest *expected, vf_manifest_diff **diffs,
                        size_t *count, vf_error *err);

/* ---- the Hub's own checksums ------------------------------------------------------------------ */

typedef enum vf_hub_kind {
    VF_HUB_LFS,     /* cache blob named by its SHA-256 (files the Hub stores with LFS) */
    VF_HUB_GIT,     /* cache blob named by its git blob id: SHA-1 of "blob <size>\0" + content */
    VF_HUB_UNNAMED  /* not a cache blob (a plain directory): the SHA-256 is reported, not checked */
} vf_hub_kind;

#define VF_HUB_HEX 65 /* up to 64 hex digits and NUL */

typedef struct vf_hub_file {
    const char *name;            /* path relative to the checkpoint directory */
    const char *path;            /* path as opened */
    vf_hub_kind kind;
    char expected[VF_HUB_HEX];   /* the blob's name (LFS, GIT), "" otherwise */
    char sha256[VF_HUB_HEX];     /* SHA-256 of the content */
    char git_sha1[VF_HUB_HEX];   /* git blob id of the content (GIT only) */
    uint64_t size;
    int status;                  /* VF_OK, or the read failure in `error` */
    vf_error error;
    bool match;                  /* status VF_OK and the content's digest equals `expected` */
} vf_hub_file;

/* Hashes the files of an opened checkpoint (not a snapshot: its directory is a label) in one read
 * each, in parallel across files. Inside a Hugging Face cache (the checkpoint directory is
 * <cache>/models--ORG--NAME/snapshots/REV) every file of the snapshot tree is hashed and checked
 * against the blob it links to; a file that is not a link into that repository's blobs/ fails the
 * call with VF_ERR_UNSAFE_PATH, a dangling link (interrupted download) with VF_ERR_NOT_FOUND.
 * Elsewhere the checkpoint's own files (shards, index, config files) are hashed and their SHA-256
 * reported. Read errors stay with their file (status); the call fails only when the set of files
 * cannot be established or on out of memory. */
int vf_hub_hash(const vf_checkpoint *cp, vf_hub_report **out, vf_error *err);
void vf_hub_report_free(vf_hub_report *r); /* NULL is a no-op */
/* True when the checkpoint's directory is a snapshot of a Hugging Face cache repository. */
bool vf_hub_is_cache_snapshot(const vf_checkpoint *cp);
bool vf_hub_in_cache(const vf_hub_report *r);
size_t vf_hub_file_count(const vf_hub_report *r);
const vf_hub_file *vf_hub_file_at(const vf_hub_report *r, size_t i); /* sorted by name */
/* The file named `name` (relative to the checkpoint directory), or NULL; r may be NULL. */
const vf_hub_file *vf_hub_find(const vf_hub_report *r, const char *name);

#ifdef __cplusplus
}
#endif
#endif
