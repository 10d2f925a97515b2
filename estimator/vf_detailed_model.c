/* vf_detailed_model.c - the facts the detailed estimate needs, counted from the tensor table (and,
 * for the head and top-k counts that shapes cannot give, from config.json when present). */
#include <string.h>

#include "vf_json.h"
#include "vramfit/vf_checked.h"
#include "vramfit/vf_detailed.h"

/* bitsandbytes' Optimizer8bit keeps 32-bit states for tensors below min_8bit_size elements. */
#define BNB_MIN_8BIT_SIZE 4096u
/* transformers' common head_dim when config.json does not say (Llama, Mistral, Mixtral, Qwen2). */
#define DEFAULT_HEAD_DIM 128u

typedef struct facts {
    vf_dt_model *d;
    bool overflow;
    uint64_t kv_heads;      /* from config.json, 0 when absent */
    uint64_t head_dim, intermediate; /* from config.json, 0 when absent */
    uint64_t quant_block;
} facts;

static void acc(facts *f, uint64_t *dst, uint64_t v) { f->overflow |= vf_acc_u64(dst, v); }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* A positive integer config.json key (top level or text_config) under the one integer rule, at
 * most 2^20, else 0. */
static uint64_t config_u64(const vf_jdoc *d, const char *key)
{
    const vf_jnode *cfg = vf_jdoc_root(d), *v = vf_jdoc_get(d, cfg, key);
    if (!v)
        v = vf_jdoc_get(d, vf_jdoc_get(d, cfg, "text_config"), key);
    uint64_t u = 0;
    return vf_jnode_u64(v, &u) && u >= 1 && u <= 1048576 ? u : 0;
}

static void read_config(const vf_model *m, facts *f)
{
    size_t len = 0;
    const uint8_t *raw = vf_checkpoint_aux(vf_model_checkpoint(m), "config.json", &len);
    vf_jdoc *cfg = NULL;
    vf_error e = {0};
    if (!raw || vf_jdoc_parse(raw, len, "config.json", "the file", VF_ERR_CONFIG, &cfg, &e) != VF_OK)
        return; /* inspect's comparison reports a malformed config.json */
    if (vf_jnode_is(vf_jdoc_root(cfg), VF_JOBJECT)) {
        f->d->heads = config_u64(cfg, "num_attention_heads");
        if (!f->d->heads) /* GPT-2 spells it n_head */
            f->d->heads = config_u64(cfg, "n_head");
        f->kv_heads = config_u64(cfg, "num_key_value_heads");
        f->head_dim = config_u64(cfg, "head_dim");
        f->intermediate = config_u64(cfg, "intermediate_size");
        f->d->top_k = (uint32_t)config_u64(cfg, "num_experts_per_tok");
    }
    vf_jdoc_free(cfg);
}

static bool is_projection(vf_role r)
{
    return (r >= VF_ROLE_ATTN_Q && r <= VF_ROLE_ATTN_OTHER) ||
           (r >= VF_ROLE_MLP_GATE && r <= VF_ROLE_MOE_ROUTER);
}

/* MLP widths: up/gate rows (or the larger side of a plain fc), halved for a fused gate_up. */
static void mlp_width(facts *f, const vf_tensor *t, bool expert)
{
    uint64_t w = max_u64(t->rows, t->cols);
    if (t->role == VF_ROLE_MLP_GATE_UP)
        w /= 2;
    if (t->role == VF_ROLE_MLP_GATE || t->role == VF_ROLE_MLP_GATE_UP)
        f->d->gated_mlp = true;
    uint64_t *dst = expert ? &f->d->moe_intermediate : &f->d->intermediate;
    *dst = max_u64(*dst, w);
}

/* Attention widths from q_proj / k_proj, or split from a fused qkv (with config's head counts when
 * known, else three equal parts). */
static void attn_width(facts *f, const vf_tensor *t)
{
    vf_dt_model *d = f->d;
    if (t->role == VF_ROLE_ATTN_Q)
        d->q_dim = max_u64(d->q_dim, t->rows);
    else if (t->role == VF_ROLE_ATTN_K)
        d->kv_dim = max_u64(d->kv_dim, t->rows);
    else if (t->role == VF_ROLE_ATTN_QKV) {
        uint64_t out = max_u64(t->rows, t->cols); /* q + k + v outputs exceed the input width */
        uint64_t h = d->heads, kv = f->kv_heads ? f->kv_heads : d->heads;
        uint64_t parts = h ? h + 2 * kv : 3;
        uint64_t q = h ? out / parts * h : out / 3;
        d->q_dim = max_u64(d->q_dim, q);
        d->kv_dim = max_u64(d->kv_dim, h ? out / parts * kv : q);
    }
}

/* One parameter tensor of a full fine-tune: Adafactor factors and bnb's small-tensor rule. */
static void trainable_shape(facts *f, const vf_tensor *t)
{
    if (t->numel < BNB_MIN_8BIT_SIZE)
        acc(f, &f->d->small_params, t->numel);
    if (t->ndim == 2)
        acc(f, &f->d->matrix_dim_sum, t->shape[0] + t->shape[1]);
    else if (t->ndim == 3) {
        uint64_t v = 0;
        f->overflow |= vf_mul_u64_overflow(&v, t->shape[0], t->shape[1] + t->shape[2]);
        acc(f, &f->d->matrix_dim_sum, v);
    } else
        acc(f, &f->d->vector_params, t->numel);
}

static void scan_tensor(facts *f, const vf_tensor *t, bool full)
{
    vf_dt_model *d = f->d;
    if (full)
        trainable_shape(f, t);
    if (t->layer < 0 || !is_projection(t->role) || !t->matrices)
        return;
    bool expert = t->expert >= 0 || t->fused_experts;
    /* packed quantized weights (U8, I32 ...) do not show the logical shape: config.json gives it */
    bool floating = t->dtype == VF_DTYPE_F32 || t->dtype == VF_DTYPE_F16 || t->dtype == VF_DTYPE_BF16 ||
                    t->dtype == VF_DTYPE_F64 || t->dtype == VF_DTYPE_F8_E4M3 || t->dtype == VF_DTYPE_F8_E5M2;
    if (!floating)
        ;
    else if (t->role == VF_ROLE_MOE_ROUTER)
        d->moe_layers++;
    else if (t->role >= VF_ROLE_MLP_GATE)
        mlp_width(f, t, expert);
    else
        attn_width(f, t);
    acc(f, &d->linear_params, t->numel);
    acc(f, &d->quant_blocks, t->numel / f->quant_block + (t->numel % f->quant_block != 0));
    d->largest_matrix = max_u64(d->largest_matrix, t->rows * t->cols);
}

static void scan_model(const vf_model *m, facts *f, bool full)
{
    vf_dt_model *d = f->d;
    const vf_arch *a = vf_model_arch(m);
    d->parameters = vf_model_totals(m)->parameters;
    d->layers = a->layers;
    d->hidden = a->hidden_size;
    d->vocab = a->vocab_size;
    d->tied = a->tied_embeddings;
    d->experts = a->experts;
    long e = a->embedding ? vf_model_find(m, a->embedding) : -1;
    d->embed_params = e >= 0 ? vf_model_tensor(m, (size_t)e)->numel : 0;
    for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
        const vf_tensor *t = vf_model_tensor(m, i);
        if (!t->buffer)
            scan_tensor(f, t, full);
    }
    size_t n = 0;
    const uint64_t *lp = vf_model_layer_params(m, &n);
    for (size_t i = 0; i + 1 < n; i++)
        d->largest_layer = max_u64(d->largest_layer, lp[i]);
    if (d->experts && !d->moe_layers)
        d->moe_layers = d->layers;
    if (!d->experts)
        d->moe_layers = 0;
    d->moe_layers = d->moe_layers < d->layers ? d->moe_layers : d->layers;
}

/* Widths config.json gives when the projections are packed (quantized checkpoints). */
static void config_widths(facts *f)
{
    vf_dt_model *d = f->d;
    uint64_t hd = f->head_dim ? f->head_dim : d->heads ? d->hidden / d->heads : 0;
    if (!d->q_dim && d->heads && hd <= UINT64_MAX / d->heads)
        d->q_dim = d->heads * hd;
    if (!d->kv_dim && f->kv_heads && hd <= UINT64_MAX / f->kv_heads)
        d->kv_dim = f->kv_heads * hd;
    if (!d->intermediate && !d->moe_intermediate)
        d->intermediate = f->intermediate;
}

/* Heads from config.json when they divide q_dim, else q_dim / 128 (or / 64, or 1); top-k from
 * config.json, else 2 (Mixtral's) for a model with experts. */
static void heads_and_topk(vf_dt_model *d)
{
    d->heads_from_config = d->heads && d->q_dim % d->heads == 0;
    if (!d->heads_from_config)
        d->heads = d->q_dim % DEFAULT_HEAD_DIM == 0 && d->q_dim ? d->q_dim / DEFAULT_HEAD_DIM
                   : d->q_dim % 64 == 0 && d->q_dim          ? d->q_dim / 64
                                                             : 1;
    if (!d->kv_dim)
        d->kv_dim = d->q_dim;
    d->top_k_from_config = d->experts && d->top_k && d->top_k <= d->experts;
    if (!d->top_k_from_config)
        d->top_k = d->experts ? (d->experts < 2 ? d->experts : 2) : 0;
}

/* Adapter parts from the plan: trainable count, stored extra, per-token saved inputs, Adafactor
 * shapes, DoRA's largest target. */
static void scan_plan(const vf_adapter_plan *p, facts *f, bool osft)
{
    vf_dt_model *d = f->d;
    const vf_adapter_totals *t = vf_adapter_plan_totals(p);
    d->trainable = t->trainable;
    if (osft)
        d->adapter_base = t->parameters;
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        if (x->kind == VF_ADAPTER_KIND_LORA) {
            acc(f, &d->adapter_act_per_token, x->in + x->rank + x->magnitude);
            acc(f, &d->dora_base_per_token, x->magnitude);
            acc(f, &d->matrix_dim_sum, x->in + x->out + 2 * x->rank);
            acc(f, &d->vector_params, x->magnitude);
            if (x->magnitude)
                d->dora_largest = max_u64(d->dora_largest, x->in * x->out);
        } else if (x->kind == VF_ADAPTER_KIND_OSFT) {
            acc(f, &d->osft_target_params, x->rows * x->cols);
            acc(f, &d->matrix_dim_sum, 2 * (x->rows + x->cols));
            acc(f, &d->vector_params, x->trainable_rank);
        } else {
            acc(f, &d->adapter_act_per_token, x->kind == VF_ADAPTER_KIND_LORA_EMBED ? x->rank : 0);
            acc(f, &d->vector_params, x->trainable_params);
        }
    }
}

static int plan_parts(const vf_model *m, const vf_dt_options *o, const vf_adapter_options *ao, facts *f,
                      vf_error *err)
{
    vf_adapter_options opts = VF_ADAPTER_OPTIONS_INIT;
    if (ao)
        opts = *ao;
    opts.method = o->method == VF_METHOD_OSFT ? VF_ADAPTER_OSFT : VF_ADAPTER_LORA;
    opts.adapter_dtype = o->adapter_dtype;
    vf_adapter_plan *p = NULL;
    int rc = vf_adapter_plan_build(m, &opts, &p, err);
    if (rc == VF_OK)
        scan_plan(p, f, o->method == VF_METHOD_OSFT);
    vf_adapter_plan_free(p);
    return rc;
}

int vf_dt_model_from(const vf_model *m, const vf_dt_options *o, const vf_adapter_options *adapters,
                     vf_dt_model *out, vf_error *err)
{
    if (!m || !o || !out)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "detailed model: NULL argument");
    if (!o->quant_block || (unsigned)o->method >= VF_METHOD_COUNT)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "detailed model: bad method or block size");
    memset(out, 0, sizeof *out);
    facts f = {out, false, 0, 0, 0, o->quant_block};
    bool full = o->method == VF_METHOD_SFT;
    read_config(m, &f);
    scan_model(m, &f, full);
    config_widths(&f);
    heads_and_topk(out);
    if (!out->layers || !out->hidden || !out->vocab || !out->q_dim)
        return vf_error_set(err, VF_ERR_USAGE, vf_checkpoint_dir(vf_model_checkpoint(m)), NULL,
                            "the detailed estimate needs transformer layers, an embedding and attention "
                            "projections, which vramfit does not recognise in this checkpoint");
    if (full)
        out->trainable = out->parameters;
    int rc = full ? VF_OK : plan_parts(m, o, adapters, &f, err);
    if (rc != VF_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    if (f.overflow) {
        memset(out, 0, sizeof *out);
        return vf_error_set(err, VF_ERR_OVERFLOW, NULL, NULL, "detailed model: a count overflows 64 bits");
    }
    return VF_OK;
}
