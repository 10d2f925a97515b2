/* vf_quant.h - private interface between the tensor table (vf_tensors.c) and the detection of
 * pre-quantized checkpoints (vf_quant.c). */
#ifndef VRAMFIT_TENSORS_VF_QUANT_H
#define VRAMFIT_TENSORS_VF_QUANT_H

#include "vramfit/vf_tensors.h"

/* Row i of m's table, writable while the model is being built. */
vf_tensor *vf_model_tensor_mut(vf_model *m, size_t i);

/* Detects the quantization of m's filled, name-indexed table (names classified with `layouts`,
 * VF_LAYOUT_*): marks every quantized weight (VF_QPART_WEIGHT, logical rows/cols/matrices and
 * logical_numel; a weight stored under another name than its module's, such as `qweight`, gets the
 * role, module kind and expert layout of that logical name) and every metadata tensor
 * (VF_QPART_META, logical_numel 0), fills the scheme of *q and adds findings for config.json
 * disagreements to f. A checkpoint without quantized tensor families is left untouched (*q
 * zeroed). Errors: VF_ERR_QUANT naming the shard and tensor for metadata that is malformed or
 * contradicts the packed weights; errors of vf_checkpoint_tensor_data; VF_ERR_NOMEM. */
int vf_quant_apply(vf_model *m, unsigned layouts, vf_quant *q, vf_findings *f, vf_error *err);
/* The counts of *q (quantized tensors, logical, stored and metadata totals), once the table's
 * ignored tensors (MTP blocks) are known: those are neither stored parameters nor quantized
 * weights, their metadata still counts in bytes. */
void vf_quant_summarise(const vf_model *m, vf_quant *q);

#endif
