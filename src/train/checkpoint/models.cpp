// The nets of a checkpoint for the tools (dcgan-sample, -export, -eval): each built by the model
// registry from the checkpoint's own options, its weights loaded by name, in eval mode.
#include <algorithm>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/models/autoencoder.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/checkpoint.h"
#include "format.h"
#include "integrity.h"

namespace dcgan::train {
namespace {

// A module the checkpoint lists, loaded by name into `module`, moved to `device`, in eval mode.
void load_listed(const CheckpointInfo& info, const std::string& name, torch::nn::Module& module,
                 const torch::Device& device) {
  if (std::find(info.modules.begin(), info.modules.end(), name) == info.modules.end()) {
    throw DataError(str(info.dir, " lists no module '", name, "'"));
  }
  load_module_checked(info.dir + "/" + checkpoint::module_file(name), module, name);
  module.to(device);
  module.eval();
}

// The info of a checkpoint whose files were verified first (DataError when damaged).
CheckpointInfo verified_info(const std::string& ckpt_dir) {
  checkpoint::require_intact(ckpt_dir);
  return read_checkpoint_info(ckpt_dir);
}

models::Generator decoder_of(const CheckpointInfo& info, const torch::Device& device, bool ema) {
  models::Generator generator(info.net_options());
  load_listed(info, decoder_module(info, ema), *generator, device);
  return generator;
}

models::Encoder encoder_of(const CheckpointInfo& info, const torch::Device& device) {
  const models::ModelSpec& spec = models::model_spec(info.model, info.dir + ": model");
  if (!spec.has_encoder()) {
    throw UsageError(
        str(info.dir, " is a ", info.model,
            " checkpoint, which has no encoder HINT: reconstruct with an ae or vae run"));
  }
  models::Encoder encoder(info.net_options(), spec.variational);
  load_listed(info, spec.encoder, *encoder, device);
  return encoder;
}

}  // namespace

models::Generator load_generator(const std::string& ckpt_dir, const torch::Device& device,
                                 bool ema) {
  return decoder_of(verified_info(ckpt_dir), device, ema);
}

SamplingModels load_sampling_models(const std::string& ckpt_dir, const torch::Device& device,
                                    bool with_encoder, bool ema) {
  SamplingModels models;
  models.info = verified_info(ckpt_dir);
  models.decoder = decoder_of(models.info, device, ema);
  if (with_encoder && models::model_spec(models.info.model).has_encoder())
    models.encoder = encoder_of(models.info, device);
  return models;
}

std::string decoder_module(const CheckpointInfo& info, bool ema) {
  const models::ModelSpec& spec = models::model_spec(info.model, info.dir + ": model");
  const bool has_ema =
      std::find(info.modules.begin(), info.modules.end(), spec.decoder_ema()) != info.modules.end();
  return ema && has_ema ? spec.decoder_ema() : spec.decoder;
}

DataError checkpoint_read_error(const std::string& path, const std::exception& error) {
  std::string what = error.what();
  what = what.substr(0, what.find('\n'));  // torch appends a stack trace
  if (what.find(path) == std::string::npos) what = str("checkpoint ", path, ": ", what);
  return DataError(what);
}

CheckpointModules load_checkpoint_modules(const std::string& ckpt_dir, const torch::Device& device,
                                          bool with_ema) {
  CheckpointModules out;
  out.info = verified_info(ckpt_dir);
  const models::ModelSpec& spec = models::model_spec(out.info.model, ckpt_dir + ": model");
  for (const std::string& name : out.info.modules) {
    if (models::is_ema_module(name) && !with_ema) continue;
    if (!spec.has_module(name))
      throw DataError(str(ckpt_dir, ": module '", name, "' is not one this build knows"));
    std::shared_ptr<torch::nn::Module> module = spec.make_module(name, out.info.net_options());
    load_listed(out.info, name, *module, device);
    out.modules.push_back({name, module});
  }
  return out;
}

}  // namespace dcgan::train
