"""klavi-mock: an offline, stateful mock of the Klavi Open Finance API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("klavi-mock")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
