/* test_svg.c - `estimate --svg` and `adapters --svg`: the file is well-formed XML (xmllint --noout)
 * and renders with a real renderer (rsvg-convert) to a PNG; its labels are the command's own
 * figures (each method, the GPU memory line, the expected GiB; every layer's parameters); names
 * from hostile files and paths are escaped; it is written atomically and only when the command
 * succeeds, and stdout is the same with or without --svg. Needs Debian's libxml2-utils and
 * librsvg2-bin (scripts/setup.sh installs them). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_test_support.h"

#define GIB 1073741824.0

/* ---- helpers ------------------------------------------------------------------------------------ */

static char *granite(void)
{
    return vft_gen("granite-3.3-2b-instruct");
}

/* Runs an external tool by name through /usr/bin/env; fails the test when it is not installed. */
static vft_run tool(const char *const *argv, const char *package)
{
    vft_run r = vft_exec(argv, NULL);
    cr_assert_neq(r.status, 127, "%s is not installed: apt-get install %s (scripts/setup.sh)", argv[1],
                  package);
    return r;
}

/* Asserts that path is well-formed XML and that rsvg-convert turns it into a non-empty PNG. */
static void assert_renders(const char *path)
{
    const char *lint[] = {"/usr/bin/env", "xmllint", "--noout", path, NULL};
    vft_run r = tool(lint, "libxml2-utils");
    cr_assert_eq(r.status, 0, "xmllint --noout %s: %s", path, r.err);
    cr_expect_eq(r.err_len, 0, "xmllint is silent: %s", r.err);
    vft_run_free(&r);
    char *png = malloc(strlen(path) + 8);
    cr_assert_not_null(png);
    sprintf(png, "%s.png", path);
    const char *conv[] = {"/usr/bin/env", "rsvg-convert", "-o", png, path, NULL};
    r = tool(conv, "librsvg2-bin");
    cr_assert_eq(r.status, 0, "rsvg-convert %s: %s", path, r.err);
    vft_run_free(&r);
    size_t len = 0;
    char *data = vft_read_file(png, &len);
    cr_assert_not_null(data, "rsvg-convert wrote %s", png);
    cr_expect_gt(len, 2000, "a real picture, not an empty canvas (%zu bytes)", len);
    cr_expect_eq(memcmp(data, "\x89PNG\r\n\x1a\n", 8), 0, "PNG signature");
    free(data);
    remove(png);
    free(png);
}

static char *read_svg(const char *path)
{
    size_t len = 0;
    char *s = vft_read_file(path, &len);
    cr_assert_not_null(s, "%s was written", path);
    cr_assert_eq(strlen(s), len, "no NUL byte inside the SVG");
    return s;
}

static void expect_contains(const char *svg, const char *needle)
{
    cr_expect(strstr(svg, needle) != NULL, "the SVG contains '%s'", needle);
}

/* Number of directory entries other than . and .. (no temporary file left behind). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* "1,409,024" */
static void count(char *buf, size_t n, unsigned long long v)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", v), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* ---- estimate ----------------------------------------------------------------------------------- */

#define GRANITE_SETUP "--gpus", "2", "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "8192", \
                      "--batch-size", "4", "--max-seq-len", "4096"

Test(svg, estimate_all_methods_granite)
{
    char *model = granite(), *dir = vft_tempdir(), *svg = vft_path(dir, "all.svg");
    vft_run r = vft_cli("estimate", model, "--method", "all", GRANITE_SETUP, "--json", "--svg", svg, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cJSON *doc = cJSON_Parse(r.out);
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(doc, "methods")), "--json still prints the methods: %.200s", r.out);
    vft_run plain = vft_cli("estimate", model, "--method", "all", GRANITE_SETUP, "--json", NULL);
    cr_expect_str_eq(r.out, plain.out, "stdout is the same with and without --svg");
    cr_expect_eq(entries(dir), 1, "only the SVG in the directory (no temporary file left)");
    assert_renders(svg);
    char *s = read_svg(svg);
    expect_contains(s, ">GPU memory<");
    expect_contains(s, ">48.0 GiB<");
    expect_contains(s, "granite-3.3-2b-instruct");
    static const char *const labels[] = {"SFT", "OSFT", "LoRA", "QLoRA"};
    for (int i = 0; i < 4; i++) {
        const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "methods"), i);
        const cJSON *pg = cJSON_GetObjectItemCaseSensitive(run, "per_gpu");
        double expected = cJSON_GetObjectItemCaseSensitive(pg, "expected_bytes")->valuedouble;
        char want[64];
        snprintf(want, sizeof want, ">%s<", labels[i]);
        expect_contains(s, want);
        snprintf(want, sizeof want, ">%.1f GiB<", expected / GIB);
        expect_contains(s, want);
        cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(run, "verdict")->valuestring, "fits");
    }
    /* The article's Granite 2B SFT figures: 27.9 expected, 25.4 - 33.0 per GPU, components. */
    expect_contains(s, ">27.9 GiB<");
    expect_contains(s, ">25.4 \xE2\x80\x93 33.0 GiB<");
    expect_contains(s, ">9.4<");
    expect_contains(s, ">should work<");
    expect_contains(s, ">8,192 tokens/GPU<");
    cJSON_Delete(doc);
    vft_run_free(&r);
    vft_run_free(&plain);
    free(s);
    vft_rmtree(dir);
    free(svg);
    free(dir);
    free(model);
}

Test(svg, estimate_one_method_with_check_still_draws)
{
    char *model = granite(), *dir = vft_tempdir(), *svg = vft_path(dir, "sft.svg");
    vft_run r = vft_cli("estimate", model, "--method", "sft", "--gpus", "2", "--gpu-memory", "16GiB",
                        "--max-tokens-per-gpu", "8192", "--check", "--svg", svg, NULL);
    cr_assert_eq(r.status, 11, "impossible on 16 GiB: exit %d: %s", r.status, r.err);
    assert_renders(svg);
    char *s = read_svg(svg);
    expect_contains(s, ">16.0 GiB<");
    expect_contains(s, ">impossible<");
    expect_contains(s, ">SFT<");
    cr_expect(!strstr(s, ">OSFT<"), "one method, one bar");
    vft_run_free(&r);
    free(s);
    vft_rmtree(dir);
    free(svg);
    free(dir);
    free(model);
}

Test(svg, estimate_failures_write_nothing)
{
    char *model = granite(), *dir = vft_tempdir(), *svg = vft_path(dir, "keep.svg");
    char *missing = vft_path(dir, "no-such-dir/out.svg"), *nomodel = vft_path(dir, "no-model");
    vft_write_file(svg, "old", 3);

    /* The command fails: the existing file is left alone. */
    vft_run r = vft_cli("estimate", nomodel, "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "8192",
                        "--svg", svg, NULL);
    cr_expect_eq(r.status, 3, "missing checkpoint: %s", r.err);
    cr_expect_eq(r.out_len, 0);
    size_t len = 0;
    char *old = vft_read_file(svg, &len);
    cr_expect(old && len == 3 && memcmp(old, "old", 3) == 0, "untouched on failure");
    free(old);
    vft_run_free(&r);
    r = vft_cli("estimate", model, "--method", "lora", "--gpu-memory", "48GiB", "--max-tokens-per-gpu",
                "8192", "--svg", svg, NULL);
    cr_expect_eq(r.status, 2, "LoRA without batch/seq is a usage error: %s", r.err);
    old = vft_read_file(svg, &len);
    cr_expect(old && len == 3, "still untouched");
    free(old);
    vft_run_free(&r);

    /* The SVG itself cannot be written: one line on stderr, exit 3, nothing on stdout. */
    r = vft_cli("estimate", model, "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "8192", "--svg",
                missing, NULL);
    cr_expect_eq(r.status, 3, "unwritable SVG: exit %d", r.status);
    cr_expect_eq(r.out_len, 0, "nothing on stdout: %s", r.out);
    cr_expect(strstr(r.err, "no-such-dir/out.svg") != NULL, "names the file: %s", r.err);
    cr_expect(r.err_len > 0 && strchr(r.err, '\n') == r.err + r.err_len - 1, "one line: %s", r.err);
    vft_run_free(&r);

    /* --svg needs a value. */
    r = vft_cli("estimate", model, "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "8192", "--svg", NULL);
    cr_expect_eq(r.status, 2, "usage error: %s", r.err);
    vft_run_free(&r);
    cr_expect_eq(entries(dir), 1, "only keep.svg: no temporary file left behind");
    vft_rmtree(dir);
    free(nomodel);
    free(missing);
    free(svg);
    free(dir);
    free(model);
}

/* ---- adapters ----------------------------------------------------------------------------------- */

Test(svg, adapters_granite_per_layer)
{
    char *model = granite(), *dir = vft_tempdir(), *svg = vft_path(dir, "lora.svg");
    vft_run r = vft_cli("adapters", model, "--json", "--svg", svg, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cJSON *doc = cJSON_Parse(r.out);
    cr_assert_not_null(doc);
    assert_renders(svg);
    char *s = read_svg(svg);
    expect_contains(s, "LoRA adapter parameters per layer");
    expect_contains(s, ">self_attn.q_proj<");
    expect_contains(s, ">mlp.down_proj<");
    expect_contains(s, "56,360,960 parameters");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
    cr_assert_eq(cJSON_GetArraySize(layers), 40);
    for (int i = 0; i < 40; i++) {
        char n[32], want[96];
        const cJSON *l = cJSON_GetArrayItem(layers, i);
        count(n, sizeof n, (unsigned long long)cJSON_GetObjectItemCaseSensitive(l, "params")->valuedouble);
        snprintf(want, sizeof want, "<title>layer %d: %s parameters</title>", i, n);
        expect_contains(s, want);
    }
    cJSON_Delete(doc);
    vft_run_free(&r);
    free(s);

    /* OSFT too. */
    r = vft_cli("adapters", model, "--method", "osft", "--svg", svg, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    assert_renders(svg);
    s = read_svg(svg);
    expect_contains(s, "OSFT U, S, V parameters per layer");
    vft_run_free(&r);
    free(s);

    /* A target matching nothing fails the command: no SVG. */
    remove(svg);
    r = vft_cli("adapters", model, "--target", "no_such_module", "--svg", svg, NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(!exists(svg), "no SVG when the command fails");
    vft_run_free(&r);
    vft_rmtree(dir);
    free(svg);
    free(dir);
    free(model);
}

/* ---- hostile names ------------------------------------------------------------------------------ */

/* A small Llama-shaped checkpoint in a directory whose name holds XML specials, a control character
 * and a byte that is not UTF-8; one tensor name holds XML specials too. Returns the checkpoint dir. */
static char *hostile_checkpoint(char *root)
{
    static const struct {
        const char *name;
        const char *shape;
        unsigned numel;
    } t[] = {
        {"model.embed_tokens.weight", "[64,16]", 1024},
        {"model.layers.0.input_layernorm.weight", "[16]", 16},
        {"model.layers.0.self_attn.q_proj.weight", "[16,16]", 256},
        {"model.layers.0.self_attn.k_proj.weight", "[16,16]", 256},
        {"model.layers.0.self_attn.v_proj.weight", "[16,16]", 256},
        {"model.layers.0.self_attn.o_proj.weight", "[16,16]", 256},
        {"model.layers.0.mlp.gate_proj.weight", "[32,16]", 512},
        {"model.layers.0.mlp.up_proj.weight", "[32,16]", 512},
        {"model.layers.0.mlp.down_proj.weight", "[16,32]", 512},
        {"model.layers.0.mlp.<&\\\">'.weight", "[16,16]", 256},
        {"model.norm.weight", "[16]", 16},
    };
    char header[4096];
    size_t o = (size_t)snprintf(header, sizeof header, "{");
    unsigned long long off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        o += (size_t)snprintf(header + o, sizeof header - o,
                              "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}",
                              i ? "," : "", t[i].name, t[i].shape, off, off + 4ull * t[i].numel);
        off += 4ull * t[i].numel;
    }
    snprintf(header + o, sizeof header - o, "}");
    char *dir = vft_path(root, "m<&\">'\x01\xff-x");
    cr_assert_eq(mkdir(dir, 0755), 0);
    size_t len;
    uint8_t *img = vft_st_image(header, off, &len);
    char *file = vft_path(dir, "model.safetensors");
    vft_write_file(file, img, len);
    free(img);
    free(file);
    return dir;
}

static void expect_escaped(const char *s)
{
    cr_expect(!strstr(s, "<&"), "no raw '<&' in the SVG");
    cr_expect(!strstr(s, "\x01"), "no control character");
    cr_expect(!strstr(s, "\xff"), "no invalid UTF-8");
    expect_contains(s, "m&lt;&amp;&quot;&gt;&apos;?" "?-x"); /* \x01 and \xff */
}

Test(svg, hostile_names_are_escaped)
{
    char *root = vft_tempdir(), *model = hostile_checkpoint(root);
    char *est = vft_path(root, "est.svg"), *ad = vft_path(root, "ad.svg");
    vft_run r = vft_cli("estimate", model, "--method", "all", "--gpu-memory", "24GiB", "--batch-size", "2",
                        "--max-seq-len", "128", "--svg", est, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    vft_run_free(&r);
    assert_renders(est);
    char *s = read_svg(est);
    expect_escaped(s);
    free(s);

    r = vft_cli("adapters", model, "--target", "all-linear", "--svg", ad, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    vft_run_free(&r);
    assert_renders(ad);
    s = read_svg(ad);
    expect_escaped(s);
    expect_contains(s, ">mlp.&lt;&amp;&quot;&gt;&apos;<");
    free(s);
    vft_rmtree(root);
    free(est);
    free(ad);
    free(model);
    free(root);
}

/* ---- help --------------------------------------------------------------------------------------- */

Test(svg, help_documents_the_option)
{
    static const char *const cmds[] = {"estimate", "adapters"};
    for (int i = 0; i < 2; i++) {
        vft_run r = vft_cli(cmds[i], "--help", NULL);
        cr_expect_eq(r.status, 0);
        cr_expect(strstr(r.out, "--svg FILE") != NULL, "%s --help documents --svg", cmds[i]);
        vft_run_free(&r);
    }
}
