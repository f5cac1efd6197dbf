// Shared by the tests that compare a step with an independent Python/PyTorch step: tensors as raw
// little-endian float32 files both sides read, and the numbers of the script's results.json.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <torch/torch.h>

namespace dcgan::test {

inline void write_raw(const torch::Tensor& t, const std::string& path) {
  const torch::Tensor c = t.detach().cpu().to(torch::kFloat32).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
}

inline torch::Tensor read_raw(const std::string& path, torch::IntArrayRef shape) {
  torch::Tensor t = torch::empty(shape, torch::kFloat32);
  std::ifstream in(path, std::ios::binary);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  EXPECT_TRUE(in.good()) << path;
  return t;
}

// The number after "key": in a flat JSON object.
inline double json_number(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  EXPECT_NE(at, std::string::npos) << key;
  return std::atof(json.c_str() + at + key.size() + 4);
}

}  // namespace dcgan::test
