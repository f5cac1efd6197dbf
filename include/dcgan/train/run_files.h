// The run directory's outputs besides checkpoints: metrics.jsonl, the console line of the
// tutorial, and the sample grids (samples/step-NNNNNN.png, samples/real.png).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <torch/torch.h>

namespace dcgan::train {

// One logged step: every value already averaged over ranks.
struct MetricsRecord {
  int64_t epoch = 0;
  int64_t step = 0;
  double loss_d = 0, loss_g = 0, d_x = 0, d_g_z1 = 0, d_g_z2 = 0;
  double images_per_s = 0;  // global: all ranks together
  double lr_d = 0, lr_g = 0;
};

// The JSON object of one record, one line, fields in the order above (non-finite -> null).
std::string metrics_json(const MetricsRecord& record);

// The PyTorch tutorial's console line: "[e/E][i/N]\tLoss_D: ...\tLoss_G: ...\tD(x): ...\tD(G(z)): a
// / b".
std::string console_line(const MetricsRecord& record, int64_t epochs, int64_t batch,
                         int64_t batches_per_epoch);

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

// Renders float [-1, 1] NCHW images as the 8-wide grid with 2-pixel padding (save_image's
// mapping) into a PNG, written atomically.
void write_grid_png(const torch::Tensor& images, const std::string& path);

// samples/step-NNNNNN.png
// "step-000123": the one name of a step, for checkpoint directories and sample grids.
std::string step_name(int64_t step);

std::string sample_path(const std::string& run_dir, int64_t step);

}  // namespace dcgan::train
