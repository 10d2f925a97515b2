"""ctypes mirror of libvramfit's public C API (include/vramfit/*.h).

Every mirrored struct is checked against vf_abi_sizeof() when the library is loaded, so a header
change that is not reflected here fails loudly instead of reading garbage.
"""
import ctypes
import ctypes.util
import os
import sys

c_u64 = ctypes.c_uint64
c_u32 = ctypes.c_uint32
c_i32 = ctypes.c_int32
c_int = ctypes.c_int
c_bool = ctypes.c_bool
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_size_t = ctypes.c_size_t
c_double = ctypes.c_double


class VfError(ctypes.Structure):
    _fields_ = [("code", c_int), ("file", ctypes.c_char * 512), ("tensor", ctypes.c_char * 256),
                ("message", ctypes.c_char * 768)]


class VfDtypeStats(ctypes.Structure):
    _fields_ = [("tensors", c_u64), ("elements", c_u64), ("bytes", c_u64)]


def _totals_type(dtype_count):
    class VfTotals(ctypes.Structure):
        _fields_ = [("files", c_u64), ("tensors", c_u64), ("parameters", c_u64), ("buffers", c_u64),
                    ("buffer_tensors", c_u64), ("bytes", c_u64),
                    ("by_dtype", VfDtypeStats * dtype_count)]
    return VfTotals


class VfArch(ctypes.Structure):
    _fields_ = [("layers", c_u32), ("hidden_size", c_u64), ("vocab_size", c_u64),
                ("tied_embeddings", c_bool), ("experts", c_u32), ("embedding", c_char_p),
                ("lm_head", c_char_p), ("kind", c_int), ("shared_experts_layers", c_u32)]


class VfComponentStats(ctypes.Structure):
    _fields_ = [("component", c_int), ("tensors", c_u64), ("parameters", c_u64), ("bytes", c_u64),
                ("layers", c_u32), ("loaded", c_bool)]


class VfTensor(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("file", c_char_p), ("dtype", c_int), ("ndim", c_u32),
                ("shape", ctypes.POINTER(c_u64)), ("numel", c_u64), ("bytes", c_u64), ("shard", c_u32),
                ("layer", c_i32), ("expert", c_i32), ("fused_experts", c_bool), ("role", c_int),
                ("buffer", c_bool), ("rows", c_u64), ("cols", c_u64), ("matrices", c_u64),
                ("component", c_int), ("module", c_int), ("experts_layout", c_int),
                ("shared_expert", c_bool), ("ignored", c_bool),
                ("quant", c_int), ("logical_numel", c_u64)]


class VfQuant(ctypes.Structure):
    _fields_ = [("scheme", c_int), ("bits", c_u32), ("group_size", c_u64), ("double_quant", c_bool),
                ("peft_linear", c_bool), ("config_method", ctypes.c_char * 32)] + \
               [(n, c_u64) for n in ("quantized_tensors", "logical_elements", "stored_elements",
                                     "metadata_tensors", "metadata_bytes")]


class VfFinding(ctypes.Structure):
    _fields_ = [("severity", c_int), ("message", c_char_p)]


class VfOpenOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("revision", c_char_p), ("hf_cache", c_char_p),
                ("flags", ctypes.c_uint)]


class VfEstSetup(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("method", c_int), ("gpus", c_u32), ("gpu_memory", c_u64),
                ("max_tokens_per_gpu", c_u64), ("batch_size", c_u64), ("max_seq_len", c_u64),
                ("lora_r", c_u32), ("unfreeze_rank_ratio", c_double), ("liger", c_int),
                ("compat", c_int), ("th_max_tokens_per_gpu", c_double)]


class VfEstModel(ctypes.Structure):
    _fields_ = [(n, c_u64) for n in ("parameters", "layers", "hidden_size", "vocab_size", "lora_dim_sum",
                                     "lora_params_override", "osft_params")] + [("stored_4bit", c_bool)]


class VfEstResult(ctypes.Structure):
    _fields_ = [("method", c_int), ("liger", c_bool), ("tokens_num", c_u64), ("tokens_den", c_u64),
                ("tokens_per_gpu", c_double), ("tokens_source", c_int), ("max_tokens_ignored", c_bool),
                ("parameters", c_u64), ("optimizer", c_u64), ("gradients", c_u64),
                ("activations", c_u64), ("outputs", c_u64), ("additional", c_u64),
                ("peak_rule", c_int), ("peak_dropped", c_u64), ("model_bound", c_bool),
                ("unbound_subtotal", c_u64), ("subtotal_f", c_double), ("subtotal", c_u64),
                ("mult_low", c_double), ("mult_expected", c_double), ("mult_high", c_double),
                ("low", c_u64), ("expected", c_u64), ("high", c_u64), ("overhead", c_u64),
                ("verdict", c_int), ("need_low", c_u64), ("need_expected", c_u64),
                ("need_high", c_u64), ("total_low", c_u64), ("total_expected", c_u64),
                ("total_high", c_u64), ("parameters_f", c_double), ("optimizer_f", c_double),
                ("gradients_f", c_double), ("activations_f", c_double), ("outputs_f", c_double),
                ("additional_f", c_double), ("peak_dropped_f", c_double), ("overhead_f", c_double)]


class VfTargetSpec(ctypes.Structure):
    _fields_ = [("modules", c_char_p), ("regex", c_char_p), ("exclude", c_char_p),
                ("exclude_regex", c_char_p), ("module_prefix", c_char_p), ("family", c_char_p),
                ("allow_unmatched", c_bool)]


class VfAdapterOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("method", c_int), ("target", VfTargetSpec), ("rank", c_u64),
                ("rank_rules", c_void_p), ("rank_rule_count", c_size_t), ("use_dora", c_bool),
                ("bias", c_int), ("modules_to_save", c_char_p), ("modules_only", c_bool),
                ("adapter_dtype", c_int), ("unfreeze_rank_ratio", c_double)]


class VfAdapterMatrix(ctypes.Structure):
    _fields_ = [("kind", c_int), ("tensor", ctypes.POINTER(VfTensor)), ("module", c_char_p),
                ("layer", c_i32), ("expert", c_i32), ("rows", c_u64), ("cols", c_u64), ("in_", c_u64),
                ("out", c_u64), ("conv1d", c_bool), ("rank", c_u64), ("magnitude", c_u64),
                ("params", c_u64), ("bytes", c_u64), ("frozen_rank", c_u64),
                ("trainable_rank", c_u64), ("trainable_params", c_u64)]


class VfAdapterTotals(ctypes.Structure):
    _fields_ = [(n, c_u64) for n in ("matrices", "parameters", "lora_dim_sum", "saved", "biases",
                                     "trainable", "base_parameters", "all_parameters", "osft_total",
                                     "bytes")]


class VfFamily(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("patterns", c_void_p), ("reason", ctypes.c_char * 384)]


_SIGNATURES = {
    # name: (restype, argtypes)
    "vf_version": (c_char_p, []),
    "vf_abi_sizeof": (c_size_t, [c_char_p]),
    "vf_dtype_name": (c_char_p, [c_int]),
    "vf_role_name": (c_char_p, [c_int]),
    "vf_model_open": (c_int, [c_char_p, ctypes.POINTER(VfOpenOptions), ctypes.POINTER(c_void_p),
                              ctypes.POINTER(VfError)]),
    "vf_model_free": (None, [c_void_p]),
    "vf_model_checkpoint": (c_void_p, [c_void_p]),
    "vf_model_tensor_count": (c_size_t, [c_void_p]),
    "vf_model_tensor": (ctypes.POINTER(VfTensor), [c_void_p, c_size_t]),
    "vf_model_arch": (ctypes.POINTER(VfArch), [c_void_p]),
    "vf_model_totals": (c_void_p, [c_void_p]),
    "vf_model_findings": (c_void_p, [c_void_p]),
    "vf_model_layer_params": (ctypes.POINTER(c_u64), [c_void_p, ctypes.POINTER(c_size_t)]),
    "vf_model_component_count": (c_size_t, [c_void_p]),
    "vf_model_component": (ctypes.POINTER(VfComponentStats), [c_void_p, c_size_t]),
    "vf_model_layer_kind": (c_u32, [c_void_p, c_size_t]),
    "vf_layer_kind_format": (c_char_p, [c_u32, ctypes.c_char_p, c_size_t]),
    "vf_component_name": (c_char_p, [c_int]),
    "vf_module_kind_name": (c_char_p, [c_int]),
    "vf_model_kind_name": (c_char_p, [c_int]),
    "vf_model_quant": (ctypes.POINTER(VfQuant), [c_void_p]),
    "vf_quant_scheme_name": (c_char_p, [c_int]),
    "vf_quant_part_name": (c_char_p, [c_int]),
    "vf_findings_count": (c_size_t, [c_void_p]),
    "vf_findings_get": (ctypes.POINTER(VfFinding), [c_void_p, c_size_t]),
    "vf_checkpoint_dir": (c_char_p, [c_void_p]),
    "vf_checkpoint_name": (c_char_p, [c_void_p]),
    "vf_checkpoint_repo_id": (c_char_p, [c_void_p]),
    "vf_checkpoint_revision": (c_char_p, [c_void_p]),
    "vf_checkpoint_has_index": (c_bool, [c_void_p]),
    "vf_checkpoint_index_total_size": (c_bool, [c_void_p, ctypes.POINTER(c_u64)]),
    "vf_checkpoint_index_consistent": (c_bool, [c_void_p]),
    "vf_method_from_name": (c_bool, [c_char_p, ctypes.POINTER(c_int)]),
    "vf_verdict_name": (c_char_p, [c_int]),
    "vf_verdict_text": (c_char_p, [c_int]),
    "vf_estimate_checkpoint": (c_int, [c_char_p, ctypes.POINTER(VfOpenOptions), ctypes.POINTER(VfEstSetup),
                                       ctypes.POINTER(VfEstResult), ctypes.POINTER(VfError)]),
    "vf_estimate": (c_int, [ctypes.POINTER(VfEstModel), ctypes.POINTER(VfEstSetup), ctypes.POINTER(VfEstResult),
                            ctypes.POINTER(VfError)]),
    "vf_est_model_from": (c_int, [c_void_p, c_int, c_void_p, c_u32, ctypes.POINTER(VfEstModel),
                                  ctypes.POINTER(VfError)]),
    "vf_est_model_training_hub": (c_int, [c_void_p, c_char_p, c_int, c_u32, ctypes.POINTER(VfEstModel),
                                          ctypes.POINTER(c_u64), ctypes.POINTER(VfError)]),
    "vf_th_model_path": (c_char_p, [c_void_p, c_char_p]),
    "vf_th_path_family": (c_char_p, [c_char_p, ctypes.POINTER(c_char_p)]),
    "vf_family_detect": (None, [c_void_p, ctypes.POINTER(VfFamily)]),
    "vf_family_by_name": (c_bool, [c_char_p, ctypes.POINTER(VfFamily)]),
    "vf_adapter_plan_build": (c_int, [c_void_p, ctypes.POINTER(VfAdapterOptions), ctypes.POINTER(c_void_p),
                                      ctypes.POINTER(VfError)]),
    "vf_adapter_plan_free": (None, [c_void_p]),
    "vf_adapter_plan_count": (c_size_t, [c_void_p]),
    "vf_adapter_plan_matrix": (ctypes.POINTER(VfAdapterMatrix), [c_void_p, c_size_t]),
    "vf_adapter_plan_totals": (ctypes.POINTER(VfAdapterTotals), [c_void_p]),
    "vf_adapter_plan_family": (ctypes.POINTER(VfFamily), [c_void_p]),
    "vf_adapter_plan_target_count": (c_size_t, [c_void_p]),
    "vf_adapter_plan_target": (c_char_p, [c_void_p, c_size_t]),
    "vf_adapter_kind_name": (c_char_p, [c_int]),
    # vf_report.h: the text comes back as a void pointer (a c_char_p result would be copied and the
    # library's allocation lost) and goes back to vf_report_free.
    "vf_report_inspect_json": (c_int, [c_void_p, ctypes.c_uint, ctypes.POINTER(c_void_p), ctypes.POINTER(VfError)]),
    "vf_report_adapters_json": (c_int, [c_void_p, c_void_p, ctypes.POINTER(VfAdapterOptions),
                                        ctypes.POINTER(c_void_p), ctypes.POINTER(VfError)]),
    "vf_report_free": (None, [c_void_p]),
}

_MIRRORED = {"vf_error": VfError, "vf_open_options": VfOpenOptions, "vf_arch": VfArch,
             "vf_tensor": VfTensor, "vf_quant": VfQuant,
             "vf_finding": VfFinding, "vf_component_stats": VfComponentStats,
             "vf_est_setup": VfEstSetup, "vf_est_result": VfEstResult, "vf_est_model": VfEstModel,
             "vf_target_spec": VfTargetSpec,
             "vf_adapter_options": VfAdapterOptions, "vf_adapter_matrix": VfAdapterMatrix,
             "vf_adapter_totals": VfAdapterTotals, "vf_family": VfFamily}


SONAME = "libvramfit.so.0"


def _candidates():
    """Where libvramfit is looked for, in order (README, "Python"): $VRAMFIT_LIBRARY alone when set;
    else the copy bundled into the installed package; the source tree's build/ (running from a
    checkout); the loader's search path by SONAME (an installed library: /usr/lib, /usr/local/lib
    after ldconfig, LD_LIBRARY_PATH); <sys.prefix>/lib (a `cmake --install --prefix` into the
    virtual environment); ctypes.util.find_library("vramfit")."""
    env = os.environ.get("VRAMFIT_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, SONAME)
    yield os.path.normpath(os.path.join(here, "../../build", SONAME))
    yield SONAME
    yield os.path.join(sys.prefix, "lib", SONAME)
    found = ctypes.util.find_library("vramfit")
    if found:
        yield found


def _exists_or_bare(path):
    return os.sep not in path or os.path.isfile(path)


def load():
    """Loads libvramfit (see _candidates for the order) and checks the ABI."""
    errors = []
    for path in _candidates():
        if not _exists_or_bare(path):
            errors.append(f"{path}: not found")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
            continue
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        dtype_count = lib.vf_abi_sizeof(b"VF_DTYPE_COUNT")
        lib.VfTotals = _totals_type(dtype_count)
        mirrored = dict(_MIRRORED, vf_totals=lib.VfTotals)
        for cname, pytype in mirrored.items():
            want = lib.vf_abi_sizeof(cname.encode())
            if want != ctypes.sizeof(pytype):
                raise ImportError(f"vramfit: {path}: struct {cname} is {want} bytes in the library but "
                                  f"{ctypes.sizeof(pytype)} in this binding (version mismatch)")
        return lib
    raise ImportError("vramfit: cannot load libvramfit (install it with `cmake --install`, or set "
                      "VRAMFIT_LIBRARY): " + "; ".join(errors))
