/* vf_mkcorpus.c - writes the fuzzing seed corpora tests/fuzz/corpus/KIND from the project's
 * testdata/ and the named corruption classes (libc + zlib). Deterministic: the same tree every run.
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
 * missing data. JSON seeds are spelled compact and re-emitted in the layout Python's json.dumps gives
 * (indent=N, or the one-line ", "/": " form), and snapshot images are gzipped as Python 3.11's
 * gzip.compress(data, 6, mtime=0) did, so the corpus stays byte-identical to the one the former
 * Python generator wrote (ctest fuzz_corpus_regen checks it). Exit status: 0 ok, 1 I/O error,
 * 2 usage. */
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

/* Appends the length v as an n-byte little-endian integer; dies when it does not fit. */
static void b_len(buf *b, uint64_t v, unsigned n)
{
    if (n < 8 && v >> (8 * n))
        die("length %llu does not fit %u bytes", (unsigned long long)v, n);
    b_le(b, v, n);
}

/* Appends len(s) as an n-byte little-endian length, then s. */
static void b_counted(buf *b, bytes s, unsigned n)
{
    b_len(b, s.n, n);
    b_bytes(b, s);
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

/* ---- JSON layout --------------------------------------------------------------------------- */

/* Returns the index just past the string literal opening at s[i] == '"'; dies if unterminated. */
static size_t json_string_end(const char *s, size_t i)
{
    for (i++; s[i] && s[i] != '"'; i++)
        if (s[i] == '\\' && s[i + 1])
            i++;
    if (s[i] != '"')
        die("unterminated JSON string in a seed");
    return i + 1;
}

/* Starts a new line at depth (indent >= 0) or does nothing (indent < 0). */
static void json_newline(buf *o, int indent, int depth)
{
    if (indent < 0)
        return;
    b_byte(o, '\n');
    b_fill(o, ' ', (size_t)indent * (size_t)(depth > 0 ? depth : 0));
}

/* Appends the compact JSON text s (no whitespace outside strings) laid out as Python's
 * json.dumps(v, indent=indent) does; indent < 0 gives json.dumps(v) (", " and ": ", one line).
 * Empty containers stay "{}" / "[]". */
static void json_layout(buf *o, const char *s, int indent)
{
    int depth = 0;
    for (size_t i = 0; s[i];) {
        char c = s[i];
        if (c == '"') {
            size_t j = json_string_end(s, i);
            b_put(o, s + i, j - i);
            i = j;
            continue;
        }
        if ((c == '{' && s[i + 1] == '}') || (c == '[' && s[i + 1] == ']')) {
            b_put(o, s + i, 2);
            i += 2;
            continue;
        }
        if (c == '}' || c == ']')
            json_newline(o, indent, --depth);
        if (c == ':')
            b_str(o, ": ");
        else if (c == ',' && indent < 0)
            b_str(o, ", ");
        else
            b_byte(o, (unsigned char)c);
        if (c == '{' || c == '[')
            json_newline(o, indent, ++depth);
        else if (c == ',')
            json_newline(o, indent, depth);
        i++;
    }
}

/* Writes the compact JSON text json, laid out with indent (see json_layout), as OUT/kind/name. */
static void json_seed(const char *kind, const char *name, const char *json, int indent)
{
    buf b = {0};
    json_layout(&b, json, indent);
    write_seed(kind, name, buf_bytes(&b));
    b_free(&b);
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
        json_seed("index", index_json[i][0], index_json[i][1], 1);
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
 * OUT/adapter_config/s->name, laid out with indent. */
static void ac_write(const ac_seed *s, const char *drop, int indent)
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
    json_seed("adapter_config", s->name, (const char *)json.p, indent);
    b_free(&json);
}

static void adapter_config_seeds(void)
{
    copy_seed("adapter_config", "testdata_tiny_llama_lora", "testdata/tiny-llama-lora/adapter_config.json");
    for (size_t i = 0; i < COUNT(ac_seeds); i++)
        ac_write(&ac_seeds[i], NULL, 2);
    ac_write(&(ac_seed){"n_r_missing", {{0}}}, "r", -1);
    for (size_t i = 0; i < COUNT(ac_raw); i++)
        write_seed("adapter_config", ac_raw[i][0], str_bytes(ac_raw[i][1]));
}

/* ---- snapshot ------------------------------------------------------------------------------ */

/* A shard record of a snapshot payload: file name, file size, safetensors header. */
typedef struct shard {
    bytes name;
    uint64_t size;
    bytes hdr;
} shard;

/* An auxiliary file record: name and content. */
typedef struct aux {
    bytes name, data;
} aux;

/* Appends an uncompressed snapshot payload (vf_snapshot.h) with zero fingerprints: fuzz_snapshot
 * recomputes them and wraps the payload in a valid outer header. */
static void snap_payload(buf *o, bytes origin, const shard *s, size_t ns, const aux *a, size_t na)
{
    b_counted(o, origin, 4);
    b_len(o, ns, 4);
    for (size_t i = 0; i < ns; i++) {
        b_counted(o, s[i].name, 2);
        b_le(o, s[i].size, 8);
        b_len(o, s[i].hdr.n, 4);
        b_fill(o, 0, 16);
        b_bytes(o, s[i].hdr);
    }
    b_len(o, na, 4);
    for (size_t i = 0; i < na; i++) {
        b_counted(o, a[i].name, 2);
        b_len(o, a[i].data.n, 4);
        b_fill(o, 0, 16);
        b_bytes(o, a[i].data);
    }
}

/* Appends gzip(data) as zlib writes it at level 6 (mtime 0, OS byte 3): what Python 3.11's
 * gzip.compress(data, 6, mtime=0) returned. */
static void gzip_append(buf *o, bytes data)
{
    if (data.n > UINT_MAX / 2)
        die("payload too large to gzip");
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2 failed");
    size_t bound = deflateBound(&z, (uLong)data.n);
    if (bound > UINT_MAX)
        die("payload too large to gzip");
    b_reserve(o, bound);
    z.next_in = (Bytef *)(uintptr_t)data.p;
    z.avail_in = (uInt)data.n;
    z.next_out = o->p + o->len;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate did not finish");
    o->len += bound - z.avail_out;
    deflateEnd(&z);
}

/* Outer header fields of a .vfsnap image; plen/clen AUTO mean the true lengths. */
typedef struct outer {
    uint32_t version, flags;
    uint64_t plen, clen;
    bytes extra;
} outer;

static const outer OUTER_OK = {1, 0, AUTO, AUTO, SPAN("")};

/* Outer classes that differ from OUTER_OK in fixed fields. */
static const struct {
    const char *name;
    outer h;
} outer_fixed[] = {
    {"n_outer_version_2", {2, 0, AUTO, AUTO, SPAN("")}},
    {"n_outer_flags", {1, 1, AUTO, AUTO, SPAN("")}},
    {"n_outer_payload_huge", {1, 0, UINT64_C(1) << 40, AUTO, SPAN("")}},
    {"n_outer_clen_past_eof", {1, 0, AUTO, 1000000, SPAN("")}},
    {"n_outer_trailing", {1, 0, AUTO, AUTO, SPAN("\0\0\0")}},
};

/* Appends a whole .vfsnap image of payload with a zero (wrong) fingerprint: exercises the outer
 * checks. */
static void snap_outer(buf *o, bytes payload, const outer *h)
{
    buf z = {0};
    gzip_append(&z, payload);
    b_str(o, "\x89VFSNAP\n");
    b_le(o, h->version, 4);
    b_le(o, h->flags, 4);
    b_le(o, h->plen == AUTO ? payload.n : h->plen, 8);
    b_le(o, h->clen == AUTO ? z.len : h->clen, 8);
    b_fill(o, 0, 16);
    b_bytes(o, buf_bytes(&z));
    b_bytes(o, h->extra);
    b_free(&z);
}

/* Writes OUT/snapshot/name: data without its last `cut` bytes. */
static void snap_write(const char *name, const buf *data, size_t cut)
{
    if (cut > data->len)
        die("%s: cut past the start", name);
    write_seed("snapshot", name, (bytes){data->p, data->len - cut});
}

/* Writes snap_payload(origin, s, a) as OUT/snapshot/name. */
static void payload_seed(const char *name, bytes origin, const shard *s, size_t ns, const aux *a,
                         size_t na)
{
    buf b = {0};
    snap_payload(&b, origin, s, ns, a, na);
    snap_write(name, &b, 0);
    b_free(&b);
}

/* Writes snap_outer(payload, h) as OUT/snapshot/name, minus its last `cut` bytes. */
static void outer_seed(const char *name, bytes payload, const outer *h, size_t cut)
{
    buf b = {0};
    snap_outer(&b, payload, h);
    snap_write(name, &b, cut);
    b_free(&b);
}

/* Loads testdata/rel into f and returns its shard record (basename, file size, header). */
static shard real_shard(buf *f, const char *rel)
{
    char *path = path_join("testdata", rel);
    read_root(f, path);
    const char *base = strrchr(rel, '/');
    shard s = {str_bytes(base ? base + 1 : rel), f->len, st_header(f, path)};
    free(path);
    return s;
}

#define TINY "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}"
#define ONE_AS(nm) ((shard){nm, 8 + sizeof(TINY) - 1 + 2, LIT(TINY)})

/* Payloads built from the real testdata checkpoints. */
static void snap_real_seeds(void)
{
    buf llama = {0}, g1 = {0}, g2 = {0}, lcfg = {0}, gcfg = {0}, gidx = {0};
    shard ls = real_shard(&llama, "tiny-llama/model.safetensors");
    shard gs[2] = {real_shard(&g1, "tiny-gpt2/model-00001-of-00002.safetensors"),
                   real_shard(&g2, "tiny-gpt2/model-00002-of-00002.safetensors")};
    read_root(&lcfg, "testdata/tiny-llama/config.json");
    read_root(&gcfg, "testdata/tiny-gpt2/config.json");
    read_root(&gidx, "testdata/tiny-gpt2/model.safetensors.index.json");
    aux la[] = {{LIT("config.json"), buf_bytes(&lcfg)}};
    aux ga[] = {{LIT("model.safetensors.index.json"), buf_bytes(&gidx)},
                {LIT("config.json"), buf_bytes(&gcfg)}};
    payload_seed("payload_tiny_llama", LIT("/models/tiny-llama"), &ls, 1, la, COUNT(la));
    payload_seed("payload_tiny_gpt2_indexed", LIT("testdata/tiny-gpt2"), gs, 2, ga, COUNT(ga));
    buf *owned[] = {&llama, &g1, &g2, &lcfg, &gcfg, &gidx};
    for (size_t i = 0; i < COUNT(owned); i++)
        b_free(owned[i]);
}

/* Payload corruption classes around one tiny shard. */
static void snap_payload_seeds(void)
{
    const shard one[] = {ONE_AS(LIT("model.safetensors"))};
    const shard two[] = {one[0], one[0]};
    const aux cfg = {LIT("config.json"), LIT("{}")};
    const aux all[] = {cfg, {LIT("generation_config.json"), LIT("{}")},
                       {LIT("adapter_config.json"), LIT("{}")}};
    const aux many[] = {cfg, cfg, cfg, cfg, cfg};
    payload_seed("payload_one_tiny", LIT("d"), one, 1, NULL, 0);
    payload_seed("payload_all_aux", LIT("d"), one, 1, all, COUNT(all));
    payload_seed("n_payload_no_shard", LIT("d"), NULL, 0, NULL, 0);
    payload_seed("n_payload_empty_origin", LIT(""), one, 1, NULL, 0);
    payload_seed("n_payload_control_origin", LIT("a\nb"), one, 1, NULL, 0);
    payload_seed("n_payload_slash_name", LIT("d"), &ONE_AS(LIT("sub/x.safetensors")), 1, NULL, 0);
    payload_seed("n_payload_dotdot_name", LIT("d"), &ONE_AS(LIT("..")), 1, NULL, 0);
    payload_seed("n_payload_nul_name", LIT("d"), &ONE_AS(LIT("a\0b")), 1, NULL, 0);
    payload_seed("n_payload_dup_shard", LIT("d"), two, 2, NULL, 0);
    payload_seed("n_payload_dup_aux", LIT("d"), one, 1, many, 2);
    payload_seed("n_payload_unknown_aux", LIT("d"), one, 1, &(aux){LIT("secrets.txt"), LIT("x")}, 1);
    payload_seed("n_payload_too_many_aux", LIT("d"), one, 1, many, COUNT(many));
    payload_seed("n_payload_bad_header", LIT("d"),
                 &(shard){LIT("model.safetensors"), 10, LIT("{\"a\":}")}, 1, NULL, 0);
    payload_seed("n_payload_size_mismatch", LIT("d"),
                 &(shard){LIT("model.safetensors"), 9999, LIT(TINY)}, 1, NULL, 0);
    payload_seed("n_payload_index_mismatch", LIT("d"), one, 1,
                 &(aux){LIT("model.safetensors.index.json"),
                        LIT("{\"weight_map\":{\"w\":\"other.safetensors\"}}")},
                 1);
    const shard across[] = {one[0], ONE_AS(LIT("b.safetensors"))};
    payload_seed("n_payload_dup_tensor_across", LIT("d"), across, 2, NULL, 0);
    buf b = {0};
    snap_payload(&b, LIT("d"), one, 1, NULL, 0);
    snap_write("n_payload_truncated", &b, 7);
    b_str(&b, "xx");
    snap_write("n_payload_trailing", &b, 0);
    b_free(&b);
}

/* Outer-header corruption classes around payload_one_tiny. */
static void snap_outer_seeds(void)
{
    buf p = {0}, img = {0};
    snap_payload(&p, LIT("d"), (const shard[]){ONE_AS(LIT("model.safetensors"))}, 1, NULL, 0);
    bytes base = buf_bytes(&p);
    outer h = OUTER_OK;
    outer_seed("n_outer_fingerprint_mismatch", base, &h, 0);
    outer_seed("n_outer_truncated_gzip", base, &h, 9);
    snap_outer(&img, base, &h);
    snap_write("n_outer_short", &img, img.len < 20 ? 0 : img.len - 20);
    if (img.len < 68)
        die("outer image shorter than 68 bytes");
    memset(img.p + 60, 0xff, 8);
    snap_write("n_outer_corrupt_gzip", &img, 0);
    for (size_t i = 0; i < COUNT(outer_fixed); i++)
        outer_seed(outer_fixed[i].name, base, &outer_fixed[i].h, 0);
    h.plen = base.n - 1;
    outer_seed("n_outer_payload_short", base, &h, 0);
    h.plen = base.n + 100;
    outer_seed("n_outer_payload_long", base, &h, 0);
    buf zeros = {0};
    b_fill(&zeros, 0, 200000);
    h.plen = 1000;
    outer_seed("n_outer_gzip_bomb_claim", buf_bytes(&zeros), &h, 0);
    b_free(&zeros);
    b_free(&img);
    b_free(&p);
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
