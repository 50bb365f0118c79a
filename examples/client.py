"""The Outlast client every example shares (settings come from OUTLAST_* env vars)."""

from __future__ import annotations

import outlast

client = outlast.Client("outlast-examples")
