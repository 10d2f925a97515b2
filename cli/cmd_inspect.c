/* cmd_inspect.c - `vramfit inspect PATH`: files, tensors, parameters, buffers, bytes, dtypes,
 * architecture and index consistency; --tensors for the full table, --by-layer for layer totals. */
#include <stdio.h>
#include <string.h>

#include "vf_cli.h"

enum { OPT_JSON = 1, OPT_TENSORS, OPT_BY_LAYER };

static const vf_opt inspect_table[] = {
    VF_OPT_COLUMN(15),
    {"json", 0, NULL, OPT_JSON, "one JSON document on stdout (exact integers)"},
    {"tensors", 't', NULL, OPT_TENSORS, "the full tensor table (JSON: \"tensor_list\")"},
    {"by-layer", 0, NULL, OPT_BY_LAYER, "parameter totals and kind (attention, mamba, linear_attention, moe) per\n"
                                        "layer (JSON: \"layers\")"},
    VF_OPEN_OPTS,
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

typedef struct inspect_opts {
    bool json, tensors, by_layer;
} inspect_opts;

/* ---- JSON: the library's document (vf_report_inspect_json) ------------------------------------- */

static int inspect_json(vf_buf *b, const vf_model *m, const inspect_opts *opts)
{
    char *doc = NULL;
    vf_error err = {0};
    unsigned flags = (opts->tensors ? VF_REPORT_TENSORS : 0u) | (opts->by_layer ? VF_REPORT_BY_LAYER : 0u);
    if (vf_report_inspect_json(m, flags, &doc, &err) != VF_OK)
        return vf_cli_fail(&err);
    vf_buf_put(b, doc, strlen(doc));
    vf_report_free(doc);
    return VF_EXIT_OK;
}

/* ---- human ------------------------------------------------------------------------------------- */

/* --verbose: each file with its tensor count and size. */
static void human_files(vf_buf *b, const vf_checkpoint *cp)
{
    char c1[32], c2[32];
    for (size_t i = 0; i < vf_checkpoint_shard_count(cp); i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        vf_buf_printf(b, "  %-40s %8s tensors %18s bytes\n", s->name,
                      vf_fmt_count(vf_st_header_count(s->header), c1),
                      vf_fmt_count(vf_st_header_file_size(s->header), c2));
    }
}

static void human_findings(vf_buf *b, const vf_findings *fs)
{
    vf_buf_printf(b, "Findings      %s\n", vf_findings_count(fs) ? "" : "none");
    vf_cli_findings(b, "  ", fs);
}

/* Only for a quantized checkpoint: what is logical, what is stored, what is metadata. */
static void human_quant(vf_buf *b, const vf_quant *q)
{
    char c1[32], c2[32];
    if (q->scheme == VF_QUANT_NONE)
        return;
    vf_buf_printf(b, "Quantization  %s, %u bits", vf_quant_scheme_name(q->scheme), q->bits);
    if (q->group_size)
        vf_buf_printf(b, ", group %s", vf_fmt_count(q->group_size, c1));
    vf_buf_printf(b, "%s%s%s\n", q->double_quant ? ", double quant" : "",
                  *q->config_method ? ", quantization_config " : "", q->config_method);
    vf_buf_printf(b, "  logical     parameters are counted dequantized; %s quantized weights hold %s of them\n",
                  vf_fmt_count(q->quantized_tensors, c1), vf_fmt_count(q->logical_elements, c2));
    vf_buf_printf(b, "  stored      %s elements (packed weights and metadata, as the files hold them)\n",
                  vf_fmt_count(q->stored_elements, c1));
    vf_buf_printf(b, "  metadata    %s bytes", vf_fmt_count(q->metadata_bytes, c1));
    vf_buf_printf(b, " in %s tensors (scales, zeros, quant state: not parameters)\n",
                  vf_fmt_count(q->metadata_tensors, c1));
}

/* The components table, shown when the checkpoint holds more than the language model. */
static void human_components(vf_buf *b, const vf_model *m)
{
    char c1[32], c2[32], c3[32];
    vf_buf_printf(b, "Components    (the architecture above is the language model's)\n");
    vf_buf_printf(b, "  %-16s %10s %18s %18s %7s\n", "component", "tensors", "parameters", "bytes", "layers");
    for (size_t i = 0; i < vf_model_component_count(m); i++) {
        const vf_component_stats *c = vf_model_component(m, i);
        vf_buf_printf(b, "  %-16s %10s %18s %18s %7u%s\n", vf_component_name(c->component),
                      vf_fmt_count(c->tensors, c1), vf_fmt_count(c->parameters, c2),
                      vf_fmt_count(c->bytes, c3), c->layers,
                      c->loaded ? "" : "  (not loaded by transformers: not parameters)");
    }
}

static void human_summary(vf_buf *b, const vf_model *m)
{
    const vf_totals *t = vf_model_totals(m);
    const vf_arch *a = vf_model_arch(m);
    const vf_checkpoint *cp = vf_model_checkpoint(m);
    char c1[32], c2[32], c3[32];
    uint64_t total;
    vf_buf_printf(b, "Checkpoint    %s\n", vf_checkpoint_name(cp));
    vf_buf_printf(b, "Files         %s\n", vf_fmt_count(t->files, c1));
    if (vf_ui_verbose())
        human_files(b, cp);
    vf_buf_printf(b, "Tensors       %s\n", vf_fmt_count(t->tensors, c1));
    vf_buf_printf(b, "Parameters    %s\n", vf_fmt_count(t->parameters, c1));
    human_quant(b, vf_model_quant(m));
    vf_buf_printf(b, "Buffers       %s elements in %s tensors (not parameters)\n",
                  vf_fmt_count(t->buffers, c1), vf_fmt_count(t->buffer_tensors, c2));
    vf_buf_printf(b, "Bytes         %s (%s)\n", vf_fmt_count(t->bytes, c1), vf_fmt_size(t->bytes, c2));
    vf_buf_printf(b, "Dtypes\n");
    for (int d = 0; d < VF_DTYPE_COUNT; d++) {
        const vf_dtype_stats *s = &t->by_dtype[d];
        if (s->tensors)
            vf_buf_printf(b, "  %-8s %s tensors, %s elements, %s bytes\n", vf_dtype_name((vf_dtype)d),
                          vf_fmt_count(s->tensors, c1), vf_fmt_count(s->elements, c2),
                          vf_fmt_count(s->bytes, c3));
    }
    vf_buf_printf(b, "Architecture  %u layers, hidden size %llu, vocabulary %llu, %s embeddings, ",
                  a->layers, (unsigned long long)a->hidden_size, (unsigned long long)a->vocab_size,
                  a->tied_embeddings ? "tied" : "untied");
    if (a->experts)
        vf_buf_printf(b, "%u experts (MoE)%s\n", a->experts,
                      a->shared_experts_layers ? " with shared experts" : "");
    else
        vf_buf_printf(b, "dense\n");
    if (a->kind != VF_MODEL_DECODER)
        vf_buf_printf(b, "Model kind    %s (not a causal LM: estimate and plan refuse it)\n",
                      vf_model_kind_name(a->kind));
    if (vf_model_component_count(m) > 1)
        human_components(b, m);
    if (!vf_checkpoint_has_index(cp))
        vf_buf_printf(b, "Index         none\n");
    else if (vf_checkpoint_index_total_size(cp, &total))
        vf_buf_printf(b, "Index         present, total_size %s, %s\n", vf_fmt_count(total, c1),
                      vf_checkpoint_index_consistent(cp) ? "consistent" : "INCONSISTENT");
    else
        vf_buf_printf(b, "Index         present, no total_size, consistent\n");
    if (!vf_ui_quiet())
        human_findings(b, vf_model_findings(m));
}

static void human_layers(vf_buf *b, const vf_model *m)
{
    size_t n;
    const uint64_t *lp = vf_model_layer_params(m, &n);
    char c[32], kind[64];
    vf_buf_printf(b, "\n%s%-8s %20s  %s%s\n", vf_sty(VF_STY_BOLD), "layer", "parameters", "kind",
                  vf_sty(VF_STY_RESET));
    for (size_t i = 0; i + 1 < n; i++)
        vf_buf_printf(b, "%-8zu %20s  %s\n", i, vf_fmt_count(lp[i], c),
                      vf_layer_kind_format(vf_model_layer_kind(m, i), kind, sizeof kind));
    vf_buf_printf(b, "%-8s %20s\n", "other", vf_fmt_count(n ? lp[n - 1] : 0, c));
}

static void human_tensors(vf_buf *b, const vf_model *m)
{
    char shape[96], c1[32], c2[32];
    vf_buf_printf(b, "\n%s%-60s %-8s %-20s %16s %16s %6s %-12s %s%s\n", vf_sty(VF_STY_BOLD), "name", "dtype",
                  "shape", "numel", "bytes", "layer", "role", "file", vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
        const vf_tensor *t = vf_model_tensor(m, i);
        char layer[16] = "-";
        if (t->layer >= 0)
            snprintf(layer, sizeof layer, "%d", (int)t->layer);
        vf_buf_printf(b, "%-60s %-8s %-20s %16s %16s %6s %-12s %s\n", t->name, vf_dtype_name(t->dtype),
                      vf_fmt_shape(t->shape, t->ndim, shape, sizeof shape), vf_fmt_count(t->numel, c1),
                      vf_fmt_count(t->bytes, c2), layer, vf_role_name(t->role), t->file);
    }
}

static int inspect_store(void *parsed, const vf_opt *opt, const char *val)
{
    inspect_opts *opts = parsed;
    (void)val;
    opts->json |= opt->id == OPT_JSON;
    opts->tensors |= opt->id == OPT_TENSORS;
    opts->by_layer |= opt->id == OPT_BY_LAYER;
    return VF_EXIT_OK;
}

static int inspect_run(int argc, char **argv)
{
    vf_cmdline line;
    inspect_opts opts = {0};
    int rc = vf_cli_parse(&vf_inspect_command, argc, argv, &line, &opts, inspect_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    vf_model *m = NULL;
    vf_error err = {0};
    if (vf_model_open(line.operand, &line.open, &m, &err) != VF_OK)
        return vf_cli_fail(&err);
    vf_buf b = {0};
    rc = VF_EXIT_OK;
    if (opts.json) {
        rc = inspect_json(&b, m, &opts);
    } else {
        human_summary(&b, m);
        if (opts.by_layer)
            human_layers(&b, m);
        if (opts.tensors)
            human_tensors(&b, m);
    }
    vf_model_free(m);
    if (rc == VF_EXIT_OK)
        rc = vf_buf_flush(&b);
    vf_buf_free(&b);
    return rc;
}

const vf_command vf_inspect_command = {
    .name = "inspect",
    .summary = "summarise a checkpoint's tensors, parameters and architecture",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit inspect PATH [--json] [--tensors] [--by-layer] [--revision REV] [--hf-cache DIR]\n\n"
        "Summarises a checkpoint from its headers: files, tensors, parameters (buffers such as\n"
        "rotary inv_freq or causal masks excluded), bytes, dtypes, the architecture inferred from\n"
        "shapes (layers, hidden size, vocabulary, tied embeddings, experts) and index consistency.\n"
        "A pre-quantized checkpoint (bitsandbytes, GPTQ, AWQ, compressed-tensors, FP8, MXFP4) is\n"
        "counted dequantized, with its scheme, stored elements and metadata bytes (JSON:\n"
        "\"quantization\").\n"
        "The architecture is the language model's; vision/audio towers, projectors and MTP blocks\n"
        "are listed in a components table (JSON: \"components\"); MTP blocks transformers never\n"
        "loads keep their bytes but are not parameters or layers.\n\n",
    .options = inspect_table,
    .footer = "\n--quiet leaves out the findings; --verbose lists every file with its tensors and bytes.\n",
    .run = inspect_run,
};
