/* fuzz_adapter_config.c - libFuzzer target for the PEFT adapter_config.json reader
 * (vf_peft_config_parse, from bytes) and its regular expressions. An accepted config must hold a
 * rank in 1..VF_ADAPTER_RANK_MAX, peft_type LORA or absent, a known bias, well-formed pattern
 * tables, and regexes that compile (the reader checked them) and match module names within their
 * budget: 1, 0 or VF_ERR_UNSUPPORTED, never anything else (run with -timeout to catch slowness). */
#include <math.h>
#include <string.h>

#include "vf_fuzz.h"
#include "vramfit/vf_adapters.h"

static void check_config(const vf_peft_config *c)
{
    VF_FUZZ_CHECK(c->r >= 1 && c->r <= VF_ADAPTER_RANK_MAX);
    VF_FUZZ_CHECK(!c->peft_type || strcmp(c->peft_type, "LORA") == 0);
    VF_FUZZ_CHECK(vf_lora_bias_name(c->bias) != NULL);
    VF_FUZZ_CHECK(!isnan(c->lora_alpha));
    VF_FUZZ_CHECK(c->rank_pattern_count == 0 || c->rank_pattern);
    for (size_t i = 0; i < c->rank_pattern_count; i++)
        VF_FUZZ_CHECK(c->rank_pattern[i].pattern != NULL);
    VF_FUZZ_CHECK(c->alpha_pattern_count == 0 || c->alpha_pattern);
    for (size_t i = 0; i < c->alpha_pattern_count; i++)
        VF_FUZZ_CHECK(c->alpha_pattern[i].pattern != NULL);
    const char *strs[] = {c->task_type, c->base_model, c->target_modules, c->target_regex,
                          c->exclude_modules, c->exclude_regex, c->modules_to_save};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        VF_FUZZ_CHECK(!strs[i] || strlen(strs[i]) <= VF_PEFT_CONFIG_MAX);
}

/* Every regex of c matched against a few module names, one of them taken from the config itself. */
static void check_regex(const char *pattern, bool suffix, const vf_peft_config *c)
{
    static const char *const names[] = {"model.layers.0.self_attn.q_proj", "model.embed_tokens",
                                        "transformer.h.11.mlp.c_fc", "", "lm_head"};
    vf_name_regex *re = NULL;
    vf_error err;
    vf_fuzz_error_init(&err);
    int rc = vf_name_regex_new(pattern, suffix, &re, &err);
    VF_FUZZ_CHECK(rc == VF_OK || rc == VF_ERR_NOMEM);
    for (size_t i = 0; re && i <= sizeof names / sizeof names[0]; i++) {
        const char *name = i < sizeof names / sizeof names[0] ? names[i] : c->base_model ? c->base_model : "";
        int hit = vf_name_regex_match(re, name, &err);
        VF_FUZZ_CHECK(hit == 0 || hit == 1 || hit == VF_ERR_UNSUPPORTED || hit == VF_ERR_NOMEM);
    }
    vf_name_regex_free(re);
}

static void check_regexes(const vf_peft_config *c)
{
    if (c->target_regex && strcmp(c->target_regex, "all-linear") != 0)
        check_regex(c->target_regex, false, c);
    if (c->exclude_regex)
        check_regex(c->exclude_regex, false, c);
    for (size_t i = 0; i < c->rank_pattern_count; i++)
        check_regex(c->rank_pattern[i].pattern, true, c);
    for (size_t i = 0; i < c->alpha_pattern_count; i++)
        check_regex(c->alpha_pattern[i].pattern, true, c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vf_peft_config *c = (vf_peft_config *)&c;
    vf_error err;
    vf_fuzz_error_init(&err);
    int rc = vf_peft_config_parse(data, size, "adapter_config.json", &c, &err);
    if (rc != VF_OK) {
        VF_FUZZ_CHECK(c == NULL);
        vf_fuzz_check_error(rc, &err, "dm");
        return 0;
    }
    VF_FUZZ_CHECK(c != NULL);
    check_config(c);
    check_regexes(c);
    vf_peft_config_free(c);
    return 0;
}
