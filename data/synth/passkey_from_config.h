// The data section of a training config (train/config.h) as the generator's PasskeyConfig.
// Kept apart from both so that duo_synth needs no config code and the config no synth code.
#pragma once
#include "synth/passkey.h"
#include "train/config.h"

namespace duo::synth {

PasskeyConfig passkey_config(const TrainConfig& config);

}  // namespace duo::synth
