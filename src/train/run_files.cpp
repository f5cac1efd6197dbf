// metrics.jsonl, the console line and sample grids.
#include "dcgan/train/run_files.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"
#include "dcgan/train/image_grid.h"

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

// The JSON object of one record, one line: epoch, step, then the values in order (non-finite ->
// null). DCGAN: loss_d, loss_g, d_x, d_g_z1, d_g_z2, images_per_s, lr_d, lr_g.
std::string metrics_json(const MetricsRecord& r) {
  std::string json = str("{\"epoch\": ", r.epoch, ", \"step\": ", r.step);
  for (const auto& [key, value] : r.values) json += str(", \"", key, "\": ", number(value));
  return json + "}";
}

}  // namespace

std::string console_line(int64_t epoch, int64_t epochs, int64_t batch, int64_t batches_per_epoch,
                         const std::string& stats, double images_per_s) {
  std::ostringstream out;
  out << "[" << epoch << "/" << epochs << "][" << batch << "/" << batches_per_epoch << "]\t"
      << stats << std::fixed << std::setprecision(1) << "\t(" << images_per_s << " img/s)";
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

PngImage write_grid_png(const torch::Tensor& images, const std::string& path, int64_t nrow) {
  posix::make_dirs(posix::parent_dir(path));
  return save_grid_png(images.detach().cpu(), path, nrow);
}

std::string numbered_name(const std::string& prefix, int64_t step) {
  std::ostringstream out;
  out << prefix << "-" << std::setw(6) << std::setfill('0') << step;
  return out.str();
}

std::string step_name(int64_t step) { return numbered_name("step", step); }

}  // namespace dcgan::train
