// The AE and VAE recipes of the original material: D's trunk as the encoder, G as the decoder,
// one Adam over both and one gradient reducer. AE: MSE, mean over all elements. VAE: per sample
// the sum of squared errors over pixels plus beta * KL(N(mu, sigma^2) || N(0, 1)), averaged over
// the batch; z = mu + sigma * eps with eps this rank's rows of the Trainer's global draw.
#include <iomanip>
#include <sstream>

#include "dcgan/models/autoencoder.h"
#include "dcgan/train/image_grid.h"
#include "dcgan/train/optimizer.h"
#include "dcgan/train/precision.h"
#include "dcgan/train/run_files.h"
#include "dcgan/train/update_guard.h"
#include "recipes.h"

namespace dcgan::train {
namespace {

constexpr int64_t kReconstructed = 32;  // images of the recon grid, each over its reconstruction

std::vector<torch::Tensor> concat(std::vector<torch::Tensor> a,
                                  const std::vector<torch::Tensor>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class AutoencoderRecipe final : public Recipe {
 public:
  AutoencoderRecipe(const RecipeContext& context, const models::ModelSpec& spec)
      : spec_(spec), variational_(spec.variational), guard_(step_options(context)) {
    const bool variational = variational_;
    const TrainConfig& config = context.config;
    const models::NetOptions options = recipe_net_options(context);
    torch::manual_seed(static_cast<uint64_t>(config.seed));  // init on the CPU, as the GAN's
    encoder_ = models::Encoder(options, variational);
    decoder_ = models::Generator(options);
    models::init_weights(*encoder_);
    models::init_weights(*decoder_);
    if (variational) {
      fixed_noise_ = torch::randn({kFixedNoiseCount, config.nz, 1, 1}).to(context.device);
    }
    encoder_->to(context.device);
    decoder_->to(context.device);
    const std::vector<torch::Tensor> params =
        concat(encoder_->parameters(), decoder_->parameters());
    optimizer_ = make_adam(config.optimizer, params, adam_options(config));
    // Note [BN statistics ride on the gradient all-reduce]: both nets' on the one reducer.
    reducer_ =
        make_reducer(context, params,
                     concat(bn_passengers(context, *encoder_), bn_passengers(context, *decoder_)));
    ema_ = make_decoder_ema(context, decoder_);
    beta_ = config.beta;
    bf16_ = step_options(context).bf16;
    timer_ = context.timer;
    nz_ = config.nz;
    int64_t n = std::min<int64_t>(kReconstructed, context.reference.size(0));
    if (n >= kGridColumns) n -= n % kGridColumns;
    reference_ = context.reference.narrow(0, 0, n).to(context.device);
  }

  std::string model() const override { return spec_.name; }
  std::vector<NamedModule> modules() override {
    std::vector<NamedModule> m = {{spec_.encoder, encoder_.ptr()}, {spec_.decoder, decoder_.ptr()}};
    if (ema_) m.push_back({spec_.decoder_ema(), ema_->module()});
    return m;
  }
  std::vector<NamedOptimizer> optimizers() override { return {{model(), optimizer_.get()}}; }
  std::vector<NamedTensor> tensors() override {
    if (!variational_) return {};
    return {{"fixed_noise", &fixed_noise_}};
  }
  int64_t noise_size() const override { return variational_ ? nz_ : 0; }
  std::vector<std::string> stat_names() const override {
    if (variational_) return {"loss", "rec_mse", "kl"};
    return {"rec_mse"};
  }
  std::string console_stats(const std::vector<double>& s) const override {
    std::ostringstream out;
    out << std::fixed << std::setprecision(4);
    if (variational_) {
      out << "Loss: " << s[0] << "\tMSE: " << std::setprecision(6) << s[1] << std::setprecision(4)
          << "\tKL: " << s[2];
    } else {
      out << "MSE: " << std::setprecision(6) << s[0];
    }
    return out.str();
  }

  StepResult step(const torch::Tensor& real, const torch::Tensor& noise, int64_t step) override {
    StepResult result;
    reducer_->zero_grad();
    models::Code code;
    torch::Tensor recon;
    {
      AutocastScope autocast(bf16_, real.device());
      code = encoder_->encode(real);
      const torch::Tensor z =
          variational_ ? models::reparameterize(code.mu, code.logvar, noise) : code.mu;
      recon = decoder_->forward(z);
    }
    // The losses in float32 (a no-op in fp32).
    recon = recon.to(torch::kFloat32);
    code.mu = code.mu.to(torch::kFloat32);
    if (variational_) code.logvar = code.logvar.to(torch::kFloat32);
    torch::Tensor loss;
    torch::Tensor kl;
    if (variational_) {
      const torch::Tensor sse = (recon - real).pow(2).flatten(1).sum(1);
      kl = models::kl_to_standard_normal(code.mu, code.logvar);
      loss = (sse + beta_ * kl).mean();
    } else {
      loss = torch::nn::functional::mse_loss(recon, real);
    }
    guard_.check_loss("loss", loss, step);
    reducer_->flag_non_finite(loss);
    reducer_->arm();  // the one backward: buckets start as it fills them
    loss.backward();
    lap(timer_, "model");
    reducer_->average();
    lap(timer_, "all-reduce");
    const char* phase = variational_ ? "VAE" : "AE";
    result.skipped = guard_
                         .update(phase, "loss", loss.detach(), *reducer_, *optimizer_,
                                 {{"encoder.", encoder_.get()}, {"decoder.", decoder_.get()}}, step)
                         .reshape({1});
    if (ema_) ema_->update();
    lap(timer_, "optimizer");
    const torch::Tensor rec_mse = (recon.detach() - real).pow(2).mean();
    result.stats = variational_ ? torch::stack({loss.detach(), rec_mse, kl.detach().mean()})
                                : rec_mse.reshape({1});
    lap(timer_, "other");
    return result;
  }

  void report(int64_t step) override { guard_.report(step); }

  std::vector<SampleGrid> samples() override {
    torch::NoGradGuard no_grad;
    encoder_->eval();
    decoder_->eval();
    std::vector<SampleGrid> grids;
    // Rows of originals, each over the row of their reconstructions (the VAE's from mu).
    const torch::Tensor recon = decoder_->forward(encoder_->encode(reference_).mu);
    const int64_t width = std::min<int64_t>(kGridColumns, reference_.size(0));
    grids.push_back(
        {GridKind::kReconstructions, reconstruction_rows(reference_, recon, width), width});
    if (variational_) grids.push_back({GridKind::kSamples, decode(fixed_noise_)});
    encoder_->train();
    decoder_->train();
    return grids;
  }

  void reset_ema() override {
    if (ema_) ema_->reset();
  }

  torch::Tensor decode(const torch::Tensor& codes) override {
    torch::NoGradGuard no_grad;
    if (ema_) return ema_->module()->as<models::GeneratorImpl>()->forward(codes);  // eval mode
    decoder_->eval();
    torch::Tensor images = decoder_->forward(codes);
    decoder_->train();
    return images;
  }

 private:
  const models::ModelSpec& spec_;  // the registry's: names the modules
  bool variational_;
  UpdateGuard guard_;
  models::Encoder encoder_{nullptr};
  models::Generator decoder_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::unique_ptr<distributed::GradReducer> reducer_;
  std::unique_ptr<ModuleEma> ema_;  // --ema-halflife-kimg
  torch::Tensor fixed_noise_;
  torch::Tensor reference_;
  double beta_ = 1.0;
  bool bf16_ = false;
  PhaseTimer* timer_ = nullptr;
  int64_t nz_ = 0;
};

}  // namespace

std::unique_ptr<Recipe> make_autoencoder_recipe(const RecipeContext& context,
                                                const models::ModelSpec& spec) {
  return std::make_unique<AutoencoderRecipe>(context, spec);
}

}  // namespace dcgan::train
