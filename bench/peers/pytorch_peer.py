#!/usr/bin/env python3
"""PyTorch as a bench peer: the same matmul, conv layer and ResNet-18 training step as saln, timed here.

Protocol (bench/peers/pytorch.ts speaks it): one JSON job per line on stdin, one JSON result per line on stdout,
until stdin closes, so that torch is imported once per bench run. Float arrays travel as base64 little-endian
float32 in saln's layouts (row-major matmul operands, NHWC activations, TF.js's HWIO filters) and are converted
here outside the timed region, so that the caller checks the results with the same float64 samples as its own.

Jobs:
  {"task": "info", "device": "cpu"|"cuda", "threads": N}
  {"task": "matmul", "runs": R, "M", "N", "K", "a": b64, "b": b64}               -> outputs [C]
  {"task": "conv", "runs": R, "x_shape": [N,H,W,C], "filter_shape": [KH,KW,Cin,Cout], "stride", "pad",
   "x": b64, "filter": b64, "dy": b64|null}                                         -> outputs [y] or [dx, dW]
  {"task": "step", "runs": R, "stem", "width", "classes", "batch", "size", "images": b64 | "seed": S} -> loss
Every timed job answers {"seconds": [one per timed run], ...}: one warm-up call first, then R calls, each ended by
a device sync (torch.cuda.synchronize on CUDA; CPU ops return when done). Errors answer {"error": "one line"}.
"""
import base64
import json
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    IMPORT_ERROR = None
except Exception as e:  # ImportError, or a broken install raising something else
    IMPORT_ERROR = f"{type(e).__name__}: {e}"


def decode(text, shape):
    return torch.from_numpy(np.frombuffer(base64.b64decode(text), dtype='<f4').copy().reshape(shape))


def encode(tensor):
    return base64.b64encode(tensor.detach().to('cpu', torch.float32).contiguous().numpy().astype('<f4').tobytes()).decode('ascii')


class Timer:
    def __init__(self, device):
        self.device = device

    def sync(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def measure(self, runs, body):
        """One warm-up call, then `runs` timed calls; returns the seconds of each and the last call's result."""
        result = body()
        self.sync()
        seconds = []
        for _ in range(runs):
            t0 = time.perf_counter()
            result = body()
            self.sync()
            seconds.append(time.perf_counter() - t0)
        return seconds, result


def info(device, threads):
    props = {
        'engine': f"pytorch-{device.type}",
        'version': torch.__version__,
        'threads': torch.get_num_threads(),
        'requestedThreads': threads,
        'mkldnn': bool(torch.backends.mkldnn.is_available()),
    }
    if device.type == 'cuda':
        props['gpu'] = torch.cuda.get_device_name(device)
        props['cuda'] = torch.version.cuda
        props['cudnn'] = torch.backends.cudnn.version()
    return props


def matmul(job, device, timer):
    a = decode(job['a'], (job['M'], job['K'])).to(device)
    b = decode(job['b'], (job['K'], job['N'])).to(device)
    with torch.no_grad():
        seconds, c = timer.measure(job['runs'], lambda: torch.matmul(a, b))
    return {'seconds': seconds, 'outputs': [encode(c)]}


def conv(job, device, timer):
    # Inputs arrive NHWC / HWIO; PyTorch's default (and fastest-supported) layout is NCHW / OIHW.
    n, h, w, c = job['x_shape']
    kh, kw, cin, cout = job['filter_shape']
    x = decode(job['x'], (n, h, w, c)).permute(0, 3, 1, 2).contiguous().to(device)
    weight = decode(job['filter'], (kh, kw, cin, cout)).permute(3, 2, 0, 1).contiguous().to(device)
    stride, pad = job['stride'], job['pad']
    if job.get('dy') is None:
        with torch.no_grad():
            seconds, y = timer.measure(job['runs'], lambda: F.conv2d(x, weight, None, stride, pad))
        return {'seconds': seconds, 'outputs': [encode(y.permute(0, 2, 3, 1))]}
    ho, wo = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    dy = decode(job['dy'], (n, ho, wo, cout)).permute(0, 3, 1, 2).contiguous().to(device)
    x.requires_grad_(True)
    weight.requires_grad_(True)

    def forward_backward():
        # The forward under autograd, then both gradient kernels: the work TF.js's tf.grads and ours do.
        y = F.conv2d(x, weight, None, stride, pad)
        return torch.autograd.grad(y, (x, weight), dy)

    seconds, (dx, dw) = timer.measure(job['runs'], forward_backward)
    return {'seconds': seconds, 'outputs': [encode(dx.permute(0, 2, 3, 1)), encode(dw.permute(2, 3, 1, 0))]}


def step(job, device, timer):
    from pytorch_resnet import ResNet18  # beside this file; imported only here, since it needs torch at import time
    torch.manual_seed(job.get('seed', 1))
    model = ResNet18(job['stem'], job['width'], job['classes']).to(device).train()
    batch, size = job['batch'], job['size']
    if job.get('images') is not None:
        x = decode(job['images'], (batch, size, size, 3)).permute(0, 3, 1, 2).contiguous().to(device)
    else:
        # Same shape and distribution (uniform in [-1, 1]) as the bench's images, not the same values: only the
        # time of a step is compared, and its loss is only checked to be finite.
        x = (torch.rand(batch, 3, size, size) * 2 - 1).to(device)
    labels = (torch.arange(batch) % job['classes']).to(device)
    # Weight decay on conv and linear weights only, as ours (and the TF.js peer) apply it.
    decayed = [p for name, p in model.named_parameters() if p.dim() > 1]
    rest = [p for name, p in model.named_parameters() if p.dim() <= 1]
    optimizer = torch.optim.SGD([{'params': decayed, 'weight_decay': 5e-4}, {'params': rest, 'weight_decay': 0}],
                                lr=0.01, momentum=0.9, nesterov=True)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss

    seconds, loss = timer.measure(job['runs'], train_step)
    return {'seconds': seconds, 'loss': float(loss.item())}


TASKS = {'matmul': matmul, 'conv': conv, 'step': step}


def answer(job, state):
    if IMPORT_ERROR is not None:
        return {'unavailable': f"{sys.executable} cannot import torch ({IMPORT_ERROR})"}
    task = job.get('task')
    if task == 'info':
        device = torch.device(job.get('device', 'cpu'))
        if device.type == 'cuda' and not torch.cuda.is_available():
            return {'unavailable': f"torch {torch.__version__} sees no CUDA device"}
        # The machine's cores unless told otherwise: what a user running PyTorch on it gets by default.
        threads = int(job.get('threads') or os.cpu_count() or 1)
        torch.set_num_threads(threads)
        state['device'] = device
        return info(device, threads)
    if task not in TASKS:
        return {'error': f"unknown task '{task}' (info, {', '.join(TASKS)})"}
    device = state.setdefault('device', torch.device('cpu'))
    return TASKS[task](job, device, Timer(device))


def main():
    state, errors = {}, 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = answer(json.loads(line), state)
        except Exception as e:
            result = {'error': f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        errors += 'error' in result
        sys.stdout.write(json.dumps(result) + '\n')
        sys.stdout.flush()
    # Non-zero when a job failed, for a caller that pipes jobs in and reads the results later (scripts/gpu-check.sh).
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
