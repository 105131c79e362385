// A progress bar for long runs: step, named figures (loss parts, lr), items/s and ETA.
// On a terminal it redraws one line; otherwise (logs, CI) it prints a plain line every
// `plain_every` updates so that log files stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace duo {

class ProgressBar {
 public:
  // total: number of steps; start: steps already done (a resumed run); unit: what the rate
  // counts ("tok" for tokens/s).
  ProgressBar(std::string label, int64_t total, int64_t start, std::string unit,
              int64_t plain_every = 10, std::FILE* out = stderr);
  ~ProgressBar();

  // Marks `done` steps finished, `items` more counted towards the rate, and shows `fields`.
  void update(int64_t done, int64_t items,
              const std::vector<std::pair<std::string, std::string>>& fields);
  // Ends the line (on a terminal) and prints a final plain summary line.
  void finish();

  static std::string format_duration(double seconds);  // "1h02m", "3m07s", "12s"

 private:
  std::string render(bool for_terminal) const;

  std::string label_, unit_;
  int64_t total_, start_, done_, plain_every_;
  int64_t items_ = 0;
  std::vector<std::pair<std::string, std::string>> fields_;
  std::chrono::steady_clock::time_point t0_;
  double elapsed_ = 0;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
};

// Formats a number with `digits` significant digits ("0.0123", "1.5e-05").
std::string format_number(double value, int digits = 4);

}  // namespace duo
