// GradReducer: one flat gradient buffer per model (every parameter's .grad is a view into it),
// averaged across ranks in buckets of --bucket-mb. Knows nothing of which model it serves.
//
// The buffer starts with a head that rides on the last bucket's all-reduce, so that no step makes
// a collective of its own for it:
// - a flag word: 0, or NaN once flag_non_finite() saw a non-finite value on any rank, so that
//   non_finite() is the same on every rank after the average, with no host read;
// - the passengers: tensors (BN running statistics) averaged across ranks with the gradients.
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"

namespace dcgan::distributed {

class GradReducer {
 public:
  // Allocates the flat buffer (zeros) on the parameters' device and points each parameter's .grad
  // at its slice, in parameter order. Parameters and passengers must share one dtype and device.
  // bucket_bytes > 0 (UsageError otherwise). `comm` must outlive the reducer. The passengers are
  // copied into the head before the last bucket's all-reduce and back after it (in place, which
  // bumps their autograd version): they must be final by then, and no graph that saved them may
  // still run backward (BN saves its running statistics in the graph of a training forward).
  GradReducer(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes,
              std::vector<torch::Tensor> passengers = {});

  // Zeroes the flat buffer in place (use this instead of optimizer.zero_grad(), which would set
  // the .grad views to undefined), re-points any .grad that is no longer a view, and starts a new
  // round of add()/finalize().
  void zero_grad();

  // Marks one parameter's gradient as final. A bucket whose parameters are all final is reduced
  // at once (synchronously today: this is where an asynchronous reduction that overlaps the rest
  // of backward, driven by gradient hooks, will plug in without changing the interface).
  void add(const torch::Tensor& param);
  // Reduces every bucket not yet reduced, waits, and leaves the world-size average in the .grads.
  // Throws Error if a .grad was detached from the flat buffer (e.g. by optimizer.zero_grad()).
  void finalize();
  // add() for every parameter (last to first, backward's order), then finalize(): what the GAN
  // step calls.
  void average();

  // Marks this round non-finite when `value` has a NaN or an Inf (device ops, no host read). Call
  // it before the add() that completes the last bucket.
  void flag_non_finite(const torch::Tensor& value);
  // After finalize(): a float32 scalar on the device, 1 when the averaged gradients or a flagged
  // value were non-finite on any rank, else 0 (the same on every rank). No host read.
  torch::Tensor non_finite() const;

  // The gradients (every parameter's slice, without the head).
  torch::Tensor flat() const { return grads_; }
  size_t num_buckets() const { return buckets_.size(); }
  int64_t numel() const { return grads_.numel(); }

 private:
  struct Bucket {
    int64_t offset = 0;  // elements into flat_
    int64_t numel = 0;
    int size = 0;     // parameters in the bucket
    int pending = 0;  // parameters not yet add()ed in this round
    bool reduced = false;
  };
  void point_grads_at_flat();
  void plan_buckets(size_t bucket_bytes);
  bool grad_is_view(size_t i) const;
  void require_views() const;
  void reset_round();
  void reduce_bucket(Bucket& bucket);

  std::vector<torch::Tensor> params_;
  std::vector<int64_t> offsets_;  // elements into flat_, per parameter
  std::vector<int> bucket_of_param_;
  std::unordered_map<const void*, size_t> index_of_param_;  // TensorImpl* -> parameter index
  std::vector<bool> added_;
  std::vector<Bucket> buckets_;
  std::vector<torch::Tensor> passengers_;
  int64_t head_ = 0;    // elements before the first parameter: the flag word and the passengers
  torch::Tensor flat_;  // head, then the gradients
  torch::Tensor grads_;
  torch::Tensor flag_;  // flat_[0]
  Communicator& comm_;
};

}  // namespace dcgan::distributed
