// dcgan-prep: pack | verify | inspect. Parses flags into PackOptions, sets up MPI and logging for
// pack, and maps errors to exit codes through run_guarded.
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
#include "verify.h"

namespace {

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

int run_pack(Cli& c, int* argc, char*** argv, const std::string& command) {
  dcgan::distributed::MpiSession mpi(argc, argv);
  dcgan::log::LogConfig log_config;
  log_config.rank = mpi.rank();
  log_config.world_size = mpi.world_size();
  dcgan::log::init(log_config);
  auto& o = c.pack;
  o.crop = dcgan::prep::parse_crop(c.crop);
  o.fail_on_bad_image = c.on_bad_image == "fail";
  o.source.image_size = o.image_size;
  o.progress = !c.no_progress;
  o.command = command;
  if (o.workers <= 0)
    o.workers = std::max(
        1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, mpi.local_size()));
  dcgan::prep::MpiPackComm comm(mpi.rank(), mpi.world_size());
  dcgan::prep::pack(o, comm);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  return dcgan::run_guarded("dcgan-prep", [&]() -> int {
    CLI::App app{
        "dcgan-prep: pack CelebA, image folders, IDX files or synthetic images into verified "
        "HDF5 shards; verify and inspect them. Exit codes: 0 ok, 1 runtime, 2 usage, 3 data."};
    dcgan::cli::set_defaults(app);
    app.set_config("--config", "", "read options from a TOML/INI file (pack options under [pack])");
    app.require_subcommand(1);
    Cli c;
    add_pack(app, c);
    auto* verify =
        app.add_subcommand("verify", "re-read every shard: checksums, counts, sha256, schema");
    verify->add_option("dir", c.dir, "data set directory")->required();
    auto* inspect = app.add_subcommand(
        "inspect", "print the summary; --grid writes an 8x8 PNG of the first 64 images");
    inspect->add_option("dir", c.dir, "data set directory")->required();
    inspect->add_option("--grid", c.grid, "PNG file for the grid");
    if (const auto code = dcgan::cli::parse(app, argc, argv, "dcgan-prep")) return *code;
    dcgan::log::init({});
    if (app.got_subcommand("pack")) return run_pack(c, &argc, &argv, command);
    if (app.got_subcommand("verify")) {
      const auto problems = dcgan::prep::verify_dataset(c.dir);
      for (const auto& p : problems) std::printf("FAIL %s\n", p.c_str());
      if (!problems.empty())
        throw dcgan::DataError(
            dcgan::str(c.dir, ": ", problems.size(), " problem(s), first: ", problems.front()));
      std::printf("OK %s\n", c.dir.c_str());
      return 0;
    }
    std::fputs(dcgan::prep::inspect_dataset(c.dir, c.grid).c_str(), stdout);
    return 0;
  });
}
