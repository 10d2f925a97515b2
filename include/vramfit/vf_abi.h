/* vf_abi.h - run-time layout facts for language bindings (python/vramfit uses ctypes): a binding
 * that mirrors a public struct checks its size here at load time instead of trusting it. */
#ifndef VRAMFIT_VF_ABI_H
#define VRAMFIT_VF_ABI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sizeof the public type named `type` ("vf_error", "vf_totals", "vf_arch", "vf_tensor", "vf_quant",
 * "vf_finding", "vf_est_setup", "vf_est_result", "vf_target_spec", "vf_adapter_options",
 * "vf_adapter_matrix", "vf_adapter_totals", "vf_family"), or 0 for an unknown name.
 * VF_DTYPE_COUNT and VF_ROLE_COUNT are reported as "VF_DTYPE_COUNT" / "VF_ROLE_COUNT". */
size_t vf_abi_sizeof(const char *type);

#ifdef __cplusplus
}
#endif
#endif
