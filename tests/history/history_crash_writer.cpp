// Writer process for the crash test: creates (or resumes) a history and appends synthetic steps
// as fast as it can, printing "committed <step>" after each append returns, until it is killed.
//
// usage: history_crash_writer create FILE FSYNC
//        history_crash_writer resume FILE NEXT_STEP FSYNC      (FSYNC: 0 or 1)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "history/history_writer.h"
#include "synthetic_steps.h"
#include "util/error.h"

int main(int argc, char** argv) {
  return duo::run_main("history_crash_writer", [&] {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (!((mode == "create" && argc == 4) || (mode == "resume" && argc == 5))) {
      std::fprintf(stderr, "usage: history_crash_writer create FILE FSYNC | resume FILE NEXT_STEP FSYNC\n");
      return 2;
    }
    duo::HistoryWriter::Options options;
    options.overwrite = true;
    options.fsync = std::string(argv[argc - 1]) == "1";
    const duo::HistoryMeta meta = duo::test::synthetic_meta();
    int64_t step = 0;
    duo::HistoryWriter writer = [&] {
      if (mode == "create") return duo::HistoryWriter::create(argv[2], meta, options);
      step = std::atoll(argv[3]);
      return duo::HistoryWriter::resume(argv[2], step, options);
    }();
    std::printf("ready %lld\n", static_cast<long long>(writer.rows()));
    std::fflush(stdout);
    for (;; ++step) {
      writer.append(duo::test::synthetic_step(meta, step));
      std::printf("committed %lld\n", static_cast<long long>(step));
      std::fflush(stdout);
    }
  });
}
