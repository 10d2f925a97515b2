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
__attribute__((unused))
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

/* The snapshot of dir gives byte-identical inspect and adapters output. */
static void expect_snapshot_roundtrip(const char *dir)
{
    char *snap = vft_path(dir, "model.vfsnap");
    vft_run r = vft_cli("snapshot", dir, "-o", snap, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    static const char *const cmds[][6] = {{"inspect", "--json", "--tensors", "--by-layer", NULL},
                                          {"inspect", "--by-layer", NULL},
                                          {"adapters", "--target", "all-linear", "--json", NULL},
                                          {"adapters", NULL}};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        vft_run a = vft_cli(cmds[c][0], dir, cmds[c][1], cmds[c][2], cmds[c][3], cmds[c][4], NULL);
        vft_run b = vft_cli(cmds[c][0], snap, cmds[c][1], cmds[c][2], cmds[c][3], cmds[c][4], NULL);
        cr_expect_eq(a.status, b.status);
        cr_expect(a.out_len == b.out_len && memcmp(a.out, b.out, a.out_len) == 0, "%s differs", cmds[c][0]);
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
