// The one shard schema: dataset and attribute names, limits that guard allocations, file naming,
// and the manifest's JSON form. Shared by the writer (data_prep), the reader and `verify`.
#pragma once

#include <cstdint>
#include <string>

#include "dcgan/data/dataset.h"

namespace dcgan::data::schema {

// Datasets inside each shard-NNNNN.h5.
inline constexpr const char* kImages = "images";         // uint8 [N, H, W, C]
inline constexpr const char* kIndex = "index";           // int64 [N], position in the source order
inline constexpr const char* kFilenames = "filenames";   // fixed-length strings [N]
inline constexpr const char* kAttrs = "attrs";           // int8 [N, A] (celeba)
inline constexpr const char* kAttrNames = "attr_names";  // fixed-length strings [A]
inline constexpr const char* kLabels = "labels";         // int64 [N] (idx, folder)

// Limits checked before anything is allocated from numbers read out of files.
inline constexpr int kMaxImageSize = 4096;  // pixels per side
inline constexpr int64_t kMaxShardImages = int64_t{1} << 31;
inline constexpr int64_t kMaxTotalImages = int64_t{1} << 36;
inline constexpr int64_t kMaxShards = 1 << 20;
inline constexpr int kMaxAttrs = 4096;
inline constexpr int64_t kMaxFilenameBytes = 4096;

// "shard-00042.h5"
std::string shard_file_name(int64_t shard_idx);

// The manifest as written to manifest.json (keys sorted, 2-space indent, trailing newline).
std::string manifest_to_json(const Manifest& manifest);

// Parses and validates manifest text; `where` names the file in errors (DataError).
Manifest manifest_from_json(const std::string& text, const std::string& where);

}  // namespace dcgan::data::schema
