/* vf_tensors.c - the owned tensor table and the architecture inferred from shapes. */
#include <stdlib.h>
#include <string.h>

#include "vf_format_internal.h"
#include "vf_json.h"
#include "vf_names.h"
#include "vf_quant.h"
#include "vramfit/vf_checked.h"
#include "vramfit/vf_tensors.h"

static inline bool in_lm(const vf_tensor *t)
{
    return t->component == VF_COMPONENT_LANGUAGE_MODEL && !t->ignored;
}

bool vf_tensor_in_language_model(const vf_tensor *t)
{
    return in_lm(t);
}

/* What the architecture needs to know before its pass: layer bounds and DeepSeek's MTP layers.
 * DeepSeek-V3 stores its multi-token-prediction block as one more decoder layer
 * (model.layers.61 with num_hidden_layers 61) holding eh_proj, enorm, hnorm and shared_head;
 * DeepseekV3Model drops it on load (_keys_to_ignore_on_load_unexpected = [r"model\.layers\.61.*"]).
 * Every language-model tensor of a layer holding an eh_proj becomes MTP and ignored (arch_pass).
 * Qwen3-Next's `mtp.*` (ignored on load: r"^mtp.*") is classified by name. */
typedef struct layer_scan {
    int32_t lm_max;  /* highest layer index of a language-model tensor, -1 */
    int32_t any_max; /* highest layer index of any tensor, -1 */
    uint8_t *mtp;    /* a bit per layer index (0 .. VF_NAME_INDEX_MAX) holding an eh_proj; NULL: none */
    bool nomem;      /* the bits could not be allocated */
} layer_scan;

#define LAYER_SCAN_INIT {.lm_max = -1, .any_max = -1}
#define MTP_BITMAP (VF_NAME_INDEX_MAX / 8 + 1)

static void note_layers(layer_scan *s, const vf_tensor *t)
{
    s->any_max = t->layer > s->any_max ? t->layer : s->any_max;
    if (!in_lm(t) || t->layer < 0)
        return;
    s->lm_max = t->layer > s->lm_max ? t->layer : s->lm_max;
    if (t->role != VF_ROLE_MTP_PROJ || s->nomem)
        return;
    if (!s->mtp && !(s->mtp = calloc(MTP_BITMAP, 1)))
        s->nomem = true;
    else
        s->mtp[t->layer / 8] |= (uint8_t)(1u << (t->layer % 8));
}

/* Adds scan b to a (b's bits are freed). */
static void merge_scans(layer_scan *a, layer_scan *b)
{
    a->lm_max = b->lm_max > a->lm_max ? b->lm_max : a->lm_max;
    a->any_max = b->any_max > a->any_max ? b->any_max : a->any_max;
    a->nomem |= b->nomem;
    if (b->mtp && !a->mtp) {
        a->mtp = b->mtp;
        b->mtp = NULL;
    }
    for (size_t i = 0; b->mtp && i < MTP_BITMAP; i++)
        a->mtp[i] |= b->mtp[i];
    free(b->mtp);
    b->mtp = NULL;
}

static bool is_mtp_layer(const layer_scan *s, int32_t layer)
{
    return s->mtp && layer >= 0 && (s->mtp[layer / 8] >> (layer % 8) & 1u);
}

struct vf_model {
    vf_checkpoint *cp;
    vf_tensor *tensors;
    size_t count;
    uint32_t *by_name; /* tensor indices sorted by name */
    uint8_t *families; /* vf_quant_family of each name, until vf_quant_apply has run */
    size_t longest;    /* the longest name's length */
    vf_arch arch;
    vf_totals totals;
    uint64_t *layer_params; /* by layer index; the last slot holds tensors outside any layer */
    size_t layer_slots;
    vf_findings *findings;  /* checkpoint findings copied, then the table's own */
    unsigned layouts;       /* VF_LAYOUT_* found in the names */
    unsigned hints;         /* VF_HINT_* of the language model's names */
    vf_component_stats components[VF_COMPONENT_COUNT];
    size_t component_count;
    uint32_t *layer_kinds;  /* VF_LAYER_* by language-model layer index, layer_slots - 1 entries */
    vf_quant quant;         /* tensors/vf_quant.c */
    layer_scan scan;        /* the fill's, for infer_arch; stale once a role changes from or to
                               MTP_PROJ after it (then infer_arch scans again) */
    bool scan_stale;
};

void vf_model_free(vf_model *m)
{
    if (!m)
        return;
    vf_checkpoint_free(m->cp);
    free(m->tensors);
    free(m->by_name);
    free(m->families);
    free(m->layer_params);
    free(m->layer_kinds);
    free(m->scan.mtp);
    vf_findings_free(m->findings);
    free(m);
}

/* ---- table ------------------------------------------------------------------------------------- */

/* Matrix view from the stored shape: [out, in]; fused experts [E, out, in] or, in the bmm layout,
 * [E, in, out]. */
static void set_matrix_view(vf_tensor *t)
{
    if (t->ndim == 2) {
        t->rows = t->shape[0];
        t->cols = t->shape[1];
        t->matrices = 1;
    } else if (t->ndim == 3 && t->fused_experts) {
        bool bmm = t->experts_layout == VF_EXPERTS_IN_OUT;
        t->rows = t->shape[bmm ? 2 : 1];
        t->cols = t->shape[bmm ? 1 : 2];
        t->matrices = t->shape[0];
    }
}

/* Classifies t as in a checkpoint with `layouts`; adds the name's VF_LAYOUT_* marks to *marks,
 * sets *sensitive when other layouts could classify it otherwise and *family to its
 * vf_quant_family, and returns its VF_HINT_* when t is in the language model. */
static unsigned classify(vf_name_memo *memo, vf_tensor *t, unsigned layouts, unsigned *marks,
                         bool *sensitive, uint8_t *family)
{
    vf_name_info ni;
    *family = (uint8_t)vf_name_classify_memo(memo, t->name, t->ndim, layouts, &ni);
    *sensitive = ni.layout_sensitive;
    t->layer = ni.layer;
    t->expert = ni.expert;
    t->role = ni.role;
    t->buffer = ni.buffer;
    t->component = ni.component;
    t->module = ni.module;
    t->shared_expert = ni.shared_expert;
    t->ignored = ni.component == VF_COMPONENT_MTP; /* see mark_mtp_layers */
    /* A rule naming the layout, or the generic `experts.<name>` 3-D parameter ([E, out, in]). */
    t->experts_layout = ni.experts_layout;
    if (t->experts_layout == VF_EXPERTS_NONE && ni.expert < 0 && t->ndim == 3 && ni.in_experts &&
        t->role != VF_ROLE_BIAS && t->role != VF_ROLE_OTHER)
        t->experts_layout = VF_EXPERTS_OUT_IN;
    t->fused_experts = t->experts_layout != VF_EXPERTS_NONE && t->ndim == 3;
    set_matrix_view(t);
    *marks |= ni.layout_marks;
    return t->component == VF_COMPONENT_LANGUAGE_MODEL ? ni.kind_hints : 0;
}

/* Fills and classifies the table rows [begin, end) (in shard order), and sets by_name over them to
 * each shard's name order; pure per tensor, so ranges run on separate threads. */
typedef struct fill_range {
    vf_model *m;
    size_t begin, end;
    unsigned hints; /* VF_HINT_* of the language-model rows that no layout can change */
    unsigned sensitive_hints; /* VF_HINT_* of the layout-sensitive rows */
    unsigned marks; /* VF_LAYOUT_* the rows' names switch on */
    size_t longest; /* the rows' longest name */
    layer_scan scan; /* the rows' layers */
    bool *sensitive; /* per row of the table: its classification depends on the layouts */
} fill_range;

/* A row as the header gives it, before classification. */
static vf_tensor header_row(const vf_st_tensor *st, const char *file, uint32_t shard)
{
    return (vf_tensor){.name = st->name, .file = file, .dtype = st->dtype, .ndim = st->ndim,
                       .shape = st->shape, .numel = st->numel, .bytes = st->nbytes, .shard = shard,
                       .logical_numel = st->numel};
}

/* Works on a copy of its range and writes it back once: the ranges lie side by side in one array,
 * and counting into them row by row made the threads share cache lines (false sharing). */
static void *fill_run(void *arg)
{
    fill_range acc = *(fill_range *)arg, *r = &acc;
    size_t row = 0, s = 0, shards = vf_checkpoint_shard_count(r->m->cp);
    vf_name_memo *memo = malloc(sizeof *memo); /* without it: classified name by name */
    if (memo)
        vf_name_memo_init(memo);
    for (; s < shards; s++) { /* the shard holding row `begin` */
        size_t n = vf_st_header_count(vf_checkpoint_shard(r->m->cp, s)->header);
        if (row + n > r->begin)
            break;
        row += n;
    }
    for (size_t i = r->begin - row; s < shards && row + i < r->end; s++, row += i, i = 0) {
        const vf_shard *sh = vf_checkpoint_shard(r->m->cp, s);
        size_t n = vf_st_header_count(sh->header);
        for (; i < n && row + i < r->end; i++) {
            const vf_st_tensor *st = vf_st_header_tensor(sh->header, i);
            vf_tensor *t = &r->m->tensors[row + i];
            *t = header_row(st, sh->name, (uint32_t)s);
            size_t len = strlen(st->name);
            r->longest = len > r->longest ? len : r->longest;
            const vf_st_tensor *ith_by_name = vf_st_header_by_name(sh->header, i);
            r->m->by_name[row + i] = (uint32_t)(row + (size_t)(ith_by_name - vf_st_header_tensor(sh->header, 0)));
            bool *sens = &r->sensitive[row + i];
            unsigned hints = classify(memo, t, 0, &r->marks, sens, &r->m->families[row + i]); /* no layouts yet */
            note_layers(&r->scan, t);
            *(*sens ? &r->sensitive_hints : &r->hints) |= hints;
        }
        if (i < n)
            break;
    }
    free(memo);
    *(fill_range *)arg = acc;
    return NULL;
}

#define VF_CLASSIFY_PER_THREAD 4096 /* fewer tensors than this per thread: not worth a thread */

/* Classifies the rows marked sensitive again with the checkpoint's layouts, from their header
 * fields; returns their VF_HINT_*. Marks the fill's layer scan stale when a row's layer, language
 * model membership or MTP_PROJ role changes (no rule makes them depend on layouts today). */
static unsigned reclassify(vf_model *m, size_t n, const bool *sensitive)
{
    unsigned hints = 0, marks = 0;
    vf_name_memo *memo = malloc(sizeof *memo); /* without it: classified name by name */
    if (memo)
        vf_name_memo_init(memo);
    for (size_t i = 0; i < n; i++) {
        if (!sensitive[i])
            continue;
        vf_tensor *t = &m->tensors[i];
        const vf_st_tensor st = {.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .shape = t->shape,
                                 .numel = t->numel, .nbytes = t->bytes};
        const vf_tensor was = *t;
        *t = header_row(&st, t->file, t->shard);
        bool again;
        uint8_t family;
        hints |= classify(memo, t, m->layouts, &marks, &again, &family);
        m->scan_stale |= (was.role == VF_ROLE_MTP_PROJ) != (t->role == VF_ROLE_MTP_PROJ) ||
                         was.layer != t->layer || in_lm(&was) != in_lm(t);
    }
    free(memo);
    return hints;
}

/* by_name is left as runs, one per shard (vf_model_from_checkpoint merges them). */
static int fill_table(vf_model *m, vf_error *err)
{
    size_t n = 0, shards = vf_checkpoint_shard_count(m->cp);
    for (size_t s = 0; s < shards; s++)
        n += vf_st_header_count(vf_checkpoint_shard(m->cp, s)->header);
    if (n > UINT32_MAX)
        return vf_error_set(err, VF_ERR_UNSUPPORTED, NULL, NULL, "more than 2^32 tensors");
    if (n > SIZE_MAX / sizeof *m->tensors)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    m->tensors = vf_alloc_large(n * sizeof *m->tensors); /* every row is written below */
    m->by_name = malloc((n ? n : 1) * sizeof *m->by_name);
    m->families = malloc(n ? n : 1);
    if (!m->tensors || !m->by_name || !m->families)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    bool *sensitive = calloc(n ? n : 1, sizeof *sensitive);
    if (!sensitive)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    size_t k = vf_parallel_ranges(n, VF_CLASSIFY_PER_THREAD);
    fill_range r[VF_PARALLEL_MAX];
    /* Classified without layouts first (the marks a name carries do not depend on them); when names
     * switch a layout on (gpt-oss sinks, DeepSeek shared_experts, Mamba mixer.A_log), only the rows
     * a layout rule could change are classified again, with it. */
    unsigned marks = 0, sensitive_hints = 0;
    for (size_t i = 0; i < k; i++)
        r[i] = (fill_range){.m = m, .begin = n * i / k, .end = n * (i + 1) / k, .sensitive = sensitive,
                            .scan = LAYER_SCAN_INIT};
    m->scan = (layer_scan)LAYER_SCAN_INIT;
    vf_parallel_run(fill_run, r, sizeof *r, k);
    for (size_t i = 0; i < k; i++) {
        m->longest = r[i].longest > m->longest ? r[i].longest : m->longest;
        marks |= r[i].marks;
        m->hints |= r[i].hints;
        sensitive_hints |= r[i].sensitive_hints;
        merge_scans(&m->scan, &r[i].scan);
    }
    m->layouts = marks;
    if (marks)
        sensitive_hints = reclassify(m, n, sensitive);
    m->hints |= sensitive_hints;
    free(sensitive);
    m->count = n;
    return VF_OK;
}

/* by_name holds one name-sorted run per shard. When each run's last name precedes the next run's
 * first (shards holding consecutive stretches of the name order) it is sorted already, which
 * shards - 1 comparisons show; otherwise vf_sort_u32_by_name merges the runs. */
static void merge_name_runs(vf_model *m)
{
    size_t start = 0, shards = vf_checkpoint_shard_count(m->cp);
    for (size_t s = 0; s + 1 < shards; s++) {
        start += vf_st_header_count(vf_checkpoint_shard(m->cp, s)->header);
        if (start > 0 && start < m->count &&
            strcmp(m->tensors[m->by_name[start - 1]].name, m->tensors[m->by_name[start]].name) > 0) {
            vf_sort_u32_by_name(m->by_name, m->count, m->tensors, sizeof *m->tensors,
                                offsetof(vf_tensor, name));
            return;
        }
    }
}

static int cmp_name(const void *key, const void *elem, const vf_model *m)
{
    return strcmp(key, m->tensors[*(const uint32_t *)elem].name);
}

long vf_model_find(const vf_model *m, const char *name)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_name(name, &m->by_name[mid], m);
        if (c == 0)
            return (long)m->by_name[mid];
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- totals and architecture -------------------------------------------------------------------
 *
 * One pass over the table (the fill found the layer bounds and DeepSeek's MTP layers, note_layers):
 * arch_pass marks those MTP layers and gathers everything else (embedding and head, per-layer
 * parameters and kinds, experts, components, totals, the quantization counts) in table order. */

/* VF_LAYER_* a tensor contributes to its layer. */
static uint32_t layer_kind_of(const vf_tensor *t)
{
    switch (t->role) {
    case VF_ROLE_ATTN_Q: case VF_ROLE_ATTN_K: case VF_ROLE_ATTN_V: case VF_ROLE_ATTN_O:
    case VF_ROLE_ATTN_QKV: case VF_ROLE_ATTN_OTHER: case VF_ROLE_ATTN_SINKS:
        return VF_LAYER_ATTENTION;
    case VF_ROLE_MAMBA_IN: case VF_ROLE_MAMBA_CONV: case VF_ROLE_MAMBA_X: case VF_ROLE_MAMBA_DT:
    case VF_ROLE_MAMBA_SSM: case VF_ROLE_MAMBA_OUT:
        return VF_LAYER_MAMBA;
    case VF_ROLE_LINEAR_ATTN_IN: case VF_ROLE_LINEAR_ATTN_CONV: case VF_ROLE_LINEAR_ATTN_SSM:
    case VF_ROLE_LINEAR_ATTN_OUT:
        return VF_LAYER_LINEAR_ATTENTION;
    case VF_ROLE_MOE_ROUTER:
        return VF_LAYER_MOE;
    default:
        return t->expert >= 0 || t->fused_experts ? VF_LAYER_MOE : 0;
    }
}

static vf_model_kind model_kind(unsigned hints)
{
    return (hints & VF_HINT_CROSS) ? VF_MODEL_ENCODER_DECODER
           : (hints & VF_HINT_ENCODER) ? VF_MODEL_ENCODER
                                       : VF_MODEL_DECODER;
}

/* What arch_pass gathers besides the model's own fields. */
typedef struct arch_acc {
    const vf_tensor *emb, *head; /* the language model's 2-D embedding / output head, preferring
                                    one outside any layer */
    int32_t lm_max;              /* highest language-model layer once the MTP layers are marked */
    uint64_t outside;            /* parameters outside any language-model layer */
    bool *seen, *shared;         /* by layer: holds language-model tensors / shared experts */
    bool *comp_seen;             /* by component, then layer: holds non-ignored tensors */
    size_t comp_slots;           /* layers per component in comp_seen */
    vf_component_stats all[VF_COMPONENT_COUNT];
} arch_acc;

static void prefer(const vf_tensor **best, const vf_tensor *t)
{
    if (!*best || ((*best)->layer >= 0 && t->layer < 0))
        *best = t;
}

/* Per-layer parameters, kinds, the layer count, experts and shared-expert layers of the language
 * model; tower tensors count outside any layer, ignored ones nowhere. */
static void add_to_layers(vf_model *m, arch_acc *acc, const vf_tensor *t)
{
    vf_arch *a = &m->arch;
    if (t->ignored)
        return;
    bool lm = in_lm(t) && t->layer >= 0;
    uint64_t *params = lm ? &m->layer_params[t->layer] : &acc->outside;
    if (lm) {
        acc->lm_max = t->layer > acc->lm_max ? t->layer : acc->lm_max;
        a->layers += !acc->seen[t->layer];
        acc->seen[t->layer] = true;
        a->shared_experts_layers += t->shared_expert && !acc->shared[t->layer];
        acc->shared[t->layer] |= t->shared_expert;
        m->layer_kinds[t->layer] |= layer_kind_of(t);
    }
    if (!t->buffer)
        vf_acc_u64(params, t->logical_numel);
    /* fused experts, 3-D or packed (gpt-oss MXFP4 *_blocks [E, out, in/32, 16]): E = shape[0] */
    uint64_t experts = t->experts_layout != VF_EXPERTS_NONE ? t->shape[0] : (uint64_t)(t->expert + 1);
    if (in_lm(t) && t->role != VF_ROLE_OTHER && experts > a->experts && experts <= UINT32_MAX)
        a->experts = (uint32_t)experts;
}

/* The components table: per sub-model tensors, parameters, bytes and distinct layer indices. */
static void add_to_component(arch_acc *acc, const vf_tensor *t)
{
    vf_component_stats *c = &acc->all[t->component];
    c->tensors++;
    vf_acc_u64(&c->bytes, t->bytes);
    if (!t->buffer && !t->ignored)
        vf_acc_u64(&c->parameters, t->logical_numel);
    if (t->layer < 0 || t->ignored)
        return;
    bool *seen = &acc->comp_seen[(size_t)t->component * acc->comp_slots + (size_t)t->layer];
    c->layers += !*seen;
    *seen = true;
}

static void add_to_totals(vf_totals *tt, const vf_tensor *x)
{
    if (!x->ignored) {
        vf_acc_u64(x->buffer ? &tt->buffers : &tt->parameters, x->buffer ? x->numel : x->logical_numel);
        tt->buffer_tensors += x->buffer;
    }
    vf_acc_u64(&tt->bytes, x->bytes);
    vf_dtype_stats *d = &tt->by_dtype[x->dtype];
    d->tensors++;
    vf_acc_u64(&d->elements, x->numel);
    vf_acc_u64(&d->bytes, x->bytes);
}

/* Marks the MTP layers' tensors and gathers every per-tensor sum in one pass. */
static void arch_pass(vf_model *m, const layer_scan *s, arch_acc *acc)
{
    m->totals.files = vf_checkpoint_shard_count(m->cp);
    m->totals.tensors = m->count;
    for (size_t i = 0; i < m->count; i++) {
        vf_tensor *t = &m->tensors[i];
        if (in_lm(t) && is_mtp_layer(s, t->layer)) {
            t->component = VF_COMPONENT_MTP;
            t->ignored = true;
        }
        if (in_lm(t) && t->ndim == 2 && t->role == VF_ROLE_EMBED)
            prefer(&acc->emb, t);
        if (in_lm(t) && t->ndim == 2 && t->role == VF_ROLE_LM_HEAD)
            prefer(&acc->head, t);
        add_to_layers(m, acc, t);
        add_to_component(acc, t);
        add_to_totals(&m->totals, t);
        vf_quant_count(&m->quant, t);
    }
}

/* The architecture and the tables arch_pass gathered. */
static void arch_finish(vf_model *m, const arch_acc *acc)
{
    vf_arch *a = &m->arch;
    if (acc->emb) {
        a->embedding = acc->emb->name;
        a->vocab_size = acc->emb->shape[0];
        a->hidden_size = acc->emb->shape[1];
    }
    a->lm_head = acc->head ? acc->head->name : NULL;
    a->tied_embeddings = acc->emb && !acc->head;
    a->kind = model_kind(m->hints);
    m->layer_slots = (size_t)acc->lm_max + 2; /* layers 0..lm_max plus "outside any layer" */
    m->layer_params[m->layer_slots - 1] = acc->outside;
    for (int k = 0; k < VF_COMPONENT_COUNT; k++)
        if (acc->all[k].tensors) {
            m->components[m->component_count] = acc->all[k];
            m->components[m->component_count].component = (vf_component)k;
            m->components[m->component_count++].loaded = k != VF_COMPONENT_MTP;
        }
}

/* Everything below the table: architecture, layers, components, totals and quantization counts. */
static int infer_arch(vf_model *m, vf_error *err)
{
    layer_scan *s = &m->scan;
    if (m->scan_stale) { /* a role changed from or to MTP_PROJ since the fill: scanned again */
        free(s->mtp);
        *s = (layer_scan)LAYER_SCAN_INIT;
        for (size_t i = 0; i < m->count; i++)
            note_layers(s, &m->tensors[i]);
    }
    int rc = s->nomem ? vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory") : VF_OK;
    size_t slots = (size_t)s->lm_max + 2, comp_slots = (size_t)s->any_max + 1;
    arch_acc acc = {.lm_max = -1, .comp_slots = comp_slots};
    m->layer_params = calloc(slots, sizeof *m->layer_params);
    m->layer_kinds = calloc(slots, sizeof *m->layer_kinds);
    acc.seen = calloc(slots, 2 * sizeof *acc.seen);
    acc.comp_seen = calloc(comp_slots ? comp_slots * VF_COMPONENT_COUNT : 1, sizeof *acc.comp_seen);
    if (rc == VF_OK && (!m->layer_params || !m->layer_kinds || !acc.seen || !acc.comp_seen))
        rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_OK) {
        acc.shared = acc.seen + slots;
        arch_pass(m, s, &acc);
        arch_finish(m, &acc);
    }
    free(s->mtp);
    s->mtp = NULL;
    free(acc.seen);
    free(acc.comp_seen);
    return rc;
}

/* ---- config.json comparison -------------------------------------------------------------------- */

static const vf_jnode *config_key(const vf_jdoc *doc, const char *const *keys)
{
    const vf_jnode *cfg = vf_jdoc_root(doc), *text = vf_jdoc_get(doc, cfg, "text_config");
    for (const char *const *k = keys; *k; k++) {
        const vf_jnode *v = vf_jdoc_get(doc, cfg, *k);
        if (!v)
            v = vf_jdoc_get(doc, text, *k);
        if (v)
            return v;
    }
    return NULL;
}

/* A count config.json claims, compared with the headers'. A number outside the integer rule
 * (vf_jnode_u64) is refused with a finding naming the key, never rounded; other types are not
 * claims. */
static int compare_number(vf_model *m, const vf_jdoc *doc, const char *const *keys, uint64_t actual,
                          const char *what)
{
    const vf_jnode *v = config_key(doc, keys);
    uint64_t claimed;
    if (!vf_jnode_is(v, VF_JNUMBER))
        return VF_OK;
    if (!vf_jnode_u64(v, &claimed))
        return vf_findings_add(m->findings, VF_SEV_WARNING,
                               "config.json: %s is %.40s, not an integer in 0..2^53; ignored", v->key, v->str);
    if (claimed == actual)
        return VF_OK;
    return vf_findings_add(m->findings, VF_SEV_WARNING,
                           "config.json: %s is %llu but the headers give %llu (%s); the headers win",
                           v->key, (unsigned long long)claimed, (unsigned long long)actual, what);
}

static int compare_config(vf_model *m)
{
    size_t len;
    const uint8_t *raw = vf_checkpoint_aux(m->cp, "config.json", &len);
    if (!raw)
        return VF_OK;
    vf_jdoc *cfg = NULL;
    vf_error e = {0};
    int rc = vf_jdoc_parse(raw, len, "config.json", "the file", VF_ERR_CONFIG, &cfg, &e);
    if (rc == VF_ERR_NOMEM)
        return rc;
    if (rc != VF_OK) /* the one reader's verdict: bad UTF-8, a syntax error, a duplicate key */
        return vf_findings_add(m->findings, VF_SEV_WARNING, "config.json: %s; ignored", e.message);
    if (!vf_jnode_is(vf_jdoc_root(cfg), VF_JOBJECT)) {
        vf_jdoc_free(cfg);
        return vf_findings_add(m->findings, VF_SEV_WARNING, "config.json: not a JSON object; ignored");
    }
    static const char *const vocab[] = {"vocab_size", NULL}, *const hidden[] = {"hidden_size", "n_embd", "d_model", NULL},
                             *const layers[] = {"num_hidden_layers", "n_layer", "num_layers", NULL},
                             *const experts[] = {"num_local_experts", "n_routed_experts", "num_experts", NULL},
                             *const tie[] = {"tie_word_embeddings", NULL};
    const vf_arch *a = &m->arch;
    if (a->embedding) {
        rc |= compare_number(m, cfg, vocab, a->vocab_size, "rows of the input embedding");
        rc |= compare_number(m, cfg, hidden, a->hidden_size, "columns of the input embedding");
    }
    rc |= compare_number(m, cfg, layers, a->layers, "distinct layer indices in tensor names");
    if (a->experts)
        rc |= compare_number(m, cfg, experts, a->experts, "experts found in tensor names");
    const vf_jnode *t = config_key(cfg, tie);
    bool is_bool = vf_jnode_is(t, VF_JTRUE) || vf_jnode_is(t, VF_JFALSE), tied = vf_jnode_is(t, VF_JTRUE);
    if (a->embedding && is_bool && tied != a->tied_embeddings)
        rc |= vf_findings_add(m->findings, VF_SEV_WARNING,
                              "config.json: tie_word_embeddings is %s but the checkpoint %s a separate "
                              "output head; the headers win",
                              tied ? "true" : "false", a->tied_embeddings ? "stores no" : "stores");
    vf_jdoc_free(cfg);
    return rc == VF_OK ? VF_OK : VF_ERR_NOMEM;
}

static int copy_findings(vf_model *m)
{
    const vf_findings *src = vf_checkpoint_findings(m->cp);
    for (size_t i = 0; i < vf_findings_count(src); i++) {
        const vf_finding *f = vf_findings_get(src, i);
        if (vf_findings_add(m->findings, f->severity, "%s", f->message) != VF_OK)
            return VF_ERR_NOMEM;
    }
    return VF_OK;
}

/* ---- construction ------------------------------------------------------------------------------ */

int vf_model_from_checkpoint(vf_checkpoint *cp, vf_model **out, vf_error *err)
{
    *out = NULL;
    vf_model *m = calloc(1, sizeof *m);
    if (!m) {
        vf_checkpoint_free(cp);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    m->cp = cp;
    m->findings = vf_findings_new();
    int rc = m->findings && copy_findings(m) == VF_OK
                 ? fill_table(m, err)
                 : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_OK) {
        merge_name_runs(m);
        bool relabelled = false;
        rc = vf_quant_apply(m, m->families, m->longest, m->layouts, &m->quant, m->findings, &relabelled, err);
        m->scan_stale |= relabelled;
        free(m->families);
        m->families = NULL;
    }
    if (rc == VF_OK)
        rc = infer_arch(m, err);
    if (rc == VF_OK && compare_config(m) != VF_OK)
        rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc != VF_OK) {
        vf_model_free(m);
        return rc;
    }
    *out = m;
    return VF_OK;
}

int vf_model_open(const char *path, const vf_open_options *opts, vf_model **out, vf_error *err)
{
    vf_checkpoint *cp = NULL;
    *out = NULL;
    int rc = vf_checkpoint_open(path, opts, &cp, err);
    if (rc == VF_OK && (rc = vf_checkpoint_require_model(cp, err)) != VF_OK)
        vf_checkpoint_free(cp);
    return rc == VF_OK ? vf_model_from_checkpoint(cp, out, err) : rc;
}

const vf_checkpoint *vf_model_checkpoint(const vf_model *m)
{
    return m->cp;
}

size_t vf_model_tensor_count(const vf_model *m)
{
    return m->count;
}

const vf_tensor *vf_model_tensor(const vf_model *m, size_t i)
{
    return i < m->count ? &m->tensors[i] : NULL;
}

const vf_arch *vf_model_arch(const vf_model *m)
{
    return &m->arch;
}

const vf_totals *vf_model_totals(const vf_model *m)
{
    return &m->totals;
}

const vf_findings *vf_model_findings(const vf_model *m)
{
    return m->findings;
}

const vf_quant *vf_model_quant(const vf_model *m)
{
    return &m->quant;
}

vf_tensor *vf_model_tensor_mut(vf_model *m, size_t i)
{
    return i < m->count ? &m->tensors[i] : NULL;
}

const uint32_t *vf_model_name_order(const vf_model *m)
{
    return m->by_name;
}

size_t vf_model_component_count(const vf_model *m)
{
    return m->component_count;
}

const vf_component_stats *vf_model_component(const vf_model *m, size_t i)
{
    return i < m->component_count ? &m->components[i] : NULL;
}

uint32_t vf_model_layer_kind(const vf_model *m, size_t layer)
{
    return layer + 1 < m->layer_slots ? m->layer_kinds[layer] : 0;
}

const uint64_t *vf_model_layer_params(const vf_model *m, size_t *count)
{
    *count = m->layer_slots;
    return m->layer_params;
}
