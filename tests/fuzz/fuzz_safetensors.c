/* fuzz_safetensors.c - libFuzzer target for the safetensors header parser: the input is a whole file
 * image (8-byte little-endian length, JSON header, data region) given to vf_st_parse_buffer.
 * Accepted headers must satisfy what the parser promises: tensors in offset order tiling the data
 * region exactly, span == numel x dtype size, names unique and found by vf_st_header_find, the raw
 * header kept verbatim. Rejections must follow the error contract (vf_fuzz_check_error).
 *
 * Differential checks of the fast paths against the general code, on every input:
 *  - the header parser's fast path for the canonical entry (vf_st_parse_header) against the general
 *    parser alone (vf_st_parse_header_general): the same status, error and tables;
 *  - the name classification memo (tensors/vf_names.h) against vf_name_classify_in for every
 *    accepted tensor name, under every combination of layouts. */
#include <string.h>

#include "vf_format_internal.h"
#include "vf_fuzz.h"
#include "vf_names.h"
#include "vf_test_names.h"
#include "vramfit/vf_parser.h"
#include "vramfit/vf_tensors.h"

static void check_header(const vf_st_header *h, const uint8_t *data, size_t size)
{
    size_t raw_len = 0;
    const uint8_t *raw = vf_st_header_raw(h, &raw_len);
    uint64_t start = vf_st_header_data_start(h);
    VF_FUZZ_CHECK(start == VF_ST_PREFIX_BYTES + (uint64_t)raw_len && start <= size);
    VF_FUZZ_CHECK(memcmp(raw, data + VF_ST_PREFIX_BYTES, raw_len) == 0);
    VF_FUZZ_CHECK(vf_st_header_file_size(h) == size);
    uint64_t expect = 0;
    size_t n = vf_st_header_count(h);
    for (size_t i = 0; i < n; i++) {
        const vf_st_tensor *t = vf_st_header_tensor(h, i);
        VF_FUZZ_CHECK(t && t->name);
        VF_FUZZ_CHECK(t->begin == expect && t->end >= t->begin && t->nbytes == t->end - t->begin);
        VF_FUZZ_CHECK((int)t->dtype >= 0 && t->dtype < VF_DTYPE_COUNT);
        VF_FUZZ_CHECK((t->ndim == 0) == (t->shape == NULL));
        uint64_t numel = 1, bytes = 0;
        bool misaligned = false;
        for (uint32_t d = 0; d < t->ndim; d++)
            numel *= t->shape[d]; /* cannot wrap: the parser rejected overflow */
        VF_FUZZ_CHECK(numel == t->numel);
        VF_FUZZ_CHECK(vf_dtype_bytes(t->dtype, t->numel, &bytes, &misaligned) && bytes == t->nbytes);
        VF_FUZZ_CHECK(vf_st_header_find(h, t->name) == (long)i);
        expect = t->end;
    }
    VF_FUZZ_CHECK(expect == size - start);
    VF_FUZZ_CHECK(vf_st_header_tensor(h, n) == NULL);
    for (size_t i = 0; i < vf_st_header_meta_count(h); i++) {
        const vf_st_meta *m = vf_st_header_meta(h, i);
        VF_FUZZ_CHECK(m && m->key && m->value);
    }
}

static bool same_error(const vf_error *a, const vf_error *b)
{
    return a->code == b->code && strcmp(a->file, b->file) == 0 && strcmp(a->tensor, b->tensor) == 0 &&
           strcmp(a->message, b->message) == 0;
}

static bool same_tensor(const vf_st_tensor *a, const vf_st_tensor *b)
{
    if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype || a->ndim != b->ndim ||
        a->numel != b->numel || a->nbytes != b->nbytes || a->begin != b->begin || a->end != b->end)
        return false;
    for (uint32_t d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

/* The fast path and the general parser on the same header bytes. */
static void check_fast_path(const uint8_t *data, size_t size)
{
    uint64_t n = 0;
    if (size < VF_ST_PREFIX_BYTES || vf_st_check_prefix(data, size, size, "f", &n, NULL) != VF_OK)
        return;
    vf_st_header *a = NULL, *b = NULL;
    vf_error ea, eb;
    vf_fuzz_error_init(&ea);
    vf_fuzz_error_init(&eb);
    int ra = vf_st_parse_header(data + VF_ST_PREFIX_BYTES, (size_t)n, size, "f", &a, &ea);
    int rb = vf_st_parse_header_general(data + VF_ST_PREFIX_BYTES, (size_t)n, size, "f", &b, &eb);
    VF_FUZZ_CHECK(ra == rb);
    if (ra != VF_OK) {
        VF_FUZZ_CHECK(same_error(&ea, &eb));
        return;
    }
    size_t count = vf_st_header_count(a), metas = vf_st_header_meta_count(a);
    VF_FUZZ_CHECK(count == vf_st_header_count(b) && metas == vf_st_header_meta_count(b));
    for (size_t i = 0; i < count; i++) {
        VF_FUZZ_CHECK(same_tensor(vf_st_header_tensor(a, i), vf_st_header_tensor(b, i)));
        VF_FUZZ_CHECK(vf_st_header_by_name(a, i) - vf_st_header_tensor(a, 0) ==
                      vf_st_header_by_name(b, i) - vf_st_header_tensor(b, 0));
    }
    for (size_t i = 0; i < metas; i++)
        VF_FUZZ_CHECK(strcmp(vf_st_header_meta(a, i)->key, vf_st_header_meta(b, i)->key) == 0 &&
                      strcmp(vf_st_header_meta(a, i)->value, vf_st_header_meta(b, i)->value) == 0);
    vf_st_header_free(a);
    vf_st_header_free(b);
}

/* Every name twice through one memo (a miss, then a hit) against the direct classification. */
static void check_name_memo(const vf_st_header *h)
{
    static vf_name_memo memo; /* large: not on the stack */
    vf_name_memo_init(&memo);
    const unsigned all = VF_LAYOUT_GPT_OSS | VF_LAYOUT_DEEPSEEK | VF_LAYOUT_MAMBA;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < vf_st_header_count(h); i++) {
            const vf_st_tensor *t = vf_st_header_tensor(h, i);
            for (unsigned layouts = 0; layouts <= all; layouts++)
                for (uint32_t ndim = t->ndim; ndim <= t->ndim + 1; ndim++) { /* and one more dim */
                    vf_name_info direct, memoised;
                    vf_name_classify_in(t->name, ndim, layouts, &direct);
                    vf_name_classify_memo(&memo, t->name, ndim, layouts, &memoised);
                    VF_FUZZ_CHECK(vft_same_name_info(&direct, &memoised));
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_fast_path(data, size);
    vf_st_header *h = (vf_st_header *)&h; /* must be reset to NULL on failure */
    vf_error err;
    vf_fuzz_error_init(&err);
    int rc = vf_st_parse_buffer(data, size, "fuzz.safetensors", &h, &err);
    if (rc != VF_OK) {
        VF_FUZZ_CHECK(h == NULL);
        vf_fuzz_check_error(rc, &err, "dm");
        return 0;
    }
    VF_FUZZ_CHECK(h != NULL);
    check_header(h, data, size);
    check_name_memo(h);
    vf_st_header_free(h);
    return 0;
}
