"""Mirror of the ``training_hub`` names its memory-estimator notebook imports
(``from training_hub import BasicEstimator, OSFTEstimator, LoRAEstimator, QLoRAEstimator, estimate``),
with Training Hub's own numbers by default (compat="training-hub")."""
from .profiling.memory_estimator import (BasicEstimator, LoRAEstimator, OSFTEstimator,  # noqa: F401
                                         OSFTEstimatorExperimental, QLoRAEstimator, estimate)

__all__ = ["BasicEstimator", "OSFTEstimator", "LoRAEstimator", "QLoRAEstimator", "OSFTEstimatorExperimental",
           "estimate"]
