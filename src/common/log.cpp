// spdlog set-up: the rank tag in every line, rank 0 on the console, every rank in its own file.
#include "dcgan/common/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace dcgan::log {
namespace {

std::string g_rank_tag = "[r0/1]";
std::mutex g_progress_mutex;
bool g_progress_enabled = false;
bool g_progress_shown = false;

// Erases a progress line before a log line takes its place.
void clear_progress() {
  if (!g_progress_enabled) return;
  std::lock_guard<std::mutex> lock(g_progress_mutex);
  if (g_progress_shown) std::fputs("\r\033[K", stderr);
  g_progress_shown = false;
}

std::string make_rank_tag(int rank, int world_size) {
  const int width = static_cast<int>(std::to_string(std::max(world_size - 1, 0)).size());
  std::string r = std::to_string(rank);
  if (static_cast<int>(r.size()) < width) r.insert(0, width - r.size(), '0');
  return "[r" + r + "/" + std::to_string(world_size) + "]";
}

}  // namespace

void init(const LogConfig& config) {
  g_rank_tag = make_rank_tag(config.rank, config.world_size);
  const char* off = std::getenv("DCGAN_NO_PROGRESS");
  g_progress_enabled = config.rank == 0 &&
                       (config.force_progress || ::isatty(STDERR_FILENO) == 1) &&
                       (off == nullptr || *off == '\0');
  std::vector<spdlog::sink_ptr> sinks;
  // The rank's file comes first and is unbuffered: each line is one write(2) that lands before
  // the console shows it, so a rank that is SIGKILLed or crashes keeps every line it printed,
  // the last ones being those a user needs. Lines come at --log-every, so this costs little.
  if (!config.log_dir.empty()) {
    std::filesystem::create_directories(config.log_dir);
    const auto path = config.log_dir + "/rank-" + std::to_string(config.rank) + ".log";
    spdlog::file_event_handlers unbuffered;
    unbuffered.after_open = [](const spdlog::filename_t&, std::FILE* file) {
      std::setvbuf(file, nullptr, _IONBF, 0);
    };
    sinks.push_back(
        std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false, unbuffered));
  }
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  // Rank 0 prints everything; other ranks only their warnings and errors, so a failing peer is
  // still visible on the launcher's console.
  const bool console_all = config.rank == 0 || config.console_all_ranks;
  console->set_level(console_all ? spdlog::level::trace : spdlog::level::warn);
  sinks.push_back(console);
  auto logger = std::make_shared<spdlog::logger>("dcgan", sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e " + g_rank_tag + " %^%l%$ %v");
  logger->set_level(config.verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void debug(std::string_view message) {
  clear_progress();
  spdlog::debug("{}", message);
}
void info(std::string_view message) {
  clear_progress();
  spdlog::info("{}", message);
}
void warn(std::string_view message) {
  clear_progress();
  spdlog::warn("{}", message);
}
void error(std::string_view message) {
  clear_progress();
  spdlog::error("{}", message);
}

bool progress_enabled() { return g_progress_enabled; }

void progress(std::string_view line) {
  if (!g_progress_enabled) return;
  std::lock_guard<std::mutex> lock(g_progress_mutex);
  std::fputs("\r\033[K", stderr);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  g_progress_shown = true;
}
void flush() { spdlog::default_logger()->flush(); }
const std::string& rank_tag() { return g_rank_tag; }

}  // namespace dcgan::log
