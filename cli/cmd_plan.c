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

static void row_fail(plan_row *r, int rc, const char *msg)
{
    r->rc = rc;
    snprintf(r->error, sizeof r->error, "%s", msg);
}

static void row_fail_err(plan_row *r, int rc, const vf_error *err)
{
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    row_fail(r, rc, vf_error_format(err, line, sizeof line));
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
static void row_search(plan_row *r, const vf_est_model *m, const plan_opts *k, uint64_t hidden)
{
    vf_error err = {0};
    int rc = vf_est_max_tokens(m, &r->setup, VF_BOUND_EXPECTED, k->margin, &r->max_tokens, &err);
    if (rc == VF_OK)
        rc = vf_est_min_gpus(m, &r->setup, VF_BOUND_EXPECTED, k->margin, k->max_gpus, &r->min_gpus,
                             &err);
    r->usual = usual_below(r->max_tokens);
    r->rank_limit = hidden && hidden < PLAN_RANK_LIMIT ? (uint32_t)hidden : PLAN_RANK_LIMIT;
    if (rc == VF_OK && (r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA))
        rc = vf_est_max_lora_rank(m, &r->setup, VF_BOUND_EXPECTED, k->margin, r->rank_limit,
                                  &r->max_rank, &err);
    if (rc == VF_OK && r->method == VF_METHOD_OSFT)
        rc = vf_est_max_unfreeze_ratio(m, &r->setup, VF_BOUND_EXPECTED, k->margin, &r->max_ratio,
                                       &err);
    if (rc != VF_OK)
        row_fail_err(r, rc, &err);
}

static void plan_method(vf_est_ctx *c, const plan_opts *k, const vf_est_hw *hw, vf_method method,
                        plan_row *r)
{
    vf_est_opts mo = method_opts(&k->o, method);
    vf_est_model m;
    vf_error err = {0};
    char msg[VF_ERROR_MESSAGE_MAX];
    memset(r, 0, sizeof *r);
    r->method = method;
    if (!vf_est_tokens_ok(&mo, method, msg, sizeof msg)) {
        row_fail(r, VF_ERR_USAGE, msg);
        return;
    }
    int rc = vf_est_ctx_model(c, method, &m, NULL, &err);
    if (rc == VF_OK) {
        vf_est_setup_for(&mo, hw, method, &r->setup);
        rc = vf_estimate(&m, &r->setup, &r->now, &err);
    }
    if (rc != VF_OK) {
        row_fail_err(r, rc, &err);
        return;
    }
    r->fits = r->now.expected <= budget_of(hw->gpu_memory, k->margin);
    row_search(r, &m, k, m.hidden_size);
}

/* ---- notes -------------------------------------------------------------------------------------- */

static void plan_notes(const plan_opts *k, vf_est_ctx *c, const plan_row *rows, vf_notes *n)
{
    vf_notes tn = {0};
    vf_est_model m;
    vf_error err = {0};
    if (!(k->o.batch && k->o.seq))
        vf_notes_add(n, "%s use Training Hub's example batch: --batch-size %u --max-seq-len %u",
                     k->o.max_tokens ? "LoRA and QLoRA" : "all methods", PLAN_DEFAULT_BATCH,
                     PLAN_DEFAULT_SEQ);
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        if (rows[i].rc == VF_OK && rows[i].method != VF_METHOD_SFT) {
            /* target notes once, from the first adapter method that worked */
            vf_est_ctx_model(c, rows[i].method, &m, &tn, &err);
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

static void json_row(vf_jw *j, const plan_row *r, const vf_est_hw *hw)
{
    const bool lora = r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA;
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "method", vf_method_name(r->method));
    if (r->rc != VF_OK) {
        vf_jw_str(j, "error", r->error);
        vf_jw_bool(j, "fits", false);
        vf_jw_obj_end(j);
        return;
    }
    if (r->now.tokens_num % r->now.tokens_den == 0)
        vf_jw_u64(j, "tokens_per_gpu", r->now.tokens_num / r->now.tokens_den);
    else
        vf_jw_double(j, "tokens_per_gpu", r->now.tokens_per_gpu);
    vf_jw_u64(j, "expected_bytes", r->now.expected);
    vf_jw_str(j, "verdict", vf_verdict_name(r->now.verdict));
    vf_jw_bool(j, "fits", r->fits);
    vf_jw_bool(j, "max_tokens_unbounded", r->max_tokens == UINT64_MAX);
    json_opt_u64(j, "max_tokens_per_gpu", r->max_tokens, r->max_tokens && r->max_tokens != UINT64_MAX);
    json_opt_u64(j, "usual_tokens_per_gpu", r->usual, r->usual != 0);
    if (lora)
        json_opt_u64(j, "max_batch_x_seq", r->max_tokens * hw->gpus,
                     r->max_tokens && r->max_tokens <= UINT64_MAX / hw->gpus);
    json_opt_u64(j, "min_gpus", r->min_gpus, r->min_gpus != 0);
    if (lora) {
        json_opt_u64(j, "max_lora_r", r->max_rank, r->max_rank != 0);
        vf_jw_u64(j, "lora_r_limit", r->rank_limit);
    }
    if (r->method == VF_METHOD_OSFT) {
        if (r->max_ratio > 0)
            vf_jw_double(j, "max_unfreeze_rank_ratio", r->max_ratio);
        else
            vf_jw_null(j, "max_unfreeze_rank_ratio");
    }
    vf_jw_obj_end(j);
}

static void plan_json(vf_buf *b, const plan_opts *k, const vf_est_ctx *c, const vf_est_hw *hw,
                      const plan_row *rows, const vf_notes *notes)
{
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    vf_jw_origin(&j, vf_model_checkpoint(c->model));
    vf_jw_bool(&j, "compat", k->o.compat);
    vf_jw_u64(&j, "gpus", hw->gpus);
    vf_jw_u64(&j, "gpu_memory_bytes", hw->gpu_memory);
    vf_jw_str(&j, "gpu", *hw->label ? hw->label : NULL);
    vf_jw_double(&j, "margin", k->margin);
    vf_jw_u64(&j, "budget_bytes", budget_of(hw->gpu_memory, k->margin));
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
    for (size_t i = 0; i < c->notes.n; i++)
        vf_jw_str(&j, NULL, c->notes.text[i]);
    for (size_t i = 0; i < notes->n; i++)
        vf_jw_str(&j, NULL, notes->text[i]);
    vf_jw_arr_end(&j);
    vf_jw_obj_end(&j);
}

/* ---- human -------------------------------------------------------------------------------------- */

static void plan_header(vf_buf *b, const plan_opts *k, const vf_est_ctx *c, const vf_est_hw *hw)
{
    char n1[32], n2[32], n3[32], g[32], bud[32];
    const vf_est_model *m = &c->base;
    vf_buf_printf(b, "Plan for %s%s\n", c->display_path, k->o.compat ? "  [--compat training-hub]" : "");
    vf_buf_printf(b, "  model   %s parameters, %llu layers, hidden size %s, vocabulary %s\n",
                  vf_fmt_count(m->parameters, n1), (unsigned long long)m->layers,
                  vf_fmt_count(m->hidden_size, n2), vf_fmt_count(m->vocab_size, n3));
    vf_buf_printf(b, "  GPUs    %u x %s (%s bytes%s%s)\n", (unsigned)hw->gpus,
                  vf_fmt_size(hw->gpu_memory, g), vf_fmt_count(hw->gpu_memory, n1),
                  *hw->label ? ", " : "", hw->label);
    vf_buf_printf(b, "  budget  %s per GPU: expected memory within %g%% of each GPU (--margin %g)\n",
                  vf_fmt_size(budget_of(hw->gpu_memory, k->margin), bud), k->margin * 100, k->margin);
    if (!vf_ui_verbose())
        return;
    vf_buf_printf(b, "          budget = floor(margin x GPU memory) = floor(%g x %s) = %s bytes\n", k->margin,
                  vf_fmt_count(hw->gpu_memory, n1), vf_fmt_count(budget_of(hw->gpu_memory, k->margin), n2));
    if (c->adapters_done && c->adapters_rc == VF_OK && !vf_est_opts_has_target(&k->o))
        vf_buf_printf(b, "  family  %s (LoRA/OSFT targets): %s\n", c->adapters.family.name,
                      c->adapters.family.reason);
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

static void plan_row_human(vf_buf *b, const plan_row *r)
{
    char t[32], e[32];
    vf_buf_printf(b, "%-6s", vf_est_method_label(r->method));
    if (r->rc != VF_OK) {
        vf_buf_printf(b, "  not planned: %s\n", r->error);
        return;
    }
    if (r->now.tokens_num % r->now.tokens_den == 0)
        vf_fmt_count(r->now.tokens_num / r->now.tokens_den, t);
    else
        snprintf(t, sizeof t, "%.2f", r->now.tokens_per_gpu);
    vf_buf_printf(b, " %10s %10s %s%4s%s", t, vf_fmt_size(r->now.expected, e),
                  vf_sty(r->fits ? VF_STY_GREEN : VF_STY_RED), r->fits ? "yes" : "no", vf_sty(VF_STY_RESET));
    cell_tokens(b, r->max_tokens, 12);
    if (r->usual)
        vf_buf_printf(b, " %6llu", (unsigned long long)r->usual);
    else
        vf_buf_printf(b, " %6s", "-");
    if (r->min_gpus)
        vf_buf_printf(b, " %7u", (unsigned)r->min_gpus);
    else
        vf_buf_printf(b, " %7s", "none");
    snprintf(e, sizeof e, "%s", r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA ? "none" : "-");
    if (r->max_rank)
        snprintf(e, sizeof e, "%u%s", (unsigned)r->max_rank, r->max_rank == r->rank_limit ? "+" : "");
    vf_buf_printf(b, " %8s", e);
    if (r->method == VF_METHOD_OSFT && r->max_ratio > 0)
        vf_buf_printf(b, " %10.2f\n", r->max_ratio);
    else
        vf_buf_printf(b, " %10s\n", r->method == VF_METHOD_OSFT ? "none" : "-");
}

static void plan_ranking(vf_buf *b, const plan_opts *k, const vf_est_hw *hw, const plan_row *rows)
{
    char e[32], t[32];
    int rank = 0;
    uint64_t budget = budget_of(hw->gpu_memory, k->margin);
    vf_buf_printf(b, "\n%sMethods that fit at these tokens%s (ranked by how much of the model they train)\n",
                  vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        const plan_row *r = &rows[i];
        if (r->rc != VF_OK || !r->fits)
            continue;
        vf_buf_printf(b, "  %d. %-6s expected %s per GPU, %.0f%% of the budget", ++rank,
                      vf_est_method_label(r->method), vf_fmt_size(r->now.expected, e),
                      budget ? 100.0 * (double)r->now.expected / (double)budget : 0.0);
        if (r->max_tokens == UINT64_MAX)
            vf_buf_printf(b, "; any tokens per GPU fit\n");
        else
            vf_buf_printf(b, "; up to %s tokens per GPU\n", vf_fmt_count(r->max_tokens, t));
    }
    if (!rank)
        vf_buf_printf(b, "  none: lower the tokens per GPU (see 'max tokens'), add GPUs (see 'fewest "
                         "GPUs') or choose larger GPUs\n");
}

static void plan_human(vf_buf *b, const plan_opts *k, const vf_est_ctx *c, const vf_est_hw *hw,
                       const plan_row *rows, const vf_notes *notes)
{
    plan_header(b, k, c, hw);
    vf_buf_printf(b, "\n%-6s %10s %10s %4s %12s %6s %7s %8s %10s\n", "", "tokens/GPU", "expected",
                  "", "max tokens", "usual", "fewest", "largest", "largest");
    vf_buf_printf(b, "%-6s %10s %10s %4s %12s %6s %7s %8s %10s\n", "method", "(given)", "per GPU",
                  "fits", "per GPU", "value", "GPUs", "LoRA r", "OSFT ratio");
    for (int i = 0; i < VF_METHOD_COUNT; i++)
        plan_row_human(b, &rows[i]);
    plan_ranking(b, k, hw, rows);
    if (vf_ui_quiet())
        return;
    vf_buf_printf(b, "\n%sNotes%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < c->notes.n; i++)
        vf_buf_printf(b, "  - %s\n", c->notes.text[i]);
    for (size_t i = 0; i < notes->n; i++)
        vf_buf_printf(b, "  - %s\n", notes->text[i]);
    vf_buf_printf(b, "  - LoRA/QLoRA max tokens are batch size x sequence length / GPUs; a '+' rank "
                     "reached the search limit (the hidden size)\n");
    vf_buf_printf(b, "  - sizes are binary, GiB (2^30 bytes) or MiB (2^20); Training Hub prints GiB "
                     "figures labelled "
                     "\"GB\"\n");
}

/* ---- command ------------------------------------------------------------------------------------ */

static int parse_margin(plan_opts *k, const char *val)
{
    if (!vf_parse_double("plan", "margin", val, &k->margin))
        return VF_EXIT_USAGE;
    if (!(k->margin > 0.0 && k->margin <= 1.0))
        return vf_usage_error("plan", "--margin must be greater than 0 and at most 1, got '%s'", val);
    return -1;
}

static int parse_max_gpus(plan_opts *k, const char *val)
{
    uint64_t v;
    if (!vf_parse_u64("plan", "max-gpus", val, &v))
        return VF_EXIT_USAGE;
    if (v == 0 || v > UINT32_MAX)
        return vf_usage_error("plan", "--max-gpus must be between 1 and %u, got '%s'", UINT32_MAX, val);
    k->max_gpus = (uint32_t)v;
    return -1;
}

static int plan_store(void *parsed, const vf_opt *opt, const char *val)
{
    plan_opts *k = parsed;
    k->json |= opt->id == OPT_JSON;
    int rc = opt->id == OPT_MARGIN ? parse_margin(k, val) : opt->id == OPT_MAX_GPUS ? parse_max_gpus(k, val) : -1;
    if (rc >= 0)
        return rc;
    return vf_est_opt(&k->o, opt->id, val) < 0 ? VF_EXIT_USAGE : VF_EXIT_OK;
}

/* Parses argv into *k; returns VF_CLI_CONTINUE, else the exit code. */
static int parse(int argc, char **argv, plan_opts *k)
{
    vf_cmdline line;
    vf_est_opts_init(&k->o, "plan");
    k->margin = 0.90;
    k->max_gpus = PLAN_DEFAULT_MAX_GPUS;
    int rc = vf_cli_parse(&vf_plan_command, argc, argv, &line, k, plan_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    k->o.path = line.operand;
    k->o.open = line.open;
    return vf_est_opts_check(&k->o);
}

static int plan_run(const plan_opts *k, vf_est_ctx *c, const vf_est_hw *hw, vf_notes *notes,
                    plan_row *rows)
{
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        plan_method(c, k, hw, (vf_method)i, &rows[i]);
        /* a bad explicit --target is the user's mistake, not a property of the method */
        if (rows[i].rc == VF_ERR_USAGE && i != VF_METHOD_SFT && vf_est_opts_has_target(&k->o) &&
            c->adapters_rc != VF_OK) {
            return vf_usage_error("plan", "%s", rows[i].error);
        }
    }
    plan_notes(k, c, rows, notes);
    vf_buf b = {0};
    if (k->json)
        plan_json(&b, k, c, hw, rows, notes);
    else
        plan_human(&b, k, c, hw, rows, notes);
    int rc = vf_buf_flush(&b);
    vf_buf_free(&b);
    return rc;
}

static int plan_run_command(int argc, char **argv)
{
    plan_opts k = {0};
    int rc = parse(argc, argv, &k);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    vf_est_hw hw;
    vf_notes *notes = calloc(1, sizeof *notes);
    vf_est_ctx *c = calloc(1, sizeof *c);
    plan_row *rows = calloc(VF_METHOD_COUNT, sizeof *rows);
    vf_error err = {0};
    if (!notes || !c || !rows) {
        rc = vf_cli_error(VF_EXIT_INTERNAL, "out of memory");
    } else if ((rc = vf_est_resolve_hw(&k.o, &hw, notes)) != VF_EXIT_OK) {
        /* message already printed */
    } else if (vf_est_ctx_open(c, &k.o, &err) != VF_OK) {
        rc = vf_cli_fail(&err);
    } else {
        rc = plan_run(&k, c, &hw, notes, rows);
    }
    if (c)
        vf_est_ctx_close(c);
    free(c);
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
