/* cmd_estimate_detailed.c - `vramfit estimate PATH --estimator detailed [levers]`: parses the
 * levers, asks the library (vf_detailed.h) for the per-GPU components and prints them (human or
 * JSON). The arithmetic is the library's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_dt_cli.h"
#include "vf_svg.h"

void vf_dt_opts_init(vf_dt_opts *dt)
{
    vf_dt_options o = VF_DT_OPTIONS_INIT;
    memset(dt, 0, sizeof *dt);
    dt->o = o;
}

static int lever(const char *opt, vf_dt_lever l, const char *val, int *out)
{
    if (vf_dt_lever_from_name(l, val, out))
        return 1;
    vf_usage_error("estimate", "--%s must be %s, got '%s'", opt, vf_dt_lever_choices(l), val);
    return -1;
}

static int count(const char *opt, const char *val, uint32_t *out)
{
    uint64_t v;
    if (!vf_parse_u64("estimate", opt, val, &v))
        return -1;
    if (v == 0 || v > UINT32_MAX) {
        vf_usage_error("estimate", "--%s must be between 1 and %u, got '%s'", opt, UINT32_MAX, val);
        return -1;
    }
    *out = (uint32_t)v;
    return 1;
}

static int estimator(vf_dt_opts *dt, const char *val)
{
    if (strcmp(val, "detailed") == 0 || strcmp(val, "training-hub") == 0) {
        dt->detailed = strcmp(val, "detailed") == 0;
        return 1;
    }
    vf_usage_error("estimate", "--estimator must be training-hub or detailed, got '%s'", val);
    return -1;
}

static int host_memory(vf_dt_opts *dt, const char *val)
{
    char why[VF_GPU_MSG_MAX];
    if (vf_parse_size(val, &dt->o.host_memory, why))
        return 1;
    vf_usage_error("estimate", "--host-memory: %s", why);
    return -1;
}

static int store(vf_dt_opts *dt, const vf_opt *opt, const char *val)
{
    vf_dt_options *o = &dt->o;
    int v = 0, rc;
    switch (opt->id) {
    case VF_DOPT_DTYPE: rc = lever("dtype", VF_LEVER_PRECISION, val, &v); o->dtype = (vf_dt_precision)v; return rc;
    case VF_DOPT_AMP: rc = lever("amp", VF_LEVER_AMP, val, &v); o->amp = (vf_dt_amp)v; return rc;
    case VF_DOPT_OPTIMIZER:
        rc = lever("optimizer", VF_LEVER_OPTIMIZER, val, &v);
        o->optimizer = (vf_dt_optimizer)v;
        return rc;
    case VF_DOPT_CKPT:
        rc = lever("gradient-checkpointing", VF_LEVER_CKPT, val, &v);
        o->checkpointing = (vf_dt_ckpt)v;
        return rc;
    case VF_DOPT_ATTENTION:
        rc = lever("attention", VF_LEVER_ATTENTION, val, &v);
        o->attention = (vf_dt_attention)v;
        return rc;
    case VF_DOPT_LOSS: rc = lever("loss", VF_LEVER_LOSS, val, &v); o->loss = (vf_dt_loss)v; return rc;
    case VF_DOPT_SHARDING:
        rc = lever("sharding", VF_LEVER_SHARDING, val, &v);
        o->sharding = (vf_dt_sharding)v;
        return rc;
    case VF_DOPT_OFFLOAD: rc = lever("offload", VF_LEVER_OFFLOAD, val, &v); o->offload = (vf_dt_offload)v; return rc;
    case VF_DOPT_OPT_IN_BWD: o->optimizer_in_backward = true; return 1;
    case VF_DOPT_ACT_OFFLOAD: o->activation_offload = true; return 1;
    case VF_DOPT_COMPILE: o->compile = true; return 1;
    case VF_DOPT_NODES: return count("nodes", val, &o->nodes);
    case VF_DOPT_GRAD_ACCUM: return count("grad-accum", val, &o->grad_accum);
    case VF_DOPT_QUANT_BLOCK: return count("quant-block-size", val, &o->quant_block);
    case VF_DOPT_LOSS_CHUNKS: return count("loss-chunks", val, &o->loss_chunks);
    case VF_DOPT_NO_DOUBLE_QUANT: o->double_quant = false; return 1;
    case VF_DOPT_SHARDED_STATE_DICT: o->full_state_dict = false; return 1;
    case VF_DOPT_DORA: dt->use_dora = true; return 1;
    case VF_DOPT_SAVE: dt->modules_to_save = val; return 1;
    case VF_DOPT_HOST_MEMORY: return host_memory(dt, val);
    case VF_DOPT_ADAPTER_DTYPE:
        return vf_cli_adapter_dtype("estimate", opt, val, &dt->o.adapter_dtype) == VF_EXIT_OK ? 1 : -1;
    default: return 0;
    }
}

int vf_dt_opt(vf_dt_opts *dt, const vf_opt *opt, const char *val)
{
    if (opt->id == VF_DOPT_ESTIMATOR)
        return estimator(dt, val);
    int rc = store(dt, opt, val);
    if (rc != 0 && !dt->first_lever)
        dt->first_lever = opt->name;
    return rc;
}

/* ---- the run ------------------------------------------------------------------------------------ */

typedef struct dt_run {
    const vf_est_ctx *c;
    vf_est_hw hw;
    vf_dt_options o;
    vf_dt_model m;
    vf_dt_result r;
    vf_notes notes;
} dt_run;

static const char *lv(vf_dt_lever l, int v) { return vf_dt_lever_name(l, v); }

/* The popular rule of thumb of the seed article: B x S x h x L x 2 bytes. */
static uint64_t rough_rule(const dt_run *run)
{
    uint64_t v = run->r.tokens;
    const uint64_t f[3] = {run->m.hidden, run->m.layers, 2};
    for (int i = 0; i < 3; i++)
        v = f[i] && v > UINT64_MAX / f[i] ? UINT64_MAX : v * f[i];
    return v;
}

static void assumption_notes(dt_run *run)
{
    char a[32], b[32];
    vf_notes *n = &run->notes;
    if (!run->m.heads_from_config)
        vf_notes_add(n, "attention heads not in config.json: assumed head_dim 128, so %llu heads",
                     (unsigned long long)run->m.heads);
    if (run->m.moe_layers && !run->m.top_k_from_config)
        vf_notes_add(n, "experts per token not in config.json: assumed top-%u", (unsigned)run->m.top_k);
    vf_notes_add(n, "peak reserved adds %u.%u%% allocator fragmentation to peak allocated; the "
                    "overhead (%s CUDA context and workspaces%s) lives outside PyTorch's allocator "
                    "- both are stated assumptions, not measurements",
                 VF_DT_FRAGMENTATION_PERMILLE / 10, VF_DT_FRAGMENTATION_PERMILLE % 10,
                 vf_fmt_size(VF_DT_CUDA_CONTEXT_BYTES, a), run->r.world > 1 ? ", NCCL buffers" : "");
    vf_notes_add(n, "the rough rule batch x seq x hidden x layers x 2 bytes gives %s of activations; "
                    "computed from the layers' saved tensors (norm upcasts, q/k/v, attention output, "
                    "MLP intermediates%s) they are %s",
                 vf_fmt_size(rough_rule(run), a), run->o.attention == VF_ATTN_EAGER ? ", attention matrix" : "",
                 vf_fmt_size(run->r.activations, b));
}

static void lever_notes(dt_run *run)
{
    vf_notes *n = &run->notes;
    const vf_dt_options *o = &run->o;
    char a[32];
    if (run->r.master_weights)
        vf_notes_add(n, "trained fp16 weights: PyTorch's GradScaler refuses fp16 gradients, so an "
                        "fp32 master copy and fp32 optimizer states are assumed (DeepSpeed/Apex fp16)");
    if (o->optimizer == VF_OPTIM_PAGED_ADAMW_8BIT)
        vf_notes_add(n, "paged optimizer states live in unified memory and can be evicted to the "
                        "host under pressure; they are counted here as resident");
    if (o->grad_accum > 1)
        vf_notes_add(n, "--grad-accum %u: the gradient buffer stays allocated through the forward "
                        "passes; tokens per optimizer step over all ranks: %llu",
                     (unsigned)o->grad_accum, (unsigned long long)run->r.grad_accum_tokens);
    if (run->r.host_offload)
        vf_notes_add(n, "offloaded to the host: %s per node%s", vf_fmt_size(run->r.host_offload, a),
                     o->host_memory && run->r.host_offload > o->host_memory ? ", more than --host-memory"
                                                                          : "");
    if (run->r.save_exceeds_gpu)
        vf_notes_add(n, "saving a full state dict gathers the whole model on rank 0: %s on its GPU, "
                        "more than it has (use --sharded-state-dict or offload_to_cpu)",
                     vf_fmt_size(run->r.save_gpu_peak, a));
    if (run->r.save_exceeds_host)
        vf_notes_add(n, "saving a full state dict needs %s of host memory on rank 0, more than "
                        "--host-memory", vf_fmt_size(run->r.save_host_peak, a));
}

/* ---- JSON --------------------------------------------------------------------------------------- */

static void json_levers(vf_jw *j, const dt_run *run)
{
    const vf_dt_options *o = &run->o;
    vf_jw_obj(j, "levers");
    vf_jw_str(j, "dtype", lv(VF_LEVER_PRECISION, (int)o->dtype));
    vf_jw_str(j, "amp", lv(VF_LEVER_AMP, (int)o->amp));
    vf_jw_str(j, "optimizer", lv(VF_LEVER_OPTIMIZER, (int)o->optimizer));
    vf_jw_bool(j, "optimizer_in_backward", o->optimizer_in_backward);
    vf_jw_str(j, "gradient_checkpointing", lv(VF_LEVER_CKPT, (int)o->checkpointing));
    vf_jw_bool(j, "activation_offload", o->activation_offload);
    vf_jw_bool(j, "compile", o->compile);
    vf_jw_str(j, "attention", lv(VF_LEVER_ATTENTION, (int)o->attention));
    vf_jw_str(j, "loss", lv(VF_LEVER_LOSS, (int)o->loss));
    vf_jw_str(j, "sharding", lv(VF_LEVER_SHARDING, (int)o->sharding));
    vf_jw_str(j, "offload", lv(VF_LEVER_OFFLOAD, (int)o->offload));
    vf_jw_u64(j, "nodes", o->nodes);
    vf_jw_u64(j, "batch_size", o->batch_size);
    vf_jw_u64(j, "max_seq_len", o->seq_len);
    vf_jw_u64(j, "grad_accum", o->grad_accum);
    vf_jw_u64(j, "tokens_per_gpu", run->r.tokens);
    vf_jw_u64(j, "tokens_per_step", run->r.grad_accum_tokens);
    vf_jw_str(j, "adapter_dtype", vf_dtype_name(o->adapter_dtype));
    vf_jw_obj_end(j);
}

static void json_model(vf_jw *j, const vf_dt_model *m)
{
    vf_jw_obj(j, "architecture");
    vf_jw_u64(j, "parameters", m->parameters);
    vf_jw_u64(j, "trainable_parameters", m->trainable);
    vf_jw_u64(j, "layers", m->layers);
    vf_jw_u64(j, "hidden_size", m->hidden);
    vf_jw_u64(j, "intermediate_size", m->intermediate);
    vf_jw_u64(j, "moe_intermediate_size", m->moe_intermediate);
    vf_jw_u64(j, "moe_layers", m->moe_layers);
    vf_jw_u64(j, "experts", m->experts);
    vf_jw_u64(j, "top_k", m->top_k);
    vf_jw_u64(j, "q_dim", m->q_dim);
    vf_jw_u64(j, "kv_dim", m->kv_dim);
    vf_jw_u64(j, "heads", m->heads);
    vf_jw_str(j, "heads_source", m->heads_from_config ? "config.json" : "head_dim 128 assumed");
    vf_jw_u64(j, "vocab_size", m->vocab);
    vf_jw_obj_end(j);
}

static void json_per_gpu(vf_jw *j, const vf_dt_result *r)
{
    vf_jw_obj(j, "per_gpu");
    vf_jw_u64(j, "weights_bytes", r->weights);
    vf_jw_u64(j, "master_weights_bytes", r->master_weights);
    vf_jw_u64(j, "gradients_bytes", r->gradients);
    vf_jw_u64(j, "optimizer_bytes", r->optimizer);
    vf_jw_u64(j, "activations_bytes", r->activations);
    vf_jw_u64(j, "logits_bytes", r->logits);
    vf_jw_u64(j, "temporary_bytes", r->temporary);
    vf_jw_u64(j, "optimizer_step_temporary_bytes", r->step_temporary);
    vf_jw_u64(j, "forward_backward_bytes", r->forward_backward);
    vf_jw_u64(j, "optimizer_step_bytes", r->optimizer_step);
    vf_jw_u64(j, "peak_allocated_bytes", r->peak_allocated);
    vf_jw_u64(j, "peak_reserved_bytes", r->peak_reserved);
    vf_jw_u64(j, "overhead_bytes", r->overhead);
    vf_jw_u64(j, "total_bytes", r->total);
    vf_jw_obj_end(j);
}

static void json_report(vf_buf *b, const dt_run *run)
{
    vf_jw j = {.b = b};
    const vf_dt_result *r = &run->r;
    vf_jw_doc(&j);
    vf_jw_str(&j, "estimator", "detailed");
    vf_jw_str(&j, "method", vf_method_name(run->o.method));
    vf_jw_origin(&j, vf_model_checkpoint(run->c->model));
    vf_jw_u64(&j, "gpus", run->hw.gpus);
    vf_jw_u64(&j, "gpu_memory_bytes", run->hw.gpu_memory);
    vf_jw_str(&j, "gpu", *run->hw.label ? run->hw.label : NULL);
    json_levers(&j, run);
    json_model(&j, &run->m);
    json_per_gpu(&j, r);
    vf_jw_str(&j, "peak_phase", r->peak_phase == VF_PHASE_OPTIMIZER_STEP ? "optimizer_step"
                                                                          : "forward_backward");
    vf_jw_bool(&j, "fits", r->fits);
    vf_jw_u64(&j, "host_offload_bytes", r->host_offload);
    vf_jw_obj(&j, "save");
    vf_jw_bool(&j, "full_state_dict", run->o.full_state_dict);
    vf_jw_u64(&j, "gpu_peak_bytes", r->save_gpu_peak);
    vf_jw_u64(&j, "host_peak_bytes", r->save_host_peak);
    vf_jw_bool(&j, "exceeds_gpu", r->save_exceeds_gpu);
    vf_jw_bool(&j, "exceeds_host", r->save_exceeds_host);
    vf_jw_obj_end(&j);
    vf_jw_arr(&j, "notes");
    for (size_t i = 0; i < run->notes.n; i++)
        vf_jw_str(&j, NULL, run->notes.text[i]);
    vf_jw_arr_end(&j);
    vf_jw_obj_end(&j);
    vf_buf_printf(b, "\n");
}

/* ---- human -------------------------------------------------------------------------------------- */

static void row(vf_buf *b, const char *name, const char *what, uint64_t v)
{
    char g[32], n[32];
    snprintf(g, sizeof g, "%.2f", (double)v / 1073741824.0);
    vf_buf_printf(b, "  %-20s %-38s %8s %17s\n", name, what, g, vf_fmt_count(v, n));
}

static void human_head(vf_buf *b, const dt_run *run)
{
    const vf_dt_model *m = &run->m;
    const vf_dt_options *o = &run->o;
    char n1[32], n2[32], g[32];
    vf_buf_printf(b, "%s detailed memory estimate for %s\n", vf_est_method_label(o->method),
                  run->c->display_path);
    vf_buf_printf(b, "  model   %s parameters (%s trainable), %llu layers, hidden %llu, intermediate "
                     "%llu, q/kv %llu/%llu, %llu heads, vocabulary %llu",
                  vf_fmt_count(m->parameters, n1), vf_fmt_count(m->trainable, n2),
                  (unsigned long long)m->layers, (unsigned long long)m->hidden,
                  (unsigned long long)(m->intermediate ? m->intermediate : m->moe_intermediate),
                  (unsigned long long)m->q_dim, (unsigned long long)m->kv_dim,
                  (unsigned long long)m->heads, (unsigned long long)m->vocab);
    if (m->moe_layers)
        vf_buf_printf(b, ", %u experts (top-%u) in %llu layers", (unsigned)m->experts,
                      (unsigned)m->top_k, (unsigned long long)m->moe_layers);
    vf_buf_printf(b, "\n  GPUs    %u x %s%s%s%s", (unsigned)run->hw.gpus, vf_fmt_size(run->hw.gpu_memory, g),
                  *run->hw.label ? " (" : "", run->hw.label, *run->hw.label ? ")" : "");
    if (o->nodes > 1)
        vf_buf_printf(b, " per node, %u nodes", (unsigned)o->nodes);
    vf_buf_printf(b, "\n  levers  dtype %s, amp %s, optimizer %s%s, checkpointing %s%s%s, attention %s, "
                     "loss %s, sharding %s, offload %s\n",
                  lv(VF_LEVER_PRECISION, (int)o->dtype), lv(VF_LEVER_AMP, (int)o->amp),
                  lv(VF_LEVER_OPTIMIZER, (int)o->optimizer), o->optimizer_in_backward ? " (in backward)" : "",
                  lv(VF_LEVER_CKPT, (int)o->checkpointing), o->activation_offload ? ", activation offload" : "",
                  o->compile ? ", compiled" : "", lv(VF_LEVER_ATTENTION, (int)o->attention),
                  lv(VF_LEVER_LOSS, (int)o->loss), lv(VF_LEVER_SHARDING, (int)o->sharding),
                  lv(VF_LEVER_OFFLOAD, (int)o->offload));
    vf_buf_printf(b, "  tokens  %llu x %llu = %s per GPU per micro-batch, %u micro-batch%s per step\n",
                  (unsigned long long)o->batch_size, (unsigned long long)o->seq_len,
                  vf_fmt_count(run->r.tokens, n1), (unsigned)o->grad_accum, o->grad_accum == 1 ? "" : "es");
}

static void human_breakdown(vf_buf *b, const dt_run *run)
{
    const vf_dt_result *r = &run->r;
    char what[64];
    vf_buf_printf(b, "\n%sPer GPU%s %55s %8s %17s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET), "",
                  "GiB", "bytes");
    snprintf(what, sizeof what, "sharded over %llu", (unsigned long long)r->shard_params);
    row(b, "weights", r->shard_params > 1 ? what : "", r->weights);
    if (r->master_weights)
        row(b, "master weights", "fp32 copy of the trained weights", r->master_weights);
    row(b, "gradients", "", r->gradients);
    row(b, "optimizer states", lv(VF_LEVER_OPTIMIZER, (int)run->o.optimizer), r->optimizer);
    row(b, "activations", "saved for backward", r->activations);
    row(b, "logits / loss", "at the loss's backward", r->logits);
    row(b, "temporary buffers", "forward/backward", r->temporary);
    row(b, "optimizer step", "temporaries of the step", r->step_temporary);
    row(b, "forward+backward", "phase total", r->forward_backward);
    row(b, "optimizer step", "phase total", r->optimizer_step);
    row(b, "peak allocated", r->peak_phase == VF_PHASE_OPTIMIZER_STEP ? "in the optimizer step"
                                                                      : "in forward/backward",
        r->peak_allocated);
    row(b, "peak reserved", "with allocator fragmentation", r->peak_reserved);
    row(b, "overhead", "CUDA context, workspaces", r->overhead);
    row(b, "total", "what the GPU must hold", r->total);
}

static void human_decision(vf_buf *b, const dt_run *run)
{
    const vf_dt_result *r = &run->r;
    char m[32], d[32];
    uint64_t mem = run->hw.gpu_memory;
    vf_buf_printf(b, "\nDecision   %s%s%s on %s per GPU", vf_sty(r->fits ? VF_STY_GREEN : VF_STY_RED),
                  r->fits ? "fits" : "does not fit", vf_sty(VF_STY_RESET), vf_fmt_size(mem, m));
    vf_buf_printf(b, r->fits ? " (%s to spare)\n" : " (%s short)\n",
                  vf_fmt_size(r->fits ? mem - r->total : r->total - mem, d));
    if (r->save_gpu_peak)
        vf_buf_printf(b, "Saving     full state dict on rank 0: %s on its GPU, %s on its host%s\n",
                      vf_fmt_size(r->save_gpu_peak, m), vf_fmt_size(r->save_host_peak, d),
                      r->save_exceeds_gpu || r->save_exceeds_host ? " - too much, see the notes" : "");
}

static void human_report(vf_buf *b, const dt_run *run)
{
    human_head(b, run);
    human_breakdown(b, run);
    human_decision(b, run);
    if (vf_ui_quiet())
        return;
    vf_buf_printf(b, "\n%sNotes%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < run->notes.n; i++)
        vf_buf_printf(b, "  - %s\n", run->notes.text[i]);
    vf_buf_printf(b, "  - sizes are binary units (KiB = 2^10 ... GiB = 2^30 bytes)\n");
}

/* ---- command ------------------------------------------------------------------------------------ */

static void fill_options(const vf_dt_opts *dt, const vf_est_opts *eo, const vf_est_hw *hw, vf_method method,
                         vf_dt_options *o)
{
    *o = dt->o;
    o->method = method;
    o->gpus = hw->gpus;
    o->gpu_memory = hw->gpu_memory;
    o->batch_size = eo->batch;
    o->seq_len = eo->seq;
}

static int estimate(const vf_dt_opts *dt, const vf_est_opts *eo, dt_run *run, vf_est_ctx *ctx)
{
    vf_error err = {0};
    int rc = vf_est_ctx_open(ctx, eo, &err);
    run->c = ctx;
    if (rc == VF_OK) {
        vf_adapter_options ao = VF_ADAPTER_OPTIONS_INIT;
        ao.target = eo->target;
        ao.rank = eo->lora_r;
        ao.use_dora = dt->use_dora;
        ao.modules_to_save = dt->modules_to_save;
        ao.unfreeze_rank_ratio = eo->ratio;
        rc = vf_dt_model_from(ctx->model, &run->o, &ao, &run->m, &err);
    }
    if (rc == VF_OK)
        rc = vf_dt_estimate(&run->m, &run->o, &run->r, &err);
    return rc == VF_OK ? VF_EXIT_OK : vf_cli_fail(&err);
}

static int usage_checks(const vf_dt_opts *dt, const vf_est_opts *eo, vf_method method)
{
    if (eo->max_tokens)
        return vf_usage_error("estimate", "--max-tokens-per-gpu is Training Hub's; the detailed "
                                          "estimator takes --batch-size and --max-seq-len per GPU");
    if (!eo->batch || !eo->seq)
        return vf_usage_error("estimate", "--estimator detailed needs --batch-size and --max-seq-len "
                                          "(the micro-batch per GPU)");
    if (eo->compat || eo->liger >= 0)
        return vf_usage_error("estimate", "--compat and --liger/--no-liger belong to the Training Hub "
                                          "estimator; with --estimator detailed use --loss liger");
    if ((dt->use_dora || dt->modules_to_save) && method != VF_METHOD_LORA && method != VF_METHOD_QLORA)
        return vf_usage_error("estimate", "--use-dora and --modules-to-save apply to --method lora "
                                          "and qlora only");
    return -1;
}

int vf_dt_run(const vf_dt_opts *dt, const vf_est_opts *eo, vf_method method, bool json, bool check,
                  const char *svg)
{
    int rc = usage_checks(dt, eo, method);
    if (rc >= 0)
        return rc;
    dt_run *run = calloc(1, sizeof *run);
    vf_est_ctx *ctx = calloc(1, sizeof *ctx);
    if (!run || !ctx) {
        free(run);
        free(ctx);
        return vf_cli_error(VF_EXIT_INTERNAL, "out of memory");
    }
    if ((rc = vf_est_resolve_hw(eo, &run->hw, &run->notes)) == VF_EXIT_OK) {
        fill_options(dt, eo, &run->hw, method, &run->o);
        rc = estimate(dt, eo, run, ctx);
    }
    if (rc == VF_EXIT_OK) {
        assumption_notes(run);
        lever_notes(run);
        vf_buf b = {0};
        if (json)
            json_report(&b, run);
        else
            human_report(&b, run);
        vf_output *out = NULL;
        vf_svg_detailed sd = {ctx->display_path, run->hw.gpus, run->hw.gpu_memory, run->hw.label, &run->r};
        rc = svg && !b.failed ? vf_svg_detailed_prepare(svg, &sd, vf_model_checkpoint(ctx->model), eo->path, &out)
                              : VF_EXIT_OK;
        rc = rc == VF_EXIT_OK ? vf_cli_flush_commit(&b, out) : rc;
        vf_buf_free(&b);
        if (rc == VF_EXIT_OK && check && !run->r.fits)
            rc = VF_EXIT_NO_FIT;
    }
    vf_est_ctx_close(ctx);
    free(ctx);
    free(run);
    return rc;
}
