"""rai_policy: Responsible-AI policy as code.

YAML policies → evidence from TensorFlow Model Analysis, TensorFlow Data Validation, TensorFlow
Privacy and Model Card Toolkit → pass / fail / not evaluable, with reports for CI and sign-off.
Importing this package imports no TensorFlow.
"""
__version__ = "0.1.0"
