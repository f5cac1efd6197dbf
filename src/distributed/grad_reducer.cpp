// GradReducer: the flat gradient buffer, its buckets, and their averaging across ranks.
#include "dcgan/distributed/grad_reducer.h"

#include <functional>
#include <limits>

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::distributed {

namespace {

// Calls `ready` after the accumulator has added this backward's gradient into .grad.
class GradReadyHook final : public torch::autograd::FunctionPostHook {
 public:
  explicit GradReadyHook(std::function<void()> ready) : ready_(std::move(ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    ready_();
    return outputs;
  }

 private:
  std::function<void()> ready_;
};

}  // namespace

GradReducer::GradReducer(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes,
                         std::vector<torch::Tensor> passengers, bool overlap,
                         bool reduce_single_rank)
    : params_(std::move(params)),
      passengers_(std::move(passengers)),
      comm_(comm),
      reduce_(comm.world_size() > 1 || reduce_single_rank),
      overlap_(overlap && reduce_) {
  if (params_.empty()) throw Error("GradReducer: no parameters");
  if (bucket_bytes == 0) throw UsageError("--bucket-mb: the bucket size must be positive");
  const torch::TensorOptions options = params_.front().options();
  head_ = 1;
  for (size_t i = 0; i < passengers_.size(); ++i) {
    const torch::Tensor& t = passengers_[i];
    if (t.scalar_type() != options.dtype().toScalarType() || t.device() != options.device() ||
        !t.is_contiguous()) {
      throw Error(dcgan::str("GradReducer: passenger ", i, " is ", t.scalar_type(), " on ",
                             t.device(), ", the parameters are ", options.dtype(), " on ",
                             options.device(), " (contiguous tensors only)"));
    }
    head_ += t.numel();
  }
  int64_t total = head_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i];
    if (p.scalar_type() != options.dtype().toScalarType() || p.device() != options.device()) {
      throw Error(dcgan::str("GradReducer: parameter ", i, " is ", p.scalar_type(), " on ",
                             p.device(), ", the first is ", options.dtype(), " on ",
                             options.device()));
    }
    offsets_.push_back(total);
    total += p.numel();
  }
  flat_ = torch::zeros({total}, options.requires_grad(false));
  grads_ = flat_.narrow(0, head_, total - head_);
  flag_ = flat_.narrow(0, 0, 1);
  point_grads_at_flat();
  plan_buckets(bucket_bytes);
}

void GradReducer::arm() {
  if (overlap_ && hooks_.empty()) register_hooks();
  armed_ = overlap_;
}

// At the first arm(), not at construction: a gradient accumulator runs (and its hooks with it) on
// the CUDA stream that was current when it was made, and holding it here fixes that stream. Made
// during the step's first forward, it is the step's stream: the default stream of an eager run,
// the side stream of a CUDA graph's warm-up and capture (made at construction it would be the
// default stream, which a capture may not touch; DDP asks to be built on the side stream for the
// same reason).
void GradReducer::register_hooks() {
  for (size_t i = 0; i < params_.size(); ++i) {
    std::shared_ptr<torch::autograd::Node> accumulator =
        torch::autograd::impl::grad_accumulator(params_[i]);
    const uintptr_t key =
        accumulator->add_post_hook(std::make_unique<GradReadyHook>([this, i] { grad_ready(i); }));
    hooks_.emplace_back(std::move(accumulator), key);
  }
}

GradReducer::~GradReducer() {
  for (auto& [accumulator, key] : hooks_) accumulator->del_post_hook(key);
}

void GradReducer::grad_ready(size_t i) {
  if (armed_ && !added_[i]) add(params_[i]);
}

void GradReducer::point_grads_at_flat() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    // With the parameter's own strides (e.g. channels-last), so backward and the fused optimizer
    // see one layout; a parameter that is not dense gets the plain layout.
    const torch::Tensor& p = params_[i];
    const torch::Tensor slice = flat_.narrow(0, offsets_[i], p.numel());
    p.mutable_grad() = p.is_non_overlapping_and_dense() ? slice.as_strided(p.sizes(), p.strides())
                                                        : slice.view(p.sizes());
  }
}

// Buckets are filled from the last parameter backwards, the order in which backward finishes
// gradients, so a later overlap can start on the first full bucket. A bucket holds whole
// parameters; one larger than bucket_bytes gets a bucket of its own.
void GradReducer::plan_buckets(size_t bucket_bytes) {
  const auto element_bytes = static_cast<size_t>(flat_.element_size());
  bucket_of_param_.assign(params_.size(), -1);
  Bucket current;
  size_t current_bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const size_t bytes = static_cast<size_t>(params_[k].numel()) * element_bytes;
    if (current.pending > 0 && current_bytes + bytes > bucket_bytes) {
      buckets_.push_back(current);
      current = Bucket{};
      current_bytes = 0;
    }
    // Walking backwards, each parameter extends the bucket's range downwards.
    current.offset = offsets_[k];
    current.numel += params_[k].numel();
    current.pending += 1;
    current_bytes += bytes;
    bucket_of_param_[k] = static_cast<int>(buckets_.size());
  }
  // The last bucket to start (the one with the first parameter) carries the head.
  current.numel += current.offset;
  current.offset = 0;
  buckets_.push_back(current);
  for (Bucket& bucket : buckets_) bucket.size = bucket.pending;
  added_.assign(params_.size(), false);
  for (size_t i = 0; i < params_.size(); ++i) index_of_param_[params_[i].unsafeGetTensorImpl()] = i;
}

void GradReducer::zero_grad() {
  // A round cut short by an exception (between arm() and finalize()) leaves buckets in flight and
  // the hooks armed: drain and disarm, so the next backward starts from a clean round.
  for (auto& work : in_flight_) work->wait();
  in_flight_.clear();
  armed_ = false;
  flat_.zero_();
  reset_round();
  // optimizer.zero_grad() (set_to_none) or a user assignment may have detached a .grad from the
  // buffer; re-pointing is cheap and keeps backward accumulating in place.
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grad_is_view(i)) {
      point_grads_at_flat();
      break;
    }
  }
}

bool GradReducer::grad_is_view(size_t i) const {
  const torch::Tensor& grad = params_[i].grad();
  if (!grad.defined()) return false;
  const auto* expected =
      static_cast<const char*>(flat_.data_ptr()) + offsets_[i] * flat_.element_size();
  const torch::Tensor& p = params_[i];
  return grad.data_ptr() == expected && grad.sizes() == p.sizes() &&
         (grad.strides() == p.strides() || !p.is_non_overlapping_and_dense());
}

void GradReducer::add(const torch::Tensor& param) {
  const auto it = index_of_param_.find(param.unsafeGetTensorImpl());
  if (it == index_of_param_.end())
    throw Error("GradReducer::add: not one of this reducer's parameters");
  const size_t i = it->second;
  if (added_[i])
    throw Error(dcgan::str("GradReducer::add: parameter ", i, " added twice in one round"));
  added_[i] = true;
  Bucket& bucket = buckets_[static_cast<size_t>(bucket_of_param_[i])];
  if (--bucket.pending == 0) start_bucket(bucket);
}

void GradReducer::require_views() const {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grad_is_view(i)) {
      throw Error(dcgan::str("GradReducer: the .grad of parameter ", i, " (shape ",
                             params_[i].sizes(),
                             ") is no longer a view of the flat buffer. HINT: call the reducer's "
                             "zero_grad(), not the optimizer's, before backward"));
    }
  }
}

void GradReducer::reset_round() {
  for (Bucket& bucket : buckets_) {
    bucket.pending = bucket.size;
    bucket.started = false;
  }
  added_.assign(params_.size(), false);
}

void GradReducer::finalize() {
  require_views();
  for (Bucket& bucket : buckets_) {
    if (!bucket.started) start_bucket(bucket);
  }
  if (reduce_) {
    torch::NoGradGuard no_grad;
    for (auto& work : in_flight_) work->wait();
    in_flight_.clear();
    flat_.div_(static_cast<double>(comm_.world_size()));
    int64_t at = 1;
    for (torch::Tensor& t : passengers_) {
      t.copy_(flat_.narrow(0, at, t.numel()).view(t.sizes()));
      at += t.numel();
    }
  }
  armed_ = false;
  reset_round();
}

void GradReducer::average() {
  require_views();  // before this call starts a bucket (under overlap, backward may have)
  for (size_t k = params_.size(); k-- > 0;) {
    if (!added_[k]) add(params_[k]);
  }
  finalize();
}

void GradReducer::flag_non_finite(const torch::Tensor& value) {
  torch::NoGradGuard no_grad;
  flag_.add_(torch::where(torch::isfinite(value.detach()).all(), 0.0,
                          std::numeric_limits<double>::quiet_NaN()));
}

torch::Tensor GradReducer::non_finite() const {
  // The flag word and the gradients, not the passengers: a BN running statistic that went
  // non-finite stays so for good, and must not stop every later update (it does not on one rank,
  // which has no passengers). One read of the gradients, a tenth of isfinite(grads).all()'s time
  // (the README's figures): the minimum and the maximum are both finite exactly when every
  // element is, since aminmax propagates NaN and an Inf is an extreme.
  const auto [lowest, highest] = torch::aminmax(grads_);
  return torch::logical_not(torch::isfinite(flag_).all() & torch::isfinite(lowest) &
                            torch::isfinite(highest))
      .to(torch::kFloat32);
}

void GradReducer::start_bucket(Bucket& bucket) {
  if (reduce_) {
    torch::NoGradGuard no_grad;
    if (bucket.offset == 0) {  // the head: the flag word, then the passengers
      int64_t at = 1;
      for (const torch::Tensor& t : passengers_) {
        flat_.narrow(0, at, t.numel()).copy_(t.reshape({-1}));
        at += t.numel();
      }
    }
    torch::Tensor slice = flat_.narrow(0, bucket.offset, bucket.numel);
    in_flight_.push_back(comm_.start_all_reduce(slice, ReduceOp::kSum));
  }
  bucket.started = true;
}

}  // namespace dcgan::distributed
