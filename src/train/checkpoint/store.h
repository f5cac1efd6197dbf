// The checkpoint room's store (internal): checkpoints/step-NNNNNN directories, the
// checkpoints/latest pointer, atomic publishing, pruning to --keep and quarantine of damaged
// steps. Resolving and choosing are public (checkpoint.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace dcgan::train::checkpoint {

// Publishes <root>/<name> atomically: `write_files` fills a temp directory, which is renamed into
// place (replacing an earlier copy of the same step), then `latest` is pointed at it and all but
// the newest `keep` step directories are removed. A failure removes the temp directory, leaves
// the previous checkpoint and `latest` intact, and rethrows. Returns the step directory.
std::string publish(const std::string& root, const std::string& name, int64_t keep,
                    const std::function<void(const std::string& dir)>& write_files);

}  // namespace dcgan::train::checkpoint
