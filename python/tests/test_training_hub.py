"""vramfit's Training Hub drop-in against Training Hub's own memory_estimator.py.

The oracle is upstream's file, vendored unmodified in upstream/ (main f793034, file last changed in
04ec040) and run with stand-ins for torch/transformers/mini_trainer/pandas (th_harness.py, which
reads the headers with the standard library). Every comparison is: the same return value (tuple of
ints, or the same exception type and message), the same stdout byte for byte and the same
DeprecationWarnings. Upstream's "No CSV file found ... may require downloading the model"
UserWarning is about its CSV cache and model download, which vramfit does not have; it is the only
warning not compared.

Environment (set by ctest): VRAMFIT_LIBRARY, VRAMFIT_CLI, VRAMFIT_GEN, VRAMFIT_SOURCE.
"""
import inspect
import itertools
import json
import os
import subprocess
import sys
import tempfile
import unittest
import warnings

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, ".."))
sys.path.insert(0, _HERE)
import th_harness  # noqa: E402
import vramfit  # noqa: E402
import vramfit.training_hub  # noqa: E402
from vramfit.training_hub.profiling import memory_estimator as mirror  # noqa: E402

CLI = os.environ["VRAMFIT_CLI"]
GEN = os.environ["VRAMFIT_GEN"]
SRC = os.environ["VRAMFIT_SOURCE"]
GIB = 1 << 30
UP = th_harness.load_upstream()
# The dense and MoE causal LMs of the generator (quantized, multimodal, hybrid and encoder models are
# outside this parity grid) and the bundled real-bytes checkpoints.
MODELS = [os.path.join(GEN, d) for d in ("gpt2", "granite-3.3-2b-instruct", "llama-2-7b", "llama-3.1-70b",
                                         "llama-3.1-8b", "llama-3.2-3b", "mistral-7b-v0.1", "mixtral-8x7b",
                                         "phi-3-mini-4k", "qwen2.5-7b")] + \
    [os.path.join(SRC, "testdata", d) for d in ("tiny-gpt2", "tiny-llama")]
GRANITE = os.path.join(GEN, "granite-3.3-2b-instruct")
# Upstream's CSV-cache warning, outside the comparisons that record warnings (see the docstring).
warnings.filterwarnings("ignore", message="No CSV file found", category=UserWarning)
CLASSES = ("BasicEstimator", "OSFTEstimator", "LoRAEstimator", "QLoRAEstimator", "OSFTEstimatorExperimental")


def outcome(fn, **kwargs):
    value, text, warned = th_harness.run(fn, **kwargs)
    if isinstance(value, Exception):
        value = (type(value), str(value))
    return value, text, [w for w in warned if w[0] is DeprecationWarning]


def cli_compat(path, method, gpus, liger, extra):
    """(low, expected, high) of `vramfit estimate PATH --compat training-hub --json`."""
    cmd = [CLI, "estimate", path, "--compat", "training-hub", "--json", "--method", method, "--gpus", str(gpus),
           "--gpu-memory", f"{80 * GIB}B", *(["--liger"] if liger else ["--no-liger"]), *extra]
    d = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return d["per_gpu"]["low_bytes"], d["per_gpu"]["expected_bytes"], d["per_gpu"]["high_bytes"]


class Parity(unittest.TestCase):
    def assertSame(self, up_fn, mine_fn, **kwargs):
        want = outcome(up_fn, **kwargs)
        got = outcome(mine_fn, **kwargs)
        self.assertEqual(got[0], want[0], kwargs)
        self.assertEqual(got[1], want[1], kwargs)
        self.assertEqual(got[2], want[2], kwargs)
        return want


class SignatureTest(unittest.TestCase):
    def params(self, fn):
        return [(n, p.default, p.kind) for n, p in inspect.signature(fn).parameters.items()]

    def test_same_parameters_defaults_and_order_then_keyword_only_compat(self):
        for name in CLASSES + ("estimate",):
            up = getattr(UP, name)
            for mod, compat in ((vramfit, None), (mirror, "training-hub")):
                with self.subTest(name=name, module=mod.__name__):
                    mine = self.params(getattr(mod, name))
                    self.assertEqual(mine[:-1], self.params(up))
                    self.assertEqual(mine[-1], ("compat", compat, inspect.Parameter.KEYWORD_ONLY))

    def test_both_import_paths_and_the_class_hierarchy(self):
        from vramfit import BasicEstimator, LoRAEstimator, QLoRAEstimator  # noqa: F401
        from vramfit.training_hub import OSFTEstimator, estimate  # noqa: F401
        self.assertTrue(issubclass(mirror.QLoRAEstimator, mirror.LoRAEstimator))
        self.assertTrue(issubclass(mirror.OSFTEstimatorExperimental, mirror.OSFTEstimator))
        self.assertTrue(issubclass(mirror.OSFTEstimator, mirror.BasicEstimator))
        self.assertTrue(issubclass(mirror.BasicEstimator, vramfit.BasicEstimator))
        self.assertEqual(mirror.ROUNDER(27.94 * GIB), UP.ROUNDER(27.94 * GIB))


class NotebookTest(Parity):
    """Training Hub's example notebook (examples/notebooks/memory_estimator_example.ipynb at
    04ec040), every cell, on the generated granite-3.3-2b-instruct, at verbose 0, 1 and 2."""

    NB = dict(num_gpus=2, gpu_memory=48 * (2 ** 30), model_path=GRANITE)

    def test_classes(self):
        cells = [("BasicEstimator", dict(max_tokens_per_gpu=8192)),
                 ("OSFTEstimator", dict(max_tokens_per_gpu=8192, unfreeze_rank_ratio=0.25)),
                 ("OSFTEstimator", dict(max_tokens_per_gpu=8192, use_liger=True, unfreeze_rank_ratio=0.25)),
                 ("LoRAEstimator", dict(batch_size=4, max_seq_len=4096, lora_r=32)),
                 ("QLoRAEstimator", dict(batch_size=4, max_seq_len=4096, lora_r=32)),
                 ("OSFTEstimatorExperimental", dict(max_tokens_per_gpu=8192)),  # not in the notebook: deprecated
                 ("OSFTEstimator", dict(max_tokens_per_gpu=8192, use_liger=False)),
                 ("LoRAEstimator", dict(batch_size=4, max_seq_len=4096, use_liger=True))]
        for (name, kw), verbose in itertools.product(cells, (0, 1, 2)):
            with self.subTest(name=name, verbose=verbose, **kw):
                args = dict(self.NB, verbose=verbose, **kw)
                want = self.assertSame(lambda **a: getattr(UP, name)(**a).estimate(),
                                       lambda **a: getattr(mirror, name)(**a).estimate(), **args)
                self.assertEqual(len(want[0]), 3)
                self.assertTrue(all(type(x) is int for x in want[0]))

    def test_estimate_every_method(self):
        for method, verbose in itertools.product(("sft", "osft", "lora", "qlora", "osft-e", "SFT", "dpo"), (0, 1, 2)):
            with self.subTest(method=method, verbose=verbose):
                self.assertSame(UP.estimate, mirror.estimate, training_method=method, verbose=verbose,
                                max_tokens_per_gpu=8192, batch_size=4, max_seq_len=4096, **self.NB)

    def test_article_figures(self):
        _, text, _ = outcome(mirror.BasicEstimator(verbose=2, max_tokens_per_gpu=8192, **self.NB).estimate)
        for line in ("The expected amount of memory needed to run this model is about 55.8 GB",
                     "The lower and upper bounds are 50.8 - 66.0 GB",
                     "If you have 2 GPUs, you will need about 27.9 GB, with bounds of 25.4 - 33.0 GB per GPU",
                     "Up to 7.6 GB can be expected as overhead"):
            self.assertIn(line + "\n", text)

    def test_osft_e_warns_like_upstream(self):
        _, _, warned = outcome(mirror.estimate, training_method="osft-e", max_tokens_per_gpu=8192, verbose=0,
                               **self.NB)
        self.assertEqual(len(warned), 1)
        self.assertIn("please use 'osft' instead", warned[0][1])


class GridTest(Parity):
    """Every generated and bundled model x method x Liger x G x GPU memory x verbose, and the edge
    inputs (ratio 0 and 1, lora_r 0, max_tokens_per_gpu 0 and fractional, the token errors)."""

    def test_estimate_grid(self):
        for path, method, liger, gpus, mem in itertools.product(
                MODELS, ("sft", "osft", "lora", "qlora"), (None, False, True), (1, 2, 8), (48 * GIB, GIB // 2)):
            with self.subTest(path=os.path.basename(path), method=method, liger=liger, gpus=gpus, mem=mem):
                for verbose in (2,):  # the fullest printout; the return value does not depend on it
                    self.assertSame(UP.estimate, mirror.estimate, training_method=method, num_gpus=gpus,
                                    gpu_memory=mem, model_path=path, batch_size=4, max_seq_len=4096,
                                    max_tokens_per_gpu=8192, use_liger=liger, verbose=verbose)

    def test_edge_inputs(self):
        osft = dict(training_method="osft", max_tokens_per_gpu=4096)
        edges = [dict(osft, unfreeze_rank_ratio=0), dict(osft, unfreeze_rank_ratio=1),
                 dict(osft, unfreeze_rank_ratio=1.5), dict(osft, unfreeze_rank_ratio=-0.1),
                 dict(osft, unfreeze_rank_ratio=0, use_liger=False),
                 dict(training_method="lora", lora_r=0, batch_size=4, max_seq_len=4096),
                 dict(training_method="qlora", lora_r=0, batch_size=4, max_seq_len=4096),
                 dict(training_method="qlora", lora_r=1, batch_size=1, max_seq_len=1),
                 dict(training_method="sft", max_tokens_per_gpu=0), dict(training_method="osft", max_tokens_per_gpu=0),
                 dict(training_method="sft", max_tokens_per_gpu=1000.5),
                 dict(training_method="sft", max_tokens_per_gpu=8192, batch_size=3, max_seq_len=1001),
                 dict(training_method="sft", max_tokens_per_gpu=100, batch_size=3, max_seq_len=1001),
                 dict(training_method="sft", batch_size=3, max_seq_len=1001),
                 dict(training_method="sft", batch_size=3), dict(training_method="sft"),
                 dict(training_method="lora", max_tokens_per_gpu=8192), dict(training_method="osft"),
                 dict(training_method="lora", lora_r=7, batch_size=3, max_seq_len=1001, use_liger=True),
                 dict(training_method="unknown", max_tokens_per_gpu=8192)]
        for path, edge, verbose, gpus in itertools.product(MODELS[:3] + MODELS[-2:], edges, (0, 2), (1, 3)):
            with self.subTest(path=os.path.basename(path), verbose=verbose, gpus=gpus, **edge):
                self.assertSame(UP.estimate, mirror.estimate, model_path=path, num_gpus=gpus, gpu_memory=24 * GIB,
                                verbose=verbose, **edge)

    def test_path_rule_reads_the_path_string(self):
        """A Llama checkpoint under a path containing 'opt' gets OPT's patterns upstream (its
        substring rule); the mirror and the CLI's --compat do the same, vramfit's default does not."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "opt-models", "my-8b")
            os.makedirs(os.path.dirname(path))
            os.symlink(os.path.join(GEN, "llama-3.1-8b"), path)
            for method, verbose in itertools.product(("osft", "lora", "qlora"), (0, 2)):
                with self.subTest(method=method, verbose=verbose):
                    kw = dict(max_tokens_per_gpu=4096) if method == "osft" else dict(batch_size=4, max_seq_len=1024)
                    want = self.assertSame(UP.estimate, mirror.estimate, training_method=method, model_path=path,
                                           num_gpus=2, verbose=verbose, **kw)
                    self.assertNotEqual(vramfit.estimate(training_method=method, model_path=path, num_gpus=2,
                                                         verbose=0, **kw), want[0])
                    extra = [a for k, v in kw.items() for a in ("--" + k.replace("_", "-"), str(v))]
                    self.assertEqual(cli_compat(path, method, 2, method == "osft", extra), want[0])

    def test_missing_path_raises_oserror_like_upstream(self):
        for fn in (UP.estimate, mirror.estimate, vramfit.estimate):
            with self.assertRaises(OSError):
                fn(model_path="/nonexistent/model", max_tokens_per_gpu=8192, verbose=0)
        with self.assertRaises(vramfit.VramfitError):
            vramfit.BasicEstimator(model_path="/nonexistent/model", max_tokens_per_gpu=8192)


class CliTest(unittest.TestCase):
    """`vramfit estimate --compat training-hub --json` gives upstream's (low, expected, high)."""

    def test_cli_grid(self):
        knobs = {"sft": [{}], "osft": [dict(unfreeze_rank_ratio=0.25), dict(unfreeze_rank_ratio=1.0)],
                 "lora": [dict(lora_r=8), dict(lora_r=32)], "qlora": [dict(lora_r=8), dict(lora_r=64)]}
        for path, method, liger, gpus, tokens in itertools.product(
                MODELS, ("sft", "osft", "lora", "qlora"), (False, True), (1, 8), (8192,)):
            for knob in knobs[method]:
                with self.subTest(path=os.path.basename(path), method=method, liger=liger, gpus=gpus, tokens=tokens,
                                  **knob):
                    kw = dict(max_tokens_per_gpu=tokens) if method in ("sft", "osft") else \
                        dict(batch_size=tokens // 512, max_seq_len=512)
                    want = UP.estimate(training_method=method, num_gpus=gpus, gpu_memory=80 * GIB, model_path=path,
                                       use_liger=liger, verbose=0, **kw, **knob)
                    extra = [a for k, v in dict(kw, **knob).items() for a in ("--" + k.replace("_", "-"), str(v))]
                    self.assertEqual(cli_compat(path, method, gpus, liger, extra), want)


class DefaultModeTest(unittest.TestCase):
    """compat=None: vramfit's exact counts, the same as the CLI without --compat."""

    def test_exact_counts_equal_the_cli_and_notes_say_why_they_differ(self):
        llama = os.path.join(GEN, "llama-3.1-8b")
        for cls, method, kw in ((vramfit.BasicEstimator, "sft", dict(max_tokens_per_gpu=8192)),
                                (vramfit.OSFTEstimator, "osft", dict(max_tokens_per_gpu=8192)),
                                (vramfit.LoRAEstimator, "lora", dict(batch_size=4, max_seq_len=4096)),
                                (vramfit.QLoRAEstimator, "qlora", dict(batch_size=4, max_seq_len=4096))):
            with self.subTest(method=method):
                value, text, _ = outcome(cls(num_gpus=2, gpu_memory=48 * GIB, model_path=llama, verbose=2, **kw).estimate)
                args = [a for k, v in kw.items() for a in ("--" + k.replace("_", "-"), str(v))]
                cmd = [CLI, "estimate", llama, "--json", "--method", method, "--gpus", "2", "--gpu-memory",
                       f"{48 * GIB}B", *args]
                d = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["per_gpu"]
                self.assertEqual(value, (d["low_bytes"], d["expected_bytes"], d["high_bytes"]))
                self.assertNotEqual(value, UP.estimate(training_method=method, num_gpus=2, gpu_memory=48 * GIB,
                                                       model_path=llama, verbose=0, **kw))
                self.assertIn(" GiB\n", text)
                self.assertIn("vramfit: P = 8,030,261,248 parameters includes the untied lm_head (525,336,576)", text)


if __name__ == "__main__":
    unittest.main()
