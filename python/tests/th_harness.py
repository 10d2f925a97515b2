"""Runs Training Hub's own memory_estimator.py (vendored unmodified in upstream/, see its README)
with stand-ins for the imports that cannot be installed here. The stand-in model is built from the
safetensors headers with the standard library only, independently of vramfit."""
import contextlib
import functools
import importlib.util
import io
import json
import os
import struct
import sys
import types
import warnings

_HERE = os.path.dirname(os.path.abspath(__file__))

_LLAMA = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
          "mlp.up_proj", "mlp.down_proj"]
# mini_trainer's osft_utils.MODEL_CONFIGS: keys in dict order and their patterns
# (shared/reference/target-families.md); only 'patterns' is read by the estimator.
MODEL_CONFIGS = {
    "llama": {"patterns": _LLAMA},
    "gpt2": {"patterns": ["attn.c_proj", "attn.c_attn", "mlp.c_fc", "mlp.c_proj"]},
    "mistral": {"patterns": _LLAMA},
    "gpt-j": {"patterns": ["attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "mlp.fc_in",
                           "mlp.fc_out"]},
    "gpt-neo": {"patterns": ["attn.attention.q_proj", "attn.attention.k_proj", "attn.attention.v_proj",
                             "attn.attention.out_proj", "mlp.c_fc", "mlp.c_proj"]},
    "opt": {"patterns": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                         "fc1", "fc2"]},
    "qwen": {"patterns": _LLAMA},
    "gemma": {"patterns": _LLAMA},
    "phi3": {"patterns": ["self_attn.o_proj", "self_attn.qkv_proj", "mlp.gate_up_proj", "mlp.down_proj"]},
    "granite": {"patterns": _LLAMA},
    "gpt-oss": {"patterns": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"]},
    "qwen3_5": {"patterns": _LLAMA + ["linear_attn.out_proj"]},
    "default": {"patterns": _LLAMA},
}

# Base-model prefixes that AutoModel (the headless model) drops from checkpoint names.
_BASE_PREFIXES = ("model.", "transformer.")


class FakeTensor:
    def __init__(self, shape):
        self.shape = list(shape)

    def dim(self):
        return len(self.shape)

    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n


@functools.lru_cache(maxsize=None)
def _read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def _is_buffer(name, shape):
    """Non-persistent buffers that checkpoints may still carry (GPT-2's causal mask, rotary tables)."""
    return name.endswith("rotary_emb.inv_freq") or name.endswith("attn.masked_bias") or \
        (name.endswith("attn.bias") and len(shape) == 4)


class _Config:
    _ALIASES = {"num_hidden_layers": "n_layer", "hidden_size": "n_embd"}  # GPT2Config.attribute_map

    def __init__(self, d):
        self._d = d

    def __getattr__(self, key):
        d = self.__dict__["_d"]
        if key in d:
            return d[key]
        if key in self._ALIASES and self._ALIASES[key] in d:
            return d[self._ALIASES[key]]
        raise AttributeError(key)


class FakeModel:
    """What AutoModel.from_pretrained(path, device_map="meta") gives the estimator."""

    def __init__(self, path):
        if not os.path.isdir(path):
            raise OSError(f"{path} is not a local folder and is not a valid model identifier")
        with open(os.path.join(path, "config.json")) as f:
            self.config = _Config(json.load(f))
        self._state = {}
        for fn in sorted(os.listdir(path)):
            if not fn.endswith(".safetensors"):
                continue
            for name, info in _read_header(os.path.join(path, fn)).items():
                if name == "__metadata__" or name == "lm_head.weight" or _is_buffer(name, info["shape"]):
                    continue
                for p in _BASE_PREFIXES:
                    if name.startswith(p):
                        name = name[len(p):]
                        break
                self._state[name] = FakeTensor(info["shape"])
        if "embed_tokens.weight" in self._state:
            self.embed_tokens = types.SimpleNamespace(num_embeddings=self._state["embed_tokens.weight"].shape[0])

    def state_dict(self):
        return self._state

    def num_parameters(self, only_trainable=False):
        return sum(t.numel() for t in self._state.values())


class _Device(contextlib.AbstractContextManager):
    def __init__(self, name):
        self.name = name

    def __exit__(self, *exc):
        return False


def _stub_modules():
    torch = types.ModuleType("torch")
    torch.device = _Device
    dist = types.ModuleType("torch.distributed")
    fsdp = types.ModuleType("torch.distributed.fsdp")
    fsdp.ShardingStrategy = types.SimpleNamespace(NO_SHARD="NO_SHARD")
    torch.distributed = dist
    dist.fsdp = fsdp
    transformers = types.ModuleType("transformers")
    transformers.AutoModel = types.SimpleNamespace(
        from_pretrained=lambda path, trust_remote_code=False, device_map=None: FakeModel(path))
    mini = types.ModuleType("mini_trainer")
    osft = types.ModuleType("mini_trainer.osft_utils")
    osft.MODEL_CONFIGS = MODEL_CONFIGS
    mini.osft_utils = osft
    pandas = types.ModuleType("pandas")

    class _Frame:
        @staticmethod
        def from_dict(data, orient=None):
            return types.SimpleNamespace(to_csv=lambda *a, **k: None)  # the CSV cache is never written

    pandas.DataFrame = _Frame
    pandas.read_csv = None  # never reached: the CSV never exists
    typing_extensions = types.ModuleType("typing_extensions")
    typing_extensions.override = lambda f: f
    return {"torch": torch, "torch.distributed": dist, "torch.distributed.fsdp": fsdp,
            "transformers": transformers, "mini_trainer": mini, "mini_trainer.osft_utils": osft,
            "pandas": pandas, "typing_extensions": typing_extensions}


def load_upstream():
    """Training Hub's memory_estimator module, imported from upstream/ with the stand-ins."""
    saved = {k: sys.modules.get(k) for k in _stub_modules()}
    sys.modules.update(_stub_modules())
    try:
        path = os.path.join(_HERE, "upstream", "memory_estimator.py")
        spec = importlib.util.spec_from_file_location("upstream_memory_estimator", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    if os.path.exists(os.path.join(_HERE, "upstream", "model_storage.csv")):
        raise RuntimeError("upstream/model_storage.csv exists: the oracle would read a stale cache")
    return mod


def run(fn, *args, **kwargs):
    """(return value or the exception raised, stdout text, [(category, message)] warned)."""
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            value = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the oracle's exception is part of its behaviour
            value = e
    return value, out.getvalue(), [(w.category, str(w.message)) for w in caught]
