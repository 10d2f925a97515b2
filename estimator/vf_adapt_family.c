/* vf_adapt_family.c - Training Hub's target-module families, detected from tensor names.
 *
 * Upstream picks a family by searching the model *path* for substrings (so /opt/models/granite gets
 * OPT's patterns); vramfit looks at the tensor names in the headers instead and records the names
 * that decided, so the choice can be explained. Patterns: shared/reference/target-families.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_common_internal.h"
#include "vf_estimator_internal.h"
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

/* Families are decided by the language model alone (vf_tensor_in_language_model): a SigLIP
 * tower's out_proj/fc1 must not make a Gemma 3 look like OPT. */

/* The dotted paths that decide a family (on component boundaries: "attn.q_proj" is not in
 * "self_attn.q_proj"), each in a language-model tensor with ndim dims (0: any). */
enum {
    M_LINEAR_OUT, M_QKV, M_GATE_UP, M_SINKS, M_C_ATTN, M_NEO_Q, M_OPT_OUT, M_FC1, M_GPTJ_Q, M_FC_IN,
    M_LLAMA_Q, M_COUNT
};

static const struct marker {
    const char *path;
    uint32_t ndim;
} markers[M_COUNT] = {
    {"linear_attn.out_proj", 2}, {"self_attn.qkv_proj", 2}, {"mlp.gate_up_proj", 2},
    {"self_attn.sinks", 0},      {"attn.c_attn", 2},        {"attn.attention.q_proj", 2},
    {"self_attn.out_proj", 2},   {"fc1", 2},                {"attn.q_proj", 2},
    {"mlp.fc_in", 2},            {"self_attn.q_proj", 2},
};

#define FAMILY_COUNT (sizeof families / sizeof families[0])
#define PATTERNS_MAX 16 /* patterns of one family */

/* What one pass over the language model's names finds: per marker the first tensor (table order)
 * holding it, and which family patterns occur in a 2-D tensor whose name holds "weight" (Training
 * Hub's own test of a pattern). The markers, "weight" and every family's patterns fit one vf_scan
 * (213 of its VF_SCAN_STATES_MAX states); one that did not would match nothing (bit 0). */
typedef struct name_facts {
    vf_scan scan;
    uint64_t marker_bit[M_COUNT], weight_bit, pattern_bit[FAMILY_COUNT][PATTERNS_MAX];
    const char *first[M_COUNT];
    uint64_t weight_hits;
} name_facts;

static uint64_t bit_of(int id) { return id >= 0 ? 1ull << id : 0; }

static void facts_scan_build(name_facts *f)
{
    vf_scan_init(&f->scan);
    for (size_t k = 0; k < M_COUNT; k++)
        f->marker_bit[k] = bit_of(vf_scan_add(&f->scan, markers[k].path));
    f->weight_bit = bit_of(vf_scan_add(&f->scan, "weight"));
    for (size_t i = 0; i < FAMILY_COUNT; i++)
        for (size_t k = 0; k < PATTERNS_MAX && families[i].patterns[k]; k++)
            f->pattern_bit[i][k] = bit_of(vf_scan_add(&f->scan, families[i].patterns[k]));
    vf_scan_finish(&f->scan);
}

/* One range [begin, end) of the table read by its own cursor: the first name per marker and the
 * weight hits within it, and what each tensor holds into any[i] when any is not NULL. */
typedef struct facts_range {
    const vf_model *m;
    const name_facts *f;
    uint64_t *any_of;
    size_t begin, end;
    const char *first[M_COUNT];
    uint64_t weight_hits;
} facts_range;

static void *scan_range(void *arg)
{
    facts_range *r = arg;
    const name_facts *f = r->f;
    vf_scan_cursor cur;
    vf_scan_cursor_init(&cur, &f->scan);
    for (size_t i = r->begin; i < r->end; i++) {
        const vf_tensor *t = vf_model_tensor(r->m, i);
        uint64_t any, bounded;
        if (!vf_tensor_in_language_model(t))
            continue;
        vf_scan_next(&cur, t->name, &any, &bounded);
        if (r->any_of)
            r->any_of[i] = any;
        for (size_t k = 0; bounded && k < M_COUNT; k++)
            if (!r->first[k] && (bounded & f->marker_bit[k]) && (markers[k].ndim == 0 || t->ndim == markers[k].ndim))
                r->first[k] = t->name;
        if (t->ndim == 2 && (any & f->weight_bit))
            r->weight_hits |= any;
    }
    return NULL;
}

#define VF_FACTS_PER_THREAD 8192 /* fewer names than this per thread: not worth a thread */

/* The pass: every language-model tensor's name read once, in ranges on the job runner's threads
 * (the first name per marker is the first range's that has one: table order); what each holds into
 * any[i] too when any is not NULL. */
static void collect_facts(const vf_model *m, name_facts *f, uint64_t *any_of)
{
    memset(f, 0, sizeof *f);
    facts_scan_build(f);
    size_t n = vf_model_tensor_count(m), k = vf_parallel_ranges(n, VF_FACTS_PER_THREAD);
    facts_range r[VF_PARALLEL_MAX];
    for (size_t i = 0; i < k; i++)
        r[i] = (facts_range){.m = m, .f = f, .any_of = any_of, .begin = n * i / k, .end = n * (i + 1) / k};
    vf_parallel_run(scan_range, r, sizeof *r, k);
    for (size_t i = 0; i < k; i++) {
        for (size_t c = 0; c < M_COUNT; c++)
            if (!f->first[c])
                f->first[c] = r[i].first[c];
        f->weight_hits |= r[i].weight_hits;
    }
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

/* The index of family f in families[]. */
static size_t family_index(const vf_family *out)
{
    size_t i = 0;
    while (i + 1 < FAMILY_COUNT && families[i].patterns != out->patterns)
        i++;
    return i;
}

/* Appends "; patterns matching no 2-D weight: a, b" to the reason when some do not match. */
static void note_unmatched(const name_facts *f, vf_family *out)
{
    size_t len = strlen(out->reason), fi = family_index(out);
    bool first = true;
    for (size_t k = 0; out->patterns[k]; k++) {
        if (f->weight_hits & f->pattern_bit[fi][k])
            continue;
        snprintf(out->reason + len, sizeof out->reason - len, "%s%s",
                 first ? "; patterns matching no 2-D weight: " : ", ", out->patterns[k]);
        len = strlen(out->reason);
        first = false;
    }
}

/* Decides by the markers in order; `why` names the tensor that decided. */
static void decide(const name_facts *f, vf_family *out)
{
    const char *const *m = f->first;
    if (m[M_LINEAR_OUT]) {
        set_family(out, "qwen3.5");
        snprintf(out->reason, sizeof out->reason, "'%s' is a Qwen3.5 linear-attention projection", m[M_LINEAR_OUT]);
    } else if (m[M_QKV] || m[M_GATE_UP]) {
        set_family(out, "phi3");
        snprintf(out->reason, sizeof out->reason, "'%s' is a fused projection (Phi-3 style)",
                 m[M_QKV] ? m[M_QKV] : m[M_GATE_UP]);
    } else if (m[M_SINKS]) {
        set_family(out, "gpt-oss");
        snprintf(out->reason, sizeof out->reason,
                 "'%s' holds attention sinks (gpt-oss; experts left out on purpose)", m[M_SINKS]);
    } else if (m[M_C_ATTN]) {
        set_family(out, "gpt2");
        snprintf(out->reason, sizeof out->reason, "'%s' is GPT-2's fused c_attn (Conv1D)", m[M_C_ATTN]);
    } else if (m[M_NEO_Q]) {
        set_family(out, "gpt-neo");
        snprintf(out->reason, sizeof out->reason, "'%s' is GPT-Neo's attn.attention.q_proj", m[M_NEO_Q]);
    } else if (m[M_OPT_OUT] && m[M_FC1]) {
        set_family(out, "opt");
        snprintf(out->reason, sizeof out->reason, "'%s' and '%s' are OPT's out_proj and fc1", m[M_OPT_OUT], m[M_FC1]);
    } else if (m[M_GPTJ_Q] && m[M_FC_IN]) {
        set_family(out, "gpt-j");
        snprintf(out->reason, sizeof out->reason, "'%s' and '%s' are GPT-J's attn.q_proj and fc_in", m[M_GPTJ_Q],
                 m[M_FC_IN]);
    } else if (m[M_LLAMA_Q]) {
        set_family(out, "llama");
        snprintf(out->reason, sizeof out->reason,
                 "'%s' is a Llama-style self_attn.q_proj (Llama, Mistral, Qwen, Gemma, Granite)", m[M_LLAMA_Q]);
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
    name_facts f;
    collect_facts(m, &f, NULL);
    decide(&f, out);
    note_unmatched(&f, out);
}

void vf_family_detect_keep(const vf_model *m, vf_family *out, vf_family_hits *hits)
{
    name_facts f;
    memset(out, 0, sizeof *out);
    memset(hits, 0, sizeof *hits);
    set_family(out, "default");
    hits->any = calloc(vf_model_tensor_count(m) + 1, sizeof *hits->any);
    collect_facts(m, &f, hits->any);
    decide(&f, out);
    note_unmatched(&f, out);
    size_t fi = family_index(out);
    hits->weight_bit = f.weight_bit;
    for (size_t k = 0; out->patterns[k]; k++)
        hits->pattern_bits |= f.pattern_bit[fi][k];
}
