/* vf_detailed.h - the detailed fine-tuning memory estimate: how people really train (precision,
 * optimizer, gradient checkpointing, attention kernel, loss, sharding, offload, micro-batch), from
 * the architecture the safetensors headers give.
 *
 * Layer 3 of vramfit, next to vf_estimator.h (Training Hub's formulas, which stay the default).
 * Pure arithmetic over a vf_dt_model (facts counted from the headers by vf_dt_model_from) and a
 * vf_dt_options (the levers): no I/O, nothing printed, no allocation in vf_dt_estimate.
 *
 * The model (each term's source is cited in estimator/vf_detailed.c):
 *  - persistent per GPU: weights (frozen base and trainable parameters, QLoRA's 4-bit blocks with
 *    their absmax), an fp32 master copy where the precision needs one, gradients, optimizer states,
 *    each divided by the sharding degree where the strategy shards it, zero where it is offloaded;
 *  - activations saved for backward, per layer and token from hidden, intermediate, q/kv widths and
 *    heads (norm upcasts, attention inputs, the attention matrix for eager attention or sdpa's
 *    per-layer mask, MLP/MoE intermediates, adapter inputs, transformers' KV cache without
 *    checkpointing), with checkpointing only layer inputs plus one layer recomputed;
 *  - logits and the cross-entropy working set; temporary buffers (backward transients, the autocast
 *    weight casts, QLoRA dequantization, the FSDP/ZeRO-3 all-gather of a layer, the optimizer step's
 *    foreach temporaries);
 *  - two phases, forward+backward and the optimizer step: peak_allocated is the larger;
 *    peak_reserved adds the caching allocator's fragmentation; the framework's fixed overhead (CUDA
 *    context, NCCL) lives outside PyTorch's allocator and is reported apart.
 * All byte counts are exact 64-bit integers of this model (products overflow-checked), per GPU. */
#ifndef VRAMFIT_VF_DETAILED_H
#define VRAMFIT_VF_DETAILED_H

#include <stdbool.h>
#include <stdint.h>

#include "vf_adapters.h"
#include "vf_error.h"
#include "vf_estimator.h"
#include "vf_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- levers ---------------------------------------------------------------------------------- */

typedef enum vf_dt_precision { VF_PREC_FP32, VF_PREC_BF16, VF_PREC_FP16, VF_PREC_COUNT } vf_dt_precision;
typedef enum vf_dt_amp { VF_AMP_NONE, VF_AMP_BF16, VF_AMP_FP16, VF_AMP_COUNT } vf_dt_amp;
typedef enum vf_dt_optimizer {
    VF_OPTIM_ADAMW,
    VF_OPTIM_ADAMW_8BIT,
    VF_OPTIM_PAGED_ADAMW_8BIT,
    VF_OPTIM_ADAFACTOR,
    VF_OPTIM_SGD,
    VF_OPTIM_SGD_MOMENTUM,
    VF_OPTIM_COUNT
} vf_dt_optimizer;
typedef enum vf_dt_ckpt { VF_CKPT_NONE, VF_CKPT_FULL, VF_CKPT_SELECTIVE, VF_CKPT_COUNT } vf_dt_ckpt;
typedef enum vf_dt_attention { VF_ATTN_EAGER, VF_ATTN_SDPA, VF_ATTN_FLASH, VF_ATTN_COUNT } vf_dt_attention;
typedef enum vf_dt_loss { VF_LOSS_FULL, VF_LOSS_CHUNKED, VF_LOSS_LIGER, VF_LOSS_COUNT } vf_dt_loss;
typedef enum vf_dt_sharding {
    VF_SHARD_NONE,
    VF_SHARD_ZERO1,
    VF_SHARD_ZERO2,
    VF_SHARD_ZERO3,
    VF_SHARD_FSDP_FULL,
    VF_SHARD_FSDP_GRAD_OP,
    VF_SHARD_FSDP_HYBRID,
    VF_SHARD_COUNT
} vf_dt_sharding;
typedef enum vf_dt_offload { VF_OFFLOAD_NONE, VF_OFFLOAD_OPTIMIZER, VF_OFFLOAD_ALL, VF_OFFLOAD_COUNT } vf_dt_offload;

/* The enumerated levers, for the name tables below. */
typedef enum vf_dt_lever {
    VF_LEVER_PRECISION, /* "fp32", "bf16", "fp16" */
    VF_LEVER_AMP,       /* "none", "bf16", "fp16" */
    VF_LEVER_OPTIMIZER, /* "adamw", "adamw-8bit", "paged-adamw-8bit", "adafactor", "sgd", "sgd-momentum" */
    VF_LEVER_CKPT,      /* "none", "full", "selective" */
    VF_LEVER_ATTENTION, /* "eager", "sdpa", "flash" */
    VF_LEVER_LOSS,      /* "full", "chunked", "liger" */
    VF_LEVER_SHARDING,  /* "none", "zero1", "zero2", "zero3", "fsdp-full", "fsdp-grad-op", "fsdp-hybrid" */
    VF_LEVER_OFFLOAD,   /* "none", "optimizer", "all" */
    VF_LEVER_COUNT
} vf_dt_lever;

/* The name of value v of lever l; NULL outside the enums. */
const char *vf_dt_lever_name(vf_dt_lever l, int v);
/* Exact (case-sensitive) inverse; false for NULL or an unknown name (leaves *out alone). */
bool vf_dt_lever_from_name(vf_dt_lever l, const char *name, int *out);
/* The accepted names of lever l joined with '|' ("fp32|bf16|fp16"), for messages; "" outside. */
const char *vf_dt_lever_choices(vf_dt_lever l);

#define VF_DT_OPTIONS_VERSION 1u

typedef struct vf_dt_options {
    unsigned version;            /* VF_DT_OPTIONS_VERSION */
    vf_method method;            /* SFT = full fine-tuning, LoRA (DoRA), QLoRA, OSFT */
    vf_dt_precision dtype;       /* dtype the weights are loaded in (the frozen base for adapters) */
    vf_dt_amp amp;               /* autocast compute dtype; NONE computes in `dtype` */
    vf_dt_optimizer optimizer;
    bool optimizer_in_backward;  /* per-parameter steps during backward, gradients freed at once */
    vf_dt_ckpt checkpointing;
    bool activation_offload;     /* saved activations live on the host, one layer in flight */
    bool compile;                /* torch.compile: pointwise intermediates recomputed, not saved */
    vf_dt_attention attention;
    vf_dt_loss loss;
    vf_dt_sharding sharding;
    vf_dt_offload offload;
    uint32_t gpus;               /* GPUs per node, >= 1 */
    uint32_t nodes;              /* >= 1; data-parallel world = gpus * nodes */
    uint64_t gpu_memory;         /* bytes per GPU, > 0 */
    uint64_t host_memory;        /* host bytes per node for offload and saving; 0 = not given */
    uint64_t batch_size;         /* micro-batch per GPU, >= 1 */
    uint64_t seq_len;            /* tokens per sample, >= 1 */
    uint32_t grad_accum;         /* micro-batches per optimizer step, >= 1 */
    vf_dtype adapter_dtype;      /* LoRA/DoRA/OSFT trainable parameters: F32, BF16 or F16 */
    uint32_t quant_block;        /* QLoRA 4-bit block size (bitsandbytes blocksize, default 64) */
    bool double_quant;           /* QLoRA nested quantization of the absmax (bnb_4bit_use_double_quant) */
    uint32_t loss_chunks;        /* --loss chunked: number of chunks (torchtune's default 8), >= 1 */
    bool full_state_dict;        /* saving gathers the full model on rank 0 (FSDP FULL_STATE_DICT) */
} vf_dt_options;

#define VF_DT_OPTIONS_INIT                                                                          \
    {                                                                                               \
        VF_DT_OPTIONS_VERSION, VF_METHOD_SFT, VF_PREC_BF16, VF_AMP_NONE, VF_OPTIM_ADAMW, false,     \
            VF_CKPT_NONE, false, false, VF_ATTN_SDPA, VF_LOSS_FULL, VF_SHARD_NONE, VF_OFFLOAD_NONE, \
            1u, 1u, 0u, 0u, 1u, 0u, 1u, VF_DTYPE_F32, 64u, true, 8u, true                           \
    }

/* ---- model facts ----------------------------------------------------------------------------- */

/* What the estimate needs, counted from the headers (vf_dt_model_from) or written by hand (tests).
 * Widths are per layer; a layer with experts uses moe_intermediate per expert and top_k experts. */
typedef struct vf_dt_model {
    uint64_t parameters;        /* every parameter, buffers excluded */
    uint64_t layers;            /* transformer blocks */
    uint64_t hidden;            /* h */
    uint64_t intermediate;      /* dense MLP width (0 when every layer is MoE) */
    uint64_t moe_intermediate;  /* one expert's width (0 for a dense model) */
    uint64_t moe_layers;        /* layers with routed experts */
    uint32_t experts, top_k;    /* routed experts per MoE layer, experts per token */
    uint64_t q_dim, kv_dim;     /* rows of q_proj and of k_proj (= heads x head_dim) */
    uint64_t heads;             /* attention heads */
    uint64_t vocab;             /* embedding rows (logits width) */
    bool gated_mlp;             /* SwiGLU-style gate x up (Llama) rather than one fc (GPT-2) */
    bool tied;                  /* lm_head shares the embedding */
    uint64_t embed_params;      /* input embedding numel */
    uint64_t linear_params;     /* numel of the 2-D projection weights inside blocks (what QLoRA
                                   quantizes and autocast casts) */
    uint64_t quant_blocks;      /* sum over those weights of ceil(numel / quant_block) (QLoRA absmax) */
    uint64_t largest_layer;     /* parameters of the largest block (the FSDP/ZeRO-3 gather unit) */
    uint64_t largest_matrix;    /* numel of the largest projection weight (backward / dequant buffer) */
    uint64_t small_params;      /* parameters in tensors < 4096 elements (bnb keeps them 32-bit) */
    uint64_t matrix_dim_sum;    /* sum of rows + cols over 2-D trainable tensors (Adafactor) */
    uint64_t vector_params;     /* trainable parameters outside 2-D tensors (Adafactor full state) */
    /* method parts (0 for full fine-tuning) */
    uint64_t trainable;         /* trainable parameters (full fine-tuning: parameters) */
    uint64_t adapter_base;      /* OSFT: U, S, V of every target (the frozen high-rank part and the
                                   trainable low-rank part); PEFT's OSF keeps the base weight too
                                   (peft/tuners/osf/layer.py: base_layer stays, U/S/V_high buffers,
                                   U/S/V_low parameters) */
    uint64_t osft_target_params; /* OSFT: sum of rows x cols of the targets; each forward rebuilds
                                   W = U_high S_high V_high + U_low S_low V_low and F.linear keeps it
                                   for backward (utils.py reconstruct_weight_matrix) */
    uint64_t adapter_act_per_token; /* elements per token, in the adapter dtype, that the adapters
                                   save for backward, summed over every target of every layer (LoRA:
                                   A's input cast and B's input, in + r; DoRA: its lora result, out) */
    uint64_t dora_base_per_token; /* DoRA: elements per token of the base results it keeps (out per
                                   target, compute dtype) */
    uint64_t dora_largest;      /* DoRA: largest out x in of a target (its weight-norm temporaries) */
    bool heads_from_config;     /* heads read from config.json (else q_dim / 128 assumed) */
    bool top_k_from_config;
} vf_dt_model;

/* Fills *out from m for options o (method, adapter selection through `adapters`, which may be NULL
 * for full fine-tuning: its target, rank, DoRA, modules_to_save are used, o->adapter_dtype sizes
 * them). quant_block comes from o. Errors: VF_ERR_USAGE (bad target, no layers or no hidden size). */
int vf_dt_model_from(const vf_model *m, const vf_dt_options *o, const vf_adapter_options *adapters,
                     vf_dt_model *out, vf_error *err);

/* ---- result ---------------------------------------------------------------------------------- */

typedef enum vf_dt_phase { VF_PHASE_FORWARD_BACKWARD, VF_PHASE_OPTIMIZER_STEP } vf_dt_phase;

/* Bytes per GPU (host_* per node). */
typedef struct vf_dt_result {
    uint64_t tokens;             /* batch_size x seq_len per GPU per micro-batch */
    uint64_t world;              /* data-parallel ranks (gpus x nodes) */
    uint64_t shard_params;       /* ranks the parameters are divided over (1 when not sharded) */
    uint64_t shard_grads, shard_optim;
    uint64_t weights;            /* resident weights (sharded share, quantized blocks, adapters) */
    uint64_t master_weights;     /* fp32 master copy of trainable fp16 weights (0 otherwise) */
    uint64_t gradients;          /* gradient buffers at their largest (also DDP buckets) */
    uint64_t optimizer;          /* optimizer states on the GPU */
    uint64_t activations;        /* saved for backward at the start of backward, kv_cache included */
    uint64_t kv_cache;           /* transformers' DynamicCache (use_cache) held by the model output */
    uint64_t logits;             /* logits and cross-entropy working set at their peak */
    uint64_t temporary;          /* transient buffers of the peak phase */
    uint64_t step_temporary;     /* optimizer step temporaries (phase 2) */
    uint64_t forward_backward;   /* phase 1 total */
    uint64_t optimizer_step;     /* phase 2 total */
    vf_dt_phase peak_phase;
    uint64_t peak_allocated;     /* max of the two phases */
    uint64_t peak_reserved;      /* peak_allocated x (1 + fragmentation) (torch.cuda max reserved) */
    uint64_t overhead;           /* CUDA context, cuBLAS/NCCL workspaces: outside the allocator */
    uint64_t total;              /* peak_reserved + overhead: what the GPU must hold */
    bool fits;                   /* total <= gpu_memory */
    uint64_t host_offload;       /* host bytes per node held by offload (states, params, activations) */
    /* saving a full state dict of sharded weights (FSDP FULL_STATE_DICT with torch's defaults,
     * DeepSpeed stage3_gather_16bit_weights_on_model_save): rank 0 gathers the whole model */
    uint64_t save_gpu_peak;      /* at rest (weights, master, states) + the weights gathered from the
                                    other ranks + overhead; 0 when the weights are not sharded or
                                    full_state_dict is false */
    uint64_t save_host_peak;     /* the full state dict on rank 0's host (weights in their dtype) */
    bool save_exceeds_gpu, save_exceeds_host;
    uint64_t grad_accum_tokens;  /* tokens per optimizer step over the world: tokens x accum x world */
} vf_dt_result;

/* Fractional allocator fragmentation applied to peak_allocated (see vf_detailed.c). */
#define VF_DT_FRAGMENTATION_PERMILLE 50u
/* Fixed framework overhead per GPU (CUDA context with lazy module loading, cuBLAS workspace) and,
 * for more than one rank, NCCL's communicator buffers. */
#define VF_DT_CUDA_CONTEXT_BYTES (UINT64_C(512) << 20)
#define VF_DT_NCCL_BYTES (UINT64_C(256) << 20)

/* Fills *out (zeroed first) or fails:
 *  VF_ERR_USAGE    NULL, version, enum out of range, gpus/nodes/batch/seq/grad_accum/quant_block/
 *                  loss_chunks 0, gpu_memory 0, adapter dtype not F32/BF16/F16, a lever combination
 *                  no framework offers (optimizer offload without a ZeRO stage, parameter offload
 *                  without ZeRO-3 or FSDP, fsdp-hybrid on one node, QLoRA with sharded weights other
 *                  than FSDP, model with no layers, hidden size or vocabulary, LoRA without trainable
 *                  parameters);
 *  VF_ERR_OVERFLOW a byte count beyond 64 bits. */
int vf_dt_estimate(const vf_dt_model *m, const vf_dt_options *o, vf_dt_result *out, vf_error *err);

#ifdef __cplusplus
}
#endif
#endif
