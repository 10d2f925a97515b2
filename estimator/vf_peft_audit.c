/* vf_peft_audit.c - reads a PEFT adapter directory (adapter_model.safetensors + adapter_config.json),
 * classifies every stored key and lists every difference from the config and, with a base
 * checkpoint, from the adapter predicted by vf_adapter_plan_build (vf_adapters.h).
 *
 * PEFT key names: "base_model.model." + the module path inside the model class + a leaf:
 * lora_A.weight [r, in], lora_B.weight [out, r], lora_embedding_A [r, num_embeddings],
 * lora_embedding_B [dim, r], lora_magnitude_vector[.weight] [out] (DoRA); modules_to_save copies and
 * trained biases keep their own leaf (weight, bias). */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_estimator_internal.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_checked.h"

#define PEFT_PREFIX "base_model.model."
#define NAME_MAX_LEN 1024

typedef enum part { PART_A, PART_B, PART_ONE } part;

typedef struct raw {
    const vf_st_tensor *t;
    char *module; /* owned by the audit */
    vf_audit_kind kind;
    part part;
} raw;

struct vf_audit {
    vf_checkpoint *cp;
    vf_model *base;
    vf_peft_config *cfg;
    vf_family family;
    bool has_family;
    char dir[VF_ERROR_FILE_MAX];
    char file[VF_ERROR_FILE_MAX];
    char cfg_file[VF_ERROR_FILE_MAX]; /* DIR/adapter_config.json, named in config errors */
    char prefix[256];
    vf_audit_entry *e;
    bool *matched;
    size_t n;
    vf_name_map by_module; /* entry i is map entry i: (module, kind) */
    vf_name_map by_key;    /* entry i is map entry i: (name of a, 0), or ("", 1) without a */
    vf_audit_diff *d;
    size_t nd, capd;
    char **owned;
    size_t n_owned, cap_owned;
    vf_findings *findings;
    vf_audit_totals totals;
    vf_error *err;
};

/* ---- owned strings, diffs, notes --------------------------------------------------------------- */

static char *keep(vf_audit *a, char *s)
{
    if (!s)
        return NULL;
    if (a->n_owned == a->cap_owned) {
        size_t cap = a->cap_owned ? a->cap_owned * 2 : 64;
        char **v = realloc(a->owned, cap * sizeof *v);
        if (!v) {
            free(s);
            return NULL;
        }
        a->owned = v;
        a->cap_owned = cap;
    }
    return a->owned[a->n_owned++] = s;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static char *vfmt(vf_audit *a, const char *f, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, f, ap2);
    va_end(ap2);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s)
        vsnprintf(s, (size_t)n + 1, f, ap);
    return keep(a, s);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static char *fmt(vf_audit *a, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(a, f, ap);
    va_end(ap);
    return s;
}

static int nomem(vf_audit *a) { return vf_error_set(a->err, VF_ERR_NOMEM, NULL, NULL, "out of memory"); }

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int diff(vf_audit *a, const char *tensor, const char *f, ...)
{
    if (a->nd == a->capd) {
        size_t cap = a->capd ? a->capd * 2 : 16;
        vf_audit_diff *v = realloc(a->d, cap * sizeof *v);
        if (!v)
            return nomem(a);
        a->d = v;
        a->capd = cap;
    }
    va_list ap;
    va_start(ap, f);
    char *msg = vfmt(a, f, ap);
    va_end(ap);
    char *t = fmt(a, "%s", tensor ? tensor : "");
    if (!msg || !t)
        return nomem(a);
    a->d[a->nd++] = (vf_audit_diff){t, msg};
    return VF_OK;
}

static const char *shape_str(const vf_st_tensor *t, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (uint32_t i = 0; t && i < t->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? "," : "", (unsigned long long)t->shape[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
    return buf;
}

/* ---- classification of stored keys ------------------------------------------------------------- */

typedef struct leaf_rule {
    const char *suffix;
    vf_audit_kind kind;
    part part;
} leaf_rule;

static const leaf_rule leaf_rules[] = {
    {".lora_A.weight", VF_AUDIT_LORA, PART_A},
    {".lora_B.weight", VF_AUDIT_LORA, PART_B},
    {".lora_embedding_A", VF_AUDIT_LORA_EMBED, PART_A},
    {".lora_embedding_B", VF_AUDIT_LORA_EMBED, PART_B},
    {".lora_magnitude_vector.weight", VF_AUDIT_MAGNITUDE, PART_ONE},
    {".lora_magnitude_vector", VF_AUDIT_MAGNITUDE, PART_ONE},
    {NULL, VF_AUDIT_LORA, PART_ONE},
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The heads PEFT adds to modules_to_save by task type (PeftModelForSequenceClassification etc.). */
static const char *auto_heads(const vf_peft_config *c)
{
    if (!c->task_type)
        return NULL;
    if (strcmp(c->task_type, "SEQ_CLS") == 0 || strcmp(c->task_type, "TOKEN_CLS") == 0)
        return "classifier,score";
    if (strcmp(c->task_type, "QUESTION_ANS") == 0)
        return "qa_outputs";
    return NULL;
}

static bool is_saved_module(const vf_peft_config *c, const char *module)
{
    return vf_peft_list_match(module, c->modules_to_save) || vf_peft_list_match(module, auto_heads(c));
}

/* Classifies one stored key into r; false (with a diff recorded) for an unrecognised LoRA key. */
static int classify(vf_audit *a, const vf_st_tensor *t, raw *r, bool *keep_it)
{
    const char *rest = strncmp(t->name, PEFT_PREFIX, strlen(PEFT_PREFIX)) == 0
                           ? t->name + strlen(PEFT_PREFIX) : t->name;
    *keep_it = false;
    if (rest == t->name)
        return diff(a, t->name, "key lacks PEFT's '" PEFT_PREFIX "' prefix");
    for (const leaf_rule *l = leaf_rules; l->suffix; l++)
        if (ends_with(rest, l->suffix) && strlen(rest) > strlen(l->suffix)) {
            *r = (raw){t, fmt(a, "%.*s", (int)(strlen(rest) - strlen(l->suffix)), rest), l->kind, l->part};
            *keep_it = r->module != NULL;
            return r->module ? VF_OK : nomem(a);
        }
    if (strstr(rest, "lora_"))
        return diff(a, t->name, "unrecognised LoRA key (expected lora_A/lora_B/lora_embedding_A/B/"
                                "lora_magnitude_vector)");
    const char *dot = strrchr(rest, '.');
    char *module = fmt(a, "%.*s", dot ? (int)(dot - rest) : (int)strlen(rest), rest);
    if (!module)
        return nomem(a);
    bool bias = dot && strcmp(dot, ".bias") == 0 && !is_saved_module(a->cfg, module);
    *r = (raw){t, module, bias ? VF_AUDIT_BIAS : VF_AUDIT_SAVED, PART_ONE};
    *keep_it = true;
    return VF_OK;
}

static int cmp_raw(const void *x, const void *y)
{
    const raw *p = x, *q = y;
    int c = strcmp(p->module, q->module);
    if (c == 0)
        c = (int)p->kind - (int)q->kind;
    if (c == 0)
        c = (int)p->part - (int)q->part;
    return c == 0 ? strcmp(p->t->name, q->t->name) : c;
}

static int collect_raw(vf_audit *a, raw **out, size_t *count)
{
    size_t n = 0, k = 0;
    for (size_t s = 0; s < vf_checkpoint_shard_count(a->cp); s++)
        n += vf_st_header_count(vf_checkpoint_shard(a->cp, s)->header);
    raw *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return nomem(a);
    for (size_t s = 0; s < vf_checkpoint_shard_count(a->cp); s++) {
        const vf_st_header *h = vf_checkpoint_shard(a->cp, s)->header;
        for (size_t i = 0; i < vf_st_header_count(h); i++) {
            const vf_st_tensor *t = vf_st_header_tensor(h, i);
            bool take;
            int rc = classify(a, t, &v[k], &take);
            if (rc != VF_OK) {
                free(v);
                return rc;
            }
            k += take;
            a->totals.tensors++;
            vf_acc_u64(&a->totals.parameters, t->numel);
            vf_acc_u64(&a->totals.bytes, t->nbytes);
        }
    }
    qsort(v, k, sizeof *v, cmp_raw);
    *out = v;
    *count = k;
    return VF_OK;
}

/* ---- entries ----------------------------------------------------------------------------------- */

static void fill_pair_dims(vf_audit_entry *e)
{
    if (e->a && e->a->ndim == 2) {
        e->rank = e->a->shape[0];
        e->in = e->a->shape[1];
    }
    if (e->b && e->b->ndim == 2) {
        e->out = e->b->shape[0];
        if (!e->a)
            e->rank = e->b->shape[1];
    }
}

static int cmp_entry(const void *x, const void *y)
{
    const vf_audit_entry *p = x, *q = y;
    uint32_t lp = (uint32_t)p->layer, lq = (uint32_t)q->layer; /* -1 sorts last */
    if (lp != lq)
        return lp < lq ? -1 : 1;
    int c = strcmp(p->module, q->module);
    if (c == 0)
        c = (int)p->kind - (int)q->kind;
    const char *np = p->a ? p->a->name : p->b->name, *nq = q->a ? q->a->name : q->b->name;
    return c == 0 ? strcmp(np, nq) : c;
}

/* The entries by module and kind, and by the name of their first tensor. */
static int index_entries(vf_audit *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const vf_audit_entry *e = &a->e[i];
        const char *key = e->a ? e->a->name : "";
        if (!vf_name_map_add(&a->by_module, e->module, strlen(e->module), (uint32_t)e->kind) ||
            !vf_name_map_add(&a->by_key, key, strlen(key), e->a ? 0 : 1))
            return nomem(a);
    }
    return VF_OK;
}

/* Merges sorted raws into entries: A and B of one module become one pair. */
static int build_entries(vf_audit *a, const raw *v, size_t n)
{
    a->e = calloc(n ? n : 1, sizeof *a->e);
    a->matched = calloc(n ? n : 1, sizeof *a->matched);
    if (!a->e || !a->matched)
        return nomem(a);
    for (size_t i = 0; i < n; i++) {
        vf_audit_entry *e = &a->e[a->n];
        bool pair = v[i].kind == VF_AUDIT_LORA || v[i].kind == VF_AUDIT_LORA_EMBED;
        *e = (vf_audit_entry){.kind = v[i].kind, .module = v[i].module, .layer = vf_name_layer(v[i].module)};
        if (pair && v[i].part == PART_B)
            e->b = v[i].t;
        else
            e->a = v[i].t;
        if (pair && v[i].part == PART_A && i + 1 < n && v[i + 1].part == PART_B &&
            v[i + 1].kind == v[i].kind && strcmp(v[i + 1].module, v[i].module) == 0)
            e->b = v[++i].t;
        if (pair)
            fill_pair_dims(e);
        e->params = (e->a ? e->a->numel : 0) + (e->b ? e->b->numel : 0);
        vf_acc_u64(pair ? &a->totals.lora_params : &a->totals.other_params, e->params);
        a->n++;
    }
    qsort(a->e, a->n, sizeof *a->e, cmp_entry);
    return index_entries(a);
}

/* ---- checks shared by both modes --------------------------------------------------------------- */

static const char *part_name(vf_audit_kind k, bool b)
{
    return k == VF_AUDIT_LORA_EMBED ? (b ? "lora_embedding_B" : "lora_embedding_A") : (b ? "lora_B" : "lora_A");
}

/* Expected key of a missing half of a pair. */
static const char *pair_key(vf_audit *a, const vf_audit_entry *e, bool b)
{
    return fmt(a, PEFT_PREFIX "%s.%s%s", e->module, part_name(e->kind, b),
               e->kind == VF_AUDIT_LORA ? ".weight" : "");
}

/* A regex of the config that does not compile or exceeds its budget: invalid input (exit 4) naming
 * adapter_config.json and the key, never a difference or an option the user did not give. */
static int config_regex_error(vf_audit *a, int rc, const char *key)
{
    if (rc == VF_ERR_NOMEM)
        return rc;
    char msg[VF_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", a->err->message);
    return vf_error_set(a->err, VF_ERR_CONFIG, a->cfg_file, key, "%s", msg);
}

/* The rank the config gives module `key` and where it comes from (into why). */
static int config_rank(vf_audit *a, const char *key, uint64_t *rank, const char **why)
{
    const vf_peft_config *c = a->cfg;
    *rank = c->r;
    *why = fmt(a, "r=%llu", (unsigned long long)c->r);
    for (size_t i = 0; i < c->rank_pattern_count; i++) {
        int hit = vf_name_regex_match(vf_peft_config_rank_regex(c, i), key, a->err);
        if (hit < 0)
            return config_regex_error(a, hit, "rank_pattern");
        if (hit) {
            *rank = c->rank_pattern[i].rank;
            *why = fmt(a, "rank_pattern '%s'=%llu", c->rank_pattern[i].pattern,
                       (unsigned long long)*rank);
            return VF_OK;
        }
    }
    return VF_OK;
}

/* Checks one half of a pair: A is [r, in], B is [out, r]; ed (in or out) 0 when unknown. */
static int check_half(vf_audit *a, const vf_audit_entry *e, bool b, uint64_t r, const char *why,
                      uint64_t ed, const char *base)
{
    char s1[96];
    const vf_st_tensor *t = b ? e->b : e->a;
    const char *nm = part_name(e->kind, b);
    if (!t && !ed)
        return diff(a, pair_key(a, e, b), "missing %s (its partner is stored)", nm);
    if (!t)
        return diff(a, pair_key(a, e, b), "missing %s: expected [%llu,%llu] (%s)", nm,
                    (unsigned long long)(b ? ed : r), (unsigned long long)(b ? r : ed), why);
    if (t->ndim != 2)
        return diff(a, t->name, "%s must be 2-D, is %s", nm, shape_str(t, s1, sizeof s1));
    uint64_t got_r = t->shape[b ? 1 : 0], got_d = t->shape[b ? 0 : 1], d = ed ? ed : got_d;
    unsigned long long x0 = b ? d : r, x1 = b ? r : d;
    if (got_r != r)
        return diff(a, t->name, "wrong rank: %s is %s (rank %llu) but %s expects [%llu,%llu]", nm,
                    shape_str(t, s1, sizeof s1), (unsigned long long)got_r, why, x0, x1);
    if (got_d != d)
        return diff(a, t->name, "%s is %s but base '%s' has %s %llu: expected [%llu,%llu]", nm,
                    shape_str(t, s1, sizeof s1), base, b ? "out_features" : "in_features",
                    (unsigned long long)d, x0, x1);
    return VF_OK;
}

/* Checks a pair against rank r (why) and, when in/out are nonzero, against the base matrix. */
static int check_pair(vf_audit *a, const vf_audit_entry *e, uint64_t r, const char *why, uint64_t in,
                      uint64_t out, const char *base)
{
    int rc = check_half(a, e, false, r, why, in, base);
    return rc == VF_OK ? check_half(a, e, true, r, why, out, base) : rc;
}

/* ---- config-only audit ------------------------------------------------------------------------- */

/* Whether the config's target_modules select module: 1 or 0 (*known false when it cannot say:
 * all-linear or null need the base), or the error of a regex over its budget. */
static int config_targets(vf_audit *a, const char *module, bool *known)
{
    const vf_peft_config *c = a->cfg;
    *known = true;
    int hit = 0;
    if (c->target_modules) {
        hit = vf_peft_list_match(module, c->target_modules);
    } else if (c->target_regex && strcmp(c->target_regex, "all-linear") != 0) {
        hit = vf_name_regex_match(vf_peft_config_target_regex(c), module, a->err);
        if (hit < 0)
            return config_regex_error(a, hit, "target_modules");
    } else {
        *known = false;
        return 0;
    }
    /* PEFT check_target_module_exists: exclude_modules as a string is re.fullmatch on the key,
     * as a list an exact name or a ".name" suffix. */
    if (hit && c->exclude_modules && vf_peft_list_match(module, c->exclude_modules))
        hit = 0;
    if (hit && c->exclude_regex) {
        int ex = vf_name_regex_match(vf_peft_config_exclude_regex(c), module, a->err);
        if (ex < 0)
            return config_regex_error(a, ex, "exclude_modules");
        hit = !ex;
    }
    return hit;
}

static bool has_entry(const vf_audit *a, const char *module, vf_audit_kind kind)
{
    return vf_name_map_first(&a->by_module, module, strlen(module), (uint32_t)kind) != VF_NAME_MAP_NONE;
}

static int audit_pair_config(vf_audit *a, const vf_audit_entry *e)
{
    uint64_t r;
    const char *why;
    bool known;
    int rc = config_rank(a, e->module, &r, &why);
    if (rc == VF_OK)
        rc = check_pair(a, e, r, why, 0, 0, NULL);
    const char *key = e->a ? e->a->name : e->b->name;
    int hit = rc == VF_OK ? config_targets(a, e->module, &known) : 0;
    if (hit < 0)
        rc = hit;
    else if (rc == VF_OK && !hit && known)
        rc = diff(a, key, "module '%s' is not matched by the config's target_modules", e->module);
    if (rc == VF_OK && a->cfg->use_dora && !has_entry(a, e->module, VF_AUDIT_MAGNITUDE))
        rc = diff(a, fmt(a, PEFT_PREFIX "%s.lora_magnitude_vector", e->module),
                  "missing DoRA magnitude vector (use_dora is true)");
    return rc;
}

static int audit_other_config(vf_audit *a, vf_audit_entry *e)
{
    const vf_peft_config *c = a->cfg;
    const char *key = e->a->name;
    switch (e->kind) {
    case VF_AUDIT_MAGNITUDE:
        return c->use_dora ? VF_OK : diff(a, key, "DoRA magnitude vector stored but use_dora is false");
    case VF_AUDIT_BIAS:
        if (c->bias == VF_LORA_BIAS_NONE)
            return diff(a, key, "bias stored but the config's bias is \"none\"");
        if (c->bias == VF_LORA_BIAS_LORA_ONLY && !has_entry(a, e->module, VF_AUDIT_LORA))
            return diff(a, key, "bias of a module without LoRA but the config's bias is \"lora_only\"");
        return VF_OK;
    default:
        if (vf_peft_list_match(e->module, c->modules_to_save))
            return VF_OK;
        if (vf_peft_list_match(e->module, auto_heads(c))) {
            e->note = fmt(a, "task head saved whole: PEFT adds '%s' to modules_to_save for task_type %s",
                          auto_heads(c), c->task_type);
            return e->note ? VF_OK : nomem(a);
        }
        return diff(a, key, "full tensor stored but module '%s' is not in modules_to_save", e->module);
    }
}

static int audit_config_only(vf_audit *a)
{
    int rc = VF_OK;
    if (!a->cfg->target_modules && (!a->cfg->target_regex || !strcmp(a->cfg->target_regex, "all-linear")))
        rc = vf_findings_add(a->findings, VF_SEV_INFO,
                             "target_modules is %s: which modules it selects depends on the model; "
                             "give --base to check", a->cfg->target_regex ? "all-linear" : "null");
    for (size_t i = 0; i < a->n && rc == VF_OK; i++) {
        vf_audit_entry *e = &a->e[i];
        rc = e->kind == VF_AUDIT_LORA || e->kind == VF_AUDIT_LORA_EMBED ? audit_pair_config(a, e)
                                                                        : audit_other_config(a, e);
    }
    return rc;
}

/* ---- audit against a base checkpoint ----------------------------------------------------------- */

/* PEFT matches module paths inside the model class (GPT2LMHeadModel puts GPT-2's blocks under
 * "transformer."), while the checkpoint may store them bare: the prefix is what a stored LoRA module
 * path carries before a weight the base stores. */
static void derive_prefix(vf_audit *a)
{
    char buf[NAME_MAX_LEN + 8];
    for (size_t i = 0; i < a->n; i++) {
        const vf_audit_entry *e = &a->e[i];
        if (e->kind != VF_AUDIT_LORA && e->kind != VF_AUDIT_LORA_EMBED)
            continue;
        for (const char *s = e->module; s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL) {
            int k = snprintf(buf, sizeof buf, "%s.weight", s);
            if (k < 0 || (size_t)k >= sizeof buf)
                break;
            if (vf_model_find(a->base, buf) >= 0) {
                snprintf(a->prefix, sizeof a->prefix, "%.*s", (int)(s - e->module), e->module);
                return;
            }
        }
    }
}

/* PEFT's default target_modules when the config has none (its per-model-type mapping). */
static const char *default_targets(const vf_family *f)
{
    if (strcmp(f->name, "gpt2") == 0)
        return "c_attn";
    if (strcmp(f->name, "phi3") == 0)
        return "qkv_proj";
    return "q_proj,v_proj";
}

static int set_targets(vf_audit *a, vf_adapter_options *o)
{
    const vf_peft_config *c = a->cfg;
    if (c->target_modules)
        o->target.modules = c->target_modules;
    else if (c->target_regex && strcmp(c->target_regex, "all-linear") == 0)
        o->target.modules = "all-linear";
    else if (c->target_regex)
        o->target.regex = c->target_regex;
    else {
        o->target.modules = default_targets(&a->family);
        if (vf_findings_add(a->findings, VF_SEV_INFO,
                            "target_modules is null: PEFT's default for a %s model is %s", a->family.name,
                            o->target.modules) != VF_OK)
            return nomem(a);
    }
    o->target.exclude = c->exclude_modules;
    o->target.exclude_regex = c->exclude_regex;
    o->target.module_prefix = a->prefix;
    o->target.allow_unmatched = true;
    const char *heads = auto_heads(c);
    o->modules_to_save = heads && c->modules_to_save ? fmt(a, "%s,%s", c->modules_to_save, heads)
                         : heads                     ? heads
                                                     : c->modules_to_save;
    return heads && c->modules_to_save && !o->modules_to_save ? nomem(a) : VF_OK;
}

/* The plan's error for a regex that came from the config, renamed: the option the plan names
 * ("--target-regex", "--rank-pattern") is the config key the pattern came from. */
static int regex_option_error(vf_audit *a, const vf_error *e)
{
    static const char *const map[][2] = {{"--target-regex", "target_modules"},
                                         {"--rank-pattern", "rank_pattern"},
                                         {"exclude_modules", "exclude_modules"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(e->tensor, map[i][0]) == 0)
            return vf_error_set(a->err, VF_ERR_CONFIG, a->cfg_file, map[i][1], "%s", e->message);
    *a->err = *e;
    return e->code;
}

/* The adapter the config predicts over the base; *plan NULL (and a difference) when it predicts
 * nothing. */
static int predict(vf_audit *a, vf_adapter_plan **plan)
{
    const vf_peft_config *c = a->cfg;
    vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
    o.rank = c->r;
    o.rank_rules = c->rank_pattern;
    o.rank_rule_count = c->rank_pattern_count;
    o.use_dora = c->use_dora;
    o.bias = c->bias;
    o.modules_only = true;
    int rc = set_targets(a, &o);
    if (rc != VF_OK)
        return rc;
    vf_error e2 = {0};
    rc = vf_adapter_plan_build_detected(a->base, &o, &a->family, plan, &e2);
    if (rc == VF_ERR_UNSUPPORTED) /* a regex of the config over its budget: blame the config */
        return regex_option_error(a, &e2);
    if (rc == VF_ERR_USAGE)
        return diff(a, NULL, "the config predicts no adapter from the base: %s%s%s", e2.tensor,
                    e2.tensor[0] ? ": " : "", e2.message);
    if (rc != VF_OK)
        *a->err = e2;
    return rc;
}

/* The first unmatched entry of map entry i's name and tag on (i: its first one), or NULL. */
static vf_audit_entry *first_unmatched(vf_audit *a, const vf_name_map *m, size_t i, size_t *idx)
{
    for (; i != VF_NAME_MAP_NONE; i = vf_name_map_next(m, i))
        if (!a->matched[i])
            return *idx = i, &a->e[i];
    return NULL;
}

/* The unmatched stored entry of `kind` for module, or NULL. */
static vf_audit_entry *find_module(vf_audit *a, const char *module, vf_audit_kind kind, size_t *idx)
{
    size_t i = vf_name_map_first(&a->by_module, module, strlen(module), (uint32_t)kind);
    return first_unmatched(a, &a->by_module, i, idx);
}

/* The unmatched stored entry whose first tensor is named key, or NULL. */
static vf_audit_entry *find_key(vf_audit *a, const char *key, size_t *idx)
{
    return first_unmatched(a, &a->by_key, vf_name_map_first(&a->by_key, key, strlen(key), 0), idx);
}

static int compare_magnitude(vf_audit *a, const char *module, uint64_t out)
{
    size_t i;
    char s1[96];
    vf_audit_entry *e = find_module(a, module, VF_AUDIT_MAGNITUDE, &i);
    if (!e)
        return diff(a, fmt(a, PEFT_PREFIX "%s.lora_magnitude_vector", module),
                    "missing DoRA magnitude vector [%llu] (use_dora is true)", (unsigned long long)out);
    a->matched[i] = true;
    if (e->a->ndim != 1 || e->a->shape[0] != out)
        return diff(a, e->a->name, "DoRA magnitude is %s, expected [%llu]", shape_str(e->a, s1, sizeof s1),
                    (unsigned long long)out);
    return VF_OK;
}

static int compare_pair(vf_audit *a, const vf_adapter_matrix *x)
{
    char s1[96];
    const char *module = fmt(a, "%s%s", a->prefix, x->module), *why;
    vf_audit_kind want = x->kind == VF_ADAPTER_KIND_LORA_EMBED ? VF_AUDIT_LORA_EMBED : VF_AUDIT_LORA;
    vf_audit_kind other = want == VF_AUDIT_LORA ? VF_AUDIT_LORA_EMBED : VF_AUDIT_LORA;
    size_t i;
    uint64_t r;
    if (!module)
        return nomem(a);
    int rc = config_rank(a, module, &r, &why);
    vf_audit_entry *e = rc == VF_OK ? find_module(a, module, want, &i) : NULL;
    if (rc == VF_OK && !e && (e = find_module(a, module, other, &i)) != NULL) {
        a->matched[i] = true;
        return diff(a, e->a ? e->a->name : e->b->name, "stored as %s pair but base '%s' is %s",
                    vf_audit_kind_name(other), x->tensor->name,
                    want == VF_AUDIT_LORA ? "a linear weight" : "an embedding");
    }
    if (rc == VF_OK && !e) {
        vf_st_tensor view = {.ndim = x->tensor->ndim, .shape = x->tensor->shape};
        return diff(a, fmt(a, PEFT_PREFIX "%s.%s", module, want == VF_AUDIT_LORA ? "lora_A.weight" : "lora_embedding_A"),
                    "missing: the config targets base '%s' %s (%s): expected %s [%llu,%llu] and %s [%llu,%llu]",
                    x->tensor->name, shape_str(&view, s1, sizeof s1), why, part_name(want, false),
                    (unsigned long long)r, (unsigned long long)x->in, part_name(want, true),
                    (unsigned long long)x->out, (unsigned long long)r);
    }
    if (rc != VF_OK)
        return rc;
    a->matched[i] = true;
    e->base = x->tensor->name;
    rc = check_pair(a, e, r, why, x->in, x->out, x->tensor->name);
    if (rc == VF_OK && a->cfg->use_dora)
        rc = compare_magnitude(a, module, x->out);
    return rc;
}

static bool same_shape(const vf_st_tensor *s, const vf_tensor *t)
{
    if (s->ndim != t->ndim)
        return false;
    for (uint32_t k = 0; k < s->ndim; k++)
        if (s->shape[k] != t->shape[k])
            return false;
    return true;
}

static int compare_whole(vf_audit *a, const vf_adapter_matrix *x)
{
    char s1[96], s2[96];
    const char *key = fmt(a, PEFT_PREFIX "%s%s", a->prefix, x->tensor->name);
    size_t i;
    if (!key)
        return nomem(a);
    vf_audit_entry *e = find_key(a, key, &i);
    if (!e && a->prefix[0]) /* a tensor outside the prefixed sub-model, e.g. a head */
        e = find_key(a, fmt(a, PEFT_PREFIX "%s", x->tensor->name), &i);
    if (!e)
        return diff(a, key, "missing: %s of base '%s'",
                    x->kind == VF_ADAPTER_KIND_SAVED ? "modules_to_save copy" : "trainable bias",
                    x->tensor->name);
    a->matched[i] = true;
    e->base = x->tensor->name;
    if (!same_shape(e->a, x->tensor)) {
        vf_st_tensor view = {.ndim = x->tensor->ndim, .shape = x->tensor->shape};
        return diff(a, key, "shape %s differs from base '%s' %s", shape_str(e->a, s1, sizeof s1),
                    x->tensor->name, shape_str(&view, s2, sizeof s2));
    }
    return VF_OK;
}

/* A task head PEFT saves whole although the base does not store it (e.g. GPT-2 has no `score`). */
static int accept_new_head(vf_audit *a, vf_audit_entry *e)
{
    char s1[96];
    const vf_arch *arch = vf_model_arch(a->base);
    const vf_st_tensor *t = e->a;
    bool weight = ends_with(t->name, ".weight");
    if (weight && (t->ndim != 2 || (arch->hidden_size && t->shape[1] != arch->hidden_size)))
        return diff(a, t->name, "task head %s does not fit the base: expected [num_labels,%llu]",
                    shape_str(t, s1, sizeof s1), (unsigned long long)arch->hidden_size);
    a->totals.expected_params += t->numel;
    e->note = weight ? fmt(a, "task head saved whole: PEFT adds '%s' to modules_to_save for task_type %s%s; "
                              "not in the base checkpoint, the task model creates it new (%llu labels x hidden %llu)",
                           auto_heads(a->cfg), a->cfg->task_type,
                           a->cfg->modules_to_save ? "" : " (the config's modules_to_save is null)",
                           (unsigned long long)t->shape[0], (unsigned long long)t->shape[1])
                     : fmt(a, "bias of the task head PEFT saves for task_type %s", a->cfg->task_type);
    if (!e->note || vf_findings_add(a->findings, VF_SEV_INFO, "%s: %s", t->name, e->note) != VF_OK)
        return nomem(a);
    return VF_OK;
}

/* True when the base stores the tensor of stored key `key`, with or without the prefix. */
static bool base_has(vf_audit *a, const char *key)
{
    assert(strncmp(key, PEFT_PREFIX, strlen(PEFT_PREFIX)) == 0); /* SAVED keys carry PEFT_PREFIX */
    const char *rest = key + strlen(PEFT_PREFIX);
    size_t p = strlen(a->prefix);
    if (vf_model_find(a->base, rest) >= 0)
        return true;
    return p && strncmp(rest, a->prefix, p) == 0 && vf_model_find(a->base, rest + p) >= 0;
}

static int report_extra(vf_audit *a, vf_audit_entry *e)
{
    const char *key = e->a ? e->a->name : e->b->name;
    const char *bare = strncmp(e->module, a->prefix, strlen(a->prefix)) == 0 ? e->module + strlen(a->prefix)
                                                                              : e->module;
    switch (e->kind) {
    case VF_AUDIT_LORA:
    case VF_AUDIT_LORA_EMBED: {
        const char *w = fmt(a, "%s.weight", bare);
        if (!w)
            return nomem(a);
        return vf_model_find(a->base, w) >= 0
                   ? diff(a, key, "extra: base '%s' exists but the config does not target it", w)
                   : diff(a, key, "extra: the base has no weight '%s'", w);
    }
    case VF_AUDIT_MAGNITUDE:
        return diff(a, key, a->cfg->use_dora ? "extra: DoRA magnitude for a module without a predicted pair"
                                             : "extra: DoRA magnitude stored but use_dora is false");
    case VF_AUDIT_SAVED:
        if (vf_peft_list_match(e->module, auto_heads(a->cfg)) && !base_has(a, e->a->name))
            return accept_new_head(a, e);
        return diff(a, key, "extra: full tensor not predicted (module '%s' not in modules_to_save or "
                            "not in the base)", e->module);
    default:
        return diff(a, key, "extra: bias not predicted (the config's bias is \"%s\")",
                    vf_lora_bias_name(a->cfg->bias));
    }
}

/* True for the plan's "modules_to_save entry 'score' matches nothing" about a head PEFT adds itself
 * (the head is then accepted or reported on its own). */
static bool about_auto_head(const vf_audit *a, const char *msg)
{
    const char *heads = auto_heads(a->cfg);
    for (const char *p = heads; p && *p;) {
        size_t k = strcspn(p, ",");
        char needle[64];
        snprintf(needle, sizeof needle, "modules_to_save entry '%.*s'", (int)k, p);
        if (strstr(msg, needle))
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

static int audit_base(vf_audit *a, const char *base_path, const vf_open_options *opts)
{
    int rc = vf_model_open(base_path, opts, &a->base, a->err);
    vf_adapter_plan *plan = NULL;
    if (rc != VF_OK)
        return rc;
    vf_family_detect(a->base, &a->family);
    a->has_family = true;
    derive_prefix(a);
    if (a->prefix[0] && vf_findings_add(a->findings, VF_SEV_INFO,
                                        "PEFT names modules inside the model class: adapter keys carry "
                                        "'%s' before the checkpoint's names", a->prefix) != VF_OK)
        return nomem(a);
    rc = predict(a, &plan);
    for (size_t i = 0; rc == VF_OK && i < vf_adapter_plan_count(plan); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(plan, i);
        rc = x->kind == VF_ADAPTER_KIND_LORA || x->kind == VF_ADAPTER_KIND_LORA_EMBED ? compare_pair(a, x) : compare_whole(a, x);
    }
    if (rc == VF_OK && plan)
        vf_acc_u64(&a->totals.expected_params, vf_adapter_plan_totals(plan)->trainable);
    const vf_findings *pf = plan ? vf_adapter_plan_findings(plan) : NULL;
    for (size_t i = 0; rc == VF_OK && pf && i < vf_findings_count(pf); i++)
        if (!about_auto_head(a, vf_findings_get(pf, i)->message) && vf_findings_add(a->findings, vf_findings_get(pf, i)->severity, "%s",
                            vf_findings_get(pf, i)->message) != VF_OK)
            rc = nomem(a);
    for (size_t i = 0; rc == VF_OK && i < a->n; i++)
        if (!a->matched[i])
            rc = report_extra(a, &a->e[i]);
    vf_adapter_plan_free(plan);
    return rc;
}

/* No --base: base_model_name_or_path when it is a Hub id in the local cache, else the config alone
 * with a finding saying why. */
static int audit_cached_base(vf_audit *a, const vf_open_options *opts)
{
    const char *id = a->cfg->base_model;
    vf_hf_location loc;
    vf_error e = {0};
    if (id && *id && vf_hf_is_model_id(id) && vf_hf_resolve(id, opts, &loc, &e) == VF_OK) {
        vf_hf_location_free(&loc);
        return audit_base(a, id, opts);
    }
    int rc = vf_findings_add(a->findings, VF_SEV_INFO,
                             id && *id ? "base_model_name_or_path '%s' not used as the base: %s; give "
                                         "--base PATH to check the adapter against it"
                                       : "%sno base_model_name_or_path in adapter_config.json%s; give "
                                         "--base PATH to check the adapter against its base",
                             id && *id ? id : "",
                             id && *id ? (e.code ? e.message : "not a Hub model id") : "");
    return rc == VF_OK ? audit_config_only(a) : nomem(a);
}

/* ---- entry point and accessors ----------------------------------------------------------------- */

static int open_adapter(vf_audit *a, const char *dir)
{
    int rc = vf_checkpoint_open(dir, NULL, &a->cp, a->err);
    if (rc != VF_OK)
        return rc;
    /* Paths longer than the error record are truncated in messages only. */
    snprintf(a->dir, sizeof a->dir, "%s", vf_checkpoint_dir(a->cp));
    const char *shard = vf_checkpoint_shard_count(a->cp) == 1 ? vf_checkpoint_shard(a->cp, 0)->name : NULL;
    int k = snprintf(a->file, sizeof a->file, "%s%s%s", a->dir, shard ? "/" : "", shard ? shard : "");
    char *cfgname = a->cfg_file;
    int k2 = snprintf(cfgname, sizeof a->cfg_file, "%s/%s", a->dir, "adapter_config.json");
    (void)k;
    (void)k2;
    size_t len = 0;
    const uint8_t *buf = vf_checkpoint_aux(a->cp, "adapter_config.json", &len);
    if (!buf)
        return vf_error_set(a->err, VF_ERR_NOT_FOUND, cfgname, NULL,
                            "missing: a PEFT adapter directory holds adapter_config.json");
    return vf_peft_config_parse(buf, len, cfgname, &a->cfg, a->err);
}

int vf_audit_run(const char *adapter_dir, const char *base_path, const vf_open_options *opts,
                 vf_audit **out, vf_error *err)
{
    *out = NULL;
    if (!adapter_dir)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no adapter directory");
    vf_audit *a = calloc(1, sizeof *a);
    if (!a || !(a->findings = vf_findings_new())) {
        free(a);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    vf_error local = {0};
    a->err = err ? err : &local;
    raw *v = NULL;
    size_t n = 0;
    int rc = open_adapter(a, adapter_dir);
    if (rc == VF_OK)
        rc = collect_raw(a, &v, &n);
    if (rc == VF_OK)
        rc = build_entries(a, v, n);
    free(v);
    if (rc == VF_OK)
        rc = base_path ? audit_base(a, base_path, opts) : audit_cached_base(a, opts);
    a->err = NULL;
    if (rc != VF_OK) {
        vf_audit_free(a);
        return rc;
    }
    *out = a;
    return VF_OK;
}

void vf_audit_free(vf_audit *a)
{
    if (!a)
        return;
    vf_checkpoint_free(a->cp);
    vf_model_free(a->base);
    vf_peft_config_free(a->cfg);
    for (size_t i = 0; i < a->n_owned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->e);
    free(a->matched);
    vf_name_map_free(&a->by_module);
    vf_name_map_free(&a->by_key);
    free(a->d);
    vf_findings_free(a->findings);
    free(a);
}

const vf_peft_config *vf_audit_config(const vf_audit *a) { return a->cfg; }
size_t vf_audit_entry_count(const vf_audit *a) { return a ? a->n : 0; }

const vf_audit_entry *vf_audit_entry_at(const vf_audit *a, size_t i)
{
    return a && i < a->n ? &a->e[i] : NULL;
}

size_t vf_audit_diff_count(const vf_audit *a) { return a ? a->nd : 0; }

const vf_audit_diff *vf_audit_diff_at(const vf_audit *a, size_t i)
{
    return a && i < a->nd ? &a->d[i] : NULL;
}

const vf_audit_totals *vf_audit_get_totals(const vf_audit *a) { return &a->totals; }
const vf_findings *vf_audit_findings(const vf_audit *a) { return a->findings; }
const vf_family *vf_audit_family(const vf_audit *a) { return a && a->has_family ? &a->family : NULL; }
const char *vf_audit_file(const vf_audit *a) { return a->file; }

const char *vf_audit_base_name(const vf_audit *a)
{
    return a && a->base ? vf_checkpoint_name(vf_model_checkpoint(a->base)) : NULL;
}

int vf_audit_verdict(const vf_audit *a, vf_error *err)
{
    if (!a || a->nd == 0)
        return VF_OK;
    return vf_error_set(err, VF_ERR_MISMATCH, a->file, a->d[0].tensor, "%zu difference%s from the %s; first: %s",
                        a->nd, a->nd == 1 ? "" : "s", a->base ? "prediction" : "config", a->d[0].message);
}
