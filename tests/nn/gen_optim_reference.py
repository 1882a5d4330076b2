#!/usr/bin/env python3
"""Reference parameters after a few optimizer steps, for tests/lua/test_optim.lua.

Two parameters, a (2, 3) and b (4,); element j (1-based, row-major) of
parameter k (1, 2) starts at sin(0.7 j + k). Before step t (1-based) each
gets the gradient
    g[j] = 0.5 p[j] + 0.1 cos(0.3 j + t + k)
computed in double from the current values (then rounded to the dtype), so
tycho and PyTorch see the same gradients; on step 3, b has no gradient (the
optimizer must skip it, and its step count with it). Five steps; prints the
final parameters as a Lua table to paste into test_optim.lua.
Usage: /usr/bin/python3 tests/nn/gen_optim_reference.py   (Debian's python3-torch 1.13)
"""
import math
import textwrap

import torch

CASES = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_momentum_wd", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("sgd_dampening", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", "Adam", dict(lr=0.01)),
    ("adam_wd_amsgrad", "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                                     amsgrad=True)),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.05)),
    ("adamw_amsgrad", "AdamW", dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.1,
                                    amsgrad=True)),
]
SHAPES = [(2, 3), (4,)]
STEPS = 5


def run(cls, opts, dtype):
    params = []
    for k, shape in enumerate(SHAPES, start=1):
        n = math.prod(shape)
        v = [math.sin(0.7 * j + k) for j in range(1, n + 1)]
        params.append(torch.tensor(v, dtype=dtype).reshape(shape).requires_grad_(True))
    opt = getattr(torch.optim, cls)(params, **opts)
    for t in range(1, STEPS + 1):
        for k, p in enumerate(params, start=1):
            if t == 3 and k == 2:
                p.grad = None
                continue
            flat = p.detach().reshape(-1).tolist()
            g = [0.5 * x + 0.1 * math.cos(0.3 * j + t + k) for j, x in enumerate(flat, start=1)]
            p.grad = torch.tensor(g, dtype=dtype).reshape(p.shape)
        opt.step()
    return [p.detach().reshape(-1).tolist() for p in params]


def main():
    print("-- from tests/nn/gen_optim_reference.py (PyTorch %s)" % torch.__version__)
    print("local REF = {")
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        print("  %s = {" % tag)
        for name, cls, opts in CASES:
            a, b = run(cls, opts, dtype)
            fmt = "%.17g" if tag == "f64" else "%.9g"
            print("    %s = {" % name)
            for vals in (a, b):
                text = ", ".join(fmt % v for v in vals)
                print(textwrap.fill("{" + text + "},", 98, initial_indent=" " * 6,
                                    subsequent_indent=" " * 7))
            print("    },")
        print("  },")
    print("}")


if __name__ == "__main__":
    main()
