// The owner of the one precompiled <torch/torch.h> that every torch target reuses
// (cmake/DcganPch.cmake). No code: the header is compiled once, with this target's flags.
