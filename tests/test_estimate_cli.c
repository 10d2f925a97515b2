/* test_estimate_cli.c - `vramfit estimate` end to end: the article's Granite figures, JSON bytes equal
 * to the formulas computed here independently, each method's special rules, every verdict level and
 * --check, SIZE parsing, the GPU table, `--gpu auto` against a fake nvidia-smi, --compat
 * training-hub, --method all, and nothing on stdout when a command fails. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_test_support.h"

#define GiB (UINT64_C(1) << 30)

/* ibm-granite/granite-3.3-2b-instruct, from its published config: 40 layers, hidden 2048, 32 query
 * heads and 8 KV heads of 64 (k/v 512 wide), intermediate 8192, vocabulary 49159, tied. */
#define GRANITE_P UINT64_C(2533539840)
#define GRANITE_L 40
#define GRANITE_H 2048
#define GRANITE_V 49159
/* sum of (d_in + d_out) over q, k, v, o, gate, up, down per layer, x 40 */
#define GRANITE_LORA_DIM ((UINT64_C(4096) + 2560 + 2560 + 4096 + 10240 + 10240 + 10240) * 40)

/* ---- helpers ------------------------------------------------------------------------------------ */

static vft_run cli_argv(const char *const *args, const char *const *env)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = VF_CLI;
    for (; *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return vft_exec(argv, env);
}

/* Runs `vramfit estimate <granite> ARGS... --json`, asserts success, returns the document. */
static cJSON *estimate_json_env(const char *model, const char *const *env, ...)
{
    const char *args[64];
    size_t n = 0;
    char *path = vft_gen(model);
    args[n++] = "estimate";
    args[n++] = path;
    va_list ap;
    va_start(ap, env);
    for (const char *a = va_arg(ap, const char *); a && n < 60; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n++] = "--json";
    args[n] = NULL;
    vft_run r = cli_argv(args, env);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_eq(r.err_len, 0, "quiet stderr: %s", r.err);
    cJSON *doc = cJSON_Parse(r.out);
    cr_assert_not_null(doc, "stdout is one JSON document: %.300s", r.out);
    vft_run_free(&r);
    free(path);
    return doc;
}

#define estimate_json(model, ...) estimate_json_env(model, NULL, __VA_ARGS__, NULL)

static const cJSON *at(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    cr_assert_not_null(cur, "%s is present", path);
    return cur;
}

/* An exact non-negative integer member (all byte counts here are below 2^53). */
static uint64_t u64(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    cr_assert(cJSON_IsNumber(v), "%s is a number", path);
    cr_assert(v->valuedouble >= 0 && v->valuedouble < 9007199254740992.0);
    return (uint64_t)v->valuedouble;
}

static const char *str(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    cr_assert(cJSON_IsString(v), "%s is a string", path);
    return v->valuestring;
}

static bool notes_have(const cJSON *doc, const char *needle)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, at(doc, "notes")) if (strstr(n->valuestring, needle)) return true;
    return false;
}

/* Runs estimate with the given arguments and expects failure `code` with one line on stderr
 * containing `needle` and nothing on stdout. */
static void expect_fail(int code, const char *needle, const char *const *args, const char *const *env)
{
    vft_run r = cli_argv(args, env);
    cr_expect_eq(r.status, code, "exit %d (want %d): %s", r.status, code, r.err);
    cr_expect_eq(r.out_len, 0, "nothing on stdout: %s", r.out);
    cr_expect(strstr(r.err, needle), "stderr names '%s': %s", needle, r.err);
    char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "one line on stderr: %s", r.err);
    vft_run_free(&r);
}

/* The line of text that starts with `prefix`, copied into buf (or "" when none). */
static const char *line_of(const char *text, const char *prefix, char *buf, size_t n)
{
    size_t k = strlen(prefix);
    buf[0] = '\0';
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, k) == 0) {
            size_t len = strcspn(p, "\n");
            snprintf(buf, n, "%.*s", (int)len, p);
            return buf;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return buf;
}

/* Training Hub's SFT arithmetic for Granite, written out independently (Python's order and types). */
typedef struct sft_expect {
    uint64_t par, opt, grad, act, out, sub, low, mid, high;
} sft_expect;

static sft_expect granite_sft(uint64_t gpus, uint64_t tokens)
{
    sft_expect e;
    double g = (double)gpus;
    double par = (double)(GRANITE_P * 4) / g, opt = (double)(GRANITE_P * 8) / g;
    double grad = (double)(GRANITE_P * 4) / g;
    double act = (double)tokens * 4.0 * GRANITE_L * GRANITE_H;
    double out = ((double)tokens * 4.0 * GRANITE_V) * (8.0 / 3.0);
    double sub = par + opt + grad + act + out + 0.0;
    e.par = (uint64_t)par;
    e.opt = (uint64_t)opt;
    e.grad = (uint64_t)grad;
    e.act = (uint64_t)act;
    e.out = (uint64_t)out;
    e.sub = (uint64_t)sub;
    e.low = (uint64_t)(1.0 * sub);
    e.mid = (uint64_t)(1.1 * sub);
    e.high = (uint64_t)(1.3 * sub);
    return e;
}

/* ---- the article ------------------------------------------------------------------------------- */

Test(estimate, granite_sft_prints_the_articles_figures)
{
    char *p = vft_gen("granite-3.3-2b-instruct"), l[512];
    vft_run r = vft_cli("estimate", p, "--method", "sft", "--gpus", "2", "--gpu-memory", "48GiB",
                        "--max-tokens-per-gpu", "8192", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(r.err_len, 0);
    cr_expect(strstr(r.out, "expected 55.8 GiB, bounds 50.8 - 66.0 GiB"), "%s", r.out);
    cr_expect(strstr(r.out, "expected 27.9 GiB, bounds 25.4 - 33.0 GiB"), "%s", r.out);
    cr_expect(strstr(line_of(r.out, "  parameters ", l, sizeof l), " 4.7 "), "%s", l);
    cr_expect(strstr(line_of(r.out, "  optimizer ", l, sizeof l), " 9.4 "), "%s", l);
    cr_expect(strstr(line_of(r.out, "  gradients ", l, sizeof l), " 4.7 "), "%s", l);
    cr_expect(strstr(line_of(r.out, "  activations ", l, sizeof l), " 2.5 "), "%s", l);
    cr_expect(strstr(line_of(r.out, "  outputs ", l, sizeof l), " 4.0 "), "%s", l);
    cr_expect(strstr(line_of(r.out, "  overhead ", l, sizeof l), " 7.6 "), "%s", l);
    cr_expect(strstr(r.out, "should work"), "%s", r.out);
    cr_expect(strstr(r.out, "The proposed training setup should work for your hardware."));
    cr_expect(strstr(r.out, "GiB (2^30 bytes)"), "units explained");
    cr_expect_null(strstr(r.out, " GB"), "no GB label for GiB figures: %s", r.out);
    vft_run_free(&r);
    free(p);
}

Test(estimate, granite_sft_json_bytes_equal_the_formula)
{
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "48GiB",
                             "--max-tokens-per-gpu", "8192");
    sft_expect e = granite_sft(2, 8192);
    cr_expect_str_eq(str(d, "method"), "sft");
    cr_expect_eq(u64(d, "gpus"), 2);
    cr_expect_eq(u64(d, "gpu_memory_bytes"), 48 * GiB);
    cr_expect_eq(u64(d, "tokens_per_gpu"), 8192);
    cr_expect_eq(u64(d, "inputs.parameters"), GRANITE_P);
    cr_expect_eq(u64(d, "per_gpu.parameters_bytes"), e.par);
    cr_expect_eq(u64(d, "per_gpu.optimizer_bytes"), e.opt);
    cr_expect_eq(u64(d, "per_gpu.gradients_bytes"), e.grad);
    cr_expect_eq(u64(d, "per_gpu.activations_bytes"), e.act);
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), e.out);
    cr_expect_eq(u64(d, "per_gpu.additional_bytes"), 0);
    cr_expect_eq(u64(d, "per_gpu.subtotal_bytes"), e.sub);
    cr_expect_eq(u64(d, "per_gpu.low_bytes"), e.low);
    cr_expect_eq(u64(d, "per_gpu.expected_bytes"), e.mid);
    cr_expect_eq(u64(d, "per_gpu.high_bytes"), e.high);
    cr_expect_eq(u64(d, "per_gpu.overhead_bytes"), e.high - e.sub);
    cr_expect_eq(u64(d, "total.low_bytes"), 2 * e.low);
    cr_expect_eq(u64(d, "total.expected_bytes"), 2 * e.mid);
    cr_expect_eq(u64(d, "total.high_bytes"), 2 * e.high);
    cr_expect_str_eq(str(d, "verdict"), "fits");
    cr_expect_str_eq(str(d, "peak_rule"), "sum_all");
    cr_expect(cJSON_IsArray(at(d, "notes")));
    /* exact values also pinned, as a regression guard */
    cr_expect_eq(e.sub, UINT64_C(27248252245));
    cr_expect_eq(e.mid, UINT64_C(29973077469));
    cJSON_Delete(d);
}

/* ---- method rules ------------------------------------------------------------------------------- */

Test(estimate, sft_tokens_come_from_batch_or_the_smaller)
{
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--gpus", "4", "--gpu-memory", "80GiB",
                             "--batch-size", "3", "--max-seq-len", "1000");
    cr_expect_eq(at(d, "tokens_per_gpu")->valuedouble, 750.0);
    cr_expect_str_eq(str(d, "tokens_source"), "batch_size");
    cJSON_Delete(d);
    d = estimate_json("granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "80GiB", "--batch-size",
                      "4", "--max-seq-len", "4096", "--max-tokens-per-gpu", "1000");
    cr_expect_eq(u64(d, "tokens_per_gpu"), 1000);
    cr_expect(notes_have(d, "the smaller"));
    cJSON_Delete(d);
    d = estimate_json("granite-3.3-2b-instruct", "--gpus", "3", "--gpu-memory", "80GiB", "--batch-size",
                      "1", "--max-seq-len", "1000");
    cr_expect_float_eq(at(d, "tokens_per_gpu")->valuedouble, 1000.0 / 3.0, 1e-12, "fractional T");
    cJSON_Delete(d);
}

Test(estimate, tokens_per_gpu_errors_name_the_options)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    const char *a1[] = {"estimate", p, "--gpu-memory", "48GiB", NULL};
    expect_fail(2, "--max-tokens-per-gpu", a1, NULL);
    const char *a2[] = {"estimate", p, "--gpu-memory", "48GiB", "--batch-size", "4", NULL};
    expect_fail(2, "--max-seq-len is missing", a2, NULL);
    const char *a3[] = {"estimate", p, "--method", "lora", "--gpu-memory", "48GiB", "--max-tokens-per-gpu",
                        "8192", NULL};
    expect_fail(2, "--batch-size and --max-seq-len", a3, NULL);
    const char *a4[] = {"estimate", p, "--method", "qlora", "--gpu-memory", "48GiB", "--max-seq-len", "8",
                        NULL};
    expect_fail(2, "QLoRA needs", a4, NULL);
    const char *a5[] = {"estimate", p, "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "0", NULL};
    expect_fail(2, "--max-tokens-per-gpu", a5, NULL);
    free(p);
}

Test(estimate, lora_keeps_the_larger_of_gradients_and_outputs)
{
    const uint64_t ab = GRANITE_LORA_DIM * 32;
    /* outputs (2*T*V*2) dwarf the gradients (2*AB/G): the gradients are dropped */
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--method", "lora", "--gpus", "2", "--gpu-memory",
                             "48GiB", "--batch-size", "4", "--max-seq-len", "4096", "--max-tokens-per-gpu",
                             "99");
    cr_expect_eq(u64(d, "inputs.lora_dim_sum"), GRANITE_LORA_DIM);
    cr_expect_eq(u64(d, "inputs.lora_params"), ab);
    cr_expect_eq(u64(d, "tokens_per_gpu"), 8192, "max_tokens_per_gpu is not used by LoRA");
    cr_expect(notes_have(d, "not used by that backend"));
    cr_expect_str_eq(str(d, "peak_rule"), "drop_gradients");
    cr_expect_eq(u64(d, "per_gpu.gradients_bytes"), 0);
    cr_expect_eq(u64(d, "peak_dropped_bytes"), 2 * ab / 2);
    double out = (8192.0 * 2.0 * GRANITE_V) * 2.0;
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), (uint64_t)out);
    double par = (double)(2 * GRANITE_P + 4 * ab) / 2.0, opt = (double)(4 * ab) / 2.0;
    double act = 8192.0 * 2.0 * GRANITE_L * GRANITE_H;
    double sub = par + opt + 0.0 + act + out + 0.0;
    cr_expect_eq(u64(d, "per_gpu.low_bytes"), (uint64_t)(0.95 * sub));
    cr_expect_eq(u64(d, "per_gpu.expected_bytes"), (uint64_t)(1.1 * sub));
    cr_expect_eq(u64(d, "per_gpu.high_bytes"), (uint64_t)(1.2 * sub));
    cJSON_Delete(d);
    /* with Liger the outputs are 0, so the gradients are kept and the outputs dropped */
    d = estimate_json("granite-3.3-2b-instruct", "--method", "lora", "--gpus", "2", "--gpu-memory", "48GiB",
                      "--batch-size", "4", "--max-seq-len", "4096", "--liger");
    cr_expect_str_eq(str(d, "peak_rule"), "drop_outputs");
    cr_expect_eq(u64(d, "per_gpu.gradients_bytes"), 2 * ab / 2);
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), 0);
    cJSON_Delete(d);
}

Test(estimate, qlora_model_bound_and_training_bound)
{
    /* tiny batch: the LoRA subtotal is below P bytes, so the estimate is P/G */
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--method", "qlora", "--gpu-memory", "80GiB",
                             "--batch-size", "1", "--max-seq-len", "128");
    cr_expect(cJSON_IsTrue(at(d, "model_bound")));
    cr_expect_eq(u64(d, "per_gpu.parameters_bytes"), GRANITE_P);
    cr_expect_eq(u64(d, "per_gpu.optimizer_bytes") + u64(d, "per_gpu.activations_bytes") + u64(d, "per_gpu.outputs_bytes"), 0);
    cr_expect_eq(u64(d, "per_gpu.expected_bytes"), (uint64_t)(1.1 * (double)GRANITE_P));
    cr_expect_eq(u64(d, "per_gpu.high_bytes"), (uint64_t)(1.3 * (double)GRANITE_P));
    cr_expect(notes_have(d, "QLoRA bottleneck"));
    cJSON_Delete(d);
    d = estimate_json("granite-3.3-2b-instruct", "--method", "qlora", "--gpus", "2", "--gpu-memory", "80GiB",
                      "--batch-size", "4", "--max-seq-len", "4096");
    cr_expect(cJSON_IsFalse(at(d, "model_bound")));
    const uint64_t ab = GRANITE_LORA_DIM * 32;
    double par = ((double)GRANITE_P * 0.5 + (double)(4 * ab)) / 2.0;
    cr_expect_eq(u64(d, "per_gpu.parameters_bytes"), (uint64_t)par);
    cr_expect(notes_have(d, "the training itself is the bound"));
    cJSON_Delete(d);
}

Test(estimate, osft_with_and_without_liger)
{
    /* U/S/V of the 280 targets plus every other parameter (from the published shapes) */
    const uint64_t osft = UINT64_C(3393822720);
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--method", "osft", "--gpus", "2", "--gpu-memory",
                             "48GiB", "--max-tokens-per-gpu", "8192");
    cr_expect_eq(u64(d, "inputs.osft_params"), osft);
    cr_expect(cJSON_IsTrue(at(d, "liger")), "Liger is OSFT's default");
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), 0);
    cr_expect_eq(u64(d, "per_gpu.parameters_bytes"), (uint64_t)((double)(4 * osft) / 2.0));
    cr_expect_eq(u64(d, "per_gpu.gradients_bytes"), (uint64_t)((double)(4 * GRANITE_P) * 0.25 / 2.0));
    cr_expect_eq(u64(d, "per_gpu.activations_bytes"), (uint64_t)(8192.0 * 4 * GRANITE_L * GRANITE_H * 0.25));
    cJSON_Delete(d);
    d = estimate_json("granite-3.3-2b-instruct", "--method", "osft", "--gpus", "2", "--gpu-memory", "48GiB",
                      "--max-tokens-per-gpu", "8192", "--no-liger", "--unfreeze-rank-ratio", "0.5");
    cr_expect(cJSON_IsFalse(at(d, "liger")));
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), (uint64_t)((8192.0 * 4.0 * GRANITE_V) * (7.0 / 3.0)));
    cr_expect_eq(u64(d, "per_gpu.gradients_bytes"), (uint64_t)((double)(4 * GRANITE_P) * 0.5 / 2.0));
    cr_expect(notes_have(d, "no equivalent"));
    cJSON_Delete(d);
    /* Training Hub forces Liger for OSFT; compat does the same and says so */
    d = estimate_json("granite-3.3-2b-instruct", "--method", "osft", "--gpus", "2", "--gpu-memory", "48GiB",
                      "--max-tokens-per-gpu", "8192", "--no-liger", "--compat", "training-hub");
    cr_expect(cJSON_IsTrue(at(d, "liger")));
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), 0);
    cr_expect(notes_have(d, "--no-liger ignored"));
    cJSON_Delete(d);
}

Test(estimate, sft_liger_removes_the_outputs)
{
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "48GiB",
                             "--max-tokens-per-gpu", "8192", "--liger");
    cr_expect_eq(u64(d, "per_gpu.outputs_bytes"), 0);
    cJSON_Delete(d);
}

/* ---- verdicts and --check ------------------------------------------------------------------------ */

static int check_status(const char *mem, const char *verdict)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    vft_run r = vft_cli("estimate", p, "--gpus", "2", "--gpu-memory", mem, "--max-tokens-per-gpu", "8192",
                        "--json", "--check", NULL);
    cJSON *d = cJSON_Parse(r.out);
    cr_assert_not_null(d, "%s", r.err);
    cr_expect_str_eq(str(d, "verdict"), verdict, "memory %s", mem);
    cJSON_Delete(d);
    int st = r.status;
    vft_run_free(&r);
    free(p);
    return st;
}

Test(estimate, every_verdict_level_and_check_exit_codes)
{
    sft_expect e = granite_sft(2, 8192);
    char m[32];
    snprintf(m, sizeof m, "%lluB", (unsigned long long)e.high);
    cr_expect_eq(check_status(m, "fits"), 0, "high == M fits");
    snprintf(m, sizeof m, "%lluB", (unsigned long long)e.high - 1);
    cr_expect_eq(check_status(m, "likely"), 0);
    snprintf(m, sizeof m, "%lluB", (unsigned long long)e.mid);
    cr_expect_eq(check_status(m, "likely"), 0);
    snprintf(m, sizeof m, "%lluB", (unsigned long long)e.mid - 1);
    cr_expect_eq(check_status(m, "risky"), 10);
    snprintf(m, sizeof m, "%lluB", (unsigned long long)e.low);
    cr_expect_eq(check_status(m, "risky"), 10);
    snprintf(m, sizeof m, "%lluB", (unsigned long long)e.low - 1);
    cr_expect_eq(check_status(m, "no"), 11);
    cr_expect_eq(check_status("48GiB", "fits"), 0);
}

Test(estimate, decision_text_and_extra_memory_per_level)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    struct {
        const char *mem, *text, *extra;
    } cases[] = {
        {"30GB", "will likely work", "to reach the high bound"},
        {"28GB", "may work but isn't recommended", "recommended (expected)"},
        {"20GiB", "is impossible", "minimum (low bound)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vft_run r = vft_cli("estimate", p, "--gpus", "2", "--gpu-memory", cases[i].mem,
                            "--max-tokens-per-gpu", "8192", NULL);
        cr_expect_eq(r.status, 0, "without --check the verdict is not the exit status");
        cr_expect(strstr(r.out, cases[i].text), "%s: %s", cases[i].mem, r.out);
        cr_expect(strstr(r.out, cases[i].extra), "%s: %s", cases[i].mem, r.out);
        vft_run_free(&r);
    }
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--gpus", "2", "--gpu-memory", "20GiB",
                             "--max-tokens-per-gpu", "8192");
    sft_expect e = granite_sft(2, 8192);
    cr_expect_eq(u64(d, "extra_needed_per_gpu.low_bytes"), e.low - 20 * GiB);
    cr_expect_eq(u64(d, "extra_needed_per_gpu.expected_bytes"), e.mid - 20 * GiB);
    cr_expect_eq(u64(d, "extra_needed_per_gpu.high_bytes"), e.high - 20 * GiB);
    cJSON_Delete(d);
    free(p);
}

/* ---- SIZE, --gpu ----------------------------------------------------------------------------------- */

static uint64_t memory_for(const char *flag, const char *value)
{
    cJSON *d = estimate_json("granite-3.3-2b-instruct", flag, value, "--max-tokens-per-gpu", "512");
    uint64_t v = u64(d, "gpu_memory_bytes");
    cJSON_Delete(d);
    return v;
}

Test(estimate, size_units_are_decimal_or_binary)
{
    cr_expect_eq(memory_for("--gpu-memory", "48GiB"), UINT64_C(51539607552));
    cr_expect_eq(memory_for("--gpu-memory", "80GB"), UINT64_C(80000000000));
    cr_expect_eq(memory_for("--gpu-memory", "81920MiB"), UINT64_C(85899345920));
    cr_expect_eq(memory_for("--gpu-memory", "51539607552B"), UINT64_C(51539607552));
    cr_expect_eq(memory_for("--gpu-memory", "1.5TiB"), UINT64_C(1649267441664));
    cr_expect_eq(memory_for("--gpu-memory", "48 gib"), UINT64_C(51539607552));
    cr_expect_eq(memory_for("--gpu-memory", "0.5GB"), UINT64_C(500000000));
    cr_expect_eq(memory_for("--gpu-memory", "24576KiB"), UINT64_C(25165824));
    cr_expect_eq(memory_for("--gpu-memory", "7B"), 7);
}

/* issue 11: a bare number meant bytes ("--gpu-memory 80": impossible, exit 0); now a usage error
 * showing both readings */
Test(estimate, bare_number_size_shows_both_readings)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    const char *a[] = {"estimate", p, "--gpu-memory", "80", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "'80' has no unit: 80 GiB (85,899,345,920 bytes) or 80 GB (80,000,000,000 bytes)? "
                   "write 80GiB, 80GB, or 80B for bytes", a, NULL);
    const char *b[] = {"plan", p, "--gpu-memory", "24", NULL};
    expect_fail(2, "24 GiB (25,769,803,776 bytes) or 24 GB (24,000,000,000 bytes)?", b, NULL);
    const char *c[] = {"estimate", p, "--gpu-memory", "1.5", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "needs a unit", c, NULL);
    free(p);
}

Test(estimate, bad_sizes_are_clear_errors)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    const char *bad[] = {"48G", "abc", "-5GB", "0", "0GiB", "48XB", "1e9", "", "GiB", "1.2345678GB",
                         "99999999999999999999", "20000000TiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *a[] = {"estimate", p, "--gpu-memory", bad[i], "--max-tokens-per-gpu", "8", NULL};
        expect_fail(2, "--gpu-memory", a, NULL);
    }
    const char *amb[] = {"estimate", p, "--gpu-memory", "48G", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "ambiguous", amb, NULL);
    free(p);
}

Test(estimate, gpu_table_names_and_errors)
{
    cr_expect_eq(memory_for("--gpu", "A100-80GB"), 80 * GiB);
    cr_expect_eq(memory_for("--gpu", "a100_40gb"), 40 * GiB);
    cr_expect_eq(memory_for("--gpu", "H100-80GB"), 80 * GiB);
    cr_expect_eq(memory_for("--gpu", "H200"), 141 * GiB);
    cr_expect_eq(memory_for("--gpu", "l40s"), 48 * GiB);
    cr_expect_eq(memory_for("--gpu", "L4"), 24 * GiB);
    cr_expect_eq(memory_for("--gpu", "A10G"), 24 * GiB);
    cr_expect_eq(memory_for("--gpu", "RTX 4090"), 24 * GiB);
    cr_expect_eq(memory_for("--gpu", "MI300X"), 192 * GiB);
    char *p = vft_gen("granite-3.3-2b-instruct");
    const char *a1[] = {"estimate", p, "--gpu", "Z9000", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "unknown --gpu 'Z9000'", a1, NULL);
    const char *a2[] = {"estimate", p, "--gpu", "L4", "--gpu-memory", "8GB", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "not both", a2, NULL);
    const char *a3[] = {"estimate", p, "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "missing GPU memory", a3, NULL);
    const char *a4[] = {"estimate", p, "--gpu", "L4", "--gpus", "0", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "--gpus", a4, NULL);
    free(p);
}

/* ---- --gpu auto ---------------------------------------------------------------------------------- */

/* A temp dir holding a copy of tests/fake-bin/nvidia-smi (executable whatever the checkout kept). */
static char *fake_bin(void)
{
    char *src = vft_path(VF_SOURCE_DIR, "tests/fake-bin/nvidia-smi");
    size_t n;
    char *script = vft_read_file(src, &n);
    cr_assert_not_null(script, "%s", src);
    char *dir = vft_tempdir(), *dst = vft_path(dir, "nvidia-smi");
    vft_write_file(dst, script, n);
    cr_assert_eq(chmod(dst, 0755), 0);
    free(src);
    free(script);
    free(dst);
    return dir;
}

static cJSON *auto_json(const char *mode, const char *gpus)
{
    char *dir = fake_bin(), path_env[4096], mode_env[64];
    const char *path = getenv("PATH");
    snprintf(path_env, sizeof path_env, "PATH=%s:%s", dir, path ? path : "/usr/bin:/bin");
    snprintf(mode_env, sizeof mode_env, "FAKE_NVIDIA_SMI=%s", mode);
    const char *env[] = {path_env, mode_env, NULL};
    cJSON *d = gpus ? estimate_json_env("granite-3.3-2b-instruct", env, "--gpu", "auto", "--gpus", gpus,
                                        "--max-tokens-per-gpu", "8192", NULL)
                    : estimate_json_env("granite-3.3-2b-instruct", env, "--gpu", "auto",
                                        "--max-tokens-per-gpu", "8192", NULL);
    vft_rmtree(dir);
    free(dir);
    return d;
}

Test(estimate, gpu_auto_reads_nvidia_smi)
{
    cJSON *d = auto_json("two-l40s", NULL);
    cr_expect_eq(u64(d, "gpus"), 2, "--gpus defaults to the count found");
    cr_expect_eq(u64(d, "gpu_memory_bytes"), UINT64_C(46068) << 20, "memory.total is MiB");
    cr_expect(strstr(str(d, "gpu"), "NVIDIA L40S"));
    cJSON_Delete(d);
    d = auto_json("two-l40s", "8");
    cr_expect_eq(u64(d, "gpus"), 8, "--gpus wins over the count found");
    cr_expect(notes_have(d, "nvidia-smi found 2"));
    cJSON_Delete(d);
    d = auto_json("mixed", NULL);
    cr_expect_eq(u64(d, "gpus"), 3);
    cr_expect_eq(u64(d, "gpu_memory_bytes"), UINT64_C(40960) << 20, "the smallest GPU");
    cr_expect(strstr(str(d, "gpu"), "40GB"));
    cr_expect(notes_have(d, "differ"));
    cJSON_Delete(d);
}

Test(estimate, gpu_auto_errors)
{
    char *p = vft_gen("granite-3.3-2b-instruct"), *dir = fake_bin(), *empty = vft_tempdir();
    char path_env[4096], empty_env[4096];
    snprintf(path_env, sizeof path_env, "PATH=%s", dir);
    snprintf(empty_env, sizeof empty_env, "PATH=%s", empty);
    const char *a[] = {"estimate", p, "--gpu", "auto", "--max-tokens-per-gpu", "8", NULL};
    const char *absent[] = {empty_env, NULL};
    expect_fail(3, "nvidia-smi was not found on PATH", a, absent);
    const char *fail[] = {path_env, "FAKE_NVIDIA_SMI=fail", NULL};
    expect_fail(3, "couldn't communicate", a, fail);
    const char *garbage[] = {path_env, "FAKE_NVIDIA_SMI=garbage", NULL};
    expect_fail(3, "unexpected nvidia-smi output", a, garbage);
    const char *none[] = {path_env, "FAKE_NVIDIA_SMI=empty", NULL};
    expect_fail(3, "no GPU", a, none);
    const char *both[] = {"estimate", p, "--gpu", "auto", "--gpu-memory", "8GB", "--max-tokens-per-gpu", "8",
                          NULL};
    expect_fail(2, "not both", both, fail);
    vft_rmtree(dir);
    vft_rmtree(empty);
    free(dir);
    free(empty);
    free(p);
}

/* ---- --method all, targets, compat -------------------------------------------------------------- */

/* issue 11 changed --method all --json from a bare array to {"schema", "methods": {METHOD: {...}}} */
Test(estimate, method_all_is_an_object_of_methods_and_a_table)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    vft_run r = vft_cli("estimate", p, "--method", "all", "--gpus", "2", "--gpu", "L40S", "--batch-size",
                        "4", "--max-seq-len", "4096", "--json", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *d = cJSON_Parse(r.out);
    cr_assert(cJSON_IsObject(d));
    cr_expect_str_eq(str(d, "schema"), "vramfit/1");
    const cJSON *methods = cJSON_GetObjectItem(d, "methods");
    cr_assert_eq(cJSON_GetArraySize(methods), 4);
    const char *names[] = {"sft", "osft", "lora", "qlora"};
    for (int i = 0; i < 4; i++) {
        const cJSON *o = cJSON_GetObjectItem(methods, names[i]);
        cr_assert_not_null(o, "methods.%s", names[i]);
        cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(methods, i), "method")->valuestring, names[i]);
        cr_expect_str_eq(str(o, "method"), names[i]);
        cr_expect(u64(o, "per_gpu.expected_bytes") > 0);
        cr_expect_str_eq(str(o, "verdict"), "fits");
    }
    cJSON_Delete(d);
    vft_run_free(&r);
    r = vft_cli("estimate", p, "--method", "all", "--gpus", "2", "--gpu", "L40S", "--max-tokens-per-gpu",
                "8192", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "SFT "), "%s", r.out);
    cr_expect(strstr(r.out, "OSFT "));
    cr_expect(strstr(r.out, "LoRA    not estimated"), "LoRA needs a batch: %s", r.out);
    cr_expect(strstr(r.out, "27.9 (25.4 - 33.0)"), "%s", r.out);
    vft_run_free(&r);
    /* --check with all: the best verdict */
    r = vft_cli("estimate", p, "--method", "all", "--gpus", "2", "--gpu-memory", "20GiB", "--batch-size",
                "4", "--max-seq-len", "4096", "--check", NULL);
    cr_expect_eq(r.status, 0, "LoRA fits on 20 GiB: %s", r.out);
    vft_run_free(&r);
    free(p);
}

Test(estimate, targets_change_the_lora_count)
{
    cJSON *d = estimate_json("granite-3.3-2b-instruct", "--method", "lora", "--gpu-memory", "48GiB",
                             "--batch-size", "1", "--max-seq-len", "512", "--target", "q_proj,v_proj");
    cr_expect_eq(u64(d, "inputs.lora_dim_sum"), (UINT64_C(4096) + 2560) * 40);
    cJSON_Delete(d);
    char *p = vft_gen("granite-3.3-2b-instruct");
    const char *a[] = {"estimate", p, "--method", "lora", "--gpu-memory", "48GiB", "--batch-size", "1",
                       "--max-seq-len", "8", "--target", "no_such_proj", NULL};
    expect_fail(2, "no_such_proj", a, NULL);
    const char *b[] = {"estimate", p, "--method", "all", "--gpu-memory", "48GiB", "--batch-size", "1",
                       "--max-seq-len", "8", "--target", "no_such_proj", NULL};
    expect_fail(2, "no_such_proj", b, NULL);
    free(p);
}

Test(estimate, compat_leaves_out_an_untied_lm_head)
{
    cJSON *d = estimate_json("llama-3.1-8b", "--gpu", "A100-80GB", "--max-tokens-per-gpu", "4096");
    cr_expect_eq(u64(d, "inputs.parameters"), UINT64_C(8030261248));
    cr_expect(notes_have(d, "includes the untied lm_head"));
    cJSON_Delete(d);
    d = estimate_json("llama-3.1-8b", "--gpu", "A100-80GB", "--max-tokens-per-gpu", "4096", "--compat",
                      "training-hub");
    cr_expect_eq(u64(d, "inputs.parameters"), UINT64_C(8030261248) - UINT64_C(128256) * 4096);
    cr_expect(cJSON_IsTrue(at(d, "compat")));
    cr_expect(notes_have(d, "compat training-hub"));
    cJSON_Delete(d);
    d = estimate_json("llama-3.1-8b", "--method", "osft", "--gpu", "A100-80GB", "--max-tokens-per-gpu", "4096",
                      "--compat", "training-hub");
    cr_expect_eq(u64(d, "inputs.osft_params"), UINT64_C(10782445568) - UINT64_C(128256) * 4096);
    cJSON_Delete(d);
}

Test(estimate, compat_applies_the_path_rule)
{
    /* a local path holding "opt": upstream picks OPT's patterns (q, k, v only on this model) */
    char *tmp = vft_tempdir(), *dir = vft_path(tmp, "opt-models"), *link = vft_path(dir, "granite-2b");
    char *target = vft_gen("granite-3.3-2b-instruct");
    cr_assert_eq(mkdir(dir, 0755), 0);
    cr_assert_eq(symlink(target, link), 0);
    const char *args[] = {"estimate", link, "--method", "lora", "--gpu", "L40S", "--batch-size", "1",
                          "--max-seq-len", "512", "--json", NULL, NULL, NULL};
    vft_run r = cli_argv(args, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *d = cJSON_Parse(r.out);
    cr_expect_eq(u64(d, "inputs.lora_dim_sum"), GRANITE_LORA_DIM, "vramfit reads the tensor names");
    cr_expect_str_eq(str(d, "inputs.family"), "llama");
    cr_expect(notes_have(d, "Training Hub would use the 'opt' patterns"));
    cJSON_Delete(d);
    vft_run_free(&r);
    args[11] = "--compat";
    args[12] = "training-hub";
    r = cli_argv(args, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    d = cJSON_Parse(r.out);
    cr_expect_eq(u64(d, "inputs.lora_dim_sum"), (UINT64_C(4096) + 2560 + 2560) * 40);
    cr_expect_str_eq(str(d, "inputs.family"), "opt");
    cr_expect(notes_have(d, "path rule"));
    cJSON_Delete(d);
    vft_run_free(&r);
    const char *bad[] = {"estimate", link, "--method", "lora", "--gpu", "L40S", "--batch-size", "1",
                         "--max-seq-len", "8", "--compat", "training-hub", "--target", "q_proj", NULL};
    expect_fail(2, "--compat", bad, NULL);
    const char *bad2[] = {"estimate", link, "--gpu", "L40S", "--max-tokens-per-gpu", "8", "--compat", "hf", NULL};
    expect_fail(2, "training-hub", bad2, NULL);
    vft_rmtree(tmp);
    free(tmp);
    free(dir);
    free(link);
    free(target);
}

Test(estimate, other_families_estimate_every_method)
{
    const char *models[] = {"gpt2", "phi-3-mini-4k", "mixtral-8x7b", "llama-2-7b"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        cJSON *d = estimate_json(models[i], "--method", "all", "--gpus", "8", "--gpu", "H100-80GB",
                                 "--batch-size", "8", "--max-seq-len", "2048");
        const cJSON *o;
        cJSON_ArrayForEach(o, cJSON_GetObjectItem(d, "methods"))
        {
            cr_expect_null(cJSON_GetObjectItem(o, "error"), "%s %s", models[i], str(o, "method"));
            cr_expect(u64(o, "per_gpu.expected_bytes") > 0, "%s", models[i]);
        }
        cJSON_Delete(d);
    }
    cJSON *d = estimate_json("llama-2-7b", "--gpu", "A100-80GB", "--max-tokens-per-gpu", "1024");
    cr_expect(notes_have(d, "buffer elements"), "llama-2-7b stores rotary inv_freq buffers");
    cJSON_Delete(d);
}

/* ---- CLI conventions ---------------------------------------------------------------------------- */

Test(estimate, help_documents_every_option)
{
    vft_run r = vft_cli("estimate", "--help", NULL);
    cr_assert_eq(r.status, 0);
    const char *opts[] = {"--method", "--json", "--check", "--gpus", "--gpu-memory", "--gpu NAME", "auto",
                          "--max-tokens-per-gpu", "--batch-size", "--max-seq-len", "--lora-r",
                          "--unfreeze-rank-ratio", "--liger", "--no-liger", "--target", "--target-regex",
                          "--exclude", "--compat training-hub", "--revision", "--hf-cache", "GiB", "GB",
                          "powers of 1000", "powers of 1024", "A100-40GB", "A100-80GB", "H100-80GB", "H200",
                          "L40S", "L4 ", "A10G", "RTX-4090", "MI300X", "85,899,345,920", " 10 ", " 11 "};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_expect(strstr(r.out, opts[i]), "--help mentions '%s'", opts[i]);
    vft_run_free(&r);
    r = vft_cli("--help", NULL);
    cr_expect(strstr(r.out, "estimate"));
    cr_expect(strstr(r.out, "plan"));
    vft_run_free(&r);
}

Test(estimate, usage_and_io_errors)
{
    char *p = vft_gen("granite-3.3-2b-instruct");
    const char *a1[] = {"estimate", p, "--gpu", "L4", "--max-tokens-per-gpu", "8", "--method", "dpo", NULL};
    expect_fail(2, "--method", a1, NULL);
    const char *a2[] = {"estimate", "--gpu", "L4", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(2, "missing PATH", a2, NULL);
    const char *a3[] = {"estimate", p, "--gpu", "L4", "--max-tokens-per-gpu", "8", "--bogus", NULL};
    expect_fail(2, "--bogus", a3, NULL);
    const char *a4[] = {"estimate", "/nonexistent/model", "--gpu", "L4", "--max-tokens-per-gpu", "8", NULL};
    expect_fail(3, "nonexistent", a4, NULL);
    const char *a5[] = {"estimate", p, "--gpu", "L4", "--max-tokens-per-gpu", "8", "--unfreeze-rank-ratio",
                        "0", NULL};
    expect_fail(2, "--unfreeze-rank-ratio", a5, NULL);
    const char *a6[] = {"estimate", p, "--gpu", "L4", "--max-tokens-per-gpu", "8", "--lora-r", "0", NULL};
    expect_fail(2, "--lora-r", a6, NULL);
    free(p);
}
