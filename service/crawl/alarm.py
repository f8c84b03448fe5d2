"""The template-change alarm: a pure comparison of this cycle's fill rates with a trailing baseline.

When the site changes a template, selectors stop matching: titles or bylines go missing, or the
generic layer starts filling what the profile used to. Each cycle's rates are compared with the
mean of the previous cycles; a drop (or a rise of the generic share) past ``max_drop`` alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import mean

from service.settings import AlarmSettings

#: rates are kept in run counters as integers (per mille)
SCALE = 1000


def evaluate(
    current: Mapping[str, float],
    history: Sequence[Mapping[str, float]],
    settings: AlarmSettings,
    *,
    articles: int,
) -> list[str]:
    """The fields whose rate moved past the threshold; [] when there is too little to judge."""
    if articles < settings.min_articles or not history:
        return []
    alarmed = []
    for name, rate in current.items():
        past = [h[name] for h in history[-settings.baseline_runs :] if name in h]
        if not past:
            continue
        baseline = mean(past)
        moved = rate - baseline if name == "generic_share" else baseline - rate
        if moved > settings.max_drop:
            alarmed.append(name)
    return alarmed


def to_counters(rates: Mapping[str, float]) -> dict[str, int]:
    return {f"rate_{k}": round(v * SCALE) for k, v in rates.items()}


def from_counters(counters: Mapping[str, int]) -> dict[str, float]:
    return {k[5:]: v / SCALE for k, v in counters.items() if k.startswith("rate_")}
