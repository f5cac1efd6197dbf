"""The nets of dcgan-dist in PyTorch, with its parameter names, for its exports and imports.

At 64x64 the Generator and Discriminator are the PyTorch DCGAN tutorial's (the same layers in the
same nn.Sequential called `main`), so a state_dict of either loads strictly into the other. 32x32
drops one stride-2 block, 128x128 adds one, as dcgan-train's nets do. The Encoder is the AE/VAE
encoder: the Discriminator's trunk, then 4x4 heads `mu` (and the VAE's `logvar`).

    import torch, dcgan_dist_models as m
    nets = m.load_export("export/")          # the directory dcgan-export wrote
    images = nets["generator"](torch.randn(16, 100, 1, 1))   # nets["generator_ema"] with an EMA

A net trained in PyTorch goes the other way: torch.save(net.state_dict(), "init/generator.pt")
(and discriminator.pt, or encoder.pt and decoder.pt), then dcgan-train --init-from init/.
"""
import json
import os

import torch
import torch.nn as nn

_BLOCKS = {32: 2, 64: 3, 128: 4}  # stride-2 blocks between the 4x4 stem and the last layer


def _blocks(image_size):
    if image_size not in _BLOCKS:
        raise ValueError(f"image size {image_size} is not supported; use 32, 64 or 128")
    return _BLOCKS[image_size]


class Generator(nn.Module):
    """z [B, nz, 1, 1] -> images [B, nc, S, S] in [-1, 1]. Also the AE/VAE decoder."""

    def __init__(self, nz=100, ngf=64, nc=3, image_size=64):
        super().__init__()
        blocks = _blocks(image_size)
        width = ngf << blocks
        layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width),
                  nn.ReLU(True)]
        for _ in range(blocks):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


def _trunk(ndf, nc, image_size):
    """Conv LeakyReLU, then Conv BN LeakyReLU blocks: [B, nc, S, S] -> [B, width, 4, 4]."""
    width = ndf
    layers = [nn.Conv2d(nc, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(_blocks(image_size)):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                   nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    return layers, width


class Discriminator(nn.Module):
    """images [B, nc, S, S] -> probabilities [B]."""

    def __init__(self, ndf=64, nc=3, image_size=64):
        super().__init__()
        layers, width = _trunk(ndf, nc, image_size)
        self.main = nn.Sequential(*layers, nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1)


class Encoder(nn.Module):
    """images -> code mu [B, nz, 1, 1]; encode() also returns the VAE's logvar (else None)."""

    def __init__(self, nz=100, ndf=64, nc=3, image_size=64, variational=False):
        super().__init__()
        layers, width = _trunk(ndf, nc, image_size)
        self.main = nn.Sequential(*layers)
        self.mu = nn.Conv2d(width, nz, 4, 1, 0, bias=False)
        self.logvar = nn.Conv2d(width, nz, 4, 1, 0, bias=False) if variational else None

    def encode(self, x):
        h = self.main(x)
        return self.mu(h), (self.logvar(h) if self.logvar is not None else None)

    def forward(self, x):
        return self.encode(x)[0]


def weights_init(m):
    """The tutorial's init: conv weights N(0, 0.02); BN weights N(1, 0.02), biases 0."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def build(model, nz, ngf, ndf, channels, image_size, ema=False):
    """The nets of a dcgan-train model, by the names of its modules (ema: also the EMA of the
    generator or decoder, generator_ema or decoder_ema, of a run with --ema-halflife-kimg)."""
    if model == "dcgan":
        nets = {"generator": Generator(nz, ngf, channels, image_size),
                "discriminator": Discriminator(ndf, channels, image_size)}
    elif model in ("ae", "vae"):
        nets = {"encoder": Encoder(nz, ndf, channels, image_size, variational=model == "vae"),
                "decoder": Generator(nz, ngf, channels, image_size)}
    else:
        raise ValueError(f"unknown model {model!r}")
    if ema:
        name = "generator" if model == "dcgan" else "decoder"
        nets[name + "_ema"] = Generator(nz, ngf, channels, image_size)
    return nets


def load_export(directory, device="cpu"):
    """The nets of a dcgan-export directory (model.json lists them), loaded strictly, in eval
    mode."""
    with open(os.path.join(directory, "model.json")) as f:
        info = json.load(f)
    nets = build(info["model"], info["nz"], info["ngf"], info["ndf"], info["channels"],
                 info["image_size"], ema=any(m.endswith("_ema") for m in info["modules"]))
    for name, net in nets.items():
        net.load_state_dict(torch.load(os.path.join(directory, name + ".pt"), map_location=device))
        net.to(device).eval()
    return nets
