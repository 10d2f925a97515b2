"""vramfit for Python: Training Hub's memory estimate from safetensors headers, without
instantiating the model.

A drop-in for ``training_hub.profiling.memory_estimator.estimate``: same signature, same defaults,
same ``(low, expected, high)`` tuple of bytes per GPU. ``model_path`` is a local checkpoint
directory, a ``.safetensors`` file, a ``.vfsnap`` header snapshot, or a Hugging Face id found in the
local cache (never downloaded). Pure standard library: ctypes over libvramfit.

    import vramfit
    low, expected, high = vramfit.estimate("sft", num_gpus=2, gpu_memory=48 * 2**30,
                                           model_path="ibm-granite/granite-3.3-2b-instruct",
                                           max_tokens_per_gpu=8192)

``inspect(path)`` and ``adapters(path, ...)`` return the dictionaries that ``vramfit inspect --json``
and ``vramfit adapters --json`` print.
"""
import ctypes

from . import _native

__all__ = ["estimate", "inspect", "adapters", "VramfitError", "library_version"]

_lib = _native.load()
_VF_OPEN_OPTIONS_VERSION = 1
_VF_EST_SETUP_VERSION = 1
_VF_ADAPTER_OPTIONS_VERSION = 1
_GIB = 1 << 30


class VramfitError(Exception):
    """A vramfit library error: ``code`` (negative vf_status), ``file``, ``tensor``, ``message``."""

    def __init__(self, err):
        self.code = err.code
        self.file = err.file.decode(errors="replace")
        self.tensor = err.tensor.decode(errors="replace")
        self.message = err.message.decode(errors="replace")
        where = (self.file + ": " if self.file else "") + (f"tensor '{self.tensor}': " if self.tensor else "")
        super().__init__(where + self.message)


def library_version():
    """The loaded libvramfit's version string."""
    return _lib.vf_version().decode()


def _s(b):
    return None if b is None else b.decode()


def _b(s):
    return None if s is None else str(s).encode()


def _open_options(revision, hf_cache):
    return _native.VfOpenOptions(_VF_OPEN_OPTIONS_VERSION, _b(revision), _b(hf_cache))


class _Model:
    """Context manager owning a vf_model handle."""

    def __init__(self, path, revision=None, hf_cache=None):
        self.handle = ctypes.c_void_p()
        err = _native.VfError()
        opts = _open_options(revision, hf_cache)
        if _lib.vf_model_open(_b(path), ctypes.byref(opts), ctypes.byref(self.handle), ctypes.byref(err)) != 0:
            raise VramfitError(err)

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc):
        _lib.vf_model_free(self.handle)


# ---- inspect ---------------------------------------------------------------------------------

def _dtypes(totals):
    out = {}
    for i, s in enumerate(totals.by_dtype):
        if s.tensors:
            out[_s(_lib.vf_dtype_name(i))] = {"tensors": s.tensors, "elements": s.elements, "bytes": s.bytes}
    return out


def _findings(handle):
    out = []
    for i in range(_lib.vf_findings_count(handle)):
        f = _lib.vf_findings_get(handle, i).contents
        out.append({"severity": "warning" if f.severity == 1 else "info", "message": _s(f.message)})
    return out


def _index(cp):
    total = ctypes.c_uint64()
    has_total = _lib.vf_checkpoint_index_total_size(cp, ctypes.byref(total))
    return {"present": bool(_lib.vf_checkpoint_has_index(cp)), "total_size": total.value if has_total else None,
            "consistent": bool(_lib.vf_checkpoint_index_consistent(cp))}


def _tensor(t):
    d = {"name": _s(t.name), "dtype": _s(_lib.vf_dtype_name(t.dtype)),
         "shape": [t.shape[i] for i in range(t.ndim)], "numel": t.numel, "bytes": t.bytes,
         "file": _s(t.file), "layer": t.layer if t.layer >= 0 else None,
         "expert": t.expert if t.expert >= 0 else None, "role": _s(_lib.vf_role_name(t.role)),
         "buffer": bool(t.buffer), "component": _s(_lib.vf_component_name(t.component)),
         "module": _s(_lib.vf_module_kind_name(t.module)), "ignored": bool(t.ignored)}
    if t.quant:
        d.update({"quant": _s(_lib.vf_quant_part_name(t.quant)), "logical_numel": t.logical_numel})
    return d


def _layer_kind(handle, i):
    buf = ctypes.create_string_buffer(64)
    return _s(_lib.vf_layer_kind_format(_lib.vf_model_layer_kind(handle, i), buf, 64))


def _components(handle):
    out = []
    for i in range(_lib.vf_model_component_count(handle)):
        c = _lib.vf_model_component(handle, i).contents
        out.append({"name": _s(_lib.vf_component_name(c.component)), "tensors": c.tensors,
                    "parameters": c.parameters, "bytes": c.bytes, "layers": c.layers,
                    "loaded": bool(c.loaded)})
    return out


def _quant(handle):
    """inspect's "quantization" object, or None for an unquantized checkpoint."""
    q = _lib.vf_model_quant(handle).contents
    if not q.scheme:
        return None
    return {"scheme": _s(_lib.vf_quant_scheme_name(q.scheme)), "bits": q.bits, "group_size": q.group_size,
            "double_quant": bool(q.double_quant), "config_method": q.config_method.decode() or None,
            "peft_all_linear": bool(q.peft_linear), "quantized_tensors": q.quantized_tensors,
            "logical_elements": q.logical_elements, "stored_elements": q.stored_elements,
            "metadata_tensors": q.metadata_tensors, "metadata_bytes": q.metadata_bytes}


def _layers(handle, doc):
    n = ctypes.c_size_t()
    lp = _lib.vf_model_layer_params(handle, ctypes.byref(n))
    doc["layers"] = [{"layer": i, "parameters": lp[i], "kind": _layer_kind(handle, i)}
                     for i in range(n.value - 1)] if n.value else []
    doc["non_layer_parameters"] = lp[n.value - 1] if n.value else 0


def inspect(path, tensors=False, by_layer=False, revision=None, hf_cache=None):
    """What ``vramfit inspect --json [--tensors] [--by-layer] PATH`` prints, as a dict."""
    with _Model(path, revision, hf_cache) as m:
        cp = _lib.vf_model_checkpoint(m)
        t = ctypes.cast(_lib.vf_model_totals(m), ctypes.POINTER(_lib.VfTotals)).contents
        a = _lib.vf_model_arch(m).contents
        doc = {"schema": "vramfit/1", "format": "safetensors", "model": _s(_lib.vf_checkpoint_name(cp)),
               "repo_id": _s(_lib.vf_checkpoint_repo_id(cp)), "revision": _s(_lib.vf_checkpoint_revision(cp)),
               "path": _s(_lib.vf_checkpoint_dir(cp)), "files": t.files,
               "tensors": t.tensors, "parameters": t.parameters, "buffers": t.buffers,
               "buffer_tensors": t.buffer_tensors, "bytes": t.bytes, "dtypes": _dtypes(t),
               "architecture": {"layers": a.layers, "hidden_size": a.hidden_size, "vocab_size": a.vocab_size,
                                "tied_embeddings": bool(a.tied_embeddings), "experts": a.experts,
                                "embedding": _s(a.embedding), "lm_head": _s(a.lm_head),
                                "kind": _s(_lib.vf_model_kind_name(a.kind)),
                                "shared_expert_layers": a.shared_experts_layers},
               "components": _components(m),
               "index": _index(cp), "findings": _findings(_lib.vf_model_findings(m))}
        quant = _quant(m)
        if quant:
            doc["quantization"] = quant
        if by_layer:
            _layers(m, doc)
        if tensors:
            doc["tensor_list"] = [_tensor(_lib.vf_model_tensor(m, i).contents)
                                  for i in range(_lib.vf_model_tensor_count(m))]
        return doc


# ---- adapters --------------------------------------------------------------------------------

def _matrix(x, lora):
    t = x.tensor.contents
    d = {"name": _s(t.name), "module": _s(x.module), "kind": _s(_lib.vf_adapter_kind_name(x.kind)),
         "layer": x.layer if x.layer >= 0 else None, "expert": x.expert if x.expert >= 0 else None,
         "shape": [x.rows, x.cols], "params": x.params, "bytes": x.bytes}
    if lora:
        d.update({"in": x.in_, "out": x.out, "rank": x.rank, "a": [x.rank, x.in_], "b": [x.out, x.rank]})
    else:
        k = x.rank
        d.update({"u": [x.rows, k], "s": [k], "v": [k, x.cols], "frozen_rank": x.frozen_rank,
                  "trainable_rank": x.trainable_rank, "trainable_params": x.trainable_params})
    return d


def adapters(path, method="lora", rank=32, target=None, target_regex=None, exclude=None,
             unfreeze_rank_ratio=0.25, revision=None, hf_cache=None):
    """Adapter sizes per matrix, as ``vramfit adapters --json`` reports them (a subset of its keys:
    method, rank or unfreeze_rank_ratio, targets, family, family_reason, parameters,
    trainable_parameters, base_parameters, bytes and per-matrix entries). ``target`` is a
    comma-separated list or a list of PEFT module names, "all-linear", or None for the family
    detected from the tensor names."""
    if isinstance(target, (list, tuple)):
        target = ",".join(target)
    if method not in ("lora", "osft"):
        raise ValueError("method must be 'lora' or 'osft'")
    lora = method == "lora"
    spec = _native.VfTargetSpec(_b(target), _b(target_regex), _b(exclude), None, None, None, False)
    opts = _native.VfAdapterOptions(_VF_ADAPTER_OPTIONS_VERSION, 0 if lora else 1, spec, int(rank), None, 0,
                                    False, 0, None, False, _lib_dtype_f32(), float(unfreeze_rank_ratio))
    with _Model(path, revision, hf_cache) as m:
        plan = ctypes.c_void_p()
        err = _native.VfError()
        if _lib.vf_adapter_plan_build(m, ctypes.byref(opts), ctypes.byref(plan), ctypes.byref(err)) != 0:
            raise VramfitError(err)
        try:
            t = _lib.vf_adapter_plan_totals(plan).contents
            fam = _lib.vf_adapter_plan_family(plan).contents
            doc = {"method": method, "targets": [_s(_lib.vf_adapter_plan_target(plan, i))
                                                 for i in range(_lib.vf_adapter_plan_target_count(plan))],
                   "family": _s(fam.name), "family_reason": fam.reason.decode(),
                   "parameters": t.parameters, "trainable_parameters": t.trainable,
                   "base_parameters": t.base_parameters, "bytes": t.bytes,
                   "matrices": [_matrix(_lib.vf_adapter_plan_matrix(plan, i).contents, lora)
                                for i in range(_lib.vf_adapter_plan_count(plan))]}
            doc["rank" if lora else "unfreeze_rank_ratio"] = int(rank) if lora else float(unfreeze_rank_ratio)
            return doc
        finally:
            _lib.vf_adapter_plan_free(plan)


def _lib_dtype_f32():
    for i in range(_lib.vf_abi_sizeof(b"VF_DTYPE_COUNT")):
        if _lib.vf_dtype_name(i) == b"F32":
            return i
    raise ImportError("vramfit: library has no F32 dtype")


# ---- estimate (Training Hub's signature) ------------------------------------------------------

def _rounder(value):
    return str(round(value / _GIB, 1))


def _print_tips(r, gpu_memory):
    """Training Hub's decision printout, with units labelled truthfully (GiB)."""
    print("\nDecision:")
    print(_lib.vf_verdict_text(r.verdict).decode() + "\n")
    lines = {"low": "Minimum extra memory required (to reach the\nlow bound of memory requirements): ",
             "expected": "Recommended amount of extra memory (to reach the\nlikely estimated memory requirements): ",
             "high": "Ideal amount of extra memory required (to reach the\nupper bound of memory requirements): "}
    shown = {0: (), 1: ("high",), 2: ("expected", "high"), 3: ("low", "expected", "high")}[r.verdict]
    for key in shown:
        print(lines[key] + _rounder(getattr(r, key) - gpu_memory) + " GiB")


def _print_results(model_path, num_gpus, r):
    print(f"Estimations for {model_path}:\n\n")
    print("Summary:")
    print(f"The expected amount of memory needed to run this model is about {_rounder(r.total_expected)} GiB")
    print(f"The lower and upper bounds are {_rounder(r.total_low)} - {_rounder(r.total_high)} GiB")
    print(f"If you have {num_gpus} GPUs, you will need about {_rounder(r.expected)} GiB, with bounds of "
          f"{_rounder(r.low)} - {_rounder(r.high)} GiB per GPU\n\n")
    print("Component Breakdown:")
    for value, name in ((r.parameters, "model parameters"), (r.optimizer, "optimizer states"),
                        (r.gradients, "gradients"), (r.activations, "intermediate activations"),
                        (r.outputs, "outputs")):
        print(f"Each GPU will need {_rounder(value)} GiB to store the {name}")
    print(f"Up to {_rounder(r.overhead)} GiB can be expected as overhead")


def estimate(training_method="sft", num_gpus=8, gpu_memory=85899345920,
             model_path="ibm-granite/granite-3.3-8b-instruct", batch_size=None, max_seq_len=None,
             max_tokens_per_gpu=None, use_liger=None, verbose=1, trust_remote_code=False,
             unfreeze_rank_ratio=0.25, lora_r=32):
    """Training Hub's ``estimate``: returns ``(low, expected, high)`` bytes per GPU.

    Same parameters and defaults (``trust_remote_code`` is accepted and ignored: nothing is
    executed). verbose=1 prints the decision, verbose=2 also the breakdown, 0 prints nothing.
    Raises ValueError for an unknown method or missing token settings, as Training Hub does, and
    VramfitError for a checkpoint vramfit cannot read.
    """
    del trust_remote_code
    method = ctypes.c_int()
    name = str(training_method).lower()
    if not _lib.vf_method_from_name(name.encode(), ctypes.byref(method)):
        raise ValueError(f"unknown training_method {training_method!r}")
    setup = _native.VfEstSetup(_VF_EST_SETUP_VERSION, method.value, int(num_gpus), int(gpu_memory),
                               int(max_tokens_per_gpu or 0), int(batch_size or 0), int(max_seq_len or 0),
                               int(lora_r), float(unfreeze_rank_ratio),
                               -1 if use_liger is None else int(bool(use_liger)))
    result = _native.VfEstResult()
    err = _native.VfError()
    opts = _open_options(None, None)
    rc = _lib.vf_estimate_checkpoint(_b(model_path), ctypes.byref(opts), ctypes.byref(setup),
                                     ctypes.byref(result), ctypes.byref(err))
    if rc == -1:  # VF_ERR_USAGE: the setup itself is invalid (Training Hub raises ValueError)
        raise ValueError(err.message.decode())
    if rc != 0:
        raise VramfitError(err)
    if verbose > 1:
        _print_results(model_path, num_gpus, result)
    if verbose > 0:
        _print_tips(result, gpu_memory)
    return result.low, result.expected, result.high
