"""Checks of the RWKV-7 reference and of the golden fixtures made with it.

Run from the repository root (or through Bazel: //tests/reference:reference_test):
    /usr/bin/python3 tests/reference/reference_test.py

The golden checks recompute outputs from the checked-in model files and
require them to equal the checked-in .npy files bit for bit, so a change to
the reference's maths (or to a fixture) cannot pass unnoticed. (The float64
results are rounded to float32 before comparing; a different BLAS changes the
float64 sums in their last bits, which could in rare cases flip a float32
rounding: a failure that reports a max |diff| near 1e-7 means that, not a bug.)
"""

import collections
import json
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rwkv7_reference as ref  # noqa: E402

FIXTURES = os.environ.get("RWKV7_FIXTURES", os.path.join(HERE, "..", "fixtures", "rwkv7"))


def fixture(name):
    return os.path.join(FIXTURES, name)


def load_manifest():
    with open(fixture("manifest.json")) as f:
        return json.load(f)


def case_by_name(manifest, name):
    (case,) = [c for c in manifest["cases"] if c["name"] == name]
    return case


def tmp_dir():
    return tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))


class WkvUpdateTest(unittest.TestCase):
    """The per-head update, three ways: loops, the reference's form, the matrix form."""

    def random_inputs(self, rng, n):
        S = rng.normal(0.0, 2.0, (n, n))
        w = rng.uniform(0.5, 1.0, n)
        kk = rng.normal(0.0, 1.0, n)
        kk /= np.linalg.norm(kk)
        a = rng.uniform(0.0, 1.0, n)
        v, k, r = rng.normal(0.0, 1.0, (3, n))
        return S, w, kk, a, v, k, r

    def loops(self, S, w, kk, a, v, k, r):
        n = len(w)
        sa = [sum(S[i][j] * -kk[j] for j in range(n)) for i in range(n)]
        S_new = [[S[i][j] * w[j] + sa[i] * kk[j] * a[j] + v[i] * k[j] for j in range(n)]
                 for i in range(n)]
        y = [sum(S_new[i][j] * r[j] for j in range(n)) for i in range(n)]
        return np.array(S_new), np.array(y)

    def test_agrees_with_loops_and_matrix_form(self):
        rng = np.random.default_rng(1)
        for n in (1, 5, 64):
            S, w, kk, a, v, k, r = self.random_inputs(rng, n)
            S_before = S.copy()
            S_ref, y_ref = ref.wkv_head_update(S, w, kk, a, v, k, r)
            np.testing.assert_array_equal(S, S_before)  # input untouched

            S_loop, y_loop = self.loops(S, w, kk, a, v, k, r)
            np.testing.assert_allclose(S_ref, S_loop, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(y_ref, y_loop, rtol=1e-12, atol=1e-12)

            # S <- S (diag(w) - kk (kk*a)^T) + v k^T ;  y = S r
            S_mat = S @ (np.diag(w) - np.outer(kk, kk * a)) + np.outer(v, k)
            np.testing.assert_allclose(S_ref, S_mat, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(y_ref, S_mat @ r, rtol=1e-12, atol=1e-12)

    def test_sa_uses_old_state_and_y_new_state(self):
        rng = np.random.default_rng(2)
        S, w, kk, a, v, k, r = self.random_inputs(rng, 8)
        S_ref, y_ref = ref.wkv_head_update(S, w, kk, a, v, k, r)
        # Reading y from the old state gives something else.
        self.assertGreater(np.abs(y_ref - S @ r).max(), 1e-3)
        # From a zero state, only v k^T remains.
        S0, y0 = ref.wkv_head_update(np.zeros((8, 8)), w, kk, a, v, k, r)
        np.testing.assert_allclose(S0, np.outer(v, k), rtol=0, atol=0)
        np.testing.assert_allclose(y0, v * (k @ r), rtol=1e-13)


class NormTest(unittest.TestCase):
    def test_layer_norm(self):
        x = np.random.default_rng(3).normal(5.0, 3.0, 128)
        y = ref.layer_norm(x, np.ones(128), np.zeros(128))
        self.assertAlmostEqual(y.mean(), 0.0, places=12)
        var = x.var()  # biased, as in the model
        self.assertAlmostEqual((y * y).mean(), var / (var + 1e-5), places=12)
        np.testing.assert_allclose(ref.layer_norm(x, 2 * np.ones(128), np.ones(128)), 2 * y + 1)

    def test_group_norm_normalises_each_head_separately(self):
        rng = np.random.default_rng(4)
        y = np.concatenate([rng.normal(0.0, 0.01, 64), rng.normal(100.0, 50.0, 64)])
        out = ref.group_norm_heads(y, 2, np.ones(128), np.zeros(128))
        for h in range(2):
            part, src = out[h * 64:(h + 1) * 64], y[h * 64:(h + 1) * 64]
            self.assertAlmostEqual(part.mean(), 0.0, places=10)
            var = src.var()
            self.assertAlmostEqual((part ** 2).mean(), var / (var + 64e-5), places=10)
        # The small head's eps (64e-5) is visible: its variance is ~1e-4.
        self.assertLess((out[:64] ** 2).mean(), 0.2)


class Bf16Test(unittest.TestCase):
    def test_known_values(self):
        np.testing.assert_array_equal(
            ref.float_to_bf16_bits([1.0, -2.0, 0.0, 3.140625]), [0x3F80, 0xC000, 0x0000, 0x4049])
        np.testing.assert_array_equal(
            ref.bf16_bits_to_float32(np.array([0x3F80, 0xC000, 0x4049], np.uint16)),
            np.array([1.0, -2.0, 3.140625], np.float32))

    def test_round_half_to_even(self):
        # 1 + 2^-8 lies halfway between bf16 1.0 and 1 + 2^-7: ties to the even 1.0.
        # 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: ties to even 1 + 2^-6.
        bits = ref.float_to_bf16_bits([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20])
        np.testing.assert_array_equal(bits, [0x3F80, 0x3F82, 0x3F81])

    def test_round_trip_of_representable_values(self):
        bits = np.arange(0, 0x7F80, 7, dtype=np.uint16)  # finite positives
        bits = np.concatenate([bits, bits | 0x8000])
        np.testing.assert_array_equal(ref.float_to_bf16_bits(ref.bf16_bits_to_float32(bits)), bits)


class SafetensorsTest(unittest.TestCase):
    def test_round_trip(self):
        rng = np.random.default_rng(5)
        f32 = rng.normal(size=(3, 4)).astype(np.float32)
        bf16 = ref.float_to_bf16_bits(rng.normal(size=(2, 1, 5)))
        scalar = np.array(7.5, np.float32)
        path = os.path.join(tmp_dir(), "t.safetensors")
        ref.write_safetensors(path, [("z.first", "F32", f32), ("a.second", "BF16", bf16),
                                     ("m.scalar", "F32", scalar)], metadata={"format": "pt"})
        got = ref.read_safetensors(path)
        self.assertEqual(list(got.keys()), ["z.first", "a.second", "m.scalar"])
        self.assertEqual(got["z.first"][0], "F32")
        np.testing.assert_array_equal(got["z.first"][1], f32)
        self.assertEqual(got["a.second"][0], "BF16")
        self.assertEqual(got["a.second"][1].dtype, np.uint16)
        np.testing.assert_array_equal(got["a.second"][1], bf16)
        self.assertEqual(got["m.scalar"][1].shape, ())
        with open(path, "rb") as f:
            blob = f.read()
        header_len = int.from_bytes(blob[:8], "little")
        self.assertEqual(header_len % 8, 0)
        self.assertEqual(len(blob), 8 + header_len + f32.nbytes + bf16.nbytes + 4)
        # Same input, same bytes.
        path2 = os.path.join(tmp_dir(), "t2.safetensors")
        ref.write_safetensors(path2, [("z.first", "F32", f32), ("a.second", "BF16", bf16),
                                      ("m.scalar", "F32", scalar)], metadata={"format": "pt"})
        with open(path2, "rb") as f:
            self.assertEqual(f.read(), blob)

    def test_rejects_bad_files(self):
        d = tmp_dir()
        path = os.path.join(d, "short.safetensors")
        with open(path, "wb") as f:
            f.write(b"\x10\x00\x00")
        with self.assertRaisesRegex(ValueError, "8-byte"):
            ref.read_safetensors(path)
        with open(path, "wb") as f:
            f.write((1000).to_bytes(8, "little") + b"{}")
        with self.assertRaisesRegex(ValueError, "runs past"):
            ref.read_safetensors(path)
        header = b'{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}'
        with open(path, "wb") as f:
            f.write(len(header).to_bytes(8, "little") + header + bytes(12))
        with self.assertRaisesRegex(ValueError, "tensor x: bad data_offsets"):
            ref.read_safetensors(path)
        header = b'{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}'
        with open(path, "wb") as f:
            f.write(len(header).to_bytes(8, "little") + header + bytes(4))
        with self.assertRaisesRegex(ValueError, "unsupported dtype F16"):
            ref.read_safetensors(path)


def tiny_config():
    return ref.Config(layers=3, embd=128, head_size=64, heads=2, ffn=256, vocab=10,
                      lora_w=4, lora_a=4, lora_v=2, lora_g=8)


class StateTest(unittest.TestCase):
    def test_flatten_round_trip_and_layout(self):
        config = tiny_config()
        C, H, N = config.embd, config.heads, config.head_size
        rng = np.random.default_rng(6)
        state = ref.zero_state(config)
        for layer in state:
            layer.att_shift[:] = rng.normal(size=C)
            layer.wkv[:] = rng.normal(size=(H, N, N))
            layer.ffn_shift[:] = rng.normal(size=C)
        flat = ref.flatten_state(state)
        self.assertEqual(flat.shape, (ref.state_floats(config),))
        self.assertEqual(ref.state_floats(config), 3 * (2 * 128 + 2 * 64 * 64))
        again = ref.flatten_state(ref.unflatten_state(config, flat))
        np.testing.assert_array_equal(again, flat)
        # Spot checks of the layout: layer 2, head 1, i = 3 (value), j = 5 (key).
        layer_floats = 2 * C + H * N * N
        self.assertEqual(flat[2 * layer_floats + 7], state[2].att_shift[7])
        self.assertEqual(flat[2 * layer_floats + C + 1 * N * N + 3 * N + 5], state[2].wkv[1, 3, 5])
        self.assertEqual(flat[2 * layer_floats + C + H * N * N + 9], state[2].ffn_shift[9])
        with self.assertRaises(ValueError):
            ref.unflatten_state(config, flat[:-1])

    def test_zero_state(self):
        flat = ref.flatten_state(ref.zero_state(tiny_config()))
        self.assertFalse(flat.any())


def random_model(seed, config=None, layer0_value_lora=True):
    config = config or tiny_config()
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in ref.expected_tensors(config, layer0_value_lora):
        tensors[name] = rng.normal(0.0, 1.0 / np.sqrt(shape[-1] if len(shape) > 1 else 4), shape)
    return ref.Model(tensors)


class ModelTest(unittest.TestCase):
    def test_config_is_derived_from_shapes(self):
        model = random_model(7, layer0_value_lora=False)
        self.assertEqual(model.config, tiny_config())

    def test_refuses_unknown_missing_and_misshaped_tensors(self):
        tensors = dict(random_model(8).tensors)
        with self.assertRaisesRegex(ValueError, "unexpected tensor blocks.0.ffn.s_emb"):
            ref.Model(dict(tensors, **{"blocks.0.ffn.s_emb": np.zeros(3)}))
        missing = dict(tensors)
        del missing["blocks.1.att.k_a"]
        with self.assertRaisesRegex(ValueError, "missing tensor blocks.1.att.k_a"):
            ref.Model(missing)
        bad = dict(tensors, **{"blocks.2.att.r_k": np.zeros((64, 2))})
        with self.assertRaisesRegex(ValueError, "blocks.2.att.r_k: shape"):
            ref.Model(bad)

    def test_layer0_value_lora_is_ignored(self):
        model = random_model(9)
        tokens = [1, 5, 2, 9]
        base = ref.forward_sequence(model, ref.zero_state(model.config), tokens)
        tensors = dict(model.tensors)
        for name in ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2"):
            tensors[name] = tensors[name] * 3.0 + 1.0
        changed = ref.Model(tensors)
        np.testing.assert_array_equal(
            ref.forward_sequence(changed, ref.zero_state(model.config), tokens), base)
        # ... while layer 1's does matter.
        tensors["blocks.1.att.v0"] = tensors["blocks.1.att.v0"] + 1.0
        other = ref.forward_sequence(ref.Model(tensors), ref.zero_state(model.config), tokens)
        self.assertGreater(np.abs(other - base).max(), 1e-6)

    def test_state_carries_the_history(self):
        model = random_model(10)
        state = ref.zero_state(model.config)
        whole = ref.forward_sequence(model, state, [3, 1, 4, 1, 5])
        # Split in two with the state carried over: identical.
        split_state = ref.zero_state(model.config)
        ref.forward_sequence(model, split_state, [3, 1])
        rest = ref.forward_sequence(model, split_state, [4, 1, 5])
        np.testing.assert_array_equal(rest, whole[2:])
        np.testing.assert_array_equal(ref.flatten_state(split_state), ref.flatten_state(state))
        # The same token after different histories gives different logits.
        self.assertGreater(np.abs(whole[1] - whole[3]).max(), 1e-6)

    def test_rejects_out_of_range_token(self):
        model = random_model(11)
        with self.assertRaises(ValueError):
            ref.forward_token(model, ref.zero_state(model.config), model.config.vocab)


class GoldenTest(unittest.TestCase):
    """Recomputes goldens from the checked-in model files: must equal them bit for bit."""

    @classmethod
    def setUpClass(cls):
        cls.manifest = load_manifest()
        cls.models = {}

    def model(self, name):
        if name not in self.models:
            self.models[name] = ref.load_model(fixture(name + ".safetensors"))
        return self.models[name]

    def check_case(self, name):
        case = case_by_name(self.manifest, name)
        model = self.model(case["model"])
        streams = [np.load(fixture(s["tokens"])) for s in case["streams"]]
        runs = []
        for tokens in streams:
            self.assertEqual(tokens.dtype, np.dtype("<i4"))
            state = ref.zero_state(model.config)
            logits = ref.forward_sequence(model, state, tokens)
            runs.append((logits, ref.flatten_state(state)))
        batch = case["kind"] == "batch"
        computed = {
            "last_logits": [r[0][-1] for r in runs],
            "all_logits": [r[0] for r in runs],
            "final_state": [r[1] for r in runs],
        }
        for key, entry in case["outputs"].items():
            want = np.load(fixture(entry["path"]))
            got = computed[key]
            got = np.stack(got) if batch else got[0]
            got = got.astype(np.float32)
            self.assertEqual(want.dtype, np.dtype("<f4"))
            self.assertEqual(list(want.shape), entry["shape"])
            same_bits = got.tobytes() == want.tobytes()
            self.assertTrue(
                same_bits, f"{name} {key}: not bit-identical to the golden; "
                f"max |diff| {np.abs(got.astype(np.float64) - want).max():.3g}")

    def test_fp32_one_token(self):
        self.check_case("tiny_fp32.t1")

    def test_fp32_batch(self):
        self.check_case("tiny_fp32.batch")

    def test_bf16_hundred_tokens(self):
        self.check_case("tiny_bf16.t100")

    def test_bf16_batch(self):
        self.check_case("tiny_bf16.batch")


class FixtureFilesTest(unittest.TestCase):
    """The fixtures folder is what the manifest says it is."""

    def test_manifest_describes_existing_consistent_files(self):
        manifest = load_manifest()
        self.assertEqual(manifest["format"], "gander-rwkv7-fixtures")
        models = {m["name"]: m for m in manifest["models"]}
        listed = set()
        for model in manifest["models"]:
            for f in model["files"]:
                self.assertTrue(os.path.isfile(fixture(f["path"])), f["path"])
                listed.add(f["path"])
        floats = manifest["state_layout"]["floats"]
        seen_kinds = collections.Counter()
        for case in manifest["cases"]:
            config = models[case["model"]]["config"]
            self.assertEqual(case["model_files"], [f["path"] for f in models[case["model"]]["files"]])
            for stream in case["streams"]:
                tokens = np.load(fixture(stream["tokens"]))
                listed.add(stream["tokens"])
                self.assertEqual(tokens.dtype, np.dtype("<i4"))
                self.assertEqual(tokens.shape, (stream["num_tokens"],))
                self.assertTrue(((tokens >= 0) & (tokens < config["vocab"])).all())
            for key, entry in case["outputs"].items():
                listed.add(entry["path"])
                array = np.load(fixture(entry["path"]))
                self.assertEqual(list(array.shape), entry["shape"])
                self.assertTrue(np.isfinite(array).all())
                self.assertGreater(entry["atol"], 0)
                if key == "final_state":
                    self.assertEqual(entry["shape"][-1], floats)
                    self.assertGreater(np.abs(array).max(), 1.0)  # the state is non-trivial
                else:
                    self.assertEqual(entry["shape"][-1], config["vocab"])
                    self.assertGreater(array.std(), 0.3)  # logits are not flat
            seen_kinds[case["kind"]] += 1
        self.assertEqual(seen_kinds, {"single": 6, "batch": 2})
        # Nothing else lies in the folder (README.md and BUILD.bazel aside).
        unlisted = set(os.listdir(FIXTURES)) - listed - {"manifest.json", "README.md", "BUILD.bazel"}
        self.assertEqual(unlisted, set())

    def test_pth_holds_the_same_tensors_in_another_order(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed")
        st = ref.read_safetensors(fixture("tiny_bf16.safetensors"))
        loaded = torch.load(fixture("tiny_bf16.pth"))
        self.assertEqual(set(loaded.keys()), set(st.keys()))
        self.assertNotEqual(list(loaded.keys()), list(st.keys()))
        for name, (dtype_name, bits) in st.items():
            self.assertEqual(dtype_name, "BF16")
            self.assertEqual(loaded[name].dtype, torch.bfloat16, name)
            got = loaded[name].contiguous().view(torch.int16).numpy().view(np.uint16)
            np.testing.assert_array_equal(got, bits, err_msg=name)

    def test_fp32_model_is_not_bf16_representable(self):
        st = ref.read_safetensors(fixture("tiny_fp32.safetensors"))
        for name, (dtype_name, values) in st.items():
            self.assertEqual(dtype_name, "F32")
            rounded = ref.bf16_bits_to_float32(ref.float_to_bf16_bits(values))
            self.assertLess((rounded == values).mean(), 0.01, name)


if __name__ == "__main__":
    unittest.main()
