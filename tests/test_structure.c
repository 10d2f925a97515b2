/* test_structure.c - what a checkpoint *is* (issue 10, structure part): hybrid Mamba2 + attention +
 * MoE stacks (Granite 4.0-H), fused experts in both stored layouts, routers and shared experts,
 * sub-models (vision towers, projectors, MTP blocks), encoders and encoder-decoders, and PEFT's
 * all-linear rule on all of them.
 *
 * The fixtures are small but carry the real tensor names and shape relations of transformers'
 * modeling code (modeling_granitemoehybrid.py, modeling_gpt_oss.py, modeling_llama4.py,
 * modeling_deepseek_v3.py, modeling_qwen3_next.py, modeling_gemma3.py, modeling_qwen2_5_vl.py,
 * modeling_mamba.py, modeling_t5.py, modeling_modernbert.py); the expected numbers are worked out
 * by hand in the comments from nn.Linear(in, out) shapes. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"
#include "vramfit/vf_tensors.h"

/* ---- fixture builder --------------------------------------------------------------------------- */

typedef struct fixture {
    char *header; /* JSON object text being built */
    size_t len, cap;
    uint64_t off; /* data bytes so far (F32 zeros) */
} fixture;

static void fx_append(fixture *f, const char *text)
{
    size_t n = strlen(text);
    if (f->len + n + 1 > f->cap) {
        f->cap = (f->len + n + 1) * 2;
        f->header = realloc(f->header, f->cap);
        cr_assert_not_null(f->header);
    }
    memcpy(f->header + f->len, text, n + 1);
    f->len += n;
}

/* Adds tensor `name` (printf format) of ndim dimensions given as uint64_t varargs after the name's
 * own arguments are consumed by vsnprintf: callers pass dims first, then the name arguments. */
static void fx_tensor(fixture *f, int ndim, const uint64_t *dims, const char *fmt, ...)
{
    char name[256], shape[128], entry[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    uint64_t numel = 1;
    size_t o = (size_t)snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < ndim; i++) {
        numel *= dims[i];
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    }
    snprintf(shape + o, sizeof shape - o, "]");
    snprintf(entry, sizeof entry, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}",
             f->len > 1 ? "," : "", name, shape, (unsigned long long)f->off,
             (unsigned long long)(f->off + 4 * numel));
    f->off += 4 * numel;
    fx_append(f, entry);
}

#define D1(a) 1, (const uint64_t[]){a}
#define D2(a, b) 2, (const uint64_t[]){a, b}
#define D3(a, b, c) 3, (const uint64_t[]){a, b, c}
#define D4(a, b, c, d) 4, (const uint64_t[]){a, b, c, d}
#define D5(a, b, c, d, e) 5, (const uint64_t[]){a, b, c, d, e}

static fixture fx_new(void)
{
    fixture f = {0};
    fx_append(&f, "{");
    return f;
}

/* Writes model.safetensors (and config.json when given) into a fresh directory; frees f. */
static char *fx_write(fixture *f, const char *config)
{
    fx_append(f, "}");
    char *dir = vft_tempdir();
    size_t len;
    uint8_t *img = vft_st_image(f->header, f->off, &len);
    char *path = vft_path(dir, "model.safetensors");
    vft_write_file(path, img, len);
    free(img);
    free(path);
    if (config) {
        path = vft_path(dir, "config.json");
        vft_write_file(path, config, strlen(config));
        free(path);
    }
    free(f->header);
    return dir;
}

/* ---- JSON helpers ------------------------------------------------------------------------------ */

static cJSON *run_json(vft_run *r)
{
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j, "stdout is not JSON: %.200s", r->out);
    return j;
}

/* Runs the CLI with args (NULL-terminated) and "--json"; the parsed output. */
static cJSON *cli_json_argv(const char *const *args)
{
    const char *argv[24] = {VF_CLI};
    size_t n = 1;
    for (; *args && n < 22; args++)
        argv[n++] = *args;
    argv[n++] = "--json";
    argv[n] = NULL;
    vft_run r = vft_exec(argv, NULL);
    cJSON *j = run_json(&r);
    vft_run_free(&r);
    return j;
}
#define CLI_JSON(...) cli_json_argv((const char *const[]){__VA_ARGS__, NULL})

static uint64_t ju64(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "key %s", key);
    cr_assert(v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble));
    return (uint64_t)v->valuedouble;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(v), "key %s", key);
    return v->valuestring;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert_not_null(v, "key %s", key);
    return v;
}

/* The tensor_list entry named `name`. */
static const cJSON *tensor_entry(const cJSON *inspect, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, jget(inspect, "tensor_list")) if (strcmp(jstr(t, "name"), name) == 0) return t;
    cr_assert_fail("no tensor %s", name);
    return NULL;
}

/* The components entry named `name`, or NULL. */
static const cJSON *component(const cJSON *inspect, const char *name)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, jget(inspect, "components")) if (strcmp(jstr(c, "name"), name) == 0) return c;
    return NULL;
}

static void expect_arch(const cJSON *inspect, uint64_t layers, uint64_t hidden, uint64_t vocab, uint64_t experts,
                        const char *kind)
{
    const cJSON *a = jget(inspect, "architecture");
    cr_expect_eq(ju64(a, "layers"), layers);
    cr_expect_eq(ju64(a, "hidden_size"), hidden);
    cr_expect_eq(ju64(a, "vocab_size"), vocab);
    cr_expect_eq(ju64(a, "experts"), experts);
    cr_expect_str_eq(jstr(a, "kind"), kind);
}

/* No warning finding (a correct config.json must not be called wrong). */
static void expect_no_warnings(const cJSON *inspect)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, jget(inspect, "findings"))
        cr_expect_str_neq(jstr(f, "severity"), "warning", "%s", jstr(f, "message"));
}

/* Every matrix of an adapters JSON has name containing none of `avoid` (NULL-terminated). */
static void expect_no_matrix_named(const cJSON *adapters, const char *const *avoid)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, jget(adapters, "matrices"))
        for (const char *const *a = avoid; *a; a++)
            cr_expect_null(strstr(jstr(x, "name"), *a), "%s is a target", jstr(x, "name"));
}

/* JSON output without its "path" member (where the files were read: a snapshot keeps no path). */
static char *json_without_path(const vft_run *r)
{
    cJSON *d = cJSON_Parse(r->out);
    cr_assert_not_null(d, "not JSON: %.200s", r->out);
    cJSON_DeleteItemFromObject(d, "path");
    char *s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

/* The snapshot of dir gives the same inspect and adapters JSON, every member but "path". */
static void expect_snapshot_roundtrip(const char *dir)
{
    char *snap = vft_path(dir, "model.vfsnap");
    vft_run r = vft_cli("snapshot", dir, "-o", snap, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    static const char *const cmds[][6] = {{"inspect", "--json", "--tensors", "--by-layer", NULL},
                                          {"adapters", "--target", "all-linear", "--json", NULL},
                                          {"adapters", "--json", NULL}};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        vft_run a = vft_cli(cmds[c][0], dir, cmds[c][1], cmds[c][2], cmds[c][3], cmds[c][4], NULL);
        vft_run b = vft_cli(cmds[c][0], snap, cmds[c][1], cmds[c][2], cmds[c][3], cmds[c][4], NULL);
        cr_expect_eq(a.status, b.status, "%s: %s / %s", cmds[c][0], a.err, b.err);
        if (a.status != 0) { /* e.g. no default family target on Mamba: refused alike */
            vft_run_free(&a);
            vft_run_free(&b);
            continue;
        }
        char *ja = json_without_path(&a), *jb = json_without_path(&b);
        cr_expect_str_eq(ja, jb, "%s differs", cmds[c][0]);
        free(ja);
        free(jb);
        vft_run_free(&a);
        vft_run_free(&b);
    }
    free(snap);
}

/* ---- Granite 4.0-H (GraniteMoeHybrid) ---------------------------------------------------------- */

/* A GraniteMoeHybrid with H = 64, vocabulary 128, 4 layers (mamba, mamba, attention, mamba),
 * E = 4 experts of intermediate_size I = 16, shared_intermediate_size 32, Mamba2 with 8 heads of
 * 16 (d_inner = 2H = 128), 1 group, d_state 16, d_conv 4: conv_dim = 128 + 2*16 = 160, in_proj
 * out = d_inner + conv_dim + heads = 296. Tied embeddings (granite-4.0-h-* tie_word_embeddings). */
#define G_H 64
#define G_V 128
#define G_E 4
#define G_I 16
#define G_IS 32

static void granite_layer(fixture *f, int i, bool attention)
{
    const char *p = "model.layers";
    if (attention) {
        fx_tensor(f, D2(G_H, G_H), "%s.%d.self_attn.q_proj.weight", p, i);
        fx_tensor(f, D2(16, G_H), "%s.%d.self_attn.k_proj.weight", p, i);
        fx_tensor(f, D2(16, G_H), "%s.%d.self_attn.v_proj.weight", p, i);
        fx_tensor(f, D2(G_H, G_H), "%s.%d.self_attn.o_proj.weight", p, i);
    } else {
        fx_tensor(f, D2(296, G_H), "%s.%d.mamba.in_proj.weight", p, i);
        fx_tensor(f, D3(160, 1, 4), "%s.%d.mamba.conv1d.weight", p, i);
        fx_tensor(f, D1(160), "%s.%d.mamba.conv1d.bias", p, i);
        fx_tensor(f, D1(8), "%s.%d.mamba.dt_bias", p, i);
        fx_tensor(f, D1(8), "%s.%d.mamba.A_log", p, i);
        fx_tensor(f, D1(8), "%s.%d.mamba.D", p, i);
        fx_tensor(f, D1(128), "%s.%d.mamba.norm.weight", p, i);
        fx_tensor(f, D2(G_H, 128), "%s.%d.mamba.out_proj.weight", p, i);
    }
    fx_tensor(f, D3(G_E, 2 * G_I, G_H), "%s.%d.block_sparse_moe.input_linear.weight", p, i);
    fx_tensor(f, D3(G_E, G_H, G_I), "%s.%d.block_sparse_moe.output_linear.weight", p, i);
    fx_tensor(f, D2(G_E, G_H), "%s.%d.block_sparse_moe.router.layer.weight", p, i);
    fx_tensor(f, D2(2 * G_IS, G_H), "%s.%d.shared_mlp.input_linear.weight", p, i);
    fx_tensor(f, D2(G_H, G_IS), "%s.%d.shared_mlp.output_linear.weight", p, i);
    fx_tensor(f, D1(G_H), "%s.%d.input_layernorm.weight", p, i);
    fx_tensor(f, D1(G_H), "%s.%d.post_attention_layernorm.weight", p, i);
}

static char *granite_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(G_V, G_H), "model.embed_tokens.weight");
    for (int i = 0; i < 4; i++)
        granite_layer(&f, i, i == 2);
    fx_tensor(&f, D1(G_H), "model.norm.weight");
    return fx_write(&f, "{\"model_type\":\"granitemoehybrid\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":4,\"num_local_experts\":4,\"tie_word_embeddings\":true,"
                        "\"layer_types\":[\"mamba\",\"mamba\",\"attention\",\"mamba\"]}");
}

Test(structure, granite_4_h_architecture_roles_and_layer_kinds)
{
    char *dir = granite_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--tensors", "--by-layer");
    expect_arch(j, 4, G_H, G_V, G_E, "decoder");
    cr_expect(cJSON_IsTrue(jget(jget(j, "architecture"), "tied_embeddings")));
    cr_expect_eq(ju64(jget(j, "architecture"), "shared_expert_layers"), 4);
    expect_no_warnings(j);
    static const char *const kinds[] = {"mamba+moe", "mamba+moe", "attention+moe", "mamba+moe"};
    int i = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, jget(j, "layers")) cr_expect_str_eq(jstr(l, "kind"), kinds[i++]);
    cr_expect_eq(i, 4);
    static const struct {
        const char *name, *role, *module;
    } want[] = {
        {"model.layers.0.mamba.in_proj.weight", "mamba_in_proj", "linear"},
        {"model.layers.0.mamba.conv1d.weight", "mamba_conv1d", "conv"},
        {"model.layers.0.mamba.A_log", "mamba_ssm", "parameter"},
        {"model.layers.0.mamba.D", "mamba_ssm", "parameter"},
        {"model.layers.0.mamba.dt_bias", "mamba_ssm", "parameter"},
        {"model.layers.0.mamba.norm.weight", "norm", "none"},
        {"model.layers.0.mamba.out_proj.weight", "mamba_out_proj", "linear"},
        {"model.layers.0.block_sparse_moe.input_linear.weight", "mlp_gate_up", "parameter"},
        {"model.layers.0.block_sparse_moe.output_linear.weight", "mlp_down", "parameter"},
        {"model.layers.0.block_sparse_moe.router.layer.weight", "moe_router", "linear"},
        {"model.layers.0.shared_mlp.input_linear.weight", "mlp_gate_up", "linear"},
        {"model.layers.2.self_attn.o_proj.weight", "attn_o", "linear"},
        {"model.embed_tokens.weight", "embedding", "embedding"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const cJSON *t = tensor_entry(j, want[k].name);
        cr_expect_str_eq(jstr(t, "role"), want[k].role, "%s", want[k].name);
        cr_expect_str_eq(jstr(t, "module"), want[k].module, "%s", want[k].name);
        cr_expect_str_eq(jstr(t, "component"), "language_model");
    }
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

/* PEFT all-linear on GraniteMoeHybrid: nn.Linear are q/k/v/o, mamba.in_proj/out_proj,
 * router.layer and shared_mlp.input_linear/output_linear; ParallelExperts (nn.Parameter), the
 * Conv1d and the embedding are not. r*(in+out) per module:
 *   mamba layer: in_proj 64+296, out_proj 128+64, router 64+4, shared 64+64 and 32+64 = 844
 *   attention layer: q 128, k 80, v 80, o 128, router 68, shared 224 = 708
 * 3 mamba layers + 1 attention layer: 5*3 + 7 = 22 modules, (3*844 + 708) * 32 = 103,680. */
Test(structure, granite_4_h_all_linear_follows_peft)
{
    char *dir = granite_fixture();
    cJSON *j = CLI_JSON("adapters", dir, "--method", "lora", "-r", "32", "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 22);
    cr_expect_eq(ju64(j, "parameters"), (3 * 844 + 708) * 32);
    static const char *const avoid[] = {"conv1d", "block_sparse_moe.input", "block_sparse_moe.output", "embed_tokens",
                                        NULL};
    expect_no_matrix_named(j, avoid);
    const cJSON *x;
    cJSON_ArrayForEach(x, jget(j, "matrices")) if (strstr(jstr(x, "name"), "mamba.in_proj"))
    {
        cr_expect_eq(ju64(x, "in"), G_H);
        cr_expect_eq(ju64(x, "out"), 296);
    }
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

/* Fused [E, out, in] experts targeted by module name, as PEFT's target_parameters would adapt
 * input_linear.weight / output_linear.weight: per expert input_linear in 64 out 32, output_linear
 * in 16 out 64; 4 layers x 2 tensors x 4 experts = 32 matrices, r = 2:
 * 4 * 4 * (2*(64+32) + 2*(16+64)) = 5,632. */
Test(structure, granite_4_h_fused_experts_are_oriented_and_targetable)
{
    char *dir = granite_fixture();
    cJSON *j = CLI_JSON("adapters", dir, "--target", "block_sparse_moe.input_linear,block_sparse_moe.output_linear",
                        "-r", "2");
    cr_expect_eq(ju64(j, "matrix_count"), 32);
    cr_expect_eq(ju64(j, "parameters"), 4 * 4 * (2 * (64 + 32) + 2 * (16 + 64)));
    const cJSON *x;
    cJSON_ArrayForEach(x, jget(j, "matrices"))
    {
        bool in_lin = strstr(jstr(x, "name"), "input_linear") != NULL;
        cr_expect_eq(ju64(x, "in"), in_lin ? (uint64_t)G_H : (uint64_t)G_I, "%s", jstr(x, "name"));
        cr_expect_eq(ju64(x, "out"), in_lin ? 2 * (uint64_t)G_I : (uint64_t)G_H, "%s", jstr(x, "name"));
    }
    cJSON_Delete(j);
    vft_run r = vft_cli("adapters", dir, "--target", "input_linear", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "target_parameters") != NULL, "no PEFT target_parameters note: %s", r.out);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
}

Test(structure, granite_4_h_estimate_runs_and_snapshot_roundtrips)
{
    char *dir = granite_fixture();
    vft_run r = vft_cli("estimate", dir, "--method", "all", "--gpu-memory", "24GiB", "--batch-size", "1",
                        "--max-seq-len", "64", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    expect_snapshot_roundtrip(dir);
    vft_rmtree(dir);
    free(dir);
}

/* ---- gpt-oss: bmm-layout experts, parameter router, sinks --------------------------------------- */

/* GptOssExperts: gate_up_proj [E, H, 2I], down_proj [E, I, H] (in before out); GptOssTopKRouter
 * holds nn.Parameter weight [E, H] and bias [E]; attention sinks [heads]. H = 64, I = 32, E = 4. */
static char *gpt_oss_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "model.embed_tokens.weight");
    for (int i = 0; i < 2; i++) {
        fx_tensor(&f, D2(64, 64), "model.layers.%d.self_attn.q_proj.weight", i);
        fx_tensor(&f, D2(16, 64), "model.layers.%d.self_attn.k_proj.weight", i);
        fx_tensor(&f, D2(16, 64), "model.layers.%d.self_attn.v_proj.weight", i);
        fx_tensor(&f, D2(64, 64), "model.layers.%d.self_attn.o_proj.weight", i);
        fx_tensor(&f, D1(8), "model.layers.%d.self_attn.sinks", i);
        fx_tensor(&f, D2(4, 64), "model.layers.%d.mlp.router.weight", i);
        fx_tensor(&f, D1(4), "model.layers.%d.mlp.router.bias", i);
        fx_tensor(&f, D3(4, 64, 64), "model.layers.%d.mlp.experts.gate_up_proj", i);
        fx_tensor(&f, D2(4, 64), "model.layers.%d.mlp.experts.gate_up_proj_bias", i);
        fx_tensor(&f, D3(4, 32, 64), "model.layers.%d.mlp.experts.down_proj", i);
        fx_tensor(&f, D2(4, 64), "model.layers.%d.mlp.experts.down_proj_bias", i);
        fx_tensor(&f, D1(64), "model.layers.%d.input_layernorm.weight", i);
    }
    fx_tensor(&f, D1(64), "model.norm.weight");
    fx_tensor(&f, D2(128, 64), "lm_head.weight");
    return fx_write(&f, "{\"model_type\":\"gpt_oss\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2,\"num_local_experts\":4}");
}

Test(structure, gpt_oss_bmm_experts_in_out_and_parameter_router)
{
    char *dir = gpt_oss_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--tensors");
    expect_arch(j, 2, 64, 128, 4, "decoder");
    expect_no_warnings(j);
    cr_expect_str_eq(jstr(tensor_entry(j, "model.layers.0.mlp.router.weight"), "module"), "parameter");
    cr_expect_str_eq(jstr(tensor_entry(j, "model.layers.0.self_attn.sinks"), "role"), "attn_sinks");
    cJSON_Delete(j);
    /* gate_up_proj [4, 64, 64]: in 64, out 2I = 64; down_proj [4, 32, 64]: in I = 32, out H = 64. */
    j = CLI_JSON("adapters", dir, "--target", "down_proj", "-r", "2");
    cr_expect_eq(ju64(j, "matrix_count"), 8);
    const cJSON *x;
    cJSON_ArrayForEach(x, jget(j, "matrices"))
    {
        cr_expect_eq(ju64(x, "in"), 32);
        cr_expect_eq(ju64(x, "out"), 64);
    }
    cJSON_Delete(j);
    /* all-linear: q, k, v, o only (router and experts are nn.Parameter): 2 * (128+80+80+128) * 32. */
    j = CLI_JSON("adapters", dir, "-r", "32", "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 8);
    cr_expect_eq(ju64(j, "parameters"), 2ULL * (128 + 80 + 80 + 128) * 32);
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

/* ---- Llama 4: multimodal, bmm experts, nn.Linear router, shared expert -------------------------- */

static char *llama4_fixture(void)
{
    fixture f = fx_new();
    const char *lm = "language_model.model.layers";
    fx_tensor(&f, D2(128, 64), "language_model.model.embed_tokens.weight");
    for (int i = 0; i < 2; i++) {
        fx_tensor(&f, D2(64, 64), "%s.%d.self_attn.q_proj.weight", lm, i);
        fx_tensor(&f, D2(16, 64), "%s.%d.self_attn.k_proj.weight", lm, i);
        fx_tensor(&f, D2(16, 64), "%s.%d.self_attn.v_proj.weight", lm, i);
        fx_tensor(&f, D2(64, 64), "%s.%d.self_attn.o_proj.weight", lm, i);
        fx_tensor(&f, D2(4, 64), "%s.%d.feed_forward.router.weight", lm, i);
        fx_tensor(&f, D3(4, 64, 64), "%s.%d.feed_forward.experts.gate_up_proj", lm, i);
        fx_tensor(&f, D3(4, 32, 64), "%s.%d.feed_forward.experts.down_proj", lm, i);
        fx_tensor(&f, D2(32, 64), "%s.%d.feed_forward.shared_expert.gate_proj.weight", lm, i);
        fx_tensor(&f, D2(32, 64), "%s.%d.feed_forward.shared_expert.up_proj.weight", lm, i);
        fx_tensor(&f, D2(64, 32), "%s.%d.feed_forward.shared_expert.down_proj.weight", lm, i);
        fx_tensor(&f, D1(64), "%s.%d.input_layernorm.weight", lm, i);
    }
    fx_tensor(&f, D1(64), "language_model.model.norm.weight");
    fx_tensor(&f, D2(128, 64), "language_model.lm_head.weight");
    for (int i = 0; i < 3; i++) {
        fx_tensor(&f, D2(32, 32), "vision_model.model.layers.%d.self_attn.q_proj.weight", i);
        fx_tensor(&f, D2(32, 32), "vision_model.model.layers.%d.self_attn.o_proj.weight", i);
        fx_tensor(&f, D2(64, 32), "vision_model.model.layers.%d.mlp.fc1.weight", i);
        fx_tensor(&f, D2(32, 64), "vision_model.model.layers.%d.mlp.fc2.weight", i);
    }
    fx_tensor(&f, D2(32, 48), "vision_model.patch_embedding.linear.weight");
    fx_tensor(&f, D2(64, 32), "multi_modal_projector.linear_1.weight");
    return fx_write(&f, "{\"model_type\":\"llama4\",\"text_config\":{\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2,\"num_local_experts\":4},"
                        "\"vision_config\":{\"num_hidden_layers\":3,\"hidden_size\":32}}");
}

Test(structure, llama4_components_bmm_experts_and_language_model_targets)
{
    char *dir = llama4_fixture();
    cJSON *j = CLI_JSON("inspect", dir);
    expect_arch(j, 2, 64, 128, 4, "decoder");
    expect_no_warnings(j);
    const cJSON *v = component(j, "vision"), *p = component(j, "projector");
    cr_assert(v && p);
    cr_expect_eq(ju64(v, "layers"), 3);
    cr_expect_eq(ju64(v, "tensors"), 13);
    cr_expect_eq(ju64(p, "parameters"), 64 * 32);
    cr_expect_eq(ju64(jget(j, "architecture"), "shared_expert_layers"), 2);
    cJSON_Delete(j);
    /* gate_up_proj [E, H, 2I] = [4, 64, 64]: in 64 out 64; down_proj [4, 32, 64]: in 32 out 64. */
    j = CLI_JSON("adapters", dir, "--target", "experts.down_proj", "-r", "1");
    const cJSON *x;
    cJSON_ArrayForEach(x, jget(j, "matrices"))
    {
        cr_expect_eq(ju64(x, "in"), 32);
        cr_expect_eq(ju64(x, "out"), 64);
    }
    cJSON_Delete(j);
    /* The default family (llama: self_attn.*, no mlp.* in Llama 4's text model) targets the language
     * model only: 2 layers x q, k, v, o; the vision q_proj/o_proj are left out. */
    j = CLI_JSON("adapters", dir);
    cr_expect_eq(ju64(j, "matrix_count"), 8);
    static const char *const avoid[] = {"vision_model", "multi_modal_projector", NULL};
    expect_no_matrix_named(j, avoid);
    cJSON_Delete(j);
    /* all-linear (PEFT): every nn.Linear of the whole model - the router (Llama4Router is an
     * nn.Linear), the shared expert, the vision tower and the projector - minus lm_head:
     * per text layer q,k,v,o,router,3 shared = 8 -> 16; vision 3 x 4 = 12; patch linear 1;
     * projector 1: 30. */
    j = CLI_JSON("adapters", dir, "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 30);
    cJSON_Delete(j);
    expect_snapshot_roundtrip(dir);
    vft_rmtree(dir);
    free(dir);
}

/* ---- DeepSeek-V3: MTP layer, parameter router, shared experts, buffer --------------------------- */

/* num_hidden_layers 2; layer 0 dense, layer 1 MoE (4 routed experts, shared_experts, gate with
 * e_score_correction_bias); layer 2 = num_hidden_layers is the MTP block (eh_proj, enorm, hnorm,
 * shared_head) that DeepseekV3Model ignores on load. */
static void deepseek_attention(fixture *f, int i)
{
    fx_tensor(f, D2(32, 64), "model.layers.%d.self_attn.q_a_proj.weight", i);
    fx_tensor(f, D1(32), "model.layers.%d.self_attn.q_a_layernorm.weight", i);
    fx_tensor(f, D2(96, 32), "model.layers.%d.self_attn.q_b_proj.weight", i);
    fx_tensor(f, D2(40, 64), "model.layers.%d.self_attn.kv_a_proj_with_mqa.weight", i);
    fx_tensor(f, D1(32), "model.layers.%d.self_attn.kv_a_layernorm.weight", i);
    fx_tensor(f, D2(128, 32), "model.layers.%d.self_attn.kv_b_proj.weight", i);
    fx_tensor(f, D2(64, 64), "model.layers.%d.self_attn.o_proj.weight", i);
    fx_tensor(f, D1(64), "model.layers.%d.input_layernorm.weight", i);
}

static void deepseek_moe(fixture *f, int i)
{
    fx_tensor(f, D2(4, 64), "model.layers.%d.mlp.gate.weight", i);
    fx_tensor(f, D1(4), "model.layers.%d.mlp.gate.e_score_correction_bias", i);
    for (int e = 0; e < 4; e++) {
        fx_tensor(f, D2(16, 64), "model.layers.%d.mlp.experts.%d.gate_proj.weight", i, e);
        fx_tensor(f, D2(16, 64), "model.layers.%d.mlp.experts.%d.up_proj.weight", i, e);
        fx_tensor(f, D2(64, 16), "model.layers.%d.mlp.experts.%d.down_proj.weight", i, e);
    }
    fx_tensor(f, D2(16, 64), "model.layers.%d.mlp.shared_experts.gate_proj.weight", i);
    fx_tensor(f, D2(16, 64), "model.layers.%d.mlp.shared_experts.up_proj.weight", i);
    fx_tensor(f, D2(64, 16), "model.layers.%d.mlp.shared_experts.down_proj.weight", i);
}

static char *deepseek_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "model.embed_tokens.weight");
    deepseek_attention(&f, 0);
    fx_tensor(&f, D2(96, 64), "model.layers.0.mlp.gate_proj.weight");
    fx_tensor(&f, D2(96, 64), "model.layers.0.mlp.up_proj.weight");
    fx_tensor(&f, D2(64, 96), "model.layers.0.mlp.down_proj.weight");
    deepseek_attention(&f, 1);
    deepseek_moe(&f, 1);
    deepseek_attention(&f, 2); /* the MTP block: a full decoder layer plus its own head */
    deepseek_moe(&f, 2);
    fx_tensor(&f, D2(128, 64), "model.layers.2.embed_tokens.weight");
    fx_tensor(&f, D1(64), "model.layers.2.enorm.weight");
    fx_tensor(&f, D1(64), "model.layers.2.hnorm.weight");
    fx_tensor(&f, D2(64, 128), "model.layers.2.eh_proj.weight");
    fx_tensor(&f, D1(64), "model.layers.2.shared_head.norm.weight");
    fx_tensor(&f, D2(128, 64), "model.layers.2.shared_head.head.weight");
    fx_tensor(&f, D1(64), "model.norm.weight");
    fx_tensor(&f, D2(128, 64), "lm_head.weight");
    return fx_write(&f, "{\"model_type\":\"deepseek_v3\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2,\"n_routed_experts\":4,\"num_nextn_predict_layers\":1}");
}

Test(structure, deepseek_v3_mtp_layer_is_shown_but_not_loaded)
{
    char *dir = deepseek_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--tensors");
    expect_arch(j, 2, 64, 128, 4, "decoder");
    expect_no_warnings(j); /* config.json's 2 layers are right */
    const cJSON *mtp = component(j, "mtp"), *lm = component(j, "language_model");
    cr_assert(mtp && lm);
    cr_expect(cJSON_IsFalse(jget(mtp, "loaded")));
    cr_expect_eq(ju64(mtp, "parameters"), 0);
    cr_expect_gt(ju64(mtp, "bytes"), 0);
    cr_expect_eq(ju64(lm, "parameters"), ju64(j, "parameters"));
    cr_expect_eq(ju64(lm, "bytes") + ju64(mtp, "bytes"), ju64(j, "bytes"));
    const cJSON *bias = tensor_entry(j, "model.layers.1.mlp.gate.e_score_correction_bias");
    cr_expect(cJSON_IsTrue(jget(bias, "buffer")));
    cr_expect_str_eq(jstr(tensor_entry(j, "model.layers.1.mlp.gate.weight"), "module"), "parameter");
    cr_expect(cJSON_IsTrue(jget(tensor_entry(j, "model.layers.2.eh_proj.weight"), "ignored")));
    cJSON_Delete(j);
    /* all-linear: no MTP module, no parameter router. Per layer MLA 5 projections; layer 0 dense MLP
     * 3; layer 1 4 experts x 3 + shared 3 = 15: 5 + 3 + 5 + 15 = 28. */
    j = CLI_JSON("adapters", dir, "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 28);
    static const char *const avoid[] = {"layers.2.", "mlp.gate.weight", NULL};
    expect_no_matrix_named(j, avoid);
    cJSON_Delete(j);
    vft_run r = vft_cli("estimate", dir, "--gpu-memory", "24GiB", "--batch-size", "1", "--max-seq-len", "64", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    expect_snapshot_roundtrip(dir);
    vft_rmtree(dir);
    free(dir);
}

/* ---- Qwen3-Next: gated delta-net layers, mtp.* ------------------------------------------------- */

static char *qwen3_next_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "model.embed_tokens.weight");
    for (int i = 0; i < 4; i++) {
        const char *p = "model.layers";
        if (i == 3) {
            fx_tensor(&f, D2(128, 64), "%s.%d.self_attn.q_proj.weight", p, i);
            fx_tensor(&f, D2(16, 64), "%s.%d.self_attn.k_proj.weight", p, i);
            fx_tensor(&f, D2(16, 64), "%s.%d.self_attn.v_proj.weight", p, i);
            fx_tensor(&f, D2(64, 64), "%s.%d.self_attn.o_proj.weight", p, i);
        } else {
            fx_tensor(&f, D2(192, 64), "%s.%d.linear_attn.in_proj_qkvz.weight", p, i);
            fx_tensor(&f, D2(8, 64), "%s.%d.linear_attn.in_proj_ba.weight", p, i);
            fx_tensor(&f, D3(128, 1, 4), "%s.%d.linear_attn.conv1d.weight", p, i);
            fx_tensor(&f, D1(4), "%s.%d.linear_attn.dt_bias", p, i);
            fx_tensor(&f, D1(4), "%s.%d.linear_attn.A_log", p, i);
            fx_tensor(&f, D1(16), "%s.%d.linear_attn.norm.weight", p, i);
            fx_tensor(&f, D2(64, 64), "%s.%d.linear_attn.out_proj.weight", p, i);
        }
        fx_tensor(&f, D2(4, 64), "%s.%d.mlp.gate.weight", p, i);
        for (int e = 0; e < 4; e++) {
            fx_tensor(&f, D2(16, 64), "%s.%d.mlp.experts.%d.gate_proj.weight", p, i, e);
            fx_tensor(&f, D2(16, 64), "%s.%d.mlp.experts.%d.up_proj.weight", p, i, e);
            fx_tensor(&f, D2(64, 16), "%s.%d.mlp.experts.%d.down_proj.weight", p, i, e);
        }
        fx_tensor(&f, D2(16, 64), "%s.%d.mlp.shared_expert.gate_proj.weight", p, i);
        fx_tensor(&f, D2(16, 64), "%s.%d.mlp.shared_expert.up_proj.weight", p, i);
        fx_tensor(&f, D2(64, 16), "%s.%d.mlp.shared_expert.down_proj.weight", p, i);
        fx_tensor(&f, D2(1, 64), "%s.%d.mlp.shared_expert_gate.weight", p, i);
    }
    fx_tensor(&f, D1(64), "model.norm.weight");
    fx_tensor(&f, D2(128, 64), "lm_head.weight");
    fx_tensor(&f, D2(64, 128), "mtp.fc.weight");
    fx_tensor(&f, D1(64), "mtp.pre_fc_norm_embedding.weight");
    fx_tensor(&f, D2(128, 64), "mtp.layers.0.self_attn.q_proj.weight");
    fx_tensor(&f, D1(64), "mtp.norm.weight");
    return fx_write(&f, "{\"model_type\":\"qwen3_next\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":4,\"num_experts\":4}");
}

Test(structure, qwen3_next_linear_attention_layers_and_mtp)
{
    char *dir = qwen3_next_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--by-layer");
    expect_arch(j, 4, 64, 128, 4, "decoder");
    expect_no_warnings(j);
    static const char *const kinds[] = {"linear_attention+moe", "linear_attention+moe",
                                        "linear_attention+moe", "attention+moe"};
    int i = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, jget(j, "layers")) cr_expect_str_eq(jstr(l, "kind"), kinds[i++]);
    const cJSON *mtp = component(j, "mtp");
    cr_assert(mtp);
    cr_expect_eq(ju64(mtp, "tensors"), 4);
    cr_expect(cJSON_IsFalse(jget(mtp, "loaded")));
    cJSON_Delete(j);
    /* The family stays Training Hub's qwen3.5 (linear_attn.out_proj) and MTP is never a target. */
    j = CLI_JSON("adapters", dir, "--target", "all-linear");
    static const char *const avoid[] = {"mtp.", "conv1d", NULL};
    expect_no_matrix_named(j, avoid);
    /* per layer: gate 1 + experts 12 + shared 3 + shared gate 1 = 17; linear_attn 3 x 3 (qkvz, ba,
     * out); attention 4: 4 * 17 + 9 + 4 = 81. */
    cr_expect_eq(ju64(j, "matrix_count"), 81);
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

/* ---- Gemma 3 and Qwen2.5-VL: towers out of the architecture and of the family --------------------- */

static char *gemma3_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "language_model.model.embed_tokens.weight");
    for (int i = 0; i < 2; i++) {
        const char *p = "language_model.model.layers";
        fx_tensor(&f, D2(64, 64), "%s.%d.self_attn.q_proj.weight", p, i);
        fx_tensor(&f, D2(32, 64), "%s.%d.self_attn.k_proj.weight", p, i);
        fx_tensor(&f, D2(32, 64), "%s.%d.self_attn.v_proj.weight", p, i);
        fx_tensor(&f, D2(64, 64), "%s.%d.self_attn.o_proj.weight", p, i);
        fx_tensor(&f, D1(16), "%s.%d.self_attn.q_norm.weight", p, i);
        fx_tensor(&f, D2(96, 64), "%s.%d.mlp.gate_proj.weight", p, i);
        fx_tensor(&f, D2(96, 64), "%s.%d.mlp.up_proj.weight", p, i);
        fx_tensor(&f, D2(64, 96), "%s.%d.mlp.down_proj.weight", p, i);
    }
    fx_tensor(&f, D1(64), "language_model.model.norm.weight");
    const char *v = "vision_tower.vision_model";
    fx_tensor(&f, D4(32, 3, 4, 4), "%s.embeddings.patch_embedding.weight", v);
    fx_tensor(&f, D2(16, 32), "%s.embeddings.position_embedding.weight", v);
    for (int i = 0; i < 3; i++) {
        fx_tensor(&f, D2(32, 32), "%s.encoder.layers.%d.self_attn.q_proj.weight", v, i);
        fx_tensor(&f, D2(32, 32), "%s.encoder.layers.%d.self_attn.out_proj.weight", v, i);
        fx_tensor(&f, D2(48, 32), "%s.encoder.layers.%d.mlp.fc1.weight", v, i);
        fx_tensor(&f, D2(32, 48), "%s.encoder.layers.%d.mlp.fc2.weight", v, i);
    }
    fx_tensor(&f, D2(32, 64), "multi_modal_projector.mm_input_projection_weight");
    fx_tensor(&f, D1(32), "multi_modal_projector.mm_soft_emb_norm.weight");
    return fx_write(&f, "{\"model_type\":\"gemma3\",\"text_config\":{\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2},\"vision_config\":{\"num_hidden_layers\":3}}");
}

Test(structure, gemma3_family_from_the_language_model_not_siglip)
{
    char *dir = gemma3_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--tensors");
    expect_arch(j, 2, 64, 128, 0, "decoder");
    expect_no_warnings(j);
    cr_expect_str_eq(jstr(tensor_entry(j, "vision_tower.vision_model.embeddings.patch_embedding.weight"), "module"),
                     "conv");
    cr_expect_str_eq(jstr(tensor_entry(j, "multi_modal_projector.mm_input_projection_weight"), "component"),
                     "projector");
    cJSON_Delete(j);
    j = CLI_JSON("adapters", dir);
    cr_expect_str_eq(jstr(j, "family"), "llama");
    cr_expect_eq(ju64(j, "matrix_count"), 14); /* 2 x (q, k, v, o, gate, up, down) */
    static const char *const avoid[] = {"vision_tower", "multi_modal_projector", NULL};
    expect_no_matrix_named(j, avoid);
    cJSON_Delete(j);
    vft_run r = vft_cli("adapters", dir, NULL);
    cr_expect(strstr(r.out, "default targets are the language model's matrices"), "%s", r.out);
    vft_run_free(&r);
    /* A family named (--family, --compat training-hub) applies as Training Hub applies it: its
     * substrings also hit SigLIP's self_attn.q_proj (3 layers), not out_proj/fc1. */
    j = CLI_JSON("adapters", dir, "--family", "llama");
    cr_expect_eq(ju64(j, "matrix_count"), 14 + 3);
    cJSON_Delete(j);
    /* --target-regex still reaches the tower. */
    j = CLI_JSON("adapters", dir, "--target-regex", "vision_tower.*q_proj");
    cr_expect_eq(ju64(j, "matrix_count"), 3);
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

static char *qwen25_vl_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "model.embed_tokens.weight");
    for (int i = 0; i < 2; i++) {
        fx_tensor(&f, D2(64, 64), "model.layers.%d.self_attn.q_proj.weight", i);
        fx_tensor(&f, D1(64), "model.layers.%d.self_attn.q_proj.bias", i);
        fx_tensor(&f, D2(64, 64), "model.layers.%d.self_attn.o_proj.weight", i);
        fx_tensor(&f, D2(96, 64), "model.layers.%d.mlp.gate_proj.weight", i);
    }
    fx_tensor(&f, D2(128, 64), "lm_head.weight");
    fx_tensor(&f, D5(32, 3, 2, 4, 4), "visual.patch_embed.proj.weight");
    for (int i = 0; i < 4; i++) {
        fx_tensor(&f, D2(96, 32), "visual.blocks.%d.attn.qkv.weight", i);
        fx_tensor(&f, D2(32, 32), "visual.blocks.%d.attn.proj.weight", i);
        fx_tensor(&f, D2(48, 32), "visual.blocks.%d.mlp.gate_proj.weight", i);
    }
    fx_tensor(&f, D2(128, 128), "visual.merger.mlp.0.weight");
    fx_tensor(&f, D2(64, 128), "visual.merger.mlp.2.weight");
    return fx_write(&f, "{\"model_type\":\"qwen2_5_vl\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2,\"vision_config\":{\"depth\":4}}");
}

Test(structure, qwen25_vl_vision_blocks_are_not_decoder_layers)
{
    char *dir = qwen25_vl_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--by-layer");
    expect_arch(j, 2, 64, 128, 0, "decoder");
    expect_no_warnings(j);
    cr_expect_eq(cJSON_GetArraySize(jget(j, "layers")), 2);
    cr_expect_eq(ju64(component(j, "vision"), "layers"), 4);
    cr_expect_eq(ju64(component(j, "projector"), "tensors"), 2);
    cJSON_Delete(j);
    j = CLI_JSON("adapters", dir);
    static const char *const avoid[] = {"visual.", NULL};
    expect_no_matrix_named(j, avoid);
    cJSON_Delete(j);
    /* all-linear reaches the tower: 2 x 3 text + 4 x 3 vision + 2 merger (patch_embed is Conv3d). */
    j = CLI_JSON("adapters", dir, "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 20);
    cJSON_Delete(j);
    expect_snapshot_roundtrip(dir);
    vft_rmtree(dir);
    free(dir);
}

/* ---- Mamba, T5, ModernBERT --------------------------------------------------------------------- */

/* MambaForCausalLM (modeling_mamba.py): backbone.embeddings, backbone.layers.N.mixer.{in_proj,
 * conv1d, x_proj, dt_proj, A_log, D, out_proj}, backbone.norm_f; tied head. H = 64, d_inner 128,
 * d_state 16, dt_rank 4. */
static char *mamba_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "backbone.embeddings.weight");
    for (int i = 0; i < 2; i++) {
        const char *p = "backbone.layers";
        fx_tensor(&f, D2(256, 64), "%s.%d.mixer.in_proj.weight", p, i);
        fx_tensor(&f, D3(128, 1, 4), "%s.%d.mixer.conv1d.weight", p, i);
        fx_tensor(&f, D1(128), "%s.%d.mixer.conv1d.bias", p, i);
        fx_tensor(&f, D2(36, 128), "%s.%d.mixer.x_proj.weight", p, i);
        fx_tensor(&f, D2(128, 4), "%s.%d.mixer.dt_proj.weight", p, i);
        fx_tensor(&f, D1(128), "%s.%d.mixer.dt_proj.bias", p, i);
        fx_tensor(&f, D2(128, 16), "%s.%d.mixer.A_log", p, i);
        fx_tensor(&f, D1(128), "%s.%d.mixer.D", p, i);
        fx_tensor(&f, D2(64, 128), "%s.%d.mixer.out_proj.weight", p, i);
        fx_tensor(&f, D1(64), "%s.%d.norm.weight", p, i);
    }
    fx_tensor(&f, D1(64), "backbone.norm_f.weight");
    return fx_write(&f, "{\"model_type\":\"mamba\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2,\"tie_word_embeddings\":true}");
}

Test(structure, mamba_embeddings_found_and_conv1d_never_linear)
{
    char *dir = mamba_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--by-layer", "--tensors");
    expect_arch(j, 2, 64, 128, 0, "decoder");
    expect_no_warnings(j);
    const cJSON *l;
    cJSON_ArrayForEach(l, jget(j, "layers")) cr_expect_str_eq(jstr(l, "kind"), "mamba");
    cr_expect_str_eq(jstr(tensor_entry(j, "backbone.layers.0.mixer.A_log"), "module"), "parameter");
    cr_expect_str_eq(jstr(tensor_entry(j, "backbone.layers.0.mixer.out_proj.weight"), "role"), "mamba_out_proj");
    cJSON_Delete(j);
    /* all-linear: in_proj, x_proj, dt_proj, out_proj per layer (A_log is 2-D but a parameter):
     * 2 * 32 * ((64+256) + (128+36) + (4+128) + (128+64)). */
    j = CLI_JSON("adapters", dir, "-r", "32", "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 8);
    cr_expect_eq(ju64(j, "parameters"), 2ULL * 32 * (320 + 164 + 132 + 192));
    cJSON_Delete(j);
    vft_run r = vft_cli("estimate", dir, "--gpu-memory", "24GiB", "--batch-size", "1", "--max-seq-len", "64", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    /* LoRA with the detected (default) family matches nothing on Mamba: the error names the way out,
     * and that way works */
    r = vft_cli("estimate", dir, "--method", "lora", "--gpu-memory", "24GiB", "--batch-size", "1",
                "--max-seq-len", "64", NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "no weight matrix matches") && strstr(r.err, "--target all-linear"), "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    vft_run_free(&r);
    r = vft_cli("estimate", dir, "--method", "lora", "--gpu-memory", "24GiB", "--batch-size", "1",
                "--max-seq-len", "64", "--target", "all-linear", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
}

static char *t5_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "shared.weight");
    static const char *const stacks[] = {"encoder", "decoder"};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 2; i++) {
            const char *st = stacks[s];
            fx_tensor(&f, D2(64, 64), "%s.block.%d.layer.0.SelfAttention.q.weight", st, i);
            fx_tensor(&f, D2(64, 64), "%s.block.%d.layer.0.SelfAttention.k.weight", st, i);
            fx_tensor(&f, D2(64, 64), "%s.block.%d.layer.0.SelfAttention.v.weight", st, i);
            fx_tensor(&f, D2(64, 64), "%s.block.%d.layer.0.SelfAttention.o.weight", st, i);
            if (i == 0)
                fx_tensor(&f, D2(32, 4), "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", st);
            fx_tensor(&f, D1(64), "%s.block.%d.layer.0.layer_norm.weight", st, i);
            int ff = 1;
            if (s == 1) {
                fx_tensor(&f, D2(64, 64), "decoder.block.%d.layer.1.EncDecAttention.q.weight", i);
                fx_tensor(&f, D2(64, 64), "decoder.block.%d.layer.1.EncDecAttention.o.weight", i);
                ff = 2;
            }
            fx_tensor(&f, D2(96, 64), "%s.block.%d.layer.%d.DenseReluDense.wi_0.weight", st, i, ff);
            fx_tensor(&f, D2(96, 64), "%s.block.%d.layer.%d.DenseReluDense.wi_1.weight", st, i, ff);
            fx_tensor(&f, D2(64, 96), "%s.block.%d.layer.%d.DenseReluDense.wo.weight", st, i, ff);
        }
    fx_tensor(&f, D1(64), "encoder.final_layer_norm.weight");
    fx_tensor(&f, D1(64), "decoder.final_layer_norm.weight");
    fx_tensor(&f, D2(128, 64), "lm_head.weight");
    return fx_write(&f, "{\"model_type\":\"t5\",\"d_model\":64,\"vocab_size\":128,\"num_layers\":2,"
                        "\"is_encoder_decoder\":true,\"tie_word_embeddings\":false}");
}

static char *modernbert_fixture(void)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(128, 64), "model.embeddings.tok_embeddings.weight");
    fx_tensor(&f, D1(64), "model.embeddings.norm.weight");
    for (int i = 0; i < 2; i++) {
        fx_tensor(&f, D2(192, 64), "model.layers.%d.attn.Wqkv.weight", i);
        fx_tensor(&f, D2(64, 64), "model.layers.%d.attn.Wo.weight", i);
        fx_tensor(&f, D2(192, 64), "model.layers.%d.mlp.Wi.weight", i);
        fx_tensor(&f, D2(64, 96), "model.layers.%d.mlp.Wo.weight", i);
        fx_tensor(&f, D1(64), "model.layers.%d.mlp_norm.weight", i);
    }
    fx_tensor(&f, D1(64), "model.final_norm.weight");
    fx_tensor(&f, D2(64, 64), "head.dense.weight");
    fx_tensor(&f, D1(64), "head.norm.weight");
    fx_tensor(&f, D1(128), "decoder.bias");
    return fx_write(&f, "{\"model_type\":\"modernbert\",\"hidden_size\":64,\"vocab_size\":128,"
                        "\"num_hidden_layers\":2}");
}

/* Encoders and encoder-decoders: inspect says so, adapters work, estimate refuses in one line. */
static void expect_refused_estimate(const char *dir, const char *kind)
{
    vft_run r = vft_cli("estimate", dir, "--gpu-memory", "24GiB", "--batch-size", "1", "--max-seq-len", "64", NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    cr_expect(strstr(r.err, kind) && strstr(r.err, "causal language models"), "%s", r.err);
    cr_expect(strchr(r.err, '\n') == r.err + r.err_len - 1, "not one line: %s", r.err);
    vft_run_free(&r);
    r = vft_cli("plan", dir, "--gpu-memory", "24GiB", NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    vft_run_free(&r);
    r = vft_cli("inspect", dir, NULL);
    cr_expect(strstr(r.out, "Model kind    ") && strstr(r.out, kind), "%s", r.out);
    vft_run_free(&r);
}

Test(structure, t5_is_an_encoder_decoder)
{
    char *dir = t5_fixture();
    cJSON *j = CLI_JSON("inspect", dir, "--tensors");
    expect_arch(j, 2, 64, 128, 0, "encoder-decoder");
    expect_no_warnings(j);
    cr_expect_str_eq(jstr(tensor_entry(j, "encoder.block.0.layer.1.DenseReluDense.wo.weight"), "role"), "mlp_down");
    cJSON_Delete(j);
    /* all-linear: encoder 2 x 7, decoder 2 x 9 (relative_attention_bias is an nn.Embedding). */
    j = CLI_JSON("adapters", dir, "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 32);
    cJSON_Delete(j);
    expect_refused_estimate(dir, "encoder-decoder");
    vft_rmtree(dir);
    free(dir);
}

Test(structure, modernbert_is_an_encoder)
{
    char *dir = modernbert_fixture();
    cJSON *j = CLI_JSON("inspect", dir);
    expect_arch(j, 2, 64, 128, 0, "encoder");
    expect_no_warnings(j);
    cJSON_Delete(j);
    j = CLI_JSON("adapters", dir, "--target", "all-linear");
    cr_expect_eq(ju64(j, "matrix_count"), 9); /* 2 x (Wqkv, Wo, Wi, Wo) + head.dense */
    cJSON_Delete(j);
    expect_refused_estimate(dir, "encoder");
    vft_rmtree(dir);
    free(dir);
}

/* A checkpoint with no input embedding: estimate fails clearly instead of using H = V = 0. */
Test(structure, estimate_without_embedding_fails_clearly)
{
    fixture f = fx_new();
    fx_tensor(&f, D2(64, 64), "model.layers.0.self_attn.q_proj.weight");
    char *dir = fx_write(&f, NULL);
    vft_run r = vft_cli("estimate", dir, "--gpu-memory", "24GiB", "--batch-size", "1", "--max-seq-len", "64", NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "no input embedding found") && strstr(r.err, dir), "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
}

/* ---- the table itself -------------------------------------------------------------------------- */

Test(structure, name_rules_depend_on_layout_markers)
{
    vf_name_info ni;
    vf_name_classify("model.layers.0.mlp.experts.gate_up_proj", 3, &ni);
    cr_expect_eq(ni.experts_layout, VF_EXPERTS_NONE); /* generic: [E, out, in] decided by the table fill */
    vf_name_classify_in("model.layers.0.mlp.experts.gate_up_proj", 3, VF_LAYOUT_GPT_OSS, &ni);
    cr_expect_eq(ni.experts_layout, VF_EXPERTS_IN_OUT);
    cr_expect_eq(ni.module, VF_MODULE_PARAMETER);
    cr_expect_eq(vf_name_layout("model.layers.3.self_attn.sinks"), VF_LAYOUT_GPT_OSS);
    cr_expect_eq(vf_name_layout("model.layers.3.mlp.shared_experts.gate_proj.weight"), VF_LAYOUT_DEEPSEEK);
    cr_expect_eq(vf_name_layout("model.layers.3.self_attn.q_proj.weight"), 0);
    /* phi-1.5's remote code calls its attention `mixer`: Mamba roles only with mixer.A_log around. */
    cr_expect_eq(vf_name_role("transformer.h.0.mixer.out_proj.weight", 2), VF_ROLE_ATTN_O);
    vf_name_classify_in("backbone.layers.0.mixer.out_proj.weight", 2, VF_LAYOUT_MAMBA, &ni);
    cr_expect_eq(ni.role, VF_ROLE_MAMBA_OUT);
    vf_name_classify("model.visual.blocks.3.attn.qkv.weight", 2, &ni);
    cr_expect_eq(ni.component, VF_COMPONENT_VISION);
    vf_name_classify("visual.merger.mlp.0.weight", 2, &ni);
    cr_expect_eq(ni.component, VF_COMPONENT_PROJECTOR);
    vf_name_classify("model.language_model.layers.0.self_attn.q_proj.weight", 2, &ni);
    cr_expect_eq(ni.component, VF_COMPONENT_LANGUAGE_MODEL);
    vf_name_classify("mtp.layers.0.mlp.gate.weight", 2, &ni);
    cr_expect_eq(ni.component, VF_COMPONENT_MTP);
    cr_expect_str_eq(vf_component_name(VF_COMPONENT_VISION), "vision");
    cr_expect_str_eq(vf_module_kind_name(VF_MODULE_CONV), "conv");
    char buf[64];
    cr_expect_str_eq(vf_layer_kind_format(VF_LAYER_MAMBA | VF_LAYER_MOE, buf, sizeof buf), "mamba+moe");
    cr_expect_str_eq(vf_layer_kind_format(0, buf, sizeof buf), "-");
}

/* ---- the 2026 models of tools/vfgen_2026.c against `vfgen expect` ------------------------------ */

static cJSON *vfgen_expect(const char *name)
{
    const char *const argv[] = {VF_VFGEN, "expect", name, NULL};
    vft_run r = vft_exec(argv, NULL);
    cJSON *j = run_json(&r);
    vft_run_free(&r);
    return j;
}

/* A 2026 model: the generated checkpoint (VF_GEN_DIR, or written here when `all` leaves it out). */
typedef struct model26 {
    const char *name;
    bool generate; /* not in `vfgen all`: write it into a temporary directory */
} model26;

static const model26 models26[] = {
    {"granite-4.0-h-small", false},   {"granite-4.0-h-tiny", false},     {"llama-4-scout-17b-16e", false},
    {"qwen3-30b-a3b", false},         {"qwen3-next-80b-a3b", false},     {"gemma-3-4b-it", false},
    {"qwen2.5-vl-7b", false},         {"mamba-130m", false},             {"modernbert-base", false},
    {"flan-t5-base", false},          {"gpt-oss-20b", false},            {"deepseek-v3-fp8", true},
    {"llama-3.1-8b-fp8-dynamic", false}, {"llama-3.1-8b-bnb-4bit", false}, {"llama-3.1-8b-gptq-int4", false},
    {"llama-3.1-8b-awq-int4", false},
};

static char *model26_dir(const model26 *m, char **tmp)
{
    *tmp = NULL;
    if (!m->generate)
        return vft_gen(m->name);
    *tmp = vft_tempdir();
    char *dir = vft_path(*tmp, m->name);
    const char *const argv[] = {VF_VFGEN, "model", m->name, dir, NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "vfgen model %s: %s", m->name, r.err);
    vft_run_free(&r);
    return dir;
}

static void model26_free(char *dir, char *tmp)
{
    if (tmp)
        vft_rmtree(tmp);
    free(dir);
    free(tmp);
}

/* inspect's architecture, kind and components agree with the oracle. */
static void check_inspect26(const model26 *m, const cJSON *want, const cJSON *got)
{
    const cJSON *wa = jget(want, "architecture"), *ga = jget(got, "architecture");
    static const char *const keys[] = {"layers", "hidden_size", "vocab_size", "experts"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_expect_eq(ju64(ga, keys[k]), ju64(wa, keys[k]), "%s: %s", m->name, keys[k]);
    cr_expect_eq(cJSON_IsTrue(jget(ga, "tied_embeddings")), cJSON_IsTrue(jget(wa, "tied")), "%s: tied", m->name);
    cr_expect_str_eq(jstr(ga, "kind"), jstr(want, "stack"), "%s: kind", m->name);
    cr_expect_eq(ju64(got, "parameters"), ju64(want, "parameters"), "%s: parameters", m->name);
    const cJSON *wc;
    cJSON_ArrayForEach(wc, jget(want, "components"))
    {
        const cJSON *gc = component(got, wc->string);
        cr_assert_not_null(gc, "%s: no component %s", m->name, wc->string);
        cr_expect_eq(ju64(gc, "tensors"), ju64(wc, "tensors"), "%s: %s tensors", m->name, wc->string);
        cr_expect_eq(ju64(gc, "bytes"), ju64(wc, "bytes"), "%s: %s bytes", m->name, wc->string);
        cr_expect_eq(ju64(gc, "layers"), ju64(wc, "layers"), "%s: %s layers", m->name, wc->string);
        cr_expect_eq(ju64(gc, "parameters"), ju64(wc, "parameters"), "%s: %s parameters", m->name,
                     wc->string);
    }
    cr_expect_eq(cJSON_GetArraySize(jget(got, "components")), cJSON_GetArraySize(jget(want, "components")),
                 "%s: component count", m->name);
    expect_no_warnings(got);
}

/* PEFT all-linear, r = 32: module count and LoRA parameters; every matrix a 2-D nn.Linear weight
 * with in = its columns and out = its rows. */
static void check_all_linear26(const model26 *m, const cJSON *want, const char *dir)
{
    cJSON *j = CLI_JSON("adapters", dir, "--method", "lora", "-r", "32", "--target", "all-linear");
    const cJSON *al = jget(want, "all_linear");
    cr_expect_eq(ju64(j, "matrix_count"), ju64(al, "modules"), "%s: all-linear modules", m->name);
    cr_expect_eq(ju64(j, "parameters"), ju64(al, "lora_r32_parameters"), "%s: all-linear parameters", m->name);
    const cJSON *x;
    cJSON_ArrayForEach(x, jget(j, "matrices")) cr_expect_eq(ju64(x, "rank"), 32);
    cJSON_Delete(j);
}

/* estimate (SFT: every decoder has its weights; LoRA needs the family's targets, which Mamba lacks,
 * as PEFT would find none) runs on decoders; encoders and encoder-decoders are refused with one line
 * (exit 4). */
static void check_estimate26(const model26 *m, const cJSON *want, const char *dir)
{
    vft_run r = vft_cli("estimate", dir, "--method", "sft", "--gpu-memory", "80GiB", "--gpus", "8",
                        "--batch-size", "1", "--max-seq-len", "1024", NULL);
    if (strcmp(jstr(want, "stack"), "decoder") == 0)
        cr_expect_eq(r.status, 0, "%s: estimate: %s", m->name, r.err);
    else
        cr_expect(r.status == 4 && strstr(r.err, "causal language models") && r.out_len == 0,
                  "%s: estimate status %d: %s", m->name, r.status, r.err);
    vft_run_free(&r);
}

Test(structure, models_2026_match_vfgen_expect)
{
    for (size_t i = 0; i < sizeof models26 / sizeof models26[0]; i++) {
        const model26 *m = &models26[i];
        char *tmp, *dir = model26_dir(m, &tmp);
        cJSON *want = vfgen_expect(m->name), *got = CLI_JSON("inspect", dir);
        check_inspect26(m, want, got);
        /* GPTQ/AWQ hold QuantLinear modules: PEFT's all-linear finds none (test_quant.c). */
        if (ju64(jget(want, "all_linear"), "modules") > 0)
            check_all_linear26(m, want, dir);
        check_estimate26(m, want, dir);
        cJSON_Delete(got);
        cJSON_Delete(want);
        model26_free(dir, tmp);
    }
}

/* Default (family) targets of the multimodal models are the language model's matrices. */
Test(structure, models_2026_default_targets_lie_in_the_language_model)
{
    static const char *const multimodal[] = {"gemma-3-4b-it", "qwen2.5-vl-7b", "llama-4-scout-17b-16e"};
    for (size_t i = 0; i < sizeof multimodal / sizeof multimodal[0]; i++) {
        char *dir = vft_gen(multimodal[i]);
        cJSON *ins = CLI_JSON("inspect", dir, "--tensors"), *ad = CLI_JSON("adapters", dir);
        cr_expect_gt(cJSON_GetArraySize(jget(ad, "matrices")), 0);
        const cJSON *x;
        cJSON_ArrayForEach(x, jget(ad, "matrices"))
            cr_expect_str_eq(jstr(tensor_entry(ins, jstr(x, "name")), "component"), "language_model", "%s: %s",
                             multimodal[i], jstr(x, "name"));
        cJSON_Delete(ins);
        cJSON_Delete(ad);
        free(dir);
    }
}

Test(structure, models_2026_snapshot_roundtrips)
{
    static const char *const names[] = {"granite-4.0-h-tiny", "gemma-3-4b-it", "qwen2.5-vl-7b", "mamba-130m",
                                        "flan-t5-base"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *src = vft_gen(names[i]), *tmp = vft_tempdir(), *dir = vft_path(tmp, names[i]);
        /* A copy, so the snapshot is written beside it rather than into the shared generated dir. */
        const char *const argv[] = {"/bin/cp", "-r", src, dir, NULL};
        vft_run r = vft_exec(argv, NULL);
        cr_assert_eq(r.status, 0, "%s", r.err);
        vft_run_free(&r);
        expect_snapshot_roundtrip(dir);
        vft_rmtree(tmp);
        free(dir);
        free(tmp);
        free(src);
    }
}
