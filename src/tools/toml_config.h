// CLI11's --config reader on toml++, so every TOML file of the project goes through one library.
// A run's config.toml is a valid --config file: its [run] table (values derived at start, not
// options) is skipped; any other key must name an option (App::allow_config_extras(error)).
#pragma once

#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

namespace dcgan::tools {

class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override {
    throw CLI::ConfigError("writing --config files is not supported (a run's config.toml is one)");
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    const std::string text{std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
    toml::table table;
    try {
      table = toml::parse(text);
    } catch (const toml::parse_error& e) {
      throw CLI::ConfigError("--config: line " + std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()));
    }
    std::vector<CLI::ConfigItem> items;
    for (auto&& [key, node] : table) {
      if (node.is_table()) continue;  // [run]
      CLI::ConfigItem item;
      item.name = key.str();
      item.inputs.push_back(as_text(item.name, node));
      items.push_back(std::move(item));
    }
    return items;
  }

 private:
  // The value as CLI11 parses it from the command line (doubles with all 17 digits).
  static std::string as_text(const std::string& key, const toml::node& node) {
    if (const auto s = node.value_exact<std::string>()) return *s;
    if (const auto b = node.value_exact<bool>()) return *b ? "true" : "false";
    if (const auto i = node.value_exact<int64_t>()) return std::to_string(*i);
    if (const auto d = node.value_exact<double>()) {
      std::ostringstream out;
      out.precision(17);
      out << *d;
      return out.str();
    }
    std::ostringstream type;
    type << node.type();
    throw CLI::ConfigError("--config: '" + key + "' holds a " + type.str() +
                           "; every option takes a string, number or boolean");
  }
};

}  // namespace dcgan::tools
