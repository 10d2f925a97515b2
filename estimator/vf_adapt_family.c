/* vf_adapt_family.c - Training Hub's target-module families, detected from tensor names.
 *
 * Upstream picks a family by searching the model *path* for substrings (so /opt/models/granite gets
 * OPT's patterns); vramfit looks at the tensor names in the headers instead and records the names
 * that decided, so the choice can be explained. Patterns: shared/reference/target-families.md. */
#include <stdio.h>
#include <string.h>

#include "vramfit/vf_adapters.h"

static const char *const llama_patterns[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                             "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                             "mlp.down_proj",    NULL};
static const char *const phi3_patterns[] = {"self_attn.o_proj", "self_attn.qkv_proj", "mlp.gate_up_proj",
                                            "mlp.down_proj", NULL};
static const char *const gpt2_patterns[] = {"attn.c_proj", "attn.c_attn", "mlp.c_fc", "mlp.c_proj", NULL};
static const char *const gptj_patterns[] = {"attn.q_proj",   "attn.k_proj", "attn.v_proj",
                                            "attn.out_proj", "mlp.fc_in",   "mlp.fc_out", NULL};
static const char *const gptneo_patterns[] = {"attn.attention.q_proj",   "attn.attention.k_proj",
                                              "attn.attention.v_proj",   "attn.attention.out_proj",
                                              "mlp.c_fc",                "mlp.c_proj", NULL};
static const char *const opt_patterns[] = {"self_attn.q_proj",   "self_attn.k_proj", "self_attn.v_proj",
                                           "self_attn.out_proj", "fc1",              "fc2", NULL};
static const char *const gptoss_patterns[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                              "self_attn.o_proj", NULL};
static const char *const qwen35_patterns[] = {"self_attn.q_proj", "self_attn.k_proj",    "self_attn.v_proj",
                                              "self_attn.o_proj", "mlp.gate_proj",       "mlp.up_proj",
                                              "mlp.down_proj",    "linear_attn.out_proj", NULL};

typedef struct family_def {
    const char *name;
    const char *const *patterns;
} family_def;

static const family_def families[] = {
    {"llama", llama_patterns},   {"phi3", phi3_patterns},       {"gpt2", gpt2_patterns},
    {"gpt-j", gptj_patterns},    {"gpt-neo", gptneo_patterns},  {"opt", opt_patterns},
    {"gpt-oss", gptoss_patterns}, {"qwen3.5", qwen35_patterns}, {"default", llama_patterns},
};

/* First occurrence of the dotted path `path` in `name` on component boundaries, or NULL. */
static const char *find_path(const char *name, const char *path)
{
    size_t k = strlen(path);
    for (const char *p = strstr(name, path); p; p = strstr(p + 1, path))
        if ((p == name || p[-1] == '.') && (p[k] == '\0' || p[k] == '.'))
            return p;
    return NULL;
}

/* Families are decided by the language model alone (vf_tensor_in_language_model): a SigLIP
 * tower's out_proj/fc1 must not make a Gemma 3 look like OPT. */

/* The first language-model tensor of m (with ndim == want_ndim, 0 for any) whose name holds
 * `path`, or NULL. */
static const char *first_with(const vf_model *m, const char *path, uint32_t want_ndim)
{
    for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
        const vf_tensor *t = vf_model_tensor(m, i);
        if (vf_tensor_in_language_model(t) && (want_ndim == 0 || t->ndim == want_ndim) && find_path(t->name, path))
            return t->name;
    }
    return NULL;
}

static void set_family(vf_family *out, const char *name)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i].name, name) == 0) {
            out->name = families[i].name;
            out->patterns = families[i].patterns;
            return;
        }
}

const char *vf_family_name_at(size_t i)
{
    return i < sizeof families / sizeof families[0] ? families[i].name : NULL;
}

const char *vf_family_list(char *buf, size_t n)
{
    size_t len = 0;
    if (n)
        buf[0] = '\0';
    for (size_t i = 0; vf_family_name_at(i) && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", vf_family_name_at(i));
    return buf;
}

bool vf_family_by_name(const char *name, vf_family *out)
{
    if (!name || !out)
        return false;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i].name, name) == 0) {
            set_family(out, name);
            snprintf(out->reason, sizeof out->reason, "family '%s' chosen by name", name);
            return true;
        }
    return false;
}

/* Training Hub's own test: a 2-D tensor whose name contains "weight" and the pattern. */
static bool pattern_hits(const vf_model *m, const char *pattern)
{
    for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
        const vf_tensor *t = vf_model_tensor(m, i);
        if (vf_tensor_in_language_model(t) && t->ndim == 2 && strstr(t->name, "weight") && strstr(t->name, pattern))
            return true;
    }
    return false;
}

/* Appends "; patterns matching no 2-D weight: a, b" to the reason when some do not match. */
static void note_unmatched(const vf_model *m, vf_family *out)
{
    size_t len = strlen(out->reason);
    bool first = true;
    for (const char *const *p = out->patterns; *p; p++) {
        if (pattern_hits(m, *p))
            continue;
        snprintf(out->reason + len, sizeof out->reason - len, "%s%s",
                 first ? "; patterns matching no 2-D weight: " : ", ", *p);
        len = strlen(out->reason);
        first = false;
    }
}

/* Decides by the markers in order; `why` names the tensor that decided. */
static void decide(const vf_model *m, vf_family *out)
{
    const char *t, *u;
    if ((t = first_with(m, "linear_attn.out_proj", 2)) != NULL) {
        set_family(out, "qwen3.5");
        snprintf(out->reason, sizeof out->reason, "'%s' is a Qwen3.5 linear-attention projection", t);
    } else if ((t = first_with(m, "self_attn.qkv_proj", 2)) != NULL ||
               (t = first_with(m, "mlp.gate_up_proj", 2)) != NULL) {
        set_family(out, "phi3");
        snprintf(out->reason, sizeof out->reason, "'%s' is a fused projection (Phi-3 style)", t);
    } else if ((t = first_with(m, "self_attn.sinks", 0)) != NULL) {
        set_family(out, "gpt-oss");
        snprintf(out->reason, sizeof out->reason,
                 "'%s' holds attention sinks (gpt-oss; experts left out on purpose)", t);
    } else if ((t = first_with(m, "attn.c_attn", 2)) != NULL) {
        set_family(out, "gpt2");
        snprintf(out->reason, sizeof out->reason, "'%s' is GPT-2's fused c_attn (Conv1D)", t);
    } else if ((t = first_with(m, "attn.attention.q_proj", 2)) != NULL) {
        set_family(out, "gpt-neo");
        snprintf(out->reason, sizeof out->reason, "'%s' is GPT-Neo's attn.attention.q_proj", t);
    } else if ((t = first_with(m, "self_attn.out_proj", 2)) != NULL && (u = first_with(m, "fc1", 2))) {
        set_family(out, "opt");
        snprintf(out->reason, sizeof out->reason, "'%s' and '%s' are OPT's out_proj and fc1", t, u);
    } else if ((t = first_with(m, "attn.q_proj", 2)) != NULL && (u = first_with(m, "mlp.fc_in", 2))) {
        set_family(out, "gpt-j");
        snprintf(out->reason, sizeof out->reason, "'%s' and '%s' are GPT-J's attn.q_proj and fc_in", t, u);
    } else if ((t = first_with(m, "self_attn.q_proj", 2)) != NULL) {
        set_family(out, "llama");
        snprintf(out->reason, sizeof out->reason,
                 "'%s' is a Llama-style self_attn.q_proj (Llama, Mistral, Qwen, Gemma, Granite)", t);
    } else {
        set_family(out, "default");
        snprintf(out->reason, sizeof out->reason,
                 "no known family's tensor names found; Training Hub's default patterns");
    }
}

void vf_family_detect(const vf_model *m, vf_family *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    set_family(out, "default");
    if (!m) {
        snprintf(out->reason, sizeof out->reason, "no model");
        return;
    }
    decide(m, out);
    note_unmatched(m, out);
}
