"""Mirror of ``training_hub.profiling``: see ``memory_estimator``."""
