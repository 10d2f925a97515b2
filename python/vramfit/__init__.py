"""vramfit for Python: Training Hub's memory estimator and vramfit's header readers, without
instantiating the model.

A drop-in for Training Hub's ``training_hub.profiling.memory_estimator``: ``BasicEstimator``,
``OSFTEstimator``, ``LoRAEstimator``, ``QLoRAEstimator``, ``OSFTEstimatorExperimental`` and
``estimate()`` with upstream's names, keyword arguments, defaults, ``(low, expected, high)`` ints per
GPU, warnings and ``verbose`` printout. ``model_path`` is a local checkpoint directory, a
``.safetensors`` file, a ``.vfsnap`` header snapshot, or a Hugging Face id found in the local cache
(never downloaded). Pure standard library: ctypes over libvramfit.

Two modes (keyword-only ``compat=``): ``None`` (the default here) counts what the checkpoint holds
(an untied ``lm_head`` included, LoRA/OSFT targets of the family detected from the tensor names) and
prints sizes as GiB with notes on where Training Hub differs; ``"training-hub"`` reproduces Training
Hub's main (memory_estimator.py at 04ec040) to the byte, text included. The mirror module
``vramfit.training_hub.profiling.memory_estimator`` (and ``vramfit.training_hub``) defaults to
``"training-hub"``.

    from vramfit import BasicEstimator
    low, expected, high = BasicEstimator(num_gpus=2, gpu_memory=48 * 2**30,
                                         model_path="ibm-granite/granite-3.3-2b-instruct",
                                         max_tokens_per_gpu=8192, verbose=2).estimate()

``inspect(path)`` and ``adapters(path, ...)`` return the documents that ``vramfit inspect --json``
and ``vramfit adapters --json`` print: the library writes them (vf_report.h) for both.
"""
import ctypes
import json

from . import _native
from ._core import VramfitError, _b, _lib, _Model
from ._estimator import (BasicEstimator, LoRAEstimator, OSFTEstimator, OSFTEstimatorExperimental,
                         QLoRAEstimator, estimate)

__all__ = ["BasicEstimator", "OSFTEstimator", "LoRAEstimator", "QLoRAEstimator", "OSFTEstimatorExperimental",
           "estimate", "inspect", "adapters", "VramfitError", "library_version"]

_VF_ADAPTER_OPTIONS_VERSION = 1


def library_version():
    """The loaded libvramfit's version string."""
    return _lib.vf_version().decode()


# ---- documents: the library writes them (vf_report.h), byte for byte what the CLI prints --------

_VF_REPORT_TENSORS = 1 << 0   # vf_report.h
_VF_REPORT_BY_LAYER = 1 << 1


def _document(write, *args):
    """Calls a vf_report_*_json function (its leading arguments in args) and returns the parsed
    document; the library's text is released whatever happens."""
    text = ctypes.c_void_p()
    err = _native.VfError()
    if write(*args, ctypes.byref(text), ctypes.byref(err)) != 0:
        raise VramfitError(err)
    try:
        return json.loads(ctypes.string_at(text).decode("utf-8"))
    finally:
        _lib.vf_report_free(text)


def inspect(path, tensors=False, by_layer=False, revision=None, hf_cache=None):
    """The document ``vramfit inspect --json [--tensors] [--by-layer] PATH`` prints, as a dict."""
    flags = (_VF_REPORT_TENSORS if tensors else 0) | (_VF_REPORT_BY_LAYER if by_layer else 0)
    with _Model(path, revision, hf_cache) as m:
        return _document(_lib.vf_report_inspect_json, m, flags)


def adapters(path, method="lora", rank=32, target=None, target_regex=None, exclude=None,
             unfreeze_rank_ratio=0.25, revision=None, hf_cache=None):
    """The document ``vramfit adapters --json`` prints (with ``--method``, ``--rank``, ``--target``,
    ``--target-regex``, ``--exclude`` and ``--unfreeze-rank-ratio`` as given here), as a dict.
    ``target`` is a comma-separated list or a list of PEFT module names, "all-linear", or None for
    the family detected from the tensor names."""
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
            return _document(_lib.vf_report_adapters_json, m, plan, ctypes.byref(opts))
        finally:
            _lib.vf_adapter_plan_free(plan)


def _lib_dtype_f32():
    for i in range(_lib.vf_abi_sizeof(b"VF_DTYPE_COUNT")):
        if _lib.vf_dtype_name(i) == b"F32":
            return i
    raise ImportError("vramfit: library has no F32 dtype")
