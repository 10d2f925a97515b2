/* vf_est_cli.h - what `vramfit estimate` and `vramfit plan` share: the training-setup options, the
 * GPU resolution (--gpus, --gpu-memory, --gpu NAME|auto), the model facts read from the headers
 * (with `--compat training-hub`), the target selection for LoRA/OSFT and the notes explaining where
 * vramfit's exact figures differ from Training Hub's.
 *
 * Option ids live in [2000, 2100) so that they never clash with a command's own or the shared ones. */
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

/* The setup rows of an option table (with their --help text; column 24), ending with --revision
 * and --hf-cache. */
#define VF_EST_SETUP_OPTS                                                                           \
    VF_OPT_COLUMN(24), VF_OPT_TEXT("hardware (one of --gpu and --gpu-memory is required):"),        \
    {"gpus", 0, "N", VF_EOPT_GPUS, "number of GPUs (default 1, or the count --gpu auto finds)"},    \
    {"gpu-memory", 0, "SIZE", VF_EOPT_GPU_MEMORY,                                                   \
     "memory per GPU with its unit: 48GiB, 80GB, 81920MiB, 1.5TiB, 7B;\n"                           \
     "GB/MB/KB/TB are powers of 1000 (80GB = 80,000,000,000 bytes),\n"                              \
     "GiB/MiB/KiB/TiB powers of 1024 (48GiB = 51,539,607,552 bytes)"},                              \
    {"gpu", 0, "NAME", VF_EOPT_GPU,                                                                 \
     "a built-in accelerator (see the table below), or 'auto': ask\n"                               \
     "`nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`\n"                   \
     "(first nvidia-smi on PATH; MiB as the driver reports; the smallest GPU\n"                     \
     "when they differ; --gpus defaults to the number of GPUs found; only\n"                        \
     "those CUDA_VISIBLE_DEVICES leaves visible); when it is absent, fails or\n"                    \
     "lists none: `rocm-smi --showproductname --showmeminfo vram --showuniqueid\n"                  \
     "--json` (VRAM Total Memory in bytes; ROCR_VISIBLE_DEVICES, then\n"                            \
     "HIP_VISIBLE_DEVICES or else CUDA_VISIBLE_DEVICES among those it leaves:\n"                    \
     "indices or GPU-<16 hex> UUIDs). Each tool: 10 s at most\n"                                    \
     "(VRAMFIT_GPU_PROBE_TIMEOUT seconds), 64 KiB of output, no shell",                             \
     VF_VALUES_GPU, "auto"},                                                                        \
    VF_OPT_TEXT("training setup (Training Hub's parameters):"),                                     \
    {"max-tokens-per-gpu", 0, "T", VF_EOPT_MAX_TOKENS, "tokens per GPU per step (SFT, OSFT)"},      \
    {"batch-size", 0, "B", VF_EOPT_BATCH,                                                           \
     "samples per step; with --max-seq-len S gives B x S / GPUs tokens per"},                       \
    {"max-seq-len", 0, "S", VF_EOPT_SEQ,                                                            \
     "GPU (required by LoRA/QLoRA; SFT/OSFT take the smaller of the two)"},                         \
    {"lora-r", 0, "R", VF_EOPT_LORA_R, "LoRA rank (default 32)"},                                   \
    {"unfreeze-rank-ratio", 0, "U", VF_EOPT_RATIO,                                                  \
     "OSFT fraction of each matrix's rank that is trained, in (0, 1]\n(default 0.25)"},             \
    VF_OPT_TEXT("  --liger, --no-liger   Liger kernels (no stored outputs); default on for OSFT, off otherwise"), \
    {"liger", 0, NULL, VF_EOPT_LIGER, NULL}, {"no-liger", 0, NULL, VF_EOPT_NO_LIGER, NULL},        \
    VF_OPT_TEXT("targets of LoRA and OSFT (default: the family detected from the tensor names):"),  \
    {"target", 0, "LIST", VF_EOPT_TARGET,                                                           \
     "comma-separated module names or suffixes (PEFT target_modules), or\n'all-linear'",            \
     VF_VALUES_LIST, "all-linear"},                                                                 \
    {"target-regex", 0, "RE", VF_EOPT_TARGET_REGEX, "Python-dialect regex full-matched against module names"}, \
    {"exclude", 0, "LIST", VF_EOPT_EXCLUDE, "modules removed from the selection"},                  \
    VF_OPT_TEXT("comparison:"),                                                                     \
    {"compat", 0, "training-hub", VF_EOPT_COMPAT,                                                   \
     "reproduce Training Hub's own numbers: P leaves out an untied lm_head\n"                       \
     "(its headless AutoModel does), the target family is picked from the\n"                        \
     "PATH string as given by upstream's substring rule; rules of Training\n"                       \
     "Hub's main (04ec040): OSFT --no-liger adds outputs 4 x T x V x 7/3",                          \
     VF_VALUES_LIST, "training-hub"},                                                               \
    VF_OPEN_OPTS

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

/* The built-in GPU `name` into *out: VF_EXIT_OK, or VF_EXIT_USAGE after "unknown --gpu 'X'" with
 * the closest name or alias ("did you mean"), for every command that takes --gpu NAME. */
int vf_cli_find_gpu(const char *cmd, const char *name, const vf_gpu_model **out);

/* What the options allow together, after parsing: --compat training-hub refuses every target
 * option, as Training Hub would (vf_th_check_targets). VF_CLI_CONTINUE, or VF_EXIT_USAGE after the
 * message. */
int vf_est_opts_check(const vf_est_opts *o);

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
    const char *th_path;       /* the model_path string Training Hub would see (vf_th_model_path) */
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
