/* test_quant.c - pre-quantized checkpoints (issue 10, item 1): every scheme's detection, logical
 * shapes and metadata classing against the same model stored unquantized (the oracle: transformers
 * dequantizes to exactly it), LoRA on quantized weights, PEFT's all-linear rule, hostile quant state
 * bytes, estimate notes and snapshots (format 2 round trip, format 1 still read). Fixtures:
 * tests/support/vf_test_quant.c. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_quant.h"
#include "vf_test_support.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_estimator.h"
#include "vramfit/vf_snapshot.h"

/* A fresh checkpoint directory of scheme s; caller vft_rmtree()s and frees it. */
static char *make(vft_qscheme s, const void *state0, size_t len)
{
    char *d = vft_tempdir();
    vft_quant_model(d, s, state0, len);
    return d;
}

static vf_model *open_model(const char *dir)
{
    vf_model *m = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_model_open(dir, NULL, &m, &err), VF_OK, "%s: %s: %s", dir, err.file, err.message);
    return m;
}

static const vf_tensor *tensor(const vf_model *m, const char *name)
{
    long i = vf_model_find(m, name);
    cr_assert_geq(i, 0, "%s", name);
    return vf_model_tensor(m, (size_t)i);
}

static const struct {
    vft_qscheme s;
    const char *scheme, *q_proj; /* scheme name, the tensor holding layer 0's q_proj */
    unsigned bits;
    uint64_t group;
    uint64_t meta; /* metadata tensors per linear layer */
} llama_cases[] = {
    {VFT_BNB_NF4, "bnb-nf4", "model.layers.0.self_attn.q_proj.weight", 4, 64, 5},
    {VFT_BNB_FP4, "bnb-fp4", "model.layers.0.self_attn.q_proj.weight", 4, 64, 3},
    {VFT_BNB_INT8, "bnb-int8", "model.layers.0.self_attn.q_proj.weight", 8, 0, 2},
    {VFT_GPTQ, "gptq", "model.layers.0.self_attn.q_proj.qweight", 4, 32, 3},
    {VFT_AWQ, "awq", "model.layers.0.self_attn.q_proj.qweight", 4, 32, 2},
    {VFT_CT_INT4, "compressed-tensors-int", "model.layers.0.self_attn.q_proj.weight_packed", 4, 32, 2},
    {VFT_CT_FP8, "compressed-tensors-fp8", "model.layers.0.self_attn.q_proj.weight", 8, 0, 2},
    {VFT_FP8_BLOCK, "fp8-block", "model.layers.0.self_attn.q_proj.weight", 8, 128, 1},
    {VFT_NVFP4, "nvfp4", "model.layers.0.self_attn.q_proj.weight_packed", 4, 16, 3},
};
#define NCASES (sizeof llama_cases / sizeof llama_cases[0])
#define LINEARS 14u /* 7 per layer, 2 layers; lm_head stays unquantized */

Test(quant, plain_oracle_is_hand_counted)
{
    char *d = make(VFT_PLAIN, NULL, 0);
    vf_model *m = open_model(d);
    cr_assert_eq(vf_model_totals(m)->parameters, VFT_LLAMA_PARAMS);
    cr_assert_eq(vf_model_quant(m)->scheme, VF_QUANT_NONE);
    cr_assert_eq(tensor(m, "model.layers.0.self_attn.q_proj.weight")->quant, VF_QPART_NONE);
    vf_model_free(m);
    vft_rmtree(d);
    free(d);
}

Test(quant, every_scheme_counts_the_dequantized_parameters)
{
    for (size_t k = 0; k < NCASES; k++) {
        char *d = make(llama_cases[k].s, NULL, 0);
        vf_model *m = open_model(d);
        const vf_quant *q = vf_model_quant(m);
        const char *what = llama_cases[k].scheme;
        cr_expect_str_eq(vf_quant_scheme_name(q->scheme), what);
        cr_expect_eq(vf_model_totals(m)->parameters, VFT_LLAMA_PARAMS, "%s: %llu", what,
                     (unsigned long long)vf_model_totals(m)->parameters);
        cr_expect_eq(q->bits, llama_cases[k].bits, "%s", what);
        cr_expect_eq(q->group_size, llama_cases[k].group, "%s: group %llu", what, (unsigned long long)q->group_size);
        cr_expect_eq(q->quantized_tensors, LINEARS, "%s", what);
        cr_expect_eq(q->metadata_tensors, LINEARS * llama_cases[k].meta, "%s: %llu", what,
                     (unsigned long long)q->metadata_tensors);
        cr_expect_eq(q->logical_elements, 2u * (4 * 64 * 64 + 3 * 64 * 128), "%s", what);
        cr_expect_eq(q->double_quant, llama_cases[k].s == VFT_BNB_NF4, "%s", what);
        const vf_tensor *t = tensor(m, llama_cases[k].q_proj);
        cr_expect_eq(t->quant, VF_QPART_WEIGHT, "%s", what);
        cr_expect(t->rows == 64 && t->cols == 64 && t->matrices == 1, "%s: [%llu, %llu]", what,
                  (unsigned long long)t->rows, (unsigned long long)t->cols);
        cr_expect_eq(t->role, VF_ROLE_ATTN_Q, "%s: role %s", what, vf_role_name(t->role));
        cr_expect_eq(vf_model_arch(m)->layers, 2u, "%s", what);
        cr_expect_eq(vf_model_arch(m)->hidden_size, 64u, "%s", what);
        cr_expect_eq(vf_findings_count(vf_model_findings(m)), 0u, "%s: %s", what,
                     vf_findings_count(vf_model_findings(m)) ? vf_findings_get(vf_model_findings(m), 0)->message : "");
        uint64_t meta_bytes = 0, stored = 0;
        for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
            const vf_tensor *x = vf_model_tensor(m, i);
            meta_bytes += x->quant == VF_QPART_META ? x->bytes : 0;
            stored += x->numel;
            cr_expect(x->quant != VF_QPART_META || x->logical_numel == 0, "%s: %s", what, x->name);
        }
        cr_expect_eq(q->metadata_bytes, meta_bytes, "%s", what);
        cr_expect_eq(q->stored_elements, stored, "%s", what);
        vf_model_free(m);
        vft_rmtree(d);
        free(d);
    }
}

Test(quant, down_proj_logical_shape_is_out_in)
{
    for (size_t k = 0; k < NCASES; k++) {
        char *d = make(llama_cases[k].s, NULL, 0), name[128];
        vf_model *m = open_model(d);
        const char *leaf = strrchr(llama_cases[k].q_proj, '.');
        snprintf(name, sizeof name, "model.layers.1.mlp.down_proj%s", leaf);
        const vf_tensor *t = tensor(m, name);
        cr_expect(t->rows == 64 && t->cols == 128, "%s: %s [%llu, %llu]", llama_cases[k].scheme, name,
                  (unsigned long long)t->rows, (unsigned long long)t->cols);
        cr_expect_eq(t->role, VF_ROLE_MLP_DOWN);
        vf_model_free(m);
        vft_rmtree(d);
        free(d);
    }
}

/* ---- adapters ------------------------------------------------------------------------------------ */

static vf_adapter_plan *plan(const vf_model *m, const char *target, vf_error *err)
{
    vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
    o.rank = 8;
    o.target.modules = target;
    vf_adapter_plan *p = NULL;
    return vf_adapter_plan_build(m, &o, &p, err) == VF_OK ? p : NULL;
}

Test(quant, lora_on_quantized_weights_has_the_logical_in_out)
{
    for (size_t k = 0; k < NCASES; k++) {
        char *d = make(llama_cases[k].s, NULL, 0);
        vf_model *m = open_model(d);
        vf_error err = {0};
        vf_adapter_plan *p = plan(m, "q_proj,down_proj", &err);
        cr_assert_not_null(p, "%s: %s", llama_cases[k].scheme, err.message);
        cr_expect_eq(vf_adapter_plan_totals(p)->matrices, 4u, "%s", llama_cases[k].scheme);
        cr_expect_eq(vf_adapter_plan_totals(p)->parameters, 2u * (8 * (64 + 64) + 8 * (128 + 64)));
        cr_expect_eq(vf_adapter_plan_totals(p)->base_parameters, VFT_LLAMA_PARAMS);
        for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
            const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
            bool down = strstr(x->module, "down_proj") != NULL;
            cr_expect(x->in == (down ? 128u : 64u) && x->out == 64u, "%s: %s in %llu out %llu",
                      llama_cases[k].scheme, x->module, (unsigned long long)x->in, (unsigned long long)x->out);
            cr_expect(strstr(x->module, "scale") == NULL && strstr(x->module, "absmax") == NULL);
        }
        vf_adapter_plan_free(p);
        vf_model_free(m);
        vft_rmtree(d);
        free(d);
    }
}

Test(quant, default_family_and_all_linear_follow_peft)
{
    char *pd = make(VFT_PLAIN, NULL, 0);
    vf_model *pm = open_model(pd);
    vf_error err = {0};
    vf_adapter_plan *pp = plan(pm, "all-linear", &err), *pf = plan(pm, NULL, &err);
    cr_assert(pp && pf, "%s", err.message);
    cr_assert_eq(vf_adapter_plan_totals(pp)->matrices, LINEARS);
    for (size_t k = 0; k < NCASES; k++) {
        char *d = make(llama_cases[k].s, NULL, 0);
        vf_model *m = open_model(d);
        vf_adapter_plan *f = plan(m, NULL, &err);
        cr_assert_not_null(f, "%s: %s", llama_cases[k].scheme, err.message);
        cr_expect_eq(vf_adapter_plan_totals(f)->parameters, vf_adapter_plan_totals(pf)->parameters);
        cr_expect_str_eq(vf_adapter_plan_family(f)->name, vf_adapter_plan_family(pf)->name);
        vf_error e2 = {0};
        vf_adapter_plan *a = plan(m, "all-linear", &e2);
        bool quant_linear = llama_cases[k].s == VFT_GPTQ || llama_cases[k].s == VFT_AWQ;
        if (quant_linear) { /* QuantLinear is no nn.Linear: PEFT's all-linear finds nothing */
            cr_expect_null(a, "%s", llama_cases[k].scheme);
            cr_expect(strstr(e2.message, "QuantLinear") != NULL, "%s", e2.message);
        } else {
            cr_assert_not_null(a, "%s: %s", llama_cases[k].scheme, e2.message);
            cr_expect_eq(vf_adapter_plan_totals(a)->matrices, LINEARS);
            cr_expect_eq(vf_adapter_plan_totals(a)->parameters, vf_adapter_plan_totals(pp)->parameters);
        }
        vf_adapter_plan_free(a);
        vf_adapter_plan_free(f);
        vf_model_free(m);
        vft_rmtree(d);
        free(d);
    }
    vf_adapter_plan_free(pp);
    vf_adapter_plan_free(pf);
    vf_model_free(pm);
    vft_rmtree(pd);
    free(pd);
}

Test(quant, metadata_is_never_a_target)
{
    for (size_t k = 0; k < NCASES; k++) {
        char *d = make(llama_cases[k].s, NULL, 0);
        vf_model *m = open_model(d);
        vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
        o.target.regex = ".*";
        vf_adapter_plan *p = NULL;
        vf_error err = {0};
        cr_assert_eq(vf_adapter_plan_build(m, &o, &p, &err), VF_OK, "%s", err.message);
        for (size_t i = 0; i < vf_adapter_plan_count(p); i++)
            cr_expect_neq(vf_adapter_plan_matrix(p, i)->tensor->quant, VF_QPART_META, "%s: %s",
                          llama_cases[k].scheme, vf_adapter_plan_matrix(p, i)->tensor->name);
        /* 14 quantized linears, the embedding and lm_head */
        cr_expect_eq(vf_adapter_plan_totals(p)->matrices, LINEARS + 2, "%s", llama_cases[k].scheme);
        vf_adapter_plan_free(p);
        vf_model_free(m);
        vft_rmtree(d);
        free(d);
    }
}

Test(quant, mxfp4_experts_are_counted_dequantized)
{
    char *pd = make(VFT_MOE_PLAIN, NULL, 0), *qd = make(VFT_MOE_MXFP4, NULL, 0);
    vf_model *pm = open_model(pd), *qm = open_model(qd);
    cr_expect_eq(vf_model_totals(pm)->parameters, VFT_MOE_PARAMS);
    cr_expect_eq(vf_model_totals(qm)->parameters, VFT_MOE_PARAMS);
    const vf_quant *q = vf_model_quant(qm);
    cr_expect_eq(q->scheme, VF_QUANT_MXFP4);
    cr_expect_eq(q->group_size, 32u);
    cr_expect_eq(q->quantized_tensors, 2u);
    cr_expect_eq(q->metadata_tensors, 2u);
    cr_expect_eq(vf_model_arch(qm)->experts, 4u);
    const vf_tensor *gu = tensor(qm, "model.layers.0.mlp.experts.gate_up_proj_blocks");
    cr_expect(gu->fused_experts && gu->matrices == 4 && gu->rows == 128 && gu->cols == 64);
    cr_expect_eq(gu->role, VF_ROLE_MLP_GATE_UP);
    cr_expect_eq(gu->logical_numel, 4u * 64 * 128);
    const vf_tensor *dn = tensor(qm, "model.layers.0.mlp.experts.down_proj_blocks");
    cr_expect(dn->rows == 64 && dn->cols == 64 && dn->role == VF_ROLE_MLP_DOWN);
    cr_expect_eq(tensor(qm, "model.layers.0.mlp.experts.down_proj_scales")->quant, VF_QPART_META);
    vf_model_free(pm);
    vf_model_free(qm);
    vft_rmtree(pd);
    vft_rmtree(qd);
    free(pd);
    free(qd);
}

/* ---- hostile quantization metadata --------------------------------------------------------------- */

/* inspect fails with exit 4, nothing on stdout, one stderr line naming the shard and `tensor`
 * and holding `msg`. */
static void expect_rejected(const char *dir, const char *tensor, const char *msg)
{
    vft_run r = vft_cli("inspect", dir, NULL);
    cr_expect_eq(r.status, 4, "status %d: %s", r.status, r.err);
    cr_expect_eq(r.out_len, 0u, "%s", r.out);
    cr_expect(strstr(r.err, "model.safetensors") && strstr(r.err, tensor), "%s", r.err);
    cr_expect(strstr(r.err, msg) != NULL, "want '%s' in: %s", msg, r.err);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "one line: %s", r.err);
    vft_run_free(&r);
}

#define STATE0 "model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4"

static void hostile_state(const void *bytes, size_t len, const char *tensor, const char *msg)
{
    char *d = make(VFT_BNB_NF4, bytes, len);
    expect_rejected(d, tensor, msg);
    vft_rmtree(d);
    free(d);
}

#define S(lit) lit, sizeof(lit) - 1

Test(quant, hostile_quant_states_are_one_clear_error)
{
    hostile_state(S("not json at all"), STATE0, "not valid JSON");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [64, 128]}"),
                  STATE0, "disagrees with the packed weight");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 7, \"dtype\": \"bfloat16\", \"shape\": [64, 64]}"),
                  STATE0, "blocksize 7");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [64, 64],"
                    " \"evil\": 1}"), STATE0, "unknown key 'evil'");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"blocksize\": 64, \"dtype\": \"x\", \"shape\": [64, 64]}"),
                  STATE0, "appears twice");
    hostile_state(S("{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [64, 64]}"),
                  STATE0, "is named bitsandbytes__nf4");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bf\xc3\xa9\", \"shape\": [64, 64]}"),
                  STATE0, "not printable ASCII");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", "
                    "\"shape\": [9007199254740992, 9007199254740992]}"), STATE0, "overflows 64 bits");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [4096]}"),
                  STATE0, "1 dimensions");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\"}"), STATE0, "missing");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 128, \"dtype\": \"bfloat16\", \"shape\": [64, 64],"
                    " \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.5}"),
                  "q_proj.weight.absmax", "absmax values");
    hostile_state(S("{\"quant_type\": \"nf4\", \"blocksize\": 64} trailing"), STATE0, "bytes after");
}

Test(quant, oversized_quant_state_is_refused_unread)
{
    size_t n = VF_TENSOR_DATA_MAX + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    hostile_state(big, n, STATE0, "holds 65537 bytes");
    free(big);
}

Test(quant, gptq_qweight_contradicting_g_idx)
{
    char *d = make(VFT_GPTQ, NULL, 0), *p = vft_path(d, "config.json");
    const char *cfg = "{\"hidden_size\":64,\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":8}}";
    vft_write_file(p, cfg, strlen(cfg)); /* 8 bits: the qweights hold half the features g_idx lists */
    expect_rejected(d, "q_proj.qweight", "does not pack 64 input features at 8 bits");
    vft_rmtree(d);
    free(d);
    free(p);
}

Test(quant, config_disagreeing_with_the_tensors_is_a_finding)
{
    char *d = make(VFT_BNB_NF4, NULL, 0), *p = vft_path(d, "config.json");
    const char *cfg = "{\"hidden_size\":64,\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4}}";
    vft_write_file(p, cfg, strlen(cfg));
    vf_model *m = open_model(d);
    const vf_findings *f = vf_model_findings(m);
    cr_assert_eq(vf_findings_count(f), 1u);
    cr_expect(strstr(vf_findings_get(f, 0)->message, "'gptq' but the tensors are stored as bnb-nf4"), "%s",
              vf_findings_get(f, 0)->message);
    cr_expect_eq(vf_model_totals(m)->parameters, VFT_LLAMA_PARAMS);
    vf_model_free(m);
    vft_rmtree(d);
    free(d);
    free(p);
}

/* ---- inspect and estimate ------------------------------------------------------------------------ */

static cJSON *cli_json(const char *a, const char *b, const char *c, const char *d)
{
    vft_run r = vft_cli(a, b, c, d, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s", r.out);
    vft_run_free(&r);
    return j;
}

static uint64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsNumber(v), "%s", k);
    return (uint64_t)v->valuedouble;
}

Test(quant, inspect_json_reports_scheme_logical_and_stored)
{
    char *d = make(VFT_BNB_NF4, NULL, 0), *pd = make(VFT_PLAIN, NULL, 0);
    cJSON *j = cli_json("inspect", "--json", d, NULL), *pj = cli_json("inspect", "--json", pd, NULL);
    cr_expect_eq(num(j, "parameters"), VFT_LLAMA_PARAMS);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "quantization");
    cr_assert(cJSON_IsObject(q));
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(q, "scheme")->valuestring, "bnb-nf4");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "double_quant")));
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(q, "config_method")->valuestring, "bitsandbytes");
    uint64_t all_elements = 0;
    for (const cJSON *t = cJSON_GetObjectItem(j, "dtypes")->child; t; t = t->next)
        all_elements += num(t, "elements");
    cr_expect_eq(num(q, "stored_elements"), all_elements, "every element as stored");
    cr_expect_lt(num(q, "stored_elements"), VFT_LLAMA_PARAMS, "4-bit packs two values a byte");
    cr_expect_eq(num(q, "metadata_tensors"), 5u * 14);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(pj, "quantization"), "unquantized: no new key");
    cJSON_Delete(j);
    cJSON_Delete(pj);
    vft_run r = vft_cli("inspect", d, NULL);
    cr_expect(strstr(r.out, "Quantization  bnb-nf4, 4 bits, group 64, double quant") != NULL, "%s", r.out);
    vft_run_free(&r);
    vft_rmtree(d);
    vft_rmtree(pd);
    free(d);
    free(pd);
}

/* --method all --json prints {"methods": {"sft": {..., "notes": [...]}, ...}}. */
static bool has_note(const cJSON *est, const char *text)
{
    const cJSON *m, *n;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(est, "methods"))
        cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(m, "notes"))
            if (cJSON_IsString(n) && strstr(n->valuestring, text))
                return true;
    return false;
}

Test(quant, estimates_say_the_checkpoint_is_quantized)
{
    char *d = make(VFT_BNB_NF4, NULL, 0), *g = make(VFT_GPTQ, NULL, 0);
    const char *const args[] = {"estimate", NULL, "--method", "all", "--json", "--gpu-memory", "80GiB",
                                "--batch-size", "1", "--max-seq-len", "64", NULL};
    const char *const *dirs[] = {(const char *const *)&d, (const char *const *)&g};
    for (int k = 0; k < 2; k++) {
        vft_run r = vft_cli(args[0], *dirs[k], args[2], args[3], args[4], args[5], args[6], args[7],
                            args[8], args[9], args[10], NULL);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cJSON *j = cJSON_Parse(r.out);
        cr_assert_not_null(j, "%s", r.out);
        cr_expect(has_note(j, "the checkpoint is quantized"), "%s", r.out);
        cr_expect(has_note(j, "trains a dequantized copy"), "%s", r.out);
        cr_expect(has_note(j, "QLoRA on a checkpoint already stored 4-bit"), "%s", r.out);
        cr_expect(k == 0 || has_note(j, "LoRA on gptq keeps the quantized base"), "%s", r.out);
        cJSON_Delete(j);
        vft_run_free(&r);
    }
    vft_rmtree(d);
    vft_rmtree(g);
    free(d);
    free(g);
}

Test(quant, qlora_bottleneck_skipped_for_a_4bit_checkpoint)
{
    vf_est_model m = {.parameters = UINT64_C(8000000000), .layers = 32, .hidden_size = 4096,
                      .vocab_size = 128256, .lora_dim_sum = 1000000};
    vf_est_setup s = VF_EST_SETUP_INIT;
    s.method = VF_METHOD_QLORA;
    s.gpu_memory = UINT64_C(80) << 30;
    s.batch_size = 1;
    s.max_seq_len = 16;
    vf_est_result r;
    vf_error err = {0};
    cr_assert_eq(vf_estimate(&m, &s, &r, &err), VF_OK, "%s", err.message);
    cr_expect(r.model_bound, "Training Hub's rule: the unquantized model at 1 byte per parameter");
    m.stored_4bit = true;
    cr_assert_eq(vf_estimate(&m, &s, &r, &err), VF_OK, "%s", err.message);
    cr_expect_not(r.model_bound);
    cr_expect_eq(r.subtotal, r.unbound_subtotal);
}

/* ---- snapshots ----------------------------------------------------------------------------------- */

static char *snapshot_of(const char *dir, uint32_t *version)
{
    char *out = vft_path(dir, "m.vfsnap");
    vft_run r = vft_cli("snapshot", dir, "-o", out, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    size_t len;
    uint8_t *b = (uint8_t *)vft_read_file(out, &len);
    cr_assert(b && len > 12);
    *version = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    free(b);
    return out;
}

/* Every command's output on these snapshots: test_snapshot.c roundtrip_quantized_checkpoints. */
Test(quant, snapshots_carry_the_tensor_data_in_format_2_only)
{
    for (int s = 0; s < VFT_QSCHEME_COUNT; s++) {
        char *d = make((vft_qscheme)s, NULL, 0);
        uint32_t version;
        char *snap = snapshot_of(d, &version);
        bool data = s == VFT_BNB_NF4 || s == VFT_BNB_FP4 || s == VFT_CT_INT4;
        cr_expect_eq(version, data ? 2u : 1u, "%s: version %u", vft_qscheme_name((vft_qscheme)s), version);
        vft_run a = vft_cli("inspect", "--json", d, NULL), b = vft_cli("inspect", "--json", snap, NULL);
        cJSON *ja = cJSON_Parse(a.out), *jb = cJSON_Parse(b.out);
        cr_assert(ja && jb, "%s / %s", a.err, b.err);
        const cJSON *qa = cJSON_GetObjectItem(ja, "quantization"), *qb = cJSON_GetObjectItem(jb, "quantization");
        cr_expect(qa ? cJSON_Compare(qa, qb, true) : !qb, "%s", vft_qscheme_name((vft_qscheme)s));
        cr_expect_eq(qa != NULL, s != VFT_PLAIN && s != VFT_MOE_PLAIN);
        cr_expect_eq(num(ja, "parameters"), num(jb, "parameters"));
        cJSON_Delete(ja);
        cJSON_Delete(jb);
        vft_run_free(&a);
        vft_run_free(&b);
        free(snap);
        vft_rmtree(d);
        free(d);
    }
}

/* A format-1 snapshot (headers only) of a bitsandbytes checkpoint, as an older vramfit wrote it. */
Test(quant, format_1_snapshot_of_a_bnb_checkpoint_names_the_missing_data)
{
    char *d = make(VFT_BNB_NF4, NULL, 0), *out = vft_path(d, "old.vfsnap");
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    vf_open_options keep = VF_OPEN_OPTIONS_INIT;
    keep.flags = VF_OPEN_KEEP_HEADERS;
    cr_assert_eq(vf_checkpoint_open(d, &keep, &cp, &err), VF_OK, "%s", err.message);
    size_t hl, cl, len;
    const uint8_t *h = vf_st_header_raw(vf_checkpoint_shard(cp, 0)->header, &hl);
    const uint8_t *cfg = vf_checkpoint_aux(cp, "config.json", &cl);
    vf_snapshot_file shard = {"model.safetensors", vf_st_header_file_size(vf_checkpoint_shard(cp, 0)->header), h, hl};
    vf_snapshot_file aux = {"config.json", 0, cfg, cl};
    uint8_t *bytes = NULL;
    cr_assert_eq(vf_snapshot_encode(d, &shard, 1, &aux, 1, &bytes, &len, &err), VF_OK, "%s", err.message);
    vft_write_file(out, bytes, len);
    vft_run r = vft_cli("inspect", out, NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "carries no data") && strstr(r.err, STATE0), "%s", r.err);
    vft_run_free(&r);
    r = vft_cli("verify", out, NULL); /* what needs no tensor data still works on it */
    cr_expect_neq(r.status, 4, "%s", r.err);
    vft_run_free(&r);
    free(bytes);
    vf_checkpoint_free(cp);
    free(out);
    vft_rmtree(d);
    free(d);
}

Test(quant, format_2_data_records_are_validated)
{
    char *d = make(VFT_BNB_FP4, NULL, 0), *out = vft_path(d, "bad.vfsnap");
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    vf_open_options keep = VF_OPEN_OPTIONS_INIT;
    keep.flags = VF_OPEN_KEEP_HEADERS;
    cr_assert_eq(vf_checkpoint_open(d, &keep, &cp, &err), VF_OK, "%s", err.message);
    size_t hl, len;
    const uint8_t *h = vf_st_header_raw(vf_checkpoint_shard(cp, 0)->header, &hl);
    vf_snapshot_file shard = {"model.safetensors", vf_st_header_file_size(vf_checkpoint_shard(cp, 0)->header), h, hl};
    static const struct {
        vf_snapshot_data rec;
        const char *msg;
    } cases[] = {
        {{"model.safetensors", "model.norm.weight", (const uint8_t *)"ab", 2}, "not the 128 bytes"},
        {{"model.safetensors", "no.such.weight_shape", (const uint8_t *)"ab", 2}, "does not hold"},
        {{"other.safetensors", "x.weight_shape", (const uint8_t *)"ab", 2}, "does not hold"},
        {{"model.safetensors", "model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__fp4",
          (const uint8_t *)"{}", 2}, "not the"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *bytes = NULL;
        cr_assert_eq(vf_snapshot_encode_data(d, &shard, 1, NULL, 0, &cases[k].rec, 1, &bytes, &len, &err), VF_OK);
        vft_write_file(out, bytes, len);
        vft_run r = vft_cli("inspect", out, NULL);
        cr_expect_eq(r.status, 4, "%s", r.err);
        cr_expect(strstr(r.err, cases[k].msg) != NULL, "want '%s': %s", cases[k].msg, r.err);
        vft_run_free(&r);
        free(bytes);
    }
    vf_checkpoint_free(cp);
    free(out);
    vft_rmtree(d);
    free(d);
}

/* ---- the 2026 checkpoints vfgen writes (tools/vfgen_2026.c), against its own oracle -------------- */

static cJSON *vfgen_expect(const char *name)
{
    const char *argv[] = {VF_VFGEN, "expect", name, NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "vfgen expect %s: %s", name, r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s", r.out);
    vft_run_free(&r);
    return j;
}

static uint64_t at(const cJSON *o, const char *a, const char *b)
{
    return num(b ? cJSON_GetObjectItemCaseSensitive(o, a) : o, b ? b : a);
}

/* inspect's parameters, stored elements, metadata bytes and architecture, and all-linear LoRA r 32
 * (PEFT finds no nn.Linear in GPTQ/AWQ checkpoints: expect says 0 modules, vramfit says why). */
static void expect_matches_vfgen(const char *dir, const char *name)
{
    cJSON *e = vfgen_expect(name), *i = cli_json("inspect", "--json", dir, NULL);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(i, "quantization");
    cr_assert(cJSON_IsObject(q), "%s: not seen as quantized", name);
    cr_expect_eq(at(i, "parameters", NULL), at(e, "parameters", NULL), "%s: parameters", name);
    cr_expect_eq(at(q, "stored_elements", NULL), at(e, "stored_elements", NULL), "%s: stored", name);
    cr_expect_eq(at(q, "metadata_bytes", NULL), at(e, "quant_metadata_bytes", NULL), "%s: metadata", name);
    cr_expect_eq(at(i, "bytes", NULL), at(e, "bytes", NULL), "%s: bytes", name);
    static const char *const arch[] = {"layers", "hidden_size", "vocab_size", "experts"};
    for (size_t k = 0; k < 4; k++)
        cr_expect_eq(at(i, "architecture", arch[k]), at(e, "architecture", arch[k]), "%s: %s", name, arch[k]);
    uint64_t modules = at(e, "all_linear", "modules");
    vft_run r = vft_cli("adapters", dir, "--method", "lora", "-r", "32", "--target", "all-linear", "--json", NULL);
    if (modules == 0) {
        cr_expect_eq(r.status, 2, "%s: %s", name, r.err);
        cr_expect(strstr(r.err, "QuantLinear") != NULL, "%s: %s", name, r.err);
    } else {
        cr_assert_eq(r.status, 0, "%s: %s", name, r.err);
        cJSON *a = cJSON_Parse(r.out);
        cr_expect_eq(at(a, "matrix_count", NULL), modules, "%s: modules", name);
        cr_expect_eq(at(a, "parameters", NULL), at(e, "all_linear", "lora_r32_parameters"), "%s", name);
        cJSON_Delete(a);
    }
    vft_run_free(&r);
    cJSON_Delete(e);
    cJSON_Delete(i);
}

Test(quant, generated_quantized_models_match_vfgen_expect)
{
    static const char *const names[] = {"llama-3.1-8b-gptq-int4", "llama-3.1-8b-awq-int4",
                                        "llama-3.1-8b-bnb-4bit", "llama-3.1-8b-fp8-dynamic", "gpt-oss-20b"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char *dir = vft_gen(names[k]);
        expect_matches_vfgen(dir, names[k]);
        free(dir);
    }
}

/* Not in `vfgen all` (91,991 tensors in 163 shards): written here. */
Test(quant, generated_deepseek_v3_fp8_matches_vfgen_expect, .timeout = 120)
{
    char *tmp = vft_tempdir(), *dir = vft_path(tmp, "deepseek-v3-fp8");
    const char *argv[] = {VF_VFGEN, "model", "deepseek-v3-fp8", dir, NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    expect_matches_vfgen(dir, "deepseek-v3-fp8");
    free(dir);
    vft_rmtree(tmp);
    free(tmp);
}

/* ---- hostile layouts of the other schemes: one clear error each, naming file and tensor -------- */

typedef void (*layout_fn)(vft_tb *b);
#define M0 "model.layers.0.self_attn.q_proj"

static void hostile_layout(layout_fn fill, const char *tensor, const char *msg)
{
    char *d = vft_tempdir(), *p = vft_path(d, "model.safetensors");
    vft_tb b = {0};
    VFT_T(&b, "model.embed_tokens.weight", "BF16", 256, 64);
    fill(&b);
    vft_tb_write(&b, p);
    expect_rejected(d, tensor, msg);
    free(p);
    vft_rmtree(d);
    free(d);
}

static void zero_weight_shape(vft_tb *b)
{
    VFT_T(b, M0 ".weight_packed", "I32", 64, 8);
    VFT_T(b, M0 ".weight_shape", "I64", 2); /* data all zero */
}
static void float_qweight(vft_tb *b) { VFT_T(b, M0 ".qweight", "F32", 8, 64); }
static void g_idx_2d(vft_tb *b)
{
    VFT_T(b, M0 ".qweight", "I32", 8, 64);
    VFT_T(b, M0 ".g_idx", "I32", 8, 8);
}
static void mxfp4_scales_mismatch(vft_tb *b)
{
    VFT_T(b, "model.layers.0.mlp.experts.down_proj_blocks", "U8", 4, 64, 2, 16);
    VFT_T(b, "model.layers.0.mlp.experts.down_proj_scales", "U8", 4, 64, 3);
}
static void state_as_f32(vft_tb *b)
{
    VFT_T(b, M0 ".weight", "U8", 2048, 1);
    VFT_T(b, M0 ".weight.quant_state.bitsandbytes__nf4", "F32", 4);
}
static void state_without_weight(vft_tb *b) { VFT_T(b, M0 ".weight.quant_state.bitsandbytes__nf4", "U8", 8); }
static void scale_inv_beside_bf16(vft_tb *b)
{
    VFT_T(b, M0 ".weight", "BF16", 64, 64);
    VFT_T(b, M0 ".weight_scale_inv", "F32", 1, 1);
}
static void scb_beside_bf16(vft_tb *b)
{
    VFT_T(b, M0 ".weight", "BF16", 64, 64);
    VFT_T(b, M0 ".SCB", "F32", 64);
}

Test(quant, hostile_layouts_are_one_clear_error)
{
    hostile_layout(zero_weight_shape, M0 ".weight_shape", "holds 0, not a dimension");
    hostile_layout(float_qweight, M0 ".qweight", "qweight is F32");
    hostile_layout(g_idx_2d, M0 ".g_idx", "g_idx is not the 1-D list");
    hostile_layout(mxfp4_scales_mismatch, "down_proj_blocks", "MXFP4 blocks must be U8");
    hostile_layout(state_as_f32, "quant_state.bitsandbytes__nf4", "quant_state is F32");
    hostile_layout(state_without_weight, "quant_state.bitsandbytes__nf4", "quant_state without its weight");
    hostile_layout(scale_inv_beside_bf16, M0 ".weight_scale_inv", "without an FP8 2-D weight");
    hostile_layout(scb_beside_bf16, M0 ".SCB", "SCB without an int8 2-D weight");
}

/* A parameter that merely ends in weight_scale beside a BF16 weight is no quantization. */
static void plain_weight_scale(vft_tb *b)
{
    VFT_T(b, M0 ".weight", "BF16", 64, 64);
    VFT_T(b, M0 ".weight_scale", "BF16", 64);
}

Test(quant, weight_scale_beside_a_16_bit_weight_is_a_parameter)
{
    char *d = vft_tempdir(), *p = vft_path(d, "model.safetensors");
    vft_tb b = {0};
    plain_weight_scale(&b);
    vft_tb_write(&b, p);
    vf_model *m = open_model(d);
    cr_expect_eq(vf_model_quant(m)->scheme, VF_QUANT_NONE);
    cr_expect_eq(vf_model_totals(m)->parameters, 64u * 64 + 64);
    vf_model_free(m);
    free(p);
    vft_rmtree(d);
    free(d);
}

Test(quant, absurd_bits_in_the_config_are_refused)
{
    static const struct {
        vft_qscheme s;
        const char *cfg, *tensor, *msg;
    } cases[] = {
        {VFT_CT_INT4, "{\"quantization_config\":{\"quant_method\":\"compressed-tensors\",\"config_groups\":"
                      "{\"g\":{\"weights\":{\"num_bits\":64}}}}}", M0 ".weight_packed", "num_bits 64 is not 2, 4 or 8"},
        {VFT_GPTQ, "{\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":1000000}}", M0 ".qweight",
         "bits 1000000 is not 2, 3, 4 or 8"},
        {VFT_AWQ, "{\"quantization_config\":{\"quant_method\":\"awq\",\"bits\":3}}", M0 ".qweight",
         "bits 3 does not divide 32"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *d = make(cases[k].s, NULL, 0), *p = vft_path(d, "config.json");
        vft_write_file(p, cases[k].cfg, strlen(cases[k].cfg));
        expect_rejected(d, cases[k].tensor, cases[k].msg);
        free(p);
        vft_rmtree(d);
        free(d);
    }
}

/* A module's siblings are found beside it in name order; when more than vf_quant.c's walk bound of
 * names share the module's prefix (q_proj_x00 ... after q_proj.*, q_proj!... before), by name. */
Test(quant, siblings_among_many_names_sharing_the_module_prefix)
{
    for (int many = 0; many < 2; many++) {
        char *d = vft_tempdir(), *p = vft_path(d, "model.safetensors"), name[96];
        vft_tb b = {0};
        VFT_T(&b, "model.embed_tokens.weight", "BF16", 256, 64);
        for (int k = 0; k < (many ? 70 : 3); k++) {
            snprintf(name, sizeof name, M0 "_x%02d.weight", k);
            VFT_T(&b, name, "BF16", 8, 8);
            snprintf(name, sizeof name, M0 "!%02d.weight", k);
            VFT_T(&b, name, "BF16", 8, 8);
        }
        VFT_T(&b, M0 ".weight", "F8_E4M3", 256, 256);
        VFT_T(&b, M0 ".weight_scale_inv", "F32", 2, 2);
        VFT_T(&b, M0 ".input_scale", "F32", 1);
        vft_tb_write(&b, p);
        vf_model *m = open_model(d);
        cr_expect_eq(vf_model_quant(m)->scheme, VF_QUANT_FP8_BLOCK, "many %d", many);
        cr_expect_eq(vf_model_quant(m)->group_size, 128);
        cr_expect_eq(tensor(m, M0 ".weight")->quant, VF_QPART_WEIGHT, "many %d", many);
        cr_expect_eq(tensor(m, M0 ".weight_scale_inv")->quant, VF_QPART_META, "many %d", many);
        cr_expect_eq(tensor(m, M0 ".input_scale")->quant, VF_QPART_META, "many %d", many);
        cr_expect_eq(tensor(m, M0 "_x00.weight")->quant, VF_QPART_NONE);
        cr_expect_eq(vf_model_quant(m)->metadata_tensors, 2);
        vf_model_free(m);
        free(p);
        vft_rmtree(d);
        free(d);
    }
}
