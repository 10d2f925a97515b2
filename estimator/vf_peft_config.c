/* vf_peft_config.c - a strict reader of PEFT's adapter_config.json, from (bytes, len).
 *
 * The file is hostile: bounded size, then the library's one JSON reader (vf_json.h: strict UTF-8 and
 * syntax, no duplicate key in any object, counts under its integer rule), one JSON object,
 * case-sensitive keys, type-checked values. Errors name the file and the key (vf_error.tensor) in
 * one line. */
#include <stdlib.h>
#include <string.h>

#include "vf_json.h"
#include "vramfit/vf_adapters.h"

typedef struct peft_owned {
    vf_peft_config pub; /* first member: the public view */
    char **allocs;      /* every string owned by the config */
    size_t n, cap;
    vf_rank_rule *rank_rules;
    vf_alpha_rule *alpha_rules;
    vf_name_regex *target_re;  /* target_modules as a regex (not all-linear), compiled once */
    vf_name_regex *exclude_re; /* exclude_modules as a regex, compiled once */
    vf_name_regex **rank_re;   /* rank_pattern[i] compiled, rank_pattern_count entries */
} peft_owned;

typedef struct pctx {
    peft_owned *c;
    const char *file;
    vf_error *err;
    const vf_jdoc *doc;
} pctx;

void vf_peft_config_free(vf_peft_config *cfg)
{
    peft_owned *c = (peft_owned *)cfg;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->allocs[i]);
    free(c->allocs);
    free(c->rank_rules);
    free(c->alpha_rules);
    vf_name_regex_free(c->target_re);
    vf_name_regex_free(c->exclude_re);
    for (size_t i = 0; c->rank_re && i < c->pub.rank_pattern_count; i++)
        vf_name_regex_free(c->rank_re[i]);
    free(c->rank_re);
    free(c);
}

static int bad(pctx *x, int code, const char *key, const char *msg)
{
    return vf_error_set(x->err, code, x->file, key, "%s", msg);
}

static int nomem(pctx *x) { return vf_error_set(x->err, VF_ERR_NOMEM, x->file, NULL, "out of memory"); }

/* A zeroed buffer of n + 1 bytes owned by the config, or NULL. */
static char *own_alloc(pctx *x, size_t n)
{
    peft_owned *c = x->c;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **v = realloc(c->allocs, cap * sizeof *v);
        if (!v)
            return NULL;
        c->allocs = v;
        c->cap = cap;
    }
    char *p = calloc(1, n + 1);
    if (!p)
        return NULL;
    return c->allocs[c->n++] = p;
}

/* Copies s (n bytes) into a string owned by the config. */
static char *own(pctx *x, const char *s, size_t n)
{
    char *p = own_alloc(x, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- typed fields ------------------------------------------------------------------------------ */

/* A count under the one integer rule (vf_jnode_u64), in [lo, hi]. */
static bool exact_u64(const vf_jnode *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t u;
    if (!vf_jnode_u64(v, &u) || u < lo || u > hi)
        return false;
    *out = u;
    return true;
}

static const vf_jnode *field(const pctx *x, const vf_jnode *root, const char *key)
{
    const vf_jnode *v = vf_jdoc_get(x->doc, root, key);
    return v && v->type != VF_JNULL ? v : NULL;
}

/* Optional string: *out NULL when absent or null. */
static int get_string(pctx *x, const vf_jnode *root, const char *key, const char **out)
{
    const vf_jnode *v = field(x, root, key);
    const char *s = vf_jnode_string(v);
    *out = NULL;
    if (!v)
        return VF_OK;
    if (!s)
        return bad(x, VF_ERR_CONFIG, key, "must be a string or null");
    if (!(*out = own(x, s, strlen(s))))
        return nomem(x);
    return VF_OK;
}

static int get_bool(pctx *x, const vf_jnode *root, const char *key, bool *out)
{
    const vf_jnode *v = field(x, root, key);
    *out = false;
    if (v && v->type != VF_JTRUE && v->type != VF_JFALSE)
        return bad(x, VF_ERR_CONFIG, key, "must be true, false or null");
    *out = vf_jnode_is(v, VF_JTRUE);
    return VF_OK;
}

/* Module entries: a list of non-empty strings without ',' (joined into *list) or one string
 * (*regex). Both NULL when absent or null. */
static int get_modules(pctx *x, const vf_jnode *root, const char *key, const char **list, const char **regex)
{
    const vf_jnode *v = field(x, root, key);
    *list = *regex = NULL;
    if (!v)
        return VF_OK;
    if (v->type == VF_JSTRING) {
        const char *s = vf_jnode_string(v);
        if (!s || !*s)
            return bad(x, VF_ERR_CONFIG, key, s ? "must not be an empty string" : "must not contain U+0000");
        return (*regex = own(x, s, strlen(s))) ? VF_OK : nomem(x);
    }
    if (v->type != VF_JARRAY)
        return bad(x, VF_ERR_CONFIG, key, "must be a list of module names, a regex string or null");
    size_t total = 0;
    for (const vf_jnode *e = vf_jdoc_first(x->doc, v); e; e = vf_jdoc_next(x->doc, e)) {
        const char *s = vf_jnode_string(e);
        if (!s || !*s || strchr(s, ','))
            return bad(x, VF_ERR_CONFIG, key, "entries must be non-empty module names without ','");
        total += strlen(s) + 1;
    }
    if (v->count == 0)
        return VF_OK;
    char *joined = own_alloc(x, total);
    if (!joined)
        return nomem(x);
    size_t o = 0;
    for (const vf_jnode *e = vf_jdoc_first(x->doc, v); e; e = vf_jdoc_next(x->doc, e)) {
        size_t k = strlen(e->str);
        if (o)
            joined[o++] = ',';
        memcpy(joined + o, e->str, k);
        o += k;
    }
    *list = joined;
    return VF_OK;
}

/* An object of pattern -> value (rank_pattern, alpha_pattern): its members, or NULL when absent. */
static int pattern_object(pctx *x, const vf_jnode *root, const char *key, const char *what,
                          const vf_jnode **out)
{
    const vf_jnode *v = field(x, root, key);
    *out = NULL;
    if (!v)
        return VF_OK;
    if (v->type != VF_JOBJECT)
        return vf_error_set(x->err, VF_ERR_CONFIG, x->file, key, "must be an object of module pattern -> %s",
                            what);
    *out = v;
    return VF_OK;
}

static int get_rank_pattern(pctx *x, const vf_jnode *root)
{
    const char *key = "rank_pattern";
    const vf_jnode *v;
    int rc = pattern_object(x, root, key, "rank", &v);
    if (rc != VF_OK || !v || v->count == 0)
        return rc;
    if (!(x->c->rank_rules = calloc(v->count, sizeof *x->c->rank_rules)))
        return nomem(x);
    size_t i = 0;
    for (const vf_jnode *e = vf_jdoc_first(x->doc, v); e; e = vf_jdoc_next(x->doc, e), i++) {
        if (e->nul || !*e->key || !exact_u64(e, 1, VF_ADAPTER_RANK_MAX, &x->c->rank_rules[i].rank))
            return vf_error_set(x->err, VF_ERR_CONFIG, x->file, key,
                                "entry '%s' must map a non-empty pattern to an integer rank 1..2^32", e->key);
        if (!(x->c->rank_rules[i].pattern = own(x, e->key, strlen(e->key))))
            return nomem(x);
    }
    x->c->pub.rank_pattern = x->c->rank_rules;
    x->c->pub.rank_pattern_count = v->count;
    return VF_OK;
}

static int get_alpha_pattern(pctx *x, const vf_jnode *root)
{
    const char *key = "alpha_pattern";
    const vf_jnode *v;
    int rc = pattern_object(x, root, key, "alpha", &v);
    if (rc != VF_OK || !v || v->count == 0)
        return rc;
    if (!(x->c->alpha_rules = calloc(v->count, sizeof *x->c->alpha_rules)))
        return nomem(x);
    size_t i = 0;
    for (const vf_jnode *e = vf_jdoc_first(x->doc, v); e; e = vf_jdoc_next(x->doc, e), i++) {
        if (e->nul || !*e->key || !vf_jnode_double(e, &x->c->alpha_rules[i].alpha))
            return vf_error_set(x->err, VF_ERR_CONFIG, x->file, key,
                                "entry '%s' must map a non-empty pattern to a number", e->key);
        if (!(x->c->alpha_rules[i].pattern = own(x, e->key, strlen(e->key))))
            return nomem(x);
    }
    x->c->pub.alpha_pattern = x->c->alpha_rules;
    x->c->pub.alpha_pattern_count = v->count;
    return VF_OK;
}

/* ---- the document ------------------------------------------------------------------------------ */

static int get_core(pctx *x, const vf_jnode *root)
{
    vf_peft_config *c = &x->c->pub;
    int rc = get_string(x, root, "peft_type", &c->peft_type);
    if (rc == VF_OK && c->peft_type && strcmp(c->peft_type, "LORA") != 0)
        return vf_error_set(x->err, VF_ERR_UNSUPPORTED, x->file, "peft_type",
                            "'%s' adapters are not supported (LORA only)", c->peft_type);
    if (rc == VF_OK)
        rc = get_string(x, root, "task_type", &c->task_type);
    if (rc == VF_OK)
        rc = get_string(x, root, "base_model_name_or_path", &c->base_model);
    if (rc != VF_OK)
        return rc;
    const vf_jnode *r = vf_jdoc_get(x->doc, root, "r");
    if (!r)
        return bad(x, VF_ERR_CONFIG, "r", "missing (the LoRA rank)");
    if (!exact_u64(r, 1, VF_ADAPTER_RANK_MAX, &c->r))
        return bad(x, VF_ERR_CONFIG, "r", "must be an integer 1..2^32");
    const vf_jnode *a = field(x, root, "lora_alpha");
    c->lora_alpha = 0.0;
    if (a && (!vf_jnode_double(a, &c->lora_alpha) || c->lora_alpha < 0))
        return bad(x, VF_ERR_CONFIG, "lora_alpha", "must be a non-negative number");
    return VF_OK;
}

static int get_flags(pctx *x, const vf_jnode *root)
{
    vf_peft_config *c = &x->c->pub;
    const char *bias = NULL;
    int rc = get_bool(x, root, "use_dora", &c->use_dora);
    if (rc == VF_OK)
        rc = get_bool(x, root, "use_rslora", &c->use_rslora);
    if (rc == VF_OK)
        rc = get_bool(x, root, "fan_in_fan_out", &c->fan_in_fan_out);
    if (rc == VF_OK)
        rc = get_string(x, root, "bias", &bias);
    if (rc == VF_OK && bias && !vf_lora_bias_from_name(bias, &c->bias))
        return bad(x, VF_ERR_CONFIG, "bias", "must be \"none\", \"all\" or \"lora_only\"");
    return rc;
}

/* Settings that change which tensors exist in ways vramfit does not model. */
static int check_unsupported(pctx *x, const vf_jnode *root)
{
    static const char *const keys[] = {"layers_to_transform", "layer_replication", "trainable_token_indices",
                                        NULL};
    for (const char *const *k = keys; *k; k++)
        if (field(x, root, *k))
            return bad(x, VF_ERR_UNSUPPORTED, *k, "is set; vramfit does not model this setting");
    const vf_jnode *tp = field(x, root, "target_parameters");
    if (tp && !(tp->type == VF_JARRAY && tp->count == 0))
        return bad(x, VF_ERR_UNSUPPORTED, "target_parameters",
                   "is set; LoRA on raw parameters is not modelled");
    bool lb;
    int rc = get_bool(x, root, "lora_bias", &lb);
    if (rc != VF_OK)
        return rc;
    if (lb)
        return bad(x, VF_ERR_UNSUPPORTED, "lora_bias", "is true; a bias on lora_B is not modelled");
    return VF_OK;
}

/* One regex of the config compiled as PEFT will use it: an invalid one is VF_ERR_CONFIG naming the
 * key (and the character), whether or not a base is given later. The compiled regex goes to *keep
 * (owned by the config) or is freed when keep is NULL. */
static int check_regex(pctx *x, const char *pattern, bool suffix, const char *key, vf_name_regex **keep)
{
    vf_name_regex *re = NULL;
    vf_error e = {0};
    int rc = vf_name_regex_new(pattern, suffix, &re, &e);
    if (rc == VF_OK && keep)
        *keep = re;
    else
        vf_name_regex_free(re);
    if (rc == VF_OK)
        return rc;
    return vf_error_set(x->err, rc == VF_ERR_USAGE ? VF_ERR_CONFIG : rc, x->file, key, "%s", e.message);
}

static int check_regexes(pctx *x)
{
    const vf_peft_config *c = &x->c->pub;
    int rc = VF_OK;
    if (c->target_regex && strcmp(c->target_regex, "all-linear") != 0)
        rc = check_regex(x, c->target_regex, false, "target_modules", &x->c->target_re);
    if (rc == VF_OK && c->exclude_regex)
        rc = check_regex(x, c->exclude_regex, false, "exclude_modules", &x->c->exclude_re);
    if (rc == VF_OK && c->rank_pattern_count &&
        !(x->c->rank_re = calloc(c->rank_pattern_count, sizeof *x->c->rank_re)))
        return vf_error_set(x->err, VF_ERR_NOMEM, x->file, NULL, "out of memory");
    for (size_t i = 0; rc == VF_OK && i < c->rank_pattern_count; i++)
        rc = check_regex(x, c->rank_pattern[i].pattern, true, "rank_pattern", &x->c->rank_re[i]);
    for (size_t i = 0; rc == VF_OK && i < c->alpha_pattern_count; i++)
        rc = check_regex(x, c->alpha_pattern[i].pattern, true, "alpha_pattern", NULL);
    return rc;
}

static int parse_root(pctx *x, const vf_jnode *root)
{
    vf_peft_config *c = &x->c->pub;
    if (!vf_jnode_is(root, VF_JOBJECT))
        return bad(x, VF_ERR_CONFIG, NULL, "not a JSON object");
    int rc = get_core(x, root);
    if (rc == VF_OK)
        rc = get_modules(x, root, "target_modules", &c->target_modules, &c->target_regex);
    if (rc == VF_OK)
        rc = get_modules(x, root, "exclude_modules", &c->exclude_modules, &c->exclude_regex);
    if (rc == VF_OK) {
        const char *regex = NULL;
        rc = get_modules(x, root, "modules_to_save", &c->modules_to_save, &regex);
        if (rc == VF_OK && regex)
            rc = bad(x, VF_ERR_CONFIG, "modules_to_save", "must be a list of module names or null");
    }
    if (rc == VF_OK)
        rc = get_rank_pattern(x, root);
    if (rc == VF_OK)
        rc = get_alpha_pattern(x, root);
    if (rc == VF_OK)
        rc = get_flags(x, root);
    if (rc == VF_OK)
        rc = check_unsupported(x, root);
    if (rc == VF_OK)
        rc = check_regexes(x);
    return rc;
}

int vf_peft_config_parse(const uint8_t *buf, size_t len, const char *file, vf_peft_config **out,
                         vf_error *err)
{
    *out = NULL;
    file = file ? file : "adapter_config.json";
    if (!buf && len)
        return vf_error_set(err, VF_ERR_USAGE, file, NULL, "no buffer");
    if (len > VF_PEFT_CONFIG_MAX)
        return vf_error_set(err, VF_ERR_CONFIG, file, NULL, "larger than %u bytes", VF_PEFT_CONFIG_MAX);
    vf_jdoc *doc = NULL;
    int rc = vf_jdoc_parse(buf, len, file, "adapter config", VF_ERR_CONFIG, &doc, err);
    if (rc != VF_OK)
        return rc;
    pctx x = {calloc(1, sizeof(peft_owned)), file, err, doc};
    rc = x.c ? parse_root(&x, vf_jdoc_root(doc)) : nomem(&x);
    vf_jdoc_free(doc);
    if (rc != VF_OK) {
        vf_peft_config_free(x.c ? &x.c->pub : NULL);
        return rc;
    }
    *out = &x.c->pub;
    return VF_OK;
}

const vf_name_regex *vf_peft_config_target_regex(const vf_peft_config *cfg)
{
    return cfg ? ((const peft_owned *)cfg)->target_re : NULL;
}

const vf_name_regex *vf_peft_config_exclude_regex(const vf_peft_config *cfg)
{
    return cfg ? ((const peft_owned *)cfg)->exclude_re : NULL;
}

const vf_name_regex *vf_peft_config_rank_regex(const vf_peft_config *cfg, size_t i)
{
    const peft_owned *c = (const peft_owned *)cfg;
    return c && c->rank_re && i < cfg->rank_pattern_count ? c->rank_re[i] : NULL;
}
