// The model registry's table.
#include "dcgan/models/registry.h"

#include <algorithm>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/models/autoencoder.h"

namespace dcgan::models {
namespace {

ModuleSpec generator(const std::string& name) {
  return {name, [](const NetOptions& o) { return Generator(o).ptr(); }};
}

ModuleSpec discriminator() {
  return {"discriminator", [](const NetOptions& o) { return Discriminator(o).ptr(); }};
}

ModuleSpec encoder(bool variational) {
  return {"encoder", [variational](const NetOptions& o) { return Encoder(o, variational).ptr(); }};
}

// The tutorial's Adam for the GAN; Adam's own defaults, the usual choice for autoencoders.
std::vector<ModelSpec> make_specs() {
  ModelSpec dcgan{"dcgan",
                  "the tutorial's GAN",
                  {generator("generator"), discriminator()},
                  "generator",
                  "discriminator",
                  "",
                  false,
                  2e-4,
                  0.5,
                  "the tutorial"};
  ModelSpec ae{"ae",
               "autoencoder, MSE",
               {encoder(false), generator("decoder")},
               "decoder",
               "",
               "encoder",
               false,
               1e-3,
               0.9,
               "Adam's own"};
  ModelSpec vae{"vae",
                "variational autoencoder, SSE + beta KL",
                {encoder(true), generator("decoder")},
                "decoder",
                "",
                "encoder",
                true,
                1e-3,
                0.9,
                "Adam's own"};
  return {dcgan, ae, vae};
}

}  // namespace

bool ModelSpec::has_module(const std::string& name) const {
  return name == decoder_ema() ||
         std::any_of(modules.begin(), modules.end(), [&](const auto& m) { return m.name == name; });
}

std::shared_ptr<torch::nn::Module> ModelSpec::make_module(const std::string& name,
                                                          const NetOptions& options) const {
  const std::string& built = name == decoder_ema() ? decoder : name;
  for (const ModuleSpec& m : modules) {
    if (m.name == built) return m.make(options);
  }
  throw UsageError(str("model ", this->name, " has no module '", name, "'"));
}

const std::vector<ModelSpec>& model_specs() {
  static const std::vector<ModelSpec> specs = make_specs();
  return specs;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelSpec& spec : model_specs()) names.push_back(spec.name);
  return names;
}

const ModelSpec* find_model(const std::string& name) {
  for (const ModelSpec& spec : model_specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const ModelSpec& model_spec(const std::string& name, const std::string& what) {
  if (const ModelSpec* spec = find_model(name)) return *spec;
  throw UsageError(str(what, " must be ", or_list(model_names()), ", got '", name, "'"));
}

bool is_ema_module(const std::string& name) {
  return std::any_of(model_specs().begin(), model_specs().end(),
                     [&](const ModelSpec& spec) { return spec.decoder_ema() == name; });
}

}  // namespace dcgan::models
