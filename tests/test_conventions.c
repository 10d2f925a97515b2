/* test_conventions.c - what every command shares since issue 11: --json on every command that
 * prints results, each document carrying "schema": "vramfit/1" and naming its checkpoint the same
 * way; byte counts in *_bytes keys; human sizes in adaptive binary units; tokens per GPU whole or
 * explained. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"

#define LLAMA VF_SOURCE_DIR "/testdata/tiny-llama"
#define LORA VF_SOURCE_DIR "/testdata/tiny-llama-lora"

static cJSON *json_of(vft_run *r, const char *what)
{
    cr_assert_eq(r->status, 0, "%s: exit %d: %s", what, r->status, r->err);
    cJSON *d = cJSON_Parse(r->out);
    cr_assert(cJSON_IsObject(d), "%s: one JSON object: %.200s", what, r->out);
    const cJSON *s = cJSON_GetObjectItem(d, "schema");
    cr_expect(cJSON_IsString(s) && strcmp(s->valuestring, "vramfit/1") == 0, "%s: schema: %.200s", what, r->out);
    return d;
}

/* Every numeric member whose name says bytes ends in _bytes or is "bytes"; none ends in _bytes
 * without being a number. Walks the whole document. */
static void check_byte_keys(const cJSON *o, const char *what)
{
    for (const cJSON *c = o ? o->child : NULL; c; c = c->next) {
        if (c->string && strstr(c->string, "bytes"))
            cr_expect(cJSON_IsNumber(c) || cJSON_IsNull(c), "%s: %s is a number", what, c->string);
        if (c->string && (strcmp(c->string, "gpu_memory") == 0 || strcmp(c->string, "budget") == 0))
            cr_expect_fail("%s: byte count '%s' without _bytes", what, c->string);
        check_byte_keys(c, what);
    }
}

Test(conventions, every_command_has_json_with_the_schema)
{
    char *dir = vft_tempdir(), *snap = vft_path(dir, "s.vfsnap");
    struct {
        const char *what;
        vft_run r;
    } runs[] = {
        {"inspect", vft_cli("inspect", LLAMA, "--json", NULL)},
        {"adapters", vft_cli("adapters", LLAMA, "--json", NULL)},
        {"audit", vft_cli("audit", LORA, "--base", LLAMA, "--json", NULL)},
        {"estimate", vft_cli("estimate", LLAMA, "--gpu-memory", "24GiB", "--max-tokens-per-gpu", "1024", "--json", NULL)},
        {"estimate all", vft_cli("estimate", LLAMA, "--method", "all", "--gpu-memory", "24GiB", "--batch-size", "2",
                                 "--max-seq-len", "512", "--json", NULL)},
        {"plan", vft_cli("plan", LLAMA, "--gpu-memory", "24GiB", "--json", NULL)},
        {"snapshot", vft_cli("snapshot", LLAMA, "-o", snap, "--json", NULL)},
        {"verify", vft_cli("verify", LLAMA, "--json", NULL)},
        {"gpus", vft_cli("gpus", "--json", NULL)},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        cJSON *d = json_of(&runs[i].r, runs[i].what);
        check_byte_keys(d, runs[i].what);
        if (strcmp(runs[i].what, "gpus") != 0 && strcmp(runs[i].what, "estimate all") != 0 &&
            strcmp(runs[i].what, "audit") != 0)
            cr_expect_str_eq(cJSON_GetObjectItem(d, "model")->valuestring, "tiny-llama", "%s", runs[i].what);
        cJSON_Delete(d);
        vft_run_free(&runs[i].r);
    }
    /* the per-method documents of --method all are keyed by method */
    vft_run r = vft_cli("estimate", LLAMA, "--method", "all", "--gpu-memory", "24GiB", "--batch-size", "2",
                        "--max-seq-len", "512", "--json", NULL);
    cJSON *d = json_of(&r, "estimate all");
    const cJSON *m = cJSON_GetObjectItem(d, "methods");
    cr_expect(cJSON_IsObject(cJSON_GetObjectItem(m, "sft")) && cJSON_IsObject(cJSON_GetObjectItem(m, "qlora")));
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "lora"), "per_gpu"),
                                                 "expected_bytes")));
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "sft"), "inputs"), "parameters")->valuedouble,
                 cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "osft"), "inputs"), "parameters")->valuedouble,
                 "parameters counts elements");
    cJSON_Delete(d);
    vft_run_free(&r);
    /* verify --json of an unsound file: the document, then exit 4 */
    char *bad = vft_path(dir, "bad.safetensors");
    vft_write_file(bad, "\x10\0\0\0\0\0\0\0{}", 10);
    r = vft_cli("verify", bad, "--json", NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    d = cJSON_Parse(r.out);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(d, "sound")), "%s", r.out);
    cJSON_Delete(d);
    vft_run_free(&r);
    r = vft_cli("verify", LLAMA, "--json", "--data", NULL);
    cr_expect_eq(r.status, 2, "--json with --data: %s", r.err);
    vft_run_free(&r);
    free(bad);
    free(snap);
    vft_rmtree(dir);
    free(dir);
}

Test(conventions, human_sizes_take_the_unit_that_fits)
{
    vft_run r = vft_cli("inspect", LLAMA, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Bytes         213,632 (209 KiB)\n"), "%s", r.out);
    vft_run_free(&r);
    r = vft_cli("adapters", VF_GEN_DIR "/llama-3.1-8b", "-r", "16", "--target", "q_proj,v_proj", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* 6,815,744 parameters x 4 bytes (F32) = 27,262,976 bytes: 26.0 MiB, not "0.0 GiB" */
    cr_expect(strstr(r.out, "27,262,976 bytes (26.0 MiB)"), "%s", r.out);
    vft_run_free(&r);
    r = vft_cli("estimate", VF_GEN_DIR "/granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "48GiB",
                "--max-tokens-per-gpu", "8192", NULL);
    cr_expect(strstr(r.out, "expected 27.9 GiB"), "%s", r.out);
    vft_run_free(&r);
    char *dir = vft_tempdir(), *tiny = vft_path(dir, "t.safetensors");
    size_t len;
    uint8_t *img = vft_st_image("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3, &len);
    vft_write_file(tiny, img, len);
    r = vft_cli("inspect", tiny, NULL);
    cr_expect(strstr(r.out, "Bytes         3 (3 B)\n"), "%s", r.out);
    vft_run_free(&r);
    free(img), free(tiny);
    vft_rmtree(dir);
    free(dir);
}

Test(conventions, tokens_per_gpu_whole_or_explained)
{
    const char *g = VF_GEN_DIR "/granite-3.3-2b-instruct";
    vft_run r = vft_cli("estimate", g, "--method", "lora", "--gpus", "3", "--gpu-memory", "48GiB", "--batch-size",
                        "4", "--max-seq-len", "4096", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "5461.33 tokens per GPU (= 16,384 / 3: Training Hub computes with the fraction)"),
              "%s", r.out);
    vft_run_free(&r);
    r = vft_cli("estimate", g, "--method", "all", "--gpus", "3", "--gpu-memory", "48GiB", "--batch-size", "4",
                "--max-seq-len", "4096", NULL);
    cr_expect(strstr(r.out, "tokens/GPU 5461.33 = 16,384 / 3: not whole"), "%s", r.out);
    vft_run_free(&r);
    r = vft_cli("estimate", g, "--method", "lora", "--gpus", "2", "--gpu-memory", "48GiB", "--batch-size", "4",
                "--max-seq-len", "4096", NULL);
    cr_expect(strstr(r.out, "8,192 tokens per GPU (--batch-size"), "whole: %s", r.out);
    cr_expect(!strstr(r.out, "fraction"), "%s", r.out);
    vft_run_free(&r);
}
