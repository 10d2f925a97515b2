/* vf_names.c - what a tensor name says: layer, expert, role, buffer. Names are matched on whole
 * '.'-separated components, never on substrings. */
#include <stdlib.h>
#include <string.h>

#include "vramfit/vf_tensors.h"

#define MAX_COMPONENTS 64
#define MAX_INDEX 100000 /* larger numbers are not taken as layer/expert indices */

typedef struct comps {
    const char *p[MAX_COMPONENTS];
    size_t len[MAX_COMPONENTS];
    size_t n;
} comps;

static void split(const char *name, comps *c)
{
    c->n = 0;
    const char *s = name;
    while (c->n < MAX_COMPONENTS) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        c->p[c->n] = s;
        c->len[c->n++] = len;
        if (!dot)
            break;
        s = dot + 1;
    }
}

static bool is(const comps *c, size_t i, const char *word)
{
    return i < c->n && c->len[i] == strlen(word) && memcmp(c->p[i], word, c->len[i]) == 0;
}

static bool is_any(const comps *c, size_t i, const char *const *words)
{
    for (; *words; words++)
        if (is(c, i, *words))
            return true;
    return false;
}

/* Component i as a decimal index, or -1. */
static int32_t number_at(const comps *c, size_t i)
{
    if (i >= c->n || c->len[i] == 0 || c->len[i] > 8)
        return -1;
    int32_t v = 0;
    for (size_t k = 0; k < c->len[i]; k++) {
        char ch = c->p[i][k];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    return v <= MAX_INDEX ? v : -1;
}

static const char *const layer_words[] = {"layers", "h", "blocks", "layer", "block", "decoder_layers", NULL};

int32_t vf_name_layer(const char *name)
{
    comps c;
    split(name, &c);
    for (size_t i = 0; i + 1 < c.n; i++)
        if (is_any(&c, i, layer_words) && number_at(&c, i + 1) >= 0)
            return number_at(&c, i + 1);
    return -1;
}

int32_t vf_name_expert(const char *name)
{
    comps c;
    split(name, &c);
    for (size_t i = 0; i + 1 < c.n; i++)
        if (is(&c, i, "experts") && number_at(&c, i + 1) >= 0)
            return number_at(&c, i + 1);
    return -1;
}

bool vf_name_is_buffer(const char *name)
{
    static const char *const buffer_leaf[] = {"inv_freq", "masked_bias", "position_ids", "_float_tensor",
                                              NULL};
    comps c;
    split(name, &c);
    size_t last = c.n - 1;
    if (is_any(&c, last, buffer_leaf))
        return true;
    /* GPT-2 style causal mask: the module is exactly `attn` (its c_attn.bias is a parameter). */
    return last > 0 && is(&c, last, "bias") && is(&c, last - 1, "attn");
}

typedef struct role_word {
    const char *word;
    vf_role role;
} role_word;

/* Module names (the component before weight/bias) and their roles, for projections that do not
 * depend on context. c_proj depends on whether it sits under attn or mlp; see module_role. */
static const role_word module_roles[] = {
    {"embed_tokens", VF_ROLE_EMBED},        {"wte", VF_ROLE_EMBED},
    {"word_embeddings", VF_ROLE_EMBED},     {"tok_embeddings", VF_ROLE_EMBED},
    {"embed_in", VF_ROLE_EMBED},            {"wpe", VF_ROLE_POS_EMBED},
    {"position_embeddings", VF_ROLE_POS_EMBED}, {"embed_positions", VF_ROLE_POS_EMBED},
    {"lm_head", VF_ROLE_LM_HEAD},           {"embed_out", VF_ROLE_LM_HEAD},
    {"q_proj", VF_ROLE_ATTN_Q},             {"query", VF_ROLE_ATTN_Q},
    {"wq", VF_ROLE_ATTN_Q},                 {"k_proj", VF_ROLE_ATTN_K},
    {"key", VF_ROLE_ATTN_K},                {"wk", VF_ROLE_ATTN_K},
    {"v_proj", VF_ROLE_ATTN_V},             {"value", VF_ROLE_ATTN_V},
    {"wv", VF_ROLE_ATTN_V},                 {"o_proj", VF_ROLE_ATTN_O},
    {"out_proj", VF_ROLE_ATTN_O},           {"wo", VF_ROLE_ATTN_O},
    {"qkv_proj", VF_ROLE_ATTN_QKV},         {"c_attn", VF_ROLE_ATTN_QKV},
    {"query_key_value", VF_ROLE_ATTN_QKV},  {"W_pack", VF_ROLE_ATTN_QKV},
    {"Wqkv", VF_ROLE_ATTN_QKV},             {"q_a_proj", VF_ROLE_ATTN_OTHER},
    {"q_b_proj", VF_ROLE_ATTN_OTHER},       {"kv_a_proj_with_mqa", VF_ROLE_ATTN_OTHER},
    {"kv_b_proj", VF_ROLE_ATTN_OTHER},      {"gate_proj", VF_ROLE_MLP_GATE},
    {"w1", VF_ROLE_MLP_GATE},               {"up_proj", VF_ROLE_MLP_UP},
    {"w3", VF_ROLE_MLP_UP},                 {"c_fc", VF_ROLE_MLP_UP},
    {"fc_in", VF_ROLE_MLP_UP},              {"fc1", VF_ROLE_MLP_UP},
    {"dense_h_to_4h", VF_ROLE_MLP_UP},      {"down_proj", VF_ROLE_MLP_DOWN},
    {"w2", VF_ROLE_MLP_DOWN},               {"fc_out", VF_ROLE_MLP_DOWN},
    {"fc2", VF_ROLE_MLP_DOWN},              {"dense_4h_to_h", VF_ROLE_MLP_DOWN},
    {"gate_up_proj", VF_ROLE_MLP_GATE_UP},  {"router", VF_ROLE_MOE_ROUTER},
    {NULL, VF_ROLE_OTHER},
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

static vf_role module_role(const comps *c, size_t m)
{
    if (is_norm(c, m))
        return VF_ROLE_NORM;
    if (is(c, m, "c_proj"))
        return m > 0 && is(c, m - 1, "mlp") ? VF_ROLE_MLP_DOWN : VF_ROLE_ATTN_O;
    if (is(c, m, "gate") && m > 0 && (is(c, m - 1, "block_sparse_moe") || is(c, m - 1, "mlp")))
        return VF_ROLE_MOE_ROUTER;
    if (is(c, m, "output") && m == 0)
        return VF_ROLE_LM_HEAD;
    for (const role_word *r = module_roles; r->word; r++)
        if (is(c, m, r->word))
            return r->role;
    return VF_ROLE_OTHER;
}

vf_role vf_name_role(const char *name, uint32_t ndim)
{
    if (vf_name_is_buffer(name))
        return VF_ROLE_BUFFER;
    comps c;
    split(name, &c);
    size_t last = c.n - 1;
    if (is(&c, last, "bias") && ndim <= 1)
        return VF_ROLE_BIAS;
    if (is(&c, last, "weight") || is(&c, last, "bias"))
        return last > 0 ? module_role(&c, last - 1) : VF_ROLE_OTHER;
    /* Fused expert tensors are stored without a .weight leaf: mlp.experts.gate_up_proj [E,..]. */
    vf_role r = module_role(&c, last);
    return r == VF_ROLE_NORM && ndim > 1 ? VF_ROLE_OTHER : r;
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
