"""Replay: the client side of a recording, sent again to a server and compared.

`plan` orders a recording's messages by what they waited for, `replayer` sends them over
the HTTP carrier's upstream pool and taps its own traffic, `stdio_replayer` writes them to a
stdio server command it starts (a stdio recording goes over HTTP through `stdio_session`),
`compare` judges each call, and `report` / `junit` tell the verdicts. `run` ties them
together. Imports: every layer below (`protocol`, `tap`, `analysis`, `recording`, `http`,
`stdio`); never `cli`.
"""
