// GradReducer: the flat gradient buffer, its buckets, and their averaging across ranks.
#include "dcgan/distributed/grad_reducer.h"

#include <limits>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::distributed {

GradReducer::GradReducer(std::vector<torch::Tensor> params, Communicator& comm, size_t bucket_bytes,
                         std::vector<torch::Tensor> passengers)
    : params_(std::move(params)), passengers_(std::move(passengers)), comm_(comm) {
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

void GradReducer::point_grads_at_flat() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].mutable_grad() =
        flat_.narrow(0, offsets_[i], params_[i].numel()).view(params_[i].sizes());
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
  // The last bucket reduced (the one with the first parameter) carries the head.
  current.numel += current.offset;
  current.offset = 0;
  buckets_.push_back(current);
  for (Bucket& bucket : buckets_) bucket.size = bucket.pending;
  added_.assign(params_.size(), false);
  for (size_t i = 0; i < params_.size(); ++i) index_of_param_[params_[i].unsafeGetTensorImpl()] = i;
}

void GradReducer::zero_grad() {
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
  return grad.data_ptr() == expected && grad.sizes() == params_[i].sizes();
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
  if (--bucket.pending == 0) reduce_bucket(bucket);
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
    bucket.reduced = false;
  }
  added_.assign(params_.size(), false);
}

void GradReducer::finalize() {
  require_views();
  for (Bucket& bucket : buckets_) {
    if (!bucket.reduced) reduce_bucket(bucket);
  }
  reset_round();
}

void GradReducer::average() {
  require_views();  // before any bucket is reduced, so a refusal leaves every rank in step
  for (size_t k = params_.size(); k-- > 0;) add(params_[k]);
  finalize();
}

void GradReducer::flag_non_finite(const torch::Tensor& value) {
  torch::NoGradGuard no_grad;
  flag_.add_(torch::where(torch::isfinite(value.detach()).all(), 0.0,
                          std::numeric_limits<double>::quiet_NaN()));
}

torch::Tensor GradReducer::non_finite() const {
  return torch::logical_not(torch::isfinite(flat_).all()).to(torch::kFloat32);
}

void GradReducer::reduce_bucket(Bucket& bucket) {
  if (comm_.world_size() > 1) {
    torch::NoGradGuard no_grad;
    const bool head = bucket.offset == 0;
    int64_t at = 1;
    if (head) {
      for (const torch::Tensor& t : passengers_) {
        flat_.narrow(0, at, t.numel()).copy_(t.reshape({-1}));
        at += t.numel();
      }
    }
    torch::Tensor slice = flat_.narrow(0, bucket.offset, bucket.numel);
    comm_.all_reduce(slice, ReduceOp::kSum);
    slice.div_(static_cast<double>(comm_.world_size()));
    if (head) {
      at = 1;
      for (torch::Tensor& t : passengers_) {
        t.copy_(flat_.narrow(0, at, t.numel()).view(t.sizes()));
        at += t.numel();
      }
    }
  }
  bucket.reduced = true;
}

}  // namespace dcgan::distributed
