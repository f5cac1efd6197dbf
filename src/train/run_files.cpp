// metrics.jsonl, the console line and sample grids.
#include "dcgan/train/run_files.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/train/image_grid.h"
#include "posix_fs.h"

namespace dcgan::train {
namespace {

std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  std::ostringstream out;
  out << std::setprecision(9) << value;
  return out.str();
}

// The "step" field of a metrics line, or -1.
int64_t step_of_line(const std::string& line) {
  const size_t at = line.find("\"step\": ");
  return at == std::string::npos ? -1 : std::atoll(line.c_str() + at + 8);
}

}  // namespace

std::string metrics_json(const MetricsRecord& r) {
  return str("{\"epoch\": ", r.epoch, ", \"step\": ", r.step, ", \"loss_d\": ", number(r.loss_d),
             ", \"loss_g\": ", number(r.loss_g), ", \"d_x\": ", number(r.d_x),
             ", \"d_g_z1\": ", number(r.d_g_z1), ", \"d_g_z2\": ", number(r.d_g_z2),
             ", \"images_per_s\": ", number(r.images_per_s), ", \"lr_d\": ", number(r.lr_d),
             ", \"lr_g\": ", number(r.lr_g), "}");
}

std::string console_line(const MetricsRecord& r, int64_t epochs, int64_t batch,
                         int64_t batches_per_epoch) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4) << "[" << r.epoch << "/" << epochs << "][" << batch
      << "/" << batches_per_epoch << "]\tLoss_D: " << r.loss_d << "\tLoss_G: " << r.loss_g
      << "\tD(x): " << r.d_x << "\tD(G(z)): " << r.d_g_z1 << " / " << r.d_g_z2
      << std::setprecision(1) << "\t(" << r.images_per_s << " img/s)";
  return out.str();
}

MetricsLog::MetricsLog(const std::string& path, int64_t resume_step) : path_(path) {
  if (resume_step > 0 && posix::exists(path)) {
    std::istringstream in(read_file(path));
    std::string kept;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && step_of_line(line) <= resume_step) kept += line + "\n";
    }
    write_file_atomic(path, kept);
  } else if (resume_step == 0) {
    write_file_atomic(path, "");
  }
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) throw Error(str("cannot open ", path, ": ", std::strerror(errno)));
}

MetricsLog::~MetricsLog() noexcept {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsLog::append(const MetricsRecord& record) {
  const std::string line = metrics_json(record) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    throw Error(str("cannot write ", path_, ": ", std::strerror(errno)));
  }
}

void write_grid_png(const torch::Tensor& images, const std::string& path) {
  posix::make_dirs(posix::parent_dir(path));
  save_grid_png(images.detach().cpu(), path);
}

std::string step_name(int64_t step) {
  std::ostringstream out;
  out << "step-" << std::setw(6) << std::setfill('0') << step;
  return out.str();
}

std::string sample_path(const std::string& run_dir, int64_t step) {
  return str(run_dir, "/samples/", step_name(step), ".png");
}

}  // namespace dcgan::train
