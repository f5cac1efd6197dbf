// Writes a CelebA-shaped folder (178x218 JPEGs, the exact list formats of both layouts) for
// tests and benchmarks; optionally with one truncated and one zero-byte .jpg.
#pragma once

#include <string>
#include <vector>

namespace dcgan::prep {

struct CelebaFixtureOptions {
  std::string root;
  bool kaggle = false;     // img_align_celeba/img_align_celeba + .csv lists, else official
  int count = 12;          // images 000001.jpg ... (partition: 2/3 train, 1/6 valid, 1/6 test)
  bool lists = true;       // write the partition and attribute lists
  bool bad_files = false;  // 000004.jpg truncated, 000007.jpg zero bytes (count >= 7)
  int quality = 90;
  int noise = 32;  // peak-to-peak pixel noise; more noise = bigger, slower JPEGs
  int width = 178, height = 218;
};

// The 40 CelebA attribute names, in the official order.
const std::vector<std::string>& celeba_attr_names();
// Partition (0 train, 1 valid, 2 test) and attribute a (-1/1) of image i (0-based) in the fixture.
int fixture_partition(int i, int count);
int fixture_attr(int i, int a);

// Writes the fixture; throws Error naming the path on I/O failure.
void write_celeba_fixture(const CelebaFixtureOptions& options);

}  // namespace dcgan::prep
