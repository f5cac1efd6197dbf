// The option table of dcgan-train (config.h), built from options.def.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dcgan/common/str.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/config.h"

namespace dcgan::train {
namespace {

// A table row under construction.
class Row {
 public:
  explicit Row(std::string help) { spec_.help = std::move(help); }
  Row& one_of(std::vector<std::string> choices) {
    spec_.choices = std::move(choices);
    return *this;
  }
  Row& value_name(const char* name) {
    spec_.value_name = name;
    return *this;
  }
  Row& shown_default(const char* text) {
    spec_.default_text = text;
    return *this;
  }
  Row& required() {
    spec_.required = true;
    return *this;
  }
  Row& per_invocation() {
    spec_.saved = false;
    return *this;
  }
  // The spec of the option whose TrainConfig field is `field`: its flag is the field's name with
  // '-' for '_'.
  OptionSpec spec(std::string field) const {
    OptionSpec spec = spec_;
    std::replace(field.begin(), field.end(), '_', '-');
    spec.name = std::move(field);
    return spec;
  }

 private:
  OptionSpec spec_;
};

// "dcgan (the tutorial's GAN) | ae (autoencoder, MSE) | ...", from the model registry.
std::string model_help() {
  std::string help;
  for (const models::ModelSpec& spec : models::model_specs())
    help += (help.empty() ? "" : " | ") + spec.name + " (" + spec.summary + ")";
  return help;
}

// The shorter of 0.0002 and 2e-4.
std::string short_number(double value) {
  char plain[32], exp[32];
  std::snprintf(plain, sizeof plain, "%g", value);
  std::snprintf(exp, sizeof exp, "%.0e", value);
  std::string e = exp;  // "2e-04" -> "2e-4"
  const size_t sign = e.find_first_of("+-", 1);
  if (sign != std::string::npos) {
    const size_t digits = e.find_first_not_of('0', sign + 1);
    e = e.substr(0, sign + 1) + e.substr(digits == std::string::npos ? e.size() - 1 : digits);
    if (e[sign] == '+') e.erase(sign, 1);
  }
  const bool exact = std::strtod(e.c_str(), nullptr) == value;
  return exact && e.size() < std::strlen(plain) ? e : plain;
}

// "dcgan 2e-4 (the tutorial), ae and vae 1e-3 (Adam's own)": one default of every model, the
// models that share a value and its source together.
std::string by_model(double models::ModelSpec::*value) {
  std::vector<std::pair<std::string, std::string>> groups;  // models, "value (source)"
  for (const models::ModelSpec& spec : models::model_specs()) {
    const std::string text = str(short_number(spec.*value), " (", spec.adam_source, ")");
    if (!groups.empty() && groups.back().second == text) {
      groups.back().first += " and " + spec.name;
    } else {
      groups.emplace_back(spec.name, text);
    }
  }
  std::string out;
  for (const auto& [names, text] : groups) out += (out.empty() ? "" : ", ") + names + " " + text;
  return out;
}

}  // namespace

std::vector<std::pair<OptionSpec, OptionField>> option_table(TrainConfig& c) {
  std::vector<std::pair<OptionSpec, OptionField>> rows;
#define DCGAN_OPTION(type, field, initial, row) rows.emplace_back(row.spec(#field), &c.field);
#include "dcgan/train/options.def"
#undef DCGAN_OPTION
  return rows;
}

}  // namespace dcgan::train
