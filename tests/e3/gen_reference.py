#!/usr/bin/env python3
"""Writes tests/e3/reference.safetensors: numbers computed by real e3nn, which
tests/lua/test_e3_reference.lua compares tycho's e3 module against.

Run with e3nn from PyPI on top of Debian's python3-torch (1.13):
    /usr/bin/python3 -m venv --system-site-packages /tmp/e3venv
    /tmp/e3venv/bin/pip install e3nn==0.5.1 'numpy<2' 'scipy<1.14'
    /tmp/e3venv/bin/python tests/e3/gen_reference.py [out.safetensors]
(e3nn 0.6.0 on torch 2.x gives the same file up to rounding.)

Everything is float64. The file is written by hand in the safetensors format
(an 8-byte little-endian header length, a JSON header, raw little-endian
data), so no package beyond torch and e3nn is needed.
"""
import json
import math
import struct
import sys

import torch
import e3nn
from e3nn import o3

torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)
out = {}


def put(name, t):
    out[name] = t.detach().to(torch.float64).contiguous()


# wigner_3j: every triple with l <= 3, and a few larger ones
for l1 in range(4):
    for l2 in range(4):
        for l3 in range(abs(l1 - l2), min(l1 + l2, 3) + 1):
            put(f"w3j_{l1}_{l2}_{l3}", o3.wigner_3j(l1, l2, l3))
for l1, l2, l3 in [(4, 5, 6), (6, 6, 6), (2, 6, 5), (6, 3, 4), (5, 5, 0), (8, 4, 6)]:
    put(f"w3j_{l1}_{l2}_{l3}", o3.wigner_3j(l1, l2, l3))

# spherical harmonics up to l = 8 of a few vectors (one of them zero)
vec = torch.randn(7, 3)
vec[3] = 0
put("sh_x", vec)
for norm in ["integral", "component", "norm"]:
    for normalize in [True, False]:
        put(f"sh_{norm}_{int(normalize)}", o3.spherical_harmonics(list(range(9)), vec, normalize, norm))

# wigner_D for l = 0..6 at a few angle triples; rotation matrices and angles
ang = torch.rand(4, 3) * 2 * math.pi
ang[:, 1] /= 2
put("angles", ang)
for l in range(7):
    put(f"wigD_{l}", o3.wigner_D(l, ang[:, 0], ang[:, 1], ang[:, 2]))
R = o3.rand_matrix(5)
put("rot_R", R)
put("rot_angles", torch.stack(o3.matrix_to_angles(R), dim=-1))
put("rot_quat", o3.matrix_to_quaternion(R))
axis, angle = o3.matrix_to_axis_angle(R)
put("rot_axis", axis)
put("rot_angle", angle)
put("rot_D", o3.Irreps("2x0e+1x1o+1x1e+1x2o+1x3e").D_from_matrix(-R[0]))


def tp_case(name, tp, batch, per_sample=False):
    x1 = tp.irreps_in1.randn(batch, -1)
    x2 = tp.irreps_in2.randn(batch, -1)
    put(f"{name}_x1", x1)
    put(f"{name}_x2", x2)
    if per_sample:
        w = torch.randn(batch, tp.weight_numel)
        put(f"{name}_w", w)
        put(f"{name}_out", tp(x1, x2, w))
    else:
        put(f"{name}_w", tp.weight)
        put(f"{name}_out", tp(x1, x2))


# a fully connected product with its internal weights
fc = o3.FullyConnectedTensorProduct("2x0e+3x1o+1x2e", "1x0e+1x1o+1x2e", "3x0e+2x1o+2x1e+1x2e+1x3o")
tp_case("fctp", fc, 5)

# every connection mode, normalisations, per-sample weights and no weights
modes = o3.TensorProduct(
    "3x0e+2x1o", "3x0e+2x1e", "3x0e+2x1o+3x0e+2x2o+1x1o+2x0o+2x1e+1x1o",
    [(0, 0, 0, "uvu", True), (1, 1, 1, "uuu", True), (0, 0, 2, "uvv", True),
     (1, 1, 3, "uuw", True), (1, 0, 4, "uvw", True), (1, 1, 5, "uvu", True),
     (0, 1, 6, "uvv", False), (1, 1, 7, "uuw", False), (1, 1, 5, "uvu", False)],
    irrep_normalization="norm", path_normalization="path", shared_weights=False, internal_weights=False)
tp_case("modes", modes, 4, per_sample=True)
plain = o3.TensorProduct("2x1o+1x2e", "2x1o", "2x0e+2x2e+2x1o",
                         [(0, 0, 0, "uuu", False), (0, 0, 1, "uuu", False), (1, 0, 2, "uvv", False)])
tp_case("plain", plain, 3)

# e3nn's Linear with biases, and its norm
lin = o3.Linear("4x0e+2x1o+1x2e", "3x0e+2x1o+1x1e", biases=True)
with torch.no_grad():
    lin.bias.normal_()
xl = lin.irreps_in.randn(3, -1)
put("linear_x", xl)
put("linear_w", lin.weight)
put("linear_b", lin.bias)
put("linear_out", lin(xl))
put("norm_out", o3.Norm("4x0e+2x1o+1x2e")(xl))


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name in sorted(tensors):
        b = tensors[name].numpy().astype("<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(tensors[name].shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    header["__metadata__"] = {"generator": f"e3nn {e3nn.__version__}, torch {torch.__version__}"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/e3/reference.safetensors"
    write_safetensors(path, out)
    print(f"{path}: {len(out)} tensors, e3nn {e3nn.__version__}, torch {torch.__version__}")
