"""CSV imports run here, in chunks, recording progress on their ImportJob row."""
