// The text of each shipped model file (models/NAME.toml), by name, compiled in.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace tide {

const std::vector<std::pair<std::string_view, std::string_view>>& shipped_model_texts();

}  // namespace tide
