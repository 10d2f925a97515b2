/* cmd_plan.c - `vramfit plan PATH --gpu ... [--gpus N]`: the hyperparameter suggestions Training Hub
 * lists as future work, solved statically on its own formulas. For each method: the largest tokens
 * per GPU whose expected memory stays within --margin of a GPU (exact, then the largest usual power
 * of two), the fewest GPUs that fit at the given tokens, the largest LoRA rank and OSFT unfreeze
 * ratio that fit; then the methods that fit, ranked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_est_cli.h"

enum { OPT_JSON = 1, OPT_MARGIN, OPT_MAX_GPUS };

static const vf_opt plan_table[] = {
    VF_OPT_COLUMN(24),
    {"margin", 0, "F", OPT_MARGIN,
     "fraction of each GPU's memory the expected estimate may use, in\n"
     "(0, 1] (default 0.90)"},
    {"max-gpus", 0, "N", OPT_MAX_GPUS, "largest GPU count tried for 'fewest GPUs' (default 1024)"},
    {"json", 0, NULL, OPT_JSON, "JSON on stdout (exact byte counts)"},
    VF_EST_SETUP_OPTS,
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

#define PLAN_DEFAULT_BATCH 4u    /* Training Hub's example notebook */
#define PLAN_DEFAULT_SEQ 4096u
#define PLAN_DEFAULT_MAX_GPUS 1024u
#define PLAN_RANK_LIMIT 65536u   /* when the hidden size is unknown */

static const uint64_t usual_tokens[] = {16384, 8192, 4096, 2048, 1024, 512, 256};

/* ---- one method --------------------------------------------------------------------------------- */

typedef struct plan_row {
    vf_method method;
    int rc;                   /* VF_OK or why the method could not be planned */
    char error[VF_ERROR_MESSAGE_MAX + 64];
    vf_est_setup setup;
    vf_est_result now;        /* the estimate at the given tokens */
    bool fits;                /* now.expected <= budget */
    uint64_t max_tokens;      /* 0 none, UINT64_MAX any */
    uint64_t usual;           /* 0 when none of the usual values fits */
    uint32_t min_gpus;        /* 0 when even max_gpus does not fit */
    uint32_t max_rank;        /* LoRA/QLoRA; 0 when none */
    uint32_t rank_limit;
    double max_ratio;         /* OSFT; 0 when none */
} plan_row;

typedef struct plan_opts {
    vf_est_opts o;
    bool json;
    double margin;
    uint32_t max_gpus;
} plan_opts;

static void row_fail(plan_row *row, int rc, const char *msg)
{
    row->rc = rc;
    snprintf(row->error, sizeof row->error, "%s", msg);
}

static void row_fail_err(plan_row *row, int rc, const vf_error *err)
{
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    row_fail(row, rc, vf_error_format(err, line, sizeof line));
}

/* The options for one method: the user's tokens, else Training Hub's example batch. */
static vf_est_opts method_opts(const vf_est_opts *o, vf_method m)
{
    vf_est_opts mo = *o;
    const bool lora = m == VF_METHOD_LORA || m == VF_METHOD_QLORA;
    if (!(mo.batch && mo.seq) && (lora || !mo.max_tokens)) {
        mo.batch = PLAN_DEFAULT_BATCH;
        mo.seq = PLAN_DEFAULT_SEQ;
    }
    return mo;
}

/* floor(margin x M), exactly as the estimator's planning helpers compute it. */
static uint64_t budget_of(uint64_t mem, double margin)
{
    if (margin >= 1.0)
        return mem;
    double b = floor(margin * (double)mem);
    uint64_t v = b >= 18446744073709551616.0 ? mem : (uint64_t)b;
    return v > mem ? mem : v;
}

static uint64_t usual_below(uint64_t t)
{
    for (size_t i = 0; i < sizeof usual_tokens / sizeof usual_tokens[0]; i++)
        if (usual_tokens[i] <= t)
            return usual_tokens[i];
    return 0;
}

/* The searches of one method; the first failure is recorded. */
static void row_search(plan_row *row, const vf_est_model *m, const plan_opts *opts, uint64_t hidden)
{
    vf_error err = {0};
    int rc = vf_est_max_tokens(m, &row->setup, VF_BOUND_EXPECTED, opts->margin, &row->max_tokens, &err);
    if (rc == VF_OK)
        rc = vf_est_min_gpus(m, &row->setup, VF_BOUND_EXPECTED, opts->margin, opts->max_gpus, &row->min_gpus,
                             &err);
    row->usual = usual_below(row->max_tokens);
    row->rank_limit = hidden && hidden < PLAN_RANK_LIMIT ? (uint32_t)hidden : PLAN_RANK_LIMIT;
    if (rc == VF_OK && (row->method == VF_METHOD_LORA || row->method == VF_METHOD_QLORA))
        rc = vf_est_max_lora_rank(m, &row->setup, VF_BOUND_EXPECTED, opts->margin, row->rank_limit,
                                  &row->max_rank, &err);
    if (rc == VF_OK && row->method == VF_METHOD_OSFT)
        rc = vf_est_max_unfreeze_ratio(m, &row->setup, VF_BOUND_EXPECTED, opts->margin, &row->max_ratio,
                                       &err);
    if (rc != VF_OK)
        row_fail_err(row, rc, &err);
}

static void plan_method(vf_est_ctx *ctx, const plan_opts *opts, const vf_est_hw *hw, vf_method method,
                        plan_row *row)
{
    vf_est_opts mo = method_opts(&opts->o, method);
    vf_est_model m;
    vf_error err = {0};
    char msg[VF_ERROR_MESSAGE_MAX];
    memset(row, 0, sizeof *row);
    row->method = method;
    if (!vf_est_tokens_ok(&mo, method, msg, sizeof msg)) {
        row_fail(row, VF_ERR_USAGE, msg);
        return;
    }
    int rc = vf_est_ctx_model(ctx, method, &m, NULL, &err);
    if (rc == VF_OK) {
        vf_est_setup_for(&mo, hw, method, &row->setup);
        rc = vf_estimate(&m, &row->setup, &row->now, &err);
    }
    if (rc != VF_OK) {
        row_fail_err(row, rc, &err);
        return;
    }
    row->fits = row->now.expected <= budget_of(hw->gpu_memory, opts->margin);
    row_search(row, &m, opts, m.hidden_size);
}

/* ---- notes -------------------------------------------------------------------------------------- */

static void plan_notes(const plan_opts *opts, vf_est_ctx *ctx, const plan_row *rows, vf_notes *n)
{
    vf_notes tn = {0};
    vf_est_model m;
    vf_error err = {0};
    if (!(opts->o.batch && opts->o.seq))
        vf_notes_add(n, "%s use Training Hub's example batch: --batch-size %u --max-seq-len %u",
                     opts->o.max_tokens ? "LoRA and QLoRA" : "all methods", PLAN_DEFAULT_BATCH,
                     PLAN_DEFAULT_SEQ);
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        if (rows[i].rc == VF_OK && rows[i].method != VF_METHOD_SFT) {
            /* target notes once, from the first adapter method that worked */
            vf_est_ctx_model(ctx, rows[i].method, &m, &tn, &err);
            for (size_t j = 0; j < tn.n; j++)
                vf_notes_add(n, "%s", tn.text[j]);
            break;
        }
    vf_notes_add(n, "planning uses the expected estimate; the high bound (x1.2-1.3 of the subtotal) "
                    "may still exceed the budget - check a choice with 'vramfit estimate'");
}

/* ---- JSON --------------------------------------------------------------------------------------- */

static void json_opt_u64(vf_jw *j, const char *key, uint64_t v, bool present)
{
    if (present)
        vf_jw_u64(j, key, v);
    else
        vf_jw_null(j, key);
}

static void json_row(vf_jw *j, const plan_row *row, const vf_est_hw *hw)
{
    const bool lora = row->method == VF_METHOD_LORA || row->method == VF_METHOD_QLORA;
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "method", vf_method_name(row->method));
    if (row->rc != VF_OK) {
        vf_jw_str(j, "error", row->error);
        vf_jw_bool(j, "fits", false);
        vf_jw_obj_end(j);
        return;
    }
    if (row->now.tokens_num % row->now.tokens_den == 0)
        vf_jw_u64(j, "tokens_per_gpu", row->now.tokens_num / row->now.tokens_den);
    else
        vf_jw_double(j, "tokens_per_gpu", row->now.tokens_per_gpu);
    vf_jw_u64(j, "expected_bytes", row->now.expected);
    vf_jw_str(j, "verdict", vf_verdict_name(row->now.verdict));
    vf_jw_bool(j, "fits", row->fits);
    vf_jw_bool(j, "max_tokens_unbounded", row->max_tokens == UINT64_MAX);
    json_opt_u64(j, "max_tokens_per_gpu", row->max_tokens, row->max_tokens && row->max_tokens != UINT64_MAX);
    json_opt_u64(j, "usual_tokens_per_gpu", row->usual, row->usual != 0);
    if (lora)
        json_opt_u64(j, "max_batch_x_seq", row->max_tokens * hw->gpus,
                     row->max_tokens && row->max_tokens <= UINT64_MAX / hw->gpus);
    json_opt_u64(j, "min_gpus", row->min_gpus, row->min_gpus != 0);
    if (lora) {
        json_opt_u64(j, "max_lora_r", row->max_rank, row->max_rank != 0);
        vf_jw_u64(j, "lora_r_limit", row->rank_limit);
    }
    if (row->method == VF_METHOD_OSFT) {
        if (row->max_ratio > 0)
            vf_jw_double(j, "max_unfreeze_rank_ratio", row->max_ratio);
        else
            vf_jw_null(j, "max_unfreeze_rank_ratio");
    }
    vf_jw_obj_end(j);
}

static void plan_json(vf_buf *b, const plan_opts *opts, const vf_est_ctx *ctx, const vf_est_hw *hw,
                      const plan_row *rows, const vf_notes *notes)
{
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    vf_jw_origin(&j, vf_model_checkpoint(ctx->model));
    vf_jw_bool(&j, "compat", opts->o.compat);
    vf_jw_u64(&j, "gpus", hw->gpus);
    vf_jw_u64(&j, "gpu_memory_bytes", hw->gpu_memory);
    vf_jw_str(&j, "gpu", *hw->label ? hw->label : NULL);
    vf_jw_double(&j, "margin", opts->margin);
    vf_jw_u64(&j, "budget_bytes", budget_of(hw->gpu_memory, opts->margin));
    vf_jw_str(&j, "bound", "expected");
    vf_jw_arr(&j, "methods");
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        json_row(&j, &rows[i], hw);
    vf_jw_arr_end(&j);
    vf_jw_arr(&j, "ranking");
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        if (rows[i].rc == VF_OK && rows[i].fits)
            vf_jw_str(&j, NULL, vf_method_name(rows[i].method));
    vf_jw_arr_end(&j);
    vf_jw_arr(&j, "notes");
    for (size_t i = 0; i < ctx->notes.n; i++)
        vf_jw_str(&j, NULL, ctx->notes.text[i]);
    for (size_t i = 0; i < notes->n; i++)
        vf_jw_str(&j, NULL, notes->text[i]);
    vf_jw_arr_end(&j);
    vf_jw_obj_end(&j);
}

/* ---- human -------------------------------------------------------------------------------------- */

static void plan_header(vf_buf *b, const plan_opts *opts, const vf_est_ctx *ctx, const vf_est_hw *hw)
{
    char n1[32], n2[32], n3[32], g[32], bud[32];
    const vf_est_model *m = &ctx->base;
    vf_buf_printf(b, "Plan for %s%s\n", ctx->display_path, opts->o.compat ? "  [--compat training-hub]" : "");
    vf_buf_printf(b, "  model   %s parameters, %llu layers, hidden size %s, vocabulary %s\n",
                  vf_fmt_count(m->parameters, n1), (unsigned long long)m->layers,
                  vf_fmt_count(m->hidden_size, n2), vf_fmt_count(m->vocab_size, n3));
    vf_buf_printf(b, "  GPUs    %u x %s (%s bytes%s%s)\n", (unsigned)hw->gpus,
                  vf_fmt_size(hw->gpu_memory, g), vf_fmt_count(hw->gpu_memory, n1),
                  *hw->label ? ", " : "", hw->label);
    vf_buf_printf(b, "  budget  %s per GPU: expected memory within %g%% of each GPU (--margin %g)\n",
                  vf_fmt_size(budget_of(hw->gpu_memory, opts->margin), bud), opts->margin * 100, opts->margin);
    if (!vf_ui_verbose())
        return;
    vf_buf_printf(b, "          budget = floor(margin x GPU memory) = floor(%g x %s) = %s bytes\n", opts->margin,
                  vf_fmt_count(hw->gpu_memory, n1), vf_fmt_count(budget_of(hw->gpu_memory, opts->margin), n2));
    if (ctx->adapters_done && ctx->adapters_rc == VF_OK && !vf_est_opts_has_target(&opts->o))
        vf_buf_printf(b, "  family  %s (LoRA/OSFT targets): %s\n", ctx->adapters.family.name,
                      ctx->adapters.family.reason);
}

static void cell_tokens(vf_buf *b, uint64_t t, int width)
{
    char c[32];
    if (t == UINT64_MAX)
        vf_buf_printf(b, " %*s", width, "any");
    else if (t == 0)
        vf_buf_printf(b, " %*s", width, "none");
    else
        vf_buf_printf(b, " %*s", width, vf_fmt_count(t, c));
}

static void plan_row_human(vf_buf *b, const plan_row *row)
{
    char t[32], e[32];
    vf_buf_printf(b, "%-6s", vf_est_method_label(row->method));
    if (row->rc != VF_OK) {
        vf_buf_printf(b, "  not planned: %s\n", row->error);
        return;
    }
    if (row->now.tokens_num % row->now.tokens_den == 0)
        vf_fmt_count(row->now.tokens_num / row->now.tokens_den, t);
    else
        snprintf(t, sizeof t, "%.2f", row->now.tokens_per_gpu);
    vf_buf_printf(b, " %10s %10s %s%4s%s", t, vf_fmt_size(row->now.expected, e),
                  vf_sty(row->fits ? VF_STY_GREEN : VF_STY_RED), row->fits ? "yes" : "no", vf_sty(VF_STY_RESET));
    cell_tokens(b, row->max_tokens, 12);
    if (row->usual)
        vf_buf_printf(b, " %6llu", (unsigned long long)row->usual);
    else
        vf_buf_printf(b, " %6s", "-");
    if (row->min_gpus)
        vf_buf_printf(b, " %7u", (unsigned)row->min_gpus);
    else
        vf_buf_printf(b, " %7s", "none");
    snprintf(e, sizeof e, "%s", row->method == VF_METHOD_LORA || row->method == VF_METHOD_QLORA ? "none" : "-");
    if (row->max_rank)
        snprintf(e, sizeof e, "%u%s", (unsigned)row->max_rank, row->max_rank == row->rank_limit ? "+" : "");
    vf_buf_printf(b, " %8s", e);
    if (row->method == VF_METHOD_OSFT && row->max_ratio > 0)
        vf_buf_printf(b, " %10.2f\n", row->max_ratio);
    else
        vf_buf_printf(b, " %10s\n", row->method == VF_METHOD_OSFT ? "none" : "-");
}

static void plan_ranking(vf_buf *b, const plan_opts *opts, const vf_est_hw *hw, const plan_row *rows)
{
    char e[32], t[32];
    int rank = 0;
    uint64_t budget = budget_of(hw->gpu_memory, opts->margin);
    vf_buf_printf(b, "\n%sMethods that fit at these tokens%s (ranked by how much of the model they train)\n",
                  vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        const plan_row *row = &rows[i];
        if (row->rc != VF_OK || !row->fits)
            continue;
        vf_buf_printf(b, "  %d. %-6s expected %s per GPU, %.0f%% of the budget", ++rank,
                      vf_est_method_label(row->method), vf_fmt_size(row->now.expected, e),
                      budget ? 100.0 * (double)row->now.expected / (double)budget : 0.0);
        if (row->max_tokens == UINT64_MAX)
            vf_buf_printf(b, "; any tokens per GPU fit\n");
        else
            vf_buf_printf(b, "; up to %s tokens per GPU\n", vf_fmt_count(row->max_tokens, t));
    }
    if (!rank)
        vf_buf_printf(b, "  none: lower the tokens per GPU (see 'max tokens'), add GPUs (see 'fewest "
                         "GPUs') or choose larger GPUs\n");
}

static void plan_human(vf_buf *b, const plan_opts *opts, const vf_est_ctx *ctx, const vf_est_hw *hw,
                       const plan_row *rows, const vf_notes *notes)
{
    plan_header(b, opts, ctx, hw);
    vf_buf_printf(b, "\n%-6s %10s %10s %4s %12s %6s %7s %8s %10s\n", "", "tokens/GPU", "expected",
                  "", "max tokens", "usual", "fewest", "largest", "largest");
    vf_buf_printf(b, "%-6s %10s %10s %4s %12s %6s %7s %8s %10s\n", "method", "(given)", "per GPU",
                  "fits", "per GPU", "value", "GPUs", "LoRA r", "OSFT ratio");
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        plan_row_human(b, &rows[i]);
    plan_ranking(b, opts, hw, rows);
    if (vf_ui_quiet())
        return;
    vf_buf_printf(b, "\n%sNotes%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < ctx->notes.n; i++)
        vf_buf_printf(b, "  - %s\n", ctx->notes.text[i]);
    for (size_t i = 0; i < notes->n; i++)
        vf_buf_printf(b, "  - %s\n", notes->text[i]);
    vf_buf_printf(b, "  - LoRA/QLoRA max tokens are batch size x sequence length / GPUs; a '+' rank "
                     "reached the search limit (the hidden size)\n");
    vf_buf_printf(b, "  - sizes are binary, GiB (2^30 bytes) or MiB (2^20); Training Hub prints GiB "
                     "figures labelled "
                     "\"GB\"\n");
}

/* ---- command ------------------------------------------------------------------------------------ */

static int parse_margin(plan_opts *opts, const char *val)
{
    if (!vf_parse_double("plan", "margin", val, &opts->margin))
        return VF_EXIT_USAGE;
    if (!(opts->margin > 0.0 && opts->margin <= 1.0))
        return vf_usage_error("plan", "--margin must be greater than 0 and at most 1, got '%s'", val);
    return -1;
}

static int parse_max_gpus(plan_opts *opts, const char *val)
{
    uint64_t v;
    if (!vf_parse_u64("plan", "max-gpus", val, &v))
        return VF_EXIT_USAGE;
    if (v == 0 || v > UINT32_MAX)
        return vf_usage_error("plan", "--max-gpus must be between 1 and %u, got '%s'", UINT32_MAX, val);
    opts->max_gpus = (uint32_t)v;
    return -1;
}

static int plan_store(void *parsed, const vf_opt *opt, const char *val)
{
    plan_opts *opts = parsed;
    opts->json |= opt->id == OPT_JSON;
    int rc = opt->id == OPT_MARGIN ? parse_margin(opts, val) : opt->id == OPT_MAX_GPUS ? parse_max_gpus(opts, val) : -1;
    if (rc >= 0)
        return rc;
    return vf_est_opt(&opts->o, opt->id, val) < 0 ? VF_EXIT_USAGE : VF_EXIT_OK;
}

/* Parses argv into *opts; returns VF_CLI_CONTINUE, else the exit code. */
static int parse(int argc, char **argv, plan_opts *opts)
{
    vf_cmdline line;
    vf_est_opts_init(&opts->o, "plan");
    opts->margin = 0.90;
    opts->max_gpus = PLAN_DEFAULT_MAX_GPUS;
    int rc = vf_cli_parse(&vf_plan_command, argc, argv, &line, opts, plan_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    opts->o.path = line.operand;
    opts->o.open = line.open;
    return vf_est_opts_check(&opts->o);
}

static int plan_run(const plan_opts *opts, vf_est_ctx *ctx, const vf_est_hw *hw, vf_notes *notes,
                    plan_row *rows)
{
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        plan_method(ctx, opts, hw, (vf_method)i, &rows[i]);
        /* a bad explicit --target is the user's mistake, not a property of the method */
        if (rows[i].rc == VF_ERR_USAGE && i != VF_METHOD_SFT && vf_est_opts_has_target(&opts->o) &&
            ctx->adapters_rc != VF_OK) {
            return vf_usage_error("plan", "%s", rows[i].error);
        }
    }
    plan_notes(opts, ctx, rows, notes);
    vf_buf b = {0};
    if (opts->json)
        plan_json(&b, opts, ctx, hw, rows, notes);
    else
        plan_human(&b, opts, ctx, hw, rows, notes);
    int rc = vf_buf_flush(&b);
    vf_buf_free(&b);
    return rc;
}

static int plan_run_command(int argc, char **argv)
{
    plan_opts opts = {0};
    int rc = parse(argc, argv, &opts);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    vf_est_hw hw;
    vf_notes *notes = calloc(1, sizeof *notes);
    vf_est_ctx *ctx = calloc(1, sizeof *ctx);
    plan_row *rows = calloc(VF_METHOD_COUNT, sizeof *rows);
    vf_error err = {0};
    if (!notes || !ctx || !rows) {
        rc = vf_cli_error(VF_EXIT_INTERNAL, "out of memory");
    } else if ((rc = vf_est_resolve_hw(&opts.o, &hw, notes)) != VF_EXIT_OK) {
        /* message already printed */
    } else if (vf_est_ctx_open(ctx, &opts.o, &err) != VF_OK) {
        rc = vf_cli_fail(&err);
    } else {
        rc = plan_run(&opts, ctx, &hw, notes, rows);
    }
    if (ctx)
        vf_est_ctx_close(ctx);
    free(ctx);
    free(notes);
    free(rows);
    return rc;
}

const vf_command vf_plan_command = {
    .name = "plan",
    .summary = "largest tokens per GPU, fewest GPUs, LoRA rank, OSFT ratio that fit",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit plan PATH (--gpu NAME|auto | --gpu-memory SIZE) [--gpus N] [--margin F]\n"
        "                    [setup options] [--json]\n\n"
        "Suggests, for each method (SFT, OSFT, LoRA, QLoRA) on the given GPUs, with Training Hub's\n"
        "estimator on the checkpoint's exact counts:\n"
        "  - the largest tokens per GPU whose expected memory stays within the margin (solved\n"
        "    exactly; for LoRA/QLoRA pick batch size x sequence length <= that x GPUs), and the\n"
        "    largest of the usual values 16384, 8192, 4096, 2048, 1024, 512, 256 below it;\n"
        "  - the fewest GPUs that fit at the given tokens;\n"
        "  - the largest LoRA rank (up to the hidden size) and OSFT unfreeze ratio (0.01 steps)\n"
        "    that fit at the given tokens;\n"
        "then ranks the methods that fit at the given tokens by how much of the model they train:\n"
        "SFT (all of it), OSFT, LoRA, QLoRA (quantized base).\n"
        "Tokens: as given; without --max-tokens-per-gpu or --batch-size/--max-seq-len, Training\n"
        "Hub's example defaults --batch-size 4 --max-seq-len 4096 (LoRA/QLoRA always need a batch).\n\n",
    .options = plan_table,
    .footer = "\n--quiet leaves out the notes; --verbose adds the target family and why, and the budget\n"
              "formula.\n\n"
              "exit codes: 0 ok (also when nothing fits), 2 usage error, 3 file missing or unreadable\n"
              "(also --gpu auto without a working nvidia-smi or rocm-smi), 4 malformed checkpoint.\n",
    .run = plan_run_command,
};
