/* test_report.c - the library's documents (vramfit/vf_report.h): vf_report_inspect_json and
 * vf_report_adapters_json give the bytes `vramfit inspect --json` and `vramfit adapters --json` print,
 * their contract (caller-owned text, status + vf_error), and the JSON writer vf_jw. */
#include <criterion/criterion.h>
#include <math.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"
#include "vramfit/vramfit.h"

#define LLAMA VF_SOURCE_DIR "/testdata/tiny-llama"
#define GPT2 VF_SOURCE_DIR "/testdata/tiny-gpt2"

static vf_model *open_model(const char *path)
{
    vf_model *m = NULL;
    vf_error err = {0};
    vf_open_options oo = VF_OPEN_OPTIONS_INIT;
    cr_assert_eq(vf_model_open(path, &oo, &m, &err), VF_OK, "%s", err.message);
    return m;
}

/* inspect: the library's text is the CLI's stdout, byte for byte, for each flag combination. */
static void expect_inspect_like_cli(const char *path, unsigned flags, const char *a1, const char *a2)
{
    vf_model *m = open_model(path);
    char *doc = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_report_inspect_json(m, flags, &doc, &err), VF_OK, "%s", err.message);
    vft_run r = vft_cli("inspect", path, "--json", a1, a2, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(doc, r.out, "%s flags %u", path, flags);
    cr_expect_eq(doc[strlen(doc) - 1], '\n');
    vft_run_free(&r);
    vf_report_free(doc);
    vf_model_free(m);
}

Test(report, inspect_is_the_cli_document)
{
    const char *paths[] = {LLAMA, GPT2};
    for (size_t i = 0; i < 2; i++) {
        expect_inspect_like_cli(paths[i], 0, NULL, NULL);
        expect_inspect_like_cli(paths[i], VF_REPORT_TENSORS, "--tensors", NULL);
        expect_inspect_like_cli(paths[i], VF_REPORT_BY_LAYER, "--by-layer", NULL);
        expect_inspect_like_cli(paths[i], VF_REPORT_TENSORS | VF_REPORT_BY_LAYER, "--tensors", "--by-layer");
    }
}

Test(report, inspect_keys_follow_the_flags)
{
    vf_model *m = open_model(LLAMA);
    char *doc = NULL;
    cr_assert_eq(vf_report_inspect_json(m, VF_REPORT_BY_LAYER, &doc, NULL), VF_OK);
    cJSON *j = cJSON_Parse(doc);
    cr_assert_not_null(j);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "schema")->valuestring, VF_REPORT_SCHEMA);
    cr_expect_not_null(cJSON_GetObjectItem(j, "layers"));
    cr_expect_null(cJSON_GetObjectItem(j, "tensor_list"), "no tensor table without VF_REPORT_TENSORS");
    cr_expect_eq(cJSON_GetObjectItem(j, "tensors")->valuedouble, (double)vf_model_tensor_count(m));
    cJSON_Delete(j);
    vf_report_free(doc);
    vf_model_free(m);
}

/* adapters: the CLI prints the library's document followed by the empty line it always ended with. */
static void expect_adapters_like_cli(const char *path, const vf_adapter_options *o, const char *const *args)
{
    vf_model *m = open_model(path);
    vf_adapter_plan *p = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_adapter_plan_build(m, o, &p, &err), VF_OK, "%s", err.message);
    char *doc = NULL;
    cr_assert_eq(vf_report_adapters_json(m, p, o, &doc, &err), VF_OK, "%s", err.message);
    vft_run r = vft_cli_opts(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t n = strlen(doc);
    cr_expect_eq(r.out_len, n + 1, "%s", r.out);
    cr_expect(strncmp(r.out, doc, n) == 0 && r.out[n] == '\n', "library:\n%s\nCLI:\n%s", doc, r.out);
    vft_run_free(&r);
    vf_report_free(doc);
    vf_adapter_plan_free(p);
    vf_model_free(m);
}

Test(report, adapters_is_the_cli_document)
{
    vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
    const char *family[] = {"adapters", LLAMA, "--json", NULL};
    expect_adapters_like_cli(LLAMA, &o, family);
    o.rank = 4;
    o.target.modules = "q_proj,v_proj";
    o.use_dora = true;
    const char *lora[] = {"adapters", LLAMA, "--json", "-r", "4", "--target", "q_proj,v_proj", "--use-dora", NULL};
    expect_adapters_like_cli(LLAMA, &o, lora);
    vf_adapter_options osft = VF_ADAPTER_OPTIONS_INIT;
    osft.method = VF_ADAPTER_OSFT;
    osft.unfreeze_rank_ratio = 0.5;
    osft.target.modules = "c_attn";
    const char *os[] = {"adapters", GPT2, "--json", "--method", "osft", "--unfreeze-rank-ratio", "0.5",
                        "--target", "c_attn", NULL};
    expect_adapters_like_cli(GPT2, &osft, os);
}

/* A vf_report_write_fn that keeps the pieces it is given and fails at piece `fail_at` (0: never). */
typedef struct pieces {
    vf_buf text;
    size_t count, fail_at;
} pieces;

static int keep_piece(void *ctx, const char *data, size_t len)
{
    pieces *p = ctx;
    cr_expect_gt(len, 0, "no empty piece");
    if (++p->count == p->fail_at)
        return 1;
    vf_buf_put(&p->text, data, len);
    return 0;
}

/* The all-linear LoRA plan of m, with its options in *o. */
static vf_adapter_plan *all_linear_plan(const vf_model *m, vf_adapter_options *o)
{
    *o = (vf_adapter_options)VF_ADAPTER_OPTIONS_INIT;
    o->target.modules = "all-linear";
    vf_adapter_plan *p = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_adapter_plan_build(m, o, &p, &err), VF_OK, "%s", err.message);
    return p;
}

/* The streamed document of `path` (all-linear LoRA) next to the whole one: the same bytes. */
static size_t expect_streamed_like_whole(const char *path)
{
    vf_model *m = open_model(path);
    vf_adapter_options o;
    vf_adapter_plan *p = all_linear_plan(m, &o);
    vf_error err = {0};
    char *doc = NULL;
    cr_assert_eq(vf_report_adapters_json(m, p, &o, &doc, &err), VF_OK, "%s", err.message);
    pieces got = {0};
    cr_assert_eq(vf_report_adapters_json_write(m, p, &o, keep_piece, &got, &err), VF_OK, "%s", err.message);
    cr_expect_eq(got.text.len, strlen(doc), "%s", path);
    cr_expect(got.text.data && strcmp(got.text.data, doc) == 0, "%s: the pieces joined are the document", path);
    size_t n = got.count;
    vf_buf_free(&got.text);
    vf_report_free(doc);
    vf_adapter_plan_free(p);
    vf_model_free(m);
    return n;
}

Test(report, adapters_streamed_in_pieces_is_the_whole_document)
{
    cr_expect_eq(expect_streamed_like_whole(LLAMA), 1, "a small document is one piece");
    /* 48 layers x 128 experts: ~19k matrices, a document of several MB */
    char *qwen = vft_gen("qwen3-30b-a3b");
    size_t n = expect_streamed_like_whole(qwen);
    cr_expect_gt(n, 4, "a large document comes in pieces (%zu)", n);
    free(qwen);
}

/* Member `key` of object o as an exact integer; pair members [x, y] through pair_at. */
static uint64_t member_u64(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "member %s is a number", key);
    return (uint64_t)v->valuedouble; /* the values here are far below 2^53 */
}

static void expect_pair(const cJSON *o, const char *key, uint64_t x, uint64_t y, size_t i)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2, "matrix %zu: %s is a pair", i, key);
    cr_expect_eq((uint64_t)cJSON_GetArrayItem(v, 0)->valuedouble, x, "matrix %zu: %s[0]", i, key);
    cr_expect_eq((uint64_t)cJSON_GetArrayItem(v, 1)->valuedouble, y, "matrix %zu: %s[1]", i, key);
}

/* Every object of "matrices" says what its plan entry holds (the repeated per-expert text is
 * copied, not rewritten: a number it missed would show here), for LoRA and OSFT on a MoE model. */
static void expect_matrices_are_the_plan(const vf_model *m, const vf_adapter_options *o)
{
    vf_adapter_plan *p = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_adapter_plan_build(m, o, &p, &err), VF_OK, "%s", err.message);
    char *doc = NULL;
    cr_assert_eq(vf_report_adapters_json(m, p, o, &doc, &err), VF_OK, "%s", err.message);
    cJSON *root = cJSON_Parse(doc);
    cr_assert_not_null(root);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "matrices"), *x = arr ? arr->child : NULL;
    size_t seen = 0;
    bool osft = o->method == VF_ADAPTER_OSFT;
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *e = vf_adapter_plan_matrix(p, i);
        if (!vf_adapter_kind_is_target(e->kind))
            continue;
        cr_assert_not_null(x, "matrix %zu is in the document", i);
        cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring, e->tensor->name);
        expect_pair(x, "shape", e->rows, e->cols, i);
        cr_expect_eq(member_u64(x, "bytes"), e->bytes, "matrix %zu: bytes", i);
        if (osft) {
            cr_expect_eq(member_u64(x, "frozen_rank"), e->frozen_rank, "matrix %zu", i);
            cr_expect_eq(member_u64(x, "trainable_rank"), e->trainable_rank, "matrix %zu", i);
            cr_expect_eq(member_u64(x, "trainable_params"), e->trainable_params, "matrix %zu", i);
            expect_pair(x, "u", e->rows, e->rank, i);
        } else {
            cr_expect_eq(member_u64(x, "in"), e->in, "matrix %zu: in", i);
            cr_expect_eq(member_u64(x, "out"), e->out, "matrix %zu: out", i);
            cr_expect_eq(member_u64(x, "rank"), e->rank, "matrix %zu: rank", i);
            cr_expect_eq(member_u64(x, "params"), e->params, "matrix %zu: params", i);
            cr_expect_eq(member_u64(x, "magnitude"), e->magnitude, "matrix %zu: magnitude", i);
            expect_pair(x, "a", e->rank, e->in, i);
            expect_pair(x, "b", e->out, e->rank, i);
        }
        x = x->next;
        seen++;
    }
    cr_expect_null(x, "no object beyond the plan's entries");
    cr_expect_gt(seen, 1000, "a MoE plan (%zu matrices)", seen);
    cJSON_Delete(root);
    vf_report_free(doc);
    vf_adapter_plan_free(p);
}

Test(report, adapters_matrices_are_the_plan_entries)
{
    char *qwen = vft_gen("qwen3-30b-a3b");
    vf_model *m = open_model(qwen);
    vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
    o.target.modules = "all-linear";
    expect_matrices_are_the_plan(m, &o);
    /* odd experts' up_proj at another rank: the same shapes as their neighbours, other numbers */
    const vf_rank_rule rules[] = {{"experts\\.[0-9]*[13579]\\.up_proj", 4}};
    o.rank_rules = rules;
    o.rank_rule_count = 1;
    o.use_dora = true;
    expect_matrices_are_the_plan(m, &o);
    vf_adapter_options osft = VF_ADAPTER_OPTIONS_INIT;
    osft.method = VF_ADAPTER_OSFT;
    osft.unfreeze_rank_ratio = 0.25;
    osft.target.modules = "all-linear";
    expect_matrices_are_the_plan(m, &osft);
    vf_model_free(m);
    free(qwen);
}

Test(report, adapters_stream_stops_at_a_failed_write)
{
    char *qwen = vft_gen("qwen3-30b-a3b");
    vf_model *m = open_model(qwen);
    vf_adapter_options o;
    vf_adapter_plan *p = all_linear_plan(m, &o);
    vf_error err = {0};
    pieces got = {.fail_at = 2};
    cr_expect_eq(vf_report_adapters_json_write(m, p, &o, keep_piece, &got, &err), VF_ERR_IO);
    cr_expect_eq(got.count, 2, "no piece after the failed one (%zu)", got.count);
    cr_expect(strstr(err.message, "could not be written"), "%s", err.message);
    cr_expect_eq(vf_report_adapters_json_write(m, p, &o, NULL, &got, &err), VF_ERR_USAGE);
    cr_expect(strstr(err.message, "vf_report_adapters_json_write"), "%s", err.message);
    vf_buf_free(&got.text);
    vf_adapter_plan_free(p);
    vf_model_free(m);
    free(qwen);
}

Test(report, null_arguments_are_a_usage_error)
{
    vf_model *m = open_model(LLAMA);
    char *doc = (char *)"untouched";
    vf_error err = {0};
    cr_expect_eq(vf_report_inspect_json(NULL, 0, &doc, &err), VF_ERR_USAGE);
    cr_expect_null(doc, "*out is NULL on failure");
    cr_expect(strstr(err.message, "vf_report_inspect_json"), "%s", err.message);
    cr_expect_eq(vf_report_inspect_json(m, 0, NULL, NULL), VF_ERR_USAGE);
    vf_adapter_options o = VF_ADAPTER_OPTIONS_INIT;
    doc = (char *)"untouched";
    cr_expect_eq(vf_report_adapters_json(m, NULL, &o, &doc, &err), VF_ERR_USAGE);
    cr_expect_null(doc);
    vf_report_free(NULL);
    vf_model_free(m);
}

Test(report, writer_escapes_and_keeps_exact_integers)
{
    vf_buf b = {0};
    vf_jw j = {.b = &b};
    vf_jw_doc(&j);
    vf_jw_u64(&j, "max", UINT64_MAX);
    vf_jw_i64(&j, "neg", INT64_MIN);
    vf_jw_double(&j, "third", 1.0 / 3.0);
    vf_jw_double(&j, "inf", INFINITY);
    vf_jw_str(&j, "s", "q\"b\\\n\x01\xff");
    vf_jw_str(&j, "none", NULL);
    vf_jw_arr(&j, "e");
    vf_jw_arr_end(&j);
    vf_jw_obj_end(&j);
    cr_assert(!b.failed);
    cr_expect_str_eq(b.data, "{\"schema\":\"vramfit/1\",\"max\":18446744073709551615,\"neg\":-9223372036854775808,"
                             "\"third\":0.3333333333333333,\"inf\":null,\"s\":\"q\\\"b\\\\\\u000a\\u0001\\ufffd\","
                             "\"none\":null,\"e\":[]}\n");
    vf_buf_free(&b);
    cr_expect_null(b.data);
}

/* The test's own escaper for the strings below (ASCII, one special byte): what vf_jw writes. */
static void reference_string(const char *s, vf_buf *out)
{
    vf_buf_put(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        else if (*p >= 0x80)
            snprintf(esc, sizeof esc, "\\ufffd"); /* a lone byte >= 0x80 is not UTF-8 */
        else
            snprintf(esc, sizeof esc, "%c", *p);
        vf_buf_put(out, esc, strlen(esc));
    }
    vf_buf_put(out, "\"", 1);
}

/* Strings of every length up to 70 with one byte to escape at every position (the writer copies
 * 16 and 8 bytes at a time, the last block overlapping), and plain ones: the reference's bytes. */
Test(report, writer_strings_of_every_length_and_escape_position)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', (char)0x80, (char)0xff};
    char text[80];
    for (size_t n = 0; n <= 70; n++)
        for (size_t at = 0; at <= n; at++) /* at == n: no special byte */
            for (size_t k = 0; k < (at < n ? sizeof specials : 1); k++) {
                for (size_t i = 0; i < n; i++)
                    text[i] = (char)('a' + (i * 7 + n) % 26);
                if (at < n)
                    text[at] = specials[k];
                text[n] = '\0';
                vf_buf got = {0}, want = {0};
                vf_jw j = {.b = &got};
                vf_jw_str(&j, NULL, text);
                reference_string(text, &want);
                cr_assert(!got.failed && got.data && want.data);
                cr_assert_str_eq(got.data, want.data, "length %zu, special %zu at %zu", n, k, at);
                vf_buf_free(&got);
                vf_buf_free(&want);
            }
}
