"""The first admin: created when the accounts table is empty; its password is printed once."""

from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path

from ..db import Database
from .passwords import generate_password, hash_password_async

log = logging.getLogger(__name__)


async def ensure_first_admin(db: Database, username: str, password_file: str = "") -> str | None:
    """Create the first admin if there is no account at all; return its password (else None)."""
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM accounts")
    if row and row["n"]:
        return None
    password = generate_password()
    pw_hash = await hash_password_async(password)
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM accounts")
        if (await cur.fetchone())[0]:
            return None
        await conn.execute(
            "INSERT INTO accounts (id, username, display_name, role, source, password_hash)"
            " VALUES (?, ?, ?, 'admin', 'local', ?)",
            (uuid.uuid4().hex, username, "Administrator", pw_hash),
        )
    if password_file:
        path = Path(password_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
    # Printed once, on stderr, outside the structured log so it is not shipped to collectors.
    print(f"\n*** first admin account created: user '{username}', password '{password}' "
          f"(shown once; change it after signing in) ***\n", file=sys.stderr, flush=True)
    log.warning("first admin account created", extra={"username": username})
    return password
