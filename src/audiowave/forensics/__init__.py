"""Production forensics: which techniques and effects shaped a mix or stem, with parameter estimates.

Every detector is plain signal processing on the decoded audio (no trained model) and returns a
:class:`~audiowave.forensics.common.Finding` with the evidence it decided on, which
:mod:`audiowave.forensics.evidence` draws. :func:`audiowave.forensics.detect.examine` runs them all.
"""
