/* vfgen.c - the project's generator of test checkpoints in the safetensors format (libc, and the
 * library's safetensors reader for the base checkpoints it reads).
 *
 * safetensors: an 8-byte little-endian u64 N, N bytes of JSON header mapping each tensor name to
 * {"dtype","shape","data_offsets":[begin,end]} (offsets relative to the data region at 8+N),
 * then the data region. vfgen writes tensors sorted by name, assigns contiguous offsets in that
 * order, pads the header with spaces to a multiple of 8 and puts {"__metadata__":{"format":"pt"}}
 * first, as HF does.
 *
 *   vfgen list                         model names and their (logical) parameter counts
 *   vfgen model NAME OUTDIR [--shards K] [--dtype BF16|F16|F32] [--layers N]
 *                                      (the models of vfgen_2026.c take only --shards K)
 *   vfgen all OUTDIR                   every default model into OUTDIR/NAME (headers only):
 *                                      the older table's in_all models and vfgen_2026.c's but
 *                                      deepseek-v3-fp8 (benchmark-size, like deepseek-v3)
 *   vfgen expect NAME [--modules]      oracle values of a vfgen_2026.c model as one JSON object
 *                                      (see vfgen_2026.c); --modules adds every linear module
 *                                      and fused expert parameter with its logical in/out
 *   vfgen tiny OUTDIR                  tiny-llama and tiny-gpt2 with real bytes
 *   vfgen adapter BASEDIR OUTDIR --r R --targets a,b [--wrong-rank]
 *
 * Header-faithful checkpoints are sparse: prefix and header are written, then the file is
 * ftruncate()d to its full size so the data reads as zeros and takes no disk space. Real-bytes
 * files hold deterministic xorshift values (never NaN). Exit status: 0 ok, 1 I/O error (one line on
 * stderr), 2 usage. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "vfgen.h"
#include "vramfit/vf_parser.h"

const char *const vf_tool_name = "vfgen";

#define VFG_SEED UINT64_C(0x9E3779B97F4A7C15)

/* ---- errors -------------------------------------------------------------------------------- */

/* Prints the usage (after an optional one-line reason) on stderr and returns 2. */
static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "vfgen: %s\n", why);
    fputs("usage: vfgen list\n"
          "       vfgen model NAME OUTDIR [--shards K] [--dtype BF16|F16|F32] [--layers N]\n"
          "       vfgen all OUTDIR\n"
          "       vfgen expect NAME [--modules]\n"
          "       vfgen tiny OUTDIR\n"
          "       vfgen adapter BASEDIR OUTDIR --r R --targets a,b [--wrong-rank]\n",
          stderr);
    return 2;
}

/* ---- tensors ------------------------------------------------------------------------------- */

const char *const dt_names[DT_COUNT] = {"BF16", "F16", "F32", "U8", "I32", "F8_E4M3"};
const char *const dt_torch[DT_COUNT] = {"bfloat16", "float16", "float32", "uint8", "int32",
                                        "float8_e4m3fn"};
const unsigned dt_sizes[DT_COUNT] = {2, 2, 4, 1, 4, 1};

uint64_t t_numel(const tensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

uint64_t t_bytes(const tensor *t)
{
    return t_numel(t) * dt_sizes[t->dtype];
}

/* Appends a zeroed tensor and returns it. */
static tensor *tl_push(tlist *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    tensor *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Appends a tensor named by printf(fmt, ap); dies when the name is too long or needs escaping. */
tensor *tl_addv(tlist *l, int dtype, int ndim, const uint64_t *shape, const char *fmt, va_list ap)
{
    tensor *t = tl_push(l);
    int w = vsnprintf(t->name, sizeof t->name, fmt, ap);
    if (w < 0 || (size_t)w >= sizeof t->name)
        die("tensor name too long");
    for (const char *c = t->name; *c; c++)
        if (*c < 0x20 || *c == '"' || *c == '\\' || *c == 0x7f)
            die("tensor name needs escaping: %s", t->name);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    return t;
}

/* Appends a tensor named by printf(fmt, ...). */
tensor *tl_addf(tlist *l, int dtype, int ndim, const uint64_t *shape, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tensor *t = tl_addv(l, dtype, ndim, shape, fmt, ap);
    va_end(ap);
    return t;
}

/* Appends a 1-D parameter [a]. */
static VFG_PRINTF(4, 5) void add1(tlist *l, int dtype, uint64_t a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tl_addv(l, dtype, 1, &a, fmt, ap);
    va_end(ap);
}

/* Appends a 2-D parameter [a, b]. */
static VFG_PRINTF(5, 6) void add2(tlist *l, int dtype, uint64_t a, uint64_t b, const char *fmt, ...)
{
    const uint64_t s[2] = {a, b};
    va_list ap;
    va_start(ap, fmt);
    tl_addv(l, dtype, 2, s, fmt, ap);
    va_end(ap);
}

/* Appends a buffer (not a parameter) of the given shape. */
static VFG_PRINTF(5, 6) void add_buffer(tlist *l, int dtype, int ndim, const uint64_t *shape,
                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tl_addv(l, dtype, ndim, shape, fmt, ap)->buffer = true;
    va_end(ap);
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const tensor *)a)->name, ((const tensor *)b)->name);
}

/* Sorts by name; dies on a duplicate name (a builder bug). */
void tl_sort(tlist *l)
{
    qsort(l->v, l->n, sizeof *l->v, cmp_tensor);
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->v[i - 1].name, l->v[i].name) == 0)
            die("duplicate tensor %s", l->v[i].name);
}

/* Frees the tensors of l and the payloads they own. */
void tl_free(tlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].data);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static uint64_t tl_params(const tlist *l)
{
    uint64_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i].buffer)
            n += t_numel(&l->v[i]);
    return n;
}

/* ---- model table --------------------------------------------------------------------------- */

typedef enum arch { ARCH_LLAMA, ARCH_PHI3, ARCH_MIXTRAL, ARCH_GPT2, ARCH_DEEPSEEK } arch;

typedef struct model_spec {
    const char *name;
    arch arch;
    const char *model_type, *architecture;
    unsigned layers;
    uint64_t hidden, inter, heads, kv_heads, vocab, max_pos;
    const char *norm_eps;
    bool tied, qkv_bias, inv_freq, in_all;
    unsigned experts;
    int dtype;
    unsigned shards;
} model_spec;

/* Published architectures; tests/test_vfgen.c checks their parameter counts (buffers excluded). */
static const model_spec models[] = {
    {.name = "granite-3.3-2b-instruct", .arch = ARCH_LLAMA, .model_type = "granite",
     .architecture = "GraniteForCausalLM", .layers = 40, .hidden = 2048, .inter = 8192, .heads = 32,
     .kv_heads = 8, .vocab = 49159, .max_pos = 131072, .norm_eps = "1e-05", .tied = true,
     .in_all = true, .dtype = DT_BF16, .shards = 2},
    {.name = "llama-2-7b", .arch = ARCH_LLAMA, .model_type = "llama",
     .architecture = "LlamaForCausalLM", .layers = 32, .hidden = 4096, .inter = 11008, .heads = 32,
     .kv_heads = 32, .vocab = 32000, .max_pos = 4096, .norm_eps = "1e-05", .inv_freq = true,
     .in_all = true, .dtype = DT_F16, .shards = 2},
    {.name = "llama-3.1-8b", .arch = ARCH_LLAMA, .model_type = "llama",
     .architecture = "LlamaForCausalLM", .layers = 32, .hidden = 4096, .inter = 14336, .heads = 32,
     .kv_heads = 8, .vocab = 128256, .max_pos = 131072, .norm_eps = "1e-05", .in_all = true,
     .dtype = DT_BF16, .shards = 4},
    {.name = "llama-3.1-70b", .arch = ARCH_LLAMA, .model_type = "llama",
     .architecture = "LlamaForCausalLM", .layers = 80, .hidden = 8192, .inter = 28672, .heads = 64,
     .kv_heads = 8, .vocab = 128256, .max_pos = 131072, .norm_eps = "1e-05", .in_all = true,
     .dtype = DT_BF16, .shards = 30},
    /* meta-llama/Llama-3.2-3B config.json: PEFT's method_comparison base model */
    {.name = "llama-3.2-3b", .arch = ARCH_LLAMA, .model_type = "llama",
     .architecture = "LlamaForCausalLM", .layers = 28, .hidden = 3072, .inter = 8192, .heads = 24,
     .kv_heads = 8, .vocab = 128256, .max_pos = 131072, .norm_eps = "1e-05", .tied = true,
     .in_all = true, .dtype = DT_BF16, .shards = 2},
    {.name = "mistral-7b-v0.1", .arch = ARCH_LLAMA, .model_type = "mistral",
     .architecture = "MistralForCausalLM", .layers = 32, .hidden = 4096, .inter = 14336,
     .heads = 32, .kv_heads = 8, .vocab = 32000, .max_pos = 32768, .norm_eps = "1e-05",
     .in_all = true, .dtype = DT_BF16, .shards = 2},
    {.name = "mixtral-8x7b", .arch = ARCH_MIXTRAL, .model_type = "mixtral",
     .architecture = "MixtralForCausalLM", .layers = 32, .hidden = 4096, .inter = 14336,
     .heads = 32, .kv_heads = 8, .vocab = 32000, .max_pos = 32768, .norm_eps = "1e-05",
     .experts = 8, .in_all = true, .dtype = DT_BF16, .shards = 19},
    {.name = "phi-3-mini-4k", .arch = ARCH_PHI3, .model_type = "phi3",
     .architecture = "Phi3ForCausalLM", .layers = 32, .hidden = 3072, .inter = 8192, .heads = 32,
     .kv_heads = 32, .vocab = 32064, .max_pos = 4096, .norm_eps = "1e-05", .in_all = true,
     .dtype = DT_BF16, .shards = 2},
    {.name = "qwen2.5-7b", .arch = ARCH_LLAMA, .model_type = "qwen2",
     .architecture = "Qwen2ForCausalLM", .layers = 28, .hidden = 3584, .inter = 18944, .heads = 28,
     .kv_heads = 4, .vocab = 152064, .max_pos = 131072, .norm_eps = "1e-06", .qkv_bias = true,
     .in_all = true, .dtype = DT_BF16, .shards = 4},
    {.name = "gpt2", .arch = ARCH_GPT2, .model_type = "gpt2", .architecture = "GPT2LMHeadModel",
     .layers = 12, .hidden = 768, .inter = 3072, .heads = 12, .kv_heads = 12, .vocab = 50257,
     .max_pos = 1024, .norm_eps = "1e-05", .tied = true, .in_all = true, .dtype = DT_F32,
     .shards = 1},
    /* benchmark only: not in `all` */
    {.name = "deepseek-v3", .arch = ARCH_DEEPSEEK, .model_type = "deepseek_v3",
     .architecture = "DeepseekV3ForCausalLM", .layers = 61, .hidden = 7168, .inter = 18432,
     .heads = 128, .kv_heads = 128, .vocab = 129280, .max_pos = 163840, .norm_eps = "1e-06",
     .experts = 256, .dtype = DT_BF16, .shards = 163},
};
#define N_MODELS (sizeof models / sizeof models[0])

/* Real-bytes checkpoints for testdata/ (`vfgen tiny`). */
static const model_spec tiny_models[] = {
    {.name = "tiny-llama", .arch = ARCH_LLAMA, .model_type = "llama",
     .architecture = "LlamaForCausalLM", .layers = 2, .hidden = 64, .inter = 128, .heads = 4,
     .kv_heads = 2, .vocab = 256, .max_pos = 128, .norm_eps = "1e-05", .dtype = DT_BF16,
     .shards = 1},
    {.name = "tiny-gpt2", .arch = ARCH_GPT2, .model_type = "gpt2",
     .architecture = "GPT2LMHeadModel",
     .layers = 2, .hidden = 64, .inter = 256, .heads = 4, .kv_heads = 4, .vocab = 256,
     .max_pos = 128, .norm_eps = "1e-05", .tied = true, .dtype = DT_F32, .shards = 2},
};

/* DeepSeek-V3 constants beyond the common fields (config.json of deepseek-ai/DeepSeek-V3). */
enum {
    DS_DENSE_LAYERS = 3,
    DS_MOE_INTER = 2048,
    DS_Q_LORA = 1536,
    DS_KV_LORA = 512,
    DS_NOPE = 128,
    DS_ROPE = 64,
    DS_V_HEAD = 128,
    DS_TOPK = 8
};

static const model_spec *find_model(const char *name)
{
    for (size_t i = 0; i < N_MODELS; i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}

/* ---- architecture builders ----------------------------------------------------------------- */

/* q/k/v/o projections (with q/k/v biases when the model has them) of Llama-family layer i. */
static void build_llama_attn(tlist *l, const model_spec *m, int dt, unsigned i)
{
    const uint64_t kv = m->kv_heads * (m->hidden / m->heads);
    const char *p = "model.layers";
    add2(l, dt, m->hidden, m->hidden, "%s.%u.self_attn.q_proj.weight", p, i);
    add2(l, dt, kv, m->hidden, "%s.%u.self_attn.k_proj.weight", p, i);
    add2(l, dt, kv, m->hidden, "%s.%u.self_attn.v_proj.weight", p, i);
    add2(l, dt, m->hidden, m->hidden, "%s.%u.self_attn.o_proj.weight", p, i);
    if (m->qkv_bias) {
        add1(l, dt, m->hidden, "%s.%u.self_attn.q_proj.bias", p, i);
        add1(l, dt, kv, "%s.%u.self_attn.k_proj.bias", p, i);
        add1(l, dt, kv, "%s.%u.self_attn.v_proj.bias", p, i);
    }
}

/* Mixtral's block_sparse_moe: router plus experts.E.w1/w2/w3. */
static void build_mixtral_moe(tlist *l, const model_spec *m, int dt, unsigned i)
{
    add2(l, dt, m->experts, m->hidden, "model.layers.%u.block_sparse_moe.gate.weight", i);
    for (unsigned e = 0; e < m->experts; e++) {
#define VFG_EXPERT "model.layers.%u.block_sparse_moe.experts.%u.w%u.weight"
        add2(l, dt, m->inter, m->hidden, VFG_EXPERT, i, e, 1u);
        add2(l, dt, m->hidden, m->inter, VFG_EXPERT, i, e, 2u);
        add2(l, dt, m->inter, m->hidden, VFG_EXPERT, i, e, 3u);
#undef VFG_EXPERT
    }
}

/* One Llama/Mistral/Qwen2/Granite/Phi-3/Mixtral decoder layer. */
static void build_llama_layer(tlist *l, const model_spec *m, int dt, unsigned i)
{
    const char *p = "model.layers";
    add1(l, dt, m->hidden, "%s.%u.input_layernorm.weight", p, i);
    add1(l, dt, m->hidden, "%s.%u.post_attention_layernorm.weight", p, i);
    if (m->arch == ARCH_PHI3) {
        add2(l, dt, 3 * m->hidden, m->hidden, "%s.%u.self_attn.qkv_proj.weight", p, i);
        add2(l, dt, m->hidden, m->hidden, "%s.%u.self_attn.o_proj.weight", p, i);
        add2(l, dt, 2 * m->inter, m->hidden, "%s.%u.mlp.gate_up_proj.weight", p, i);
        add2(l, dt, m->hidden, m->inter, "%s.%u.mlp.down_proj.weight", p, i);
        return;
    }
    build_llama_attn(l, m, dt, i);
    if (m->arch == ARCH_MIXTRAL) {
        build_mixtral_moe(l, m, dt, i);
    } else {
        add2(l, dt, m->inter, m->hidden, "%s.%u.mlp.gate_proj.weight", p, i);
        add2(l, dt, m->inter, m->hidden, "%s.%u.mlp.up_proj.weight", p, i);
        add2(l, dt, m->hidden, m->inter, "%s.%u.mlp.down_proj.weight", p, i);
    }
    if (m->inv_freq) {
        const uint64_t half = m->hidden / m->heads / 2;
        add_buffer(l, DT_F32, 1, &half, "%s.%u.self_attn.rotary_emb.inv_freq", p, i);
    }
}

/* Llama family: embed_tokens, layers, final norm, lm_head unless tied. */
static void build_llama(tlist *l, const model_spec *m, int dt, unsigned layers)
{
    add2(l, dt, m->vocab, m->hidden, "model.embed_tokens.weight");
    for (unsigned i = 0; i < layers; i++)
        build_llama_layer(l, m, dt, i);
    add1(l, dt, m->hidden, "model.norm.weight");
    if (!m->tied)
        add2(l, dt, m->vocab, m->hidden, "lm_head.weight");
}

/* One GPT-2 block: Conv1D weights are stored [in, out]; attn.bias is the causal-mask buffer. */
static void build_gpt2_layer(tlist *l, const model_spec *m, int dt, unsigned i)
{
    const uint64_t n = m->hidden, mask[4] = {1, 1, m->max_pos, m->max_pos};
    add1(l, dt, n, "h.%u.ln_1.weight", i);
    add1(l, dt, n, "h.%u.ln_1.bias", i);
    add_buffer(l, DT_F32, 4, mask, "h.%u.attn.bias", i);
    add2(l, dt, n, 3 * n, "h.%u.attn.c_attn.weight", i);
    add1(l, dt, 3 * n, "h.%u.attn.c_attn.bias", i);
    add2(l, dt, n, n, "h.%u.attn.c_proj.weight", i);
    add1(l, dt, n, "h.%u.attn.c_proj.bias", i);
    add1(l, dt, n, "h.%u.ln_2.weight", i);
    add1(l, dt, n, "h.%u.ln_2.bias", i);
    add2(l, dt, n, m->inter, "h.%u.mlp.c_fc.weight", i);
    add1(l, dt, m->inter, "h.%u.mlp.c_fc.bias", i);
    add2(l, dt, m->inter, n, "h.%u.mlp.c_proj.weight", i);
    add1(l, dt, n, "h.%u.mlp.c_proj.bias", i);
}

/* GPT-2 as in the HF gpt2 model.safetensors: no "transformer." prefix, tied, no lm_head. */
static void build_gpt2(tlist *l, const model_spec *m, int dt, unsigned layers)
{
    add2(l, dt, m->vocab, m->hidden, "wte.weight");
    add2(l, dt, m->max_pos, m->hidden, "wpe.weight");
    for (unsigned i = 0; i < layers; i++)
        build_gpt2_layer(l, m, dt, i);
    add1(l, dt, m->hidden, "ln_f.weight");
    add1(l, dt, m->hidden, "ln_f.bias");
}

/* DeepSeek-V3 multi-head latent attention of layer i. */
static void build_mla(tlist *l, const model_spec *m, int dt, unsigned i)
{
    const char *p = "model.layers";
    const uint64_t h = m->hidden, nh = m->heads;
    add2(l, dt, DS_Q_LORA, h, "%s.%u.self_attn.q_a_proj.weight", p, i);
    add1(l, dt, DS_Q_LORA, "%s.%u.self_attn.q_a_layernorm.weight", p, i);
    add2(l, dt, nh * (DS_NOPE + DS_ROPE), DS_Q_LORA, "%s.%u.self_attn.q_b_proj.weight", p, i);
    add2(l, dt, DS_KV_LORA + DS_ROPE, h, "%s.%u.self_attn.kv_a_proj_with_mqa.weight", p, i);
    add1(l, dt, DS_KV_LORA, "%s.%u.self_attn.kv_a_layernorm.weight", p, i);
    add2(l, dt, nh * (DS_NOPE + DS_V_HEAD), DS_KV_LORA, "%s.%u.self_attn.kv_b_proj.weight", p, i);
    add2(l, dt, h, nh * DS_V_HEAD, "%s.%u.self_attn.o_proj.weight", p, i);
}

/* gate/up/down projections of width `inter` under the module prefix "model.layers.i.<mod>". */
static void build_glu(tlist *l, int dt, uint64_t h, uint64_t inter, unsigned i, const char *mod)
{
    add2(l, dt, inter, h, "model.layers.%u.%s.gate_proj.weight", i, mod);
    add2(l, dt, inter, h, "model.layers.%u.%s.up_proj.weight", i, mod);
    add2(l, dt, h, inter, "model.layers.%u.%s.down_proj.weight", i, mod);
}

/* DeepSeek-V3: dense MLP in the first layers, then 256 routed experts plus one shared expert. */
static void build_deepseek(tlist *l, const model_spec *m, int dt, unsigned layers)
{
    char mod[64];
    add2(l, dt, m->vocab, m->hidden, "model.embed_tokens.weight");
    for (unsigned i = 0; i < layers; i++) {
        add1(l, dt, m->hidden, "model.layers.%u.input_layernorm.weight", i);
        add1(l, dt, m->hidden, "model.layers.%u.post_attention_layernorm.weight", i);
        build_mla(l, m, dt, i);
        if (i < DS_DENSE_LAYERS) {
            build_glu(l, dt, m->hidden, m->inter, i, "mlp");
            continue;
        }
        add2(l, dt, m->experts, m->hidden, "model.layers.%u.mlp.gate.weight", i);
        add1(l, DT_F32, m->experts, "model.layers.%u.mlp.gate.e_score_correction_bias", i);
        build_glu(l, dt, m->hidden, DS_MOE_INTER, i, "mlp.shared_experts");
        for (unsigned e = 0; e < m->experts; e++) {
            snprintf(mod, sizeof mod, "mlp.experts.%u", e);
            build_glu(l, dt, m->hidden, DS_MOE_INTER, i, mod);
        }
    }
    add1(l, dt, m->hidden, "model.norm.weight");
    add2(l, dt, m->vocab, m->hidden, "lm_head.weight");
}

/* Fills l with model m's tensors in dtype dt with the given layer count, sorted by name. */
static void build_model(tlist *l, const model_spec *m, int dt, unsigned layers)
{
    switch (m->arch) {
    case ARCH_GPT2:
        build_gpt2(l, m, dt, layers);
        break;
    case ARCH_DEEPSEEK:
        build_deepseek(l, m, dt, layers);
        break;
    case ARCH_LLAMA:
    case ARCH_PHI3:
    case ARCH_MIXTRAL:
        build_llama(l, m, dt, layers);
        break;
    }
    tl_sort(l);
}

/* ---- string buffer ------------------------------------------------------------------------- */

VFG_PRINTF(2, 3) void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (w < 0)
        die("formatting failed");
    if (b->n + (size_t)w + 1 > b->cap) {
        b->cap = 2 * (b->n + (size_t)w + 1) + 4096;
        b->p = xrealloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)w;
}

/* Appends s as a JSON string literal (quotes, backslashes and control characters escaped). */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_printf(b, "%c", c);
    }
    sb_printf(b, "\"");
}

/* ---- files --------------------------------------------------------------------------------- */

static void write_all(int fd, const void *buf, size_t n, const char *path)
{
    const char *c = buf;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot write %s: %s", path, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

static int open_out(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("cannot create %s: %s", path, strerror(errno));
    return fd;
}

static void close_out(int fd, const char *path)
{
    if (close(fd) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

/* Writes the text file dir/name from b. */
void write_text(const char *dir, const char *name, const sbuf *b)
{
    char *path = path_join(dir, name);
    int fd = open_out(path);
    write_all(fd, b->p, b->n, path);
    close_out(fd, path);
    free(path);
}

/* ---- real bytes ---------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s)
{
    return (float)(rng_next(s) >> 40) / 8388608.0f - 1.0f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Round-to-nearest-even BF16 of a finite float. */
static uint16_t f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* IEEE half of a finite float with |f| < 65504; values below the normal range flush to zero. */
static uint16_t f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    int exp = (int)((u >> 23) & 0xFF) - 127 + 15;
    if (exp <= 0)
        return sign;
    uint32_t mant = (u & 0x7FFFFFu) + 0x1000u; /* round half up at bit 13 */
    if (mant & 0x800000u) {
        mant = 0;
        exp++;
    }
    return (uint16_t)(sign | (uint16_t)(exp << 10) | (uint16_t)(mant >> 13));
}

/* Value of element k of t: causal mask for GPT-2 attn.bias, ~1 for norm weights, else small. */
static float element_value(const tensor *t, uint64_t k, uint64_t *rng)
{
    if (t->buffer && t->ndim == 4) {
        uint64_t cols = t->shape[3];
        return (k % cols) <= (k / cols) % t->shape[2] ? 1.0f : 0.0f;
    }
    float r = rng_unit(rng);
    if (t->ndim == 1 && (strstr(t->name, "norm.weight") || strstr(t->name, "ln_")) &&
        ends_with(t->name, ".weight"))
        return 1.0f + 0.05f * r;
    return 0.05f * r;
}

/* Writes t's data (numel values) to fd with its dtype's little-endian encoding. */
static void write_tensor_data(int fd, const tensor *t, uint64_t *rng, const char *path)
{
    unsigned char buf[4096 * 4];
    const uint64_t numel = t_numel(t);
    size_t used = 0;
    for (uint64_t k = 0; k < numel; k++) {
        float v = element_value(t, k, rng);
        uint32_t bits = t->dtype == DT_F32    ? f32_bits(v)
                        : t->dtype == DT_BF16 ? f32_to_bf16(v)
                                              : f32_to_f16(v);
        for (unsigned b = 0; b < dt_sizes[t->dtype]; b++)
            buf[used++] = (unsigned char)(bits >> (8 * b));
        if (used == sizeof buf) {
            write_all(fd, buf, used, path);
            used = 0;
        }
    }
    write_all(fd, buf, used, path);
}

/* ---- safetensors writer -------------------------------------------------------------------- */

/* Assigns t[i].shard in name order so shards hold contiguous runs of roughly total/k bytes each;
 * every shard gets at least one tensor (requires n >= k). */
static void assign_shards(tlist *l, unsigned k)
{
    uint64_t total = 0, cum = 0;
    for (size_t i = 0; i < l->n; i++)
        total += t_bytes(&l->v[i]);
    unsigned prev = 0;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t b = t_bytes(&l->v[i]);
        uint64_t s = total ? (cum + b / 2) * k / total : i * k / l->n;
        uint64_t lo = prev, hi = i == 0 ? 0 : prev + 1, left = l->n - 1 - i;
        if (k - 1 > left && k - 1 - left > lo)
            lo = k - 1 - left; /* each later shard still needs one of the `left` tensors */
        if (hi > k - 1)
            hi = k - 1;
        s = s < lo ? lo : s > hi ? hi : s;
        l->v[i].shard = prev = (unsigned)s;
        cum += b;
    }
}

/* Builds the padded JSON header of the tensors of shard s and sets their data_offsets; returns the
 * data region size. */
static uint64_t build_header(sbuf *h, tlist *l, unsigned s)
{
    uint64_t off = 0;
    sb_printf(h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < l->n; i++) {
        tensor *t = &l->v[i];
        if (t->shard != s)
            continue;
        t->begin = off;
        t->end = off += t_bytes(t);
        sb_printf(h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, dt_names[t->dtype]);
        for (int d = 0; d < t->ndim; d++)
            sb_printf(h, "%s%" PRIu64, d ? "," : "", t->shape[d]);
        sb_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", t->begin, t->end);
    }
    sb_printf(h, "}");
    while (h->n % 8)
        sb_printf(h, " ");
    return off;
}

/* Writes the bytes of the tensors of shard s that carry a payload at their place in a sparse file
 * whose data region starts at data_start. */
static void write_payloads(int fd, const tlist *l, unsigned s, uint64_t data_start, const char *path)
{
    for (size_t i = 0; i < l->n; i++) {
        const tensor *t = &l->v[i];
        if (t->shard != s || !t->data)
            continue;
        if (lseek(fd, (off_t)(data_start + t->begin), SEEK_SET) < 0)
            die("cannot seek in %s: %s", path, strerror(errno));
        write_all(fd, t->data, (size_t)t_bytes(t), path);
    }
}

/* Writes shard s of l to path: sparse (ftruncate; payload tensors written for real) unless real,
 * then deterministic values. */
static void write_shard(const char *path, tlist *l, unsigned s, bool real, uint64_t *rng)
{
    sbuf h = {0};
    uint64_t data = build_header(&h, l, s);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    int fd = open_out(path);
    write_all(fd, prefix, sizeof prefix, path);
    write_all(fd, h.p, h.n, path);
    if (real) {
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].shard == s)
                write_tensor_data(fd, &l->v[i], rng, path);
    } else {
        write_payloads(fd, l, s, 8 + h.n, path);
        if (ftruncate(fd, (off_t)(8 + h.n + data)) != 0)
            die("cannot size %s: %s", path, strerror(errno));
    }
    close_out(fd, path);
    free(h.p);
}

static void shard_name(char *out, size_t n, unsigned s, unsigned k)
{
    snprintf(out, n, "model-%05u-of-%05u.safetensors", s + 1, k);
}

/* Writes model.safetensors.index.json for shards already assigned. */
static void write_index(const char *dir, const tlist *l, unsigned k)
{
    sbuf b = {0};
    char shard[64];
    uint64_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += t_bytes(&l->v[i]);
    sb_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %" PRIu64 "\n  },\n", total);
    sb_printf(&b, "  \"weight_map\": {\n");
    for (size_t i = 0; i < l->n; i++) {
        shard_name(shard, sizeof shard, l->v[i].shard, k);
        sb_printf(&b, "    \"%s\": \"%s\"%s\n", l->v[i].name, shard, i + 1 < l->n ? "," : "");
    }
    sb_printf(&b, "  }\n}\n");
    write_text(dir, "model.safetensors.index.json", &b);
    free(b.p);
}

/* Writes l (sorted) into dir as `single` (k == 1) or k shards plus an index. */
void write_checkpoint(const char *dir, const char *single, tlist *l, unsigned k, bool real)
{
    uint64_t rng = VFG_SEED;
    char name[64];
    assign_shards(l, k);
    for (unsigned s = 0; s < k; s++) {
        if (k == 1)
            snprintf(name, sizeof name, "%s", single);
        else
            shard_name(name, sizeof name, s, k);
        char *path = path_join(dir, name);
        write_shard(path, l, s, real, &rng);
        free(path);
    }
    if (k > 1)
        write_index(dir, l, k);
}

/* ---- config.json --------------------------------------------------------------------------- */

static void config_gpt2(sbuf *b, const model_spec *m, unsigned layers)
{
    sb_printf(b,
              "  \"activation_function\": \"gelu_new\",\n  \"n_ctx\": %" PRIu64 ",\n"
              "  \"n_embd\": %" PRIu64 ",\n  \"n_head\": %" PRIu64 ",\n  \"n_inner\": null,\n"
              "  \"n_layer\": %u,\n  \"n_positions\": %" PRIu64 ",\n"
              "  \"layer_norm_epsilon\": %s,\n",
              m->max_pos, m->hidden, m->heads, layers, m->max_pos, m->norm_eps);
}

static void config_deepseek(sbuf *b, const model_spec *m)
{
    sb_printf(b,
              "  \"first_k_dense_replace\": %d,\n  \"moe_intermediate_size\": %d,\n"
              "  \"n_routed_experts\": %u,\n  \"n_shared_experts\": 1,\n"
              "  \"num_experts_per_tok\": %d,\n  \"q_lora_rank\": %d,\n  \"kv_lora_rank\": %d,\n"
              "  \"qk_nope_head_dim\": %d,\n  \"qk_rope_head_dim\": %d,\n  \"v_head_dim\": %d,\n",
              DS_DENSE_LAYERS, DS_MOE_INTER, m->experts, DS_TOPK, DS_Q_LORA, DS_KV_LORA, DS_NOPE,
              DS_ROPE, DS_V_HEAD);
}

/* Llama-style keys shared by every decoder-only model but GPT-2. */
static void config_decoder(sbuf *b, const model_spec *m, unsigned layers)
{
    sb_printf(b,
              "  \"hidden_size\": %" PRIu64 ",\n  \"intermediate_size\": %" PRIu64 ",\n"
              "  \"max_position_embeddings\": %" PRIu64 ",\n  \"num_attention_heads\": %" PRIu64
              ",\n  \"num_hidden_layers\": %u,\n  \"num_key_value_heads\": %" PRIu64 ",\n"
              "  \"rms_norm_eps\": %s,\n",
              m->hidden, m->inter, m->max_pos, m->heads, layers, m->kv_heads, m->norm_eps);
    if (m->arch == ARCH_MIXTRAL)
        sb_printf(b, "  \"num_local_experts\": %u,\n  \"num_experts_per_tok\": 2,\n", m->experts);
    if (m->arch == ARCH_DEEPSEEK)
        config_deepseek(b, m);
}

/* Writes dir/config.json in the shape of the model's real HF config. */
static void write_config(const char *dir, const model_spec *m, int dt, unsigned layers)
{
    sbuf b = {0};
    sb_printf(&b, "{\n  \"architectures\": [\n    \"%s\"\n  ],\n  \"model_type\": \"%s\",\n",
              m->architecture, m->model_type);
    if (m->arch == ARCH_GPT2)
        config_gpt2(&b, m, layers);
    else
        config_decoder(&b, m, layers);
    sb_printf(&b,
              "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\",\n"
              "  \"vocab_size\": %" PRIu64 "\n}\n",
              m->tied ? "true" : "false", dt_torch[dt], m->vocab);
    write_text(dir, "config.json", &b);
    free(b.p);
}

/* ---- commands: list, model, all, tiny ------------------------------------------------------ */

static int cmd_list(void)
{
    for (size_t i = 0; i < N_MODELS; i++) {
        tlist l = {0};
        build_model(&l, &models[i], models[i].dtype, models[i].layers);
        printf("%s\t%" PRIu64 "\n", models[i].name, tl_params(&l));
        free(l.v);
    }
    for (size_t i = 0; i < n_models26(); i++)
        printf("%s\t%" PRIu64 "\n", model26_name(model26_at(i)), model26_logical(model26_at(i)));
    return 0;
}

/* Builds and writes model m into dir; shards 0 means the default (capped at the tensor count). */
static int gen_model(const model_spec *m, const char *dir, unsigned shards, int dt, unsigned layers,
                     bool real)
{
    tlist l = {0};
    build_model(&l, m, dt, layers);
    unsigned k = shards ? shards : m->shards;
    if (k > l.n) {
        if (shards) {
            free(l.v);
            return usage("--shards exceeds the number of tensors");
        }
        k = (unsigned)l.n;
    }
    mkdir_p(dir);
    write_checkpoint(dir, "model.safetensors", &l, k, real);
    write_config(dir, m, dt, layers);
    free(l.v);
    return 0;
}

/* Parses a decimal integer in [1, max]; false on anything else. */
static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Index of dtype name s among the first n of dt_names, or -1. */
static int parse_dtype(const char *s, int n)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, dt_names[i]) == 0)
            return i;
    return -1;
}

/* `vfgen model` for a vfgen_2026.c model: only --shards K applies (dtypes and layers are the
 * published checkpoint's). */
static int cmd_model26(int argc, char **argv, const model26 *m)
{
    unsigned shards = 0;
    if (argc == 6 && strcmp(argv[4], "--shards") == 0 && parse_uint(argv[5], 99999, &shards)) {
        if (!gen_model26(m, argv[3], shards))
            return usage("--shards exceeds the number of tensors");
        return 0;
    }
    if (argc != 4)
        return usage("this model takes only --shards K (dtypes and layers are published)");
    gen_model26(m, argv[3], 0);
    return 0;
}

static int cmd_model(int argc, char **argv)
{
    if (argc < 4)
        return usage("model needs NAME and OUTDIR");
    const model26 *m26 = find_model26(argv[2]);
    if (m26)
        return cmd_model26(argc, argv, m26);
    const model_spec *m = find_model(argv[2]);
    if (!m)
        return usage("unknown model (see vfgen list)");
    unsigned shards = 0, layers = m->layers;
    int dt = m->dtype;
    for (int i = 4; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = false;
        if (strcmp(argv[i], "--shards") == 0)
            ok = parse_uint(v, 99999, &shards);
        else if (strcmp(argv[i], "--layers") == 0)
            ok = parse_uint(v, 100000, &layers);
        else if (strcmp(argv[i], "--dtype") == 0)
            ok = (dt = parse_dtype(v, DT_SELECTABLE)) >= 0;
        if (!ok)
            return usage("bad option or value");
    }
    return gen_model(m, argv[3], shards, dt, layers, false);
}

static int cmd_all(int argc, char **argv)
{
    if (argc != 3)
        return usage("all needs OUTDIR");
    for (size_t i = 0; i < N_MODELS; i++) {
        if (!models[i].in_all)
            continue;
        char *dir = path_join(argv[2], models[i].name);
        gen_model(&models[i], dir, 0, models[i].dtype, models[i].layers, false);
        free(dir);
    }
    for (size_t i = 0; i < n_models26(); i++) {
        if (!model26_in_all(model26_at(i)))
            continue;
        char *dir = path_join(argv[2], model26_name(model26_at(i)));
        gen_model26(model26_at(i), dir, 0);
        free(dir);
    }
    return 0;
}

static int cmd_expect(int argc, char **argv)
{
    bool modules = argc == 4 && strcmp(argv[3], "--modules") == 0;
    if (argc != 3 && !modules)
        return usage("expect needs NAME [--modules]");
    const model26 *m = find_model26(argv[2]);
    if (!m)
        return usage("expect knows the models of vfgen_2026.c only (see vfgen list)");
    print_expect26(m, modules);
    return 0;
}

static int cmd_tiny(int argc, char **argv)
{
    if (argc != 3)
        return usage("tiny needs OUTDIR");
    for (size_t i = 0; i < sizeof tiny_models / sizeof tiny_models[0]; i++) {
        const model_spec *m = &tiny_models[i];
        char *dir = path_join(argv[2], m->name);
        gen_model(m, dir, 0, m->dtype, m->layers, true);
        free(dir);
    }
    return 0;
}

/* ---- header reader: the library's (vf_st_read_file) -------------------------------------- */

/* Appends the tensors named in the safetensors header of path to l, read and validated by the
 * library's strict parser; dies on I/O or format errors, and on a tensor vfgen cannot hold (a
 * name of VFG_NAME_MAX bytes or more, a dtype it does not write, more than VFG_MAX_DIMS dims). */
static void read_st_header(const char *path, tlist *l)
{
    vf_st_header *h = NULL;
    vf_error e = {0};
    char msg[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    if (vf_st_read_file(path, NULL, &h, &e) != VF_OK)
        die("%s", vf_error_format(&e, msg, sizeof msg));
    for (size_t i = 0; i < vf_st_header_count(h); i++) {
        const vf_st_tensor *st = vf_st_header_tensor(h, i);
        tensor *t = tl_push(l);
        t->dtype = parse_dtype(vf_dtype_name(st->dtype), DT_COUNT);
        if (strlen(st->name) >= sizeof t->name || t->dtype < 0 || st->ndim > VFG_MAX_DIMS)
            die("%s: tensor %s: name, dtype or rank beyond what vfgen writes", path, st->name);
        memcpy(t->name, st->name, strlen(st->name) + 1);
        t->ndim = (int)st->ndim;
        memcpy(t->shape, st->shape, st->ndim * sizeof *t->shape);
    }
    vf_st_header_free(h);
}

/* Reads every *.safetensors header in dir (adapter files excluded) into l, sorted by name. */
static void read_checkpoint_dir(const char *dir, tlist *l)
{
    DIR *d = opendir(dir);
    if (!d)
        die("cannot open %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".safetensors") || strncmp(e->d_name, "adapter", 7) == 0)
            continue;
        char *path = path_join(dir, e->d_name);
        read_st_header(path, l);
        free(path);
    }
    closedir(d);
    if (l->n == 0)
        die("%s: no safetensors files", dir);
    tl_sort(l);
}

/* ---- adapter ------------------------------------------------------------------------------- */

typedef struct adapter_opts {
    const char *base, *out;
    unsigned r;
    char *targets; /* comma-separated, owned by argv */
    bool wrong_rank;
} adapter_opts;

/* PEFT's target match: module equals target or ends with "." + target. */
static bool module_matches(const char *module, const char *targets)
{
    const char *t = targets;
    while (*t) {
        size_t k = strcspn(t, ",");
        size_t n = strlen(module);
        bool tail = k > 0 && k <= n && strncmp(module + n - k, t, k) == 0;
        if (tail && (k == n || module[n - k - 1] == '.'))
            return true;
        t += k + (t[k] == ',');
    }
    return false;
}

/* True for GPT-2-style checkpoints (Conv1D weights stored [in, out], HF names without the
 * "transformer." prefix that PEFT adds through GPT2LMHeadModel). */
static bool is_conv1d_model(const tlist *base)
{
    for (size_t i = 0; i < base->n; i++)
        if (strcmp(base->v[i].name, "wte.weight") == 0 || ends_with(base->v[i].name, ".wte.weight"))
            return true;
    return false;
}

/* Adds lora_A [r, in] and lora_B [out, r] (F32) for base weight t named "<module>.weight". */
static void add_lora_pair(tlist *out, const tensor *t, unsigned ra, unsigned rb, bool conv1d)
{
    const char *pre = conv1d && strncmp(t->name, "transformer.", 12) != 0 ? "transformer." : "";
    int mlen = (int)(strlen(t->name) - strlen(".weight"));
    uint64_t in = conv1d ? t->shape[0] : t->shape[1], outd = conv1d ? t->shape[1] : t->shape[0];
    add2(out, DT_F32, ra, in, "base_model.model.%s%.*s.lora_A.weight", pre, mlen, t->name);
    add2(out, DT_F32, outd, rb, "base_model.model.%s%.*s.lora_B.weight", pre, mlen, t->name);
}

static void write_adapter_config(const adapter_opts *o, bool conv1d)
{
    sbuf b = {0};
    sb_printf(&b, "{\n  \"alpha_pattern\": {},\n  \"base_model_name_or_path\": ");
    sb_json_str(&b, o->base);
    sb_printf(&b,
              ",\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": %s,\n  \"inference_mode\": true,\n"
              "  \"lora_alpha\": %u,\n  \"lora_dropout\": 0.0,\n  \"modules_to_save\": null,\n"
              "  \"peft_type\": \"LORA\",\n  \"r\": %u,\n  \"rank_pattern\": {},\n"
              "  \"target_modules\": [",
              conv1d ? "true" : "false", 2 * o->r, o->r);
    const char *t = o->targets;
    for (int first = 1; *t; first = 0) {
        size_t k = strcspn(t, ",");
        sb_printf(&b, "%s\n    \"%.*s\"", first ? "" : ",", (int)k, t);
        t += k + (t[k] == ',');
    }
    sb_printf(&b, "\n  ],\n  \"task_type\": \"CAUSAL_LM\",\n  \"use_dora\": false,\n"
                  "  \"use_rslora\": false\n}\n");
    write_text(o->out, "adapter_config.json", &b);
    free(b.p);
}

/* Writes adapter_model.safetensors and adapter_config.json for o; dies when nothing matches. */
static int gen_adapter(const adapter_opts *o)
{
    tlist base = {0}, out = {0};
    read_checkpoint_dir(o->base, &base);
    const bool conv1d = is_conv1d_model(&base);
    for (size_t i = 0; i < base.n; i++) {
        const tensor *t = &base.v[i];
        char module[VFG_NAME_MAX];
        if (t->ndim != 2 || !ends_with(t->name, ".weight"))
            continue;
        snprintf(module, sizeof module, "%.*s", (int)(strlen(t->name) - 7), t->name);
        if (!module_matches(module, o->targets))
            continue;
        unsigned ra = o->wrong_rank && out.n == 0 ? o->r + 1 : o->r;
        add_lora_pair(&out, t, ra, o->r, conv1d);
    }
    if (out.n == 0)
        die("%s: no 2-D weight matches --targets %s", o->base, o->targets);
    tl_sort(&out);
    mkdir_p(o->out);
    write_checkpoint(o->out, "adapter_model.safetensors", &out, 1, true);
    write_adapter_config(o, conv1d);
    free(base.v);
    free(out.v);
    return 0;
}

/* Target list check: non-empty, only [A-Za-z0-9_.,] and no empty entries. */
static bool valid_targets(const char *t)
{
    if (!t || !*t || *t == ',' || t[strlen(t) - 1] == ',' || strstr(t, ",,"))
        return false;
    for (; *t; t++)
        if (!(*t == '_' || *t == '.' || *t == ',' || (*t >= '0' && *t <= '9') ||
              (*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z')))
            return false;
    return true;
}

static int cmd_adapter(int argc, char **argv)
{
    adapter_opts o = {0};
    if (argc < 4)
        return usage("adapter needs BASEDIR and OUTDIR");
    o.base = argv[2];
    o.out = argv[3];
    for (int i = 4; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--wrong-rank") == 0)
            o.wrong_rank = true;
        else if (strcmp(argv[i], "--r") == 0 && parse_uint(v, 65535, &o.r))
            i++;
        else if (strcmp(argv[i], "--targets") == 0 && valid_targets(v))
            o.targets = argv[++i];
        else
            return usage("bad adapter option or value");
    }
    if (o.r == 0 || !o.targets)
        return usage("adapter needs --r R and --targets a,b");
    return gen_adapter(&o);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "list") == 0)
        return argc == 2 ? cmd_list() : usage("list takes no arguments");
    if (strcmp(cmd, "model") == 0)
        return cmd_model(argc, argv);
    if (strcmp(cmd, "all") == 0)
        return cmd_all(argc, argv);
    if (strcmp(cmd, "expect") == 0)
        return cmd_expect(argc, argv);
    if (strcmp(cmd, "tiny") == 0)
        return cmd_tiny(argc, argv);
    if (strcmp(cmd, "adapter") == 0)
        return cmd_adapter(argc, argv);
    return usage("unknown command");
}
