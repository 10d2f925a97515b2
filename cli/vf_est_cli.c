/* vf_est_cli.c - setup options, hardware, model facts and notes shared by `estimate` and `plan`
 * (see vf_est_cli.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vf_est_cli.h"

/* ---- options ------------------------------------------------------------------------------------ */

void vf_est_opts_init(vf_est_opts *opts, const char *cmd)
{
    memset(opts, 0, sizeof *opts);
    vf_open_options oo = VF_OPEN_OPTIONS_INIT;
    opts->cmd = cmd;
    opts->open = oo;
    opts->lora_r = 32;
    opts->ratio = 0.25;
    opts->liger = -1;
}

/* Parses a positive integer no larger than max into *out; -1 with a message otherwise. */
static int positive(const vf_est_opts *opts, const char *opt, const char *val, uint64_t max,
                    uint64_t *out)
{
    uint64_t v;
    if (!vf_parse_u64(opts->cmd, opt, val, &v))
        return -1;
    if (v == 0 || v > max) {
        vf_usage_error(opts->cmd, "--%s must be between 1 and %llu, got '%s'", opt,
                       (unsigned long long)max, val);
        return -1;
    }
    *out = v;
    return 1;
}

static int opt_size(vf_est_opts *opts, const char *val)
{
    char why[VF_GPU_MSG_MAX];
    if (!vf_parse_size(val, &opts->gpu_memory, why)) {
        vf_usage_error(opts->cmd, "--gpu-memory: %s", why);
        return -1;
    }
    return 1;
}

static int opt_ratio(vf_est_opts *opts, const char *val)
{
    if (!vf_parse_double(opts->cmd, "unfreeze-rank-ratio", val, &opts->ratio))
        return -1;
    if (!(opts->ratio > 0.0 && opts->ratio <= 1.0)) {
        vf_usage_error(opts->cmd, "--unfreeze-rank-ratio must be greater than 0 and at most 1, got '%s'",
                       val);
        return -1;
    }
    return 1;
}

static int opt_compat(vf_est_opts *opts, const char *val)
{
    if (strcasecmp(val, "training-hub") != 0) {
        vf_usage_error(opts->cmd, "--compat accepts only 'training-hub', got '%s'", val);
        return -1;
    }
    opts->compat = true;
    return 1;
}

int vf_est_opt(vf_est_opts *opts, int id, const char *val)
{
    uint64_t v = 0;
    int rc;
    switch (id) {
    case VF_EOPT_GPUS:
        rc = positive(opts, "gpus", val, UINT32_MAX, &v);
        opts->gpus = (uint32_t)v;
        return rc;
    case VF_EOPT_GPU: opts->gpu = val; return 1;
    case VF_EOPT_GPU_MEMORY: return opt_size(opts, val);
    case VF_EOPT_MAX_TOKENS: return positive(opts, "max-tokens-per-gpu", val, VF_EST_EXACT_MAX, &opts->max_tokens);
    case VF_EOPT_BATCH: return positive(opts, "batch-size", val, VF_EST_EXACT_MAX, &opts->batch);
    case VF_EOPT_SEQ: return positive(opts, "max-seq-len", val, VF_EST_EXACT_MAX, &opts->seq);
    case VF_EOPT_LORA_R:
        rc = positive(opts, "lora-r", val, UINT32_MAX, &v);
        opts->lora_r = (uint32_t)v;
        return rc;
    case VF_EOPT_RATIO: return opt_ratio(opts, val);
    case VF_EOPT_LIGER: opts->liger = 1; return 1;
    case VF_EOPT_NO_LIGER: opts->liger = 0; return 1;
    case VF_EOPT_TARGET: opts->target.modules = val; return 1;
    case VF_EOPT_TARGET_REGEX: opts->target.regex = val; return 1;
    case VF_EOPT_EXCLUDE: opts->target.exclude = val; return 1;
    case VF_EOPT_COMPAT: return opt_compat(opts, val);
    default: return 0;
    }
}

int vf_est_opts_check(const vf_est_opts *opts)
{
    vf_error err = {0};
    if (opts->compat && vf_th_check_targets(&opts->target, &err) != VF_OK)
        return vf_usage_error(opts->cmd, "%s", err.message);
    return VF_CLI_CONTINUE;
}

bool vf_est_opts_has_target(const vf_est_opts *opts)
{
    return opts->target.modules || opts->target.regex || opts->target.exclude;
}

/* ---- notes -------------------------------------------------------------------------------------- */

void vf_notes_add(vf_notes *n, const char *fmt, ...)
{
    if (n->n >= VF_NOTES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->text[n->n++], VF_NOTE_LEN, fmt, ap);
    va_end(ap);
}

const char *vf_est_method_label(vf_method m)
{
    static const char *const labels[VF_METHOD_COUNT] = {"SFT", "OSFT", "LoRA", "QLoRA"};
    return (unsigned)m < (unsigned)VF_METHOD_COUNT ? labels[m] : "?";
}

/* ---- hardware ----------------------------------------------------------------------------------- */

/* The note of what the tool reports per GPU. */
static void probe_memory_note(const vf_gpu_probe *p, vf_notes *notes)
{
    char g[32];
    bool amd = strcmp(p->tool, "rocm-smi") == 0;
    vf_notes_add(notes, "--gpu auto: %s lists %u GPU%s; %s %llu %s (%s) per GPU%s", p->tool, (unsigned)p->count,
                 p->count == 1 ? "" : "s", amd ? "VRAM Total Memory" : "memory.total",
                 (unsigned long long)(amd ? p->bytes : p->bytes >> 20), amd ? "bytes" : "MiB", vf_fmt_size(p->bytes, g),
                 p->mixed ? " for the smallest" : "");
}

static int hw_from_probe(const vf_est_opts *opts, vf_est_hw *hw, vf_notes *notes)
{
    vf_gpu_probe p;
    char why[VF_GPU_MSG_MAX], g1[32], g2[32];
    vf_probe_status st = vf_gpu_query_auto(&p, why);
    if (st != VF_PROBE_OK) {
        vf_usage_error(opts->cmd, "%s", why);
        return VF_EXIT_IO;
    }
    hw->gpu_memory = p.bytes;
    hw->gpus = opts->gpus ? opts->gpus : p.count;
    snprintf(hw->label, sizeof hw->label, "%s (%s)", p.name, p.tool);
    probe_memory_note(&p, notes);
    if (p.mixed)
        vf_notes_add(notes, "the GPUs differ in memory (largest %s); the estimate uses the smallest, "
                            "%s, which is what limits a data-parallel run",
                     vf_fmt_size(p.largest, g2), vf_fmt_size(p.bytes, g1));
    if (p.filtered)
        vf_notes_add(notes, "%s leaves %u of the %u GPUs visible (%s)", p.visible, (unsigned)p.count,
                     (unsigned)p.listed, p.order);
    if (opts->gpus && opts->gpus != p.count)
        vf_notes_add(notes, "--gpus %u given; %s found %u on this machine", (unsigned)opts->gpus, p.tool,
                     (unsigned)p.count);
    return VF_EXIT_OK;
}

/* "unknown --gpu 'H10O'" with the table name whose name or alias is closest, or a sample. */
static int unknown_gpu(const char *cmd, const char *gpu)
{
    size_t n, k = 0;
    const vf_gpu_model *t = vf_gpu_table(&n);
    char spelled[256][VF_GPU_NAME_MAX];
    const char *names[256];
    for (size_t i = 0; i < n; i++)
        for (const char *p = t[i].name, *list = t[i].aliases; p && k < 256; p = list, list = NULL)
            for (size_t len; *p && k < 256; p += len + (p[len] == ',')) {
                len = strcspn(p, ",");
                snprintf(spelled[k], VF_GPU_NAME_MAX, "%.*s", (int)len, p);
                names[k] = spelled[k], k++;
            }
    const char *hit = vf_suggest(gpu, names, k);
    const vf_gpu_model *g = hit ? vf_gpu_find(hit) : NULL;
    if (g)
        return vf_usage_error(cmd, "unknown --gpu '%s' (did you mean '%s'? 'vramfit gpus' lists them all, "
                                   "or give --gpu-memory SIZE)", gpu, g->name);
    return vf_usage_error(cmd, "unknown --gpu '%s' (known: A100-40GB, A100-80GB, H100-80GB, "
                               "H200, B200, L40S, L4, A10G, RTX-4090, MI300X, Gaudi3, ...; see 'vramfit gpus', "
                               "or give --gpu-memory SIZE)", gpu);
}

int vf_cli_find_gpu(const char *cmd, const char *name, const vf_gpu_model **out)
{
    *out = vf_gpu_find(name);
    return *out ? VF_EXIT_OK : unknown_gpu(cmd, name);
}

int vf_est_resolve_hw(const vf_est_opts *opts, vf_est_hw *hw, vf_notes *notes)
{
    memset(hw, 0, sizeof *hw);
    if (opts->gpu && opts->gpu_memory)
        return vf_usage_error(opts->cmd, "give either --gpu or --gpu-memory, not both");
    if (!opts->gpu && !opts->gpu_memory)
        return vf_usage_error(opts->cmd, "missing GPU memory: give --gpu-memory SIZE, --gpu NAME or "
                                      "--gpu auto (see 'vramfit %s --help')", opts->cmd);
    if (opts->gpu && strcmp(opts->gpu, "auto") == 0)
        return hw_from_probe(opts, hw, notes);
    hw->gpus = opts->gpus ? opts->gpus : 1;
    if (opts->gpu_memory) {
        hw->gpu_memory = opts->gpu_memory;
        return VF_EXIT_OK;
    }
    const vf_gpu_model *g = NULL;
    int rc = vf_cli_find_gpu(opts->cmd, opts->gpu, &g);
    if (rc != VF_EXIT_OK)
        return rc;
    hw->gpu_memory = g->bytes;
    snprintf(hw->label, sizeof hw->label, "%s", g->name);
    return VF_EXIT_OK;
}

/* ---- model facts -------------------------------------------------------------------------------- */

/* What P holds beside the language model, and what is stored but never loaded. */
static void component_notes(vf_est_ctx *ctx)
{
    char n1[32], n2[32];
    for (size_t i = 0; i < vf_model_component_count(ctx->model); i++) {
        const vf_component_stats *s = vf_model_component(ctx->model, i);
        if (s->component == VF_COMPONENT_LANGUAGE_MODEL)
            continue;
        if (s->loaded)
            vf_notes_add(&ctx->notes, "P includes the '%s' component (%s parameters), which transformers loads "
                                    "with the model; layers, hidden size and vocabulary are the language "
                                    "model's",
                         vf_component_name(s->component), vf_fmt_count(s->parameters, n1));
        else
            vf_notes_add(&ctx->notes, "%s bytes of '%s' blocks (%s tensors) are stored but transformers "
                                    "never loads them: not in P",
                         vf_fmt_count(s->bytes, n1), vf_component_name(s->component),
                         vf_fmt_count(s->tensors, n2));
    }
}

static void model_notes(vf_est_ctx *ctx)
{
    const vf_totals *t = vf_model_totals(ctx->model);
    char n1[32], n2[32], n3[32];
    if (ctx->lm_head_params && ctx->opts->compat)
        vf_notes_add(&ctx->notes, "compat training-hub: P = %s leaves out the untied lm_head (%s "
                                "parameters), as Training Hub's headless AutoModel does; the "
                                "checkpoint holds %s",
                     vf_fmt_count(ctx->base.parameters, n1), vf_fmt_count(ctx->lm_head_params, n2),
                     vf_fmt_count(t->parameters, n3));
    else if (ctx->lm_head_params)
        vf_notes_add(&ctx->notes, "P = %s includes the untied lm_head (%s parameters) stored in the "
                                "checkpoint; Training Hub's headless AutoModel leaves it out (P = %s; "
                                "--compat training-hub reproduces that)",
                     vf_fmt_count(ctx->base.parameters, n1), vf_fmt_count(ctx->lm_head_params, n2),
                     vf_fmt_count(ctx->base.parameters - ctx->lm_head_params, n3));
    if (t->buffer_tensors)
        vf_notes_add(&ctx->notes, "%s buffer elements in %s tensors (e.g. rotary inv_freq) are stored "
                                "but are not parameters; neither vramfit nor Training Hub counts them",
                     vf_fmt_count(t->buffers, n1), vf_fmt_count(t->buffer_tensors, n2));
    component_notes(ctx);
    const vf_quant *q = vf_model_quant(ctx->model);
    if (q->scheme != VF_QUANT_NONE)
        vf_notes_add(&ctx->notes, "the checkpoint is quantized (%s, %u bits): P = %s counts the "
                                "parameters dequantized, as transformers loads them (stored: %s "
                                "elements, and %s bytes of quantization metadata that are not "
                                "parameters)",
                     vf_quant_scheme_name(q->scheme), q->bits, vf_fmt_count(t->parameters, n1),
                     vf_fmt_count(q->stored_elements, n2), vf_fmt_count(q->metadata_bytes, n3));
    const vf_findings *f = vf_model_findings(ctx->model);
    for (size_t i = 0; i < vf_findings_count(f); i++)
        if (vf_findings_get(f, i)->severity == VF_SEV_WARNING)
            vf_notes_add(&ctx->notes, "checkpoint: %s", vf_findings_get(f, i)->message);
}

/* What training does with a pre-quantized base, per method (the formulas are unchanged). */
static void quant_notes(const vf_est_ctx *ctx, vf_method method, const vf_est_model *m, vf_notes *n)
{
    const vf_quant *q = vf_model_quant(ctx->model);
    const char *scheme = vf_quant_scheme_name(q->scheme);
    if (q->scheme == VF_QUANT_NONE || !n)
        return;
    if (method == VF_METHOD_SFT || method == VF_METHOD_OSFT)
        vf_notes_add(n, "%s trains a dequantized copy of this %s checkpoint: every parameter is counted "
                        "at full precision", vf_est_method_label(method), scheme);
    else if (method == VF_METHOD_QLORA && m->stored_4bit)
        vf_notes_add(n, "QLoRA on a checkpoint already stored 4-bit (%s): no unquantized copy is placed "
                        "on the GPUs first, so Training Hub's bottleneck rule is not applied "
                        "(--compat training-hub applies it)", scheme);
    else if (method == VF_METHOD_QLORA)
        vf_notes_add(n, "QLoRA on a %s checkpoint stored at %u bits: the base is quantized again to 4 "
                        "bits as Training Hub assumes", scheme, q->bits);
    else if (q->scheme == VF_QUANT_GPTQ || q->scheme == VF_QUANT_AWQ)
        vf_notes_add(n, "LoRA on %s keeps the quantized base (PEFT's QuantLinear wrapper); Training "
                        "Hub's LoRA formula counts the base at 2 bytes per parameter, more than it "
                        "takes", scheme);
    else
        vf_notes_add(n, "LoRA on this %s checkpoint: Training Hub's LoRA formula counts the base at 2 "
                        "bytes per parameter (a 16-bit base)", scheme);
}

int vf_est_ctx_open(vf_est_ctx *ctx, const vf_est_opts *opts, vf_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->opts = opts;
    int rc = vf_model_open(opts->path, &opts->open, &ctx->model, err);
    if (rc != VF_OK)
        return rc;
    /* P, L, H, V, computed once: Training Hub's (headless AutoModel) under compat, else exact; the
     * untied head's size for the notes either way. */
    ctx->th_path = vf_th_model_path(ctx->model, opts->path);
    if (opts->compat) {
        rc = vf_est_model_training_hub(ctx->model, ctx->th_path, VF_METHOD_SFT, opts->lora_r, &ctx->base,
                                       &ctx->lm_head_params, err);
    } else {
        rc = vf_est_model_from(ctx->model, VF_METHOD_SFT, NULL, opts->lora_r, &ctx->base, err);
        ctx->lm_head_params = vf_th_untied_head_params(ctx->model);
    }
    if (rc != VF_OK) {
        vf_est_ctx_close(ctx);
        return rc;
    }
    ctx->display_path = vf_checkpoint_name(vf_model_checkpoint(ctx->model));
    /* upstream matches the model_path it is given (vf_th_model_path) */
    ctx->path_key = vf_th_family(ctx->th_path, &ctx->path_family);
    model_notes(ctx);
    return VF_OK;
}

void vf_est_ctx_close(vf_est_ctx *ctx)
{
    vf_model_free(ctx->model);
    ctx->model = NULL;
}

/* Computes the target selection once (the detected family, the --target options or, under compat,
 * the path-rule family). */
static void ensure_adapters(vf_est_ctx *ctx)
{
    if (ctx->adapters_done)
        return;
    vf_target_spec spec = ctx->opts->target;
    if (ctx->opts->compat)
        spec.family = ctx->path_family.name;
    ctx->adapters_rc = vf_adapter_estimator_input(ctx->model, &spec, ctx->opts->lora_r, &ctx->adapters,
                                                &ctx->adapters_err);
    if (ctx->adapters_rc == VF_OK && ctx->opts->compat)
        ctx->adapters.family = ctx->path_family;
    ctx->adapters_done = true;
}

static void family_notes(const vf_est_ctx *ctx, vf_notes *n)
{
    const vf_family *f = &ctx->adapters.family;
    if (vf_est_opts_has_target(ctx->opts)) {
        vf_notes_add(n, "targets chosen by --target/--target-regex/--exclude");
        return;
    }
    if (ctx->opts->compat) {
        vf_family detected;
        vf_family_detect(ctx->model, &detected);
        vf_notes_add(n, "compat training-hub: target family '%s' chosen by Training Hub's path rule (%s)%s%s%s", f->name,
                     ctx->path_family.reason, detected.patterns != f->patterns ? "; from the tensor "
                     "names vramfit would choose '" : "", detected.patterns != f->patterns ?
                     detected.name : "", detected.patterns != f->patterns ? "'" : "");
        return;
    }
    vf_notes_add(n, "target family '%s' (%s)", f->name, f->reason);
    if (ctx->path_family.patterns != f->patterns)
        vf_notes_add(n, "Training Hub would use the '%s' patterns instead (its path rule: %s), "
                        "counting different targets; --compat training-hub reproduces that",
                     ctx->path_family.name, ctx->path_family.reason);
}

static void target_notes(const vf_est_ctx *ctx, vf_method method, const vf_est_model *m, vf_notes *n)
{
    char n1[32], n2[32], n3[32], n4[32];
    family_notes(ctx, n);
    if (method == VF_METHOD_OSFT)
        vf_notes_add(n, "OSFT: %s target matrices as U, S, V; OSFT parameters %s%s",
                     vf_fmt_count(ctx->adapters.osft_matrices, n1), vf_fmt_count(m->osft_params, n2),
                     ctx->opts->compat && ctx->lm_head_params ? " (untied lm_head left out)" : "");
    else
        vf_notes_add(n, "%s: %s target matrices, r = %u: A and B hold %s x %s = %s parameters",
                     vf_est_method_label(method), vf_fmt_count(ctx->adapters.lora_matrices, n1),
                     (unsigned)ctx->opts->lora_r, vf_fmt_count(ctx->adapters.lora_dim_sum, n2),
                     vf_fmt_count(ctx->opts->lora_r, n3), vf_fmt_count(ctx->adapters.lora_params, n4));
}

int vf_est_ctx_model(vf_est_ctx *ctx, vf_method method, vf_est_model *out, vf_notes *tn,
                     vf_error *err)
{
    *out = ctx->base;
    quant_notes(ctx, method, out, tn);
    if (method == VF_METHOD_SFT)
        return VF_OK;
    ensure_adapters(ctx);
    if (ctx->adapters_rc != VF_OK) {
        *err = ctx->adapters_err;
        return ctx->adapters_rc;
    }
    out->lora_dim_sum = ctx->adapters.lora_dim_sum;
    out->osft_params = ctx->adapters.osft_params;
    if (ctx->opts->compat) {
        int rc = vf_est_model_training_hub(ctx->model, ctx->th_path, method, ctx->opts->lora_r, out,
                                           NULL, err);
        if (rc != VF_OK)
            return rc;
    }
    if (tn)
        target_notes(ctx, method, out, tn);
    return VF_OK;
}

/* ---- setup and tokens --------------------------------------------------------------------------- */

void vf_est_setup_for(const vf_est_opts *opts, const vf_est_hw *hw, vf_method method, vf_est_setup *s)
{
    vf_est_setup init = VF_EST_SETUP_INIT;
    *s = init;
    s->method = method;
    s->gpus = hw->gpus;
    s->gpu_memory = hw->gpu_memory;
    s->max_tokens_per_gpu = opts->max_tokens;
    s->batch_size = opts->batch;
    s->max_seq_len = opts->seq;
    s->lora_r = opts->lora_r;
    s->unfreeze_rank_ratio = opts->ratio;
    s->liger = opts->liger;
    s->compat = opts->compat ? VF_COMPAT_TRAINING_HUB : VF_COMPAT_NONE;
    s->th_max_tokens_per_gpu = opts->max_tokens ? (double)opts->max_tokens : NAN;
}

bool vf_est_tokens_ok(const vf_est_opts *opts, vf_method method, char *msg, size_t n)
{
    const bool batch = opts->batch && opts->seq;
    if (method == VF_METHOD_LORA || method == VF_METHOD_QLORA) {
        if (batch)
            return true;
        snprintf(msg, n, "%s needs --batch-size and --max-seq-len (tokens per GPU = batch x "
                         "sequence length / GPUs; --max-tokens-per-gpu is not used by that backend)",
                 vf_est_method_label(method));
        return false;
    }
    if (batch || opts->max_tokens)
        return true;
    snprintf(msg, n, "%s needs --max-tokens-per-gpu, or both --batch-size and --max-seq-len%s",
             vf_est_method_label(method),
             opts->batch || opts->seq ? (opts->batch ? " (--max-seq-len is missing)" : " (--batch-size is missing)")
                                : "");
    return false;
}

/* ---- result notes ------------------------------------------------------------------------------- */

static void tokens_note(const vf_est_opts *opts, const vf_est_setup *s, const vf_est_result *r,
                        vf_notes *n)
{
    const bool lora = s->method == VF_METHOD_LORA || s->method == VF_METHOD_QLORA;
    if (r->max_tokens_ignored)
        vf_notes_add(n, "%s takes tokens per GPU from --batch-size x --max-seq-len / GPUs; "
                        "--max-tokens-per-gpu is not used by that backend (as in Training Hub)",
                     vf_est_method_label(s->method));
    else if (!lora && opts->max_tokens && opts->batch && opts->seq)
        vf_notes_add(n, "tokens per GPU: the smaller of --max-tokens-per-gpu (%llu) and batch x "
                        "sequence length / GPUs (%.6g): %s",
                     (unsigned long long)opts->max_tokens, (double)opts->batch * (double)opts->seq / s->gpus,
                     r->tokens_source == VF_TOKENS_MAX_TOKENS ? "--max-tokens-per-gpu" : "the batch");
    else if (!lora && opts->max_tokens && (opts->batch || opts->seq))
        vf_notes_add(n, "--%s alone is ignored: tokens per GPU come from --max-tokens-per-gpu",
                     opts->batch ? "batch-size" : "max-seq-len");
}

static void peak_note(const vf_est_setup *s, const vf_est_result *r, vf_notes *n)
{
    char g1[32];
    if (r->peak_rule == VF_PEAK_DROP_OUTPUTS)
        vf_notes_add(n, "%s peak rule: gradients and outputs are never allocated together; the "
                        "gradients are larger, so the outputs (%s per GPU) are left out",
                     vf_est_method_label(s->method), vf_fmt_size(r->peak_dropped, g1));
    else if (r->peak_rule == VF_PEAK_DROP_GRADIENTS)
        vf_notes_add(n, "%s peak rule: gradients and outputs are never allocated together; the "
                        "outputs are at least as large, so the gradients (%s per GPU) are left out",
                     vf_est_method_label(s->method), vf_fmt_size(r->peak_dropped, g1));
}

void vf_est_result_notes(const vf_est_opts *opts, const vf_est_setup *s, const vf_est_result *r,
                         const vf_est_model *m, bool json, vf_notes *n)
{
    char g1[32], g2[32];
    tokens_note(opts, s, r, n);
    if (json)
        peak_note(s, r, n);
    if (s->method == VF_METHOD_QLORA && r->model_bound)
        vf_notes_add(n, "QLoRA bottleneck: the LoRA subtotal (%s per GPU) is below the unquantized "
                        "model at 1 byte per parameter (%s for the whole model), so the estimate is "
                        "that model split over the GPUs (Training Hub's rule; it compares a per-GPU "
                        "figure with a whole-model one); only a smaller model lowers it",
                     vf_fmt_size(r->unbound_subtotal, g1), vf_fmt_size(m->parameters, g2));
    else if (s->method == VF_METHOD_QLORA && !m->stored_4bit) /* else quant_notes says why */
        vf_notes_add(n, "QLoRA: the LoRA subtotal (%s per GPU) is above the unquantized model at 1 "
                        "byte per parameter (%s), so the training itself is the bound",
                     vf_fmt_size(r->unbound_subtotal, g1), vf_fmt_size(m->parameters, g2));
    if (s->method == VF_METHOD_OSFT && !r->liger)
        vf_notes_add(n, "OSFT without Liger: outputs = 4 x T x V x 7/3, Training Hub's rule since "
                        "its commit 04ec040 (Liger is the OSFT default)");
}
