#include "util/error.h"

namespace duo {

Error::Error(const std::filesystem::path& path, const std::string& problem)
    : std::runtime_error(path.string() + ": " + problem) {}

std::string user_message(const std::exception& e) {
  std::string message = e.what();
  // c10::Error ends in "Exception raised from ..." and its frames; an enforce failure such as the
  // allocator's "can't allocate memory" has only the frames, "frame #0: ...".
  for (const char* start : {"\nException raised from ", "\nframe #0: "}) {
    const size_t frames = message.find(start);
    if (frames != std::string::npos) message.erase(frames);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

}  // namespace duo
