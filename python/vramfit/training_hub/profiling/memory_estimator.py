"""Mirror of ``training_hub.profiling.memory_estimator`` (Training Hub main, 04ec040): the same
public names, signatures and printed text, with Training Hub's own numbers by default
(``compat="training-hub"``); pass ``compat=None`` for vramfit's exact counts.

    from vramfit.training_hub.profiling.memory_estimator import BasicEstimator, estimate
"""
from ..._estimator import (ADAMW_PARAMS_N, FLOAT4_BYTES_N, FLOAT8_BYTES_N, FLOAT16_BYTES_N,  # noqa: F401
                           FLOAT32_BYTES_N, ROUNDER, dispatch, with_default_compat)

_classes = with_default_compat("training-hub", __name__)
BasicEstimator = _classes["BasicEstimator"]
LoRAEstimator = _classes["LoRAEstimator"]
QLoRAEstimator = _classes["QLoRAEstimator"]
OSFTEstimator = _classes["OSFTEstimator"]
OSFTEstimatorExperimental = _classes["OSFTEstimatorExperimental"]

__all__ = ["BasicEstimator", "OSFTEstimator", "LoRAEstimator", "QLoRAEstimator", "OSFTEstimatorExperimental",
           "estimate", "ROUNDER"]


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
        compat: str | None = "training-hub",
):
    """Training Hub's estimate(), with Training Hub's numbers unless compat=None."""
    return dispatch(_classes, training_method, num_gpus, gpu_memory, model_path, batch_size, max_seq_len,
                    max_tokens_per_gpu, use_liger, verbose, trust_remote_code, unfreeze_rank_ratio, lora_r, compat)
