// TensorBoard event files: the records TensorBoard's readers take (a little-endian uint64 length,
// its masked CRC32C, the serialised Event, its masked CRC32C), with the events encoded by
// Protocol Buffers from the project's tensorboard.proto. Knows no torch and no training: the
// trainer hands it tags, steps, values and PNG bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace dcgan::tensorboard {

// CRC-32C (Castagnoli), as TFRecord framing uses it, continuing from `crc`.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// The masked form stored in a record: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

class EventWriter {
 public:
  // Opens a new file events.out.tfevents.<unix seconds>.<host>.<pid> in `dir` (made if missing)
  // and writes its file-version event. Throws Error naming the file when it cannot be written.
  explicit EventWriter(const std::string& dir);
  ~EventWriter() noexcept;
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // One scalar (stored as float32, as TensorBoard keeps it).
  void add_scalar(const std::string& tag, int64_t step, double value, double wall_time);
  // One PNG image of width x height pixels with `channels` 1 or 3.
  void add_image(const std::string& tag, int64_t step, const std::string& png, int width,
                 int height, int channels, double wall_time);
  // A SessionLog START at `step`: TensorBoard then drops every event at or after `step` that an
  // earlier writer of the same run left (what a resume from step - 1 needs).
  void start_session(int64_t step, double wall_time);
  // Pushes the written records to the file (no fsync: a lost tail is re-purged on resume).
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event_bytes);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// Seconds since the epoch, as events' wall_time.
double wall_time_now();

}  // namespace dcgan::tensorboard
