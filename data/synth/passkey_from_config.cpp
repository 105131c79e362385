// TrainConfig::Data -> PasskeyConfig, key by key.
#include "synth/passkey_from_config.h"

namespace duo::synth {

PasskeyConfig passkey_config(const TrainConfig& config) {
  const TrainConfig::Data& d = config.data;
  PasskeyConfig p;
  p.haystack.files.assign(d.haystack.begin(), d.haystack.end());
  p.haystack.format = d.format == duo::HaystackFormat::jsonl ? HaystackFormat::jsonl : HaystackFormat::text;
  p.haystack.jsonl_field = d.jsonl_field;
  p.seed = d.seed;
  p.num_passkeys = d.num_passkeys;
  p.passkey_words = d.passkey_words;
  p.word_list = d.word_list;
  p.depth_min = d.depth_min;
  p.depth_max = d.depth_max;
  p.depth_count = d.depth_count;
  p.context_min = d.context_min;
  p.context_max = d.context_max;
  p.context_count = d.context_count;
  p.shuffle = d.shuffle;
  p.prefix = d.prefix;
  p.suffix = d.suffix;
  p.separator = d.separator;
  p.needle = d.needle;
  p.question = d.question;
  p.answer_prefix = d.answer_prefix;
  return p;
}

}  // namespace duo::synth
