/* vf_report_inspect.c - the document of `vramfit inspect --json` (vf_report_inspect_json): files,
 * tensors, parameters, buffers, bytes, quantization, dtypes, architecture, components, index and
 * findings; layer totals and the tensor table on request. */
#include <stdio.h>

#include "vf_report_internal.h"

static void json_dtypes(vf_jw *j, const vf_totals *t)
{
    vf_jw_obj(j, "dtypes");
    for (int d = 0; d < VF_DTYPE_COUNT; d++) {
        const vf_dtype_stats *s = &t->by_dtype[d];
        if (!s->tensors)
            continue;
        vf_jw_obj(j, vf_dtype_name((vf_dtype)d));
        vf_jw_u64(j, "tensors", s->tensors);
        vf_jw_u64(j, "elements", s->elements);
        vf_jw_u64(j, "bytes", s->bytes);
        vf_jw_obj_end(j);
    }
    vf_jw_obj_end(j);
}

static void json_arch(vf_jw *j, const vf_arch *a)
{
    vf_jw_obj(j, "architecture");
    vf_jw_u64(j, "layers", a->layers);
    vf_jw_u64(j, "hidden_size", a->hidden_size);
    vf_jw_u64(j, "vocab_size", a->vocab_size);
    vf_jw_bool(j, "tied_embeddings", a->tied_embeddings);
    vf_jw_u64(j, "experts", a->experts);
    vf_jw_str(j, "embedding", a->embedding);
    vf_jw_str(j, "lm_head", a->lm_head);
    vf_jw_str(j, "kind", vf_model_kind_name(a->kind));
    vf_jw_u64(j, "shared_expert_layers", a->shared_experts_layers);
    vf_jw_obj_end(j);
}

/* Only for a quantized checkpoint: unquantized output stays as it was. */
static void json_quant(vf_jw *j, const vf_quant *q)
{
    if (q->scheme == VF_QUANT_NONE)
        return;
    vf_jw_obj(j, "quantization");
    vf_jw_str(j, "scheme", vf_quant_scheme_name(q->scheme));
    vf_jw_u64(j, "bits", q->bits);
    vf_jw_u64(j, "group_size", q->group_size);
    vf_jw_bool(j, "double_quant", q->double_quant);
    vf_jw_str(j, "config_method", *q->config_method ? q->config_method : NULL);
    vf_jw_bool(j, "peft_all_linear", q->peft_linear);
    vf_jw_u64(j, "quantized_tensors", q->quantized_tensors);
    vf_jw_u64(j, "logical_elements", q->logical_elements);
    vf_jw_u64(j, "stored_elements", q->stored_elements);
    vf_jw_u64(j, "metadata_tensors", q->metadata_tensors);
    vf_jw_u64(j, "metadata_bytes", q->metadata_bytes);
    vf_jw_obj_end(j);
}

static void json_components(vf_jw *j, const vf_model *m)
{
    vf_jw_arr(j, "components");
    for (size_t i = 0; i < vf_model_component_count(m); i++) {
        const vf_component_stats *c = vf_model_component(m, i);
        vf_jw_obj(j, NULL);
        vf_jw_str(j, "name", vf_component_name(c->component));
        vf_jw_u64(j, "tensors", c->tensors);
        vf_jw_u64(j, "parameters", c->parameters);
        vf_jw_u64(j, "bytes", c->bytes);
        vf_jw_u64(j, "layers", c->layers);
        vf_jw_bool(j, "loaded", c->loaded);
        vf_jw_obj_end(j);
    }
    vf_jw_arr_end(j);
}

static void json_index(vf_jw *j, const vf_checkpoint *cp)
{
    uint64_t total;
    vf_jw_obj(j, "index");
    vf_jw_bool(j, "present", vf_checkpoint_has_index(cp));
    if (vf_checkpoint_index_total_size(cp, &total))
        vf_jw_u64(j, "total_size", total);
    else
        vf_jw_null(j, "total_size");
    vf_jw_bool(j, "consistent", vf_checkpoint_index_consistent(cp));
    vf_jw_obj_end(j);
}

static void json_tensor(vf_jw *j, const vf_tensor *t)
{
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "name", t->name);
    vf_jw_str(j, "dtype", vf_dtype_name(t->dtype));
    vf_jw_shape(j, "shape", t->shape, t->ndim);
    vf_jw_u64(j, "numel", t->numel);
    vf_jw_u64(j, "bytes", t->bytes);
    vf_jw_str(j, "file", t->file);
    if (t->layer >= 0)
        vf_jw_i64(j, "layer", t->layer);
    else
        vf_jw_null(j, "layer");
    if (t->expert >= 0)
        vf_jw_i64(j, "expert", t->expert);
    else
        vf_jw_null(j, "expert");
    vf_jw_str(j, "role", vf_role_name(t->role));
    vf_jw_bool(j, "buffer", t->buffer);
    vf_jw_str(j, "component", vf_component_name(t->component));
    vf_jw_str(j, "module", vf_module_kind_name(t->module));
    vf_jw_bool(j, "ignored", t->ignored);
    if (t->quant != VF_QPART_NONE) {
        vf_jw_str(j, "quant", vf_quant_part_name(t->quant));
        vf_jw_u64(j, "logical_numel", t->logical_numel);
    }
    vf_jw_obj_end(j);
}

static void json_layers(vf_jw *j, const vf_model *m)
{
    size_t n;
    const uint64_t *lp = vf_model_layer_params(m, &n);
    vf_jw_arr(j, "layers");
    char kind[64];
    for (size_t i = 0; i + 1 < n; i++) {
        vf_jw_obj(j, NULL);
        vf_jw_u64(j, "layer", i);
        vf_jw_u64(j, "parameters", lp[i]);
        vf_jw_str(j, "kind", vf_layer_kind_format(vf_model_layer_kind(m, i), kind, sizeof kind));
        vf_jw_obj_end(j);
    }
    vf_jw_arr_end(j);
    vf_jw_u64(j, "non_layer_parameters", n ? lp[n - 1] : 0);
}

int vf_report_inspect_json(const vf_model *m, unsigned flags, char **out, vf_error *err)
{
    if (!m || !out)
        return vf_report_null_arg("vf_report_inspect_json", out, err);
    const vf_totals *t = vf_model_totals(m);
    vf_buf b = {0};
    vf_jw j = {.b = &b};
    vf_jw_doc(&j);
    vf_jw_str(&j, "format", "safetensors");
    vf_jw_origin(&j, vf_model_checkpoint(m));
    vf_jw_u64(&j, "files", t->files);
    vf_jw_u64(&j, "tensors", t->tensors);
    vf_jw_u64(&j, "parameters", t->parameters);
    vf_jw_u64(&j, "buffers", t->buffers);
    vf_jw_u64(&j, "buffer_tensors", t->buffer_tensors);
    vf_jw_u64(&j, "bytes", t->bytes);
    json_quant(&j, vf_model_quant(m));
    json_dtypes(&j, t);
    json_arch(&j, vf_model_arch(m));
    json_components(&j, m);
    json_index(&j, vf_model_checkpoint(m));
    vf_jw_findings(&j, "findings", vf_model_findings(m));
    if (flags & VF_REPORT_BY_LAYER)
        json_layers(&j, m);
    if (flags & VF_REPORT_TENSORS) {
        vf_jw_arr(&j, "tensor_list");
        for (size_t i = 0; i < vf_model_tensor_count(m); i++)
            json_tensor(&j, vf_model_tensor(m, i));
        vf_jw_arr_end(&j);
    }
    vf_jw_obj_end(&j);
    return vf_report_finish(&b, out, err);
}
