"""The project's error classes: problems with what the user gave us (a config, data, a checkpoint,
a run that diverged). The `mae` command prints these as one line; any other exception is a bug and
keeps its traceback. Each also derives from the builtin that describes it (ValueError for a bad
value), so callers that catch the builtin keep working."""


class MAEError(Exception):
    """Base class: an input or run problem the user can fix, reported in one line."""


class ConfigError(MAEError, ValueError):
    """A config key or value that cannot work (unknown key, size not divisible by the patch, ...)."""


class DataError(MAEError, RuntimeError):
    """Missing data folder, no images, unreadable image."""


class CheckpointError(MAEError, RuntimeError):
    """Unreadable checkpoint, or one made for a different architecture."""


class NonFiniteLoss(MAEError, RuntimeError):
    """Training stopped at a nan/inf loss (the last good checkpoint is named in the message)."""
