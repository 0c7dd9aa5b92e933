"""TensorFlow Data Validation: value counts per feature from `generate_statistics_from_dataframe`."""
from __future__ import annotations

import pandas as pd

from rai_policy.evidence.types import FeatureStats


class IncompleteStatsError(Exception):
    """TFDV's statistics do not account for every row (e.g. top-values truncation)."""


def feature_stats(frame: pd.DataFrame, features: list[str], *, progress=None) -> dict[str, FeatureStats]:
    """Counts per value, missing rows and all rows for each feature, from one TFDV pass.

    `frame` holds the features as normalised strings (None = missing), see `rai_policy.data`."""
    from rai_policy.evidence import tf_env

    tf_env.quiet()
    if progress:
        progress("loading TensorFlow Data Validation …")
    import tensorflow_data_validation as tfdv

    if progress:
        progress(f"TFDV statistics over {len(frame):,} rows, {len(features)} feature(s)")
    distinct = max((frame[f].nunique(dropna=True) for f in features), default=1)
    options = tfdv.StatsOptions(num_top_values=max(1000, distinct + 1),
                                num_rank_histogram_buckets=max(1000, distinct + 1),
                                feature_allowlist=list(features))
    stats = tfdv.generate_statistics_from_dataframe(frame[list(features)], stats_options=options)
    dataset = stats.datasets[0]
    total = int(dataset.num_examples)
    out: dict[str, FeatureStats] = {}
    for feat in dataset.features:
        name = ".".join(feat.path.step)
        common = feat.string_stats.common_stats
        counts = {v.value: int(round(v.frequency)) for v in feat.string_stats.top_values}
        missing = int(common.num_missing)
        if sum(counts.values()) + missing != total:
            raise IncompleteStatsError(f"TFDV counts for '{name}' cover {sum(counts.values()) + missing} of {total} rows")
        out[name] = FeatureStats(name, dict(sorted(counts.items())), missing, total)
    for name in features:
        if name not in out:  # TFDV omits a feature with no value at all
            out[name] = FeatureStats(name, {}, total, total)
    return out
