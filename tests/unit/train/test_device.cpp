// The device choice and the CUDA library: a CPU rank never loads libtorch_cuda, and a CUDA choice
// loads it before torch is asked about CUDA.
#include <ATen/detail/CUDAHooksInterface.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "dcgan/common/cuda_library.h"
#include "dcgan/common/errors.h"
#include "dcgan/train/device.h"

namespace dcgan::test {
namespace {

// Whether this process has mapped a file whose name contains `name`.
bool mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find(name) != std::string::npos;
}

TEST(Device, ACpuChoiceLoadsNoCudaLibrary) {
  // ctest runs each test in its own process; a whole-binary run may have loaded it already.
  if (cuda_library::loaded()) GTEST_SKIP() << "an earlier test in this process loaded CUDA";
  EXPECT_EQ(train::choose_device("cpu", 0), torch::Device(torch::kCPU));
  EXPECT_FALSE(cuda_library::loaded());
  EXPECT_FALSE(mapped("libtorch_cuda.so"));
  EXPECT_FALSE(mapped("libcublasLt.so"));
  EXPECT_FALSE(mapped("libdcgan_cuda.so"));
}

TEST(Device, AutoWithoutADriverIsTheCpuAndLoadsNothing) {
  if (cuda_library::driver_present()) GTEST_SKIP() << "a CUDA driver is installed here";
  if (cuda_library::loaded()) GTEST_SKIP() << "an earlier test in this process loaded CUDA";
  EXPECT_EQ(train::choose_device("auto", 3), torch::Device(torch::kCPU));
  EXPECT_FALSE(cuda_library::loaded());
  EXPECT_FALSE(mapped("libtorch_cuda.so"));
}

TEST(Device, ACudaChoiceLoadsTheLibraryAndTorchsCudaHalf) {
  if (!cuda_library::built()) GTEST_SKIP() << "this build has no CUDA";
  try {
    const torch::Device device = train::choose_device("cuda", 0);
    EXPECT_TRUE(device.is_cuda());
  } catch (const UsageError& e) {  // no GPU here: the library loaded, and found no device
    EXPECT_STREQ(e.what(),
                 "--device cuda: no CUDA device is visible HINT: use --device cpu or auto");
  }
  EXPECT_TRUE(cuda_library::loaded());
  EXPECT_TRUE(mapped("libdcgan_cuda.so"));
  EXPECT_TRUE(mapped("libtorch_cuda.so"));
  EXPECT_TRUE(at::detail::getCUDAHooks().isBuilt());  // torch took its CUDA half from it
  EXPECT_NE(cuda_library::part("train"), nullptr);
#ifdef DCGAN_WITH_NCCL
  EXPECT_NE(cuda_library::part("distributed.nccl"), nullptr);
#endif
}

// Torch settles on CUDA at its first question about it: a question before the library loaded is
// caught by name, not left to fail later as "no CUDA device".
TEST(DeviceDeathTest, AnEarlyCudaQuestionIsNamed) {
  if (!cuda_library::built()) GTEST_SKIP() << "this build has no CUDA";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        (void)at::detail::getCUDAHooks().isBuilt();  // settles on the stub
        try {
          train::choose_device("cuda", 0);
        } catch (const Error& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::exit(1);
        }
        std::exit(0);
      },
      testing::ExitedWithCode(1),
      "torch had already settled on having no CUDA: something asked torch about CUDA before the "
      "device was chosen");
}

}  // namespace
}  // namespace dcgan::test
