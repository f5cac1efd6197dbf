// FD (the Fréchet distance between Gaussians fitted to two feature sets: FID with Inception
// features) and KID (the kernel distance, an unbiased MMD), from feature rows. Knows torch only.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace dcgan::eval {

// Float64 sums of the feature rows f and of f fᵀ, and (when kept, for KID) the rows themselves.
struct FeatureStats {
  int64_t count = 0;
  torch::Tensor sum;       // [D] float64
  torch::Tensor outer;     // [D, D] float64: the sum of f fᵀ
  torch::Tensor features;  // [count, D] float32, or undefined when not kept

  // Adds the rows of `batch` [B, D] (any device, any float dtype; summed on the CPU in float64).
  void add(const torch::Tensor& batch, bool keep_features);
  int64_t dim() const { return sum.defined() ? sum.size(0) : 0; }
};

// The mean and the unbiased covariance (divided by count - 1), float64.
struct Moments {
  torch::Tensor mean;  // [D]
  torch::Tensor cov;   // [D, D]
};

// Throws UsageError when the stats have fewer than 2 rows.
Moments moments(const FeatureStats& stats);

// |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)), in float64. The trace of the
// matrix square root is that of (S_a^(1/2) S_b S_a^(1/2))^(1/2), a symmetric PSD matrix, so it is
// the sum of the square roots of its eigenvalues (negative round-off clamped to 0): both square
// roots come from symmetric eigendecompositions. Throws UsageError on differing dimensions.
double frechet_distance(const Moments& a, const Moments& b);

// KID as StyleGAN and torch-fidelity compute it: over `subsets` subsets of m = min(subset_size,
// rows of either set) rows, each drawn without replacement (fake first, then real, from one CPU
// generator seeded with `seed`: torch.randperm(n)[:m]), the unbiased MMD^2 with the cubic
// polynomial kernel k(x, y) = (x.y / D + 1)^3; `mean` is their mean and `std` their standard
// deviation (population, as numpy's np.std). Float64. Throws UsageError when m < 2.
struct Kid {
  double mean = 0;
  double std = 0;
  int64_t subsets = 0;
  int64_t subset_size = 0;
};
Kid kernel_inception_distance(const torch::Tensor& real, const torch::Tensor& fake, int64_t subsets,
                              int64_t subset_size, uint64_t seed);

}  // namespace dcgan::eval
