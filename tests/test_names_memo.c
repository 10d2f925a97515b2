/* test_names_memo.c - the name classification memo (tensors/vf_names.h) gives exactly
 * vf_name_classify_in's answer: every tensor name of every generated model and of the real-bytes
 * test checkpoints, under every combination of layouts, twice through one memo (a miss, then a hit). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "vf_names.h"
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
                vf_name_classify_memo(&memo, t->name, t->ndim, layouts, &memoised);
                cr_assert(vft_same_name_info(&direct, &memoised), "%s: %s (layouts %u, pass %d)", path, t->name,
                          layouts, pass);
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
