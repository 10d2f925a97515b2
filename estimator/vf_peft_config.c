/* vf_peft_config.c - a strict reader of PEFT's adapter_config.json, from (bytes, len).
 *
 * The file is hostile: bounded size, UTF-8, one JSON object, case-sensitive keys, no duplicate keys,
 * type-checked values, counts as exact non-negative integers read from valuedouble (never valueint,
 * which saturates). Errors name the file and the key (vf_error.tensor) in one line. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- input checks ------------------------------------------------------------------------------ */

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the offset of the first bad byte
 * or len. */
static size_t utf8_bad_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || i + n > len || (n == 2 && c < 0xC2))
            return i;
        uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += n;
    }
    return len;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fails when an object holds the same key twice (cJSON keeps both; lookups see the first). */
static int check_duplicates(pctx *x, const cJSON *obj, const char *where)
{
    size_t n = 0;
    for (const cJSON *e = obj->child; e; e = e->next)
        n++;
    if (n < 2)
        return VF_OK;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys)
        return nomem(x);
    n = 0;
    for (const cJSON *e = obj->child; e; e = e->next)
        keys[n++] = e->string ? e->string : "";
    qsort(keys, n, sizeof *keys, cmp_str);
    int rc = VF_OK;
    for (size_t i = 1; i < n && rc == VF_OK; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            rc = vf_error_set(x->err, VF_ERR_CONFIG, x->file, keys[i], "key appears twice in %s", where);
    free(keys);
    return rc;
}

/* Exact integer in [lo, hi] from a JSON number. */
static bool exact_u64(const cJSON *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
        return false;
    uint64_t u = (uint64_t)d;
    if (u < lo || u > hi)
        return false;
    *out = u;
    return true;
}

/* ---- typed fields ------------------------------------------------------------------------------ */

static const cJSON *field(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* Optional string: *out NULL when absent or null. */
static int get_string(pctx *x, const cJSON *root, const char *key, const char **out)
{
    const cJSON *v = field(root, key);
    *out = NULL;
    if (!v)
        return VF_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return bad(x, VF_ERR_CONFIG, key, "must be a string or null");
    if (!(*out = own(x, v->valuestring, strlen(v->valuestring))))
        return nomem(x);
    return VF_OK;
}

static int get_bool(pctx *x, const cJSON *root, const char *key, bool *out)
{
    const cJSON *v = field(root, key);
    *out = false;
    if (v && !cJSON_IsBool(v))
        return bad(x, VF_ERR_CONFIG, key, "must be true, false or null");
    *out = v && cJSON_IsTrue(v);
    return VF_OK;
}

/* Module entries: a list of non-empty strings without ',' (joined into *list) or one string
 * (*regex). Both NULL when absent or null. */
static int get_modules(pctx *x, const cJSON *root, const char *key, const char **list, const char **regex)
{
    const cJSON *v = field(root, key);
    *list = *regex = NULL;
    if (!v)
        return VF_OK;
    if (cJSON_IsString(v) && v->valuestring) {
        if (!*v->valuestring)
            return bad(x, VF_ERR_CONFIG, key, "must not be an empty string");
        return (*regex = own(x, v->valuestring, strlen(v->valuestring))) ? VF_OK : nomem(x);
    }
    if (!cJSON_IsArray(v))
        return bad(x, VF_ERR_CONFIG, key, "must be a list of module names, a regex string or null");
    size_t total = 0, n = 0;
    for (const cJSON *e = v->child; e; e = e->next, n++) {
        if (!cJSON_IsString(e) || !e->valuestring || !*e->valuestring || strchr(e->valuestring, ','))
            return bad(x, VF_ERR_CONFIG, key, "entries must be non-empty module names without ','");
        total += strlen(e->valuestring) + 1;
    }
    if (n == 0)
        return VF_OK;
    char *joined = own_alloc(x, total);
    if (!joined)
        return nomem(x);
    size_t o = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        size_t k = strlen(e->valuestring);
        if (o)
            joined[o++] = ',';
        memcpy(joined + o, e->valuestring, k);
        o += k;
    }
    *list = joined;
    return VF_OK;
}

static int get_rank_pattern(pctx *x, const cJSON *root)
{
    const char *key = "rank_pattern";
    const cJSON *v = field(root, key);
    if (!v)
        return VF_OK;
    if (!cJSON_IsObject(v))
        return bad(x, VF_ERR_CONFIG, key, "must be an object of module pattern -> rank");
    int rc = check_duplicates(x, v, key);
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    if (rc != VF_OK || n == 0)
        return rc;
    if (!(x->c->rank_rules = calloc(n, sizeof *x->c->rank_rules)))
        return nomem(x);
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!e->string || !*e->string ||
            !exact_u64(e, 1, VF_ADAPTER_RANK_MAX, &x->c->rank_rules[i].rank))
            return vf_error_set(x->err, VF_ERR_CONFIG, x->file, key,
                                "entry '%s' must map a non-empty pattern to an integer rank 1..2^32",
                                e->string ? e->string : "");
        if (!(x->c->rank_rules[i].pattern = own(x, e->string, strlen(e->string))))
            return nomem(x);
    }
    x->c->pub.rank_pattern = x->c->rank_rules;
    x->c->pub.rank_pattern_count = n;
    return VF_OK;
}

static int get_alpha_pattern(pctx *x, const cJSON *root)
{
    const char *key = "alpha_pattern";
    const cJSON *v = field(root, key);
    if (!v)
        return VF_OK;
    if (!cJSON_IsObject(v))
        return bad(x, VF_ERR_CONFIG, key, "must be an object of module pattern -> alpha");
    int rc = check_duplicates(x, v, key);
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    if (rc != VF_OK || n == 0)
        return rc;
    if (!(x->c->alpha_rules = calloc(n, sizeof *x->c->alpha_rules)))
        return nomem(x);
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!e->string || !*e->string || !cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return vf_error_set(x->err, VF_ERR_CONFIG, x->file, key,
                                "entry '%s' must map a non-empty pattern to a number",
                                e->string ? e->string : "");
        x->c->alpha_rules[i].alpha = e->valuedouble;
        if (!(x->c->alpha_rules[i].pattern = own(x, e->string, strlen(e->string))))
            return nomem(x);
    }
    x->c->pub.alpha_pattern = x->c->alpha_rules;
    x->c->pub.alpha_pattern_count = n;
    return VF_OK;
}

/* ---- the document ------------------------------------------------------------------------------ */

static int get_core(pctx *x, const cJSON *root)
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
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "r");
    if (!r)
        return bad(x, VF_ERR_CONFIG, "r", "missing (the LoRA rank)");
    if (!exact_u64(r, 1, VF_ADAPTER_RANK_MAX, &c->r))
        return bad(x, VF_ERR_CONFIG, "r", "must be an integer 1..2^32");
    const cJSON *a = field(root, "lora_alpha");
    if (a && (!cJSON_IsNumber(a) || !isfinite(a->valuedouble) || a->valuedouble < 0))
        return bad(x, VF_ERR_CONFIG, "lora_alpha", "must be a non-negative number");
    c->lora_alpha = a ? a->valuedouble : 0.0;
    return VF_OK;
}

static int get_flags(pctx *x, const cJSON *root)
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
static int check_unsupported(pctx *x, const cJSON *root)
{
    static const char *const keys[] = {"layers_to_transform", "layer_replication", "trainable_token_indices",
                                        NULL};
    for (const char *const *k = keys; *k; k++)
        if (field(root, *k))
            return bad(x, VF_ERR_UNSUPPORTED, *k, "is set; vramfit does not model this setting");
    const cJSON *tp = field(root, "target_parameters");
    if (tp && !(cJSON_IsArray(tp) && cJSON_GetArraySize(tp) == 0))
        return bad(x, VF_ERR_UNSUPPORTED, "target_parameters",
                   "is set; LoRA on raw parameters is not modelled");
    const cJSON *lb = field(root, "lora_bias");
    if (lb && !cJSON_IsBool(lb))
        return bad(x, VF_ERR_CONFIG, "lora_bias", "must be true, false or null");
    if (lb && cJSON_IsTrue(lb))
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

static int parse_root(pctx *x, const cJSON *root)
{
    vf_peft_config *c = &x->c->pub;
    if (!cJSON_IsObject(root))
        return bad(x, VF_ERR_CONFIG, NULL, "not a JSON object");
    int rc = check_duplicates(x, root, "the top-level object");
    if (rc == VF_OK)
        rc = get_core(x, root);
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

/* Whitespace only from p to end. */
static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
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
    size_t at = utf8_bad_at(buf, len);
    if (at != len)
        return vf_error_set(err, VF_ERR_CONFIG, file, NULL, "not valid UTF-8 at byte %zu", at);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
    if (!root || !only_space(end, (const char *)buf + len)) {
        size_t pos = end && end >= (const char *)buf ? (size_t)(end - (const char *)buf) : 0;
        cJSON_Delete(root);
        return vf_error_set(err, VF_ERR_CONFIG, file, NULL, "not valid JSON (at byte %zu)", pos);
    }
    pctx x = {calloc(1, sizeof(peft_owned)), file, err};
    int rc = x.c ? parse_root(&x, root) : nomem(&x);
    cJSON_Delete(root);
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
