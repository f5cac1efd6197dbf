// Per-rank epoch sampler. Every rank computes the same permutation from (seed, epoch); global
// batch k is perm[k*b*N, (k+1)*b*N) and rank r takes perm[k*b*N + r*b, k*b*N + (r+1)*b).
// The last partial global batch is dropped.
#pragma once

#include <cstdint>
#include <vector>

namespace dcgan::data {

// Deterministic permutation of [0, n) from (seed, epoch), identical on every platform.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

// Where an epoch-ordered stream stands: the next batch is `batch` of `epoch`.
struct EpochPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
};

class EpochSampler {
 public:
  EpochSampler(int64_t dataset_size, int64_t batch_per_rank, int world_size, int rank,
               uint64_t seed);

  int64_t batches_per_epoch() const;  // full global batches
  // The one place epochs roll over: the position after `p` (batch + 1, or batch 0 of the next
  // epoch), and `p` with a batch index past the epoch's end carried into the epoch.
  EpochPosition after(EpochPosition p) const;
  EpochPosition normalized(EpochPosition p) const;
  // Indices this rank reads for global batch `batch_idx` of `epoch` (batch_per_rank of them).
  std::vector<int64_t> rank_batch(int64_t epoch, int64_t batch_idx);

 private:
  int64_t dataset_size_;
  int64_t batch_per_rank_;
  int world_size_;
  int rank_;
  uint64_t seed_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> perm_;
};

}  // namespace dcgan::data
