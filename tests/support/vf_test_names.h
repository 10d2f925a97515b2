/* vf_test_names.h - shared by tests/test_names_memo.c and tests/fuzz/fuzz_safetensors.c: two name
 * classifications are the same, field by field (the struct has padding: no memcmp). */
#ifndef VF_TEST_NAMES_H
#define VF_TEST_NAMES_H

#include <stdbool.h>

#include "vramfit/vf_tensors.h"

static inline bool vft_same_name_info(const vf_name_info *a, const vf_name_info *b)
{
    return a->layer == b->layer && a->expert == b->expert && a->role == b->role && a->buffer == b->buffer &&
           a->in_experts == b->in_experts && a->component == b->component && a->module == b->module &&
           a->experts_layout == b->experts_layout && a->shared_expert == b->shared_expert &&
           a->kind_hints == b->kind_hints && a->layout_marks == b->layout_marks &&
           a->layout_sensitive == b->layout_sensitive;
}

#endif
