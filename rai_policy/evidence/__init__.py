"""Evidence: what rules ask for (requests) and what the TF tools return (immutable results).

Nothing in this package's ``__init__`` or ``types`` imports TensorFlow; each adapter module
(``tfma_adapter``, ``tfdv_adapter``, ``privacy_adapter``, ``model_card_adapter``, ``scoring``)
imports its tool inside its functions.
"""
