"""Python side of test_export.sh: reads dcgan-export's files as a PyTorch user would, and writes
state_dicts for dcgan-train --init-from as a PyTorch user would.

  exported DIR         bare torch.load of every file (weights_only=True, torch's default), strict
                       load_state_dict into the nets (for a 64x64 DCGAN also the tutorial's own
                       classes), outputs against check.pt within 1e-6
  save-init DIR MODEL NZ NGF NDF NC SIZE SEED [--protocol P] [--keep-vars] [--extra]
                       the tutorial's init of MODEL's nets, torch.save(net.state_dict()) to
                       DIR/<module>.pt (--keep-vars: Parameters; --extra: one more key)
  same-weights A B TOL the parameters (not the BN running statistics, which training updates) of
                       the state_dicts A/<module>.pt and B/<module>.pt agree within TOL, for every
                       module of A; prints the largest difference
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import dcgan_dist_models as models  # noqa: E402


# The PyTorch DCGAN tutorial's classes as the tutorial writes them (64x64), the reference that an
# export must load into strictly.
class TutorialGenerator(nn.Module):
    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x):
        return self.main(x)


class TutorialDiscriminator(nn.Module):
    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x)


def max_diff(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


def exported(directory):
    info = json.load(open(os.path.join(directory, "model.json")))
    check = torch.load(os.path.join(directory, "check.pt"))  # a bare load: weights_only=True
    nets = models.build(info["model"], info["nz"], info["ngf"], info["ndf"], info["channels"],
                        info["image_size"], ema=any(m.endswith("_ema") for m in info["modules"]))
    assert sorted(nets) == sorted(info["modules"]), (sorted(nets), info["modules"])
    worst = 0.0
    for name, net in nets.items():
        state = torch.load(os.path.join(directory, name + ".pt"))
        assert list(state) == list(net.state_dict()), (name, list(state)[:5])
        net.load_state_dict(state, strict=True)
        net.eval()
        candidates = [net]
        if info["model"] == "dcgan" and info["image_size"] == 64:
            tutorial = (TutorialDiscriminator(info["ndf"], info["channels"])
                        if name == "discriminator"
                        else TutorialGenerator(info["nz"], info["ngf"], info["channels"]))
            tutorial.load_state_dict(state, strict=True)
            candidates.append(tutorial.eval())
        with torch.no_grad():
            for candidate in candidates:
                x = check[name + ".input"]
                if isinstance(candidate, models.Encoder):
                    mu, logvar = candidate.encode(x)
                    outputs = {"output": mu, "logvar": logvar}
                else:
                    y = candidate(x)
                    outputs = {"output": y.view(-1) if name == "discriminator" else y}
                for key, got in outputs.items():
                    if got is None:
                        assert name + "." + key not in check, key
                        continue
                    d = max_diff(got, check[name + "." + key])
                    assert d <= 1e-6, (name, type(candidate).__name__, key, d)
                    worst = max(worst, d)
    print(f"export ok: {info['model']} {sorted(nets)}, outputs within {worst:.3g} of the C++ "
          f"forward ({len(candidates)} class(es) per module)")


def save_init(directory, model, nz, ngf, ndf, nc, size, seed, protocol, keep_vars, extra):
    torch.manual_seed(seed)
    os.makedirs(directory, exist_ok=True)
    for name, net in models.build(model, nz, ngf, ndf, nc, size).items():
        net.apply(models.weights_init)
        state = net.state_dict(keep_vars=keep_vars)
        if extra:
            state["main.99.weight"] = torch.zeros(1)
        torch.save(state, os.path.join(directory, name + ".pt"), pickle_protocol=protocol)
    print("saved", sorted(os.listdir(directory)))


def same_weights(a, b, tol):
    worst = 0.0
    for f in sorted(os.listdir(a)):
        if not f.endswith(".pt"):
            continue
        # A is this script's own save-init output, which may be pickle protocol 4: torch.load's
        # weights_only reader refuses that protocol's FRAME opcode, so it is read unrestricted.
        # B (dcgan-export's) gets the bare load.
        sa = torch.load(os.path.join(a, f), weights_only=False)
        sb = torch.load(os.path.join(b, f))
        for key, value in sa.items():
            if "running_" in key or "num_batches_tracked" in key:
                continue
            worst = max(worst, max_diff(value, sb[key]))
    print(f"largest parameter difference {worst:.3g} (tolerance {tol:g})")
    sys.exit(0 if worst <= tol else 1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "exported":
        exported(args[0])
    elif cmd == "save-init":
        flags = [a for a in args if a.startswith("--")]
        rest = [a for a in args if not a.startswith("--")]
        protocol = 2
        if "--protocol" in args:
            protocol = int(args[args.index("--protocol") + 1])
            rest.remove(str(protocol))
        save_init(rest[0], rest[1], *[int(v) for v in rest[2:8]], protocol,
                  "--keep-vars" in flags, "--extra" in flags)
    elif cmd == "same-weights":
        same_weights(args[0], args[1], float(args[2]))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
