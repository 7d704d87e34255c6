"""Property-based fuzzing of the decoders and the recording reader (see `targets`)."""
