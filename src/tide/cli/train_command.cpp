#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/train/models.hpp"
#include "tide/train/trainer.hpp"

namespace tide::cli {

void add_train_command(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("train", "Train a classifier on MNIST, Fashion-MNIST or an image folder");
  auto config = std::make_shared<TrainConfig>();
  auto config_path = std::make_shared<std::string>();
  cmd->add_option("--config", *config_path, "TOML file setting any of these options (flags win)");
  cmd->add_option("--model", config->model, "Model to train")
      ->check(CLI::IsMember(model_names()))
      ->capture_default_str();
  cmd->add_option("--dataset", config->dataset, "Dataset")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "folder"}))
      ->capture_default_str();
  cmd->add_option(
      "--data-dir", config->data_dir,
      "IDX files, or train/ and val/ image folders (default: the dataset's install location)");
  cmd->add_option("--image-size", config->image_size,
                  "folder: images are resized and cropped to this size")
      ->capture_default_str();
  cmd->add_option("--epochs", config->epochs, "Passes over the training set")
      ->capture_default_str();
  cmd->add_option("--max-steps", config->max_steps, "Stop after this many steps (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--batch-size", config->batch_size, "Examples per step")->capture_default_str();
  cmd->add_option("--lr", config->lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", config->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", config->weight_decay, "L2 penalty")->capture_default_str();
  cmd->add_flag("--nesterov", config->nesterov, "Use Nesterov momentum");
  cmd->add_option("--lr-schedule", config->schedule.kind,
                  fmt::format("Learning-rate schedule over the run: {}", schedule_names()))
      ->capture_default_str();
  cmd->add_option("--warmup-steps", config->schedule.warmup_steps,
                  "Steps of linear warm-up before the schedule")
      ->capture_default_str();
  cmd->add_option("--min-lr", config->schedule.min_lr, "cosine: the learning rate at the end")
      ->capture_default_str();
  cmd->add_option("--seed", config->seed, "Seed of every random stream")->capture_default_str();
  cmd->add_option("--threads", config->threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--run-dir", config->run_dir,
                  "Output directory (default: runs/<model>-<dataset>-<time>)");
  cmd->add_option("--log-every", config->log_every, "Steps between metrics rows")
      ->capture_default_str();
  cmd->add_option("--prefetch", config->prefetch, "Batches prepared ahead")->capture_default_str();
  cmd->callback([cmd, config, config_path] {
    if (!config_path->empty()) apply_config_file(*cmd, *config_path);
    const TrainSummary s = train_classifier(*config);
    fmt::print("test accuracy {:.4f}  test loss {:.4f}  ({} steps, {:.0f} samples/s, {:.1f} s)\n",
               s.test_accuracy, s.test_loss, s.steps, s.samples_per_sec, s.wall_s);
    fmt::print("run directory: {}\n", s.run_dir);
  });
}

}  // namespace tide::cli
