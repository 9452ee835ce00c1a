"""HTTP Basic auth for the /faceswaplab/v1 routes, the same rule the web-ui applies to its own
/sdapi routes under --api-auth ("user:pass" or "u1:p1,u2:p2"): 401 with a WWW-Authenticate
challenge unless a listed user sends that user's password. Both the user name and the
password are compared in constant time against every listed user, so neither a wrong name
nor a wrong password answers faster than the other."""

import hmac
from typing import Any, Callable, Dict, Mapping, Optional

from ..errors import OptionsError

Credentials = Mapping[str, str]


def parse_credentials(text: Optional[str], what: str = "--api-auth") -> Dict[str, str]:
    """'u1:p1,u2:p2' -> {u1: p1, u2: p2}. A password may contain ':' (split at the first)."""
    out: Dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        user, sep, password = part.partition(":")
        if not sep or not user:
            raise OptionsError(f"{what}: expected USER:PASSWORD (comma-separated for several), got an entry without ':'")
        out[user] = password
    return out


def check(credentials: Credentials, user: str, password: str) -> bool:
    ok = False
    u, p = user.encode(), password.encode()
    for known_user, known_password in credentials.items():
        user_ok = hmac.compare_digest(u, known_user.encode())
        password_ok = hmac.compare_digest(p, known_password.encode())
        ok |= user_ok and password_ok
    return ok


def dependency(credentials: Credentials) -> Callable[..., Any]:
    """A FastAPI dependency that enforces `credentials` (a non-empty mapping)."""
    from fastapi import Depends, HTTPException
    from fastapi.security import HTTPBasic, HTTPBasicCredentials

    basic = HTTPBasic(auto_error=False)
    frozen = dict(credentials)

    # No `from __future__ import annotations` in this module: FastAPI (0.94 in the web-ui)
    # resolves string annotations in the module's globals, where this local import is not.
    def require(given: Optional[HTTPBasicCredentials] = Depends(basic)) -> None:
        if given is None or not check(frozen, given.username, given.password):
            raise HTTPException(
                status_code=401, detail="Incorrect username or password", headers={"WWW-Authenticate": "Basic"}
            )

    return require
