// The layer types a model file may name: one row each, its keys and how it is built.
#include <algorithm>
#include <numeric>

#include <fmt/ranges.h>

#include "tide/models/layer_spec.hpp"
#include "tide/nn/attention.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

using K2 = std::array<int64_t, 2>;

// A layer's weights and its output for one sample are each at most 2^30 values (4 GiB), and
// so is every size a layer is given: checked before anything is allocated (and before sizes
// are multiplied), so a mistyped size is an error, not a machine out of memory.
constexpr double kMaxValues = 1073741824.0;
constexpr int64_t kMaxSize = int64_t{1} << 30;

int64_t positive(const LayerSpec& s, std::string_view key, std::optional<int64_t> fallback = {}) {
  const int64_t v = s.integer(key, fallback);
  if (v <= 0 || v > kMaxSize)
    s.fail("{} must be a positive integer of at most 2^30, got {}", key, v);
  return v;
}

K2 positive_pair(const LayerSpec& s, std::string_view key, K2 fallback) {
  const K2 v = s.pair(key, fallback);
  for (const int64_t x : v)
    if (x <= 0 || x > kMaxSize)
      s.fail("{} must be positive and at most 2^30, got [{}, {}]", key, v[0], v[1]);
  return v;
}

K2 non_negative_pair(const LayerSpec& s, std::string_view key) {
  const K2 v = s.pair(key, {0, 0});
  for (const int64_t x : v)
    if (x < 0 || x > kMaxSize) s.fail("{} must be from 0 to 2^30, got [{}, {}]", key, v[0], v[1]);
  return v;
}

double probability(const LayerSpec& s, std::string_view key, double fallback) {
  const double p = s.number(key, fallback);
  if (!(p >= 0 && p < 1)) s.fail("{} must be in [0, 1), got {}", key, p);
  return p;
}

template <typename... Factors>
void check_size(const LayerSpec& s, const char* what, Factors... factors) {
  const double n = (1.0 * ... * static_cast<double>(factors));
  if (n > kMaxValues)
    s.fail("its {} would hold {:.3g} values; a layer may hold at most 2^30 (4 GiB)", what, n);
}

template <typename M>
BuiltLayer module(std::shared_ptr<M> m) {
  return BuiltLayer{.module = std::move(m), .parameter = {}};
}

BuiltLayer build_linear(const LayerSpec& s, const Shape& in, BuildContext& c) {
  const std::string init = s.text("init", "torch");
  static const std::map<std::string, LinearInit> inits = {{"torch", LinearInit::torch_default},
                                                          {"kaiming", LinearInit::kaiming},
                                                          {"xavier", LinearInit::xavier}};
  const auto it = inits.find(init);
  if (it == inits.end()) s.fail("init must be torch, kaiming or xavier, got '{}'", init);
  const int64_t units = positive(s, "units");
  check_size(s, "weight", units, in[in.ndim() - 1]);
  check_size(s, "output", units);
  return module(
      std::make_shared<Linear>(in[in.ndim() - 1], units, c.rng, s.flag("bias", true), it->second));
}

// padding = "same" keeps the size at stride 1, as PyTorch's padding='same' does for the
// kernels whose padding is symmetric.
K2 conv_padding(const LayerSpec& s, K2 kernel, K2 dilation, K2 stride) {
  const toml::node* p = s.table().get("padding");
  if (p == nullptr || !p->is_string()) return non_negative_pair(s, "padding");
  const std::string text = s.text("padding");
  if (text != "same") s.fail("padding must be a size, [height, width] or \"same\", got '{}'", text);
  if (stride != K2{1, 1})
    s.fail("padding = \"same\" needs stride 1, got [{}, {}]", stride[0], stride[1]);
  K2 pad{};
  for (int i = 0; i < 2; ++i) {
    const int64_t total = dilation[i] * (kernel[i] - 1);
    if (total % 2 != 0)
      s.fail(
          "padding = \"same\" with kernel [{}, {}] and dilation [{}, {}] pads one side more "
          "than the other, which Tide's convolution does not do; give an odd kernel",
          kernel[0], kernel[1], dilation[0], dilation[1]);
    pad[i] = total / 2;
  }
  return pad;
}

// torch.nn.Conv2d's padding_mode names.
PaddingMode padding_mode(const LayerSpec& s) {
  const std::string name = s.text("padding_mode", "zeros");
  for (const PaddingMode m :
       {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate, PaddingMode::circular})
    if (name == padding_mode_name(m)) return m;
  s.fail("padding_mode must be zeros, reflect, replicate or circular, got '{}'", name);
}

BuiltLayer build_conv2d(const LayerSpec& s, const Shape& in, BuildContext& c) {
  const K2 kernel = positive_pair(s, "kernel", {0, 0});
  const K2 stride = positive_pair(s, "stride", {1, 1});
  const K2 dilation = positive_pair(s, "dilation", {1, 1});
  const int64_t groups = positive(s, "groups", 1);
  const int64_t channels = positive(s, "channels");
  if (in[1] % groups != 0 || channels % groups != 0)
    s.fail("groups = {} must divide the input's {} channels and the output's {}", groups, in[1],
           channels);
  const Conv2dOptions o{.stride = stride,
                        .padding = conv_padding(s, kernel, dilation, stride),
                        .dilation = dilation,
                        .groups = groups,
                        .padding_mode = padding_mode(s)};
  check_size(s, "weight", channels, in[1] / groups, kernel[0], kernel[1]);
  check_size(s, "output", channels, in[2] + 2 * o.padding[0], in[3] + 2 * o.padding[1]);
  return module(std::make_shared<Conv2d>(in[1], channels, kernel, c.rng, o, s.flag("bias", true)));
}

// max_pool2d takes dilation, avg_pool2d count_include_pad (the table's keys refuse the other).
Pool2dOptions pool_options(const LayerSpec& s) {
  const K2 kernel = positive_pair(s, "kernel", {2, 2});
  return Pool2dOptions{.kernel = kernel,
                       .stride = positive_pair(s, "stride", kernel),
                       .padding = non_negative_pair(s, "padding"),
                       .dilation = positive_pair(s, "dilation", {1, 1}),
                       .ceil_mode = s.flag("ceil_mode", false),
                       .count_include_pad = s.flag("count_include_pad", true)};
}

std::function<BuiltLayer(const LayerSpec&, const Shape&, BuildContext&)> recurrent_of(
    RecurrentKind kind) {
  return [kind](const LayerSpec& s, const Shape& in, BuildContext& c) {
    const std::string output = s.text("output", "sequence");
    if (output != "sequence" && output != "last_state")
      s.fail("output must be sequence or last_state, got '{}'", output);
    const bool bidirectional = s.flag("bidirectional", false);
    const int64_t dirs = bidirectional ? 2 : 1, hidden = positive(s, "hidden");
    // A bidirectional layer after the first reads both directions' outputs (2 hidden).
    check_size(s, "weights", positive(s, "layers", 1), dirs * 4 * hidden,
               (bidirectional ? std::max(in[2], 2 * hidden) : in[2]) + hidden);
    RecurrentOptions o{.kind = kind,
                       .input_size = in[2],
                       .hidden_size = hidden,
                       .num_layers = positive(s, "layers", 1),
                       .bias = s.flag("bias", true),
                       .fused = true,
                       .last_state = output == "last_state",
                       .bidirectional = bidirectional,
                       .dropout = probability(s, "dropout", 0)};
    // Only a layer with dropout takes a dropout id, so the masks of the files' other dropouts
    // stay those of files written before recurrent layers had it.
    if (o.dropout > 0) {
      o.seed = c.seed;
      o.id = c.dropouts++;
    }
    return module(std::make_shared<Recurrent>(o, c.rng));
  };
}

BuiltLayer build_encoder(const LayerSpec& s, const Shape& in, BuildContext& c) {
  const std::string activation = s.text("activation", "relu");
  if (activation != "relu" && activation != "gelu")
    s.fail("activation must be relu or gelu, got '{}'", activation);
  const int64_t heads = positive(s, "heads");
  if (in[2] % heads != 0)
    s.fail("heads = {} must divide the input's width {} (input {})", heads, in[2], in.str());
  check_size(s, "weights", in[2], 4 * in[2] + 2 * positive(s, "feedforward"));
  TransformerOptions o{.d_model = in[2],
                       .num_heads = heads,
                       .dim_feedforward = positive(s, "feedforward"),
                       .dropout = probability(s, "dropout", 0.1),
                       .gelu = activation == "gelu",
                       .norm_first = s.flag("norm_first", false),
                       .seed = 0,
                       .id = c.encoders++};
  o.seed = c.rng.next_u32();  // drawn before the weights, as the built-in transformer did
  return module(std::make_shared<TransformerEncoderLayer>(o, c.rng));
}

// The branches of a concat or add: each a layer table, all given the same input.
template <typename Joint>
BuiltLayer branches(const LayerSpec& s, const Shape& in, BuildContext& c,
                    std::shared_ptr<Joint> joint) {
  const toml::array& list = s.array("branches");
  if (list.empty()) s.fail("branches is empty");
  // Branches draw their weights in file order, or in the order `init_order` gives: the
  // built-in inception network of earlier versions drew its pooled branch first.
  std::vector<int64_t> order(list.size());
  std::iota(order.begin(), order.end(), 0);
  if (s.has("init_order")) {
    const std::vector<int64_t> given = s.integers("init_order");
    std::vector<int64_t> sorted = given;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != order)
      s.fail("init_order [{}] must list each of the {} branches once (0 to {})",
             fmt::join(given, ", "), list.size(), list.size() - 1);
    order = given;
  }
  std::vector<std::shared_ptr<Module>> built(list.size());
  std::vector<size_t> rows(list.size());
  for (const int64_t i : order) {
    const auto b = static_cast<size_t>(i);
    rows[b] = c.rows();
    built[b] = c.branch(s, list[b], fmt::format("{}.{}", s.label(), b), in).first;
  }
  if (s.has("init_order")) c.order_rows(rows);
  for (auto& m : built) joint->add(std::move(m));
  return module(std::move(joint));
}

int dimension(const LayerSpec& s, const Shape& in, std::string_view key, int64_t fallback) {
  const int64_t d = s.integer(key, fallback);
  if (d < 1 || d >= static_cast<int64_t>(in.ndim()))
    s.fail("{} = {} is not a dimension of the input {} after the batch's (1 to {})", key, d,
           in.str(), in.ndim() - 1);
  return static_cast<int>(d);
}

BuiltLayer activation(std::shared_ptr<Module> (*make)()) {
  return module(make());
}

}  // namespace

const std::vector<LayerKind>& layer_kinds() {
  using S = const LayerSpec&;
  using I = const Shape&;
  using C = BuildContext&;
  static const std::vector<LayerKind> kinds = {
      LayerKind{"linear", {"units", "bias", "init"}, 0, "(N, ..., features)", build_linear},
      LayerKind{
          "conv2d",
          {"channels", "kernel", "stride", "padding", "dilation", "groups", "bias", "padding_mode"},
          4,
          "(N, C, H, W)",
          build_conv2d},
      LayerKind{"max_pool2d",
                {"kernel", "stride", "padding", "dilation", "ceil_mode"},
                4,
                "(N, C, H, W)",
                [](S s, I, C) { return module(std::make_shared<MaxPool2d>(pool_options(s))); }},
      LayerKind{"avg_pool2d",
                {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"},
                4,
                "(N, C, H, W)",
                [](S s, I, C) { return module(std::make_shared<AvgPool2d>(pool_options(s))); }},
      LayerKind{"adaptive_avg_pool2d",
                {"size"},
                4,
                "(N, C, H, W)",
                [](S s, I in, C) {
                  const K2 size = positive_pair(s, "size", {0, 0});
                  check_size(s, "output", in[1], size[0], size[1]);
                  return module(std::make_shared<AdaptiveAvgPool2d>(size[0], size[1]));
                }},
      LayerKind{"batch_norm",
                {"momentum", "eps"},
                0,
                "(N, C) or (N, C, H, W)",
                [](S s, I in, C) {
                  if (in.ndim() != 2 && in.ndim() != 4)
                    s.fail("takes (N, C) or (N, C, H, W), got {}", in.str());
                  return module(std::make_shared<BatchNorm>(in[1], s.number("momentum", 0.1),
                                                            s.number("eps", 1e-5)));
                }},
      LayerKind{"layer_norm",
                {"eps"},
                0,
                "(N, ..., features)",
                [](S s, I in, C) {
                  return module(
                      std::make_shared<LayerNorm>(Shape{in[in.ndim() - 1]}, s.number("eps", 1e-5)));
                }},
      LayerKind{"relu", {}, 0, "", [](S, I, C) { return activation(make_relu); }},
      LayerKind{"sigmoid", {}, 0, "", [](S, I, C) { return activation(make_sigmoid); }},
      LayerKind{"tanh", {}, 0, "", [](S, I, C) { return activation(make_tanh); }},
      LayerKind{"gelu", {}, 0, "", [](S, I, C) { return activation(make_gelu); }},
      LayerKind{
          "identity", {}, 0, "", [](S, I, C) { return module(std::make_shared<Identity>()); }},
      LayerKind{"dropout",
                {"p"},
                0,
                "",
                [](S s, I, C c) {
                  return module(
                      std::make_shared<Dropout>(probability(s, "p", 0.5), c.seed, c.dropouts++));
                }},
      LayerKind{"flatten",
                {"start"},
                0,
                "",
                [](S s, I in, C) {
                  return module(std::make_shared<Flatten>(dimension(s, in, "start", 1)));
                }},
      LayerKind{
          "permute",
          {"dims"},
          0,
          "",
          [](S s, I in, C) {
            const std::vector<int64_t> dims = s.integers("dims");
            std::vector<int> order(dims.begin(), dims.end());
            std::vector<int> sorted = order;
            std::sort(sorted.begin(), sorted.end());
            bool ok = sorted.size() == static_cast<size_t>(in.ndim()) &&
                      (sorted.empty() || order[0] == 0);
            for (size_t i = 0; ok && i < sorted.size(); ++i) ok = sorted[i] == static_cast<int>(i);
            if (!ok)
              s.fail(
                  "dims [{}] must order all {} dimensions of the input {}, the batch's (0) first",
                  fmt::join(dims, ", "), in.ndim(), in.str());
            return module(std::make_shared<Permute>(std::move(order)));
          }},
      LayerKind{
          "mean",
          {"dim"},
          0,
          "",
          [](S s, I in, C) { return module(std::make_shared<Mean>(dimension(s, in, "dim", 1))); }},
      LayerKind{"lstm",
                {"hidden", "layers", "bias", "output", "bidirectional", "dropout"},
                3,
                "(N, T, features)",
                recurrent_of(RecurrentKind::lstm)},
      LayerKind{"gru",
                {"hidden", "layers", "bias", "output", "bidirectional", "dropout"},
                3,
                "(N, T, features)",
                recurrent_of(RecurrentKind::gru)},
      LayerKind{"rnn",
                {"hidden", "layers", "bias", "output", "bidirectional", "dropout"},
                3,
                "(N, T, features)",
                recurrent_of(RecurrentKind::rnn_tanh)},
      LayerKind{"transformer_encoder",
                {"heads", "feedforward", "dropout", "activation", "norm_first"},
                3,
                "(N, T, features)",
                build_encoder},
      LayerKind{"positions",
                {"std"},
                3,
                "(N, T, features)",
                [](S s, I in, C c) {
                  const double std = s.number("std", 0.02);
                  if (!(std > 0)) s.fail("std must be positive, got {}", std);
                  check_size(s, "positions", in[1], in[2]);
                  return BuiltLayer{.module = nullptr,
                                    .parameter = normal({in[1], in[2]}, 0.0, std, c.rng)};
                }},
      LayerKind{"sequential",
                {"layers"},
                0,
                "",
                [](S s, I in, C c) { return module(c.sequence(s, s.array("layers"), in)); }},
      LayerKind{"concat",
                {"dim", "branches", "init_order"},
                0,
                "",
                [](S s, I in, C c) {
                  return branches(s, in, c, std::make_shared<Concat>(dimension(s, in, "dim", 1)));
                }},
      LayerKind{"add",
                {"branches", "init_order"},
                0,
                "",
                [](S s, I in, C c) { return branches(s, in, c, std::make_shared<Sum>()); }},
  };
  return kinds;
}

}  // namespace tide
