"""The analysis layer: what the events mean.

`ProgressTracker` (`tracker`) correlates requests, tokens and progress and publishes
findings by the rules in `rules`; `wire_checks` flags invalid messages and unknown methods;
`schema_checks` judges every message by the official schema of its revision (`schemas/`,
read by `schema_catalog`, validated by `schema_validation`) and each tool by its own
schemas (`tool_checks`); `lifecycle`, `id_checks` and `modern_checks` hold the handshake,
the capabilities, the ids and 2026-07-28 to their rules (`conformance` lists them);
`definition_checks` holds tools, prompts and templates to their pins (`pins`) and reads them
for hidden text (`suspicious`); `recording_diff` compares two recordings' interfaces
(`interface`, `interface_diff`, `schema_diff`) and calls (`behaviour_diff`, paired by
`request_key`); `progress_stats` and `calls` are the per-request facts that the view and
replay read; `select` picks the events of chosen methods. Imports: `protocol` and `tap`; never
`recording` or `view`.
"""
