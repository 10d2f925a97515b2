/* vf_th_compat.c - Training Hub's model facts (VF_COMPAT_TRAINING_HUB): what upstream's
 * memory_estimator.py (main, last changed in 04ec040) derives from the model it loads through the
 * headless transformers.AutoModel, reproduced from the headers. The arithmetic rules of that mode are
 * in vf_estimator.c; the CLI and the Python binding only select the mode. */
#include <stdio.h>
#include <string.h>

#include "vramfit/vf_adapters.h"
#include "vramfit/vf_estimator.h"
#include "vramfit/vf_snapshot.h"

/* Upstream _find_valid_layers: 'phi-3' first, then the keys of mini_trainer's MODEL_CONFIGS in dict
 * order (shared/reference/target-families.md), each mapped to the vramfit family with the same
 * patterns. */
typedef struct path_key {
    const char *key;    /* MODEL_CONFIGS key (or the 'phi-3' special case) */
    const char *family; /* vramfit family with the same patterns */
} path_key;

static const path_key path_keys[] = {
    {"phi-3", "phi3"},      {"llama", "llama"},     {"gpt2", "gpt2"},     {"mistral", "llama"},
    {"gpt-j", "gpt-j"},     {"gpt-neo", "gpt-neo"}, {"opt", "opt"},       {"qwen", "llama"},
    {"gemma", "llama"},     {"phi3", "phi3"},       {"granite", "llama"}, {"gpt-oss", "gpt-oss"},
    {"qwen3_5", "qwen3.5"}, {"default", "default"},
};

/* True when hay contains needle (lower case), ignoring the case of ASCII letters in hay (Python's
 * str.lower() differs only for non-ASCII letters, which no key contains). */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               ((hay[i] >= 'A' && hay[i] <= 'Z') ? hay[i] - 'A' + 'a' : hay[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

const char *vf_th_path_family(const char *path, const char **key)
{
    if (key)
        *key = NULL;
    for (size_t i = 0; path && i < sizeof path_keys / sizeof path_keys[0]; i++)
        if (contains_ci(path, path_keys[i].key)) {
            if (key)
                *key = path_keys[i].key;
            return path_keys[i].family;
        }
    return "default";
}

const char *vf_th_family(const char *model_path, vf_family *out)
{
    const char *key = NULL;
    vf_family_by_name(vf_th_path_family(model_path, &key), out);
    snprintf(out->reason, sizeof out->reason,
             key ? "'%s' occurs in the path string" : "no known name in the path string", key);
    return key;
}

int vf_th_check_targets(const vf_target_spec *target, vf_error *err)
{
    const char *given = !target                 ? NULL
                        : target->modules       ? "--target"
                        : target->regex         ? "--target-regex"
                        : target->exclude       ? "--exclude"
                        : target->exclude_regex ? "an exclusion regex"
                                                : NULL;
    if (!given)
        return VF_OK;
    return vf_error_set(err, VF_ERR_USAGE, NULL, NULL,
                        "--compat training-hub picks the targets from the path string (Training Hub's "
                        "estimate() takes no target list); it cannot be combined with %s", given);
}

const char *vf_th_model_path(const vf_model *m, const char *path)
{
    const vf_checkpoint *cp = vf_model_checkpoint(m);
    if (vf_checkpoint_repo_id(cp))
        return vf_checkpoint_repo_id(cp); /* the Hub id that was asked for (or recorded) */
    if (path && !vf_snapshot_sniff(path))
        return path;
    return vf_checkpoint_dir(cp);
}

uint64_t vf_th_untied_head_params(const vf_model *m)
{
    const vf_arch *a = vf_model_arch(m);
    long head = a->lm_head && !a->tied_embeddings ? vf_model_find(m, a->lm_head) : -1;
    return head >= 0 ? vf_model_tensor(m, (size_t)head)->logical_numel : 0;
}

int vf_est_model_training_hub(const vf_model *m, const char *model_path, vf_method method,
                              uint32_t lora_r, vf_est_model *out, uint64_t *lm_head_params,
                              vf_error *err)
{
    int rc = vf_est_model_from(m, VF_METHOD_SFT, NULL, lora_r, out, err); /* P, L, H, V */
    if (rc != VF_OK)
        return rc;
    const uint64_t head = vf_th_untied_head_params(m);
    if (lm_head_params)
        *lm_head_params = head;
    if (head < out->parameters)
        out->parameters -= head; /* AutoModel.num_parameters() of the headless base model */
    out->stored_4bit = false;    /* Training Hub knows nothing of the stored format */
    if (method == VF_METHOD_SFT)
        return VF_OK;
    vf_target_spec spec = {0};
    spec.family = vf_th_path_family(model_path, NULL);
    spec.allow_unmatched = true; /* upstream sums whatever matches, possibly nothing (AB = 0) */
    vf_adapter_input in;
    rc = vf_adapter_estimator_input(m, &spec, lora_r ? lora_r : 1u, &in, err);
    if (rc != VF_OK)
        return rc;
    out->lora_dim_sum = in.lora_dim_sum;
    out->osft_params = in.osft_params;
    if (head < out->osft_params)
        out->osft_params -= head; /* not in AutoModel's state_dict, and never a target */
    return VF_OK;
}
