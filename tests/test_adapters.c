/* test_adapters.c - `vramfit adapters` and the vf_adapters.h plan API: PEFT printouts reproduced on
 * header-faithful checkpoints, Granite's default family counted independently from the raw headers,
 * OSFT's double-precision rank split, fused experts, Conv1D in/out, typo errors, and CSV / JSON /
 * table agreement. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"
#include "vramfit/vf_adapters.h"

/* ---- helpers ----------------------------------------------------------------------------------- */

static cJSON *run_json(vft_run *r)
{
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    cJSON *j = cJSON_Parse(r->out);
    cr_assert_not_null(j, "stdout is not JSON: %.200s", r->out);
    return j;
}

static uint64_t ju64(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "key %s", key);
    cr_assert(v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble));
    return (uint64_t)v->valuedouble;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(v), "key %s", key);
    return v->valuestring;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads the JSON header of a safetensors file with cJSON only (independent of vramfit's parser). */
static cJSON *read_header(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char pre[8];
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fread(pre, 1, 8, f), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | pre[i];
    cr_assert(n < 100000000);
    char *h = malloc(n);
    cr_assert_not_null(h);
    cr_assert_eq(fread(h, 1, n, f), n);
    fclose(f);
    cJSON *j = cJSON_ParseWithLength(h, n);
    free(h);
    cr_assert_not_null(j);
    return j;
}

/* Writes a one-file checkpoint with the given header entries (JSON members without offsets: each
 * entry is NAME, SHAPE text and element count, F32) into a fresh directory; returns the dir. */
typedef struct spec {
    const char *name;
    const char *shape;
    uint64_t numel;
} spec;

static char *write_checkpoint(const spec *s, size_t n)
{
    char *dir = vft_tempdir(), header[8192];
    size_t o = (size_t)snprintf(header, sizeof header, "{");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(header + o, sizeof header - o,
                              "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}",
                              i ? "," : "", s[i].name, s[i].shape, (unsigned long long)off,
                              (unsigned long long)(off + 4 * s[i].numel));
        off += 4 * s[i].numel;
    }
    snprintf(header + o, sizeof header - o, "}");
    size_t len;
    uint8_t *img = vft_st_image(header, off, &len);
    char *path = vft_path(dir, "model.safetensors");
    vft_write_file(path, img, len);
    free(img);
    free(path);
    return dir;
}

/* ---- PEFT printouts ---------------------------------------------------------------------------- */

Test(adapters, llama_2_7b_q_v_r8_reproduces_peft_printout)
{
    char *m = vft_gen("llama-2-7b");
    vft_run r = vft_cli("adapters", m, "--target", "q_proj,v_proj", "-r", "8", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622"),
              "%s", r.out);
    cr_assert_eq(r.err_len, 0);
    vft_run_free(&r);
    r = vft_cli("adapters", m, "--target", "q_proj,v_proj", "-r", "8", "--json", NULL);
    cJSON *j = run_json(&r);
    cr_assert_eq(ju64(j, "parameters"), 4194304);
    cr_assert_eq(ju64(j, "base_parameters"), 6738415616ULL);
    cr_assert_eq(ju64(j, "all_parameters"), 6742609920ULL);
    cr_assert_eq(ju64(j, "bytes"), 4194304ULL * 4);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "matrices")), 64);
    cJSON_Delete(j);
    vft_run_free(&r);
    free(m);
}

static const char *const default_patterns[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                               "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                               "mlp.down_proj",    NULL};

/* Sums r*(in+out) over the 2-D weights of every shard in dir that contain a default pattern. */
static void independent_sum(const char *dir, uint64_t r, uint64_t *sum, uint64_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    cr_assert_not_null(d);
    *sum = *count = 0;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".safetensors"))
            continue;
        char *path = vft_path(dir, e->d_name);
        cJSON *h = read_header(path);
        for (const cJSON *t = h->child; t; t = t->next) {
            const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
            if (strcmp(t->string, "__metadata__") == 0 || cJSON_GetArraySize(shape) != 2 ||
                !strstr(t->string, "weight"))
                continue;
            bool hit = false;
            for (const char *const *p = default_patterns; *p; p++)
                hit |= strstr(t->string, *p) != NULL;
            if (!hit)
                continue;
            *sum += r * (uint64_t)(cJSON_GetArrayItem(shape, 0)->valuedouble +
                                   cJSON_GetArrayItem(shape, 1)->valuedouble);
            (*count)++;
        }
        cJSON_Delete(h);
        free(path);
    }
    closedir(d);
}

Test(adapters, granite_default_family_r32_is_the_exact_sum_over_280_matrices)
{
    char *m = vft_gen("granite-3.3-2b-instruct");
    uint64_t sum, count;
    independent_sum(m, 32, &sum, &count);
    cr_assert_eq(count, 280);
    vft_run r = vft_cli("adapters", m, "-r", "32", "--json", NULL);
    cJSON *j = run_json(&r);
    cr_assert_str_eq(jstr(j, "family"), "llama");
    cr_assert(strstr(jstr(j, "family_reason"), "self_attn.q_proj"));
    cr_assert_eq(ju64(j, "matrix_count"), 280);
    cr_assert_eq(ju64(j, "parameters"), sum);
    cr_assert_eq(ju64(j, "lora_dim_sum") * 32, sum);
    cr_assert_eq(ju64(j, "base_parameters"), 2533539840ULL);
    cJSON_Delete(j);
    vft_run_free(&r);
    r = vft_cli("adapters", m, "-r", "32", NULL);
    cr_assert(strstr(r.out, "Family      llama"), "%s", r.out);
    vft_run_free(&r);
    free(m);
}

/* ---- families and targets ---------------------------------------------------------------------- */

Test(adapters, families_are_detected_from_tensor_names)
{
    static const struct {
        const char *model, *family;
        uint64_t matrices;
    } cases[] = {
        {"phi-3-mini-4k", "phi3", 32 * 4}, {"gpt2", "gpt2", 12 * 4},   {"qwen2.5-7b", "llama", 28 * 7},
        {"mistral-7b-v0.1", "llama", 32 * 7}, {"mixtral-8x7b", "llama", 32 * 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = vft_gen(cases[i].model);
        vft_run r = vft_cli("adapters", m, "--json", NULL);
        cJSON *j = run_json(&r);
        cr_assert_str_eq(jstr(j, "family"), cases[i].family, "%s", cases[i].model);
        cr_assert_eq(ju64(j, "matrix_count"), cases[i].matrices, "%s", cases[i].model);
        cJSON_Delete(j);
        vft_run_free(&r);
        free(m);
    }
}

Test(adapters, gpt2_conv1d_reports_true_in_out_and_c_proj_matches_both)
{
    char *m = vft_gen("gpt2");
    vft_run r = vft_cli("adapters", m, "--target", "c_attn,c_proj", "-r", "8", "--json", NULL);
    cJSON *j = run_json(&r);
    cr_assert_eq(ju64(j, "matrix_count"), 36); /* c_attn, attn.c_proj, mlp.c_proj per layer */
    cr_assert_eq(ju64(j, "parameters"), 811008); /* the tigrinya adapter's published count */
    const cJSON *x;
    bool seen = false;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "matrices"))
    {
        if (strcmp(jstr(x, "name"), "h.0.attn.c_attn.weight") != 0)
            continue;
        seen = true;
        cr_assert_eq(ju64(x, "in"), 768);
        cr_assert_eq(ju64(x, "out"), 2304);
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "conv1d")));
    }
    cr_assert(seen);
    cJSON_Delete(j);
    vft_run_free(&r);
    free(m);
}

Test(adapters, all_linear_leaves_out_embedding_and_head)
{
    char *m = vft_gen("llama-2-7b");
    vft_run r = vft_cli("adapters", m, "--target", "all-linear", "-r", "8", "--json", NULL);
    cJSON *j = run_json(&r);
    cr_assert_eq(ju64(j, "matrix_count"), 32 * 7);
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "matrices"))
    {
        cr_assert_null(strstr(jstr(x, "name"), "embed_tokens"));
        cr_assert_null(strstr(jstr(x, "name"), "lm_head"));
    }
    cJSON_Delete(j);
    vft_run_free(&r);
    free(m);
}

Test(adapters, regex_exclude_rank_pattern_dora_and_modules_to_save)
{
    char *m = vft_gen("llama-2-7b");
    vft_run r = vft_cli("adapters", m, "--target-regex", "model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj",
                        "--exclude", "layers.31.self_attn.v_proj", "-r", "8", "--rank-pattern",
                        "layers\\.0\\.self_attn\\.q_proj=16", "--use-dora", "--modules-to-save", "lm_head",
                        "--json", NULL);
    cJSON *j = run_json(&r);
    cr_assert_eq(ju64(j, "matrix_count"), 63);
    /* 63 matrices of 4096x4096: 62 at r=8 and one at r=16, plus 63 magnitudes of 4096 */
    uint64_t want = 62 * 8 * 8192ULL + 16 * 8192ULL + 63 * 4096ULL;
    cr_assert_eq(ju64(j, "parameters"), want);
    cr_assert_eq(ju64(j, "modules_to_save_parameters"), 32000ULL * 4096);
    cr_assert_eq(ju64(j, "trainable_parameters"), want + 32000ULL * 4096);
    cr_assert_eq(ju64(j, "all_parameters"), 6738415616ULL + want + 32000ULL * 4096);
    cJSON_Delete(j);
    vft_run_free(&r);
    free(m);
}

Test(adapters, a_target_that_matches_nothing_is_an_error_with_candidates)
{
    char *m = vft_gen("llama-2-7b");
    vft_run r = vft_cli("adapters", m, "--target", "q_proj,q_poj", "--json", NULL);
    cr_assert_eq(r.status, 2);
    cr_assert_eq(r.out_len, 0, "nothing on stdout");
    cr_assert(strstr(r.err, "'q_poj'") && strstr(r.err, "close candidates: q_proj"), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one line: %s", r.err);
    vft_run_free(&r);
    r = vft_cli("adapters", m, "--rank", "0", NULL);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    r = vft_cli("adapters", m, "--method", "dora", NULL);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    r = vft_cli("adapters", m, "--target-regex", "(", NULL);
    cr_assert_eq(r.status, 2);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);
    free(m);
}

Test(adapters, help_documents_the_options)
{
    vft_run r = vft_cli("adapters", "--help", NULL);
    cr_assert_eq(r.status, 0);
    static const char *const opts[] = {"--method", "--target", "--target-regex", "--exclude", "--rank",
                                       "--rank-pattern", "--use-dora", "--lora-bias", "--modules-to-save",
                                       "--adapter-dtype", "--unfreeze-rank-ratio", "--json", "--csv", NULL};
    for (const char *const *o = opts; *o; o++)
        cr_assert(strstr(r.out, *o), "help lacks %s", *o);
    vft_run_free(&r);
}

/* ---- OSFT -------------------------------------------------------------------------------------- */

Test(adapters, osft_split_is_computed_in_double_precision)
{
    static const spec s[] = {{"model.embed_tokens.weight", "[10,1200]", 12000},
                             {"model.layers.0.self_attn.q_proj.weight", "[1000,1200]", 1200000}};
    char *dir = write_checkpoint(s, 2);
    vft_run r = vft_cli("adapters", dir, "--method", "osft", "--unfreeze-rank-ratio", "0.9", "--json", NULL);
    cJSON *j = run_json(&r);
    const cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "matrices"), 0);
    cr_assert_eq(ju64(x, "frozen_rank"), 99); /* floor(1000 * (1 - 0.9)) = floor(99.99999999999997) */
    cr_assert_eq(ju64(x, "trainable_rank"), 901);
    cr_assert_eq(ju64(x, "params"), 1000ULL * 1000 + 1000 + 1000ULL * 1200);
    cr_assert_eq(ju64(x, "trainable_params"), 1000ULL * 901 + 901 + 901ULL * 1200);
    cr_assert_eq(ju64(j, "osft_parameters"), 12000 + 1000ULL * 1000 + 1000 + 1000ULL * 1200);
    cJSON_Delete(j);
    vft_run_free(&r);
    r = vft_cli("adapters", dir, "--method", "osft", "--unfreeze-rank-ratio", "1e-9", "--json", NULL);
    j = run_json(&r);
    x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "matrices"), 0);
    cr_assert_eq(ju64(x, "frozen_rank"), 999); /* capped at R - 1 */
    cJSON_Delete(j);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
}

Test(adapters, estimator_input_matches_the_plans)
{
    char *m = vft_gen("llama-2-7b");
    vf_model *model = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_model_open(m, NULL, &model, &err), VF_OK, "%s", err.message);
    vf_adapter_input in;
    cr_assert_eq(vf_adapter_estimator_input(model, NULL, 32, &in, &err), VF_OK, "%s", err.message);
    cr_assert_str_eq(in.family.name, "llama");
    cr_assert_eq(in.lora_matrices, 224);
    cr_assert_eq(in.lora_params, 32 * in.lora_dim_sum);
    /* per layer: q,k,v,o 4096x4096 and gate/up/down 11008x4096 */
    cr_assert_eq(in.lora_dim_sum, 32ULL * (4 * 8192 + 3 * 15104));
    uint64_t usv_sq = 4096ULL * 4096 * 2 + 4096, usv_mlp = 4096ULL * 4096 + 4096 + 4096ULL * 11008;
    uint64_t targets = 32 * (4 * 4096ULL * 4096 + 3 * 4096ULL * 11008);
    cr_assert_eq(in.osft_params, 6738415616ULL - targets + 32 * (4 * usv_sq + 3 * usv_mlp));
    vf_model_free(model);
    vf_adapter_plan_free(NULL);
    free(m);
}

/* ---- MoE --------------------------------------------------------------------------------------- */

Test(adapters, fused_expert_tensors_count_one_matrix_per_expert)
{
    static const spec s[] = {{"model.embed_tokens.weight", "[16,64]", 1024},
                             {"model.layers.0.mlp.experts.gate_up_proj", "[4,256,64]", 65536},
                             {"model.layers.0.self_attn.q_proj.weight", "[64,64]", 4096}};
    char *dir = write_checkpoint(s, 3);
    vft_run r = vft_cli("adapters", dir, "--target", "gate_up_proj", "-r", "2", "--json", NULL);
    cJSON *j = run_json(&r);
    cr_assert_eq(ju64(j, "matrix_count"), 4);
    cr_assert_eq(ju64(j, "parameters"), 4 * 2 * (64 + 256));
    int e = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "matrices"))
    {
        cr_assert_eq(ju64(x, "expert"), (uint64_t)e++);
        cr_assert_eq(ju64(x, "in"), 64);
        cr_assert_eq(ju64(x, "out"), 256);
    }
    cJSON_Delete(j);
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
}

/* ---- CSV / JSON / table agree ------------------------------------------------------------------ */

typedef struct row {
    char name[160];
    uint64_t params;
} row;

static size_t table_rows(const char *out, row *rows, size_t max)
{
    size_t n = 0;
    const char *p = strstr(out, "\nmatrix ");
    cr_assert_not_null(p);
    p = strchr(p + 1, '\n') + 1;
    while (*p && *p != '\n' && n < max) {
        char params[64] = "";
        cr_assert_eq(sscanf(p, "%159s %*s %*s %*s %*s %*s %*s %63s", rows[n].name, params), 2);
        uint64_t v = 0;
        for (const char *c = params; *c; c++)
            if (*c != ',')
                v = v * 10 + (uint64_t)(*c - '0');
        rows[n++].params = v;
        p = strchr(p, '\n') + 1;
    }
    return n;
}

static size_t csv_rows(const char *out, row *rows, size_t max)
{
    size_t n = 0;
    const char *p = strchr(out, '\n') + 1;
    cr_assert(strncmp(out, "name,layer,expert,kind,rows,cols,in,out,rank,a,b,params,bytes\n", 60) == 0);
    while (*p && n < max) {
        unsigned long long params;
        cr_assert_eq(sscanf(p, "%159[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%llu",
                            rows[n].name, &params), 2, "%.80s", p);
        rows[n++].params = params;
        p = strchr(p, '\n') + 1;
    }
    return n;
}

Test(adapters, csv_json_and_table_agree_per_matrix)
{
    char *m = vft_gen("gpt2");
    row t[64], c[64];
    /* the per-matrix table is --matrices since issue 11 (the default is per module and per layer) */
    vft_run rt = vft_cli("adapters", m, "--target", "c_attn,c_proj", "-r", "8", "--matrices", NULL);
    vft_run rc = vft_cli("adapters", m, "--target", "c_attn,c_proj", "-r", "8", "--csv", NULL);
    vft_run rj = vft_cli("adapters", m, "--target", "c_attn,c_proj", "-r", "8", "--json", NULL);
    cr_assert_eq(rt.status, 0);
    cr_assert_eq(rc.status, 0);
    size_t nt = table_rows(rt.out, t, 64), nc = csv_rows(rc.out, c, 64);
    cJSON *j = run_json(&rj);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "matrices");
    cr_assert_eq(nt, 36);
    cr_assert_eq(nc, 36);
    cr_assert_eq((size_t)cJSON_GetArraySize(ms), 36);
    uint64_t sum = 0;
    for (size_t i = 0; i < 36; i++) {
        const cJSON *x = cJSON_GetArrayItem(ms, (int)i);
        cr_assert_str_eq(t[i].name, jstr(x, "name"));
        cr_assert_str_eq(c[i].name, jstr(x, "name"));
        cr_assert_eq(t[i].params, ju64(x, "params"));
        cr_assert_eq(c[i].params, ju64(x, "params"));
        sum += c[i].params;
    }
    cr_assert_eq(sum, ju64(j, "parameters"));
    cJSON_Delete(j);
    vft_run_free(&rt);
    vft_run_free(&rc);
    vft_run_free(&rj);
    free(m);
}

/* ---- library contracts ------------------------------------------------------------------------- */

Test(adapters, rank_rules_parse_allows_commas_inside_regexes)
{
    vf_rank_rule *r = NULL;
    size_t n = 0;
    vf_error err = {0};
    cr_assert_eq(vf_rank_rules_parse("layers\\.[0-9]{1,2}\\.q_proj=16,v_proj=4", &r, &n, &err), VF_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(r[0].pattern, "layers\\.[0-9]{1,2}\\.q_proj");
    cr_assert_eq(r[0].rank, 16);
    cr_assert_str_eq(r[1].pattern, "v_proj");
    cr_assert_eq(r[1].rank, 4);
    free(r);
    cr_assert_eq(vf_rank_rules_parse("q_proj", &r, &n, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_rank_rules_parse("q_proj=0", &r, &n, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_rank_rules_parse("q_proj=99999999999999999999", &r, &n, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_rank_rules_parse("=4", &r, &n, &err), VF_ERR_USAGE);
}

Test(adapters, peft_matching_rules)
{
    cr_assert(vf_peft_match("model.layers.3.self_attn.q_proj", "q_proj"));
    cr_assert(vf_peft_match("model.layers.3.self_attn.q_proj", "self_attn.q_proj"));
    cr_assert(!vf_peft_match("model.layers.3.self_attn.xq_proj", "q_proj"));
    cr_assert(vf_peft_list_match("h.0.mlp.c_proj", "c_attn,c_proj"));
    cr_assert(!vf_peft_list_match("h.0.mlp.c_proj", ",,"));
    vf_name_regex *re = NULL;
    cr_assert_eq(vf_name_regex_new("layers\\.\\d+\\.q_proj", true, &re, NULL), VF_OK);
    cr_assert_eq(vf_name_regex_match(re, "model.layers.12.q_proj", NULL), 1);
    cr_assert_eq(vf_name_regex_match(re, "model.layers.12.q_proj.x", NULL), 0);
    vf_name_regex_free(re);
    cr_assert_eq(vf_name_regex_new("q_proj", false, &re, NULL), VF_OK);
    cr_assert_eq(vf_name_regex_match(re, "model.q_proj", NULL), 0, "full match only");
    vf_name_regex_free(re);
    vf_name_regex_free(NULL);
}
