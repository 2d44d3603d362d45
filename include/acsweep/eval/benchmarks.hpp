#pragma once
// Benchmarks of the finetuned model (shared/spec/ARCHITECTURE.md, "Data formats"):
//  - multiple choice, JSONL lines {"id", "image", "question", "options": [...] or {"A": ...},
//    "answer": "B", "category"}: the model's choice is the option letter it finds most likely
//    after the vicuna_v1 prompt ending "Answer with the option's letter from the given choices
//    directly."; accuracy in percent, overall and per category;
//  - yes/no with MME's rule, lines {"id", "image", "question", "answer": "Yes"|"No",
//    "category"}: per category acc (questions right) and acc+ (images whose questions are all
//    right), the category's score acc + acc+, the benchmark's score their sum;
//  - open-ended VQA (kind vqa) read as OK-VQA, TextVQA and VizWiz ship (eval/vqa_datasets.cpp),
//    scored by VQA accuracy (eval/vqa.hpp) on the generated answer;
//  - lmms-eval results JSON, for scores measured elsewhere.
// Lines that cannot be used (no options, an answer that is not an option, a missing image) are
// skipped, each with a message naming the file and line, and counted.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "acsweep/data/image.hpp"

namespace acsweep::eval {

// multiple_choice and yes_no: acsweep's own JSONL. The others are read as their datasets ship and
// prompted and parsed as lmms-eval 0.1.2 does: mme (yes/no, perception and cognition apart),
// seedbench, scienceqa and mmbench (multiple choice; MMBench by CircularEval), vqa (open-ended:
// OK-VQA, TextVQA, VizWiz), mmmu (multiple choice and open, up to 7 images a question).
enum class BenchmarkKind { multiple_choice, yes_no, vqa, mme, seedbench, scienceqa, mmbench, mmmu };

// "multiple_choice", "yes_no", "vqa", "mme", "seedbench", "scienceqa", "mmbench", "mmmu" -> the
// kind; std::invalid_argument otherwise.
BenchmarkKind benchmark_kind(const std::string& name);
// Answered by an option letter; by yes or no.
bool is_choice(BenchmarkKind kind);
bool is_yes_no(BenchmarkKind kind);

struct BenchmarkItem {
  std::string id, image, question, category;
  std::vector<std::string> options;  // multiple choice, in letter order
  std::size_t answer = 0;            // index into the options; yes/no: 0 yes, 1 no
  std::vector<std::string> answers;  // vqa: the human answers, as the dataset gives them
  // mmbench: the circular group (index mod 1e6; its rotated copies share it); empty: alone.
  std::string group = {};
  // An image embedded in the benchmark's file (MMBench's TSV): base64 text at this byte range of
  // `image`; image_length 0: `image` is the image's own file.
  std::uint64_t image_offset = 0, image_length = 0;
  // mmmu: the images in the order the prompt shows them, one per "<image>" of question_prompt
  // (the same file again where the question names an image twice); `image` is the first. Empty:
  // the item's one image is `image`, shown before the question.
  std::vector<std::string> images = {};
};

// An item's image, decoded from its file or from the base64 text embedded in the benchmark's file.
// InputError naming the file (and row) when it does not decode.
data::Image item_image(const BenchmarkItem& item);
// Every image the item's prompt shows, in order: `images` decoded, or item_image alone. An mmmu
// question may show none.
std::vector<data::Image> item_images(const BenchmarkItem& item);

// The open-ended datasets, told apart by their files; each has its prompt (lmms-eval's).
enum class VqaDataset { none, okvqa, textvqa, vizwiz };

struct Benchmark {
  std::string name;
  BenchmarkKind kind = BenchmarkKind::multiple_choice;
  VqaDataset dataset = VqaDataset::none;
  std::vector<BenchmarkItem> items;
  std::vector<std::string> skipped;
};

// InputError when the file cannot be read at all, or holds no usable item. JSONL kinds: images
// relative to `image_folder`. vqa: the dataset's own files, images where the dataset puts them
// (read_vqa). `with_images` off (rescoring saved predictions): images are not looked for.
Benchmark read_benchmark(const std::string& path, const std::string& image_folder, BenchmarkKind kind,
                         const std::string& name, bool with_images = true);

// An open-ended benchmark from the file its dataset ships, told apart by its content:
//  - OK-VQA: OpenEnded_mscoco_val2014_questions.json ({"questions": [...]}) with
//    mscoco_val2014_annotations.json beside it (each answer's "answer"), images
//    val2014/COCO_val2014_<12-digit image_id>.jpg beside them; id: question_id; category:
//    the annotation's question_type;
//  - TextVQA: TextVQA_0.5.1_val.json ({"dataset_name": "textvqa", "data": [...]}), images
//    train_images/<image_id>.jpg beside it (the val split's images ship there); id: question_id;
//  - VizWiz: Annotations/val.json (a list of {"image", "question", "answers": [{"answer"}]}),
//    images val/<image> beside the Annotations folder; id: the image's name; category:
//    answer_type.
// Items without a question or an answer, or whose image is missing, are skipped and named.
Benchmark read_vqa(const std::string& path, const std::string& name, bool with_images = true);

// MME as released (MME_Benchmark_release_version): a folder per category, each with its
// question files (<name>.txt, lines "question<TAB>Yes|No") beside their images (<name>.jpg or
// .png), or in questions_answers_YN/ with the images in images/. id: category/name/line.
Benchmark read_mme(const std::string& folder, const std::string& name, bool with_images = true);

// SEED-Bench.json ({"questions": [...], "question_type": {name: id}}): the image questions
// (seed_image; the video ones are left out, counted in one line), images
// SEED-Bench-image/<data_id> beside the file; id: question_id; category: the question type.
Benchmark read_seedbench(const std::string& path, const std::string& name, bool with_images = true);

// ScienceQA's problems.json with pid_splits.json beside it: the test split's problems with an
// image (ScienceQA-IMG), images images/test/<pid>/<image> (or test/<pid>/<image>) beside the
// file; "Context: <hint>" before the question where there is a hint; id: the pid; category:
// the subject.
Benchmark read_scienceqa(const std::string& path, const std::string& name, bool with_images = true);

// MMBench's TSV as released (mmbench_dev_en*.tsv, or VLMEvalKit's MMBench_DEV_EN.tsv with its
// circular copies: index + k*1e6, an image field that gives the original's index instead of an
// image): columns index, question, hint, A..E, answer, category, image (base64). The hint goes
// before the question. id: the index; category: the category; group: index mod 1e6.
Benchmark read_mmbench(const std::string& path, const std::string& name, bool with_images = true);

// MMMU's validation split as scripts/convert_parquet.py writes it from MMMU's parquet files (one
// per subject, or lmms-lab/MMMU's): JSONL lines {"id", "question", "options": [...] (empty for an
// open question), "answer" (the option letter; an open question's text, or a list of texts),
// "question_type": "multiple-choice" | "open", "images": {"image_1": file, ...}}, images relative
// to the file. The question's "<image k>" places say which images it shows. id: MMMU's id;
// category: the subject the id names. Answered by generation only (it holds open questions).
Benchmark read_mmmu(const std::string& path, const std::string& name, bool with_images = true);

// The kinds whose lmms-eval task asks image_aspect_ratio = original (scienceqa, seedbench, mmmu):
// their images are never padded to a square, whatever [search] image_aspect_ratio says.
bool original_aspect(BenchmarkKind kind);

// An open question: answered in words, scored without options (vqa; mmmu without options).
bool is_open(const Benchmark& benchmark, const BenchmarkItem& item);

// The text the model is asked and its candidate answers. The image goes before it, except for
// mmmu, whose prompt holds an "<image>" where each of its images goes.
std::string question_prompt(const Benchmark& benchmark, const BenchmarkItem& item);
std::vector<std::string> candidate_answers(const Benchmark& benchmark, const BenchmarkItem& item);

struct BenchmarkScore {
  double score = 0;  // multiple choice: accuracy % (mmbench: of circular groups whose every copy
                     // is right); yes/no: sum over categories of acc + acc+;
                     // mme: the perception categories' sum (as MME is reported; cognition is a
                     // part); vqa: mean VQA accuracy %
  std::map<std::string, double> per_category;  // accuracy %, or acc + acc+; mme adds
                                               // "perception" and "cognition"
  std::vector<double> correct;                 // per item, 1 or 0 (vqa: its accuracy in [0, 1]);
                                               // NaN for an item left out
  std::size_t left_out = 0;
};

// The choice of an item that was not asked: its image did not decode.
constexpr std::size_t kNotAsked = static_cast<std::size_t>(-1);

// From each item's chosen candidate (an index into candidate_answers, or kNotAsked: left out of
// every count, as if the benchmark did not hold it).
BenchmarkScore score_choices(const Benchmark& benchmark, const std::vector<std::size_t>& chosen);

// lmms-eval's results JSON: {"results": {task: {"metric,filter": value}}} as "task/metric,filter"
// -> value, numbers only. InputError naming the file when it is not such a file.
// From each item's generated text (lmms-eval's protocol): vqa by VQA accuracy; the others by the
// answer parsed_answer reads. An item with no text (std::nullopt) is left out, as kNotAsked is.
BenchmarkScore score_generated(const Benchmark& benchmark,
                               const std::vector<std::optional<std::string>>& texts);

// The answer score_generated reads from a text, kNotAnswered when none (a wrong answer):
//  - multiple_choice: the text is the option letter, or starts with it followed by anything but
//    a letter ("B", "B.", "B) red");
//  - seedbench (lmms-eval): the first character of the trimmed text;
//  - scienceqa (lmms-eval, after LLaVA): the text is the letter, or starts "X.";
//  - mmbench (MMBench's own rules, without its GPT judge: a text they cannot read is wrong):
//    exactly one option letter among the text's words, bare or as "B.", "(B)", "B)" and the like
//    (not "A" in a text of more than three words: a quantifier), else exactly one option's text
//    inside the text (case ignored);
//  - yes_no and mme (lmms-eval's MME rule): the text, lower case without periods, is yes or no, or
//    its first four characters hold "yes", else "no".
// Option index, or 0 yes / 1 no.
constexpr std::size_t kNotAnswered = static_cast<std::size_t>(-2);
std::size_t parsed_answer(const Benchmark& benchmark, const BenchmarkItem& item, const std::string& text);

std::map<std::string, double> read_lmms_eval(const std::string& path);

}  // namespace acsweep::eval
