/* test_json.c - every untrusted JSON input goes through the library's one reader (vf_json.h) and
 * takes the same decision: 2^53 + 1 is refused (never read as 2^53) where 2^53 is read, a repeated
 * key is refused, bad UTF-8 is refused, nesting deeper than 1000 containers is refused — in
 * safetensors headers, the shard index, config.json (advisory: a finding, the file ignored),
 * adapter_config.json and verify manifests. Manifests: portable (no path of the machine that made
 * them), a round trip through the reader and the writer, old manifests with "path" still read. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_test_support.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_parser.h"
#include "vramfit/vf_tensors.h"
#include "vramfit/vf_verify.h"

#define TINY VF_SOURCE_DIR "/testdata/tiny-llama"
#define TWO53 "9007199254740992"
#define TWO53_1 "9007199254740993"

/* ---- the five inputs, each as one call that says what the reader decided ---------------------- */

typedef struct verdict {
    int rc;          /* the reader's status (config.json: VF_OK and a finding when refused) */
    char text[1024]; /* the error ("file: tensor 'key': message") or the findings, one per line */
} verdict;

static void set_error(verdict *v, int rc, const vf_error *e)
{
    v->rc = rc;
    if (rc != VF_OK)
        vf_error_format(e, v->text, sizeof v->text);
}

/* A safetensors header: one U8 tensor "t" of `dim` elements with extra members `extra` (may be ""),
 * in a file as large as the header says. */
static verdict header(const char *dim, const char *extra)
{
    char json[8192 + 64];
    snprintf(json, sizeof json, "{\"t\":{\"dtype\":\"U8\",\"shape\":[%s],\"data_offsets\":[0,%s]%s}}", dim, dim,
             extra);
    verdict v = {0};
    vf_st_header *h = NULL;
    vf_error e = {0};
    uint64_t data = strtoull(dim, NULL, 10);
    set_error(&v, vf_st_parse_header((const uint8_t *)json, strlen(json), 8 + strlen(json) + data, "h.safetensors",
                                     &h, &e), &e);
    vf_st_header_free(h);
    return v;
}

static char *work;

/* A copy of tiny-llama (config.json and model.safetensors) in work/NAME, with `file` replaced by
 * text when file is not NULL. */
static char *tiny(const char *name, const char *file, const char *text)
{
    char *d = vft_path(work, name);
    cr_assert_eq(mkdir(d, 0755), 0);
    const char *files[] = {"config.json", "model.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        char *s = vft_path(TINY, files[i]), *t = vft_path(d, files[i]), *data = vft_read_file(s, &n);
        cr_assert_not_null(data);
        vft_write_file(t, data, n);
        free(data);
        free(s);
        free(t);
    }
    if (file) {
        char *p = vft_path(d, file);
        vft_write_file(p, text, strlen(text));
        free(p);
    }
    return d;
}

/* The weight_map of tiny-llama's tensors, as JSON members. */
static char *weight_map(void)
{
    vf_st_header *h = NULL;
    vf_error e = {0};
    cr_assert_eq(vf_st_read_file(TINY "/model.safetensors", NULL, &h, &e), VF_OK);
    size_t cap = 65536, n = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < vf_st_header_count(h); i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"%s\":\"model.safetensors\"", i ? "," : "",
                              vf_st_header_tensor(h, i)->name);
    vf_st_header_free(h);
    return s;
}

static int dirs;

/* The shard index with `before` in metadata and `after` after the weight_map (both may be ""). */
static verdict index_json(const char *meta, const char *after)
{
    char *wm = weight_map(), name[32];
    size_t cap = strlen(wm) + strlen(meta) + strlen(after) + 128;
    char *text = malloc(cap);
    snprintf(text, cap, "{\"metadata\":{%s},\"weight_map\":{%s}%s}", meta, wm, after);
    snprintf(name, sizeof name, "ix%d", dirs++);
    char *d = tiny(name, "model.safetensors.index.json", text);
    verdict v = {0};
    vf_checkpoint *cp = NULL;
    vf_error e = {0};
    set_error(&v, vf_checkpoint_open(d, NULL, &cp, &e), &e);
    vf_checkpoint_free(cp);
    free(text);
    free(wm);
    free(d);
    return v;
}

/* config.json as given: the verdict is in the findings (the file is advisory). */
static verdict config(const char *text)
{
    char name[32];
    snprintf(name, sizeof name, "cfg%d", dirs++);
    char *d = tiny(name, "config.json", text);
    verdict v = {0};
    vf_model *m = NULL;
    vf_error e = {0};
    set_error(&v, vf_model_open(d, NULL, &m, &e), &e);
    const vf_findings *f = m ? vf_model_findings(m) : NULL;
    size_t n = 0;
    for (size_t i = 0; f && i < vf_findings_count(f); i++)
        n += (size_t)snprintf(v.text + n, sizeof v.text - n, "%s\n", vf_findings_get(f, i)->message);
    vf_model_free(m);
    free(d);
    return v;
}

static verdict adapter(const char *text)
{
    verdict v = {0};
    vf_peft_config *c = NULL;
    vf_error e = {0};
    set_error(&v, vf_peft_config_parse((const uint8_t *)text, strlen(text), "adapter_config.json", &c, &e), &e);
    vf_peft_config_free(c);
    return v;
}

/* A manifest of one shard of `size` bytes, with extra top-level members `extra` (may be ""). */
#define ZERO32 "00000000000000000000000000000000"
static verdict manifest(const char *size, const char *extra)
{
    char text[8192 + 512];
    snprintf(text, sizeof text,
             "{\"format\":\"vramfit-manifest\",\"version\":1,\"hash\":\"xxh3-128\"%s,\"shards\":[{\"name\":\"a\","
             "\"size\":%s,\"header_xxh3_128\":\"" ZERO32 "\",\"xxh3_128\":\"" ZERO32 "\"}],\"tensors\":[]}",
             extra, size);
    verdict v = {0};
    vf_manifest *m = NULL;
    vf_error e = {0};
    set_error(&v, vf_manifest_parse((const uint8_t *)text, strlen(text), "m.json", &m, &e), &e);
    if (m)
        snprintf(v.text, sizeof v.text, "size %llu", (unsigned long long)vf_manifest_shard_at(m, 0)->size);
    vf_manifest_free(m);
    return v;
}

static void setup(void)
{
    work = vft_tempdir();
}

static void teardown(void)
{
    vft_rmtree(work);
    free(work);
}

TestSuite(json, .init = setup, .fini = teardown);

#define HAS(v, s) cr_expect(strstr((v).text, (s)) != NULL, "want '%s' in: %s", (s), (v).text)

/* ---- the integer rule ------------------------------------------------------------------------- */

Test(json, two_to_the_53_plus_one_is_refused_by_every_reader)
{
    verdict v = header(TWO53, "");
    cr_expect_eq(v.rc, VF_OK, "%s", v.text);
    v = header(TWO53_1, "");
    cr_expect_neq(v.rc, VF_OK);
    HAS(v, "h.safetensors");

    v = index_json("\"total_size\":" TWO53, "");
    cr_expect_eq(v.rc, VF_OK, "%s", v.text);
    v = index_json("\"total_size\":" TWO53_1, "");
    cr_expect_eq(v.rc, VF_ERR_INDEX);
    HAS(v, "metadata.total_size");

    v = config("{\"vocab_size\":" TWO53 "}"); /* read: a claim the headers contradict */
    cr_expect_eq(v.rc, VF_OK);
    HAS(v, "vocab_size is " TWO53 " but the headers give 256");
    v = config("{\"vocab_size\":" TWO53_1 "}"); /* refused, named, never compared as 2^53 */
    HAS(v, "vocab_size is " TWO53_1 ", not an integer in 0..2^53; ignored");
    cr_expect_null(strstr(v.text, "but the headers give"), "%s", v.text);

    v = adapter("{\"r\":" TWO53_1 "}");
    cr_expect_eq(v.rc, VF_ERR_CONFIG);
    HAS(v, "adapter_config.json: tensor 'r'");
    v = adapter("{\"r\":8,\"rank_pattern\":{\"q\":" TWO53_1 "}}");
    cr_expect_eq(v.rc, VF_ERR_CONFIG);
    HAS(v, "rank_pattern");

    v = manifest(TWO53, "");
    cr_expect_eq(v.rc, VF_OK, "%s", v.text);
    HAS(v, "size " TWO53);
    v = manifest(TWO53_1, "");
    cr_expect_eq(v.rc, VF_ERR_CONFIG);
    HAS(v, "m.json");
    HAS(v, "\"size\" is not an integer in 0..2^53");
}

Test(json, integers_are_decided_on_the_decimal_text_everywhere)
{
    /* 8.0, 8e0 and 0.8e1 are the integer 8 for every reader; 8.5 is no integer */
    cr_expect_eq(header("8.0", "").rc, VF_OK);
    cr_expect_eq(index_json("\"total_size\":1e3", "").rc, VF_OK);
    cr_expect_eq(adapter("{\"r\":0.8e1}").rc, VF_OK);
    verdict v = manifest("8e0", "");
    cr_expect_eq(v.rc, VF_OK);
    HAS(v, "size 8");
    cr_expect_neq(header("8.5", "").rc, VF_OK);
    cr_expect_eq(index_json("\"total_size\":8.5", "").rc, VF_ERR_INDEX);
    cr_expect_eq(adapter("{\"r\":8.5}").rc, VF_ERR_CONFIG);
    cr_expect_eq(manifest("8.5", "").rc, VF_ERR_CONFIG);
    v = config("{\"vocab_size\":256.5}"); /* cJSON's reading truncated this to 256 and agreed */
    HAS(v, "vocab_size is 256.5, not an integer");
    v = config("{\"vocab_size\":256.0}");
    cr_expect_eq(v.text[0], '\0', "%s", v.text);
}

/* ---- duplicate keys, bad UTF-8, nesting -------------------------------------------------------- */

Test(json, a_repeated_key_is_refused_by_every_reader)
{
    verdict v = header("4", ",\"dtype\":\"U8\"");
    cr_expect_neq(v.rc, VF_OK);
    HAS(v, "more than once");
    v = index_json("", ",\"weight_map\":{}");
    cr_expect_eq(v.rc, VF_ERR_INDEX);
    HAS(v, "\"weight_map\" appears more than once");
    v = config("{\"vocab_size\":256,\"vocab_size\":300}");
    HAS(v, "appears twice; ignored");
    cr_expect_null(strstr(v.text, "but the headers give"), "%s", v.text);
    v = adapter("{\"r\":8,\"x\":{\"k\":1,\"k\":2}}");
    cr_expect_eq(v.rc, VF_ERR_CONFIG);
    HAS(v, "tensor 'k'");
    v = manifest("4", ",\"model\":\"a\",\"model\":\"b\"");
    cr_expect_eq(v.rc, VF_ERR_JSON);
    HAS(v, "appears twice");
}

Test(json, bad_utf8_is_refused_by_every_reader)
{
    verdict v = header("4", ",\"x\":\"\xc0\xaf\"");
    cr_expect_eq(v.rc, VF_ERR_UTF8);
    HAS(v, "not valid UTF-8");
    v = index_json("", ",\"x\":\"\xed\xa0\x80\"");
    cr_expect_eq(v.rc, VF_ERR_INDEX);
    HAS(v, "not valid UTF-8");
    v = config("{\"x\":\"\xff\"}");
    HAS(v, "config.json: the file is not valid UTF-8 (byte 6 of 9); ignored");
    v = adapter("{\"r\":8,\"x\":\"\xf4\x90\x80\x80\"}");
    cr_expect_eq(v.rc, VF_ERR_CONFIG);
    HAS(v, "not valid UTF-8");
    v = manifest("4", ",\"x\":\"\xe0\x80\xaf\"");
    cr_expect_eq(v.rc, VF_ERR_JSON);
    HAS(v, "not valid UTF-8");
}

/* n nested arrays. */
static const char *nest(size_t n)
{
    static char s[2 * 1200 + 1];
    cr_assert_lt(n, 1200);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    return s;
}

/* Every reader takes up to 1000 nested containers (the root counts) and refuses 1001. */
Test(json, nesting_is_bounded_the_same_by_every_reader)
{
    for (size_t total = 1000; total <= 1001; total++) {
        bool ok = total == 1000;
        char extra[2600];
        snprintf(extra, sizeof extra, ",\"x\":%s", nest(total - 2)); /* root, entry, arrays */
        verdict v = header("4", extra);
        cr_expect_eq(v.rc == VF_OK, ok, "header, %zu: %s", total, v.text);
        snprintf(extra, sizeof extra, ",\"x\":%s", nest(total - 1)); /* root, arrays */
        v = index_json("", extra);
        cr_expect_eq(v.rc == VF_OK, ok, "index, %zu: %s", total, v.text);
        v = manifest("4", extra);
        cr_expect_eq(v.rc == VF_OK, ok, "manifest, %zu: %s", total, v.text);
        char doc[2700];
        snprintf(doc, sizeof doc, "{\"r\":8%s}", extra);
        v = adapter(doc);
        cr_expect_eq(v.rc == VF_OK, ok, "adapter_config, %zu: %s", total, v.text);
        snprintf(doc, sizeof doc, "{\"vocab_size\":256%s}", extra);
        v = config(doc);
        cr_expect_eq(strstr(v.text, "not valid JSON") == NULL, ok, "config.json, %zu: %s", total, v.text);
    }
}

/* ---- manifests --------------------------------------------------------------------------------- */

/* Runs `cd DIR && vramfit ARGS` through the shell (ARGS already quoted). */
static vft_run in_dir(const char *dir, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", dir, VF_CLI, args);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return vft_exec(argv, (const char *const[]){"NO_COLOR=1", NULL});
}

/* stdout without the timing line ("Read ... in 0.001 s, ..."). */
static char *untimed(const char *out)
{
    char *s = strdup(out), *r = strstr(s, "\nRead ");
    if (r) {
        char *eol = strchr(r + 1, '\n');
        memmove(r + 1, eol + 1, strlen(eol + 1) + 1);
    }
    return s;
}

Test(json, a_manifest_made_in_one_directory_checks_the_same_from_another)
{
    char *a = vft_path(work, "a"), *b = vft_path(work, "b"), *bb = vft_path(b, "deeper");
    cr_assert_eq(mkdir(a, 0755), 0);
    cr_assert_eq(mkdir(b, 0755), 0);
    cr_assert_eq(mkdir(bb, 0755), 0);
    free(tiny("a/tiny-llama", NULL, NULL));
    free(tiny("b/deeper/tiny-llama", NULL, NULL));
    vft_run r = in_dir(a, "verify tiny-llama -q --manifest m.json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    /* the copy elsewhere, named from another working directory: the same manifest bytes */
    r = in_dir(work, "verify b/deeper/tiny-llama -q --manifest b/m.json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    char *p1 = vft_path(a, "m.json"), *p2 = vft_path(b, "m.json");
    size_t n1, n2;
    char *m1 = vft_read_file(p1, &n1), *m2 = vft_read_file(p2, &n2);
    cr_assert(m1 && m2 && n1 == n2 && memcmp(m1, m2, n1) == 0, "manifests differ:\n%s\n%s", m1, m2);
    cr_expect(strstr(m1, "\"model\":\"tiny-llama\""), "%s", m1);
    cr_expect_null(strstr(m1, work), "a path of this machine in the manifest: %s", m1);
    cr_expect_null(strstr(m1, "\"path\""));
    /* each checked against the other's manifest from its own directory: the same report */
    vft_run x = in_dir(a, "verify tiny-llama -q --against ../b/m.json");
    vft_run y = in_dir(bb, "verify tiny-llama -q --against ../../a/m.json");
    cr_assert_eq(x.status, 0, "%s", x.err);
    cr_assert_eq(y.status, 0, "%s", y.err);
    char *tx = untimed(x.out), *ty = untimed(y.out);
    cr_expect(strstr(tx, "identical: 1 files and"), "%s", tx);
    char *at = strstr(ty, "../../a/m.json"); /* the one difference: --against as given */
    cr_assert_not_null(at, "%s", ty);
    memcpy(at, "   ../b", 7);
    memmove(at, at + 3, strlen(at + 3) + 1);
    cr_expect_str_eq(tx, ty);
    vft_run_free(&x);
    vft_run_free(&y);
    free(tx);
    free(ty);
    free(m1);
    free(m2);
    free(p1);
    free(p2);
    free(a);
    free(b);
    free(bb);
}

Test(json, manifests_round_trip_and_old_ones_with_a_path_still_read)
{
    char *d = tiny("tiny-llama", NULL, NULL), *m = vft_path(work, "m.json");
    char args[1024];
    snprintf(args, sizeof args, "verify tiny-llama -q --manifest '%s'", m);
    vft_run r = in_dir(work, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    size_t n;
    char *text = vft_read_file(m, &n);
    vf_manifest *man = NULL;
    vf_error e = {0};
    cr_assert_eq(vf_manifest_parse((const uint8_t *)text, n, "m.json", &man, &e), VF_OK, "%s", e.message);
    cr_expect_str_eq(vf_manifest_source(man), "tiny-llama");
    char *again = NULL;
    size_t len = 0;
    cr_assert_eq(vf_manifest_write(man, &again, &len, &e), VF_OK);
    cr_expect(len == n && memcmp(again, text, n) == 0, "write(read(x)) != x:\n%s\n%s", text, again);
    free(again);
    vf_manifest_free(man);
    /* a manifest of an earlier vramfit: "path" where "model" is now */
    char *old = malloc(n + 64), *at = strstr(text, "\"model\":\"tiny-llama\"");
    cr_assert_not_null(at);
    snprintf(old, n + 64, "%.*s\"path\":\"/home/someone/models/tiny-llama/\"%s", (int)(at - text), text,
             at + strlen("\"model\":\"tiny-llama\""));
    vft_write_file(m, old, strlen(old));
    cr_assert_eq(vf_manifest_read_file(m, NULL, &man, &e), VF_OK, "%s", e.message);
    cr_expect_str_eq(vf_manifest_source(man), "tiny-llama");
    vf_manifest_free(man);
    snprintf(args, sizeof args, "verify tiny-llama -q --against '%s'", m);
    r = in_dir(work, args);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "identical"), "%s", r.out);
    vft_run_free(&r);
    free(old);
    free(text);
    free(m);
    free(d);
}
