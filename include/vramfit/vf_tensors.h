/* vf_tensors.h - the owned tensor table of a checkpoint, with layers, roles, buffers and the
 * architecture inferred from shapes (never from config.json).
 *
 * Layer 2 of vramfit: built on vf_parser.h. A vf_model owns its checkpoint and every string it hands
 * out; borrowed pointers stay valid until vf_model_free. */
#ifndef VRAMFIT_VF_TENSORS_H
#define VRAMFIT_VF_TENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_error.h"
#include "vf_parser.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(enum suffix, JSON/display name) */
#define VF_ROLE_LIST(X)                                                                              \
    X(OTHER, "other")                                                                                \
    X(EMBED, "embedding")                                                                            \
    X(POS_EMBED, "position_embedding")                                                               \
    X(LM_HEAD, "lm_head")                                                                            \
    X(ATTN_Q, "attn_q")                                                                              \
    X(ATTN_K, "attn_k")                                                                              \
    X(ATTN_V, "attn_v")                                                                              \
    X(ATTN_O, "attn_o")                                                                              \
    X(ATTN_QKV, "attn_qkv")                                                                          \
    X(ATTN_OTHER, "attn_other")                                                                      \
    X(MLP_GATE, "mlp_gate")                                                                          \
    X(MLP_UP, "mlp_up")                                                                              \
    X(MLP_DOWN, "mlp_down")                                                                          \
    X(MLP_GATE_UP, "mlp_gate_up")                                                                    \
    X(MOE_ROUTER, "moe_router")                                                                      \
    X(NORM, "norm")                                                                                  \
    X(BIAS, "bias")                                                                                  \
    X(BUFFER, "buffer")                                                                              \
    X(ATTN_SINKS, "attn_sinks")                                                                      \
    X(MAMBA_IN, "mamba_in_proj")                                                                     \
    X(MAMBA_CONV, "mamba_conv1d")                                                                    \
    X(MAMBA_X, "mamba_x_proj")                                                                       \
    X(MAMBA_DT, "mamba_dt_proj")                                                                     \
    X(MAMBA_SSM, "mamba_ssm")                                                                        \
    X(MAMBA_OUT, "mamba_out_proj")                                                                   \
    X(LINEAR_ATTN_IN, "linear_attn_in_proj")                                                         \
    X(LINEAR_ATTN_CONV, "linear_attn_conv1d")                                                        \
    X(LINEAR_ATTN_SSM, "linear_attn_ssm")                                                            \
    X(LINEAR_ATTN_OUT, "linear_attn_out_proj")                                                       \
    X(MTP_PROJ, "mtp_proj")                                                                          \
    X(PROJECTOR, "projector")                                                                        \
    X(CONV, "conv")

typedef enum vf_role {
#define VF_X_ROLE(suffix, str) VF_ROLE_##suffix,
    VF_ROLE_LIST(VF_X_ROLE)
#undef VF_X_ROLE
    VF_ROLE_COUNT
} vf_role;

const char *vf_role_name(vf_role role);

/* The sub-model a tensor belongs to, from the leading components of its name (model.visual,
 * vision_tower, multi_modal_projector, mtp, ...; DeepSeek's MTP layer by its eh_proj). */
#define VF_COMPONENT_LIST(X)                                                                         \
    X(LANGUAGE_MODEL, "language_model")                                                              \
    X(VISION, "vision")                                                                              \
    X(AUDIO, "audio")                                                                                \
    X(PROJECTOR, "projector")                                                                        \
    X(MTP, "mtp")

typedef enum vf_component {
#define VF_X_COMP(suffix, str) VF_COMPONENT_##suffix,
    VF_COMPONENT_LIST(VF_X_COMP)
#undef VF_X_COMP
    VF_COMPONENT_COUNT
} vf_component;

const char *vf_component_name(vf_component c);

/* What the loaded model holds the tensor in, as PEFT sees it: LINEAR is an nn.Linear (or
 * transformers' Conv1D, or a quantized subclass: bitsandbytes, FP8, compressed-tensors), the only
 * kind `all-linear` takes; PARAMETER a bare nn.Parameter (fused experts, parameter routers, A_log,
 * sinks); CONV an nn.Conv1d/2d/3d; QUANT_LINEAR a GPTQ/AWQ QuantLinear (an nn.Module that PEFT
 * targets by name but all-linear does not take); NONE norms, biases, buffers. */
#define VF_MODULE_LIST(X)                                                                            \
    X(NONE, "none")                                                                                  \
    X(LINEAR, "linear")                                                                              \
    X(EMBEDDING, "embedding")                                                                        \
    X(PARAMETER, "parameter")                                                                        \
    X(CONV, "conv")                                                                                  \
    X(QUANT_LINEAR, "quant_linear")

typedef enum vf_module_kind {
#define VF_X_MOD(suffix, str) VF_MODULE_##suffix,
    VF_MODULE_LIST(VF_X_MOD)
#undef VF_X_MOD
    VF_MODULE_COUNT
} vf_module_kind;

const char *vf_module_kind_name(vf_module_kind k);

/* How a fused 3-D expert tensor stores its matrices. */
typedef enum vf_expert_layout {
    VF_EXPERTS_NONE,   /* not a fused expert tensor */
    VF_EXPERTS_OUT_IN, /* [E, out, in]: GraniteMoe ParallelExperts, transformers' fused experts */
    VF_EXPERTS_IN_OUT, /* [E, in, out], bmm layout: Llama 4 and gpt-oss gate_up_proj / down_proj */
} vf_expert_layout;

/* Layer kinds, bit flags (a hybrid layer may hold attention or Mamba, plus MoE). */
#define VF_LAYER_ATTENTION 1u
#define VF_LAYER_MAMBA 2u
#define VF_LAYER_LINEAR_ATTENTION 4u
#define VF_LAYER_MOE 8u
/* "attention", "mamba+moe", ... into buf ("-" for 0); returns buf. */
const char *vf_layer_kind_format(uint32_t kind, char *buf, size_t size);

typedef enum vf_model_kind {
    VF_MODEL_DECODER,         /* causal language model */
    VF_MODEL_ENCODER,         /* BERT / RoBERTa / ModernBERT style encoder */
    VF_MODEL_ENCODER_DECODER, /* T5 / BART style */
} vf_model_kind;

/* "decoder", "encoder", "encoder-decoder". */
const char *vf_model_kind_name(vf_model_kind k);

/* What a tensor is to a pre-quantized checkpoint (tensors/vf_quant.c). */
typedef enum vf_quant_part {
    VF_QPART_NONE,   /* not quantized, or not a quantized checkpoint */
    VF_QPART_WEIGHT, /* a quantized weight: rows/cols/matrices are its logical [out, in] */
    VF_QPART_META,   /* quantization metadata (scales, zeros, g_idx, absmax, quant maps and state,
                        SCB, weight_scale(_inv), input_scale, *_scales): bytes yes, parameters no,
                        never an adapter target */
} vf_quant_part;

typedef struct vf_tensor {
    const char *name;      /* full tensor name */
    const char *file;      /* shard file name */
    vf_dtype dtype;
    uint32_t ndim;
    const uint64_t *shape; /* ndim entries */
    uint64_t numel;
    uint64_t bytes;
    uint32_t shard;        /* index into the checkpoint's shards */
    int32_t layer;         /* transformer block index, -1 when none */
    int32_t expert;        /* MoE expert index for per-expert tensors, -1 otherwise */
    bool fused_experts;    /* 3-D [E, out, in] expert tensor: shape[0] experts */
    vf_role role;          /* what the tensor does; MLP roles also apply to experts */
    bool buffer;           /* non-parameter buffer (inv_freq, causal mask): bytes yes, params no */
    /* The weight as the loaded model sees it: `matrices` matrices of rows x cols each, rows being
     * nn.Linear's out_features (weight [out, in]). 1 for a 2-D weight, the expert count for fused
     * expert tensors; 0 (and rows = cols = 0) when the tensor is no matrix (norms, biases, ...). */
    uint64_t rows, cols, matrices;
    vf_component component;  /* sub-model */
    vf_module_kind module;   /* what holds it in the loaded model */
    vf_expert_layout experts_layout; /* fused experts (3-D, or packed quantized blocks): how
                                        [E, ., .] is laid out; fused_experts is set for 3-D only */
    bool shared_expert;      /* under shared_experts / shared_expert / shared_mlp */
    bool ignored;            /* stored but never loaded by transformers (MTP blocks): bytes yes,
                                parameters, layers and targets no */
    vf_quant_part quant;
    /* Elements this tensor has in the dequantized model transformers loads: numel, rows * cols *
     * matrices for a quantized weight, 0 for quantization metadata. */
    uint64_t logical_numel;
} vf_tensor;

typedef struct vf_arch {
    uint32_t layers;       /* distinct layer indices */
    uint64_t hidden_size;  /* embedding columns (0 when no embedding was found) */
    uint64_t vocab_size;   /* embedding rows, padding included */
    bool tied_embeddings;  /* embedding present and no separate output head stored */
    uint32_t experts;      /* routed experts per MoE layer; 0 for a dense model */
    const char *embedding; /* name of the input embedding tensor or NULL */
    const char *lm_head;   /* name of the output head tensor or NULL */
    vf_model_kind kind;    /* decoder, encoder or encoder-decoder (from the language model's names) */
    uint32_t shared_experts_layers; /* layers holding shared experts */
} vf_arch;

/* One sub-model: what the components table shows. */
typedef struct vf_component_stats {
    vf_component component;
    uint64_t tensors;
    uint64_t parameters; /* 0 for ignored components */
    uint64_t bytes;
    uint32_t layers;     /* distinct layer indices inside it */
    bool loaded;         /* false: transformers never loads it (its bytes are not parameters) */
} vf_component_stats;

typedef struct vf_dtype_stats {
    uint64_t tensors, elements, bytes;
} vf_dtype_stats;

typedef struct vf_totals {
    uint64_t files;
    uint64_t tensors;
    uint64_t parameters;     /* logical elements of non-buffer tensors (vf_tensor.logical_numel):
                                stored elements unless the checkpoint is quantized */
    uint64_t buffers;        /* elements of buffer tensors */
    uint64_t buffer_tensors; /* number of buffer tensors */
    uint64_t bytes;          /* tensor bytes, buffers included */
    vf_dtype_stats by_dtype[VF_DTYPE_COUNT];
} vf_totals;

/* ---- pre-quantized checkpoints ----------------------------------------------------------------- */

/* X(enum suffix, name) */
#define VF_QUANT_SCHEME_LIST(X)                                                                      \
    X(NONE, "none")                                                                                  \
    X(BNB_NF4, "bnb-nf4")                   /* bitsandbytes Linear4bit, NF4 */                       \
    X(BNB_FP4, "bnb-fp4")                   /* bitsandbytes Linear4bit, FP4 */                       \
    X(BNB_INT8, "bnb-int8")                 /* bitsandbytes Linear8bitLt: int8 weight + SCB */       \
    X(GPTQ, "gptq")                         /* qweight [in*bits/32, out], qzeros, scales, g_idx */   \
    X(AWQ, "awq")                           /* qweight [in, out*bits/32] (GEMM), qzeros, scales */   \
    X(CT_INT, "compressed-tensors-int")     /* weight_packed I32 + weight_shape (pack-quantized) */  \
    X(CT_FP8, "compressed-tensors-fp8")     /* F8 weight + weight_scale (float-quantized) */         \
    X(NVFP4, "nvfp4")                       /* weight_packed U8 [out, in/2] + FP8 weight_scale */    \
    X(FP8_BLOCK, "fp8-block")               /* F8 weight + weight_scale_inv blocks (DeepSeek) */     \
    X(MXFP4, "mxfp4")                       /* *_blocks [E, out, in/32, 16] + *_scales (gpt-oss) */

typedef enum vf_quant_scheme {
#define VF_X_QSCHEME(suffix, str) VF_QUANT_##suffix,
    VF_QUANT_SCHEME_LIST(VF_X_QSCHEME)
#undef VF_X_QSCHEME
    VF_QUANT_SCHEME_COUNT
} vf_quant_scheme;

const char *vf_quant_scheme_name(vf_quant_scheme scheme); /* "?" when out of range */
const char *vf_quant_part_name(vf_quant_part part);       /* "none", "weight", "metadata"; "?" */

/* The quantization of a checkpoint, detected from its tensor families (config.json's
 * quantization_config supplies bits and group sizes the shapes do not hold). */
typedef struct vf_quant {
    vf_quant_scheme scheme;     /* VF_QUANT_NONE: nothing is quantized (every field below is 0) */
    uint32_t bits;              /* bits per weight value (4, 8) */
    uint64_t group_size;        /* values per scale: GPTQ/AWQ/compressed-tensors group, bitsandbytes
                                   blocksize, MXFP4 32, FP8 block rows; 0 per channel or tensor */
    bool double_quant;          /* bitsandbytes: the absmax are quantized again (nested_absmax) */
    bool peft_linear;           /* the loaded layer is an nn.Linear subclass (bitsandbytes, FP8,
                                   compressed-tensors), so PEFT's all-linear takes it; GPTQ and AWQ
                                   QuantLinear modules are plain nn.Module */
    char config_method[32];     /* quantization_config.quant_method of config.json, "" when none */
    uint64_t quantized_tensors; /* tensors holding quantized weights */
    uint64_t logical_elements;  /* those weights' elements once dequantized */
    uint64_t stored_elements;   /* every element the files store, as stored: packed weights, metadata,
                                   buffers and blocks transformers does not load included */
    uint64_t metadata_tensors;  /* quantization metadata tensors */
    uint64_t metadata_bytes;
} vf_quant;

typedef struct vf_model vf_model;

/* Opens PATH as vf_checkpoint_open does and builds the table. When a config.json is present its
 * dimensions are compared with the inferred architecture and disagreements become findings. */
int vf_model_open(const char *path, const vf_open_options *opts, vf_model **out, vf_error *err);
/* Builds the table from an open checkpoint, taking ownership of it (also on failure). */
int vf_model_from_checkpoint(vf_checkpoint *cp, vf_model **out, vf_error *err);
void vf_model_free(vf_model *m); /* NULL is a no-op */

const vf_checkpoint *vf_model_checkpoint(const vf_model *m);
size_t vf_model_tensor_count(const vf_model *m);
/* Tensors in shard order, then data-offset order within a shard. */
const vf_tensor *vf_model_tensor(const vf_model *m, size_t i);
/* True for a tensor of the loaded language model (what the architecture describes): not a tower,
 * projector or MTP block, not ignored by the loader. */
bool vf_tensor_in_language_model(const vf_tensor *t);
/* Index of the tensor named `name` or -1. */
long vf_model_find(const vf_model *m, const char *name);
const vf_arch *vf_model_arch(const vf_model *m);
const vf_totals *vf_model_totals(const vf_model *m);
/* Checkpoint findings followed by the table's own (config disagreements, ...). */
const vf_findings *vf_model_findings(const vf_model *m);
/* The checkpoint's quantization (scheme VF_QUANT_NONE when it is not quantized). */
const vf_quant *vf_model_quant(const vf_model *m);

/* Components present, in vf_component order (the language model first). Borrowed. */
size_t vf_model_component_count(const vf_model *m);
const vf_component_stats *vf_model_component(const vf_model *m, size_t i);

/* VF_LAYER_* flags of a language-model layer index (0 when the layer has none or is out of range). */
uint32_t vf_model_layer_kind(const vf_model *m, size_t layer);

/* Parameter totals (buffers excluded) by layer index: *count = highest layer index + 2, the last
 * entry holding tensors outside any layer. Layers are the language model's: tower and MTP tensors are
 * counted in the last entry (ignored MTP tensors in none). Borrowed, valid until vf_model_free. */
const uint64_t *vf_model_layer_params(const vf_model *m, size_t *count);

/* Name analysis, exposed for tests and for the estimator. */
typedef struct vf_name_info {
    int32_t layer;   /* as vf_name_layer */
    int32_t expert;  /* as vf_name_expert */
    vf_role role;    /* as vf_name_role */
    bool buffer;     /* as vf_name_is_buffer */
    bool in_experts; /* an `experts` component precedes the last one (fused expert tensors) */
    vf_component component;
    vf_module_kind module;
    vf_expert_layout experts_layout; /* set for 3+-D tensors a rule names as fused experts */
    bool shared_expert;
    unsigned kind_hints; /* VF_HINT_*: what the name says about the whole model */
    unsigned layout_marks; /* VF_LAYOUT_* this name switches on (as vf_name_layout) */
    bool layout_sensitive; /* a rule for this name needs VF_LAYOUT_* flags not given: other flags
                              could classify it otherwise */
} vf_name_info;

#define VF_HINT_ENCODER 1u /* embeddings.word_embeddings / embeddings.tok_embeddings (BERT, ModernBERT) */
#define VF_HINT_CROSS 2u   /* cross-attention: EncDecAttention (T5), encoder_attn (BART, Whisper) */

/* Checkpoint-wide layouts that change what a name means (vf_arch_rules.c's marker table). */
#define VF_LAYOUT_GPT_OSS 1u  /* self_attn.sinks: bmm experts, parameter router */
#define VF_LAYOUT_DEEPSEEK 2u /* shared_experts / e_score_correction_bias: parameter router */
#define VF_LAYOUT_MAMBA 4u    /* mixer.A_log: `mixer` is a Mamba mixer */
/* The layout flags a name's presence implies (0 for most names). */
unsigned vf_name_layout(const char *name);
/* Everything below in one pass over the name, as in a checkpoint with `layouts` (VF_LAYOUT_*). */
void vf_name_classify_in(const char *name, uint32_t ndim, unsigned layouts, vf_name_info *out);
/* vf_name_classify_in with no layout flags. */
void vf_name_classify(const char *name, uint32_t ndim, vf_name_info *out);
/* Layer index from `model.layers.N.`, `transformer.h.N.`, `h.N.`, `blocks.N.`, `layers.N.` ...; -1. */
int32_t vf_name_layer(const char *name);
/* Expert index from `experts.E.`; -1. */
int32_t vf_name_expert(const char *name);
/* Role from the name components and the number of dimensions. */
vf_role vf_name_role(const char *name, uint32_t ndim);
/* True for known non-parameter buffers: `inv_freq`, `attn.bias`/`attn.masked_bias` masks, ... */
bool vf_name_is_buffer(const char *name);

#ifdef __cplusplus
}
#endif
#endif
