// `dcgan-prep verify` (checksums, counts, sha256, schema against the manifest) and `inspect`
// (summary and an 8x8 grid PNG of the first 64 images).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcgan::prep {

// Every problem found, one line each naming the shard; empty when the data set is sound.
// Throws DataError only when the manifest itself is missing or invalid.
std::vector<std::string> verify_dataset(const std::string& dir);

// `verify`: prints "FAIL <problem>" for each problem, then "OK <dir>" when there is none; throws
// DataError naming the count and the first problem otherwise.
void verify_and_print(const std::string& dir);

// The summary `inspect` prints; writes the grid PNG when grid_png is not empty.
std::string inspect_dataset(const std::string& dir, const std::string& grid_png);

}  // namespace dcgan::prep
