/* vf_dt_cli.h - `vramfit estimate --estimator detailed`: its options (the levers of vf_detailed.h
 * and the adapter options of `adapters`), and the report (human, JSON). Option ids live in
 * [2100, 2200). The model lives in the library; this file only parses and prints. */
#ifndef VF_DT_CLI_H
#define VF_DT_CLI_H

#include <stdbool.h>

#include "vf_est_cli.h"
#include "vramfit/vf_detailed.h"

enum {
    VF_DOPT_ESTIMATOR = 2100,
    VF_DOPT_DTYPE,
    VF_DOPT_AMP,
    VF_DOPT_OPTIMIZER,
    VF_DOPT_OPT_IN_BWD,
    VF_DOPT_CKPT,
    VF_DOPT_ACT_OFFLOAD,
    VF_DOPT_COMPILE,
    VF_DOPT_ATTENTION,
    VF_DOPT_LOSS,
    VF_DOPT_SHARDING,
    VF_DOPT_NODES,
    VF_DOPT_OFFLOAD,
    VF_DOPT_GRAD_ACCUM,
    VF_DOPT_DORA,
    VF_DOPT_ADAPTER_DTYPE,
    VF_DOPT_SAVE,
    VF_DOPT_QUANT_BLOCK,
    VF_DOPT_NO_DOUBLE_QUANT,
    VF_DOPT_LOSS_CHUNKS,
    VF_DOPT_HOST_MEMORY,
    VF_DOPT_SHARDED_STATE_DICT,
};

/* The rows of the detailed estimator's options, with their --help text (column 24). */
#define VF_DT_LEVER(name, meta, id, lever, help) {name, 0, meta, id, help, VF_VALUES_LEVER, NULL, lever}
#define VF_DT_OPTS                                                                                  \
    VF_OPT_COLUMN(24),                                                                              \
    VF_OPT_TEXT("detailed estimator (--estimator detailed; the default, training-hub, keeps Training Hub's\n" \
                "formulas and numbers):"),                                                          \
    {"estimator", 0, "E", VF_DOPT_ESTIMATOR,                                                        \
     "training-hub (default) or detailed: how people really train, from the\n"                      \
     "architecture the headers give, per GPU: weights, gradients, optimizer\n"                      \
     "states, activations, logits/loss, temporary buffers, overhead, then\n"                        \
     "peak allocated and peak reserved. It needs --batch-size and\n"                                \
     "--max-seq-len, the micro-batch per GPU (not --max-tokens-per-gpu);\n"                         \
     "--svg draws its two phases as stacked bars",                                                  \
     VF_VALUES_LIST, "training-hub detailed"},                                                      \
    VF_DT_LEVER("dtype", "D", VF_DOPT_DTYPE, VF_LEVER_PRECISION,                                    \
                "fp32|bf16|fp16: dtype the weights are loaded in (the frozen base for\n"            \
                "LoRA/QLoRA/OSFT); default bf16. Trained fp16 weights get an fp32\n"                \
                "master copy and fp32 optimizer states (GradScaler refuses fp16 grads)"),           \
    VF_DT_LEVER("amp", "A", VF_DOPT_AMP, VF_LEVER_AMP,                                              \
                "none|bf16|fp16: autocast compute dtype (default none: compute in\n"                \
                "--dtype; fp32 weights + --amp bf16 is classic AMP, adding one cast copy\n"         \
                "of every projection; bf16 weights + none is pure bf16, where torch's\n"            \
                "AdamW keeps its moments in bf16)"),                                                \
    VF_DT_LEVER("optimizer", "O", VF_DOPT_OPTIMIZER, VF_LEVER_OPTIMIZER,                            \
                "adamw (2 states in the parameter dtype, default) | adamw-8bit and\n"               \
                "paged-adamw-8bit (bitsandbytes: 2 bytes + absmax per parameter; paged\n"           \
                "states can spill to the host) | adafactor (factored second moment) |\n"            \
                "sgd (no state) | sgd-momentum (one state)"),                                       \
    {"optimizer-in-backward", 0, NULL, VF_DOPT_OPT_IN_BWD,                                          \
     "step each parameter as its gradient is produced: no gradient\n"                               \
     "buffer and no optimizer-step phase"},                                                         \
    VF_DT_LEVER("gradient-checkpointing", "C", VF_DOPT_CKPT, VF_LEVER_CKPT,                         \
                "none (default) | full (keep each layer's input, recompute one\n"                   \
                "layer in backward) | selective (recompute the attention core only)"),              \
    {"activation-offload", 0, NULL, VF_DOPT_ACT_OFFLOAD, "saved activations go to host memory, one layer in flight"}, \
    {"compile", 0, NULL, VF_DOPT_COMPILE, "torch.compile: pointwise intermediates are recomputed, not saved"}, \
    VF_DT_LEVER("attention", "K", VF_DOPT_ATTENTION, VF_LEVER_ATTENTION,                            \
                "eager (materialises the heads x seq x seq matrix) | sdpa (default;\n"              \
                "k/v repeated to all heads) | flash (no matrix, no repeat)"),                       \
    VF_DT_LEVER("loss", "L", VF_DOPT_LOSS, VF_LEVER_LOSS,                                           \
                "full (default: logits in the compute dtype plus the fp32 upcast of\n"              \
                "cross-entropy) | chunked (fp32 work on one of --loss-chunks chunks) |\n"           \
                "liger (fused linear cross-entropy: logits never materialised; the\n"               \
                "existing --liger keeps its Training Hub meaning)"),                                \
    {"loss-chunks", 0, "N", VF_DOPT_LOSS_CHUNKS, "chunks of --loss chunked (default 8, torchtune's)"}, \
    VF_DT_LEVER("sharding", "S", VF_DOPT_SHARDING, VF_LEVER_SHARDING,                               \
                "none (DDP: gradient buckets copy the gradients) | zero1 (optimizer\n"              \
                "states / ranks) | zero2 (+ gradients) | zero3 (+ weights, one block\n"             \
                "gathered at a time) | fsdp-full (= zero3) | fsdp-grad-op (= zero2) |\n"            \
                "fsdp-hybrid (full shard within a node, replicas across --nodes)"),                 \
    {"nodes", 0, "N", VF_DOPT_NODES, "nodes of --gpus GPUs each (default 1)"},                      \
    VF_DT_LEVER("offload", "O", VF_DOPT_OFFLOAD, VF_LEVER_OFFLOAD,                                  \
                "none (default) | optimizer (states and master weights on the host;\n"              \
                "needs a ZeRO stage) | all (also weights and gradients; needs zero3 or\n"           \
                "fsdp-*)"),                                                                         \
    {"host-memory", 0, "SIZE", VF_DOPT_HOST_MEMORY, "host memory per node, to check offload and saving against"}, \
    {"grad-accum", 0, "N", VF_DOPT_GRAD_ACCUM,                                                      \
     "micro-batches per optimizer step (default 1): it changes the tokens\n"                        \
     "per optimizer step, not the peak, except for the gradient buffer it\n"                        \
     "keeps alive through the forward passes"},                                                     \
    {"use-dora", 0, NULL, VF_DOPT_DORA, "LoRA as DoRA: magnitude vectors, base results kept, weight norms"}, \
    {"adapter-dtype", 0, "DT", VF_DOPT_ADAPTER_DTYPE,                                               \
     "F32 (default; PEFT's autocast_adapter_dtype), BF16 or F16: trainable\n"                       \
     "adapter parameters, their gradients and optimizer states",                                    \
     VF_VALUES_LIST, VF_ADAPTER_DTYPES},                                                            \
    {"modules-to-save", 0, "LIST", VF_DOPT_SAVE, "modules trained as full copies (e.g. lm_head,embed_tokens)"}, \
    {"quant-block-size", 0, "N", VF_DOPT_QUANT_BLOCK, "QLoRA 4-bit block size (default 64, bitsandbytes')"}, \
    {"no-double-quant", 0, NULL, VF_DOPT_NO_DOUBLE_QUANT, "QLoRA without nested quantization of the absmax"}, \
    {"sharded-state-dict", 0, NULL, VF_DOPT_SHARDED_STATE_DICT,                                     \
     "saving writes per-rank shards: no full-model gather at save time"}

typedef struct vf_dt_opts {
    bool detailed;              /* --estimator detailed */
    const char *first_lever;    /* first lever option given (for "needs --estimator detailed") */
    vf_dt_options o;            /* the levers; gpus/memory/batch/seq are filled from vf_est_opts */
    bool use_dora;
    const char *modules_to_save;
} vf_dt_opts;

void vf_dt_opts_init(vf_dt_opts *d);

/* Stores option `opt`; returns 1 when stored, 0 when not a detailed option, -1 on a bad value (the
 * message is on stderr). */
int vf_dt_opt(vf_dt_opts *d, const vf_opt *opt, const char *val);

/* Runs the detailed estimate for the parsed options and prints it; returns the exit code. */
int vf_dt_run(const vf_dt_opts *d, const vf_est_opts *o, vf_method method, bool json, bool check,
                  const char *svg);

#endif
