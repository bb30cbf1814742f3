"""Exceptions. Every failing C call raises a :class:`ZtError` subclass carrying the library's
message (``zt_last_error()``) and its ``zt_result`` code; the subclasses also derive from the
matching built-in exception so ``except ValueError`` / ``except LookupError`` work."""
from __future__ import annotations


class ZtError(Exception):
    """A ztcore call failed. ``code`` is the C ``zt_result``."""
    code = -6

    def __init__(self, message: str, code: int = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class ZtInvalidArgument(ZtError, ValueError):
    code = -1


class ZtNotFound(ZtError, LookupError):
    code = -2


class ZtIOError(ZtError, OSError):
    code = -3


class ZtStateError(ZtError, RuntimeError):
    code = -4


class ZtTooLarge(ZtError, ValueError):
    code = -5


class ZtInternalError(ZtError, RuntimeError):
    code = -6


class ControllerError(ZtError):
    """The embedded controller answered a request with an HTTP error status."""

    def __init__(self, message: str, status: int, body=None):
        super().__init__(message)
        self.status = status
        self.body = body


class LabError(ZtError, RuntimeError):
    """The lab could not be brought up (a node did not come online, or got no config)."""


_BY_CODE = {c.code: c for c in (ZtInvalidArgument, ZtNotFound, ZtIOError, ZtStateError, ZtTooLarge,
                                ZtInternalError)}


def error_for(code: int, message: str) -> ZtError:
    cls = _BY_CODE.get(code, ZtError)
    return cls(message, code)
