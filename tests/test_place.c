/* test_place.c - `place`: the device map of accelerate's infer_auto_device_map (utils/modeling.py at
 * huggingface/accelerate@16cb6eb8), worked out by hand step by step from its algorithm for the same
 * max_memory, on header-faithful Llama and Mixtral checkpoints; the CLI. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"
#include "vramfit/vf_place.h"

#define GiB (UINT64_C(1) << 30)

typedef struct want {
    const char *module;
    const char *device; /* "0", "1", "cpu", "disk" */
} want;

static const char *label(const vf_place_device *d, char *buf)
{
    if (d->kind == VF_PLACE_GPU)
        snprintf(buf, 16, "%u", (unsigned)d->index);
    else
        snprintf(buf, 16, "%s", d->kind == VF_PLACE_CPU ? "cpu" : "disk");
    return buf;
}

/* Places gen model `name` on devs and checks the whole map (every entry expected, none extra). */
static vf_placement *place(const char *name, const vf_place_device *devs, size_t n, vf_model **mm)
{
    char *p = vft_gen(name);
    vf_error err = {0};
    cr_assert_eq(vf_model_open(p, NULL, mm, &err), VF_OK, "%s", err.message);
    free(p);
    vf_place_options o = VF_PLACE_OPTIONS_INIT;
    o.devices = devs;
    o.device_count = n;
    vf_placement *pl = NULL;
    cr_assert_eq(vf_place(*mm, &o, &pl, &err), VF_OK, "%s", err.message);
    return pl;
}

static void expect_map(const vf_placement *pl, const want *w, size_t n)
{
    char l[16];
    cr_assert_eq(vf_placement_count(pl), n, "%zu entries, want %zu", vf_placement_count(pl), n);
    for (size_t i = 0; i < n; i++) {
        const vf_place_entry *e = vf_placement_entry(pl, i);
        cr_assert_str_eq(e->module, w[i].module);
        cr_assert_str_eq(label(vf_placement_device(pl, e->device), l), w[i].device, "%s", e->module);
    }
}

/* Llama-3.1-8B in bf16: embedding E = lm_head = 128256 x 4096 x 2 = 1,050,673,152 bytes; a layer
 * Ly = 2 x (2 x 4096^2 + 2 x 1024 x 4096 + 3 x 14336 x 4096 + 2 x 4096) = 436,224,000; norm 8,192.
 * max_memory {0: 10GiB, 1: 10GiB, cpu: 30GiB}. The largest layer is E (embedding and lm_head).
 * model (15.0 GB) does not fit in 10 GiB - E: split into embed_tokens, layers, norm (lm_head next).
 * embed_tokens: E + E <= 10 GiB, on 0. layers: split into 32 blocks (no-split). Blocks on GPU 0 while
 * E + n Ly + E <= 10,737,418,240: n = 19 (0..18). Block 19 moves to GPU 1 (no room kept there): 13
 * blocks, norm and lm_head (room: nothing left to treat) fit: 6,721,593,344 bytes. */
Test(place, llama_two_gpus)
{
    vf_place_device d[] = {{VF_PLACE_GPU, 0, 10 * GiB}, {VF_PLACE_GPU, 1, 10 * GiB}, {VF_PLACE_CPU, 0, 30 * GiB}};
    vf_model *m = NULL;
    vf_placement *pl = place("llama-3.1-8b", d, 3, &m);
    want w[36];
    char names[32][32];
    size_t n = 0;
    w[n++] = (want){"model.embed_tokens", "0"};
    for (int i = 0; i < 32; i++) {
        snprintf(names[i], sizeof names[i], "model.layers.%d", i);
        w[n++] = (want){names[i], i < 19 ? "0" : "1"};
    }
    w[n++] = (want){"model.norm", "1"};
    w[n++] = (want){"lm_head", "1"};
    expect_map(pl, w, n);
    cr_assert_eq(vf_placement_max_layer(pl), 1050673152ull);
    cr_assert_eq(vf_placement_used(pl, 0), 2ull * 1050673152ull + 19ull * 436224000ull);
    cr_assert_eq(vf_placement_used(pl, 1), 13ull * 436224000ull + 8192ull + 1050673152ull);
    cr_assert_eq(vf_placement_verdict(pl), VF_PLACE_FITS_GPUS);
    vf_placement_free(pl);
    vf_model_free(m);
}

/* {0: 6GiB, cpu: 12GiB}: GPU 0 takes the embedding and n blocks with 2E + n Ly <= 6,442,450,944: n = 9;
 * the CPU (room E kept while lm_head is untreated) takes blocks 9..31, the norm and lm_head. */
Test(place, llama_cpu_offload)
{
    vf_place_device d[] = {{VF_PLACE_CPU, 0, 12 * GiB}, {VF_PLACE_GPU, 0, 6 * GiB}};
    vf_model *m = NULL;
    vf_placement *pl = place("llama-3.1-8b", d, 2, &m);
    want w[36];
    char names[32][32];
    size_t n = 0;
    w[n++] = (want){"model.embed_tokens", "0"};
    for (int i = 0; i < 32; i++) {
        snprintf(names[i], sizeof names[i], "model.layers.%d", i);
        w[n++] = (want){names[i], i < 9 ? "0" : "cpu"};
    }
    w[n++] = (want){"model.norm", "cpu"};
    w[n++] = (want){"lm_head", "cpu"};
    expect_map(pl, w, n);
    cr_assert_eq(vf_placement_used(pl, 0), 2ull * 1050673152ull + 9ull * 436224000ull);
    cr_assert_eq(vf_placement_used(pl, 1), 23ull * 436224000ull + 8192ull + 1050673152ull);
    cr_assert_eq(vf_placement_verdict(pl), VF_PLACE_NEEDS_CPU);
    vf_placement_free(pl);
    vf_model_free(m);
}

/* Mixtral-8x7B in bf16: E = 32000 x 4096 x 2 = 262,144,000; a block (attention, router, 8 experts,
 * norms) Ly = 2 x 1,451,270,144 = 2,902,540,288, the largest layer. {0: 40GiB, 1: 40GiB, cpu: 20GiB}.
 * GPU 0 (room Ly): E + n Ly + Ly <= 42,949,672,960: n = 13 (0..12); GPU 1: n Ly <= 40 GiB: 14
 * (13..26); the CPU (room Ly) takes 27..31, the norm and lm_head. */
Test(place, mixtral_gpus_and_cpu)
{
    vf_place_device d[] = {{VF_PLACE_GPU, 1, 40 * GiB}, {VF_PLACE_GPU, 0, 40 * GiB}, {VF_PLACE_CPU, 0, 20 * GiB}};
    vf_model *m = NULL;
    vf_placement *pl = place("mixtral-8x7b", d, 3, &m);
    want w[36];
    char names[32][32];
    size_t n = 0;
    w[n++] = (want){"model.embed_tokens", "0"};
    for (int i = 0; i < 32; i++) {
        snprintf(names[i], sizeof names[i], "model.layers.%d", i);
        w[n++] = (want){names[i], i < 13 ? "0" : i < 27 ? "1" : "cpu"};
    }
    w[n++] = (want){"model.norm", "cpu"};
    w[n++] = (want){"lm_head", "cpu"};
    expect_map(pl, w, n);
    cr_assert_eq(vf_placement_max_layer(pl), 2902540288ull);
    cr_assert_eq(vf_placement_used(pl, 0), 262144000ull + 14ull * 2902540288ull);
    cr_assert_eq(vf_placement_used(pl, 1), 14ull * 2902540288ull);
    cr_assert_eq(vf_placement_used(pl, 2), 5ull * 2902540288ull + 8192ull + 262144000ull);
    cr_assert_eq(vf_placement_verdict(pl), VF_PLACE_NEEDS_CPU);
    vf_placement_free(pl);
    vf_model_free(m);
}

/* Tied Llama-3.2-3B: lm_head.weight is the embedding (E = 788,004,864; a block 201,338,880). With
 * {0: 1GiB} and no cpu: the embedding and its tied lm_head go to GPU 0 (E + room of one block fits);
 * the first block does not, so every block and the norm go to disk, regrouped as model.layers. */
Test(place, tied_llama_to_disk)
{
    vf_place_device d[] = {{VF_PLACE_GPU, 0, GiB}};
    vf_model *m = NULL;
    vf_placement *pl = place("llama-3.2-3b", d, 1, &m);
    want w[] = {{"model.embed_tokens", "0"}, {"model.layers", "disk"}, {"model.norm", "disk"}, {"lm_head", "0"}};
    expect_map(pl, w, 4);
    cr_assert_eq(vf_placement_used(pl, 0), 788004864ull + 201338880ull);
    cr_assert_eq(vf_placement_verdict(pl), VF_PLACE_NEEDS_DISK);
    vf_placement_free(pl);
    vf_model_free(m);
}

Test(place, whole_model_on_one_gpu_and_bad_options)
{
    vf_place_device d[] = {{VF_PLACE_GPU, 0, 8 * GiB}, {VF_PLACE_GPU, 0, 8 * GiB}};
    vf_model *m = NULL;
    vf_placement *pl = place("llama-3.2-3b", d, 1, &m);
    want w[] = {{"", "0"}};
    expect_map(pl, w, 1);
    vf_placement_free(pl);
    vf_place_options o = VF_PLACE_OPTIONS_INIT;
    vf_error err = {0};
    o.devices = d;
    o.device_count = 2; /* GPU 0 twice */
    cr_assert_eq(vf_place(m, &o, &pl, &err), VF_ERR_USAGE);
    o.device_count = 0;
    cr_assert_eq(vf_place(m, &o, &pl, &err), VF_ERR_USAGE);
    o.device_count = 1;
    o.dtype_bytes = 3;
    cr_assert_eq(vf_place(m, &o, &pl, &err), VF_ERR_USAGE);
    vf_model_free(m);
}

/* dtype fp32 on a bf16 checkpoint keeps 2 bytes per element: accelerate takes min(dtype, stored). */
Test(place, dtype_takes_the_smaller_size)
{
    vf_place_device d[] = {{VF_PLACE_GPU, 0, 80 * GiB}};
    vf_model *m = NULL;
    char *p = vft_gen("llama-3.2-3b");
    vf_error err = {0};
    cr_assert_eq(vf_model_open(p, NULL, &m, &err), VF_OK);
    free(p);
    vf_place_options o = VF_PLACE_OPTIONS_INIT;
    o.devices = d;
    o.device_count = 1;
    o.dtype_bytes = 4;
    vf_placement *pl = NULL;
    cr_assert_eq(vf_place(m, &o, &pl, &err), VF_OK);
    cr_assert_eq(vf_placement_model_bytes(pl), 6425499648ull);
    vf_placement_free(pl);
    vf_model_free(m);
}

Test(place_cli, json_and_errors)
{
    char *p = vft_gen("llama-3.1-8b");
    vft_run r = vft_cli("place", p, "--max-memory", "0=6GiB,cpu=12GiB", "--json", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j);
    const cJSON *map = cJSON_GetObjectItem(j, "device_map");
    cr_assert_eq(cJSON_GetObjectItem(map, "model.layers.8")->valueint, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(map, "model.layers.9")->valuestring, "cpu");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "verdict")->valuestring, "needs_cpu");
    cJSON_Delete(j);
    vft_run_free(&r);
    r = vft_cli("place", p, "--gpus", "2", "--gpu", "H100-80GB", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "fits on GPUs"));
    vft_run_free(&r);
    const char *bad[][4] = {{"--max-memory", "gpu=4GiB", NULL, NULL},
                            {"--max-memory", "0=4GiB", "--gpus", "2"},
                            {"--gpus", "2", NULL, NULL},
                            {"--max-memory", "0=lots", NULL, NULL},
                            {"--dtype", "int8", "--gpu", "L4"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = vft_cli("place", p, bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);
        cr_assert_eq(r.status, 2, "case %zu: %d %s", i, r.status, r.err);
        cr_assert_eq(r.out_len, 0);
        vft_run_free(&r);
    }
    free(p);
}

/* A hostile name nesting 100 modules deep is refused (every walk up the tree stays short). */
Test(place, deep_names_refused)
{
    char name[400] = "a", header[600];
    for (int i = 1; i < 100; i++)
        strcat(name, ".a");
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    size_t len;
    uint8_t *img = vft_st_image(header, 4, &len);
    char *dir = vft_tempdir(), *file = vft_path(dir, "model.safetensors");
    vft_write_file(file, img, len);
    vft_run r = vft_cli("place", file, "--gpu-memory", "1GiB", NULL);
    cr_assert_eq(r.status, 2, "%d %s", r.status, r.err);
    cr_assert(strstr(r.err, "nests more than 64"), "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
    free(img);
    free(file);
    vft_rmtree(dir);
    free(dir);
}
