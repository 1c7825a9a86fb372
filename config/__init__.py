"""Settings of the dossier service: defaults, instance file, DOSSIER_* variables, overrides."""

from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
