/* vf_estimator.c - Training Hub's memory estimate (see vf_estimator.h for the arithmetic contract).
 *
 * Every integer Python keeps as an exact int is a checked uint64_t <= VF_EST_EXACT_MAX here; every
 * value Python turns into a float is a double produced by the same operations in the same order,
 * each stored in a double variable so that C11 rounds it exactly once. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "vramfit/vf_checked.h"
#include "vramfit/vf_estimator.h"

/* ---- names --------------------------------------------------------------------------------- */

static const char *const method_names[VF_METHOD_COUNT] = {"sft", "osft", "lora", "qlora"};

const char *vf_method_name(vf_method method)
{
    if ((unsigned)method >= (unsigned)VF_METHOD_COUNT)
        return NULL;
    return method_names[method];
}

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool name_equals(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return false;
    return *a == '\0' && *b == '\0';
}

bool vf_method_from_name(const char *name, vf_method *out)
{
    if (!name || !out)
        return false;
    for (unsigned i = 0; i < (unsigned)VF_METHOD_COUNT; i++) {
        if (name_equals(name, method_names[i])) {
            *out = (vf_method)i;
            return true;
        }
    }
    if (name_equals(name, "osft-e")) {
        *out = VF_METHOD_OSFT;
        return true;
    }
    return false;
}

const char *vf_verdict_name(vf_verdict verdict)
{
    switch (verdict) {
    case VF_VERDICT_FITS: return "fits";
    case VF_VERDICT_LIKELY: return "likely";
    case VF_VERDICT_RISKY: return "risky";
    case VF_VERDICT_NO: return "no";
    default: return NULL;
    }
}

const char *vf_verdict_text(vf_verdict verdict)
{
    switch (verdict) {
    case VF_VERDICT_FITS: return "The proposed training setup should work for your hardware.";
    case VF_VERDICT_LIKELY: return "The proposed training setup will likely work for your hardware.";
    case VF_VERDICT_RISKY:
        return "The proposed training setup may work but isn't recommended for your hardware.";
    case VF_VERDICT_NO: return "The proposed training setup is impossible for your hardware.";
    default: return NULL;
    }
}

/* ---- checked exact integers ---------------------------------------------------------------- */

/* *out = a * b, failing above VF_EST_EXACT_MAX. */
static bool exact_mul(uint64_t *out, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (vf_mul_u64_overflow(&r, a, b) || r > VF_EST_EXACT_MAX)
        return false;
    *out = r;
    return true;
}

static bool exact_add(uint64_t *out, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (vf_add_u64_overflow(&r, a, b) || r > VF_EST_EXACT_MAX)
        return false;
    *out = r;
    return true;
}

/* (uint64_t)x for a finite x >= 0 known to be far below 2^64 (all callers are < 2^60). */
static uint64_t trunc_u64(double x)
{
    return x > 0.0 ? (uint64_t)x : 0;
}

/* ---- validation and token resolution ------------------------------------------------------- */

static int usage(vf_error *err, const char *msg)
{
    return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "%s", msg);
}

static int overflow(vf_error *err, const char *what)
{
    return vf_error_set(err, VF_ERR_OVERFLOW, NULL, NULL,
                        "%s exceeds 2^53, the range in which the estimate is reproduced exactly",
                        what);
}

static int validate(const vf_est_model *m, const vf_est_setup *s, vf_error *err)
{
    if (!m || !s)
        return usage(err, "estimator called with a NULL model or setup");
    if (s->version != VF_EST_SETUP_VERSION)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL,
                            "estimator setup version %u is not the supported version %u",
                            s->version, VF_EST_SETUP_VERSION);
    if ((unsigned)s->method >= (unsigned)VF_METHOD_COUNT)
        return usage(err, "unknown training method");
    if (s->gpus < 1)
        return usage(err, "the number of GPUs must be at least 1");
    if (s->gpu_memory == 0)
        return usage(err, "GPU memory must be greater than 0 bytes");
    if (s->lora_r < 1)
        return usage(err, "LoRA rank must be at least 1");
    if (!(s->unfreeze_rank_ratio > 0.0 && s->unfreeze_rank_ratio <= 1.0))
        return usage(err, "unfreeze_rank_ratio must be greater than 0 and at most 1");
    if (s->liger < -1 || s->liger > 1)
        return usage(err, "liger must be -1 (method default), 0 (off) or 1 (on)");
    if (m->parameters == 0)
        return usage(err, "the model has no parameters");
    if (s->method == VF_METHOD_OSFT && m->osft_params == 0)
        return usage(err, "OSFT needs the model's OSFT parameter count (osft_params is 0)");
    if ((s->method == VF_METHOD_LORA || s->method == VF_METHOD_QLORA) && m->lora_dim_sum == 0 &&
        m->lora_params_override == 0)
        return usage(err, "LoRA needs at least one target matrix (no adapter parameters)");
    return VF_OK;
}

/* Resolved tokens per GPU: exact value num/den and Training Hub's double. */
typedef struct tokens {
    uint64_t num, den;
    double value;
    vf_tokens_source source;
    bool max_tokens_ignored;
} tokens;

static int resolve_tokens(const vf_est_setup *s, tokens *t, vf_error *err)
{
    const bool lora = s->method == VF_METHOD_LORA || s->method == VF_METHOD_QLORA;
    const bool have_batch = s->batch_size != 0 && s->max_seq_len != 0;
    memset(t, 0, sizeof *t);
    if (lora && !have_batch)
        return usage(err, "LoRA and QLoRA need both batch_size and max_seq_len "
                          "(max_tokens_per_gpu is not used by that backend)");
    if (!lora && !have_batch && s->max_tokens_per_gpu == 0)
        return usage(err, "at least one of (batch_size, max_seq_len) or max_tokens_per_gpu "
                          "must be provided");
    if (s->max_tokens_per_gpu > VF_EST_EXACT_MAX)
        return overflow(err, "max_tokens_per_gpu");

    uint64_t bs = 0;
    double bs_per_gpu = 0.0;
    if (have_batch) {
        if (!exact_mul(&bs, s->batch_size, s->max_seq_len))
            return overflow(err, "batch_size x max_seq_len");
        bs_per_gpu = (double)bs / (double)s->gpus; /* Python: batch_size * max_seq_len / num_gpus */
    }
    /* Python: min(max_tokens_per_gpu, batch*seq/G) keeps the first argument unless the float second
     * one is strictly smaller (exact mixed comparison; both sides are exact doubles here). */
    if (!lora && s->max_tokens_per_gpu != 0 &&
        !(have_batch && bs_per_gpu < (double)s->max_tokens_per_gpu)) {
        t->num = s->max_tokens_per_gpu;
        t->den = 1;
        t->value = (double)s->max_tokens_per_gpu;
        t->source = VF_TOKENS_MAX_TOKENS;
    } else {
        t->num = bs;
        t->den = s->gpus;
        t->value = bs_per_gpu;
        t->source = VF_TOKENS_BATCH;
        t->max_tokens_ignored = lora && s->max_tokens_per_gpu != 0;
    }
    return VF_OK;
}

/* ---- the estimate -------------------------------------------------------------------------- */

/* The estimate for resolved tokens t; totals over G are skipped (left 0) when !totals. */
static int compute(const vf_est_model *m, const vf_est_setup *s, const tokens *t, vf_est_result *r,
                   bool totals, vf_error *err)
{
    const vf_method method = s->method;
    const bool lora = method == VF_METHOD_LORA || method == VF_METHOD_QLORA;
    const double g = (double)s->gpus;
    const double u = s->unfreeze_rank_ratio;

    memset(r, 0, sizeof *r);
    r->method = method;
    r->liger = s->liger < 0 ? method == VF_METHOD_OSFT : s->liger == 1;
    r->tokens_num = t->num;
    r->tokens_den = t->den;
    r->tokens_per_gpu = t->value;
    r->tokens_source = t->source;
    r->max_tokens_ignored = t->max_tokens_ignored;
    r->peak_rule = VF_PEAK_SUM_ALL;

    /* Exactness guard for the token products: ceil(T) * (4*L*H) and ceil(T) * (4*V) <= 2^53. */
    {
        uint64_t tceil = t->num / t->den + (t->num % t->den != 0), lh4, v4, tmp;
        if (vf_mul_u64_overflow(&lh4, m->layers, m->hidden_size) ||
            vf_mul_u64_overflow(&lh4, lh4, 4) || !exact_mul(&tmp, tceil, lh4))
            return overflow(err, "tokens x 4 x layers x hidden_size");
        if (vf_mul_u64_overflow(&v4, m->vocab_size, 4) || !exact_mul(&tmp, tceil, v4))
            return overflow(err, "tokens x 4 x vocab_size");
    }

    const double tk = t->value;
    const double dl = (double)m->layers, dh = (double)m->hidden_size, dv = (double)m->vocab_size;
    double par, opt, grad, act, outp;
    const double add = 0.0; /* _calc_additional() is 0 for every method */

    if (!lora) {
        uint64_t p4, p8;
        if (!exact_mul(&p4, m->parameters, 4) || !exact_mul(&p8, p4, 2))
            return overflow(err, "8 x parameters");
        if (method == VF_METHOD_OSFT) {
            uint64_t ob;
            if (!exact_mul(&ob, m->osft_params, 4))
                return overflow(err, "4 x osft_params");
            par = (double)ob / g;             /* osft_params(bytes) / num_gpus */
            double gu = (double)p4 * u;       /* num_trainable_params * 4 * ratio ... */
            grad = gu / g;                    /* ... / num_gpus */
        } else {
            par = (double)p4 / g;             /* num_params * 4 / num_gpus */
            grad = (double)p4 / g;            /* 4 * num_trainable_params / num_gpus */
        }
        opt = (double)p8 / g;                 /* 4 * num_trainable_params * 2 / num_gpus */
        double a1 = tk * 4.0;                 /* tokens_per_gpu * 4 * num_layers * hidden_size */
        double a2 = a1 * dl;
        act = a2 * dh;
        if (method == VF_METHOD_OSFT)
            act = act * u;                    /* (...) * unfreeze_rank_ratio */
        if (r->liger) {
            outp = 0.0;
        } else {
            double o1 = tk * 4.0;             /* (tokens_per_gpu * 4 * vocab_size) * constant */
            double o2 = o1 * dv;
            const double c = method == VF_METHOD_OSFT ? 7.0 / 3.0 : 8.0 / 3.0;
            outp = o2 * c;
        }
        r->mult_low = 1.0;
        r->mult_expected = 1.1;
        r->mult_high = 1.3;
    } else {
        uint64_t ab, ab2, ab4;
        if (m->lora_params_override != 0) {
            ab = m->lora_params_override;
            if (ab > VF_EST_EXACT_MAX)
                return overflow(err, "LoRA adapter parameters");
        } else if (!exact_mul(&ab, m->lora_dim_sum, s->lora_r)) {
            return overflow(err, "lora_r x lora_dim_sum");
        }
        if (!exact_mul(&ab2, ab, 2) || !exact_mul(&ab4, ab, 4))
            return overflow(err, "4 x LoRA adapter parameters");
        if (method == VF_METHOD_QLORA) {
            double half = (double)m->parameters * 0.5; /* num_params * 0.5 (FLOAT4_BYTES_N) */
            double num = half + (double)ab4;           /* + AB_params * 4 */
            par = num / g;                             /* / num_gpus */
        } else {
            uint64_t p2, num;
            if (!exact_mul(&p2, m->parameters, 2) || !exact_add(&num, p2, ab4))
                return overflow(err, "2 x parameters + 4 x LoRA adapter parameters");
            par = (double)num / g;
        }
        grad = (double)ab2 / g;               /* 2 * AB_params / num_gpus */
        opt = (double)ab4 / g;                /* 2 * AB_params * 2 / num_gpus */
        double a1 = tk * 2.0;
        double a2 = a1 * dl;
        act = a2 * dh;                        /* tokens_per_gpu * 2 * num_layers * hidden_size */
        if (r->liger) {
            outp = 0.0;
        } else {
            double o1 = tk * 2.0;
            double o2 = o1 * dv;
            outp = o2 * 2.0;                  /* (tokens_per_gpu * 2 * vocab_size) * 2 */
        }
        /* Peak rule: gradients and outputs are never allocated together. */
        if (grad > outp) {
            r->peak_rule = VF_PEAK_DROP_OUTPUTS;
            r->peak_dropped = trunc_u64(outp);
            outp = 0.0;
        } else {
            r->peak_rule = VF_PEAK_DROP_GRADIENTS;
            r->peak_dropped = trunc_u64(grad);
            grad = 0.0;
        }
        r->mult_low = 0.95;
        r->mult_expected = 1.1;
        r->mult_high = method == VF_METHOD_QLORA ? 1.3 : 1.2;
    }

    /* subtotal = par + opt + grad + act + outputs + additional, left to right */
    double s1 = par + opt;
    double s2 = s1 + grad;
    double s3 = s2 + act;
    double s4 = s3 + outp;
    double sub = s4 + add;
    r->unbound_subtotal = trunc_u64(sub);

    if (method == VF_METHOD_QLORA && !m->stored_4bit && sub < (double)m->parameters) {
        /* offload_memory = num_params * 1 byte; the estimate becomes offload_memory / num_gpus */
        r->model_bound = true;
        sub = (double)m->parameters / g;
        par = sub;
        opt = grad = act = outp = 0.0;
    }

    r->parameters = trunc_u64(par);
    r->optimizer = trunc_u64(opt);
    r->gradients = trunc_u64(grad);
    r->activations = trunc_u64(act);
    r->outputs = trunc_u64(outp);
    r->additional = trunc_u64(add);
    r->subtotal_f = sub;
    r->subtotal = trunc_u64(sub);

    double lo = r->mult_low * sub, mid = r->mult_expected * sub, hi = r->mult_high * sub;
    r->low = trunc_u64(lo);
    r->expected = trunc_u64(mid);
    r->high = trunc_u64(hi);
    r->overhead = r->high > r->subtotal ? r->high - r->subtotal : 0;

    const uint64_t mem = s->gpu_memory;
    if (r->high <= mem)
        r->verdict = VF_VERDICT_FITS;
    else if (r->expected <= mem)
        r->verdict = VF_VERDICT_LIKELY;
    else if (r->low <= mem)
        r->verdict = VF_VERDICT_RISKY;
    else
        r->verdict = VF_VERDICT_NO;
    r->need_low = r->low > mem ? r->low - mem : 0;
    r->need_expected = r->expected > mem ? r->expected - mem : 0;
    r->need_high = r->high > mem ? r->high - mem : 0;

    if (totals && (vf_mul_u64_overflow(&r->total_low, r->low, s->gpus) ||
        vf_mul_u64_overflow(&r->total_expected, r->expected, s->gpus) ||
        vf_mul_u64_overflow(&r->total_high, r->high, s->gpus)))
        return vf_error_set(err, VF_ERR_OVERFLOW, NULL, NULL,
                            "the total over %u GPUs overflows 64 bits", (unsigned)s->gpus);
    return VF_OK;
}

int vf_estimate(const vf_est_model *m, const vf_est_setup *s, vf_est_result *out, vf_error *err)
{
    if (!out)
        return usage(err, "estimator called with a NULL result");
    memset(out, 0, sizeof *out);
    int rc = validate(m, s, err);
    if (rc != VF_OK)
        return rc;
    tokens t;
    rc = resolve_tokens(s, &t, err);
    if (rc != VF_OK)
        return rc;
    vf_est_result r;
    rc = compute(m, s, &t, &r, true, err);
    if (rc != VF_OK)
        return rc;
    *out = r;
    return VF_OK;
}

/* ---- planning helpers ---------------------------------------------------------------------- */

static uint64_t bound_of(const vf_est_result *r, vf_est_bound bound)
{
    return bound == VF_BOUND_LOW ? r->low : bound == VF_BOUND_HIGH ? r->high : r->expected;
}

/* Validates the plan arguments and computes budget = floor(margin * gpu_memory) (<= gpu_memory). */
static int plan_budget(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                       double margin, const void *outp, uint64_t *budget, vf_error *err)
{
    if (!m || !s || !outp)
        return usage(err, "planner called with a NULL model, setup or result");
    if (bound != VF_BOUND_LOW && bound != VF_BOUND_EXPECTED && bound != VF_BOUND_HIGH)
        return usage(err, "unknown estimate bound");
    if (!(margin > 0.0 && margin <= 1.0))
        return usage(err, "the memory margin must be greater than 0 and at most 1");
    if (margin == 1.0) {
        *budget = s->gpu_memory;
        return VF_OK;
    }
    double b = floor(margin * (double)s->gpu_memory);
    /* (double)gpu_memory may round up near 2^64; clamp to the exact memory. */
    *budget = b >= 18446744073709551616.0 ? s->gpu_memory : (uint64_t)b;
    if (*budget > s->gpu_memory)
        *budget = s->gpu_memory;
    return VF_OK;
}

/* Evaluates one candidate (tokens t, or resolved from s when t is NULL), without totals.
 * With strict, every error is returned (and err filled); otherwise VF_ERR_OVERFLOW counts as "does
 * not fit" (used only beyond a point already evaluated strictly, where every figure can only grow).
 * *value receives the bound (0 when it overflowed). */
static int probe(const vf_est_model *m, const vf_est_setup *s, const tokens *t, vf_est_bound bound,
                 uint64_t budget, bool strict, bool *fits, uint64_t *value, vf_error *err)
{
    tokens tt;
    vf_est_result r;
    int rc = VF_OK;
    if (!t) {
        rc = resolve_tokens(s, &tt, strict ? err : NULL);
        t = &tt;
    }
    if (rc == VF_OK)
        rc = compute(m, s, t, &r, false, strict ? err : NULL);
    if (rc == VF_ERR_OVERFLOW && !strict) {
        *fits = false;
        *value = 0;
        return VF_OK;
    }
    if (rc != VF_OK)
        return strict ? rc : vf_error_set(err, rc, NULL, NULL, "planner evaluation failed");
    *value = bound_of(&r, bound);
    *fits = *value <= budget;
    return VF_OK;
}

/* The one knob a planner search moves: sets it to k in *ss, or in *t for tokens. */
typedef void (*knob_set)(vf_est_setup *ss, tokens *t, uint64_t k);

static void set_tokens(vf_est_setup *ss, tokens *t, uint64_t k)
{
    (void)ss;
    t->num = k;
    t->value = (double)k;
}

static void set_gpus(vf_est_setup *ss, tokens *t, uint64_t k)
{
    (void)t;
    ss->gpus = (uint32_t)k;
}

static void set_lora_r(vf_est_setup *ss, tokens *t, uint64_t k)
{
    (void)t;
    ss->lora_r = (uint32_t)k;
}

static void set_ratio_percent(vf_est_setup *ss, tokens *t, uint64_t k)
{
    (void)t;
    ss->unfreeze_rank_ratio = (double)k / 100.0;
}

/* Bisects a knob whose fit is monotone between `good` (fits) and `bad` (does not; on either side of
 * good) and stores in *out the fitting value next to the boundary. t is NULL unless the knob is the
 * token count. strict as for probe. */
static int bisect(const vf_est_model *m, vf_est_setup *ss, tokens *t, knob_set set, vf_est_bound bound,
                  uint64_t budget, bool strict, uint64_t good, uint64_t bad, uint64_t *out, vf_error *err)
{
    while ((good > bad ? good - bad : bad - good) > 1) {
        uint64_t mid = good < bad ? good + (bad - good) / 2 : bad + (good - bad) / 2;
        bool fits;
        uint64_t v;
        set(ss, t, mid);
        int rc = probe(m, ss, t, bound, budget, strict, &fits, &v, err);
        if (rc != VF_OK)
            return rc;
        if (fits)
            good = mid;
        else
            bad = mid;
    }
    *out = good;
    return VF_OK;
}

/* Searches a knob from `start`, the value most likely to fit (every figure only grows away from it),
 * towards the sentinel `beyond`, which never fits: validates the setup at start, probes it strictly
 * and bisects. *found is 0 when not even start fits. */
static int search_knob(const vf_est_model *m, vf_est_setup *ss, knob_set set, vf_est_bound bound,
                       uint64_t budget, bool strict, uint64_t start, uint64_t beyond, uint64_t *found,
                       vf_error *err)
{
    bool fits;
    uint64_t v;
    set(ss, NULL, start);
    int rc = validate(m, ss, err);
    if (rc == VF_OK)
        rc = probe(m, ss, NULL, bound, budget, true, &fits, &v, err);
    if (rc != VF_OK)
        return rc;
    *found = 0;
    return fits ? bisect(m, ss, NULL, set, bound, budget, strict, start, beyond, found, err) : VF_OK;
}

int vf_est_max_tokens(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                      double margin, uint64_t *tokens_out, vf_error *err)
{
    uint64_t budget = 0, v1 = 0, v = 0;
    int rc = plan_budget(m, s, bound, margin, tokens_out, &budget, err);
    if (rc != VF_OK)
        return rc;
    vf_est_setup ss = *s;
    /* The searched T replaces the token fields; make them valid for validation. */
    ss.max_tokens_per_gpu = 1;
    ss.batch_size = 1;
    ss.max_seq_len = 1;
    if ((rc = validate(m, &ss, err)) != VF_OK)
        return rc;

    /* Largest T accepted by the exactness guard in compute(): T*4*L*H and T*4*V <= 2^53. */
    uint64_t lh4, v4, tlim = VF_EST_EXACT_MAX;
    if (vf_mul_u64_overflow(&lh4, m->layers, m->hidden_size) || vf_mul_u64_overflow(&lh4, lh4, 4))
        return overflow(err, "4 x layers x hidden_size");
    if (vf_mul_u64_overflow(&v4, m->vocab_size, 4))
        return overflow(err, "4 x vocab_size");
    if (lh4 != 0 && VF_EST_EXACT_MAX / lh4 < tlim)
        tlim = VF_EST_EXACT_MAX / lh4;
    if (v4 != 0 && VF_EST_EXACT_MAX / v4 < tlim)
        tlim = VF_EST_EXACT_MAX / v4;
    if (tlim == 0)
        return overflow(err, "4 x layers x hidden_size or 4 x vocab_size");

    bool fits;
    tokens t = {1, 1, 1.0, VF_TOKENS_MAX_TOKENS, false};
    if ((rc = probe(m, &ss, &t, bound, budget, true, &fits, &v1, err)) != VF_OK)
        return rc;
    if (!fits) {
        *tokens_out = 0;
        return VF_OK;
    }
    t.num = tlim;
    t.value = (double)tlim;
    if ((rc = probe(m, &ss, &t, bound, budget, true, &fits, &v, err)) != VF_OK)
        return rc;
    if (fits) {
        /* Bounds are monotone in T: equal at both ends means T does not matter at all. */
        *tokens_out = v == v1 ? UINT64_MAX : tlim;
        return VF_OK;
    }
    return bisect(m, &ss, &t, set_tokens, bound, budget, true, 1, tlim, tokens_out, err);
}

int vf_est_min_gpus(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound, double margin,
                    uint32_t max_gpus, uint32_t *gpus, vf_error *err)
{
    uint64_t budget = 0;
    int rc = plan_budget(m, s, bound, margin, gpus, &budget, err);
    if (rc != VF_OK)
        return rc;
    if (max_gpus < 1)
        return usage(err, "the largest GPU count to try must be at least 1");
    vf_est_setup ss = *s;
    uint64_t found = 0; /* max_gpus is the likeliest fit; 0 is a sentinel that does not */
    rc = search_knob(m, &ss, set_gpus, bound, budget, false, max_gpus, 0, &found, err);
    *gpus = (uint32_t)found;
    return rc;
}

int vf_est_max_lora_rank(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                         double margin, uint32_t max_rank, uint32_t *rank, vf_error *err)
{
    uint64_t budget = 0;
    int rc = plan_budget(m, s, bound, margin, rank, &budget, err);
    if (rc != VF_OK)
        return rc;
    if (s->method != VF_METHOD_LORA && s->method != VF_METHOD_QLORA)
        return usage(err, "the LoRA rank can only be planned for LoRA or QLoRA");
    if (m->lora_params_override != 0)
        return usage(err, "the LoRA rank cannot be planned when the adapter size is given exactly");
    if (max_rank < 1)
        return usage(err, "the largest LoRA rank to try must be at least 1");
    vf_est_setup ss = *s;
    uint64_t found = 0; /* r = 1 is the likeliest fit; max_rank + 1 is a sentinel that does not */
    rc = search_knob(m, &ss, set_lora_r, bound, budget, false, 1, (uint64_t)max_rank + 1, &found, err);
    *rank = (uint32_t)found;
    return rc;
}

int vf_est_max_unfreeze_ratio(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                              double margin, double *ratio, vf_error *err)
{
    uint64_t budget = 0;
    int rc = plan_budget(m, s, bound, margin, ratio, &budget, err);
    if (rc != VF_OK)
        return rc;
    if (s->method != VF_METHOD_OSFT)
        return usage(err, "the unfreeze rank ratio can only be planned for OSFT");
    vf_est_setup ss = *s;
    uint64_t percent = 0; /* 1% is the likeliest fit; 101% is a sentinel that does not */
    rc = search_knob(m, &ss, set_ratio_percent, bound, budget, true, 1, 101, &percent, err);
    *ratio = (double)percent / 100.0;
    return rc;
}
