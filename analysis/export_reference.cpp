// Export to the reference directory format: full_attention_heads.tsv + config.json.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "analysis/export.h"
#include "analysis/reference_tsv.h"
#include "util/error.h"
#include "util/text_file.h"

namespace duo::analysis {

void export_reference(const std::filesystem::path& dir, const Pattern& p, const GateSet& g) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) throw Error(dir, "cannot create the output directory");
  GateMatrix m;
  m.rows = p.num_layers;
  m.cols = p.num_kv_heads;
  for (float v : p.gates) m.values.push_back(std::clamp(static_cast<double>(v), 0.0, 1.0));
  write_reference_tsv(dir / "full_attention_heads.tsv", m);

  // The loaders read only sink_size and recent_size; the rest tells a reader where this came from
  // and which sparsity we chose (pass it to the reference's --sparsity to get the same heads).
  nlohmann::ordered_json config = {{"sink_size", p.window.sink},
                           {"recent_size", p.window.recent},
                           {"model_name", g.model_name},
                           {"sparsity", p.sparsity},
                           {"exported_by", std::string("duo-analyze ") + DUO_VERSION}};
  if (g.num_heads > 0) config["num_heads"] = g.num_heads;
  write_text_file(dir / "config.json", config.dump(2) + "\n");
}

}  // namespace duo::analysis
