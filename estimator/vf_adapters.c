/* vf_adapters.c - LoRA and OSFT plans: target selection with PEFT semantics or a Training Hub
 * family, then exact per-matrix sizes, totals and the estimator's inputs (vf_adapters.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vf_common_internal.h"
#include "vf_estimator_internal.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_checked.h"

#define MODULE_MAX 1024 /* longest prefixed module name matched (longer names never match) */

struct vf_adapter_plan {
    vf_adapter_matrix *v;
    size_t n, cap;
    vf_adapter_totals totals;
    vf_family family;
    char **targets;
    size_t target_count;
    vf_arena modules;           /* the matrices' module names */
    uint64_t *layer_params;
    size_t layer_slots;
    vf_findings *findings;
};

/* ---- string lists ------------------------------------------------------------------------------ */

typedef struct strlist {
    char *buf;      /* the list with ',' replaced by NULs */
    char **v;       /* entries into buf */
    size_t *len;    /* their lengths */
    bool *hit;      /* per entry: matched something */
    size_t n;
} strlist;

static void strlist_free(strlist *l)
{
    free(l->buf);
    free(l->v);
    free(l->len);
    free(l->hit);
    memset(l, 0, sizeof *l);
}

/* Splits a comma list; empty entries are a usage error naming `what`. NULL s gives an empty list. */
static int strlist_split(const char *s, const char *what, strlist *l, vf_error *err)
{
    memset(l, 0, sizeof *l);
    if (!s)
        return VF_OK;
    size_t len = strlen(s), n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    l->buf = malloc(len + 1);
    l->v = calloc(n, sizeof *l->v);
    l->len = calloc(n, sizeof *l->len);
    l->hit = calloc(n, sizeof *l->hit);
    if (!l->buf || !l->v || !l->len || !l->hit)
        return strlist_free(l), vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    memcpy(l->buf, s, len + 1);
    for (char *p = l->buf;; p++) {
        l->v[l->n++] = p;
        p += strcspn(p, ",");
        if (!*p)
            break;
        *p = '\0';
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!*l->v[i])
            return strlist_free(l),
                   vf_error_set(err, VF_ERR_USAGE, NULL, what, "empty entry in '%s'", s);
        l->len[i] = strlen(l->v[i]);
    }
    return VF_OK;
}

/* A module name as matched: n bytes at s, NUL-terminated only when copied (vf_peft_match's rule
 * needs no terminator; a regex does, and then the key is a copy). */
typedef struct name_key {
    const char *s;
    size_t n;
} name_key;

/* Index of the first entry of l matching key by PEFT's rule (vf_peft_match), marking every matching
 * entry hit; -1 when none does. */
static long strlist_match(strlist *l, name_key key)
{
    long found = -1;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = l->len[i];
        if (k <= key.n && key.s[key.n - 1] == l->v[i][k - 1] && memcmp(key.s + key.n - k, l->v[i], k) == 0 &&
            (k == key.n || key.s[key.n - k - 1] == '.')) {
            l->hit[i] = true;
            if (found < 0)
                found = (long)i;
        }
    }
    return found;
}

/* ---- regular expressions ----------------------------------------------------------------------- */

/* Compiles pattern, naming the option `what` in the error. */
static int regex_compile(vf_name_regex **re, const char *pattern, bool suffix, const char *what,
                         vf_error *err)
{
    int rc = vf_name_regex_new(pattern, suffix, re, err);
    if (rc == VF_ERR_USAGE && err)
        snprintf(err->tensor, sizeof err->tensor, "%s", what);
    return rc;
}

/* ---- the selection ----------------------------------------------------------------------------- */

typedef enum sel_mode { SEL_FAMILY, SEL_LIST, SEL_REGEX, SEL_ALL_LINEAR } sel_mode;

typedef struct selector {
    sel_mode mode;
    strlist list, exclude;
    vf_name_regex *re, *exclude_re;
    vf_scan family_scan; /* SEL_FAMILY: "weight" and the family's patterns */
    vf_scan_cursor family_cursor;
    uint64_t weight_bit, pattern_bits;
    const vf_family_hits *hits; /* the detection's scan of every name, when it kept one */
    bool family_lm_only; /* a detected family targets the language model only */
    bool skip_fused;
    bool skipped_fused;  /* a fused 3-D tensor matched but was skipped */
    bool skipped_quant;  /* all-linear left out quantized layers that are not nn.Linear */
} selector;

static void selector_free(selector *s)
{
    strlist_free(&s->list);
    strlist_free(&s->exclude);
    vf_name_regex_free(s->re);
    vf_name_regex_free(s->exclude_re);
}

/* The patterns of family_match: a family's patterns fit one vf_scan (the family detection holds them
 * all in one); one that did not would match nothing. */
static void family_scan_build(selector *s, const vf_family *fam)
{
    int id;
    vf_scan_init(&s->family_scan);
    id = vf_scan_add(&s->family_scan, "weight");
    s->weight_bit = id >= 0 ? 1ull << id : 0;
    for (const char *const *p = fam->patterns; *p; p++)
        if ((id = vf_scan_add(&s->family_scan, *p)) >= 0)
            s->pattern_bits |= 1ull << id;
    vf_scan_finish(&s->family_scan);
    vf_scan_cursor_init(&s->family_cursor, &s->family_scan);
}

static int selector_init(selector *s, const vf_target_spec *t, const vf_family *fam, vf_error *err)
{
    memset(s, 0, sizeof *s);
    s->family_lm_only = !t->family;
    if (t->modules && t->regex)
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--target-regex",
                            "give either a target list or a target regex, not both");
    int rc = VF_OK;
    if (t->regex) {
        s->mode = SEL_REGEX;
        rc = regex_compile(&s->re, t->regex, false, "--target-regex", err);
    } else if (t->modules && strcmp(t->modules, "all-linear") == 0) {
        s->mode = SEL_ALL_LINEAR;
    } else if (t->modules) {
        s->mode = SEL_LIST;
        rc = strlist_split(t->modules, "--target", &s->list, err);
    } else {
        family_scan_build(s, fam);
    }
    if (rc == VF_OK)
        rc = strlist_split(t->exclude, "--exclude", &s->exclude, err);
    if (rc == VF_OK && t->exclude_regex) {
        rc = regex_compile(&s->exclude_re, t->exclude_regex, false, "exclude_modules", err);
    }
    return rc;
}

/* Length of the module name of a quantized weight: the name without ".weight", ".qweight" or
 * ".weight_packed" (the module PEFT wraps), or without "_blocks" (MXFP4: the fused parameter). */
static size_t quant_module_len(const vf_tensor *t, size_t n)
{
    if (n > 7 && strcmp(t->name + n - 7, "_blocks") == 0)
        return n - 7;
    const char *dot = strrchr(t->name, '.');
    return dot ? (size_t)(dot - t->name) : n;
}

/* The length of t's module name (without prefix; the first *len bytes of t->name), or false when
 * t can never be an adapter target: a 2-D "<module>.weight" or a fused 3-D expert tensor
 * (GraniteMoe's `input_linear.weight` is named by its module `input_linear`, a bare parameter such
 * as `experts.gate_up_proj` by itself), or a quantized weight by its module. Tensors transformers
 * does not load (MTP blocks), quantization metadata and names of MODULE_MAX bytes or more are never
 * targets. */
static bool target_module(const vf_tensor *t, size_t *len)
{
    if (t->buffer || t->ignored || t->quant == VF_QPART_META)
        return false;
    size_t n = strlen(t->name);
    bool leaf = n > 7 && memcmp(t->name + n - 7, ".weight", 7) == 0;
    if (n + 1 > MODULE_MAX)
        return false;
    if (t->quant == VF_QPART_WEIGHT)
        *len = quant_module_len(t, n);
    else if ((t->ndim == 2 || (t->ndim == 3 && t->fused_experts)) && leaf)
        *len = n - 7;
    else if (t->ndim == 3 && t->fused_experts)
        *len = n;
    else
        return false;
    return true;
}

/* A single matrix as the loaded model sees it (a quantized weight by its logical view). */
static bool is_matrix(const vf_tensor *t)
{
    return t->quant == VF_QPART_WEIGHT ? t->matrices == 1 && !t->fused_experts : t->ndim == 2;
}

/* Training Hub's substring rule. The family vramfit detects targets the language model only (towers
 * and projectors left out); a family named by target.family (--family, --compat training-hub)
 * applies as Training Hub applies it, to every 2-D weight. */
static bool family_match(selector *s, const vf_tensor *t, size_t i)
{
    uint64_t any, bounded;
    if (!is_matrix(t) || (s->family_lm_only && t->component != VF_COMPONENT_LANGUAGE_MODEL))
        return false;
    if (s->hits && s->hits->any) /* the detected family: language-model names, scanned already */
        return (s->hits->any[i] & s->hits->weight_bit) && (s->hits->any[i] & s->hits->pattern_bits);
    vf_scan_next(&s->family_cursor, t->name, &any, &bounded);
    return (any & s->weight_bit) && (any & s->pattern_bits);
}

/* PEFT's all-linear (tuners_utils.py _maybe_include_all_linear_layers): every nn.Linear / Conv1D
 * module of the model, towers included, minus the output embedding. Embeddings, bare nn.Parameter
 * tensors (fused experts, parameter routers), convolutions and GPTQ/AWQ QuantLinear modules are not
 * nn.Linear. */
static bool all_linear_match(const vf_tensor *t)
{
    return is_matrix(t) && t->module == VF_MODULE_LINEAR && t->role != VF_ROLE_LM_HEAD;
}

/* A regex match for the selector: 1 or 0, or the error (err->tensor names `what`). */
static int regex_hit(const vf_name_regex *re, const char *key, const char *what, vf_error *err)
{
    int rc = vf_name_regex_match(re, key, err);
    if (rc < 0 && err)
        snprintf(err->tensor, sizeof err->tensor, "%s", what);
    return rc;
}

/* 1 when tensor t (tensor i of the model, prefixed module name `key`) is selected, 0 when not, or
 * an error (a regex over its budget). */
static int selector_take(selector *s, const vf_tensor *t, size_t i, name_key key, vf_error *err)
{
    int take;
    switch (s->mode) {
    case SEL_FAMILY:
        take = family_match(s, t, i);
        break;
    case SEL_LIST:
        take = strlist_match(&s->list, key) >= 0;
        break;
    case SEL_REGEX:
        take = regex_hit(s->re, key.s, "--target-regex", err);
        break;
    default:
        take = all_linear_match(t);
        s->skipped_quant |= t->module == VF_MODULE_QUANT_LINEAR;
        break;
    }
    if (take < 0)
        return take;
    if (take && s->exclude.n && strlist_match(&s->exclude, key) >= 0)
        take = false;
    int out = take && s->exclude_re ? regex_hit(s->exclude_re, key.s, "exclude_modules", err) : 0;
    if (out < 0)
        return out;
    if (out)
        take = false;
    if (take && t->fused_experts && s->skip_fused) {
        s->skipped_fused = true;
        take = false;
    }
    return take;
}

/* ---- close candidates for an entry that matched nothing ---------------------------------------- */

#define CAND_MAX 5
#define CAND_LEN 96

typedef struct candidates {
    char name[CAND_MAX][CAND_LEN];
    size_t dist[CAND_MAX];
    size_t n;
} candidates;

/* Levenshtein distance of a and b (both < CAND_LEN). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[CAND_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static void cand_offer(candidates *c, const char *name, size_t len, const char *entry)
{
    char s[CAND_LEN];
    if (len >= CAND_LEN || strlen(entry) >= CAND_LEN)
        return;
    memcpy(s, name, len);
    s[len] = '\0';
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->name[i], s) == 0)
            return;
    size_t d = edit_distance(s, entry), limit = strlen(entry) / 3 > 2 ? strlen(entry) / 3 : 2;
    if (d > limit)
        return;
    size_t at = c->n < CAND_MAX ? c->n++ : CAND_MAX - 1;
    if (at == CAND_MAX - 1 && c->n == CAND_MAX && d >= c->dist[at])
        return;
    while (at > 0 && c->dist[at - 1] > d) {
        c->dist[at] = c->dist[at - 1];
        memcpy(c->name[at], c->name[at - 1], CAND_LEN);
        at--;
    }
    c->dist[at] = d;
    memcpy(c->name[at], s, len + 1);
}

/* The length of the module-ish name of any non-buffer tensor: the name without its last
 * component; false for a buffer or a module of MODULE_MAX bytes or more. */
static bool any_module(const vf_tensor *t, size_t *len)
{
    const char *dot = strrchr(t->name, '.');
    size_t n = dot ? (size_t)(dot - t->name) : strlen(t->name);
    if (t->buffer || n + 1 > MODULE_MAX)
        return false;
    *len = n;
    return true;
}

/* Adds (s, n) to the distinct names unless it is there; false when out of memory. */
static bool offer_once(vf_name_map *seen, const char *s, size_t n)
{
    return vf_name_map_first(seen, s, n, 0) != VF_NAME_MAP_NONE || vf_name_map_add(seen, s, n, 0);
}

/* The last one and last two components of every module of m, each distinct name once in order of
 * first appearance (offering a name again never changes the candidates). */
static bool collect_offers(const vf_model *m, vf_name_map *seen)
{
    const char *prev = NULL; /* the previous module (a weight and its scales share one) */
    size_t prev_len = 0;
    for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
        const vf_tensor *t = vf_model_tensor(m, i);
        size_t k;
        if ((!target_module(t, &k) && !any_module(t, &k)) || (k == prev_len && memcmp(t->name, prev, k) == 0))
            continue;
        prev = t->name;
        prev_len = k;
        const char *module = t->name, *end = module + k, *last = end, *two;
        while (last > module && last[-1] != '.')
            last--;
        for (two = last > module ? last - 1 : last; two > module && two[-1] != '.';)
            two--;
        /* a known `two` came with its `last` the first time */
        if (two < last && vf_name_map_first(seen, two, (size_t)(end - two), 0) != VF_NAME_MAP_NONE)
            continue;
        if (!offer_once(seen, last, (size_t)(end - last)) ||
            (two < last && !vf_name_map_add(seen, two, (size_t)(end - two), 0)))
            return false;
    }
    return true;
}

static void format_candidates(const candidates *c, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "%s", c->n ? "; close candidates: " : "");
    for (size_t i = 0; i < c->n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", c->name[i]);
}

/* The close candidates of entry among the offered names, formatted into list. */
static void candidates_of(const vf_name_map *seen, const char *entry, char *list, size_t size)
{
    candidates c = {0};
    for (size_t i = 0; i < seen->n; i++)
        cand_offer(&c, seen->e[i].s, seen->e[i].n, entry);
    format_candidates(&c, list, size);
}

/* Every entry of l that matched nothing is an error (or a finding when allowed). */
static int check_unmatched(const vf_model *m, const strlist *l, const char *what, bool allow,
                           vf_findings *f, vf_error *err)
{
    vf_name_map seen = {0};
    int rc = VF_OK;
    for (size_t i = 0; i < l->n && rc == VF_OK; i++) {
        char list[CAND_MAX * (CAND_LEN + 2) + 32];
        if (l->hit[i])
            continue;
        if (!seen.n && !collect_offers(m, &seen)) {
            rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
            break;
        }
        candidates_of(&seen, l->v[i], list, sizeof list);
        if (!allow)
            rc = vf_error_set(err, VF_ERR_USAGE, vf_checkpoint_dir(vf_model_checkpoint(m)), NULL,
                              "%s entry '%s' matches no weight module%s", what, l->v[i], list);
        else if (vf_findings_add(f, VF_SEV_WARNING, "%s entry '%s' matches nothing%s", what, l->v[i], list) != VF_OK)
            rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    vf_name_map_free(&seen);
    return rc;
}

/* ---- plan entries ------------------------------------------------------------------------------ */

/* The plan's module names go to its arena: one allocation per TEXT_BLOCK bytes, not one per matrix. */
#define TEXT_BLOCK 65536

/* A NUL-terminated copy of s[0..n) kept by the plan, or NULL when out of memory. */
static const char *keep_text(vf_adapter_plan *p, const char *s, size_t n)
{
    return vf_arena_strndup(&p->modules, s, n);
}

/* Appends x with module (a name keep_text kept). */
static int plan_push(vf_adapter_plan *p, const vf_adapter_matrix *x, const char *module, vf_error *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        vf_adapter_matrix *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n] = *x;
    p->v[p->n++].module = module;
    return VF_OK;
}

static int overflow(const vf_tensor *t, vf_error *err)
{
    return vf_error_set(err, VF_ERR_OVERFLOW, NULL, t->name, "adapter size overflows 64 bits");
}

static bool is_conv1d(const vf_family *fam, const char *module)
{
    static const char *const leaves[] = {"c_attn", "c_proj", "c_fc", "q_attn", NULL};
    if (strcmp(fam->name, "gpt2") != 0)
        return false;
    for (const char *const *l = leaves; *l; l++)
        if (vf_peft_match(module, *l))
            return true;
    return false;
}

/* The rank of `key`: the first rank rule matching it, else o->rank; an error for a rule over its
 * budget. */
static int rule_rank(const vf_adapter_options *o, vf_name_regex *const *rules, const char *key,
                     uint64_t *rank, vf_error *err)
{
    *rank = o->rank;
    for (size_t i = 0; i < o->rank_rule_count; i++) {
        int hit = regex_hit(rules[i], key, "--rank-pattern", err);
        if (hit < 0)
            return hit;
        if (hit) {
            *rank = o->rank_rules[i].rank;
            break;
        }
    }
    return VF_OK;
}

/* LoRA sizes of x (rows/cols/in/out set): rank, magnitude, params, bytes. */
static int size_lora(vf_adapter_matrix *x, uint64_t rank, const vf_adapter_options *o, vf_error *err)
{
    uint64_t dims, params;
    x->rank = rank;
    x->magnitude = o->use_dora ? x->out : 0;
    if (vf_add_u64_overflow(&dims, x->in, x->out) || vf_mul_u64_overflow(&params, rank, dims) ||
        vf_add_u64_overflow(&params, params, x->magnitude) ||
        vf_mul_u64_overflow(&x->bytes, params, vf_dtype_bits(o->adapter_dtype) / 8))
        return overflow(x->tensor, err);
    x->params = params;
    x->trainable_params = params;
    return VF_OK;
}

/* OSFT frozen rank: floor(R * (1 - u)) in double precision as the trainer computes it, capped at
 * R - 1. Separate statements keep the compiler from fusing the multiply and subtract. */
static uint64_t osft_frozen(uint64_t R, double u)
{
    if (R == 0)
        return 0;
    double ratio = 1.0 - u;
    double prod = (double)R * ratio;
    double k = floor(prod);
    uint64_t kk = k <= 0 ? 0 : (uint64_t)k;
    return kk > R - 1 ? R - 1 : kk;
}

/* m*R + R + R*n, checked. */
static bool usv(uint64_t m, uint64_t R, uint64_t n, uint64_t *out)
{
    uint64_t a, b;
    return vf_mul_u64_overflow(&a, m, R) || vf_mul_u64_overflow(&b, R, n) ||
           vf_add_u64_overflow(&a, a, R) || vf_add_u64_overflow(out, a, b);
}

static int size_osft(vf_adapter_matrix *x, const vf_adapter_options *o, vf_error *err)
{
    uint64_t R = x->rows < x->cols ? x->rows : x->cols;
    x->rank = R;
    x->frozen_rank = osft_frozen(R, o->unfreeze_rank_ratio);
    x->trainable_rank = R - x->frozen_rank;
    if (usv(x->rows, R, x->cols, &x->params) ||
        usv(x->rows, x->trainable_rank, x->cols, &x->trainable_params) ||
        vf_mul_u64_overflow(&x->bytes, x->params, vf_dtype_bits(o->adapter_dtype) / 8))
        return overflow(x->tensor, err);
    return VF_OK;
}

typedef struct build_ctx {
    const vf_model *m;
    const vf_adapter_options *o;
    vf_adapter_plan *p;
    selector sel;
    vf_name_regex **rules; /* compiled rank rules */
    size_t rules_compiled;
    const char *prefix;
    size_t prefix_len;
    bool copy_keys;        /* a prefix or a regex: keys are NUL-terminated copies */
    bool *saved;           /* per tensor: taken by modules_to_save (NULL when none is) */
    struct osft_twin *twin; /* NULL, or the OSFT sizing of the same selection */
    const vf_family *detected; /* the caller's vf_family_detect of m, or NULL */
    vf_family_hits hits;       /* this build's detection, when it ran one */
    vf_error *err;
} build_ctx;

/* vf_adapter_estimator_input needs the LoRA and the OSFT totals of one target selection: a LoRA
 * build sizes each selected tensor for OSFT too (fused expert tensors, which OSFT never decomposes,
 * left out) into a second plan, whose first error waits until the LoRA build has succeeded, so the
 * result is that of two builds one after the other. The twin's module names are the LoRA plan's. */
typedef struct osft_twin {
    vf_adapter_plan *p;
    int rc;
    vf_error err;
} osft_twin;

/* The prefixed module name (the first k bytes of name) as matched: name itself when there is no
 * prefix and no regex to match, else a NUL-terminated copy in buf (MODULE_MAX bytes); false when
 * too long to match anything. */
static bool make_key(const build_ctx *c, const char *name, size_t k, char *buf, name_key *key)
{
    if (!c->copy_keys) {
        *key = (name_key){name, k};
        return true;
    }
    if (c->prefix_len + k >= MODULE_MAX)
        return false;
    memcpy(buf, c->prefix, c->prefix_len);
    memcpy(buf + c->prefix_len, name, k);
    buf[c->prefix_len + k] = '\0';
    *key = (name_key){buf, c->prefix_len + k};
    return true;
}

/* The plan's layer of t: the language model's layers; tower blocks count outside any layer. */
static int32_t plan_layer(const vf_tensor *t)
{
    return t->component == VF_COMPONENT_LANGUAGE_MODEL ? t->layer : -1;
}

/* Adds the entries of selected tensor t to p, sized for OSFT or for LoRA with `rank`: one matrix,
 * or E for a fused expert tensor. */
static int add_matrices(const build_ctx *c, vf_adapter_plan *p, const vf_tensor *t, const char *module,
                        bool osft, uint64_t rank, vf_error *err)
{
    const bool embed = t->role == VF_ROLE_EMBED || t->role == VF_ROLE_POS_EMBED;
    for (uint64_t e = 0; e < t->matrices; e++) {
        vf_adapter_matrix x = {.tensor = t, .layer = plan_layer(t), .expert = t->expert};
        x.rows = t->rows;
        x.cols = t->cols;
        if (t->fused_experts)
            x.expert = (int32_t)(e > INT32_MAX ? INT32_MAX : e);
        x.conv1d = !embed && is_conv1d(&p->family, module);
        x.in = embed || x.conv1d ? x.rows : x.cols;
        x.out = embed || x.conv1d ? x.cols : x.rows;
        x.kind = osft ? VF_ADAPTER_KIND_OSFT : embed ? VF_ADAPTER_KIND_LORA_EMBED : VF_ADAPTER_KIND_LORA;
        int rc = osft ? size_osft(&x, c->o, err) : size_lora(&x, rank, c->o, err);
        if (rc == VF_OK)
            rc = plan_push(p, &x, module, err);
        if (rc != VF_OK)
            return rc;
    }
    return VF_OK;
}

/* Adds the entries of one selected tensor (module: the first k bytes of its name), and its OSFT
 * entries to the twin when there is one. */
static int add_target(build_ctx *c, const vf_tensor *t, size_t k, name_key key)
{
    const bool osft = c->o->method == VF_ADAPTER_OSFT;
    uint64_t rank = 0;
    int rc = osft ? VF_OK : rule_rank(c->o, c->rules, key.s, &rank, c->err);
    if (rc != VF_OK)
        return rc;
    const char *module = keep_text(c->p, t->name, k);
    if (!module)
        return vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    rc = add_matrices(c, c->p, t, module, osft, rank, c->err);
    if (rc == VF_OK && c->twin && c->twin->rc == VF_OK && !t->fused_experts)
        c->twin->rc = add_matrices(c, c->twin->p, t, module, true, 0, &c->twin->err);
    return rc;
}

/* What the selection left out or sized in a way worth saying. */
typedef struct select_counts {
    size_t fused;       /* fused 3-D expert tensors taken (LoRA) */
    size_t towers_left; /* family mode: 2-D linear weights outside the language model */
} select_counts;

static int select_notes(build_ctx *c, const select_counts *n)
{
    int rc = VF_OK;
    if (c->sel.skipped_fused)
        rc |= vf_findings_add(c->p->findings, VF_SEV_INFO,
                              c->o->method == VF_ADAPTER_OSFT
                                  ? "fused 3-D expert tensors matched but OSFT never decomposes them"
                                  : "fused 3-D expert tensors matched but are skipped (modules only)");
    if (n->fused)
        rc |= vf_findings_add(c->p->findings, VF_SEV_INFO,
                              "%zu fused 3-D expert tensor(s) are nn.Parameter, not nn.Linear: PEFT (>= "
                              "0.17) adapts them through target_parameters, one ParamWrapper per tensor "
                              "with lora_A [r*E, in] and lora_B [out, r*E] = r*E*(in+out) parameters, "
                              "listed here as E per-expert matrices; all-linear never takes them",
                              n->fused);
    if (n->fused && c->o->use_dora)
        rc |= vf_findings_add(c->p->findings, VF_SEV_WARNING,
                              "PEFT's ParamWrapper refuses use_dora on fused expert tensors (target_parameters "
                              "supports plain LoRA only); their DoRA magnitudes here have no PEFT counterpart");
    if (n->towers_left)
        rc |= vf_findings_add(c->p->findings, VF_SEV_INFO,
                              "default targets are the language model's matrices: %zu linear weight(s) "
                              "of the vision/audio towers and projectors are left out (--target-regex "
                              "or --target reach them)",
                              n->towers_left);
    return rc == VF_OK ? VF_OK : vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
}

static int select_targets(build_ctx *c)
{
    char buf[MODULE_MAX];
    select_counts n = {0};
    for (size_t i = 0; i < vf_model_tensor_count(c->m); i++) {
        const vf_tensor *t = vf_model_tensor(c->m, i);
        size_t k;
        name_key key;
        if (!target_module(t, &k) || !make_key(c, t->name, k, buf, &key))
            continue;
        n.towers_left += c->sel.mode == SEL_FAMILY && c->sel.family_lm_only && t->ndim == 2 &&
                         t->module == VF_MODULE_LINEAR && t->component != VF_COMPONENT_LANGUAGE_MODEL;
        int rc = selector_take(&c->sel, t, i, key, c->err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        n.fused += t->fused_experts && c->o->method == VF_ADAPTER_LORA;
        rc = add_target(c, t, k, key);
        if (rc != VF_OK)
            return rc;
    }
    return select_notes(c, &n);
}

/* A full trainable copy of t (modules_to_save) or a trainable bias; its module: the first k bytes
 * of its name. */
static int add_whole(build_ctx *c, const vf_tensor *t, size_t k, vf_adapter_kind kind)
{
    vf_adapter_matrix x = {.kind = kind, .tensor = t, .layer = plan_layer(t), .expert = t->expert};
    const char *module = keep_text(c->p, t->name, k);
    if (!module)
        return vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    x.rows = t->ndim > 0 ? t->shape[0] : 1;
    x.cols = t->ndim > 1 ? t->shape[1] : 1;
    x.params = x.trainable_params = t->numel;
    x.bytes = t->bytes;
    return plan_push(c->p, &x, module, c->err);
}

static int add_saved(build_ctx *c)
{
    strlist l;
    char buf[MODULE_MAX];
    int rc = strlist_split(c->o->modules_to_save, "--modules-to-save", &l, c->err);
    if (rc == VF_OK && l.n && !(c->saved = calloc(vf_model_tensor_count(c->m) + 1, sizeof *c->saved)))
        rc = vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; rc == VF_OK && l.n && i < vf_model_tensor_count(c->m); i++) {
        const vf_tensor *t = vf_model_tensor(c->m, i);
        size_t k;
        name_key key;
        if (any_module(t, &k) && make_key(c, t->name, k, buf, &key) && strlist_match(&l, key) >= 0) {
            rc = add_whole(c, t, k, VF_ADAPTER_KIND_SAVED);
            c->saved[i] = true;
        }
    }
    if (rc == VF_OK)
        rc = check_unmatched(c->m, &l, "modules_to_save", c->o->target.allow_unmatched,
                             c->p->findings, c->err);
    strlist_free(&l);
    return rc;
}

/* The modules of the plan's LoRA matrices, for lookups by name; false when out of memory. */
static bool lora_modules(const vf_adapter_plan *p, vf_name_map *out)
{
    for (size_t i = 0; i < p->n; i++)
        if ((p->v[i].kind == VF_ADAPTER_KIND_LORA || p->v[i].kind == VF_ADAPTER_KIND_LORA_EMBED) &&
            !vf_name_map_add(out, p->v[i].module, strlen(p->v[i].module), 0))
            return false;
    return true;
}

/* PEFT bias="all": every parameter with "bias" in its name; "lora_only": biases of LoRA modules. */
static int add_biases(build_ctx *c)
{
    vf_name_map lora = {0};
    int rc = VF_OK;
    if (c->o->method != VF_ADAPTER_LORA || c->o->bias == VF_LORA_BIAS_NONE)
        return VF_OK;
    if (c->o->bias == VF_LORA_BIAS_LORA_ONLY && !lora_modules(c->p, &lora))
        rc = vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; rc == VF_OK && i < vf_model_tensor_count(c->m); i++) {
        const vf_tensor *t = vf_model_tensor(c->m, i);
        size_t k;
        if (t->buffer || !any_module(t, &k) || (c->saved && c->saved[i]))
            continue;
        bool take = c->o->bias == VF_LORA_BIAS_ALL ? strstr(t->name, "bias") != NULL
                                                   : strcmp(t->name + k, ".bias") == 0 &&
                                                         vf_name_map_first(&lora, t->name, k, 0) != VF_NAME_MAP_NONE;
        rc = take ? add_whole(c, t, k, VF_ADAPTER_KIND_BIAS) : VF_OK;
    }
    vf_name_map_free(&lora);
    return rc;
}

/* ---- totals ------------------------------------------------------------------------------------ */

static int layer_table(vf_adapter_plan *p, vf_error *err)
{
    int32_t top = -1;
    for (size_t i = 0; i < p->n; i++)
        top = p->v[i].layer > top ? p->v[i].layer : top;
    p->layer_slots = (size_t)top + 2;
    p->layer_params = calloc(p->layer_slots, sizeof *p->layer_params);
    if (!p->layer_params)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; i < p->n; i++) {
        size_t slot = p->v[i].layer >= 0 ? (size_t)p->v[i].layer : p->layer_slots - 1;
        vf_acc_u64(&p->layer_params[slot], p->v[i].params);
    }
    return VF_OK;
}

static int compute_totals(vf_adapter_plan *p, const vf_model *m, bool osft, vf_error *err)
{
    vf_adapter_totals *t = &p->totals;
    uint64_t target_numel = 0, dims = 0;
    bool of = false;
    t->base_parameters = vf_model_totals(m)->parameters;
    for (size_t i = 0; i < p->n; i++) {
        const vf_adapter_matrix *x = &p->v[i];
        bool target = x->kind == VF_ADAPTER_KIND_LORA || x->kind == VF_ADAPTER_KIND_LORA_EMBED || x->kind == VF_ADAPTER_KIND_OSFT;
        of |= vf_acc_u64(&t->bytes, x->bytes);
        if (!target) {
            of |= vf_acc_u64(x->kind == VF_ADAPTER_KIND_SAVED ? &t->saved : &t->biases, x->params);
            continue;
        }
        t->matrices++;
        of |= vf_acc_u64(&t->parameters, x->params);
        of |= vf_add_u64_overflow(&dims, x->kind == VF_ADAPTER_KIND_OSFT ? x->rows : x->in,
                                  x->kind == VF_ADAPTER_KIND_OSFT ? x->cols : x->out);
        of |= vf_acc_u64(&t->lora_dim_sum, dims);
        uint64_t numel; /* rows * cols: the logical size, more than numel for a quantized weight */
        of |= vf_mul_u64_overflow(&numel, x->rows, x->cols) || vf_acc_u64(&target_numel, numel);
        if (x->kind == VF_ADAPTER_KIND_OSFT)
            of |= vf_acc_u64(&t->trainable, x->trainable_params);
    }
    if (osft) {
        t->osft_total = t->base_parameters - (target_numel < t->base_parameters ? target_numel
                                                                                 : t->base_parameters);
        of |= vf_acc_u64(&t->osft_total, t->parameters);
        t->all_parameters = t->osft_total;
    } else {
        t->trainable = t->parameters;
        of |= vf_acc_u64(&t->trainable, t->saved);
        of |= vf_acc_u64(&t->trainable, t->biases);
        t->all_parameters = t->base_parameters;
        of |= vf_acc_u64(&t->all_parameters, t->parameters);
        of |= vf_acc_u64(&t->all_parameters, t->saved);
    }
    if (of || t->base_parameters == UINT64_MAX)
        return vf_error_set(err, VF_ERR_OVERFLOW, NULL, NULL, "adapter totals overflow 64 bits");
    return layer_table(p, err);
}

/* ---- build ------------------------------------------------------------------------------------- */

static int check_options(const vf_adapter_options *o, vf_error *err)
{
    if (o->version != VF_ADAPTER_OPTIONS_VERSION)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "adapter options version %u unsupported",
                            o->version);
    if (o->method != VF_ADAPTER_LORA && o->method != VF_ADAPTER_OSFT)
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--method", "unknown adapter method");
    if (o->method == VF_ADAPTER_LORA && (o->rank < 1 || o->rank > VF_ADAPTER_RANK_MAX))
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--rank", "rank must be 1..%llu, got %llu",
                            (unsigned long long)VF_ADAPTER_RANK_MAX, (unsigned long long)o->rank);
    if (o->method == VF_ADAPTER_OSFT &&
        !(o->unfreeze_rank_ratio > 0.0 && o->unfreeze_rank_ratio <= 1.0))
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--unfreeze-rank-ratio",
                            "unfreeze rank ratio must be in (0, 1], got %g", o->unfreeze_rank_ratio);
    if (!vf_adapter_dtype_supported(o->adapter_dtype))
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--adapter-dtype",
                            "adapter dtype must be F32, BF16 or F16, got %s",
                            vf_dtype_name(o->adapter_dtype));
    if (!vf_lora_bias_name(o->bias))
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--lora-bias", "unknown bias setting");
    if (o->rank_rule_count && !o->rank_rules)
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--rank-pattern", "rank rules missing");
    for (size_t i = 0; i < o->rank_rule_count; i++)
        if (!o->rank_rules[i].pattern || o->rank_rules[i].rank < 1 ||
            o->rank_rules[i].rank > VF_ADAPTER_RANK_MAX)
            return vf_error_set(err, VF_ERR_USAGE, NULL, "--rank-pattern",
                                "rank_pattern entry %zu needs a pattern and a rank 1..%llu", i,
                                (unsigned long long)VF_ADAPTER_RANK_MAX);
    return VF_OK;
}

/* The rank rules as PEFT's get_pattern_key applies them: ^(.*\.)?(KEY)$. */
static int compile_rules(build_ctx *c)
{
    if (!c->o->rank_rule_count)
        return VF_OK;
    c->rules = calloc(c->o->rank_rule_count, sizeof *c->rules);
    if (!c->rules)
        return vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (; c->rules_compiled < c->o->rank_rule_count; c->rules_compiled++) {
        int rc = regex_compile(&c->rules[c->rules_compiled], c->o->rank_rules[c->rules_compiled].pattern,
                               true, "--rank-pattern", c->err);
        if (rc != VF_OK)
            return rc;
    }
    return VF_OK;
}

static int copy_targets(vf_adapter_plan *p, const selector *s, const vf_target_spec *t, vf_error *err)
{
    const char *one = s->mode == SEL_REGEX ? t->regex : s->mode == SEL_ALL_LINEAR ? "all-linear" : NULL;
    size_t n = one ? 1 : s->mode == SEL_LIST ? s->list.n : 0;
    if (s->mode == SEL_FAMILY)
        while (p->family.patterns[n])
            n++;
    p->targets = calloc(n ? n : 1, sizeof *p->targets);
    if (!p->targets)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *src = one ? one : s->mode == SEL_LIST ? s->list.v[i] : p->family.patterns[i];
        p->targets[i] = malloc(strlen(src) + 1);
        if (!p->targets[i])
            return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        strcpy(p->targets[i], src);
        p->target_count++;
    }
    return VF_OK;
}

/* The family by name, else `detected` (vf_family_detect's answer for m) or a detection (its scan
 * kept in *hits for the family rule). */
static int pick_family(vf_adapter_plan *p, const vf_model *m, const vf_target_spec *t,
                       const vf_family *detected, vf_family_hits *hits, vf_error *err)
{
    char names[160];
    if (t->family && !vf_family_by_name(t->family, &p->family))
        return vf_error_set(err, VF_ERR_USAGE, NULL, "--family", "unknown family '%s' (%s)", t->family,
                            vf_family_list(names, sizeof names));
    if (!t->family && detected)
        p->family = *detected;
    else if (!t->family)
        vf_family_detect_keep(m, &p->family, hits);
    return VF_OK;
}

/* all-linear left quantized layers out: a finding, or the error when nothing else was taken. */
static int quant_skip_note(build_ctx *c, vf_adapter_plan *p)
{
    const char *scheme = vf_quant_scheme_name(vf_model_quant(c->m)->scheme);
    if (!c->sel.skipped_quant)
        return VF_OK;
    if (p->n == 0)
        return vf_error_set(c->err, VF_ERR_USAGE, vf_checkpoint_dir(vf_model_checkpoint(c->m)), "--target",
                            "all-linear takes nn.Linear modules only (PEFT _maybe_include_all_linear_layers) "
                            "and the %s layers are QuantLinear modules, not nn.Linear: PEFT finds no target; "
                            "name the modules instead (--target q_proj,v_proj,...)", scheme);
    if (vf_findings_add(p->findings, VF_SEV_INFO,
                        "all-linear leaves out the %s layers: they are QuantLinear modules, not nn.Linear "
                        "(PEFT _maybe_include_all_linear_layers); --target names them", scheme) != VF_OK)
        return vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    return VF_OK;
}

/* Nothing selected. When the targets came from the detected family (a Mamba or other checkpoint
 * whose projections no family names), the error says how to choose them instead. */
static int no_targets(build_ctx *c, const vf_target_spec *t, const vf_adapter_plan *p)
{
    bool detected = !t->modules && !t->regex && !t->family;
    return vf_error_set(c->err, VF_ERR_USAGE, vf_checkpoint_dir(vf_model_checkpoint(c->m)), NULL,
                        "no weight matrix matches the targets (family %s)%s", p->family.name,
                        detected ? "; none of its patterns is in this checkpoint: give --target all-linear "
                                   "(every linear weight, as PEFT) or --target LIST"
                                 : "");
}

static int build(build_ctx *c)
{
    const vf_target_spec *t = &c->o->target;
    int rc = pick_family(c->p, c->m, t, c->detected, &c->hits, c->err);
    if (c->twin)
        c->twin->p->family = c->p->family;
    if (rc == VF_OK)
        rc = selector_init(&c->sel, t, &c->p->family, c->err);
    c->sel.hits = &c->hits;
    c->sel.skip_fused = c->o->modules_only || c->o->method == VF_ADAPTER_OSFT;
    if (rc == VF_OK)
        rc = copy_targets(c->p, &c->sel, t, c->err);
    if (rc == VF_OK)
        rc = compile_rules(c);
    if (rc == VF_OK)
        rc = select_targets(c);
    if (rc == VF_OK)
        rc = check_unmatched(c->m, &c->sel.list, "target", t->allow_unmatched, c->p->findings, c->err);
    if (rc == VF_OK)
        rc = check_unmatched(c->m, &c->sel.exclude, "exclude", t->allow_unmatched, c->p->findings,
                             c->err);
    if (rc == VF_OK)
        rc = quant_skip_note(c, c->p);
    if (rc == VF_OK && c->p->n == 0)
        return no_targets(c, t, c->p);
    if (rc == VF_OK && c->o->method == VF_ADAPTER_LORA)
        rc = add_saved(c);
    if (rc == VF_OK)
        rc = add_biases(c);
    if (rc == VF_OK)
        rc = compute_totals(c->p, c->m, c->o->method == VF_ADAPTER_OSFT, c->err);
    return rc;
}

/* The rest of the twin's build once the LoRA build has succeeded: its first error, the notes on what
 * all-linear left out, no targets, its totals. */
static int finish_twin(build_ctx *c)
{
    osft_twin *w = c->twin;
    int rc = w->rc;
    if (rc != VF_OK) {
        if (c->err)
            *c->err = w->err;
        return rc;
    }
    rc = quant_skip_note(c, w->p);
    if (rc == VF_OK && w->p->n == 0)
        return no_targets(c, &c->o->target, w->p);
    return rc == VF_OK ? compute_totals(w->p, c->m, true, c->err) : rc;
}

static vf_adapter_plan *plan_new(void)
{
    vf_adapter_plan *p = calloc(1, sizeof *p);
    if (p && !(p->findings = vf_findings_new())) {
        free(p);
        return NULL;
    }
    if (p)
        vf_arena_init(&p->modules, TEXT_BLOCK);
    return p;
}

/* Room for as many entries as m's tensors hold matrices, plus one per tensor (copies and biases):
 * more than any plan of m takes, in one vf_alloc_large buffer, so that a large plan fills huge
 * pages instead of growing 4 KiB page by page (plan_push still grows it should the count be
 * exceeded). The module names of so large a plan (tens of bytes each) go to huge-page chunks too.
 * False when out of memory. */
static bool reserve_matrices(vf_adapter_plan *p, const vf_model *m)
{
    uint64_t bound = 0;
    for (size_t i = 0; i < vf_model_tensor_count(m); i++)
        if (vf_add_u64_overflow(&bound, bound, vf_model_tensor(m, i)->matrices) ||
            vf_add_u64_overflow(&bound, bound, 1))
            return true; /* no bound: grow as needed */
    if (bound < 64 || bound > SIZE_MAX / sizeof *p->v)
        return true;
    if (!(p->v = vf_alloc_large((size_t)bound * sizeof *p->v)))
        return false;
    p->cap = (size_t)bound;
    if (bound * 32 >= VF_ARENA_HUGE) /* nothing is in the arena yet */
        vf_arena_init(&p->modules, VF_ARENA_HUGE);
    return true;
}

/* vf_adapter_plan_build, with the family detected (NULL: detect it) and the OSFT twin (twin->p
 * allocated by the caller) when twin is not NULL. */
static int plan_build(const vf_model *m, const vf_adapter_options *o, const vf_family *detected,
                      osft_twin *twin, vf_adapter_plan **out, vf_error *err)
{
    *out = NULL;
    if (!m || !o)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no model or no options");
    int rc = check_options(o, err);
    if (rc != VF_OK)
        return rc;
    vf_adapter_plan *p = plan_new();
    if (!p || !reserve_matrices(p, m)) {
        vf_adapter_plan_free(p);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    build_ctx c = {.m = m, .o = o, .p = p, .twin = twin, .detected = detected, .err = err};
    c.prefix = o->target.module_prefix ? o->target.module_prefix : "";
    c.prefix_len = strlen(c.prefix);
    c.copy_keys = c.prefix_len || o->target.regex || o->target.exclude_regex || o->rank_rule_count;
    rc = build(&c);
    if (rc == VF_OK && twin)
        rc = finish_twin(&c);
    selector_free(&c.sel);
    for (size_t i = 0; i < c.rules_compiled; i++)
        vf_name_regex_free(c.rules[i]);
    free(c.rules);
    free(c.saved);
    free(c.hits.any);
    if (rc != VF_OK) {
        vf_adapter_plan_free(p);
        return rc;
    }
    *out = p;
    return VF_OK;
}

int vf_adapter_plan_build(const vf_model *m, const vf_adapter_options *o, vf_adapter_plan **out,
                          vf_error *err)
{
    return plan_build(m, o, NULL, NULL, out, err);
}

int vf_adapter_plan_build_detected(const vf_model *m, const vf_adapter_options *o, const vf_family *detected,
                                   vf_adapter_plan **out, vf_error *err)
{
    return plan_build(m, o, detected, NULL, out, err);
}

void vf_adapter_plan_free(vf_adapter_plan *p)
{
    if (!p)
        return;
    vf_arena_free(&p->modules);
    for (size_t i = 0; i < p->target_count; i++)
        free(p->targets[i]);
    free(p->targets);
    free(p->v);
    free(p->layer_params);
    vf_findings_free(p->findings);
    free(p);
}

size_t vf_adapter_plan_count(const vf_adapter_plan *p) { return p ? p->n : 0; }

const vf_adapter_matrix *vf_adapter_plan_matrix(const vf_adapter_plan *p, size_t i)
{
    return p && i < p->n ? &p->v[i] : NULL;
}

const vf_adapter_totals *vf_adapter_plan_totals(const vf_adapter_plan *p) { return &p->totals; }
const vf_family *vf_adapter_plan_family(const vf_adapter_plan *p) { return &p->family; }
size_t vf_adapter_plan_target_count(const vf_adapter_plan *p) { return p ? p->target_count : 0; }

const char *vf_adapter_plan_target(const vf_adapter_plan *p, size_t i)
{
    return p && i < p->target_count ? p->targets[i] : NULL;
}

const uint64_t *vf_adapter_plan_layer_params(const vf_adapter_plan *p, size_t *count)
{
    *count = p->layer_slots;
    return p->layer_params;
}

const vf_findings *vf_adapter_plan_findings(const vf_adapter_plan *p) { return p->findings; }

/* ---- estimator input --------------------------------------------------------------------------- */

int vf_adapter_estimator_input(const vf_model *m, const vf_target_spec *target, uint64_t rank,
                               vf_adapter_input *out, vf_error *err)
{
    vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
    vf_adapter_plan *lora = NULL;
    osft_twin twin = {.p = plan_new()};
    memset(out, 0, sizeof *out);
    if (target)
        o.target = *target;
    o.rank = rank;
    int rc = twin.p ? plan_build(m, &o, NULL, &twin, &lora, err)
                    : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_OK) {
        const vf_adapter_totals *l = vf_adapter_plan_totals(lora), *s = vf_adapter_plan_totals(twin.p);
        out->lora_params = l->parameters;
        out->lora_dim_sum = l->lora_dim_sum;
        out->lora_matrices = l->matrices;
        out->osft_params = s->osft_total;
        out->osft_matrices = s->matrices;
        out->family = lora->family;
    }
    vf_adapter_plan_free(lora);
    vf_adapter_plan_free(twin.p);
    return rc;
}

bool vf_adapter_dtype_supported(vf_dtype d)
{
    return d == VF_DTYPE_F32 || d == VF_DTYPE_BF16 || d == VF_DTYPE_F16;
}

bool vf_adapter_dtype_from_name(const char *name, vf_dtype *out)
{
    static const vf_dtype supported[] = {VF_DTYPE_F32, VF_DTYPE_BF16, VF_DTYPE_F16};
    for (size_t i = 0; name && i < sizeof supported / sizeof supported[0]; i++)
        if (strcasecmp(name, vf_dtype_name(supported[i])) == 0) {
            *out = supported[i];
            return true;
        }
    return false;
}
