/* test_cli_inspect.c - `vramfit inspect` end to end: JSON keys and values, human output, exit codes,
 * and nothing on stdout when the input is bad. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"

static cJSON *inspect_json(const char *path, const char *extra)
{
    vft_run r = extra ? vft_cli("inspect", "--json", extra, path, NULL) : vft_cli("inspect", "--json", path, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_eq(r.err_len, 0, "quiet stderr: %s", r.err);
    cJSON *doc = cJSON_Parse(r.out);
    cr_assert_not_null(doc, "stdout is one JSON document: %.200s", r.out);
    vft_run_free(&r);
    return doc;
}

static double num(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    cr_assert(cJSON_IsNumber(cur), "%s is a number", path);
    return cur->valuedouble;
}

Test(inspect, granite_json_reports_published_architecture)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    cJSON *d = inspect_json(p, NULL);
    cr_expect_str_eq(cJSON_GetObjectItem(d, "format")->valuestring, "safetensors");
    cr_expect_eq(num(d, "files"), 2);
    cr_expect_eq(num(d, "tensors"), 362);
    cr_expect_eq(num(d, "parameters"), 2533539840.0);
    cr_expect_eq(num(d, "buffers"), 0);
    cr_expect_eq(num(d, "bytes"), 5067079680.0);
    cr_expect_eq(num(d, "dtypes.BF16.tensors"), 362);
    cr_expect_eq(num(d, "dtypes.BF16.bytes"), 5067079680.0);
    cr_expect_eq(num(d, "architecture.layers"), 40);
    cr_expect_eq(num(d, "architecture.hidden_size"), 2048);
    cr_expect_eq(num(d, "architecture.vocab_size"), 49159);
    cr_expect_eq(num(d, "architecture.experts"), 0);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "architecture"), "tied_embeddings")));
    const cJSON *ix = cJSON_GetObjectItem(d, "index");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(ix, "present")));
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(ix, "consistent")));
    cr_expect_eq(num(d, "index.total_size"), 5067079680.0);
    cr_expect(cJSON_IsArray(cJSON_GetObjectItem(d, "findings")));
    cr_expect_null(cJSON_GetObjectItem(d, "tensor_list"), "only with --tensors");
    cJSON_Delete(d);
    free(p);
}

Test(inspect, llama_2_7b_json_separates_buffers)
{
    char *p = vft_gen("llama-2-7b");
    cJSON *d = inspect_json(p, NULL);
    cr_expect_eq(num(d, "parameters"), 6738415616.0);
    cr_expect_eq(num(d, "buffers"), 2048);
    cr_expect_eq(num(d, "buffer_tensors"), 32);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "architecture"), "tied_embeddings")));
    cJSON_Delete(d);
    free(p);
}

Test(inspect, tensor_list_has_every_tensor_with_layer_and_role)
{
    char *p = vft_path(VF_SOURCE_DIR, "testdata/tiny-gpt2");
    cJSON *d = inspect_json(p, "--tensors");
    const cJSON *list = cJSON_GetObjectItem(d, "tensor_list");
    cr_assert_eq(cJSON_GetArraySize(list), (int)num(d, "tensors"));
    double sum = 0;
    int buffers = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, list)
    {
        sum += cJSON_GetObjectItem(t, "numel")->valuedouble * !cJSON_IsTrue(cJSON_GetObjectItem(t, "buffer"));
        buffers += cJSON_IsTrue(cJSON_GetObjectItem(t, "buffer"));
        const cJSON *name = cJSON_GetObjectItem(t, "name");
        if (strcmp(name->valuestring, "h.1.attn.c_attn.weight") == 0) {
            cr_expect_eq(cJSON_GetObjectItem(t, "layer")->valuedouble, 1);
            cr_expect_str_eq(cJSON_GetObjectItem(t, "role")->valuestring, "attn_qkv");
            cr_expect_str_eq(cJSON_GetObjectItem(t, "dtype")->valuestring, "F32");
            cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(t, "shape")), 2);
        }
        if (strcmp(name->valuestring, "wte.weight") == 0)
            cr_expect(cJSON_IsNull(cJSON_GetObjectItem(t, "layer")));
    }
    cr_expect_eq(sum, num(d, "parameters"), "tensor_list sums to the parameter count");
    cr_expect_eq(buffers, 2);
    cJSON_Delete(d);
    free(p);
}

Test(inspect, by_layer_totals_sum_to_parameters)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    cJSON *d = inspect_json(p, "--by-layer");
    const cJSON *layers = cJSON_GetObjectItem(d, "layers"), *l;
    cr_assert_eq(cJSON_GetArraySize(layers), 40);
    double sum = num(d, "non_layer_parameters");
    cJSON_ArrayForEach(l, layers) sum += cJSON_GetObjectItem(l, "parameters")->valuedouble;
    cr_expect_eq(sum, 2533539840.0);
    cJSON_Delete(d);
    free(p);
}

Test(inspect, human_summary_labels_units)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    vft_run r = vft_cli("inspect", p, NULL);
    cr_assert_eq(r.status, 0);
    cr_expect(strstr(r.out, "Parameters    2,533,539,840"), "%s", r.out);
    cr_expect(strstr(r.out, "5,067,079,680 (4.72 GiB)"), "%s", r.out); /* issue 11: three significant digits */
    cr_expect(strstr(r.out, "40 layers, hidden size 2048, vocabulary 49159, tied embeddings"), "%s", r.out);
    vft_run_free(&r);
    free(p);
}

Test(inspect, bad_input_gives_one_line_documented_exit_and_empty_stdout)
{
    char *dir = vft_tempdir();
    char *f = vft_path(dir, "bad.safetensors");
    size_t len;
    uint8_t *img = vft_st_image("{\"w\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &len);
    vft_write_file(f, img, len);
    vft_run r = vft_cli("inspect", "--json", f, NULL);
    cr_expect_eq(r.status, 4, "invalid input exit code");
    cr_expect_eq(r.out_len, 0, "nothing on stdout");
    cr_expect(strstr(r.err, "bad.safetensors: tensor 'w': unknown dtype \"F99\""), "%s", r.err);
    cr_expect_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "exactly one line: %s", r.err);
    vft_run_free(&r);
    r = vft_cli("inspect", "/nonexistent/x.safetensors", NULL);
    cr_expect_eq(r.status, 3, "missing file exit code");
    cr_expect_eq(r.out_len, 0);
    vft_run_free(&r);
    r = vft_cli("inspect", "--frobnicate", f, NULL);
    cr_expect_eq(r.status, 2, "usage exit code");
    vft_run_free(&r);
    r = vft_cli("inspect", NULL);
    cr_expect_eq(r.status, 2);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
    free(f);
    free(img);
}

Test(inspect, help_and_version)
{
    vft_run r = vft_cli("--help", NULL);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "exit codes"), "%s", r.out);
    vft_run_free(&r);
    r = vft_cli("--version", NULL);
    cr_expect_eq(r.status, 0);
    cr_expect(strncmp(r.out, "vramfit ", 8) == 0, "%s", r.out);
    vft_run_free(&r);
    r = vft_cli("inspect", "--help", NULL);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "--tensors"), "%s", r.out);
    vft_run_free(&r);
}
