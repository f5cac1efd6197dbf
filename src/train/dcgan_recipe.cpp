// The DCGAN recipe: the tutorial's G and D (sync-BN when asked), their Adam optimizers and
// gradient reducers, GanStep, the fixed-noise grid and the tutorial's console line.
#include <iomanip>
#include <sstream>

#include "dcgan/models/dcgan.h"
#include "dcgan/train/gan_step.h"
#include "dcgan/train/optimizer.h"
#include "dcgan/train/run_files.h"
#include "recipes.h"

namespace dcgan::train {
namespace {

class DcganRecipe final : public Recipe {
 public:
  DcganRecipe(const RecipeContext& context, const models::ModelSpec& spec) : spec_(spec) {
    const TrainConfig& config = context.config;
    const models::NetOptions options = recipe_net_options(context);
    // Init on the CPU from the seed, as the tutorial does, so every device starts from the same
    // weights; the fixed noise is the next draw of the same generator.
    torch::manual_seed(static_cast<uint64_t>(config.seed));
    generator_ = models::Generator(options);
    discriminator_ = models::Discriminator(options);
    models::init_weights(*generator_);
    models::init_weights(*discriminator_);
    fixed_noise_ = torch::randn({kFixedNoiseCount, config.nz, 1, 1}).to(context.device);
    generator_->to(context.device);
    discriminator_->to(context.device);
    opt_g_ = make_adam(config.optimizer, generator_->parameters(), adam_options(config));
    opt_d_ = make_adam(config.optimizer, discriminator_->parameters(), adam_options(config));
    // Note [BN statistics ride on the gradient all-reduce]: both nets' on G's.
    std::vector<torch::Tensor> passengers = bn_passengers(context, *generator_);
    for (const torch::Tensor& t : bn_passengers(context, *discriminator_)) passengers.push_back(t);
    reducer_g_ = make_reducer(context, generator_->parameters(), std::move(passengers));
    reducer_d_ = make_reducer(context, discriminator_->parameters());
    step_ = std::make_unique<GanStep>(generator_, discriminator_, *opt_g_, *opt_d_, *reducer_g_,
                                      *reducer_d_, step_options(context));
    ema_ = make_decoder_ema(context, generator_);
    nz_ = config.nz;
    // D runs forward and backward three times (real, fake, and for G's loss: its input gradient
    // and, as autograd computes it, its weight gradient), G forward once and backward once.
    flops_ = 3 * models::conv_chain_flops(*generator_, 1) +
             9 * models::conv_chain_flops(*discriminator_, options.image_size);
  }

  std::string model() const override { return spec_.name; }
  std::vector<NamedModule> modules() override {
    std::vector<NamedModule> m = {{spec_.decoder, generator_.ptr()},
                                  {spec_.discriminator, discriminator_.ptr()}};
    if (ema_) m.push_back({spec_.decoder_ema(), ema_->module()});
    return m;
  }
  std::vector<NamedOptimizer> optimizers() override {
    return {{"d", opt_d_.get()}, {"g", opt_g_.get()}};  // metrics order: lr_d, lr_g
  }
  std::vector<NamedTensor> tensors() override { return {{"fixed_noise", &fixed_noise_}}; }
  int64_t noise_size() const override { return nz_; }
  std::vector<std::string> stat_names() const override {
    return {"loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2"};  // StepStat order
  }
  std::string console_stats(const std::vector<double>& s) const override {
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << "Loss_D: " << s[kLossD]
        << "\tLoss_G: " << s[kLossG] << "\tD(x): " << s[kDx] << "\tD(G(z)): " << s[kDGz1] << " / "
        << s[kDGz2];
    return out.str();
  }
  StepResult step(const torch::Tensor& real, const torch::Tensor& noise, int64_t step) override {
    StepResult result = step_->run(real, noise, step);
    if (ema_) ema_->update();
    return result;
  }
  void reset_ema() override {
    if (ema_) ema_->reset();
  }
  void report(int64_t step) override { step_->report(step); }
  double step_flops_per_image() const override { return flops_; }
  std::vector<SampleGrid> samples() override {
    return {{GridKind::kSamples, decode(fixed_noise_)}};
  }

  torch::Tensor decode(const torch::Tensor& codes) override {
    torch::NoGradGuard no_grad;
    if (ema_) return ema_->module()->as<models::GeneratorImpl>()->forward(codes);  // eval mode
    generator_->eval();
    torch::Tensor images = generator_->forward(codes);
    generator_->train();
    return images;
  }

 private:
  const models::ModelSpec& spec_;  // the registry's: names the modules
  models::Generator generator_{nullptr};
  models::Discriminator discriminator_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_g_;
  std::unique_ptr<torch::optim::Adam> opt_d_;
  std::unique_ptr<distributed::GradReducer> reducer_g_;
  std::unique_ptr<distributed::GradReducer> reducer_d_;
  std::unique_ptr<GanStep> step_;
  std::unique_ptr<ModuleEma> ema_;  // --ema-halflife-kimg
  torch::Tensor fixed_noise_;
  int64_t nz_ = 0;
  double flops_ = 0;
};

}  // namespace

std::unique_ptr<Recipe> make_dcgan_recipe(const RecipeContext& context,
                                          const models::ModelSpec& spec) {
  return std::make_unique<DcganRecipe>(context, spec);
}

}  // namespace dcgan::train
