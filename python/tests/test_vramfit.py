"""unittest for the Python binding: every result is checked against the CLI's JSON.

Environment (set by ctest): VRAMFIT_LIBRARY, VRAMFIT_CLI, VRAMFIT_GEN (generated checkpoints),
VRAMFIT_SOURCE (the source tree).
"""
import contextlib
import inspect as pyinspect
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vramfit  # noqa: E402

CLI = os.environ["VRAMFIT_CLI"]
GEN = os.environ["VRAMFIT_GEN"]
SRC = os.environ["VRAMFIT_SOURCE"]
GRANITE = os.path.join(GEN, "granite-3.3-2b-instruct")
GRANITE_SNAP = os.path.join(SRC, "testdata/snapshots/granite-3.3-2b-instruct.vfsnap")
GIB = 1 << 30


def cli_json(*args):
    out = subprocess.run([CLI, *args, "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


class SignatureTest(unittest.TestCase):
    def test_estimate_has_training_hubs_signature_and_defaults(self):
        params = pyinspect.signature(vramfit.estimate).parameters
        expected = [("training_method", "sft"), ("num_gpus", 8), ("gpu_memory", 85899345920),
                    ("model_path", "ibm-granite/granite-3.3-8b-instruct"), ("batch_size", None),
                    ("max_seq_len", None), ("max_tokens_per_gpu", None), ("use_liger", None),
                    ("verbose", 1), ("trust_remote_code", False), ("unfreeze_rank_ratio", 0.25),
                    ("lora_r", 32), ("compat", None)]
        self.assertEqual([(n, p.default) for n, p in params.items()], expected)

    def test_library_version_is_semantic(self):
        self.assertRegex(vramfit.library_version(), r"^\d+\.\d+\.\d+$")


class InspectTest(unittest.TestCase):
    def test_inspect_equals_cli_json(self):
        for path in (GRANITE, GRANITE_SNAP, os.path.join(SRC, "testdata/tiny-gpt2"),
                     os.path.join(GEN, "llama-2-7b"), os.path.join(GEN, "mixtral-8x7b")):
            with self.subTest(path=path):
                self.assertEqual(vramfit.inspect(path, tensors=True, by_layer=True),
                                 cli_json("inspect", path, "--tensors", "--by-layer"))
                self.assertEqual(vramfit.inspect(path), cli_json("inspect", path))
                self.assertEqual(vramfit.inspect(path, tensors=True), cli_json("inspect", path, "--tensors"))
                self.assertEqual(vramfit.inspect(path, by_layer=True), cli_json("inspect", path, "--by-layer"))

    def test_quantized_inspect_equals_cli_json(self):
        for name in ("llama-3.1-8b-bnb-4bit", "llama-3.1-8b-gptq-int4", "gpt-oss-20b"):
            path = os.path.join(GEN, name)
            with self.subTest(path=path):
                d = vramfit.inspect(path, tensors=True, by_layer=True)
                self.assertEqual(d, cli_json("inspect", path, "--tensors", "--by-layer"))
                self.assertIn("quantization", d)
                self.assertTrue(any(t.get("quant") == "metadata" for t in d["tensor_list"]))

    def test_granite_published_numbers(self):
        d = vramfit.inspect(GRANITE_SNAP)
        self.assertEqual(d["parameters"], 2533539840)
        self.assertEqual(d["architecture"]["layers"], 40)
        self.assertTrue(d["architecture"]["tied_embeddings"])

    def test_bad_file_raises_with_file_name(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.safetensors")
            header = b'{"w":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}'
            with open(bad, "wb") as f:
                f.write(len(header).to_bytes(8, "little") + header + b"\0" * 4)
            with self.assertRaises(vramfit.VramfitError) as cm:
                vramfit.inspect(bad)
            self.assertIn("bad.safetensors: tensor 'w': unknown dtype", str(cm.exception))
            self.assertLess(cm.exception.code, 0)


class AdaptersTest(unittest.TestCase):
    """adapters() is the CLI's whole document (the library writes both), not a subset."""

    def test_lora_default_family_matches_cli(self):
        mine = vramfit.adapters(GRANITE)
        self.assertEqual(mine, cli_json("adapters", GRANITE))
        for key in ("schema", "model", "family_targets", "trainable_copies", "layers", "findings", "bias"):
            self.assertIn(key, mine)

    def test_lora_targets_and_rank_match_cli(self):
        llama = os.path.join(GEN, "llama-2-7b")
        mine = vramfit.adapters(llama, rank=8, target=["q_proj", "v_proj"])
        self.assertEqual(mine["parameters"], 4194304)
        self.assertEqual(mine, cli_json("adapters", llama, "-r", "8", "--target", "q_proj,v_proj"))

    def test_lora_regex_and_exclude_match_cli(self):
        llama = os.path.join(GEN, "llama-2-7b")
        self.assertEqual(vramfit.adapters(llama, target="all-linear", exclude="o_proj"),
                         cli_json("adapters", llama, "--target", "all-linear", "--exclude", "o_proj"))
        self.assertEqual(vramfit.adapters(llama, target_regex=r".*\.(q|k)_proj"),
                         cli_json("adapters", llama, "--target-regex", r".*\.(q|k)_proj"))

    def test_osft_matches_cli(self):
        gpt2 = os.path.join(GEN, "gpt2")
        self.assertEqual(vramfit.adapters(gpt2, method="osft", unfreeze_rank_ratio=0.5),
                         cli_json("adapters", gpt2, "--method", "osft", "--unfreeze-rank-ratio", "0.5"))

    def test_osft_with_targets_matches_cli(self):
        llama = os.path.join(GEN, "llama-2-7b")
        mine = vramfit.adapters(llama, method="osft", target="q_proj,down_proj")
        self.assertEqual(mine, cli_json("adapters", llama, "--method", "osft", "--target", "q_proj,down_proj"))
        self.assertEqual(mine["targets"], ["q_proj", "down_proj"])

    def test_typo_in_target_raises(self):
        with self.assertRaises(vramfit.VramfitError) as cm:
            vramfit.adapters(GRANITE, target="q_poj")
        self.assertIn("q_proj", str(cm.exception))


class EstimateTest(unittest.TestCase):
    def test_granite_article_figures(self):
        low, expected, high = vramfit.estimate("sft", num_gpus=2, gpu_memory=48 * GIB, model_path=GRANITE_SNAP,
                                               max_tokens_per_gpu=8192, verbose=0)
        self.assertEqual([round(x / GIB, 1) for x in (low, expected, high)], [25.4, 27.9, 33.0])
        self.assertEqual([round(2 * x / GIB, 1) for x in (low, expected, high)], [50.8, 55.8, 66.0])
        # Training Hub's arithmetic, written out: P=2,533,539,840, L=40, H=2048, V=49159, T=8192, G=2.
        P, L, H, V, T, G = 2533539840, 40, 2048, 49159, 8192, 2
        subtotal = 4 * P / G + 8 * P / G + 4 * P / G + T * 4 * L * H + (T * 4 * V) * (8 / 3)
        self.assertEqual((low, expected, high), (int(1.0 * subtotal), int(1.1 * subtotal), int(1.3 * subtotal)))

    def test_every_method_matches_cli_json(self):
        common = ["--gpus", "2", "--gpu-memory", f"{48 * GIB}B", "--batch-size", "4", "--max-seq-len", "4096"]
        for method in ("sft", "osft", "lora", "qlora"):
            with self.subTest(method=method):
                cli = cli_json("estimate", GRANITE, "--method", method, *common)
                mine = vramfit.estimate(method, num_gpus=2, gpu_memory=48 * GIB, model_path=GRANITE,
                                        batch_size=4, max_seq_len=4096, verbose=0)
                per_gpu = cli["per_gpu"]
                self.assertEqual(mine, (per_gpu["low_bytes"], per_gpu["expected_bytes"], per_gpu["high_bytes"]))

    def test_verbose_prints_decision(self):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            vramfit.estimate("sft", num_gpus=2, gpu_memory=48 * GIB, model_path=GRANITE,
                             max_tokens_per_gpu=8192, verbose=2)
        text = buf.getvalue()
        self.assertIn("should work for your hardware", text)
        self.assertIn("If you have 2 GPUs, you will need about 27.9 GiB", text)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            vramfit.estimate("sft", num_gpus=1, gpu_memory=8 * GIB, model_path=GRANITE,
                             max_tokens_per_gpu=8192, verbose=1)
        self.assertIn("impossible", buf.getvalue())
        self.assertIn("Minimum extra memory required", buf.getvalue())

    def test_errors_like_training_hub(self):
        with self.assertRaises(ValueError):
            vramfit.estimate("sft", model_path=GRANITE, verbose=0)  # no tokens setting
        with self.assertRaises(ValueError):
            vramfit.estimate("lora", model_path=GRANITE, max_tokens_per_gpu=8192, verbose=0)
        # an unknown method is SFT, as upstream's estimate() falls back (issue 13 changed this)
        self.assertEqual(vramfit.estimate("dpo", model_path=GRANITE, max_tokens_per_gpu=8192, verbose=0),
                         vramfit.estimate("sft", model_path=GRANITE, max_tokens_per_gpu=8192, verbose=0))
        with self.assertRaises(vramfit.VramfitError) as cm:
            vramfit.estimate("sft", model_path="/nonexistent/model", max_tokens_per_gpu=8192, verbose=0)
        self.assertIsInstance(cm.exception, OSError)


if __name__ == "__main__":
    unittest.main()
