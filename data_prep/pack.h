// `dcgan-prep pack`: source -> transform -> shards + manifest. Shard s holds source items
// [s*K, (s+1)*K) minus the skipped ones, so the output does not depend on workers or ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/data/dataset.h"
#include "sources.h"
#include "transform.h"

namespace dcgan::prep {

struct PackOptions {
  SourceOptions source;
  std::string out;
  int image_size = 64;  // side length of the packed images (--size)
  int channels = 3;
  CropSpec crop;
  int64_t images_per_shard = 0;  // 0: about 512 MiB of pixels per shard
  int workers = 0;               // 0: all cores of this rank's share of the node
  bool fail_on_bad_image = false;
  bool overwrite = false;
  int chunk_images = 1;           // images per HDF5 chunk (and Fletcher32 checksum)
  bool jpeg_dct_scaling = false;  // decode JPEGs at 1/2 or 1/4 in the DCT domain when it fits
  bool progress = true;           // images/s and ETA on a terminal
  std::string command;            // recorded in the manifest
};

// How ranks talk during pack; MpiPackComm (mpi_comm.h) under mpirun, tests use LocalComm.
class PackComm {
 public:
  virtual ~PackComm() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Rank 0's `value` on every rank.
  virtual std::string broadcast(const std::string& value) = 0;
  // Every rank's `value`, in rank order, on rank 0 (empty elsewhere).
  virtual std::vector<std::string> gather(const std::string& value) = 0;
};

class LocalComm : public PackComm {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string broadcast(const std::string& value) override { return value; }
  std::vector<std::string> gather(const std::string& value) override { return {value}; }
};

struct PackSummary {
  int64_t written = 0;
  int64_t skipped = 0;
  int64_t bytes = 0;
  double seconds = 0;
};

// Packs on every rank of `comm`; rank 0 writes the manifest last (atomically). Every rank
// returns the same summary or throws the same error (DataError exit 3, UsageError exit 2), whose
// message holds each rank's distinct error once (merge_statuses in rank_status.h).
PackSummary pack(const PackOptions& options, PackComm& comm);

// Default K for --images-per-shard 0.
int64_t default_images_per_shard(int image_size, int channels);

}  // namespace dcgan::prep
