"""How much to fuzz: a brief run in the normal suite, scaled up on demand.

`PARLEY_FUZZ_SCALE=N` multiplies every test's example count (`make fuzz` uses 50, for more
than 10,000 frames per dialect); `PARLEY_FUZZ_EXAMPLES=N` sets them all to N. The brief
run is derandomized, so CI tests the same examples every time; a scaled run explores anew
(pytest's `--hypothesis-seed=N` repeats one). `PARLEY_FUZZ_SHRINK=1` shrinks failures.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

SCALED = "PARLEY_FUZZ_SCALE" in os.environ or "PARLEY_FUZZ_EXAMPLES" in os.environ
# A failure names the frame or call that broke the oracle, so shrinking the example adds
# little, and an example that hangs the server costs seconds each time it is replayed.
SHRINK = bool(os.environ.get("PARLEY_FUZZ_SHRINK"))
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])]


def examples(brief: int) -> int:
    if "PARLEY_FUZZ_EXAMPLES" in os.environ:
        return int(os.environ["PARLEY_FUZZ_EXAMPLES"])
    return max(1, int(brief * float(os.environ.get("PARLEY_FUZZ_SCALE", "1"))))


def fuzz_settings(brief: int) -> settings:
    """Hypothesis settings for a fuzz test that runs `brief` examples in the normal suite."""
    return settings(
        max_examples=examples(brief),
        deadline=None,
        derandomize=not SCALED,
        print_blob=True,
        phases=PHASES,
        suppress_health_check=list(HealthCheck),
    )
