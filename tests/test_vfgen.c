/* test_vfgen.c - checks the checkpoints written by tools/vfgen with a small cJSON reader local to
 * this test (independent of vramfit's own parser): exact published parameter counts, contiguous
 * name-ordered data_offsets, 8-byte header padding, file size = 8 + N + data, index total_size and
 * weight_map, the committed testdata/ and the adapter command. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_test_support.h"

/* Totals over the files of one checkpoint. */
typedef struct totals {
    uint64_t params;  /* numel of non-buffer tensors */
    uint64_t bytes;   /* sum of data_offsets spans */
    size_t tensors;
} totals;

static uint64_t json_u64(const cJSON *v)
{
    cr_assert(cJSON_IsNumber(v));
    double d = v->valuedouble;
    cr_assert(isfinite(d) && d >= 0 && d == floor(d) && d <= 9007199254740992.0);
    return (uint64_t)d;
}

static uint64_t dtype_size(const char *dt)
{
    if (strcmp(dt, "F32") == 0)
        return 4;
    cr_assert(strcmp(dt, "BF16") == 0 || strcmp(dt, "F16") == 0, "dtype %s", dt);
    return 2;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Buffers vfgen stores but that are not parameters: rotary inv_freq and GPT-2's causal mask. */
static bool is_buffer(const char *name)
{
    return ends_with(name, ".inv_freq") || ends_with(name, ".attn.bias");
}

/* Reads the JSON header of a safetensors file; asserts 8-byte padding; *size_out = file size. */
static cJSON *read_header(const char *path, uint64_t *n_out, uint64_t *size_out)
{
    struct stat st;
    unsigned char pre[8];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fstat(fileno(f), &st), 0);
    cr_assert_eq(fread(pre, 1, 8, f), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | pre[i];
    cr_assert(n <= 100000000 && n + 8 <= (uint64_t)st.st_size, "%s: header length", path);
    cr_assert_eq(n % 8, 0, "%s: header not padded to 8 bytes", path);
    char *h = malloc(n);
    cr_assert_not_null(h);
    cr_assert_eq(fread(h, 1, n, f), n);
    fclose(f);
    cJSON *j = cJSON_ParseWithLength(h, n);
    cr_assert_not_null(j, "%s: header is not JSON", path);
    free(h);
    *n_out = n;
    *size_out = (uint64_t)st.st_size;
    return j;
}

/* Checks one tensor entry and returns its byte span; adds numel to t->params unless a buffer. */
static uint64_t check_entry(const cJSON *e, uint64_t expect_begin, totals *t)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    cr_assert(cJSON_IsString(dt) && cJSON_IsArray(shape) && cJSON_GetArraySize(off) == 2);
    uint64_t numel = 1;
    for (const cJSON *d = shape->child; d; d = d->next)
        numel *= json_u64(d);
    uint64_t begin = json_u64(off->child), end = json_u64(off->child->next);
    cr_assert_eq(begin, expect_begin, "%s: offsets not contiguous in name order", e->string);
    cr_assert_eq(end - begin, numel * dtype_size(dt->valuestring), "%s: span", e->string);
    if (!is_buffer(e->string))
        t->params += numel;
    t->tensors++;
    return end - begin;
}

/* Checks one safetensors file: names sorted, offsets contiguous, size = 8 + N + data; entries must
 * map to `shard` in weight_map when given. */
static void check_file(const char *path, const cJSON *weight_map, const char *shard, totals *t)
{
    uint64_t n, size, data = 0;
    cJSON *h = read_header(path, &n, &size);
    const char *prev = "";
    for (const cJSON *e = h->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        cr_assert_gt(strcmp(e->string, prev), 0, "%s: %s out of order", path, e->string);
        prev = e->string;
        data += check_entry(e, data, t);
        if (weight_map) {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(weight_map, e->string);
            cr_assert(cJSON_IsString(w) && strcmp(w->valuestring, shard) == 0, "%s", e->string);
        }
    }
    cr_assert_eq(size, 8 + n + data, "%s: file size", path);
    t->bytes += data;
    cJSON_Delete(h);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Checks the shards of an indexed checkpoint and the index's total_size and entry count. */
static void check_indexed(const char *dir, const char *index_path, totals *t)
{
    char *text = vft_read_file(index_path, NULL);
    cJSON *ix = cJSON_Parse(text);
    cr_assert_not_null(ix);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(ix, "weight_map");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(ix, "metadata");
    const char *last = "";
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (strcmp(e->valuestring, last) == 0)
            continue; /* vfgen's shards are contiguous runs in name order */
        last = e->valuestring;
        char *path = vft_path(dir, last);
        check_file(path, wm, last, t);
        free(path);
    }
    cr_assert_eq(json_u64(cJSON_GetObjectItemCaseSensitive(md, "total_size")), t->bytes);
    cr_assert_eq((size_t)cJSON_GetArraySize(wm), t->tensors);
    cJSON_Delete(ix);
    free(text);
}

static totals check_checkpoint(const char *dir)
{
    totals t = {0, 0, 0};
    char *index = vft_path(dir, "model.safetensors.index.json");
    char *single = vft_path(dir, "model.safetensors");
    if (exists(index))
        check_indexed(dir, index, &t);
    else
        check_file(single, NULL, NULL, &t);
    free(index);
    free(single);
    return t;
}

static void check_model(const char *name, uint64_t params, bool sharded)
{
    char *dir = vft_gen(name);
    char *index = vft_path(dir, "model.safetensors.index.json");
    cr_assert_eq(exists(index), sharded, "%s: index presence", name);
    totals t = check_checkpoint(dir);
    cr_assert_eq(t.params, params, "%s: %llu params, want %llu", name,
                 (unsigned long long)t.params, (unsigned long long)params);
    free(index);
    free(dir);
}

Test(vfgen, granite_3_3_2b) { check_model("granite-3.3-2b-instruct", 2533539840ULL, true); }
Test(vfgen, llama_2_7b) { check_model("llama-2-7b", 6738415616ULL, true); }
Test(vfgen, llama_3_1_8b) { check_model("llama-3.1-8b", 8030261248ULL, true); }
Test(vfgen, llama_3_1_70b) { check_model("llama-3.1-70b", 70553706496ULL, true); }
/* meta-llama/Llama-3.2-3B: PEFT method_comparison reports num_total_params 3212749824 */
Test(vfgen, llama_3_2_3b) { check_model("llama-3.2-3b", 3212749824ULL, true); }
Test(vfgen, mistral_7b) { check_model("mistral-7b-v0.1", 7241732096ULL, true); }
Test(vfgen, mixtral_8x7b) { check_model("mixtral-8x7b", 46702792704ULL, true); }
Test(vfgen, phi_3_mini_4k) { check_model("phi-3-mini-4k", 3821079552ULL, true); }
Test(vfgen, qwen2_5_7b) { check_model("qwen2.5-7b", 7615616512ULL, true); }
Test(vfgen, gpt2) { check_model("gpt2", 124439808ULL, false); }

static vft_run run_vfgen(const char *const *args)
{
    return vft_exec(args, NULL);
}

Test(vfgen, list_names_every_model_with_its_count)
{
    const char *const argv[] = {VF_VFGEN, "list", NULL};
    vft_run r = run_vfgen(argv);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "llama-3.1-70b\t70553706496\n"));
    cr_assert_not_null(strstr(r.out, "gpt2\t124439808\n"));
    cr_assert_not_null(strstr(r.out, "deepseek-v3\t671026419200\n"));
    vft_run_free(&r);
}

Test(vfgen, bad_usage_exits_2_and_io_error_exits_1)
{
    const char *const a[] = {VF_VFGEN, NULL};
    const char *const b[] = {VF_VFGEN, "model", "no-such-model", "/tmp", NULL};
    const char *const c[] = {VF_VFGEN, "model", "gpt2", "/proc/vfgen-cannot-create", NULL};
    vft_run r = run_vfgen(a);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    r = run_vfgen(b);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    r = run_vfgen(c);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.err, "vfgen: "));
    vft_run_free(&r);
}

/* Asserts dir_a/name and dir_b/name hold the same bytes. */
static void assert_same_file(const char *dir_a, const char *dir_b, const char *name)
{
    char *pa = vft_path(dir_a, name), *pb = vft_path(dir_b, name);
    size_t na, nb;
    char *a = vft_read_file(pa, &na), *b = vft_read_file(pb, &nb);
    cr_assert(a && b && na == nb && memcmp(a, b, na) == 0, "%s differs from %s", pa, pb);
    free(a);
    free(b);
    free(pa);
    free(pb);
}

Test(vfgen, tiny_regenerates_committed_testdata)
{
    char *tmp = vft_tempdir();
    const char *const argv[] = {VF_VFGEN, "tiny", tmp, NULL};
    vft_run r = run_vfgen(argv);
    cr_assert_eq(r.status, 0);
    vft_run_free(&r);
    char *gen = vft_path(tmp, "tiny-llama"), *gpt = vft_path(tmp, "tiny-gpt2");
    assert_same_file(gen, VF_SOURCE_DIR "/testdata/tiny-llama", "model.safetensors");
    assert_same_file(gpt, VF_SOURCE_DIR "/testdata/tiny-gpt2", "model-00001-of-00002.safetensors");
    assert_same_file(gpt, VF_SOURCE_DIR "/testdata/tiny-gpt2", "model.safetensors.index.json");
    cr_assert_eq(check_checkpoint(VF_SOURCE_DIR "/testdata/tiny-llama").params, 106816);
    cr_assert_eq(check_checkpoint(VF_SOURCE_DIR "/testdata/tiny-gpt2").params, 124672);
    free(gen);
    free(gpt);
    vft_rmtree(tmp);
    free(tmp);
}

/* Returns the shape dims [a, b] of tensor name in a safetensors file (real-bytes file checked). */
static void tensor_shape(const char *path, const char *name, uint64_t *a, uint64_t *b)
{
    uint64_t n, size;
    totals t = {0, 0, 0};
    check_file(path, NULL, NULL, &t);
    cJSON *h = read_header(path, &n, &size);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(h, name);
    cr_assert_not_null(e, "%s missing", name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "shape");
    cr_assert_eq(cJSON_GetArraySize(s), 2);
    *a = json_u64(s->child);
    *b = json_u64(s->child->next);
    cJSON_Delete(h);
}

Test(vfgen, adapter_matches_committed_and_wrong_rank_breaks_first_lora_a)
{
    char *tmp = vft_tempdir();
    const char *const ok[] = {VF_VFGEN, "adapter", VF_SOURCE_DIR "/testdata/tiny-llama", tmp,
                              "--r", "4", "--targets", "q_proj,v_proj", NULL};
    vft_run r = run_vfgen(ok);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    assert_same_file(tmp, VF_SOURCE_DIR "/testdata/tiny-llama-lora", "adapter_model.safetensors");
    const char *const bad[] = {VF_VFGEN, "adapter", VF_SOURCE_DIR "/testdata/tiny-llama", tmp,
                               "--r", "4", "--targets", "q_proj,v_proj", "--wrong-rank", NULL};
    r = run_vfgen(bad);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    char *path = vft_path(tmp, "adapter_model.safetensors");
    uint64_t a, b;
    tensor_shape(path, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", &a, &b);
    cr_assert(a == 5 && b == 64);
    tensor_shape(path, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", &a, &b);
    cr_assert(a == 32 && b == 4);
    free(path);
    vft_rmtree(tmp);
    free(tmp);
}

Test(vfgen, gpt2_adapter_uses_conv1d_in_out_and_peft_prefix)
{
    char *tmp = vft_tempdir();
    const char *const argv[] = {VF_VFGEN, "adapter", VF_SOURCE_DIR "/testdata/tiny-gpt2", tmp,
                                "--r", "2", "--targets", "c_attn", NULL};
    vft_run r = run_vfgen(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    char *path = vft_path(tmp, "adapter_model.safetensors");
    uint64_t a, b;
    tensor_shape(path, "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", &a, &b);
    cr_assert(a == 2 && b == 64);
    tensor_shape(path, "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight", &a, &b);
    cr_assert(a == 192 && b == 2);
    free(path);
    vft_rmtree(tmp);
    free(tmp);
}
