"""Flat memory for long-running processes (`ivr serve`, `ivr analyze`, `ivr web`).

glibc gives a thread that allocates while another holds the main arena an arena of its own, up to 8 per core, and
keeps them: a call's short-lived threads (its pipeline, speaker, recorder and call-log writer) then fragment more
arenas call after call. Measured on one endpoint, 4 Alex calls at a time: RSS 1,256 -> 1,430 MB over 32 calls
with the default; 1,224 -> 1,251 MB after the first wave and flat after it with two arenas (the same as the
environment variable MALLOC_ARENA_MAX=2)."""
from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8   # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process; False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
