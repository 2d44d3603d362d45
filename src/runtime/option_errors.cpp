#include "acsweep/runtime/option_errors.hpp"

#include <boost/program_options/cmdline.hpp>
#include <iterator>
#include <map>
#include <set>

namespace po = boost::program_options;

namespace acsweep::runtime {
namespace {

// Each placeholder %name% of template_text replaced by values[name] in one pass: what replaces a
// placeholder is never searched again. A %...% with no value is kept as written.
std::string fill_once(const std::string& template_text, const std::map<std::string, std::string>& values) {
  std::string text;
  std::size_t at = 0;
  while (at < template_text.size()) {
    const std::size_t open = template_text.find('%', at);
    const std::size_t close = open == std::string::npos ? open : template_text.find('%', open + 1);
    if (close == std::string::npos) break;
    text.append(template_text, at, open - at);
    const auto value = values.find(template_text.substr(open + 1, close - open - 1));
    if (value == values.end()) {
      text += '%';
      at = open + 1;
    } else {
      text += value->second;
      at = close + 1;
    }
  }
  text.append(template_text, at, std::string::npos);
  return text;
}

// A phrase replaced where it occurs, left to right, never rescanning what was put in.
std::string replace_phrase(const std::string& text, const std::string& phrase, const std::string& by) {
  if (phrase.empty()) return text;
  std::string out;
  std::size_t at = 0;
  for (std::size_t found = text.find(phrase); found != std::string::npos; found = text.find(phrase, at)) {
    out.append(text, at, found - at);
    out += by;
    at = found + phrase.size();
  }
  out.append(text, at, std::string::npos);
  return out;
}

// Boost keeps the placeholders' values protected; a derived class may name them (it is never made).
class ErrorParts : public po::error_with_option_name {
 public:
  ErrorParts() = delete;

  // What error_with_option_name::substitute_placeholders does, with each replacement made once.
  static std::string text(const po::error_with_option_name& e, const std::string& template_text) {
    std::map<std::string, std::string> values = e.*(&ErrorParts::m_substitutions);
    values["canonical_option"] = (e.*(&ErrorParts::get_canonical_option_name))();
    values["prefix"] = (e.*(&ErrorParts::get_canonical_option_prefix))();
    std::string filled = template_text;
    for (const auto& [name, phrase] : e.*(&ErrorParts::m_substitution_defaults))
      if (values[name].empty()) filled = replace_phrase(filled, phrase.first, phrase.second);
    return fill_once(filled, values);
  }

  // The template ambiguous_option::substitute_placeholders builds: its alternatives are declared
  // option names, never the input, each once and in order, with "and" before the last.
  static std::string ambiguous_template(const po::ambiguous_option& e) {
    const int style = e.*(&ErrorParts::m_option_style);
    if (style == po::command_line_style::allow_dash_for_short ||
        style == po::command_line_style::allow_slash_for_short)
      return e.m_error_template;
    const std::set<std::string> names(e.alternatives().begin(), e.alternatives().end());
    if (names.empty()) return e.m_error_template;
    std::string text = e.m_error_template + " and matches ";
    for (auto name = names.begin(); std::next(name) != names.end(); ++name)
      text += "'%prefix%" + *name + "', ";
    if (names.size() > 1) text += "and ";
    if (e.alternatives().size() > 1 && names.size() == 1) text += "different versions of ";
    return text + "'%prefix%" + *names.rbegin() + "'";
  }
};

}  // namespace

std::string option_error_text(const po::error& e) {
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  if (named == nullptr) return e.what();  // a fixed message, with nothing of the input in it
  if (const auto* ambiguous = dynamic_cast<const po::ambiguous_option*>(&e))
    return ErrorParts::text(*named, ErrorParts::ambiguous_template(*ambiguous));
  return ErrorParts::text(*named, named->m_error_template);
}

}  // namespace acsweep::runtime
