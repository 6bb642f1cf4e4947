"""Release configuration: models, loading, digest."""

from .card import CardConfig
from .loading import ConfigError, config_digest, load_config, release_identity, validate_config
from .models import CorruptionRequest, ReleaseConfig, expand_name

__all__ = ["CardConfig", "ConfigError", "CorruptionRequest", "ReleaseConfig", "config_digest", "expand_name", "load_config",
           "release_identity", "validate_config"]
