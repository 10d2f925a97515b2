/* vf_checked.h - overflow-checked 64-bit arithmetic for sizes and counts taken from files.
 * Each helper stores the result in *out and returns false, or returns true on overflow and leaves
 * *out unchanged. Use these for every product or sum whose operands come from input. */
#ifndef VRAMFIT_VF_CHECKED_H
#define VRAMFIT_VF_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool vf_add_u64_overflow(uint64_t *out, uint64_t a, uint64_t b)
{
    if (a > UINT64_MAX - b)
        return true;
    *out = a + b;
    return false;
}

static inline bool vf_mul_u64_overflow(uint64_t *out, uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return true;
    *out = a * b;
    return false;
}

/* Adds b to *acc; on overflow saturates *acc at UINT64_MAX and returns true. For running totals that
 * must never wrap silently. */
static inline bool vf_acc_u64(uint64_t *acc, uint64_t b)
{
    if (vf_add_u64_overflow(acc, *acc, b)) {
        *acc = UINT64_MAX;
        return true;
    }
    return false;
}

#endif
