/* test_parser.c - every safetensors header rule, accepted and rejected, with its exact error class;
 * the reference implementation's test vectors and the genuine public files in testdata/public. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vf_test_support.h"
#include "vramfit/vf_parser.h"

/* Parses header text followed by data_len zero bytes; returns the status. */
static int parse_text(const char *header, uint64_t data_len, vf_st_header **out, vf_error *err)
{
    size_t len;
    uint8_t *img = vft_st_image(header, data_len, &len);
    int rc = vf_st_parse_buffer(img, len, "t.safetensors", out, err);
    free(img);
    return rc;
}

static void expect_reject(const char *header, uint64_t data_len, int code, const char *needle)
{
    vf_st_header *h = (vf_st_header *)0x1;
    vf_error err = {0};
    int rc = parse_text(header, data_len, &h, &err);
    cr_expect_eq(rc, code, "header %s: got %s (%s), want %s", header, vf_status_name(rc), err.message,
                 vf_status_name(code));
    cr_expect_null(h, "no header object on failure");
    cr_expect_eq(err.code, code);
    cr_expect_str_eq(err.file, "t.safetensors");
    if (needle)
        cr_expect(strstr(err.message, needle) || strstr(err.tensor, needle), "message '%s' / tensor '%s' lacks '%s'",
                  err.message, err.tensor, needle);
}

static vf_st_header *expect_accept(const char *header, uint64_t data_len)
{
    vf_st_header *h = NULL;
    vf_error err = {0};
    int rc = parse_text(header, data_len, &h, &err);
    cr_assert_eq(rc, VF_OK, "header %s rejected: %s %s", header, vf_status_name(rc), err.message);
    return h;
}

/* ---- prefix ------------------------------------------------------------------------------------ */

Test(prefix, rejects_file_shorter_than_8_bytes)
{
    vf_st_header *h;
    vf_error err = {0};
    uint8_t b[7] = {0};
    cr_expect_eq(vf_st_parse_buffer(b, sizeof b, "t", &h, &err), VF_ERR_HEADER_TOO_SMALL);
}

Test(prefix, rejects_length_above_cap_before_allocating)
{
    uint8_t b[16] = {0};
    uint64_t n = VF_ST_MAX_HEADER + 1ull;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(n >> (8 * i));
    uint64_t got;
    vf_error err = {0};
    cr_expect_eq(vf_st_check_prefix(b, 8, UINT64_MAX, "t", &got, &err), VF_ERR_HEADER_TOO_LARGE);
}

Test(prefix, accepts_length_exactly_at_cap_when_file_holds_it)
{
    uint8_t b[8] = {0};
    uint64_t n = VF_ST_MAX_HEADER;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(n >> (8 * i));
    uint64_t got = 0;
    cr_expect_eq(vf_st_check_prefix(b, 8, n + 8, "t", &got, NULL), VF_OK);
    cr_expect_eq(got, n);
}

Test(prefix, rejects_length_past_end_of_file)
{
    uint8_t b[8] = {200, 0, 0, 0, 0, 0, 0, 0};
    uint64_t got;
    vf_error err = {0};
    cr_expect_eq(vf_st_check_prefix(b, 8, 100, "t", &got, &err), VF_ERR_HEADER_LENGTH);
    /* the 8 bytes are not echoed (in a file that is not safetensors they are its content) */
    cr_expect(!strstr(err.message, "200"), "%s", err.message);
    cr_expect(strstr(err.message, "not a safetensors file") && strstr(err.message, "100-byte"), "%s",
              err.message);
}

Test(prefix, reads_length_little_endian)
{
    uint8_t b[8] = {0x02, 0x01, 0, 0, 0, 0, 0, 0}; /* 258 */
    uint64_t got = 0;
    cr_expect_eq(vf_st_check_prefix(b, 8, 8 + 258, "t", &got, NULL), VF_OK);
    cr_expect_eq(got, 258);
}

/* ---- JSON and UTF-8 ---------------------------------------------------------------------------- */

Test(json, rejects_invalid_utf8)
{
    expect_reject("{\"a\xff\":{}}", 0, VF_ERR_UTF8, "UTF-8");
    expect_reject("{\"\xc0\xaf\":1}", 0, VF_ERR_UTF8, NULL);        /* overlong '/' */
    expect_reject("{\"\xed\xa0\x80\":1}", 0, VF_ERR_UTF8, NULL);    /* surrogate */
}

/* The scanner checks UTF-8 inside strings as it goes; the errors stay those of a check of the whole
 * header before parsing: invalid UTF-8 anywhere wins over any other error, then a NUL byte. */
Test(json, utf8_errors_keep_their_precedence)
{
    expect_reject("{\"a\":} \xff", 0, VF_ERR_UTF8, "byte 7 of 8");   /* after a syntax error */
    expect_reject("{\"a\":{\"dtype\":\"Q9\",\"shape\":[],\"data_offsets\":[0,0]},\"\xe2\x82\":1}", 0,
                  VF_ERR_UTF8, NULL);                               /* truncated, after a bad dtype */
    expect_reject("{\"a\":{}}\xc3", 0, VF_ERR_UTF8, NULL);            /* in the trailing bytes */
    expect_reject("{\"\xf4\x90\x80\x80\":1}", 0, VF_ERR_UTF8, NULL); /* above U+10FFFF */
}

/* The fast path takes an entry with one of the last two dtypes' text as that dtype: only text equal
 * up to its closing quote. */
Test(json, the_last_dtype_is_reused_only_for_the_same_text)
{
    vf_st_header *h = expect_accept("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]},"
                                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[2,4]},"
                                    "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                                    "\"d\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[8,9]},"
                                    "\"e\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[9,10]}}", 10);
    static const vf_dtype want[] = {VF_DTYPE_BF16, VF_DTYPE_BF16, VF_DTYPE_F32, VF_DTYPE_F8_E4M3, VF_DTYPE_F8_E5M2};
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(vf_st_header_tensor(h, i)->dtype, want[i], "tensor %zu", i);
    vf_st_header_free(h);
    expect_reject("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]},"
                  "\"b\":{\"dtype\":\"BF16X\",\"shape\":[1],\"data_offsets\":[2,4]}}", 4, VF_ERR_DTYPE, "BF16X");
    expect_reject("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"b\":{\"dtype\":\"F8_E4M\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, VF_ERR_DTYPE, "F8_E4M");
}

/* Quantized checkpoints alternate a weight's dtype and its scales': both stay known, the older of
 * the two is the one a third dtype replaces, and a text longer than a known one is not taken. */
Test(json, two_alternating_dtypes_are_both_reused)
{
    vf_st_header *h = expect_accept("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]},"
                                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                                    "\"c\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[8,12]},"
                                    "\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                                    "\"e\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[16,18]},"
                                    "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18,22]},"
                                    "\"g\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[22,24]}}", 24);
    static const vf_dtype want[] = {VF_DTYPE_F8_E4M3, VF_DTYPE_F32, VF_DTYPE_F8_E4M3, VF_DTYPE_F32,
                                    VF_DTYPE_BF16, VF_DTYPE_F32, VF_DTYPE_F8_E4M3};
    for (size_t i = 0; i < 7; i++)
        cr_expect_eq(vf_st_header_tensor(h, i)->dtype, want[i], "tensor %zu", i);
    vf_st_header_free(h);
    expect_reject("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]},"
                  "\"c\":{\"dtype\":\"F8_E4M3X\",\"shape\":[1],\"data_offsets\":[5,6]}}", 6, VF_ERR_DTYPE,
                  "F8_E4M3X");
}

Test(json, multibyte_names_are_read_exactly)
{
    vf_st_header *h = expect_accept("{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80.w\":{\"dtype\":\"U8\","
                                    "\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    cr_expect_str_eq(vf_st_header_tensor(h, 0)->name, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80.w");
    vf_st_header_free(h);
}

Test(json, rejects_non_json_and_trailing_garbage)
{
    expect_reject("{\"a\":}", 0, VF_ERR_JSON, "JSON");
    expect_reject("{} x", 0, VF_ERR_JSON, "trailing");
    expect_reject("", 0, VF_ERR_JSON, NULL);
}

Test(json, rejects_non_object_root_and_entries)
{
    expect_reject("[]", 0, VF_ERR_HEADER, "object");
    expect_reject("{\"w\":5}", 0, VF_ERR_HEADER, "w");
    expect_reject("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VF_ERR_HEADER, "dtype");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, VF_ERR_HEADER, "shape");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, VF_ERR_HEADER, "data_offsets");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, VF_ERR_HEADER, NULL);
}

Test(json, accepts_whitespace_before_and_after_the_object)
{
    vf_st_header *h = expect_accept("  \n{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   \t ", 4);
    cr_expect_eq(vf_st_header_count(h), 1);
    vf_st_header_free(h);
}

Test(json, accepts_unpadded_odd_length_header_and_empty_header)
{
    vf_st_header *h = expect_accept("{\"w\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3);
    size_t raw_len;
    vf_st_header_raw(h, &raw_len);
    cr_expect_eq(raw_len % 2, 1, "odd header length kept verbatim");
    vf_st_header_free(h);
    h = expect_accept("{}", 0);
    cr_expect_eq(vf_st_header_count(h), 0);
    vf_st_header_free(h);
}

/* ---- per-entry rules, in order ----------------------------------------------------------------- */

Test(dtype, knows_every_current_dtype)
{
    const char *names[] = {"BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
                           "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"};
    unsigned bits[] = {8, 4, 6, 6, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        vf_dtype d;
        cr_assert(vf_dtype_from_name(names[i], strlen(names[i]), &d), "%s", names[i]);
        cr_expect_eq(vf_dtype_bits(d), bits[i], "%s", names[i]);
        cr_expect_str_eq(vf_dtype_name(d), names[i]);
    }
}

Test(dtype, rejects_unknown_dtype_naming_it)
{
    expect_reject("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, VF_ERR_DTYPE, "F128");
    expect_reject("{\"w\":{\"dtype\":\"bf16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, VF_ERR_DTYPE, "bf16");
}

Test(shape, rejects_negative_float_huge_and_non_number_dims)
{
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, VF_ERR_SHAPE, "shape");
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 1, VF_ERR_SHAPE, NULL);
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[9007199254740994],\"data_offsets\":[0,1]}}", 1,
                  VF_ERR_SHAPE, NULL);
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[\"2\"],\"data_offsets\":[0,2]}}", 2, VF_ERR_SHAPE, NULL);
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,1]}}", 1, VF_ERR_SHAPE, NULL);
}

Test(shape, accepts_scalar_and_zero_sized)
{
    vf_st_header *h = expect_accept("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                                    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[4,4]}}",
                                    4);
    cr_expect_eq(vf_st_header_count(h), 2);
    const vf_st_tensor *s = vf_st_header_tensor(h, vf_st_header_find(h, "s"));
    const vf_st_tensor *z = vf_st_header_tensor(h, vf_st_header_find(h, "z"));
    cr_expect_eq(s->ndim, 0);
    cr_expect_eq(s->numel, 1);
    cr_expect_eq(z->numel, 0);
    cr_expect_eq(z->nbytes, 0);
    vf_st_header_free(h);
}

Test(overflow, rejects_numel_overflow)
{
    /* 2^32 * 2^32 = 2^64 elements */
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
                  VF_ERR_OVERFLOW, "overflows");
}

Test(overflow, rejects_byte_size_overflow)
{
    /* 2^62 elements fit in 64 bits, x 8 bytes do not */
    expect_reject("{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0,
                  VF_ERR_SHAPE, NULL); /* > 2^53: the shape rule fires first */
    expect_reject("{\"w\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,4096],\"data_offsets\":[0,0]}}", 0,
                  VF_ERR_OVERFLOW, NULL);
}

Test(size, rejects_span_that_differs_from_shape_bytes)
{
    expect_reject("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,10]}}", 10, VF_ERR_TENSOR_INFO,
                  "needs 12");
}

Test(size, handles_sub_byte_dtypes)
{
    vf_st_header *h = expect_accept("{\"w\":{\"dtype\":\"F4\",\"shape\":[3,2],\"data_offsets\":[0,3]}}", 3);
    cr_expect_eq(vf_st_header_tensor(h, 0)->nbytes, 3);
    vf_st_header_free(h);
    h = expect_accept("{\"w\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3);
    vf_st_header_free(h);
    expect_reject("{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, VF_ERR_MISALIGNED, "bits");
    expect_reject("{\"w\":{\"dtype\":\"F6_E3M2\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3, VF_ERR_MISALIGNED, NULL);
}

Test(offsets, rejects_reversed_and_non_integer_offsets)
{
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, VF_ERR_OFFSETS, "end before");
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,-1]}}", 1, VF_ERR_OFFSETS, NULL);
}

Test(offsets, rejects_gap_and_overlap)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
                  5, VF_ERR_OFFSETS, "gap");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}",
                  3, VF_ERR_OFFSETS, "overlap");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, VF_ERR_OFFSETS, "gap");
}

Test(offsets, accepts_entries_listed_out_of_offset_order)
{
    vf_st_header *h = expect_accept("{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                                    "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                                    4);
    cr_expect_str_eq(vf_st_header_tensor(h, 0)->name, "a", "tensors come back in offset order");
    vf_st_header_free(h);
}

Test(coverage, rejects_data_region_not_covered_exactly)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 3, VF_ERR_INCOMPLETE, "3 bytes");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 2, VF_ERR_INCOMPLETE, NULL);
}

Test(names, rejects_duplicate_tensor_names)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                  "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}",
                  4, VF_ERR_DUPLICATE, "a");
}

Test(metadata, accepts_string_map_and_null_rejects_others)
{
    vf_st_header *h = expect_accept("{\"__metadata__\":{\"format\":\"pt\",\"x\":\"y\"}}", 0);
    cr_expect_eq(vf_st_header_meta_count(h), 2);
    cr_expect_str_eq(vf_st_header_meta(h, 0)->key, "format");
    cr_expect_str_eq(vf_st_header_meta(h, 0)->value, "pt");
    vf_st_header_free(h);
    h = expect_accept("{\"__metadata__\":null}", 0);
    vf_st_header_free(h);
    expect_reject("{\"__metadata__\":{\"n\":1}}", 0, VF_ERR_METADATA, "n");
    expect_reject("{\"__metadata__\":[]}", 0, VF_ERR_METADATA, NULL);
}

Test(names, finds_tensors_by_name)
{
    vf_st_header *h = expect_accept("{\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                    "\"m\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                                    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}",
                                    3);
    cr_expect_str_eq(vf_st_header_tensor(h, vf_st_header_find(h, "m"))->name, "m");
    cr_expect_eq(vf_st_header_find(h, "q"), -1);
    vf_st_header_free(h);
}

Test(errors, message_is_one_line_even_with_control_characters_in_names)
{
    vf_st_header *h;
    vf_error err = {0};
    cr_assert_neq(parse_text("{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &h, &err), VF_OK);
    char line[2048];
    vf_error_format(&err, line, sizeof line);
    cr_expect_null(strchr(line, '\n'), "%s", line);
    cr_expect(strstr(line, "t.safetensors: tensor 'a?b': unknown dtype"), "%s", line);
}

/* ---- reference vectors and genuine files ------------------------------------------------------- */

typedef struct vector {
    const char *file;
    int expect; /* VF_OK or the error class */
} vector;

/* The reference's expected outcome per file (INDEX.md), mapped to vramfit's classes. The two
 * ValidationOverflow vectors carry a dimension above 2^53, which vramfit's shape rule rejects before
 * the overflow rule is reached. */
static const vector ref_vectors[] = {
    {"test_empty_shapes_allowed.bin", VF_OK},
    {"test_deserialization.bin", VF_OK},
    {"test_lifetimes.bin", VF_OK},
    {"test_metadata_incomplete_buffer.bin", VF_ERR_INCOMPLETE},
    {"test_metadata_incomplete_buffer_1.bin", VF_ERR_INCOMPLETE},
    {"test_header_too_large.bin", VF_ERR_HEADER_TOO_LARGE},
    {"test_header_too_small.bin", VF_ERR_HEADER_TOO_SMALL},
    {"test_invalid_header_length.bin", VF_ERR_HEADER_LENGTH},
    {"test_invalid_header_non_utf8.bin", VF_ERR_UTF8},
    {"test_invalid_header_not_json.bin", VF_ERR_JSON},
    {"test_whitespace_padded_header.bin", VF_OK},
    {"test_whitespace_leading_padded_header.bin", VF_OK},
    {"test_zero_sized_tensor.bin", VF_OK},
    {"test_invalid_info.bin", VF_ERR_TENSOR_INFO},
    {"test_validation_overflow.bin", VF_ERR_SHAPE},
    {"test_validation_overflow_1.bin", VF_ERR_SHAPE},
};

static int read_fixture(const char *rel, vf_st_header **h, vf_error *err)
{
    char *path = vft_path(VF_FIXTURES_DIR, rel);
    int rc = vf_st_read_file(path, rel, h, err);
    free(path);
    return rc;
}

Test(fixtures, reference_test_vectors_give_the_reference_outcome)
{
    for (size_t i = 0; i < sizeof ref_vectors / sizeof ref_vectors[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "safetensors-rs-test-vectors/%s", ref_vectors[i].file);
        vf_st_header *h = NULL;
        vf_error err = {0};
        int rc = read_fixture(rel, &h, &err);
        cr_expect_eq(rc, ref_vectors[i].expect, "%s: got %s (%s)", rel, vf_status_name(rc), err.message);
        vf_st_header_free(h);
    }
}

Test(fixtures, genuine_public_files_parse_with_expected_contents)
{
    const char *samples[] = {"B", "H", "I", "b", "d", "e", "f", "h", "i"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "huggingface-safetensors-samples/%s.safetensors", samples[i]);
        vf_st_header *h = NULL;
        vf_error err = {0};
        cr_assert_eq(read_fixture(rel, &h, &err), VF_OK, "%s: %s", rel, err.message);
        cr_expect_eq(vf_st_header_count(h), 1, "%s", rel);
        cr_expect_eq(vf_st_header_tensor(h, 0)->numel, 6, "%s", rel);
        cr_expect_str_eq(vf_st_header_meta(h, 0)->value, "a");
        vf_st_header_free(h);
    }
    vf_st_header *h = NULL;
    vf_error err = {0};
    cr_assert_eq(read_fixture("huggingface-safetensors-samples/overall.safetensors", &h, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_st_header_count(h), 9, "nine dtypes in one file");
    vf_st_header_free(h);
    cr_assert_eq(read_fixture("candle/mel_filters.safetensors", &h, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_st_header_tensor(h, 0)->numel, 80 * 201);
    vf_st_header_free(h);
    cr_assert_eq(read_fixture("candle/voices.safetensors", &h, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_st_header_count(h), 2);
    vf_st_header_free(h);
    cr_assert_eq(read_fixture("candle/jfk-codes.safetensors", &h, &err), VF_OK, "%s", err.message);
    cr_expect_eq(vf_st_header_tensor(h, 0)->numel, 2 * 828);
    vf_st_header_free(h);
}

/* ---- files ------------------------------------------------------------------------------------- */

Test(files, missing_file_and_dangling_symlink_are_not_found_and_symlink_loop_is_io)
{
    char *dir = vft_tempdir();
    char *missing = vft_path(dir, "nope.safetensors"), *dangling = vft_path(dir, "d.safetensors");
    char *loop_a = vft_path(dir, "a.safetensors"), *loop_b = vft_path(dir, "b.safetensors");
    cr_assert_eq(symlink(missing, dangling), 0);
    cr_assert_eq(symlink(loop_b, loop_a), 0);
    cr_assert_eq(symlink(loop_a, loop_b), 0);
    vf_st_header *h;
    vf_error err = {0};
    cr_expect_eq(vf_st_read_file(missing, NULL, &h, &err), VF_ERR_NOT_FOUND);
    cr_expect_eq(vf_st_read_file(dangling, NULL, &h, &err), VF_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "dangling"), "%s", err.message);
    cr_expect_eq(vf_st_read_file(loop_a, NULL, &h, &err), VF_ERR_IO);
    cr_expect(strstr(err.message, "loop"), "%s", err.message);
    cr_expect_eq(vf_st_read_file(dir, NULL, &h, &err), VF_ERR_IO, "a directory is not a regular file");
    vft_rmtree(dir);
    free(dir);
    free(missing);
    free(dangling);
    free(loop_a);
    free(loop_b);
}

Test(files, header_claiming_more_than_the_file_is_rejected_before_reading)
{
    char *dir = vft_tempdir();
    char *p = vft_path(dir, "x.safetensors");
    uint8_t b[12] = {0xff, 0xe0, 0xf5, 0x05, 0, 0, 0, 0, '{', '}', ' ', ' '}; /* 99,999,999 claimed */
    vft_write_file(p, b, sizeof b);
    vf_st_header *h;
    vf_error err = {0};
    cr_expect_eq(vf_st_read_file(p, "x.safetensors", &h, &err), VF_ERR_HEADER_LENGTH);
    vft_rmtree(dir);
    free(dir);
    free(p);
}

/* The names whose small data is read (counted per header while parsing, vf_st_data_name). */
Test(parser, tensor_data_wanted_names)
{
    cr_expect(vf_tensor_data_wanted("model.layers.0.mlp.down_proj.weight_shape"));
    cr_expect(vf_tensor_data_wanted(".weight_shape"));
    cr_expect_not(vf_tensor_data_wanted("weight_shape"));
    cr_expect_not(vf_tensor_data_wanted("a.weight_shapes"));
    cr_expect(vf_tensor_data_wanted("m.weight.quant_state.bitsandbytes__nf4"));
    cr_expect(vf_tensor_data_wanted(".quant_state.bitsandbytes__"));
    cr_expect_not(vf_tensor_data_wanted("quant_state.bitsandbytes__nf4"));
    cr_expect_not(vf_tensor_data_wanted("a.xquant_state.bitsandbytes__fp4"));
    cr_expect_not(vf_tensor_data_wanted("m.weight.quant_state.bitsandbytes_nf4"));
    cr_expect_not(vf_tensor_data_wanted("m.weight.absmax"));
    cr_expect_not(vf_tensor_data_wanted(""));
    cr_expect_not(vf_tensor_data_wanted(NULL));
}
