// GradReducer: one flat gradient buffer per model (every parameter's .grad is a view into it),
// averaged across ranks in buckets of --bucket-mb. Knows nothing of which model it serves.
//
// The buffer starts with a head that rides on the last bucket's all-reduce, so that no step makes
// a collective of its own for it:
// - a flag word: 0, or NaN once flag_non_finite() saw a non-finite value on any rank, so that
//   non_finite() is the same on every rank after the average, with no host read;
// - the passengers: tensors averaged across ranks with the gradients (Note [BN statistics ride on
//   the gradient all-reduce]).
//
// Note [BN statistics ride on the gradient all-reduce]: without --sync-bn every rank's BatchNorm
// layers update their running statistics from the rank's own slice of the batch. Those
// statistics are averaged across ranks as passengers of a model's last gradient all-reduce of
// the step, so the replicas stay bit-identical after every step, as DDP's default buffer
// broadcast keeps them: a checkpoint or a sample at any step sees the same model on every rank,
// and resume is exact. A model's statistics are final once its forward passes have run, and no
// graph that saved them runs backward after that all-reduce; the DCGAN carries both nets' on G's,
// the step's last collective. Under --sync-bn (or on one rank) they are global already and ride on
// nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <utility>
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
  // `overlap` (and more than one rank, or reduce_single_rank): a post hook on each parameter's
  // gradient accumulator (as DDP's reducer hooks them) marks the gradient final during an armed
  // backward, so each bucket's all-reduce starts as soon as backward has filled it, while backward
  // goes on. The hooks run on the thread that runs backward: the calling thread for CPU tensors,
  // autograd's device thread for CUDA ones (on NCCL each bucket's all-reduce is then enqueued on
  // the NCCL stream after the event of the stream that finished the bucket, and the step's later
  // work waits for it on the device, as DDP's reducer does). `reduce_single_rank` (a debug switch,
  // --debug-reduce-single-rank): at world size 1 the buckets still go through the communicator,
  // with overlap if asked, so that one GPU exercises the multi-rank path (NCCL's all-reduce of one
  // rank is a copy); otherwise world size 1 makes no collective at all.
  GradReducer(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes,
              std::vector<torch::Tensor> passengers = {}, bool overlap = false,
              bool reduce_single_rank = false);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Overlap only: the next backward is the last of this round (D's gradients accumulate over two
  // backwards, so D's reducer is armed before the second). finalize() disarms. The first call
  // hooks the gradient accumulators (see register_hooks()).
  void arm();

  // Zeroes the flat buffer in place (use this instead of optimizer.zero_grad(), which would set
  // the .grad views to undefined), re-points any .grad that is no longer a view, and starts a new
  // round of add()/finalize() (waiting for and disarming a round an exception cut short).
  void zero_grad();

  // Marks one parameter's gradient as final. A bucket whose parameters are all final starts its
  // all-reduce at once (Communicator::start_all_reduce: in flight on the MPI backend).
  void add(const torch::Tensor& param);
  // Starts every bucket not yet started, waits for all, and leaves the world-size average in the
  // .grads. Throws Error if a .grad was detached from the flat buffer (e.g. by
  // optimizer.zero_grad()).
  void finalize();
  // add() for every parameter not yet final (last to first, backward's order), then finalize():
  // what the steps call after their last backward.
  void average();

  // Marks this round non-finite when `value` has a NaN or an Inf (device ops, no host read). Call
  // it before the add() that completes the last bucket.
  void flag_non_finite(const torch::Tensor& value);
  // After finalize(): a float32 scalar on the device, 1 when the averaged gradients or a flagged
  // value were non-finite on any rank, else 0 (the same on every rank). The passengers do not
  // count. No host read.
  torch::Tensor non_finite() const;

  // The gradients (every parameter's slice, without the head).
  torch::Tensor flat() const { return grads_; }
  size_t num_buckets() const { return buckets_.size(); }
  int64_t numel() const { return grads_.numel(); }

 private:
  struct Bucket {
    int64_t offset = 0;  // elements into flat_
    int64_t numel = 0;
    int size = 0;          // parameters in the bucket
    int pending = 0;       // parameters not yet add()ed in this round
    bool started = false;  // its all-reduce is in flight or done
  };
  void point_grads_at_flat();
  void plan_buckets(size_t bucket_bytes);
  bool grad_is_view(size_t i) const;
  void require_views() const;
  void reset_round();
  void start_bucket(Bucket& bucket);
  void grad_ready(size_t i);
  void register_hooks();

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
  bool reduce_ = false;  // the buckets go through comm_ (more than one rank, or forced)
  bool overlap_ = false;
  bool armed_ = false;
  std::vector<std::unique_ptr<Work>> in_flight_;  // this round's started buckets
  // Overlap: each parameter's gradient accumulator (held, so the hook outlives every graph) and
  // its hook's key.
  std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, uintptr_t>> hooks_;
};

}  // namespace dcgan::distributed
