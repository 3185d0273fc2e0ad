"""What every hook and factory receives instead of reaching for a process-wide global.

``Context.host`` is the host that called the hook (so ``fuse:W:SPEC`` looks SPEC up in the same
host, custom plugins included); ``Context.settings`` are resolved once (:mod:`viewrank.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from viewrank.settings import Settings

if TYPE_CHECKING:
    from viewrank.manager import PluginHost


@dataclass(frozen=True)
class Context:
    host: "PluginHost"
    settings: Settings
