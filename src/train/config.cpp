// TrainConfig validation and its config.toml round trip through toml++. The option table
// (option_table, options.cpp) drives the writer, the reader and the start-up table, so a new
// option cannot be forgotten in one.
#include "dcgan/train/config.h"

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <vector>

#include <toml++/toml.h>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/models/registry.h"

namespace dcgan::train {
namespace {

template <class Visit>
void for_each_shape_field(RunShape& s, Visit&& visit) {
  visit("image-size", s.image_size);
  visit("channels", s.channels);
  visit("world-size", s.world_size);
  visit("device", s.device);
}

// The start-up table's values: the shortest decimal that reads back to the same double.
std::string format_double(double value) {
  for (int precision = 6; precision <= 17; ++precision) {
    std::ostringstream out;
    out << std::setprecision(precision) << value;
    if (std::strtod(out.str().c_str(), nullptr) == value) {
      std::string text = out.str();
      if (text.find_first_of(".eEn") == std::string::npos) text += ".0";  // TOML float
      return text;
    }
  }
  return std::to_string(value);
}

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string format_value(const std::string& v) { return quote(v); }
std::string format_value(int64_t v) { return std::to_string(v); }
std::string format_value(double v) { return format_double(v); }
std::string format_value(bool v) { return v ? "true" : "false"; }

[[noreturn]] void bad_value(const std::string& origin, const std::string& key,
                            const toml::node& node, const char* expected) {
  std::ostringstream got;
  got << node.type();
  throw UsageError(str(origin, ":", node.source().begin.line, ": '", key, "' expects ", expected,
                       ", got a ", got.str()));
}

// One TOML value into a field of that type (an integer also fills a floating-point field).
void read_value(const toml::node& node, std::string* out, const std::string& origin,
                const std::string& key) {
  if (const auto v = node.value_exact<std::string>()) return void(*out = *v);
  bad_value(origin, key, node, "a string");
}
void read_value(const toml::node& node, int64_t* out, const std::string& origin,
                const std::string& key) {
  if (const auto v = node.value_exact<int64_t>()) return void(*out = *v);
  bad_value(origin, key, node, "an integer");
}
void read_value(const toml::node& node, double* out, const std::string& origin,
                const std::string& key) {
  if (node.is_number()) return void(*out = *node.value<double>());
  bad_value(origin, key, node, "a number");
}
void read_value(const toml::node& node, bool* out, const std::string& origin,
                const std::string& key) {
  if (const auto v = node.value_exact<bool>()) return void(*out = *v);
  bad_value(origin, key, node, "true or false");
}

[[noreturn]] void unknown_key(const std::string& origin, const toml::node& node,
                              const std::string& key) {
  throw UsageError(str(origin, ":", node.source().begin.line, ": unknown key '", key, "'"));
}

// Sets every option named in `table`; unknown keys (and per-invocation options) are refused.
void read_options(const toml::table& table, TrainConfig* config, const std::string& origin) {
  auto options = option_table(*config);
  for (auto&& [key, node] : table) {
    if (node.is_table()) continue;  // the caller reads sub-tables
    const auto row = std::find_if(options.begin(), options.end(), [&](const auto& option) {
      return option.first.saved && option.first.name == key.str();
    });
    if (row == options.end()) unknown_key(origin, node, std::string(key.str()));
    std::visit([&](auto* field) { read_value(node, field, origin, row->first.name); }, row->second);
  }
}

// Sets every [run] field named in `table`; unknown keys are refused.
void read_shape(const toml::table& table, RunShape* shape, const std::string& origin) {
  for (auto&& [key, node] : table) {
    bool found = false;
    for_each_shape_field(*shape, [&](const char* name, auto& field) {
      if (key.str() != name) return;
      read_value(node, &field, origin, name);
      found = true;
    });
    if (!found) unknown_key(origin, node, std::string(key.str()));
  }
}

void require(bool ok, const std::string& option, const std::string& why) {
  if (!ok) throw UsageError(str("--", option, " ", why));
}

// Every option with a fixed set of values holds one of them.
void require_choices(const TrainConfig& config) {
  TrainConfig copy = config;
  for (const auto& [spec, field] : option_table(copy)) {
    if (spec.choices.empty()) continue;
    const std::string& value = *std::get<std::string*>(field);
    const bool known =
        std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end();
    require(known, spec.name, str("must be ", or_list(spec.choices), ", got '", value, "'"));
  }
}

}  // namespace

void resolve_model_defaults(TrainConfig* c) {
  const models::ModelSpec* spec = models::find_model(c->model);
  if (spec == nullptr) return;  // validate_config refuses it
  if (is_model_default(c->lr)) c->lr = spec->lr;
  if (is_model_default(c->beta1)) c->beta1 = spec->beta1;
}

models::NetOptions net_options(const TrainConfig& config, const RunShape& shape) {
  models::NetOptions options;
  options.nz = config.nz;
  options.ngf = config.ngf;
  options.ndf = config.ndf;
  options.channels = shape.channels;
  options.image_size = shape.image_size;
  return options;
}

void validate_config(const TrainConfig& c) {
  require(!c.data.empty(), "data", "is required");
  require(!c.out.empty(), "out", "is required");
  require_choices(c);  // --model, --precision, --device, ...: one of the table's values
  require(c.nz > 0 && c.ngf > 0 && c.ndf > 0, "nz/--ngf/--ndf", "must be positive");
  require(c.batch_size > 0, "batch-size", str("must be positive, got ", c.batch_size));
  require(c.epochs > 0 || c.steps > 0, "epochs", "or --steps must be positive");
  require(c.steps >= 0, "steps", "must not be negative");
  require(c.time_limit >= 0, "time-limit", str("must not be negative, got ", c.time_limit));
  // kModelDefault stands for the model's value (resolve_model_defaults).
  require(c.lr > 0 || is_model_default(c.lr), "lr", "must be positive");
  require(
      (is_model_default(c.beta1) || (c.beta1 >= 0 && c.beta1 < 1)) && c.beta2 >= 0 && c.beta2 < 1,
      "beta1/--beta2", "must be in [0, 1)");
  require(c.real_label > 0 && c.real_label <= 1, "real-label", "must be in (0, 1]");
  require(c.beta >= 0, "beta", str("must not be negative, got ", c.beta));
  require(c.ema_halflife_kimg >= 0, "ema-halflife-kimg",
          str("must not be negative (0 = no EMA), got ", c.ema_halflife_kimg));
  require(c.log_every > 0, "log-every", "must be positive");
  require(c.sample_every > 0, "sample-every", "must be positive");
  require(c.ckpt_every > 0, "ckpt-every", "must be positive");
  require(c.keep > 0, "keep", "must be at least 1");
  require(c.eval_every >= 0, "eval-every", "must not be negative (0 = never)");
  require(c.eval_every == 0 || c.eval_every % c.log_every == 0, "eval-every",
          str("must be a multiple of --log-every (", c.log_every, "), got ", c.eval_every));
  require(c.eval_every == 0 || !c.eval_features.empty(), "eval-every",
          "needs --eval-features (a TorchScript feature extractor)");
  require(c.eval_samples >= 2, "eval-samples", str("must be at least 2, got ", c.eval_samples));
  require(c.threads >= 0, "threads", "must not be negative");
  require(c.bucket_mb > 0, "bucket-mb", "must be positive");
  require(c.check_every >= 0, "check-every", "must not be negative");
  require(c.sync_every >= 0, "sync-every", "must not be negative (0 = by device)");
  if (c.cuda_graph) {  // what would put a host read or a host-side input into the captured step
    require(c.data_on_device, "cuda-graph",
            "needs --data-on-device (the graph's inputs and noise live on the GPU)");
    require(c.optimizer == "fused", "cuda-graph",
            "needs --optimizer fused (libtorch's Adam reads its step on the host)");
    require(!c.check_nan, "cuda-graph",
            "and --check-nan exclude each other (host reads per phase)");
    require(!c.detect_anomaly, "cuda-graph",
            "and --detect-anomaly exclude each other (host reads per phase)");
    require(!c.sync_bn, "cuda-graph",
            "and --sync-bn exclude each other (sync-BN's backward enqueues its all-reduce from "
            "autograd's device thread inside the capture, which no GPU has checked yet)");
  }
  require(c.comm_timeout > 0, "comm-timeout", "must be positive");
  require(c.step_timeout > 0, "step-timeout", "must be positive");
  require(c.lock_wait >= 0, "lock-wait", str("must not be negative, got ", c.lock_wait));
  require(c.benchmark >= 0, "benchmark", str("must not be negative, got ", c.benchmark));
  require(!(c.benchmark > 0 && !c.resume.empty()), "benchmark",
          "and --resume exclude each other: a benchmark starts from a fresh model");
  require(!(c.overwrite && !c.resume.empty()), "overwrite",
          "and --resume exclude each other: --resume continues the run, --overwrite starts over");
}

std::string config_to_toml(const TrainConfig& config, const RunShape& shape) {
  toml::table options;
  TrainConfig copy = config;
  for (const auto& [spec, field] : option_table(copy)) {
    if (spec.saved) std::visit([&](auto* value) { options.insert(spec.name, *value); }, field);
  }
  toml::table run;
  RunShape shape_copy = shape;
  for_each_shape_field(shape_copy, [&](const char* key, auto& value) { run.insert(key, value); });
  options.insert("run", std::move(run));
  std::ostringstream out;
  out << "# dcgan-train options; usable as `dcgan-train --config FILE` ([run] is derived at "
         "start, not options)\n"
      << options << "\n";
  return out.str();
}

void config_from_toml(const std::string& text, const std::string& origin, TrainConfig* config,
                      RunShape* shape) {
  toml::table table;
  try {
    table = toml::parse(std::string_view(text), std::string_view(origin));
  } catch (const toml::parse_error& e) {
    throw UsageError(str(origin, ":", e.source().begin.line, ": ", e.description()));
  }
  read_options(table, config, origin);
  for (auto&& [key, node] : table) {
    if (!node.is_table()) continue;
    if (key.str() != "run") {
      throw UsageError(
          str(origin, ":", node.source().begin.line, ": unknown table [", key.str(), "]"));
    }
    read_shape(*node.as_table(), shape, origin);
  }
}

std::string config_table(const TrainConfig& config, const RunShape& shape) {
  std::ostringstream out;
  auto row = [&](const std::string& key, const auto& value) {
    out << "\n  " << std::left << std::setw(16) << key << format_value(value);
  };
  out << "options:";
  TrainConfig copy = config;
  const auto options = option_table(copy);
  for (const bool saved : {true, false}) {  // the run's options, then this invocation's
    for (const auto& [spec, field] : options) {
      if (spec.saved != saved || (spec.name == "benchmark" && copy.benchmark == 0)) continue;
      std::visit([&](auto* value) { row(spec.name, *value); }, field);
    }
  }
  RunShape shape_copy = shape;
  for_each_shape_field(shape_copy, [&](const char* key, auto& value) { row(key, value); });
  row("global-batch", config.batch_size * shape.world_size);
  return out.str();
}

}  // namespace dcgan::train
