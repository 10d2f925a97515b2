/* vf_mkcorpus.c - writes the fuzzing seed corpora tests/fuzz/corpus/KIND from the project's
 * testdata/ and the named corruption classes (libc, zlib and the library's snapshot encoder). Deterministic: the same tree every run.
 *
 *   vf_mkcorpus [--root DIR] [--out DIR] [KIND...]
 *
 * KIND: safetensors, index, snapshot, adapter_config (default: all four). --root is the source tree
 * whose testdata/ is read (default: the tree vf_mkcorpus was configured from); --out is the corpus
 * directory (default: ROOT/tests/fuzz/corpus), created when missing. Each seed file is rewritten;
 * other files (crash-*, finding-*, added by hand) are left alone.
 *
 * Seeds are small on purpose (libFuzzer's -max_len follows the largest seed). Real files whose data
 * region is large are cut after the header: the parser still walks every entry before it rejects the
 * missing data. JSON seeds are written compact, as spelled here (the real files copied from testdata/
 * bring the indented layouts); snapshot seeds are the library's own encoding (vf_snapshot_encode)
 * with one field changed. The output is deterministic, so ctest fuzz_corpus_regen checks that the
 * committed corpus is what this program writes. Exit status: 0 ok, 1 I/O error, 2 usage. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zlib.h>

#include "vf_tool.h"
#include "vramfit/vf_snapshot.h"

#ifndef VF_MKCORPUS_ROOT
#define VF_MKCORPUS_ROOT "."
#endif

#if defined(__GNUC__)
#define MK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MK_PRINTF(f, a)
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define AUTO UINT64_MAX          /* "derive it" for data_len, plen and clen (never a real value) */
#define WHOLE_FILE_MAX 16384u    /* real safetensors files up to this size are kept whole */
#define MAX_KEYS 16              /* adapter_config keys after overrides */

const char *const vf_tool_name = "vf_mkcorpus";
static const char *g_root = VF_MKCORPUS_ROOT; /* source tree: testdata/ is read from here */
static const char *g_out;                     /* corpus directory: KIND/NAME are written here */

/* ---- errors and byte buffers --------------------------------------------------------------- */

/* A growable byte string; zero-initialise, release with b_free. */
typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

/* A borrowed byte span. SPAN("...") (an initializer) and LIT("...") (an expression) span a string
 * literal without its terminator, embedded NULs kept. */
typedef struct bytes {
    const void *p;
    size_t n;
} bytes;
#define SPAN(s) {(s), sizeof(s) - 1}
#define LIT(s) ((bytes)SPAN(s))

static bytes str_bytes(const char *s)
{
    return (bytes){s, strlen(s)};
}

static bytes buf_bytes(const buf *b)
{
    return (bytes){b->p, b->len};
}

/* Makes room for n more bytes; dies on overflow or out of memory. */
static void b_reserve(buf *b, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len)
        die("buffer too large");
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void b_put(buf *b, const void *s, size_t n)
{
    if (n == 0)
        return;
    b_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void b_bytes(buf *b, bytes s)
{
    b_put(b, s.p, s.n);
}

static void b_str(buf *b, const char *s)
{
    b_put(b, s, strlen(s));
}

static void b_byte(buf *b, unsigned char c)
{
    b_put(b, &c, 1);
}

static void b_fill(buf *b, unsigned char c, size_t n)
{
    b_reserve(b, n);
    memset(b->p + b->len, c, n);
    b->len += n;
}

/* Appends printf(fmt, ...); dies when the text does not fit 255 bytes. */
static MK_PRINTF(2, 3) void b_fmt(buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof tmp)
        die("formatted text too long");
    b_put(b, tmp, (size_t)w);
}

/* Appends v as an n-byte little-endian integer (n <= 8). */
static void b_le(buf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b_byte(b, (unsigned char)(v >> (8 * i)));
}

static void b_free(buf *b)
{
    free(b->p);
    *b = (buf){0};
}

/* Reads a little-endian u64 at p (8 readable bytes). */
static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- files --------------------------------------------------------------------------------- */

/* Reads ROOT/rel whole into out (which it resets). */
static void read_root(buf *out, const char *rel)
{
    char *path = path_join(g_root, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    b_free(out);
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        b_put(out, chunk, n);
    if (ferror(f))
        die("cannot read %s", path);
    fclose(f);
    free(path);
}

/* Writes OUT/kind/name with exactly the given bytes, creating the directories. */
static void write_seed(const char *kind, const char *name, bytes data)
{
    char *dir = path_join(g_out, kind);
    mkdir_p(dir);
    char *path = path_join(dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        die("cannot create %s: %s", path, strerror(errno));
    bool ok = data.n == 0 || fwrite(data.p, 1, data.n, f) == data.n;
    if (fclose(f) != 0 || !ok)
        die("cannot write %s", path);
    free(path);
    free(dir);
}

/* Copies ROOT/rel to OUT/kind/name. */
static void copy_seed(const char *kind, const char *name, const char *rel)
{
    buf b = {0};
    read_root(&b, rel);
    write_seed(kind, name, buf_bytes(&b));
    b_free(&b);
}

/* ---- JSON seeds ---------------------------------------------------------------------------- */

/* Writes the JSON text json as OUT/kind/name. */
static void json_seed(const char *kind, const char *name, const char *json)
{
    write_seed(kind, name, str_bytes(json));
}

/* ---- safetensors --------------------------------------------------------------------------- */

/* One header entry. name is JSON-ready (escaped, ASCII only); shape is compact JSON ("[2,2]"). */
typedef struct tensor {
    const char *name, *dtype, *shape;
    uint64_t begin, end;
} tensor;

/* Appends a safetensors image: 8-byte LE length (*prefix, or hdr.n when prefix is NULL), hdr,
 * and data_len zero bytes. */
static void st_image(buf *o, bytes hdr, uint64_t data_len, const uint64_t *prefix)
{
    b_le(o, prefix ? *prefix : hdr.n, 8);
    b_bytes(o, hdr);
    if (data_len > SIZE_MAX)
        die("data region too large");
    b_fill(o, 0, (size_t)data_len);
}

/* Writes st_image(hdr, data_len) as OUT/safetensors/name. */
static void st_seed(const char *name, bytes hdr, uint64_t data_len, const uint64_t *prefix)
{
    buf b = {0};
    st_image(&b, hdr, data_len, prefix);
    write_seed("safetensors", name, buf_bytes(&b));
    b_free(&b);
}

/* Writes the header {["__metadata__":meta,]entries...} (compact) as OUT/safetensors/name; data_len
 * AUTO means the largest end offset. meta may be NULL (no metadata key). */
static void st_seed_t(const char *name, const char *meta, const tensor *t, size_t n,
                      uint64_t data_len)
{
    buf h = {0};
    uint64_t max_end = 0;
    b_byte(&h, '{');
    if (meta) {
        b_str(&h, "\"__metadata__\":");
        b_str(&h, meta);
    }
    for (size_t i = 0; i < n; i++) {
        if (meta || i)
            b_byte(&h, ',');
        b_fmt(&h, "\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}", t[i].name,
              t[i].dtype, t[i].shape, (unsigned long long)t[i].begin, (unsigned long long)t[i].end);
        max_end = t[i].end > max_end ? t[i].end : max_end;
    }
    b_byte(&h, '}');
    st_seed(name, buf_bytes(&h), data_len == AUTO ? max_end : data_len, NULL);
    b_free(&h);
}

static void st_valid_seeds(void)
{
    static const tensor one_f32[] = {{"w", "F32", "[2,2]", 0, 16}};
    static const tensor meta_first[] = {{"a", "BF16", "[3]", 0, 6}, {"b", "I64", "[1]", 6, 14}};
    static const tensor out_of_order[] = {{"b", "U8", "[2]", 2, 4}, {"a", "U8", "[2]", 0, 2}};
    static const tensor scalar_zero[] = {{"s", "F32", "[]", 0, 4}, {"z", "F32", "[0,7]", 4, 4}};
    static const tensor subbyte[] = {{"f4", "F4", "[3,2]", 0, 3}, {"f6", "F6_E2M3", "[4]", 3, 6},
                                     {"e8", "F8_E8M0", "[2]", 6, 8}};
    static const tensor unicode[] = {{"\\u00e9\\u4e2d\\ud83d\\ude00", "U8", "[1]", 0, 1}};
    static const char *const byte_dtypes[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3"};
    tensor bd[COUNT(byte_dtypes)];
    for (size_t i = 0; i < COUNT(byte_dtypes); i++)
        bd[i] = (tensor){byte_dtypes[i], byte_dtypes[i], "[8]", 8 * i, 8 * i + 8};

    st_seed_t("valid_one_f32", NULL, one_f32, COUNT(one_f32), AUTO);
    st_seed_t("valid_metadata_first", "{\"format\":\"pt\"}", meta_first, COUNT(meta_first), AUTO);
    st_seed_t("valid_out_of_order", NULL, out_of_order, COUNT(out_of_order), AUTO);
    st_seed_t("valid_scalar_and_zero", NULL, scalar_zero, COUNT(scalar_zero), AUTO);
    st_seed_t("valid_subbyte", NULL, subbyte, COUNT(subbyte), AUTO);
    st_seed_t("valid_byte_dtypes", NULL, bd, COUNT(bd), AUTO);
    st_seed_t("valid_empty", NULL, NULL, 0, AUTO);
    st_seed_t("valid_metadata_null", "null", NULL, 0, AUTO);
    st_seed("valid_whitespace_padded",
            LIT("  \n{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   \t "), 4, NULL);
    st_seed_t("valid_unicode_name", NULL, unicode, COUNT(unicode), AUTO);
    st_seed("valid_escaped_name",
            LIT("{\"a\\nb\\u0041\\\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}"), 1, NULL);
}

/* A corruption class spelled as raw header bytes. */
typedef struct raw_seed {
    const char *name;
    bytes hdr;
    uint64_t data_len;
} raw_seed;

/* "w" with dtype U8, the given shape and offsets (compact JSON fragments). */
#define W_U8(shape, offs) \
    SPAN("{\"w\":{\"dtype\":\"U8\",\"shape\":" shape ",\"data_offsets\":" offs "}}")
#define W_F32(body) SPAN("{\"w\":{" body "}}")

static const raw_seed st_raw_bad[] = {
    /* JSON / UTF-8 */
    {"n_bad_utf8", SPAN("{\"a\xff\":{}}"), 0},
    {"n_overlong_utf8", SPAN("{\"\xc0\xaf\":1}"), 0},
    {"n_surrogate_utf8", SPAN("{\"\xed\xa0\x80\":1}"), 0},
    {"n_not_json", SPAN("{\"a\":}"), 0},
    {"n_trailing_garbage", SPAN("{} x"), 0},
    {"n_nul_in_header", SPAN("{\"a\0\":1}"), 0},
    {"n_empty_header", SPAN(""), 0},
    {"n_root_not_object", SPAN("[]"), 0},
    /* entries */
    {"n_entry_not_object", SPAN("{\"w\":5}"), 0},
    {"n_missing_dtype", W_F32("\"shape\":[1],\"data_offsets\":[0,4]"), 4},
    {"n_missing_shape", W_F32("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4},
    {"n_missing_offsets", W_F32("\"dtype\":\"F32\",\"shape\":[1]"), 4},
    {"n_one_offset", W_F32("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), 4},
    {"n_shape_negative", W_U8("[-1]", "[0,0]"), 0},
    {"n_shape_float", W_U8("[1.5]", "[0,1]"), 1},
    {"n_shape_above_2_53", W_U8("[9007199254740994]", "[0,1]"), 1},
    {"n_shape_string", W_U8("[\"2\"]", "[0,2]"), 2},
    {"n_shape_1e300", W_U8("[1e300]", "[0,1]"), 1},
    {"n_shape_overflow", W_U8("[4294967296,4294967296]", "[0,0]"), 0},
    {"n_bytes_overflow",
     SPAN("{\"w\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,4096],\"data_offsets\":[0,0]}}"), 0},
    {"n_offsets_reversed", W_U8("[0]", "[4,0]"), 4},
    {"n_offsets_negative", W_U8("[1]", "[0,-1]"), 1},
    {"n_dup_name",
     SPAN("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
          "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}"),
     4},
    {"n_dup_name_via_nul_escape",
     SPAN("{\"a\\u0000x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
          "\"a\\u0000y\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}"),
     4},
    {"n_metadata_not_string", SPAN("{\"__metadata__\":{\"n\":1}}"), 0},
    {"n_metadata_array", SPAN("{\"__metadata__\":[]}"), 0},
    {"n_control_char_name",
     SPAN("{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}"), 1},
};

/* A corruption class spelled as header entries. */
typedef struct entry_seed {
    const char *name;
    tensor t[2];
    size_t n;
    uint64_t data_len;
} entry_seed;

static const entry_seed st_entry_bad[] = {
    {"n_unknown_dtype", {{"w", "F128", "[1]", 0, 16}}, 1, AUTO},
    {"n_lowercase_dtype", {{"w", "bf16", "[1]", 0, 2}}, 1, AUTO},
    {"n_nbytes_mismatch", {{"w", "BF16", "[2,3]", 0, 10}}, 1, AUTO},
    {"n_misaligned_f4", {{"w", "F4", "[3]", 0, 2}}, 1, AUTO},
    {"n_misaligned_f6", {{"w", "F6_E3M2", "[3]", 0, 3}}, 1, AUTO},
    {"n_offset_gap", {{"a", "U8", "[2]", 0, 2}, {"b", "U8", "[2]", 3, 5}}, 2, AUTO},
    {"n_offset_overlap", {{"a", "U8", "[2]", 0, 2}, {"b", "U8", "[2]", 1, 3}}, 2, AUTO},
    {"n_offset_not_from_zero", {{"a", "U8", "[2]", 2, 4}}, 1, AUTO},
    {"n_incomplete_short", {{"a", "U8", "[2]", 0, 2}}, 1, 3},
    {"n_incomplete_long", {{"a", "U8", "[4]", 0, 4}}, 1, 2},
};

/* Length-prefix classes: header "{}" behind a wrong length. */
static const struct {
    const char *name;
    uint64_t prefix;
} st_prefix_bad[] = {
    {"n_header_too_large", 100000001},
    {"n_header_past_eof", 99999999},
    {"n_header_len_max_u64", UINT64_MAX},
};

static void st_bad_seeds(void)
{
    write_seed("safetensors", "n_header_too_small", LIT("\x05\0\0\0"));
    for (size_t i = 0; i < COUNT(st_prefix_bad); i++)
        st_seed(st_prefix_bad[i].name, LIT("{}"), 0, &st_prefix_bad[i].prefix);
    for (size_t i = 0; i < COUNT(st_raw_bad); i++)
        st_seed(st_raw_bad[i].name, st_raw_bad[i].hdr, st_raw_bad[i].data_len, NULL);
    for (size_t i = 0; i < COUNT(st_entry_bad); i++)
        st_seed_t(st_entry_bad[i].name, NULL, st_entry_bad[i].t, st_entry_bad[i].n,
                  st_entry_bad[i].data_len);
    buf deep = {0};
    b_fill(&deep, '[', 1100);
    b_fill(&deep, ']', 1100);
    st_seed("n_deep_nesting", buf_bytes(&deep), 0, NULL);
    b_free(&deep);
}

/* Returns the header span of the safetensors image f; dies when the prefix points past its end. */
static bytes st_header(const buf *f, const char *what)
{
    if (f->len < 8 || le64(f->p) > f->len - 8)
        die("%s: not a complete safetensors header", what);
    return (bytes){f->p + 8, (size_t)le64(f->p)};
}

/* Real files from testdata/: small ones whole, large ones cut after the header. */
static void st_testdata_seeds(void)
{
    static const char *const files[][2] = {
        {"tiny-llama/model.safetensors", "testdata_tiny-llama_model"},
        {"tiny-gpt2/model-00001-of-00002.safetensors", "testdata_tiny-gpt2_model-00001-of-00002"},
        {"tiny-gpt2/model-00002-of-00002.safetensors", "testdata_tiny-gpt2_model-00002-of-00002"},
        {"tiny-llama-lora/adapter_model.safetensors", "testdata_tiny-llama-lora_adapter_model"},
    };
    for (size_t i = 0; i < COUNT(files); i++) {
        char *rel = path_join("testdata", files[i][0]);
        buf f = {0};
        read_root(&f, rel);
        bytes h = st_header(&f, rel);
        if (f.len <= WHOLE_FILE_MAX) {
            write_seed("safetensors", files[i][1], buf_bytes(&f));
        } else {
            buf name = {0};
            b_str(&name, files[i][1]);
            b_str(&name, "_header_only");
            b_byte(&name, 0);
            write_seed("safetensors", (const char *)name.p, (bytes){f.p, 8 + h.n});
            b_free(&name);
        }
        b_free(&f);
        free(rel);
    }
}

static void safetensors_seeds(void)
{
    st_valid_seeds();
    st_bad_seeds();
    st_testdata_seeds();
}

/* ---- index --------------------------------------------------------------------------------- */

#define WM                                                               \
    "{\"model.embed_tokens.weight\":\"model-00001-of-00002.safetensors\"," \
    "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}"

/* Seeds written with json.dumps(v, indent=1) layout. */
static const char *const index_json[][2] = {
    {"valid_minimal", "{\"weight_map\":{}}"},
    {"valid_total", "{\"metadata\":{\"total_size\":123},\"weight_map\":" WM "}"},
    {"valid_null_metadata", "{\"metadata\":null,\"weight_map\":" WM "}"},
    {"valid_extra_keys",
     "{\"metadata\":{\"total_size\":0,\"format\":\"pt\"},\"weight_map\":" WM ",\"x\":[1]}"},
    {"n_not_object", "[1,2]"},
    {"n_no_weight_map", "{\"metadata\":{}}"},
    {"n_weight_map_array", "{\"weight_map\":[\"a\"]}"},
    {"n_value_not_string", "{\"weight_map\":{\"a\":1}}"},
    {"n_unsafe_parent", "{\"weight_map\":{\"a\":\"../x.safetensors\"}}"},
    {"n_unsafe_absolute", "{\"weight_map\":{\"a\":\"/etc/passwd\"}}"},
    {"n_unsafe_subdir", "{\"weight_map\":{\"a\":\"sub/x.safetensors\"}}"},
    {"n_unsafe_backslash", "{\"weight_map\":{\"a\":\"..\\\\x.safetensors\"}}"},
    {"n_unsafe_empty", "{\"weight_map\":{\"a\":\"\"}}"},
    {"n_unsafe_dot", "{\"weight_map\":{\"a\":\".\"}}"},
    {"n_metadata_not_object", "{\"metadata\":5,\"weight_map\":" WM "}"},
    {"n_total_negative", "{\"metadata\":{\"total_size\":-1},\"weight_map\":" WM "}"},
    {"n_total_float", "{\"metadata\":{\"total_size\":1.5},\"weight_map\":" WM "}"},
    {"n_total_string", "{\"metadata\":{\"total_size\":\"12\"},\"weight_map\":" WM "}"},
    {"n_total_huge", "{\"metadata\":{\"total_size\":1e+300},\"weight_map\":" WM "}"},
};

/* Seeds written byte for byte. */
static const char *const index_raw[][2] = {
    {"n_dup_tensor", "{\"weight_map\":{\"a\":\"x.safetensors\",\"a\":\"y.safetensors\"}}"},
    {"n_not_json", "{\"weight_map\":{\"a\":}"},
    {"n_empty", ""},
    {"n_nul_escape", "{\"weight_map\":{\"a\":\"x\\u0000/../y\"}}"},
};

static void index_seeds(void)
{
    copy_seed("index", "testdata_tiny_gpt2", "testdata/tiny-gpt2/model.safetensors.index.json");
    for (size_t i = 0; i < COUNT(index_json); i++)
        json_seed("index", index_json[i][0], index_json[i][1]);
    for (size_t i = 0; i < COUNT(index_raw); i++)
        write_seed("index", index_raw[i][0], str_bytes(index_raw[i][1]));
}

/* ---- adapter_config ------------------------------------------------------------------------ */

/* One object member: plain key (no escapes needed) and compact JSON value. */
typedef struct kv {
    const char *key, *value;
} kv;

static const kv ac_base[] = {
    {"peft_type", "\"LORA\""},
    {"task_type", "\"CAUSAL_LM\""},
    {"base_model_name_or_path", "\"m\""},
    {"r", "8"},
    {"lora_alpha", "16"},
    {"target_modules", "[\"q_proj\",\"v_proj\"]"},
    {"bias", "\"none\""},
    {"use_dora", "false"},
    {"use_rslora", "false"},
    {"fan_in_fan_out", "false"},
    {"modules_to_save", "null"},
};

/* The base config with up to three members replaced (same key) or appended (new key). */
typedef struct ac_seed {
    const char *name;
    kv over[3];
} ac_seed;

static const ac_seed ac_seeds[] = {
    {"valid_base", {{0}}},
    {"valid_regex_target", {{"target_modules", "\".*\\\\.(q|v)_proj\""}}},
    {"valid_all_linear", {{"target_modules", "\"all-linear\""}}},
    {"valid_patterns",
     {{"rank_pattern", "{\"q_proj\":4,\"layers\\\\.0\\\\..*\":2}"}, {"alpha_pattern", "{\"v_proj\":3.5}"}}},
    {"valid_exclude", {{"exclude_modules", "[\"lm_head\"]"}, {"modules_to_save", "[\"score\"]"}}},
    {"valid_exclude_regex", {{"exclude_modules", "\".*lm_head\""}}},
    {"valid_dora_bias", {{"use_dora", "true"}, {"bias", "\"lora_only\""}, {"fan_in_fan_out", "true"}}},
    {"n_r_zero", {{"r", "0"}}},
    {"n_r_negative", {{"r", "-1"}}},
    {"n_r_float", {{"r", "1.5"}}},
    {"n_r_huge", {{"r", "1e+300"}}},
    {"n_r_string", {{"r", "\"8\""}}},
    {"n_peft_type_ia3", {{"peft_type", "\"IA3\""}}},
    {"n_bias_bad", {{"bias", "\"some\""}}},
    {"n_layers_to_transform", {{"layers_to_transform", "[0,1]"}}},
    {"n_target_parameters", {{"target_parameters", "[\"experts.gate_up_proj\"]"}}},
    {"n_layer_replication", {{"layer_replication", "[[0,4]]"}}},
    {"n_target_comma", {{"target_modules", "[\"q,proj\"]"}}},
    {"n_target_not_string", {{"target_modules", "[1]"}}},
    {"n_rank_pattern_bad", {{"rank_pattern", "{\"q_proj\":-2}"}}},
    {"n_alpha_pattern_bad", {{"alpha_pattern", "{\"q_proj\":\"x\"}"}}},
};

static const char *const ac_raw[][2] = {
    {"n_dup_key", "{\"peft_type\":\"LORA\",\"r\":8,\"r\":16,\"target_modules\":[\"q_proj\"]}"},
    {"n_case_key", "{\"peft_type\":\"LORA\",\"R\":8,\"target_modules\":[\"q_proj\"]}"},
    {"n_not_object", "[1]"},
    {"n_not_json", "{\"r\":"},
    {"n_empty", ""},
};

/* Sets key to value in m[0..*n): replaces in place or appends; dies past MAX_KEYS. */
static void kv_set(kv *m, size_t *n, kv member)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(m[i].key, member.key) == 0) {
            m[i].value = member.value;
            return;
        }
    if (*n >= MAX_KEYS)
        die("too many adapter_config keys");
    m[(*n)++] = member;
}

/* Appends the compact JSON object of m[0..n) to o, NUL-terminated. */
static void kv_object(buf *o, const kv *m, size_t n)
{
    b_byte(o, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            b_byte(o, ',');
        b_byte(o, '"');
        b_str(o, m[i].key);
        b_str(o, "\":");
        b_str(o, m[i].value);
    }
    b_str(o, "}");
    b_byte(o, 0);
}

/* Writes the base config with s->over applied (skipping key "drop" when not NULL) as
 * OUT/adapter_config/s->name. */
static void ac_write(const ac_seed *s, const char *drop)
{
    kv m[MAX_KEYS];
    size_t n = 0;
    for (size_t i = 0; i < COUNT(ac_base); i++)
        if (!drop || strcmp(ac_base[i].key, drop) != 0)
            kv_set(m, &n, ac_base[i]);
    for (size_t i = 0; i < COUNT(s->over) && s->over[i].key; i++)
        kv_set(m, &n, s->over[i]);
    buf json = {0};
    kv_object(&json, m, n);
    json_seed("adapter_config", s->name, (const char *)json.p);
    b_free(&json);
}

static void adapter_config_seeds(void)
{
    copy_seed("adapter_config", "testdata_tiny_llama_lora", "testdata/tiny-llama-lora/adapter_config.json");
    for (size_t i = 0; i < COUNT(ac_seeds); i++)
        ac_write(&ac_seeds[i], NULL);
    ac_write(&(ac_seed){"n_r_missing", {{0}}}, "r");
    for (size_t i = 0; i < COUNT(ac_raw); i++)
        write_seed("adapter_config", ac_raw[i][0], str_bytes(ac_raw[i][1]));
}

/* ---- snapshot ------------------------------------------------------------------------------ *
 *
 * Every image is the library's own encoding (vf_snapshot_encode); hostile classes are that image
 * with one field changed. Payload seeds are the uncompressed payload of such an image: fuzz_snapshot
 * recomputes their fingerprints and wraps them in a valid outer header. */

#define SNAP_OUTER 48u /* magic 8, version 4, flags 4, payload length 8, compressed length 8, fp 16 */

/* The image vf_snapshot_encode makes of origin, shards s and auxiliary files a, into img. */
static void snap_encode(buf *img, const char *origin, const vf_snapshot_file *s, size_t ns,
                        const vf_snapshot_file *a, size_t na)
{
    uint8_t *out = NULL;
    size_t n = 0;
    vf_error e = {0};
    if (vf_snapshot_encode(origin, s, ns, a, na, &out, &n, &e) != VF_OK)
        die("snapshot: %s", e.message);
    b_free(img);
    b_put(img, out, n);
    free(out);
}

/* The payload of image img (its gzip stream inflated to the declared length), into o. */
static void snap_payload_of(buf *o, const buf *img)
{
    if (img->len < SNAP_OUTER || le64(img->p + 16) > SIZE_MAX / 2 || img->len - SNAP_OUTER > UINT_MAX)
        die("snapshot image too short or too large");
    size_t plen = (size_t)le64(img->p + 16);
    b_free(o);
    b_reserve(o, plen + 1);
    z_stream z = {0};
    if (inflateInit2(&z, 31) != Z_OK)
        die("inflateInit2 failed");
    z.next_in = img->p + SNAP_OUTER;
    z.avail_in = (uInt)(img->len - SNAP_OUTER);
    z.next_out = o->p;
    z.avail_out = (uInt)(plen + 1);
    if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out != plen)
        die("snapshot payload does not inflate to its declared length");
    o->len = plen;
    inflateEnd(&z);
}

/* Stores the n-byte little-endian v at offset `at` of b. */
static void put_le(buf *b, size_t at, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b->p[at + i] = (unsigned char)(v >> (8 * i));
}

/* Replaces every byte `from` of b by `to` (spells what vf_snapshot_encode's C strings cannot). */
static void patch_byte(buf *b, unsigned char from, unsigned char to)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->p[i] == from)
            b->p[i] = to;
}

/* Writes OUT/snapshot/name: data without its last `cut` bytes. */
static void snap_write(const char *name, const buf *data, size_t cut)
{
    if (cut > data->len)
        die("%s: cut past the start", name);
    write_seed("snapshot", name, (bytes){data->p, data->len - cut});
}

/* Writes the payload of the snapshot of (origin, s, a) as OUT/snapshot/name. */
static void payload_seed(const char *name, const char *origin, const vf_snapshot_file *s, size_t ns,
                         const vf_snapshot_file *a, size_t na)
{
    buf img = {0}, p = {0};
    snap_encode(&img, origin, s, ns, a, na);
    snap_payload_of(&p, &img);
    snap_write(name, &p, 0);
    b_free(&p);
    b_free(&img);
}

/* Loads testdata/rel into f and returns its shard record (basename, file size, header). */
static vf_snapshot_file real_shard(buf *f, const char *rel)
{
    char *path = path_join("testdata", rel);
    read_root(f, path);
    const char *base = strrchr(rel, '/');
    bytes h = st_header(f, path);
    free(path);
    return (vf_snapshot_file){base ? base + 1 : rel, f->len, h.p, h.n};
}

static vf_snapshot_file aux_file(const char *name, const buf *b)
{
    return (vf_snapshot_file){name, 0, b->p, b->len};
}

#define TINY "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}"
#define ONE_AS(nm) ((vf_snapshot_file){nm, 8 + sizeof(TINY) - 1 + 2, (const uint8_t *)TINY, sizeof(TINY) - 1})
#define AUX(nm, text) ((vf_snapshot_file){nm, 0, (const uint8_t *)(text), sizeof(text) - 1})

/* Payloads built from the real testdata checkpoints. */
static void snap_real_seeds(void)
{
    buf llama = {0}, g1 = {0}, g2 = {0}, lcfg = {0}, gcfg = {0}, gidx = {0};
    vf_snapshot_file ls = real_shard(&llama, "tiny-llama/model.safetensors");
    vf_snapshot_file gs[2] = {real_shard(&g1, "tiny-gpt2/model-00001-of-00002.safetensors"),
                              real_shard(&g2, "tiny-gpt2/model-00002-of-00002.safetensors")};
    read_root(&lcfg, "testdata/tiny-llama/config.json");
    read_root(&gcfg, "testdata/tiny-gpt2/config.json");
    read_root(&gidx, "testdata/tiny-gpt2/model.safetensors.index.json");
    vf_snapshot_file la[] = {aux_file("config.json", &lcfg)};
    vf_snapshot_file ga[] = {aux_file("model.safetensors.index.json", &gidx), aux_file("config.json", &gcfg)};
    payload_seed("payload_tiny_llama", "/models/tiny-llama", &ls, 1, la, COUNT(la));
    payload_seed("payload_tiny_gpt2_indexed", "testdata/tiny-gpt2", gs, 2, ga, COUNT(ga));
    buf *owned[] = {&llama, &g1, &g2, &lcfg, &gcfg, &gidx};
    for (size_t i = 0; i < COUNT(owned); i++)
        b_free(owned[i]);
}

/* Payload corruption classes around one tiny shard. */
static void snap_payload_seeds(void)
{
    const vf_snapshot_file one[] = {ONE_AS("model.safetensors")};
    const vf_snapshot_file two[] = {one[0], one[0]};
    const vf_snapshot_file cfg = AUX("config.json", "{}");
    const vf_snapshot_file all[] = {cfg, AUX("generation_config.json", "{}"), AUX("adapter_config.json", "{}")};
    const vf_snapshot_file many[] = {cfg, cfg, cfg, cfg, cfg};
    payload_seed("payload_one_tiny", "d", one, 1, NULL, 0);
    payload_seed("payload_all_aux", "d", one, 1, all, COUNT(all));
    payload_seed("n_payload_no_shard", "d", NULL, 0, NULL, 0);
    payload_seed("n_payload_empty_origin", "", one, 1, NULL, 0);
    payload_seed("n_payload_control_origin", "a\nb", one, 1, NULL, 0);
    payload_seed("n_payload_slash_name", "d", &ONE_AS("sub/x.safetensors"), 1, NULL, 0);
    payload_seed("n_payload_dotdot_name", "d", &ONE_AS(".."), 1, NULL, 0);
    payload_seed("n_payload_dup_shard", "d", two, 2, NULL, 0);
    payload_seed("n_payload_dup_aux", "d", one, 1, many, 2);
    payload_seed("n_payload_unknown_aux", "d", one, 1, &AUX("secrets.txt", "x"), 1);
    payload_seed("n_payload_too_many_aux", "d", one, 1, many, COUNT(many));
    payload_seed("n_payload_bad_header", "d",
                 &(vf_snapshot_file){"model.safetensors", 10, (const uint8_t *)"{\"a\":}", 6}, 1, NULL, 0);
    payload_seed("n_payload_size_mismatch", "d", &(vf_snapshot_file){"model.safetensors", 9999,
                 (const uint8_t *)TINY, sizeof(TINY) - 1}, 1, NULL, 0);
    payload_seed("n_payload_index_mismatch", "d", one, 1,
                 &AUX("model.safetensors.index.json", "{\"weight_map\":{\"w\":\"other.safetensors\"}}"), 1);
    const vf_snapshot_file across[] = {one[0], ONE_AS("b.safetensors")};
    payload_seed("n_payload_dup_tensor_across", "d", across, 2, NULL, 0);
    buf img = {0}, p = {0};
    snap_encode(&img, "d", &ONE_AS("a\x7f" "b"), 1, NULL, 0); /* U+007F marks where the NUL goes */
    snap_payload_of(&p, &img);
    patch_byte(&p, 0x7f, 0);
    snap_write("n_payload_nul_name", &p, 0);
    snap_encode(&img, "d", one, 1, NULL, 0);
    snap_payload_of(&p, &img);
    snap_write("n_payload_truncated", &p, 7);
    b_str(&p, "xx");
    snap_write("n_payload_trailing", &p, 0);
    b_free(&p);
    b_free(&img);
}

/* Writes img with field (offset at, n bytes) set to v and a zero (wrong) fingerprint, minus its
 * last `cut` bytes, as OUT/snapshot/name: each exercises an outer check before the fingerprint. */
static void outer_seed(const char *name, const buf *img, size_t at, uint64_t v, unsigned n, size_t cut)
{
    buf b = {0};
    b_bytes(&b, buf_bytes(img));
    if (b.len < 48)
        die("snapshot image of %zu bytes has no fingerprint", b.len);
    if (n)
        put_le(&b, at, v, n);
    memset(b.p + 32, 0, 16);
    snap_write(name, &b, cut);
    b_free(&b);
}

/* Outer-header corruption classes around the image of payload_one_tiny. */
static void snap_outer_seeds(void)
{
    buf img = {0};
    snap_encode(&img, "d", &ONE_AS("model.safetensors"), 1, NULL, 0);
    uint64_t plen = le64(img.p + 16);
    outer_seed("n_outer_fingerprint_mismatch", &img, 0, 0, 0, 0);
    outer_seed("n_outer_truncated_gzip", &img, 0, 0, 0, 9);
    outer_seed("n_outer_short", &img, 0, 0, 0, img.len - 20);
    if (img.len < 68)
        die("outer image shorter than 68 bytes");
    buf bad = {0};
    b_bytes(&bad, buf_bytes(&img));
    memset(bad.p + 60, 0xff, 8);
    outer_seed("n_outer_corrupt_gzip", &bad, 0, 0, 0, 0);
    b_free(&bad);
    outer_seed("n_outer_version_2", &img, 8, 2, 4, 0);
    outer_seed("n_outer_flags", &img, 12, 1, 4, 0);
    outer_seed("n_outer_payload_huge", &img, 16, UINT64_C(1) << 40, 8, 0);
    outer_seed("n_outer_clen_past_eof", &img, 24, 1000000, 8, 0);
    outer_seed("n_outer_payload_short", &img, 16, plen - 1, 8, 0);
    outer_seed("n_outer_payload_long", &img, 16, plen + 100, 8, 0);
    b_bytes(&img, LIT("\0\0\0"));
    outer_seed("n_outer_trailing", &img, 0, 0, 0, 0);
    /* a config.json of 200,000 zero bytes (it compresses to a few hundred) claiming 1,000 */
    buf zeros = {0};
    b_fill(&zeros, 0, 200000);
    vf_snapshot_file z = aux_file("config.json", &zeros);
    snap_encode(&img, "d", &ONE_AS("model.safetensors"), 1, &z, 1);
    outer_seed("n_outer_gzip_bomb_claim", &img, 16, 1000, 8, 0);
    b_free(&zeros);
    b_free(&img);
}

static void snapshot_seeds(void)
{
    snap_real_seeds();
    snap_payload_seeds();
    snap_outer_seeds();
}

/* ---- command line -------------------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*run)(void);
} kinds[] = {
    {"safetensors", safetensors_seeds},
    {"index", index_seeds},
    {"snapshot", snapshot_seeds},
    {"adapter_config", adapter_config_seeds},
};

/* Returns the index of kind name in kinds[], or -1. */
static int find_kind(const char *name)
{
    for (size_t i = 0; i < COUNT(kinds); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Prints the usage on f (after "why arg" when why is not NULL) and returns 2. */
static int usage(FILE *f, const char *why, const char *arg)
{
    if (why)
        fprintf(f, "vf_mkcorpus: %s%s\n", why, arg ? arg : "");
    fputs("usage: vf_mkcorpus [--root DIR] [--out DIR] [safetensors|index|snapshot|adapter_config...]\n",
          f);
    return 2;
}

int main(int argc, char **argv)
{
    bool chosen[COUNT(kinds)] = {false};
    bool any = false;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return usage(stdout, NULL, NULL), 0;
        bool is_root = strcmp(a, "--root") == 0;
        if (is_root || strcmp(a, "--out") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return usage(stderr, "missing directory after ", a);
            *(is_root ? &g_root : &out) = argv[++i];
            continue;
        }
        int k = find_kind(a);
        if (k < 0)
            return usage(stderr, "unknown corpus kind: ", a);
        chosen[k] = any = true;
    }
    char *dflt = out ? NULL : path_join(g_root, "tests/fuzz/corpus");
    g_out = out ? out : dflt;
    for (size_t k = 0; k < COUNT(kinds); k++)
        if (!any || chosen[k])
            kinds[k].run();
    free(dflt);
    return 0;
}
