/* vf_internal.h - helpers private to the parser layer (and the layers above it, which may include
 * this header through their own private headers; the CLI may not). */
#ifndef VRAMFIT_VF_INTERNAL_H
#define VRAMFIT_VF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vramfit/vf_error.h"
#include "vramfit/vf_parser.h"

/* Bump allocator for strings: chunks are never moved, so returned pointers stay valid until
 * vf_arena_free. */
typedef struct vf_arena_chunk vf_arena_chunk;
typedef struct vf_arena {
    vf_arena_chunk *head;
    size_t chunk_size;
} vf_arena;

int vf_arena_init(vf_arena *a, size_t chunk_size);
char *vf_arena_strdup(vf_arena *a, const char *s);      /* NULL on allocation failure */
char *vf_arena_strndup(vf_arena *a, const char *s, size_t n);
void *vf_arena_alloc(vf_arena *a, size_t n);             /* 8-byte aligned, zeroed */
void *vf_arena_alloc_raw(vf_arena *a, size_t n);         /* 8-byte aligned, not zeroed */
void vf_arena_free(vf_arena *a);

/* Sorts idx[0..n) so that the char* found at byte `name_off` of element idx[i] of `base` (elements
 * of `elem_size` bytes) ascends by strcmp. Stable merge sort, reentrant. */
void vf_sort_u32_by_name(uint32_t *idx, size_t n, const void *base, size_t elem_size, size_t name_off);

/* malloc(n) (freed with free()), for large buffers that are written in full soon: one spanning
 * whole 2 MiB pages is aligned to them and those pages (and a nearly full last one, wasting at most
 * 1/8 of it) are marked for transparent huge pages, so filling it takes one page fault per 2 MiB
 * instead of one per 4 KiB. Where THP is off or unavailable the madvise fails harmlessly. */
void *vf_alloc_large(size_t n);

/* Data-parallel loops over [0, n). VF_PARALLEL_MAX bounds the threads. vf_parallel_ranges gives the
 * number of ranges k worth running: one per online CPU, at most VF_PARALLEL_MAX, none smaller than
 * min_per_range items, at least 1. vf_parallel_run calls run(&args[i]) for i < k (args: k elements of
 * arg_size bytes), range 0 on this thread; a range whose thread cannot start runs here too. */
#define VF_PARALLEL_MAX 8
size_t vf_parallel_ranges(size_t n, size_t min_per_range);
void vf_parallel_run(void *(*run)(void *), void *args, size_t arg_size, size_t k);

/* True when s ends with suffix. */
bool vf_has_suffix(const char *s, const char *suffix);
/* malloc'd "a/b"; NULL when out of memory. */
char *vf_path_join(const char *a, const char *b);

/* Binary search of `name` in base[0..n), elements of `size` bytes sorted by the char* at byte
 * name_off (strcmp order); the index or -1. */
long vf_find_sorted_name(const void *base, size_t n, size_t size, size_t name_off, const char *name);

/* The one way the library opens a file it reads: open(O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC), so a
 * FIFO, a device or a terminal never blocks; fstat() the descriptor and refuse anything that is not a
 * regular file ("is a FIFO, not a regular file"); then clear O_NONBLOCK. fd and the fstat() out.
 * Errors name `display`: VF_ERR_NOT_FOUND for a missing file or dangling symlink, VF_ERR_IO
 * otherwise (symlink loop, permission, not a regular file). */
struct stat;
int vf_open_input(const char *path, const char *display, int *fd, struct stat *st, vf_error *err);
/* vf_open_input with the size only. */
int vf_open_regular(const char *path, const char *display, int *fd, uint64_t *size, vf_error *err);
/* Same device and inode: the same file, whatever the names. */
bool vf_same_file(const struct stat *a, const struct stat *b);
/* The name of the file of cp (shard, auxiliary file, or the snapshot it was read from) that st
 * describes, or NULL when st is none of them. */
const char *vf_checkpoint_file_like(const vf_checkpoint *cp, const struct stat *st);
/* "a FIFO", "a socket", "a character device", "a directory", ... for an st_mode. */
const char *vf_file_kind(unsigned mode);
/* pread loop: reads up to len bytes at off; *got < len only at end of file. */
int vf_read_at(int fd, void *buf, size_t len, uint64_t off, size_t *got, const char *display,
               vf_error *err);
/* The i-th tensor of h in name order, or NULL when i >= its count. */
const vf_st_tensor *vf_st_header_by_name(const vf_st_header *h, size_t i);
/* Reads the headers of the n files DIR/names[i] (named names[i] in errors) on up to one thread per
 * CPU. On success out[i] holds file i's header. On failure every out[i] is NULL and err holds the
 * error of the lowest-index file that failed: the error a sequential loop would report. */
int vf_st_read_files(const char *dir, const char *const *names, size_t n, vf_st_header **out,
                     vf_error *err);
/* Like vf_st_read_files, but in the background and every file is read whatever the others do: rc[i]
 * is file i's status and out[i] its header when rc[i] == VF_OK (NULL otherwise); the errors
 * themselves are not kept. Workers (one per CPU) start at once; vf_st_batch_finish has
 * the calling thread read what is left, waits for the workers and frees the batch. NULL when out of
 * memory (nothing started). */
typedef struct vf_st_batch vf_st_batch;
vf_st_batch *vf_st_batch_start(const char *dir, const char *const *names, size_t n, vf_st_header **out,
                               int *rc);
void vf_st_batch_finish(vf_st_batch *b);
/* Reads a whole small file (at most max bytes, else VF_ERR_UNSUPPORTED); caller frees *data. */
int vf_read_small_file(const char *path, const char *display, size_t max, uint8_t **data, size_t *len,
                       vf_error *err);

/* A cJSON number that is an exact non-negative integer <= 2^53 (argument: const cJSON *). */
bool vf_cjson_u64(const void *cjson_item, uint64_t *out);

/* The length of s when it is 1..64 lower-case hex digits (a digest), else 0. */
size_t vf_lower_hex_len(const char *s);

/* True when `name` is a plain file name: non-empty, no '/', no '\\', not "." or "..", no NUL. */
bool vf_safe_file_name(const char *name);

/* ---- bitsandbytes' packed 4-bit quant state (vf_bnb_state.c) ----------------------------------- */

#define VF_BNB_MAX_DIMS 4
typedef struct vf_bnb_state {
    char quant_type[4];      /* "nf4" or "fp4" */
    uint64_t blocksize;      /* values per absmax */
    uint64_t shape[VF_BNB_MAX_DIMS]; /* the logical weight shape */
    uint32_t ndim;           /* 1..VF_BNB_MAX_DIMS */
    bool nested;             /* double quantization: nested_* keys present */
    uint64_t nested_blocksize;
} vf_bnb_state;
/* Parses the len bytes of a quant_state tensor (`tensor` of shard `file`, both named in errors):
 * strict JSON with exactly bitsandbytes' keys. Errors: VF_ERR_QUANT. */
int vf_bnb_state_parse(const uint8_t *data, size_t len, const char *file, const char *tensor,
                       vf_bnb_state *out, vf_error *err);

/* ---- Hugging Face cache (vf_hfcache.c) ---------------------------------------------------------- */
/* os.path.expandvars + expanduser of s; malloc'd, NULL when out of memory or over 4096 bytes. */
char *vf_hf_expand_path(const char *s);
/* After a failure rc opening loc's snapshot: when the cache shows an interrupted download (a blob
 * still .incomplete, or a file missing), appends the command that completes it to err's message.
 * Returns rc. */
int vf_hf_download_hint(const vf_hf_location *loc, int rc, vf_error *err);

/* ---- snapshots (vf_snapshot.c): vf_checkpoint_open routes PATH to vf_snapshot_read_file when
 * vf_snapshot_sniff(PATH) says it is a .vfsnap file ----------------------------------------------- */
#include "vramfit/vf_snapshot.h"

/* ---- checkpoint builder: used by the directory loader and the snapshot reader ------------------ */

#define VF_AUX_MAX_BYTES (16u * 1024u * 1024u)
extern const char *const vf_aux_names[]; /* NULL-terminated list of auxiliary JSON files kept */

vf_checkpoint *vf_cp_new(const char *dir);
/* Takes ownership of h (also on failure). */
int vf_cp_add_shard(vf_checkpoint *cp, const char *name, vf_st_header *h, vf_error *err);
/* Copies the bytes of an auxiliary file. */
int vf_cp_set_aux(vf_checkpoint *cp, const char *name, const uint8_t *data, size_t len, vf_error *err);
/* Names the checkpoint ID@REVISION from the Hugging Face cache (VF_OK or VF_ERR_NOMEM). */
int vf_cp_set_source(vf_checkpoint *cp, const char *repo_id, const char *revision);
/* Names a checkpoint read from a snapshot by the origin it stores: "ID@REVISION", else a base name
 * (older snapshots stored a path: its last component). VF_OK or VF_ERR_NOMEM. */
int vf_cp_set_origin(vf_checkpoint *cp, const char *origin);
/* Cross-checks shards against the index aux (when present) or for duplicates, sorts shards. */
int vf_cp_finish(vf_checkpoint *cp, vf_error *err);
/* The checkpoint's small tensor data (never NULL for a checkpoint made by vf_cp_new). */
typedef struct vf_data_store vf_data_store;
vf_data_store *vf_cp_data(const vf_checkpoint *cp);

/* ---- small tensor data (vf_tensor_data.c) ------------------------------------------------------
 * Entries are keyed by (shard index after vf_cp_finish, tensor index in that header). */
vf_data_store *vf_data_store_new(void);
void vf_data_store_free(vf_data_store *s); /* NULL is a no-op */
size_t vf_data_store_count(const vf_data_store *s);
/* Copies len bytes as the data of (shard, tensor). */
int vf_data_store_add(vf_data_store *s, uint32_t shard, uint32_t tensor, const uint8_t *data,
                      size_t len, vf_error *err);
/* Sorts the entries by key; false when a key is there twice. */
bool vf_data_store_sort(vf_data_store *s);
/* Entry i in key order; false when i is out of range. */
bool vf_data_store_get(const vf_data_store *s, size_t i, uint32_t *shard, uint32_t *tensor,
                       const uint8_t **data, size_t *len);
/* Reads, from the files DIR/shards[i].name, the data of every tensor vf_tensor_data_wanted names
 * and that holds at most VF_TENSOR_DATA_MAX bytes: one bounded pread each, the file re-checked to
 * be regular and of the size its header was read at. */
int vf_data_store_read(vf_data_store *s, const char *dir, const vf_shard *shards, size_t n,
                       vf_error *err);

/* Parsed model.safetensors.index.json. */
typedef struct vf_index_entry {
    const char *tensor;
    uint32_t shard; /* into shards[] */
} vf_index_entry;
typedef struct vf_index {
    vf_arena strings;
    vf_index_entry *entries; /* sorted by tensor name */
    size_t count;
    const char **shards;     /* unique shard names, sorted */
    size_t shard_count;
    bool has_total;
    uint64_t total_size;
} vf_index;
int vf_index_parse(const uint8_t *json, size_t len, const char *file, vf_index *out, vf_error *err);
void vf_index_free(vf_index *ix);
/* Entry index for a tensor name or -1. */
long vf_index_find(const vf_index *ix, const char *tensor);

#endif
