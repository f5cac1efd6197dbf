// TensorBoard event records (see event_writer.h).
#include "dcgan/tensorboard/event_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "tensorboard.pb.h"

namespace dcgan::tensorboard {
namespace {

constexpr uint32_t kCastagnoli = 0x82F63B78;  // reflected polynomial

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCastagnoli : c >> 1;
    table[i] = c;
  }
  return table;
}

void make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw Error(str("cannot create ", dir, ": ", std::strerror(errno)));
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventWriter::EventWriter(const std::string& dir) {
  make_dir(dir);
  const auto seconds = static_cast<long long>(wall_time_now());
  path_ = str(dir, "/events.out.tfevents.", seconds, ".", host_name(), ".", ::getpid());
  file_ = std::fopen(path_.c_str(), "ab");
  if (file_ == nullptr) throw Error(str("cannot write ", path_, ": ", std::strerror(errno)));
  proto::Event event;
  event.set_wall_time(wall_time_now());
  event.set_file_version("brain.Event:2");
  write_record(event.SerializeAsString());
  flush();
}

EventWriter::~EventWriter() noexcept {
  if (file_ != nullptr) std::fclose(file_);
}

void EventWriter::add_scalar(const std::string& tag, int64_t step, double value, double wall_time) {
  proto::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  proto::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(event.SerializeAsString());
}

void EventWriter::add_image(const std::string& tag, int64_t step, const std::string& png, int width,
                            int height, int channels, double wall_time) {
  proto::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  proto::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  proto::Summary::Image* image = v->mutable_image();
  image->set_width(width);
  image->set_height(height);
  image->set_colorspace(channels);
  image->set_encoded_image_string(png);
  write_record(event.SerializeAsString());
}

void EventWriter::start_session(int64_t step, double wall_time) {
  proto::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  event.mutable_session_log()->set_status(proto::SessionLog::START);
  write_record(event.SerializeAsString());
  flush();
}

void EventWriter::flush() {
  if (std::fflush(file_) != 0) throw Error(str("cannot write ", path_, ": ", std::strerror(errno)));
}

void EventWriter::write_record(const std::string& event_bytes) {
  std::string record;
  record.reserve(event_bytes.size() + 16);
  std::string length;
  put_u64(length, event_bytes.size());
  record += length;
  put_u32(record, masked_crc32c(length.data(), length.size()));
  record += event_bytes;
  put_u32(record, masked_crc32c(event_bytes.data(), event_bytes.size()));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    throw Error(str("cannot write ", path_, ": ", std::strerror(errno)));
}

}  // namespace dcgan::tensorboard
