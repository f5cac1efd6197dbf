// The project's one 64-bit hash for bit-identity checks (replica checksums, checkpoint
// fingerprints): FNV-1a's offset basis and prime, folded over 8-byte words and then the tail
// bytes, so a DCGAN's tensors hash at memory speed. Not FNV-1a itself, which folds single bytes;
// not for security (the file checksums are SHA-256).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace dcgan {

inline constexpr uint64_t kHashOffsetBasis = 14695981039346656037ULL;  // FNV-1a's, 64-bit
inline constexpr uint64_t kHashPrime = 1099511628211ULL;               // FNV-1a's, 64-bit

inline uint64_t hash_bytes(const void* data, size_t size, uint64_t hash = kHashOffsetBasis) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bytes + i, 8);
    hash = (hash ^ word) * kHashPrime;
  }
  for (; i < size; ++i) hash = (hash ^ bytes[i]) * kHashPrime;
  return hash;
}

}  // namespace dcgan
