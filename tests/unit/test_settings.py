"""Which signing secrets each environment accepts."""

import pytest
from pydantic import ValidationError

from market.settings import DEV_SECRET, Settings

REAL = "k3J9-vQ2xZp8LmN4rT7yWb1cD6fGh0sA"  # 32 bytes, random-looking


@pytest.mark.parametrize(("environment", "secret", "accepted"), [
    ("test", None, True),
    ("test", DEV_SECRET, True),
    ("development", None, True),  # the CLI generates one into DATA_DIR
    ("development", DEV_SECRET, False),
    ("development", "x", True),
    ("development", REAL, True),
    ("production", None, False),
    ("production", DEV_SECRET, False),
    ("production", "x", False),
    ("production", "changeme", False),
    ("production", "changeme" * 4, False),
    ("production", "x" * 40, False),
    ("production", REAL[:31], False),
    ("production", REAL, True),
])
def test_secret_key_by_environment(environment, secret, accepted):
    values = {"secret_key": secret} if secret is not None else {}
    if accepted:
        settings = Settings(_env_file=None, environment=environment, **values)
        assert settings.secret_key == (secret or (DEV_SECRET if environment == "test" else None))
    else:
        with pytest.raises(ValidationError, match="SECRET_KEY"):
            Settings(_env_file=None, environment=environment, **values)
