// The model registry: one table per model (dcgan, ae, vae) that names its modules, builds each of
// them, and says which one decodes codes into images and whether there is an encoder. The
// trainer's recipes, the checkpoint code and the tools read it; nothing outside it compares model
// or module names. Knows torch only.
//
// Note [Module names]: a module's name is its checkpoint file stem (<name>.pt), its key in an
// export directory (<name>.pt, a state_dict) and its --init-from file. The decoder's EMA of
// --ema-halflife-kimg is "<decoder>_ema" and has the decoder's architecture.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "dcgan/models/dcgan.h"

namespace dcgan::models {

using ModuleFactory = std::function<std::shared_ptr<torch::nn::Module>(const NetOptions&)>;

struct ModuleSpec {
  std::string name;  // Note [Module names]
  ModuleFactory make;
};

struct ModelSpec {
  std::string name;                 // --model, and the model a checkpoint records
  std::string summary;              // one line for --help
  std::vector<ModuleSpec> modules;  // in checkpoint order, the EMA left out
  std::string decoder;              // the module that makes images of N(0, 1) codes
  std::string discriminator;        // "" when the model has none
  std::string encoder;              // "" when the model has none
  bool variational = false;         // the encoder has a log-variance head (the VAE)
  double lr = 0;                    // the default Adam settings of --lr and --beta1
  double beta1 = 0;
  std::string adam_source;  // where those come from, for --help

  bool has_encoder() const { return !encoder.empty(); }
  std::string decoder_ema() const { return decoder + "_ema"; }
  // Every module this model may have, the EMA included.
  bool has_module(const std::string& name) const;
  // Builds the named module (the EMA as the decoder); UsageError for a name it does not have.
  std::shared_ptr<torch::nn::Module> make_module(const std::string& name,
                                                 const NetOptions& options) const;
};

// Every model, in --help order: dcgan, ae, vae.
const std::vector<ModelSpec>& model_specs();
// The names, for a CLI check: {"dcgan", "ae", "vae"}.
std::vector<std::string> model_names();
// The spec of `name`, or nullptr.
const ModelSpec* find_model(const std::string& name);
// The spec of `name`; UsageError "<what> must be dcgan, ae or vae, got '<name>'" otherwise.
const ModelSpec& model_spec(const std::string& name, const std::string& what = "--model");
// Whether `name` is the decoder EMA of some model (generator_ema, decoder_ema).
bool is_ema_module(const std::string& name);

}  // namespace dcgan::models
