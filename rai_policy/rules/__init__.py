"""Rule kinds: one module and one small class per kind, registered through the
`rai_policy.rules` entry-point group (see `registry`)."""
