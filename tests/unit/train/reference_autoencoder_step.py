#!/usr/bin/env python3
"""Independent reference for one AE/VAE training step (test_autoencoder_step.cpp).

The C++ test exports, into DIR, the initial weights of the encoder and the decoder (raw
little-endian float32, in named_parameters() order) as enc_<i>.bin and dec_<i>.bin, the real batch
(real.bin) and, for the VAE, the reparameterisation noise (eps.bin), plus manifest.json: the model
("ae" or "vae"), nz, ngf, ndf, channels, image_size, lr, beta1, beta2, beta, the real/eps shapes,
and the parameter and BN-statistic names and shapes of both nets.

This script rebuilds both nets from the hyperparameters alone with torch.nn (python/
dcgan_dist_models.py, the project's one Python copy of the nets) and checks that their
parameter names, order and shapes are the ones the C++ modules reported:
  encoder: main = Conv2d(nc, ndf, 4, 2, 1) LeakyReLU(0.2), then per block
           Conv2d(w, 2w, 4, 2, 1) BatchNorm2d(2w) LeakyReLU(0.2) (2 blocks at 32, 3 at 64,
           4 at 128); heads mu (and, VAE, logvar) = Conv2d(width, nz, 4, 1, 0); all bias-free.
  decoder: the DCGAN tutorial's generator, main = ConvTranspose2d(nz, ngf*2^m, 4, 1, 0) BN ReLU,
           m halving ConvTranspose2d(4, 2, 1) BN ReLU blocks, ConvTranspose2d(ngf, nc, 4, 2, 1)
           Tanh; all bias-free.
It then runs one step:
  AE:  loss = nn.MSELoss()(dec(enc.mu(real)), real)  (mean over all elements)
  VAE: z = mu + exp(logvar / 2) * eps, recon = dec(z),
       KL per sample = -1/2 sum over the code of (1 + logvar - mu^2 - exp(logvar)), asserted
       equal (within 1e-5) to torch.distributions' kl_divergence(Normal(mu, exp(logvar / 2)),
       Normal(0, 1)) summed over the code,
       loss = mean over the batch of (sum over C, H, W of (recon - real)^2 + beta * KL)
with one torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr, (beta1, beta2))
step, and writes results.json (rec_mse = mean((recon - real)^2), and for the VAE loss, kl (the
batch mean of the torch.distributions KL) and kl_closed_form) and the updated parameters and BN
running statistics as out_enc_<i>.bin, out_dec_<i>.bin, out_enc_stat_<i>.bin, out_dec_stat_<i>.bin.

Usage: reference_autoencoder_step.py DIR   (run with the torch of the project's venv)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Normal, kl_divergence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "python"))
from dcgan_dist_models import Encoder, Generator  # noqa: E402  (the nets, written from the text)


def load(directory, name, shape):
    data = np.fromfile(os.path.join(directory, name), dtype="<f4")
    return torch.from_numpy(data.reshape(shape).copy())


def save(directory, name, tensor):
    tensor.detach().cpu().contiguous().numpy().astype("<f4").tofile(os.path.join(directory, name))


def stat_buffers(net):
    return [(name, b) for name, b in net.named_buffers()
            if name.endswith(("running_mean", "running_var"))]


def fill(net, directory, prefix, names, shapes, stat_names):
    params = list(net.named_parameters())
    mine = [name for name, _ in params]
    assert mine == names, f"{prefix}: parameter names/order {mine} != C++ {names}"
    mine_shapes = [list(p.shape) for _, p in params]
    assert mine_shapes == shapes, f"{prefix}: shapes {mine_shapes} != C++ {shapes}"
    mine_stats = [name for name, _ in stat_buffers(net)]
    assert mine_stats == stat_names, f"{prefix}: BN statistics {mine_stats} != C++ {stat_names}"
    with torch.no_grad():
        for i, ((_, p), shape) in enumerate(zip(params, shapes)):
            p.copy_(load(directory, f"{prefix}_{i}.bin", shape))


def main(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        m = json.load(f)
    torch.set_num_threads(1)
    variational = m["model"] == "vae"
    assert m["model"] in ("ae", "vae"), m["model"]
    enc = Encoder(m["nz"], m["ndf"], m["channels"], m["image_size"], variational)
    dec = Generator(m["nz"], m["ngf"], m["channels"], m["image_size"])
    fill(enc, directory, "enc", m["enc_names"], m["enc_shapes"], m["enc_stat_names"])
    fill(dec, directory, "dec", m["dec_names"], m["dec_shapes"], m["dec_stat_names"])
    real = load(directory, "real.bin", m["real_shape"])
    params = list(enc.parameters()) + list(dec.parameters())
    optimizer = torch.optim.Adam(params, lr=m["lr"], betas=(m["beta1"], m["beta2"]))
    enc.train()
    dec.train()

    optimizer.zero_grad()
    mu, logvar = enc.encode(real)
    results = {}
    if variational:
        eps = load(directory, "eps.bin", m["eps_shape"])
        std = torch.exp(0.5 * logvar)
        z = mu + std * eps
        recon = dec(z)
        kl_closed = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(1)  # [B]
        with torch.no_grad():
            kl = kl_divergence(Normal(mu, std), Normal(torch.zeros_like(mu), torch.ones_like(std)))
            kl = kl.flatten(1).sum(1)  # [B]
        gap = (kl - kl_closed).abs().max().item()
        assert gap <= 1e-5 * max(1.0, kl.abs().max().item()), f"KL forms differ by {gap}"
        sse = (recon - real).pow(2).flatten(1).sum(1)  # [B]
        # The loss differentiates the closed form (checked against torch.distributions above):
        # Adam's first step is lr * g / (|g| + 1e-8), so an element whose gradient is ~1e-8 moves
        # by an amount that float rounding in g changes; differentiating another but equal
        # expression (the distributions' KL) shifts such elements by ~1e-5 and more.
        loss = (sse + m["beta"] * kl_closed).mean()
        results.update({"loss": loss.item(), "kl": kl.mean().item(),
                        "kl_closed_form": kl_closed.mean().item(), "kl_gap": gap})
    else:
        recon = dec(mu)
        loss = nn.MSELoss()(recon, real)
        results["loss"] = loss.item()
    loss.backward()
    optimizer.step()
    results["rec_mse"] = (recon.detach() - real).pow(2).mean().item()

    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump(results, f)
    for prefix, net in (("enc", enc), ("dec", dec)):
        for i, p in enumerate(net.parameters()):
            save(directory, f"out_{prefix}_{i}.bin", p)
        for i, (_, buf) in enumerate(stat_buffers(net)):
            save(directory, f"out_{prefix}_stat_{i}.bin", buf)


if __name__ == "__main__":
    main(sys.argv[1])
