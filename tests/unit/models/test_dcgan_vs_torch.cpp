// The C++ models reproduce the PyTorch tutorial's nets numerically: this test writes its weights
// and inputs, tests/unit/models/make_torch_outputs.py rebuilds the tutorial nets in Python torch,
// loads them and runs the same passes, and the outputs, gradients and BN statistics must agree
// within 1e-5. The exchange format is described in that script.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "dcgan/common/str.h"
#include "dcgan/models/dcgan.h"
#include "support/test_support.h"

namespace dcgan::models {
namespace {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

void write_tensors(const NamedTensors& tensors, const std::string& index_path,
                   const std::string& data_path) {
  std::ofstream index(index_path), data(data_path, std::ios::binary);
  for (const auto& [name, tensor] : tensors) {
    const auto t = tensor.detach().to(torch::kFloat32).contiguous();
    index << name;
    for (const auto d : t.sizes()) index << ' ' << d;
    index << '\n';
    // x86-64 and aarch64 are little-endian, the format's byte order.
    data.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  }
  ASSERT_TRUE(index.good() && data.good());
}

NamedTensors read_tensors(const std::string& index_path, const std::string& data_path) {
  std::ifstream index(index_path), data(data_path, std::ios::binary);
  NamedTensors out;
  std::string line;
  while (std::getline(index, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    std::vector<int64_t> shape;
    for (int64_t d; fields >> d;) shape.push_back(d);
    auto t = torch::empty(shape, torch::kFloat32);
    data.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    out.emplace_back(name, t);
  }
  return out;
}

void add_state(NamedTensors& out, const std::string& prefix, torch::nn::Module& net) {
  for (const auto& item : net.named_parameters())
    out.emplace_back(prefix + item.key(), item.value());
  for (const auto& item : net.named_buffers()) {
    if (item.value().is_floating_point()) out.emplace_back(prefix + item.key(), item.value());
  }
}

void check_against_torch(const NetOptions& options) {
  const char* python = std::getenv("DCGAN_PYTHON");
  if (python == nullptr || *python == '\0') GTEST_SKIP() << "DCGAN_PYTHON is not set";
  torch::manual_seed(3);
  Generator g(options);
  Discriminator d(options);
  init_weights(*g);
  init_weights(*d);
  const auto z = torch::randn({4, options.nz, 1, 1});
  const auto x = torch::rand({4, options.channels, options.image_size, options.image_size}) * 2 - 1;

  test::ScratchDir dir("models-vs-torch");
  NamedTensors inputs{{"z", z}, {"x", x}};
  add_state(inputs, "G.", *g);
  add_state(inputs, "D.", *d);
  write_tensors(inputs, dir / "index.txt", dir / "data.bin");

  // The same passes as the script, in the same order.
  const auto fake = g->forward(z);
  const auto d_real = d->forward(x);
  const auto d_fake = d->forward(fake);
  d_fake.sum().backward();
  std::map<std::string, torch::Tensor> mine{{"fake", fake}, {"d_real", d_real}, {"d_fake", d_fake}};
  for (const auto& item : g->named_parameters()) mine["grad.G." + item.key()] = item.value().grad();
  for (const auto& item : d->named_parameters()) mine["grad.D." + item.key()] = item.value().grad();
  for (const auto& item : g->named_buffers()) mine["G." + item.key()] = item.value();
  g->eval();
  d->eval();
  {
    torch::NoGradGuard no_grad;
    mine["eval.fake"] = g->forward(z);
    mine["eval.d_real"] = d->forward(x);
  }

  const auto command =
      dcgan::str(python, " ", test::source_path("tests/unit/models/make_torch_outputs.py"), " ",
                 dir.path(), " ", options.image_size, " ", options.nz, " ", options.ngf, " ",
                 options.ndf, " ", options.channels, " 2>&1");
  std::string output;
  ASSERT_EQ(test::run_command(command, &output), 0) << output;
  const auto theirs = read_tensors(dir / "out.index.txt", dir / "out.bin");
  // fake, d_real, d_fake, a gradient per parameter, G's running stats, 2 eval outputs.
  size_t g_stats = 0;
  for (const auto& b : g->buffers()) g_stats += b.is_floating_point();
  ASSERT_EQ(theirs.size(), 3 + g->parameters().size() + d->parameters().size() + g_stats + 2);
  for (const auto& [name, reference] : theirs) {
    SCOPED_TRACE(name);
    ASSERT_EQ(mine.count(name), 1u);
    const auto& value = mine.at(name);
    ASSERT_EQ(value.sizes(), reference.sizes());
    EXPECT_LE((value - reference).abs().max().item<double>(), 1e-5);
  }
}

TEST(DcganVsTorch, Size64MatchesTheTutorialNets) {
  NetOptions options;
  options.ngf = 8;  // the tutorial's layout at a CPU-test width
  options.ndf = 8;
  check_against_torch(options);
}

TEST(DcganVsTorch, Size32OneChannelMatches) {
  NetOptions options;
  options.image_size = 32;
  options.channels = 1;
  options.nz = 20;
  options.ngf = 8;
  options.ndf = 8;
  check_against_torch(options);
}

TEST(DcganVsTorch, Size128Matches) {
  NetOptions options;
  options.image_size = 128;
  options.nz = 10;
  options.ngf = 4;
  options.ndf = 4;
  check_against_torch(options);
}

}  // namespace
}  // namespace dcgan::models
