// One evaluation: cached real statistics, the scores, the report.
#include "dcgan/eval/evaluation.h"

#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"

namespace dcgan::eval {
namespace {

// Ten significant digits: the report's precision, in the lines and the JSON alike.
std::string number(double v) {
  std::ostringstream out;
  out << std::setprecision(10) << v;
  return out.str();
}

double rounded(double v) { return std::stod(number(v)); }

}  // namespace

FeatureStats real_statistics(FeatureExtractor& extractor, int64_t n, int64_t batch,
                             const ImageSource& images, distributed::Communicator& comm,
                             const std::string& cache, bool keep_features) {
  FeatureStats stats;
  torch::Tensor hit = torch::zeros({1}, torch::kInt32);
  if (comm.rank() == 0 && !cache.empty() && load_cached_stats(cache, keep_features, &stats))
    hit.fill_(1);
  comm.broadcast(hit, 0);
  if (hit.item<int32_t>() == 1) {
    if (comm.rank() == 0) log::info(str("real statistics from ", cache));
    return stats;  // only rank 0 reports, so only rank 0 needs them
  }
  stats = extract_features(extractor, n, batch, images, comm, keep_features);
  if (comm.rank() == 0 && !cache.empty()) {
    posix::make_dirs(posix::parent_dir(cache));
    save_cached_stats(cache, stats);
    log::info(str("cached the real statistics in ", cache));
  }
  return stats;
}

void score(const FeatureStats& real, const FeatureStats& fake, bool fd, bool kid,
           int64_t kid_subsets, int64_t kid_subset_size, EvalReport* report) {
  report->dim = real.dim();
  if (fd) report->fd = frechet_distance(moments(real), moments(fake));
  if (kid) {
    report->kid = kernel_inception_distance(real.features, fake.features, kid_subsets,
                                            kid_subset_size, static_cast<uint64_t>(report->seed));
  }
}

std::string report_text(const EvalReport& r) {
  std::string text;
  if (r.fd) text += str("FD ", number(*r.fd), "\n");
  if (r.kid) text += str("KID ", number(r.kid->mean), " ± ", number(r.kid->std), "\n");
  return text;
}

std::string report_json(const EvalReport& r) {
  nlohmann::ordered_json json;
  json["real"] = r.real;
  json["real_samples"] = r.real_samples;
  json["fake"] = r.fake;
  json["fake_samples"] = r.fake_samples;
  json["features"] = r.features;
  json["features_sha256"] = r.features_sha256;
  json["dim"] = r.dim;
  json["seed"] = r.seed;
  if (r.fd) json["fd"] = rounded(*r.fd);
  if (r.kid) {
    json["kid"] = rounded(r.kid->mean);
    json["kid_std"] = rounded(r.kid->std);
    json["kid_subsets"] = r.kid->subsets;
    json["kid_subset_size"] = r.kid->subset_size;
  }
  return json.dump() + "\n";
}

}  // namespace dcgan::eval
