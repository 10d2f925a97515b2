/* vf_place.h - the inference device map accelerate's infer_auto_device_map would compute for a
 * checkpoint: modules placed in order onto GPU 0, 1, ..., then the CPU, then disk, no-split blocks
 * kept whole, room kept on GPU 0 and the CPU for the largest layer an offloaded module brings back.
 *
 * Layer 3 of vramfit. The module tree is the tensor names' prefixes; children are ordered as
 * transformers defines them (embeddings, numbered blocks in order, final norm, then the output head;
 * inside a block attention before the MLP; q, k, v, o; gate, up, down) since headers are sorted by
 * name. Source: accelerate src/accelerate/utils/modeling.py (infer_auto_device_map,
 * get_max_layer_size, compute_module_sizes, get_module_size_with_ties, clean_device_map,
 * get_max_memory) at huggingface/accelerate@16cb6eb80dd9aa8b4df1a63ef57863e455d53b83, reproduced
 * with clean_result=True, offload_buffers=False, fallback_allocation=False. Differences: module
 * classes are unknown, so no-split blocks are named by pattern (default: every transformer block,
 * what transformers' _no_split_modules names); non-persistent buffers (rotary inv_freq) are not in
 * checkpoints and do not appear. */
#ifndef VRAMFIT_VF_PLACE_H
#define VRAMFIT_VF_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_error.h"
#include "vf_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vf_place_kind { VF_PLACE_GPU, VF_PLACE_CPU, VF_PLACE_DISK } vf_place_kind;

typedef struct vf_place_device {
    vf_place_kind kind;
    uint32_t index;      /* GPU ordinal (0 for cpu/disk) */
    uint64_t max_memory; /* bytes (ignored for disk, which is unlimited) */
} vf_place_device;

#define VF_PLACE_OPTIONS_VERSION 1u
#define VF_PLACE_MAX_DEVICES 64u
/* Module trees beyond this many nodes are refused (the allocation is quadratic in the worst case). */
#define VF_PLACE_MAX_NODES (1u << 20)
/* Tensor names nesting deeper than this many modules are refused. */
#define VF_PLACE_MAX_DEPTH 64u

typedef struct vf_place_options {
    unsigned version;               /* VF_PLACE_OPTIONS_VERSION */
    const vf_place_device *devices; /* GPUs in any order, at most one cpu; disk is appended */
    size_t device_count;            /* 1..VF_PLACE_MAX_DEVICES */
    uint32_t dtype_bytes;           /* 0: each tensor's stored size; 2 or 4: floating tensors take
                                       numel x min(this, stored element size), as accelerate's dtype */
    const char *no_split;           /* comma-separated module patterns kept whole, '*' matching one
                                       name component ("model.layers.*"); NULL: every block (modules
                                       whose tensors carry a layer index, at that depth); "" none */
} vf_place_options;

#define VF_PLACE_OPTIONS_INIT {VF_PLACE_OPTIONS_VERSION, NULL, 0u, 0u, NULL}

typedef enum vf_place_verdict { VF_PLACE_FITS_GPUS, VF_PLACE_NEEDS_CPU, VF_PLACE_NEEDS_DISK } vf_place_verdict;

typedef struct vf_place_entry {
    const char *module;  /* accelerate's device_map key ("" for the whole model) */
    size_t device;       /* index into vf_placement_device */
    uint64_t bytes;      /* size of the module (ties included) */
} vf_place_entry;

typedef struct vf_placement vf_placement;

/* Computes the device map of m. Errors: VF_ERR_USAGE (bad options: no device, two cpus, duplicate
 * GPU, bad dtype_bytes), VF_ERR_NOMEM, VF_ERR_OVERFLOW (sizes), VF_ERR_USAGE for a model with more
 * than VF_PLACE_MAX_NODES modules or a name deeper than VF_PLACE_MAX_DEPTH. */
int vf_place(const vf_model *m, const vf_place_options *o, vf_placement **out, vf_error *err);
void vf_placement_free(vf_placement *p); /* NULL is a no-op */

/* The map after cleaning, in module order; borrowed until vf_placement_free. */
size_t vf_placement_count(const vf_placement *p);
const vf_place_entry *vf_placement_entry(const vf_placement *p, size_t i);
/* Devices in accelerate's order (GPUs by ordinal, cpu, disk) with the bytes used on each (the room
 * kept for the largest layer included, as accelerate counts it when it moves on). */
size_t vf_placement_device_count(const vf_placement *p);
const vf_place_device *vf_placement_device(const vf_placement *p, size_t i);
uint64_t vf_placement_used(const vf_placement *p, size_t i);
vf_place_verdict vf_placement_verdict(const vf_placement *p);
/* The largest no-split layer at the start (the room kept on GPU 0 and the CPU). */
uint64_t vf_placement_max_layer(const vf_placement *p);
uint64_t vf_placement_model_bytes(const vf_placement *p);

#ifdef __cplusplus
}
#endif
#endif
