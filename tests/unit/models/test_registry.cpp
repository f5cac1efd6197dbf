// Tests of the model registry: each model's module names in checkpoint order, its decoder, EMA and
// encoder, its default Adam settings, the parameter count of every module it builds (the EMA as
// the decoder), and the exact errors for an unknown model or module.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dcgan/common/errors.h"
#include "dcgan/models/autoencoder.h"
#include "dcgan/models/registry.h"
#include "support/torch_support.h"

namespace dcgan::test {
namespace {

std::vector<std::string> module_names(const models::ModelSpec& spec) {
  std::vector<std::string> names;
  for (const auto& m : spec.modules) names.push_back(m.name);
  return names;
}

models::NetOptions tiny() {
  models::NetOptions options;
  options.nz = 16;
  options.ngf = 8;
  options.ndf = 8;
  options.channels = 1;
  options.image_size = 32;
  return options;
}

TEST(ModelRegistry, NamesTheModulesOfEachModel) {
  EXPECT_EQ(models::model_names(), (std::vector<std::string>{"dcgan", "ae", "vae"}));
  const models::ModelSpec& dcgan = models::model_spec("dcgan");
  EXPECT_EQ(module_names(dcgan), (std::vector<std::string>{"generator", "discriminator"}));
  EXPECT_EQ(dcgan.decoder, "generator");
  EXPECT_EQ(dcgan.decoder_ema(), "generator_ema");
  EXPECT_EQ(dcgan.discriminator, "discriminator");
  EXPECT_FALSE(dcgan.has_encoder());
  EXPECT_EQ(dcgan.lr, 2e-4);  // the tutorial's Adam
  EXPECT_EQ(dcgan.beta1, 0.5);
  for (const std::string name : {"ae", "vae"}) {
    const models::ModelSpec& spec = models::model_spec(name);
    EXPECT_EQ(module_names(spec), (std::vector<std::string>{"encoder", "decoder"}));
    EXPECT_EQ(spec.decoder_ema(), "decoder_ema");
    EXPECT_EQ(spec.encoder, "encoder");
    EXPECT_EQ(spec.discriminator, "");
    EXPECT_EQ(spec.variational, name == "vae");
    EXPECT_EQ(spec.lr, 1e-3);
    EXPECT_EQ(spec.beta1, 0.9);
  }
  EXPECT_TRUE(models::is_ema_module("generator_ema"));
  EXPECT_TRUE(models::is_ema_module("decoder_ema"));
  EXPECT_FALSE(models::is_ema_module("generator"));
  EXPECT_FALSE(models::is_ema_module("encoder_ema"));
}

TEST(ModelRegistry, BuildsEveryModuleItNames) {
  const models::NetOptions options = tiny();
  // At 32 pixels, ngf = ndf = 8, nz = 16, one channel (the counts of test_dcgan/test_autoencoder).
  const int64_t generator = count_parameters(*models::Generator(options));
  const int64_t discriminator = count_parameters(*models::Discriminator(options));
  const models::ModelSpec& dcgan = models::model_spec("dcgan");
  EXPECT_EQ(count_parameters(*dcgan.make_module("generator", options)), generator);
  EXPECT_EQ(count_parameters(*dcgan.make_module("generator_ema", options)), generator);
  EXPECT_EQ(count_parameters(*dcgan.make_module("discriminator", options)), discriminator);
  const models::ModelSpec& vae = models::model_spec("vae");
  auto encoder = vae.make_module("encoder", options);
  ASSERT_NE(encoder->as<models::EncoderImpl>(), nullptr);
  EXPECT_TRUE(encoder->as<models::EncoderImpl>()->variational());
  EXPECT_FALSE(models::model_spec("ae")
                   .make_module("encoder", options)
                   ->as<models::EncoderImpl>()
                   ->variational());
  EXPECT_EQ(count_parameters(*vae.make_module("decoder_ema", options)), generator);
  EXPECT_TRUE(vae.has_module("decoder_ema"));
  EXPECT_FALSE(vae.has_module("generator"));
}

TEST(ModelRegistry, RefusesUnknownNamesWithTheKnownOnes) {
  EXPECT_EQ(models::find_model("gan"), nullptr);
  try {
    models::model_spec("gan");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--model must be dcgan, ae or vae, got 'gan'");
  }
  try {
    models::model_spec("ae").make_module("discriminator", tiny());
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "model ae has no module 'discriminator'");
  }
}

}  // namespace
}  // namespace dcgan::test
