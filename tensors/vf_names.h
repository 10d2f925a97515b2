/* vf_names.h - private to tensors/: a memo of name classifications for the table fill.
 *
 * Checkpoints repeat a few dozen name shapes tens of thousands of times
 * (model.layers.N.mlp.experts.E.down_proj.weight). A name's classification is a function of its
 * shape (the name with every index component, 1 to 6 digits up to 100000, read as one placeholder),
 * ndim and the layouts; so is which of the index components hold the layer and expert, whose values
 * are read from the name each time. The memo keeps the classification per shape; it is exactly
 * vf_name_classify_in's answer (tests/test_names_memo.c compares both on every name of the generated
 * models). Not shared between threads: one per classifying thread. */
#ifndef VRAMFIT_TENSORS_VF_NAMES_H
#define VRAMFIT_TENSORS_VF_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "vramfit/vf_tensors.h"

#define VF_NAME_INDEX_MAX 100000 /* larger numbers are not taken as layer/expert indices */
#define VF_NAME_MEMO_SLOTS 512
#define VF_NAME_MEMO_KEY_MAX 256 /* longer shapes are not memoised */

typedef struct vf_name_memo_slot {
    bool used;
    uint64_t hash;
    uint32_t key_at, key_len; /* the shape: keys[key_at .. key_at + key_len) */
    uint32_t ndim;
    unsigned layouts;
    int8_t layer_index, expert_index; /* the ordinals of the shape's index components the layer and
                                         expert are, or -1 */
    uint8_t family;           /* vf_quant_family of the shape's names */
    vf_name_info info;        /* its classification (layer and expert: not used) */
} vf_name_memo_slot;

#define VF_NAME_MEMO_INDICES 16 /* names with more index components are classified without the memo */
#define VF_NAME_MEMO_COMPONENTS 64 /* nor are names of this many components or more */

/* The shape of the last name read, with where each of its components starts in the name and in the
 * shape and the hash state after each 8-byte word of the shape, so that the next name is read only
 * from its first component that differs (a table's names share long prefixes). */
typedef struct vf_name_shape {
    char name[VF_NAME_MEMO_KEY_MAX + 8]; /* a copy of the name (8 bytes of slack for word copies) */
    size_t name_len;
    char key[VF_NAME_MEMO_KEY_MAX + 8];  /* the shape, zero-padded to a word */
    size_t len;
    int32_t index[VF_NAME_MEMO_INDICES]; /* the values of the index components, in order */
    size_t indices;
    struct vf_name_mark {
        uint16_t name_at, key_at; /* component k starts at name[name_at] and key[key_at] */
        uint16_t indices;         /* index components before it */
    } mark[VF_NAME_MEMO_COMPONENTS];
    size_t marks;                 /* 0: no last name to resume from */
    uint64_t hash_at[VF_NAME_MEMO_KEY_MAX / 8 + 2]; /* the hash state after w words of key */
} vf_name_shape;

typedef struct vf_name_memo {
    vf_name_memo_slot slot[VF_NAME_MEMO_SLOTS];
    char keys[16384];
    size_t keys_used;
    vf_name_shape last;
} vf_name_memo;

void vf_name_memo_init(vf_name_memo *m);
/* vf_name_classify_in(name, ndim, layouts, out), answered from the memo when it has the name's
 * shape (and recorded there when not, while it has room). memo NULL: no memo. Returns the name's
 * vf_quant_family (tensors/vf_quant.h), a function of its shape too (its suffixes are in no index
 * component), memoised with the rest. */
unsigned vf_name_classify_memo(vf_name_memo *memo, const char *name, uint32_t ndim, unsigned layouts,
                               vf_name_info *out);

#endif
