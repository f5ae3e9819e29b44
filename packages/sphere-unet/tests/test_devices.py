"""The models on CUDA give the CPU's outputs and gradients (skipped without a GPU).

Float64, dropout off: training mode (batch statistics), evaluation mode (running
statistics) and inference with the batch norms folded into the convolutions.
"""

import copy

import pytest
import sphere_graphs as sg
import sphere_unet as su
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")

SAMPLINGS = {
    "healpix": lambda: sg.healpix(4),
    "icosahedral": lambda: sg.icosahedral(2),
    "equiangular": lambda: sg.equiangular(16, 32),
}
MODELS = {
    "unet-max": lambda s: su.SphericalUNet(s, 3, 4, depth=2, width=4, pool="max"),
    "unet-avg": lambda s: su.SphericalUNet(s, 3, 4, depth=2, width=4, pool="avg"),
    "frame-stack": lambda s: su.FrameStackUNet(s, 3, 4, depth=2, width=4, n_frames=2),
    "conv-lstm": lambda s: su.ConvLSTMUNet(s, 3, 4, depth=2, width=4),
    "classifier": lambda s: su.SphericalClassifier(s, 3, 5, depth=2, channels=[[4], [8], [8]]),
}
TEMPORAL = ("frame-stack", "conv-lstm")


def _run(model, x, device, mode):
    """Output and parameter gradients of ``model`` on ``device`` (returned on the CPU)."""
    m = copy.deepcopy(model).to(device)
    m.train(mode == "train")
    xd = x.to(device)
    if mode == "inference":
        with torch.inference_mode():
            return [m(xd).cpu()]
    y = m(xd)
    weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype, device=device).view(y.shape)
    grads = torch.autograd.grad((y * weights).sum(), [p for p in m.parameters()])
    return [y.detach().cpu(), *(g.cpu() for g in grads)]


@pytest.mark.parametrize("sampling", list(SAMPLINGS))
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("mode", ["train", "eval", "inference"])
def test_models_on_cuda_match_cpu(sampling, name, mode):
    s = SAMPLINGS[sampling]()
    model = MODELS[name](s).double()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.no_grad():  # running statistics away from their initial (0, 1)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    shape = (2, 2, s.n_vertices, 3) if name in TEMPORAL else (2, s.n_vertices, 3)
    x = torch.randn(shape, dtype=torch.float64)
    got, want = _run(model, x, "cuda", mode), _run(model, x, "cpu", mode)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)
