/* fuzz_safetensors.c - libFuzzer target for the safetensors header parser: the input is a whole file
 * image (8-byte little-endian length, JSON header, data region) given to vf_st_parse_buffer.
 * Accepted headers must satisfy what the parser promises: tensors in offset order tiling the data
 * region exactly, span == numel x dtype size, names unique and found by vf_st_header_find, the raw
 * header kept verbatim. Rejections must follow the error contract (vf_fuzz_check_error). */
#include <string.h>

#include "vf_fuzz.h"
#include "vramfit/vf_parser.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
    vf_st_header_free(h);
    return 0;
}
