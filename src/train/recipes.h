// The recipes make_recipe builds: the model registry's spec picks one (a model with an encoder is
// an autoencoder) and names the recipe's modules.
#pragma once

#include <memory>

#include "dcgan/models/dcgan.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/ema.h"
#include "dcgan/train/recipe.h"
#include "dcgan/train/step_options.h"
#include "dcgan/train/update_guard.h"

namespace dcgan::train {

// The fixed-noise grid of the DCGAN and the VAE: 8x8 decoded codes.
inline constexpr int64_t kFixedNoiseCount = 64;

// The model options of the run: the config's and the data's shape, with synchronised BatchNorm
// over the context's communicator under --sync-bn; validated.
models::NetOptions recipe_net_options(const RecipeContext& context);

// Adam's options of the run: --lr, --beta1, --beta2 (the per-model defaults resolved).
torch::optim::AdamOptions adam_options(const TrainConfig& config);

// The per-rank BN running statistics of `module` that a gradient reducer averages across ranks
// (GradReducer passengers): none on one rank or under --sync-bn, whose statistics are global.
std::vector<torch::Tensor> bn_passengers(const RecipeContext& context, torch::nn::Module& module);

// A gradient reducer of the run over `params`: --bucket-mb buckets, `passengers`, --overlap and
// --debug-reduce-single-rank.
std::unique_ptr<distributed::GradReducer> make_reducer(const RecipeContext& context,
                                                       std::vector<torch::Tensor> params,
                                                       std::vector<torch::Tensor> passengers = {});

// The step options the context implies (--real-label, --on-nan, --check-nan, --beta,
// --precision, the benchmark's timer).
StepOptions step_options(const RecipeContext& context);

// The decoder's EMA of the run (--ema-halflife-kimg > 0), on the context's device: a plain
// BatchNorm Generator (its names are sync-BN's too) tracking `decoder`; null without one.
std::unique_ptr<ModuleEma> make_decoder_ema(const RecipeContext& context,
                                            const models::Generator& decoder);

std::unique_ptr<Recipe> make_dcgan_recipe(const RecipeContext& context,
                                          const models::ModelSpec& spec);
std::unique_ptr<Recipe> make_autoencoder_recipe(const RecipeContext& context,
                                                const models::ModelSpec& spec);

}  // namespace dcgan::train
