// StepOptions: what every recipe's step is told at construction, from TrainConfig and the run
// (recipe.cpp's step_options): the GAN's real label, the NaN policy, the VAE's beta, bf16 autocast
// and the benchmark's phase timer. The step and its UpdateGuard read it; nothing writes it later.
#pragma once

#include "dcgan/train/benchmark.h"

namespace dcgan::train {

struct StepOptions {
  double real_label = 1.0;        // the GAN's target of real images
  bool skip_non_finite = false;   // --on-nan skip: skip the update on every rank instead of failing
  bool check_each_phase = false;  // --check-nan: check every loss and gradient, naming the tensor
  double beta = 1.0;              // the VAE's KL weight
  bool bf16 = false;              // --precision bf16: the forward passes under bf16 autocast
  PhaseTimer* timer = nullptr;    // the benchmark's phase times (lap() at each phase boundary)
};

}  // namespace dcgan::train
