/* test_formats.c - files of other formats given as the checkpoint (GGUF, PyTorch zip and pickle,
 * NumPy, ONNX, HDF5, JSON, empty, a directory of them) are named from their first bytes with the
 * next step, exit 4, nothing on stdout; a PEFT adapter directory given to a model command is pointed
 * to audit; audit without --base finds base_model_name_or_path in the local Hugging Face cache. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_test_support.h"
#include "vramfit/vf_parser.h"
#include "vramfit/vf_snapshot.h"

static char *dir;

static void setup(void) { dir = vft_tempdir(); }
static void teardown(void)
{
    vft_rmtree(dir);
    free(dir);
}
TestSuite(formats, .init = setup, .fini = teardown);

/* A ZIP local file header whose first entry is `entry` (what torch.save, numpy.savez, Keras write). */
static size_t zip_image(const char *entry, uint8_t *buf)
{
    size_t n = strlen(entry);
    memset(buf, 0, 30);
    memcpy(buf, "PK\3\4", 4);
    buf[26] = (uint8_t)n;
    memcpy(buf + 30, entry, n);
    return 30 + n + 16;
}

/* Writes name in a fresh subdirectory with len bytes; returns the file's path. */
static char *put(const char *sub, const char *name, const void *data, size_t len)
{
    char *d = vft_path(dir, sub);
    mkdir(d, 0755);
    char *p = vft_path(d, name);
    vft_write_file(p, data, len);
    free(d);
    return p;
}

/* `vramfit inspect PATH` fails with exit 4, one line on stderr holding every `want`, no stdout. */
static void expect_named(const char *path, const char *want1, const char *want2)
{
    vft_run r = vft_cli("inspect", path, NULL);
    cr_expect_eq(r.status, 4, "%s: exit %d: %s", path, r.status, r.err);
    cr_expect_eq(r.out_len, 0, "nothing on stdout: %s", r.out);
    cr_expect(strstr(r.err, want1), "%s: want '%s' in: %s", path, want1, r.err);
    cr_expect(!want2 || strstr(r.err, want2), "%s: want '%s' in: %s", path, want2, r.err);
    cr_expect(strchr(r.err, '\n') == r.err + r.err_len - 1, "one line: %s", r.err);
    vft_run_free(&r);
}

Test(formats, each_foreign_file_is_named_with_the_next_step)
{
    uint8_t zip[128];
    static const uint8_t gguf[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                     0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02};
    static const uint8_t pickle[] = {0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94, 0x2e};
    static const uint8_t npy[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    static const uint8_t onnx[] = {0x08, 0x07, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h', 0x1a, 0x03};
    static const uint8_t hdf5[] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0, 0, 0, 0, 0};
    static const char json[] = "{\n  \"model_type\": \"llama\", \"hidden_size\": 4096\n}\n";
    char *p;
    expect_named(p = put("a", "model.gguf", gguf, sizeof gguf), "GGUF", "Hugging Face checkpoint");
    free(p);
    expect_named(p = put("b", "pytorch_model.bin", zip, zip_image("archive/data.pkl", zip)),
                 "PyTorch checkpoint (torch.save zip", "save_pretrained(DIR, safe_serialization=True)");
    free(p);
    expect_named(p = put("c", "model.pt", legacy, sizeof legacy), "legacy torch.save pickle",
                 "safe_serialization=True");
    free(p);
    expect_named(p = put("d", "weights.pkl", pickle, sizeof pickle), "Python pickle",
                 "safetensors.torch.save_file");
    free(p);
    expect_named(p = put("e", "w.npy", npy, sizeof npy), "NumPy .npy", "safetensors.numpy.save_file");
    free(p);
    expect_named(p = put("f", "w.npz", zip, zip_image("arr_0.npy", zip)), "NumPy .npz", "safetensors.numpy");
    free(p);
    expect_named(p = put("g", "model.onnx", onnx, sizeof onnx), "ONNX model", "exported from");
    free(p);
    expect_named(p = put("h", "tf_model.h5", hdf5, sizeof hdf5), "HDF5 file (Keras/TensorFlow .h5)",
                 "from_tf=True");
    free(p);
    expect_named(p = put("i", "config.json", json, strlen(json)), "config.json: a JSON file",
                 "directory that holds it");
    free(p);
    expect_named(p = put("j", "model.safetensors", "", 0), "empty file (0 bytes)", "fetch the file again");
    free(p);
    expect_named(p = put("k", "model.keras", zip, zip_image("metadata.json", zip)), "Keras 3", "from_tf");
    free(p);
}

Test(formats, sniffing_keeps_safetensors_and_snapshots)
{
    size_t len;
    uint8_t *img = vft_st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &len);
    cr_expect_eq(vf_format_sniff(img, len, len), VF_FORMAT_SAFETENSORS);
    /* a safetensors header whose length bytes happen to look like another magic is still safetensors */
    img[0] = 0x80, img[1] = 0x02; /* pickle-like, but then N runs past the file: not safetensors */
    cr_expect_eq(vf_format_sniff(img, len, len), VF_FORMAT_PICKLE);
    free(img);
    cr_expect_eq(vf_format_sniff((const uint8_t *)VF_SNAPSHOT_MAGIC, 8, 100), VF_FORMAT_VFSNAP);
    cr_expect_eq(vf_format_sniff((const uint8_t *)"hello", 5, 5), VF_FORMAT_UNKNOWN);
    cr_expect_eq(vf_format_sniff(NULL, 0, 0), VF_FORMAT_EMPTY);
    cr_expect_str_eq(vf_format_name(VF_FORMAT_COUNT), "unknown");
}

Test(formats, directory_of_other_formats_is_named)
{
    uint8_t zip[128];
    char *p = put("snap", "pytorch_model.bin", zip, zip_image("pytorch_model/data.pkl", zip));
    free(p);
    p = put("snap", "config.json", "{}", 2);
    char *d = vft_path(dir, "snap");
    vft_run r = vft_cli("estimate", d, "--gpu-memory", "80GiB", "--max-tokens-per-gpu", "1024", NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "no .safetensors file; pytorch_model.bin is a PyTorch checkpoint"), "%s", r.err);
    cr_expect(strstr(r.err, "safe_serialization=True"), "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    vft_run_free(&r);
    /* weights with an unrecognised first bytes: still named */
    char *q = put("odd", "model.bin", "\x01\x02\x03\x04", 4);
    char *od = vft_path(dir, "odd");
    r = vft_cli("inspect", od, NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "only 1 weight file of another format (model.bin)"), "%s", r.err);
    vft_run_free(&r);
    /* an empty directory: the old message */
    char *e = vft_path(dir, "empty");
    mkdir(e, 0755);
    r = vft_cli("inspect", e, NULL);
    cr_expect_eq(r.status, 4);
    cr_expect(strstr(r.err, "no .safetensors file found"), "%s", r.err);
    vft_run_free(&r);
    free(e), free(q), free(od), free(p), free(d);
}

Test(formats, adapter_directory_is_pointed_to_audit)
{
    const char *adapter = VF_SOURCE_DIR "/testdata/tiny-llama-lora";
    const char *cmds[][10] = {
        {"inspect", adapter, NULL},
        {"adapters", adapter, NULL},
        {"estimate", adapter, "--gpu-memory", "80GiB", "--max-tokens-per-gpu", "1024", NULL},
        {"plan", adapter, "--gpu-memory", "80GiB", NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *argv[12] = {VF_CLI};
        for (size_t k = 0; cmds[i][k]; k++)
            argv[k + 1] = cmds[i][k];
        vft_run r = vft_exec(argv, NULL);
        cr_expect_eq(r.status, 4, "%s: %d %s", cmds[i][0], r.status, r.err);
        cr_expect(strstr(r.err, "a PEFT adapter (adapter_config.json + adapter_model.safetensors), not a model"),
                  "%s: %s", cmds[i][0], r.err);
        cr_expect(strstr(r.err, "vramfit audit"), "%s: %s", cmds[i][0], r.err);
        cr_expect_eq(r.out_len, 0);
        vft_run_free(&r);
    }
    /* the adapter file itself, named explicitly, is still a safetensors file anyone may inspect */
    vft_run r = vft_cli("inspect", VF_SOURCE_DIR "/testdata/tiny-llama-lora/adapter_model.safetensors", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
}

#define HASH "0123456789abcdef0123456789abcdef01234567"

/* ROOT/models--org--tiny-llama at refs/main holding testdata/tiny-llama; an adapter directory whose
 * config names org/tiny-llama as its base. */
static char *cached_base_and_adapter(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "R='%s/hub/models--org--tiny-llama' && mkdir -p \"$R/refs\" \"$R/snapshots/" HASH "\" && "
             "printf " HASH " > \"$R/refs/main\" && cp '%s'/testdata/tiny-llama/* \"$R/snapshots/" HASH "/\" && "
             "A='%s/adapter' && mkdir -p \"$A\" && cp '%s'/testdata/tiny-llama-lora/adapter_model.safetensors \"$A/\" && "
             "sed 's#\"testdata/tiny-llama\"#\"org/tiny-llama\"#' '%s'/testdata/tiny-llama-lora/adapter_config.json "
             "> \"$A/adapter_config.json\"",
             dir, VF_SOURCE_DIR, dir, VF_SOURCE_DIR, VF_SOURCE_DIR);
    cr_assert_eq(system(cmd), 0);
    return vft_path(dir, "adapter");
}

Test(formats, audit_takes_its_base_from_the_local_cache)
{
    char *adapter = cached_base_and_adapter();
    char *hub = vft_path(dir, "hub"), env[4200];
    snprintf(env, sizeof env, "HF_HUB_CACHE=%s", hub);
    const char *const envs[] = {env, NULL};
    const char *argv[] = {VF_CLI, "audit", adapter, NULL};
    vft_run r = vft_exec(argv, envs);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Base        org/tiny-llama@main (family"), "%s", r.out);
    cr_expect(strstr(r.out, "Predicted"), "predicted from the cached base: %s", r.out);
    vft_run_free(&r);
    /* not in this cache: audited against the config, and the output says why */
    char *other = vft_path(dir, "nothing"), env2[4200];
    mkdir(other, 0755);
    snprintf(env2, sizeof env2, "HF_HUB_CACHE=%s", other);
    const char *const envs2[] = {env2, NULL};
    r = vft_exec(argv, envs2);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Base        none"), "%s", r.out);
    cr_expect(strstr(r.out, "base_model_name_or_path 'org/tiny-llama' not used as the base: not in the "
                            "Hugging Face cache at"),
              "%s", r.out);
    vft_run_free(&r);
    free(other), free(hub), free(adapter);
}
