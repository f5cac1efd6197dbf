// make_recipe: the model registry's spec to its recipe, and what every recipe shares.
#include "dcgan/train/recipe.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/distributed/sync_batch_norm.h"
#include "dcgan/models/dcgan.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/precision.h"
#include "recipes.h"

namespace dcgan::train {

models::NetOptions recipe_net_options(const RecipeContext& context) {
  models::NetOptions options = net_options(context.config, context.shape);
  if (context.config.sync_bn) {
    distributed::Communicator* comm = &context.comm;
    options.norm = [comm](int64_t channels) {
      return torch::nn::AnyModule(distributed::SyncBatchNorm2d(channels, *comm));
    };
  }
  models::validate_options(options);
  return options;
}

std::unique_ptr<ModuleEma> make_decoder_ema(const RecipeContext& context,
                                            const models::Generator& decoder) {
  if (context.config.ema_halflife_kimg <= 0) return nullptr;
  models::Generator ema(net_options(context.config, context.shape));
  ema->to(context.device);
  return std::make_unique<ModuleEma>(decoder.ptr(), ema.ptr(), context.config.ema_halflife_kimg,
                                     context.config.batch_size * context.shape.world_size);
}

torch::optim::AdamOptions adam_options(const TrainConfig& config) {
  return torch::optim::AdamOptions(config.lr).betas({config.beta1, config.beta2});
}

std::vector<torch::Tensor> bn_passengers(const RecipeContext& context, torch::nn::Module& module) {
  if (context.comm.world_size() == 1 || context.config.sync_bn) return {};
  return distributed::bn_running_stats(module);
}

std::unique_ptr<distributed::GradReducer> make_reducer(const RecipeContext& context,
                                                       std::vector<torch::Tensor> params,
                                                       std::vector<torch::Tensor> passengers) {
  // On CUDA the hooks run on autograd's device thread: NCCL only enqueues there, and MPI calls
  // from it are legal (Note [Sync-BN's collective in backward]).
  return std::make_unique<distributed::GradReducer>(
      std::move(params), context.comm, static_cast<size_t>(context.config.bucket_mb * 1024 * 1024),
      std::move(passengers), context.config.overlap, context.config.debug_reduce_single_rank);
}

StepOptions step_options(const RecipeContext& context) {
  const TrainConfig& config = context.config;
  StepOptions options;
  options.real_label = config.real_label;
  options.skip_non_finite = config.on_nan == "skip";
  options.check_each_phase = config.check_nan;
  options.beta = config.beta;
  options.bf16 = parse_precision(config.precision) == Precision::kBf16;
  options.timer = context.timer;
  return options;
}

std::unique_ptr<Recipe> make_recipe(const RecipeContext& context) {
  const models::ModelSpec& spec = models::model_spec(context.config.model);
  return spec.has_encoder() ? make_autoencoder_recipe(context, spec)
                            : make_dcgan_recipe(context, spec);
}

}  // namespace dcgan::train
