#!/usr/bin/env python3
"""Reference logits of the ViT of API.md for tests/lua/test_nn.lua, from PyTorch.

The model is the ViT of ../shared/bench/peer_torch.py (the benchmark's peer),
copied here so that this script stands alone: image 28, patch 4, 1 channel,
dim 64, depth 4, heads 4, mlp 128, 10 classes, pre-norm blocks with
LayerNorm eps 1e-6, exact (erf) GELU, class token, learned positions.

Weights and input are formulas both sides compute (in double, then rounded
to f32):
  parameter number k (1-based, in tycho's named_parameters order), element
  i (1-based, row-major): 0.1 * sin(k + 0.37 i + 0.0013 i^2), plus 1 for
  LayerNorm gains (the i^2 term keeps the weight matrices from being rank 2,
  as sin(k + 0.37 i) alone would make them);
  image batch (2, 1, 28, 28), element j (1-based, row-major): sin(0.003 j^2).
tycho's names map to the peer's: cls_token -> cls, pos_embed -> pos,
patch_embed.proj -> embed, blocks.N (1-based) -> blocks.N-1,
attn.qkv.weight/bias -> attn.in_proj_weight/in_proj_bias, attn.proj ->
attn.out_proj, mlp.fc1 -> mlp.0, mlp.fc2 -> mlp.2.

The forward runs in float64 on the f32-rounded values (the exact answer for
tycho's f32 and f64 runs). Prints the Lua literal to paste into test_nn.lua.
Usage: /usr/bin/python3 tests/nn/gen_vit_reference.py   (Debian's python3-torch)
"""
import math
import textwrap

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d, h, m):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d, m), nn.GELU(), nn.Linear(m, d))

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, img=28, patch=4, dim=64, depth=4, heads=4, mlp=128, classes=10):
        super().__init__()
        n = (img // patch) ** 2
        self.patch = patch
        self.embed = nn.Linear(patch * patch, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        b, p = x.shape[0], self.patch
        x = x.unfold(2, p, p).unfold(3, p, p).reshape(b, -1, p * p)
        x = torch.cat([self.cls.expand(b, -1, -1), self.embed(x)], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


DEPTH = 4


def tycho_names():
    """tycho's named_parameters order for nn.ViT (depth 4), with the peer's name of each."""
    names = [("cls_token", "cls"), ("pos_embed", "pos"),
             ("patch_embed.proj.weight", "embed.weight"), ("patch_embed.proj.bias", "embed.bias")]
    for n in range(1, DEPTH + 1):
        t, p = "blocks.%d." % n, "blocks.%d." % (n - 1)
        names += [(t + "norm1.weight", p + "norm1.weight"), (t + "norm1.bias", p + "norm1.bias"),
                  (t + "attn.qkv.weight", p + "attn.in_proj_weight"),
                  (t + "attn.qkv.bias", p + "attn.in_proj_bias"),
                  (t + "attn.proj.weight", p + "attn.out_proj.weight"),
                  (t + "attn.proj.bias", p + "attn.out_proj.bias"),
                  (t + "norm2.weight", p + "norm2.weight"), (t + "norm2.bias", p + "norm2.bias"),
                  (t + "mlp.fc1.weight", p + "mlp.0.weight"), (t + "mlp.fc1.bias", p + "mlp.0.bias"),
                  (t + "mlp.fc2.weight", p + "mlp.2.weight"), (t + "mlp.fc2.bias", p + "mlp.2.bias")]
    names += [("norm.weight", "norm.weight"), ("norm.bias", "norm.bias"),
              ("head.weight", "head.weight"), ("head.bias", "head.bias")]
    return names


def is_norm_gain(name):
    last = name.split(".")
    return len(last) >= 2 and last[-1] == "weight" and last[-2].startswith("norm")


def values(k, n, gain):
    return [(1.0 if gain else 0.0) + 0.1 * math.sin(k + 0.37 * i + 0.0013 * i * i) for i in range(1, n + 1)]


def f32(vals, shape):
    return torch.tensor(vals, dtype=torch.float32).reshape(shape).to(torch.float64)


def main():
    torch.manual_seed(0)
    m = ViT().double()
    params = dict(m.named_parameters())
    names = tycho_names()
    assert sorted(p for _, p in names) == sorted(params), "the name map misses a parameter"
    with torch.no_grad():
        for k, (tname, pname) in enumerate(names, start=1):
            p = params[pname]
            p.copy_(f32(values(k, p.numel(), is_norm_gain(tname)), p.shape))
    x = f32([math.sin(0.003 * j * j) for j in range(1, 2 * 28 * 28 + 1)], (2, 1, 28, 28))
    m.eval()
    with torch.no_grad():
        logits = m(x)
    print("-- from tests/nn/gen_vit_reference.py (PyTorch %s, float64)" % torch.__version__)
    print("local VIT_LOGITS = {")
    for row in logits.tolist():
        print(textwrap.fill("{" + ", ".join("%.12g" % v for v in row) + "},", 98,
                            initial_indent="  ", subsequent_indent="   "))
    print("}")


if __name__ == "__main__":
    main()
