// Files that another process may read are written to a temp name, fsynced, then renamed.
#pragma once

#include <string>
#include <string_view>

namespace dcgan {

// Writes `bytes` to `path` (created or truncated) and fsyncs it. Returns 0, or the errno of the
// first call that failed, the file then maybe partial: the caller names the file and the remedy.
int write_and_fsync(const std::string& path, std::string_view bytes);

// Writes `bytes` to `path` atomically: <path>.tmp.<pid>, fsync, rename, fsync of the directory.
// Throws dcgan::Error naming the path (ENOSPC included); the old file is left intact on failure.
void write_file_atomic(const std::string& path, std::string_view bytes);

// fsync of a file or directory by path; throws naming the path.
void fsync_path(const std::string& path);

// Reads a whole file; throws DataError naming the path when it is missing or unreadable.
std::string read_file(const std::string& path);

}  // namespace dcgan
