// Image sources of the evaluator.
#include "dcgan/train/eval_images.h"

#include <ATen/CPUGeneratorImpl.h>

#include <numeric>
#include <vector>

#include "dcgan/common/str.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/checkpoint.h"
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

ImageSet data_set_images(const std::string& path, const torch::Device& device, int64_t n) {
  auto dataset = std::make_shared<data::ShardDataset>(path);
  ImageSet out;
  out.images = [dataset, device](int64_t first, int64_t count) {
    return dataset_images(*dataset, device)(first, count);
  };
  out.count = std::min(n, dataset->image_count());
  out.what = path;
  out.image_size = dataset->image_size();
  out.channels = dataset->channels();
  return out;
}

ImageSet checkpoint_images(const std::string& path, const torch::Device& device, bool ema,
                           int64_t n, uint64_t seed) {
  const SamplingModels loaded = open_user_checkpoint(path, [&](const std::string& dir) {
    return load_sampling_models(dir, device, /*with_encoder=*/false, ema);  // verifies first
  });
  const CheckpointInfo& info = loaded.info;
  const bool with_ema = models::is_ema_module(decoder_module(info, ema));
  models::Generator decoder = loaded.decoder;
  ImageSet out;
  out.count = n;
  out.what = str(info.model, " step ", info.cursor.step, with_ema ? " (EMA)" : "");
  out.image_size = info.shape.image_size;
  out.channels = info.shape.channels;
  out.images =
      decoded_images([decoder](const torch::Tensor& z) mutable { return decoder->forward(z); }, n,
                     info.net_options().nz, seed, device);
  return out;
}

}  // namespace dcgan::train
