"""pytest fixtures for testing Kafka consumers of AliECS's messages against ecsim.

Installed with the ``ecsim`` wheel, which also installs the ``ecsim`` command; the fixtures are
registered with pytest by the wheel's ``pytest11`` entry point (``ecsim.pytest_plugin``).
"""

from ecsim.pytest_plugin import Broker, Run, Serve, ecsim_command

__all__ = ["Broker", "Run", "Serve", "ecsim_command"]
