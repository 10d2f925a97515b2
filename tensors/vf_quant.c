/* vf_quant.c - pre-quantized checkpoints: which tensors are quantized weights (and their logical
 * [out, in]), which are quantization metadata, and the scheme. Facts from the libraries that write
 * and load them (commits read for this file):
 *  - bitsandbytes (95f9af3) nn/modules.py Linear4bit._save_to_state_dict, functional.py
 *    QuantState.as_dict/from_dict, _ops.py quantize_4bit: weight U8 [(n + 1) // (itemsize * 2), 1],
 *    weight.absmax [ceil(n / blocksize)], weight.quant_map, with double quantization
 *    weight.nested_absmax and weight.nested_quant_map, and weight.quant_state.bitsandbytes__nf4|fp4
 *    (JSON text with the logical shape; parser/vf_bnb_state.c). Linear8bitLt: int8 weight [out, in],
 *    SCB [out], weight_format (a U8 scalar).
 *  - GPTQModel (nn_modules/qlinear/__init__.py _register_gptq_buffers): qweight
 *    [ceil(in * bits / 32), out] I32, qzeros [ceil(in / group), ceil(out * bits / 32)], scales
 *    [ceil(in / group), out], g_idx [in].
 *  - AutoAWQ (modules/linear/gemm.py WQLinear_GEMM): qweight [in, out / (32 / bits)], qzeros
 *    [in / group, out / (32 / bits)], scales [in / group, out]; gemv.py WQLinear_GEMV: qweight
 *    [out, in / (32 / bits)].
 *  - compressed-tensors (52792be) compressors/quantized_compressors/pack_quantized.py:
 *    weight_packed [out, ceil(in / (32 / bits))] I32, weight_shape (the logical [out, in]),
 *    weight_scale, weight_zero_point; fp4_quantized.py (NVFP4): weight_packed U8 [out, in / 2],
 *    weight_scale, weight_global_scale; naive/float quantization: the weight keeps its shape
 *    (int8 or FP8) beside weight_scale and input_scale. CompressedLinear subclasses nn.Linear.
 *  - transformers integrations/finegrained_fp8.py (FP8Linear(nn.Linear)): F8 weight [out, in] with
 *    weight_scale_inv [ceil(out / 128), ceil(in / 128)] (DeepSeek-V3's block scales).
 *  - transformers integrations/mxfp4.py (Mxfp4GptOssExperts, convert_moe_packed_tensors):
 *    P_blocks U8 [E, out, in / 32, 16] (two FP4 values a byte) and P_scales U8 [E, out, in / 32];
 *    dequantized to P [E, in, out] (gpt-oss gate_up_proj [E, H, 2I], down_proj [E, I, H]).
 *  - PEFT (5d602fd) tuners_utils.py _maybe_include_all_linear_layers: all-linear takes
 *    isinstance(module, (nn.Linear, Conv1D)) only; bnb Linear4bit/Linear8bitLt, FP8Linear and
 *    CompressedLinear are nn.Linear subclasses, GPTQ's BaseQuantLinear and AWQ's WQLinear_GEMM are
 *    not (explicit targets still reach them: tuners/lora/gptq.py, awq.py dispatchers). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vf_format_internal.h"
#include "vf_json.h"
#include "vf_quant.h"
#include "vramfit/vf_checked.h"

/* quantization_config of config.json, where given. */
typedef struct qconfig {
    char method[32];
    uint64_t bits, group, block; /* 0 when absent; group UINT64_MAX for GPTQ's group_size -1 */
    bool awq_gemv;
    const char *refused; /* a count key whose number the integer rule refused, or NULL */
} qconfig;

typedef struct qctx {
    vf_model *m;
    unsigned layouts; /* VF_LAYOUT_* the table was classified with */
    vf_quant *q;
    vf_findings *f;
    vf_error *err;
    qconfig cfg;
    char *name;    /* logical names are built here */
    size_t cap;
    const uint32_t *order; /* tensor indices in name order (vf_model_name_order) */
    size_t anchor;         /* rank in `order` of the tensor being handled: its siblings are near */
    bool relabelled;       /* classify_logical gave a tensor another role */
    struct {               /* the last module_block answer: name, base and anchor it was for */
        const char *name;
        size_t base, anchor;
        long lo, hi;
        bool found;
    } block;
} qctx;

const char *vf_quant_scheme_name(vf_quant_scheme scheme)
{
    static const char *const names[] = {
#define VF_X_QSCHEME_NAME(suffix, str) str,
        VF_QUANT_SCHEME_LIST(VF_X_QSCHEME_NAME)
#undef VF_X_QSCHEME_NAME
    };
    return (unsigned)scheme < VF_QUANT_SCHEME_COUNT ? names[scheme] : "?";
}

const char *vf_quant_part_name(vf_quant_part part)
{
    return part == VF_QPART_NONE ? "none" : part == VF_QPART_WEIGHT ? "weight" : part == VF_QPART_META ? "metadata" : "?";
}

/* ---- names ------------------------------------------------------------------------------------- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static const char *name_at(const qctx *c, long r)
{
    return vf_model_tensor(c->m, c->order[r])->name;
}

#define BLOCK_WALK 64 /* names walked at most each way from the anchor before searching by name */

/* The last rank from `from` on in direction `step` whose name starts with name[0..base); -2 when
 * the walk meets BLOCK_WALK. */
static long block_end(const qctx *c, long from, long step, const char *name, size_t base)
{
    long n = (long)vf_model_tensor_count(c->m);
    for (long k = 0; k < BLOCK_WALK; k++, from += step)
        if (from + step < 0 || from + step >= n || strncmp(name_at(c, from + step), name, base) != 0)
            return from;
    return -2;
}

/* Ranks [*lo, *hi) of the names starting with name[0..base), a module's tensors, which are the
 * anchor's neighbours in name order. False when the anchor's name does not start so or the module
 * holds more than BLOCK_WALK names on a side (the caller then searches by name). */
static bool module_block(qctx *c, const char *name, size_t base, long *lo, long *hi)
{
    long a = (long)c->anchor;
    if (c->block.name != name || c->block.base != base || c->block.anchor != c->anchor) {
        const char *own = name_at(c, a);
        c->block.name = name;
        c->block.base = base;
        c->block.anchor = c->anchor;
        c->block.found = own == name || strncmp(own, name, base) == 0;
        c->block.lo = c->block.found ? block_end(c, a, -1, name, base) : -1;
        c->block.hi = c->block.found ? block_end(c, a, 1, name, base) + 1 : -1;
        c->block.found &= c->block.lo >= 0 && c->block.hi >= 0;
    }
    *lo = c->block.lo;
    *hi = c->block.hi;
    return c->block.found;
}

/* The tensor named name[0..base) + suffix, or NULL, found by name. */
static vf_tensor *find_sibling(qctx *c, const char *name, size_t base, const char *suffix)
{
    size_t k = strlen(suffix);
    if (base + k + 1 > c->cap)
        return NULL; /* longer than any name in the table: cannot exist */
    memcpy(c->name, name, base);
    memcpy(c->name + base, suffix, k + 1);
    long i = vf_model_find(c->m, c->name);
    return i < 0 ? NULL : vf_model_tensor_mut(c->m, (size_t)i);
}

/* The tensor named name[0..base) + suffix, or NULL: looked for among the anchor's module, where
 * every caller's sibling lives (name[0..base) starts the anchor's name). */
static vf_tensor *sibling(qctx *c, const char *name, size_t base, const char *suffix)
{
    long lo, hi;
    if (!module_block(c, name, base, &lo, &hi))
        return find_sibling(c, name, base, suffix);
    for (long r = lo; r < hi; r++)
        if (strcmp(name_at(c, r) + base, suffix) == 0)
            return vf_model_tensor_mut(c->m, c->order[r]);
    return NULL;
}

static int bad(qctx *c, const vf_tensor *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(qctx *c, const vf_tensor *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vf_error_setv(c->err, VF_ERR_QUANT, t->file, t->name, fmt, ap);
    va_end(ap);
    return VF_ERR_QUANT;
}

static void mark_meta(vf_tensor *t)
{
    if (t) {
        t->quant = VF_QPART_META;
        t->logical_numel = 0;
        t->module = VF_MODULE_NONE;
    }
}

/* A sibling's name after its module's: a suffix and its length. */
typedef struct suffix {
    const char *s;
    size_t len;
} suffix;
#define SUF(lit) {lit, sizeof lit - 1}

/* Marks the siblings name[0..base) + each of `list` (ended by a NULL suffix) as metadata: one walk
 * over the anchor's module, lengths compared first. */
static void mark_siblings(qctx *c, const char *name, size_t base, const suffix *list)
{
    long lo, hi;
    if (!module_block(c, name, base, &lo, &hi)) {
        for (; list->s; list++)
            mark_meta(find_sibling(c, name, base, list->s));
        return;
    }
    for (long r = lo; r < hi; r++) {
        const char *tail = name_at(c, r) + base;
        size_t n = strlen(tail);
        for (const suffix *x = list; x->s; x++)
            if (x->len == n && memcmp(tail, x->s, n) == 0)
                mark_meta(vf_model_tensor_mut(c->m, c->order[r]));
    }
}

/* A weight stored under another name than its module's (`<module>.qweight`, `.weight_packed`,
 * `<P>_blocks`) takes role, module kind and expert layout from its logical name: "<module>.weight"
 * (2-D), or the fused expert parameter `<P>` itself (3-D). */
static void classify_logical(qctx *c, vf_tensor *t, size_t base, bool fused)
{
    const char *leaf = fused ? "" : ".weight";
    size_t k = strlen(leaf);
    if (base + k + 1 > c->cap || (strlen(t->name) == base + k && strcmp(t->name + base, leaf) == 0))
        return; /* already its module's name: classified as such */
    memcpy(c->name, t->name, base);
    memcpy(c->name + base, leaf, k + 1);
    vf_name_info ni;
    vf_name_classify_in(c->name, fused ? 3 : 2, c->layouts, &ni);
    c->relabelled |= t->role != ni.role;
    t->role = ni.role;
    t->module = ni.module;
    if (fused)
        t->experts_layout = ni.experts_layout != VF_EXPERTS_NONE ? ni.experts_layout : VF_EXPERTS_OUT_IN;
}

/* ---- scheme bookkeeping ------------------------------------------------------------------------ */

static const char *scheme_family(vf_quant_scheme s)
{
    switch (s) {
    case VF_QUANT_BNB_NF4:
    case VF_QUANT_BNB_FP4:
    case VF_QUANT_BNB_INT8: return "bitsandbytes";
    case VF_QUANT_GPTQ: return "gptq";
    case VF_QUANT_AWQ: return "awq";
    case VF_QUANT_CT_INT:
    case VF_QUANT_CT_FP8:
    case VF_QUANT_NVFP4: return "compressed-tensors";
    case VF_QUANT_FP8_BLOCK: return "fp8";
    case VF_QUANT_MXFP4: return "mxfp4";
    default: return "none";
    }
}

/* Records a weight of scheme s (bits, group); the first scheme met is the checkpoint's. */
static int note_scheme(qctx *c, const vf_tensor *t, vf_quant_scheme s, uint32_t bits, uint64_t group)
{
    vf_quant *q = c->q;
    if (q->scheme == VF_QUANT_NONE) {
        q->scheme = s;
        q->bits = bits;
        q->group_size = group;
        q->peft_linear = s != VF_QUANT_GPTQ && s != VF_QUANT_AWQ && s != VF_QUANT_MXFP4;
        return VF_OK;
    }
    if (q->scheme == s)
        return VF_OK;
    return vf_findings_add(c->f, VF_SEV_WARNING,
                           "%s: '%s' is stored as %s while the checkpoint's other quantized weights are "
                           "%s; both are counted by their logical shape",
                           t->file, t->name, vf_quant_scheme_name(s), vf_quant_scheme_name(q->scheme)) == VF_OK
               ? VF_OK
               : vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
}

/* A quantized weight of module name[0..base) with the logical view rows x cols (x matrices). */
static int set_weight(qctx *c, vf_tensor *t, uint64_t rows, uint64_t cols, uint64_t matrices,
                      size_t base, bool fused)
{
    uint64_t n;
    if (vf_mul_u64_overflow(&n, rows, cols) || vf_mul_u64_overflow(&n, n, matrices))
        return bad(c, t, "logical shape overflows 64 bits");
    t->quant = VF_QPART_WEIGHT;
    t->rows = rows;
    t->cols = cols;
    t->matrices = matrices;
    t->logical_numel = n;
    t->fused_experts = fused;
    classify_logical(c, t, base, fused);
    return VF_OK;
}

/* ---- bitsandbytes ------------------------------------------------------------------------------ */

static const suffix bnb4_meta[] = {SUF(".absmax"), SUF(".quant_map"), SUF(".nested_absmax"),
                                   SUF(".nested_quant_map"), {NULL, 0}};

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static bool bnb_blocksize_ok(uint64_t b)
{
    for (uint64_t v = 32; v <= 4096; v *= 2) /* quantize_4bit's valid blocksizes */
        if (b == v)
            return true;
    return false;
}

/* Cross-checks the parsed state s of weight w against the stored tensors. */
static int bnb4_check(qctx *c, const vf_tensor *st, const vf_tensor *w, const vf_bnb_state *s,
                      uint64_t *n)
{
    if (s->ndim != 2)
        return bad(c, st, "quant_state shape has %u dimensions; a Linear4bit weight has 2", s->ndim);
    if (vf_mul_u64_overflow(n, s->shape[0], s->shape[1]) || *n == 0)
        return bad(c, st, "quant_state shape [%llu, %llu] is empty or overflows 64 bits",
                   (unsigned long long)s->shape[0], (unsigned long long)s->shape[1]);
    if (!bnb_blocksize_ok(s->blocksize) || (s->nested && !bnb_blocksize_ok(s->nested_blocksize)))
        return bad(c, st, "quant_state blocksize %llu is not one bitsandbytes uses (32 ... 4096)",
                   (unsigned long long)(bnb_blocksize_ok(s->blocksize) ? s->nested_blocksize : s->blocksize));
    unsigned bits = vf_dtype_bits(w->dtype);
    uint64_t per = bits / 4; /* 4-bit values per stored element: itemsize * 2 */
    if (bits < 8 || w->ndim != 2 || w->shape[1] != 1 || w->numel != (*n / per) + ((*n % per) + 1) / per)
        return bad(c, st,
                   "quant_state shape [%llu, %llu] (%llu values) disagrees with the packed weight '%s' "
                   "(%s, %llu elements of %u bits; bitsandbytes stores [(n + 1) / %llu, 1])",
                   (unsigned long long)s->shape[0], (unsigned long long)s->shape[1],
                   (unsigned long long)*n, w->name, vf_dtype_name(w->dtype), (unsigned long long)w->numel,
                   bits, (unsigned long long)(per ? per : 1));
    return VF_OK;
}

/* absmax holds ceil(n / blocksize) values; nested_absmax ceil(that / nested_blocksize). */
static int bnb4_check_absmax(qctx *c, const vf_tensor *w, size_t base, const vf_bnb_state *s, uint64_t n)
{
    vf_tensor *a = sibling(c, w->name, base, ".absmax"), *na = sibling(c, w->name, base, ".nested_absmax");
    uint64_t blocks = ceil_div(n, s->blocksize);
    if (a && a->numel != blocks)
        return bad(c, a, "%llu absmax values for %llu weights in blocks of %llu (bitsandbytes stores %llu)",
                   (unsigned long long)a->numel, (unsigned long long)n,
                   (unsigned long long)s->blocksize, (unsigned long long)blocks);
    if (s->nested && na && na->numel != ceil_div(blocks, s->nested_blocksize))
        return bad(c, na, "%llu nested absmax values for %llu blocks in groups of %llu",
                   (unsigned long long)na->numel, (unsigned long long)blocks,
                   (unsigned long long)s->nested_blocksize);
    return VF_OK;
}

/* st: "<module>.weight.quant_state.bitsandbytes__nf4|fp4". */
static int bnb4(qctx *c, vf_tensor *st)
{
    const char *tag = strrchr(st->name, '.') + 1; /* bitsandbytes__nf4 */
    size_t base = (size_t)(tag - st->name) - sizeof ".quant_state"; /* end of "<module>.weight" */
    vf_tensor *w = base > 7 && memcmp(st->name + base - 7, ".weight", 7) == 0 ? sibling(c, st->name, base, "")
                                                                               : NULL;
    if (!w)
        return bad(c, st, "quant_state without its weight '%.*s'", (int)base, st->name);
    if (st->dtype != VF_DTYPE_U8 || st->ndim != 1)
        return bad(c, st, "quant_state is %s with %u dimensions; bitsandbytes writes a 1-D U8 JSON text",
                   vf_dtype_name(st->dtype), st->ndim);
    if (st->bytes > VF_TENSOR_DATA_MAX)
        return bad(c, st, "quant_state holds %llu bytes; bitsandbytes writes a short JSON text (vramfit "
                   "reads at most %u)", (unsigned long long)st->bytes, VF_TENSOR_DATA_MAX);
    const uint8_t *data;
    size_t len;
    int rc = vf_checkpoint_tensor_data(vf_model_checkpoint(c->m), st->shard, st->name, &data, &len, c->err);
    vf_bnb_state s;
    if (rc == VF_OK)
        rc = vf_bnb_state_parse(data, len, st->file, st->name, &s, c->err);
    if (rc == VF_OK && strcmp(tag + strlen("bitsandbytes__"), s.quant_type) != 0)
        rc = bad(c, st, "quant_state says quant_type '%s' but is named %s", s.quant_type, tag);
    uint64_t n = 0;
    if (rc == VF_OK)
        rc = bnb4_check(c, st, w, &s, &n);
    if (rc == VF_OK)
        rc = bnb4_check_absmax(c, w, base, &s, n);
    if (rc == VF_OK)
        rc = note_scheme(c, w, s.quant_type[0] == 'n' ? VF_QUANT_BNB_NF4 : VF_QUANT_BNB_FP4, 4, s.blocksize);
    if (rc != VF_OK)
        return rc;
    c->q->double_quant |= s.nested;
    mark_meta(st);
    mark_siblings(c, w->name, base, bnb4_meta);
    return set_weight(c, w, s.shape[0], s.shape[1], 1, base - strlen(".weight"), false);
}

/* scb: "<module>.SCB" beside the int8 "<module>.weight" [out, in]. */
static int bnb8(qctx *c, vf_tensor *scb)
{
    size_t base = strlen(scb->name) - strlen(".SCB");
    vf_tensor *w = sibling(c, scb->name, base, ".weight");
    if (!w || w->dtype != VF_DTYPE_I8 || w->ndim != 2)
        return bad(c, scb, "SCB without an int8 2-D weight beside it");
    if (scb->numel != w->shape[0])
        return bad(c, scb, "%llu row scales for the %llu rows of '%s'", (unsigned long long)scb->numel,
                   (unsigned long long)w->shape[0], w->name);
    static const suffix meta[] = {SUF(".SCB"), SUF(".weight_format"), {NULL, 0}};
    mark_siblings(c, scb->name, base, meta);
    int rc = note_scheme(c, w, VF_QUANT_BNB_INT8, 8, 0);
    return rc == VF_OK ? set_weight(c, w, w->shape[0], w->shape[1], 1, base, false) : rc;
}

/* ---- GPTQ and AWQ ------------------------------------------------------------------------------ */

static const suffix gptq_meta[] = {SUF(".qzeros"), SUF(".scales"), SUF(".g_idx"), {NULL, 0}};

/* Which of the two a qweight is: the config says, else g_idx (GPTQ only) or the scales' columns
 * (out for both: GPTQ's qweight has out columns, AWQ's out * bits / 32). */
static bool is_awq(qctx *c, const vf_tensor *qw, size_t base)
{
    if (strcmp(c->cfg.method, "awq") == 0)
        return true;
    if (strcmp(c->cfg.method, "gptq") == 0 || sibling(c, qw->name, base, ".g_idx"))
        return false;
    const vf_tensor *sc = sibling(c, qw->name, base, ".scales");
    return sc && sc->ndim == 2 && sc->shape[1] != qw->shape[1];
}

static int gptq(qctx *c, vf_tensor *qw, size_t base, uint64_t bits)
{
    const vf_tensor *g = sibling(c, qw->name, base, ".g_idx"), *sc = sibling(c, qw->name, base, ".scales");
    if (g && (g->ndim != 1 || g->numel > (UINT64_C(1) << 53)))
        return bad(c, g, "g_idx is not the 1-D list of input features' groups");
    uint64_t out = qw->shape[1], in = g ? g->numel : qw->shape[0] * 32 / bits;
    if (!g && (qw->shape[0] * 32) % bits)
        return bad(c, qw, "%llu packed rows do not hold a whole number of %llu-bit input features",
                   (unsigned long long)qw->shape[0], (unsigned long long)bits);
    if (ceil_div(in * bits, 32) != qw->shape[0]) /* in <= 2^53 and bits <= 16: no overflow */
        return bad(c, qw, "qweight [%llu, %llu] does not pack %llu input features at %llu bits "
                   "(GPTQ stores [ceil(in * bits / 32), out])", (unsigned long long)qw->shape[0],
                   (unsigned long long)qw->shape[1], (unsigned long long)in, (unsigned long long)bits);
    if (sc && (sc->ndim != 2 || sc->shape[1] != out))
        return bad(c, sc, "scales do not have the %llu output columns of the qweight", (unsigned long long)out);
    uint64_t group = c->cfg.group == UINT64_MAX ? in : c->cfg.group;
    if (!group && sc && sc->shape[0])
        group = ceil_div(in, sc->shape[0]);
    int rc = note_scheme(c, qw, VF_QUANT_GPTQ, (uint32_t)bits, group);
    return rc == VF_OK ? set_weight(c, qw, out, in, 1, base, false) : rc;
}

static int awq(qctx *c, vf_tensor *qw, size_t base, uint64_t bits)
{
    const vf_tensor *sc = sibling(c, qw->name, base, ".scales");
    uint64_t pack = 32 / bits, packed = qw->shape[1] * pack;
    uint64_t out = c->cfg.awq_gemv ? qw->shape[0] : packed, in = c->cfg.awq_gemv ? packed : qw->shape[0];
    if (!c->cfg.awq_gemv && sc && (sc->ndim != 2 || sc->shape[1] != out))
        return bad(c, sc, "scales do not have the %llu output columns the qweight packs at %llu bits "
                   "(AWQ GEMM stores qweight [in, out * bits / 32], scales [in / group, out])",
                   (unsigned long long)out, (unsigned long long)bits);
    uint64_t group = c->cfg.group;
    if (!group && sc && sc->ndim == 2 && sc->shape[0] && !c->cfg.awq_gemv)
        group = ceil_div(in, sc->shape[0]);
    int rc = note_scheme(c, qw, VF_QUANT_AWQ, (uint32_t)bits, group);
    return rc == VF_OK ? set_weight(c, qw, out, in, 1, base, false) : rc;
}

/* qw: "<module>.qweight". */
static int gptq_awq(qctx *c, vf_tensor *qw)
{
    size_t base = strlen(qw->name) - strlen(".qweight");
    uint64_t bits = c->cfg.bits ? c->cfg.bits : 4;
    if (qw->dtype != VF_DTYPE_I32 || qw->ndim != 2)
        return bad(c, qw, "qweight is %s with %u dimensions; GPTQ and AWQ pack into 2-D I32",
                   vf_dtype_name(qw->dtype), qw->ndim);
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
        return bad(c, qw, "quantization_config bits %llu is not 2, 3, 4 or 8", (unsigned long long)bits);
    bool a = is_awq(c, qw, base);
    if (a && 32 % bits)
        return bad(c, qw, "AWQ packs 32 / bits values an int32; bits %llu does not divide 32",
                   (unsigned long long)bits);
    mark_siblings(c, qw->name, base, gptq_meta);
    int rc = a ? awq(c, qw, base, bits) : gptq(c, qw, base, bits);
    if (rc == VF_OK) /* an nn.Module, not nn.Linear: PEFT targets it by name, all-linear does not */
        qw->module = VF_MODULE_QUANT_LINEAR;
    return rc;
}

/* ---- compressed-tensors and FP8 ---------------------------------------------------------------- */

static const suffix ct_meta[] = {SUF(".weight_scale"), SUF(".weight_zero_point"), SUF(".weight_shape"),
                                 SUF(".weight_global_scale"), SUF(".input_scale"), SUF(".input_global_scale"),
                                 SUF(".input_zero_point"), SUF(".weight_g_idx"), SUF(".weight_scale_inv"),
                                 {NULL, 0}};

/* The logical [out, in] stored in "<module>.weight_shape" (I32 or I64, 2 values), when present. */
static int read_weight_shape(qctx *c, const vf_tensor *ws, uint64_t dims[2])
{
    unsigned size = vf_dtype_bits(ws->dtype) / 8;
    if ((ws->dtype != VF_DTYPE_I32 && ws->dtype != VF_DTYPE_I64) || ws->numel != 2)
        return bad(c, ws, "weight_shape is %s with %llu elements; compressed-tensors stores the 2 "
                   "integers of [out, in]", vf_dtype_name(ws->dtype), (unsigned long long)ws->numel);
    const uint8_t *d;
    size_t len;
    int rc = vf_checkpoint_tensor_data(vf_model_checkpoint(c->m), ws->shard, ws->name, &d, &len, c->err);
    for (unsigned k = 0; rc == VF_OK && k < 2; k++) {
        uint64_t v = 0;
        for (unsigned b = size; b-- > 0;)
            v = (v << 8) | d[k * size + b];
        if (v == 0 || v > (UINT64_C(1) << 53))
            return bad(c, ws, "weight_shape holds %lld, not a dimension", (long long)v);
        dims[k] = v;
    }
    return rc;
}

/* wp: "<module>.weight_packed": I32 (int2/4/8 pack-quantized) or U8 (NVFP4). */
static int ct_packed(qctx *c, vf_tensor *wp)
{
    size_t base = strlen(wp->name) - strlen(".weight_packed");
    bool fp4 = wp->dtype == VF_DTYPE_U8;
    if ((!fp4 && wp->dtype != VF_DTYPE_I32) || wp->ndim != 2)
        return bad(c, wp, "weight_packed is %s with %u dimensions; compressed-tensors packs into 2-D "
                   "I32 (integers) or U8 (NVFP4)", vf_dtype_name(wp->dtype), wp->ndim);
    uint64_t bits = fp4 ? 4 : c->cfg.bits ? c->cfg.bits : 4;
    if (bits != 2 && bits != 4 && bits != 8) /* pack_to_int32 packs 32 / bits values an int32 */
        return bad(c, wp, "quantization_config num_bits %llu is not 2, 4 or 8", (unsigned long long)bits);
    uint64_t per = fp4 ? 2 : 32 / bits, dims[2] = {wp->shape[0], wp->shape[1] * per};
    const vf_tensor *ws = sibling(c, wp->name, base, ".weight_shape");
    int rc = ws ? read_weight_shape(c, ws, dims) : VF_OK;
    if (rc == VF_OK && (dims[0] != wp->shape[0] || ceil_div(dims[1], per) != wp->shape[1]))
        rc = bad(c, wp, "weight_packed [%llu, %llu] does not pack the logical [%llu, %llu] at %llu bits",
                 (unsigned long long)wp->shape[0], (unsigned long long)wp->shape[1],
                 (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)bits);
    if (rc == VF_OK)
        rc = note_scheme(c, wp, fp4 ? VF_QUANT_NVFP4 : VF_QUANT_CT_INT, (uint32_t)bits,
                         fp4 ? 16 : c->cfg.group == UINT64_MAX ? 0 : c->cfg.group);
    if (rc != VF_OK)
        return rc;
    mark_siblings(c, wp->name, base, ct_meta);
    return set_weight(c, wp, dims[0], dims[1], 1, base, false);
}

static bool is_fp8(vf_dtype d)
{
    return d == VF_DTYPE_F8_E4M3 || d == VF_DTYPE_F8_E5M2;
}

/* sc: "<module>.weight_scale" or "<module>.weight_scale_inv" beside a weight kept at its shape:
 * FP8 (compressed-tensors float-quantized, DeepSeek block scales) or int8 (naive-quantized). */
static int scaled_weight(qctx *c, vf_tensor *sc, bool inv)
{
    size_t base = strlen(sc->name) - strlen(inv ? ".weight_scale_inv" : ".weight_scale");
    vf_tensor *w = sibling(c, sc->name, base, ".weight");
    if (!inv && sibling(c, sc->name, base, ".weight_packed"))
        return VF_OK; /* the packed weight's own scale (ct_packed) */
    bool quantized = w && w->ndim == 2 && (is_fp8(w->dtype) || (!inv && w->dtype == VF_DTYPE_I8));
    if (!quantized && !inv)
        return VF_OK; /* a parameter that merely ends in weight_scale: not quantization */
    if (!quantized)
        return bad(c, sc, "%s without an FP8%s 2-D weight beside it", inv ? "weight_scale_inv" : "weight_scale",
                   inv ? "" : " or int8");
    vf_quant_scheme s = inv ? VF_QUANT_FP8_BLOCK : is_fp8(w->dtype) ? VF_QUANT_CT_FP8 : VF_QUANT_CT_INT;
    uint64_t group = inv ? (c->cfg.block ? c->cfg.block : sc->ndim == 2 && sc->shape[0] ? ceil_div(w->shape[0], sc->shape[0]) : 0)
                         : (c->cfg.group == UINT64_MAX ? 0 : c->cfg.group);
    int rc = note_scheme(c, w, s, 8, group);
    if (rc != VF_OK)
        return rc;
    mark_siblings(c, sc->name, base, ct_meta);
    return set_weight(c, w, w->shape[0], w->shape[1], 1, base, false);
}

/* ---- MXFP4 (gpt-oss) --------------------------------------------------------------------------- */

/* b: "<P>_blocks" U8 [E, out, in / 32, 16] (or [out, in / 32, 16]) beside "<P>_scales". */
static int mxfp4(qctx *c, vf_tensor *b)
{
    size_t base = strlen(b->name) - strlen("_blocks");
    vf_tensor *sc = sibling(c, b->name, base, "_scales");
    if (!sc)
        return VF_OK; /* a parameter that merely ends in _blocks */
    bool fused = b->ndim == 4;
    if (b->dtype != VF_DTYPE_U8 || (b->ndim != 3 && b->ndim != 4) || sc->ndim + 1 != b->ndim ||
        memcmp(sc->shape, b->shape, sc->ndim * sizeof *sc->shape) != 0)
        return bad(c, b, "MXFP4 blocks must be U8 [E, out, in / 32, 16] with scales [E, out, in / 32] "
                   "(transformers integrations/mxfp4.py)");
    const uint64_t *d = b->shape + (fused ? 1 : 0);
    uint64_t cols;
    if (vf_mul_u64_overflow(&cols, d[1], d[2]) || vf_mul_u64_overflow(&cols, cols, 2))
        return bad(c, b, "logical shape overflows 64 bits");
    mark_meta(sc);
    int rc = note_scheme(c, b, VF_QUANT_MXFP4, 4, d[2] * 2);
    return rc == VF_OK ? set_weight(c, b, d[0], cols, fused ? b->shape[0] : 1, base, fused) : rc;
}

/* ---- config.json ------------------------------------------------------------------------------- */

/* A count of the quantization config under the one integer rule; 0 when absent or refused (a
 * refused number is one finding naming the key: *bad). */
static uint64_t cfg_uint(const vf_jdoc *d, const vf_jnode *o, const char *key, const char **bad)
{
    uint64_t v = 0;
    const vf_jnode *x = vf_jdoc_get(d, o, key);
    if (vf_jnode_u64(x, &v))
        return v;
    if (vf_jnode_is(x, VF_JNUMBER))
        *bad = key;
    return 0;
}

/* The first config group's weights (compressed-tensors config_groups.*.weights). */
static const vf_jnode *ct_weights(const vf_jdoc *d, const vf_jnode *qc)
{
    const vf_jnode *g = vf_jdoc_first(d, vf_jdoc_get(d, qc, "config_groups"));
    const vf_jnode *w = vf_jdoc_get(d, g, "weights");
    return vf_jnode_is(w, VF_JOBJECT) ? w : NULL;
}

static void read_quant_config(qctx *c, const vf_jdoc *d, const vf_jnode *qc)
{
    const char *m = vf_jnode_string(vf_jdoc_get(d, qc, "quant_method"));
    if (m && strlen(m) < sizeof c->cfg.method)
        strcpy(c->cfg.method, m);
    const vf_jnode *w = ct_weights(d, qc), *src = w ? w : qc;
    c->cfg.bits = cfg_uint(d, src, w ? "num_bits" : "bits", &c->cfg.refused);
    const vf_jnode *g = vf_jdoc_get(d, src, "group_size");
    bool minus_one = vf_jnode_is(g, VF_JNUMBER) && g->neg && g->is_int && g->u == 1;
    c->cfg.group = minus_one ? UINT64_MAX : cfg_uint(d, src, "group_size", &c->cfg.refused);
    const char *v = vf_jnode_string(vf_jdoc_get(d, qc, "version"));
    c->cfg.awq_gemv = v && strcmp(v, "gemv") == 0;
    const vf_jnode *blk = vf_jdoc_get(d, qc, "weight_block_size");
    uint64_t b0 = 0;
    if (vf_jnode_is(blk, VF_JARRAY) && vf_jnode_u64(vf_jdoc_first(d, blk), &b0))
        c->cfg.block = b0;
}

/* Reads what the shapes do not say; a missing or malformed config.json leaves everything 0
 * (compare_config reports a malformed one). */
static void read_config(qctx *c)
{
    size_t len;
    const uint8_t *raw = vf_checkpoint_aux(vf_model_checkpoint(c->m), "config.json", &len);
    vf_jdoc *d = NULL;
    vf_error e = {0};
    if (raw && vf_jdoc_parse(raw, len, "config.json", "the file", VF_ERR_CONFIG, &d, &e) != VF_OK)
        return;
    const vf_jnode *qc = vf_jdoc_get(d, vf_jdoc_root(d), "quantization_config");
    if (vf_jnode_is(qc, VF_JOBJECT))
        read_quant_config(c, d, qc);
    vf_jdoc_free(d);
}

static int config_findings(qctx *c)
{
    const char *method = c->cfg.method, *family = scheme_family(c->q->scheme);
    int rc = VF_OK;
    if (c->cfg.refused)
        rc = vf_findings_add(c->f, VF_SEV_WARNING,
                             "config.json: quantization_config.%s is not an integer in 0..2^53; ignored",
                             c->cfg.refused);
    if (rc != VF_OK)
        ;
    else if (*method && c->q->scheme == VF_QUANT_NONE)
        rc = vf_findings_add(c->f, VF_SEV_WARNING,
                             "config.json: quantization_config.quant_method is '%s' but no quantized "
                             "weight is stored; counted as an unquantized checkpoint", method);
    else if (*method && strcmp(method, family) != 0 &&
             !(strcmp(method, "compressed-tensors") == 0 && c->q->scheme == VF_QUANT_FP8_BLOCK))
        rc = vf_findings_add(c->f, VF_SEV_WARNING,
                             "config.json: quantization_config.quant_method is '%s' but the tensors are "
                             "stored as %s; the headers win", method, vf_quant_scheme_name(c->q->scheme));
    return rc == VF_OK ? VF_OK : vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
}

/* ---- driver ------------------------------------------------------------------------------------ */

typedef enum family { F_NONE, F_BNB4, F_BNB8, F_QWEIGHT, F_PACKED, F_SCALE, F_SCALE_INV, F_BLOCKS } family;

/* The family (bnb4 is vf_tensor_data_wanted's quant_state: a last component starting
 * "bitsandbytes__", tested first because nearly no name has one). */
unsigned vf_quant_family(const char *name, size_t n)
{
    size_t last = n, tag = sizeof "bitsandbytes__" - 1;
    while (last > 0 && name[last - 1] != '.')
        last--;
    if (last > 0 && n - last >= tag && memcmp(name + last, "bitsandbytes__", tag) == 0 &&
        vf_tensor_data_wanted(name))
        return F_BNB4;
    return ends_with(name, n, ".qweight")        ? F_QWEIGHT
           : ends_with(name, n, ".weight_packed") ? F_PACKED
           : ends_with(name, n, ".weight_scale")  ? F_SCALE
           : ends_with(name, n, ".weight_scale_inv") ? F_SCALE_INV
           : ends_with(name, n, ".SCB")           ? F_BNB8
           : ends_with(name, n, "_blocks")        ? F_BLOCKS
                                                  : F_NONE;
}

static int apply_family(qctx *c, vf_tensor *t, family f)
{
    switch (f) {
    case F_BNB4: return bnb4(c, t);
    case F_BNB8: return bnb8(c, t);
    case F_QWEIGHT: return gptq_awq(c, t);
    case F_PACKED: return ct_packed(c, t);
    case F_SCALE: return scaled_weight(c, t, false);
    case F_SCALE_INV: return scaled_weight(c, t, true);
    case F_BLOCKS: return mxfp4(c, t);
    default: return VF_OK;
    }
}

void vf_quant_count(vf_quant *q, const vf_tensor *t)
{
    if (q->scheme == VF_QUANT_NONE)
        return;
    vf_acc_u64(&q->stored_elements, t->numel);
    if (t->quant == VF_QPART_META) {
        q->metadata_tensors++;
        vf_acc_u64(&q->metadata_bytes, t->bytes);
    }
    if (t->quant == VF_QPART_WEIGHT && !t->ignored) {
        q->quantized_tensors++;
        vf_acc_u64(&q->logical_elements, t->logical_numel);
    }
}

/* Runs each tensor's family (fam[i], in table order) with the rank of tensor i in name order as
 * the anchor of its sibling searches. */
static int apply_families(qctx *c, const uint8_t *fam)
{
    size_t n = vf_model_tensor_count(c->m);
    uint32_t *rank = malloc(n * sizeof *rank); /* n > 0: a name has a family */
    if (!rank)
        return vf_error_set(c->err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    c->order = vf_model_name_order(c->m);
    for (size_t r = 0; r < n; r++)
        rank[c->order[r]] = (uint32_t)r;
    int rc = VF_OK;
    for (size_t i = 0; rc == VF_OK && i < n; i++) {
        vf_tensor *t = vf_model_tensor_mut(c->m, i);
        c->anchor = rank[i];
        if (fam[i] != F_NONE && t->quant == VF_QPART_NONE)
            rc = apply_family(c, t, (family)fam[i]);
    }
    free(rank);
    return rc;
}

int vf_quant_apply(vf_model *m, const uint8_t *families, size_t longest, unsigned layouts, vf_quant *q,
                   vf_findings *f, bool *relabelled, vf_error *err)
{
    memset(q, 0, sizeof *q);
    size_t n = vf_model_tensor_count(m);
    bool any = false;
    for (size_t i = 0; i < n && !any; i++)
        any = families[i] != F_NONE;
    qctx c = {.m = m, .layouts = layouts, .q = q, .f = f, .err = err, .cap = longest + 1};
    read_config(&c);
    int rc = !any ? VF_OK
             : (c.name = malloc(c.cap)) ? apply_families(&c, families)
                                        : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    free(c.name);
    *relabelled = c.relabelled;
    if (rc == VF_OK && any && *c.cfg.method)
        memcpy(q->config_method, c.cfg.method, sizeof q->config_method);
    return rc == VF_OK ? config_findings(&c) : rc;
}
