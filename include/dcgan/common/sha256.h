// SHA-256 (OpenSSL EVP) as lowercase hex: of a file (shards, checkpoint files) or of bytes.
#pragma once

#include <string>
#include <string_view>

namespace dcgan {

// Throws DataError naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

std::string sha256_hex(std::string_view bytes);

}  // namespace dcgan
