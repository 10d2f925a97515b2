/* vf_dtype.c - the safetensors dtype table. */
#include <string.h>

#include "vramfit/vf_checked.h"
#include "vramfit/vf_parser.h"

static const struct {
    const char *name;
    unsigned bits;
    size_t len;
} dtype_table[VF_DTYPE_COUNT] = {
#define VF_X_ROW(name, bits) {#name, bits, sizeof #name - 1},
    VF_DTYPE_LIST(VF_X_ROW)
#undef VF_X_ROW
};

const char *vf_dtype_name(vf_dtype dt)
{
    return (unsigned)dt < VF_DTYPE_COUNT ? dtype_table[dt].name : "?";
}

unsigned vf_dtype_bits(vf_dtype dt)
{
    return (unsigned)dt < VF_DTYPE_COUNT ? dtype_table[dt].bits : 0;
}

bool vf_dtype_from_name(const char *name, size_t len, vf_dtype *out)
{
    for (unsigned i = 0; i < VF_DTYPE_COUNT; i++) {
        if (dtype_table[i].len == len && memcmp(dtype_table[i].name, name, len) == 0) {
            *out = (vf_dtype)i;
            return true;
        }
    }
    return false;
}

bool vf_dtype_bytes(vf_dtype dt, uint64_t numel, uint64_t *out, bool *misaligned)
{
    uint64_t bits;
    *misaligned = false;
    if (vf_mul_u64_overflow(&bits, numel, vf_dtype_bits(dt)))
        return false;
    if (bits % 8 != 0) {
        *misaligned = true;
        return false;
    }
    *out = bits / 8;
    return true;
}
