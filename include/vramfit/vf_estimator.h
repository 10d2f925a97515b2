/* vf_estimator.h - Training Hub's fine-tuning memory estimate, reproduced from exact model facts.
 *
 * Layer 3 of vramfit. Pure arithmetic: no I/O, no allocation, no globals, nothing printed. The caller
 * (the CLI) derives a vf_est_model from the safetensors headers (vf_tensors.h) and describes the run in
 * a vf_est_setup; vf_estimate() returns the per-GPU memory components, the low / expected / high
 * bounds and Training Hub's verdict for the given GPU memory.
 *
 * Source of truth: Training Hub's src/training_hub/profiling/memory_estimator.py (BasicEstimator,
 * OSFTEstimator, LoRAEstimator, QLoRAEstimator and estimate()) as described in
 * shared/reference/formulas.md. Symbols: P parameters, G GPUs, T tokens per GPU, L layers, H hidden
 * size, V vocabulary rows, AB LoRA adapter parameters, u OSFT unfreeze_rank_ratio.
 *
 * ARITHMETIC (bit-for-bit reproduction of Training Hub's Python):
 *  - Every count and every integer product Python computes with exact ints (4P, 8P, 2P+4AB, 4*OSFT,
 *    batch_size*max_seq_len, T*4*L*H, T*4*V, ...) is computed here as an overflow-checked uint64_t.
 *    Each such integer must be <= VF_EST_EXACT_MAX (2^53) or vf_estimate() fails with
 *    VF_ERR_OVERFLOW: below 2^53 the conversion to double is exact, so C's double arithmetic gives the
 *    very same results as Python's int/float mix (8 PiB per GPU is far beyond any real setup).
 *  - A value becomes a double (IEEE-754 binary64, as Python's float) exactly where Python produces a
 *    float: true division by G, multiplication by 8/3, 7/3, u or 0.5, and T = batch*seq/G. The
 *    operations are done in Python's order, one rounding each (C11 excess-precision rules; the
 *    library is built with -std=c11, which disables FMA contraction in GCC).
 *  - Components are summed in Python's order: parameters + optimizer + gradients + activations +
 *    outputs + additional, as doubles (subtotal_f below).
 *  - low / expected / high = (uint64_t)(multiplier * subtotal_f): truncation toward zero, like
 *    Python's int(). These three, the verdict and need_* are therefore exactly Training Hub's.
 *  - The per-component uint64_t fields and `subtotal` are the doubles truncated toward zero (whole
 *    bytes, for display). Training Hub keeps them as floats, so the truncated components may sum to up
 *    to 5 bytes less than `subtotal`; `overhead` = high - subtotal may differ from Training Hub's
 *    float overhead by less than one byte. Nothing else is rounded.
 *
 * Deliberate choices where the Python is ambiguous or buggy (see each field too):
 *  - LoRA peak rule: Python zeroes the outputs only inside `if verbose > 0` when gradients are larger;
 *    vramfit follows the default verbose=1 behaviour (the smaller of the two is always dropped, ties
 *    drop the gradients, as Python's strict `grad > outputs` test does).
 *  - OSFT: Liger is on by default (as upstream's estimate() and OSFTEstimator); an explicit liger = 0
 *    gives outputs = 4*T*V*7/3, as Training Hub's main does since commit 04ec040 (which carries
 *    fddfd43: the old forcing of use_liger = True was removed).
 *  - P_train = P (Training Hub's meta-device model has every parameter trainable).
 *  - unfreeze_rank_ratio must be in (0, 1] and lora_r >= 1 (Training Hub accepts 0, which trains
 *    nothing; VF_COMPAT_TRAINING_HUB accepts it too).
 *
 * COMPATIBILITY MODES (vf_est_setup.compat). VF_COMPAT_NONE is vramfit's own validation. With
 * VF_COMPAT_TRAINING_HUB the same arithmetic follows Training Hub's edge-input handling
 * (memory_estimator.py at 04ec040): ratio 0 allowed (checked to be in [0, 1] for OSFT only, with
 * upstream's message "Ratio must be in the range [0, 1]"), lora_r 0 and LoRA with no target allowed
 * (AB = 0), tokens taken from th_max_tokens_per_gpu (0 and fractions allowed; NaN = None) and
 * upstream's ValueError messages for missing token settings. The model facts for that mode come from
 * vf_est_model_training_hub() (P without an untied lm_head, targets by the path-string rule).
 * Front ends (the CLI's --compat training-hub, python/vramfit) select the mode; the rules live here. */
#ifndef VRAMFIT_VF_ESTIMATOR_H
#define VRAMFIT_VF_ESTIMATOR_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "vf_error.h"
#include "vf_tensors.h"

typedef struct vf_target_spec vf_target_spec;
typedef struct vf_family vf_family;

#ifdef __cplusplus
extern "C" {
#endif

/* Largest integer intermediate accepted (2^53): see ARITHMETIC above. */
#define VF_EST_EXACT_MAX (UINT64_C(1) << 53)

/* ---- training methods ------------------------------------------------------------------------ */

typedef enum vf_method {
    VF_METHOD_SFT,   /* full fine-tuning, fp32 + AdamW (Training Hub "sft", BasicEstimator) */
    VF_METHOD_OSFT,  /* orthogonal subspace fine-tuning ("osft") */
    VF_METHOD_LORA,  /* LoRA, fp16 base model ("lora") */
    VF_METHOD_QLORA, /* QLoRA, 4-bit base model ("qlora") */
    VF_METHOD_COUNT
} vf_method;

/* "sft", "osft", "lora", "qlora"; NULL for a value outside the enum. */
const char *vf_method_name(vf_method method);

/* Case-insensitive inverse of vf_method_name; also accepts Training Hub's deprecated alias "osft-e"
 * for OSFT. Returns false (and leaves *out alone) for NULL or an unknown name; Training Hub would
 * silently fall back to SFT, vramfit refuses. */
bool vf_method_from_name(const char *name, vf_method *out);

/* ---- inputs ---------------------------------------------------------------------------------- */

/* Exact model facts, all counted from the safetensors headers by the caller. */
typedef struct vf_est_model {
    uint64_t parameters;           /* P: numel summed over every parameter tensor; must be >= 1 */
    uint64_t layers;               /* L: distinct transformer block indices (0 allowed) */
    uint64_t hidden_size;          /* H: columns of the input embedding (0 allowed) */
    uint64_t vocab_size;           /* V: rows of the input embedding, padding included (0 allowed) */
    uint64_t lora_dim_sum;         /* sum over LoRA target matrices of (d_in + d_out); AB = r * this */
    uint64_t lora_params_override; /* if nonzero: the exact AB, used instead of r * lora_dim_sum (e.g.
                                      per-module ranks). LoRA/QLoRA need this or lora_dim_sum > 0. */
    uint64_t osft_params;          /* sum over all tensors: target m x n matrix -> m*k + k + k*n with
                                      k = min(m, n); every other tensor -> numel. Required (> 0) for
                                      OSFT; vramfit multiplies by 4 bytes itself. */
    bool stored_4bit;              /* the checkpoint is already stored 4-bit (bitsandbytes nf4/fp4,
                                      GPTQ/AWQ 4-bit, ...): QLoRA loads it as it is, no unquantized
                                      copy is placed on the GPUs first, so the QLoRA bottleneck rule
                                      (model_bound) does not apply. false reproduces Training Hub. */
} vf_est_model;

#define VF_EST_SETUP_VERSION 2u

/* Whose rules the estimate follows (see COMPATIBILITY MODES above). */
typedef enum vf_est_compat {
    VF_COMPAT_NONE,         /* vramfit's exact counts and validation (default) */
    VF_COMPAT_TRAINING_HUB, /* Training Hub's main (04ec040): edge inputs as upstream */
    VF_COMPAT_COUNT
} vf_est_compat;

/* "none", "training-hub"; NULL outside the enum. */
const char *vf_est_compat_name(vf_est_compat compat);
/* Inverse of vf_est_compat_name (exact match); false for NULL or an unknown name. */
bool vf_est_compat_from_name(const char *name, vf_est_compat *out);

/* The training run. Start from VF_EST_SETUP_INIT and change what you need. */
typedef struct vf_est_setup {
    unsigned version;            /* must be VF_EST_SETUP_VERSION */
    vf_method method;
    uint32_t gpus;               /* G >= 1 */
    uint64_t gpu_memory;         /* M: bytes per GPU, > 0 */
    uint64_t max_tokens_per_gpu; /* 0 = not given. SFT/OSFT only; ignored by LoRA/QLoRA (as upstream) */
    uint64_t batch_size;         /* 0 = not given */
    uint64_t max_seq_len;        /* 0 = not given */
    uint32_t lora_r;             /* LoRA rank r >= 1 (validated for every method) */
    double unfreeze_rank_ratio;  /* OSFT u, finite, in (0, 1] (validated for every method) */
    int liger;                   /* -1 method default (on for OSFT, off otherwise), 0 off, 1 on */
    vf_est_compat compat;        /* VF_COMPAT_NONE unless set */
    /* VF_COMPAT_TRAINING_HUB only, replacing max_tokens_per_gpu: Python's max_tokens_per_gpu as a
     * double, NaN for None; finite and >= 0 (0 and fractions are used as given, as upstream). */
    double th_max_tokens_per_gpu;
} vf_est_setup;

#define VF_EST_SETUP_INIT                                                                           \
    {                                                                                               \
        VF_EST_SETUP_VERSION, VF_METHOD_SFT, 1u, 0u, 0u, 0u, 0u, 32u, 0.25, -1, VF_COMPAT_NONE, NAN \
    }

/* ---- result ---------------------------------------------------------------------------------- */

typedef enum vf_verdict {
    VF_VERDICT_FITS,   /* high <= M:      "should work" */
    VF_VERDICT_LIKELY, /* expected <= M:  "will likely work" */
    VF_VERDICT_RISKY,  /* low <= M:       "may work but isn't recommended" */
    VF_VERDICT_NO,     /* low > M:        "impossible" */
    VF_VERDICT_COUNT
} vf_verdict;

/* "fits", "likely", "risky", "no"; NULL outside the enum. */
const char *vf_verdict_name(vf_verdict verdict);
/* Training Hub's sentence, e.g. "The proposed training setup should work for your hardware."
 * (no trailing newline); NULL outside the enum. */
const char *vf_verdict_text(vf_verdict verdict);

/* Which components made it into the subtotal. */
typedef enum vf_peak_rule {
    VF_PEAK_SUM_ALL,        /* SFT, OSFT: every component is summed */
    VF_PEAK_DROP_OUTPUTS,   /* LoRA/QLoRA, gradients > outputs: outputs not counted */
    VF_PEAK_DROP_GRADIENTS, /* LoRA/QLoRA, outputs >= gradients: gradients not counted */
} vf_peak_rule;

/* Where T came from. */
typedef enum vf_tokens_source {
    VF_TOKENS_MAX_TOKENS,  /* T = max_tokens_per_gpu (SFT/OSFT; batch/seq absent, or the smaller) */
    VF_TOKENS_BATCH,       /* T = batch_size * max_seq_len / G */
} vf_tokens_source;

typedef enum vf_est_bound { VF_BOUND_LOW, VF_BOUND_EXPECTED, VF_BOUND_HIGH } vf_est_bound;

/* All byte figures are per GPU unless named total_*. */
typedef struct vf_est_result {
    vf_method method;
    bool liger;                    /* effective Liger setting after the method default */

    /* Tokens per GPU, exactly T = tokens_num / tokens_den (den is 1 or G; never reduced), and as
     * Training Hub's value: an int for max_tokens_per_gpu, else the float batch*seq/G. */
    uint64_t tokens_num;
    uint64_t tokens_den;
    double tokens_per_gpu;
    vf_tokens_source tokens_source;
    bool max_tokens_ignored;       /* LoRA/QLoRA given max_tokens_per_gpu, which upstream ignores */

    /* Components actually summed, truncated to whole bytes (a dropped or model-bound one is 0). */
    uint64_t parameters, optimizer, gradients, activations, outputs, additional;

    vf_peak_rule peak_rule;
    uint64_t peak_dropped;         /* LoRA/QLoRA: bytes of the component the peak rule left out */

    /* QLoRA bottleneck: model_bound when the LoRA subtotal is below P (the unquantized model at
     * 1 byte/param) and the checkpoint is not stored 4-bit (vf_est_model.stored_4bit); the estimate
     * is then P/G and every component but `parameters` is 0.
     * unbound_subtotal is the LoRA-rule subtotal before this test (== subtotal when not bound). */
    bool model_bound;
    uint64_t unbound_subtotal;

    double subtotal_f;             /* Training Hub's float subtotal, unrounded */
    uint64_t subtotal;             /* subtotal_f truncated */
    double mult_low, mult_expected, mult_high; /* the method's multipliers (e.g. 1.0 / 1.1 / 1.3) */
    uint64_t low, expected, high;  /* (uint64_t)(mult * subtotal_f): exactly Training Hub's ints */
    uint64_t overhead;             /* high - subtotal ("up to ... overhead") */

    /* Decision against M = gpu_memory, and extra bytes per GPU needed to reach each bound:
     * need_x = x - M when x > M, else 0. */
    vf_verdict verdict;
    uint64_t need_low, need_expected, need_high;

    /* Per-GPU bounds x G (what Training Hub prints as "expected amount ... about"). */
    uint64_t total_low, total_expected, total_high;

    /* Training Hub's float values (what its verbose printout rounds): the summed components (a
     * dropped or model-bound one is 0.0), the component the peak rule left out as it was before
     * being dropped (the "peak memory allocation of the ... tensors" note), and high - subtotal_f. */
    double parameters_f, optimizer_f, gradients_f, activations_f, outputs_f, additional_f;
    double peak_dropped_f;
    double overhead_f;
} vf_est_result;

/* ---- estimate -------------------------------------------------------------------------------- */

/* Fills *out (zeroed first) and returns VF_OK, or returns a negative vf_status and fills *err:
 *  VF_ERR_USAGE    NULL pointer; wrong version; method/liger out of range; gpus 0; gpu_memory 0;
 *                  lora_r 0; ratio not in (0, 1]; parameters 0; OSFT with osft_params 0;
 *                  LoRA/QLoRA with no adapter parameters (lora_dim_sum and override both 0);
 *                  SFT/OSFT with neither max_tokens_per_gpu nor (batch_size and max_seq_len);
 *                  LoRA/QLoRA without both batch_size and max_seq_len.
 *                  With compat VF_COMPAT_TRAINING_HUB only upstream's own checks apply instead of the
 *                  lora_r / ratio / target ones (COMPATIBILITY MODES), with upstream's ValueError
 *                  messages, e.g. "Ratio must be in the range [0, 1]".
 *  VF_ERR_OVERFLOW an integer intermediate beyond VF_EST_EXACT_MAX, or a total beyond 64 bits.
 * Tokens per GPU (formulas.md, Training Hub _resolve_tokens_per_gpu):
 *  SFT/OSFT: max_tokens_per_gpu alone -> it; batch_size and max_seq_len both given (and no
 *  max_tokens_per_gpu) -> batch*seq/G; all three -> the smaller (a tie takes max_tokens_per_gpu);
 *  only one of batch/seq plus max_tokens_per_gpu -> max_tokens_per_gpu; otherwise an error.
 *  LoRA/QLoRA: batch*seq/G, both required; max_tokens_per_gpu is ignored (max_tokens_ignored). */
int vf_estimate(const vf_est_model *m, const vf_est_setup *s, vf_est_result *out, vf_error *err);

/* ---- from headers to estimate ---------------------------------------------------------------- */

/* Fills *out with the exact facts of m: P (buffers excluded; logical for a quantized checkpoint),
 * L, H, V, stored_4bit and, for LoRA/QLoRA/OSFT, the
 * adapter counts (lora_dim_sum, osft_params) of `target` (NULL: the family detected from the tensor
 * names) via vf_adapter_estimator_input (vf_adapters.h). lora_r only sizes the adapter report; the
 * estimator takes r from the setup. Errors as vf_adapter_estimator_input (VF_ERR_USAGE for a target
 * matching nothing). */
int vf_est_model_from(const vf_model *m, vf_method method, const vf_target_spec *target, uint32_t lora_r,
                      vf_est_model *out, vf_error *err);

/* Training Hub's model facts (memory_estimator.py at 04ec040, loading through the headless
 * transformers.AutoModel): as vf_est_model_from, but P and osft_params leave out an untied output
 * head (AutoModel has none), and the LoRA/OSFT targets are the patterns of the family upstream's
 * _find_valid_layers picks from the model_path STRING (vf_th_path_family), not from the tensor names.
 * model_path is the string vf_th_model_path returns. *lm_head_params (may be NULL)
 * receives the numel left out (0 for tied or absent heads). */
int vf_est_model_training_hub(const vf_model *m, const char *model_path, vf_method method,
                              uint32_t lora_r, vf_est_model *out, uint64_t *lm_head_params,
                              vf_error *err);

/* The numel of m's separately stored (untied) output head, 0 when tied or absent: what Training
 * Hub's headless AutoModel leaves out of P (the *lm_head_params of vf_est_model_training_hub). */
uint64_t vf_th_untied_head_params(const vf_model *m);

/* The model_path string Training Hub would have been given for m opened from `path`: the Hugging
 * Face id when m came from the cache (vf_checkpoint_repo_id, also recorded in snapshots), else `path`
 * as the user typed it (never a resolved cache directory), except for a .vfsnap header snapshot of a
 * directory, where it is the checkpoint directory the snapshot recorded. */
const char *vf_th_model_path(const vf_model *m, const char *path);

/* Training Hub's family rule (_find_valid_layers): 'phi-3' in the lower-cased path -> phi3; else the
 * first key of mini_trainer's MODEL_CONFIGS, in dict order, contained in the path; else 'default'.
 * Returns the vramfit family name with the same patterns (vf_family_by_name accepts it) and sets
 * *key (may be NULL) to the matched key, or NULL when nothing matched. path NULL -> "default". */
const char *vf_th_path_family(const char *path, const char **key);

/* Training Hub's estimate() takes no target selection: under VF_COMPAT_TRAINING_HUB the LoRA/OSFT
 * targets are the patterns of the path rule's family (vf_th_path_family). VF_OK when `target` (may
 * be NULL) names no modules, regex or exclusion of its own; else VF_ERR_USAGE whose message names
 * the first that it does with the CLI's option name (--target, --target-regex, --exclude). */
int vf_th_check_targets(const vf_target_spec *target, vf_error *err);

/* vf_th_path_family as a whole vf_family: the family of model_path with its reason ("'granite'
 * occurs in the path string", or "no known name in the path string"); returns the matched key, or
 * NULL when none matched (the default family). */
const char *vf_th_family(const char *model_path, vf_family *out);

/* Opens PATH (as vf_model_open), derives the model facts (vf_est_model_from with the family
 * detected from the tensor names, or vf_est_model_training_hub with PATH as the model_path string
 * when s->compat is VF_COMPAT_TRAINING_HUB) and runs vf_estimate with setup s: what Training Hub's
 * estimate() does, from headers only. opts may be NULL. */
int vf_estimate_checkpoint(const char *path, const vf_open_options *opts, const vf_est_setup *s,
                           vf_est_result *out, vf_error *err);

/* ---- planning helpers (vramfit plan) --------------------------------------------------------- *
 * Each searches for the extreme value of one knob such that the chosen bound (normally
 * VF_BOUND_EXPECTED) stays within budget = floor(margin * gpu_memory), margin finite in (0, 1]
 * (margin 1 gives exactly gpu_memory). The search evaluates vf_estimate's own arithmetic, so the
 * answer is exact with respect to it: the returned value fits and the next value does not. Every
 * bound is monotone in each knob (all components are non-decreasing in T, r and u and non-increasing
 * in G, the LoRA larger-of and QLoRA bottleneck rules keep that, and IEEE-754 operations are
 * monotone), which is what makes the bisections valid. The setup must itself be valid for
 * vf_estimate apart from the knob being searched; errors are as for vf_estimate. */

/* Largest integer T (tokens per GPU) that fits, 0 when not even T = 1 does. When even the largest T
 * the estimator can evaluate (T*4*L*H and T*4*V <= VF_EST_EXACT_MAX) fits: UINT64_MAX if the bound
 * does not grow with T at all (e.g. L*H = 0 with Liger on), else that largest T.
 * T replaces the setup's token fields: SFT/OSFT as max_tokens_per_gpu alone; LoRA/QLoRA as
 * batch_size*max_seq_len/G = T (choose batch_size*max_seq_len <= T*G). */
int vf_est_max_tokens(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                      double margin, uint64_t *tokens, vf_error *err);

/* Smallest G in [1, max_gpus] that fits (other fields of s unchanged; batch*seq/G follows G), 0 when
 * even max_gpus does not. max_gpus >= 1. */
int vf_est_min_gpus(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound, double margin,
                    uint32_t max_gpus, uint32_t *gpus, vf_error *err);

/* LoRA/QLoRA only, and not with lora_params_override (the rank would not matter): largest r in
 * [1, max_rank] that fits, 0 when r = 1 does not. max_rank >= 1. */
int vf_est_max_lora_rank(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                         double margin, uint32_t max_rank, uint32_t *rank, vf_error *err);

/* OSFT only: largest ratio on the 0.01 grid, u = k / 100.0 for k in 1..100 (the same double as the
 * literal "0.37" etc.), that fits; 0.0 when 0.01 does not. */
int vf_est_max_unfreeze_ratio(const vf_est_model *m, const vf_est_setup *s, vf_est_bound bound,
                              double margin, double *ratio, vf_error *err);

#ifdef __cplusplus
}
#endif
#endif
