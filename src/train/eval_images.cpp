// Image sources of the evaluator.
#include "dcgan/train/eval_images.h"

#include <ATen/CPUGeneratorImpl.h>

#include <numeric>
#include <vector>

#include "dcgan/train/batch_loader.h"
#include "dcgan/train/image_grid.h"

namespace dcgan::train {

eval::ImageSource dataset_images(data::ShardDataset& dataset, const torch::Device& device) {
  return [&dataset, device](int64_t first, int64_t count) {
    std::vector<int64_t> indices(static_cast<size_t>(count));
    std::iota(indices.begin(), indices.end(), first);
    return read_training_images(dataset, indices, device);
  };
}

eval::ImageSource decoded_images(const std::function<torch::Tensor(const torch::Tensor&)>& decode,
                                 int64_t n, int64_t nz, uint64_t seed,
                                 const torch::Device& device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor codes = torch::randn({n, nz, 1, 1}, gen);
  return [decode, codes, device](int64_t first, int64_t count) {
    torch::NoGradGuard no_grad;
    const torch::Tensor images = decode(codes.narrow(0, first, count).to(device));
    return to_training_batch(image_bytes(images).permute({0, 2, 3, 1}), device);
  };
}

}  // namespace dcgan::train
