"""Training Hub's estimator API (src/training_hub/profiling/memory_estimator.py, main, last changed
in commit 04ec040) over libvramfit.

The classes keep upstream's names, keyword arguments (same order, same defaults), attributes,
raised exceptions, warnings and printed text; the arithmetic is libvramfit's vf_estimate() in
VF_COMPAT_TRAINING_HUB mode (Training Hub's rules for tokens, Liger and edge inputs, in one place for
the CLI and this package). The model facts come from the safetensors headers:

- ``compat="training-hub"``: Training Hub's facts (vf_est_model_training_hub: P without an untied
  lm_head, as its headless AutoModel; targets by its model_path-string family rule) and its printout
  byte for byte ("GB" for 2^30 bytes, as upstream prints).
- ``compat=None``: vramfit's exact counts (vf_est_model_from: every stored parameter, targets of the
  family detected from the tensor names), sizes printed as "GiB", plus "vramfit:" notes after the
  component breakdown saying where and why Training Hub's figures differ.

Differences kept on purpose: ``trust_remote_code`` is accepted and ignored (nothing is executed);
no model_storage.csv cache is read or written, so upstream's "No CSV file found..." / "Model not
found in the CSV." UserWarnings (which announce a model download) are not emitted; changing the
multiplier attributes after construction does not change the result.
"""
import ctypes
import functools
import inspect
import math
import warnings

from . import _native
from ._core import VF_ERR_USAGE, VramfitError, _b, _lib, _Model, _s

_VF_EST_SETUP_VERSION = 2
_COMPAT_NONE, _COMPAT_TRAINING_HUB = 0, 1
_METHODS = {"sft": 0, "osft": 1, "lora": 2, "qlora": 3}
_PEAK_DROP_OUTPUTS = 1
_TOKENS_MAX_TOKENS = 0

# Upstream's constants (memory_estimator.py, top of file).
FLOAT32_BYTES_N = 4
FLOAT16_BYTES_N = 2
FLOAT8_BYTES_N = 1
FLOAT4_BYTES_N = 0.5
ADAMW_PARAMS_N = 2


def ROUNDER(value) -> str:
    """Upstream's rounding for printing: GiB with one decimal (it labels them "GB")."""
    return str(round(value / 1073741824, 1))


def _compat_code(compat):
    if compat is None or compat == "none":
        return _COMPAT_NONE
    if compat == "training-hub":
        return _COMPAT_TRAINING_HUB
    raise ValueError(f"compat must be None or 'training-hub', got {compat!r}")


def _count(name, value, lowest, highest):
    """value as an int in [lowest, highest]; integral floats accepted (Python would use them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value != int(value):
        raise ValueError(f"vramfit: {name} must be a whole number, got {value!r}")
    if not lowest <= int(value) <= highest:
        raise ValueError(f"vramfit: {name} must be between {lowest} and {highest}, got {value!r}")
    return int(value)


def _tokens(value):
    """max_tokens_per_gpu for the library: NaN for None, else the number as a float (0 and
    fractions are used as given, as upstream does)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2 ** 53:
        raise ValueError(f"vramfit: max_tokens_per_gpu must be a number from 0 to 2**53 or None, got {value!r}")
    return float(value)


class _Facts:
    """The model facts for one method, in both modes, read once from the headers."""

    def __init__(self, model_path, method):
        with _Model(model_path) as m:
            self.th_path = _s(_lib.vf_th_model_path(m, _b(model_path)))
            self.exact = self._facts(m, method, None)
            self.lm_head = ctypes.c_uint64()
            self.training_hub = self._facts(m, method, self.th_path)
            fam = _native.VfFamily()
            _lib.vf_family_detect(m, ctypes.byref(fam))
            self.detected_family = _s(fam.name)
        self.path_family = _s(_lib.vf_th_path_family(_b(self.th_path), None))

    def _facts(self, m, method, th_path):
        out = _native.VfEstModel()
        err = _native.VfError()
        if th_path is None:
            rc = _lib.vf_est_model_from(m, method, None, 1, ctypes.byref(out), ctypes.byref(err))
        else:
            rc = _lib.vf_est_model_training_hub(m, _b(th_path), method, 1, ctypes.byref(out),
                                                ctypes.byref(self.lm_head), ctypes.byref(err))
        if rc != 0:
            raise VramfitError(err)
        return out


def _patterns(family):
    fam = _native.VfFamily()
    if not _lib.vf_family_by_name(_b(family), ctypes.byref(fam)):
        return []
    arr = ctypes.cast(fam.patterns, ctypes.POINTER(ctypes.c_char_p))
    out, i = [], 0
    while arr[i] is not None:
        out.append(arr[i].decode())
        i += 1
    return out


class BasicEstimator:
    """
    An estimator for the memory usage of a typical LLM training pass via SFT.
    Estimators for other methods can subclass this class.

    Args:
        num_gpus (int): Number of GPUs to use for training (default: 8)
        gpu_memory (int): The VRAM of each GPU in bytes (default: 85899345920 for 80 GB)
        model_path (str): HuggingFace model path to the model to fine-tune
                        (default: "ibm-granite/granite-3.3-8b-instruct")
        batch_size (int): The number of samples in a minibatch that the model
                            has to see before backpropping.
        max_seq_len (int): Maximum sequence length of dataset samples
        max_tokens_per_gpu (int): The maximum number of tokens that can be placed
                                on a single GPU during each mini-batch.
        use_liger (bool): If true, estimate assuming Liger Kernels are used.
        verbose (int): The level of verbosity to print out. Set to 0 for no printing,
                        set to 1 to print out only hardware recommendations,
                        set to 2 for a detailed memory breakdown.
        compat (keyword only, vramfit): None for vramfit's exact counts, "training-hub" for
                        Training Hub's own numbers and text.
    """

    _METHOD = "sft"

    def __init__(
        self,
        num_gpus: int = 8,
        gpu_memory: int = 85899345920,
        model_path: str = "ibm-granite/granite-3.3-8b-instruct",
        batch_size: int | None = None,
        max_seq_len: int | None = None,
        max_tokens_per_gpu: int | None = None,
        use_liger: bool = False,
        verbose: int = 1,
        trust_remote_code: bool = False,
        *,
        compat: str | None = None,
    ):
        del trust_remote_code  # nothing is loaded or executed: the headers are read
        self.num_gpus = num_gpus
        self.gpu_memory = gpu_memory
        self.model_path = model_path
        self.use_liger = use_liger
        self.verbose = verbose
        self.compat = compat
        self._compat = _compat_code(self.compat)
        self._batch_size, self._max_seq_len, self._max_tokens = batch_size, max_seq_len, max_tokens_per_gpu
        self._lora_r, self.unfreeze_rank_ratio = 32, 0.25

        self._facts = _Facts(model_path, _METHODS[self._METHOD])
        f = self._model_facts
        self.num_params: int = f.parameters
        self.num_trainable_params: int = f.parameters
        self.num_layers: int = f.layers
        self.hidden_size: int = f.hidden_size
        self.vocab_size: int = f.vocab_size

        self.output_constant = 8 / 3
        self.main_dtype_bytes = FLOAT32_BYTES_N
        self.opt_params = ADAMW_PARAMS_N
        self.LOW_MULTIPLIER = 1.0
        self.MEDIUM_MULTIPLIER = 1.1
        self.HIGH_MULTIPLIER = 1.3
        self._resolve_tokens_per_gpu(batch_size, max_seq_len, max_tokens_per_gpu)

    @property
    def _model_facts(self):
        return self._facts.training_hub if self._compat == _COMPAT_TRAINING_HUB else self._facts.exact

    @property
    def _unit(self):
        return " GB" if self._compat == _COMPAT_TRAINING_HUB else " GiB"

    def _find_valid_layers(self):
        """The target patterns Training Hub's path rule picks (compat) or the detected family's."""
        fam = self._facts.path_family if self._compat == _COMPAT_TRAINING_HUB else self._facts.detected_family
        return _patterns(fam)

    # ---- the library call ---------------------------------------------------------------------

    def _setup(self):
        if isinstance(self.num_gpus, (int, float)) and not isinstance(self.num_gpus, bool) and self.num_gpus == 0:
            raise ZeroDivisionError("division by zero")  # what upstream's "/ self.num_gpus" raises
        return _native.VfEstSetup(
            _VF_EST_SETUP_VERSION, _METHODS[self._METHOD], _count("num_gpus", self.num_gpus, 1, 2 ** 32 - 1),
            _count("gpu_memory", self.gpu_memory, 1, 2 ** 64 - 1),
            0, _count("batch_size", self._batch_size, 1, 2 ** 53) if self._batch_size is not None else 0,
            _count("max_seq_len", self._max_seq_len, 1, 2 ** 53) if self._max_seq_len is not None else 0,
            _count("lora_r", self._lora_r, 0, 2 ** 32 - 1), float(self.unfreeze_rank_ratio),
            1 if self.use_liger else 0, _COMPAT_TRAINING_HUB, _tokens(self._max_tokens))

    def _run(self):
        setup = self._setup()
        result = _native.VfEstResult()
        err = _native.VfError()
        model = self._model_facts
        rc = _lib.vf_estimate(ctypes.byref(model), ctypes.byref(setup), ctypes.byref(result), ctypes.byref(err))
        if rc == VF_ERR_USAGE:
            raise ValueError(err.message.decode())  # upstream's ValueError, upstream's message
        if rc != 0:
            raise VramfitError(err)
        return result

    def _resolve_tokens_per_gpu(self, batch_size, max_seq_len, max_tokens_per_gpu):
        """Validates the token settings (upstream's ValueError) and sets tokens_per_gpu."""
        r = self._run()
        self.tokens_per_gpu = max_tokens_per_gpu if r.tokens_source == _TOKENS_MAX_TOKENS else r.tokens_per_gpu

    # ---- printing (upstream's text) --------------------------------------------------------------

    def _print_subtotal_notes(self, r):
        """Notes upstream prints while computing the subtotal (LoRA and QLoRA override)."""

    def _print_results(self, r):
        """
        Print out a breakdown of the estimated memory requirements
        """
        gb = self._unit
        results = (r.low, r.expected, r.high)
        print("Estimations for " + self.model_path + ":\n\n")

        print("Summary:")
        print("The expected amount of memory needed to run this model is about " +
              ROUNDER(results[1] * self.num_gpus) + gb)
        print("The lower and upper bounds are " +
              ROUNDER(results[0] * self.num_gpus) + " - " +
              ROUNDER(results[2] * self.num_gpus) + gb)
        print("If you have " + str(self.num_gpus) + " GPUs, you will need about " +
              ROUNDER(results[1]) + gb + ", with bounds of " +
              ROUNDER(results[0]) + " - " + ROUNDER(results[2]) + gb + " per GPU")
        print("\n")

        print("Component Breakdown:")
        def comp_str(val, name):
            return "Each GPU will need " + ROUNDER(val) + gb + " to store the " + name
        print(comp_str(r.parameters_f, "model parameters"))
        print(comp_str(r.optimizer_f, "optimizer states"))
        print(comp_str(r.gradients_f, "gradients"))
        print(comp_str(r.activations_f, "intermediate activations"))

        if self.use_liger:
            print("Since Liger Kernels are being used, no additional memory is needed to store the outputs")
        else:
            print(comp_str(r.outputs_f, "outputs"))
        if r.additional_f > 0:
            print("This method also requires each GPU to use an additional " + ROUNDER(r.additional_f) + gb)
        print("Up to " + ROUNDER(r.overhead_f) + gb + " can be expected as overhead")
        if self._compat != _COMPAT_TRAINING_HUB:
            for note in self._vramfit_notes():
                print("vramfit: " + note)

    def _vramfit_notes(self):
        """Where vramfit's exact counts differ from Training Hub's, and why."""
        f = self._facts
        notes = ["sizes are GiB (2^30 bytes); Training Hub prints the same numbers labelled GB"]
        if f.exact.parameters != f.training_hub.parameters:
            notes.append(f"P = {f.exact.parameters:,} parameters includes the untied lm_head ({f.lm_head.value:,}) "
                         f"stored in the checkpoint; Training Hub's headless AutoModel leaves it out "
                         f"(P = {f.training_hub.parameters:,}; compat='training-hub' reproduces that)")
        if self._METHOD != "sft" and (f.exact.lora_dim_sum, f.exact.osft_params) != \
                (f.training_hub.lora_dim_sum, f.training_hub.osft_params) and f.detected_family != f.path_family:
            notes.append(f"targets of the '{f.detected_family}' family detected from the tensor names; "
                         f"Training Hub's rule on the path string {f.th_path!r} picks '{f.path_family}', "
                         f"counting different targets (compat='training-hub' reproduces that)")
        return notes

    def _print_tips(self, r):
        """
        Print out information on how feasible it is to train the model on
        the user's given hardware and, if necessary, recommend the necessary
        amount of additional memory.
        """
        gb = self._unit
        results = (r.low, r.expected, r.high)
        min_message = "Minimum extra memory required (to reach the low bound of memory requirements): " + \
            ROUNDER(results[0] - self.gpu_memory) + gb
        mid_message = "Recommended amount of extra memory (to reach the likely estimated memory requirements): " + \
            ROUNDER(results[1] - self.gpu_memory) + gb
        max_message = "Ideal amount of extra memory required (to reach the upper bound of memory requirements): " + \
            ROUNDER(results[2] - self.gpu_memory) + gb

        print("\nDecision:")

        if results[2] <= self.gpu_memory:
            print("The proposed training setup should work for your hardware.\n")
        elif results[1] <= self.gpu_memory:
            print("The proposed training setup will likely work for your hardware.\n")
            print(max_message)
        elif results[0] <= self.gpu_memory:
            print("The proposed training setup may work but isn't recommended for your hardware.\n")
            print(mid_message)
            print(max_message)
        else:
            print("The proposed training setup is impossible for your hardware.\n\n")
            print(min_message)
            print(mid_message)
            print(max_message)

    def estimate(self) -> tuple[int, int, int]:
        """
        Calculate the memory needed to fine tune the given model for the
        given hyperparameters. After that, determine how possible it is for
        the given hardware to run the model, and note how much more memory
        is needed to make the training more feasible.

        Note that this estimate assumes training_hub will be used,
        in which all data types are float32 and the optimizer is always AdamW.

        Return:
            A tuple containing three values:
                lower_bound (int): The lower bound of the memory usage (in bytes)
                expected (int): The expected amount of memory usage (in bytes)
                upper_bound (int): The upper bound of the memory usage (in bytes)
        """
        r = self._run()
        self._print_subtotal_notes(r)
        if self.verbose > 1:
            self._print_results(r)
        if self.verbose > 0:
            self._print_tips(r)
        return int(r.low), int(r.expected), int(r.high)


class LoRAEstimator(BasicEstimator):
    """
    An estimator for the memory usage of an LLM trained via LoRA.
    Subclasses the BasicEstimator class.

    Args (in addition to the BasicEstimator args):
        lora_r (int): The rank size of LoRA's approximation matrices
    """

    _METHOD = "lora"

    def __init__(
        self,
        num_gpus: int = 8,
        gpu_memory: int = 85899345920,
        model_path: str = "ibm-granite/granite-3.3-8b-instruct",
        batch_size: int | None = None,
        max_seq_len: int | None = None,
        use_liger: bool = False,
        verbose: int = 1,
        trust_remote_code: bool = False,
        lora_r: int = 32,
        *,
        compat: str | None = None,
    ):
        self._pending_lora_r = lora_r
        super().__init__(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                         max_seq_len=max_seq_len, max_tokens_per_gpu=None, use_liger=use_liger, verbose=verbose,
                         trust_remote_code=trust_remote_code, compat=compat)
        self.LOW_MULTIPLIER = 0.95
        self.MEDIUM_MULTIPLIER = 1.1
        self.HIGH_MULTIPLIER = 1.2
        self.output_constant = 2
        self.main_dtype_bytes = FLOAT16_BYTES_N
        self.model_bytes = FLOAT16_BYTES_N
        self.weight_size_total = self._model_facts.lora_dim_sum
        self.AB_params = self.weight_size_total * lora_r

    def _resolve_tokens_per_gpu(self, batch_size, max_seq_len, max_tokens_per_gpu):
        self._lora_r = self._pending_lora_r
        super()._resolve_tokens_per_gpu(batch_size, max_seq_len, max_tokens_per_gpu)

    def _print_subtotal_notes(self, r):
        gb = self._unit
        if self.verbose > 0:
            if r.peak_rule == _PEAK_DROP_OUTPUTS:
                print("NOTE: The peak memory allocation of the output tensors is " + ROUNDER(r.peak_dropped_f) + gb + ".")
                print("However, in practice, this allocation does not impact the peak memory usage since the "
                      "gradient allocation is higher.")
                print("To reduce memory usage, focus on reducing the gradient allocation first.\n")
            else:
                print("NOTE: The peak memory allocation of the gradient tensors is " + ROUNDER(r.peak_dropped_f) + gb + ".")
                print("However, in practice, this allocation does not impact the peak memory usage since the "
                      "output allocation is higher.")
                print("To reduce memory usage, focus on reducing the output allocation first.\n")

    def _print_results(self, r):
        if self.verbose > 0:
            print("NOTE: Due to its memory efficiency, " +
                  "LoRA's lower bound estimate is lower than the basic sum of the components.\n")
        super()._print_results(r)


class QLoRAEstimator(LoRAEstimator):
    """
    An estimator for the memory usage of an LLM trained via QLoRA.
    It's the same as LoRA, just with a smaller data for the model.
    """

    _METHOD = "qlora"

    def __init__(
        self,
        num_gpus: int = 8,
        gpu_memory: int = 85899345920,
        model_path: str = "ibm-granite/granite-3.3-8b-instruct",
        batch_size: int | None = None,
        max_seq_len: int | None = None,
        use_liger: bool = False,
        verbose: int = 1,
        trust_remote_code: bool = False,
        lora_r: int = 32,
        *,
        compat: str | None = None,
    ):
        super().__init__(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                         max_seq_len=max_seq_len, use_liger=use_liger, verbose=verbose,
                         trust_remote_code=trust_remote_code, lora_r=lora_r, compat=compat)
        self.HIGH_MULTIPLIER = 1.3
        self.model_bytes = FLOAT4_BYTES_N

    def _print_subtotal_notes(self, r):
        super()._print_subtotal_notes(r)
        if r.model_bound and self.verbose > 0:
            print("NOTE: The memory needed for this QLoRA training setup is bounded by the pre-quantized size "
                  "of the model.")
            print("You can only reduce the memory further by using a smaller model.\n")


class OSFTEstimator(BasicEstimator):
    """
    An estimator for the memory usage of an LLM trained via OSFT.
    Subclasses the BasicEstimator class. Note that OSFT uses Liger Kernels, so use_liger
    is set to True by default.

    Args (in addition to the BasicEstimator args):
        unfreeze_rank_ratio (float): The portion of the weight matrix that is unfrozen
                                    during OSFT.
    """

    _METHOD = "osft"

    def __init__(
        self,
        num_gpus: int = 8,
        gpu_memory: int = 85899345920,
        model_path: str = "ibm-granite/granite-3.3-8b-instruct",
        batch_size: int | None = None,
        max_seq_len: int | None = None,
        max_tokens_per_gpu: int | None = None,
        use_liger: bool = True,
        verbose: int = 1,
        trust_remote_code: bool = False,
        unfreeze_rank_ratio: float = 0.25,
        *,
        compat: str | None = None,
    ):
        self._pending_ratio = unfreeze_rank_ratio
        super().__init__(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                         max_seq_len=max_seq_len, max_tokens_per_gpu=max_tokens_per_gpu, use_liger=use_liger,
                         verbose=verbose, trust_remote_code=trust_remote_code, compat=compat)
        self.output_constant = 7 / 3
        self.target_terms = self._find_valid_layers()
        self.osft_params = self._model_facts.osft_params * FLOAT32_BYTES_N  # bytes, as upstream stores it

    def _resolve_tokens_per_gpu(self, batch_size, max_seq_len, max_tokens_per_gpu):
        self.unfreeze_rank_ratio = self._pending_ratio
        super()._resolve_tokens_per_gpu(batch_size, max_seq_len, max_tokens_per_gpu)


class OSFTEstimatorExperimental(OSFTEstimator):
    def __init__(self,
                 num_gpus: int = 8,
                 gpu_memory: int = 85899345920,
                 model_path: str = "ibm-granite/granite-3.3-8b-instruct",
                 batch_size: int | None = None,
                 max_seq_len: int | None = None,
                 max_tokens_per_gpu: int | None = None,
                 use_liger: bool = True,
                 verbose: int = 1,
                 trust_remote_code: bool = False,
                 unfreeze_rank_ratio: float = 0.25,
                 *,
                 compat: str | None = None,
                 ):
        reason = "All experimental functionality has been moved into the main OSFTEstimator class, " + \
            "please use that instead.\nIf you are seeing this by using the 'osft-e' option in the " + \
            "estimate function, please use 'osft' instead."
        warnings.warn(reason, category=DeprecationWarning, stacklevel=2)
        super().__init__(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                         max_seq_len=max_seq_len, max_tokens_per_gpu=max_tokens_per_gpu, use_liger=use_liger,
                         verbose=verbose, trust_remote_code=trust_remote_code,
                         unfreeze_rank_ratio=unfreeze_rank_ratio, compat=compat)


_CLASSES = {c.__name__: c for c in (BasicEstimator, LoRAEstimator, QLoRAEstimator, OSFTEstimator,
                                     OSFTEstimatorExperimental)}


def _init_defaulting(init, default_compat):
    """init with compat defaulting to default_compat (signature included)."""
    @functools.wraps(init)
    def __init__(self, *args, compat=default_compat, **kwargs):
        init(self, *args, compat=compat, **kwargs)
    sig = inspect.signature(init)
    __init__.__signature__ = sig.replace(parameters=[
        p.replace(default=default_compat) if p.name == "compat" else p for p in sig.parameters.values()])
    return __init__


def with_default_compat(default_compat, module):
    """The five classes again, as subclasses whose compat defaults to `default_compat`, keeping
    upstream's hierarchy (QLoRAEstimator is a LoRAEstimator is a BasicEstimator, ...)."""
    made = {}
    for name, cls in _CLASSES.items():
        bases = (cls,) + tuple(made[b.__name__] for b in cls.__bases__ if b.__name__ in made)
        made[name] = type(name, bases, {"__init__": _init_defaulting(cls.__init__, default_compat),
                                        "__doc__": cls.__doc__, "__module__": module, "__qualname__": name})
    return made


def dispatch(classes, training_method, num_gpus, gpu_memory, model_path, batch_size, max_seq_len,
             max_tokens_per_gpu, use_liger, verbose, trust_remote_code, unfreeze_rank_ratio, lora_r, compat):
    """Upstream's estimate() dispatch: 'osft', 'osft-e', 'lora', 'qlora'; anything else is SFT."""
    common = dict(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                  max_seq_len=max_seq_len, verbose=verbose, trust_remote_code=trust_remote_code, compat=compat)
    method = training_method.lower()
    if method in ("osft", "osft-e"):
        cls = classes["OSFTEstimator" if method == "osft" else "OSFTEstimatorExperimental"]
        estimator = cls(max_tokens_per_gpu=max_tokens_per_gpu, use_liger=True if use_liger is None else use_liger,
                        unfreeze_rank_ratio=unfreeze_rank_ratio, **common)
    elif method in ("lora", "qlora"):
        cls = classes["LoRAEstimator" if method == "lora" else "QLoRAEstimator"]
        estimator = cls(use_liger=False if use_liger is None else use_liger, lora_r=lora_r, **common)
    else:
        estimator = classes["BasicEstimator"](max_tokens_per_gpu=max_tokens_per_gpu,
                                              use_liger=False if use_liger is None else use_liger, **common)
    return estimator.estimate()


def estimate(
        training_method: str = "sft",
        num_gpus: int = 8,
        gpu_memory: int = 85899345920,
        model_path: str = "ibm-granite/granite-3.3-8b-instruct",
        batch_size: int | None = None,
        max_seq_len: int | None = None,
        max_tokens_per_gpu: int | None = None,
        use_liger: bool = None,
        verbose: int = 1,
        trust_remote_code: bool = False,
        unfreeze_rank_ratio: float = 0.25,
        lora_r: int = 32,
        *,
        compat: str | None = None,
):
    """
    Convenience function for performing estimation: Training Hub's estimate(). compat as for
    BasicEstimator (vramfit's exact counts unless compat="training-hub").

    Return:
        A tuple containing three values:
            lower_bound (int): The lower bound of the memory usage (in bytes)
            expected (int): The expected amount of memory usage (in bytes)
            upper_bound (int): The upper bound of the memory usage (in bytes)
    """
    return dispatch(_CLASSES, training_method, num_gpus, gpu_memory, model_path, batch_size, max_seq_len,
                    max_tokens_per_gpu, use_liger, verbose, trust_remote_code, unfreeze_rank_ratio, lora_r, compat)
