// Shared set-up of the train room's unit tests: a tiny DCGAN (32x32, ngf/ndf 8) with its Adam
// optimizers (fused by default, as the product's), gradient reducers and GanStep on the
// world-size-1 communicator.
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/models/dcgan.h"
#include "dcgan/train/gan_step.h"
#include "dcgan/train/optimizer.h"
#include "support/test_support.h"

namespace dcgan::test {

struct TinyGan {
  // `optimizer`: fused | torch (make_adam).
  explicit TinyGan(uint64_t seed, double lr = 2e-4, int64_t ngf = 8,
                   const train::StepOptions& step_options = {},
                   const std::string& optimizer = "fused") {
    models::NetOptions options;
    options.nz = 16;
    options.ngf = ngf;
    options.ndf = 8;
    options.channels = 3;
    options.image_size = 32;
    torch::manual_seed(seed);
    g = models::Generator(options);
    d = models::Discriminator(options);
    models::init_weights(*g);
    models::init_weights(*d);
    auto adam_options = torch::optim::AdamOptions(lr).betas({0.5, 0.999});
    opt_g = train::make_adam(optimizer, g->parameters(), adam_options);
    opt_d = train::make_adam(optimizer, d->parameters(), adam_options);
    comm = distributed::make_local_communicator();
    reducer_g = std::make_unique<distributed::GradReducer>(g->parameters(), *comm, 1 << 20);
    reducer_d = std::make_unique<distributed::GradReducer>(d->parameters(), *comm, 1 << 20);
    step = std::make_unique<train::GanStep>(g, d, *opt_g, *opt_d, *reducer_g, *reducer_d,
                                            step_options);
  }
  models::Generator g{nullptr};
  models::Discriminator d{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_g, opt_d;
  std::unique_ptr<distributed::Communicator> comm;
  std::unique_ptr<distributed::GradReducer> reducer_g, reducer_d;
  std::unique_ptr<train::GanStep> step;
};

// Builds a tiny packed data set with dcgan-prep (synthetic source); returns its directory.
inline std::string make_synthetic_dataset(const std::string& dir, int count, int size = 32) {
  const std::string command = tool_path("dcgan-prep") + " pack --source synthetic --count " +
                              std::to_string(count) + " --size " + std::to_string(size) +
                              " --channels 3 --out " + dir;
  std::string output;
  if (run_command(command, &output) != 0) throw std::runtime_error(command + ":\n" + output);
  return dir;
}

}  // namespace dcgan::test
