// Prefetching batch loader: one producer thread, a bounded queue, errors handed to the consumer.
#include "dcgan/train/batch_loader.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

BatchLoader::BatchLoader(data::ShardDataset& dataset, data::EpochSampler sampler, int64_t epoch,
                         int64_t batch, bool pin, int depth)
    : dataset_(dataset),
      sampler_(std::move(sampler)),
      next_(sampler_.normalized({epoch, batch})),  // a cursor at an epoch's end: the next epoch
      pin_(pin),
      depth_(static_cast<size_t>(std::max(depth, 1))) {
  if (sampler_.batches_per_epoch() <= 0) {
    throw DataError(str("the data set has ", dataset_.image_count(),
                        " images, fewer than one global batch HINT: lower --batch-size or use "
                        "fewer ranks"));
  }
  thread_ = std::thread([this] { produce(); });
}

BatchLoader::~BatchLoader() noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchLoader::produce() {
  try {
    const int64_t side = dataset_.image_size();
    const int64_t channels = dataset_.channels();
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
        if (stop_) return;
      }
      HostBatch batch;
      batch.epoch = next_.epoch;
      batch.batch = next_.batch;
      batch.after = sampler_.after(next_);
      const std::vector<int64_t> indices = sampler_.rank_batch(next_.epoch, next_.batch);
      const int64_t n = static_cast<int64_t>(indices.size());
      batch.images = torch::empty({n, side, side, channels},
                                  torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(pin_));
      dataset_.read(indices.data(), indices.size(), batch.images.data_ptr<uint8_t>());
      next_ = batch.after;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    changed_.notify_all();
  }
}

HostBatch BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || error_ != nullptr; });
  if (ready_.empty()) std::rethrow_exception(error_);
  HostBatch batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return batch;
}

DeviceBatches::DeviceBatches(data::ShardDataset& dataset, data::EpochSampler sampler, int64_t epoch,
                             int64_t batch, const torch::Device& device)
    : sampler_(std::move(sampler)), next_(sampler_.normalized({epoch, batch})) {
  constexpr int64_t kChunk = 4096;  // images per host read (a bounded staging buffer)
  const int64_t side = dataset.image_size();
  const int64_t count = dataset.image_count();
  const auto u8 = torch::TensorOptions().dtype(torch::kUInt8);
  images_ = torch::empty({count, side, side, dataset.channels()}, u8.device(device));
  torch::Tensor staging;
  std::vector<int64_t> indices;
  for (int64_t first = 0; first < count; first += kChunk) {
    const int64_t n = std::min(kChunk, count - first);
    indices.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = first + i;
    if (device.is_cpu()) {  // read straight into place
      dataset.read(indices.data(), indices.size(), images_[first].data_ptr<uint8_t>());
      continue;
    }
    staging = torch::empty({n, side, side, dataset.channels()}, u8.pinned_memory(true));
    dataset.read(indices.data(), indices.size(), staging.data_ptr<uint8_t>());
    images_.narrow(0, first, n).copy_(staging);
  }
}

HostBatch DeviceBatches::next() {
  HostBatch batch;
  batch.epoch = next_.epoch;
  batch.batch = next_.batch;
  batch.after = sampler_.after(next_);
  if (next_.epoch != indexed_epoch_) {
    std::vector<int64_t> order;
    const int64_t batches = sampler_.batches_per_epoch();
    for (int64_t b = 0; b < batches; ++b) {
      const std::vector<int64_t> part = sampler_.rank_batch(next_.epoch, b);
      batch_size_ = static_cast<int64_t>(part.size());
      order.insert(order.end(), part.begin(), part.end());
    }
    torch::Tensor host = torch::tensor(order, torch::kInt64);
    if (images_.is_cuda()) host = host.pin_memory();  // the caching host allocator keeps it alive
    epoch_index_ = host.to(images_.device(), /*non_blocking=*/true);
    indexed_epoch_ = next_.epoch;
  }
  batch.images =
      images_.index_select(0, epoch_index_.narrow(0, next_.batch * batch_size_, batch_size_));
  next_ = batch.after;
  return batch;
}

torch::Tensor to_training_batch(const torch::Tensor& images_u8, const torch::Device& device,
                                at::MemoryFormat format) {
  torch::Tensor on_device = images_u8.to(device, /*non_blocking=*/true);
  return on_device.permute({0, 3, 1, 2})
      .to(torch::kFloat32)
      .div(255.0)
      .sub(0.5)
      .div(0.5)
      .contiguous(format);  // NHWC data: channels-last is already the layout in memory
}

torch::Tensor read_training_images(data::ShardDataset& dataset, const std::vector<int64_t>& indices,
                                   const torch::Device& device) {
  const int64_t size = dataset.image_size();
  torch::Tensor images = torch::empty(
      {static_cast<int64_t>(indices.size()), size, size, dataset.channels()}, torch::kUInt8);
  dataset.read(indices.data(), indices.size(), images.data_ptr<uint8_t>());
  return to_training_batch(images, device);
}

BatchSource::BatchSource(data::ShardDataset& dataset, data::EpochSampler sampler, int64_t epoch,
                         int64_t batch, const torch::Device& device, bool on_device) {
  if (on_device) {
    on_device_ = std::make_unique<DeviceBatches>(dataset, std::move(sampler), epoch, batch, device);
  } else {
    loader_ = std::make_unique<BatchLoader>(dataset, std::move(sampler), epoch, batch,
                                            /*pin=*/device.is_cuda());
  }
}

}  // namespace dcgan::train
