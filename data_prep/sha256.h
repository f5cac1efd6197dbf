// SHA-256 of a file (OpenSSL EVP), as lowercase hex.
#pragma once

#include <string>

namespace dcgan::prep {

// Throws DataError naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace dcgan::prep
