/* vf_abi.c - sizes of the public structs, for bindings that mirror them. */
#include <string.h>

#include "vramfit/vf_abi.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_estimator.h"

#define VF_ABI_ROW(type) {#type, sizeof(type)},

size_t vf_abi_sizeof(const char *type)
{
    static const struct {
        const char *name;
        size_t size;
    } rows[] = {
        VF_ABI_ROW(vf_error) VF_ABI_ROW(vf_open_options) VF_ABI_ROW(vf_totals) VF_ABI_ROW(vf_arch) VF_ABI_ROW(vf_tensor) VF_ABI_ROW(vf_quant)
        VF_ABI_ROW(vf_finding) VF_ABI_ROW(vf_est_setup) VF_ABI_ROW(vf_est_result) VF_ABI_ROW(vf_est_model)
        VF_ABI_ROW(vf_target_spec) VF_ABI_ROW(vf_adapter_options) VF_ABI_ROW(vf_adapter_matrix)
        VF_ABI_ROW(vf_adapter_totals) VF_ABI_ROW(vf_family) VF_ABI_ROW(vf_name_info)
        VF_ABI_ROW(vf_component_stats)
        {"VF_DTYPE_COUNT", VF_DTYPE_COUNT},
        {"VF_ROLE_COUNT", VF_ROLE_COUNT},
    };
    for (size_t i = 0; type && i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].name, type) == 0)
            return rows[i].size;
    return 0;
}
