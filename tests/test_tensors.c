/* test_tensors.c - name parsing, roles, buffers and architecture inference on header-faithful
 * checkpoints of real public architectures (written by vfgen before the tests). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_quant.h"
#include "vf_test_support.h"
#include "vramfit/vf_tensors.h"

static vf_model *open_gen(const char *name)
{
    char *p = vft_gen(name);
    vf_model *m = NULL;
    vf_error err = {0};
    int rc = vf_model_open(p, NULL, &m, &err);
    cr_assert_eq(rc, VF_OK, "%s: %s: %s", p, err.file, err.message);
    free(p);
    return m;
}

/* ---- names ------------------------------------------------------------------------------------- */

Test(names, layer_index_from_common_layouts)
{
    cr_expect_eq(vf_name_layer("model.layers.17.self_attn.q_proj.weight"), 17);
    cr_expect_eq(vf_name_layer("transformer.h.3.attn.c_attn.weight"), 3);
    cr_expect_eq(vf_name_layer("h.0.ln_1.weight"), 0);
    cr_expect_eq(vf_name_layer("blocks.11.attn.qkv.weight"), 11);
    cr_expect_eq(vf_name_layer("model.decoder.layers.5.fc1.weight"), 5);
    cr_expect_eq(vf_name_layer("encoder.layer.2.attention.self.query.weight"), 2);
    cr_expect_eq(vf_name_layer("model.embed_tokens.weight"), -1);
    cr_expect_eq(vf_name_layer("lm_head.weight"), -1);
    cr_expect_eq(vf_name_layer("model.layers.x.weight"), -1);
    cr_expect_eq(vf_name_layer("highway.3.weight"), -1, "whole components only");
}

Test(names, expert_index)
{
    cr_expect_eq(vf_name_expert("model.layers.0.block_sparse_moe.experts.7.w1.weight"), 7);
    cr_expect_eq(vf_name_expert("model.layers.4.mlp.experts.255.gate_proj.weight"), 255);
    cr_expect_eq(vf_name_expert("model.layers.4.mlp.shared_experts.gate_proj.weight"), -1);
    cr_expect_eq(vf_name_expert("model.layers.0.mlp.experts.gate_up_proj"), -1);
}

Test(names, buffers_match_whole_components)
{
    cr_expect(vf_name_is_buffer("model.layers.0.self_attn.rotary_emb.inv_freq"));
    cr_expect(vf_name_is_buffer("h.0.attn.bias"));
    cr_expect(vf_name_is_buffer("transformer.h.0.attn.masked_bias"));
    cr_expect(vf_name_is_buffer("bert.embeddings.position_ids"));
    cr_expect_not(vf_name_is_buffer("h.0.attn.c_attn.bias"));
    cr_expect_not(vf_name_is_buffer("model.layers.0.self_attn.q_proj.bias"));
    cr_expect_not(vf_name_is_buffer("x.my_inv_freq"));
}

Test(names, roles)
{
    cr_expect_eq(vf_name_role("model.embed_tokens.weight", 2), VF_ROLE_EMBED);
    cr_expect_eq(vf_name_role("wte.weight", 2), VF_ROLE_EMBED);
    cr_expect_eq(vf_name_role("wpe.weight", 2), VF_ROLE_POS_EMBED);
    cr_expect_eq(vf_name_role("lm_head.weight", 2), VF_ROLE_LM_HEAD);
    cr_expect_eq(vf_name_role("model.layers.0.self_attn.q_proj.weight", 2), VF_ROLE_ATTN_Q);
    cr_expect_eq(vf_name_role("model.layers.0.self_attn.k_proj.weight", 2), VF_ROLE_ATTN_K);
    cr_expect_eq(vf_name_role("model.layers.0.self_attn.v_proj.weight", 2), VF_ROLE_ATTN_V);
    cr_expect_eq(vf_name_role("model.layers.0.self_attn.o_proj.weight", 2), VF_ROLE_ATTN_O);
    cr_expect_eq(vf_name_role("model.layers.0.self_attn.qkv_proj.weight", 2), VF_ROLE_ATTN_QKV);
    cr_expect_eq(vf_name_role("h.0.attn.c_attn.weight", 2), VF_ROLE_ATTN_QKV);
    cr_expect_eq(vf_name_role("h.0.attn.c_proj.weight", 2), VF_ROLE_ATTN_O);
    cr_expect_eq(vf_name_role("h.0.mlp.c_proj.weight", 2), VF_ROLE_MLP_DOWN);
    cr_expect_eq(vf_name_role("h.0.mlp.c_fc.weight", 2), VF_ROLE_MLP_UP);
    cr_expect_eq(vf_name_role("model.layers.0.mlp.gate_proj.weight", 2), VF_ROLE_MLP_GATE);
    cr_expect_eq(vf_name_role("model.layers.0.mlp.up_proj.weight", 2), VF_ROLE_MLP_UP);
    cr_expect_eq(vf_name_role("model.layers.0.mlp.down_proj.weight", 2), VF_ROLE_MLP_DOWN);
    cr_expect_eq(vf_name_role("model.layers.0.mlp.gate_up_proj.weight", 2), VF_ROLE_MLP_GATE_UP);
    cr_expect_eq(vf_name_role("model.layers.0.block_sparse_moe.gate.weight", 2), VF_ROLE_MOE_ROUTER);
    cr_expect_eq(vf_name_role("model.layers.0.block_sparse_moe.experts.1.w1.weight", 2), VF_ROLE_MLP_GATE);
    cr_expect_eq(vf_name_role("model.layers.0.block_sparse_moe.experts.1.w2.weight", 2), VF_ROLE_MLP_DOWN);
    cr_expect_eq(vf_name_role("model.layers.0.mlp.experts.gate_up_proj", 3), VF_ROLE_MLP_GATE_UP);
    cr_expect_eq(vf_name_role("model.layers.0.input_layernorm.weight", 1), VF_ROLE_NORM);
    cr_expect_eq(vf_name_role("h.0.ln_1.weight", 1), VF_ROLE_NORM);
    cr_expect_eq(vf_name_role("model.norm.weight", 1), VF_ROLE_NORM);
    cr_expect_eq(vf_name_role("model.layers.0.self_attn.q_proj.bias", 1), VF_ROLE_BIAS);
    cr_expect_eq(vf_name_role("h.0.attn.bias", 4), VF_ROLE_BUFFER);
    cr_expect_str_eq(vf_role_name(VF_ROLE_ATTN_QKV), "attn_qkv");
}

/* ---- architectures ----------------------------------------------------------------------------- */

Test(arch, granite_3_3_2b_matches_published_shape)
{
    vf_model *m = open_gen("granite-3.3-2b-instruct");
    const vf_totals *t = vf_model_totals(m);
    const vf_arch *a = vf_model_arch(m);
    cr_expect_eq(t->parameters, 2533539840ull);
    cr_expect_eq(t->buffers, 0);
    cr_expect_eq(t->bytes, 2 * 2533539840ull, "BF16");
    cr_expect_eq(t->by_dtype[VF_DTYPE_BF16].elements, 2533539840ull);
    cr_expect_eq(a->layers, 40);
    cr_expect_eq(a->hidden_size, 2048);
    cr_expect_eq(a->vocab_size, 49159);
    cr_expect(a->tied_embeddings);
    cr_expect_eq(a->experts, 0);
    cr_expect_str_eq(a->embedding, "model.embed_tokens.weight");
    cr_expect_null(a->lm_head);
    cr_expect_eq(vf_findings_count(vf_model_findings(m)), 0, "config.json agrees");
    size_t n;
    const uint64_t *lp = vf_model_layer_params(m, &n);
    cr_assert_eq(n, 41);
    cr_expect_eq(lp[0], 60821504ull, "per-layer parameters");
    cr_expect_eq(lp[40], 49159ull * 2048 + 2048, "embedding + final norm outside layers");
    vf_model_free(m);
}

Test(arch, llama_2_7b_keeps_rotary_buffers_apart)
{
    vf_model *m = open_gen("llama-2-7b");
    const vf_totals *t = vf_model_totals(m);
    cr_expect_eq(t->parameters, 6738415616ull);
    cr_expect_eq(t->buffer_tensors, 32);
    cr_expect_eq(t->buffers, 32 * 64);
    cr_expect_eq(t->bytes, 2 * 6738415616ull + 32 * 64 * 4, "buffers count in bytes");
    const vf_arch *a = vf_model_arch(m);
    cr_expect_not(a->tied_embeddings);
    cr_expect_str_eq(a->lm_head, "lm_head.weight");
    cr_expect_eq(a->layers, 32);
    long i = vf_model_find(m, "model.layers.5.self_attn.rotary_emb.inv_freq");
    cr_assert_geq(i, 0);
    cr_expect(vf_model_tensor(m, (size_t)i)->buffer);
    cr_expect_eq(vf_model_tensor(m, (size_t)i)->layer, 5);
    vf_model_free(m);
}

Test(arch, gpt2_mask_buffers_and_conv1d_biases)
{
    vf_model *m = open_gen("gpt2");
    const vf_totals *t = vf_model_totals(m);
    cr_expect_eq(t->parameters, 124439808ull);
    cr_expect_eq(t->buffer_tensors, 12);
    const vf_arch *a = vf_model_arch(m);
    cr_expect_eq(a->hidden_size, 768);
    cr_expect_eq(a->vocab_size, 50257);
    cr_expect_eq(a->layers, 12);
    cr_expect(a->tied_embeddings);
    const vf_tensor *bias = vf_model_tensor(m, (size_t)vf_model_find(m, "h.0.attn.c_attn.bias"));
    cr_expect_not(bias->buffer);
    cr_expect_eq(bias->role, VF_ROLE_BIAS);
    vf_model_free(m);
}

Test(arch, mixtral_experts_counted)
{
    vf_model *m = open_gen("mixtral-8x7b");
    cr_expect_eq(vf_model_totals(m)->parameters, 46702792704ull);
    const vf_arch *a = vf_model_arch(m);
    cr_expect_eq(a->experts, 8);
    cr_expect_eq(a->layers, 32);
    const vf_tensor *w = vf_model_tensor(m, (size_t)vf_model_find(m, "model.layers.3.block_sparse_moe.experts.5.w2.weight"));
    cr_expect_eq(w->expert, 5);
    cr_expect_eq(w->layer, 3);
    cr_expect_eq(w->role, VF_ROLE_MLP_DOWN);
    vf_model_free(m);
}

Test(arch, other_published_counts)
{
    struct {
        const char *name;
        uint64_t params, hidden, vocab;
        uint32_t layers;
        bool tied;
    } cases[] = {
        {"llama-3.1-8b", 8030261248ull, 4096, 128256, 32, false},
        {"llama-3.1-70b", 70553706496ull, 8192, 128256, 80, false},
        {"mistral-7b-v0.1", 7241732096ull, 4096, 32000, 32, false},
        {"phi-3-mini-4k", 3821079552ull, 3072, 32064, 32, false},
        {"qwen2.5-7b", 7615616512ull, 3584, 152064, 28, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vf_model *m = open_gen(cases[i].name);
        const vf_arch *a = vf_model_arch(m);
        cr_expect_eq(vf_model_totals(m)->parameters, cases[i].params, "%s", cases[i].name);
        cr_expect_eq(a->hidden_size, cases[i].hidden, "%s", cases[i].name);
        cr_expect_eq(a->vocab_size, cases[i].vocab, "%s", cases[i].name);
        cr_expect_eq(a->layers, cases[i].layers, "%s", cases[i].name);
        cr_expect_eq(a->tied_embeddings, cases[i].tied, "%s", cases[i].name);
        cr_expect_eq(a->experts, 0, "%s", cases[i].name);
        vf_model_free(m);
    }
}

Test(arch, config_disagreements_become_findings_and_headers_win)
{
    char *dir = vft_tempdir();
    char *src = vft_path(VF_SOURCE_DIR, "testdata/tiny-llama/model.safetensors");
    char *dst = vft_path(dir, "model.safetensors");
    size_t len;
    char *bytes = vft_read_file(src, &len);
    cr_assert_not_null(bytes);
    vft_write_file(dst, bytes, len);
    char *cfg = vft_path(dir, "config.json");
    const char *text = "{\"vocab_size\":300,\"hidden_size\":64,\"num_hidden_layers\":3,\"tie_word_embeddings\":true}";
    vft_write_file(cfg, text, strlen(text));
    vf_model *m = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_model_open(dir, NULL, &m, &err), VF_OK, "%s", err.message);
    const vf_findings *f = vf_model_findings(m);
    cr_expect_eq(vf_findings_count(f), 3, "vocab, layers, tie");
    cr_expect(strstr(vf_findings_get(f, 0)->message, "vocab_size is 300 but the headers give 256"), "%s",
              vf_findings_get(f, 0)->message);
    cr_expect_eq(vf_model_arch(m)->vocab_size, 256);
    vf_model_free(m);
    vft_rmtree(dir);
    free(dir);
    free(src);
    free(dst);
    free(cfg);
    free(bytes);
}

Test(model, free_accepts_null)
{
    vf_model_free(NULL);
    vf_checkpoint_free(NULL);
    vf_st_header_free(NULL);
    vf_findings_free(NULL);
}

/* Every tensor of m is found by its name; an absent name is not. */
static void expect_found(vf_model *m, const char *what)
{
    for (size_t i = 0; i < vf_model_tensor_count(m); i++)
        cr_assert_eq(vf_model_find(m, vf_model_tensor(m, i)->name), (long)i, "%s: %s", what, vf_model_tensor(m, i)->name);
    cr_expect_eq(vf_model_find(m, "model.layers.0.no_such_tensor"), -1, "%s", what);
}

/* vf_model_find finds every tensor whether the shards hold consecutive stretches of the name order
 * (vfgen's) or not (here: the first file holds layers 1 and 10, the second layers 0 and 2; the runs
 * are merged). */
Test(model, find_names_every_tensor)
{
    char *gen = vft_gen("qwen3-next-80b-a3b"), *d = vft_tempdir();
    vf_model *m = open_gen("qwen3-next-80b-a3b");
    expect_found(m, gen);
    vf_model_free(m);
    static const char *const layers[2][2] = {{"1", "10"}, {"0", "2"}};
    for (int f = 0; f < 2; f++) {
        vft_tb b = {0};
        char name[96], *p = vft_path(d, f ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors");
        for (int k = 0; k < 2; k++)
            for (int w = 0; w < 3; w++) {
                snprintf(name, sizeof name, "model.layers.%s.mlp.%s.weight", layers[f][k],
                         (const char *[]){"down_proj", "gate_proj", "up_proj"}[w]);
                VFT_T(&b, name, "BF16", 8, 8);
            }
        vft_tb_write(&b, p);
        free(p);
    }
    vf_error err = {0};
    cr_assert_eq(vf_model_open(d, NULL, &m, &err), VF_OK, "%s: %s", d, err.message);
    cr_assert_eq(vf_checkpoint_shard_count(vf_model_checkpoint(m)), 2);
    expect_found(m, d);
    vf_model_free(m);
    vft_rmtree(d);
    free(d);
    free(gen);
}
