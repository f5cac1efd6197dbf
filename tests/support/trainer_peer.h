// The Trainer's test seam: a hook after every step, and the DCGAN recipe's modules and
// optimizers by name (the recipe names them; tests compare them across runs and ranks).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "dcgan/models/dcgan.h"
#include "dcgan/train/trainer.h"

namespace dcgan::train {

class TrainerTestPeer {
 public:
  static void set_after_step(Trainer& trainer, std::function<void(int64_t)> hook) {
    trainer.after_step_ = std::move(hook);
  }
  static std::shared_ptr<torch::nn::Module> module(Trainer& trainer, const std::string& name) {
    for (const NamedModule& m : trainer.recipe().modules())
      if (m.name == name) return m.module;
    throw std::runtime_error("no module " + name);
  }
  static torch::optim::Adam& optimizer(Trainer& trainer, const std::string& name) {
    for (const NamedOptimizer& o : trainer.recipe().optimizers())
      if (o.name == name) return *o.optimizer;
    throw std::runtime_error("no optimizer " + name);
  }
  static models::Generator generator(Trainer& trainer) {
    return models::Generator(
        std::dynamic_pointer_cast<models::GeneratorImpl>(module(trainer, "generator")));
  }
  static models::Discriminator discriminator(Trainer& trainer) {
    return models::Discriminator(
        std::dynamic_pointer_cast<models::DiscriminatorImpl>(module(trainer, "discriminator")));
  }
};

}  // namespace dcgan::train
