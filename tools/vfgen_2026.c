/* vfgen_2026.c - header-faithful checkpoints of the models people fine-tune in 2026: hybrid
 * (Mamba2/attention, gated delta-net), fused and per-expert MoE, multimodal, multi-token
 * prediction, pre-quantized (GPTQ, AWQ, bitsandbytes 4-bit, compressed-tensors FP8, DeepSeek FP8
 * block scales, gpt-oss MXFP4), state-space, encoder and encoder-decoder models.
 *
 * One table entry per model: its published config.json (trimmed to the keys transformers' modeling
 * code reads for shapes, written verbatim as the checkpoint's config.json), the builder of its
 * family, its dtype, quantization scheme and shard count. Builders read every shape from that
 * config text, so a shape and the config.json it is checked against cannot drift apart.
 *
 * Every tensor is tagged with what it is in the module tree transformers builds (vfgen.h:
 * enum vfg_kind, enum vfg_comp) and, for linear layers and fused experts, its logical in/out.
 * `vfgen expect NAME` derives the oracle values from those tags (never from stored totals):
 *   parameters       sum(p.numel()) of the dequantized model transformers loads: packed 4-bit
 *                    weights count their logical out*in, quantization metadata (K_QMETA), buffers
 *                    and multi-token-prediction weights transformers does not load (C_MTP) are
 *                    not parameters;
 *   all_linear       the modules PEFT's `all-linear` targets. PEFT (src/peft/tuners/tuners_utils.py,
 *                    _maybe_include_all_linear_layers, commit 5d602fd) takes every module that is
 *                    an instance of torch.nn.Linear or transformers' Conv1D, by full name, in the
 *                    whole model (vision towers and projectors included), minus the module that
 *                    model.get_output_embeddings() returns (lm_head; ModernBERT's decoder).
 *                    Embeddings, convolutions and bare nn.Parameter tensors (routers stored as
 *                    parameters, fused 3-D experts) are not nn.Linear. Quantized linears count
 *                    when their class subclasses nn.Linear: bitsandbytes Linear4bit,
 *                    compressed-tensors CompressedLinear and transformers' FP8Linear do; GPTQ's
 *                    QuantLinear (gptqmodel BaseQuantLinear(nn.Module)) and AWQ's WQLinear_GEMM do
 *                    not, so PEFT finds no module on those checkpoints (it then raises "Target
 *                    modules set() not found in the base model", cf. AutoGPTQ/AutoGPTQ#461);
 *   lora_r32         sum over those modules of 32 * (in + out) with the logical in/out;
 * and stored_elements, bytes, tensors, quant_metadata_bytes, the language model's architecture
 * (layers, hidden_size, vocab_size, routed experts, tied), a components table (language_model,
 * vision, projector, mtp: tensors, parameters, stored elements, bytes, layers), the same per
 * module kind (linear, bias, embedding, parameter, experts, conv, norm, quant-metadata, buffer;
 * vfgen.h enum vfg_kind), the config's quant_method and whether its quantized linear class is an
 * nn.Linear. The module structure (which classes are nn.Linear, which weights are bare parameters or
 * buffers) follows the transformers modeling files cited at each builder (huggingface/
 * transformers, the stored 4.5x versions: per-expert nn.Linear for Qwen3-MoE/Qwen3-Next/DeepSeek,
 * whose routers are nn.Linear except DeepSeek-V3's and gpt-oss's nn.Parameter routers).
 *
 * Published counts these builders reproduce are the oracles of tests/test_vfgen_2026.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfgen.h"

/* Stringizes a JSON text written without C escapes (whitespace collapses to single spaces). */
#define J(...) #__VA_ARGS__

const char *const kind_names[K_COUNT] = {"untagged", "linear",  "bias", "embedding",
                                         "parameter", "experts", "conv", "norm",
                                         "quant-metadata", "buffer"};
const char *const comp_names[C_COUNT] = {"language_model", "vision", "projector", "mtp"};

/* ---- config.json lookup -------------------------------------------------------------------- */

/* Past the string literal starting at p (at '"'). */
static const char *json_skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1])
            p++;
    return *p ? p + 1 : p;
}

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* The value of direct member `key` (length k) of the object at obj, or NULL. */
static const char *json_member(const char *obj, const char *key, size_t k)
{
    int depth = 0;
    for (const char *p = json_ws(obj); *p; p++) {
        if (*p == '"') {
            const char *e = json_skip_string(p), *q = json_ws(e);
            if (depth == 1 && *q == ':' && (size_t)(e - p - 2) == k && memcmp(p + 1, key, k) == 0)
                return json_ws(q + 1);
            p = e - 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') && --depth == 0) {
            return NULL;
        }
    }
    return NULL;
}

/* The value at a dotted path ("text_config.hidden_size") of the config text, or NULL. */
static const char *cfg_find(const char *cfg, const char *path)
{
    const char *v = cfg;
    while (v && *path) {
        size_t k = strcspn(path, ".");
        v = json_member(v, path, k);
        path += k + (path[k] == '.');
    }
    return v;
}

/* Unsigned integer at path; a missing key is a table bug (dies). */
static uint64_t cfg_u64(const char *cfg, const char *path)
{
    const char *v = cfg_find(cfg, path);
    if (!v || *v < '0' || *v > '9')
        die("config: no integer %s", path);
    return strtoull(v, NULL, 10);
}

/* Unsigned integer at path, or dflt when the published config omits the key (the value is then
 * the default of the model's transformers configuration class, cited at the call). */
static uint64_t cfg_u64_or(const char *cfg, const char *path, uint64_t dflt)
{
    return cfg_find(cfg, path) ? cfg_u64(cfg, path) : dflt;
}

/* Boolean at path, or dflt when absent. */
static bool cfg_bool_or(const char *cfg, const char *path, bool dflt)
{
    const char *v = cfg_find(cfg, path);
    return v ? strncmp(v, "true", 4) == 0 : dflt;
}

/* Element i of the array at path (strings or numbers); a missing one is a table bug (dies). */
static const char *cfg_item(const char *cfg, const char *path, unsigned i)
{
    const char *v = cfg_find(cfg, path);
    if (!v || *v != '[')
        die("config: no array %s", path);
    v = json_ws(v + 1);
    for (unsigned k = 0; k < i && *v && *v != ']'; k++) {
        v = *v == '"' ? json_skip_string(v) : v + strcspn(v, ",]");
        v = json_ws(v);
        v = json_ws(v + (*v == ','));
    }
    if (!*v || *v == ']')
        die("config: %s has no element %u", path, i);
    return v;
}

/* True when element i of the string array at path equals s. */
static bool cfg_item_is(const char *cfg, const char *path, unsigned i, const char *s)
{
    const char *v = cfg_item(cfg, path, i);
    size_t n = strlen(s);
    return *v == '"' && strncmp(v + 1, s, n) == 0 && v[n + 1] == '"';
}

/* Unsigned integer element i of the array at path. */
static uint64_t cfg_u64_item(const char *cfg, const char *path, unsigned i)
{
    const char *v = cfg_item(cfg, path, i);
    if (*v < '0' || *v > '9')
        die("config: %s[%u] is not an unsigned integer", path, i);
    return strtoull(v, NULL, 10);
}

/* True when the string at path equals s. */
static bool cfg_str_is(const char *cfg, const char *path, const char *s)
{
    const char *v = cfg_find(cfg, path);
    size_t n = strlen(s);
    return v && *v == '"' && strncmp(v + 1, s, n) == 0 && v[n + 1] == '"';
}

/* ---- builder context and tagged adders ----------------------------------------------------- */

/* How the weights of linear layers are stored (vfgen_2026.c header and add_linear). */
typedef enum qscheme { Q_NONE, Q_GPTQ, Q_AWQ, Q_BNB4, Q_FP8_CHANNEL, Q_FP8_BLOCK } qscheme;

/* What a builder reports about the language model it built. */
typedef struct facts {
    unsigned layers, vision_layers, experts;
    uint64_t hidden, vocab;
    bool tied;
    const char *stack;          /* "decoder", "encoder", "encoder-decoder" */
    char head[VFG_NAME_MAX];    /* module of get_output_embeddings() when stored, else "" */
} facts;

/* Shapes a family's layer builders share, read from config.json by the model's builder. */
typedef struct dims {
    uint64_t h, heads, kv, hd, inter, experts, e_inter, s_inter;
    bool qkv_bias;
} dims;

typedef struct gen {
    tlist *l;
    const char *cfg;
    int dt;    /* dtype of unquantized tensors */
    int comp;  /* component of the tensors being added */
    qscheme q; /* scheme of the linear layers being added */
    dims d;
    facts f;
} gen;

typedef void layer_fn(gen *g, const char *pre, unsigned i);

/* Formats a module prefix into out[VFG_NAME_MAX]; dies when too long. */
static VFG_PRINTF(2, 3) char *pfx(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out, VFG_NAME_MAX, fmt, ap);
    va_end(ap);
    if (w < 0 || w >= VFG_NAME_MAX)
        die("module name too long");
    return out;
}

/* "pre.leaf", or "leaf" when pre is empty, into out[VFG_NAME_MAX]. */
static char *join(char *out, const char *pre, const char *leaf)
{
    return pfx(out, "%s%s%s", pre, *pre ? "." : "", leaf);
}

/* Adds tensor "pre.leaf" tagged kind in g's current component. */
static tensor *put(gen *g, int kind, int dt, int ndim, const uint64_t *shape, const char *pre,
                   const char *leaf)
{
    tensor *t = tl_addf(g->l, dt, ndim, shape, "%s%s%s", pre, *pre ? "." : "", leaf);
    t->kind = kind;
    t->comp = g->comp;
    t->buffer = kind == K_BUFFER;
    return t;
}

static tensor *put1(gen *g, int kind, int dt, uint64_t a, const char *pre, const char *leaf)
{
    return put(g, kind, dt, 1, &a, pre, leaf);
}

static tensor *put2(gen *g, int kind, int dt, uint64_t a, uint64_t b, const char *pre,
                    const char *leaf)
{
    const uint64_t s[2] = {a, b};
    return put(g, kind, dt, 2, s, pre, leaf);
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* ---- quantized linear layers --------------------------------------------------------------- */

/* bitsandbytes 4-bit with double quantization (bitsandbytes/functional.py quantize_4bit): the
 * packed weight U8 [out*in/2, 1]; absmax of each block of 64 (the default blocksize) quantized to
 * U8 by quantize_blockwise(absmax - offset, blocksize=256), whose F32 absmax and 256-entry code
 * are nested_absmax and nested_quant_map; quant_map is the 16-entry NF4 code; and the
 * non-tensor fields packed as JSON bytes by QuantState.as_dict(packed=True) via
 * pack_dict_to_tensor (json.dumps, default separators), in as_dict's key order. nested_offset is
 * the mean block absmax in a real file; vfgen writes one fixed value representable in F32. */
enum { BNB_BLOCK = 64, BNB_NESTED_BLOCK = 256 };

static void bnb4_weight(gen *g, const char *m, uint64_t out, uint64_t in)
{
    if (!cfg_str_is(g->cfg, "quantization_config.bnb_4bit_quant_type", "nf4") ||
        !cfg_bool_or(g->cfg, "quantization_config.bnb_4bit_use_double_quant", false))
        die("bnb4: the table's config must be nf4 with double quantization");
    const uint64_t blocks = ceil_div(out * in, BNB_BLOCK);
    put2(g, K_LINEAR, DT_U8, out * in / 2, 1, m, "weight");
    put1(g, K_QMETA, DT_U8, blocks, m, "weight.absmax");
    put1(g, K_QMETA, DT_F32, ceil_div(blocks, BNB_NESTED_BLOCK), m, "weight.nested_absmax");
    put1(g, K_QMETA, DT_F32, 256, m, "weight.nested_quant_map");
    put1(g, K_QMETA, DT_F32, 16, m, "weight.quant_map");
    sbuf js = {0};
    sb_printf(&js,
              "{\"quant_type\": \"nf4\", \"blocksize\": %d, \"dtype\": \"%s\", "
              "\"shape\": [%" PRIu64 ", %" PRIu64 "], \"nested_blocksize\": %d, "
              "\"nested_dtype\": \"float32\", \"nested_offset\": 0.0291748046875}",
              BNB_BLOCK, dt_torch[g->dt], out, in, BNB_NESTED_BLOCK);
    tensor *qs = put1(g, K_QMETA, DT_U8, js.n, m, "weight.quant_state.bitsandbytes__nf4");
    qs->data = (unsigned char *)js.p;
}

/* GPTQ (auto-gptq/gptqmodel QuantLinear buffers as saved): qweight I32 [in*bits/32, out],
 * qzeros I32 [in/group, out*bits/32], scales F16 [in/group, out], g_idx I32 [in]. AWQ
 * (autoawq WQLinear_GEMM): qweight I32 [in, out*bits/32], qzeros I32 [in/group, out*bits/32],
 * scales F16 [in/group, out]. bits and group_size come from quantization_config. */
static void int4_weight(gen *g, const char *m, uint64_t out, uint64_t in)
{
    const uint64_t pack = 32 / cfg_u64(g->cfg, "quantization_config.bits");
    const uint64_t groups = in / cfg_u64(g->cfg, "quantization_config.group_size");
    if (g->q == Q_GPTQ)
        put2(g, K_LINEAR, DT_I32, in / pack, out, m, "qweight");
    else
        put2(g, K_LINEAR, DT_I32, in, out / pack, m, "qweight");
    put2(g, K_QMETA, DT_I32, groups, out / pack, m, "qzeros");
    put2(g, K_QMETA, DT_F16, groups, out, m, "scales");
    if (g->q == Q_GPTQ)
        put1(g, K_QMETA, DT_I32, in, m, "g_idx");
}

/* FP8 E4M3 weight [out, in] with DeepSeek's block scales weight_scale_inv F32 [ceil(out/b0),
 * ceil(in/b1)] (quantization_config.weight_block_size), or compressed-tensors' per-channel
 * weight_scale [out, 1] in the model dtype (strategy "channel"). */
static void fp8_weight(gen *g, const char *m, uint64_t out, uint64_t in)
{
    put2(g, K_LINEAR, DT_F8E4M3, out, in, m, "weight");
    if (g->q == Q_FP8_BLOCK) {
        const char *bs = "quantization_config.weight_block_size";
        put2(g, K_QMETA, DT_F32, ceil_div(out, cfg_u64_item(g->cfg, bs, 0)),
             ceil_div(in, cfg_u64_item(g->cfg, bs, 1)), m, "weight_scale_inv");
    } else {
        put2(g, K_QMETA, g->dt, out, 1, m, "weight_scale");
    }
}

/* Adds nn.Linear module pre.leaf [out, in] stored per g->q, with an unquantized bias. */
static void lin(gen *g, const char *pre, const char *leaf, uint64_t out, uint64_t in, bool bias)
{
    char m[VFG_NAME_MAX];
    join(m, pre, leaf);
    const size_t wi = g->l->n; /* the weight is added first; later adds may move the list */
    switch (g->q) {
    case Q_BNB4:
        bnb4_weight(g, m, out, in);
        break;
    case Q_GPTQ:
    case Q_AWQ:
        int4_weight(g, m, out, in);
        break;
    case Q_FP8_BLOCK:
    case Q_FP8_CHANNEL:
        fp8_weight(g, m, out, in);
        break;
    case Q_NONE:
        put2(g, K_LINEAR, g->dt, out, in, m, "weight");
        break;
    }
    g->l->v[wi].in = in;
    g->l->v[wi].out = out;
    g->l->v[wi].logical = out * in;
    if (bias)
        put1(g, K_BIAS, g->dt, out, m, "bias");
}

/* The output head pre.leaf [vocab, hidden], never quantized (lm_head is in every published
 * quantization_config's ignore/skip list), recorded as get_output_embeddings(). */
static void head(gen *g, const char *pre, const char *leaf)
{
    qscheme saved = g->q;
    g->q = Q_NONE;
    lin(g, pre, leaf, g->f.vocab, g->f.hidden, false);
    g->q = saved;
    join(g->f.head, pre, leaf);
}

/* ---- shared modules ------------------------------------------------------------------------ */

static void emb(gen *g, const char *pre, const char *leaf, uint64_t rows, uint64_t cols)
{
    char m[VFG_NAME_MAX];
    put2(g, K_EMBED, g->dt, rows, cols, join(m, pre, leaf), "weight");
}

/* RMSNorm pre.leaf.weight [n]. */
static void rms(gen *g, const char *pre, const char *leaf, uint64_t n)
{
    char m[VFG_NAME_MAX];
    put1(g, K_NORM, g->dt, n, join(m, pre, leaf), "weight");
}

/* LayerNorm pre.leaf.{weight,bias} [n]. */
static void layernorm(gen *g, const char *pre, const char *leaf, uint64_t n)
{
    char m[VFG_NAME_MAX];
    join(m, pre, leaf);
    put1(g, K_NORM, g->dt, n, m, "weight");
    put1(g, K_NORM, g->dt, n, m, "bias");
}

/* q/k/v/o projections under pre: q [q, h], k/v [kv, h], o [h, q]. */
static void attn_qkvo(gen *g, const char *pre, uint64_t h, uint64_t q, uint64_t kv, bool qkv_bias,
                      bool o_bias)
{
    lin(g, pre, "q_proj", q, h, qkv_bias);
    lin(g, pre, "k_proj", kv, h, qkv_bias);
    lin(g, pre, "v_proj", kv, h, qkv_bias);
    lin(g, pre, "o_proj", h, q, o_bias);
}

/* gate_proj/up_proj [inter, h] and down_proj [h, inter] under pre. */
static void glu(gen *g, const char *pre, uint64_t h, uint64_t inter, bool bias)
{
    lin(g, pre, "gate_proj", inter, h, bias);
    lin(g, pre, "up_proj", inter, h, bias);
    lin(g, pre, "down_proj", h, inter, bias);
}

/* Per-expert 2-D experts pre.experts.E.{gate,up,down}_proj (nn.ModuleList of MLPs). */
static void experts_2d(gen *g, const char *pre, uint64_t n, uint64_t inter)
{
    char m[VFG_NAME_MAX];
    for (uint64_t e = 0; e < n; e++)
        glu(g, pfx(m, "%s.experts.%" PRIu64, pre, e), g->d.h, inter, false);
}

/* Fused 3-D expert parameter pre.leaf of the given stored shape with logical in/out. */
static void experts_3d(gen *g, const char *pre, const char *leaf, const uint64_t shape[3],
                       uint64_t in, uint64_t out)
{
    tensor *t = put(g, K_EXPERTS, g->dt, 3, shape, pre, leaf);
    t->in = in;
    t->out = out;
}

/* Llama-style input_layernorm and post_attention_layernorm of layer pre. */
static void pre_post_norms(gen *g, const char *pre)
{
    rms(g, pre, "input_layernorm", g->d.h);
    rms(g, pre, "post_attention_layernorm", g->d.h);
}

/* Decoder-only language model under root: embed_tokens, layers (fn each), norm, and head.leaf
 * unless tied. Needs g->f.layers/hidden/vocab/tied. */
static void decoder_lm(gen *g, const char *root, const char *head_pre, layer_fn *fn)
{
    char pre[VFG_NAME_MAX];
    emb(g, root, "embed_tokens", g->f.vocab, g->f.hidden);
    for (unsigned i = 0; i < g->f.layers; i++)
        fn(g, pfx(pre, "%s.layers.%u", root, i), i);
    rms(g, root, "norm", g->f.hidden);
    if (!g->f.tied)
        head(g, head_pre, "lm_head");
}

/* Reads the Llama-style text shapes at config path prefix p ("" or "text_config.") into g;
 * vocab_dflt and tied_dflt apply when the published config omits the key. */
static void read_text_dims(gen *g, const char *p, uint64_t vocab_dflt, bool tied_dflt)
{
    char k[96];
    const char *c = g->cfg;
    g->d.h = cfg_u64(c, pfx(k, "%shidden_size", p));
    g->d.heads = cfg_u64_or(c, pfx(k, "%snum_attention_heads", p), 0);
    g->d.kv = cfg_u64_or(c, pfx(k, "%snum_key_value_heads", p), g->d.heads);
    g->d.hd = cfg_u64_or(c, pfx(k, "%shead_dim", p), g->d.heads ? g->d.h / g->d.heads : 0);
    g->d.inter = cfg_u64_or(c, pfx(k, "%sintermediate_size", p), 0);
    g->f.hidden = g->d.h;
    g->f.layers = (unsigned)cfg_u64(c, pfx(k, "%snum_hidden_layers", p));
    g->f.vocab = cfg_u64_or(c, pfx(k, "%svocab_size", p), vocab_dflt);
    g->f.tied = cfg_bool_or(c, pfx(k, "%stie_word_embeddings", p), tied_dflt);
    g->f.stack = "decoder";
}

/* Sets the routed-expert shapes: count at path n, expert width at path w, shared width s. */
static void read_moe_dims(gen *g, const char *n, const char *w, uint64_t s)
{
    g->d.experts = cfg_u64(g->cfg, n);
    g->d.e_inter = cfg_u64(g->cfg, w);
    g->d.s_inter = s;
    g->f.experts = (unsigned)g->d.experts;
}

/* ---- dense and per-expert decoders --------------------------------------------------------- */

/* Llama/Qwen2 decoder layer (modeling_llama.py LlamaDecoderLayer; Qwen2Attention adds q/k/v
 * biases: g->d.qkv_bias). */
static void llama_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX];
    (void)i;
    pre_post_norms(g, pre);
    attn_qkvo(g, join(m, pre, "self_attn"), g->d.h, g->d.heads * g->d.hd, g->d.kv * g->d.hd,
              g->d.qkv_bias, false);
    glu(g, join(m, pre, "mlp"), g->d.h, g->d.inter, false);
}

/* Llama-3.1-8B in each published quantized form (the table's scheme applies to the seven
 * projections of every layer; embed_tokens, norms and lm_head stay in the model dtype). */
static void build_llama(gen *g)
{
    read_text_dims(g, "", 0, false);
    decoder_lm(g, "model", "", llama_layer);
}

/* q_norm/k_norm [head_dim] of Qwen3/Gemma3 attention under pre. */
static void qk_norms(gen *g, const char *pre)
{
    rms(g, pre, "q_norm", g->d.hd);
    rms(g, pre, "k_norm", g->d.hd);
}

/* Qwen3-MoE layer (modeling_qwen3_moe.py): attention with q/k norms; Qwen3MoeSparseMoeBlock with
 * gate = nn.Linear(hidden, num_experts) and an nn.ModuleList of per-expert MLPs. Every layer is
 * sparse (decoder_sparse_step 1, mlp_only_layers []). */
static void qwen3_moe_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX];
    (void)i;
    pre_post_norms(g, pre);
    join(m, pre, "self_attn");
    attn_qkvo(g, m, g->d.h, g->d.heads * g->d.hd, g->d.kv * g->d.hd, false, false);
    qk_norms(g, m);
    join(m, pre, "mlp");
    lin(g, m, "gate", g->d.experts, g->d.h, false);
    experts_2d(g, m, g->d.experts, g->d.e_inter);
}

static void build_qwen3_moe(gen *g)
{
    read_text_dims(g, "", 0, false);
    read_moe_dims(g, "num_experts", "moe_intermediate_size", 0);
    decoder_lm(g, "model", "", qwen3_moe_layer);
}

/* ---- Qwen3-Next: gated delta-net + gated full attention, MoE with a shared expert, MTP ------ */

/* modeling_qwen3_next.py: Qwen3NextSparseMoeBlock (gate, experts, shared_expert,
 * shared_expert_gate = nn.Linear(hidden, 1)). */
static void qwen3_next_moe(gen *g, const char *pre)
{
    char m[VFG_NAME_MAX], s[VFG_NAME_MAX];
    join(m, pre, "mlp");
    lin(g, m, "gate", g->d.experts, g->d.h, false);
    experts_2d(g, m, g->d.experts, g->d.e_inter);
    glu(g, join(s, m, "shared_expert"), g->d.h, g->d.s_inter, false);
    lin(g, m, "shared_expert_gate", 1, g->d.h, false);
}

/* Qwen3NextAttention: q_proj carries the output gate (heads*head_dim*2), q/k norms. */
static void qwen3_next_full_attn(gen *g, const char *pre)
{
    char m[VFG_NAME_MAX];
    const uint64_t q = g->d.heads * g->d.hd;
    join(m, pre, "self_attn");
    lin(g, m, "q_proj", 2 * q, g->d.h, false);
    lin(g, m, "k_proj", g->d.kv * g->d.hd, g->d.h, false);
    lin(g, m, "v_proj", g->d.kv * g->d.hd, g->d.h, false);
    lin(g, m, "o_proj", g->d.h, q, false);
    qk_norms(g, m);
}

/* Qwen3NextGatedDeltaNet: in_proj_qkvz [2*key_dim + 2*value_dim, h], in_proj_ba [2*v_heads, h],
 * depthwise conv1d [key_dim*2 + value_dim, 1, kernel] without bias, dt_bias and A_log
 * nn.Parameter [v_heads], gated RMSNorm [v_head_dim], out_proj [h, value_dim]. */
static void qwen3_next_linear_attn(gen *g, const char *pre)
{
    char m[VFG_NAME_MAX];
    const char *c = g->cfg;
    const uint64_t nv = cfg_u64(c, "linear_num_value_heads");
    const uint64_t kd = cfg_u64(c, "linear_num_key_heads") * cfg_u64(c, "linear_key_head_dim");
    const uint64_t vd = nv * cfg_u64(c, "linear_value_head_dim");
    const uint64_t conv[3] = {2 * kd + vd, 1, cfg_u64(c, "linear_conv_kernel_dim")};
    join(m, pre, "linear_attn");
    lin(g, m, "in_proj_qkvz", 2 * kd + 2 * vd, g->d.h, false);
    lin(g, m, "in_proj_ba", 2 * nv, g->d.h, false);
    put(g, K_CONV, g->dt, 3, conv, m, "conv1d.weight");
    put1(g, K_PARAM, g->dt, nv, m, "dt_bias");
    put1(g, K_PARAM, g->dt, nv, m, "A_log");
    rms(g, m, "norm", cfg_u64(c, "linear_value_head_dim"));
    lin(g, m, "out_proj", g->d.h, vd, false);
}

/* Layer i is full attention when (i + 1) % full_attention_interval == 0 (Qwen3NextConfig
 * layer_types default), linear attention otherwise; every layer is MoE. */
static void qwen3_next_layer(gen *g, const char *pre, unsigned i)
{
    pre_post_norms(g, pre);
    if ((i + 1) % cfg_u64(g->cfg, "full_attention_interval") == 0)
        qwen3_next_full_attn(g, pre);
    else
        qwen3_next_linear_attn(g, pre);
    qwen3_next_moe(g, pre);
}

/* The published checkpoint's mtp.* block (not loaded by transformers:
 * Qwen3NextForCausalLM._keys_to_ignore_on_load_unexpected = [r"^mtp.*"]): fc [h, 2h], two input
 * norms, one full-attention MoE layer, a final norm. */
static void qwen3_next_mtp(gen *g)
{
    g->comp = C_MTP;
    lin(g, "mtp", "fc", g->d.h, 2 * g->d.h, false);
    rms(g, "mtp", "pre_fc_norm_embedding", g->d.h);
    rms(g, "mtp", "pre_fc_norm_hidden", g->d.h);
    pre_post_norms(g, "mtp.layers.0");
    qwen3_next_full_attn(g, "mtp.layers.0");
    qwen3_next_moe(g, "mtp.layers.0");
    rms(g, "mtp", "norm", g->d.h);
    g->comp = C_LM;
}

static void build_qwen3_next(gen *g)
{
    read_text_dims(g, "", 0, false);
    read_moe_dims(g, "num_experts", "moe_intermediate_size",
                  cfg_u64(g->cfg, "shared_expert_intermediate_size"));
    decoder_lm(g, "model", "", qwen3_next_layer);
    qwen3_next_mtp(g);
}

/* ---- DeepSeek-V3 in its published FP8 form, with the MTP layer ----------------------------- */

/* DeepseekV3Attention (multi-head latent attention) under pre. */
static void deepseek_mla(gen *g, const char *pre)
{
    char m[VFG_NAME_MAX];
    const char *c = g->cfg;
    const uint64_t ql = cfg_u64(c, "q_lora_rank"), kvl = cfg_u64(c, "kv_lora_rank");
    const uint64_t nope = cfg_u64(c, "qk_nope_head_dim"), rope = cfg_u64(c, "qk_rope_head_dim");
    const uint64_t v = cfg_u64(c, "v_head_dim"), nh = g->d.heads;
    join(m, pre, "self_attn");
    lin(g, m, "q_a_proj", ql, g->d.h, false);
    rms(g, m, "q_a_layernorm", ql);
    lin(g, m, "q_b_proj", nh * (nope + rope), ql, false);
    lin(g, m, "kv_a_proj_with_mqa", kvl + rope, g->d.h, false);
    rms(g, m, "kv_a_layernorm", kvl);
    lin(g, m, "kv_b_proj", nh * (nope + v), kvl, false);
    lin(g, m, "o_proj", g->d.h, nh * v, false);
}

/* DeepseekV3DecoderLayer: dense MLP below first_k_dense_replace, else DeepseekV3MoE whose router
 * (DeepseekV3TopkRouter) holds weight as an nn.Parameter (BF16 in the checkpoint) and
 * e_score_correction_bias as a registered buffer (F32). */
static void deepseek_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX], s[VFG_NAME_MAX];
    pre_post_norms(g, pre);
    deepseek_mla(g, pre);
    join(m, pre, "mlp");
    if (i < cfg_u64(g->cfg, "first_k_dense_replace")) {
        glu(g, m, g->d.h, g->d.inter, false);
        return;
    }
    put2(g, K_PARAM, g->dt, g->d.experts, g->d.h, m, "gate.weight");
    put1(g, K_BUFFER, DT_F32, g->d.experts, m, "gate.e_score_correction_bias");
    glu(g, join(s, m, "shared_experts"), g->d.h, g->d.s_inter, false);
    experts_2d(g, m, g->d.experts, g->d.e_inter);
}

/* The num_nextn_predict_layers MTP layers stored after the decoder (model.layers.61 in
 * DeepSeek-V3; transformers ignores them: _keys_to_ignore_on_load_unexpected
 * [r"model\.layers\.61.*"]): a full MoE layer plus embed_tokens, enorm, hnorm, eh_proj [h, 2h],
 * shared_head.norm and shared_head.head, the last three unquantized (BF16) as published. */
static void deepseek_mtp(gen *g)
{
    char pre[VFG_NAME_MAX];
    const unsigned n = (unsigned)cfg_u64(g->cfg, "num_nextn_predict_layers");
    g->comp = C_MTP;
    for (unsigned i = g->f.layers; i < g->f.layers + n; i++) {
        pfx(pre, "model.layers.%u", i);
        deepseek_layer(g, pre, i);
        emb(g, pre, "embed_tokens", g->f.vocab, g->d.h);
        rms(g, pre, "enorm", g->d.h);
        rms(g, pre, "hnorm", g->d.h);
        rms(g, pre, "shared_head.norm", g->d.h);
        qscheme saved = g->q;
        g->q = Q_NONE;
        lin(g, pre, "eh_proj", g->d.h, 2 * g->d.h, false);
        lin(g, pre, "shared_head.head", g->f.vocab, g->d.h, false);
        g->q = saved;
    }
    g->comp = C_LM;
}

static void build_deepseek_fp8(gen *g)
{
    read_text_dims(g, "", 0, false);
    read_moe_dims(g, "n_routed_experts", "moe_intermediate_size",
                  cfg_u64(g->cfg, "moe_intermediate_size") * cfg_u64(g->cfg, "n_shared_experts"));
    decoder_lm(g, "model", "", deepseek_layer);
    deepseek_mtp(g);
}

/* ---- fused experts: Granite 4.0-H, gpt-oss ------------------------------------------------- */

/* GraniteMoeHybridMambaLayer (Mamba2) under pre.mamba: in_proj [2*d_inner + 2*groups*d_state +
 * heads, h], depthwise conv1d [d_inner + 2*groups*d_state, 1, d_conv] with bias
 * (mamba_conv_bias), dt_bias/A_log/D nn.Parameter [heads], gated RMSNorm [d_inner], out_proj
 * [h, d_inner]; d_inner = mamba_expand * hidden_size. */
static void granite_mamba(gen *g, const char *pre)
{
    char m[VFG_NAME_MAX];
    const char *c = g->cfg;
    const uint64_t di = cfg_u64(c, "mamba_expand") * g->d.h, nh = cfg_u64(c, "mamba_n_heads");
    const uint64_t gs = cfg_u64(c, "mamba_n_groups") * cfg_u64(c, "mamba_d_state");
    const uint64_t conv[3] = {di + 2 * gs, 1, cfg_u64(c, "mamba_d_conv")};
    const bool pb = cfg_bool_or(c, "mamba_proj_bias", false);
    join(m, pre, "mamba");
    lin(g, m, "in_proj", 2 * di + 2 * gs + nh, g->d.h, pb);
    put(g, K_CONV, g->dt, 3, conv, m, "conv1d.weight");
    if (cfg_bool_or(c, "mamba_conv_bias", true))
        put1(g, K_BIAS, g->dt, conv[0], m, "conv1d.bias");
    put1(g, K_PARAM, g->dt, nh, m, "dt_bias");
    put1(g, K_PARAM, g->dt, nh, m, "A_log");
    put1(g, K_PARAM, g->dt, nh, m, "D");
    rms(g, m, "norm", di);
    lin(g, m, "out_proj", g->d.h, di, pb);
}

/* GraniteMoeHybridDecoderLayer (modeling_granitemoehybrid.py): Mamba2 or attention per
 * layer_types[i]; block_sparse_moe with GraniteMoeHybridParallelExperts weights nn.Parameter
 * [experts, out, in] (input_linear [E, 2I, h], output_linear [E, h, I]) and router.layer =
 * nn.Linear(h, E); shared_mlp input_linear [2S, h] / output_linear [h, S] nn.Linear. */
static void granite_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX];
    const uint64_t e = g->d.experts, h = g->d.h, in = g->d.e_inter;
    pre_post_norms(g, pre);
    if (cfg_item_is(g->cfg, "layer_types", i, "mamba"))
        granite_mamba(g, pre);
    else
        attn_qkvo(g, join(m, pre, "self_attn"), h, g->d.heads * g->d.hd, g->d.kv * g->d.hd,
                  false, false);
    join(m, pre, "block_sparse_moe");
    experts_3d(g, m, "input_linear.weight", (const uint64_t[3]){e, 2 * in, h}, h, 2 * in);
    experts_3d(g, m, "output_linear.weight", (const uint64_t[3]){e, h, in}, in, h);
    lin(g, m, "router.layer", e, h, false);
    join(m, pre, "shared_mlp");
    lin(g, m, "input_linear", 2 * g->d.s_inter, h, false);
    lin(g, m, "output_linear", h, g->d.s_inter, false);
}

static void build_granite_hybrid(gen *g)
{
    read_text_dims(g, "", 0, true);
    read_moe_dims(g, "num_local_experts", "intermediate_size",
                  cfg_u64(g->cfg, "shared_intermediate_size"));
    decoder_lm(g, "model", "", granite_layer);
}

/* One MXFP4 expert weight (transformers integrations/mxfp4.py; gpt-oss checkpoint layout):
 * NAME_blocks U8 [E, out, in/32, 16] (32 FP4 values in 16 bytes per block), NAME_scales U8
 * [E, out, in/32] (one E8M0 exponent per block), NAME_bias [E, out] in the model dtype. The
 * dequantized nn.Parameter of GptOssExperts is [E, in, out] with E*in*out elements. */
static void mxfp4_experts(gen *g, const char *pre, const char *name, uint64_t out, uint64_t in)
{
    char leaf[VFG_NAME_MAX];
    const uint64_t e = g->d.experts;
    const uint64_t blocks[4] = {e, out, in / 32, 16}, scales[3] = {e, out, in / 32};
    tensor *t = put(g, K_EXPERTS, DT_U8, 4, blocks, pre, pfx(leaf, "%s_blocks", name));
    t->logical = e * out * in;
    t->in = in;
    t->out = out;
    put(g, K_QMETA, DT_U8, 3, scales, pre, pfx(leaf, "%s_scales", name));
    put2(g, K_PARAM, g->dt, e, out, pre, pfx(leaf, "%s_bias", name));
}

/* GptOssDecoderLayer (modeling_gpt_oss.py): attention with biases and per-head sinks
 * (nn.Parameter [heads]); GptOssTopKRouter holds weight [E, h] and bias [E] as nn.Parameter;
 * experts fused and MXFP4-quantized. */
static void gpt_oss_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX];
    const uint64_t h = g->d.h, ei = g->d.e_inter;
    (void)i;
    pre_post_norms(g, pre);
    join(m, pre, "self_attn");
    attn_qkvo(g, m, h, g->d.heads * g->d.hd, g->d.kv * g->d.hd, true, true);
    put1(g, K_PARAM, g->dt, g->d.heads, m, "sinks");
    join(m, pre, "mlp");
    put2(g, K_PARAM, g->dt, g->d.experts, h, m, "router.weight");
    put1(g, K_PARAM, g->dt, g->d.experts, m, "router.bias");
    join(m, pre, "mlp.experts");
    mxfp4_experts(g, m, "gate_up_proj", 2 * ei, h);
    mxfp4_experts(g, m, "down_proj", h, ei);
}

static void build_gpt_oss(gen *g)
{
    read_text_dims(g, "", 0, false);
    read_moe_dims(g, "num_local_experts", "intermediate_size", 0);
    decoder_lm(g, "model", "", gpt_oss_layer);
}

/* ---- multimodal: Llama 4, Gemma 3, Qwen2.5-VL ---------------------------------------------- */

/* Names of a ViT encoder layer's modules. */
typedef struct vit_names {
    const char *attn, *o, *ln1, *ln2;
} vit_names;

/* ViT encoder layer under pre: two LayerNorms, q/k/v/o [h, h] with biases, mlp.fc1 [inter, h] and
 * mlp.fc2 [h, inter] with biases (SiglipEncoderLayer, Llama4VisionEncoderLayer). */
static void vit_layer(gen *g, const char *pre, const vit_names *n, uint64_t h, uint64_t inter)
{
    char m[VFG_NAME_MAX];
    layernorm(g, pre, n->ln1, h);
    layernorm(g, pre, n->ln2, h);
    join(m, pre, n->attn);
    lin(g, m, "q_proj", h, h, true);
    lin(g, m, "k_proj", h, h, true);
    lin(g, m, "v_proj", h, h, true);
    lin(g, m, n->o, h, h, true);
    join(m, pre, "mlp");
    lin(g, m, "fc1", inter, h, true);
    lin(g, m, "fc2", h, inter, true);
}

/* Llama4TextDecoderLayer: MoE when (i + 1) % interleave_moe_layer_step == 0 (Llama4TextConfig
 * moe_layers default), with Llama4Router (an nn.Linear subclass), Llama4TextExperts parameters
 * in bmm layout gate_up_proj [E, h, 2I] and down_proj [E, I, h], and a shared expert MLP; dense
 * layers use intermediate_size_mlp. */
static void llama4_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX], s[VFG_NAME_MAX];
    const uint64_t e = g->d.experts, h = g->d.h, ei = g->d.e_inter;
    pre_post_norms(g, pre);
    attn_qkvo(g, join(m, pre, "self_attn"), h, g->d.heads * g->d.hd, g->d.kv * g->d.hd, false,
              false);
    join(m, pre, "feed_forward");
    if ((i + 1) % cfg_u64(g->cfg, "text_config.interleave_moe_layer_step") != 0) {
        glu(g, m, h, cfg_u64(g->cfg, "text_config.intermediate_size_mlp"), false);
        return;
    }
    lin(g, m, "router", e, h, false);
    experts_3d(g, m, "experts.gate_up_proj", (const uint64_t[3]){e, h, 2 * ei}, h, 2 * ei);
    experts_3d(g, m, "experts.down_proj", (const uint64_t[3]){e, ei, h}, ei, h);
    glu(g, join(s, m, "shared_expert"), h, ei, false);
}

/* Llama4VisionModel under vision_model: Llama4UnfoldConvolution's nn.Linear patch embedding
 * [h, channels*patch^2], class_embedding and positional_embedding_vlm [(image/patch)^2 + 1, h]
 * nn.Parameter, pre/post LayerNorms, the encoder, and the pixel-shuffle adapter MLP
 * (Llama4VisionMLP2: fc1 [projector_input_dim, intermediate], fc2 [projector_output_dim,
 * projector_input_dim], no biases). */
static void llama4_vision(gen *g)
{
    static const vit_names names = {"self_attn", "o_proj", "input_layernorm",
                                    "post_attention_layernorm"};
    char pre[VFG_NAME_MAX];
    const char *c = g->cfg;
    const uint64_t h = cfg_u64(c, "vision_config.hidden_size");
    const uint64_t inter = cfg_u64(c, "vision_config.intermediate_size");
    const uint64_t ps = cfg_u64(c, "vision_config.patch_size");
    const uint64_t side = cfg_u64(c, "vision_config.image_size") / ps;
    const uint64_t pin = cfg_u64(c, "vision_config.projector_input_dim");
    g->comp = C_VISION;
    g->f.vision_layers = (unsigned)cfg_u64(c, "vision_config.num_hidden_layers");
    lin(g, "vision_model.patch_embedding", "linear", h,
        cfg_u64(c, "vision_config.num_channels") * ps * ps, false);
    put1(g, K_PARAM, g->dt, h, "vision_model", "class_embedding");
    put2(g, K_PARAM, g->dt, side * side + 1, h, "vision_model", "positional_embedding_vlm");
    layernorm(g, "vision_model", "layernorm_pre", h);
    layernorm(g, "vision_model", "layernorm_post", h);
    for (unsigned i = 0; i < g->f.vision_layers; i++)
        vit_layer(g, pfx(pre, "vision_model.model.layers.%u", i), &names, h, inter);
    lin(g, "vision_model.vision_adapter.mlp", "fc1", pin, inter, false);
    lin(g, "vision_model.vision_adapter.mlp", "fc2",
        cfg_u64(c, "vision_config.projector_output_dim"), pin, false);
    g->comp = C_PROJECTOR;
    lin(g, "multi_modal_projector", "linear_1", g->d.h,
        cfg_u64(c, "vision_config.vision_output_dim"), false);
    g->comp = C_LM;
}

static void build_llama4(gen *g)
{
    read_text_dims(g, "text_config.", 0, false);
    read_moe_dims(g, "text_config.num_local_experts", "text_config.intermediate_size",
                  cfg_u64(g->cfg, "text_config.intermediate_size"));
    decoder_lm(g, "language_model.model", "language_model", llama4_layer);
    llama4_vision(g);
}

/* Gemma3DecoderLayer: four norms, attention with q/k norms, GLU MLP. */
static void gemma3_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX];
    (void)i;
    pre_post_norms(g, pre);
    rms(g, pre, "pre_feedforward_layernorm", g->d.h);
    rms(g, pre, "post_feedforward_layernorm", g->d.h);
    join(m, pre, "self_attn");
    attn_qkvo(g, m, g->d.h, g->d.heads * g->d.hd, g->d.kv * g->d.hd, false, false);
    qk_norms(g, m);
    glu(g, join(m, pre, "mlp"), g->d.h, g->d.inter, false);
}

/* SigLIP vision tower (modeling_siglip.py SiglipVisionTransformer, vision_use_head false):
 * Conv2d patch embedding with bias, nn.Embedding positions [(image/patch)^2, h], encoder layers,
 * post_layernorm. Gemma3MultiModalProjector: mm_input_projection_weight nn.Parameter
 * [vision h, text h] and mm_soft_emb_norm (Gemma3RMSNorm [vision h]). */
static void gemma3_vision(gen *g)
{
    static const vit_names names = {"self_attn", "out_proj", "layer_norm1", "layer_norm2"};
    char pre[VFG_NAME_MAX];
    const char *c = g->cfg, *root = "vision_tower.vision_model";
    const uint64_t h = cfg_u64(c, "vision_config.hidden_size");
    const uint64_t ps = cfg_u64(c, "vision_config.patch_size");
    const uint64_t side = cfg_u64(c, "vision_config.image_size") / ps;
    const uint64_t patch[4] = {h, cfg_u64_or(c, "vision_config.num_channels", 3), ps, ps};
    g->comp = C_VISION;
    g->f.vision_layers = (unsigned)cfg_u64(c, "vision_config.num_hidden_layers");
    join(pre, root, "embeddings");
    put(g, K_CONV, g->dt, 4, patch, pre, "patch_embedding.weight");
    put1(g, K_BIAS, g->dt, h, pre, "patch_embedding.bias");
    emb(g, pre, "position_embedding", side * side, h);
    for (unsigned i = 0; i < g->f.vision_layers; i++)
        vit_layer(g, pfx(pre, "%s.encoder.layers.%u", root, i), &names, h,
                  cfg_u64(c, "vision_config.intermediate_size"));
    layernorm(g, root, "post_layernorm", h);
    g->comp = C_PROJECTOR;
    put2(g, K_PARAM, g->dt, h, g->d.h, "multi_modal_projector", "mm_input_projection_weight");
    rms(g, "multi_modal_projector", "mm_soft_emb_norm", h);
    g->comp = C_LM;
}

/* gemma-3-4b-it's config.json omits text_config.vocab_size: Gemma3TextConfig's default 262208
 * (configuration_gemma3.py) applies, as does its tie_word_embeddings=True. */
static void build_gemma3(gen *g)
{
    read_text_dims(g, "text_config.", 262208, true);
    decoder_lm(g, "language_model.model", "language_model", gemma3_layer);
    gemma3_vision(g);
}

/* Qwen2.5-VL vision (modeling_qwen2_5_vl.py): Conv3d patch_embed.proj [h, in_chans,
 * temporal_patch, patch, patch] without bias; blocks with RMSNorm norm1/norm2, attn.qkv
 * [3h, h] and attn.proj with biases, Qwen2_5_VLMLP gate/up/down with biases; the patch merger
 * (ln_q RMSNorm, mlp.0 [h*merge^2, h*merge^2], GELU, mlp.2 [out_hidden, h*merge^2]) is the
 * projector into the language model. */
static void qwen25vl_vision(gen *g)
{
    char pre[VFG_NAME_MAX], m[VFG_NAME_MAX];
    const char *c = g->cfg;
    const uint64_t h = cfg_u64(c, "vision_config.hidden_size");
    const uint64_t ps = cfg_u64(c, "vision_config.patch_size");
    const uint64_t merge = cfg_u64(c, "vision_config.spatial_merge_size");
    const uint64_t patch[5] = {h, cfg_u64(c, "vision_config.in_chans"),
                               cfg_u64(c, "vision_config.temporal_patch_size"), ps, ps};
    const uint64_t mh = h * merge * merge;
    g->comp = C_VISION;
    g->f.vision_layers = (unsigned)cfg_u64(c, "vision_config.depth");
    put(g, K_CONV, g->dt, 5, patch, "visual.patch_embed.proj", "weight");
    for (unsigned i = 0; i < g->f.vision_layers; i++) {
        pfx(pre, "visual.blocks.%u", i);
        rms(g, pre, "norm1", h);
        rms(g, pre, "norm2", h);
        join(m, pre, "attn");
        lin(g, m, "qkv", 3 * h, h, true);
        lin(g, m, "proj", h, h, true);
        glu(g, join(m, pre, "mlp"), h, cfg_u64(c, "vision_config.intermediate_size"), true);
    }
    g->comp = C_PROJECTOR;
    rms(g, "visual.merger", "ln_q", h);
    lin(g, "visual.merger.mlp", "0", mh, mh, true);
    lin(g, "visual.merger.mlp", "2", cfg_u64(c, "vision_config.out_hidden_size"), mh, true);
    g->comp = C_LM;
}

static void build_qwen25vl(gen *g)
{
    read_text_dims(g, "", 0, false);
    g->d.qkv_bias = true;
    decoder_lm(g, "model", "", llama_layer);
    qwen25vl_vision(g);
}

/* ---- state-space, encoder, encoder-decoder ------------------------------------------------- */

/* MambaMixer (modeling_mamba.py) of layer pre: A_log [I, state] and D [I] nn.Parameter, depthwise
 * conv1d [I, 1, kernel] with bias (use_conv_bias), in_proj [2I, h], x_proj [rank + 2*state, I],
 * dt_proj [I, rank] with bias, out_proj [h, I] (use_bias false). */
static void mamba_layer(gen *g, const char *pre, unsigned i)
{
    char m[VFG_NAME_MAX];
    const char *c = g->cfg;
    const uint64_t in = g->d.inter, st = cfg_u64(c, "state_size");
    const uint64_t rank = cfg_u64(c, "time_step_rank");
    const uint64_t conv[3] = {in, 1, cfg_u64(c, "conv_kernel")};
    const bool bias = cfg_bool_or(c, "use_bias", false);
    (void)i;
    rms(g, pre, "norm", g->d.h);
    join(m, pre, "mixer");
    put2(g, K_PARAM, g->dt, in, st, m, "A_log");
    put1(g, K_PARAM, g->dt, in, m, "D");
    put(g, K_CONV, g->dt, 3, conv, m, "conv1d.weight");
    if (cfg_bool_or(c, "use_conv_bias", true))
        put1(g, K_BIAS, g->dt, in, m, "conv1d.bias");
    lin(g, m, "in_proj", 2 * in, g->d.h, bias);
    lin(g, m, "x_proj", rank + 2 * st, in, false);
    lin(g, m, "dt_proj", in, rank, true);
    lin(g, m, "out_proj", g->d.h, in, bias);
}

/* MambaForCausalLM: backbone.embeddings, layers, norm_f; lm_head tied (MambaConfig default). */
static void build_mamba(gen *g)
{
    char pre[VFG_NAME_MAX];
    read_text_dims(g, "", 0, true);
    emb(g, "backbone", "embeddings", g->f.vocab, g->d.h);
    for (unsigned i = 0; i < g->f.layers; i++)
        mamba_layer(g, pfx(pre, "backbone.layers.%u", i), i);
    rms(g, "backbone", "norm_f", g->d.h);
}

/* ModernBertForMaskedLM (modeling_modernbert.py): LayerNorms without bias (norm_bias false),
 * layer 0's attn_norm is nn.Identity, Wqkv [3h, h], Wo, Wi [2I, h], Wo [h, I] without biases;
 * head.dense/head.norm, decoder tied to the embeddings with its own bias (decoder_bias). */
static void build_modernbert(gen *g)
{
    char pre[VFG_NAME_MAX], m[VFG_NAME_MAX];
    const uint64_t h = cfg_u64(g->cfg, "hidden_size");
    read_text_dims(g, "", 0, true);
    g->f.stack = "encoder";
    emb(g, "model.embeddings", "tok_embeddings", g->f.vocab, h);
    rms(g, "model.embeddings", "norm", h);
    for (unsigned i = 0; i < g->f.layers; i++) {
        pfx(pre, "model.layers.%u", i);
        if (i > 0)
            rms(g, pre, "attn_norm", h);
        rms(g, pre, "mlp_norm", h);
        join(m, pre, "attn");
        lin(g, m, "Wqkv", 3 * h, h, false);
        lin(g, m, "Wo", h, h, false);
        join(m, pre, "mlp");
        lin(g, m, "Wi", 2 * g->d.inter, h, false);
        lin(g, m, "Wo", h, g->d.inter, false);
    }
    rms(g, "model", "final_norm", h);
    lin(g, "head", "dense", h, h, false);
    rms(g, "head", "norm", h);
    put1(g, K_BIAS, g->dt, g->f.vocab, "decoder", "bias");
    pfx(g->f.head, "decoder");
}

/* T5Attention under pre: q/k/v [heads*d_kv, d], o [d, heads*d_kv], no biases; the first block's
 * relative_attention_bias nn.Embedding [buckets, heads]. */
static void t5_attn(gen *g, const char *pre, bool rel)
{
    const char *c = g->cfg;
    const uint64_t d = g->d.h, heads = cfg_u64(c, "num_heads"), inner = heads * cfg_u64(c, "d_kv");
    lin(g, pre, "q", inner, d, false);
    lin(g, pre, "k", inner, d, false);
    lin(g, pre, "v", inner, d, false);
    lin(g, pre, "o", d, inner, false);
    if (rel)
        emb(g, pre, "relative_attention_bias", cfg_u64(c, "relative_attention_num_buckets"), heads);
}

/* T5 v1.1 gated feed-forward (T5DenseGatedActDense) and its layer_norm under pre. */
static void t5_ff(gen *g, const char *pre)
{
    char m[VFG_NAME_MAX];
    const uint64_t d = g->d.h, ff = cfg_u64(g->cfg, "d_ff");
    join(m, pre, "DenseReluDense");
    lin(g, m, "wi_0", ff, d, false);
    lin(g, m, "wi_1", ff, d, false);
    lin(g, m, "wo", d, ff, false);
    rms(g, pre, "layer_norm", d);
}

/* One T5 stack (encoder or decoder) of n blocks. */
static void t5_stack(gen *g, const char *root, unsigned n, bool decoder)
{
    char pre[VFG_NAME_MAX], m[VFG_NAME_MAX];
    for (unsigned i = 0; i < n; i++) {
        t5_attn(g, pfx(m, "%s.block.%u.layer.0.SelfAttention", root, i), i == 0);
        rms(g, pfx(m, "%s.block.%u.layer.0", root, i), "layer_norm", g->d.h);
        if (decoder) {
            t5_attn(g, pfx(m, "%s.block.%u.layer.1.EncDecAttention", root, i), false);
            rms(g, pfx(m, "%s.block.%u.layer.1", root, i), "layer_norm", g->d.h);
        }
        t5_ff(g, pfx(pre, "%s.block.%u.layer.%d", root, i, decoder ? 2 : 1));
    }
    rms(g, root, "final_layer_norm", g->d.h);
}

/* T5ForConditionalGeneration (flan-t5 = T5 v1.1): shared embedding (encoder/decoder
 * embed_tokens are the same tensor, stored once), both stacks, untied lm_head. */
static void build_t5(gen *g)
{
    g->d.h = g->f.hidden = cfg_u64(g->cfg, "d_model");
    g->f.vocab = cfg_u64(g->cfg, "vocab_size");
    g->f.layers = (unsigned)cfg_u64(g->cfg, "num_layers");
    g->f.tied = cfg_bool_or(g->cfg, "tie_word_embeddings", true);
    g->f.stack = "encoder-decoder";
    emb(g, "", "shared", g->f.vocab, g->d.h);
    t5_stack(g, "encoder", g->f.layers, false);
    t5_stack(g, "decoder", (unsigned)cfg_u64(g->cfg, "num_decoder_layers"), true);
    if (!g->f.tied)
        head(g, "", "lm_head");
}

/* ---- published configs (config.json of each Hugging Face repository, trimmed) -------------- */

/* layer_types of the Granite 4.0-H models: attention at layers 5, 15, 25, 35, Mamba2 elsewhere
 * (ibm-granite/granite-4.0-h-tiny and -h-small config.json: 36 mamba + 4 attention). */
#define GRANITE_H_LAYER_TYPES                                                                     \
    J("layer_types": ["mamba", "mamba", "mamba", "mamba", "mamba", "attention", "mamba", "mamba", \
                      "mamba", "mamba", "mamba", "mamba", "mamba", "mamba", "mamba", "attention", \
                      "mamba", "mamba", "mamba", "mamba", "mamba", "mamba", "mamba", "mamba",     \
                      "mamba", "attention", "mamba", "mamba", "mamba", "mamba", "mamba", "mamba", \
                      "mamba", "mamba", "mamba", "attention", "mamba", "mamba", "mamba", "mamba"],)

/* Keys shared by both Granite 4.0-H models. */
#define GRANITE_H_COMMON                                                                          \
    J("architectures": ["GraniteMoeHybridForCausalLM"], "attention_bias": false,                \
      "hidden_act": "silu", "mamba_chunk_size": 256, "mamba_conv_bias": true, "mamba_d_conv": 4,  \
      "mamba_d_head": 64, "mamba_d_state": 128, "mamba_expand": 2, "mamba_n_groups": 1,           \
      "mamba_proj_bias": false, "max_position_embeddings": 131072,                               \
      "model_type": "granitemoehybrid", "num_hidden_layers": 40,                                 \
      "position_embedding_type": "nope", "rms_norm_eps": 1e-05, "tie_word_embeddings": true,     \
      "torch_dtype": "bfloat16", "vocab_size": 100352,)

/* meta-llama/Llama-3.1-8B config.json, the base of the four quantized checkpoints. */
#define LLAMA31_8B                                                                                \
    J({"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,  \
       "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,                         \
       "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": false,          \
       "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,                 \
       "num_key_value_heads": 8, "rms_norm_eps": 1e-05,                                           \
       "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,           \
                        "original_max_position_embeddings": 8192, "rope_type": "llama3"},         \
       "rope_theta": 500000.0, "tie_word_embeddings": false, "vocab_size": 128256,)

struct model26 {
    const char *name;
    const char *source; /* Hugging Face repository whose config.json and checkpoint this mirrors */
    void (*build)(gen *g);
    int dtype;
    qscheme q;
    unsigned shards;
    bool quant_linear; /* the quantized linear class subclasses nn.Linear (PEFT all-linear) */
    bool in_all;       /* written by `vfgen all` (false: benchmark-size, `vfgen model` only) */
    const char *config;
};

static const model26 models26[] = {
    {"granite-4.0-h-small", "ibm-granite/granite-4.0-h-small", build_granite_hybrid, DT_BF16,
     Q_NONE, 14, true, true,
     "{" GRANITE_H_COMMON J("hidden_size": 4096, "intermediate_size": 768, "mamba_n_heads": 128,
                            "num_attention_heads": 32, "num_experts_per_tok": 10,
                            "num_key_value_heads": 8, "num_local_experts": 72,
                            "shared_intermediate_size": 1536,) GRANITE_H_LAYER_TYPES
         J("rope_theta": 10000000})},
    {"granite-4.0-h-tiny", "ibm-granite/granite-4.0-h-tiny", build_granite_hybrid, DT_BF16, Q_NONE,
     3, true, true,
     "{" GRANITE_H_COMMON J("hidden_size": 1536, "intermediate_size": 512, "mamba_n_heads": 48,
                            "num_attention_heads": 12, "num_experts_per_tok": 6,
                            "num_key_value_heads": 4, "num_local_experts": 64,
                            "shared_intermediate_size": 1024,) GRANITE_H_LAYER_TYPES
         J("rope_theta": 10000})},
    {"gpt-oss-20b", "openai/gpt-oss-20b", build_gpt_oss, DT_BF16, Q_NONE, 3, true, true,
     J({"architectures": ["GptOssForCausalLM"], "attention_bias": true, "experts_per_token": 4,
        "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880, "intermediate_size": 2880,
        "max_position_embeddings": 131072, "model_type": "gpt_oss", "num_attention_heads": 64,
        "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 8,
        "num_local_experts": 32,
        "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn",
                                                           "model.layers.*.mlp.router",
                                                           "model.embed_tokens", "lm_head"],
                                "quant_method": "mxfp4"},
        "rms_norm_eps": 1e-05, "rope_theta": 150000, "sliding_window": 128,
        "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 201088})},
    {"deepseek-v3-fp8", "deepseek-ai/DeepSeek-V3", build_deepseek_fp8, DT_BF16, Q_FP8_BLOCK, 163,
     true, false,
     J({"architectures": ["DeepseekV3ForCausalLM"], "first_k_dense_replace": 3,
        "hidden_act": "silu", "hidden_size": 7168, "intermediate_size": 18432,
        "kv_lora_rank": 512, "max_position_embeddings": 163840, "model_type": "deepseek_v3",
        "moe_intermediate_size": 2048, "moe_layer_freq": 1, "n_group": 8,
        "n_routed_experts": 256, "n_shared_experts": 1, "norm_topk_prob": true,
        "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
        "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536,
        "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
        "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
                                "quant_method": "fp8", "weight_block_size": [128, 128]},
        "rms_norm_eps": 1e-06, "rope_theta": 10000, "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid", "tie_word_embeddings": false, "topk_group": 4,
        "topk_method": "noaux_tc", "torch_dtype": "bfloat16", "v_head_dim": 128,
        "vocab_size": 129280})},
    {"llama-4-scout-17b-16e", "meta-llama/Llama-4-Scout-17B-16E-Instruct", build_llama4, DT_BF16,
     Q_NONE, 50, true, true,
     J({"architectures": ["Llama4ForConditionalGeneration"], "boi_token_index": 200080,
        "eoi_token_index": 200081, "image_token_index": 200092, "model_type": "llama4",
        "text_config": {"attention_bias": false, "attention_chunk_size": 8192, "head_dim": 128,
                        "hidden_act": "silu", "hidden_size": 5120,
                        "interleave_moe_layer_step": 1, "intermediate_size": 8192,
                        "intermediate_size_mlp": 16384, "max_position_embeddings": 10485760,
                        "model_type": "llama4_text", "num_attention_heads": 40,
                        "num_experts_per_tok": 1, "num_hidden_layers": 48,
                        "num_key_value_heads": 8, "num_local_experts": 16, "rms_norm_eps": 1e-05,
                        "rope_theta": 500000.0, "tie_word_embeddings": false,
                        "torch_dtype": "bfloat16", "use_qk_norm": true, "vocab_size": 202048},
        "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        "vision_config": {"hidden_act": "gelu", "hidden_size": 1408, "image_size": 336,
                          "intermediate_size": 5632, "model_type": "llama4_vision_model",
                          "multi_modal_projector_bias": false, "norm_eps": 1e-05,
                          "num_attention_heads": 16, "num_channels": 3, "num_hidden_layers": 34,
                          "patch_size": 14, "pixel_shuffle_ratio": 0.5,
                          "projector_input_dim": 4096, "projector_output_dim": 4096,
                          "rope_theta": 10000, "vision_feature_layer": -1,
                          "vision_output_dim": 4096}})},
    {"qwen3-30b-a3b", "Qwen/Qwen3-30B-A3B", build_qwen3_moe, DT_BF16, Q_NONE, 16, true, true,
     J({"architectures": ["Qwen3MoeForCausalLM"], "attention_bias": false,
        "decoder_sparse_step": 1, "head_dim": 128, "hidden_act": "silu", "hidden_size": 2048,
        "intermediate_size": 6144, "max_position_embeddings": 40960, "mlp_only_layers": [],
        "model_type": "qwen3_moe", "moe_intermediate_size": 768, "norm_topk_prob": true,
        "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
        "num_hidden_layers": 48, "num_key_value_heads": 4, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        "vocab_size": 151936})},
    {"qwen3-next-80b-a3b", "Qwen/Qwen3-Next-80B-A3B-Instruct", build_qwen3_next, DT_BF16, Q_NONE,
     41, true, true,
     J({"architectures": ["Qwen3NextForCausalLM"], "attention_bias": false,
        "decoder_sparse_step": 1, "full_attention_interval": 4, "head_dim": 256,
        "hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 5120,
        "linear_conv_kernel_dim": 4, "linear_key_head_dim": 128, "linear_num_key_heads": 16,
        "linear_num_value_heads": 32, "linear_value_head_dim": 128,
        "max_position_embeddings": 262144, "mlp_only_layers": [], "model_type": "qwen3_next",
        "moe_intermediate_size": 512, "norm_topk_prob": true, "num_attention_heads": 16,
        "num_experts": 512, "num_experts_per_tok": 10, "num_hidden_layers": 48,
        "num_key_value_heads": 2, "partial_rotary_factor": 0.25, "rms_norm_eps": 1e-06,
        "rope_theta": 10000000, "shared_expert_intermediate_size": 512,
        "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 151936})},
    {"gemma-3-4b-it", "google/gemma-3-4b-it", build_gemma3, DT_BF16, Q_NONE, 2, true, true,
     J({"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999,
        "eoi_token_index": 256000, "image_token_index": 262144, "mm_tokens_per_image": 256,
        "model_type": "gemma3",
        "text_config": {"head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
                        "hidden_size": 2560, "intermediate_size": 10240,
                        "model_type": "gemma3_text", "num_attention_heads": 8,
                        "num_hidden_layers": 34, "num_key_value_heads": 4,
                        "query_pre_attn_scalar": 256,
                        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                        "sliding_window": 1024},
        "torch_dtype": "bfloat16",
        "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                          "model_type": "siglip_vision_model", "num_attention_heads": 16,
                          "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": false}})},
    {"qwen2.5-vl-7b", "Qwen/Qwen2.5-VL-7B-Instruct", build_qwen25vl, DT_BF16, Q_NONE, 5, true, true,
     J({"architectures": ["Qwen2_5_VLForConditionalGeneration"], "hidden_act": "silu",
        "hidden_size": 3584, "image_token_id": 151655, "intermediate_size": 18944,
        "max_position_embeddings": 128000, "max_window_layers": 28, "model_type": "qwen2_5_vl",
        "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
        "rms_norm_eps": 1e-06, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
        "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": false,
        "torch_dtype": "bfloat16", "use_sliding_window": false, "video_token_id": 151656,
        "vision_config": {"depth": 32, "fullatt_block_indexes": [7, 15, 23, 31],
                          "hidden_act": "silu", "hidden_size": 1280, "in_chans": 3,
                          "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
                          "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                          "temporal_patch_size": 2, "tokens_per_second": 2, "window_size": 112},
        "vocab_size": 152064})},
    {"llama-3.1-8b-gptq-int4", "hugging-quants/Meta-Llama-3.1-8B-Instruct-GPTQ-INT4", build_llama,
     DT_F16, Q_GPTQ, 2, false, true,
     LLAMA31_8B J("quantization_config": {"bits": 4, "group_size": 128, "quant_method": "gptq",
                                          "sym": true},
                  "torch_dtype": "float16"})},
    {"llama-3.1-8b-awq-int4", "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4", build_llama,
     DT_F16, Q_AWQ, 2, false, true,
     LLAMA31_8B J("quantization_config": {"bits": 4, "group_size": 128, "modules_to_not_convert":
                                          null, "quant_method": "awq", "version": "gemm",
                                          "zero_point": true},
                  "torch_dtype": "float16"})},
    {"llama-3.1-8b-bnb-4bit", "unsloth/Meta-Llama-3.1-8B-bnb-4bit", build_llama, DT_BF16, Q_BNB4,
     2, true, true,
     LLAMA31_8B J("quantization_config": {"_load_in_4bit": true, "_load_in_8bit": false,
                                          "bnb_4bit_compute_dtype": "bfloat16",
                                          "bnb_4bit_quant_storage": "uint8",
                                          "bnb_4bit_quant_type": "nf4",
                                          "bnb_4bit_use_double_quant": true,
                                          "llm_int8_enable_fp32_cpu_offload": false,
                                          "llm_int8_has_fp16_weight": false,
                                          "llm_int8_skip_modules": null,
                                          "llm_int8_threshold": 6.0, "load_in_4bit": true,
                                          "load_in_8bit": false,
                                          "quant_method": "bitsandbytes"},
                  "torch_dtype": "bfloat16"})},
    {"llama-3.1-8b-fp8-dynamic", "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic", build_llama,
     DT_BF16, Q_FP8_CHANNEL, 2, true, true,
     LLAMA31_8B J("quantization_config": {"config_groups": {"group_0": {
                      "input_activations": {"dynamic": true, "num_bits": 8, "observer": null,
                                            "strategy": "token", "symmetric": true,
                                            "type": "float"},
                      "targets": ["Linear"],
                      "weights": {"dynamic": false, "num_bits": 8, "observer": "minmax",
                                  "strategy": "channel", "symmetric": true, "type": "float"}}},
                                          "format": "float-quantized", "ignore": ["lm_head"],
                                          "quant_method": "compressed-tensors",
                                          "quantization_status": "compressed"},
                  "torch_dtype": "bfloat16"})},
    {"mamba-130m", "state-spaces/mamba-130m-hf", build_mamba, DT_F32, Q_NONE, 1, true, true,
     J({"architectures": ["MambaForCausalLM"], "conv_kernel": 4, "expand": 2,
        "hidden_act": "silu", "hidden_size": 768, "intermediate_size": 1536,
        "layer_norm_epsilon": 1e-05, "model_type": "mamba", "n_layer": 24,
        "num_hidden_layers": 24, "residual_in_fp32": true, "state_size": 16,
        "time_step_rank": 48, "torch_dtype": "float32", "use_bias": false,
        "use_conv_bias": true, "vocab_size": 50280})},
    {"modernbert-base", "answerdotai/ModernBERT-base", build_modernbert, DT_F32, Q_NONE, 1, true, true,
     J({"architectures": ["ModernBertForMaskedLM"], "attention_bias": false,
        "classifier_bias": false, "decoder_bias": true, "global_attn_every_n_layers": 3,
        "hidden_activation": "gelu", "hidden_size": 768, "intermediate_size": 1152,
        "local_attention": 128, "max_position_embeddings": 8192, "mlp_bias": false,
        "model_type": "modernbert", "norm_bias": false, "norm_eps": 1e-05,
        "num_attention_heads": 12, "num_hidden_layers": 22, "tie_word_embeddings": true,
        "torch_dtype": "float32", "vocab_size": 50368})},
    {"flan-t5-base", "google/flan-t5-base", build_t5, DT_F32, Q_NONE, 1, true, true,
     J({"architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 768,
        "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "eos_token_id": 1,
        "feed_forward_proj": "gated-gelu", "is_encoder_decoder": true, "is_gated_act": true,
        "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
        "num_decoder_layers": 12, "num_heads": 12, "num_layers": 12, "pad_token_id": 0,
        "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
        "tie_word_embeddings": false, "torch_dtype": "float32", "vocab_size": 32128})},
};
#define N_MODELS26 (sizeof models26 / sizeof models26[0])

const model26 *find_model26(const char *name)
{
    for (size_t i = 0; i < N_MODELS26; i++)
        if (strcmp(models26[i].name, name) == 0)
            return &models26[i];
    return NULL;
}

size_t n_models26(void)
{
    return N_MODELS26;
}

const model26 *model26_at(size_t i)
{
    return &models26[i];
}

const char *model26_name(const model26 *m)
{
    return m->name;
}

bool model26_in_all(const model26 *m)
{
    return m->in_all;
}

/* ---- building, totals, writing ------------------------------------------------------------- */

/* Builds m into l (sorted by name) and returns the builder's facts. */
static facts build26(const model26 *m, tlist *l)
{
    gen g = {.l = l, .cfg = m->config, .dt = m->dtype, .comp = C_LM, .q = m->q};
    m->build(&g);
    tl_sort(l);
    return g.f;
}

static bool is_param(const tensor *t)
{
    return t->comp != C_MTP && t->kind != K_QMETA && t->kind != K_BUFFER;
}

static uint64_t logical_of(const tensor *t)
{
    return t->logical ? t->logical : t_numel(t);
}

/* True when t is the weight of an nn.Linear PEFT's all-linear targets in model m. */
static bool is_all_linear(const model26 *m, const facts *f, const tensor *t)
{
    if (t->kind != K_LINEAR || t->comp == C_MTP || (!m->quant_linear && t->dtype != m->dtype))
        return false;
    size_t n = strlen(f->head);
    return !(n && strncmp(t->name, f->head, n) == 0 && t->name[n] == '.');
}

uint64_t model26_logical(const model26 *m)
{
    tlist l = {0};
    build26(m, &l);
    uint64_t n = 0;
    for (size_t i = 0; i < l.n; i++)
        if (is_param(&l.v[i]))
            n += logical_of(&l.v[i]);
    tl_free(&l);
    return n;
}

bool gen_model26(const model26 *m, const char *dir, unsigned shards)
{
    tlist l = {0};
    build26(m, &l);
    unsigned k = shards ? shards : m->shards;
    if (k > l.n) {
        tl_free(&l);
        return false;
    }
    mkdir_p(dir);
    write_checkpoint(dir, "model.safetensors", &l, k, false);
    sbuf b = {0};
    sb_printf(&b, "%s\n", m->config);
    write_text(dir, "config.json", &b);
    free(b.p);
    tl_free(&l);
    return true;
}

/* Totals over one component (or all when comp < 0). */
typedef struct totals26 {
    uint64_t tensors, params, stored, bytes;
} totals26;

static totals26 totals_of(const tlist *l, int comp)
{
    totals26 s = {0, 0, 0, 0};
    for (size_t i = 0; i < l->n; i++) {
        const tensor *t = &l->v[i];
        if (comp >= 0 && t->comp != comp)
            continue;
        s.tensors++;
        s.stored += t_numel(t);
        s.bytes += t_bytes(t);
        if (is_param(t))
            s.params += logical_of(t);
    }
    return s;
}

static uint64_t bytes_of_kind(const tlist *l, int kind)
{
    uint64_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == kind)
            n += t_bytes(&l->v[i]);
    return n;
}

static void print_components(const tlist *l, const facts *f)
{
    const char *sep = "";
    printf("  \"components\": {");
    for (int c = 0; c < C_COUNT; c++) {
        totals26 s = totals_of(l, c);
        if (!s.tensors)
            continue;
        unsigned layers = c == C_LM ? f->layers : c == C_VISION ? f->vision_layers : 0;
        printf("%s\n    \"%s\": {\"tensors\": %" PRIu64 ", \"parameters\": %" PRIu64
               ", \"stored_elements\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"layers\": %u}",
               sep, comp_names[c], s.tensors, s.params, s.stored, s.bytes, layers);
        sep = ",";
    }
    printf("\n  },\n");
}

/* Tensors, stored elements and bytes per module kind. */
static void print_kinds(const tlist *l)
{
    const char *sep = "";
    printf("  \"kinds\": {");
    for (int k = 0; k < K_COUNT; k++) {
        uint64_t n = 0, stored = 0, bytes = 0;
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].kind == k) {
                n++;
                stored += t_numel(&l->v[i]);
                bytes += t_bytes(&l->v[i]);
            }
        if (!n)
            continue;
        printf("%s\n    \"%s\": {\"tensors\": %" PRIu64 ", \"stored_elements\": %" PRIu64
               ", \"bytes\": %" PRIu64 "}",
               sep, kind_names[k], n, stored, bytes);
        sep = ",";
    }
    printf("\n  },\n");
}

/* The linear modules (with whether all-linear takes them) and fused expert parameters of l:
 * name is the module for a linear layer, the stored parameter for fused experts. */
static void print_modules(const model26 *m, const facts *f, const tlist *l)
{
    const char *sep = "";
    printf("  \"modules\": [");
    for (size_t i = 0; i < l->n; i++) {
        const tensor *t = &l->v[i];
        if (t->kind != K_LINEAR && t->kind != K_EXPERTS)
            continue;
        int n = t->kind == K_EXPERTS ? (int)strlen(t->name) : (int)(strrchr(t->name, '.') - t->name);
        printf("%s\n    {\"name\": \"%.*s\", \"kind\": \"%s\", \"component\": \"%s\", "
               "\"in\": %" PRIu64 ", \"out\": %" PRIu64 ", \"all_linear\": %s}",
               sep, n, t->name, kind_names[t->kind], comp_names[t->comp], t->in, t->out,
               is_all_linear(m, f, t) ? "true" : "false");
        sep = ",";
    }
    printf("\n  ],\n");
}

void print_expect26(const model26 *m, bool with_modules)
{
    tlist l = {0};
    facts f = build26(m, &l);
    totals26 all = totals_of(&l, -1);
    uint64_t modules = 0, lora = 0;
    for (size_t i = 0; i < l.n; i++)
        if (is_all_linear(m, &f, &l.v[i])) {
            modules++;
            lora += 32 * (l.v[i].in + l.v[i].out);
        }
    const char *qm = cfg_find(m->config, "quantization_config.quant_method");
    printf("{\n  \"name\": \"%s\",\n  \"source\": \"%s\",\n  \"stack\": \"%s\",\n", m->name,
           m->source, f.stack);
    printf("  \"quant_method\": %.*s,\n", qm ? (int)(json_skip_string(qm) - qm) : 4,
           qm ? qm : "null");
    printf("  \"parameters\": %" PRIu64 ",\n  \"stored_elements\": %" PRIu64
           ",\n  \"bytes\": %" PRIu64 ",\n  \"tensors\": %" PRIu64
           ",\n  \"quant_metadata_bytes\": %" PRIu64 ",\n",
           all.params, all.stored, all.bytes, all.tensors, bytes_of_kind(&l, K_QMETA));
    printf("  \"architecture\": {\"layers\": %u, \"hidden_size\": %" PRIu64
           ", \"vocab_size\": %" PRIu64 ", \"experts\": %u, \"tied\": %s},\n",
           f.layers, f.hidden, f.vocab, f.experts, f.tied ? "true" : "false");
    print_components(&l, &f);
    print_kinds(&l);
    if (with_modules)
        print_modules(m, &f, &l);
    printf("  \"all_linear\": {\"modules\": %" PRIu64 ", \"lora_r32_parameters\": %" PRIu64
           ", \"quantized_linear_is_nn_linear\": %s}\n}\n",
           modules, lora, !qm ? "null" : m->quant_linear ? "true" : "false");
    tl_free(&l);
}
