/* vf_names.c - what a tensor name says: layer, expert, role, buffer. Names are matched on whole
 * '.'-separated components, never on substrings, in one pass over the name (this runs for every
 * tensor of checkpoints with tens of thousands of them). */
#include <string.h>

#include "vramfit/vf_tensors.h"

#define MAX_COMPONENTS 64
#define MAX_INDEX 100000 /* larger numbers are not taken as layer/expert indices */

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

/* Splits at '.' in one scan; names with more than MAX_COMPONENTS components keep the first ones. */
static void split(const char *name, comps *c)
{
    const char *start = name;
    c->n = 0;
    for (const char *s = name;; s++) {
        if (*s != '.' && *s != '\0')
            continue;
        c->p[c->n] = start;
        c->len[c->n++] = (size_t)(s - start);
        if (*s == '\0' || c->n == MAX_COMPONENTS)
            return;
        start = s + 1;
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

/* Component i as a decimal index, or -1. */
static int32_t number_at(const comps *c, size_t i)
{
    if (i >= c->n || c->len[i] == 0 || c->len[i] > 6)
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

static const word layer_words[] = {W("layers"), W("h"), W("blocks"), W("layer"), W("block"),
                                   W("decoder_layers"), {NULL, 0}};

/* Index in the component after the first of `words` that is followed by a number; -1. */
static int32_t index_after(const comps *c, const word *words)
{
    for (size_t i = 0; i + 1 < c->n; i++)
        if (is_any(c, i, words)) {
            int32_t v = number_at(c, i + 1);
            if (v >= 0)
                return v;
        }
    return -1;
}

static bool is_buffer(const comps *c)
{
    static const word leaf[] = {W("inv_freq"), W("masked_bias"), W("position_ids"), W("_float_tensor"),
                                {NULL, 0}};
    size_t last = c->n - 1;
    if (is_any(c, last, leaf))
        return true;
    /* GPT-2 style causal mask: the module is exactly `attn` (its c_attn.bias is a parameter). */
    return last > 0 && is(c, last, "bias") && is(c, last - 1, "attn");
}

typedef struct role_word {
    word w;
    vf_role role;
} role_word;

/* Module names (the component before weight/bias) and their roles, for projections that do not
 * depend on context. c_proj depends on whether it sits under attn or mlp; see module_role. */
static const role_word module_roles[] = {
    {W("embed_tokens"), VF_ROLE_EMBED},        {W("wte"), VF_ROLE_EMBED},
    {W("word_embeddings"), VF_ROLE_EMBED},     {W("tok_embeddings"), VF_ROLE_EMBED},
    {W("embed_in"), VF_ROLE_EMBED},            {W("wpe"), VF_ROLE_POS_EMBED},
    {W("position_embeddings"), VF_ROLE_POS_EMBED}, {W("embed_positions"), VF_ROLE_POS_EMBED},
    {W("lm_head"), VF_ROLE_LM_HEAD},           {W("embed_out"), VF_ROLE_LM_HEAD},
    {W("q_proj"), VF_ROLE_ATTN_Q},             {W("query"), VF_ROLE_ATTN_Q},
    {W("wq"), VF_ROLE_ATTN_Q},                 {W("k_proj"), VF_ROLE_ATTN_K},
    {W("key"), VF_ROLE_ATTN_K},                {W("wk"), VF_ROLE_ATTN_K},
    {W("v_proj"), VF_ROLE_ATTN_V},             {W("value"), VF_ROLE_ATTN_V},
    {W("wv"), VF_ROLE_ATTN_V},                 {W("o_proj"), VF_ROLE_ATTN_O},
    {W("out_proj"), VF_ROLE_ATTN_O},           {W("wo"), VF_ROLE_ATTN_O},
    {W("qkv_proj"), VF_ROLE_ATTN_QKV},         {W("c_attn"), VF_ROLE_ATTN_QKV},
    {W("query_key_value"), VF_ROLE_ATTN_QKV},  {W("W_pack"), VF_ROLE_ATTN_QKV},
    {W("Wqkv"), VF_ROLE_ATTN_QKV},             {W("q_a_proj"), VF_ROLE_ATTN_OTHER},
    {W("q_b_proj"), VF_ROLE_ATTN_OTHER},       {W("kv_a_proj_with_mqa"), VF_ROLE_ATTN_OTHER},
    {W("kv_b_proj"), VF_ROLE_ATTN_OTHER},      {W("gate_proj"), VF_ROLE_MLP_GATE},
    {W("w1"), VF_ROLE_MLP_GATE},               {W("up_proj"), VF_ROLE_MLP_UP},
    {W("w3"), VF_ROLE_MLP_UP},                 {W("c_fc"), VF_ROLE_MLP_UP},
    {W("fc_in"), VF_ROLE_MLP_UP},              {W("fc1"), VF_ROLE_MLP_UP},
    {W("dense_h_to_4h"), VF_ROLE_MLP_UP},      {W("down_proj"), VF_ROLE_MLP_DOWN},
    {W("w2"), VF_ROLE_MLP_DOWN},               {W("fc_out"), VF_ROLE_MLP_DOWN},
    {W("fc2"), VF_ROLE_MLP_DOWN},              {W("dense_4h_to_h"), VF_ROLE_MLP_DOWN},
    {W("gate_up_proj"), VF_ROLE_MLP_GATE_UP},  {W("router"), VF_ROLE_MOE_ROUTER},
    {{NULL, 0}, VF_ROLE_OTHER},
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
    for (const role_word *r = module_roles; r->w.s; r++)
        if (is_w(c, m, r->w))
            return r->role;
    return VF_ROLE_OTHER;
}

static vf_role role_of(const comps *c, uint32_t ndim)
{
    if (is_buffer(c))
        return VF_ROLE_BUFFER;
    size_t last = c->n - 1;
    if (is(c, last, "bias") && ndim <= 1)
        return VF_ROLE_BIAS;
    if (is(c, last, "weight") || is(c, last, "bias"))
        return last > 0 ? module_role(c, last - 1) : VF_ROLE_OTHER;
    /* Fused expert tensors are stored without a .weight leaf: mlp.experts.gate_up_proj [E,..]. */
    vf_role r = module_role(c, last);
    return r == VF_ROLE_NORM && ndim > 1 ? VF_ROLE_OTHER : r;
}

static const word expert_words[] = {W("experts"), {NULL, 0}};

void vf_name_classify(const char *name, uint32_t ndim, vf_name_info *out)
{
    comps c;
    split(name, &c);
    out->layer = index_after(&c, layer_words);
    out->expert = index_after(&c, expert_words);
    out->role = role_of(&c, ndim);
    out->buffer = out->role == VF_ROLE_BUFFER;
    out->in_experts = false;
    for (size_t i = 0; i + 1 < c.n && !out->in_experts; i++)
        out->in_experts = is_w(&c, i, expert_words[0]);
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
    split(name, &c);
    return role_of(&c, ndim);
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
