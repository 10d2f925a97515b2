/* vf_adapters.h - exact adapter sizes, matrix by matrix: LoRA and OSFT plans over a checkpoint's
 * tensor table, the Training Hub target families, PEFT adapter_config.json and the audit of a PEFT
 * adapter directory against its base checkpoint.
 *
 * Part of layer 3 (estimator) of vramfit, built on vf_tensors.h. Nothing here reads weights, prints
 * or keeps global state. Every fallible function returns VF_OK or a negative vf_status and fills a
 * caller-owned vf_error; every handle has a NULL-safe free; all counts are 64-bit and overflow-checked
 * (VF_ERR_OVERFLOW rather than a wrapped number).
 *
 * Vocabulary.
 *  - A module name is a weight's tensor name without its leaf: `model.layers.3.self_attn.q_proj` for
 *    `model.layers.3.self_attn.q_proj.weight`. A fused 3-D expert tensor stored without a leaf
 *    (`mlp.experts.gate_up_proj`, shape [E, out, in]) is its own module name.
 *  - PEFT matching (target lists, exclude lists, modules_to_save): an entry X matches a module M when
 *    M == X or M ends with "." X. A regex (Python `re` dialect, through PCRE2) must match the whole
 *    module name (re.fullmatch). rank_pattern keys match like PEFT's get_pattern_key: `^(.*\.)?(KEY)$`.
 *  - Matching sees `module_prefix` + module name, because PEFT matches the names inside the model class
 *    (`transformer.h.0.attn.c_attn` in GPT2LMHeadModel) while a checkpoint may store `h.0.attn.c_attn`.
 *  - Training Hub families match a 2-D tensor whose name contains "weight" and contains one of the
 *    family's patterns as a plain substring (shared/reference/target-families.md).
 *  - LoRA on a linear `d_out x d_in` (nn.Linear stores [out, in]; GPT-2's Conv1D stores [in, out]):
 *    A is r x d_in, B is d_out x r, r*(d_in+d_out) parameters; DoRA adds a magnitude vector of d_out.
 *    On an embedding [num_embeddings, dim]: A is r x num_embeddings, B is dim x r.
 *  - OSFT on a stored `m x n` matrix, R = min(m, n): U m x R, S R, V R x n. The trainer freezes
 *    k = floor(R * (1 - u)) directions (double precision, capped at R - 1) and trains R - k. */
#ifndef VRAMFIT_VF_ADAPTERS_H
#define VRAMFIT_VF_ADAPTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_error.h"
#include "vf_parser.h"
#include "vf_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Training Hub target families ------------------------------------------------------------- */

#define VF_FAMILY_REASON_MAX 384

typedef struct vf_family {
    const char *name;            /* one of vf_family_name_at's; static storage */
    const char *const *patterns; /* NULL-terminated substring patterns; static storage */
    char reason[VF_FAMILY_REASON_MAX]; /* why: the tensor name(s) that decided, one line */
} vf_family;

/* Picks the family from the tensor names present in m (never from a path string): fused
 * `self_attn.qkv_proj` / `mlp.gate_up_proj` -> phi3, `attn.c_attn` -> gpt2, `attn.attention.q_proj`
 * -> gpt-neo, `attn.q_proj` + `mlp.fc_in` -> gpt-j, `self_attn.out_proj` + `fc1` -> opt,
 * `linear_attn.out_proj` -> qwen3.5, attention sinks or a router with fused experts -> gpt-oss,
 * `self_attn.q_proj` -> llama (Llama, Mistral, Qwen, Gemma, Granite), else default. Cannot fail. */
void vf_family_detect(const vf_model *m, vf_family *out);

/* The families by name, the one list of them (the CLI's --family, its help and the completions read
 * it): the i-th name, NULL past the last. */
const char *vf_family_name_at(size_t i);
/* The names joined by ", " ("llama, phi3, ..., default") into buf of size n; returns buf. */
const char *vf_family_list(char *buf, size_t n);

/* Looks a family up by name (as in vf_family.name); false when unknown. reason says "chosen by name". */
bool vf_family_by_name(const char *name, vf_family *out);

/* ---- PEFT name matching ----------------------------------------------------------------------- */

/* PEFT's list rule: module == entry or module ends with "." entry. */
bool vf_peft_match(const char *module, const char *entry);
/* True when an entry of the comma-separated list matches module (empty entries never match). */
bool vf_peft_list_match(const char *module, const char *list);

/* A compiled Python-dialect regular expression over names (PCRE2, see estimator/vf_regex.c), as
 * PEFT applies them: suffix = false: re.fullmatch(PATTERN, name) (target_modules given as a
 * string); suffix = true: re.match(r"(.*\.)?(PATTERN)$", name) (rank_pattern / alpha_pattern keys).
 * A pattern longer than 1024 bytes or that does not compile is VF_ERR_USAGE with the character
 * position. vf_name_regex_match returns 1 (match) or 0, or VF_ERR_UNSUPPORTED when the match exceeds
 * its budget (backtracking steps, depth, heap: a pattern built for catastrophic backtracking).
 * A regex keeps its match state between calls: use one from one thread at a time. */
typedef struct vf_name_regex vf_name_regex;
int vf_name_regex_new(const char *pattern, bool suffix, vf_name_regex **out, vf_error *err);
int vf_name_regex_match(const vf_name_regex *re, const char *name, vf_error *err);
void vf_name_regex_free(vf_name_regex *re); /* NULL is a no-op */

/* ---- target selection ------------------------------------------------------------------------- */

typedef struct vf_target_spec {
    const char *modules;       /* comma-separated PEFT entries, or "all-linear"; NULL: the family */
    const char *regex;         /* Python-dialect regex full-matched against module names; excludes `modules` */
    const char *exclude;       /* comma-separated PEFT entries removed from the selection; NULL none */
    const char *exclude_regex; /* regex (same dialect) full match removed from the selection; NULL none */
    const char *module_prefix; /* prepended to module names before matching; NULL means "" */
    const char *family;        /* family name to use instead of detection when modules/regex are NULL */
    bool allow_unmatched;      /* false: an entry matching nothing is VF_ERR_USAGE naming close
                                  candidates; true: it becomes a finding (PEFT itself only requires
                                  that something matched) */
} vf_target_spec;

/* ---- plans ------------------------------------------------------------------------------------ */

typedef enum vf_adapter_method { VF_ADAPTER_LORA, VF_ADAPTER_OSFT } vf_adapter_method;

/* PEFT's `bias`: which base biases become trainable. */
typedef enum vf_lora_bias { VF_LORA_BIAS_NONE, VF_LORA_BIAS_ALL, VF_LORA_BIAS_LORA_ONLY } vf_lora_bias;

/* "none", "all", "lora_only"; NULL outside the enum. */
const char *vf_lora_bias_name(vf_lora_bias b);
/* Exact inverse of vf_lora_bias_name; false when unknown. */
bool vf_lora_bias_from_name(const char *s, vf_lora_bias *out);

/* The dtypes adapter parameters may take (PEFT's autocast_adapter_dtype keeps F32; BF16, F16):
 * true for F32, BF16 and F16. */
bool vf_adapter_dtype_supported(vf_dtype d);
/* "F32", "BF16" or "F16" ignoring case into *out; false for any other name. */
bool vf_adapter_dtype_from_name(const char *name, vf_dtype *out);

/* One rank_pattern entry: modules matching `pattern` get `rank` instead of the default. */
typedef struct vf_rank_rule {
    const char *pattern;
    uint64_t rank;
} vf_rank_rule;

/* Parses the CLI form 'REGEX=R,REGEX=R' into rules. An entry ends at "=<digits>" followed by ',' or
 * the end, so a regex may itself hold ',' or '='. *rules and the pattern strings live in one block
 * freed with free(*rules). R must be >= 1. */
int vf_rank_rules_parse(const char *s, vf_rank_rule **rules, size_t *count, vf_error *err);

#define VF_ADAPTER_OPTIONS_VERSION 1u
#define VF_ADAPTER_RANK_MAX (UINT64_C(1) << 32)

typedef struct vf_adapter_options {
    unsigned version;            /* VF_ADAPTER_OPTIONS_VERSION */
    vf_adapter_method method;
    vf_target_spec target;
    uint64_t rank;               /* LoRA r, 1..VF_ADAPTER_RANK_MAX (default 32, Training Hub's) */
    const vf_rank_rule *rank_rules; /* per-module overrides, first match wins; may be NULL */
    size_t rank_rule_count;
    bool use_dora;               /* LoRA: magnitude vector of d_out per matrix */
    vf_lora_bias bias;           /* LoRA: PEFT `bias` */
    const char *modules_to_save; /* LoRA: comma-separated PEFT entries copied whole and trained */
    bool modules_only;           /* skip 3-D fused expert tensors (PEFT target_modules wraps modules) */
    vf_dtype adapter_dtype;      /* bytes of adapter matrices: F32 (default), BF16 or F16 */
    double unfreeze_rank_ratio;  /* OSFT u in (0, 1], default 0.25 */
} vf_adapter_options;

#define VF_ADAPTER_OPTIONS_INIT                                                                     \
    {                                                                                               \
        VF_ADAPTER_OPTIONS_VERSION, VF_ADAPTER_LORA, {NULL, NULL, NULL, NULL, NULL, NULL, false},   \
            32u, NULL, 0u, false, VF_LORA_BIAS_NONE, NULL, false, VF_DTYPE_F32, 0.25                \
    }

typedef enum vf_adapter_kind {
    VF_ADAPTER_KIND_LORA,       /* LoRA on a linear weight (one expert of a fused tensor included) */
    VF_ADAPTER_KIND_LORA_EMBED, /* LoRA on an embedding */
    VF_ADAPTER_KIND_OSFT,       /* SVD of a target matrix */
    VF_ADAPTER_KIND_SAVED,      /* modules_to_save: a full trainable copy of a base tensor */
    VF_ADAPTER_KIND_BIAS,       /* a base bias made trainable by bias=all|lora_only */
} vf_adapter_kind;

/* "lora", "lora_embedding", "osft", "modules_to_save", "bias"; "?" outside the enum. */
const char *vf_adapter_kind_name(vf_adapter_kind k);
/* True for a matrix the method adapts (LoRA, LoRA on an embedding, OSFT); false for a trainable copy
 * (modules_to_save) or a trainable bias. */
bool vf_adapter_kind_is_target(vf_adapter_kind k);

typedef struct vf_adapter_matrix {
    vf_adapter_kind kind;
    const vf_tensor *tensor; /* the base tensor (borrowed from the model) */
    const char *module;      /* module name without prefix (owned by the plan) */
    int32_t layer;           /* transformer block or -1 */
    int32_t expert;          /* expert index (separate or fused experts) or -1 */
    uint64_t rows, cols;     /* the matrix as stored (one expert's [out, in] for a fused tensor) */
    uint64_t in, out;        /* true input/output features (Conv1D: rows are inputs); embeddings:
                                in = num_embeddings, out = dim; saved/bias: 0 */
    bool conv1d;             /* GPT-2 Conv1D weight stored [in, out] */
    uint64_t rank;           /* LoRA r after rank rules; OSFT R = min(rows, cols); else 0 */
    uint64_t magnitude;      /* DoRA magnitude elements (out), else 0 */
    uint64_t params;         /* LoRA r*(in+out)+magnitude; OSFT rows*R+R+R*cols; saved/bias numel */
    uint64_t bytes;          /* LoRA/OSFT: params in the adapter dtype; saved/bias: stored bytes */
    uint64_t frozen_rank;    /* OSFT k */
    uint64_t trainable_rank; /* OSFT R - k */
    uint64_t trainable_params; /* OSFT rows*(R-k) + (R-k) + (R-k)*cols; others = params */
} vf_adapter_matrix;

typedef struct vf_adapter_totals {
    uint64_t matrices;        /* LoRA / OSFT entries (fused experts count E) */
    uint64_t parameters;      /* LoRA A+B+magnitudes, or OSFT U+S+V, over the targets */
    uint64_t lora_dim_sum;    /* LoRA/OSFT targets: sum of (in + out) (OSFT: rows + cols) */
    uint64_t saved;           /* modules_to_save copies */
    uint64_t biases;          /* trainable base biases */
    uint64_t trainable;       /* LoRA: parameters + saved + biases (PEFT's trainable params);
                                 OSFT: trainable U, S, V */
    uint64_t base_parameters; /* the model's parameters, buffers excluded */
    uint64_t all_parameters;  /* PEFT's all params: base + parameters + saved (LoRA);
                                 OSFT: osft_total */
    uint64_t osft_total;      /* OSFT: targets as U+S+V, every other parameter tensor as numel */
    uint64_t bytes;           /* sum of the entries' bytes */
} vf_adapter_totals;

typedef struct vf_adapter_plan vf_adapter_plan;

/* Selects the targets of o->target in m and sizes every entry. Usage errors (VF_ERR_USAGE): bad
 * rank, ratio or dtype, a bad regex, a target or modules_to_save entry that matches nothing (unless
 * allow_unmatched), no target at all. The plan borrows m: free the plan first. */
int vf_adapter_plan_build(const vf_model *m, const vf_adapter_options *o, vf_adapter_plan **out,
                          vf_error *err);
void vf_adapter_plan_free(vf_adapter_plan *p); /* NULL is a no-op */

/* Entries: targets in tensor-table order (per expert for fused tensors), then saved copies, then
 * biases. Borrowed, valid until vf_adapter_plan_free. */
size_t vf_adapter_plan_count(const vf_adapter_plan *p);
const vf_adapter_matrix *vf_adapter_plan_matrix(const vf_adapter_plan *p, size_t i);
const vf_adapter_totals *vf_adapter_plan_totals(const vf_adapter_plan *p);
/* The family detected (or named by target.family) and why; it selects the targets only when
 * target.modules and target.regex are NULL. */
const vf_family *vf_adapter_plan_family(const vf_adapter_plan *p);
/* The target entries in effect: the family's patterns, the --target entries or the regex. */
size_t vf_adapter_plan_target_count(const vf_adapter_plan *p);
const char *vf_adapter_plan_target(const vf_adapter_plan *p, size_t i);
/* Sum of entry params by layer: *count = highest layer + 2, the last slot outside any layer. */
const uint64_t *vf_adapter_plan_layer_params(const vf_adapter_plan *p, size_t *count);
/* Notes: unmatched entries when allowed, tensors a method leaves alone, ... */
const vf_findings *vf_adapter_plan_findings(const vf_adapter_plan *p);

/* ---- input for the memory estimator ----------------------------------------------------------- */

typedef struct vf_adapter_input {
    uint64_t lora_params;   /* exact sum of r*(in+out) over LoRA targets */
    uint64_t lora_dim_sum;  /* sum of (in+out) over LoRA targets: lora_params = r * lora_dim_sum */
    uint64_t lora_matrices;
    uint64_t osft_params;   /* sum over all parameter tensors: targets m*k+k+k*n, k = min(m,n);
                               others numel; buffers excluded */
    uint64_t osft_matrices; /* 2-D targets decomposed (3-D fused experts never are) */
    vf_family family;       /* family used (meaningful when target->modules/regex are NULL) */
} vf_adapter_input;

/* Computes what vf_est_model needs for LoRA/QLoRA/OSFT from m, the target selection (NULL: the
 * detected family) and rank r >= 1. */
int vf_adapter_estimator_input(const vf_model *m, const vf_target_spec *target, uint64_t rank,
                               vf_adapter_input *out, vf_error *err);

/* ---- PEFT adapter_config.json ----------------------------------------------------------------- */

#define VF_PEFT_CONFIG_MAX (1u << 20) /* bytes; larger files are rejected */

typedef struct vf_alpha_rule {
    const char *pattern;
    double alpha;
} vf_alpha_rule;

/* The fields vramfit uses, owned by the config. Strings are NULL when absent or null. */
typedef struct vf_peft_config {
    const char *peft_type;        /* "LORA" (required when present) */
    const char *task_type;        /* "CAUSAL_LM", "SEQ_CLS", ... */
    const char *base_model;       /* base_model_name_or_path */
    uint64_t r;                   /* required, 1..VF_ADAPTER_RANK_MAX */
    double lora_alpha;            /* 0 when absent */
    const char *target_modules;   /* list joined with ',' (entries may not contain ','), or NULL */
    const char *target_regex;     /* target_modules given as a string (regex, or "all-linear") */
    const char *exclude_modules;  /* list joined with ',' or NULL */
    const char *exclude_regex;    /* exclude_modules given as a string */
    const vf_rank_rule *rank_pattern;
    size_t rank_pattern_count;
    const vf_alpha_rule *alpha_pattern;
    size_t alpha_pattern_count;
    bool use_dora, use_rslora, fan_in_fan_out;
    vf_lora_bias bias;
    const char *modules_to_save;  /* list joined with ',' or NULL */
} vf_peft_config;

/* Parses adapter_config.json from (buf, len) - the fuzzing entry point. Hostile input: at most
 * VF_PEFT_CONFIG_MAX bytes, a JSON object, case-sensitive keys, no duplicate keys, numbers exact
 * non-negative integers where counts are expected. `file` names the file in errors (key in
 * err->tensor). Unsupported settings (peft_type other than LORA, layers_to_transform,
 * target_parameters, layer_replication) are VF_ERR_UNSUPPORTED. */
int vf_peft_config_parse(const uint8_t *buf, size_t len, const char *file, vf_peft_config **out,
                         vf_error *err);
void vf_peft_config_free(vf_peft_config *c); /* NULL is a no-op */
/* The config's regexes as parsing compiled them (owned by the config; one thread at a time, see
 * vf_name_regex): target_modules given as a regex other than "all-linear" (else NULL),
 * exclude_modules given as a regex (else NULL), and rank_pattern[i] (NULL when i is out of range). */
const vf_name_regex *vf_peft_config_target_regex(const vf_peft_config *c);
const vf_name_regex *vf_peft_config_exclude_regex(const vf_peft_config *c);
const vf_name_regex *vf_peft_config_rank_regex(const vf_peft_config *c, size_t i);

/* ---- audit of a PEFT adapter directory -------------------------------------------------------- */

typedef enum vf_audit_kind {
    VF_AUDIT_LORA,       /* lora_A / lora_B pair */
    VF_AUDIT_LORA_EMBED, /* lora_embedding_A / lora_embedding_B pair */
    VF_AUDIT_MAGNITUDE,  /* DoRA lora_magnitude_vector */
    VF_AUDIT_SAVED,      /* a full module copy (modules_to_save, or a task head PEFT adds) */
    VF_AUDIT_BIAS,       /* a trained bias (bias=all|lora_only) */
} vf_audit_kind;

/* "lora", "lora_embedding", "dora_magnitude", "modules_to_save", "bias"; "?" outside the enum. */
const char *vf_audit_kind_name(vf_audit_kind k);

typedef struct vf_audit_entry {
    vf_audit_kind kind;
    const char *module;      /* PEFT module path without "base_model.model." */
    int32_t layer;
    const vf_st_tensor *a;   /* lora_A (or the single tensor of other kinds); NULL when missing */
    const vf_st_tensor *b;   /* lora_B; NULL when missing or not a pair */
    uint64_t rank, in, out;  /* from the stored shapes (pairs), else 0 */
    uint64_t params;         /* numel of the stored tensors */
    const char *base;        /* matched base tensor name (with --base), else NULL */
    const char *note;        /* explanation (e.g. the SEQ_CLS head), else NULL */
} vf_audit_entry;

typedef struct vf_audit_diff {
    const char *tensor;  /* stored key, or the expected key when missing */
    const char *message; /* one line */
} vf_audit_diff;

typedef struct vf_audit_totals {
    uint64_t tensors;      /* stored tensors */
    uint64_t lora_params;  /* A and B (and embedding pairs) */
    uint64_t other_params; /* magnitudes, saved copies, biases */
    uint64_t parameters;   /* all stored elements */
    uint64_t bytes;        /* stored bytes */
    uint64_t expected_params; /* with a base: what the prediction stores; else 0 */
} vf_audit_totals;

typedef struct vf_audit vf_audit;

/* Reads ADAPTER_DIR/adapter_config.json and the adapter's safetensors headers, classifies every
 * stored key, checks it against the config and - when base_path is not NULL - against the adapter
 * predicted from the base checkpoint. Differences are results, not errors: VF_OK is returned with
 * vf_audit_diff_count() > 0. opts (NULL allowed) applies to the base. */
/* base_path NULL: the config's base_model_name_or_path when it is a Hub id in the local cache
 * (opts->hf_cache and opts->revision apply); otherwise the config alone, with a finding saying why. */
int vf_audit_run(const char *adapter_dir, const char *base_path, const vf_open_options *opts,
                 vf_audit **out, vf_error *err);
void vf_audit_free(vf_audit *a); /* NULL is a no-op */

const vf_peft_config *vf_audit_config(const vf_audit *a);
size_t vf_audit_entry_count(const vf_audit *a);
const vf_audit_entry *vf_audit_entry_at(const vf_audit *a, size_t i); /* sorted by layer, module */
size_t vf_audit_diff_count(const vf_audit *a);
const vf_audit_diff *vf_audit_diff_at(const vf_audit *a, size_t i);
const vf_audit_totals *vf_audit_get_totals(const vf_audit *a);
const vf_findings *vf_audit_findings(const vf_audit *a); /* explanations and notes */
/* The base's family when a base was given, else NULL. */
const vf_family *vf_audit_family(const vf_audit *a);
/* The adapter's safetensors file name (for messages). */
const char *vf_audit_file(const vf_audit *a);
/* The base's vf_checkpoint_name (ORG/NAME@REVISION or a base name), or NULL without a base. */
const char *vf_audit_base_name(const vf_audit *a);
/* VF_OK when there is no difference; else VF_ERR_MISMATCH with err naming the adapter file, the
 * first differing tensor and the number of differences. */
int vf_audit_verdict(const vf_audit *a, vf_error *err);

#ifdef __cplusplus
}
#endif
#endif
