// GradReducer: one flat gradient buffer per model (every parameter's .grad is a view into it),
// averaged across ranks in buckets of --bucket-mb. Knows nothing of which model it serves.
#pragma once

#include <cstddef>
#include <vector>

#include <torch/torch.h>

#include "dcgan/dist/communicator.h"

namespace dcgan::dist {

class GradReducer {
 public:
  // Allocates the flat buffer on the parameters' device and points each parameter's .grad at its
  // slice. Parameters must share one dtype and device. bucket_bytes > 0.
  GradReducer(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes);

  // Zeroes the flat buffer in place (use this instead of optimizer.zero_grad(), which would set
  // the .grad views to undefined).
  void zero_grad();

  // Marks one parameter's gradient as final. A bucket whose parameters are all final may be
  // reduced at once (room for overlap with backward; today the reduction starts in finalize()).
  void add(const torch::Tensor& param);
  // Reduces every bucket not yet reduced, waits, and divides by the world size.
  void finalize();
  // add() for every parameter, then finalize(): what the GAN step calls.
  void average();

  torch::Tensor flat() const { return flat_; }
  size_t num_buckets() const { return buckets_.size(); }
  int64_t numel() const { return flat_.numel(); }

 private:
  struct Bucket {
    int64_t offset = 0;  // elements into flat_
    int64_t numel = 0;
    int pending = 0;     // parameters not yet add()ed in this round
    bool reduced = false;
  };
  void reduce_bucket(Bucket& bucket);

  std::vector<torch::Tensor> params_;
  std::vector<int> bucket_of_param_;
  std::vector<Bucket> buckets_;
  torch::Tensor flat_;
  Communicator& comm_;
};

}  // namespace dcgan::dist
