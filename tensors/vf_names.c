/* vf_names.c - what a tensor name says: layer, expert, role, buffer. Names are matched on whole
 * '.'-separated components, never on substrings, in one pass over the name (this runs for every
 * tensor of checkpoints with tens of thousands of them). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vf_common_internal.h"
#include "vf_names.h"
#include "vf_quant.h"
#include "vramfit/vf_tensors.h"

#define MAX_COMPONENTS 64

typedef struct comps {
    const char *p[MAX_COMPONENTS];
    size_t len[MAX_COMPONENTS];
    size_t n;
} comps;

/* A word with its length, so comparisons start with a length check. */
typedef struct word {
    const char *s;
    size_t len;
} word;
#define W(lit) {lit, sizeof(lit) - 1}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPLIT_WORDS 1
#else
#define SPLIT_WORDS 0
#endif

/* Splits at '.' in one scan, eight bytes at a time within the name's length (little-endian GCC or
 * clang: the lowest byte is the first), the rest byte by byte; names with more than MAX_COMPONENTS
 * components keep the first ones. */
static void split(const char *name, comps *c)
{
    size_t start = 0, i = 0;
    c->n = 0;
#if SPLIT_WORDS
    const uint64_t ones = UINT64_C(0x0101010101010101), low7 = UINT64_C(0x7F7F7F7F7F7F7F7F);
    /* at most 8 dots a word: stop while any number of them fits */
    for (size_t len = strlen(name); i + 8 <= len && c->n + 8 < MAX_COMPONENTS; i += 8) {
        uint64_t w, x;
        memcpy(&w, name + i, 8);
        x = w ^ (ones * '.');
        for (uint64_t dots = ~(((x & low7) + low7) | x | low7); dots; dots &= dots - 1) {
            size_t at = i + (size_t)(__builtin_ctzll(dots) >> 3); /* the high bit of each '.' byte */
            c->p[c->n] = name + start;
            c->len[c->n++] = at - start;
            start = at + 1;
        }
    }
#endif
    for (const char *s = name + i;; s++) {
        if (*s != '.' && *s != '\0')
            continue;
        c->p[c->n] = name + start;
        c->len[c->n++] = (size_t)(s - (name + start));
        if (*s == '\0' || c->n == MAX_COMPONENTS)
            return;
        start = (size_t)(s - name) + 1;
    }
}

/* Short words: a byte loop beats a call to memcmp. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (a[k] != b[k])
            return false;
    return true;
}

static bool is_w(const comps *c, size_t i, word w)
{
    return i < c->n && c->len[i] == w.len && same_bytes(c->p[i], w.s, w.len);
}

static bool is(const comps *c, size_t i, const char *lit)
{
    return is_w(c, i, (word){lit, strlen(lit)});
}

static bool is_any(const comps *c, size_t i, const word *words)
{
    for (; words->s; words++)
        if (is_w(c, i, *words))
            return true;
    return false;
}

/* [s, s + n) as a decimal index (1 to 6 digits, at most VF_NAME_INDEX_MAX), or -1. */
static int32_t index_value(const char *s, size_t n)
{
    if (n == 0 || n > 6)
        return -1;
    int32_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        v = v * 10 + (s[k] - '0');
    }
    return v <= VF_NAME_INDEX_MAX ? v : -1;
}

/* Component i as a decimal index, or -1. */
static int32_t number_at(const comps *c, size_t i)
{
    return i < c->n ? index_value(c->p[i], c->len[i]) : -1;
}

static const word layer_words[] = {W("layers"), W("h"), W("blocks"), W("layer"), W("block"),
                                   W("decoder_layers"), {NULL, 0}};

/* Index in the component after the first of `words` that is followed by a number; -1. (The number
 * is tested first: most components are not numbers.) */
static int32_t index_after(const comps *c, const word *words)
{
    for (size_t i = 0; i + 1 < c->n; i++) {
        int32_t v = number_at(c, i + 1);
        if (v >= 0 && is_any(c, i, words))
            return v;
    }
    return -1;
}

static const word expert_words[] = {W("experts"), {NULL, 0}};

/* The components index_after(c, layer_words) and index_after(c, expert_words) read, in one scan;
 * -1 when none. */
static void layer_and_expert_at(const comps *c, long *layer, long *expert)
{
    *layer = *expert = -1;
    for (size_t i = 0; i + 1 < c->n && (*layer < 0 || *expert < 0); i++) {
        if (number_at(c, i + 1) < 0)
            continue;
        if (*layer < 0 && is_any(c, i, layer_words))
            *layer = (long)i + 1;
        if (*expert < 0 && is_w(c, i, expert_words[0]))
            *expert = (long)i + 1;
    }
}

/* index_after(c, layer_words) and index_after(c, expert_words). */
static void layer_and_expert(const comps *c, int32_t *layer, int32_t *expert)
{
    long l, e;
    layer_and_expert_at(c, &l, &e);
    *layer = l < 0 ? -1 : number_at(c, (size_t)l);
    *expert = e < 0 ? -1 : number_at(c, (size_t)e);
}

static bool is_buffer(const comps *c)
{
    /* e_score_correction_bias: DeepseekV3TopkRouter registers it as a buffer (stored, persistent). */
    static const word leaf[] = {W("inv_freq"), W("masked_bias"), W("position_ids"), W("_float_tensor"),
                                W("e_score_correction_bias"), {NULL, 0}};
    size_t last = c->n - 1;
    if (is_any(c, last, leaf))
        return true;
    /* GPT-2 style causal mask: the module is exactly `attn` (its c_attn.bias is a parameter). */
    return last > 0 && is(c, last, "bias") && is(c, last - 1, "attn");
}

/* ---- the architecture table ---------------------------------------------------------------------
 *
 * One entry per name pattern: the trailing components of the module path (the name without a
 * `weight`/`bias` leaf; a bare nn.Parameter such as `mamba.A_log` is its own module path), innermost
 * word last, and what such a tensor is: role, what holds it in the loaded model (PEFT's view), and
 * for fused 3-D experts how [E, ., .] is laid out. Among the entries for one module word the first
 * match wins, so context-bound entries come before the plain words. Supporting a new layout is an entry here and a
 * test. Sources: transformers' modeling_*.py of each family (cited per block). */

#define MOD_DERIVE (-1) /* module kind from the role and the tensor's shape (see derive_module) */
#define R_AT_START 1u   /* the module word must be the name's first component */

typedef struct name_rule {
    word p[3];          /* innermost first: p[0] is the module word, p[1] its parent, p[2] above */
    vf_role role;
    int module;         /* vf_module_kind or MOD_DERIVE */
    vf_expert_layout experts;
    unsigned layouts;   /* VF_LAYOUT_* that must all be present (0: always) */
    unsigned flags;
} name_rule;

#define P1(a) {W(a), {NULL, 0}, {NULL, 0}}
#define P2(parent, a) {W(a), W(parent), {NULL, 0}}
#define P3(grand, parent, a) {W(a), W(parent), W(grand)}
#define RULE(path, role) {path, VF_ROLE_##role, MOD_DERIVE, VF_EXPERTS_NONE, 0, 0}
#define RULE_M(path, role, mod) {path, VF_ROLE_##role, VF_MODULE_##mod, VF_EXPERTS_NONE, 0, 0}
#define VF_MODULE_DERIVE MOD_DERIVE
#define MAMBA(path, role, mod) {path, VF_ROLE_##role, VF_MODULE_##mod, VF_EXPERTS_NONE, VF_LAYOUT_MAMBA, 0}
#define FUSED(path, role, layout) {path, VF_ROLE_##role, VF_MODULE_PARAMETER, VF_EXPERTS_##layout, 0, 0}

static const name_rule rules[] = {
    /* GPT-2: c_proj is the attention output under attn, the MLP output under mlp. */
    RULE(P2("mlp", "c_proj"), MLP_DOWN),
    RULE(P1("c_proj"), ATTN_O),
    /* Mixtral / Qwen-MoE routers: `gate` directly under the MoE block (nn.Linear in transformers
     * 4.x). DeepSeek-V3's DeepseekV3TopkRouter and gpt-oss's GptOssTopKRouter hold nn.Parameter. */
    {P2("mlp", "gate"), VF_ROLE_MOE_ROUTER, VF_MODULE_PARAMETER, VF_EXPERTS_NONE, VF_LAYOUT_DEEPSEEK, 0},
    RULE(P2("block_sparse_moe", "gate"), MOE_ROUTER),
    RULE(P2("mlp", "gate"), MOE_ROUTER),
    {P2("mlp", "router"), VF_ROLE_MOE_ROUTER, VF_MODULE_PARAMETER, VF_EXPERTS_NONE, VF_LAYOUT_GPT_OSS, 0},
    RULE(P2("mlp", "shared_expert_gate"), MOE_ROUTER), /* Qwen2-MoE / Qwen3-Next: nn.Linear(H, 1) */
    /* GraniteMoe / GraniteMoeHybrid (modeling_granitemoehybrid.py): ParallelExperts hold
     * nn.Parameter [E, out, in]; TopKGating's router is nn.Linear `router.layer`; the shared MLP is
     * nn.Linear input_linear [2I, H] / output_linear [H, I]. */
    FUSED(P2("block_sparse_moe", "input_linear"), MLP_GATE_UP, OUT_IN),
    FUSED(P2("block_sparse_moe", "output_linear"), MLP_DOWN, OUT_IN),
    RULE(P2("router", "layer"), MOE_ROUTER),
    RULE(P2("shared_mlp", "input_linear"), MLP_GATE_UP),
    RULE(P2("shared_mlp", "output_linear"), MLP_DOWN),
    /* Fused experts stored as bare parameters. Llama 4 (modeling_llama4.py Llama4TextExperts) and
     * gpt-oss (GptOssExperts) use the bmm layout gate_up_proj [E, H, 2I], down_proj [E, I, H];
     * transformers' other fused experts store [E, out, in]. */
    FUSED(P3("feed_forward", "experts", "gate_up_proj"), MLP_GATE_UP, IN_OUT),
    FUSED(P3("feed_forward", "experts", "down_proj"), MLP_DOWN, IN_OUT),
    {P2("experts", "gate_up_proj"), VF_ROLE_MLP_GATE_UP, VF_MODULE_PARAMETER, VF_EXPERTS_IN_OUT,
     VF_LAYOUT_GPT_OSS, 0},
    {P2("experts", "down_proj"), VF_ROLE_MLP_DOWN, VF_MODULE_PARAMETER, VF_EXPERTS_IN_OUT,
     VF_LAYOUT_GPT_OSS, 0},
    /* gpt-oss as published: MXFP4 *_blocks [E, out, in/32, 16] (+ *_scales, quantization metadata). */
    FUSED(P2("experts", "gate_up_proj_blocks"), MLP_GATE_UP, OUT_IN),
    FUSED(P2("experts", "down_proj_blocks"), MLP_DOWN, OUT_IN),
    RULE_M(P2("experts", "gate_up_proj_bias"), BIAS, PARAMETER),
    RULE_M(P2("experts", "down_proj_bias"), BIAS, PARAMETER),
    RULE_M(P2("self_attn", "sinks"), ATTN_SINKS, PARAMETER), /* gpt-oss attention sinks [heads] */
    /* Mamba (modeling_mamba.py MambaMixer under `mixer`) and Mamba2 / GraniteMoeHybrid (`mamba`):
     * in_proj, x_proj, dt_proj, out_proj nn.Linear; conv1d nn.Conv1d; A_log, D, dt_bias parameters.
     * `mixer` only with mixer.A_log present: phi-1.5's remote code calls its attention `mixer`. */
    MAMBA(P2("mixer", "in_proj"), MAMBA_IN, DERIVE),          RULE(P2("mamba", "in_proj"), MAMBA_IN),
    MAMBA(P2("mixer", "conv1d"), MAMBA_CONV, CONV), RULE_M(P2("mamba", "conv1d"), MAMBA_CONV, CONV),
    MAMBA(P2("mixer", "x_proj"), MAMBA_X, DERIVE),            MAMBA(P2("mixer", "dt_proj"), MAMBA_DT, DERIVE),
    MAMBA(P2("mixer", "A_log"), MAMBA_SSM, PARAMETER), RULE_M(P2("mamba", "A_log"), MAMBA_SSM, PARAMETER),
    MAMBA(P2("mixer", "D"), MAMBA_SSM, PARAMETER),  RULE_M(P2("mamba", "D"), MAMBA_SSM, PARAMETER),
    MAMBA(P2("mixer", "dt_bias"), MAMBA_SSM, PARAMETER),
    RULE_M(P2("mamba", "dt_bias"), MAMBA_SSM, PARAMETER),
    MAMBA(P2("mixer", "out_proj"), MAMBA_OUT, DERIVE),        RULE(P2("mamba", "out_proj"), MAMBA_OUT),
    RULE(P2("backbone", "embeddings"), EMBED),
    /* Qwen3-Next / Qwen3.5 gated delta-net (modeling_qwen3_next.py Qwen3NextGatedDeltaNet). */
    RULE(P2("linear_attn", "in_proj_qkvz"), LINEAR_ATTN_IN), RULE(P2("linear_attn", "in_proj_ba"), LINEAR_ATTN_IN),
    RULE(P2("linear_attn", "in_proj_qkv"), LINEAR_ATTN_IN),  RULE(P2("linear_attn", "in_proj_z"), LINEAR_ATTN_IN),
    RULE(P2("linear_attn", "in_proj_a"), LINEAR_ATTN_IN),    RULE(P2("linear_attn", "in_proj_b"), LINEAR_ATTN_IN),
    RULE_M(P2("linear_attn", "conv1d"), LINEAR_ATTN_CONV, CONV),
    RULE_M(P2("linear_attn", "A_log"), LINEAR_ATTN_SSM, PARAMETER),
    RULE_M(P2("linear_attn", "dt_bias"), LINEAR_ATTN_SSM, PARAMETER),
    RULE(P2("linear_attn", "out_proj"), LINEAR_ATTN_OUT),
    /* Multi-token prediction: DeepSeek-V3's eh_proj, Qwen3-Next's mtp.fc. */
    RULE(P1("eh_proj"), MTP_PROJ), RULE(P2("mtp", "fc"), MTP_PROJ),
    /* T5 (modeling_t5.py): `shared` embedding, q/k/v/o under SelfAttention / EncDecAttention, wi/wo
     * under DenseReluDense, the relative position bias an nn.Embedding. */
    {P1("shared"), VF_ROLE_EMBED, MOD_DERIVE, VF_EXPERTS_NONE, 0, R_AT_START},
    RULE(P2("SelfAttention", "q"), ATTN_Q),   RULE(P2("SelfAttention", "k"), ATTN_K),
    RULE(P2("SelfAttention", "v"), ATTN_V),   RULE(P2("SelfAttention", "o"), ATTN_O),
    RULE(P2("EncDecAttention", "q"), ATTN_Q), RULE(P2("EncDecAttention", "k"), ATTN_K),
    RULE(P2("EncDecAttention", "v"), ATTN_V), RULE(P2("EncDecAttention", "o"), ATTN_O),
    RULE(P2("DenseReluDense", "wi"), MLP_UP), RULE(P2("DenseReluDense", "wi_0"), MLP_GATE),
    RULE(P2("DenseReluDense", "wi_1"), MLP_UP), RULE(P2("DenseReluDense", "wo"), MLP_DOWN),
    RULE(P1("relative_attention_bias"), POS_EMBED),
    /* Vision towers: patch embeddings are convolutions (SigLIP Conv2d, Qwen2.5-VL Conv3d). */
    RULE_M(P1("patch_embedding"), CONV, CONV), RULE_M(P2("patch_embed", "proj"), CONV, CONV),
    RULE_M(P1("mm_input_projection_weight"), PROJECTOR, PARAMETER), /* Gemma 3 projector */
    {P1("output"), VF_ROLE_LM_HEAD, MOD_DERIVE, VF_EXPERTS_NONE, 0, R_AT_START},
    /* Plain module words. */
    RULE(P1("embed_tokens"), EMBED),        RULE(P1("wte"), EMBED),
    RULE(P1("word_embeddings"), EMBED),     RULE(P1("tok_embeddings"), EMBED),
    RULE(P1("embed_in"), EMBED),            RULE(P1("wpe"), POS_EMBED),
    RULE(P1("position_embeddings"), POS_EMBED), RULE(P1("embed_positions"), POS_EMBED),
    RULE(P1("position_embedding"), POS_EMBED),
    RULE(P1("lm_head"), LM_HEAD),           RULE(P1("embed_out"), LM_HEAD),
    RULE(P1("q_proj"), ATTN_Q),             RULE(P1("query"), ATTN_Q),
    RULE(P1("wq"), ATTN_Q),                 RULE(P1("k_proj"), ATTN_K),
    RULE(P1("key"), ATTN_K),                RULE(P1("wk"), ATTN_K),
    RULE(P1("v_proj"), ATTN_V),             RULE(P1("value"), ATTN_V),
    RULE(P1("wv"), ATTN_V),                 RULE(P1("o_proj"), ATTN_O),
    RULE(P1("out_proj"), ATTN_O),           RULE(P1("wo"), ATTN_O),
    RULE(P1("qkv_proj"), ATTN_QKV),         RULE(P1("c_attn"), ATTN_QKV),
    RULE(P1("query_key_value"), ATTN_QKV),  RULE(P1("W_pack"), ATTN_QKV),
    RULE(P1("Wqkv"), ATTN_QKV),             RULE(P1("q_a_proj"), ATTN_OTHER),
    RULE(P1("q_b_proj"), ATTN_OTHER),       RULE(P1("kv_a_proj_with_mqa"), ATTN_OTHER),
    RULE(P1("kv_b_proj"), ATTN_OTHER),      RULE(P1("gate_proj"), MLP_GATE),
    RULE(P1("w1"), MLP_GATE),               RULE(P1("up_proj"), MLP_UP),
    RULE(P1("w3"), MLP_UP),                 RULE(P1("c_fc"), MLP_UP),
    RULE(P1("fc_in"), MLP_UP),              RULE(P1("fc1"), MLP_UP),
    RULE(P1("dense_h_to_4h"), MLP_UP),      RULE(P1("down_proj"), MLP_DOWN),
    RULE(P1("w2"), MLP_DOWN),               RULE(P1("fc_out"), MLP_DOWN),
    RULE(P1("fc2"), MLP_DOWN),              RULE(P1("dense_4h_to_h"), MLP_DOWN),
    RULE(P1("gate_up_proj"), MLP_GATE_UP),  RULE(P1("router"), MOE_ROUTER),
};

/* Components that mark a shared expert (DeepSeek shared_experts, Qwen/Llama 4 shared_expert,
 * Granite shared_mlp). */
static const word shared_words[] = {W("shared_experts"), W("shared_expert"), W("shared_mlp"), {NULL, 0}};

/* Leading components that name a sub-model, longest first; everything else is the language model
 * (model.language_model, language_model.model, model, transformer, backbone, ...). */
typedef struct comp_rule {
    word p[3];
    vf_component component;
} comp_rule;

#define LEAD1(a) {W(a), {NULL, 0}, {NULL, 0}}
#define LEAD2(a, b) {W(a), W(b), {NULL, 0}}
#define LEAD3(a, b, c) {W(a), W(b), W(c)}

static const comp_rule comp_rules[] = {
    {LEAD3("model", "visual", "merger"), VF_COMPONENT_PROJECTOR}, /* Qwen2.5-VL patch merger */
    {LEAD2("visual", "merger"), VF_COMPONENT_PROJECTOR},
    {LEAD2("model", "visual"), VF_COMPONENT_VISION},
    {LEAD1("visual"), VF_COMPONENT_VISION},
    {LEAD2("model", "vision_tower"), VF_COMPONENT_VISION},
    {LEAD1("vision_tower"), VF_COMPONENT_VISION},
    {LEAD2("model", "vision_model"), VF_COMPONENT_VISION},
    {LEAD1("vision_model"), VF_COMPONENT_VISION},
    {LEAD2("model", "multi_modal_projector"), VF_COMPONENT_PROJECTOR},
    {LEAD1("multi_modal_projector"), VF_COMPONENT_PROJECTOR},
    {LEAD2("model", "audio_tower"), VF_COMPONENT_AUDIO},
    {LEAD1("audio_tower"), VF_COMPONENT_AUDIO},
    {LEAD2("model", "mtp"), VF_COMPONENT_MTP},
    {LEAD1("mtp"), VF_COMPONENT_MTP},
};

/* Layout markers: a module path ending in these words switches the layout on for the checkpoint. */
typedef struct layout_marker {
    word p[2]; /* innermost first */
    unsigned layout;
} layout_marker;

static const layout_marker layout_markers[] = {
    {{W("sinks"), W("self_attn")}, VF_LAYOUT_GPT_OSS},
    {{W("e_score_correction_bias"), W("gate")}, VF_LAYOUT_DEEPSEEK},
    {{W("shared_experts"), {NULL, 0}}, VF_LAYOUT_DEEPSEEK},
    {{W("A_log"), W("mixer")}, VF_LAYOUT_MAMBA},
};

/* Names that say what kind of model holds them, matched at any depth. */
static const layout_marker kind_markers[] = {
    {{W("word_embeddings"), W("embeddings")}, VF_HINT_ENCODER},
    {{W("tok_embeddings"), W("embeddings")}, VF_HINT_ENCODER},
    {{W("EncDecAttention"), {NULL, 0}}, VF_HINT_CROSS},
    {{W("encoder_attn"), {NULL, 0}}, VF_HINT_CROSS},
};

static bool is_norm(const comps *c, size_t i)
{
    if (i >= c->n)
        return false;
    if (c->len[i] >= 3 && memcmp(c->p[i], "ln_", 3) == 0)
        return true;
    for (size_t k = 0; k + 4 <= c->len[i]; k++)
        if (memcmp(c->p[i] + k, "norm", 4) == 0)
            return true;
    return false;
}

/* True when component m could be word w: same length and first byte (the cheap test that rules
 * out nearly every table entry before path_at runs). */
static inline bool maybe_w(const comps *c, size_t m, word w)
{
    return c->len[m] == w.len && c->p[m][0] == w.s[0];
}

/* True when the words of p (innermost first) end at component m. */
static bool path_at(const comps *c, size_t m, const word *p, size_t words)
{
    for (size_t k = 0; k < words && p[k].s; k++)
        if (k > m || !is_w(c, m - k, p[k]))
            return false;
    return true;
}

/* The rules by the length of their module word, in table order within a length (so first match
 * still wins): built once, read by every classifying thread. */
#define RULE_COUNT (sizeof rules / sizeof rules[0])
#define RULE_LEN_MAX 32 /* longer module words share the last bucket */

static struct {
    uint16_t start[RULE_LEN_MAX + 2]; /* bucket L is order[start[L] .. start[L+1]) */
    uint16_t order[RULE_COUNT];
} by_len;
static pthread_once_t by_len_once = PTHREAD_ONCE_INIT;

static size_t len_bucket(size_t len)
{
    return len < RULE_LEN_MAX ? len : RULE_LEN_MAX;
}

static void build_by_len(void)
{
    size_t counts[RULE_LEN_MAX + 1] = {0}, o = 0;
    for (size_t i = 0; i < RULE_COUNT; i++)
        counts[len_bucket(rules[i].p[0].len)]++;
    for (size_t L = 0; L <= RULE_LEN_MAX; L++) {
        by_len.start[L] = (uint16_t)o;
        o += counts[L];
    }
    by_len.start[RULE_LEN_MAX + 1] = (uint16_t)o;
    size_t fill[RULE_LEN_MAX + 1] = {0};
    for (size_t i = 0; i < RULE_COUNT; i++) {
        size_t L = len_bucket(rules[i].p[0].len);
        by_len.order[by_len.start[L] + fill[L]++] = (uint16_t)i;
    }
}

/* The first rule matching the module word at component m in a checkpoint with `layouts`, or NULL.
 * *sensitive is set when a rule matching the name was passed over only because its layouts are
 * absent: the answer could change with other layouts. */
static const name_rule *rule_at(const comps *c, size_t m, unsigned layouts, bool *sensitive)
{
    pthread_once(&by_len_once, build_by_len);
    size_t L = len_bucket(c->len[m]);
    for (size_t k = by_len.start[L]; k < by_len.start[L + 1]; k++) {
        const name_rule *r = &rules[by_len.order[k]];
        if (!maybe_w(c, m, r->p[0]) || ((r->flags & R_AT_START) && m != 0) || !path_at(c, m, r->p, 3))
            continue;
        if ((r->layouts & layouts) == r->layouts)
            return r;
        *sensitive = true;
    }
    return NULL;
}

/* Role and rule of the module word at m (norms first: any component containing "norm" or starting
 * "ln_" is one). */
static vf_role module_role(const comps *c, size_t m, unsigned layouts, const name_rule **rule,
                           bool *sensitive)
{
    *rule = NULL;
    if (is_norm(c, m))
        return VF_ROLE_NORM;
    *rule = rule_at(c, m, layouts, sensitive);
    return *rule ? (*rule)->role : VF_ROLE_OTHER;
}

static vf_role role_of(const comps *c, uint32_t ndim, unsigned layouts, const name_rule **rule,
                       bool *sensitive)
{
    *rule = NULL;
    if (is_buffer(c))
        return VF_ROLE_BUFFER;
    size_t last = c->n - 1;
    if (is(c, last, "bias") && ndim <= 1)
        return VF_ROLE_BIAS;
    if (is(c, last, "weight") || is(c, last, "bias"))
        return last > 0 ? module_role(c, last - 1, layouts, rule, sensitive) : VF_ROLE_OTHER;
    /* Bare parameters (fused experts mlp.experts.gate_up_proj [E,..], A_log, sinks): no leaf. */
    vf_role r = module_role(c, last, layouts, rule, sensitive);
    return r == VF_ROLE_NORM && ndim > 1 ? VF_ROLE_OTHER : r;
}

/* What holds a tensor with no rule of its own: embeddings are nn.Embedding, norms/biases/buffers
 * no module PEFT targets, a 2-D `weight` an nn.Linear, a bare parameter an nn.Parameter, a weight of
 * 3+ dimensions a convolution. */
static vf_module_kind derive_module(const comps *c, vf_role role, uint32_t ndim)
{
    if (role == VF_ROLE_EMBED || role == VF_ROLE_POS_EMBED)
        return VF_MODULE_EMBEDDING;
    if (role == VF_ROLE_NORM || role == VF_ROLE_BIAS || role == VF_ROLE_BUFFER)
        return VF_MODULE_NONE;
    if (!is(c, c->n - 1, "weight"))
        return VF_MODULE_PARAMETER;
    return ndim == 2 ? VF_MODULE_LINEAR : ndim > 2 ? VF_MODULE_CONV : VF_MODULE_NONE;
}

static vf_component component_of(const comps *c)
{
    for (size_t i = 0; i < sizeof comp_rules / sizeof comp_rules[0]; i++) {
        const word *p = comp_rules[i].p;
        size_t k = 0;
        while (k < 3 && p[k].s && is_w(c, k, p[k]))
            k++;
        if (k == 3 || !p[k].s)
            return comp_rules[i].component;
    }
    return VF_COMPONENT_LANGUAGE_MODEL;
}

static unsigned layout_marks(const comps *c)
{
    unsigned layouts = 0;
    size_t m = c->n - 1;
    for (size_t i = 0; i < sizeof layout_markers / sizeof layout_markers[0]; i++)
        for (size_t d = 0; d < 3 && d <= m; d++) /* the leaf and the two components above it */
            if (maybe_w(c, m - d, layout_markers[i].p[0]) && path_at(c, m - d, layout_markers[i].p, 2))
                layouts |= layout_markers[i].layout;
    return layouts;
}

unsigned vf_name_layout(const char *name)
{
    comps c;
    split(name, &c);
    return layout_marks(&c);
}

/* Everything vf_name_classify_in says but the layer and expert indices: a function of the
 * components that are not all digits, their positions, ndim and layouts (no rule, marker or word
 * is all digits, and only index_after reads numbers), which is what the memo below relies on. */
static void classify_split(const comps *c, uint32_t ndim, unsigned layouts, vf_name_info *out)
{
    const name_rule *rule;
    out->layout_sensitive = false;
    out->role = role_of(c, ndim, layouts, &rule, &out->layout_sensitive);
    out->buffer = out->role == VF_ROLE_BUFFER;
    out->in_experts = false;
    out->shared_expert = false;
    for (size_t i = 0; i + 1 < c->n; i++) {
        out->in_experts |= is_w(c, i, expert_words[0]);
        out->shared_expert |= is_any(c, i, shared_words);
    }
    out->component = component_of(c);
    if (out->component == VF_COMPONENT_PROJECTOR && out->role == VF_ROLE_OTHER)
        out->role = VF_ROLE_PROJECTOR;
    out->module = rule && rule->module != MOD_DERIVE ? (vf_module_kind)rule->module
                                                     : derive_module(c, out->role, ndim);
    out->experts_layout = rule && ndim >= 3 ? rule->experts : VF_EXPERTS_NONE;
    out->layout_marks = layout_marks(c);
    out->kind_hints = 0;
    /* The markers name embeddings and the attention holding q/k/v/o: other tensors skip the scan. */
    bool hinting = out->role == VF_ROLE_EMBED || (out->role >= VF_ROLE_ATTN_Q && out->role <= VF_ROLE_ATTN_O);
    for (size_t i = 0; hinting && i < sizeof kind_markers / sizeof kind_markers[0]; i++)
        for (size_t k = 0; k < c->n; k++)
            if (maybe_w(c, k, kind_markers[i].p[0]) && path_at(c, k, kind_markers[i].p, 2))
                out->kind_hints |= kind_markers[i].layout;
}

void vf_name_classify_in(const char *name, uint32_t ndim, unsigned layouts, vf_name_info *out)
{
    comps c;
    split(name, &c);
    layer_and_expert(&c, &out->layer, &out->expert);
    classify_split(&c, ndim, layouts, out);
}

/* ---- the memo ----------------------------------------------------------------------------------
 *
 * A name's shape is the name with every index component (what number_at reads as a number: 1 to 6
 * digits, at most VF_NAME_INDEX_MAX) replaced by one '\0' byte, which no name holds. Whether a component
 * is an index, and every non-index component, are in the shape, so classify_split's answer is a
 * function of it (no rule, marker or word is all digits), and so is which index components
 * layer_and_expert takes: the memo keeps their ordinals among the shape's indices, and a hit reads
 * only their values from the name. */

typedef vf_name_shape shape;

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* The first position from i on (below len) holding a '.', or len: eight bytes at a time (a zero
 * byte after xor with '.'; borrows reach only bytes above a zero, so the lowest flagged byte is the
 * first '.'), the rest one by one. */
static size_t next_dot(const char *name, size_t i, size_t len)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, name + i, 8);
        w ^= ones * '.';
        uint64_t m = (w - ones) & ~w & high;
        if (m && SPLIT_WORDS) /* little-endian GCC or clang: the lowest byte is the first */
            return i + ((size_t)__builtin_ctzll(m) >> 3);
        if (m)
            break;
    }
    while (i < len && name[i] != '.')
        i++;
    return i;
}

/* dst[0..n) = src[0..n), eight bytes at a time while src has them (src[0..avail) is readable), so
 * up to 7 bytes past dst + n may be written. (A memcpy of unknown size into the small key becomes
 * a slow `rep movs` under GCC -O3.) */
static void copy_run(char *dst, const char *src, size_t n, size_t avail)
{
    size_t k = 0;
    for (; k < n && k + 8 <= avail; k += 8)
        memcpy(dst + k, src + k, 8);
    for (; k < n; k++)
        dst[k] = src[k];
}

#define FNV_BASIS UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

/* FNV-1a's step on 64-bit words over key[w * 8 .. len), the last word zero-padded (key has 8 bytes
 * of room past len), from the state after w words; the state after each word is kept for the next
 * name. Returns the state after the last word. */
static uint64_t hash_from(shape *sh, size_t w)
{
    memset(sh->key + sh->len, 0, 8);
    uint64_t h = sh->hash_at[w];
    for (size_t i = w * 8; i < sh->len; i += 8, w++) {
        uint64_t x;
        memcpy(&x, sh->key + i, 8);
        h = (h ^ x) * FNV_PRIME;
        sh->hash_at[w + 1] = h;
    }
    return h;
}

/* The memo's key hash: the state over the shape's words, then its length, ndim and layouts. */
static uint64_t key_hash(uint64_t words, size_t len, uint32_t ndim, unsigned layouts)
{
    uint64_t h = (words ^ ((uint64_t)len << 40 | (uint64_t)ndim << 8 | layouts)) * FNV_PRIME;
    return h ^ (h >> 29);
}

/* Reads name[.. len) into the shape from its mark `from_mark` on, component by component: an index
 * component (what number_at reads as a number) becomes one '\0', any other is copied, the '.'
 * between them kept; marks where each component starts. False when the shape does not fit (more
 * than VF_NAME_MEMO_INDICES indices, VF_NAME_MEMO_COMPONENTS components or more). */
static bool read_components(shape *sh, const char *name, size_t len, size_t from_mark)
{
    const struct vf_name_mark *m = &sh->mark[from_mark];
    size_t i = m->name_at, o = m->key_at;
    sh->indices = m->indices;
    sh->marks = from_mark + 1;
    for (;;) {
        size_t k = next_dot(name, i, len);
        int32_t v = i < k && is_digit(name[i]) ? index_value(name + i, k - i) : -1;
        if (v >= 0 && sh->indices == VF_NAME_MEMO_INDICES)
            return false;
        if (v >= 0) {
            sh->index[sh->indices++] = v;
            sh->key[o++] = '\0';
        } else {
            copy_run(sh->key + o, name + i, k - i, len - i);
            o += k - i;
        }
        if (k == len)
            break;
        sh->key[o++] = '.';
        i = k + 1;
        if (sh->marks == VF_NAME_MEMO_COMPONENTS - 1) /* as split() reads them: fewer than MAX_COMPONENTS */
            return false;
        sh->mark[sh->marks++] = (struct vf_name_mark){(uint16_t)i, (uint16_t)o, (uint16_t)sh->indices};
    }
    sh->len = o;
    return true;
}

/* The name's shape, into sh (the memo's last shape), read from the last component start it shares
 * with the last name read; *words is the hash state over the shape's words. False when it does not
 * fit (as long as the key or longer, or read_components' limits): then no memo, and the next name
 * is read whole. */
static bool shape_of(shape *sh, const char *name, uint64_t *words)
{
    size_t len = strlen(name), from = 0;
    if (len >= VF_NAME_MEMO_KEY_MAX) {
        sh->marks = 0;
        return false;
    }
    if (sh->marks) { /* the bytes before a shared component start read the same */
        size_t same = vf_common_prefix(sh->name, name, len < sh->name_len ? len : sh->name_len);
        from = sh->marks - 1;
        while (from > 0 && sh->mark[from].name_at > same)
            from--;
    } else {
        sh->mark[0] = (struct vf_name_mark){0, 0, 0};
        sh->hash_at[0] = FNV_BASIS;
    }
    size_t key_from = sh->mark[from].key_at, name_from = sh->mark[from].name_at;
    if (!read_components(sh, name, len, from)) {
        sh->marks = 0;
        return false;
    }
    copy_run(sh->name + name_from, name + name_from, len - name_from, len - name_from); /* the rest is the same */
    sh->name_len = len;
    *words = hash_from(sh, key_from / 8);
    return true;
}

/* The ordinal among the index components of the one at component `at`, or -1 when at is -1. */
static int8_t index_ordinal(const comps *c, long at)
{
    int8_t k = 0;
    if (at < 0)
        return -1;
    for (long i = 0; i < at; i++)
        k += number_at(c, (size_t)i) >= 0;
    return k;
}

#define MEMO_PROBES 8 /* slots tried per lookup: past them a name is classified without the memo */

void vf_name_memo_init(vf_name_memo *m)
{
    memset(m->slot, 0, sizeof m->slot);
    m->keys_used = 0;
    m->last.marks = 0;
}

/* The memo's slot for the shape, or NULL; *free_slot is where a miss may be recorded (or NULL). */
static const vf_name_memo_slot *memo_find(vf_name_memo *memo, const shape *sh, uint64_t h, uint32_t ndim,
                                          unsigned layouts, vf_name_memo_slot **free_slot)
{
    *free_slot = NULL;
    for (size_t k = 0; k < MEMO_PROBES; k++) {
        vf_name_memo_slot *s = &memo->slot[(h + k) % VF_NAME_MEMO_SLOTS];
        if (!s->used) {
            *free_slot = s;
            return NULL;
        }
        if (s->hash == h && s->key_len == sh->len && s->ndim == ndim && s->layouts == layouts &&
            memcmp(memo->keys + s->key_at, sh->key, sh->len) == 0)
            return s;
    }
    return NULL;
}

/* Classifies a name the memo does not have, recording it in free_slot when there is room. */
static void memo_miss(vf_name_memo *memo, vf_name_memo_slot *free_slot, const shape *sh, uint64_t h,
                      const char *name, uint32_t ndim, unsigned layouts, vf_name_info *out)
{
    comps c;
    long layer, expert;
    split(name, &c);
    layer_and_expert(&c, &out->layer, &out->expert);
    classify_split(&c, ndim, layouts, out);
    if (!free_slot || sh->len > sizeof memo->keys - memo->keys_used)
        return;
    layer_and_expert_at(&c, &layer, &expert);
    memcpy(memo->keys + memo->keys_used, sh->key, sh->len);
    *free_slot = (vf_name_memo_slot){.used = true, .hash = h, .key_at = (uint32_t)memo->keys_used,
                                     .key_len = (uint32_t)sh->len, .ndim = ndim, .layouts = layouts,
                                     .layer_index = index_ordinal(&c, layer),
                                     .expert_index = index_ordinal(&c, expert),
                                     .family = (uint8_t)vf_quant_family(name, sh->name_len), .info = *out};
    memo->keys_used += sh->len;
}

unsigned vf_name_classify_memo(vf_name_memo *memo, const char *name, uint32_t ndim, unsigned layouts,
                               vf_name_info *out)
{
    uint64_t words;
    if (!memo || !shape_of(&memo->last, name, &words)) {
        vf_name_classify_in(name, ndim, layouts, out);
        return vf_quant_family(name, strlen(name));
    }
    const shape *sh = &memo->last;
    uint64_t h = key_hash(words, sh->len, ndim, layouts);
    vf_name_memo_slot *free_slot;
    const vf_name_memo_slot *s = memo_find(memo, sh, h, ndim, layouts, &free_slot);
    if (!s) {
        memo_miss(memo, free_slot, sh, h, name, ndim, layouts, out);
        return vf_quant_family(name, sh->name_len);
    }
    *out = s->info;
    out->layer = s->layer_index >= 0 ? sh->index[s->layer_index] : -1;
    out->expert = s->expert_index >= 0 ? sh->index[s->expert_index] : -1;
    return s->family;
}

void vf_name_classify(const char *name, uint32_t ndim, vf_name_info *out)
{
    vf_name_classify_in(name, ndim, 0, out);
}

int32_t vf_name_layer(const char *name)
{
    comps c;
    split(name, &c);
    return index_after(&c, layer_words);
}

int32_t vf_name_expert(const char *name)
{
    comps c;
    split(name, &c);
    return index_after(&c, expert_words);
}

bool vf_name_is_buffer(const char *name)
{
    comps c;
    split(name, &c);
    return is_buffer(&c);
}

vf_role vf_name_role(const char *name, uint32_t ndim)
{
    comps c;
    const name_rule *rule;
    bool sensitive = false;
    split(name, &c);
    return role_of(&c, ndim, 0, &rule, &sensitive);
}

const char *vf_role_name(vf_role role)
{
    static const char *const names[] = {
#define VF_X_ROLE_NAME(suffix, str) str,
        VF_ROLE_LIST(VF_X_ROLE_NAME)
#undef VF_X_ROLE_NAME
    };
    return (unsigned)role < VF_ROLE_COUNT ? names[role] : "?";
}

#define NAME_OF(list, x, what)                                                                      \
    do {                                                                                            \
        static const char *const names[] = {list(x)};                                               \
        return (unsigned)(what) < sizeof names / sizeof names[0] ? names[what] : "?";               \
    } while (0)
#define VF_X_STR(suffix, str) str,

const char *vf_component_name(vf_component c)
{
    NAME_OF(VF_COMPONENT_LIST, VF_X_STR, c);
}

const char *vf_module_kind_name(vf_module_kind k)
{
    NAME_OF(VF_MODULE_LIST, VF_X_STR, k);
}

const char *vf_model_kind_name(vf_model_kind k)
{
    static const char *const names[] = {"decoder", "encoder", "encoder-decoder"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *vf_layer_kind_format(uint32_t kind, char *buf, size_t size)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } bits[] = {{VF_LAYER_ATTENTION, "attention"}, {VF_LAYER_MAMBA, "mamba"},
                {VF_LAYER_LINEAR_ATTENTION, "linear_attention"}, {VF_LAYER_MOE, "moe"}};
    size_t o = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if ((kind & bits[i].bit) && o < size) {
            int n = snprintf(buf + o, size - o, "%s%s", o ? "+" : "", bits[i].name);
            o += n > 0 ? (size_t)n : 0;
        }
    if (!buf[0])
        snprintf(buf, size, "-");
    return buf;
}
