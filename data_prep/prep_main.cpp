// dcgan-prep: pack | verify | inspect. Parses flags into PackOptions, sets up MPI and logging for
// pack, and maps errors to exit codes (see Note [Errors under mpirun]).
#include <cstdio>
#include <optional>
#include <thread>

#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/mpi_session.h"
#include "mpi_comm.h"
#include "pack.h"
#include "rank_status.h"
#include "verify.h"

// Note [Errors under mpirun]
// Under a launcher every rank runs the same command line, so most errors (a bad option, a
// missing --input, a non-empty --out) would print once per rank, and one that a single rank hits
// (a corrupt image in its shards, a failed write) would not say which rank. So when an MPI
// launcher started the process (started_by_mpi_launcher), MPI starts before the command line is
// parsed, and run_guarded_on_ranks collects every rank's outcome on rank 0 twice: after parsing
// and after running. Rank 0 prints each distinct error once, prefixed with the ranks that hit it
// ("rank 1: ...") unless every rank did, and only then releases the others: a launcher ends the
// job as soon as one rank exits non-zero, which could kill rank 0 before it printed. Every rank
// exits with the first error's documented code. No rank may wait forever on the way: the first
// agreement stops every rank before pack when one failed to parse (a --config that one node
// lacks), pack brings every rank, failed or not, to each of its collectives and ends with the
// same status on all of them, and an MPI call that fails on one rank ends the job from there
// (MpiPackComm). Without a launcher dcgan-prep is a single process that prints its own errors.

namespace {

constexpr const char* kTool = "dcgan-prep";

struct Cli {
  dcgan::prep::PackOptions pack;
  std::string crop = "resize-center";
  std::string on_bad_image = "skip";
  std::string dir, grid;
  bool no_progress = false;
};

void add_pack(CLI::App& app, Cli& c) {
  auto* p = app.add_subcommand("pack", "pack a source into verified HDF5 shards + manifest.json");
  auto& o = c.pack;
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
  p->add_option("--crop", c.crop, "resize-center | center:S | box:CX,CY,S")->capture_default_str();
  p->add_option("--split", o.source.split, "celeba only: all | train | valid | test")
      ->capture_default_str();
  p->add_option("--images-per-shard", o.images_per_shard, "0: about 512 MiB of pixels per shard")
      ->capture_default_str();
  p->add_option("--workers", o.workers,
                "decode threads per rank; 0: the node's cores / ranks per node")
      ->capture_default_str();
  p->add_option("--on-bad-image", c.on_bad_image, "skip (warn, count in 'skipped') | fail (exit 3)")
      ->capture_default_str()
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
  p->add_flag("--no-progress", c.no_progress, "no images/s + ETA line on the terminal");
}

// Every line tagged with this rank; rank 0 on the console, the others' warnings and errors too.
void init_log(const dcgan::distributed::MpiSession& mpi) {
  dcgan::log::LogConfig log_config;
  log_config.rank = mpi.rank();
  log_config.world_size = mpi.world_size();
  dcgan::log::init(log_config);
}

// One command line, parsed and not yet run.
struct Command {
  Cli cli;
  std::string subcommand;  // pack | verify | inspect; empty after --help
  std::string line;        // the whole command line, recorded in the manifest
};

int run_pack(Command& cmd, const dcgan::distributed::MpiSession& mpi) {
  init_log(mpi);
  auto& c = cmd.cli;
  auto& o = c.pack;
  o.crop = dcgan::prep::parse_crop(c.crop);
  o.fail_on_bad_image = c.on_bad_image == "fail";
  o.source.image_size = o.image_size;
  o.progress = !c.no_progress;
  o.command = cmd.line;
  if (o.workers <= 0)
    o.workers = std::max(
        1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, mpi.local_size()));
  dcgan::prep::MpiPackComm comm(mpi);
  dcgan::prep::pack(o, comm);
  return 0;
}

int run_verify(const std::string& dir) {
  const auto problems = dcgan::prep::verify_dataset(dir);
  for (const auto& p : problems) std::printf("FAIL %s\n", p.c_str());
  if (!problems.empty())
    throw dcgan::DataError(
        dcgan::str(dir, ": ", problems.size(), " problem(s), first: ", problems.front()));
  std::printf("OK %s\n", dir.c_str());
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
  auto& c = cmd.cli;
  add_pack(app, c);
  auto* verify =
      app.add_subcommand("verify", "re-read every shard: checksums, counts, sha256, schema");
  verify->add_option("dir", c.dir, "data set directory")->required();
  auto* inspect = app.add_subcommand(
      "inspect", "print the summary; --grid writes an 8x8 PNG of the first 64 images");
  inspect->add_option("dir", c.dir, "data set directory")->required();
  inspect->add_option("--grid", c.grid, "PNG file for the grid");
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
  if (cmd.subcommand == "verify") return run_verify(cmd.cli.dir);
  if (cmd.subcommand == "inspect")
    std::fputs(dcgan::prep::inspect_dataset(cmd.cli.dir, cmd.cli.grid).c_str(), stdout);
  return 0;
}

// Under a launcher: MPI first, then the parse and the run, each agreed on by every rank (Note
// [Errors under mpirun]).
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
