"""Errors that the CLI turns into one clear message and a non-zero exit."""


class ViewrankError(Exception):
    """A user-facing error: the message names the bad input and what to do."""


class PluginLoadError(ViewrankError):
    """A third-party plugin could not be loaded; the message names its distribution."""


class UnknownNameError(ViewrankError, KeyError):
    """A registry lookup for a name nobody registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
