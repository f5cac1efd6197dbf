// Statuses of ranks and of the job: pack's agreement at its end and dcgan-prep's under mpirun.
#include "rank_status.h"

#include <algorithm>

#include "dcgan/common/errors.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"

namespace dcgan::prep {
namespace {

using nlohmann::json;

// The ranks that failed with one message, and the earliest shard among theirs (-1: none).
struct ErrorGroup {
  json status;
  std::vector<int> ranks;
  int64_t shard = -1;
};

std::vector<ErrorGroup> group_errors(const std::vector<json>& by_rank) {
  std::vector<ErrorGroup> groups;
  for (size_t r = 0; r < by_rank.size(); ++r) {
    const json& s = by_rank[r];
    if (s.value("code", 0) == 0) continue;
    const int64_t shard = s.value("shard", int64_t{-1});
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const ErrorGroup& g) { return g.status["error"] == s["error"]; });
    if (same == groups.end()) {
      groups.push_back({s, {static_cast<int>(r)}, shard});
      continue;
    }
    same->ranks.push_back(static_cast<int>(r));
    same->shard = std::min(same->shard, shard);
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const ErrorGroup& a, const ErrorGroup& b) { return a.shard < b.shard; });
  return groups;
}

// Each line of the group's message, prefixed with its ranks unless all `world` ranks hit it.
std::string group_lines(const ErrorGroup& g, size_t world) {
  const std::string message = g.status.value("error", std::string("unknown error"));
  if (g.ranks.size() == world) return message;
  const std::string prefix = rank_list(g.ranks) + ": ";
  std::string out = prefix;
  for (const char c : message) out += c == '\n' ? "\n" + prefix : std::string(1, c);
  return out;
}

}  // namespace

json error_status(int code, const std::string& message) {
  return {{"code", code}, {"error", message}};
}

json run_guarded_json(const std::function<json()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    return error_status(static_cast<int>(e.code()), e.what());
  } catch (const std::exception& e) {
    return error_status(static_cast<int>(ExitCode::kRuntime), e.what());
  }
}

void throw_status(const json& status) {
  const int code = status.value("code", 0);
  if (code == 0) return;
  const std::string message = status.value("error", std::string("unknown error"));
  if (code == static_cast<int>(ExitCode::kUsage)) throw UsageError(message);
  if (code == static_cast<int>(ExitCode::kData)) throw DataError(message);
  throw Error(message);
}

std::vector<json> parse_statuses(const std::vector<std::string>& parts) {
  std::vector<json> by_rank;
  for (const auto& p : parts) by_rank.push_back(json::parse(p));
  return by_rank;
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    out += str(i > 0 ? "," : "", ranks[i]);
    if (j > i) out += str(j > i + 1 ? "-" : ",", ranks[j]);
    i = j + 1;
  }
  return out;
}

json merge_statuses(const std::vector<json>& by_rank) {
  const auto groups = group_errors(by_rank);
  if (groups.empty()) return {{"code", 0}};
  std::string lines;
  for (size_t i = 0; i < groups.size() && i < kMaxErrorLines; ++i)
    lines += (i > 0 ? "\n" : "") + group_lines(groups[i], by_rank.size());
  if (groups.size() > kMaxErrorLines)
    lines += str("\nand ", groups.size() - kMaxErrorLines, " more distinct error(s)");
  return error_status(groups.front().status.value("code", 1), lines);
}

int run_guarded_on_ranks(const char* tool, PackComm& comm, const std::function<int()>& body) {
  const json mine = run_guarded_json([&] { return json{{"code", body()}}; });
  const auto parts = comm.gather(mine.dump());
  json job;
  if (comm.rank() == 0) {
    job = merge_statuses(parse_statuses(parts));
    if (job["code"] != 0) report_error(tool, job["error"].get<std::string>());
  }
  // The release: no rank exits before rank 0 printed.
  job = json::parse(comm.broadcast(job.dump()));
  return job["code"].get<int>();
}

}  // namespace dcgan::prep
