"""Slow, obviously-correct reference of the RWKV-7 (x070) forward pass.

This module is the yardstick the C++ engine is measured against. It follows
the project's model description (docs/rwkv7.md) one line at a time, in plain
numpy, in float64, with no batching, fusing or other cleverness: speed does not
matter here, readability does.

Contents:
  * a small .safetensors reader and writer (F32 and BF16 tensors),
  * the model: tensor names and shapes, the config derived from them,
  * the recurrent state: zero_state, flatten_state, unflatten_state,
  * the maths: forward_token (one token, RNN mode) and forward_sequence.

Conventions (as in the checkpoint files):
  * projection matrices are stored (out, in): y = W @ x,
  * LoRA matrices are stored (in, out): y = x @ w1,
  * token-shift mixes and LoRA biases are [1, 1, C]; r_k is [H, N].

Run with /usr/bin/python3 (the interpreter that has numpy).
"""

import collections
import json
import struct

import numpy as np

LAYER_NORM_EPS = 1e-5  # every LayerNorm (ln0, ln1, ln2, ln_out)
GROUP_NORM_EPS = 64e-5  # the per-head GroupNorm ln_x
KK_NORM_FLOOR = 1e-12  # floor of the per-head norm of kk
DECAY_SCALE = float(np.exp(-0.5))  # w = exp(-DECAY_SCALE * sigmoid(...))

# ---------------------------------------------------------------------------
# .safetensors: 8-byte little-endian header length, a JSON header mapping each
# tensor name to {dtype, shape, data_offsets: [begin, end)} (offsets counted
# from the first byte after the header), then the raw little-endian data.
# ---------------------------------------------------------------------------

# dtype name -> numpy dtype of the raw elements. BF16 is kept as its uint16
# bit pattern; bf16_bits_to_float32 turns it into numbers.
SAFETENSORS_DTYPES = {"F32": np.dtype("<f4"), "BF16": np.dtype("<u2")}


def bf16_bits_to_float32(bits):
    """bf16 bit patterns (uint16) -> float32 values: the bits become the top half."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def float_to_bf16_bits(values):
    """float values -> nearest bf16 bit patterns (round half to even).

    Values are first rounded to float32; NaN and infinity are not expected
    and are refused.
    """
    f32 = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(f32)):
        raise ValueError("float_to_bf16_bits: non-finite value")
    bits = f32.view(np.uint32).astype(np.uint64)
    lower = bits & 0xFFFF
    upper = bits >> 16
    round_up = (lower > 0x8000) | ((lower == 0x8000) & ((upper & 1) == 1))
    return (upper + round_up).astype(np.uint16)


def read_safetensors(path):
    """Reads a .safetensors file.

    Returns an OrderedDict name -> (dtype_name, array) in the order of the
    tensors' data in the file; arrays are F32 as float32, BF16 as uint16 bits.
    Raises ValueError on anything malformed.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if 8 + header_len > len(blob):
        raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(blob[8 : 8 + header_len].decode("utf-8"))
    data = blob[8 + header_len :]
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype_name = info["dtype"]
        if dtype_name not in SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype_name}")
        dtype = SAFETENSORS_DTYPES[dtype_name]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name}: bad data_offsets [{begin}, {end})")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
        entries.append((begin, name, dtype_name, array))
    entries.sort(key=lambda e: e[0])
    return collections.OrderedDict((name, (dt, arr)) for _, name, dt, arr in entries)


def write_safetensors(path, tensors, metadata=None):
    """Writes a .safetensors file.

    tensors: sequence of (name, dtype_name, array), written in that order;
    F32 arrays are converted to little-endian float32, BF16 arrays must be
    uint16 bit patterns. The header is padded with spaces to a multiple of 8
    bytes, so the data starts aligned. Deterministic: the same input gives the
    same bytes.
    """
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, dtype_name, array in tensors:
        dtype = SAFETENSORS_DTYPES[dtype_name]
        if dtype_name == "BF16" and np.asarray(array).dtype != np.uint16:
            raise ValueError(f"tensor {name}: BF16 data must be uint16 bit patterns")
        raw = np.ascontiguousarray(array, dtype=dtype).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": list(np.shape(array)),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for raw in chunks:
            f.write(raw)


# ---------------------------------------------------------------------------
# The model: config, tensor names and shapes.
# ---------------------------------------------------------------------------

Config = collections.namedtuple(
    "Config", "layers embd head_size heads ffn vocab lora_w lora_a lora_v lora_g"
)


def state_floats(config):
    """Numbers in one stream's state: per layer att_shift [C] + wkv [H*N*N] + ffn_shift [C]."""
    per_layer = 2 * config.embd + config.heads * config.head_size * config.head_size
    return config.layers * per_layer


def expected_tensors(config, layer0_value_lora=True):
    """Every tensor of a model of this config, as a list of (name, shape).

    The order is the one of the project's tensor table (emb, per block ln,
    time mix, channel mix, then ln_out and head). layer0_value_lora=False
    leaves out blocks.0.att.v1 and v2, which layer 0 never uses.
    """
    C, H, N, F, V = config.embd, config.heads, config.head_size, config.ffn, config.vocab
    Dw, Da, Dv, Dg = config.lora_w, config.lora_a, config.lora_v, config.lora_g
    out = [("emb.weight", (V, C))]
    for l in range(config.layers):
        p = f"blocks.{l}."
        if l == 0:
            out += [(p + "ln0.weight", (C,)), (p + "ln0.bias", (C,))]
        out += [(p + "ln1.weight", (C,)), (p + "ln1.bias", (C,))]
        out += [(p + "ln2.weight", (C,)), (p + "ln2.bias", (C,))]
        for mix in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
            out.append((p + "att." + mix, (1, 1, C)))
        for bias in ("w0", "a0", "v0"):
            out.append((p + "att." + bias, (1, 1, C)))
        out += [(p + "att.w1", (C, Dw)), (p + "att.w2", (Dw, C))]
        out += [(p + "att.a1", (C, Da)), (p + "att.a2", (Da, C))]
        if l > 0 or layer0_value_lora:
            out += [(p + "att.v1", (C, Dv)), (p + "att.v2", (Dv, C))]
        out += [(p + "att.g1", (C, Dg)), (p + "att.g2", (Dg, C))]
        out += [(p + "att.k_k", (1, 1, C)), (p + "att.k_a", (1, 1, C)), (p + "att.r_k", (H, N))]
        for proj in ("receptance", "key", "value", "output"):
            out.append((p + "att." + proj + ".weight", (C, C)))
        out += [(p + "att.ln_x.weight", (C,)), (p + "att.ln_x.bias", (C,))]
        out += [(p + "ffn.x_k", (1, 1, C))]
        out += [(p + "ffn.key.weight", (F, C)), (p + "ffn.value.weight", (C, F))]
    out += [("ln_out.weight", (C,)), ("ln_out.bias", (C,)), ("head.weight", (V, C))]
    return out


def config_from_tensors(tensors):
    """Derives the Config from tensor shapes (nothing is hard-coded)."""
    V, C = tensors["emb.weight"].shape
    layers = 0
    while f"blocks.{layers}.ln1.weight" in tensors:
        layers += 1
    if layers == 0:
        raise ValueError("no blocks.0.ln1.weight: not an RWKV-7 model")
    H, N = tensors["blocks.0.att.r_k"].shape
    if H * N != C:
        raise ValueError(f"r_k is [{H}, {N}] but C = {C}")
    F = tensors["blocks.0.ffn.key.weight"].shape[0]
    lora = {}
    for key in ("w", "a", "v", "g"):
        # Layer 0's value LoRA may be missing: take the rank from the last layer.
        name = f"blocks.{layers - 1}.att.{key}1"
        lora[key] = tensors[name].shape[1] if name in tensors else 0
    return Config(layers, C, N, H, F, V, lora["w"], lora["a"], lora["v"], lora["g"])


class Model:
    """Named tensors (float64 unless cast) and the config they imply."""

    def __init__(self, tensors):
        self.config = config_from_tensors(tensors)
        expected = dict(expected_tensors(self.config))
        optional = {"blocks.0.att.v1", "blocks.0.att.v2"}
        for name, array in tensors.items():
            if name not in expected:
                raise ValueError(f"unexpected tensor {name}: not part of RWKV-7 x070")
            if tuple(array.shape) != tuple(expected[name]):
                raise ValueError(f"tensor {name}: shape {array.shape}, expected {expected[name]}")
        for name in expected:
            if name not in tensors and name not in optional:
                raise ValueError(f"missing tensor {name}")
        self.tensors = dict(tensors)

    def t(self, name):
        return self.tensors[name]

    def vec(self, name):
        """A [1, 1, C] or [C] tensor as a [C] vector."""
        return self.tensors[name].reshape(-1)

    def astype(self, dtype):
        """A copy of the model with every tensor in `dtype` (used to measure float32 error)."""
        return Model({name: array.astype(dtype) for name, array in self.tensors.items()})


def model_from_safetensors_entries(entries):
    """Model from read_safetensors output: every tensor upcast exactly to float64."""
    tensors = {}
    for name, (dtype_name, array) in entries.items():
        if dtype_name == "BF16":
            array = bf16_bits_to_float32(array)
        tensors[name] = array.astype(np.float64)
    return Model(tensors)


def load_model(path):
    """Loads a .safetensors RWKV-7 model as float64 tensors."""
    return model_from_safetensors_entries(read_safetensors(path))


# ---------------------------------------------------------------------------
# The recurrent state of one stream.
# ---------------------------------------------------------------------------


class LayerState:
    """One layer's state: att_shift [C], wkv [H, N, N] ([head][i=value][j=key]), ffn_shift [C]."""

    def __init__(self, att_shift, wkv, ffn_shift):
        self.att_shift = att_shift
        self.wkv = wkv
        self.ffn_shift = ffn_shift


def zero_state(config, dtype=np.float64):
    """A fresh stream's state: all zeros, one LayerState per layer."""
    C, H, N = config.embd, config.heads, config.head_size
    return [
        LayerState(np.zeros(C, dtype), np.zeros((H, N, N), dtype), np.zeros(C, dtype))
        for _ in range(config.layers)
    ]


def flatten_state(state):
    """The project's layout: per layer att_shift [C], wkv [H*N*N], ffn_shift [C], concatenated."""
    parts = []
    for layer in state:
        parts += [layer.att_shift.reshape(-1), layer.wkv.reshape(-1), layer.ffn_shift.reshape(-1)]
    return np.concatenate(parts)


def unflatten_state(config, flat):
    """Inverse of flatten_state (copies; keeps flat's dtype)."""
    flat = np.asarray(flat)
    if flat.shape != (state_floats(config),):
        raise ValueError(f"state has shape {flat.shape}, expected ({state_floats(config)},)")
    C, H, N = config.embd, config.heads, config.head_size
    state = []
    pos = 0
    for _ in range(config.layers):
        att_shift = flat[pos : pos + C].copy()
        pos += C
        wkv = flat[pos : pos + H * N * N].reshape(H, N, N).copy()
        pos += H * N * N
        ffn_shift = flat[pos : pos + C].copy()
        pos += C
        state.append(LayerState(att_shift, wkv, ffn_shift))
    return state


def copy_state(state):
    return [LayerState(s.att_shift.copy(), s.wkv.copy(), s.ffn_shift.copy()) for s in state]


# ---------------------------------------------------------------------------
# The maths.
# ---------------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def layer_norm(x, weight, bias, eps=LAYER_NORM_EPS):
    """LayerNorm over the whole vector, biased variance."""
    mean = x.mean()
    var = ((x - mean) ** 2).mean()
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def group_norm_heads(y, heads, weight, bias, eps=GROUP_NORM_EPS):
    """Normalises each head's N values on their own (biased variance), then scales and shifts."""
    yh = y.reshape(heads, -1)
    mean = yh.mean(axis=1, keepdims=True)
    var = ((yh - mean) ** 2).mean(axis=1, keepdims=True)
    return ((yh - mean) / np.sqrt(var + eps)).reshape(-1) * weight + bias


def wkv_head_update(S, w, kk, a, v, k, r):
    """One head's state update and read-out, element-wise form.

    S [N, N] indexed [i = value][j = key]; every other argument is [N].
      sa[i]   = sum_j S[i][j] * (-kk[j])                         (old S)
      S'[i][j] = S[i][j] * w[j] + sa[i] * kk[j] * a[j] + v[i] * k[j]
      y[i]    = sum_j S'[i][j] * r[j]                             (new S)
    Returns (S', y); S is not modified.
    """
    sa = S @ (-kk)
    S_new = S * w[np.newaxis, :] + sa[:, np.newaxis] * (kk * a)[np.newaxis, :]
    S_new = S_new + v[:, np.newaxis] * k[np.newaxis, :]
    y = S_new @ r
    return S_new, y


def time_mix(model, l, x, layer_state, v_first):
    """Layer l's time mixing. Updates layer_state (att_shift, wkv) in place.

    Returns (x after the residual add, v_first).
    """
    p = f"blocks.{l}.att."
    H, N = model.config.heads, model.config.head_size

    xa = layer_norm(x, model.t(f"blocks.{l}.ln1.weight"), model.t(f"blocks.{l}.ln1.bias"))
    d = layer_state.att_shift - xa
    layer_state.att_shift = xa

    xr = xa + d * model.vec(p + "x_r")
    xw = xa + d * model.vec(p + "x_w")
    xk = xa + d * model.vec(p + "x_k")
    xv = xa + d * model.vec(p + "x_v")
    xa_ = xa + d * model.vec(p + "x_a")
    xg = xa + d * model.vec(p + "x_g")

    r = model.t(p + "receptance.weight") @ xr
    k = model.t(p + "key.weight") @ xk
    v = model.t(p + "value.weight") @ xv

    w_lora = np.tanh(xw @ model.t(p + "w1")) @ model.t(p + "w2")
    w = np.exp(-DECAY_SCALE * sigmoid(model.vec(p + "w0") + w_lora))
    a = sigmoid(model.vec(p + "a0") + (xa_ @ model.t(p + "a1")) @ model.t(p + "a2"))
    g = sigmoid(xg @ model.t(p + "g1")) @ model.t(p + "g2")

    # kk: k scaled by k_k, then unit length within each head (uses k before its update).
    kk = (k * model.vec(p + "k_k")).reshape(H, N)
    kk_norm = np.sqrt((kk * kk).sum(axis=1, keepdims=True))
    kk = (kk / np.maximum(kk_norm, KK_NORM_FLOOR)).reshape(-1)
    k = k * (1.0 + (a - 1.0) * model.vec(p + "k_a"))

    # Value residual: layer 0 sets v_first, later layers mix towards it.
    if l == 0:
        v_first = v
    else:
        v_mix = sigmoid(model.vec(p + "v0") + (xv @ model.t(p + "v1")) @ model.t(p + "v2"))
        v = v + (v_first - v) * v_mix

    y = np.zeros_like(x)
    for h in range(H):
        s = slice(h * N, (h + 1) * N)
        S_new, y[s] = wkv_head_update(layer_state.wkv[h], w[s], kk[s], a[s], v[s], k[s], r[s])
        layer_state.wkv[h] = S_new

    y = group_norm_heads(y, H, model.t(p + "ln_x.weight"), model.t(p + "ln_x.bias"))

    # Bonus: per head, (sum_j r[j] * k[j] * r_k[h][j]) * v[i].
    r_k = model.t(p + "r_k")  # [H, N]
    bonus = (r.reshape(H, N) * k.reshape(H, N) * r_k).sum(axis=1, keepdims=True)
    y = y + (bonus * v.reshape(H, N)).reshape(-1)

    x = x + model.t(p + "output.weight") @ (y * g)
    return x, v_first


def channel_mix(model, l, x, layer_state):
    """Layer l's channel mixing (squared ReLU). Updates layer_state.ffn_shift in place."""
    p = f"blocks.{l}.ffn."
    xf = layer_norm(x, model.t(f"blocks.{l}.ln2.weight"), model.t(f"blocks.{l}.ln2.bias"))
    d = layer_state.ffn_shift - xf
    layer_state.ffn_shift = xf
    xk = xf + d * model.vec(p + "x_k")
    hidden = np.maximum(model.t(p + "key.weight") @ xk, 0.0) ** 2
    return x + model.t(p + "value.weight") @ hidden


def forward_token(model, state, token):
    """Runs one token through the model; updates `state` in place; returns logits [V]."""
    config = model.config
    if not 0 <= int(token) < config.vocab:
        raise ValueError(f"token {token} outside [0, {config.vocab})")
    x = model.t("emb.weight")[int(token)]
    x = layer_norm(x, model.t("blocks.0.ln0.weight"), model.t("blocks.0.ln0.bias"))
    v_first = None
    for l in range(config.layers):
        x, v_first = time_mix(model, l, x, state[l], v_first)
        x = channel_mix(model, l, x, state[l])
    x = layer_norm(x, model.t("ln_out.weight"), model.t("ln_out.bias"))
    return model.t("head.weight") @ x


def forward_sequence(model, state, tokens):
    """Runs tokens one after another; updates `state` in place; returns logits [T, V]."""
    return np.stack([forward_token(model, state, token) for token in tokens])
