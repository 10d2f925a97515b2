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
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_estimator.h"

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
        {"verify --data", vft_cli("verify", LLAMA, "--json", "--data", "--sha256", NULL)},
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

/* ---- names: did you mean, help CMD, any case, GPUs as the tools print them ---------------------- */

static void expect_usage(vft_run r, const char *want)
{
    cr_expect_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_expect_eq(r.out_len, 0, "%s", r.out);
    cr_expect(strstr(r.err, want), "want '%s' in: %s", want, r.err);
    vft_run_free(&r);
}

Test(conventions, did_you_mean_for_commands_options_methods_and_gpus)
{
    expect_usage(vft_cli("inspet", LLAMA, NULL), "unknown command 'inspet' (did you mean 'inspect'?");
    expect_usage(vft_cli("estimat", LLAMA, NULL), "(did you mean 'estimate'?");
    expect_usage(vft_cli("frobnicate", NULL), "unknown command 'frobnicate' (see 'vramfit --help')");
    expect_usage(vft_cli("inspect", LLAMA, "--jsn", NULL), "unknown option '--jsn' (did you mean '--json'?");
    expect_usage(vft_cli("adapters", LLAMA, "--metod=lora", NULL), "(did you mean '--method'?");
    expect_usage(vft_cli("inspect", LLAMA, "--verbsoe", NULL), "(did you mean '--verbose'?");
    expect_usage(vft_cli("estimate", LLAMA, "--method", "lroa", "--gpu", "L4", NULL),
                 "got 'lroa' (did you mean 'lora'?)");
    expect_usage(vft_cli("adapters", LLAMA, "--method", "osf", NULL), "got 'osf' (did you mean 'osft'?)");
    expect_usage(vft_cli("estimate", LLAMA, "--gpu", "H10O", "--max-tokens-per-gpu", "8", NULL),
                 "unknown --gpu 'H10O' (did you mean 'H100-80GB'?");
    expect_usage(vft_cli("plan", LLAMA, "--gpu", "mi300", NULL), "(did you mean 'MI300X'?");
    expect_usage(vft_cli("estimate", LLAMA, "--gpu", "zzzzzz", "--max-tokens-per-gpu", "8", NULL),
                 "unknown --gpu 'zzzzzz' (known: ");
}

Test(conventions, help_command_is_the_commands_help)
{
    static const char *const cmds[] = {"inspect", "adapters", "audit", "snapshot", "verify", "estimate", "plan", "gpus"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        vft_run a = vft_cli("help", cmds[i], NULL), b = vft_cli(cmds[i], "--help", NULL);
        cr_expect_eq(a.status, 0, "%s", a.err);
        cr_expect_str_eq(a.out, b.out, "vramfit help %s", cmds[i]);
        vft_run_free(&a), vft_run_free(&b);
    }
    expect_usage(vft_cli("help", "inspekt", NULL), "(did you mean 'inspect'?");
}

Test(conventions, enumerated_values_ignore_case)
{
    vft_run a = vft_cli("estimate", LLAMA, "--method", "LoRA", "--gpu", "h100", "--batch-size", "1", "--max-seq-len",
                        "64", "--json", NULL);
    vft_run b = vft_cli("estimate", LLAMA, "--method", "lora", "--gpu", "H100-80GB", "--batch-size", "1",
                        "--max-seq-len", "64", "--json", NULL);
    cr_expect_eq(a.status, 0, "%s", a.err);
    cr_expect_str_eq(a.out, b.out);
    vft_run_free(&a), vft_run_free(&b);
    a = vft_cli("adapters", LLAMA, "--method", "OSFT", "--adapter-dtype", "bf16", "--json", NULL);
    b = vft_cli("adapters", LLAMA, "--method", "osft", "--adapter-dtype", "BF16", "--json", NULL);
    cr_expect_eq(a.status, 0, "%s", a.err);
    cr_expect_str_eq(a.out, b.out);
    vft_run_free(&a), vft_run_free(&b);
    a = vft_cli("adapters", LLAMA, "--lora-bias", "ALL", NULL);
    cr_expect_eq(a.status, 0, "%s", a.err);
    vft_run_free(&a);
    /* --adapter-dtype is one option of two commands: estimate --estimator detailed takes it as
     * adapters does (it was case-sensitive there) */
    a = vft_cli("estimate", LLAMA, "--estimator", "detailed", "--method", "lora", "--gpu", "L4", "--batch-size",
                "1", "--max-seq-len", "64", "--adapter-dtype", "bf16", "--json", NULL);
    b = vft_cli("estimate", LLAMA, "--estimator", "detailed", "--method", "lora", "--gpu", "L4", "--batch-size",
                "1", "--max-seq-len", "64", "--adapter-dtype", "BF16", "--json", NULL);
    cr_expect_eq(a.status, 0, "%s", a.err);
    cr_expect_str_eq(a.out, b.out);
    vft_run_free(&a), vft_run_free(&b);
    expect_usage(vft_cli("estimate", LLAMA, "--estimator", "detailed", "--adapter-dtype", "fp8", NULL),
                 "--adapter-dtype must be F32, BF16 or F16, got 'fp8'");
    /* place --dtype as well */
    a = vft_cli("place", LLAMA, "--gpu", "L4", "--dtype", "BF16", "--json", NULL);
    b = vft_cli("place", LLAMA, "--gpu", "L4", "--dtype", "bf16", "--json", NULL);
    cr_expect_eq(a.status, 0, "%s", a.err);
    cr_expect_str_eq(a.out, b.out);
    vft_run_free(&a), vft_run_free(&b);
}

/* Every command that takes --gpu NAME looks it up alike, with "did you mean". */
Test(conventions, unknown_gpu_names_the_closest_in_every_command)
{
    expect_usage(vft_cli("place", LLAMA, "--gpu", "H10O-80GB", NULL), "unknown --gpu 'H10O-80GB' (did you mean 'H100-80GB'?");
    expect_usage(vft_cli("estimate", LLAMA, "--gpu", "H10O-80GB", "--max-tokens-per-gpu", "64", NULL),
                 "unknown --gpu 'H10O-80GB' (did you mean 'H100-80GB'?");
    expect_usage(vft_cli("plan", LLAMA, "--gpu", "H10O-80GB", NULL), "unknown --gpu 'H10O-80GB' (did you mean 'H100-80GB'?");
}

/* Training Hub's estimate() takes no target list: --compat training-hub refuses each target option
 * (--exclude was silently dropped), in estimate and plan alike. */
Test(conventions, compat_refuses_every_target_option)
{
    static const char *const cmds[] = {"estimate", "plan"};
    static const char *const opts[][2] = {{"--target", "q_proj"}, {"--target-regex", ".*q_proj"}, {"--exclude", "q_proj"}};
    for (size_t c = 0; c < 2; c++)
        for (size_t o = 0; o < 3; o++) {
            char want[96];
            snprintf(want, sizeof want, "it cannot be combined with %s", opts[o][0]);
            expect_usage(vft_cli(cmds[c], LLAMA, "--gpu", "L4", "--batch-size", "1", "--max-seq-len", "64", "--compat",
                                 "training-hub", opts[o][0], opts[o][1], NULL),
                         want);
        }
    /* the rule is the library's */
    vf_target_spec t = {0};
    vf_error err = {0};
    cr_expect_eq(vf_th_check_targets(&t, &err), VF_OK);
    cr_expect_eq(vf_th_check_targets(NULL, &err), VF_OK);
    t.exclude = "lm_head";
    cr_expect_eq(vf_th_check_targets(&t, &err), VF_ERR_USAGE);
    cr_expect(strstr(err.message, "--exclude"), "%s", err.message);
}

/* GPU names as nvidia-smi and rocm-smi print them, and the accelerators added in issue 11. */
Test(conventions, gpu_names_as_the_vendor_tools_print_them)
{
    static const struct {
        const char *spelled, *name;
        uint64_t gib;
    } cases[] = {
        {"NVIDIA H100 80GB HBM3", "H100-80GB", 80}, {"NVIDIA A100-SXM4-80GB", "A100-80GB", 80},
        {"NVIDIA A100 80GB PCIe", "A100-80GB", 80}, {"Tesla T4", "T4", 16},
        {"NVIDIA GeForce RTX 4090", "RTX-4090", 24}, {"NVIDIA H100 NVL", "H100-NVL", 94},
        {"NVIDIA RTX 6000 Ada Generation", "RTX-6000-Ada", 48}, {"AMD Instinct MI300X", "MI300X", 192},
        {"AMD Instinct MI250X/MI250", "MI250X", 128}, {"NVIDIA B200", "B200", 180}, {"GB200", "GB200", 186},
        {"NVIDIA H20", "H20", 96}, {"MI325X", "MI325X", 256}, {"MI355X", "MI355X", 288},
        {"Gaudi 3", "Gaudi3", 128}, {"HL-325L", "Gaudi3", 128},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vft_run r = vft_cli("estimate", LLAMA, "--gpu", cases[i].spelled, "--max-tokens-per-gpu", "64", "--json", NULL);
        cJSON *d = json_of(&r, cases[i].spelled);
        cr_expect_str_eq(cJSON_GetObjectItem(d, "gpu")->valuestring, cases[i].name, "%s", cases[i].spelled);
        cr_expect_eq((uint64_t)cJSON_GetObjectItem(d, "gpu_memory_bytes")->valuedouble, cases[i].gib << 30, "%s",
                     cases[i].spelled);
        cJSON_Delete(d);
        vft_run_free(&r);
    }
}

/* --gpu auto through the fake nvidia-smi ("mixed": 80 GB, 40 GB, 80 GB) with CUDA_VISIBLE_DEVICES. */
static vft_run auto_with(const char *visible)
{
    char *dir = vft_tempdir(), cmd[4200], path[8300], vis[128];
    snprintf(cmd, sizeof cmd, "cp '%s/tests/fake-bin/nvidia-smi' '%s/' && chmod +x '%s/nvidia-smi'", VF_SOURCE_DIR,
             dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "PATH=%s:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    snprintf(vis, sizeof vis, "CUDA_VISIBLE_DEVICES=%s", visible);
    const char *const env[] = {path, "FAKE_NVIDIA_SMI=mixed", vis, NULL};
    const char *argv[] = {VF_CLI, "estimate", LLAMA, "--gpu", "auto", "--max-tokens-per-gpu", "64", "--json", NULL};
    vft_run r = vft_exec(argv, env);
    vft_rmtree(dir);
    free(dir);
    return r;
}

Test(conventions, gpu_auto_honours_cuda_visible_devices)
{
    vft_run r = auto_with("0,2");
    cJSON *d = json_of(&r, "CUDA_VISIBLE_DEVICES=0,2");
    cr_expect_eq(cJSON_GetObjectItem(d, "gpus")->valuedouble, 2);
    cr_expect_eq((uint64_t)cJSON_GetObjectItem(d, "gpu_memory_bytes")->valuedouble, UINT64_C(81920) << 20,
                 "the two 80 GB GPUs, not the 40 GB one");
    char *notes = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "notes"));
    cr_expect(strstr(notes, "CUDA_VISIBLE_DEVICES leaves 2 of the 3 GPUs visible"), "%s", notes);
    free(notes);
    cJSON_Delete(d);
    vft_run_free(&r);
    r = auto_with("1");
    d = json_of(&r, "CUDA_VISIBLE_DEVICES=1");
    cr_expect_eq((uint64_t)cJSON_GetObjectItem(d, "gpu_memory_bytes")->valuedouble, UINT64_C(40960) << 20);
    cJSON_Delete(d);
    vft_run_free(&r);
    static const char *const none[] = {"", "-1", "7"};
    for (size_t i = 0; i < 3; i++) {
        r = auto_with(none[i]);
        cr_expect_eq(r.status, 3, "'%s': %s", none[i], r.err);
        cr_expect(strstr(r.err, "leaves none of the 3 GPUs nvidia-smi lists visible"), "%s", r.err);
        vft_run_free(&r);
    }
    r = auto_with("GPU-8f1a2b3c");
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "names GPUs by UUID"), "%s", r.err);
    vft_run_free(&r);
}

/* ---- adapters: summaries by default, every matrix with --matrices ------------------------------ */

Test(conventions, adapters_summarise_by_default)
{
    const char *m = VF_GEN_DIR "/llama-3.1-8b";
    vft_run r = vft_cli("adapters", m, NULL), x = vft_cli("adapters", m, "--matrices", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\nPer module\n"), "%s", r.out);
    cr_expect(strstr(r.out, "  self_attn.q_proj                               32 4096x4096               8,388,608"),
              "%s", r.out);
    cr_expect(strstr(r.out, "  0-31            2,621,440 each\n"), "%s", r.out);
    cr_expect(!strstr(r.out, "model.layers.7.self_attn.q_proj.weight"), "no per-matrix rows: %s", r.out);
    size_t lines = 0;
    for (const char *p = r.out; *p; p++)
        lines += *p == '\n';
    cr_expect_lt(lines, 40, "a summary, not 224 matrices: %zu lines", lines);
    cr_expect(strstr(x.out, "model.layers.7.self_attn.q_proj.weight"), "--matrices lists them");
    cr_expect(strstr(x.out, "\nPer module\n") && strstr(x.out, "\nTotals\n"));
    vft_run_free(&r), vft_run_free(&x);
}
