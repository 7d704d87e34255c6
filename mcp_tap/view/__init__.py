"""The view layer: what a person sees. The only layer that knows rich.

`ConsoleView` (`console`) renders lines (`format`), live bars (`bars`) and the summary
(`summary`) in paced frames (`frames`), written off the loop (`output`); `JsonLinesView`
(`jsonl`) is the same events for pipes. Imports: `protocol`, `tap` and `analysis` (it renders
what the tracker computed); never `recording`.
"""
