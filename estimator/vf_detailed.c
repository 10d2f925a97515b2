/* vf_detailed.c - the detailed memory model (see vf_detailed.h): levers, components, two phases.
 *
 * Sources of the terms (file paths in their upstream repositories):
 *  - Saved activations: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
 *    Transformer Models" (arXiv:2205.05198): per layer s*b*h*(34 + 5*a*s/h) bytes for GPT with
 *    dropout, the 5as/h term being the attention matrix; its method of listing what each op saves is
 *    applied here to the modules transformers actually runs (transformers
 *    src/transformers/models/llama/modeling_llama.py: LlamaRMSNorm upcasts to float32, LlamaMLP is
 *    down(silu(gate(x)) * up(x)), no dropout; integrations/sdpa_attention.py repeats k/v heads
 *    (repeat_kv) before scaled_dot_product_attention, which keeps q, k, v, out and a float32
 *    logsumexp; eager_attention_forward keeps softmax's float32 output and its cast). PyTorch's
 *    autograd saves an input of mm/linear only when the other operand needs a gradient
 *    (tools/autograd/derivatives.yaml, generated `should_compute_output` guards), which is why a
 *    frozen base saves less than full fine-tuning.
 *  - Cross-entropy: transformers loss/loss_utils.py ForCausalLMLoss upcasts logits to float32 and
 *    calls cross_entropy (log_softmax keeps its float32 output; its backward holds grad_output and
 *    grad_input); torchtune modules/loss/ce_chunked_output_loss.py (8 chunks); Liger
 *    liger_kernel/ops/fused_linear_cross_entropy.py (chunk = next_pow2(ceil(BT / ceil(V / H))), the
 *    logits of one chunk, grad_input [BT, H]).
 *  - Optimizer states: torch/optim/adamw.py (_init_group: exp_avg and exp_avg_sq zeros_like the
 *    parameter, so in its dtype; _multi_tensor_adamw, the CUDA default, takes
 *    torch._foreach_sqrt(exp_avg_sqs): one state-sized temporary); bitsandbytes optim/optimizer.py
 *    (Optimizer8bit: two uint8 states, blockwise absmax of 256 float32, tensors under
 *    min_8bit_size = 4096 elements keep 32-bit states; paged variants use cudaMallocManaged);
 *    transformers optimization.py Adafactor (factored second moment: rows + cols per matrix, full for
 *    vectors, no first moment by default); torch/optim/sgd.py (momentum_buffer clones the gradient).
 *  - fp16 training: torch/amp/grad_scaler.py refuses to unscale fp16 gradients, so fp16 weights are
 *    trained with an fp32 master copy and fp32 states (DeepSpeed's FP16 optimizer, Apex O2).
 *  - Autocast: torch/amp/autocast_mode.py casts each fp32 weight to the autocast dtype; mm saves the
 *    cast for backward, so one copy of every projection lives until its backward.
 *  - Sharding: DeepSpeed ZeRO (stage 1 partitions optimizer states and fp32 master weights, stage 2
 *    also gradients, stage 3 also parameters, gathered one module at a time with prefetch;
 *    reduce_bucket_size 5e8 elements; FusedAdam applies in place); PyTorch FSDP ShardingStrategy
 *    (FULL_SHARD = ZeRO-3, SHARD_GRAD_OP keeps parameters unsharded between forward and backward,
 *    HYBRID_SHARD shards within a node and replicates across nodes); DDP's gradient buckets copy the
 *    gradients (torch DistributedDataParallel docs, gradient_as_bucket_view=False).
 *  - QLoRA: bitsandbytes functional.py quantize_4bit (two 4-bit values per byte, one float32 absmax
 *    per blocksize=64 elements; compress_statistics quantizes the absmax to 8 bits in blocks of 256
 *    with float32 scales); transformers keeps lm_head and embeddings unquantized; MatMul4Bit
 *    dequantizes the weight to the compute dtype for each forward and backward.
 *  - DoRA: peft/tuners/lora/dora.py DoraLinearLayer.forward (lora_weight = B(A(eye)) out x in,
 *    weight norm of W + lora_weight, base result kept for the magnitude's gradient).
 * The fragmentation allowance and the fixed overhead are stated assumptions, not measurements. */
#include <string.h>

#include "vramfit/vf_adapters.h"
#include "vramfit/vf_checked.h"
#include "vramfit/vf_detailed.h"

/* ---- lever names ----------------------------------------------------------------------------- */

static const char *const prec_names[] = {"fp32", "bf16", "fp16", NULL};
static const char *const amp_names[] = {"none", "bf16", "fp16", NULL};
static const char *const optim_names[] = {"adamw", "adamw-8bit", "paged-adamw-8bit", "adafactor",
                                          "sgd", "sgd-momentum", NULL};
static const char *const ckpt_names[] = {"none", "full", "selective", NULL};
static const char *const attn_names[] = {"eager", "sdpa", "flash", NULL};
static const char *const loss_names[] = {"full", "chunked", "liger", NULL};
static const char *const shard_names[] = {"none", "zero1", "zero2", "zero3", "fsdp-full",
                                          "fsdp-grad-op", "fsdp-hybrid", NULL};
static const char *const offload_names[] = {"none", "optimizer", "all", NULL};

static const char *const *const lever_tables[VF_LEVER_COUNT] = {
    prec_names, amp_names, optim_names, ckpt_names, attn_names, loss_names, shard_names, offload_names};
static const char *const lever_choices[VF_LEVER_COUNT] = {
    "fp32|bf16|fp16", "none|bf16|fp16", "adamw|adamw-8bit|paged-adamw-8bit|adafactor|sgd|sgd-momentum",
    "none|full|selective", "eager|sdpa|flash", "full|chunked|liger",
    "none|zero1|zero2|zero3|fsdp-full|fsdp-grad-op|fsdp-hybrid", "none|optimizer|all"};

static int lever_count(vf_dt_lever l)
{
    int n = 0;
    while (lever_tables[l][n])
        n++;
    return n;
}

const char *vf_dt_lever_name(vf_dt_lever l, int v)
{
    if ((unsigned)l >= (unsigned)VF_LEVER_COUNT || v < 0 || v >= lever_count(l))
        return NULL;
    return lever_tables[l][v];
}

bool vf_dt_lever_from_name(vf_dt_lever l, const char *name, int *out)
{
    if ((unsigned)l >= (unsigned)VF_LEVER_COUNT || !name)
        return false;
    for (int i = 0; lever_tables[l][i]; i++)
        if (strcmp(lever_tables[l][i], name) == 0) {
            *out = i;
            return true;
        }
    return false;
}

const char *vf_dt_lever_choices(vf_dt_lever l)
{
    return (unsigned)l < (unsigned)VF_LEVER_COUNT ? lever_choices[l] : "";
}

/* ---- checked arithmetic ---------------------------------------------------------------------- */

/* Every product and sum goes through these; an overflow saturates and is reported at the end. */
typedef struct calc {
    bool overflow;
} calc;

static uint64_t mul(calc *c, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (vf_mul_u64_overflow(&r, a, b)) {
        c->overflow = true;
        return UINT64_MAX;
    }
    return r;
}

static uint64_t add(calc *c, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (vf_add_u64_overflow(&r, a, b)) {
        c->overflow = true;
        return UINT64_MAX;
    }
    return r;
}

static uint64_t mul3(calc *c, uint64_t a, uint64_t b, uint64_t d) { return mul(c, mul(c, a, b), d); }

static uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ---- the run as the model sees it ------------------------------------------------------------ */

typedef struct run {
    const vf_dt_model *m;
    const vf_dt_options *o;
    calc c;
    uint64_t pw;        /* bytes per loaded weight */
    uint64_t cb;        /* bytes per activation (compute dtype) */
    uint64_t tb;        /* bytes per trainable parameter (its gradient too) */
    uint64_t sb;        /* bytes per optimizer state element */
    bool train_base;    /* the base projections train (full fine-tuning, OSFT's reconstructed W) */
    bool master;        /* fp16 trainable weights: fp32 master copy and fp32 states */
    uint64_t frozen;    /* frozen parameters stored in dtype (QLoRA: the unquantized rest) */
    uint64_t trainable;
    uint64_t tokens;
} run;

static uint64_t prec_bytes(vf_dt_precision p) { return p == VF_PREC_FP32 ? 4u : 2u; }

static uint64_t dtype_bytes(vf_dtype d) { return d == VF_DTYPE_F32 ? 4u : 2u; }

static bool sharded_params(vf_dt_sharding s)
{
    return s == VF_SHARD_ZERO3 || s == VF_SHARD_FSDP_FULL || s == VF_SHARD_FSDP_HYBRID;
}

static bool is_fsdp(vf_dt_sharding s)
{
    return s == VF_SHARD_FSDP_FULL || s == VF_SHARD_FSDP_GRAD_OP || s == VF_SHARD_FSDP_HYBRID;
}

static bool is_zero(vf_dt_sharding s)
{
    return s == VF_SHARD_ZERO1 || s == VF_SHARD_ZERO2 || s == VF_SHARD_ZERO3;
}

/* Ranks each kind of state is divided over. HYBRID_SHARD shards within a node only. */
static void shard_degrees(const vf_dt_options *o, vf_dt_result *r)
{
    uint64_t world = (uint64_t)o->gpus * o->nodes;
    uint64_t within = o->sharding == VF_SHARD_FSDP_HYBRID ? o->gpus : world;
    vf_dt_sharding s = o->sharding;
    r->world = world;
    r->shard_optim = s == VF_SHARD_NONE ? 1 : within;
    r->shard_grads = (s == VF_SHARD_NONE || s == VF_SHARD_ZERO1) ? 1 : within;
    r->shard_params = sharded_params(s) ? within : 1;
}

/* ---- persistent state ------------------------------------------------------------------------ */

/* Frozen base bytes: QLoRA stores the projections as 4-bit blocks with their absmax. */
static uint64_t frozen_bytes(run *x)
{
    const vf_dt_model *m = x->m;
    if (x->o->method != VF_METHOD_QLORA)
        return mul(&x->c, x->frozen, x->pw);
    uint64_t packed = ceil_div(m->linear_params, 2);
    uint64_t absmax = x->o->double_quant
                          ? add(&x->c, m->quant_blocks, mul(&x->c, ceil_div(m->quant_blocks, 256), 4))
                          : mul(&x->c, m->quant_blocks, 4);
    uint64_t rest = m->parameters > m->linear_params ? m->parameters - m->linear_params : 0;
    return add(&x->c, add(&x->c, packed, absmax), mul(&x->c, rest, x->pw));
}

/* Optimizer state bytes over every trainable parameter (before sharding). */
static uint64_t optimizer_state_bytes(run *x)
{
    const vf_dt_model *m = x->m;
    uint64_t n = x->trainable;
    uint64_t small = m->small_params < n ? m->small_params : n;
    switch (x->o->optimizer) {
    case VF_OPTIM_ADAMW: return mul3(&x->c, 2, x->sb, n);
    case VF_OPTIM_ADAMW_8BIT:
    case VF_OPTIM_PAGED_ADAMW_8BIT: {
        uint64_t big = n - small;
        uint64_t q = add(&x->c, mul(&x->c, 2, big), mul(&x->c, 8, ceil_div(big, 256)));
        return add(&x->c, q, mul(&x->c, 8, small));
    }
    case VF_OPTIM_ADAFACTOR: return mul(&x->c, x->sb, add(&x->c, m->matrix_dim_sum, m->vector_params));
    case VF_OPTIM_SGD_MOMENTUM: return mul(&x->c, x->sb, n);
    default: return 0;
    }
}

/* Temporaries of one optimizer step on the GPU. */
static uint64_t step_temporary(run *x, uint64_t shard)
{
    const vf_dt_options *o = x->o;
    if (o->offload != VF_OFFLOAD_NONE)
        return 0;
    if (o->optimizer == VF_OPTIM_ADAMW && !is_zero(o->sharding) && !o->optimizer_in_backward)
        return ceil_div(mul(&x->c, x->sb, x->trainable), shard); /* foreach sqrt(exp_avg_sq) */
    if (o->optimizer == VF_OPTIM_ADAFACTOR)
        return mul3(&x->c, 2, x->sb, x->m->largest_matrix < x->trainable ? x->m->largest_matrix
                                                                        : x->trainable);
    return 0;
}

/* ---- activations ----------------------------------------------------------------------------- */

/* Bytes per token of one RMSNorm/LayerNorm: the float32 upcast its backward needs, plus (when its
 * weight and the following projections train) the normalized value and the scaled output. */
static uint64_t norm_bytes(const run *x)
{
    uint64_t h = x->m->hidden;
    if (x->o->compile)
        return x->cb * h; /* the partitioner keeps the input and recomputes the rest */
    return 4 * h + (x->train_base ? 2 * x->cb * h : 0);
}

/* The eager attention matrix per token: float32 softmax output plus its cast, heads x seq each. */
static uint64_t attn_matrix_bytes(run *x)
{
    if (x->o->attention != VF_ATTN_EAGER)
        return 0;
    return mul3(&x->c, 4 + x->cb, x->m->heads, x->o->seq_len);
}

/* Attention without the matrix: q, k, v as the kernel gets them (k/v repeated to all heads except
 * for flash-attention), its output, the float32 logsumexp, and o_proj's input when it trains. */
static uint64_t attn_bytes(const run *x)
{
    const vf_dt_model *m = x->m;
    uint64_t kv = x->o->attention == VF_ATTN_FLASH ? m->kv_dim : m->q_dim;
    uint64_t b = x->cb * (m->q_dim + 2 * kv) + x->cb * m->q_dim;
    if (x->o->attention != VF_ATTN_EAGER)
        b += 4 * m->heads;
    return b + (x->train_base ? x->cb * m->q_dim : 0);
}

/* MLP of width i: gated keeps gate, silu(gate) and up (compile: gate and up), plus down's input
 * when it trains; a plain MLP keeps fc's output and, when training, the activation's. */
static uint64_t mlp_bytes(const run *x, uint64_t i)
{
    uint64_t cb = x->cb;
    if (!x->m->gated_mlp)
        return cb * i + (x->train_base ? cb * i : 0);
    if (x->o->compile)
        return 2 * cb * i;
    return 3 * cb * i + (x->train_base ? cb * i : 0);
}

/* A routed MoE block per token: float32 router probabilities over the experts, then for each of
 * top_k experts the gathered input (when experts train), the expert MLP and its weighted output. */
static uint64_t moe_bytes(run *x)
{
    const vf_dt_model *m = x->m;
    uint64_t per = mlp_bytes(x, m->moe_intermediate) + x->cb * m->hidden +
                   (x->train_base ? x->cb * m->hidden : 0);
    return add(&x->c, 4 * (uint64_t)m->experts, mul(&x->c, m->top_k, per));
}

typedef struct act {
    uint64_t dense_layer, moe_layer; /* bytes per token of one layer, attention matrix excluded */
    uint64_t matrix;                 /* bytes per token of one layer's attention matrix */
    uint64_t adapter;                /* bytes per token of all adapters, all layers */
    uint64_t final_norm;
} act;

static void layer_bytes(run *x, act *a)
{
    const vf_dt_model *m = x->m;
    uint64_t common = 2 * norm_bytes(x) + attn_bytes(x);
    a->dense_layer = common + (m->intermediate ? mlp_bytes(x, m->intermediate) : 0);
    a->moe_layer = common + moe_bytes(x);
    a->matrix = attn_matrix_bytes(x);
    a->adapter = add(&x->c, mul(&x->c, m->adapter_act_per_token, dtype_bytes(x->o->adapter_dtype)),
                     mul(&x->c, m->dora_base_per_token, x->cb));
    a->final_norm = norm_bytes(x);
}

/* Activations held at the start of backward, and what activation offload moves to the host. */
static uint64_t activations(run *x, uint64_t *host)
{
    const vf_dt_model *m = x->m;
    act a;
    layer_bytes(x, &a);
    uint64_t dense = m->layers - m->moe_layers, T = x->tokens;
    uint64_t per_layer_adapter = a.adapter / m->layers;
    uint64_t biggest = add(&x->c, max_u64(m->intermediate ? a.dense_layer : 0, m->moe_layers ? a.moe_layer : 0),
                           add(&x->c, a.matrix, per_layer_adapter));
    uint64_t all = add(&x->c, add(&x->c, mul(&x->c, dense, a.dense_layer), mul(&x->c, m->moe_layers, a.moe_layer)),
                       add(&x->c, mul(&x->c, m->layers, a.matrix), a.adapter));
    uint64_t kept, one; /* bytes per token: kept across layers, one layer's recompute */
    switch (x->o->checkpointing) {
    case VF_CKPT_FULL: /* torch.utils.checkpoint per decoder layer keeps its input */
        kept = mul(&x->c, m->layers, x->cb * m->hidden);
        one = biggest;
        break;
    case VF_CKPT_SELECTIVE: /* Korthikanti et al.: recompute the attention core only */
        kept = all - mul(&x->c, m->layers, a.matrix);
        one = a.matrix;
        break;
    default:
        kept = all;
        one = 0;
    }
    kept = add(&x->c, kept, a.final_norm);
    uint64_t rebuilt = mul(&x->c, x->cb, m->osft_target_params); /* OSFT: W kept per target */
    if (x->o->checkpointing == VF_CKPT_FULL)
        rebuilt /= m->layers; /* rebuilt again in the one layer being recomputed */
    *host = 0;
    if (x->o->activation_offload) { /* one layer's saved tensors in flight, one prefetched */
        uint64_t layer_kept = kept / (m->layers + 1);
        uint64_t gpu = 2 * layer_kept;
        *host = mul(&x->c, kept > gpu ? kept - gpu : 0, T);
        kept = kept < gpu ? kept : gpu;
    }
    return add(&x->c, mul(&x->c, add(&x->c, kept, one), T), rebuilt);
}

/* Logits and cross-entropy at their peak (during the loss's backward). */
static uint64_t logits_bytes(run *x)
{
    const vf_dt_model *m = x->m;
    uint64_t T = x->tokens, V = m->vocab, cb = x->cb;
    switch (x->o->loss) {
    case VF_LOSS_CHUNKED: /* all logits in the compute dtype, float32 work on one chunk */
        return add(&x->c, mul3(&x->c, cb, V, T), mul3(&x->c, 12, V, ceil_div(T, x->o->loss_chunks)));
    case VF_LOSS_LIGER: {
        uint64_t inc = ceil_div(V, m->hidden), chunk = 1, want = ceil_div(T, inc);
        while (chunk < want)
            chunk <<= 1;
        chunk = chunk < T ? chunk : T;
        return add(&x->c, mul3(&x->c, cb + 4, V, chunk), mul3(&x->c, cb, m->hidden, T));
    }
    default: /* logits kept by the output, float32 log_softmax, grad_output and grad_input */
        return mul3(&x->c, cb + 12, V, T);
    }
}

/* Transients of one layer's backward: about three intermediate-sized gradients at once. */
static uint64_t backward_temporary(run *x)
{
    const vf_dt_model *m = x->m;
    uint64_t width = max_u64(m->intermediate, (uint64_t)m->top_k * m->moe_intermediate);
    width = max_u64(width, m->q_dim);
    return mul3(&x->c, 3 * x->cb, width, x->tokens);
}

/* Other temporaries of forward/backward: autocast weight casts, QLoRA dequantization, the ZeRO-3 /
 * FSDP gather of a block and its prefetch, the gradient reduce bucket, DoRA's weight norms. */
static uint64_t other_temporary(run *x, const vf_dt_result *r)
{
    const vf_dt_model *m = x->m;
    const vf_dt_options *o = x->o;
    uint64_t t = 0;
    if (o->amp != VF_AMP_NONE && x->pw == 4 && o->method != VF_METHOD_QLORA)
        t = add(&x->c, t, mul(&x->c, x->cb, add(&x->c, m->linear_params, mul(&x->c, m->vocab, m->hidden))));
    if (o->method == VF_METHOD_QLORA)
        t = add(&x->c, t, mul(&x->c, x->cb, m->largest_matrix));
    if (r->shard_params > 1 || o->offload == VF_OFFLOAD_ALL)
        t = add(&x->c, t, mul3(&x->c, 2, m->largest_layer, x->pw));
    if (is_zero(o->sharding) && o->sharding != VF_SHARD_ZERO1) {
        uint64_t bucket = x->trainable < 500000000u ? x->trainable : 500000000u;
        t = add(&x->c, t, mul(&x->c, x->tb, bucket));
    }
    if (is_fsdp(o->sharding) && x->train_base)
        t = add(&x->c, t, mul(&x->c, x->tb, m->largest_layer));
    if (m->dora_largest)
        t = add(&x->c, t, mul3(&x->c, 2, dtype_bytes(o->adapter_dtype), m->dora_largest));
    return t;
}

/* ---- validation ------------------------------------------------------------------------------ */

static int invalid(vf_error *err, const char *msg) { return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "%s", msg); }

static int check_enums(const vf_dt_options *o, vf_error *err)
{
    if ((unsigned)o->method >= VF_METHOD_COUNT || (unsigned)o->dtype >= VF_PREC_COUNT ||
        (unsigned)o->amp >= VF_AMP_COUNT || (unsigned)o->optimizer >= VF_OPTIM_COUNT ||
        (unsigned)o->checkpointing >= VF_CKPT_COUNT || (unsigned)o->attention >= VF_ATTN_COUNT ||
        (unsigned)o->loss >= VF_LOSS_COUNT || (unsigned)o->sharding >= VF_SHARD_COUNT ||
        (unsigned)o->offload >= VF_OFFLOAD_COUNT)
        return invalid(err, "detailed estimate: a lever is out of range");
    if (!vf_adapter_dtype_supported(o->adapter_dtype))
        return invalid(err, "detailed estimate: the adapter dtype must be F32, BF16 or F16");
    return VF_OK;
}

static int check_combination(const vf_dt_options *o, vf_error *err)
{
    if (o->offload == VF_OFFLOAD_OPTIMIZER && !is_zero(o->sharding))
        return invalid(err, "--offload optimizer needs a ZeRO stage (--sharding zero1|zero2|zero3): "
                            "DeepSpeed's offload_optimizer; FSDP offloads parameters and gradients "
                            "together (--offload all)");
    if (o->offload == VF_OFFLOAD_ALL && o->sharding != VF_SHARD_ZERO3 && !is_fsdp(o->sharding))
        return invalid(err, "--offload all needs --sharding zero3 or fsdp-*: DeepSpeed offloads "
                            "parameters only at ZeRO stage 3, FSDP through CPUOffload");
    if (o->sharding == VF_SHARD_FSDP_HYBRID && o->nodes < 2)
        return invalid(err, "--sharding fsdp-hybrid shards within a node and replicates across "
                            "nodes: give --nodes 2 or more");
    if (o->method == VF_METHOD_QLORA && o->sharding == VF_SHARD_ZERO3)
        return invalid(err, "QLoRA with --sharding zero3 is not modelled (4-bit weights are not "
                            "partitioned by ZeRO-3); use fsdp-full (bnb_4bit_quant_storage) or none");
    return VF_OK;
}

static int check(const vf_dt_model *m, const vf_dt_options *o, vf_dt_result *out, vf_error *err)
{
    if (!m || !o || !out)
        return invalid(err, "detailed estimate: NULL argument");
    if (o->version != VF_DT_OPTIONS_VERSION)
        return invalid(err, "detailed estimate: options version mismatch");
    int rc = check_enums(o, err);
    if (rc != VF_OK)
        return rc;
    if (!o->gpus || !o->nodes || !o->batch_size || !o->seq_len || !o->grad_accum || !o->quant_block ||
        !o->loss_chunks || !o->gpu_memory)
        return invalid(err, "detailed estimate: GPUs, nodes, batch size, sequence length, gradient "
                            "accumulation, block size, loss chunks and GPU memory must be positive");
    if (!m->parameters || !m->layers || !m->hidden || !m->vocab || !m->q_dim || !m->heads)
        return invalid(err, "detailed estimate: the model has no layers, hidden size, vocabulary or "
                            "attention projections that vramfit recognises");
    if (o->method != VF_METHOD_SFT && !m->trainable)
        return invalid(err, "detailed estimate: the method trains no parameters");
    if (m->moe_layers > m->layers || (m->moe_layers && (!m->experts || !m->top_k)))
        return invalid(err, "detailed estimate: inconsistent expert counts");
    return check_combination(o, err);
}

/* ---- the estimate ---------------------------------------------------------------------------- */

static void setup_run(run *x, const vf_dt_model *m, const vf_dt_options *o)
{
    memset(x, 0, sizeof *x);
    x->m = m;
    x->o = o;
    x->pw = prec_bytes(o->dtype);
    x->cb = o->amp == VF_AMP_NONE ? x->pw : 2;
    bool full = o->method == VF_METHOD_SFT;
    x->train_base = full || o->method == VF_METHOD_OSFT;
    x->trainable = full ? m->parameters : m->trainable;
    x->tb = full ? x->pw : dtype_bytes(o->adapter_dtype);
    x->master = x->tb == 2 && (full ? o->dtype == VF_PREC_FP16 : o->adapter_dtype == VF_DTYPE_F16);
    x->sb = x->master ? 4 : x->tb;
    /* LoRA/QLoRA: the whole base is frozen and the adapters come on top; OSFT: the base plus
     * every target's U, S, V, of which the low-rank part trains */
    x->frozen = full ? 0 : m->parameters;
    if (o->method == VF_METHOD_OSFT) {
        uint64_t stored = add(&x->c, m->parameters, m->adapter_base);
        x->frozen = stored > x->trainable ? stored - x->trainable : 0;
    }
    x->tokens = mul(&x->c, o->batch_size, o->seq_len);
}

/* Weights, master copy, gradients and optimizer states per GPU; host bytes of what is offloaded. */
static void persistent(run *x, vf_dt_result *r)
{
    const vf_dt_options *o = x->o;
    uint64_t train_w = mul(&x->c, x->trainable, x->tb);
    uint64_t all_w = add(&x->c, frozen_bytes(x), train_w);
    uint64_t master = x->master ? mul(&x->c, 4, x->trainable) : 0;
    uint64_t states = optimizer_state_bytes(x);
    uint64_t grads = train_w;
    r->weights = ceil_div(all_w, r->shard_params);
    r->master_weights = ceil_div(master, r->shard_optim);
    r->optimizer = ceil_div(states, r->shard_optim);
    r->gradients = ceil_div(grads, r->shard_grads);
    if (o->sharding == VF_SHARD_NONE && r->world > 1) /* DDP's bucket copy of the gradients */
        r->gradients = add(&x->c, r->gradients, grads);
    if (o->optimizer_in_backward)
        r->gradients = mul(&x->c, x->tb, x->m->largest_matrix < x->trainable ? x->m->largest_matrix
                                                                            : x->trainable);
    uint64_t on_host = 0;
    if (o->offload != VF_OFFLOAD_NONE) {
        on_host = add(&x->c, r->optimizer, r->master_weights);
        r->optimizer = r->master_weights = 0;
    }
    if (o->offload == VF_OFFLOAD_ALL) {
        on_host = add(&x->c, on_host, add(&x->c, r->weights, r->gradients));
        r->weights = r->gradients = 0;
    }
    r->host_offload = mul(&x->c, on_host, o->gpus);
}

/* The gradient already resident when backward starts: the accumulation buffer under grad_accum > 1,
 * else the output head's (embedding's when tied) gradient, which backward produces first. */
static uint64_t resident_gradients(run *x, const vf_dt_result *r)
{
    if (x->o->grad_accum > 1 || x->o->optimizer_in_backward)
        return r->gradients;
    if (x->o->method != VF_METHOD_SFT || x->o->offload == VF_OFFLOAD_ALL)
        return 0;
    return ceil_div(mul3(&x->c, x->m->vocab, x->m->hidden, x->tb), r->shard_grads);
}

static void phases(run *x, vf_dt_result *r)
{
    uint64_t host_act = 0;
    r->activations = activations(x, &host_act);
    r->host_offload = add(&x->c, r->host_offload, mul(&x->c, host_act, x->o->gpus));
    r->logits = logits_bytes(x);
    uint64_t bwd = backward_temporary(x);
    uint64_t other = other_temporary(x, r);
    uint64_t base = add(&x->c, add(&x->c, r->weights, r->master_weights), r->optimizer);
    uint64_t loss_peak = r->logits > bwd ? r->logits : bwd;
    r->temporary = add(&x->c, other, r->logits > bwd ? 0 : bwd - r->logits);
    r->forward_backward = add(&x->c, add(&x->c, base, resident_gradients(x, r)),
                              add(&x->c, r->activations, add(&x->c, loss_peak, other)));
    r->step_temporary = step_temporary(x, r->shard_optim);
    r->optimizer_step = x->o->optimizer_in_backward
                            ? 0
                            : add(&x->c, add(&x->c, base, r->gradients), r->step_temporary);
    r->peak_phase = r->optimizer_step > r->forward_backward ? VF_PHASE_OPTIMIZER_STEP
                                                            : VF_PHASE_FORWARD_BACKWARD;
    r->peak_allocated = max_u64(r->forward_backward, r->optimizer_step);
}

static void totals(run *x, vf_dt_result *r)
{
    const vf_dt_options *o = x->o;
    r->peak_reserved = add(&x->c, r->peak_allocated,
                           mul(&x->c, r->peak_allocated / 1000, VF_DT_FRAGMENTATION_PERMILLE));
    r->overhead = VF_DT_CUDA_CONTEXT_BYTES + (r->world > 1 ? VF_DT_NCCL_BYTES : 0);
    r->total = add(&x->c, r->peak_reserved, r->overhead);
    r->fits = r->total <= o->gpu_memory;
    r->grad_accum_tokens = mul3(&x->c, x->tokens, o->grad_accum, r->world);
    bool gathers = r->shard_params > 1 || o->offload == VF_OFFLOAD_ALL;
    if (o->full_state_dict && gathers) { /* torch FullStateDictConfig defaults: gathered on GPU */
        uint64_t full = add(&x->c, frozen_bytes(x), mul(&x->c, x->trainable, x->tb));
        uint64_t at_rest = add(&x->c, add(&x->c, r->weights, r->master_weights), r->optimizer);
        r->save_gpu_peak = add(&x->c, add(&x->c, at_rest, full - r->weights), r->overhead);
        r->save_host_peak = full;
        r->save_exceeds_gpu = r->save_gpu_peak > o->gpu_memory;
        r->save_exceeds_host = o->host_memory && add(&x->c, full, r->host_offload) > o->host_memory;
    }
}

int vf_dt_estimate(const vf_dt_model *m, const vf_dt_options *o, vf_dt_result *out, vf_error *err)
{
    int rc = check(m, o, out, err);
    if (rc != VF_OK)
        return rc;
    memset(out, 0, sizeof *out);
    run x;
    setup_run(&x, m, o);
    out->tokens = x.tokens;
    shard_degrees(o, out);
    persistent(&x, out);
    phases(&x, out);
    totals(&x, out);
    if (x.c.overflow) {
        memset(out, 0, sizeof *out);
        return vf_error_set(err, VF_ERR_OVERFLOW, NULL, NULL,
                            "detailed estimate: a byte count overflows 64 bits");
    }
    return VF_OK;
}
