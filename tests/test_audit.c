/* test_audit.c - `vramfit audit` on the two real GPT-2 PEFT adapters (testdata/public) and the
 * generated tiny-llama adapters in testdata/, plus the hostile-input contract of the
 * adapter_config.json reader (vf_peft_config_parse). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"
#include "vramfit/vf_adapters.h"

#define SEQ_CLS VF_FIXTURES_DIR "/peft-adapters/anirudh-ak_peft-gpt2"
#define TIGRINYA VF_FIXTURES_DIR "/peft-adapters/abrhaleyarefaine1997_gpt2-tigrinya-lora"
#define TINY VF_SOURCE_DIR "/testdata/tiny-llama"
#define TINY_LORA VF_SOURCE_DIR "/testdata/tiny-llama-lora"
#define TINY_WRONG VF_SOURCE_DIR "/testdata/tiny-llama-lora-wrong"

static uint64_t ju64(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "key %s", key);
    return (uint64_t)v->valuedouble;
}

static cJSON *audit_json(const char *dir, const char *base, int want_status)
{
    vft_run r = base ? vft_cli("audit", dir, "--base", base, "--json", NULL) : vft_cli("audit", dir, "--json", NULL);
    cr_assert_eq(r.status, want_status, "exit %d, stderr: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%.300s", r.out);
    vft_run_free(&r);
    return j;
}

static size_t count_kind(const cJSON *j, const char *kind)
{
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "entries"))
    n += strcmp(cJSON_GetObjectItemCaseSensitive(e, "kind")->valuestring, kind) == 0;
    return n;
}

/* ---- real PEFT adapters ------------------------------------------------------------------------ */

Test(audit, seq_cls_gpt2_adapter_agrees_with_a_gpt2_base_and_explains_the_score_head)
{
    char *base = vft_gen("gpt2");
    cJSON *j = audit_json(SEQ_CLS, base, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "agrees")));
    cr_assert_eq(ju64(j, "tensors"), 25);
    cr_assert_eq(ju64(j, "parameters"), 299520);
    cr_assert_eq(ju64(j, "lora_parameters"), 294912);
    cr_assert_eq(ju64(j, "other_parameters"), 4608);
    cr_assert_eq(ju64(j, "expected_parameters"), 299520);
    cr_assert_eq(count_kind(j, "lora"), 12);
    cr_assert_eq(count_kind(j, "modules_to_save"), 1);
    const cJSON *e;
    bool head = false;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "entries"))
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "module")->valuestring, "score") != 0)
            continue;
        const cJSON *note = cJSON_GetObjectItemCaseSensitive(e, "note");
        head = cJSON_IsString(note) && strstr(note->valuestring, "SEQ_CLS");
    }
    cr_assert(head, "the score head is explained");
    cJSON_Delete(j);
    vft_run r = vft_cli("audit", SEQ_CLS, "--base", base, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "OK: the adapter agrees with the prediction from the base"), "%s", r.out);
    cr_assert(strstr(r.out, "modules_to_save is null"), "%s", r.out);
    vft_run_free(&r);
    free(base);
}

Test(audit, tigrinya_adapter_targets_attn_and_mlp_c_proj)
{
    char *base = vft_gen("gpt2");
    cJSON *j = audit_json(TIGRINYA, base, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "agrees")));
    cr_assert_eq(ju64(j, "tensors"), 72);
    cr_assert_eq(ju64(j, "parameters"), 811008);
    cr_assert_eq(ju64(j, "expected_parameters"), 811008);
    cr_assert_eq(count_kind(j, "lora"), 36);
    cJSON_Delete(j);
    j = audit_json(TIGRINYA, NULL, 0); /* config-only audit agrees too */
    cr_assert(cJSON_GetObjectItemCaseSensitive(j, "expected_parameters")->type == cJSON_NULL);
    cJSON_Delete(j);
    free(base);
}

/* ---- generated adapters ------------------------------------------------------------------------ */

Test(audit, generated_tiny_llama_adapter_agrees)
{
    cJSON *j = audit_json(TINY_LORA, TINY, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "agrees")));
    cr_assert_eq(count_kind(j, "lora"), 4);
    cr_assert_eq(ju64(j, "parameters"), ju64(j, "expected_parameters"));
    cJSON_Delete(j);
}

Test(audit, wrong_rank_is_caught_with_a_precise_message)
{
    vft_run r = vft_cli("audit", TINY_WRONG, "--base", TINY, NULL);
    cr_assert_eq(r.status, 5, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "MISMATCH: 1 difference"), "%s", r.out);
    const char *want = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': 1 difference from "
                       "the prediction; first: wrong rank: lora_A is [5,64] (rank 5) but r=4 expects [4,64]";
    cr_assert(strstr(r.err, want), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one line: %s", r.err);
    vft_run_free(&r);
    r = vft_cli("audit", TINY_WRONG, NULL);
    cr_assert_eq(r.status, 5);
    cr_assert(strstr(r.err, "wrong rank: lora_A is [5,64]"), "%s", r.err);
    vft_run_free(&r);
}

/* Copies the tiny adapter's tensors next to a different config in a temp dir. */
static char *adapter_with_config(const char *config)
{
    char *dir = vft_tempdir(), *src = vft_path(TINY_LORA, "adapter_model.safetensors");
    size_t len;
    char *data = vft_read_file(src, &len);
    cr_assert_not_null(data);
    char *dst = vft_path(dir, "adapter_model.safetensors");
    vft_write_file(dst, data, len);
    char *cfg = vft_path(dir, "adapter_config.json");
    vft_write_file(cfg, config, strlen(config));
    free(src);
    free(data);
    free(dst);
    free(cfg);
    return dir;
}

Test(audit, missing_and_extra_matrices_are_listed)
{
    char *dir = adapter_with_config("{\"peft_type\":\"LORA\",\"r\":4,\"target_modules\":[\"q_proj\",\"k_proj\"]}");
    cJSON *j = audit_json(dir, TINY, 5);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "differences"), *x;
    size_t missing = 0, extra = 0;
    cJSON_ArrayForEach(x, d)
    {
        const char *m = cJSON_GetObjectItemCaseSensitive(x, "message")->valuestring;
        missing += strstr(m, "missing: the config targets base 'model.layers.") == m && strstr(m, "k_proj");
        extra += strstr(m, "extra: base 'model.layers.") && strstr(m, "v_proj.weight' exists but the config "
                                                                     "does not target it");
    }
    cr_assert_eq(missing, 2);
    cr_assert_eq(extra, 2);
    cr_assert_eq((size_t)cJSON_GetArraySize(d), 4);
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

Test(audit, rank_pattern_and_regex_targets_are_honoured)
{
    char *dir = adapter_with_config("{\"r\":8,\"target_modules\":\"model\\\\.layers\\\\.\\\\d+\\\\.self_attn\\\\.(q|v)_proj\","
                                    "\"rank_pattern\":{\"q_proj\":4,\"v_proj\":4}}");
    cJSON *j = audit_json(dir, TINY, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "agrees")));
    cJSON_Delete(j);
    vft_rmtree(dir);
    free(dir);
}

/* exclude_modules given as a string is a regex (PEFT check_target_module_exists: re.fullmatch on
 * the module name): the config-only audit applies it as the prediction does, so an adapter that
 * stores a matrix the regex excludes disagrees with its config both ways. */
Test(audit, exclude_modules_regex_is_applied_with_and_without_a_base)
{
    char *dir = adapter_with_config("{\"peft_type\":\"LORA\",\"r\":4,\"target_modules\":[\"q_proj\",\"v_proj\"],"
                                    "\"exclude_modules\":\"model\\\\.layers\\\\.0\\\\.self_attn\\\\.q_proj\"}");
    const char *bases[] = {NULL, TINY};
    for (size_t i = 0; i < 2; i++) {
        cJSON *j = audit_json(dir, bases[i], 5);
        char *diffs = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "differences"));
        cr_assert_not_null(diffs);
        cr_assert(strstr(diffs, "layers.0.self_attn.q_proj"), "%s base: the excluded layers.0 q_proj must disagree: %s",
                  bases[i] ? "with" : "without", diffs);
        free(diffs);
        cJSON_Delete(j);
    }
    vft_rmtree(dir);
    free(dir);
}

Test(audit, errors_are_one_line_with_documented_exit_codes)
{
    char *dir = vft_tempdir();
    vft_run r = vft_cli("audit", dir, NULL);
    cr_assert_eq(r.status, 4, "no safetensors: %s", r.err); /* VF_ERR_NO_TENSORS is invalid input */
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
    dir = adapter_with_config("{\"r\":1.5,\"target_modules\":[\"q_proj\"]}");
    r = vft_cli("audit", dir, NULL);
    cr_assert_eq(r.status, 4);
    cr_assert(strstr(r.err, "adapter_config.json: tensor 'r':"), "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
    r = vft_cli("audit", "--help", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--base") && strstr(r.out, "--json"));
    vft_run_free(&r);
}

/* ---- adapter_config.json reader ---------------------------------------------------------------- */

static int parse(const char *text, vf_error *err)
{
    vf_peft_config *c = NULL;
    memset(err, 0, sizeof *err);
    int rc = vf_peft_config_parse((const uint8_t *)text, strlen(text), "cfg.json", &c, err);
    cr_assert_eq(rc == VF_OK, c != NULL);
    vf_peft_config_free(c);
    return rc;
}

Test(peft_config, hostile_inputs_are_rejected_naming_the_key)
{
    static const struct {
        const char *text;
        int code;
        const char *key;
    } cases[] = {
        {"", VF_ERR_CONFIG, ""},
        {"{\"r\":8", VF_ERR_CONFIG, ""},
        {"[8]", VF_ERR_CONFIG, ""},
        {"{\"r\":8} x", VF_ERR_CONFIG, ""},
        {"{\"r\":8,\"r\":16}", VF_ERR_CONFIG, "r"},
        {"{}", VF_ERR_CONFIG, "r"},
        {"{\"r\":0}", VF_ERR_CONFIG, "r"},
        {"{\"r\":-8}", VF_ERR_CONFIG, "r"},
        {"{\"r\":8.5}", VF_ERR_CONFIG, "r"},
        {"{\"r\":1e300}", VF_ERR_CONFIG, "r"},
        {"{\"r\":\"8\"}", VF_ERR_CONFIG, "r"},
        {"{\"R\":8}", VF_ERR_CONFIG, "r"},
        {"{\"r\":8,\"target_modules\":[1]}", VF_ERR_CONFIG, "target_modules"},
        {"{\"r\":8,\"target_modules\":[\"a,b\"]}", VF_ERR_CONFIG, "target_modules"},
        {"{\"r\":8,\"target_modules\":{}}", VF_ERR_CONFIG, "target_modules"},
        {"{\"r\":8,\"rank_pattern\":{\"q\":0}}", VF_ERR_CONFIG, "rank_pattern"},
        {"{\"r\":8,\"rank_pattern\":{\"q\":4,\"q\":8}}", VF_ERR_CONFIG, "q"},
        {"{\"r\":8,\"alpha_pattern\":{\"q\":\"x\"}}", VF_ERR_CONFIG, "alpha_pattern"},
        {"{\"r\":8,\"bias\":\"some\"}", VF_ERR_CONFIG, "bias"},
        {"{\"r\":8,\"use_dora\":1}", VF_ERR_CONFIG, "use_dora"},
        {"{\"r\":8,\"lora_alpha\":-1}", VF_ERR_CONFIG, "lora_alpha"},
        {"{\"r\":8,\"peft_type\":\"IA3\"}", VF_ERR_UNSUPPORTED, "peft_type"},
        {"{\"r\":8,\"layers_to_transform\":[0]}", VF_ERR_UNSUPPORTED, "layers_to_transform"},
        {"{\"r\":8,\"modules_to_save\":\"lm_head\"}", VF_ERR_CONFIG, "modules_to_save"},
        {"{\"r\":8,\"task_type\":\"\xff\"}", VF_ERR_CONFIG, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vf_error err;
        int rc = parse(cases[i].text, &err);
        cr_assert_eq(rc, cases[i].code, "case %zu '%s': got %d (%s)", i, cases[i].text, rc, err.message);
        cr_assert_str_eq(err.file, "cfg.json");
        cr_assert_str_eq(err.tensor, cases[i].key, "case %zu '%s'", i, cases[i].text);
        cr_assert_null(strchr(err.message, '\n'));
    }
}

Test(peft_config, oversized_input_is_rejected_before_parsing)
{
    size_t n = VF_PEFT_CONFIG_MAX + 1;
    uint8_t *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, ' ', n);
    vf_peft_config *c = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_peft_config_parse(big, n, "big.json", &c, &err), VF_ERR_CONFIG);
    cr_assert_null(c);
    free(big);
    vf_peft_config_free(NULL);
}

Test(peft_config, fields_are_read_exactly)
{
    const char *text = "{\"peft_type\":\"LORA\",\"task_type\":\"SEQ_CLS\",\"r\":4294967296,\"lora_alpha\":16.5,"
                       "\"target_modules\":[\"q_proj\",\"v_proj\"],\"exclude_modules\":\"x\","
                       "\"rank_pattern\":{\"layers\\\\.0\\\\.q_proj\":32},\"alpha_pattern\":{\"v_proj\":2},"
                       "\"use_dora\":true,\"bias\":\"lora_only\",\"modules_to_save\":[\"lm_head\"],"
                       "\"target_parameters\":null,\"lora_bias\":false,\"unknown\":{\"nested\":[1,2]}}";
    vf_peft_config *c = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_peft_config_parse((const uint8_t *)text, strlen(text), NULL, &c, &err), VF_OK, "%s",
                 err.message);
    cr_assert_eq(c->r, 4294967296ULL);
    cr_assert_eq(c->lora_alpha, 16.5);
    cr_assert_str_eq(c->target_modules, "q_proj,v_proj");
    cr_assert_null(c->target_regex);
    cr_assert_str_eq(c->exclude_regex, "x");
    cr_assert_eq(c->rank_pattern_count, 1);
    cr_assert_str_eq(c->rank_pattern[0].pattern, "layers\\.0\\.q_proj");
    cr_assert_eq(c->rank_pattern[0].rank, 32);
    cr_assert_eq(c->alpha_pattern_count, 1);
    cr_assert(c->use_dora);
    cr_assert_eq(c->bias, VF_LORA_BIAS_LORA_ONLY);
    cr_assert_str_eq(c->modules_to_save, "lm_head");
    cr_assert_str_eq(c->task_type, "SEQ_CLS");
    vf_peft_config_free(c);
}
