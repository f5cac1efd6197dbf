// The images FD and KID are measured on: a packed data set's, in index order, and a decoder's of
// seeded N(0, 1) codes, passed through the bytes a saved PNG holds (image_bytes), so generated
// and real images reach the feature extractor alike (uint8, then the training conversion).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <torch/torch.h>

#include "dcgan/data/dataset.h"
#include "dcgan/eval/features.h"

namespace dcgan::train {

// Images [first, first + count) of the data set, float [-1, 1] NCHW on `device`.
eval::ImageSource dataset_images(data::ShardDataset& dataset, const torch::Device& device);

// `decode` (codes [B, nz, 1, 1] on `device` -> images [B, C, H, W] in [-1, 1]) of code rows
// [first, first + count) of one [n, nz, 1, 1] N(0, 1) draw from a CPU generator seeded `seed`,
// quantized to bytes and converted back as training images are: the same images for any
// world size and batch.
eval::ImageSource decoded_images(const std::function<torch::Tensor(const torch::Tensor&)>& decode,
                                 int64_t n, int64_t nz, uint64_t seed, const torch::Device& device);

// Images to score, with what they are.
struct ImageSet {
  eval::ImageSource images;
  int64_t count = 0;
  std::string what;  // the data set's path, or "<model> step N" (" (EMA)" when the EMA decodes)
  int64_t image_size = 0;
  int64_t channels = 0;
};

// The images of the packed data set at `path`, at most `n` of them, on `device`.
ImageSet data_set_images(const std::string& path, const torch::Device& device, int64_t n);

// The decoder of the checkpoint a user named at `path` (its EMA when `ema` and it has one),
// verified and loaded on `device`, as the source of `n` decoded images of codes seeded `seed`.
ImageSet checkpoint_images(const std::string& path, const torch::Device& device, bool ema,
                           int64_t n, uint64_t seed);

}  // namespace dcgan::train
