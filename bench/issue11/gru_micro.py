"""Issue 11 probe: ways of running a GRU on a torch CPU, forward + backward of one batch.

64 rows x 128 steps x 64 features -> 32 units (bench/zoo_backends.py's right padding for the
layers). Kernel level, every step of every row, against `torch._VF.gru` (ATen's per-step loop,
what `fused_rnn.torch_recurrence` runs for a GRU on a CPU): (a) the input product hoisted out
of an eager step loop, autograd per step; (c) the same loop in TorchScript; (b) `HandWrittenGRU`:
the hoisted product, TorchScript step loops without autograd, and the backward pass through
time written out. Layer level: `FusedGRU` and `Bidirectional(FusedGRU)`, masked and unmasked,
with (b) in place of `torch._VF.gru` (`install`) against textpipe's own path. Calls alternate;
best and median of `--repeats`. Not wired into textpipe: (b) measured 1.2-1.45x at kernel
level and 1.3-1.7x for the layers (BENCHMARKS.md), below the 1.8x asked for.

Usage:
    KERAS_BACKEND=torch python bench/issue11/gru_micro.py [--repeats 25]
    # zoo epochs with (b) in place, same arguments as bench/zoo_backends.py:
    KERAS_BACKEND=torch python bench/issue11/gru_micro.py zoo --masking --models gru bigru ...
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
import keras
import torch
from torch.autograd.function import once_differentiable
from zoo_backends import synthetic

from textpipe.models import fused_rnn
from textpipe.models.layers import FusedGRU

BATCH, STEPS, FEATURES, UNITS = 64, 128, 64, 32


def vf_gru(x, h0, w_ih, w_hh, b_ih, b_hh):
    """ATen's GRU, batch first: what `torch_recurrence` ran on a CPU before."""
    out, h = torch._VF.gru(
        x, h0.unsqueeze(0), [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, True, False, True
    )
    return out, h[0]


def hoisted_autograd(x, h0, w_ih, w_hh, b_ih, b_hh):
    """(a) One input product for all steps, then an eager step loop recorded by autograd."""
    batch, steps, features = x.shape
    units = h0.shape[1]
    gi = torch.addmm(b_ih, x.transpose(0, 1).reshape(-1, features), w_ih.t())
    gi = gi.view(steps, batch, 3 * units).unbind(0)
    h, outputs = h0, []
    for t in range(steps):
        gh = torch.addmm(b_hh, h, w_hh.t())
        rz = torch.sigmoid(gi[t][:, : 2 * units] + gh[:, : 2 * units])
        n = torch.tanh(torch.addcmul(gi[t][:, 2 * units :], rz[:, :units], gh[:, 2 * units :]))
        h = torch.lerp(n, h, rz[:, units:])
        outputs.append(h)
    return torch.stack(outputs, 1), h


@torch.jit.script
def scripted_autograd(x, h0, w_ih, w_hh, b_ih, b_hh):
    """(c) The same loop in TorchScript (autograd still records every step)."""
    batch, steps, features = x.shape
    units = h0.shape[1]
    gi = torch.addmm(b_ih, x.transpose(0, 1).reshape(-1, features), w_ih.t())
    gi = gi.view(steps, batch, 3 * units).unbind(0)
    h = h0
    outputs = []
    for t in range(steps):
        gh = torch.addmm(b_hh, h, w_hh.t())
        rz = torch.sigmoid(gi[t][:, : 2 * units] + gh[:, : 2 * units])
        n = torch.tanh(torch.addcmul(gi[t][:, 2 * units :], rz[:, :units], gh[:, 2 * units :]))
        h = torch.lerp(n, h, rz[:, units:])
        outputs.append(h)
    return torch.stack(outputs, 1), h


def forward_steps(
    gi: torch.Tensor, h0: torch.Tensor, w_t: torch.Tensor, b_n: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(b)'s forward loop: gi is the input product with the r and z recurrent biases added,
    `(steps, batch, 3 * units)`; b_n the n recurrent bias, zeros for r and z."""
    steps, batch, gates = gi.shape
    units = gates // 3
    out = gi.new_empty(steps, batch, units)
    recurrent = gi.new_empty(steps, batch, gates)
    rz = gi.new_empty(steps, batch, 2 * units)
    candidate = gi.new_empty(steps, batch, units)
    h = h0
    for t in range(steps):
        gi_t = gi[t]
        r_t = torch.addmm(b_n, h, w_t, out=recurrent[t])
        gates_t = torch.sigmoid(gi_t[:, : 2 * units] + r_t[:, : 2 * units], out=rz[t])
        n = torch.tanh(
            torch.addcmul(gi_t[:, 2 * units :], gates_t[:, :units], r_t[:, 2 * units :]),
            out=candidate[t],
        )
        h = torch.lerp(n, h, gates_t[:, units:], out=out[t])
    return out, recurrent, rz, candidate


def backward_steps(
    grad: torch.Tensor,
    coefficients: torch.Tensor,
    update: torch.Tensor,
    w_hh: torch.Tensor,
    dh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(b)'s backward loop: coefficients `(steps, batch, 3, units)` is d(recurrent product)/dh."""
    steps, batch, units = grad.shape
    dh_all = grad.new_empty(steps, batch, units)
    for t in range(steps - 1, -1, -1):
        dh = torch.add(dh, grad[t], out=dh_all[t])
        d_recurrent = (coefficients[t] * dh.unsqueeze(1)).view(batch, 3 * units)
        dh = torch.addmm(dh * update[t], d_recurrent, w_hh)
    return dh_all, dh


scripted_forward_steps = torch.jit.script(forward_steps)
scripted_backward_steps = torch.jit.script(backward_steps)


class HandWrittenGRU(torch.autograd.Function):
    """(b) `torch._VF.gru` over every step (batch first), its backward through time written out."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        batch, steps, features = x.shape
        units = h0.shape[1]
        x = x.transpose(0, 1).reshape(steps * batch, features)
        zero = b_hh.new_zeros(units)
        input_bias = b_ih + torch.cat([b_hh[: 2 * units], zero])
        gi = torch.addmm(input_bias, x, w_ih.t()).view(steps, batch, 3 * units)
        out, recurrent, rz, candidate = scripted_forward_steps(
            gi, h0, w_hh.t(), torch.cat([zero, zero, b_hh[2 * units :]])
        )
        ctx.save_for_backward(x, h0, w_ih, w_hh, out, recurrent, rz, candidate)
        return out.transpose(0, 1), out[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_h):
        x, h0, w_ih, w_hh, out, recurrent, rz, candidate = ctx.saved_tensors
        steps, batch, units = out.shape
        reset, update = rz[..., :units], rz[..., units:]
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]], 0)
        # dh/d(candidate's pre-activation), then dh/d(each gate's recurrent product)
        d_candidate = torch.ops.aten.tanh_backward(1 - update, candidate)
        coefficients = out.new_empty(steps, batch, 3, units)
        torch.ops.aten.sigmoid_backward(
            d_candidate * recurrent[..., 2 * units :], reset, grad_input=coefficients[:, :, 0]
        )
        torch.ops.aten.sigmoid_backward(
            h_prev - candidate, update, grad_input=coefficients[:, :, 1]
        )
        torch.mul(d_candidate, reset, out=coefficients[:, :, 2])
        if grad_out is None:
            grad_out = out.new_zeros(steps, batch, units)
        else:
            grad_out = grad_out.transpose(0, 1).contiguous()
        dh = out.new_zeros(batch, units) if grad_h is None else grad_h.contiguous()
        dh_all, dh0 = scripted_backward_steps(grad_out, coefficients, update.contiguous(), w_hh, dh)
        d_recurrent = (coefficients * dh_all.unsqueeze(2)).view(steps * batch, 3 * units)
        d_input = torch.cat(
            [d_recurrent[:, : 2 * units], (d_candidate * dh_all).view(steps * batch, units)], 1
        )
        dx = (d_input @ w_ih).view(steps, batch, -1).transpose(0, 1)
        return (
            dx,
            dh0,
            d_input.t() @ x,
            d_recurrent.t() @ h_prev.view(steps * batch, units),
            d_input.sum(0),
            d_recurrent.sum(0),
        )


def hand_written(x, h0, *weights):
    """(b) as a kernel of the same signature as `vf_gru`."""
    return HandWrittenGRU.apply(x, h0, *weights)


def check_gradients() -> None:
    """(b)'s outputs and gradients against `torch._VF.gru`'s, in float64."""
    torch.manual_seed(1)
    shapes = [(3, 5, 4), (3, 3), (9, 4), (9, 3), (9,), (9,)]
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for got, expected in zip(hand_written(*args), vf_gru(*args), strict=True):
        torch.testing.assert_close(got, expected)
    assert torch.autograd.gradcheck(hand_written, args)
    assert torch.autograd.gradcheck(lambda *a: hand_written(*a)[0], args)
    print("(b) outputs equal torch._VF.gru's; gradcheck (float64) passes", flush=True)


ORIGINAL_RECURRENCE = fused_rnn.torch_recurrence


def with_hand_written_gru(cell_type, sequences, initial_state, lengths, weights, **options):
    """`fused_rnn.torch_recurrence`, with (b) where it runs `torch._VF.gru` unpacked on a CPU."""
    if cell_type == "gru" and (lengths is None or not options.get("packed", True)):
        processed, h = hand_written(sequences, initial_state[0], *weights)
        if lengths is None:
            return processed, h, [h]
        return fused_rnn._at_lengths(processed, [h], initial_state, lengths)
    return ORIGINAL_RECURRENCE(cell_type, sequences, initial_state, lengths, weights, **options)


def install(use: bool = True) -> None:
    """Runs textpipe's torch GRU on (b) (or back on `torch._VF.gru`)."""
    fused_rnn.torch_recurrence = with_hand_written_gru if use else ORIGINAL_RECURRENCE


def kernel_caller(steps: int) -> Callable[[Callable[..., Any]], Callable[[], None]]:
    """For one seeded batch of `steps` steps: a kernel -> a call of its forward + backward."""
    torch.manual_seed(0)
    x = torch.randn(BATCH, steps, FEATURES, requires_grad=True)
    h0 = torch.zeros(BATCH, UNITS)
    weights = [
        (torch.randn(3 * UNITS, FEATURES) * 0.2).requires_grad_(),
        (torch.randn(3 * UNITS, UNITS) * 0.2).requires_grad_(),
        torch.zeros(3 * UNITS, requires_grad=True),
        torch.zeros(3 * UNITS, requires_grad=True),
    ]
    output_weights = torch.randn(BATCH, steps, UNITS)

    def call(kernel: Callable[..., Any]) -> Callable[[], None]:
        def run() -> None:
            out, _ = kernel(x, h0, *weights)
            (out * output_weights).sum().backward()

        return run

    return call


def compiled_kernel(steps: int, repeats: int) -> None:
    """(d) torch.compile (inductor, a C++ kernel) of (a), unrolled over `steps` steps."""
    call = kernel_caller(steps)
    compiled = torch.compile(hoisted_autograd, dynamic=False)
    start = time.perf_counter()
    call(compiled)()
    print(
        f"(d) torch.compile of (a), {steps} steps: first call {time.perf_counter() - start:.1f} s"
    )
    report(
        timed({"torch._VF.gru": call(vf_gru), "(d) compiled": call(compiled)}, repeats),
        "torch._VF.gru",
    )


def timed(calls: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    for call in calls.values():
        call()
        call()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def report(times: dict[str, list[float]], baseline: str) -> None:
    base = min(times[baseline])
    for name, each in times.items():
        print(
            f"  {name}: best {min(each) * 1000:.1f} ms, median {statistics.median(each) * 1000:.1f}"
            f" ms, {baseline} / this {base / min(each):.2f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument(
        "--compile-steps",
        type=int,
        default=0,
        help="also time (d): torch.compile of (a) at this many steps (128: minutes of compiling)",
    )
    args = parser.parse_args()
    check_gradients()
    kernel_call = kernel_caller(STEPS)

    print(f"kernel, every step, forward + backward ({BATCH} x {STEPS} x {FEATURES} -> {UNITS})")
    kernels = {
        "torch._VF.gru": vf_gru,
        "(a) hoisted, eager autograd": hoisted_autograd,
        "(c) hoisted, TorchScript autograd": scripted_autograd,
        "(b) hand-written backward": hand_written,
    }
    report(
        timed({name: kernel_call(k) for name, k in kernels.items()}, args.repeats), "torch._VF.gru"
    )
    if args.compile_steps:
        compiled_kernel(args.compile_steps, args.repeats)

    ids, _ = synthetic(BATCH, STEPS, 20002)
    mask = torch.as_tensor(ids != 0)
    inputs = torch.randn(BATCH, STEPS, FEATURES, requires_grad=True)

    def layer_call(layer, with_mask: bool, use: bool):
        def call() -> None:
            install(use)
            try:
                outputs = layer(inputs, mask=mask if with_mask else None)
            finally:
                install(False)
            outputs.sum().backward()

        return call

    for name, make in [
        ("gru", lambda: FusedGRU(UNITS, return_sequences=True)),
        ("bigru", lambda: keras.layers.Bidirectional(FusedGRU(UNITS, return_sequences=True))),
    ]:
        layer = make()
        for with_mask in (True, False):
            print(f"layer {name}, {'masked' if with_mask else 'unmasked'}, forward + backward")
            calls = {
                "textpipe (torch._VF.gru)": layer_call(layer, with_mask, False),
                "(b) in its place": layer_call(layer, with_mask, True),
            }
            report(timed(calls, args.repeats), "textpipe (torch._VF.gru)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["zoo"]:
        import zoo_backends

        install()
        sys.argv = [sys.argv[0], *sys.argv[2:]]
        zoo_backends.main()
    else:
        main()
