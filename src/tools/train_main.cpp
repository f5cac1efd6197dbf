// dcgan-train: flags -> MPI -> communicator -> data -> recipe -> Trainer::run().
#include <string>

#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/file_lock.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"
#include "dcgan/data/dataset.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/mpi_session.h"
#include "dcgan/distributed/rank_guard.h"
#include "dcgan/train/config.h"
#include "dcgan/train/device.h"
#include "dcgan/train/run_dir.h"
#include "dcgan/train/trainer.h"
#include "toml_config.h"

namespace {

using dcgan::train::TrainConfig;

// One option of the table: its field as a CLI11 option with the table's help and values. A flag
// that is on by default gets --no-NAME beside --NAME.
CLI::Option* add_option(CLI::App& app, const dcgan::train::OptionSpec& spec,
                        dcgan::train::OptionField field) {
  const std::string flag = "--" + spec.name;
  CLI::Option* option = nullptr;
  if (bool** on = std::get_if<bool*>(&field)) {
    if (!**on) return app.add_flag(flag, **on, spec.help);
    bool* target = *on;
    option = app.add_flag(flag, **on, spec.help + " (the default)");
    app.add_flag_callback(
        "--no-" + spec.name, [target] { *target = false; }, "turn --" + spec.name + " off");
    return option;
  }
  std::visit([&](auto* value) { option = app.add_option(flag, *value, spec.help); }, field);
  if (!spec.choices.empty()) option->check(CLI::IsMember(spec.choices));
  if (!spec.value_name.empty()) option->option_text(spec.value_name);
  if (!spec.default_text.empty()) option->default_str(spec.default_text);
  if (spec.required) option->required();
  return option;
}

// Every option of the table (config.h), in its order; --help shows each default.
void add_flags(CLI::App& app, TrainConfig& c, CLI::Option*& resume) {
  dcgan::cli::set_defaults(app);
  app.footer(
      "Flags (--sync-bn, --cache-data, --deterministic, ...) are off unless given. An option "
      "given twice takes its last value.\n"
      "Exit codes: 0 ok, 1 runtime failure, 2 usage/config error, 3 data error, 75 preempted "
      "after a checkpoint (requeue, then run again with --resume).");
  app.set_config("--config", "", "read options from a TOML file (e.g. a run's config.toml)");
  app.config_formatter(std::make_shared<dcgan::tools::TomlConfig>());
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error
  for (const auto& [spec, field] : dcgan::train::option_table(c)) {
    CLI::Option* option = add_option(app, spec, field);
    if (spec.name == "resume") resume = option->expected(0, 1);  // no value: latest
  }
}

int train(TrainConfig config, const dcgan::distributed::MpiSession& session) {
  using namespace dcgan;
  train::resolve_model_defaults(&config);
  train::validate_config(config);
  // Console only until rank 0 owns the run directory: nothing, logs included, is written into
  // it before the lock and the fresh-run check.
  log::init({session.rank(), session.world_size(), "", config.verbose, false, config.progress});
  FileLock run_lock;  // held by rank 0 until the run ends
  if (session.rank() == 0) {
    run_lock = train::claim_run_dir(
        {config.out, !config.resume.empty(), config.overwrite, config.lock_wait});
  }
  session.barrier();  // a refusal on rank 0 aborts the job while the others wait here
  // Every rank writes its own rank-N.log into <out>/logs.
  log::init({session.rank(), session.world_size(), config.out + "/logs", config.verbose, false,
             config.progress});
  train::check_shared_run_dir(config.out, session);
  train::apply_debug_modes(config.deterministic, config.detect_anomaly);
  train::install_stop_handlers();
  const torch::Device device = train::choose_device(config.device, session.local_rank());
  train::use_device(device);
  torch::set_num_threads(config.threads > 0 ? static_cast<int>(config.threads)
                                            : train::default_cpu_threads(session.local_size()));
  distributed::CommConfig comm_config;
  comm_config.backend = config.backend;
  comm_config.timeout = std::chrono::seconds(config.comm_timeout);
  auto comm = distributed::make_communicator(comm_config, session, device);
  log::info(str("placement: host ", train::host_name(), ", rank ", session.rank(), " of ",
                session.world_size(), ", local rank ", session.local_rank(), " of ",
                session.local_size(), ", device ", device.str(), ", backend ",
                comm->backend_name()));
  data::ShardDataset dataset(config.data);
  train::Trainer trainer(std::move(config), *comm, dataset, device, &train::stop_signal());
  return trainer.run();
}

}  // namespace

int main(int argc, char** argv) {
  TrainConfig config;
  CLI::App app{
      "dcgan-train: data-parallel training of DCGAN, the autoencoder and the VAE (mpirun -np N "
      "dcgan-train ...)"};
  CLI::Option* resume = nullptr;
  add_flags(app, config, resume);
  if (const auto code = dcgan::cli::parse(app, argc, argv, "dcgan-train")) return *code;
  if (resume->count() > 0 && config.resume.empty()) config.resume = "latest";
  return dcgan::run_guarded("dcgan-train", [&] {
    dcgan::distributed::MpiSession session(&argc, &argv);
    return dcgan::distributed::run_rank_guarded("dcgan-train", session,
                                                [&] { return train(config, session); });
  });
}
