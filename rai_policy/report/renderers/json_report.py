"""JSON: the machine-readable contract (see `rai_policy.report.model`)."""
import json


def render(report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
