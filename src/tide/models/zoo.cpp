#include "tide/models/zoo.hpp"

namespace tide {

ModelArguments model_arguments(const ModelOptions& options) {
  const ModelOptions defaults;
  ModelArguments out;
  if (options.hidden != defaults.hidden) out["hidden"] = options.hidden;
  if (options.dropout != defaults.dropout) out["dropout"] = options.dropout;
  if (options.batch_norm != defaults.batch_norm) out["batch_norm"] = options.batch_norm;
  return out;
}

std::shared_ptr<Module> make_model(const std::string& name, const Shape& sample_shape,
                                   int64_t classes, RngStream& rng, const ModelOptions& options) {
  const NetworkInputs inputs{.sample = sample_shape,
                             .classes = classes,
                             .arguments = model_arguments(options),
                             .seed = options.seed};
  return build_network(shipped_model(name), inputs, rng).module;
}

std::vector<std::string> model_names() {
  return shipped_model_names();
}

}  // namespace tide
