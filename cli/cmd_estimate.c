/* cmd_estimate.c - `vramfit estimate PATH --method sft|osft|lora|qlora|all [setup]`: Training Hub's
 * fine-tuning memory estimate on the exact counts of the safetensors headers, per GPU and in total,
 * with the component breakdown, the peak rule, the four-level decision and notes; --json for
 * machines, --check to turn the decision into the exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_dt_cli.h"
#include "vf_est_cli.h"
#include "vf_svg.h"

enum { OPT_METHOD = 1, OPT_JSON, OPT_CHECK, OPT_SVG };

static const vf_opt estimate_table[] = {
    VF_OPT_COLUMN(24),
    {"method", 'm', "M", OPT_METHOD,
     "sft (full fine-tuning, default), osft, lora, qlora, or all (the\n"
     "four side by side)",
     VF_VALUES_LIST, "sft osft lora qlora all"},
    {"json", 0, NULL, OPT_JSON,
     "JSON on stdout, exact byte counts (--method all: \"methods\"\n"
     "holds one document per method)"},
    {"check", 0, NULL, OPT_CHECK,
     "exit status from the decision: 0 should or will likely work,\n"
     "10 may work but isn't recommended, 11 impossible (with --method\n"
     "all: the best of the methods)"},
    {"svg", 0, "FILE", OPT_SVG,
     "also draw the estimate as a self-contained SVG chart: per-GPU\n"
     "stacked bars of the components and the overhead for each method,\n"
     "a line at the GPU memory, GiB labels; written (atomically) only\n"
     "when the command succeeds; exit 3 when FILE cannot be written",
     VF_VALUES_FILE},
    VF_EST_SETUP_OPTS,
    VF_DT_OPTS,
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

static void print_gpu_table(void)
{
    size_t n;
    const vf_gpu_model *g = vf_gpu_table(&n);
    char c[32];
    printf("built-in GPUs for --gpu (nominal memory; the driver reports slightly less):\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-14s %18s bytes  (%s)\n", g[i].name, vf_fmt_count(g[i].bytes, c), g[i].spec);
}

/* The end of --help: the built-in GPUs, the exit codes and an example. */
static void estimate_footer(void)
{
    print_gpu_table();
    printf("\nexit codes: 0 ok, 2 usage error, 3 file missing or unreadable (also --gpu auto without\n"
           "a working nvidia-smi or rocm-smi), 4 malformed checkpoint; with --check also 10 and 11.\n"
           "example: vramfit estimate ./granite-3.3-2b-instruct --method sft --gpus 2 --gpu-memory 48GiB\n"
           "         --max-tokens-per-gpu 8192\n");
}

/* ---- one method --------------------------------------------------------------------------------- */

typedef struct est_run {
    vf_method method;
    int rc;         /* VF_OK, or the failure */
    int exit_code;  /* exit code of the failure */
    char error[VF_ERROR_MESSAGE_MAX + 64];
    vf_est_model model;
    vf_est_setup setup;
    vf_est_result result;
    vf_notes notes;
} est_run;

static void run_fail(est_run *run, int rc, int exit_code, const char *msg)
{
    run->rc = rc;
    run->exit_code = exit_code;
    snprintf(run->error, sizeof run->error, "%s", msg);
}

/* Estimates one method into run (errors are recorded in run, not printed). */
static void run_method(vf_est_ctx *ctx, const vf_est_opts *o, const vf_est_hw *hw, vf_method method,
                       bool json, est_run *run)
{
    char msg[VF_ERROR_MESSAGE_MAX];
    vf_error err = {0};
    run->method = method;
    if (!vf_est_tokens_ok(o, method, msg, sizeof msg))
    {
        run_fail(run, VF_ERR_USAGE, VF_EXIT_USAGE, msg);
        return;
    }
    int rc = vf_est_ctx_model(ctx, method, &run->model, &run->notes, &err);
    if (rc == VF_OK) {
        vf_est_setup_for(o, hw, method, &run->setup);
        rc = vf_estimate(&run->model, &run->setup, &run->result, &err);
    }
    if (rc != VF_OK) {
        char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
        run_fail(run, rc, vf_exit_code(rc), vf_error_format(&err, line, sizeof line));
        return;
    }
    vf_est_result_notes(o, &run->setup, &run->result, &run->model, json, &run->notes);
}

/* ---- JSON --------------------------------------------------------------------------------------- */

static void json_tokens(vf_jw *j, const vf_est_result *r)
{
    if (r->tokens_num % r->tokens_den == 0)
        vf_jw_u64(j, "tokens_per_gpu", r->tokens_num / r->tokens_den);
    else
        vf_jw_double(j, "tokens_per_gpu", r->tokens_per_gpu);
    vf_jw_str(j, "tokens_source",
                r->tokens_source == VF_TOKENS_MAX_TOKENS ? "max_tokens_per_gpu" : "batch_size");
}

static void json_inputs(vf_jw *j, const est_run *run, const vf_est_ctx *ctx)
{
    vf_jw_obj(j, "inputs");
    vf_jw_u64(j, "parameters", run->model.parameters);
    vf_jw_u64(j, "layers", run->model.layers);
    vf_jw_u64(j, "hidden_size", run->model.hidden_size);
    vf_jw_u64(j, "vocab_size", run->model.vocab_size);
    if (run->method == VF_METHOD_LORA || run->method == VF_METHOD_QLORA) {
        vf_jw_u64(j, "lora_r", run->setup.lora_r);
        vf_jw_u64(j, "lora_dim_sum", run->model.lora_dim_sum);
        vf_jw_u64(j, "lora_params", run->model.lora_dim_sum * run->setup.lora_r);
    }
    if (run->method == VF_METHOD_OSFT) {
        vf_jw_double(j, "unfreeze_rank_ratio", run->setup.unfreeze_rank_ratio);
        vf_jw_u64(j, "osft_params", run->model.osft_params);
    }
    if (run->method != VF_METHOD_SFT)
        vf_jw_str(j, "family", vf_est_opts_has_target(ctx->opts) ? NULL : ctx->adapters.family.name);
    vf_jw_obj_end(j);
}

static void json_per_gpu(vf_jw *j, const vf_est_result *r)
{
    vf_jw_obj(j, "per_gpu");
    vf_jw_u64(j, "parameters_bytes", r->parameters);
    vf_jw_u64(j, "gradients_bytes", r->gradients);
    vf_jw_u64(j, "optimizer_bytes", r->optimizer);
    vf_jw_u64(j, "activations_bytes", r->activations);
    vf_jw_u64(j, "outputs_bytes", r->outputs);
    vf_jw_u64(j, "additional_bytes", r->additional);
    vf_jw_u64(j, "subtotal_bytes", r->subtotal);
    vf_jw_u64(j, "low_bytes", r->low);
    vf_jw_u64(j, "expected_bytes", r->expected);
    vf_jw_u64(j, "high_bytes", r->high);
    vf_jw_u64(j, "overhead_bytes", r->overhead);
    vf_jw_obj_end(j);
}

static const char *peak_name(vf_peak_rule p)
{
    return p == VF_PEAK_DROP_OUTPUTS ? "drop_outputs" : p == VF_PEAK_DROP_GRADIENTS ? "drop_gradients"
                                                                                   : "sum_all";
}

static void json_notes(vf_jw *j, const vf_notes *a, const vf_notes *b, const vf_notes *c)
{
    vf_jw_arr(j, "notes");
    const vf_notes *lists[3] = {a, b, c};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; lists[k] && i < lists[k]->n; i++)
            vf_jw_str(j, NULL, lists[k]->text[i]);
    vf_jw_arr_end(j);
}

/* One method's result: the whole document (key NULL) or the member `key` of "methods". */
static void json_run(vf_jw *j, const char *key, const est_run *run, const vf_est_ctx *ctx,
                     const vf_est_hw *hw, const vf_notes *hw_notes)
{
    const vf_est_result *r = &run->result;
    if (key)
        vf_jw_obj(j, key);
    else
        vf_jw_doc(j);
    vf_jw_str(j, "method", vf_method_name(run->method));
    vf_jw_origin(j, vf_model_checkpoint(ctx->model));
    vf_jw_bool(j, "compat", ctx->opts->compat);
    vf_jw_u64(j, "gpus", hw->gpus);
    vf_jw_u64(j, "gpu_memory_bytes", hw->gpu_memory);
    vf_jw_str(j, "gpu", *hw->label ? hw->label : NULL);
    if (run->rc != VF_OK) {
        vf_jw_str(j, "error", run->error);
        vf_jw_null(j, "verdict");
        json_notes(j, hw_notes, &ctx->notes, NULL);
        vf_jw_obj_end(j);
        return;
    }
    json_tokens(j, r);
    vf_jw_bool(j, "liger", r->liger);
    json_inputs(j, run, ctx);
    json_per_gpu(j, r);
    vf_jw_obj(j, "total");
    vf_jw_u64(j, "low_bytes", r->total_low);
    vf_jw_u64(j, "expected_bytes", r->total_expected);
    vf_jw_u64(j, "high_bytes", r->total_high);
    vf_jw_obj_end(j);
    vf_jw_obj(j, "multipliers");
    vf_jw_double(j, "low", r->mult_low);
    vf_jw_double(j, "expected", r->mult_expected);
    vf_jw_double(j, "high", r->mult_high);
    vf_jw_obj_end(j);
    vf_jw_str(j, "peak_rule", peak_name(r->peak_rule));
    vf_jw_u64(j, "peak_dropped_bytes", r->peak_dropped);
    vf_jw_bool(j, "model_bound", r->model_bound);
    vf_jw_str(j, "verdict", vf_verdict_name(r->verdict));
    vf_jw_str(j, "decision", vf_verdict_text(r->verdict));
    vf_jw_obj(j, "extra_needed_per_gpu");
    vf_jw_u64(j, "low_bytes", r->need_low);
    vf_jw_u64(j, "expected_bytes", r->need_expected);
    vf_jw_u64(j, "high_bytes", r->need_high);
    vf_jw_obj_end(j);
    json_notes(j, hw_notes, &ctx->notes, &run->notes);
    vf_jw_obj_end(j);
}

/* ---- human: one method -------------------------------------------------------------------------- */

typedef struct component {
    const char *name;
    uint64_t bytes;
    const char *formula;
} component;

static const char *const formulas[VF_METHOD_COUNT][5] = {
    /* parameters, optimizer, gradients, activations, outputs (without Liger) */
    {"4 x P / G", "AdamW, 2 x 4 x P / G", "4 x P / G", "4 x T x L x H", "4 x T x V x 8/3"},
    {"4 x OSFT params / G", "AdamW, 2 x 4 x P / G", "4 x P x u / G", "4 x T x L x H x u",
     "4 x T x V x 7/3"},
    {"(2 x P + 4 x AB) / G", "AdamW, 2 x 2 x AB / G", "2 x AB / G", "2 x T x L x H",
     "2 x T x V x 2"},
    {"(0.5 x P + 4 x AB) / G", "AdamW, 2 x 2 x AB / G", "2 x AB / G", "2 x T x L x H",
     "2 x T x V x 2"},
};

static void fill_components(const est_run *run, component comp[5])
{
    const vf_est_result *r = &run->result;
    const char *const *f = formulas[run->method];
    component c[5] = {{"parameters", r->parameters, f[0]},
                      {"optimizer", r->optimizer, f[1]},
                      {"gradients", r->gradients, f[2]},
                      {"activations", r->activations, f[3]},
                      {"outputs", r->outputs, r->liger ? "0 with Liger kernels" : f[4]}};
    if (r->peak_rule == VF_PEAK_DROP_OUTPUTS)
        c[4].formula = "left out by the peak rule";
    if (r->peak_rule == VF_PEAK_DROP_GRADIENTS)
        c[2].formula = "left out by the peak rule";
    if (r->model_bound) {
        c[0].formula = "P x 1 byte / G (QLoRA bottleneck)";
        for (int i = 1; i < 5; i++)
            c[i].formula = "inside the bottleneck figure";
    }
    memcpy(comp, c, sizeof c);
}

static void human_tokens(vf_buf *b, const vf_est_result *r)
{
    char c[32], n[32], d[32];
    if (r->tokens_num % r->tokens_den == 0) /* whole, or the fraction explained (issue 11) */
        vf_buf_printf(b, "%s tokens per GPU", vf_fmt_count(r->tokens_num / r->tokens_den, c));
    else
        vf_buf_printf(b, "%.2f tokens per GPU (= %s / %s: Training Hub computes with the fraction)",
                      r->tokens_per_gpu, vf_fmt_count(r->tokens_num, n), vf_fmt_count(r->tokens_den, d));
}

static void human_header(vf_buf *b, const vf_est_ctx *ctx, const vf_est_hw *hw, const char *what)
{
    char n1[32], n2[32], n3[32], g[32];
    const vf_est_model *m = &ctx->base;
    vf_buf_printf(b, "%s memory estimate for %s%s\n", what, ctx->display_path,
                  ctx->opts->compat ? "  [--compat training-hub]" : "");
    vf_buf_printf(b, "  model   %s parameters, %llu layers, hidden size %s, vocabulary %s\n",
                  vf_fmt_count(m->parameters, n1), (unsigned long long)m->layers,
                  vf_fmt_count(m->hidden_size, n2), vf_fmt_count(m->vocab_size, n3));
    vf_buf_printf(b, "  GPUs    %u x %s (%s bytes%s%s)\n", (unsigned)hw->gpus,
                  vf_fmt_size(hw->gpu_memory, g), vf_fmt_count(hw->gpu_memory, n1),
                  *hw->label ? ", " : "", hw->label);
}

static void human_summary(vf_buf *b, const vf_est_result *r, uint32_t gpus)
{
    char e[32], l[32], h[32], what[32];
    vf_buf_printf(b, "\n%sSummary%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    snprintf(what, sizeof what, "total, %u GPU%s", (unsigned)gpus, gpus == 1 ? "" : "s");
    vf_buf_printf(b, "  %-16s expected %s, bounds %s - %s\n", what, vf_fmt_size(r->total_expected, e),
                  vf_fmt_size_like(r->total_low, r->total_high, l), vf_fmt_size(r->total_high, h));
    vf_buf_printf(b, "  %-16s expected %s, bounds %s - %s\n", "per GPU", vf_fmt_size(r->expected, e),
                  vf_fmt_size_like(r->low, r->high, l), vf_fmt_size(r->high, h));
}

static void human_breakdown(vf_buf *b, const est_run *run)
{
    const vf_est_result *r = &run->result;
    component comp[5];
    char g[32], n[32];
    fill_components(run, comp);
    vf_unit u = vf_table_unit(r->subtotal > r->overhead ? r->subtotal : r->overhead);
    vf_buf_printf(b, "\n%sComponent breakdown, per GPU%s %20s %7s %17s\n", vf_sty(VF_STY_BOLD),
                  vf_sty(VF_STY_RESET), "", u.name, "bytes");
    for (int i = 0; i < 5; i++) {
        snprintf(g, sizeof g, "%.1f", (double)comp[i].bytes / u.bytes);
        vf_buf_printf(b, "  %-12s %-34s %6s %17s\n", comp[i].name, comp[i].formula, g,
                      vf_fmt_count(comp[i].bytes, n));
    }
    if (r->additional) {
        snprintf(g, sizeof g, "%.1f", (double)r->additional / u.bytes);
        vf_buf_printf(b, "  %-12s %-34s %6s %17s\n", "additional", "", g,
                      vf_fmt_count(r->additional, n));
    }
    snprintf(g, sizeof g, "%.1f", (double)r->subtotal / u.bytes);
    vf_buf_printf(b, "  %-47s %6s %17s\n", "subtotal", g, vf_fmt_count(r->subtotal, n));
    char f[48];
    snprintf(f, sizeof f, "up to %.0f%% of the subtotal", (r->mult_high - 1.0) * 100.0);
    snprintf(g, sizeof g, "%.1f", (double)r->overhead / u.bytes);
    vf_buf_printf(b, "  %-12s %-34s %6s %17s\n", "overhead", f, g, vf_fmt_count(r->overhead, n));
    vf_buf_printf(b, "  low / expected / high = x%.2f / x%.2f / x%.2f of the subtotal\n", r->mult_low,
                  r->mult_expected, r->mult_high);
    vf_buf_printf(b, "  P parameters, G GPUs, T tokens per GPU, L layers, H hidden size, V vocabulary%s\n",
                  run->method == VF_METHOD_OSFT   ? ", u unfreeze rank ratio"
                  : run->method == VF_METHOD_SFT ? ""
                                               : ", AB LoRA adapter parameters");
}

static void human_peak(vf_buf *b, const est_run *run)
{
    const vf_est_result *r = &run->result;
    char g[32];
    vf_buf_printf(b, "\nPeak rule  ");
    if (r->peak_rule == VF_PEAK_SUM_ALL)
        vf_buf_printf(b, "%s: every component is held at once (summed)\n",
                      vf_est_method_label(run->method));
    else
        vf_buf_printf(b, "%s: gradients and outputs never coexist; the smaller, %s (%s), is left out\n",
                      vf_est_method_label(run->method),
                      r->peak_rule == VF_PEAK_DROP_OUTPUTS ? "outputs" : "gradients",
                      vf_fmt_size(r->peak_dropped, g));
    if (r->model_bound)
        vf_buf_printf(b, "           QLoRA bottleneck: the unquantized model (1 byte per parameter) "
                         "is the bound\n");
}

static vf_style verdict_style(vf_verdict v)
{
    return v == VF_VERDICT_FITS ? VF_STY_GREEN : v == VF_VERDICT_NO ? VF_STY_RED : VF_STY_YELLOW;
}

static void human_decision(vf_buf *b, const vf_est_result *r, uint64_t mem)
{
    char m[32], x1[32], x2[32], x3[32];
    static const char *const level[VF_VERDICT_COUNT] = {
        "should work", "will likely work", "may work but isn't recommended", "impossible"};
    vf_buf_printf(b, "\nDecision   %s%s%s on %s per GPU\n", vf_sty(verdict_style(r->verdict)),
                  level[r->verdict], vf_sty(VF_STY_RESET), vf_fmt_size(mem, m));
    vf_buf_printf(b, "           %s\n", vf_verdict_text(r->verdict));
    switch (r->verdict) {
    case VF_VERDICT_FITS:
        vf_buf_printf(b, "           even the high bound (%s per GPU) fits; %s to spare\n",
                      vf_fmt_size(r->high, x1), vf_fmt_size(mem - r->high, x2));
        break;
    case VF_VERDICT_LIKELY:
        vf_buf_printf(b, "           extra memory per GPU to reach the high bound: %s\n",
                      vf_fmt_size(r->need_high, x3));
        break;
    case VF_VERDICT_RISKY:
        vf_buf_printf(b, "           extra memory per GPU: %s recommended (expected), %s ideal (high "
                         "bound)\n", vf_fmt_size(r->need_expected, x2), vf_fmt_size(r->need_high, x3));
        break;
    default:
        vf_buf_printf(b, "           extra memory per GPU: %s minimum (low bound), %s recommended "
                         "(expected), %s ideal (high bound)\n", vf_fmt_size(r->need_low, x1),
                      vf_fmt_size(r->need_expected, x2), vf_fmt_size(r->need_high, x3));
    }
}

static void human_notes(vf_buf *b, const vf_notes *a, const vf_notes *c, const vf_notes *d,
                        const char *prefix)
{
    const vf_notes *lists[3] = {a, c, d};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; lists[k] && i < lists[k]->n; i++)
            vf_buf_printf(b, "  - %s%s\n", prefix, lists[k]->text[i]);
}

/* --verbose: the exact inputs of the formulas and the target family. */
static void human_inputs(vf_buf *b, const est_run *run, const vf_est_ctx *ctx)
{
    char n1[32], n2[32];
    const vf_est_model *m = &run->model;
    vf_buf_printf(b, "  inputs  P = %s, L = %llu, H = %llu, V = %llu", vf_fmt_count(m->parameters, n1),
                  (unsigned long long)m->layers, (unsigned long long)m->hidden_size,
                  (unsigned long long)m->vocab_size);
    if (run->method == VF_METHOD_LORA || run->method == VF_METHOD_QLORA)
        vf_buf_printf(b, ", AB = r x sum(in+out) = %u x %s", (unsigned)run->setup.lora_r,
                      vf_fmt_count(m->lora_dim_sum, n2));
    if (run->method == VF_METHOD_OSFT)
        vf_buf_printf(b, ", OSFT params = %s", vf_fmt_count(m->osft_params, n2));
    vf_buf_printf(b, "\n");
    if (run->method != VF_METHOD_SFT && !vf_est_opts_has_target(ctx->opts))
        vf_buf_printf(b, "  family  %s: %s\n", ctx->adapters.family.name, ctx->adapters.family.reason);
}

static void human_one(vf_buf *b, const est_run *run, const vf_est_ctx *ctx, const vf_est_hw *hw,
                      const vf_notes *hw_notes)
{
    const vf_est_result *r = &run->result;
    char title[64];
    snprintf(title, sizeof title, "%s", vf_est_method_label(run->method));
    human_header(b, ctx, hw, title);
    vf_buf_printf(b, "  setup   ");
    human_tokens(b, r);
    vf_buf_printf(b, " (%s), Liger %s",
                  r->tokens_source == VF_TOKENS_MAX_TOKENS ? "--max-tokens-per-gpu"
                                                           : "--batch-size x --max-seq-len / GPUs",
                  r->liger ? "on" : "off");
    if (run->method == VF_METHOD_LORA || run->method == VF_METHOD_QLORA)
        vf_buf_printf(b, ", LoRA rank %u", (unsigned)run->setup.lora_r);
    if (run->method == VF_METHOD_OSFT)
        vf_buf_printf(b, ", unfreeze rank ratio %g", run->setup.unfreeze_rank_ratio);
    vf_buf_printf(b, "\n");
    if (vf_ui_verbose())
        human_inputs(b, run, ctx);
    human_summary(b, r, hw->gpus);
    human_breakdown(b, run);
    human_peak(b, run);
    human_decision(b, r, hw->gpu_memory);
    if (vf_ui_quiet())
        return;
    vf_buf_printf(b, "\n%sNotes%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    human_notes(b, hw_notes, &ctx->notes, &run->notes, "");
    vf_buf_printf(b, "  - sizes are binary, GiB (2^30 bytes) or MiB (2^20); Training Hub prints GiB "
                     "figures labelled "
                     "\"GB\"\n");
}

/* ---- human: --method all ------------------------------------------------------------------------ */

static void cell(vf_buf *b, uint64_t v, int width, vf_unit u)
{
    vf_buf_printf(b, " %*.1f", width, (double)v / u.bytes);
}

static void human_row(vf_buf *b, const est_run *run, vf_unit u)
{
    const vf_est_result *r = &run->result;
    char t[32], e[48];
    vf_buf_printf(b, "%-6s", vf_est_method_label(run->method));
    if (run->rc != VF_OK) {
        vf_buf_printf(b, "  not estimated: %s\n", run->error);
        return;
    }
    if (r->tokens_num % r->tokens_den == 0)
        vf_fmt_count(r->tokens_num / r->tokens_den, t);
    else
        snprintf(t, sizeof t, "%.2f", r->tokens_per_gpu);
    vf_buf_printf(b, " %10s", t);
    cell(b, r->parameters, 7, u);
    cell(b, r->optimizer, 6, u);
    cell(b, r->gradients, 6, u);
    cell(b, r->activations, 6, u);
    cell(b, r->outputs, 7, u);
    cell(b, r->overhead, 8, u);
    snprintf(e, sizeof e, "%.1f (%.1f - %.1f)", (double)r->expected / u.bytes,
             (double)r->low / u.bytes, (double)r->high / u.bytes);
    vf_buf_printf(b, "  %-22s %s%s%s\n", e, vf_sty(verdict_style(r->verdict)),
                  r->verdict == VF_VERDICT_FITS     ? "should work"
                  : r->verdict == VF_VERDICT_LIKELY ? "will likely work"
                  : r->verdict == VF_VERDICT_RISKY  ? "may work, not recommended"
                                                    : "impossible",
                  vf_sty(VF_STY_RESET));
}

/* Prints the notes of every method once: a note already printed (the target family is the same for
 * LoRA, QLoRA and OSFT) is skipped, and one that does not name its method gets it as a prefix. */
static void human_all_notes(vf_buf *b, const est_run *runs)
{
    const char *seen[VF_METHOD_COUNT * VF_NOTES_MAX];
    size_t nseen = 0;
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        const char *label = vf_est_method_label(runs[i].method);
        for (size_t k = 0; k < runs[i].notes.n; k++) {
            const char *t = runs[i].notes.text[k];
            bool dup = false;
            for (size_t s = 0; s < nseen && !dup; s++)
                dup = strcmp(seen[s], t) == 0;
            if (dup)
                continue;
            seen[nseen++] = t;
            bool named = strncmp(t, label, strlen(label)) == 0;
            vf_buf_printf(b, "  - %s%s%s\n", named ? "" : label, named ? "" : ": ", t);
        }
    }
}

static void human_all(vf_buf *b, const est_run *runs, const vf_est_ctx *ctx, const vf_est_hw *hw,
                      const vf_notes *hw_notes)
{
    human_header(b, ctx, hw, "All-method");
    uint64_t largest = 0;
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        if (runs[i].rc == VF_OK && runs[i].result.high > largest)
            largest = runs[i].result.high;
    vf_unit u = vf_table_unit(largest);
    vf_buf_printf(b, "\n%sPer GPU, in %s%s\n", vf_sty(VF_STY_BOLD), u.name, vf_sty(VF_STY_RESET));
    vf_buf_printf(b, "%-6s %10s %7s %6s %6s %6s %7s %8s  %-22s %s\n", "method", "tokens/GPU", "params",
                  "optim", "grads", "activ", "outputs", "overhead", "expected (low - high)",
                  "decision");
    const vf_est_result *split = NULL; /* a run whose tokens per GPU is not whole */
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        human_row(b, &runs[i], u);
        if (runs[i].rc == VF_OK && runs[i].result.tokens_num % runs[i].result.tokens_den)
            split = &runs[i].result;
    }
    if (split) {
        char n[32], d[32];
        vf_buf_printf(b, "tokens/GPU %.2f = %s / %s: not whole; Training Hub computes with the fraction\n",
                      split->tokens_per_gpu, vf_fmt_count(split->tokens_num, n),
                      vf_fmt_count(split->tokens_den, d));
    }
    if (vf_ui_quiet())
        return;
    vf_buf_printf(b, "\n%sNotes%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    human_notes(b, hw_notes, &ctx->notes, NULL, "");
    human_all_notes(b, runs);
    vf_buf_printf(b, "  - sizes are binary, GiB (2^30 bytes) or MiB (2^20); Training Hub prints GiB "
                     "figures labelled "
                     "\"GB\"\n");
}

/* ---- command ------------------------------------------------------------------------------------ */

typedef struct estimate_opts {
    vf_est_opts o;
    vf_dt_opts dt;   /* --estimator detailed and its levers */
    bool all, json, check;
    const char *svg; /* --svg FILE or NULL */
    vf_method method;
} estimate_opts;

static int estimate_store(void *parsed, const vf_opt *opt, const char *val)
{
    estimate_opts *opts = parsed;
    if (opt->id == OPT_METHOD) {
        size_t m = 0;
        int rc = vf_opt_choice("estimate", opt, val, &m);
        if (rc != VF_EXIT_OK)
            return rc;
        opts->all = m == VF_METHOD_COUNT; /* "all", after the four method names */
        if (!opts->all && !vf_method_from_name(val, &opts->method))
            return VF_EXIT_INTERNAL; /* the table's values disagree with the library's names */
    }
    opts->json |= opt->id == OPT_JSON;
    opts->check |= opt->id == OPT_CHECK;
    opts->svg = opt->id == OPT_SVG ? val : opts->svg;
    if (vf_est_opt(&opts->o, opt->id, val) < 0 || vf_dt_opt(&opts->dt, opt, val) < 0)
        return VF_EXIT_USAGE;
    return VF_EXIT_OK;
}

/* Parses argv into *opts; returns VF_CLI_CONTINUE, else the exit code. */
static int parse(int argc, char **argv, estimate_opts *opts)
{
    vf_cmdline line;
    vf_est_opts_init(&opts->o, "estimate");
    vf_dt_opts_init(&opts->dt);
    opts->method = VF_METHOD_SFT;
    int rc = vf_cli_parse(&vf_estimate_command, argc, argv, &line, opts, estimate_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    opts->o.path = line.operand;
    opts->o.open = line.open;
    if (!opts->dt.detailed && opts->dt.first_lever)
        return vf_usage_error("estimate", "--%s needs --estimator detailed (the Training Hub "
                                          "estimator has fixed assumptions)", opts->dt.first_lever);
    if (opts->dt.detailed && opts->all)
        return vf_usage_error("estimate", "--estimator detailed estimates one --method at a time");
    return vf_est_opts_check(&opts->o);
}

/* Exit status for --check: the verdict of the single method, or the best one with --method all. */
static int check_code(const est_run *runs, int n)
{
    int best = VF_VERDICT_COUNT;
    for (int i = 0; i < n; i++)
        if (runs[i].rc == VF_OK && (int)runs[i].result.verdict < best)
            best = (int)runs[i].result.verdict;
    return best <= VF_VERDICT_LIKELY ? VF_EXIT_OK : best == VF_VERDICT_RISKY ? VF_EXIT_RISKY
                                                                             : VF_EXIT_NO_FIT;
}

/* --svg: draws the runs (a failed one as "not estimated") and prepares opts->svg; returns the exit code. */
static int prepare_svg(const estimate_opts *opts, const vf_est_ctx *ctx, const vf_est_hw *hw, const est_run *runs,
                       int n, vf_output **o)
{
    vf_svg_method m[VF_METHOD_COUNT];
    for (int i = 0; i < n; i++)
        m[i] = (vf_svg_method){runs[i].method, runs[i].rc == VF_OK ? &runs[i].result : NULL,
                               runs[i].error};
    vf_svg_estimate e = {ctx->display_path, hw->gpus, hw->gpu_memory, hw->label, m, (size_t)n};
    return vf_svg_estimate_prepare(opts->svg, &e, vf_model_checkpoint(ctx->model), opts->o.path, o);
}

/* A failed method: a usage error names the command, any other is "vramfit: error:". */
static int fail_run(const est_run *run)
{
    if (run->exit_code == VF_EXIT_USAGE)
        return vf_usage_error("estimate", "%s", run->error);
    return vf_cli_error(run->exit_code, "%s", run->error);
}

/* Runs the methods and renders; returns the exit code (output flushed only on success). A failing
 * method fails the command, except under --method all where it becomes a row of its own unless it
 * is a bad explicit --target (the user's mistake whatever the method) or every method fails. */
static int render(const estimate_opts *opts, vf_est_ctx *ctx, const vf_est_hw *hw, const vf_notes *hw_notes,
                  est_run *runs)
{
    int n = opts->all ? VF_METHOD_COUNT : 1, ok = 0, first_fail = -1;
    for (int i = 0; i < n; i++) {
        est_run *run = &runs[i];
        run_method(ctx, &opts->o, hw, opts->all ? (vf_method)i : opts->method, opts->json || opts->all, run);
        if (run->rc == VF_OK) {
            ok++;
            continue;
        }
        if (!opts->all || (run->rc == VF_ERR_USAGE && run->method != VF_METHOD_SFT &&
                        vf_est_opts_has_target(&opts->o) && ctx->adapters_rc != VF_OK))
            return fail_run(run);
        if (first_fail < 0)
            first_fail = i;
    }
    if (!ok)
        return fail_run(&runs[first_fail]);
    vf_buf b = {0};
    vf_jw j = {.b = &b};
    if (opts->json && opts->all) { /* --method all: {"schema", "methods": {"sft": {...}, ...}} */
        vf_jw_doc(&j);
        vf_jw_obj(&j, "methods");
    }
    for (int i = 0; opts->json && i < n; i++)
        json_run(&j, opts->all ? vf_method_name(runs[i].method) : NULL, &runs[i], ctx, hw, hw_notes);
    if (opts->json && opts->all) {
        vf_jw_obj_end(&j);
        vf_jw_obj_end(&j);
    }
    if (!opts->json && opts->all)
        human_all(&b, runs, ctx, hw, hw_notes);
    else if (!opts->json)
        human_one(&b, &runs[0], ctx, hw, hw_notes);
    vf_output *svg = NULL;
    int rc = opts->svg && !b.failed ? prepare_svg(opts, ctx, hw, runs, n, &svg) : VF_EXIT_OK;
    if (rc == VF_EXIT_OK)
        rc = vf_cli_flush_commit(&b, svg);
    vf_buf_free(&b);
    if (rc == VF_EXIT_OK && opts->check)
        rc = check_code(runs, n);
    return rc;
}

static int estimate_run(int argc, char **argv)
{
    estimate_opts opts = {0};
    int rc = parse(argc, argv, &opts);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    if (opts.dt.detailed)
        return vf_dt_run(&opts.dt, &opts.o, opts.method, opts.json, opts.check, opts.svg);
    vf_est_hw hw;
    vf_notes hw_notes = {0};
    if ((rc = vf_est_resolve_hw(&opts.o, &hw, &hw_notes)) != VF_EXIT_OK)
        return rc;
    vf_est_ctx *ctx = calloc(1, sizeof *ctx);
    est_run *runs = calloc(VF_METHOD_COUNT, sizeof *runs);
    vf_error err = {0};
    if (!ctx || !runs) {
        rc = vf_cli_error(VF_EXIT_INTERNAL, "out of memory");
    } else if (vf_est_ctx_open(ctx, &opts.o, &err) != VF_OK) {
        rc = vf_cli_fail(&err);
    } else {
        rc = render(&opts, ctx, &hw, &hw_notes, runs);
    }
    if (ctx)
        vf_est_ctx_close(ctx);
    free(ctx);
    free(runs);
    return rc;
}

const vf_command vf_estimate_command = {
    .name = "estimate",
    .summary = "fine-tuning memory per GPU (Training Hub's formulas) and verdict",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit estimate PATH [--method sft|osft|lora|qlora|all] (--gpu NAME|auto |\n"
        "                        --gpu-memory SIZE) [--gpus N] [setup options] [--json] [--check]\n\n"
        "Estimates the GPU memory of fine-tuning the checkpoint at PATH with Red Hat Training Hub's\n"
        "formulas (memory_estimator.py), fed with exact counts from the safetensors headers:\n"
        "parameters P, layers L, hidden size H, vocabulary V, LoRA adapter parameters AB and OSFT\n"
        "U/S/V sizes. Prints the expected memory with its low/high bounds (total and per GPU),\n"
        "the per-GPU components, the overhead, the peak rule that applied and Training Hub's\n"
        "decision: should work / will likely work / may work but isn't recommended / impossible,\n"
        "with the extra memory per GPU each bound needs. Sizes are GiB (2^30 bytes).\n\n",
    .options = estimate_table,
    .footer = "\n--quiet leaves out the notes; --verbose adds the exact inputs of the formulas and the\n"
              "target family with its reason. 'vramfit gpus' lists the --gpu names one per line.\n\n",
    .footer_more = estimate_footer,
    .run = estimate_run,
};
