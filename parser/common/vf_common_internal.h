/* vf_common_internal.h - the parser's common layer (parser/common): arena, sorting, threads, large
 * buffers, paths and the one way to open an input. Private to the library: the layers above
 * (format, checkpoint, integrity, tensors, estimator) link vf_common and include this; the CLI may not. */
#ifndef VRAMFIT_VF_COMMON_INTERNAL_H
#define VRAMFIT_VF_COMMON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vramfit/vf_error.h"
#include "vramfit/vf_parser.h"

/* Bump allocator: chunks are never moved, so returned pointers stay valid until vf_arena_free.
 * chunk_size is the size of each allocation (header included; a larger one when a request needs
 * it); chunks of VF_ARENA_HUGE bytes or more come from vf_alloc_large (transparent huge pages). */
#define VF_ARENA_HUGE ((size_t)2 << 20)
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

/* The one large-buffer allocator: malloc(n) (freed with free()) for large buffers that are written
 * in full soon (the tensor table, the index and its entry tables). One of a quarter of a 2 MiB page
 * or more is aligned to 2 MiB pages and those are marked for transparent huge pages, its last part
 * of a quarter page or more (all of it below 2 MiB) taken as a whole page (wasting at most
 * 1.5 MiB): filling it takes one page fault per 2 MiB instead of one per 4 KiB (BENCHMARKS.md,
 * third and fifth rounds); on the benchmark machine a 4 KiB fault costs ~2.3 us and a 2 MiB one
 * 0.2-0.5 ms, so 128 small faults cost about one huge one. Where THP is off or unavailable the
 * madvise fails harmlessly. */
void *vf_alloc_large(size_t n);

/* Data-parallel loops over [0, n) (parser/common/vf_jobs.c). VF_PARALLEL_MAX bounds the threads.
 * vf_parallel_ranges gives the number of ranges k worth running: one per CPU of this process's
 * affinity mask, at most VF_PARALLEL_MAX, none smaller than min_per_range items, at least 1.
 * vf_parallel_run calls run(&args[i]) once for each i < k (args: k elements of arg_size bytes), each
 * on this thread or on one started for the loop (a range whose thread cannot start runs on another);
 * the loop's threads start on CPUs other than this thread's and then run on any of the process's. */
#define VF_PARALLEL_MAX 8
size_t vf_parallel_ranges(size_t n, size_t min_per_range);
void vf_parallel_run(void *(*run)(void *), void *args, size_t arg_size, size_t k);
/* The one job runner: job(ctx, worker, i, err) for i in [0, n) on `threads` threads (this one
 * included; at most VF_PARALLEL_MAX and at most n; worker < threads numbers the thread running the
 * job, 0 for this one, so per-worker state needs no lock), taking jobs in index order. Once a job fails no job above it starts, and
 * the result is that of a sequential loop that stops at the first failure: VF_OK, or the status and
 * error of the lowest-index job that failed. A job's side effects must be undone by the caller on
 * failure (jobs below the failed one, and some above it, may have run). */
int vf_jobs_run(size_t n, size_t threads, int (*job)(void *ctx, size_t worker, size_t i, vf_error *err),
                void *ctx, vf_error *err);

/* Runs job(ctx, worker, i) for every i in [0, n), every one whatever the others return (results
 * stay with the item), on `threads` workers (worker < threads <= VF_PARALLEL_MAX; 0 counts as 1),
 * each taking the item with the largest size_of(ctx, i) left (ties: lower index first) so a large
 * item does not finish last, alone. VF_ERR_NOMEM when the order cannot be allocated (nothing ran). */
int vf_run_largest_first(size_t n, size_t threads, uint64_t (*size_of)(void *ctx, size_t i),
                         void (*job)(void *ctx, size_t worker, size_t i), void *ctx);

/* True when s ends with suffix. */
bool vf_has_suffix(const char *s, const char *suffix);
/* malloc'd "a/b"; NULL when out of memory. */
char *vf_path_join(const char *a, const char *b);

/* The length of the common prefix of a[0..n) and b[0..n), eight bytes at a time (the names of a
 * table, read one after another, share long prefixes). */
static inline size_t vf_common_prefix(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (x != y) /* the lowest differing byte is the first */
            return i + ((size_t)__builtin_ctzll(x ^ y) >> 3);
#else
        if (x != y)
            break;
#endif
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

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
/* vf_open_input of path relative to the open directory dir (AT_FDCWD: as vf_open_input). */
int vf_open_input_at(int dir, const char *path, const char *display, int *fd, struct stat *st, vf_error *err);
/* vf_open_input with the size only; _at: relative to the open directory dir. */
int vf_open_regular(const char *path, const char *display, int *fd, uint64_t *size, vf_error *err);
int vf_open_regular_at(int dir, const char *path, const char *display, int *fd, uint64_t *size, vf_error *err);
/* Same device and inode: the same file, whatever the names. */
bool vf_same_file(const struct stat *a, const struct stat *b);
/* "a FIFO", "a socket", "a character device", "a directory", ... for an st_mode. */
const char *vf_file_kind(unsigned mode);
/* pread loop: reads up to len bytes at off; *got < len only at end of file. */
int vf_read_at(int fd, void *buf, size_t len, uint64_t off, size_t *got, const char *display,
               vf_error *err);
/* Reads a whole small file (at most max bytes, else VF_ERR_UNSUPPORTED); caller frees *data. */
int vf_read_small_file(const char *path, const char *display, size_t max, uint8_t **data, size_t *len,
                       vf_error *err);

/* Writes the n bytes as 2n lower-case hex digits and a NUL at out (2n + 1 bytes). */
void vf_hex_encode(const uint8_t *bytes, size_t n, char *out);
/* The n <= 8 little-endian bytes at p as an integer. */
uint64_t vf_load_le(const uint8_t *p, unsigned n);

/* The length of s when it is 1..64 lower-case hex digits (a digest), else 0. */
size_t vf_lower_hex_len(const char *s);

/* True when `name` is a plain file name: non-empty, no '/', no '\\', not "." or "..", no NUL. */
bool vf_safe_file_name(const char *name);

#endif
