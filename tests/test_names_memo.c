/* test_names_memo.c - the name classification memo (tensors/vf_names.h) gives exactly
 * vf_name_classify_in's answer: every tensor name of every generated model and of the real-bytes
 * test checkpoints, under every combination of layouts, twice through one memo (a miss, then a hit). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_names.h"
#include "vf_quant.h"
#include "vf_test_names.h"
#include "vf_test_support.h"
#include "vramfit/vf_tensors.h"

static vf_name_memo memo; /* large: not on the stack */

/* The number of names compared. */
static size_t check_model(const char *path)
{
    vf_model *m = NULL;
    vf_error err;
    cr_assert_eq(vf_model_open(path, NULL, &m, &err), VF_OK, "%s: %s", path, err.message);
    const unsigned all = VF_LAYOUT_GPT_OSS | VF_LAYOUT_DEEPSEEK | VF_LAYOUT_MAMBA;
    size_t compared = 0;
    for (unsigned layouts = 0; layouts <= all; layouts++) {
        vf_name_memo_init(&memo);
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
                const vf_tensor *t = vf_model_tensor(m, i);
                vf_name_info direct, memoised;
                vf_name_classify_in(t->name, t->ndim, layouts, &direct);
                unsigned family = vf_name_classify_memo(&memo, t->name, t->ndim, layouts, &memoised);
                cr_assert(vft_same_name_info(&direct, &memoised), "%s: %s (layouts %u, pass %d)", path, t->name,
                          layouts, pass);
                cr_assert_eq(family, vf_quant_family(t->name, strlen(t->name)), "%s: %s", path, t->name);
                compared++;
            }
    }
    vf_model_free(m);
    return compared;
}

Test(names_memo, every_generated_model)
{
    DIR *d = opendir(VF_GEN_DIR);
    cr_assert(d, "no generated models in %s", VF_GEN_DIR);
    size_t models = 0, names = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char *path = vft_gen(de->d_name);
        names += check_model(path);
        models++;
        free(path);
    }
    closedir(d);
    cr_assert_geq(models, 20, "only %zu generated models", models);
    cr_assert_geq(names, 100000);
}

Test(names_memo, real_bytes_checkpoints)
{
    static const char *const dirs[] = {"tiny-llama", "tiny-gpt2"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *path = vft_path(VF_SOURCE_DIR "/testdata", dirs[i]);
        cr_assert_gt(check_model(path), 0);
        free(path);
    }
}

Test(names_memo, digits_are_one_placeholder_but_indices_are_read_each_time)
{
    vf_name_memo_init(&memo);
    vf_name_info a, b;
    vf_name_classify_memo(&memo, "model.layers.3.mlp.experts.17.down_proj.weight", 2, 0, &a);
    vf_name_classify_memo(&memo, "model.layers.40.mlp.experts.200.down_proj.weight", 2, 0, &b);
    cr_assert_eq(a.layer, 3);
    cr_assert_eq(a.expert, 17);
    cr_assert_eq(b.layer, 40);
    cr_assert_eq(b.expert, 200);
    cr_assert_eq(b.role, VF_ROLE_MLP_DOWN);
    /* the same shape with another ndim or other layouts is another entry */
    vf_name_classify_memo(&memo, "model.layers.1.mlp.experts.2.down_proj.bias", 1, 0, &a);
    cr_assert_eq(a.role, VF_ROLE_BIAS);
    vf_name_classify_memo(&memo, "model.layers.1.mlp.experts.2.down_proj.bias", 2, 0, &b);
    cr_assert_eq(b.role, VF_ROLE_MLP_DOWN);
}

/* Names whose numbers are not all indices: the shape keeps what is not one (7 digits, above
 * 100000, a '#', digits inside a word), and which index is the layer or expert follows the shape;
 * so does the quantization family. */
Test(names_memo, index_components_and_their_ordinals)
{
    static const char *const names[] = {
        "model.layers.9999999.layers.3.mlp.down_proj.weight", "model.layers.100001.layers.4.mlp.down_proj.weight",
        "model.layers.100000.mlp.down_proj.weight",          "model.layers.#.mlp.down_proj.weight",
        "model.layers.0007.mlp.experts.00.w1.weight",        "model.7.layers.2.experts.5.w3.weight",
        "model.experts.5.layers.2.w3.weight",                "model.experts.5.experts.6.layers.2.h.8.w2.weight",
        "layers.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.weight", "a..b.3.weight", ".layers.3.weight",
        "layers.3.", "3", "", "h.12x.fc1.weight", "blocks.x12.fc2.weight", "decoder_layers.12.fc2.weight",
        "model.layers.3.mlp.experts.7.down_proj.weight_scale_inv", "layers.5.weight.quant_state.bitsandbytes__nf4",
        "5.quant_state.bitsandbytes__fp4", "model.layers.1.mlp.experts.gate_up_proj_blocks", "x_blocks", "3.SCB",
        "layers.2.q_proj.qweight", "layers.2.qweight", "layers.12.weight_packed", "h.0.weight_scale",
    };
    vf_name_memo_init(&memo);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            for (uint32_t ndim = 1; ndim <= 3; ndim++) {
                vf_name_info direct, memoised;
                vf_name_classify_in(names[i], ndim, 0, &direct);
                unsigned family = vf_name_classify_memo(&memo, names[i], ndim, 0, &memoised);
                cr_assert(vft_same_name_info(&direct, &memoised), "%s (ndim %u, pass %d): layer %d/%d expert %d/%d",
                          names[i], ndim, pass, direct.layer, memoised.layer, direct.expert, memoised.expert);
                cr_assert_eq(family, vf_quant_family(names[i], strlen(names[i])), "%s", names[i]);
            }
}

/* Names read one after another resume from the last component start they share with the name
 * before: a shared prefix that ends inside a number (layers.1 / layers.12), inside a word, at a
 * '.', names that are prefixes of each other, an index that becomes a word (3 / 3x) and back, a
 * name the memo cannot hold between two it can. Each is classified as vf_name_classify_in does. */
Test(names_memo, names_resume_where_they_stop_sharing_a_prefix)
{
    static const char *const names[] = {
        "model.layers.1.mlp.experts.2.down_proj.weight", "model.layers.12.mlp.experts.2.down_proj.weight",
        "model.layers.1.mlp.experts.2.down_proj.weight", "model.layers.1.mlp.experts.23.down_proj.weight",
        "model.layers.1.mlp.experts.2x.down_proj.weight", "model.layers.1.mlp.experts.2.down_proj.weight",
        "model.layers.1.mlp.experts.2.down_proj", "model.layers.1.mlp.experts.2.down_proj.weight",
        "model.layers.1.mlp.experts.2.down_proj.weight_scale_inv", "model.layers.1.mlp.experts.2.down",
        "model.layers.1.mlp.experts.2.up_proj.weight", "model.layers.1.mlp.experts", "model.layers.1",
        "model.layers.1.", "model.layers.1..weight", "model.layers.100001.mlp.down_proj.weight",
        "model.layers.100000.mlp.down_proj.weight", "model.layers.1000000.mlp.down_proj.weight",
        "model.layers.7.self_attn.q_proj.weight", "model.layers.7.self_attn.q_proj.bias",
        "model.layers.7.self_attn.q_proj.weight", "layers.7.self_attn.q_proj.weight", "", "3", "33", "3.3",
        "model.embed_tokens.weight", "lm_head.weight",
    };
    char longest[300];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memcpy(longest, "model.layers.1.", 15); /* too long for the memo, and shares a prefix */
    vf_name_memo_init(&memo);
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const char *name = pass == 1 && i % 5 == 4 ? longest : names[i];
            vf_name_info direct, memoised;
            vf_name_classify_in(name, 2, 0, &direct);
            unsigned family = vf_name_classify_memo(&memo, name, 2, 0, &memoised);
            cr_assert(vft_same_name_info(&direct, &memoised), "%s (pass %d): role %d/%d layer %d/%d expert %d/%d",
                      names[i], pass, direct.role, memoised.role, direct.layer, memoised.layer, direct.expert,
                      memoised.expert);
            cr_assert_eq(family, vf_quant_family(name, strlen(name)), "%s", name);
        }
}

/* Names of 62 to 66 components, as they are and padded to 250 .. 260 bytes: the memo's limits. */
Test(names_memo, long_names)
{
    static const size_t padded[] = {0, 250, 254, 255, 256, 257, 260};
    char name[400];
    vf_name_memo_init(&memo);
    for (int pass = 0; pass < 2; pass++)
        for (size_t parts = 62; parts <= 66; parts++)
            for (size_t p = 0; p < sizeof padded / sizeof padded[0]; p++) {
                size_t o = 0;
                for (size_t k = 0; k < parts; k++)
                    o += (size_t)snprintf(name + o, sizeof name - o, k ? ".%s" : "%s",
                                          k == 1 ? "layers" : k % 2 ? "x" : "5");
                if (padded[p] > o)
                    memset(name + o, 'a', padded[p] - o);
                name[padded[p] > o ? padded[p] : o] = '\0';
                vf_name_info direct, memoised;
                vf_name_classify_in(name, 2, 0, &direct);
                vf_name_classify_memo(&memo, name, 2, 0, &memoised);
                cr_assert(vft_same_name_info(&direct, &memoised), "%zu components, %zu bytes (pass %d)", parts,
                          strlen(name), pass);
            }
}
