// dcgan-export: a checkpoint's modules as PyTorch state_dict files that a bare torch.load reads
// (weights_only=True) and the Python nets load strictly, under the tutorial's names (main.0.weight,
// ..., BN buffers included). Writes into --out:
//   <module>.pt   generator.pt + discriminator.pt (dcgan), encoder.pt + decoder.pt (ae, vae)
//   check.pt      fixed inputs of every module and this build's outputs for them (eval mode), so
//                 a Python port can be checked: <module>.input, <module>.output (the encoder's mu;
//                 the VAE's <module>.logvar too)
//   model.json    model, step and the nets' options, to rebuild the nets in Python
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"
#include "dcgan/interop/state_dict.h"
#include "dcgan/train/checkpoint.h"

namespace {

struct ExportOptions {
  std::string ckpt;  // run dir, its checkpoints/ dir, or a step-NNNNNN dir
  std::string out;   // directory to write
  bool overwrite = false;
  bool no_ema = false;  // leave out the decoder's EMA
};

constexpr int64_t kCheckBatch = 4;  // inputs per module in check.pt
constexpr uint64_t kCheckSeed = 0;

// This build's forward of `module` on fixed inputs, as check.pt entries.
void add_check(const dcgan::train::NamedModule& m, const dcgan::train::CheckpointInfo& info,
               dcgan::interop::StateDict* check) {
  using namespace dcgan;
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(kCheckSeed);
  const models::NetOptions o = info.net_options();
  const torch::Tensor images =
      torch::rand({kCheckBatch, o.channels, o.image_size, o.image_size}, gen) * 2 - 1;
  const std::string& n = m.name;
  if (auto* g = m.module->as<models::GeneratorImpl>()) {
    const torch::Tensor z = torch::randn({kCheckBatch, o.nz, 1, 1}, gen);
    check->emplace_back(n + ".input", z);
    check->emplace_back(n + ".output", g->forward(z));
  } else if (auto* d = m.module->as<models::DiscriminatorImpl>()) {
    check->emplace_back(n + ".input", images);
    check->emplace_back(n + ".output", d->forward(images));
  } else if (auto* e = m.module->as<models::EncoderImpl>()) {
    const models::Code code = e->encode(images);
    check->emplace_back(n + ".input", images);
    check->emplace_back(n + ".output", code.mu);
    if (code.logvar.defined()) check->emplace_back(n + ".logvar", code.logvar);
  }
}

std::string model_json(const dcgan::train::CheckpointInfo& info,
                       const std::vector<std::string>& modules) {
  using dcgan::str;
  const dcgan::models::NetOptions o = info.net_options();
  std::string list;
  for (const std::string& m : modules) list += str(list.empty() ? "" : ", ", "\"", m, "\"");
  const std::string step_dir = info.dir.substr(info.dir.find_last_of('/') + 1);
  return str("{\n  \"format\": \"dcgan-dist-export\",\n  \"version\": 1,\n  \"model\": \"",
             info.model, "\",\n  \"checkpoint\": \"", step_dir,
             "\",\n  \"step\": ", info.cursor.step, ",\n  \"nz\": ", o.nz, ",\n  \"ngf\": ", o.ngf,
             ",\n  \"ndf\": ", o.ndf, ",\n  \"channels\": ", o.channels,
             ",\n  \"image_size\": ", o.image_size, ",\n  \"modules\": [", list, "]\n}\n");
}

// A checkpoint that cannot be found or read is a data error (exit 3) naming the path, whatever
// layer noticed it, as in dcgan-sample.
dcgan::train::CheckpointModules load(const std::string& path, bool ema) {
  return dcgan::train::open_user_checkpoint(path, [&](const std::string& dir) {
    return dcgan::train::load_checkpoint_modules(dir, torch::kCPU, ema);  // verifies first
  });
}

int export_checkpoint(const ExportOptions& o) {
  using namespace dcgan;
  const train::CheckpointModules loaded = load(o.ckpt, !o.no_ema);
  const std::string& dir = loaded.info.dir;
  std::vector<std::string> files;
  for (const auto& m : loaded.modules) files.push_back(m.name + ".pt");
  files.insert(files.end(), {"check.pt", "model.json"});
  if (!o.overwrite) {
    for (const std::string& f : files) {
      if (posix::exists(o.out + "/" + f)) {
        throw UsageError(str(o.out, "/", f, " exists HINT: --overwrite replaces the export"));
      }
    }
  }
  posix::make_dirs(o.out);
  interop::StateDict check;
  std::vector<std::string> names;
  for (const auto& m : loaded.modules) {
    const interop::StateDict tensors = interop::module_state_dict(*m.module);
    interop::save_state_dict(str(o.out, "/", m.name, ".pt"), tensors);
    int64_t params = 0;
    for (const auto& p : m.module->parameters()) params += p.numel();
    log::info(str("wrote ", o.out, "/", m.name, ".pt: ", tensors.size(), " tensors, ", params,
                  " parameters"));
    add_check(m, loaded.info, &check);
    names.push_back(m.name);
  }
  interop::save_state_dict(o.out + "/check.pt", check);
  write_file_atomic(o.out + "/model.json", model_json(loaded.info, names));
  log::info(str("exported ", loaded.info.model, " ", dir, " (step ", loaded.info.cursor.step,
                ") to ", o.out));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ExportOptions o;
  CLI::App app{
      "dcgan-export: write a dcgan-train checkpoint's nets as PyTorch state_dicts (torch.load, "
      "then load_state_dict(strict=True) into the tutorial's nets), with check.pt and model.json"};
  dcgan::cli::set_defaults(app);
  app.add_option("--ckpt", o.ckpt,
                 "run directory, its checkpoints/ directory, or a step-NNNNNN directory")
      ->required();
  app.add_option("--out", o.out, "directory to write (made if missing)")->required();
  app.add_flag("--overwrite", o.overwrite, "replace the files of an earlier export in --out");
  app.add_flag("--no-ema", o.no_ema,
               "leave out the EMA generator (decoder) of a run with --ema-halflife-kimg");
  app.footer(
      "Exit codes: 0 ok, 1 runtime failure (I/O), 2 usage error, 3 missing or damaged "
      "checkpoint.");
  if (const auto code = dcgan::cli::parse(app, argc, argv, "dcgan-export")) return *code;
  dcgan::log::init({});
  return dcgan::run_guarded("dcgan-export", [&] { return export_checkpoint(o); });
}
