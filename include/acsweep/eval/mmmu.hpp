#pragma once
// MMMU (val) as lmms-eval 0.1.2 scores it, with the MMMU authors' parse rules
// (lmms_eval/tasks/mmmu/utils.py, after MMMU's eval/eval_utils.py): a multiple-choice answer is
// the option letter read from the generated text; an open answer is right when one of the strings
// or numbers read from the text matches the gold answer. The score is the accuracy over all
// questions (micro-averaged), with each subject and each of the six disciplines as parts.
// ASCII only where Python is Unicode-aware (lower case, digits, whitespace).
#include <string>
#include <vector>

namespace acsweep::eval::mmmu {

// parse_multi_choice_response: the index of the option the text names: "(B)" forms first, then
// "B " forms, then "B." forms, then (in a text of more than five words) the options' own text;
// of several, the one named last. When nothing names an option MMMU draws one at random; acsweep
// draws it from a hash of the item's id, so a rescore gives the same number.
std::size_t parsed_choice(const std::string& text, const std::vector<std::string>& options,
                          const std::string& id);

// parse_open_response: the key parts of the text (what follows "is ", "so ", "therefore ", "=" and
// the like, the shortest per line) and the numbers in them, normalised: numbers rounded to two
// decimals, strings in lower case (a one-character string as " x" and "x ").
struct OpenAnswer {
  std::vector<std::string> texts;
  std::vector<double> numbers;
};
OpenAnswer parsed_open(const std::string& text);

// eval_open: a predicted string holds a normalised gold answer, or a predicted number equals one.
bool open_correct(const OpenAnswer& prediction, const std::vector<std::string>& gold);

// extract_numbers: numbers with thousands commas, in scientific notation, then plain ones, as text.
std::vector<std::string> numbers_in(const std::string& text);

// The subject of an MMMU id ("validation_Art_Theory_12" -> "Art_Theory"), empty when the id is
// not of that form; the discipline of a subject ("Art_Theory" -> "Art and Design"), empty when
// the subject is not one of MMMU's 30.
std::string subject_of(const std::string& id);
std::string discipline_of(const std::string& subject);

// The question as lmms-eval asks it: "<question>\nA. ...\nB. ...\nAnswer with the option letter
// from the given choices directly." (multiple choice) or "<question>\nAnswer the question using a
// single word or phrase." (open), with "<image 1>" to "<image 7>" each turned into "<image>".
std::string prompt(const std::string& question, const std::vector<std::string>& options);

// The images the prompt shows, in order: the k of every "<image k>" in the question and the
// options as the prompt holds them (an image named twice is shown twice).
std::vector<int> image_numbers(const std::string& question, const std::vector<std::string>& options);

}  // namespace acsweep::eval::mmmu
