// The DCGAN step, phase by phase as in the PyTorch tutorial; the only additions are the gradient
// averages across ranks (phases 5 and 9), D frozen during G's backward, and the NaN/Inf guard,
// which decides on the device (no host read in the step). D is trained on its logits
// (BCE-with-logits); the forward passes run under bf16 autocast with --precision bf16.
#include "dcgan/train/gan_step.h"

#include "dcgan/train/precision.h"

namespace dcgan::train {
namespace {

namespace F = torch::nn::functional;

// D's parameters stop requiring grad while G's loss flows back through D, so D's gradient buffer
// (already averaged and applied) is left untouched by G's backward.
class FreezeParams {
 public:
  explicit FreezeParams(torch::nn::Module& module) : params_(module.parameters()) {
    for (auto& p : params_) p.set_requires_grad(false);
  }
  ~FreezeParams() {
    for (auto& p : params_) p.set_requires_grad(true);
  }
  FreezeParams(const FreezeParams&) = delete;
  FreezeParams& operator=(const FreezeParams&) = delete;

 private:
  std::vector<torch::Tensor> params_;
};

// The tutorial's BCELoss on D's probabilities, computed from D's logits: BCE-with-logits, in
// float32 (also under bf16 autocast, which refuses binary_cross_entropy on CUDA). A non-finite
// logit gives a non-finite loss, which the guard catches; no input-range check can trip.
torch::Tensor bce(const torch::Tensor& logits, const torch::Tensor& target) {
  return F::binary_cross_entropy_with_logits(logits.to(torch::kFloat32), target);
}

}  // namespace

GanStep::GanStep(models::Generator generator, models::Discriminator discriminator,
                 torch::optim::Adam& opt_g, torch::optim::Adam& opt_d,
                 distributed::GradReducer& reducer_g, distributed::GradReducer& reducer_d,
                 StepOptions options)
    : g_(std::move(generator)),
      d_(std::move(discriminator)),
      opt_g_(opt_g),
      opt_d_(opt_d),
      reducer_g_(reducer_g),
      reducer_d_(reducer_d),
      options_(options),
      guard_(options) {}

StepResult GanStep::run(const torch::Tensor& real, const torch::Tensor& z, int64_t step) {
  const int64_t batch = real.size(0);
  const auto label_options = real.options();
  StepResult result;

  // 1. D.zero_grad (in place: the .grads are views into the reducer's flat buffer).
  reducer_d_.zero_grad();

  // 2. D on real images, target real_label.
  torch::Tensor label = torch::full({batch}, options_.real_label, label_options);
  torch::Tensor out_real;
  {
    AutocastScope autocast(options_.bf16, real.device());
    out_real = d_->logits(real);
  }
  torch::Tensor err_d_real = bce(out_real, label);
  guard_.check_loss("loss_d_real", err_d_real, step);
  reducer_d_.flag_non_finite(err_d_real);
  err_d_real.backward();
  lap(options_.timer, "D");

  // 3. Fake images from this rank's rows of the global latent draw.
  // 4. D on detached fakes, target 0; gradients accumulate onto the real pass's.
  torch::Tensor fake;
  torch::Tensor out_fake;
  {
    AutocastScope autocast(options_.bf16, real.device());
    fake = g_->forward(z);
    lap(options_.timer, "G");  // autocast runs G's forward at once: this is G's time
    out_fake = d_->logits(fake.detach());
  }
  label.fill_(0.0);
  torch::Tensor err_d_fake = bce(out_fake, label);
  guard_.check_loss("loss_d_fake", err_d_fake, step);
  reducer_d_.flag_non_finite(err_d_fake);
  reducer_d_.arm();  // D's last backward: its buckets start as this pass fills them
  err_d_fake.backward();
  torch::Tensor err_d = err_d_real.detach() + err_d_fake.detach();
  lap(options_.timer, "D");

  // 5. Average D's gradients across ranks (wait for the buckets backward started).
  reducer_d_.average();
  lap(options_.timer, "all-reduce");

  // 6. D update, skipped on the device on every rank after a non-finite loss or gradient.
  const torch::Tensor skipped_d =
      guard_.update("D", "loss_d", err_d, reducer_d_, opt_d_, {{"", d_.get()}}, step);
  lap(options_.timer, "optimizer");

  // 7. G.zero_grad.
  reducer_g_.zero_grad();

  // 8. D (after its update) on the same fakes, target real_label; backward into G only.
  label.fill_(options_.real_label);
  torch::Tensor out_g;
  torch::Tensor err_g;
  {
    FreezeParams frozen(*d_);
    {
      AutocastScope autocast(options_.bf16, real.device());
      out_g = d_->logits(fake);
    }
    err_g = bce(out_g, label);
    guard_.check_loss("loss_g", err_g, step);
    reducer_g_.flag_non_finite(err_g);
    reducer_g_.arm();
    err_g.backward();
  }
  lap(options_.timer, "G");

  // 9. Average G's gradients across ranks (both nets' BN statistics ride along).
  reducer_g_.average();
  lap(options_.timer, "all-reduce");

  // 10. G update.
  const torch::Tensor skipped_g =
      guard_.update("G", "loss_g", err_g.detach(), reducer_g_, opt_g_, {{"", g_.get()}}, step);
  result.skipped = torch::stack({skipped_d, skipped_g});
  lap(options_.timer, "optimizer");

  // D(x), D(G(z)): the mean probability, the sigmoid of the logits, as the tutorial logs it.
  auto mean_probability = [](const torch::Tensor& logits) {
    return torch::sigmoid(logits.detach().to(torch::kFloat32)).mean();
  };
  result.stats = torch::stack({err_d, err_g.detach(), mean_probability(out_real),
                               mean_probability(out_fake), mean_probability(out_g)});
  lap(options_.timer, "other");
  return result;
}

}  // namespace dcgan::train
