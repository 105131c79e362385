#include "util/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace duo {

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t start, std::string unit,
                         int64_t plain_every, std::FILE* out)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(start),
      done_(start),
      plain_every_(std::max<int64_t>(1, plain_every)),
      t0_(std::chrono::steady_clock::now()),
      out_(out),
      tty_(isatty(fileno(out)) != 0) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && tty_) std::fputc('\n', out_);
}

std::string format_number(double value, int digits) {
  std::ostringstream s;
  s.precision(digits);
  s << value;
  return s.str();
}

std::string ProgressBar::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  return buf;
}

std::string ProgressBar::render(bool for_terminal) const {
  std::ostringstream line;
  line << label_ << " ";
  if (for_terminal) {
    constexpr int kWidth = 24;
    double frac = total_ > 0 ? double(done_) / double(total_) : 1.0;
    int filled = static_cast<int>(frac * kWidth);
    line << "[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] ";
  }
  line << done_ << "/" << total_;
  for (const auto& [name, value] : fields_) line << " " << name << "=" << value;
  double rate = elapsed_ > 0 ? double(items_) / elapsed_ : 0.0;
  line << " " << format_number(rate, 3) << " " << unit_ << "/s";
  int64_t steps_run = done_ - start_;
  double eta = steps_run > 0 ? elapsed_ / double(steps_run) * double(total_ - done_) : NAN;
  line << " elapsed " << format_duration(elapsed_) << " eta " << format_duration(eta);
  return line.str();
}

void ProgressBar::update(int64_t done, int64_t items,
                         const std::vector<std::pair<std::string, std::string>>& fields) {
  done_ = done;
  items_ += items;
  fields_ = fields;
  elapsed_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", render(true).c_str());
  } else if ((done_ - start_) % plain_every_ == 0 || done_ == total_) {
    std::fprintf(out_, "%s\n", render(false).c_str());
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_) std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace duo
