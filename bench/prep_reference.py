#!/usr/bin/env python3
"""Python reference for bench_prep: what a PIL + h5py user writes, on the same JPEG folder.

Packs <root>/img_align_celeba/*.jpg with Image.open().convert("RGB"), torchvision's
Resize(64) + CenterCrop(64) geometry (Image.resize BILINEAR), into an h5py dataset with one-image
chunks and Fletcher32 (the same layout as dcgan-prep), then reads random single images the way a
torch Dataset.__getitem__ does. Prints rows in bench_prep's format: wall img/s and img per CPU-s.
"""
import glob
import os
import sys
import time

import h5py
import numpy as np
from PIL import Image


def resize_center(img, size):
    w, h = img.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def row(name, n, wall, cpu):
    print(f"{name:<46} {n / wall:10.0f} {n / cpu:10.0f}")


def main():
    root, out, reads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = sorted(glob.glob(os.path.join(root, "img_align_celeba", "*.jpg")))
    t, c = time.perf_counter(), time.process_time()
    images = np.stack([np.asarray(resize_center(Image.open(f).convert("RGB"), 64)) for f in files])
    with h5py.File(out, "w") as h5:
        h5.create_dataset("images", data=images, chunks=(1, 64, 64, 3), fletcher32=True)
    row("PIL + h5py pack, 1 process", len(files), time.perf_counter() - t, time.process_time() - c)
    rng = np.random.default_rng(1)
    with h5py.File(out, "r") as h5:
        dset = h5["images"]
        idx = rng.integers(0, len(files), reads)
        t, c = time.perf_counter(), time.process_time()
        for i in idx:
            dset[int(i)]
        row("h5py read random 64x64, chunk 1 image", reads, time.perf_counter() - t, time.process_time() - c)


if __name__ == "__main__":
    main()
