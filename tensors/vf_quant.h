/* vf_quant.h - private interface between the tensor table (vf_tensors.c) and the detection of
 * pre-quantized checkpoints (vf_quant.c). */
#ifndef VRAMFIT_TENSORS_VF_QUANT_H
#define VRAMFIT_TENSORS_VF_QUANT_H

#include "vramfit/vf_tensors.h"

/* Row i of m's table, writable while the model is being built. */
vf_tensor *vf_model_tensor_mut(vf_model *m, size_t i);
/* The table's tensor indices in name order (strcmp), vf_model_tensor_count entries. */
const uint32_t *vf_model_name_order(const vf_model *m);

/* The quantization family (0: none) a tensor name of length n opens: what vf_quant_apply examines
 * it for (a quant_state, qweight, weight_packed, weight_scale(_inv), SCB or _blocks tensor). */
unsigned vf_quant_family(const char *name, size_t n);

/* Detects the quantization of m's filled, name-indexed table (names classified with `layouts`,
 * VF_LAYOUT_*; families[i] is vf_quant_family of tensor i's name, longest the longest name's
 * length): marks every quantized weight (VF_QPART_WEIGHT, logical rows/cols/matrices and
 * logical_numel; a weight stored under another name than its module's, such as `qweight`, gets the
 * role, module kind and expert layout of that logical name, and *relabelled is set when that
 * changed a role) and every metadata tensor
 * (VF_QPART_META, logical_numel 0), fills the scheme of *q and adds findings for config.json
 * disagreements to f. A checkpoint without quantized tensor families is left untouched (*q
 * zeroed). Errors: VF_ERR_QUANT naming the shard and tensor for metadata that is malformed or
 * contradicts the packed weights; errors of vf_checkpoint_tensor_data; VF_ERR_NOMEM. */
int vf_quant_apply(vf_model *m, const uint8_t *families, size_t longest, unsigned layouts, vf_quant *q,
                   vf_findings *f, bool *relabelled, vf_error *err);
/* Adds tensor t to the counts of *q (quantized tensors, logical, stored and metadata totals; nothing
 * when the checkpoint is not quantized), once the table's ignored tensors (MTP blocks) are known:
 * those are neither stored parameters nor quantized weights, their metadata still counts in bytes.
 * Called for every tensor of the table, in table order. */
void vf_quant_count(vf_quant *q, const vf_tensor *t);

#endif
