// make_recipe: the model name to its recipe, and what every recipe shares.
#include "dcgan/train/recipe.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/distributed/sync_batch_norm.h"
#include "dcgan/train/checkpoint.h"
#include "recipes.h"

namespace dcgan::train {

models::DcganOptions recipe_model_options(const RecipeContext& context) {
  models::DcganOptions options = model_options(context.config, context.shape);
  if (context.config.sync_bn) {
    distributed::Communicator* comm = &context.comm;
    options.norm = [comm](int64_t channels) {
      return torch::nn::AnyModule(distributed::SyncBatchNorm2d(channels, *comm));
    };
  }
  models::validate_options(options);
  return options;
}

torch::optim::AdamOptions adam_options(const TrainConfig& config) {
  return torch::optim::AdamOptions(config.lr).betas({config.beta1, config.beta2});
}

std::vector<torch::Tensor> bn_passengers(const RecipeContext& context, torch::nn::Module& module) {
  if (context.comm.world_size() == 1 || context.config.sync_bn) return {};
  return distributed::bn_running_stats(module);
}

StepOptions step_options(const TrainConfig& config) {
  StepOptions options;
  options.real_label = config.real_label;
  options.skip_non_finite = config.on_nan == "skip";
  options.check_each_phase = config.check_nan;
  options.beta = config.beta;
  return options;
}

std::unique_ptr<Recipe> make_recipe(const RecipeContext& context) {
  const std::string& model = context.config.model;
  if (model == "dcgan") return make_dcgan_recipe(context);
  if (model == "ae") return make_autoencoder_recipe(context, /*variational=*/false);
  if (model == "vae") return make_autoencoder_recipe(context, /*variational=*/true);
  throw UsageError(str("--model must be dcgan, ae or vae, got '", model, "'"));
}

}  // namespace dcgan::train
