/* vf_est_cli.h - what `vramfit estimate` and `vramfit plan` share: the training-setup options, the
 * GPU resolution (--gpus, --gpu-memory, --gpu NAME|auto), the model facts read from the headers
 * (with `--compat training-hub`), the target selection for LoRA/OSFT and the notes explaining where
 * vramfit's exact figures differ from Training Hub's.
 *
 * Option ids live in [2000, 2100) so that they never clash with a command's own or VF_COMMON_OPTS. */
#ifndef VF_EST_CLI_H
#define VF_EST_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_cli.h"
#include "vf_gpus.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_estimator.h"

enum {
    VF_EOPT_GPUS = 2000,
    VF_EOPT_GPU,
    VF_EOPT_GPU_MEMORY,
    VF_EOPT_MAX_TOKENS,
    VF_EOPT_BATCH,
    VF_EOPT_SEQ,
    VF_EOPT_LORA_R,
    VF_EOPT_RATIO,
    VF_EOPT_LIGER,
    VF_EOPT_NO_LIGER,
    VF_EOPT_TARGET,
    VF_EOPT_TARGET_REGEX,
    VF_EOPT_EXCLUDE,
    VF_EOPT_COMPAT,
};

/* The setup options, for a command's vf_opt table. */
#define VF_EST_SETUP_OPTS                                                                           \
    {"gpus", 0, true, VF_EOPT_GPUS}, {"gpu", 0, true, VF_EOPT_GPU},                                 \
        {"gpu-memory", 0, true, VF_EOPT_GPU_MEMORY},                                                \
        {"max-tokens-per-gpu", 0, true, VF_EOPT_MAX_TOKENS},                                        \
        {"batch-size", 0, true, VF_EOPT_BATCH}, {"max-seq-len", 0, true, VF_EOPT_SEQ},              \
        {"lora-r", 0, true, VF_EOPT_LORA_R}, {"unfreeze-rank-ratio", 0, true, VF_EOPT_RATIO},       \
        {"liger", 0, false, VF_EOPT_LIGER}, {"no-liger", 0, false, VF_EOPT_NO_LIGER},               \
        {"target", 0, true, VF_EOPT_TARGET}, {"target-regex", 0, true, VF_EOPT_TARGET_REGEX},       \
        {"exclude", 0, true, VF_EOPT_EXCLUDE}, {"compat", 0, true, VF_EOPT_COMPAT}

/* The --help text of the options above (shared wording), ending with a newline. */
extern const char vf_est_setup_help[];

/* ---- options ------------------------------------------------------------------------------------ */
typedef struct vf_est_opts {
    const char *cmd;          /* "estimate" or "plan", for messages */
    const char *path;         /* PATH as the user gave it */
    vf_open_options open;     /* --revision, --hf-cache */
    vf_target_spec target;    /* --target, --target-regex, --exclude */
    const char *gpu;          /* --gpu NAME|auto, NULL when not given */
    uint64_t gpu_memory;      /* --gpu-memory in bytes, 0 when not given */
    uint32_t gpus;            /* --gpus, 0 when not given */
    uint64_t max_tokens;      /* --max-tokens-per-gpu, 0 when not given */
    uint64_t batch, seq;      /* --batch-size, --max-seq-len, 0 when not given */
    uint32_t lora_r;          /* --lora-r, default 32 */
    double ratio;             /* --unfreeze-rank-ratio, default 0.25 */
    int liger;                /* -1 method default, 0 --no-liger, 1 --liger */
    bool compat;              /* --compat training-hub */
} vf_est_opts;

void vf_est_opts_init(vf_est_opts *o, const char *cmd);

/* Stores option `id` with value `val`. Returns 1 when stored, 0 when id is not a setup option, -1 on
 * a bad value (the message is already on stderr; exit with VF_EXIT_USAGE). */
int vf_est_opt(vf_est_opts *o, int id, const char *val);

/* True when --target, --target-regex or --exclude was given. */
bool vf_est_opts_has_target(const vf_est_opts *o);

/* ---- notes -------------------------------------------------------------------------------------- */
#define VF_NOTES_MAX 24
#define VF_NOTE_LEN 480
typedef struct vf_notes {
    size_t n;
    char text[VF_NOTES_MAX][VF_NOTE_LEN];
} vf_notes;

void vf_notes_add(vf_notes *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- hardware ----------------------------------------------------------------------------------- */
typedef struct vf_est_hw {
    uint32_t gpus;             /* G */
    uint64_t gpu_memory;       /* M, bytes per GPU */
    char label[VF_GPU_NAME_MAX + 64]; /* "L40S", "NVIDIA L40S (nvidia-smi)", "" for --gpu-memory */
} vf_est_hw;

/* Resolves G and M from --gpus / --gpu-memory / --gpu NAME|auto; adds notes (e.g. mixed GPUs).
 * Exactly one of --gpu and --gpu-memory is required; G defaults to 1, or to the count found by
 * --gpu auto. Returns VF_EXIT_OK, or an exit code after printing one line on stderr: VF_EXIT_USAGE
 * (missing/conflicting/unknown), VF_EXIT_IO (--gpu auto: nvidia-smi absent or failing). */
int vf_est_resolve_hw(const vf_est_opts *o, vf_est_hw *hw, vf_notes *notes);

/* ---- model facts -------------------------------------------------------------------------------- */
typedef struct vf_est_ctx {
    const vf_est_opts *opts;
    vf_model *model;
    const char *display_path;  /* vf_checkpoint_name: ORG/NAME@REVISION or the directory's base name
                                  (a snapshot stores it), shown in reports */
    vf_est_model base;         /* P, L, H, V; P without an untied lm_head under compat */
    uint64_t lm_head_params;   /* numel of a separately stored (untied) output head, else 0 */
    const char *path_key;      /* Training Hub's path-rule match ("granite", "phi-3", ...), or NULL */
    vf_family path_family;     /* the family that rule picks (default when path_key is NULL) */
    bool adapters_done;
    int adapters_rc;
    vf_error adapters_err;
    vf_adapter_input adapters;
    vf_notes notes;            /* model-level notes */
} vf_est_ctx;

/* Opens o->path and fills the model facts and model-level notes. On failure err is filled and the
 * context is left closed. */
int vf_est_ctx_open(vf_est_ctx *c, const vf_est_opts *o, vf_error *err);
void vf_est_ctx_close(vf_est_ctx *c); /* safe on a zeroed or closed context */

/* Model facts for `method` (LoRA/QLoRA/OSFT add the target selection, computed once). On failure
 * (e.g. --target matching nothing) err is filled. target_notes (may be NULL) receives the target
 * notes for that method. */
int vf_est_ctx_model(vf_est_ctx *c, vf_method method, vf_est_model *out, vf_notes *target_notes,
                     vf_error *err);

/* The vf_est_setup for `method` from the options and hardware (compat forces Liger on for OSFT). */
void vf_est_setup_for(const vf_est_opts *o, const vf_est_hw *hw, vf_method method, vf_est_setup *s);

/* Checks that the token options suit `method`, worded with option names; false with msg filled. */
bool vf_est_tokens_ok(const vf_est_opts *o, vf_method method, char *msg, size_t n);

/* Notes that explain a result: tokens, QLoRA bottleneck, Liger, ignored options; the peak rule too
 * when `json` (the human report has a line of its own for it). */
void vf_est_result_notes(const vf_est_opts *o, const vf_est_setup *s, const vf_est_result *r,
                         const vf_est_model *m, bool json, vf_notes *notes);

/* Training Hub's method label: "SFT", "OSFT", "LoRA", "QLoRA". */
const char *vf_est_method_label(vf_method m);

#endif
