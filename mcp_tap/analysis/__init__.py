"""The analysis layer: what the events mean.

`ProgressTracker` (`tracker`) correlates requests, tokens and progress and publishes
findings by the rules in `rules`; `wire_checks` flags invalid messages and unknown methods;
`progress_stats` and `calls` are the per-request facts that the view and replay read;
`select` picks the events of chosen methods. Imports: `protocol` and `tap`; never
`recording` or `view`.
"""
