// FD and KID from feature rows, in float64.
#include "dcgan/eval/metrics.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::eval {
namespace {

// The symmetric PSD square root V diag(sqrt(max(w, 0))) Vᵀ of a symmetric matrix.
torch::Tensor psd_sqrt(const torch::Tensor& m) {
  auto [w, v] = torch::linalg_eigh(m);
  return v.mul(w.clamp_min(0).sqrt().unsqueeze(0)).matmul(v.t());
}

}  // namespace

void FeatureStats::add(const torch::Tensor& batch, bool keep_features) {
  if (batch.dim() != 2) {
    throw UsageError(dcgan::str("features must be [N, D], got shape ", batch.sizes()));
  }
  const torch::Tensor f = batch.detach().to(torch::kCPU, torch::kFloat64);
  if (!sum.defined()) {
    sum = torch::zeros({f.size(1)}, torch::kFloat64);
    outer = torch::zeros({f.size(1), f.size(1)}, torch::kFloat64);
  } else if (f.size(1) != dim()) {
    throw UsageError(dcgan::str("features of width ", f.size(1), " after ", dim()));
  }
  sum += f.sum(0);
  outer += f.t().matmul(f);
  count += f.size(0);
  if (keep_features) {
    const torch::Tensor rows = batch.detach().to(torch::kCPU, torch::kFloat32);
    features = features.defined() ? torch::cat({features, rows}) : rows.clone();
  }
}

Moments moments(const FeatureStats& stats) {
  if (stats.count < 2) {
    throw UsageError(dcgan::str("FD needs at least 2 images per set, got ", stats.count));
  }
  const auto n = static_cast<double>(stats.count);
  Moments m;
  m.mean = stats.sum / n;
  m.cov = (stats.outer - n * torch::outer(m.mean, m.mean)) / (n - 1);
  return m;
}

double frechet_distance(const Moments& a, const Moments& b) {
  if (a.mean.sizes() != b.mean.sizes()) {
    throw UsageError(
        dcgan::str("FD of features of width ", a.mean.size(0), " and ", b.mean.size(0)));
  }
  const torch::Tensor root_a = psd_sqrt(a.cov);
  torch::Tensor m = root_a.matmul(b.cov).matmul(root_a);
  m = (m + m.t()) / 2;  // symmetric up to round-off
  const double trace_sqrt = torch::linalg_eigvalsh(m).clamp_min(0).sqrt().sum().item<double>();
  const double mean_term = (a.mean - b.mean).pow(2).sum().item<double>();
  return mean_term + a.cov.trace().item<double>() + b.cov.trace().item<double>() - 2 * trace_sqrt;
}

Kid kernel_inception_distance(const torch::Tensor& real, const torch::Tensor& fake, int64_t subsets,
                              int64_t subset_size, uint64_t seed) {
  const torch::Tensor r = real.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor f = fake.to(torch::kCPU, torch::kFloat64);
  if (r.dim() != 2 || f.dim() != 2 || r.size(1) != f.size(1)) {
    throw UsageError(dcgan::str("KID of features shaped ", r.sizes(), " and ", f.sizes()));
  }
  const int64_t m = std::min({subset_size, r.size(0), f.size(0)});
  if (m < 2 || subsets < 1) {
    throw UsageError(
        dcgan::str("KID needs subsets of at least 2 images and at least one subset, "
                   "got ",
                   subsets, " of ", m));
  }
  const auto d = static_cast<double>(r.size(1));
  auto kernel = [d](const torch::Tensor& x, const torch::Tensor& y) {
    return (x.matmul(y.t()) / d + 1).pow(3);
  };
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<double> mmds;
  mmds.reserve(static_cast<size_t>(subsets));
  const auto md = static_cast<double>(m);
  for (int64_t s = 0; s < subsets; ++s) {
    const torch::Tensor x = f.index_select(0, torch::randperm(f.size(0), gen).narrow(0, 0, m));
    const torch::Tensor y = r.index_select(0, torch::randperm(r.size(0), gen).narrow(0, 0, m));
    const torch::Tensor a = kernel(x, x) + kernel(y, y);
    const double off_diagonal = (a.sum() - a.diagonal().sum()).item<double>();
    const double cross = kernel(x, y).sum().item<double>();
    mmds.push_back((off_diagonal / (md - 1) - 2 * cross / md) / md);
  }
  Kid kid;
  kid.subsets = subsets;
  kid.subset_size = m;
  for (double v : mmds) kid.mean += v;
  kid.mean /= static_cast<double>(subsets);
  for (double v : mmds) kid.std += (v - kid.mean) * (v - kid.mean);
  kid.std = std::sqrt(kid.std / static_cast<double>(subsets));
  return kid;
}

}  // namespace dcgan::eval
