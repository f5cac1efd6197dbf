// dcgan-prep: pack | verify | inspect. Parses flags into PackOptions, sets up MPI and logging for
// pack, and maps errors to exit codes (see Note [Errors under mpirun] in rank_status.h).
#include <cstdio>
#include <thread>

#include "dcgan/common/cli.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/distributed/mpi_session.h"
#include "mpi_comm.h"
#include "pack.h"
#include "rank_status.h"
#include "verify.h"

namespace {

constexpr const char* kTool = "dcgan-prep";

void add_pack(CLI::App& app, dcgan::prep::PackOptions& o) {
  auto* p = app.add_subcommand("pack", "pack a source into verified HDF5 shards + manifest.json");
  p->add_option("--source", o.source.kind, "celeba | folder | idx | synthetic")
      ->required()
      ->check(CLI::IsMember({"celeba", "folder", "idx", "synthetic"}));
  p->add_option("--input", o.source.input,
                "CelebA root, image folder, or IDX images file (.gz or not)");
  p->add_option("--labels", o.source.labels, "IDX labels file (optional)");
  p->add_option("--out", o.out, "output directory (shard-NNNNN.h5 + manifest.json)")->required();
  p->add_option("--size", o.image_size, "output images are SIZE x SIZE")->capture_default_str();
  p->add_option("--channels", o.channels, "1 (gray) or 3 (RGB; gray replicated)")
      ->capture_default_str();
  p->add_option_function<std::string>(
       "--crop", [&o](const std::string& text) { o.crop = dcgan::prep::parse_crop(text); },
       "resize-center | center:S | box:CX,CY,S")
      ->default_str(o.crop.text());
  p->add_option("--split", o.source.split, "celeba only: all | train | valid | test")
      ->capture_default_str();
  p->add_option("--images-per-shard", o.images_per_shard, "0: about 512 MiB of pixels per shard")
      ->capture_default_str();
  p->add_option("--workers", o.workers,
                "decode threads per rank; 0: the node's cores / ranks per node")
      ->capture_default_str();
  p->add_option_function<std::string>(
       "--on-bad-image", [&o](const std::string& v) { o.fail_on_bad_image = v == "fail"; },
       "skip (warn, count in 'skipped') | fail (exit 3)")
      ->default_str("skip")
      ->check(CLI::IsMember({"skip", "fail"}));
  p->add_flag("--overwrite", o.overwrite, "replace a non-empty --out");
  p->add_option("--count", o.source.count, "synthetic: number of images")->capture_default_str();
  p->add_option("--seed", o.source.seed, "synthetic: generator seed")->capture_default_str();
  p->add_option("--chunk-images", o.chunk_images,
                "images per HDF5 chunk (one Fletcher32 checksum each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  p->add_flag(
      "--jpeg-dct-scale", o.jpeg_dct_scaling,
      "resize-center: decode JPEGs at 1/2..1/8 in the DCT domain when still >= --size (faster, "
      "slightly further from PIL)");
  p->add_flag_callback(
      "--no-progress", [&o] { o.progress = false; }, "no images/s + ETA line on the terminal");
}

// Every line tagged with this rank; rank 0 on the console, the others' warnings and errors too.
void init_log(const dcgan::distributed::MpiSession& mpi) {
  dcgan::log::LogConfig config;
  config.rank = mpi.rank();
  config.world_size = mpi.world_size();
  dcgan::log::init(config);
}

// One command line, parsed and not yet run.
struct Command {
  dcgan::prep::PackOptions pack;
  std::string dir, grid;   // verify, inspect
  std::string subcommand;  // pack | verify | inspect; empty after --help
  std::string line;        // the whole command line, recorded in the manifest
};

int run_pack(Command& cmd, const dcgan::distributed::MpiSession& mpi) {
  init_log(mpi);
  auto& o = cmd.pack;
  o.source.image_size = o.image_size;
  o.command = cmd.line;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (o.workers <= 0) o.workers = std::max(1, cores / std::max(1, mpi.local_size()));
  dcgan::prep::MpiPackComm comm(mpi);
  dcgan::prep::pack(o, comm);
  return 0;
}

// Fills `cmd` from argv; a bad option throws UsageError, --help prints and leaves no subcommand.
void parse_command(int argc, char** argv, Command& cmd) {
  for (int i = 0; i < argc; ++i) cmd.line += (i ? " " : "") + std::string(argv[i]);
  CLI::App app{
      "dcgan-prep: pack CelebA, image folders, IDX files or synthetic images into verified "
      "HDF5 shards; verify and inspect them. Exit codes: 0 ok, 1 runtime, 2 usage, 3 data."};
  dcgan::cli::set_defaults(app);
  app.set_config("--config", "", "read options from a TOML/INI file (pack options under [pack])");
  app.require_subcommand(1);
  add_pack(app, cmd.pack);
  auto* verify =
      app.add_subcommand("verify", "re-read every shard: checksums, counts, sha256, schema");
  verify->add_option("dir", cmd.dir, "data set directory")->required();
  auto* inspect = app.add_subcommand(
      "inspect", "print the summary; --grid writes an 8x8 PNG of the first 64 images");
  inspect->add_option("dir", cmd.dir, "data set directory")->required();
  inspect->add_option("--grid", cmd.grid, "PNG file for the grid");
  if (!dcgan::cli::parse_or_throw(app, argc, argv, kTool)) return;
  cmd.subcommand = app.get_subcommands().front()->get_name();
}

// Runs a parsed command. `mpi`: the session when a launcher started this process, else null
// (pack then starts a one-rank session of its own, which also refuses a plain srun).
int run_command(Command& cmd, int argc, char** argv, const dcgan::distributed::MpiSession* mpi) {
  if (cmd.subcommand == "pack") {
    if (mpi != nullptr) return run_pack(cmd, *mpi);
    const dcgan::distributed::MpiSession one_rank(&argc, &argv);
    return run_pack(cmd, one_rank);
  }
  if (cmd.subcommand == "verify") dcgan::prep::verify_and_print(cmd.dir);
  if (cmd.subcommand == "inspect")
    std::fputs(dcgan::prep::inspect_dataset(cmd.dir, cmd.grid).c_str(), stdout);
  return 0;
}

// Under a launcher: MPI first, then the parse and the run, each agreed on by every rank.
int run_on_ranks(int argc, char** argv) {
  const dcgan::distributed::MpiSession mpi(&argc, &argv);
  init_log(mpi);
  dcgan::prep::MpiPackComm comm(mpi);
  Command cmd;
  const int parsed = dcgan::prep::run_guarded_on_ranks(kTool, comm, [&] {
    parse_command(argc, argv, cmd);
    return 0;
  });
  if (parsed != 0) return parsed;
  return dcgan::prep::run_guarded_on_ranks(kTool, comm,
                                           [&] { return run_command(cmd, argc, argv, &mpi); });
}

}  // namespace

int main(int argc, char** argv) {
  dcgan::log::init({});
  return dcgan::run_guarded(kTool, [&] {
    if (dcgan::prep::started_by_mpi_launcher()) return run_on_ranks(argc, argv);
    Command cmd;
    parse_command(argc, argv, cmd);
    return run_command(cmd, argc, argv, nullptr);
  });
}
