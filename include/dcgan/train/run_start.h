// How a run starts: from the recipe's seeded init, from --init-from state_dicts, or from a
// --resume checkpoint that rank 0 chooses for every rank; then every rank takes rank 0's modules
// and tensors, so all replicas begin identical.
#pragma once

#include "dcgan/distributed/communicator.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"

namespace dcgan::train {

// Restores --resume into `state` (its cursor included) or imports --init-from into the recipe's
// modules, then broadcasts rank 0's modules and tensors. The options given now (lr, betas) win
// over the checkpoint's. Warns when a resume on another world size is not a continuation of the
// same computation.
void start_run(const TrainConfig& config, const RunShape& shape, distributed::Communicator& comm,
               Recipe& recipe, const TrainingState& state);

}  // namespace dcgan::train
