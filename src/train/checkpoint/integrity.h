// The checkpoint room's integrity checks (internal); verify_checkpoint is public (checkpoint.h).
#pragma once

#include <string>

#include "dcgan/train/checkpoint.h"

namespace dcgan::train::checkpoint {

// Throws DataError (exit 3) naming the file when `ckpt_dir` is damaged; logs that a checkpoint
// without checksums could not be verified.
void require_intact(const std::string& ckpt_dir);

// Logs, at info level, that the unverified checkpoint of `check` could not be verified.
void note_unverified(const CheckpointCheck& check);

}  // namespace dcgan::train::checkpoint
