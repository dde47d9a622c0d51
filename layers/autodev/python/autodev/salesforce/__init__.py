"""Salesforce tooling that the worker runs as deterministic steps, each with a typed result.

- :mod:`~autodev.salesforce.analyzer`: Salesforce Code Analyzer (PMD and regex engines) through
  its core API, driven by ``code_analyzer.cjs`` under Node; JSON as ``sf code-analyzer run``.
- :mod:`~autodev.salesforce.java`: which Java runtime the PMD engine uses.
- :mod:`~autodev.salesforce.sf`: the ``sf`` CLI steps (Apex tests, deploy validate, quick deploy,
  org login from an SFDX auth URL), each parsed into :mod:`~autodev.salesforce.sf_results`.

Gates read these results only: what the tools said, never what a model says about itself.
"""
