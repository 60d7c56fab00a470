"""The signing secret of an installation without SECRET_KEY: random, made once, kept in the data folder."""

import os
import secrets
from pathlib import Path

FILE_NAME = "secret_key"


def load_or_create_secret(data_dir: Path) -> str:
    """The secret in `DATA_DIR/secret_key` (mode 0600), created on first start. Reusing it keeps tokens
    valid and the search index's owner keys stable across restarts."""
    from market.runtime import StartupError

    path = data_dir / FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise StartupError(f"{path} holds no usable secret: delete it to generate a new one "
                               "(everyone signed in signs in again)") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    return secret
