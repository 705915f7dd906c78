#!/usr/bin/env python3
"""Makes tiny_torch.pth, a one-layer RWKV-7 (x070) checkpoint written by real
PyTorch, and tiny_torch_expected.txt, the checks the C++ tests compare against.

The model mirrors RWKV-LM's module structure, so `model.state_dict()` has the
key order (and the `_metadata` attribute) of a checkpoint saved from a torch
module; it differs from the order the project's own writer uses. Shapes:
L=1, C=64, H=1, N=64, F=256, V=64; LoRA ranks w/a/v/g = 16/8/4/24 (all
different, so a mix-up shows). Most tensors are bf16 like the released files;
a few use other dtypes to cover conversions: ln_out.* float32, head.weight and
blocks.0.att.w1 float16.

The expected file has one line per tensor:
    <name> <dtype> <shape, comma-separated> <sum> <weighted sum>
with sums in float64 over the tensor flattened row-major as stored, the
weighted sum using weight (i % 13) + 1 for element i (so a transposed or
shuffled tensor does not match).

Run from this directory with python3 and torch (any version >= 1.6):
    python3 make_torch_pth.py
"""
import collections

import torch
import torch.nn as nn

C, V, N, F = 64, 64, 64, 256
H = C // N
D_W, D_A, D_V, D_G = 16, 8, 4, 24


class TimeMix(nn.Module):
    def __init__(self):
        super().__init__()
        p = lambda *shape: nn.Parameter(torch.empty(*shape))
        self.x_r, self.x_w, self.x_k = p(1, 1, C), p(1, 1, C), p(1, 1, C)
        self.x_v, self.x_a, self.x_g = p(1, 1, C), p(1, 1, C), p(1, 1, C)
        self.w0, self.w1, self.w2 = p(1, 1, C), p(C, D_W), p(D_W, C)
        self.a0, self.a1, self.a2 = p(1, 1, C), p(C, D_A), p(D_A, C)
        self.v0, self.v1, self.v2 = p(1, 1, C), p(C, D_V), p(D_V, C)
        self.g1, self.g2 = p(C, D_G), p(D_G, C)
        self.k_k, self.k_a, self.r_k = p(1, 1, C), p(1, 1, C), p(H, N)
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=64e-5)


class ChannelMix(nn.Module):
    def __init__(self):
        super().__init__()
        self.x_k = nn.Parameter(torch.empty(1, 1, C))
        self.key = nn.Linear(C, F, bias=False)
        self.value = nn.Linear(F, C, bias=False)


class Block(nn.Module):
    def __init__(self, layer_id):
        super().__init__()
        self.ln1 = nn.LayerNorm(C)
        self.ln2 = nn.LayerNorm(C)
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C)
        self.att = TimeMix()
        self.ffn = ChannelMix()


class RWKV(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([Block(0)])
        self.ln_out = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)


def main():
    torch.manual_seed(20250101)
    model = RWKV()
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.randn(param.shape) * 0.5 + (1.0 if name.endswith("ln1.weight") else 0.0))
    model = model.bfloat16()
    model.ln_out.float()
    model.head.half()
    state = model.state_dict()
    state["blocks.0.att.w1"] = state["blocks.0.att.w1"].half()
    torch.save(state, "tiny_torch.pth")

    reloaded = torch.load("tiny_torch.pth")
    assert list(reloaded.keys()) == list(state.keys())
    with open("tiny_torch_expected.txt", "w") as out:
        out.write("# Written by make_torch_pth.py: name dtype shape sum weighted_sum\n")
        dtype_names = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}
        for name, tensor in reloaded.items():
            flat = tensor.double().flatten()
            weights = (torch.arange(flat.numel(), dtype=torch.float64) % 13) + 1
            out.write("%s %s %s %r %r\n" % (
                name, dtype_names[tensor.dtype], ",".join(str(d) for d in tensor.shape),
                float(flat.sum()), float((flat * weights).sum())))


if __name__ == "__main__":
    main()
