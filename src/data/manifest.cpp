// manifest.json: writing, parsing and validation (before anything is allocated from it).
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/data/dataset.h"
#include "dcgan/data/schema.h"

namespace dcgan::data {
namespace schema {
namespace {

using nlohmann::json;

const json& member(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw DataError(str(where, ": missing field '", key, "'"));
  return j.at(key);
}

template <class T>
T field(const json& j, const char* key, const std::string& where) {
  const json& v = member(j, key, where);
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    throw DataError(str(where, ": field '", key, "' has the wrong type"));
  }
}

void check_range(int64_t value, int64_t lo, int64_t hi, const char* key, const std::string& where) {
  if (value < lo || value > hi)
    throw DataError(
        str(where, ": field '", key, "' = ", value, " is outside [", lo, ", ", hi, "]"));
}

// An integer field: a JSON integer (not 5.0, 1e40 or "5") inside [lo, hi]. nlohmann's
// get<int64_t>() casts a float, or an unsigned above INT64_MAX, without a check (a float out of
// range is undefined behaviour), so the type and the range are checked here before any narrowing.
int64_t int_field(const json& j, const char* key, int64_t lo, int64_t hi,
                  const std::string& where) {
  const json& v = member(j, key, where);
  if (!v.is_number_integer())
    throw DataError(str(where, ": field '", key, "' has the wrong type (expected an integer)"));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    throw DataError(str(where, ": field '", key, "' = ", v.get<uint64_t>(), " is outside [", lo,
                        ", ", hi, "]"));
  const int64_t value = v.get<int64_t>();
  check_range(value, lo, hi, key, where);
  return value;
}

ShardEntry parse_shard(const json& j, const std::string& where) {
  static const std::regex kName("shard-[0-9]{5,}\\.h5");
  static const std::regex kHex("[0-9a-f]{64}");
  ShardEntry e;
  e.file = field<std::string>(j, "file", where);
  if (!std::regex_match(e.file, kName))
    throw DataError(str(where, ": shard file name '", e.file, "' is not shard-NNNNN.h5"));
  e.count = int_field(j, "count", 0, kMaxShardImages, where + " (" + e.file + ")");
  e.bytes = int_field(j, "bytes", 1, int64_t{1} << 50, where + " (" + e.file + ")");
  e.sha256 = field<std::string>(j, "sha256", where);
  if (!std::regex_match(e.sha256, kHex))
    throw DataError(str(where, ": shard ", e.file, " has a malformed sha256"));
  return e;
}

// What the fields cannot say one at a time (their ranges are checked as they are read).
void validate(const Manifest& m, const std::string& where) {
  if (m.channels != 1 && m.channels != 3)
    throw DataError(str(where, ": field 'channels' = ", m.channels, " (expected 1 or 3)"));
  if (m.shards.empty()) throw DataError(str(where, ": no shards"));
  if (static_cast<int64_t>(m.shards.size()) > kMaxShards)
    throw DataError(str(where, ": too many shards (", m.shards.size(), ")"));
  if (m.attr_names.size() > static_cast<size_t>(kMaxAttrs))
    throw DataError(str(where, ": too many attr_names (", m.attr_names.size(), ")"));
  int64_t sum = 0;
  for (const auto& s : m.shards) sum += s.count;
  if (sum != m.total)
    throw DataError(str(where, ": shard counts add up to ", sum, " but total is ", m.total));
}

}  // namespace

std::string shard_file_name(int64_t shard_idx) {
  char name[32];
  std::snprintf(name, sizeof(name), "shard-%05lld.h5", static_cast<long long>(shard_idx));
  return name;
}

std::string manifest_to_json(const Manifest& m) {
  json shards = json::array();
  for (const auto& s : m.shards)
    shards.push_back(
        {{"file", s.file}, {"count", s.count}, {"bytes", s.bytes}, {"sha256", s.sha256}});
  const json j = {{"schema_version", m.schema_version},
                  {"shards", shards},
                  {"total", m.total},
                  {"size", m.image_size},
                  {"channels", m.channels},
                  {"attr_names", m.attr_names},
                  {"skipped", m.skipped},
                  {"source", m.source},
                  {"crop", m.crop},
                  {"command", m.command},
                  {"tool_version", m.tool_version}};
  return j.dump(2) + "\n";
}

Manifest manifest_from_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw DataError(str(where, ": not valid JSON (", e.what(), ")"));
  }
  if (!j.is_object()) throw DataError(str(where, ": not a JSON object"));
  Manifest m;
  const int64_t version = int_field(j, "schema_version", std::numeric_limits<int64_t>::min(),
                                    std::numeric_limits<int64_t>::max(), where);
  if (version != kSchemaVersion)
    throw DataError(str(where, ": schema_version ", version, " is not supported (this build ",
                        "reads ", kSchemaVersion, ")"));
  m.schema_version = kSchemaVersion;
  m.image_size = static_cast<int>(int_field(j, "size", 1, kMaxImageSize, where));
  m.channels = static_cast<int>(int_field(j, "channels", 1, 3, where));
  m.total = int_field(j, "total", 1, kMaxTotalImages, where);
  m.skipped = int_field(j, "skipped", 0, kMaxTotalImages, where);
  m.attr_names = field<std::vector<std::string>>(j, "attr_names", where);
  m.source = field<std::string>(j, "source", where);
  m.crop = field<std::string>(j, "crop", where);
  m.command = field<std::string>(j, "command", where);
  m.tool_version = field<std::string>(j, "tool_version", where);
  const auto shards = field<json>(j, "shards", where);
  if (!shards.is_array()) throw DataError(str(where, ": field 'shards' is not a list"));
  if (static_cast<int64_t>(shards.size()) > kMaxShards)
    throw DataError(str(where, ": too many shards (", shards.size(), ")"));
  for (const auto& s : shards) m.shards.push_back(parse_shard(s, where));
  validate(m, where);
  return m;
}

}  // namespace schema

Manifest read_manifest(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  std::FILE* probe = std::fopen(path.c_str(), "rb");
  if (probe == nullptr)
    throw DataError(str("'", dir, "' is not a packed data set: ", path, " is missing (HINT: run ",
                        "dcgan-prep pack; an interrupted pack leaves no manifest)"));
  std::fclose(probe);
  return schema::manifest_from_json(read_file(path), path);
}

}  // namespace dcgan::data
