/* vf_util.c - arena, reentrant index sort, bounded file reads and paths for the parser layer. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_common_internal.h"

struct vf_arena_chunk {
    vf_arena_chunk *next;
    size_t used, cap;
    _Alignas(8) unsigned char data[];
};

int vf_arena_init(vf_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size < 4096 ? 4096 : chunk_size;
    return VF_OK;
}

void *vf_arena_alloc_raw(vf_arena *a, size_t n)
{
    size_t need = (n + 7) & ~(size_t)7;
    if (need < n)
        return NULL;
    if (!a->head || a->head->cap - a->head->used < need) {
        if (need > SIZE_MAX - sizeof(vf_arena_chunk))
            return NULL;
        /* chunk_size is the whole allocation, header included: 2 MiB fills one huge page */
        size_t bytes = sizeof(vf_arena_chunk) + need > a->chunk_size ? sizeof(vf_arena_chunk) + need
                                                                     : a->chunk_size;
        size_t cap = bytes - sizeof(vf_arena_chunk);
        vf_arena_chunk *c = bytes >= VF_ARENA_HUGE ? vf_alloc_large(bytes) : malloc(bytes);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += need;
    return p;
}

void *vf_arena_alloc(vf_arena *a, size_t n)
{
    void *p = vf_arena_alloc_raw(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *vf_arena_strndup(vf_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = vf_arena_alloc_raw(a, n + 1); /* every byte of the copy is written: no zeroing */
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *vf_arena_strdup(vf_arena *a, const char *s)
{
    return vf_arena_strndup(a, s, strlen(s));
}

void vf_arena_free(vf_arena *a)
{
    while (a && a->head) {
        vf_arena_chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* ---- sorting ----------------------------------------------------------------------------------- */

typedef struct name_key {
    const void *base;
    size_t elem_size, name_off;
} name_key;

static const char *key_name(const name_key *k, uint32_t i)
{
    const char *p;
    memcpy(&p, (const unsigned char *)k->base + (size_t)i * k->elem_size + k->name_off, sizeof p);
    return p;
}

static int key_cmp(const name_key *k, uint32_t a, uint32_t b)
{
    return strcmp(key_name(k, a), key_name(k, b));
}

/* The end of the stretch of src[i..n) that goes before (take_equal: not after) `key`: galloping,
 * 1, 3, 7, ... ahead, then a binary search in the last step. src[i] is known to qualify. */
static size_t gallop(const name_key *k, const uint32_t *src, size_t i, size_t n, uint32_t key,
                     bool take_equal)
{
    size_t ok = i, step = 1; /* src[ok] qualifies */
    size_t bad = n;          /* src[bad] does not (n: past the end) */
    while (ok + step < n) {
        int c = key_cmp(k, src[ok + step], key);
        if (take_equal ? c > 0 : c >= 0) {
            bad = ok + step;
            break;
        }
        ok += step;
        step *= 2;
    }
    while (bad - ok > 1) {
        size_t mid = ok + (bad - ok) / 2;
        int c = key_cmp(k, src[mid], key);
        if (take_equal ? c > 0 : c >= 0)
            bad = mid;
        else
            ok = mid;
    }
    return ok + 1;
}

#define VF_GALLOP_AFTER 7 /* wins in a row from one side before it gallops (as timsort's MIN_GALLOP) */

/* Stable merge of the sorted a[0..na) and b[0..nb) into dst. Runs that take long stretches from one
 * side (shards of a name-sorted list) cost about one comparison per stretch. */
static void merge_two(const name_key *k, const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                      uint32_t *dst)
{
    size_t i = 0, j = 0, o = 0, wins_a = 0, wins_b = 0;
    while (i < na && j < nb) {
        if (key_cmp(k, a[i], b[j]) <= 0) {
            size_t e = ++wins_a >= VF_GALLOP_AFTER ? gallop(k, a, i, na, b[j], true) : i + 1;
            memcpy(dst + o, a + i, (e - i) * sizeof *a);
            o += e - i, i = e, wins_b = 0;
        } else {
            size_t e = ++wins_b >= VF_GALLOP_AFTER ? gallop(k, b, j, nb, a[i], false) : j + 1;
            memcpy(dst + o, b + j, (e - j) * sizeof *b);
            o += e - j, j = e, wins_a = 0;
        }
    }
    memcpy(dst + o, a + i, (na - i) * sizeof *a);
    memcpy(dst + o + na - i, b + j, (nb - j) * sizeof *b);
}

/* Merges adjacent runs pairwise until one is left; ends[r] is the end of run r (ends[nruns-1] = n).
 * The runs' bounds are rewritten in place. */
static void merge_runs(const name_key *k, uint32_t *idx, uint32_t *tmp, size_t *ends, size_t nruns)
{
    uint32_t *src = idx, *dst = tmp;
    while (nruns > 1) {
        size_t out = 0, begin = 0;
        for (size_t r = 0; r < nruns; r += 2) {
            size_t mid = ends[r], end = r + 1 < nruns ? ends[r + 1] : mid;
            merge_two(k, src + begin, mid - begin, src + mid, end - mid, dst + begin);
            ends[out++] = end;
            begin = end;
        }
        nruns = out;
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        memcpy(idx, src, ends[0] * sizeof *idx);
}

/* In place, without memory: the contract kept by an insertion sort. */
static void insertion_sort(const name_key *k, uint32_t *idx, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && key_cmp(k, idx[j - 1], idx[j]) > 0; j--) {
            uint32_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

void vf_sort_u32_by_name(uint32_t *idx, size_t n, const void *base, size_t elem_size, size_t name_off)
{
    if (n < 2)
        return;
    name_key k = {base, elem_size, name_off};
    size_t nruns = 1;
    for (size_t i = 1; i < n; i++) /* the input's ascending runs */
        nruns += key_cmp(&k, idx[i - 1], idx[i]) > 0;
    if (nruns == 1)
        return;
    uint32_t *tmp = malloc(n * sizeof *tmp);
    size_t *ends = malloc(nruns * sizeof *ends);
    if (!tmp || !ends) {
        free(tmp);
        free(ends);
        insertion_sort(&k, idx, n);
        return;
    }
    for (size_t i = 1, r = 0; i < n; i++)
        if (key_cmp(&k, idx[i - 1], idx[i]) > 0)
            ends[r++] = i;
    ends[nruns - 1] = n;
    merge_runs(&k, idx, tmp, ends, nruns);
    free(tmp);
    free(ends);
}

/* ---- files ------------------------------------------------------------------------------------- */

const char *vf_file_kind(unsigned mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISLNK(mode))
        return "a symlink";
    return "an unknown kind of file";
}

/* O_NONBLOCK makes open() return at once on a FIFO without a writer (and on devices that would wait
 * for a carrier); O_NOCTTY keeps a terminal from becoming ours. Once fstat() has shown a regular file
 * the flag is cleared: it means nothing for regular files, but nothing should depend on that. It is
 * the only status flag set at open (O_NOCTTY and O_CLOEXEC are not status flags), so one F_SETFL of 0
 * clears it without an F_GETFL first. */
int vf_open_input_at(int dir, const char *path, const char *display, int *fd, struct stat *st, vf_error *err)
{
    int f = openat(dir, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        int e = errno;
        struct stat lst;
        bool dangling = e == ENOENT && fstatat(dir, path, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode);
        if (e == ENOENT)
            return vf_error_set(err, VF_ERR_NOT_FOUND, display, NULL, "%s",
                                dangling ? "dangling symlink: its target does not exist"
                                         : "no such file");
        return vf_error_set(err, VF_ERR_IO, display, NULL, "cannot open: %s%s", strerror(e),
                            e == ELOOP ? " (symlink loop)" : "");
    }
    if (fstat(f, st) != 0) {
        int e = errno;
        close(f);
        return vf_error_set(err, VF_ERR_IO, display, NULL, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(f);
        return vf_error_set(err, VF_ERR_IO, display, NULL, "is %s, not a regular file",
                            vf_file_kind((unsigned)st->st_mode));
    }
    if (fcntl(f, F_SETFL, 0) != 0) {
        int e = errno;
        close(f);
        return vf_error_set(err, VF_ERR_IO, display, NULL, "cannot set up reading: %s", strerror(e));
    }
    *fd = f;
    return VF_OK;
}

int vf_open_input(const char *path, const char *display, int *fd, struct stat *st, vf_error *err)
{
    return vf_open_input_at(AT_FDCWD, path, display, fd, st, err);
}

int vf_open_regular_at(int dir, const char *path, const char *display, int *fd, uint64_t *size, vf_error *err)
{
    struct stat st;
    int rc = vf_open_input_at(dir, path, display, fd, &st, err);
    if (rc == VF_OK)
        *size = (uint64_t)st.st_size;
    return rc;
}

int vf_open_regular(const char *path, const char *display, int *fd, uint64_t *size, vf_error *err)
{
    return vf_open_regular_at(AT_FDCWD, path, display, fd, size, err);
}

int vf_read_at(int fd, void *buf, size_t len, uint64_t off, size_t *got, const char *display,
               vf_error *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (unsigned char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return vf_error_set(err, VF_ERR_IO, display, NULL, "read failed: %s", strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return VF_OK;
}

#define VF_HUGE_PAGE ((size_t)2 << 20)

void *vf_alloc_large(size_t n)
{
#if defined(MADV_HUGEPAGE)
    if (n >= VF_HUGE_PAGE / 4 && n <= SIZE_MAX - VF_HUGE_PAGE) {
        size_t whole = n & ~(VF_HUGE_PAGE - 1), rest = n - whole;
        if (rest >= VF_HUGE_PAGE / 4) /* a last quarter page or more: take all of it */
            n = whole += VF_HUGE_PAGE;
        void *p = NULL;
        if (posix_memalign(&p, VF_HUGE_PAGE, n) != 0)
            return NULL;
        (void)madvise(p, whole, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(n ? n : 1);
}

int vf_read_small_file(const char *path, const char *display, size_t max, uint8_t **data, size_t *len,
                       vf_error *err)
{
    int fd;
    uint64_t size;
    *data = NULL;
    int rc = vf_open_regular(path, display, &fd, &size, err);
    if (rc != VF_OK)
        return rc;
    if (size > max) {
        close(fd);
        return vf_error_set(err, VF_ERR_UNSUPPORTED, display, NULL,
                            "file has %llu bytes, more than the %zu this reader accepts",
                            (unsigned long long)size, max);
    }
    uint8_t *buf = vf_alloc_large((size_t)size + 1);
    size_t got = 0;
    rc = buf ? vf_read_at(fd, buf, (size_t)size, 0, &got, display, err)
             : vf_error_set(err, VF_ERR_NOMEM, display, NULL, "out of memory");
    close(fd);
    if (rc == VF_OK && got != size)
        rc = vf_error_set(err, VF_ERR_IO, display, NULL, "file shrank while being read");
    if (rc != VF_OK) {
        free(buf);
        return rc;
    }
    buf[got] = 0;
    *data = buf;
    *len = got;
    return VF_OK;
}

bool vf_safe_file_name(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    return strpbrk(name, "/\\") == NULL;
}

char *vf_path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

long vf_find_sorted_name(const void *base, size_t n, size_t size, size_t name_off, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *at;
        memcpy(&at, (const unsigned char *)base + mid * size + name_off, sizeof at);
        int c = strcmp(at, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool vf_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

size_t vf_lower_hex_len(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')) || n >= 64)
            return 0;
    return n;
}

bool vf_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

void vf_hex_encode(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

uint64_t vf_load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}
