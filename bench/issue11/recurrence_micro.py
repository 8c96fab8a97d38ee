"""Issue 11 probe: forward+backward of one LSTM/GRU batch (64 x 128 x 64 -> 32) on torch.

Packed and every-step (masked) against unpacked (unmasked) `torch._VF` kernels. Usage:
KERAS_BACKEND=torch python bench/issue11/recurrence_micro.py
"""

import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
import torch
from zoo_backends import synthetic

from textpipe.models import fused_rnn

ids, _ = synthetic(64, 128, 20002)
mask = torch.as_tensor(ids != 0)
torch.manual_seed(0)
x = torch.randn(64, 128, 64, requires_grad=True)
k = torch.randn(64, 128, requires_grad=True)
r = torch.randn(32, 128, requires_grad=True)
b = torch.zeros(128, requires_grad=True)
h0 = [torch.zeros(64, 32), torch.zeros(64, 32)]


def packed(packed: bool = True, cell: str = "lstm") -> None:
    weights = (k, r, b) if cell == "lstm" else (kg, rg, bg)
    moved, lengths = fused_rnn.real_steps_first(x, mask)
    out, _, _ = fused_rnn.torch_recurrence(
        cell,
        moved,
        h0 if cell == "lstm" else h0[:1],
        lengths,
        fused_rnn.torch_weights(cell, *weights),
        training=True,
        packed=packed,
    )
    fused_rnn.at_mask_steps(out, mask, zero_output_for_mask=True).sum().backward()


def unpacked() -> None:
    out, _, _ = fused_rnn.torch_recurrence(
        "lstm", x, h0, None, fused_rnn.torch_weights("lstm", k, r, b), training=True
    )
    out.sum().backward()


def python_forward_only() -> None:
    # lower bound of any eager per-step loop: forward alone, no autograd, input projection hoisted
    with torch.no_grad():
        xg = torch.addmm(b, x.reshape(-1, 64), k).reshape(64, 128, 128).unbind(1)
        h, c = h0
        for t in range(128):
            z = torch.addmm(xg[t], h, r)
            i, f, g, o = z.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)


kg = torch.randn(64, 96, requires_grad=True)
rg = torch.randn(32, 96, requires_grad=True)
bg = torch.zeros(2, 96, requires_grad=True)


def gru_packed() -> None:
    packed(True, "gru")


def gru_unpacked() -> None:
    out, _, _ = fused_rnn.torch_recurrence(
        "gru", x, h0[:1], None, fused_rnn.torch_weights("gru", kg, rg, bg), training=True
    )
    out.sum().backward()


for name, fn in [
    ("gru packed (textpipe, masked)", gru_packed),
    ("gru every step at lengths (textpipe, masked, CPU)", lambda: packed(False, "gru")),
    ("gru unpacked (textpipe, unmasked)", gru_unpacked),
    ("packed (masked, packed sequences)", packed),
    ("every step at lengths (textpipe, masked, CPU)", lambda: packed(False)),
    ("unpacked (textpipe, unmasked)", unpacked),
    ("python loop, forward only, no grad", python_forward_only),
]:
    fn()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    print(
        f"{name}: best {min(times) * 1000:.1f} ms, median {sorted(times)[2] * 1000:.1f} ms",
        flush=True,
    )
