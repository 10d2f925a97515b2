/* test_rocm_smi.c - `--gpu auto` on AMD machines: rocm-smi asked when nvidia-smi is absent, fails or
 * lists no GPU (tests/fake-bin/rocm-smi plays the machines), ROCR_VISIBLE_DEVICES then
 * HIP_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES, GPU names as rocm-smi prints them, and a hostile
 * rocm-smi (hangs, floods, garbage) bounded. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "vf_test_support.h"

#define TINY VF_SOURCE_DIR "/testdata/tiny-llama"
#define MI300X_BYTES UINT64_C(205822885888) /* the fake's "VRAM Total Memory (B)" */
#define MI250X_BYTES UINT64_C(68702699520)

/* Copies tests/fake-bin/TOOL into dir, executable whatever the checkout kept. */
static void install_fake(const char *dir, const char *tool)
{
    char *rel = vft_path("tests/fake-bin", tool), *src = vft_path(VF_SOURCE_DIR, rel), *dst = vft_path(dir, tool);
    size_t n;
    char *script = vft_read_file(src, &n);
    cr_assert_not_null(script, "%s", src);
    vft_write_file(dst, script, n);
    cr_assert_eq(chmod(dst, 0755), 0);
    free(script);
    free(rel);
    free(src);
    free(dst);
}

/* A machine: PATH holds only the fakes named (the scripts set their own PATH), plus environment. */
typedef struct machine {
    bool nvidia;         /* a fake nvidia-smi too (FAKE_NVIDIA_SMI picks what it says) */
    const char *env[8];  /* extra "K=V" entries */
} machine;

static vft_run run_auto(const machine *m, const char *cmd)
{
    char *dir = vft_tempdir(), path[4200];
    install_fake(dir, "rocm-smi");
    if (m->nvidia)
        install_fake(dir, "nvidia-smi");
    snprintf(path, sizeof path, "PATH=%s", dir);
    const char *env[10] = {path};
    for (size_t i = 0; i < 8 && m->env[i]; i++)
        env[i + 1] = m->env[i];
    vft_opts o = {.env = env, .out = VFT_OUT_CAPTURE, .timeout_s = 30};
    const char *est[] = {"estimate", TINY, "--gpu", "auto", "--max-tokens-per-gpu", "64", "--json", NULL};
    const char *plan[] = {"plan", TINY, "--gpu", "auto", "--json", NULL};
    vft_run r = vft_cli_opts(&o, strcmp(cmd, "plan") == 0 ? plan : est);
    vft_rmtree(dir);
    free(dir);
    return r;
}

static cJSON *json_ok(vft_run *r)
{
    cr_assert_eq(r->status, 0, "exit %d: %s", r->status, r->err);
    cJSON *d = cJSON_Parse(r->out);
    cr_assert_not_null(d, "%s", r->out);
    return d;
}

static uint64_t num(const cJSON *d, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(d, key);
    cr_assert(cJSON_IsNumber(v), "%s", key);
    return (uint64_t)v->valuedouble;
}

static bool notes_have(const cJSON *d, const char *text)
{
    char *notes = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "notes"));
    bool hit = notes && strstr(notes, text);
    free(notes);
    return hit;
}

/* Runs the machine and checks the GPUs it reports: count, memory per GPU and the label's name. */
static void expect_gpus(const machine *m, uint64_t gpus, uint64_t bytes, const char *name, const char *note)
{
    vft_run r = run_auto(m, "estimate");
    cJSON *d = json_ok(&r);
    cr_expect_eq(num(d, "gpus"), gpus, "%s", r.out);
    cr_expect_eq(num(d, "gpu_memory_bytes"), bytes, "%s", r.out);
    const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(d, "gpu"));
    cr_expect(label && strstr(label, name) && strstr(label, "(rocm-smi)"), "%s", label ? label : "(none)");
    if (note)
        cr_expect(notes_have(d, note), "note '%s' missing: %s", note, r.out);
    cJSON_Delete(d);
    vft_run_free(&r);
}

static void expect_error(const machine *m, const char *cmd, int status, const char *text)
{
    vft_run r = run_auto(m, cmd);
    cr_expect_eq(r.status, status, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, text), "'%s' missing: %s", text, r.err);
    cr_expect_eq(r.out_len, 0, "nothing on stdout: %s", r.out);
    vft_run_free(&r);
}

Test(rocm_smi, asked_when_nvidia_smi_is_absent_or_finds_nothing)
{
    machine alone = {0};
    expect_gpus(&alone, 4, MI300X_BYTES, "AMD Instinct MI300X", "rocm-smi lists 4 GPUs; VRAM Total Memory 205822885888 bytes");
    machine empty = {.nvidia = true, .env = {"FAKE_NVIDIA_SMI=empty"}};
    expect_gpus(&empty, 4, MI300X_BYTES, "AMD Instinct MI300X", NULL);
    machine failing = {.nvidia = true, .env = {"FAKE_NVIDIA_SMI=fail"}};
    expect_gpus(&failing, 4, MI300X_BYTES, "AMD Instinct MI300X", NULL);
    machine two = {.nvidia = true, .env = {"FAKE_NVIDIA_SMI=two-l40s"}};
    vft_run r = run_auto(&two, "estimate");
    cJSON *d = json_ok(&r);
    cr_expect(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(d, "gpu")), "NVIDIA L40S (nvidia-smi)"),
              "nvidia-smi's GPUs win when it lists some: %s", r.out);
    cJSON_Delete(d);
    vft_run_free(&r);
}

Test(rocm_smi, names_and_fields_as_rocm_smi_prints_them)
{
    machine mi250x = {.env = {"FAKE_ROCM_SMI=mi250x"}};
    expect_gpus(&mi250x, 2, MI250X_BYTES, "AMD Instinct MI250X/MI250", NULL); /* "system" ignored */
    machine old = {.env = {"FAKE_ROCM_SMI=old-key"}};
    expect_gpus(&old, 1, MI250X_BYTES, "AMD Instinct MI210", NULL);
    machine mixed = {.env = {"FAKE_ROCM_SMI=mixed"}};
    expect_gpus(&mixed, 2, MI250X_BYTES, "MI250X", "the GPUs differ in memory");
    /* and --gpu takes the names rocm-smi prints */
    const char *names[][2] = {{"AMD Instinct MI300X", "MI300X"}, {"AMD Instinct MI250X/MI250", "MI250X"}};
    for (size_t i = 0; i < 2; i++) {
        vft_run n = vft_cli("estimate", TINY, "--gpu", names[i][0], "--max-tokens-per-gpu", "64", "--json", NULL);
        cJSON *d = json_ok(&n);
        cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(d, "gpu")), names[i][1]);
        cJSON_Delete(d);
        vft_run_free(&n);
    }
}

/* four-mi300x: unique IDs 0x18d1aa5b2e9f1c07, 0x7a3c01f2b4d95e60, 0x2b7fe0c3a1d84f19, 0x5e01c9d7f3a2b648 */
Test(rocm_smi, rocr_then_hip_visible_devices)
{
    machine rocr = {.env = {"ROCR_VISIBLE_DEVICES=1,3"}};
    expect_gpus(&rocr, 2, MI300X_BYTES, "MI300X", "ROCR_VISIBLE_DEVICES leaves 2 of the 4 GPUs visible");
    machine uuid = {.env = {"ROCR_VISIBLE_DEVICES=GPU-7a3c01f2b4d95e60, 0"}};
    expect_gpus(&uuid, 2, MI300X_BYTES, "MI300X", "leaves 2 of the 4");
    machine hip = {.env = {"HIP_VISIBLE_DEVICES=2"}};
    expect_gpus(&hip, 1, MI300X_BYTES, "MI300X", "HIP_VISIBLE_DEVICES leaves 1 of the 4 GPUs visible");
    /* HIP's indices count among the GPUs ROCr leaves: ROCR 1,2,3 then HIP 0,2 = GPUs 1 and 3 */
    machine both = {.env = {"ROCR_VISIBLE_DEVICES=1,2,3", "HIP_VISIBLE_DEVICES=0,2"}};
    expect_gpus(&both, 2, MI300X_BYTES, "MI300X", "ROCR_VISIBLE_DEVICES then HIP_VISIBLE_DEVICES leaves 2 of the 4");
    /* CUDA_VISIBLE_DEVICES when HIP_VISIBLE_DEVICES is unset; HIP_VISIBLE_DEVICES wins over it */
    machine cuda = {.env = {"CUDA_VISIBLE_DEVICES=0,1,2"}};
    expect_gpus(&cuda, 3, MI300X_BYTES, "MI300X", "CUDA_VISIBLE_DEVICES leaves 3 of the 4");
    machine hip_wins = {.env = {"CUDA_VISIBLE_DEVICES=0,1,2", "HIP_VISIBLE_DEVICES=3"}};
    expect_gpus(&hip_wins, 1, MI300X_BYTES, "MI300X", "HIP_VISIBLE_DEVICES leaves 1 of the 4");
    machine hip_uuid = {.env = {"ROCR_VISIBLE_DEVICES=2,3", "HIP_VISIBLE_DEVICES=GPU-5E01C9D7F3A2B648"}};
    expect_gpus(&hip_uuid, 1, MI300X_BYTES, "MI300X", "leaves 1 of the 4");
    /* entries up to the first that is not an index count, as the runtimes read them */
    machine stop = {.env = {"ROCR_VISIBLE_DEVICES=0,x,1"}};
    expect_gpus(&stop, 1, MI300X_BYTES, "MI300X", "leaves 1 of the 4");
    /* GPUs of different memory: the visible one decides */
    machine small = {.env = {"FAKE_ROCM_SMI=mixed", "HIP_VISIBLE_DEVICES=1"}};
    expect_gpus(&small, 1, MI300X_BYTES, "MI300X", NULL);
}

Test(rocm_smi, visible_devices_leaving_none_or_unmappable)
{
    const char *none[] = {"ROCR_VISIBLE_DEVICES=", "ROCR_VISIBLE_DEVICES=-1", "HIP_VISIBLE_DEVICES=9",
                          "ROCR_VISIBLE_DEVICES=GPU-0000000000000001"};
    for (size_t i = 0; i < 4; i++) {
        machine m = {.env = {none[i]}};
        expect_error(&m, "estimate", 3, "leaves none of the 4 GPUs rocm-smi lists visible");
    }
    machine two = {.env = {"ROCR_VISIBLE_DEVICES=3", "HIP_VISIBLE_DEVICES=1"}};
    expect_error(&two, "plan", 3, "ROCR_VISIBLE_DEVICES='3' then HIP_VISIBLE_DEVICES='1' leaves none");
    machine full = {.env = {"ROCR_VISIBLE_DEVICES=GPU-4b2c1a9f-8d3e-6f7a-b5c9-2e4d8a1f6c3b"}};
    expect_error(&full, "estimate", 3, "not ROCm's GPU-<16 hex digits> form");
    machine xx = {.env = {"HIP_VISIBLE_DEVICES=GPU-XX"}};
    expect_error(&xx, "estimate", 3, "HIP_VISIBLE_DEVICES names a GPU by 'GPU-XX'");
    /* a GPU without a Unique ID ("N/A") is never matched by UUID */
    machine na = {.env = {"FAKE_ROCM_SMI=mi250x", "ROCR_VISIBLE_DEVICES=GPU-0"}};
    expect_error(&na, "estimate", 3, "leaves none of the 2");
}

Test(rocm_smi, malformed_output_is_one_line_and_exit_3)
{
    static const char *const cases[][2] = {
        {"FAKE_ROCM_SMI=fail", "exited with status 2: ERROR: GPU[0]"},
        {"FAKE_ROCM_SMI=garbage", "unexpected rocm-smi output '==="},
        {"FAKE_ROCM_SMI=bad-vram", "\"VRAM Total Memory (B)\" is 'N/A', not a byte count"},
        {"FAKE_ROCM_SMI=huge-vram", "not a byte count"},
        {"FAKE_ROCM_SMI=deep", "unexpected rocm-smi output"},
        {"FAKE_ROCM_SMI=out-of-order", "'card1' where card0 was expected"},
        {"FAKE_ROCM_SMI=empty", "rocm-smi listed no GPU"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        machine m = {.env = {cases[i][0]}};
        expect_error(&m, "estimate", 3, cases[i][1]);
    }
    /* both tools fail: both reasons, on one line */
    machine both = {.nvidia = true, .env = {"FAKE_NVIDIA_SMI=fail", "FAKE_ROCM_SMI=garbage"}};
    vft_run r = run_auto(&both, "estimate");
    cr_expect_eq(r.status, 3);
    cr_expect(strstr(r.err, "couldn't communicate") && strstr(r.err, "unexpected rocm-smi output"), "%s", r.err);
    cr_expect_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one line: %s", r.err);
    vft_run_free(&r);
}

Test(rocm_smi, neither_tool_on_path)
{
    char *dir = vft_tempdir(), path[4200];
    snprintf(path, sizeof path, "PATH=%s", dir);
    const char *env[] = {path, NULL};
    const char *argv[] = {VF_CLI, "estimate", TINY, "--gpu", "auto", "--max-tokens-per-gpu", "8", NULL};
    vft_run r = vft_exec(argv, env);
    cr_expect_eq(r.status, 3);
    cr_expect(strstr(r.err, "nvidia-smi was not found on PATH, nor rocm-smi"), "%s", r.err);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
}

Test(rocm_smi, hung_or_flooding_rocm_smi_is_stopped_by_the_timeout)
{
    machine hang = {.env = {"FAKE_ROCM_SMI=hang", "VRAMFIT_GPU_PROBE_TIMEOUT=0.3"}};
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    expect_error(&hang, "estimate", 3, "rocm-smi did not answer within 0.300 s");
    gettimeofday(&t1, NULL);
    cr_expect_lt(t1.tv_sec - t0.tv_sec, 5);
    machine flood = {.env = {"FAKE_ROCM_SMI=flood", "VRAMFIT_GPU_PROBE_TIMEOUT=0.3"}};
    expect_error(&flood, "plan", 3, "did not answer");
}
