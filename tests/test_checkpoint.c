/* test_checkpoint.c - PATH resolution, shard index cross-checks and the offline HF cache. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_test_support.h"
#include "vramfit/vf_parser.h"
#include "vramfit/vf_snapshot.h"

#define SHARD1 "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
#define SHARD2 "{\"b.weight\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}"
#define INDEX_OK                                                                                   \
    "{\"metadata\":{\"total_size\":24},\"weight_map\":{\"a.weight\":\"m-1.safetensors\","            \
    "\"b.weight\":\"m-2.safetensors\"}}"

static char *dir;

static void setup_dir(void)
{
    dir = vft_tempdir();
}

static void teardown_dir(void)
{
    vft_rmtree(dir);
    free(dir);
}

static void put(const char *name, const char *text)
{
    char *p = vft_path(dir, name);
    vft_write_file(p, text, strlen(text));
    free(p);
}

static void put_shard(const char *name, const char *header, uint64_t data_len)
{
    size_t len;
    uint8_t *img = vft_st_image(header, data_len, &len);
    char *p = vft_path(dir, name);
    vft_write_file(p, img, len);
    free(p);
    free(img);
}

static void two_shards(void)
{
    put_shard("m-1.safetensors", SHARD1, 16);
    put_shard("m-2.safetensors", SHARD2, 8);
}

static int open_at(const char *path, vf_checkpoint **cp, vf_error *err)
{
    return vf_checkpoint_open(path, NULL, cp, err);
}

static void expect_open_fails(int code, const char *needle)
{
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    int rc = open_at(dir, &cp, &err);
    cr_expect_eq(rc, code, "got %s: %s: %s", vf_status_name(rc), err.file, err.message);
    cr_expect_null(cp);
    if (needle)
        cr_expect(strstr(err.message, needle) || strstr(err.file, needle) || strstr(err.tensor, needle),
                  "'%s' not in '%s' '%s' '%s'", needle, err.file, err.tensor, err.message);
}

TestSuite(checkpoint, .init = setup_dir, .fini = teardown_dir);

Test(checkpoint, indexed_directory_opens_with_both_shards_and_consistent_total)
{
    two_shards();
    put("model.safetensors.index.json", INDEX_OK);
    put("config.json", "{\"vocab_size\":4}");
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(open_at(dir, &cp, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 2);
    cr_expect_str_eq(vf_checkpoint_shard(cp, 0)->name, "m-1.safetensors");
    cr_expect(vf_checkpoint_has_index(cp));
    uint64_t total = 0;
    cr_expect(vf_checkpoint_index_total_size(cp, &total));
    cr_expect_eq(total, 24);
    cr_expect(vf_checkpoint_index_consistent(cp));
    size_t len = 0;
    cr_expect_not_null(vf_checkpoint_aux(cp, "config.json", &len));
    cr_expect_eq(len, strlen("{\"vocab_size\":4}"));
    cr_expect_null(vf_checkpoint_aux(cp, "generation_config.json", NULL));
    vf_checkpoint_free(cp);
}

Test(checkpoint, index_file_path_and_single_file_path_open)
{
    two_shards();
    put("model.safetensors.index.json", INDEX_OK);
    char *ix = vft_path(dir, "model.safetensors.index.json"), *one = vft_path(dir, "m-2.safetensors");
    vf_checkpoint *cp = NULL;
    cr_assert_eq(open_at(ix, &cp, NULL), VF_OK);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 2);
    vf_checkpoint_free(cp);
    cr_assert_eq(open_at(one, &cp, NULL), VF_OK);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 1);
    cr_expect_not(vf_checkpoint_has_index(cp), "a file named explicitly is read alone");
    vf_checkpoint_free(cp);
    free(ix);
    free(one);
}

Test(checkpoint, unindexed_shard_set_is_read_in_name_order)
{
    two_shards();
    vf_checkpoint *cp = NULL;
    cr_assert_eq(open_at(dir, &cp, NULL), VF_OK);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 2);
    cr_expect_str_eq(vf_checkpoint_shard(cp, 1)->name, "m-2.safetensors");
    vf_checkpoint_free(cp);
}

Test(checkpoint, total_size_mismatch_is_a_warning_not_an_error)
{
    two_shards();
    put("model.safetensors.index.json",
        "{\"metadata\":{\"total_size\":99},\"weight_map\":{\"a.weight\":\"m-1.safetensors\","
        "\"b.weight\":\"m-2.safetensors\"}}");
    vf_checkpoint *cp = NULL;
    cr_assert_eq(open_at(dir, &cp, NULL), VF_OK);
    cr_expect_not(vf_checkpoint_index_consistent(cp));
    const vf_findings *f = vf_checkpoint_findings(cp);
    cr_assert_eq(vf_findings_count(f), 1);
    cr_expect(strstr(vf_findings_get(f, 0)->message, "99") && strstr(vf_findings_get(f, 0)->message, "24"),
              "%s", vf_findings_get(f, 0)->message);
    vf_checkpoint_free(cp);
}

Test(checkpoint, missing_shard_named_by_index_is_not_found)
{
    put_shard("m-1.safetensors", SHARD1, 16);
    put("model.safetensors.index.json", INDEX_OK);
    expect_open_fails(VF_ERR_NOT_FOUND, "m-2.safetensors");
}

Test(checkpoint, tensor_missing_from_index_is_a_mismatch)
{
    two_shards();
    put("model.safetensors.index.json", "{\"weight_map\":{\"a.weight\":\"m-1.safetensors\"}}");
    /* m-2 is not named by the index, so it is not read; add b.weight to m-1's view instead */
    put_shard("m-1.safetensors",
              "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
              "\"x.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[16,17]}}",
              17);
    expect_open_fails(VF_ERR_INDEX_MISMATCH, "x.weight");
}

Test(checkpoint, the_first_unlisted_tensor_in_offset_order_is_reported)
{
    two_shards();
    put("model.safetensors.index.json", "{\"weight_map\":{\"a.weight\":\"m-1.safetensors\"}}");
    /* z.weight comes first in the data region, y.weight first by name: offset order decides */
    put_shard("m-1.safetensors",
              "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[2,18]},"
              "\"y.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
              "\"z.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
              18);
    expect_open_fails(VF_ERR_INDEX_MISMATCH, "z.weight");
}

Test(checkpoint, index_entry_missing_from_its_shard_is_a_mismatch)
{
    two_shards();
    put("model.safetensors.index.json",
        "{\"weight_map\":{\"a.weight\":\"m-1.safetensors\",\"b.weight\":\"m-2.safetensors\","
        "\"ghost.weight\":\"m-2.safetensors\"}}");
    expect_open_fails(VF_ERR_INDEX_MISMATCH, "ghost.weight");
}

Test(checkpoint, tensor_in_wrong_shard_is_a_mismatch)
{
    two_shards();
    put("model.safetensors.index.json",
        "{\"weight_map\":{\"a.weight\":\"m-2.safetensors\",\"b.weight\":\"m-2.safetensors\"}}");
    expect_open_fails(VF_ERR_INDEX_MISMATCH, "a.weight");
}

Test(checkpoint, tensor_in_two_shards_without_index_is_a_duplicate)
{
    put_shard("m-1.safetensors", SHARD1, 16);
    put_shard("m-2.safetensors", SHARD1, 16);
    expect_open_fails(VF_ERR_DUPLICATE, "a.weight");
}

Test(checkpoint, tensor_in_two_shards_with_index_is_a_mismatch)
{
    put_shard("m-1.safetensors", SHARD1, 16);
    put_shard("m-2.safetensors", SHARD1, 16);
    put("model.safetensors.index.json",
        "{\"weight_map\":{\"a.weight\":\"m-1.safetensors\",\"b.weight\":\"m-2.safetensors\"}}");
    expect_open_fails(VF_ERR_INDEX_MISMATCH, NULL);
}

Test(checkpoint, traversal_and_absolute_shard_names_are_rejected)
{
    const char *bad[] = {"../m-1.safetensors", "/etc/passwd", "sub/m.safetensors", "..", "a\\\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"weight_map\":{\"a.weight\":\"%s\"}}", bad[i]);
        put("model.safetensors.index.json", text);
        expect_open_fails(VF_ERR_UNSAFE_PATH, NULL);
    }
}

Test(checkpoint, malformed_index_is_rejected)
{
    two_shards();
    put("model.safetensors.index.json", "{\"weight_map\":[]}");
    expect_open_fails(VF_ERR_INDEX, "weight_map");
    put("model.safetensors.index.json", "{\"weight_map\":{\"a.weight\":3}}");
    expect_open_fails(VF_ERR_INDEX, NULL);
    put("model.safetensors.index.json", "{\"metadata\":{\"total_size\":-5},\"weight_map\":{}}");
    expect_open_fails(VF_ERR_INDEX, "total_size");
    put("model.safetensors.index.json", "not json");
    expect_open_fails(VF_ERR_INDEX, NULL);
}

Test(checkpoint, bad_shard_error_names_the_shard_file)
{
    put_shard("m-1.safetensors", SHARD1, 15);
    expect_open_fails(VF_ERR_INCOMPLETE, "m-1.safetensors");
}

Test(checkpoint, empty_directory_has_no_tensors)
{
    expect_open_fails(VF_ERR_NO_TENSORS, NULL);
}

Test(checkpoint, model_safetensors_alone_wins_over_other_files)
{
    put_shard("model.safetensors", SHARD1, 16);
    put_shard("consolidated.safetensors", SHARD1, 16);
    vf_checkpoint *cp = NULL;
    cr_assert_eq(open_at(dir, &cp, NULL), VF_OK);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 1);
    vf_checkpoint_free(cp);
}

/* ---- Hugging Face cache ------------------------------------------------------------------------ */

#define HASH_MAIN "0123456789abcdef0123456789abcdef01234567"
#define HASH_OLD "fedcba9876543210fedcba9876543210fedcba98"

/* models--org--name with refs/main, blobs/ and snapshots/HASH/ holding symlinks into blobs/ */
static char *fake_cache(void)
{
    char *repo = vft_path(dir, "models--ibm-granite--granite-mini");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "R='%s'; mkdir -p $R/refs $R/blobs $R/snapshots/" HASH_MAIN " $R/snapshots/" HASH_OLD
             " && printf '" HASH_MAIN "' > $R/refs/main",
             repo);
    cr_assert_eq(system(cmd), 0);
    size_t len;
    uint8_t *img = vft_st_image(SHARD1, 16, &len);
    char *blob = vft_path(repo, "blobs/abc123");
    vft_write_file(blob, img, len);
    free(img);
    img = vft_st_image(SHARD2, 8, &len);
    char *blob2 = vft_path(repo, "blobs/def456");
    vft_write_file(blob2, img, len);
    free(img);
    snprintf(cmd, sizeof cmd,
             "R='%s'; ln -s ../../blobs/abc123 $R/snapshots/" HASH_MAIN "/model.safetensors && "
             "ln -s ../../blobs/def456 $R/snapshots/" HASH_OLD "/model.safetensors",
             repo);
    cr_assert_eq(system(cmd), 0);
    free(blob);
    free(blob2);
    return repo;
}

Test(checkpoint, hf_id_resolves_offline_through_refs_main_and_symlinks)
{
    char *repo = fake_cache();
    vf_open_options o = VF_OPEN_OPTIONS_INIT;
    o.hf_cache = dir;
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_checkpoint_open("ibm-granite/granite-mini", &o, &cp, &err), VF_OK, "%s", err.message);
    cr_expect(strstr(vf_checkpoint_dir(cp), HASH_MAIN));
    cr_expect_str_eq(vf_st_header_tensor(vf_checkpoint_shard(cp, 0)->header, 0)->name, "a.weight");
    vf_checkpoint_free(cp);
    o.revision = HASH_OLD;
    cr_assert_eq(vf_checkpoint_open("ibm-granite/granite-mini", &o, &cp, &err), VF_OK, "%s", err.message);
    cr_expect_str_eq(vf_st_header_tensor(vf_checkpoint_shard(cp, 0)->header, 0)->name, "b.weight");
    vf_checkpoint_free(cp);
    free(repo);
}

Test(checkpoint, hf_cache_root_comes_from_environment)
{
    char *repo = fake_cache();
    setenv("HF_HUB_CACHE", dir, 1);
    vf_checkpoint *cp = NULL;
    cr_expect_eq(vf_checkpoint_open("ibm-granite/granite-mini", NULL, &cp, NULL), VF_OK);
    vf_checkpoint_free(cp);
    unsetenv("HF_HUB_CACHE");
    char *home = vft_path(dir, "hfhome");
    char *hub = vft_path(home, "hub");
    cr_assert_eq(mkdir(home, 0700), 0);
    cr_assert_eq(symlink(dir, hub), 0);
    setenv("HF_HOME", home, 1);
    cr_expect_eq(vf_checkpoint_open("ibm-granite/granite-mini", NULL, &cp, NULL), VF_OK);
    vf_checkpoint_free(cp);
    unsetenv("HF_HOME");
    free(home);
    free(hub);
    free(repo);
}

Test(checkpoint, hf_errors_are_clear)
{
    char *repo = fake_cache();
    vf_open_options o = VF_OPEN_OPTIONS_INIT;
    o.hf_cache = dir;
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(vf_checkpoint_open("nobody/nothing", &o, &cp, &err), VF_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "never downloads"), "%s", err.message);
    o.revision = "v9";
    cr_expect_eq(vf_checkpoint_open("ibm-granite/granite-mini", &o, &cp, &err), VF_ERR_NOT_FOUND);
    o.revision = "../../etc";
    cr_expect_eq(vf_checkpoint_open("ibm-granite/granite-mini", &o, &cp, &err), VF_ERR_USAGE);
    /* a dangling snapshot symlink (blob deleted) names the file */
    char *blob = vft_path(repo, "blobs/abc123");
    unlink(blob);
    o.revision = NULL;
    cr_expect_eq(vf_checkpoint_open("ibm-granite/granite-mini", &o, &cp, &err), VF_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "dangling"), "%s", err.message);
    free(blob);
    free(repo);
}

/* ---- shards read while the index is parsed; header bytes kept on request ----------------------- */

Test(checkpoint, listed_file_the_index_does_not_name_is_never_an_error)
{
    two_shards();
    put("model.safetensors.index.json", INDEX_OK);
    put("zz-broken.safetensors", "not a safetensors file"); /* read ahead with the listing, dropped */
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(open_at(dir, &cp, &err), VF_OK, "%s: %s", err.file, err.message);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 2);
    vf_checkpoint_free(cp);
}

Test(checkpoint, indexed_file_outside_the_listing_is_read_too)
{
    /* a hidden name is not listed, so it is not read ahead: it must be read once the index names it */
    put_shard(".m-1.safetensors", SHARD1, 16);
    put_shard("m-2.safetensors", SHARD2, 8);
    put("model.safetensors.index.json",
        "{\"weight_map\":{\"a.weight\":\".m-1.safetensors\",\"b.weight\":\"m-2.safetensors\"}}");
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(open_at(dir, &cp, &err), VF_OK, "%s: %s", err.file, err.message);
    cr_expect_eq(vf_checkpoint_shard_count(cp), 2);
    cr_expect_str_eq(vf_checkpoint_shard(cp, 0)->name, ".m-1.safetensors");
    vf_checkpoint_free(cp);
}

Test(checkpoint, a_bad_index_is_reported_before_bad_shards)
{
    put_shard("m-1.safetensors", SHARD1, 15); /* truncated */
    put_shard("m-2.safetensors", SHARD2, 7);
    put("model.safetensors.index.json", "{\"weight_map\":{\"a.weight\":\"m-1.safetensors\",}}");
    expect_open_fails(VF_ERR_INDEX, NULL);
}

Test(checkpoint, the_first_bad_shard_in_index_order_is_reported)
{
    put_shard("m-1.safetensors", SHARD1, 16);
    put_shard("m-2.safetensors", SHARD2, 7); /* truncated */
    put_shard("m-3.safetensors", SHARD2, 9); /* too long: also bad, but named later */
    put("model.safetensors.index.json",
        "{\"weight_map\":{\"a.weight\":\"m-1.safetensors\",\"b.weight\":\"m-2.safetensors\","
        "\"c.weight\":\"m-3.safetensors\"}}");
    for (int k = 0; k < 20; k++) /* the order the threads finish in must not matter */
        expect_open_fails(VF_ERR_INCOMPLETE, "m-2.safetensors");
}

static void expect_raw(const vf_open_options *o, bool kept)
{
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_checkpoint_open(dir, o, &cp, &err), VF_OK, "%s", err.message);
    size_t len = 0;
    const uint8_t *raw = vf_st_header_raw(vf_checkpoint_shard(cp, 0)->header, &len);
    cr_expect_eq(len, strlen(SHARD1), "the length is always known");
    cr_expect_eq(vf_st_header_data_start(vf_checkpoint_shard(cp, 0)->header), 8 + strlen(SHARD1));
    size_t ilen = 0;
    const uint8_t *index = vf_checkpoint_aux(cp, "model.safetensors.index.json", &ilen);
    if (kept) {
        cr_expect(raw && memcmp(raw, SHARD1, len) == 0, "the bytes as read");
        cr_expect(index && ilen == strlen(INDEX_OK) && memcmp(index, INDEX_OK, ilen) == 0,
                  "the index's bytes as read (names are not ended in them)");
    } else {
        cr_expect_null(raw);
        cr_expect_null(index);
    }
    cr_expect(vf_checkpoint_has_index(cp));
    uint8_t *snap = NULL;
    size_t snap_len = 0;
    int rc = vf_snapshot_write(cp, &snap, &snap_len, &err);
    cr_expect_eq(rc, kept ? VF_OK : VF_ERR_USAGE, "%s", err.message);
    free(snap);
    vf_checkpoint_free(cp);
}

Test(checkpoint, header_bytes_are_kept_only_with_keep_headers)
{
    two_shards();
    put("model.safetensors.index.json", INDEX_OK);
    expect_raw(NULL, false);
    vf_open_options o = VF_OPEN_OPTIONS_INIT;
    expect_raw(&o, false);
    o.flags = VF_OPEN_KEEP_HEADERS;
    expect_raw(&o, true);
    o.version = 1; /* a version-1 struct ends before `flags`: it is not read */
    expect_raw(&o, false);
}

Test(checkpoint, of_several_duplicates_the_smallest_name_is_reported)
{
    put_shard("m-1.safetensors",
              "{\"b.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
              "\"z.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);
    put_shard("m-2.safetensors", "{\"z.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    put_shard("m-3.safetensors", "{\"b.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(open_at(dir, &cp, &err), VF_ERR_DUPLICATE);
    cr_expect_str_eq(err.tensor, "b.weight");
    cr_expect_str_eq(err.file, "m-3.safetensors");
    cr_expect(strstr(err.message, "also stored in m-1.safetensors"), "%s", err.message);
}
