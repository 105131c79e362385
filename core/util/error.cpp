#include "util/error.h"

namespace duo {

Error::Error(const std::filesystem::path& path, const std::string& problem)
    : std::runtime_error(path.string() + ": " + problem) {}

std::string user_message(const std::exception& e) {
  std::string message = e.what();
  const size_t frames = message.find("\nException raised from ");
  if (frames != std::string::npos) message.erase(frames);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

}  // namespace duo
