"""Independent PyTorch reference for tests/unit/models/test_dcgan.cpp.

The C++ test writes the weights of its generator and discriminator and fixed inputs into a
directory (index.txt: one "name d0 d1 ..." line per tensor, data.bin: the tensors as contiguous
little-endian float32, in index order). This script builds the PyTorch DCGAN tutorial's nets
(written out layer by layer below, not derived from the C++ code), loads those weights, runs the
same sequence of passes as the C++ test and writes the results in the same format to
<dir>/out.index.txt and <dir>/out.bin, for the C++ test to compare within 1e-5.

usage: make_torch_outputs.py DIR IMAGE_SIZE NZ NGF NDF NC
"""
import sys

import numpy as np
import torch
import torch.nn as nn


def read_tensors(index_path, data_path):
    data = np.fromfile(data_path, dtype="<f4")
    tensors, offset = {}, 0
    for line in open(index_path):
        name, *dims = line.split()
        shape = [int(d) for d in dims]
        count = int(np.prod(shape)) if shape else 1
        tensors[name] = torch.from_numpy(data[offset:offset + count].reshape(shape).copy())
        offset += count
    assert offset == data.size, "data.bin is longer than its index"
    return tensors


def write_tensors(tensors, index_path, data_path):
    with open(index_path, "w") as index, open(data_path, "wb") as data:
        for name, t in tensors:
            t = t.detach().contiguous().to(torch.float32)
            index.write(" ".join([name] + [str(d) for d in t.shape]) + "\n")
            data.write(t.numpy().astype("<f4").tobytes())


def generator(size, nz, ngf, nc):
    if size == 64:  # the tutorial's Generator.main verbatim
        return nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    if size == 32:  # one 4ngf->2ngf middle block fewer: the stem starts at 4ngf
        return nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    if size == 128:  # one middle block more: the stem starts at 16ngf
        return nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 16, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 16), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 16, ngf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    raise SystemExit(f"unsupported size {size}")


def discriminator(size, ndf, nc):
    layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    widths = {32: [1, 2, 4], 64: [1, 2, 4, 8], 128: [1, 2, 4, 8, 16]}[size]
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Conv2d(ndf * a, ndf * b, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * b),
                   nn.LeakyReLU(0.2, inplace=True)]
    layers += [nn.Conv2d(ndf * widths[-1], 1, 4, 1, 0, bias=False), nn.Sigmoid()]
    return nn.Sequential(*layers)


class Net(nn.Module):
    """Wraps the Sequential as `main`, as the tutorial does, so names read main.N.weight."""

    def __init__(self, main, flatten):
        super().__init__()
        self.main, self.flatten = main, flatten

    def forward(self, x):
        y = self.main(x)
        return y.view(-1) if self.flatten else y


def load(net, tensors, prefix):
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("num_batches_tracked") for k in missing), missing


def main():
    out_dir = sys.argv[1]
    size, nz, ngf, ndf, nc = (int(a) for a in sys.argv[2:7])
    torch.set_num_threads(1)
    tensors = read_tensors(f"{out_dir}/index.txt", f"{out_dir}/data.bin")
    g, d = Net(generator(size, nz, ngf, nc), False), Net(discriminator(size, ndf, nc), True)
    load(g, tensors, "G.")
    load(d, tensors, "D.")
    z, x = tensors["z"], tensors["x"]

    # Train mode (batch statistics), as in the tutorial's step; the same order as the C++ test.
    fake = g(z)
    d_real = d(x)
    d_fake = d(fake)
    d_fake.sum().backward()
    results = [("fake", fake), ("d_real", d_real), ("d_fake", d_fake)]
    results += [("grad.G." + n, p.grad) for n, p in g.named_parameters()]
    results += [("grad.D." + n, p.grad) for n, p in d.named_parameters()]
    results += [("G." + n, b) for n, b in g.named_buffers() if b.is_floating_point()]
    # Eval mode uses the running statistics the passes above updated.
    g.eval(), d.eval()
    with torch.no_grad():
        results += [("eval.fake", g(z)), ("eval.d_real", d(x))]
    write_tensors(results, f"{out_dir}/out.index.txt", f"{out_dir}/out.bin")


if __name__ == "__main__":
    main()
