// Integrity: every file's size and sha256 against checkpoint.toml, and checkpoint.toml against its
// own last line. Format 1 had no checksums: it loads, unverified.
#include "integrity.h"

#include <sys/stat.h>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "format.h"

namespace dcgan::train {
namespace {

CheckpointCheck damaged(std::string problem) {
  return {CheckpointCheck::kDamaged, std::move(problem)};
}

// An info file without its checksum line: format 1 (written before checksums existed, loadable
// but unverified), or a format-2 file cut short or stripped (damaged).
CheckpointCheck check_without_checksum(const std::string& ckpt_dir, const std::string& info_path,
                                       const std::string& text) {
  if (text.find("\nsha256_") != std::string::npos) return damaged(str(info_path, " is truncated"));
  if (text.find("\nformat_version = 1\n") == std::string::npos &&
      text.rfind("format_version = 1\n", 0) != 0) {
    return damaged(str(info_path, " has no checksums, which every format-2 checkpoint has"));
  }
  return {CheckpointCheck::kUnverified,
          str(ckpt_dir, " has no checksums (written by an older dcgan-train)")};
}

// One file against the size and sha256 checkpoint.toml records for `stem`; "" when it matches.
std::string file_problem(const toml::table& values, const std::string& info_path,
                         const std::string& path, const std::string& stem,
                         const std::string& file) {
  const auto size = values[str("bytes_", stem)].value_exact<int64_t>();
  const auto sha = values[str("sha256_", stem)].value_exact<std::string>();
  if (!size || !sha) return str(info_path, " records no checksum of ", file);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return str(path, " is missing");
  if (static_cast<int64_t>(st.st_size) != *size) {
    return str(path, " is ", st.st_size, " bytes, but ", *size,
               " were written (truncated or overwritten)");
  }
  try {
    if (sha256_file(path) != *sha) return str(path, " does not match its sha256 (damaged bytes)");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

CheckpointCheck verify_checkpoint(const std::string& ckpt_dir) {
  const std::string info_path = ckpt_dir + "/" + checkpoint::kInfoFile;
  if (!posix::exists(info_path)) return damaged(str(info_path, " is missing"));
  std::string text;
  try {
    text = read_file(info_path);
  } catch (const Error& e) {
    return damaged(e.what());
  }
  const std::string self_key = str("\n", checkpoint::kSelfChecksumKey, " = \"");
  const size_t self_at = text.rfind(self_key);
  if (self_at == std::string::npos) return check_without_checksum(ckpt_dir, info_path, text);
  const std::string recorded = text.substr(self_at + self_key.size(), 64);
  if (sha256_hex(std::string_view(text).substr(0, self_at + 1)) != recorded) {
    return damaged(str(info_path, " does not match its own checksum (damaged)"));
  }
  toml::table values;
  checkpoint::Entries entries;
  try {
    values = checkpoint::read_info_table(info_path);
    entries = checkpoint::entries_of(values, info_path);
  } catch (const Error& e) {
    return damaged(e.what());
  }
  for (const auto& [stem, file] : checkpoint::checked_files(entries)) {
    const std::string problem = file_problem(values, info_path, ckpt_dir + "/" + file, stem, file);
    if (!problem.empty()) return damaged(problem);
  }
  return {CheckpointCheck::kIntact, ""};
}

namespace checkpoint {

void note_unverified(const CheckpointCheck& check) {
  if (check.status == CheckpointCheck::kUnverified)
    log::info(str(check.problem, "; it could not be verified"));
}

void require_intact(const std::string& ckpt_dir) {
  const CheckpointCheck check = verify_checkpoint(ckpt_dir);
  if (check.status == CheckpointCheck::kDamaged) {
    throw DataError(
        str("damaged checkpoint: ", check.problem, " HINT: use another step directory of the run"));
  }
  note_unverified(check);
}

}  // namespace checkpoint
}  // namespace dcgan::train
