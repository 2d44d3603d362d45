#include "acsweep/eval/vqa.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "dataset_files.hpp"

namespace acsweep::eval {
namespace {
using detail::replace_all;

// EvalAI's table: answers written without their apostrophe, and the form they are compared in.
const std::map<std::string, std::string>& contractions() {
  static const std::map<std::string, std::string> table{
      {"'ow'sat", "'ow's'at"},
      {"'ows'at", "'ow's'at"},
      {"I'dve", "I'd've"},
      {"Id've", "I'd've"},
      {"Im", "I'm"},
      {"Ive", "I've"},
      {"aint", "ain't"},
      {"arent", "aren't"},
      {"cant", "can't"},
      {"couldn'tve", "couldn't've"},
      {"couldnt", "couldn't"},
      {"couldnt've", "couldn't've"},
      {"couldve", "could've"},
      {"didnt", "didn't"},
      {"doesnt", "doesn't"},
      {"dont", "don't"},
      {"hadn'tve", "hadn't've"},
      {"hadnt", "hadn't"},
      {"hadnt've", "hadn't've"},
      {"hasnt", "hasn't"},
      {"havent", "haven't"},
      {"he'dve", "he'd've"},
      {"hed", "he'd"},
      {"hed've", "he'd've"},
      {"hes", "he's"},
      {"howd", "how'd"},
      {"howll", "how'll"},
      {"hows", "how's"},
      {"isnt", "isn't"},
      {"it'dve", "it'd've"},
      {"itd", "it'd"},
      {"itd've", "it'd've"},
      {"itll", "it'll"},
      {"let's", "let's"},
      {"maam", "ma'am"},
      {"mightn'tve", "mightn't've"},
      {"mightnt", "mightn't"},
      {"mightnt've", "mightn't've"},
      {"mightve", "might've"},
      {"mustnt", "mustn't"},
      {"mustve", "must've"},
      {"neednt", "needn't"},
      {"notve", "not've"},
      {"oclock", "o'clock"},
      {"oughtnt", "oughtn't"},
      {"ow's'at", "'ow's'at"},
      {"shant", "shan't"},
      {"she'dve", "she'd've"},
      {"she's", "she's"},
      {"shed've", "she'd've"},
      {"shouldn'tve", "shouldn't've"},
      {"shouldnt", "shouldn't"},
      {"shouldnt've", "shouldn't've"},
      {"shouldve", "should've"},
      {"somebody'd", "somebodyd"},
      {"somebody'dve", "somebody'd've"},
      {"somebodyd've", "somebody'd've"},
      {"somebodyll", "somebody'll"},
      {"somebodys", "somebody's"},
      {"someone'dve", "someone'd've"},
      {"someoned", "someone'd"},
      {"someoned've", "someone'd've"},
      {"someonell", "someone'll"},
      {"someones", "someone's"},
      {"something'dve", "something'd've"},
      {"somethingd", "something'd"},
      {"somethingd've", "something'd've"},
      {"somethingll", "something'll"},
      {"thats", "that's"},
      {"there'dve", "there'd've"},
      {"thered", "there'd"},
      {"thered've", "there'd've"},
      {"therere", "there're"},
      {"theres", "there's"},
      {"they'dve", "they'd've"},
      {"theyd", "they'd"},
      {"theyd've", "they'd've"},
      {"theyll", "they'll"},
      {"theyre", "they're"},
      {"theyve", "they've"},
      {"twas", "'twas"},
      {"wasnt", "wasn't"},
      {"we'dve", "we'd've"},
      {"wed've", "we'd've"},
      {"werent", "weren't"},
      {"weve", "we've"},
      {"whatll", "what'll"},
      {"whatre", "what're"},
      {"whats", "what's"},
      {"whatve", "what've"},
      {"whens", "when's"},
      {"whered", "where'd"},
      {"wheres", "where's"},
      {"whereve", "where've"},
      {"who'dve", "who'd've"},
      {"whod", "who'd"},
      {"whod've", "who'd've"},
      {"wholl", "who'll"},
      {"whos", "who's"},
      {"whove", "who've"},
      {"whyll", "why'll"},
      {"whyre", "why're"},
      {"whys", "why's"},
      {"wont", "won't"},
      {"wouldn'tve", "wouldn't've"},
      {"wouldnt", "wouldn't"},
      {"wouldnt've", "wouldn't've"},
      {"wouldve", "would've"},
      {"y'all'dve", "y'all'd've"},
      {"y'alld've", "y'all'd've"},
      {"y'allll", "y'all'll"},
      {"yall", "y'all"},
      {"yall'd've", "y'all'd've"},
      {"yall'll", "y'all'll"},
      {"you'dve", "you'd've"},
      {"youd", "you'd"},
      {"youd've", "you'd've"},
      {"youll", "you'll"},
      {"youre", "you're"},
      {"youve", "you've"},
  };
  return table;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string trimmed(const std::string& text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// Rule 1.
std::string tokenised(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  text = replace_all(replace_all(replace_all(text, ",", ""), "?", ""), "'s", " 's");
  text = trimmed(text);
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  return trimmed(text);
}

bool has_digit_comma_digit(const std::string& text) {
  for (std::size_t i = 1; i + 1 < text.size(); ++i)
    if (text[i] == ',' && is_digit(text[i - 1])) {
      std::size_t j = i;
      while (j < text.size() && text[j] == ',') ++j;
      if (j < text.size() && is_digit(text[j])) return true;
    }
  return false;
}

// Rules 2 and 3.
std::string without_punctuation(const std::string& text) {
  static const char kPunctuation[] = {';',  '/', '[', ']', '"', '{', '}', '(', ')', '=', '+',
                                      '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'};
  const bool comma_number = has_digit_comma_digit(text);
  std::string out = text;
  for (const char p : kPunctuation) {
    const std::string mark(1, p);
    const bool beside_space =
        text.find(mark + " ") != std::string::npos || text.find(" " + mark) != std::string::npos;
    out = replace_all(out, mark, beside_space || comma_number ? "" : " ");
  }
  std::string kept;
  int removed = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '.' && removed < 32 && !(i + 1 < out.size() && is_digit(out[i + 1]))) {
      ++removed;
      continue;
    }
    kept += out[i];
  }
  return kept;
}

// Rule 4.
std::string digits_articles_contractions(const std::string& text) {
  static const std::map<std::string, std::string> numbers{
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  std::istringstream words(text);
  std::string word, out;
  while (words >> word) {
    for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const auto n = numbers.find(word); n != numbers.end()) word = n->second;
    if (word == "a" || word == "an" || word == "the") continue;
    if (const auto c = contractions().find(word); c != contractions().end()) word = c->second;
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

}  // namespace

std::string normalise_vqa_answer(const std::string& answer) {
  return digits_articles_contractions(without_punctuation(tokenised(answer)));
}

double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& answers) {
  if (answers.empty()) return 0.0;
  const std::string predicted = normalise_vqa_answer(prediction);
  std::vector<std::string> normalised;
  for (const auto& a : answers) normalised.push_back(normalise_vqa_answer(a));
  const auto total = static_cast<double>(std::count(normalised.begin(), normalised.end(), predicted));
  double sum = 0;
  for (const auto& a : normalised) {  // leave answer a out: the matches among the others
    const double matches = total - (a == predicted ? 1.0 : 0.0);
    sum += std::min(1.0, matches / 3.0);
  }
  return sum / static_cast<double>(normalised.size());
}

}  // namespace acsweep::eval
