// The LSTM autoencoder of the time-series case study: an encoder LSTM reads a window
// (B, T, 1) and a linear layer makes its code (B, D) from the encoder's states; a decoder
// LSTM reads the code repeated at every step and a linear layer turns its states back into
// the window. Trained on the mean squared error of the reconstruction.
//
// The code is taken from the encoder's last hidden state ("last", the default) or from its
// hidden states averaged over time ("pooled"). Over a whole series of random phase, neither
// clusters by shape; over short windows, the last state reconstructs best, and pooling
// happens a level up: `tide timeseries cluster` describes a series by the mean and spread of
// its windows' codes, which no longer depend on where the pattern starts (docs/timeseries.md
// has the measurements).
//
// Parameter names follow the PyTorch module of bench/timeseries_reference.py
// (encoder.weight_ih_l0, to_code.weight, decoder..., output...), so weights move both ways.
#pragma once

#include <memory>
#include <string>

#include "tide/core/rng.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/recurrent.hpp"

namespace tide {

struct AutoencoderOptions {
  int64_t hidden = 64;        // LSTM units, encoder and decoder
  int64_t latent = 16;        // the code's size
  int64_t layers = 1;         // LSTM layers, encoder and decoder
  std::string code = "last";  // last | pooled
};

class LstmAutoencoder : public Module {
 public:
  LstmAutoencoder(AutoencoderOptions options, RngStream& rng);
  // x (B, T, 1) -> code (B, latent).
  Variable encode(const Variable& x);
  // code (B, latent) -> reconstruction (B, length, 1).
  Variable decode(const Variable& code, int64_t length);
  Variable forward(const Variable& x) override { return decode(encode(x), x.dim(1)); }
  std::string describe() const override;
  const AutoencoderOptions& options() const { return options_; }

 private:
  AutoencoderOptions options_;
  std::shared_ptr<Recurrent> encoder_, decoder_;
  std::shared_ptr<Linear> to_code_, output_;
};

}  // namespace tide
