/* test_vfgen_2026.c - the 2026 checkpoints of tools/vfgen_2026.c against published figures and
 * against their own files: `vfgen expect NAME`'s logical parameter count equals each model's
 * published count (exact where the publisher gives the exact figure, otherwise the published
 * rounding, said per entry); every file's size matches its header offsets; the index is consistent;
 * the headers re-derive expect's stored elements, bytes, tensor count and, by the quantization
 * layouts' own rules (independent of the generator's tags), its logical count; published totals of
 * the real headers (DeepSeek-V3's tensors and bytes, Qwen3-Next's, ...) are reproduced;
 * bitsandbytes quant states are the JSON bitsandbytes writes. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_test_support.h"

/* ---- vfgen expect ------------------------------------------------------------------------- */

static cJSON *expect_of(const char *name)
{
    const char *const argv[] = {VF_VFGEN, "expect", name, NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "vfgen expect %s: %s", name, r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "vfgen expect %s: not JSON", name);
    vft_run_free(&r);
    return j;
}

/* Exact non-negative integer below 2^53 at a dotted path of j. */
static uint64_t num_at(const cJSON *j, const char *path)
{
    char key[64];
    for (const char *p = path; j && *p;) {
        size_t k = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)k, p);
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        p += k + (p[k] == '.');
    }
    cr_assert(cJSON_IsNumber(j), "no number at %s", path);
    double d = j->valuedouble;
    cr_assert(d >= 0 && d == floor(d) && d <= 9007199254740992.0);
    return (uint64_t)d;
}

static uint64_t expect_u64(const char *name, const char *path)
{
    cJSON *j = expect_of(name);
    uint64_t v = num_at(j, path);
    cJSON_Delete(j);
    return v;
}

/* ---- published parameter counts ----------------------------------------------------------- */

/* A published count: exact when unit is 1, else the figure as published in units of `unit`,
 * rounded to nearest (or truncated when trunc). */
typedef struct published {
    const char *name;
    uint64_t figure, unit;
    bool trunc;
} published;

static const published published_counts[] = {
    /* Hub safetensors metadata of ibm-granite/granite-4.0-h-small: 32,207,337,984 ("32.2B
     * params"; also llama.cpp's n-params of its GGUF). IBM's card: 32B total, 9B active. */
    {"granite-4.0-h-small", 32207337984ULL, 1, false},
    /* Hub safetensors metadata of ibm-granite/granite-4.0-h-tiny: 6,939,037,248 ("6.94B") */
    {"granite-4.0-h-tiny", 6939037248ULL, 1, false},
    /* gpt-oss-20b as transformers loads it: 20,914,757,184 (OpenAI's model card, arXiv
     * 2508.10925, table 1: 20.91B total) */
    {"gpt-oss-20b", 20914757184ULL, 1, false},
    /* DeepSeek-V3 README: "671B total parameters" for the main model, the 14B MTP module apart
     * (only the rounding is published; the real headers' totals are checked in
     * published_header_totals) */
    {"deepseek-v3-fp8", 671, 1000000000, false},
    /* Hub safetensors metadata of meta-llama/Llama-4-Scout-17B-16E-Instruct: BF16
     * 108,641,793,536 (Meta's card: 17B active, 109B total) */
    {"llama-4-scout-17b-16e", 108641793536ULL, 1, false},
    /* Qwen/Qwen3-30B-A3B index metadata total parameters: 30,532,122,624 (card: "30.5B in total
     * and 3.3B activated") */
    {"qwen3-30b-a3b", 30532122624ULL, 1, false},
    /* Qwen3-Next-80B-A3B-Instruct card: "80B in total and 3B activated" (rounding only; the
     * exact main-model figure 79,674,391,296 is the index total minus the mtp.* block, checked
     * with the headers in published_header_totals) */
    {"qwen3-next-80b-a3b", 80, 1000000000, false},
    /* Hub safetensors metadata of google/gemma-3-4b-it: 4,300,079,472 ("4.3B params") */
    {"gemma-3-4b-it", 4300079472ULL, 1, false},
    /* Hub safetensors metadata of Qwen/Qwen2.5-VL-7B-Instruct: 8,292,166,656 ("8.29B params") */
    {"qwen2.5-vl-7b", 8292166656ULL, 1, false},
    /* meta-llama/Llama-3.1-8B safetensors total (the BF16 checkpoint test_vfgen.c checks):
     * every quantized form dequantizes to the same 8,030,261,248 parameters */
    {"llama-3.1-8b-gptq-int4", 8030261248ULL, 1, false},
    {"llama-3.1-8b-awq-int4", 8030261248ULL, 1, false},
    {"llama-3.1-8b-bnb-4bit", 8030261248ULL, 1, false},
    {"llama-3.1-8b-fp8-dynamic", 8030261248ULL, 1, false},
    /* Hub safetensors metadata of state-spaces/mamba-130m-hf: 129,135,360 ("129M params") */
    {"mamba-130m", 129135360ULL, 1, false},
    /* Hub safetensors metadata of answerdotai/ModernBERT-base: F32 149,655,232 (card: "22
     * layers, 149 million parameters") */
    {"modernbert-base", 149655232ULL, 1, false},
    /* google/flan-t5-base, model.num_parameters(): 247,577,856 (Hub: "248M params") */
    {"flan-t5-base", 247577856ULL, 1, false},
};
#define N_PUBLISHED (sizeof published_counts / sizeof published_counts[0])

static void assert_published(const published *p, uint64_t v)
{
    uint64_t shown = p->trunc ? v / p->unit : (v + p->unit / 2) / p->unit;
    cr_assert_eq(shown, p->figure, "%s: %llu parameters do not give the published %llu x %llu",
                 p->name, (unsigned long long)v, (unsigned long long)p->figure,
                 (unsigned long long)p->unit);
}

Test(vfgen2026, logical_counts_equal_the_published_counts)
{
    for (size_t i = 0; i < N_PUBLISHED; i++)
        assert_published(&published_counts[i],
                         expect_u64(published_counts[i].name, "parameters"));
}

/* A published header-level total: tensors, stored elements or data bytes (0: not published). */
typedef struct header_total {
    const char *name;
    uint64_t tensors, stored, bytes;
} header_total;

Test(vfgen2026, published_header_totals)
{
    /* Totals of the real checkpoints' safetensors headers (MTP blocks included) as published:
     * deepseek-ai/DeepSeek-V3 per simpx/model-inspect's README ("Total Layers: 91991", "Total
     * Parameters Size: 688,574,839,360 bytes"; the Hub shows 685B params); Qwen3-Next-80B-A3B:
     * 75,944 tensors, 81,324,862,720 elements = index total_size 162,649,725,440 / 2 (BF16);
     * Qwen3-30B-A3B: 18,867 tensors; mamba-130m-hf: 242 tensors; Qwen2.5-VL-7B-Instruct:
     * 16,584,333,312 bytes of weights. */
    static const header_total totals[] = {
        {"deepseek-v3-fp8", 91991, 0, 688574839360ULL},
        {"qwen3-next-80b-a3b", 75944, 81324862720ULL, 162649725440ULL},
        {"qwen3-30b-a3b", 18867, 0, 0},
        {"mamba-130m", 242, 0, 0},
        {"qwen2.5-vl-7b", 0, 0, 16584333312ULL},
    };
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
        const header_total *t = &totals[i];
        cJSON *x = expect_of(t->name);
        cr_assert(!t->tensors || num_at(x, "tensors") == t->tensors, "%s: tensors", t->name);
        cr_assert(!t->stored || num_at(x, "stored_elements") == t->stored, "%s: stored", t->name);
        cr_assert(!t->bytes || num_at(x, "bytes") == t->bytes, "%s: bytes", t->name);
        cJSON_Delete(x);
    }
    const published hub = {"deepseek-v3-fp8", 685, 1000000000, false};
    assert_published(&hub, expect_u64("deepseek-v3-fp8", "stored_elements"));
    /* Qwen3-Next's main model, 79,674,391,296, is the index total less the mtp.* block */
    cr_assert_eq(expect_u64("qwen3-next-80b-a3b", "parameters"), 79674391296ULL);
    cr_assert_eq(expect_u64("qwen3-next-80b-a3b", "components.mtp.stored_elements"),
                 81324862720ULL - 79674391296ULL);
}

Test(vfgen2026, non_embedding_and_vision_counts_equal_the_published_breakdowns)
{
    /* Qwen3-30B-A3B model card: "Number of Paramaters (Non-Embedding): 29.9B" */
    cJSON *q = expect_of("qwen3-30b-a3b");
    uint64_t emb = 2 * num_at(q, "architecture.vocab_size") * num_at(q, "architecture.hidden_size");
    cr_assert_eq((num_at(q, "parameters") - emb + 50000000) / 100000000, 299);
    cJSON_Delete(q);
    /* Gemma 3 technical report, table 1, Gemma 3 4B: vision encoder 417M, non-embedding 3,209M */
    cJSON *g = expect_of("gemma-3-4b-it");
    uint64_t text = num_at(g, "components.language_model.parameters");
    uint64_t gemb = num_at(g, "architecture.vocab_size") * num_at(g, "architecture.hidden_size");
    cr_assert_eq((num_at(g, "components.vision.parameters") + 500000) / 1000000, 417);
    cr_assert_eq((text - gemb + 500000) / 1000000, 3209);
    cJSON_Delete(g);
}

Test(vfgen2026, all_linear_lora_counts)
{
    /* PEFT print_trainable_parameters on Llama-3(.1)-8B with r=32, all-linear: 83,886,080
     * (224 modules); Linear4bit and CompressedLinear subclass nn.Linear, GPTQ/AWQ QuantLinear do
     * not (PEFT then finds no module). */
    const char *linear[] = {"llama-3.1-8b-bnb-4bit", "llama-3.1-8b-fp8-dynamic"};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(expect_u64(linear[i], "all_linear.modules"), 224);
        cr_assert_eq(expect_u64(linear[i], "all_linear.lora_r32_parameters"), 83886080);
    }
    cr_assert_eq(expect_u64("llama-3.1-8b-gptq-int4", "all_linear.modules"), 0);
    cr_assert_eq(expect_u64("llama-3.1-8b-awq-int4", "all_linear.modules"), 0);
    /* gpt-oss: 4 attention projections x 24 layers; router and experts are nn.Parameter */
    cr_assert_eq(expect_u64("gpt-oss-20b", "all_linear.modules"), 96);
}

/* `vfgen expect name --modules` */
static cJSON *modules_of(const char *name)
{
    const char *const argv[] = {VF_VFGEN, "expect", name, "--modules", NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j);
    vft_run_free(&r);
    return j;
}

/* The entry of the modules list of j named name. */
static const cJSON *module_named(const cJSON *j, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "modules"))
        if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, name) == 0)
            return e;
    cr_assert_fail("no module %s", name);
    return NULL;
}

Test(vfgen2026, modules_list_the_all_linear_set_and_expert_orientation)
{
    cJSON *j = modules_of("llama-4-scout-17b-16e");
    uint64_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "modules"))
        n += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "all_linear"));
    cr_assert_eq(n, num_at(j, "all_linear.modules"));
    /* Llama4TextExperts bmm layout: down_proj [E, I, H] maps I = 8192 to H = 5120 */
    const cJSON *down = module_named(j, "language_model.model.layers.47.feed_forward.experts.down_proj");
    cr_assert(num_at(down, "in") == 8192 && num_at(down, "out") == 5120);
    const cJSON *head = module_named(j, "language_model.lm_head");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(head, "all_linear")));
    cJSON_Delete(j);
    /* GraniteMoeHybridParallelExperts [E, out, in]: input_linear maps 1536 to 2 x 512 */
    j = modules_of("granite-4.0-h-tiny");
    const cJSON *in = module_named(j, "model.layers.0.block_sparse_moe.input_linear.weight");
    cr_assert(num_at(in, "in") == 1536 && num_at(in, "out") == 1024);
    cJSON_Delete(j);
}

/* ---- the files ---------------------------------------------------------------------------- */

static uint64_t dtype_bytes(const char *dt)
{
    static const struct {
        const char *name;
        uint64_t size;
    } sizes[] = {{"F32", 4}, {"I32", 4}, {"BF16", 2}, {"F16", 2}, {"U8", 1}, {"F8_E4M3", 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(dt, sizes[i].name) == 0)
            return sizes[i].size;
    cr_assert_fail("unexpected dtype %s", dt);
    return 0;
}

/* What the headers of one checkpoint add up to. */
typedef struct sums {
    uint64_t tensors, stored, bytes, logical;
} sums;

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Logical elements of one stored tensor by the layouts' own rules: 4-bit packs (GPTQ/AWQ qweight
 * I32: 8 per element; bitsandbytes U8 weight and MXFP4 U8 _blocks: 2 per byte) count unpacked;
 * quantization metadata, DeepSeek's router bias buffer and MTP weights (mtp_prefix) count 0. */
static uint64_t logical_elements(const char *name, const char *dtype, uint64_t numel,
                                 const char *mtp_prefix)
{
    static const char *const meta[] = {
        ".weight_scale_inv", ".weight_scale", ".qzeros", ".scales", ".g_idx", ".absmax",
        ".quant_map", ".nested_absmax", ".nested_quant_map", ".quant_state.bitsandbytes__nf4",
        "_scales", ".e_score_correction_bias"};
    if (*mtp_prefix && strncmp(name, mtp_prefix, strlen(mtp_prefix)) == 0)
        return 0;
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        if (has_suffix(name, meta[i]))
            return 0;
    if (strcmp(dtype, "I32") == 0 && has_suffix(name, ".qweight"))
        return 8 * numel;
    if (strcmp(dtype, "U8") == 0 && (has_suffix(name, ".weight") || has_suffix(name, "_blocks")))
        return 2 * numel;
    return numel;
}

/* Reads the header of a safetensors file; *n_out = header length, *size_out = file size. */
static cJSON *header_of(const char *path, uint64_t *n_out, uint64_t *size_out)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    struct stat st;
    unsigned char pre[8];
    cr_assert(fstat(fileno(f), &st) == 0 && fread(pre, 1, 8, f) == 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | pre[i];
    cr_assert(n % 8 == 0 && n <= 100000000 && 8 + n <= (uint64_t)st.st_size, "%s: length", path);
    char *text = malloc(n);
    cr_assert(text && fread(text, 1, n, f) == n);
    fclose(f);
    cJSON *h = cJSON_ParseWithLength(text, n);
    cr_assert_not_null(h, "%s: header is not JSON", path);
    free(text);
    *n_out = n;
    *size_out = (uint64_t)st.st_size;
    return h;
}

/* Adds one file's tensors to s; names sorted, offsets contiguous, spans = numel * dtype size,
 * file size = 8 + N + data. With an index, *wm walks its weight_map: vfgen's shards are
 * contiguous runs in name order, so the file's tensors must be the next entries, each mapping to
 * `file` (one pass, where a lookup per tensor would be quadratic on 90k tensors). */
static void sum_file(const char *dir, const char *file, const cJSON **wm, const char *mtp, sums *s)
{
    char *path = vft_path(dir, file);
    uint64_t n, size, off = 0;
    cJSON *h = header_of(path, &n, &size);
    const char *prev = "";
    for (const cJSON *e = h->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        cr_assert_gt(strcmp(e->string, prev), 0, "%s: %s out of order", path, e->string);
        prev = e->string;
        const char *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        uint64_t numel = 1;
        for (const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "shape")->child; d; d = d->next)
            numel *= (uint64_t)d->valuedouble;
        cr_assert_eq((uint64_t)offs->child->valuedouble, off, "%s: %s begin", path, e->string);
        off += numel * dtype_bytes(dt);
        cr_assert_eq((uint64_t)offs->child->next->valuedouble, off, "%s: %s end", path, e->string);
        if (wm) {
            const cJSON *w = *wm;
            cr_assert(w && strcmp(w->string, e->string) == 0 && cJSON_IsString(w) &&
                          strcmp(w->valuestring, file) == 0,
                      "%s: %s is not the next weight_map entry", path, e->string);
            *wm = w->next;
        }
        s->tensors++;
        s->stored += numel;
        s->logical += logical_elements(e->string, dt, numel, mtp);
    }
    cr_assert_eq(size, 8 + n + off, "%s: file size is not 8 + header + data", path);
    s->bytes += off;
    cJSON_Delete(h);
    free(path);
}

/* Sums a checkpoint directory: model.safetensors, or the shards its index names (every shard
 * once, total_size = data bytes, one weight_map entry per tensor). */
static sums sum_checkpoint(const char *dir, const char *mtp)
{
    sums s = {0, 0, 0, 0};
    char *ix = vft_path(dir, "model.safetensors.index.json");
    char *text = vft_read_file(ix, NULL);
    free(ix);
    if (!text) {
        sum_file(dir, "model.safetensors", NULL, mtp, &s);
        return s;
    }
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s: index is not JSON", dir);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    const cJSON *next = wm->child;
    char prev[64] = "";
    while (next) {
        char file[64];
        snprintf(file, sizeof file, "%s", next->valuestring);
        cr_assert_gt(strcmp(file, prev), 0, "%s: shard %s listed twice or out of order", dir, file);
        sum_file(dir, file, &next, mtp, &s);
        memcpy(prev, file, sizeof prev);
    }
    cr_assert_eq((uint64_t)cJSON_GetArraySize(wm), s.tensors, "%s: weight_map entries", dir);
    cr_assert_eq(num_at(j, "metadata.total_size"), s.bytes, "%s: total_size", dir);
    cJSON_Delete(j);
    free(text);
    return s;
}

/* Prefix of the MTP weights transformers does not load, from the checkpoint's config.json:
 * model.layers.<num_hidden_layers>. when it declares num_nextn_predict_layers, mtp. for
 * Qwen3-Next, "" (none) otherwise. */
static void mtp_prefix(const cJSON *cfg, char *out, size_t cap)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (cJSON_GetObjectItemCaseSensitive(cfg, "num_nextn_predict_layers"))
        snprintf(out, cap, "model.layers.%llu.",
                 (unsigned long long)num_at(cfg, "num_hidden_layers"));
    else
        snprintf(out, cap, "%s", strcmp(mt->valuestring, "qwen3_next") == 0 ? "mtp." : "");
}

static cJSON *config_of(const char *dir)
{
    char *path = vft_path(dir, "config.json");
    char *text = vft_read_file(path, NULL);
    cr_assert_not_null(text, "%s missing", path);
    cJSON *cfg = cJSON_Parse(text);
    cr_assert_not_null(cfg, "%s is not JSON", path);
    cr_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cfg, "architectures")));
    free(text);
    free(path);
    return cfg;
}

/* The checkpoint in dir agrees with `vfgen expect name` on every total. */
static void check_against_expect(const char *name, const char *dir)
{
    cJSON *cfg = config_of(dir);
    char mtp[64];
    mtp_prefix(cfg, mtp, sizeof mtp);
    sums s = sum_checkpoint(dir, mtp);
    cJSON *x = expect_of(name);
    cr_assert_eq(s.tensors, num_at(x, "tensors"), "%s: tensors", name);
    cr_assert_eq(s.stored, num_at(x, "stored_elements"), "%s: stored elements", name);
    cr_assert_eq(s.bytes, num_at(x, "bytes"), "%s: bytes", name);
    cr_assert_eq(s.logical, num_at(x, "parameters"), "%s: logical from headers %llu", name,
                 (unsigned long long)s.logical);
    cJSON_Delete(x);
    cJSON_Delete(cfg);
}

Test(vfgen2026, every_checkpoint_agrees_with_its_headers_index_and_expect)
{
    for (size_t i = 0; i < N_PUBLISHED; i++) {
        const char *name = published_counts[i].name;
        if (strcmp(name, "deepseek-v3-fp8") == 0)
            continue; /* not in `vfgen all`: see deepseek_fp8_checkpoint_agrees_with_expect */
        char *dir = vft_gen(name);
        check_against_expect(name, dir);
        free(dir);
    }
}

Test(vfgen2026, deepseek_fp8_checkpoint_agrees_with_expect)
{
    char *tmp = vft_tempdir();
    const char *const argv[] = {VF_VFGEN, "model", "deepseek-v3-fp8", tmp, NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    check_against_expect("deepseek-v3-fp8", tmp);
    cJSON *x = expect_of("deepseek-v3-fp8");
    cr_assert_eq(num_at(x, "architecture.layers"), 61, "the MTP layer is not a decoder layer");
    cr_assert_eq(num_at(x, "components.mtp.parameters"), 0);
    cJSON_Delete(x);
    vft_rmtree(tmp);
    free(tmp);
}

/* The integer at key of config object c, or of its text_config when c has one. */
static uint64_t text_config_u64(const cJSON *c, const char *key)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text_config");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t ? t : c, key);
    cr_assert(cJSON_IsNumber(v), "config has no %s", key);
    return (uint64_t)v->valuedouble;
}

Test(vfgen2026, architecture_is_the_language_models_as_config_json_says)
{
    /* routed experts by the config key each family uses */
    static const struct {
        const char *name, *experts_key;
    } moe[] = {{"granite-4.0-h-small", "num_local_experts"},
               {"granite-4.0-h-tiny", "num_local_experts"},
               {"gpt-oss-20b", "num_local_experts"},
               {"llama-4-scout-17b-16e", "num_local_experts"},
               {"qwen3-30b-a3b", "num_experts"},
               {"qwen3-next-80b-a3b", "num_experts"}};
    const char *dense[] = {"gemma-3-4b-it", "qwen2.5-vl-7b", "llama-3.1-8b-gptq-int4", "mamba-130m"};
    for (size_t i = 0; i < sizeof moe / sizeof moe[0] + 4; i++) {
        const char *name = i < 6 ? moe[i].name : dense[i - 6];
        char *dir = vft_gen(name);
        cJSON *cfg = config_of(dir);
        cJSON *x = expect_of(name);
        cr_assert_eq(num_at(x, "architecture.layers"), text_config_u64(cfg, "num_hidden_layers"));
        cr_assert_eq(num_at(x, "architecture.hidden_size"), text_config_u64(cfg, "hidden_size"));
        cr_assert_eq(num_at(x, "architecture.experts"),
                     i < 6 ? text_config_u64(cfg, moe[i].experts_key) : 0, "%s: experts", name);
        cJSON_Delete(x);
        cJSON_Delete(cfg);
        free(dir);
    }
}

Test(vfgen2026, model_takes_shards_and_refuses_more_shards_than_tensors)
{
    char *tmp = vft_tempdir();
    const char *const ok[] = {VF_VFGEN, "model", "mamba-130m", tmp, "--shards", "3", NULL};
    const char *const bad[] = {VF_VFGEN, "model", "mamba-130m", tmp, "--shards", "243", NULL};
    vft_run r = vft_exec(ok, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    check_against_expect("mamba-130m", tmp);
    r = vft_exec(bad, NULL);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    vft_rmtree(tmp);
    free(tmp);
}

/* ---- bitsandbytes quant state ------------------------------------------------------------- */

/* Reads `len` bytes at data offset `begin` of the safetensors file path (header length n). */
static char *read_payload(const char *path, uint64_t n, uint64_t begin, size_t len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    char *buf = calloc(1, len + 1);
    cr_assert(buf && fseek(f, (long)(8 + n + begin), SEEK_SET) == 0);
    cr_assert_eq(fread(buf, 1, len, f), len);
    fclose(f);
    return buf;
}

static uint64_t numel_of(const cJSON *entry)
{
    uint64_t n = 1;
    for (const cJSON *d = cJSON_GetObjectItemCaseSensitive(entry, "shape")->child; d; d = d->next)
        n *= (uint64_t)d->valuedouble;
    return n;
}

/* Checks one quant_state tensor of header h against its weight and absmax siblings. */
static void check_quant_state(const char *path, uint64_t n, const cJSON *h, const cJSON *qs)
{
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(qs, "data_offsets");
    uint64_t begin = (uint64_t)off->child->valuedouble;
    size_t len = (size_t)((uint64_t)off->child->next->valuedouble - begin);
    char *text = read_payload(path, n, begin, len);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s: quant state is not JSON: %s", qs->string, text);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    cr_assert_eq(cJSON_GetArraySize(shape), 2);
    uint64_t out = (uint64_t)shape->child->valuedouble, in = (uint64_t)shape->child->next->valuedouble;
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(qs->string) - strlen(".quant_state.bitsandbytes__nf4")),
             qs->string);
    char key[300];
    snprintf(key, sizeof key, "%s", base);
    cr_assert_eq(2 * numel_of(cJSON_GetObjectItemCaseSensitive(h, key)), out * in, "%s", key);
    snprintf(key, sizeof key, "%s.absmax", base);
    cr_assert_eq(numel_of(cJSON_GetObjectItemCaseSensitive(h, key)), (out * in + 63) / 64);
    /* QuantState.as_dict(packed=True): json.dumps of the non-tensor items in as_dict's order */
    char want[512];
    snprintf(want, sizeof want,
             "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": "
             "[%llu, %llu], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", "
             "\"nested_offset\": ",
             (unsigned long long)out, (unsigned long long)in);
    cr_assert_eq(strncmp(text, want, strlen(want)), 0, "%s: %s", qs->string, text);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "nested_offset")));
    cJSON_Delete(j);
    free(text);
}

Test(vfgen2026, bnb_quant_states_hold_bitsandbytes_json)
{
    char *dir = vft_gen("llama-3.1-8b-bnb-4bit");
    size_t states = 0;
    for (int s = 1; s <= 2; s++) {
        char file[64];
        snprintf(file, sizeof file, "model-%05d-of-00002.safetensors", s);
        char *path = vft_path(dir, file);
        uint64_t n, size;
        cJSON *h = header_of(path, &n, &size);
        for (const cJSON *e = h->child; e; e = e->next)
            if (has_suffix(e->string, ".weight.quant_state.bitsandbytes__nf4")) {
                check_quant_state(path, n, h, e);
                states++;
            }
        cJSON_Delete(h);
        free(path);
    }
    cr_assert_eq(states, 7 * 32, "one quant state per quantized linear");
    free(dir);
}

/* ---- commands ------------------------------------------------------------------------------ */

Test(vfgen2026, list_gives_the_logical_count_of_every_model)
{
    const char *const argv[] = {VF_VFGEN, "list", NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0);
    for (size_t i = 0; i < N_PUBLISHED; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s\t%llu\n", published_counts[i].name,
                 (unsigned long long)expect_u64(published_counts[i].name, "parameters"));
        cr_assert_not_null(strstr(r.out, line), "list lacks %s", line);
    }
    vft_run_free(&r);
}

Test(vfgen2026, expect_and_model_reject_bad_usage_with_status_2)
{
    const char *const unknown[] = {VF_VFGEN, "expect", "no-such-model", NULL};
    const char *const old[] = {VF_VFGEN, "expect", "gpt2", NULL};
    const char *const layers[] = {VF_VFGEN, "model", "gpt-oss-20b", "/tmp", "--layers", "2", NULL};
    const char *const *cases[] = {unknown, old, layers};
    for (size_t i = 0; i < 3; i++) {
        vft_run r = vft_exec(cases[i], NULL);
        cr_assert_eq(r.status, 2);
        cr_assert_eq(r.out_len, 0);
        vft_run_free(&r);
    }
}
