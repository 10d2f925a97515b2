/* test_limits.c - limits that protect the user: a header near the 100,000,000-byte cap stays within
 * a memory bound, a length claimed past the end of the file is rejected before allocating, 10,000
 * shards work, and a file that shrinks while being read, an unreadable file, a dangling symlink and
 * a symlink loop in a Hugging Face cache tree each give a clear error. */
#define _GNU_SOURCE /* RTLD_NEXT: the pread interposer below */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vf_test_support.h"
#include "vramfit/vf_parser.h"
#include "vramfit/vf_tensors.h"

#define MIB (1024.0 * 1024.0)

static char *dir;

static void setup(void)
{
    dir = vft_tempdir();
}

static void teardown(void)
{
    vft_rmtree(dir);
    free(dir);
}

TestSuite(limits, .init = setup, .fini = teardown);

/* Peak resident set of this process in bytes (Criterion runs each test in its own process). */
static double peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes prefix N, the header text padded with spaces to N bytes, then data_len zero bytes. */
static void write_padded(const char *path, const char *header, uint64_t n, uint64_t data_len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    uint8_t prefix[8];
    put_le64(prefix, n);
    fwrite(prefix, 1, 8, f);
    size_t hl = strlen(header);
    fwrite(header, 1, hl, f);
    static char spaces[1 << 20];
    memset(spaces, ' ', sizeof spaces);
    for (uint64_t left = n - hl; left;) {
        size_t k = left < sizeof spaces ? (size_t)left : sizeof spaces;
        cr_assert_eq(fwrite(spaces, 1, k, f), k);
        left -= k;
    }
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(truncate(path, (off_t)(8 + n + data_len)), 0);
}

/* ---- header size ------------------------------------------------------------------------------- */

Test(limits, header_near_the_cap_parses_within_a_memory_bound)
{
    const uint64_t n = VF_ST_MAX_HEADER - 16;
    char *p = vft_path(dir, "big.safetensors");
    write_padded(p, "{\"w\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", n, 3);
    double before = peak_rss();
    vf_st_header *h = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_st_read_file(p, "big.safetensors", &h, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_st_header_count(h), 1);
    cr_expect_eq(vf_st_header_data_start(h), 8 + n);
    vf_st_header_free(h);
    double grew = peak_rss() - before;
    /* the header bytes once (kept verbatim for snapshots), plus small change */
    cr_expect_leq(grew, 1.25 * (double)n + 32 * MIB, "peak RSS grew by %.0f MiB for a %.0f MiB header",
                  grew / MIB, (double)n / MIB);
    free(p);
}

Test(limits, dense_header_costs_at_most_three_times_its_bytes)
{
    /* ~16 MB of small tensor entries: the per-tensor tables must stay within 3x the header bytes */
    const size_t count = 250000;
    size_t cap = count * 80 + 64, len = 0;
    char *json = malloc(cap);
    cr_assert(json);
    json[len++] = '{';
    for (size_t i = 0; i < count; i++)
        len += (size_t)snprintf(json + len, cap - len, "%s\"t%zu\":{\"dtype\":\"U8\",\"shape\":[1],"
                                "\"data_offsets\":[%zu,%zu]}", i ? "," : "", i, i, i + 1);
    json[len++] = '}';
    char *p = vft_path(dir, "dense.safetensors");
    uint8_t prefix[8];
    put_le64(prefix, len);
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    fwrite(prefix, 1, 8, f);
    fwrite(json, 1, len, f);
    cr_assert_eq(fclose(f), 0);
    free(json);
    cr_assert_eq(truncate(p, (off_t)(8 + len + count)), 0);
    double before = peak_rss();
    vf_st_header *h = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_st_read_file(p, NULL, &h, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_st_header_count(h), count);
    vf_st_header_free(h);
    double grew = peak_rss() - before;
    cr_expect_leq(grew, 3.0 * (double)len + 8 * MIB, "peak RSS grew by %.1f MiB for a %.1f MiB header",
                  grew / MIB, (double)len / MIB);
    free(p);
}

Test(limits, length_claimed_past_the_file_is_rejected_before_allocating)
{
    char *p = vft_path(dir, "liar.safetensors");
    uint8_t b[16] = {0};
    memcpy(b + 8, "{}      ", 8);
    const uint64_t claims[] = {VF_ST_MAX_HEADER - 1, VF_ST_MAX_HEADER, VF_ST_MAX_HEADER + 1ull, UINT64_MAX};
    const int want[] = {VF_ERR_HEADER_LENGTH, VF_ERR_HEADER_LENGTH, VF_ERR_HEADER_TOO_LARGE,
                        VF_ERR_HEADER_TOO_LARGE};
    double before = peak_rss();
    for (size_t i = 0; i < 4; i++) {
        put_le64(b, claims[i]);
        vft_write_file(p, b, sizeof b);
        vf_st_header *h = NULL;
        vf_error err = {0};
        cr_expect_eq(vf_st_read_file(p, "liar.safetensors", &h, &err), want[i], "claim %llu: %s",
                     (unsigned long long)claims[i], err.message);
        cr_expect_null(h);
        cr_expect_str_eq(err.file, "liar.safetensors");
    }
    cr_expect_leq(peak_rss() - before, 4 * MIB, "nothing the size of the claim was allocated");
    free(p);
}

/* ---- many shards ------------------------------------------------------------------------------- */

/* 10,000 files cost seconds to create and delete on a disk file system: use tmpfs when there is
 * one. Returns the directory to use (freed by the caller, removed with vft_rmtree). */
static char *many_dir(void)
{
    char tmpl[] = "/dev/shm/vf-limits-XXXXXX";
    if (access("/dev/shm", W_OK) == 0 && mkdtemp(tmpl))
        return strdup(tmpl);
    return vft_path(dir, "many");
}

static void write_many_shards(const char *where, size_t n, bool with_index)
{
    mkdir(where, 0700);
    char name[64], header[160];
    size_t cap = n * 96 + 64, len = 0;
    char *index = malloc(cap);
    cr_assert(index);
    len += (size_t)snprintf(index, cap, "{\"metadata\":{\"total_size\":%zu},\"weight_map\":{", n * 2);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, n);
        snprintf(header, sizeof header,
                 "{\"model.layers.%zu.w\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", i);
        size_t img_len;
        uint8_t *img = vft_st_image(header, 2, &img_len);
        char *p = vft_path(where, name);
        vft_write_file(p, img, img_len);
        free(p);
        free(img);
        len += (size_t)snprintf(index + len, cap - len, "%s\"model.layers.%zu.w\":\"%s\"", i ? "," : "", i,
                                name);
    }
    len += (size_t)snprintf(index + len, cap - len, "}}");
    if (with_index) {
        char *p = vft_path(where, "model.safetensors.index.json");
        vft_write_file(p, index, len);
        free(p);
    }
    free(index);
}

Test(limits, ten_thousand_shards_with_an_index)
{
    char *where = many_dir();
    write_many_shards(where, 10000, true);
    vf_model *m = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_model_open(where, NULL, &m, &err), VF_OK, "%s", err.message);
    const vf_checkpoint *cp = vf_model_checkpoint(m);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 10000);
    cr_expect(vf_checkpoint_index_consistent(cp));
    cr_expect_eq(vf_model_totals(m)->parameters, 10000);
    cr_expect_eq(vf_model_arch(m)->layers, 10000);
    vf_model_free(m);
    vft_rmtree(where);
    free(where);
}

Test(limits, ten_thousand_shards_without_an_index)
{
    char *where = many_dir();
    write_many_shards(where, 10000, false);
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_checkpoint_open(where, NULL, &cp, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 10000);
    cr_expect_str_eq(vf_checkpoint_shard(cp, 9999)->name, "model-10000-of-10000.safetensors");
    vf_checkpoint_free(cp);
    vft_rmtree(where);
    free(where);
}

/* ---- a file that shrinks while being read ------------------------------------------------------ */

/* Interposes pread for this test program: when armed, the file at shrink_path is cut to 12 bytes just
 * before the header read, after the parser took its size. This makes the race deterministic. */
static const char *volatile shrink_path;

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "pread");
        memcpy(&real, &sym, sizeof real);
    }
    if (shrink_path && off == (off_t)VF_ST_PREFIX_BYTES) {
        const char *path = shrink_path;
        shrink_path = NULL;
        if (truncate(path, 12) != 0)
            return -1;
    }
    return real(fd, buf, n, off);
}

Test(limits, file_that_shrinks_while_being_read_is_an_io_error)
{
    char *p = vft_path(dir, "model.safetensors");
    size_t len;
    uint8_t *img = vft_st_image("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, &len);
    vft_write_file(p, img, len);
    free(img);
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    shrink_path = p;
    int rc = vf_checkpoint_open(dir, NULL, &cp, &err);
    shrink_path = NULL;
    cr_expect_eq(rc, VF_ERR_IO, "%s", err.message);
    cr_expect_null(cp);
    cr_expect_str_eq(err.file, "model.safetensors");
    cr_expect(strstr(err.message, "shrank"), "%s", err.message);
    free(p);
}

/* ---- unreadable files -------------------------------------------------------------------------- */

Test(limits, unreadable_shard_is_an_io_error_naming_it)
{
    if (geteuid() == 0)
        cr_skip_test("running as root: chmod 000 does not deny reads to root, so no unreadable file can "
                     "be made this way (the socket test below covers open() failing as root)");
    char *p = vft_path(dir, "model.safetensors");
    size_t len;
    uint8_t *img = vft_st_image("{}", 0, &len);
    vft_write_file(p, img, len);
    free(img);
    cr_assert_eq(chmod(p, 0), 0);
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(vf_checkpoint_open(dir, NULL, &cp, &err), VF_ERR_IO, "%s", err.message);
    cr_expect_str_eq(err.file, "model.safetensors");
    cr_expect(strstr(err.message, "ermission"), "%s", err.message);
    free(p);
}

Test(limits, shard_that_cannot_be_opened_even_by_root_is_an_io_error)
{
    /* open() of a UNIX socket fails with ENXIO for every user, root included */
    char *p = vft_path(dir, "model.safetensors");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert(s >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(p), sizeof addr.sun_path);
    strcpy(addr.sun_path, p);
    cr_assert_eq(bind(s, (struct sockaddr *)&addr, sizeof addr), 0);
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(vf_checkpoint_open(p, NULL, &cp, &err), VF_ERR_IO, "%s", err.message);
    cr_expect_null(cp);
    cr_expect_str_eq(err.file, "model.safetensors");
    close(s);
    free(p);
}

/* ---- symlinks in a Hugging Face cache tree ----------------------------------------------------- */

#define HASH "0123456789abcdef0123456789abcdef01234567"

/* models--org--tiny with refs/main and snapshots/HASH/; returns the snapshot directory. */
static char *hf_tree(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "R='%s/models--org--tiny'; mkdir -p $R/refs $R/blobs $R/snapshots/" HASH
             " && printf '" HASH "' > $R/refs/main",
             dir);
    cr_assert_eq(system(cmd), 0);
    char *snap = malloc(strlen(dir) + 128);
    sprintf(snap, "%s/models--org--tiny/snapshots/" HASH, dir);
    return snap;
}

static void expect_hf_error(int code, const char *file, const char *needle)
{
    vf_open_options o = VF_OPEN_OPTIONS_INIT;
    o.hf_cache = dir;
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(vf_checkpoint_open("org/tiny", &o, &cp, &err), code, "got %s: %s",
                 vf_status_name(err.code), err.message);
    cr_expect_null(cp);
    cr_expect_str_eq(err.file, file);
    cr_expect(strstr(err.message, needle), "'%s' lacks '%s'", err.message, needle);
}

Test(limits, hf_cache_dangling_shard_symlink_is_not_found)
{
    char *snap = hf_tree();
    char *link = vft_path(snap, "model.safetensors");
    cr_assert_eq(symlink("../../blobs/0000missing", link), 0);
    expect_hf_error(VF_ERR_NOT_FOUND, "model.safetensors", "dangling");
    free(link);
    free(snap);
}

Test(limits, hf_cache_shard_symlink_loop_is_an_io_error)
{
    char *snap = hf_tree();
    char *a = vft_path(snap, "model.safetensors"), *b = vft_path(snap, "loop");
    cr_assert_eq(symlink("loop", a), 0);
    cr_assert_eq(symlink("model.safetensors", b), 0);
    expect_hf_error(VF_ERR_IO, "model.safetensors", "loop");
    free(a);
    free(b);
    free(snap);
}

Test(limits, hf_cache_dangling_index_symlink_is_an_error_not_a_missing_index)
{
    /* shards present but the index blob missing: silently ignoring the index would load a partial
     * download as if it were whole */
    char *snap = hf_tree();
    size_t len;
    uint8_t *img = vft_st_image("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &len);
    char *shard = vft_path(snap, "model-00001-of-00002.safetensors");
    vft_write_file(shard, img, len);
    free(img);
    char *idx = vft_path(snap, "model.safetensors.index.json");
    cr_assert_eq(symlink("../../blobs/0000missing", idx), 0);
    expect_hf_error(VF_ERR_NOT_FOUND, "model.safetensors.index.json", "dangling");
    cr_assert_eq(unlink(idx), 0);
    cr_assert_eq(symlink("model.safetensors.index.json", idx), 0); /* a link to itself: a loop */
    expect_hf_error(VF_ERR_IO, "model.safetensors.index.json", "loop");
    free(idx);
    free(shard);
    free(snap);
}
