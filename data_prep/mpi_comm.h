// PackComm over MPI_COMM_WORLD (the only raw MPI in dcgan-prep; calls wrapped in MPI_CHECK).
#pragma once

#include "pack.h"

namespace dcgan::prep {

class MpiPackComm : public PackComm {
 public:
  MpiPackComm(int rank, int world_size) : rank_(rank), world_size_(world_size) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string broadcast(const std::string& value) override;
  std::vector<std::string> gather(const std::string& value) override;

 private:
  int rank_;
  int world_size_;
};

}  // namespace dcgan::prep
