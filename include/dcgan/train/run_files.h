// The run directory's outputs besides checkpoints: metrics.jsonl, the console line of the
// tutorial, and the sample grids (samples/step-NNNNNN.png, samples/real.png).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "dcgan/train/image_grid.h"

namespace dcgan::train {

// One logged step: the recipe's stats (already averaged over ranks), then images_per_s (global:
// all ranks together) and each optimizer's lr, in that order.
struct MetricsRecord {
  int64_t epoch = 0;
  int64_t step = 0;
  std::vector<std::pair<std::string, double>> values;
};

// The PyTorch tutorial's console line around the recipe's part: "[e/E][i/N]\t<stats>\t(x img/s)";
// DCGAN's part is "Loss_D: ...\tLoss_G: ...\tD(x): ...\tD(G(z)): a / b".
std::string console_line(int64_t epoch, int64_t epochs, int64_t batch, int64_t batches_per_epoch,
                         const std::string& stats, double images_per_s);

// Appends to <run>/metrics.jsonl. On resume, lines of steps after `resume_step` (written after
// the checkpoint by an interrupted run) are dropped first, so the file has each step once.
class MetricsLog {
 public:
  MetricsLog(const std::string& path, int64_t resume_step);
  ~MetricsLog() noexcept;
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void append(const MetricsRecord& record);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Renders float [-1, 1] NCHW images as the grid with 2-pixel padding (save_image's mapping) into
// a PNG, written atomically, `nrow` images per row.
PngImage write_grid_png(const torch::Tensor& images, const std::string& path,
                        int64_t nrow = kGridColumns);

// "<prefix>-000123": the one way a step is numbered in a name (checkpoint directories, grids).
std::string numbered_name(const std::string& prefix, int64_t step);

// "step-000123": checkpoint directories and samples/step-NNNNNN.png.
std::string step_name(int64_t step);

}  // namespace dcgan::train
