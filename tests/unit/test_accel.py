"""The speed switches (runtime.precision / channels_last / compile), exercised on the CPU."""

import pandas as pd
import pytest
import torch

from harness import accel, store
from harness.columns import EPOCH_SECONDS
from harness.config import RunConfig
from harness.methods.factory import build_method
from harness.plan import load_study
from harness.spec import parse_set
from harness.store import RunState
from harness.train import train

from conftest import FAST

VOLATILE = [EPOCH_SECONDS]


def config(tiny_study, *sets) -> RunConfig:
    return load_study(tiny_study, overrides=parse_set(FAST + ["optim.epochs=2", *sets])).runs[0].config


def curves(directory):
    return store.read_curves(directory / store.CURVES).drop(columns=VOLATILE)


def with_runtime(c: RunConfig, **runtime) -> RunConfig:
    return c.model_copy(update={"runtime": c.runtime.model_copy(update=runtime)})


def test_autocast_follows_the_precision():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with accel.autocast(RunConfig().runtime):
        assert (a @ b).dtype == torch.float32
    with accel.autocast(with_runtime(RunConfig(), precision="bf16").runtime):
        assert (a @ b).dtype == torch.bfloat16


def test_bf16_trains_deterministically_and_differently(tiny_study, tmp_path):
    fp32 = config(tiny_study, "optim.epochs=1")
    bf16 = config(tiny_study, "optim.epochs=1", "runtime.precision=bf16")
    assert train(bf16, tmp_path / "a")["status"] == RunState.DONE
    train(bf16, tmp_path / "b")
    train(fp32, tmp_path / "fp32")
    pd.testing.assert_frame_equal(curves(tmp_path / "a"), curves(tmp_path / "b"))
    assert not curves(tmp_path / "a")["loss"].equals(curves(tmp_path / "fp32")["loss"])
    # bf16 rounds, it does not change what is learned: the losses stay close
    assert (curves(tmp_path / "a")["loss"] - curves(tmp_path / "fp32")["loss"]).abs().max() < 0.05


def test_channels_last_changes_the_layout_not_the_result(tiny_study, tmp_path):
    c = config(tiny_study, "runtime.channels_last=true")
    torch.manual_seed(0)
    nhwc = accel.prepare_model(build_method(c, 1), c.runtime)
    torch.manual_seed(0)
    nchw = build_method(c, 1)
    convs = [m for m in nhwc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    views = [torch.randn(32, 1, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    nhwc_views = accel.to_memory_format(views, c.runtime)
    assert all(v.is_contiguous(memory_format=torch.channels_last) for v in nhwc_views)
    # One step's loss and gradients agree up to the other kernels' rounding. (Over epochs of SGD the
    # rounding differences grow, as between two devices: the layout is not part of the run id.)
    a, b = nhwc(nhwc_views).loss, nchw(views).loss
    a.backward(), b.backward()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for pa, pb in zip(nhwc.parameters(), nchw.parameters()):
        if pa.grad is not None:
            torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-3, atol=1e-5)
    assert train(c, tmp_path / "nhwc")["status"] == RunState.DONE


def test_compile_keeps_the_state_dict_and_trains(tiny_study, tmp_path, monkeypatch):
    # Dynamo's eager backend: the graph capture is exercised, inductor's C++ build (minutes) is not.
    compile_ = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compile_(self, backend="eager", **kw))
    c = config(tiny_study, "runtime.compile=true")
    method = accel.prepare_model(build_method(c, 1), c.runtime)
    assert method._compiled_call_impl is not None
    assert not any("_orig_mod" in key for key in method.state_dict())

    assert train(c, tmp_path / "compiled")["status"] == RunState.DONE
    train(config(tiny_study), tmp_path / "eager")
    same = ["epoch", "loss", "output_std", "lr"]
    compiled, eager = curves(tmp_path / "compiled")[same], curves(tmp_path / "eager")[same]
    pd.testing.assert_frame_equal(compiled, eager, check_exact=False, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("key", ["runtime.precision=fp16", "runtime.channels_last=maybe"])
def test_bad_switch_values_are_refused(tiny_study, key):
    from harness.spec import SpecError

    with pytest.raises(SpecError, match=key.split("=")[0]):
        config(tiny_study, key)
