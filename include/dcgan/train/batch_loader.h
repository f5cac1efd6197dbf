// BatchLoader: a prefetch thread reads this rank's next batches (uint8 HWC) from a ShardDataset
// in the EpochSampler's order, so the step does not wait on the disk when the reader keeps up.
// to_training_batch turns one into float [-1, 1] NCHW on the training device.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "dcgan/data/dataset.h"
#include "dcgan/data/sampler.h"

namespace dcgan::train {

struct HostBatch {
  // uint8 [B, H, W, C]: on the host from BatchLoader (pinned when loading for CUDA), on the
  // training device from DeviceBatches.
  torch::Tensor images;
  int64_t epoch = 0;
  int64_t batch = 0;          // global batch index within the epoch
  data::EpochPosition after;  // where the stream stands once this batch is trained on
};

class BatchLoader {
 public:
  // Starts reading at batch `batch` of `epoch` and runs through epochs without end. The loader
  // owns the dataset from now on (ShardDataset is not thread-safe). depth >= 1 batches are kept
  // ready. `pin` allocates page-locked buffers (CUDA training).
  BatchLoader(data::ShardDataset& dataset, data::EpochSampler sampler, int64_t epoch, int64_t batch,
              bool pin, int depth = 2);
  ~BatchLoader() noexcept;  // stops and joins the thread
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch in order; rethrows a read error of the thread (with its context).
  HostBatch next();

 private:
  void produce();

  data::ShardDataset& dataset_;
  data::EpochSampler sampler_;
  data::EpochPosition next_;
  bool pin_;
  size_t depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<HostBatch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

// --data-on-device: the whole uint8 data set held on the training device (CelebA at 64x64 is
// 2.5 GB), loaded once in chunks, and each batch gathered there by index in the EpochSampler's
// order, the same batches as BatchLoader's: no reader thread and nothing crossing to the device per
// step. This rank's indices of a whole epoch go up once per epoch, from pinned memory without a
// host wait, so a step never blocks the host (which a CUDA graph's replays rely on: only the sync
// points wait, under the deadline).
class DeviceBatches {
 public:
  DeviceBatches(data::ShardDataset& dataset, data::EpochSampler sampler, int64_t epoch,
                int64_t batch, const torch::Device& device);
  HostBatch next();

 private:
  data::EpochSampler sampler_;
  data::EpochPosition next_;
  torch::Tensor images_;  // uint8 [N, H, W, C] on the device
  int64_t batch_size_ = 0;
  int64_t indexed_epoch_ = -1;
  torch::Tensor epoch_index_;  // int64 [batches_per_epoch * batch] on the device
};

// The training batches: the reader thread, or the data set on the device (--data-on-device).
class BatchSource {
 public:
  BatchSource(data::ShardDataset& dataset, data::EpochSampler sampler, int64_t epoch, int64_t batch,
              const torch::Device& device, bool on_device);
  HostBatch next() { return on_device_ ? on_device_->next() : loader_->next(); }

 private:
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<DeviceBatches> on_device_;
};

// uint8 HWC -> float NCHW in [-1, 1] on `device`, as torchvision's ToTensor + Normalize(0.5, 0.5)
// compute it ((x / 255 - 0.5) / 0.5), converted after the copy so only bytes cross to the device;
// in `format`'s memory layout (ChannelsLast under --channels-last).
torch::Tensor to_training_batch(const torch::Tensor& images_u8, const torch::Device& device,
                                at::MemoryFormat format = at::MemoryFormat::Contiguous);

// The images at `indices` of `dataset`, read at once and converted by to_training_batch.
torch::Tensor read_training_images(data::ShardDataset& dataset, const std::vector<int64_t>& indices,
                                   const torch::Device& device);

}  // namespace dcgan::train
