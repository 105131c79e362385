// config.json → ModelConfig, accepting both the transformers 4 layout (rope_theta and
// rope_scaling at top level) and the transformers 5 one (rope_parameters).
#include "model/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace duo {
namespace {

using nlohmann::json;

struct Arch {
  Architecture arch;
  std::string_view name;
  std::string_view model_type;
};
constexpr Arch kArchs[] = {
    {Architecture::Llama, "LlamaForCausalLM", "llama"},
    {Architecture::Mistral, "MistralForCausalLM", "mistral"},
    {Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2"},
    {Architecture::Qwen3, "Qwen3ForCausalLM", "qwen3"},
};

class Reader {
 public:
  Reader(const json& j, const std::filesystem::path& path) : j_(j), path_(path) {}

  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  Error bad(const std::string& key, const std::string& problem) const {
    return Error(path_, "\"" + key + "\" " + problem);
  }
  int64_t positive_int(const char* key) const {
    const json* v = find(key);
    if (!v) throw bad(key, "is missing");
    return positive_int(*v, key);
  }
  // A JSON integer in [1, 2^63): 4096.0 or 1e30 are not, so no double is cast to an integer.
  int64_t positive_int(const json& v, const std::string& key) const {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) throw bad(key, "must be a positive integer");
    return v.get<int64_t>();
  }
  int64_t int_or(const char* key, int64_t fallback) const { return find(key) ? positive_int(key) : fallback; }
  double number(const json& v, const std::string& key) const {
    if (!v.is_number()) throw bad(key, "must be a number");
    return v.get<double>();
  }
  double positive_number_or(const char* key, double fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    double x = number(*v, key);
    if (!(x > 0)) throw bad(key, "must be positive");
    return x;
  }
  bool bool_or(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) throw bad(key, "must be true or false");
    return v->get<bool>();
  }
  // bos/eos: an integer or a list of integers (Llama 3.1 lists several EOS ids).
  std::vector<int64_t> ids(const char* key) const {
    const json* v = find(key);
    std::vector<int64_t> out;
    if (!v) return out;
    auto one = [&](const json& x) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0) throw bad(key, "must be a token id or a list of them");
      out.push_back(x.get<int64_t>());
    };
    if (v->is_array())
      for (const json& x : *v) one(x);
    else
      one(*v);
    return out;
  }

 private:
  const json& j_;
  const std::filesystem::path& path_;
};

RopeScaling parse_rope(const json& r, const Reader& rd, const std::string& key) {
  if (!r.is_object()) throw rd.bad(key, "must be an object");
  RopeScaling s;
  std::string type;
  if (auto t = r.find("rope_type"); t != r.end() && t->is_string()) type = t->get<std::string>();
  else if (auto t2 = r.find("type"); t2 != r.end() && t2->is_string()) type = t2->get<std::string>();
  else throw rd.bad(key, "names no \"rope_type\"");
  auto num = [&](const char* k, bool required, double fallback) {
    auto it = r.find(k);
    if (it == r.end() || it->is_null()) {
      if (required) throw rd.bad(key + "." + k, "is missing");
      return fallback;
    }
    return rd.number(*it, key + "." + k);
  };
  if (type == "default") return s;
  if (type == "linear") {
    s.type = RopeType::Linear;
    s.factor = num("factor", true, 1.0);
  } else if (type == "llama3") {
    s.type = RopeType::Llama3;
    s.factor = num("factor", true, 1.0);
    s.low_freq_factor = num("low_freq_factor", true, 1.0);
    s.high_freq_factor = num("high_freq_factor", true, 4.0);
    auto original = r.find("original_max_position_embeddings");
    if (original == r.end() || original->is_null())
      throw rd.bad(key + ".original_max_position_embeddings", "is missing");
    s.original_max_position_embeddings = rd.positive_int(*original, key + ".original_max_position_embeddings");
    if (s.high_freq_factor == s.low_freq_factor)
      throw rd.bad(key, "has equal low_freq_factor and high_freq_factor");
  } else {
    throw rd.bad(key, "has rope type '" + type + "', which duo does not support (default, linear, llama3)");
  }
  if (!(s.factor > 0)) throw rd.bad(key + ".factor", "must be positive");
  return s;
}

}  // namespace

std::string_view architecture_name(Architecture arch) {
  for (const auto& a : kArchs)
    if (a.arch == arch) return a.name;
  return "?";
}

ModelConfig parse_model_config(std::string_view text, const std::filesystem::path& path) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) throw Error(path, "is not valid JSON");
  if (!j.is_object()) throw Error(path, "is not a JSON object");
  Reader rd(j, path);
  ModelConfig c;

  // "architectures" names the class; a bare config (no model saved with it) has only model_type.
  const Arch* arch = nullptr;
  std::string named;
  if (const json* a = rd.find("architectures")) {
    if (!a->is_array() || a->empty() || !(*a)[0].is_string()) throw rd.bad("architectures", "must be a list of names");
    named = (*a)[0].get<std::string>();
    for (const auto& k : kArchs)
      if (k.name == named) arch = &k;
  } else if (const json* m = rd.find("model_type"); m && m->is_string()) {
    named = "model_type " + m->get<std::string>();
    for (const auto& k : kArchs)
      if (k.model_type == m->get<std::string>()) arch = &k;
  } else {
    throw Error(path, "names neither \"architectures\" nor \"model_type\"");
  }
  if (!arch)
    throw Error(path, "unknown architecture '" + named +
                          "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");
  c.architecture = arch->arch;

  if (const json* act = rd.find("hidden_act"); act && !(act->is_string() && act->get<std::string>() == "silu"))
    throw rd.bad("hidden_act", "is not \"silu\", the only activation duo implements");

  c.hidden_size = rd.positive_int("hidden_size");
  c.intermediate_size = rd.positive_int("intermediate_size");
  c.num_hidden_layers = rd.positive_int("num_hidden_layers");
  c.num_attention_heads = rd.positive_int("num_attention_heads");
  c.num_key_value_heads = rd.int_or("num_key_value_heads", c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw rd.bad("num_key_value_heads", "must divide num_attention_heads");
  if (rd.find("head_dim")) {
    c.head_dim = rd.positive_int("head_dim");
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      throw rd.bad("hidden_size", "is not a multiple of num_attention_heads and no head_dim is given");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) throw rd.bad("head_dim", "must be even for rotary embeddings");
  c.vocab_size = rd.positive_int("vocab_size");
  c.rms_norm_eps = rd.positive_number_or("rms_norm_eps", 1e-6);
  c.max_position_embeddings = rd.int_or("max_position_embeddings", 0);
  c.tie_word_embeddings = rd.bool_or("tie_word_embeddings", false);

  if (const json* pr = rd.find("partial_rotary_factor"); pr && rd.number(*pr, "partial_rotary_factor") != 1.0)
    throw rd.bad("partial_rotary_factor", "is not 1, which duo does not support");

  // transformers 5 writes rope_parameters {rope_theta, rope_type, ...}; older files write
  // rope_theta at top level and rope_scaling (null for plain RoPE).
  c.rope_theta = rd.positive_number_or("rope_theta", 10000.0);
  if (const json* rp = rd.find("rope_parameters")) {
    c.rope_scaling = parse_rope(*rp, rd, "rope_parameters");
    if (auto t = rp->find("rope_theta"); t != rp->end() && !t->is_null())
      c.rope_theta = rd.number(*t, "rope_parameters.rope_theta");
  } else if (const json* rs = rd.find("rope_scaling")) {
    c.rope_scaling = parse_rope(*rs, rd, "rope_scaling");
  }
  if (!(c.rope_theta > 0)) throw rd.bad("rope_theta", "must be positive");

  // Which projections carry biases differs per architecture, as in transformers' modeling files.
  const bool bias = rd.bool_or("attention_bias", false);
  switch (c.architecture) {
    case Architecture::Llama:
      c.attention_bias = c.o_bias = bias;
      c.mlp_bias = rd.bool_or("mlp_bias", false);
      break;
    case Architecture::Mistral:
      break;  // no biases anywhere
    case Architecture::Qwen2:
      c.attention_bias = true;  // always q/k/v biases, never an o_proj bias
      break;
    case Architecture::Qwen3:
      c.attention_bias = c.o_bias = bias;
      c.qk_norm = true;
      break;
  }

  bool window_used = c.architecture == Architecture::Mistral || rd.bool_or("use_sliding_window", false);
  if (window_used && rd.find("sliding_window")) c.sliding_window = rd.int_or("sliding_window", 0);

  c.bos_token_ids = rd.ids("bos_token_id");
  c.eos_token_ids = rd.ids("eos_token_id");
  for (const char* key : {"dtype", "torch_dtype"})
    if (const json* d = rd.find(key); d && d->is_string()) c.torch_dtype = d->get<std::string>();
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open (a checkpoint directory needs config.json)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_model_config(ss.str(), path);
}

}  // namespace duo
