/* cmd_adapters.c - `vramfit adapters PATH --method lora|osft`: what a fine-tuning method adds or
 * decomposes, matrix by matrix, from the exact shapes in the headers (vf_adapters.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_cli.h"
#include "vf_svg.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_checked.h"

enum {
    OPT_METHOD = 1, OPT_TARGET, OPT_TARGET_REGEX, OPT_EXCLUDE, OPT_FAMILY, OPT_RANK, OPT_RANK_PATTERN,
    OPT_DORA, OPT_BIAS, OPT_SAVE, OPT_DTYPE, OPT_RATIO, OPT_JSON, OPT_CSV, OPT_SVG, OPT_MATRICES,
};

static const vf_opt adapters_table[] = {
    VF_OPT_COLUMN(23),
    VF_OPT_TEXT("Target selection (LoRA and OSFT):"),
    {"target", 0, "LIST", OPT_TARGET,
     "comma-separated module names, PEFT semantics: X.weight is a target when\n"
     "its module equals an entry or ends with '.'+entry (c_proj matches attn.c_proj\n"
     "and mlp.c_proj); 'all-linear' = every 2-D linear weight except the input\n"
     "embedding and the output head. An entry matching nothing is an error.",
     VF_VALUES_LIST, "all-linear"},
    {"target-regex", 0, "RE", OPT_TARGET_REGEX, "Python-dialect regex (PEFT's re.fullmatch) over the whole module name"},
    {"exclude", 0, "LIST", OPT_EXCLUDE, "module names removed from the selection (PEFT semantics)"},
    {"family", 0, "NAME", OPT_FAMILY,
     "Training Hub family instead of detection, applied as Training Hub applies\n"
     "it, to every 2-D weight (vision towers included): {values}",
     VF_VALUES_FAMILY},
    VF_OPT_TEXT("  (default)            Training Hub's family detected from the language model's tensor names\n"
                "                       (printed with why); it targets the language model's matrices only\n"
                "  all-linear follows PEFT: every nn.Linear of the model except the output layer, never\n"
                "  embeddings, nn.Parameter tensors (fused experts, parameter routers) or convolutions.\n"
                "  Only 2-D weights are targets; a fused 3-D expert tensor counts as E matrices (LoRA, as PEFT's\n"
                "  target_parameters sizes it) with the in/out of its layout ([E,out,in] or bmm [E,in,out]).\n\n"
                "LoRA (A is r x in, B is out x r; GPT-2 Conv1D weights are stored [in,out]):"),
    {"rank", 'r', "R", OPT_RANK, "rank (default 32, as Training Hub)"},
    {"rank-pattern", 0, "SPEC", OPT_RANK_PATTERN,
     "per-module ranks 'REGEX=R,REGEX=R' (PEFT rank_pattern: REGEX matches the\n"
     "end of the module name on a '.' boundary; first match wins)"},
    {"use-dora", 0, NULL, OPT_DORA, "add DoRA's magnitude vector (out elements) per matrix"},
    {"lora-bias", 0, "MODE", OPT_BIAS, "none (default), all (every bias trains), lora_only (biases of targets)",
     VF_VALUES_LIST, "none all lora_only"},
    {"modules-to-save", 0, "LIST", OPT_SAVE, "modules trained as full copies (e.g. lm_head,embed_tokens)"},
    {"adapter-dtype", 0, "DT", OPT_DTYPE, "bytes of adapter matrices: F32 (default, as Training Hub), BF16, F16",
     VF_VALUES_LIST, VF_ADAPTER_DTYPES},
    VF_OPT_TEXT("\nOSFT (U m x R, S R, V R x n with R = min(m,n)):"),
    {"unfreeze-rank-ratio", 0, "U", OPT_RATIO,
     "trainable share u in (0,1] (default 0.25): frozen k = floor(R*(1-u)),\n"
     "capped at R-1, trainable R-k"},
    VF_OPT_TEXT("\nOutput:"),
    {"matrices", 0, NULL, OPT_MATRICES, "also the per-matrix table (shapes of A and B, or U, S, V)"},
    {"json", 0, NULL, OPT_JSON, "one JSON document (exact integers, every matrix)"},
    {"csv", 0, NULL, OPT_CSV, "the per-matrix table as CSV"},
    {"svg", 0, "FILE", OPT_SVG,
     "also draw the adapter parameters of every layer, stacked by module,\n"
     "as a self-contained SVG chart (written atomically, only on success;\n"
     "exit 3 when FILE cannot be written)",
     VF_VALUES_FILE},
    VF_OPEN_OPTS,
    {"method", 0, "M", OPT_METHOD, NULL, VF_VALUES_LIST, "lora osft"},
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

typedef struct adapters_opts {
    vf_adapter_options o;
    const char *rank_pattern;
    bool json, csv, matrices; /* matrices: the per-matrix table in the human output */
    const char *svg;          /* --svg FILE or NULL */
} adapters_opts;

/* ---- options ----------------------------------------------------------------------------------- */

static int set_value_opt(adapters_opts *opts, const vf_opt *opt, const char *val)
{
    uint64_t u;
    size_t k = 0;
    int rc;
    switch (opt->id) {
    case OPT_METHOD:
        rc = vf_opt_choice("adapters", opt, val, &k);
        opts->o.method = k == 1 ? VF_ADAPTER_OSFT : VF_ADAPTER_LORA;
        return rc;
    case OPT_RANK:
        if (!vf_parse_u64("adapters", "rank", val, &u))
            return VF_EXIT_USAGE;
        opts->o.rank = u;
        return VF_EXIT_OK;
    case OPT_BIAS: {
        static const vf_lora_bias biases[] = {VF_LORA_BIAS_NONE, VF_LORA_BIAS_ALL, VF_LORA_BIAS_LORA_ONLY};
        rc = vf_opt_choice("adapters", opt, val, &k); /* the table's values, in this order */
        opts->o.bias = rc == VF_EXIT_OK ? biases[k] : opts->o.bias;
        return rc;
    }
    case OPT_DTYPE:
        return vf_cli_adapter_dtype("adapters", opt, val, &opts->o.adapter_dtype);
    case OPT_RATIO:
        return vf_parse_double("adapters", "unfreeze-rank-ratio", val, &opts->o.unfreeze_rank_ratio)
                   ? VF_EXIT_OK
                   : VF_EXIT_USAGE;
    default:
        return VF_EXIT_OK;
    }
}

static int adapters_store(void *parsed, const vf_opt *opt, const char *val)
{
    adapters_opts *opts = parsed;
    int id = opt->id;
    opts->o.target.modules = id == OPT_TARGET ? val : opts->o.target.modules;
    opts->o.target.regex = id == OPT_TARGET_REGEX ? val : opts->o.target.regex;
    opts->o.target.exclude = id == OPT_EXCLUDE ? val : opts->o.target.exclude;
    opts->o.target.family = id == OPT_FAMILY ? val : opts->o.target.family;
    opts->o.modules_to_save = id == OPT_SAVE ? val : opts->o.modules_to_save;
    opts->rank_pattern = id == OPT_RANK_PATTERN ? val : opts->rank_pattern;
    opts->o.use_dora |= id == OPT_DORA;
    opts->json |= id == OPT_JSON;
    opts->csv |= id == OPT_CSV;
    opts->matrices |= id == OPT_MATRICES;
    opts->svg = id == OPT_SVG ? val : opts->svg;
    return set_value_opt(opts, opt, val);
}

static int parse_args(int argc, char **argv, adapters_opts *opts, vf_cmdline *line)
{
    int rc = vf_cli_parse(&vf_adapters_command, argc, argv, line, opts, adapters_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    if (opts->json && opts->csv)
        return vf_usage_error("adapters", "--json and --csv are exclusive");
    if (opts->o.method == VF_ADAPTER_OSFT && (opts->rank_pattern || opts->o.use_dora || opts->o.modules_to_save ||
                                           opts->o.bias != VF_LORA_BIAS_NONE))
        return vf_usage_error("adapters", "--rank-pattern, --use-dora, --lora-bias and "
                                          "--modules-to-save apply to --method lora only");
    return VF_CLI_CONTINUE;
}

/* ---- shared formatting ------------------------------------------------------------------------- */

static bool is_target(const vf_adapter_matrix *x)
{
    return vf_adapter_kind_is_target(x->kind);
}

static void layer_str(const vf_adapter_matrix *x, char *buf, size_t n)
{
    if (x->layer >= 0)
        snprintf(buf, n, "%d", (int)x->layer);
    else
        snprintf(buf, n, "-");
}

static void dims(char *buf, size_t n, uint64_t a, uint64_t b)
{
    snprintf(buf, n, "%llux%llu", (unsigned long long)a, (unsigned long long)b);
}

/* The matrix name, with "[expert E]" for one expert of a fused tensor. */
static void matrix_name(const vf_adapter_matrix *x, char *buf, size_t n)
{
    if (x->tensor->fused_experts)
        snprintf(buf, n, "%s[%d]", x->tensor->name, (int)x->expert);
    else
        snprintf(buf, n, "%s", x->tensor->name);
}

/* ---- JSON: the library's document (vf_report_adapters_json) ------------------------------------ */

static int adapters_json(vf_buf *b, const vf_model *model, const vf_adapter_plan *p, const adapters_opts *opts)
{
    char *doc = NULL;
    vf_error err = {0};
    if (vf_report_adapters_json(model, p, &opts->o, &doc, &err) != VF_OK)
        return vf_cli_fail(&err);
    /* The document (malloc'd, as a vf_buf's text is) becomes the output as it is: tens of MB for a
     * large MoE model, not copied. */
    vf_buf_free(b);
    size_t n = strlen(doc);
    *b = (vf_buf){.data = doc, .len = n, .cap = n + 1};
    vf_buf_put(b, "\n", 1); /* adapters --json has always ended with an empty line */
    return VF_EXIT_OK;
}

/* The same document streamed to stdout as it is built (never whole in memory), then its empty line. */
static int adapters_json_stream(const vf_model *model, const vf_adapter_plan *p, const adapters_opts *opts)
{
    int e = 0;
    vf_error err = {0};
    int rc = vf_report_adapters_json_write(model, p, &opts->o, vf_stdout_write, &e, &err);
    if (rc == VF_OK)
        (void)vf_stdout_write(&e, "\n", 1);
    return rc == VF_OK || rc == VF_ERR_IO ? vf_stdout_streamed(e) : vf_cli_fail(&err);
}

/* ---- CSV --------------------------------------------------------------------------------------- */

/* A CSV field, quoted (with "" for ") when it holds a separator, a quote or a line break. */
static void csv_name(vf_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        vf_buf_printf(b, "%s", s);
        return;
    }
    vf_buf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            vf_buf_put(b, "\"", 1);
        vf_buf_put(b, s, 1);
    }
    vf_buf_put(b, "\"", 1);
}

static void adapters_csv(vf_buf *b, const vf_adapter_plan *p, bool lora)
{
    vf_buf_printf(b, lora ? "name,layer,expert,kind,rows,cols,in,out,rank,a,b,params,bytes\n"
                          : "name,layer,expert,rows,cols,u,s,v,params,frozen_rank,trainable_rank,"
                            "trainable_params,bytes\n");
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        char layer[16], expert[16], a[48], bb[48], v[48];
        if (!is_target(x))
            continue;
        layer_str(x, layer, sizeof layer);
        snprintf(expert, sizeof expert, "%d", (int)x->expert);
        if (x->expert < 0)
            snprintf(expert, sizeof expert, "-");
        csv_name(b, x->tensor->name);
        vf_buf_printf(b, ",%s,%s,", layer, expert);
        if (lora) {
            dims(a, sizeof a, x->rank, x->in);
            dims(bb, sizeof bb, x->out, x->rank);
            vf_buf_printf(b, "%s,%llu,%llu,%llu,%llu,%llu,%s,%s,%llu,%llu\n", vf_adapter_kind_name(x->kind),
                          (unsigned long long)x->rows, (unsigned long long)x->cols, (unsigned long long)x->in,
                          (unsigned long long)x->out, (unsigned long long)x->rank, a, bb,
                          (unsigned long long)x->params, (unsigned long long)x->bytes);
        } else {
            dims(a, sizeof a, x->rows, x->rank);
            dims(v, sizeof v, x->rank, x->cols);
            vf_buf_printf(b, "%llu,%llu,%s,%llu,%s,%llu,%llu,%llu,%llu,%llu\n", (unsigned long long)x->rows,
                          (unsigned long long)x->cols, a, (unsigned long long)x->rank, v,
                          (unsigned long long)x->params, (unsigned long long)x->frozen_rank,
                          (unsigned long long)x->trainable_rank, (unsigned long long)x->trainable_params,
                          (unsigned long long)x->bytes);
        }
    }
}

/* ---- human ------------------------------------------------------------------------------------- */

static void human_head(vf_buf *b, const vf_model *m, const vf_adapter_plan *p, const adapters_opts *opts)
{
    const vf_family *f = vf_adapter_plan_family(p);
    bool by_family = !opts->o.target.modules && !opts->o.target.regex;
    vf_buf_printf(b, "Checkpoint  %s\n", vf_checkpoint_name(vf_model_checkpoint(m)));
    if (opts->o.method == VF_ADAPTER_LORA)
        vf_buf_printf(b, "Method      LoRA, rank %llu%s%s, adapter dtype %s, bias %s\n",
                      (unsigned long long)opts->o.rank, opts->rank_pattern ? " (with --rank-pattern)" : "",
                      opts->o.use_dora ? ", DoRA" : "", vf_dtype_name(opts->o.adapter_dtype),
                      vf_lora_bias_name(opts->o.bias));
    else
        vf_buf_printf(b, "Method      OSFT, unfreeze rank ratio %g, dtype %s\n", opts->o.unfreeze_rank_ratio,
                      vf_dtype_name(opts->o.adapter_dtype));
    vf_buf_printf(b, "Family      %s%s: %s\n", f->name, by_family ? "" : " (not used: explicit targets)",
                  f->reason);
    vf_buf_printf(b, "Targets     ");
    for (size_t i = 0; i < vf_adapter_plan_target_count(p); i++)
        vf_buf_printf(b, "%s%s", i ? ", " : "", vf_adapter_plan_target(p, i));
    vf_buf_printf(b, "\n");
    if (opts->o.target.exclude)
        vf_buf_printf(b, "Excluded    %s\n", opts->o.target.exclude);
    if (vf_ui_verbose() && opts->o.method == VF_ADAPTER_LORA)
        vf_buf_printf(b, "Formula     params = r x (in + out)%s per matrix; bytes = params x %s size\n",
                      opts->o.use_dora ? " + out (DoRA magnitude)" : "", vf_dtype_name(opts->o.adapter_dtype));
    else if (vf_ui_verbose())
        vf_buf_printf(b, "Formula     R = min(m,n), params = m x R + R + R x n; frozen k = "
                         "min(floor(R x (1-u)), R-1), trainable = m x (R-k) + (R-k) + (R-k) x n\n");
}

static void human_lora_rows(vf_buf *b, const vf_adapter_plan *p)
{
    char name[512], layer[16], shape[48], a[48], bb[48], c1[32], c2[32];
    vf_buf_printf(b, "\n%-64s %5s %-14s %8s %8s %-16s %-16s %14s %14s\n", "matrix", "layer", "shape",
                  "in", "out", "A", "B", "params", "bytes");
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        if (!is_target(x))
            continue;
        matrix_name(x, name, sizeof name);
        layer_str(x, layer, sizeof layer);
        dims(shape, sizeof shape, x->rows, x->cols);
        dims(a, sizeof a, x->rank, x->in);
        dims(bb, sizeof bb, x->out, x->rank);
        vf_buf_printf(b, "%-64s %5s %-14s %8llu %8llu %-16s %-16s %14s %14s%s\n", name, layer, shape,
                      (unsigned long long)x->in, (unsigned long long)x->out, a, bb,
                      vf_fmt_count(x->params, c1), vf_fmt_count(x->bytes, c2),
                      x->conv1d ? "  (Conv1D [in,out])" : x->kind == VF_ADAPTER_KIND_LORA_EMBED ? "  (embedding)" : "");
    }
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        if (is_target(x))
            continue;
        vf_fmt_shape(x->tensor->shape, x->tensor->ndim, shape, sizeof shape);
        vf_buf_printf(b, "%-64s %5s %-14s %s %14s %14s\n", x->tensor->name, "", shape,
                      x->kind == VF_ADAPTER_KIND_SAVED ? "full trainable copy (modules_to_save)          "
                                                : "trainable bias                                 ",
                      vf_fmt_count(x->params, c1), vf_fmt_count(x->bytes, c2));
    }
}

static void human_osft_rows(vf_buf *b, const vf_adapter_plan *p)
{
    char name[512], layer[16], shape[48], u[48], v[48], fz[96], tr[96], c1[32], c2[32], c3[32];
    vf_buf_printf(b, "\n%-64s %5s %-12s %-12s %6s %-12s %14s %-28s %-28s %14s %14s\n", "matrix", "layer",
                  "shape", "U", "S", "V", "params", "frozen U,S,V (k)", "trainable U,S,V (R-k)",
                  "trainable", "bytes");
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        matrix_name(x, name, sizeof name);
        layer_str(x, layer, sizeof layer);
        dims(shape, sizeof shape, x->rows, x->cols);
        dims(u, sizeof u, x->rows, x->rank);
        dims(v, sizeof v, x->rank, x->cols);
        snprintf(fz, sizeof fz, "%llux%llu,%llu,%llux%llu", (unsigned long long)x->rows,
                 (unsigned long long)x->frozen_rank, (unsigned long long)x->frozen_rank,
                 (unsigned long long)x->frozen_rank, (unsigned long long)x->cols);
        snprintf(tr, sizeof tr, "%llux%llu,%llu,%llux%llu", (unsigned long long)x->rows,
                 (unsigned long long)x->trainable_rank, (unsigned long long)x->trainable_rank,
                 (unsigned long long)x->trainable_rank, (unsigned long long)x->cols);
        vf_buf_printf(b, "%-64s %5s %-12s %-12s %6llu %-12s %14s %-28s %-28s %14s %14s\n", name, layer, shape,
                      u, (unsigned long long)x->rank, v, vf_fmt_count(x->params, c1), fz, tr,
                      vf_fmt_count(x->trainable_params, c2), vf_fmt_count(x->bytes, c3));
    }
}

/* Per module (layer number removed): how many matrices, the shape of the first (with '*' when the
 * others differ), parameters and bytes; in order of first appearance. */
typedef struct module_row {
    char key[160];
    uint64_t rows, cols, count, params, bytes;
    bool mixed;
} module_row;

static void human_modules(vf_buf *b, const vf_adapter_plan *p)
{
    size_t n = vf_adapter_plan_count(p), used = 0;
    module_row *m = calloc(n ? n : 1, sizeof *m);
    if (!m) {
        b->failed = true;
        return;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        char key[sizeof m->key];
        vf_adapter_module_key(x, key, sizeof key);
        if (k == used || strcmp(m[k].key, key) != 0) /* else the previous matrix's module again */
            for (k = 0; k < used && strcmp(m[k].key, key) != 0;)
                k++;
        if (k == used) {
            m[used++] = (module_row){.rows = x->rows, .cols = x->cols};
            snprintf(m[k].key, sizeof m[k].key, "%s", key);
        }
        m[k].mixed |= m[k].rows != x->rows || m[k].cols != x->cols;
        m[k].count++;
        vf_acc_u64(&m[k].params, x->params);
        vf_acc_u64(&m[k].bytes, x->bytes);
    }
    char shape[64], c1[32], c2[32], c3[32];
    vf_buf_printf(b, "\n%sPer module%s\n  %-40s %8s %-16s %16s %16s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET),
                  "module", "matrices", "shape", "params", "bytes");
    for (size_t k = 0; k < used; k++) {
        snprintf(shape, sizeof shape, "%llux%llu%s", (unsigned long long)m[k].rows, (unsigned long long)m[k].cols,
                 m[k].mixed ? " *" : "");
        vf_buf_printf(b, "  %-40s %8s %-16s %16s %16s\n", m[k].key, vf_fmt_count(m[k].count, c1), shape,
                      vf_fmt_count(m[k].params, c2), vf_fmt_count(m[k].bytes, c3));
    }
    for (size_t k = 0; k < used; k++)
        if (m[k].mixed) {
            vf_buf_printf(b, "  * shapes differ between layers; --matrices lists each\n");
            break;
        }
    free(m);
}

static void human_layers(vf_buf *b, const vf_adapter_plan *p)
{
    size_t n;
    const uint64_t *lp = vf_adapter_plan_layer_params(p, &n);
    char c[32];
    char span[48];
    vf_buf_printf(b, "\n%sPer layer%s\n  %-8s %16s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET), "layer",
                  "params");
    for (size_t i = 0, k; i + 1 < n; i = k) { /* a run of layers with the same count: one line */
        for (k = i + 1; k + 1 < n && lp[k] == lp[i]; k++)
            ;
        if (!lp[i])
            continue;
        if (k - i == 1)
            snprintf(span, sizeof span, "%zu", i);
        else
            snprintf(span, sizeof span, "%zu-%zu", i, k - 1);
        vf_buf_printf(b, "  %-8s %16s%s\n", span, vf_fmt_count(lp[i], c), k - i > 1 ? " each" : "");
    }
    if (n && lp[n - 1])
        vf_buf_printf(b, "  %-8s %16s\n", "other", vf_fmt_count(lp[n - 1], c));
}

static void human_totals(vf_buf *b, const vf_adapter_plan *p, const adapters_opts *opts)
{
    const vf_adapter_totals *t = vf_adapter_plan_totals(p);
    char c1[32], c2[32], c3[32];
    double share = t->base_parameters ? 100.0 * (double)t->parameters / (double)t->base_parameters : 0;
    vf_buf_printf(b, "\n%sTotals%s\n  matrices          %s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET),
                  vf_fmt_count(t->matrices, c1));
    if (opts->o.method == VF_ADAPTER_LORA) {
        vf_buf_printf(b, "  adapter params    %s (A+B%s), %s bytes (%s)\n", vf_fmt_count(t->parameters, c1),
                      opts->o.use_dora ? "+magnitudes" : "", vf_fmt_count(t->bytes, c2), vf_fmt_size(t->bytes, c3));
        if (t->saved)
            vf_buf_printf(b, "  modules_to_save   %s (full copies)\n", vf_fmt_count(t->saved, c1));
        if (t->biases)
            vf_buf_printf(b, "  trainable biases  %s\n", vf_fmt_count(t->biases, c1));
    } else {
        vf_buf_printf(b, "  U+S+V params      %s, %s bytes (%s)\n", vf_fmt_count(t->parameters, c1),
                      vf_fmt_count(t->bytes, c2), vf_fmt_size(t->bytes, c3));
        vf_buf_printf(b, "  trainable params  %s (u = %g)\n", vf_fmt_count(t->trainable, c1),
                      opts->o.unfreeze_rank_ratio);
        vf_buf_printf(b, "  OSFT model params %s (targets as U,S,V; every other tensor as is)\n",
                      vf_fmt_count(t->osft_total, c1));
    }
    vf_buf_printf(b, "  base params       %s (buffers excluded)\n", vf_fmt_count(t->base_parameters, c1));
    vf_buf_printf(b, "  share of base     %.4f%%\n", share);
    if (opts->o.method == VF_ADAPTER_LORA)
        vf_buf_printf(b, "\ntrainable params: %s || all params: %s || trainable%%: %.4f\n",
                      vf_fmt_count(t->trainable, c1), vf_fmt_count(t->all_parameters, c2),
                      t->all_parameters ? 100.0 * (double)t->trainable / (double)t->all_parameters : 0.0);
}

/* ---- command ----------------------------------------------------------------------------------- */

static int render(vf_buf *b, const vf_model *m, const vf_adapter_plan *p, const adapters_opts *opts)
{
    bool lora = opts->o.method == VF_ADAPTER_LORA;
    if (opts->json) {
        return adapters_json(b, m, p, opts);
    } else if (opts->csv) {
        adapters_csv(b, p, lora);
    } else {
        human_head(b, m, p, opts);
        if (opts->matrices)
            (lora ? human_lora_rows : human_osft_rows)(b, p);
        human_modules(b, p);
        human_layers(b, p);
        human_totals(b, p, opts);
        if (!vf_ui_quiet())
            vf_cli_findings(b, "", vf_adapter_plan_findings(p));
    }
    return VF_EXIT_OK;
}

static int adapters_run(int argc, char **argv)
{
    adapters_opts opts = {.o = VF_ADAPTER_OPTIONS_INIT};
    vf_cmdline line;
    int rc = parse_args(argc, argv, &opts, &line);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    vf_error err = {0};
    vf_rank_rule *rules = NULL;
    if (vf_rank_rules_parse(opts.rank_pattern, &rules, &opts.o.rank_rule_count, &err) != VF_OK)
        return vf_cli_fail(&err);
    opts.o.rank_rules = rules;
    vf_model *m = NULL;
    vf_adapter_plan *p = NULL;
    if (vf_model_open(line.operand, &line.open, &m, &err) != VF_OK || vf_adapter_plan_build(m, &opts.o, &p, &err) != VF_OK) {
        vf_model_free(m);
        free(rules);
        return vf_cli_fail(&err);
    }
    vf_buf b = {0};
    const bool stream = opts.json && vf_stdout_stream_begin(); /* tens of MB for a large MoE model */
    rc = stream ? VF_EXIT_OK : render(&b, m, p, &opts);
    vf_output *svg = NULL;
    const vf_checkpoint *cp = vf_model_checkpoint(m);
    if (rc == VF_EXIT_OK && opts.svg && !b.failed) /* before any output: a refused path prints nothing */
        rc = vf_svg_adapters_prepare(opts.svg, p, vf_checkpoint_name(cp), &opts.o, cp, line.operand, &svg);
    if (rc == VF_EXIT_OK && stream)
        rc = adapters_json_stream(m, p, &opts);
    vf_adapter_plan_free(p);
    vf_model_free(m);
    free(rules);
    if (rc == VF_EXIT_OK)
        rc = vf_cli_flush_commit(&b, svg);
    else
        vf_output_free(svg);
    vf_buf_free(&b);
    return rc;
}

const vf_command vf_adapters_command = {
    .name = "adapters",
    .summary = "exact LoRA / OSFT adapter sizes, matrix by matrix",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit adapters PATH [--method lora|osft] [options]\n\n"
        "Counts what LoRA adds or OSFT decomposes, matrix by matrix, from the exact shapes in the\n"
        "safetensors headers: per-module and per-layer summaries, totals, the share of the base model\n"
        "and PEFT's 'trainable params: X || all params: Y || trainable%: Z' line; --matrices adds the\n"
        "table of every matrix.\n\n",
    .options = adapters_table,
    .footer = "\n--quiet leaves out the notes and warnings; --verbose adds the formula of the counts.\n\n"
              "Exit codes: 0 ok, 2 bad option or a target that matches nothing, 3 missing file, 4 malformed file.\n",
    .run = adapters_run,
};
