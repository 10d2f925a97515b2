/* test_verify.c - `vramfit verify`: per-file structural verdicts, --data digests (checked against an
 * independent XXH3-128 of the bytes), duplicate / zero / NaN-Inf findings, manifests and --against
 * after a one-byte change, hostile manifests, and the reader's detection of changing files. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "vf_test_support.h"
#include "vramfit/vf_verify.h"

/* ---- helpers ----------------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *d = vft_read_file(from, &len);
    cr_assert_not_null(d, "cannot read %s", from);
    vft_write_file(to, d, len);
    free(d);
}

/* Copies the files of a testdata checkpoint into a fresh temp dir; returns the dir. */
static char *copy_testdata(const char *name, const char *const *files)
{
    char *dir = vft_tempdir();
    for (size_t i = 0; files[i]; i++) {
        char from[512];
        snprintf(from, sizeof from, "%s/testdata/%s/%s", VF_SOURCE_DIR, name, files[i]);
        char *to = vft_path(dir, files[i]);
        copy_file(from, to);
        free(to);
    }
    return dir;
}

static const char *const gpt2_files[] = {"config.json", "model-00001-of-00002.safetensors",
                                         "model-00002-of-00002.safetensors",
                                         "model.safetensors.index.json", NULL};
static const char *const llama_files[] = {"config.json", "model.safetensors", NULL};

static uint64_t header_len(const uint8_t *file)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | file[i];
    return n;
}

/* Flips one byte of tensor `tensor` in the safetensors file at path (by its data_offsets). */
static void flip_tensor_byte(const char *path, const char *tensor, size_t within)
{
    size_t len;
    uint8_t *d = (uint8_t *)vft_read_file(path, &len);
    uint64_t n = header_len(d);
    cJSON *h = cJSON_ParseWithLength((const char *)d + 8, n);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(h, tensor);
    cr_assert_not_null(t, "no tensor %s", tensor);
    uint64_t begin = (uint64_t)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "data_offsets"), 0)
                         ->valuedouble;
    d[8 + n + begin + within] ^= 0x01;
    vft_write_file(path, d, len);
    cJSON_Delete(h);
    free(d);
}

static size_t count_lines_with(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void hex_of(const void *data, size_t len, char out[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

/* ---- structure --------------------------------------------------------------------------------- */

Test(verify, sound_checkpoints)
{
    const char *paths[] = {VF_SOURCE_DIR "/testdata/tiny-llama", VF_SOURCE_DIR "/testdata/tiny-gpt2",
                           VF_SOURCE_DIR "/testdata/snapshots/granite-3.3-2b-instruct.vfsnap"};
    for (size_t i = 0; i < 3; i++) {
        vft_run r = vft_cli("verify", paths[i], NULL);
        cr_assert_eq(r.status, 0, "%s: %s", paths[i], r.err);
        cr_assert(strstr(r.out, "Verdict     sound\n") != NULL, "%s", r.out);
        cr_assert_eq(r.err_len, 0);
        vft_run_free(&r);
    }
    char *gen = vft_gen("mixtral-8x7b");
    vft_run r = vft_cli("verify", gen, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(count_lines_with(r.out, "\n  ok    model-"), 19, "%s", r.out);
    vft_run_free(&r);
    free(gen);
}

Test(verify, one_verdict_per_shard)
{
    char *dir = copy_testdata("tiny-gpt2", gpt2_files);
    char *bad = vft_path(dir, "model-00002-of-00002.safetensors");
    size_t len;
    uint8_t *d = (uint8_t *)vft_read_file(bad, &len);
    d[8] = '!'; /* the JSON header no longer starts with { */
    vft_write_file(bad, d, len);
    free(d);
    vft_run r = vft_cli("verify", dir, NULL);
    cr_assert_eq(r.status, 4, "%s", r.err);
    cr_assert(strstr(r.out, "  ok    model-00001-of-00002.safetensors") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "  FAIL  model-00002-of-00002.safetensors") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "NOT SOUND") != NULL);
    cr_assert(strstr(r.err, "model-00002-of-00002.safetensors") != NULL, "%s", r.err);
    cr_assert_eq(count_lines_with(r.err, "\n"), 1);
    vft_run_free(&r);
    free(bad);
    vft_rmtree(dir);
    free(dir);
}

Test(verify, index_mismatch_is_a_checkpoint_verdict)
{
    char *dir = copy_testdata("tiny-gpt2", gpt2_files);
    char *ix = vft_path(dir, "model.safetensors.index.json");
    size_t len;
    char *d = vft_read_file(ix, &len);
    cJSON *j = cJSON_Parse(d);
    cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    cJSON_ReplaceItemInObjectCaseSensitive(wm, "wte.weight",
                                           cJSON_CreateString("model-00001-of-00002.safetensors"));
    char *out = cJSON_PrintUnformatted(j);
    vft_write_file(ix, out, strlen(out));
    vft_run r = vft_cli("verify", dir, NULL);
    cr_assert_eq(r.status, 4, "%s", r.err);
    cr_assert_eq(count_lines_with(r.out, "  ok    model-0000"), 2, "%s", r.out);
    cr_assert(strstr(r.out, "  FAIL  ") != NULL && strstr(r.out, "wte.weight") != NULL, "%s", r.out);
    vft_run_free(&r);
    cJSON_free(out);
    cJSON_Delete(j);
    free(d);
    free(ix);
    vft_rmtree(dir);
    free(dir);
}

Test(verify, missing_path_and_usage)
{
    vft_run r = vft_cli("verify", "/nonexistent/checkpoint", NULL);
    cr_assert_eq(r.status, 3, "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
    r = vft_cli("verify", NULL);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    r = vft_cli("verify", "--help", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--data") && strstr(r.out, "--manifest") && strstr(r.out, "--against") &&
              strstr(r.out, "--quiet"));
    vft_run_free(&r);
    r = vft_cli("verify", "--data", VF_SOURCE_DIR "/testdata/snapshots/gpt2.vfsnap", NULL);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "holds no tensor data") != NULL);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
}

/* ---- data -------------------------------------------------------------------------------------- */

Test(verify, data_digests_equal_an_independent_xxh3_of_each_file)
{
    vft_run r = vft_cli("verify", "--data", VF_SOURCE_DIR "/testdata/tiny-gpt2", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    for (int i = 1; gpt2_files[i + 1]; i++) {
        char path[512], line[600], hex[33];
        snprintf(path, sizeof path, "%s/testdata/tiny-gpt2/%s", VF_SOURCE_DIR, gpt2_files[i]);
        size_t len;
        char *d = vft_read_file(path, &len);
        hex_of(d, len, hex);
        snprintf(line, sizeof line, "  %s  %s\n", hex, gpt2_files[i]);
        cr_assert(strstr(r.out, line) != NULL, "missing '%s' in %s", line, r.out);
        free(d);
    }
    /* GPT-2's causal-mask buffers are stored once per layer, byte for byte */
    cr_assert(strstr(r.out, "duplicate  h.1.attn.bias: bytes identical to h.0.attn.bias") != NULL,
              "%s", r.out);
    cr_assert(strstr(r.out, "Read        632,256 bytes in ") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "/s\n") != NULL);
    cr_assert_eq(r.err_len, 0, "progress bar on a non-terminal: %s", r.err);
    vft_run_free(&r);
}

/* One file: U8 "a" (3 bytes, so the F32 tensor starts at an odd offset), F32 "b" (2000 values, NaN
 * at 1023 and +Inf at 1500), BF16 "c" (all zero), BF16 "d" (a copy of "e"), BF16 "e". */
static uint8_t *findings_file(size_t *len, uint64_t *data_start)
{
    const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2000],\"data_offsets\":[3,8003]},"
                    "\"c\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[8003,8131]},"
                    "\"d\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[8131,8259]},"
                    "\"e\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[8259,8387]}}";
    uint8_t *img = vft_st_image(h, 8387, len);
    uint8_t *data = img + 8 + strlen(h);
    *data_start = 8 + strlen(h);
    memcpy(data, "\x01\x02\x03", 3);
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t bits = 0x3f800000u + i; /* finite */
        if (i == 1023)
            bits = 0x7fc00000u;
        if (i == 1500)
            bits = 0x7f800000u;
        for (int k = 0; k < 4; k++)
            data[3 + 4 * i + k] = (uint8_t)(bits >> (8 * k));
    }
    for (int i = 0; i < 128; i++)
        data[8131 + i] = data[8259 + i] = (uint8_t)(i * 3 + 1);
    return img;
}

Test(verify, findings_across_block_boundaries)
{
    char *dir = vft_tempdir();
    char *path = vft_path(dir, "model.safetensors");
    size_t len;
    uint64_t start;
    uint8_t *img = findings_file(&len, &start);
    vft_write_file(path, img, len);
    vf_st_header *h = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_st_read_file(path, NULL, &h, &err), VF_OK, "%s", err.message);
    vf_tensor_hash th[5];
    vf_digest fd;
    vf_hash_options o = VF_HASH_OPTIONS_INIT;
    o.block_size = 4096; /* NaN element 1023 of "b" spans file bytes that cross block edges */
    cr_assert_eq(vf_hash_shard(path, NULL, h, &o, &fd, th, &err), VF_OK, "%s", err.message);
    uint64_t want_nonfinite[5] = {0, 2, 0, 0, 0};
    bool want_zero[5] = {false, false, true, false, false};
    for (size_t i = 0; i < 5; i++) {
        const vf_st_tensor *t = vf_st_header_tensor(h, i);
        vf_digest d;
        vf_digest_of(img + start + t->begin, t->nbytes, &d);
        cr_assert(vf_digest_equal(&d, &th[i].digest), "digest of %s", t->name);
        cr_assert_eq(th[i].nonfinite, want_nonfinite[i], "%s: %llu", t->name,
                     (unsigned long long)th[i].nonfinite);
        cr_assert_eq(th[i].all_zero, want_zero[i], "%s", t->name);
        cr_assert_eq(th[i].float_checked, t->dtype != VF_DTYPE_U8);
    }
    vf_digest whole;
    vf_digest_of(img, len, &whole);
    cr_assert(vf_digest_equal(&whole, &fd));
    vf_st_header_free(h);

    vft_run r = vft_cli("verify", "--data", dir, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "  nan/inf    b: 2 NaN or Inf values (F32)\n") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "  zeros      c: all 128 bytes are zero\n") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "  duplicate  e: bytes identical to d (128 bytes)\n") != NULL, "%s", r.out);
    vft_run_free(&r);
    free(img);
    free(path);
    vft_rmtree(dir);
    free(dir);
}

/* Truncates the file after the first block has been read. */
static void shrink_cb(void *user, uint64_t bytes)
{
    (void)bytes;
    const char *path = user;
    cr_assert_eq(truncate(path, 5000), 0);
}

Test(verify, detects_a_file_that_shrinks_or_changes)
{
    char *dir = copy_testdata("tiny-llama", llama_files);
    char *path = vft_path(dir, "model.safetensors");
    vf_st_header *h = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_st_read_file(path, NULL, &h, &err), VF_OK);
    vf_tensor_hash *th = calloc(vf_st_header_count(h), sizeof *th);
    vf_digest fd;

    /* header bytes rewritten in place, same size */
    size_t len;
    uint8_t *d = (uint8_t *)vft_read_file(path, &len);
    uint8_t saved = d[8 + 2];
    d[8 + 2] = 'X';
    vft_write_file(path, d, len);
    cr_assert_eq(vf_hash_shard(path, NULL, h, NULL, &fd, th, &err), VF_ERR_IO);
    cr_assert(strstr(err.message, "header bytes changed") != NULL, "%s", err.message);
    d[8 + 2] = saved;

    /* grown */
    uint8_t *big = malloc(len + 1);
    memcpy(big, d, len);
    big[len] = 0;
    vft_write_file(path, big, len + 1);
    cr_assert_eq(vf_hash_shard(path, NULL, h, NULL, &fd, th, &err), VF_ERR_IO);
    cr_assert(strstr(err.message, "changed since") != NULL, "%s", err.message);
    free(big);

    /* shrinks while being read */
    vft_write_file(path, d, len);
    vf_hash_options o = VF_HASH_OPTIONS_INIT;
    o.block_size = 4096;
    o.progress = shrink_cb;
    o.user = path;
    cr_assert_eq(vf_hash_shard(path, "model.safetensors", h, &o, &fd, th, &err), VF_ERR_IO);
    cr_assert(strstr(err.message, "shrank while being read") != NULL, "%s", err.message);
    cr_assert_str_eq(err.file, "model.safetensors");
    free(d);
    free(th);
    vf_st_header_free(h);
    free(path);
    vft_rmtree(dir);
    free(dir);
}

/* ---- manifests --------------------------------------------------------------------------------- */

static void manifest_then_against(const char *name, const char *const *files, const char *shard,
                                  const char *tensor)
{
    char *work = vft_tempdir();
    char *manifest = vft_path(work, "manifest.json");
    char src[512];
    snprintf(src, sizeof src, "%s/testdata/%s", VF_SOURCE_DIR, name);
    vft_run r = vft_cli("verify", "--data", "--manifest", manifest, src, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "Manifest    ") != NULL);
    vft_run_free(&r);

    char *copy = copy_testdata(name, files);
    r = vft_cli("verify", "--against", manifest, copy, NULL);
    cr_assert_eq(r.status, 0, "unchanged copy differs: %s %s", r.out, r.err);
    cr_assert(strstr(r.out, "identical: ") != NULL);
    vft_run_free(&r);

    char *victim = vft_path(copy, shard);
    flip_tensor_byte(victim, tensor, 5);
    r = vft_cli("verify", "--against", manifest, copy, NULL);
    cr_assert_eq(r.status, 5, "%s", r.err);
    char want[512];
    snprintf(want, sizeof want, "  differs  tensor %s (%s): xxh3-128 ", tensor, shard);
    cr_assert(strstr(r.out, want) != NULL, "%s", r.out);
    cr_assert_eq(count_lines_with(r.out, "  differs  tensor "), 1, "%s", r.out);
    cr_assert_eq(count_lines_with(r.out, "  missing  "), 0);
    cr_assert_eq(count_lines_with(r.out, "  extra    "), 0);
    snprintf(want, sizeof want, "  differs  file %s: ", shard);
    cr_assert(strstr(r.out, want) != NULL, "%s", r.out);
    cr_assert(strstr(r.err, "difference") != NULL && count_lines_with(r.err, "\n") == 1, "%s", r.err);
    vft_run_free(&r);
    free(victim);
    vft_rmtree(copy);
    free(copy);
    free(manifest);
    vft_rmtree(work);
    free(work);
}

Test(verify, against_names_exactly_the_changed_tensor_llama)
{
    manifest_then_against("tiny-llama", llama_files, "model.safetensors",
                          "model.layers.1.self_attn.k_proj.weight");
}

Test(verify, against_names_exactly_the_changed_tensor_gpt2)
{
    manifest_then_against("tiny-gpt2", gpt2_files, "model-00002-of-00002.safetensors", "wpe.weight");
}

Test(verify, against_lists_missing_and_extra_tensors)
{
    char *work = vft_tempdir();
    char *manifest = vft_path(work, "m.json");
    vft_run r = vft_cli("verify", "--manifest", manifest, VF_SOURCE_DIR "/testdata/tiny-llama", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    size_t len;
    char *d = vft_read_file(manifest, &len);
    cJSON *j = cJSON_Parse(d);
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "tensors"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(t0, "name", cJSON_CreateString("renamed.weight"));
    char *out = cJSON_PrintUnformatted(j);
    vft_write_file(manifest, out, strlen(out));
    r = vft_cli("verify", "--against", manifest, VF_SOURCE_DIR "/testdata/tiny-llama", NULL);
    cr_assert_eq(r.status, 5, "%s", r.err);
    cr_assert(strstr(r.out, "  missing  tensor renamed.weight (expected in model.safetensors)") != NULL,
              "%s", r.out);
    cr_assert(strstr(r.out, "  extra    tensor lm_head.weight (model.safetensors") != NULL, "%s",
              r.out);
    vft_run_free(&r);
    cJSON_free(out);
    cJSON_Delete(j);
    free(d);
    free(manifest);
    vft_rmtree(work);
    free(work);
}

Test(verify, hostile_manifests_are_clear_errors)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{", "not valid JSON"},
        {"[]", "not a JSON object"},
        {"{\"format\":\"other\"}", "not a vramfit manifest"},
        {"{\"format\":\"vramfit-manifest\",\"version\":2}", "version 2 is not supported"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"md5\"}", "not supported"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"xxh3-128\",\"shards\":{}}",
         "\"shards\" is not an array"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"xxh3-128\",\"shards\":[{\"name\":"
         "\"../x\",\"size\":1,\"header_xxh3_128\":\"00000000000000000000000000000000\",\"xxh3_128\":"
         "\"00000000000000000000000000000000\"}],\"tensors\":[]}",
         "not a plain file name"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"xxh3-128\",\"shards\":[{\"name\":"
         "\"a\",\"size\":-1,\"header_xxh3_128\":\"00000000000000000000000000000000\",\"xxh3_128\":"
         "\"00000000000000000000000000000000\"}],\"tensors\":[]}",
         "\"size\" is not an integer"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"xxh3-128\",\"shards\":[{\"name\":"
         "\"a\",\"size\":1,\"header_xxh3_128\":\"zz\",\"xxh3_128\":\"00\"}],\"tensors\":[]}",
         "not a 32-digit hex"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"xxh3-128\",\"shards\":[],"
         "\"tensors\":[{\"name\":\"t\",\"file\":\"a\",\"dtype\":\"F32\",\"shape\":[1],\"bytes\":4,"
         "\"xxh3_128\":\"00000000000000000000000000000000\"}]}",
         "is not one of the manifest's shards"},
        {"{\"format\":\"vramfit-manifest\",\"version\":1,\"version\":1}", "appears twice"},
    };
    char *work = vft_tempdir();
    char *m = vft_path(work, "m.json");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vft_write_file(m, cases[i].json, strlen(cases[i].json));
        vft_run r = vft_cli("verify", "--against", m, VF_SOURCE_DIR "/testdata/tiny-llama", NULL);
        cr_assert_eq(r.status, 4, "case %zu: %d %s", i, r.status, r.err);
        cr_assert_eq(r.out_len, 0);
        cr_assert(strstr(r.err, cases[i].msg) != NULL, "case %zu: want '%s' in %s", i, cases[i].msg,
                  r.err);
        cr_assert(strstr(r.err, "m.json") != NULL);
        vft_run_free(&r);
    }
    free(m);
    vft_rmtree(work);
    free(work);
}

Test(verify, manifest_output_is_atomic)
{
    vft_run r = vft_cli("verify", "--manifest", "/nonexistent/dir/m.json",
                        VF_SOURCE_DIR "/testdata/tiny-llama", NULL);
    cr_assert_eq(r.status, 3, "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
}

/* ---- --json with --data, --sha256, --against; shards hashed in parallel -------------------------- */

static const cJSON *member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert_not_null(v, "member %s missing", key);
    return v;
}

/* The one entry of array `key` of d.data, checked to name `tensor`. */
static const cJSON *only_finding(const cJSON *data, const char *key, const char *tensor)
{
    const cJSON *a = member(data, key);
    cr_assert(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 1, "%s: one entry", key);
    const cJSON *e = cJSON_GetArrayItem(a, 0);
    cr_assert_str_eq(member(e, "tensor")->valuestring, tensor, "%s", key);
    cr_assert_str_eq(member(e, "file")->valuestring, "model.safetensors");
    return e;
}

Test(verify, data_json_is_one_document_with_the_findings)
{
    char *dir = vft_tempdir(), *path = vft_path(dir, "model.safetensors");
    size_t len;
    uint64_t start;
    uint8_t *img = findings_file(&len, &start);
    vft_write_file(path, img, len);
    vft_run r = vft_cli("verify", "--data", "--json", dir, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *d = cJSON_Parse(r.out);
    cr_assert(cJSON_IsObject(d), "one JSON document: %s", r.out);
    cr_assert_str_eq(member(d, "schema")->valuestring, "vramfit/1");
    cr_assert(cJSON_IsTrue(member(d, "sound")));
    const cJSON *data = member(d, "data");
    cr_assert_str_eq(member(data, "hash")->valuestring, "xxh3-128");
    cr_assert_eq(member(data, "read_bytes")->valuedouble, (double)len);
    const cJSON *file = cJSON_GetArrayItem(member(data, "files"), 0);
    char hex[33];
    hex_of(img, len, hex);
    cr_assert_str_eq(member(file, "xxh3_128")->valuestring, hex, "the file digest is xxh128sum's");
    hex_of(img + 8, start - 8, hex);
    cr_assert_str_eq(member(file, "header_xxh3_128")->valuestring, hex);
    cr_assert_eq(member(file, "size_bytes")->valuedouble, (double)len);
    const cJSON *nan = only_finding(data, "nonfinite", "b");
    cr_assert_eq(member(nan, "count")->valuedouble, 2);
    cr_assert_str_eq(member(nan, "dtype")->valuestring, "F32");
    cr_assert_eq(member(only_finding(data, "all_zero", "c"), "tensor_bytes")->valuedouble, 128);
    cr_assert_str_eq(member(only_finding(data, "duplicates", "e"), "same_as")->valuestring, "d");
    cr_assert_null(cJSON_GetObjectItem(d, "sha256"), "no SHA-256 unless asked outside a cache");
    cr_assert_eq(r.err_len, 0, "%s", r.err);
    cJSON_Delete(d);
    vft_run_free(&r);
    free(img);
    free(path);
    vft_rmtree(dir);
    free(dir);
}

Test(verify, json_against_lists_the_differences_and_exits_5)
{
    char *work = vft_tempdir(), *manifest = vft_path(work, "m.json");
    char *copy = copy_testdata("tiny-llama", llama_files), *shard = vft_path(copy, "model.safetensors");
    vft_run r = vft_cli("verify", "--json", "--manifest", manifest, copy, NULL);
    cr_assert_eq(r.status, 0, "--manifest implies --data: %s", r.err);
    cJSON *d = cJSON_Parse(r.out);
    cr_assert(cJSON_IsObject(member(d, "data")), "%s", r.out);
    cJSON_Delete(d);
    vft_run_free(&r);
    r = vft_cli("verify", "--json", "--against", manifest, copy, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    d = cJSON_Parse(r.out);
    cr_assert(cJSON_IsTrue(member(member(d, "against"), "identical")), "%s", r.out);
    cJSON_Delete(d);
    vft_run_free(&r);

    flip_tensor_byte(shard, "model.norm.weight", 1);
    r = vft_cli("verify", "--json", "--against", manifest, copy, NULL);
    cr_assert_eq(r.status, 5, "%s", r.err);
    cr_assert_eq(count_lines_with(r.err, "\n"), 1, "one stderr line: %s", r.err);
    d = cJSON_Parse(r.out);
    cr_assert(cJSON_IsObject(d), "the document before exit 5: %s", r.out);
    const cJSON *against = member(d, "against");
    cr_assert(cJSON_IsFalse(member(against, "identical")));
    const cJSON *diffs = member(against, "differences");
    cr_assert_eq(cJSON_GetArraySize(diffs), 2, "the file and the tensor: %s", r.out);
    const char *want[2][2] = {{"file", "model.safetensors"}, {"tensor", "model.norm.weight"}};
    for (int i = 0; i < 2; i++) {
        const cJSON *x = cJSON_GetArrayItem(diffs, i);
        cr_assert_str_eq(member(x, "kind")->valuestring, want[i][0], "%s", r.out);
        cr_assert_str_eq(member(x, "name")->valuestring, want[i][1], "%s", r.out);
        cr_assert_str_eq(member(x, "change")->valuestring, "differs");
        const cJSON *fields = member(x, "fields");
        cr_assert(cJSON_GetArraySize(fields) == 1 && strcmp(fields->child->valuestring, "xxh3_128") == 0,
                  "%s", r.out);
        cr_assert(strcmp(member(x, "xxh3_128")->valuestring, member(x, "expected_xxh3_128")->valuestring) != 0);
    }
    cJSON_Delete(d);
    vft_run_free(&r);
    free(shard);
    vft_rmtree(copy);
    free(copy);
    free(manifest);
    vft_rmtree(work);
    free(work);
}

Test(verify, json_sha256_outside_a_cache_lists_what_sha256sum_prints)
{
    const char *argv[] = {"/bin/sh", "-c", "sha256sum '" VF_SOURCE_DIR "/testdata/tiny-llama/model.safetensors'", NULL};
    vft_run s = vft_exec(argv, NULL);
    cr_assert_eq(s.status, 0, "%s", s.err);
    s.out[64] = '\0';
    vft_run r = vft_cli("verify", "--sha256", "--json", VF_SOURCE_DIR "/testdata/tiny-llama", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *d = cJSON_Parse(r.out);
    const cJSON *sha = member(d, "sha256");
    cr_assert(cJSON_IsFalse(member(sha, "in_cache")));
    bool found = false;
    for (const cJSON *f = member(sha, "files")->child; f; f = f->next) {
        cr_assert(cJSON_IsNull(member(f, "matches")), "nothing to check against outside a cache");
        cr_assert_str_eq(member(f, "kind")->valuestring, "unnamed");
        if (strcmp(member(f, "name")->valuestring, "model.safetensors") == 0) {
            cr_assert_str_eq(member(f, "sha256")->valuestring, s.out);
            found = true;
        }
    }
    cr_assert(found, "%s", r.out);
    cr_assert_null(cJSON_GetObjectItem(d, "data"), "no --data: no data member");
    cJSON_Delete(d);
    vft_run_free(&r);
    vft_run_free(&s);
}

/* vf_hash_shards (two jobs: one whole shard per thread on two CPUs) against vf_hash_shard one at a
 * time (a reader and a hasher thread): the same digests; a failing job keeps its own error and the
 * call returns the lowest-index failure while the other jobs complete. */
Test(verify, parallel_shards_agree_with_one_at_a_time)
{
    vf_st_header *h[2] = {NULL, NULL};
    vf_tensor_hash *one[2], *par[2];
    vf_hash_job jobs[3];
    char path[2][512];
    vf_error err = {0};
    for (int i = 0; i < 2; i++) {
        snprintf(path[i], sizeof path[i], "%s/testdata/tiny-gpt2/%s", VF_SOURCE_DIR, gpt2_files[i + 1]);
        cr_assert_eq(vf_st_read_file(path[i], NULL, &h[i], &err), VF_OK, "%s", err.message);
        size_t n = vf_st_header_count(h[i]);
        one[i] = calloc(n, sizeof *one[i]);
        par[i] = calloc(n, sizeof *par[i]);
        vf_digest fd;
        cr_assert_eq(vf_hash_shard(path[i], NULL, h[i], NULL, &fd, one[i], &err), VF_OK, "%s", err.message);
        jobs[i] = (vf_hash_job){.path = path[i], .display = gpt2_files[i + 1], .header = h[i], .tensors = par[i]};
        (void)fd;
    }
    jobs[2] = (vf_hash_job){.path = "/nonexistent/x.safetensors", .display = "x.safetensors", .header = h[0],
                            .tensors = calloc(vf_st_header_count(h[0]), sizeof(vf_tensor_hash))};
    cr_assert_eq(vf_hash_shards(jobs, 0, NULL), VF_OK, "no shards: nothing to do");
    cr_assert_eq(vf_hash_shards(jobs, 2, NULL), VF_OK);
    for (int i = 0; i < 2; i++) {
        vf_digest fd;
        cr_assert_eq(vf_hash_shard(path[i], NULL, h[i], NULL, &fd, one[i], &err), VF_OK);
        cr_assert(vf_digest_equal(&fd, &jobs[i].digest), "file digest of %s", path[i]);
        for (size_t t = 0; t < vf_st_header_count(h[i]); t++) {
            cr_assert(vf_digest_equal(&one[i][t].digest, &par[i][t].digest), "tensor %zu of %s", t, path[i]);
            cr_assert_eq(one[i][t].all_zero, par[i][t].all_zero);
            cr_assert_eq(one[i][t].nonfinite, par[i][t].nonfinite);
        }
    }
    vf_hash_job swapped[3] = {jobs[1], jobs[2], jobs[0]};
    cr_assert_eq(vf_hash_shards(swapped, 3, NULL), VF_ERR_NOT_FOUND);
    cr_assert_eq(swapped[1].status, VF_ERR_NOT_FOUND);
    cr_assert_str_eq(swapped[1].error.file, "x.safetensors");
    cr_assert(swapped[0].status == VF_OK && swapped[2].status == VF_OK, "the other shards complete");
    cr_assert(vf_digest_equal(&swapped[2].digest, &jobs[0].digest));
    free(jobs[2].tensors);
    for (int i = 0; i < 2; i++) {
        free(one[i]);
        free(par[i]);
        vf_st_header_free(h[i]);
    }
}
