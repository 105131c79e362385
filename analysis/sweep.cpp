#include "analysis/sweep.h"

#include <torch/cuda.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "analysis/pattern.h"
#include "analysis/sweep_config.h"
#include "analysis/sweep_tasks.h"
#include "model/decoder.h"
#include "model/head_pattern.h"
#include "model/llama.h"
#include "model/mixed_kv_cache.h"
#include "model/model_memory.h"
#include "model/model_config.h"
#include "synth/eval_task.h"
#include "synth/passkey.h"
#include "synth/rng.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/path_check.h"
#include "util/progress.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

constexpr const char* kCsvHeader =
    "task,method,seed,sparsity,length,depth,sample,score,exact,overlap,kv_bytes,prefill_s,decode_s_per_token,"
    "retrieval_heads";
constexpr size_t kCsvFields = 14;
// The header before tasks were a column (one task per output directory).
constexpr const char* kCsvHeaderWithoutTask =
    "method,seed,sparsity,length,depth,sample,exact,overlap,kv_bytes,prefill_s,decode_s_per_token,"
    "retrieval_heads";

using CellKey = std::tuple<std::string, std::string, int64_t, double, int64_t, double, int64_t>;
CellKey key_of(const SweepRow& r) { return {r.task, r.method, r.seed, r.sparsity, r.length, r.depth, r.sample}; }

// Sparsities and depths are compared after the CSV round trip, so keys use the printed value.
double canonical(double x) { return std::stod(format_number(x, 6)); }

synth::PasskeyConfig grid_task_config(const SweepOptions& o, const std::string& task, int64_t length, double depth) {
  synth::PasskeyConfig c;
  c.haystack.files.assign(o.haystack.begin(), o.haystack.end());
  c.seed = o.seed;
  c.num_passkeys = 1;
  c.passkey_words = o.passkey_words;
  c.depth_min = c.depth_max = depth;
  c.depth_count = 1;
  c.context_min = c.context_max = length;
  c.context_count = 1;
  c.shuffle = false;
  if (task == "niah") {
    // One needle sentence; its value is a run of digits.
    c.word_list = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    c.prefix = "";
    c.suffix = "\n\n";
    c.separator = "\n";
    c.needle = "The special magic number is: ";
    c.question = "What is the special magic number mentioned in the text?\n";
    c.answer_prefix = "The special magic number is: ";
  }
  return c;
}

// Token-level F1 of two id sequences (multiset overlap).
double overlap_f1(const std::vector<int64_t>& got, const std::vector<int32_t>& want) {
  std::map<int64_t, int64_t> counts;
  for (int32_t t : want) ++counts[t];
  int64_t common = 0;
  for (int64_t t : got)
    if (counts[t]-- > 0) ++common;
  if (common == 0) return 0;
  double p = double(common) / double(got.size()), r = double(common) / double(want.size());
  return 2 * p * r / (p + r);
}

HeadPattern head_pattern(const std::vector<uint8_t>& retrieval, const GateSet& g, const StreamingWindow& window) {
  HeadPattern p;
  p.num_layers = g.num_layers;
  p.num_kv_heads = g.num_kv_heads;
  p.retrieval = retrieval;
  p.window = {window.sink, window.recent};  // deployed in tokens
  return p;
}

// round(s * N) streaming heads drawn uniformly (deterministic for a seed).
std::vector<uint8_t> random_retrieval(int64_t heads, double sparsity, uint64_t seed) {
  const auto streaming = static_cast<size_t>(std::nearbyint(sparsity * double(heads)));
  std::vector<int64_t> order(heads);
  for (int64_t i = 0; i < heads; ++i) order[i] = i;
  synth::Rng rng(seed, 0xD0E);
  rng.partial_shuffle(order, streaming);
  std::vector<uint8_t> retrieval(heads, 1);
  for (size_t i = 0; i < streaming; ++i) retrieval[order[i]] = 0;
  return retrieval;
}

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "bf16") return at::kBFloat16;
  if (name == "fp16") return at::kHalf;
  if (name == "fp32") return at::kFloat;
  throw Error("--dtype: expected bf16, fp16 or fp32, got " + name);
}

at::Device parse_device(const std::string& name) {
  const bool cuda = torch::cuda::is_available();
  if (name == "cuda" && !cuda) throw Error("--device cuda: no CUDA device is available");
  if (name == "cpu" || (name == "auto" && !cuda)) return at::kCPU;
  if (name == "cuda" || name == "auto") return {at::kCUDA, 0};
  throw Error("--device: expected auto, cpu or cuda, got " + name);
}

}  // namespace

std::vector<SweepRow> read_sweep_csv(const std::filesystem::path& path) {
  std::vector<SweepRow> rows;
  std::ifstream in(path);
  if (!in) return rows;
  std::string line;
  if (std::getline(in, line) && line == kCsvHeaderWithoutTask)
    throw Error(path, "was written by an older duo-analyze (no task column), which this build does not continue; "
                      "use a new --out, or remove the directory, to start afresh");
  if (line != kCsvHeader)
    throw Error(path, "not a duo sweep results file (unexpected header); move it away or choose another --out");
  int64_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    std::stringstream s(line);
    std::vector<std::string> f;
    std::string field;
    while (std::getline(s, field, ',')) f.push_back(field);
    // A kill can cut the last line short (no newline): such a row is simply redone.
    if (in.eof() || f.size() != kCsvFields) continue;
    try {
      SweepRow r;
      r.task = f[0];
      r.method = f[1];
      r.seed = std::stoll(f[2]);
      r.sparsity = std::stod(f[3]);
      r.length = std::stoll(f[4]);
      r.depth = std::stod(f[5]);
      r.sample = std::stoll(f[6]);
      r.score = std::stod(f[7]);
      r.exact = std::stod(f[8]);
      r.overlap = std::stod(f[9]);
      r.kv_bytes = std::stoll(f[10]);
      r.prefill_s = std::stod(f[11]);
      r.decode_s_per_token = std::stod(f[12]);
      r.retrieval_heads = std::stoll(f[13]);
      rows.push_back(r);
    } catch (const std::exception&) {
      throw Error(path, "line " + std::to_string(number) + ": malformed row");
    }
  }
  return rows;
}

void append_sweep_csv(const std::filesystem::path& path, const SweepRow& r) {
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  bool cut_short = false;  // a kill mid-write leaves a last line without its newline
  if (!fresh) {
    std::ifstream last(path, std::ios::binary);
    last.seekg(-1, std::ios::end);
    cut_short = last.get() != '\n';
  }
  std::ostringstream out;
  if (fresh) out << kCsvHeader << "\n";
  if (cut_short) out << "\n";
  out << r.task << ',' << r.method << ',' << r.seed << ',' << format_number(r.sparsity, 6) << ',' << r.length << ','
      << format_number(r.depth, 6) << ',' << r.sample << ',' << format_number(r.score, 6) << ',' << r.exact << ','
      << format_number(r.overlap, 6) << ',' << r.kv_bytes << ',' << format_number(r.prefill_s, 6)
      << ',' << format_number(r.decode_s_per_token, 6) << ',' << r.retrieval_heads << "\n";
  // Flushed to the disk, or an error naming the file; a row the disk refused is cut off again.
  append_text_file(path, out.str());
}

std::vector<SweepRow> run_sweep(const GateSet& gates, const SweepOptions& o) {
  for (double s : o.sparsities) check_sparsity(s);
  for (double d : o.depths)
    if (!(d >= 0 && d <= 1)) throw Error("--depths: every depth must lie in [0, 1], got " + format_number(d));
  if (o.tasks.empty()) throw Error("--task: no task given");
  for (const std::string& task : o.tasks)
    if (parse_sweep_tasks(task) != std::vector<std::string>{task})
      throw Error("--task: '" + task + "' is not one task's canonical name");
  const auto device = parse_device(o.device);
  const auto dtype = parse_dtype(o.dtype);
  const StreamingWindow window =
      o.window ? *o.window : o.pattern ? o.pattern->window : gates.window.value_or(kDeploymentWindow);

  require_directory(o.model, "--model",
                    o.random_weights ? "a directory holding config.json" : "a checkpoint directory");
  if (!o.tokenizer.empty()) require_directory(o.tokenizer, "--tokenizer", "a tokenizer directory");
  for (const std::string& file : o.haystack) require_file(file, "--haystack", "a text file");

  // Gates of another model, contexts the model was not trained for, and a window that keeps
  // every token (streaming heads would then be full ones) measure nothing: refused before the
  // output directory is touched and the weights load.
  const std::filesystem::path config_json = o.model / "config.json";
  const ModelConfig declared = load_model_config(config_json);
  check_pattern_fits_model(gates.source, gates.num_layers, gates.num_kv_heads, declared, config_json);
  if (o.lengths.empty()) throw Error("--lengths: no context length given");
  const int64_t longest = *std::max_element(o.lengths.begin(), o.lengths.end());
  const int64_t shortest = *std::min_element(o.lengths.begin(), o.lengths.end());
  if (declared.max_position_embeddings > 0 && longest > declared.max_position_embeddings)
    throw Error("--lengths: " + std::to_string(longest) + " tokens exceed the model's max_position_embeddings (" +
                std::to_string(declared.max_position_embeddings) + ", " + config_json.string() + ")");
  if (window.sink + window.recent >= longest)
    throw Error("the streaming window (sink " + std::to_string(window.sink) + " + recent " + std::to_string(window.recent) +
                ") holds every context of --lengths (up to " + std::to_string(longest) +
                " tokens): streaming heads would see everything; give longer --lengths or a smaller --sink/--recent");
  check_weights_fit(declared, dtype, device, config_json);

  // The evaluation tasks' generators, each tried at the shortest length (a length too short for a
  // task's fixed text is refused here, not after the model loaded); their answers take the
  // task's own generation budget after the prompt, which must fit the model's positions too.
  const Tokenizer tokenizer = Tokenizer::from_dir(o.tokenizer.empty() ? o.model : o.tokenizer);
  std::map<std::string, synth::EvalGenerator> eval_tasks;
  for (const std::string& task : o.tasks) {
    if (is_grid_task(task)) continue;
    synth::EvalConfig c;
    c.task = task;
    c.haystack.files.assign(o.haystack.begin(), o.haystack.end());
    c.seed = o.seed;
    synth::EvalGenerator generator(c, tokenizer);
    int64_t budget = 0;
    try {
      budget = generator.sample(0, shortest).tokens_to_generate;
    } catch (const Error& e) {
      throw Error("--task " + task + " at --lengths " + std::to_string(shortest) + ": " + e.what());
    }
    if (declared.max_position_embeddings > 0 && longest + budget > declared.max_position_embeddings)
      throw Error("--lengths: " + std::to_string(longest) + " tokens and the " + std::to_string(budget) +
                  " tokens " + task + " generates exceed the model's max_position_embeddings (" +
                  std::to_string(declared.max_position_embeddings) + ", " + config_json.string() + ")");
    eval_tasks.emplace(task, std::move(generator));
  }

  // Finished cells are reused only when they were computed with this sweep's settings; checked
  // before the model loads.
  prepare_output_directory(o.out, "--out");
  const auto csv = o.out / "results.csv";
  const auto config_path = o.out / "sweep-config.json";
  auto rows = read_sweep_csv(csv);
  const SweepConfig config = sweep_config(gates, o, window, device.is_cuda() ? "cuda" : "cpu");
  if (!rows.empty()) {
    const auto recorded = read_sweep_config(config_path);
    if (!recorded)
      throw Error(csv, "holds " + describe_finished(rows.size()) + " but no recorded sweep configuration (" +
                           config_path.filename().string() +
                           ", which older duo-analyze versions did not write), so they cannot be checked against "
                           "this sweep's settings. Use a new --out, or remove " + o.out.string() +
                           ", to start afresh");
    check_same_sweep(config_path, *recorded, config, rows.size());
  } else {
    write_sweep_config(config_path, config);
  }
  std::set<CellKey> done;
  for (auto& r : rows) {
    r.sparsity = canonical(r.sparsity);
    r.depth = canonical(r.depth);
    done.insert(key_of(r));
  }

  const LlamaModel model = o.random_weights ? LlamaModel::random(declared, 0, dtype, device)
                                            : LlamaModel::load(o.model, dtype, device);
  const ModelConfig& shape = model.config();
  std::vector<int64_t> stop_ids(shape.eos_token_ids.begin(), shape.eos_token_ids.end());

  // The methods and their patterns, per sparsity.
  struct Method {
    std::string name;
    int64_t seed;
    double sparsity;
    std::vector<uint8_t> retrieval;
  };
  std::vector<Method> methods;
  auto add_methods = [&](double s, std::vector<uint8_t> duo_retrieval) {
    methods.push_back({"duo", 0, s, std::move(duo_retrieval)});
    if (s > 0 && s < 1)
      for (int64_t seed = 1; seed <= o.random_seeds; ++seed)
        methods.push_back({"random", seed, s, random_retrieval(gates.count(), s, uint64_t(seed))});
  };
  if (o.pattern) {
    if (o.pattern->retrieval.size() != size_t(gates.count()))
      throw Error(gates.source, "the pattern's shape differs from the gates'");
    add_methods(canonical(o.pattern->sparsity), o.pattern->retrieval);
  } else {
    for (double s : o.sparsities) add_methods(canonical(s), select_by_sparsity(gates, canonical(s)).retrieval);
  }
  // The passkey and niah tasks run at every depth; an evaluation task places its own needles.
  auto depths_of = [&](const std::string& task) {
    return is_grid_task(task) ? o.depths : std::vector<double>{kTaskOwnDepth};
  };
  int64_t total = 0, finished = 0;
  for (int64_t length : o.lengths)
    for (const std::string& task : o.tasks)
      for (double depth : depths_of(task))
        for (int64_t sample = 0; sample < o.samples; ++sample)
          for (const Method& m : methods) {
            ++total;
            finished += done.count({task, m.name, m.seed, m.sparsity, length, canonical(depth), sample});
          }
  ProgressBar bar("sweep", total, finished, "tok", 10);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };

  // One sample's prompt and what its answer is scored against.
  struct Prompt {
    std::vector<int64_t> ids;
    std::vector<int32_t> answer;             // passkey/niah: the expected tokens
    std::optional<synth::EvalSample> eval;   // evaluation tasks: the sample the scorer checks
    int64_t budget = 0;                      // tokens decoded at most
  };
  for (int64_t length : o.lengths) {
    for (const std::string& task : o.tasks) {
      for (double depth_raw : depths_of(task)) {
        const double depth = canonical(depth_raw);
        std::optional<synth::PasskeyGenerator> grid_task;  // built only if a cell of it is missing
        for (int64_t sample = 0; sample < o.samples; ++sample) {
          std::optional<Prompt> prompt;
          for (const Method& m : methods) {
            SweepRow row{task, m.name, m.seed, m.sparsity, length, depth, sample};
            if (done.count(key_of(row))) continue;
            if (!prompt) {
              prompt.emplace();
              if (is_grid_task(task)) {
                if (!grid_task) grid_task.emplace(grid_task_config(o, task, length, depth), tokenizer);
                const auto s = grid_task->sample(sample);
                const auto& span = s.answer_spans.at(0);
                prompt->ids.assign(s.ids.begin(), s.ids.begin() + span.start);
                prompt->answer.assign(s.ids.begin() + span.start, s.ids.begin() + span.end);
                prompt->budget = int64_t(prompt->answer.size());
              } else {
                prompt->eval = eval_tasks.at(task).sample(sample, length);
                const auto ids = tokenizer.encode(prompt->eval->prompt);
                if (int64_t(ids.size()) != length)
                  throw Error(task + " sample " + std::to_string(sample) + ": its prompt encodes to " +
                              std::to_string(ids.size()) + " tokens, not " + std::to_string(length));
                prompt->ids.assign(ids.begin(), ids.end());
                prompt->budget = prompt->eval->tokens_to_generate;
              }
            }
            auto ids = at::tensor(prompt->ids, at::kLong).unsqueeze(0).to(device);

            const HeadPattern pattern = head_pattern(m.retrieval, gates, window);
            Decoder::Options decoding;
            decoding.chunk = o.chunk;
            Decoder decoder(model, pattern, ids.size(1) + prompt->budget, decoding);
            sync();
            auto t0 = std::chrono::steady_clock::now();
            auto logits = decoder.prefill(ids);
            sync();
            auto t1 = std::chrono::steady_clock::now();
            auto got = decoder.greedy(logits, prompt->budget, stop_ids);
            sync();
            auto t2 = std::chrono::steady_clock::now();

            if (prompt->eval) {
              const std::vector<int32_t> got_ids(got.begin(), got.end());
              const std::string text = tokenizer.decode(got_ids, /*skip_special_tokens=*/true);
              row.score = score_answer(*prompt->eval, got, tokenizer);
              // What the model said, for reading next to the score (not read back on resume).
              const nlohmann::ordered_json said = {{"task", task},       {"method", m.name}, {"seed", m.seed},
                                                   {"sparsity", m.sparsity}, {"length", length}, {"sample", sample},
                                                   {"score", row.score}, {"prediction", text},
                                                   {"answers", prompt->eval->answers}};
              append_text_file(o.out / "predictions.jsonl", said.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
              row.exact = row.score == 1 ? 1 : 0;
              row.overlap = row.score;
            } else {
              const auto& answer = prompt->answer;
              row.exact = std::equal(answer.begin(), answer.end(), got.begin(), got.end()) ? 1 : 0;
              row.overlap = overlap_f1(got, answer);
              row.score = row.exact;
            }
            row.kv_bytes = decoder.cache().kv_bytes();
            row.prefill_s = std::chrono::duration<double>(t1 - t0).count();
            row.decode_s_per_token = std::chrono::duration<double>(t2 - t1).count() / double(got.size());
            row.retrieval_heads = std::count(m.retrieval.begin(), m.retrieval.end(), uint8_t{1});
            append_sweep_csv(csv, row);
            rows.push_back(row);
            done.insert(key_of(row));
            bar.update(++finished, ids.size(1),
                       {{"task", task}, {"sparsity", format_number(m.sparsity, 3)}, {"method", m.name},
                        {"len", std::to_string(length)}});
          }
        }
      }
    }
  }
  bar.finish();
  return rows;
}

std::string sweep_summary(const std::vector<SweepRow>& rows) {
  struct Acc {
    double exact = 0, overlap = 0;
    int64_t n = 0;
  };
  std::map<std::tuple<std::string, double, std::string>, Acc> by;
  for (const auto& r : rows) {
    if (!is_grid_task(r.task)) continue;
    auto& a = by[{r.task, r.sparsity, r.method}];
    a.exact += r.exact;
    a.overlap += r.overlap;
    ++a.n;
  }
  if (by.empty()) return "";
  std::ostringstream out;
  out << "task     sparsity  method   cells  exact_match  token_f1\n";
  for (const auto& [key, a] : by) {
    const auto& [task, sparsity, method] = key;
    char line[160];
    std::snprintf(line, sizeof line, "%-8s %8.3f  %-7s %6lld  %11.3f  %8.3f\n", task.c_str(), sparsity,
                  method.c_str(), (long long)a.n, a.exact / double(a.n), a.overlap / double(a.n));
    out << line;
  }
  return out.str();
}

}  // namespace duo::analysis
