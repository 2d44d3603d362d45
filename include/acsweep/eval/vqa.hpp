#pragma once
// Open-ended VQA as lmms-eval 0.1.x scores OK-VQA, TextVQA and VizWiz (the paper's protocol): the
// EvalAI answer normalisation on the prediction and on each of the human answers, then VQA
// accuracy: for each answer left out in turn, min(matches among the other answers / 3, 1), averaged.
// The normalisation, rule by rule as EvalAI's (tasks/_task_utils/vqa_eval_metric.py):
//  1. lower case; "," and "?" removed; "'s" becomes " 's"; newlines and tabs become spaces; trimmed;
//  2. each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is removed where it stands beside a space
//     (or the text holds a digit,digit comma), and otherwise replaced by a space;
//  3. a "." not followed by a digit is removed (the first 32: EvalAI's code passes re.UNICODE
//     where re.sub takes its count);
//  4. split on white space; number words "none" and "zero" to "ten" become digits; articles a, an,
//     the are dropped; contractions written without their apostrophe ("dont") get it back; joined
//     with single spaces.
// Lower case is ASCII's: EvalAI's Python lowers every Unicode letter, so an answer with
// upper-case non-ASCII letters may normalise differently (none of the lmms-eval comparisons has one).
#include <string>
#include <vector>

namespace acsweep::eval {

std::string normalise_vqa_answer(const std::string& answer);

// In [0, 1]. `answers`: the human answers as the dataset gives them (normalised here); none: 0.
double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& answers);

}  // namespace acsweep::eval
