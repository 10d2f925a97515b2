/* vf_est_checkpoint.c - from a tensor table (or a checkpoint path) to the estimator's inputs and
 * result: the glue the CLI and the language bindings share, so both report the same bytes. */
#include <string.h>

#include "vramfit/vf_adapters.h"
#include "vramfit/vf_estimator.h"

/* The estimator's activation and output terms are Training Hub's formulas for causal language
 * models: they need the language model's hidden size and vocabulary. Encoders and encoder-decoders
 * are refused rather than estimated with a decoder's formula; so is a checkpoint whose input
 * embedding cannot be found (H = V = 0 would silently drop both terms). */
static int check_estimable(const vf_model *m, vf_error *err)
{
    const vf_arch *a = vf_model_arch(m);
    const char *dir = vf_checkpoint_dir(vf_model_checkpoint(m));
    if (a->kind != VF_MODEL_DECODER)
        return vf_error_set(err, VF_ERR_UNSUPPORTED, dir, NULL,
                            "an %s model: the estimator's formulas are for causal language models "
                            "(inspect and adapters still work)",
                            vf_model_kind_name(a->kind));
    if (a->hidden_size == 0 || a->vocab_size == 0)
        return vf_error_set(err, VF_ERR_UNSUPPORTED, dir, NULL,
                            "no input embedding found, so hidden size and vocabulary are unknown; "
                            "cannot estimate activations and outputs");
    return VF_OK;
}

int vf_est_model_from(const vf_model *m, vf_method method, const vf_target_spec *target, uint32_t lora_r,
                      vf_est_model *out, vf_error *err)
{
    const vf_arch *a = vf_model_arch(m);
    memset(out, 0, sizeof *out);
    int rc = check_estimable(m, err);
    if (rc != VF_OK)
        return rc;
    out->parameters = vf_model_totals(m)->parameters;
    out->layers = a->layers;
    out->hidden_size = a->hidden_size;
    out->vocab_size = a->vocab_size;
    const vf_quant *q = vf_model_quant(m);
    out->stored_4bit = q->scheme != VF_QUANT_NONE && q->bits <= 4;
    if (method == VF_METHOD_SFT)
        return VF_OK;
    vf_adapter_input in;
    rc = vf_adapter_estimator_input(m, target, lora_r ? lora_r : 1u, &in, err);
    if (rc != VF_OK)
        return rc;
    out->lora_dim_sum = in.lora_dim_sum;
    out->osft_params = in.osft_params;
    return VF_OK;
}

int vf_estimate_checkpoint(const char *path, const vf_open_options *opts, const vf_est_setup *s,
                           vf_est_result *out, vf_error *err)
{
    vf_model *m = NULL;
    int rc = vf_model_open(path, opts, &m, err);
    vf_est_model em;
    if (rc == VF_OK)
        rc = vf_est_model_from(m, s->method, NULL, s->lora_r, &em, err);
    if (rc == VF_OK)
        rc = vf_estimate(&em, s, out, err);
    vf_model_free(m);
    return rc;
}
