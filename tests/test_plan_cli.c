/* test_plan_cli.c - `vramfit plan` end to end: every suggestion is fed back into `vramfit estimate`
 * and must fit there, while one step more must not (tokens per GPU, GPU count, LoRA rank, OSFT
 * ratio); the usual token value, the ranking, the margin, human output and errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"

#define GiB (UINT64_C(1) << 30)

static vft_run cli_argv(const char *const *args)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = VF_CLI;
    for (; *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return vft_exec(argv, NULL);
}

/* Runs `vramfit CMD <model> ARGS... --json` (NULL-terminated ARGS), asserts success. */
static cJSON *run_json(const char *cmd, const char *model, ...)
{
    const char *args[64];
    size_t n = 0;
    char *path = vft_gen(model);
    args[n++] = cmd;
    args[n++] = path;
    va_list ap;
    va_start(ap, model);
    for (const char *a = va_arg(ap, const char *); a && n < 60; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n++] = "--json";
    args[n] = NULL;
    vft_run r = cli_argv(args);
    cr_assert_eq(r.status, 0, "%s exit %d: %s", cmd, r.status, r.err);
    cJSON *doc = cJSON_Parse(r.out);
    cr_assert_not_null(doc, "%.300s", r.out);
    vft_run_free(&r);
    free(path);
    return doc;
}

static const cJSON *member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert_not_null(v, "%s present", key);
    return v;
}

static uint64_t u64(const cJSON *o, const char *key)
{
    const cJSON *v = member(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is a number", key);
    return (uint64_t)v->valuedouble;
}

static const cJSON *method_row(const cJSON *plan, const char *method)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, member(plan, "methods")) if (strcmp(member(m, "method")->valuestring, method) == 0) return m;
    cr_assert_fail("method %s in the plan", method);
    return NULL;
}

static char *num(uint64_t v)
{
    char *s = malloc(32);
    snprintf(s, 32, "%llu", (unsigned long long)v);
    return s;
}

/* A --gpu-memory SIZE of v bytes ("...B": a bare number is refused since issue 11). */
static char *bytes_arg(uint64_t v)
{
    char *s = malloc(32);
    snprintf(s, 32, "%lluB", (unsigned long long)v);
    return s;
}

/* Expected bytes per GPU that `estimate` reports for a setup. */
static uint64_t expected_of(const char *model, const char *method, const char *gpus, const char *mem,
                            const char *k1, const char *v1, const char *k2, const char *v2,
                            const char *k3, const char *v3)
{
    cJSON *d = run_json("estimate", model, "--method", method, "--gpus", gpus, "--gpu-memory", mem, k1, v1,
                        k2, v2, k3, v3, NULL);
    uint64_t e = u64(member(d, "per_gpu"), "expected_bytes");
    cJSON_Delete(d);
    return e;
}

static uint64_t budget(uint64_t mem, double margin)
{
    return margin >= 1.0 ? mem : (uint64_t)floor(margin * (double)mem);
}

/* ---- tokens ---------------------------------------------------------------------------------------- */

static void check_tokens_sft_osft(const char *model, const char *method, const char *gpus, uint64_t mem,
                                  const char *margin)
{
    char *m = bytes_arg(mem);
    cJSON *p = run_json("plan", model, "--gpus", gpus, "--gpu-memory", m, "--margin", margin, NULL);
    const cJSON *row = method_row(p, method);
    uint64_t t = u64(row, "max_tokens_per_gpu"), b = u64(p, "budget_bytes");
    cr_expect_eq(b, budget(mem, strtod(margin, NULL)));
    char *ts = num(t), *t1 = num(t + 1);
    cr_expect_leq(expected_of(model, method, gpus, m, "--max-tokens-per-gpu", ts, "--lora-r", "32",
                              "--unfreeze-rank-ratio", "0.25"), b, "%s T=%s fits", method, ts);
    cr_expect_gt(expected_of(model, method, gpus, m, "--max-tokens-per-gpu", t1, "--lora-r", "32",
                             "--unfreeze-rank-ratio", "0.25"), b, "%s T+1 does not fit", method);
    /* the usual value is the largest of the list not above T */
    static const uint64_t usual[] = {16384, 8192, 4096, 2048, 1024, 512, 256};
    uint64_t want = 0;
    for (size_t i = 0; i < 7 && !want; i++)
        if (usual[i] <= t)
            want = usual[i];
    if (want)
        cr_expect_eq(u64(row, "usual_tokens_per_gpu"), want);
    cJSON_Delete(p);
    free(m);
    free(ts);
    free(t1);
}

Test(plan, suggested_tokens_fit_and_one_more_does_not)
{
    check_tokens_sft_osft("granite-3.3-2b-instruct", "sft", "2", 48 * GiB, "0.9");
    check_tokens_sft_osft("granite-3.3-2b-instruct", "osft", "2", 24 * GiB, "0.9");
    check_tokens_sft_osft("llama-3.1-8b", "sft", "8", 80 * GiB, "0.85");
    check_tokens_sft_osft("granite-3.3-2b-instruct", "sft", "1", 48 * GiB, "1");
}

Test(plan, lora_tokens_are_batch_times_seq_over_gpus)
{
    cJSON *p = run_json("plan", "granite-3.3-2b-instruct", "--gpus", "2", "--gpu", "L4", NULL);
    const cJSON *row = method_row(p, "lora");
    uint64_t t = u64(row, "max_tokens_per_gpu"), b = u64(p, "budget_bytes");
    cr_expect_eq(u64(row, "max_batch_x_seq"), 2 * t);
    char *bs = num(2 * t), *bs1 = num(2 * (t + 1)), *mem = bytes_arg(24 * GiB);
    cr_expect_leq(expected_of("granite-3.3-2b-instruct", "lora", "2", mem, "--batch-size", bs,
                              "--max-seq-len", "1", "--lora-r", "32"), b);
    cr_expect_gt(expected_of("granite-3.3-2b-instruct", "lora", "2", mem, "--batch-size", bs1,
                             "--max-seq-len", "1", "--lora-r", "32"), b);
    cJSON_Delete(p);
    free(bs);
    free(bs1);
    free(mem);
}

Test(plan, margin_one_matches_the_estimate_verdict)
{
    cJSON *p = run_json("plan", "granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "48GiB", "--margin",
                        "1", NULL);
    uint64_t t = u64(method_row(p, "sft"), "max_tokens_per_gpu");
    cJSON_Delete(p);
    char *g = vft_gen("granite-3.3-2b-instruct"), *ts = num(t), *t1 = num(t + 1);
    vft_run r = vft_cli("estimate", g, "--gpus", "2", "--gpu-memory", "48GiB", "--max-tokens-per-gpu", ts,
                        "--check", NULL);
    cr_expect_eq(r.status, 0, "expected <= M: fits or likely");
    vft_run_free(&r);
    r = vft_cli("estimate", g, "--gpus", "2", "--gpu-memory", "48GiB", "--max-tokens-per-gpu", t1, "--check",
                NULL);
    cr_expect_eq(r.status, 10, "one token more: only the low bound fits");
    vft_run_free(&r);
    free(g);
    free(ts);
    free(t1);
}

/* ---- GPUs, rank, ratio ------------------------------------------------------------------------------ */

Test(plan, fewest_gpus_fit_and_one_fewer_does_not)
{
    cJSON *p = run_json("plan", "llama-3.1-8b", "--gpu", "A100-40GB", "--max-tokens-per-gpu", "4096", NULL);
    uint64_t b = u64(p, "budget_bytes");
    const char *methods[] = {"sft", "osft"};
    for (int i = 0; i < 2; i++) {
        uint64_t g = u64(method_row(p, methods[i]), "min_gpus");
        cr_assert_geq(g, 2, "%s needs several 40 GB GPUs", methods[i]);
        char *gs = num(g), *g1 = num(g - 1), *mem = bytes_arg(40 * GiB);
        cr_expect_leq(expected_of("llama-3.1-8b", methods[i], gs, mem, "--max-tokens-per-gpu", "4096",
                                  "--lora-r", "32", "--unfreeze-rank-ratio", "0.25"), b);
        cr_expect_gt(expected_of("llama-3.1-8b", methods[i], g1, mem, "--max-tokens-per-gpu", "4096",
                                 "--lora-r", "32", "--unfreeze-rank-ratio", "0.25"), b);
        free(gs);
        free(g1);
        free(mem);
    }
    cJSON_Delete(p);
}

Test(plan, largest_lora_rank_and_osft_ratio_fit)
{
    /* a small GPU so that the rank and ratio are limited by memory, not by the search range */
    cJSON *p = run_json("plan", "llama-3.1-8b", "--gpu-memory", "17GiB", "--batch-size", "1", "--max-seq-len",
                        "1024", NULL);
    uint64_t b = u64(p, "budget_bytes");
    char *mem = bytes_arg(17 * GiB);
    uint64_t r = u64(method_row(p, "qlora"), "max_lora_r");
    cr_assert(r >= 1 && r < u64(method_row(p, "qlora"), "lora_r_limit"), "rank %llu", (unsigned long long)r);
    char *rs = num(r), *r1 = num(r + 1);
    cr_expect_leq(expected_of("llama-3.1-8b", "qlora", "1", mem, "--batch-size", "1", "--max-seq-len", "1024",
                              "--lora-r", rs), b);
    cr_expect_gt(expected_of("llama-3.1-8b", "qlora", "1", mem, "--batch-size", "1", "--max-seq-len", "1024",
                             "--lora-r", r1), b);
    free(rs);
    free(r1);
    cJSON_Delete(p);
    p = run_json("plan", "granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "24GiB",
                 "--max-tokens-per-gpu", "8192", NULL);
    b = u64(p, "budget_bytes");
    free(mem);
    mem = bytes_arg(24 * GiB);
    double u = member(method_row(p, "osft"), "max_unfreeze_rank_ratio")->valuedouble;
    cr_assert(u > 0.0 && u < 1.0, "ratio %g", u);
    char us[32], u1[32];
    snprintf(us, sizeof us, "%.2f", u);
    snprintf(u1, sizeof u1, "%.2f", u + 0.01);
    cr_expect_leq(expected_of("granite-3.3-2b-instruct", "osft", "2", mem, "--max-tokens-per-gpu", "8192",
                              "--unfreeze-rank-ratio", us, "--lora-r", "32"), b);
    cr_expect_gt(expected_of("granite-3.3-2b-instruct", "osft", "2", mem, "--max-tokens-per-gpu", "8192",
                             "--unfreeze-rank-ratio", u1, "--lora-r", "32"), b);
    cJSON_Delete(p);
    free(mem);
}

/* ---- ranking and output ------------------------------------------------------------------------------ */

Test(plan, ranking_lists_the_methods_that_fit_most_trained_first)
{
    cJSON *p = run_json("plan", "llama-3.1-70b", "--gpus", "8", "--gpu", "A100-80GB", "--batch-size", "8",
                        "--max-seq-len", "8192", NULL);
    const cJSON *rank = member(p, "ranking");
    cr_assert_eq(cJSON_GetArraySize(rank), 2);
    cr_expect_str_eq(cJSON_GetArrayItem(rank, 0)->valuestring, "lora");
    cr_expect_str_eq(cJSON_GetArrayItem(rank, 1)->valuestring, "qlora");
    cr_expect(cJSON_IsFalse(member(method_row(p, "sft"), "fits")));
    cr_expect(cJSON_IsNull(member(method_row(p, "sft"), "max_tokens_per_gpu")), "no T fits full SFT");
    cJSON_Delete(p);
    p = run_json("plan", "granite-3.3-2b-instruct", "--gpus", "2", "--gpu", "L40S", NULL);
    rank = member(p, "ranking");
    cr_assert_eq(cJSON_GetArraySize(rank), 4);
    cr_expect_str_eq(cJSON_GetArrayItem(rank, 0)->valuestring, "sft");
    cr_expect_str_eq(cJSON_GetArrayItem(rank, 3)->valuestring, "qlora");
    cr_expect_eq(u64(method_row(p, "sft"), "tokens_per_gpu"), 8192, "Training Hub's example batch 4 x 4096 / 2");
    cJSON_Delete(p);
}

Test(plan, human_output_has_table_ranking_and_notes)
{
    char *g = vft_gen("granite-3.3-2b-instruct");
    vft_run r = vft_cli("plan", g, "--gpus", "2", "--gpu", "L40S", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(r.err_len, 0);
    const char *want[] = {"Plan for", "budget  43.2 GiB per GPU", "max tokens", "fewest", "LoRA r",
                          "OSFT ratio", "SFT ", "QLoRA ", "Methods that fit", "1. SFT", "Notes"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(r.out, want[i]), "'%s' in: %s", want[i], r.out);
    vft_run_free(&r);
    free(g);
}

Test(plan, errors_and_help)
{
    char *g = vft_gen("granite-3.3-2b-instruct");
    const char *bad[][8] = {
        {"plan", g, "--gpu", "L4", "--margin", "0", NULL},
        {"plan", g, "--gpu", "L4", "--margin", "1.5", NULL},
        {"plan", g, "--gpu", "L4", "--margin", "abc", NULL},
        {"plan", g, "--gpu", "L4", "--max-gpus", "0", NULL},
        {"plan", g, NULL},
        {"plan", g, "--gpu-memory", "12Q", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vft_run r = cli_argv(bad[i]);
        cr_expect_eq(r.status, 2, "case %zu: %s", i, r.err);
        cr_expect_eq(r.out_len, 0);
        cr_expect_neq(r.err_len, 0);
        vft_run_free(&r);
    }
    vft_run r = vft_cli("plan", "--help", NULL);
    cr_assert_eq(r.status, 0);
    const char *opts[] = {"--margin", "0.90", "--max-gpus", "--json", "--gpu", "--gpu-memory", "--gpus",
                          "--max-tokens-per-gpu", "--batch-size", "--max-seq-len", "--lora-r",
                          "--unfreeze-rank-ratio", "--liger", "--target", "--compat", "16384", "256"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_expect(strstr(r.out, opts[i]), "plan --help mentions '%s'", opts[i]);
    vft_run_free(&r);
    free(g);
}
