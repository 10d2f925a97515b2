/* cmd_audit.c - `vramfit audit ADAPTER_DIR [--base PATH]`: the stored lora_A / lora_B shapes of a PEFT
 * adapter, checked against its adapter_config.json and, with --base, against the adapter predicted
 * from the base checkpoint. Differences exit with 5 (VF_EXIT_MISMATCH). */
#include <stdio.h>
#include <string.h>

#include "vf_cli.h"
#include "vramfit/vf_adapters.h"

enum { OPT_BASE = 1, OPT_JSON };

static const vf_opt audit_table[] = {
    VF_OPT_COLUMN(19),
    {"base", 0, "PATH", OPT_BASE, "base checkpoint (directory, file, index or HF id in the local cache)", VF_VALUES_FILE},
    {"json", 0, NULL, OPT_JSON, "one JSON document on stdout"},
    {"revision", 0, "REV", VF_OPT_REVISION, "Hugging Face cache snapshot of the base (branch, tag or commit)"},
    {"hf-cache", 0, "DIR", VF_OPT_HF_CACHE, VF_OPT_HF_CACHE_HELP, VF_VALUES_DIR},
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

typedef struct audit_opts {
    const char *base;
    bool json;
} audit_opts;

static int audit_store(void *parsed, const vf_opt *opt, const char *val)
{
    audit_opts *opts = parsed;
    opts->base = opt->id == OPT_BASE ? val : opts->base;
    opts->json |= opt->id == OPT_JSON;
    return VF_EXIT_OK;
}

/* ---- JSON -------------------------------------------------------------------------------------- */

static void json_tensor(vf_jw *j, const char *key, const vf_st_tensor *t)
{
    if (!t) {
        vf_jw_null(j, key);
        return;
    }
    vf_jw_obj(j, key);
    vf_jw_str(j, "name", t->name);
    vf_jw_str(j, "dtype", vf_dtype_name(t->dtype));
    vf_jw_shape(j, "shape", t->shape, t->ndim);
    vf_jw_obj_end(j);
}

static void json_config(vf_jw *j, const vf_peft_config *c)
{
    vf_jw_obj(j, "config");
    vf_jw_u64(j, "r", c->r);
    vf_jw_double(j, "lora_alpha", c->lora_alpha);
    vf_jw_str(j, "target_modules", c->target_modules ? c->target_modules : c->target_regex);
    vf_jw_bool(j, "target_modules_is_regex", !c->target_modules && c->target_regex);
    vf_jw_str(j, "exclude_modules", c->exclude_modules ? c->exclude_modules : c->exclude_regex);
    vf_jw_obj(j, "rank_pattern");
    for (size_t i = 0; i < c->rank_pattern_count; i++)
        vf_jw_u64(j, c->rank_pattern[i].pattern, c->rank_pattern[i].rank);
    vf_jw_obj_end(j);
    vf_jw_obj(j, "alpha_pattern");
    for (size_t i = 0; i < c->alpha_pattern_count; i++)
        vf_jw_double(j, c->alpha_pattern[i].pattern, c->alpha_pattern[i].alpha);
    vf_jw_obj_end(j);
    vf_jw_bool(j, "use_dora", c->use_dora);
    vf_jw_bool(j, "use_rslora", c->use_rslora);
    vf_jw_str(j, "bias", vf_lora_bias_name(c->bias));
    vf_jw_str(j, "modules_to_save", c->modules_to_save);
    vf_jw_str(j, "task_type", c->task_type);
    vf_jw_str(j, "base_model_name_or_path", c->base_model);
    vf_jw_obj_end(j);
}

static void json_entry(vf_jw *j, const vf_audit_entry *e)
{
    bool pair = e->kind == VF_AUDIT_LORA || e->kind == VF_AUDIT_LORA_EMBED;
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "module", e->module);
    vf_jw_str(j, "kind", vf_audit_kind_name(e->kind));
    if (e->layer >= 0)
        vf_jw_i64(j, "layer", e->layer);
    else
        vf_jw_null(j, "layer");
    json_tensor(j, pair ? "lora_A" : "tensor", e->a);
    if (pair) {
        json_tensor(j, "lora_B", e->b);
        vf_jw_u64(j, "rank", e->rank);
        vf_jw_u64(j, "in", e->in);
        vf_jw_u64(j, "out", e->out);
    }
    vf_jw_u64(j, "params", e->params);
    vf_jw_str(j, "base", e->base);
    vf_jw_str(j, "note", e->note);
    vf_jw_obj_end(j);
}

static void audit_json(vf_buf *b, const vf_audit *a, const char *base)
{
    const vf_audit_totals *t = vf_audit_get_totals(a);
    const vf_family *f = vf_audit_family(a);
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    vf_jw_str(&j, "adapter", vf_audit_file(a));
    vf_jw_str(&j, "base", base);
    vf_jw_str(&j, "family", f ? f->name : NULL);
    json_config(&j, vf_audit_config(a));
    vf_jw_u64(&j, "tensors", t->tensors);
    vf_jw_u64(&j, "parameters", t->parameters);
    vf_jw_u64(&j, "lora_parameters", t->lora_params);
    vf_jw_u64(&j, "other_parameters", t->other_params);
    vf_jw_u64(&j, "bytes", t->bytes);
    if (base)
        vf_jw_u64(&j, "expected_parameters", t->expected_params);
    else
        vf_jw_null(&j, "expected_parameters");
    vf_jw_arr(&j, "entries");
    for (size_t i = 0; i < vf_audit_entry_count(a); i++)
        json_entry(&j, vf_audit_entry_at(a, i));
    vf_jw_arr_end(&j);
    vf_jw_arr(&j, "differences");
    for (size_t i = 0; i < vf_audit_diff_count(a); i++) {
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "tensor", vf_audit_diff_at(a, i)->tensor);
        vf_jw_str(&j, "message", vf_audit_diff_at(a, i)->message);
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_findings(&j, "findings", vf_audit_findings(a));
    vf_jw_bool(&j, "agrees", vf_audit_diff_count(a) == 0);
    vf_jw_obj_end(&j);
    vf_buf_put(b, "\n", 1);
}

/* ---- human ------------------------------------------------------------------------------------- */

static void human_config(vf_buf *b, const vf_peft_config *c)
{
    vf_buf_printf(b, "Config      r=%llu, lora_alpha %g, target_modules %s%s%s, bias %s, DoRA %s, "
                     "modules_to_save %s, task %s\n",
                  (unsigned long long)c->r, c->lora_alpha,
                  c->target_modules ? c->target_modules : c->target_regex ? c->target_regex : "null",
                  !c->target_modules && c->target_regex ? " (regex)" : "",
                  c->rank_pattern_count ? " + rank_pattern" : "", vf_lora_bias_name(c->bias),
                  c->use_dora ? "yes" : "no", c->modules_to_save ? c->modules_to_save : "null",
                  c->task_type ? c->task_type : "null");
}

static void human_entries(vf_buf *b, const vf_audit *a)
{
    char s1[64], s2[64], c[32], layer[16], rank[24];
    vf_buf_printf(b, "\n%s%-44s %5s %-16s %-14s %-14s %6s %14s  %s%s\n", vf_sty(VF_STY_BOLD), "module",
                  "layer", "kind", "lora_A", "lora_B", "rank", "params", "base", vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < vf_audit_entry_count(a); i++) {
        const vf_audit_entry *e = vf_audit_entry_at(a, i);
        bool pair = e->kind == VF_AUDIT_LORA || e->kind == VF_AUDIT_LORA_EMBED;
        snprintf(layer, sizeof layer, "%d", (int)e->layer);
        if (e->layer < 0)
            snprintf(layer, sizeof layer, "-");
        snprintf(rank, sizeof rank, "%llu", (unsigned long long)e->rank);
        snprintf(s1, sizeof s1, "-");
        snprintf(s2, sizeof s2, "-");
        if (e->a)
            vf_fmt_shape(e->a->shape, e->a->ndim, s1, sizeof s1);
        if (e->b)
            vf_fmt_shape(e->b->shape, e->b->ndim, s2, sizeof s2);
        vf_buf_printf(b, "%-44s %5s %-16s %-14s %-14s %6s %14s  %s\n", e->module, layer,
                      vf_audit_kind_name(e->kind), s1, pair ? s2 : "", pair ? rank : "-",
                      vf_fmt_count(e->params, c), e->base ? e->base : e->note ? "(new task head)" : "");
    }
    for (size_t i = 0; vf_ui_verbose() && i < vf_audit_entry_count(a); i++)
        if (vf_audit_entry_at(a, i)->note)
            vf_buf_printf(b, "  %s: %s\n", vf_audit_entry_at(a, i)->module, vf_audit_entry_at(a, i)->note);
}

static void human_totals(vf_buf *b, const vf_audit *a, bool base)
{
    const vf_audit_totals *t = vf_audit_get_totals(a);
    char c1[32], c2[32], c3[32], c4[32], c5[32];
    vf_buf_printf(b, "\nTotals      %s tensors, %s parameters (LoRA %s, other %s), %s bytes\n",
                  vf_fmt_count(t->tensors, c1), vf_fmt_count(t->parameters, c2), vf_fmt_count(t->lora_params, c3),
                  vf_fmt_count(t->other_params, c4), vf_fmt_count(t->bytes, c5));
    if (base)
        vf_buf_printf(b, "Predicted   %s parameters from the base and the config\n",
                      vf_fmt_count(t->expected_params, c1));
    const vf_findings *f = vf_audit_findings(a);
    if (!vf_ui_quiet())
        vf_cli_findings(b, "", f);
    size_t n = vf_audit_diff_count(a);
    if (n == 0)
        vf_buf_printf(b, "\n%sOK%s: the adapter agrees with the %s\n", vf_sty(VF_STY_GREEN), vf_sty(VF_STY_RESET),
                      base ? "prediction from the base" : "config");
    else
        vf_buf_printf(b, "\n%sMISMATCH%s: %zu difference%s\n", vf_sty(VF_STY_RED), vf_sty(VF_STY_RESET), n,
                      n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++)
        vf_buf_printf(b, "  %s: %s\n", vf_audit_diff_at(a, i)->tensor, vf_audit_diff_at(a, i)->message);
}

static void audit_human(vf_buf *b, const vf_audit *a, const char *base)
{
    const vf_family *f = vf_audit_family(a);
    vf_buf_printf(b, "Adapter     %s\n", vf_audit_file(a));
    human_config(b, vf_audit_config(a));
    if (base)
        vf_buf_printf(b, "Base        %s (family %s: %s)\n", base, f ? f->name : "?",
                      f ? f->reason : "");
    else
        vf_buf_printf(b, "Base        none (give --base PATH to predict the adapter from the base;\n"
                         "            base_model_name_or_path is looked up in the local cache)\n");
    human_entries(b, a);
    human_totals(b, a, base != NULL);
}

/* ---- command ----------------------------------------------------------------------------------- */

static int audit_run(int argc, char **argv)
{
    vf_cmdline line;
    audit_opts opts = {0};
    int rc = vf_cli_parse(&vf_audit_command, argc, argv, &line, &opts, audit_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    vf_error err = {0};
    vf_audit *a = NULL;
    if (vf_audit_run(line.operand, opts.base, &line.open, &a, &err) != VF_OK)
        return vf_cli_fail(&err);
    vf_buf b = {0};
    const char *base = vf_audit_base_name(a); /* --base, or base_model_name_or_path in the cache */
    if (opts.json)
        audit_json(&b, a, base);
    else
        audit_human(&b, a, base);
    int verdict = vf_audit_verdict(a, &err);
    vf_audit_free(a);
    rc = vf_buf_flush(&b);
    vf_buf_free(&b);
    if (rc != VF_EXIT_OK)
        return rc;
    return verdict == VF_OK ? VF_EXIT_OK : vf_cli_fail(&err);
}

const vf_command vf_audit_command = {
    .name = "audit",
    .summary = "check a PEFT adapter directory against its config and base",
    .operand = "ADAPTER_DIR",
    .synopsis =
        "usage: vramfit audit ADAPTER_DIR [--base PATH] [--json] [--revision REV] [--hf-cache DIR]\n\n"
        "Reads a PEFT adapter directory (adapter_model.safetensors + adapter_config.json: r, lora_alpha,\n"
        "target_modules as a list or a regex, rank_pattern, alpha_pattern, use_dora, modules_to_save,\n"
        "bias) and reports per module the stored lora_A / lora_B shapes (keys such as\n"
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight), ranks and totals.\n"
        "Without --base the stored tensors are checked against the config (ranks, targets, DoRA,\n"
        "biases, modules_to_save). With --base the adapter is predicted from the base checkpoint and\n"
        "the config, and every difference is listed: missing or extra matrices, wrong ranks, shapes\n"
        "that do not fit the base matrix. Task heads PEFT saves by itself (classifier/score for\n"
        "SEQ_CLS and TOKEN_CLS, qa_outputs for QUESTION_ANS) are accepted and explained.\n\n",
    .options = audit_table,
    .footer = "\n--quiet leaves out the notes; --verbose adds the explanation of each task head or\n"
              "module PEFT saves by itself.\n\n"
              "Exit codes: 0 the adapter agrees, 5 differences found (report on stdout, summary on stderr),\n"
              "2 usage, 3 missing file, 4 malformed file or config.\n",
    .run = audit_run,
};
