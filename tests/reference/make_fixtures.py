"""Builds the tiny RWKV-7 models and golden outputs in tests/fixtures/rwkv7/.

Usage (from the repository root):
    /usr/bin/python3 tests/reference/make_fixtures.py [--out DIR]

Everything is deterministic: fixed seeds, tensors written in a fixed order,
and every golden output computed by tests/reference/rwkv7_reference.py from
the model file as written (read back from disk), in float64, then rounded to
float32. The .pth copy of the bf16 model needs torch (python3-torch); the
script refuses to run without it rather than write a partial folder.

See tests/fixtures/rwkv7/README.md for what each file holds.
"""

import argparse
import collections
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rwkv7_reference as ref  # noqa: E402

# The shape of both tiny models: L=2, C=128 (H=2 heads of N=64), F=4C, V=320.
CONFIG = ref.Config(
    layers=2, embd=128, head_size=64, heads=2, ffn=512, vocab=320,
    lora_w=16, lora_a=16, lora_v=8, lora_g=32,
)

# name, weight seed, dtype, whether layer 0's (unused) value LoRA v1/v2 is stored.
MODELS = [
    {"name": "tiny_fp32", "seed": 70001, "dtype": "F32", "layer0_value_lora": True},
    {"name": "tiny_bf16", "seed": 70002, "dtype": "BF16", "layer0_value_lora": False},
]

# Cases run on each model: name, and the length of each of its streams.
CASES = [("t1", [1]), ("t100", [100]), ("t1200", [1200]), ("batch", [7, 13, 1, 25])]

# Which cases keep their final state(s): the models alone take ~4.2 MB, so the
# [16896]-float states (66 KB each) are stored only where they add coverage.
STORE_STATE = {
    ("tiny_fp32", "t1"),
    ("tiny_fp32", "t1200"),
    ("tiny_fp32", "batch"),
    ("tiny_bf16", "t100"),
}

# Element-wise |got - want| <= atol + rtol * |want|, for a float32 CPU
# implementation of the recurrence. The reference itself, run in float32,
# stays within atol / 5 (checked below; its deviation is recorded per case in
# the manifest). Logits are O(1) (std ~1, max ~4); state values reach ~16.
TOLERANCE = {
    "logits": {"atol": 5e-5, "rtol": 5e-5},
    "state": {"atol": 1e-4, "rtol": 5e-5},
}


def random_tensor(rng, name, shape):
    """A random value for one tensor, in the range such a tensor has in a trained model."""
    parts = name.split(".")
    leaf, owner = parts[-1], parts[-2]
    if name == "emb.weight":
        return rng.normal(0.0, 1.0, shape)
    if owner in ("ln0", "ln1", "ln2", "ln_x", "ln_out"):
        if leaf == "weight":
            return 1.0 + 0.1 * rng.normal(0.0, 1.0, shape)
        return 0.1 * rng.normal(0.0, 1.0, shape)
    if owner in ("receptance", "key", "value", "output", "head"):  # (out, in), att and ffn
        return rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape)
    if leaf in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
        return rng.uniform(0.0, 1.0, shape)
    if leaf == "w0":
        # With the LoRA's small part, w = exp(-e^-0.5 sigmoid(.)) spreads over ~(0.55, 0.99).
        return rng.uniform(-4.5, 4.0, shape)
    if leaf in ("a0", "v0"):
        return rng.normal(0.0, 0.5, shape)
    if leaf in ("w1", "a1", "v1", "g1"):  # (in = C, out = rank)
        return rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
    if leaf == "w2":  # (in = rank, out = C), small so that w0 sets the decay spread
        return rng.normal(0.0, 0.5 / np.sqrt(shape[0]), shape)
    if leaf in ("a2", "v2", "g2"):
        return rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
    if leaf == "k_k":
        return rng.uniform(0.5, 1.0, shape)
    if leaf == "k_a":
        return rng.uniform(0.5, 1.5, shape)
    if leaf == "r_k":
        return rng.normal(0.0, 0.3, shape)
    raise ValueError(f"no initialiser for {name}")


def make_model_file(out_dir, spec):
    """Writes <name>.safetensors; returns (path, ordered list of (name, dtype, array))."""
    rng = np.random.default_rng(spec["seed"])
    entries = []
    for name, shape in ref.expected_tensors(CONFIG, spec["layer0_value_lora"]):
        values = random_tensor(rng, name, shape)
        if spec["dtype"] == "F32":
            data = values.astype(np.float32)
            representable = ref.bf16_bits_to_float32(ref.float_to_bf16_bits(data)) == data
            if representable.mean() > 0.01:
                raise AssertionError(f"{name}: too many bf16-representable values")
        else:
            data = ref.float_to_bf16_bits(values)
        entries.append((name, spec["dtype"], data))
    path = os.path.join(out_dir, spec["name"] + ".safetensors")
    ref.write_safetensors(path, entries)
    return path, entries


def write_pth(path, entries):
    """Writes the same tensors as a torch.save'd dict of bf16 tensors, in reverse order."""
    import torch

    state = collections.OrderedDict()
    for name, dtype_name, bits in reversed(entries):
        assert dtype_name == "BF16"
        raw = torch.from_numpy(np.ascontiguousarray(bits).view(np.int16).copy())
        state[name] = raw.view(torch.bfloat16).clone()
    torch.save(state, path)
    # Read it back: same names, same bits.
    loaded = torch.load(path)
    assert list(loaded.keys()) == [e[0] for e in reversed(entries)]
    for name, _, bits in entries:
        got = loaded[name].view(torch.int16).numpy().view(np.uint16)
        assert got.shape == bits.shape and np.array_equal(got, bits), name


def round_matrices_to_bf16(model):
    """The model as an engine holding its matrices in bf16 would see it (vectors stay exact)."""
    tensors = {}
    for name, array in model.tensors.items():
        if array.ndim == 2 and not name.endswith(".r_k"):
            array = ref.bf16_bits_to_float32(ref.float_to_bf16_bits(array)).astype(np.float64)
        tensors[name] = array
    return ref.Model(tensors)


def run_stream(model, tokens):
    """From a zero state: (logits of every position [T, V], final flat state), float64."""
    state = ref.zero_state(model.config)
    logits = ref.forward_sequence(model, state, tokens)
    return logits, ref.flatten_state(state)


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def two_digits(x):
    return float(f"{x:.2g}")


def save(out_dir, filename, array, dtype):
    np.save(os.path.join(out_dir, filename), np.ascontiguousarray(array, dtype=dtype))
    return filename


def output_entry(out_dir, filename, array, kind):
    """Saves a float32 golden output; its manifest entry (path, shape, tolerance)."""
    save(out_dir, filename, array, "<f4")
    return collections.OrderedDict([
        ("path", filename),
        ("dtype", "float32"),
        ("shape", list(np.shape(array))),
        ("atol", TOLERANCE[kind]["atol"]),
        ("rtol", TOLERANCE[kind]["rtol"]),
    ])


def make_case(out_dir, name, files, model, model32, case, lengths, token_rng):
    """Runs one case's streams, saves tokens and goldens; returns its manifest entry."""
    prefix = f"{name}.{case}"
    batch = case == "batch"
    streams = []
    all_logits, last_logits, states = [], [], []
    dev_logits, dev_state = 0.0, 0.0  # float32 reference vs float64 reference
    for i, length in enumerate(lengths):
        tokens = token_rng.integers(0, CONFIG.vocab, size=length).astype(np.int32)
        token_file = f"{prefix}.stream{i}.tokens.npy" if batch else f"{prefix}.tokens.npy"
        save(out_dir, token_file, tokens, "<i4")
        streams.append(collections.OrderedDict([("tokens", token_file), ("num_tokens", length)]))

        logits, state = run_stream(model, tokens)
        all_logits.append(logits)
        last_logits.append(logits[-1])
        states.append(state)
        logits32, state32 = run_stream(model32, tokens)
        dev_logits = max(dev_logits, max_abs_diff(logits, logits32))
        dev_state = max(dev_state, max_abs_diff(state, state32))
    assert dev_logits <= TOLERANCE["logits"]["atol"] / 5, (prefix, dev_logits)
    assert dev_state <= TOLERANCE["state"]["atol"] / 5, (prefix, dev_state)

    # Batch outputs are stacked, one row per stream; single-stream outputs are not.
    def stacked(arrays):
        return np.stack(arrays) if batch else arrays[0]

    outputs = collections.OrderedDict()
    outputs["last_logits"] = output_entry(
        out_dir, f"{prefix}.last_logits.npy", stacked(last_logits), "logits")
    if case == "t100":
        outputs["all_logits"] = output_entry(
            out_dir, f"{prefix}.all_logits.npy", all_logits[0], "logits")
    if (name, case) in STORE_STATE:
        outputs["final_state"] = output_entry(
            out_dir, f"{prefix}.final_state.npy", stacked(states), "state")

    return collections.OrderedDict([
        ("name", prefix),
        ("model", name),
        ("model_files", [f["path"] for f in files]),
        ("kind", "batch" if batch else "single"),
        ("streams", streams),
        ("outputs", outputs),
        ("float32_reference_max_abs_diff", collections.OrderedDict([
            ("logits", two_digits(dev_logits)),
            ("state", two_digits(dev_state)),
        ])),
        ("stats", collections.OrderedDict([
            ("last_logits_std", two_digits(float(np.std(last_logits)))),
            ("final_state_max_abs", two_digits(float(np.max(np.abs(states))))),
        ])),
    ])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(here, "..", "fixtures", "rwkv7"))
    args = parser.parse_args()
    out_dir = os.path.normpath(args.out)
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("make_fixtures: torch is needed for tiny_bf16.pth (apt-get install python3-torch)")
    os.makedirs(out_dir, exist_ok=True)

    token_rng = np.random.default_rng(71000)
    manifest_models = []
    manifest_cases = []
    for spec in MODELS:
        name = spec["name"]
        path, entries = make_model_file(out_dir, spec)
        files = [{"path": os.path.basename(path), "format": "safetensors", "dtype": spec["dtype"]}]
        if spec["dtype"] == "BF16":
            pth = os.path.join(out_dir, name + ".pth")
            write_pth(pth, entries)
            files.append({"path": os.path.basename(pth), "format": "pth", "dtype": "BF16"})
        model = ref.load_model(path)  # goldens come from the file as written
        assert model.config == CONFIG, model.config
        model32 = model.astype(np.float32)
        entry = collections.OrderedDict([
            ("name", name),
            ("files", files),
            ("config", collections.OrderedDict(CONFIG._asdict())),
            ("tensor_count", len(entries)),
            ("layer0_value_lora_stored", spec["layer0_value_lora"]),
            ("weight_seed", spec["seed"]),
        ])
        if spec["dtype"] == "F32":
            # Its values are not bf16-representable: holding them as bf16 is a
            # different model, far outside the tolerances.
            probe = token_rng.integers(0, CONFIG.vocab, size=20).astype(np.int32)
            shift = max_abs_diff(run_stream(model, probe)[0],
                                 run_stream(round_matrices_to_bf16(model), probe)[0])
            assert shift > 100 * TOLERANCE["logits"]["atol"], shift
            entry["load_matrices_as"] = "F32 (required)"
            entry["bf16_matrices_logit_shift"] = two_digits(shift)
        else:
            entry["load_matrices_as"] = "F32 or BF16 (the values are exact bf16 either way)"
        manifest_models.append(entry)

        for case, lengths in CASES:
            manifest_cases.append(
                make_case(out_dir, name, files, model, model32, case, lengths, token_rng))

    manifest = collections.OrderedDict([
        ("format", "gander-rwkv7-fixtures"),
        ("version", 1),
        ("generated_by", "/usr/bin/python3 tests/reference/make_fixtures.py"),
        ("reference", "tests/reference/rwkv7_reference.py"),
        ("paths", "relative to this folder (tests/fixtures/rwkv7/)"),
        ("arithmetic", "float64 reference from the model file as stored; outputs rounded to "
                       "float32 (.npy '<f4'); tokens are .npy '<i4'"),
        ("semantics", "every stream starts from the all-zero state and its tokens run one by "
                      "one; last_logits are the logits after its last token, all_logits[t] "
                      "after token t, final_state the state after its last token. Streams of "
                      "a batch case are independent: row b of each output is stream b."),
        ("tolerance_rule", "element-wise |got - want| <= atol + rtol * |want| "
                           "(numpy.allclose); for a float32 CPU implementation"),
        ("state_layout", collections.OrderedDict([
            ("description", "for each layer l: att_shift [C], then wkv [H][N][N] indexed "
                            "[head][i = value][j = key], then ffn_shift [C]; layers "
                            "concatenated; float32"),
            ("layer_floats", 2 * CONFIG.embd + CONFIG.heads * CONFIG.head_size ** 2),
            ("floats", ref.state_floats(CONFIG)),
        ])),
        ("models", manifest_models),
        ("cases", manifest_cases),
    ])
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    total = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir))
    print(f"make_fixtures: wrote {out_dir} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
